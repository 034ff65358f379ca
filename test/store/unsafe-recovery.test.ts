/**
 * `client.admin.recoverUnsafe` in-page: two of three replicas lost for good, the survivor leads
 * alone and serves every key it held; the refusals (a majority left, a named store that answers,
 * PD's own group without its majority); and the plan's choice of the most up-to-date survivor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { planRecovery } from '../../src/client/recovery.ts';
import type { ReplicaReport } from '../../src/store/unsafe-recovery.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('unsafe recovery', () => {
  it('brings a region back from its one surviving replica: reads, writes, and the keys it held', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['m'] });
    cluster = v.cluster;
    const kv = cluster.client();
    for (let i = 0; i < 30; i++) await drive(v.clock, kv.put(`k${i}`, `v${i}`));
    await drive(v.clock, kv.put('z', 'upper'));
    await elapse(v.clock, 500); // every replica holds everything (nothing to lose in this test)
    await cluster.stopStore(2);
    await cluster.stopStore(3);
    const result = await drive(v.clock, kv.admin.recoverUnsafe([2, 3]));
    expect(result.failed).toEqual([]);
    expect(result.recovered.map((r) => r.storeId)).toEqual([1, 1]);
    for (const r of result.recovered) expect(r.region.peers.map((p) => p.storeId)).toEqual([1]);
    for (let i = 0; i < 30; i++) expect(text(await drive(v.clock, kv.get(`k${i}`)))).toBe(`v${i}`);
    expect(text(await drive(v.clock, kv.get('z')))).toBe('upper');
    await drive(v.clock, kv.put('after', 'recovery'));
    expect(text(await drive(v.clock, kv.get('after')))).toBe('recovery');
    // The membership went through the log: a higher confVer, applied (and kept) by the survivor.
    const regions = await drive(v.clock, kv.admin.regions());
    for (const r of regions) expect(r.epoch.confVer).toBeGreaterThan(1);
    // Running it again finds nothing to do.
    await expect(drive(v.clock, kv.admin.recoverUnsafe([2, 3]))).rejects.toThrow(/nothing to recover/);
  });

  it('five voters, three lost: the most up-to-date survivor leads the other survivor, and check finds them agreeing', async () => {
    const v = await virtualCluster({ stores: 5, replicas: 5 });
    cluster = v.cluster;
    const kv = cluster.client();
    for (let i = 0; i < 20; i++) await drive(v.clock, kv.put(`k${i}`, `v${i}`));
    const [before] = await drive(v.clock, kv.admin.regions());
    expect(before.peers).toHaveLength(5);
    await elapse(v.clock, 500);
    for (const s of [3, 4, 5]) await cluster.stopStore(s);
    const result = await drive(v.clock, kv.admin.recoverUnsafe([3, 4, 5]));
    expect(result.failed).toEqual([]);
    expect(result.recovered).toHaveLength(1);
    expect(result.recovered[0].region.peers.map((p) => p.storeId).sort()).toEqual([1, 2]);
    await drive(v.clock, kv.put('after', 'recovery'));
    for (let i = 0; i < 20; i++) expect(text(await drive(v.clock, kv.get(`k${i}`)))).toBe(`v${i}`);
    // Both survivors applied the removals and hold the same state at one index.
    const [check] = await drive(v.clock, kv.admin.check());
    expect(check.agreeing).toEqual([1, 2]);
    expect(check.divergent).toEqual([]);
    expect(check.unchecked).toEqual([]);
  });

  it('loses what only the lost majority held (documented): a write acknowledged while the survivor was cut off', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('before', 'kept'));
    await elapse(v.clock, 500);
    cluster.partition([1], [2, 3]);
    await drive(v.clock, kv.put('while-cut-off', 'acknowledged by stores 2 and 3 only'));
    await cluster.stopStore(2);
    await cluster.stopStore(3);
    cluster.heal();
    const result = await drive(v.clock, kv.admin.recoverUnsafe([2, 3]));
    expect(result.recovered.map((r) => r.storeId)).toEqual([1]);
    expect(text(await drive(v.clock, kv.get('before')))).toBe('kept');
    expect(await drive(v.clock, kv.get('while-cut-off'))).toBeNull();
  });

  it('refuses when the region keeps a majority, and when a store named lost answers', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('a', '1'));
    await expect(drive(v.clock, kv.admin.recoverUnsafe([3]))).rejects.toThrow(/store 3 answers: it is not lost/);
    await cluster.stopStore(3);
    await expect(drive(v.clock, kv.admin.recoverUnsafe([3]))).rejects.toThrow(/still has a majority.*nothing to recover/);
    expect(text(await drive(v.clock, kv.get('a')))).toBe('1');
  });

  it("refuses while PD's own group has lost its majority, and says what to do", async () => {
    const v = await virtualCluster({ stores: 3, pd: { heartbeatMs: 300, scheduleMs: 300 } });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('a', '1'));
    await elapse(v.clock, 1000);
    await cluster.stopStore(2);
    await cluster.stopStore(3);
    await expect(drive(v.clock, kv.admin.recoverUnsafe([2, 3]))).rejects.toThrow(/PD's own group lost its majority.*flotilla restore/);
  });

  it('plans from the survivor with the highest (last term, last index), and lists regions no survivor holds', () => {
    const region = (confVer: number) => ({ id: 7, startKey: new Uint8Array(), endKey: new Uint8Array(), epoch: { confVer, version: 1 }, peers: [1, 2, 3, 4, 5].map((s) => ({ id: 70 + s, storeId: s, role: 'voter' as const })) });
    const report = (storeId: number, lastTerm: number, lastIndex: number): ReplicaReport => ({ storeId, region: region(5), peerId: 70 + storeId, pd: false, lastIndex, lastTerm, commit: 1, applied: 1, state: 'follower' });
    const lost = new Set([3, 4, 5]);
    expect(planRecovery([report(1, 3, 40), report(2, 4, 20)], lost).targets.map((t) => t.storeId)).toEqual([2]);
    expect(planRecovery([report(1, 4, 41), report(2, 4, 40)], lost).targets.map((t) => t.storeId)).toEqual([1]);
    // Two of five lost: a majority is left.
    const fine = planRecovery([report(1, 4, 41), report(2, 4, 40), report(3, 4, 40)], new Set([4, 5]));
    expect(fine.targets).toEqual([]);
    expect(fine.healthy).toEqual([7]);
    expect(planRecovery([report(1, 4, 41)], lost, undefined, [7, 9]).unrecoverable.map((u) => u.regionId)).toEqual([9]);
  });
});
