/**
 * The three store processes of `flotilla demo`: children of this very command (the same runtime,
 * the same launcher, so an installed package needs nothing else), on free loopback ports, with
 * data under one directory and the cluster secret passed in the environment, never in argv.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

/** One `flotilla serve` child of the demo. */
export interface DemoStore {
  readonly id: number;
  readonly wsPort: number;
  readonly httpPort: number;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | string>;
}

/** Finds `n` distinct free TCP ports on 127.0.0.1 (the OS picks them). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** The command that runs this CLI again: under Node the same script and loader flags, under Deno `deno run -A` of the main module. */
function selfCommand(): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string; mainModule: string } }).Deno;
  if (deno) return [deno.execPath(), ['run', '-A', '--quiet', deno.mainModule]];
  return [process.execPath, [...process.execArgv, process.argv[1]]];
}

/**
 * Starts (or restarts) `store` as `flotilla serve` with `args`.
 * @param store - the store; its child, output and exit promise are replaced.
 * @param args - the command line after `flotilla`.
 * @param env - extra environment (the secret).
 */
export function startStore(store: DemoStore, args: string[], env: Record<string, string>): void {
  const [cmd, pre] = selfCommand();
  const child = spawn(cmd, [...pre, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  store.child = child;
  store.stdout = '';
  store.stderr = '';
  child.stdout?.on('data', (d) => {
    store.stdout += d;
  });
  child.stderr?.on('data', (d) => {
    // Keep only the tail: a long demo logs a lot.
    store.stderr = (store.stderr + d).slice(-8000);
  });
  store.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** The `serve` flags of store `id` in a cluster of `stores`. */
export function demoServeArgs(id: number, stores: readonly DemoStore[], dataDir: string, extra: readonly string[]): string[] {
  const peers = stores.map((s) => `${s.id}=127.0.0.1:${s.wsPort}`).join(',');
  const self = stores[id - 1];
  return ['serve', '--id', String(id), '--listen', `127.0.0.1:${self.wsPort}`, '--peers', peers, '--data', join(dataDir, `store-${id}`), '--http', `127.0.0.1:${self.httpPort}`, ...extra];
}

/**
 * Resolves once `store` printed that it listens; rejects if it exits first or takes longer than
 * `timeoutMs`. Takes any started store process (the demo's, or the test scripts' `StoreProcess`).
 */
export async function waitListening(store: Pick<DemoStore, 'id' | 'stdout' | 'stderr' | 'exited'>, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  void store.exited.then(() => {
    exited = true;
  });
  while (!/listening on/.test(store.stdout)) {
    if (exited) throw new Error(`store ${store.id} exited before listening: ${store.stderr.slice(-2000)}`);
    if (performance.now() > deadline) throw new Error(`store ${store.id} did not listen within ${timeoutMs} ms: ${store.stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends `signal` to the store (if it runs) and waits for it to exit. */
export async function stopStore(store: DemoStore, signal: NodeJS.Signals): Promise<number | string> {
  if (store.child.exitCode === null && store.child.signalCode === null) store.child.kill(signal);
  return store.exited;
}
