/**
 * Idle regions at scale (issue 18): three stores in this process (memory engine, MessageChannel
 * links, 50 ms ticks), N regions cut by `initialSplitKeys`, each replicated on all three. Measures
 * the time from open to every region having a leader that all its replicas know, the heap per
 * replica once every region quiesced (forced GC: run under `--expose-gc`), and the CPU share of a
 * core the process uses over a quiet window. Prints the load average with every figure: the box
 * is shared.
 *
 * As a script: `node --expose-gc --import tsx bench/idle-regions.ts 1000 3000 10000`
 * (`IDLE_QUIET_MS`, default 10000; `IDLE_ELECT_MS`, the election deadline, default 600000;
 * `IDLE_QUIET_PROF=dir` writes a CPU profile of the quiet window to dir/idle-quiet-N.cpuprofile).
 */
import os from 'node:os';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { createLocalCluster } from '../adapters/local-cluster.ts';
import { startInProcessProfile } from './in-process-profile.ts';
import { heapAfterGc as heap } from './heap.ts';

/** What one run measured. */
export interface IdleRun {
  regions: number;
  /** Milliseconds from opening the cluster to every region led (undefined: not within the deadline). */
  electMs: number | undefined;
  /** Milliseconds from every region led to every region quiesced (undefined: not within the deadline). */
  quiesceMs: number | undefined;
  /** Heap bytes per replica (three replicas per region) after forced GC, all quiesced. */
  heapPerReplica: number | undefined;
  /** CPU share of one core over the quiet window (user + system, the whole process). */
  cpuQuiet: number | undefined;
  /** The 1-minute load average at the start and at the end. */
  load: [number, number];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load1 = () => os.loadavg()[0];

/** Polls `done` every 50 ms until it holds (true) or `deadlineMs` passed (false). */
async function until(done: () => boolean, deadlineMs: number): Promise<boolean> {
  const end = performance.now() + deadlineMs;
  while (!done()) {
    if (performance.now() > end) return false;
    await sleep(50);
  }
  return true;
}

/** Measures `regions` idle regions on three stores in this process. */
export async function idleRegions(regions: number, opts: { quietMs?: number; electMs?: number } = {}): Promise<IdleRun> {
  const quietMs = opts.quietMs ?? 10_000;
  const electDeadlineMs = opts.electMs ?? 600_000;
  const loadStart = load1();
  const before = heap();
  const splitKeys = Array.from({ length: regions - 1 }, (_, i) => `r${String(i + 1).padStart(6, '0')}`);
  const t0 = performance.now();
  const c = await createLocalCluster({ stores: 3, initialSplitKeys: splitKeys, store: { tickMs: 50 } });
  const run: IdleRun = { regions, electMs: undefined, quiesceMs: undefined, heapPerReplica: undefined, cpuQuiet: undefined, load: [loadStart, 0] };
  try {
    try {
      await c.waitForLeaders(electDeadlineMs);
      run.electMs = performance.now() - t0;
    } catch {
      return run;
    }
    const t1 = performance.now();
    const allQuiet = () => c.storeIds.every((id) => c.store(id)?.status().every((s) => s.raft.quiesced) ?? false);
    if (!(await until(allQuiet, 120_000))) return run;
    run.quiesceMs = performance.now() - t1;
    run.heapPerReplica = (heap() - before) / (3 * regions);
    const stopProfile = await startInProcessProfile(process.env.IDLE_QUIET_PROF ? `${process.env.IDLE_QUIET_PROF}/idle-quiet-${regions}.cpuprofile` : undefined);
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(quietMs);
    const cpu = process.cpuUsage(cpu0);
    await stopProfile();
    run.cpuQuiet = (cpu.user + cpu.system) / 1000 / (performance.now() - w0);
    return run;
  } finally {
    run.load[1] = load1();
    await c.close();
  }
}

/** One line per run, for the log and BENCHMARKS.md. */
export function describeRun(r: IdleRun): string {
  const f = (v: number | undefined, d: number, unit: string) => (v === undefined ? '—' : `${v.toFixed(d)}${unit}`);
  return `${r.regions} regions: elected ${f(r.electMs === undefined ? undefined : r.electMs / 1000, 1, ' s')}, quiesced ${f(r.quiesceMs === undefined ? undefined : r.quiesceMs / 1000, 1, ' s')} later, heap ${f(r.heapPerReplica === undefined ? undefined : r.heapPerReplica / 1024, 2, ' KiB')}/replica, CPU quiet ${f(r.cpuQuiet === undefined ? undefined : r.cpuQuiet * 100, 2, ' %')} of a core, load ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const counts = process.argv.slice(2).map(Number);
  for (const n of counts.length > 0 ? counts : [1000]) {
    const r = await idleRegions(n, { quietMs: Number(process.env.IDLE_QUIET_MS ?? 10_000), electMs: Number(process.env.IDLE_ELECT_MS ?? 600_000) });
    console.log(describeRun(r));
  }
}
