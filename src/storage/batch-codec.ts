/**
 * Encodes write batches into framed records (see `record.ts`) and back. Pure, so the fs engine's
 * format is testable in any runtime.
 *
 * Payload: `u8 kind | u32 opCount | ops…`, each op `u8 type | u32 len | bytes [| u32 len | bytes]`
 * (put: key, value; delete: key; deleteRange: start, end), integers little-endian.
 */
import type { WriteOp } from '../ports.ts';
import { RECORD_HEADER_BYTES, writeRecordHeader } from './record.ts';

/** What a record holds: a write batch (logs and checkpoint chunks) or the end mark of a checkpoint. */
export const RecordKind = Object.freeze({ batch: 1, checkpointEnd: 2 } as const);

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DELETE_RANGE = 3;

/** Bytes a batch takes in its record, header included. */
export function encodedBatchBytes(batch: readonly WriteOp[]): number {
  let n = RECORD_HEADER_BYTES + 5;
  for (const op of batch) {
    if (op.type === 'put') n += 9 + op.key.length + op.value.length;
    else if (op.type === 'delete') n += 5 + op.key.length;
    else n += 9 + op.start.length + op.end.length;
  }
  return n;
}

/** Encodes a (validated) batch as one framed record ready to append to a log. */
export function encodeBatchRecord(batch: readonly WriteOp[]): Uint8Array {
  const out = new Uint8Array(encodedBatchBytes(batch));
  const view = new DataView(out.buffer);
  let at = RECORD_HEADER_BYTES;
  out[at] = RecordKind.batch;
  view.setUint32(at + 1, batch.length, true);
  at += 5;
  const bytes = (b: Uint8Array): void => {
    view.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at += 4 + b.length;
  };
  for (const op of batch) {
    if (op.type === 'put') {
      out[at++] = OP_PUT;
      bytes(op.key);
      bytes(op.value);
    } else if (op.type === 'delete') {
      out[at++] = OP_DELETE;
      bytes(op.key);
    } else {
      out[at++] = OP_DELETE_RANGE;
      bytes(op.start);
      bytes(op.end);
    }
  }
  writeRecordHeader(out, 0, RECORD_HEADER_BYTES, out.length);
  return out;
}

/** Encodes the end mark of a checkpoint: it carries the number of keys the checkpoint holds. */
export function encodeCheckpointEndRecord(keyCount: number): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + 9);
  out[RECORD_HEADER_BYTES] = RecordKind.checkpointEnd;
  new DataView(out.buffer).setFloat64(RECORD_HEADER_BYTES + 1, keyCount, true);
  writeRecordHeader(out, 0, RECORD_HEADER_BYTES, out.length);
  return out;
}

/** A decoded payload. Keys and values are fresh copies unless asked for views into the buffer. */
export type DecodedRecord = { kind: 'batch'; ops: WriteOp[] } | { kind: 'checkpointEnd'; keyCount: number };

/**
 * Decodes a payload whose checksum already matched. Throws a plain `Error` describing the
 * problem when the payload is malformed anyway (a bug or a checksum collision); callers turn it
 * into a `CorruptionError` that names the file and offset.
 * @param copy - true (default): keys and values are copies; false: views into `buf`, which then
 *   stays alive as long as any of them does (right for a checkpoint, whose bytes are all live)
 */
export function decodeRecordPayload(buf: Uint8Array, start: number, end: number, copy = true): DecodedRecord {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = start;
  const need = (n: number): void => {
    if (at + n > end) throw new Error(`payload ends early at ${at - start} of ${end - start} bytes`);
  };
  need(1);
  const kind = buf[at++];
  if (kind === RecordKind.checkpointEnd) {
    need(8);
    return { kind: 'checkpointEnd', keyCount: view.getFloat64(at, true) };
  }
  if (kind !== RecordKind.batch) throw new Error(`unknown record kind ${kind}`);
  need(4);
  const count = view.getUint32(at, true);
  at += 4;
  const bytes = (): Uint8Array => {
    need(4);
    const n = view.getUint32(at, true);
    need(4 + n);
    const b = copy ? buf.slice(at + 4, at + 4 + n) : buf.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return b;
  };
  const ops: WriteOp[] = [];
  for (let i = 0; i < count; i++) {
    need(1);
    const type = buf[at++];
    if (type === OP_PUT) ops.push({ type: 'put', key: bytes(), value: bytes() });
    else if (type === OP_DELETE) ops.push({ type: 'delete', key: bytes() });
    else if (type === OP_DELETE_RANGE) ops.push({ type: 'deleteRange', start: bytes(), end: bytes() });
    else throw new Error(`unknown op type ${type} in op ${i}`);
  }
  if (at !== end) throw new Error(`${end - at} trailing bytes after ${count} ops`);
  return { kind: 'batch', ops };
}
