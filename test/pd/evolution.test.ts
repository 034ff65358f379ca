/**
 * Cluster evolution under PD, in pure code (the toy cluster of `toy-cluster.ts`): writes grow one
 * region into many by splits; a cluster grown from 3 to 5 stores evens out its replicas; a lost
 * store's regions get back to 3 voters; leaders end up balanced within tolerance; deleted data
 * merges regions back. Invariants are checked after every step. Seeds are printed; set
 * `PD_SEED` to replay one.
 */
import { describe, expect, it } from 'vitest';
import { resolvePdConfig } from '../../src/pd/index.ts';
import { compareKeys, keysEqual } from '../../src/region/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { STEP_MS, ToyCluster } from './toy-cluster.ts';

const config = resolvePdConfig({ splitKeys: 1000, mergeKeys: 100 });
const SEEDS = process.env.PD_SEED === undefined ? [1, 2, 3, 4, 5] : [Number(process.env.PD_SEED)];

function checkInvariants(toy: ToyCluster): void {
  const sorted = [...toy.regions.values()].map((r) => r.region).sort((a, b) => compareKeys(a.startKey, b.startKey));
  // Every key in exactly one region.
  expect(sorted[0].startKey.length).toBe(0);
  expect(sorted[sorted.length - 1].endKey.length).toBe(0);
  for (let i = 1; i < sorted.length; i++) expect(keysEqual(sorted[i - 1].endKey, sorted[i].startKey)).toBe(true);
  for (const { region, leaderPeerId, pending } of toy.regions.values()) {
    const voters = region.peers.filter((p) => p.role === 'voter');
    const live = voters.filter((p) => toy.stores.get(p.storeId)!.alive && !pending.has(p.id));
    expect(region.peers.filter((p) => p.role === 'learner').length).toBeLessThanOrEqual(1);
    expect(region.peers.length).toBeLessThanOrEqual(config.replicationFactor + 1);
    // No PD decision ever cost a region its live majority.
    expect(live.length * 2).toBeGreaterThan(voters.length);
    expect(region.peers.some((p) => p.id === leaderPeerId && p.role === 'voter')).toBe(true);
  }
  expect(toy.refused).toBe(0);
  expect(toy.dropped).toBe(0);
}

/**
 * Steps until two steps in a row issue nothing with no operator in flight, and at least
 * `stepsMin` steps (a store loss is not news before `storeDownMs`); returns the steps taken.
 */
function runUntilQuiet(toy: ToyCluster, stepsMax: number, stepsMin = 0, each: () => void = () => {}): number {
  let quiet = 0;
  for (let step = 1; step <= stepsMax; step++) {
    const issued = toy.step();
    each();
    checkInvariants(toy);
    quiet = issued.length === 0 && toy.view.operators.size === 0 ? quiet + 1 : 0;
    if (quiet >= 2 && step >= stepsMin) return step;
  }
  throw new Error(`not quiet after ${stepsMax} steps`);
}

function perStore(toy: ToyCluster, what: 'replicas' | 'leaders'): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [id, s] of toy.stores) if (s.alive) counts.set(id, 0);
  for (const r of toy.regions.values()) {
    for (const p of r.region.peers) {
      if (what === 'replicas' || p.id === r.leaderPeerId) counts.set(p.storeId, (counts.get(p.storeId) ?? 0) + 1);
    }
  }
  return counts;
}

const spread = (counts: Map<number, number>) => Math.max(...counts.values()) - Math.min(...counts.values());

/** Checks the end state: PD's view matches the toy, every region has 3 voters on live stores, replicas and leaders even. */
function expectSettled(toy: ToyCluster): void {
  expect([...toy.view.regions.keys()].sort((a, b) => a - b)).toEqual([...toy.regions.keys()].sort((a, b) => a - b));
  for (const r of toy.regions.values()) {
    expect(toy.view.regions.get(r.region.id)!.region.epoch).toEqual(r.region.epoch);
    expect(r.region.peers.map((p) => p.role)).toEqual(['voter', 'voter', 'voter']);
    for (const p of r.region.peers) expect(toy.stores.get(p.storeId)!.alive).toBe(true);
  }
  expect(spread(perStore(toy, 'replicas'))).toBeLessThanOrEqual(config.replicaBalanceTolerance);
  expect(spread(perStore(toy, 'leaders'))).toBeLessThanOrEqual(config.leaderBalanceTolerance);
}

const fmt = (m: Map<number, number>) => [...m].map(([s, n]) => `${s}:${n}`).join(' ');

describe.each(SEEDS)('PD cluster evolution, seed %i', (seed) => {
  it('grows by splits, spreads over 3→5 stores, survives a store loss, merges back', () => {
    console.log(`pd evolution seed ${seed} (replay: PD_SEED=${seed})`);
    const rand = createSeededRand(seed);
    const toy = new ToyCluster([1, 2, 3], config, rand);

    // Phase 1: writes split one region into many, leaders spread over the three stores.
    for (let i = 0; i < 20; i++) {
      toy.write(400 + rand.int(600));
      toy.step();
      checkInvariants(toy);
    }
    runUntilQuiet(toy, 100);
    expect(toy.regions.size).toBeGreaterThanOrEqual(10);
    for (const r of toy.regions.values()) expect(r.keys).toBeLessThan(config.splitKeys);
    expectSettled(toy);

    // Phase 2: two stores join a few steps apart while writes go on; replicas and leaders even out over five.
    const leadersBefore = perStore(toy, 'leaders');
    toy.addStore(4);
    for (let i = 0; i < 10; i++) {
      if (i === 1 + rand.int(5)) toy.addStore(5);
      toy.write(rand.int(1000));
      toy.step();
      checkInvariants(toy);
    }
    if (!toy.stores.has(5)) toy.addStore(5);
    const grow = runUntilQuiet(toy, 300);
    const regionsGrown = toy.regions.size;
    expectSettled(toy);
    expect(perStore(toy, 'replicas').get(4)).toBeGreaterThan(0);
    console.log(`seed ${seed}: ${regionsGrown} regions; 3→5 stores quiet after ${grow} steps; leaders ${fmt(leadersBefore)} → ${fmt(perStore(toy, 'leaders'))}; replicas ${fmt(perStore(toy, 'replicas'))}`);

    // Phase 3: a store dies; once down (storeDownMs), its regions are rebuilt on the other four.
    const lostAt = toy.nowMs;
    const lost = 1 + rand.int(5);
    toy.killStore(lost);
    let restoredMs = -1;
    const onLost = () => [...toy.regions.values()].filter((r) => r.region.peers.some((p) => p.storeId === lost)).length;
    const lose = runUntilQuiet(toy, 300, config.storeDownMs / STEP_MS + 1, () => {
      if (restoredMs < 0 && onLost() === 0) restoredMs = toy.nowMs - lostAt;
    });
    expect(onLost()).toBe(0);
    expect(restoredMs).toBeGreaterThan(config.storeDownMs);
    expectSettled(toy);
    console.log(`seed ${seed}: store ${lost} lost; replication factor 3 restored after ${restoredMs / 1000} s (${lose} steps of ${STEP_MS / 1000} s to quiet); leaders ${fmt(perStore(toy, 'leaders'))}`);

    // Phase 4: the data is deleted; regions on the same stores merge back.
    toy.setKeys(0);
    runUntilQuiet(toy, 300);
    expect(toy.regions.size).toBeLessThan(regionsGrown);
    const byPlacement = new Map<string, number>();
    for (const r of toy.regions.values()) {
      const key = r.region.peers.map((p) => p.storeId).sort().join(',');
      byPlacement.set(key, (byPlacement.get(key) ?? 0) + 1);
    }
    console.log(`seed ${seed}: after deletion ${toy.regions.size} regions over ${byPlacement.size} store sets`);
    expectSettled(toy);
  });
});
