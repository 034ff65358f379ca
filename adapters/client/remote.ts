/**
 * The remote client: `connect({ endpoints, user, password })` (or `secret` for operator tools and
 * stores) returns a {@link KvClient} (the same API as
 * the in-page client, `admin` included) whose requests travel over WebSocket to store servers
 * (`flotilla serve`). It learns the cluster's stores and their addresses from any endpoint that
 * answers, dials each store when first needed, follows leaders and splits like any KvClient, and
 * redials lost links on the next call. Runs in Node 20 (pass or install `ws`), Deno and browsers.
 */
import { KvClient, type KvClientOptions } from '../../src/client/client.ts';
import { type StoreConnector, StoreUnreachableError } from '../../src/client/connector.ts';
import type { StoreRequest, StoreResponses } from '../../src/store/requests.ts';
import { InvalidArgumentError } from '../../src/errors.ts';
import { type ClientIdentity, createClientIdentity, type RemoteCaller, createRemoteCaller } from './remote-caller.ts';
import type { WebSocketConstructor } from '../transport/websocket-link.ts';
import { type TlsDialMaterial, tlsWebSocket } from '../transport/tls.ts';
import { createRealClock } from '../runtime/real-clock.ts';
import type { ClusterInfo } from '../../src/server/protocol.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import type { AuthChange, publicView } from '../../src/auth/table.ts';
import { NotLeaderError } from '../../src/errors.ts';
import { createPasswordCredentials } from './credentials.ts';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** WebSocket URLs of one or more stores, e.g. `['ws://127.0.0.1:7001']` (`host:port` means `ws://host:port`). */
  endpoints: string[];
  /**
   * The cluster secret (at least 16 bytes): for stores and operator tools, which may do anything.
   * Applications log in as a user instead (`user`, `password`; docs/auth.md).
   */
  secret?: string | Uint8Array;
  /** Log in as this user (auth enabled on the cluster; docs/auth.md). */
  user?: string;
  /** The user's password; it never leaves this process (SCRAM). */
  password?: string;
  /** The cluster id (default `flotilla`). */
  cluster?: string;
  /** The WebSocket constructor (default `globalThis.WebSocket`, else `ws`'s in Node). */
  WebSocket?: WebSocketConstructor;
  /**
   * Node and Deno: dial `wss://` trusting `ca` (PEM; default the runtime's roots) and presenting
   * `cert`/`key` if given (through `ws`; `host:port` endpoints then mean `wss://`). Browsers need
   * none of this: give `wss://` endpoints, and the browser checks the certificate itself.
   */
  tls?: TlsDialMaterial;
  /** Longest wait for one store call before it counts as lost (default 5000 ms). */
  callTimeoutMs?: number;
  /** Longest wait for dialling a store (default 2000 ms). */
  connectTimeoutMs?: number;
  /**
   * A link to a store that receives nothing (not even a keepalive) for this long is closed as
   * dead and dialled again on the next call (default 10,000 ms; docs/reconnect.md).
   */
  linkIdleTimeoutMs?: number;
  /** Passed to the KvClient (retry policy, limits, clientId, read consistency...). */
  client?: Partial<Omit<KvClientOptions, 'connector' | 'clock' | 'rand'>>;
}

/** A KvClient over WebSocket, with the means to close its links. */
export interface RemoteKvClient extends KvClient {
  /** The stores known and their addresses. */
  stores(): ClusterInfo['stores'];
  /** Asks the cluster for its stores again. */
  refreshStores(): Promise<void>;
  /** Asks PD to drain (`offline`) or forget (`tombstone`) a store; any store passes it to PD's leader. */
  setStoreState(storeId: number, state: 'up' | 'offline' | 'tombstone'): Promise<void>;
  /** Changes users, roles or the auth switch (sent to PD's leader; needs admin). Answers the table without verifiers. */
  changeAuth(change: AuthChange): Promise<PublicAuthView>;
  /** The auth table without verifiers, as the first store that answers holds it (needs admin). */
  authTable(): Promise<PublicAuthView>;
  /** The newest login token of a user client (for `Authorization: Bearer` on `/status`); undefined with the secret. */
  token(): string | undefined;
  /** Closes every link; the client is unusable afterwards. */
  close(): void;
}

/** The auth table as `changeAuth` and `authTable` answer it. */
export type PublicAuthView = ReturnType<typeof publicView>;

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (g) return g;
  // Only Node 20 lacks a global WebSocket. The specifier is a variable so that bundlers (Vite,
  // esbuild) do not pull `ws`, or its browser stub, into browser and edge builds.
  const wsModule = 'ws';
  const ws = (await import(/* @vite-ignore */ wsModule)) as unknown as { WebSocket: WebSocketConstructor };
  return ws.WebSocket;
}

/**
 * Connects to a Flotilla cluster over WebSocket.
 * @param options - endpoints, secret and cluster, and client options.
 * @returns a client once at least one endpoint answered with the cluster's stores.
 */
export async function connect(options: ConnectOptions): Promise<RemoteKvClient> {
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) throw new InvalidArgumentError('endpoints', 'give at least one ws:// URL');
  const asUser = options.user !== undefined;
  if (asUser === (options.secret !== undefined)) throw new InvalidArgumentError('secret', 'give either the cluster secret or a user and password');
  if (asUser && typeof options.password !== 'string') throw new InvalidArgumentError('password', `give the password of user ${options.user}`);
  const identity: ClientIdentity = await createClientIdentity(options.cluster ?? 'flotilla', options.secret);
  const tls = options.tls;
  const credentials = asUser ? createPasswordCredentials(options.user!, options.password!) : undefined;
  const caller: RemoteCaller = createRemoteCaller({
    identity,
    credentials,
    WebSocket: tls !== undefined ? await tlsWebSocket(() => tls, options.WebSocket) : (options.WebSocket ?? (await defaultWebSocket())),
    connectTimeoutMs: options.connectTimeoutMs ?? 2000,
    callTimeoutMs: options.callTimeoutMs ?? 5000,
    linkIdleTimeoutMs: options.linkIdleTimeoutMs,
    // `host:port` is taken as `ws://host:port`.
    endpoints: options.endpoints.map((e) => (/^wss?:\/\//.test(e) ? e : `${tls !== undefined ? 'wss' : 'ws'}://${e}`)),
  });
  await caller.refresh(true);
  const connector: StoreConnector = {
    storeIds: () => caller.storeIds(),
    async call<R extends StoreRequest>(storeId: number, request: R, timeoutMs?: number): Promise<StoreResponses[R['type']]> {
      caller.refreshSoon();
      // The store learns how long we wait, so that it can shed what it cannot answer in time.
      return (await caller.callStore(storeId, { t: 'kv', r: request, timeoutMs: timeoutMs === undefined ? undefined : Math.max(0, Math.floor(timeoutMs)) })) as StoreResponses[R['type']];
    },
  };
  const clock = createRealClock();
  const seed = globalThis.crypto.getRandomValues(new Uint32Array(1))[0];
  const clientId = options.client?.clientId ?? globalThis.crypto.randomUUID();
  const client = new KvClient({ ...options.client, clientId, connector, clock, rand: createSeededRand(seed) }) as RemoteKvClient;
  client.stores = () => caller.addresses();
  client.refreshStores = () => caller.refresh(false);
  client.setStoreState = async (storeId, state) => {
    let last: unknown;
    for (const id of caller.storeIds()) {
      try {
        await caller.callStore(id, { t: 'storeState', storeId, state });
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  };
  client.changeAuth = async (change) => {
    // Only PD's leader changes the table: ask the stores in turn, the hinted leader first.
    let last: unknown;
    const order = caller.storeIds();
    for (let i = 0; i < order.length && i < 16; i++) {
      try {
        return (await caller.callStore(order[i], { t: 'auth', change })) as PublicAuthView;
      } catch (e) {
        last = e;
        if (!(e instanceof NotLeaderError) && !(e instanceof StoreUnreachableError)) throw e;
        const hint = e instanceof NotLeaderError ? e.leaderStoreId : 0;
        if (hint > 0 && order.indexOf(hint) > i) order.splice(i + 1, 0, hint);
      }
    }
    throw last;
  };
  client.authTable = async () => {
    let last: unknown;
    for (const id of caller.storeIds()) {
      try {
        return (await caller.callStore(id, { t: 'authGet' })) as PublicAuthView;
      } catch (e) {
        last = e;
        if (!(e instanceof StoreUnreachableError)) throw e;
      }
    }
    throw last;
  };
  client.token = () => credentials?.currentToken()?.token;
  client.close = () => caller.close();
  return client;
}

export { StoreUnreachableError };
