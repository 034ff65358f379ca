/**
 * Validation of KV commands. The store calls these before proposing (with its configured
 * {@link KvLimits}) so bad input is refused with a typed error and nothing is proposed; the state
 * machine calls them again when applying (with `HARD_KV_LIMITS`) and answers a typed error
 * result without writing anything.
 */
import { BatchTooLargeError, InvalidArgumentError, KeyNotInRegionError, KeyTooLargeError, ValueTooLargeError } from '../errors.ts';
import { compareKeys, keyInRegion, rangeWithin } from '../region/keys.ts';
import { encodeUtf8 } from '../codec/utf8.ts';
import type { KvCommand, KvReadOp, KvWriteOp } from './commands.ts';
import type { KvLimits } from './limits.ts';
import { TXN_COMPARE_RESULTS, type TxnCompareResult, type TxnWriteOp, txnSpan } from './txn.ts';

function bytes(v: unknown, argument: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new InvalidArgumentError(argument, `must be a Uint8Array, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function key(v: unknown, argument: string, limits: KvLimits): number {
  const k = bytes(v, argument);
  if (k.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (k.length > limits.keyBytesMax) throw new KeyTooLargeError(argument, k.length, limits.keyBytesMax);
  return k.length;
}

function value(v: unknown, argument: string, limits: KvLimits): number {
  const b = bytes(v, argument);
  if (b.length > limits.valueBytesMax) throw new ValueTooLargeError(argument, b.length, limits.valueBytesMax);
  return b.length;
}

/** A range bound may be empty (-∞ for start, +∞ for end) but not over the key limit. */
function bound(v: unknown, argument: string, limits: KvLimits): Uint8Array {
  const b = bytes(v, argument);
  if (b.length > limits.keyBytesMax) throw new KeyTooLargeError(argument, b.length, limits.keyBytesMax);
  return b;
}

function range(start: unknown, end: unknown, limits: KvLimits): void {
  const s = bound(start, 'start', limits);
  const e = bound(end, 'end', limits);
  if (e.length > 0 && compareKeys(s, e) >= 0) throw new InvalidArgumentError('end', 'must be empty (+inf) or greater than start');
}

function integer(v: unknown, argument: string, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(argument, `must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
}

function text(v: unknown, argument: string, bytesMax: number, allowEmpty: boolean): void {
  if (typeof v !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${typeof v}`);
  if (v.length === 0 && !allowEmpty) throw new InvalidArgumentError(argument, 'must not be empty');
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: most strings need no encoding to be measured.
  if (v.length * 3 <= bytesMax) return;
  const n = encodeUtf8(v).length;
  if (n > bytesMax) throw new InvalidArgumentError(argument, `is ${n} UTF-8 bytes, over the limit of ${bytesMax}`);
}

function list(v: unknown, argument: string, limits: KvLimits): unknown[] {
  if (!Array.isArray(v)) throw new InvalidArgumentError(argument, 'must be an array');
  if (v.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (v.length > limits.batchEntriesMax) throw new BatchTooLargeError(`${v.length} entries, over the limit of ${limits.batchEntriesMax}`);
  return v;
}

function entry(v: unknown, argument: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null) throw new InvalidArgumentError(argument, 'must be an object');
  return v as Record<string, unknown>;
}

function batchBytes(total: number, limits: KvLimits): void {
  if (total > limits.batchBytesMax) throw new BatchTooLargeError(`${total} bytes of keys and values, over the limit of ${limits.batchBytesMax}`);
}

/**
 * Checks one write op: types, non-empty keys, sizes, ranges, leases, steps. Throws a typed error
 * ({@link InvalidArgumentError}, {@link KeyTooLargeError}, {@link ValueTooLargeError},
 * {@link BatchTooLargeError}) naming the bad argument.
 * @param op - the write op.
 * @param limits - the limits to check against.
 */
export function validateWriteOp(op: KvWriteOp, limits: KvLimits): void {
  const o = op as unknown as Record<string, unknown>;
  switch (op.type) {
    case 'put':
    case 'getAndPut':
    case 'putIfAbsent':
      key(o.key, 'key', limits);
      value(o.value, 'value', limits);
      return;
    case 'compareAndPut':
      key(o.key, 'key', limits);
      if (o.expect !== null) value(o.expect, 'expect', limits);
      value(o.update, 'update', limits);
      return;
    case 'merge':
      key(o.key, 'key', limits);
      value(o.value, 'value', limits);
      if (bytes(o.separator, 'separator').length > limits.separatorBytesMax) {
        throw new InvalidArgumentError('separator', `is longer than ${limits.separatorBytesMax} bytes`);
      }
      return;
    case 'delete':
    case 'resetSequence':
      key(o.key, 'key', limits);
      return;
    case 'deleteRange':
      range(o.start, o.end, limits);
      return;
    case 'batchPut': {
      // Every write is checked several times on its way (client, store, each replica's apply):
      // entries are named (a string each) only when one fails.
      const entries = list(o.entries, 'entries', limits);
      let total = 0;
      for (let i = 0; i < entries.length; i++) {
        const x = entries[i] as { key?: unknown; value?: unknown } | null;
        const k = typeof x === 'object' && x !== null ? x.key : undefined;
        const v = typeof x === 'object' && x !== null ? x.value : undefined;
        if (!(k instanceof Uint8Array) || !(v instanceof Uint8Array) || k.length === 0 || k.length > limits.keyBytesMax || v.length > limits.valueBytesMax) {
          const e = entry(x, `entries[${i}]`);
          key(e.key, `entries[${i}].key`, limits);
          value(e.value, `entries[${i}].value`, limits);
        }
        total += (k as Uint8Array).length + (v as Uint8Array).length;
      }
      batchBytes(total, limits);
      return;
    }
    case 'batchDelete': {
      let total = 0;
      for (const [i, k] of list(o.keys, 'keys', limits).entries()) total += key(k, `keys[${i}]`, limits);
      batchBytes(total, limits);
      return;
    }
    case 'batchCompareAndPut':
      validateCasEntries(o.entries, limits);
      return;
    case 'getSequence':
      key(o.key, 'key', limits);
      integer(o.step, 'step', 0, Number.MAX_SAFE_INTEGER);
      return;
    case 'tryLock':
    case 'renewLock':
      key(o.key, 'key', limits);
      text(o.owner, 'owner', limits.lockOwnerBytesMax, false);
      integer(o.leaseMs, 'leaseMs', 1, limits.leaseMsMax);
      return;
    case 'unlock':
      key(o.key, 'key', limits);
      text(o.owner, 'owner', limits.lockOwnerBytesMax, false);
      return;
    case 'expireSessions':
      integer(o.idleMs, 'idleMs', 1, Number.MAX_SAFE_INTEGER);
      integer(o.limit, 'limit', 1, limits.batchEntriesMax);
      return;
    case 'txn':
      validateTxn(op, limits);
      return;
    case 'leasePut':
      key(o.key, 'key', limits);
      value(o.value, 'value', limits);
      integer(o.lease, 'lease', 1, Number.MAX_SAFE_INTEGER);
      return;
    case 'revokeLease':
      integer(o.lease, 'lease', 1, Number.MAX_SAFE_INTEGER);
      return;
    case 'compact':
      integer(o.revision, 'revision', 0, Number.MAX_SAFE_INTEGER);
      return;
    default:
      throw new InvalidArgumentError('op.type', `unknown write type ${JSON.stringify((op as { type: unknown }).type)}`);
  }
}

function validateCasEntries(entries: unknown, limits: KvLimits): void {
  const seen = new Set<string>();
  let total = 0;
  for (const [i, e] of list(entries, 'entries', limits).entries()) {
    const x = entry(e, `entries[${i}]`);
    total += key(x.key, `entries[${i}].key`, limits) + value(x.update, `entries[${i}].update`, limits);
    if (x.expect !== null) total += value(x.expect, `entries[${i}].expect`, limits);
    const id = (x.key as Uint8Array).join(',');
    if (seen.has(id)) throw new InvalidArgumentError(`entries[${i}].key`, 'appears twice; a batch compareAndPut needs distinct keys');
    seen.add(id);
  }
  batchBytes(total, limits);
}

function validateTxnCompare(v: unknown, argument: string, limits: KvLimits): number {
  const c = entry(v, argument);
  const n = key(c.key, `${argument}.key`, limits);
  if (c.target === 'exists') {
    if (typeof c.exists !== 'boolean') throw new InvalidArgumentError(`${argument}.exists`, 'must be a boolean');
    return n;
  }
  if (c.target !== 'value') throw new InvalidArgumentError(`${argument}.target`, `must be 'value' or 'exists', got ${JSON.stringify(c.target)}`);
  if (!TXN_COMPARE_RESULTS.includes(c.result as TxnCompareResult)) throw new InvalidArgumentError(`${argument}.result`, `must be one of = != < >, got ${JSON.stringify(c.result)}`);
  return n + value(c.value, `${argument}.value`, limits);
}

function validateTxnOp(v: unknown, argument: string, limits: KvLimits): number {
  const o = entry(v, argument);
  switch (o.type) {
    case 'put':
      return key(o.key, `${argument}.key`, limits) + value(o.value, `${argument}.value`, limits);
    case 'delete':
    case 'get':
      return key(o.key, `${argument}.key`, limits);
    case 'deleteRange': {
      const s = bound(o.start, `${argument}.start`, limits);
      const e = bound(o.end, `${argument}.end`, limits);
      if (e.length > 0 && compareKeys(s, e) >= 0) throw new InvalidArgumentError(`${argument}.end`, 'must be empty (+inf) or greater than start');
      return s.length + e.length;
    }
    default:
      throw new InvalidArgumentError(`${argument}.type`, `must be put, delete, get or deleteRange, got ${JSON.stringify(o.type)}`);
  }
}

/**
 * Checks a txn: shapes, non-empty keys, sizes, ranges; at most `txnOpsMax` compares and ops in
 * all (empty lists are fine), at most `batchBytesMax` bytes of keys and values. Throws a typed
 * error naming the argument (`compare[2].key`, `success[0].value`, ...).
 * @param op - the txn write op.
 * @param limits - the limits to check against.
 */
export function validateTxn(op: TxnWriteOp, limits: KvLimits): void {
  const o = op as unknown as Record<string, unknown>;
  const lists = (['compare', 'success', 'failure'] as const).map((name) => {
    if (!Array.isArray(o[name])) throw new InvalidArgumentError(name, 'must be an array');
    return o[name] as unknown[];
  });
  const [compare, success, failure] = lists;
  const count = compare.length + success.length + failure.length;
  if (count > limits.txnOpsMax) throw new BatchTooLargeError(`a txn of ${count} compares and ops, over the limit of ${limits.txnOpsMax}`);
  let total = 0;
  for (let i = 0; i < compare.length; i++) total += validateTxnCompare(compare[i], `compare[${i}]`, limits);
  for (let i = 0; i < success.length; i++) total += validateTxnOp(success[i], `success[${i}]`, limits);
  for (let i = 0; i < failure.length; i++) total += validateTxnOp(failure[i], `failure[${i}]`, limits);
  batchBytes(total, limits);
}

/**
 * Checks a whole command: the envelope (`clientId`, `seq`, `nowMs`) and its op. Throws a typed error.
 * @param command - the command about to be proposed (or just decoded from the log).
 * @param limits - the limits to check against.
 */
export function validateKvCommand(command: KvCommand, limits: KvLimits): void {
  if (typeof command !== 'object' || command === null) throw new InvalidArgumentError('command', 'must be an object');
  text(command.clientId, 'clientId', limits.clientIdBytesMax, true);
  if (command.clientId !== '') integer(command.seq, 'seq', 1, Number.MAX_SAFE_INTEGER);
  // Store-internal: a client must not be able to expire sessions (its own retries would re-apply).
  if (command.op?.type === 'expireSessions' && command.clientId !== '') throw new InvalidArgumentError('clientId', 'must be empty for expireSessions, a store-internal command');
  integer(command.nowMs, 'nowMs', 0, Number.MAX_SAFE_INTEGER);
  if (typeof command.op !== 'object' || command.op === null) throw new InvalidArgumentError('op', 'must be an object');
  validateWriteOp(command.op, limits);
}

/**
 * Checks one read op. Throws a typed error.
 * @param op - the read op.
 * @param limits - the limits to check against.
 */
export function validateReadOp(op: KvReadOp, limits: KvLimits): void {
  const o = op as unknown as Record<string, unknown>;
  switch (op.type) {
    case 'get':
    case 'containsKey':
    case 'getLatestSequence':
      key(o.key, 'key', limits);
      return;
    case 'multiGet':
      for (const [i, k] of list(o.keys, 'keys', limits).entries()) key(k, `keys[${i}]`, limits);
      return;
    case 'scan':
    case 'reverseScan':
      range(o.start, o.end, limits);
      if (o.limit !== undefined) integer(o.limit, 'limit', 1, limits.scanLimitMax);
      if (o.returnValue !== undefined && typeof o.returnValue !== 'boolean') throw new InvalidArgumentError('returnValue', 'must be a boolean');
      return;
    case 'watch':
      range(o.start, o.end, limits);
      if (o.after !== undefined) integer(o.after, 'after', 0, Number.MAX_SAFE_INTEGER);
      if (o.limit !== undefined) integer(o.limit, 'limit', 1, limits.scanLimitMax);
      if (o.prevValue !== undefined && typeof o.prevValue !== 'boolean') throw new InvalidArgumentError('prevValue', 'must be a boolean');
      return;
    case 'getAt':
      key(o.key, 'key', limits);
      integer(o.revision, 'revision', 0, Number.MAX_SAFE_INTEGER);
      return;
    default:
      throw new InvalidArgumentError('op.type', `unknown read type ${JSON.stringify((op as { type: unknown }).type)}`);
  }
}

/** The user keys an op touches, or its `[start, end)` range; `expireSessions` touches none. */
export type OpFootprint = { keys: Uint8Array[] } | { start: Uint8Array; end: Uint8Array };

/**
 * What keys (or which range) an op touches: the client routes by it and the store checks it
 * against the region. Call it on validated ops only.
 * @param op - a write or read op.
 */
export function opFootprint(op: KvWriteOp | KvReadOp): OpFootprint {
  switch (op.type) {
    case 'deleteRange':
    case 'scan':
    case 'reverseScan':
    case 'watch':
      return { start: op.start, end: op.end };
    case 'batchPut':
    case 'batchCompareAndPut':
      return { keys: op.entries.map((e) => e.key) };
    case 'batchDelete':
    case 'multiGet':
      return { keys: op.keys };
    case 'expireSessions':
    case 'revokeLease':
    case 'compact':
      return { keys: [] };
    case 'txn':
      // One span from the lowest key to past the highest: a region is contiguous, so it holds
      // every key and range of the txn exactly when it holds the span.
      return txnSpan(op) ?? { keys: [] };
    default:
      return { keys: [op.key] };
  }
}

/**
 * Throws {@link KeyNotInRegionError} unless every key (or the whole range) the op touches lies in
 * the region's current range. The store calls it before proposing and the state machine again at
 * apply time, since a split may move keys out of the region in between.
 * @param op - a validated write or read op.
 * @param region - the region's id and current range.
 */
export function checkOpInRegion(op: KvWriteOp | KvReadOp, region: { id: number; startKey: Uint8Array; endKey: Uint8Array }): void {
  const f = opFootprint(op);
  if ('keys' in f) {
    for (const k of f.keys) if (!keyInRegion(k, region)) throw new KeyNotInRegionError(region.id, k, region.startKey, region.endKey);
  } else if (!rangeWithin(f.start, f.end, region.startKey, region.endKey)) {
    const outside = keyInRegion(f.start, region) ? f.end : f.start;
    throw new KeyNotInRegionError(region.id, outside, region.startKey, region.endKey);
  }
}
