/**
 * The file side of transcripts: find them, run them, and rewrite them when re-recording.
 * The only module here that touches the file system (node:fs, which Deno provides too).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TranscriptCore } from './core.ts';
import type { TranscriptResult } from './runner.ts';
import { runTranscriptFile } from './runner.ts';

/** The folder of the project's transcripts. */
export const TESTDATA_DIR: string = fileURLToPath(new URL('../testdata/', import.meta.url));

/** The transcript files (`*.txt`) of `dir`, sorted by name. */
export function listTranscripts(dir: string = TESTDATA_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Runs the transcript at `path` against `core`. With `update`, writes the actual output back
 * when it differs, so that a behaviour change shows up as a diff to review.
 */
export function runTranscriptPath(path: string, core: TranscriptCore, update = false): TranscriptResult {
  const text = readFileSync(path, 'utf8');
  const res = runTranscriptFile(text, core);
  if (update && res.actual !== text) writeFileSync(path, res.actual);
  return res;
}

/** Whether re-recording was asked for through the environment (`UPDATE_TRANSCRIPTS=1`). */
export function updateRequested(): boolean {
  const v = process.env.UPDATE_TRANSCRIPTS;
  return v !== undefined && v !== '' && v !== '0';
}
