/**
 * `npm run demo`: a 3-store Flotilla cluster as three `flotilla serve` child processes on
 * 127.0.0.1 (free ports, data under a temp directory), a mixed workload from a remote client with
 * a live progress line (ops/s, p50/p99 latency, regions, leaders), one store SIGKILLed and
 * restarted midway, every acknowledged write verified at the end, then a clean shutdown.
 * About 50 seconds. `--seconds N` changes the workload's length.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../adapters/client/remote.ts';
import type { StoreStatus } from '../adapters/server/http-status.ts';
import { freePorts, restartProcess, serveArgs, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from './cluster-processes.ts';

const at = process.argv.indexOf('--seconds');
const SECONDS = at > 0 ? Number(process.argv[at + 1]) : 36;
const SECRET = 'flotilla demo secret, 32 bytes..';
const WORKERS = 8;
const tty = process.stdout.isTTY === true;
const say = (line: string) => process.stdout.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'flotilla-demo-'));
const ports = await freePorts(6);
const [wsPorts, httpPorts] = [ports.slice(0, 3), ports.slice(3)];
const env = { FLOTILLA_SECRET: SECRET };
const flags = ['--tick-ms', '20', '--split-keys', '3000', '--store-down-ms', '5000', '--pd-interval-ms', '500', '--log-level', 'warn'];
const stores = [1, 2, 3].map((id) => spawnFlotilla('node', serveArgs(id, wsPorts, httpPorts, dir, flags), env));
const cleanup = async () => {
  await Promise.all(stores.map((p) => stopProcess(p, 'SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  say(`flotilla demo: 3 stores on 127.0.0.1:${wsPorts.join(', ')} (data in ${dir})`);
  await Promise.all(stores.map((p) => waitListening(p, 60_000)));
  const kv = await connect({ endpoints: wsPorts.map((p) => `ws://127.0.0.1:${p}`), secret: SECRET });
  const latencies: number[] = [];
  const acked = new Map<string, string>();
  let ops = 0;
  let errors = 0;
  let running = true;
  const worker = async (w: number) => {
    let n = 0;
    while (running) {
      const t = performance.now();
      const r = Math.random();
      try {
        if (r < 0.5 || acked.size < 100) {
          const key = `user/${w}/${n++}`;
          const value = `v${n}-${Math.random().toString(36).slice(2, 10)}`;
          await kv.put(key, value);
          acked.set(key, value);
        } else if (r < 0.85) {
          const keys = [...acked.keys()];
          const key = keys[Math.floor(Math.random() * keys.length)];
          const got = await kv.get(key);
          if (got === null || new TextDecoder().decode(got) !== acked.get(key)) throw new Error(`read of ${key} gave a wrong value`);
        } else if (r < 0.95) {
          await kv.scan(`user/${w}/`, `user/${w}0`, { limit: 20 });
        } else {
          await kv.getSequence('demo/ids', 10);
        }
        ops++;
        latencies.push(performance.now() - t);
      } catch (e) {
        errors++;
        if (!(e instanceof Error) || !/OutcomeUnknown|Timeout/.test(e.name)) say(`  error: ${(e as Error).message}`);
      }
    }
  };
  const status = async (p: number): Promise<StoreStatus | undefined> => {
    try {
      return (await (await fetch(`http://127.0.0.1:${p}/status`, { signal: AbortSignal.timeout(500) })).json()) as StoreStatus;
    } catch {
      return undefined;
    }
  };
  const leaders = async () => {
    const views = await Promise.all(httpPorts.map(status));
    const data = (s: StoreStatus | undefined) => s?.regions.filter((r) => r.id !== Number.MAX_SAFE_INTEGER) ?? [];
    const regions = new Set(views.flatMap((s) => data(s).map((r) => r.id))).size;
    const per = views.map((s, i) => `${i + 1}:${s ? data(s).filter((r) => r.role === 'leader').length : 'down'}`).join(' ');
    return { regions, per };
  };
  const percentile = (xs: number[], q: number) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]);
  const t0 = performance.now();
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  let victim: StoreProcess | undefined;
  let lastOps = 0;
  let lastT = t0;
  while (performance.now() - t0 < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = performance.now();
    const elapsed = (now - t0) / 1000;
    const window = latencies.splice(0);
    const { regions, per } = await leaders();
    const rate = Math.round(((ops - lastOps) * 1000) / (now - lastT));
    [lastOps, lastT] = [ops, now];
    const line = `t=${elapsed.toFixed(0).padStart(2)}s  ${String(rate).padStart(5)} ops/s  p50 ${percentile(window, 0.5).toFixed(1)} ms  p99 ${percentile(window, 0.99).toFixed(1)} ms  regions ${regions}  leaders ${per}  acked ${acked.size}  errors ${errors}`;
    process.stdout.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    if (victim === undefined && elapsed >= SECONDS / 3) {
      const views = await Promise.all(httpPorts.map(status));
      const led = views.map((s) => s?.regions.filter((r) => r.role === 'leader').length ?? 0);
      victim = stores[led.indexOf(Math.max(...led))];
      say(`>>> SIGKILL store ${victim.id} (it leads ${Math.max(...led)} groups); the others elect new leaders and keep serving`);
      await stopProcess(victim, 'SIGKILL');
    } else if (victim !== undefined && victim.child.exitCode === null && victim.child.signalCode === 'SIGKILL' && elapsed >= (SECONDS * 2) / 3) {
      say(`>>> restarting store ${victim.id} from its data directory; it catches up`);
      restartProcess(victim, env);
      await waitListening(victim);
    }
  }
  running = false;
  await Promise.all(workers);
  say(`workload done: ${ops} operations, ${errors} errors; verifying ${acked.size} acknowledged writes...`);
  const keys = [...acked.keys()];
  let missing = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const got = await kv.multiGet(keys.slice(i, i + 500));
    for (const { key, value } of got) if (value === null || new TextDecoder().decode(value) !== acked.get(new TextDecoder().decode(key))) missing++;
  }
  kv.close();
  say(missing === 0 ? `every acknowledged write is there (${keys.length} keys)` : `LOST ${missing} acknowledged writes`);
  say('shutting down (SIGTERM)...');
  const codes = await Promise.all(stores.map((p) => stopProcess(p, 'SIGTERM')));
  say(`stores exited with ${codes.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(missing === 0 ? 0 : 1);
} catch (e) {
  say(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  await cleanup();
  process.exit(1);
}
