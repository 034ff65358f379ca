/**
 * Shorthands for writing histories by hand in tests, and an assertion that a check came out as
 * expected and is consistent with the history.
 */

import { expect } from 'vitest';
import { type CheckResult, checkOperations, type Model, type Operation } from '../../src/linearizability/index.ts';
import { verifyResult } from './verify.ts';

/**
 * An operation that completed: `client` called at `call` and got `output` at `ret`.
 */
export function done<I, O>(client: number, call: number, ret: number, input: I, output: O): Operation<I, O> {
  return { clientId: client, call, return: ret, input, output };
}

/** An operation whose outcome is unknown (it timed out after it was sent at `call`). */
export function lost<I, O>(client: number, call: number, input: I): Operation<I, O> {
  return { clientId: client, call, input, unknown: true };
}

/** Checks `history`, verifies the result independently, and asserts the verdict. */
export function expectVerdict<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  verdict: CheckResult['result'],
): CheckResult {
  const result = checkOperations(model, history);
  if (result.result !== verdict) {
    const detail = result.result === 'illegal' ? result.illegal.message : result.result;
    throw new Error(`expected ${verdict}, got ${detail}`);
  }
  verifyResult(model, history, result);
  return result;
}

/** Asserts the history is illegal and returns the explanation. */
export function expectIllegal<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]) {
  const result = expectVerdict(model, history, 'illegal');
  if (result.result !== 'illegal') throw new Error('unreachable');
  expect(result.illegal.message.length).toBeGreaterThan(0);
  return result.illegal;
}
