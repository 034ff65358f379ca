// Transports in real headless Chromium: MessageChannel conformance in the page, and the browser's
// own WebSocket dialling Node stores (started by transport-setup.ts): the conformance suite with
// the browser's stores as clients of a Node server store, both ways round, and an echo store.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createMessageChannelTransport } from '../../adapters/transport/message-channel.ts';
import { createWebSocketTransport } from '../../adapters/transport/websocket.ts';
import { createWebSocketServer } from '../../adapters/transport/websocket-server.browser.ts';
import type { Frame } from '../../src/codec/schema.ts';
import { describeTransport, req } from '../transport/conformance.ts';
import { messageChannelHarness } from '../transport/message-channel-harness.ts';
import { conformanceCases } from '../transport/conformance-cases.ts';
import { remoteHarness } from '../transport/remote-harness.ts';
import { hostForDriver, type ReverseResults } from '../transport/remote-host-session.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

it('runs in a real browser', () => {
  expect(navigator.userAgent).toMatch(/Chrome\//);
  expect(typeof globalThis.crypto.subtle.sign).toBe('function');
});

describeTransport('MessageChannel (Chromium)', messageChannelHarness);

describeTransport('WebSocket client (Chromium, native WebSocket) -> Node server (ws)', () => remoteHarness({ controlUrl: inject('transportRemoteUrl'), mode: 'client' }));

// The other way round: the cases run in Node (transport-setup.ts) with Node stores sending to a
// store in this page, which dials them with the native WebSocket (a page cannot listen).
describe('Transport conformance: Node server (ws) -> WebSocket client (Chromium, native WebSocket)', () => {
  let results: ReverseResults;
  beforeAll(async () => {
    results = await hostForDriver(inject('transportReverseUrl'), { WebSocket: globalThis.WebSocket });
  }, 60_000);
  for (const c of conformanceCases) {
    it(c.name, () => {
      const r = results.server.find((x) => x.name === c.name);
      expect(r?.error).toBeUndefined();
      expect(r?.ok).toBe(true);
    });
  }
  it('ran every case, and only with Node listening', () => {
    expect(results.server.map((r) => r.name)).toEqual(conformanceCases.map((c) => c.name));
    expect(results.client).toBeNull();
  });
});

describe('MessageChannel between the page and a Worker', () => {
  it('echoes frames through a store in a Worker, in order, buffers transferred', async () => {
    const worker = new Worker(new URL('./transport-worker.ts', import.meta.url), { type: 'module' });
    const page = createMessageChannelTransport({ localId: 1, clusterId: 'mc-worker' });
    const channel = new MessageChannel();
    const linked = new Promise((resolve) => {
      worker.onmessage = resolve;
    });
    worker.postMessage({ peerId: 1, port: channel.port2 }, [channel.port2]);
    await linked;
    page.connect(2, channel.port1);
    const got: Frame[] = [];
    page.onFrame((f) => got.push(f));
    for (let i = 0; i < 300; i++) expect(page.send(2, [req(i, i === 150 ? 512 * 1024 : 32)])).toBe(true);
    for (let w = 0; w < 500 && got.length < 300; w++) await sleep(5);
    expect(got.map((f) => (f.items[0].kind === 'response' ? f.items[0].requestId : -1))).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(got[150].items[0].kind === 'response' && got[150].items[0].payload.length).toBe(512 * 1024);
    await page.close();
    worker.terminate();
  });
});

describe('WebSocket from the browser to a Node store', () => {
  it('authenticates with the native WebSocket and echoes frames in order, large ones intact', async () => {
    const t = await createWebSocketTransport({ localId: 7, clusterId: 'browser-test', secret: 'flotilla browser test secret!!', peers: { 100: inject('transportEchoUrl') } });
    await t.connected(100, 20_000);
    const got: Frame[] = [];
    t.onFrame((f) => got.push(f));
    for (let i = 0; i < 200; i++) expect(t.send(100, [req(i, i === 100 ? 1024 * 1024 : 64)])).toBe(true);
    for (let w = 0; w < 500 && got.length < 200; w++) await sleep(10);
    expect(got.map((f) => (f.items[0].kind === 'response' ? f.items[0].requestId : -1))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const big = got[100].items[0];
    expect(big.kind === 'response' && big.payload.length === 1024 * 1024 && big.payload.every((b) => b === 100)).toBe(true);
    await t.close();
  });

  it('is refused with a wrong secret', async () => {
    const t = await createWebSocketTransport({ localId: 8, clusterId: 'browser-test', secret: 'not the browser test secret!!', peers: { 100: inject('transportEchoUrl') }, reconnectDelayMs: { min: 50, max: 100 } });
    for (let w = 0; w < 200 && !t.stats().handshakeRefused.BadProof; w++) await sleep(10);
    expect(t.stats().handshakeRefused.BadProof).toBeGreaterThan(0);
    await t.close();
  });

  it('cannot start a WebSocket server in a browser (the browser build says why)', async () => {
    await expect(createWebSocketServer({ accept() {} })).rejects.toThrow(/cannot run in a browser/);
  });
});
