/**
 * Region snapshots streamed in bounded chunks (TiKV's snapshot stream), so that neither side ever
 * holds a region's data in memory:
 *
 * - The sender reads the region from a consistent engine view taken at the applied index
 *   (`StorageSnapshot`, an LMDB read transaction), page by page, and sends the pairs in chunks of
 *   about `chunkBytes`, at most `window` chunks unacknowledged (and only while the link's queue
 *   has room), then — once the receiver acknowledged the last chunk — the Raft `MsgSnap` itself,
 *   whose data is a small descriptor (stream id, pair count, bytes, CRC-32 of the pairs).
 * - The receiver writes each chunk straight into the engine under a staging prefix
 *   (`0x05 + u64 regionId + key`), where nothing reads it, checking every key against the range
 *   the stream opened with and keeping a running CRC. Only a `MsgSnap` whose descriptor matches a
 *   complete, verified stream from the same store reaches Raft.
 * - Installing it is one small atomic batch (log, apply state, the region's old ranges deleted,
 *   region state `applying`), then the staged pairs move into the region's ranges in bounded
 *   batches (each one atomic: puts plus the delete of the staged keys it moved), and the last one
 *   marks the region `normal`. A crash before the first batch leaves the old replica; after it, a
 *   restart finds the region `applying` and finishes the move before the replica serves anything
 *   (`finishApplying`); staging of streams that never completed is cleared at start.
 *
 * Wire format: each chunk is a transport `chunk` item with a stream id of at least
 * {@link SNAPSHOT_STREAM_BASE} (smaller ids are whole large frames, `adapters/raft-link.ts`), its
 * own `seq`, and a payload `"FSNC" | type u8 | body` (integers big-endian):
 * ```
 * OPEN  (sender -> receiver, seq 0): regionId u64 | len u32, startKey | len u32, endKey
 * DATA  (seq 1..n-1): per pair keyLen u32, key | valueLen u32, value
 * END   (seq n): pairs u64 | bytes u64 | crc32 u32 of every DATA body
 * ACK   (receiver -> sender): the seq now written (END acknowledged: verified)
 * ABORT (sender -> receiver) / REFUSE (receiver -> sender): a UTF-8 reason; the stream is dropped
 * ```
 *
 * This file holds the format, the staging keys and the move into place; the sending side is
 * `snapshot-send.ts` (OutgoingStream), the receiving side `snapshot-receive.ts` (StreamReceiver).
 */
import { encodeUtf8 } from '../codec/utf8.ts';
import { CorruptCommandError } from '../errors.ts';
import { writeU64 } from '../kv/keys.ts';
import type { RegionRange } from '../kv/state-machine.ts';
import type { StorageEngine, WriteOp } from '../ports.ts';
import { nextKey } from '../region/keys.ts';
import { inRange } from '../storage/bytes.ts';

/** Stream ids from here on carry snapshot chunks (below: whole large frames in chunks). */
export const SNAPSHOT_STREAM_BASE = 2 ** 40;
/** Prefix of staged snapshot pairs: `0x05 + u64 regionId + key`. */
export const STAGE_PREFIX = 0x05;
/** Prefix of the marker of a complete staged stream: `0x06 + u64 regionId`. */
export const STAGE_DONE_PREFIX = 0x06;

const MAGIC = [0x46, 0x53, 0x4e, 0x43]; // "FSNC"
const DESCRIPTOR_MAGIC = [0x46, 0x53, 0x4e, 0x44]; // "FSND"
/** Chunk types (the byte after the magic). */
export const OPEN = 0;
export const DATA = 1;
export const END = 2;
export const ACK = 3;
export const ABORT = 4;
export const REFUSE = 5;
/** Pairs read from the view per scan: bounds a page whatever the pairs' sizes average. */
export const SCAN_PAGE = 256;

/** Sends snapshot chunks over the store's links (the Raft link of the server or in-page cluster). */
export interface SnapshotChunkLink {
  /** Queues one chunk for store `to`; false when the link refused it (down, or full). */
  send(to: number, streamId: number, seq: number, payload: Uint8Array): boolean;
  /** Bytes queued for `to` and not yet on the wire (back-pressure). */
  queuedBytes(to: number): number;
}

/** Largest sizes seen by the snapshot streams of one store: what a test asserts memory by. */
export interface SnapshotStreamStats {
  streamsSent: number;
  streamsReceived: number;
  streamsAborted: number;
  chunksSent: number;
  chunksReceived: number;
  /** Largest chunk payload sent. */
  maxChunkBytes: number;
  /** Most payload bytes a sender had sent and not yet seen acknowledged. */
  maxInflightBytes: number;
  /** Most chunks a receiver held waiting for their write. */
  maxPendingChunks: number;
  /** Largest write batch (key + value bytes) of staging or of moving staged pairs. */
  maxWriteBytes: number;
}

/** Fresh, zeroed {@link SnapshotStreamStats}. */
export function newSnapshotStreamStats(): SnapshotStreamStats {
  return { streamsSent: 0, streamsReceived: 0, streamsAborted: 0, chunksSent: 0, chunksReceived: 0, maxChunkBytes: 0, maxInflightBytes: 0, maxPendingChunks: 0, maxWriteBytes: 0 };
}

/** The big-endian u64 at `at` of `b` (below 2^53). */
export function readU64(b: Uint8Array, at: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return v.getUint32(at) * 0x1_0000_0000 + v.getUint32(at + 4);
}

// --- keys ---------------------------------------------------------------------------------------

function regionKey(prefix: number, regionId: number, extra: number): Uint8Array {
  const out = new Uint8Array(9 + extra);
  out[0] = prefix;
  writeU64(out, 1, regionId);
  return out;
}

/** The staging key of `key` in a snapshot of `regionId`. */
export function stagedKey(regionId: number, key: Uint8Array): Uint8Array {
  const out = regionKey(STAGE_PREFIX, regionId, key.length);
  out.set(key, 9);
  return out;
}

/** The staging range of one region. */
export function stagingRange(regionId: number): { start: Uint8Array; end: Uint8Array } {
  return { start: regionKey(STAGE_PREFIX, regionId, 0), end: regionKey(STAGE_PREFIX, regionId + 1, 0) };
}

/** The key of the marker written (synced) when a region's staged stream is complete. */
export function stageDoneKey(regionId: number): Uint8Array {
  return regionKey(STAGE_DONE_PREFIX, regionId, 0);
}

/** Every staging key and marker of every region. */
export const ALL_STAGING = Object.freeze({ start: Uint8Array.of(STAGE_PREFIX), end: Uint8Array.of(STAGE_DONE_PREFIX + 1) });

// --- descriptor ---------------------------------------------------------------------------------

/** What a streamed snapshot's `MsgSnap` carries instead of the region's pairs. */
export interface StreamDescriptor {
  streamId: number;
  pairs: number;
  bytes: number;
  crc: number;
}

/** Encodes the descriptor (the envelope's `kv` field of a streamed snapshot). */
export function encodeDescriptor(d: StreamDescriptor): Uint8Array {
  const out = new Uint8Array(4 + 8 + 8 + 8 + 4);
  out.set(DESCRIPTOR_MAGIC);
  writeU64(out, 4, d.streamId);
  writeU64(out, 12, d.pairs);
  writeU64(out, 20, d.bytes);
  new DataView(out.buffer).setUint32(28, d.crc);
  return out;
}

/** The descriptor in `kv`, or undefined when `kv` is a whole snapshot (`snapshotRegion`'s bytes). */
export function decodeDescriptor(kv: Uint8Array): StreamDescriptor | undefined {
  if (kv.length !== 32 || DESCRIPTOR_MAGIC.some((m, i) => kv[i] !== m)) return undefined;
  return { streamId: readU64(kv, 4), pairs: readU64(kv, 12), bytes: readU64(kv, 20), crc: new DataView(kv.buffer, kv.byteOffset, kv.byteLength).getUint32(28) };
}

// --- chunks -------------------------------------------------------------------------------------

/** A chunk of `type` with room for `bodyBytes` after its 5-byte header. */
export function header(type: number, bodyBytes: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(5 + bodyBytes);
  out.set(MAGIC);
  out[4] = type;
  return { out, view: new DataView(out.buffer) };
}

/** The OPEN chunk of a stream of `region`. */
export function openChunk(region: RegionRange): Uint8Array {
  const { out, view } = header(OPEN, 8 + 4 + region.startKey.length + 4 + region.endKey.length);
  writeU64(out, 5, region.id);
  view.setUint32(13, region.startKey.length);
  out.set(region.startKey, 17);
  view.setUint32(17 + region.startKey.length, region.endKey.length);
  out.set(region.endKey, 21 + region.startKey.length);
  return out;
}

/** The END chunk: what the stream held, for the receiver to verify. */
export function endChunk(d: Omit<StreamDescriptor, 'streamId'>): Uint8Array {
  const { out, view } = header(END, 20);
  writeU64(out, 5, d.pairs);
  writeU64(out, 13, d.bytes);
  view.setUint32(21, d.crc);
  return out;
}

/** The ACK of every chunk up to `seq`. */
export function ackChunk(seq: number): Uint8Array {
  const { out, view } = header(ACK, 4);
  view.setUint32(5, seq);
  return out;
}

/** An ABORT (or, with `type` REFUSE, a REFUSE) chunk carrying `reason`. */
export function abortChunk(reason: string, type = ABORT): Uint8Array {
  const text = encodeUtf8(reason.slice(0, 200));
  const { out } = header(type, text.length);
  out.set(text, 5);
  return out;
}

/** An ABORT / REFUSE reason as text (ASCII as sent; other bytes shown as their code points). */
export function reasonText(body: Uint8Array): string {
  return String.fromCharCode(...body.subarray(0, 200));
}

/** A chunk's type and body; throws {@link CorruptCommandError} on anything else. */
export function parseChunk(payload: Uint8Array): { type: number; body: Uint8Array } {
  if (payload.length < 5 || MAGIC.some((m, i) => payload[i] !== m) || payload[4] > REFUSE) throw new CorruptCommandError('not a snapshot chunk');
  return { type: payload[4], body: payload.subarray(5) };
}

/** The region an OPEN body names; throws {@link CorruptCommandError} on a malformed one. */
export function parseOpen(body: Uint8Array): RegionRange {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 16) throw new CorruptCommandError('snapshot OPEN chunk too short');
  const id = readU64(body, 0);
  const sl = view.getUint32(8);
  if (12 + sl + 4 > body.length) throw new CorruptCommandError('snapshot OPEN chunk truncated');
  const startKey = body.slice(12, 12 + sl);
  const el = view.getUint32(12 + sl);
  if (16 + sl + el !== body.length) throw new CorruptCommandError('snapshot OPEN chunk has a bad length');
  return { id, startKey, endKey: body.slice(16 + sl, 16 + sl + el) };
}

/** The pairs of a DATA body as `put`s of their staging keys; throws on a torn body or a key outside `ranges`. */
export function parseData(regionId: number, body: Uint8Array, ranges: ReadonlyArray<{ start: Uint8Array; end: Uint8Array }>): WriteOp[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const ops: WriteOp[] = [];
  let at = 0;
  const take = (): Uint8Array => {
    if (at + 4 > body.length) throw new CorruptCommandError('snapshot DATA chunk truncated');
    const n = view.getUint32(at);
    if (at + 4 + n > body.length) throw new CorruptCommandError('snapshot DATA chunk truncated');
    at += 4 + n;
    return body.subarray(at - n, at);
  };
  while (at < body.length) {
    const key = take();
    const value = take();
    if (!ranges.some((r) => inRange(key, r.start, r.end))) throw new CorruptCommandError(`snapshot chunk holds a key outside region ${regionId}'s ranges`);
    ops.push({ type: 'put', key: stagedKey(regionId, key), value });
  }
  return ops;
}

/** Key and value bytes of the puts in `ops`. */
export function opsBytes(ops: readonly WriteOp[]): number {
  let n = 0;
  for (const op of ops) if (op.type === 'put') n += op.key.length + op.value.length;
  return n;
}

/** Whether a snapshot chunk is for the sending side of its stream (ACK, REFUSE) rather than the receiving side. */
export function isReplyChunk(payload: Uint8Array): boolean {
  return payload.length >= 5 && (payload[4] === ACK || payload[4] === REFUSE);
}

/**
 * Moves a region's staged pairs into place in atomic batches of about `batchBytes` (each: the
 * puts and the delete of the staged keys it moved), the last one together with `finalOps` (the
 * region state that makes the install visible). Safe to run again after a crash at any point.
 */
export async function moveStaged(engine: StorageEngine, regionId: number, batchBytes: number, finalOps: readonly WriteOp[], stats?: SnapshotStreamStats): Promise<number> {
  const { start: stageStart, end: stageEnd } = stagingRange(regionId);
  let moved = 0;
  let start = stageStart;
  for (;;) {
    const ops: WriteOp[] = [];
    let bytes = 0;
    let last: Uint8Array | undefined;
    let exhausted = false;
    while (bytes < batchBytes) {
      const page = await engine.scan({ start, end: stageEnd, limit: SCAN_PAGE });
      for (const kv of page) {
        ops.push({ type: 'put', key: kv.key.subarray(9), value: kv.value });
        bytes += kv.key.length - 9 + kv.value.length;
        last = kv.key;
      }
      if (page.length < SCAN_PAGE) {
        exhausted = true;
        break;
      }
      start = nextKey(page[page.length - 1].key);
    }
    if (last) ops.push({ type: 'deleteRange', start: stageStart, end: nextKey(last) });
    moved += ops.length - (last ? 1 : 0);
    if (stats) stats.maxWriteBytes = Math.max(stats.maxWriteBytes, bytes);
    if (exhausted) {
      ops.push({ type: 'deleteRange', start: stageStart, end: stageEnd }, { type: 'delete', key: stageDoneKey(regionId) });
      for (const op of finalOps) ops.push(op);
      await engine.write(ops, { sync: true });
      return moved;
    }
    await engine.write(ops);
  }
}
