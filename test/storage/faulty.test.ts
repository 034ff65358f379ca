// The fault-injecting wrapper: what a simulated crash keeps, tears and loses, deterministically.
import { describe, expect, it } from 'vitest';
import { type CrashReport, createFaultyStorage } from '../../adapters/storage/faulty.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { b, testSeed, seededRand } from './helpers.ts';

const put = (k: number, v = k) => [{ type: 'put' as const, key: b(k), value: b(v) }];

async function crashRun(seed: number, partialTear = false): Promise<{ report: CrashReport; keys: number[] }> {
  const db = await createFaultyStorage(createMemoryStorage(), { rand: seededRand(seed), partialTear, tearProbability: 0.5 });
  await db.write(put(1), { sync: true });
  await db.write(put(2));
  await db.write([...put(3), ...put(4), ...put(5)]);
  await db.write(put(6));
  expect(db.unsyncedBatches).toBe(3);
  expect((await db.scan()).length).toBe(6); // unsynced writes are visible before the crash
  const report = await db.crash();
  const keys = (await db.scan()).map((r) => r.key[0]);
  await db.close();
  return { report, keys };
}

describe('faulty storage', () => {
  it('keeps synced batches and a prefix of the unsynced ones; a torn batch is dropped whole', async () => {
    const seed = testSeed('faulty crash');
    for (let i = 0; i < 50; i++) {
      const { report, keys } = await crashRun(seed + i);
      const expected = [[1], [1, 2], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6]][report.kept];
      expect(keys, `seed ${seed + i}`).toEqual(expected);
      expect(report.unsynced).toBe(3);
    }
  });

  it('is deterministic for a seed, and different seeds make different choices', async () => {
    const seed = testSeed('faulty determinism');
    const runs = await Promise.all([crashRun(seed), crashRun(seed)]);
    expect(runs[0]).toEqual(runs[1]);
    const kept = new Set<number>();
    for (let i = 0; i < 40; i++) kept.add((await crashRun(seed + i)).report.kept);
    expect(kept.size).toBeGreaterThan(2);
  });

  it('with partialTear keeps a prefix of the torn batch (a medium without atomic batches)', async () => {
    let sawPartial = false;
    for (let seed = 1; seed < 200 && !sawPartial; seed++) {
      const { report, keys } = await crashRun(seed, true);
      if (report.torn && report.kept === 1 && keys.length > 2 && keys.length < 5) sawPartial = true;
    }
    expect(sawPartial).toBe(true);
  });

  it('flushes unsynced batches with the next synced one, in order', async () => {
    const db = await createFaultyStorage(createMemoryStorage(), { rand: seededRand(3) });
    await db.write(put(1, 1));
    await db.write(put(1, 2));
    await db.write(put(2), { sync: true });
    expect(db.unsyncedBatches).toBe(0);
    const report = await db.crash();
    expect(report).toEqual({ unsynced: 0, kept: 0, torn: false });
    expect((await db.get(b(1)))?.[0]).toBe(2);
    await db.close();
  });

  it('closes snapshots taken before a crash and can inject write errors that apply nothing', async () => {
    const db = await createFaultyStorage(createMemoryStorage(), { rand: seededRand(5), writeErrorProbability: 1 });
    const snap = await db.snapshot();
    await expect(db.write(put(1))).rejects.toMatchObject({ code: 'StorageIO' });
    expect(await db.scan()).toEqual([]);
    await db.crash();
    await expect(snap.scan()).rejects.toMatchObject({ code: 'StorageClosed' });
    await db.close();
  });
});
