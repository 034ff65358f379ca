/**
 * MVCC history of the state machine: revisions per changing command, version records of every
 * write type, watch reads after a cursor, reads at a past revision, compaction and its typed
 * error, revisions carried over splits and merges, and the memcomparable key encoding.
 */
import { describe, expect, it } from 'vitest';
import { HistoryCompactedError } from '../../src/errors.ts';
import { inheritRevisionOnSplit, mergeRevisionState, readRevisionState, type WatchResult } from '../../src/kv/history.ts';
import { decodeMemcomparable, encodeMemcomparable, parseVersionKey, versionKey, versionRange } from '../../src/kv/history-keys.ts';
import { regionRanges, restoreRegion, snapshotRegion, WriteOverlay } from '../../src/kv/index.ts';
import { compareKeys } from '../../src/region/keys.ts';
import { inRange } from '../../src/storage/bytes.ts';
import { b, Harness, s } from './harness.ts';

const ALL = { start: new Uint8Array(0), end: new Uint8Array(0) };

async function watch(h: Harness, after: number | undefined, extra: { limit?: number; prevValue?: boolean; start?: Uint8Array; end?: Uint8Array } = {}): Promise<WatchResult> {
  return (await h.read({ type: 'watch', ...ALL, after, ...extra })) as WatchResult;
}

const brief = (r: WatchResult) => r.events.map((e) => `${e.revision}:${e.type}:${s(e.key)}=${s(e.value)}${e.prevValue !== undefined ? `<${s(e.prevValue)}` : ''}`);

describe('revisions and watch reads', () => {
  it('gives each changing command the next revision, one per command, and skips commands that change nothing', async () => {
    const h = new Harness();
    expect((await watch(h, undefined)).revision).toBe(0);
    await h.write({ type: 'put', key: b('a'), value: b('1') });
    await h.write({ type: 'batchPut', entries: [{ key: b('b'), value: b('2') }, { key: b('c'), value: b('3') }, { key: b('b'), value: b('4') }] });
    await h.write({ type: 'delete', key: b('absent') }); // no change: no revision
    await h.write({ type: 'compareAndPut', key: b('a'), expect: b('x'), update: b('y') }); // fails: no revision
    await h.write({ type: 'getSequence', key: b('seq'), step: 1 }); // not user data: no revision
    await h.write({ type: 'compareAndPut', key: b('a'), expect: b('1'), update: b('5') });
    await h.write({ type: 'deleteRange', start: b('b'), end: b('d') });
    const all = await watch(h, 0, { prevValue: true });
    expect(brief(all)).toEqual(['1:put:a=1<null', '2:put:b=4<null', '2:put:c=3<null', '3:put:a=5<1', '4:delete:b=null<4', '4:delete:c=null<3']);
    expect(all.revision).toBe(4);
    expect(all.more).toBe(false);
    expect(brief(await watch(h, 3))).toEqual(['4:delete:b=null', '4:delete:c=null']);
    expect((await watch(h, 4)).events).toEqual([]);
    expect((await watch(h, 4)).revision).toBe(4);
  });

  it('records merges, putIfAbsent, getAndPut and txns, and filters by range', async () => {
    const h = new Harness();
    await h.write({ type: 'merge', key: b('m'), value: b('x'), separator: b(',') });
    await h.write({ type: 'merge', key: b('m'), value: b('y'), separator: b(',') });
    await h.write({ type: 'putIfAbsent', key: b('p'), value: b('1') });
    await h.write({ type: 'putIfAbsent', key: b('p'), value: b('2') }); // present: no change
    await h.write({ type: 'getAndPut', key: b('q'), value: b('g') });
    await h.write({ type: 'txn', compare: [], success: [{ type: 'put', key: b('t'), value: b('1') }, { type: 'delete', key: b('m') }], failure: [] });
    expect(brief(await watch(h, 0))).toEqual(['1:put:m=x', '2:put:m=x,y', '3:put:p=1', '4:put:q=g', '5:delete:m=null', '5:put:t=1']);
    expect(brief(await watch(h, 0, { start: b('p'), end: b('r') }))).toEqual(['3:put:p=1', '4:put:q=g']);
  });

  it('cuts a long answer at a revision boundary and says there is more', async () => {
    const h = new Harness();
    await h.write({ type: 'batchPut', entries: [{ key: b('a'), value: b('1') }, { key: b('b'), value: b('1') }] });
    await h.write({ type: 'batchPut', entries: [{ key: b('a'), value: b('2') }, { key: b('b'), value: b('2') }] });
    await h.write({ type: 'put', key: b('c'), value: b('3') });
    const first = await watch(h, 0, { limit: 3 });
    expect(brief(first)).toEqual(['1:put:a=1', '1:put:b=1']);
    expect(first).toMatchObject({ revision: 1, more: true });
    // One revision bigger than the limit still comes whole.
    const big = await watch(h, 0, { limit: 1 });
    expect(big.events.length).toBe(2);
    const rest = await watch(h, first.revision, { limit: 3 });
    expect(brief(rest)).toEqual(['2:put:a=2', '2:put:b=2', '3:put:c=3']);
    expect(rest).toMatchObject({ revision: 3, more: false });
  });
});

describe('reads at a past revision and compaction', () => {
  it('getAt returns each key as it was, until compacted; then Compacted with the compaction point', async () => {
    const h = new Harness();
    await h.write({ type: 'put', key: b('k'), value: b('1') }); // 1
    await h.write({ type: 'put', key: b('other'), value: b('x') }); // 2
    await h.write({ type: 'put', key: b('k'), value: b('2') }); // 3
    await h.write({ type: 'delete', key: b('k') }); // 4
    const at = async (r: number) => s((await h.read({ type: 'getAt', key: b('k'), revision: r })) as Uint8Array | null);
    expect([await at(0), await at(1), await at(2), await at(3), await at(4)]).toEqual([null, '1', '1', '2', null]);
    await expect(h.read({ type: 'getAt', key: b('k'), revision: 5 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(await h.write({ type: 'compact', revision: 2 })).toBe(2);
    expect(await h.write({ type: 'compact', revision: 1 })).toBe(2); // never down
    expect(await at(2)).toBe('1');
    expect(await at(3)).toBe('2');
    const err = await h.read({ type: 'getAt', key: b('k'), revision: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(HistoryCompactedError);
    expect(err).toMatchObject({ code: 'Compacted', compactRevision: 2, revision: 1 });
    await expect(watch(h, 1)).rejects.toMatchObject({ code: 'Compacted', compactRevision: 2 });
    expect(brief(await watch(h, 2))).toEqual(['3:put:k=2', '4:delete:k=null']);
    // The compacted versions are gone from the engine, the others stay.
    const versions = (await h.engine.scan(versionRange(new Uint8Array(0), new Uint8Array(0)))).map((kv) => parseVersionKey(kv.key).revision);
    expect(versions.sort()).toEqual([3, 4]);
    expect(await h.write({ type: 'compact', revision: 99 })).toBe(4); // never past the latest revision
  });

  it('compacts by itself past the kept revisions, deleting as fast as it writes', async () => {
    const { HISTORY_REVISIONS_KEPT } = await import('../../src/kv/history.ts');
    const h = new Harness();
    const n = 2 * HISTORY_REVISIONS_KEPT + 500;
    const versions = async () => (await h.engine.scan(versionRange(new Uint8Array(0), new Uint8Array(0)))).length;
    let overlay = new WriteOverlay(h.engine);
    let most = 0;
    for (let i = 1; i <= n; i++) {
      // Batches of 4 keys and single puts, over few keys: many versions per key.
      const op = i % 3 === 0 ? { type: 'batchPut' as const, entries: [0, 1, 2, 3].map((j) => ({ key: b(`b${(i + j) % 11}`), value: b(String(i)) })) } : { type: 'put' as const, key: b(`k${i % 7}`), value: b(String(i)) };
      const out = await h.sm.apply(overlay, h.region, h.command(op));
      expect(out.ok).toBe(true);
      if (i % 64 === 0) {
        await h.engine.write(overlay.toWriteOps());
        overlay = new WriteOverlay(h.engine);
        if (i > HISTORY_REVISIONS_KEPT) most = Math.max(most, await versions());
      }
    }
    await h.engine.write(overlay.toWriteOps());
    const state = await readRevisionState(h.engine, h.region.id);
    expect(state.revision).toBe(n);
    expect(state.compactRevision).toBe(n - HISTORY_REVISIONS_KEPT);
    await expect(watch(h, 0)).rejects.toMatchObject({ code: 'Compacted' });
    // Every revision above the point is served whole (2 of 3 commands write one key, 1 of 3 four).
    const kept = await watch(h, state.compactRevision, { limit: 1000 });
    expect(kept.events[0].revision).toBe(state.compactRevision + 1);
    // The versions kept stay bounded: what the kept revisions wrote (2 per 3 revisions, then 4), plus at most as much again not yet swept.
    const keptVersions = Math.ceil((HISTORY_REVISIONS_KEPT * 6) / 3);
    expect(most).toBeLessThanOrEqual(2 * keptVersions + 64 * 4);
    expect(await versions()).toBeGreaterThanOrEqual(keptVersions - 4);
  });
});

describe('history across splits, merges and snapshots', () => {
  it('a split child continues its parent revisions; a merge continues from the larger', async () => {
    const h = new Harness();
    await h.write({ type: 'put', key: b('a'), value: b('1') });
    await h.write({ type: 'put', key: b('m'), value: b('1') });
    await h.write({ type: 'put', key: b('n'), value: b('1') });
    const o = new WriteOverlay(h.engine);
    o.stage(await inheritRevisionOnSplit(o, 1, 2));
    await h.engine.write(o.toWriteOps());
    const left = new Harness({ id: 1, startKey: new Uint8Array(0), endKey: b('m') }, h.engine);
    const right = new Harness({ id: 2, startKey: b('m'), endKey: new Uint8Array(0) }, h.engine);
    left.clientId = 'left';
    right.clientId = 'right';
    await right.write({ type: 'put', key: b('m'), value: b('2') });
    // The parent's history of the child's keys stays readable from the child (keys keep their versions).
    expect(brief(await watch(right, 0, { start: b('m'), end: new Uint8Array(0) }))).toEqual(['2:put:m=1', '3:put:n=1', '4:put:m=2']);
    await left.write({ type: 'put', key: b('a'), value: b('2') });
    await left.write({ type: 'put', key: b('a'), value: b('3') });
    expect((await readRevisionState(h.engine, 1)).revision).toBe(5);
    const m = new WriteOverlay(h.engine);
    m.stage(await mergeRevisionState(m, 2, 1));
    await h.engine.write(m.toWriteOps());
    expect(await readRevisionState(h.engine, 2)).toEqual({ revision: 0, compactRevision: 0 });
    h.region = { id: 1, startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
    await h.write({ type: 'put', key: b('m'), value: b('3') });
    // A cursor of either side (right at 4, left at 5) holds: every later change has a higher revision.
    expect(brief(await watch(h, 4, { start: b('m'), end: new Uint8Array(0) }))).toEqual(['6:put:m=3']);
  });

  it('a region snapshot carries the history and the revision record', async () => {
    const h = new Harness({ id: 7, startKey: b('b'), endKey: b('y') });
    await h.write({ type: 'put', key: b('c'), value: b('1') });
    await h.write({ type: 'put', key: b('c'), value: b('2') });
    const snap = await snapshotRegion(h.engine, h.region);
    const fresh = new Harness(h.region);
    for (const batch of restoreRegion(snap).batches) await fresh.engine.write(batch);
    expect(brief(await watch(fresh, 0, { start: b('b'), end: b('y') }))).toEqual(['1:put:c=1', '2:put:c=2']);
    expect(await readRevisionState(fresh.engine, 7)).toEqual({ revision: 2, compactRevision: 0 });
  });
});

describe('memcomparable version keys', () => {
  it('keeps order, is prefix-free, round-trips, and keeps versions inside their user key range', () => {
    const keys = ['', 'a', 'a\u0000', 'a\u0000\u0000\u0000\u0000\u0000\u0000\u0000', 'abcdefgh', 'abcdefghi', 'b', '\u00ff\u00ff'].map((k) => Uint8Array.from(k, (c) => c.charCodeAt(0)));
    for (const x of keys) {
      expect(decodeMemcomparable(encodeMemcomparable(x)).key).toEqual(x);
      expect(parseVersionKey(versionKey(x, 123456789)).key).toEqual(x);
      for (const y of keys) {
        expect(Math.sign(compareKeys(encodeMemcomparable(x), encodeMemcomparable(y)))).toBe(Math.sign(compareKeys(x, y)));
        // The version of x lies in y's region range [y, ∞) exactly when x >= y, whatever the revision.
        const r = versionRange(y, new Uint8Array(0));
        expect(inRange(versionKey(x, 0), r.start, r.end)).toBe(compareKeys(x, y) >= 0);
        if (y.length === 0) continue; // an empty end is +∞
        const r2 = versionRange(new Uint8Array(0), y);
        expect(inRange(versionKey(x, 2 ** 40), r2.start, r2.end)).toBe(compareKeys(x, y) < 0);
      }
    }
    expect(regionRanges({ id: 1, startKey: new Uint8Array(0), endKey: new Uint8Array(0) }).length).toBe(8); // data, locks, sequences, sessions, leased keys, revoked leases, versions, revisions
  });
});
