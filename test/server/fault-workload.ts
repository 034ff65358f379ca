/**
 * The workload of the black-box fault tests and its judgement: concurrent clients issue get (all
 * three read consistencies), put, getAndPut and compareAndPut on a few keys through the remote
 * client, every value unique; each operation is recorded with real call and return times (one
 * clock: all clients live in this process; milliseconds since the run started, as in the fault log). A write that fails is recorded as outcome-unknown
 * (it may have applied, now or later: the checker may place it anywhere after its call, or
 * nowhere), never as applied; a read that fails tells nothing and is left out.
 *
 * At the end the history, with a final linearizable read of every key, goes to the
 * linearizability checker (src/linearizability, the model the simulation uses), and a plainer
 * check says whether an acknowledged write is missing from the final reads.
 */
import type { RemoteKvClient } from '../../adapters/client/remote.ts';
import { FlotillaError } from '../../src/errors.ts';
import { checkOperations, flotillaKvModel, type FlotillaKvInput, type FlotillaKvOutput, type Operation } from '../../src/linearizability/index.ts';
import type { Rand } from '../../src/ports.ts';

/** One recorded operation. */
export type FaultOp = Operation<FlotillaKvInput, FlotillaKvOutput>;

/** What the clients recorded. */
export interface Recorded {
  /** The `performance.now()` that times count from (the run's start, as in the fault log). */
  t0: number;
  history: FaultOp[];
  /** Failed operations by error code (`unexpected: ...` for errors outside the client's contract). */
  errors: Map<string, number>;
  /** Writes whose outcome is unknown. */
  unknown: number;
}

const READS = new Set(['get']);
/** Milliseconds since the run started, to the microsecond (for readable reports). */
const since = (rec: Recorded) => Math.round((performance.now() - rec.t0) * 1000) / 1000;
const text = (v: FlotillaKvOutput | undefined): string => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v));
/** Errors the client may answer a call with under faults (docs: OutcomeUnknown, Timeout; the routing errors once retries run out). */
const EXPECTED = new Set(['OutcomeUnknown', 'Timeout', 'ServerBusy', 'NotLeader', 'RegionNotFound', 'EpochNotMatch', 'KeyNotInRegion', 'StaleCommand']);

function randomInput(rand: Rand, client: number, n: number, keys: readonly string[], seen: Map<string, string | null>): FlotillaKvInput {
  const key = keys[rand.int(keys.length)];
  const value = `${client}.${n}`;
  const r = rand.int(10);
  if (r < 4) return { op: 'get', key };
  if (r < 6) return { op: 'put', key, value };
  if (r < 7) return { op: 'getAndPut', key, value };
  // Expect the value last seen (so that many swaps succeed), now and then a made-up one.
  const expect = rand.int(5) === 0 ? `${rand.int(4)}.${rand.int(50)}` : (seen.get(key) ?? null);
  return { op: 'compareAndPut', key, expect, update: value };
}

async function invoke(kv: RemoteKvClient, input: FlotillaKvInput, consistency: 'linearizable' | 'lease' | 'follower'): Promise<FlotillaKvOutput> {
  switch (input.op) {
    case 'get':
      return kv.get(input.key, { consistency });
    case 'put':
      await kv.put(input.key, input.value);
      return null;
    case 'getAndPut':
      return kv.getAndPut(input.key, input.value);
    case 'compareAndPut':
      return kv.compareAndPut(input.key, input.expect, input.update);
    default:
      throw new Error(`no such workload operation ${input.op}`);
  }
}

/**
 * Runs one client until `running()` turns false, recording into `rec`.
 * @param kv - its own remote client.
 * @param client - its number (values are `client.n`).
 * @param rand - its seeded choices.
 * @param keys - the keys it works on.
 * @param seen - the last value any client saw per key (for compareAndPut's expectation).
 */
export async function clientLoop(kv: RemoteKvClient, client: number, rand: Rand, keys: readonly string[], seen: Map<string, string | null>, rec: Recorded, running: () => boolean): Promise<void> {
  for (let n = 0; running(); n++) {
    const input = randomInput(rand, client, n, keys, seen);
    const consistency = (['linearizable', 'lease', 'follower'] as const)[rand.int(3)];
    const call = since(rec);
    try {
      const output = await invoke(kv, input, consistency);
      rec.history.push({ clientId: client, input, output, call, return: since(rec) });
      if (input.op === 'get' || input.op === 'getAndPut') seen.set(String(input.key), output === null ? null : text(output));
      if (input.op === 'put' || (input.op === 'compareAndPut' && output === true)) seen.set(String(input.key), input.op === 'put' ? String(input.value) : String(input.update));
    } catch (e) {
      const code = e instanceof FlotillaError ? e.code : `unexpected: ${(e as Error).name}: ${(e as Error).message.slice(0, 80)}`;
      const kind = e instanceof FlotillaError && !EXPECTED.has(e.code) ? `unexpected: ${code}` : code;
      rec.errors.set(kind, (rec.errors.get(kind) ?? 0) + 1);
      if (!READS.has(input.op)) {
        rec.history.push({ clientId: client, input, call, unknown: true });
        rec.unknown++;
      }
      // A client that saw its call fail waits a little, as an application would, instead of spinning.
      await new Promise((r) => setTimeout(r, 20 + rand.int(80)));
    }
  }
}

/**
 * Reads every key with a linearizable read (a quorum's answer), retrying until `deadlineMs`
 * (performance.now()), and appends the reads to the history.
 */
export async function finalReads(kv: RemoteKvClient, keys: readonly string[], rec: Recorded, deadlineMs: number): Promise<Map<string, string | null>> {
  const finals = new Map<string, string | null>();
  for (const key of keys) {
    for (;;) {
      const call = since(rec);
      try {
        const v = await kv.get(key, { consistency: 'linearizable' });
        rec.history.push({ clientId: 1_000_000, input: { op: 'get', key }, output: v, call, return: since(rec) });
        finals.set(key, v === null ? null : text(v));
        break;
      } catch (e) {
        if (performance.now() > deadlineMs) throw new Error(`final read of ${key} failed until the deadline: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  return finals;
}

/** The value an operation writes when it applies, if it writes one. */
function written(op: FaultOp): string | undefined {
  const i = op.input;
  if (i.op === 'put' || i.op === 'getAndPut') return String(i.value);
  if (i.op === 'compareAndPut' && (op.unknown || op.output === true)) return String(i.update);
  return undefined;
}

/**
 * Acknowledged writes missing from the final reads: for key k with final value v, an acknowledged
 * write w of k is lost unless v is w's value or v was written by an operation that may have taken
 * effect after w (it had not returned before w was called). Values are unique, so v names its writer.
 */
export function lostWrites(history: readonly FaultOp[], finals: Map<string, string | null>): string[] {
  const problems: string[] = [];
  for (const [key, v] of finals) {
    const writes = history.filter((op) => String(op.input.key) === key && written(op) !== undefined);
    const writer = v === null ? undefined : writes.find((op) => written(op) === v);
    if (v !== null && writer === undefined) {
      problems.push(`key ${key}: final value ${v} was never written`);
      continue;
    }
    for (const w of writes) {
      if (w.unknown || w === writer) continue;
      const after = writer !== undefined && (writer.unknown === true || (writer.return ?? 0) >= w.call);
      if (!after) problems.push(`key ${key}: acknowledged ${w.input.op} of ${written(w)} (call ${w.call.toFixed(0)} ms, return ${w.return?.toFixed(0)} ms) is missing: the final value is ${v ?? 'absent'}${writer ? `, written by an operation that returned at ${writer.return?.toFixed(0)} ms` : ''}`);
    }
  }
  return problems;
}

/** The checker's verdict on the history: undefined when linearizable, else why not. */
export function linearizabilityProblem(history: readonly FaultOp[]): string | undefined {
  const result = checkOperations(flotillaKvModel(), history, { maxSteps: 100_000_000 });
  if (result.result === 'illegal') return `history is not linearizable: ${result.illegal.message}`;
  if (result.result === 'unknown') return `linearizability check gave up: ${result.message}`;
  return undefined;
}
