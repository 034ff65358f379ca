/**
 * One authenticated WebSocket link from a remote client (or a joining store) to a store server:
 * dials a URL, runs the cluster-secret handshake as a client with a transport id of its own
 * (at or above `CLIENT_ID_MIN`, so servers never take it for a store), then carries calls as frame
 * `request` items and matches `response` items to them. A call never hangs: it resolves, rejects
 * with the server's typed error, or rejects with `StoreUnreachableError` (saying whether the
 * request may have left) on a lost link or a timeout. A link that hears nothing from its store
 * (not even a keepalive) for `idleTimeoutMs` is closed as dead (a silent cut), so the next call
 * dials again; the store takes that newer link in place of the half-dead one (docs/reconnect.md).
 */
import { StoreUnreachableError } from '../../src/client/connector.ts';
import { PermissionDeniedError } from '../../src/errors.ts';
import { encodeFrame } from '../../src/codec/frame.ts';
import { resolveFrameLimits } from '../../src/codec/limits.ts';
import { createFrameGuard } from '../../src/transport/guard.ts';
import { createClientHandshake, type HandshakeIdentity } from '../../src/transport/handshake.ts';
import { createUserClientHandshake, type UserCredentials } from '../../src/auth/user-handshake.ts';
import { decodeAnswer, encodeCall, type ServerCall } from '../../src/server/protocol.ts';
import { OPEN, runLink, type WebSocketConstructor, type WebSocketLike } from '../transport/websocket-link.ts';

/** How a link is set up. */
export interface RemoteLinkOptions {
  url: string;
  /** The cluster secret's key may be absent when logging in as a user. */
  identity: Omit<HandshakeIdentity, 'key'> & Partial<Pick<HandshakeIdentity, 'key'>>;
  /** Log in as this user instead of proving the cluster secret. */
  credentials?: UserCredentials;
  WebSocket: WebSocketConstructor;
  /** The store expected at `url`, when known (a different one is refused). */
  expectStoreId?: number;
  /** How long dialling and the handshake may take (default 3000 ms). */
  connectTimeoutMs?: number;
  /** A link that receives nothing for this long is closed as dead (default 10,000 ms). */
  idleTimeoutMs?: number;
}

/** An open link to one store. */
export interface RemoteLink {
  readonly url: string;
  /** The store at the other end (known once `open` resolved). */
  readonly storeId: number;
  /** Whether the link is still usable. */
  alive(): boolean;
  /** When the user login of the link expires (ms since the epoch); undefined for a cluster-secret link. */
  readonly expiresAtMs: number | undefined;
  /** Closes the link once no call waits on it (a link whose login nears expiry). */
  retire(): void;
  /** Sends a call and resolves with the answer's value (or rejects; see the module comment). */
  call(call: ServerCall, timeoutMs: number): Promise<unknown>;
  close(): void;
}

/**
 * Request ids are unique across every link of this process, not per link: a reply to a call made
 * on a replaced link can then never be taken for the answer to a call on its successor.
 */
let nextRequestId = 1;

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  cancel(): void;
}

/**
 * Dials `options.url` and resolves once the handshake succeeded; rejects with
 * `StoreUnreachableError` (nothing sent) when the store cannot be reached or refuses us, or with
 * `PermissionDeniedError` when it refuses a user login (`BadCredentials`).
 * @param options - the URL, our identity and key, the WebSocket constructor.
 */
export function openRemoteLink(options: RemoteLinkOptions): Promise<RemoteLink> {
  const { url, identity } = options;
  const limits = resolveFrameLimits();
  const guard = createFrameGuard({ clusterId: identity.clusterId, localId: identity.localId, limits, offencesMax: 1_000_000 });
  const pending = new Map<number, Pending>();
  let storeId = 0;
  let open = false;
  let expiresAtMs: number | undefined;
  let retiring = false;
  let socket: WebSocketLike;
  const unreachable = (sent: boolean, why: string) => new StoreUnreachableError(options.expectStoreId ?? storeId, sent, `${url}: ${why}`);

  return new Promise<RemoteLink>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(`no authenticated link within ${options.connectTimeoutMs ?? 3000} ms`), options.connectTimeoutMs ?? 3000);
    const fail = (why: string, error: Error = unreachable(false, why)) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        socket?.close(1000, 'giving up');
      } catch {
        // already closed
      }
      reject(error);
    };
    try {
      socket = new options.WebSocket(url);
    } catch (e) {
      fail(String(e));
      return;
    }
    const link: RemoteLink = {
      url,
      get storeId() {
        return storeId;
      },
      alive: () => open && socket.readyState === OPEN,
      get expiresAtMs() {
        return expiresAtMs;
      },
      retire() {
        retiring = true;
        if (pending.size === 0) link.close();
      },
      call(call, timeoutMs) {
        if (!link.alive()) return Promise.reject(unreachable(false, 'link closed'));
        const requestId = nextRequestId++;
        const bytes = encodeFrame({ clusterId: identity.clusterId, from: identity.localId, to: storeId, items: [{ kind: 'request', requestId, payload: encodeCall(call) }] }, limits);
        return new Promise((res, rej) => {
          const t = setTimeout(() => {
            pending.delete(requestId);
            if (retiring && pending.size === 0) link.close();
            rej(unreachable(true, `no answer within ${timeoutMs} ms`));
          }, timeoutMs);
          pending.set(requestId, { resolve: res, reject: rej, cancel: () => clearTimeout(t) });
          socket.send(bytes);
        });
      },
      close() {
        open = false;
        try {
          socket.close(1000, 'client closed');
        } catch {
          // already closed
        }
      },
    };
    const handshake = options.credentials
      ? createUserClientHandshake(identity, options.credentials, options.expectStoreId)
      : createClientHandshake(identity as HandshakeIdentity, options.expectStoreId);
    runLink(socket, handshake, options.connectTimeoutMs ?? 3000, {
      authenticated(peerId, _incarnation, session) {
        if (settled) return false;
        storeId = peerId;
        expiresAtMs = session?.expiresAtMs;
        open = true;
        settled = true;
        clearTimeout(timer);
        resolve(link);
        return true;
      },
      frame(peerId, bytes) {
        const verdict = guard.check(peerId, bytes);
        if (!verdict.ok) return;
        for (const item of verdict.frame.items) {
          if (item.kind !== 'response') continue;
          const p = pending.get(item.requestId);
          if (!p) continue;
          pending.delete(item.requestId);
          p.cancel();
          if (retiring && pending.size === 0) link.close();
          const answer = decodeAnswer(item.payload);
          if (answer.ok) p.resolve(answer.value);
          else p.reject(answer.error);
        }
      },
      control() {
        // Refusal notices about our frames: the call times out and is reported then.
      },
      refused(code, reason) {
        const why = `handshake refused (${code}: ${reason})`;
        // A refused user login is no unreachable store: another store refuses it too, so the
        // caller is told at once (typed) instead of retrying until its deadline.
        fail(why, code === 'BadCredentials' && options.credentials ? new PermissionDeniedError('login', `${url}: ${why}`) : undefined);
      },
      closed(code, reason) {
        open = false;
        fail(`socket closed (${code}${reason ? `: ${reason}` : ''})`);
        for (const [id, p] of pending) {
          pending.delete(id);
          p.cancel();
          p.reject(unreachable(true, `link lost (${code}${reason ? `: ${reason}` : ''})`));
        }
      },
    }, { idleTimeoutMs: options.idleTimeoutMs ?? 10_000 });
  });
}
