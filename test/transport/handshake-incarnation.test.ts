/**
 * The handshake carries each store's incarnation (docs/store-identity.md): both ends learn the
 * other's, and an incarnation changed in transit breaks the proof (it is as authentic as the id).
 */
import { describe, expect, it } from 'vitest';
import { createClientHandshake, createNonceRegistry, createServerHandshake, type HandshakeIdentity } from '../../src/transport/handshake.ts';
import { importClusterSecret } from '../../src/transport/hmac.ts';

async function identity(localId: number, incarnation?: string): Promise<HandshakeIdentity> {
  return { clusterId: 'c1', localId, key: await importClusterSecret(globalThis.crypto, 'correct horse battery staple'), crypto: globalThis.crypto, incarnation };
}

/** A full exchange; `tamper` may rewrite the client's hello (a man in the middle). */
async function run(client: HandshakeIdentity, server: HandshakeIdentity, tamper: (hello: string) => string = (h) => h) {
  const c = createClientHandshake(client, server.localId);
  const s = createServerHandshake(server, createNonceRegistry());
  let serverStep = await s.receive(tamper(c.hello()));
  if (serverStep.kind !== 'send') return { server: serverStep, client: undefined };
  let clientStep = await c.receive(serverStep.message);
  if (clientStep.kind !== 'send') return { server: serverStep, client: clientStep };
  serverStep = await s.receive(clientStep.message);
  clientStep = await c.receive(serverStep.message);
  return { server: serverStep, client: clientStep };
}

describe('handshake incarnations', () => {
  it('each end learns the incarnation of the other', async () => {
    const r = await run(await identity(1, 'aaaa1111bbbb2222'), await identity(2, 'cccc3333dddd4444'));
    expect(r.server).toMatchObject({ kind: 'done', peerId: 1, peerIncarnation: 'aaaa1111bbbb2222' });
    expect(r.client).toMatchObject({ kind: 'done', peerId: 2, peerIncarnation: 'cccc3333dddd4444' });
  });

  it('a client without one (a KV client) still connects', async () => {
    const r = await run(await identity(1), await identity(2, 'cccc3333dddd4444'));
    expect(r.server).toMatchObject({ kind: 'done', peerId: 1 });
    expect(r.server?.kind === 'done' && r.server.peerIncarnation).toBe(undefined);
  });

  it('an incarnation rewritten in transit fails the proof', async () => {
    const swap = (hello: string) => JSON.stringify({ ...JSON.parse(hello), i: 'ffff0000ffff0000' });
    const r = await run(await identity(1, 'aaaa1111bbbb2222'), await identity(2, 'cccc3333dddd4444'), swap);
    // The server's proof covers the incarnation it was told: the client sees the swap and stops,
    // so the server never gets a proof and never takes the forged incarnation.
    expect(r.client).toMatchObject({ kind: 'refuse', code: 'BadProof' });
    expect(r.server.kind).toBe('send');
  });

  it('a malformed incarnation is refused', async () => {
    const bad = (hello: string) => JSON.stringify({ ...JSON.parse(hello), i: 'has|a bar' });
    const r = await run(await identity(1, 'aaaa1111bbbb2222'), await identity(2, 'cccc3333dddd4444'), bad);
    expect(r.server).toMatchObject({ kind: 'refuse', code: 'Malformed' });
  });
});
