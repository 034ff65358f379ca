/**
 * Client sessions: the table that makes a retried write apply at most once (Raft thesis §6.3).
 *
 * For each region and client the state machine keeps the latest `(seq, result)` it applied and
 * the region time (`nowMs`) it was last touched. A command whose `seq` equals the remembered one
 * gets the remembered result without being applied again; a lower `seq` gets `StaleCommand` (it
 * was applied or superseded, its result is gone); a higher one is applied and remembered. Commands
 * that fail with a typed error change nothing and are not remembered (a retry fails the same way
 * or, if the state changed meanwhile, applies once).
 *
 * Bounded deterministically: the leader proposes `expireSessions { idleMs, limit }` now and then
 * (say every `idleMs / 2` of region time); applying it forgets up to `limit` sessions whose
 * `lastSeenMs + idleMs <= nowMs`, judged by the command's `nowMs`, never a local clock. A client
 * must stop retrying a write long before `idleMs` (its retry deadline << idleMs; default
 * {@link DEFAULT_SESSION_IDLE_MS} against seconds of retries), or a retry after expiry would
 * apply again.
 *
 * Sessions live per region (`c` + regionId + clientId). A split copies the parent's sessions to
 * the child (a retry may reach either half); a merge keeps, per client, the session with the
 * higher `seq`. {@link copySessions} does both.
 */
import { packOwned } from '../codec/msgpack.ts';
import { CorruptCommandError } from '../errors.ts';
import { nextKey } from '../region/keys.ts';
import type { WriteOp } from '../ports.ts';
import { unpackRecord } from './codec.ts';
import type { KvWriteResult } from './commands.ts';
import { sessionClientId, sessionKey, sessionRange } from './keys.ts';
import type { KvReader, WriteOverlay } from './overlay.ts';

/** The idle time after which the store should let sessions expire: ten minutes of region time. */
export const DEFAULT_SESSION_IDLE_MS = 10 * 60 * 1000;

/** What a region remembers of one client. */
export interface Session {
  /** The highest `seq` applied for this client in this region. */
  seq: number;
  /** Region time of that command. */
  lastSeenMs: number;
  /** Its result, returned again to a retry with the same `seq`. */
  result: KvWriteResult;
}

/**
 * Encodes a session record.
 * @param session - the record.
 */
export function encodeSession(session: Session): Uint8Array {
  return packOwned([session.seq, session.lastSeenMs, session.result]);
}

/**
 * Decodes a session record; throws {@link CorruptCommandError} when it is not one.
 * @param bytes - what {@link encodeSession} produced.
 */
export function decodeSession(bytes: Uint8Array): Session {
  const raw = unpackRecord(bytes, 'session record');
  if (!Array.isArray(raw) || raw.length !== 3 || !Number.isSafeInteger(raw[0]) || !Number.isSafeInteger(raw[1])) {
    throw new CorruptCommandError('session record must be [seq, lastSeenMs, result]');
  }
  return { seq: raw[0] as number, lastSeenMs: raw[1] as number, result: raw[2] as KvWriteResult };
}

/**
 * The session of a client in a region, or undefined.
 * @param view - the state to read.
 * @param regionId - the region.
 * @param clientId - the client's id as UTF-8 bytes.
 */
export async function readSession(view: KvReader, regionId: number, clientId: Uint8Array): Promise<Session | undefined> {
  const bytes = await view.get(sessionKey(regionId, clientId));
  return bytes === undefined ? undefined : decodeSession(bytes);
}

/**
 * Forgets up to `limit` sessions of the region idle since `nowMs - idleMs` or earlier. Returns how many.
 * @param overlay - where to stage the deletes.
 * @param regionId - the region.
 * @param nowMs - the command's region time.
 * @param idleMs - how long a session may stay idle.
 * @param limit - most sessions to forget in this call.
 */
export async function expireSessions(overlay: WriteOverlay, regionId: number, nowMs: number, idleMs: number, limit: number): Promise<number> {
  const range = sessionRange(regionId);
  let expired = 0;
  let start = range.start;
  // Pages bound the memory held at once; the scan ends at the region's last session.
  for (;;) {
    const page = await overlay.scan({ start, end: range.end, limit: 256 });
    for (const kv of page) {
      if (decodeSession(kv.value).lastSeenMs + idleMs <= nowMs) {
        overlay.delete(kv.key);
        if (++expired >= limit) return expired;
      }
    }
    if (page.length < 256) return expired;
    start = nextKey(page[page.length - 1].key);
  }
}

/**
 * The writes that give region `toRegionId` the sessions of region `fromRegionId`: on split (child
 * gets the parent's sessions) and on merge (the surviving region gets the retired one's). Where
 * both regions know a client, the session with the higher `seq` is kept. Returns the ops to add
 * to the batch that applies the split or merge; they do not remove the source's sessions
 * (delete `sessionRange(fromRegionId)` when retiring a region).
 * @param view - the state to read (with the earlier writes of the batch visible).
 * @param fromRegionId - the region whose sessions are copied.
 * @param toRegionId - the region receiving them.
 */
export async function copySessions(view: KvReader, fromRegionId: number, toRegionId: number): Promise<WriteOp[]> {
  const ops: WriteOp[] = [];
  for (const kv of await view.scan(sessionRange(fromRegionId))) {
    const clientId = sessionClientId(kv.key);
    const theirs = await readSession(view, toRegionId, clientId);
    if (theirs !== undefined && theirs.seq >= decodeSession(kv.value).seq) continue;
    ops.push({ type: 'put', key: sessionKey(toRegionId, clientId), value: kv.value.slice() });
  }
  return ops;
}
