/**
 * `npm run bench -- idle`: issue 18's idle regions at scale (see bench/idle-regions.ts). Region
 * counts from `IDLE_REGIONS` (comma-separated; default 1000,3000,10000), quiet window from
 * `IDLE_QUIET_MS` (default 10000).
 */
import process from 'node:process';
import { describeRun, idleRegions } from './idle-regions.ts';
import type { BenchRow } from './table.ts';

export async function run(): Promise<BenchRow[]> {
  const counts = (process.env.IDLE_REGIONS ?? '1000,3000,10000').split(',').map(Number);
  const quietMs = Number(process.env.IDLE_QUIET_MS ?? 10_000);
  const rows: BenchRow[] = [];
  for (const n of counts) {
    const r = await idleRegions(n, { quietMs });
    console.log(describeRun(r));
    const load = `load ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)}`;
    const label = n.toLocaleString('en-US');
    rows.push({ group: 'idle', name: `${label} regions: all leaders elected after`, value: r.electMs === undefined ? Number.POSITIVE_INFINITY : r.electMs / 1000, unit: 's', note: `3 stores in one process; ${load}` });
    if (r.heapPerReplica !== undefined) {
      rows.push({ group: 'idle', name: `${label} regions: heap per replica (all quiesced)`, value: r.heapPerReplica / 1024, unit: 'KiB', note: `forced GC; ${load}`, plot: { chart: 'Idle regions × heap per replica', series: 'KiB per replica', x: n, xLabel: 'regions', logX: true }, ...(n >= 10_000 ? { target: { label: 'issue 18: 10,000 idle regions per store, <= 10 KiB of heap each', op: '<=' as const, bound: 10 } } : {}) });
    }
    if (r.cpuQuiet !== undefined) {
      rows.push({ group: 'idle', name: `${label} regions: CPU when quiet, 3 stores`, value: r.cpuQuiet * 100, unit: '% of a core', note: `${quietMs / 1000} s window; ${load}`, plot: { chart: 'Idle regions × CPU when quiet (3 stores, one process)', series: 'CPU, % of a core', x: n, xLabel: 'regions', logX: true }, ...(n >= 10_000 ? { target: { label: 'issue 18: 10,000 idle regions per store, < 2 % CPU when quiet', op: '<=' as const, bound: 2 } } : {}) });
    }
  }
  return rows;
}
