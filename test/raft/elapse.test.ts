/**
 * `RawNode.elapse(ticks)`: a driver whose clock says that many ticks passed at once (its process
 * was stopped) hands them over in one call. The lease clock takes all of them, so a lease that
 * ran out in real time is void before the next message; the last two election timeouts run as
 * ticks, so a leader that heard from no quorum meanwhile has stepped down; the work stays bounded
 * however long the gap.
 */
import { describe, expect, it } from 'vitest';
import { RaftError } from '../../src/raft/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { testCluster } from './cluster-helper.ts';

const ELECTION = 10;

function ledCluster(opts = {}) {
  const c = testCluster(3, { checkQuorum: true, preVote: true, electionTick: ELECTION, heartbeatTick: 2, leaseDriftTicks: 2, ...opts });
  c.nodes.get(1)!.campaign();
  c.stabilize();
  // A few heartbeat rounds: a quorum acknowledged a recent one, so the lease holds.
  c.tickAll(4);
  return c;
}

describe('elapse', () => {
  it('voids a lease that ran out over the gap before anything else is stepped', () => {
    const c = ledCluster();
    const leader = c.nodes.get(1)!;
    expect(leader.raft.state).toBe('leader');
    expect(leader.leaseValid()).toBe(true);
    const before = leader.raft.tickCount;
    // Shorter than the lease: it still holds.
    leader.elapse(1);
    expect(leader.leaseValid()).toBe(true);
    // A long gap: the whole of it ages the lease, and check-quorum ran twice over it.
    leader.elapse(1000);
    expect(leader.raft.tickCount).toBe(before + 1001);
    expect(leader.leaseValid()).toBe(false);
    expect(leader.raft.state).toBe('follower');
  });

  it('keeps a leader that was stopped for less than an election timeout, with its lease judged by the time that passed', () => {
    const c = ledCluster();
    const leader = c.nodes.get(1)!;
    const expiry = leader.leaseExpiry();
    leader.elapse(expiry - leader.raft.tickCount);
    expect(leader.raft.state).toBe('leader');
    // The gap reached the lease's end: no lease read until a quorum acknowledges a new heartbeat.
    expect(leader.leaseValid()).toBe(false);
    expect(leader.leaseReadIndex()).toBe(undefined);
    c.stabilize();
    c.tickAll(2);
    expect(leader.leaseValid()).toBe(true);
  });

  it('ages a quiesced leader\'s lease too, without waking it', () => {
    const c = ledCluster();
    const leader = c.nodes.get(1)!;
    expect(leader.quiesce()).toBe(true);
    c.stabilize();
    leader.elapse(3 * ELECTION);
    expect(leader.quiesced).toBe(true);
    expect(leader.raft.state).toBe('leader');
    expect(leader.leaseValid()).toBe(false);
  });

  it('lets a follower stopped past its election timeout vote again at once', () => {
    const c = ledCluster();
    const follower = c.nodes.get(2)!;
    expect(follower.raft.inLease()).toBe(true);
    follower.elapse(5 * ELECTION);
    expect(follower.raft.inLease()).toBe(false);
  });

  it('does not campaign on a follower within the gap: its timer fires on a later tick, 2..electionTick+1 ticks on (issue 18)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const c = ledCluster({ rand: createSeededRand(seed) });
      const follower = c.nodes.get(2)!;
      const term = follower.raft.term;
      // Stopped for ten election timeouts: a replay of them as ticks would campaign (pre-vote) right here.
      follower.elapse(10 * ELECTION);
      expect(follower.raft.state, `seed ${seed}`).toBe('follower');
      expect(follower.raft.term).toBe(term);
      expect(follower.hasReady() && follower.ready().messages.length > 0, `seed ${seed}: no vote requests out of the gap`).toBe(false);
      // Its vote is free already (the gap was real time), and its timer fires within an election timeout.
      expect(follower.raft.inLease()).toBe(false);
      let ticks = 0;
      while (follower.raft.state === 'follower' && ticks < 3 * ELECTION) {
        follower.tick();
        ticks++;
      }
      expect(follower.raft.state, `seed ${seed}`).toBe('preCandidate');
      expect(ticks).toBeGreaterThanOrEqual(2);
      expect(ticks).toBeLessThanOrEqual(ELECTION + 1);
    }
  });

  it('still campaigns when every turn runs long (a loaded process): a gap defers a timer once, not for ever', () => {
    for (const gap of [1, ELECTION / 2, ELECTION, 3 * ELECTION])
    for (let seed = 1; seed <= 20; seed++) {
      const c = ledCluster({ rand: createSeededRand(seed) });
      const follower = c.nodes.get(2)!;
      // Its leader is gone; the store's ticker, always late, hands over a gap and then a tick.
      let ticks = 0;
      while (follower.raft.state === 'follower' && ticks < 40 * ELECTION) {
        follower.elapse(gap);
        follower.tick();
        ticks += gap + 1;
      }
      expect(follower.raft.state, `gap ${gap}, seed ${seed}: still a follower after ${ticks} ticks`).toBe('preCandidate');
    }
  });

  it('lets a follower that heard its leader after the gap keep it (no campaign, no new term)', () => {
    const c = ledCluster();
    const follower = c.nodes.get(2)!;
    const leader = c.nodes.get(1)!;
    follower.elapse(10 * ELECTION);
    // The leader's heartbeats were waiting unread: they arrive before the follower's next tick.
    c.tickAll(3);
    expect(follower.raft.state).toBe('follower');
    expect(leader.raft.state).toBe('leader');
    expect(follower.raft.lead).toBe(1);
  });

  it('is tick() for one tick and nothing for none; refuses a negative or fractional count', () => {
    const c = ledCluster();
    const node = c.nodes.get(3)!;
    const t = node.raft.tickCount;
    node.elapse(0);
    expect(node.raft.tickCount).toBe(t);
    node.elapse(1);
    expect(node.raft.tickCount).toBe(t + 1);
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => node.elapse(bad)).toThrow(RaftError);
    }
  });
});
