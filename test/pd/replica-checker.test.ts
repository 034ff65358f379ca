/**
 * The replica checker on hand-made views: a lost store's regions rebuilt elsewhere (learner, then
 * promote, then remove the lost peer), offline stores drained, surplus voters removed from the
 * most loaded store, leaders moved away before their peer goes, and no step that would cost a
 * region its healthy majority.
 */
import { describe, expect, it } from 'vitest';
import { type ClusterView, checkReplicas, handleRegionHeartbeat, handleStoreHeartbeat, type RegionHeartbeat, recordOperators } from '../../src/pd/index.ts';
import { buildView, cfg, ids, mkRegion, pid, regionHb, storeHb } from './fixtures.ts';

const NOW = 100_000;
const DOWN = NOW - 30_001; // silent one ms longer than the default storeDownMs

describe('checkReplicas', () => {
  it('does nothing for a region with replicationFactor healthy voters', () => {
    const view = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(mkRegion(1, '', '', [1, 2, 3]))] });
    expect(checkReplicas(view, cfg(), ids())).toEqual([]);
  });

  it('adds a learner elsewhere once a store has been silent longer than storeDownMs, not before', () => {
    const r = mkRegion(1, '', '', [1, 2, 3]);
    const exactly = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r)], storeSeenMs: { 3: NOW - 30_000 } });
    expect(checkReplicas(exactly, cfg(), ids())).toEqual([]);
    const down = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r)], storeSeenMs: { 3: DOWN } });
    expect(checkReplicas(down, cfg(), ids(500))).toEqual([{ type: 'addLearner', regionId: 1, epoch: { confVer: 1, version: 1 }, storeId: 4, peerId: 500 }]);
  });

  it("stamps the learner with the incarnation from the target store's heartbeat", () => {
    const r = mkRegion(1, '', '', [1, 2, 3]);
    const down = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r)], storeSeenMs: { 3: DOWN }, storeOver: { 4: { incarnation: '5e1f00d5c0ffee00' } } });
    expect(checkReplicas(down, cfg(), ids(500))).toEqual([{ type: 'addLearner', regionId: 1, epoch: { confVer: 1, version: 1 }, storeId: 4, peerId: 500, incarnation: '5e1f00d5c0ffee00' }]);
  });

  it('a store the view never heard from is down only once the view is older than storeDownMs', () => {
    // After a PD leader change, region heartbeats may arrive before store 3's first heartbeat.
    const r = regionHb(mkRegion(1, '', '', [1, 2, 3]));
    expect(checkReplicas(buildView({ stores: [1, 2, 4], regions: [r], nowMs: 30_000 }), cfg(), ids())).toEqual([]);
    const learner = regionHb(mkRegion(2, '', '', [1, 2, 4], { learners: [3] }), { pendingPeers: [{ id: pid(2, 3), storeId: 3, role: 'learner' }] });
    expect(checkReplicas(buildView({ stores: [1, 2, 4], regions: [learner], nowMs: 30_000 }), cfg(), ids())).toEqual([]);
    expect(checkReplicas(buildView({ stores: [1, 2, 4], regions: [r], nowMs: 30_001 }), cfg(), ids())).toMatchObject([{ type: 'addLearner', storeId: 4 }]);
  });

  it('waits for a pending learner, promotes a caught-up one', () => {
    const r = mkRegion(1, '', '', [1, 2, 3], { learners: [4], confVer: 2 });
    const seen = { 3: DOWN };
    const pending = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r, { pendingPeers: [r.peers[3]] })], storeSeenMs: seen });
    expect(checkReplicas(pending, cfg(), ids())).toEqual([]);
    const caughtUp = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r)], storeSeenMs: seen });
    expect(checkReplicas(caughtUp, cfg(), ids())).toEqual([{ type: 'promoteLearner', regionId: 1, epoch: { confVer: 2, version: 1 }, peerId: pid(1, 4) }]);
  });

  it('removes a learner pending for longer than learnerCatchUpMs (without a break), then adds a fresh one', () => {
    const r = mkRegion(1, '', '', [1, 2, 3], { learners: [4] });
    const pending = regionHb(r, { pendingPeers: [r.peers[3]] });
    const at = (view: ClusterView, hb: RegionHeartbeat, nowMs: number) => {
      for (const id of [1, 2, 3, 4]) view = handleStoreHeartbeat(view, storeHb(id), nowMs);
      const result = handleRegionHeartbeat(view, hb, nowMs);
      if (!result.ok) throw result.error;
      return result.view;
    };
    let view = buildView({ stores: [1, 2, 3, 4], regions: [pending], nowMs: NOW });
    view = at(view, pending, NOW + 300_000);
    expect(checkReplicas(view, cfg(), ids())).toEqual([]);
    expect(checkReplicas(at(view, pending, NOW + 300_001), cfg(), ids())).toMatchObject([{ type: 'removePeer', peerId: pid(1, 4) }]);
    // Caught up once in between: the clock starts again.
    const resumed = at(at(view, regionHb(r), NOW + 300_000), pending, NOW + 300_001);
    expect(checkReplicas(resumed, cfg(), ids())).toEqual([]);
  });

  it('removes the lost voter once the replacement is a voter', () => {
    const r = mkRegion(1, '', '', [1, 2, 3, 4], { confVer: 3 });
    const view = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r)], storeSeenMs: { 3: DOWN } });
    expect(checkReplicas(view, cfg(), ids())).toEqual([{ type: 'removePeer', regionId: 1, epoch: { confVer: 3, version: 1 }, peerId: pid(1, 3) }]);
  });

  it('keeps a lost voter when no store can take its place (removing it would not help)', () => {
    const view = buildView({ stores: [1, 2, 3], regions: [regionHb(mkRegion(1, '', '', [1, 2, 3]))], storeSeenMs: { 3: DOWN } });
    expect(checkReplicas(view, cfg(), ids())).toEqual([]);
  });

  it('treats a peer its leader misses for storeDownMs as lost, even if its store still heartbeats', () => {
    const r = mkRegion(1, '', '', [1, 2, 3]);
    const missed = (downSeconds: number) => buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r, { downPeers: [{ peer: r.peers[2], downSeconds }] })] });
    expect(checkReplicas(missed(29), cfg(), ids())).toEqual([]);
    expect(checkReplicas(missed(30), cfg(), ids(7))).toMatchObject([{ type: 'addLearner', storeId: 4, peerId: 7 }]);
  });

  it('removes a learner on a down or offline store instead of waiting for it', () => {
    const r = mkRegion(1, '', '', [1, 2, 3], { learners: [4] });
    const view = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r, { pendingPeers: [r.peers[3]] })], storeSeenMs: { 4: DOWN } });
    expect(checkReplicas(view, cfg(), ids())).toMatchObject([{ type: 'removePeer', peerId: pid(1, 4) }]);
    const offline = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r)], storeOver: { 4: { state: 'offline' } } });
    expect(checkReplicas(offline, cfg(), ids())).toMatchObject([{ type: 'removePeer', peerId: pid(1, 4) }]);
  });

  it('drains an offline store: adds a replacement, then removes the offline voter', () => {
    const over = { 3: { state: 'offline' as const } };
    const before = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(mkRegion(1, '', '', [1, 2, 3]))], storeOver: over });
    expect(checkReplicas(before, cfg(), ids(9))).toMatchObject([{ type: 'addLearner', storeId: 4, peerId: 9 }]);
    const after = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(mkRegion(1, '', '', [1, 2, 3, 4]))], storeOver: over });
    expect(checkReplicas(after, cfg(), ids())).toMatchObject([{ type: 'removePeer', peerId: pid(1, 3) }]);
  });

  it('places the replacement on the usable store with the fewest replicas, never on a full one', () => {
    const regions = [regionHb(mkRegion(1, '', 'm', [1, 2, 3])), regionHb(mkRegion(2, 'm', '', [1, 2, 4]))];
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions, storeSeenMs: { 3: DOWN } });
    expect(checkReplicas(view, cfg(), ids())).toMatchObject([{ regionId: 1, type: 'addLearner', storeId: 5 }]);
    const full = buildView({ stores: [1, 2, 3, 4, 5], regions, storeSeenMs: { 3: DOWN }, storeOver: { 5: { capacityBytes: 100, availableBytes: 10 } } });
    expect(checkReplicas(full, cfg(), ids())).toMatchObject([{ regionId: 1, type: 'addLearner', storeId: 4 }]);
  });

  it('removes a surplus voter from the store with the most replicas', () => {
    const regions = [regionHb(mkRegion(1, '', 'm', [1, 2, 3, 4])), regionHb(mkRegion(2, 'm', '', [2, 3, 5]))];
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions });
    // Stores 2 and 3 hold two replicas each; the tie goes to the higher id.
    expect(checkReplicas(view, cfg(), ids())).toMatchObject([{ regionId: 1, type: 'removePeer', peerId: pid(1, 3) }]);
  });

  it('transfers leadership away before removing the leader, to the voter store with the fewest leaders', () => {
    const regions = [regionHb(mkRegion(1, '', 'm', [1, 2, 3, 4]), { leaderStore: 3 }), regionHb(mkRegion(2, 'm', '', [2, 3, 5]), { leaderStore: 2 })];
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions });
    expect(checkReplicas(view, cfg(), ids())).toEqual([{ type: 'transferLeader', regionId: 1, epoch: { confVer: 1, version: 1 }, toStoreId: 1, toPeerId: pid(1, 1) }]);
  });

  it('never promotes or removes when that would leave the healthy voters short of a majority', () => {
    // Two of three voters down: promoting the learner gives 4 voters with 2 healthy.
    const r = mkRegion(1, '', '', [1, 2, 3], { learners: [4] });
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions: [regionHb(r)], storeSeenMs: { 2: DOWN, 3: DOWN } });
    expect(checkReplicas(view, cfg(), ids())).toEqual([]);
    // Four voters, two down and one lagging, no spare store: removing a down one leaves 3 voters with 1 healthy.
    const r2 = mkRegion(2, '', '', [1, 2, 3, 4]);
    const lagging = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r2, { pendingPeers: [r2.peers[3]] })], storeSeenMs: { 2: DOWN, 3: DOWN } });
    expect(checkReplicas(lagging, cfg(), ids())).toEqual([]);
    // Without the lagging voter the same removal is safe (3 voters, 2 healthy).
    const fine = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(r2)], storeSeenMs: { 2: DOWN, 3: DOWN } });
    expect(checkReplicas(fine, cfg(), ids())).toMatchObject([{ type: 'removePeer', peerId: pid(2, 3) }]);
  });

  it('skips a region with an operator in flight, and spreads one pass over stores', () => {
    const regions = [regionHb(mkRegion(1, '', 'm', [1, 2, 3])), regionHb(mkRegion(2, 'm', '', [1, 2, 3]))];
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions, storeSeenMs: { 3: DOWN } });
    expect(checkReplicas(view, cfg(), ids()).map((i) => i.type === 'addLearner' && i.storeId)).toEqual([4, 5]);
    const busy = recordOperators(view, [{ type: 'transferLeader', regionId: 1, epoch: { confVer: 1, version: 1 }, toStoreId: 2, toPeerId: pid(1, 2) }], NOW);
    expect(checkReplicas(busy, cfg(), ids()).map((i) => 'regionId' in i && i.regionId)).toEqual([2]);
  });
});
