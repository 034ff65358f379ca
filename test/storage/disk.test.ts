import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectDiskEngine, openDiskStorage } from '../../adapters/storage/disk.ts';
import type { Logger } from '../../src/ports.ts';
import { b } from './helpers.ts';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'flotilla-disk-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const recorder = () => {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  return { warnings, logger };
};
const noLmdb = async () => {
  throw new Error('Cannot find package lmdb');
};

describe('choosing a data directory engine', () => {
  it('uses lmdb for a new directory and finds it again', async () => {
    const dir = fresh();
    const { engine, kind } = await openDiskStorage({ dir });
    expect(kind).toBe('lmdb');
    await engine.write([{ type: 'put', key: b(1), value: b(2) }], { sync: true });
    await engine.close();
    expect(detectDiskEngine(dir)).toBe('lmdb');
    const again = await openDiskStorage({ dir });
    expect(again.kind).toBe('lmdb');
    expect(await again.engine.get(b(1))).toEqual(b(2));
    await again.engine.close();
  });

  it('falls back to fs with one warning line where lmdb cannot load', async () => {
    const { warnings, logger } = recorder();
    const { engine, kind } = await openDiskStorage({ dir: fresh(), logger, loadLmdb: noLmdb });
    expect(kind).toBe('fs');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/using the fs engine/);
    expect(warnings[0]).not.toMatch(/\n/);
    await engine.close();
  });

  it('keeps an fs directory on fs, and refuses to fall back on a directory holding lmdb data', async () => {
    const fsDir = fresh();
    const first = await openDiskStorage({ dir: fsDir, engine: 'fs' });
    await first.engine.write([{ type: 'put', key: b(1), value: b(1) }], { sync: true });
    await first.engine.close();
    const again = await openDiskStorage({ dir: fsDir });
    expect(again.kind).toBe('fs');
    expect(await again.engine.get(b(1))).toEqual(b(1));
    await again.engine.close();
    await expect(openDiskStorage({ dir: fsDir, engine: 'lmdb' })).rejects.toMatchObject({ code: 'InvalidArgument' });

    const lmdbDir = fresh();
    await (await openDiskStorage({ dir: lmdbDir })).engine.close();
    await expect(openDiskStorage({ dir: lmdbDir, loadLmdb: noLmdb })).rejects.toThrow(/Cannot find package lmdb/);
    await expect(openDiskStorage({ dir: lmdbDir, engine: 'fs' })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
