/**
 * The hostile-peer limits under Deno (`Deno.serve` rather than node:http and ws): one `flotilla
 * serve` process under Deno with tight limits; a stalled handshake is closed, the per-address cap
 * answers 429, repeated failed logins put the address in back-off (other addresses unaffected), a
 * frame header over the payload limit is refused with 1009, and an honest client on 127.0.0.1 keeps
 * writing throughout. Counters are read from /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteKvClient } from '../../adapters/client/remote.ts';
import { startCluster, type TestCluster } from './helpers.ts';
import { closeCode, failedLogin, frameHeader, statusLine, until, upgradedPeer } from './hostile-peers.ts';

let cluster: TestCluster;
let client: RemoteKvClient;
let writes = 0;

async function write(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await client.put(`honest/${writes % 50}`, String(writes));
    writes++;
  }
}

beforeAll(async () => {
  const limits = ['--no-pd', '--replicas', '1', '--handshake-timeout-ms', '2000', '--unauthenticated-per-address-max', '3', '--auth-failures-max', '2', '--auth-ban-ms', '600000'];
  cluster = await startCluster(1, ['deno'], limits);
  client = await cluster.client();
  await write(3);
}, 120_000);

afterAll(async () => {
  client?.close();
  await cluster?.close();
});

describe('hostile connections against a Deno store', { timeout: 90_000 }, () => {
  it('closes a stalled handshake, caps an address, backs off failed logins, refuses an oversized frame, and keeps serving', async () => {
    const port = cluster.ports[0];
    const stalled = await upgradedPeer(port, '127.0.0.2');
    expect(statusLine(stalled)).toContain(' 101 ');
    await write(3);
    await until(() => closeCode(stalled) !== undefined, 30_000);
    expect(closeCode(stalled)).toBe(4001);
    stalled.socket.destroy();

    const held = await Promise.all([1, 2, 3].map(() => upgradedPeer(port, '127.0.0.3')));
    expect(held.map(statusLine).every((l) => l.includes(' 101 '))).toBe(true);
    const extra = await upgradedPeer(port, '127.0.0.3');
    expect(statusLine(extra)).toContain(' 429 ');
    for (const p of held) p.socket.destroy();
    await write(3);

    for (let i = 0; i < 2; i++) await failedLogin(port, '127.0.0.4', 'flotilla');
    const banned = await upgradedPeer(port, '127.0.0.4');
    expect(statusLine(banned)).toContain(' 429 ');
    const other = await upgradedPeer(port, '127.0.0.5');
    expect(statusLine(other)).toContain(' 101 ');
    // Oversized on its header: Deno refuses the frame with 1009 (or drops the socket outright).
    other.socket.write(frameHeader(2, 2 ** 40));
    await until(() => closeCode(other) !== undefined || other.socket.destroyed, 30_000);
    other.socket.destroy();
    await write(3);

    const metrics = await (await fetch(`http://127.0.0.1:${cluster.httpPorts[0]}/metrics`)).text();
    const value = (needle: string) => Number(metrics.split('\n').find((l) => l.includes(needle))?.split(' ').pop() ?? 0);
    expect(value('listener_upgrades_refused_total{store="1",reason="TooManyFromAddress"}')).toBe(1);
    expect(value('listener_upgrades_refused_total{store="1",reason="AuthBackoff"}')).toBe(1);
    expect(value('listener_handshakes_refused_total{store="1",code="BadProof"}')).toBe(2);
    expect(value('listener_handshakes_refused_total{store="1",code="Timeout"}')).toBe(1);
  });
});
