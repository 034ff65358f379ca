import { describe, expect, it } from 'vitest';
import { createSeededRand } from '../../src/util/rand.ts';
import { HOSTILE_KINDS, hostileFrame } from '../codec/hostile.ts';
import { record, req } from './conformance.ts';
import { rawClient, sleep, startStore } from './ws-helpers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 4242);
const FRAMES = 100_009; // a multiple of the number of hostile kinds (MessagePack and binary), over 100,000
const header = { clusterId: 'ws-test', from: 1, to: 2 };
const frameBytesMax = 16 * 1024;

describe(`live server fuzz (seed ${SEED}; FUZZ_SEED=... to replay)`, { timeout: 120_000 }, () => {
  it('refuses and counts 100,009 hostile MessagePack and binary frames from an authenticated peer, and still serves', async () => {
    console.log(`live server fuzz seed ${SEED}`);
    const server = await startStore(2, { offencesMax: Number.MAX_SAFE_INTEGER, limits: { frameBytesMax } }, { maxPayloadBytes: frameBytesMax + 64 * 1024 });
    const got = record(server.transport);
    const client = await rawClient(server.server.url, 1);
    const rand = createSeededRand(SEED);
    const heapBefore = process.memoryUsage().heapUsed;
    let sent = 0;
    while (sent < FRAMES) {
      // Send in bursts and let the server catch up, so the test measures the server, not a backlog.
      for (let i = 0; i < 2000 && sent < FRAMES; i++, sent++) client.socket.send(hostileFrame(rand, HOSTILE_KINDS[sent % HOSTILE_KINDS.length], header, frameBytesMax));
      for (let w = 0; w < 500 && server.transport.stats().rejected < sent; w++) await sleep(2);
    }
    const stats = server.transport.stats();
    console.log('server refused by code', stats.rejectedByCode);
    expect(stats.rejected).toBe(FRAMES);
    expect(stats.accepted).toBe(0);
    expect(got.frames).toEqual([]);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(512 * 1024 * 1024);
    // The server is still healthy: a well-behaved store connects and is served.
    const good = await startStore(3, { peers: { 2: server.server.url } });
    await good.transport.connected(2);
    good.transport.send(2, [req(1)]);
    for (let w = 0; w < 200 && got.frames.length === 0; w++) await sleep(5);
    expect(got.frames.map((f) => f.from)).toEqual([3]);
    client.socket.close();
    await good.close();
    await server.close();
  });

  it('refuses and counts 300 unauthenticated sockets sending garbage handshakes', async () => {
    const server = await startStore(2);
    const rand = createSeededRand(SEED + 1);
    const junk = () => {
      const k = rand.int(4);
      if (k === 0) return JSON.stringify({ h: 'hello', v: 1, c: 'ws-test', s: -rand.int(5), n: 'zz' });
      if (k === 1) return '{'.repeat(1 + rand.int(5000));
      if (k === 2) return Uint8Array.from({ length: 1 + rand.int(100) }, () => rand.int(256));
      return JSON.stringify({ h: 'proof', p: '00'.repeat(32) });
    };
    for (let i = 0; i < 300; i += 30) {
      const batch = await Promise.all(Array.from({ length: 30 }, () => rawClient(server.server.url, 1, { handshake: false })));
      for (const c of batch) c.socket.send(junk());
      const closes = await Promise.all(batch.map((c) => c.closed));
      expect(closes.every((c) => c.code === 4001 && /^Malformed/.test(c.reason))).toBe(true);
    }
    expect(server.transport.stats().handshakeRefused).toEqual({ Malformed: 300 });
    await server.close();
  });
});
