/**
 * The binary form of a {@link KvCommand} in the Raft log: one MessagePack array (through the
 * wire codec's plain-MessagePack configuration), with the op type as a small integer and the op's
 * fields in a fixed order. Layout: `[FORMAT_VERSION, clientId, seq, nowMs, typeCode, ...fields]`;
 * batch entries are nested arrays (`[key, value]`, `[key, expect, update]`).
 *
 * Type codes are append-only: a code once used keeps its meaning forever, since old log entries
 * and snapshots are decoded by newer code.
 */
import { packValue, unpackValue } from '../codec/msgpack.ts';
import { CorruptCommandError } from '../errors.ts';
import type { KvCommand, KvWriteOp, KvWriteType } from './commands.ts';
import { decodeTxnFields, encodeTxnFields } from './txn.ts';

/** The version of the command layout; bumped when the layout (not a new type) changes. */
export const COMMAND_FORMAT_VERSION = 1;

/** Each write type's code (its index) and field order. Append only. */
const TYPES: readonly (readonly [KvWriteType, readonly string[]])[] = [
  ['put', ['key', 'value']],
  ['getAndPut', ['key', 'value']],
  ['compareAndPut', ['key', 'expect', 'update']],
  ['putIfAbsent', ['key', 'value']],
  ['merge', ['key', 'value', 'separator']],
  ['delete', ['key']],
  ['deleteRange', ['start', 'end']],
  ['batchPut', ['entries']],
  ['batchDelete', ['keys']],
  ['batchCompareAndPut', ['entries']],
  ['getSequence', ['key', 'step']],
  ['resetSequence', ['key']],
  ['tryLock', ['key', 'owner', 'leaseMs']],
  ['renewLock', ['key', 'owner', 'leaseMs']],
  ['unlock', ['key', 'owner']],
  ['expireSessions', ['idleMs', 'limit']],
  ['txn', ['compare', 'success', 'failure']],
  ['leasePut', ['key', 'value', 'lease']],
  ['revokeLease', ['lease']],
  ['compact', ['revision']],
];

const CODE_OF = new Map<KvWriteType, number>(TYPES.map(([type], code) => [type, code]));

/**
 * Encodes a command for the Raft log. The bytes are a fresh copy the caller may keep.
 * Validate the command first (`validateKvCommand`); encoding does not check values.
 * @param command - the command to encode.
 */
export function encodeKvCommand(command: KvCommand): Uint8Array {
  const { op } = command;
  const code = CODE_OF.get(op.type);
  if (code === undefined) throw new CorruptCommandError(`unknown write type ${JSON.stringify(op.type)}`);
  const fields = op.type === 'txn' ? encodeTxnFields(op) : TYPES[code][1].map((name) => {
    const v = (op as unknown as Record<string, unknown>)[name];
    if (op.type === 'batchPut' && name === 'entries') return op.entries.map((e) => [e.key, e.value]);
    if (op.type === 'batchCompareAndPut' && name === 'entries') return op.entries.map((e) => [e.key, e.expect, e.update]);
    return v;
  });
  return packValue([COMMAND_FORMAT_VERSION, command.clientId, command.seq, command.nowMs, code, ...fields]).slice();
}

/**
 * Replaces every byte string inside a decoded value by a plain `Uint8Array` view of the same
 * bytes (msgpackr hands out Node `Buffer`s, whose `slice` shares memory), walking arrays and
 * plain objects. Arrays are rewritten in place, so pass only a value fresh from the decoder.
 * @param value - a value fresh from the decoder.
 */
export function plainBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) {
    // In place: the decoder's arrays are ours, and a command holds one small array per batch entry.
    for (let i = 0; i < value.length; i++) value[i] = plainBytes(value[i]);
    return value;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainBytes(v);
    return out;
  }
  return value;
}

/**
 * Decodes a stored MessagePack record (session, lock) with plain byte strings; throws
 * {@link CorruptCommandError} naming `what` when the bytes are not MessagePack.
 * @param bytes - the stored value.
 * @param what - the record's name for the error.
 */
export function unpackRecord(bytes: Uint8Array, what: string): unknown {
  try {
    return plainBytes(unpackValue(bytes));
  } catch (e) {
    throw new CorruptCommandError(`${what} is not MessagePack (${(e as Error).message})`);
  }
}

function pairs(v: unknown, width: number, what: string): unknown[][] {
  if (!Array.isArray(v) || v.some((e) => !Array.isArray(e) || e.length !== width)) {
    throw new CorruptCommandError(`${what} must be an array of ${width}-element arrays`);
  }
  return v as unknown[][];
}

/**
 * Decodes a command from the Raft log. Checks the structure only (array shape, version, type,
 * field count) and throws {@link CorruptCommandError} when it is wrong; the values are checked
 * when the command is applied, which answers a typed error for a bad one.
 *
 * The command's byte strings never alias the caller's buffer (a log entry, a received frame), so
 * the store hands them to the engine as they are. For a command of at most
 * {@link SHARED_COMMAND_BYTES_MAX} bytes they are views into one private copy of `bytes` (one copy
 * per command, not one per key and value): a stored value then keeps at most that many bytes of
 * its command alive until every value of the command is overwritten or deleted. A larger command's
 * byte strings each get an exact-size copy, so that one small surviving value cannot pin a big batch.
 * @param bytes - what {@link encodeKvCommand} produced.
 */
/** Largest command whose keys and values share one copy of it (see {@link decodeKvCommand}). */
export const SHARED_COMMAND_BYTES_MAX = 64 * 1024;

/** Replaces every byte string in `v` (arrays and plain objects walked in place) by an exact-size copy. */
function ownEach(v: unknown): unknown {
  if (v instanceof Uint8Array) {
    const copy = new Uint8Array(v.length);
    copy.set(v);
    return copy;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = ownEach(v[i]);
    return v;
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = ownEach(o[k]);
  }
  return v;
}

export function decodeKvCommand(bytes: Uint8Array): KvCommand {
  const own = new Uint8Array(bytes.length);
  own.set(bytes);
  const raw = unpackRecord(own, 'command');
  if (!Array.isArray(raw) || raw.length < 5) throw new CorruptCommandError('a command must be an array of at least 5 elements');
  const [version, clientId, seq, nowMs, code, ...fields] = raw as unknown[];
  if (version !== COMMAND_FORMAT_VERSION) throw new CorruptCommandError(`unknown command format version ${String(version)}`);
  const spec = typeof code === 'number' ? TYPES[code] : undefined;
  if (spec === undefined) throw new CorruptCommandError(`unknown write type code ${String(code)}`);
  const [type, names] = spec;
  if (fields.length !== names.length) throw new CorruptCommandError(`${type} needs ${names.length} fields, got ${fields.length}`);
  let op: Record<string, unknown> = { type };
  if (type === 'txn') op = decodeTxnFields(fields) as unknown as Record<string, unknown>;
  else {
    names.forEach((name, i) => {
      op[name] = fields[i];
    });
  }
  if (type === 'batchPut') op.entries = pairs(op.entries, 2, 'batchPut entries').map(([key, value]) => ({ key, value }));
  if (type === 'batchCompareAndPut') {
    op.entries = pairs(op.entries, 3, 'batchCompareAndPut entries').map(([key, expect, update]) => ({ key, expect, update }));
  }
  if (own.length > SHARED_COMMAND_BYTES_MAX) ownEach(op);
  return { clientId: clientId as string, seq: seq as number, nowMs: nowMs as number, op: op as unknown as KvWriteOp };
}
