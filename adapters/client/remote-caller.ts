/**
 * Calls to the stores of a cluster by store id: an address book learned from the servers
 * (`stores` calls), one link per store dialled on first use and redialled after it is lost, and
 * a short back-off per address so that a down store fails calls at once instead of each waiting
 * for a dial. Used by the remote client and by a store joining a cluster.
 */
import { StoreUnreachableError } from '../../src/client/connector.ts';
import { PermissionDeniedError } from '../../src/errors.ts';
import { CLIENT_ID_MIN, type ClusterInfo, type ServerCall, type StoreAddress } from '../../src/server/protocol.ts';
import type { HandshakeIdentity } from '../../src/transport/handshake.ts';
import { type HandshakeCrypto, importClusterSecret } from '../../src/transport/hmac.ts';
import type { WebSocketConstructor } from '../transport/websocket-link.ts';
import { openRemoteLink, type RemoteLink } from './remote-link.ts';
import type { PasswordCredentials } from './credentials.ts';

/**
 * A client's transport identity: cluster, a random id at or above `CLIENT_ID_MIN`, and the
 * secret's key unless the client logs in as a user.
 */
export type ClientIdentity = Omit<HandshakeIdentity, 'key'> & Partial<Pick<HandshakeIdentity, 'key'>>;

/**
 * Makes a fresh client identity (a random transport id, never a store's).
 * @param clusterId - the cluster to join.
 * @param secret - the cluster secret; absent for a client that logs in as a user.
 */
export async function createClientIdentity(clusterId: string, secret?: string | Uint8Array): Promise<ClientIdentity> {
  const crypto = globalThis.crypto as unknown as HandshakeCrypto;
  const r = globalThis.crypto.getRandomValues(new Uint32Array(2));
  // 52 bits at most: ids stay safe integers. CLIENT_ID_MIN is 2^40, so [2^40, 2^52).
  const localId = CLIENT_ID_MIN + (r[0] % 2 ** 11) * 2 ** 32 + r[1];
  return { clusterId, localId, crypto, ...(secret !== undefined ? { key: await importClusterSecret(crypto, secret) } : {}) };
}

/** Options of {@link createRemoteCaller}. */
export interface RemoteCallerOptions {
  identity: ClientIdentity;
  /** Log in as a user (instead of the cluster secret). */
  credentials?: PasswordCredentials;
  WebSocket: WebSocketConstructor;
  /** URLs to ask for the cluster's stores. */
  endpoints: string[];
  connectTimeoutMs: number;
  callTimeoutMs: number;
  /** A link silent this long is closed as dead (default 10,000 ms; docs/reconnect.md). */
  linkIdleTimeoutMs?: number;
}

/** See the module comment. */
export interface RemoteCaller {
  storeIds(): number[];
  addresses(): StoreAddress[];
  /** Sends `call` to store `storeId` (dialling it if needed). */
  callStore(storeId: number, call: ServerCall): Promise<unknown>;
  /** Sends `call` to whichever store is at `url`. */
  callUrl(url: string, call: ServerCall): Promise<unknown>;
  /** Learns the stores from the first endpoint or known store that answers; `strict` rejects when none does. */
  refresh(strict: boolean): Promise<void>;
  /** Refreshes the address book in the background, at most every few seconds. */
  refreshSoon(): void;
  close(): void;
}

const RETRY_DIAL_MS = 250;
const REFRESH_MS = 5000;

/**
 * Creates a {@link RemoteCaller}.
 * @param options - identity, WebSocket constructor, endpoints and timeouts.
 */
export function createRemoteCaller(options: RemoteCallerOptions): RemoteCaller {
  const book = new Map<number, string>();
  const links = new Map<string, Promise<RemoteLink>>();
  const failedAt = new Map<string, number>();
  let lastRefresh = 0;
  let closed = false;

  const linkTo = (url: string, expectStoreId?: number): Promise<RemoteLink> => {
    if (closed) return Promise.reject(new StoreUnreachableError(expectStoreId ?? 0, false, 'the client is closed'));
    const existing = links.get(url);
    if (existing) {
      return existing.then((l) => {
        // A link whose login nears expiry is replaced before any store refuses it (credentials.ts).
        const stale = l.expiresAtMs !== undefined && options.credentials?.stale(l.expiresAtMs) === true;
        if (l.alive() && !stale) return l;
        if (stale) l.retire();
        if (links.get(url) === existing) links.delete(url);
        return linkTo(url, expectStoreId);
      });
    }
    const since = performance.now() - (failedAt.get(url) ?? Number.NEGATIVE_INFINITY);
    if (since < RETRY_DIAL_MS) return Promise.reject(new StoreUnreachableError(expectStoreId ?? 0, false, `${url} was unreachable ${Math.round(since)} ms ago`));
    const open = () => openRemoteLink({ url, identity: options.identity, credentials: options.credentials, WebSocket: options.WebSocket, expectStoreId, connectTimeoutMs: options.connectTimeoutMs, idleTimeoutMs: options.linkIdleTimeoutMs });
    const creds = options.credentials;
    const usedToken = creds?.token() !== undefined;
    // A refused token (revoked, or expired on a store whose clock runs ahead) is forgotten by the
    // handshake: log in once more with the password.
    const p = open().catch((e) => (usedToken && creds?.token() === undefined ? open() : Promise.reject(e)));
    links.set(url, p);
    p.catch(() => {
      if (links.get(url) === p) links.delete(url);
      failedAt.set(url, performance.now());
    });
    return p;
  };

  const learn = (info: ClusterInfo) => {
    for (const s of info.stores) book.set(s.id, s.url);
  };

  const caller: RemoteCaller = {
    storeIds: () => [...book.keys()].sort((a, b) => a - b),
    addresses: () => [...book].map(([id, url]) => ({ id, url })).sort((a, b) => a.id - b.id),
    async callStore(storeId, call) {
      const url = book.get(storeId);
      if (url === undefined) throw new StoreUnreachableError(storeId, false, 'no address known for this store');
      const link = await linkTo(url, storeId);
      if (link.storeId !== storeId) throw new StoreUnreachableError(storeId, false, `${url} is store ${link.storeId} now`);
      return link.call(call, options.callTimeoutMs);
    },
    async callUrl(url, call) {
      const link = await linkTo(url);
      return link.call(call, options.callTimeoutMs);
    },
    async refresh(strict) {
      lastRefresh = performance.now();
      const urls = [...new Set([...book.values(), ...options.endpoints])];
      const errors: string[] = [];
      let refusal: PermissionDeniedError | undefined;
      for (const url of urls) {
        try {
          learn((await caller.callUrl(url, { t: 'stores' })) as ClusterInfo);
          return;
        } catch (e) {
          if (e instanceof PermissionDeniedError) refusal ??= e;
          errors.push(e instanceof Error ? e.message : String(e));
        }
      }
      // A refused login says more than "unreachable": the user or password is wrong.
      if (strict && refusal) throw refusal;
      if (strict) throw new StoreUnreachableError(0, false, `no endpoint answered: ${errors.join('; ')}`);
    },
    refreshSoon() {
      if (closed || performance.now() - lastRefresh < REFRESH_MS) return;
      void caller.refresh(false).catch(() => undefined);
    },
    close() {
      closed = true;
      for (const p of links.values()) p.then((l) => l.close()).catch(() => undefined);
      links.clear();
    },
  };
  return caller;
}
