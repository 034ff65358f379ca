/**
 * RSS of the lmdb engine alone under a mixed load on a large data set (issue 17's 300 MB goal):
 * opens an engine directory already loaded by `bench/disk-scale.ts --reuse DIR` (10M keys), runs
 * 90 % point gets / 10 % synced puts of random keys (32 in flight) for `--seconds`, and samples
 * this process's VmRSS, RssAnon (heap, native allocations) and RssFile (pages of the mapped
 * data file) every 500 ms. The engine opens without read-ahead (its default); `--read-ahead` turns it on.
 *
 *   node --import tsx bench/lmdb-rss.ts --dir /tmp/scale10m/store-1 --keys 10000000 --seconds 45 [--read-ahead]
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { createLmdbStorage } from '../adapters/storage/lmdb.ts';
import { dataKey } from '../src/kv/keys.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const DIR = arg('dir', '');
const KEYS = Number(arg('keys', '10000000'));
const SECONDS = Number(arg('seconds', '45'));
const READ_AHEAD = process.argv.includes('--read-ahead');

/** The user keys bench/disk-scale.ts loads. */
const userKey = (i: number) => {
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  v.setUint32(0, 0x6b657930);
  v.setUint32(8, Math.floor(i / 2 ** 32));
  v.setUint32(12, i >>> 0);
  return k;
};

function rss(): { rssMB: number; anonMB: number; fileMB: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024;
  return { rssMB: kb('VmRSS'), anonMB: kb('RssAnon'), fileMB: kb('RssFile') };
}

const db = await createLmdbStorage({ dir: DIR, readAhead: READ_AHEAD });
const start = rss();
const peak = { ...start };
const sampler = setInterval(() => {
  const r = rss();
  peak.rssMB = Math.max(peak.rssMB, r.rssMB);
  peak.anonMB = Math.max(peak.anonMB, r.anonMB);
  peak.fileMB = Math.max(peak.fileMB, r.fileMB);
}, 500);
let x = 987654321;
const rnd = () => {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  return x % KEYS;
};
let gets = 0;
let puts = 0;
const end = performance.now() + SECONDS * 1000;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    for (let n = 0; performance.now() < end; n++) {
      // Synchronous reads can resolve without a macrotask turn: yield so that the sampler runs.
      if (n % 64 === 0) await new Promise((r) => setImmediate(r));
      const i = rnd();
      if (i % 10 === 0) {
        await db.write([{ type: 'put', key: dataKey(userKey(i)), value: new Uint8Array(100).fill(i & 0xff) }], { sync: true });
        puts++;
      } else {
        if ((await db.get(dataKey(userKey(i)))) === undefined) throw new Error(`key ${i} missing: is ${DIR} loaded with ${KEYS} keys?`);
        gets++;
      }
    }
  }),
);
clearInterval(sampler);
const last = rss();
peak.rssMB = Math.max(peak.rssMB, last.rssMB);
peak.anonMB = Math.max(peak.anonMB, last.anonMB);
peak.fileMB = Math.max(peak.fileMB, last.fileMB);
await db.close();
const round = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
console.log(JSON.stringify({ readAhead: READ_AHEAD, keys: KEYS, seconds: SECONDS, getsPerS: Math.round(gets / SECONDS), putsPerS: Math.round(puts / SECONDS), start: round(start), peak: round(peak) }));
process.exit(0);
