/**
 * The on-disk record format of the fs engine, kept pure so that it is unit-tested in any runtime.
 *
 * A record is a 12-byte header followed by a payload:
 *
 *     u32 payloadLength | u32 crc32(payload) | u32 crc32(first 8 header bytes) ^ HEADER_SALT
 *
 * all little-endian. The header has its own checksum so that a reader can tell a damaged length
 * from a damaged payload, and can search forward for a later valid record cheaply: that is how
 * recovery tells a torn tail (nothing valid follows) from corruption in the middle (something
 * valid follows, so dropping the rest would lose data silently).
 */
import { crc32 } from './crc32.ts';

/** Bytes in a record header. */
export const RECORD_HEADER_BYTES = 12;
/** Mixed into the header checksum so that zero-filled or foreign bytes never look like a header. */
const HEADER_SALT = 0x464c4f54; // "FLOT"

/** Writes a record header for `payload` into `out[at, at + 12)`. */
export function writeRecordHeader(out: Uint8Array, at: number, payloadStart: number, payloadEnd: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(at, payloadEnd - payloadStart, true);
  view.setUint32(at + 4, crc32(out, 0, payloadStart, payloadEnd), true);
  view.setUint32(at + 8, (crc32(out, 0, at, at + 8) ^ HEADER_SALT) >>> 0, true);
}

/** The result of reading one record at an offset. */
export type RecordRead =
  | { ok: true; payloadStart: number; payloadEnd: number }
  | { ok: false; reason: 'short header' | 'bad header checksum' | 'length past end' | 'bad payload checksum' };

/** Reads and verifies the record at `offset` of `buf` (which holds the file's bytes). */
export function readRecord(buf: Uint8Array, offset: number): RecordRead {
  if (buf.length - offset < RECORD_HEADER_BYTES) return { ok: false, reason: 'short header' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerCrc = view.getUint32(offset + 8, true);
  if (((crc32(buf, 0, offset, offset + 8) ^ HEADER_SALT) >>> 0) !== headerCrc) return { ok: false, reason: 'bad header checksum' };
  const length = view.getUint32(offset, true);
  const payloadStart = offset + RECORD_HEADER_BYTES;
  const payloadEnd = payloadStart + length;
  if (payloadEnd > buf.length) return { ok: false, reason: 'length past end' };
  if (crc32(buf, 0, payloadStart, payloadEnd) !== view.getUint32(offset + 4, true)) return { ok: false, reason: 'bad payload checksum' };
  return { ok: true, payloadStart, payloadEnd };
}

/**
 * The offset of the first fully valid record that starts after `offset`, or -1. Used only on a
 * damaged file; the header checksum makes each candidate position cost a few nanoseconds.
 */
export function findValidRecordAfter(buf: Uint8Array, offset: number): number {
  for (let at = offset + 1; at + RECORD_HEADER_BYTES <= buf.length; at++) {
    if (readRecord(buf, at).ok) return at;
  }
  return -1;
}

/**
 * Walks the records of a file from `offset` on and calls `onRecord` for each valid one. Returns
 * where the valid prefix ends and, when it ends before the file does, why and whether a valid
 * record follows the damage (`damageInMiddle`).
 */
export function scanRecords(
  buf: Uint8Array,
  offset: number,
  onRecord: (payloadStart: number, payloadEnd: number, recordOffset: number) => void,
): { validEnd: number; damage?: { reason: string; damageInMiddle: boolean } } {
  let at = offset;
  while (at < buf.length) {
    const r = readRecord(buf, at);
    if (!r.ok) return { validEnd: at, damage: { reason: r.reason, damageInMiddle: findValidRecordAfter(buf, at) >= 0 } };
    onRecord(r.payloadStart, r.payloadEnd, at);
    at = r.payloadEnd;
  }
  return { validEnd: at };
}
