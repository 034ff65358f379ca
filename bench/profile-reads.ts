/**
 * A small driver for CPU profiles and A/B runs of the read paths (not part of `npm run bench`):
 *
 *   node --cpu-prof --cpu-prof-dir=prof --import tsx bench/profile-reads.ts [readers=64] [ms=1000] [rounds=3] [modes=both]
 *
 * Fills an in-page cluster (createLocalCluster: 3 stores, memory engine, MessageChannel, tick
 * 20 ms, one region) with 20,000 acknowledged 16-byte keys and 100-byte values, warms both paths
 * up, then runs `rounds` rounds of `ms`-millisecond slices of linearizable (ReadIndex) and lease
 * reads with `readers` concurrent readers, alternating which goes first, and prints each slice's
 * reads/s, each round's lease / ReadIndex ratio and the spread. `modes` is `both`, `lease` or
 * `readindex` (profile one path alone). `readers` may be a comma list (`1,4,64`): each count runs
 * its own rounds in the same process, so the ratios of the counts are measured side by side.
 * With `READS_CPU_PROF=file.cpuprofile` in the environment only the measured slices are profiled
 * (not the fill and the warm-up), through node:inspector; summarise with bench/cpu-profile-summary.ts.
 */
import { startInProcessProfile } from './in-process-profile.ts';
import process from 'node:process';
import { createLocalCluster } from '../adapters/local-cluster.ts';
import { runReaders, uniqueKey, uniqueValue } from './baseline.ts';

const readerCounts = (process.argv[2] ?? '64').split(',').map(Number);
const ms = Number(process.argv[3] ?? 1000);
const rounds = Number(process.argv[4] ?? 3);
const modes = process.argv[5] ?? 'both';
const KEYS = 20_000;

const cluster = await createLocalCluster({ stores: 3, store: { tickMs: 20 } });
await cluster.waitForLeaders(20_000);
const kv = cluster.client();
const keys: string[] = [];
for (let i = 0; i < KEYS; i++) keys.push(uniqueKey(0, i));
for (let i = 0; i < KEYS; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => kv.put(k, uniqueValue(k))));

type Mode = 'linearizable' | 'lease';
const cpuOf = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
async function slice(mode: Mode, readers: number, durationMs: number): Promise<{ rate: number; cpuMicrosPerRead: number }> {
  const cpu = cpuOf();
  const t0 = performance.now();
  const reads = await runReaders(readers, durationMs, keys, (k) => kv.get(k, { consistency: mode }));
  const seconds = (performance.now() - t0) / 1000;
  return { rate: reads / seconds, cpuMicrosPerRead: (cpuOf() - cpu) / reads };
}

const wanted: Mode[] = modes === 'lease' ? ['lease'] : modes === 'readindex' ? ['linearizable'] : ['linearizable', 'lease'];
for (const m of wanted) await slice(m, 64, 1000); // JIT warm-up
const stopProfile = await startInProcessProfile(process.env.READS_CPU_PROF);
for (const readers of readerCounts) {
  const ratios: number[] = [];
  const sums = { linearizable: 0, lease: 0 };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? wanted : [...wanted].reverse();
    const got: Partial<Record<Mode, { rate: number; cpuMicrosPerRead: number }>> = {};
    for (const m of order) got[m] = await slice(m, readers, ms);
    const parts = order.map((m) => `${m === 'lease' ? 'lease' : 'ReadIndex'} ${got[m]!.rate.toFixed(0)}/s (CPU ${got[m]!.cpuMicrosPerRead.toFixed(2)} µs/read)`);
    for (const m of order) sums[m] += got[m]!.rate / rounds;
    if (got.lease && got.linearizable) ratios.push(got.lease.rate / got.linearizable.rate);
    console.log(`${readers} readers, round ${r + 1}: ${parts.join(', ')}${got.lease && got.linearizable ? `; lease / ReadIndex ${ratios[ratios.length - 1].toFixed(2)}` : ''}`);
  }
  const spread = ratios.length > 0 ? `; lease / ReadIndex mean ${(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(2)}, spread ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}` : '';
  console.log(`${readers} readers: ReadIndex ${sums.linearizable.toFixed(0)}/s, lease ${sums.lease.toFixed(0)}/s${spread}`);
}
await stopProfile();
await cluster.close();
