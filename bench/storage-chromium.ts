/**
 * Runs the IndexedDB write benchmark inside headless Chromium (Debian's /usr/bin/chromium, driven
 * by Playwright): bundles `storage-chromium-entry.ts` with esbuild, loads it into a page with a
 * real origin (served by a Playwright route, no server) and collects its figures.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** What the page reports for one writer count. */
export interface ChromiumWriteResult {
  writers: number;
  batches: number;
  seconds: number;
}

/**
 * Measures synced IndexedDB batch writes in Chromium for each writer count; undefined when
 * Chromium is not installed (the caller reports that instead of a figure).
 * @param writerCounts - e.g. [1, 16]
 * @param ms - how long each measurement runs
 * @param putsPerBatch - puts in each batch
 * @param valueBytes - bytes per value
 */
export async function chromiumIdbWrites(writerCounts: number[], ms: number, putsPerBatch: number, valueBytes: number): Promise<ChromiumWriteResult[] | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./storage-chromium-entry.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'FlotillaIdbBench',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  try {
    const page = await browser.newPage();
    await page.route('http://flotilla.bench/**', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>bench</title>' }));
    await page.goto('http://flotilla.bench/');
    await page.addScriptTag({ content: bundle.outputFiles[0].text });
    return await page.evaluate(
      (a) => (globalThis as unknown as { FlotillaIdbBench: { run: (x: typeof a) => Promise<ChromiumWriteResult[]> } }).FlotillaIdbBench.run(a),
      { writerCounts, ms, putsPerBatch, valueBytes },
    );
  } finally {
    await browser.close();
  }
}
