/**
 * The "slow storage" fault of the KV simulation: every storage call of a store resolves only after
 * a seeded number of virtual milliseconds, in a later step of the simulator's scheduler, the way a
 * real asynchronous engine does (lmdb commits on lmdb-js's write thread, so a `write` resolves in a
 * later macrotask, and reads wait for the batches written before them). With the memory engine
 * every call resolves in a microtask, so a store's loop turn runs from collect to advance in one
 * step and nothing else ever happens in the middle of it; with this wrapper each `await` of the
 * turn truly yields, and frames delivered, ticks, client requests, PD instructions, snapshot chunks
 * and other stores' turns interleave with it.
 *
 * What it keeps of the `StorageEngine` contract: a call takes effect when it is made (a `get`
 * sees every write called before it, a snapshot holds the writes called before it), only its
 * completion is late. Writes complete in the order they were made, and a read completes no
 * earlier than the writes made before it (lmdb-js's order). Everything is decided by the seeded
 * `Rand` and fires on the virtual clock's timers, so a seed replays exactly.
 *
 * A seed picks the fault (on about half the seeds) and its profile with a `Rand` of its own, so
 * that the other faults of a seed stay what they are whether it is on or not.
 */
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import type { Rand, StorageEngine, StorageSnapshot } from '../../src/ports.ts';
import { createSeededRand } from '../../src/util/rand.ts';

/** How slow a seed's storage is. */
export interface SlowStorageProfile {
  /** A write completes 0..writeMaxMs virtual ms after it was made (and after the writes before it). */
  writeMaxMs: number;
  /** A read (get, scan, size, snapshot, a snapshot's reads) completes 0..readMaxMs ms after it was made. */
  readMaxMs: number;
  /** Chance that a write stalls for `hiccupMs` more (a slow fsync). */
  hiccupRate: number;
  hiccupMs: number;
}

/** Write latencies a seed picks from (virtual ms; a store ticks every 50). */
const WRITE_MAX_MS = [1, 2, 5, 12, 30];

/**
 * The slow-storage profile of a seed, or undefined when the seed runs without the fault.
 * @param seed - the simulation seed.
 */
export function pickSlowStorage(seed: number): SlowStorageProfile | undefined {
  const rand = createSeededRand(seed * 6151 + 29);
  if (rand.int(2) === 0) return undefined;
  return {
    writeMaxMs: WRITE_MAX_MS[rand.int(WRITE_MAX_MS.length)],
    readMaxMs: rand.int(3),
    hiccupRate: rand.int(2) === 0 ? 0 : 0.01,
    hiccupMs: 50 + rand.int(150),
  };
}

/** One line for a profile, printed with the seed. */
export function describeSlowStorage(p: SlowStorageProfile | undefined): string {
  if (!p) return 'slow storage off';
  return `slow storage on (writes 0-${p.writeMaxMs} ms, reads 0-${p.readMaxMs} ms${p.hiccupRate > 0 ? `, ${p.hiccupRate * 100}% of writes ${p.hiccupMs} ms more` : ''})`;
}

/**
 * Wraps a store's engine so that its calls complete late, as described above. Keeps whatever else
 * the engine offers (the faulty engine's `crash` and counters).
 * @param engine - the engine (it still does the work, at call time).
 * @param clock - the simulation's virtual clock: completions are its timers.
 * @param rand - this engine's own seeded Rand.
 * @param profile - how slow.
 */
export function slowStorage<E extends StorageEngine>(engine: E, clock: VirtualClock, rand: Rand, profile: SlowStorageProfile): E {
  // Invariant: every write made so far completes at or before this virtual time.
  let writesDoneAt = 0;
  const delay = (maxMs: number) => rand.int(maxMs + 1);
  /** `call`'s outcome, handed over at virtual time `at` (a timer: a later step of the scheduler, even when `at` is now). */
  const at = <T>(dueMs: number, call: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      call.then(
        (v) => clock.setTimer(Math.max(0, dueMs - clock.now()), () => resolve(v)),
        (e) => clock.setTimer(Math.max(0, dueMs - clock.now()), () => reject(e)),
      );
    });
  const read = <T>(call: Promise<T>): Promise<T> => at(Math.max(clock.now() + delay(profile.readMaxMs), writesDoneAt), call);
  const write = <T>(call: Promise<T>): Promise<T> => {
    let ms = delay(profile.writeMaxMs);
    if (profile.hiccupRate > 0 && rand.next() < profile.hiccupRate) ms += profile.hiccupMs;
    writesDoneAt = Math.max(clock.now() + ms, writesDoneAt);
    return at(writesDoneAt, call);
  };
  // A snapshot's reads do not wait for later writes (the view holds none of them).
  const slowView = (view: StorageSnapshot): StorageSnapshot => ({
    get: (key) => at(clock.now() + delay(profile.readMaxMs), view.get(key)),
    scan: (options) => at(clock.now() + delay(profile.readMaxMs), view.scan(options)),
    release: () => view.release(),
  });
  const wrapped: StorageEngine = {
    get: (key) => read(engine.get(key)),
    scan: (options) => read(engine.scan(options)),
    write: (batch, options) => write(engine.write(batch, options)),
    approximateSize: (range) => read(engine.approximateSize(range)),
    snapshot: async () => slowView(await read(engine.snapshot())),
    close: () => engine.close(),
  };
  return Object.assign(Object.create(engine) as E, wrapped);
}
