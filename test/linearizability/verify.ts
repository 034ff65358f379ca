/**
 * An independent check of what the checker hands back: a linearization it reports must really be
 * one, and a "longest prefix" must really be a prefix the model accepts. Written without the
 * search, so a bug in the search cannot hide behind itself.
 */

import { expect } from 'vitest';
import type { CheckResult, Model, Operation } from '../../src/linearizability/index.ts';

const returnOf = (op: Operation<unknown, unknown>): number =>
  op.unknown === true ? Number.POSITIVE_INFINITY : (op.return as number);

/** Runs `order` through the model (every branch of a nondeterministic one); throws unless it is accepted. */
function replay<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], order: readonly number[]): void {
  const equal = model.equal ?? Object.is;
  let states = [model.init()];
  for (const i of order) {
    const op = history[i];
    const next: S[] = [];
    for (const s of states) {
      const r = model.step(s, op.input, op.unknown === true ? undefined : op.output);
      if (!r.ok) continue;
      for (const n of 'state' in r ? [r.state] : r.states) if (!next.some((x) => equal(x, n))) next.push(n);
    }
    if (next.length === 0) throw new Error(`operation #${i} is rejected by the model in the reported order`);
    states = next;
  }
}

/** Throws unless no operation in `order` comes after one that was called after it returned. */
function checkRealTime(history: readonly Operation<unknown, unknown>[], order: readonly number[]): void {
  let latestCall = Number.NEGATIVE_INFINITY;
  let latestCallOp = -1;
  for (const i of order) {
    if (returnOf(history[i]) < latestCall) {
      throw new Error(`operation #${i} returned before #${latestCallOp} was called, yet is ordered after it`);
    }
    if (history[i].call > latestCall) {
      latestCall = history[i].call;
      latestCallOp = i;
    }
  }
}

/**
 * Asserts that a check result is consistent with the history: for 'ok', every partition's
 * linearization holds all its known-outcome operations, only its own, respects real time and is
 * accepted by the model; for 'illegal', the longest prefix is accepted, respects real time, and
 * holds every operation that returned before the blocking one was called.
 */
export function verifyResult<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], result: CheckResult): void {
  if (result.result === 'ok') {
    const covered = new Set<number>();
    for (const p of result.partitions) {
      const order = p.linearization ?? [];
      const members = new Set(p.operations);
      expect(order.every((i) => members.has(i))).toBe(true);
      expect(new Set(order).size).toBe(order.length);
      for (const i of p.operations) if (history[i].unknown !== true) expect(order).toContain(i);
      checkRealTime(history, order);
      replay(model, history, order);
      for (const i of p.operations) covered.add(i);
    }
    expect(covered.size).toBe(history.length);
  }
  if (result.result === 'illegal') {
    const { longestPrefix, blocking } = result.illegal;
    checkRealTime(history, longestPrefix);
    replay(model, history, longestPrefix);
    expect(longestPrefix).not.toContain(blocking);
    expect(history[blocking].unknown).not.toBe(true);
    const members = result.partitions.find((p) => p.name === result.illegal.partition)!.operations;
    for (const i of members) {
      if (returnOf(history[i]) < history[blocking].call) expect(longestPrefix).toContain(i);
    }
    expect(result.illegal.message).toContain(`#${blocking}`);
  }
}
