/**
 * The WebSocket transport of one store: dials the peers it is told about (reconnecting with
 * jittered exponential back-off), accepts sockets handed over by a server adapter, authenticates
 * every link with the cluster-secret handshake, and keeps a bounded send queue per peer that
 * survives reconnection. A link that went silent is closed as dead (keepalives, `linkIdleTimeoutMs`),
 * and a newer authenticated link from the same peer id replaces the old one at once
 * (`src/transport/link-choice.ts`, docs/reconnect.md). Runs in browsers, Deno and Node (pass
 * `ws`'s `WebSocket` in Node 20).
 */
import { FrameError, TransportError } from '../../src/codec/errors.ts';
import { encodeFrame } from '../../src/codec/frame.ts';
import { type FrameLimits, resolveFrameLimits } from '../../src/codec/limits.ts';
import type { Frame, FrameItem } from '../../src/codec/schema.ts';
import { type Logger, nullLogger, type Rand } from '../../src/ports.ts';
import type { DisconnectInfo, Transport } from '../../src/transport/port.ts';
import { createFrameGuard, createHandlerList, type FrameGuardStats, type FrameVerdict } from '../../src/transport/guard.ts';
import { createClientHandshake, createNonceRegistry, createServerHandshake, type HandshakeIdentity, type UserLoginHandler, type UserSession } from '../../src/transport/handshake.ts';
import { type HandshakeCrypto, importClusterSecret } from '../../src/transport/hmac.ts';
import { chooseLink } from '../../src/transport/link-choice.ts';
import type { AcceptInfo } from './tls.ts';
import { CLOSE_BAD_FRAMES, CLOSE_REPLACED, type LinkHandle, OPEN, runLink, type WebSocketConstructor, type WebSocketLike } from './websocket-link.ts';

export type { WebSocketConstructor, WebSocketLike } from './websocket-link.ts';

/** Options of {@link createWebSocketTransport}. */
export interface WebSocketTransportOptions {
  localId: number;
  clusterId: string;
  /** The shared cluster secret (at least 16 bytes; a string is taken as UTF-8). */
  secret: string | Uint8Array;
  /** Peers this store dials, by store id: `{ 2: 'ws://127.0.0.1:7002' }`. Others may dial in. */
  peers?: Record<number, string>;
  /** The WebSocket constructor (default `globalThis.WebSocket`; in Node 20 pass `ws`'s `WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Bytes queued per peer (ours plus the socket's buffer) beyond which sends are refused (default 8 MiB). */
  queueBytesMax?: number;
  /** Socket buffer level above which queued frames wait (default 1 MiB). */
  socketBufferBytesMax?: number;
  /** How long a handshake may take (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /**
   * A link that receives nothing (not even a keepalive) for this long is closed as dead, and a
   * dialled one is dialled again (default 10,000 ms). Keepalives go out every `min(1000, N / 4)` ms.
   */
  linkIdleTimeoutMs?: number;
  /** Reconnection back-off: first delay and cap, in ms (defaults 100 and 10,000); each delay is jittered. */
  reconnectDelayMs?: { min: number; max: number };
  /** Bad frames from one peer after which its link is closed (default 3). */
  offencesMax?: number;
  limits?: Partial<FrameLimits>;
  /** The incarnation of this store's data, told to every peer in the handshake (`src/store/store-ident.ts`). */
  incarnation?: string;
  /** Randomness for the back-off jitter (default `Math.random`). */
  rand?: Pick<Rand, 'next'>;
  /** WebCrypto (default `globalThis.crypto`). */
  crypto?: HandshakeCrypto;
  /** Where refused handshakes, cut-off peers and lost links are reported (default: nowhere). */
  logger?: Logger;
  /**
   * Peers (by id) that must have presented a verified TLS certificate on a socket they dialled
   * (`--peer-client-cert-auth`: stores, not clients); without one their handshake is refused
   * (`PeerCertRequired`). Default: none.
   */
  peerCertRequired?: (peerId: number) => boolean;
  /** Runs user logins of clients that hold no cluster secret (`src/auth/user-handshake.ts`); without it they are refused. */
  logins?: UserLoginHandler;
}

/** Who wants to know how an accepted socket's handshake ended (the server adapter's admission). */
export interface LinkObserver extends Partial<AcceptInfo> {
  authenticated?(): void;
  refused?(code: string): void;
}

/** Counters of a WebSocket transport. */
export interface WebSocketTransportStats extends FrameGuardStats {
  /** Handshakes refused, by failure code (both directions). */
  handshakeRefused: Record<string, number>;
  /** Sends refused because a peer's queue was full. */
  queueFull: number;
  /** Refusal notices received from peers about our frames. */
  refusedByPeer: number;
  reconnects: number;
  /** Links replaced by a newer authenticated link of the same peer. */
  linksReplaced: number;
  /** Newer links refused because the old one wins (`src/transport/link-choice.ts`). */
  linksKept: number;
}

/** A {@link Transport} over WebSockets, with a server-side entry point and typed send errors. */
export interface WebSocketTransport extends Transport {
  /**
   * Takes over a socket accepted by a server adapter (already open); runs the server handshake on
   * it and tells `link` (when given) whether it authenticated or was refused. `link.peerCertVerified`:
   * what TLS verified.
   */
  accept(socket: WebSocketLike, link?: LinkObserver): void;
  /** Like `send`, but throws a {@link TransportError} saying why a frame cannot be queued. */
  enqueue(storeId: number, items: readonly FrameItem[]): void;
  /** Closes the link to `storeId` (a dialled peer is dialled again after the back-off). */
  disconnect(storeId: number, reason: string): void;
  /**
   * Drops what is kept for a peer that dialled us (a client) once its link is gone: its entry and
   * any queued frames. Does nothing for a peer this transport dials, or one still connected.
   */
  forget(peerId: number): void;
  /**
   * Resolves once the link to `storeId` is authenticated (or rejects with `TransportError` after
   * `timeoutMs`). Registers `storeId` as a peer, so frames sent to it queue until it connects.
   */
  connected(storeId: number, timeoutMs?: number): Promise<void>;
  /** The user the link of `peerId` logged in as; undefined for a link that proved the cluster secret (or none). */
  sessionOf(peerId: number): UserSession | undefined;
  /**
   * The number of `peerId`'s current link (each new link of a peer gets a higher one; frames carry
   * theirs as `frame.link`), or undefined without a link: a reply to a request that came on a
   * replaced link must go nowhere.
   */
  linkOf(peerId: number): number | undefined;
  stats(): WebSocketTransportStats;
}

/** Whether `text` is a peer's notice that it refused one of our frames (`{ t: 'refused', code, reason }`). */
function isRefusalNotice(text: string): boolean {
  if (text.length > 1024) return false;
  try {
    const v = JSON.parse(text) as { t?: unknown; code?: unknown };
    return v?.t === 'refused' && typeof v.code === 'string';
  } catch {
    return false;
  }
}

interface Peer {
  id: number;
  url: string | undefined;
  socket: WebSocketLike | undefined;
  /** Who dialled the current link (set with `socket`). */
  direction: 'out' | 'in';
  /** The number of the current link; frames it carries are marked with it. */
  link: number;
  /** The incarnation the peer's current link proved in its handshake. */
  incarnation: string | undefined;
  /** The user the current link logged in as (clients without the cluster secret). */
  session?: UserSession;
  queue: Uint8Array[];
  /** Invariant: the sum of `queue` lengths. */
  queueBytes: number;
  attempts: number;
  /** The next dial. Invariant: undefined while `socket` is set. */
  dialTimer: ReturnType<typeof setTimeout> | undefined;
  /** The next look at a queue that waits for the socket's buffer to drain. */
  flushTimer: ReturnType<typeof setTimeout> | undefined;
  waiters: (() => void)[];
}

/**
 * Creates the WebSocket transport of one store. The cluster secret is imported first, hence async.
 * @param options - identity, secret, peers to dial, WebSocket constructor and limits.
 */
export async function createWebSocketTransport(options: WebSocketTransportOptions): Promise<WebSocketTransport> {
  const { localId, clusterId } = options;
  const crypto = options.crypto ?? (globalThis.crypto as unknown as HandshakeCrypto);
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const limits = resolveFrameLimits(options.limits);
  const queueBytesMax = options.queueBytesMax ?? 8 * 1024 * 1024;
  const socketBufferBytesMax = options.socketBufferBytesMax ?? 1024 * 1024;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
  const liveness = { idleTimeoutMs: options.linkIdleTimeoutMs ?? 10_000 };
  const backoff = options.reconnectDelayMs ?? { min: 100, max: 10_000 };
  const rand = options.rand ?? { next: Math.random };
  const logger = options.logger ?? nullLogger;
  const identity: HandshakeIdentity = { clusterId, localId, crypto, key: await importClusterSecret(crypto, options.secret), incarnation: options.incarnation };
  const guard = createFrameGuard({ clusterId, localId, limits, offencesMax: options.offencesMax });
  const nonces = createNonceRegistry();
  const frames = createHandlerList<Frame>();
  const disconnects = createHandlerList<DisconnectInfo>();
  const peers = new Map<number, Peer>();
  /** Every socket not yet reported closed, and its link. */
  const links = new Map<WebSocketLike, LinkHandle>();
  const counters = { handshakeRefused: {} as Record<string, number>, queueFull: 0, refusedByPeer: 0, reconnects: 0, linksReplaced: 0, linksKept: 0 };
  let linkCount = 0;
  let closed = false;

  const peerOf = (id: number, url?: string): Peer => {
    let p = peers.get(id);
    if (p === undefined) {
      p = { id, url, socket: undefined, direction: 'in', link: 0, incarnation: undefined, queue: [], queueBytes: 0, attempts: 0, dialTimer: undefined, flushTimer: undefined, waiters: [] };
      peers.set(id, p);
    }
    return p;
  };

  const flush = (p: Peer) => {
    const s = p.socket;
    if (s === undefined || s.readyState !== OPEN) return;
    while (p.queue.length > 0 && s.bufferedAmount < socketBufferBytesMax) {
      const bytes = p.queue.shift()!;
      p.queueBytes -= bytes.length;
      s.send(bytes);
    }
    // Browsers have no drain event: look again shortly while frames wait.
    if (p.queue.length > 0 && p.flushTimer === undefined) {
      p.flushTimer = setTimeout(() => {
        p.flushTimer = undefined;
        flush(p);
      }, 5);
    }
  };

  const scheduleDial = (p: Peer) => {
    // A peer with a link (maybe one it dialled to us) is not dialled; it is once that link is lost.
    if (closed || p.url === undefined || p.dialTimer !== undefined || p.socket !== undefined) return;
    // The first dial is immediate; retry n waits a random time in [cap/2, cap), cap = min * 2^(n-1).
    const cap = Math.min(backoff.max, backoff.min * 2 ** Math.min(p.attempts - 1, 30));
    const delay = p.attempts === 0 ? 0 : cap / 2 + (rand.next() * cap) / 2;
    p.attempts++;
    p.dialTimer = setTimeout(() => {
      p.dialTimer = undefined;
      dial(p);
    }, delay);
  };

  /**
   * Takes `socket`, just authenticated as `peerId`, as the peer's link, replacing its current one
   * when link-choice says so; false: the current one stays and this one is refused.
   */
  const takeLink = (p: Peer, socket: WebSocketLike, direction: 'out' | 'in', incarnation: string | undefined, session: UserSession | undefined): boolean => {
    const old = p.socket;
    if (old !== undefined) {
      const choice = chooseLink(localId, p.id, { direction: p.direction, incarnation: p.incarnation, user: p.session?.user }, { direction, incarnation, user: session?.user });
      if (!choice.replace) {
        counters.linksKept++;
        logger.warn('transport: newer link refused, the current one is kept', { localId, peer: p.id, reason: choice.reason });
        return false;
      }
      counters.linksReplaced++;
      logger.info('transport: link replaced by a newer authenticated one', { localId, peer: p.id, reason: choice.reason });
    }
    // Set before the old link is closed, so that its close is no loss of the peer and no reason to dial.
    p.socket = socket;
    p.direction = direction;
    p.link = ++linkCount;
    p.incarnation = incarnation;
    p.session = session;
    p.attempts = 0;
    clearTimeout(p.dialTimer);
    p.dialTimer = undefined;
    guard.reset(p.id);
    if (old !== undefined) {
      links.get(old)?.close(CLOSE_REPLACED, 'replaced by a newer authenticated link');
      // What was under way on the old link (chunk streams, calls) is lost, as on any reconnect.
      disconnects.emit({ storeId: p.id, reason: 'link replaced by a newer authenticated one' });
    }
    return true;
  };

  /** Tells the peer why its message was refused, and cuts it off at the offence limit. */
  const judge = (socket: WebSocketLike, verdict: FrameVerdict) => {
    if (verdict.ok) return;
    socket.send(JSON.stringify({ t: 'refused', code: verdict.error.code, reason: verdict.error.message.slice(0, 200) }));
    if (verdict.disconnect) {
      logger.warn('transport: peer cut off after repeated bad frames', { localId, code: verdict.error.code, reason: verdict.error.message });
      links.get(socket)?.close(CLOSE_BAD_FRAMES, `too many bad frames (last: ${verdict.error.code})`);
    }
  };

  const attach = (socket: WebSocketLike, side: 'client' | 'server', dialled?: Peer, observer?: LinkObserver) => {
    const handshake = side === 'client' ? createClientHandshake(identity, dialled!.id) : createServerHandshake(identity, nonces, options.logins);
    const handle = runLink(socket, handshake, handshakeTimeoutMs, {
      admit(peerId) {
        if (side !== 'server' || observer?.peerCertVerified === true || options.peerCertRequired?.(peerId) !== true) return undefined;
        return { code: 'PeerCertRequired', reason: `peer ${peerId} presented no certificate signed by the cluster CA` };
      },
      authenticated(peerId, incarnation, session) {
        if (closed || !takeLink(peerOf(peerId), socket, side === 'client' ? 'out' : 'in', incarnation, session)) return false;
        const p = peers.get(peerId)!;
        observer?.authenticated?.();
        for (const w of p.waiters.splice(0)) w();
        flush(p);
        return true;
      },
      // A replaced link was closed (by its handle) before its successor was taken: runLink hands
      // on nothing from it after that, so every frame here comes on the peer's current link.
      frame(peerId, bytes) {
        const verdict = guard.check(peerId, bytes);
        if (verdict.ok) {
          const p = peers.get(peerId)!;
          if (p.incarnation !== undefined) verdict.frame.incarnation = p.incarnation;
          verdict.frame.link = p.link;
          frames.emit(verdict.frame);
        }
        else judge(socket, verdict);
      },
      control(peerId, text) {
        if (isRefusalNotice(text)) counters.refusedByPeer++;
        else judge(socket, guard.offend(peerId, new FrameError('FrameMalformed', 'unexpected text message after the handshake')));
      },
      refused(code, reason) {
        counters.handshakeRefused[code] = (counters.handshakeRefused[code] ?? 0) + 1;
        observer?.refused?.(code);
        logger.warn('transport: handshake refused', { localId, side, peer: dialled?.id, code, reason });
      },
      closed(code, reason, peerId) {
        links.delete(socket);
        const p = peerId === undefined ? dialled : peers.get(peerId);
        const wasCurrent = p !== undefined && p.socket === socket;
        if (wasCurrent) {
          p.socket = undefined;
          if (!closed) {
            logger.info('transport: link lost', { localId, peer: p.id, code, reason });
            disconnects.emit({ storeId: p.id, reason: reason || `socket closed (${code})` });
          }
        }
        if (closed) return;
        if (p !== undefined && wasCurrent && code === CLOSE_REPLACED && side === 'client' && p.id < localId) {
          // A lower id replaced the link we dialled while it was alive: not by a link of its own
          // (those lose to ours), so by another one from our id, which we did not dial: another
          // process runs with this id. Wait the longest back-off, so the two do not take turns at full speed.
          logger.warn(`transport: store ${p.id} replaced this store's link with a newer one it did not dial: is another process running as store ${localId}?`, { localId, peer: p.id });
          p.attempts = Math.max(p.attempts, 64);
        }
        // A dialled peer is dialled again, and so is one we dial whose own link to us was lost.
        const redial = dialled ?? (p !== undefined && wasCurrent && p.url !== undefined ? p : undefined);
        if (redial !== undefined) {
          if (peerId !== undefined) counters.reconnects++;
          scheduleDial(redial);
        }
      },
    }, liveness);
    links.set(socket, handle);
  };

  const dial = (p: Peer) => {
    if (closed || p.url === undefined) return;
    if (Ctor === undefined) throw new TransportError('Unsupported', 'no WebSocket constructor: pass options.WebSocket (in Node 20, `WebSocket` from the ws package)');
    let socket: WebSocketLike;
    try {
      socket = new Ctor(p.url);
    } catch {
      return scheduleDial(p);
    }
    attach(socket, 'client', p);
  };

  for (const [id, url] of Object.entries(options.peers ?? {})) {
    const p = peerOf(Number(id), url);
    scheduleDial(p);
  }

  const enqueue = (storeId: number, items: readonly FrameItem[]) => {
    const bytes = encodeFrame({ clusterId, from: localId, to: storeId, items }, limits);
    if (closed) throw new TransportError('TransportClosed', 'the transport is closed');
    const p = peers.get(storeId);
    if (p === undefined) throw new TransportError('InvalidArgument', `no link to store ${storeId}: it is not in options.peers and has not connected`);
    const queued = p.queueBytes + (p.socket?.bufferedAmount ?? 0);
    if (queued > 0 && queued + bytes.length > queueBytesMax) {
      counters.queueFull++;
      throw new TransportError('QueueFull', `send queue to store ${storeId} is full (${queued} bytes queued, queueBytesMax ${queueBytesMax}); wait for queuedBytes() to fall`);
    }
    const s = p.socket;
    // Nothing waiting and room in the socket's buffer: send at once, without the queue.
    if (p.queue.length === 0 && s !== undefined && s.readyState === OPEN && s.bufferedAmount < socketBufferBytesMax) return s.send(bytes);
    p.queue.push(bytes);
    p.queueBytes += bytes.length;
    flush(p);
  };

  return {
    localId,
    accept(socket, link) {
      if (closed) return socket.close(1001, 'transport closed');
      attach(socket, 'server', undefined, link);
    },
    enqueue,
    send(storeId, items) {
      try {
        enqueue(storeId, items);
        return true;
      } catch (err) {
        if (err instanceof TransportError) return false;
        throw err;
      }
    },
    onFrame: frames.add,
    onDisconnect: disconnects.add,
    queuedBytes(storeId) {
      const p = peers.get(storeId);
      return p === undefined ? 0 : p.queueBytes + (p.socket?.bufferedAmount ?? 0);
    },
    disconnect(storeId, reason) {
      const s = peers.get(storeId)?.socket;
      if (s !== undefined) links.get(s)?.close(1000, reason);
    },
    forget(peerId) {
      const p = peers.get(peerId);
      if (p === undefined || p.url !== undefined || p.socket !== undefined) return;
      clearTimeout(p.dialTimer);
      clearTimeout(p.flushTimer);
      peers.delete(peerId);
    },
    connected(storeId, timeoutMs = 10_000) {
      const p = peerOf(storeId);
      if (p.socket !== undefined) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new TransportError('AuthFailed', `no authenticated link to store ${storeId} after ${timeoutMs} ms`)), timeoutMs);
        p.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    sessionOf: (peerId) => {
      const p = peers.get(peerId);
      return p?.socket === undefined ? undefined : p.session;
    },
    linkOf: (peerId) => {
      const p = peers.get(peerId);
      return p?.socket === undefined ? undefined : p.link;
    },
    stats: () => ({ ...guard.stats(), ...counters, handshakeRefused: { ...counters.handshakeRefused } }),
    async close() {
      if (closed) return;
      closed = true;
      for (const p of peers.values()) {
        clearTimeout(p.dialTimer);
        clearTimeout(p.flushTimer);
      }
      const open = [...links];
      for (const [, handle] of open) handle.close(1000, 'closed');
      // Give the close handshakes a moment, without ever hanging on a dead peer.
      const deadline = Date.now() + 1000;
      while (open.some(([s]) => s.readyState !== 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
