/**
 * The sending side of a streamed region snapshot (`snapshot-stream.ts` describes the protocol):
 * reads the region from a consistent engine view page by page and sends it in chunks within a
 * window of unacknowledged ones, resending after a silence, until the receiver verified it all.
 * Started by `outbox.ts` when Raft wants a snapshot sent over a snapshot link.
 */
import { regionRanges } from '../kv/keys.ts';
import type { RegionRange } from '../kv/state-machine.ts';
import type { Clock, StorageSnapshot } from '../ports.ts';
import { nextKey } from '../region/keys.ts';
import { crc32 } from '../storage/crc32.ts';
import { abortChunk, ACK, DATA, endChunk, header, openChunk, parseChunk, REFUSE, reasonText, SCAN_PAGE, type SnapshotChunkLink, type SnapshotStreamStats, type StreamDescriptor } from './snapshot-stream.ts';

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
