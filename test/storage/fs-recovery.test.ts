// fs engine recovery: torn tails are dropped, damage before valid records refuses to open with the
// file and offset, checkpoints and their leftovers are handled.
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptionError, createFsStorage } from '../../adapters/storage/fs.ts';
import { scanRecords } from '../../src/storage/record.ts';
import { b } from './helpers.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-recovery-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const LOG = () => join(dir, 'log-0000000001.wal');

/** Writes `n` synced batches (keys 0..n-1, 100-byte values) and closes; returns record offsets. */
async function writeBatches(n: number): Promise<number[]> {
  const db = await createFsStorage({ dir });
  for (let i = 0; i < n; i++) await db.write([{ type: 'put', key: b(i + 1), value: new Uint8Array(100).fill(i) }], { sync: true });
  await db.close();
  const offsets: number[] = [];
  scanRecords(new Uint8Array(readFileSync(LOG())), 0, (_s, _e, at) => offsets.push(at));
  expect(offsets.length).toBe(n);
  return offsets;
}

async function keysAfterOpen(): Promise<number[]> {
  const warnings: string[] = [];
  const db = await createFsStorage({ dir, logger: { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) } });
  const keys = (await db.scan()).map((r) => r.key[0]);
  await db.write([{ type: 'put', key: b(200), value: b(1) }], { sync: true }); // the log takes appends again
  await db.close();
  return keys;
}

function flip(path: string, offset: number): void {
  const buf = readFileSync(path);
  buf[offset] ^= 0x40;
  writeFileSync(path, buf);
}

describe('fs recovery', () => {
  it('drops a truncated last record and keeps every earlier one', async () => {
    const offsets = await writeBatches(5);
    truncateSync(LOG(), offsets[4] + 30);
    expect(await keysAfterOpen()).toEqual([1, 2, 3, 4]);
    expect(await keysAfterOpen()).toEqual([1, 2, 3, 4, 200]);
  });

  it('drops a last record cut inside its header', async () => {
    const offsets = await writeBatches(3);
    truncateSync(LOG(), offsets[2] + 5);
    expect(await keysAfterOpen()).toEqual([1, 2]);
  });

  for (const [what, delta] of [
    ['payload', 60],
    ['length field', 1],
    ['header checksum', 9],
  ] as const) {
    it(`drops the last record as a torn tail when a byte of its ${what} is flipped`, async () => {
      const offsets = await writeBatches(4);
      flip(LOG(), offsets[3] + delta);
      expect(await keysAfterOpen()).toEqual([1, 2, 3]);
    });
  }

  for (const [what, delta] of [
    ['payload', 60],
    ['length field', 2],
  ] as const) {
    it(`refuses to open, naming file and offset, when a byte of an earlier record's ${what} is flipped`, async () => {
      const offsets = await writeBatches(5);
      flip(LOG(), offsets[2] + delta);
      const before = readFileSync(LOG());
      const err = await createFsStorage({ dir }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CorruptionError);
      const c = err as CorruptionError;
      expect(c.code).toBe('Corruption');
      expect(c.file).toBe(LOG());
      expect(c.offset).toBe(offsets[2]);
      expect(c.message).toContain(`${LOG()} at byte offset ${offsets[2]}`);
      expect(readFileSync(LOG()).equals(before)).toBe(true); // nothing was dropped
      // The failed open released the lock; salvaging is an explicit choice.
      const db = await createFsStorage({ dir, onCorruption: 'truncate' });
      expect((await db.scan()).map((r) => r.key[0])).toEqual([1, 2]);
      await db.close();
    });
  }

  it('refuses to open a damaged checkpoint, and damage in an older log', async () => {
    const db = await createFsStorage({ dir, checkpointLogBytes: 1024 });
    for (let i = 0; i < 40; i++) await db.write([{ type: 'put', key: b(i + 1), value: new Uint8Array(100) }], { sync: true });
    await db.close();
    const ckpt = readdirSync(dir).find((f) => f.startsWith('checkpoint-'))!;
    expect(ckpt).toBeDefined();
    flip(join(dir, ckpt), 40);
    await expect(createFsStorage({ dir })).rejects.toMatchObject({ code: 'Corruption', file: join(dir, ckpt), offset: 0 });
  });

  it('removes an interrupted checkpoint and files a finished checkpoint made obsolete', async () => {
    const db = await createFsStorage({ dir, checkpointLogBytes: 1024 });
    for (let i = 0; i < 40; i++) await db.write([{ type: 'put', key: b(i + 1), value: new Uint8Array(100) }], { sync: true });
    await db.close();
    writeFileSync(join(dir, 'checkpoint-0000000099.ckpt.tmp'), 'half written');
    writeFileSync(join(dir, 'log-0000000000.wal'), 'obsolete');
    const again = await createFsStorage({ dir });
    expect((await again.scan()).length).toBe(40);
    await again.close();
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.tmp') || f === 'log-0000000000.wal')).toEqual([]);
  });
});
