/**
 * Region snapshots of the KV state: every pair of the region's ranges (data, sequences and locks
 * over its user range, and its sessions; see `regionRanges`), for Raft snapshots and for moving
 * replicas.
 *
 * Format (all integers big-endian), a stream that can be cut anywhere for chunked transfer:
 * ```
 * "FKVS" | version u8 = 1 | regionId u64 | len u32, startKey | len u32, endKey
 * then per pair:  keyLen u32 (< 0xFFFFFFFF), key | valueLen u32, value
 * trailer:        0xFFFFFFFF | pairCount u32 | crc32 u32 of every byte before the crc
 * ```
 * Restoring gives write batches: the first deletes the region's four ranges, then puts follow in
 * batches within the given limits. Batches after the first are not atomic with it: the store must
 * mark the region as applying a snapshot before writing them and redo the restore after a crash
 * (TiKV's `PeerState::Applying`), and must itself clear any old range the replica held that the
 * snapshot's range does not cover.
 */
import { CorruptCommandError } from '../errors.ts';
import type { WriteOp } from '../ports.ts';
import { nextKey } from '../region/keys.ts';
import { inRange } from '../storage/bytes.ts';
import { crc32 } from '../storage/crc32.ts';
import { regionRanges } from './keys.ts';
import type { KvReader } from './overlay.ts';
import type { RegionRange } from './state-machine.ts';

const MAGIC = [0x46, 0x4b, 0x56, 0x53]; // "FKVS"
/** The snapshot format version. */
export const SNAPSHOT_FORMAT_VERSION = 1;
const END = 0xffffffff;
const PAGE = 1024;

class Writer {
  chunks: Uint8Array[] = [];
  u8(n: number): void {
    this.chunks.push(Uint8Array.of(n));
  }
  u32(n: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    this.chunks.push(b);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.chunks.push(b);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/**
 * Serialises every pair of the region's KV ranges. Pass a consistent view (`engine.snapshot()`)
 * taken at the applied index the Raft snapshot names, so the bytes match that index exactly.
 * @param view - a consistent view of the engine.
 * @param region - the region's id and range.
 */
export async function snapshotRegion(view: KvReader, region: RegionRange): Promise<Uint8Array> {
  const w = new Writer();
  w.chunks.push(Uint8Array.from(MAGIC));
  w.u8(SNAPSHOT_FORMAT_VERSION);
  w.u32(Math.floor(region.id / 0x1_0000_0000));
  w.u32(region.id >>> 0);
  w.bytes(region.startKey);
  w.bytes(region.endKey);
  let count = 0;
  for (const range of regionRanges(region)) {
    let start = range.start;
    for (;;) {
      const page = await view.scan({ start, end: range.end, limit: PAGE });
      for (const kv of page) {
        w.bytes(kv.key);
        w.bytes(kv.value);
        count++;
      }
      if (page.length < PAGE) break;
      start = nextKey(page[page.length - 1].key);
    }
  }
  w.u32(END);
  w.u32(count);
  const body = w.concat();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body));
  return out;
}

/** Options of {@link restoreRegion}: the engine's batch limits. */
export interface RestoreOptions {
  /** Most ops per batch; default 10 000. */
  batchOpsMax?: number;
  /** Most key + value bytes per batch; default 16 MiB. */
  batchBytesMax?: number;
}

/** What {@link restoreRegion} produced. */
export interface RestoredRegion {
  /** The region id and range the snapshot was taken of. */
  region: RegionRange;
  /** Write batches to apply in order; the first starts with the range deletes. */
  batches: WriteOp[][];
  /** Number of pairs restored. */
  pairs: number;
}

function reader(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length - 4) throw new CorruptCommandError(`region snapshot truncated at byte ${at}`);
  };
  return {
    u32(): number {
      need(4);
      const v = view.getUint32(at);
      at += 4;
      return v;
    },
    take(n: number): Uint8Array {
      need(n);
      const b = bytes.slice(at, at + n);
      at += n;
      return b;
    },
    get at() {
      return at;
    },
  };
}

/**
 * Checks a region snapshot (magic, version, checksum, structure) and turns it into write batches
 * that replace the region's KV state with the snapshot's. Throws {@link CorruptCommandError} when
 * the bytes are not an intact snapshot; nothing is returned for a bad one.
 * @param bytes - what {@link snapshotRegion} produced (all chunks, joined).
 * @param options - batch limits.
 */
export function restoreRegion(bytes: Uint8Array, options: RestoreOptions = {}): RestoredRegion {
  const opsMax = options.batchOpsMax ?? 10_000;
  const bytesMax = options.batchBytesMax ?? 16 * 1024 * 1024;
  if (bytes.length < 4 + 1 + 8 + 8 + 12 || MAGIC.some((m, i) => bytes[i] !== m)) throw new CorruptCommandError('not a region snapshot (bad magic or too short)');
  if (bytes[4] !== SNAPSHOT_FORMAT_VERSION) throw new CorruptCommandError(`unknown region snapshot version ${bytes[4]}`);
  const crcAt = bytes.length - 4;
  if (new DataView(bytes.buffer, bytes.byteOffset + crcAt, 4).getUint32(0) !== crc32(bytes, 0, 0, crcAt)) {
    throw new CorruptCommandError('region snapshot checksum mismatch');
  }
  const r = reader(bytes.subarray(5));
  const id = r.u32() * 0x1_0000_0000 + r.u32();
  const region: RegionRange = { id, startKey: r.take(r.u32()), endKey: r.take(r.u32()) };
  const ranges = regionRanges(region);
  const first: WriteOp[] = ranges.map((x) => ({ type: 'deleteRange', start: x.start, end: x.end }));
  const batches: WriteOp[][] = [first];
  let batch = first;
  let batchBytes = 0;
  let pairs = 0;
  for (;;) {
    const keyLen = r.u32();
    if (keyLen === END) break;
    const key = r.take(keyLen);
    const value = r.take(r.u32());
    if (!ranges.some((x) => inRange(key, x.start, x.end))) throw new CorruptCommandError(`region snapshot holds a key outside region ${id}'s ranges`);
    if (batch.length >= opsMax || (batchBytes > 0 && batchBytes + key.length + value.length > bytesMax)) {
      batch = [];
      batchBytes = 0;
      batches.push(batch);
    }
    batch.push({ type: 'put', key, value });
    batchBytes += key.length + value.length;
    pairs++;
  }
  if (r.u32() !== pairs || r.at !== bytes.length - 4 - 5) throw new CorruptCommandError('region snapshot trailer does not match its contents');
  return { region, batches, pairs };
}
