/**
 * Issue 9, targets 2 and 4, measured side by side in one run:
 * - three `flotilla serve` processes (fs engine: the Raft log is fdatasynced before a store
 *   acknowledges or votes) on loopback, 256 concurrent writers through the remote client
 *   (`connect()`), 16-byte keys and 100-byte values: committed writes/s, p50/p99 latency; beside
 *   it, when an `etcd` binary is on PATH, three etcd members on loopback (default fsync) driven by
 *   the `etcd3` npm client with 256 concurrent writers of the same sizes, and the ratio;
 * - scaling with regions: 8 regions vs 1 in one process (createLocalCluster, memory engine) and
 *   across the three serve processes with the 8 leaders spread over the stores.
 * Every run ends by reading every acknowledged write back from every replica (stale reads per
 * store; per etcd member, serializable reads): a run that lost or duplicated one reports no
 * throughput (the bench throws). Data directories are temp directories, removed afterwards.
 *
 * `CLUSTER_BENCH_CPU_PROF=dir` writes a CPU profile of store 1 of each serve cluster into `dir`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalCluster } from '../adapters/local-cluster.ts';
import { connect } from '../adapters/client/remote.ts';
import { createClientIdentity, createRemoteCaller } from '../adapters/client/remote-caller.ts';
import type { WebSocketConstructor } from '../adapters/transport/websocket-link.ts';
import { freePorts, serveArgs, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from '../scripts/cluster-processes.ts';
import type { KvClient } from '../src/client/client.ts';
import type { StoreRequest } from '../src/client/connector.ts';
import type { ScanEntry } from '../src/kv/commands.ts';
import { compareKeys, nextKey } from '../src/region/keys.ts';
import type { RegionInfo } from '../src/store/store-engine.ts';
import { dispatchRequest } from '../src/store/dispatch.ts';
import type { BenchRow } from './table.ts';

const SECRET = 'flotilla cluster bench secret...';
const WRITERS = 256;
const LOCAL_WRITERS = 64;
const MEASURE_MS = 8000;
const LOCAL_MS = 5000;
export const VALUE = 'v'.repeat(100);
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writer `w`'s `i`-th key: exactly 16 bytes, `k` + 3-digit writer + `-` + 11-digit sequence. */
export const benchKey = (w: number, i: number) => `k${String(w).padStart(3, '0')}-${String(i).padStart(11, '0')}`;

/** Keys cutting the writers' key space into `regions` equal parts (writer prefixes). */
export function splitKeysFor(writers: number, regions: number): string[] {
  return Array.from({ length: regions - 1 }, (_, r) => `k${String(Math.round(((r + 1) * writers) / regions)).padStart(3, '0')}`);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** What a write load did: acknowledged keys, keys whose outcome is unknown, latencies (ms, sorted). */
export interface Load {
  acked: string[];
  failed: string[];
  latencies: number[];
  seconds: number;
}

/** Runs `writers` concurrent writers of fresh keys for `ms` milliseconds through `put`. */
async function writeLoad(writers: number, ms: number, put: (key: string) => Promise<unknown>): Promise<Load> {
  const start = performance.now();
  const deadline = start + ms;
  const load: Load = { acked: [], failed: [], latencies: [], seconds: 0 };
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const k = benchKey(w, i);
        const t0 = performance.now();
        try {
          await put(k);
          load.latencies.push(performance.now() - t0);
          load.acked.push(k);
        } catch {
          load.failed.push(k);
        }
      }
    }),
  );
  load.seconds = (performance.now() - start) / 1000;
  load.latencies.sort((a, b) => a - b);
  return load;
}

const rate = (l: Load) => l.acked.length / l.seconds;

/**
 * Checks one replica's view: every acknowledged key present once with its value, nothing outside
 * what was attempted. Returns a description of what is wrong, or undefined.
 */
export function checkView(where: string, seen: ReadonlyMap<string, number>, values: ReadonlyMap<string, string>, load: Load): string | undefined {
  const attempted = new Set([...load.acked, ...load.failed]);
  for (const k of load.acked) {
    const n = seen.get(k) ?? 0;
    if (n !== 1) return `${where}: acknowledged write ${k} present ${n} times`;
    if (values.get(k) !== VALUE) return `${where}: acknowledged write ${k} has a wrong value`;
  }
  for (const k of seen.keys()) if (!attempted.has(k)) return `${where}: key ${k} was never written`;
  return undefined;
}

/** Keys of the bench (`k...`) on one store, by stale scans of each region it hosts. */
async function storeView(ask: (r: StoreRequest) => Promise<unknown>): Promise<{ seen: Map<string, number>; values: Map<string, string> }> {
  const seen = new Map<string, number>();
  const values = new Map<string, string>();
  const lo = enc.encode('k');
  const hi = enc.encode('l');
  for (const { region } of (await ask({ type: 'regions' })) as RegionInfo[]) {
    let start = compareKeys(region.startKey, lo) > 0 ? region.startKey : lo;
    const end = region.endKey.length > 0 && compareKeys(region.endKey, hi) < 0 ? region.endKey : hi;
    while (compareKeys(start, end) < 0) {
      const page = (await ask({ type: 'read', regionId: region.id, epoch: region.epoch, op: { type: 'scan', start, end, limit: 5000 }, consistency: 'stale' })) as ScanEntry[];
      for (const e of page) {
        const k = dec.decode(e.key);
        seen.set(k, (seen.get(k) ?? 0) + 1);
        values.set(k, e.value === null ? '' : dec.decode(e.value));
      }
      if (page.length < 5000) break;
      start = nextKey(page[page.length - 1].key);
    }
  }
  return { seen, values };
}

/** Verifies `load` on every store (waiting up to `waitMs` for followers to apply); throws if not. */
export async function verifyStores(storeIds: readonly number[], ask: (storeId: number, r: StoreRequest) => Promise<unknown>, load: Load, waitMs = 15_000): Promise<void> {
  for (const id of storeIds) {
    const deadline = performance.now() + waitMs;
    for (;;) {
      const { seen, values } = await storeView((r) => ask(id, r));
      const wrong = checkView(`store ${id}`, seen, values, load);
      if (wrong === undefined) break;
      if (performance.now() > deadline) throw new Error(`verification failed: ${wrong}`);
      await sleep(200);
    }
  }
}

// --- three `flotilla serve` processes -------------------------------------------------------------

interface ServeCluster {
  stores: StoreProcess[];
  endpoints: string[];
  dir: string;
  close(): Promise<void>;
}

async function startServeCluster(regions: number): Promise<ServeCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-cluster-bench-'));
  const ports = await freePorts(6);
  const split = regions > 1 ? ['--initial-split-keys', splitKeysFor(WRITERS, regions).join(',')] : [];
  // Static regions (no PD): no split or leader move in the middle of a measurement.
  const flags = ['--no-pd', '--split-keys', '0', '--split-bytes', '0', '--log-level', 'warn', ...split];
  const prof = process.env.CLUSTER_BENCH_CPU_PROF;
  const stores = [1, 2, 3].map((id) =>
    spawnFlotilla('node', serveArgs(id, ports.slice(0, 3), ports.slice(3), dir, flags), {
      FLOTILLA_SECRET: SECRET,
      ...(prof && id === 1 ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${prof}` } : {}),
    }),
  );
  const close = async () => {
    await Promise.all(
      stores.map(async (p) => {
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
        await stopProcess(p, 'SIGTERM');
        clearTimeout(timer);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(stores.map((p) => waitListening(p, 60_000)));
  } catch (e) {
    await close();
    throw e;
  }
  return { stores, endpoints: ports.slice(0, 3).map((p) => `ws://127.0.0.1:${p}`), dir, close };
}

/** Waits until every region has a leader; with `spread`, moves leaders so that region i is led by store (i mod 3) + 1. */
async function settleLeaders(kv: KvClient, spread: boolean): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const regions = await kv.admin.regions();
    const want = (i: number) => (spread ? (i % 3) + 1 : regions[i].leaderStoreId);
    const wrong = regions.map((r, i) => ({ r, to: want(i) })).filter(({ r, to }) => r.leaderStoreId === 0 || r.leaderStoreId !== to);
    if (wrong.length === 0) return;
    if (performance.now() > deadline) throw new Error(`leaders did not settle: ${regions.map((r) => r.leaderStoreId).join(',')}`);
    for (const { r, to } of wrong) if (r.leaderStoreId !== 0) await kv.admin.transferLeader(r.id, to).catch(() => undefined);
    await sleep(300);
  }
}

/** One serve cluster with `regions` regions: the write load, then per-store verification. */
async function serveRun(regions: number): Promise<Load> {
  const cluster = await startServeCluster(regions);
  try {
    const kv = await connect({ endpoints: cluster.endpoints, secret: SECRET });
    try {
      await settleLeaders(kv, regions > 1);
      await writeLoad(WRITERS, 1000, (k) => kv.put(`w${k.slice(1)}`, VALUE)); // warm-up, outside the bench's key range
      const load = await writeLoad(WRITERS, MEASURE_MS, (k) => kv.put(k, VALUE));
      const caller = createRemoteCaller({
        identity: await createClientIdentity('flotilla', SECRET),
        WebSocket: ((await import('ws')) as unknown as { WebSocket: WebSocketConstructor }).WebSocket,
        endpoints: cluster.endpoints,
        connectTimeoutMs: 2000,
        callTimeoutMs: 10_000,
      });
      try {
        await caller.refresh(true);
        await verifyStores([1, 2, 3], (id, r) => caller.callStore(id, { t: 'kv', r }), load);
      } finally {
        caller.close();
      }
      return load;
    } finally {
      kv.close();
    }
  } finally {
    await cluster.close();
  }
}

// --- etcd -----------------------------------------------------------------------------------------

export const ETCD_INSTALL = 'apt-get install -y etcd-server (Debian/Ubuntu)';

function etcdAvailable(): string | undefined {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? 'unknown version';
}

async function etcdRun(): Promise<Load> {
  const { Etcd3 } = await import('etcd3');
  const dir = mkdtempSync(join(tmpdir(), 'etcd-cluster-bench-'));
  const ports = await freePorts(6);
  const client = (i: number) => `http://127.0.0.1:${ports[i]}`;
  const peer = (i: number) => `http://127.0.0.1:${ports[3 + i]}`;
  const initial = [0, 1, 2].map((i) => `m${i}=${peer(i)}`).join(',');
  const members: ChildProcess[] = [0, 1, 2].map((i) =>
    spawn(
      'etcd',
      [
        '--name', `m${i}`, '--data-dir', join(dir, `m${i}`),
        '--listen-client-urls', client(i), '--advertise-client-urls', client(i),
        '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
        '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'bench',
      ],
      { stdio: 'ignore' },
    ),
  );
  const exited = members.map((m) => new Promise((r) => m.once('exit', r)));
  const grpcOptions = { 'grpc.max_receive_message_length': -1 };
  const kv = new Etcd3({ hosts: [0, 1, 2].map(client), grpcOptions });
  try {
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        await kv.put('ready').value('1');
        break;
      } catch (e) {
        if (performance.now() > deadline) throw new Error(`etcd did not start: ${String(e)}`);
        await sleep(200);
      }
    }
    await writeLoad(WRITERS, 1000, (k) => kv.put(`w${k.slice(1)}`).value(VALUE).exec());
    const load = await writeLoad(WRITERS, MEASURE_MS, (k) => kv.put(k).value(VALUE).exec());
    // Every member, serializable (member-local) reads of the bench's keys.
    for (const i of [0, 1, 2]) {
      const one = new Etcd3({ hosts: [client(i)], grpcOptions });
      try {
        const end = performance.now() + 15_000;
        for (;;) {
          const all = await one.getAll().prefix('k').serializable(true).strings();
          const values = new Map(Object.entries(all));
          const wrong = checkView(`etcd member ${i}`, new Map([...values.keys()].map((k) => [k, 1])), values, load);
          if (wrong === undefined) break;
          if (performance.now() > end) throw new Error(`verification failed: ${wrong}`);
          await sleep(200);
        }
      } finally {
        one.close();
      }
    }
    return load;
  } finally {
    kv.close();
    for (const m of members) m.kill('SIGTERM');
    await Promise.all(exited);
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- regions in one process -----------------------------------------------------------------------

async function localRun(regions: number): Promise<Load> {
  const cluster = await createLocalCluster({ stores: 3, initialSplitKeys: regions > 1 ? splitKeysFor(LOCAL_WRITERS, regions) : [], store: { tickMs: 20 } });
  try {
    await cluster.waitForLeaders(20_000);
    const kv = cluster.client();
    await writeLoad(LOCAL_WRITERS, 500, (k) => kv.put(`w${k.slice(1)}`, VALUE));
    const load = await writeLoad(LOCAL_WRITERS, LOCAL_MS, (k) => kv.put(k, VALUE));
    await verifyStores(cluster.storeIds, (id, r) => dispatchRequest(cluster.store(id)!, r), load);
    return load;
  } finally {
    await cluster.close();
  }
}

// --- the module -----------------------------------------------------------------------------------

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const g = 'cluster';
  const lat = (name: string, l: Load) => [
    { group: g, name: `${name} latency p50`, value: percentile(l.latencies, 0.5), unit: 'ms' },
    { group: g, name: `${name} latency p99`, value: percentile(l.latencies, 0.99), unit: 'ms' },
  ];
  const errors = (l: Load) => (l.failed.length > 0 ? `; ${l.failed.length} writes failed (outcome unknown)` : '');

  // Target 2: flotilla vs etcd, 3 processes each, side by side.
  const one = await serveRun(1);
  const fNote = `3 × flotilla serve, fs engine (fdatasync), WebSocket loopback, 1 region, ${WRITERS} writers, 16-byte keys, 100-byte values; verified on every store${errors(one)}`;
  rows.push({ group: g, name: 'flotilla serve ×3, committed writes', value: rate(one), unit: 'writes/s', note: fNote }, ...lat('flotilla serve ×3', one));
  const version = etcdAvailable();
  if (version === undefined) {
    console.log(`cluster.bench: etcd is not on PATH, so there is no etcd baseline and no ratio; install it with: ${ETCD_INSTALL}`);
    rows.push({ group: g, name: 'etcd ×3, committed writes', value: Number.NaN, unit: 'writes/s', note: `etcd unavailable (not on PATH); install: ${ETCD_INSTALL}` });
  } else {
    const etcd = await etcdRun();
    rows.push(
      { group: g, name: 'etcd ×3, committed writes', value: rate(etcd), unit: 'writes/s', note: `etcd ${version}, 3 members on loopback, default fsync, etcd3 npm client (gRPC), ${WRITERS} writers; verified on every member${errors(etcd)}` },
      ...lat('etcd ×3', etcd),
      { group: g, name: 'flotilla / etcd, committed writes/s', value: rate(one) / rate(etcd), unit: 'ratio', note: 'target ≥ 3' },
    );
  }

  // Target 4: scaling with regions.
  const local1 = await localRun(1);
  const local8 = await localRun(8);
  rows.push(
    { group: g, name: 'in-process, 1 region, committed writes', value: rate(local1), unit: 'writes/s', note: `createLocalCluster, 3 stores, memory engine, ${LOCAL_WRITERS} writers${errors(local1)}` },
    { group: g, name: 'in-process, 8 regions, committed writes', value: rate(local8), unit: 'writes/s', note: `same writers spread over the 8 regions${errors(local8)}` },
    { group: g, name: 'in-process, 8 regions / 1 region', value: rate(local8) / rate(local1), unit: 'ratio', note: 'target ≥ 0.8' },
  );
  const eight = await serveRun(8);
  rows.push(
    { group: g, name: 'flotilla serve ×3, 8 regions, committed writes', value: rate(eight), unit: 'writes/s', note: `leaders spread 3/3/2 over the stores, ${WRITERS} writers spread over the regions${errors(eight)}` },
    ...lat('flotilla serve ×3, 8 regions', eight),
    { group: g, name: 'flotilla serve ×3, 8 regions / 1 region', value: rate(eight) / rate(one), unit: 'ratio', note: 'target ≥ 1.3 (the 1-region run above)' },
  );
  return rows;
}
