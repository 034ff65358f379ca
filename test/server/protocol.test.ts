/**
 * The client protocol at the server boundary, in one process: a store server on loopback (memory
 * storage), a raw link sending calls. Malformed calls get a typed `InvalidArgument` answer and are
 * counted, typed errors cross the wire as the same classes, and a client's link cannot feed Raft.
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientIdentity } from '../../adapters/client/remote-caller.ts';
import { openRemoteLink, type RemoteLink } from '../../adapters/client/remote-link.ts';
import { connect } from '../../adapters/client/remote.ts';
import type { StoreServer } from '../../adapters/server/store-server.ts';
import type { WebSocketConstructor } from '../../adapters/transport/websocket-link.ts';
import { EpochNotMatchError, InvalidArgumentError, KeyTooLargeError } from '../../src/errors.ts';
import { decodeAnswer, decodeCall, encodeAnswer, encodeCall, type ServerCall } from '../../src/server/protocol.ts';
import { SECRET, startTestServer } from './helpers.ts';

let server: StoreServer;
let link: RemoteLink;

beforeAll(async () => {
  server = await startTestServer('proto');
  link = await openRemoteLink({ url: server.url, identity: await createClientIdentity('proto', SECRET), WebSocket: WebSocket as unknown as WebSocketConstructor });
  const deadline = Date.now() + 10_000;
  while (server.store.regions()[0]?.leaderStoreId !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  link?.close();
  await server?.close();
});

describe('the client protocol', () => {
  it('round-trips calls and answers, typed errors included', () => {
    const call: ServerCall = { t: 'kv', r: { type: 'read', regionId: 1, epoch: { confVer: 1, version: 1 }, op: { type: 'get', key: Uint8Array.of(1, 2) }, consistency: 'lease' } };
    const back = decodeCall(encodeCall(call)) as Extract<ServerCall, { t: 'kv' }>;
    expect(back).toMatchObject({ t: 'kv', r: { type: 'read', regionId: 1, epoch: { confVer: 1, version: 1 }, consistency: 'lease', op: { type: 'get' } } });
    const op = (back.r as { op: { key: Uint8Array } }).op;
    expect(op.key).toBeInstanceOf(Uint8Array);
    expect([...op.key]).toEqual([1, 2]);
    const e = decodeAnswer(encodeAnswer({ ok: false, error: new KeyTooLargeError('key', 9000, 4096) }));
    expect(e.ok).toBe(false);
    if (!e.ok) {
      expect(e.error).toBeInstanceOf(KeyTooLargeError);
      expect(e.error).toMatchObject({ code: 'KeyTooLarge', bytes: 9000, bytesMax: 4096 });
    }
    const bad = decodeCall(Uint8Array.of(0xc1));
    expect(bad).toBeInstanceOf(InvalidArgumentError);
  });

  it('carries the optional timeoutMs of a kv call (docs/overload.md), refusing a negative or fractional one', () => {
    const r = { type: 'read', regionId: 1, epoch: { confVer: 1, version: 1 }, op: { type: 'get', key: Uint8Array.of(1) }, consistency: 'linearizable' } as const;
    expect(decodeCall(encodeCall({ t: 'kv', r, timeoutMs: 750 }))).toMatchObject({ t: 'kv', timeoutMs: 750 });
    expect(decodeCall(encodeCall({ t: 'kv', r }))).not.toHaveProperty('timeoutMs');
    for (const timeoutMs of [-1, 1.5]) {
      const bad = decodeCall(encodeCall({ t: 'kv', r, timeoutMs }));
      expect(bad).toBeInstanceOf(InvalidArgumentError);
      expect((bad as InvalidArgumentError).message).toContain('timeoutMs');
    }
  });

  it('answers malformed calls with InvalidArgument naming the field, and counts them', async () => {
    const before = server.counters.badRequests;
    const bad = { t: 'kv', r: { type: 'write', regionId: 1, epoch: { confVer: 1, version: 1 }, clientId: 'c', seq: 1, op: { type: 'put', key: 'not bytes', value: Uint8Array.of(1) } } };
    const err = await link.call(bad as unknown as ServerCall, 2000).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).argument).toBe('request.r.op.key');
    const err2 = await link.call({ t: 'nope' } as unknown as ServerCall, 2000).catch((e) => e);
    expect(err2).toBeInstanceOf(InvalidArgumentError);
    expect(server.counters.badRequests).toBe(before + 2);
    // The store still serves.
    expect(await link.call({ t: 'stores' }, 2000)).toMatchObject({ storeId: 1, clusterId: 'proto', stores: [{ id: 1, url: server.url }] });
  });

  it('returns the store typed errors as the same classes (EpochNotMatch with its regions)', async () => {
    const err = await link
      .call({ t: 'kv', r: { type: 'read', regionId: 1, epoch: { confVer: 1, version: 7 }, op: { type: 'get', key: Uint8Array.of(1) }, consistency: 'linearizable' } }, 2000)
      .catch((e) => e);
    expect(err).toBeInstanceOf(EpochNotMatchError);
    expect((err as EpochNotMatchError).regions[0].startKey).toBeInstanceOf(Uint8Array);
  });

  it('serves a remote KvClient, and refuses a client with the wrong secret', async () => {
    const kv = await connect({ endpoints: [server.url.replace('ws://', '')], secret: SECRET, cluster: 'proto', WebSocket: WebSocket as unknown as WebSocketConstructor });
    try {
      await kv.put('k', 'v');
      expect(new TextDecoder().decode((await kv.get('k'))!)).toBe('v');
      expect(await kv.getSequence('seq', 5)).toEqual({ startValue: 0, endValue: 5 });
      await expect(kv.put('', 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
    } finally {
      kv.close();
    }
    await expect(connect({ endpoints: [server.url], secret: 'another secret of 32 bytes......', cluster: 'proto' })).rejects.toThrow(/BadProof/);
    await expect(connect({ endpoints: [server.url], secret: SECRET, cluster: 'other' })).rejects.toThrow(/WrongCluster/);
  });
});
