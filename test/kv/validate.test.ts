/**
 * Write validation names the entry that is wrong (the fast path builds no names; the error must
 * still say which one), and measures text limits in UTF-8 bytes, not code units.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_KV_LIMITS } from '../../src/kv/limits.ts';
import { validateKvCommand, validateWriteOp } from '../../src/kv/validate.ts';

const b = (s: string) => new TextEncoder().encode(s);
const limits = { ...DEFAULT_KV_LIMITS, keyBytesMax: 8, valueBytesMax: 16, batchBytesMax: 40, clientIdBytesMax: 12 };


describe('validateWriteOp batchPut', () => {
  const ok = { key: b('k'), value: b('v') };

  it('accepts good entries', () => {
    expect(() => validateWriteOp({ type: 'batchPut', entries: [ok, ok] }, limits)).not.toThrow();
  });

  it('names the bad entry and field', () => {
    expect(() => validateWriteOp({ type: 'batchPut', entries: [ok, ok, { key: b(''), value: b('v') }] }, limits)).toThrow(expect.objectContaining({ code: 'InvalidArgument', argument: 'entries[2].key' }));
    expect(() => validateWriteOp({ type: 'batchPut', entries: [ok, { key: b('k'), value: new Uint8Array(17) }] }, limits)).toThrow(expect.objectContaining({ code: 'ValueTooLarge' }));
    expect(() => validateWriteOp({ type: 'batchPut', entries: [ok, { key: new Uint8Array(9), value: b('v') }] }, limits)).toThrow(expect.objectContaining({ code: 'KeyTooLarge' }));
    expect(() => validateWriteOp({ type: 'batchPut', entries: [null as never] }, limits)).toThrow(expect.objectContaining({ code: 'InvalidArgument', argument: 'entries[0]' }));
    expect(() => validateWriteOp({ type: 'batchPut', entries: [ok, { key: b('k'), value: 'v' as never }] }, limits)).toThrow(expect.objectContaining({ code: 'InvalidArgument', argument: 'entries[1].value' }));
  });

  it('refuses a batch whose keys and values together pass batchBytesMax', () => {
    const big = { key: b('kkkkkkkk'), value: new Uint8Array(16) };
    expect(() => validateWriteOp({ type: 'batchPut', entries: [big, big] }, limits)).toThrow(expect.objectContaining({ code: 'BatchTooLarge' }));
  });
});

describe('validateKvCommand clientId', () => {
  const op = { type: 'put' as const, key: b('k'), value: b('v') };
  const command = (clientId: string) => ({ clientId, seq: 1, nowMs: 0, op });

  it('counts UTF-8 bytes against clientIdBytesMax', () => {
    expect(() => validateKvCommand(command('a'.repeat(12)), limits)).not.toThrow();
    expect(() => validateKvCommand(command('a'.repeat(13)), limits)).toThrow(expect.objectContaining({ argument: 'clientId' }));
    expect(() => validateKvCommand(command('€€€€'), limits)).not.toThrow(); // 12 bytes
    expect(() => validateKvCommand(command('€€€€a'), limits)).toThrow(expect.objectContaining({ argument: 'clientId' })); // 13 bytes in 5 units
  });
});
