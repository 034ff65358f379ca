// The pure pieces of the fs format: CRC-32, record framing, the batch codec.
import { describe, expect, it } from 'vitest';
import type { WriteOp } from '../../src/ports.ts';
import { decodeRecordPayload, encodeBatchRecord, encodeCheckpointEndRecord } from '../../src/storage/batch-codec.ts';
import { crc32 } from '../../src/storage/crc32.ts';
import { findValidRecordAfter, RECORD_HEADER_BYTES, readRecord, scanRecords } from '../../src/storage/record.ts';
import { b, randomBytes, s, seededRand, testSeed } from './helpers.ts';

/** Bit-at-a-time reference CRC-32, to check the table-driven one against. */
function crcReference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of bytes) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(s('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(s('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });

  it('matches a bit-at-a-time reference on random data, whole and in pieces (seeded)', () => {
    const rand = seededRand(testSeed('crc32'));
    for (let i = 0; i < 200; i++) {
      const data = randomBytes(rand, rand.int(100));
      const cut = rand.int(data.length + 1);
      expect(crc32(data)).toBe(crcReference(data));
      expect(crc32(data, crc32(data, 0, 0, cut), cut)).toBe(crcReference(data));
    }
  });
});

describe('records and the batch codec', () => {
  const batch: WriteOp[] = [
    { type: 'put', key: b(0, 0xff), value: new Uint8Array(0) },
    { type: 'delete', key: b(0xff) },
    { type: 'deleteRange', start: new Uint8Array(0), end: b(9) },
    { type: 'put', key: s('k'), value: s('value') },
  ];

  it('round-trips a batch through a record', () => {
    const rec = encodeBatchRecord(batch);
    const r = readRecord(rec, 0);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.payloadEnd).toBe(rec.length);
    expect(decodeRecordPayload(rec, r.payloadStart, r.payloadEnd)).toEqual({ kind: 'batch', ops: batch });
    const end = encodeCheckpointEndRecord(1234);
    expect(decodeRecordPayload(end, RECORD_HEADER_BYTES, end.length)).toEqual({ kind: 'checkpointEnd', keyCount: 1234 });
  });

  it('detects every single flipped bit of a record', () => {
    const rec = encodeBatchRecord(batch);
    for (let i = 0; i < rec.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = rec.slice();
        bad[i] ^= 1 << bit;
        expect(readRecord(bad, 0).ok, `byte ${i} bit ${bit}`).toBe(false);
      }
    }
  });

  it('tells a torn tail from damage followed by valid records', () => {
    const recs = [encodeBatchRecord(batch), encodeBatchRecord(batch.slice(1)), encodeBatchRecord(batch.slice(2))];
    const file = new Uint8Array(recs.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of recs) {
      file.set(r, at);
      at += r.length;
    }
    const all: number[] = [];
    expect(scanRecords(file, 0, (_s, _e, o) => all.push(o))).toEqual({ validEnd: file.length });
    const torn = file.subarray(0, file.length - 3);
    expect(scanRecords(torn, 0, () => {})).toEqual({ validEnd: all[2], damage: { reason: 'length past end', damageInMiddle: false } });
    const middle = file.slice();
    middle[all[1] + 20] ^= 1;
    expect(scanRecords(middle, 0, () => {})).toEqual({ validEnd: all[1], damage: { reason: 'bad payload checksum', damageInMiddle: true } });
    expect(findValidRecordAfter(middle, all[1])).toBe(all[2]);
    expect(findValidRecordAfter(new Uint8Array(4096), 0)).toBe(-1);
  });

  it('rejects a malformed payload whose checksum matched', () => {
    expect(() => decodeRecordPayload(b(7), 0, 1)).toThrow(/unknown record kind 7/);
    expect(() => decodeRecordPayload(b(1, 1, 0, 0, 0, 1), 0, 6)).toThrow(/ends early/);
    expect(() => decodeRecordPayload(b(1, 0, 0, 0, 0, 9), 0, 6)).toThrow(/trailing bytes/);
  });
});
