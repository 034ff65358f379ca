/**
 * RegionRouteTable: lookups by key, key list and range (empty start/end keys included), eviction
 * of stale entries by epoch, and a seeded run where split and merge news arrive out of order.
 */
import { describe, expect, it } from 'vitest';
import { keyInRegion, keysEqual, mergeRegions, type Region, RegionRouteTable, splitRegion } from '../../src/region/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';

const k = (s: string) => new TextEncoder().encode(s);
const E = new Uint8Array(0);
const peers = (base: number) => [1, 2, 3].map((storeId) => ({ id: base + storeId, storeId, role: 'voter' as const }));
const region = (id: number, start: string, end: string, version = 1, confVer = 1): Region => ({
  id,
  startKey: k(start),
  endKey: k(end),
  epoch: { confVer, version },
  peers: peers(id * 10),
});

function threeRegions(): RegionRouteTable {
  const t = new RegionRouteTable();
  for (const r of [region(2, 'g', 'p'), region(1, '', 'g'), region(3, 'p', '')]) expect(t.addOrUpdate(r)).toBe(true);
  return t;
}

describe('lookups', () => {
  it('findRegionByKey covers the empty key and keys past the last start', () => {
    const t = threeRegions();
    expect(t.findRegionByKey(E)?.id).toBe(1);
    expect(t.findRegionByKey(Uint8Array.of(0x00))?.id).toBe(1);
    expect(t.findRegionByKey(k('f\xff'))?.id).toBe(1);
    expect(t.findRegionByKey(k('g'))?.id).toBe(2);
    expect(t.findRegionByKey(k('p'))?.id).toBe(3);
    expect(t.findRegionByKey(Uint8Array.of(0xff, 0xff))?.id).toBe(3);
    expect(t.list().map((r) => r.id)).toEqual([1, 2, 3]);
    expect(t.size).toBe(3);
  });

  it('returns copies: changing a result does not change the table', () => {
    const t = threeRegions();
    const r = t.findRegionByKey(k('h'))!;
    r.endKey[0] = 0x00;
    r.epoch.version = 99;
    expect(t.getRegionById(2)).toEqual(region(2, 'g', 'p'));
  });

  it('a hole in the table answers undefined and shows in findUncoveredRange', () => {
    const t = threeRegions();
    t.remove(2);
    expect(t.findRegionByKey(k('h'))).toBeUndefined();
    expect(t.findUncoveredRange(E, E)).toEqual({ start: k('g'), end: k('p') });
    expect(t.findUncoveredRange(k('a'), k('c'))).toBeUndefined();
    expect(new RegionRouteTable().findUncoveredRange(k('a'), E)).toEqual({ start: k('a'), end: E });
    t.addOrUpdate(region(2, 'g', 'p'));
    expect(t.findUncoveredRange(E, E)).toBeUndefined();
  });

  it('findRegionsByKeys groups keys per region in key order and reports unrouted keys', () => {
    const t = threeRegions();
    t.remove(3);
    const keys = [k('z'), k('h'), k('a'), k('i'), E, k('q')];
    const { groups, unrouted } = t.findRegionsByKeys(keys);
    expect(groups.map((g) => g.region.id)).toEqual([1, 2]);
    expect(groups[0].indexes).toEqual([2, 4]);
    expect(groups[1].keys).toEqual([k('h'), k('i')]);
    expect(unrouted).toEqual([0, 5]);
  });

  it('findRegionsByRange returns intersecting regions in key order, with open ends', () => {
    const t = threeRegions();
    expect(t.findRegionsByRange(E, E).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(t.findRegionsByRange(k('h'), k('i')).map((r) => r.id)).toEqual([2]);
    expect(t.findRegionsByRange(k('f'), k('p')).map((r) => r.id)).toEqual([1, 2]);
    expect(t.findRegionsByRange(k('f'), k('p\x00')).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(t.findRegionsByRange(k('q'), E).map((r) => r.id)).toEqual([3]);
  });
});

describe('addOrUpdate by epoch', () => {
  it('split halves evict their stale parent, whichever arrives first', () => {
    for (const order of [
      [0, 1],
      [1, 0],
    ]) {
      const t = new RegionRouteTable();
      const parent = region(1, '', '');
      t.addOrUpdate(parent);
      const { left, right } = splitRegion(parent, k('m'), 2, [21, 22, 23]);
      const halves = [left, right];
      expect(t.addOrUpdate(halves[order[0]])).toBe(true);
      expect(t.addOrUpdate(halves[order[1]])).toBe(true);
      expect(t.list()).toEqual([left, right]);
      // The stale parent arriving late is refused.
      expect(t.addOrUpdate(parent)).toBe(false);
      expect(t.list()).toEqual([left, right]);
    }
  });

  it('a merged region evicts both sources; late news of a source is refused', () => {
    const t = new RegionRouteTable();
    const a = region(1, '', 'm', 3);
    const b = { ...region(2, 'm', '', 5), peers: peers(10) };
    t.addOrUpdate(a);
    t.addOrUpdate(b);
    const merged = mergeRegions(a, b);
    expect(t.addOrUpdate(merged)).toBe(true);
    expect(t.list()).toEqual([merged]);
    expect(t.addOrUpdate(b)).toBe(false);
    expect(t.addOrUpdate(a)).toBe(false);
  });

  it('same id: a newer confVer replaces, an older or conflicting same-epoch report is refused', () => {
    const t = threeRegions();
    expect(t.addOrUpdate(region(2, 'g', 'p', 1, 2))).toBe(true);
    expect(t.getRegionById(2)?.epoch).toEqual({ confVer: 2, version: 1 });
    expect(t.addOrUpdate(region(2, 'g', 'p', 1, 1))).toBe(false);
    expect(t.addOrUpdate(region(2, 'g', 'q', 1, 2))).toBe(false);
    expect(t.addOrUpdate({ ...region(2, 'g', 'p', 1, 2), peers: peers(50) })).toBe(true);
    expect(t.getRegionById(2)?.peers[0].id).toBe(51);
  });

  it('remove and clear', () => {
    const t = threeRegions();
    expect(t.remove(2)).toBe(true);
    expect(t.remove(2)).toBe(false);
    t.clear();
    expect(t.size).toBe(0);
  });
});

describe('route table converges under reordered news (seeded)', () => {
  it('ends with exactly the true regions whatever order the reports come in', () => {
    for (let run = 0; run < 20; run++) {
      const seed = 7919 * (run + 1);
      if (run === 0) console.log(`route table property seeds: 7919 * (1..20), first ${seed}`);
      const rand = createSeededRand(seed);
      const truth: Region[] = [region(1, '', '')];
      const news: Region[] = [truth[0]];
      let nextId = 2;
      for (let step = 0; step < 30; step++) {
        const i = rand.int(truth.length);
        const r = truth[i];
        if (rand.int(3) > 0 || i + 1 >= truth.length) {
          const at = `${String.fromCharCode(97 + rand.int(26))}${rand.int(1000)}`;
          const key = k(at);
          if (!keyInRegion(key, r) || keysEqual(key, r.startKey)) continue;
          const id = nextId++;
          const { left, right } = splitRegion(r, key, id, r.peers.map((_, j) => id * 10 + j + 1));
          truth.splice(i, 1, left, right);
          news.push(left, right);
        } else {
          const right = { ...truth[i + 1], peers: r.peers.map((p) => ({ ...p })) };
          const merged = mergeRegions(r, right);
          truth.splice(i, 2, merged);
          news.push(merged);
        }
      }
      const shuffled = news.map((r) => ({ r, w: rand.next() })).sort((a, b) => a.w - b.w).map((x) => x.r);
      const t = new RegionRouteTable();
      for (const r of shuffled) t.addOrUpdate(r);
      // Versions rise along every key's history, so each current region outranks every older
      // region it overlaps: the table must end holding exactly the current regions.
      expect(t.list(), `seed ${seed}`).toEqual(truth);
    }
  });
});
