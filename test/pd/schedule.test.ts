/**
 * The scheduler: rule priorities (restore replication > split > merge > replica balance > leader
 * balance), one operator per region counting those in flight, and the per-store operator cap.
 */
import { describe, expect, it } from 'vitest';
import { type Instruction, instructionLeaderStoreId, instructionStoreIds, recordOperators, SCHEDULE_RULES, schedule } from '../../src/pd/index.ts';
import { buildView, cfg, ids, mkRegion, pid, regionHb } from './fixtures.ts';

const NOW = 100_000;
const DOWN = NOW - 30_001;
const kinds = (out: Instruction[]) => out.map((i) => `${i.type}:${i.type === 'mergeRegions' ? `${i.sourceId}>${i.targetId}` : i.regionId}`);

describe('schedule', () => {
  it('runs the rules in priority order', () => {
    expect(SCHEDULE_RULES.map((r) => r.name)).toEqual(['replica-checker', 'split-checker', 'merge-checker', 'balance-region', 'balance-leader']);
  });

  it('restoring replication beats splitting the same region', () => {
    const big = regionHb(mkRegion(1, '', '', [1, 2, 3]), { approximateKeys: 1_000_000 });
    const view = buildView({ stores: [1, 2, 3, 4], regions: [big], storeSeenMs: { 3: DOWN } });
    expect(kinds(schedule(view, cfg(), ids()))).toEqual(['addLearner:1']);
    const healthy = buildView({ stores: [1, 2, 3, 4], regions: [big] });
    expect(kinds(schedule(healthy, cfg(), ids()))).toEqual(['splitRegion:1']);
  });

  it('split beats merge, merge beats replica balance, replica balance beats leader balance', () => {
    const config = cfg({ splitKeys: 1000, splitBytes: 1 << 20, mergeKeys: 100, mergeBytes: 1 << 10 });
    const small = { approximateKeys: 1, approximateBytes: 1 };
    const mid = { approximateKeys: 500, approximateBytes: 500 };
    const view = buildView({
      stores: [1, 2, 3, 4],
      config,
      regions: [
        regionHb(mkRegion(1, '', 'b', [1, 2, 3]), { approximateKeys: 2000 }), // split
        regionHb(mkRegion(2, 'b', 'c', [1, 2, 3]), small), // merge into 3
        regionHb(mkRegion(3, 'c', 'd', [1, 2, 3]), small),
        regionHb(mkRegion(4, 'd', 'e', [1, 2, 3]), mid), // replica balance onto store 4
        regionHb(mkRegion(5, 'e', '', [1, 2, 3]), mid), // leader balance (all led by store 1)
      ],
    });
    expect(kinds(schedule(view, config, ids()))).toEqual(['splitRegion:1', 'mergeRegions:2>3', 'addLearner:4', 'addLearner:5']);
    // Without replica balance, leader balance moves the leaders of the regions left free.
    const noBalance = cfg({ ...config, replicaBalanceTolerance: 100 });
    expect(kinds(schedule(view, noBalance, ids()))).toEqual(['splitRegion:1', 'mergeRegions:2>3', 'transferLeader:4', 'transferLeader:5']);
  });

  it('never issues a second operator for a region with one in flight', () => {
    const view = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(mkRegion(1, '', '', [1, 2, 3]), { approximateKeys: 1_000_000 })], storeSeenMs: { 3: DOWN } });
    const busy = recordOperators(view, [{ type: 'transferLeader', regionId: 1, epoch: { confVer: 1, version: 1 }, toStoreId: 2, toPeerId: pid(1, 2) }], NOW);
    expect(schedule(busy, cfg(), ids())).toEqual([]);
  });

  it('caps the operators involving one store, counting those in flight', () => {
    const hbs = Array.from({ length: 6 }, (_, i) =>
      regionHb(mkRegion(i + 1, i === 0 ? '' : `k${i}`, i === 5 ? '' : `k${i + 1}`, [1, 2, 3]), { leaderStore: 1 + (i % 2) }),
    );
    const view = buildView({ stores: [1, 2, 3, 4], regions: hbs, storeSeenMs: { 3: DOWN } });
    // Every region needs a learner on store 4, the only spare: the cap of 4 on store 4 holds it to four.
    expect(kinds(schedule(view, cfg(), ids()))).toEqual(['addLearner:1', 'addLearner:2', 'addLearner:3', 'addLearner:4']);
    expect(schedule(view, cfg({ storeOperatorsMax: 2 }), ids())).toHaveLength(2);
    const first = schedule(view, cfg({ storeOperatorsMax: 2 }), ids());
    const busy = recordOperators(view, first, NOW);
    expect(schedule(busy, cfg({ storeOperatorsMax: 2 }), ids())).toEqual([]);
  });

  it('names the stores an instruction loads and the leader that receives it', () => {
    const view = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(mkRegion(1, '', 'm', [1, 2, 3]), { leaderStore: 2 }), regionHb(mkRegion(2, 'm', '', [1, 2, 3]))] });
    const epoch = { confVer: 1, version: 1 };
    expect(instructionStoreIds(view, { type: 'addLearner', regionId: 1, epoch, storeId: 4, peerId: 9 })).toEqual([2, 4]);
    expect(instructionStoreIds(view, { type: 'removePeer', regionId: 1, epoch, peerId: pid(1, 3) })).toEqual([2, 3]);
    expect(instructionStoreIds(view, { type: 'transferLeader', regionId: 1, epoch, toStoreId: 1, toPeerId: pid(1, 1) })).toEqual([1, 2]);
    const merge: Instruction = { type: 'mergeRegions', sourceId: 1, targetId: 2, epochs: { source: epoch, target: epoch } };
    expect(instructionStoreIds(view, merge)).toEqual([1, 2]);
    expect(instructionLeaderStoreId(view, merge)).toBe(2);
    expect(instructionLeaderStoreId(view, { type: 'removePeer', regionId: 9, epoch, peerId: 1 })).toBeUndefined();
  });
});
