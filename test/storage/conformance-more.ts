/**
 * The second half of the storage conformance suite: bad input, close and reopen, concurrent
 * batches, snapshots while writes go on, size estimates and buffer ownership.
 */
import { expect, it } from 'vitest';
import type { StorageEngine, WriteOp } from '../../src/ports.ts';
import type { ConformanceTarget } from './conformance.ts';
import { withEngine } from './conformance.ts';
import { b, hex, s } from './helpers.ts';

const put = (key: Uint8Array, value: Uint8Array): WriteOp => ({ type: 'put', key, value });

async function expectCode(p: Promise<unknown>, code: string, name?: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, `expected a rejection with code ${code}`).toBeInstanceOf(Error);
  expect((e as { code?: string }).code).toBe(code);
  if (name) expect((e as Error).name).toBe(name);
}

const values = (rows: { value: Uint8Array }[]) => rows.map((r) => String.fromCharCode(...r.value));

/** Declares the second half of the suite (called inside the first half's `describe`). */
export function describeStorageConformanceMore(_name: string, target: ConformanceTarget): void {
  it('rejects bad input with typed errors and applies nothing of the batch', async () => {
    await withEngine(target, async (db) => {
      await db.write([put(s('keep'), s('v'))]);
      const bad: unknown[] = ['str', [1, 2], new ArrayBuffer(2), null, undefined, 42, new Uint16Array(2)];
      for (const key of bad) {
        await expectCode(db.write([put(s('x'), s('1')), { type: 'put', key, value: s('v') } as WriteOp]), 'InvalidArgument', 'InvalidArgumentError');
        await expectCode(db.write([put(s('x'), s('1')), { type: 'put', key: s('k'), value: key } as WriteOp]), 'InvalidArgument');
        await expectCode(db.get(key as Uint8Array), 'InvalidArgument');
      }
      await expectCode(db.write([put(new Uint8Array(0), s('v'))]), 'InvalidArgument');
      await expectCode(db.write([{ type: 'bogus', key: s('k') } as unknown as WriteOp]), 'InvalidArgument');
      await expectCode(db.write('nope' as unknown as WriteOp[]), 'InvalidArgument');
      await expectCode(db.scan({ start: 'a' as unknown as Uint8Array }), 'InvalidArgument');
      await expectCode(db.scan({ limit: -1 }), 'InvalidArgument');
      await expectCode(db.approximateSize({ end: [1] as unknown as Uint8Array }), 'InvalidArgument');
      expect((await db.scan()).map((r) => hex(r.key))).toEqual([hex(s('keep'))]);
    });
  });

  it('enforces configurable key, value and batch limits (defaults 8 KiB keys, 8 MiB values)', async () => {
    const loc = await target.fresh();
    const db = await loc.open({ limits: { keyBytesMax: 16, valueBytesMax: 64, batchOpsMax: 3 } });
    try {
      await db.write([put(new Uint8Array(16), new Uint8Array(64))]);
      await expectCode(db.write([put(s('a'), s('1')), put(new Uint8Array(17), s('v'))]), 'KeyTooLarge', 'KeyTooLargeError');
      await expectCode(db.write([put(s('a'), s('1')), put(s('k'), new Uint8Array(65))]), 'ValueTooLarge', 'ValueTooLargeError');
      await expectCode(db.write([put(s('a'), s('1')), put(s('b'), s('1')), put(s('c'), s('1')), put(s('d'), s('1'))]), 'BatchTooLarge');
      await expectCode(db.get(new Uint8Array(17)), 'KeyTooLarge');
      expect((await db.scan()).length).toBe(1);
    } finally {
      await db.close();
      await loc.dispose?.();
    }
    await withEngine(target, async (d) => {
      await d.write([put(new Uint8Array(8 * 1024).fill(1), s('v'))]);
      await expectCode(d.write([put(new Uint8Array(8 * 1024 + 1), s('v'))]), 'KeyTooLarge');
    });
  });

  it('rejects every call after close with StorageClosedError; closing twice is fine', async () => {
    const loc = await target.fresh();
    const db = await loc.open();
    await db.write([put(s('a'), s('1'))]);
    const snap = await db.snapshot();
    await db.close();
    await db.close();
    const closed = 'StorageClosed';
    await expectCode(db.get(s('a')), closed, 'StorageClosedError');
    await expectCode(db.scan(), closed);
    await expectCode(db.write([put(s('b'), s('2'))]), closed);
    await expectCode(db.approximateSize(), closed);
    await expectCode(db.snapshot(), closed);
    await expectCode(snap.get(s('a')), closed);
    await loc.dispose?.();
  });

  it('keeps everything written, deleted and range-deleted across close and reopen (persistent engines)', async () => {
    const loc = await target.fresh();
    let db = await loc.open();
    await db.write([put(b(1), s('one')), put(b(2), s('two')), put(b(3), s('three')), put(b(9), new Uint8Array(0))], { sync: true });
    await db.write([{ type: 'delete', key: b(2) }]);
    await db.write([{ type: 'deleteRange', start: b(3), end: b(4) }, put(b(5), s('five'))], { sync: false });
    const before = (await db.scan()).map((r) => `${hex(r.key)}=${hex(r.value)}`);
    await db.close();
    db = await loc.open();
    try {
      const after = (await db.scan()).map((r) => `${hex(r.key)}=${hex(r.value)}`);
      expect(after).toEqual(target.persistent ? before : []);
      await db.write([put(b(6), s('six'))], { sync: true });
      expect((await db.get(b(6)))?.length).toBe(3);
    } finally {
      await db.close();
      await loc.dispose?.();
    }
  });

  it('applies concurrent batches atomically and in call order', async () => {
    await withEngine(target, async (db) => {
      const writers = 16;
      const perWriter = 12;
      const all: Promise<void>[] = [];
      for (let round = 0; round < perWriter; round++) {
        for (let w = 0; w < writers; w++) {
          // Every batch writes its own key and the shared key: the last call must win the shared one.
          all.push(db.write([put(s(`w${w}-${round}`), s(`${w}:${round}`)), put(s('shared'), s(`${w}:${round}`))], { sync: (w + round) % 3 === 0 }));
        }
      }
      await Promise.all(all);
      expect((await db.scan()).length).toBe(writers * perWriter + 1);
      expect(await db.get(s('shared'))).toEqual(s(`${writers - 1}:${perWriter - 1}`));
    });
  });

  it('serves a consistent snapshot while writes go on', async () => {
    await withEngine(target, async (db) => {
      await db.write(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => put(s(k), s(`${k}0`))));
      const pending = db.write([put(s('g'), s('g0'))]); // called before snapshot(): must be in it
      const snap = await db.snapshot();
      await pending;
      const writes = [
        db.write([put(s('a'), s('a1')), { type: 'delete', key: s('b') }, put(s('bb'), s('new'))]),
        db.write([{ type: 'deleteRange', start: s('c'), end: s('e') }], { sync: true }),
        db.write([put(s('0'), s('zero')), put(s('f'), s('f1'))]),
      ];
      const during = await snap.scan();
      await Promise.all(writes);
      const want = ['a0', 'b0', 'c0', 'd0', 'e0', 'f0', 'g0'];
      expect(values(during)).toEqual(want);
      expect(values(await snap.scan())).toEqual(want);
      expect(values(await snap.scan({ reverse: true, limit: 3 }))).toEqual(['g0', 'f0', 'e0']);
      expect(values(await snap.scan({ start: s('b'), end: s('e'), limit: 2 }))).toEqual(['b0', 'c0']);
      expect(await snap.get(s('b'))).toEqual(s('b0'));
      expect(await snap.get(s('bb'))).toBeUndefined();
      expect(await snap.get(s('0'))).toBeUndefined();
      expect(values(await db.scan())).toEqual(['zero', 'a1', 'new', 'e0', 'f1', 'g0']);
      snap.release();
      await expectCode(snap.scan(), 'StorageClosed');
    });
  });

  it('reports key count and bytes of ranges', async () => {
    await withEngine(target, async (db) => {
      await db.write([put(s('a1'), s('xx')), put(s('a2'), s('yyy')), put(s('b1'), new Uint8Array(10))]);
      expect(await db.approximateSize()).toEqual({ keys: 3, bytes: 6 + 2 + 3 + 10 });
      expect(await db.approximateSize({ start: s('a'), end: s('b') })).toEqual({ keys: 2, bytes: 9 });
      expect(await db.approximateSize({ start: s('b') })).toEqual({ keys: 1, bytes: 12 });
      expect(await db.approximateSize({ start: s('c'), end: s('a') })).toEqual({ keys: 0, bytes: 0 });
      await db.write([{ type: 'delete', key: s('a1') }, put(s('a2'), s('z'))]);
      expect(await db.approximateSize()).toEqual({ keys: 2, bytes: 3 + 12 });
    });
  });

  it('stores a handed-over batch like any other; reads still hand out copies', async () => {
    await withEngine(target, async (db: StorageEngine) => {
      const parent = s('xxvalue-in-a-viewxx');
      await db.write([put(s('a'), s('whole')), put(s('b'), parent.subarray(2, 17)), { type: 'delete', key: s('c') }], { handOver: true });
      expect(values(await db.scan())).toEqual(['whole', 'value-in-a-view']);
      const got = (await db.get(s('a')))!;
      got[0] = 0x7a;
      (await db.scan())[1].value[0] = 0x7a;
      expect(values(await db.scan())).toEqual(['whole', 'value-in-a-view']);
    });
  });

  it("owns its bytes: changing the caller's buffers later changes nothing stored", async () => {
    await withEngine(target, async (db: StorageEngine) => {
      const key = s('k');
      const value = s('value');
      await db.write([put(key, value)]);
      key[0] = 0x7a;
      value[0] = 0x7a;
      const got = (await db.get(s('k')))!;
      expect(got).toEqual(s('value'));
      got[0] = 0x7a;
      (await db.scan())[0].value[0] = 0x7a;
      expect(await db.get(s('k'))).toEqual(s('value'));
    });
  });
}
