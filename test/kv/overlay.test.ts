/**
 * WriteOverlay: reads through pending puts, deletes and range deletes must equal the engine after
 * the overlay's batch is written, for random op sequences (seeded) over keys with 0x00/0xFF bytes;
 * child overlays stage writes that vanish unless merged.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import { WriteOverlay } from '../../src/kv/index.ts';
import type { KeyValue } from '../../src/ports.ts';
import { createSeededRand } from '../../src/util/rand.ts';

const ALPHABET = [0x00, 0x01, 0x7f, 0xfe, 0xff];
const hex = (kvs: KeyValue[]) => kvs.map((kv) => `${Buffer.from(kv.key).toString('hex')}=${Buffer.from(kv.value).toString('hex')}`);

function randomKey(rand: ReturnType<typeof createSeededRand>): Uint8Array {
  return Uint8Array.from({ length: 1 + rand.int(3) }, () => ALPHABET[rand.int(ALPHABET.length)]);
}

describe('WriteOverlay', () => {
  it('tells apart long keys that differ only past the first few thousand bytes, also when merged from a child', async () => {
    const a = new Uint8Array(10_000).fill(7);
    const b = a.slice();
    b[9_999] = 8;
    const overlay = new WriteOverlay(createMemoryStorage());
    const child = overlay.child();
    child.put(a, Uint8Array.of(1));
    child.put(b, Uint8Array.of(2));
    child.mergeInto(overlay);
    expect(await overlay.get(a)).toEqual(Uint8Array.of(1));
    expect(await overlay.get(b)).toEqual(Uint8Array.of(2));
    expect(overlay.opCount).toBe(2);
    expect(overlay.byteSize).toBe(2 * 10_001);
  });

  it('hands out copies of pending values, which it hands over to the engine as they are', async () => {
    const overlay = new WriteOverlay(createMemoryStorage());
    overlay.put(Uint8Array.of(1), Uint8Array.of(10, 11));
    (await overlay.get(Uint8Array.of(1)))!.fill(0);
    const [row] = await overlay.scan();
    row.key.fill(0);
    row.value.fill(0);
    expect(await overlay.get(Uint8Array.of(1))).toEqual(Uint8Array.of(10, 11));
    expect(overlay.toWriteOps()).toEqual([{ type: 'put', key: Uint8Array.of(1), value: Uint8Array.of(10, 11) }]);
  });

  it('reads like the engine will after its batch is written (seeded random ops)', async () => {
    console.log('overlay property seeds: 1000..1024');
    for (let run = 0; run < 25; run++) {
      const seed = 1000 + run;
      const rand = createSeededRand(seed);
      const engine = createMemoryStorage();
      await engine.write(Array.from({ length: 20 }, () => ({ type: 'put' as const, key: randomKey(rand), value: Uint8Array.of(rand.int(256)) })));
      const overlay = new WriteOverlay(engine);
      const mirror = createMemoryStorage();
      await mirror.write((await engine.scan()).map((kv) => ({ type: 'put' as const, ...kv })));
      for (let i = 0; i < 40; i++) {
        const kind = rand.int(4);
        const key = randomKey(rand);
        let staged: WriteOverlay = overlay;
        const useChild = rand.int(3) === 0;
        if (useChild) staged = overlay.child();
        if (kind <= 1) {
          const value = Uint8Array.of(rand.int(256));
          staged.put(key, value);
          await mirror.write([{ type: 'put', key, value }]);
        } else if (kind === 2) {
          staged.delete(key);
          await mirror.write([{ type: 'delete', key }]);
        } else {
          const other = randomKey(rand);
          const [start, end] = Buffer.compare(key, other) <= 0 ? [key, other] : [other, key];
          staged.deleteRange(start, end);
          await mirror.write([{ type: 'deleteRange', start, end }]);
        }
        if (useChild) staged.mergeInto(overlay);
        const probe = randomKey(rand);
        expect(await overlay.get(probe), `seed ${seed} step ${i}`).toEqual(await mirror.get(probe));
        const limit = 1 + rand.int(6);
        const reverse = rand.int(2) === 0;
        const a = randomKey(rand);
        expect(hex(await overlay.scan({ start: a, limit, reverse })), `seed ${seed} step ${i}`).toEqual(hex(await mirror.scan({ start: a, limit, reverse })));
        expect(hex(await overlay.scan({ end: a, reverse })), `seed ${seed} step ${i}`).toEqual(hex(await mirror.scan({ end: a, reverse })));
      }
      await engine.write(overlay.toWriteOps());
      expect(hex(await engine.scan()), `seed ${seed}`).toEqual(hex(await mirror.scan()));
    }
  });

  it('scan pages through a base larger than the limit when pending deletes shadow it', async () => {
    const engine = createMemoryStorage();
    await engine.write(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: Uint8Array.of(i), value: Uint8Array.of(i) })));
    const overlay = new WriteOverlay(engine);
    overlay.deleteRange(Uint8Array.of(0), Uint8Array.of(60));
    for (let i = 60; i < 90; i += 2) overlay.delete(Uint8Array.of(i));
    const got = await overlay.scan({ limit: 3 });
    expect(got.map((kv) => kv.key[0])).toEqual([61, 63, 65]);
    const back = await overlay.scan({ limit: 3, reverse: true, end: Uint8Array.of(92) });
    expect(back.map((kv) => kv.key[0])).toEqual([91, 90, 89]);
  });

  it('a child overlay that is not merged leaves nothing behind', async () => {
    const engine = createMemoryStorage();
    const overlay = new WriteOverlay(engine);
    overlay.put(Uint8Array.of(1), Uint8Array.of(1));
    const child = overlay.child();
    child.put(Uint8Array.of(2), Uint8Array.of(2));
    child.deleteRange(Uint8Array.of(0), Uint8Array.of(5));
    expect(await child.get(Uint8Array.of(1))).toBeUndefined();
    expect(await overlay.get(Uint8Array.of(1))).toEqual(Uint8Array.of(1));
    expect(overlay.toWriteOps()).toEqual([{ type: 'put', key: Uint8Array.of(1), value: Uint8Array.of(1) }]);
    expect(overlay.opCount).toBe(1);
    expect(overlay.byteSize).toBe(2);
  });
});
