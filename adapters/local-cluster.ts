/**
 * createLocalCluster: N stores in this page or process, wired together, with a client and the
 * controls tests and the playground need: stop (crash) and restart a store, partition and heal.
 *
 * Defaults: memory storage, a real clock, and in-page MessageChannel links. Pass a virtual clock
 * (`createVirtualClock()`) to run the whole cluster deterministically on the simulated network
 * (`network` is then exposed for drops, duplicates and delays).
 */
import type { KvClientOptions } from '../src/client/client.ts';
import { KvClient } from '../src/client/client.ts';
import { type StoreConnector, StoreUnreachableError } from '../src/client/connector.ts';
import type { StoreRequest, StoreResponses } from '../src/store/requests.ts';
import { InvalidArgumentError, TimeoutError } from '../src/errors.ts';
import { PD_REQUEST_ID, type PdServiceOptions } from '../src/store/pd-service.ts';
import type { Clock, StorageEngine } from '../src/ports.ts';
import type { Transport } from '../src/transport/port.ts';
import type { Region } from '../src/region/types.ts';
import type { RaftItem, RoleListener, StoreEngineOptions } from '../src/store/store-engine.ts';
import { StoreEngine } from '../src/store/store-engine.ts';
import { createRaftLink } from './raft-link.ts';
import { dispatchRequest } from '../src/store/dispatch.ts';
import { createSeededRand } from '../src/util/rand.ts';
import { createRealClock } from './runtime/real-clock.ts';
import type { VirtualClock } from './runtime/virtual-clock.ts';
import { createMemoryStorage } from './storage/memory.ts';
import { createMessageChannelTransport, linkInPage, type MessageChannelTransport } from './transport/message-channel.ts';
import { createSimNetwork, type SimNetwork } from './transport/sim.ts';
import { initialRegions } from './local-regions.ts';
import { ensureStoreIdent, newIncarnation } from '../src/store/store-ident.ts';

export interface LocalClusterOptions {
  /** Number of stores (ids 1..n); default 3. */
  stores?: number;
  /** Storage of each store: a factory (called once per store; its engine survives restarts). Default: memory. */
  storage?: (storeId: number) => StorageEngine | Promise<StorageEngine>;
  /** A virtual clock makes the cluster deterministic (simulated network); default a real clock. */
  clock?: Clock | VirtualClock;
  /**
   * How stores talk: `'message-channel'` (in-page MessagePorts; the default on a real clock) or
   * `'sim'` (the simulated network: seeded delays, drops, duplicates; needs a virtual clock, and is
   * the default on one).
   */
  transport?: 'message-channel' | 'sim';
  /** Seeds elections, the network and clients; default 1. */
  seed?: number;
  /** Keys at which the key space is cut into initial regions (each replicated on every store, up to 3). */
  initialSplitKeys?: Array<string | Uint8Array>;
  /** Replicas per region; default min(3, stores). */
  replicas?: number;
  /**
   * Run the placement driver (`true`, or its options): its group on the first three stores, store
   * and region heartbeats, and scheduling (split, merge, leader balance, replica placement and
   * repair). Default false: static regions, changed only by hand (`client.admin`).
   */
  pd?: boolean | Omit<PdServiceOptions, 'pdStoreIds'>;
  /** Passed to each StoreEngine (tick length, Raft timing, limits). */
  store?: Partial<Omit<StoreEngineOptions, 'storeId' | 'engine' | 'clock' | 'rand' | 'sendRaft'>>;
  /**
   * Models each store's process, for simulated faults of it (a stalled process): called on every
   * start of a store. Default: the shared clock, and everything delivered at once.
   */
  process?: (storeId: number) => LocalStoreProcess;
}

/** What a store's process sees of the world (see {@link LocalClusterOptions.process}). */
export interface LocalStoreProcess {
  /** The clock the store and its link run on. */
  clock: Clock;
  /** Every inbound frame and client request passes through here: `run` it now or later (or, a frame, never). */
  gate(kind: 'frame' | 'request', run: () => void): void;
}

export interface LocalCluster {
  readonly storeIds: number[];
  readonly clock: Clock;
  /** The simulated network, when the cluster runs on a virtual clock. */
  readonly network: SimNetwork | undefined;
  /** The running store, or undefined while it is stopped. */
  store(id: number): StoreEngine | undefined;
  /** A client of the cluster. */
  client(options?: Partial<Omit<KvClientOptions, 'connector'>>): KvClient;
  /** Crashes a store: it stops at once; what its engine had not made durable may be lost. */
  stopStore(id: number): Promise<void>;
  /** Starts a stopped store again from its engine. */
  restartStore(id: number): Promise<void>;
  /**
   * Crashes a store and starts it again on a new, empty engine (a wiped or replaced disk): it comes
   * back with a new incarnation and no Raft state, and bootstraps nothing. Its old replicas are
   * refused by the others until they are replaced (`client.admin.rejoinStore`).
   * @param options - `bootstrap: true` makes the wiped store bootstrap the initial regions again
   *   (what a store started with `--initial-cluster-state new` on an empty disk does): the other
   *   stores must still refuse it.
   */
  wipeStore(id: number, options?: { bootstrap?: boolean }): Promise<void>;
  /** Starts a new, empty store (the next id) and returns its id; replicas come to it by `addReplica` or the PD. */
  addStore(): Promise<number>;
  /**
   * Takes a store out of the cluster for good. With PD, it is drained first (PD moves its replicas
   * elsewhere; rejects with Timeout if that takes longer than `timeoutMs`); without, it just stops
   * (its replicas must be re-created elsewhere with `client.admin.addReplica`).
   */
  removeStore(id: number, timeoutMs?: number): Promise<void>;
  /** Cuts every link between stores of different groups (stores in no group keep their links). */
  partition(...groups: number[][]): void;
  /** Restores every link. */
  heal(): void;
  /** Subscribes to leadership changes on every store. */
  onLeaderChange(listener: RoleListener): () => void;
  /** Resolves once every region has a leader known to all its running replicas (polling; real or virtual time). */
  waitForLeaders(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

let virtualClients = 0;

function isVirtual(clock: Clock): clock is VirtualClock {
  return typeof (clock as VirtualClock).advance === 'function';
}

export async function createLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const n = options.stores ?? 3;
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('stores', `must be an integer from 1 to 64, got ${n}`);
  const storeIds = Array.from({ length: n }, (_, i) => i + 1);
  let nextStoreId = n + 1;
  const seed = options.seed ?? 1;
  const clock = options.clock ?? createRealClock();
  const regions: Region[] = initialRegions(storeIds, options.initialSplitKeys ?? [], options.replicas ?? Math.min(3, n));
  const pdOptions = options.pd === true ? {} : options.pd || undefined;
  const pdStoreIds = pdOptions ? storeIds.slice(0, Math.min(3, n)) : [];
  const transportKind = options.transport ?? (isVirtual(clock) ? 'sim' : 'message-channel');
  if (transportKind === 'sim' && !isVirtual(clock)) {
    throw new InvalidArgumentError('transport', "'sim' runs on a virtual clock: pass clock: createVirtualClock()");
  }
  if (transportKind !== 'sim' && transportKind !== 'message-channel') {
    throw new InvalidArgumentError('transport', `expected 'message-channel' or 'sim', got ${String(transportKind)}`);
  }
  const network = transportKind === 'sim' ? createSimNetwork({ seed, clock: clock as VirtualClock, clusterId: 'local' }) : undefined;
  const engines = new Map<number, StorageEngine>();
  const stores = new Map<number, StoreEngine>();
  const transports = new Map<number, Transport>();
  const processes = new Map<number, LocalStoreProcess | undefined>();
  const listeners = new Set<RoleListener>();
  const unsubscribe = new Map<number, () => void>();
  let groups: number[][] | undefined;
  const cut = (a: number, b: number) => groups !== undefined && groups.some((g) => g.includes(a)) && groups.some((g) => g.includes(b)) && !groups.some((g) => g.includes(a) && g.includes(b));

  const openTransport = (id: number, incarnation: string): Transport => {
    if (network) return network.endpoint(id, incarnation);
    const t = createMessageChannelTransport({ localId: id, clusterId: 'local', incarnation });
    for (const [other, peer] of transports) if (other !== id) linkInPage(t, peer as MessageChannelTransport);
    return t;
  };

  // Only a store's first start on its first engine bootstraps: a wiped store must never recreate
  // regions that live on elsewhere (they come back to it as new replicas).
  const bootstrapped = new Set<number>();
  let wipes = 0;
  const start = async (id: number) => {
    const engine = engines.get(id)!;
    const ident = await ensureStoreIdent(engine, { clusterId: 'local', storeId: id, incarnation: newIncarnation(createSeededRand(seed * 7727 + id * 131 + wipes)) });
    if (!bootstrapped.has(id)) {
      bootstrapped.add(id);
      await StoreEngine.bootstrap(engine, id, storeIds.includes(id) && id <= n ? regions : [], pdStoreIds);
    }
    const transport = openTransport(id, ident.incarnation);
    transports.set(id, transport);
    const proc = options.process?.(id);
    processes.set(id, proc);
    const storeClock = proc?.clock ?? clock;
    const link = createRaftLink({
      transport,
      clock: storeClock,
      clusterId: 'local',
      logger: options.store?.logger,
      onSnapshotChunk: (from, streamId, seq, payload) => stores.get(id)?.receiveSnapshotChunk(from, streamId, seq, payload),
    });
    const store = await StoreEngine.open({
      ...options.store,
      storeId: id,
      engine,
      clock: storeClock,
      rand: createSeededRand(seed * 1000 + id + wipes * 100_003),
      incarnation: ident.incarnation,
      sendRaft: (to: number, items: RaftItem[]) => {
        if (!cut(id, to)) link.send(to, items);
      },
      // Region snapshots stream in chunks; a partition drops them like any frame.
      snapshotLink: {
        send: (to, streamId, seq, payload) => cut(id, to) || link.snapshotLink.send(to, streamId, seq, payload),
        queuedBytes: (to) => link.snapshotLink.queuedBytes(to),
      },
      ...(pdOptions ? { pd: { ...pdOptions, pdStoreIds } } : {}),
      // PD's store-to-store channel, also without PD: consistency checks' hash reports ride it.
      sendPd: (to: number, payload: Uint8Array) => {
        if (!cut(id, to)) transport.send(to, [{ kind: 'request', requestId: PD_REQUEST_ID, payload }]);
      },
    });
    transport.onFrame((frame) => {
      if (cut(frame.from, id)) return;
      const deliver = () => {
        for (const item of frame.items) {
          if (item.kind === 'request' && item.requestId === PD_REQUEST_ID) stores.get(id)?.receivePd(frame.from, item.payload);
        }
        // Every frame, even one without Raft items (a liveness ping), tells the store its sender is up.
        stores.get(id)?.receiveRaft(frame.from, link.receive(frame), frame.incarnation);
      };
      if (proc) proc.gate('frame', deliver);
      else deliver();
    });
    unsubscribe.set(id, store.onRoleChange((e) => { for (const l of listeners) l(e); }));
    stores.set(id, store);
  };

  for (const id of storeIds) engines.set(id, await (options.storage ? options.storage(id) : createMemoryStorage()));
  for (const id of storeIds) await start(id);

  const connector: StoreConnector = {
    storeIds: () => [...storeIds],
    call<R extends StoreRequest>(storeId: number, request: R): Promise<StoreResponses[R['type']]> {
      const proc = processes.get(storeId);
      const dispatch = () => {
        const store = stores.get(storeId);
        if (!store) return Promise.reject(new StoreUnreachableError(storeId, false, 'the store is stopped'));
        return dispatchRequest(store, request);
      };
      if (!proc) return dispatch();
      return new Promise((resolve, reject) => proc.gate('request', () => void dispatch().then(resolve, reject)));
    },
  };

  let clients = 0;
  // On a virtual clock, whoever awaits a cluster call drives time (tests do).
  const pause = (ms: number) => new Promise<void>((resolve) => clock.setTimer(ms, resolve));
  // Client ids must never repeat, not even across clusters in one process (a test restarting a
  // cluster from the same engines): a real UUID on a real clock, a process-wide counter on a virtual one.
  const newClientId = () => (isVirtual(clock) || typeof globalThis.crypto?.randomUUID !== 'function' ? `sim-${seed}-${++virtualClients}` : globalThis.crypto.randomUUID());
  const cluster: LocalCluster = {
    storeIds,
    clock,
    network,
    store: (id) => stores.get(id),
    client: (opts = {}) => new KvClient({ clock, rand: createSeededRand(seed * 7919 + ++clients), clientId: newClientId(), ...opts, connector }),
    async stopStore(id) {
      const store = stores.get(id);
      if (!store) return;
      stores.delete(id);
      unsubscribe.get(id)?.();
      await store.close();
      await transports.get(id)?.close();
      transports.delete(id);
      const engine = engines.get(id) as StorageEngine & { crash?: () => Promise<unknown> };
      if (typeof engine.crash === 'function') await engine.crash();
    },
    async restartStore(id) {
      if (stores.has(id)) return;
      await start(id);
    },
    async wipeStore(id, wipeOptions = {}) {
      if (!engines.has(id)) throw new InvalidArgumentError('id', `store ${id} is not part of this cluster`);
      await cluster.stopStore(id);
      await engines.get(id)?.close();
      wipes++;
      if (wipeOptions.bootstrap) bootstrapped.delete(id);
      engines.set(id, await (options.storage ? options.storage(id) : createMemoryStorage()));
      await start(id);
    },
    async addStore() {
      const id = nextStoreId++;
      engines.set(id, await (options.storage ? options.storage(id) : createMemoryStorage()));
      storeIds.push(id);
      await start(id);
      return id;
    },
    async removeStore(id, timeoutMs = 120_000) {
      const store = stores.get(id);
      if (pdOptions && store) {
        // Drain first: PD moves the store's replicas elsewhere, then the store stops for good.
        const deadline = clock.now() + timeoutMs;
        while (store.regions().length > 0) {
          store.setStoreState(id, 'offline');
          if (clock.now() > deadline) throw new TimeoutError(`store ${id} still hosts ${store.regions().length} replica(s) after ${timeoutMs} ms of draining`);
          await pause(500);
        }
        store.setStoreState(id, 'tombstone');
      }
      await cluster.stopStore(id);
      const at = storeIds.indexOf(id);
      if (at >= 0) storeIds.splice(at, 1);
      await engines.get(id)?.close();
      engines.delete(id);
    },
    partition(...g) {
      groups = g;
    },
    heal() {
      groups = undefined;
    },
    onLeaderChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async waitForLeaders(timeoutMs = 30_000) {
      const deadline = clock.now() + timeoutMs;
      // Every region has a leader, and every running replica of it knows which store that is. One
      // look at each store per check (a check over 10,000 regions must not cost 10,000 looks).
      const done = () => {
        // The regions now (splits add some), as the running stores report them.
        const views = new Map<number, number[]>();
        for (const s of stores.values()) {
          for (const info of s.regions()) {
            const v = views.get(info.region.id);
            if (v === undefined) views.set(info.region.id, [info.leaderStoreId]);
            else v.push(info.leaderStoreId);
          }
        }
        if (views.size === 0) return false;
        for (const leaders of views.values()) {
          const leader = leaders[0];
          if (!(leader > 0 && stores.has(leader) && leaders.every((l) => l === leader))) return false;
        }
        return true;
      };
      while (!done()) {
        if (clock.now() > deadline) throw new Error(`not every region elected a leader within ${timeoutMs} ms`);
        if (isVirtual(clock)) clock.advance(10);
        // A plain timer on the real clock: the store's timers are unref'd, and this wait must keep
        // the process alive (a script awaiting it would otherwise end silently mid-wait).
        await new Promise<void>((resolve) => (isVirtual(clock) ? resolve() : setTimeout(resolve, 10)));
      }
    },
    async close() {
      for (const id of [...stores.keys()]) {
        const store = stores.get(id)!;
        stores.delete(id);
        await store.close();
      }
      for (const t of transports.values()) await t.close();
      for (const e of engines.values()) await e.close();
    },
  };
  return cluster;
}
