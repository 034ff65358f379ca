/**
 * The example of docs/transactions.md runs as written (the code block after the `example: txn`
 * marker, its `flotilla` imports pointed at the sources, run with tsx) and prints what it says.
 */
import { expect, it } from 'vitest';
import { runDocExample } from './doc-example.ts';

it('runs the docs/transactions.md example', () => {
  expect(runDocExample('docs/transactions.md', 'txn').trim()).toBe('true 3 7');
}, 90_000);
