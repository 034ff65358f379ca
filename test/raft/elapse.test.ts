/**
 * `RawNode.elapse(ticks)`: a driver whose clock says that many ticks passed at once (its process
 * was stopped) hands them over in one call. The lease clock takes all of them, so a lease that
 * ran out in real time is void before the next message; the last two election timeouts run as
 * ticks, so a leader that heard from no quorum meanwhile has stepped down; the work stays bounded
 * however long the gap.
 */
import { describe, expect, it } from 'vitest';
import { RaftError } from '../../src/raft/index.ts';
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
