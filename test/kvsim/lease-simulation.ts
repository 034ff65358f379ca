/**
 * TTL leases under faults: a 3-store in-page cluster with PD on the virtual clock and the
 * simulated network, the KV simulation's fault schedule (partitions, drops, duplicates,
 * reordering, crashes that lose unsynced writes, splits, merges), PD's leader killed now and then,
 * and owners that each grant a lease, put keys with it, keep it alive for a while, then either
 * revoke it or let it lapse. A reader checks, against the virtual clock:
 *
 * - never gone while kept alive: a key whose leased put succeeded is there in every read that
 *   returned before `G`, where `G` is the call time of the last keepAlive (or grant) answered in
 *   time (its answer came before the previous `G`) plus the ttl;
 * - never early: a keepAlive sent before `G` is never answered `LeaseNotFound`;
 * - never survives its revoke: no read that starts after `revoke` resolved sees a key of it, and
 *   a put with the revoked lease never leaves a key behind;
 * - gone within the bound: once faults are healed and PD's leader is stable, every key of a lease
 *   no longer kept alive is gone within ttl + {@link EXPIRY_SLACK_MS} of its last keepAlive.
 *
 * Plain functions (no test framework), like `kv-simulation.ts`.
 */
import { createLocalCluster, type LocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { createFaultyStorage } from '../../adapters/storage/faulty.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { KvClient } from '../../src/client/client.ts';
import { FlotillaError } from '../../src/errors.ts';
import type { Rand } from '../../src/ports.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { drive, elapse } from '../store/helpers.ts';
import { faultLoop } from './kv-simulation.ts';

const TTL_MS = 1500;
/** How late a lapsed lease's keys may still be seen once the cluster is calm: PD's round, the region revoke, a read. */
const EXPIRY_SLACK_MS = 3000;

export interface LeaseSimResult {
  seed: number;
  ok: boolean;
  failures: string[];
  leases: number;
  revoked: number;
  lapsed: number;
  reads: number;
  pdLeaderKills: number;
}

interface Owner {
  id: number;
  keys: string[];
  /** Keys whose leased put succeeded. */
  written: Set<string>;
  /** Keys whose leased put may have applied. */
  maybe: Set<string>;
  /** Guaranteed alive until this virtual time. */
  aliveUntil: number;
  /** When `revoke` resolved. */
  revokedAt?: number;
  /** Last keepAlive call (the lease lapses after it). */
  lastKeepAliveCall: number;
  keeping: boolean;
}

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

const code = (e: unknown) => (e instanceof FlotillaError ? e.code : 'other');

async function ownerLoop(kv: KvClient, n: number, rand: Rand, clock: VirtualClock, owners: Owner[], failures: string[], running: () => boolean): Promise<void> {
  while (running()) {
    const call = clock.now();
    let lease: { id: number; ttlMs: number };
    try {
      lease = await kv.grantLease(TTL_MS);
    } catch {
      await sleep(clock, 50);
      continue;
    }
    const o: Owner = { id: lease.id, keys: [], written: new Set(), maybe: new Set(), aliveUntil: call + TTL_MS, lastKeepAliveCall: call, keeping: true };
    owners.push(o);
    for (let k = 0; k < 1 + rand.int(3); k++) {
      const key = `${String.fromCharCode(97 + rand.int(26))}${n}-${owners.length}-${k}`;
      o.keys.push(key);
      o.maybe.add(key);
      try {
        await kv.put(key, 'v', { lease: o.id });
        o.written.add(key);
      } catch {
        // Unknown or refused (the lease may have lapsed under a partition): the key may exist.
      }
    }
    const beats = rand.int(12);
    for (let i = 0; i < beats && running(); i++) {
      await sleep(clock, 200 + rand.int(250));
      const c = clock.now();
      o.lastKeepAliveCall = c;
      try {
        await kv.keepAlive(o.id);
        if (clock.now() < o.aliveUntil) o.aliveUntil = Math.max(o.aliveUntil, c + TTL_MS);
      } catch (e) {
        if (code(e) === 'LeaseNotFound') {
          if (c < o.aliveUntil) failures.push(`lease ${o.id}: keepAlive sent at ${c} answered LeaseNotFound, but it was kept alive until ${o.aliveUntil}`);
          break;
        }
      }
    }
    o.keeping = false;
    if (rand.int(2) === 0) {
      o.aliveUntil = Math.min(o.aliveUntil, clock.now()); // the revoke may delete the keys from now on
      try {
        await kv.revoke(o.id);
        o.revokedAt = clock.now();
        // A put with the revoked lease must never leave a key behind.
        const late = `${o.keys[0]}-late`;
        o.keys.push(late);
        await kv.put(late, 'v', { lease: o.id }).then(
          () => failures.push(`lease ${o.id}: a put after its revoke succeeded`),
          () => undefined,
        );
      } catch {
        // The revoke's outcome is unknown: the lease lapses anyway.
      }
    }
  }
}

async function readerLoop(kv: KvClient, rand: Rand, clock: VirtualClock, owners: Owner[], failures: string[], running: () => boolean, count: () => void): Promise<void> {
  while (running()) {
    await sleep(clock, 50 + rand.int(100));
    if (owners.length === 0) continue;
    const o = owners[rand.int(owners.length)];
    if (o.keys.length === 0) continue;
    const key = o.keys[rand.int(o.keys.length)];
    const call = clock.now();
    const revokedBefore = o.revokedAt !== undefined && o.revokedAt <= call;
    let value: Uint8Array | null;
    try {
      value = await kv.get(key);
    } catch {
      continue;
    }
    count();
    const ret = clock.now();
    if (value === null && o.written.has(key) && ret < o.aliveUntil) failures.push(`lease ${o.id}: key ${key} gone at ${ret}, but the lease was kept alive until ${o.aliveUntil}`);
    if (value !== null && revokedBefore) failures.push(`lease ${o.id}: key ${key} read at ${call} after the revoke resolved at ${o.revokedAt}`);
  }
}

/** The store whose replica leads PD's group, if any. */
function pdLeader(cluster: LocalCluster): number | undefined {
  return cluster.storeIds.find((id) => cluster.store(id)?.leases?.isLeader());
}

/** Runs one seed; reports what it found in `failures` (never throws for a bug it finds). */
export async function runLeaseSimulation(seed: number, opts: { workloadMs?: number; verbose?: boolean } = {}): Promise<LeaseSimResult> {
  const rand = createSeededRand(seed);
  const clock = createVirtualClock();
  const cluster = await createLocalCluster({
    stores: 3,
    clock,
    seed,
    initialSplitKeys: ['h', 'q'],
    store: { logGcThreshold: 5 + rand.int(40) },
    pd: { heartbeatMs: 300, scheduleMs: 300, config: { storeDownMs: 1500, splitKeys: 1 << 20, splitBytes: 1 << 30, mergeKeys: 1, mergeBytes: 1, operatorTimeoutMs: 5000 } },
    storage: async (id) => createFaultyStorage(createMemoryStorage(), { rand: createSeededRand(seed * 31 + id) }),
  });
  const failures: string[] = [];
  const owners: Owner[] = [];
  let running = true;
  let reads = 0;
  let kills = 0;
  const log = (what: string) => opts.verbose && console.log(`t=${clock.now()} ${what}`);
  try {
    await drive(clock, cluster.waitForLeaders(), 60_000);
    await elapse(clock, 1500);
    const client = () => cluster.client({ retry: { timeoutMs: 2000, attemptTimeoutMs: 400 } });
    const workers = [0, 1, 2].map((n) => ownerLoop(client(), n, createSeededRand(seed * 977 + n), clock, owners, failures, () => running));
    const reader = readerLoop(client(), createSeededRand(seed * 13 + 1), clock, owners, failures, () => running, () => reads++);
    const nemesis = faultLoop(cluster, clock, createSeededRand(seed * 7 + 3), () => running, opts.verbose ?? false, () => undefined, false);
    // PD's leader is killed now and then, and restarted a while later (its lease table is soft state).
    const killer = (async () => {
      while (running) {
        await sleep(clock, 1500 + rand.int(2000));
        const leader = pdLeader(cluster);
        if (!running || leader === undefined || !cluster.store(leader)) continue;
        kills++;
        log(`kill PD leader ${leader}`);
        await cluster.stopStore(leader);
        await sleep(clock, 300 + rand.int(1500));
        await cluster.restartStore(leader);
        log(`restart ${leader}`);
      }
    })();
    await elapse(clock, opts.workloadMs ?? 12_000);
    running = false;
    await drive(clock, Promise.all([...workers, reader, nemesis, killer]), 120_000);
    // Calm: heal, every store up, PD led; then no lease is kept alive any more.
    cluster.heal();
    cluster.network?.setFaults({ dropRate: 0, duplicateRate: 0, reorder: false });
    for (const id of cluster.storeIds) if (!cluster.store(id)) await cluster.restartStore(id);
    await drive(clock, cluster.waitForLeaders(), 60_000);
    await elapse(clock, 1000);
    const calm = clock.now();
    const deadline = calm + TTL_MS + EXPIRY_SLACK_MS;
    await elapse(clock, deadline - clock.now());
    const final = cluster.client();
    for (const o of owners) {
      for (const key of o.keys) {
        const value = await drive(clock, final.get(key), 60_000);
        if (value !== null) failures.push(`lease ${o.id}: key ${key} still there at ${clock.now()}, ${TTL_MS + EXPIRY_SLACK_MS} ms after the cluster calmed at ${calm} (last keepAlive ${o.lastKeepAliveCall})`);
      }
    }
    const leftover = await drive(clock, final.leases(), 60_000);
    if (leftover.length > 0) failures.push(`leases still active at the end: ${leftover.join(',')}`);
  } catch (e) {
    failures.push(`simulation error: ${(e as Error).stack ?? String(e)}`);
  } finally {
    running = false;
    await cluster.close().catch(() => undefined);
  }
  return {
    seed,
    ok: failures.length === 0,
    failures,
    leases: owners.length,
    revoked: owners.filter((o) => o.revokedAt !== undefined).length,
    lapsed: owners.filter((o) => o.revokedAt === undefined).length,
    reads,
    pdLeaderKills: kills,
  };
}
