/**
 * UTF-8 and hex conversions for the pure core, which has no TextEncoder (no ambient types).
 * Small strings only: cluster ids, secrets and handshake fields.
 */

/**
 * Encodes a string as UTF-8. Lone surrogates become U+FFFD, as TextEncoder does.
 * @param text - any string.
 */
export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  const n = text.length;
  // ASCII (keys, client ids, most values) is one byte per code unit: no sizing pass, no number[].
  const ascii = new Uint8Array(n);
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) break;
    ascii[i] = c;
  }
  if (i === n) return ascii;
  const out = new Uint8Array(i + utf8Length(text, i));
  out.set(ascii.subarray(0, i));
  let at = i;
  for (; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out[at++] = c;
    else if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 63);
      out[at++] = 0x80 | (c & 63);
    } else {
      out[at++] = 0xf0 | (c >> 18);
      out[at++] = 0x80 | ((c >> 12) & 63);
      out[at++] = 0x80 | ((c >> 6) & 63);
      out[at++] = 0x80 | (c & 63);
    }
  }
  return out;
}

/** UTF-8 bytes of `text` from code unit `from` on (a surrogate pair is 4, a lone surrogate 3, as U+FFFD). */
function utf8Length(text: string, from: number): number {
  let bytes = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Lower-case hex of `bytes`.
 * @param bytes - any bytes.
 */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

/**
 * Parses lower- or upper-case hex; returns undefined for anything else (odd length, other characters).
 * @param hex - the text.
 */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Chunk of {@link encodeUtf8Shared}: its views keep a whole chunk alive, so chunks stay small. */
const SHARED_CHUNK = 64 * 1024;
/** Strings up to this many code units are encoded into the shared chunk; longer ones get their own buffer. */
const SHARED_MAX = 1024;
let sharedChunk = new Uint8Array(SHARED_CHUNK);
let sharedAt = 0;

/**
 * {@link encodeUtf8} for short-lived bytes: an ASCII string of 65 to 1024 characters comes back as
 * a view into a shared chunk (carved one after another, never reused), which spares an
 * allocation of its own outside V8's heap per string. The view must never be transferred
 * (`postMessage`) or written to; keeping it keeps its 64 KiB chunk alive. Other strings go to
 * {@link encodeUtf8}.
 * @param text - the string to encode.
 */
export function encodeUtf8Shared(text: string): Uint8Array {
  const n = text.length;
  if (n <= 64 || n > SHARED_MAX) return encodeUtf8(text);
  if (sharedAt + n > SHARED_CHUNK) {
    sharedChunk = new Uint8Array(SHARED_CHUNK);
    sharedAt = 0;
  }
  const chunk = sharedChunk;
  const start = sharedAt;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return encodeUtf8(text); // the bytes written so far stay unclaimed
    chunk[start + i] = c;
  }
  sharedAt = start + n;
  return chunk.subarray(start, start + n);
}
