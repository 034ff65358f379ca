/**
 * `flotilla backup` and `flotilla restore` on real processes (docs/backup.md): three stores,
 * several regions (PD splits them as they fill, and merges small ones), a writer that writes sequential keys across the regions
 * while `flotilla backup` runs as its own process; then `flotilla restore` into three new data
 * directories, three new `flotilla serve` processes on them, and the restored state must be
 * (a) a superset of every write acknowledged before the backup began and (b) a prefix of the
 * writer's sequence (a consistent cut: no later write without every earlier one). (c) A backup
 * with a changed byte, or without its manifest, is refused and creates nothing.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import { verifyBackup } from '../../adapters/server/backup-files.ts';
import { RegionFileDecoder } from '../../src/client/backup-format.ts';
import { freePorts, serveArgs, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from '../../scripts/cluster-processes.ts';
import { FAST, logsOnFailure, SECRET, startCluster, type TestCluster } from './helpers.ts';

const LETTERS = 'bdhkmqsuy';
/** The writer's i-th key: consecutive writes go to different regions. */
const keyOf = (i: number) => `${LETTERS[i % LETTERS.length]}/${String(i).padStart(6, '0')}`;
const env = { FLOTILLA_SECRET: SECRET };

let source: TestCluster | undefined;
const restored: StoreProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(restored.map((p) => stopProcess(p, 'SIGKILL')));
  await source?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs a `flotilla` command to its end: exit code and output. */
async function run(args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = spawnFlotilla('node', args, env);
  const code = await p.exited;
  return { code, out: p.stdout, err: p.stderr };
}

describe('flotilla backup and restore', () => {
  it('backs up a consistent cut while a writer runs, and a new cluster restored from it serves exactly that', async () => {
    // PD splits regions above 60 keys (and merges those under 30): regions keep changing while the writer runs.
    source = await startCluster(3, [], ['--split-keys', '60']);
    logsOnFailure(source);
    const kv = await source.client();
    const work = mkdtempSync(join(tmpdir(), 'flotilla-backup-test-'));
    dirs.push(work);
    let writer: Promise<void> | undefined;
    let stop = false;
    try {
      // A writer of sequential keys: each write starts once the previous one was acknowledged.
      const ackedAt: number[] = [];
      writer = (async () => {
        for (let i = 0; !stop; i++) {
          await kv.put(keyOf(i), String(i));
          ackedAt[i] = Date.now();
        }
      })();
      // Several regions: PD splits them as the writer fills them.
      const deadline = Date.now() + 60_000;
      while (ackedAt.length < 300 || (await kv.admin.regions()).length < 4) {
        if (Date.now() > deadline) throw new Error(`only ${(await kv.admin.regions()).length} regions after ${ackedAt.length} writes`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const backupDir = join(work, 'backup');
      const startedAt = Date.now();
      const backup = await run(['backup', '--to', backupDir, '--endpoints', source.ports.map((p) => `127.0.0.1:${p}`).join(',')]);
      expect(backup.code, backup.err).toBe(0);
      expect(backup.out).toMatch(/backup \w+-\d of cluster flotilla written to .*: \d+ region\(s\).*fencing every region took \d+ ms/);
      // The writer went on during the backup (it was not stopped by it) and after.
      const ackedDuring = ackedAt.length;
      while (ackedAt.length < ackedDuring + 50) await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await writer;
      const beforeBackup = ackedAt.filter((t) => t < startedAt).length;
      const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as { regions: Array<{ file: string; pairs: number }>; fenceMs: number };
      expect(manifest.regions.length).toBeGreaterThanOrEqual(4);
      console.log(`backup: ${manifest.regions.map((r) => r.pairs).join('+')} pairs, fences took ${Math.round(manifest.fenceMs)} ms; ${beforeBackup} writes acknowledged before it began`);

      // (c) A changed byte, a missing manifest: refused, nothing created.
      const bad = join(work, 'bad');
      cpSync(backupDir, bad, { recursive: true });
      const file = join(bad, manifest.regions.find((r) => r.pairs > 0)!.file);
      const bytes = readFileSync(file);
      bytes[bytes.length - 30] ^= 0x01;
      writeFileSync(file, bytes);
      const badData = [1, 2, 3].map((i) => join(work, 'bad-data', `store-${i}`));
      const refused = await run(['restore', '--from', bad, '--data', badData.join(','), '--cluster', 'restored']);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/region-\d+\.fbak \(region \d+\) is refused: /);
      expect(existsSync(join(work, 'bad-data')) ? readdirSync(join(work, 'bad-data')) : []).toEqual([]);
      unlinkSync(join(bad, 'manifest.json'));
      const partial = await run(['restore', '--from', bad, '--data', badData.join(','), '--cluster', 'restored']);
      expect(partial.code).toBe(1);
      expect(partial.err).toMatch(/no manifest\.json/);
      // The same cluster id as the backup's is refused too.
      const same = await run(['restore', '--from', backupDir, '--data', badData.join(','), '--cluster', 'flotilla']);
      expect(same.code).toBe(1);
      expect(same.err).toMatch(/needs its own id/);

      // Restore into three new data directories and start a new cluster on them.
      const newDir = join(work, 'new');
      const restore = await run(['restore', '--from', backupDir, '--data', [1, 2, 3].map((i) => join(newDir, `store-${i}`)).join(','), '--cluster', 'restored']);
      expect(restore.code, restore.err).toBe(0);
      const all = await freePorts(6);
      const ports = all.slice(0, 3);
      for (let id = 1; id <= 3; id++) restored.push(spawnFlotilla('node', serveArgs(id, ports, all.slice(3), newDir, [...FAST, '--cluster', 'restored']), env));
      await Promise.all(restored.map((p) => waitListening(p, 60_000)));
      const fresh: RemoteKvClient = await connect({ endpoints: ports.map((p) => `ws://127.0.0.1:${p}`), secret: SECRET, cluster: 'restored' });
      try {
        const regions = await fresh.admin.regions();
        expect(regions.length).toBe(manifest.regions.length);
        const rows = await fresh.scan('', '');
        const present = new Set(rows.map((r) => new TextDecoder().decode(r.key)));
        let k = 0;
        while (present.has(keyOf(k))) k++;
        // (b) Prefix-closed: keys 0..k-1 and nothing after.
        expect(present.size).toBe(k);
        for (const r of rows) expect(new TextDecoder().decode(r.value ?? new Uint8Array(0))).toBe(String(Number(new TextDecoder().decode(r.key).slice(2))));
        // (a) Everything acknowledged before the backup began.
        expect(k).toBeGreaterThanOrEqual(beforeBackup);
        // Not later than what was acknowledged by the end of the backup plus the one in flight.
        expect(k).toBeLessThanOrEqual(ackedDuring + 1);
        // The new cluster takes writes.
        await fresh.put('after-restore', 'yes');
        expect(new TextDecoder().decode((await fresh.get('after-restore')) ?? new Uint8Array(0))).toBe('yes');
      } finally {
        fresh.close();
      }
    } finally {
      stop = true;
      await writer?.catch(() => undefined);
      kv.close();
    }
  }, 240_000);
  it('backs up while a store is frozen (SIGSTOP): attempts that wait for it are thrown away, the cut still holds', async () => {
    const cluster = source!;
    const kv = await cluster.client();
    const work = mkdtempSync(join(tmpdir(), 'flotilla-backup-frozen-'));
    dirs.push(work);
    let stop = false;
    const base = 1_000_000;
    let acked = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        await kv.put(keyOf(base + i), String(base + i));
        acked = i + 1;
      }
    })();
    const frozen = cluster.stores.get(3)!;
    try {
      while (acked < 50) await new Promise((r) => setTimeout(r, 20));
      frozen.child.kill('SIGSTOP');
      const before = acked;
      const backupDir = join(work, 'backup');
      const backup = await run(['backup', '--to', backupDir, '--endpoints', cluster.ports.slice(0, 2).map((p) => `127.0.0.1:${p}`).join(','), '--fence-timeout-ms', '2000']);
      frozen.child.kill('SIGCONT');
      console.log(`backup with store 3 frozen: ${backup.err}${backup.out}`);
      expect(backup.code, backup.err).toBe(0);
      const manifest = await verifyBackup(backupDir);
      const present = new Set<number>();
      for (const r of manifest.regions) {
        const d = new RegionFileDecoder(r);
        for (const p of d.push(readFileSync(join(backupDir, r.file)))) {
          const k = new TextDecoder().decode(p.key.subarray(1));
          const n = Number(k.slice(2));
          if (n >= base) present.add(n - base);
        }
        d.finish();
      }
      let k = 0;
      while (present.has(k)) k++;
      expect(present.size).toBe(k);
      expect(k).toBeGreaterThanOrEqual(before);
    } finally {
      frozen.child.kill('SIGCONT');
      stop = true;
      await writer.catch(() => undefined);
      kv.close();
    }
  }, 180_000);
});
