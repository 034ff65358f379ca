/**
 * `client.admin.check`: every replica hashes its region where a `computeHash` entry applies, the
 * leader compares. A key written into one store's engine behind Raft's back is found on exactly
 * that store; a check racing with writes still agrees (the hashes are taken at one log index);
 * a replica that cannot apply the entry in time is reported unchecked, never divergent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalCluster, type LocalCluster, type LocalStoreProcess } from '../../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { DATA_PREFIX, dataKey } from '../../src/kv/keys.ts';
import type { ScanOptions, StorageEngine } from '../../src/ports.ts';
import { drive } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const enc = (s: string) => new TextEncoder().encode(s);

async function start(process?: (storeId: number, clock: VirtualClock) => LocalStoreProcess, slowScanStore = 0) {
  const engines = new Map<number, StorageEngine>();
  const clock = createVirtualClock();
  const c = await createLocalCluster({
    stores: 3,
    initialSplitKeys: ['m'],
    clock,
    ...(process ? { process: (id: number) => process(id, clock) } : {}),
    storage: (id) => {
      const e = createMemoryStorage();
      engines.set(id, e);
      if (id !== slowScanStore) return e;
      // Every scan of user data (in the engine or a snapshot) takes 2 virtual ms.
      const later = (o?: ScanOptions) => (o?.start?.[0] === DATA_PREFIX ? new Promise<void>((resolve) => clock.setTimer(2, resolve)) : undefined);
      return {
        ...e,
        scan: async (o) => {
          await later(o);
          return e.scan(o);
        },
        snapshot: async () => {
          const snap = await e.snapshot();
          return {
            ...snap,
            scan: async (o) => {
              await later(o);
              return snap.scan(o);
            },
          };
        },
      };
    },
  });
  cluster = c;
  await drive(clock, c.waitForLeaders());
  return { cluster: c, clock, engines };
}

describe('consistency check (flotilla check)', () => {
  it('reports all replicas agreeing, then exactly the store whose engine was changed behind Raft', async () => {
    const { cluster: c, clock, engines } = await start();
    const kv = c.client();
    await drive(clock, kv.putAll(Array.from({ length: 40 }, (_, i) => ({ key: `${i % 2 ? 'k' : 'n'}${String(i).padStart(2, '0')}`, value: `v${i}` }))));
    await drive(clock, kv.put('a', '1'));

    const clean = await drive(clock, kv.admin.check());
    expect(clean.map((r) => r.regionId).length).toBe(2);
    for (const r of clean) {
      expect(r.divergent).toEqual([]);
      expect(r.unchecked).toEqual([]);
      expect(r.agreeing).toEqual([1, 2, 3]);
      expect(r.index).toBeGreaterThan(0);
      expect(new Set(r.replicas.map((x) => x.hash)).size).toBe(1);
    }
    // Both regions hold pairs (a key and its client session at least): the hash covers them.
    for (const r of clean) expect(r.replicas[0].pairs).toBeGreaterThan(20);

    // One store's engine gets a key behind Raft's back, in the upper region ([m, +inf)).
    await engines.get(2)!.write([{ type: 'put', key: dataKey(enc('zz-not-through-raft')), value: enc('x') }]);
    const after = await drive(clock, kv.admin.check());
    const [lower, upperAfter] = after;
    expect(lower.divergent).toEqual([]);
    expect(lower.agreeing).toEqual([1, 2, 3]);
    expect(upperAfter.divergent).toEqual([2]);
    expect(upperAfter.agreeing).toEqual([1, 3]);
    expect(upperAfter.unchecked).toEqual([]);
    const leader = c.store(upperAfter.leaderStoreId)!;
    expect(leader.counters.consistencyDivergences).toBeGreaterThanOrEqual(1);
    expect(leader.counters.consistencyChecks).toBeGreaterThanOrEqual(1);

    // Changing a value (not adding a key) is found too, and only there.
    await engines.get(2)!.write([{ type: 'delete', key: dataKey(enc('zz-not-through-raft')) }]);
    await engines.get(3)!.write([{ type: 'put', key: dataKey(enc('n08')), value: enc('changed') }]);
    const third = await drive(clock, kv.admin.check(upperAfter.regionId));
    expect(third).toHaveLength(1);
    expect(third[0].divergent).toEqual([3]);
    expect(third[0].agreeing).toEqual([1, 2]);
  });

  it('agrees while writes race with the check: every replica hashes at the same log index', async () => {
    // Store 3 gets every frame 7 ms late and scans its engine slowly, so its replicas apply and
    // hash at other moments than the others do; writes go on while the replicas hash.
    const { cluster: c, clock } = await start((id, clk) => ({ clock: clk, gate: (_kind, run) => (id === 3 ? void clk.setTimer(7, run) : run()) }), 3);
    const kv = c.client();
    for (let b = 0; b < 6; b++) await drive(clock, kv.putAll(Array.from({ length: 200 }, (_, i) => ({ key: `n${b}-${String(i).padStart(3, '0')}`, value: `v${i}` }))));
    const [upper] = (await drive(clock, kv.admin.regions())).filter((r) => r.startKey.length > 0);
    const writes: Promise<unknown>[] = [];
    const results = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) writes.push(kv.put(`n${i % 6}-${String(i * 5).padStart(3, '0')}`, `r${round}-${i}`));
      const check = kv.admin.check(upper.id);
      // One write after another while the check runs: each applies on its own, mid-hash.
      for (let i = 0; i < 20; i++) await drive(clock, kv.put(`n${i % 6}-${String(i * 5 + 1).padStart(3, '0')}`, `r${round}-${i}`));
      results.push(...(await drive(clock, check)));
    }
    await drive(clock, Promise.all(writes));
    for (const r of results) {
      expect(r.unchecked).toEqual([]);
      expect(r.divergent).toEqual([]);
      expect(r.agreeing).toEqual([1, 2, 3]);
      expect(r.replicas[0].pairs).toBeGreaterThan(1200);
    }
    // The checks ran at three indexes of a region being written.
    expect(new Set(results.map((r) => r.index)).size).toBe(3);
  });

  it('reports a replica that cannot apply the entry in time as unchecked, not divergent', async () => {
    const { cluster: c, clock } = await start();
    const kv = c.client();
    await drive(clock, kv.put('q', '1'));
    const [upper] = (await drive(clock, kv.admin.regions())).filter((r) => r.startKey.length > 0);
    const leader = upper.leaderStoreId;
    const lagging = [1, 2, 3].find((s) => s !== leader)!;
    c.partition([lagging], [1, 2, 3].filter((s) => s !== lagging));
    const [r] = await drive(clock, kv.admin.check(upper.id, { waitMs: 2000 }));
    expect(r.unchecked).toEqual([lagging]);
    expect(r.divergent).toEqual([]);
    expect(r.agreeing).toEqual([1, 2, 3].filter((s) => s !== lagging));
    c.heal();
  });
});
