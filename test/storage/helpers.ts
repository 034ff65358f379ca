/**
 * Small helpers of the storage tests that run in Node and in the browser alike: byte strings,
 * a seeded PRNG (mulberry32) whose seed is printed, and a bytewise reference comparator.
 */
import type { Rand } from '../../src/ports.ts';

/** Bytes from numbers. */
export function b(...bytes: number[]): Uint8Array {
  return new Uint8Array(bytes);
}

/** Bytes of an ASCII string. */
export function s(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** A fast seeded {@link Rand} (mulberry32); the same seed gives the same sequence everywhere. */
export function seededRand(seed: number): Rand {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n) };
}

/** A seed from `STORAGE_SEED` or the clock, printed so that a failing run can be replayed. */
export function testSeed(label: string): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.STORAGE_SEED;
  const seed = env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[${label}] seed=${seed} (replay with STORAGE_SEED=${seed})`);
  return seed;
}

/** Random bytes of length `n`. */
export function randomBytes(rand: Rand, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rand.int(256);
  return out;
}

/** Hex of bytes, for readable assertions. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');
}
