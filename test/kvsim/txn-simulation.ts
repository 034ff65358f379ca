/**
 * Transactions under faults: a whole in-page cluster (3 or 5 stores, three regions) on the
 * virtual clock and the simulated network, with the KV simulation's fault schedule (partitions,
 * drops, duplicates, reordering, crashes that lose unsynced writes, splits and merges), and
 * clients doing compare-and-increment txns on counters.
 *
 * Each counter is a PAIR of keys in one region, written together by one txn:
 * `if (a == n) then put(a, n+1), put(b, n+1), get(a), get(b) else get(a), get(b)`. The history is
 * checked for linearizability against a model where a counter is one register and the txn a CAS
 * on it that also reports both keys: a txn that saw `a != b`, a failed compare that reports
 * something other than the current value, or an increment applied twice or lost is illegal.
 * Read-only txns (both gets, no compare) and plain `get`s of key `a` (any read consistency) are
 * checked against the same register.
 *
 * Plain functions (no test framework): `npm run soak:kv -- --txn --seeds N` runs many more seeds.
 */
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { createFaultyStorage } from '../../adapters/storage/faulty.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { KvClient } from '../../src/client/client.ts';
import { Compare, Op } from '../../src/client/txn.ts';
import { FlotillaError } from '../../src/errors.ts';
import type { TxnResult } from '../../src/kv/txn.ts';
import { checkOperations, type Model, type Operation, partitionBy } from '../../src/linearizability/index.ts';
import type { Rand } from '../../src/ports.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { drive, elapse } from '../store/helpers.ts';
import { checkReplicas, faultLoop } from './kv-simulation.ts';

/** One counter pair per initial region; no split key the fault loop picks falls inside a pair. */
const PAIRS = ['c/0/', 'm/1/', 'q/2/'];
const SPLITS = ['e', 'n'];

/** What a client asked of a counter pair. */
export type TxnSimInput =
  /** The increment txn, expecting the counter at `expect` (0: both keys absent). */
  | { op: 'incr'; pair: string; expect: number }
  /** A txn of two gets and no compare. */
  | { op: 'read'; pair: string }
  /** A plain `get` of key `a`. */
  | { op: 'get'; pair: string };

/** What came back: the branch taken (reads: true) and both keys as numbers (absent: 0); `get`: `b` is `a`. */
export interface TxnSimOutput {
  succeeded: boolean;
  a: number;
  b: number;
}

/**
 * The counter pair as one register: `incr` is a CAS that reports the pair after it, `read` and
 * `get` report the pair as it is.
 */
export const pairModel: Model<number, TxnSimInput, TxnSimOutput> = {
  init: () => 0,
  step(state, input, output) {
    if (input.op !== 'incr') return output === undefined || (output.a === state && output.b === state) ? { ok: true, state } : { ok: false };
    const swaps = state === input.expect;
    const next = swaps ? state + 1 : state;
    if (output !== undefined && (output.succeeded !== swaps || output.a !== next || output.b !== next)) return { ok: false };
    return { ok: true, state: next };
  },
  readOnly: (input) => input.op !== 'incr',
  hash: (state) => state,
  partition: partitionBy((input) => input.pair),
  describePartition: (history, p) => `pair ${history[p[0]].input.pair}`,
  describeOperation: (input, output) => `${input.op}(${input.pair}${input.op === 'incr' ? `, expect ${input.expect}` : ''}) -> ${output === undefined ? '?' : JSON.stringify(output)}`,
  describeState: (state) => String(state),
};

export interface TxnSimOptions {
  seed: number;
  clients?: number;
  /** Virtual ms of workload under faults. */
  workloadMs?: number;
  verbose?: boolean;
}

export interface TxnSimResult {
  seed: number;
  ok: boolean;
  failures: string[];
  operations: number;
  unknown: number;
  /** Increments that took effect, as the final reads show. */
  increments: number;
  /** Faults the nemesis injected. */
  faults: number;
}

const num = (b: Uint8Array | null) => (b === null ? 0 : Number(new TextDecoder().decode(b)));
const resultNumber = (r: TxnResult, i: number) => num((r.results[i] as { value: Uint8Array | null }).value);

async function invoke(kv: KvClient, input: TxnSimInput, consistency: 'linearizable' | 'lease' | 'follower'): Promise<TxnSimOutput> {
  const a = `${input.pair}a`;
  const b = `${input.pair}b`;
  if (input.op === 'get') {
    const v = num(await kv.get(a, { consistency }));
    return { succeeded: true, a: v, b: v };
  }
  if (input.op === 'read') {
    const r = await kv.txn().then(Op.get(a), Op.get(b)).commit();
    return { succeeded: r.succeeded, a: resultNumber(r, 0), b: resultNumber(r, 1) };
  }
  const next = String(input.expect + 1);
  const r = await kv
    .txn()
    .if(input.expect === 0 ? Compare.absent(a) : Compare.value(a, '=', String(input.expect)))
    .then(Op.put(a, next), Op.put(b, next), Op.get(a), Op.get(b))
    .else(Op.get(a), Op.get(b))
    .commit();
  return r.succeeded ? { succeeded: true, a: resultNumber(r, 2), b: resultNumber(r, 3) } : { succeeded: false, a: resultNumber(r, 0), b: resultNumber(r, 1) };
}

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

async function clientLoop(kv: KvClient, id: number, rand: Rand, clock: VirtualClock, history: Operation<TxnSimInput, TxnSimOutput>[], running: () => boolean): Promise<void> {
  // What this client last saw of each pair: the next increment expects it (sometimes a stale guess).
  const seen = new Map<string, number>();
  while (running()) {
    const pair = PAIRS[rand.int(PAIRS.length)];
    const roll = rand.int(10);
    const known = seen.get(pair) ?? 0;
    const input: TxnSimInput = roll < 6 ? { op: 'incr', pair, expect: rand.int(5) === 0 ? Math.max(0, known - 1) : known } : roll < 8 ? { op: 'read', pair } : { op: 'get', pair };
    const consistency = (['linearizable', 'lease', 'follower'] as const)[rand.int(3)];
    const call = clock.now();
    try {
      const output = await invoke(kv, input, consistency);
      history.push({ clientId: id, input, output, call, return: clock.now() });
      seen.set(pair, output.a);
    } catch (e) {
      const code = e instanceof FlotillaError ? e.code : 'unexpected';
      if (!['OutcomeUnknown', 'Timeout', 'ServerBusy', 'NotLeader', 'RegionNotFound'].includes(code)) {
        throw new Error(`client ${id}: ${input.op} failed unexpectedly: ${(e as Error).stack ?? e}`);
      }
      // A failed read told us nothing; an increment whose fate is unknown may take effect any time later.
      if (input.op === 'incr') history.push({ clientId: id, input, call, unknown: true });
    }
    await sleep(clock, rand.int(20));
  }
}

/** Runs one seed; never throws for a found bug, it reports it in `failures`. */
export async function runTxnSimulation(opts: TxnSimOptions): Promise<TxnSimResult> {
  const rand = createSeededRand(opts.seed);
  const clock = createVirtualClock();
  const cluster = await createLocalCluster({
    stores: rand.int(2) === 0 ? 3 : 5,
    clock,
    seed: opts.seed,
    initialSplitKeys: SPLITS,
    store: { logGcThreshold: 5 + rand.int(40) },
    storage: (id) => createFaultyStorage(createMemoryStorage(), { rand: createSeededRand(opts.seed * 31 + id) }),
  });
  const failures: string[] = [];
  const history: Operation<TxnSimInput, TxnSimOutput>[] = [];
  let running = true;
  let increments = 0;
  let faults = 0;
  try {
    await drive(clock, cluster.waitForLeaders(), 60_000);
    const clients = Array.from({ length: opts.clients ?? 4 }, (_, i) => {
      const kv = cluster.client({ retry: { timeoutMs: 2000, attemptTimeoutMs: 400 } });
      return clientLoop(kv, i, createSeededRand(opts.seed * 977 + i), clock, history, () => running).catch((e) => {
        failures.push(String((e as Error).message));
      });
    });
    const nemesis = faultLoop(cluster, clock, rand, () => running, opts.verbose ?? false, () => faults++, false);
    await elapse(clock, opts.workloadMs ?? 2000);
    running = false;
    await drive(clock, Promise.all([...clients, nemesis]), 60_000);
    // Quiet: heal, restart every store, read every pair once more (through a txn) and check.
    cluster.heal();
    cluster.network?.setFaults({ dropRate: 0, duplicateRate: 0, reorder: false });
    for (const id of cluster.storeIds) await cluster.restartStore(id);
    await drive(clock, cluster.waitForLeaders(), 60_000);
    // Long enough (virtual time) for every replica to catch up before their states are compared.
    await elapse(clock, 2000);
    const final = cluster.client();
    for (const pair of PAIRS) {
      const call = clock.now();
      const output = await drive(clock, invoke(final, { op: 'read', pair }, 'linearizable'), 60_000);
      history.push({ clientId: 1000, input: { op: 'read', pair }, output, call, return: clock.now() });
      increments += output.a;
    }
    const verdict = checkOperations(pairModel, history, { maxSteps: 20_000_000 });
    if (verdict.result === 'illegal') failures.push(`history is not linearizable: ${verdict.illegal?.message ?? ''}`);
    if (verdict.result === 'unknown') failures.push('linearizability check ran out of budget');
    await elapse(clock, 500);
    await checkReplicas(cluster, clock, failures);
  } catch (e) {
    failures.push(`simulation error: ${(e as Error).stack ?? e}`);
  } finally {
    running = false;
    await cluster.close();
  }
  return { seed: opts.seed, ok: failures.length === 0, failures, operations: history.length, unknown: history.filter((h) => h.unknown).length, increments, faults };
}
