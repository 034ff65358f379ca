/**
 * The command encoding (every write type round-trips; corrupt bytes are refused with
 * CorruptCommand) and validation before proposing (typed errors for bad input), plus the apply
 * path's defensive re-check and the error <-> data round trip.
 */
import { describe, expect, it } from 'vitest';
import { packValue } from '../../src/codec/msgpack.ts';
import {
  BatchTooLargeError,
  CorruptCommandError,
  EpochNotMatchError,
  errorFromData,
  errorToData,
  InvalidArgumentError,
  KeyNotInRegionError,
  KeyTooLargeError,
  NotLeaderError,
  ValueTooLargeError,
} from '../../src/errors.ts';
import {
  DEFAULT_KV_LIMITS,
  decodeKvCommand,
  encodeKvCommand,
  type KvCommand,
  type KvWriteOp,
  resolveKvLimits,
  SHARED_COMMAND_BYTES_MAX,
  validateKvCommand,
  validateReadOp,
  validateWriteOp,
} from '../../src/kv/index.ts';
import { b, Harness } from './harness.ts';

const K = Uint8Array.of(0x00, 0xff, 0x00);
const ALL_OPS: KvWriteOp[] = [
  { type: 'put', key: K, value: b('v') },
  { type: 'getAndPut', key: K, value: new Uint8Array(0) },
  { type: 'compareAndPut', key: K, expect: null, update: b('u') },
  { type: 'compareAndPut', key: K, expect: b('e'), update: b('u') },
  { type: 'putIfAbsent', key: K, value: b('v') },
  { type: 'merge', key: K, value: b('v'), separator: b(',') },
  { type: 'delete', key: K },
  { type: 'deleteRange', start: new Uint8Array(0), end: new Uint8Array(0) },
  { type: 'batchPut', entries: [{ key: K, value: b('1') }, { key: b('k'), value: b('2') }] },
  { type: 'batchDelete', keys: [K, b('k')] },
  { type: 'batchCompareAndPut', entries: [{ key: K, expect: null, update: b('1') }, { key: b('k'), expect: b('x'), update: b('2') }] },
  { type: 'getSequence', key: K, step: 2 ** 40 },
  { type: 'resetSequence', key: K },
  { type: 'tryLock', key: K, owner: 'ówner', leaseMs: 30_000 },
  { type: 'renewLock', key: K, owner: 'o', leaseMs: 1 },
  { type: 'unlock', key: K, owner: 'o' },
  { type: 'expireSessions', idleMs: 600_000, limit: 100 },
];

describe('command encoding', () => {
  it('round-trips every write type with its envelope', () => {
    for (const op of ALL_OPS) {
      const cmd: KvCommand = { clientId: op.type === 'expireSessions' ? '' : 'c-1', seq: 2 ** 50, nowMs: 1_700_000_000_000, op };
      validateKvCommand(cmd, DEFAULT_KV_LIMITS);
      const decoded = decodeKvCommand(encodeKvCommand(cmd));
      expect(decoded, op.type).toEqual(cmd);
    }
  });

  it('decodes byte strings as plain Uint8Arrays', () => {
    const decoded = decodeKvCommand(encodeKvCommand({ clientId: 'c', seq: 1, nowMs: 0, op: ALL_OPS[8] }));
    const op = decoded.op as Extract<KvWriteOp, { type: 'batchPut' }>;
    expect(op.entries[0].key.constructor).toBe(Uint8Array);
  });

  it("decodes into its own copy: the command's byte strings never alias the given bytes", () => {
    const bytes = encodeKvCommand({ clientId: 'c', seq: 1, nowMs: 0, op: ALL_OPS[8] });
    const decoded = decodeKvCommand(bytes);
    const op = decoded.op as Extract<KvWriteOp, { type: 'batchPut' }>;
    const before = op.entries.map((e) => [e.key.slice(), e.value.slice()]);
    bytes.fill(0);
    expect(op.entries.map((e) => [e.key, e.value])).toEqual(before);
  });

  it('a small command shares one copy; a large one gives each key and value its own, so no small value pins a big batch', () => {
    const batch = (n: number, valueBytes: number) =>
      encodeKvCommand({ clientId: 'c', seq: 1, nowMs: 0, op: { type: 'batchPut', entries: Array.from({ length: n }, (_, i) => ({ key: Uint8Array.of(1, i >> 8, i & 0xff), value: new Uint8Array(valueBytes).fill(i & 0xff) })) } });
    const small = decodeKvCommand(batch(8, 100)).op as Extract<KvWriteOp, { type: 'batchPut' }>;
    expect(small.entries[0].value.buffer).toBe(small.entries[7].value.buffer);
    const largeBytes = batch(100, 1000);
    expect(largeBytes.length).toBeGreaterThan(SHARED_COMMAND_BYTES_MAX);
    const large = decodeKvCommand(largeBytes).op as Extract<KvWriteOp, { type: 'batchPut' }>;
    for (const e of large.entries) {
      expect(e.value.buffer.byteLength).toBe(1000);
      expect(e.key.buffer.byteLength).toBe(3);
    }
    expect(large.entries[42].value[0]).toBe(42);
  });

  it('refuses bytes that are not a command with CorruptCommand', () => {
    const good = encodeKvCommand({ clientId: 'c', seq: 1, nowMs: 0, op: ALL_OPS[0] });
    const bad = [
      new Uint8Array(0),
      Uint8Array.of(0xc1),
      good.subarray(0, good.length - 1),
      packValue({ not: 'an array' }),
      packValue([2, 'c', 1, 0, 0, K, K]),
      packValue([1, 'c', 1, 0, 99, K]),
      packValue([1, 'c', 1, 0, 0, K]),
      packValue([1, 'c', 1, 0, 7, [[K]]]),
    ];
    for (const bytes of bad) expect(() => decodeKvCommand(bytes)).toThrow(CorruptCommandError);
  });
});

describe('validation before proposing', () => {
  const limits = resolveKvLimits({ keyBytesMax: 8, valueBytesMax: 8, batchEntriesMax: 3, batchBytesMax: 20, leaseMsMax: 1000 });
  const cases: [string, KvWriteOp, new (...args: never[]) => Error][] = [
    ['empty key', { type: 'put', key: new Uint8Array(0), value: b('v') }, InvalidArgumentError],
    ['key not bytes', { type: 'put', key: 'k' as never, value: b('v') }, InvalidArgumentError],
    ['key too large', { type: 'delete', key: new Uint8Array(9) }, KeyTooLargeError],
    ['value too large', { type: 'put', key: b('k'), value: new Uint8Array(9) }, ValueTooLargeError],
    ['expect too large', { type: 'compareAndPut', key: b('k'), expect: new Uint8Array(9), update: b('u') }, ValueTooLargeError],
    ['bad range', { type: 'deleteRange', start: b('b'), end: b('a') }, InvalidArgumentError],
    ['empty range', { type: 'deleteRange', start: b('a'), end: b('a') }, InvalidArgumentError],
    ['empty batch', { type: 'batchPut', entries: [] }, InvalidArgumentError],
    ['too many entries', { type: 'batchDelete', keys: [b('a'), b('b'), b('c'), b('d')] }, BatchTooLargeError],
    ['too many bytes', { type: 'batchPut', entries: [1, 2, 3].map((i) => ({ key: b(`k${i}`), value: new Uint8Array(8) })) }, BatchTooLargeError],
    ['duplicate CAS key', { type: 'batchCompareAndPut', entries: [{ key: b('a'), expect: null, update: b('1') }, { key: b('a'), expect: null, update: b('2') }] }, InvalidArgumentError],
    ['negative step', { type: 'getSequence', key: b('k'), step: -1 }, InvalidArgumentError],
    ['fractional step', { type: 'getSequence', key: b('k'), step: 1.5 }, InvalidArgumentError],
    ['zero lease', { type: 'tryLock', key: b('k'), owner: 'o', leaseMs: 0 }, InvalidArgumentError],
    ['negative lease', { type: 'renewLock', key: b('k'), owner: 'o', leaseMs: -5 }, InvalidArgumentError],
    ['lease too long', { type: 'tryLock', key: b('k'), owner: 'o', leaseMs: 1001 }, InvalidArgumentError],
    ['empty owner', { type: 'unlock', key: b('k'), owner: '' }, InvalidArgumentError],
    ['unknown type', { type: 'frobnicate' } as never, InvalidArgumentError],
  ];
  for (const [name, op, kind] of cases) {
    it(`refuses ${name}`, () => {
      expect(() => validateWriteOp(op, limits)).toThrow(kind);
    });
  }

  it('checks the envelope and read ops', () => {
    const op = ALL_OPS[0];
    expect(() => validateKvCommand({ clientId: 'c', seq: 0, nowMs: 0, op }, DEFAULT_KV_LIMITS)).toThrow(/seq/);
    expect(() => validateKvCommand({ clientId: '', seq: 0, nowMs: 0, op }, DEFAULT_KV_LIMITS)).not.toThrow();
    expect(() => validateKvCommand({ clientId: 'c', seq: 1, nowMs: -1, op }, DEFAULT_KV_LIMITS)).toThrow(/nowMs/);
    const expire = { type: 'expireSessions' as const, idleMs: 1, limit: 1 };
    expect(() => validateKvCommand({ clientId: 'c', seq: 1, nowMs: 0, op: expire }, DEFAULT_KV_LIMITS)).toThrow(/store-internal/);
    expect(() => validateKvCommand({ clientId: 'x'.repeat(129), seq: 1, nowMs: 0, op }, DEFAULT_KV_LIMITS)).toThrow(/clientId/);
    expect(() => validateReadOp({ type: 'scan', start: b('a'), end: b('b'), limit: 0 }, limits)).toThrow(/limit/);
    expect(() => validateReadOp({ type: 'scan', start: b('a'), end: b('b'), limit: 10_001 }, DEFAULT_KV_LIMITS)).toThrow(/limit/);
    expect(() => validateReadOp({ type: 'multiGet', keys: [] }, limits)).toThrow(InvalidArgumentError);
    expect(() => validateReadOp({ type: 'get', key: new Uint8Array(0) }, limits)).toThrow(InvalidArgumentError);
    expect(() => validateReadOp({ type: 'reverseScan', start: new Uint8Array(0), end: new Uint8Array(0) }, limits)).not.toThrow();
  });

  it('refuses limits that are not positive or exceed the hard ceilings', () => {
    expect(() => resolveKvLimits({ keyBytesMax: 0 })).toThrow(InvalidArgumentError);
    expect(() => resolveKvLimits({ valueBytesMax: 1e9 })).toThrow(/at most/);
  });
});

describe('apply re-checks defensively', () => {
  it('a bad command that slipped through is answered with a typed error and writes nothing', async () => {
    const h = new Harness();
    for (const op of [
      { type: 'put', key: new Uint8Array(0), value: b('v') },
      { type: 'tryLock', key: b('k'), owner: 'o', leaseMs: 0 },
      { type: 'deleteRange', start: b('z'), end: b('a') },
      { type: 'batchPut', entries: [{ key: b('ok'), value: b('v') }, { key: new Uint8Array(0), value: b('v') }] },
    ] as KvWriteOp[]) {
      const out = await h.apply(h.command(op));
      expect(out.ok ? 'ok' : out.error.code).toBe('InvalidArgument');
    }
    expect(await h.engine.scan()).toEqual([]);
  });
});

describe('errors as data', () => {
  it('round-trip with class, code, message and fields', () => {
    const region = { id: 3, startKey: b('a'), endKey: b('m'), epoch: { confVer: 1, version: 4 }, peers: [] };
    for (const e of [new EpochNotMatchError(3, [region]), new NotLeaderError(3, 2), new KeyNotInRegionError(3, b('z'), b('a'), b('m')), new InvalidArgumentError('key', 'must not be empty')]) {
      const back = errorFromData(structuredClone(errorToData(e)));
      expect(back).toBeInstanceOf(e.constructor);
      expect(back.code).toBe(e.code);
      expect(back.message).toBe(e.message);
      expect({ ...back }).toEqual({ ...e });
    }
    expect((errorFromData(errorToData(new EpochNotMatchError(3, [region]))) as EpochNotMatchError).regions).toEqual([region]);
  });
});
