/**
 * KvStateMachine: applies committed KV commands of one region to the shared storage engine
 * (RheaKV's `KVStoreStateMachine`), and serves reads from the applied state.
 *
 * How the store drives it, once per loop turn:
 * ```ts
 * const overlay = new WriteOverlay(engine);
 * for (const entry of committedEntries) {            // across all regions of the store
 *   const outcome = await sm.applyEntry(overlay, currentRegion(entry), entry.data);
 *   answer(entry, outcome);                          // after the batch below is written
 * }
 * await engine.write([...overlay.toWriteOps(), ...applyStateOps]);
 * ```
 * Commands applied into the same overlay read each other's writes, and the turn ends in ONE
 * engine batch (flush earlier when `overlay.opCount`/`byteSize` near the engine's batch limits).
 * `currentRegion` must reflect splits applied earlier in the same turn. When the store applies a
 * split entry it also stages `overlay.stage(await copySessions(overlay, parentId, childId))`; a
 * merge stages `copySessions(overlay, sourceId, targetId)` and deletes `sessionRange(sourceId)`.
 *
 * `apply` is deterministic: it depends only on the state, the region and the command (time comes
 * from `command.nowMs`), and checks values against the fixed `HARD_KV_LIMITS`, so every replica
 * answers alike. A failing command returns `{ ok: false, error }` and stages nothing. Storage read
 * errors are thrown: the store must stop the replica (RheaKV's critical state machine error).
 */
import { FlotillaError, InvalidArgumentError, StaleCommandError, ValueTooLargeError } from '../errors.ts';
import { encodeUtf8 } from '../codec/utf8.ts';
import { decodeKvCommand } from './codec.ts';
import type { KvCommand, KvReadOp, KvReadResult, KvWriteOp, KvWriteResult, SequenceRange } from './commands.ts';
import { compactHistory, type KeyChange, keysInDataRange, recordChanges } from './history.ts';
import { DATA_PREFIX, dataKey, decodeKey, prefixedRange, sequenceKey, sessionKey } from './keys.ts';
import { attachLease, detachWritten, revokeLeaseKeys } from './leases.ts';
import { HARD_KV_LIMITS, type KvLimits, resolveKvLimits } from './limits.ts';
import { renewLock, tryLock, unlock } from './locks.ts';
import type { KvReader, WriteOverlay } from './overlay.ts';
import { encodeSequence, executeRead, readSequence } from './read.ts';
import { encodeSession, expireSessions, readSession } from './sessions.ts';
import { executeTxn } from './txn.ts';
import { checkOpInRegion, validateKvCommand, validateReadOp } from './validate.ts';

/** Most client ids whose encoding the state machine keeps; the cache starts over when full. */
const CLIENT_ID_CACHE_MAX = 1024;

/** Writes that, once validated and found in the region, stage their writes without reading or failing. */
const INFALLIBLE: ReadonlySet<KvWriteOp['type']> = new Set(['put', 'delete', 'batchPut', 'batchDelete']);

/** The region as the state machine needs it: its id and current range. */
export interface RegionRange {
  id: number;
  startKey: Uint8Array;
  endKey: Uint8Array;
}

/** What applying a command produced. */
export type ApplyOutcome =
  /** Applied (or, with `deduplicated`, applied earlier and answered from the session table). */
  | { ok: true; result: KvWriteResult; deduplicated: boolean }
  /** Refused with a typed error; nothing was staged. */
  | { ok: false; error: FlotillaError };

/** Options of {@link KvStateMachine}. */
export interface KvStateMachineOptions {
  /** Limits of reads (`scanLimitMax`, `keyBytesMax`, ...); writes are re-checked against `HARD_KV_LIMITS`. */
  limits?: Partial<KvLimits>;
}

function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | null): boolean {
  if (a === undefined || b === null) return a === undefined && b === null;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(a: Uint8Array, sep: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + sep.length + b.length);
  out.set(a);
  out.set(sep, a.length);
  out.set(b, a.length + sep.length);
  return out;
}

/** The KV state machine of the regions of one store. Stateless itself: all state is in the engine. */
export class KvStateMachine {
  /** The resolved limits for reads. */
  readonly limits: KvLimits;
  /** Encoded client ids (see {@link KvStateMachine.clientIdBytes}). Invariant: size <= CLIENT_ID_CACHE_MAX. */
  private readonly clientIds = new Map<string, Uint8Array>();

  /**
   * Creates a state machine.
   * @param options - read limits.
   */
  constructor(options: KvStateMachineOptions = {}) {
    this.limits = resolveKvLimits(options.limits);
  }

  /**
   * Decodes a committed entry's data and applies it. Throws `CorruptCommandError` when the bytes
   * are not a command (a corrupt log: stop the replica).
   * @param overlay - the turn's pending writes over the engine.
   * @param region - the region's current id and range.
   * @param data - the entry's data, as `encodeKvCommand` produced it.
   */
  applyEntry(overlay: WriteOverlay, region: RegionRange, data: Uint8Array): Promise<ApplyOutcome> {
    return this.apply(overlay, region, decodeKvCommand(data));
  }

  /**
   * Applies one command: re-validates it, answers a retried `seq` from the session table, checks
   * that its keys are in the region, then stages its writes and the client's session in `overlay`.
   * @param overlay - the turn's pending writes over the engine.
   * @param region - the region's current id and range.
   * @param command - the committed command.
   */
  async apply(overlay: WriteOverlay, region: RegionRange, command: KvCommand): Promise<ApplyOutcome> {
    try {
      validateKvCommand(command, HARD_KV_LIMITS);
      const clientId = command.clientId === '' ? undefined : this.clientIdBytes(command.clientId);
      if (clientId !== undefined) {
        const session = await readSession(overlay, region.id, clientId);
        if (session !== undefined && command.seq === session.seq) return { ok: true, result: session.result, deduplicated: true };
        if (session !== undefined && command.seq < session.seq) {
          return { ok: false, error: new StaleCommandError(command.clientId, command.seq, session.seq) };
        }
      }
      checkOpInRegion(command.op, region);
      // Plain puts and deletes cannot fail once validated and in range: they stage straight into
      // the turn's overlay. Anything else stages into a child, merged only if the command succeeds.
      const direct = INFALLIBLE.has(command.op.type);
      // MVCC history (history.ts): a plain write's changes are known from the op, and recorded
      // before it stages (they read the values it replaces); any other command's are read back
      // from its staged writes, before they merge.
      if (direct) await recordChanges(overlay, overlay, region, directChanges(command.op), command.nowMs);
      const staged = direct ? overlay : overlay.child();
      const result = await execute(staged, region, command.op, command.nowMs);
      // A write that sets or deletes keys without naming a lease detaches them from theirs (leases.ts).
      if (command.op.type !== 'leasePut' && command.op.type !== 'revokeLease') await detachWritten(staged, region, command.op, result);
      if (!direct) await recordChanges(overlay, staged, region, await stagedChanges(overlay, staged), command.nowMs);
      if (clientId !== undefined) {
        staged.put(sessionKey(region.id, clientId), encodeSession({ seq: command.seq, lastSeenMs: command.nowMs, result }));
      }
      if (!direct) staged.mergeInto(overlay);
      return { ok: true, result, deduplicated: false };
    } catch (e) {
      if (e instanceof FlotillaError && e.code !== 'CorruptCommand') return { ok: false, error: e };
      throw e;
    }
  }

  /**
   * The UTF-8 bytes of a client id, from a small cache: the same few clients write over and over,
   * and encoding their id for every applied command showed in profiles. The bytes are only read.
   */
  private clientIdBytes(clientId: string): Uint8Array {
    let bytes = this.clientIds.get(clientId);
    if (bytes === undefined) {
      if (this.clientIds.size >= CLIENT_ID_CACHE_MAX) this.clientIds.clear();
      bytes = encodeUtf8(clientId);
      this.clientIds.set(clientId, bytes);
    }
    return bytes;
  }

  /**
   * Serves a read from applied state (after ReadIndex, under a lease, or stale by choice).
   * Throws a typed error for a bad op or keys outside the region.
   * @param view - the engine (or a snapshot of it).
   * @param region - the region's current id and range.
   * @param op - the read.
   */
  async read(view: KvReader, region: RegionRange, op: KvReadOp): Promise<KvReadResult> {
    validateReadOp(op, this.limits);
    checkOpInRegion(op, region);
    return executeRead(view, op, this.limits, region.id);
  }
}

/** The data changes of a put, delete, batchPut or batchDelete, in order. */
function directChanges(op: KvWriteOp): KeyChange[] {
  switch (op.type) {
    case 'put':
      return [{ key: op.key, value: op.value }];
    case 'delete':
      return [{ key: op.key, value: undefined }];
    case 'batchPut':
      return op.entries.map((e) => ({ key: e.key, value: e.value }));
    case 'batchDelete':
      return op.keys.map((key) => ({ key, value: undefined }));
    default:
      return [];
  }
}

/** The data changes a command staged in `staged` (a child of `before`): range deletes first, then its puts and deletes. */
async function stagedChanges(before: WriteOverlay, staged: WriteOverlay): Promise<KeyChange[]> {
  const { writes, ranges } = staged.stagedUnder(DATA_PREFIX);
  const out: KeyChange[] = [];
  for (const r of ranges) for (const key of await keysInDataRange(before, r.start, r.end)) out.push({ key, value: undefined });
  for (const w of writes) out.push({ key: decodeKey(w.key), value: w.value });
  return out;
}

async function getSequence(staged: WriteOverlay, key: Uint8Array, step: number): Promise<SequenceRange> {
  const startValue = await readSequence(staged, key);
  const endValue = startValue + step;
  if (!Number.isSafeInteger(endValue)) throw new InvalidArgumentError('step', `sequence at ${startValue} would pass 2^53 - 1; reset it or use a smaller step`);
  if (step > 0) staged.put(sequenceKey(key), encodeSequence(endValue));
  return { startValue, endValue };
}

async function execute(staged: WriteOverlay, region: RegionRange, op: KvWriteOp, nowMs: number): Promise<KvWriteResult> {
  switch (op.type) {
    case 'put':
      staged.put(dataKey(op.key), op.value);
      return true;
    case 'getAndPut': {
      const prev = await staged.get(dataKey(op.key));
      staged.put(dataKey(op.key), op.value);
      return prev ?? null;
    }
    case 'compareAndPut': {
      const swap = bytesEqual(await staged.get(dataKey(op.key)), op.expect);
      if (swap) staged.put(dataKey(op.key), op.update);
      return swap;
    }
    case 'putIfAbsent': {
      const prev = await staged.get(dataKey(op.key));
      if (prev === undefined) staged.put(dataKey(op.key), op.value);
      return prev ?? null;
    }
    case 'merge': {
      const prev = await staged.get(dataKey(op.key));
      const next = prev === undefined ? op.value : concat(prev, op.separator, op.value);
      if (next.length > HARD_KV_LIMITS.valueBytesMax) throw new ValueTooLargeError('merged value', next.length, HARD_KV_LIMITS.valueBytesMax);
      staged.put(dataKey(op.key), next);
      return true;
    }
    case 'delete':
      staged.delete(dataKey(op.key));
      return true;
    case 'deleteRange': {
      const r = prefixedRange(DATA_PREFIX, op.start, op.end);
      staged.deleteRange(r.start, r.end);
      return true;
    }
    case 'batchPut':
      for (const e of op.entries) staged.put(dataKey(e.key), e.value);
      return true;
    case 'batchDelete':
      for (const k of op.keys) staged.delete(dataKey(k));
      return true;
    case 'batchCompareAndPut': {
      // Every comparison sees the state before the batch; any failure writes nothing.
      for (const e of op.entries) if (!bytesEqual(await staged.get(dataKey(e.key)), e.expect)) return false;
      for (const e of op.entries) staged.put(dataKey(e.key), e.update);
      return true;
    }
    case 'getSequence':
      return getSequence(staged, op.key, op.step);
    case 'resetSequence':
      staged.delete(sequenceKey(op.key));
      return true;
    case 'tryLock':
      return tryLock(staged, op.key, op.owner, op.leaseMs, nowMs);
    case 'renewLock':
      return renewLock(staged, op.key, op.owner, op.leaseMs, nowMs);
    case 'unlock':
      return unlock(staged, op.key, op.owner, nowMs);
    case 'expireSessions':
      return expireSessions(staged, region.id, nowMs, op.idleMs, op.limit);
    case 'txn':
      return executeTxn(staged, op);
    case 'leasePut':
      await attachLease(staged, region.id, op.key, op.lease);
      staged.put(dataKey(op.key), op.value);
      return true;
    case 'revokeLease': {
      // The keys go as an ordinary batchDelete, so every observer of deletes (watch) sees them.
      const keys = await revokeLeaseKeys(staged, region, op.lease);
      if (keys.length > 0) await execute(staged, region, { type: 'batchDelete', keys }, nowMs);
      return { deleted: keys.length, startKey: region.startKey.slice(), endKey: region.endKey.slice() };
    }
    case 'compact':
      return compactHistory(staged, region, op.revision);
  }
}
