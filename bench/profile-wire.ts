/**
 * A driver for CPU profiles and A/B runs of the WebSocket wire path (not part of `npm run bench`):
 *
 *   node --max-semi-space-size=64 --import tsx bench/profile-wire.ts [batch=1KiB] [runs=6]
 *
 * Runs transport.bench.ts's WebSocket loopback echo of the batch whose name contains `batch`
 * (ours: encode, frame checks, decode, echo, and back; raw: a `ws` echo of the same bytes), `runs`
 * times each in alternating order, both ends in this process, and prints each run's ours / raw time
 * and the spread, and the process CPU time per echoed frame of each (the steadier figure on a
 * shared machine). With `WIRE_CPU_PROF=dir`, the runs of ours and of raw are profiled separately
 * (dir/ours.cpuprofile, dir/raw.cpuprofile; summarise with bench/cpu-profile-summary.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import process from 'node:process';
import { encodeFrame } from '../src/codec/frame.ts';
import { BATCHES, webSocketOurs, webSocketRaw } from './transport.bench.ts';

const want = process.argv[2] ?? '1 KiB';
const runs = Number(process.argv[3] ?? 6);
const batch = BATCHES.find((b) => b.name.includes(want));
if (!batch) throw new Error(`no batch named like ${want}: ${BATCHES.map((b) => b.name).join('; ')}`);
const bytes = encodeFrame({ clusterId: 'bench', from: 1, to: 2, items: batch.items });
const profileDir = process.env.WIRE_CPU_PROF;
const session = profileDir ? new Session() : undefined;
if (session && profileDir) {
  mkdirSync(profileDir, { recursive: true });
  session.connect();
  await session.post('Profiler.enable');
}
const profiles: Record<'ours' | 'raw', unknown[]> = { ours: [], raw: [] };

const cpuUs: Record<'ours' | 'raw', number> = { ours: 0, raw: 0 };
/** One run of `which`, profiled on its own when asked; adds its process CPU time to `cpuUs`. */
async function timed(which: 'ours' | 'raw'): Promise<number> {
  if (session) await session.post('Profiler.start');
  const cpu = process.cpuUsage();
  const seconds = which === 'ours' ? await webSocketOurs(batch!.items) : await webSocketRaw(bytes);
  const used = process.cpuUsage(cpu);
  if (session) profiles[which].push((await session.post('Profiler.stop')).profile);
  cpuUs[which] += used.user + used.system;
  return seconds;
}

await webSocketOurs(batch.items); // warm-up
await webSocketRaw(bytes);
const ratios: number[] = [];
for (let r = 0; r < runs; r++) {
  const order: ('ours' | 'raw')[] = r % 2 === 0 ? ['ours', 'raw'] : ['raw', 'ours'];
  const t: Record<string, number> = {};
  for (const w of order) t[w] = await timed(w);
  ratios.push(t.ours / t.raw);
  console.log(`run ${r + 1} (${order.join(' then ')}): ours ${(10_000 / t.ours).toFixed(0)} frames/s, raw ${(10_000 / t.raw).toFixed(0)} frames/s, ours / raw time ${ratios[r].toFixed(2)}`);
}
// Both ends run in this process: its CPU time per echoed frame is the cost a CPU-bound link pays,
// and much less moved by other load on the machine than the wall time.
console.log(`CPU per echoed frame (both ends): ours ${(cpuUs.ours / (runs * 10_000)).toFixed(1)} µs, raw ${(cpuUs.raw / (runs * 10_000)).toFixed(1)} µs, ours / raw CPU ${(cpuUs.ours / cpuUs.raw).toFixed(2)}`);
const sorted = [...ratios].sort((a, b) => a - b);
console.log(`${batch.name} (${bytes.length} B frames): ours / raw time median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)}, spread ${sorted[0].toFixed(2)}–${sorted[sorted.length - 1].toFixed(2)}`);
if (session && profileDir) {
  // One file per run and side (summarise them together with cpu-profile-summary.ts).
  for (const which of ['ours', 'raw'] as const) {
    for (let i = 0; i < profiles[which].length; i++) writeFileSync(join(profileDir, `${which}-${i + 1}.cpuprofile`), JSON.stringify(profiles[which][i]));
  }
  session.disconnect();
}
