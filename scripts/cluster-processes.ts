/**
 * Runs `flotilla serve` child processes on loopback from the sources (Node via tsx and bin/cli.ts, or Deno via
 * bin/cli.ts), for `npm run demo` and the multi-process tests: free ports, start, wait until a
 * store listens, SIGKILL or SIGTERM it, restart it with the same flags.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitListening as waitUntilListening } from '../bin/demo-cluster.ts';

const root = join(import.meta.dirname, '..');

/** Finds `n` distinct free TCP ports on 127.0.0.1 (the demo's helper, shared). */
export { freePorts } from '../bin/demo-cluster.ts';

/** A `flotilla serve` process and how to start it again. */
export interface StoreProcess {
  readonly id: number;
  readonly args: string[];
  /** `node` and `deno` run the sources (bin/cli.ts); `dist` runs the compiled CLI users run (`node bin/flotilla.mjs`, after `npm run build`). */
  readonly runtime: 'node' | 'deno' | 'dist';
  /** Flags for Node itself (before the script), e.g. `--cpu-prof`. */
  readonly nodeArgs: string[];
  child: ChildProcess;
  /** Everything the process wrote to stderr (its log) since it was last started. */
  stderr: string;
  stdout: string;
  /** Resolves with the exit code (or the signal) once the current process exits. */
  exited: Promise<number | string>;
}

/**
 * Spawns `flotilla <args>` (not waiting for it to listen).
 * @param runtime - `node` (`node --import tsx bin/cli.ts`), `deno` (`deno run -A bin/cli.ts`) or `dist` (`node bin/flotilla.mjs`: the compiled dist/).
 * @param args - the command line after `flotilla`.
 * @param env - extra environment.
 * @param nodeArgs - flags for Node itself (`--cpu-prof` is refused in NODE_OPTIONS); Node only.
 */
export function spawnFlotilla(runtime: 'node' | 'deno' | 'dist', args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): StoreProcess {
  const id = Number(args[args.indexOf('--id') + 1] ?? 0);
  const p: StoreProcess = { id, args, runtime, nodeArgs, child: undefined as unknown as ChildProcess, stderr: '', stdout: '', exited: Promise.resolve(0) };
  start(p, env);
  return p;
}

function start(p: StoreProcess, env: Record<string, string>): void {
  const child =
    p.runtime === 'node'
      ? spawn(process.execPath, [...p.nodeArgs, '--import', 'tsx', join(root, 'bin', 'cli.ts'), ...p.args], { cwd: root, env: { ...process.env, ...env } })
      : p.runtime === 'dist'
        ? spawn(process.execPath, [...p.nodeArgs, join(root, 'bin', 'flotilla.mjs'), ...p.args], { cwd: root, env: { ...process.env, ...env } })
        : spawn(join(root, 'node_modules', '.bin', 'deno'), ['run', '-A', '--quiet', join(root, 'bin', 'cli.ts'), ...p.args], { cwd: root, env: { ...process.env, ...env } });
  p.child = child;
  p.stderr = '';
  p.stdout = '';
  child.stderr?.on('data', (d) => {
    p.stderr += d;
  });
  child.stdout?.on('data', (d) => {
    p.stdout += d;
  });
  p.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/**
 * Resolves once the store printed that it listens; rejects if it exits first or takes too long.
 * @param p - the process.
 * @param timeoutMs - how long to wait (default 30 s; Deno's first start compiles).
 */
export function waitListening(p: StoreProcess, timeoutMs = 30_000): Promise<void> {
  return waitUntilListening(p, timeoutMs);
}

/** Kills the process with `signal` and waits for it to exit. */
export async function stopProcess(p: StoreProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | string> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p.exited;
}

/** Starts the process again with the same command line (after it exited). */
export function restartProcess(p: StoreProcess, env: Record<string, string> = {}): void {
  start(p, env);
}

/** The command-line flags of store `id` in a loopback cluster. */
export function serveArgs(id: number, ports: readonly number[], httpPorts: readonly number[], dataDir: string, extra: string[] = []): string[] {
  const peers = ports.map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
  // These stores make a new cluster: they say so (a store whose data is lost still bootstraps
  // nothing when a peer knew it: docs/store-identity.md).
  return ['serve', '--id', String(id), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peers', peers, '--data', join(dataDir, `store-${id}`), '--http', `127.0.0.1:${httpPorts[id - 1]}`, '--initial-cluster-state', 'new', ...extra];
}
