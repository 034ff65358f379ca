/**
 * The backup directory and restore (adapters/server/backup-files.ts), in one process: a backup of
 * an in-page cluster written to disk, refused when written over; restored into three data
 * directories that an in-page cluster then serves (values, a sequence, a held lock, the ranges);
 * a damaged file, a non-empty data directory or the backup's own cluster id refused with nothing
 * left behind.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { directorySink, restoreBackup, verifyBackup } from '../../adapters/server/backup-files.ts';
import { openStoreData } from '../../adapters/server/store-data.ts';
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { takeBackup } from '../../src/client/backup.ts';
import { drive, elapse, text, virtualCluster } from '../store/helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'flotilla-backup-files-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('backup files and restore', () => {
  it('writes a backup, refuses to write over it, restores it into a cluster that serves it', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['g', 'p'] });
    const kv = v.cluster.client();
    const dir = join(work, 'b1');
    try {
      await drive(v.clock, kv.putAll(Array.from({ length: 60 }, (_, i) => ({ key: `${'adhmqz'[i % 6]}${i}`, value: `v${i}` }))));
      await drive(v.clock, kv.getSequence('seq', 5));
      expect(await drive(v.clock, kv.getDistributedLock('held', 600_000).tryLock())).toBe(true);
      expect(await drive(v.clock, kv.getDistributedLock('lapsed', 2000).tryLock())).toBe(true);
      await elapse(v.clock, 5000);
      // A later write in the same region: its region time is past the lapsed lock's deadline.
      await drive(v.clock, kv.put('later', 'x'));
      const sink = await directorySink(dir);
      const { manifest } = await drive(v.clock, takeBackup(kv.admin, sink, { clusterId: 'source', backupId: 'f1', clock: v.clock, wallClock: () => new Date(0).toISOString() }));
      expect(manifest.regions.length).toBe(3);
      expect(readdirSync(dir).sort()).toEqual(['manifest.json', ...manifest.regions.map((r) => r.file)].sort());
      await expect(directorySink(dir)).rejects.toThrow(/already holds a backup/);
      expect((await verifyBackup(dir)).backupId).toBe(manifest.backupId);
    } finally {
      await v.cluster.close();
    }

    const dataDirs = [1, 2, 3].map((i) => join(work, 'r1', `store-${i}`));
    const result = await restoreBackup({ from: dir, dataDirs, clusterId: 'local', pd: false });
    expect(result.regions.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(readdirSync(join(work, 'r1')).sort()).toEqual(['store-1', 'store-2', 'store-3']);
    const identity = JSON.parse(readFileSync(join(dataDirs[1], 'flotilla-store.json'), 'utf8'));
    expect(identity).toMatchObject({ storeId: 2, clusterId: 'local', initialStoreIds: [1, 2, 3], pdStoreIds: [] });
    // The in-page cluster is cluster "local": it opens the restored engines and bootstraps nothing.
    // (On the real clock: lmdb's commits take real time.)
    const restored = await createLocalCluster({ stores: 3, storage: async (id) => (await openStoreData(dataDirs[id - 1]))!.engine });
    try {
      await restored.waitForLeaders();
      const client = restored.client();
      const regions = await client.admin.regions();
      expect(regions.map((r) => text(r.startKey))).toEqual(['', 'g', 'p']);
      const rows = await client.scan('', '');
      expect(rows.length).toBe(61);
      expect(text(await client.get('z5'))).toBe('v5');
      expect(await client.getSequence('seq', 1)).toMatchObject({ startValue: 5 });
      // Lock deadlines count in region time, restored with the regions: one lock is still held, the
      // other had lapsed (with region time starting again at 0 it would look held for seconds).
      expect(await client.getDistributedLock('held', 1000).tryLock()).toBe(false);
      expect(await client.getDistributedLock('lapsed', 1000).tryLock()).toBe(true);
      await client.put('new', 'write');
    } finally {
      await restored.close();
    }
  });

  it('refuses a damaged backup, a non-empty data directory and the same cluster id, leaving nothing behind', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['m'] });
    const kv = v.cluster.client();
    const dir = join(work, 'b2');
    try {
      await drive(v.clock, kv.putAll(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(100) }))));
      await drive(v.clock, takeBackup(kv.admin, await directorySink(dir), { clusterId: 'source', backupId: 'f2', clock: v.clock, wallClock: () => new Date(0).toISOString() }));
    } finally {
      await v.cluster.close();
    }
    const target = join(work, 'r2');
    const dataDirs = [1, 2, 3].map((i) => join(target, `store-${i}`));
    await expect(restoreBackup({ from: dir, dataDirs, clusterId: 'source' })).rejects.toThrow(/needs its own id/);
    await mkdir(dataDirs[2], { recursive: true });
    await writeFile(join(dataDirs[2], 'something'), 'x');
    await expect(restoreBackup({ from: dir, dataDirs, clusterId: 'new' })).rejects.toThrow(/is not empty/);
    expect(readdirSync(target)).toEqual(['store-3']);
    rmSync(target, { recursive: true, force: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const file = join(dir, manifest.regions[0].file);
    const bytes = readFileSync(file);
    bytes[bytes.length - 50] ^= 0x40;
    writeFileSync(file, bytes);
    await expect(restoreBackup({ from: dir, dataDirs, clusterId: 'new' })).rejects.toMatchObject({ code: 'BackupDamaged' });
    expect(readdirSync(work).filter((f) => f.startsWith('r2') || f.startsWith('.store'))).toEqual([]);
  });
});
