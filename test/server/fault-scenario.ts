/**
 * One black-box fault run (issue 19): real `flotilla serve` processes behind fault proxies
 * (fault-cluster.ts), concurrent clients (fault-workload.ts), and a nemesis that, on a schedule
 * drawn from a seeded RNG, partitions links (reset or silent), cuts links one way, cuts clients
 * from a store, kills -9 and restarts stores, pauses them with SIGSTOP/SIGCONT (sometimes cut off
 * while paused and resumed still cut off: the stale-lease case) and, with PD, wipes a store's data
 * directory. Each fault heals before the next. At the end everything heals, every replica catches
 * up, every key is read through a quorum, and the history is checked.
 *
 * The seed fixes the fault schedule and the clients' choices, not the processes' timing: a replay
 * (`FAULT_SEED=...`) injects the same faults in the same order, not the same interleavings.
 * Plain functions: the tests (test/server/faults-*.test.ts) and `npm run soak:cluster` call them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import type { Rand } from '../../src/ports.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { type FaultCluster, startFaultCluster } from './fault-cluster.ts';
import { clientLoop, finalReads, linearizabilityProblem, lostWrites, type Recorded } from './fault-workload.ts';
import { SECRET } from './helpers.ts';

/** Options of {@link runFaultScenario}. */
export interface FaultScenarioOptions {
  stores: 3 | 5;
  /** With the placement driver (else `--no-pd`). */
  pd: boolean;
  /** How long the workload runs under faults. */
  seconds: number;
  seed: number;
  /** Wipe a store's data directory during the run (PD only: the store rejoins under a new id). */
  wipe?: boolean;
  clients?: number;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

/** What a run found. */
export interface FaultScenarioResult {
  seed: number;
  seconds: number;
  operations: number;
  /** Operations that completed (reads and writes with an answer). */
  acknowledged: number;
  unknown: number;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  /** Failed calls by error code. */
  errors: Record<string, number>;
  /** What the proxies' faults did: bytes dropped, connections closed. */
  proxies: { droppedBytes: number; closed: number };
  /** The highest Raft term of any region at the end (elections happened when above 1). */
  term: number;
  /** Everything wrong: non-linearizable history, lost writes, proxy bypasses. Empty on success. */
  anomalies: string[];
  /** The stores' log tails (for a failure report). */
  logs: string;
}

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every region has a leader and every replica of it (on a live store) has applied
 * up to the leader's commit index; replicas on stores that no longer exist (wiped) must be gone.
 */
export async function settle(c: FaultCluster, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no status yet';
  while (performance.now() < deadline) {
    const statuses = await Promise.all(c.slots.map((s) => c.status(s)));
    if (statuses.every((s) => s !== undefined)) {
      const byStore = new Map(statuses.map((s) => [s.storeId, s]));
      const leaders = new Map<number, (typeof statuses)[number]['regions'][number]>();
      for (const st of statuses) for (const r of st.regions) if (r.role === 'leader' && (leaders.get(r.id)?.term ?? -1) < r.term) leaders.set(r.id, r);
      const ids = new Set(statuses.flatMap((st) => st.regions.map((r) => r.id)));
      const lagging = [...ids].flatMap((id) => {
        const lead = leaders.get(id);
        if (!lead || lead.commit === 0) return [`region ${id}: no leader`];
        return lead.peers.flatMap((p) => {
          const mine = byStore.get(p.storeId)?.regions.find((r) => r.id === id);
          return mine && mine.applied >= lead.commit ? [] : [`region ${id}: store ${p.storeId} at ${mine?.applied ?? 'none'} < ${lead.commit}`];
        });
      });
      if (lagging.length === 0) return;
      last = lagging.slice(0, 4).join('; ');
    } else {
      last = `slots ${c.slots.filter((_, i) => statuses[i] === undefined).join(',')} do not answer /status`;
    }
    await sleep(200);
  }
  // Say what each store saw: its regions' roles, terms and indexes (a stuck election shows here).
  const views = await Promise.all(c.slots.map(async (s) => {
    const st = await c.status(s);
    return `slot ${s}: ${st ? st.regions.map((r) => `r${r.id === Number.MAX_SAFE_INTEGER ? 'PD' : r.id} ${r.role} t${r.term} lead ${r.leaderStoreId} c${r.commit} a${r.applied}`).join(', ') : c.state(s)}`;
  }));
  throw new Error(`the cluster did not settle within ${timeoutMs} ms: ${last}\n  ${views.join('\n  ')}`);
}

/** A store that leads some region now (picked by `rand`), or a random slot. */
async function someLeader(c: FaultCluster, rand: Rand): Promise<number> {
  const running = c.slots.filter((s) => c.state(s) === 'running');
  const statuses = await Promise.all(running.map((s) => c.status(s, 1000)));
  const leading = running.filter((_, i) => statuses[i]?.regions.some((r) => r.role === 'leader'));
  const pool = leading.length > 0 ? leading : running;
  return pool[rand.int(pool.length)];
}

const between = (rand: Rand, lo: number, hi: number) => lo + rand.int(hi - lo + 1);

/** Injects one fault, holds it, heals it; returns its kind. */
async function oneFault(c: FaultCluster, rand: Rand, log: (s: string) => void): Promise<string> {
  const n = c.slots.length;
  const target = rand.int(2) === 0 ? await someLeader(c, rand) : c.slots[rand.int(n)];
  const others = c.slots.filter((s) => s !== target);
  const silent = rand.int(2) === 0;
  const cutBetween = (a: number[], b: number[]) => {
    for (const x of a) {
      for (const y of b) {
        if (silent) {
          c.dropDirection(x, y);
          c.dropDirection(y, x);
        } else c.reset(x, y);
      }
    }
  };
  const hold = between(rand, 1000, 5000);
  const kind = ['partition', 'isolate', 'one-way', 'kill', 'pause', 'pause-cut', 'clients'][rand.int(7)];
  switch (kind) {
    case 'partition': {
      const shuffled = [...c.slots].sort(() => rand.next() - 0.5);
      const cut = between(rand, 1, n - 1);
      cutBetween(shuffled.slice(0, cut), shuffled.slice(cut));
      log(`partition ${silent ? 'silent' : 'reset'} ${shuffled.slice(0, cut)} | ${shuffled.slice(cut)} for ${hold} ms`);
      await sleep(hold);
      break;
    }
    case 'isolate':
      cutBetween([target], others);
      log(`isolate ${silent ? 'silent' : 'reset'} slot ${target} for ${hold} ms`);
      await sleep(hold);
      break;
    case 'one-way': {
      const outbound = rand.int(2) === 0;
      const peers = rand.int(2) === 0 ? others : [others[rand.int(others.length)]];
      for (const o of peers) outbound ? c.dropDirection(target, o) : c.dropDirection(o, target);
      log(`one-way: slot ${target} ${outbound ? 'cannot send to' : 'cannot hear'} ${peers} for ${hold} ms`);
      await sleep(hold);
      break;
    }
    case 'kill': {
      const down = between(rand, 200, 3000);
      await c.kill(target);
      log(`kill -9 slot ${target}, restart after ${down} ms`);
      await sleep(down);
      await c.restart(target);
      break;
    }
    case 'pause':
      c.pause(target);
      log(`SIGSTOP slot ${target} for ${hold} ms`);
      await sleep(hold);
      c.resume(target);
      break;
    case 'pause-cut': {
      // The stale-lease case: the paused store cannot hear the new leader once it runs again.
      const after = between(rand, 500, 2000);
      c.pause(target);
      cutBetween([target], others);
      log(`SIGSTOP slot ${target} cut off for ${hold} ms, SIGCONT, still cut off for ${after} ms`);
      await sleep(hold);
      c.resume(target);
      await sleep(after);
      break;
    }
    case 'clients':
      c.cutClients(target);
      log(`clients cut from slot ${target} for ${hold} ms`);
      await sleep(hold);
      break;
  }
  c.healLinks();
  return kind;
}

/**
 * Two faults at once on two different stores: one killed, the other paused or silently cut off.
 * With three stores that leaves no majority for a while (nothing may be acknowledged then, and
 * everything must come back consistent); with five, a majority remains.
 */
async function doubleFault(c: FaultCluster, rand: Rand, log: (s: string) => void): Promise<void> {
  const shuffled = [...c.slots].sort(() => rand.next() - 0.5);
  const [killed, other] = shuffled;
  const hold = between(rand, 1000, 4000);
  const pause = rand.int(2) === 0;
  await c.kill(killed);
  if (pause) c.pause(other);
  else {
    for (const o of c.slots) {
      if (o === other) continue;
      c.dropDirection(other, o);
      c.dropDirection(o, other);
    }
  }
  log(`double: kill -9 slot ${killed} and ${pause ? 'SIGSTOP' : 'silently cut off'} slot ${other} for ${hold} ms`);
  await sleep(hold);
  if (pause) c.resume(other);
  c.healLinks();
  await c.restart(killed);
}

/**
 * Wipes a store, one without a PD replica when there is one (PD moves its replicas to live stores,
 * docs/pd-membership.md, but with five stores it has one on each), then waits until PD replaced its replicas.
 */
async function wipeOne(c: FaultCluster, rand: Rand, log: (s: string) => void): Promise<void> {
  const pdIds = (await c.status(1, 5000))?.pdStoreIds ?? [1, 2, 3];
  const nonPd = c.slots.filter((s) => !pdIds.includes(c.idOf(s)));
  const pool = nonPd.length > 0 ? nonPd : c.slots.filter((s) => s !== c.slots[0]);
  const slot = pool[rand.int(pool.length)];
  const before = c.idOf(slot);
  await c.wipe(slot);
  log(`wiped slot ${slot} (store ${before}); it rejoined as store ${c.idOf(slot)}`);
  await settle(c, 120_000);
  log(`PD replaced the replicas of store ${before}`);
}

/**
 * Runs one scenario from start to verdict; never throws for an anomaly (it is in `anomalies`).
 * @param opts - the cluster, the length, the seed.
 */
export async function runFaultScenario(opts: FaultScenarioOptions): Promise<FaultScenarioResult> {
  const log = opts.log ?? (() => undefined);
  const rand = createSeededRand(opts.seed);
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-faults-'));
  const t0 = performance.now();
  const rec: Recorded = { t0, history: [], errors: new Map(), unknown: 0 };
  const faults: Record<string, number> = {};
  const anomalies: string[] = [];
  const at = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  const say = (s: string) => log(`[faults ${opts.stores}${opts.pd ? ' pd' : ''} seed ${opts.seed} ${at()}] ${s}`);
  const extra = ['--initial-split-keys', 'k3', '--replicas', '3'];
  let c: FaultCluster | undefined;
  const clients: RemoteKvClient[] = [];
  let logs = '';
  let proxies = { droppedBytes: 0, closed: 0 };
  let term = 0;
  try {
    c = await startFaultCluster({ stores: opts.stores, pd: opts.pd, dir, extra });
    const cluster = c;
    // Every replica reached once before the first fault (a replica no leader ever reached
    // withholds its vote: docs/store-identity.md).
    await settle(cluster, 120_000);
    say('cluster settled; workload and faults start');
    const endpoints = cluster.slots.map((s) => cluster.url(s));
    const seen = new Map<string, string | null>();
    let running = true;
    const nClients = opts.clients ?? opts.stores + 1;
    for (let i = 0; i < nClients; i++) {
      clients.push(await connect({ endpoints, secret: SECRET, callTimeoutMs: 2000, connectTimeoutMs: 1000, client: { retry: { timeoutMs: 4000, attemptTimeoutMs: 1000 } } }));
    }
    const loops = clients.map((kv, i) => clientLoop(kv, i + 1, createSeededRand(opts.seed * 977 + i), KEYS, seen, rec, () => running));
    const until = performance.now() + opts.seconds * 1000;
    // One wipe, a third of the way in (its own Rand: the other faults stay as they are).
    let wipeAt = opts.wipe && opts.pd ? performance.now() + (opts.seconds * 1000) / 3 : Number.POSITIVE_INFINITY;
    const wipeRand = createSeededRand(opts.seed * 7919 + 1);
    // Double faults now and then, from a Rand of their own (the single faults' schedule stays as it is).
    const doubleRand = createSeededRand(opts.seed * 6007 + 3);
    // The wipe happens even if a slow fault ran past the end (a loaded box restarts slowly).
    while (performance.now() < until || wipeAt !== Number.POSITIVE_INFINITY) {
      if (performance.now() >= wipeAt) {
        wipeAt = Number.POSITIVE_INFINITY;
        await wipeOne(cluster, wipeRand, say);
        faults.wipe = (faults.wipe ?? 0) + 1;
        continue;
      }
      if (doubleRand.int(6) === 0) {
        await doubleFault(cluster, doubleRand, say);
        faults.double = (faults.double ?? 0) + 1;
        await sleep(between(doubleRand, 300, 1500));
      }
      const kind = await oneFault(cluster, rand, say);
      faults[kind] = (faults[kind] ?? 0) + 1;
      await sleep(between(rand, 300, 1500));
    }
    running = false;
    await Promise.all(loops);
    say(`workload stopped: ${rec.history.length} operations`);
    // Heal everything: links, paused and killed stores; then every replica catches up.
    cluster.healLinks();
    for (const s of cluster.slots) if (cluster.state(s) === 'stopped') cluster.resume(s);
    for (const s of cluster.slots) if (cluster.state(s) === 'dead') await cluster.restart(s);
    await settle(cluster, 120_000);
    const reader = await connect({ endpoints, secret: SECRET, callTimeoutMs: 5000, client: { retry: { timeoutMs: 10_000 } } });
    clients.push(reader);
    const finals = await finalReads(reader, KEYS, rec, performance.now() + 60_000);
    say(`final values ${JSON.stringify(Object.fromEntries(finals))}`);
    const lin = linearizabilityProblem(rec.history);
    if (lin) anomalies.push(lin);
    anomalies.push(...lostWrites(rec.history, finals));
    anomalies.push(...(await cluster.bypasses()));
    proxies = cluster.faulted();
    const statuses = await Promise.all(cluster.slots.map((s) => cluster.status(s, 5000)));
    term = Math.max(0, ...statuses.flatMap((st) => st?.regions.map((r) => r.term) ?? []));
  } catch (e) {
    anomalies.push(`run failed: ${(e as Error).stack ?? e}`);
  } finally {
    for (const kv of clients) kv.close();
    logs = c?.logs() ?? '';
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const unknown = rec.history.filter((o) => o.unknown).length;
  return {
    seed: opts.seed,
    seconds: opts.seconds,
    operations: rec.history.length,
    acknowledged: rec.history.length - unknown,
    unknown,
    faults,
    errors: Object.fromEntries(rec.errors),
    proxies,
    term,
    anomalies,
    logs,
  };
}

/** A one-line summary of a run (the soak prints it per run, the tests once). */
export function summary(r: FaultScenarioResult, label: string): string {
  const faults = Object.entries(r.faults).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${label}: seed ${r.seed}, ${r.seconds} s, ${r.operations} operations (${r.acknowledged} acknowledged, ${r.unknown} unknown), faults: ${faults || 'none'}; proxies dropped ${r.proxies.droppedBytes} bytes and closed ${r.proxies.closed} connections; highest term ${r.term}; errors ${JSON.stringify(r.errors)}; anomalies = ${r.anomalies.length}`;
}
