/**
 * The search for one partition: Wing & Gong's backtracking over a list of call and return events,
 * with Lowe's memoisation of configurations, in the manner of porcupine.
 *
 * The events of the partition sit in a doubly linked list ordered by time. Walking from the head,
 * a call event names an operation that may be linearized next (nothing it must follow is left);
 * if the model accepts it and the configuration is new, it is taken off the list with its return
 * event and the walk restarts. Meeting a return event means its operation should already have
 * been linearized, so the last choice is undone. Operations whose outcome is unknown have no return
 * event: they may be taken at any point after their call, and the search succeeds as soon as every
 * operation with a known outcome is linearized, leaving the rest as "never took effect".
 */

import { ConfigurationCache, LinearizedSet } from './memo.ts';
import type { Model, Operation } from './model.ts';

/** A shared step budget; one unit per call of `Model.step`. */
export interface StepBudget {
  /** Steps taken so far, over all partitions. */
  used: number;
  /** The most steps allowed. Invariant: `used <= max`. */
  readonly max: number;
  /** Asked every few thousand steps; true stops the search (a wall-clock deadline from outside). */
  readonly interrupted: () => boolean;
}

/** What the search of one partition found; operation numbers are indexes into its operations. */
export type SearchOutcome<State> =
  | { readonly kind: 'ok'; readonly order: readonly number[] }
  | {
      readonly kind: 'illegal';
      /** The longest sequence of operations found that the model accepts in order. */
      readonly longestPrefix: readonly number[];
      /** The state after `longestPrefix`. */
      readonly stateAfterPrefix: State;
    }
  | { readonly kind: 'exhausted' };

interface Node {
  /** The operation; -1 for the head sentinel. */
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  /** For a call: its return event, or null when the outcome is unknown. */
  match: Node | null;
  prev: Node | null;
  next: Node | null;
}

interface Frame<State> {
  readonly node: Node;
  readonly before: State;
  readonly candidates: readonly State[];
  /** The index in `candidates` to try when this frame is undone. */
  nextCandidate: number;
}

/** How often (in steps) the budget's `interrupted` is asked. */
const interruptEverySteps = 4096;

/** Builds the event list of a partition; calls sort before returns at the same time (closed intervals). */
function buildList<I, O>(ops: readonly Operation<I, O>[]): Node {
  const nodes: Node[] = [];
  for (let op = 0; op < ops.length; op++) {
    const o = ops[op];
    const call: Node = { op, isCall: true, time: o.call, match: null, prev: null, next: null };
    nodes.push(call);
    if (o.unknown !== true) {
      const ret: Node = { op, isCall: false, time: o.return as number, match: null, prev: null, next: null };
      call.match = ret;
      nodes.push(ret);
    }
  }
  nodes.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const head: Node = { op: -1, isCall: false, time: Number.NEGATIVE_INFINITY, match: null, prev: null, next: null };
  let last = head;
  for (const n of nodes) {
    last.next = n;
    n.prev = last;
    last = n;
  }
  return head;
}

/** Takes a call event and its return event off the list. */
function lift(call: Node): void {
  call.prev!.next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  const ret = call.match;
  if (ret !== null) {
    ret.prev!.next = ret.next;
    if (ret.next !== null) ret.next.prev = ret.prev;
  }
}

/** Puts back what {@link lift} took off; must be undone in the reverse order of lifting. */
function unlift(call: Node): void {
  const ret = call.match;
  if (ret !== null) {
    ret.prev!.next = ret;
    if (ret.next !== null) ret.next.prev = ret;
  }
  call.prev!.next = call;
  if (call.next !== null) call.next.prev = call;
}

/**
 * Searches for a linearization of one partition's operations.
 *
 * @param model - the sequential specification.
 * @param ops - the partition's operations; returns must not precede calls.
 * @param budget - the step budget shared with the other partitions.
 */
export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budget: StepBudget,
): SearchOutcome<S> {
  const equal = model.equal ?? Object.is;
  const cache = new ConfigurationCache<S>(equal, model.hash ?? (() => 0));
  const linearized = new LinearizedSet(ops.length);
  const head = buildList(ops);
  const stack: Frame<S>[] = [];
  let knownLeft = ops.filter((o) => o.unknown !== true).length;
  let state = model.init();
  let longest: { prefix: number[]; state: S } = { prefix: [], state };

  // Takes the first new configuration among `frame.candidates` from `frame.nextCandidate` on.
  const take = (frame: Frame<S>): boolean => {
    const op = frame.node.op;
    while (frame.nextCandidate < frame.candidates.length) {
      const next = frame.candidates[frame.nextCandidate++];
      linearized.add(op);
      if (!cache.addIfNew(linearized, next)) {
        linearized.remove(op);
        continue;
      }
      lift(frame.node);
      stack.push(frame);
      state = next;
      if (ops[op].unknown !== true) knownLeft--;
      if (stack.length > longest.prefix.length) longest = { prefix: stack.map((f) => f.node.op), state };
      return true;
    }
    return false;
  };

  let cursor: Node | null = head.next;
  while (knownLeft > 0) {
    if (cursor?.isCall) {
      if (budget.used >= budget.max) return { kind: 'exhausted' };
      if (++budget.used % interruptEverySteps === 0 && budget.interrupted()) return { kind: 'exhausted' };
      const op = ops[cursor.op];
      const result = model.step(state, op.input, op.unknown === true ? undefined : op.output);
      const candidates = !result.ok ? [] : 'state' in result ? [result.state] : result.states;
      if (take({ node: cursor, before: state, candidates, nextCandidate: 0 })) cursor = head.next;
      else cursor = cursor.next;
      continue;
    }
    // A return event (or the end of the list): the operation it ends should have been linearized
    // already, so the last choice was wrong. Undo it, then try its other next states, else move on.
    const frame = stack.pop();
    if (frame === undefined) return { kind: 'illegal', longestPrefix: longest.prefix, stateAfterPrefix: longest.state };
    unlift(frame.node);
    linearized.remove(frame.node.op);
    if (ops[frame.node.op].unknown !== true) knownLeft++;
    state = frame.before;
    cursor = take(frame) ? head.next : frame.node.next;
  }
  return { kind: 'ok', order: stack.map((f) => f.node.op) };
}
