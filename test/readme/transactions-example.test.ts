/**
 * The example of docs/transactions.md runs as written: the code block after the `example: txn`
 * marker is extracted, its `flotilla` imports pointed at the sources, and run with tsx.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

it('runs the docs/transactions.md example', () => {
  const doc = readFileSync(join(root, 'docs', 'transactions.md'), 'utf8');
  const at = doc.indexOf('<!-- example: txn');
  expect(at).toBeGreaterThan(0);
  const block = /```ts\n([\s\S]*?)```/.exec(doc.slice(at));
  expect(block).not.toBeNull();
  const code = block![1].replace("from 'flotilla/local'", `from '${join(root, 'adapters', 'local-cluster.ts')}'`).replace("from 'flotilla'", `from '${join(root, 'src', 'index.ts')}'`);
  const dir = mkdtempSync(join(root, '.readme-example-txn-'));
  try {
    const file = join(dir, 'example.mts');
    writeFileSync(file, code);
    const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [file], { encoding: 'utf8', timeout: 60_000 });
    expect(out.trim()).toBe('true 3 7');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
