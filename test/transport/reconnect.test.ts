/**
 * Reconnect after a silent cut (issue 19, docs/reconnect.md), on the WebSocket transport over
 * in-memory sockets (fake-sockets.ts): a newer authenticated link replaces a half-dead one at once,
 * a hello that does not authenticate displaces nothing, both ends dialling settle on one link, a
 * blackholed link is found dead by both ends, and replies never cross from a replaced link.
 */
import { describe, expect, it } from 'vitest';
import { openRemoteLink } from '../../adapters/client/remote-link.ts';
import { createClientIdentity } from '../../adapters/client/remote-caller.ts';
import { createWebSocketTransport, type WebSocketTransport, type WebSocketTransportOptions } from '../../adapters/transport/websocket.ts';
import { StoreUnreachableError } from '../../src/client/connector.ts';
import { encodeFrame } from '../../src/codec/frame.ts';
import type { Frame } from '../../src/codec/schema.ts';
import { decodeCall, encodeAnswer } from '../../src/server/protocol.ts';
import { createClientHandshake } from '../../src/transport/handshake.ts';
import { importClusterSecret } from '../../src/transport/hmac.ts';
import { record, req } from './conformance-cases.ts';
import { createFakeNet, type FakeNet, type FakeSocket } from './fake-sockets.ts';

const SECRET = 'flotilla reconnect test secret!!';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `cond` holds (checked every 5 ms, up to a generous 10 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await sleep(5);
  }
  throw new Error(`never: ${what}`);
}

const requestIds = (frames: Frame[]) => frames.flatMap((f) => f.items.map((i) => (i.kind === 'request' ? i.requestId : -1)));

/** A transport on `net`, listening at `ws://<id>` unless `listen` is false. */
async function store(net: FakeNet, localId: number, options: Partial<WebSocketTransportOptions> = {}, listen = true): Promise<WebSocketTransport> {
  const t = await createWebSocketTransport({ localId, clusterId: 'c', secret: SECRET, WebSocket: net.WebSocket, reconnectDelayMs: { min: 10, max: 40 }, handshakeTimeoutMs: 300, linkIdleTimeoutMs: 60_000, ...options });
  if (listen) net.listen(`ws://${localId}`, (s) => t.accept(s));
  return t;
}

describe('reconnect: a newer authenticated link replaces a half-dead one', { timeout: 20_000 }, () => {
  it('takes the new link at once, closes the old one, and drops what the old one still brings', async () => {
    const net = createFakeNet();
    const t2 = await store(net, 2);
    const got = record(t2);
    const first = await store(net, 1, { peers: { 2: 'ws://2' } }, false);
    await first.connected(2);
    first.send(2, [req(1)]);
    await until(() => got.frames.length === 1, 'the first frame arrives');
    const oldLink = got.frames[0].link!;
    expect(t2.linkOf(1)).toBe(oldLink);
    // The cut: store 1's end goes silent; store 2's end stays open and hears nothing.
    const oldSocket = net.dialled('ws://2')[0];
    oldSocket.blackholed = true;
    // Store 1 comes back (a new process, same id and data) and dials again.
    const again = await store(net, 1, { peers: { 2: 'ws://2' } }, false);
    await again.connected(2);
    await until(() => t2.stats().linksReplaced === 1, 'store 2 replaces the link');
    expect(t2.stats().handshakeRefused).toEqual({});
    expect(got.disconnects).toEqual([{ storeId: 1, reason: 'link replaced by a newer authenticated one' }]);
    expect(t2.linkOf(1)).toBeGreaterThan(oldLink);
    // Store 2 closed its end of the old link with 4003 (the close never completes: it is blackholed).
    expect(oldSocket.peer!.readyState).toBeGreaterThanOrEqual(2);
    again.send(2, [req(2)]);
    await until(() => got.frames.length === 2, 'the new link carries frames');
    expect(got.frames[1].link).toBe(t2.linkOf(1));
    // A frame of the old link arriving late is dropped, never delivered after the new link's.
    const late = encodeFrame({ clusterId: 'c', from: 1, to: 2, items: [req(3)] });
    (oldSocket.peer!.onmessage as unknown as (ev: { data: Uint8Array }) => void)({ data: late });
    await sleep(20);
    expect(requestIds(got.frames)).toEqual([1, 2]);
    // Store 2's frames to store 1 go to the new link.
    const back = record(again);
    t2.send(1, [req(4)]);
    await until(() => back.frames.length === 1, 'the reply direction works');
    for (const t of [first, again, t2]) await t.close();
  });

  it('never lets a hello that does not authenticate displace the current link', async () => {
    const net = createFakeNet();
    const t2 = await store(net, 2);
    const got = record(t2);
    const honest = await store(net, 1, { peers: { 2: 'ws://2' } }, false);
    await honest.connected(2);
    const link = t2.linkOf(1);
    // A stranger without the secret claims id 1: a hello, then a made-up proof.
    const key = await importClusterSecret(globalThis.crypto, 'not the cluster secret, no no!');
    const hello = createClientHandshake({ clusterId: 'c', localId: 1, crypto: globalThis.crypto, key }).hello();
    const forged = new net.WebSocket('ws://2') as FakeSocket;
    forged.onopen = (() => forged.send(hello)) as never;
    forged.onmessage = (() => forged.send(JSON.stringify({ h: 'proof', p: 'ab'.repeat(32) }))) as never;
    // Another one sends the hello and then nothing (it waits out the handshake timeout).
    const silent = new net.WebSocket('ws://2') as FakeSocket;
    const hello2 = createClientHandshake({ clusterId: 'c', localId: 1, crypto: globalThis.crypto, key }).hello();
    silent.onopen = (() => silent.send(hello2)) as never;
    // And a store with the wrong secret dials as store 1.
    const wrong = await store(net, 1, { peers: { 2: 'ws://2' }, secret: 'another secret of 32 bytes!!!!!' }, false);
    await until(() => (t2.stats().handshakeRefused.BadProof ?? 0) >= 2 && (t2.stats().handshakeRefused.Timeout ?? 0) >= 1, 'all three are refused');
    expect(t2.stats().linksReplaced).toBe(0);
    expect(t2.linkOf(1)).toBe(link);
    expect(got.disconnects).toEqual([]);
    honest.send(2, [req(1)]);
    await until(() => got.frames.length === 1, 'the honest link still carries frames');
    for (const t of [honest, wrong, t2]) await t.close();
  });

  it('settles on the link the higher id dialled when both ends dial each other, without taking turns', async () => {
    for (let round = 0; round < 5; round++) {
      const net = createFakeNet();
      const t1 = await store(net, 1, { peers: { 2: 'ws://2' } });
      const t2 = await store(net, 2, { peers: { 1: 'ws://1' } });
      const byTwo = () => net.dialled('ws://1');
      const byOne = () => net.dialled('ws://2');
      const open = (s: FakeSocket) => s.readyState === 1 && s.peer!.readyState === 1;
      await until(() => t1.linkOf(2) !== undefined && t2.linkOf(1) !== undefined && byTwo().some(open) && !byOne().some((s) => s.readyState === 1 || s.peer!.readyState === 1), `round ${round}: one link, dialled by store 2`);
      const links = [t1.linkOf(2), t2.linkOf(1)];
      const dials = [byOne().length, byTwo().length];
      // Store 1 does not dial while it has store 2's link; nothing is replaced back and forth.
      await sleep(200);
      expect([t1.linkOf(2), t2.linkOf(1)]).toEqual(links);
      expect([byOne().length, byTwo().length]).toEqual(dials);
      expect(t1.stats().linksReplaced + t2.stats().linksReplaced).toBeLessThanOrEqual(2);
      const at1 = record(t1);
      const at2 = record(t2);
      t1.send(2, [req(1)]);
      t2.send(1, [req(2)]);
      await until(() => at1.frames.length === 1 && at2.frames.length === 1, 'frames cross the link both ways');
      await t1.close();
      await t2.close();
    }
  });
});

describe('reconnect: the dead-link detector', { timeout: 20_000 }, () => {
  it('closes a blackholed link on both ends, and the dialler dials again', async () => {
    const net = createFakeNet();
    // Store 2 gives up first, so it cannot be store 1's redial that ends its link.
    const t2 = await store(net, 2, { linkIdleTimeoutMs: 100 });
    const t1 = await store(net, 1, { peers: { 2: 'ws://2' }, linkIdleTimeoutMs: 300 }, false);
    const at2 = record(t2);
    const at1 = record(t1);
    await t1.connected(2);
    // An idle link stays up: the keepalives keep it alive.
    await sleep(500);
    expect(at1.disconnects).toEqual([]);
    const first = net.dialled('ws://2')[0];
    first.blackholed = true;
    first.peer!.blackholed = true;
    // Store 2, which never dials, notices too.
    await until(() => at2.disconnects.length === 1 && at1.disconnects.length === 1, 'both ends give the link up');
    expect(at2.disconnects[0].reason).toMatch(/nothing received for 100 ms/);
    expect(at1.disconnects[0].reason).toMatch(/nothing received for 300 ms/);
    await until(() => net.dialled('ws://2').length >= 2 && t2.linkOf(1) !== undefined, 'store 1 dials again');
    t1.send(2, [req(1)]);
    await until(() => at2.frames.length === 1, 'the new link carries frames');
    await t1.close();
    await t2.close();
  });
});

describe('reconnect: two live processes with one id', { timeout: 20_000 }, () => {
  it('warn, and wait the longest back-off before pushing each other off again', async () => {
    const net = createFakeNet();
    // Two processes both run as store 2 and dial store 1 (the higher id dials the lower).
    const t1 = await store(net, 1);
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
    const backoff = { min: 10, max: 400 };
    const a = await store(net, 2, { peers: { 1: 'ws://1' }, reconnectDelayMs: backoff, logger }, false);
    await a.connected(1);
    const b = await store(net, 2, { peers: { 1: 'ws://1' }, reconnectDelayMs: backoff, logger }, false);
    await until(() => t1.stats().linksReplaced >= 1 && warnings.some((w) => /another process running as store 2/.test(w)), 'the first process learns it was replaced');
    const start = performance.now();
    const before = t1.stats().linksReplaced;
    await sleep(1000);
    const elapsed = performance.now() - start;
    // Each turn waits at least max / 2 = 200 ms; at full speed there would be hundreds.
    expect(t1.stats().linksReplaced - before).toBeLessThanOrEqual(Math.ceil(elapsed / (backoff.max / 2)) + 1);
    for (const t of [a, b, t1]) await t.close();
  });
});

describe('reconnect: a stalled process', { timeout: 20_000 }, () => {
  it('does not count its own stall against its peers', async () => {
    const net = createFakeNet();
    const t2 = await store(net, 2, { linkIdleTimeoutMs: 200 });
    const t1 = await store(net, 1, { peers: { 2: 'ws://2' }, linkIdleTimeoutMs: 200 }, false);
    const at1 = record(t1);
    const at2 = record(t2);
    await t1.connected(2);
    await sleep(100);
    // Both ends (one thread) stall for longer than the idle timeout: no keepalive could be read.
    const until300 = performance.now() + 300;
    while (performance.now() < until300) {
      // busy: a stalled event loop
    }
    await sleep(300);
    expect([at1.disconnects, at2.disconnects]).toEqual([[], []]);
    t1.send(2, [req(1)]);
    await until(() => at2.frames.length === 1, 'the link still carries frames');
    await t1.close();
    await t2.close();
  });
});

describe('reconnect: client calls across a replaced link', { timeout: 20_000 }, () => {
  it('fails the call made on the replaced link and never hands its reply to a call on the new one', async () => {
    const net = createFakeNet();
    const t2 = await store(net, 2);
    const held: Frame[] = [];
    t2.onFrame((f) => held.push(f));
    const identity = await createClientIdentity('c', SECRET);
    const l1 = await openRemoteLink({ url: 'ws://2', identity, WebSocket: net.WebSocket, expectStoreId: 2 });
    const p1 = l1.call({ t: 'stores' }, 10_000);
    const settled1 = p1.then(
      () => 'answered',
      (e) => e,
    );
    await until(() => held.length === 1, 'the first call arrives');
    // The same client dials again (its old link went half-dead from where it stands).
    const l2 = await openRemoteLink({ url: 'ws://2', identity, WebSocket: net.WebSocket, expectStoreId: 2 });
    const e1 = await settled1;
    expect(e1).toBeInstanceOf(StoreUnreachableError);
    expect((e1 as StoreUnreachableError).maybeSent).toBe(true);
    expect(l1.alive()).toBe(false);
    const p2 = l2.call({ t: 'stores' }, 10_000);
    await until(() => held.length === 2, 'the second call arrives');
    const [r1, r2] = held.map((f) => f.items[0] as { requestId: number; payload: Uint8Array });
    expect(decodeCall(r1.payload)).toEqual({ t: 'stores' });
    expect(r2.requestId).not.toBe(r1.requestId);
    expect(held[0].link).not.toBe(t2.linkOf(identity.localId));
    expect(held[1].link).toBe(t2.linkOf(identity.localId));
    // Even a server that answered the old call anyway would not answer the new one with it.
    t2.send(identity.localId, [{ kind: 'response', requestId: r1.requestId, payload: encodeAnswer({ ok: true, value: 'old' }) }]);
    t2.send(identity.localId, [{ kind: 'response', requestId: r2.requestId, payload: encodeAnswer({ ok: true, value: 'new' }) }]);
    expect(await p2).toBe('new');
    l2.close();
    await t2.close();
  });
});
