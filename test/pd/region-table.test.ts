/**
 * PD's region and store tables: TiKV's stale-heartbeat rules (version and confVer compared on
 * their own, older term, overlap with a newer version), splits and merges replacing what they
 * overlap, store states moving only forward, malformed heartbeats refused.
 */
import { describe, expect, it } from 'vitest';
import { EpochNotMatchError, InvalidArgumentError, errorFromData, errorToData } from '../../src/errors.ts';
import {
  createClusterView,
  drainedStoreIds,
  handleRegionHeartbeat,
  handleStoreHeartbeat,
  type RegionHeartbeatResult,
  setStoreState,
  StaleRegionHeartbeatError,
} from '../../src/pd/index.ts';
import { splitRegion, mergeRegions } from '../../src/region/index.ts';
import { buildView, cfg, mkRegion, regionHb, storeHb } from './fixtures.ts';

function stale(result: RegionHeartbeatResult): StaleRegionHeartbeatError {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(StaleRegionHeartbeatError);
  return result.error;
}

describe('handleRegionHeartbeat', () => {
  const base = mkRegion(1, '', '', [1, 2, 3], { version: 5, confVer: 5 });
  const view = buildView({ stores: [1, 2, 3], regions: [regionHb(base)] });

  it('stores an accepted heartbeat with its PD time, as a copy', () => {
    const hb = regionHb(mkRegion(2, '', '', [1, 2, 3]));
    const r = handleRegionHeartbeat(createClusterView(cfg()), hb, 42);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const info = r.view.regions.get(2)!;
    expect(info.lastHeartbeatMs).toBe(42);
    expect(info.region).toEqual(hb.region);
    hb.region.peers[0].storeId = 9;
    expect(info.region.peers[0].storeId).toBe(1);
    expect(r.view.nowMs).toBe(42);
  });

  it('refuses an older version even with a newer confVer, and an older confVer even with a newer version', () => {
    const olderVersion = stale(handleRegionHeartbeat(view, regionHb(mkRegion(1, '', '', [1, 2, 3], { version: 4, confVer: 9 })), 1));
    expect(olderVersion.reason).toBe('version');
    expect(olderVersion.regions[0].epoch).toEqual({ version: 5, confVer: 5 });
    const olderConf = stale(handleRegionHeartbeat(view, regionHb(mkRegion(1, '', '', [1, 2, 3], { version: 9, confVer: 4 })), 1));
    expect(olderConf.reason).toBe('confVer');
  });

  it('accepts the same epoch again and a newer one', () => {
    expect(handleRegionHeartbeat(view, regionHb(base), 1).ok).toBe(true);
    const newer = mkRegion(1, '', '', [1, 2, 3, 4], { version: 5, confVer: 6 });
    const r = handleRegionHeartbeat(view, regionHb(newer), 1);
    expect(r.ok && r.view.regions.get(1)!.region.peers).toHaveLength(4);
  });

  it('refuses a report of the same epoch from an older term (a deposed leader)', () => {
    const v = buildView({ stores: [1, 2, 3], regions: [regionHb(base, { term: 7 })] });
    expect(stale(handleRegionHeartbeat(v, regionHb(base, { term: 6, leaderStore: 2 }), 1)).reason).toBe('term');
    const r = handleRegionHeartbeat(v, regionHb(base, { term: 8, leaderStore: 2 }), 1);
    expect(r.ok && r.view.regions.get(1)!.leader.storeId).toBe(2);
  });

  it('refuses the same epoch with another range', () => {
    expect(stale(handleRegionHeartbeat(view, regionHb(mkRegion(1, 'a', '', [1, 2, 3], { version: 5, confVer: 5 })), 1)).reason).toBe('range');
  });

  it('a split: the right half replaces the parent; a late parent report is then refused as overlapping', () => {
    const { left, right } = splitRegion(base, new TextEncoder().encode('m'), 2, [21, 22, 23]);
    const r = handleRegionHeartbeat(view, regionHb(right), 1);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.removedRegionIds).toEqual([1]);
    expect([...r.view.regions.keys()]).toEqual([2]);
    const late = stale(handleRegionHeartbeat(r.view, regionHb(base), 2));
    expect(late.reason).toBe('overlap');
    expect(late.regions.map((x) => x.id)).toEqual([2]);
    const l = handleRegionHeartbeat(r.view, regionHb(left), 2);
    expect(l.ok && [...l.view.regions.keys()].sort()).toEqual([1, 2]);
  });

  it('a merge replaces both sources; a late source report is refused', () => {
    const { left, right } = splitRegion(base, new TextEncoder().encode('m'), 2, [21, 22, 23]);
    const v = buildView({ stores: [1, 2, 3], regions: [regionHb(left), regionHb(right)] });
    const merged = mergeRegions(left, right, 'right');
    const r = handleRegionHeartbeat(v, regionHb(merged), 1);
    expect(r.ok && r.removedRegionIds).toEqual([1]);
    if (!r.ok) return;
    expect(stale(handleRegionHeartbeat(r.view, regionHb(left), 2)).reason).toBe('overlap');
  });

  it('an overlapping region of an equal or older version does not block (TiKV compares versions only)', () => {
    const other = mkRegion(7, 'a', 'c', [1, 2, 3], { version: 5 });
    const r = handleRegionHeartbeat(view, regionHb(other), 1);
    expect(r.ok && r.removedRegionIds).toEqual([1]);
  });

  it('leaves the view unchanged when refusing', () => {
    const before = view.regions.get(1);
    stale(handleRegionHeartbeat(view, regionHb(mkRegion(1, '', '', [1, 2, 3], { version: 1 })), 1));
    expect(view.regions.get(1)).toBe(before);
  });

  it('the error is an EpochNotMatch carrying PD regions, and survives the wire as one', () => {
    const e = stale(handleRegionHeartbeat(view, regionHb(mkRegion(1, '', '', [1, 2, 3], { version: 1 })), 1));
    expect(e).toBeInstanceOf(EpochNotMatchError);
    expect(e.code).toBe('EpochNotMatch');
    expect(e.message).toMatch(/stale \(version\)/);
    const back = errorFromData(errorToData(e));
    expect(back).toBeInstanceOf(EpochNotMatchError);
    expect((back as EpochNotMatchError).regions[0].id).toBe(1);
  });

  it('throws for a malformed heartbeat: leader not a voter, bad region, negative stats', () => {
    const r = mkRegion(3, '', '', [1, 2], { learners: [3] });
    expect(() => handleRegionHeartbeat(view, { ...regionHb(r), leader: r.peers[2] }, 1)).toThrow(InvalidArgumentError);
    expect(() => handleRegionHeartbeat(view, regionHb(mkRegion(3, 'b', 'a', [1])), 1)).toThrow(InvalidArgumentError);
    expect(() => handleRegionHeartbeat(view, regionHb(r, { approximateKeys: -1 }), 1)).toThrow(/approximateKeys/);
  });
});

describe('handleStoreHeartbeat and store states', () => {
  it('records the heartbeat and PD time; never moves state backwards', () => {
    let v = handleStoreHeartbeat(createClusterView(cfg()), storeHb(1, { regionCount: 4 }), 10);
    expect(v.stores.get(1)).toMatchObject({ lastHeartbeatMs: 10, state: 'up' });
    expect(v.stores.get(1)!.heartbeat.regionCount).toBe(4);
    v = setStoreState(v, 1, 'offline');
    v = handleStoreHeartbeat(v, storeHb(1), 20);
    expect(v.stores.get(1)).toMatchObject({ lastHeartbeatMs: 20, state: 'offline' });
    expect(() => setStoreState(v, 1, 'up')).toThrow(InvalidArgumentError);
    expect(() => setStoreState(v, 9, 'offline')).toThrow(/not known/);
  });

  it('throws for a malformed store heartbeat', () => {
    const v = createClusterView(cfg());
    expect(() => handleStoreHeartbeat(v, storeHb(0), 1)).toThrow(InvalidArgumentError);
    expect(() => handleStoreHeartbeat(v, storeHb(1, { availableBytes: Number.NaN }), 1)).toThrow(/availableBytes/);
    expect(() => handleStoreHeartbeat(v, storeHb(1, { state: 'gone' as 'up' }), 1)).toThrow(/state/);
    expect(() => handleStoreHeartbeat(v, storeHb(1, { incarnation: 'not an incarnation!' }), 1)).toThrow(/incarnation/);
    expect(handleStoreHeartbeat(v, storeHb(1, { incarnation: 'a1b2c3d4e5f60708' }), 1).stores.get(1)?.heartbeat.incarnation).toBe('a1b2c3d4e5f60708');
  });

  it('drainedStoreIds lists offline stores hosting no replica', () => {
    let v = buildView({ stores: [1, 2, 3, 4], regions: [regionHb(mkRegion(1, '', '', [1, 2, 3]))] });
    v = setStoreState(setStoreState(v, 3, 'offline'), 4, 'offline');
    expect(drainedStoreIds(v)).toEqual([4]);
  });
});
