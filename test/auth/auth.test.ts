/**
 * The pure parts of accounts: table changes, permission checks, SCRAM, tokens, and the user login
 * of the handshake (both sides, message by message).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { AuthCache } from '../../src/auth/cache.ts';
import { createUserDirectory } from '../../src/auth/logins.ts';
import { authorize, requestNeeds } from '../../src/auth/permissions.ts';
import { checkClientProof, clientProof, makeVerifier, saltPassword } from '../../src/auth/scram.ts';
import { type AuthChange, type AuthTable, applyAuthChange, decodeAuthTable, EMPTY_AUTH_TABLE, encodeAuthTable, type PasswordVerifier } from '../../src/auth/table.ts';
import { CLOCK_SKEW_MS, deriveTokenKey, issueToken, verifyToken } from '../../src/auth/token.ts';
import { encodeUtf8 } from '../../src/codec/utf8.ts';
import type { StoreRequest } from '../../src/store/requests.ts';
import type { TxnOp } from '../../src/kv/txn.ts';
import { PermissionDeniedError } from '../../src/errors.ts';
import { CLIENT_ID_MIN } from '../../src/server/protocol.ts';
import { createNonceRegistry, createServerHandshake, type HandshakeStep } from '../../src/transport/handshake.ts';
import { importClusterSecret } from '../../src/transport/hmac.ts';
import { createUserClientHandshake, createUserLoginHandler, type UserCredentials } from '../../src/auth/user-handshake.ts';

const FAST = { N: 16, r: 1, p: 1 }; // test cost only: real verifiers use DEFAULT_SCRYPT
const salt = (n: number) => new Uint8Array(16).fill(n);
const k = (s: string) => encodeUtf8(s);
const verifiers = new Map<string, PasswordVerifier>();
async function verifier(password: string): Promise<PasswordVerifier> {
  let v = verifiers.get(password);
  if (!v) {
    v = await makeVerifier(password, salt(password.length), FAST);
    verifiers.set(password, v);
  }
  return v;
}

function apply(table: AuthTable, ...changes: AuthChange[]): AuthTable {
  for (const c of changes) {
    const r = applyAuthChange(table, c);
    if (!r.ok) throw r.error;
    table = r.table;
  }
  return table;
}

async function sampleTable(): Promise<AuthTable> {
  return apply(
    EMPTY_AUTH_TABLE,
    { op: 'userAdd', name: 'root', verifier: await verifier('root-password') },
    { op: 'userGrant', name: 'root', role: 'root' },
    { op: 'roleAdd', name: 'reader' },
    { op: 'roleGrant', name: 'reader', permission: { kind: 'read', start: k('app/'), end: k('app0') } },
    { op: 'roleAdd', name: 'writer' },
    { op: 'roleGrant', name: 'writer', permission: { kind: 'readwrite', start: k('app/'), end: k('app0') } },
    { op: 'userAdd', name: 'alice', verifier: await verifier('alice-password') },
    { op: 'userGrant', name: 'alice', role: 'reader' },
    { op: 'userAdd', name: 'bob', verifier: await verifier('bob-password') },
    { op: 'userGrant', name: 'bob', role: 'writer' },
    { op: 'userAdd', name: 'carol', verifier: await verifier('carol-password') },
    { op: 'enable' },
  );
}

const epoch = { confVer: 1, version: 1 };
const put = (key: string): StoreRequest => ({ type: 'write', regionId: 1, epoch, clientId: 'c', seq: 1, op: { type: 'put', key: k(key), value: k('v') } });
const get = (key: string): StoreRequest => ({ type: 'read', regionId: 1, epoch, consistency: 'linearizable', op: { type: 'get', key: k(key) } });
const scan = (start: string, end: string): StoreRequest => ({ type: 'read', regionId: 1, epoch, consistency: 'linearizable', op: { type: 'scan', start: k(start), end: k(end) } });

function denied(table: AuthTable, user: string, request: StoreRequest): string | undefined {
  const { operation, needs } = requestNeeds(request);
  try {
    authorize(table, user, operation, needs);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(PermissionDeniedError);
    return (e as Error).message;
  }
}

describe('auth table', () => {
  it('applies changes, raises the revision, and round-trips through its encoding', async () => {
    const t = await sampleTable();
    expect(t.revision).toBe(12);
    expect(t.enabled).toBe(true);
    expect(t.users.map((u) => u.name)).toEqual(['alice', 'bob', 'carol', 'root']);
    expect(decodeAuthTable(encodeAuthTable(t))).toEqual(t);
  });

  it('refuses changes that do not fit, changing nothing', async () => {
    const t = await sampleTable();
    const refusals: AuthChange[] = [
      { op: 'userAdd', name: 'alice', verifier: await verifier('x') },
      { op: 'userRemove', name: 'nobody' },
      { op: 'userRemove', name: 'root' },
      { op: 'userRevoke', name: 'root', role: 'root' },
      { op: 'userGrant', name: 'alice', role: 'no-such-role' },
      { op: 'roleAdd', name: 'root' },
      { op: 'roleRemove', name: 'root' },
      { op: 'roleRevoke', name: 'reader', permission: { kind: 'write', start: k('a'), end: k('b') } },
    ];
    for (const c of refusals) {
      const r = applyAuthChange(t, c);
      expect(r.ok, c.op).toBe(false);
    }
    const empty = applyAuthChange(EMPTY_AUTH_TABLE, { op: 'enable' });
    expect(empty.ok).toBe(false);
  });

  it('removing a role takes it from every user', async () => {
    const t = apply(await sampleTable(), { op: 'roleRemove', name: 'reader' });
    expect(t.users.find((u) => u.name === 'alice')?.roles).toEqual([]);
  });
});

describe('permissions', () => {
  it('a read-only role reads but cannot write; nobody writes outside its range', async () => {
    const t = await sampleTable();
    expect(denied(t, 'alice', get('app/1'))).toBeUndefined();
    expect(denied(t, 'alice', scan('app/', 'app/9'))).toBeUndefined();
    expect(denied(t, 'alice', put('app/1'))).toMatch(/^permission denied: put: user "alice" has no write permission/);
    expect(denied(t, 'bob', put('app/1'))).toBeUndefined();
    expect(denied(t, 'bob', put('other'))).toBeDefined();
    expect(denied(t, 'bob', scan('app/', ''))).toBeDefined(); // runs past app0
    expect(denied(t, 'root', put('anything'))).toBeUndefined();
  });

  it('a batch with one forbidden key is refused whole, and the error names no key', async () => {
    const t = await sampleTable();
    const batch: StoreRequest = { type: 'write', regionId: 1, epoch, clientId: 'c', seq: 1, op: { type: 'batchPut', entries: [{ key: k('app/ok'), value: k('1') }, { key: k('secret-key'), value: k('2') }] } };
    const message = denied(t, 'bob', batch);
    expect(message).toBeDefined();
    expect(message).not.toContain('secret-key');
    expect(message).toContain('batchPut');
  });

  it('a txn needs read on what it compares or gets and write on what it puts or deletes, in both branches', async () => {
    const t = apply(await sampleTable(), { op: 'roleAdd', name: 'split' }, { op: 'roleGrant', name: 'split', permission: { kind: 'read', start: k('app/'), end: k('app0') } }, { op: 'roleGrant', name: 'split', permission: { kind: 'write', start: k('out/'), end: k('out0') } }, { op: 'userAdd', name: 'dave', verifier: await verifier('dave-password') }, { op: 'userGrant', name: 'dave', role: 'split' });
    const txn = (compare: string[], success: TxnOp[], failure: TxnOp[] = []): StoreRequest => ({
      type: 'write',
      regionId: 1,
      epoch,
      clientId: 'c',
      seq: 1,
      op: { type: 'txn', compare: compare.map((key) => ({ target: 'exists', key: k(key), exists: true })), success, failure },
    });
    const p = (key: string): TxnOp => ({ type: 'put', key: k(key), value: k('v') });
    const g = (key: string): TxnOp => ({ type: 'get', key: k(key) });
    // dave reads app/ and writes out/ only.
    expect(denied(t, 'dave', txn(['app/1'], [p('out/1'), g('app/2')], [{ type: 'delete', key: k('out/2') }]))).toBeUndefined();
    expect(denied(t, 'dave', txn(['out/1'], [p('out/1')]))).toMatch(/^permission denied: txn: .*no read permission/); // compares read
    expect(denied(t, 'dave', txn([], [g('out/1')]))).toMatch(/no read permission/);
    expect(denied(t, 'dave', txn(['app/1'], [p('app/1')]))).toMatch(/no write permission/);
    // The branch that would not run counts too: which one runs is known only when it applies.
    expect(denied(t, 'dave', txn(['app/1'], [p('out/1')], [p('app/1')]))).toMatch(/no write permission/);
    expect(denied(t, 'dave', txn([], [{ type: 'deleteRange', start: k('out/'), end: k('out0') }]))).toBeUndefined();
    expect(denied(t, 'dave', txn([], [{ type: 'deleteRange', start: k('out/'), end: k('') }]))).toMatch(/no write permission/);
    expect(denied(t, 'alice', txn(['app/1'], [g('app/2')]))).toBeUndefined(); // a read-only txn needs no write
  });

  it('covers a range by several permissions together, and finds a gap between them', async () => {
    const t = apply(
      await sampleTable(),
      { op: 'roleAdd', name: 'pieces' },
      { op: 'roleGrant', name: 'pieces', permission: { kind: 'read', start: k('a'), end: k('c') } },
      { op: 'roleGrant', name: 'pieces', permission: { kind: 'read', start: k('b'), end: k('e') } },
      { op: 'roleGrant', name: 'pieces', permission: { kind: 'read', start: k('f'), end: new Uint8Array(0) } },
      { op: 'userGrant', name: 'alice', role: 'pieces' },
    );
    expect(denied(t, 'alice', scan('a', 'e'))).toBeUndefined();
    expect(denied(t, 'alice', scan('f', ''))).toBeUndefined();
    expect(denied(t, 'alice', scan('d', 'g'))).toBeDefined(); // [e, f) is not granted
    // Two ranges from the first key, the shorter one listed last.
    const t2 = apply(t, { op: 'roleAdd', name: 'first' }, { op: 'roleGrant', name: 'first', permission: { kind: 'write', start: new Uint8Array(0), end: k('z') } }, { op: 'roleGrant', name: 'first', permission: { kind: 'write', start: new Uint8Array(0), end: k('b') } }, { op: 'userGrant', name: 'carol', role: 'first' });
    expect(denied(t2, 'carol', put('c'))).toBeUndefined();
    expect(denied(t2, 'carol', put('zz'))).toBeDefined();
  });

  it('admin requests need admin; removed users and disabled auth are refused', async () => {
    const t = await sampleTable();
    const split: StoreRequest = { type: 'admin', regionId: 1, epoch, op: { kind: 'split' } };
    expect(denied(t, 'bob', split)).toContain('no admin permission for the cluster');
    expect(denied(t, 'root', split)).toBeUndefined();
    expect(denied(apply(t, { op: 'userRemove', name: 'bob' }), 'bob', put('app/1'))).toContain('no longer exists');
    expect(denied(apply(t, { op: 'disable' }), 'root', put('x'))).toContain('auth is disabled');
  });
});

describe('SCRAM', () => {
  it('the right password proves itself, a wrong one does not, and the store signs', async () => {
    const v = await verifier('alice-password');
    const msg = k('transcript');
    const good = clientProof(await saltPassword('alice-password', v.salt, v.scrypt), msg);
    expect(checkClientProof(v, msg, good.proof)).toEqual(good.serverSignature);
    const bad = clientProof(await saltPassword('alice-passwore', v.salt, v.scrypt), msg);
    expect(checkClientProof(v, msg, bad.proof)).toBeUndefined();
    // A proof for another transcript (a replay onto fresh nonces) fails too.
    expect(checkClientProof(v, k('another transcript'), good.proof)).toBeUndefined();
  });
});

describe('tokens', () => {
  const key = deriveTokenKey('cluster secret of 16+ bytes', 'c1');
  const now = 1_700_000_000_000;
  it('verifies a fresh token and refuses expired, forged, altered, foreign and revoked ones', async () => {
    const t = await sampleTable();
    const token = issueToken(key, 'c1', { user: 'bob', issuedAtMs: now, expiresAtMs: now + 60_000, revision: t.revision });
    expect(verifyToken(key, 'c1', token, now + 1, t)).toMatchObject({ ok: true, claims: { user: 'bob' } });
    const reason = (tk: string, at = now + 1, table = t) => {
      const r = verifyToken(key, 'c1', tk, at, table);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(token, now + 60_000)).toBe('token expired');
    expect(reason(token, now - CLOCK_SKEW_MS - 1)).toMatch(/future/);
    const forged = issueToken(deriveTokenKey('another secret of 16 bytes', 'c1'), 'c1', { user: 'bob', issuedAtMs: now, expiresAtMs: now + 60_000, revision: t.revision });
    expect(reason(forged)).toBe('bad token signature');
    // Altering a field (the user) keeps the old tag: refused.
    const [body, tag] = token.split('.');
    const altered = Buffer.from(body, 'base64url').toString().replace('"bob"', '"root"');
    expect(reason(`${Buffer.from(altered).toString('base64url')}.${tag}`)).toBe('bad token signature');
    expect(reason(`${body}.${tag}.x`)).toBe('malformed token');
    expect(verifyToken(key, 'c2', token, now + 1, t)).toMatchObject({ ok: false });
    expect(reason(token, now + 1, apply(t, { op: 'userRemove', name: 'bob' }))).toBe('user removed');
    expect(reason(token, now + 1, apply(t, { op: 'userPasswd', name: 'bob', verifier: await verifier('new-password') }))).toMatch(/password changed/);
  });
});

describe('user login handshake', () => {
  const clusterId = 'c1';
  const key = deriveTokenKey('cluster secret of 16+ bytes', clusterId);
  let nowMs = 1_700_000_000_000;

  function credentials(user: string, password: string): UserCredentials & { current?: string } {
    const c: UserCredentials & { current?: string } = {
      user,
      token: () => c.current,
      saltedPassword: (s, params) => saltPassword(password, s, params),
      issued: (tk) => {
        c.current = tk;
      },
      tokenRefused: () => {
        c.current = undefined;
      },
    };
    return c;
  }

  async function login(table: AuthTable, creds: UserCredentials, clientId = CLIENT_ID_MIN + 5): Promise<{ client: HandshakeStep; server: HandshakeStep }> {
    const directory = createUserDirectory({ clusterId, clientIdMin: CLIENT_ID_MIN, tokenKey: key, table: () => table, nowMs: () => nowMs, tokenTtlMs: 60_000 });
    let n = 0;
    const handler = createUserLoginHandler(directory, () => (n++).toString(16).padStart(32, '0'));
    const self = { clusterId, localId: 1, crypto: globalThis.crypto, key: await importClusterSecret(globalThis.crypto, 'cluster secret of 16+ bytes') };
    const s = createServerHandshake(self, createNonceRegistry(), handler);
    const c = createUserClientHandshake({ clusterId, localId: clientId, crypto: globalThis.crypto }, creds, 1);
    let toServer = c.hello();
    let server: HandshakeStep;
    let client: HandshakeStep;
    for (;;) {
      server = await s.receive(toServer);
      client = server.message === undefined ? server : await c.receive(server.message);
      if (server.kind !== 'send' || client.kind !== 'send') break;
      toServer = client.message;
    }
    return { client, server };
  }

  it('logs in with the password, gets a token, then logs in with the token alone', async () => {
    const t = await sampleTable();
    const creds = credentials('alice', 'alice-password');
    const first = await login(t, creds);
    expect(first.server).toMatchObject({ kind: 'done', session: { user: 'alice' } });
    expect(first.client).toMatchObject({ kind: 'done', peerId: 1 });
    expect(creds.current).toBeDefined();
    const again = await login(t, creds);
    expect(again.server).toMatchObject({ kind: 'done', session: { user: 'alice' } });
  });

  it('refuses a wrong password, an unknown user, disabled auth and a store id with BadCredentials', async () => {
    const t = await sampleTable();
    for (const [table, creds, id] of [
      [t, credentials('alice', 'wrong'), CLIENT_ID_MIN + 1],
      [t, credentials('mallory', 'alice-password'), CLIENT_ID_MIN + 1],
      [apply(t, { op: 'disable' }), credentials('alice', 'alice-password'), CLIENT_ID_MIN + 1],
      [t, credentials('alice', 'alice-password'), 3],
    ] as const) {
      const r = await login(table, creds, id);
      expect(r.server).toMatchObject({ kind: 'refuse', code: 'BadCredentials' });
      expect(r.client.kind).toBe('refuse');
    }
  });

  it('an expired token is refused and forgotten, so the next login uses the password', async () => {
    const t = await sampleTable();
    const creds = credentials('bob', 'bob-password');
    await login(t, creds);
    nowMs += 61_000;
    const r = await login(t, creds);
    expect(r.server).toMatchObject({ kind: 'refuse', code: 'BadCredentials' });
    expect(creds.current).toBeUndefined();
    expect((await login(t, creds)).server).toMatchObject({ kind: 'done' });
  });
});

describe('auth cache', () => {
  it('keeps only newer revisions, durably: a reopened engine enforces the same table', async () => {
    const engine = createMemoryStorage();
    const cache = await AuthCache.load(engine);
    expect(cache.table.revision).toBe(0);
    const t = await sampleTable();
    expect(await cache.adopt(t)).toBe(true);
    const older = apply(EMPTY_AUTH_TABLE, { op: 'roleAdd', name: 'x' });
    expect(await cache.adopt(older)).toBe(false);
    expect(cache.table).toBe(t);
    const reopened = await AuthCache.load(engine);
    expect(reopened.table).toEqual(t);
  });
});
