/**
 * The Raft behaviour transcripts (`test/raft/testdata/*.txt`), one test per file.
 * Re-record after an intended behaviour change with `npm run transcripts:update` and review the diff.
 */
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCore } from './transcript/default-core.ts';
import { listTranscripts, runTranscriptPath, updateRequested } from './transcript/files.ts';
import { describeMismatches } from './transcript/runner.ts';

const files = listTranscripts();
const update = updateRequested();

describe('raft transcripts', () => {
  it('has at least 30 behaviours on record', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });
  for (const path of files) {
    const name = basename(path);
    it(name, () => {
      const res = runTranscriptPath(path, defaultCore, update);
      if (update) return; // the file now holds what happened; review it with git diff
      expect(res.ok, `transcript ${name} differs (re-record with UPDATE_TRANSCRIPTS=1 and review the diff):\n${describeMismatches(name, res)}`).toBe(true);
    });
  }
});
