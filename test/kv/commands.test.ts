/**
 * The semantics of every KV write and read command, one command per turn, including edge cases:
 * empty values, absent keys, keys with 0x00 and 0xFF bytes, batch atomicity, range checks.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, KeyNotInRegionError, ValueTooLargeError } from '../../src/errors.ts';
import { HARD_KV_LIMITS, WriteOverlay } from '../../src/kv/index.ts';
import { b, Harness, s } from './harness.ts';

const COMMA = b(',');

describe('single-key writes', () => {
  it('put then get; an empty value is present, not absent', async () => {
    const h = new Harness();
    expect(await h.write({ type: 'put', key: b('k'), value: b('v') })).toBe(true);
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('v');
    await h.write({ type: 'put', key: b('e'), value: new Uint8Array(0) });
    expect(await h.read({ type: 'get', key: b('e') })).toEqual(new Uint8Array(0));
    expect(await h.read({ type: 'containsKey', key: b('e') })).toBe(true);
    expect(await h.read({ type: 'get', key: b('absent') })).toBeNull();
    expect(await h.read({ type: 'containsKey', key: b('absent') })).toBe(false);
  });

  it('getAndPut returns the previous value (null when absent)', async () => {
    const h = new Harness();
    expect(await h.write({ type: 'getAndPut', key: b('k'), value: b('a') })).toBeNull();
    expect(s((await h.write({ type: 'getAndPut', key: b('k'), value: b('b') })) as Uint8Array)).toBe('a');
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('b');
  });

  it('compareAndPut swaps only on an exact byte match; expect null means absent', async () => {
    const h = new Harness();
    expect(await h.write({ type: 'compareAndPut', key: b('k'), expect: b('x'), update: b('a') })).toBe(false);
    expect(await h.read({ type: 'get', key: b('k') })).toBeNull();
    expect(await h.write({ type: 'compareAndPut', key: b('k'), expect: null, update: b('a') })).toBe(true);
    expect(await h.write({ type: 'compareAndPut', key: b('k'), expect: null, update: b('z') })).toBe(false);
    expect(await h.write({ type: 'compareAndPut', key: b('k'), expect: b('a'), update: b('b') })).toBe(true);
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('b');
    // An empty value is not absent: expect null fails, expect '' succeeds.
    await h.write({ type: 'put', key: b('e'), value: new Uint8Array(0) });
    expect(await h.write({ type: 'compareAndPut', key: b('e'), expect: null, update: b('x') })).toBe(false);
    expect(await h.write({ type: 'compareAndPut', key: b('e'), expect: new Uint8Array(0), update: b('x') })).toBe(true);
  });

  it('putIfAbsent writes only when absent and returns the previous value', async () => {
    const h = new Harness();
    expect(await h.write({ type: 'putIfAbsent', key: b('k'), value: b('a') })).toBeNull();
    expect(s((await h.write({ type: 'putIfAbsent', key: b('k'), value: b('b') })) as Uint8Array)).toBe('a');
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('a');
  });

  it('merge sets when absent and appends separator + value otherwise', async () => {
    const h = new Harness();
    await h.write({ type: 'merge', key: b('k'), value: b('a'), separator: COMMA });
    await h.write({ type: 'merge', key: b('k'), value: b('b'), separator: COMMA });
    await h.write({ type: 'merge', key: b('k'), value: b('c'), separator: b('; ') });
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('a,b; c');
    await h.write({ type: 'merge', key: b('n'), value: b('x'), separator: new Uint8Array(0) });
    await h.write({ type: 'merge', key: b('n'), value: b('y'), separator: new Uint8Array(0) });
    expect(s((await h.read({ type: 'get', key: b('n') })) as Uint8Array)).toBe('xy');
  });

  it('merge that would pass the value ceiling fails and changes nothing', async () => {
    const h = new Harness();
    const half = new Uint8Array(HARD_KV_LIMITS.valueBytesMax / 2 + 8);
    await h.engine.write([{ type: 'put', key: Uint8Array.of(0x7a, 0x6b), value: half }]);
    const out = await h.apply(h.command({ type: 'merge', key: b('k'), value: half.subarray(0, 4 * 1024 * 1024 - 1), separator: COMMA }));
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error).toBeInstanceOf(ValueTooLargeError);
    expect(((await h.read({ type: 'get', key: b('k') })) as Uint8Array).length).toBe(half.length);
  });

  it('delete removes the key; deleting an absent key is fine', async () => {
    const h = new Harness();
    await h.write({ type: 'put', key: b('k'), value: b('v') });
    expect(await h.write({ type: 'delete', key: b('k') })).toBe(true);
    expect(await h.read({ type: 'get', key: b('k') })).toBeNull();
    expect(await h.write({ type: 'delete', key: b('k') })).toBe(true);
  });
});

describe('ranges and batches', () => {
  const keys = [Uint8Array.of(0x00), Uint8Array.of(0x00, 0x00), Uint8Array.of(0x01), Uint8Array.of(0x7f, 0xff), Uint8Array.of(0xff), Uint8Array.of(0xff, 0xff, 0x00)];

  it('scan and reverseScan cover [start, end) in byte order, with 0x00/0xFF keys, limit and returnValue', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: keys.map((key, i) => ({ key, value: Uint8Array.of(i) })) });
    const all = (await h.read({ type: 'scan', start: new Uint8Array(0), end: new Uint8Array(0) })) as { key: Uint8Array; value: Uint8Array }[];
    expect(all.map((e) => [...e.key])).toEqual(keys.map((k) => [...k]));
    expect(all.map((e) => e.value[0])).toEqual([0, 1, 2, 3, 4, 5]);
    const rev = (await h.read({ type: 'reverseScan', start: Uint8Array.of(0x00, 0x00), end: Uint8Array.of(0xff), limit: 2, returnValue: false })) as { key: Uint8Array; value: null }[];
    expect(rev.map((e) => [...e.key])).toEqual([[0x7f, 0xff], [0x01]]);
    expect(rev.every((e) => e.value === null)).toBe(true);
    const tail = (await h.read({ type: 'scan', start: Uint8Array.of(0xff), end: new Uint8Array(0) })) as { key: Uint8Array }[];
    expect(tail.map((e) => [...e.key])).toEqual([[0xff], [0xff, 0xff, 0x00]]);
  });

  it('scan sees neither sequences nor locks, which live in their own namespaces', async () => {
    const h = new Harness();
    await h.write({ type: 'getSequence', key: b('k'), step: 5 });
    await h.write({ type: 'tryLock', key: b('k'), owner: 'o', leaseMs: 100 });
    expect(await h.read({ type: 'scan', start: new Uint8Array(0), end: new Uint8Array(0) })).toEqual([]);
    expect(await h.read({ type: 'get', key: b('k') })).toBeNull();
  });

  it('deleteRange removes data in [start, end) only, with an empty end meaning +inf', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: keys.map((key) => ({ key, value: b('v') })) });
    await h.write({ type: 'getSequence', key: Uint8Array.of(0x01), step: 3 });
    await h.write({ type: 'deleteRange', start: Uint8Array.of(0x00, 0x00), end: Uint8Array.of(0xff) });
    const left = (await h.read({ type: 'scan', start: new Uint8Array(0), end: new Uint8Array(0) })) as { key: Uint8Array }[];
    expect(left.map((e) => [...e.key])).toEqual([[0x00], [0xff], [0xff, 0xff, 0x00]]);
    expect(await h.read({ type: 'getLatestSequence', key: Uint8Array.of(0x01) })).toBe(3);
    await h.write({ type: 'deleteRange', start: Uint8Array.of(0xff), end: new Uint8Array(0) });
    expect(((await h.read({ type: 'scan', start: new Uint8Array(0), end: new Uint8Array(0) })) as unknown[]).length).toBe(1);
  });

  it('multiGet answers in key order of the request, null for absent keys', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: [{ key: b('a'), value: b('1') }, { key: b('c'), value: b('3') }] });
    const got = (await h.read({ type: 'multiGet', keys: [b('c'), b('b'), b('a'), b('c')] })) as (Uint8Array | null)[];
    expect(got.map(s)).toEqual(['3', null, '1', '3']);
  });

  it('batchPut: a later entry for the same key wins; batchDelete removes all', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: [{ key: b('k'), value: b('1') }, { key: b('k'), value: b('2') }, { key: b('j'), value: b('x') }] });
    expect(s((await h.read({ type: 'get', key: b('k') })) as Uint8Array)).toBe('2');
    await h.write({ type: 'batchDelete', keys: [b('k'), b('j'), b('absent')] });
    expect(await h.read({ type: 'multiGet', keys: [b('k'), b('j')] })).toEqual([null, null]);
  });

  it('batchCompareAndPut is all-or-nothing: one failing comparison writes nothing', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: [{ key: b('a'), value: b('1') }, { key: b('b'), value: b('2') }] });
    const failing = { type: 'batchCompareAndPut' as const, entries: [
      { key: b('a'), expect: b('1'), update: b('A') },
      { key: b('c'), expect: null, update: b('C') },
      { key: b('b'), expect: b('wrong'), update: b('B') },
    ] };
    expect(await h.write(failing)).toBe(false);
    expect((await h.read({ type: 'multiGet', keys: [b('a'), b('b'), b('c')] }) as (Uint8Array | null)[]).map(s)).toEqual(['1', '2', null]);
    failing.entries[2].expect = b('2');
    expect(await h.write(failing)).toBe(true);
    expect((await h.read({ type: 'multiGet', keys: [b('a'), b('b'), b('c')] }) as (Uint8Array | null)[]).map(s)).toEqual(['A', 'B', 'C']);
  });
});

describe('sequences', () => {
  it('hand out [start, start + step) ranges that never overlap, start at 0 and restart after reset', async () => {
    const h = new Harness();
    expect(await h.write({ type: 'getSequence', key: b('q'), step: 10 })).toEqual({ startValue: 0, endValue: 10 });
    expect(await h.write({ type: 'getSequence', key: b('q'), step: 0 })).toEqual({ startValue: 10, endValue: 10 });
    expect(await h.write({ type: 'getSequence', key: b('q'), step: 1 })).toEqual({ startValue: 10, endValue: 11 });
    expect(await h.read({ type: 'getLatestSequence', key: b('q') })).toBe(11);
    expect(await h.write({ type: 'resetSequence', key: b('q') })).toBe(true);
    expect(await h.read({ type: 'getLatestSequence', key: b('q') })).toBe(0);
    expect(await h.write({ type: 'getSequence', key: b('q'), step: 2 })).toEqual({ startValue: 0, endValue: 2 });
  });

  it('sequences are independent of the data under the same key, and refuse to pass 2^53 - 1', async () => {
    const h = new Harness();
    await h.write({ type: 'put', key: b('q'), value: b('data') });
    await h.write({ type: 'getSequence', key: b('q'), step: Number.MAX_SAFE_INTEGER - 1 });
    const out = await h.apply(h.command({ type: 'getSequence', key: b('q'), step: 2 }));
    expect(out.ok ? out : out.error).toBeInstanceOf(InvalidArgumentError);
    expect(await h.read({ type: 'getLatestSequence', key: b('q') })).toBe(Number.MAX_SAFE_INTEGER - 1);
    expect(await h.write({ type: 'getSequence', key: b('q'), step: 1 })).toEqual({ startValue: Number.MAX_SAFE_INTEGER - 1, endValue: Number.MAX_SAFE_INTEGER });
    expect(s((await h.read({ type: 'get', key: b('q') })) as Uint8Array)).toBe('data');
  });
});

describe('region range checks at apply time', () => {
  const region = { id: 7, startKey: b('m'), endKey: b('t') };

  it('a key outside the region yields KeyNotInRegion with no effect, for every key of a batch', async () => {
    const h = new Harness(region);
    for (const op of [
      { type: 'put' as const, key: b('a'), value: b('v') },
      { type: 'put' as const, key: b('t'), value: b('v') },
      { type: 'batchPut' as const, entries: [{ key: b('n'), value: b('v') }, { key: b('z'), value: b('v') }] },
      { type: 'deleteRange' as const, start: b('n'), end: new Uint8Array(0) },
      { type: 'deleteRange' as const, start: b('a'), end: b('n') },
      { type: 'getSequence' as const, key: b('l'), step: 1 },
    ]) {
      const out = await h.apply(h.command(op));
      expect(out.ok).toBe(false);
      if (!out.ok) expect(out.error).toBeInstanceOf(KeyNotInRegionError);
    }
    expect((await h.engine.scan()).length).toBe(0);
    expect(await h.write({ type: 'put', key: b('m'), value: b('v') })).toBe(true);
    await expect(h.read({ type: 'get', key: b('t') })).rejects.toBeInstanceOf(KeyNotInRegionError);
    await expect(h.read({ type: 'scan', start: b('m'), end: new Uint8Array(0) })).rejects.toBeInstanceOf(KeyNotInRegionError);
    expect(await h.read({ type: 'scan', start: b('m'), end: b('t') })).toHaveLength(1);
  });

  it('a split applied between two commands of one turn moves keys out of the parent', async () => {
    const h = new Harness(region);
    const overlay = new WriteOverlay(h.engine);
    expect((await h.sm.apply(overlay, region, h.command({ type: 'put', key: b('s'), value: b('1') }))).ok).toBe(true);
    const shortened = { ...region, endKey: b('p') };
    const out = await h.sm.apply(overlay, shortened, h.command({ type: 'put', key: b('s'), value: b('2') }));
    expect(out.ok ? 'ok' : out.error.code).toBe('KeyNotInRegion');
    await h.engine.write(overlay.toWriteOps());
    expect(s((await h.read({ type: 'get', key: b('s') })) as Uint8Array)).toBe('1');
  });
});

describe('many commands in one turn', () => {
  it('read each other’s writes and leave one engine batch; a failing command stages nothing', async () => {
    const h = new Harness();
    const writes: unknown[] = [];
    const write = h.engine.write.bind(h.engine);
    h.engine.write = (batch, options) => {
      writes.push(batch);
      return write(batch, options);
    };
    const outcomes = await h.applyTurn([
      h.command({ type: 'put', key: b('k'), value: b('1') }),
      h.command({ type: 'getAndPut', key: b('k'), value: b('2') }),
      h.command({ type: 'merge', key: b('k'), value: b('3'), separator: b('+') }),
      h.command({ type: 'batchCompareAndPut', entries: [{ key: b('k'), expect: b('2+3'), update: b('4') }, { key: b('j'), expect: null, update: b('x') }] }),
      h.command({ type: 'batchPut', entries: [{ key: b('j'), value: b('lost') }, { key: new Uint8Array(0), value: b('bad') }] }),
      h.command({ type: 'deleteRange', start: b('j'), end: b('k') }),
      h.command({ type: 'getSequence', key: b('k'), step: 2 }),
      h.command({ type: 'getSequence', key: b('k'), step: 2 }),
    ]);
    expect(outcomes.map((o) => (o.ok ? o.result : o.error.code))).toEqual([
      true,
      b('1'),
      true,
      true,
      'InvalidArgument',
      true,
      { startValue: 0, endValue: 2 },
      { startValue: 2, endValue: 4 },
    ]);
    expect(writes).toHaveLength(1);
    expect((await h.read({ type: 'multiGet', keys: [b('k'), b('j')] }) as (Uint8Array | null)[]).map(s)).toEqual(['4', null]);
  });
});
