/**
 * etcd-style transactions inside one region: `if (compares) then (ops) else (ops)`, applied as ONE
 * command of the region's log. The compares are evaluated when the command is applied (so a txn
 * is linearizable like any write), then every op of the chosen branch is applied in order into the
 * command's own overlay: the branch applies whole or, if any op fails, not at all.
 *
 * The state machine keeps no per-key version or revision (no MVCC yet), so compares look at a
 * key's value and existence only. A value compare on an absent key is false whatever the
 * operator, as in etcd (absent is not the empty value).
 *
 * This file holds the types, their log encoding and their execution (validation is with the
 * other ops' in `validate.ts`); the command plumbing in `codec.ts` and `state-machine.ts` delegates here.
 */
import { BatchTooLargeError, CorruptCommandError } from '../errors.ts';
import { compareEndKeys, compareKeys, nextKey } from '../region/keys.ts';
import { DATA_PREFIX, dataKey, prefixedRange } from './keys.ts';
import type { WriteOverlay } from './overlay.ts';

/** How a value compare relates the stored value to the given one, byte-wise (etcd's EQUAL, NOT_EQUAL, LESS, GREATER). */
export type TxnCompareResult = '=' | '!=' | '<' | '>';

/**
 * One condition of a txn.
 * - `value`: the key's stored value `result` the given value, compared byte-wise (lexicographic,
 *   a proper prefix is less). False when the key is absent, whatever `result` is.
 * - `exists`: whether the key has a value (`exists: false`: it is absent).
 */
export type TxnCompare =
  | { target: 'value'; key: Uint8Array; result: TxnCompareResult; value: Uint8Array }
  | { target: 'exists'; key: Uint8Array; exists: boolean };

/** One op of a txn branch. Ops apply in order, and a `get` sees the writes of earlier ops of its branch. */
export type TxnOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'delete'; key: Uint8Array }
  | { type: 'get'; key: Uint8Array }
  | { type: 'deleteRange'; start: Uint8Array; end: Uint8Array };

/** What one op of the chosen branch answered: a `get` its value (null: absent), the writes nothing more. */
export type TxnOpResult = { type: 'put' } | { type: 'delete' } | { type: 'deleteRange' } | { type: 'get'; value: Uint8Array | null };

/** The result of a txn: whether every compare held (`success` ran) or not (`failure` ran), and that branch's results in order. */
export interface TxnResult {
  succeeded: boolean;
  results: TxnOpResult[];
}

/** The write op of a txn as it travels to the store and through the log (etcd's `TxnRequest`: compare, success, failure). */
export interface TxnWriteOp {
  type: 'txn';
  compare: TxnCompare[];
  success: TxnOp[];
  failure: TxnOp[];
}

/**
 * Most bytes of values the `get`s of one txn may return (16 bytes counted per result besides).
 * Fixed, not configurable: it is checked when the command is applied, where every replica must
 * decide alike, and it keeps the result (which the session table stores for a retry) well inside
 * the storage engine's value limit. A txn over it fails whole with `BatchTooLarge`.
 */
export const TXN_RESULT_BYTES_MAX = 4 * 1024 * 1024;

const RESULT_OVERHEAD_BYTES = 16;
/** The compare results in the order of their log codes. */
export const TXN_COMPARE_RESULTS: readonly TxnCompareResult[] = ['=', '!=', '<', '>'];

/**
 * The one key range a validated txn touches: from its lowest key (or range start) to just past
 * its highest key (or range end; empty: +∞); undefined when it touches no key. A region is one
 * contiguous range, so the txn fits a region exactly when this span does.
 * @param op - a validated txn.
 */
export function txnSpan(op: TxnWriteOp): { start: Uint8Array; end: Uint8Array } | undefined {
  let start: Uint8Array | undefined;
  let end: Uint8Array | undefined;
  const add = (s: Uint8Array, e: Uint8Array) => {
    if (start === undefined || compareKeys(s, start) < 0) start = s;
    if (end === undefined || compareEndKeys(e, end) > 0) end = e;
  };
  for (const c of op.compare) add(c.key, nextKey(c.key));
  for (const x of [...op.success, ...op.failure]) {
    if (x.type === 'deleteRange') add(x.start, x.end);
    else add(x.key, nextKey(x.key));
  }
  return start === undefined || end === undefined ? undefined : { start, end };
}

/** Whether `stored` (undefined: absent) satisfies the compare. */
function holds(c: TxnCompare, stored: Uint8Array | undefined): boolean {
  if (c.target === 'exists') return (stored !== undefined) === c.exists;
  if (stored === undefined) return false;
  const order = compareKeys(stored, c.value);
  switch (c.result) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}

/**
 * Evaluates the compares against `staged` and applies the chosen branch into it, in order.
 * `staged` must be the command's own overlay: on a thrown error the caller drops it whole.
 * @param staged - the command's overlay.
 * @param op - a validated txn whose keys lie in the region.
 */
export async function executeTxn(staged: WriteOverlay, op: TxnWriteOp): Promise<TxnResult> {
  let succeeded = true;
  for (const c of op.compare) {
    if (!holds(c, await staged.get(dataKey(c.key)))) {
      succeeded = false;
      break;
    }
  }
  const results: TxnOpResult[] = [];
  let resultBytes = 0;
  for (const x of succeeded ? op.success : op.failure) {
    resultBytes += RESULT_OVERHEAD_BYTES;
    switch (x.type) {
      case 'put':
        staged.put(dataKey(x.key), x.value);
        results.push({ type: 'put' });
        break;
      case 'delete':
        staged.delete(dataKey(x.key));
        results.push({ type: 'delete' });
        break;
      case 'deleteRange': {
        const r = prefixedRange(DATA_PREFIX, x.start, x.end);
        staged.deleteRange(r.start, r.end);
        results.push({ type: 'deleteRange' });
        break;
      }
      case 'get': {
        const v = (await staged.get(dataKey(x.key))) ?? null;
        resultBytes += v?.length ?? 0;
        results.push({ type: 'get', value: v });
        break;
      }
    }
    if (resultBytes > TXN_RESULT_BYTES_MAX) {
      throw new BatchTooLargeError(`the gets of a txn return over ${TXN_RESULT_BYTES_MAX} bytes; read large values with get or multiGet instead`);
    }
  }
  return { succeeded, results };
}

// --- the log encoding ---------------------------------------------------------------------------
// Compact arrays, codes append-only like the command type codes: compare `[0, key, resultCode,
// value]` (value) or `[1, key, exists]`; op `[0, key, value]` put, `[1, key]` delete, `[2, key]`
// get, `[3, start, end]` deleteRange.

const OP_CODES = ['put', 'delete', 'get', 'deleteRange'] as const;

/**
 * The txn's fields in the log layout, in the order `compare, success, failure`.
 * @param op - a validated txn.
 */
export function encodeTxnFields(op: TxnWriteOp): unknown[] {
  const compare = op.compare.map((c) => (c.target === 'value' ? [0, c.key, TXN_COMPARE_RESULTS.indexOf(c.result), c.value] : [1, c.key, c.exists]));
  const encodeOp = (x: TxnOp) => {
    switch (x.type) {
      case 'put':
        return [0, x.key, x.value];
      case 'delete':
        return [1, x.key];
      case 'get':
        return [2, x.key];
      case 'deleteRange':
        return [3, x.start, x.end];
    }
  };
  return [compare, op.success.map(encodeOp), op.failure.map(encodeOp)];
}

function tuple(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v) || v.length < 2) throw new CorruptCommandError(`${what} must be an array of at least 2 elements`);
  return v;
}

function decodeCompare(v: unknown): TxnCompare {
  const t = tuple(v, 'a txn compare');
  if (t[0] === 0 && t.length === 4) {
    const result = typeof t[2] === 'number' ? TXN_COMPARE_RESULTS[t[2]] : undefined;
    if (result === undefined) throw new CorruptCommandError(`unknown txn compare result code ${String(t[2])}`);
    return { target: 'value', key: t[1] as Uint8Array, result, value: t[3] as Uint8Array };
  }
  if (t[0] === 1 && t.length === 3) return { target: 'exists', key: t[1] as Uint8Array, exists: t[2] as boolean };
  throw new CorruptCommandError(`unknown txn compare target code ${String(t[0])} with ${t.length} elements`);
}

function decodeOp(v: unknown): TxnOp {
  const t = tuple(v, 'a txn op');
  const type = typeof t[0] === 'number' ? OP_CODES[t[0]] : undefined;
  const width = type === 'put' || type === 'deleteRange' ? 3 : 2;
  if (type === undefined || t.length !== width) throw new CorruptCommandError(`unknown txn op code ${String(t[0])} with ${t.length} elements`);
  if (type === 'put') return { type, key: t[1] as Uint8Array, value: t[2] as Uint8Array };
  if (type === 'deleteRange') return { type, start: t[1] as Uint8Array, end: t[2] as Uint8Array };
  return { type, key: t[1] as Uint8Array };
}

/**
 * Rebuilds a txn from its log fields; checks the structure only and throws
 * {@link CorruptCommandError} when it is wrong (values are checked when the command is applied).
 * @param fields - `compare, success, failure` as {@link encodeTxnFields} laid them out.
 */
export function decodeTxnFields(fields: readonly unknown[]): TxnWriteOp {
  const [compare, success, failure] = fields;
  if (!Array.isArray(compare) || !Array.isArray(success) || !Array.isArray(failure)) throw new CorruptCommandError('a txn needs compare, success and failure arrays');
  return { type: 'txn', compare: compare.map(decodeCompare), success: success.map(decodeOp), failure: failure.map(decodeOp) };
}
