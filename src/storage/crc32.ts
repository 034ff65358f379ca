/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of every record the fs
 * engine writes. Pure TypeScript with slicing-by-8 tables, so no native dependency is needed.
 */

const TABLES: Uint32Array = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[s * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/**
 * Computes the CRC-32 of `bytes[start, end)`, continuing from `crc` (the result of an earlier
 * call over the preceding bytes, or 0 to start).
 * @param bytes - the data
 * @param crc - running checksum, 0 for a fresh one
 * @param start - first byte (default 0)
 * @param end - one past the last byte (default `bytes.length`)
 */
export function crc32(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  const t = TABLES;
  let c = ~crc >>> 0;
  let i = start;
  // Eight bytes per step: the tables fold the eight single-byte steps into one lookup each.
  while (end - i >= 8) {
    const lo = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + bytes[i + 4]] ^
      t[512 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^
      t[bytes[i + 7]];
    i += 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
