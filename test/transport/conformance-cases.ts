/**
 * The transport conformance cases as plain async functions with their own assertions (no test
 * runner imports), so the same cases run under vitest in Node and Chromium (`conformance.ts`) and
 * as a plain script under Deno (`deno-conformance.ts`).
 *
 * Every case sends only between the second endpoint `start` returns and the others (the others
 * send to it, it sends back to the first), so a harness may put the second endpoint in another
 * process or runtime behind a proxy (`remote-harness.ts`) and link only the others to it.
 */
import { FrameError } from '../../src/codec/errors.ts';
import type { Frame, FrameItem } from '../../src/codec/schema.ts';
import type { Clock } from '../../src/ports.ts';
import type { DisconnectInfo, Transport } from '../../src/transport/port.ts';
import { createChunkAssembler, sendChunked } from '../../src/transport/chunks.ts';

/** Options a test may ask of a harness. */
export interface HarnessOptions {
  /** Per-link queue (or window) in bytes beyond which `send` must return false. */
  queueBytesMax?: number;
  /** Frame size limit of every endpoint. */
  frameBytesMax?: number;
  /**
   * The receiving endpoint should take its frames slowly, so that the link fills up. A harness
   * whose receiver runs in another process must honour it: a fast reader on another core can
   * drain a socket as fast as a sending loop fills it, and then the link is never full.
   */
  slowReceiver?: boolean;
}

/** How the suite drives one adapter. */
export interface TransportHarness {
  /** The clock the adapter runs on (the simulator's virtual clock, or the real one). */
  readonly clock: Clock;
  /** Starts one endpoint per id, linked to each other (at least: the second to every other one) and ready to send. */
  start(ids: number[], options?: HarnessOptions): Promise<Transport[]>;
  /** Lets frames in flight arrive (advances a virtual clock, or waits for real I/O). */
  settle(): Promise<void>;
  /** Breaks the link between `a` and `b`; it must come back by itself (reconnect) or by the harness. */
  interrupt(a: Transport, b: Transport): Promise<void>;
  /** Releases everything `start` made. */
  stop(): Promise<void>;
}

/** A conformance case: its title and its body, which throws on failure. */
export interface ConformanceCase {
  name: string;
  run(h: TransportHarness): Promise<void>;
}

/** A failed conformance assertion. */
export class ConformanceError extends Error {
  override name = 'ConformanceError';
}

function show(v: unknown): string {
  const s = JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `<${x.length} bytes>` : x));
  return s === undefined ? String(v) : s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

/** Throws a {@link ConformanceError} saying `what` unless `ok`. */
export function check(ok: boolean, what: string): void {
  if (!ok) throw new ConformanceError(what);
}

/** Throws unless `actual` and `expected` are equal as JSON (arrays of ids, counts). */
export function checkEqual(actual: unknown, expected: unknown, what: string): void {
  const a = show(actual);
  const e = show(expected);
  if (a !== e) throw new ConformanceError(`${what}: expected ${e}, got ${a}`);
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

const range = (n: number, at = 0) => Array.from({ length: n }, (_, i) => at + i);

/** Calls `settle` until `done()` or `attempts` run out. */
export async function settleUntil(h: Pick<TransportHarness, 'settle'>, done: () => boolean, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts && !done(); i++) await h.settle();
}

/** The cases, in the order they run. */
export const conformanceCases: readonly ConformanceCase[] = [
  {
    name: 'delivers each link in order, with authenticated sender and recipient',
    async run(h) {
      const [a, b, c] = await h.start([1, 2, 3]);
      const got = record(b);
      for (let i = 0; i < 300; i++) {
        check(a.send(2, [req(i)]), `send ${i} from 1 accepted`);
        check(c.send(2, [req(1000 + i), req(2000 + i)]), `send ${i} from 3 accepted`);
      }
      await settleUntil(h, () => got.frames.length === 600);
      checkEqual(ids(got.frames, 1), range(300), 'ids from store 1, in order');
      checkEqual(ids(got.frames, 3), range(300).flatMap((i) => [1000 + i, 2000 + i]), 'ids from store 3, in order');
      check(
        got.frames.every((f) => f.to === 2 && (f.from === 1 || f.from === 3)),
        'every frame is addressed to 2 and comes from 1 or 3',
      );
      const item = got.frames.filter((f) => f.from === 1)[5].items[0];
      check(item.kind === 'request' && item.requestId === 5 && item.payload.length === 16 && item.payload[0] === 5, 'the sixth frame from 1 is request 5');
    },
  },
  {
    name: 'carries a large frame intact and refuses one over the limit on send',
    async run(h) {
      const [a, b] = await h.start([1, 2], { frameBytesMax: 8 * 1024 * 1024 });
      const got = record(b);
      const payload = new Uint8Array(6 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 4093) payload[i] = i % 251;
      check(a.send(2, [{ kind: 'response', requestId: 9, payload }]), 'the 6 MiB frame is accepted');
      await settleUntil(h, () => got.frames.length === 1);
      const item = got.frames[0]?.items[0];
      check(item?.kind === 'response' && item.payload.length === payload.length && item.payload.every((x, i) => x === payload[i]), 'the 6 MiB payload arrives intact');
      let thrown: unknown;
      try {
        a.send(2, [{ kind: 'response', requestId: 10, payload: new Uint8Array(9 * 1024 * 1024) }]);
      } catch (err) {
        thrown = err;
      }
      check(thrown instanceof FrameError, `a 9 MiB frame throws FrameError on send (got ${String(thrown)})`);
    },
  },
  {
    name: 'stops sending and delivering on close, tells the peer, and closes idempotently',
    async run(h) {
      const [a, b] = await h.start([1, 2]);
      const gotA = record(a);
      const gotB = record(b);
      await a.close();
      await a.close();
      check(a.send(2, [req(1)]) === false, 'send after close returns false');
      await settleUntil(h, () => gotB.disconnects.some((d) => d.storeId === 1));
      check(
        gotB.disconnects.some((d) => d.storeId === 1),
        `the peer is told store 1 went away (got ${show(gotB.disconnects)})`,
      );
      b.send(1, [req(2)]);
      await h.settle();
      checkEqual(gotA.frames.length, 0, 'frames delivered to the closed endpoint');
    },
  },
  {
    name: 'pushes back when a link is full, and recovers once it drains',
    async run(h) {
      const [a, b] = await h.start([1, 2], { queueBytesMax: 256 * 1024, slowReceiver: true });
      const got = record(b);
      let accepted = 0;
      while (accepted < 1000 && a.send(2, [req(accepted, 32 * 1024)])) accepted++;
      check(accepted > 0 && accepted < 1000, `some sends accepted, then refused (accepted ${accepted})`);
      check(a.queuedBytes(2) > 0, 'bytes are queued while the link is full');
      await settleUntil(h, () => got.frames.length === accepted && a.queuedBytes(2) === 0);
      checkEqual(ids(got.frames, 1), range(accepted), 'every accepted frame arrives, in order');
      checkEqual(a.queuedBytes(2), 0, 'queued bytes once drained');
      check(a.send(2, [req(5000)]), 'send accepted again once drained');
    },
  },
  {
    name: 'sends a 12 MiB payload in 256 KiB chunks without queueing past the high-water mark',
    async run(h) {
      const [a, b] = await h.start([1, 2], { queueBytesMax: 2 * 1024 * 1024 });
      const payload = new Uint8Array(12 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 1009) payload[i] = (i >>> 10) & 0xff;
      const assembler = createChunkAssembler();
      let received: Uint8Array | undefined;
      let dropped = 0;
      b.onFrame((f) => {
        for (const item of f.items) {
          if (item.kind !== 'chunk') continue;
          const r = assembler.add(f.from, item);
          if (r.kind === 'complete') received = r.payload;
          if (r.kind === 'dropped') dropped++;
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
      checkEqual(dropped, 0, 'chunks the assembler dropped');
      check(queuedMax <= 1024 * 1024 + 4096, `queued at most the high-water mark plus one chunk (queued ${queuedMax})`);
      checkEqual(received?.length, payload.length, 'reassembled length');
      check(received?.every((byte, i) => byte === payload[i]) === true, 'the reassembled payload equals the one sent');
      checkEqual(assembler.heldBytes(), 0, 'bytes the assembler still holds');
    },
  },
  {
    name: 'delivers again after the link is broken and comes back',
    async run(h) {
      const [a, b] = await h.start([1, 2]);
      const got = record(b);
      check(a.send(2, [req(1)]), 'first send accepted');
      await settleUntil(h, () => got.frames.length === 1);
      checkEqual(got.frames.length, 1, 'frames before the break');
      await h.interrupt(a, b);
      // Frames sent while the link is down may be lost (Raft retries); keep sending until one lands.
      let n = 100;
      await settleUntil(h, () => {
        a.send(2, [req(n++)]);
        return got.frames.length > 1;
      });
      check(got.frames.length > 1, 'a frame arrives after the link comes back');
      const before = got.frames.length;
      for (let i = 0; i < 20; i++) a.send(2, [req(10_000 + i)]);
      await settleUntil(h, () => ids(got.frames, 1).includes(10_019));
      const tail = ids(got.frames.slice(before), 1).filter((x) => x >= 10_000);
      checkEqual(tail, range(20, 10_000), 'the 20 frames sent after reconnecting, in order');
    },
  },
];

/** What {@link runConformance} reports per case. */
export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

/**
 * Runs every case with a fresh harness, stopping it afterwards, and reports each outcome (for
 * runtimes without a test runner).
 * @param makeHarness - a fresh harness per case.
 */
export async function runConformance(makeHarness: () => TransportHarness): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of conformanceCases) {
    const started = Date.now();
    const h = makeHarness();
    let error: string | undefined;
    try {
      await c.run(h);
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    try {
      await h.stop();
    } catch (err) {
      error ??= `stop: ${String(err)}`;
    }
    const ms = Date.now() - started;
    results.push(error === undefined ? { name: c.name, ok: true, ms } : { name: c.name, ok: false, error, ms });
  }
  return results;
}
