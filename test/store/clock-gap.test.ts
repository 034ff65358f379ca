/**
 * A store whose process was stopped (issue 21) counts the time it lost before it handles anything:
 * its leader lease, judged in ticks, is void on resume if it ran out in real time, so a lease read
 * through it (the fast path that answers without a loop turn, or a queued one) never returns a
 * value older than a write the other stores acknowledged meanwhile. Stalls come from the kv
 * simulation's stall control: the store's timers, inbound frames, requests and storage
 * completions wait while the others go on, on one virtual clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalCluster, type LocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { createStallControl } from '../kvsim/stall.ts';
import { drive, elapse, text } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const utf8 = (s: string) => new TextEncoder().encode(s);

async function stallable(quiesceTicks?: number) {
  const clock = createVirtualClock();
  const control = createStallControl(clock, createSeededRand(7));
  cluster = await createLocalCluster({ stores: 3, clock, process: (id) => control.process(id), ...(quiesceTicks === undefined ? {} : { store: { quiesceTicks } }) });
  await drive(clock, cluster.waitForLeaders());
  return { clock, control, cluster };
}

function leaderOf(c: LocalCluster): number {
  return c.storeIds.find((id) => c.store(id)?.status()[0]?.raft.role === 'leader') ?? 0;
}

describe('a store whose process was stopped', () => {
  for (const quiet of [false, true]) {
    it(`ends its lease before serving a lease read on resume${quiet ? ' (its region quiesced before the stall)' : ''}`, async () => {
      const { clock, control, cluster: c } = await stallable(quiet ? 2 : 0);
      // Routes learned before the stall (a client asking a stalled store for them would wait).
      const client = c.client({ retry: { timeoutMs: 5000, attemptTimeoutMs: 300 } });
      await drive(clock, client.put('k', 'old'));
      await elapse(clock, 300);
      const old = leaderOf(c);
      const store = c.store(old)!;
      const { region } = store.regions()[0];
      // The lease holds: answered at once from the engine.
      expect(text((await drive(clock, store.read(region.id, region.epoch, { type: 'get', key: utf8('k') }, 'lease'))) as Uint8Array)).toBe('old');
      if (quiet) expect(store.status()[0].raft.quiesced).toBe(true);

      control.stall(old);
      await elapse(clock, 3000);
      const others = c.storeIds.filter((id) => id !== old);
      await drive(clock, client.put('k', 'new'));
      expect(others.some((id) => c.store(id)?.status()[0]?.raft.role === 'leader')).toBe(true);

      // Resumed, and unable to hear the others for a while: the read must not see 'old'.
      control.resume(old, { dropRate: 1, holdFramesMs: 1000 });
      const read = store.read(region.id, region.epoch, { type: 'get', key: utf8('k') }, 'lease');
      const answer = await drive(clock, read).then(
        (v) => text(v as Uint8Array | null),
        (e: { code?: string }) => `refused: ${e.code}`,
      );
      expect(answer).not.toBe('old');
      expect(store.counters.clockGaps).toBeGreaterThan(0);
      // The resumed leader stepped down before answering (check-quorum over the gap).
      expect(store.status()[0].raft.role).not.toBe('leader');
    });
  }

  it('does not count its own pause as the other stores falling silent', async () => {
    const { clock, control, cluster: c } = await stallable();
    const follower = c.storeIds.find((id) => c.store(id)?.status()[0]?.raft.role !== 'leader')!;
    const store = c.store(follower)!;
    const wakes = store.counters.livenessWakes;
    control.stall(follower);
    await elapse(clock, 2000);
    // Frames held during the stall arrive 1 ms after the resume: the leader was never silent.
    control.resume(follower, { dropRate: 0, holdFramesMs: 1 });
    await elapse(clock, 200);
    expect(store.counters.livenessWakes).toBe(wakes);
  });
});
