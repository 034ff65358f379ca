/**
 * The `flotilla` command: `serve` runs a store; `status` prints a store's status page; the admin
 * subcommands (`regions`, `stores`, `split`, `transfer-leader`, `add-replica`, `remove-replica`,
 * `remove-store`, `rejoin-store`) mirror `client.admin` over a remote client; `demo` starts a local
 * 3-store cluster; `help <command>` lists a command's flags. Installed, it runs compiled through
 * `bin/flotilla.mjs` (Node, Deno, Bun); in a checkout from the sources (`npx tsx bin/cli.ts`,
 * `deno run -A bin/cli.ts`).
 */
import { readFileSync } from 'node:fs';
import { ConfigError, parseFlags } from '../adapters/server/config.ts';
import { httpsJson } from '../adapters/server/tls-files.ts';
import { AUTH_COMMANDS, authCommand, connectFromFlags, dialTls } from './auth-cli.ts';
import { backupCommand, restoreCommand } from './backup-cli.ts';
import { FlotillaError } from '../src/errors.ts';
import { demo } from './demo.ts';
import { RECOVERY_COMMANDS, recoveryCommand } from './recovery-cli.ts';
import { COMMAND_HELP } from './help.ts';
import { serve, warnIfSecretFileOpen } from './serve.ts';

const USAGE = `usage: flotilla <command> [flags]

  serve                 run a store (flotilla help serve; docs/operations.md)
     --id N --listen host:port --peers 1=host:port,2=host:port,... | --join host:port
     --initial-cluster-state new|existing|auto (empty data dir: bootstrap, never, after asking the peers;
       never when a peer knew this store: it lost its data)
     --peer-probe-ms N (auto: how long to wait for a peer)
     --data DIR [--engine lmdb|fs] --secret-file FILE (or FLOTILLA_SECRET) --cluster NAME --http host:port --config FILE.json
     --cert FILE --key FILE --ca FILE --peer-client-cert-auth --peer-cert FILE --peer-key FILE (TLS: docs/tls.md)
     --no-pd --replicas N --split-keys N --split-bytes N --initial-split-keys k1,k2
     --tick-ms N --election-tick N --heartbeat-tick N --store-down-ms N --pd-interval-ms N --log-level L
     --handshake-timeout-ms N --link-idle-timeout-ms N --unauthenticated-per-address-max N --unauthenticated-max N
     --auth-failures-max N --auth-failure-window-ms N --auth-ban-ms N
     --http-headers-timeout-ms N --http-request-timeout-ms N (docs/hardening.md)
     --requests-in-flight-max N --requests-in-flight-bytes-max N --latency-target-ms N (docs/overload.md)
  status --http host:port                       a store's regions (GET /status)
  regions | stores                              the cluster's regions / stores
  split --region ID [--key K]                   split a region (at K, else its middle key)
  transfer-leader --region ID --to STORE        move a region's leadership
  add-replica --region ID --store STORE         add a replica (learner, then voter)
  remove-replica --region ID --store STORE      remove a replica
  remove-store --store STORE                    drain a store (PD moves its replicas away)
  pd members [--json]                           PD's own replicas: store, peer, role, leader, applied, up
  rejoin-store --store STORE                    bring back a store that lost its data (docs/store-identity.md):
                                                replace each of its replicas with a new one that catches up
  check [--region ID] [--wait-ms N] [--json]    compare every replica's data at one log index (exit 1: divergent)
  recover --unsafe --lost 2,3                   bring regions whose majority is lost for good back from the
                                                survivors; may lose acknowledged writes (docs/disaster-recovery.md)
  backup --to DIR [--fence-timeout-ms N]       a consistent snapshot of the whole cluster while it serves (docs/backup.md)
  restore --from DIR --data D1,D2,... --cluster NEW [--ids 1,2,...] [--replicas N] [--no-pd]
                                                build the data directories of a new cluster from a backup
  user add|remove|passwd|grant|revoke|list|get [NAME] [ROLE]   accounts (docs/auth.md)
  role add|remove|grant|revoke|list|get [NAME] [read|write|readwrite|admin] [--prefix P | --from A --to B]
  auth enable|disable|status|token              the auth switch; token: print a login token of --user
  admin flags: --endpoints host:port,... --secret-file FILE (or FLOTILLA_SECRET) --cluster NAME
               --user NAME (password: FLOTILLA_PASSWORD, --password-file FILE or a prompt)
               --ca FILE [--cert FILE --key FILE] (wss:// and https://)
  demo [--workload] [--seconds N] [--data DIR]  a local 3-store cluster to try the client on
  help [command]                                every flag of a command (also: flotilla <command> --help)
`;

async function status(flags: Record<string, unknown>): Promise<number> {
  if (typeof flags.http !== 'string') throw new ConfigError('http: --http host:port is required');
  const tls = await dialTls(flags);
  // With auth enabled /status wants an admin's token (flotilla auth token --user root).
  const token = process.env.FLOTILLA_TOKEN ?? (typeof flags.tokenFile === 'string' ? readFileSync(flags.tokenFile, 'utf8').trim() : undefined);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let s: { storeId: number; url: string; regions: Array<Record<string, unknown>> };
  if (tls === undefined) {
    const res = await fetch(`http://${flags.http}/status`, { headers });
    if (!res.ok) throw new Error(`GET /status answered ${res.status}: ${(await res.text()).trim()}`);
    s = (await res.json()) as typeof s;
  } else {
    s = (await httpsJson(`https://${flags.http}/status`, tls, headers)) as typeof s;
  }
  if (flags.json !== undefined) {
    console.log(JSON.stringify(s, null, 2));
    return 0;
  }
  console.log(`store ${s.storeId} at ${s.url}`);
  console.log('region  range                 epoch   role       term  leader  commit  applied');
  for (const r of s.regions) {
    const range = `[${r.startKey}, ${r.endKey === '' ? '+inf' : r.endKey})`;
    const e = r.epoch as { confVer: number; version: number };
    const id = r.id === Number.MAX_SAFE_INTEGER ? 'pd' : String(r.id);
    console.log(`${id.padEnd(7)} ${range.padEnd(21)} ${`${e.confVer}.${e.version}`.padEnd(7)} ${String(r.role).padEnd(10)} ${String(r.term).padEnd(5)} ${String(r.leaderStoreId).padEnd(7)} ${String(r.commit).padEnd(7)} ${r.applied}`);
  }
  return 0;
}

function num(flags: Record<string, unknown>, name: string): number {
  const v = Number(flags[name]);
  if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`${name}: --${name} must be a positive integer`);
  return v;
}

async function admin(command: string, flags: Record<string, unknown>): Promise<number> {
  const client = await connectFromFlags(flags);
  const show = (v: unknown) => console.log(JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? new TextDecoder().decode(x) : x), 2));
  try {
    switch (command) {
      case 'regions':
        show(await client.admin.regions());
        break;
      case 'stores':
        show((await client.admin.stores()).map((s) => ({ ...s, url: client.stores().find((a) => a.id === s.id)?.url })));
        break;
      case 'split':
        show(await client.admin.splitRegion(num(flags, 'region'), typeof flags.key === 'string' ? flags.key : undefined));
        break;
      case 'transfer-leader':
        await client.admin.transferLeader(num(flags, 'region'), num(flags, 'to'));
        console.log('done');
        break;
      case 'add-replica':
        show(await client.admin.addReplica(num(flags, 'region'), num(flags, 'store')));
        break;
      case 'remove-replica':
        show(await client.admin.removeReplica(num(flags, 'region'), num(flags, 'store')));
        break;
      case 'rejoin-store': {
        const store = num(flags, 'store');
        const regions = await client.admin.rejoinStore(store);
        console.log(`store ${store} rejoined: ${regions.length} replica(s) replaced by new ones that caught up (${regions.map((r) => r.id).join(', ') || 'none hosted'})`);
        break;
      }
      case 'remove-store': {
        const store = num(flags, 'store');
        await client.setStoreState(store, 'offline');
        console.log(`store ${store} is being drained: PD moves its replicas away (watch flotilla stores)`);
        break;
      }
    }
  } finally {
    client.close();
  }
  return 0;
}

/** `flotilla pd members`: PD's group as its leader reports it. */
async function pdCommand(words: readonly string[], flags: Record<string, unknown>): Promise<number> {
  if (words[0] !== 'members') throw new ConfigError(`pd: unknown subcommand ${JSON.stringify(words[0] ?? '')} (flotilla pd members)`);
  const client = await connectFromFlags(flags);
  try {
    const m = await client.admin.pdMembers();
    if (flags.json !== undefined) {
      console.log(JSON.stringify(m, null, 2));
      return 0;
    }
    console.log(`PD leader: store ${m.leaderStoreId}, commit index ${m.commitIndex}`);
    console.log('store  peer               role     leader  applied  state');
    for (const x of m.members) {
      console.log(`${String(x.storeId).padEnd(6)} ${String(x.peerId).padEnd(18)} ${x.role.padEnd(8)} ${(x.leader ? 'yes' : '').padEnd(7)} ${String(x.appliedIndex).padEnd(8)} ${x.up ? 'up' : 'down'}`);
    }
    return 0;
  } finally {
    client.close();
  }
}

function help(command: string): number {
  const text = COMMAND_HELP[command];
  if (text === undefined) {
    process.stderr.write(`flotilla: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  process.stdout.write(`${text}\n`);
  return 0;
}

/**
 * Runs the command line.
 * @param argv - the arguments after the program name.
 * @returns the exit code, or -1 while a server keeps running.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'help' && rest.length > 0) return help(rest[0]);
    if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) return help(command);
    if (command === 'demo') return await demo(rest);
    if (command === 'serve') return await serve(rest);
    if (command === 'status') return await status(parseFlags(rest));
    if (['regions', 'stores', 'split', 'transfer-leader', 'add-replica', 'remove-replica', 'remove-store', 'rejoin-store'].includes(command)) return await admin(command, parseFlags(rest));
    if (RECOVERY_COMMANDS.includes(command)) return await recoveryCommand(command, rest);
    if (command === 'pd') {
      const firstFlag = rest.findIndex((a) => a.startsWith('--'));
      return await pdCommand(firstFlag < 0 ? rest : rest.slice(0, firstFlag), parseFlags(firstFlag < 0 ? [] : rest.slice(firstFlag)));
    }
    if (command === 'backup') return await backupCommand(parseFlags(rest));
    if (command === 'restore') return await restoreCommand(parseFlags(rest));
    if (AUTH_COMMANDS.includes(command)) {
      // Positional words (sub-command, names, permission) come before the flags.
      const firstFlag = rest.findIndex((a) => a.startsWith('--'));
      const words = firstFlag < 0 ? rest : rest.slice(0, firstFlag);
      return await authCommand(command, words, parseFlags(firstFlag < 0 ? [] : rest.slice(firstFlag)));
    }
    if (command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(`${USAGE}\n${Object.values(COMMAND_HELP).join('\n\n')}\n`);
      return 0;
    }
    process.stderr.write(command === undefined ? USAGE : `flotilla: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return command === undefined ? 0 : 2;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`flotilla: invalid configuration: ${e.message}\n`);
      return 2;
    }
    const detail = e instanceof FlotillaError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    process.stderr.write(`flotilla: ${command}: ${detail}\n`);
    return 1;
  }
}

const deno = (globalThis as { Deno?: { args: string[]; exit(code: number): never }; process?: unknown }).Deno;
// Run from the sources (tsx, deno run). Installed, bin/flotilla.mjs imports the compiled module and calls main.
const isMain = deno ? (import.meta as { main?: boolean }).main : process.argv[1]?.endsWith('cli.ts');
if (isMain) {
  const code = await main(deno ? deno.args : process.argv.slice(2));
  if (code >= 0) process.exit(code);
}
