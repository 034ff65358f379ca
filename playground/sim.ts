/**
 * The playground's simulation: a local cluster on a virtual clock and the simulated network, driven
 * one virtual millisecond at a time, and a log of user actions stamped with virtual time so that
 * any earlier point can be rebuilt (same seed, same actions, same steps: same cluster).
 *
 * Determinism: a step moves the clock to its next timer (or to the step's limit) and runs what is
 * due, then yields one macrotask, so that every storage promise and store loop turn started by
 * that step completes before the next one; user actions only ever run between steps. A step that
 * runs no timer starts nothing, so where a run happens to stop between timers changes nothing.
 * With IndexedDB storage the disk's latency is real: steps are 1 ms at most so that time runs
 * no faster than the disk, a run is not replayable, and the clock's position is saved instead
 * (see `savedClockMs`).
 */
import { createLocalCluster, type LocalCluster } from '../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../adapters/runtime/virtual-clock.ts';
import { createIndexedDbStorage } from '../adapters/storage/indexeddb.ts';
import { createMemoryStorage } from '../adapters/storage/memory.ts';
import type { SimFrameEvent } from '../adapters/transport/sim.ts';
import type { KvClient } from '../src/index.ts';

/** What a cluster is built from; a scenario may change any of it. */
export interface PlaygroundConfig {
  seed: number;
  stores: number;
  storage: 'memory' | 'indexeddb';
  preVote: boolean;
  checkQuorum: boolean;
  /** Run the placement driver (auto split, replica placement when stores come and go). */
  pd: boolean;
  initialSplitKeys: string[];
  /** Replicas per region. */
  replicas: number;
  /** A region splits past this many keys (0: never); PD decides with `pd`, else the leader itself. */
  splitKeys: number;
  /** Network delay in virtual ms. */
  delayMs: { min: number; max: number };
}

export const DEFAULT_CONFIG: PlaygroundConfig = {
  seed: 7,
  stores: 3,
  storage: 'memory',
  preVote: true,
  checkQuorum: true,
  pd: true,
  initialSplitKeys: [],
  replicas: 3,
  splitKeys: 24,
  delayMs: { min: 20, max: 60 },
};

/** One in-flight frame item (a Raft message of one region), for drawing. */
export interface FlightItem {
  frameId: number;
  from: number;
  to: number;
  sentMs: number;
  deliverMs: number;
  regionId: number;
  kind: string;
  term: number;
}

/** In-flight frames kept for display; beyond this the oldest are forgotten (they still arrive). */
const FLIGHT_MAX = 400;
const TICK_MS = 100;

/** Yields one macrotask (a MessageChannel round trip: no 4 ms clamping as with setTimeout). */
const channel = new MessageChannel();
const waiting: Array<() => void> = [];
channel.port1.onmessage = () => waiting.shift()?.();
export const yieldTask = () =>
  new Promise<void>((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });

export interface Sim {
  readonly config: PlaygroundConfig;
  readonly cluster: LocalCluster;
  readonly clock: VirtualClock;
  readonly client: KvClient;
  /** Frames in flight by id. */
  readonly flights: Map<number, FlightItem[]>;
  /** Advances to the next timer, at most to `untilMs`, runs what is due, and lets the stores finish what it started. */
  step(untilMs: number): Promise<void>;
  close(): Promise<void>;
}

const KIND: Record<string, string> = {
  MsgPreVote: 'pre-vote',
  MsgPreVoteResp: 'pre-vote ack',
  MsgVote: 'vote',
  MsgVoteResp: 'vote ack',
  MsgApp: 'append',
  MsgAppResp: 'append ack',
  MsgHeartbeat: 'heartbeat',
  MsgHeartbeatResp: 'heartbeat ack',
  MsgSnap: 'snapshot',
  MsgTimeoutNow: 'TimeoutNow',
  MsgReadIndex: 'read index',
  MsgReadIndexResp: 'read index ack',
  MsgTransferLeader: 'transfer',
};

/** The label of a Raft message type. */
export const kindOf = (type: string): string => KIND[type] ?? type.replace(/^Msg/, '');

/*
 * Short display names of regions: split children get 52-bit random ids without PD, so the
 * playground shows r1, r2, … in the order it first sees them, and "PD" for the PD group.
 * The real ids stay in data attributes and actions.
 */
const PD_GROUP_ID = Number.MAX_SAFE_INTEGER;
const aliases = new Map<number, number>();

/** The short name of a region (its first sight fixes its number). */
export function regionName(id: number): string {
  if (id === PD_GROUP_ID) return 'PD';
  let n = aliases.get(id);
  if (n === undefined) {
    // Small ids (the initial regions, PD-allocated ones) keep their number when it is free.
    n = id < 1000 && ![...aliases.values()].includes(id) ? id : Math.max(0, ...aliases.values(), 99) + 1;
    aliases.set(id, n);
  }
  return `r${n}`;
}

/** Whether a region id is PD's own group. */
export const isPdGroup = (id: number) => id === PD_GROUP_ID;

/** Forgets every alias (a new cluster). */
export function resetNames(): void {
  aliases.clear();
}

const CLOCK_KEY = 'flotilla-playground-clock-ms';

/** The virtual time an IndexedDB cluster had reached before the page was reloaded. */
export function savedClockMs(): number {
  const v = Number(globalThis.localStorage?.getItem(CLOCK_KEY) ?? 0);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

export function saveClockMs(ms: number): void {
  globalThis.localStorage?.setItem(CLOCK_KEY, String(Math.floor(ms)));
}

/** Deletes the playground's IndexedDB databases (a fresh cluster). */
export async function wipeIndexedDb(maxStores = 16): Promise<void> {
  localStorage.removeItem(CLOCK_KEY);
  await Promise.all(
    Array.from({ length: maxStores }, (_, i) =>
      new Promise<void>((resolve) => {
        const req = indexedDB.deleteDatabase(`flotilla-playground-${i + 1}`);
        req.onsuccess = req.onerror = req.onblocked = () => resolve();
      }),
    ),
  );
}

/** Builds a cluster from `config`, observing its network. */
export async function createSim(config: PlaygroundConfig): Promise<Sim> {
  const clock = createVirtualClock(config.storage === 'indexeddb' ? savedClockMs() : 0);
  const cluster = await createLocalCluster({
    stores: config.stores,
    clock,
    seed: config.seed,
    initialSplitKeys: config.initialSplitKeys,
    replicas: Math.min(config.replicas, config.stores),
    storage: config.storage === 'indexeddb' ? (id) => createIndexedDbStorage({ name: `flotilla-playground-${id}` }) : () => createMemoryStorage(),
    pd: config.pd
      ? { heartbeatMs: 1000, scheduleMs: 1000, config: { splitKeys: config.splitKeys || 1e9, splitBytes: 1 << 30, mergeKeys: 1, mergeBytes: 1, storeDownMs: 8000 } }
      : false,
    store: { tickMs: TICK_MS, raft: { electionTick: 10, heartbeatTick: 2, preVote: config.preVote, checkQuorum: config.checkQuorum }, splitKeys: config.pd ? 0 : config.splitKeys },
  });
  const network = cluster.network!;
  network.setFaults({ delayMs: config.delayMs });
  const flights = new Map<number, FlightItem[]>();
  network.observe((e: SimFrameEvent) => {
    if (e.type !== 'send') {
      flights.delete(e.id);
      return;
    }
    const items: FlightItem[] = [];
    for (const it of e.items) {
      if (it.kind !== 'raft') continue;
      items.push({ frameId: e.id, from: e.from, to: e.to, sentMs: e.sentMs, deliverMs: e.deliverMs, regionId: it.regionId, kind: kindOf(it.message.type), term: it.message.term });
    }
    if (items.length === 0) return;
    flights.set(e.id, items);
    if (flights.size > FLIGHT_MAX) flights.delete(flights.keys().next().value as number);
  });
  const client = cluster.client({ retry: { timeoutMs: 4000 } });
  return {
    config,
    cluster,
    clock,
    client,
    flights,
    async step(untilMs) {
      const now = clock.now();
      const next = clock.nextDeadline() ?? Number.POSITIVE_INFINITY;
      const to = Math.min(untilMs, Math.max(next, now), config.storage === 'indexeddb' ? now + 1 : Number.POSITIVE_INFINITY);
      clock.advance(Math.max(0, to - now));
      await yieldTask();
    },
    async close() {
      await cluster.close();
    },
  };
}
