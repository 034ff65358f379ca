/**
 * What the placement driver does to a live cluster, in virtual time (deterministic; seed 1): how
 * regions multiply under writes (auto split), how leaders and replicas spread when stores join
 * (balance), and how long replication takes to be restored after a store is lost (repair).
 * Figures are in virtual seconds, so they do not depend on the machine.
 */
import { createLocalCluster, type LocalCluster } from '../adapters/local-cluster.ts';
import { createVirtualClock, type VirtualClock } from '../adapters/runtime/virtual-clock.ts';
import type { ScanEntry } from '../src/kv/commands.ts';
import { nextKey } from '../src/region/keys.ts';
import type { BenchRow } from './table.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function elapse(clock: VirtualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await tick();
  }
}

async function drive<T>(clock: VirtualClock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    clock.advance(1);
    await tick();
  }
  return p;
}

function counts(c: LocalCluster, leaders: boolean): string {
  return c.storeIds
    .filter((id) => c.store(id))
    .map((id) => c.store(id)!.regions().filter((i) => !leaders || i.leaderStoreId === id).length)
    .join('/');
}

function fullyReplicated(c: LocalCluster): boolean {
  const byRegion = new Map<number, number>();
  for (const id of c.storeIds) {
    for (const info of c.store(id)?.regions() ?? []) {
      if (info.leaderStoreId === id) byRegion.set(info.region.id, info.region.peers.filter((p) => p.role === 'voter' && c.store(p.storeId)).length);
    }
  }
  return byRegion.size > 0 && [...byRegion.values()].every((n) => n === 3);
}

/**
 * Target 7: every written key is on every replica of its region exactly once, with its value, and
 * nothing else is: each live store's replicas are scanned (stale reads, no leader involved), every
 * replica of a region must hold the same keys, and the regions together must hold each written key
 * once. Followers are given virtual time to apply. Throws on any difference.
 */
async function verifyReplicas(clock: VirtualClock, c: LocalCluster, written: ReadonlyMap<string, string>): Promise<number> {
  const dec = new TextDecoder();
  let problem = '';
  for (let attempt = 0; attempt < 50; attempt++) {
    const byRegion = new Map<number, string[]>();
    problem = '';
    for (const id of c.storeIds) {
      const store = c.store(id);
      if (!store) continue;
      for (const { region } of store.regions()) {
        const keys: string[] = [];
        let start = region.startKey;
        for (;;) {
          const page = (await drive(clock, store.read(region.id, undefined, { type: 'scan', start, end: region.endKey, limit: 1000 }, 'stale'))) as ScanEntry[];
          for (const e of page) {
            const k = dec.decode(e.key);
            if (e.value === null || dec.decode(e.value) !== written.get(k)) problem ||= `store ${id}: ${k} holds a value nobody wrote`;
            keys.push(k);
          }
          if (page.length < 1000) break;
          start = nextKey(page[page.length - 1].key);
        }
        const other = byRegion.get(region.id);
        if (other === undefined) byRegion.set(region.id, keys);
        else if (other.join() !== keys.join()) problem ||= `region ${region.id}: store ${id} holds ${keys.length} keys, another replica ${other.length}`;
      }
    }
    const all = [...byRegion.values()].flat();
    if (all.length !== written.size || new Set(all).size !== written.size) problem ||= `the regions hold ${all.length} keys (${new Set(all).size} distinct) of ${written.size} written`;
    if (!problem) return written.size;
    await elapse(clock, 200);
  }
  throw new Error(`verification failed: ${problem}`);
}

export async function run(): Promise<BenchRow[]> {
  const clock = createVirtualClock();
  const pd = { config: { storeDownMs: 5000, splitKeys: 200, splitBytes: 1 << 30, mergeKeys: 20, mergeBytes: 1 << 20 }, heartbeatMs: 500, scheduleMs: 500 };
  const c = await createLocalCluster({ stores: 3, clock, seed: 1, pd });
  const rows: BenchRow[] = [];
  const note = 'seed 1, virtual time; PD splitKeys 200, storeDownMs 5 s, heartbeats and scheduling every 0.5 s';
  try {
    await drive(clock, c.waitForLeaders());
    const kv = c.client();
    const timeline: string[] = [];
    const written = new Map<string, string>();
    for (let round = 1; round <= 8; round++) {
      const entries = Array.from({ length: 150 }, (_, i) => ({ key: `user${String(round * 1000 + i).padStart(6, '0')}`, value: `v${round}-${i}-`.padEnd(100, 'v') }));
      await drive(clock, kv.putAll(entries));
      for (const e of entries) written.set(e.key, e.value);
      await elapse(clock, 2000);
      timeline.push(`${round * 150} keys: ${(await drive(clock, kv.admin.regions())).length}`);
    }
    rows.push({ group: 'pd', name: 'regions after 1,200 keys (auto split)', value: (await drive(clock, kv.admin.regions())).length, unit: 'regions', note: timeline.join('; ') });
    const leadersBefore = counts(c, true);
    await c.addStore();
    await c.addStore();
    const grownAt = clock.now();
    let balancedAt = 0;
    for (let waited = 0; waited < 120_000; waited += 500) {
      await elapse(clock, 500);
      const reps = counts(c, false).split('/').map(Number);
      const leads = counts(c, true).split('/').map(Number);
      if (Math.max(...reps) - Math.min(...reps) <= 1 && Math.max(...leads) - Math.min(...leads) <= 1 && fullyReplicated(c)) {
        balancedAt = clock.now();
        break;
      }
    }
    rows.push({ group: 'pd', name: 'time to even out replicas and leaders after 2 stores join', value: (balancedAt - grownAt) / 1000, unit: 's (virtual)', note: `leaders per store before ${leadersBefore} (3 stores), after ${counts(c, true)}; replicas after ${counts(c, false)}` });
    await c.stopStore(5);
    const lostAt = clock.now();
    let restoredAt = 0;
    for (let waited = 0; waited < 120_000; waited += 250) {
      await elapse(clock, 250);
      if (fullyReplicated(c)) {
        restoredAt = clock.now();
        break;
      }
    }
    rows.push({ group: 'pd', name: 'time to restore 3 replicas after a store is lost', value: (restoredAt - lostAt) / 1000, unit: 's (virtual)', note: `storeDownMs is 5 s of it; replicas after ${counts(c, false)}` });
    rows.push({ group: 'pd', name: 'keys readable after all that', value: (await drive(clock, kv.scan('', ''))).length, unit: 'keys', note });
    rows.push({ group: 'pd', name: 'written keys verified exactly once on every replica', value: await verifyReplicas(clock, c, written), unit: 'keys', note: 'stale scans of every replica on every live store' });
  } finally {
    await c.close();
  }
  return rows;
}
