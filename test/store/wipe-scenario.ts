/**
 * Issue 22's five steps on an in-page cluster on a virtual clock (deterministic), as a function of
 * the modules it runs, so that the mutation tester can run it against a patched copy of the code:
 *
 * 1. stores 1, 2, 3 up; put k = base.
 * 2. crash store 2; put k = acked (committed on stores 1 and 3).
 * 3. crash stores 1 and 3; store 3's data is wiped.
 * 4. start store 3 (on an empty engine) and store 2 again; store 1 stays down.
 * 5. read k through stores 2 and 3.
 *
 * Then: store 1 comes back, the read must see `acked`; `rejoinStore(3)` replaces store 3's replica,
 * and with store 1 down again, stores 2 and 3 alone still serve `acked`.
 */
import type { createLocalCluster as CreateLocalCluster } from '../../adapters/local-cluster.ts';
import type { createVirtualClock as CreateVirtualClock, VirtualClock } from '../../adapters/runtime/virtual-clock.ts';

/** The modules the scenario runs (the real ones, or a mutant's copies). */
export interface WipeScenarioDeps {
  createLocalCluster: typeof CreateLocalCluster;
  createVirtualClock: typeof CreateVirtualClock;
}

/** What the scenario saw. */
export interface WipeScenarioResult {
  /** What the read of step 5 returned: a value, or the error code it failed with. */
  step5: string;
  /** What a read returned once store 1 was back. */
  afterStore1: string;
  /** What stores 2 and 3 served after the rejoin, store 1 down. */
  afterRejoin: string;
  /** Replicas store 2 refused during step 5 (from its lostReplicas()). */
  refusedOnStore2: number;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function drive<T>(clock: VirtualClock, p: Promise<T>, maxMs: number): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let ms = 0; ms < maxMs && !settled; ms += 2) {
    clock.advance(2);
    await tick();
  }
  if (!settled) throw new Error(`did not settle within ${maxMs} virtual ms`);
  return p;
}

/** Advances virtual time (yielding to the event loop) until `cond` holds or `maxMs` pass. */
async function until(clock: VirtualClock, cond: () => boolean, maxMs: number): Promise<boolean> {
  for (let ms = 0; ms < maxMs; ms += 2) {
    if (cond()) return true;
    clock.advance(2);
    await tick();
  }
  return cond();
}

async function outcome(clock: VirtualClock, p: Promise<Uint8Array | null>, maxMs: number): Promise<string> {
  try {
    const v = await drive(clock, p, maxMs);
    return v === null ? '(none)' : new TextDecoder().decode(v);
  } catch (e) {
    return `error ${(e as { code?: string }).code ?? (e as Error).message}`;
  }
}

/**
 * Runs the scenario once.
 * @param deps - the cluster and clock factories to run.
 * @param seed - seeds elections and the network.
 * @param options - `bootstrapAgain`: the wiped store bootstraps its regions afresh (as in the
 *   issue's report), so only the other stores' incarnation check stands between it and a lost write.
 */
export async function runWipeScenario(deps: WipeScenarioDeps, seed = 1, options: { bootstrapAgain?: boolean; log?: (line: string) => void } = {}): Promise<WipeScenarioResult> {
  const clock = deps.createVirtualClock();
  const logger = {
    debug() {},
    info: (msg: string, f?: Record<string, unknown>) => options.log?.(`info ${msg} ${JSON.stringify(f)}`),
    warn: (msg: string, f?: Record<string, unknown>) => options.log?.(`warn ${msg} ${JSON.stringify(f)}`),
    error: (msg: string, f?: Record<string, unknown>) => options.log?.(`error ${msg} ${JSON.stringify(f)}`),
  };
  const cluster = await deps.createLocalCluster({ stores: 3, clock, seed, store: { logger } });
  try {
    await drive(clock, cluster.waitForLeaders(), 30_000);
    const kv = cluster.client({ retry: { timeoutMs: 3000, attemptTimeoutMs: 500 } });
    await drive(clock, kv.put('k', 'base'), 10_000);
    await cluster.stopStore(2);
    await drive(clock, kv.put('k', 'acked'), 10_000);
    await cluster.stopStore(1);
    await cluster.wipeStore(3, { bootstrap: options.bootstrapAgain ?? false });
    await cluster.restartStore(2);
    const step5 = await outcome(clock, kv.get('k'), 8000);
    const refusedOnStore2 = cluster.store(2)?.lostReplicas().length ?? 0;
    await cluster.restartStore(1);
    const afterStore1 = await outcome(clock, kv.get('k'), 10_000);
    let afterRejoin: string;
    try {
      const rejoined = await drive(clock, kv.admin.rejoinStore(3), 30_000);
      options.log?.(`rejoined: ${JSON.stringify(rejoined.map((r) => r.peers))} store 3 hosts ${JSON.stringify(cluster.store(3)?.status().map((x) => [x.region.id, x.peerId, x.applied]))}`);
      // The new replica on store 3 catches up; then stores 2 and 3 must do without store 1.
      const admin = cluster.client({ retry: { timeoutMs: 5000, attemptTimeoutMs: 500 } });
      await drive(clock, admin.put('k2', 'after-rejoin'), 10_000);
      await cluster.stopStore(1);
      const led = () => [2, 3].includes(cluster.store(2)?.regions()[0]?.leaderStoreId ?? 0);
      if (!(await until(clock, led, 30_000))) {
        const view = (id: number) => JSON.stringify(cluster.store(id)?.status().map((x) => ({ region: x.region.id, peers: x.region.peers, role: x.raft.role, term: x.raft.term, lead: x.raft.lead, commit: x.raft.commit })));
        throw new Error(`stores 2 and 3 elected no leader after the rejoin: store 2 ${view(2)}, store 3 ${view(3)}`);
      }
      afterRejoin = await outcome(clock, admin.get('k'), 15_000);
    } catch (e) {
      options.log?.(`rejoin failed: ${(e as Error).stack}`);
      afterRejoin = `error ${(e as { code?: string }).code ?? (e as Error).message}`;
    }
    return { step5, afterStore1, afterRejoin, refusedOnStore2 };
  } finally {
    await cluster.close();
  }
}
