/**
 * `flotilla demo`: a local 3-store cluster (three `flotilla serve` children on free 127.0.0.1
 * ports, data in a temporary directory) that keeps running until Ctrl-C, with the commands and
 * the client code to poke at it printed. `--workload` instead runs a mixed workload from a remote
 * client with a live progress line, SIGKILLs the store leading most groups and restarts it
 * midway, verifies every acknowledged write and shuts down.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../adapters/server/config.ts';
import { type DemoStore, demoServeArgs, freePorts, startStore, stopStore, waitListening } from './demo-cluster.ts';
import { workload } from './demo-workload.ts';

/** The flags of `flotilla demo`, described in `flotilla help demo`. */
interface DemoFlags {
  workload: boolean;
  seconds: number;
  data: string | undefined;
  logLevel: string;
}

function parseDemoFlags(argv: readonly string[]): DemoFlags {
  const flags: DemoFlags = { workload: false, seconds: 36, data: undefined, logLevel: 'warn' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`${arg.slice(2)}: ${arg} needs a value`);
      return v;
    };
    if (arg === '--workload') flags.workload = true;
    else if (arg === '--seconds') {
      flags.seconds = Number(value());
      if (!Number.isFinite(flags.seconds) || flags.seconds < 3) throw new ConfigError('seconds: --seconds must be a number of at least 3');
    } else if (arg === '--data') flags.data = value();
    else if (arg === '--log-level') flags.logLevel = value();
    else throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see flotilla help demo)`);
  }
  return flags;
}

const tty = () => process.stdout.isTTY === true;
const say = (line: string) => process.stdout.write(`${tty() ? '\r\x1b[K' : ''}${line}\n`);

/**
 * Runs `flotilla demo`.
 * @param argv - the arguments after `demo`.
 * @returns the exit code.
 */
export async function demo(argv: readonly string[]): Promise<number> {
  const flags = parseDemoFlags(argv);
  const dir = flags.data ?? mkdtempSync(join(tmpdir(), 'flotilla-demo-'));
  mkdirSync(dir, { recursive: true });
  // A fresh random secret, handed to the stores in their environment and to the user in a file.
  const secret = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, secret, { mode: 0o600 });
  const env = { FLOTILLA_SECRET: secret };
  const ports = await freePorts(6);
  const stores: DemoStore[] = [1, 2, 3].map((id) => ({ id, wsPort: ports[id - 1], httpPort: ports[id + 2], child: undefined as never, stdout: '', stderr: '', exited: Promise.resolve(0) }));
  const extra = ['--log-level', flags.logLevel, ...(flags.workload ? ['--tick-ms', '20', '--split-keys', '3000', '--store-down-ms', '5000', '--pd-interval-ms', '500'] : [])];
  const args = (s: DemoStore) => demoServeArgs(s.id, stores, dir, extra);
  for (const s of stores) startStore(s, args(s), env);
  const shutdown = async (signal: NodeJS.Signals) => {
    const codes = await Promise.all(stores.map((s) => stopStore(s, signal)));
    if (flags.data === undefined) rmSync(dir, { recursive: true, force: true });
    return codes;
  };
  try {
    say(`flotilla demo: 3 stores on 127.0.0.1:${stores.map((s) => s.wsPort).join(', ')} (data in ${dir})`);
    await Promise.all(stores.map((s) => waitListening(s)));
    if (flags.workload) return await workload(stores, secret, flags.seconds, env, args, shutdown);
    const endpoints = stores.map((s) => `127.0.0.1:${s.wsPort}`).join(',');
    say(`cluster ready. The secret is in ${secretFile}. Try, in another terminal:
  npx flotilla status --http 127.0.0.1:${stores[0].httpPort}
  npx flotilla regions --endpoints ${endpoints} --secret-file ${secretFile}
or from code:
  import { readFileSync } from 'node:fs';
  import { connect } from 'flotilla/client';
  const kv = await connect({ endpoints: ${JSON.stringify(stores.map((s) => `ws://127.0.0.1:${s.wsPort}`))}, secret: readFileSync(${JSON.stringify(secretFile)}, 'utf8') });
  await kv.put('hello', 'world');
  console.log(new TextDecoder().decode(await kv.get('hello')));
  kv.close();
Kill a store (kill -9 ${stores.map((s) => s.child.pid).join(' or ')}) and the others keep serving. Ctrl-C stops the demo.`);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    say(`${signal}: stopping the stores`);
    await shutdown('SIGTERM');
    return 0;
  } catch (e) {
    say(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    await shutdown('SIGKILL');
    return 1;
  }
}
