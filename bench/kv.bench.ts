/**
 * Throughput and latency of a 3-store in-page cluster (memory engine, MessageChannel links, real
 * clock, one region, 3 replicas), side by side with the bare write path of `baseline.ts` in the
 * same run (issue 9, target 1): committed writes/s with 64 concurrent writers and the ratio to the
 * baseline, 1-writer latency, and linearizable and lease reads/s against the write rate (target 3).
 *
 * Every write has a unique key and value. Before anything is reported, every replica's data is
 * scanned: it must hold exactly the acknowledged writes, each once with its own value, and the
 * replicas must agree on applied index and state digest (target 7). A run that fails this throws and reports no throughput.
 */
import { createLocalCluster, type LocalCluster } from '../adapters/local-cluster.ts';
import type { KvClient } from '../src/client/client.ts';
import type { ScanEntry } from '../src/kv/commands.ts';
import { percentile, runBaseline, runReaders, runWriters, type WritersRun } from './baseline.ts';
import type { BenchRow } from './table.ts';

const WRITE_MS = 5000;
const ONE_WRITER_MS = 3000;

/** Runs `count` writers for `ms` through the client, recording each acknowledged write; `round` keeps keys unique across calls. */
function writers(kv: KvClient, round: number, count: number, ms: number, acked: Map<string, string>): Promise<WritersRun> {
  return runWriters(count, ms, round, async (k, v) => {
    await kv.put(k, v);
    acked.set(k, v);
  });
}

/**
 * ReadIndex and lease reads/s with 64 concurrent readers, and the 64-writer write rate they are
 * judged against, measured in alternating slices so that load from elsewhere on the machine weighs
 * on all three alike. Concurrent gets are batched by the client into one multiGet per region: one
 * ReadIndex round (or one lease check) serves the batch. The slices' writes join `acked`.
 */
async function readRates(kv: KvClient, keys: string[], slices: number, sliceMs: number, acked: Map<string, string>): Promise<{ readIndex: number; lease: number; writes: number }> {
  let readIndex = 0;
  let lease = 0;
  let writes = 0;
  for (let s = 0; s < slices; s++) {
    const w = await writers(kv, 10 + s, 64, sliceMs, acked);
    writes += w.writes;
    readIndex += await runReaders(64, sliceMs, keys, (k) => kv.get(k, { consistency: 'linearizable' }));
    lease += await runReaders(64, sliceMs, keys, (k) => kv.get(k, { consistency: 'lease' }));
  }
  const seconds = (slices * sliceMs) / 1000;
  return { readIndex: readIndex / seconds, lease: lease / seconds, writes: writes / seconds };
}

/**
 * ReadIndex and lease reads/s at low concurrency (`readers` of 1 or 4), where a read's Raft round
 * is not shared with other reads: alternating slices (which goes first alternates too). Returns
 * the mean rates and each pair's lease / ReadIndex ratio, for the note.
 */
async function lowConcurrencyReads(kv: KvClient, keys: string[], readers: number, slices: number, sliceMs: number): Promise<{ readIndex: number; lease: number; ratios: number[] }> {
  let readIndex = 0;
  let lease = 0;
  const ratios: number[] = [];
  for (let s = 0; s < slices; s++) {
    const ri = () => runReaders(readers, sliceMs, keys, (k) => kv.get(k, { consistency: 'linearizable' }));
    const le = () => runReaders(readers, sliceMs, keys, (k) => kv.get(k, { consistency: 'lease' }));
    let r: number;
    let l: number;
    if (s % 2 === 0) {
      r = await ri();
      l = await le();
    } else {
      l = await le();
      r = await ri();
    }
    readIndex += r;
    lease += l;
    ratios.push(l / r);
  }
  const seconds = (slices * sliceMs) / 1000;
  return { readIndex: readIndex / seconds, lease: lease / seconds, ratios };
}

function lowConcurrencyRows(readers: number, low: { readIndex: number; lease: number; ratios: number[] }): BenchRow[] {
  const note = `${low.ratios.length} alternating pairs of slices: ${low.ratios.map((r) => r.toFixed(2)).join(', ')}`;
  return [
    { group: 'kv', name: `linearizable reads (ReadIndex), ${readers} reader${readers === 1 ? '' : 's'}`, value: low.readIndex, unit: 'reads/s', note: 'few reads share a ReadIndex round' },
    { group: 'kv', name: `lease reads, ${readers} reader${readers === 1 ? '' : 's'}`, value: low.lease, unit: 'reads/s', note: 'served in the request handler: no Raft round, no loop turn' },
    { group: 'kv', name: `lease / ReadIndex, ${readers} reader${readers === 1 ? '' : 's'}`, value: low.lease / low.readIndex, unit: 'ratio', note },
  ];
}

function readRows(reads: { readIndex: number; lease: number; writes: number }): BenchRow[] {
  return [
    { group: 'kv', name: 'linearizable reads (ReadIndex), 64 readers', value: reads.readIndex, unit: 'reads/s', note: 'gets batched per region by the client: one multiGet, one ReadIndex round' },
    { group: 'kv', name: 'lease reads, 64 readers', value: reads.lease, unit: 'reads/s', note: 'served from the leader with no Raft round while the lease holds' },
    {
      group: 'kv',
      name: 'ReadIndex / 64-writer write rate',
      value: reads.readIndex / reads.writes,
      unit: 'ratio',
      note: `writes ${Math.round(reads.writes)}/s in slices alternating with the reads`,
      target: { label: 'issue 9 target 3: ReadIndex reads >= 2x writes', op: '>=', bound: 2 },
    },
    { group: 'kv', name: 'lease / ReadIndex', value: reads.lease / reads.readIndex, unit: 'ratio', target: { label: 'issue 9 target 3: lease reads >= 5x ReadIndex', op: '>=', bound: 5 } },
    {
      group: 'kv',
      name: 'lease / 64-writer write rate',
      value: reads.lease / reads.writes,
      unit: 'ratio',
      note: 'memory engine: the durable-write figure is the 3-process one (cluster.bench.ts)',
      target: { label: 'issue 18: lease reads >= 3x writes (in-page)', op: '>=', bound: 3 },
    },
  ];
}

/** Every pair of the regions a store hosts, read from that store's own replica (stale reads: no leader involved). */
async function replicaData(cluster: LocalCluster, storeId: number): Promise<ScanEntry[]> {
  const store = cluster.store(storeId);
  if (!store) throw new Error(`store ${storeId} is not running`);
  const out: ScanEntry[] = [];
  for (const { region } of store.regions()) {
    let start = region.startKey;
    for (;;) {
      const page = (await store.read(region.id, undefined, { type: 'scan', start, end: region.endKey, limit: 10_000 }, 'stale')) as ScanEntry[];
      for (const e of page) out.push(e);
      if (page.length < 10_000) break;
      const last = page[page.length - 1].key;
      start = new Uint8Array(last.length + 1);
      start.set(last);
    }
  }
  return out;
}

/**
 * Checks that every replica holds exactly the acknowledged writes, each once with its unique value,
 * and that all replicas of each region applied the same log to the same state (equal digests).
 * Waits up to `waitMs` for followers to apply the last entries. Throws on any difference.
 */
export async function verifyExactlyOnce(cluster: LocalCluster, acked: ReadonlyMap<string, string>, waitMs = 5000): Promise<void> {
  const decoder = new TextDecoder();
  const deadline = performance.now() + waitMs;
  for (const id of cluster.storeIds) {
    for (;;) {
      const problem = check(await replicaData(cluster, id));
      if (problem === undefined) break;
      if (performance.now() > deadline) throw new Error(`store ${id}: ${problem}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // Beyond the data: every replica applied the same log to the same state (sessions included).
  for (const { region } of cluster.store(cluster.storeIds[0])?.regions() ?? []) {
    for (;;) {
      const digests = await Promise.all(cluster.storeIds.map((id) => cluster.store(id)!.regionDigest(region.id)));
      const differ = digests.some((d) => d.applied !== digests[0].applied || d.digest !== digests[0].digest || d.pairs !== digests[0].pairs);
      if (!differ) break;
      if (performance.now() > deadline) throw new Error(`region ${region.id}: replicas differ (${JSON.stringify(digests)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function check(data: ScanEntry[]): string | undefined {
    const seen = new Set<string>();
    for (const { key, value } of data) {
      const k = decoder.decode(key);
      if (seen.has(k)) return `key ${k} appears twice`;
      seen.add(k);
      const want = acked.get(k);
      if (want === undefined) return `holds ${k}, which was never acknowledged`;
      if (value === null || decoder.decode(value) !== want) return `the value of ${k} is not the one written`;
    }
    if (seen.size !== acked.size) return `holds ${seen.size} of ${acked.size} acknowledged writes`;
    return undefined;
  }
}

export async function run(): Promise<BenchRow[]> {
  const cluster = await createLocalCluster({ stores: 3, store: { tickMs: 20 } });
  const rows: BenchRow[] = [];
  try {
    await cluster.waitForLeaders(20_000);
    const kv = cluster.client();
    const acked = new Map<string, string>();
    // Warm up both paths (JIT), then measure them back to back.
    await writers(kv, 0, 64, 1000, acked);
    await runBaseline(64, 1000);
    const one = await writers(kv, 1, 1, ONE_WRITER_MS, acked);
    const many = await writers(kv, 2, 64, WRITE_MS, acked);
    const bare64 = await runBaseline(64, WRITE_MS);
    const bare16 = await runBaseline(16, WRITE_MS);
    const keys = [...acked.keys()];
    const reads = await readRates(kv, keys, 3, 1000, acked);
    const low1 = await lowConcurrencyReads(kv, keys, 1, 4, 500);
    const low4 = await lowConcurrencyReads(kv, keys, 4, 4, 500);
    await verifyExactlyOnce(cluster, acked);
    const note = '3 stores in one process, memory engine, MessageChannel, 16-byte keys, 100-byte values';
    const bareNote = 'bench/baseline.ts: batch <= 64, msgpackr, MessageChannel, B-tree apply, 3 replicas, no Raft';
    const cluster64 = many.writes / many.seconds;
    rows.push(
      { group: 'kv', name: 'in-page writes, 64 writers', value: cluster64, unit: 'writes/s', note: `${note}; puts batched per region by the client` },
      { group: 'kv', name: 'bare write path, 64 writers', value: bare64.writesPerSecond, unit: 'writes/s', note: bareNote },
      { group: 'kv', name: 'in-page / bare, 64 writers', value: cluster64 / bare64.writesPerSecond, unit: 'ratio', target: { label: 'issue 9 target 1: in-page >= 0.5x bare write path', op: '>=', bound: 0.5 } },
      { group: 'kv', name: 'in-page CPU time per write, 64 writers', value: many.cpuMicrosPerWrite, unit: 'µs', note: 'process CPU time (all threads) / writes' },
      { group: 'kv', name: 'bare CPU time per write, 64 writers', value: bare64.cpuMicrosPerWrite, unit: 'µs' },
      { group: 'kv', name: 'bare / in-page CPU time per write, 64 writers', value: bare64.cpuMicrosPerWrite / many.cpuMicrosPerWrite, unit: 'ratio', note: 'the throughput ratio a CPU-bound run would reach; less disturbed by other load' },
      { group: 'kv', name: 'bare write path, 16 writers', value: bare16.writesPerSecond, unit: 'writes/s', note: bareNote },
      { group: 'kv', name: 'in-page write latency p99, 64 writers', value: percentile(many.latencies, 0.99), unit: 'ms' },
      { group: 'kv', name: 'in-page writes, 1 writer', value: one.writes / one.seconds, unit: 'writes/s' },
      { group: 'kv', name: 'in-page write latency p50, 1 writer', value: percentile(one.latencies, 0.5) * 1000, unit: 'µs', target: { label: 'issue 9 target 1: 1-writer p50 < 100 µs', op: '<=', bound: 100 } },
      { group: 'kv', name: 'in-page write latency p99, 1 writer', value: percentile(one.latencies, 0.99) * 1000, unit: 'µs', target: { label: 'issue 9 target 1: 1-writer p99 < 1 ms', op: '<=', bound: 1000 } },
      ...readRows(reads),
      ...lowConcurrencyRows(1, low1),
      ...lowConcurrencyRows(4, low4),
      { group: 'kv', name: 'acknowledged writes verified exactly once on every replica', value: acked.size, unit: 'writes', note: 'bare runs verified likewise' },
    );
  } finally {
    await cluster.close();
  }
  return rows;
}
