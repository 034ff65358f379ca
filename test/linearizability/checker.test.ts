/**
 * The checker itself, apart from any one model: budgets, the event-list form, input validation,
 * nondeterministic models and partitions.
 */

import { describe, expect, it } from 'vitest';
import {
  checkEvents,
  checkOperations,
  type Event,
  eventsToOperations,
  type Model,
  type Operation,
  partitionBy,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from '../../src/linearizability/index.ts';
import { done, expectIllegal, expectVerdict, lost } from './history.ts';
import { parseJepsenLog, readFixture } from './porcupine-format.ts';

type R = Operation<RegisterInput, RegisterOutput>;
const register = registerModel();

/** A counter whose `incr` adds 1 or 2 (nondeterministically); `read` returns the count. */
type CounterInput = { op: 'incr' } | { op: 'read' };
const counter: Model<number, CounterInput, number | null> = {
  init: () => 0,
  step: (s, input, out) => {
    if (input.op === 'incr') return { ok: true, states: [s + 1, s + 2] };
    return out === undefined || out === s ? { ok: true, state: s } : { ok: false };
  },
  hash: (s) => s,
};
const incr: CounterInput = { op: 'incr' };
const read: CounterInput = { op: 'read' };

describe('checker', () => {
  it('accepts an empty history and one of only unknown outcomes', () => {
    expectVerdict(register, [], 'ok');
    expectVerdict(register, [lost(1, 0, { op: 'write', value: 1 }), lost(2, 0, { op: 'read' })], 'ok');
  });

  it('tries every next state of a nondeterministic model, including after backtracking', () => {
    expectVerdict(counter, [done(1, 0, 1, incr, null), done(1, 2, 3, read, 2), done(1, 4, 5, incr, null), done(1, 6, 7, read, 3)], 'ok');
    expectIllegal(counter, [done(1, 0, 1, incr, null), done(1, 2, 3, read, 3)]);
    expectIllegal(counter, [done(1, 0, 1, incr, null), done(1, 2, 3, read, 1), done(2, 4, 5, read, 2)]);
  });

  it('answers unknown when the step budget runs out, and a verdict with enough of it', () => {
    const history = parseJepsenLog(readFixture('jepsen/etcd_002.log'));
    const small = checkOperations(register, history, { maxSteps: 1000 });
    expect(small.result).toBe('unknown');
    expect(small.steps).toBe(1000);
    if (small.result === 'unknown') expect(small.message).toContain('gave up after 1000 steps');
    expect(checkOperations(register, history, { maxSteps: 5_000_000 }).result).toBe('ok');
  });

  it('answers unknown when the injected clock passes the deadline', () => {
    let now = 0;
    const clock = { now: () => now++ };
    const history = parseJepsenLog(readFixture('jepsen/etcd_002.log'));
    const result = checkOperations(register, history, { timeoutMs: 3, clock });
    expect(result.result).toBe('unknown');
    expect(() => checkOperations(register, history, { timeoutMs: 3 })).toThrow(/clock/);
  });

  it('rejects malformed operations with a RangeError that says what to do', () => {
    const noReturn = { clientId: 1, call: 0, input: { op: 'read' }, output: null } as R;
    expect(() => checkOperations(register, [noReturn])).toThrow(/unknown: true/);
    expect(() => checkOperations(register, [done<RegisterInput, RegisterOutput>(1, 5, 4, { op: 'read' }, null)])).toThrow(RangeError);
    expect(() => checkOperations(register, [lost<RegisterInput, RegisterOutput>(1, Number.NaN, { op: 'read' })])).toThrow(RangeError);
  });

  it('leaves out reads whose outcome is unknown, which would only multiply the configurations', () => {
    const reads = Array.from({ length: 24 }, (_, i) => lost<RegisterInput, RegisterOutput>(10 + i, 1, { op: 'read' }));
    const history = [...reads, done(1, 0, 2, { op: 'write', value: 1 }, true), done(2, 3, 4, { op: 'read' }, 2)];
    const result = checkOperations(register, history, { maxSteps: 100 });
    expect(result.result).toBe('illegal');
    const noHint = checkOperations({ ...register, readOnly: undefined }, history, { maxSteps: 100 });
    expect(noHint.result).toBe('unknown');
  });

  it('checks partitions independently and reports the one that failed', () => {
    const byClient: Model<number | string | null, RegisterInput & { k?: string }, RegisterOutput> = {
      ...register,
      partition: partitionBy((input) => input.k ?? ''),
      describePartition: (h, members) => `register ${h[members[0]].input.k}`,
    };
    const history = [
      done(1, 0, 1, { op: 'write' as const, value: 1, k: 'a' }, true),
      done(1, 2, 3, { op: 'read' as const, k: 'b' }, null),
      done(1, 4, 5, { op: 'read' as const, k: 'a' }, 1),
      done(1, 6, 7, { op: 'read' as const, k: 'b' }, 1),
    ];
    const illegal = expectIllegal(byClient, history);
    expect(illegal.partition).toBe('register b');
    expect(illegal.blocking).toBe(3);
    expect(illegal.longestPrefix).toEqual([1]);
  });
});

describe('event-list form', () => {
  const events: Event<RegisterInput, RegisterOutput>[] = [
    { kind: 'call', id: 0, clientId: 1, value: { op: 'write', value: 1 } },
    { kind: 'call', id: 1, clientId: 2, value: { op: 'read' } },
    { kind: 'return', id: 1, clientId: 2, value: null },
    { kind: 'return', id: 0, clientId: 1, value: true },
    { kind: 'call', id: 2, clientId: 2, value: { op: 'read' } },
    { kind: 'return', id: 2, clientId: 2, value: 1 },
  ];

  it('matches calls and returns by id, with event positions as times', () => {
    expect(eventsToOperations(events)).toEqual([
      { clientId: 1, input: { op: 'write', value: 1 }, call: 0, return: 3, output: true, unknown: false },
      { clientId: 2, input: { op: 'read' }, call: 1, return: 2, output: null, unknown: false },
      { clientId: 2, input: { op: 'read' }, call: 4, return: 5, output: 1, unknown: false },
    ]);
    expect(checkEvents(register, events).result).toBe('ok');
    const stale = events.map((e) => (e.kind === 'return' && e.id === 2 ? { ...e, value: null } : e));
    expect(checkEvents(register, stale).result).toBe('illegal');
  });

  it('takes a call without a return, or with an unknown return, as outcome unknown', () => {
    const open = events.filter((e) => !(e.kind === 'return' && e.id === 0));
    expect(eventsToOperations(open)[0].unknown).toBe(true);
    expect(checkEvents(register, open).result).toBe('ok');
    const gaveUp = events.map((e) => (e.kind === 'return' && e.id === 0 ? { ...e, value: undefined, unknown: true } : e));
    expect(eventsToOperations(gaveUp)[0].unknown).toBe(true);
    expect(checkEvents(register, gaveUp).result).toBe('ok');
  });

  it('rejects returns without calls and ids used twice', () => {
    expect(() => eventsToOperations([{ kind: 'return', id: 9, clientId: 1, value: null }])).toThrow(/before its call/);
    expect(() => eventsToOperations([events[0], events[0]])).toThrow(/second call/);
    expect(() => eventsToOperations([events[0], events[3], events[3]])).toThrow(/second return/);
  });
});
