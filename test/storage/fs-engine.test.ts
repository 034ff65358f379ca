// fs engine behaviour beyond the conformance suite: the lock file, group commit, bounded disk use
// through checkpoints, the same file under Deno, and the browser stub.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFsStorage as createBrowserStub } from '../../adapters/storage/fs.browser.ts';
import { createFsStorage, LockedError } from '../../adapters/storage/fs.ts';
import { b } from './helpers.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-fs-engine-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Bytes in the data directory. A checkpoint written in the background may rename its `.tmp` file
 * between readdir and stat: then the listing is stale and is taken again (CI saw the ENOENT).
 */
const dirBytes = (): number => {
  for (;;) {
    let vanished = false;
    const bytes = readdirSync(dir).reduce((n, f) => {
      const st = statSync(join(dir, f), { throwIfNoEntry: false });
      if (st === undefined) vanished = true;
      return n + (st?.size ?? 0);
    }, 0);
    if (!vanished) return bytes;
  }
};

describe('fs engine', () => {
  it('lets one engine at a time hold a directory, in this process too', async () => {
    const db = await createFsStorage({ dir });
    const err = await createFsStorage({ dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).code).toBe('Locked');
    expect((err as LockedError).message).toContain(`process ${process.pid}`);
    await db.close();
    const again = await createFsStorage({ dir });
    await again.close();
  });

  it('refuses a lock held by another live process and takes over one left by a dead process', async () => {
    const sleeper = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, 'LOCK'), `${sleeper.pid}\n`);
      await expect(createFsStorage({ dir })).rejects.toMatchObject({ code: 'Locked' });
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.on('exit', r));
    }
    // The same pid is now dead: the lock is stale and is taken over.
    const db = await createFsStorage({ dir });
    await db.write([{ type: 'put', key: b(1), value: b(1) }], { sync: true });
    await db.close();
    expect(readdirSync(dir)).not.toContain('LOCK');
  });

  it('commits concurrent synced batches in groups: one writev and one fdatasync per group', async () => {
    const groups: { batches: number; synced: boolean }[] = [];
    const db = await createFsStorage({ dir, onGroupCommit: (g) => groups.push(g) });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 256; i++) writes.push(db.write([{ type: 'put', key: b(i % 200, i), value: new Uint8Array(64) }], { sync: true }));
    await Promise.all(writes);
    await db.close();
    expect(groups.reduce((n, g) => n + g.batches, 0)).toBe(256);
    expect(groups.every((g) => g.synced)).toBe(true);
    expect(groups.length).toBeLessThan(256 / 4);
  });

  it('keeps disk use and start-up work bounded with checkpoints while data is overwritten', async () => {
    const db = await createFsStorage({ dir, checkpointLogBytes: 64 * 1024 });
    const value = new Uint8Array(1000);
    let maxBytes = 0;
    for (let round = 0; round < 40; round++) {
      // 100 keys of ~1 KB live (L = max(64 KiB, 100 KB)), 4 MB written in all.
      await Promise.all(Array.from({ length: 100 }, (_, k) => db.write([{ type: 'put', key: b(k + 1), value: value.fill(round) }])));
      maxBytes = Math.max(maxBytes, dirBytes());
    }
    await db.close();
    // The documented bound: 2 checkpoints (2 x 100 KB) + 3L (300 KB) + groups of 100 KB.
    expect(maxBytes).toBeLessThan(800 * 1024);
    expect(readdirSync(dir).filter((f) => f.startsWith('checkpoint-')).length).toBe(1);
    const again = await createFsStorage({ dir });
    expect((await again.get(b(50)))?.[0]).toBe(39);
    expect((await again.approximateSize()).keys).toBe(100);
    await again.close();
  });

  it('stops with StorageIOError after a failed log write and reopens with only what reached the disk', async () => {
    const db = await createFsStorage({ dir });
    await db.write([{ type: 'put', key: b(1), value: b(1) }], { sync: true });
    // The immutable attribute makes the next write(2) on the open log fail with EPERM (ext4, as root).
    const log = join(dir, 'log-0000000001.wal');
    execFileSync('chattr', ['+i', log]);
    try {
      await expect(db.write([{ type: 'put', key: b(2), value: b(2) }], { sync: true })).rejects.toMatchObject({ code: 'StorageIO' });
      // Memory may be ahead of the log now, so nothing is served any more.
      await expect(db.get(b(1))).rejects.toMatchObject({ code: 'StorageIO' });
      await expect(db.write([{ type: 'put', key: b(3), value: b(3) }])).rejects.toMatchObject({ code: 'StorageIO' });
    } finally {
      execFileSync('chattr', ['-i', log]);
    }
    await db.close();
    const again = await createFsStorage({ dir });
    expect((await again.scan()).map((r) => r.key[0])).toEqual([1]);
    await again.close();
  });

  it('runs unchanged under Deno 2 (node:fs only)', () => {
    const out = execFileSync(join(process.cwd(), 'node_modules/.bin/deno'), ['run', '-A', 'test/storage/deno-smoke.ts', join(dir, 'deno')], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    });
    expect(out.trim()).toBe('ok 150 50');
  });

  it('has a browser build that rejects with a clear UnsupportedError', async () => {
    await expect(createBrowserStub({ dir: '/data' })).rejects.toMatchObject({
      code: 'Unsupported',
      message: expect.stringContaining('flotilla/storage/indexeddb'),
    });
  });
});
