/**
 * A structural pre-scan of MessagePack bytes, run before msgpackr touches them.
 *
 * msgpackr trusts declared lengths and recurses on nesting; a hostile frame could declare a
 * billion-element array in five bytes, nest ten thousand arrays, or carry msgpackr's own
 * extensions (records, structured clone) that make it build shapes we never send. The scan walks
 * the bytes iteratively, allocating nothing per value, and refuses any of that up front, so the
 * decoder only ever sees a value whose size is bounded by the frame itself.
 */

/** Limits of {@link scanMsgpack}. */
export interface ScanLimits {
  /** Deepest nesting of arrays and maps (the top-level value is depth 1). */
  depthMax: number;
  /** Most values (scalars, containers and map keys) in the whole frame. */
  valuesMax: number;
}

function lengthAt(b: Uint8Array, pos: number, size: number): number {
  if (size === 1) return b[pos];
  if (size === 2) return (b[pos] << 8) | b[pos + 1];
  return ((b[pos] << 24) >>> 0) + ((b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3]);
}

// Bytes after the type byte for the fixed-size formats 0xc0..0xd3, indexed by `t - 0xc0`; -1 for
// the rest: 0xc1 is never used by the format, 0xc4..0xc6 (bin) are length-prefixed, 0xc7..0xc9 are
// extensions, which we never send (nor 0xd4..0xd8, past the end of the table).
const FIXED_PAYLOAD = Int8Array.from([0, -1, 0, 0, -1, -1, -1, -1, -1, -1, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8]);

/**
 * Checks that `b` holds exactly one MessagePack value within `limits`, with string map keys and
 * no extension types. Returns `null` when it does, or a short reason when it does not.
 * @param b - the frame bytes.
 * @param limits - nesting and value-count limits.
 */
export function scanMsgpack(b: Uint8Array, limits: ScanLimits): string | null {
  const n = b.length;
  // remaining[d]: values still to read in the container open at depth d (maps count keys too).
  const remaining: number[] = [1];
  const isMap: boolean[] = [false];
  let pos = 0;
  let values = 0;
  while (remaining.length > 0) {
    const top = remaining.length - 1;
    if (remaining[top] === 0) {
      remaining.pop();
      isMap.pop();
      continue;
    }
    const isKey = isMap[top] && remaining[top] % 2 === 0;
    remaining[top]--;
    if (pos >= n) return 'truncated';
    if (++values > limits.valuesMax) return `more than ${limits.valuesMax} values`;
    const t = b[pos++];
    let skip = 0;
    let items = -1;
    let isString = false;
    if (t <= 0x7f || t >= 0xe0) {
      // fixint
    } else if (t <= 0x8f) {
      items = (t & 0x0f) * 2;
    } else if (t <= 0x9f) {
      items = t & 0x0f;
    } else if (t <= 0xbf) {
      skip = t & 0x1f;
      isString = true;
    } else if (t - 0xc0 < FIXED_PAYLOAD.length && FIXED_PAYLOAD[t - 0xc0] >= 0) {
      skip = FIXED_PAYLOAD[t - 0xc0];
    } else {
      // Length-prefixed: str8/16/32, bin8/16/32, array16/32, map16/32.
      const size = t === 0xd9 || t === 0xc4 ? 1 : t === 0xda || t === 0xc5 || t === 0xdc || t === 0xde ? 2 : 4;
      const known = t === 0xd9 || t === 0xda || t === 0xdb || t === 0xc4 || t === 0xc5 || t === 0xc6 || t >= 0xdc;
      if (!known) return `unsupported type byte 0x${t.toString(16)}`;
      if (size > n - pos) return 'truncated length';
      const len = lengthAt(b, pos, size);
      pos += size;
      if (t >= 0xdc) items = t >= 0xde ? len * 2 : len;
      else {
        skip = len;
        isString = t >= 0xd9;
      }
    }
    if (isKey && !isString) return 'map key is not a string';
    if (skip > n - pos) return 'declared length runs past the end';
    pos += skip;
    if (items > 0) {
      // Every value takes at least one byte, so a count over the bytes left is a lie.
      if (items > n - pos) return 'declared count runs past the end';
      if (remaining.length > limits.depthMax) return `nested deeper than ${limits.depthMax}`;
      remaining.push(items);
      isMap.push(t <= 0x8f || t >= 0xde);
    } else if (items === 0 && remaining.length > limits.depthMax) {
      return `nested deeper than ${limits.depthMax}`;
    }
  }
  if (pos !== n) return `${n - pos} trailing bytes`;
  return null;
}
