import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCrashRounds } from './crash-harness.ts';
import { testSeed } from './helpers.ts';

const KILLS = 40;

it(`fs: ${KILLS} SIGKILLs of a process writing synced batches lose nothing acknowledged`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-crash-'));
  try {
    const seed = testSeed('fs crash');
    const r = await runCrashRounds({ kills: KILLS, seed, dir });
    console.log(`[fs crash] ${JSON.stringify(r)}`);
    expect(r.kills).toBe(KILLS);
    // The test must have exercised something: acknowledged batches and checkpoints on disk.
    expect(r.ackedBatches).toBeGreaterThan(KILLS * 5);
    expect(r.checkpointsSeen).toBeGreaterThan(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);

const LMDB_KILLS = 25;

it(`lmdb: ${LMDB_KILLS} SIGKILLs of a process writing synced batches lose nothing acknowledged`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-crash-lmdb-'));
  try {
    const seed = testSeed('lmdb crash');
    const r = await runCrashRounds({ kills: LMDB_KILLS, seed, dir, engine: 'lmdb' });
    console.log(`[lmdb crash] ${JSON.stringify(r)}`);
    expect(r.kills).toBe(LMDB_KILLS);
    expect(r.ackedBatches).toBeGreaterThan(LMDB_KILLS * 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
