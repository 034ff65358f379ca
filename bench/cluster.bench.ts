/**
 * Issue 9, targets 2 and 4, measured side by side in one run:
 * - three `flotilla serve` processes (fs engine: the Raft log is fdatasynced before a store
 *   acknowledges or votes) on loopback, 256 concurrent writers through the remote client
 *   (`connect()`), 16-byte keys and 100-byte values: committed writes/s, p50/p99 latency; beside
 *   it, when an `etcd` binary is on PATH, three etcd members on loopback (default fsync) driven by
 *   the `etcd3` npm client with 256 concurrent writers of the same sizes, and the ratio; the same
 *   with 1,000 writers; and CPU time per acknowledged write (servers and client) of each, the
 *   busiest server process's share of a core (every process's in the note), and for flotilla the
 *   store loop turns per second and the p50 latency counted in turns (with leaders spread, every
 *   store is always in a turn, so an 8-region write waits for more turns in series than a
 *   1-region one; whether it also waits longer depends on how long the turns are);
 * - linearizable (ReadIndex) and lease reads/s over the three processes (target 3), alternating;
 * - scaling with regions: 8 regions vs 1 in one process (createLocalCluster, memory engine) and
 *   across the three serve processes with the 8 leaders spread over the stores.
 * The clusters run at the same time and the measurements alternate (flotilla, etcd, flotilla with
 * 8 regions, then again: 4 rounds of 3 s), so that a load change on the machine hits all of them
 * alike; each figure is the mean of its rounds, and the ratio rows' notes give the ratio of each
 * pair of rounds measured back to back (their spread shows how much the machine's load moved them).
 * Every cluster ends by reading every acknowledged write (warm-up included) back from every
 * replica (stale reads per store; per etcd member, serializable reads): a run that lost,
 * duplicated or invented one reports no throughput (the bench throws). Data directories are temp
 * directories, removed afterwards.
 *
 * `CLUSTER_BENCH_CPU_PROF=dir` writes CPU profiles of every store of each serve cluster into
 * `dir/flotilla-<regions>-regions-store-<id>/` (the main thread's is the `.0.001` file, the other one
 * is tsx's loader thread; store 1 leads the single region).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalCluster } from '../adapters/local-cluster.ts';
import { connect } from '../adapters/client/remote.ts';
import { createClientIdentity, createRemoteCaller } from '../adapters/client/remote-caller.ts';
import type { WebSocketConstructor } from '../adapters/transport/websocket-link.ts';
import { freePorts, serveArgs, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from '../scripts/cluster-processes.ts';
import type { KvClient } from '../src/client/client.ts';
import type { StoreRequest } from '../src/store/requests.ts';
import type { ScanEntry } from '../src/kv/commands.ts';
import { compareKeys, nextKey } from '../src/region/keys.ts';
import type { RegionInfo } from '../src/store/store-engine.ts';
import { dispatchRequest } from '../src/store/dispatch.ts';
import { percentile, runReaders } from './baseline.ts';
import type { BenchRow } from './table.ts';

const SECRET = 'flotilla cluster bench secret...';
const WRITERS = 256;
const MANY_WRITERS = 1000;
const LOCAL_WRITERS = 64;
/** The 256-writer loads: short alternating rounds, so that a load change on the machine hits every system alike. */
const MEASURE_MS = 3000;
const WRITE_ROUNDS = 4;
const MANY_MS = 6000;
const LOCAL_MS = 3000;
const ROUNDS = 2;
const READ_MS = 3000;
export const VALUE = 'v'.repeat(100);
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writer `w`'s `i`-th key of the load tagged `tag` (one letter): exactly 16 bytes, `k` + 4-digit
 * writer + tag + 10-digit sequence, so that keys sort by writer whatever the load.
 */
export const benchKey = (w: number, i: number, tag = 'a') => `k${String(w).padStart(4, '0')}${tag}${String(i).padStart(10, '0')}`;

/** Keys cutting the writers' key space into `regions` equal parts (writer prefixes). */
export function splitKeysFor(writers: number, regions: number): string[] {
  return Array.from({ length: regions - 1 }, (_, r) => `k${String(Math.round(((r + 1) * writers) / regions)).padStart(4, '0')}`);
}

/** What a write load did: acknowledged keys, keys whose outcome is unknown, latencies (ms, sorted). */
export interface Load {
  acked: string[];
  failed: string[];
  latencies: number[];
  seconds: number;
}

/** Runs `writers` concurrent writers of fresh keys (tagged `tag`) for `ms` milliseconds through `put`. */
async function writeLoad(tag: string, writers: number, ms: number, put: (key: string) => Promise<unknown>): Promise<Load> {
  const start = performance.now();
  const deadline = start + ms;
  const load: Load = { acked: [], failed: [], latencies: [], seconds: 0 };
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const k = benchKey(w, i, tag);
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

/** A running cluster under test: how to put, how to check every replica, how to stop it. */
export interface System {
  /** Its server processes (none when in this process), whose CPU time counts toward its cost. */
  pids: number[];
  put(key: string): Promise<unknown>;
  /** Store loop turns so far, one figure per server process (flotilla serve only; from `/metrics`). */
  loopTurns?(): Promise<number[]>;
  /** Reads a key with the given consistency (flotilla only). */
  get?(key: string, consistency: 'linearizable' | 'lease'): Promise<unknown>;
  /** Throws unless every replica holds every acknowledged write of `load` once, and nothing else. */
  verify(load: Load): Promise<void>;
  close(): Promise<void>;
}

/** The ratios a/b of the write rates of rounds measured back to back (round i of each), for a note. */
export function roundRatios(a: readonly Load[] = [], b: readonly Load[] = []): string {
  return a
    .slice(0, b.length)
    .map((l, i) => (rate(l) / rate(b[i])).toFixed(2))
    .join(', ');
}

/** Clock ticks per second of /proc's CPU times. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU time (user + system, all threads) of a process in ms, from /proc (Linux); NaN elsewhere. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** CPU time used so far by each of `pids` and, last, by this process, in ms. */
export function cpuMsEach(pids: readonly number[]): number[] {
  const own = process.cpuUsage();
  return [...pids.map(processCpuMs), (own.user + own.system) / 1000];
}

/** `flotilla_store_turns_total` from a store's `/metrics` text (NaN when absent). */
export function turnsFromMetrics(text: string): number {
  const m = /^flotilla_store_turns_total\{[^}]*\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Several loads as one, for verification. */
const merged = (loads: readonly Load[]): Load => ({ acked: loads.flatMap((l) => l.acked), failed: loads.flatMap((l) => l.failed), latencies: [], seconds: 0 });

// --- three `flotilla serve` processes -------------------------------------------------------------

/** Moves leaders so that region i (in key order) is led by store (i mod 3) + 1: store 1 leads a single region. */
async function settleLeaders(kv: KvClient): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const regions = await kv.admin.regions();
    const wrong = regions.map((r, i) => ({ r, to: (i % 3) + 1 })).filter(({ r, to }) => r.leaderStoreId !== to);
    if (wrong.length === 0) return;
    if (performance.now() > deadline) throw new Error(`leaders did not settle: ${regions.map((r) => r.leaderStoreId).join(',')}`);
    for (const { r, to } of wrong) if (r.leaderStoreId !== 0) await kv.admin.transferLeader(r.id, to).catch(() => undefined);
    await sleep(300);
  }
}

/**
 * Three `flotilla serve` processes (fs engine, data in a temp directory) with `regions` static
 * regions (no PD, no automatic split) led round-robin by stores 1, 2, 3, and a remote client.
 */
export async function startFlotilla(regions: number, writers: number): Promise<System> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-cluster-bench-'));
  const ports = await freePorts(6);
  const split = regions > 1 ? ['--initial-split-keys', splitKeysFor(writers, regions).join(',')] : [];
  const flags = ['--no-pd', '--split-keys', '0', '--split-bytes', '0', '--log-level', 'warn', ...split];
  const prof = process.env.CLUSTER_BENCH_CPU_PROF;
  const stores: StoreProcess[] = [1, 2, 3].map((id) =>
    spawnFlotilla('node', serveArgs(id, ports.slice(0, 3), ports.slice(3), dir, flags), { FLOTILLA_SECRET: SECRET }, prof ? ['--cpu-prof', `--cpu-prof-dir=${join(prof, `flotilla-${regions}-regions-store-${id}`)}`] : []),
  );
  const endpoints = ports.slice(0, 3).map((p) => `ws://127.0.0.1:${p}`);
  let kv: Awaited<ReturnType<typeof connect>> | undefined;
  const close = async () => {
    kv?.close();
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
    const client = await connect({ endpoints, secret: SECRET });
    kv = client;
    await settleLeaders(client);
    return {
      pids: stores.map((p) => p.child.pid ?? 0),
      // A store whose /metrics cannot be read counts NaN turns: the rows say so, the run goes on.
      loopTurns: () => Promise.all(ports.slice(3).map((port) => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).then(turnsFromMetrics, () => Number.NaN))),
      put: (k) => client.put(k, VALUE),
      get: (k, consistency) => client.get(k, { consistency }),
      async verify(load) {
        const caller = createRemoteCaller({
          identity: await createClientIdentity('flotilla', SECRET),
          WebSocket: ((await import('ws')) as unknown as { WebSocket: WebSocketConstructor }).WebSocket,
          endpoints,
          connectTimeoutMs: 2000,
          callTimeoutMs: 10_000,
        });
        try {
          await caller.refresh(true);
          await verifyStores([1, 2, 3], (id, r) => caller.callStore(id, { t: 'kv', r }), load);
        } finally {
          caller.close();
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

// --- etcd -----------------------------------------------------------------------------------------

export const ETCD_INSTALL = 'apt-get install -y etcd-server (Debian/Ubuntu)';

/** The installed etcd's version, or undefined without an `etcd` binary. */
export function etcdAvailable(): string | undefined {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? 'unknown version';
}

/** Three etcd members on loopback (default fsync, data in a temp directory) and an `etcd3` client. */
export async function startEtcd(): Promise<System> {
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
  const close = async () => {
    kv.close();
    for (const m of members) m.kill('SIGTERM');
    await Promise.all(exited);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        await kv.put('ready').value('1').exec();
        break;
      } catch (e) {
        if (performance.now() > deadline) throw new Error(`etcd did not start: ${String(e)}`);
        await sleep(200);
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  return {
    pids: members.map((m) => m.pid ?? 0),
    put: (k) => kv.put(k).value(VALUE).exec(),
    async verify(load) {
      // Every member, serializable (member-local) reads of the bench's keys.
      for (const i of [0, 1, 2]) {
        const one = new Etcd3({ hosts: [client(i)], grpcOptions });
        try {
          const end = performance.now() + 15_000;
          for (;;) {
            const values = new Map(Object.entries(await one.getAll().prefix('k').serializable(true).strings()));
            const wrong = checkView(`etcd member ${i}`, new Map([...values.keys()].map((k) => [k, 1])), values, load);
            if (wrong === undefined) break;
            if (performance.now() > end) throw new Error(`verification failed: ${wrong}`);
            await sleep(200);
          }
        } finally {
          one.close();
        }
      }
    },
    close,
  };
}

// --- regions in one process -----------------------------------------------------------------------

/** createLocalCluster: 3 stores in this process, memory engine, `regions` regions over the writers' keys. */
export async function startLocal(regions: number, writers: number): Promise<System> {
  const cluster = await createLocalCluster({ stores: 3, initialSplitKeys: regions > 1 ? splitKeysFor(writers, regions) : [], store: { tickMs: 20 } });
  try {
    await cluster.waitForLeaders(20_000);
  } catch (e) {
    await cluster.close();
    throw e;
  }
  const kv = cluster.client();
  return {
    pids: [],
    put: (k) => kv.put(k, VALUE),
    verify: (load) => verifyStores(cluster.storeIds, (id, r) => dispatchRequest(cluster.store(id)!, r), load),
    close: () => cluster.close(),
  };
}

// --- the module -----------------------------------------------------------------------------------

/** One system's loads: a warm-up, then the measured rounds; `verify` checks all of them. */
class Runs {
  readonly loads: Load[] = [];
  readonly measured = new Map<string, Load[]>();
  /** CPU time (ms) of each of the system's processes and, last, of this one during each label's rounds. */
  readonly cpu = new Map<string, number[]>();
  /** Store loop turns of each server process during each label's rounds (flotilla serve only). */
  readonly turns = new Map<string, number[]>();
  readonly system: System;
  constructor(system: System) {
    this.system = system;
  }
  async run(label: string, tag: string, writers: number, ms: number): Promise<void> {
    const turns0 = await this.system.loopTurns?.();
    const cpu0 = cpuMsEach(this.system.pids);
    const load = await writeLoad(tag, writers, ms, this.system.put);
    const cpu1 = cpuMsEach(this.system.pids);
    const turns1 = await this.system.loopTurns?.();
    const add = (m: Map<string, number[]>, d: number[]) => m.set(label, d.map((x, i) => x + (m.get(label)?.[i] ?? 0)));
    add(this.cpu, cpu1.map((c, i) => c - cpu0[i]));
    if (turns0 && turns1) add(this.turns, turns1.map((t, i) => t - turns0[i]));
    this.loads.push(load);
    if (label !== 'warm-up') this.measured.set(label, [...(this.measured.get(label) ?? []), load]);
  }
  /** Mean writes/s and pooled latencies of the rounds of `label`. */
  figure(label: string): { rate: number; p50: number; p99: number; failed: number; cpuPerWrite: number; cpuShares: number[]; turnsPerSecond: number[] } {
    const loads = this.measured.get(label) ?? [];
    const latencies = loads.flatMap((l) => l.latencies).sort((a, b) => a - b);
    const seconds = loads.reduce((s, l) => s + l.seconds, 0);
    const cpu = this.cpu.get(label) ?? [Number.NaN];
    return {
      /** % of one core used by each server process and, last, by the bench process (the client). */
      cpuShares: cpu.map((ms) => ms / seconds / 10),
      turnsPerSecond: (this.turns.get(label) ?? []).map((t) => t / seconds),
      rate: loads.reduce((s, l) => s + rate(l), 0) / loads.length,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      failed: loads.reduce((s, l) => s + l.failed.length, 0),
      cpuPerWrite: (cpu.reduce((a, b) => a + b, 0) * 1000) / loads.reduce((s, l) => s + l.acked.length, 0),
    };
  }
  verify(): Promise<void> {
    return this.system.verify(merged(this.loads));
  }
}

/** Adds a started system to `list` (whose systems the caller closes). */
async function started(list: Runs[], system: Promise<System>): Promise<Runs> {
  const runs = new Runs(await system);
  list.push(runs);
  return runs;
}

/**
 * Where a load's time went: the busiest server process's share of a core (all shares in the note:
 * a run at which no process nears 100 % is bound by latency, not CPU), and for flotilla the store
 * loop turns per second and the p50 latency counted in turns (a turn is one group commit:
 * fdatasync, send, apply; a write needs several in series across the stores).
 */
export function loadRows(name: string, f: Pick<ReturnType<Runs['figure']>, 'p50' | 'cpuShares' | 'turnsPerSecond'>, group = 'cluster'): BenchRow[] {
  const servers = f.cpuShares.slice(0, -1);
  const pct = (x: number) => `${Math.round(x)} %`;
  const rows: BenchRow[] = [
    {
      group,
      name: `${name}, CPU of the busiest server process`,
      value: Math.max(...servers),
      unit: '% of a core',
      note: `servers ${servers.map(pct).join(' / ')}, client (bench process) ${pct(f.cpuShares[f.cpuShares.length - 1])}, during the load`,
    },
  ];
  if (f.turnsPerSecond.length > 0) {
    const mean = f.turnsPerSecond.reduce((a, b) => a + b, 0) / f.turnsPerSecond.length;
    rows.push(
      { group, name: `${name}, store loop turns`, value: mean, unit: 'turns/s', note: `mean of the stores (${f.turnsPerSecond.map((t) => Math.round(t)).join(' / ')}); each turn is one group commit` },
      { group, name: `${name}, latency p50 in loop turns`, value: (f.p50 * mean) / 1000, unit: 'turns', note: 'p50 latency over the mean turn duration: how many turns, in series over the stores, a write waits for' },
    );
  }
  return rows;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const g = 'cluster';
  const failed = (n: number) => (n > 0 ? `; ${n} writes failed (outcome unknown)` : '');
  // Plot points (docs/scaling.svg): regions × throughput, writers × latency.
  const figureRows = (name: string, f: ReturnType<Runs['figure']>, note: string, at?: { regions: number; writers: number }): BenchRow[] => [
    { group: g, name: `${name}, committed writes`, value: f.rate, unit: 'writes/s', note: `${note}${failed(f.failed)}`, ...(at ? { plot: { chart: 'Regions × throughput (3 processes)', series: `${at.writers} writers`, x: at.regions, xLabel: 'regions', logX: true } } : {}) },
    { group: g, name: `${name}, latency p50`, value: f.p50, unit: 'ms', ...(at ? { plot: { chart: 'Client concurrency × latency (3 processes)', series: `p50, ${at.regions} region(s)`, x: at.writers, xLabel: 'writers', yLabel: 'latency, ms', logX: true } } : {}) },
    { group: g, name: `${name}, latency p99`, value: f.p99, unit: 'ms', ...(at ? { plot: { chart: 'Client concurrency × latency (3 processes)', series: `p99, ${at.regions} region(s)`, x: at.writers, xLabel: 'writers', yLabel: 'latency, ms', logX: true } } : {}) },
    { group: g, name: `${name}, CPU per write`, value: f.cpuPerWrite, unit: 'µs', note: 'user + system time of the servers and of the bench process (client) during the load, over writes acknowledged' },
    ...loadRows(name, f),
  ];
  const version = etcdAvailable();
  if (version === undefined) console.log(`cluster.bench: etcd is not on PATH, so there is no etcd baseline and no ratio; install it with: ${ETCD_INSTALL}`);

  // Targets 2 and 4 (3 processes): the three clusters up at once, measurements alternating.
  const systems: Runs[] = [];
  try {
    const f1 = await started(systems, startFlotilla(1, MANY_WRITERS));
    const f8 = await started(systems, startFlotilla(8, WRITERS));
    const etcd = version === undefined ? undefined : await started(systems, startEtcd());
    for (const s of systems) await s.run('warm-up', 'w', WRITERS, 1000);
    for (let r = 0; r < WRITE_ROUNDS; r++) {
      const tag = String.fromCharCode(97 + r);
      await f1.run('256', tag, WRITERS, MEASURE_MS);
      await etcd?.run('256', tag, WRITERS, MEASURE_MS);
      await f8.run('256', tag, WRITERS, MEASURE_MS);
    }
    await f1.run('1000', 'm', MANY_WRITERS, MANY_MS);
    await etcd?.run('1000', 'm', MANY_WRITERS, MANY_MS);
    for (const s of systems) await s.verify();

    // Target 3 across processes: ReadIndex and lease reads of acknowledged keys on the 1-region
    // cluster, alternating with each other, beside its 256-writer rate measured above.
    const readKeys = f1.loads.flatMap((l) => l.acked);
    const get = f1.system.get as NonNullable<System['get']>;
    let readIndexRate = 0;
    let leaseRate = 0;
    for (let r = 0; r < ROUNDS; r++) {
      readIndexRate += (await runReaders(WRITERS, READ_MS, readKeys, (k) => get(k, 'linearizable'))) / (READ_MS / 1000) / ROUNDS;
      leaseRate += (await runReaders(WRITERS, READ_MS, readKeys, (k) => get(k, 'lease'))) / (READ_MS / 1000) / ROUNDS;
    }

    const where = '3 × flotilla serve on loopback, WebSocket, fs engine (Raft log fdatasynced before acknowledging), 16-byte keys, 100-byte values, remote client';
    rows.push(...figureRows(`flotilla serve ×3, 1 region, ${WRITERS} writers`, f1.figure('256'), `${where}; region led by store 1; mean of ${WRITE_ROUNDS} rounds of ${MEASURE_MS / 1000} s; every write verified on every store`, { regions: 1, writers: WRITERS }));
    rows.push(...figureRows(`flotilla serve ×3, 1 region, ${MANY_WRITERS} writers`, f1.figure('1000'), `${where}; one round of ${MANY_MS / 1000} s`, { regions: 1, writers: MANY_WRITERS }));
    if (etcd) {
      rows.push(
        ...figureRows(`etcd ×3, ${WRITERS} writers`, etcd.figure('256'), `etcd ${version}, 3 members on loopback, default fsync, etcd3 npm client (gRPC, all 3 endpoints); rounds alternate with flotilla's; verified on every member`),
        { group: g, name: `flotilla / etcd, committed writes/s, ${WRITERS} writers`, value: f1.figure('256').rate / etcd.figure('256').rate, unit: 'ratio', note: `ratio of the means; round by round: ${roundRatios(f1.measured.get('256'), etcd.measured.get('256'))}`, target: { label: 'issue 9 target 2: flotilla >= 3x etcd (256 writers)', op: '>=', bound: 3 } },
        { group: g, name: `etcd / flotilla, CPU per write, ${WRITERS} writers`, value: etcd.figure('256').cpuPerWrite / f1.figure('256').cpuPerWrite, unit: 'ratio', note: 'how many times more CPU etcd (and its Node gRPC client) spends per write' },
      );
    } else {
      rows.push({ group: g, name: `etcd ×3, ${WRITERS} writers, committed writes`, value: Number.NaN, unit: 'writes/s', note: `etcd unavailable (not on PATH); install: ${ETCD_INSTALL}; no ratio` });
    }
    rows.push(...figureRows(`flotilla serve ×3, 1 region, ${MANY_WRITERS} writers`, f1.figure('1000'), '1 round'));
    if (etcd) {
      rows.push(
        ...figureRows(`etcd ×3, ${MANY_WRITERS} writers`, etcd.figure('1000'), '1 round, right after flotilla\'s'),
        { group: g, name: `flotilla / etcd, committed writes/s, ${MANY_WRITERS} writers`, value: f1.figure('1000').rate / etcd.figure('1000').rate, unit: 'ratio', target: { label: 'issue 9 target 2: flotilla >= 3x etcd (1,000 writers)', op: '>=', bound: 3 } },
      );
    }
    rows.push(
      { group: g, name: `flotilla serve ×3, linearizable (ReadIndex) reads, ${WRITERS} readers`, value: readIndexRate, unit: 'reads/s', note: `1 region led by store 1; gets batched per region by the client; mean of ${ROUNDS} rounds alternating with lease reads` },
      { group: g, name: `flotilla serve ×3, lease reads, ${WRITERS} readers`, value: leaseRate, unit: 'reads/s' },
      { group: g, name: 'flotilla serve ×3, ReadIndex reads / 256-writer write rate', value: readIndexRate / f1.figure('256').rate, unit: 'ratio', target: { label: 'issue 9 target 3 (3 processes): ReadIndex reads >= 2x writes', op: '>=', bound: 2 } },
      { group: g, name: 'flotilla serve ×3, lease / ReadIndex reads', value: leaseRate / readIndexRate, unit: 'ratio', target: { label: 'issue 9 target 3 (3 processes): lease reads >= 5x ReadIndex', op: '>=', bound: 5 } },
      {
        group: g,
        name: 'flotilla serve ×3, lease reads / 256-writer durable write rate',
        value: leaseRate / f1.figure('256').rate,
        unit: 'ratio',
        target: { label: 'issue 18 (3 processes): lease reads >= 3x durable writes', op: '>=', bound: 3 },
      },
    );
    rows.push(
      ...figureRows(`flotilla serve ×3, 8 regions, ${WRITERS} writers`, f8.figure('256'), 'leaders spread 3/3/2 over the stores, writers spread evenly over the regions; rounds alternate with the 1-region ones', { regions: 8, writers: WRITERS }),
      { group: g, name: 'flotilla serve ×3, 8 regions / 1 region', value: f8.figure('256').rate / f1.figure('256').rate, unit: 'ratio', note: `ratio of the means; round by round: ${roundRatios(f8.measured.get('256'), f1.measured.get('256'))}`, target: { label: 'issue 9 target 4: 8 regions >= 1.3x 1 region across 3 processes', op: '>=', bound: 1.3 } },
    );
  } finally {
    await Promise.all(systems.map((s) => s.system.close()));
  }

  // Target 4 (one process): 1 and 8 regions, alternating, one cluster at a time running load.
  const locals: Runs[] = [];
  try {
    const l1 = await started(locals, startLocal(1, LOCAL_WRITERS));
    const l8 = await started(locals, startLocal(8, LOCAL_WRITERS));
    for (const s of locals) await s.run('warm-up', 'w', LOCAL_WRITERS, 500);
    for (let r = 0; r < ROUNDS; r++) {
      const tag = String.fromCharCode(97 + r);
      await l1.run('64', tag, LOCAL_WRITERS, LOCAL_MS);
      await l8.run('64', tag, LOCAL_WRITERS, LOCAL_MS);
    }
    for (const s of locals) await s.verify();
    const note = `createLocalCluster, 3 stores in this process, memory engine, MessageChannel, ${LOCAL_WRITERS} writers; mean of ${ROUNDS} alternating rounds; verified on every store`;
    rows.push(
      { group: g, name: 'in-process, 1 region, committed writes', value: l1.figure('64').rate, unit: 'writes/s', note },
      { group: g, name: 'in-process, 8 regions, committed writes', value: l8.figure('64').rate, unit: 'writes/s', note: 'the same writers spread evenly over the 8 regions (the other cluster idles meanwhile)' },
      { group: g, name: 'in-process, 8 regions / 1 region', value: l8.figure('64').rate / l1.figure('64').rate, unit: 'ratio', target: { label: 'issue 9 target 4: 8 regions >= 0.8x 1 region in one process', op: '>=', bound: 0.8 } },
    );
  } finally {
    await Promise.all(locals.map((s) => s.system.close()));
  }
  return rows;
}
