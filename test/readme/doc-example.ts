/**
 * Runs the code block of a docs page that follows an `<!-- example: NAME` marker, as written:
 * its `flotilla` imports are pointed at the sources and it is run with tsx. Returns what it printed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/**
 * @param page - the page, relative to the repository root (e.g. `docs/kv-api.md`).
 * @param name - the example's name in its marker.
 */
export function runDocExample(page: string, name: string): string {
  const text = readFileSync(join(root, page), 'utf8');
  const at = text.indexOf(`<!-- example: ${name}`);
  expect(at).toBeGreaterThan(0);
  const block = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  expect(block).not.toBeNull();
  const code = block![1]
    .replace("from 'flotilla/local'", `from '${join(root, 'adapters', 'local-cluster.ts')}'`)
    .replace("from 'flotilla'", `from '${join(root, 'src', 'index.ts')}'`);
  const dir = mkdtempSync(join(root, '.readme-example-'));
  try {
    const file = join(dir, 'example.mts');
    writeFileSync(file, code);
    return execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [file], { encoding: 'utf8', timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
