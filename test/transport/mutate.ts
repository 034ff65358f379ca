/**
 * Seeded mutations for the parser fuzzers: bit flips, truncation, random insertions, length-field
 * lies (a MessagePack array/map/str/bin header claiming up to 2^32-1 elements), deep nesting,
 * wrong types and plain random bytes. Text mutations do the same at the JSON level.
 */
import type { Rand } from '../../src/ports.ts';
import { randomBytes } from '../codec/gen.ts';

/** The mutation kinds, in the order {@link mutateBytes} picks them. */
export const BYTE_MUTATIONS = ['bitFlip', 'truncate', 'insert', 'lengthLie', 'hugeCount', 'deepNesting', 'wrongType', 'random'] as const;

// MessagePack headers that announce a length: array16/32, map16/32, str8/16/32, bin8/16/32.
const LENGTH_HEADERS = [0xdc, 0xdd, 0xde, 0xdf, 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6];
// One value of each MessagePack type, to put where another was expected.
const WRONG_VALUES = [[0xc0], [0xc2], [0xc3], [0x7f], [0xff], [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], [0xa1, 0x41], [0xc4, 0x01, 0x00], [0x90], [0x80], [0xd4, 0x01, 0x00]];

function lengthHeader(rand: Rand): number[] {
  const h = LENGTH_HEADERS[rand.int(LENGTH_HEADERS.length)];
  const big = [0xffffffff, 0x7fffffff, 0x10000000, 1 + rand.int(1 << 20)][rand.int(4)];
  if (h === 0xd9 || h === 0xc4) return [h, big & 0xff];
  if (h === 0xdc || h === 0xde || h === 0xda || h === 0xc5) return [h, (big >> 8) & 0xff, big & 0xff];
  return [h, (big >>> 24) & 0xff, (big >> 16) & 0xff, (big >> 8) & 0xff, big & 0xff];
}

function splice(bytes: Uint8Array, at: number, removed: number, inserted: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length - removed + inserted.length);
  out.set(bytes.subarray(0, at));
  out.set(inserted, at);
  out.set(bytes.subarray(at + removed), at + inserted.length);
  return out;
}

/**
 * A mutation of `valid` (which it leaves alone).
 * @param rand - the seeded source.
 * @param valid - a valid encoding.
 * @param kind - the mutation (default: a random one).
 */
export function mutateBytes(rand: Rand, valid: Uint8Array, kind = BYTE_MUTATIONS[rand.int(BYTE_MUTATIONS.length)]): Uint8Array {
  const at = rand.int(valid.length + 1);
  switch (kind) {
    case 'bitFlip': {
      // A copy (a Buffer's slice would be a view, and the mutation would corrupt `valid`).
      const out = Uint8Array.from(valid);
      for (let n = 1 + rand.int(8); n > 0 && out.length > 0; n--) out[rand.int(out.length)] ^= 1 << rand.int(8);
      return out;
    }
    case 'truncate':
      return Uint8Array.from(valid.subarray(0, rand.int(valid.length)));
    case 'insert':
      return splice(valid, at, 0, randomBytes(rand, 1 + rand.int(16)));
    case 'lengthLie':
      // Replace a value's header with one announcing a huge length; the rest stays.
      return splice(valid, Math.min(at, Math.max(0, valid.length - 1)), 1, lengthHeader(rand));
    case 'hugeCount':
      return splice(valid, at, 0, lengthHeader(rand));
    case 'deepNesting': {
      const depth = [10, 100, 1000, 100_000][rand.int(4)];
      return splice(valid, at, 0, new Uint8Array(depth).fill(0x91));
    }
    case 'wrongType':
      return splice(valid, Math.min(at, Math.max(0, valid.length - 1)), 1, WRONG_VALUES[rand.int(WRONG_VALUES.length)]);
    default:
      return randomBytes(rand, rand.int(64));
  }
}

/** The text mutation kinds of {@link mutateText}. */
export const TEXT_MUTATIONS = ['charFlip', 'truncate', 'wrongType', 'deepNesting', 'hugeNumber', 'extraField', 'random'] as const;

const WRONG_JSON = ['null', 'true', '0', '-1', '1e309', '""', '[]', '{}', '"x"', '12345678901234567890', '{"__proto__":{"x":1}}'];

/**
 * A mutation of the JSON object text `valid`.
 * @param rand - the seeded source.
 * @param valid - a JSON object's text.
 */
export function mutateText(rand: Rand, valid: string): string {
  const kind = TEXT_MUTATIONS[rand.int(TEXT_MUTATIONS.length)];
  const obj = JSON.parse(valid) as Record<string, unknown>;
  const keys = Object.keys(obj);
  const key = keys[rand.int(keys.length)];
  switch (kind) {
    case 'charFlip': {
      const chars = [...valid];
      for (let n = 1 + rand.int(4); n > 0; n--) chars[rand.int(chars.length)] = String.fromCharCode(rand.int(128));
      return chars.join('');
    }
    case 'truncate':
      return valid.slice(0, rand.int(valid.length));
    case 'wrongType':
      return valid.replace(`"${key}":${JSON.stringify(obj[key])}`, `"${key}":${WRONG_JSON[rand.int(WRONG_JSON.length)]}`);
    case 'deepNesting': {
      const d = [10, 500, 5000][rand.int(3)];
      return valid.replace(`"${key}":${JSON.stringify(obj[key])}`, `"${key}":${'['.repeat(d)}${']'.repeat(d)}`);
    }
    case 'hugeNumber':
      return valid.replace(`"${key}":${JSON.stringify(obj[key])}`, `"${key}":${['1e308', '9007199254740993', '-0', '0.5', '1'.repeat(400)][rand.int(5)]}`);
    case 'extraField':
      return `${valid.slice(0, -1)},"x${rand.int(10)}":${'"y"'.repeat(1)}}`;
    default: {
      let s = '';
      for (let i = rand.int(200); i > 0; i--) s += String.fromCharCode(rand.int(0x10000));
      return s;
    }
  }
}
