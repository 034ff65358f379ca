/**
 * A store as a server process (`flotilla serve`): one StoreEngine over its storage engine, the
 * WebSocket transport to the other stores (each store dials the stores of lower id it knows, so
 * every pair has one link), and the remote clients' calls answered on the same port. This is
 * `createLocalCluster`'s wiring of one store, over WebSocket, plus what a process needs: a data
 * directory with its identity, joining a running cluster, an address book gossiped between stores
 * (so clients can find every store), and a clean shutdown.
 */
import type { StoreEngineOptions } from '../../src/store/store-engine.ts';
import { StoreEngine } from '../../src/store/store-engine.ts';
import { PD_REQUEST_ID } from '../../src/store/pd-service.ts';
import type { Logger, StorageEngine } from '../../src/ports.ts';
import { CLIENT_ID_MIN, type ClusterInfo } from '../../src/server/protocol.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { initialRegions } from '../local-regions.ts';
import { createRaftLink } from '../raft-link.ts';
import { createRealClock } from '../runtime/real-clock.ts';
import { createMemoryStorage } from '../storage/memory.ts';
import { createWebSocketTransport, type WebSocketConstructor, type WebSocketTransport } from '../transport/websocket.ts';
import { createWebSocketServer, type HttpTimeouts, type WebSocketServer, type WebSocketServerStats } from '../transport/websocket-server.ts';
import type { AdmissionLimits } from '../../src/transport/admission.ts';
import { secureUrl, type TlsDialMaterial, type TlsServerMaterial, tlsWebSocket } from '../transport/tls.ts';
import { createAddressBook } from './address-book.ts';
import { createCallHandler } from './calls.ts';
import type { RequestAdmissionLimits, RequestAdmissionStats } from '../../src/server/request-admission.ts';
import { joinCluster, openStoreData, probePeers, type StoreIdentity } from './store-data.ts';
import { ensureStoreIdent, newIncarnation, StoreIdentError } from '../../src/store/store-ident.ts';
import { regionStateRange } from '../../src/store/raft-keys.ts';
import { createUserDirectory } from '../../src/auth/logins.ts';
import { EMPTY_AUTH_TABLE } from '../../src/auth/table.ts';
import { deriveTokenKey, tokenUserOf } from '../../src/auth/token.ts';
import { toHex } from '../../src/codec/utf8.ts';
import { createUserLoginHandler } from '../../src/auth/user-handshake.ts';

/** Options of {@link startStoreServer}. */
export interface StoreServerOptions {
  /** This store's id; optional only when joining (the cluster assigns one). */
  storeId?: number;
  /** Where to listen for stores and clients. */
  listen: { host: string; port: number };
  /** The URL other stores and clients reach this store at (default `ws://listen`). */
  advertise?: string;
  /** The initial stores of the cluster and their URLs (this store's entry may be included). */
  peers: Record<number, string>;
  /** A URL of a running cluster's store to join through (instead of bootstrapping). */
  join?: string;
  /**
   * What a store on an empty data directory does (etcd's `--initial-cluster-state`): `new`
   * bootstraps the initial regions, `existing` never does, `auto` (default) bootstraps only when no
   * peer answers within `peerProbeMs`. In every case, when a peer has known this store id before,
   * the store lost its data and bootstraps nothing (see docs/store-identity.md).
   */
  initialClusterState?: 'new' | 'existing' | 'auto';
  /** How long `auto` waits for a peer to answer (default 3000 ms). */
  peerProbeMs?: number;
  /** Data directory (locked); absent: memory (nothing survives the process). */
  dataDir?: string;
  /** The engine of `dataDir`: absent picks what it holds, else lmdb, else fs (see `adapters/storage/disk.ts`). */
  engine?: 'lmdb' | 'fs';
  secret: string;
  clusterId: string;
  /** Run the placement driver (its group on the first three initial stores). */
  pd: boolean;
  /** Replicas per region. */
  replicas: number;
  initialSplitKeys: string[];
  /** Split thresholds (PD's when `pd`, else the stores' own automatic split). 0: never. */
  splitKeys: number;
  splitBytes: number;
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
  /** PD: silence after which a store counts as down (and a new PD leader starts balancing). */
  storeDownMs?: number;
  /** PD heartbeat and scheduling period. */
  pdIntervalMs?: number;
  logger: Logger;
  /** For dialling (default `globalThis.WebSocket`, else `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /**
   * Told once when the store stops on a storage failure: it no longer serves and only a restart
   * recovers it. `flotilla serve` exits non-zero here so that a supervisor restarts it.
   */
  onFatal?: (error: Error) => void;
  /** Limits on unauthenticated and hostile peers (docs/hardening.md); absent fields take the defaults. */
  hardening?: ServerHardening;
  /** Wraps the opened storage engine (fault-injection tests). */
  wrapEngine?: (engine: StorageEngine) => StorageEngine;
  /** Lifetime of the login tokens this store issues (default 10 minutes; docs/auth.md). */
  tokenTtlMs?: number;
  /** TLS (docs/tls.md): serve `wss://` only, dial peers over `wss://` with {@link StoreTlsOptions.dial}. */
  tls?: StoreTlsOptions;
  /** Caps on the reads and writes in flight, beyond which they are shed with `ServerBusy` (docs/overload.md). */
  admission?: Partial<RequestAdmissionLimits>;
}

/** The TLS of a store server. */
export interface StoreTlsOptions {
  /** What the store listens with (its `requestCert` follows `peerClientCertAuth`). */
  server: TlsServerMaterial;
  /** What it presents to and trusts of the peers it dials. */
  dial: TlsDialMaterial;
  /** Refuse a store (not a client) whose socket brought no certificate signed by `server.ca`. */
  peerClientCertAuth: boolean;
}

/** Limits on unauthenticated and hostile peers of a store server (docs/hardening.md). */
export interface ServerHardening {
  /** How long an accepted or dialled socket may take to authenticate (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** A link silent this long (no frame, no keepalive) is closed as dead (default 10,000 ms; docs/reconnect.md). */
  linkIdleTimeoutMs?: number;
  /** Caps on unauthenticated sockets and failed-login back-off (`src/transport/admission.ts`). */
  admission?: Partial<AdmissionLimits>;
  /** HTTP timeouts and header limit of the WebSocket port and of the `--http` status port. */
  http?: Partial<HttpTimeouts>;
}

/** Whether a store serves, as `GET /health` reports it. */
export interface StoreHealth {
  serving: boolean;
  /** Why not, when not serving. */
  reason?: string;
}

/** A running store server. */
export interface StoreServer {
  readonly storeId: number;
  readonly store: StoreEngine;
  /** The URL it listens at. */
  readonly url: string;
  readonly transport: WebSocketTransport;
  /** Counters of the listening socket: refused upgrades, admission, pre-authentication limits. */
  listenerStats(): WebSocketServerStats;
  /** What this store knows of the cluster. */
  info(): ClusterInfo;
  /** Counters of the server beside the store's. */
  readonly counters: { calls: number; badRequests: number; refusedClosing: number; raftFromClients: number; denied: number; refusedUserCalls: number };
  /** Reads and writes admitted, shed and in flight (docs/overload.md). */
  admission(): RequestAdmissionStats;
  /** Whether the store serves: false once it stopped on a storage failure or is closing. */
  health(): StoreHealth;
  /** Replaces the certificates for new connections, listening and dialling (open ones keep theirs); throws on bad material, keeping the old. */
  reloadTls(tls: StoreTlsOptions): void;
  /** Checks a login token (as `/status` and `/metrics` take it in `Authorization: Bearer`): the user it names, or why not. */
  checkToken(token: string): { ok: true; user: string } | { ok: false; reason: string };
  /** Stops accepting, finishes (or fails) calls in flight, closes the store, the transport and the engine. */
  close(): Promise<void>;
}

async function webSocketCtor(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return g ?? ((await import('ws')) as unknown as { WebSocket: WebSocketConstructor }).WebSocket;
}

/**
 * Starts a store server. Rejects (having released everything) when the data directory is locked,
 * the port is taken, or the data directory belongs to another store or cluster.
 * @param options - identity, addresses, storage, timing; see {@link StoreServerOptions}.
 */
export async function startStoreServer(options: StoreServerOptions): Promise<StoreServer> {
  const { logger } = options;
  let tls = options.tls;
  // With TLS every dial (peers, probes, joins) goes through `ws` with the current certificate.
  const WebSocket = tls === undefined ? await webSocketCtor(options.WebSocket) : await tlsWebSocket(() => tls!.dial, options.WebSocket);
  const advertise = options.advertise ?? `${tls ? 'wss' : 'ws'}://${options.listen.host === '0.0.0.0' ? '127.0.0.1' : options.listen.host}:${options.listen.port}`;
  // A TLS store never dials in plaintext, whatever an old identity file or a flag says.
  const secure = tls === undefined ? (u: string) => u : secureUrl;
  options = { ...options, peers: Object.fromEntries(Object.entries(options.peers).map(([id, u]) => [id, secure(u)])), join: options.join === undefined ? undefined : secure(options.join) };
  const cleanup: Array<() => Promise<void>> = [];
  const fail = async (e: unknown): Promise<never> => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    throw e;
  };
  let engine: StorageEngine;
  let identity: StoreIdentity;
  let incarnation: string;
  let saveIdentity: ((next: StoreIdentity) => Promise<void>) | undefined;
  try {
    const data = await openStoreData(options.dataDir, { engine: options.engine, logger });
    saveIdentity = data?.save;
    const opened = data?.engine ?? createMemoryStorage();
    engine = options.wrapEngine ? options.wrapEngine(opened) : opened;
    cleanup.push(() => engine.close());
    const known = data?.identity;
    const hasState = (await engine.scan({ ...regionStateRange(), limit: 1 })).length > 0;
    let bootstrap = false;
    if (known) {
      identity = known;
      checkIdentity(options, identity);
      if (!hasState) logger.warn(`the data directory names store ${identity.storeId} but holds no Raft state (its data was lost): the store starts empty under a new incarnation and bootstraps nothing; the other stores refuse its old replicas until \`flotilla rejoin-store --store ${identity.storeId}\` replaces them`, { code: 'StoreReplaced', storeId: identity.storeId });
    } else if (options.join) {
      identity = await joinCluster(options, advertise, WebSocket);
    } else {
      ({ identity, bootstrap } = await freshIdentity(options, advertise, WebSocket));
    }
    // The incarnation goes into the engine before anything else does (store-ident.ts).
    const ident = await ensureStoreIdent(engine, { clusterId: options.clusterId, storeId: identity.storeId, incarnation: newIncarnation({ int: (n) => globalThis.crypto.getRandomValues(new Uint32Array(1))[0] % n }) });
    incarnation = ident.incarnation;
    if (bootstrap && !hasState) await StoreEngine.bootstrap(engine, identity.storeId, bootRegions(options, identity), identity.pdStoreIds);
    if (!known) await data?.save(identity);
  } catch (e) {
    return fail(e);
  }
  const storeId = identity.storeId;
  const book = createAddressBook(storeId, advertise, identity.stores, secure);
  // The store this one replaced listened here: it is no one to dial.
  for (const [id, url] of Object.entries(options.peers)) if (Number(id) !== identity.replacesStoreId) book.add(Number(id), url);
  // Each pair of stores has one link: the higher id dials the lower.
  const dial = Object.fromEntries(book.list().filter((s) => s.id < storeId).map((s) => [s.id, s.url]));
  // The store opens after the transport: user logins answer from the table it enforces (empty
  // until then) and snapshot chunks reach it once it is open.
  let opened: StoreEngine | undefined;
  const tokenKey = deriveTokenKey(options.secret, options.clusterId);
  const directory = createUserDirectory({ clusterId: options.clusterId, clientIdMin: CLIENT_ID_MIN, tokenKey, table: () => opened?.auth.table ?? EMPTY_AUTH_TABLE, nowMs: Date.now, tokenTtlMs: options.tokenTtlMs });
  const logins = createUserLoginHandler(directory, () => toHex(globalThis.crypto.getRandomValues(new Uint8Array(16))));
  const peerCertRequired = tls?.peerClientCertAuth ? (id: number) => id < CLIENT_ID_MIN : undefined;
  const transport = await createWebSocketTransport({ localId: storeId, clusterId: options.clusterId, secret: options.secret, peers: dial, WebSocket, logger, reconnectDelayMs: { min: 50, max: 2000 }, incarnation, handshakeTimeoutMs: options.hardening?.handshakeTimeoutMs, linkIdleTimeoutMs: options.hardening?.linkIdleTimeoutMs, peerCertRequired, logins });
  cleanup.push(() => transport.close());
  let server: WebSocketServer;
  try {
    const h = options.hardening ?? {};
    server = await createWebSocketServer({ host: options.listen.host, port: options.listen.port, accept: (s, l) => transport.accept(s, l), admission: h.admission ?? {}, http: h.http, tls: tls?.server });
  } catch (e) {
    const code = (e as { code?: string }).code;
    return fail(code === 'EADDRINUSE' ? new Error(`cannot listen on ${options.listen.host}:${options.listen.port}: the address is in use (EADDRINUSE)`) : e);
  }
  cleanup.push(() => server.close());

  const clock = createRealClock();
  // The store is opened below; snapshot chunks reach it once it exists.
  const link = createRaftLink({ transport, clock, clusterId: options.clusterId, logger, onSnapshotChunk: (from, streamId, seq, payload) => opened?.receiveSnapshotChunk(from, streamId, seq, payload) });
  transport.onDisconnect((d) => {
    link.forget(d.storeId);
    opened?.snapshotLinkDown(d.storeId);
    // A client's link is gone for good (it dials again under a new id): drop its entry and queue.
    if (d.storeId >= CLIENT_ID_MIN) transport.forget(d.storeId);
  });
  const storeOptions: StoreEngineOptions = {
    storeId,
    engine,
    clock,
    rand: createSeededRand(globalThis.crypto.getRandomValues(new Uint32Array(1))[0]),
    tickMs: options.tickMs,
    raft: { electionTick: options.electionTick, heartbeatTick: options.heartbeatTick },
    splitKeys: options.pd ? 0 : options.splitKeys,
    splitBytes: options.pd ? 0 : options.splitBytes,
    logger,
    incarnation,
    // Snapshots too large for one frame travel as chunk streams (raft-link.ts).
    sendRaft: (to, items) => link.send(to, items),
    // Region snapshots stream in bounded chunks with acknowledgements (src/store/snapshot-stream.ts).
    snapshotLink: link.snapshotLink,
    onFailure: (e) => {
      logger.error('store stopped after a storage failure; it serves nothing until restarted', { storeId, error: String(e), cause: String((e as { cause?: unknown }).cause ?? '') });
      options.onFatal?.(e);
    },
  };
  if (identity.pdStoreIds.length > 0) {
    const pdConfig = {
      replicationFactor: options.replicas,
      // Merge thresholds follow the split ones down (PD requires them at most half as large).
      ...(options.splitKeys > 0 ? { splitKeys: options.splitKeys, mergeKeys: Math.max(1, Math.min(20_000, Math.floor(options.splitKeys / 2))) } : {}),
      ...(options.splitBytes > 0 ? { splitBytes: options.splitBytes, mergeBytes: Math.max(1, Math.min(16 << 20, Math.floor(options.splitBytes / 2))) } : {}),
      ...(options.storeDownMs !== undefined ? { storeDownMs: options.storeDownMs } : {}),
    };
    // PD's members move (docs/pd-membership.md): the last list known is kept in the identity file,
    // so that a restarted store finds PD even once the stores it was bootstrapped on are gone.
    let saving = Promise.resolve();
    const onPdMembers = (pdStoreIds: number[]) => {
      identity = { ...identity, pdStoreIds };
      const next = identity;
      saving = saving.then(() => saveIdentity?.(next)).catch((e) => logger.warn('PD members not saved in the identity file', { error: String(e) }));
    };
    storeOptions.pd = { pdStoreIds: identity.pdStoreIds, onPdMembers, config: pdConfig, heartbeatMs: options.pdIntervalMs, scheduleMs: options.pdIntervalMs };
  }
  // The store-to-store channel of PD messages, also without PD: consistency checks' hash reports ride it.
  storeOptions.sendPd = (to, payload) => void transport.send(to, [{ kind: 'request', requestId: PD_REQUEST_ID, payload }]);
  let store: StoreEngine;
  try {
    store = await StoreEngine.open(storeOptions);
    opened = store;
  } catch (e) {
    return fail(e);
  }
  const info = (): ClusterInfo => ({ storeId, clusterId: options.clusterId, stores: book.list(), pdStoreIds: store.pd?.pdStoreIds ?? identity.pdStoreIds });
  const calls = createCallHandler({ store, book, info, transport, logger, initialStoreIds: identity.initialStoreIds, admission: options.admission });
  transport.onFrame((frame) => {
    if (frame.from >= CLIENT_ID_MIN) {
      // A client's link carries calls only; anything else from it is ignored (and counted).
      for (const item of frame.items) {
        if (item.kind === 'request' && item.requestId !== PD_REQUEST_ID) calls.handle(frame.from, item.requestId, item.payload, frame.link);
        else calls.counters.raftFromClients++;
      }
      return;
    }
    for (const item of frame.items) {
      if (item.kind === 'request' && item.requestId === PD_REQUEST_ID) store.receivePd(frame.from, item.payload);
      else if (item.kind === 'request') calls.handle(frame.from, item.requestId, item.payload, frame.link);
    }
    // Every frame, even one without Raft items (a liveness ping), tells the store its sender is up.
    store.receiveRaft(frame.from, link.receive(frame), frame.incarnation);
  });
  // Stores tell each other where they listen, so any store can give a client every address.
  const gossip = setInterval(() => {
    for (const s of book.list()) if (s.id !== storeId) calls.announce(s.id);
  }, 2000);
  for (const s of book.list()) if (s.id !== storeId) calls.announce(s.id);
  // A store that replaced one that lost its data keeps telling PD the old one is gone (PD may
  // have had no quorum when the join was answered); tombstone is final, so repeating is harmless.
  const replaced = identity.replacesStoreId;
  const retire = replaced !== undefined && store.pd ? setInterval(() => store.setStoreState(replaced, 'tombstone'), 3000) : undefined;
  logger.info('store started', { storeId, incarnation, url: server.url, advertise, cluster: options.clusterId, regions: store.regions().length, pdStoreIds: identity.pdStoreIds, replaces: replaced });

  let closing: Promise<void> | undefined;
  return {
    storeId,
    store,
    url: server.url,
    transport,
    listenerStats: () => server.stats(),
    info,
    counters: calls.counters,
    admission: () => calls.admission(),
    checkToken(token) {
      const user = tokenUserOf(token);
      if (user === undefined) return { ok: false, reason: 'malformed token' };
      const checked = directory.check(user, token);
      return checked.ok ? { ok: true, user } : checked;
    },
    health() {
      const failure = store.stoppedBy;
      if (failure) return { serving: false, reason: `storage failure: ${failure.message}` };
      if (closing) return { serving: false, reason: 'shutting down' };
      return { serving: true };
    },
    reloadTls(next) {
      server.reloadTls(next.server);
      tls = { ...next, peerClientCertAuth: tls!.peerClientCertAuth };
    },
    close() {
      closing ??= (async () => {
        clearInterval(gossip);
        clearInterval(retire);
        await calls.drain(3000);
        await store.close();
        await transport.close();
        await server.close();
        await engine.close();
        logger.info('store stopped', { storeId });
      })();
      return closing;
    },
  };
}

/**
 * The identity of a store on an empty data directory, and whether it bootstraps the initial
 * regions: never when a running peer has recorded an incarnation of this store id (it lost its
 * data: with PD it rejoins under a new id, without it starts empty and waits for `rejoin-store`),
 * nor with `existing`; else it does (`new` at once, `auto` after waiting up to `peerProbeMs` for
 * a peer to answer and say whether it knew this store).
 */
async function freshIdentity(options: StoreServerOptions, advertise: string, WebSocket: WebSocketConstructor): Promise<{ identity: StoreIdentity; bootstrap: boolean }> {
  const { logger } = options;
  const identity = initialIdentity(options, advertise);
  const me = identity.storeId;
  const state = options.initialClusterState ?? 'auto';
  const urls = identity.stores.filter((s) => s.id !== me && s.url.length > 0).map((s) => s.url);
  const timeoutMs = state === 'auto' ? (options.peerProbeMs ?? 3000) : 0;
  const answers = await probePeers(urls, { secret: options.secret, clusterId: options.clusterId, storeId: me, timeoutMs }, WebSocket);
  // Only a recorded incarnation proves this store existed: in a new cluster, peers host replicas
  // for this store id before it ever started.
  const knownBy = answers.filter((a) => a.seen !== null);
  if (knownBy.length > 0) {
    if (options.pd) {
      logger.warn(`store ${me}'s data directory is empty, but ${knownBy.length} running store(s) knew store ${me}: its data was lost. It rejoins as a new store (a new id from the cluster); store ${me} is retired and PD replaces its replicas`, { code: 'StoreReplaced', storeId: me, knownBy: knownBy.map((a) => a.url) });
      return { identity: await joinCluster({ ...options, storeId: undefined, join: knownBy[0].url, replaces: me }, advertise, WebSocket), bootstrap: false };
    }
    logger.warn(
      `store ${me}'s data directory is empty, but ${knownBy.length} running store(s) knew store ${me}: its data was lost. It bootstraps nothing and starts empty with a new incarnation; the other stores refuse its old replicas. Bring it back in with \`flotilla rejoin-store --store ${me} --endpoints <a running store>\``,
      { code: 'StoreReplaced', storeId: me, knownBy: knownBy.map((a) => a.url), initialClusterState: state },
    );
    return { identity, bootstrap: false };
  }
  if (state === 'existing') {
    logger.info(`the data directory is empty and --initial-cluster-state is existing: store ${me} starts empty and bootstraps nothing (give it replicas with \`flotilla rejoin-store --store ${me}\` or \`add-replica\`, or PD does)`, { storeId: me });
    return { identity, bootstrap: false };
  }
  // No running store has ever seen this one: it never voted or acknowledged anything, so the
  // initial regions' state is exactly what it would have had (the others bootstrapped the same).
  if (state === 'auto' && urls.length > 0 && answers.length === 0) {
    logger.warn(`no peer answered within ${timeoutMs} ms: store ${me} bootstraps the initial regions (pass --initial-cluster-state new to say so, or existing to wait for a running cluster)`, { storeId: me, peers: urls });
  }
  return { identity, bootstrap: true };
}

function initialIdentity(options: StoreServerOptions, advertise: string): StoreIdentity {
  if (options.storeId === undefined) throw new Error('--id is required (unless the store joins a cluster with --join)');
  const ids = [...new Set([options.storeId, ...Object.keys(options.peers).map(Number)])].sort((a, b) => a - b);
  const stores = ids.map((id) => ({ id, url: id === options.storeId ? advertise : options.peers[id] }));
  return { storeId: options.storeId, clusterId: options.clusterId, stores, initialStoreIds: ids, pdStoreIds: options.pd ? ids.slice(0, 3) : [] };
}

function bootRegions(options: StoreServerOptions, identity: StoreIdentity) {
  const ids = identity.initialStoreIds;
  return initialRegions(ids, options.initialSplitKeys, Math.min(options.replicas, ids.length));
}

function checkIdentity(options: StoreServerOptions, identity: StoreIdentity): void {
  // `--id` may still name the store this one replaced (the same command line as before the loss).
  if (options.storeId !== undefined && options.storeId !== identity.storeId && options.storeId !== identity.replacesStoreId) {
    throw new StoreIdentError('IdentityMismatch', `the data directory belongs to store ${identity.storeId}, not store ${options.storeId} (--id)`);
  }
  if (identity.clusterId !== options.clusterId) {
    throw new StoreIdentError('IdentityMismatch', `the data directory belongs to cluster ${JSON.stringify(identity.clusterId)}, not ${JSON.stringify(options.clusterId)} (--cluster)`);
  }
}
