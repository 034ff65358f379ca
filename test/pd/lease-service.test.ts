/**
 * LeaseService on a fake host (PD's log is an in-memory table, the clock a number): expiry only
 * after the ttl without keepAlives, a keepAlive counted from its arrival, a PD leader pause struck
 * out, a new leader restarting every ttl, a revoke carried out region range by region range (a
 * split in the middle included) before it resolves, and NotLeader off the leader.
 */
import { describe, expect, it } from 'vitest';
import { LeaseService } from '../../src/store/lease-service.ts';
import type { PdCommand, PdLeaseRecord } from '../../src/store/pd-state.ts';

const k = (s: string): Uint8Array => new TextEncoder().encode(s);
const EMPTY = new Uint8Array(0);

function fakePd() {
  const leases = new Map<number, PdLeaseRecord>();
  const sent: Array<{ to: number; leaseId: number; regionId: number }> = [];
  const state: { now: number; leader: boolean; nextId: number; gate?: Promise<void>; regions: Array<{ id: number; startKey: Uint8Array; endKey: Uint8Array; leaderStoreId: number }> } = {
    now: 0,
    leader: true,
    nextId: 100,
    regions: [{ id: 1, startKey: EMPTY, endKey: k('m'), leaderStoreId: 1 }, { id: 2, startKey: k('m'), endKey: EMPTY, leaderStoreId: 2 }],
  };
  const apply = async (c: PdCommand) => {
    if (c.type === 'leaseGrant') {
      const lease: PdLeaseRecord = { id: state.nextId++, ttlMs: c.ttlMs, state: 'active' };
      leases.set(lease.id, lease);
      return { lease };
    }
    if (c.type === 'leaseRevoke') {
      const l = leases.get(c.id);
      if (!l) return { lease: null };
      leases.set(c.id, { ...l, state: 'revoking' as const });
      return { lease: leases.get(c.id)! };
    }
    if (c.type === 'leaseForget') leases.delete(c.id);
    return undefined;
  };
  const service = new LeaseService(
    {
      now: () => state.now,
      isLeader: () => state.leader,
      leaderStoreId: () => (state.leader ? 1 : 3),
      confirmLeader: async () => {
        if (!state.leader) throw new Error('not leader');
      },
      propose: apply,
      loadLeases: async () => {
        const snapshot = [...leases.values()]; // read now, answered once the gate opens (a slow engine)
        await state.gate;
        return snapshot;
      },
      loadLease: async (id) => leases.get(id),
      regions: () => state.regions,
      sendRevoke: (to, leaseId, regionId) => sent.push({ to, leaseId, regionId }),
    },
    { roundMs: 100 },
  );
  /** Ticks every 100 ms for `ms`, letting each round's awaits finish. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      state.now += 100;
      service.tick();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
  };
  return { service, leases, sent, state, run };
}

describe('LeaseService', () => {
  it('expires a lease only a ttl after its last keepAlive, and strikes out a pause of the leader', async () => {
    const pd = fakePd();
    const lease = await pd.service.grant(1000);
    for (let i = 0; i < 10; i++) {
      await pd.run(500);
      await pd.service.keepAlive(lease.id);
    }
    expect(pd.leases.get(lease.id)?.state).toBe('active');
    await pd.run(800);
    expect(pd.leases.get(lease.id)?.state).toBe('active');
    // The leader's process stops for 30 s: the store strikes the gap out before anything else.
    pd.state.now += 30_000;
    pd.service.clockJumped(30_000);
    await pd.run(100);
    expect(pd.leases.get(lease.id)?.state).toBe('active');
    await pd.run(300);
    expect(pd.leases.get(lease.id)?.state).toBe('revoking');
    await expect(pd.service.keepAlive(lease.id)).rejects.toMatchObject({ code: 'LeaseNotFound' });
  });

  it('gives every lease a fresh ttl on a new leader, and answers NotLeader off the leader', async () => {
    const pd = fakePd();
    const lease = await pd.service.grant(1000);
    await pd.run(900);
    pd.state.leader = false;
    await pd.run(100);
    await expect(pd.service.keepAlive(lease.id)).rejects.toMatchObject({ code: 'NotLeader', leaderStoreId: 3 });
    await expect(pd.service.grant(1000)).rejects.toMatchObject({ code: 'NotLeader' });
    pd.state.leader = true; // leadership comes back (or a new leader starts with the same state)
    await pd.run(900);
    expect(pd.leases.get(lease.id)?.state).toBe('active');
    await pd.run(300);
    expect(pd.leases.get(lease.id)?.state).toBe('revoking');
  });

  it('resolves a revoke only once region ranges covering the whole key space confirmed, across a split', async () => {
    const pd = fakePd();
    const lease = await pd.service.grant(60_000);
    let done = false;
    const revoked = pd.service.revoke(lease.id).then(() => (done = true));
    await pd.run(200);
    expect(pd.sent.map((s) => s.regionId).sort()).toEqual([1, 1, 2, 2]);
    pd.service.regionRevoked(lease.id, { startKey: EMPTY, endKey: k('m') });
    // Region 2 splits at 't' before it revokes: its right half is a new region.
    pd.state.regions = [pd.state.regions[0], { id: 2, startKey: k('m'), endKey: k('t'), leaderStoreId: 2 }, { id: 3, startKey: k('t'), endKey: EMPTY, leaderStoreId: 3 }];
    pd.sent.length = 0;
    await pd.run(100);
    expect(pd.sent.map((s) => s.regionId).sort()).toEqual([2, 3]);
    pd.service.regionRevoked(lease.id, { startKey: k('m'), endKey: k('t') });
    await pd.run(300);
    expect(done).toBe(false);
    pd.service.regionRevoked(lease.id, { startKey: k('t'), endKey: EMPTY });
    await pd.run(200);
    await revoked;
    expect(done).toBe(true);
    expect(pd.leases.has(lease.id)).toBe(false);
    await expect(pd.service.revoke(lease.id)).rejects.toMatchObject({ code: 'LeaseNotFound' });
  });

  it('does not take a lease granted while a round read the table for a forgotten one (its revoke waits)', async () => {
    const pd = fakePd();
    let open: () => void = () => {};
    pd.state.gate = new Promise((resolve) => {
      open = resolve;
    });
    pd.state.now += 100;
    pd.service.tick(); // the round reads the (empty) lease table and waits on the slow engine
    const lease = await pd.service.grant(60_000);
    let done = false;
    void pd.service.revoke(lease.id).then(() => (done = true));
    open();
    pd.state.gate = undefined;
    await pd.run(300);
    expect(done).toBe(false);
    expect(pd.leases.get(lease.id)?.state).toBe('revoking');
  });

  it('refuses bad ttls without proposing anything', async () => {
    const pd = fakePd();
    for (const ttl of [0, -5, 1.5, Number.NaN, 24 * 60 * 60 * 1000 + 1]) await expect(pd.service.grant(ttl)).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(pd.leases.size).toBe(0);
  });
});
