/**
 * The remote client in a browser: `adapters/client/remote.ts` bundled for the browser (esbuild,
 * as Vite would) and run in headless Chromium (found as the browser test project finds it) against
 * a store server in this process. It connects with the page's own WebSocket, writes, reads, uses
 * the admin API, and gets typed errors.
 */
import { chromium } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreServer } from '../../adapters/server/store-server.ts';
import { CHROMIUM_ARGS, findChromium } from '../../scripts/find-chromium.ts';
import { openClientPage } from './client-page.ts';
import { SECRET, startTestServer } from './helpers.ts';

let server: StoreServer;
let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;

beforeAll(async () => {
  server = await startTestServer('browser', ['m']);
  browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the remote client in Chromium', () => {
  it('connects with the page WebSocket, writes and reads across regions, and gets typed errors', async () => {
    const { page, close } = await openClientPage(browser!);
    const result = await page.evaluate(
      async ({ url, secret }) => {
        const F = (globalThis as unknown as { Flotilla: typeof import('../../adapters/client/remote.ts') }).Flotilla;
        const kv = await F.connect({ endpoints: [url], secret, cluster: 'browser' });
        await kv.put('apple', 'red');
        await kv.put('zebra', 'striped');
        const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
        const scanned = (await kv.scan('', '')).map((e) => text(e.key));
        const regions = (await kv.admin.regions()).length;
        const error = await kv.put('', 'x').then(
          () => 'accepted',
          (e: { name: string; code: string }) => `${e.name}/${e.code}`,
        );
        const apple = text(await kv.get('apple'));
        kv.close();
        return { apple, scanned, regions, error };
      },
      { url: server.url, secret: SECRET },
    );
    close();
    expect(result).toEqual({ apple: 'red', scanned: ['apple', 'zebra'], regions: 2, error: 'InvalidArgumentError/InvalidArgument' });
  }, 60_000);
});
