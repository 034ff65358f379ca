/**
 * The balance schedulers on hand-made views: replicas spread onto new stores (learner first) and
 * leaders spread over the voters' stores, each until within tolerance, never onto a down, offline
 * or full store, never for an unsettled or busy region.
 */
import { describe, expect, it } from 'vitest';
import { balanceLeaders, balanceReplicas, type Instruction, recordOperators } from '../../src/pd/index.ts';
import { buildView, cfg, ids, mkRegion, pid, regionHb } from './fixtures.ts';

const NOW = 100_000;
const DOWN = NOW - 30_001;

/** `n` regions over the key space, voters on `stores`, led by `leaderOf(i)`. */
function regions(n: number, stores: number[], leaderOf: (i: number) => number = () => stores[0]) {
  return Array.from({ length: n }, (_, i) => {
    const start = i === 0 ? '' : `k${String(i).padStart(3, '0')}`;
    const end = i === n - 1 ? '' : `k${String(i + 1).padStart(3, '0')}`;
    return regionHb(mkRegion(i + 1, start, end, stores), { leaderStore: leaderOf(i) });
  });
}

/** Per-store counts after applying learner additions (the checker later removes a replica from the source). */
function targetsOf(instructions: Instruction[]): number[] {
  return instructions.map((i) => (i.type === 'addLearner' ? i.storeId : -1));
}

describe('balanceReplicas', () => {
  it('moves replicas onto new stores until counts differ by at most the tolerance', () => {
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions: regions(6, [1, 2, 3]) });
    const out = balanceReplicas(view, cfg(), ids(900));
    // 18 replicas: 6,6,6,0,0 becomes 4,4,4,3,3 after six moves, alternating targets.
    expect(targetsOf(out)).toEqual([4, 5, 4, 5, 4, 5]);
    expect(out[0]).toEqual({ type: 'addLearner', regionId: 1, epoch: { confVer: 1, version: 1 }, storeId: 4, peerId: 900 });
    expect(new Set(out.map((i) => (i.type === 'addLearner' ? i.regionId : 0))).size).toBe(6);
  });

  it('does nothing when within tolerance; a larger tolerance moves less', () => {
    expect(balanceReplicas(buildView({ stores: [1, 2, 3], regions: regions(6, [1, 2, 3]) }), cfg(), ids())).toEqual([]);
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions: regions(6, [1, 2, 3]) });
    expect(balanceReplicas(view, cfg({ replicaBalanceTolerance: 3 }), ids())).toHaveLength(4);
  });

  it('waits until the view has collected heartbeats for storeDownMs (a new PD leader)', () => {
    const cold = buildView({ stores: [1, 2, 3, 4, 5], regions: regions(6, [1, 2, 3]), nowMs: 30_000 });
    expect(balanceReplicas(cold, cfg(), ids())).toEqual([]);
    expect(balanceLeaders(cold, cfg())).toEqual([]);
    expect(balanceReplicas({ ...cold, nowMs: 30_001 }, cfg(), ids())).toHaveLength(6);
    expect(balanceLeaders({ ...cold, nowMs: 30_001 }, cfg()).length).toBeGreaterThan(0);
  });

  it('never targets a down, offline or full store', () => {
    const view = buildView({
      stores: [1, 2, 3, 4, 5, 6],
      regions: regions(6, [1, 2, 3]),
      storeSeenMs: { 4: DOWN },
      storeOver: { 5: { state: 'offline' }, 6: { capacityBytes: 1000, availableBytes: 100 } },
    });
    expect(balanceReplicas(view, cfg(), ids())).toEqual([]);
  });

  it('moves only settled regions without an operator in flight', () => {
    const hbs = regions(3, [1, 2, 3]);
    const r2 = mkRegion(2, 'k001', 'k002', [1, 2, 3], { learners: [4] });
    hbs[1] = regionHb(r2);
    hbs[2] = regionHb(hbs[2].region, { pendingPeers: [hbs[2].region.peers[1]] });
    const busy = recordOperators(buildView({ stores: [1, 2, 3, 4], regions: hbs }), [{ type: 'removePeer', regionId: 1, epoch: { confVer: 1, version: 1 }, peerId: pid(1, 3) }], NOW);
    expect(balanceReplicas(busy, cfg(), ids())).toEqual([]);
  });
});

describe('balanceLeaders', () => {
  const transfers = (out: Instruction[]) => out.map((i) => (i.type === 'transferLeader' ? [i.regionId, i.toStoreId] : []));

  it('moves leaders off the store with the most until within tolerance', () => {
    const view = buildView({ stores: [1, 2, 3], regions: regions(6, [1, 2, 3]) });
    const out = balanceLeaders(view, cfg());
    expect(transfers(out)).toEqual([
      [1, 2],
      [2, 3],
      [3, 2],
      [4, 3],
    ]);
    expect(out[0]).toEqual({ type: 'transferLeader', regionId: 1, epoch: { confVer: 1, version: 1 }, toStoreId: 2, toPeerId: pid(1, 2) });
    expect(balanceLeaders(view, cfg({ leaderBalanceTolerance: 3 }))).toHaveLength(2);
  });

  it('does nothing when balanced', () => {
    const view = buildView({ stores: [1, 2, 3], regions: regions(6, [1, 2, 3], (i) => (i % 3) + 1) });
    expect(balanceLeaders(view, cfg())).toEqual([]);
  });

  it('only moves to a healthy voter of the region on a usable store', () => {
    // Store 3 is down; store 2's peer of region 1 is pending; store 4 hosts no voter.
    const hbs = regions(4, [1, 2, 3]);
    hbs[0] = regionHb(hbs[0].region, { pendingPeers: [hbs[0].region.peers[1]] });
    const view = buildView({ stores: [1, 2, 3, 4], regions: hbs, storeSeenMs: { 3: DOWN } });
    expect(transfers(balanceLeaders(view, cfg()))).toEqual([
      [2, 2],
      [3, 2],
    ]);
  });

  it('skips regions with an operator in flight', () => {
    const view = buildView({ stores: [1, 2, 3], regions: regions(2, [1, 2, 3]) });
    const busy = recordOperators(view, [{ type: 'removePeer', regionId: 1, epoch: { confVer: 1, version: 1 }, peerId: pid(1, 3) }], NOW);
    expect(transfers(balanceLeaders(busy, cfg()))).toEqual([[2, 2]]);
  });
});
