/**
 * The pure split and merge rules: shapes and epochs they produce, and every validation.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, TooSmallToSplitError } from '../../src/errors.ts';
import { chooseSplitKey, mergeRegions, type Region, splitRegion } from '../../src/region/index.ts';

const k = (s: string) => new TextEncoder().encode(s);
const E = new Uint8Array(0);
const parent: Region = {
  id: 1,
  startKey: k('b'),
  endKey: E,
  epoch: { confVer: 4, version: 7 },
  peers: [
    { id: 11, storeId: 1, role: 'voter' },
    { id: 12, storeId: 2, role: 'voter' },
    { id: 13, storeId: 3, role: 'learner' },
  ],
};

describe('splitRegion', () => {
  it('left keeps id, start and peers; right gets the new id and fresh peers on the same stores; both version + 1', () => {
    const { left, right } = splitRegion(parent, k('m'), 9, [91, 92, 93]);
    expect(left).toEqual({ ...parent, endKey: k('m'), epoch: { confVer: 4, version: 8 } });
    expect(right).toEqual({
      id: 9,
      startKey: k('m'),
      endKey: E,
      epoch: { confVer: 4, version: 8 },
      peers: [
        { id: 91, storeId: 1, role: 'voter' },
        { id: 92, storeId: 2, role: 'voter' },
        { id: 93, storeId: 3, role: 'learner' },
      ],
    });
    expect(right.epoch).not.toBe(left.epoch);
    expect(parent.epoch.version).toBe(7);
    expect(parent.endKey).toEqual(E);
  });

  it('works on the whole key space and with 0x00 / 0xFF split keys', () => {
    const whole = { ...parent, startKey: E, endKey: E };
    expect(splitRegion(whole, Uint8Array.of(0x00), 2, [1, 2, 3]).left.endKey).toEqual(Uint8Array.of(0x00));
    const { right } = splitRegion(whole, Uint8Array.of(0xff, 0xff), 2, [1, 2, 3]);
    expect(right.startKey).toEqual(Uint8Array.of(0xff, 0xff));
  });

  it('refuses a split key that is empty, at the start, before it, at or past the end', () => {
    const bounded = { ...parent, endKey: k('x') };
    for (const key of [E, k('b'), k('a'), k('x'), k('y')]) {
      expect(() => splitRegion(bounded, key, 9, [91, 92, 93]), `split at ${new TextDecoder().decode(key)}`).toThrow(InvalidArgumentError);
    }
    expect(() => splitRegion(bounded, k('b\x00'), 9, [91, 92, 93])).not.toThrow();
  });

  it('refuses reused or missing ids', () => {
    expect(() => splitRegion(parent, k('m'), 1, [91, 92, 93])).toThrow(/newRegionId/);
    expect(() => splitRegion(parent, k('m'), 0, [91, 92, 93])).toThrow(/newRegionId/);
    expect(() => splitRegion(parent, k('m'), 9, [91, 92])).toThrow(/newPeerIds/);
    expect(() => splitRegion(parent, k('m'), 9, [91, 12, 93])).toThrow(/newPeerIds\[1\]/);
    expect(() => splitRegion(parent, k('m'), 9, [91, 91, 93])).toThrow(/newPeerIds\[1\]/);
  });
});

describe('chooseSplitKey', () => {
  it('picks the middle key by count', () => {
    const keys = ['c', 'd', 'e', 'f', 'g'].map(k);
    expect(chooseSplitKey(keys, parent)).toEqual(k('e'));
    expect(chooseSplitKey(keys.slice(0, 4), parent)).toEqual(k('e'));
    expect(chooseSplitKey([k('b'), k('c')], parent)).toEqual(k('c'));
  });

  it('refuses too few keys with TooSmallToSplit, and unsorted or foreign keys', () => {
    expect(() => chooseSplitKey([k('c')], parent)).toThrow(TooSmallToSplitError);
    expect(() => chooseSplitKey([k('c'), k('d'), k('e')], parent, 4)).toThrow(TooSmallToSplitError);
    expect(() => chooseSplitKey([k('d'), k('c')], parent)).toThrow(InvalidArgumentError);
    expect(() => chooseSplitKey([k('c'), k('c')], parent)).toThrow(InvalidArgumentError);
    expect(() => chooseSplitKey([k('a'), k('c')], parent)).toThrow(InvalidArgumentError);
    expect(() => chooseSplitKey([k('c'), k('d')], parent, 0)).toThrow(InvalidArgumentError);
  });
});

describe('mergeRegions', () => {
  const { left, right } = splitRegion(parent, k('m'), 9, [91, 92, 93]);
  const older = { ...left, epoch: { confVer: 4, version: 3 } };

  it('produces the union with the target identity and a version above both', () => {
    const merged = mergeRegions(older, right);
    expect(merged).toEqual({ ...parent, epoch: { confVer: 4, version: 9 } });
    const keptRight = mergeRegions(left, right, 'right');
    expect(keptRight.id).toBe(9);
    expect(keptRight.peers.map((p) => p.id)).toEqual([91, 92, 93]);
    expect([keptRight.startKey, keptRight.endKey]).toEqual([k('b'), E]);
  });

  it('refuses regions that are not adjacent, are the same, or sit on different stores or roles', () => {
    expect(() => mergeRegions(right, left)).toThrow(/adjacent/);
    expect(() => mergeRegions(left, { ...right, startKey: k('n') })).toThrow(/adjacent/);
    expect(() => mergeRegions(left, { ...left, id: 1 })).toThrow(InvalidArgumentError);
    const moved = { ...right, peers: right.peers.map((p, i) => (i === 2 ? { ...p, storeId: 4 } : p)) };
    expect(() => mergeRegions(left, moved)).toThrow(/align/);
    const promoted = { ...right, peers: right.peers.map((p) => ({ ...p, role: 'voter' as const })) };
    expect(() => mergeRegions(left, promoted)).toThrow(/align/);
  });
});
