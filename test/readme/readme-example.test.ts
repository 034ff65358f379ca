/**
 * The in-page cluster example of docs/kv-api.md runs as written: the code block after the
 * `example: local-cluster` marker is extracted, its `flotilla` imports pointed at the sources,
 * and run with tsx. What it prints is checked.
 */
import { expect, it } from 'vitest';
import { runDocExample } from './doc-example.ts';

it('runs the docs/kv-api.md example', () => {
  const lines = runDocExample('docs/kv-api.md', 'local-cluster').trim().split('\n');
  expect(lines.slice(0, 5)).toEqual(['red', 'red', 'red', 'true', 'null']);
  expect(lines[5]).toBe("[ 'apple', 'k1', 'log', 'pear', 'x1' ]");
  expect(lines.slice(6, 11)).toEqual(['apple', 'k1', 'log', 'pear', 'x1']);
  expect(lines[11]).toBe('{ startValue: 0, endValue: 10 }');
  expect(lines[12]).toMatch(/^fencing token \d+$/);
}, 90_000);
