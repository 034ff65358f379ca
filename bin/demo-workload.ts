/**
 * `flotilla demo --workload`: a mixed workload (puts, gets checked against what was acknowledged,
 * scans, sequences) from a remote client against the demo's three stores, with a live progress
 * line (ops/s, p50/p99 latency, regions, leaders per store). A third of the way in, the store
 * leading most groups is SIGKILLed; two thirds in it restarts from its data directory. At the end
 * every acknowledged write is read back, and the stores are shut down with SIGTERM.
 */
import { connect } from '../adapters/client/remote.ts';
import type { StoreStatus } from '../adapters/server/http-status.ts';
import { type DemoStore, startStore, stopStore, waitListening } from './demo-cluster.ts';

const WORKERS = 8;
const tty = () => process.stdout.isTTY === true;
const say = (line: string) => process.stdout.write(`${tty() ? '\r\x1b[K' : ''}${line}\n`);

async function status(port: number): Promise<StoreStatus | undefined> {
  try {
    return (await (await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(500) })).json()) as StoreStatus;
  } catch {
    return undefined;
  }
}

const percentile = (xs: number[], q: number) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]);

/**
 * Runs the workload tour against running stores.
 * @param stores - the demo's stores, all listening.
 * @param secret - the cluster secret.
 * @param seconds - how long the workload runs.
 * @param env - the stores' environment (to restart the killed one).
 * @param args - a store's command line (to restart it).
 * @param shutdown - stops every store with a signal and cleans up.
 * @returns 0 when every acknowledged write was read back, else 1.
 */
export async function workload(
  stores: DemoStore[],
  secret: string,
  seconds: number,
  env: Record<string, string>,
  args: (s: DemoStore) => string[],
  shutdown: (signal: NodeJS.Signals) => Promise<Array<number | string>>,
): Promise<number> {
  const kv = await connect({ endpoints: stores.map((s) => `ws://127.0.0.1:${s.wsPort}`), secret });
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
  const leaders = async () => {
    const views = await Promise.all(stores.map((s) => status(s.httpPort)));
    const data = (s: StoreStatus | undefined) => s?.regions.filter((r) => r.id !== Number.MAX_SAFE_INTEGER) ?? [];
    const regions = new Set(views.flatMap((s) => data(s).map((r) => r.id))).size;
    const per = views.map((s, i) => `${i + 1}:${s ? data(s).filter((r) => r.role === 'leader').length : 'down'}`).join(' ');
    return { regions, per, views };
  };
  const t0 = performance.now();
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  let victim: DemoStore | undefined;
  let restarted = false;
  let lastOps = 0;
  let lastT = t0;
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = performance.now();
    const elapsed = (now - t0) / 1000;
    const window = latencies.splice(0);
    const { regions, per, views } = await leaders();
    const rate = Math.round(((ops - lastOps) * 1000) / (now - lastT));
    [lastOps, lastT] = [ops, now];
    const line = `t=${elapsed.toFixed(0).padStart(2)}s  ${String(rate).padStart(5)} ops/s  p50 ${percentile(window, 0.5).toFixed(1)} ms  p99 ${percentile(window, 0.99).toFixed(1)} ms  regions ${regions}  leaders ${per}  acked ${acked.size}  errors ${errors}`;
    process.stdout.write(tty() ? `\r\x1b[K${line}` : `${line}\n`);
    if (victim === undefined && elapsed >= seconds / 3) {
      const led = views.map((s) => s?.regions.filter((r) => r.role === 'leader').length ?? 0);
      victim = stores[led.indexOf(Math.max(...led))];
      say(`>>> SIGKILL store ${victim.id} (it leads ${Math.max(...led)} groups); the others elect new leaders and keep serving`);
      await stopStore(victim, 'SIGKILL');
    } else if (victim !== undefined && !restarted && elapsed >= (seconds * 2) / 3) {
      restarted = true;
      say(`>>> restarting store ${victim.id} from its data directory; it catches up`);
      startStore(victim, args(victim), env);
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
  say(`stores exited with ${(await shutdown('SIGTERM')).join(', ')}`);
  return missing === 0 ? 0 : 1;
}
