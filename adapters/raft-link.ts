/**
 * Raft traffic between stores over any transport: one frame per destination per loop turn, and a
 * message too large for one frame (a snapshot of a big region) sent as a chunk stream with
 * back-pressure and reassembled on the other side. Used by the in-page cluster and the server.
 */
import { FrameError } from '../src/codec/errors.ts';
import { decodeFrame, encodeFrame } from '../src/codec/frame.ts';
import { DEFAULT_FRAME_LIMITS, type FrameLimits } from '../src/codec/limits.ts';
import type { Frame, FrameItem } from '../src/codec/schema.ts';
import type { Clock, Logger } from '../src/ports.ts';
import type { Transport } from '../src/transport/port.ts';
import { nullLogger } from '../src/ports.ts';
import type { RaftItem } from '../src/store/store-engine.ts';
import { createChunkAssembler, sendChunked } from '../src/transport/chunks.ts';
import { SNAPSHOT_STREAM_BASE, type SnapshotChunkLink } from '../src/store/snapshot-stream.ts';

/** Largest single Raft message (a region snapshot) accepted as a chunk stream. */
const STREAM_BYTES_MAX = 1024 * 1024 * 1024;

export interface RaftLinkOptions {
  transport: Transport;
  clock: Clock;
  clusterId: string;
  logger?: Logger;
  /** Receives the chunks of snapshot streams (stream ids from `SNAPSHOT_STREAM_BASE`): the store's `receiveSnapshotChunk`. */
  onSnapshotChunk?: (from: number, streamId: number, seq: number, payload: Uint8Array) => void;
}

/** Sends and receives Raft items for one store. */
export interface RaftLink {
  /** Sends one loop turn's items for `to` (large ones as chunk streams). */
  send(to: number, items: readonly RaftItem[]): void;
  /** The Raft items of an inbound frame, with any chunk stream it completes. */
  receive(frame: Frame): RaftItem[];
  /** Forgets unfinished streams from a peer whose link went down. */
  forget(peer: number): void;
  /** Sends the chunks of snapshot streams (the store's `snapshotLink`). */
  readonly snapshotLink: SnapshotChunkLink;
}

function toFrameItem(i: RaftItem): FrameItem {
  return { kind: 'raft', regionId: i.regionId, message: i.message, region: i.region };
}

/** Creates the Raft link of one store. */
export function createRaftLink(opts: RaftLinkOptions): RaftLink {
  const { transport, clock, clusterId } = opts;
  const logger = opts.logger ?? nullLogger;
  const assembler = createChunkAssembler({ payloadBytesMax: STREAM_BYTES_MAX });
  let nextStream = 1;

  const sendLarge = (to: number, item: RaftItem) => {
    // The item alone, as a frame of its own, carried in chunks; the receiver decodes it whole.
    const bytes = encodeFrame({ clusterId, from: transport.localId, to, items: [toFrameItem(item)] }, STREAM_LIMITS);
    sendChunked(transport, clock, to, nextStream++, bytes).catch((e) => logger.warn('a large Raft message was not sent', { to, error: String(e) }));
  };

  // One frame for the turn's items when they fit (the common case, tried first). When they do not,
  // halves, in order, down to single items; a single item over the limit (a snapshot of a big
  // region, or a MsgApp whose one entry holds a large value) goes as a chunk stream, which may
  // arrive after the frames sent behind it: Raft tolerates reordered messages. Never throws
  // FrameTooLarge: a throw here would stop the store's loop (a catching-up follower gets many
  // MsgApps of up to maxSizePerMsg each in one turn, together far over one frame).
  const sendFitting = (to: number, items: readonly RaftItem[]): void => {
    try {
      transport.send(to, items.map(toFrameItem));
    } catch (e) {
      if (!(e instanceof FrameError) || e.code !== 'FrameTooLarge') throw e;
      if (items.length <= 1) {
        if (items.length === 1) sendLarge(to, items[0]);
        return;
      }
      const half = Math.ceil(items.length / 2);
      sendFitting(to, items.slice(0, half));
      sendFitting(to, items.slice(half));
    }
  };

  return {
    send(to, items) {
      // An empty call still sends a frame: store liveness pings of quiesced regions are frames
      // with no items.
      sendFitting(to, items);
    },
    receive(frame) {
      const out: RaftItem[] = [];
      for (const item of frame.items) {
        if (item.kind === 'raft') out.push({ regionId: item.regionId, message: item.message, region: item.region });
        else if (item.kind === 'chunk' && item.streamId >= SNAPSHOT_STREAM_BASE) opts.onSnapshotChunk?.(frame.from, item.streamId, item.seq, item.payload);
        else if (item.kind === 'chunk') {
          const r = assembler.add(frame.from, item);
          if (r.kind === 'dropped') logger.debug('chunk stream dropped', { from: frame.from, reason: r.reason });
          if (r.kind !== 'complete') continue;
          try {
            const inner = decodeFrame(r.payload, { clusterId, from: frame.from, to: transport.localId }, STREAM_LIMITS);
            for (const i of inner.items) if (i.kind === 'raft') out.push({ regionId: i.regionId, message: i.message, region: i.region });
          } catch (e) {
            logger.warn('a reassembled Raft message was refused', { from: frame.from, error: String(e) });
          }
        }
      }
      return out;
    },
    forget(peer) {
      assembler.forget(peer);
    },
    snapshotLink: {
      // A snapshot chunk's seq/total are the stream's own (the payload says what it is): total is just seq + 1.
      send: (to, streamId, seq, payload) => transport.send(to, [{ kind: 'chunk', streamId, seq, total: seq + 1, payload }]),
      queuedBytes: (to) => transport.queuedBytes(to),
    },
  };
}

/** The frame limits of a reassembled stream: the defaults, but as large as a stream may be. */
const STREAM_LIMITS: FrameLimits = Object.freeze({ ...DEFAULT_FRAME_LIMITS, frameBytesMax: STREAM_BYTES_MAX });
