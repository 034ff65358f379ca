/**
 * One WebSocket connection of the WebSocket transport, from open to close: runs the handshake
 * (client or server side) under a timeout, then carries frames (binary messages) and control
 * notices (text messages) until either side closes. Works over any WHATWG-style socket: the
 * browser's and Deno's WebSocket, and `ws` in Node.
 *
 * With `liveness`, an authenticated link also finds out by itself when it went half-dead (a silent
 * cut: no FIN ever comes): each end sends a keepalive text message every `min(1000, idle / 4)` ms,
 * and a link that received nothing at all for `idleTimeoutMs` is closed (`CLOSE_IDLE`). Browsers
 * cannot send WebSocket pings, hence a message of our own. A link this end closes is reported
 * closed at once: a half-dead socket's close handshake would otherwise take `ws` 30 s to give up.
 */
import type { ClientHandshake, HandshakeStep, ServerHandshake, UserSession } from '../../src/transport/handshake.ts';

/**
 * The part of a WHATWG WebSocket the transport uses (browser, Deno, `ws` and `isomorphic-ws` all
 * fit). Handler parameters are typed `never` so that every runtime's own event types are accepted;
 * the transport reads only `data` of a message event and `code`/`reason` of a close event.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers and Deno, `ws`'s `WebSocket` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Close codes the transport uses beside 1000 (normal) and 1009 (message too big, set by `ws`). */
export const CLOSE_AUTH_FAILED = 4001;
export const CLOSE_BAD_FRAMES = 4002;
/** The other end took a newer authenticated link from the same id (docs/reconnect.md). */
export const CLOSE_REPLACED = 4003;
/** Nothing arrived for the idle timeout: the link is presumed dead. */
export const CLOSE_IDLE = 4004;

/** The keepalive text message; never handed on as a control notice. */
export const KEEPALIVE_MESSAGE = '{"t":"ping"}';

/** How an authenticated link checks that its peer is still there. */
export interface LinkLiveness {
  /** A link that received nothing (not even a keepalive) for this long is closed as dead. */
  idleTimeoutMs: number;
}

/** The keepalive period for an idle timeout: often enough for a peer whose own timeout is 4 s or more. */
export function keepaliveMs(idleTimeoutMs: number): number {
  return Math.max(5, Math.min(1000, Math.floor(idleTimeoutMs / 4)));
}

/** What the transport holds of a running link. */
export interface LinkHandle {
  /** Closes the link now (cutting the socket shortly if its peer never answers) and reports it closed at once. */
  close(code: number, reason: string): void;
}

/** How long a closed socket may take to finish its close handshake before it is cut (Node's `ws`). */
const CLOSE_GRACE_MS = 1000;

/** The WebSocket `OPEN` ready state. */
export const OPEN = 1;
const CLOSED = 3;

/** What a link reports to its transport. */
export interface LinkEvents {
  /** The handshake succeeded: frames may flow to and from `peerId` (running `incarnation`, if a store). Return false to refuse the peer after all. */
  authenticated(peerId: number, incarnation?: string, session?: UserSession): boolean;
  /**
   * Asked when the handshake has proved `peerId`, before its last message is sent: a refusal
   * (code and reason) ends the link with the peer never seeing a finished handshake.
   */
  admit?(peerId: number): { code: string; reason: string } | undefined;
  /** A binary message arrived from `peerId` after the handshake. */
  frame(peerId: number, bytes: Uint8Array): void;
  /** A text message arrived from `peerId` after the handshake (a control notice, or an offence). */
  control(peerId: number, text: string): void;
  /** The socket closed; `authenticatedAs` is the peer id if the handshake had finished. */
  closed(code: number, reason: string, authenticatedAs: number | undefined): void;
  /** The handshake failed with `code` (counted by the transport). */
  refused(code: string, reason: string): void;
}

/** Trims a close reason to the 123 bytes a close frame allows (ASCII-safe cut). */
export function closeReason(reason: string): string {
  return reason.length <= 120 ? reason : `${reason.slice(0, 117)}...`;
}

function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Uint8Array) return data;
  return undefined;
}

/**
 * Drives one socket through the handshake and then its frames.
 * @param socket - a socket; for the client side not yet open, for the server side already open.
 * @param handshake - the client or server side of a fresh handshake.
 * @param timeoutMs - how long the handshake may take before the socket is closed.
 * @param events - callbacks into the transport.
 * @param liveness - the dead-link detector of the authenticated link (none when absent).
 * @returns the handle to close the link with.
 */
export function runLink(socket: WebSocketLike, handshake: ClientHandshake | ServerHandshake, timeoutMs: number, events: LinkEvents, liveness?: LinkLiveness): LinkHandle {
  socket.binaryType = 'arraybuffer';
  let peerId: number | undefined;
  let failed = false;
  // Invariant: `closed` is reported once, whoever closes first (the peer, or this end through shut).
  let reported = false;
  let beat: ReturnType<typeof setInterval> | undefined;
  let heardAt = performance.now();
  // Handshake messages are handled one at a time, in order, although each awaits WebCrypto.
  let chain: Promise<void> = Promise.resolve();

  const report = (code: number, reason: string) => {
    if (reported) return;
    reported = true;
    clearTimeout(timer);
    clearInterval(beat);
    events.closed(code, reason, peerId);
  };
  /** Closes from this end: the close frame goes out, the socket is cut if no answer comes, and the transport hears of it now. */
  const shut = (code: number, reason: string) => {
    try {
      socket.close(code, closeReason(reason));
    } catch {
      // Already closed.
    }
    const cut = (socket as { terminate?: () => void }).terminate;
    if (typeof cut === 'function')
      setTimeout(() => {
        if (socket.readyState !== CLOSED) cut.call(socket);
      }, CLOSE_GRACE_MS);
    report(code, reason);
  };

  const fail = (code: string, reason: string, message?: string) => {
    if (failed) return;
    failed = true;
    clearTimeout(timer);
    events.refused(code, reason);
    try {
      if (message !== undefined && socket.readyState === OPEN) socket.send(message);
    } catch {
      // The socket may already be gone.
    }
    shut(CLOSE_AUTH_FAILED, `${code}: ${reason}`);
  };

  /** Once authenticated: keepalives out, and a link silent for the idle timeout is closed. */
  const watch = (idleTimeoutMs: number) => {
    const period = keepaliveMs(idleTimeoutMs);
    let beatAt = performance.now();
    heardAt = beatAt;
    beat = setInterval(() => {
      const now = performance.now();
      // A late timer means this process was stalled (or stopped): the peer's messages wait unread,
      // so that silence is ours and does not count against the peer.
      const late = now - beatAt - period;
      if (late > period) heardAt += late;
      beatAt = now;
      if (now - heardAt > idleTimeoutMs) return shut(CLOSE_IDLE, `nothing received for ${idleTimeoutMs} ms: link presumed dead`);
      if (socket.readyState === OPEN) socket.send(KEEPALIVE_MESSAGE);
    }, period);
  };
  const timer = setTimeout(() => fail('Timeout', `handshake did not finish within ${timeoutMs} ms`), timeoutMs);

  const apply = (step: HandshakeStep) => {
    if (failed) return;
    if (step.kind === 'refuse') return fail(step.code, step.reason, step.message);
    const refusal = step.kind === 'done' ? events.admit?.(step.peerId) : undefined;
    if (refusal !== undefined) return fail(refusal.code, refusal.reason);
    if (step.message !== undefined) socket.send(step.message);
    if (step.kind === 'done') {
      clearTimeout(timer);
      if (!events.authenticated(step.peerId, step.peerIncarnation, step.session)) return fail('DuplicateStoreId', `store ${step.peerId} is already connected`);
      peerId = step.peerId;
      if (liveness !== undefined && !reported) watch(liveness.idleTimeoutMs);
    }
  };

  const dispatch = (data: unknown) => {
    // Once either side has begun closing, nothing more is handed on.
    if (socket.readyState !== OPEN || reported) return;
    const bytes = bytesOf(data);
    if (bytes !== undefined) events.frame(peerId!, bytes);
    else if (data !== KEEPALIVE_MESSAGE) events.control(peerId!, typeof data === 'string' ? data : '');
  };
  // Messages waiting in `chain`; while any wait, later ones queue behind them to keep their order
  // (the peer may send frames right behind its last handshake message).
  let queued = 0;

  if ('hello' in handshake) socket.onopen = () => socket.send(handshake.hello());
  socket.onmessage = (ev: { data: unknown }) => {
    heardAt = performance.now();
    if (failed) return;
    if (peerId !== undefined && queued === 0) return dispatch(ev.data);
    queued++;
    chain = chain
      .then(async () => {
        if (failed) return;
        if (peerId !== undefined) return dispatch(ev.data);
        apply(await handshake.receive(ev.data));
      })
      .catch((err) => {
        // Before authentication a throw is the handshake's failure; after it, it is the frame
        // handler's own error, which must surface as it would outside the queue, not close the link.
        if (peerId === undefined) fail('Malformed', String(err));
        else
          setTimeout(() => {
            throw err;
          }, 0);
      })
      .finally(() => void queued--);
  };
  socket.onerror = () => {};
  socket.onclose = (ev: { code: number; reason: string }) => report(ev.code, ev.reason);
  return { close: shut };
}
