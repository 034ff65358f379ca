/**
 * The register model (read / write / cas) on hand-made histories, including operations whose
 * outcome is unknown.
 */

import { describe, expect, it } from 'vitest';
import { type RegisterInput, type RegisterOutput, registerModel } from '../../src/linearizability/index.ts';
import { done, expectIllegal, expectVerdict, lost } from './history.ts';

type Op = RegisterInput;
const read: Op = { op: 'read' };
const write = (value: number): Op => ({ op: 'write', value });
const cas = (expect: number | null, update: number): Op => ({ op: 'cas', expect, update });
const model = registerModel();
const ok = <O extends RegisterOutput>(client: number, call: number, ret: number, input: Op, output: O) =>
  done<Op, RegisterOutput>(client, call, ret, input, output);

describe('register model', () => {
  it('accepts a sequential history and rejects a stale read', () => {
    expectVerdict(model, [ok(1, 0, 1, write(1), true), ok(1, 2, 3, read, 1)], 'ok');
    expectIllegal(model, [ok(1, 0, 1, write(1), true), ok(2, 2, 3, read, null)]);
  });

  it('reads null before any write, and the configured initial value', () => {
    expectVerdict(model, [ok(1, 0, 1, read, null)], 'ok');
    expectIllegal(model, [ok(1, 0, 1, read, 0)]);
    expectVerdict(registerModel({ initial: 0 }), [ok(1, 0, 1, read, 0)], 'ok');
  });

  it('lets concurrent operations take effect in either order, but not against real time', () => {
    const concurrent = [ok(1, 0, 10, write(1), true), ok(2, 1, 11, write(2), true), ok(3, 12, 13, read, 1)];
    expectVerdict(model, concurrent, 'ok');
    // A read that saw 2 and then one that saw 1, both after the writes ended: no order explains it.
    expectIllegal(model, [...concurrent, ok(3, 14, 15, read, 2)]);
  });

  it('treats touching intervals as concurrent', () => {
    expectVerdict(model, [ok(1, 0, 5, write(1), true), ok(2, 5, 6, read, null)], 'ok');
    expectIllegal(model, [ok(1, 0, 4, write(1), true), ok(2, 5, 6, read, null)]);
  });

  it('checks both answers of cas', () => {
    const base = ok(1, 0, 1, write(1), true);
    expectVerdict(model, [base, ok(1, 2, 3, cas(1, 2), true), ok(1, 4, 5, read, 2)], 'ok');
    expectIllegal(model, [base, ok(1, 2, 3, cas(1, 2), false)]);
    expectVerdict(model, [base, ok(1, 2, 3, cas(0, 2), false), ok(1, 4, 5, read, 1)], 'ok');
    expectIllegal(model, [base, ok(1, 2, 3, cas(0, 2), true)]);
  });

  it('takes a timed-out write as applied when a later read saw it', () => {
    expectVerdict(model, [lost(1, 0, write(7)), ok(2, 5, 6, read, 7)], 'ok');
  });

  it('takes a timed-out write as not applied when no read saw it', () => {
    const result = expectVerdict(model, [lost(1, 0, write(7)), ok(2, 5, 6, read, null), ok(2, 7, 8, read, null)], 'ok');
    expect(result.partitions[0].linearization).toEqual([1, 2]);
  });

  it('lets a timed-out write take effect late, after the client gave up', () => {
    const history = [lost(1, 0, write(7)), ok(2, 5, 6, read, null), ok(2, 100, 101, read, 7)];
    expectVerdict(model, history, 'ok');
  });

  it('never lets a timed-out write take effect before it was called', () => {
    expectIllegal(model, [ok(2, 0, 1, read, 7), lost(1, 2, write(7))]);
  });

  it('does not let a timed-out write take effect twice', () => {
    const history = [
      lost(1, 0, write(7)),
      ok(2, 1, 2, read, 7),
      ok(3, 3, 4, write(8), true),
      ok(2, 5, 6, read, 7),
    ];
    expectIllegal(model, history);
  });

  it('takes a timed-out cas as applied only if it could have swapped', () => {
    const base = ok(1, 0, 1, write(1), true);
    expectVerdict(model, [base, lost(2, 2, cas(1, 5)), ok(3, 10, 11, read, 5)], 'ok');
    expectIllegal(model, [base, lost(2, 2, cas(3, 5)), ok(3, 10, 11, read, 5)]);
  });

  it('names the read that could not be placed and the prefix before it', () => {
    const history = [ok(1, 0, 1, write(1), true), ok(1, 2, 3, write(2), true), ok(2, 4, 5, read, 1)];
    const illegal = expectIllegal(model, history);
    expect(illegal.longestPrefix).toEqual([0, 1]);
    expect(illegal.blocking).toBe(2);
    expect(illegal.stateAfterPrefix).toBe('2');
    expect(illegal.message).toContain('read() -> 1');
    expect(illegal.message).toContain('rejects it');
  });
});
