/**
 * A simulated network on a virtual clock: every store gets a {@link Transport} endpoint; frames
 * are really encoded and decoded, and delivered after a seeded delay, subject to seeded drop,
 * duplication, corruption and reordering, and to partitions (symmetric, one-way, bridge).
 * Same seed, same calls: same deliveries, in the same order, in every runtime.
 */
import { FrameError } from '../../src/codec/errors.ts';
import { decodeFrame, encodeFrame } from '../../src/codec/frame.ts';
import { type FrameLimits, resolveFrameLimits } from '../../src/codec/limits.ts';
import type { Frame } from '../../src/codec/schema.ts';
import type { DisconnectInfo, Transport } from '../../src/transport/port.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { createVirtualClock, type VirtualClock } from '../runtime/virtual-clock.ts';

/** Fault rates and delays; all may be changed while the simulation runs. */
export interface SimFaults {
  /** Delivery delay in virtual ms, drawn uniformly from [min, max]. */
  delayMs: { min: number; max: number };
  /** Probability that a frame is lost. */
  dropRate: number;
  /** Probability that a frame is delivered twice. */
  duplicateRate: number;
  /** Probability that one byte of a frame is overwritten (the receiver must refuse or survive it). */
  corruptRate: number;
  /** When false (default), each link delivers in send order whatever the delays. */
  reorder: boolean;
}

/** Options of {@link createSimNetwork}. */
export interface SimNetworkOptions {
  /** Seeds every random choice of the network. */
  seed: number;
  /** The clock deliveries are scheduled on (default: a new virtual clock at 0). */
  clock?: VirtualClock;
  /** The cluster id written into and expected of every frame (default `'sim'`). */
  clusterId?: string;
  /** Initial faults (default: 1 ms delay, no faults, in-order links). */
  faults?: Partial<SimFaults>;
  /** Bytes in flight on one link beyond which `send` returns false (default 64 MiB). */
  linkBytesMax?: number;
  /** Frame limits (default `DEFAULT_FRAME_LIMITS`). */
  limits?: Partial<FrameLimits>;
}

/** Counters of what the network did. */
export interface SimNetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  partitioned: number;
  duplicated: number;
  corrupted: number;
  /** Frames the receiver refused (corrupted beyond recognition); by `FrameError` code in `rejectedByCode`. */
  rejected: number;
  rejectedByCode: Record<string, number>;
  /** Frames whose receiver had closed by delivery time. */
  unreachable: number;
}

/** A frame on the simulated network, as {@link SimNetwork.observe} reports it (read-only, for display). */
export interface SimFrameEvent {
  /** What happened: scheduled for delivery, delivered, or dropped while in flight (by `dropInFlight`). */
  type: 'send' | 'deliver' | 'drop';
  /** Unique per scheduled delivery (a duplicate gets its own id). */
  id: number;
  from: number;
  to: number;
  /** Virtual time the frame left and is due. */
  sentMs: number;
  deliverMs: number;
  /** The frame's items as sent (do not mutate). */
  items: Readonly<Frame['items']>;
}

/** Per-link overrides of {@link SimFaults}: a slow or lossy link. */
export interface SimLinkFaults {
  delayMs?: { min: number; max: number };
  dropRate?: number;
}

/** A simulated network: endpoints per store, partitions and faults. */
export interface SimNetwork {
  readonly clock: VirtualClock;
  /**
   * Opens the endpoint of `storeId` (again after a close: a restarted store). Its frames arrive
   * marked with `incarnation` (what a real link's handshake would tell: `src/store/store-ident.ts`).
   */
  endpoint(storeId: number, incarnation?: string): Transport;
  /** Cuts every link between stores of different groups, both ways. Stores in no group are unaffected. */
  partition(...groups: number[][]): void;
  /** Cuts the links from each store of `from` to each store of `to`, one way only. */
  cutOneWay(from: number[], to: number[]): void;
  /** Cuts `a` from `b` both ways while `via` still reaches both sides (a bridge). */
  bridge(a: number[], via: number, b: number[]): void;
  /** Restores every link. */
  heal(): void;
  /** Changes fault rates and delays from now on. */
  setFaults(faults: Partial<SimFaults>): void;
  /** Advances the clock until nothing is in flight, or `maxMs` of virtual time have passed. */
  settle(maxMs?: number): void;
  stats(): SimNetworkStats;
  /** Observes frames scheduled, delivered and dropped in flight (for the playground); returns the unsubscribe function. */
  observe(listener: (event: SimFrameEvent) => void): () => void;
  /** Loses one frame in flight by its id; false when it is no longer in flight. */
  dropInFlight(id: number): boolean;
  /** Overrides delay and drop rate on the link `from` → `to` (one way); `undefined` restores the network's. */
  setLinkFaults(from: number, to: number, faults: SimLinkFaults | undefined): void;
}

interface Endpoint {
  transport: Transport;
  frameHandlers: ((frame: Frame) => void)[];
  disconnectHandlers: ((info: DisconnectInfo) => void)[];
  open: boolean;
}

/**
 * Creates a simulated network.
 * @param options - the seed, and optionally clock, cluster id, faults, link capacity and frame limits.
 */
export function createSimNetwork(options: SimNetworkOptions): SimNetwork {
  const rand = createSeededRand(options.seed);
  const clock = options.clock ?? createVirtualClock();
  const clusterId = options.clusterId ?? 'sim';
  const limits = resolveFrameLimits(options.limits);
  const linkBytesMax = options.linkBytesMax ?? 64 * 1024 * 1024;
  const faults: SimFaults = { delayMs: { min: 1, max: 1 }, dropRate: 0, duplicateRate: 0, corruptRate: 0, reorder: false, ...options.faults };
  const endpoints = new Map<number, Endpoint>();
  const blocked = new Set<string>();
  const inFlightBytes = new Map<string, number>();
  const lastDeliveryMs = new Map<string, number>();
  let inFlight = 0;
  let frameSeq = 0;
  const observers = new Set<(event: SimFrameEvent) => void>();
  const pendingFrames = new Map<number, { event: SimFrameEvent; cancel: () => void; bytes: number }>();
  const linkFaults = new Map<string, SimLinkFaults>();
  const notify = (event: SimFrameEvent) => {
    for (const o of observers) o(event);
  };
  const stats: SimNetworkStats = { sent: 0, delivered: 0, dropped: 0, partitioned: 0, duplicated: 0, corrupted: 0, rejected: 0, rejectedByCode: {}, unreachable: 0 };

  const link = (from: number, to: number) => `${from}>${to}`;
  const addInFlight = (key: string, bytes: number) => inFlightBytes.set(key, (inFlightBytes.get(key) ?? 0) + bytes);

  const deliver = (from: number, to: number, target: Endpoint, bytes: Uint8Array, id: number, incarnation: string | undefined) => {
    const key = link(from, to);
    const pending = pendingFrames.get(id);
    pendingFrames.delete(id);
    if (pending) notify({ ...pending.event, type: 'deliver' });
    addInFlight(key, -bytes.length);
    inFlight--;
    if (!target.open || endpoints.get(to) !== target) {
      stats.unreachable++;
      return;
    }
    if (blocked.has(key)) {
      stats.partitioned++;
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(bytes, { clusterId, from, to }, limits);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      stats.rejected++;
      stats.rejectedByCode[err.code] = (stats.rejectedByCode[err.code] ?? 0) + 1;
      return;
    }
    stats.delivered++;
    if (incarnation !== undefined) frame.incarnation = incarnation;
    for (const h of target.frameHandlers) h(frame);
  };

  const schedule = (from: number, to: number, target: Endpoint, bytes: Uint8Array, items: Readonly<Frame['items']>, incarnation: string | undefined) => {
    const key = link(from, to);
    const { min, max } = linkFaults.get(key)?.delayMs ?? faults.delayMs;
    let at = clock.now() + min + (max > min ? rand.next() * (max - min) : 0);
    if (!faults.reorder) at = Math.max(at, lastDeliveryMs.get(key) ?? 0);
    lastDeliveryMs.set(key, at);
    addInFlight(key, bytes.length);
    inFlight++;
    const id = ++frameSeq;
    const cancel = clock.setTimer(at - clock.now(), () => deliver(from, to, target, bytes, id, incarnation));
    // Only kept while someone watches, so an unobserved network holds nothing extra per frame.
    if (observers.size > 0) {
      const event: SimFrameEvent = { type: 'send', id, from, to, sentMs: clock.now(), deliverMs: at, items };
      pendingFrames.set(id, { event, cancel, bytes: bytes.length });
      notify(event);
    }
  };

  const notifyAll = (info: DisconnectInfo, except: number) => {
    for (const [id, ep] of endpoints) if (id !== except && ep.open) for (const h of ep.disconnectHandlers) h(info);
  };

  const cut = (from: number, to: number, bothWays: boolean) => {
    blocked.add(link(from, to));
    if (bothWays) blocked.add(link(to, from));
  };

  const endpoint = (storeId: number, incarnation?: string): Transport => {
    if (!Number.isSafeInteger(storeId) || storeId <= 0) throw new RangeError(`store id must be a positive integer, got ${storeId}`);
    if (endpoints.get(storeId)?.open) throw new Error(`store ${storeId} already has an open endpoint on this network`);
    const ep: Endpoint = { frameHandlers: [], disconnectHandlers: [], open: true, transport: undefined as unknown as Transport };
    ep.transport = {
      localId: storeId,
      send(to, items) {
        const bytes = encodeFrame({ clusterId, from: storeId, to, items }, limits);
        const target = endpoints.get(to);
        if (!ep.open || target === undefined || !target.open) return false;
        if ((inFlightBytes.get(link(storeId, to)) ?? 0) + bytes.length > linkBytesMax) return false;
        stats.sent++;
        // A cut link or a lost frame is invisible to the sender, as on a real network.
        if (blocked.has(link(storeId, to))) {
          stats.partitioned++;
          return true;
        }
        const dropRate = linkFaults.get(link(storeId, to))?.dropRate ?? faults.dropRate;
        if (dropRate > 0 && rand.next() < dropRate) {
          stats.dropped++;
          return true;
        }
        let payload = bytes;
        if (faults.corruptRate > 0 && rand.next() < faults.corruptRate) {
          stats.corrupted++;
          payload[rand.int(payload.length)] = rand.int(256);
        }
        schedule(storeId, to, target, payload, items, incarnation);
        if (faults.duplicateRate > 0 && rand.next() < faults.duplicateRate) {
          stats.duplicated++;
          payload = payload.slice();
          schedule(storeId, to, target, payload, items, incarnation);
        }
        return true;
      },
      onFrame: (h) => void ep.frameHandlers.push(h),
      onDisconnect: (h) => void ep.disconnectHandlers.push(h),
      queuedBytes: (to) => inFlightBytes.get(link(storeId, to)) ?? 0,
      async close() {
        if (!ep.open) return;
        ep.open = false;
        notifyAll({ storeId, reason: 'closed' }, storeId);
      },
    };
    endpoints.set(storeId, ep);
    return ep.transport;
  };

  return {
    clock,
    endpoint,
    partition(...groups) {
      for (let i = 0; i < groups.length; i++)
        for (let j = i + 1; j < groups.length; j++) for (const a of groups[i]) for (const b of groups[j]) cut(a, b, true);
    },
    cutOneWay(from, to) {
      for (const a of from) for (const b of to) cut(a, b, false);
    },
    bridge(a, via, b) {
      for (const x of a) for (const y of b) if (x !== via && y !== via) cut(x, y, true);
    },
    heal: () => blocked.clear(),
    setFaults(f) {
      Object.assign(faults, f);
    },
    settle(maxMs = 60_000) {
      const endMs = clock.now() + maxMs;
      while (inFlight > 0) {
        const next = clock.nextDeadline();
        if (next === undefined || next > endMs) break;
        clock.advance(next - clock.now());
      }
    },
    stats: () => ({ ...stats, rejectedByCode: { ...stats.rejectedByCode } }),
    observe(listener) {
      observers.add(listener);
      return () => {
        observers.delete(listener);
        if (observers.size === 0) pendingFrames.clear();
      };
    },
    dropInFlight(id) {
      const pending = pendingFrames.get(id);
      if (!pending) return false;
      pendingFrames.delete(id);
      pending.cancel();
      addInFlight(link(pending.event.from, pending.event.to), -pending.bytes);
      inFlight--;
      stats.dropped++;
      notify({ ...pending.event, type: 'drop' });
      return true;
    },
    setLinkFaults(from, to, f) {
      if (f === undefined) linkFaults.delete(link(from, to));
      else linkFaults.set(link(from, to), { ...f });
    },
  };
}
