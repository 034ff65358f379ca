/**
 * Regressions the simulator found in the core, each as a small direct test (the seeds that found
 * them are listed too: they replay against the simulator of their time, so a later change of the
 * simulator may move them; the direct tests do not move).
 */
import { describe, expect, it } from 'vitest';
import type { Message, RawNode } from './core.ts';
import { nodeCore as core } from './node-core.ts';
import { runSeed } from './simulation.ts';

function group(ids: number[], opts: { checkQuorum?: boolean; preVote?: boolean; maxInflightMsgs?: number } = {}) {
  const nodes = new Map<number, RawNode>();
  const storages = new Map<number, InstanceType<typeof core.MemoryRaftStorage>>();
  for (const id of ids) {
    const storage = core.MemoryRaftStorage.withVoters(ids);
    storages.set(id, storage);
    nodes.set(id, new core.RawNode({ id, storage, rand: core.createSeededRand(id), electionTick: 10, heartbeatTick: 1, ...opts }));
  }
  /** Persists and collects every Ready of every node; returns the messages they send. */
  const flush = (): Message[] => {
    const out: Message[] = [];
    for (const [id, n] of nodes) {
      while (n.hasReady()) {
        const rd = n.ready();
        const s = storages.get(id)!;
        if (rd.snapshot) s.applySnapshot(rd.snapshot);
        s.append(rd.entries);
        if (rd.hardState) s.setHardState(rd.hardState);
        out.push(...rd.messages);
        n.advance(rd);
      }
    }
    return out;
  };
  /** Delivers messages (and the replies they cause) until quiet, dropping those `drop` says. */
  const deliver = (msgs: Message[], drop: (m: Message) => boolean = () => false) => {
    let q = msgs;
    for (let round = 0; round < 100 && q.length > 0; round++) {
      for (const m of q) if (!drop(m)) nodes.get(m.to)?.step(m);
      q = flush();
    }
  };
  /** Ticks everyone until a leader emerges; returns it and the others. */
  const elect = () => {
    for (let t = 0; t < 200; t++) {
      for (const n of nodes.values()) n.tick();
      deliver(flush());
      const l = [...nodes.values()].find((n) => n.raft.state === 'leader');
      if (l) return { leader: l, others: ids.filter((id) => id !== l.raft.id) };
    }
    throw new Error('no leader');
  };
  return { nodes, flush, deliver, elect };
}

const enc = new TextEncoder();

describe('simulation regressions', () => {
  it('a follower whose whole append window was lost is probed again on the next heartbeat response', () => {
    // Found by seed 13: with maxInflightMsgs 1 a lost MsgApp paused replication to that
    // follower forever, and with a second lossy follower the group stopped committing.
    const g = group([1, 2, 3], { maxInflightMsgs: 1 });
    const { leader, others } = g.elect();
    const f = others[0];
    leader.propose(enc.encode('x'));
    g.deliver(g.flush(), (m) => m.type === 'MsgApp' && m.to === f); // f loses it
    leader.propose(enc.encode('y'));
    g.deliver(g.flush(), (m) => m.type === 'MsgApp' && m.to === f);
    expect(leader.status().progress.get(f)!.paused).toBe(true);
    leader.tick(); // heartbeat; its response must get f going again
    g.deliver(g.flush());
    expect(g.nodes.get(f)!.raft.raftLog.lastIndex()).toBe(leader.raft.raftLog.lastIndex());
  });

  it('a candidate of an older term is told the newer term', () => {
    // Found by seed 2158: a voter whose term ran ahead ignored the candidate's MsgVote, and its
    // own stale configuration did not list the candidate, so neither learned of the other.
    const g = group([1, 2, 3]);
    const n1 = g.nodes.get(1)!;
    n1.campaign();
    g.flush();
    // Make node 1's term clearly ahead of the candidate's.
    n1.campaign();
    g.flush();
    const stale = mkVote(2, 1, 1);
    expect(n1.raft.term).toBeGreaterThan(1);
    n1.step(stale);
    const out = g.flush().filter((m) => m.to === 2);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'MsgVoteResp', reject: true, term: n1.raft.term });
  });

  it('transfer requests do not postpone check-quorum', () => {
    // Found by seed 1738: every MsgTransferLeader reset the leader's election timer, so an
    // isolated leader asked to transfer now and then never stepped down.
    const g = group([1, 2, 3], { checkQuorum: true });
    const { leader, others } = g.elect();
    for (let t = 0; t < 25; t++) {
      if (t % 5 === 0 && leader.raft.state === 'leader') leader.transferLeader(others[(t / 5) % 2]);
      leader.tick();
      g.flush(); // everything it sends is lost
    }
    expect(leader.raft.state).toBe('follower');
  });

  it('a proposal forwarded back to its originator is not mistaken for a local call', () => {
    // Found by seed 6202: forwarded requests keep their originator as `from`; one that came back
    // to its originator, now a leader in the middle of a transfer, threw out of step().
    const g = group([1, 2, 3]);
    const { leader, others } = g.elect();
    leader.transferLeader(others[0]);
    const id = leader.raft.id;
    const back: Message = { ...mkVote(id, id, leader.raft.term), type: 'MsgProp', term: 0, entries: [{ term: 0, index: 0, type: 'normal', data: enc.encode('p') }] };
    expect(() => leader.step(back)).not.toThrow();
    expect(() => leader.propose(enc.encode('local'))).toThrow(core.RaftError);
  });

  it('a stale rejection does not restart the replication pipeline', () => {
    // Found by seed 227732: with reordering, rejections from an earlier burst of appends each
    // reset a replicating follower to probe, and each probe's success sent a new burst — tens of
    // thousands of messages within one tick.
    const g = group([1, 2, 3], { maxInflightMsgs: 64 });
    const { leader, others } = g.elect();
    const f = others[0];
    for (let i = 0; i < 5; i++) leader.propose(enc.encode(`x${i}`));
    g.deliver(g.flush());
    const pr = leader.status().progress.get(f)!;
    expect(pr.state).toBe('replicate');
    const stale: Message = {
      ...mkVote(f, leader.raft.id, leader.raft.term),
      type: 'MsgAppResp',
      index: pr.match + 1,
      reject: true,
      rejectHint: pr.match - 2,
      logTerm: leader.raft.term,
    };
    leader.step(stale);
    expect(g.flush().filter((m) => m.to === f)).toEqual([]);
    expect(leader.status().progress.get(f)!.state).toBe('replicate');
  });

  it('the seeds that found them pass', () => {
    for (const seed of [13, 2158, 1738, 6202, 227732]) {
      const r = runSeed(core, seed);
      expect(r.ok, `seed ${seed}: ${r.error}\n  replay: ${r.replay}`).toBe(true);
    }
  });

  it('the slowest recoveries found (no pre-vote, a stale voter campaigning) stay within the bound', () => {
    for (const seed of [7475, 117044, 6624, 17735]) {
      const r = runSeed(core, seed);
      expect(r.ok, `seed ${seed}: ${r.error}\n  replay: ${r.replay}`).toBe(true);
    }
  });
});

function mkVote(from: number, to: number, term: number): Message {
  return {
    type: 'MsgVote',
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  };
}
