/**
 * Durable writes and point reads side by side, one run: the lmdb and fs engines (in this process,
 * the store's own path to its disk) and a single etcd member (its `put` fsyncs its WAL before it
 * answers, like a synced engine batch; reads are serializable: member-local, like an engine
 * `get`) through the `etcd3` client, when an `etcd` binary is installed (`apt-get install -y
 * etcd-server`); otherwise the etcd rows say why they were skipped. The same load for all:
 * 16 concurrent writers of one 16 B key + 100 B value each, then 16 concurrent readers of random
 * keys among 20,000 loaded. Each row carries its p99 latency and the CPU the load generator (this
 * process) used: near 100 % of a core, the generator, not the system measured, would be the limit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsStorage } from '../adapters/storage/fs.ts';
import { createLmdbStorage } from '../adapters/storage/lmdb.ts';
import type { StorageEngine } from '../src/ports.ts';
import { freePorts } from '../scripts/cluster-processes.ts';
import { percentile } from './baseline.ts';
import { ETCD_INSTALL, etcdAvailable } from './cluster.bench.ts';
import type { BenchRow } from './table.ts';

const MS = 3000;
const CONCURRENCY = 16;
const KEYS = 20_000;
const VALUE = new Uint8Array(100).fill(0x61);

/** What the load drives: a durable put and a point read. */
interface Target {
  /** Writes key `i`. */
  put(i: number): Promise<void>;
  get(i: number): Promise<boolean>;
  close(): Promise<void>;
  /** The server's process, when it is another one (its CPU is reported too). */
  pid?: number;
}

/** CPU seconds (user + system) a process used so far, from /proc (0 where there is none). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

const keyOf = (i: number) => `k${String(i).padStart(12, '0')}`;
const keyBytes = (i: number) => new TextEncoder().encode(keyOf(i));

/** `CONCURRENCY` loops of `op` for `MS`: rate, p99 latency, and this process's CPU (% of one core). */
async function drive(op: (i: number) => Promise<unknown>, pid?: number): Promise<{ rate: number; p99Ms: number; cpuPct: number; serverCpuPct?: number }> {
  const lat: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const server0 = pid ? cpuSeconds(pid) : 0;
  const t0 = performance.now();
  const end = t0 + MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await op(next++);
        lat.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const out = { rate: lat.length / (wall / 1000), p99Ms: percentile(lat, 0.99), cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100 };
  return pid ? { ...out, serverCpuPct: ((cpuSeconds(pid) - server0) * 1000 * 100) / wall } : out;
}

function engineTarget(db: StorageEngine): Target {
  return {
    put: (i) => db.write([{ type: 'put', key: keyBytes(i), value: VALUE }], { sync: true }),
    get: async (i) => (await db.get(keyBytes(i))) !== undefined,
    close: () => db.close(),
  };
}

/** One etcd member on loopback with its data in `dir`, and a client. */
async function etcdTarget(dir: string): Promise<Target> {
  const { Etcd3 } = await import('etcd3');
  const [clientPort, peerPort] = await freePorts(2);
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const member: ChildProcess = spawn(
    'etcd',
    ['--name', 'm0', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `m0=${peer}`],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => member.once('exit', r));
  const kv = new Etcd3({ hosts: [client] });
  const close = async () => {
    kv.close();
    member.kill('SIGTERM');
    await exited;
  };
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      await kv.put('ready').value('1').exec();
      break;
    } catch (e) {
      if (performance.now() > deadline) {
        await close();
        throw new Error(`etcd did not start: ${String(e)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const value = Buffer.from(VALUE);
  return {
    pid: member.pid,
    put: async (i) => {
      await kv.put(keyOf(i)).value(value).exec();
    },
    get: async (i) => (await kv.get(keyOf(i)).serializable(true).buffer()) !== null,
    close,
  };
}

async function load(t: Target): Promise<void> {
  // The read set, written through the same path (etcd: 64 puts in flight at a time).
  for (let i = 0; i < KEYS; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, KEYS - i) }, (_, j) => t.put(i + j)));
  }
}

async function measure(label: string, t: Target, note: string): Promise<BenchRow[]> {
  await load(t);
  const w = await drive((i) => t.put(KEYS + i), t.pid); // new keys after the read set
  const r = await drive(async (i) => {
    if (!(await t.get((i * 7919) % KEYS))) throw new Error(`${label}: a loaded key is missing`);
  }, t.pid);
  await t.close();
  const cpu = (x: { p99Ms: number; cpuPct: number; serverCpuPct?: number }) =>
    `p99 ${x.p99Ms.toFixed(2)} ms; load generator CPU ${Math.round(x.cpuPct)} % of a core${x.serverCpuPct === undefined ? ' (engine included)' : `, server ${Math.round(x.serverCpuPct)} %`}`;
  return [
    { group: 'storage', name: `side by side: ${label} durable writes, ${CONCURRENCY} in flight`, value: w.rate, unit: 'writes/s', note: `${cpu(w)}; ${note}` },
    { group: 'storage', name: `side by side: ${label} point reads, ${CONCURRENCY} in flight`, value: r.rate, unit: 'reads/s', note: `${cpu(r)}; ${KEYS} keys` },
  ];
}

/** The side-by-side rows: lmdb, fs, etcd (or why etcd was skipped). */
export async function sideBySide(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-side-'));
  try {
    const rows: BenchRow[] = [];
    rows.push(...(await measure('lmdb', engineTarget(await createLmdbStorage({ dir: join(dir, 'lmdb') })), 'one synced batch per put (group commit across writers); in process')));
    rows.push(...(await measure('fs', engineTarget(await createFsStorage({ dir: join(dir, 'fs') })), 'one synced batch per put (group commit across writers); in process')));
    const version = etcdAvailable();
    if (version === undefined) {
      process.stderr.write(`storage bench: etcd rows skipped: no etcd binary on PATH (${ETCD_INSTALL})\n`);
      rows.push({ group: 'storage', name: 'side by side: etcd', value: Number.NaN, unit: '-', note: `skipped: no etcd binary on PATH (${ETCD_INSTALL})` });
    } else {
      rows.push(...(await measure(`etcd ${version} (1 member)`, await etcdTarget(dir), 'etcd3 client over gRPC on loopback; fsync per raft batch')));
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
