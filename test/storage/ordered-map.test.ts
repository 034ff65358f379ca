/**
 * OrderedMap keeps its running byte total exact whether a put adds a key (one traversal) or
 * replaces one (the old value's size is read while replacing), also within one batch and while a
 * clone (a snapshot) shares its nodes.
 */
import { describe, expect, it } from 'vitest';
import { OrderedMap } from '../../adapters/storage/ordered-map.ts';
import type { WriteOp } from '../../src/ports.ts';

const k = (s: string) => new TextEncoder().encode(s);
const put = (key: string, size: number): WriteOp => ({ type: 'put', key: k(key), value: new Uint8Array(size).fill(size) });

function recount(m: OrderedMap): number {
  let bytes = 0;
  for (const [key, value] of m.entries()) bytes += key.length + value.length;
  return bytes;
}

describe('OrderedMap byte total', () => {
  it('stays exact over new keys, replacements in one batch, deletes and a shared clone', () => {
    const m = new OrderedMap();
    m.apply([put('a', 3), put('b', 5), put('a', 10), put('a', 1)]);
    expect(m.byteCount).toBe(2 + 1 + 5);
    expect(m.get(k('a'))).toEqual(new Uint8Array(1).fill(1));
    const snap = m.clone();
    for (let i = 0; i < 200; i++) m.apply([put(`key${i % 50}`, i % 7), put('b', i % 3)]);
    expect(m.byteCount).toBe(recount(m));
    expect(m.keyCount).toBe(52);
    expect(snap.byteCount).toBe(recount(snap));
    expect(snap.get(k('b'))).toEqual(new Uint8Array(5).fill(5));
    m.apply([{ type: 'delete', key: k('b') }, { type: 'deleteRange', start: k('key1'), end: k('key2') }]);
    expect(m.byteCount).toBe(recount(m));
  });
});
