/**
 * The limits of the KV API (DESIGN §8). Every one is explicit, configurable and has a safe
 * default sized to fit the storage engine's own limits (key 8 KiB, value 8 MiB) with room for the
 * namespace prefix and the session record, and a whole command inside one 16 MiB frame.
 */
import { InvalidArgumentError } from '../errors.ts';

/** Size limits checked before proposing and again, defensively, when a command is applied. */
export interface KvLimits {
  /** Longest user key in bytes. Default 4 KiB. */
  keyBytesMax: number;
  /** Longest value in bytes, also the longest result of a `merge`. Default 4 MiB. */
  valueBytesMax: number;
  /** Most entries in one batch command or `multiGet`. Default 10 000. */
  batchEntriesMax: number;
  /** Most bytes (keys + values) in one batch command. Default 8 MiB. */
  batchBytesMax: number;
  /** Most pairs one `scan` returns; also its limit when none is given. Default 10 000. */
  scanLimitMax: number;
  /** Longest client id in UTF-8 bytes. Default 128. */
  clientIdBytesMax: number;
  /** Longest lock owner id in UTF-8 bytes. Default 256. */
  lockOwnerBytesMax: number;
  /** Longest `merge` separator in bytes. Default 64. */
  separatorBytesMax: number;
  /** Longest lock lease in milliseconds. Default one day. */
  leaseMsMax: number;
  /** Most compares and ops (both branches together) in one txn. Default 128 (etcd's `--max-txn-ops`). */
  txnOpsMax: number;
}

/** The documented defaults of {@link KvLimits}. */
export const DEFAULT_KV_LIMITS: Readonly<KvLimits> = Object.freeze({
  keyBytesMax: 4 * 1024,
  valueBytesMax: 4 * 1024 * 1024,
  batchEntriesMax: 10_000,
  batchBytesMax: 8 * 1024 * 1024,
  scanLimitMax: 10_000,
  clientIdBytesMax: 128,
  lockOwnerBytesMax: 256,
  separatorBytesMax: 64,
  leaseMsMax: 24 * 60 * 60 * 1000,
  txnOpsMax: 128,
});

/**
 * The fixed ceilings that the apply path checks against. Apply-time checks must give the same
 * answer on every replica whatever each store was configured with, so they use these constants,
 * never the configurable {@link KvLimits} (those are checked before proposing). They are sized so
 * that a stored record (prefix + key, session + result) always fits the storage engine's default
 * limits. Configured limits may not exceed them.
 */
export const HARD_KV_LIMITS: Readonly<KvLimits> = Object.freeze({
  keyBytesMax: 8000,
  valueBytesMax: 8 * 1024 * 1024 - 4096,
  batchEntriesMax: 50_000,
  batchBytesMax: 32 * 1024 * 1024,
  scanLimitMax: 1_000_000,
  clientIdBytesMax: 1024,
  lockOwnerBytesMax: 1024,
  separatorBytesMax: 1024,
  leaseMsMax: 365 * 24 * 60 * 60 * 1000,
  txnOpsMax: 10_000,
});

/**
 * Completes partial limits with {@link DEFAULT_KV_LIMITS} and checks that each is a positive safe
 * integer no greater than its {@link HARD_KV_LIMITS} ceiling.
 * @param limits - overrides.
 */
export function resolveKvLimits(limits?: Partial<KvLimits>): KvLimits {
  const out = { ...DEFAULT_KV_LIMITS, ...limits };
  for (const name of Object.keys(DEFAULT_KV_LIMITS) as (keyof KvLimits)[]) {
    const v = out[name];
    if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`limits.${name}`, `must be a positive safe integer, got ${String(v)}`);
    if (v > HARD_KV_LIMITS[name]) throw new InvalidArgumentError(`limits.${name}`, `must be at most ${HARD_KV_LIMITS[name]}, got ${v}`);
  }
  return out;
}
