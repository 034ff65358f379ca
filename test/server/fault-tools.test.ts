/**
 * The tools of the black-box fault tests, on their own: the fault proxy identifies a dialler from
 * its WebSocket hello and applies one-way, silent and reset cuts to that link only, and the
 * lost-write check finds an acknowledged write missing from the final reads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type FaultProxy, LINK_UP, type LinkPolicy, startFaultProxy } from './fault-proxy.ts';
import { type FaultOp, lostWrites } from './fault-workload.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Waits until `cond` holds (polling) or throws after `ms`. */
async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An echo server: it answers every message with `echo:<message>`, and records what it got. */
async function echoServer(): Promise<{ port: number; got: string[] }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const got: string[] = [];
  wss.on('connection', (s) => s.on('message', (m) => {
    got.push(String(m));
    s.send(`echo:${m}`);
  }));
  cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
  return { port: (wss.address() as { port: number }).port, got };
}

/** A dialler that says hello as store `id`, and what it received. */
async function dial(proxy: FaultProxy, id: number): Promise<{ ws: WebSocket; got: string[]; closed: () => boolean }> {
  const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}`);
  const got: string[] = [];
  let closed = false;
  ws.on('message', (m) => got.push(String(m)));
  ws.on('close', () => {
    closed = true;
  });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ h: 'hello', v: 1, c: 'flotilla', s: id, n: '00' }));
  cleanups.push(() => ws.terminate());
  return { ws, got, closed: () => closed };
}

describe('fault proxy', () => {
  it('identifies each dialler and cuts only its link, one way, silently or with a reset', async () => {
    const server = await echoServer();
    const policies = new Map<number, LinkPolicy>();
    const proxy = await startFaultProxy(server.port, (id) => policies.get(id) ?? LINK_UP);
    cleanups.push(() => proxy.close());
    const a = await dial(proxy, 2);
    const b = await dial(proxy, 3);
    await until('both hellos echoed', () => a.got.length === 1 && b.got.length === 1);
    expect([...proxy.diallers().keys()].sort()).toEqual([2, 3]);
    // Store 2's bytes no longer reach the server; store 3's link is untouched.
    policies.set(2, { reset: false, fromDialler: false, toDialler: true });
    a.ws.send('a1');
    b.ws.send('b1');
    await until('a1 dropped', () => proxy.faulted().droppedBytes > 0);
    await until('b1 echoed', () => b.got.includes('echo:b1'));
    expect(server.got).not.toContain('a1');
    expect(a.got).toEqual([expect.stringContaining('echo:')]);
    // The link that dropped bytes is closed once it is up again (its framing cannot resume).
    policies.delete(2);
    proxy.refresh();
    await until('a closed', a.closed);
    expect(b.closed()).toBe(false);
    // A reset closes store 3's link and any new one from it once it says hello.
    policies.set(3, { reset: true, fromDialler: true, toDialler: true });
    proxy.refresh();
    await until('b closed', b.closed);
    const again = await dial(proxy, 3);
    await until('the new link from 3 closed', again.closed);
    expect(server.got.filter((m) => m.includes('"s":3'))).toHaveLength(1);
    expect(proxy.unreadable()).toBe(0);
  });

  it('counts a first message that is no hello as unreadable', async () => {
    const server = await echoServer();
    const proxy = await startFaultProxy(server.port, () => LINK_UP);
    cleanups.push(() => proxy.close());
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}`);
    cleanups.push(() => ws.terminate());
    await new Promise<void>((r) => ws.once('open', () => r()));
    ws.send('not a hello');
    await until('counted', () => proxy.unreadable() === 1);
  });
});

describe('lost-write check', () => {
  const put = (value: string, call: number, ret: number, unknown = false): FaultOp => (unknown ? { clientId: 1, input: { op: 'put', key: 'k', value }, call, unknown } : { clientId: 1, input: { op: 'put', key: 'k', value }, output: null, call, return: ret });

  it('accepts the last write, or one that may have taken effect after an acknowledged one', () => {
    expect(lostWrites([put('a', 0, 1), put('b', 2, 3)], new Map([['k', 'b']]))).toEqual([]);
    // b was concurrent with a: either order is possible.
    expect(lostWrites([put('a', 0, 5), put('b', 2, 3)], new Map([['k', 'a']]))).toEqual([]);
    // An unknown write may land any time after its call.
    expect(lostWrites([put('a', 0, 1, true), put('b', 2, 3)], new Map([['k', 'a']]))).toEqual([]);
  });

  it('reports an acknowledged write overwritten by an earlier one, a vanished key, and a value never written', () => {
    expect(lostWrites([put('a', 0, 1), put('b', 2, 3)], new Map([['k', 'a']]))[0]).toMatch(/acknowledged put of b .* is missing/);
    expect(lostWrites([put('a', 0, 1)], new Map([['k', null]]))[0]).toMatch(/acknowledged put of a .* is missing: the final value is absent/);
    expect(lostWrites([put('a', 0, 1)], new Map([['k', 'zz']]))[0]).toMatch(/final value zz was never written/);
  });
});
