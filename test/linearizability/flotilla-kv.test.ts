/**
 * The Flotilla KV model on hand-made histories: every operation kind, string and byte values,
 * sequences, and operations whose outcome is unknown.
 */

import { describe, expect, it } from 'vitest';
import { type FlotillaKvInput as In, type FlotillaKvOutput as Out, flotillaKvModel, utf8Encode } from '../../src/linearizability/index.ts';
import { done, expectIllegal, expectVerdict, lost } from './history.ts';

const model = flotillaKvModel();
const ok = (client: number, call: number, ret: number, input: In, output: Out = true) => done<In, Out>(client, call, ret, input, output);
const gone = (client: number, call: number, input: In) => lost<In, Out>(client, call, input);

/** A single client's operations, one after the other. */
function serial(...steps: [In, Out?][]) {
  return steps.map(([input, output], i) => ok(1, 2 * i, 2 * i + 1, input, output));
}

describe('Flotilla KV model: values', () => {
  it('get, put, delete and containsKey', () => {
    const h = serial(
      [{ op: 'get', key: 'k' }, null],
      [{ op: 'containsKey', key: 'k' }, false],
      [{ op: 'put', key: 'k', value: 'v' }],
      [{ op: 'get', key: 'k' }, 'v'],
      [{ op: 'containsKey', key: 'k' }, true],
      [{ op: 'delete', key: 'k' }],
      [{ op: 'get', key: 'k' }, null],
    );
    expectVerdict(model, h, 'ok');
    expectIllegal(model, [...h, ok(1, 100, 101, { op: 'containsKey', key: 'k' }, true)]);
    expectIllegal(model, serial([{ op: 'put', key: 'k', value: 'v' }], [{ op: 'get', key: 'k' }, null]));
  });

  it('compares values as bytes: a string equals its UTF-8 encoding', () => {
    const h = serial([{ op: 'put', key: 'ключ', value: 'zé' }], [{ op: 'get', key: utf8Encode('ключ') }, Uint8Array.of(0x7a, 0xc3, 0xa9)]);
    expectVerdict(model, h, 'ok');
    expectIllegal(model, serial([{ op: 'put', key: 'k', value: 'zé' }], [{ op: 'get', key: 'k' }, Uint8Array.of(0x7a, 0xe9)]));
    // An empty value is present, not absent.
    expectIllegal(model, serial([{ op: 'put', key: 'k', value: '' }], [{ op: 'get', key: 'k' }, null]));
  });

  it('getAndPut returns the previous value', () => {
    const h = serial([{ op: 'getAndPut', key: 'k', value: 'a' }, null], [{ op: 'getAndPut', key: 'k', value: 'b' }, 'a'], [{ op: 'get', key: 'k' }, 'b']);
    expectVerdict(model, h, 'ok');
    expectIllegal(model, serial([{ op: 'getAndPut', key: 'k', value: 'a' }, null], [{ op: 'getAndPut', key: 'k', value: 'b' }, 'b']));
  });

  it('compareAndPut swaps only on a match, and null expects the key absent', () => {
    const h = serial(
      [{ op: 'compareAndPut', key: 'k', expect: null, update: 'a' }, true],
      [{ op: 'compareAndPut', key: 'k', expect: 'x', update: 'b' }, false],
      [{ op: 'compareAndPut', key: 'k', expect: 'a', update: 'c' }, true],
      [{ op: 'get', key: 'k' }, 'c'],
    );
    expectVerdict(model, h, 'ok');
    expectIllegal(model, serial([{ op: 'compareAndPut', key: 'k', expect: 'a', update: 'b' }, true]));
    expectIllegal(model, serial([{ op: 'put', key: 'k', value: 'a' }], [{ op: 'compareAndPut', key: 'k', expect: 'a', update: 'b' }, false]));
  });

  it('putIfAbsent returns the previous value and writes only when there was none', () => {
    const h = serial([{ op: 'putIfAbsent', key: 'k', value: 'a' }, null], [{ op: 'putIfAbsent', key: 'k', value: 'b' }, 'a'], [{ op: 'get', key: 'k' }, 'a']);
    expectVerdict(model, h, 'ok');
    expectIllegal(model, serial([{ op: 'putIfAbsent', key: 'k', value: 'a' }, null], [{ op: 'putIfAbsent', key: 'k', value: 'b' }, null]));
  });

  it('merge appends with the separator, or sets when absent', () => {
    const h = serial([{ op: 'merge', key: 'k', value: 'a' }], [{ op: 'merge', key: 'k', value: 'b' }], [{ op: 'get', key: 'k' }, 'a,b']);
    expectVerdict(model, h, 'ok');
    expectIllegal(model, serial([{ op: 'merge', key: 'k', value: 'a' }], [{ op: 'get', key: 'k' }, ',a']));
    const semicolon = flotillaKvModel({ mergeSeparator: '; ' });
    expectVerdict(semicolon, serial([{ op: 'put', key: 'k', value: 'a' }], [{ op: 'merge', key: 'k', value: 'b' }], [{ op: 'get', key: 'k' }, 'a; b']), 'ok');
  });

  it('treats a timed-out put as applied when seen, and as never applied when not', () => {
    const put = gone(1, 0, { op: 'put', key: 'k', value: 'v' });
    expectVerdict(model, [put, ok(2, 5, 6, { op: 'get', key: 'k' }, 'v')], 'ok');
    expectVerdict(model, [put, ok(2, 5, 6, { op: 'get', key: 'k' }, null), ok(2, 7, 8, { op: 'containsKey', key: 'k' }, false)], 'ok');
    expectIllegal(model, [put, ok(2, 5, 6, { op: 'get', key: 'k' }, 'w')]);
  });

  it('lets a timed-out compareAndPut apply only where its comparison holds', () => {
    const base = ok(1, 0, 1, { op: 'put', key: 'k', value: 'a' });
    const cas = gone(2, 2, { op: 'compareAndPut', key: 'k', expect: 'a', update: 'b' });
    const later = ok(3, 10, 11, { op: 'put', key: 'k', value: 'c' });
    expectVerdict(model, [base, cas, ok(1, 5, 6, { op: 'get', key: 'k' }, 'b')], 'ok');
    // After 'c' is written the comparison with 'a' can no longer hold, so 'b' cannot appear.
    expectIllegal(model, [base, cas, later, ok(1, 12, 13, { op: 'get', key: 'k' }, 'c'), ok(1, 14, 15, { op: 'get', key: 'k' }, 'b')]);
  });
});

describe('Flotilla KV model: sequences', () => {
  const seq = (step: number): In => ({ op: 'getSequence', key: 's', step });

  it('hands out contiguous ranges, in a namespace apart from data', () => {
    const h = serial([seq(10), { start: 0, end: 10 }], [{ op: 'put', key: 's', value: 'data' }], [seq(5), { start: 10, end: 15 }], [{ op: 'getLatestSequence', key: 's' }, 15]);
    const result = expectVerdict(model, h, 'ok');
    expect(result.partitions.map((p) => p.name)).toEqual(['sequence key "s"', 'data key "s"']);
  });

  it('rejects overlapping ranges and gaps', () => {
    const concurrent = [ok(1, 0, 10, seq(10), { start: 0, end: 10 }), ok(2, 0, 10, seq(10), { start: 5, end: 15 })];
    const illegal = expectIllegal(model, concurrent);
    expect(illegal.partition).toBe('sequence key "s"');
    expect(illegal.message).toContain('getSequence("s", 10) -> [5, 15)');
    expectIllegal(model, serial([seq(10), { start: 0, end: 10 }], [seq(10), { start: 11, end: 21 }]));
  });

  it('resets to zero', () => {
    const h = serial([seq(3), { start: 0, end: 3 }], [{ op: 'resetSequence', key: 's' }], [seq(3), { start: 0, end: 3 }]);
    expectVerdict(model, h, 'ok');
  });

  it('lets a timed-out getSequence consume its range, or not', () => {
    const first = gone(1, 0, seq(10));
    expectVerdict(model, [first, ok(2, 5, 6, seq(1), { start: 10, end: 11 })], 'ok');
    expectVerdict(model, [first, ok(2, 5, 6, seq(1), { start: 0, end: 1 })], 'ok');
    expectIllegal(model, [first, ok(2, 5, 6, seq(1), { start: 5, end: 6 })]);
  });
});
