import { describe, expect, it } from 'vitest';
import { createRealClock } from '../../adapters/runtime/real-clock.ts';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';

describe('virtual clock', () => {
  it('runs timers in deadline order, ties in creation order, with time at each deadline', () => {
    const clock = createVirtualClock(100);
    const log: string[] = [];
    clock.setTimer(30, () => log.push(`c@${clock.now()}`));
    clock.setTimer(10, () => log.push(`a@${clock.now()}`));
    clock.setTimer(10, () => {
      log.push(`b@${clock.now()}`);
      clock.setTimer(0, () => log.push(`b2@${clock.now()}`));
    });
    const cancel = clock.setTimer(20, () => log.push('cancelled'));
    cancel();
    cancel();
    expect(clock.pending()).toBe(3);
    expect(clock.nextDeadline()).toBe(110);
    clock.advance(25);
    expect(log).toEqual(['a@110', 'b@110', 'b2@110']);
    expect(clock.now()).toBe(125);
    clock.advance(5);
    expect(log.at(-1)).toBe('c@130');
    expect(clock.pending()).toBe(0);
    expect(clock.nextDeadline()).toBeUndefined();
  });

  it('runs only what is due on runDue, and refuses negative durations', () => {
    const clock = createVirtualClock();
    let ran = 0;
    clock.setTimer(0, () => ran++);
    clock.setTimer(1, () => ran++);
    expect(clock.runDue()).toBe(1);
    expect(ran).toBe(1);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.setTimer(-1, () => {})).toThrow(RangeError);
  });
});

describe('real clock', () => {
  it('fires a timer after its delay and can cancel one', async () => {
    const clock = createRealClock();
    const start = clock.now();
    let cancelledRan = false;
    clock.setTimer(5, () => {
      cancelledRan = true;
    })();
    await new Promise<void>((resolve) => clock.setTimer(20, resolve));
    expect(clock.now() - start).toBeGreaterThanOrEqual(19);
    expect(cancelledRan).toBe(false);
  });
});
