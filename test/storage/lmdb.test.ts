import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLmdbStorage, type LmdbModule, loadLmdb } from '../../adapters/storage/lmdb.ts';
import { LMDB_KEY_BYTES_MAX } from '../../adapters/storage/lmdb-long.ts';
import type { WriteOp } from '../../src/ports.ts';
import { describeStorageConformance } from './conformance.ts';
import { b, hex, randomBytes, seededRand, testSeed } from './helpers.ts';

/** Opens `dir` again with the real module and lists its keys (hex). */
async function keysOnReopen(dir: string): Promise<string[]> {
  const db = await createLmdbStorage({ dir });
  try {
    return (await db.scan()).map((r) => hex(r.key));
  } finally {
    await db.close();
  }
}

describeStorageConformance('lmdb', {
  persistent: true,
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-lmdb-'));
    return {
      open: (options) => createLmdbStorage({ dir, ...options }),
      async dispose() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describe('lmdb engine: keys longer than LMDB allows', () => {
  it('orders, scans, deletes and snapshots long keys among short ones like a reference model (seeded)', async () => {
    const seed = testSeed('lmdb long keys');
    const rand = seededRand(seed);
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-lmdb-long-'));
    let db = await createLmdbStorage({ dir });
    try {
      const prefix = new Uint8Array(LMDB_KEY_BYTES_MAX).fill(7);
      // Keys around the bucket boundary: the prefix itself, shorter and longer keys sharing it, and neighbours.
      const key = () => {
        const r = rand.int(5);
        if (r === 0) return prefix.subarray(0, 1 + rand.int(LMDB_KEY_BYTES_MAX));
        const tail = Array.from({ length: rand.int(4) + (r === 1 ? 0 : 1) }, () => [0, 1, 0xff][rand.int(3)]);
        const k = new Uint8Array(LMDB_KEY_BYTES_MAX + tail.length);
        k.set(prefix);
        k.set(tail, LMDB_KEY_BYTES_MAX);
        if (r === 4) k[LMDB_KEY_BYTES_MAX - 1] = 6 + rand.int(3);
        return k;
      };
      const model = new Map<string, Uint8Array>();
      for (let round = 0; round < 80; round++) {
        const batch: WriteOp[] = [];
        for (let i = rand.int(5); i >= 0; i--) {
          const r = rand.next();
          if (r < 0.6) batch.push({ type: 'put', key: key(), value: randomBytes(rand, rand.int(8)) });
          else if (r < 0.85) batch.push({ type: 'delete', key: key() });
          else batch.push({ type: 'deleteRange', start: key(), end: key() });
        }
        for (const op of batch) {
          if (op.type === 'put') model.set(hex(op.key), op.value);
          else if (op.type === 'delete') model.delete(hex(op.key));
          else for (const k of [...model.keys()]) if (k >= hex(op.start) && k < hex(op.end)) model.delete(k);
        }
        const snap = await db.snapshot();
        const before = (await snap.scan()).map((r) => hex(r.key));
        await db.write(batch, { sync: round % 7 === 0 });
        expect((await snap.scan()).map((r) => hex(r.key)), `seed ${seed} round ${round}`).toEqual(before);
        snap.release();
        if (round % 20 === 19) {
          await db.close();
          db = await createLmdbStorage({ dir });
        }
        const want = [...model.keys()].sort();
        const lo = key();
        const hi = key();
        const inRange = want.filter((k) => k >= hex(lo) && k < hex(hi));
        expect((await db.scan()).map((r) => hex(r.key)), `seed ${seed} round ${round}`).toEqual(want);
        expect((await db.scan({ reverse: true })).map((r) => hex(r.key))).toEqual([...want].reverse());
        expect((await db.scan({ start: lo, end: hi, limit: 3 })).map((r) => hex(r.key)), `seed ${seed} round ${round}`).toEqual(inRange.slice(0, 3));
        expect((await db.scan({ start: lo, end: hi, reverse: true, limit: 3 })).map((r) => hex(r.key)), `seed ${seed} round ${round}`).toEqual([...inRange].reverse().slice(0, 3));
        for (const k of want.slice(0, 5)) expect(hex((await db.get(Uint8Array.from(Buffer.from(k, 'hex'))))!)).toBe(hex(model.get(k)!));
        expect((await db.approximateSize()).keys).toBe(want.length);
      }
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lmdb engine: sizes and failures', () => {
  it('estimates the size of a range beyond its exact sample within 10 %', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-lmdb-size-'));
    const db = await createLmdbStorage({ dir });
    try {
      const N = 30_000;
      const key = (i: number) => Uint8Array.of(0x7a, 0x6b, 0, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff);
      for (let i = 0; i < N; i += 10_000) {
        await db.write(Array.from({ length: 10_000 }, (_, j) => ({ type: 'put' as const, key: key(i + j), value: new Uint8Array(10) })));
      }
      await db.write([{ type: 'put', key: Uint8Array.of(0x01), value: new Uint8Array(1) }]);
      const all = await db.approximateSize({ start: Uint8Array.of(0x7a), end: Uint8Array.of(0x7b) });
      expect(Math.abs(all.keys - N) / N).toBeLessThan(0.1);
      expect(Math.abs(all.bytes - N * 16) / (N * 16)).toBeLessThan(0.1);
      const half = await db.approximateSize({ start: key(0), end: key(N / 2) });
      expect(Math.abs(half.keys - N / 2) / (N / 2)).toBeLessThan(0.1);
      expect(await db.approximateSize({ start: key(100), end: key(200) })).toEqual({ keys: 100, bytes: 1600 });
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing of a group whose ops fail part way: the whole transaction is aborted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-lmdb-partial-'));
    const real = await loadLmdb();
    // The real module, whose `data` table throws on one poisoned key (as a failing put would).
    const poison = hex(b(9));
    const lmdb: LmdbModule = {
      open(options) {
        const root = real.open(options);
        const openDB = root.openDB.bind(root);
        return Object.assign(Object.create(root), {
          openDB(name: string, o: Record<string, unknown>) {
            const db = openDB(name, o);
            const putSync = db.putSync.bind(db);
            return Object.assign(Object.create(db), {
              putSync(key: Uint8Array, value: Uint8Array) {
                if (hex(key) === poison) throw new Error('injected put failure');
                putSync(key, value);
              },
            });
          },
        }) as typeof root;
      },
    };
    const db = await createLmdbStorage({ dir, lmdb });
    try {
      await db.write([{ type: 'put', key: b(1), value: b(1) }]);
      // Two batches in one group (written together): the second fails after the first applied.
      const first = db.write([{ type: 'put', key: b(2), value: b(2) }]);
      const second = db.write([
        { type: 'put', key: b(3), value: b(3) },
        { type: 'put', key: b(9), value: b(9) },
      ]);
      await expect(second).rejects.toMatchObject({ code: 'StorageIO' });
      await expect(first).rejects.toMatchObject({ code: 'StorageIO' });
      await db.close();
      expect(await keysOnReopen(dir)).toEqual(['01']);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses every call after a failed commit, acknowledges nothing of it, and reopens with what was committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-lmdb-fail-'));
    const real = await loadLmdb();
    let fail = false;
    // The real module, with a commit that fails like a full disk while `fail` is set.
    const lmdb: LmdbModule = {
      open(options) {
        const root = real.open(options);
        const childTransaction = root.childTransaction.bind(root);
        return Object.assign(Object.create(root), {
          async childTransaction<T>(fn: () => T): Promise<T> {
            if (fail) throw Object.assign(new Error('MDB_MAP_FULL or ENOSPC: injected'), { code: 'ENOSPC' });
            return childTransaction(fn);
          },
        }) as typeof root;
      },
    };
    const db = await createLmdbStorage({ dir, lmdb });
    try {
      await db.write([{ type: 'put', key: b(1), value: b(1) }], { sync: true });
      fail = true;
      const lost = db.write([{ type: 'put', key: b(2), value: b(2) }], { sync: true });
      await expect(lost).rejects.toMatchObject({ code: 'StorageIO', message: expect.stringContaining('ENOSPC') });
      fail = false;
      await expect(db.get(b(1))).rejects.toMatchObject({ code: 'StorageIO' });
      await expect(db.write([{ type: 'put', key: b(3), value: b(3) }])).rejects.toMatchObject({ code: 'StorageIO' });
      await db.close();
      expect(await keysOnReopen(dir)).toEqual(['01']);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
