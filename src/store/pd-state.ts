/**
 * The placement driver's replicated state: the id allocator, the stores and the region metadata,
 * kept by PD's own Raft group (hosted on the first stores) under the engine prefix 0x03. Heartbeats
 * are not replicated (they are soft state, rebuilt by a new PD leader); what a PD leader must never
 * lose or hand out twice is.
 *
 * | key                     | value                                       |
 * |-------------------------|---------------------------------------------|
 * | 0x03 0x01               | the next id to allocate (u64)               |
 * | 0x03 0x02 + u64 storeId | a store: `{id, state}`                      |
 * | 0x03 0x03 + u64 regionId| a region as PD last accepted it             |
 * | 0x03 0x04               | the auth table (`src/auth/table.ts`)        |
 * | 0x03 0x05 + u64 leaseId | a lease: `{id, ttlMs, state}` (`src/pd/lease-table.ts`) |
 */
import { z } from 'zod';
import { packOwned, unpackValue } from '../codec/msgpack.ts';
import { CorruptCommandError } from '../errors.ts';
import { encodeU64 } from '../kv/keys.ts';
import type { KvReader, WriteOverlay } from '../kv/overlay.ts';
import type { WriteOp } from '../ports.ts';
import type { StoreState } from '../pd/types.ts';
import type { Region } from '../region/types.ts';
import { regionSchema } from './records.ts';
import { type AuthChange, type AuthTable, applyAuthChange, authChangeSchema, decodeAuthTable, EMPTY_AUTH_TABLE, encodeAuthTable } from '../auth/table.ts';

export const PD_PREFIX = 0x03;
/** The id of PD's Raft group (a "system" region that serves no keys). */
export const PD_GROUP_ID = Number.MAX_SAFE_INTEGER;
/** PD's peer on store `s` has id `PD_PEER_BASE + s`. */
export const PD_PEER_BASE = 2 ** 50;

/** The PD group's region record for the given PD stores. */
export function pdGroupRegion(pdStoreIds: readonly number[]): Region {
  return {
    id: PD_GROUP_ID,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
    epoch: { confVer: 1, version: 1 },
    peers: pdStoreIds.map((s) => ({ id: PD_PEER_BASE + s, storeId: s, role: 'voter' as const })),
  };
}

/** Every pair of PD's state, for a snapshot of its group. */
export async function snapshotPdState(view: KvReader): Promise<Uint8Array> {
  const rows = await view.scan({ start: Uint8Array.of(PD_PREFIX), end: Uint8Array.of(PD_PREFIX + 1) });
  return packOwned(rows.map((r) => [r.key, r.value]));
}

/** The writes that replace PD's state by a snapshot's; throws {@link CorruptCommandError} for bad bytes. */
export function restorePdState(bytes: Uint8Array): WriteOp[] {
  const parsed = z.array(z.tuple([z.instanceof(Uint8Array), z.instanceof(Uint8Array)])).safeParse(unpackValue(bytes));
  if (!parsed.success) throw new CorruptCommandError('PD snapshot is malformed');
  const ops: WriteOp[] = [{ type: 'deleteRange', start: Uint8Array.of(PD_PREFIX), end: Uint8Array.of(PD_PREFIX + 1) }];
  for (const [k, v] of parsed.data) {
    if (k[0] !== PD_PREFIX) throw new CorruptCommandError('PD snapshot holds a key outside PD state');
    ops.push({ type: 'put', key: k, value: v });
  }
  return ops;
}
const NEXT_ID = Uint8Array.of(PD_PREFIX, 0x01);
const STORE = 0x02;
const REGION = 0x03;
const AUTH_TABLE = Uint8Array.of(PD_PREFIX, 0x04);
const LEASE = 0x05;
/** The longest lease PD grants: a day (a longer-lived key should not hang on a lease). */
export const LEASE_TTL_MS_MAX = 24 * 60 * 60 * 1000;

/** A lease as PD records it; its expiry is PD leader memory, not replicated (docs/leases.md). */
export interface PdLeaseRecord {
  id: number;
  ttlMs: number;
  /** `revoking`: expired or revoked; PD's leader is having every region delete its keys. */
  state: 'active' | 'revoking';
}

const leaseRecordSchema = z.object({ id: z.number().int().positive(), ttlMs: z.number().int().positive(), state: z.enum(['active', 'revoking']) });

function decodeLease(bytes: Uint8Array): PdLeaseRecord | undefined {
  const r = leaseRecordSchema.safeParse(unpackValue(bytes));
  return r.success ? r.data : undefined;
}

/** Reads one lease PD recorded; undefined when there is none (or its record is damaged). */
export async function loadLease(view: KvReader, id: number): Promise<PdLeaseRecord | undefined> {
  const b = await view.get(key(LEASE, id));
  return b ? decodeLease(b) : undefined;
}

/** Reads every lease PD recorded, in id order. Skips damaged records. */
export async function loadLeases(view: KvReader): Promise<PdLeaseRecord[]> {
  const out: PdLeaseRecord[] = [];
  for (const kv of await view.scan({ start: Uint8Array.of(PD_PREFIX, LEASE), end: Uint8Array.of(PD_PREFIX, LEASE + 1) })) {
    const lease = decodeLease(kv.value);
    if (lease) out.push(lease);
  }
  return out;
}
/** Ids below this are left to bootstrap (initial regions and peers). */
export const FIRST_ALLOCATED_ID = 1_000_000;

/** A store as PD records it. */
export interface PdStoreRecord {
  id: number;
  state: StoreState;
}

/** A command of PD's Raft group. */
export type PdCommand =
  | { type: 'allocIds'; count: number }
  | { type: 'putStore'; store: PdStoreRecord }
  | { type: 'putRegion'; region: Region }
  | { type: 'removeRegion'; regionId: number }
  /** A change to the users, roles or the auth switch. */
  | { type: 'auth'; change: AuthChange }
  /** Grants a lease with a fresh id from the allocator (docs/leases.md). */
  | { type: 'leaseGrant'; ttlMs: number }
  /** Marks a lease revoking: PD's leader then has every region delete its keys. */
  | { type: 'leaseRevoke'; id: number }
  /** Forgets a revoked lease once every region deleted its keys. */
  | { type: 'leaseForget'; id: number };

const pos = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const schema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('allocIds'), count: pos.max(100_000) }),
  z.object({ type: z.literal('putStore'), store: z.object({ id: pos, state: z.enum(['up', 'offline', 'tombstone']) }) }),
  z.object({ type: z.literal('putRegion'), region: regionSchema }),
  z.object({ type: z.literal('removeRegion'), regionId: pos }),
  z.object({ type: z.literal('auth'), change: authChangeSchema }),
  z.object({ type: z.literal('leaseGrant'), ttlMs: pos.max(LEASE_TTL_MS_MAX) }),
  z.object({ type: z.literal('leaseRevoke'), id: pos }),
  z.object({ type: z.literal('leaseForget'), id: pos }),
]);

/** Encodes a PD command for its log. */
export function encodePdCommand(cmd: PdCommand): Uint8Array {
  return packOwned(cmd);
}

/** Decodes and validates a PD command; throws {@link CorruptCommandError} otherwise. */
export function decodePdCommand(bytes: Uint8Array): PdCommand {
  let raw: unknown;
  try {
    raw = unpackValue(bytes);
  } catch (e) {
    throw new CorruptCommandError(`PD command is not MessagePack: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new CorruptCommandError(`PD command is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data as PdCommand;
}

function key(kind: number, id: number): Uint8Array {
  const out = new Uint8Array(10);
  out[0] = PD_PREFIX;
  out[1] = kind;
  out.set(encodeU64(id), 2);
  return out;
}

function readU64(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4);
}

/**
 * What applying a PD command answers: a range of fresh ids for `allocIds`; for `auth` the new
 * table, or why the change was refused (nothing written); nothing otherwise.
 */
export type PdResult =
  | { start: number; end: number }
  | { auth: AuthTable }
  | { authRefused: string; argument: string }
  /** `leaseGrant`: the lease; `leaseRevoke`: the lease now revoking, or `lease: null` when there is none. */
  | { lease: PdLeaseRecord | null }
  | undefined;

/** Reads the auth table PD recorded (the empty table when none was ever written). */
export async function loadAuthTable(view: KvReader): Promise<AuthTable> {
  const b = await view.get(AUTH_TABLE);
  return b ? decodeAuthTable(b) : EMPTY_AUTH_TABLE;
}

/** Applies a committed PD command into `overlay`. Deterministic: the same on every PD replica. */
export async function applyPdCommand(overlay: WriteOverlay, cmd: PdCommand): Promise<PdResult> {
  switch (cmd.type) {
    case 'allocIds': {
      const cur = await overlay.get(NEXT_ID);
      const start = cur ? readU64(cur) : FIRST_ALLOCATED_ID;
      overlay.put(NEXT_ID, encodeU64(start + cmd.count));
      return { start, end: start + cmd.count };
    }
    case 'putStore':
      overlay.put(key(STORE, cmd.store.id), packOwned(cmd.store));
      return undefined;
    case 'putRegion':
      overlay.put(key(REGION, cmd.region.id), packOwned(cmd.region));
      return undefined;
    case 'removeRegion':
      overlay.delete(key(REGION, cmd.regionId));
      return undefined;
    case 'auth': {
      const result = applyAuthChange(await loadAuthTable(overlay), cmd.change);
      if (!result.ok) return { authRefused: result.error.message, argument: result.error.argument };
      overlay.put(AUTH_TABLE, encodeAuthTable(result.table));
      return { auth: result.table };
    }
    case 'leaseGrant': {
      // The id comes from the same allocator as region and peer ids, in the same entry: one id, once.
      const cur = await overlay.get(NEXT_ID);
      const id = cur ? readU64(cur) : FIRST_ALLOCATED_ID;
      overlay.put(NEXT_ID, encodeU64(id + 1));
      const lease: PdLeaseRecord = { id, ttlMs: cmd.ttlMs, state: 'active' };
      overlay.put(key(LEASE, id), packOwned(lease));
      return { lease };
    }
    case 'leaseRevoke': {
      const lease = await loadLease(overlay, cmd.id);
      if (lease === undefined) return { lease: null };
      const revoking: PdLeaseRecord = { ...lease, state: 'revoking' };
      overlay.put(key(LEASE, cmd.id), packOwned(revoking));
      return { lease: revoking };
    }
    case 'leaseForget':
      overlay.delete(key(LEASE, cmd.id));
      return undefined;
  }
}

/** Loads the stores and regions PD recorded (a new PD leader starts from them). Skips damaged records. */
export async function loadPdState(view: KvReader): Promise<{ stores: PdStoreRecord[]; regions: Region[] }> {
  const stores: PdStoreRecord[] = [];
  const regions: Region[] = [];
  for (const kv of await view.scan({ start: Uint8Array.of(PD_PREFIX, STORE), end: Uint8Array.of(PD_PREFIX, STORE + 1) })) {
    const s = z.object({ id: pos, state: z.enum(['up', 'offline', 'tombstone']) }).safeParse(unpackValue(kv.value));
    if (s.success) stores.push(s.data);
  }
  for (const kv of await view.scan({ start: Uint8Array.of(PD_PREFIX, REGION), end: Uint8Array.of(PD_PREFIX, REGION + 1) })) {
    const r = regionSchema.safeParse(unpackValue(kv.value));
    if (r.success) regions.push(r.data as Region);
  }
  return { stores, regions };
}
