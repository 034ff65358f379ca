/**
 * Targeted scenarios, determinism of the trace, and the checker catching what it must.
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from './core.ts';
import { checkLeaderComplete, checkOneLeader, newGlobalState, recordApplied, recordCommit, shadowFromStorage, shadowReady } from './checker.ts';
import { describeFailure, runRange } from './harness.ts';
import { nodeCore as core } from './node-core.ts';
import { SCENARIO_SEEDS } from './seeds.ts';
import { runSeed } from './simulation.ts';

const enc = new TextEncoder();
const ent = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data: enc.encode(data) });

for (const [kind, what] of [
  ['prevote', 'pre-vote keeps a rejoining replica from disrupting the leader'],
  ['lease', 'lease reads on a leader that is cut off stay linearizable'],
  ['churn', 'leaders that fail soon after election never lose a committed entry'],
  ['figure8', 'an old-term entry replicated to a majority is not committed by counting (Figure 8)'],
] as const) {
  describe(`scenario ${kind}: ${what}`, () => {
    for (let from = 0; from < SCENARIO_SEEDS; from += 100) {
      it(`seeds ${from}..${from + 99}`, () => {
        const s = runRange(core, kind, from, 100);
        console.log(`${kind} scenario seeds ${from}..${from + s.count - 1}: ${s.count - s.failures.length}/${s.count} passed, ${s.steps} steps`);
        expect(s.failures.map((r) => describeFailure(kind, r))).toEqual([]);
      });
    }
  });
}

describe('determinism', () => {
  it('the same seed gives the same trace hash, different seeds different ones', () => {
    const seeds = [0, 1, 2, 3, 7, 42, 1234, 99999];
    const hashes = seeds.map((seed) => {
      const a = runSeed(core, seed);
      const b = runSeed(core, seed);
      console.log(`seed ${seed}: hash ${a.hash}, ${a.steps} steps`);
      expect(b.hash).toBe(a.hash);
      expect(b.steps).toBe(a.steps);
      expect(b.stats).toEqual(a.stats);
      return a.hash;
    });
    expect(new Set(hashes).size).toBe(seeds.length);
  });
});

describe('the checker', () => {
  const storage = () => core.MemoryRaftStorage.withVoters([1, 2, 3]);

  it('catches two logs with the same (index, term) but different prefixes', () => {
    const g = newGlobalState();
    const a = shadowFromStorage(g, core, storage(), 'a');
    const b = shadowFromStorage(g, core, storage(), 'b');
    shadowReady(g, core, a, null, [ent(1, 1, 'x'), ent(2, 2)], 'a');
    expect(() => shadowReady(g, core, b, null, [ent(1, 1, 'y'), ent(2, 2)], 'b')).toThrow(/log matching/);
  });

  it('catches a committed entry that changes, and two leaders in a term', () => {
    const g = newGlobalState();
    const a = shadowReady(g, core, shadowFromStorage(g, core, storage(), 'a'), null, [ent(1, 1, 'x')], 'a');
    const b = shadowReady(g, core, shadowFromStorage(g, core, storage(), 'b'), null, [ent(1, 2, 'y')], 'b');
    recordCommit(g, a, 0, 1, 1, 'a');
    expect(() => recordCommit(g, b, 0, 1, 2, 'b')).toThrow(/committed entry changed/);
    checkOneLeader(g, 3, 1);
    expect(() => checkOneLeader(g, 3, 2)).toThrow(/two leaders in term 3/);
  });

  it('catches a leader without an entry committed in an earlier term, and a different applied prefix', () => {
    const g = newGlobalState();
    const a = shadowReady(g, core, shadowFromStorage(g, core, storage(), 'a'), null, [ent(1, 1), ent(2, 1)], 'a');
    recordCommit(g, a, 0, 2, 1, 'a');
    const b = shadowReady(g, core, shadowFromStorage(g, core, storage(), 'b'), null, [ent(1, 1)], 'b');
    expect(() => checkLeaderComplete(g, b, 2, 'b')).toThrow(/leader completeness/);
    recordApplied(g, 1, 111, 'a');
    expect(() => recordApplied(g, 1, 222, 'b')).toThrow(/state machine safety/);
  });
});
