/**
 * The request/response protocol between remote clients (and joining stores) and a store server,
 * carried in frame `request` / `response` items. A request item's payload is one MessagePack
 * value, a {@link ServerCall}; the response item with the same `requestId` carries a
 * {@link ServerAnswer}. Typed errors travel as `errorToData` and come back as the same classes.
 *
 * `requestId` 0 is reserved for PD messages between stores (`PD_REQUEST_ID`); calls use ids from 1.
 * Transport ids: stores are 1..{@link STORE_ID_MAX}; a remote client picks a random id from
 * {@link CLIENT_ID_MIN} up, so that a server can tell a client's link from a store's.
 */
import { z } from 'zod';
import { type AuthChange, authChangeSchema } from '../auth/table.ts';
import { DEFAULT_FRAME_LIMITS } from '../codec/limits.ts';
import { packValue, unpackValue } from '../codec/msgpack.ts';
import { type ScanLimits, scanMsgpack } from '../codec/msgpack-scan.ts';
import { type ErrorData, errorFromData, errorToData, FlotillaError, InvalidArgumentError, OutcomeUnknownError } from '../errors.ts';
import type { ApplyOutcome } from '../kv/state-machine.ts';
import type { StoreRequest } from '../store/requests.ts';
import { INCARNATION_PATTERN } from '../util/incarnation.ts';

/** Largest store id a server accepts for itself. */
export const STORE_ID_MAX = 2 ** 31 - 1;
/** Remote clients take transport ids at or above this (never a store's). */
export const CLIENT_ID_MIN = 2 ** 40;

/** A store and the WebSocket URL it is reached at. */
export interface StoreAddress {
  id: number;
  url: string;
}

/** What a server knows about the cluster, for clients and joining stores. */
export interface ClusterInfo {
  /** The answering store. */
  storeId: number;
  clusterId: string;
  /** Every store the answering store knows an address of (itself included). */
  stores: StoreAddress[];
  /** Stores hosting PD's group; empty without PD. */
  pdStoreIds: number[];
}

/** A call to a store server. */
export type ServerCall =
  /**
   * A KV, regions or admin request, served by `dispatchRequest`. `timeoutMs`: how long the caller
   * waits for the answer from when it sent the call (relative, as gRPC's `grpc-timeout`, so that
   * clocks need not agree); a store sheds a read or write it cannot answer in time (docs/overload.md).
   */
  | { t: 'kv'; r: StoreRequest; timeoutMs?: number }
  /** The cluster's stores and their addresses. */
  | { t: 'stores' }
  /** A new store asks to join: it gets an id (unless it has one) and the cluster's stores. */
  | { t: 'join'; storeId?: number; url: string; replaces?: number }
  /** A store tells where it listens (stores gossip their address books with this). */
  | { t: 'announce'; stores: StoreAddress[] }
  /** Asks PD to drain (`offline`) or forget (`tombstone`) a store. */
  | { t: 'storeState'; storeId: number; state: 'up' | 'offline' | 'tombstone' }
  /**
   * Asks which incarnation of `storeId` this store has seen (answer: `{ seen: string | null,
   * replicas: number }`): a store on an empty data directory learns whether it ever existed.
   */
  | { t: 'seen'; storeId: number }
  /** Changes users, roles or the auth switch (PD's leader only; others answer `NotLeader`). Needs admin. */
  | { t: 'auth'; change: AuthChange }
  /** The auth table without password verifiers (`publicView`). Needs admin. */
  | { t: 'authGet' };

/** The answer to a {@link ServerCall}. */
export type ServerAnswer = { ok: true; v: unknown } | { ok: false; e: ErrorData };

const bytes = z.instanceof(Uint8Array);
const key = bytes;
const count = z.int().nonnegative();
const epoch = z.object({ confVer: count, version: count });
const regionId = z.int().positive();
const entry = z.object({ key, value: bytes });
const cas = z.object({ key, expect: bytes.nullable(), update: bytes });
const lock = { key, owner: z.string().max(1024), leaseMs: z.number() };
/** A txn's lists are bounded here already (the store then checks its configured `txnOpsMax`). */
const TXN_LIST_MAX = 10_000;
const txnCompare = z.discriminatedUnion('target', [
  z.object({ target: z.literal('value'), key, result: z.enum(['=', '!=', '<', '>']), value: bytes }),
  z.object({ target: z.literal('exists'), key, exists: z.boolean() }),
]);
const txnOp = z.discriminatedUnion('type', [
  z.object({ type: z.literal('put'), key, value: bytes }),
  z.object({ type: z.literal('delete'), key }),
  z.object({ type: z.literal('get'), key }),
  z.object({ type: z.literal('deleteRange'), start: bytes, end: bytes }),
]);

const writeOp = z.discriminatedUnion('type', [
  z.object({ type: z.literal('put'), key, value: bytes }),
  z.object({ type: z.literal('getAndPut'), key, value: bytes }),
  z.object({ type: z.literal('compareAndPut'), key, expect: bytes.nullable(), update: bytes }),
  z.object({ type: z.literal('putIfAbsent'), key, value: bytes }),
  z.object({ type: z.literal('merge'), key, value: bytes, separator: bytes }),
  z.object({ type: z.literal('delete'), key }),
  z.object({ type: z.literal('deleteRange'), start: bytes, end: bytes }),
  z.object({ type: z.literal('batchPut'), entries: z.array(entry) }),
  z.object({ type: z.literal('batchDelete'), keys: z.array(key) }),
  z.object({ type: z.literal('batchCompareAndPut'), entries: z.array(cas) }),
  z.object({ type: z.literal('getSequence'), key, step: z.number() }),
  z.object({ type: z.literal('resetSequence'), key }),
  z.object({ type: z.literal('tryLock'), ...lock }),
  z.object({ type: z.literal('renewLock'), ...lock }),
  z.object({ type: z.literal('unlock'), key, owner: z.string().max(1024) }),
  z.object({ type: z.literal('txn'), compare: z.array(txnCompare).max(TXN_LIST_MAX), success: z.array(txnOp).max(TXN_LIST_MAX), failure: z.array(txnOp).max(TXN_LIST_MAX) }),
  z.object({ type: z.literal('leasePut'), key, value: bytes, lease: z.int().positive() }),
  z.object({ type: z.literal('compact'), revision: z.int().nonnegative() }),
]);

const scan = { start: bytes, end: bytes, limit: z.number().optional(), returnValue: z.boolean().optional() };
const readOp = z.discriminatedUnion('type', [
  z.object({ type: z.literal('get'), key }),
  z.object({ type: z.literal('multiGet'), keys: z.array(key) }),
  z.object({ type: z.literal('containsKey'), key }),
  z.object({ type: z.literal('scan'), ...scan }),
  z.object({ type: z.literal('reverseScan'), ...scan }),
  z.object({ type: z.literal('getLatestSequence'), key }),
  z.object({ type: z.literal('watch'), start: bytes, end: bytes, after: z.int().nonnegative().optional(), limit: z.number().optional(), prevValue: z.boolean().optional() }),
  z.object({ type: z.literal('getAt'), key, revision: z.int().nonnegative() }),
]);

/** A backup's id: letters, digits, `_` and `-` (readers are keyed by it). */
const BACKUP_ID = /^[A-Za-z0-9_-]{1,64}$/;
const adminOp = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('split'), splitKey: bytes.optional() }),
  z.object({ kind: z.literal('transferLeader'), toStoreId: z.int().positive() }),
  z.object({ kind: z.literal('changePeer'), change: z.enum(['addLearner', 'promote', 'remove']), storeId: z.int().positive(), incarnation: z.string().regex(INCARNATION_PATTERN).optional() }),
  z.object({ kind: z.literal('merge'), sourceId: regionId }),
  z.object({ kind: z.literal('check'), waitMs: z.int().nonnegative().max(600_000).optional() }),
  z.object({ kind: z.literal('backupFence'), backupId: z.string().regex(BACKUP_ID), leaseMs: z.int().positive().max(600_000) }),
]);

const backupOp = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('thaw') }),
  z.object({ kind: z.literal('release') }),
  z.object({ kind: z.literal('read'), regionId, after: bytes.optional(), maxBytes: z.int().positive().max(2 ** 31) }),
]);

const storeRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('write'), regionId, epoch, clientId: z.string().min(1).max(256), seq: z.int().positive(), op: writeOp }),
  z.object({ type: z.literal('read'), regionId, epoch, op: readOp, consistency: z.enum(['linearizable', 'lease', 'follower', 'stale']) }),
  z.object({ type: z.literal('regions') }),
  z.object({ type: z.literal('ident') }),
  z.object({ type: z.literal('admin'), regionId, epoch, op: adminOp }),
  z.object({
    type: z.literal('recovery'),
    op: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('report') }),
      z.object({ kind: z.literal('force'), regionId, lostStoreIds: z.array(z.int().positive().max(STORE_ID_MAX)).min(1).max(1024), waitMs: z.int().nonnegative().max(600_000).optional() }),
    ]),
  }),
  z.object({ type: z.literal('backup'), backupId: z.string().regex(BACKUP_ID), op: backupOp }),
  z.object({ type: z.literal('pdMembers') }),
  z.object({
    type: z.literal('lease'),
    op: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('grant'), ttlMs: z.number() }),
      z.object({ kind: z.literal('keepAlive'), id: z.int().positive() }),
      z.object({ kind: z.literal('timeToLive'), id: z.int().positive() }),
      z.object({ kind: z.literal('revoke'), id: z.int().positive() }),
      z.object({ kind: z.literal('list') }),
    ]),
  }),
]);

const address = z.object({ id: z.int().positive().max(STORE_ID_MAX), url: z.string().min(1).max(512) });
const serverCall = z.discriminatedUnion('t', [
  z.object({ t: z.literal('kv'), r: storeRequest, timeoutMs: z.int().nonnegative().max(86_400_000).optional() }),
  z.object({ t: z.literal('stores') }),
  z.object({ t: z.literal('join'), storeId: z.int().positive().max(STORE_ID_MAX).optional(), url: z.string().min(1).max(512), replaces: z.int().positive().max(STORE_ID_MAX).optional() }),
  z.object({ t: z.literal('announce'), stores: z.array(address).max(1024) }),
  z.object({ t: z.literal('storeState'), storeId: z.int().positive().max(STORE_ID_MAX), state: z.enum(['up', 'offline', 'tombstone']) }),
  z.object({ t: z.literal('seen'), storeId: z.int().positive().max(STORE_ID_MAX) }),
  z.object({ t: z.literal('auth'), change: authChangeSchema }),
  z.object({ t: z.literal('authGet') }),
]);

/**
 * A copy of `value` without `undefined` object fields: MessagePack has no undefined (it would
 * become nil, which the schema refuses for an optional field). Byte arrays are kept as they are.
 */
function withoutUndefined(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(withoutUndefined);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
  return out;
}

/** Nesting and value limits of a call's MessagePack (the deepest call nests 6 levels). */
const CALL_SCAN_LIMITS: ScanLimits = { depthMax: 16, valuesMax: DEFAULT_FRAME_LIMITS.valuesMax };

/** Encodes a call for a request item. */
export function encodeCall(call: ServerCall): Uint8Array {
  return packValue(withoutUndefined(call)).slice();
}

/**
 * Decodes and validates a call from a request item's payload.
 * @returns the call, or an {@link InvalidArgumentError} saying what was wrong (never throws).
 */
export function decodeCall(payload: Uint8Array): ServerCall | InvalidArgumentError {
  // A call is bytes inside a frame, not scanned with it: scan it here, so that msgpackr never
  // recurses into hostile nesting nor builds an array for more values than a frame may hold.
  const problem = scanMsgpack(payload, CALL_SCAN_LIMITS);
  if (problem !== null) return new InvalidArgumentError('request', `not well-formed MessagePack: ${problem}`);
  let raw: unknown;
  try {
    raw = unpackValue(payload);
  } catch (e) {
    return new InvalidArgumentError('request', `not MessagePack: ${String(e).slice(0, 120)}`);
  }
  const parsed = serverCall.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return new InvalidArgumentError(`request${issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}`, issue.message);
  }
  return parsed.data as ServerCall;
}

/** A write's outcome carries a typed error: it crosses the wire as data. */
function valueToWire(value: unknown): unknown {
  const outcome = value as ApplyOutcome | undefined;
  if (outcome && typeof outcome === 'object' && 'ok' in outcome && outcome.ok === false && outcome.error instanceof FlotillaError) {
    return { ok: false, error: errorToData(outcome.error) };
  }
  return value;
}

function valueFromWire(value: unknown): unknown {
  const v = value as { ok?: unknown; error?: ErrorData } | undefined;
  if (v && typeof v === 'object' && v.ok === false && v.error && typeof v.error === 'object' && typeof v.error.code === 'string') {
    return { ok: false, error: errorFromData(v.error) };
  }
  return value;
}

/**
 * Encodes an answer: a value, or an error. A {@link FlotillaError} keeps its class across the
 * wire; any other error becomes `OutcomeUnknown` (the server cannot say whether a write applied).
 */
export function encodeAnswer(result: { ok: true; value: unknown } | { ok: false; error: unknown }): Uint8Array {
  if (result.ok) return packValue({ ok: true, v: valueToWire(result.value) }).slice();
  const e = result.error instanceof FlotillaError ? result.error : new OutcomeUnknownError(`the server failed: ${String(result.error).slice(0, 200)}`);
  return packValue({ ok: false, e: errorToData(e) }).slice();
}

const answerSchema = z.union([
  z.object({ ok: z.literal(true), v: z.unknown() }),
  z.object({ ok: z.literal(false), e: z.object({ code: z.string(), message: z.string(), fields: z.record(z.string(), z.unknown()) }) }),
]);

/**
 * Decodes an answer: resolves to the value or returns the typed error to throw.
 * @returns `{ ok: true, value }` or `{ ok: false, error }` (a malformed answer is an `OutcomeUnknown`).
 */
export function decodeAnswer(payload: Uint8Array): { ok: true; value: unknown } | { ok: false; error: FlotillaError } {
  let parsed: ReturnType<typeof answerSchema.safeParse>;
  try {
    parsed = answerSchema.safeParse(unpackValue(payload));
  } catch {
    return { ok: false, error: new OutcomeUnknownError('the server sent an unreadable answer') };
  }
  if (!parsed.success) return { ok: false, error: new OutcomeUnknownError('the server sent a malformed answer') };
  const a = parsed.data;
  if (a.ok) return { ok: true, value: valueFromWire(a.v) };
  return { ok: false, error: errorFromData(a.e as ErrorData) };
}
