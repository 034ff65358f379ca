/**
 * The kv model (get / put / append by key, porcupine's) on hand-made histories.
 */

import { describe, expect, it } from 'vitest';
import { type KvInput, type KvOutput, kvModel } from '../../src/linearizability/index.ts';
import { done, expectIllegal, expectVerdict, lost } from './history.ts';

const model = kvModel();
const get = (key: string): KvInput => ({ op: 'get', key });
const put = (key: string, value: string): KvInput => ({ op: 'put', key, value });
const append = (key: string, value: string): KvInput => ({ op: 'append', key, value });
const ok = (client: number, call: number, ret: number, input: KvInput, output: KvOutput = null) =>
  done<KvInput, KvOutput>(client, call, ret, input, output);

describe('kv model', () => {
  it('reads the empty string for a missing key, then what was put and appended', () => {
    const history = [ok(1, 0, 1, get('a'), ''), ok(1, 2, 3, put('a', 'x')), ok(1, 4, 5, append('a', 'y')), ok(1, 6, 7, get('a'), 'xy')];
    expectVerdict(model, history, 'ok');
    expectIllegal(model, [...history.slice(0, 3), ok(1, 6, 7, get('a'), 'yx')]);
  });

  it('orders concurrent appends as some read saw them', () => {
    const appends = [ok(1, 0, 10, append('a', '1')), ok(2, 0, 10, append('a', '2'))];
    expectVerdict(model, [...appends, ok(3, 11, 12, get('a'), '21')], 'ok');
    expectVerdict(model, [...appends, ok(3, 11, 12, get('a'), '12')], 'ok');
    expectIllegal(model, [...appends, ok(3, 11, 12, get('a'), '12'), ok(3, 13, 14, get('a'), '21')]);
  });

  it('partitions by key: each key on its own, no real-time order across keys is needed', () => {
    const history = [
      ok(1, 0, 1, put('a', '1')),
      ok(2, 2, 3, put('b', '1')),
      ok(1, 4, 5, get('b'), '1'),
      ok(2, 6, 7, get('a'), '1'),
    ];
    const result = expectVerdict(model, history, 'ok');
    expect(result.partitions.map((p) => p.name)).toEqual(['key "a"', 'key "b"']);
    expect(result.partitions.map((p) => p.operations)).toEqual([
      [0, 3],
      [1, 2],
    ]);
  });

  it('names the key whose sub-history fails', () => {
    const history = [ok(1, 0, 1, put('a', '1')), ok(1, 2, 3, put('b', '1')), ok(2, 4, 5, get('b'), '2')];
    const illegal = expectIllegal(model, history);
    expect(illegal.partition).toBe('key "b"');
    expect(illegal.blocking).toBe(2);
    expect(illegal.message).toContain('get("b") -> "2"');
  });

  it('takes a timed-out append as applied once when reads saw it, and as absent when they did not', () => {
    const lostAppend = lost<KvInput, KvOutput>(1, 0, append('a', 'x'));
    expectVerdict(model, [lostAppend, ok(2, 5, 6, get('a'), 'x'), ok(2, 7, 8, get('a'), 'x')], 'ok');
    expectVerdict(model, [lostAppend, ok(2, 5, 6, get('a'), ''), ok(2, 7, 8, append('a', 'y')), ok(2, 9, 10, get('a'), 'y')], 'ok');
    expectIllegal(model, [lostAppend, ok(2, 5, 6, get('a'), 'xx')]);
  });
});
