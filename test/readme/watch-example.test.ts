/**
 * The example of docs/watch.md runs as written (the code block after the `example: watch`
 * marker, its `flotilla` imports pointed at the sources, run with tsx) and prints what it says.
 */
import { expect, it } from 'vitest';
import { runDocExample } from './doc-example.ts';

it('runs the docs/watch.md example', () => {
  expect(runDocExample('docs/watch.md', 'watch').trim().split('\n')).toEqual([
    'put user/1 ada (was null) @1; put user/1 ada lovelace (was ada) @2; delete user/1 null (was ada lovelace) @3',
    'ada lovelace',
  ]);
}, 90_000);
