/**
 * discountPause: a PD leader whose process was stopped strikes the pause out of its view, so that
 * the stores' heartbeats waiting unread meanwhile do not make them look down (issue 21).
 */
import { describe, expect, it } from 'vitest';
import { discountPause, isStoreDown, isViewWarm } from '../../src/pd/index.ts';
import { advanceClock } from '../../src/pd/operators.ts';
import { buildView, cfg } from './fixtures.ts';

describe('discountPause', () => {
  const config = cfg({ storeDownMs: 10_000 });

  it('keeps stores heard just before a pause up after it, and still finds one silent before it down', () => {
    const view = buildView({ stores: [1, 2, 3], regions: [], nowMs: 100_000, config, storeSeenMs: { 3: 95_000 } });
    // PD was stopped for 20 s: without the discount every store looks down on resume.
    const resumed = advanceClock(view, 120_000);
    expect([1, 2, 3].map((id) => isStoreDown(resumed, id, config))).toEqual([true, true, true]);
    const discounted = advanceClock(discountPause(view, 20_000), 120_000);
    expect([1, 2, 3].map((id) => isStoreDown(discounted, id, config))).toEqual([false, false, false]);
    // Store 3 was already silent for 5 s before the pause: 6 s more of PD time and it is down.
    const later = advanceClock(discountPause(view, 20_000), 126_000);
    expect([1, 2, 3].map((id) => isStoreDown(later, id, config))).toEqual([false, false, true]);
  });

  it('moves the warm-up with the pause, and changes nothing for no gap', () => {
    const view = buildView({ stores: [1], regions: [], nowMs: 5_000, config });
    expect(isViewWarm(advanceClock(view, 25_000), config)).toBe(true);
    expect(isViewWarm(advanceClock(discountPause(view, 20_000), 25_000), config)).toBe(false);
    expect(discountPause(view, 0)).toBe(view);
  });
});
