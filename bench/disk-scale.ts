/**
 * Scale measurements of a store's storage engine (issue 17), too long for `npm run bench`:
 * restart time to the first served read, and RSS under a mixed read/write load, with millions of
 * keys. One `flotilla serve` process (one store, one replica, no PD) on a data directory:
 *
 *   node --import tsx bench/disk-scale.ts --keys 10000000 --engine lmdb [--load-seconds 60] [--dir D]
 *     [--reuse D] [--cli dist|tsx]
 *
 * The store runs as users run it: the compiled CLI (`node bin/flotilla.mjs serve ...`, after
 * `npm run build`, which this script runs first when dist/ is older than a source file); `--cli
 * tsx` runs the sources instead. `--reuse D` keeps the loaded directory D between runs: the first
 * run loads it (and leaves it, marked `D/loaded.json`), later runs with the same `--keys` and
 * `--engine` skip steps 1's bootstrap and load (the 10M-key load takes most of an hour here).
 *
 * 1. starts the store once (bootstrap), stops it, and bulk-loads `keys` user keys (16 B keys,
 *    100 B values) straight into the engine under the region's data prefix, in large batches: the
 *    region's state is those keys, so the store serves them as if written through Raft;
 * 2. restarts the store and times spawn -> process listening -> its replica leads (`/status`) ->
 *    first successful client `get`;
 * 3. runs a mixed load (90 % gets, 10 % puts of random keys, 32 in flight) for `load-seconds`,
 *    sampling the store process's VmRSS / RssAnon / RssFile from /proc every 500 ms;
 * 4. prints one JSON line of results and deletes the directory (unless --keep).
 *
 * `--memory-limit-mb M` (root, cgroup v1 memory controller) runs the restarted store in a child
 * memory cgroup limited to M MiB, page cache included: it shows the store working within M while
 * its data is larger (the kernel drops cached pages of the data file instead of growing RSS).
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { connect } from '../adapters/client/remote.ts';
import { createFsStorage } from '../adapters/storage/fs.ts';
import { createLmdbStorage } from '../adapters/storage/lmdb.ts';
import { dataKey } from '../src/kv/keys.ts';
import type { StorageEngine, WriteOp } from '../src/ports.ts';
import { freePorts, restartProcess, type StoreProcess, serveArgs, spawnFlotilla, stopProcess, waitListening } from '../scripts/cluster-processes.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const KEYS = Number(arg('keys', '1000000'));
const ENGINE = arg('engine', 'lmdb') as 'lmdb' | 'fs';
const LOAD_S = Number(arg('load-seconds', '60'));
const BATCH = 50_000;
const SECRET = 'flotilla disk-scale bench secret!';
const MEMORY_LIMIT_MB = Number(arg('memory-limit-mb', '0'));
const REUSE = arg('reuse', '');
const CLI = arg('cli', 'dist') as 'dist' | 'tsx';
const dir = REUSE || (process.argv.includes('--dir') ? arg('dir', '') : mkdtempSync(join(tmpdir(), 'flotilla-scale-')));
const root = join(import.meta.dirname, '..');

/** The newest modification time (ms) of a file under `path` with one of `exts`. */
function newest(path: string, exts: readonly string[]): number {
  let t = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const f = join(path, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(f, exts));
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, statSync(f).mtimeMs);
  }
  return t;
}

/** Builds dist/ (`npm run build`) when a source file is newer than the compiled CLI. */
function buildIfStale(): void {
  const cli = join(root, 'dist', 'bin', 'cli.js');
  const built = existsSync(cli) ? statSync(cli).mtimeMs : 0;
  const src = Math.max(...['src', 'adapters', 'bin'].map((d) => newest(join(root, d), ['.ts'])));
  if (src <= built) return;
  process.stderr.write('dist/ is older than the sources: npm run build\n');
  execSync('npm run build', { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

const userKey = (i: number) => {
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  v.setUint32(0, 0x6b657930); // "key0"
  v.setUint32(8, Math.floor(i / 2 ** 32));
  v.setUint32(12, i >>> 0);
  return k;
};
const value = (i: number) => new Uint8Array(100).fill(i & 0xff);

function rss(pid: number): { rssMB: number; anonMB: number; fileMB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024;
  return { rssMB: kb('VmRSS'), anonMB: kb('RssAnon'), fileMB: kb('RssFile') };
}

/** Makes a child memory cgroup (v1) of this process's own, limited to `mb`, and moves `pid` into it. */
function limitMemory(pid: number, mb: number): string {
  const own = /memory:(.*)/.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
  const path = `/sys/fs/cgroup/memory${own === '/' ? '' : own}/flotilla-scale-${process.pid}`;
  mkdirSync(path);
  writeFileSync(`${path}/memory.limit_in_bytes`, String(mb * 1024 * 1024));
  writeFileSync(`${path}/tasks`, String(pid));
  return path;
}

async function bulkLoad(): Promise<number> {
  const t0 = performance.now();
  const db: StorageEngine = ENGINE === 'lmdb' ? await createLmdbStorage({ dir: join(dir, 'store-1') }) : await createFsStorage({ dir: join(dir, 'store-1') });
  for (let i = 0; i < KEYS; i += BATCH) {
    const ops: WriteOp[] = [];
    for (let j = i; j < Math.min(KEYS, i + BATCH); j++) ops.push({ type: 'put', key: dataKey(userKey(j)), value: value(j) });
    await db.write(ops, { sync: true, handOver: true });
    if ((i / BATCH) % 20 === 0) process.stderr.write(`loaded ${i + ops.length}\n`);
  }
  await db.close();
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const [port, httpPort] = await freePorts(2);
  const args = serveArgs(1, [port], [httpPort], dir, ['--no-pd', '--replicas', '1', '--engine', ENGINE, '--log-level', 'warn']);
  const env = { FLOTILLA_SECRET: SECRET };
  if (CLI === 'dist') buildIfStale();
  const marker = join(dir, 'loaded.json');
  const loaded = REUSE && existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as { keys: number; engine: string; bulkLoadSeconds: number }) : undefined;
  if (loaded && (loaded.keys !== KEYS || loaded.engine !== ENGINE)) throw new Error(`${dir} holds ${loaded.keys} keys on ${loaded.engine}, not ${KEYS} on ${ENGINE}`);
  const runtime = CLI === 'dist' ? 'dist' : 'node';
  let loadSeconds = loaded?.bulkLoadSeconds ?? 0;
  let p: StoreProcess | undefined;
  if (!loaded) {
    p = spawnFlotilla(runtime, args, env);
    await waitListening(p, 60_000);
    await stopProcess(p, 'SIGTERM');
    loadSeconds = await bulkLoad();
    if (REUSE) writeFileSync(marker, JSON.stringify({ keys: KEYS, engine: ENGINE, bulkLoadSeconds: loadSeconds }));
  }
  const diskBytes = Number(execSync(`du -sb ${join(dir, 'store-1')}`).toString().split('\t')[0]);

  // In a memory cgroup, pages cached by the bulk load stay charged to this process's cgroup: drop
  // the data file from the page cache so the store's reads are charged to its own.
  if (MEMORY_LIMIT_MB > 0) execSync(`dd if=${join(dir, 'store-1', ENGINE === 'lmdb' ? 'data.mdb' : '.')} iflag=nocache count=0 status=none`);
  const t0 = performance.now();
  if (p) restartProcess(p, env);
  else p = spawnFlotilla(runtime, args, env);
  const cgroup = MEMORY_LIMIT_MB > 0 ? limitMemory(p.child.pid!, MEMORY_LIMIT_MB) : undefined;
  await waitListening(p, 600_000);
  const listeningMs = performance.now() - t0;
  // When the store's replica leads (from /status), to tell the election from the client's own start.
  let leaderMs = 0;
  void (async () => {
    while (leaderMs === 0 && performance.now() - t0 < 600_000) {
      try {
        const st = (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as { regions: Array<{ role: string }> };
        if (st.regions.some((r) => r.role === 'leader')) leaderMs = performance.now() - t0;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const client = await connect({ endpoints: [`ws://127.0.0.1:${port}`], secret: SECRET });
  const probe = userKey(Math.floor(KEYS / 2));
  for (;;) {
    try {
      const v = await client.get(probe);
      if (v?.length !== 100) throw new Error('the probe key is missing after the restart');
      break;
    } catch (e) {
      if (performance.now() - t0 > 600_000) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const firstReadMs = performance.now() - t0;
  const pid = p.child.pid!;
  const afterStart = rss(pid);

  let gets = 0;
  let puts = 0;
  const peak = { rssMB: 0, anonMB: 0, fileMB: 0 };
  const sampler = setInterval(() => {
    const r = rss(pid);
    peak.rssMB = Math.max(peak.rssMB, r.rssMB);
    peak.anonMB = Math.max(peak.anonMB, r.anonMB);
    peak.fileMB = Math.max(peak.fileMB, r.fileMB);
  }, 500);
  const end = performance.now() + LOAD_S * 1000;
  let x = 12345;
  const rnd = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % KEYS;
  };
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < end) {
        const i = rnd();
        if (i % 10 === 0) {
          await client.put(userKey(i), value(i + 1));
          puts++;
        } else {
          const v = await client.get(userKey(i));
          if (v === undefined) throw new Error(`key ${i} missing`);
          gets++;
        }
      }
    }),
  );
  clearInterval(sampler);
  const final = rss(pid);
  const cgroupPeakMB = cgroup ? Number(readFileSync(`${cgroup}/memory.max_usage_in_bytes`, 'utf8')) / 2 ** 20 : undefined;
  const cgroupFailcnt = cgroup ? Number(readFileSync(`${cgroup}/memory.failcnt`, 'utf8')) : undefined;
  await client.close();
  const exit = await stopProcess(p, 'SIGTERM');
  if (cgroup) rmdirSync(cgroup);
  const out = {
    cli: CLI,
    reused: loaded !== undefined,
    engine: ENGINE,
    keys: KEYS,
    diskMB: Math.round(diskBytes / 1e6),
    bulkLoadSeconds: Number(loadSeconds.toFixed(1)),
    restartListeningMs: Math.round(listeningMs),
    restartLeaderMs: Math.round(leaderMs),
    restartFirstReadMs: Math.round(firstReadMs),
    rssAfterStartMB: Math.round(afterStart.rssMB),
    loadSeconds: LOAD_S,
    getsPerS: Math.round(gets / LOAD_S),
    putsPerS: Math.round(puts / LOAD_S),
    peakRssMB: Math.round(peak.rssMB),
    peakRssAnonMB: Math.round(peak.anonMB),
    peakRssFileMB: Math.round(peak.fileMB),
    finalRssMB: Math.round(final.rssMB),
    ...(cgroup ? { memoryLimitMB: MEMORY_LIMIT_MB, cgroupPeakMB: Math.round(cgroupPeakMB!), cgroupLimitHits: cgroupFailcnt } : {}),
    storeExit: exit,
  };
  console.log(JSON.stringify(out));
}

try {
  await main();
} finally {
  if (!process.argv.includes('--keep') && !REUSE) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
