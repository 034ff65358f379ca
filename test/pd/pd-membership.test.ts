/**
 * PD's group moving on an in-page cluster (virtual clock, simulated network, deterministic): it
 * grows to five voters on five stores; two of its stores are lost for good one after the other and
 * it ends on three live stores while splits and re-replication go on; a store wiped under it gets
 * a new PD replica; a PD leader frozen for 30 s in the middle of a change is taken over by a new
 * leader that finishes it; `pdMembers` reports the group from any store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import type { PdMembersInfo } from '../../src/store/pd-members.ts';
import { PD_GROUP_ID, PD_PEER_BASE } from '../../src/store/pd-state.ts';
import { createLocalCluster } from '../../adapters/local-cluster.ts';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { NotLeaderError } from '../../src/errors.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { createStallControl } from '../kvsim/stall.ts';
import { drive, elapse, text, virtualCluster } from '../store/helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const pd = { config: { storeDownMs: 3000, splitKeys: 40, splitBytes: 1 << 30, mergeKeys: 1, mergeBytes: 1, operatorTimeoutMs: 10_000 }, heartbeatMs: 500, scheduleMs: 500 };

/** Advances time in steps of 500 ms until `cond` holds; fails after `maxMs` virtual ms saying what was last seen. */
async function until(clock: VirtualClock, what: string, cond: () => Promise<boolean | string>, maxMs = 120_000): Promise<void> {
  let last: boolean | string = false;
  for (let t = 0; t <= maxMs; t += 500) {
    last = await cond().catch((e) => String(e));
    if (last === true) return;
    await elapse(clock, 500);
  }
  throw new Error(`${what}: not after ${maxMs} virtual ms (last: ${String(last)})`);
}

async function members(c: LocalCluster, clock: VirtualClock): Promise<PdMembersInfo> {
  return drive(clock, c.client().admin.pdMembers(), 10_000);
}

const voterStores = (m: PdMembersInfo) => m.members.filter((x) => x.role === 'voter').map((x) => x.storeId);

describe('PD membership', () => {
  it('grows to five voters, loses two stores one after the other, and ends on three live stores while PD keeps scheduling', async () => {
    const v = await virtualCluster({ stores: 5, pd });
    cluster = v.cluster;
    const c = cluster;
    const kv = c.client();
    const written: string[] = [];
    const write = async (prefix: string, n: number) => {
      const batch = Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${String(i).padStart(3, '0')}`, value: `v-${prefix}-${i}` }));
      await drive(v.clock, kv.putAll(batch));
      written.push(...batch.map((b) => b.key));
    };
    await write('a', 30);
    await until(v.clock, 'PD on five voters', async () => {
      const m = await members(c, v.clock);
      return voterStores(m).join() === '1,2,3,4,5' || JSON.stringify(m.members.map((x) => [x.storeId, x.role]));
    });

    await c.stopStore(1);
    await write('b', 30);
    await until(v.clock, 'PD on three voters without store 1', async () => {
      const m = await members(c, v.clock);
      const on = voterStores(m);
      return (on.length === 3 && !on.includes(1) && m.members.every((x) => x.up)) || JSON.stringify(m.members);
    });

    // A store whose PD replica was removed, restarted on its data, does not bring that replica back.
    const m3 = await members(c, v.clock);
    const dropped = [2, 3, 4, 5].find((s) => !voterStores(m3).includes(s))!;
    expect(c.store(dropped)!.status().some((s) => s.region.id === PD_GROUP_ID)).toBe(false);
    await c.stopStore(dropped);
    await c.restartStore(dropped);
    await elapse(v.clock, 3000);
    expect(c.store(dropped)!.status().some((s) => s.region.id === PD_GROUP_ID)).toBe(false);
    expect(voterStores(await members(c, v.clock))).toEqual(voterStores(m3));
    expect(c.store(dropped)!.pd!.pdStoreIds).toEqual(voterStores(m3));

    // Lost for good one after the other: the cluster heals from the first loss before the second.
    await until(v.clock, 'every region on three voters without store 1', async () => {
      const regions = await drive(v.clock, kv.admin.regions());
      return regions.every((r) => r.peers.filter((p) => p.role === 'voter' && p.storeId !== 1).length === 3 && r.peers.length === 3) || 'not yet';
    });
    await c.stopStore(2);
    await until(v.clock, 'PD on stores 3, 4, 5', async () => {
      const m = await members(c, v.clock);
      return (voterStores(m).join() === '3,4,5' && m.members.length === 3) || JSON.stringify(m.members);
    });
    // Scheduling still works: PD splits by size and re-replicates every region onto live stores.
    const before = (await drive(v.clock, kv.admin.regions())).length;
    for (let round = 0; round < 4; round++) {
      await write(`c${round}`, 30);
      await elapse(v.clock, 1500);
    }
    await until(v.clock, 'a split and every region on three live voters', async () => {
      const regions = await drive(v.clock, kv.admin.regions());
      const ok = regions.every((r) => r.peers.filter((p) => p.role === 'voter' && [3, 4, 5].includes(p.storeId)).length === 3 && r.peers.length === 3);
      return (regions.length > before && ok) || `${regions.length} regions: ${regions.map((r) => r.peers.map((p) => `${p.storeId}${p.role[0]}`).join('/')).join(' ')}`;
    });
    for (const key of written) expect(text(await drive(v.clock, kv.get(key)))).toBe(`v-${key.replace(/-\d+$/, '')}-${Number(key.slice(-3))}`);
  }, 600_000);

  it('a PD store wiped under it gets a new PD replica (a new peer id) that catches up; writes survive', async () => {
    const v = await virtualCluster({ stores: 3, pd });
    cluster = v.cluster;
    const c = cluster;
    const kv = c.client();
    await drive(v.clock, kv.put('k', 'before'));
    await elapse(v.clock, 5000);
    const leader = (await members(c, v.clock)).leaderStoreId;
    const wiped = leader === 3 ? 2 : 3;
    await c.wipeStore(wiped);
    await until(v.clock, `store ${wiped} hosts a new PD voter`, async () => {
      const m = await members(c, v.clock);
      const on = m.members.find((x) => x.storeId === wiped);
      return (on !== undefined && on.role === 'voter' && on.peerId !== PD_PEER_BASE + wiped && m.members.length === 3 && on.appliedIndex > 0) || JSON.stringify(m.members);
    });
    // The wiped store's PD replica holds PD's state again: it can lead PD.
    const s = c.store(wiped)!;
    expect(s.pd?.pdStoreIds).toEqual([1, 2, 3]);
    await drive(v.clock, kv.put('k2', 'after'));
    expect(text(await drive(v.clock, kv.get('k')))).toBe('before');
    expect(text(await drive(v.clock, kv.get('k2')))).toBe('after');
  }, 600_000);

  it('a PD leader frozen for 30 s in the middle of a replacement: the next leader finishes it, the resumed one follows', async () => {
    const clock = createVirtualClock();
    const control = createStallControl(clock, createSeededRand(11));
    cluster = await createLocalCluster({ stores: 6, clock, pd, process: (id) => control.process(id) });
    const c = cluster;
    await drive(clock, c.waitForLeaders());
    const kv = c.client({ retry: { timeoutMs: 20_000, attemptTimeoutMs: 500 } });
    await drive(clock, kv.put('k', 'before'));
    await until(clock, 'PD on five voters', async () => voterStores(await members(c, clock)).length === 5 || 'not yet');
    const start = await members(c, clock);
    const leader = start.leaderStoreId;
    const lost = voterStores(start).find((s) => s !== leader)!;
    const free = c.storeIds.find((s) => !start.members.some((x) => x.storeId === s))!;
    await c.stopStore(lost);
    // The leader starts the replacement (a learner on the free store) and freezes before finishing it.
    const pdOf = (id: number) => c.store(id)?.status().find((s) => s.region.id === PD_GROUP_ID)?.region;
    await until(clock, `a PD learner on store ${free}`, async () => pdOf(leader)?.peers.some((p) => p.storeId === free) === true || JSON.stringify(pdOf(leader)?.peers));
    control.stall(leader);
    // Asked of the stores still running (a request to the frozen one would wait for its resume).
    const fromOthers = (): PdMembersInfo | undefined => {
      for (const id of c.storeIds.filter((s) => s !== leader && s !== lost)) {
        try {
          return c.store(id)!.pd!.members();
        } catch (e) {
          if (!(e instanceof NotLeaderError)) throw e;
        }
      }
      return undefined;
    };
    let tookOver = false;
    for (let t = 0; t < 30_000; t += 500) {
      await elapse(clock, 500);
      const m = fromOthers();
      if (m?.members.some((x) => x.storeId === free && x.role === 'voter')) tookOver = true;
    }
    expect(tookOver, 'a new PD leader promoted the learner while the old one was frozen').toBe(true);
    control.resume(leader, { dropRate: 0, holdFramesMs: 0 });
    await until(clock, 'PD on five live voters, none on the lost store', async () => {
      const m = await members(c, clock);
      return (m.members.length === 5 && m.members.every((x) => x.role === 'voter' && x.up && x.storeId !== lost)) || JSON.stringify(m.members);
    });
    await drive(clock, kv.put('k2', 'after'));
    expect(text(await drive(clock, kv.get('k')))).toBe('before');
    expect(text(await drive(clock, kv.get('k2')))).toBe('after');
  }, 600_000);
});
