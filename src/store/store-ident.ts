/**
 * A store's identity and what it remembers of the other stores' identities (issue 22: a store
 * restarted on an empty data directory must not count as the voter it used to be).
 *
 * Every storage engine a store runs on carries, before anything else is written to it, the store's
 * identity: cluster id, store id and a random **incarnation**. The incarnation lives in the same
 * engine as the Raft state, so the two are lost together: a wiped, replaced or unmounted volume
 * comes back with no identity, gets a new incarnation, and is recognisably not the replica set
 * that voted and acknowledged writes before. (TiKV's `StoreIdent`, CockroachDB's store ident.)
 *
 * Each store also remembers, durably in its own engine, the first incarnation it saw of every
 * other store (trust on first use). A replica on a store whose incarnation no longer matches is
 * refused: see `incarnation-guard.ts`.
 *
 * | key                          | value                                       |
 * |------------------------------|---------------------------------------------|
 * | 0x04 0x01                    | this store's identity (msgpack map)         |
 * | 0x04 0x02 + u64 storeId      | the first incarnation seen of that store    |
 */
import { z } from 'zod';
import { packOwned, unpackValue } from '../codec/msgpack.ts';
import { writeU64 } from '../kv/keys.ts';
import type { Rand, StorageEngine } from '../ports.ts';

/** Prefix of the store-local identity records. */
export const IDENT_PREFIX = 0x04;
const OWN = 0x01;
const SEEN = 0x02;

/** Longest incarnation accepted (from disk, the handshake or a configuration change). */
export const INCARNATION_CHARS_MAX = 64;

/** Who the data in one storage engine belongs to. */
export interface StoreIdent {
  clusterId: string;
  storeId: number;
  /** Random, chosen when the engine was first used; never changes while its data lives. */
  incarnation: string;
}

/** Why a store's identity was refused. */
export type StoreIdentErrorCode = 'IdentityMismatch' | 'BootstrapRefused' | 'StoreReplaced';

/** A store identity problem: the data belongs to another store or cluster, or a bootstrap is unsafe. */
export class StoreIdentError extends Error {
  readonly code: StoreIdentErrorCode;
  constructor(code: StoreIdentErrorCode, message: string) {
    super(message);
    this.name = 'StoreIdentError';
    this.code = code;
  }
}

const identSchema = z.object({
  clusterId: z.string().min(1).max(128),
  storeId: z.int().positive(),
  incarnation: z.string().min(1).max(INCARNATION_CHARS_MAX),
});

/** Key of this store's identity. */
export function ownIdentKey(): Uint8Array {
  return Uint8Array.of(IDENT_PREFIX, OWN);
}

/** Key of the first incarnation seen of `storeId`. */
export function seenIncarnationKey(storeId: number): Uint8Array {
  const out = new Uint8Array(10);
  out[0] = IDENT_PREFIX;
  out[1] = SEEN;
  writeU64(out, 2, storeId);
  return out;
}

/** A fresh incarnation: 64 random bits as 16 hex digits. */
export function newIncarnation(rand: Pick<Rand, 'int'>): string {
  const part = () => rand.int(2 ** 32).toString(16).padStart(8, '0');
  return `${part()}${part()}`;
}

/**
 * Reads the identity recorded in `engine`, if any.
 * @throws Error when the record is damaged (never silently replaced: that would forge a new incarnation for old data).
 */
export async function loadStoreIdent(engine: StorageEngine): Promise<StoreIdent | undefined> {
  const raw = await engine.get(ownIdentKey());
  if (!raw) return undefined;
  const parsed = identSchema.safeParse(unpackValue(raw));
  if (!parsed.success) throw new Error(`the store identity record is damaged: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * Returns the identity recorded in `engine`, recording `fresh` (synced) first when there is none.
 * An engine that already holds Raft state but no identity (written before identities existed) gets
 * one too: its state is its own, so a new incarnation for it is the truth from now on.
 * @param engine - the store's storage engine.
 * @param want - the cluster and store the caller expects, and the incarnation to use if none is recorded.
 * @throws {@link StoreIdentError} `IdentityMismatch` when the engine belongs to another store or cluster.
 */
export async function ensureStoreIdent(engine: StorageEngine, want: StoreIdent): Promise<StoreIdent> {
  const known = await loadStoreIdent(engine);
  if (known) {
    if (known.storeId !== want.storeId) throw new StoreIdentError('IdentityMismatch', `the data belongs to store ${known.storeId}, not store ${want.storeId}: start it with --id ${known.storeId}, or use another data directory`);
    if (known.clusterId !== want.clusterId) throw new StoreIdentError('IdentityMismatch', `the data belongs to cluster ${JSON.stringify(known.clusterId)}, not ${JSON.stringify(want.clusterId)} (--cluster)`);
    return known;
  }
  const ident = identSchema.parse(want);
  await engine.write([{ type: 'put', key: ownIdentKey(), value: packOwned(ident) }], { sync: true });
  return ident;
}

/** Every first-seen incarnation recorded in `engine`, by store id. */
export async function loadSeenIncarnations(engine: StorageEngine): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const rows = await engine.scan({ start: Uint8Array.of(IDENT_PREFIX, SEEN), end: Uint8Array.of(IDENT_PREFIX, SEEN + 1) });
  for (const row of rows) {
    const view = new DataView(row.key.buffer, row.key.byteOffset, row.key.byteLength);
    const storeId = Number(view.getBigUint64(2));
    const inc = unpackValue(row.value);
    if (typeof inc === 'string' && inc.length > 0 && inc.length <= INCARNATION_CHARS_MAX) out.set(storeId, inc);
  }
  return out;
}

/** The write that records `incarnation` as the first seen of `storeId`. */
export function seenIncarnationOp(storeId: number, incarnation: string): { type: 'put'; key: Uint8Array; value: Uint8Array } {
  return { type: 'put', key: seenIncarnationKey(storeId), value: packOwned(incarnation) };
}
