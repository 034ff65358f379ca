/** Batch validation names the op and field that is wrong, and takes good puts without naming them. */
import { describe, expect, it } from 'vitest';
import { resolveLimits, validateBatch } from '../../src/storage/validate.ts';
import type { WriteOp } from '../../src/ports.ts';

const limits = resolveLimits({ keyBytesMax: 4, valueBytesMax: 8, batchBytesMax: 30 });
const put = (key: Uint8Array, value: Uint8Array): WriteOp => ({ type: 'put', key, value });


describe('validateBatch', () => {
  it('sums key and value bytes of good ops', () => {
    expect(validateBatch([put(new Uint8Array(2), new Uint8Array(3)), { type: 'delete', key: new Uint8Array(1) }], limits)).toBe(6);
  });

  it('names the bad put', () => {
    const good = put(new Uint8Array(1), new Uint8Array(1));
    expect(() => validateBatch([good, put(new Uint8Array(0), new Uint8Array(1))], limits)).toThrow(expect.objectContaining({ code: 'InvalidArgument', argument: 'batch[1].key' }));
    expect(() => validateBatch([good, good, put(new Uint8Array(5), new Uint8Array(1))], limits)).toThrow('batch[2].key');
    expect(() => validateBatch([put(new Uint8Array(1), new Uint8Array(9))], limits)).toThrow('batch[0].value');
    expect(() => validateBatch([good, { type: 'put', key: new Uint8Array(1), value: 'x' } as never], limits)).toThrow(expect.objectContaining({ argument: 'batch[1].value' }));
  });

  it('refuses a batch over batchBytesMax', () => {
    const big = put(new Uint8Array(4), new Uint8Array(8));
    expect(() => validateBatch([big, big, big], limits)).toThrow(expect.objectContaining({ code: 'BatchTooLarge' }));
  });
});
