/**
 * A deterministic simulation of a whole Flotilla cluster: 3 or 5 stores with several regions on a
 * virtual clock and the simulated network, concurrent clients issuing every kind of single-key
 * operation, and a seeded fault schedule — partitions, drops, duplicates, reordering, and store
 * crashes that lose unsynced writes. At the end the client history must be linearizable per key,
 * lock fencing tokens must rise, and every replica of a region must hold the same data.
 *
 * Plain functions (no test framework), so `npm run soak:kv` can run many more seeds.
 */
import { createLocalCluster, type LocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { createFaultyStorage } from '../../adapters/storage/faulty.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { KvClient } from '../../src/client/client.ts';
import { FlotillaError } from '../../src/errors.ts';
import { checkOperations, type FlotillaKvInput, type FlotillaKvOutput, flotillaKvModel, type Operation } from '../../src/linearizability/index.ts';
import type { Rand, StorageEngine } from '../../src/ports.ts';
import { compareKeys } from '../../src/region/keys.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { drive, elapse } from '../store/helpers.ts';
import { describeSlowStorage, pickSlowStorage, type SlowStorageProfile, slowStorage } from './slow-storage.ts';
import { createStallControl, stallLoop } from './stall.ts';
import { type FaultLoop, startWipeFault } from './wipe-fault.ts';

export interface KvSimOptions {
  seed: number;
  stores?: 3 | 5;
  clients?: number;
  /** Virtual ms of workload under faults. */
  workloadMs?: number;
  /** Print each fault as it happens. */
  verbose?: boolean;
  /**
   * Run the placement driver (auto split and merge by tiny thresholds, replica placement and
   * repair, leader balance) while the cluster grows from 3 to 5 stores and shrinks back.
   */
  pd?: boolean;
  /**
   * How many KvClient instances the clients share (default: one each). Clients sharing one see
   * their concurrent gets batched into one multiGet, so the checker judges batched reads too.
   */
  kvClients?: number;
  /** Clients start each operation on a multiple of this many virtual ms, so that they often run concurrently (default: random pauses). */
  alignMs?: number;
  /**
   * Quiesce idle regions eagerly (after 2 idle ticks) and let clients pause now and then, so that
   * groups fall asleep and wake again under the same partitions, crashes and network faults.
   */
  quiesce?: boolean;
  /**
   * Stall stores now and then (test/kvsim/stall.ts): the process of the store leading the most
   * regions stops while the others go on, then resumes and is read through with lease reads.
   */
  stall?: boolean;
  /**
   * Also wipe stores' storage now and then and bring them back with `rejoinStore`
   * (`wipe-fault.ts`); a loop of its own, so seeds without it run as before. Not with `pd`.
   */
  wipe?: boolean;
  /**
   * Slow storage (`slow-storage.ts`): every storage call completes a few virtual ms late, so the
   * store's awaits yield to everything else. Default: the seed picks it (on for about half the
   * seeds) and its profile; true forces the seed's profile, or a middling one if the seed picked
   * none; false turns it off; a profile sets it outright.
   */
  slowStorage?: boolean | SlowStorageProfile;
  /** Called with the cluster and its clock once created (for debugging a failing seed). */
  onCluster?: (cluster: LocalCluster, clock: VirtualClock) => void;
  /** Called with each store's engine (for debugging a failing seed). */
  onEngine?: (storeId: number, engine: import('../../src/ports.ts').StorageEngine) => void;
}

export interface KvSimResult {
  seed: number;
  /** The slow-storage profile the run used, or undefined (print it with the seed: `describeSlowStorage`). */
  slowStorage: SlowStorageProfile | undefined;
  ok: boolean;
  failures: string[];
  operations: number;
  unknown: number;
  faults: number;
  /** Raft snapshots installed by replicas that fell behind a compacted log. */
  snapshots: number;
  /** Times a leader quiesced its region, and followers woken by store liveness (stores that ran to the end). */
  quiesces: number;
  livenessWakes: number;
  /** Stalls of a store's process (with `stall`). */
  stalls: number;
  /** Regions at the end (3 at the start; splits add more). */
  regions: number;
  virtualMs: number;
}

const KEYS = ['a', 'f', 'k', 'p', 'u'];
/** Tiny thresholds, so that PD splits and merges a five-key space; stores count as down quickly. */
const PD_CONFIG = { storeDownMs: 1500, splitKeys: 4, splitBytes: 1 << 30, mergeKeys: 2, mergeBytes: 1 << 20, operatorTimeoutMs: 5000 };
const SPLITS = ['e', 'n'];
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

interface LockEvent {
  owner: string;
  token: number;
  call: number;
  ret: number;
  /** Whether the hold was certainly released (an unlock with an unknown outcome may have left it held, and then the owner re-enters with the same token). */
  released: boolean;
}

/** Runs one seed; never throws for a found bug, it reports it in `failures`. */
export async function runKvSimulation(opts: KvSimOptions): Promise<KvSimResult> {
  const rand = createSeededRand(opts.seed);
  const stores = opts.pd ? 3 : (opts.stores ?? (rand.int(2) === 0 ? 3 : 5));
  const clock = createVirtualClock();
  const engines = new Map<number, StorageEngine>();
  // Its own Rand: the other faults of a seed stay what they are without it.
  const stall = opts.stall ? createStallControl(clock, createSeededRand(opts.seed * 7331 + 17)) : undefined;
  const slow = slowStorageOf(opts);
  if (opts.verbose) console.log(`seed ${opts.seed}: ${describeSlowStorage(slow)}`);
  let slowEngines = 0;
  // Slow storage completes only as virtual time moves: then whatever waits on the cluster outside
  // the workload (opening, the restarts of the quiet phase, closing) drives the clock. Without it
  // nothing is driven there, so that those seeds run exactly as before the fault existed.
  const settle = <T>(p: Promise<T>): Promise<T> => (slow ? drive(clock, p, 120_000) : p);
  const cluster = await settle(createLocalCluster({
    stores,
    clock,
    seed: opts.seed,
    initialSplitKeys: opts.pd ? [] : SPLITS,
    // Compact logs early and often, so that replicas that fall behind catch up by snapshot.
    store: { logGcThreshold: 5 + rand.int(40), ...(opts.quiesce ? { quiesceTicks: 2 } : {}) },
    ...(opts.pd ? { pd: { config: PD_CONFIG, heartbeatMs: 300, scheduleMs: 300 } } : {}),
    ...(stall ? { process: (id: number) => stall.process(id) } : {}),
    storage: async (id) => {
      const faulty = await createFaultyStorage(createMemoryStorage(), { rand: createSeededRand(opts.seed * 31 + id) });
      engines.set(id, faulty);
      opts.onEngine?.(id, faulty);
      // Each engine (a wiped store gets a new one) its own Rand, in the order they are made.
      const engine = slow ? slowStorage(faulty, clock, createSeededRand(opts.seed * 4099 + ++slowEngines), slow) : faulty;
      return stall ? stall.storage(id, engine) : engine;
    },
  }));
  opts.onCluster?.(cluster, clock);
  const failures: string[] = [];
  const history: Operation<FlotillaKvInput, FlotillaKvOutput>[] = [];
  const locks: LockEvent[] = [];
  let running = true;
  let faults = 0;
  let snapshots = 0;
  let regions = 0;
  let quiesces = 0;
  let livenessWakes = 0;
  let stalls = 0;
  try {
    await drive(clock, cluster.waitForLeaders(), 60_000);
    const workloadMs = opts.workloadMs ?? (opts.pd ? 10_000 : 3000);
    const nClients = opts.clients ?? 4;
    const kvClients = Array.from({ length: opts.kvClients ?? nClients }, () => cluster.client({ retry: { timeoutMs: 2000, attemptTimeoutMs: 400 } }));
    const workers = Array.from({ length: nClients }, (_, i) =>
      clientLoop(kvClients[i % kvClients.length], i, createSeededRand(opts.seed * 977 + i), clock, history, locks, () => running, opts.alignMs, opts.quiesce ?? false).catch(
        (e) => {
          failures.push(String((e as Error).message));
        },
      ),
    );
    const nemesis = faultLoop(cluster, clock, rand, () => running, opts.verbose ?? false, () => faults++, opts.pd ?? false);
    const log = (what: string) => opts.verbose && console.log(`t=${clock.now()} ${what}`);
    const staller = stall
      ? stallLoop({ cluster, clock, control: stall, rand: createSeededRand(opts.seed * 4513 + 5), keys: KEYS, history, running: () => running, log, count: () => stalls++ })
      : Promise.resolve();
    const extra: FaultLoop[] = [];
    const faultContext = (salt: number) => ({ cluster, clock, rand: createSeededRand(opts.seed * 7919 + salt), running: () => running, log, count: () => faults++ });
    if (opts.wipe && !opts.pd) extra.push(startWipeFault(faultContext(1)));
    await elapse(clock, workloadMs);
    running = false;
    await drive(clock, Promise.all([...workers, nemesis, staller, ...extra.map((f) => f.loop)]), 60_000);
    // Quiet: heal everything, restart every store, let replicas converge.
    cluster.heal();
    cluster.network?.setFaults({ dropRate: 0, duplicateRate: 0, reorder: false });
    for (const id of cluster.storeIds) await settle(cluster.restartStore(id));
    for (const f of extra) await drive(clock, f.settle(), 120_000);
    await drive(clock, cluster.waitForLeaders(), 60_000);
    await elapse(clock, 2000);
    const final = cluster.client();
    for (const key of KEYS) {
      const call = clock.now();
      const value = await drive(clock, final.get(key), 60_000);
      history.push({ clientId: 1000, input: { op: 'get', key }, output: value, call, return: clock.now() });
    }
    await elapse(clock, 500);
    if (opts.pd) {
      await checkPlacement(cluster, clock, failures);
      // Long enough for a removed replica that missed its notice to say hello and be told.
      await elapse(clock, 12_000);
    }
    checkHistory(history, failures);
    checkLocks(locks, failures);
    await checkReplicas(cluster, clock, failures);
    for (const id of cluster.storeIds) snapshots += cluster.store(id)?.counters.snapshotsInstalled ?? 0;
    for (const id of cluster.storeIds) quiesces += cluster.store(id)?.counters.quiesces ?? 0;
    for (const id of cluster.storeIds) livenessWakes += cluster.store(id)?.counters.livenessWakes ?? 0;
    regions = new Set(cluster.storeIds.flatMap((id) => cluster.store(id)?.regions().map((r) => r.region.id) ?? [])).size;
  } catch (e) {
    failures.push(`simulation error: ${(e as Error).stack ?? e}`);
    if (opts.verbose) for (const id of cluster.storeIds) console.log(id, JSON.stringify(cluster.store(id)?.status().map((s) => ({ r: s.region.id, v: s.region.epoch, role: s.raft.role, lead: s.raft.lead, term: s.raft.term, applied: s.applied, commit: s.raft.commit, peers: s.region.peers.map((p) => p.id) }))));
  } finally {
    running = false;
    if (opts.verbose && failures.length > 0) {
      dumpStatus(cluster);
      await dumpData(engines);
    }
    await settle(cluster.close());
  }
  return {
    seed: opts.seed,
    slowStorage: slow,
    ok: failures.length === 0,
    failures,
    operations: history.length,
    unknown: history.filter((h) => h.unknown).length,
    faults,
    snapshots,
    quiesces,
    livenessWakes,
    stalls,
    regions,
    virtualMs: clock.now(),
  };
}

/** The slow-storage profile of a run (see {@link KvSimOptions.slowStorage}). */
function slowStorageOf(opts: KvSimOptions): SlowStorageProfile | undefined {
  const o = opts.slowStorage;
  if (o === false) return undefined;
  if (o === undefined) return pickSlowStorage(opts.seed);
  if (o === true) return pickSlowStorage(opts.seed) ?? { writeMaxMs: 5, readMaxMs: 1, hiccupRate: 0.01, hiccupMs: 100 };
  return o;
}

/** Prints every replica's region, Raft role, term, commit and applied index, and apply limit (a failing seed, verbose). */
function dumpStatus(cluster: LocalCluster): void {
  for (const id of cluster.storeIds) {
    const rows = cluster.store(id)?.status() ?? [];
    const show = (s: (typeof rows)[number]) =>
      `r${s.region.id}[${text(s.region.startKey)}..${text(s.region.endKey)}) v${s.region.epoch.version}/c${s.region.epoch.confVer} peer ${s.peerId} ${s.raft.role} lead ${s.raft.lead} term ${s.raft.term} commit ${s.raft.commit} applied ${s.applied}`;
    console.log(`store ${id}: ${rows.length === 0 ? '(down)' : rows.map(show).join('; ')}`);
  }
}

/** Prints every user key and value of every store (a failing seed, verbose). */
async function dumpData(engines: Map<number, StorageEngine>): Promise<void> {
  for (const [id, engine] of engines) {
    const rows = await engine.scan({ start: Uint8Array.of(0x63), end: Uint8Array.of(0x7b) });
    const hex = (b: Uint8Array) => [...b].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, '0')}`)).join('');
    console.log(`store ${id}:`, rows.map((r) => `${hex(r.key)}=${r.value.length}`).join(' '));
  }
}

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

function randomInput(rand: Rand, client: number, n: number): FlotillaKvInput {
  const key = KEYS[rand.int(KEYS.length)];
  const value = `${client}.${n}`;
  switch (rand.int(12)) {
    case 0:
    case 1:
      return { op: 'put', key, value };
    case 2:
      return { op: 'getAndPut', key, value };
    case 3:
      return { op: 'compareAndPut', key, expect: rand.int(3) === 0 ? null : `${rand.int(4)}.${rand.int(20)}`, update: value };
    case 4:
      return { op: 'putIfAbsent', key, value };
    case 5:
      return { op: 'merge', key, value };
    case 6:
      return { op: 'delete', key };
    case 7:
      return { op: 'containsKey', key };
    case 8:
      return { op: 'getSequence', key, step: 1 + rand.int(3) };
    case 9:
      return rand.int(8) === 0 ? { op: 'resetSequence', key } : { op: 'getLatestSequence', key };
    default:
      return { op: 'get', key };
  }
}

async function invoke(client: KvClient, input: FlotillaKvInput, consistency: 'linearizable' | 'lease' | 'follower'): Promise<FlotillaKvOutput> {
  switch (input.op) {
    case 'get':
      return client.get(input.key, { consistency });
    case 'containsKey':
      return client.containsKey(input.key, { consistency });
    case 'put':
      return client.put(input.key, input.value);
    case 'delete':
      return client.delete(input.key);
    case 'getAndPut':
      return client.getAndPut(input.key, input.value);
    case 'compareAndPut':
      return client.compareAndPut(input.key, input.expect, input.update);
    case 'putIfAbsent':
      return client.putIfAbsent(input.key, input.value);
    case 'merge':
      return client.merge(input.key, input.value);
    case 'getSequence': {
      const r = await client.getSequence(input.key, input.step);
      return { start: r.startValue, end: r.endValue };
    }
    case 'getLatestSequence':
      return client.getLatestSequence(input.key, { consistency });
    case 'resetSequence':
      return client.resetSequence(input.key);
  }
}

const READS = new Set(['get', 'containsKey', 'getLatestSequence']);

async function clientLoop(
  client: KvClient,
  id: number,
  rand: Rand,
  clock: VirtualClock,
  history: Operation<FlotillaKvInput, FlotillaKvOutput>[],
  locks: LockEvent[],
  running: () => boolean,
  alignMs: number | undefined,
  pauses: boolean,
): Promise<void> {
  const lock = client.getDistributedLock('lock', 300, { owner: `owner-${id}` });
  for (let n = 0; running(); n++) {
    if (rand.int(10) === 0) {
      await lockStep(lock, clock, locks);
      continue;
    }
    const input = randomInput(rand, id, n);
    const consistency = (['linearizable', 'lease', 'follower'] as const)[rand.int(3)];
    const call = clock.now();
    try {
      const output = await invoke(client, input, consistency);
      history.push({ clientId: id, input, output, call, return: clock.now() });
    } catch (e) {
      const code = e instanceof FlotillaError ? e.code : 'unexpected';
      if (code === 'unexpected' || !['OutcomeUnknown', 'Timeout', 'ServerBusy', 'NotLeader', 'RegionNotFound'].includes(code)) {
        throw new Error(`client ${id}: ${input.op} failed unexpectedly: ${(e as Error).message}`);
      }
      // A read that failed told us nothing; a write whose fate is unknown may take effect any time later.
      if (!READS.has(input.op)) history.push({ clientId: id, input, call, unknown: true });
    }
    // With pauses, regions go idle long enough to quiesce (a few ticks), then wake on the next call.
    if (pauses && rand.int(6) === 0) await sleep(clock, 200 + rand.int(800));
    else await sleep(clock, alignMs ? alignMs - (clock.now() % alignMs) : rand.int(20));
  }
}

async function lockStep(lock: ReturnType<KvClient['getDistributedLock']>, clock: VirtualClock, locks: LockEvent[]): Promise<void> {
  const call = clock.now();
  try {
    if (await lock.tryLock()) {
      const hold: LockEvent = { owner: lock.owner, token: lock.fencingToken, call, ret: clock.now(), released: false };
      locks.push(hold);
      // Released only when no hold is left (an earlier tryLock whose answer was lost may have
      // entered the lock too; then this unlock leaves one hold and the owner re-enters later).
      hold.released = (await lock.unlock()) && lock.fencingToken === 0;
    }
  } catch {
    // An unknown outcome teaches nothing about tokens.
  }
}

export async function faultLoop(cluster: LocalCluster, clock: VirtualClock, rand: Rand, running: () => boolean, verbose: boolean, count: () => void, pd: boolean): Promise<void> {
  const ids = cluster.storeIds;
  const down = new Set<number>();
  while (running()) {
    await sleep(clock, 100 + rand.int(400));
    if (!running()) break;
    count();
    const log = (what: string) => verbose && console.log(`t=${clock.now()} ${what}`);
    // With PD the cluster grows to 5 stores and shrinks back (PD's own stores, 1-3, stay).
    if (pd && rand.int(4) === 0) {
      const extra = ids.filter((s) => s > 3 && !down.has(s));
      if (ids.length < 5 && rand.int(2) === 0) log(`add store ${await cluster.addStore()}`);
      else if (extra.length > 0) {
        const gone = extra[rand.int(extra.length)];
        await cluster.removeStore(gone, 4000).then(
          () => log(`removed store ${gone}`),
          (e) => log(`remove store ${gone} unfinished: ${(e as Error).message.slice(0, 60)}`),
        );
      }
      continue;
    }
    const action = rand.int(pd ? 6 : 8);
    if (action === 0) {
      const cut = rand.int(ids.length - 1) + 1;
      const shuffled = [...ids].sort(() => rand.next() - 0.5);
      cluster.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      log(`partition ${shuffled.slice(0, cut)} | ${shuffled.slice(cut)}`);
    } else if (action === 1) {
      cluster.heal();
      log('heal');
    } else if (action === 2 && down.size < Math.floor((ids.length - 1) / 2)) {
      const id = ids[rand.int(ids.length)];
      if (!down.has(id)) {
        down.add(id);
        await cluster.stopStore(id);
        log(`crash ${id}`);
      }
    } else if (action === 3 && down.size > 0) {
      const id = [...down][rand.int(down.size)];
      down.delete(id);
      await cluster.restartStore(id);
      log(`restart ${id}`);
    } else if (action === 6) {
      // Split a random region at a random key (if it falls inside it), under whatever faults hold.
      const admin = cluster.client({ retry: { timeoutMs: 1500, attemptTimeoutMs: 400 } }).admin;
      try {
        const regions = await admin.regions();
        const region = regions[rand.int(regions.length)];
        const at = `${KEYS[rand.int(KEYS.length)]}${rand.int(10)}`;
        await admin.splitRegion(region.id, at);
        log(`split region ${region.id} at ${at}`);
      } catch (e) {
        log(`split refused: ${(e as Error).message.slice(0, 80)}`);
      }
    } else if (action === 7) {
      // Merge two adjacent regions (they are on the same stores only in 3-store clusters).
      const admin = cluster.client({ retry: { timeoutMs: 1500, attemptTimeoutMs: 400 } }).admin;
      try {
        const regions = await admin.regions();
        if (regions.length >= 2) {
          const at = rand.int(regions.length - 1);
          await admin.mergeRegions(regions[at].id, regions[at + 1].id);
          log(`merged region ${regions[at + 1].id} into ${regions[at].id}`);
        }
      } catch (e) {
        log(`merge refused: ${(e as Error).message.slice(0, 80)}`);
      }
    } else if (action === 4) {
      const faults = { dropRate: rand.int(3) * 0.05, duplicateRate: rand.int(3) * 0.05, reorder: rand.int(2) === 0 };
      cluster.network?.setFaults(faults);
      log(`network ${JSON.stringify(faults)}`);
    } else {
      cluster.network?.setFaults({ dropRate: 0, duplicateRate: 0, reorder: false });
      log('network calm');
    }
  }
  for (const id of down) await cluster.restartStore(id);
}

/**
 * Once quiet, with PD: no store serves overlapping regions; PD's view covers the key space exactly
 * once; every region is back to three voters on live stores (waiting for PD to repair it).
 */
async function checkPlacement(cluster: LocalCluster, clock: VirtualClock, failures: string[]): Promise<void> {
  const live = () => cluster.storeIds.filter((s) => cluster.store(s));
  const regionsNow = () => {
    const byId = new Map<number, { startKey: Uint8Array; endKey: Uint8Array; voters: number[] }>();
    for (const s of live()) {
      for (const info of cluster.store(s)!.regions()) {
        if (info.leaderStoreId !== s) continue; // the leader's view of each region
        byId.set(info.region.id, { ...info.region, voters: info.region.peers.filter((p) => p.role === 'voter').map((p) => p.storeId) });
      }
    }
    return byId;
  };
  let repaired = false;
  for (let waited = 0; waited < 60_000 && !repaired; waited += 500) {
    await elapse(clock, 500);
    const regions = [...regionsNow().values()];
    repaired = regions.length > 0 && regions.every((r) => r.voters.length === 3 && r.voters.every((s) => cluster.store(s)));
  }
  if (!repaired) failures.push(`replication factor not restored: ${JSON.stringify([...regionsNow().values()].map((r) => r.voters))}`);
  for (const s of live()) {
    const mine = cluster.store(s)!.regions().map((i) => i.region).sort((a, b) => compareKeys(a.startKey, b.startKey));
    for (let i = 1; i < mine.length; i++) {
      const prev = mine[i - 1];
      if (prev.endKey.length === 0 || compareKeys(prev.endKey, mine[i].startKey) > 0) failures.push(`store ${s}: regions ${prev.id} and ${mine[i].id} overlap`);
    }
  }
  const pdView = live().map((s) => cluster.store(s)!.pd?.view).find((v) => v);
  if (!pdView) {
    failures.push('no PD leader with a view once quiet');
    return;
  }
  const ranges = [...pdView.regions.values()].map((r) => r.region).sort((a, b) => compareKeys(a.startKey, b.startKey));
  let cursor: Uint8Array = new Uint8Array(0);
  for (const r of ranges) {
    if (compareKeys(r.startKey, cursor) !== 0) failures.push(`PD's view: region ${r.id} starts at ${text(r.startKey)}, expected ${text(cursor)} (gap or overlap)`);
    cursor = r.endKey;
    if (cursor.length === 0) break;
  }
  if (ranges.length === 0 || ranges[ranges.length - 1].endKey.length !== 0) failures.push("PD's view does not reach the end of the key space");
}

function checkHistory(history: Operation<FlotillaKvInput, FlotillaKvOutput>[], failures: string[]): void {
  const result = checkOperations(flotillaKvModel(), history, { maxSteps: 20_000_000 });
  if (result.result === 'illegal') failures.push(`history is not linearizable: ${result.illegal?.message ?? ''}`);
  if (result.result === 'unknown') failures.push('linearizability check ran out of budget');
}

function checkLocks(locks: LockEvent[], failures: string[]): void {
  // A hold acquired after another hold was taken (in real time) must carry a higher token,
  // unless it is the same owner re-entering a hold it never certainly released.
  for (const a of locks) {
    for (const b of locks) {
      const reentry = a.owner === b.owner && !a.released;
      if (a !== b && a.ret < b.call && !reentry && b.token <= a.token) {
        failures.push(`fencing token did not rise: ${a.owner} got ${a.token}, later ${b.owner} got ${b.token}`);
        return;
      }
    }
  }
}

export async function checkReplicas(cluster: LocalCluster, clock: VirtualClock, failures: string[]): Promise<void> {
  // Replicas removed from their region must be gone by now (told by the leader, or by answering
  // their hellos); the members of each region must hold identical state.
  const members = new Map<number, Set<number>>();
  for (const id of cluster.storeIds) {
    for (const s of cluster.store(id)?.status() ?? []) {
      if (s.raft.role === 'leader') members.set(s.region.id, new Set(s.region.peers.map((p) => p.storeId)));
    }
  }
  const byRegion = new Map<number, Array<{ store: number; applied: number; pairs: number; digest: number }>>();
  for (const id of cluster.storeIds) {
    const store = cluster.store(id);
    for (const s of store?.status() ?? []) {
      const m = members.get(s.region.id);
      if (m && !m.has(id)) {
        failures.push(`store ${id} still holds a replica of region ${s.region.id}, which its leader no longer counts as a member`);
        continue;
      }
      const d = await drive(clock, store!.regionDigest(s.region.id), 1000);
      const list = byRegion.get(s.region.id) ?? [];
      list.push({ store: id, ...d });
      byRegion.set(s.region.id, list);
    }
  }
  for (const [region, replicas] of byRegion) {
    const applied = new Set(replicas.map((r) => r.applied));
    const digests = new Set(replicas.map((r) => r.digest));
    if (applied.size !== 1 || digests.size !== 1) {
      failures.push(`region ${region}: replicas differ when quiet: ${JSON.stringify(replicas)}`);
    }
  }
}

export { text };
