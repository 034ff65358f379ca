/**
 * The store's small persistent records: a replica's apply state and region state, and the
 * envelope of a region's Raft snapshot. MessagePack on disk, validated with zod when loaded, so a
 * damaged record is refused with a clear error instead of reaching the core.
 */
import { z } from 'zod';
import { packOwned, unpackValue } from '../codec/msgpack.ts';
import type { ConfState } from '../raft/types.ts';
import type { Region } from '../region/types.ts';

/** Where applying stands, and where the log was last truncated. */
export interface ApplyState {
  /** Highest log index whose effects are in the engine (written atomically with them). */
  applied: number;
  /** Entries up to here were dropped from the log. Invariant: truncatedIndex <= applied. */
  truncatedIndex: number;
  truncatedTerm: number;
  /** Membership as of `truncatedIndex` (the core replays configuration entries after it). */
  truncatedConfState: ConfState;
  /** Membership as of `applied` (what a snapshot taken now carries). */
  appliedConfState: ConfState;
  /** The largest region time of any applied command: a new leader's clock never runs behind it. */
  nowMs: number;
}

/**
 * A replica's view of its region. `tombstone`: the replica was removed or merged away.
 * `applying`: a streamed snapshot's pairs are being moved into place (TiKV's PeerState::Applying);
 * the store finishes the move before the replica serves anything (`snapshot-stream.ts`).
 */
export interface RegionState {
  region: Region;
  /** This store's peer id in the region. */
  peerId: number;
  state: 'normal' | 'tombstone' | 'applying';
  /** Set on the source of a merge once its PrepareMerge applied: it refuses requests until absorbed. */
  merging?: MergeState;
  /** Regions this one absorbed by merges (directly or through them), most recent last; bounded. */
  absorbed?: number[];
}

/** A merge source's frozen state. */
export interface MergeState {
  targetId: number;
  /** Log index and term of the PrepareMerge entry; target replicas wait for their source replica to apply it. */
  prepareIndex: number;
  prepareTerm: number;
}

const u = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const pos = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const ids = z.array(pos).max(1024);
const bytes = z.instanceof(Uint8Array);

const confStateSchema = z.object({
  voters: ids,
  learners: ids,
  votersOutgoing: ids,
  learnersNext: ids,
  autoLeave: z.boolean(),
});

const applyStateSchema = z.object({
  applied: u,
  truncatedIndex: u,
  truncatedTerm: u,
  truncatedConfState: confStateSchema,
  appliedConfState: confStateSchema,
  nowMs: u,
});

/** The zod schema of a Region (also used by the wire and the client). */
export const regionSchema = z.object({
  id: pos,
  startKey: bytes,
  endKey: bytes,
  epoch: z.object({ confVer: pos, version: pos }),
  peers: z.array(z.object({ id: pos, storeId: pos, role: z.enum(['voter', 'learner']), incarnation: z.string().min(1).max(64).optional() })).max(64),
});

const regionStateSchema = z.object({
  region: regionSchema,
  peerId: pos,
  state: z.enum(['normal', 'tombstone', 'applying']),
  merging: z.object({ targetId: pos, prepareIndex: pos, prepareTerm: pos }).optional(),
  absorbed: z.array(pos).max(64).optional(),
});

function decodeWith<T>(schema: z.ZodType<T>, b: Uint8Array, what: string): T {
  let raw: unknown;
  try {
    raw = unpackValue(b);
  } catch (e) {
    throw new Error(`${what} record is not valid MessagePack: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${what} record is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

// The apply state is written for every region that applied anything, every loop turn: it is
// encoded by hand (plain MessagePack, read back by the generic decoder) rather than by msgpackr.
const APPLY_KEYS = ['applied', 'truncatedIndex', 'truncatedTerm', 'truncatedConfState', 'appliedConfState', 'nowMs'] as const;
const CONF_KEYS = ['voters', 'learners', 'votersOutgoing', 'learnersNext', 'autoLeave'] as const;
/** fixstr encodings of the field names (all ASCII, under 32 bytes). */
const NAME = new Map<string, Uint8Array>([...APPLY_KEYS, ...CONF_KEYS].map((k) => [k, Uint8Array.from([0xa0 | k.length, ...Array.from(k, (c) => c.charCodeAt(0))])]));

/** Bytes of a non-negative safe integer in MessagePack's smallest unsigned form. */
function uintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffffffff ? 5 : 9;
}

function writeUint(out: Uint8Array, at: number, n: number): number {
  if (n < 0x80) {
    out[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = 0xcd;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  const hi = n > 0xffffffff ? Math.floor(n / 0x100000000) : -1;
  let i = at;
  if (hi >= 0) {
    out[i++] = 0xcf;
    out[i++] = hi >>> 24;
    out[i++] = (hi >>> 16) & 0xff;
    out[i++] = (hi >>> 8) & 0xff;
    out[i++] = hi & 0xff;
  } else {
    out[i++] = 0xce;
  }
  const lo = n >>> 0;
  out[i++] = lo >>> 24;
  out[i++] = (lo >>> 16) & 0xff;
  out[i++] = (lo >>> 8) & 0xff;
  out[i++] = lo & 0xff;
  return i;
}

const isUint = (n: number) => Number.isSafeInteger(n) && n >= 0;

function idsSize(ids: readonly number[]): number {
  if (ids.length > 15) return -1;
  let size = 1;
  for (const id of ids) {
    if (!isUint(id)) return -1;
    size += uintSize(id);
  }
  return size;
}

function confSize(c: ConfState): number {
  let size = 1 + 1; // fixmap, autoLeave's boolean
  for (const k of CONF_KEYS) {
    size += NAME.get(k)!.length;
    if (k !== 'autoLeave') {
      const n = idsSize(c[k]);
      if (n < 0) return -1;
      size += n;
    }
  }
  return size;
}

function writeName(out: Uint8Array, at: number, k: string): number {
  const b = NAME.get(k)!;
  out.set(b, at);
  return at + b.length;
}

function writeConf(out: Uint8Array, at: number, c: ConfState): number {
  let i = at;
  out[i++] = 0x80 | CONF_KEYS.length;
  for (const k of CONF_KEYS) {
    i = writeName(out, i, k);
    if (k === 'autoLeave') out[i++] = c.autoLeave ? 0xc3 : 0xc2;
    else {
      out[i++] = 0x90 | c[k].length;
      for (const id of c[k]) i = writeUint(out, i, id);
    }
  }
  return i;
}

/** Encodes an apply state (MessagePack: what `packValue` would write for its six fields). */
export function encodeApplyState(a: ApplyState): Uint8Array {
  const t = confSize(a.truncatedConfState);
  const c = confSize(a.appliedConfState);
  // More than 15 ids in a list, or a number that is not a safe unsigned integer (which the decoder
  // refuses): rare, left to the generic encoder, as before.
  if (t < 0 || c < 0 || !isUint(a.applied) || !isUint(a.truncatedIndex) || !isUint(a.truncatedTerm) || !isUint(a.nowMs)) return packOwned({ applied: a.applied, truncatedIndex: a.truncatedIndex, truncatedTerm: a.truncatedTerm, truncatedConfState: a.truncatedConfState, appliedConfState: a.appliedConfState, nowMs: a.nowMs });
  let size = 1 + t + c;
  for (const k of APPLY_KEYS) size += NAME.get(k)!.length;
  for (const k of ['applied', 'truncatedIndex', 'truncatedTerm', 'nowMs'] as const) size += uintSize(a[k]);
  const out = new Uint8Array(size);
  let i = 0;
  out[i++] = 0x80 | APPLY_KEYS.length;
  i = writeName(out, i, 'applied');
  i = writeUint(out, i, a.applied);
  i = writeName(out, i, 'truncatedIndex');
  i = writeUint(out, i, a.truncatedIndex);
  i = writeName(out, i, 'truncatedTerm');
  i = writeUint(out, i, a.truncatedTerm);
  i = writeName(out, i, 'truncatedConfState');
  i = writeConf(out, i, a.truncatedConfState);
  i = writeName(out, i, 'appliedConfState');
  i = writeConf(out, i, a.appliedConfState);
  i = writeName(out, i, 'nowMs');
  writeUint(out, i, a.nowMs);
  return out;
}

/** Decodes and validates an apply state; throws naming what is wrong. */
export function decodeApplyState(b: Uint8Array): ApplyState {
  const a = decodeWith(applyStateSchema, b, 'apply state');
  if (a.truncatedIndex > a.applied) throw new Error(`apply state: truncated index ${a.truncatedIndex} is beyond applied ${a.applied}`);
  return a;
}

/** Encodes a region state. */
export function encodeRegionState(r: RegionState): Uint8Array {
  return packOwned(r);
}

/** Decodes and validates a region state; throws naming what is wrong. */
export function decodeRegionState(b: Uint8Array): RegionState {
  return decodeWith(regionStateSchema, b, 'region state') as RegionState;
}

/** What a region's Raft snapshot carries besides its key/value pairs. */
export interface SnapshotEnvelope {
  region: Region;
  /** The bytes of `snapshotRegion` (data, sequences, locks and sessions of the range). */
  kv: Uint8Array;
  /** The region time of the snapshot's last applied command. */
  nowMs: number;
  /** Set when the region is a prepared merge source: the replica installing it is frozen too. */
  merging?: MergeState;
  /** The regions it absorbed (see {@link RegionState.absorbed}). */
  absorbed?: number[];
}

const envelopeSchema = z.object({ region: regionSchema, kv: bytes, nowMs: u, merging: z.object({ targetId: pos, prepareIndex: pos, prepareTerm: pos }).optional(), absorbed: z.array(pos).max(64).optional() });

/** Encodes the data of a region's Raft snapshot. */
export function encodeSnapshotEnvelope(s: SnapshotEnvelope): Uint8Array {
  return packOwned(s);
}

/** Decodes and validates the data of a region's Raft snapshot; throws naming what is wrong. */
export function decodeSnapshotEnvelope(b: Uint8Array): SnapshotEnvelope {
  return decodeWith(envelopeSchema, b, 'region snapshot') as SnapshotEnvelope;
}
