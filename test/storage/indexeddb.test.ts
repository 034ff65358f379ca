import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { expect, it } from 'vitest';
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb.ts';
import { describeStorageConformance } from './conformance.ts';

describeStorageConformance('indexeddb (fake-indexeddb)', {
  persistent: true,
  async fresh() {
    // A factory per test: an isolated set of databases that still outlives close() for reopening.
    const indexedDB = new IDBFactory();
    return { open: (options) => createIndexedDbStorage({ name: 'conformance', indexedDB, ...options }) };
  },
});

it('indexeddb: approximateSize pages through ranges larger than one page', async () => {
  const db = await createIndexedDbStorage({ name: 'size', indexedDB: new IDBFactory() });
  const ops = Array.from({ length: 2500 }, (_, i) => ({ type: 'put' as const, key: Uint8Array.of(i >> 8, i & 0xff), value: new Uint8Array(i % 7) }));
  await db.write(ops);
  const bytes = ops.reduce((n, o) => n + 2 + o.value.length, 0);
  expect(await db.approximateSize()).toEqual({ keys: 2500, bytes });
  expect(await db.approximateSize({ start: Uint8Array.of(1), end: Uint8Array.of(9) })).toEqual({ keys: 2048, bytes: ops.slice(256, 2304).reduce((n, o) => n + 2 + o.value.length, 0) });
  await db.close();
});
