import { describe, expect, it } from 'vitest';
import { createRealClock } from '../../adapters/runtime/real-clock.ts';
import { TransportError } from '../../src/codec/errors.ts';
import { encodeFrame, PROTOCOL_VERSION } from '../../src/codec/frame.ts';
import type { Transport } from '../../src/transport/port.ts';
import { describeTransport, record, req, settleUntil, type TransportHarness } from './conformance.ts';
import { rawClient, SECRET, sleep, startStore, type TestStore } from './ws-helpers.ts';

function harness(): TransportHarness {
  let stores: TestStore[] = [];
  const byId = (t: Transport) => stores.find((s) => s.transport.localId === t.localId)!.transport;
  return {
    clock: createRealClock(),
    async start(ids, options) {
      stores = [];
      for (const id of ids) {
        // Each store dials the ones started before it, so every pair has one link.
        const peers = Object.fromEntries(stores.map((s) => [s.transport.localId, s.server.url]));
        stores.push(await startStore(id, { peers, queueBytesMax: options?.queueBytesMax, socketBufferBytesMax: options?.queueBytesMax && options.queueBytesMax / 2, limits: { frameBytesMax: options?.frameBytesMax } }, { maxPayloadBytes: options?.frameBytesMax && options.frameBytesMax + 65536 }));
      }
      for (const a of stores) for (const b of stores) if (a !== b) await a.transport.connected(b.transport.localId);
      return stores.map((s) => s.transport);
    },
    settle: () => sleep(10),
    async interrupt(a, b) {
      byId(a).disconnect(b.localId, 'test interrupt');
      await sleep(20);
    },
    async stop() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

describeTransport('WebSocket (Node, ws, loopback)', harness);

describe('WebSocket transport: authentication', { timeout: 15_000 }, () => {
  it('refuses a wrong secret and a wrong cluster, and never delivers their frames', async () => {
    const server = await startStore(2);
    const wrongSecret = await startStore(1, { peers: { 2: server.server.url }, secret: 'not the cluster secret at all' });
    const wrongCluster = await startStore(3, { peers: { 2: server.server.url }, clusterId: 'other' });
    const got = record(server.transport);
    await settleUntil({ settle: () => sleep(20) } as TransportHarness, () => (wrongSecret.transport.stats().handshakeRefused.BadProof ?? 0) > 0 && (server.transport.stats().handshakeRefused.WrongCluster ?? 0) > 0, 100);
    expect(wrongSecret.transport.stats().handshakeRefused.BadProof).toBeGreaterThan(0);
    expect(server.transport.stats().handshakeRefused.WrongCluster).toBeGreaterThan(0);
    expect(wrongSecret.transport.send(2, [req(1)])).toBe(true); // queued, never delivered
    await sleep(50);
    expect(got.frames).toEqual([]);
    await Promise.all([server.close(), wrongSecret.close(), wrongCluster.close()]);
  });

  it('replaces the link of an id that authenticates again; refuses a replayed hello, a silent client (timeout), a wrong version and a foreign origin', async () => {
    const server = await startStore(2, { handshakeTimeoutMs: 200 }, { allowedOrigins: ['https://app.example'] });
    const first = await rawClient(server.server.url, 1);
    // A newer authenticated link from the same id replaces the old one at once (docs/reconnect.md).
    const second = await rawClient(server.server.url, 1);
    expect(await first.closed).toMatchObject({ code: 4003, reason: expect.stringMatching(/replaced/) });
    const silent = await rawClient(server.server.url, 5, { handshake: false });
    expect(await silent.closed).toMatchObject({ code: 4001, reason: expect.stringMatching(/^Timeout/) });
    // Replay: record a hello, then send it again on a new socket.
    const spy = await rawClient(server.server.url, 6, { handshake: false });
    const { createClientHandshake } = await import('../../src/transport/handshake.ts');
    const { importClusterSecret } = await import('../../src/transport/hmac.ts');
    const hello = createClientHandshake({ clusterId: 'ws-test', localId: 7, crypto: globalThis.crypto, key: await importClusterSecret(globalThis.crypto, SECRET) }).hello();
    spy.socket.send(hello);
    await sleep(30);
    const replay = await rawClient(server.server.url, 7, { handshake: false });
    replay.socket.send(hello);
    expect(await replay.closed).toMatchObject({ code: 4001, reason: expect.stringMatching(/^Replay/) });
    const future = await rawClient(server.server.url, 10, { handshake: false });
    future.socket.send(JSON.stringify({ ...JSON.parse(hello), s: 10, n: 'ab'.repeat(16), v: PROTOCOL_VERSION + 1 }));
    expect(await future.closed).toMatchObject({ code: 4001, reason: expect.stringMatching(/^WrongVersion/) });
    await expect(rawClient(server.server.url, 8, { headers: { Origin: 'https://evil.example' } })).rejects.toThrow(/HTTP 403/);
    expect(server.server.originRefused()).toBe(1);
    const fromApp = await rawClient(server.server.url, 9, { headers: { Origin: 'https://app.example' } });
    expect(server.transport.stats().handshakeRefused).toEqual({ Timeout: 1, Replay: 1, WrongVersion: 1 });
    expect(server.transport.stats().linksReplaced).toBe(1);
    for (const c of [second, spy, fromApp]) c.socket.close();
    await server.close();
  });
});

describe('WebSocket server: connection limit', { timeout: 15_000 }, () => {
  it('refuses upgrades beyond connectionsMax with 503 and accepts again once one closes', async () => {
    const server = await startStore(2, {}, { connectionsMax: 2 });
    const a = await rawClient(server.server.url, 1, { handshake: false });
    const b = await rawClient(server.server.url, 3, { handshake: false });
    await expect(rawClient(server.server.url, 4, { handshake: false })).rejects.toThrow(/HTTP 503/);
    expect(server.server.busyRefused()).toBe(1);
    a.socket.close();
    await a.closed;
    await sleep(20);
    const c = await rawClient(server.server.url, 5);
    for (const x of [b, c]) x.socket.close();
    await server.close();
  });
});

describe('WebSocket server (Node, ws): message size limit', { timeout: 15_000 }, () => {
  it('closes a socket with 1009 on a message over maxPayloadBytes, before the transport decodes it, and counts it', async () => {
    const server = await startStore(2, {}, { maxPayloadBytes: 64 * 1024 });
    const got = record(server.transport);
    const client = await rawClient(server.server.url, 1);
    client.socket.send(encodeFrame({ clusterId: 'ws-test', from: 1, to: 2, items: [req(1, 60 * 1024)] }));
    client.socket.send(encodeFrame({ clusterId: 'ws-test', from: 1, to: 2, items: [req(2, 65 * 1024)] }));
    expect(await client.closed).toMatchObject({ code: 1009 });
    await sleep(20);
    expect(got.frames.map((f) => f.items.map((i) => (i.kind === 'request' ? i.requestId : -1)))).toEqual([[1]]);
    expect(server.server.oversizeRefused()).toBe(1);
    expect(server.transport.stats()).toMatchObject({ accepted: 1, rejected: 0 });
    await server.close();
  });
});

describe('WebSocket transport: bad frames and queues', { timeout: 15_000 }, () => {
  it('drops and counts bad frames, tells the peer why, and disconnects it after three', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (msg: string) => void warnings.push(msg), error() {} };
    const server = await startStore(2, { logger });
    const got = record(server.transport);
    const client = await rawClient(server.server.url, 1);
    client.socket.send(Uint8Array.of(0xc1));
    client.socket.send(encodeFrame({ clusterId: 'ws-test', from: 3, to: 2, items: [] }));
    client.socket.send('hello?');
    client.socket.send(encodeFrame({ clusterId: 'ws-test', from: 1, to: 2, items: [req(1)] }));
    const closed = await client.closed;
    expect(closed).toMatchObject({ code: 4002, reason: expect.stringMatching(/too many bad frames/) });
    expect(client.texts.map((t) => JSON.parse(t).code)).toEqual(['FrameMalformed', 'WrongSender', 'FrameMalformed']);
    expect(server.transport.stats()).toMatchObject({ rejected: 3, disconnected: 1 });
    expect(warnings).toEqual(['transport: peer cut off after repeated bad frames']);
    expect(got.frames).toEqual([]);
    await settleUntil({ settle: () => sleep(10) } as TransportHarness, () => got.disconnects.length > 0, 100);
    expect(got.disconnects).toEqual([{ storeId: 1, reason: expect.stringMatching(/too many bad frames/) }]);
    await server.close();
  });

  it('throws typed errors from enqueue: unknown peer, full queue, closed transport', async () => {
    const server = await startStore(2);
    const client = await startStore(1, { peers: { 2: server.server.url }, queueBytesMax: 64 * 1024 });
    await client.transport.connected(2);
    const code = (fn: () => void) => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return err instanceof TransportError ? err.code : String(err);
      }
    };
    expect(code(() => client.transport.enqueue(9, [req(1)]))).toBe('InvalidArgument');
    let result = 'ok';
    for (let i = 0; i < 1000 && result === 'ok'; i++) result = code(() => client.transport.enqueue(2, [req(i, 16 * 1024)]));
    expect(result).toBe('QueueFull');
    expect(client.transport.stats().queueFull).toBe(1);
    await client.close();
    expect(code(() => client.transport.enqueue(2, [req(1)]))).toBe('TransportClosed');
    await server.close();
  });
});

describe('WebSocket transport: forgetting a peer that dialled in', { timeout: 15_000 }, () => {
  it('keeps a gone peer\'s entry (frames queue for it) until forget drops it and its queue', async () => {
    const server = await startStore(2);
    const client = await startStore(1, { peers: { 2: server.server.url } });
    await client.transport.connected(2);
    const gone = new Promise<void>((resolve) => server.transport.onDisconnect((d) => d.storeId === 1 && resolve()));
    await client.close();
    await gone;
    server.transport.enqueue(1, [req(1, 1024)]);
    expect(server.transport.queuedBytes(1)).toBeGreaterThan(0);
    server.transport.forget(1);
    expect(server.transport.queuedBytes(1)).toBe(0);
    expect(() => server.transport.enqueue(1, [req(2)])).toThrow(TransportError);
    await server.close();
  });
});

describe('WebSocket transport: reconnection', { timeout: 15_000 }, () => {
  it('redials with jittered exponential back-off, capped', async () => {
    const dials: number[] = [];
    // A socket that can never connect: it reports a close right after it is made.
    class Refused {
      binaryType = '';
      bufferedAmount = 0;
      readyState = 3;
      onopen = null;
      onmessage = null;
      onerror = null;
      onclose: ((ev: { code: number; reason: string }) => void) | null = null;
      constructor() {
        dials.push(performance.now());
        setTimeout(() => this.onclose?.({ code: 1006, reason: '' }), 0);
      }
      send() {}
      close() {}
    }
    const { createWebSocketTransport } = await import('../../adapters/transport/websocket.ts');
    const t = await createWebSocketTransport({ localId: 1, clusterId: 'c', secret: SECRET, peers: { 2: 'ws://127.0.0.1:9' }, WebSocket: Refused, reconnectDelayMs: { min: 40, max: 200 }, rand: { next: () => 0.5 } });
    await sleep(1500);
    await t.close();
    const gaps = dials.slice(1).map((at, i) => at - dials[i]);
    // Expected waits with jitter 0.5 (three quarters of the cap): 30, 60, 120, 150, 150, ...
    expect(gaps.length).toBeGreaterThanOrEqual(6);
    expect(gaps.length).toBeLessThanOrEqual(12);
    const expected = [30, 60, 120, 150, 150];
    expected.forEach((ms, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(ms - 2);
      expect(gaps[i]).toBeLessThan(ms + 60);
    });
    const count = dials.length;
    await sleep(300);
    expect(dials.length).toBe(count); // closed: no more dials
  });
});
