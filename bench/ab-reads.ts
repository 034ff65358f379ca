/**
 * A/B of the read paths of two source trees in ONE process (not part of `npm run bench`):
 *
 *   node --max-semi-space-size=64 --import tsx bench/ab-reads.ts <rootA> <rootB> [readers=64] [ms=1000] [rounds=4]
 *
 * Each root is a checkout of this repository (for example `git archive <commit>` unpacked, with
 * node_modules linked). Both in-page clusters (3 stores, memory engine, MessageChannel, one
 * region, 20,000 keys of 16 bytes with 100-byte values) live in this process and their slices
 * alternate (A then B, then B then A, ...), so load from elsewhere on a shared machine weighs on
 * both alike. Prints each slice's reads/s, and per round B / A for ReadIndex and for lease reads
 * and each tree's lease / ReadIndex; then the means and the spread.
 */
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { runReaders, uniqueKey, uniqueValue } from './baseline.ts';

type Mode = 'linearizable' | 'lease';
interface Tree {
  name: string;
  get: (key: string, mode: Mode) => Promise<unknown>;
  close: () => Promise<void>;
}

const [rootA, rootB] = [process.argv[2], process.argv[3]];
if (!rootA || !rootB) throw new Error('usage: ab-reads.ts <rootA> <rootB> [readers] [ms] [rounds]');
const readers = Number(process.argv[4] ?? 64);
const ms = Number(process.argv[5] ?? 1000);
const rounds = Number(process.argv[6] ?? 4);
const keys = Array.from({ length: 20_000 }, (_, i) => uniqueKey(0, i));

async function open(name: string, root: string): Promise<Tree> {
  const mod = (await import(pathToFileURL(`${root}/adapters/local-cluster.ts`).href)) as typeof import('../adapters/local-cluster.ts');
  const cluster = await mod.createLocalCluster({ stores: 3, store: { tickMs: 20 } });
  await cluster.waitForLeaders(20_000);
  const kv = cluster.client();
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => kv.put(k, uniqueValue(k))));
  return { name, get: (k, mode) => kv.get(k, { consistency: mode }), close: () => cluster.close() };
}

const trees = [await open('A', rootA), await open('B', rootB)];
const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
/** Process CPU µs per read of the last slice (the other tree's cluster is idle meanwhile): less moved by other load than reads/s. */
const cpuPerRead = new Map<string, number[]>();
const rate = async (t: Tree, mode: Mode, durationMs: number, record = true) => {
  const cpu = cpuNow();
  const t0 = performance.now();
  const reads = await runReaders(readers, durationMs, keys, (k) => t.get(k, mode));
  const perRead = (cpuNow() - cpu) / reads;
  if (record) cpuPerRead.set(`${t.name}.${mode}`, [...(cpuPerRead.get(`${t.name}.${mode}`) ?? []), perRead]);
  return reads / ((performance.now() - t0) / 1000);
};
for (const t of trees) for (const m of ['linearizable', 'lease'] as const) await rate(t, m, 500, false); // JIT warm-up

const ratios = { readIndexBA: [] as number[], leaseBA: [] as number[], leaseRiA: [] as number[], leaseRiB: [] as number[] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? trees : [...trees].reverse();
  const got = new Map<string, number>();
  for (const mode of r % 4 < 2 ? (['linearizable', 'lease'] as const) : (['lease', 'linearizable'] as const)) {
    for (const t of order) got.set(`${t.name}.${mode}`, await rate(t, mode, ms));
  }
  const g = (k: string) => got.get(k)!;
  ratios.readIndexBA.push(g('B.linearizable') / g('A.linearizable'));
  ratios.leaseBA.push(g('B.lease') / g('A.lease'));
  ratios.leaseRiA.push(g('A.lease') / g('A.linearizable'));
  ratios.leaseRiB.push(g('B.lease') / g('B.linearizable'));
  console.log(
    `round ${r + 1} (${order.map((t) => t.name).join(' then ')}): A ReadIndex ${g('A.linearizable').toFixed(0)}/s lease ${g('A.lease').toFixed(0)}/s; B ReadIndex ${g('B.linearizable').toFixed(0)}/s lease ${g('B.lease').toFixed(0)}/s`,
  );
}
const fmt = (xs: number[]) => `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
console.log(`${readers} readers: B/A ReadIndex ${fmt(ratios.readIndexBA)}, B/A lease ${fmt(ratios.leaseBA)}; lease/ReadIndex A ${fmt(ratios.leaseRiA)}, B ${fmt(ratios.leaseRiB)}`);
console.log(`CPU µs/read, mean (min–max): ${[...cpuPerRead].map(([k, xs]) => `${k} ${fmt(xs)}`).join(', ')}`);
for (const t of trees) await t.close();
