/**
 * Storage benchmarks: synced batch writes with 1 and 16 concurrent writers for every engine
 * (16 writers shows group commit; IndexedDB both under fake-indexeddb and in real Chromium), the fs engine against a plain `fs.appendFile` + `fdatasync`
 * per record loop, and point gets, scans and start-up on 1M keys for memory, fs and lmdb; first,
 * durable writes and point reads of lmdb, fs and etcd side by side (`storage-etcd.ts`).
 */
import 'fake-indexeddb/auto';
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { createFsStorage } from '../adapters/storage/fs.ts';
import { createIndexedDbStorage } from '../adapters/storage/indexeddb.ts';
import { createLmdbStorage } from '../adapters/storage/lmdb.ts';
import { createMemoryStorage } from '../adapters/storage/memory.ts';
import { OrderedMap } from '../adapters/storage/ordered-map.ts';
import type { StorageEngine, WriteOp } from '../src/ports.ts';
import { encodeBatchRecord } from '../src/storage/batch-codec.ts';
import { compareBytes } from '../src/storage/bytes.ts';
import { chromiumIdbWrites } from './storage-chromium.ts';
import { sideBySide } from './storage-etcd.ts';
import { type BenchRow, timed } from './table.ts';

const WRITE_MS = 1500;
const PUTS_PER_BATCH = 4;
const VALUE_BYTES = 1024;
const BATCH_BYTES = PUTS_PER_BATCH * (16 + VALUE_BYTES);
const KEYS = 1_000_000;
const GETS = 300_000;

/** A 16-byte key spread over the key space by a multiplicative hash, then the index. */
function key(i: number, salt = 0): Uint8Array {
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  v.setUint32(0, Math.imul(i ^ salt, 2654435761) >>> 0);
  v.setUint32(4, salt);
  v.setUint32(8, i);
  return k;
}

function batch(writer: number, i: number): WriteOp[] {
  const value = new Uint8Array(VALUE_BYTES).fill(i & 0xff);
  return Array.from({ length: PUTS_PER_BATCH }, (_, p) => ({ type: 'put' as const, key: key(i * PUTS_PER_BATCH + p, writer + 1), value }));
}

/** Synced batches acknowledged per writer: writer `w` wrote batches `0 .. acked[w] - 1`. */
type Acked = number[];

async function syncedWrites(label: string, db: StorageEngine, writers: number, note?: string): Promise<{ rows: BenchRow[]; acked: Acked }> {
  const counts = await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let i = 0;
      return timed(WRITE_MS, () => db.write(batch(w, i++), { sync: true }));
    }),
  );
  const batches = counts.reduce((n, c) => n + c.count, 0);
  const seconds = Math.max(...counts.map((c) => c.seconds));
  const name = `${label} synced batches, ${writers} writer${writers > 1 ? 's' : ''}`;
  const rows: BenchRow[] = [
    { group: 'storage', name, value: batches / seconds, unit: 'batches/s', note: note ?? `${PUTS_PER_BATCH} puts x ${VALUE_BYTES} B` },
    { group: 'storage', name, value: (batches * BATCH_BYTES) / seconds / 1e6, unit: 'MB/s' },
  ];
  return { rows, acked: counts.map((c) => c.count) };
}

/**
 * Target 7 for an engine: every acknowledged batch is there, each put once with its value, and
 * nothing else is (a full scan counts the keys). Throws otherwise; returns the puts verified.
 */
async function verifyWrites(where: string, db: StorageEngine, acked: Acked): Promise<number> {
  let expected = 0;
  for (let w = 0; w < acked.length; w++) {
    for (let i = 0; i < acked[w]; i++) {
      for (const op of batch(w, i)) {
        const v = await db.get((op as { key: Uint8Array }).key);
        if (v === undefined || v.length !== VALUE_BYTES || v[0] !== (i & 0xff) || v[VALUE_BYTES - 1] !== (i & 0xff)) throw new Error(`${where}: acknowledged batch ${i} of writer ${w} is missing or wrong`);
        expected++;
      }
    }
  }
  const held = (await db.scan({})).length;
  if (held !== expected) throw new Error(`${where}: holds ${held} keys, ${expected} acknowledged`);
  return expected;
}

/** The loop group commit replaces: append one record, fdatasync, repeat. */
async function appendFileLoop(fd: number, ms: number): Promise<{ count: number; seconds: number }> {
  let i = 0;
  return timed(ms, async () => {
    const rec = encodeBatchRecord(batch(0, i++));
    await new Promise<void>((res, rej) => fs.appendFile(fd, rec, (e) => (e ? rej(e) : res())));
    await new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
  });
}

/**
 * fs group commit against the plain loop, measured in alternating slices so that both see the
 * same disk (other processes' flushes make a disk's speed drift from second to second).
 */
async function groupCommitRatio(dir: string): Promise<BenchRow[]> {
  const SLICES = 6;
  const SLICE_MS = 400;
  const fd = fs.openSync(join(dir, 'plain.log'), 'a');
  const dbs = [await createFsStorage({ dir: join(dir, 'ratio1') }), await createFsStorage({ dir: join(dir, 'ratio16') })];
  const total = { plain: 0, one: 0, sixteen: 0 };
  const secs = { plain: 0, one: 0, sixteen: 0 };
  for (let slice = 0; slice < SLICES; slice++) {
    const p = await appendFileLoop(fd, SLICE_MS);
    total.plain += p.count;
    secs.plain += p.seconds;
    for (const [k, db, writers] of [['one', dbs[0], 1], ['sixteen', dbs[1], 16]] as const) {
      const r = await Promise.all(Array.from({ length: writers }, (_, w) => { let i = slice * 1e6; return timed(SLICE_MS, () => db.write(batch(w, i++), { sync: true })); }));
      total[k] += r.reduce((n, c) => n + c.count, 0);
      secs[k] += Math.max(...r.map((c) => c.seconds));
    }
  }
  fs.closeSync(fd);
  for (const db of dbs) await db.close();
  const rate = (k: keyof typeof total) => total[k] / secs[k];
  const note = `${SLICES} alternating slices of ${SLICE_MS} ms`;
  return [
    { group: 'storage', name: 'plain fs.appendFile + fdatasync per record', value: rate('plain'), unit: 'records/s', note },
    { group: 'storage', name: 'fs synced batches, 1 writer (same slices)', value: rate('one'), unit: 'batches/s', note },
    { group: 'storage', name: 'fs synced batches, 16 writers (same slices)', value: rate('sixteen'), unit: 'batches/s', note },
    { group: 'storage', name: 'fs group commit (16 writers) / plain loop', value: rate('sixteen') / rate('plain'), unit: 'ratio' },
    { group: 'storage', name: 'fs (1 writer) / plain loop', value: rate('one') / rate('plain'), unit: 'ratio' },
  ];
}

async function writeBenchmarks(dir: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  let verified = 0;
  for (const writers of [1, 16]) {
    const db = createMemoryStorage();
    const r = await syncedWrites('memory', db, writers, 'no durability: sync is a no-op');
    rows.push(...r.rows);
    verified += await verifyWrites(`memory, ${writers} writers`, db, r.acked);
  }
  for (const writers of [1, 16]) {
    const path = join(dir, `w${writers}`);
    const db = await createFsStorage({ dir: path });
    const r = await syncedWrites('fs', db, writers);
    rows.push(...r.rows);
    await db.close();
    // Reopened: what was acknowledged as synced must have survived the close.
    const reopened = await createFsStorage({ dir: path });
    verified += await verifyWrites(`fs (reopened), ${writers} writers`, reopened, r.acked);
    await reopened.close();
  }
  for (const writers of [1, 16]) {
    const path = join(dir, `lmdb-w${writers}`);
    const db = await createLmdbStorage({ dir: path });
    const r = await syncedWrites('lmdb', db, writers, `${PUTS_PER_BATCH} puts x ${VALUE_BYTES} B; one LMDB commit per batch`);
    rows.push(...r.rows);
    await db.close();
    const reopened = await createLmdbStorage({ dir: path });
    verified += await verifyWrites(`lmdb (reopened), ${writers} writers`, reopened, r.acked);
    await reopened.close();
  }
  for (const writers of [1, 16]) {
    const db = await createIndexedDbStorage({ name: `bench-${writers}`, indexedDB: new IDBFactory() });
    const r = await syncedWrites('indexeddb (fake-indexeddb)', db, writers, 'in-memory fake: measures the adapter, not a disk');
    rows.push(...r.rows);
    verified += await verifyWrites(`indexeddb, ${writers} writers`, db, r.acked);
    await db.close();
  }
  rows.push({ group: 'storage', name: 'acknowledged puts verified exactly once (fs, lmdb after reopening)', value: verified, unit: 'puts', note: 'memory, fs, lmdb, fake-indexeddb runs above' });
  const real = await chromiumIdbWrites([1, 16], WRITE_MS, PUTS_PER_BATCH, VALUE_BYTES);
  for (const r of real ?? []) {
    const name = `indexeddb (headless Chromium) synced batches, ${r.writers} writer${r.writers > 1 ? 's' : ''}`;
    rows.push({ group: 'storage', name, value: r.batches / r.seconds, unit: 'batches/s', note: "durability: 'strict', profile in /tmp" });
    rows.push({ group: 'storage', name, value: (r.batches * BATCH_BYTES) / r.seconds / 1e6, unit: 'MB/s' });
  }
  if (!real) rows.push({ group: 'storage', name: 'indexeddb (headless Chromium)', value: Number.NaN, unit: '-', note: 'not run: /usr/bin/chromium missing' });
  rows.push(...(await groupCommitRatio(dir)));
  return rows;
}

async function readBenchmarks(label: string, db: StorageEngine): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const value = new Uint8Array(100).fill(7);
  let t0 = performance.now();
  for (let i = 0; i < KEYS; i += 1000) {
    const ops: WriteOp[] = [];
    for (let j = i; j < i + 1000; j++) ops.push({ type: 'put', key: key(j), value });
    await db.write(ops);
  }
  await db.write([], { sync: true });
  rows.push({ group: 'storage', name: `${label} load 1M keys`, value: KEYS / ((performance.now() - t0) / 1000), unit: 'keys/s', note: 'batches of 1000, 16 B keys, 100 B values' });
  t0 = performance.now();
  for (let i = 0; i < GETS; i++) if ((await db.get(key((i * 7919) % KEYS))) === undefined) throw new Error('missing key');
  rows.push({ group: 'storage', name: `${label} point gets on 1M keys`, value: GETS / ((performance.now() - t0) / 1000), unit: 'gets/s', note: 'random keys, one await each' });
  t0 = performance.now();
  let n = 0;
  let start: Uint8Array | undefined;
  for (;;) {
    const page = await db.scan({ start, limit: 1000 });
    n += page.length;
    if (page.length < 1000) break;
    const last = page[page.length - 1].key;
    start = new Uint8Array(last.length + 1);
    start.set(last);
  }
  if (n !== KEYS) throw new Error(`scanned ${n} rows`);
  rows.push({ group: 'storage', name: `${label} scan 1M keys`, value: KEYS / ((performance.now() - t0) / 1000), unit: 'rows/s', note: 'pages of 1000' });
  return rows;
}

/** Raw lookups without the engine's async call and copy, and a sorted array as the bar a custom structure would have to beat. */
function structureBaseline(): BenchRow[] {
  const keys = Array.from({ length: KEYS }, (_, i) => key(i));
  const map = new OrderedMap();
  map.apply(keys.map((k) => ({ type: 'put', key: k, value: k })));
  const sorted = [...keys].sort(compareBytes);
  let t0 = performance.now();
  for (let i = 0; i < GETS; i++) if (!map.get(keys[(i * 7919) % KEYS])) throw new Error('missing');
  const tree = GETS / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < GETS; i++) {
    const k = keys[(i * 7919) % KEYS];
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(sorted[mid], k) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (compareBytes(sorted[lo], k) !== 0) throw new Error('missing');
  }
  const array = GETS / ((performance.now() - t0) / 1000);
  return [
    { group: 'storage', name: 'sorted-btree get, 1M keys (sync, no copy)', value: tree, unit: 'gets/s' },
    { group: 'storage', name: 'sorted array binary search, 1M keys (sync)', value: array, unit: 'gets/s', note: 'read-only bound for a custom structure' },
  ];
}

/** Runs the storage benchmarks; about a minute and a half. */
export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
  try {
    // lmdb, fs and etcd under one load, first, while the machine is as quiet as it will be.
    const rows = await sideBySide();
    rows.push(...(await writeBenchmarks(dir)));
    const mem = createMemoryStorage();
    rows.push(...(await readBenchmarks('memory', mem)));
    await mem.close();
    const fsDir = join(dir, 'reads');
    const db = await createFsStorage({ dir: fsDir });
    rows.push(...(await readBenchmarks('fs', db)));
    await db.close();
    const t0 = performance.now();
    const reopened = await createFsStorage({ dir: fsDir });
    rows.push({ group: 'storage', name: 'fs open (recovery) with 1M keys', value: (performance.now() - t0) / 1000, unit: 's', note: 'checkpoint + log replay' });
    await reopened.close();
    const lmdbDir = join(dir, 'reads-lmdb');
    const ldb = await createLmdbStorage({ dir: lmdbDir });
    rows.push(...(await readBenchmarks('lmdb', ldb)));
    await ldb.close();
    const t1 = performance.now();
    const lreopened = await createLmdbStorage({ dir: lmdbDir });
    await lreopened.get(key(KEYS - 1));
    rows.push({ group: 'storage', name: 'lmdb open + first get with 1M keys', value: (performance.now() - t1) / 1000, unit: 's', note: 'maps the file; nothing replayed' });
    await lreopened.close();
    rows.push(...structureBaseline());
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
