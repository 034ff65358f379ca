/**
 * The split and merge checkers on hand-made views: thresholds (keys or bytes for a split, keys and
 * bytes for a merge), ids allocated for the right half, and the conditions a merge pair must meet.
 */
import { describe, expect, it } from 'vitest';
import { checkMerge, checkSplit, type Instruction, recordOperators } from '../../src/pd/index.ts';
import { buildView, cfg, ids, mkRegion, regionHb } from './fixtures.ts';

describe('checkSplit', () => {
  const config = cfg({ splitKeys: 1000, splitBytes: 1 << 20, mergeKeys: 100, mergeBytes: 1 << 10 });
  const at = (keys: number, bytes: number) => buildView({ stores: [1, 2, 3], regions: [regionHb(mkRegion(1, '', '', [1, 2, 3], { version: 4 }), { approximateKeys: keys, approximateBytes: bytes })] });

  it('splits a region at or over the key threshold, allocating the right half and its peers', () => {
    expect(checkSplit(at(1000, 0), config, ids(70))).toEqual([
      { type: 'splitRegion', regionId: 1, epoch: { confVer: 1, version: 4 }, newRegionId: 70, newPeerIds: [71, 72, 73] },
    ]);
  });

  it('splits a region at or over the byte threshold', () => {
    expect(checkSplit(at(10, 1 << 20), config, ids())).toHaveLength(1);
  });

  it('leaves a region just under both thresholds', () => {
    expect(checkSplit(at(999, (1 << 20) - 1), config, ids())).toEqual([]);
  });

  it('skips a region with an operator in flight', () => {
    const view = at(5000, 0);
    const busy = recordOperators(view, [{ type: 'removePeer', regionId: 1, epoch: { confVer: 1, version: 4 }, peerId: 103 }], 0);
    expect(checkSplit(busy, config, ids())).toEqual([]);
  });
});

describe('checkMerge', () => {
  const config = cfg({ splitKeys: 1000, splitBytes: 1 << 20, mergeKeys: 100, mergeBytes: 1 << 10 });
  const small = { approximateKeys: 10, approximateBytes: 100 };
  const view = (...hbs: ReturnType<typeof regionHb>[]) => buildView({ stores: [1, 2, 3, 4], regions: hbs });
  const merges = (instructions: Instruction[]) => instructions.map((i) => i.type === 'mergeRegions' && [i.sourceId, i.targetId]);

  it('merges two small adjacent regions on the same stores, carrying both epochs', () => {
    const a = mkRegion(1, '', 'm', [1, 2, 3], { version: 3 });
    const b = mkRegion(2, 'm', '', [3, 2, 1], { version: 5, confVer: 2 });
    expect(checkMerge(view(regionHb(a, small), regionHb(b, small)), config)).toEqual([
      { type: 'mergeRegions', sourceId: 1, targetId: 2, epochs: { source: { confVer: 1, version: 3 }, target: { confVer: 2, version: 5 } } },
    ]);
  });

  it('needs both regions under both thresholds', () => {
    const a = regionHb(mkRegion(1, '', 'm', [1, 2, 3]), small);
    expect(checkMerge(view(a, regionHb(mkRegion(2, 'm', '', [1, 2, 3]), { approximateKeys: 100, approximateBytes: 0 })), config)).toEqual([]);
    expect(checkMerge(view(a, regionHb(mkRegion(2, 'm', '', [1, 2, 3]), { approximateKeys: 0, approximateBytes: 1 << 10 })), config)).toEqual([]);
  });

  it('needs the same stores, adjacency, and both regions settled', () => {
    const a = regionHb(mkRegion(1, '', 'm', [1, 2, 3]), small);
    expect(checkMerge(view(a, regionHb(mkRegion(2, 'm', '', [1, 2, 4]), small)), config)).toEqual([]);
    expect(checkMerge(view(a, regionHb(mkRegion(2, 'n', '', [1, 2, 3]), small)), config)).toEqual([]);
    const withLearner = mkRegion(2, 'm', '', [1, 2, 3], { learners: [4] });
    expect(checkMerge(view(a, regionHb(withLearner, small)), config)).toEqual([]);
    const b = mkRegion(2, 'm', '', [1, 2, 3]);
    expect(checkMerge(view(a, regionHb(b, { ...small, pendingPeers: [b.peers[1]] })), config)).toEqual([]);
    expect(checkMerge(view(a, regionHb(b, { ...small, downPeers: [{ peer: b.peers[1], downSeconds: 1 }] })), config)).toEqual([]);
    const busy = recordOperators(view(a, regionHb(b, small)), [{ type: 'transferLeader', regionId: 2, epoch: b.epoch, toStoreId: 2, toPeerId: 202 }], 0);
    expect(checkMerge(busy, config)).toEqual([]);
  });

  it('pairs regions in key order with their right neighbour, each in at most one merge', () => {
    const r = (id: number, s: string, e: string, keys: number) => regionHb(mkRegion(id, s, e, [1, 2, 3]), { approximateKeys: keys, approximateBytes: 0 });
    expect(merges(checkMerge(view(r(1, '', 'c', 50), r(2, 'c', 'f', 5), r(3, 'f', '', 40)), config))).toEqual([[1, 2]]);
    expect(merges(checkMerge(view(r(1, '', 'c', 500), r(2, 'c', 'f', 60), r(3, 'f', '', 40)), config))).toEqual([[2, 3]]);
    expect(merges(checkMerge(view(r(1, '', 'c', 1), r(2, 'c', 'f', 2), r(3, 'f', 'h', 3), r(4, 'h', '', 4)), config))).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});
