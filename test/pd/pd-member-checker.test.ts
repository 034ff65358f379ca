/**
 * The PD member checker on hand-made views: PD's group grows to five voters with five stores,
 * a lost member is replaced (learner, then one joint change that promotes it and removes the lost
 * one), two members lost one after the other leave it on three live stores, a member whose store
 * came back wiped is removed so that store can host a new one, the leader is moved before it is
 * removed, and no step costs the group its healthy majority.
 */
import { describe, expect, it } from 'vitest';
import { checkPdMembers, type PdGroupState, type PdMemberStep, pdTargetSize } from '../../src/pd/pd-member-checker.ts';
import type { Peer } from '../../src/region/types.ts';
import { buildView, cfg, ids } from './fixtures.ts';

const NOW = 100_000;
const DOWN = NOW - 30_001;
const P = (storeId: number, role: 'voter' | 'learner' = 'voter', id = 9000 + storeId, incarnation?: string): Peer => ({ id, storeId, role, ...(incarnation ? { incarnation } : {}) });

function group(peers: Peer[], over: Partial<PdGroupState> = {}): PdGroupState {
  return { peers, leaderPeerId: peers[0].id, committed: 100, match: new Map(peers.map((p) => [p.id, 100])), lostPeerIds: new Set(), joint: false, ...over };
}

describe('pdTargetSize', () => {
  it('is 3 below five usable stores and 5 from five', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(pdTargetSize)).toEqual([3, 3, 3, 3, 5, 5, 5]);
  });
});

describe('checkPdMembers', () => {
  it('does nothing with three good voters on three or four stores, nor before the view is warm, nor while joint', () => {
    const g = group([P(1), P(2), P(3)]);
    expect(checkPdMembers(buildView({ stores: [1, 2, 3], regions: [] }), cfg(), g, ids())).toBeUndefined();
    expect(checkPdMembers(buildView({ stores: [1, 2, 3, 4], regions: [] }), cfg(), g, ids())).toBeUndefined();
    const cold = buildView({ stores: [1, 2, 3, 4], regions: [], nowMs: 30_000, storeSeenMs: { 3: 0 } });
    expect(checkPdMembers({ ...cold, nowMs: 30_000 }, cfg(), group([P(1), P(2), P(3)]), ids())).toBeUndefined();
    const down = buildView({ stores: [1, 2, 3, 4], regions: [], storeSeenMs: { 3: DOWN } });
    expect(checkPdMembers(down, cfg(), { ...g, joint: true }, ids())).toBeUndefined();
  });

  it('grows to five voters once there are five stores: a learner, promoted once it holds the log', () => {
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions: [], storeOver: { 4: { incarnation: 'aaaa0000aaaa0000' } } });
    expect(checkPdMembers(view, cfg(), group([P(1), P(2), P(3)]), ids(500))).toEqual({ type: 'addLearner', storeId: 4, peerId: 500, incarnation: 'aaaa0000aaaa0000' });
    const learning = group([P(1), P(2), P(3), P(4, 'learner', 500)], { match: new Map([[9002, 100], [9003, 100], [500, 0]]) });
    expect(checkPdMembers(view, cfg(), learning, ids())).toBeUndefined(); // its snapshot is on its way
    const caught = group([P(1), P(2), P(3), P(4, 'learner', 500)], { match: new Map([[9002, 100], [9003, 100], [500, 90]]) });
    expect(checkPdMembers(view, cfg(), caught, ids())).toEqual({ type: 'promote', peerId: 500 });
    expect(checkPdMembers(view, cfg(), group([P(1), P(2), P(3), P(4, 'voter', 500)]), ids(600))).toMatchObject({ type: 'addLearner', storeId: 5 });
    expect(checkPdMembers(view, cfg(), group([P(1), P(2), P(3), P(4), P(5)]), ids())).toBeUndefined();
  });

  it('replaces a lost member: a learner on a store without PD, then one joint change promoting it and removing the lost one', () => {
    const view = buildView({ stores: [1, 2, 3, 4], regions: [], storeSeenMs: { 3: DOWN } });
    expect(checkPdMembers(view, cfg(), group([P(1), P(2), P(3)]), ids(500))).toEqual({ type: 'addLearner', storeId: 4, peerId: 500 });
    const caught = group([P(1), P(2), P(3), P(4, 'learner', 500)]);
    expect(checkPdMembers(view, cfg(), caught, ids())).toEqual({ type: 'promote', peerId: 500, removePeerId: 9003 });
  });

  it('removes a learner whose store went down or came back wiped', () => {
    const view = buildView({ stores: [1, 2, 3, 4], regions: [], storeSeenMs: { 4: DOWN } });
    expect(checkPdMembers(view, cfg(), group([P(1), P(2), P(3), P(4, 'learner', 500)]), ids())).toEqual({ type: 'remove', peerId: 500 });
    const wiped = buildView({ stores: [1, 2, 3, 4], regions: [], storeOver: { 4: { incarnation: 'bbbb0000bbbb0000' } } });
    expect(checkPdMembers(wiped, cfg(), group([P(1), P(2), P(3), P(4, 'learner', 500, 'aaaa0000aaaa0000')]), ids())).toEqual({ type: 'remove', peerId: 500 });
  });

  it('a member refused for a wiped store is removed when every usable store hosts one, then its store gets a new one', () => {
    const view = buildView({ stores: [1, 2, 3], regions: [] });
    const g = group([P(1), P(2), P(3)], { lostPeerIds: new Set([9003]) });
    expect(checkPdMembers(view, cfg(), g, ids())).toEqual({ type: 'remove', peerId: 9003 });
    expect(checkPdMembers(view, cfg(), group([P(1), P(2)]), ids(700))).toEqual({ type: 'addLearner', storeId: 3, peerId: 700 });
  });

  it('moves leadership off a member on a store being drained before removing it', () => {
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions: [], storeOver: { 1: { state: 'offline' } } });
    const five = group([P(1), P(2), P(3), P(4), P(5)]);
    // Four usable stores: the target is 3, and store 1 (offline) is the one to go; it leads, so it hands over first.
    expect(checkPdMembers({ ...view, stores: new Map([...view.stores].map(([id, s]) => [id, id === 1 ? { ...s, state: 'offline' as const } : s])) }, cfg(), five, ids())).toEqual({
      type: 'transferLeader',
      toPeerId: 9002,
      toStoreId: 2,
    });
  });

  it('never removes a voter when the rest would be short of a healthy majority', () => {
    // Stores 2 and 3 down out of 5 voters on 5 stores, two live stores left besides the leader's.
    const view = buildView({ stores: [1, 2, 3, 4, 5], regions: [], storeSeenMs: { 2: DOWN, 3: DOWN, 4: DOWN } });
    expect(checkPdMembers(view, cfg(), group([P(1), P(2), P(3), P(4), P(5)]), ids())).toBeUndefined();
  });

  it('two PD stores lost one after the other (and a wiped one back): the group always ends on live stores', () => {
    // A small model of PD's group under the checker: each step applied as its change would be.
    let peers: Peer[] = [P(1), P(2), P(3)];
    let seen: Record<number, number> = {};
    const alloc = ids(800);
    const run = (stores: number[], rounds = 20) => {
      const steps: PdMemberStep[] = [];
      for (let i = 0; i < rounds; i++) {
        const view = buildView({ stores, regions: [], storeSeenMs: seen });
        const leader = peers.find((p) => p.role === 'voter' && (seen[p.storeId] ?? NOW) === NOW)!;
        const step = checkPdMembers(view, cfg(), { ...group(peers), leaderPeerId: leader.id }, alloc);
        if (step === undefined) break;
        steps.push(step);
        if (step.type === 'addLearner') peers = [...peers, { id: step.peerId, storeId: step.storeId, role: 'learner' }];
        if (step.type === 'promote') peers = peers.filter((p) => p.id !== step.removePeerId).map((p) => (p.id === step.peerId ? { ...p, role: 'voter' } : p));
        if (step.type === 'remove') peers = peers.filter((p) => p.id !== step.peerId);
      }
      return steps.map((s) => s.type);
    };
    const voterStores = () => peers.filter((p) => p.role === 'voter').map((p) => p.storeId).sort();
    expect(run([1, 2, 3, 4, 5])).toEqual(['addLearner', 'promote', 'addLearner', 'promote']);
    expect(voterStores()).toEqual([1, 2, 3, 4, 5]);
    seen = { 1: DOWN }; // store 1 lost for good: four usable stores, target 3
    expect(run([1, 2, 3, 4, 5])).toEqual(['remove', 'remove']);
    expect(voterStores()).toEqual([2, 3, 4]);
    seen = { 1: DOWN, 2: DOWN }; // then store 2: replaced on store 5
    expect(run([1, 2, 3, 4, 5])).toEqual(['addLearner', 'promote']);
    expect(voterStores()).toEqual([3, 4, 5]);
    seen = { 2: DOWN }; // store 1 comes back with an empty disk, a new store 6 joins: five usable again
    expect(run([1, 2, 3, 4, 5, 6])).toEqual(['addLearner', 'promote', 'addLearner', 'promote']);
    expect(voterStores()).toEqual([1, 3, 4, 5, 6]);
  });
});
