// The in-page cluster in real headless Chromium: three stores over the page's IndexedDB and
// MessageChannel links, the whole write/read path, and a restart from IndexedDB (what a page
// reload does) that finds the data and the Raft state where they were left.
import { expect, it } from 'vitest';
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb.ts';

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

it('runs a cluster on IndexedDB in Chromium and restarts from it', async () => {
  const prefix = `cluster-${Date.now()}`;
  const storage = (id: number) => createIndexedDbStorage({ name: `${prefix}-store-${id}` });
  const first = await createLocalCluster({ stores: 3, initialSplitKeys: ['m'], storage, store: { tickMs: 20 } });
  await first.waitForLeaders(20_000);
  const kv = first.client();
  await kv.putAll([
    { key: 'alpha', value: '1' },
    { key: 'omega', value: '2' },
  ]);
  expect(await kv.compareAndPut('alpha', '1', 'one')).toBe(true);
  await first.close();

  const second = await createLocalCluster({ stores: 3, initialSplitKeys: ['m'], storage, store: { tickMs: 20 } });
  try {
    await second.waitForLeaders(20_000);
    const again = second.client();
    expect(text(await again.get('alpha'))).toBe('one');
    expect((await again.scan('', '')).map((e) => text(e.key))).toEqual(['alpha', 'omega']);
  } finally {
    await second.close();
  }
}, 60_000);
