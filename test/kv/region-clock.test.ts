/**
 * RegionClock: region time continues from the applied time across leader changes, at the local
 * clock's rate, and never runs backwards.
 */
import { describe, expect, it } from 'vitest';
import { RegionClock } from '../../src/kv/index.ts';

describe('RegionClock', () => {
  it('continues from the applied time whatever the local clock origin is', () => {
    const a = new RegionClock(5_000, 123_456_789);
    expect(a.now(123_456_789)).toBe(5_000);
    expect(a.now(123_457_789)).toBe(6_000);
    // A new leader whose clock started yesterday, or a second ago, continues at 6000, not at its own reading.
    expect(new RegionClock(6_000, 86_400_000).now(86_400_250)).toBe(6_250);
    expect(new RegionClock(6_000, 3).now(3)).toBe(6_000);
  });

  it('never runs backwards: a local clock going back or an observed later time raises the floor', () => {
    const c = new RegionClock(1_000, 50);
    expect(c.now(150)).toBe(1_100);
    expect(c.now(100)).toBe(1_100);
    c.observe(2_000, 160);
    expect(c.now(160)).toBe(2_000);
    expect(c.now(260)).toBe(2_100);
    c.observe(10, 300);
    expect(c.now(300)).toBe(2_140);
  });
});
