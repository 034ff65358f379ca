import { describe, expect, it } from 'vitest';
import { FrameError } from '../../src/codec/errors.ts';
import { decodeFrame, encodeFrame } from '../../src/codec/frame.ts';
import { resolveFrameLimits } from '../../src/codec/limits.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { mutatedBinaryFrame } from './binary-hostile.ts';
import { HOSTILE_KINDS, hostileFrame, mutatedFrame } from './hostile.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const header = { clusterId: 'fuzz', from: 3, to: 4 };
const expectLink = { clusterId: 'fuzz', from: 3, to: 4 };
const limits = resolveFrameLimits({ frameBytesMax: 64 * 1024 });

describe(`decoder fuzz (seed ${SEED}; FUZZ_SEED=... to replay)`, () => {
  it(`refuses ${(12_000 * HOSTILE_KINDS.length).toLocaleString('en')} hostile MessagePack and binary frames with a FrameError, and nothing else escapes`, () => {
    console.log(`decoder fuzz seed ${SEED}`);
    const rand = createSeededRand(SEED);
    const perKind = 12_000;
    const refused = new Map<string, number>();
    const heapBefore = process.memoryUsage().heapUsed;
    for (const kind of HOSTILE_KINDS) {
      for (let i = 0; i < perKind; i++) {
        const bytes = hostileFrame(rand, kind, header, limits.frameBytesMax);
        try {
          decodeFrame(bytes, expectLink, limits);
          throw new Error(`accepted a ${kind} frame (case ${i}): ${Buffer.from(bytes).toString('hex').slice(0, 200)}`);
        } catch (err) {
          if (!(err instanceof FrameError)) throw err;
          refused.set(`${kind}:${err.code}`, (refused.get(`${kind}:${err.code}`) ?? 0) + 1);
        }
      }
    }
    const total = [...refused.values()].reduce((a, b) => a + b, 0);
    console.log('refused by kind and code', Object.fromEntries(refused));
    expect(total).toBe(perKind * HOSTILE_KINDS.length);
    // Each binary category is refused for the reason it was built to show.
    for (const kind of ['binTruncated', 'binHugeLength', 'binLongVarint', 'binBadTag', 'binTrailing']) expect(refused.get(`${kind}:FrameMalformed`)).toBe(perKind);
    expect(refused.get('binBadValue:FrameInvalid')).toBe(perKind);
    // Bounded memory: the run keeps nothing, so the heap must not have grown by more than a few frames' worth.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 1024 * 1024);
  });

  it.each([
    ['MessagePack', mutatedFrame],
    ['binary', mutatedBinaryFrame],
  ])('decodes 30,000 randomly mutated %s frames to a FrameError or to a frame that round-trips', (_format, mutate) => {
    const rand = createSeededRand(SEED + 1);
    let refused = 0;
    let accepted = 0;
    for (let i = 0; i < 30_000; i++) {
      const bytes = mutate(rand, header);
      let frame: ReturnType<typeof decodeFrame>;
      try {
        frame = decodeFrame(bytes, expectLink, limits);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        refused++;
        continue;
      }
      accepted++;
      // Whatever got through is valid by the schema, so re-encoding it must decode to the same.
      const again = decodeFrame(encodeFrame(frame, limits), expectLink, limits);
      expect(again.items.length).toBe(frame.items.length);
    }
    console.log(`mutated ${_format} frames: ${refused} refused, ${accepted} still valid`);
    expect(refused + accepted).toBe(30_000);
    expect(refused).toBeGreaterThan(10_000);
  });
});
