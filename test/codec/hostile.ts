/**
 * Generators of hostile frames for the fuzz tests: each category below is invalid by
 * construction, so a decoder that accepts one has a bug. Shared by the decoder fuzz test and the
 * live-server fuzz test.
 */
import { Packr } from 'msgpackr';
import { encodeFrameMsgpack } from '../../src/codec/frame.ts';
import type { Rand } from '../../src/ports.ts';
import { BINARY_HOSTILE_KINDS, type BinaryHostileKind, hostileBinaryFrame } from './binary-hostile.ts';
import { randomBytes, randomFrame } from './gen.ts';

const raw = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

/** The hostile MessagePack categories, each invalid by construction. */
export const MSGPACK_HOSTILE_KINDS = ['truncated', 'random', 'hugeLength', 'deepNesting', 'wrongType', 'oversized', 'extension'] as const;
/** Every hostile category: the MessagePack ones, then the binary layout's (`binary-hostile.ts`). */
export const HOSTILE_KINDS = [...MSGPACK_HOSTILE_KINDS, ...BINARY_HOSTILE_KINDS] as const;
/** One of {@link HOSTILE_KINDS}. */
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/** A valid MessagePack frame from `from` to `to` in cluster `clusterId`. */
export function validFrameBytes(rand: Rand, header: { clusterId: string; from: number; to: number }): Uint8Array {
  return encodeFrameMsgpack(randomFrame(rand, header, 4));
}

const MARKER = '\u0001huge-length-marker\u0001';
const MARKER_BYTES: Uint8Array = raw.pack(MARKER);

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('marker not found');
}

/**
 * `valid` with one random leaf value replaced by the raw bytes `bytes`; everything after it stays,
 * so the frame is well-formed up to that value and only that value lies.
 */
function withLeafReplaced(rand: Rand, valid: Uint8Array, bytes: number[]): Uint8Array {
  const value = raw.unpack(valid) as Record<string, unknown>;
  const all: Leaf[] = [];
  leaves(value, all);
  const leaf = all[rand.int(all.length)];
  (leaf.parent as Record<string | number, unknown>)[leaf.key] = MARKER;
  const packed = raw.pack(value);
  const at = indexOf(packed, MARKER_BYTES);
  const rest = packed.subarray(at + MARKER_BYTES.length);
  const out = new Uint8Array(at + bytes.length + rest.length);
  out.set(packed.subarray(0, at));
  out.set(bytes, at);
  out.set(rest, at + bytes.length);
  return out;
}

type Leaf = { parent: unknown[] | Record<string, unknown>; key: number | string; value: unknown };

function leaves(value: unknown, out: Leaf[]): void {
  const visit = (parent: unknown[] | Record<string, unknown>, key: number | string, v: unknown) => {
    if (Array.isArray(v) || (v !== null && typeof v === 'object' && !(v instanceof Uint8Array))) leaves(v, out);
    else out.push({ parent, key, value: v });
  };
  if (Array.isArray(value)) for (let i = 0; i < value.length; i++) visit(value, i, value[i]);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(value as Record<string, unknown>, k, v);
}

/** A value of the wrong type (or range) for a leaf that held `value`. Every field of the schema refuses it. */
function wrongFor(rand: Rand, value: unknown): unknown {
  if (typeof value === 'number') return [-1 - rand.int(1000), 0.5 + rand.int(10), 'x', 2 ** 60, true, []][rand.int(6)];
  if (typeof value === 'string') return [rand.int(10), null, new Uint8Array(1)][rand.int(3)];
  if (typeof value === 'boolean') return [1, 'true', null][rand.int(3)];
  if (value instanceof Uint8Array) return [rand.int(10), 'bytes', [1, 2]][rand.int(3)];
  return [1, 'snap', true][rand.int(3)]; // null snapshot
}

/**
 * A hostile frame of the given kind, derived from a valid one between `header`'s stores.
 * @param limitBytes - the receiver's frame size limit (for `oversized`).
 */
export function hostileFrame(rand: Rand, kind: HostileKind, header: { clusterId: string; from: number; to: number }, limitBytes: number): Uint8Array {
  const valid = validFrameBytes(rand, header);
  switch (kind) {
    case 'truncated':
      return valid.slice(0, rand.int(valid.length));
    case 'random':
      return randomBytes(rand, 1 + rand.int(64));
    case 'hugeLength':
      // A container or string header that declares far more than the whole frame holds.
      return withLeafReplaced(rand, valid, [
        [0xdd, 0xff, 0xff, 0xff, 0xff],
        [0xdf, 0x7f, 0xff, 0xff, 0xff],
        [0xdb, 0xff, 0xff, 0xff, 0xf0],
        [0xc6, 0x80, 0x00, 0x00, 0x00],
        [0xdc, 0xff, 0xff],
      ][rand.int(5)]);
    case 'deepNesting': {
      // Arrays `[[[...]]]` or maps `{k:{k:{...}}}` nested past the limit, closed by a nil.
      const depth = 9 + rand.int(5000);
      const unit = rand.int(2) === 0 ? [0x91] : [0x81, 0xa1, 0x6b];
      const out = new Uint8Array(depth * unit.length + 1);
      for (let i = 0; i < depth; i++) out.set(unit, i * unit.length);
      out[out.length - 1] = 0xc0;
      return out;
    }
    case 'wrongType': {
      const value = raw.unpack(valid) as Record<string, unknown>;
      const all: Leaf[] = [];
      leaves(value, all);
      const leaf = all[rand.int(all.length)];
      (leaf.parent as Record<string | number, unknown>)[leaf.key] = wrongFor(rand, leaf.value);
      return raw.pack(value);
    }
    case 'oversized': {
      const out = new Uint8Array(limitBytes + 1 + rand.int(1024));
      out.set(valid.subarray(0, Math.min(valid.length, out.length)));
      return out;
    }
    case 'extension': {
      // An extension value (which we never send) where a field belongs, or the unused byte 0xc1.
      const ext = [0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc1][rand.int(7)];
      const body = ext === 0xc1 ? [] : ext === 0xc7 ? [2, rand.int(128), 1, 2] : [rand.int(128), ...randomBytes(rand, [1, 2, 4, 8, 16][ext - 0xd4])];
      return withLeafReplaced(rand, valid, [ext, ...body]);
    }
    default:
      return hostileBinaryFrame(rand, kind as BinaryHostileKind, header);
  }
}

/** A valid MessagePack frame with 1..4 random bytes overwritten: may or may not still be valid. */
export function mutatedFrame(rand: Rand, header: { clusterId: string; from: number; to: number }): Uint8Array {
  const out = validFrameBytes(rand, header).slice();
  const n = 1 + rand.int(4);
  for (let i = 0; i < n; i++) out[rand.int(out.length)] = rand.int(256);
  return out;
}
