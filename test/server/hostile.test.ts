/**
 * Hostile connections against a real store server (in this process, memory storage), while an
 * honest client on 127.0.0.1 keeps writing: each test shows the attack is cut or refused, counted
 * in /metrics, and that the honest writes keep completing meanwhile. Hostile sockets come from
 * other loopback addresses (127.0.0.2 and up), so the per-address limits do not touch the honest
 * client. No timed assertions: every wait is a condition with a generous deadline.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import { startStatusServer } from '../../adapters/server/http-status.ts';
import type { StoreServer } from '../../adapters/server/store-server.ts';
import { freePorts } from '../../scripts/cluster-processes.ts';
import { PROTOCOL_VERSION } from '../../src/codec/frame.ts';
import { SECRET, startTestServer } from './helpers.ts';
import { closeCode, failedLogin, frameHeader, rawPeer, statusLine, textFrame, trickle, until, upgradedPeer, upgradeRequest } from './hostile-peers.ts';

const CLUSTER = 'hostile';
let server: StoreServer;
let status: Server;
let statusPort: number;
let port: number;
let client: RemoteKvClient;
let writes = 0;
let writerError: unknown;
let stopWriter = false;
let writer: Promise<void>;

/** Resolves once the honest client has completed `n` more writes. */
async function honestProgress(n = 5): Promise<void> {
  const target = writes + n;
  await until(() => writes >= target || writerError !== undefined, 30_000);
  if (writerError !== undefined) throw writerError;
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
}

function sample(text: string, name: string, label: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`flotilla_${name}{`) && l.includes(label));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

beforeAll(async () => {
  server = await startTestServer(CLUSTER, [], {
    hardening: {
      handshakeTimeoutMs: 3000,
      admission: { unauthenticatedPerAddressMax: 4, unauthenticatedMax: 24, authFailuresMax: 3, authFailureWindowMs: 600_000, authBanMs: 600_000 },
      http: { headersTimeoutMs: 1500, requestTimeoutMs: 3000 },
    },
  });
  port = Number(new URL(server.url).port);
  [statusPort] = await freePorts(1);
  status = await startStatusServer(server, '127.0.0.1', statusPort, { headersTimeoutMs: 1500, requestTimeoutMs: 3000 });
  const deadline = Date.now() + 15_000;
  while (server.store.regions()[0]?.leaderStoreId !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  client = await connect({ endpoints: [server.url], secret: SECRET, cluster: CLUSTER });
  writer = (async () => {
    for (let i = 0; !stopWriter; i++) {
      try {
        await client.put(`honest/${i % 100}`, String(i));
        writes++;
      } catch (e) {
        writerError = e;
        return;
      }
    }
  })();
  await honestProgress(1);
}, 60_000);

afterAll(async () => {
  stopWriter = true;
  await writer;
  client?.close();
  status?.close();
  await server?.close();
});

describe('hostile connections against a store server', { timeout: 60_000 }, () => {
  it('closes a socket that never sends a request, and one that upgrades but never finishes the handshake', async () => {
    const silent = await rawPeer(port, '127.0.0.2');
    const stalled = await upgradedPeer(port, '127.0.0.2');
    expect(statusLine(stalled)).toContain(' 101 ');
    await honestProgress();
    await Promise.all([silent.closed, stalled.closed]);
    expect(closeCode(stalled)).toBe(4001);
    // It never answered the close frame: the store cut it rather than wait for it.
    expect(server.listenerStats().refusedCut).toBeGreaterThanOrEqual(1);
    expect(sample(await metrics(), 'listener_handshakes_refused_total', 'code="Timeout"')).toBeGreaterThanOrEqual(1);
    await honestProgress();
  });

  it('refuses unauthenticated sockets beyond the per-address cap with 429, not other addresses, and admits again once they close', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => upgradedPeer(port, '127.0.0.3')));
    expect(held.map(statusLine).every((l) => l.includes(' 101 '))).toBe(true);
    const extra = await upgradedPeer(port, '127.0.0.3');
    expect(statusLine(extra)).toContain(' 429 ');
    const other = await upgradedPeer(port, '127.0.0.4');
    expect(statusLine(other)).toContain(' 101 ');
    await honestProgress();
    for (const p of [...held, other]) p.socket.destroy();
    await until(() => server.listenerStats().unauthenticated === 0);
    const again = await upgradedPeer(port, '127.0.0.3');
    expect(statusLine(again)).toContain(' 101 ');
    again.socket.destroy();
    expect(sample(await metrics(), 'listener_upgrades_refused_total', 'reason="TooManyFromAddress"')).toBe(1);
  });

  it('refuses unauthenticated sockets beyond the overall cap with 503, while the authenticated client keeps writing', async () => {
    const held = [];
    for (let a = 10; a < 16; a++) held.push(...(await Promise.all([1, 2, 3, 4].map(() => upgradedPeer(port, `127.0.0.${a}`)))));
    expect(server.listenerStats().unauthenticated).toBe(24);
    const extra = await upgradedPeer(port, '127.0.0.16');
    expect(statusLine(extra)).toContain(' 503 ');
    await honestProgress();
    for (const p of held) p.socket.destroy();
    await until(() => server.listenerStats().unauthenticated === 0);
  });

  it('rejects a frame on its header when it claims too many bytes, and cuts a pre-authentication flood', async () => {
    const liar = await upgradedPeer(port, '127.0.0.5');
    liar.socket.write(frameHeader(2, 2 ** 40));
    await liar.closed;
    expect(closeCode(liar)).toBe(1009);
    // Under maxPayload (16 MiB) but far over what a handshake needs: cut once 64 KiB arrived.
    const flood = await upgradedPeer(port, '127.0.0.5');
    flood.socket.write(frameHeader(2, 8 * 1024 * 1024));
    const chunk = Buffer.alloc(16 * 1024);
    for (let i = 0; i < 512 && !flood.socket.destroyed; i++) {
      if (!flood.socket.write(chunk)) await Promise.race([new Promise((r) => flood.socket.once('drain', r)), flood.closed]);
    }
    await flood.closed;
    expect(server.listenerStats().preAuthOverflow).toBeGreaterThanOrEqual(1);
    // A handshake message over its 1 KiB limit is refused as Malformed.
    const long = await upgradedPeer(port, '127.0.0.5');
    long.socket.write(textFrame(JSON.stringify({ h: 'hello', pad: 'x'.repeat(4000) })));
    await until(() => closeCode(long) !== undefined);
    expect(closeCode(long)).toBe(4001);
    long.socket.destroy();
    // Request heads over 16 KiB get 431 on both ports.
    for (const p of [port, statusPort]) {
      const big = await rawPeer(p, '127.0.0.5');
      big.socket.write(upgradeRequest(`X-Big: ${'b'.repeat(20_000)}\r\n`));
      await big.closed;
      expect(statusLine(big)).toContain(' 431 ');
    }
    const m = await metrics();
    expect(sample(m, 'listener_oversize_total', 'store="1"')).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'listener_http_refused_total', 'status="431"')).toBe(1);
    expect(sample(m, 'status_http_refused_total', 'status="431"')).toBe(1);
    await honestProgress();
  });

  it('cuts slow-loris requests on both ports and a WebSocket frame trickled byte by byte', async () => {
    const slow = await Promise.all([port, statusPort].map((p) => rawPeer(p, '127.0.0.6')));
    const head = Buffer.from(`GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(400)}\r\n\r\n`);
    const trickling = slow.map((p) => trickle(p, head, 50));
    const ws = await upgradedPeer(port, '127.0.0.6');
    const frame = textFrame(JSON.stringify({ h: 'hello', v: PROTOCOL_VERSION, c: CLUSTER, s: 2_000_000_000, n: 'a'.repeat(32) }));
    const upgradeBytes = ws.written();
    const wsTrickle = trickle(ws, frame, 100);
    await honestProgress();
    await Promise.all([...slow.map((p) => p.closed), ws.closed, ...trickling, wsTrickle]);
    expect(slow.map(statusLine)).toEqual(['HTTP/1.1 408 Request Timeout', 'HTTP/1.1 408 Request Timeout']);
    // Cut by the handshake timeout before the trickled frame was complete.
    expect(ws.written() - upgradeBytes).toBeLessThan(frame.length);
    expect(closeCode(ws)).toBe(4001);
    await honestProgress();
  });

  it('backs off an address after repeated failed logins, without locking out other addresses', async () => {
    for (let i = 0; i < 3; i++) {
      const p = await failedLogin(port, '127.0.0.7', CLUSTER);
      expect(closeCode(p)).toBe(4001);
    }
    const banned = await upgradedPeer(port, '127.0.0.7');
    expect(statusLine(banned)).toContain(' 429 ');
    const other = await upgradedPeer(port, '127.0.0.8');
    expect(statusLine(other)).toContain(' 101 ');
    other.socket.destroy();
    await honestProgress();
    // A fresh honest client from 127.0.0.1 still connects and writes.
    const second = await connect({ endpoints: [server.url], secret: SECRET, cluster: CLUSTER });
    await second.put('second', 'ok');
    second.close();
    const m = await metrics();
    expect(sample(m, 'listener_upgrades_refused_total', 'reason="AuthBackoff"')).toBe(1);
    expect(sample(m, 'listener_handshakes_refused_total', 'code="BadProof"')).toBe(3);
    expect(sample(m, 'listener_addresses_in_backoff', 'store="1"')).toBe(1);
  });
});
