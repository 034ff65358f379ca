/**
 * Runs the Raft transcripts outside vitest, under Node or Deno:
 *
 *   node --experimental-strip-types test/raft/transcript/cli.ts [--update] [file.txt ...]
 *   npx deno run -A test/raft/transcript/cli.ts [--update] [file.txt ...]
 *
 * Prints one line per transcript and a final `N passed, N failed` line; exits 1 on a failure.
 */
import { basename } from 'node:path';
import process from 'node:process';
import { defaultCore } from './default-core.ts';
import { listTranscripts, runTranscriptPath, updateRequested } from './files.ts';
import { describeMismatches } from './runner.ts';

const argv = process.argv.slice(2);
const update = argv.includes('--update') || updateRequested();
const files = argv.filter((a) => !a.startsWith('--'));
let passed = 0;
let failed = 0;
for (const path of files.length > 0 ? files : listTranscripts()) {
  const name = basename(path);
  const res = runTranscriptPath(path, defaultCore, update);
  if (res.ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`${update ? 'REWRITTEN' : 'FAIL'} ${name}\n${describeMismatches(name, res)}`);
  }
}
console.log(`transcripts: ${passed} passed, ${failed} failed`);
if (failed > 0 && !update) process.exit(1);
