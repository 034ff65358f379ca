/**
 * The model of Flotilla's key-value API (RheaKV's single-key operations and sequences),
 * partitioned by key, for checking client histories from the simulation.
 *
 * To add an operation: add a member to {@link FlotillaKvInput}, a handler to `handlers` saying what
 * it does to one key's {@link FlotillaKvState} and which outputs are possible, and if it lives in a
 * key space of its own, a namespace in `namespaceOf`. Multi-key operations (batches, ranges, scans)
 * do not partition by key and are not modelled here.
 */

import { bytesEqual, combineHash, describeBytes, hashBytes, mix32, utf8Encode } from '../hash.ts';
import { type Model, partitionBy, type StepResult } from '../model.ts';

/** A key or value as the client API takes it; strings stand for their UTF-8 bytes. */
export type Bytes = string | Uint8Array;

/** A range `[start, end)` of sequence numbers handed out by `getSequence`. */
export interface SequenceRange {
  readonly start: number;
  readonly end: number;
}

/** A request to the store, on one key. */
export type FlotillaKvInput =
  | { readonly op: 'get'; readonly key: Bytes }
  | { readonly op: 'containsKey'; readonly key: Bytes }
  | { readonly op: 'put'; readonly key: Bytes; readonly value: Bytes }
  | { readonly op: 'delete'; readonly key: Bytes }
  | { readonly op: 'getAndPut'; readonly key: Bytes; readonly value: Bytes }
  | { readonly op: 'compareAndPut'; readonly key: Bytes; readonly expect: Bytes | null; readonly update: Bytes }
  | { readonly op: 'putIfAbsent'; readonly key: Bytes; readonly value: Bytes }
  | { readonly op: 'merge'; readonly key: Bytes; readonly value: Bytes }
  | { readonly op: 'getSequence'; readonly key: Bytes; readonly step: number }
  | { readonly op: 'getLatestSequence'; readonly key: Bytes }
  | { readonly op: 'resetSequence'; readonly key: Bytes };

/**
 * A response. `get`, `getAndPut` and `putIfAbsent`: the (previous) value or null; `containsKey`
 * and `compareAndPut`: a boolean; `getSequence`: a {@link SequenceRange}; `getLatestSequence`: a
 * number; `put`, `delete`, `merge`, `resetSequence`: not looked at.
 */
export type FlotillaKvOutput = Bytes | null | boolean | number | SequenceRange;

/**
 * What the model knows of one key. A partition holds either a data key (`value`) or a sequence
 * (`sequence`), never both, since sequences live in a namespace of their own.
 */
export interface FlotillaKvState {
  /** The key's value; null when absent. */
  readonly value: Uint8Array | null;
  /** The next number the key's sequence hands out. Invariant: >= 0. */
  readonly sequence: number;
}

/** Options of {@link flotillaKvModel}. */
export interface FlotillaKvModelOptions {
  /** What `merge` puts between the old and the new value; `,` as in RheaKV. */
  readonly mergeSeparator?: Bytes;
}

type Op = FlotillaKvInput['op'];
type Handler<K extends Op> = (
  state: FlotillaKvState,
  input: Extract<FlotillaKvInput, { op: K }>,
  output: FlotillaKvOutput | undefined,
  separator: Uint8Array,
) => StepResult<FlotillaKvState>;

const toBytes = (b: Bytes): Uint8Array => (typeof b === 'string' ? utf8Encode(b) : b);

/** Whether an output that should be a value or null is `expected`. */
function sameValue(output: FlotillaKvOutput, expected: Uint8Array | null): boolean {
  if (output === null || typeof output === 'string' || output instanceof Uint8Array) {
    return bytesEqual(output === null ? null : toBytes(output), expected);
  }
  return false;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const accept = (state: FlotillaKvState): StepResult<FlotillaKvState> => ({ ok: true, state });
const reject: StepResult<FlotillaKvState> = { ok: false };
const withValue = (state: FlotillaKvState, value: Uint8Array | null): StepResult<FlotillaKvState> =>
  accept({ value, sequence: state.sequence });

/** What each operation does to one key; each handler checks the output unless it is undefined (unknown). */
const handlers: { readonly [K in Op]: Handler<K> } = {
  get: (s, _i, out) => (out === undefined || sameValue(out, s.value) ? accept(s) : reject),
  containsKey: (s, _i, out) => (out === undefined || out === (s.value !== null) ? accept(s) : reject),
  put: (s, i) => withValue(s, toBytes(i.value)),
  delete: (s) => withValue(s, null),
  getAndPut: (s, i, out) => (out === undefined || sameValue(out, s.value) ? withValue(s, toBytes(i.value)) : reject),
  compareAndPut(s, i, out) {
    const swaps = bytesEqual(i.expect === null ? null : toBytes(i.expect), s.value);
    if (out !== undefined && out !== swaps) return reject;
    return swaps ? withValue(s, toBytes(i.update)) : accept(s);
  },
  putIfAbsent(s, i, out) {
    if (out !== undefined && !sameValue(out, s.value)) return reject;
    return s.value === null ? withValue(s, toBytes(i.value)) : accept(s);
  },
  merge: (s, i, _out, sep) => withValue(s, s.value === null ? toBytes(i.value) : concat(s.value, sep, toBytes(i.value))),
  getSequence(s, i, out) {
    const end = s.sequence + i.step;
    if (out !== undefined) {
      const range = out as SequenceRange;
      if (typeof range !== 'object' || range === null || range.start !== s.sequence || range.end !== end) return reject;
    }
    return accept({ value: s.value, sequence: end });
  },
  getLatestSequence: (s, _i, out) => (out === undefined || out === s.sequence ? accept(s) : reject),
  resetSequence: (s) => accept({ value: s.value, sequence: 0 }),
};

/** The key space an operation lives in; sequences are kept apart from data, as in RheaKV. */
function namespaceOf(op: Op): string {
  return op === 'getSequence' || op === 'getLatestSequence' || op === 'resetSequence' ? 'sequence' : 'data';
}

function keyId(key: Bytes): string {
  return Array.from(toBytes(key), (x) => x.toString(16).padStart(2, '0')).join('');
}

function describeOutput(input: FlotillaKvInput, output: FlotillaKvOutput | undefined): string {
  if (output === undefined) return '?';
  if (typeof output === 'string' || output instanceof Uint8Array || output === null) return describeBytes(output === null ? null : toBytes(output));
  if (input.op === 'getSequence' && typeof output === 'object') return `[${output.start}, ${output.end})`;
  return String(output);
}

function describeInput(input: FlotillaKvInput): string {
  const b = (x: Bytes | null) => describeBytes(x === null ? null : toBytes(x));
  switch (input.op) {
    case 'compareAndPut':
      return `compareAndPut(${b(input.key)}, ${b(input.expect)}, ${b(input.update)})`;
    case 'getSequence':
      return `getSequence(${b(input.key)}, ${input.step})`;
    default:
      return 'value' in input ? `${input.op}(${b(input.key)}, ${b(input.value)})` : `${input.op}(${b(input.key)})`;
  }
}

/**
 * Builds the model of Flotilla's single-key operations, one partition per key and key space
 * (data or sequence). Values compare as bytes, so a string and its UTF-8 bytes are the same value.
 *
 * `getSequence(key, step)` must hand out `[start, start + step)` where `start` is where the
 * previous call ended (0 at first or after `resetSequence`): ranges never overlap or leave gaps.
 *
 * @param options - the `merge` separator.
 */
export function flotillaKvModel(
  options: FlotillaKvModelOptions = {},
): Model<FlotillaKvState, FlotillaKvInput, FlotillaKvOutput> {
  const separator = toBytes(options.mergeSeparator ?? ',');
  return {
    init: () => ({ value: null, sequence: 0 }),
    step(state, input, output) {
      const handler = handlers[input.op] as Handler<Op>;
      return handler(state, input as never, output, separator);
    },
    readOnly: (input) => input.op === 'get' || input.op === 'containsKey' || input.op === 'getLatestSequence',
    equal: (a, b) => a.sequence === b.sequence && bytesEqual(a.value, b.value),
    hash: (s) => combineHash(s.value === null ? 0x2545f491 : hashBytes(s.value), mix32(s.sequence)),
    partition: partitionBy((input) => `${namespaceOf(input.op)}:${keyId(input.key)}`),
    describePartition(history, members) {
      const input = history[members[0]].input;
      return `${namespaceOf(input.op)} key ${describeBytes(toBytes(input.key))}`;
    },
    describeOperation: (input, output) => `${describeInput(input)} -> ${describeOutput(input, output)}`,
    describeState: (s) => (s.sequence === 0 ? `value ${describeBytes(s.value)}` : `value ${describeBytes(s.value)}, sequence ${s.sequence}`),
  };
}
