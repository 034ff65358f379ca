/**
 * A small driver for CPU profiles of the write path (not part of `npm run bench`):
 *
 *   node --cpu-prof --cpu-prof-dir=prof --import tsx bench/profile-writes.ts [writers=64] [ms=5000] [bare]
 *
 * Runs `writers` concurrent writers against an in-page cluster (createLocalCluster: 3 stores,
 * memory engine, MessageChannel, tick 20 ms) after a one-second warm-up, and prints writes/s,
 * process CPU time per write, latency percentiles and the stores' loop counters. With `bare`,
 * the bare baseline runs after it in the same process and the CPU-time ratio is printed.
 * With `REGIONS=n` in the environment the cluster starts with n regions that cut the writers'
 * key space into equal parts (keys lead with the writer), as in the in-process target-4 rows.
 */
import process from 'node:process';
import { createLocalCluster } from '../adapters/local-cluster.ts';
import { percentile, runBaseline, runWriters, uniqueKey } from './baseline.ts';

const writers = Number(process.argv[2] ?? 64);
const ms = Number(process.argv[3] ?? 5000);
const regions = Number(process.env.REGIONS ?? 1);
const split = Array.from({ length: regions - 1 }, (_, r) => `k${String(Math.round(((r + 1) * writers) / regions)).padStart(4, '0')}`);
// Writer first, then the run's tag: every run spreads over all the regions alike.
const keyOf = (tag: number) => (w: number, i: number) => uniqueKey(w, tag * 1e9 + i);
const cluster = await createLocalCluster({ stores: 3, initialSplitKeys: split, store: { tickMs: 20 } });
await cluster.waitForLeaders(20_000);
const kv = cluster.client();

async function round(tag: number, durationMs: number): Promise<{ line: string; cpuPerWrite: number }> {
  const run = await runWriters(writers, durationMs, tag, (k, v) => kv.put(k, v), keyOf(tag));
  const us = (q: number) => (percentile(run.latencies, q) * 1000).toFixed(0);
  const line = `${regions} region(s), ${writers} writers: ${(run.writes / run.seconds).toFixed(0)} writes/s, CPU ${run.cpuMicrosPerWrite.toFixed(2)} µs/write, p50 ${us(0.5)} µs, p99 ${us(0.99)} µs, p99.9 ${us(0.999)} µs`;
  return { line, cpuPerWrite: run.cpuMicrosPerWrite };
}

await round(0, 1000);
const measured = await round(1, ms);
console.log(measured.line);
for (const id of cluster.storeIds) {
  const c = cluster.store(id)?.counters;
  if (c) console.log(`store ${id}: turns ${c.turns}, raft batches ${c.raftBatches}, apply batches ${c.applyBatches}, entries applied ${c.entriesApplied}, messages sent ${c.messagesSent}`);
}
await cluster.close();
if (process.argv[4] === 'bare') {
  const bare = await runBaseline(writers, ms);
  console.log(`bare ${writers} writers: ${bare.writesPerSecond.toFixed(0)} writes/s, CPU ${bare.cpuMicrosPerWrite.toFixed(2)} µs/write; bare/in-page CPU per write ${(bare.cpuMicrosPerWrite / measured.cpuPerWrite).toFixed(3)}`);
}
