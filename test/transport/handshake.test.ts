import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/codec/frame.ts';
import { encodeUtf8, fromHex, toHex } from '../../src/codec/utf8.ts';
import {
  createClientHandshake,
  createNonceRegistry,
  createServerHandshake,
  type HandshakeIdentity,
  type HandshakeStep,
  type NonceRegistry,
  originAllowed,
} from '../../src/transport/handshake.ts';
import { importClusterSecret } from '../../src/transport/hmac.ts';
import { createSeededRand } from '../../src/util/rand.ts';

const SECRET = 'correct horse battery staple';

async function identity(localId: number, overrides: { clusterId?: string; secret?: string } = {}): Promise<HandshakeIdentity> {
  return { clusterId: overrides.clusterId ?? 'c1', localId, key: await importClusterSecret(globalThis.crypto, overrides.secret ?? SECRET), crypto: globalThis.crypto };
}

/** Runs a full exchange; returns both sides' final steps and the messages the client sent. */
async function run(client: HandshakeIdentity, server: HandshakeIdentity, opts: { nonces?: NonceRegistry; expectPeerId?: number } = {}) {
  const c = createClientHandshake(client, opts.expectPeerId);
  const s = createServerHandshake(server, opts.nonces ?? createNonceRegistry());
  const sent: string[] = [c.hello()];
  let serverStep = await s.receive(sent[0]);
  if (serverStep.kind !== 'send') return { client: undefined, server: serverStep, sent };
  let clientStep = await c.receive(serverStep.message);
  if (clientStep.kind !== 'send') return { client: clientStep, server: serverStep, sent };
  sent.push(clientStep.message);
  serverStep = await s.receive(clientStep.message);
  clientStep = await c.receive(serverStep.message);
  return { client: clientStep, server: serverStep, sent };
}

const code = (step: HandshakeStep | undefined) => (step?.kind === 'refuse' ? step.code : step?.kind);

describe('handshake', () => {
  it('accepts a correct peer on both sides', async () => {
    const r = await run(await identity(1), await identity(2), { expectPeerId: 2 });
    expect(r.server).toMatchObject({ kind: 'done', peerId: 1 });
    expect(r.client).toMatchObject({ kind: 'done', peerId: 2 });
  });

  it('refuses a wrong secret, whichever side holds it', async () => {
    const r = await run(await identity(1, { secret: 'another secret, 16+ bytes' }), await identity(2));
    expect(code(r.client)).toBe('BadProof');
    // A client that skips checking the server and sends a made-up proof is refused by the server.
    const s = createServerHandshake(await identity(2), createNonceRegistry());
    const hello = createClientHandshake(await identity(1)).hello();
    expect((await s.receive(hello)).kind).toBe('send');
    expect(code(await s.receive(JSON.stringify({ h: 'proof', p: 'ab'.repeat(32) })))).toBe('BadProof');
  });

  it('refuses a wrong cluster, a wrong version, its own or an unexpected store id', async () => {
    expect(code((await run(await identity(1, { clusterId: 'c2' }), await identity(2))).server)).toBe('WrongCluster');
    const s = createServerHandshake(await identity(2), createNonceRegistry());
    const hello = JSON.parse(createClientHandshake(await identity(1)).hello());
    expect(code(await s.receive(JSON.stringify({ ...hello, v: PROTOCOL_VERSION + 1 })))).toBe('WrongVersion');
    expect(code((await run(await identity(2), await identity(2))).server)).toBe('DuplicateStoreId');
    expect(code((await run(await identity(1), await identity(2), { expectPeerId: 3 })).client)).toBe('UnexpectedPeer');
  });

  it('refuses a replayed handshake, with or without the server remembering the nonce', async () => {
    const nonces = createNonceRegistry();
    const first = await run(await identity(1), await identity(2), { nonces });
    expect(first.server.kind).toBe('done');
    const again = createServerHandshake(await identity(2), nonces);
    expect(code(await again.receive(first.sent[0]))).toBe('Replay');
    // A server that forgot the nonce (restarted) issues a fresh challenge; the recorded proof fails it.
    const fresh = createServerHandshake(await identity(2), createNonceRegistry());
    expect((await fresh.receive(first.sent[0])).kind).toBe('send');
    expect(code(await fresh.receive(first.sent[1]))).toBe('BadProof');
  });

  it('refuses malformed, oversized and out-of-order messages and passes on a peer refusal', async () => {
    const s = async () => createServerHandshake(await identity(2), createNonceRegistry());
    expect(code(await (await s()).receive('{not json'))).toBe('Malformed');
    expect(code(await (await s()).receive(new Uint8Array(3)))).toBe('Malformed');
    expect(code(await (await s()).receive(`{"h":"hello","pad":"${'x'.repeat(2000)}"}`))).toBe('Malformed');
    expect(code(await (await s()).receive(JSON.stringify({ h: 'proof', p: 'ab'.repeat(32) })))).toBe('Malformed');
    const c = createClientHandshake(await identity(1));
    c.hello();
    const step = await c.receive(JSON.stringify({ h: 'refuse', code: 'WrongCluster', reason: 'nope' }));
    expect(step).toMatchObject({ kind: 'refuse', code: 'WrongCluster' });
    expect(step.kind === 'refuse' && step.message).toBeUndefined();
    await expect(importClusterSecret(globalThis.crypto, 'short')).rejects.toThrow(RangeError);
  });

  it('forgets the oldest nonces beyond its capacity', () => {
    const nonces = createNonceRegistry(2);
    expect([nonces.claim('a'), nonces.claim('b'), nonces.claim('a'), nonces.claim('c'), nonces.claim('a')]).toEqual([true, true, false, true, true]);
  });

  it('checks origins only against a configured allow-list', () => {
    expect(originAllowed('https://evil.example', undefined)).toBe(true);
    expect(originAllowed('https://app.example', ['https://app.example'])).toBe(true);
    expect(originAllowed('https://evil.example', ['https://app.example'])).toBe(false);
    expect(originAllowed(undefined, ['https://app.example'])).toBe(true);
  });
});

describe('utf8 and hex helpers', () => {
  it('encode like TextEncoder, lone surrogates included', () => {
    const rand = createSeededRand(9);
    for (let i = 0; i < 2000; i++) {
      const s = String.fromCharCode(...Array.from({ length: rand.int(20) }, () => (rand.int(4) === 0 ? 0xd800 + rand.int(0x800) : rand.int(0x10000))));
      expect(encodeUtf8(s)).toEqual(new TextEncoder().encode(s));
    }
    expect(encodeUtf8('😀é')).toEqual(new TextEncoder().encode('😀é'));
  });

  it('round-trip hex and refuse bad hex', () => {
    const bytes = Uint8Array.of(0, 1, 0xab, 0xff);
    expect(toHex(bytes)).toBe('0001abff');
    expect(fromHex('0001ABff')).toEqual(bytes);
    expect(fromHex('abc')).toBeUndefined();
    expect(fromHex('zz')).toBeUndefined();
  });
});
