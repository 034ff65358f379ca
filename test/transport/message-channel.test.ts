import { describe, expect, it } from 'vitest';
import { createMessageChannelTransport } from '../../adapters/transport/message-channel.ts';
import { encodeFrame } from '../../src/codec/frame.ts';
import { describeTransport, record, req, settleUntil } from './conformance.ts';
import { messageChannelHarness } from './message-channel-harness.ts';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

describeTransport('MessageChannel', messageChannelHarness);

describe('MessageChannel transport', () => {
  it('transfers each frame as an exact-size ArrayBuffer', async () => {
    const channel = new MessageChannel();
    const a = createMessageChannelTransport({ localId: 1, clusterId: 'mc' });
    a.connect(2, channel.port1);
    const seen: unknown[] = [];
    channel.port2.onmessage = (ev) => seen.push(ev.data);
    a.send(2, [req(7, 1000)]);
    await tick();
    expect(seen[0]).toBeInstanceOf(ArrayBuffer);
    expect((seen[0] as ArrayBuffer).byteLength).toBe(encodeFrame({ clusterId: 'mc', from: 1, to: 2, items: [req(7, 1000)] }).length);
    await a.close();
    channel.port2.close();
  });

  it('copies frames where postMessage refuses a transfer list (workerd)', async () => {
    const channel = new MessageChannel();
    const a = createMessageChannelTransport({ localId: 1, clusterId: 'mc' });
    const b = createMessageChannelTransport({ localId: 2, clusterId: 'mc' });
    let refused = 0;
    // workerd's MessagePort: "Transfer list is not supported".
    const noTransfer = new Proxy(channel.port1, {
      get(port, name) {
        if (name === 'postMessage') {
          return (data: unknown, transfer?: Transferable[]) => {
            if (transfer !== undefined) {
              refused++;
              throw new Error('Transfer list is not supported');
            }
            port.postMessage(data);
          };
        }
        const v = Reflect.get(port, name, port);
        return typeof v === 'function' ? v.bind(port) : v;
      },
      set(port, name, value) {
        return Reflect.set(port, name, value, port);
      },
    });
    a.connect(2, noTransfer);
    b.connect(1, channel.port2);
    const got = record(b);
    expect(a.send(2, [req(1, 100)])).toBe(true);
    expect(a.send(2, [req(2, 100)])).toBe(true);
    await settleUntil({ settle: tick }, () => got.frames.length === 2);
    expect(got.frames.map((f) => (f.items[0].kind === 'request' ? f.items[0].requestId : -1))).toEqual([1, 2]);
    expect(refused).toBeGreaterThanOrEqual(1);
    await a.close();
    await b.close();
  });

  it('drops and counts bad frames, tells the peer why, and cuts it off after three', async () => {
    const channel = new MessageChannel();
    const b = createMessageChannelTransport({ localId: 2, clusterId: 'mc' });
    const got = record(b);
    b.connect(1, channel.port2);
    const notices: { t: string; code?: string; reason: string }[] = [];
    channel.port1.onmessage = (ev) => notices.push(ev.data);
    const wrongCluster = encodeFrame({ clusterId: 'other', from: 1, to: 2, items: [] });
    const spoofed = encodeFrame({ clusterId: 'mc', from: 3, to: 2, items: [] });
    channel.port1.postMessage(new Uint8Array([0xc1]).buffer);
    channel.port1.postMessage(wrongCluster.buffer);
    channel.port1.postMessage('not a frame');
    channel.port1.postMessage(spoofed.buffer);
    await settleUntil({ settle: tick } as never, () => notices.some((n) => n.t === 'bye'), 50);
    expect(got.frames).toEqual([]);
    expect(b.stats()).toMatchObject({ accepted: 0, rejected: 3, disconnected: 1, rejectedByCode: { FrameMalformed: 2, WrongCluster: 1 } });
    expect(notices.filter((n) => n.t === 'refused').map((n) => n.code)).toEqual(['FrameMalformed', 'WrongCluster', 'FrameMalformed']);
    expect(notices.find((n) => n.t === 'bye')?.reason).toMatch(/too many bad frames/);
    expect(got.disconnects).toEqual([{ storeId: 1, reason: expect.stringMatching(/too many bad frames/) }]);
    expect(b.send(1, [req(1)])).toBe(false);
    await b.close();
    channel.port1.close();
  });
});

describe('MessageChannel between Node worker threads', () => {
  it('echoes frames through a store in a worker thread, in order', async () => {
    const { Worker } = await import('node:worker_threads');
    // The worker registers tsx itself, then loads the TypeScript store module.
    const entry = new URL('./mc-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    const worker = new Worker(boot, { eval: true });
    const page = createMessageChannelTransport({ localId: 1, clusterId: 'mc-worker' });
    const got = record(page);
    const channel = new MessageChannel();
    const linked = new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    worker.postMessage({ peerId: 1, port: channel.port2 }, [channel.port2 as never]);
    await linked;
    page.connect(2, channel.port1);
    for (let i = 0; i < 300; i++) expect(page.send(2, [req(i, i === 150 ? 512 * 1024 : 32)])).toBe(true);
    await settleUntil({ settle: tick } as never, () => got.frames.length === 300, 1000);
    expect(got.frames.map((f) => (f.items[0].kind === 'response' ? f.items[0].requestId : -1))).toEqual(Array.from({ length: 300 }, (_, i) => i));
    worker.postMessage('close');
    await settleUntil({ settle: tick } as never, () => got.disconnects.length > 0, 400);
    expect(got.disconnects).toEqual([{ storeId: 2, reason: 'closed' }]);
    await page.close();
    await worker.terminate();
  });
});
