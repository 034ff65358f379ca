/**
 * Accounts end to end on a 4-store cluster of `flotilla serve` processes (PD on stores 1-3, store 4
 * outside PD's group): bootstrap through the CLI with the cluster secret, then user clients that
 * hold no secret. Refused: no credentials, a wrong password, an expired token, a forged token, a
 * read-only role writing, a user without the range, a user posing as a store; allowed: the right
 * role; a user's link carrying Raft, PD or snapshot items has them dropped. Revocation takes effect without waiting for token expiry; a restarted store enforces the
 * rules it kept before it reaches PD; /status needs an admin's token once auth is enabled.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createPasswordCredentials } from '../../adapters/client/credentials.ts';
import { createClientIdentity } from '../../adapters/client/remote-caller.ts';
import { openRemoteLink } from '../../adapters/client/remote-link.ts';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import { runLink, type WebSocketConstructor, type WebSocketLike } from '../../adapters/transport/websocket-link.ts';
import { encodeFrame } from '../../src/codec/frame.ts';
import { resolveFrameLimits } from '../../src/codec/limits.ts';
import { createUserClientHandshake } from '../../src/auth/user-handshake.ts';
import { makeVerifier } from '../../src/auth/scram.ts';
import type { UserCredentials } from '../../src/auth/user-handshake.ts';
import { PermissionDeniedError } from '../../src/errors.ts';
import { SECRET, startCluster, type TestCluster } from './helpers.ts';

const WS = WebSocket as unknown as WebSocketConstructor;
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 }; // test users only; the CLI uses the default cost
const ROOT_PASSWORD = 'root password for the test';
const TTL_MS = 5000;
const enc = (s: string) => new TextEncoder().encode(s);
const prefix = (p: string) => {
  const end = enc(p);
  end[end.length - 1]++;
  return { start: enc(p), end };
};

let cluster: TestCluster;
let admin: RemoteKvClient;
const clients: RemoteKvClient[] = [];

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../bin/cli.ts'), ...args, '--endpoints', `127.0.0.1:${cluster.ports[0]}`], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

async function user(name: string, password: string, endpoints = [1, 2, 3, 4]): Promise<RemoteKvClient> {
  const c = await connect({ endpoints: endpoints.map((id) => cluster.endpoint(id)), user: name, password, WebSocket: WS });
  clients.push(c);
  return c;
}

/** Opens one link to store `id` presenting exactly `token` (no password to fall back on). */
async function tokenLogin(id: number, name: string, token: string, localId?: number): Promise<string> {
  const identity = await createClientIdentity('flotilla');
  const credentials: UserCredentials = {
    user: name,
    token: () => token,
    saltedPassword: () => Promise.reject(new Error('no password here')),
    issued: () => undefined,
    tokenRefused: () => undefined,
  };
  try {
    const link = await openRemoteLink({ url: cluster.endpoint(id), identity: { ...identity, localId: localId ?? identity.localId }, credentials, WebSocket: WS });
    link.close();
    return 'accepted';
  } catch (e) {
    return String(e);
  }
}

async function denied(p: Promise<unknown>): Promise<PermissionDeniedError> {
  const e = await p.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeInstanceOf(PermissionDeniedError);
  return e as PermissionDeniedError;
}

beforeAll(async () => {
  // Every client here, honest or not, dials from 127.0.0.1: raise the failed-login back-off
  // (docs/hardening.md) out of the way, or the refusals tested below would lock out the rest.
  cluster = await startCluster(4, [], ['--token-ttl-ms', String(TTL_MS), '--auth-failures-max', '1000']);
  admin = await connect({ endpoints: [cluster.endpoint(1)], secret: SECRET, WebSocket: WS });
  // PD's group must have a leader before accounts can be written.
  await until('a PD leader', () => admin.changeAuth({ op: 'roleAdd', name: 'probe' }));
  const root = await cli(['user', 'add', 'root'], { FLOTILLA_SECRET: SECRET, FLOTILLA_NEW_PASSWORD: ROOT_PASSWORD });
  expect(root.code, root.err).toBe(0);
  expect(root.out).toMatch(/done \(auth revision \d+\)/);
  const v = (p: string, n: number) => makeVerifier(p, new Uint8Array(16).fill(n), FAST_SCRYPT);
  for (const change of [
    { op: 'roleAdd', name: 'reader' },
    { op: 'roleGrant', name: 'reader', permission: { kind: 'read', ...prefix('app/') } },
    { op: 'roleAdd', name: 'writer' },
    { op: 'roleGrant', name: 'writer', permission: { kind: 'readwrite', ...prefix('app/') } },
    { op: 'userAdd', name: 'alice', verifier: await v('alice password', 1) },
    { op: 'userGrant', name: 'alice', role: 'reader' },
    { op: 'userAdd', name: 'bob', verifier: await v('bob password', 2) },
    { op: 'userGrant', name: 'bob', role: 'writer' },
    { op: 'userAdd', name: 'carol', verifier: await v('carol password', 3) },
  ] as const) {
    await admin.changeAuth(change);
  }
  const enabled = await cli(['auth', 'enable'], { FLOTILLA_SECRET: SECRET });
  expect(enabled.code, enabled.err).toBe(0);
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.close();
  admin?.close();
  await cluster?.close();
});

describe('accounts on a 4-store cluster', () => {
  it('refuses a client without credentials, a wrong password and an unknown user', async () => {
    await expect(connect({ endpoints: [cluster.endpoint(1)], WebSocket: WS } as never)).rejects.toThrow(/secret or a user/);
    await expect(user('alice', 'not her password')).rejects.toThrow(/permission denied: login.*BadCredentials/);
    await expect(user('mallory', 'alice password')).rejects.toThrow(/BadCredentials/);
    // A raw socket that skips the handshake gets no answer to its frame, only a close.
    const closed = await new Promise<number>((resolve) => {
      const ws = new WebSocket(cluster.endpoint(2));
      ws.on('open', () => ws.send(Buffer.from([0xc1, 4, 1, 2, 3])));
      ws.on('close', (code) => resolve(code));
    });
    expect(closed).toBe(4001);
  });

  it('lets the right role in, keeps a read-only user from writing and a user from keys outside its range', async () => {
    const bob = await user('bob', 'bob password');
    const alice = await user('alice', 'alice password');
    const carol = await user('carol', 'carol password');
    await bob.put('app/1', 'one');
    expect(new TextDecoder().decode((await alice.get('app/1'))!)).toBe('one');
    const e = await denied(alice.put('app/secret-key-name', 'x'));
    expect(['put', 'batchPut']).toContain(e.operation); // single puts are batched
    expect(e.message).not.toContain('secret-key-name');
    await denied(bob.put('other/1', 'x'));
    await denied(carol.get('app/1'));
    // All or nothing: one forbidden key refuses the whole batch, nothing is written.
    await denied(bob.putAll([{ key: 'app/2', value: 'two' }, { key: 'zzz', value: 'no' }]));
    expect(await alice.get('app/2')).toBeNull();
    // Admin needs admin.
    await denied(bob.admin.splitRegion(1, 'app/5'));
    await denied(bob.changeAuth({ op: 'roleAdd', name: 'mine' }));
  });

  it('refuses an expired token, a forged one, and a user posing as a store', async () => {
    const bob = await user('bob', 'bob password');
    await bob.put('app/t', 'x');
    const token = bob.token()!;
    expect(await tokenLogin(4, 'bob', token)).toBe('accepted'); // store 4 is outside PD's group
    expect(await tokenLogin(1, 'bob', token, 99)).toMatch(/BadCredentials.*client id/);
    const [body, tag] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const altered = Buffer.from(JSON.stringify({ ...claims, u: 'root' })).toString('base64url');
    expect(await tokenLogin(2, 'root', `${altered}.${tag}`)).toMatch(/BadCredentials.*bad token signature/);
    const far = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600_000 })).toString('base64url');
    expect(await tokenLogin(3, 'bob', `${far}.${tag}`)).toMatch(/BadCredentials.*bad token signature/);
    await until('the token to expire', async () => (Date.now() > claims.exp + 100 ? true : undefined), TTL_MS + 10_000);
    expect(await tokenLogin(1, 'bob', token)).toMatch(/BadCredentials.*expired/);
    // The client itself logged in again before expiry, by itself.
    await bob.put('app/t', 'after expiry');
    expect(bob.token()).not.toBe(token);
  });

  it('revocation takes effect without waiting for tokens to expire: at once on PD\'s leader, within a heartbeat round elsewhere', async () => {
    const bob = await user('bob', 'bob password');
    const alice = await user('alice', 'alice password');
    await bob.put('app/r', 'x');
    await admin.changeAuth({ op: 'roleRevoke', name: 'writer', permission: { kind: 'readwrite', ...prefix('app/') } });
    // The outcome other than PermissionDenied is thrown, so a timeout names it.
    const refused = (p: Promise<unknown>) =>
      p.then(
        () => {
          throw new Error('allowed');
        },
        (e) => {
          if (e instanceof PermissionDeniedError) return true;
          throw e;
        },
      );
    await until('bob to lose write', () => refused(bob.put('app/r', 'y')));
    await admin.changeAuth({ op: 'userRemove', name: 'alice' });
    await until('alice to be gone', () => refused(alice.get('app/1')));
    // PD's leader refuses her at once; a store outside PD's group (store 4) within a heartbeat
    // round (docs/auth.md, "Revocation"): ask each store on its own, so a lagging one is not
    // mistaken for a refusal by another.
    for (const id of [1, 2, 3, 4]) await until(`store ${id} to refuse alice's login`, () => refused(user('alice', 'alice password', [id])));
    await admin.changeAuth({ op: 'roleGrant', name: 'writer', permission: { kind: 'readwrite', ...prefix('app/') } });
    // Stores outside PD's group learn the new revision within a heartbeat round: the tests below
    // start once every store bob may reach has it again.
    await until('bob to write again', () => bob.put('app/r', 'z').then(() => true));
  });

  it('/status and /metrics need an admin token; /health stays open', async () => {
    const http = `http://127.0.0.1:${cluster.httpPorts[3]}`;
    expect((await fetch(`${http}/health`)).status).toBe(200);
    expect((await fetch(`${http}/status`)).status).toBe(401);
    const bob = await user('bob', 'bob password');
    await bob.get('app/1');
    expect((await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${bob.token()}` } })).status).toBe(403);
    const tok = await cli(['auth', 'token', '--user', 'root'], { FLOTILLA_PASSWORD: ROOT_PASSWORD });
    expect(tok.code, tok.err).toBe(0);
    const res = await fetch(`${http}/status`, { headers: { authorization: `Bearer ${tok.out.trim()}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { storeId: number }).storeId).toBe(4);
  });

  it('a user cannot pose as a store: Raft, PD and snapshot items on its link are dropped', async () => {
    const tok = await cli(['auth', 'token', '--user', 'root'], { FLOTILLA_PASSWORD: ROOT_PASSWORD });
    const metric = async () => {
      const text = await (await fetch(`http://127.0.0.1:${cluster.httpPorts[0]}/metrics`, { headers: { authorization: `Bearer ${tok.out.trim()}` } })).text();
      return Number(/flotilla_server_raft_from_clients_total\{[^}]*\} (\d+)/.exec(text)?.[1]);
    };
    const before = await metric();
    const identity = await createClientIdentity('flotilla');
    const socket = new WebSocket(cluster.endpoint(1)) as unknown as WebSocketLike;
    const storeId = await new Promise<number>((resolve, reject) => {
      runLink(socket, createUserClientHandshake(identity, createPasswordCredentials('bob', 'bob password'), 1), 10_000, {
        authenticated: (peerId) => {
          resolve(peerId);
          return true;
        },
        frame: () => undefined,
        control: () => undefined,
        refused: (code, reason) => reject(new Error(`${code}: ${reason}`)),
        closed: () => undefined,
      });
    });
    // A vote request for region 1 from "peer 1", a PD heartbeat and a snapshot chunk.
    const vote = { type: 'MsgVote', from: 1, to: 2, term: 1_000_000, logTerm: 1_000_000, index: 1_000_000, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, context: new Uint8Array(0) };
    const items = [
      { kind: 'raft', regionId: 1, message: vote },
      { kind: 'request', requestId: 0, payload: new Uint8Array([0x80]) },
      { kind: 'chunk', streamId: 1, seq: 0, total: 2, payload: new Uint8Array(8) },
    ] as const;
    socket.send(encodeFrame({ clusterId: 'flotilla', from: identity.localId, to: storeId, items: items as never }, resolveFrameLimits()));
    await until('the items to be counted and dropped', async () => ((await metric()) >= before + 3 ? true : undefined));
    socket.close();
    // The cluster did not take the vote request for a real one: bob still writes.
    const bob = await user('bob', 'bob password');
    await bob.put('app/after-vote', 'ok');
  });

  it('a restarted store enforces the rules it kept before it reaches PD', async () => {
    const bob = await user('bob', 'bob password');
    await bob.put('app/k', 'v');
    for (const id of [1, 2, 3, 4]) await cluster.kill(id);
    // Store 4 alone: no PD, no quorum, only the table it kept on disk.
    await cluster.restart(4);
    const identity = await createClientIdentity('flotilla');
    const link = await openRemoteLink({ url: cluster.endpoint(4), identity, credentials: createPasswordCredentials('bob', 'bob password'), WebSocket: WS });
    const write = (key: string) => link.call({ t: 'kv', r: { type: 'write', regionId: 1, epoch: { confVer: 1, version: 1 }, clientId: 'c', seq: 1, op: { type: 'put', key: enc(key), value: enc('v') } } }, 5000).then(
      () => 'ok',
      (e) => (e as { code?: string }).code ?? String(e),
    );
    expect(await write('other/1')).toBe('PermissionDenied');
    expect(await write('app/1')).not.toBe('PermissionDenied');
    link.close();
    // Alice was removed before the restart: the store remembers.
    const removed = await openRemoteLink({ url: cluster.endpoint(4), identity: await createClientIdentity('flotilla'), credentials: createPasswordCredentials('alice', 'alice password'), WebSocket: WS }).then(
      () => 'accepted',
      (e) => String(e),
    );
    expect(removed).toMatch(/BadCredentials/);
  });
});
