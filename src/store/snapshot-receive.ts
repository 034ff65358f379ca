/**
 * The receiving side of streamed region snapshots (`snapshot-stream.ts` describes the protocol):
 * one stream per region at a time, each chunk checked and written under the staging prefix in
 * order, acknowledged once written; a verified stream waits there until its `MsgSnap` claims it
 * (`inbound.ts`) and the loop moves it into place (`ready-loop.ts`, `moveStaged`).
 */
import { CorruptCommandError } from '../errors.ts';
import { regionRanges } from '../kv/keys.ts';
import type { RegionRange } from '../kv/state-machine.ts';
import type { StorageEngine } from '../ports.ts';
import { crc32 } from '../storage/crc32.ts';
import { ABORT, abortChunk, ackChunk, DATA, END, OPEN, opsBytes, parseChunk, parseData, parseOpen, REFUSE, readU64, reasonText, type SnapshotChunkLink, type SnapshotStreamStats, type StreamDescriptor, stageDoneKey, stagingRange } from './snapshot-stream.ts';

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

  /** Forgets a region's stream (installed, or its snapshot was not taken by Raft); its staging stays for `moveStaged` or the next OPEN. */
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
