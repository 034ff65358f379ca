/**
 * LeaseTable, PD leader's memory of leases: first sight starts a lease at now + ttl, keepAlive
 * only moves a deadline later, a pause of the leader is struck out, and key-range coverage of a
 * revoke survives any split or merge pattern (randomized, seeded).
 */
import { describe, expect, it } from 'vitest';
import { type KeyRange, LeaseTable, rangesOverlap, uncoveredRanges } from '../../src/pd/lease-table.ts';
import { createSeededRand } from '../../src/util/rand.ts';

const k = (s: string): Uint8Array => new TextEncoder().encode(s);
const r = (a: string, b: string): KeyRange => ({ startKey: k(a), endKey: k(b) });
const show = (rs: KeyRange[]) => rs.map((x) => `[${new TextDecoder().decode(x.startKey)},${new TextDecoder().decode(x.endKey) || '∞'})`);

describe('LeaseTable', () => {
  it('starts a lease at first sight, extends it by keepAlive, never shortens it, shifts it by a pause', () => {
    const t = new LeaseTable();
    expect(t.deadline(1, 1000, 50)).toBe(1050);
    expect(t.deadline(1, 1000, 900)).toBe(1050);
    t.touch(1, 1000, 500);
    expect(t.remainingMs(1, 500)).toBe(1000);
    t.touch(1, 10, 600); // a shorter answer never pulls the deadline in
    expect(t.remainingMs(1, 600)).toBe(900);
    t.shift(30_000);
    expect(t.remainingMs(1, 600)).toBe(30_900);
    t.clear();
    expect(t.remainingMs(1, 600)).toBeUndefined();
  });

  it('finds the gaps of the key space a revoke has not covered', () => {
    expect(show(uncoveredRanges([]))).toEqual(['[,∞)']);
    expect(show(uncoveredRanges([r('', 'c'), r('f', '')]))).toEqual(['[c,f)']);
    expect(show(uncoveredRanges([r('f', ''), r('', 'd'), r('b', 'g')]))).toEqual([]);
    expect(show(uncoveredRanges([r('b', 'c')]))).toEqual(['[,b)', '[c,∞)']);
    expect(rangesOverlap(r('a', 'c'), r('c', ''))).toBe(false);
    expect(rangesOverlap(r('a', ''), r('z', ''))).toBe(true);
    expect(rangesOverlap(r('', 'b'), r('a', 'c'))).toBe(true);
  });

  it('counts a revoke done exactly when confirmed ranges cover the key space, whatever the region shapes', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
    console.log(`lease-table coverage seed=${seed}`);
    const rand = createSeededRand(seed);
    for (let run = 0; run < 200; run++) {
      // Random cut points; confirmations of random unions of adjacent pieces, in random order.
      const cuts = [...new Set(Array.from({ length: 1 + rand.int(6) }, () => String.fromCharCode(98 + rand.int(20))))].sort();
      const bounds = ['', ...cuts, ''];
      const pieces = bounds.slice(0, -1).map((a, i) => r(a, bounds[i + 1]));
      const t = new LeaseTable();
      const covered = new Set<number>();
      while (covered.size < pieces.length) {
        const i = rand.int(pieces.length);
        const j = Math.min(pieces.length - 1, i + rand.int(2));
        t.cover(9, { startKey: pieces[i].startKey, endKey: pieces[j].endKey });
        for (let x = i; x <= j; x++) covered.add(x);
        expect(t.uncovered(9).length === 0, `seed=${seed} run=${run}`).toBe(covered.size === pieces.length);
      }
    }
  });
});
