/**
 * Everything a caller can get wrong through the RawNode API is refused with a typed error and
 * changes nothing.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfChangePendingError,
  RawNode,
  InvalidConfChangeError,
  MemoryRaftStorage,
  makeMessage,
  ProposalDroppedError,
  type RaftError,
  StepLocalMessageError,
  TransferTargetError,
} from '../../src/raft/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { testCluster } from './cluster-helper.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('RawNode API errors', () => {
  it('refuses a proposal when no leader is known', () => {
    const c = testCluster(3);
    const n1 = c.nodes.get(1)!;
    expect(() => n1.propose(bytes('x'))).toThrow(ProposalDroppedError);
    try {
      n1.propose(bytes('x'));
    } catch (e) {
      expect((e as ProposalDroppedError).reason).toBe('noLeader');
      expect((e as RaftError).code).toBe('ProposalDropped');
    }
    expect(n1.raft.raftLog.lastIndex()).toBe(0);
  });

  it('refuses to transfer leadership to a non-member', () => {
    const c = testCluster(3);
    c.nodes.get(1)!.campaign();
    c.stabilize();
    const leader = c.leader()!;
    expect(() => leader.transferLeader(9)).toThrow(TransferTargetError);
    expect(leader.raft.leadTransferee).toBe(0);
  });

  it('refuses a conf change while another is pending, and an invalid one', () => {
    const c = testCluster(3);
    c.nodes.get(1)!.campaign();
    c.stabilize();
    const leader = c.leader()!;
    c.isolated.add(2);
    c.isolated.add(3);
    leader.proposeConfChange({ transition: 'auto', changes: [{ type: 'addLearner', nodeId: 4 }] });
    const last = leader.raft.raftLog.lastIndex();
    expect(() => leader.proposeConfChange({ transition: 'auto', changes: [{ type: 'addLearner', nodeId: 5 }] })).toThrow(
      ConfChangePendingError,
    );
    expect(leader.raft.raftLog.lastIndex()).toBe(last);
    c.isolated.clear();
    c.tickAll(2);
    expect(() => leader.proposeConfChange({ transition: 'auto', changes: [{ type: 'removeNode', nodeId: 1 }, { type: 'removeNode', nodeId: 2 }, { type: 'removeNode', nodeId: 3 }] })).toThrow(
      InvalidConfChangeError,
    );
  });

  it('refuses conf changes on a follower', () => {
    const c = testCluster(3);
    c.nodes.get(1)!.campaign();
    c.stabilize();
    expect(() => c.nodes.get(2)!.proposeConfChange({ transition: 'auto', changes: [{ type: 'addNode', nodeId: 4 }] })).toThrow(
      ProposalDroppedError,
    );
  });

  it('refuses local-only messages from outside', () => {
    const c = testCluster(1);
    expect(() => c.nodes.get(1)!.step(makeMessage({ type: 'MsgHup', from: 1, to: 1 }))).toThrow(StepLocalMessageError);
  });

  it('refuses a lease read without check-quorum', () => {
    const c = testCluster(1);
    c.nodes.get(1)!.campaign();
    c.stabilize();
    expect(() => c.nodes.get(1)!.readIndex(bytes('r'), 'lease')).toThrow(/checkQuorum/);
  });

  it('refuses proposals while a leader transfer is under way', () => {
    const c = testCluster(3);
    c.nodes.get(1)!.campaign();
    c.stabilize();
    c.isolated.add(2);
    const leader = c.nodes.get(1)!;
    leader.propose(bytes('a'));
    c.stabilize();
    leader.transferLeader(2); // 2 is behind and unreachable: the transfer waits
    expect(() => leader.propose(bytes('b'))).toThrow(/transferring|moving/);
    c.isolated.clear();
    c.stabilize();
    expect(c.leader()?.raft.id).toBe(2);
  });

  it('serves a ReadIndex read only after the heartbeat round confirms leadership', () => {
    const c = testCluster(3);
    c.nodes.get(1)!.campaign();
    c.stabilize();
    const leader = c.nodes.get(1)!;
    c.isolated.add(2);
    c.isolated.add(3);
    leader.readIndex(bytes('r1'));
    const rd = leader.ready();
    expect(rd.readStates).toEqual([]);
    leader.advance(rd);
    c.isolated.clear();
    leader.readIndex(bytes('r2'));
    let states: string[] = [];
    for (let i = 0; i < 5; i++) {
      for (const n of c.nodes.values()) {
        while (n.hasReady()) {
          const r = n.ready();
          if (n === leader) states = states.concat(r.readStates.map((s) => new TextDecoder().decode(s.requestCtx)));
          for (const m of r.messages) c.nodes.get(m.to)?.step(m);
          n.advance(r);
        }
      }
    }
    expect(states).toEqual(['r1', 'r2']);
  });
});

describe('leader lease', () => {
  it('holds while a quorum acknowledged recent heartbeats and lapses without them', () => {
    const c = testCluster(3, { checkQuorum: true });
    c.tickAll(10);
    c.nodes.get(1)!.campaign();
    c.stabilize();
    const leader = c.leader()!;
    expect(leader.raft.id).toBe(1);
    c.tickAll(1);
    expect(leader.leaseValid()).toBe(true);
    c.isolated.add(2);
    c.isolated.add(3);
    c.tickAll(leader.raft.cfg.electionTick - 1);
    expect(leader.leaseValid()).toBe(false);
  });
});

describe('vote refusal after a restart (check-quorum)', () => {
  it('a brand-new group elects at once; a restarted node refuses votes for one election timeout', () => {
    const c = testCluster(3, { checkQuorum: true });
    c.nodes.get(1)!.campaign();
    c.stabilize();
    expect(c.leader()?.raft.id).toBe(1); // term-0 nodes never granted a lease: they vote at once
    // Restart node 3 from its storage: it has a term now, so it may have granted node 1 a lease.
    const restarted = new RawNode({
      id: 3,
      storage: c.storages.get(3)!,
      rand: createSeededRand(3),
      checkQuorum: true,
    });
    expect(restarted.raft.restarted).toBe(true);
    expect(restarted.raft.inLease()).toBe(true);
    for (let i = 0; i < restarted.raft.cfg.electionTick; i++) restarted.tick();
    expect(restarted.raft.inLease()).toBe(false);
  });
});

describe('apply flow control', () => {
  it('holds back committed entries above the apply limit and re-hands what was not applied', () => {
    const storage = MemoryRaftStorage.withVoters([1]);
    const node = new RawNode({ id: 1, storage, rand: createSeededRand(1) });
    const ready = () => {
      const rd = node.ready();
      storage.append(rd.entries);
      if (rd.hardState) storage.setHardState(rd.hardState);
      return rd;
    };
    node.campaign();
    node.advance(ready());
    for (const s of ['a', 'b', 'c']) node.propose(bytes(s));
    const last = node.raft.raftLog.lastIndex();
    node.setApplyLimit(last - 2);
    let rd = ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([last - 2]);
    node.advance(rd);
    expect(node.hasReady()).toBe(false);
    node.setApplyLimit(Number.POSITIVE_INFINITY);
    rd = ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([last - 1, last]);
    node.advance(rd, last - 1); // stopped before the last one
    rd = ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([last]);
    node.advance(rd);
    expect(node.raft.raftLog.applied).toBe(last);
  });
});
