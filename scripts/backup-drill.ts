/**
 * Measures `flotilla backup` and `flotilla restore` on real processes (docs/backup.md): three
 * `flotilla serve` stores, N keys of 100-byte values (default 100,000) written in batches, one
 * writer still writing; then the backup (its fencing time, its total time, the files' size), the
 * writer's slowest write during it, and the restore of three data directories.
 * PD splits regions above 10,000 keys. Run: `node --import tsx scripts/backup-drill.ts [keys]`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { connect } from '../adapters/client/remote.ts';
import { freePorts, serveArgs, spawnFlotilla, stopProcess, waitListening } from './cluster-processes.ts';

const keys = Number(process.argv[2] ?? 100_000);
const SECRET = 'flotilla backup drill secret 32b';
const dir = mkdtempSync(join(tmpdir(), 'flotilla-backup-drill-'));
// Not spawnSync: the writer in this process must go on while the command runs.
const cli = async (args: string[]) => {
  const t = performance.now();
  const p = spawnFlotilla('node', args, { FLOTILLA_SECRET: SECRET });
  const code = await p.exited;
  if (code !== 0) throw new Error(`flotilla ${args[0]} exited ${code}: ${p.stderr}`);
  process.stderr.write(p.stderr);
  return { ms: performance.now() - t, out: p.stdout };
};
const all = await freePorts(6);
const stores = [1, 2, 3].map((id) => spawnFlotilla('node', serveArgs(id, all.slice(0, 3), all.slice(3), dir, ['--log-level', 'warn', '--split-keys', '10000']), { FLOTILLA_SECRET: SECRET }));
try {
  await Promise.all(stores.map((p) => waitListening(p, 60_000)));
  const kv = await connect({ endpoints: all.slice(0, 3).map((p) => `ws://127.0.0.1:${p}`), secret: SECRET });
  const value = 'v'.repeat(100);
  for (let i = 0; i < keys; i += 1000) await kv.putAll(Array.from({ length: Math.min(1000, keys - i) }, (_, j) => ({ key: `key/${String(i + j).padStart(8, '0')}`, value })));
  let stop = false;
  let slowest = 0;
  let writes = 0;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      const t = performance.now();
      await kv.put(`writer/${i}`, String(i));
      slowest = Math.max(slowest, performance.now() - t);
      writes++;
    }
  })();
  await new Promise((r) => setTimeout(r, 1000));
  const before = { slowest, writes };
  slowest = 0;
  const backup = await cli(['backup', '--to', join(dir, 'backup'), '--endpoints', `127.0.0.1:${all[0]}`]);
  const during = { slowest, writes: writes - before.writes };
  stop = true;
  await writer;
  kv.close();
  const manifest = JSON.parse(readFileSync(join(dir, 'backup', 'manifest.json'), 'utf8')) as { fenceMs: number; regions: Array<{ bytes: number; pairs: number }> };
  const restore = await cli(['restore', '--from', join(dir, 'backup'), '--data', [1, 2, 3].map((i) => join(dir, 'restored', `store-${i}`)).join(','), '--cluster', 'drill-restored']);
  const mb = manifest.regions.reduce((n, r) => n + r.bytes, 0) / 2 ** 20;
  console.log(`${keys} keys of 100 B, ${manifest.regions.length} region(s), ${manifest.regions.reduce((n, r) => n + r.pairs, 0)} pairs, ${mb.toFixed(1)} MiB of files`);
  console.log(`backup: fencing ${Math.round(manifest.fenceMs)} ms, ${Math.round(backup.ms)} ms in all (process start included)`);
  console.log(`writer: slowest write ${before.slowest.toFixed(1)} ms in the second before, ${during.slowest.toFixed(1)} ms during the backup (${during.writes} writes)`);
  console.log(`restore (verify, then 3 data directories): ${Math.round(restore.ms)} ms`);
} finally {
  await Promise.all(stores.map((p) => stopProcess(p, 'SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
}
