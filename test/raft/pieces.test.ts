/**
 * Unit tests of the core's building blocks: quorum arithmetic, flow control, configuration
 * changes and their encoding, the log, the in-memory log storage, and config validation.
 */
import { describe, expect, it } from 'vitest';
import { applyConfChange, decodeConfChange, encodeConfChange } from '../../src/raft/confchange.ts';
import { resolveConfig } from '../../src/raft/config.ts';
import { CompactedError, InvalidConfChangeError, InvalidConfigError, UnavailableError } from '../../src/raft/errors.ts';
import { Inflights } from '../../src/raft/inflights.ts';
import { RaftLog } from '../../src/raft/log.ts';
import { jointCommitted, majorityCommitted, majorityVoteResult } from '../../src/raft/quorum.ts';
import { MemoryRaftStorage } from '../../src/raft/storage.ts';
import type { TrackerConfig } from '../../src/raft/tracker.ts';
import type { Entry } from '../../src/raft/types.ts';
import { createSeededRand } from '../../src/util/rand.ts';

const ent = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index]) });
const cfg = (voters: number[], extra: Partial<TrackerConfig> = {}): TrackerConfig => ({
  voters,
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
  ...extra,
});

describe('quorum', () => {
  it('commits what a majority holds', () => {
    const match = new Map([[1, 5], [2, 3], [3, 9]]);
    expect(majorityCommitted([1, 2, 3], (id) => match.get(id) ?? 0)).toBe(5);
    expect(majorityCommitted([1, 2, 3, 4], (id) => match.get(id) ?? 0)).toBe(3);
    expect(majorityCommitted([], () => 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('needs both halves of a joint configuration', () => {
    const match = new Map([[1, 9], [2, 9], [3, 1], [4, 1], [5, 1]]);
    const m = (id: number) => match.get(id) ?? 0;
    expect(jointCommitted([1, 2, 3], [3, 4, 5], m)).toBe(1);
    expect(jointCommitted([1, 2, 3], [1, 2, 4], m)).toBe(9);
  });

  it('counts votes as won, lost or pending', () => {
    expect(majorityVoteResult([1, 2, 3], new Map([[1, true], [2, true]]))).toBe('won');
    expect(majorityVoteResult([1, 2, 3], new Map([[1, true], [2, false]]))).toBe('pending');
    expect(majorityVoteResult([1, 2, 3], new Map([[1, false], [2, false]]))).toBe('lost');
  });
});

describe('inflights', () => {
  it('bounds the count and the bytes in flight', () => {
    const inf = new Inflights(3, 100);
    inf.add(1, 10);
    inf.add(2, 10);
    expect(inf.full()).toBe(false);
    inf.add(3, 10);
    expect(inf.full()).toBe(true);
    inf.freeLE(2);
    expect(inf.count).toBe(1);
    expect(inf.bytes).toBe(10);
    inf.add(4, 95);
    expect(inf.full()).toBe(true); // 105 bytes >= 100
    expect(() => inf.add(5, 1)).toThrow(/full/);
    inf.freeLE(4);
    expect(inf.count).toBe(0);
    expect(inf.bytes).toBe(0);
  });
});

describe('configuration changes', () => {
  it('round-trips through the entry encoding', () => {
    const cc = { transition: 'joint' as const, changes: [{ type: 'addNode' as const, nodeId: 300 }, { type: 'removeNode' as const, nodeId: 2 }], context: new Uint8Array([1, 2]) };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(() => decodeConfChange(new Uint8Array([1, 0, 5]))).toThrow(InvalidConfChangeError);
    expect(() => decodeConfChange(new Uint8Array([9]))).toThrow(InvalidConfChangeError);
  });

  it('applies one voter change directly and more through a joint configuration', () => {
    const simple = applyConfChange(cfg([1, 2, 3]), { transition: 'auto', changes: [{ type: 'addNode', nodeId: 4 }] });
    expect(simple.voters).toEqual([1, 2, 3, 4]);
    expect(simple.votersOutgoing).toEqual([]);
    const joint = applyConfChange(cfg([1, 2, 3]), {
      transition: 'auto',
      changes: [{ type: 'addNode', nodeId: 4 }, { type: 'removeNode', nodeId: 1 }],
    });
    expect(joint.voters).toEqual([2, 3, 4]);
    expect(joint.votersOutgoing).toEqual([1, 2, 3]);
    expect(joint.autoLeave).toBe(true);
    const left = applyConfChange(joint, { transition: 'auto', changes: [] });
    expect(left).toEqual(cfg([2, 3, 4]));
  });

  it('demotes an outgoing voter to learner only when the joint config is left', () => {
    const joint = applyConfChange(cfg([1, 2, 3]), { transition: 'jointExplicit', changes: [{ type: 'addLearner', nodeId: 3 }] });
    expect(joint.learnersNext).toEqual([3]);
    expect(joint.learners).toEqual([]);
    const left = applyConfChange(joint, { transition: 'auto', changes: [] });
    expect(left.learners).toEqual([3]);
    expect(left.voters).toEqual([1, 2]);
  });

  it('refuses invalid changes without changing anything', () => {
    const cur = cfg([1]);
    expect(() => applyConfChange(cur, { transition: 'auto', changes: [{ type: 'removeNode', nodeId: 1 }] })).toThrow(/every voter/);
    expect(() => applyConfChange(cur, { transition: 'auto', changes: [] })).toThrow(/not in a joint/);
    expect(() => applyConfChange(cur, { transition: 'auto', changes: [{ type: 'addNode', nodeId: 0 }] })).toThrow(/positive/);
    const joint = applyConfChange(cfg([1, 2]), { transition: 'joint', changes: [{ type: 'addNode', nodeId: 3 }] });
    expect(() => applyConfChange(joint, { transition: 'joint', changes: [{ type: 'addNode', nodeId: 4 }] })).toThrow(/already/);
    expect(cur).toEqual(cfg([1]));
  });
});

describe('MemoryRaftStorage', () => {
  it('appends, truncates conflicts, compacts and snapshots', () => {
    const s = MemoryRaftStorage.withVoters([1, 2, 3]);
    s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    s.append([ent(3, 2), ent(4, 2)]);
    expect(s.lastIndex()).toBe(4);
    expect(s.term(3)).toBe(2);
    s.createSnapshot(2, { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, new Uint8Array([7]));
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(1);
    expect(() => s.term(1)).toThrow(CompactedError);
    expect(() => s.entries(2, 4, 1e9)).toThrow(CompactedError);
    expect(() => s.entries(3, 6, 1e9)).toThrow(UnavailableError);
    expect(s.entries(3, 5, 1).map((e) => e.index)).toEqual([3]); // always at least one
    expect(s.initialState().confState.voters).toEqual([1, 2, 3]);
  });
});

describe('RaftLog', () => {
  const log = () => {
    const s = MemoryRaftStorage.withVoters([1]);
    s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
    return new RaftLog(s, 1e9);
  };

  it('does not truncate on a stale append that matches', () => {
    const l = log();
    l.append([ent(4, 2), ent(5, 2)]);
    // A reordered, older append covering 2..3 must leave 4..5 in place.
    expect(l.maybeAppend(1, 1, 0, [ent(2, 1), ent(3, 2)])).toBe(3);
    expect(l.lastIndex()).toBe(5);
  });

  it('truncates from the first conflict and caps the commit at the last verified index', () => {
    const l = log();
    l.append([ent(4, 2), ent(5, 2)]);
    expect(l.maybeAppend(2, 1, 10, [ent(3, 3)])).toBe(3);
    expect(l.lastIndex()).toBe(3);
    expect(l.term(3)).toBe(3);
    expect(l.committed).toBe(3); // leader says 10, but only 3 is verified
  });

  it('rejects an append whose previous entry does not match', () => {
    expect(log().maybeAppend(3, 1, 0, [ent(4, 1)])).toBe(-1);
  });

  it('finds the fast back-off point by term', () => {
    const l = log();
    expect(l.findConflictByTerm(3, 1)).toEqual({ index: 2, term: 1 });
    expect(l.findConflictByTerm(3, 5)).toEqual({ index: 3, term: 2 });
    expect(l.findConflictByTerm(3, 0)).toEqual({ index: 0, term: 0 });
  });

  it('commits only entries of the given term (Figure 8)', () => {
    const l = log();
    expect(l.maybeCommit(2, 2)).toBe(false);
    expect(l.maybeCommit(3, 2)).toBe(true);
    expect(l.committed).toBe(3);
  });
});

describe('config validation', () => {
  const base = { id: 1, storage: MemoryRaftStorage.withVoters([1]), rand: createSeededRand(1) };
  it('fills in defaults', () => {
    const c = resolveConfig(base);
    expect(c.electionTick).toBe(10);
    expect(c.heartbeatTick).toBe(1);
    expect(c.readOnlyOption).toBe('safe');
  });
  it.each([
    [{ id: 0 }, /id must be a positive integer/],
    [{ electionTick: 2, heartbeatTick: 2 }, /electionTick \(2\) must be greater/],
    [{ maxInflightMsgs: 0 }, /maxInflightMsgs/],
    [{ readOnlyOption: 'leaseBased' as const }, /requires checkQuorum/],
    [{ maxInflightBytes: 10, maxSizePerMsg: 100 }, /maxInflightBytes/],
    [{ leaseDriftTicks: 10, checkQuorum: true }, /leaseDriftTicks/],
  ])('refuses %o', (patch, msg) => {
    expect(() => resolveConfig({ ...base, ...patch })).toThrow(InvalidConfigError);
    expect(() => resolveConfig({ ...base, ...patch })).toThrow(msg);
  });
});
