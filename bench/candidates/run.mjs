// Storage-engine candidates for issue 17, measured the same way: see BENCHMARKS.md "Disk engine
// candidates". Each candidate is installed in its own folder with install scripts disabled:
//   for p in lmdb@3.5.6 classic-level@3.0.0 better-sqlite3@12.11.1; do
//     mkdir -p $ROOT/${p%@*} && (cd $ROOT/${p%@*} && npm init -y && npm install --ignore-scripts $p); done
// then: node bench/candidates/run.mjs $ROOT [keys] [kills]
import { spawn } from 'node:child_process';
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.argv[2];
const KEYS = Number(process.argv[3] ?? 200_000);
const KILLS = Number(process.argv[4] ?? 20);
const ROUNDS = 400;
const OPS_PER_ROUND = 32;
const READS = 200_000;

const key = (i) => { const k = Buffer.alloc(16); k.write('k', 0); k.writeUInt32BE(i, 12); return k; };
const value = (i) => Buffer.alloc(100, i & 0xff);

// Each adapter: open(dir), writeSync(batch of [k,v]) -> Promise after fsync, get(k), close().
const candidates = {
  lmdb: async (dir) => {
    const { open } = createRequire(join(root, 'lmdb', 'package.json'))('lmdb');
    const db = open({ path: dir, encoding: 'binary', keyEncoding: 'binary', overlappingSync: false, compression: false });
    return {
      write: async (ops, sync) => { if (sync) db.transactionSync(() => { for (const [k, v] of ops) db.putSync(k, v); }); else await db.transaction(() => { for (const [k, v] of ops) db.put(k, v); }); },
      get: async (k) => db.getBinary(k),
      getSync: (k) => db.getBinary(k),
      close: () => db.close(),
    };
  },
  'classic-level': async (dir) => {
    const { ClassicLevel } = createRequire(join(root, 'classic-level', 'package.json'))('classic-level');
    const db = new ClassicLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    return {
      write: (ops, sync) => db.batch(ops.map(([k, v]) => ({ type: 'put', key: k, value: v })), { sync }),
      get: (k) => db.get(k),
      close: () => db.close(),
    };
  },
  'better-sqlite3': async (dir) => {
    const D = createRequire(join(root, 'better-sqlite3', 'package.json'))('better-sqlite3');
    const db = new D(join(dir, 'db.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('create table if not exists kv (k blob primary key, v blob) without rowid');
    const put = db.prepare('insert or replace into kv values (?, ?)');
    const get = db.prepare('select v from kv where k = ?').pluck();
    const tx = db.transaction((ops) => { for (const [k, v] of ops) put.run(k, v); });
    return { write: async (ops) => tx(ops), get: async (k) => get.get(k), getSync: (k) => get.get(k), close: () => db.close() };
  },
};

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
const du = (path) => Number(execSync(`du -sb ${path}`).toString().split('\t')[0]);

async function measure(name) {
  const dir = mkdtempSync(join(tmpdir(), `cand-${name}-`));
  let db;
  try { db = await candidates[name](dir); } catch (e) { return { name, error: String(e).split('\n')[0] }; }
  for (let i = 0; i < KEYS; i += 10_000) {
    const ops = []; for (let j = i; j < Math.min(KEYS, i + 10_000); j++) ops.push([key(j), value(j)]);
    await db.write(ops, false);
  }
  await db.write([[key(0), value(0)]], true);
  const lat = [];
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    const ops = []; for (let j = 0; j < OPS_PER_ROUND; j++) ops.push([key(KEYS + r * OPS_PER_ROUND + j), value(r)]);
    const s = performance.now(); await db.write(ops, true); lat.push(performance.now() - s);
  }
  const roundsPerS = ROUNDS / ((performance.now() - t0) / 1000);
  let x = 1;
  const rnd = () => { x = (x * 1103515245 + 12345) & 0x7fffffff; return x % KEYS; };
  const r0 = performance.now();
  if (db.getSync) for (let i = 0; i < READS; i++) db.getSync(key(rnd()));
  else { const inflight = 64; let i = 0; await Promise.all(Array.from({ length: inflight }, async () => { while (i++ < READS) await db.get(key(rnd())); })); }
  const readsPerS = READS / ((performance.now() - r0) / 1000);
  await db.close();
  const disk = du(dir);
  const o0 = performance.now();
  const again = await candidates[name](dir);
  const got = await again.get(key(KEYS - 1));
  const restartMs = performance.now() - o0;
  if (got?.length !== 100) throw new Error(`${name}: key missing after reopen`);
  await again.close();
  const kills = await killSoak(name);
  rmSync(dir, { recursive: true, force: true });
  const install = du(join(root, name, 'node_modules'));
  return { name, roundsPerS: Math.round(roundsPerS), opsPerS: Math.round(roundsPerS * OPS_PER_ROUND), p50: pct(lat, 0.5).toFixed(2), p99: pct(lat, 0.99).toFixed(2), readsPerS: Math.round(readsPerS), restartMs: restartMs.toFixed(1), diskMB: (disk / 1e6).toFixed(1), installMB: (install / 1e6).toFixed(1), kills };
}

// A child writes synced rounds (round n puts c/n and sets the counter) and prints each acknowledged n;
// it is killed with SIGKILL at a random moment, then the parent checks every printed round is there.
async function killSoak(name) {
  const dir = mkdtempSync(join(tmpdir(), `kill-${name}-`));
  let lost = 0;
  for (let k = 0; k < KILLS; k++) {
    const child = spawn(process.execPath, [import.meta.filename, root, '--child', name, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = -1; let buf = '';
    child.stdout.on('data', (d) => { buf += d; const lines = buf.split('\n'); buf = lines.pop(); for (const l of lines) acked = Math.max(acked, Number(l)); });
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const db = await candidates[name](dir);
    const counter = await db.get(Buffer.from('counter'));
    const n = counter ? Buffer.from(counter).readUInt32BE(0) : -1;
    if (n < acked) lost++;
    for (let i = Math.max(0, n - 50); i <= n; i++) if (!(await db.get(Buffer.from(`c/${i}`)))) lost++;
    await db.close();
  }
  rmSync(dir, { recursive: true, force: true });
  return `${KILLS} kills, ${lost} lost`;
}

if (process.argv[3] === '--child') {
  const [, , , , name, dir] = process.argv;
  const db = await candidates[name](dir);
  const c = await db.get(Buffer.from('counter'));
  let n = c ? Buffer.from(c).readUInt32BE(0) + 1 : 0;
  for (;;) {
    const cb = Buffer.alloc(4); cb.writeUInt32BE(n);
    await db.write([[Buffer.from(`c/${n}`), value(n)], [Buffer.from('counter'), cb]], true);
    process.stdout.write(`${n}\n`);
    n++;
  }
} else {
  const rows = [];
  for (const name of Object.keys(candidates)) { const r = await measure(name); rows.push(r); console.log(JSON.stringify(r)); }
  console.table(rows);
}
