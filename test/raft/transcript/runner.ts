/**
 * Runs a transcript against a Raft core and compares what happens with what was recorded.
 * No I/O and no test framework: the vitest suite, the CLI (Node or Deno) and a mutation tester
 * all call {@link runTranscriptFile} with the core they want to judge.
 */
import { runCommand } from './commands.ts';
import type { TranscriptCore } from './core.ts';
import { formatTranscript, parseTranscript } from './datadriven.ts';
import { InteractionEnv } from './env.ts';

/** A block whose output differs from the recording. */
export interface TranscriptMismatch {
  lineNo: number;
  command: string;
  expected: string;
  actual: string;
}

export interface TranscriptResult {
  /** True when every block printed exactly what was recorded. */
  ok: boolean;
  /** The transcript rewritten with the actual outputs (what re-recording writes). */
  actual: string;
  mismatches: TranscriptMismatch[];
}

/** Runs every block of `text` in one fresh environment over `core`. */
export function runTranscriptFile(text: string, core: TranscriptCore): TranscriptResult {
  const blocks = parseTranscript(text);
  const env = new InteractionEnv(core);
  const outputs: string[] = [];
  const mismatches: TranscriptMismatch[] = [];
  for (const b of blocks) {
    if (b.cmd === '') {
      outputs.push('');
      continue;
    }
    const actual = runCommand(env, b.cmd, b.args, b.line);
    outputs.push(actual);
    if (actual !== b.expected) mismatches.push({ lineNo: b.lineNo, command: b.line, expected: b.expected, actual });
  }
  return { ok: mismatches.length === 0, actual: formatTranscript(blocks, outputs), mismatches };
}

/** A short human-readable report of the first mismatches (for test failures and the CLI). */
export function describeMismatches(name: string, res: TranscriptResult, max = 3): string {
  const parts = res.mismatches.slice(0, max).map((m) => {
    const exp = m.expected.split('\n');
    const act = m.actual.split('\n');
    const lines: string[] = [];
    for (let i = 0; i < Math.max(exp.length, act.length); i++) {
      if (exp[i] === act[i]) continue;
      if (exp[i] !== undefined) lines.push(`    - ${exp[i]}`);
      if (act[i] !== undefined) lines.push(`    + ${act[i]}`);
      if (lines.length > 12) break;
    }
    return `  ${name}:${m.lineNo} ${m.command}\n${lines.join('\n')}`;
  });
  const more = res.mismatches.length > max ? `\n  ... and ${res.mismatches.length - max} more` : '';
  return parts.join('\n') + more;
}
