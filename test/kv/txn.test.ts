/**
 * The `txn` command of the KV state machine: compare semantics (value byte-wise, existence, an
 * absent key), both branches and their results, ops in order, atomicity (a failing txn stages
 * nothing, not even its session), session dedup of a retried txn, the log encoding, validation
 * and the span a txn is routed and range-checked by.
 */
import { describe, expect, it } from 'vitest';
import { BatchTooLargeError, CorruptCommandError, FlotillaError, InvalidArgumentError, KeyNotInRegionError } from '../../src/errors.ts';
import {
  DEFAULT_KV_LIMITS,
  decodeKvCommand,
  encodeKvCommand,
  opFootprint,
  TXN_RESULT_BYTES_MAX,
  type TxnCompare,
  type TxnOp,
  type TxnResult,
  type TxnWriteOp,
  validateWriteOp,
} from '../../src/kv/index.ts';
import { packValue } from '../../src/codec/msgpack.ts';
import { b, Harness, s } from './harness.ts';

const txn = (compare: TxnCompare[], success: TxnOp[] = [], failure: TxnOp[] = []): TxnWriteOp => ({ type: 'txn', compare, success, failure });
const value = (key: string, result: '=' | '!=' | '<' | '>', v: string | Uint8Array): TxnCompare => ({ target: 'value', key: b(key), result, value: typeof v === 'string' ? b(v) : v });
const exists = (key: string, e = true): TxnCompare => ({ target: 'exists', key: b(key), exists: e });
const put = (key: string, v: string): TxnOp => ({ type: 'put', key: b(key), value: b(v) });
const get = (key: string): TxnOp => ({ type: 'get', key: b(key) });
const del = (key: string): TxnOp => ({ type: 'delete', key: b(key) });

async function run(h: Harness, op: TxnWriteOp): Promise<TxnResult> {
  return (await h.write(op)) as TxnResult;
}

/** Whether `compare` holds in a harness where `k` is `stored` (undefined: absent). */
async function holds(stored: Uint8Array | undefined, compare: TxnCompare): Promise<boolean> {
  const h = new Harness();
  if (stored !== undefined) await h.write({ type: 'put', key: b('k'), value: stored });
  return (await run(h, txn([compare]))).succeeded;
}

describe('txn compares', () => {
  it('compare values byte-wise: equal, not equal, less, greater, with a proper prefix less', async () => {
    const cases: [string, '=' | '!=' | '<' | '>', string, boolean][] = [
      ['abc', '=', 'abc', true],
      ['abc', '=', 'abd', false],
      ['abc', '!=', 'abd', true],
      ['abc', '!=', 'abc', false],
      ['abc', '<', 'abd', true],
      ['abc', '<', 'abc', false],
      ['ab', '<', 'abc', true],
      ['abc', '>', 'ab', true],
      ['abd', '>', 'abc', true],
      ['abc', '>', 'abc', false],
      ['', '<', 'a', true],
      ['', '=', '', true],
    ];
    for (const [stored, result, given, expected] of cases) {
      expect(await holds(b(stored), value('k', result, given)), `${JSON.stringify(stored)} ${result} ${JSON.stringify(given)}`).toBe(expected);
    }
    // Bytes, not text: 0xff sorts above every ASCII byte, and 0x00 above nothing.
    expect(await holds(Uint8Array.of(0xff), value('k', '>', 'zzz'))).toBe(true);
    expect(await holds(Uint8Array.of(0x00), value('k', '<', Uint8Array.of(0x01)))).toBe(true);
  });

  it('makes every value compare false on an absent key (as etcd), and compares existence', async () => {
    for (const result of ['=', '!=', '<', '>'] as const) expect(await holds(undefined, value('k', result, 'x'))).toBe(false);
    expect(await holds(undefined, value('k', '=', ''))).toBe(false); // absent is not the empty value
    expect(await holds(undefined, exists('k', false))).toBe(true);
    expect(await holds(undefined, exists('k'))).toBe(false);
    expect(await holds(new Uint8Array(0), exists('k'))).toBe(true);
    expect(await holds(new Uint8Array(0), value('k', '=', ''))).toBe(true);
  });

  it('needs every compare to hold; none at all runs the success branch', async () => {
    const h = new Harness();
    await run(h, txn([], [put('a', '1'), put('b', '2')]));
    expect((await run(h, txn([value('a', '=', '1'), value('b', '=', '2')]))).succeeded).toBe(true);
    expect((await run(h, txn([value('a', '=', '1'), value('b', '=', '3')]))).succeeded).toBe(false);
    expect((await run(h, txn([value('a', '=', '0'), value('b', '=', '2')]))).succeeded).toBe(false);
  });
});

describe('txn branches', () => {
  it('runs the success branch when the compares hold, the failure branch otherwise, with results in op order', async () => {
    const h = new Harness();
    await h.write({ type: 'put', key: b('x'), value: b('1') });
    const ok = await run(h, txn([value('x', '=', '1')], [put('x', '2'), get('x'), put('y', 'new'), del('z')], [get('x')]));
    expect(ok.succeeded).toBe(true);
    expect(ok.results.map((r) => r.type)).toEqual(['put', 'get', 'put', 'delete']);
    // A get sees the earlier writes of its branch.
    expect(s((ok.results[1] as { value: Uint8Array }).value)).toBe('2');
    const no = await run(h, txn([value('x', '=', '1')], [put('x', 'never')], [get('x'), get('absent'), put('seen', 'else')]));
    expect(no.succeeded).toBe(false);
    expect(no.results).toEqual([
      { type: 'get', value: b('2') },
      { type: 'get', value: null },
      { type: 'put' },
    ]);
    expect(s((await h.read({ type: 'get', key: b('x') })) as Uint8Array)).toBe('2');
    expect(s((await h.read({ type: 'get', key: b('seen') })) as Uint8Array)).toBe('else');
    expect(s((await h.read({ type: 'get', key: b('y') })) as Uint8Array)).toBe('new');
  });

  it('applies ops in order: a later op on the same key wins, a delete after a put leaves it absent', async () => {
    const h = new Harness();
    const r = await run(h, txn([], [put('k', 'a'), put('k', 'b'), get('k'), del('k'), get('k'), put('j', 'x')]));
    expect(r.results[2]).toEqual({ type: 'get', value: b('b') });
    expect(r.results[4]).toEqual({ type: 'get', value: null });
    expect(await h.read({ type: 'get', key: b('k') })).toBeNull();
    expect(s((await h.read({ type: 'get', key: b('j') })) as Uint8Array)).toBe('x');
  });

  it('deletes a range inside the txn, and later ops of the branch see it gone', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: ['r1', 'r2', 'r3', 's1'].map((k) => ({ key: b(k), value: b(k) })) });
    const r = await run(h, txn([exists('r2')], [{ type: 'deleteRange', start: b('r'), end: b('s') }, get('r2'), put('r9', 'after')]));
    expect(r.succeeded).toBe(true);
    expect(r.results[1]).toEqual({ type: 'get', value: null });
    const left = (await h.read({ type: 'scan', start: b(''), end: b('') })) as { key: Uint8Array }[];
    expect(left.map((e) => s(e.key))).toEqual(['r9', 's1']);
  });

  it('commits consecutive txns of one turn against each other: a compare sees the txn before it', async () => {
    const h = new Harness();
    const incr = (from: string | null, to: string) => h.command(txn([from === null ? exists('n', false) : value('n', '=', from)], [put('n', to)], [get('n')]));
    const out = await h.applyTurn([incr(null, '1'), incr('1', '2'), incr('1', 'x'), incr('2', '3')]);
    expect(out.map((o) => o.ok && (o.result as TxnResult).succeeded)).toEqual([true, true, false, true]);
    expect(s((await h.read({ type: 'get', key: b('n') })) as Uint8Array)).toBe('3');
  });
});

describe('txn atomicity and sessions', () => {
  it('fails whole when its gets would return too much: nothing written, no session remembered', async () => {
    const h = new Harness();
    const big = new Uint8Array(1024 * 1024).fill(7);
    for (let i = 0; i < 5; i++) await h.write({ type: 'put', key: b(`big${i}`), value: big });
    const before = await h.dump();
    const gets = Array.from({ length: 5 }, (_, i) => get(`big${i}`));
    const out = await h.apply(h.command(txn([], [put('written', 'no'), ...gets])));
    expect(out.ok).toBe(false);
    expect(!out.ok && out.error).toBeInstanceOf(BatchTooLargeError);
    expect(!out.ok && out.error.message).toContain(String(TXN_RESULT_BYTES_MAX));
    expect(await h.dump()).toEqual(before);
    // Four megabytes of gets fit.
    expect((await run(h, txn([], gets.slice(0, 3)))).results).toHaveLength(3);
  });

  it('refuses a txn with any key outside the region at apply time, and applies nothing', async () => {
    const h = new Harness({ id: 7, startKey: b('b'), endKey: b('m') });
    const before = await h.dump();
    for (const op of [txn([exists('c')], [put('c', '1')], [put('z', '1')]), txn([exists('a')], [put('c', '1')]), txn([], [{ type: 'deleteRange', start: b('c'), end: b('') }])]) {
      const out = await h.apply(h.command(op));
      expect(out.ok).toBe(false);
      expect(!out.ok && out.error).toBeInstanceOf(KeyNotInRegionError);
    }
    expect(await h.dump()).toEqual(before);
    expect((await run(h, txn([exists('c', false)], [put('c', 'in'), { type: 'deleteRange', start: b('d'), end: b('m') }]))).succeeded).toBe(true);
  });

  it('answers a retried txn (same client and seq) from the session table without applying it again', async () => {
    const h = new Harness();
    await h.write({ type: 'put', key: b('n'), value: b('1') });
    const command = h.command(txn([value('n', '=', '1')], [put('n', '2'), get('n')], [get('n')]));
    const first = await h.apply(command);
    const again = await h.apply(command);
    expect(first).toMatchObject({ ok: true, deduplicated: false });
    expect(again).toMatchObject({ ok: true, deduplicated: true });
    // The same answer (compare held, the get saw 2), although a fresh evaluation would now fail.
    expect(again.ok && again.result).toEqual(first.ok && first.result);
    expect(again.ok && (again.result as TxnResult).succeeded).toBe(true);
    expect(s((await h.read({ type: 'get', key: b('n') })) as Uint8Array)).toBe('2');
  });
});

describe('txn encoding, validation and span', () => {
  const sample = txn(
    [value('a', '=', 'x'), value('a', '!=', ''), value('b', '<', 'y'), value('c', '>', Uint8Array.of(0, 255)), exists('d'), exists('e', false)],
    [put('a', 'v'), del('b'), get('c'), { type: 'deleteRange', start: b('r'), end: b('') }],
    [get('a'), { type: 'deleteRange', start: b(''), end: b('q') }],
  );

  it('round-trips through the log encoding', () => {
    const command = { clientId: 'c1', seq: 9, nowMs: 5, op: sample };
    expect(decodeKvCommand(encodeKvCommand(command))).toEqual(command);
    const empty = { clientId: 'c1', seq: 10, nowMs: 5, op: txn([]) };
    expect(decodeKvCommand(encodeKvCommand(empty))).toEqual(empty);
  });

  it('refuses a malformed txn in the log with CorruptCommand', () => {
    const code = 16; // the txn type code (append-only)
    const bad = [
      [1, 'c', 1, 0, code, [], []],
      [1, 'c', 1, 0, code, 'x', [], []],
      [1, 'c', 1, 0, code, [[9, b('k'), 0, b('v')]], [], []],
      [1, 'c', 1, 0, code, [[0, b('k'), 7, b('v')]], [], []],
      [1, 'c', 1, 0, code, [], [[0, b('k')]], []],
      [1, 'c', 1, 0, code, [], [], [[5, b('k')]]],
    ];
    for (const raw of bad) expect(() => decodeKvCommand(packValue(raw)), JSON.stringify(raw)).toThrow(CorruptCommandError);
    expect(decodeKvCommand(packValue([1, 'c', 1, 0, code, [], [[2, b('k')]], []])).op).toEqual(txn([], [get('k')]));
  });

  it('refuses bad input with a typed error naming the argument', () => {
    const limits = DEFAULT_KV_LIMITS;
    const refuse = (op: unknown, argument: string | RegExp) => {
      let err: unknown;
      try {
        validateWriteOp(op as TxnWriteOp, limits);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(op)).toBeInstanceOf(FlotillaError);
      if (err instanceof InvalidArgumentError) expect(err.argument).toMatch(argument);
      else expect((err as Error).message).toMatch(argument);
    };
    refuse(txn([value('', '=', 'x')]), 'compare[0].key');
    refuse(txn([], [put('', 'x')]), 'success[0].key');
    refuse(txn([], [], [get('')]), 'failure[0].key');
    refuse(txn([{ target: 'value', key: b('k'), result: '<=' as '<', value: b('x') }]), 'compare[0].result');
    refuse(txn([{ target: 'version', key: b('k') } as unknown as TxnCompare]), 'compare[0].target');
    refuse(txn([{ target: 'exists', key: b('k') } as unknown as TxnCompare]), 'compare[0].exists');
    refuse(txn([], [{ type: 'merge', key: b('k') } as unknown as TxnOp]), 'success[0].type');
    refuse(txn([], [{ type: 'deleteRange', start: b('z'), end: b('a') }]), 'success[0].end');
    refuse({ type: 'txn', compare: [], success: 'x', failure: [] }, 'success');
    refuse(txn([], [{ type: 'put', key: b('k'), value: 'text' } as unknown as TxnOp]), 'success[0].value');
    refuse(txn([], Array.from({ length: 129 }, (_, i) => put(`k${i}`, 'v'))), /129 compares and ops, over the limit of 128/);
  });

  it('limits the total bytes of keys and values', () => {
    const limits = { ...DEFAULT_KV_LIMITS, batchBytesMax: 100 };
    expect(() => validateWriteOp(txn([value('k', '=', 'x'.repeat(60))], [put('k', 'y'.repeat(60))]), limits)).toThrow(BatchTooLargeError);
    expect(() => validateWriteOp(txn([value('k', '=', 'x'.repeat(40))], [put('k', 'y'.repeat(40))]), limits)).not.toThrow();
  });

  it('is routed and range-checked by one span from its lowest key to past its highest', () => {
    expect(opFootprint(txn([exists('m')], [put('c', '1')], [get('x')]))).toEqual({ start: b('c'), end: Uint8Array.of(...b('x'), 0) });
    expect(opFootprint(txn([exists('m')], [{ type: 'deleteRange', start: b('d'), end: b('') }]))).toEqual({ start: b('d'), end: b('') });
    expect(opFootprint(txn([]))).toEqual({ keys: [] });
  });
});
