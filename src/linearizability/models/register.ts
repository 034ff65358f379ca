/**
 * A single read / write / compare-and-set register, the model of Jepsen's etcd tests.
 */

import { hashString, mix32 } from '../hash.ts';
import type { Model, StepResult } from '../model.ts';

/** A register value; `null` is the initial "nothing written yet" (Jepsen's `nil`). */
export type RegisterValue = number | string | null;

/** A request to the register. */
export type RegisterInput =
  | { readonly op: 'read' }
  | { readonly op: 'write'; readonly value: RegisterValue }
  | { readonly op: 'cas'; readonly expect: RegisterValue; readonly update: RegisterValue };

/**
 * A response of the register: the value for `read`, whether it swapped for `cas`, anything
 * (it is not looked at) for `write`.
 */
export type RegisterOutput = RegisterValue | boolean;

/** Options of {@link registerModel}. */
export interface RegisterModelOptions {
  /** The value before the first write; `null` by default. */
  readonly initial?: RegisterValue;
}

function hashValue(v: RegisterValue): number {
  if (v === null) return 0x2545f491;
  return typeof v === 'number' ? mix32(v | 0) ^ mix32((v / 4294967296) | 0) : hashString(v);
}

/**
 * Builds the model of one register with `read`, `write` and `cas`.
 *
 * A `cas` answering `false` is checked too: at its linearization point the register did not hold
 * `expect`. In Jepsen's logs a cas that failed its comparison is a `:fail`, so a `:fail :cas` is a cas
 * answering `false`, not an operation to drop. An operation with unknown outcome may or may not have
 * written.
 *
 * @param options - the initial value.
 */
export function registerModel(options: RegisterModelOptions = {}): Model<RegisterValue, RegisterInput, RegisterOutput> {
  const initial = options.initial ?? null;
  return {
    init: () => initial,
    step(state, input, output): StepResult<RegisterValue> {
      switch (input.op) {
        case 'read':
          return output === undefined || output === state ? { ok: true, state } : { ok: false };
        case 'write':
          return { ok: true, state: input.value };
        case 'cas': {
          const swaps = state === input.expect;
          if (output !== undefined && output !== swaps) return { ok: false };
          return { ok: true, state: swaps ? input.update : state };
        }
      }
    },
    readOnly: (input) => input.op === 'read',
    hash: hashValue,
    describeOperation(input, output) {
      const out = output === undefined ? '?' : JSON.stringify(output);
      switch (input.op) {
        case 'read':
          return `read() -> ${out}`;
        case 'write':
          return `write(${JSON.stringify(input.value)})${output === undefined ? ' -> ?' : ''}`;
        case 'cas':
          return `cas(${JSON.stringify(input.expect)}, ${JSON.stringify(input.update)}) -> ${out}`;
      }
    },
    describeState: (state) => JSON.stringify(state),
  };
}
