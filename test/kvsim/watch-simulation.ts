/**
 * A deterministic simulation of `kv.watch` under faults: a cluster of 3 or 5 stores on the virtual
 * clock and the simulated network (crashes that lose unsynced writes, partitions, drops,
 * duplicates, reordering, splits and merges: `faultLoop` of `kv-simulation.ts`), writers putting
 * and deleting their own keys one at a time, and one watcher over the whole key space from
 * revision 1. At the end, per key, the watcher's events must be exactly the writes that applied,
 * in order: every acknowledged write, no write that certainly failed, writes of unknown outcome
 * at most once, nothing twice, revisions rising, and the last event the key's final value.
 *
 * Plain functions (no test framework), like `kv-simulation.ts`.
 */
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { createFaultyStorage } from '../../adapters/storage/faulty.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { KvClient } from '../../src/client/client.ts';
import type { KvWatchEvent } from '../../src/client/watch.ts';
import { FlotillaError } from '../../src/errors.ts';
import type { Rand } from '../../src/ports.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { drive, elapse } from '../store/helpers.ts';
import { faultLoop } from './kv-simulation.ts';

/** Keys the writers own (writer i owns every other key from i); faultLoop splits at e.g. `a3`, between `a` and `b`. */
const KEYS = ['a', 'b', 'f', 'g', 'k', 'm', 'p', 'q', 'u', 'w'];
const WRITERS = 2;
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

/** One write a writer tried, and what it learnt of its fate. */
interface Attempt {
  key: string;
  /** null: a delete. */
  value: string | null;
  fate: 'applied' | 'unknown' | 'refused';
}

export interface WatchSimResult {
  seed: number;
  failures: string[];
  writes: number;
  unknown: number;
  events: number;
  faults: number;
  /** Splits and merges that succeeded. */
  topology: number;
}

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

async function writer(kv: KvClient, id: number, rand: Rand, clock: VirtualClock, attempts: Attempt[], running: () => boolean): Promise<void> {
  const mine = KEYS.filter((_, i) => i % WRITERS === id);
  let n = 0;
  while (running()) {
    const key = mine[rand.int(mine.length)];
    const value = rand.int(5) === 0 ? null : `${id}.${++n}`;
    const attempt: Attempt = { key, value, fate: 'unknown' };
    attempts.push(attempt);
    try {
      await (value === null ? kv.delete(key) : kv.put(key, value));
      attempt.fate = 'applied';
    } catch (e) {
      // Timeout and ServerBusy say the write certainly did not apply; OutcomeUnknown that it may have.
      attempt.fate = e instanceof FlotillaError && e.code !== 'OutcomeUnknown' ? 'refused' : 'unknown';
    }
    await sleep(clock, rand.int(30));
  }
}

/** Splits a region at a key inside it and merges neighbours, now and then, under whatever faults hold. */
async function topologyLoop(kv: KvClient, rand: Rand, clock: VirtualClock, running: () => boolean, log: (what: string) => void, count: () => void): Promise<void> {
  while (running()) {
    await sleep(clock, 200 + rand.int(400));
    if (!running()) return;
    try {
      const regions = await kv.admin.regions();
      if (rand.int(2) === 0 || regions.length < 2) {
        const at = `${KEYS[rand.int(KEYS.length)]}${rand.int(10)}`;
        const region = regions.find((r) => (r.startKey.length === 0 || text(r.startKey)! < at) && (r.endKey.length === 0 || at < text(r.endKey)!));
        if (region) {
          await kv.admin.splitRegion(region.id, at);
          log(`split region ${region.id} at ${at}`);
          count();
        }
      } else {
        const i = rand.int(regions.length - 1);
        await kv.admin.mergeRegions(regions[i].id, regions[i + 1].id);
        log(`merged region ${regions[i + 1].id} into ${regions[i].id}`);
        count();
      }
    } catch (e) {
      log(`split/merge refused: ${(e as Error).message.slice(0, 80)}`);
    }
  }
}

/** Checks one key's events against its writes (see the module comment); returns the value the events leave. */
function checkKey(key: string, attempts: Attempt[], events: KvWatchEvent[], failures: string[]): string | null {
  let state: string | null = null;
  let j = 0;
  for (let i = 1; i < events.length; i++) {
    if (events[i].revision <= events[i - 1].revision) failures.push(`${key}: revision ${events[i].revision} after ${events[i - 1].revision} (duplicate or out of order)`);
  }
  for (const a of attempts) {
    const e = events[j];
    if (a.value === null && state === null) continue; // deleting an absent key changes nothing: no event
    const matches = e !== undefined && (a.value === null ? e.type === 'delete' : e.type === 'put' && text(e.value) === a.value);
    if (matches && a.fate !== 'refused') {
      state = a.value;
      j++;
    } else if (a.fate === 'applied') {
      failures.push(`${key}: acknowledged ${a.value === null ? 'delete' : `put ${a.value}`} has no event (next event: ${e ? `${e.type} ${text(e.value)} @${e.revision}` : 'none'})`);
      return state;
    }
  }
  if (j < events.length) failures.push(`${key}: ${events.length - j} event(s) match no write, first ${events[j].type} ${text(events[j].value)} @${events[j].revision}`);
  return state;
}

/** Runs one seed; reports found bugs in `failures` rather than throwing. */
export async function runWatchSimulation(opts: { seed: number; workloadMs?: number; verbose?: boolean }): Promise<WatchSimResult> {
  const rand = createSeededRand(opts.seed);
  const clock = createVirtualClock();
  const cluster = await createLocalCluster({
    // Three stores: every region has a replica on each, so neighbours can always merge.
    stores: 3,
    clock,
    seed: opts.seed,
    initialSplitKeys: ['e', 'n'],
    store: { logGcThreshold: 5 + rand.int(40) },
    storage: (id) => createFaultyStorage(createMemoryStorage(), { rand: createSeededRand(opts.seed * 31 + id) }),
  });
  const failures: string[] = [];
  const attempts: Attempt[] = [];
  const events: KvWatchEvent[] = [];
  let running = true;
  let faults = 0;
  let topology = 0;
  const log = (what: string) => opts.verbose && console.log(`t=${clock.now()} ${what}`);
  try {
    await drive(clock, cluster.waitForLeaders(), 60_000);
    const watcher = cluster.client({ retry: { timeoutMs: 2000, attemptTimeoutMs: 400 } }).watch({ start: '', end: '' }, { fromRevision: 1, pollIntervalMs: 20, limit: 16 });
    const watching = (async () => {
      for await (const e of watcher) events.push(e);
    })().catch((e) => failures.push(`watch failed: ${(e as Error).message}`));
    const writers = Array.from({ length: WRITERS }, (_, i) => writer(cluster.client({ retry: { timeoutMs: 2000, attemptTimeoutMs: 400 } }), i, createSeededRand(opts.seed * 977 + i), clock, attempts, () => running));
    const nemesis = faultLoop(cluster, clock, rand, () => running, opts.verbose ?? false, () => faults++, false);
    const reshaper = topologyLoop(cluster.client({ retry: { timeoutMs: 1500, attemptTimeoutMs: 400 } }), createSeededRand(opts.seed * 131 + 7), clock, () => running, log, () => topology++);
    await elapse(clock, opts.workloadMs ?? 3000);
    running = false;
    await drive(clock, Promise.all([...writers, nemesis, reshaper]), 60_000);
    cluster.heal();
    cluster.network?.setFaults({ dropRate: 0, duplicateRate: 0, reorder: false });
    for (const id of cluster.storeIds) await cluster.restartStore(id);
    await drive(clock, cluster.waitForLeaders(), 60_000);
    const final = cluster.client();
    const finals = new Map<string, string | null>();
    for (const key of KEYS) finals.set(key, text(await drive(clock, final.get(key), 60_000)));
    // Wait (bounded) until the watcher's last event of every key is that key's final value.
    const lastOf = (key: string) => {
      for (let i = events.length - 1; i >= 0; i--) if (text(events[i].key) === key) return events[i].type === 'delete' ? null : text(events[i].value);
      return null;
    };
    for (let waited = 0; waited < 30_000 && KEYS.some((k) => lastOf(k) !== finals.get(k)); waited += 100) await elapse(clock, 100);
    watcher.close();
    await drive(clock, watching, 10_000);
    for (const key of KEYS) {
      const left = checkKey(key, attempts.filter((a) => a.key === key), events.filter((e) => text(e.key) === key), failures);
      if (left !== finals.get(key)) failures.push(`${key}: events leave ${left}, the store has ${finals.get(key)}`);
    }
  } catch (e) {
    failures.push(`simulation error: ${(e as Error).stack ?? e}`);
  } finally {
    running = false;
    await cluster.close();
  }
  return { seed: opts.seed, failures, writes: attempts.length, unknown: attempts.filter((a) => a.fate === 'unknown').length, events: events.length, faults, topology };
}
