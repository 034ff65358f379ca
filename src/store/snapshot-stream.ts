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
 */
import { encodeUtf8 } from '../codec/utf8.ts';
import { CorruptCommandError } from '../errors.ts';
import { regionRanges, writeU64 } from '../kv/keys.ts';
import type { RegionRange } from '../kv/state-machine.ts';
import type { Clock, StorageEngine, StorageSnapshot, WriteOp } from '../ports.ts';
import { nextKey } from '../region/keys.ts';
import { inRange } from '../storage/bytes.ts';
import { crc32 } from '../storage/crc32.ts';

/** Stream ids from here on carry snapshot chunks (below: whole large frames in chunks). */
export const SNAPSHOT_STREAM_BASE = 2 ** 40;
/** Prefix of staged snapshot pairs: `0x05 + u64 regionId + key`. */
export const STAGE_PREFIX = 0x05;
/** Prefix of the marker of a complete staged stream: `0x06 + u64 regionId`. */
export const STAGE_DONE_PREFIX = 0x06;

const MAGIC = [0x46, 0x53, 0x4e, 0x43]; // "FSNC"
const DESCRIPTOR_MAGIC = [0x46, 0x53, 0x4e, 0x44]; // "FSND"
const OPEN = 0;
const DATA = 1;
const END = 2;
const ACK = 3;
const ABORT = 4;
const REFUSE = 5;
/** Pairs read from the view per scan: bounds a page whatever the pairs' sizes average. */
const SCAN_PAGE = 256;

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

function readU64(b: Uint8Array, at: number): number {
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

function header(type: number, bodyBytes: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(5 + bodyBytes);
  out.set(MAGIC);
  out[4] = type;
  return { out, view: new DataView(out.buffer) };
}

function openChunk(region: RegionRange): Uint8Array {
  const { out, view } = header(OPEN, 8 + 4 + region.startKey.length + 4 + region.endKey.length);
  writeU64(out, 5, region.id);
  view.setUint32(13, region.startKey.length);
  out.set(region.startKey, 17);
  view.setUint32(17 + region.startKey.length, region.endKey.length);
  out.set(region.endKey, 21 + region.startKey.length);
  return out;
}

function endChunk(d: Omit<StreamDescriptor, 'streamId'>): Uint8Array {
  const { out, view } = header(END, 20);
  writeU64(out, 5, d.pairs);
  writeU64(out, 13, d.bytes);
  view.setUint32(21, d.crc);
  return out;
}

function ackChunk(seq: number): Uint8Array {
  const { out, view } = header(ACK, 4);
  view.setUint32(5, seq);
  return out;
}

function abortChunk(reason: string, type = ABORT): Uint8Array {
  const text = encodeUtf8(reason.slice(0, 200));
  const { out } = header(type, text.length);
  out.set(text, 5);
  return out;
}

/** An ABORT / REFUSE reason as text (ASCII as sent; other bytes shown as their code points). */
function reasonText(body: Uint8Array): string {
  return String.fromCharCode(...body.subarray(0, 200));
}

/** A chunk's type and body; throws {@link CorruptCommandError} on anything else. */
function parseChunk(payload: Uint8Array): { type: number; body: Uint8Array } {
  if (payload.length < 5 || MAGIC.some((m, i) => payload[i] !== m) || payload[4] > REFUSE) throw new CorruptCommandError('not a snapshot chunk');
  return { type: payload[4], body: payload.subarray(5) };
}

function parseOpen(body: Uint8Array): RegionRange {
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
function parseData(regionId: number, body: Uint8Array, ranges: ReadonlyArray<{ start: Uint8Array; end: Uint8Array }>): WriteOp[] {
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

function opsBytes(ops: readonly WriteOp[]): number {
  let n = 0;
  for (const op of ops) if (op.type === 'put') n += op.key.length + op.value.length;
  return n;
}

// --- sending ------------------------------------------------------------------------------------

/** Options of a sender. */
export interface StreamSendOptions {
  link: SnapshotChunkLink;
  clock: Clock;
  to: number;
  streamId: number;
  /** The region's id and range (all four of its KV ranges are sent). */
  region: RegionRange;
  /** A consistent view at the snapshot's index; the sender does not release it. */
  view: StorageSnapshot;
  /** Payload bytes per chunk (a chunk may exceed it by one pair). */
  chunkBytes: number;
  /** Chunks sent and not yet acknowledged, at most. */
  window: number;
  /** Give up after this long without an acknowledgement, in ms. */
  stallMs: number;
  /** Look again this often while waiting, in ms. */
  pollMs: number;
  /** Send the unacknowledged chunks again after this long without an acknowledgement, in ms. */
  resendMs: number;
  /** Whether to go on (the replica still leads, the store runs). */
  live: () => boolean;
  stats: SnapshotStreamStats;
}

/** The sending side of one stream; the store routes the receiver's ACK / ABORT chunks to it. */
export class OutgoingStream {
  private acked = -1;
  private aborted: string | undefined;
  /** Chunks sent and not yet acknowledged (at most `window`), kept to resend (go-back-N). */
  private readonly unacked = new Map<number, Uint8Array>();
  private lastProgressMs: number;
  private readonly o: StreamSendOptions;
  constructor(o: StreamSendOptions) {
    this.o = o;
    this.lastProgressMs = o.clock.now();
  }

  /** An ACK or REFUSE chunk from the receiver. */
  receive(payload: Uint8Array): void {
    try {
      const { type, body } = parseChunk(payload);
      if (type === ACK && body.length === 4) {
        const seq = new DataView(body.buffer, body.byteOffset, 4).getUint32(0);
        if (seq <= this.acked) return;
        // Acknowledgements are cumulative: every chunk up to `seq` is written.
        for (let s = this.acked + 1; s <= seq; s++) this.unacked.delete(s);
        this.acked = seq;
        this.lastProgressMs = this.o.clock.now();
      } else if (type === REFUSE) this.aborted = `the receiver aborted: ${reasonText(body)}`;
      else this.aborted = `unexpected chunk type ${type} from the receiver`;
    } catch (e) {
      this.aborted = String(e);
    }
  }

  /** Stops the stream (the replica stepped down, the store closes). */
  abort(reason: string): void {
    this.aborted ??= reason;
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.o.clock.setTimer(this.o.pollMs, resolve));
  }

  private async waitUntil(done: () => boolean, what: string): Promise<void> {
    let resentAt = this.lastProgressMs;
    while (!done()) {
      if (this.aborted !== undefined) throw new Error(this.aborted);
      if (!this.o.live()) throw new Error('the sender no longer leads the region');
      const now = this.o.clock.now();
      if (now - this.lastProgressMs > this.o.stallMs) throw new Error(`no progress for ${this.o.stallMs} ms waiting for ${what}`);
      // A lost chunk or acknowledgement (the link dropped a frame): send every unacknowledged chunk again.
      if (now - Math.max(resentAt, this.lastProgressMs) >= this.o.resendMs) {
        resentAt = now;
        for (const [seq, payload] of this.unacked) this.o.link.send(this.o.to, this.o.streamId, seq, payload);
      }
      await this.wait();
    }
    if (this.aborted !== undefined) throw new Error(this.aborted);
  }

  private async sendChunk(seq: number, payload: Uint8Array): Promise<void> {
    const o = this.o;
    // Window first (the receiver's writes), then the link's queue (the wire).
    await this.waitUntil(() => seq - this.acked <= o.window, `chunk ${seq - o.window} to be acknowledged`);
    await this.waitUntil(() => o.link.queuedBytes(o.to) + payload.length <= Math.max(o.window * o.chunkBytes, payload.length), 'room on the link');
    o.link.send(o.to, o.streamId, seq, payload); // if refused, resent like a lost one
    this.unacked.set(seq, payload);
    let held = 0;
    for (const p of this.unacked.values()) held += p.length;
    o.stats.chunksSent++;
    o.stats.maxChunkBytes = Math.max(o.stats.maxChunkBytes, payload.length);
    o.stats.maxInflightBytes = Math.max(o.stats.maxInflightBytes, held);
  }

  /**
   * Streams the region and resolves with the descriptor once the receiver verified it all;
   * rejects (after telling the receiver) on a stall, an abort or a lost leadership.
   */
  async run(): Promise<StreamDescriptor> {
    const o = this.o;
    try {
      let seq = 0;
      await this.sendChunk(seq++, openChunk(o.region));
      // The receiver has the stream before any data: data for a stream it does not know means it lost it.
      await this.waitUntil(() => this.acked >= 0, 'the receiver to open the stream');
      let crc = 0;
      let pairs = 0;
      let bytes = 0;
      let parts: Uint8Array[] = [];
      let partBytes = 0;
      const flush = async () => {
        const { out } = header(DATA, partBytes);
        let at = 5;
        for (const p of parts) {
          out.set(p, at);
          at += p.length;
        }
        parts = [];
        partBytes = 0;
        crc = crc32(out, crc, 5);
        await this.sendChunk(seq++, out);
      };
      for (const range of regionRanges(o.region)) {
        let start = range.start;
        for (;;) {
          const page = await o.view.scan({ start, end: range.end, limit: SCAN_PAGE });
          for (const kv of page) {
            const pair = new Uint8Array(8 + kv.key.length + kv.value.length);
            const v = new DataView(pair.buffer);
            v.setUint32(0, kv.key.length);
            pair.set(kv.key, 4);
            v.setUint32(4 + kv.key.length, kv.value.length);
            pair.set(kv.value, 8 + kv.key.length);
            parts.push(pair);
            partBytes += pair.length;
            pairs++;
            bytes += kv.key.length + kv.value.length;
            if (partBytes >= o.chunkBytes) await flush();
          }
          if (page.length < SCAN_PAGE) break;
          start = nextKey(page[page.length - 1].key);
        }
      }
      if (partBytes > 0) await flush();
      const end = seq;
      await this.sendChunk(seq++, endChunk({ pairs, bytes, crc }));
      await this.waitUntil(() => this.acked >= end, 'the receiver to verify the stream');
      o.stats.streamsSent++;
      return { streamId: o.streamId, pairs, bytes, crc };
    } catch (e) {
      o.stats.streamsAborted++;
      if (this.aborted === undefined || !this.aborted.startsWith('the receiver aborted')) o.link.send(o.to, o.streamId, 0, abortChunk(String(e)));
      throw e;
    }
  }
}

/** Whether a snapshot chunk is for the sending side of its stream (ACK, REFUSE) rather than the receiving side. */
export function isReplyChunk(payload: Uint8Array): boolean {
  return payload.length >= 5 && (payload[4] === ACK || payload[4] === REFUSE);
}

// --- receiving ----------------------------------------------------------------------------------

/** A stream being received (or received and verified, waiting for its `MsgSnap`). */
export interface IncomingStream {
  from: number;
  streamId: number;
  region: RegionRange;
  ranges: ReadonlyArray<{ start: Uint8Array; end: Uint8Array }>;
  next: number;
  /** The last seq whose write finished (what is acknowledged), -1 before OPEN's. */
  written: number;
  pairs: number;
  bytes: number;
  crc: number;
  /** Chunks accepted whose write has not finished. */
  pending: number;
  /** Set once END was verified and the marker written. */
  done: boolean;
  /** Set once its `MsgSnap` was stepped: the staging is Raft's now and may not be replaced. */
  claimed: boolean;
  dead: boolean;
}

/** Options of the receiving side of a store. */
export interface StreamReceiverOptions {
  engine: StorageEngine;
  link: SnapshotChunkLink;
  /** Chunks accepted and not yet written before a stream is dropped (a sender ignoring the window). */
  pendingMax: number;
  /** Whether a stream may open for this region now (not while its staging is being installed). */
  mayOpen: (regionId: number) => boolean;
  stats: SnapshotStreamStats;
  warn: (message: string, fields: Record<string, unknown>) => void;
}

/** The receiving side of a store: one stream per region at a time, writes serialised per region. */
export class StreamReceiver {
  /** By region id. */
  readonly streams = new Map<number, IncomingStream>();
  /** Per region, the tail of its staging writes (each chunk's write after the previous one's). */
  private readonly tails = new Map<number, Promise<void>>();
  /** By `from:streamId`, the region a stream opened for. */
  private readonly byStream = new Map<string, number>();
  private readonly o: StreamReceiverOptions;
  constructor(o: StreamReceiverOptions) {
    this.o = o;
  }

  private chain(regionId: number, f: () => Promise<void>): void {
    const tail = (this.tails.get(regionId) ?? Promise.resolve()).then(f);
    this.tails.set(regionId, tail);
    void tail.finally(() => {
      if (this.tails.get(regionId) === tail) this.tails.delete(regionId);
    });
  }

  /** Resolves once every staging write of `regionId` queued so far is done. */
  settled(regionId: number): Promise<void> {
    return this.tails.get(regionId) ?? Promise.resolve();
  }

  private drop(s: IncomingStream, reason: string, tell: boolean): void {
    if (s.dead) return;
    s.dead = true;
    this.o.stats.streamsAborted++;
    if (this.streams.get(s.region.id) === s) this.streams.delete(s.region.id);
    this.byStream.delete(`${s.from}:${s.streamId}`);
    if (tell) this.o.link.send(s.from, s.streamId, 0, abortChunk(reason, REFUSE));
    this.o.warn('dropped an incoming snapshot stream', { regionId: s.region.id, from: s.from, reason });
    // Its staged pairs are garbage now (unless a newer stream replaced them): clear them.
    const regionId = s.region.id;
    this.chain(regionId, async () => {
      if (this.streams.has(regionId)) return;
      await this.o.engine.write([{ type: 'deleteRange', ...stagingRange(regionId) }, { type: 'delete', key: stageDoneKey(regionId) }]);
    });
  }

  /** A snapshot chunk (OPEN, DATA or END) from store `from`. Never throws. */
  receive(from: number, streamId: number, seq: number, payload: Uint8Array): void {
    let parsed: { type: number; body: Uint8Array };
    try {
      parsed = parseChunk(payload);
    } catch {
      return;
    }
    const { type, body } = parsed;
    const key = `${from}:${streamId}`;
    if (type === OPEN) {
      let region: RegionRange;
      try {
        region = parseOpen(body);
      } catch (e) {
        this.o.link.send(from, streamId, 0, abortChunk(String(e), REFUSE));
        return;
      }
      const old = this.streams.get(region.id);
      if (old && old.from === from && old.streamId === streamId) {
        // A duplicate (or a resend after a lost acknowledgement).
        if (old.written >= 0) this.o.link.send(from, streamId, old.written, ackChunk(old.written));
        return;
      }
      if (!this.o.mayOpen(region.id) || old?.claimed) {
        this.o.link.send(from, streamId, 0, abortChunk(`region ${region.id} is installing a snapshot`, REFUSE));
        return;
      }
      if (old) this.drop(old, 'replaced by a newer stream', true);
      const s: IncomingStream = { from, streamId, region, ranges: regionRanges(region), next: 1, written: -1, pairs: 0, bytes: 0, crc: 0, pending: 1, done: false, claimed: false, dead: false };
      this.streams.set(region.id, s);
      this.byStream.set(key, region.id);
      this.o.stats.streamsReceived++;
      this.o.stats.chunksReceived++;
      this.chain(region.id, async () => {
        if (s.dead) return;
        await this.o.engine.write([{ type: 'deleteRange', ...stagingRange(region.id) }, { type: 'delete', key: stageDoneKey(region.id) }]);
        s.pending--;
        s.written = 0;
        if (!s.dead) this.o.link.send(from, streamId, 0, ackChunk(0));
      });
      return;
    }
    if (type === ABORT) {
      const id = this.byStream.get(key);
      const s = id === undefined ? undefined : this.streams.get(id);
      if (s && !s.claimed) this.drop(s, `the sender aborted: ${reasonText(body)}`, false);
      return;
    }
    const id = this.byStream.get(key);
    const s = id === undefined ? undefined : this.streams.get(id);
    if (!s || s.dead) {
      // This store lost the stream (restarted, or dropped it): tell the sender to start again.
      if (type === DATA || type === END) this.o.link.send(from, streamId, 0, abortChunk('unknown stream', REFUSE));
      return;
    }
    if (seq < s.next) {
      // A duplicate, or a resend after a lost acknowledgement: acknowledge what is written.
      if (s.written >= 0) this.o.link.send(from, streamId, s.written, ackChunk(s.written));
      return;
    }
    if (seq > s.next) return; // a chunk before it was lost: the sender resends from there
    if (s.pending >= this.o.pendingMax) {
      this.drop(s, `more than ${this.o.pendingMax} chunks waiting to be written`, true);
      return;
    }
    s.next++;
    s.pending++;
    this.o.stats.chunksReceived++;
    this.o.stats.maxPendingChunks = Math.max(this.o.stats.maxPendingChunks, s.pending);
    this.chain(s.region.id, async () => {
      if (s.dead) return;
      try {
        if (type === DATA) {
          const ops = parseData(s.region.id, body, s.ranges);
          s.crc = crc32(body, s.crc);
          s.pairs += ops.length;
          const n = opsBytes(ops);
          s.bytes += n - ops.length * 9;
          this.o.stats.maxWriteBytes = Math.max(this.o.stats.maxWriteBytes, n);
          await this.o.engine.write(ops);
        } else if (type === END) {
          if (body.length !== 20) throw new CorruptCommandError('snapshot END chunk has a bad length');
          const pairs = readU64(body, 0);
          const bytes = readU64(body, 8);
          const crc = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(16);
          if (pairs !== s.pairs || bytes !== s.bytes || crc !== s.crc) throw new CorruptCommandError(`snapshot stream does not match its END (pairs ${s.pairs}/${pairs}, crc ${s.crc}/${crc})`);
          // Durable before Raft may rely on it: the install reads these pairs back after a crash.
          await this.o.engine.write([{ type: 'put', key: stageDoneKey(s.region.id), value: new Uint8Array(0) }], { sync: true });
          s.done = true;
        } else {
          throw new CorruptCommandError(`unexpected chunk type ${type}`);
        }
        s.pending--;
        s.written = seq;
        if (!s.dead) this.o.link.send(s.from, s.streamId, seq, ackChunk(seq));
      } catch (e) {
        this.drop(s, String(e), true);
      }
    });
  }

  /**
   * The verified stream `d` describes for `regionId` from store `from`, claimed for Raft (no
   * later stream replaces it until {@link release}); undefined if there is none such.
   */
  claim(regionId: number, from: number, d: StreamDescriptor): IncomingStream | undefined {
    const s = this.streams.get(regionId);
    if (!s?.done || s.dead || s.from !== from || s.streamId !== d.streamId || s.pairs !== d.pairs || s.bytes !== d.bytes || s.crc !== d.crc) return undefined;
    s.claimed = true;
    return s;
  }

  /** Forgets a region's stream (installed, or its snapshot was not taken by Raft); its staging stays for {@link moveStaged} or the next OPEN. */
  release(regionId: number): void {
    const s = this.streams.get(regionId);
    if (!s) return;
    this.streams.delete(regionId);
    this.byStream.delete(`${s.from}:${s.streamId}`);
  }

  /** Drops every stream from `from` (its link went down). */
  forget(from: number): void {
    for (const s of [...this.streams.values()]) if (s.from === from && !s.claimed) this.drop(s, 'the link went down', false);
  }
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
