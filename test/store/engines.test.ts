/**
 * The same cluster on every storage engine that runs in Node: the filesystem engine (each store
 * its own directory) and IndexedDB (fake-indexeddb). Real clock; the cluster is restarted from
 * its engines to show the data and Raft state survive. (Memory: every other store test.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createFsStorage } from '../../adapters/storage/fs.ts';
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb.ts';
import type { StorageEngine } from '../../src/ports.ts';
import { text } from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function roundTrip(makeStorage: (run: number) => (id: number) => Promise<StorageEngine>) {
  const first = await createLocalCluster({ stores: 3, initialSplitKeys: ['m'], storage: makeStorage(1), store: { tickMs: 20 } });
  await first.waitForLeaders(20_000);
  const client = first.client();
  await client.putAll(Array.from({ length: 20 }, (_, i) => ({ key: `key-${String(i).padStart(2, '0')}`, value: `v${i}` })));
  await client.put('zz', 'last');
  expect(await client.getSequence('seq', 5)).toEqual({ startValue: 0, endValue: 5 });
  await first.close();

  // A new cluster over the same engines: everything is still there.
  const second = await createLocalCluster({ stores: 3, initialSplitKeys: ['m'], storage: makeStorage(2), store: { tickMs: 20 } });
  try {
    await second.waitForLeaders(20_000);
    const again = second.client();
    const rows = await again.scan('key-', 'key.');
    expect(rows.length).toBe(20);
    expect(text(await again.get('zz'))).toBe('last');
    expect(await again.getSequence('seq', 1)).toEqual({ startValue: 5, endValue: 6 });
  } finally {
    await second.close();
  }
}

describe('cluster on durable engines', () => {
  it('runs on the filesystem engine and restarts from it', async () => {
    const base = mkdtempSync(join(tmpdir(), 'flotilla-fs-cluster-'));
    dirs.push(base);
    await roundTrip(() => (id) => createFsStorage({ dir: join(base, `store-${id}`) }));
  }, 60_000);

  it('runs on IndexedDB (fake-indexeddb) and restarts from it', async () => {
    const factory = new IDBFactory();
    await roundTrip(() => (id) => createIndexedDbStorage({ name: `flotilla-store-${id}`, indexedDB: factory }));
  }, 60_000);
});
