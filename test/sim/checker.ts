/**
 * The safety invariants of Raft, checked incrementally as the simulation runs.
 *
 * Every replica's log is mirrored by a {@link ShadowLog} of hash chains: the chain at index i
 * covers every entry up to i, so two logs that hold the same (index, term) with different chains
 * break log matching. The mirror is fed from each Ready at the moment `ready()` returns it, which
 * is when the core's in-memory log is exactly "stable + those entries".
 */
import type { ConfState, Entry, SimCore, Snapshot } from './core.ts';
import { fnvBytes, fnvStr } from './hash.ts';

/** A broken invariant: the run stops and reports it with its seed. */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

export function violation(msg: string): never {
  throw new InvariantViolation(msg);
}

/** One replica's log as hash chains, plus the configuration its conf-change entries establish. */
export interface ShadowLog {
  /** Index of chains[0]: the snapshot or compaction point (a dummy that only carries its term). */
  base: number;
  terms: number[];
  chains: number[];
  /** The membership at `confBaseIndex` (the latest snapshot), and every conf entry after it. */
  confBaseIndex: number;
  confBase: ConfState;
  confStack: Array<{ index: number; cs: ConfState }>;
}

/** What all replicas have seen, for cross-replica invariants. */
export interface GlobalState {
  /** `${index}:${term}` → chain: log matching. */
  chains: Map<string, number>;
  /** term → the replica that led it: at most one leader per term. */
  leaderOfTerm: Map<number, number>;
  /** index → chain of every index some replica knew committed. */
  committedChain: Map<number, number>;
  maxCommitted: number;
  /** term in which an index was first known committed → highest such index: leader completeness. */
  committedUpToByTerm: Map<number, number>;
  /** index → state-machine digest after applying it: identical applied prefixes. */
  appliedDigest: Map<number, number>;
  maxApplied: number;
}

/** The state before anything happened; `bootstrapIndex` > 0 when the group starts from a snapshot at that index (and term). */
export function newGlobalState(bootstrapIndex = 0): GlobalState {
  const b = bootstrapIndex;
  return {
    chains: new Map([
      ['0:0', 0],
      [`${b}:${b}`, 0],
    ]),
    leaderOfTerm: new Map(),
    committedChain: new Map([[b, 0]]),
    maxCommitted: b,
    committedUpToByTerm: new Map(),
    appliedDigest: new Map([[b, 0]]),
    maxApplied: b,
  };
}

export function chainOf(prev: number, e: Entry): number {
  return fnvBytes(fnvStr(prev, `|${e.term}|${e.type}|`), e.data);
}

function shadowAt(s: ShadowLog, i: number): number | undefined {
  const k = i - s.base;
  return k >= 0 && k < s.chains.length ? s.chains[k] : undefined;
}

export function shadowLast(s: ShadowLog): number {
  return s.base + s.chains.length - 1;
}

function knownChain(g: GlobalState, index: number, term: number, who: string): number {
  const c = g.chains.get(`${index}:${term}`);
  if (c === undefined) violation(`${who}: log starts at (${index}, term ${term}), an entry no replica ever held`);
  return c;
}

/** Appends entries to a mirror, truncating what they overwrite, and checks log matching. */
function shadowAppend(g: GlobalState, s: ShadowLog, ents: readonly Entry[], who: string, core: SimCore): void {
  if (ents.length === 0) return;
  const first = ents[0].index;
  if (first <= s.base || first > shadowLast(s) + 1) {
    violation(`${who}: appended entries from ${first} to a log covering [${s.base + 1}, ${shadowLast(s)}]`);
  }
  s.terms.length = first - s.base;
  s.chains.length = first - s.base;
  while (s.confStack.length > 0 && s.confStack[s.confStack.length - 1].index >= first) s.confStack.pop();
  let prev = s.chains[s.chains.length - 1];
  for (let k = 0; k < ents.length; k++) {
    const e = ents[k];
    if (e.index !== first + k) violation(`${who}: entry ${e.index} out of sequence (expected ${first + k})`);
    const prevTerm = s.terms[s.terms.length - 1];
    if (e.term < prevTerm) violation(`${who}: entry ${e.index} has term ${e.term} below its predecessor's ${prevTerm}`);
    const chain = chainOf(prev, e);
    const key = `${e.index}:${e.term}`;
    const seen = g.chains.get(key);
    if (seen === undefined) g.chains.set(key, chain);
    else if (seen !== chain) {
      violation(`log matching: ${who} holds entry (${e.index}, term ${e.term}) with a different prefix than another replica`);
    }
    s.terms.push(e.term);
    s.chains.push(chain);
    if (e.type === 'confChange') {
      const cur = s.confStack.length > 0 ? s.confStack[s.confStack.length - 1].cs : s.confBase;
      s.confStack.push({ index: e.index, cs: core.nextConfState(cur, e.data) });
    }
    prev = chain;
  }
}

/** A mirror of a log that starts at a snapshot. */
function shadowFromSnapshot(g: GlobalState, snap: Snapshot, who: string): ShadowLog {
  const { index, term, confState } = snap.metadata;
  return {
    base: index,
    terms: [term],
    chains: [knownChain(g, index, term, who)],
    confBaseIndex: index,
    confBase: confState,
    confStack: [],
  };
}

/** Builds the mirror of what a restarted replica finds in its storage. */
export function shadowFromStorage(
  g: GlobalState,
  core: SimCore,
  storage: { firstIndex(): number; lastIndex(): number; term(i: number): number; entries(lo: number, hi: number, max: number): Entry[]; snapshot(): Snapshot },
  who: string,
): ShadowLog {
  const snap = storage.snapshot();
  const base = storage.firstIndex() - 1;
  const baseTerm = storage.term(base);
  const s: ShadowLog = {
    base,
    terms: [baseTerm],
    chains: [knownChain(g, base, baseTerm, who)],
    confBaseIndex: snap.metadata.index,
    confBase: snap.metadata.confState,
    confStack: [],
  };
  const last = storage.lastIndex();
  if (last > base) {
    const ents = storage.entries(base + 1, last + 1, Number.MAX_SAFE_INTEGER);
    // Entries up to the snapshot are already folded into its configuration.
    const confFrom = snap.metadata.index + 1;
    shadowAppend(g, s, ents, who, core);
    s.confStack = s.confStack.filter((c) => c.index >= confFrom);
  }
  return s;
}

/** Mirrors what a Ready hands out (a snapshot to install, entries to append). */
export function shadowReady(
  g: GlobalState,
  core: SimCore,
  s: ShadowLog,
  snap: Snapshot | null,
  ents: readonly Entry[],
  who: string,
): ShadowLog {
  let out = s;
  if (snap) out = shadowFromSnapshot(g, snap, who);
  shadowAppend(g, out, ents, who, core);
  return out;
}

/** The configuration the mirror says is in effect: the latest conf entry in the log (changes take effect when appended). */
export function shadowConf(s: ShadowLog): ConfState {
  return s.confStack.length > 0 ? s.confStack[s.confStack.length - 1].cs : s.confBase;
}

function sortedKey(ids: readonly number[]): string {
  return [...ids].sort((a, b) => a - b).join(',');
}

export function confKey(cs: ConfState): string {
  return `v=${sortedKey(cs.voters)} o=${sortedKey(cs.votersOutgoing)} l=${sortedKey(cs.learners)} n=${sortedKey(cs.learnersNext)} a=${cs.autoLeave}`;
}

/** Records that `who` (in `term`) knows everything up to `commit` committed; checks nothing committed ever changes. */
export function recordCommit(g: GlobalState, s: ShadowLog, fromExclusive: number, commit: number, term: number, who: string): void {
  if (commit > shadowLast(s)) violation(`${who}: commit ${commit} beyond its last index ${shadowLast(s)}`);
  for (let i = Math.max(fromExclusive + 1, s.base); i <= commit; i++) {
    const chain = shadowAt(s, i)!;
    const seen = g.committedChain.get(i);
    if (seen === undefined) {
      g.committedChain.set(i, chain);
      if (i > g.maxCommitted) g.maxCommitted = i;
      const upTo = g.committedUpToByTerm.get(term) ?? 0;
      if (i > upTo) g.committedUpToByTerm.set(term, i);
    } else if (seen !== chain) {
      violation(`committed entry changed: ${who} committed a different entry at index ${i} than was committed before`);
    }
  }
}

/** At most one leader per term. */
export function checkOneLeader(g: GlobalState, term: number, id: number): void {
  const other = g.leaderOfTerm.get(term);
  if (other === undefined) g.leaderOfTerm.set(term, id);
  else if (other !== id) violation(`two leaders in term ${term}: ${other} and ${id}`);
}

/** Leader completeness: a leader of term T holds every entry committed in a term below T. */
export function checkLeaderComplete(g: GlobalState, s: ShadowLog, term: number, who: string): void {
  let idx = 0;
  for (const [t, upTo] of g.committedUpToByTerm) if (t < term && upTo > idx) idx = upTo;
  if (idx <= s.base) return; // covered by its snapshot, whose own entry was checked against the others
  const mine = shadowAt(s, idx);
  if (mine === undefined) violation(`leader completeness: leader ${who} of term ${term} lacks committed index ${idx} (its log ends at ${shadowLast(s)})`);
  if (mine !== g.committedChain.get(idx)) {
    violation(`leader completeness: leader ${who} of term ${term} holds a different entry at committed index ${idx}`);
  }
}

/** State machine safety: whatever any replica applied at `index` (with the digest of the whole prefix) is the same everywhere. */
export function recordApplied(g: GlobalState, index: number, digest: number, who: string): boolean {
  const seen = g.appliedDigest.get(index);
  if (seen === undefined) {
    g.appliedDigest.set(index, digest);
    if (index > g.maxApplied) g.maxApplied = index;
    return true;
  }
  if (seen !== digest) violation(`state machine safety: ${who} applied a different prefix at index ${index}`);
  return false;
}
