/**
 * Large payloads (snapshots) over any transport: split into bounded chunks sent one by one while
 * the link has room (back-pressure through `Transport.queuedBytes`), and reassembled on the other
 * side with every length and order checked. Links deliver in order, so a chunk out of order means
 * a lost one: the stream is dropped and the sender starts again (Raft resends snapshots itself).
 */
import { TransportError } from '../codec/errors.ts';
import type { Clock } from '../ports.ts';
import type { Transport } from './port.ts';

/** Options of {@link sendChunked}. */
export interface ChunkedSendOptions {
  /** Bytes per chunk (default 1 MiB); keep it well under the frame limit. */
  chunkBytes?: number;
  /** Wait while more than this many bytes are queued for the peer (default 4 MiB). */
  highWaterBytes?: number;
  /** How often to look again while waiting, in ms (default 5). */
  pollMs?: number;
  /** Give up after this long without progress, in ms (default 30,000). */
  stallMs?: number;
}

/**
 * Sends `payload` to `to` as stream `streamId`, one chunk per frame, never letting more than
 * `highWaterBytes` queue up. Resolves once every chunk is queued; rejects with a
 * {@link TransportError} when the link makes no progress for `stallMs`.
 * @param transport - any transport.
 * @param clock - the clock to wait on (the virtual one in simulation).
 * @param to - the peer store.
 * @param streamId - identifies the payload among the sender's streams to this peer.
 * @param payload - the bytes.
 * @param options - chunk size, high-water mark, polling and stall limits.
 */
export async function sendChunked(transport: Transport, clock: Clock, to: number, streamId: number, payload: Uint8Array, options: ChunkedSendOptions = {}): Promise<void> {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const highWaterBytes = options.highWaterBytes ?? 4 * 1024 * 1024;
  const pollMs = options.pollMs ?? 5;
  const stallMs = options.stallMs ?? 30_000;
  if (!(chunkBytes > 0) || !(highWaterBytes >= chunkBytes)) throw new RangeError('chunkBytes must be positive and at most highWaterBytes');
  const total = Math.max(1, Math.ceil(payload.length / chunkBytes));
  const wait = () => new Promise<void>((resolve) => clock.setTimer(pollMs, resolve));
  for (let seq = 0; seq < total; seq++) {
    const chunk = payload.subarray(seq * chunkBytes, (seq + 1) * chunkBytes);
    const since = clock.now();
    for (;;) {
      if (transport.queuedBytes(to) + chunk.length <= highWaterBytes && transport.send(to, [{ kind: 'chunk', streamId, seq, total, payload: chunk }])) break;
      if (clock.now() - since > stallMs) {
        throw new TransportError('QueueFull', `stream ${streamId} to store ${to} made no progress for ${stallMs} ms at chunk ${seq} of ${total}`);
      }
      await wait();
    }
  }
}

/** Options of {@link createChunkAssembler}. */
export interface ChunkAssemblerOptions {
  /** Largest payload accepted (default 256 MiB). */
  payloadBytesMax?: number;
  /** Unfinished streams kept per peer; the oldest is dropped beyond it (default 4). */
  streamsPerPeerMax?: number;
}

/** The outcome of one chunk. */
export type ChunkResult =
  | { kind: 'partial' }
  | { kind: 'complete'; payload: Uint8Array }
  /** The stream was dropped; `reason` says why (count it, and let the sender start again). */
  | { kind: 'dropped'; reason: string };

interface Stream {
  total: number;
  next: number;
  parts: Uint8Array[];
  bytes: number;
}

/** Reassembles chunk streams per peer. */
export interface ChunkAssembler {
  /**
   * Adds a chunk received from `from`.
   * @param from - the authenticated sender.
   * @param chunk - the chunk item's fields.
   */
  add(from: number, chunk: { streamId: number; seq: number; total: number; payload: Uint8Array }): ChunkResult;
  /** Forgets every unfinished stream of `from` (its link went down). */
  forget(from: number): void;
  /** Bytes held in unfinished streams. */
  heldBytes(): number;
}

/**
 * Creates a {@link ChunkAssembler}.
 * @param options - payload and stream limits.
 */
export function createChunkAssembler(options: ChunkAssemblerOptions = {}): ChunkAssembler {
  const payloadBytesMax = options.payloadBytesMax ?? 256 * 1024 * 1024;
  const streamsPerPeerMax = options.streamsPerPeerMax ?? 4;
  const peers = new Map<number, Map<number, Stream>>();
  let held = 0;

  const drop = (streams: Map<number, Stream>, id: number, reason: string): ChunkResult => {
    const s = streams.get(id);
    if (s) held -= s.bytes;
    streams.delete(id);
    return { kind: 'dropped', reason };
  };

  return {
    add(from, { streamId, seq, total, payload }) {
      let streams = peers.get(from);
      if (streams === undefined) {
        streams = new Map();
        peers.set(from, streams);
      }
      if (seq === 0) {
        drop(streams, streamId, 'restarted');
        if (streams.size >= streamsPerPeerMax) drop(streams, streams.keys().next().value as number, 'too many streams');
        streams.set(streamId, { total, next: 0, parts: [], bytes: 0 });
      }
      const s = streams.get(streamId);
      if (s === undefined) return { kind: 'dropped', reason: `chunk ${seq} of stream ${streamId} without its start` };
      if (s.total !== total || s.next !== seq) return drop(streams, streamId, `chunk ${seq}/${total} of stream ${streamId} out of order (expected ${s.next}/${s.total})`);
      if (s.bytes + payload.length > payloadBytesMax) return drop(streams, streamId, `stream ${streamId} is over ${payloadBytesMax} bytes`);
      s.parts.push(payload);
      s.bytes += payload.length;
      held += payload.length;
      s.next++;
      if (s.next < s.total) return { kind: 'partial' };
      streams.delete(streamId);
      held -= s.bytes;
      const out = new Uint8Array(s.bytes);
      let at = 0;
      for (const p of s.parts) {
        out.set(p, at);
        at += p.length;
      }
      return { kind: 'complete', payload: out };
    },
    forget(from) {
      for (const s of peers.get(from)?.values() ?? []) held -= s.bytes;
      peers.delete(from);
    },
    heldBytes: () => held,
  };
}
