/**
 * Region snapshots: a snapshot restored into another engine reproduces exactly the region's data,
 * sequences, locks and sessions (and nothing outside it), replaces what was there, comes in
 * batches within limits, and corrupt bytes are refused.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { CorruptCommandError } from '../../src/errors.ts';
import { type LockResult, regionRanges, restoreRegion, snapshotRegion } from '../../src/kv/index.ts';
import type { StorageEngine } from '../../src/ports.ts';
import { b, Harness } from './harness.ts';

async function regionState(engine: StorageEngine, region: { id: number; startKey: Uint8Array; endKey: Uint8Array }): Promise<string[]> {
  const out: string[] = [];
  for (const r of regionRanges(region)) for (const kv of await engine.scan(r)) out.push(`${Buffer.from(kv.key).toString('hex')}=${Buffer.from(kv.value).toString('hex')}`);
  return out;
}

/** A store with two regions' worth of state: region 1 is [ -inf, m ), region 2 is [ m, +inf ). */
async function populated(): Promise<Harness> {
  const h = new Harness({ id: 1, startKey: new Uint8Array(0), endKey: b('m') });
  await h.write({ type: 'batchPut', entries: [Uint8Array.of(0x00), Uint8Array.of(0x6c, 0xff), b('a')].map((key) => ({ key, value: key })) });
  await h.write({ type: 'getSequence', key: b('b'), step: 7 });
  await h.write({ type: 'getSequence', key: b('a'), step: 3 });
  await h.write({ type: 'tryLock', key: b('lock'), owner: 'o', leaseMs: 100 });
  await h.write({ type: 'unlock', key: b('lock'), owner: 'o' });
  h.region = { id: 2, startKey: b('m'), endKey: new Uint8Array(0) };
  await h.write({ type: 'batchPut', entries: [b('m'), Uint8Array.of(0xff, 0xff)].map((key) => ({ key, value: key })) });
  await h.write({ type: 'getSequence', key: b('zz'), step: 1 });
  return h;
}

describe('snapshotRegion / restoreRegion', () => {
  it('round-trips a region exactly and leaves other regions alone', async () => {
    const h = await populated();
    const r1 = { id: 1, startKey: new Uint8Array(0), endKey: b('m') };
    const r2 = { id: 2, startKey: b('m'), endKey: new Uint8Array(0) };
    const bytes = await snapshotRegion(await h.engine.snapshot(), r1);
    const target = createMemoryStorage();
    // The target holds stale state of region 1 (to be replaced) and region 2's state (to be kept).
    await target.write([{ type: 'put', key: Uint8Array.of(0x7a, 0x62), value: b('stale') }, { type: 'put', key: Uint8Array.of(0x73, 0x62), value: new Uint8Array(8) }]);
    const r2state = [];
    for (const r of regionRanges(r2)) for (const kv of await h.engine.scan(r)) r2state.push({ type: 'put' as const, ...kv });
    await target.write(r2state);
    const restored = restoreRegion(bytes);
    expect(restored.region).toEqual(r1);
    for (const batch of restored.batches) await target.write(batch);
    expect(await regionState(target, r1)).toEqual(await regionState(h.engine, r1));
    expect(await regionState(target, r2)).toEqual(await regionState(h.engine, r2));
    expect(restored.pairs).toBe((await regionState(h.engine, r1)).length);
    // The sessions came along: the state machine on the target deduplicates the client's last write.
    const t = new Harness(r1, target);
    const retry = await t.apply({ clientId: h.clientId, seq: 5, nowMs: 0, op: { type: 'unlock', key: b('lock'), owner: 'o' } });
    expect(retry).toEqual({ ok: true, result: { success: true, acquires: 0, fencingToken: 1 }, deduplicated: true });
    t.seq = h.seq;
    const lockAgain = await t.apply(t.command({ type: 'tryLock', key: b('lock'), owner: 'p', leaseMs: 10 }));
    // The fencing token survived the snapshot: the next holder gets 2.
    expect(lockAgain.ok && (lockAgain.result as LockResult).fencingToken).toBe(2);
  });

  it('splits the puts into batches within the limits, the first batch clearing the ranges', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: Array.from({ length: 25 }, (_, i) => ({ key: Uint8Array.of(i + 1), value: new Uint8Array(10) })) });
    const bytes = await snapshotRegion(h.engine, h.region);
    const { batches, pairs } = restoreRegion(bytes, { batchOpsMax: 10 });
    expect(pairs).toBe(52); // 25 keys, one session, 25 versions and the revision record (history.ts)
    expect(batches[0].slice(0, 4).map((op) => op.type)).toEqual(['deleteRange', 'deleteRange', 'deleteRange', 'deleteRange']);
    expect(batches.every((batch) => batch.length <= 10)).toBe(true);
    const small = restoreRegion(bytes, { batchBytesMax: 24 }).batches;
    const bytesOf = (batch: typeof small[0]) => batch.reduce((n, op) => n + (op.type === 'put' ? op.key.length + op.value.length : 0), 0);
    // Each data pair is 12 bytes: two per batch; the session record, each version record and the
    // revision record are larger and go alone.
    expect(small.map((batch) => batch.filter((op) => op.type === 'put').length)).toEqual([...Array(12).fill(2), 1, 1, ...Array(25).fill(1), 1]);
    expect(small.every((batch) => batch.filter((op) => op.type === 'put').length === 1 || bytesOf(batch) <= 24)).toBe(true);
  });

  it('refuses truncated, flipped or foreign bytes', async () => {
    const h = await populated();
    const bytes = await snapshotRegion(h.engine, { id: 1, startKey: new Uint8Array(0), endKey: b('m') });
    const flipped = bytes.slice();
    flipped[40] ^= 1;
    for (const bad of [bytes.subarray(0, bytes.length - 1), flipped, new Uint8Array(30), bytes.subarray(0, 10)]) {
      expect(() => restoreRegion(bad)).toThrow(CorruptCommandError);
    }
  });
});
