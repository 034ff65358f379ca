/**
 * A tiny data-driven test format in the manner of cockroachdb/datadriven (which etcd-io/raft's
 * `testdata/*.txt` use), written for this project.
 *
 * A file is a sequence of blocks separated by blank lines. Each block is:
 *
 * ```
 * # optional comment lines
 * command arg key=value key=(1,2,3)
 * ----
 * expected output (no blank lines)
 * ```
 *
 * Pure string handling only: no I/O, so it runs unchanged in Node, Deno and a browser.
 */

/** One argument of a command line: a bare word (`key` only) or `key=value`, the value possibly a `(a,b)` list. */
export interface CmdArg {
  key: string;
  /** Empty for a bare word; the list items for `key=(a,b)`; one item for `key=v`. */
  vals: string[];
  /** Whether the value was written as a parenthesised list. */
  isList: boolean;
}

/** One block of a transcript. */
export interface Block {
  /** Comment lines (with their `#`) written before the command. */
  comments: string[];
  /** The command line as written. */
  line: string;
  cmd: string;
  args: CmdArg[];
  /** The recorded output, lines joined with `\n` (no trailing newline). */
  expected: string;
  /** 1-based line number of the command, for error messages. */
  lineNo: number;
}

/** A parse error, pointing at the offending line. */
export class TranscriptSyntaxError extends Error {
  constructor(lineNo: number, detail: string) {
    super(`line ${lineNo}: ${detail}`);
    this.name = 'TranscriptSyntaxError';
  }
}

const SEPARATOR = '----';

/** Splits a command line into the command and its arguments; `(a, b)` groups are kept together. */
export function parseCommandLine(line: string, lineNo = 0): { cmd: string; args: CmdArg[] } {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of line.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new TranscriptSyntaxError(lineNo, `unbalanced ')' in "${line}"`);
    if (/\s/.test(ch) && depth === 0) {
      if (cur !== '') tokens.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (depth !== 0) throw new TranscriptSyntaxError(lineNo, `unbalanced '(' in "${line}"`);
  if (cur !== '') tokens.push(cur);
  if (tokens.length === 0) throw new TranscriptSyntaxError(lineNo, 'empty command line');
  const [cmd, ...rest] = tokens;
  return { cmd, args: rest.map(parseArg) };
}

function parseArg(tok: string): CmdArg {
  const eq = tok.indexOf('=');
  if (eq < 0) {
    if (tok.startsWith('(')) return { key: '', vals: splitList(tok), isList: true };
    return { key: tok, vals: [], isList: false };
  }
  const key = tok.slice(0, eq);
  const v = tok.slice(eq + 1);
  if (v.startsWith('(') && v.endsWith(')')) return { key, vals: splitList(v), isList: true };
  return { key, vals: [v], isList: false };
}

function splitList(v: string): string[] {
  const inner = v.slice(1, -1).trim();
  if (inner === '') return [];
  return inner.split(/[\s,]+/).filter((s) => s !== '');
}

/** Parses a whole transcript. Throws {@link TranscriptSyntaxError} on a malformed block. */
export function parseTranscript(text: string): Block[] {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const comments: string[] = [];
    while (i < lines.length && (lines[i].trim() === '' || lines[i].startsWith('#'))) {
      if (lines[i].startsWith('#')) comments.push(lines[i]);
      else if (comments.length > 0) comments.push(''); // keep blank lines inside a comment run
      i++;
    }
    while (comments.length > 0 && comments[comments.length - 1] === '') comments.pop();
    if (i >= lines.length) {
      if (comments.length > 0) blocks.push(trailingComment(comments, i));
      break;
    }
    const lineNo = i + 1;
    const line = lines[i++];
    if (i >= lines.length || lines[i] !== SEPARATOR) {
      throw new TranscriptSyntaxError(lineNo, `expected "${SEPARATOR}" after the command "${line}"`);
    }
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i].trim() !== '') out.push(lines[i++]);
    const { cmd, args } = parseCommandLine(line, lineNo);
    blocks.push({ comments, line, cmd, args, expected: out.join('\n'), lineNo });
  }
  return blocks;
}

/** A comment at the end of a file is kept as a block without a command. */
function trailingComment(comments: string[], lineNo: number): Block {
  return { comments, line: '', cmd: '', args: [], expected: '', lineNo };
}

/** Writes blocks back out, with `outputs[i]` in place of block i's expected output. */
export function formatTranscript(blocks: readonly Block[], outputs: readonly string[]): string {
  const parts: string[] = [];
  blocks.forEach((b, i) => {
    const lines = [...b.comments];
    if (b.cmd !== '') lines.push(b.line, SEPARATOR, outputs[i]);
    parts.push(lines.join('\n'));
  });
  return parts.join('\n\n') + '\n';
}
