/**
 * Hostile binary frames (the layout of `src/codec/binary.ts`), each invalid by construction: a
 * walker written from the layout's description finds every field of a valid frame, and one field is
 * then replaced by a lie (a length or count past the end, an over-long or over-large varint, a zero
 * id, a boolean of 2, an unknown tag) or the frame is cut or extended.
 */
import { encodeFrame } from '../../src/codec/frame.ts';
import { WIRE_MESSAGE_TYPES } from '../../src/codec/schema.ts';
import type { Rand } from '../../src/ports.ts';
import { randomBytes, randomFrame } from './gen.ts';

/** What a field of the layout is, as far as lying about it goes. */
export type FieldKind = 'length' | 'count' | 'id' | 'number' | 'bool' | 'code' | 'entryType' | 'presence' | 'itemKind';

/** One field of an encoded frame: where it starts, how many bytes it takes, what it is. */
export interface Field {
  at: number;
  size: number;
  kind: FieldKind;
}

/** Lists the fields of a valid binary frame, in order (the mark byte excluded). */
export function binaryFields(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let p = 1;
  const varint = (kind: FieldKind): number => {
    const at = p;
    let value = 0;
    let scale = 1;
    for (;;) {
      const x = bytes[p++];
      value += (x & 0x7f) * scale;
      scale *= 128;
      if (x < 0x80) break;
    }
    fields.push({ at, size: p - at, kind });
    return value;
  };
  const byte = (kind: FieldKind): number => {
    fields.push({ at: p, size: 1, kind });
    return bytes[p++];
  };
  const data = () => {
    const length = varint('length');
    p += length;
  };
  const list = () => {
    const c = varint('count');
    for (let i = 0; i < c; i++) varint('id');
  };
  const message = () => {
    byte('code');
    varint('id');
    varint('id');
    for (let i = 0; i < 4; i++) varint('number');
    byte('bool');
    varint('number');
    const entries = varint('count');
    for (let i = 0; i < entries; i++) {
      varint('number');
      varint('number');
      byte('entryType');
      data();
    }
    data();
    if (byte('presence') === 1) {
      varint('number');
      varint('number');
      for (let i = 0; i < 4; i++) list();
      byte('bool');
      data();
    }
  };
  varint('number'); // version
  const units = varint('length');
  p += 2 * units;
  varint('id');
  varint('id');
  const items = varint('count');
  for (let i = 0; i < items; i++) {
    const kind = byte('itemKind');
    if (kind === 0) {
      varint('id');
      if (byte('presence') !== 0) {
        data();
        data();
        varint('id');
        varint('id');
      }
      message();
    } else if (kind === 3) {
      varint('number');
      varint('number');
      varint('id');
      data();
    } else {
      varint('number');
      data();
    }
  }
  if (p !== bytes.length) throw new Error(`walker ended at ${p} of ${bytes.length}`);
  return fields;
}

/** The hostile binary categories, each invalid by construction. */
export const BINARY_HOSTILE_KINDS = ['binTruncated', 'binHugeLength', 'binLongVarint', 'binBadValue', 'binBadTag', 'binTrailing'] as const;
/** One of {@link BINARY_HOSTILE_KINDS}. */
export type BinaryHostileKind = (typeof BINARY_HOSTILE_KINDS)[number];

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function replaced(bytes: Uint8Array, field: Field, by: number[]): Uint8Array {
  const out = new Uint8Array(bytes.length - field.size + by.length);
  out.set(bytes.subarray(0, field.at));
  out.set(by, field.at);
  out.set(bytes.subarray(field.at + field.size), field.at + by.length);
  return out;
}

/** A valid binary frame with at least one item, so that every category has fields to lie in. */
function validBinary(rand: Rand, header: { clusterId: string; from: number; to: number }): Uint8Array {
  for (;;) {
    const frame = randomFrame(rand, header, 4);
    if (frame.items.length > 0) return encodeFrame(frame);
  }
}

function pick<T>(rand: Rand, all: readonly T[]): T {
  return all[rand.int(all.length)];
}

/**
 * A hostile binary frame of the given kind, derived from a valid one between `header`'s stores.
 * `binBadValue` frames are `FrameInvalid` (well-formed, against the schema); the others `FrameMalformed`.
 */
export function hostileBinaryFrame(rand: Rand, kind: BinaryHostileKind, header: { clusterId: string; from: number; to: number }): Uint8Array {
  const valid = validBinary(rand, header);
  const fields = binaryFields(valid);
  const of = (...kinds: FieldKind[]) => fields.filter((f) => kinds.includes(f.kind));
  switch (kind) {
    case 'binTruncated':
      return valid.slice(0, 1 + rand.int(valid.length - 1));
    case 'binHugeLength': {
      // A length or count larger than the whole frame (up to 2^53 - 1): it cannot be honoured.
      const field = pick(rand, of('length', 'count'));
      const value = pick(rand, [valid.length + 1 + rand.int(1000), 0xffffffff, 2 ** 40, Number.MAX_SAFE_INTEGER]);
      return replaced(valid, field, varintBytes(value));
    }
    case 'binLongVarint': {
      // Any varint field over 8 bytes long, or over 2^53 - 1 (where terms and indexes could go unsafe).
      const field = pick(rand, of('length', 'count', 'id', 'number'));
      const by = rand.int(2) === 0 ? [...Array.from({ length: 8 + rand.int(8) }, () => 0x80 | rand.int(128)), rand.int(128)] : varintBytes(2 ** 53 + 2 ** (1 + rand.int(2)) * (1 + rand.int(1000)));
      return replaced(valid, field, by);
    }
    case 'binBadValue': {
      // Well-formed, but against the schema: an id of 0, a boolean or entry type above 1, a local or unknown message type.
      const field = pick(rand, of('id', 'bool', 'code', 'entryType'));
      const value = field.kind === 'id' ? 0 : field.kind === 'code' ? WIRE_MESSAGE_TYPES.length + rand.int(256 - WIRE_MESSAGE_TYPES.length) : 2 + rand.int(254);
      return replaced(valid, field, [value]);
    }
    case 'binBadTag': {
      // A tag the layout has no reading for: an item kind above 3, a presence byte above its range.
      const field = pick(rand, of('itemKind', 'presence'));
      const value = field.kind === 'itemKind' ? 4 + rand.int(252) : 3 + rand.int(253);
      return replaced(valid, field, [value]);
    }
    case 'binTrailing': {
      const out = new Uint8Array(valid.length + 1 + rand.int(16));
      out.set(valid);
      out.set(randomBytes(rand, out.length - valid.length), valid.length);
      return out;
    }
  }
}

/** A valid binary frame with 1..4 random bytes overwritten: may or may not still be valid. */
export function mutatedBinaryFrame(rand: Rand, header: { clusterId: string; from: number; to: number }): Uint8Array {
  const out = encodeFrame(randomFrame(rand, header, 4));
  const n = 1 + rand.int(4);
  for (let i = 0; i < n; i++) out[1 + rand.int(out.length - 1)] = rand.int(256);
  return out;
}
