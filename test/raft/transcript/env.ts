/**
 * The world a transcript runs in, after etcd-io/raft's `rafttest.InteractionEnv`: a set of
 * RawNodes with their storage, a network of queued messages, partitions, and a tiny application
 * (a list of applied values and the membership) per node. It drives every node exactly as the
 * design's driver contract says: persist, then send, then apply, then advance.
 *
 * Everything it prints goes through {@link InteractionEnv.emit}; role changes are reported by
 * wrapping the core's `become*` methods, so the trace shows every transition even when several
 * happen within one step.
 */
import type { ConfState, MemoryRaftStorage, Message, RaftConfig, RawNode, Snapshot, TranscriptCore } from './core.ts';
import { describeMessage, describeReady } from './format.ts';

/** An error in how a transcript drives the environment (as opposed to an error of the core). */
export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}

/** The per-node Raft options a transcript can set; kept so that `restart` uses the same ones. */
export type NodeOptions = Omit<RaftConfig, 'id' | 'storage' | 'rand' | 'logger' | 'applied'>;

/** The application state machine of a node: the values applied and the membership at each index. */
export interface AppState {
  applied: number;
  values: Array<[number, string]>;
  confState: ConfState;
  /** The membership as of each applied conf-change index (for snapshots taken at an older index). */
  confHistory: Array<{ index: number; confState: ConfState }>;
}

export interface EnvNode {
  id: number;
  /** null while crashed. */
  node: RawNode | null;
  storage: MemoryRaftStorage;
  options: NodeOptions;
  incarnation: number;
  app: AppState;
}

/** A predicate over queued messages. */
export interface MsgFilter {
  to?: readonly number[];
  from?: readonly number[];
  types?: readonly string[];
  /** At most this many matches (the oldest). */
  count?: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** The snapshot payload: the applied values, so a snapshot carries the state machine. */
export function encodeAppData(values: Array<[number, string]>): Uint8Array {
  return textEncoder.encode(JSON.stringify(values));
}

function decodeAppData(data: Uint8Array): Array<[number, string]> {
  if (data.length === 0) return [];
  return JSON.parse(textDecoder.decode(data)) as Array<[number, string]>;
}

function copyConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

const ROLE_HOOKS: Array<[string, string]> = [
  ['becomeFollower', 'follower'],
  ['becomePreCandidate', 'pre-candidate'],
  ['becomeCandidate', 'candidate'],
  ['becomeLeader', 'leader'],
];

/** Upper bound on stabilize rounds, so that a livelocked (or mutated) core fails instead of hanging. */
const STABILIZE_ROUNDS_MAX = 500;

export class InteractionEnv {
  readonly core: TranscriptCore;
  readonly nodes = new Map<number, EnvNode>();
  /** Messages sent and not yet delivered or dropped, oldest first. */
  msgs: Message[] = [];
  /** Cut links as "from->to". */
  readonly cut = new Set<string>();
  private output: string[] = [];
  private indent = '';

  constructor(core: TranscriptCore) {
    this.core = core;
  }

  /** Appends a line to the current command's output. */
  emit(line: string): void {
    this.output.push(this.indent + line);
  }

  /** Returns and clears the output collected so far. */
  takeOutput(): string[] {
    const out = this.output;
    this.output = [];
    this.indent = '';
    return out;
  }

  withIndent(fn: () => void): void {
    const prev = this.indent;
    this.indent = prev + '  ';
    try {
      fn();
    } finally {
      this.indent = prev;
    }
  }

  // --- nodes ---------------------------------------------------------------------------------

  /** Creates a node around `storage` (fresh, or what survived a crash) and hooks its role changes. */
  startNode(id: number, storage: MemoryRaftStorage, options: NodeOptions, incarnation: number): EnvNode {
    const applied = storage.snapshot().metadata.index;
    const logger = {
      debug() {},
      info: (msg: string, f?: Record<string, unknown>) => this.emit(`INFO ${msg}${describeFields(f)}`),
      warn: (msg: string, f?: Record<string, unknown>) => this.emit(`WARN ${msg}${describeFields(f)}`),
      error: (msg: string, f?: Record<string, unknown>) => this.emit(`ERROR ${msg}${describeFields(f)}`),
    };
    const node = new this.core.RawNode({
      ...options,
      id,
      storage,
      // One stream per node and incarnation: the same transcript draws the same timeouts everywhere.
      rand: this.core.createSeededRand(id + 1000 * incarnation),
      logger,
      applied,
    });
    this.hookRoles(id, node);
    const snap = storage.snapshot();
    const app: AppState = {
      applied,
      values: decodeAppData(snap.data),
      confState: copyConfState(snap.metadata.confState),
      confHistory: [{ index: applied, confState: copyConfState(snap.metadata.confState) }],
    };
    const n: EnvNode = { id, node, storage, options, incarnation, app };
    this.nodes.set(id, n);
    return n;
  }

  private hookRoles(id: number, node: RawNode): void {
    const raft = node.raft as unknown as Record<string, unknown>;
    for (const [method, role] of ROLE_HOOKS) {
      const orig = raft[method];
      if (typeof orig !== 'function') continue;
      raft[method] = (...args: unknown[]) => {
        const res = (orig as (...a: unknown[]) => unknown).apply(raft, args);
        this.emit(`${id} became ${role} at term ${node.raft.term}`);
        return res;
      };
    }
  }

  get(id: number): EnvNode {
    const n = this.nodes.get(id);
    if (!n) throw new EnvError(`no node ${id}`);
    return n;
  }

  /** The running RawNode of `id`; throws if it is crashed. */
  up(id: number): RawNode {
    const n = this.get(id);
    if (!n.node) throw new EnvError(`node ${id} is down`);
    return n.node;
  }

  ids(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  crash(id: number): void {
    this.up(id);
    // Whatever was not persisted through a Ready is gone; the storage is what was made durable.
    this.get(id).node = null;
  }

  restart(id: number): EnvNode {
    const n = this.get(id);
    if (n.node) throw new EnvError(`node ${id} is running; crash it first`);
    return this.startNode(id, n.storage, n.options, n.incarnation + 1);
  }

  // --- ready ---------------------------------------------------------------------------------

  /** Handles one Ready of `id` in the driver's order. Returns false if there was none. */
  processReady(id: number): boolean {
    const n = this.get(id);
    const node = this.up(id);
    if (!node.hasReady()) return false;
    const rd = node.ready();
    for (const line of describeReady(this.core, rd)) this.emit(line);
    // 1. Persist.
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    // 2. Send.
    for (const m of rd.messages) this.msgs.push(m);
    // 3. Apply.
    if (rd.snapshot) this.restoreApp(n, rd.snapshot);
    for (const e of rd.committedEntries) {
      if (e.index <= n.app.applied) continue;
      n.app.applied = e.index;
      if (e.type === 'confChange') {
        n.app.confState = this.core.nextConfState(n.app.confState, e.data);
        n.app.confHistory.push({ index: e.index, confState: copyConfState(n.app.confState) });
      } else if (e.data.length > 0) {
        n.app.values.push([e.index, textDecoder.decode(e.data)]);
      }
    }
    // 4. Advance.
    node.advance(rd);
    return true;
  }

  private restoreApp(n: EnvNode, s: Snapshot): void {
    n.app.applied = s.metadata.index;
    n.app.values = decodeAppData(s.data);
    n.app.confState = copyConfState(s.metadata.confState);
    n.app.confHistory = [{ index: s.metadata.index, confState: copyConfState(s.metadata.confState) }];
  }

  /** Takes a snapshot of `id`'s state machine at applied index `index` and compacts the log up to it. */
  compact(id: number, index: number): void {
    const n = this.get(id);
    if (index > n.app.applied) throw new EnvError(`cannot snapshot at ${index}: node ${id} applied only ${n.app.applied}`);
    let cs = n.app.confHistory[0].confState;
    for (const h of n.app.confHistory) if (h.index <= index) cs = h.confState;
    const values = n.app.values.filter(([i]) => i <= index);
    n.storage.createSnapshot(index, copyConfState(cs), encodeAppData(values));
    n.storage.compact(index);
  }

  // --- network -------------------------------------------------------------------------------

  private matches(m: Message, f: MsgFilter): boolean {
    if (f.to && !f.to.includes(m.to)) return false;
    if (f.from && !f.from.includes(m.from)) return false;
    if (f.types && !f.types.includes(m.type)) return false;
    return true;
  }

  /** Removes and returns the queued messages that match `f`, oldest first. */
  take(f: MsgFilter): Message[] {
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const m of this.msgs) {
      if ((f.count === undefined || taken.length < f.count) && this.matches(m, f)) taken.push(m);
      else kept.push(m);
    }
    this.msgs = kept;
    return taken;
  }

  /** Appends a copy of every matching message to the queue (a duplicating network). */
  duplicate(f: MsgFilter): Message[] {
    const dups: Message[] = [];
    for (const m of this.msgs) {
      if (f.count !== undefined && dups.length >= f.count) break;
      if (this.matches(m, f)) dups.push({ ...m });
    }
    for (const m of dups) this.msgs.push(m);
    return dups;
  }

  /**
   * Moves every matching message (at most `count`, the oldest) to the back of the queue, keeping
   * their order: a network that delays them, so that later messages overtake them. Returns them.
   */
  delay(f: MsgFilter): Message[] {
    const delayed = this.take(f);
    for (const m of delayed) this.msgs.push(m);
    return delayed;
  }

  linkUp(from: number, to: number): boolean {
    return !this.cut.has(`${from}->${to}`);
  }

  /**
   * Delivers `ms` grouped by recipient in id order, printing each; those to a crashed node, across
   * a cut link, or to a node in `drop` are printed as dropped. Returns whether anything was printed.
   */
  deliver(ms: Message[], drop: readonly number[] = []): boolean {
    const byTo = new Map<number, Message[]>();
    for (const m of ms) {
      const list = byTo.get(m.to) ?? [];
      list.push(m);
      byTo.set(m.to, list);
    }
    const tos = [...byTo.keys()].sort((a, b) => a - b);
    for (const to of tos) {
      const n = this.nodes.get(to);
      this.emit(`> ${to} receiving messages`);
      this.withIndent(() => {
        for (const m of byTo.get(to) ?? []) {
          const why = drop.includes(to)
            ? 'dropped'
            : !n
              ? 'dropped: no such node'
              : !n.node
                ? 'dropped: node down'
                : !this.linkUp(m.from, to)
                  ? 'dropped: partitioned'
                  : '';
          if (why !== '') {
            this.emit(`${describeMessage(this.core, m)} (${why})`);
            continue;
          }
          this.emit(describeMessage(this.core, m));
          try {
            n?.node?.step({ ...m });
          } catch (err) {
            this.emit(describeError(err));
          }
        }
      });
    }
    return tos.length > 0;
  }

  /**
   * Handles Readys and delivers messages among `ids` (default: all) until nothing is left to do:
   * all Readys handled, then all messages delivered, round after round (etcd's `stabilize`).
   */
  stabilize(ids: readonly number[]): void {
    for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      let busy = false;
      for (const id of ids) {
        const n = this.get(id);
        if (!n.node?.hasReady()) continue;
        busy = true;
        this.emit(`> ${id} handling Ready`);
        this.withIndent(() => this.processReady(id));
      }
      const ms = this.take({ to: ids });
      if (ms.length > 0) {
        busy = true;
        this.deliver(ms);
      }
      if (!busy) return;
    }
    throw new EnvError(`not stable after ${STABILIZE_ROUNDS_MAX} rounds`);
  }
}

function describeFields(f?: Record<string, unknown>): string {
  if (!f) return '';
  const parts = Object.entries(f).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}

/** How an error thrown by the core or the environment appears in a transcript. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `error: ${err.name}${typeof code === 'string' ? ` (${code})` : ''}: ${err.message}`;
  }
  return `error: ${String(err)}`;
}
