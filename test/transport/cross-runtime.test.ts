import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Frame } from '../../src/codec/schema.ts';
import type { Transport } from '../../src/transport/port.ts';
import { req } from './conformance.ts';
import { sleep, startStore, type TestStore } from './ws-helpers.ts';

const children: ChildProcess[] = [];
const bin = (name: string) => join(process.cwd(), 'node_modules/.bin', name);

/** Starts `ws-peer.ts` under `runtime` and resolves with the URL it listens on. */
function spawnPeer(runtime: 'node' | 'deno', args: string[]): Promise<string> {
  const script = 'test/transport/ws-peer.ts';
  const child = runtime === 'node' ? spawn(bin('tsx'), [script, ...args]) : spawn(bin('deno'), ['run', '-A', '--quiet', script, ...args]);
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${runtime} peer did not start: ${out} ${err}`)), 60_000);
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /ready (\S+) (\w+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        expect(m[2]).toBe(runtime);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`${runtime} peer exited with ${code}: ${err}`)));
  });
}

/** Sends `n` requests (some large) to `peer` and checks every response comes back, in order, intact. */
async function echo(t: Transport, peer: number, n: number): Promise<void> {
  const got: Frame[] = [];
  t.onFrame((f) => {
    if (f.from === peer) got.push(f);
  });
  for (let i = 0; i < n; i++) expect(t.send(peer, [req(i, i % 50 === 0 ? 256 * 1024 : 100)])).toBe(true);
  for (let w = 0; w < 1000 && got.length < n; w++) await sleep(10);
  const ids = got.flatMap((f) => f.items.map((it) => (it.kind === 'response' ? it.requestId : -1)));
  expect(ids).toEqual(Array.from({ length: n }, (_, i) => i));
  const big = got[50].items[0];
  expect(big.kind === 'response' && big.payload.length === 256 * 1024 && big.payload.every((b) => b === 50)).toBe(true);
}

afterAll(() => {
  for (const c of children) c.kill();
});

describe('WebSocket across processes and runtimes', { timeout: 120_000 }, () => {
  const stores: TestStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it('Node store dials a store in another Node process', async () => {
    const url = await spawnPeer('node', ['12']);
    const a = await startStore(11, { peers: { 12: url } });
    stores.push(a);
    await a.transport.connected(12, 30_000);
    await echo(a.transport, 12, 300);
  });

  it('Node store dials a Deno store (Deno.upgradeWebSocket server)', async () => {
    const url = await spawnPeer('deno', ['22']);
    const a = await startStore(21, { peers: { 22: url } });
    stores.push(a);
    await a.transport.connected(22, 30_000);
    await echo(a.transport, 22, 300);
  });

  it('a Deno store (native WebSocket client) dials a Node store', async () => {
    const a = await startStore(31);
    stores.push(a);
    await spawnPeer('deno', ['32', `31=${a.server.url}`]);
    await a.transport.connected(32, 30_000);
    await echo(a.transport, 32, 300);
  });
});
