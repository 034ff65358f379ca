/**
 * A transport over MessageChannel ports: stores in the same page, or in different Workers (post
 * one end of a channel to the Worker and `connect` it there). Each frame travels as an exact-size
 * ArrayBuffer that is transferred, not copied. A credit window gives back-pressure: the receiver
 * acknowledges the bytes it has consumed, and `send` refuses once too many are unacknowledged.
 */
import { encodeFrame } from '../../src/codec/frame.ts';
import { type FrameLimits, resolveFrameLimits } from '../../src/codec/limits.ts';
import type { Frame } from '../../src/codec/schema.ts';
import type { DisconnectInfo, Transport } from '../../src/transport/port.ts';
import { createFrameGuard, createHandlerList, type FrameGuardStats } from '../../src/transport/guard.ts';

/** Options of {@link createMessageChannelTransport}. */
export interface MessageChannelTransportOptions {
  /** This store's id. */
  localId: number;
  /** The cluster id written into and expected of every frame. */
  clusterId: string;
  /** Unacknowledged bytes per peer beyond which `send` returns false (default 8 MiB). */
  windowBytes?: number;
  /** Bad frames from one peer after which its link is closed (default 3). */
  offencesMax?: number;
  /** Frame limits (default `DEFAULT_FRAME_LIMITS`). */
  limits?: Partial<FrameLimits>;
  /** The incarnation of this store's data, told to every peer it is linked with (`src/store/store-ident.ts`). */
  incarnation?: string;
}

/** A {@link Transport} whose links are MessagePorts handed to it by the application. */
export interface MessageChannelTransport extends Transport {
  /** The incarnation of this store's data, if given. */
  readonly incarnation: string | undefined;
  /**
   * Uses `port` as the link to store `peerId`, replacing (and closing) any previous link to it.
   * `peerIncarnation` (what the peer said of its data when the link was made) is set on its frames.
   */
  connect(peerId: number, port: MessagePort, peerIncarnation?: string): void;
  /** Closes the link to `peerId`, telling the peer why. */
  disconnect(peerId: number, reason: string): void;
  /** Inbound frame counters (accepted, rejected by code, links closed for bad frames). */
  stats(): FrameGuardStats;
}

/** Control messages beside the frames (which are bare ArrayBuffers). */
type Control = { t: 'ack'; bytes: number } | { t: 'refused'; code: string; reason: string } | { t: 'bye'; reason: string };

interface Link {
  port: MessagePort;
  /** Bytes sent and not yet acknowledged. Invariant: 0 <= unacked. */
  unacked: number;
  /** Bytes received and not yet acknowledged to the peer. */
  toAck: number;
  ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** The peer's incarnation, as told when the link was made. */
  incarnation: string | undefined;
}

function isControl(data: unknown): data is Control {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  if (d.t === 'ack') return Number.isSafeInteger(d.bytes) && (d.bytes as number) >= 0;
  if (d.t === 'refused') return typeof d.code === 'string' && typeof d.reason === 'string';
  return d.t === 'bye' && typeof d.reason === 'string';
}

/** Whether this runtime's postMessage takes a transfer list (workerd's MessagePort refuses one). */
let transferWorks = true;

/** Posts a frame's buffer: transferred (no copy) where the runtime can, copied where it cannot. */
function post(port: MessagePort, buffer: ArrayBuffer): void {
  if (transferWorks) {
    try {
      port.postMessage(buffer, [buffer]);
      return;
    } catch (e) {
      // A refused transfer leaves the buffer attached, so the copying form can still send it.
      if (buffer.byteLength === 0) throw e;
      transferWorks = false;
    }
  }
  port.postMessage(buffer);
}

/**
 * Creates a MessageChannel transport for one store.
 * @param options - local id, cluster id, window, offence and frame limits.
 */
export function createMessageChannelTransport(options: MessageChannelTransportOptions): MessageChannelTransport {
  const { localId, clusterId } = options;
  const limits = resolveFrameLimits(options.limits);
  const windowBytes = options.windowBytes ?? 8 * 1024 * 1024;
  const guard = createFrameGuard({ clusterId, localId, limits, offencesMax: options.offencesMax });
  const links = new Map<number, Link>();
  const frames = createHandlerList<Frame>();
  const disconnects = createHandlerList<DisconnectInfo>();
  let closed = false;

  const drop = (peerId: number, link: Link, reason: string, tellPeer: boolean, tellLocal: boolean) => {
    if (links.get(peerId) !== link) return;
    links.delete(peerId);
    clearTimeout(link.ackTimer);
    if (tellPeer) link.port.postMessage({ t: 'bye', reason } satisfies Control);
    link.port.onmessage = null;
    link.port.close();
    if (tellLocal) disconnects.emit({ storeId: peerId, reason });
  };

  const flushAck = (link: Link) => {
    link.ackTimer = undefined;
    if (link.toAck > 0) link.port.postMessage({ t: 'ack', bytes: link.toAck } satisfies Control);
    link.toAck = 0;
  };

  const receive = (peerId: number, link: Link, data: unknown) => {
    if (links.get(peerId) !== link) return;
    // Frames (bare ArrayBuffers) are by far the most common message: test for them first.
    const isFrame = data instanceof ArrayBuffer;
    if (!isFrame && isControl(data)) {
      if (data.t === 'ack') link.unacked = Math.max(0, link.unacked - data.bytes);
      else if (data.t === 'bye') drop(peerId, link, data.reason, false, true);
      return;
    }
    const bytes = isFrame ? new Uint8Array(data) : new Uint8Array(0);
    // Acknowledge what was consumed, good or bad: the credit is the sender's memory, not our verdict.
    link.toAck += bytes.length;
    if (link.toAck >= windowBytes / 4) flushAck(link);
    else if (link.ackTimer === undefined) link.ackTimer = setTimeout(() => flushAck(link), 0);
    const verdict = guard.check(peerId, bytes);
    if (verdict.ok) {
      if (link.incarnation !== undefined) verdict.frame.incarnation = link.incarnation;
      return frames.emit(verdict.frame);
    }
    link.port.postMessage({ t: 'refused', code: verdict.error.code, reason: verdict.error.message } satisfies Control);
    if (verdict.disconnect) drop(peerId, link, `too many bad frames (last: ${verdict.error.code})`, true, true);
  };

  return {
    localId,
    incarnation: options.incarnation,
    connect(peerId, port, peerIncarnation) {
      if (closed) throw new Error('transport is closed');
      const old = links.get(peerId);
      if (old) drop(peerId, old, 'replaced by a new link', true, false);
      const link: Link = { port, unacked: 0, toAck: 0, ackTimer: undefined, incarnation: peerIncarnation };
      links.set(peerId, link);
      guard.reset(peerId);
      port.onmessage = (ev: MessageEvent) => receive(peerId, link, ev.data);
      port.onmessageerror = () => receive(peerId, link, undefined);
    },
    disconnect(peerId, reason) {
      const link = links.get(peerId);
      if (link) drop(peerId, link, reason, true, true);
    },
    send(storeId, items) {
      const bytes = encodeFrame({ clusterId, from: localId, to: storeId, items }, limits);
      const link = links.get(storeId);
      if (closed || link === undefined) return false;
      // One frame larger than the window may go when nothing is outstanding, or it never could.
      if (link.unacked > 0 && link.unacked + bytes.length > windowBytes) return false;
      link.unacked += bytes.length;
      post(link.port, bytes.buffer as ArrayBuffer);
      return true;
    },
    onFrame: frames.add,
    onDisconnect: disconnects.add,
    queuedBytes: (storeId) => links.get(storeId)?.unacked ?? 0,
    stats: guard.stats,
    async close() {
      if (closed) return;
      closed = true;
      for (const [peerId, link] of [...links]) drop(peerId, link, 'closed', true, false);
    },
  };
}

/**
 * Links two transports of the same page with a new MessageChannel.
 * @param a - one store's transport.
 * @param b - the other's.
 */
export function linkInPage(a: MessageChannelTransport, b: MessageChannelTransport): void {
  const channel = new MessageChannel();
  a.connect(b.localId, channel.port1, b.incarnation);
  b.connect(a.localId, channel.port2, a.incarnation);
}
