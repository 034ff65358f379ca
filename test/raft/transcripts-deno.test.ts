/**
 * The same Raft transcripts under Deno (the `deno` npm package): the CLI runner must report every
 * file passed there too, so the core and the transcript machinery behave alike in both runtimes.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listTranscripts } from './transcript/files.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const deno = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));

describe('raft transcripts under Deno', () => {
  it('passes every transcript', () => {
    const res = spawnSync(deno, ['run', '-A', '--quiet', 'test/raft/transcript/cli.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, UPDATE_TRANSCRIPTS: '' },
    });
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
    expect(out, out).toContain(`transcripts: ${listTranscripts().length} passed, 0 failed`);
    expect(res.status, out).toBe(0);
  });
});
