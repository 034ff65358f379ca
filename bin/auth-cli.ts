/**
 * `flotilla user|role|auth ...`: accounts management over a remote client (docs/auth.md), and how
 * every client command logs in: `--user NAME` with the password from `FLOTILLA_PASSWORD`,
 * `--password-file FILE` or a prompt on the terminal; else the cluster secret. Passwords are never
 * taken from argv (visible to `ps`); a new password comes from `FLOTILLA_NEW_PASSWORD`,
 * `--new-password-file FILE` or a prompt (asked twice), and only its SCRAM verifier leaves this
 * process.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { connect, type ConnectOptions, type RemoteKvClient } from '../adapters/client/remote.ts';
import { ConfigError, readSecretFile, toWsUrl } from '../adapters/server/config.ts';
import { loadDialTls } from '../adapters/server/tls-files.ts';
import type { TlsDialMaterial } from '../adapters/transport/tls.ts';
import { warnIfSecretFileOpen } from './serve.ts';
import { DEFAULT_SCRYPT, makeVerifier, SALT_BYTES } from '../src/auth/scram.ts';
import { type AuthChange, nameSchema, type Permission, ROOT_ROLE, ROOT_USER } from '../src/auth/table.ts';

/** The commands this module runs. */
export const AUTH_COMMANDS = ['user', 'role', 'auth'];

/** Reads a line from the terminal without echoing it. */
async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new ConfigError(`password: no terminal to ask on; set the environment variable or pass the file flag (${question.trim()})`);
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput?: (s: string) => void; output: NodeJS.WritableStream };
  process.stderr.write(question);
  out._writeToOutput = () => undefined; // echo nothing while the password is typed
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

function fromFile(path: unknown): string | undefined {
  if (typeof path !== 'string') return undefined;
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
}

/** How a client command logs in: as `--user` (password from env, file or prompt), else with the cluster secret. */
export async function loginOptions(flags: Record<string, unknown>): Promise<Pick<ConnectOptions, 'secret' | 'user' | 'password'>> {
  if (typeof flags.user === 'string') {
    const password = process.env.FLOTILLA_PASSWORD ?? fromFile(flags.passwordFile) ?? (await prompt(`password of ${flags.user}: `));
    return { user: flags.user, password };
  }
  const secretFile = typeof flags.secretFile === 'string' ? flags.secretFile : undefined;
  if (secretFile !== undefined) await warnIfSecretFileOpen(secretFile, (m) => process.stderr.write(`flotilla: warning: ${m}\n`));
  const secret = secretFile !== undefined ? await readSecretFile(secretFile, (p) => readFile(p, 'utf8')) : (process.env.FLOTILLA_SECRET ?? '');
  if (secret.length < 16) throw new ConfigError('secret: --user NAME (password in FLOTILLA_PASSWORD, --password-file or a prompt), or the cluster secret in FLOTILLA_SECRET or --secret-file FILE (at least 16 characters), is required');
  return { secret };
}

/** `--ca`, `--cert`, `--key` of a client command: dial over TLS when any is given. */
export async function dialTls(flags: Record<string, unknown>): Promise<TlsDialMaterial | undefined> {
  const file = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  if (file('ca') === undefined && file('cert') === undefined) return undefined;
  return loadDialTls({ ca: file('ca'), cert: file('cert'), key: file('key') });
}

/** Connects a client for an admin command: over `wss://` with `--ca`, as `--user` or with the secret. */
export async function connectFromFlags(flags: Record<string, unknown>): Promise<RemoteKvClient> {
  const tls = await dialTls(flags);
  const endpoints = String(flags.endpoints ?? '127.0.0.1:7001')
    .split(',')
    .map((e) => toWsUrl(e, tls !== undefined));
  return connect({ endpoints, cluster: typeof flags.cluster === 'string' ? flags.cluster : undefined, tls, ...(await loginOptions(flags)) });
}

async function newPassword(flags: Record<string, unknown>, user: string): Promise<string> {
  let password = process.env.FLOTILLA_NEW_PASSWORD ?? fromFile(flags.newPasswordFile);
  if (password === undefined) {
    password = await prompt(`new password of ${user}: `);
    if ((await prompt(`again: `)) !== password) throw new ConfigError('password: the two entries differ');
  }
  if (password.length < 8) throw new ConfigError('password: at least 8 characters');
  return password;
}

async function verifierFor(flags: Record<string, unknown>, user: string) {
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return makeVerifier(await newPassword(flags, user), salt, DEFAULT_SCRYPT);
}

function name(value: string | undefined, what: string): string {
  if (value === undefined || !nameSchema.safeParse(value).success) throw new ConfigError(`${what}: give a ${what} name (letters, digits, _ . @ -; at most 64)`);
  return value;
}

/** `read|write|readwrite|admin` with `--prefix P`, `--from A [--to B]`, or neither (every key). */
function permission(kind: string | undefined, flags: Record<string, unknown>): Permission {
  if (kind !== 'read' && kind !== 'write' && kind !== 'readwrite' && kind !== 'admin') throw new ConfigError('permission: read, write, readwrite or admin');
  const enc = (s: unknown) => new TextEncoder().encode(typeof s === 'string' ? s : '');
  if (typeof flags.prefix === 'string') {
    const start = enc(flags.prefix);
    // The prefix's range ends at the next key that does not start with it (etcd's prefix end).
    let end = start.slice();
    while (end.length > 0 && end[end.length - 1] === 0xff) end = end.slice(0, -1);
    if (end.length > 0) end[end.length - 1]++;
    return { kind, start, end };
  }
  return { kind, start: enc(flags.from), end: enc(flags.to) };
}

/**
 * Runs `flotilla user|role|auth <sub> [args] [flags]`.
 * @param command - user, role or auth.
 * @param args - the positional arguments (sub-command first).
 * @param flags - the parsed flags.
 */
export async function authCommand(command: string, args: string[], flags: Record<string, unknown>): Promise<number> {
  const [sub, a, b] = args;
  const changes: AuthChange[] = [];
  let read: 'users' | 'user' | 'roles' | 'role' | 'status' | 'token' | undefined;
  if (command === 'user') {
    if (sub === 'add') {
      const user = name(a, 'user');
      changes.push({ op: 'userAdd', name: user, verifier: await verifierFor(flags, user) });
      // As in etcd, root is root: the user that `auth enable` requires comes with its role.
      if (user === ROOT_USER) changes.push({ op: 'userGrant', name: user, role: ROOT_ROLE });
      for (const role of String(flags.roles ?? '').split(',').filter((r) => r.length > 0)) changes.push({ op: 'userGrant', name: user, role: name(role, 'role') });
    } else if (sub === 'remove') changes.push({ op: 'userRemove', name: name(a, 'user') });
    else if (sub === 'passwd') changes.push({ op: 'userPasswd', name: name(a, 'user'), verifier: await verifierFor(flags, name(a, 'user')) });
    else if (sub === 'grant') changes.push({ op: 'userGrant', name: name(a, 'user'), role: name(b, 'role') });
    else if (sub === 'revoke') changes.push({ op: 'userRevoke', name: name(a, 'user'), role: name(b, 'role') });
    else if (sub === 'list') read = 'users';
    else if (sub === 'get') read = 'user';
    else throw new ConfigError('user: add, remove, passwd, grant, revoke, list or get');
  } else if (command === 'role') {
    if (sub === 'add') changes.push({ op: 'roleAdd', name: name(a, 'role') });
    else if (sub === 'remove') changes.push({ op: 'roleRemove', name: name(a, 'role') });
    else if (sub === 'grant') changes.push({ op: 'roleGrant', name: name(a, 'role'), permission: permission(b, flags) });
    else if (sub === 'revoke') changes.push({ op: 'roleRevoke', name: name(a, 'role'), permission: permission(b, flags) });
    else if (sub === 'list') read = 'roles';
    else if (sub === 'get') read = 'role';
    else throw new ConfigError('role: add, remove, grant, revoke, list or get');
  } else {
    if (sub === 'enable') changes.push({ op: 'enable' });
    else if (sub === 'disable') changes.push({ op: 'disable' });
    else if (sub === 'status') read = 'status';
    else if (sub === 'token') read = 'token';
    else throw new ConfigError('auth: enable, disable, status or token');
  }
  const client = await connectFromFlags(flags);
  const text = (x: unknown) => (x instanceof Uint8Array ? new TextDecoder().decode(x) : x);
  const show = (v: unknown) => console.log(JSON.stringify(v, (_, x) => text(x), 2));
  try {
    for (const c of changes) {
      const table = await client.changeAuth(c);
      if (c === changes[changes.length - 1]) console.log(`done (auth revision ${table.revision}${c.op === 'enable' ? ', auth enabled' : c.op === 'disable' ? ', auth disabled' : ''})`);
    }
    if (read === 'token') {
      // A login happens when the client dials its first store; a secret client has no token.
      const token = client.token();
      if (token === undefined) throw new ConfigError('token: log in with --user NAME to get a token');
      console.log(token);
    } else if (read !== undefined) {
      const t = await client.authTable();
      if (read === 'status') show({ enabled: t.enabled, revision: t.revision, users: t.users.length, roles: t.roles.length });
      if (read === 'users') show(t.users);
      if (read === 'roles') show(t.roles.map((r) => r.name));
      if (read === 'user') show(t.users.find((u) => u.name === name(a, 'user')) ?? null);
      if (read === 'role') show(t.roles.find((r) => r.name === name(a, 'role')) ?? null);
    }
  } finally {
    client.close();
  }
  return 0;
}
