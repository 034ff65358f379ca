/**
 * The in-page cluster example of docs/kv-api.md runs as written: the code block after the
 * `example: local-cluster` marker is extracted, its `flotilla` imports pointed at the sources,
 * and run with tsx. What it prints is checked.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

it('runs the docs/kv-api.md example', () => {
  const readme = readFileSync(join(root, 'docs', 'kv-api.md'), 'utf8');
  const at = readme.indexOf('<!-- example: local-cluster');
  expect(at).toBeGreaterThan(0);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block).not.toBeNull();
  const code = block![1]
    .replace("from 'flotilla/local'", `from '${join(root, 'adapters', 'local-cluster.ts')}'`)
    .replace("from 'flotilla'", `from '${join(root, 'src', 'index.ts')}'`);
  const dir = mkdtempSync(join(root, '.readme-example-'));
  try {
    const file = join(dir, 'example.mts');
    writeFileSync(file, code);
    const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [file], { encoding: 'utf8', timeout: 60_000 });
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 5)).toEqual(['red', 'red', 'red', 'true', 'null']);
    expect(lines[5]).toBe("[ 'apple', 'k1', 'log', 'pear', 'x1' ]");
    expect(lines.slice(6, 11)).toEqual(['apple', 'k1', 'log', 'pear', 'x1']);
    expect(lines[11]).toBe('{ startValue: 0, endValue: 10 }');
    expect(lines[12]).toMatch(/^fencing token \d+$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
