/**
 * `npm run soak:hostile [-- seconds]`: honest durable writes/s on a 3-store cluster of `flotilla
 * serve` processes (data directories, fast Raft timing) alone, then while bench/hostile-load.ts
 * (its own process) runs every hostile behaviour against all three stores, then alone again; prints
 * the three side by side and the ratio of the attacked phase to the mean of the quiet ones against
 * issue 16's target (at least 0.8). HOSTILE_PACE_MS (default 50) is the pause between one lane's
 * attacks; HOSTILE_NICE=0 does not nice the attacker.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RemoteKvClient } from '../adapters/client/remote.ts';
import { startCluster } from '../test/server/helpers.ts';
import { type BenchRow, formatTargets, printTable } from './table.ts';

const SECONDS = Number(process.argv[2] ?? 15);
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

const cluster = await startCluster(3);
let attacker: ReturnType<typeof spawn> | undefined;
try {
  const client = await cluster.client();
  // Warm up: elections, PD, the client's region cache.
  for (let i = 0; i < 50; i++) await client.put(`warm/${i}`, VALUE).catch(() => undefined);
  await measure(client, 3);
  console.log(`soak:hostile: ${SECONDS} s per phase, ${WRITERS} honest writers, 3 stores (ports ${cluster.ports.slice(0, 3).join(', ')})`);
  const quiet1 = await measure(client, SECONDS);
  console.log(`quiet: ${quiet1.perSecond.toFixed(0)} writes/s`);
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
  // Let the attack ramp up (sockets held to the caps) before measuring.
  await new Promise((r) => setTimeout(r, 3000));
  const attacked = await measure(client, SECONDS);
  console.log(`under attack: ${attacked.perSecond.toFixed(0)} writes/s`);
  const exited = new Promise((r) => attacker?.once('exit', r));
  attacker.kill('SIGTERM');
  await exited;
  attacker = undefined;
  console.log(`attack rounds: ${attackCounts.trim()}`);
  // Let the stores shed what the attacker held.
  await new Promise((r) => setTimeout(r, 6000));
  const quiet2 = await measure(client, SECONDS);
  console.log(`quiet again: ${quiet2.perSecond.toFixed(0)} writes/s`);
  const metrics = await (await fetch(`http://127.0.0.1:${cluster.httpPorts[0]}/metrics`)).text();
  console.log(
    'store 1 /metrics, listener lines:\n' +
      metrics
        .split('\n')
        .filter((l) => l.startsWith('flotilla_listener') || l.startsWith('flotilla_status_http'))
        .join('\n'),
  );
  const quiet = (quiet1.perSecond + quiet2.perSecond) / 2;
  const rows: BenchRow[] = [
    { group: 'hostile', name: 'honest durable writes, quiet (before)', value: quiet1.perSecond, unit: 'writes/s', note: `${WRITERS} writers, ${quiet1.errors} errors` },
    { group: 'hostile', name: 'honest durable writes, under attack', value: attacked.perSecond, unit: 'writes/s', note: `${attacked.errors} errors` },
    { group: 'hostile', name: 'honest durable writes, quiet (after)', value: quiet2.perSecond, unit: 'writes/s', note: `${quiet2.errors} errors` },
    { group: 'hostile', name: 'under attack / quiet', value: attacked.perSecond / quiet, unit: 'ratio', target: { label: 'issue 16 (≥80% of throughput under attack)', op: '>=', bound: 0.8 } },
  ];
  printTable('soak:hostile', rows);
  console.log(`\n${formatTargets(rows)}`);
  client.close();
} finally {
  attacker?.kill('SIGKILL');
  await cluster.close();
}
