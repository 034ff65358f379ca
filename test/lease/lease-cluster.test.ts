/**
 * TTL leases on an in-page cluster with PD (virtual clock): grant, put with a lease, keepAlive,
 * expiry after keepAlives stop, revoke, refusal of a revoked lease, detaching by a plain put,
 * leases across a region split, and bad input.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { drive, elapse, text, virtualCluster } from '../store/helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const pd = { heartbeatMs: 200, scheduleMs: 500 };

async function leaseCluster() {
  const v = await virtualCluster({ stores: 3, pd });
  cluster = v.cluster;
  const kv = cluster.client();
  await drive(v.clock, kv.put('warm', '1'));
  await elapse(v.clock, 2000); // PD's group has a leader and a view of the regions
  return { ...v, kv };
}

describe('leases', () => {
  it('keeps keys while kept alive, deletes them through the log once keepAlives stop', async () => {
    const { clock, kv } = await leaseCluster();
    const lease = await drive(clock, kv.grantLease(2000));
    expect(lease.ttlMs).toBe(2000);
    await drive(clock, kv.put('a', '1', { lease: lease.id }));
    await drive(clock, kv.put('b', '2', { lease: lease.id }));
    await drive(clock, kv.put('c', '3'));
    for (let i = 0; i < 10; i++) {
      await elapse(clock, 1000);
      await drive(clock, kv.keepAlive(lease.id));
    }
    expect(text(await drive(clock, kv.get('a')))).toBe('1');
    const ttl = await drive(clock, kv.leaseTimeToLive(lease.id));
    expect(ttl.remainingMs).toBeLessThanOrEqual(2000);
    expect(await drive(clock, kv.leases())).toContain(lease.id);
    await elapse(clock, 4000);
    expect(await drive(clock, kv.get('a'))).toBeNull();
    expect(await drive(clock, kv.get('b'))).toBeNull();
    expect(text(await drive(clock, kv.get('c')))).toBe('3');
    await expect(drive(clock, kv.keepAlive(lease.id))).rejects.toMatchObject({ code: 'LeaseNotFound' });
    await expect(drive(clock, kv.put('d', '4', { lease: lease.id }))).rejects.toMatchObject({ code: 'LeaseNotFound' });
  });

  it('revoke deletes the keys before it resolves; a plain put detaches a key; keys survive a split', async () => {
    const { clock, kv, cluster: c } = await leaseCluster();
    const lease = await drive(clock, kv.grantLease(60_000));
    for (const k of ['a', 'm', 'z']) await drive(clock, kv.put(k, 'v', { lease: lease.id }));
    await drive(clock, kv.put('m', 'plain')); // detached
    const [region] = await drive(clock, kv.admin.regions());
    await drive(clock, kv.admin.splitRegion(region.id, 'k'));
    await elapse(clock, 1000);
    await drive(clock, kv.revoke(lease.id));
    expect(await drive(clock, kv.get('a'))).toBeNull();
    expect(await drive(clock, kv.get('z'))).toBeNull();
    expect(text(await drive(clock, kv.get('m')))).toBe('plain');
    await expect(drive(clock, kv.revoke(lease.id))).rejects.toMatchObject({ code: 'LeaseNotFound' });
    // Every region refuses the revoked lease, even a put that skips the client's check.
    const fresh = c.client();
    const put = (fresh as unknown as { write(op: unknown, k: Uint8Array): Promise<unknown> }).write({ type: 'leasePut', key: new TextEncoder().encode('q'), value: new Uint8Array(1), lease: lease.id }, new TextEncoder().encode('q'));
    await expect(drive(clock, put)).rejects.toMatchObject({ code: 'LeaseNotFound' });
  });

  it('refuses bad input with typed errors', async () => {
    const { clock, kv } = await leaseCluster();
    await expect(drive(clock, kv.grantLease(0))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(drive(clock, kv.grantLease(1.5))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(drive(clock, kv.grantLease(365 * 24 * 3600 * 1000))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(drive(clock, kv.keepAlive(123_456))).rejects.toMatchObject({ code: 'LeaseNotFound' });
    await expect(drive(clock, kv.put('a', '1', { lease: 123_456 }))).rejects.toMatchObject({ code: 'LeaseNotFound' });
    expect(await drive(clock, kv.get('a'))).toBeNull();
  });
});

describe('leases without PD', () => {
  it('are refused with a clear typed error, and a leased put writes nothing', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('warm', '1'));
    const err = await drive(v.clock, kv.grantLease(1000)).catch((e) => e);
    expect(err).toMatchObject({ code: 'InvalidArgument' });
    expect(String(err.message)).toContain('--no-pd');
    await expect(drive(v.clock, kv.put('a', '1', { lease: 1_000_000 }))).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(await drive(v.clock, kv.get('a'))).toBeNull();
  });
});
