import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLmdbStorage as createBrowserStub } from '../../adapters/storage/lmdb.browser.ts';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-lmdb-rt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lmdb engine across runtimes', () => {
  it('runs under Deno 2 from the same prebuilt binary', () => {
    const out = execFileSync(join(process.cwd(), 'node_modules/.bin/deno'), ['run', '-A', 'test/storage/deno-smoke-lmdb.ts', join(dir, 'deno')], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    });
    expect(out.trim()).toBe('ok 90 10');
  }, 120_000);

  it('has a browser build that rejects with a clear UnsupportedError', async () => {
    await expect(createBrowserStub({ dir: '/data' })).rejects.toMatchObject({ code: 'Unsupported', message: expect.stringContaining('flotilla/storage/indexeddb') });
  });
});
