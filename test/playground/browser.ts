/**
 * Runs the playground for end-to-end tests: Vite started in this process on a free port, and the
 * Debian Chromium (never a Playwright download) driven by playwright-core. Screenshots go to
 * test-results/playground/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from '../../scripts/find-chromium.ts';
import { createServer, type ViteDevServer } from 'vite';

export const SHOTS_DIR = join(process.cwd(), 'test-results', 'playground');

export interface Playground {
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

export async function startPlayground(): Promise<Playground> {
  const server: ViteDevServer = await createServer({
    configFile: join(process.cwd(), 'vite.config.ts'),
    // No watching: others editing the repository meanwhile must not reload the page under test.
    server: { port: 0, host: '127.0.0.1', hmr: false, watch: null },
    logLevel: 'error',
    clearScreen: false,
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite did not report its URL');
  const browser = await chromium.launch({
    executablePath: findChromium(),
    args: CHROMIUM_ARGS,
  });
  mkdirSync(SHOTS_DIR, { recursive: true });
  return {
    url,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** A page at 1280×800 whose console errors and uncaught exceptions are collected in `errors`. */
export async function openPage(pg: Playground, viewport = { width: 1280, height: 800 }): Promise<{ page: Page; errors: string[] }> {
  const page = await pg.browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pg.url);
  await page.locator('.store').first().waitFor();
  return { page, errors };
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS_DIR, `${name}.png`) });

/** Virtual seconds shown by the playground. */
export async function virtualSeconds(page: Page): Promise<number> {
  return Number.parseFloat((await page.locator('#time').textContent()) ?? '0');
}

/** Waits until the playground's virtual clock has passed `seconds`. */
export async function waitVirtual(page: Page, seconds: number, timeoutMs = 180_000): Promise<void> {
  await page.waitForFunction((s) => Number.parseFloat(document.getElementById('time')?.textContent ?? '0') >= s, seconds, { timeout: timeoutMs });
}

/** Region ids shown in the key bar, each with its leader's store (0 when none). */
export async function keyBar(page: Page): Promise<Array<{ region: number; leader: number }>> {
  return page.locator('#keybar .segment').evaluateAll((els) =>
    els.map((el) => ({ region: Number((el as HTMLElement).dataset.region), leader: Number(/leader s(\d+)/.exec(el.textContent ?? '')?.[1] ?? 0) })),
  );
}

/** The store whose card shows a leader replica of `region` (0 when none). */
export async function leaderStore(page: Page, region: number): Promise<number> {
  return page.evaluate((r) => {
    const el = document.querySelector(`.store:not(.down) .replica[data-region="${r}"][data-role="leader"]`);
    return Number(el?.closest<HTMLElement>('.store')?.dataset.store ?? 0);
  }, region);
}

/** The commit index each running store's replica of `region` shows. */
export async function commits(page: Page, region: number): Promise<Record<number, number>> {
  return page.evaluate((r) => {
    const out: Record<number, number> = {};
    for (const el of document.querySelectorAll<HTMLElement>(`.store .replica[data-region="${r}"]`)) {
      out[Number(el.closest<HTMLElement>('.store')?.dataset.store)] = Number(el.dataset.commit);
    }
    return out;
  }, region);
}
