/**
 * Limits and input validation shared by every storage adapter. A batch is checked in full before
 * any of it is applied, so a bad batch leaves no partial state behind.
 */
import type { KeyRange, ScanOptions, WriteOp } from '../ports.ts';
import { BatchTooLargeError, InvalidArgumentError, KeyTooLargeError, ValueTooLargeError } from './errors.ts';

/** Size limits of a storage engine; every adapter takes `Partial<StorageLimits>` in its options. */
export interface StorageLimits {
  /** Longest key in bytes. Default 8 KiB. */
  keyBytesMax: number;
  /** Longest value in bytes. Default 8 MiB. */
  valueBytesMax: number;
  /** Most ops in one batch. Default 100 000. */
  batchOpsMax: number;
  /** Most bytes (keys + values) in one batch. Default 64 MiB. */
  batchBytesMax: number;
}

/** The documented defaults of {@link StorageLimits}. */
export const defaultStorageLimits: Readonly<StorageLimits> = Object.freeze({
  keyBytesMax: 8 * 1024,
  valueBytesMax: 8 * 1024 * 1024,
  batchOpsMax: 100_000,
  batchBytesMax: 64 * 1024 * 1024,
});

/** Merges user limits over the defaults and checks that each is a positive integer. */
export function resolveLimits(limits: Partial<StorageLimits> | undefined): StorageLimits {
  const out = { ...defaultStorageLimits, ...limits };
  for (const name of Object.keys(defaultStorageLimits) as (keyof StorageLimits)[]) {
    const v = out[name];
    if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`limits.${name}`, `must be a positive integer, got ${String(v)}`);
  }
  return out;
}

function checkBytes(argument: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    const got = v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
    throw new InvalidArgumentError(argument, `must be a Uint8Array, got ${got}`);
  }
  return v;
}

/**
 * Checks a key argument (a non-empty Uint8Array of at most `keyBytesMax` bytes) and returns it.
 * Empty keys are refused because IndexedDB implementations disagree on them; bounds may be empty.
 */
export function validateKey(key: unknown, limits: StorageLimits, argument = 'key', allowEmpty = false): Uint8Array {
  const k = checkBytes(argument, key);
  if (k.length === 0 && !allowEmpty) throw new InvalidArgumentError(argument, 'must not be empty');
  if (k.length > limits.keyBytesMax) throw new KeyTooLargeError(argument, k.length, limits.keyBytesMax);
  return k;
}

/** Checks a range bound: absent, or a Uint8Array of any length (bounds are never stored). */
function validateBound(v: unknown, argument: string): Uint8Array | undefined {
  return v === undefined ? undefined : checkBytes(argument, v);
}

/** Checks a {@link KeyRange} and returns a normalised copy. */
export function validateRange(range: KeyRange | undefined, what = 'range'): KeyRange {
  if (range === undefined) return {};
  if (typeof range !== 'object' || range === null) throw new InvalidArgumentError(what, 'must be an object');
  return { start: validateBound(range.start, `${what}.start`), end: validateBound(range.end, `${what}.end`) };
}

/** Checks {@link ScanOptions} and returns a normalised copy (limit `Infinity` when absent). */
export function validateScan(options: ScanOptions | undefined): Required<Pick<ScanOptions, 'limit' | 'reverse'>> & KeyRange {
  const r = validateRange(options, 'scan options');
  const limit = options?.limit ?? Number.POSITIVE_INFINITY;
  if (limit !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new InvalidArgumentError('scan options.limit', `must be a non-negative integer, got ${String(limit)}`);
  }
  return { ...r, limit, reverse: options?.reverse === true };
}

/**
 * Checks a whole write batch against the limits before anything is applied and returns its size
 * in bytes (keys + values). Throws the first problem found; the batch is then not applied at all.
 */
export function validateBatch(batch: readonly WriteOp[], limits: StorageLimits): number {
  if (!Array.isArray(batch)) throw new InvalidArgumentError('batch', 'must be an array of ops');
  if (batch.length > limits.batchOpsMax) throw new BatchTooLargeError(`${batch.length} ops, limit batchOpsMax = ${limits.batchOpsMax}`);
  let bytes = 0;
  for (let i = 0; i < batch.length; i++) {
    const op = batch[i] as WriteOp | undefined;
    // The common case, a good put, builds no argument names (they are for errors only).
    if (typeof op === 'object' && op !== null && op.type === 'put' && op.key instanceof Uint8Array && op.value instanceof Uint8Array) {
      const k = op.key.length;
      if (k > 0 && k <= limits.keyBytesMax && op.value.length <= limits.valueBytesMax) {
        bytes += k + op.value.length;
        continue;
      }
    }
    const at = `batch[${i}]`;
    if (typeof op !== 'object' || op === null) throw new InvalidArgumentError(at, 'must be an op object');
    switch (op.type) {
      case 'put': {
        bytes += validateKey(op.key, limits, `${at}.key`).length;
        const value = checkBytes(`${at}.value`, op.value);
        if (value.length > limits.valueBytesMax) throw new ValueTooLargeError(`${at}.value`, value.length, limits.valueBytesMax);
        bytes += value.length;
        break;
      }
      case 'delete':
        bytes += validateKey(op.key, limits, `${at}.key`).length;
        break;
      case 'deleteRange':
        bytes += validateKey(op.start, limits, `${at}.start`, true).length;
        bytes += validateKey(op.end, limits, `${at}.end`, true).length;
        break;
      default:
        throw new InvalidArgumentError(`${at}.type`, `must be 'put', 'delete' or 'deleteRange', got ${JSON.stringify((op as { type?: unknown }).type)}`);
    }
  }
  if (bytes > limits.batchBytesMax) throw new BatchTooLargeError(`${bytes} bytes, limit batchBytesMax = ${limits.batchBytesMax}`);
  return bytes;
}
