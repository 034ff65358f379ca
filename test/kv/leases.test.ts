/**
 * The region side of leases: leasePut attaches, revokeLease deletes exactly the lease's keys in
 * the region (as a batchDelete) and refuses the lease afterwards, other writes detach, and the
 * revoked marks and index travel with snapshots and splits.
 */
import { describe, expect, it } from 'vitest';
import type { LeaseRevokeResult } from '../../src/kv/leases.ts';
import { copyRevokedLeases, keysOfLease } from '../../src/kv/leases.ts';
import { restoreRegion, snapshotRegion } from '../../src/kv/snapshot.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { b, Harness, s } from './harness.ts';

const put = (key: string, value: string, lease: number) => ({ type: 'leasePut' as const, key: b(key), value: b(value), lease });

describe('region leases', () => {
  it('revokeLease deletes the keys of that lease only, and refuses the lease from then on', async () => {
    const h = new Harness();
    await h.write(put('a', '1', 7));
    await h.write(put('b', '2', 7));
    await h.write(put('c', '3', 8));
    await h.write({ type: 'put', key: b('d'), value: b('4') });
    const r = (await h.write({ type: 'revokeLease', lease: 7 })) as LeaseRevokeResult;
    expect(r.deleted).toBe(2);
    expect(r.startKey.length + r.endKey.length).toBe(0);
    expect(await h.read({ type: 'get', key: b('a') })).toBeNull();
    expect(await h.read({ type: 'get', key: b('b') })).toBeNull();
    expect(s((await h.read({ type: 'get', key: b('c') })) as Uint8Array)).toBe('3');
    expect(s((await h.read({ type: 'get', key: b('d') })) as Uint8Array)).toBe('4');
    const refused = await h.apply(h.command(put('e', '5', 7)));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.code).toBe('LeaseNotFound');
    expect(await h.read({ type: 'get', key: b('e') })).toBeNull();
    // Revoking again is harmless (PD may ask twice).
    expect(((await h.write({ type: 'revokeLease', lease: 7 })) as LeaseRevokeResult).deleted).toBe(0);
  });

  it('a put that races the revoke in the same turn never outlives it', async () => {
    const h = new Harness();
    const out = await h.applyTurn([h.command(put('a', '1', 3)), h.command({ type: 'revokeLease', lease: 3 }, { clientId: '' }), h.command(put('b', '2', 3))]);
    expect(out.map((o) => o.ok)).toEqual([true, true, false]);
    expect(await h.read({ type: 'scan', start: new Uint8Array(0), end: new Uint8Array(0) })).toEqual([]);
  });

  it('writes without the lease detach: revoking leaves their values alone; a failed CAS does not detach', async () => {
    const h = new Harness();
    for (const k of ['p', 'g', 'm', 'c', 'x', 't', 'r']) await h.write(put(k, 'leased', 1));
    await h.write({ type: 'put', key: b('p'), value: b('plain') });
    await h.write({ type: 'getAndPut', key: b('g'), value: b('plain') });
    await h.write({ type: 'merge', key: b('m'), value: b('plain'), separator: b(',') });
    expect(await h.write({ type: 'compareAndPut', key: b('c'), expect: b('nope'), update: b('plain') })).toBe(false);
    await h.write({ type: 'batchPut', entries: [{ key: b('x'), value: b('plain') }] });
    await h.write({ type: 'txn', compare: [], success: [{ type: 'put', key: b('t'), value: b('plain') }], failure: [] });
    await h.write({ type: 'delete', key: b('r') });
    await h.write({ type: 'put', key: b('r'), value: b('plain') }); // recreated without the lease
    await h.write({ type: 'revokeLease', lease: 1 });
    const left = (await h.read({ type: 'scan', start: new Uint8Array(0), end: new Uint8Array(0) })) as Array<{ key: Uint8Array; value: Uint8Array }>;
    expect(left.map((e) => `${s(e.key)}=${s(e.value)}`)).toEqual(['g=plain', 'm=leased,plain', 'p=plain', 'r=plain', 't=plain', 'x=plain']);
  });

  it('a region revokes only the keys in its range; its index and revoked marks travel in its snapshot', async () => {
    const left = new Harness({ id: 1, startKey: new Uint8Array(0), endKey: b('m') });
    await left.write(put('a', '1', 5));
    const right = new Harness({ id: 2, startKey: b('m'), endKey: new Uint8Array(0) }, left.engine);
    await right.write(put('z', '2', 5));
    await left.write({ type: 'revokeLease', lease: 5 });
    expect(await left.read({ type: 'get', key: b('a') })).toBeNull();
    expect(s((await right.read({ type: 'get', key: b('z') })) as Uint8Array)).toBe('2');
    expect((await keysOfLease(left.engine, right.region, 5)).map((k) => s(k))).toEqual(['z']);
    // A split's child takes the parent's revoked marks.
    const child = { id: 3, startKey: b('f'), endKey: b('m') };
    await left.engine.write(await copyRevokedLeases(left.engine, 1, 3));
    const c = new Harness(child, left.engine);
    expect((await c.apply(c.command(put('g', '1', 5)))).ok).toBe(false);
    // A snapshot of region 2 restored elsewhere still knows z's lease.
    const bytes = await snapshotRegion(left.engine, right.region);
    const elsewhere = createMemoryStorage();
    for (const batch of restoreRegion(bytes).batches) await elsewhere.write(batch);
    const r2 = new Harness(right.region, elsewhere);
    r2.clientId = 'client-2'; // client-1's session came along in the snapshot
    expect(((await r2.write({ type: 'revokeLease', lease: 5 })) as LeaseRevokeResult).deleted).toBe(1);
    expect(await r2.read({ type: 'get', key: b('z') })).toBeNull();
  });
});
