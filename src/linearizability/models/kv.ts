/**
 * A string key-value map with get / put / append, partitioned by key: the model of porcupine's
 * kv histories (and of many lab key-value services).
 */

import { hashString } from '../hash.ts';
import { type Model, partitionBy, type StepResult } from '../model.ts';

/** A request to the map. A missing key reads as the empty string. */
export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'append'; readonly key: string; readonly value: string };

/** A response: the value for `get`; not looked at for `put` and `append`. */
export type KvOutput = string | null;

/**
 * Builds the model of a string map with `get`, `put` and `append`, one partition per key. Within a
 * partition the state is the key's value, the empty string before the first write.
 */
export function kvModel(): Model<string, KvInput, KvOutput> {
  return {
    init: () => '',
    step(state, input, output): StepResult<string> {
      switch (input.op) {
        case 'get':
          return output === undefined || output === state ? { ok: true, state } : { ok: false };
        case 'put':
          return { ok: true, state: input.value };
        case 'append':
          return { ok: true, state: state + input.value };
      }
    },
    readOnly: (input) => input.op === 'get',
    hash: hashString,
    partition: partitionBy((input) => input.key),
    describePartition: (history, members) => `key ${JSON.stringify(history[members[0]].input.key)}`,
    describeOperation(input, output) {
      const out = output === undefined ? ' -> ?' : '';
      switch (input.op) {
        case 'get':
          return `get(${JSON.stringify(input.key)}) -> ${output === undefined ? '?' : JSON.stringify(output)}`;
        case 'put':
          return `put(${JSON.stringify(input.key)}, ${JSON.stringify(input.value)})${out}`;
        case 'append':
          return `append(${JSON.stringify(input.key)}, ${JSON.stringify(input.value)})${out}`;
      }
    },
    describeState: (state) => JSON.stringify(state),
  };
}
