/**
 * One simulated replica and its driver: a RawNode over an in-memory log storage, the durable
 * image of that storage, and a state machine. The driver follows the Ready contract — persist,
 * then send, then apply, then advance — and the simulator may cut it short at any point:
 *
 * - a Ready's write may stay in flight across scheduler steps (an asynchronous disk) while the
 *   node keeps being stepped and ticked; a crash before it completes loses the whole Ready;
 * - writes are visible at once but become durable only on a sync (`mustSync`, or a snapshot);
 *   a crash loses every write since the last sync.
 *
 * A restart builds a new RawNode over what was durable; the state machine is restored from the
 * durable snapshot and the committed entries after it are applied again.
 */
import type { GlobalState, ShadowLog } from './checker.ts';
import {
  checkLeaderComplete,
  confKey,
  recordApplied,
  recordCommit,
  shadowConf,
  shadowFromStorage,
  shadowReady,
  violation,
} from './checker.ts';
import type { ConfState, Entry, MemoryRaftStorage, Message, RawNode, Ready, SimCore, Snapshot } from './core.ts';
import { fnvBytes, fnvStr } from './hash.ts';
import type { Network, SimRand } from './network.ts';
import { transmit } from './network.ts';
import type { SimOptions } from './options.ts';

/** The application's state: a digest of every entry applied, and the membership at `index`. */
export interface StateMachine {
  index: number;
  digest: number;
  confState: ConfState;
}

type StorageOp = (s: MemoryRaftStorage) => void;

export type ReplicaStatus = 'up' | 'down' | 'decommissioned';

export interface Replica {
  id: number;
  status: ReplicaStatus;
  node: RawNode | null;
  /** What the node reads: every write, synced or not. */
  live: MemoryRaftStorage;
  /** What survives a crash. */
  durable: MemoryRaftStorage;
  /** Writes applied to `live` but not yet to `durable`, in order. */
  unsynced: StorageOp[];
  /** A Ready handed out whose write has not completed yet. */
  pending: Ready | null;
  sm: StateMachine;
  shadow: ShadowLog;
  incarnation: number;
  /** Commit index recorded in the global state from this incarnation's Readies. */
  recordedCommit: number;
  /** For "never decreases" within an incarnation. */
  lastCommit: number;
  lastApplied: number;
  /** The last durable hard state, for "never decreases" across restarts and "one vote per term". */
  durableTerm: number;
  durableVote: number;
  durableCommit: number;
  /** The last tick this replica's clock missed (clock drift). */
  lastMissedTick: number;
}

export interface ReadRequest {
  id: number;
  /** Every index known committed anywhere when the read was issued: the read must see it. */
  minIndex: number;
  issuedTick: number;
}

/** The whole simulation's state. */
export interface Sim {
  core: SimCore;
  opts: SimOptions;
  rand: SimRand;
  now: number;
  steps: number;
  /** FNV-1a of every event, in order. */
  hash: number;
  g: GlobalState;
  net: Network;
  replicas: Map<number, Replica>;
  ids: number[];
  /** Membership at the globally applied frontier. */
  globalConf: ConfState;
  /** Every id that was ever a member (of an applied configuration). */
  everMember: Set<number>;
  /** Ids whose removal was proposed: never added again. */
  retired: Set<number>;
  reads: Map<string, ReadRequest>;
  seq: number;
  /** Payload of the first marker applied after the heal, if any. */
  markerApplied: string | null;
  /** Its index. */
  markerIndex: number;
  trace: ((line: string) => void) | null;
  /** When each replica was first seen leading its current term (check-quorum). */
  leaderSince: Map<number, { term: number; incarnation: number; tick: number }>;
  /** The last tick each replica received an append or heartbeat response. */
  lastHeard: Map<number, number>;
  /** A scripted scenario's hook, run after every step (after the Readies were handled). */
  onStep: (() => void) | null;
  stats: { delivered: number; dropped: number; crashes: number; proposals: number; readsServed: number; snapshots: number; leaders: number; confChanges: number };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function event(sim: Sim, s: string): void {
  sim.hash = fnvStr(sim.hash, s);
  sim.hash = fnvStr(sim.hash, '\n');
  if (sim.trace) sim.trace(`t=${sim.now} ${s}`);
}

export function describeMessage(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} t${m.term} lt${m.logTerm} i${m.index} c${m.commit}`;
  if (m.entries.length > 0) s += ` ents=${m.entries[0].index}..${m.entries[m.entries.length - 1].index}`;
  if (m.reject) s += ` reject hint=${m.rejectHint}`;
  if (m.snapshot) s += ` snap=${m.snapshot.metadata.index}/${m.snapshot.metadata.term}`;
  if (m.context.length > 0) s += ` ctx=${dec.decode(m.context)}`;
  return s;
}

function encodeSm(sm: StateMachine): Uint8Array {
  return enc.encode(`${sm.index}|${sm.digest}`);
}

function smFromSnapshot(sim: Sim, snap: Snapshot, who: string): StateMachine {
  const { index, confState } = snap.metadata;
  if (index === 0) return { index: 0, digest: 0, confState };
  const [i, d] = dec.decode(snap.data).split('|').map(Number);
  if (i !== index) violation(`${who}: snapshot at ${index} carries a state machine at ${i}`);
  const seen = sim.g.appliedDigest.get(index);
  if (seen !== d) violation(`state machine safety: ${who} got a snapshot at ${index} whose state differs from what was applied there`);
  return { index, digest: d, confState };
}

function cloneStorage(core: SimCore, src: MemoryRaftStorage): MemoryRaftStorage {
  const s = new core.MemoryRaftStorage();
  const snap = src.snapshot();
  const base = src.firstIndex() - 1;
  const last = src.lastIndex();
  if (base === snap.metadata.index) s.applySnapshot(snap);
  else s.applySnapshot({ metadata: { index: base, term: src.term(base), confState: snap.metadata.confState }, data: new Uint8Array(0) });
  if (last > base) s.append(src.entries(base + 1, last + 1, Number.MAX_SAFE_INTEGER));
  if (base !== snap.metadata.index) s.createSnapshot(snap.metadata.index, snap.metadata.confState, snap.data);
  s.setHardState(src.hardState);
  return s;
}

/**
 * A replica's first durable state. Classic: every replica, spares too, starts with the group's
 * initial voters and an empty log. With `bootstrapIndex` (as a store creates regions): the initial
 * voters start from a snapshot at that index and term, and spares start empty, knowing no
 * configuration, so that they must be sent the snapshot when they join.
 */
function initialStorage(sim: Sim, id: number, initialVoters: number[]): MemoryRaftStorage {
  const b = sim.opts.bootstrapIndex;
  if (b === 0) return sim.core.MemoryRaftStorage.withVoters(initialVoters);
  const s = new sim.core.MemoryRaftStorage();
  if (!initialVoters.includes(id)) return s;
  const confState = { voters: [...initialVoters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  s.applySnapshot({ metadata: { index: b, term: b, confState }, data: encodeSm({ index: b, digest: 0, confState }) });
  s.setHardState({ term: b, vote: 0, commit: b });
  return s;
}

export function newReplica(sim: Sim, id: number, initialVoters: number[]): Replica {
  const durable = initialStorage(sim, id, initialVoters);
  const hs = durable.hardState;
  const rep: Replica = {
    id,
    status: 'down',
    node: null,
    live: cloneStorage(sim.core, durable),
    durable,
    unsynced: [],
    pending: null,
    sm: { index: 0, digest: 0, confState: durable.snapshot().metadata.confState },
    shadow: shadowFromStorage(sim.g, sim.core, durable, `node ${id}`),
    incarnation: 0,
    recordedCommit: hs.commit,
    lastCommit: 0,
    lastApplied: 0,
    durableTerm: hs.term,
    durableVote: hs.vote,
    durableCommit: hs.commit,
    lastMissedTick: Number.NEGATIVE_INFINITY,
  };
  return rep;
}

/** Starts (or restarts) a replica over its durable state. */
export function startReplica(sim: Sim, rep: Replica): void {
  const o = sim.opts;
  const who = `node ${rep.id}`;
  rep.live = cloneStorage(sim.core, rep.durable);
  rep.unsynced = [];
  rep.pending = null;
  const snap = rep.live.snapshot();
  rep.sm = smFromSnapshot(sim, snap, who);
  rep.shadow = shadowFromStorage(sim.g, sim.core, rep.live, who);
  rep.node = new sim.core.RawNode({
    id: rep.id,
    storage: rep.live,
    rand: sim.core.createSeededRand(sim.rand.int(0x7fffffff)),
    electionTick: o.electionTick,
    heartbeatTick: o.heartbeatTick,
    preVote: o.preVote,
    checkQuorum: o.checkQuorum,
    maxSizePerMsg: o.maxSizePerMsg,
    maxInflightMsgs: o.maxInflightMsgs,
    maxCommittedSizePerReady: o.maxCommittedSizePerReady,
    maxInflightBytes: o.maxInflightBytes,
    maxUncommittedEntriesSize: o.maxUncommittedEntriesSize,
    readOnlyOption: o.leaseBasedReadOnly ? 'leaseBased' : 'safe',
    disableProposalForwarding: o.disableProposalForwarding,
    applied: snap.metadata.index,
    // A bootstrapped replica starts in term `bootstrapIndex`; only a real restart is one.
    ...(o.bootstrapIndex > 0 ? { restarted: rep.incarnation > 0 } : {}),
  });
  rep.status = 'up';
  rep.incarnation++;
  const hs = rep.live.hardState;
  // The committed prefix found on disk must be the one everybody committed.
  recordCommit(sim.g, rep.shadow, rep.shadow.base - 1, hs.commit, hs.term, who);
  rep.recordedCommit = hs.commit;
  rep.lastCommit = rep.node.raft.raftLog.committed;
  rep.lastApplied = rep.node.raft.raftLog.applied;
  if (rep.lastCommit !== hs.commit) violation(`${who} restarted with commit ${rep.lastCommit}, durable commit is ${hs.commit}`);
  event(sim, `start ${rep.id} inc=${rep.incarnation} term=${hs.term} commit=${hs.commit} last=${rep.live.lastIndex()} snap=${snap.metadata.index}`);
}

/** Stops a replica: its pending Ready and unsynced writes are lost. */
export function crashReplica(sim: Sim, rep: Replica, status: ReplicaStatus = 'down'): void {
  event(sim, `crash ${rep.id} lost=${rep.unsynced.length}${rep.pending ? '+ready' : ''}${status === 'decommissioned' ? ' (decommissioned)' : ''}`);
  rep.node = null;
  rep.pending = null;
  rep.unsynced = [];
  rep.status = status;
  sim.stats.crashes++;
}

/** Makes every write so far durable, checking the durable hard state only moves forward. */
function sync(rep: Replica): void {
  for (const op of rep.unsynced) op(rep.durable);
  rep.unsynced = [];
  const hs = rep.durable.hardState;
  const who = `node ${rep.id}`;
  if (hs.term < rep.durableTerm) violation(`${who}: durable term went back from ${rep.durableTerm} to ${hs.term}`);
  if (hs.term === rep.durableTerm && rep.durableVote !== 0 && hs.vote !== rep.durableVote) {
    violation(`${who} changed its durable vote in term ${hs.term} from ${rep.durableVote} to ${hs.vote} (a vote once cast in a term is final)`);
  }
  if (hs.commit < rep.durableCommit) violation(`${who}: durable commit went back from ${rep.durableCommit} to ${hs.commit}`);
  rep.durableTerm = hs.term;
  rep.durableVote = hs.vote;
  rep.durableCommit = hs.commit;
}

function write(rep: Replica, op: StorageOp): void {
  op(rep.live);
  rep.unsynced.push(op);
}

/** Takes a Ready from the node: mirrors its log, checks it, and writes it now or later. */
function takeReady(sim: Sim, rep: Replica): void {
  const node = rep.node!;
  const rd = node.ready();
  const who = `node ${rep.id}`;
  rep.shadow = shadowReady(sim.g, sim.core, rep.shadow, rd.snapshot, rd.entries, who);
  if (rd.hardState) {
    const hs = rd.hardState;
    if (hs.commit < rep.recordedCommit) violation(`${who}: commit went back from ${rep.recordedCommit} to ${hs.commit}`);
    recordCommit(sim.g, rep.shadow, rep.recordedCommit, hs.commit, hs.term, who);
    rep.recordedCommit = hs.commit;
  }
  const raft = node.raft;
  if (raft.state === 'leader') checkLeaderComplete(sim.g, rep.shadow, raft.term, who);
  const want = confKey(shadowConf(rep.shadow));
  const have = confKey(node.confState());
  if (want !== have) violation(`${who}: configuration in effect is ${have}, but its log says ${want} (a change takes effect when appended)`);
  if (rd.softState) {
    event(sim, `role ${rep.id} ${rd.softState.role} lead=${rd.softState.lead} term=${raft.term}`);
    if (rd.softState.role === 'leader') sim.stats.leaders++;
  }
  if (sim.rand.next() < sim.opts.asyncWriteP) rep.pending = rd;
  else completeReady(sim, rep, rd);
}

/** Persists, sends, applies and advances one Ready. */
export function completeReady(sim: Sim, rep: Replica, rd: Ready): void {
  rep.pending = null;
  if (rd.snapshot) {
    const snap = rd.snapshot;
    write(rep, (s) => s.applySnapshot(snap));
  }
  if (rd.entries.length > 0) {
    const ents = rd.entries;
    write(rep, (s) => s.append(ents));
  }
  if (rd.hardState) {
    const hs = rd.hardState;
    write(rep, (s) => s.setHardState(hs));
  }
  if (rd.mustSync) sync(rep);
  for (const m of rd.messages) sendMessage(sim, m);
  if (rd.snapshot) {
    const sm = smFromSnapshot(sim, rd.snapshot, `node ${rep.id}`);
    if (sm.index <= rep.sm.index) violation(`node ${rep.id} installed snapshot ${sm.index} at applied ${rep.sm.index}`);
    rep.sm = sm;
    sim.stats.snapshots++;
  }
  for (const e of rd.committedEntries) {
    applyEntry(sim, rep, e);
    // Applying its own removal shuts the replica down.
    if (rep.status !== 'up') return;
  }
  for (const rs of rd.readStates) readAnswered(sim, rep, dec.decode(rs.requestCtx), rs.index);
  maybeCompact(sim, rep);
  rep.node!.advance(rd);
}

/** Hands every Ready the replicas have (bounded: a Ready loop that never settles is a bug). */
export function drainReadies(sim: Sim): void {
  for (const rep of sim.replicas.values()) {
    let n = 0;
    while (rep.status === 'up' && rep.pending === null && rep.node!.hasReady()) {
      if (++n > 1000) violation(`node ${rep.id}: hasReady() still true after 1000 Readies`);
      takeReady(sim, rep);
    }
  }
}

export function sendMessage(sim: Sim, m: Message): void {
  const copies = sim.replicas.has(m.to) ? transmit(sim.net, sim.rand, sim.now, m) : 0;
  if (copies === 0) {
    sim.stats.dropped++;
    event(sim, `lost ${describeMessage(m)}`);
    if (m.type === 'MsgSnap') reportToSender(sim, m, 'snapshot-failed');
  }
}

/** What a transport tells the sender about a message that did not get through. */
export function reportToSender(sim: Sim, m: Message, what: 'snapshot-failed' | 'snapshot-ok' | 'unreachable'): void {
  const sender = sim.replicas.get(m.from);
  if (sender?.status !== 'up') return;
  if (what === 'unreachable') sender.node!.reportUnreachable(m.to);
  else sender.node!.reportSnapshot(m.to, what === 'snapshot-ok');
}

function applyEntry(sim: Sim, rep: Replica, e: Entry): void {
  const who = `node ${rep.id}`;
  if (e.index !== rep.sm.index + 1) violation(`${who} applied index ${e.index} right after ${rep.sm.index}`);
  const digest = fnvBytes(fnvStr(rep.sm.digest, `|${e.term}|${e.type}|`), e.data);
  rep.sm.index = e.index;
  rep.sm.digest = digest;
  if (e.type === 'confChange') rep.sm.confState = sim.core.nextConfState(rep.sm.confState, e.data);
  if (recordApplied(sim.g, e.index, digest, who)) firstApplied(sim, e);
}

/** The first time any replica applies an index: membership bookkeeping and the liveness marker. */
function firstApplied(sim: Sim, e: Entry): void {
  if (e.type === 'confChange') {
    sim.globalConf = sim.core.nextConfState(sim.globalConf, e.data);
    const cs = sim.globalConf;
    const members = new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
    for (const id of members) sim.everMember.add(id);
    event(sim, `config@${e.index} voters=${cs.voters.join(',')} out=${cs.votersOutgoing.join(',')} learners=${cs.learners.join(',')}`);
    for (const id of sim.everMember) {
      const rep = sim.replicas.get(id)!;
      // The application shuts down a replica once its removal is committed (ids are never reused).
      if (!members.has(id) && rep.status !== 'decommissioned') {
        if (rep.status === 'up') crashReplica(sim, rep, 'decommissioned');
        else rep.status = 'decommissioned';
      }
    }
    return;
  }
  if (e.data.length > 0) {
    const p = dec.decode(e.data);
    if (p.startsWith('marker') && sim.markerApplied === null) {
      sim.markerApplied = p;
      sim.markerIndex = e.index;
    }
  }
}

function readAnswered(sim: Sim, rep: Replica, ctx: string, index: number): void {
  const req = sim.reads.get(ctx);
  if (!req) violation(`node ${rep.id} got a read state for ${ctx}, which nobody requested`);
  if (req.id !== rep.id) violation(`node ${rep.id} got the read state of ${ctx}, requested on node ${req.id}`);
  if (index < req.minIndex) {
    violation(`linearizable read: ${ctx} issued at tick ${req.issuedTick} on node ${rep.id} got read index ${index}, but ${req.minIndex} was already committed`);
  }
  sim.stats.readsServed++;
  event(sim, `read ${ctx} on ${rep.id} index=${index}`);
}

/** Takes a snapshot of the state machine every `snapshotEvery` applied entries and compacts the log. */
function maybeCompact(sim: Sim, rep: Replica): void {
  const every = sim.opts.snapshotEvery;
  if (every === 0) return;
  const idx = rep.sm.index;
  if (idx - rep.live.snapshot().metadata.index < every) return;
  // The snapshot write is ordered after every earlier write, so it syncs them too.
  sync(rep);
  const data = encodeSm(rep.sm);
  const cs = rep.sm.confState;
  // Sometimes keep a few entries before the snapshot index, as a real store may.
  const compactAt = Math.max(idx - sim.rand.int(3), 0);
  for (const s of [rep.live, rep.durable]) {
    s.createSnapshot(idx, cs, data);
    s.compact(compactAt);
  }
  event(sim, `snapshot ${rep.id} at=${idx} compact=${compactAt}`);
}
