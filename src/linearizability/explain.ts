/**
 * Turns a failed search into a report a person can act on: which partition, the longest
 * linearizable prefix found, and the operation that could not be placed after it.
 */

import type { Model, Operation } from './model.ts';

/** Why a history is not linearizable, in terms of one partition. Operation numbers index the history. */
export interface IllegalExplanation {
  /** The partition that has no linearization (for a map model: its key). */
  readonly partition: string;
  /** The longest sequence of operations found that the model accepts in an order real time allows. */
  readonly longestPrefix: readonly number[];
  /** The model state after `longestPrefix`, rendered with `describeState`. */
  readonly stateAfterPrefix: string;
  /**
   * The operation that could not be placed: of those left after the prefix, the one that returned
   * first. Everything after the prefix that can precede its return was tried, and none led to a
   * linearization.
   */
  readonly blocking: number;
  /** The operations left that were called before `blocking` returned: the candidates to come next. */
  readonly candidates: readonly number[];
  /** All of the above as a multi-line message. */
  readonly message: string;
}

/** How many prefix operations and candidates the message lists at most. */
const listedMax = 8;

/** Renders one operation with its client and interval. */
export function describeOp<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const output = op.unknown === true ? undefined : op.output;
  const text = model.describeOperation?.(op.input, output) ?? defaultDescribe(op.input, output);
  const end = op.unknown === true ? '∞ (outcome unknown)' : String(op.return);
  return `client ${op.clientId} [${op.call}, ${end}] ${text}`;
}

function defaultDescribe(input: unknown, output: unknown): string {
  const show = (v: unknown): string => {
    try {
      return JSON.stringify(v) ?? String(v);
    } catch {
      return String(v);
    }
  };
  return output === undefined ? `${show(input)} -> ?` : `${show(input)} -> ${show(output)}`;
}

/**
 * Explains why one partition has no linearization.
 *
 * @param model - the model checked against.
 * @param history - the whole history.
 * @param members - the partition's operations that were searched (indexes into `history`), which the
 *   search numbered 0..n-1.
 * @param partition - the partition's name.
 * @param localPrefix - the longest prefix found, in the partition's own numbering.
 * @param stateAfterPrefix - the state after that prefix.
 */
export function explainIllegal<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  members: readonly number[],
  partition: string,
  localPrefix: readonly number[],
  stateAfterPrefix: S,
): IllegalExplanation {
  const longestPrefix = localPrefix.map((i) => members[i]);
  const inPrefix = new Set(longestPrefix);
  const left = members.filter((i) => !inPrefix.has(i));
  const known = left.filter((i) => history[i].unknown !== true);
  // The search only fails while an operation with a known outcome is left, so `known` is not empty.
  const blocking = known.reduce((best, i) => ((history[i].return as number) < (history[best].return as number) ? i : best));
  const blockingReturn = history[blocking].return as number;
  const candidates = left.filter((i) => history[i].call <= blockingReturn);
  const state = model.describeState?.(stateAfterPrefix) ?? String(JSON.stringify(stateAfterPrefix));

  const lines = [
    `not linearizable: partition ${partition} (${members.length} operations) has no linearization.`,
    `Longest linearizable prefix: ${longestPrefix.length} operations; state after it: ${state}.`,
  ];
  const shown = longestPrefix.slice(-listedMax);
  if (shown.length < longestPrefix.length) lines.push(`  … ${longestPrefix.length - shown.length} earlier`);
  for (const i of shown) lines.push(`  #${i} ${describeOp(model, history[i])}`);
  lines.push(`Could not place #${blocking} ${describeOp(model, history[blocking])}`);
  lines.push(`  ${verdict(model, stateAfterPrefix, history[blocking])}`);
  const others = candidates.filter((i) => i !== blocking);
  if (others.length > 0) lines.push(`Operations that could have come before it (${others.length}):`);
  for (const i of others.slice(0, listedMax)) {
    lines.push(`  #${i} ${describeOp(model, history[i])}: ${verdict(model, stateAfterPrefix, history[i])}`);
  }
  if (others.length > listedMax) lines.push(`  … ${others.length - listedMax} more`);
  return { partition, longestPrefix, stateAfterPrefix: state, blocking, candidates, message: lines.join('\n') };
}

/** Says whether the model takes `op` right after the prefix. */
function verdict<S, I, O>(model: Model<S, I, O>, state: S, op: Operation<I, O>): string {
  const result = model.step(state, op.input, op.unknown === true ? undefined : op.output);
  return result.ok
    ? 'the model accepts it after the prefix, but no order of the rest follows from there'
    : 'the model rejects it after the prefix';
}
