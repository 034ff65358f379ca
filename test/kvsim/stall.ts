/**
 * The "stall" fault of the KV simulation: one store's process stops — SIGSTOP, a long GC pause, a
 * frozen VM — while the others go on, then resumes. While stalled, nothing of the store runs: its
 * timers, the frames and client requests sent to it, and the completions of its storage calls
 * are held. On resume its timers fire first (as an event loop's overdue timers do), then the
 * held requests run, and the held frames are dropped or delivered late (and frames arriving for a
 * while after are held too), so that the resumed store does not hear of a new leader at once.
 *
 * A client that learned its routes before the stall and stayed idle through it (its cache still
 * names the stalled store as leader) reads every key with `consistency: 'lease'` right after the
 * resume, into the history the linearizability checker judges: a resumed leader that trusts a
 * lease which ran out in real time answers with old values.
 *
 * Its own seeded Rand and its own loop, so that the other faults of a seed stay as they were.
 */
import type { LocalCluster, LocalStoreProcess } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import type { KvClient } from '../../src/client/client.ts';
import type { FlotillaKvInput, FlotillaKvOutput, Operation } from '../../src/linearizability/index.ts';
import type { Rand, StorageEngine, StorageSnapshot } from '../../src/ports.ts';

interface ProcessState {
  stalled: boolean;
  /** Timers, requests and frames that came while stalled, in arrival order. */
  held: Array<{ kind: 'timer' | 'frame' | 'request'; run: () => void }>;
  /** Storage completions waiting for the resume. */
  waiters: Array<() => void>;
  /** Until this virtual time, frames are held back (or dropped at `dropRate`). */
  holdFramesUntil: number;
  dropRate: number;
}

/** How a stalled store comes back. */
export interface ResumeOptions {
  /** Chance that each frame held during the stall is dropped (the rest arrive late). */
  dropRate: number;
  /** Frames held during the stall, and any arriving in this many ms after the resume, arrive only then. */
  holdFramesMs: number;
}

/** Stalls and resumes stores of a local cluster on a virtual clock. */
export interface StallControl {
  /** Pass as `LocalClusterOptions.process`. */
  process(storeId: number): LocalStoreProcess;
  /** Wraps a store's engine so that its completions wait while the store is stalled (keeps `crash`). */
  storage<E extends StorageEngine>(storeId: number, engine: E): E;
  stall(storeId: number): void;
  resume(storeId: number, options: ResumeOptions): void;
  isStalled(storeId: number): boolean;
  /** Resumes every stalled store, delivering what they hold. */
  resumeAll(): void;
}

/** Creates the stall control over the shared virtual clock. */
export function createStallControl(clock: VirtualClock, rand: Rand): StallControl {
  const states = new Map<number, ProcessState>();
  const stateOf = (id: number): ProcessState => {
    let s = states.get(id);
    if (!s) {
      s = { stalled: false, held: [], waiters: [], holdFramesUntil: 0, dropRate: 0 };
      states.set(id, s);
    }
    return s;
  };
  const gate = (s: ProcessState, kind: 'timer' | 'frame' | 'request', run: () => void): void => {
    if (s.stalled) {
      s.held.push({ kind, run });
      return;
    }
    if (kind === 'frame' && clock.now() < s.holdFramesUntil) {
      if (rand.next() < s.dropRate) return;
      clock.setTimer(s.holdFramesUntil - clock.now(), () => gate(s, kind, run));
      return;
    }
    run();
  };
  const passed = (s: ProcessState): Promise<void> | undefined => (s.stalled ? new Promise<void>((resolve) => s.waiters.push(resolve)) : undefined);
  /** The result of a storage call, handed over only once the store runs. */
  const whenRunning = async <T>(s: ProcessState, call: Promise<T>): Promise<T> => {
    const v = await call;
    await passed(s);
    return v;
  };
  const gatedView = (s: ProcessState, view: StorageSnapshot): StorageSnapshot => ({
    get: (key) => whenRunning(s, view.get(key)),
    scan: (options) => whenRunning(s, view.scan(options)),
    release: () => view.release(),
  });
  return {
    process(storeId) {
      const s = stateOf(storeId);
      return {
        clock: {
          now: () => clock.now(),
          setTimer(delayMs, fn) {
            let cancelled = false;
            const cancel = clock.setTimer(delayMs, () => {
              if (!cancelled) gate(s, 'timer', () => !cancelled && fn());
            });
            return () => {
              cancelled = true;
              cancel();
            };
          },
        },
        gate: (kind, run) => gate(s, kind, run),
      };
    },
    storage<E extends StorageEngine>(storeId: number, engine: E): E {
      const s = stateOf(storeId);
      const wrapped: StorageEngine = {
        get: (key) => whenRunning(s, engine.get(key)),
        scan: (options) => whenRunning(s, engine.scan(options)),
        write: (batch, options) => whenRunning(s, engine.write(batch, options)),
        approximateSize: (range) => whenRunning(s, engine.approximateSize(range)),
        snapshot: async () => gatedView(s, await whenRunning(s, engine.snapshot())),
        close: () => engine.close(),
      };
      // Keep whatever else the engine offers (the faulty engine's crash and counters).
      return Object.assign(Object.create(engine) as E, wrapped);
    },
    stall(storeId) {
      stateOf(storeId).stalled = true;
    },
    resume(storeId, options) {
      const s = stateOf(storeId);
      if (!s.stalled) return;
      s.stalled = false;
      s.dropRate = options.dropRate;
      s.holdFramesUntil = clock.now() + options.holdFramesMs;
      const held = s.held;
      s.held = [];
      for (const w of s.waiters.splice(0)) w();
      // Overdue timers first, as an event loop runs them before polling for I/O; then requests.
      for (const h of held) if (h.kind === 'timer') h.run();
      for (const h of held) if (h.kind === 'request') h.run();
      for (const h of held) if (h.kind === 'frame') gate(s, 'frame', h.run);
    },
    isStalled: (storeId) => stateOf(storeId).stalled,
    resumeAll() {
      for (const [id, s] of states) if (s.stalled) this.resume(id, { dropRate: 0, holdFramesMs: 0 });
    },
  };
}

/** What the stall loop needs of the simulation. */
export interface StallLoopContext {
  cluster: LocalCluster;
  clock: VirtualClock;
  control: StallControl;
  rand: Rand;
  keys: readonly string[];
  history: Operation<FlotillaKvInput, FlotillaKvOutput>[];
  running: () => boolean;
  log: (what: string) => void;
  /** Counts each stall. */
  count: () => void;
}

const sleep = (clock: VirtualClock, ms: number) => new Promise<void>((resolve) => clock.setTimer(ms, resolve));

/** Lease-reads every key with `client`, recording each answer (a failed read teaches nothing). */
async function leaseReadAll(ctx: StallLoopContext, client: KvClient, readerId: number): Promise<void> {
  await Promise.all(
    ctx.keys.map(async (key, i) => {
      // One history client per key: each issues one read at a time.
      const clientId = readerId * 10 + i;
      const call = ctx.clock.now();
      try {
        const output = await client.get(key, { consistency: 'lease' });
        ctx.history.push({ clientId, input: { op: 'get', key }, output, call, return: ctx.clock.now() });
      } catch {
        // NotLeader, Timeout...: no answer, nothing to judge.
      }
    }),
  );
}

/** The store leading the most regions (ties: the lowest id), or a random store when none leads. */
function busiestLeader(cluster: LocalCluster, rand: Rand): number {
  let best = 0;
  let most = 0;
  for (const id of cluster.storeIds) {
    const led = cluster.store(id)?.status().filter((s) => s.raft.role === 'leader').length ?? 0;
    if (led > most) {
      best = id;
      most = led;
    }
  }
  return best > 0 ? best : cluster.storeIds[rand.int(cluster.storeIds.length)];
}

/**
 * Now and then stalls the store leading the most regions for 0.3 to 2.5 s (mostly longer than an
 * election timeout, so the others elect new leaders and go on writing), then resumes it and reads
 * through it with a client that learned its routes before the stall. Resumes everything at the end.
 */
export async function stallLoop(ctx: StallLoopContext): Promise<void> {
  const { cluster, clock, control, rand } = ctx;
  let readers = 0;
  while (ctx.running()) {
    await sleep(clock, 300 + rand.int(1700));
    if (!ctx.running()) break;
    const target = busiestLeader(cluster, rand);
    if (!cluster.store(target)) continue;
    const readerId = 500 + ++readers;
    const reader = cluster.client({ retry: { timeoutMs: 1500, attemptTimeoutMs: 300 } });
    // Learn the routes (the target leads some regions) before the stall; then stay idle through it.
    await leaseReadAll(ctx, reader, readerId);
    if (!ctx.running()) break;
    const stallMs = 300 + rand.int(2200);
    control.stall(target);
    ctx.count();
    ctx.log(`stall ${target} for ${stallMs} ms`);
    await sleep(clock, stallMs);
    const resume = { dropRate: [0, 0.5, 1][rand.int(3)], holdFramesMs: rand.int(300) };
    control.resume(target, resume);
    ctx.log(`resume ${target} ${JSON.stringify(resume)}`);
    // Right after the resume, then a few times while the store still cannot hear the others.
    for (let i = 0; i < 3 && ctx.running(); i++) {
      await leaseReadAll(ctx, reader, readerId);
      await sleep(clock, rand.int(60));
    }
  }
  control.resumeAll();
}
