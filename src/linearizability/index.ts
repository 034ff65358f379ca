/**
 * A linearizability checker in the manner of porcupine: Wing & Gong's search with memoisation of
 * (linearized set, state) pairs, on histories partitioned by key. Pure: it reads no clock.
 *
 * @example
 * ```ts
 * const model = flotillaKvModel();
 * const verdict = checkOperations(model, [
 *   { clientId: 1, input: { op: 'put', key: 'a', value: 'x' }, output: true, call: 0, return: 10 },
 *   { clientId: 2, input: { op: 'get', key: 'a' }, output: 'x', call: 5, return: 15 },
 * ]);
 * // verdict.result === 'ok'
 * ```
 */

export {
  type CheckOptions,
  type CheckResult,
  checkEvents,
  checkOperations,
  defaultMaxSteps,
  eventsToOperations,
  type PartitionSummary,
} from './check.ts';
export type { IllegalExplanation } from './explain.ts';
export { bytesEqual, combineHash, describeBytes, hashBytes, hashString, mix32, utf8Encode } from './hash.ts';
export { type Event, type Model, type Operation, partitionBy, type StepResult } from './model.ts';
export {
  type Bytes,
  type FlotillaKvInput,
  type FlotillaKvModelOptions,
  type FlotillaKvOutput,
  type FlotillaKvState,
  flotillaKvModel,
  type SequenceRange,
} from './models/flotilla-kv.ts';
export { type KvInput, type KvOutput, kvModel } from './models/kv.ts';
export {
  type RegisterInput,
  type RegisterModelOptions,
  type RegisterOutput,
  type RegisterValue,
  registerModel,
} from './models/register.ts';
