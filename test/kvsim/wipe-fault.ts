/**
 * A fault of the KV simulation: "wipe a store's storage and restart it" (issue 22). Now and then
 * a running store crashes and comes back on a new, empty engine — a replaced disk — half the time
 * bootstrapping its initial regions afresh as a store started with `--initial-cluster-state new`
 * would. Then the operator's `rejoinStore` brings it back, retried until it succeeds; only then may
 * another store be wiped, so at most one store's data is gone at any time (more than a minority
 * losing its data loses data in any replicated system). The checks at the end (linearizability,
 * convergence) must hold throughout.
 *
 * Its own seeded loop beside the nemesis, so that seeds without it run exactly as before.
 */
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import type { Rand } from '../../src/ports.ts';

/** What a fault loop of the simulation gets. */
export interface FaultContext {
  cluster: LocalCluster;
  clock: VirtualClock;
  rand: Rand;
  running: () => boolean;
  /** Logs a fault (when verbose). */
  log: (what: string) => void;
  /** Counts one fault. */
  count: () => void;
}

/** A running fault loop: `loop` ends when the workload does; `settle` finishes what it left undone once the cluster is quiet. */
export interface FaultLoop {
  loop: Promise<void>;
  settle(): Promise<void>;
}

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

/**
 * Starts the wipe fault.
 * @param ctx - the cluster, its clock, a seeded rand of this fault's own, and the loop's controls.
 */
export function startWipeFault(ctx: FaultContext): FaultLoop {
  const { cluster, clock, rand, log } = ctx;
  let pending: number | undefined;
  const admin = () => cluster.client({ retry: { timeoutMs: 3000, attemptTimeoutMs: 400 } }).admin;

  const rejoin = async (id: number, whileRunning: boolean): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      if (whileRunning && !ctx.running()) return;
      try {
        const regions = await admin().rejoinStore(id);
        log(`rejoined store ${id}: ${regions.length} replica(s) replaced`);
        pending = undefined;
        return;
      } catch (e) {
        log(`rejoin of store ${id} failed (attempt ${attempt}): ${(e as Error).message.slice(0, 300)}`);
        if (attempt >= 100) throw new Error(`store ${id} could not rejoin after ${attempt} attempts: ${(e as Error).message}`);
        await sleep(clock, 300);
      }
    }
  };

  const loop = (async () => {
    while (ctx.running()) {
      await sleep(clock, 600 + rand.int(1200));
      if (!ctx.running()) break;
      const up = cluster.storeIds.filter((s) => cluster.store(s) !== undefined);
      if (up.length < cluster.storeIds.length) continue; // a crashed store and a wiped one would be too many for 3 stores
      const id = up[rand.int(up.length)];
      const bootstrap = rand.int(2) === 0;
      ctx.count();
      pending = id;
      await cluster.wipeStore(id, { bootstrap });
      log(`wipe ${id}${bootstrap ? ' (bootstraps again)' : ''}`);
      await rejoin(id, true);
    }
  })();

  return {
    loop,
    async settle() {
      if (pending !== undefined) await rejoin(pending, false);
    },
  };
}
