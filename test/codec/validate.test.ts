import { describe, expect, it } from 'vitest';
import { FrameError } from '../../src/codec/errors.ts';
import { decodeFrame, decodeFrameWithSchema, encodeFrame, encodeFrameMsgpack } from '../../src/codec/frame.ts';
import type { Frame } from '../../src/codec/schema.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { randomFrame } from './gen.ts';
import { BINARY_HOSTILE_KINDS, hostileBinaryFrame, mutatedBinaryFrame } from './binary-hostile.ts';
import { hostileFrame, mutatedFrame } from './hostile.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const header = { clusterId: 'fuzz', from: 3, to: 4 };
const expectLink = { clusterId: 'fuzz', from: 3, to: 4 };

function verdict(decode: (b: Uint8Array) => Frame, bytes: Uint8Array): { code: string; frame?: Frame } {
  try {
    return { code: 'accepted', frame: decode(bytes) };
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
    return { code: err.code };
  }
}

/** Normalises Buffers to plain Uint8Arrays so equality ignores the subclass. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

describe(`hot-path validator against the zod schema (seed ${SEED})`, () => {
  it('gives the same verdict and the same frame on 30,000 valid, wrong-typed and mutated frames of each format', () => {
    const rand = createSeededRand(SEED + 7);
    const counts = { accepted: 0, refused: 0 };
    const frames = [
      () => encodeFrameMsgpack(randomFrame(rand, header)),
      () => hostileFrame(rand, 'wrongType', header, 1 << 20),
      () => mutatedFrame(rand, header),
      () => encodeFrame(randomFrame(rand, header)),
      () => hostileBinaryFrame(rand, BINARY_HOSTILE_KINDS[rand.int(BINARY_HOSTILE_KINDS.length)], header),
      () => mutatedBinaryFrame(rand, header),
    ];
    for (let i = 0; i < 60_000; i++) {
      const bytes = frames[i % frames.length]();
      const fast = verdict((b) => decodeFrame(b, expectLink), bytes);
      const zod = verdict((b) => decodeFrameWithSchema(b, expectLink), bytes);
      if (fast.code !== zod.code) throw new Error(`case ${i}: validator says ${fast.code}, schema says ${zod.code}: ${Buffer.from(bytes).toString('hex').slice(0, 300)}`);
      if (fast.frame) expect(plain(fast.frame)).toEqual(plain(zod.frame));
      counts[fast.code === 'accepted' ? 'accepted' : 'refused']++;
    }
    console.log('validator vs schema', counts);
    expect(counts.accepted).toBeGreaterThan(20_000);
    expect(counts.refused).toBeGreaterThan(20_000);
  });
});
