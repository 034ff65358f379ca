/**
 * The file side of transcripts: find them, run them, and rewrite them when re-recording.
 * The only module here that touches the file system (node:fs, which Deno provides too).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TranscriptCore } from './core.ts';
import type { TranscriptResult } from './runner.ts';
import { describeMismatches, runTranscriptFile } from './runner.ts';

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

/** One transcript's verdict, by file name. */
export interface TranscriptVerdict {
  name: string;
  ok: boolean;
  /** A short report of the first differences, empty when ok. */
  detail: string;
}

/**
 * Runs every transcript of `dir` against `core` (never rewriting them): what a mutation tester
 * calls with a mutated copy of the core, to learn which transcripts kill it. A transcript that
 * throws (a core stuck in a loop is cut off by the environment's bounds) counts as failed.
 */
export function runTranscriptDir(core: TranscriptCore, dir: string = TESTDATA_DIR): TranscriptVerdict[] {
  return listTranscripts(dir).map((path) => {
    const name = basename(path);
    try {
      const res = runTranscriptPath(path, core, false);
      return { name, ok: res.ok, detail: res.ok ? '' : describeMismatches(name, res) };
    } catch (err) {
      return { name, ok: false, detail: `  ${name}: ${err instanceof Error ? err.message : String(err)}` };
    }
  });
}
