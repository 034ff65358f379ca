/**
 * Helpers of the multi-process server tests: a loopback cluster of `flotilla serve` processes
 * with fast Raft timing, its status pages, and waiting for leaders.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFailed } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import { type StoreServer, type StoreServerOptions, startStoreServer } from '../../adapters/server/store-server.ts';
import type { WebSocketConstructor } from '../../adapters/transport/websocket-link.ts';
import { nullLogger } from '../../src/ports.ts';
import type { StoreStatus } from '../../adapters/server/http-status.ts';
import { freePorts, restartProcess, serveArgs, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from '../../scripts/cluster-processes.ts';

export const SECRET = 'flotilla server test secret 32b!';
/** Fast timing: 20 ms ticks, elections after 200-400 ms; PD quick to act. */
export const FAST = ['--tick-ms', '20', '--election-tick', '10', '--heartbeat-tick', '2', '--store-down-ms', '2000', '--pd-interval-ms', '300', '--log-level', 'warn'];

/** A loopback cluster of store processes. */
export interface TestCluster {
  dir: string;
  ports: number[];
  httpPorts: number[];
  stores: Map<number, StoreProcess>;
  endpoint(id: number): string;
  status(id: number): Promise<StoreStatus>;
  client(endpointIds?: number[]): Promise<RemoteKvClient>;
  kill(id: number): Promise<void>;
  restart(id: number): Promise<void>;
  /** The store leading region `regionId` according to the running stores (0 if none agree). */
  leaderOf(regionId: number, timeoutMs?: number): Promise<number>;
  /**
   * Waits until every store in `ids` (default all) has applied region `regionId` up to its
   * leader's commit index. A replica no leader has reached yet withholds its vote from candidates
   * holding data (docs/store-identity.md), so a test that kills a leader seconds after start waits
   * for this first: otherwise the survivors may rightly elect nobody.
   */
  caughtUp(regionId: number, ids?: number[], timeoutMs?: number): Promise<void>;
  /** Each store's log (stderr) tail, for a failure report. */
  logs(tailChars?: number): string;
  close(): Promise<void>;
}

/**
 * Starts `n` stores (store `i` under `runtimes[i-1]`, default Node) and waits until they listen.
 * @param slots - ports to reserve beyond the initial stores (for stores that join later).
 * @param nodeArgs - flags for Node itself per store id (e.g. `--cpu-prof` for a benchmark).
 */
export async function startCluster(n: number, runtimes: Array<'node' | 'deno'> = [], extra: string[] = [], slots = 0, nodeArgs: (id: number) => string[] = () => []): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-server-test-'));
  const all = await freePorts(2 * (n + slots));
  const ports = all.slice(0, n + slots);
  const httpPorts = all.slice(n + slots);
  const stores = new Map<number, StoreProcess>();
  const env = { FLOTILLA_SECRET: SECRET };
  for (let id = 1; id <= n; id++) {
    const args = serveArgs(id, ports.slice(0, n), httpPorts, dir, [...FAST, ...extra]);
    stores.set(id, spawnFlotilla(runtimes[id - 1] ?? 'node', args, env, nodeArgs(id)));
  }
  const cluster: TestCluster = {
    dir,
    ports,
    httpPorts,
    stores,
    endpoint: (id) => `ws://127.0.0.1:${ports[id - 1]}`,
    async status(id) {
      const res = await fetch(`http://127.0.0.1:${httpPorts[id - 1]}/status`);
      return (await res.json()) as StoreStatus;
    },
    client: (ids = [...stores.keys()]) => connect({ endpoints: ids.map((id) => cluster.endpoint(id)), secret: SECRET }),
    async kill(id) {
      await stopProcess(stores.get(id)!, 'SIGKILL');
    },
    async restart(id) {
      const p = stores.get(id)!;
      restartProcess(p, env);
      await waitListening(p);
    },
    async leaderOf(regionId, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const views = await Promise.allSettled([...stores.keys()].map((id) => cluster.status(id)));
        const leaders = views.flatMap((v) => (v.status === 'fulfilled' ? v.value.regions.filter((r) => r.id === regionId && r.role === 'leader').map(() => v.value.storeId) : []));
        if (leaders.length === 1) return leaders[0];
        await new Promise((r) => setTimeout(r, 50));
      }
      return 0;
    },
    async caughtUp(regionId, ids = [...stores.keys()], timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no leader';
      while (Date.now() < deadline) {
        const leader = await cluster.leaderOf(regionId, 2000);
        if (leader > 0) {
          const commit = (await cluster.status(leader)).regions.find((r) => r.id === regionId)?.commit ?? 0;
          const applied = await Promise.all(ids.map(async (id) => (await cluster.status(id).catch(() => undefined))?.regions.find((r) => r.id === regionId)?.applied ?? 0));
          if (commit > 0 && applied.every((a) => a >= commit)) return;
          last = `leader ${leader} at commit ${commit}, stores ${ids.join(',')} applied ${applied.join(',')}`;
        } else {
          // Say what each store reported, so that a failure tells "no leader" from "two leaders"
          // from "a store did not answer its /status".
          const views = await Promise.allSettled([...stores.keys()].map((id) => cluster.status(id)));
          last = `no single leader: ${views
            .map((v, i) => {
              const id = [...stores.keys()][i];
              if (v.status === 'rejected') return `store ${id} /status failed (${String(v.reason).slice(0, 80)})`;
              const r = v.value.regions.find((g) => g.id === regionId);
              return r ? `store ${id} ${r.role} term ${r.term} leader ${r.leaderStoreId ?? '?'} applied ${r.applied}` : `store ${id} has no replica`;
            })
            .join('; ')}`;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`region ${regionId} did not catch up within ${timeoutMs} ms (${last})`);
    },
    logs(tailChars = 4000) {
      return [...stores.values()].map((p) => `--- store ${p.id} (${p.runtime}) stderr, last ${tailChars} chars ---\n${p.stderr.slice(-tailChars)}`).join('\n');
    },
    async close() {
      await Promise.all([...stores.values()].map((p) => stopProcess(p, 'SIGKILL')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await Promise.all([...stores.values()].map((p) => waitListening(p, 60_000)));
  return cluster;
}

/**
 * Prints the stores' logs when the current test fails (call inside the test, after the cluster
 * started): a failure in CI then says what the stores saw, not only what the client saw.
 */
export function logsOnFailure(cluster: TestCluster): void {
  onTestFailed(() => {
    console.error(cluster.logs());
  });
}

/**
 * Starts one store server in this process (memory storage unless `more.dataDir`, no PD, one
 * replica) on a free port.
 * @param clusterId - the cluster id to use.
 * @param initialSplitKeys - where to cut the initial key space.
 * @param more - further options (a data directory, an engine wrapper, a fatal-error hook).
 */
export async function startTestServer(clusterId: string, initialSplitKeys: string[] = [], more: Partial<StoreServerOptions> = {}): Promise<StoreServer> {
  const [port] = await freePorts(1);
  return startStoreServer({
    storeId: 1,
    listen: { host: '127.0.0.1', port },
    peers: {},
    secret: SECRET,
    clusterId,
    pd: false,
    replicas: 1,
    initialSplitKeys,
    splitKeys: 0,
    splitBytes: 0,
    tickMs: 10,
    electionTick: 10,
    heartbeatTick: 2,
    logger: nullLogger,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    ...more,
  });
}
