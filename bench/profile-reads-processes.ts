/**
 * ReadIndex and lease reads across three `flotilla serve` processes (not part of `npm run bench`):
 *
 *   node --max-semi-space-size=64 --import tsx bench/profile-reads-processes.ts [readers=1,4,256] [ms=2000] [rounds=2] [modes=both]
 *
 * Starts the cluster bench's 1-region system (`startFlotilla`: fs engine, store 1 leads), writes
 * 20,000 keys, then for each reader count runs `rounds` rounds of ReadIndex and lease slices in
 * alternating order, printing reads/s, lease / ReadIndex per round, and CPU per read of the busiest
 * server and of this (client) process. `CLUSTER_BENCH_CPU_PROF=dir` profiles the servers (see
 * cluster.bench.ts); `READS_CPU_PROF=file.cpuprofile` profiles this client's measured slices.
 */
import { startInProcessProfile } from './in-process-profile.ts';
import process from 'node:process';
import { runReaders, uniqueKey } from './baseline.ts';
import { cpuMsEach, startFlotilla } from './cluster.bench.ts';

const readerCounts = (process.argv[2] ?? '1,4,256').split(',').map(Number);
const ms = Number(process.argv[3] ?? 2000);
const rounds = Number(process.argv[4] ?? 2);
const modes = process.argv[5] ?? 'both';
type Mode = 'linearizable' | 'lease';
const wanted: Mode[] = modes === 'lease' ? ['lease'] : modes === 'readindex' ? ['linearizable'] : ['linearizable', 'lease'];

const system = await startFlotilla(1, 256);
const get = system.get;
if (!get) throw new Error('the flotilla system reads');
const keys = Array.from({ length: 20_000 }, (_, i) => uniqueKey(0, i));
try {
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => system.put(k)));
  const slice = async (mode: Mode, readers: number, durationMs: number) => {
    const cpu0 = cpuMsEach(system.pids);
    const t0 = performance.now();
    const reads = await runReaders(readers, durationMs, keys, (k) => get(k, mode));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuMsEach(system.pids).map((c, i) => c - cpu0[i]);
    const client = cpu.pop() ?? 0;
    return { rate: reads / seconds, serverUs: (Math.max(...cpu) * 1000) / reads, clientUs: (client * 1000) / reads };
  };
  for (const m of wanted) await slice(m, 64, 1000); // JIT warm-up
  const stopProfile = await startInProcessProfile(process.env.READS_CPU_PROF);
  for (const readers of readerCounts) {
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? wanted : [...wanted].reverse();
      const got = new Map<Mode, Awaited<ReturnType<typeof slice>>>();
      for (const m of order) got.set(m, await slice(m, readers, ms));
      const ri = got.get('linearizable');
      const lease = got.get('lease');
      if (ri && lease) ratios.push(lease.rate / ri.rate);
      const parts = order.map((m) => {
        const g = got.get(m)!;
        return `${m === 'lease' ? 'lease' : 'ReadIndex'} ${g.rate.toFixed(0)}/s (busiest server ${g.serverUs.toFixed(1)} µs/read, client ${g.clientUs.toFixed(1)} µs/read)`;
      });
      console.log(`${readers} readers, round ${r + 1}: ${parts.join(', ')}${ri && lease ? `; lease / ReadIndex ${ratios[ratios.length - 1].toFixed(2)}` : ''}`);
    }
    if (ratios.length > 0) console.log(`${readers} readers: lease / ReadIndex mean ${(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(2)}, spread ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`);
  }
  await stopProfile();
} finally {
  await system.close();
}
