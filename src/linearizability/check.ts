/**
 * The entry points of the linearizability checker: a history in, a verdict out.
 *
 * The history is split into partitions by the model (P-compositionality: a history of a map is
 * linearizable exactly when the sub-history of every key is), and each partition is searched on its
 * own (see `search.ts`). The work is bounded by a step budget, so the answer may be 'unknown'.
 */

import { explainIllegal, type IllegalExplanation } from './explain.ts';
import type { Event, Model, Operation } from './model.ts';
import { searchPartition, type StepBudget } from './search.ts';

/** Limits of one check. With neither, the default step budget applies. */
export interface CheckOptions {
  /** The most model steps over all partitions before answering 'unknown'. Default 10 000 000. */
  maxSteps?: number;
  /** A wall-clock limit; needs `clock`, since the core reads no clock of its own. */
  timeoutMs?: number;
  /** The clock `timeoutMs` is measured with (such as the runtime's `Clock` port). */
  clock?: { now(): number };
}

/** The default of {@link CheckOptions.maxSteps}. */
export const defaultMaxSteps = 10_000_000;

/** What the check found in one partition. Operation numbers index the history. */
export interface PartitionSummary {
  /** The partition's name, from `Model.describePartition` (for a map model: its key). */
  readonly name: string;
  /** Its operations. */
  readonly operations: readonly number[];
  /** 'unchecked' when the check stopped before reaching it. */
  readonly result: 'ok' | 'illegal' | 'unknown' | 'unchecked';
  /** Model steps spent on it. */
  readonly steps: number;
  /**
   * When 'ok', a linearization: the operations in an order that real time allows and the model
   * accepts. Operations with unknown outcome that are absent from it are taken as never applied.
   */
  readonly linearization?: readonly number[];
}

/** The verdict on a history, with a summary per partition. */
export type CheckResult =
  | { readonly result: 'ok'; readonly steps: number; readonly partitions: readonly PartitionSummary[] }
  | {
      readonly result: 'illegal';
      readonly steps: number;
      readonly partitions: readonly PartitionSummary[];
      /** The partition that failed and why; `illegal.message` is ready to print. */
      readonly illegal: IllegalExplanation;
    }
  | {
      readonly result: 'unknown';
      readonly steps: number;
      readonly partitions: readonly PartitionSummary[];
      /** Which budget ran out, and where. */
      readonly message: string;
    };

/** Throws a RangeError unless every operation has a finite call and, if its outcome is known, a return not before it. */
function validate<I, O>(history: readonly Operation<I, O>[]): void {
  history.forEach((op, i) => {
    if (!Number.isFinite(op.call)) throw new RangeError(`operation #${i}: call time ${op.call} is not a finite number`);
    if (op.unknown === true) return;
    const ret = op.return;
    if (ret === undefined || Number.isNaN(ret) || ret < op.call) {
      throw new RangeError(
        `operation #${i}: return time ${ret} must be a number >= call time ${op.call}; ` +
          'mark an operation whose outcome is unknown with `unknown: true` instead',
      );
    }
  });
}

function makeBudget(options: CheckOptions): StepBudget {
  const max = options.maxSteps ?? defaultMaxSteps;
  if (!(max >= 0)) throw new RangeError(`maxSteps must be >= 0, got ${max}`);
  const { timeoutMs, clock } = options;
  if (timeoutMs === undefined) return { used: 0, max, interrupted: () => false };
  if (clock === undefined) throw new RangeError('timeoutMs needs a clock: pass options.clock');
  const deadline = clock.now() + timeoutMs;
  return { used: 0, max, interrupted: () => clock.now() >= deadline };
}

/**
 * Checks whether a history of operations is linearizable with respect to a model.
 *
 * @param model - the sequential specification, possibly partitioning the history.
 * @param history - the operations; see {@link Operation} for how unknown outcomes are treated.
 * @param options - a step budget and/or a wall-clock limit.
 * @returns 'ok' with a linearization per partition, 'illegal' with an explanation, or 'unknown'
 *   when the budget ran out before a verdict. A budget can only turn a verdict into 'unknown'.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult {
  validate(history);
  const budget = makeBudget(options);
  const groups = model.partition?.(history) ?? [history.map((_, i) => i)];
  const names = groups.map((g, i) => model.describePartition?.(history, g) ?? `#${i}`);
  const partitions: PartitionSummary[] = groups.map((operations, i) => ({
    name: names[i],
    operations,
    result: 'unchecked',
    steps: 0,
  }));
  for (let p = 0; p < groups.length; p++) {
    const members = groups[p];
    const before = budget.used;
    // A read whose outcome is unknown may sit anywhere without changing anything: leave it out.
    const searched = members.filter((i) => !(history[i].unknown === true && model.readOnly?.(history[i].input) === true));
    const outcome = searchPartition(
      model,
      searched.map((i) => history[i]),
      budget,
    );
    const steps = budget.used - before;
    if (outcome.kind === 'ok') {
      partitions[p] = { ...partitions[p], result: 'ok', steps, linearization: outcome.order.map((i) => searched[i]) };
    } else if (outcome.kind === 'illegal') {
      partitions[p] = { ...partitions[p], result: 'illegal', steps };
      const illegal = explainIllegal(model, history, searched, names[p], outcome.longestPrefix, outcome.stateAfterPrefix);
      return { result: 'illegal', steps: budget.used, partitions, illegal };
    } else {
      partitions[p] = { ...partitions[p], result: 'unknown', steps };
      const message =
        `gave up after ${budget.used} steps (maxSteps ${budget.max}${options.timeoutMs === undefined ? '' : `, timeoutMs ${options.timeoutMs}`}) ` +
        `in partition ${names[p]} (${members.length} operations); ${groups.length - p - 1} partitions left unchecked`;
      return { result: 'unknown', steps: budget.used, partitions, message };
    }
  }
  return { result: 'ok', steps: budget.used, partitions };
}

/**
 * Turns the event-list form of a history into operations, with each event's index as its time.
 *
 * @param events - calls and returns in the order they happened, matched by `id`.
 * @returns one operation per call, in call order; calls with no return are outcome-unknown.
 */
export function eventsToOperations<I, O>(events: readonly Event<I, O>[]): Operation<I, O>[] {
  const ops: { clientId: number; input: I; call: number; return?: number; output?: O; unknown?: boolean }[] = [];
  const byId = new Map<number, number>();
  events.forEach((e, time) => {
    const index = byId.get(e.id);
    if (e.kind === 'call') {
      if (index !== undefined) throw new RangeError(`event ${time}: a second call with id ${e.id}`);
      byId.set(e.id, ops.length);
      ops.push({ clientId: e.clientId, input: e.value, call: time, unknown: true });
      return;
    }
    if (index === undefined) throw new RangeError(`event ${time}: return with id ${e.id} before its call`);
    const op = ops[index];
    if (op.unknown !== true || op.return !== undefined) throw new RangeError(`event ${time}: a second return for id ${e.id}`);
    op.return = time;
    if (e.unknown !== true) {
      op.unknown = false;
      op.output = e.value;
    }
  });
  return ops;
}

/**
 * Checks whether a history in event-list form (porcupine's `Event`s) is linearizable.
 *
 * @param model - the sequential specification.
 * @param events - calls and returns in the order they happened; see {@link Event}.
 * @param options - as for {@link checkOperations}.
 * @returns as {@link checkOperations}; operation numbers in it are positions among the calls.
 */
export function checkEvents<S, I, O>(
  model: Model<S, I, O>,
  events: readonly Event<I, O>[],
  options: CheckOptions = {},
): CheckResult {
  return checkOperations(model, eventsToOperations(events), options);
}
