/**
 * The transcript commands: each parses its arguments and acts on the {@link InteractionEnv}.
 * The reference for every command and its arguments is the section "Raft transcripts" of docs/raft.md.
 */
import { Args, msgFilter, nodeOptions, parseConfChange, toInt } from './args.ts';
import type { Message, RawNode } from './core.ts';
import type { CmdArg } from './datadriven.ts';
import type { InteractionEnv } from './env.ts';
import { describeError, EnvError, encodeAppData } from './env.ts';
import { describeEntry, describeMessage, describeSnapshot } from './format.ts';

type Handler = (env: InteractionEnv, args: Args, line: string) => void;

function one(args: Args, cmd: string): number {
  const ids = args.ints();
  if (ids.length !== 1) throw new EnvError(`${cmd} takes one node id`);
  return ids[0];
}

function some(env: InteractionEnv, args: Args): number[] {
  const ids = args.ints();
  return ids.length > 0 ? ids : env.ids();
}

/** Runs `fn`, printing a thrown error as the command's output instead of failing the transcript. */
function attempt(env: InteractionEnv, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    env.emit(describeError(err));
  }
}

// --- state printers ------------------------------------------------------------------------------

export function describeNodeState(env: InteractionEnv, id: number): string {
  const n = env.get(id);
  if (!n.node) return `${id}: down`;
  const st = n.node.status();
  let s = `${id}: ${st.role} term=${st.term} vote=${st.vote} lead=${st.lead} commit=${st.commit} applied=${st.applied} last=${st.lastIndex}`;
  if (st.firstIndex > 1) s += ` first=${st.firstIndex}`;
  if (st.leadTransferee !== 0) s += ` transferee=${st.leadTransferee}`;
  return `${s} ${st.configDescription}`;
}

function printLog(env: InteractionEnv, id: number): void {
  const n = env.get(id);
  const log = n.node?.raft.raftLog;
  const first = log ? log.firstIndex() : n.storage.firstIndex();
  const last = log ? log.lastIndex() : n.storage.lastIndex();
  if (first > 1) env.emit(`snapshot ${describeSnapshot(env.core, log ? log.snapshot() : n.storage.snapshot())}`);
  if (last < first) {
    env.emit(`log is empty: first index=${first}, last index=${last}`);
    return;
  }
  const ents = log ? log.slice(first, last + 1, Number.MAX_SAFE_INTEGER) : n.storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER);
  for (const e of ents) env.emit(describeEntry(env.core, e));
}

function printStatus(env: InteractionEnv, node: RawNode, id: number): void {
  const st = node.status();
  if (st.role !== 'leader') {
    env.emit(`${id} is not the leader (${st.role} at term ${st.term}, lead ${st.lead})`);
    return;
  }
  for (const [pid, p] of [...st.progress].sort((a, b) => a[0] - b[0])) {
    let s = `${pid}: ${p.state} match=${p.match} next=${p.next}`;
    if (p.isLearner) s += ' learner';
    if (p.inflight > 0) s += ` inflight=${p.inflight}`;
    if (p.paused) s += ' paused';
    if (!p.recentActive) s += ' inactive';
    env.emit(s);
  }
}

// --- commands ------------------------------------------------------------------------------------

const commands: Record<string, Handler> = {
  'add-nodes': (env, args) => {
    const count = one(args, 'add-nodes');
    const first = env.ids().length > 0 ? Math.max(...env.ids()) + 1 : 1;
    const newIds = Array.from({ length: count }, (_, i) => first + i);
    const voters = args.intList('voters') ?? newIds;
    const learners = args.intList('learners') ?? [];
    const index = args.int('index') ?? 0;
    const options = nodeOptions(args);
    for (const id of newIds) {
      let storage: InstanceType<typeof env.core.MemoryRaftStorage>;
      if (index > 0) {
        // Start from a snapshot at `index` (term 1) holding the membership, as etcd's add-nodes does.
        storage = new env.core.MemoryRaftStorage();
        const confState = { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false };
        storage.applySnapshot({ metadata: { index, term: 1, confState }, data: encodeAppData([]) });
        storage.setHardState({ term: 1, vote: 0, commit: index });
      } else {
        storage = env.core.MemoryRaftStorage.withVoters(voters, learners);
      }
      env.startNode(id, storage, options, 0);
      env.emit(describeNodeState(env, id));
    }
  },
  campaign: (env, args) => env.up(one(args, 'campaign')).campaign(),
  propose: (env, args, line) => {
    const id = toInt(args.words()[0] ?? '', 'node id');
    const data = line.trim().split(/\s+/).slice(2).join(' ');
    env.up(id).propose(new TextEncoder().encode(data));
  },
  'propose-conf-change': (env, args) => {
    const id = toInt(args.words()[0] ?? '', 'node id');
    env.up(id).proposeConfChange(parseConfChange(args));
  },
  'transfer-leadership': (env, args) => {
    const from = args.int('from');
    const to = args.int('to');
    if (from === undefined || to === undefined) throw new EnvError('transfer-leadership needs from= and to=');
    env.up(from).transferLeader(to);
  },
  'read-index': (env, args) => {
    const [idWord, ctx] = args.words();
    const mode = args.str('mode') ?? 'safe';
    if (mode !== 'safe' && mode !== 'lease') throw new EnvError(`mode must be safe or lease, got ${mode}`);
    if (!ctx) throw new EnvError('read-index needs a context word');
    env.up(toInt(idWord, 'node id')).readIndex(new TextEncoder().encode(ctx), mode);
  },
  tick: (env, args) => {
    // tick <ids...> [count=N]: every listed node ticks N times (round-robin, one tick each per round).
    const ids = args.ints();
    const count = args.int('count') ?? 1;
    for (let i = 0; i < count; i++) for (const id of ids) env.up(id).tick();
  },
  elapse: (env, args) => {
    // elapse <ids...> ticks=N: the driver's clock says N ticks passed at once (the process was stopped).
    const ticks = args.int('ticks');
    if (ticks === undefined) throw new EnvError('elapse needs ticks=');
    for (const id of args.ints()) env.up(id).elapse(ticks);
  },
  quiesce: (env, args) => {
    // quiesce <id>: the leader quiesces its group if it may; prints whether it did.
    const id = one(args, 'quiesce');
    env.emit(env.up(id).quiesce() ? `${id} quiesced` : `${id} may not quiesce`);
  },
  wake: (env, args) => {
    // wake <id> [leader-lost=true]: the application wakes a quiesced node.
    const id = one(args, 'wake');
    env.up(id).wake(args.bool('leader-lost') ?? false);
  },
  quiesced: (env) => {
    for (const id of env.ids()) env.emit(`${id}: ${env.get(id).node?.quiesced ? 'quiesced' : 'awake'}`);
  },
  'tick-heartbeat': (env, args) => {
    for (const id of args.ints()) {
      const node = env.up(id);
      for (let i = 0; i < node.raft.cfg.heartbeatTick; i++) node.tick();
    }
  },
  'tick-election': (env, args) => {
    // A leader ticks one election timeout (a check-quorum round); any other node ticks until its
    // randomized election timeout fires.
    for (const id of args.ints()) {
      const node = env.up(id);
      const r = node.raft;
      const ticks =
        r.state !== 'leader' && r.promotable()
          ? Math.max(1, r.randomizedElectionTimeout - r.electionElapsed)
          : r.cfg.electionTick;
      for (let i = 0; i < ticks; i++) node.tick();
    }
  },
  'set-randomized-election-timeout': (env, args) => {
    const timeout = args.int('timeout');
    if (timeout === undefined) throw new EnvError('needs timeout=');
    env.up(one(args, 'set-randomized-election-timeout')).raft.randomizedElectionTimeout = timeout;
  },
  'process-ready': (env, args) => {
    const ids = some(env, args);
    for (const id of ids) {
      if (ids.length > 1) env.emit(`> ${id} handling Ready`);
      const run = () => {
        if (!env.processReady(id)) env.emit('<empty Ready>');
      };
      if (ids.length > 1) env.withIndent(run);
      else run();
    }
  },
  stabilize: (env, args) => env.stabilize(some(env, args)),
  'deliver-msgs': (env, args) => {
    const drop = args.intList('drop') ?? [];
    const f = msgFilter(args, true);
    if (f.to) f.to = [...f.to, ...drop];
    else if (drop.length > 0 && args.ints().length === 0 && args.strList('type') === undefined && !args.intList('from')) {
      f.to = drop; // only dropping
    }
    if (!env.deliver(env.take(f), drop)) env.emit('no messages');
  },
  'drop-msgs': (env, args) => {
    const ms = env.take(msgFilter(args, false));
    env.deliver(ms, [...new Set(ms.map((m) => m.to))]);
    if (ms.length === 0) env.emit('no messages');
  },
  'duplicate-msgs': (env, args) => {
    const dups = env.duplicate(msgFilter(args, false));
    for (const m of dups) env.emit(`duplicated ${describeMessage(env.core, m)}`);
    if (dups.length === 0) env.emit('no messages');
  },
  'delay-msgs': (env, args) => {
    // delay-msgs to=() from=() type=() count=K: the matching messages go to the back of the queue,
    // so that everything sent after them (to the same node too) is delivered first: reordering.
    const delayed = env.delay(msgFilter(args, false));
    for (const m of delayed) env.emit(`delayed ${describeMessage(env.core, m)}`);
    if (delayed.length === 0) env.emit('no messages');
  },
  network: (env) => {
    for (const m of env.msgs) env.emit(describeMessage(env.core, m));
    if (env.msgs.length === 0) env.emit('no messages');
  },
  partition: (env, args) => {
    const groups = args.groups();
    const all = groups.flat();
    for (const a of all) {
      for (const b of all) {
        const ga = groups.findIndex((g) => g.includes(a));
        const gb = groups.findIndex((g) => g.includes(b));
        if (ga !== gb) env.cut.add(`${a}->${b}`);
      }
    }
  },
  isolate: (env, args) => {
    const id = one(args, 'isolate');
    for (const other of env.ids()) {
      if (other === id) continue;
      env.cut.add(`${id}->${other}`);
      env.cut.add(`${other}->${id}`);
    }
  },
  heal: (env) => env.cut.clear(),
  crash: (env, args) => env.crash(one(args, 'crash')),
  restart: (env, args) => {
    const id = one(args, 'restart');
    env.restart(id);
    env.emit(describeNodeState(env, id));
  },
  compact: (env, args) => {
    const [id, index] = args.ints();
    env.compact(id, index);
    printLog(env, id);
  },
  'report-unreachable': (env, args) => {
    const [id, peer] = args.ints();
    env.up(id).reportUnreachable(peer);
  },
  'report-snapshot': (env, args) => {
    const [id, peer] = args.ints();
    env.up(id).reportSnapshot(peer, args.bool('ok') ?? true);
  },
  step: (env, args) => {
    // Steps a hand-made message, for cases no well-behaved peer produces on demand
    // (a delayed duplicate from a leader, say): step <to> <type> from= term= log=T/I commit= entries=(T/I:data ...)
    const [toWord, type] = args.words();
    const to = toInt(toWord ?? '', 'node id');
    const [logTerm, index] = (args.str('log') ?? '0/0').split('/').map((v) => toInt(v, 'log'));
    const entries = (args.strList('entries') ?? []).map((spec) => {
      const m = /^(\d+)\/(\d+)(?::(.*))?$/.exec(spec);
      if (!m) throw new EnvError(`bad entry ${spec}: want term/index[:data]`);
      return { term: Number(m[1]), index: Number(m[2]), type: 'normal' as const, data: new TextEncoder().encode(m[3] ?? '') };
    });
    const msg = {
      type: type as Message['type'],
      from: args.int('from') ?? 0,
      to,
      term: args.int('term') ?? 0,
      logTerm,
      index,
      entries,
      commit: args.int('commit') ?? 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: new Uint8Array(0),
    };
    env.emit(describeMessage(env.core, msg));
    env.up(to).step(msg);
  },
  timers: (env, args) => {
    for (const id of some(env, args)) {
      const r = env.up(id).raft;
      let s = `${id}: ${r.state} electionElapsed=${r.electionElapsed} randomizedElectionTimeout=${r.randomizedElectionTimeout}`;
      // A leader's transfer timer counts only while a transfer is under way.
      if (r.state === 'leader' && r.leadTransferee !== 0) s += ` transferElapsed=${r.transferElapsed}`;
      env.emit(s);
    }
  },
  'raft-log': (env, args) => printLog(env, one(args, 'raft-log')),
  'raft-state': (env) => {
    for (const id of env.ids()) env.emit(describeNodeState(env, id));
  },
  status: (env, args) => {
    const id = one(args, 'status');
    printStatus(env, env.up(id), id);
  },
  'app-state': (env, args) => {
    const id = one(args, 'app-state');
    const app = env.get(id).app;
    const cs = app.confState;
    env.emit(`applied=${app.applied} values=[${app.values.map(([i, v]) => `${i}:${v}`).join(' ')}]`);
    env.emit(`confState voters=(${cs.voters.join(' ')}) learners=(${cs.learners.join(' ')})` + (cs.votersOutgoing.length > 0 ? ` outgoing=(${cs.votersOutgoing.join(' ')})` : ''));
  },
};

/** Runs one command line against `env`; returns its output (`ok` when it printed nothing). */
export function runCommand(env: InteractionEnv, cmd: string, list: CmdArg[], line: string): string {
  const handler = commands[cmd];
  if (!handler) return `error: unknown command ${cmd}`;
  const args = new Args(list);
  let quiet = false;
  attempt(env, () => {
    // quiet=true: for set-up steps whose trace is not the point; errors still show.
    quiet = args.bool('quiet') ?? false;
    handler(env, args, line);
    args.checkUnused();
  });
  let out = env.takeOutput();
  if (quiet) out = out.filter((l) => l.trimStart().startsWith('error:'));
  return out.length > 0 ? out.join('\n') : 'ok';
}

/** The names of every command, for documentation and error messages. */
export const COMMAND_NAMES: readonly string[] = Object.keys(commands);
