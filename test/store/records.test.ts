import { describe, expect, it } from 'vitest';
import { packValue, unpackValue } from '../../src/codec/msgpack.ts';
import type { ConfState } from '../../src/raft/types.ts';
import { type ApplyState, decodeApplyState, encodeApplyState } from '../../src/store/records.ts';
import { createSeededRand } from '../../src/util/rand.ts';

const conf = (voters: number[], learners: number[] = [], votersOutgoing: number[] = [], learnersNext: number[] = [], autoLeave = false): ConfState => ({ voters, learners, votersOutgoing, learnersNext, autoLeave });

describe('apply state encoding', () => {
  it('writes what the generic MessagePack encoder writes, for integers of every width (seeded)', () => {
    const rand = createSeededRand(9);
    const widths = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER];
    const pick = () => (rand.int(3) === 0 ? widths[rand.int(widths.length)] : rand.int(2 ** 31));
    for (let n = 0; n < 300; n++) {
      const ids = () => Array.from({ length: rand.int(6) }, () => 1 + rand.int(1_000_000));
      const applied = pick();
      const a: ApplyState = {
        applied,
        truncatedIndex: Math.min(applied, pick()),
        truncatedTerm: pick(),
        truncatedConfState: conf(ids(), ids(), ids(), ids(), rand.int(2) === 0),
        appliedConfState: conf(ids(), ids()),
        nowMs: pick(),
      };
      const bytes = encodeApplyState(a);
      expect(unpackValue(bytes)).toEqual(unpackValue(packValue(a)));
      expect(decodeApplyState(bytes)).toEqual(a);
      // Below 2^32 every integer takes msgpackr's own form: the bytes are the same.
      if ([a.applied, a.truncatedTerm, a.nowMs].every((x) => x <= 0xffffffff)) expect(Array.from(bytes)).toEqual(Array.from(packValue(a)));
    }
  });

  it('leaves long id lists and numbers that are not safe unsigned integers to the generic encoder', () => {
    const many = Array.from({ length: 20 }, (_, i) => i + 1);
    const a: ApplyState = { applied: 5, truncatedIndex: 5, truncatedTerm: 1, truncatedConfState: conf(many), appliedConfState: conf([1]), nowMs: 7 };
    expect(decodeApplyState(encodeApplyState(a))).toEqual(a);
    for (const odd of [{ applied: -1 }, { nowMs: 1.5 }, { truncatedTerm: 2 ** 60 }, { appliedConfState: conf([0.5]) }]) {
      const b = { ...a, truncatedConfState: conf([1]), ...odd };
      expect(unpackValue(encodeApplyState(b))).toEqual(unpackValue(packValue(b)));
    }
  });
});
