/**
 * `kv.watch` in real Chromium over WebSocket: the remote client bundled for the browser (as
 * `browser-client.test.ts` does) watches the whole key space of a two-region store server while
 * it writes to both regions, splits one of them mid-watch and writes on; the events arrive once
 * each, in order per key, with their previous values.
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
  server = await startTestServer('browser-watch', ['m']);
  browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('watch in Chromium', () => {
  it('delivers puts and deletes of two regions, across a split, once each with previous values', async () => {
    const { page, close } = await openClientPage(browser!);
    const result = await page.evaluate(
      async ({ url, secret }) => {
        const F = (globalThis as unknown as { Flotilla: typeof import('../../adapters/client/remote.ts') }).Flotilla;
        const kv = await F.connect({ endpoints: [url], secret, cluster: 'browser-watch' });
        const text = (b: Uint8Array | null | undefined) => (b === null || b === undefined ? null : new TextDecoder().decode(b));
        const watcher = kv.watch({ start: '', end: '' }, { fromRevision: 1, prevValue: true, pollIntervalMs: 20 });
        const seen: string[] = [];
        const want = 6;
        const done = (async () => {
          for await (const e of watcher) {
            seen.push(`${e.type} ${text(e.key)}=${text(e.value)} (was ${text(e.prevValue)})`);
            if (seen.length >= want) break;
          }
        })();
        await kv.put('apple', 'red');
        await kv.put('zebra', 'striped');
        await kv.put('apple', 'green');
        const zebraRegion = (await kv.admin.regions()).find((r) => r.startKey.length > 0)!;
        await kv.admin.splitRegion(zebraRegion.id, 'x');
        await kv.put('zoo', 'open');
        await kv.delete('zebra');
        await kv.delete('apple');
        await done;
        const regions = (await kv.admin.regions()).length;
        kv.close();
        return { seen, regions };
      },
      { url: server.url, secret: SECRET },
    );
    close();
    expect(result.regions).toBe(3);
    const byKey = (k: string) => result.seen.filter((s) => s.split(' ')[1].startsWith(`${k}=`));
    expect(byKey('apple')).toEqual(['put apple=red (was null)', 'put apple=green (was red)', 'delete apple=null (was green)']);
    expect(byKey('zebra')).toEqual(['put zebra=striped (was null)', 'delete zebra=null (was striped)']);
    expect(byKey('zoo')).toEqual(['put zoo=open (was null)']);
  }, 90_000);
});
