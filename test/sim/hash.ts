/**
 * FNV-1a (32-bit) over strings and bytes: a tiny, deterministic hash with the same result in
 * every runtime, used for trace hashes and for the hash chains of the log-matching check.
 */

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Folds the UTF-16 code units of `s` into `h`. Our strings are ASCII, so this is byte-wise FNV-1a. */
export function fnvStr(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** Folds `b` into `h`. */
export function fnvBytes(h: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** An 8-digit hex form of a hash, for summaries. */
export function hex32(h: number): string {
  return (h >>> 0).toString(16).padStart(8, '0');
}
