/**
 * The vocabulary of the linearizability checker: operations, events, models and step results.
 *
 * A history is a list of {@link Operation}s, each an interval `[call, return]` of time in which one
 * client saw its request take effect. A {@link Model} is the sequential specification the history
 * is checked against. The checker (see `check.ts`) looks for a total order of the operations that
 * respects real time and that the model accepts step by step.
 */

/**
 * One client operation of a history: what was asked, what came back and when.
 *
 * Times are any numbers that order events (milliseconds, ticks, event indexes). Intervals are
 * closed: two operations whose `return` and `call` are equal count as concurrent.
 *
 * An operation whose outcome is unknown (the client timed out, or got `OutcomeUnknown`) has
 * `unknown: true`. Its `return` and `output` are ignored: it is treated as still running at the end
 * of time (return = +Infinity) with an unconstrained output. The checker may linearize it at any
 * point after its `call`, or not at all: a write that timed out may or may not have taken effect.
 */
export interface Operation<Input, Output> {
  /** Who issued it; operations of one client never overlap in a well-formed history. */
  readonly clientId: number;
  /** The request as the model understands it. */
  readonly input: Input;
  /** The response; ignored (and may be absent) when `unknown` is true. */
  readonly output?: Output;
  /** When the request was sent. */
  readonly call: number;
  /** When the response arrived; ignored (taken as +Infinity) when `unknown` is true. */
  readonly return?: number;
  /** True when the client cannot know whether the operation took effect. */
  readonly unknown?: boolean;
}

/**
 * One event of the event-list form of a history, as porcupine takes it: calls and returns in the
 * order they happened, matched by `id`.
 *
 * A call without a matching return is an operation whose outcome is unknown. A return event with
 * `unknown: true` says the same explicitly (the client gave up at that point); its `value` is ignored.
 */
export type Event<Input, Output> =
  | { readonly kind: 'call'; readonly id: number; readonly clientId: number; readonly value: Input }
  | {
      readonly kind: 'return';
      readonly id: number;
      readonly clientId: number;
      readonly value?: Output;
      readonly unknown?: boolean;
    };

/**
 * What one step of a model answers: `ok: false` when the output is impossible in that state,
 * otherwise the next state, or for a nondeterministic model every possible next state.
 */
export type StepResult<State> =
  | { readonly ok: false }
  | { readonly ok: true; readonly state: State }
  | { readonly ok: true; readonly states: readonly State[] };

/**
 * A sequential specification the checker compares a history against.
 *
 * `step` receives `output === undefined` for an operation whose outcome is unknown; it must then
 * apply the input without constraining the output (and normally answer `ok: true`). Models must
 * therefore not use `undefined` as a real output; use `null` for "absent".
 */
export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init(): State;
  /** Applies `input` to `state` and says whether `output` is a possible answer, and the next state(s). */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  /**
   * Whether an input never changes the state (a read). Such operations with unknown outcome
   * constrain nothing, so the checker leaves them out instead of searching their placements.
   */
  readOnly?(input: Input): boolean;
  /** Whether two states are the same; `Object.is` when absent. Must agree with `hash`. */
  equal?(a: State, b: State): boolean;
  /** A 32-bit hash of a state for memoisation; equal states must hash equally. A constant when absent. */
  hash?(state: State): number;
  /**
   * Splits a history into independent sub-histories (P-compositionality: for a map, one per key)
   * that are checked separately. Each sub-history holds indexes into `history`. No split when absent.
   */
  partition?(history: readonly Operation<Input, Output>[]): readonly (readonly number[])[];
  /** A name for a partition in reports (such as its key); the partition number when absent. */
  describePartition?(history: readonly Operation<Input, Output>[], partition: readonly number[]): string;
  /** Renders an operation for error messages; `output` is undefined when the outcome is unknown. */
  describeOperation?(input: Input, output: Output | undefined): string;
  /** Renders a state for error messages. */
  describeState?(state: State): string;
}

/**
 * Builds a `partition` function that groups operations by a key derived from their input.
 *
 * @param keyOf - the partition key of an input (for a map: the key it touches, with a namespace
 *   prefix if the model has several key spaces).
 * @returns a function for {@link Model.partition}; partitions come in order of first appearance.
 */
export function partitionBy<Input, Output>(
  keyOf: (input: Input) => string,
): (history: readonly Operation<Input, Output>[]) => number[][] {
  return (history) => {
    const byKey = new Map<string, number[]>();
    for (let i = 0; i < history.length; i++) {
      const key = keyOf(history[i].input);
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [i]);
      else list.push(i);
    }
    return [...byKey.values()];
  };
}
