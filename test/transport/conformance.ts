/**
 * The transport conformance suite: every adapter's test file calls {@link describeTransport} with a
 * harness that starts connected endpoints, lets frames flow, and breaks a link.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FrameError } from '../../src/codec/errors.ts';
import type { Frame, FrameItem } from '../../src/codec/schema.ts';
import type { Clock, DisconnectInfo, Transport } from '../../src/ports.ts';
import { createChunkAssembler, sendChunked } from '../../src/transport/chunks.ts';

/** Options a test may ask of a harness. */
export interface HarnessOptions {
  /** Per-link queue (or window) in bytes beyond which `send` must return false. */
  queueBytesMax?: number;
  /** Frame size limit of every endpoint. */
  frameBytesMax?: number;
}

/** How the suite drives one adapter. */
export interface TransportHarness {
  /** The clock the adapter runs on (the simulator's virtual clock, or the real one). */
  readonly clock: Clock;
  /** Starts one endpoint per id, all linked to each other and ready to send. */
  start(ids: number[], options?: HarnessOptions): Promise<Transport[]>;
  /** Lets frames in flight arrive (advances a virtual clock, or waits for real I/O). */
  settle(): Promise<void>;
  /** Breaks the link between `a` and `b`; it must come back by itself (reconnect) or by the harness. */
  interrupt(a: Transport, b: Transport): Promise<void>;
  /** Releases everything `start` made. */
  stop(): Promise<void>;
}

/** Records what an endpoint receives. */
export function record(t: Transport): { frames: Frame[]; disconnects: DisconnectInfo[] } {
  const out = { frames: [] as Frame[], disconnects: [] as DisconnectInfo[] };
  t.onFrame((f) => out.frames.push(f));
  t.onDisconnect((d) => out.disconnects.push(d));
  return out;
}

/** A request item whose id says which send it was. */
export function req(id: number, bytes = 16): FrameItem {
  return { kind: 'request', requestId: id, payload: new Uint8Array(bytes).fill(id & 0xff) };
}

function ids(frames: Frame[], from: number): number[] {
  return frames.filter((f) => f.from === from).flatMap((f) => f.items.map((i) => (i.kind === 'request' || i.kind === 'response' ? i.requestId : -1)));
}

/** Calls `settle` until `done()` or `attempts` run out. */
export async function settleUntil(h: TransportHarness, done: () => boolean, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts && !done(); i++) await h.settle();
}

/**
 * Runs the conformance suite against one adapter.
 * @param name - the adapter's name in test titles.
 * @param makeHarness - a fresh harness per test.
 */
export function describeTransport(name: string, makeHarness: () => TransportHarness): void {
  describe(`Transport conformance: ${name}`, () => {
    let h: TransportHarness;
    afterEach(async () => {
      await h?.stop();
    });

    it('delivers each link in order, with authenticated sender and recipient', async () => {
      h = makeHarness();
      const [a, b, c] = await h.start([1, 2, 3]);
      const got = record(b);
      for (let i = 0; i < 300; i++) {
        expect(a.send(2, [req(i)])).toBe(true);
        expect(c.send(2, [req(1000 + i), req(2000 + i)])).toBe(true);
      }
      await settleUntil(h, () => got.frames.length === 600);
      expect(ids(got.frames, 1)).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(ids(got.frames, 3)).toEqual(Array.from({ length: 300 }, (_, i) => [1000 + i, 2000 + i]).flat());
      expect(got.frames.every((f) => f.to === 2 && (f.from === 1 || f.from === 3))).toBe(true);
      expect(got.frames.filter((f) => f.from === 1)[5].items[0]).toMatchObject({ kind: 'request', requestId: 5 });
    });

    it('carries a large frame intact and refuses one over the limit on send', async () => {
      h = makeHarness();
      const [a, b] = await h.start([1, 2], { frameBytesMax: 8 * 1024 * 1024 });
      const got = record(b);
      const payload = new Uint8Array(6 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 4093) payload[i] = i % 251;
      expect(a.send(2, [{ kind: 'response', requestId: 9, payload }])).toBe(true);
      await settleUntil(h, () => got.frames.length === 1);
      const item = got.frames[0]?.items[0];
      expect(item?.kind === 'response' && item.payload.length === payload.length && item.payload.every((b, i) => b === payload[i])).toBe(true);
      const tooBig = () => a.send(2, [{ kind: 'response', requestId: 10, payload: new Uint8Array(9 * 1024 * 1024) }]);
      expect(tooBig).toThrow(FrameError);
    });

    it('stops sending and delivering on close, tells the peer, and closes idempotently', async () => {
      h = makeHarness();
      const [a, b] = await h.start([1, 2]);
      const gotA = record(a);
      const gotB = record(b);
      await a.close();
      await a.close();
      expect(a.send(2, [req(1)])).toBe(false);
      await settleUntil(h, () => gotB.disconnects.some((d) => d.storeId === 1));
      expect(gotB.disconnects.some((d) => d.storeId === 1)).toBe(true);
      b.send(1, [req(2)]);
      await h.settle();
      expect(gotA.frames).toEqual([]);
    });

    it('pushes back when a link is full, and recovers once it drains', async () => {
      h = makeHarness();
      const [a, b] = await h.start([1, 2], { queueBytesMax: 256 * 1024 });
      const got = record(b);
      let accepted = 0;
      while (accepted < 1000 && a.send(2, [req(accepted, 32 * 1024)])) accepted++;
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(1000);
      expect(a.queuedBytes(2)).toBeGreaterThan(0);
      await settleUntil(h, () => got.frames.length === accepted && a.queuedBytes(2) === 0);
      expect(ids(got.frames, 1)).toEqual(Array.from({ length: accepted }, (_, i) => i));
      expect(a.queuedBytes(2)).toBe(0);
      expect(a.send(2, [req(5000)])).toBe(true);
    });

    it('sends a 12 MiB payload in 256 KiB chunks without queueing past the high-water mark', async () => {
      h = makeHarness();
      const [a, b] = await h.start([1, 2], { queueBytesMax: 2 * 1024 * 1024 });
      const payload = new Uint8Array(12 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 1009) payload[i] = (i >>> 10) & 0xff;
      const assembler = createChunkAssembler();
      let received: Uint8Array | undefined;
      b.onFrame((f) => {
        for (const item of f.items) {
          if (item.kind !== 'chunk') continue;
          const r = assembler.add(f.from, item);
          if (r.kind === 'complete') received = r.payload;
          expect(r.kind).not.toBe('dropped');
        }
      });
      let queuedMax = 0;
      let sent = false;
      const sending = sendChunked(a, h.clock, 2, 7, payload, { chunkBytes: 256 * 1024, highWaterBytes: 1024 * 1024 }).then(() => {
        sent = true;
      });
      await settleUntil(
        h,
        () => {
          queuedMax = Math.max(queuedMax, a.queuedBytes(2));
          return sent && received !== undefined;
        },
        3000,
      );
      await sending;
      expect(queuedMax).toBeLessThanOrEqual(1024 * 1024 + 4096);
      expect(received?.length).toBe(payload.length);
      expect(received?.every((byte, i) => byte === payload[i])).toBe(true);
      expect(assembler.heldBytes()).toBe(0);
    });

    it('delivers again after the link is broken and comes back', async () => {
      h = makeHarness();
      const [a, b] = await h.start([1, 2]);
      const got = record(b);
      expect(a.send(2, [req(1)])).toBe(true);
      await settleUntil(h, () => got.frames.length === 1);
      await h.interrupt(a, b);
      // Frames sent while the link is down may be lost (Raft retries); keep sending until one lands.
      let n = 100;
      await settleUntil(h, () => {
        a.send(2, [req(n++)]);
        return got.frames.length > 1;
      });
      expect(got.frames.length).toBeGreaterThan(1);
      const before = got.frames.length;
      for (let i = 0; i < 20; i++) a.send(2, [req(10_000 + i)]);
      await settleUntil(h, () => ids(got.frames, 1).includes(10_019));
      const tail = ids(got.frames.slice(before), 1).filter((x) => x >= 10_000);
      expect(tail).toEqual(Array.from({ length: 20 }, (_, i) => 10_000 + i));
    });
  });
}
