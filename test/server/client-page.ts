/**
 * A page in Chromium with the remote client loaded (`adapters/client/remote.ts` bundled for the
 * browser by esbuild, as Vite would, as the global `Flotilla`), served from 127.0.0.1: a secure
 * context, which WebCrypto (the handshake's HMAC) needs.
 */
import { createServer } from 'node:http';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright';
import { freePorts } from '../../scripts/cluster-processes.ts';

/**
 * Opens the page in `browser`.
 * @returns the page and a function that stops serving it.
 */
export async function openClientPage(browser: Browser): Promise<{ page: Page; close(): void }> {
  const bundle = await build({ entryPoints: ['adapters/client/remote.ts'], bundle: true, platform: 'browser', format: 'iife', globalName: 'Flotilla', write: false });
  const http = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script>${bundle.outputFiles[0].text}</script>`));
  const [port] = await freePorts(1);
  await new Promise<void>((r) => http.listen(port, '127.0.0.1', () => r()));
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  return { page, close: () => http.close() };
}
