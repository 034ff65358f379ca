/**
 * The one conformance suite every storage engine passes: memory, fs, IndexedDB under
 * fake-indexeddb in Node and IndexedDB in real Chromium. A test file calls
 * {@link describeStorageConformance} with a target in a few lines. Node-free, so it also runs in
 * the browser.
 */
import { describe, expect, it } from 'vitest';
import type { StorageEngine, WriteOp } from '../../src/ports.ts';
import { compareBytes } from '../../src/storage/bytes.ts';
import type { StorageLimits } from '../../src/storage/validate.ts';
import { describeStorageConformanceMore } from './conformance-more.ts';
import { b, hex, randomBytes, s, seededRand, testSeed } from './helpers.ts';

/** One empty storage location; `open` may be called again after `close` to reopen it. */
export interface StorageLocation {
  open(options?: { limits?: Partial<StorageLimits> }): Promise<StorageEngine>;
  dispose?(): Promise<void>;
}

/** What the suite runs against. */
export interface ConformanceTarget {
  /** A fresh, empty location for one test. */
  fresh(): Promise<StorageLocation>;
  /** Whether data survives close and reopen. */
  persistent: boolean;
}

/** Runs `body` with an engine on a fresh location, closing and disposing afterwards. */
export async function withEngine(target: ConformanceTarget, body: (db: StorageEngine, loc: StorageLocation) => Promise<void>): Promise<void> {
  const loc = await target.fresh();
  const db = await loc.open();
  try {
    await body(db, loc);
  } finally {
    await db.close();
    await loc.dispose?.();
  }
}

const put = (key: Uint8Array, value: Uint8Array): WriteOp => ({ type: 'put', key, value });
const keysOf = (rows: { key: Uint8Array }[]) => rows.map((r) => hex(r.key));

/** Keys with 0x00 and 0xFF bytes and shared prefixes, whose unsigned order is easy to get wrong. */
export const TRICKY_KEYS: Uint8Array[] = [
  b(0x00),
  b(0x00, 0x00),
  b(0x00, 0xff),
  b(0x01),
  b(0x01, 0x00),
  b(0x7f),
  b(0x80),
  b(0x80, 0x00),
  b(0xfe, 0xff, 0xff),
  b(0xff),
  b(0xff, 0x00),
  b(0xff, 0xff),
  b(0xff, 0xff, 0xff),
];

/**
 * Declares the conformance suite for one engine.
 * @param name - shown in the test names
 * @param target - makes fresh locations
 */
export function describeStorageConformance(name: string, target: ConformanceTarget): void {
  describe(`storage conformance: ${name}`, () => {
    it('reads nothing from an empty store', async () => {
      await withEngine(target, async (db) => {
        expect(await db.get(b(1))).toBeUndefined();
        expect(await db.scan()).toEqual([]);
        expect(await db.approximateSize()).toEqual({ keys: 0, bytes: 0 });
      });
    });

    it('orders keys by unsigned bytes, including 0x00 and 0xFF, both ways', async () => {
      await withEngine(target, async (db) => {
        const shuffled = [...TRICKY_KEYS].reverse();
        await db.write(shuffled.map((k, i) => put(k, b(i))));
        const sorted = [...TRICKY_KEYS].sort(compareBytes).map(hex);
        expect(sorted).toEqual(TRICKY_KEYS.map(hex)); // the list above is already in order
        expect(keysOf(await db.scan())).toEqual(sorted);
        expect(keysOf(await db.scan({ reverse: true }))).toEqual([...sorted].reverse());
        for (const [i, k] of shuffled.entries()) expect(await db.get(k)).toEqual(b(i));
      });
    });

    it('stores empty values and large values intact', async () => {
      await withEngine(target, async (db) => {
        const rand = seededRand(7);
        const large = randomBytes(rand, 3 * 1024 * 1024 + 17);
        await db.write([put(s('empty'), new Uint8Array(0)), put(s('large'), large)], { sync: true });
        expect(await db.get(s('empty'))).toEqual(new Uint8Array(0));
        expect(hex((await db.get(s('large')))!)).toBe(hex(large));
        expect((await db.scan({ start: s('empty'), end: s('emptz') }))[0].value.length).toBe(0);
        expect(await db.approximateSize()).toEqual({ keys: 2, bytes: 5 + 5 + large.length });
      });
    });

    it('overwrites and deletes; later ops of a batch see earlier ones', async () => {
      await withEngine(target, async (db) => {
        await db.write([put(s('a'), s('1')), put(s('a'), s('2')), put(s('b'), s('x')), { type: 'delete', key: s('b') }]);
        expect(await db.get(s('a'))).toEqual(s('2'));
        expect(await db.get(s('b'))).toBeUndefined();
        await db.write([{ type: 'deleteRange', start: s('a'), end: s('z') }, put(s('c'), s('3'))]);
        expect(keysOf(await db.scan())).toEqual([hex(s('c'))]);
        await db.write([{ type: 'delete', key: s('missing') }]);
        await db.write([]);
        expect(keysOf(await db.scan())).toEqual([hex(s('c'))]);
      });
    });

    it('scans [start, end) with limits, forwards and in reverse', async () => {
      await withEngine(target, async (db) => {
        await db.write(['a', 'b', 'c', 'd', 'e'].map((k) => put(s(k), s(k))));
        const scan = async (o: Parameters<StorageEngine['scan']>[0]) => (await db.scan(o)).map((r) => String.fromCharCode(...r.key)).join('');
        expect(await scan({ start: s('b'), end: s('d') })).toBe('bc');
        expect(await scan({ start: s('b') })).toBe('bcde');
        expect(await scan({ end: s('c') })).toBe('ab');
        expect(await scan({ start: s('bb'), end: s('dd') })).toBe('cd');
        expect(await scan({ start: s('d'), end: s('b') })).toBe('');
        expect(await scan({ start: s('c'), end: s('c') })).toBe('');
        expect(await scan({ limit: 0 })).toBe('');
        expect(await scan({ limit: 2 })).toBe('ab');
        expect(await scan({ limit: 99 })).toBe('abcde');
        expect(await scan({ reverse: true })).toBe('edcba');
        expect(await scan({ reverse: true, limit: 2 })).toBe('ed');
        expect(await scan({ reverse: true, start: s('b'), end: s('d') })).toBe('cb');
        expect(await scan({ reverse: true, start: s('b'), end: s('dd'), limit: 2 })).toBe('dc');
        expect(await scan({ reverse: true, end: s('a') })).toBe('');
        expect(await scan({ start: new Uint8Array(0) })).toBe('abcde');
      });
    });

    it('deleteRange removes exactly [start, end) and treats empty or inverted ranges as no-ops', async () => {
      await withEngine(target, async (db) => {
        const keys = [b(1), b(1, 0), b(1, 0xff), b(2), b(2, 0), b(3), b(0xff), b(0xff, 0xff)];
        await db.write(keys.map((k) => put(k, k)));
        await db.write([{ type: 'deleteRange', start: b(2), end: b(2) }]);
        await db.write([{ type: 'deleteRange', start: b(3), end: b(2) }]);
        expect((await db.scan()).length).toBe(keys.length);
        await db.write([{ type: 'deleteRange', start: b(1, 0), end: b(2) }]);
        expect(keysOf(await db.scan())).toEqual(['01', '02', '0200', '03', 'ff', 'ffff']);
        await db.write([{ type: 'deleteRange', start: b(1), end: b(1, 0) }]);
        expect(keysOf(await db.scan())).toEqual(['02', '0200', '03', 'ff', 'ffff']);
        await db.write([{ type: 'deleteRange', start: b(0xff), end: b(0xff, 0xff, 0) }]);
        expect(keysOf(await db.scan())).toEqual(['02', '0200', '03']);
        await db.write([{ type: 'deleteRange', start: new Uint8Array(0), end: b(3) }]);
        expect(keysOf(await db.scan())).toEqual(['03']);
        expect(await db.approximateSize()).toEqual({ keys: 1, bytes: 2 });
      });
    });

    it('matches a reference model under random batches (seeded)', async () => {
      const seed = testSeed(`${name} model`);
      const rand = seededRand(seed);
      await withEngine(target, async (db) => {
        const model = new Map<string, Uint8Array>();
        const key = () => b(...Array.from({ length: 1 + rand.int(3) }, () => [0, 1, 0x7f, 0x80, 0xfe, 0xff][rand.int(6)]));
        for (let round = 0; round < 60; round++) {
          const batch: WriteOp[] = [];
          for (let i = rand.int(6); i >= 0; i--) {
            const r = rand.next();
            if (r < 0.6) batch.push(put(key(), randomBytes(rand, rand.int(40))));
            else if (r < 0.85) batch.push({ type: 'delete', key: key() });
            else batch.push({ type: 'deleteRange', start: key(), end: key() });
          }
          for (const op of batch) {
            if (op.type === 'put') model.set(hex(op.key), op.value);
            else if (op.type === 'delete') model.delete(hex(op.key));
            else for (const k of [...model.keys()]) if (k >= hex(op.start) && k < hex(op.end)) model.delete(k);
          }
          await db.write(batch, { sync: rand.next() < 0.3 });
          const want = [...model.keys()].sort();
          const got = await db.scan();
          expect(keysOf(got), `seed ${seed} round ${round}`).toEqual(want);
          expect(got.map((r) => hex(r.value))).toEqual(want.map((k) => hex(model.get(k)!)));
          const lo = key();
          const limit = rand.int(5);
          expect(keysOf(await db.scan({ end: lo, reverse: true, limit })), `seed ${seed} round ${round}`).toEqual(
            want.filter((k) => k < hex(lo)).reverse().slice(0, limit),
          );
        }
      });
    });

    describeStorageConformanceMore(name, target);
  });
}
