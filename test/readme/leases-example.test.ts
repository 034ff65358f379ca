/**
 * The example of docs/leases.md runs as written (the code block after the `example: lease`
 * marker, its `flotilla` imports pointed at the sources, run with tsx) and prints what it says.
 */
import { expect, it } from 'vitest';
import { runDocExample } from './doc-example.ts';

it('runs the docs/leases.md example', () => {
  expect(runDocExample('docs/leases.md', 'lease').trim()).toBe('true\nnull');
}, 90_000);
