/**
 * The bare write path that issue 9 measures the in-page cluster against: what one JavaScript
 * thread allows for replicated writes with none of Raft's bookkeeping. Three replicas in this
 * thread; the leader takes up to {@link BATCH_MAX} queued writes per loop turn, msgpackr-encodes
 * them once, posts an exact-size copy (transferred, not cloned) to each of two followers over
 * MessageChannel; a follower applies the batch into a B+ tree (the memory engine's `OrderedMap`,
 * sorted-btree underneath) and acks; on the first ack (a majority with the leader) the leader
 * applies the batch itself and resolves its writers. No terms, elections or logs.
 *
 * Every run ends by checking that every acknowledged write is on every replica exactly once
 * (unique key and value per write, apply counts equal to key counts); a failing run throws.
 */
import process from 'node:process';
import { Packr } from 'msgpackr';
import { OrderedMap } from '../adapters/storage/ordered-map.ts';

/** Most writes per leader loop turn, hence per message. */
export const BATCH_MAX = 64;

const packr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false, bundleStrings: false, copyBuffers: false });

/** One replica's tree and how many puts it applied (a duplicate apply makes them differ from the key count). */
interface Replica {
  map: OrderedMap;
  applied: number;
}

interface Waiting {
  key: Uint8Array;
  value: Uint8Array;
  resolve: () => void;
}

interface InFlight {
  keys: Uint8Array[];
  values: Uint8Array[];
  waiting: Waiting[];
}

function applyBatch(r: Replica, keys: readonly Uint8Array[], values: readonly Uint8Array[]): void {
  const ops = keys.map((key, i) => ({ type: 'put' as const, key, value: values[i] }));
  r.map.apply(ops);
  r.applied += ops.length;
}

/** A follower: applies each batch it receives and acks its sequence number. */
function follower(port: MessagePort, replica: Replica): void {
  port.onmessage = (ev: MessageEvent) => {
    const [seq, keys, values] = packr.unpack(new Uint8Array(ev.data as ArrayBuffer)) as [number, Uint8Array[], Uint8Array[]];
    applyBatch(replica, keys, values);
    port.postMessage(seq);
  };
}

/** A bare three-replica write path in this thread. */
export interface BareCluster {
  /** Resolves once the write is on a majority and applied on the leader. */
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  /** Waits until both followers acked everything sent, checks every write in `expected` is on every replica exactly once, and closes. Throws otherwise. */
  verifyAndClose(expected: ReadonlyMap<string, Uint8Array>): Promise<void>;
}

/** Starts a bare cluster (see the module comment). */
export function createBareCluster(): BareCluster {
  const replicas: Replica[] = [0, 1, 2].map(() => ({ map: new OrderedMap(), applied: 0 }));
  const channels = [new MessageChannel(), new MessageChannel()];
  follower(channels[0].port2, replicas[1]);
  follower(channels[1].port2, replicas[2]);
  const queue: Waiting[] = [];
  const inFlight = new Map<number, InFlight>();
  const acks = [0, 0];
  let nextSeq = 1;
  let scheduled = false;
  let drained: (() => void) | undefined;

  const onAck = (follower: number, seq: number) => {
    acks[follower] = seq;
    const batch = inFlight.get(seq);
    if (batch) {
      // The first ack of a batch makes a majority with the leader: apply and answer.
      inFlight.delete(seq);
      applyBatch(replicas[0], batch.keys, batch.values);
      for (const w of batch.waiting) w.resolve();
    }
    if (drained && acks[0] === nextSeq - 1 && acks[1] === nextSeq - 1) drained();
  };
  channels[0].port1.onmessage = (ev: MessageEvent) => onAck(0, ev.data as number);
  channels[1].port1.onmessage = (ev: MessageEvent) => onAck(1, ev.data as number);

  const turn = () => {
    scheduled = false;
    while (queue.length > 0) {
      const waiting = queue.splice(0, BATCH_MAX);
      const seq = nextSeq++;
      const keys = waiting.map((w) => w.key);
      const values = waiting.map((w) => w.value);
      const packed = packr.pack([seq, keys, values]);
      inFlight.set(seq, { keys, values, waiting });
      for (const ch of channels) {
        // msgpackr returns a view into its own larger buffer: post an exact-size copy, transferred.
        const copy = Uint8Array.prototype.slice.call(packed); // Buffer#slice would be a view
        ch.port1.postMessage(copy.buffer, [copy.buffer]);
      }
    }
  };

  return {
    put(key, value) {
      return new Promise((resolve) => {
        queue.push({ key, value, resolve });
        if (!scheduled) {
          scheduled = true;
          // After the writers woken in this turn have queued their next write.
          queueMicrotask(turn);
        }
      });
    },
    async verifyAndClose(expected) {
      if (acks[0] !== nextSeq - 1 || acks[1] !== nextSeq - 1) await new Promise<void>((r) => (drained = r));
      try {
        replicas.forEach((r, i) => {
          if (r.map.keyCount !== expected.size || r.applied !== expected.size) {
            throw new Error(`bare replica ${i}: ${r.map.keyCount} keys from ${r.applied} applies, expected ${expected.size} acknowledged writes once each`);
          }
          for (const [hex, value] of expected) {
            const got = r.map.get(Buffer.from(hex, 'hex'));
            if (got === undefined || Buffer.compare(got, value) !== 0) throw new Error(`bare replica ${i}: acknowledged write ${hex} is missing or wrong`);
          }
        });
      } finally {
        for (const ch of channels) {
          ch.port1.close();
          ch.port2.close();
        }
      }
    },
  };
}

/** What a timed run of concurrent writers measured. */
export interface WritersRun {
  writes: number;
  seconds: number;
  /** Per-write latencies in ms, sorted. */
  latencies: number[];
  /** Process CPU time (all threads) per write, µs. */
  cpuMicrosPerWrite: number;
}

/**
 * Runs `count` concurrent writers for `ms` milliseconds, each awaiting `write` on its own unique
 * keys and values (16 and 100 bytes; `tag` keeps keys of separate runs apart). `keyOf` names writer
 * `w`'s `i`-th key (default: the tag leads, so one run's keys are contiguous).
 */
export async function runWriters(
  count: number,
  ms: number,
  tag: number,
  write: (key: string, value: string) => Promise<unknown>,
  keyOf: (w: number, i: number) => string = (w, i) => uniqueKey(tag * 1000 + w, i),
): Promise<WritersRun> {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: count }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const key = keyOf(w, i);
        const t0 = performance.now();
        await write(key, uniqueValue(key));
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return { writes: latencies.length, seconds, latencies, cpuMicrosPerWrite: (used.user + used.system) / latencies.length };
}

/** The `p` quantile (0..1) of sorted values; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/**
 * Runs `count` concurrent readers for `ms` milliseconds over `keys` (all acknowledged writes)
 * through `get`, and returns how many reads completed; a read that finds nothing throws (an
 * acknowledged write must be visible).
 */
export async function runReaders(count: number, ms: number, keys: readonly string[], get: (key: string) => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + ms;
  let reads = 0;
  await Promise.all(
    Array.from({ length: count }, async (_, r) => {
      for (let i = r; performance.now() < deadline; i += count) {
        const k = keys[i % keys.length];
        if ((await get(k)) == null) throw new Error(`read of acknowledged write ${k} found nothing`);
        reads++;
      }
    }),
  );
  return reads;
}

/**
 * Runs `count` concurrent writers against a fresh bare cluster for `ms` milliseconds (16-byte
 * keys, 100-byte values, each unique), verifies every replica, and returns writes per second and
 * the process CPU time per write (a figure other processes on the machine disturb less).
 */
export async function runBaseline(count: number, ms: number): Promise<{ writesPerSecond: number; writes: number; cpuMicrosPerWrite: number }> {
  const bare = createBareCluster();
  const expected = new Map<string, Uint8Array>();
  const run = await runWriters(count, ms, 0, async (k, v) => {
    const key = Buffer.from(k);
    const value = Buffer.from(v);
    await bare.put(key, value);
    expected.set(key.toString('hex'), value);
  });
  await bare.verifyAndClose(expected);
  return { writesPerSecond: run.writes / run.seconds, writes: run.writes, cpuMicrosPerWrite: run.cpuMicrosPerWrite };
}

/** A 16-byte key unique to writer `w`'s `i`-th write. */
export function uniqueKey(w: number, i: number): string {
  return `k${String(w).padStart(4, '0')}-${String(i).padStart(10, '0')}`;
}

/** A 100-byte value unique to `key`. */
export function uniqueValue(key: string): string {
  return key.padEnd(100, '.');
}
