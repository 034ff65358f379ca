/**
 * A store frozen for 30 s (SIGSTOP-like: the kv simulation's stall control) resumes without an
 * election stampede (issue 18): its followers' election timers take the lost time but fire on no
 * tick of the gap, so the leaders' heartbeats that waited meanwhile reach them first. Before,
 * every awake follower on the resumed store campaigned at once, before reading a single frame.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalCluster, type LocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { createStallControl } from '../kvsim/stall.ts';
import { drive } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('a store frozen for 30 s', () => {
  for (const seed of [1, 2, 3]) {
    it(`resumes with no campaign by its followers of regions led elsewhere (seed ${seed})`, async () => {
      const clock = createVirtualClock();
      const control = createStallControl(clock, createSeededRand(seed));
      const splitKeys = Array.from({ length: 11 }, (_, i) => `k${String(i + 1).padStart(2, '0')}`);
      // Awake groups (no quiescence): the followers run election timers, as during a burst of load.
      cluster = await createLocalCluster({ stores: 3, clock, seed, initialSplitKeys: splitKeys, process: (id) => control.process(id), store: { quiesceTicks: 0 } });
      const c = cluster;
      await drive(clock, c.waitForLeaders());
      const frozen = 3;
      const ledElsewhere = c.store(frozen)!.status().filter((s) => s.raft.role === 'follower').map((s) => s.region.id);
      expect(ledElsewhere.length).toBeGreaterThan(0);
      control.stall(frozen);
      for (let ms = 0; ms < 30_000; ms += 10) {
        clock.advance(10);
        await tick();
      }
      // Frames held during the stall arrive 1 ms after the resume, as a woken process reads its queue.
      control.resume(frozen, { dropRate: 0, holdFramesMs: 1 });
      const campaigned = new Set<number>();
      const look = () => {
        for (const s of c.store(frozen)!.status()) if (ledElsewhere.includes(s.region.id) && s.raft.role !== 'follower') campaigned.add(s.region.id);
      };
      // Its overdue tick timer runs first, before any held frame: that is where a stampede starts.
      await tick();
      look();
      for (let ms = 0; ms < 2000; ms++) {
        clock.advance(1);
        await tick();
        look();
      }
      expect([...campaigned], `seed ${seed}: regions whose follower on the resumed store campaigned`).toEqual([]);
    });
  }
});
