/**
 * `npm run soak:hostile [-- seconds rounds]`: honest durable writes/s on a 3-store cluster of
 * `flotilla serve` processes (data directories, fast Raft timing) alone and while
 * bench/hostile-load.ts (its own process) runs every hostile behaviour against all three stores.
 * Quiet and attacked phases alternate (`rounds` of each, `seconds` long; the attacker is paused with
 * SIGSTOP in quiet phases), so that the load of other processes on a shared box drifts into both
 * alike. Prints both figures side by side, the stores' CPU time in each, and the ratio against
 * issue 16's target (at least 0.8). HOSTILE_PACE_MS (default 50) is the pause between one lane's
 * attacks; HOSTILE_NICE=0 does not nice the attacker; HOSTILE_CPU_PROF=DIR profiles store 1.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RemoteKvClient } from '../adapters/client/remote.ts';
import { stopProcess } from '../scripts/cluster-processes.ts';
import { startCluster } from '../test/server/helpers.ts';
import { type BenchRow, formatTargets, printTable } from './table.ts';

/** Seconds of each phase; quiet and attacked phases alternate ROUNDS times each. */
const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 6);
const WRITERS = 8;
const VALUE = 'v'.repeat(100);

/** Honest writers for `seconds`: completed writes per second, and errors seen. */
async function measure(client: RemoteKvClient, seconds: number): Promise<{ perSecond: number; errors: number }> {
  let done = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        try {
          await client.put(`honest/${w}/${i % 1000}`, VALUE);
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { perSecond: done / seconds, errors };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); 0 elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

// HOSTILE_CPU_PROF=DIR: store 1 runs under `node --cpu-prof` and writes its profile there on exit.
const profDir = process.env.HOSTILE_CPU_PROF;
const cluster = await startCluster(3, [], [], 0, (id) => (profDir !== undefined && id === 1 ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []));
const storesCpu = () => [...cluster.stores.values()].reduce((sum, p) => sum + cpuSeconds(p.child.pid), 0);
let attacker: ReturnType<typeof spawn> | undefined;
try {
  const client = await cluster.client();
  // Warm up: elections, PD, the client's region cache.
  for (let i = 0; i < 50; i++) await client.put(`warm/${i}`, VALUE).catch(() => undefined);
  await measure(client, 3);
  console.log(`soak:hostile: ${ROUNDS} x (${SECONDS} s quiet, ${SECONDS} s attacked), ${WRITERS} honest writers, 3 stores (ports ${cluster.ports.slice(0, 3).join(', ')})`);
  const load = fileURLToPath(new URL('./hostile-load.ts', import.meta.url));
  // The attacker runs niced: on a small shared box its own CPU (building requests, polling) would
  // otherwise be what slows the stores, not the work the stores do to refuse it.
  // HOSTILE_NICE=0 runs it at normal priority (then the ratio mostly measures the attacker's CPU).
  const attackArgs = ['--import', 'tsx', load, 'flotilla', cluster.ports.slice(0, 3).join(','), cluster.httpPorts.slice(0, 3).join(',')];
  const niced = process.env.HOSTILE_NICE !== '0';
  attacker = niced ? spawn('nice', ['-n', '19', process.execPath, ...attackArgs], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(process.execPath, attackArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  let attackCounts = '';
  attacker.stdout?.on('data', (d: Buffer) => {
    attackCounts += d.toString();
  });
  // Let the attack ramp up (sockets held to the caps), then pause it for the first quiet phase.
  await new Promise((r) => setTimeout(r, 3000));
  const quiet = { writes: 0, errors: 0, cpu: 0 };
  const attacked = { writes: 0, errors: 0, cpu: 0 };
  let attackerCpu = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const phase of [quiet, attacked]) {
      attacker.kill(phase === quiet ? 'SIGSTOP' : 'SIGCONT');
      const cpu0 = storesCpu();
      const a0 = cpuSeconds(attacker.pid);
      const m = await measure(client, SECONDS);
      phase.writes += m.perSecond * SECONDS;
      phase.errors += m.errors;
      phase.cpu += storesCpu() - cpu0;
      attackerCpu += cpuSeconds(attacker.pid) - a0;
      console.log(`round ${round + 1} ${phase === quiet ? 'quiet   ' : 'attacked'}: ${m.perSecond.toFixed(0)} writes/s`);
    }
  }
  const exited = new Promise((r) => attacker?.once('exit', r));
  attacker.kill('SIGCONT');
  attacker.kill('SIGTERM');
  await exited;
  attacker = undefined;
  console.log(`attack rounds: ${attackCounts.trim()}`);
  const metrics = await (await fetch(`http://127.0.0.1:${cluster.httpPorts[0]}/metrics`)).text();
  console.log(
    'store 1 /metrics, listener lines:\n' +
      metrics
        .split('\n')
        .filter((l) => l.startsWith('flotilla_listener') || l.startsWith('flotilla_status_http'))
        .join('\n'),
  );
  const seconds = ROUNDS * SECONDS;
  const rows: BenchRow[] = [
    { group: 'hostile', name: 'honest durable writes, quiet', value: quiet.writes / seconds, unit: 'writes/s', note: `${WRITERS} writers, ${quiet.errors} errors, stores ${quiet.cpu.toFixed(1)} CPU s` },
    { group: 'hostile', name: 'honest durable writes, under attack', value: attacked.writes / seconds, unit: 'writes/s', note: `${attacked.errors} errors, stores ${attacked.cpu.toFixed(1)} CPU s, attacker ${attackerCpu.toFixed(1)} CPU s (${niced ? 'nice 19' : 'not niced'})` },
    { group: 'hostile', name: 'under attack / quiet', value: attacked.writes / quiet.writes, unit: 'ratio', target: { label: 'issue 16 (≥80% of throughput under attack)', op: '>=', bound: 0.8 } },
  ];
  printTable('soak:hostile', rows);
  console.log(`\n${formatTargets(rows)}`);
  client.close();
} finally {
  attacker?.kill('SIGKILL');
  // A profile is written only on a clean exit.
  if (profDir !== undefined) await stopProcess(cluster.stores.get(1)!, 'SIGTERM');
  await cluster.close();
}
