/**
 * Typed errors of the KV API, the regions and the stores (DESIGN §3, §8). Each class has a stable
 * `code` to branch on without parsing messages, and a message that says what was wrong and what
 * to do. Errors cross the wire and the session table as plain data ({@link errorToData},
 * {@link errorFromData}) and come back as the same classes.
 *
 * Retryable after refreshing routes: `KeyNotInRegion`, `EpochNotMatch`, `RegionNotFound`,
 * `NotLeader`, `ServerBusy`. Never retry blindly: `OutcomeUnknown`, `StaleCommand` (the write may
 * have been applied). Fix the request: `InvalidArgument`, `KeyTooLarge`, `ValueTooLarge`,
 * `BatchTooLarge`, `TooSmallToSplit`.
 */
import type { Region } from './region/types.ts';

/** The stable codes of {@link FlotillaError}. */
export type FlotillaErrorCode =
  | 'InvalidArgument'
  | 'KeyTooLarge'
  | 'ValueTooLarge'
  | 'BatchTooLarge'
  | 'KeyNotInRegion'
  | 'EpochNotMatch'
  | 'RegionNotFound'
  | 'NotLeader'
  | 'ServerBusy'
  | 'StaleCommand'
  | 'TooSmallToSplit'
  | 'CorruptCommand'
  | 'OutcomeUnknown'
  | 'Timeout'
  | 'PermissionDenied'
  | 'LeaseNotFound'
  | 'Compacted';

/** Base class of every error of the KV API; `code` says which kind it is. */
export class FlotillaError extends Error {
  readonly code: FlotillaErrorCode;
  constructor(code: FlotillaErrorCode, message: string) {
    super(message);
    this.name = 'FlotillaError';
    this.code = code;
  }
}

/** An argument was malformed (empty key, bad range, non-positive lease, ...). Nothing was changed; fix the call. */
export class InvalidArgumentError extends FlotillaError {
  /** Which argument was wrong, e.g. `entries[3].key`. */
  readonly argument: string;
  constructor(argument: string, detail: string) {
    super('InvalidArgument', `invalid ${argument}: ${detail}`);
    this.name = 'InvalidArgumentError';
    this.argument = argument;
  }
}

/** A key is longer than `keyBytesMax`. Nothing was changed; use a shorter key or raise the limit. */
export class KeyTooLargeError extends FlotillaError {
  readonly bytes: number;
  readonly bytesMax: number;
  constructor(argument: string, bytes: number, bytesMax: number) {
    super('KeyTooLarge', `${argument} is ${bytes} bytes, over the limit of ${bytesMax} (use a shorter key or raise keyBytesMax)`);
    this.name = 'KeyTooLargeError';
    this.bytes = bytes;
    this.bytesMax = bytesMax;
  }
}

/** A value (or the result of a merge) is longer than `valueBytesMax`. Nothing was changed. */
export class ValueTooLargeError extends FlotillaError {
  readonly bytes: number;
  readonly bytesMax: number;
  constructor(argument: string, bytes: number, bytesMax: number) {
    super('ValueTooLarge', `${argument} is ${bytes} bytes, over the limit of ${bytesMax} (split the value or raise valueBytesMax)`);
    this.name = 'ValueTooLargeError';
    this.bytes = bytes;
    this.bytesMax = bytesMax;
  }
}

/** A batch has too many entries or bytes. Nothing was changed; send it in smaller batches. */
export class BatchTooLargeError extends FlotillaError {
  constructor(detail: string) {
    super('BatchTooLarge', `batch too large: ${detail} (send smaller batches or raise the batch limits)`);
    this.name = 'BatchTooLargeError';
  }
}

/** A key or range lies outside the region's current range (it split or merged). Nothing was changed; refresh the route and retry. */
export class KeyNotInRegionError extends FlotillaError {
  readonly regionId: number;
  readonly key: Uint8Array;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
  constructor(regionId: number, key: Uint8Array, startKey: Uint8Array, endKey: Uint8Array) {
    super('KeyNotInRegion', `key ${hex(key)} is not in region ${regionId} [${hex(startKey)}, ${endKey.length === 0 ? '+inf' : hex(endKey)}); refresh the route table and retry`);
    this.name = 'KeyNotInRegionError';
    this.regionId = regionId;
    this.key = key;
    this.startKey = startKey;
    this.endKey = endKey;
  }
}

/** The request was routed by a stale region epoch. `regions` are the store's current regions: update the route table from them and retry. */
export class EpochNotMatchError extends FlotillaError {
  readonly regions: Region[];
  constructor(regionId: number, regions: Region[]) {
    super('EpochNotMatch', `region ${regionId} changed since it was routed to (split, merge or membership change); update routes from the ${regions.length} current region(s) carried and retry`);
    this.name = 'EpochNotMatchError';
    this.regions = regions;
  }
}

/** The store hosts no replica of the region. Refresh the route table (ask another store or PD) and retry. */
export class RegionNotFoundError extends FlotillaError {
  readonly regionId: number;
  constructor(regionId: number) {
    super('RegionNotFound', `region ${regionId} is not hosted here; refresh the route table and retry`);
    this.name = 'RegionNotFoundError';
    this.regionId = regionId;
  }
}

/** This replica is not the region's leader. Retry on `leaderStoreId` when known, else on another replica. */
export class NotLeaderError extends FlotillaError {
  readonly regionId: number;
  /** The store of the leader this replica believes in; 0 when it knows none. */
  readonly leaderStoreId: number;
  constructor(regionId: number, leaderStoreId: number) {
    super('NotLeader', `not the leader of region ${regionId}; ${leaderStoreId === 0 ? 'no leader known, retry later' : `retry on store ${leaderStoreId}`}`);
    this.name = 'NotLeaderError';
    this.regionId = regionId;
    this.leaderStoreId = leaderStoreId;
  }
}

/** The store's proposal queue (or another bounded resource) is full. Nothing was proposed; back off and retry. */
export class ServerBusyError extends FlotillaError {
  constructor(detail: string) {
    super('ServerBusy', `server busy: ${detail}; back off and retry`);
    this.name = 'ServerBusyError';
  }
}

/**
 * A write carried a client sequence number below the one its session remembers: it was applied
 * or superseded earlier and its result is no longer kept. Nothing was applied now; report the
 * outcome as unknown (never retry it under a new sequence number blindly).
 */
export class StaleCommandError extends FlotillaError {
  readonly clientId: string;
  readonly seq: number;
  readonly lastSeq: number;
  constructor(clientId: string, seq: number, lastSeq: number) {
    super('StaleCommand', `client ${clientId} sent seq ${seq} but its session is at seq ${lastSeq}: the command was applied or superseded before and its result is gone; treat its outcome as unknown`);
    this.name = 'StaleCommandError';
    this.clientId = clientId;
    this.seq = seq;
    this.lastSeq = lastSeq;
  }
}

/** A region has too few keys to split. Nothing was changed; split later or give a split key. */
export class TooSmallToSplitError extends FlotillaError {
  readonly keys: number;
  readonly keysMin: number;
  constructor(keys: number, keysMin: number) {
    super('TooSmallToSplit', `region has ${keys} key(s), fewer than the ${keysMin} needed to choose a split key; split later or give the split key`);
    this.name = 'TooSmallToSplitError';
    this.keys = keys;
    this.keysMin = keysMin;
  }
}

/** A command or a stored record could not be decoded. The log or the storage is corrupt: stop the replica and restore it from a snapshot. */
export class CorruptCommandError extends FlotillaError {
  constructor(detail: string) {
    super('CorruptCommand', `corrupt command or record: ${detail}; stop this replica and restore it from a peer's snapshot`);
    this.name = 'CorruptCommandError';
  }
}

/** The write's proposal left but no answer came back: it may or may not have been applied. Read before writing again. */
export class OutcomeUnknownError extends FlotillaError {
  constructor(detail: string) {
    super('OutcomeUnknown', `outcome unknown: ${detail}; the write may have been applied, read the key before writing again`);
    this.name = 'OutcomeUnknownError';
  }
}

/** The operation did not finish in time and nothing of it left this process. It is safe to retry. */
export class TimeoutError extends FlotillaError {
  constructor(detail: string) {
    super('Timeout', `timed out: ${detail}; it is safe to retry`);
    this.name = 'TimeoutError';
  }
}

/**
 * The caller's user may not do this (its roles grant no such permission on the keys touched, it
 * was removed, or its session is no longer valid). Nothing was changed. The message names the
 * operation, never a key or a value; ask an admin for a role (`flotilla role grant`).
 */
export class PermissionDeniedError extends FlotillaError {
  /** What was refused, e.g. `write` or `admin`. */
  readonly operation: string;
  constructor(operation: string, detail: string) {
    super('PermissionDenied', `permission denied: ${operation}: ${detail}`);
    this.name = 'PermissionDeniedError';
    this.operation = operation;
  }
}

/**
 * The lease is unknown: never granted, expired or revoked (docs/leases.md). Nothing was written;
 * grant a new lease and attach the keys to it.
 */
export class LeaseNotFoundError extends FlotillaError {
  readonly leaseId: number;
  constructor(leaseId: number, detail = 'it was never granted, or it expired or was revoked') {
    super('LeaseNotFound', `lease ${leaseId} not found: ${detail}; grant a new lease`);
    this.name = 'LeaseNotFoundError';
    this.leaseId = leaseId;
  }
}

/**
 * A watch or a read at a past revision asked for history the region has compacted away. Nothing
 * was read; start again from the current state (read it, then watch from `compactRevision + 1`
 * or from now).
 */
export class HistoryCompactedError extends FlotillaError {
  readonly regionId: number;
  /** The revision asked for. */
  readonly revision: number;
  /** The region's compaction point: history at or below it may be gone. */
  readonly compactRevision: number;
  constructor(regionId: number, revision: number, compactRevision: number) {
    super('Compacted', `region ${regionId} has compacted its history up to revision ${compactRevision}; revision ${revision} is gone: read the current state and watch from revision ${compactRevision + 1} or later`);
    this.name = 'HistoryCompactedError';
    this.regionId = regionId;
    this.revision = revision;
    this.compactRevision = compactRevision;
  }
}

function hex(b: Uint8Array): string {
  let s = '0x';
  for (let i = 0; i < b.length && i < 32; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return b.length > 32 ? `${s}…(${b.length} bytes)` : s;
}

/** An error as plain data, for the wire and the session table. */
export interface ErrorData {
  code: FlotillaErrorCode;
  message: string;
  /** The fields of the class beyond `message` (regions, keys, ids, limits). */
  fields: Record<string, unknown>;
}

/**
 * Turns an error into plain data that msgpack can carry; {@link errorFromData} rebuilds it.
 * @param error - a {@link FlotillaError}.
 */
export function errorToData(error: FlotillaError): ErrorData {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(error)) if (k !== 'code' && k !== 'name' && k !== 'message') fields[k] = v;
  return { code: error.code, message: error.message, fields };
}

/**
 * Rebuilds the typed error that {@link errorToData} described: the same class, code, message and fields.
 * @param data - what `errorToData` produced (after a round trip through the wire).
 */
export function errorFromData(data: ErrorData): FlotillaError {
  const proto = PROTOTYPES[data.code] ?? FlotillaError.prototype;
  const error = Object.create(proto) as FlotillaError;
  Object.assign(error, data.fields);
  Object.defineProperty(error, 'message', { value: data.message, writable: true, configurable: true });
  // The same own properties a constructed error has: `name` and `code` enumerable, `message` not.
  for (const [name, value] of [
    ['name', proto.constructor.name],
    ['code', data.code],
  ]) {
    Object.defineProperty(error, name, { value, writable: true, enumerable: true, configurable: true });
  }
  return error;
}

const PROTOTYPES: Record<FlotillaErrorCode, FlotillaError> = {
  InvalidArgument: InvalidArgumentError.prototype,
  KeyTooLarge: KeyTooLargeError.prototype,
  ValueTooLarge: ValueTooLargeError.prototype,
  BatchTooLarge: BatchTooLargeError.prototype,
  KeyNotInRegion: KeyNotInRegionError.prototype,
  EpochNotMatch: EpochNotMatchError.prototype,
  RegionNotFound: RegionNotFoundError.prototype,
  NotLeader: NotLeaderError.prototype,
  ServerBusy: ServerBusyError.prototype,
  StaleCommand: StaleCommandError.prototype,
  TooSmallToSplit: TooSmallToSplitError.prototype,
  CorruptCommand: CorruptCommandError.prototype,
  OutcomeUnknown: OutcomeUnknownError.prototype,
  Timeout: TimeoutError.prototype,
  PermissionDenied: PermissionDeniedError.prototype,
  LeaseNotFound: LeaseNotFoundError.prototype,
  Compacted: HistoryCompactedError.prototype,
};
