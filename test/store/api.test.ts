/**
 * The client API end to end on an in-page cluster (3 stores, 3 regions): every operation, and
 * bad input refused with a typed error that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import type { KvClient } from '../../src/client/client.ts';
import { FlotillaError } from '../../src/errors.ts';
import { drive, text, virtualCluster } from './helpers.ts';

let cluster: LocalCluster;
let clock: VirtualClock;
let client: KvClient;
const run = <T>(p: Promise<T>) => drive(clock, p);

beforeAll(async () => {
  ({ cluster, clock } = await virtualCluster({ stores: 3, initialSplitKeys: ['g', 'p'] }));
  client = cluster.client();
});
afterAll(() => cluster.close());

async function expectCode(p: Promise<unknown>, code: string) {
  const err = await run(p).then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(FlotillaError);
  expect((err as FlotillaError).code).toBe(code);
}

describe('KV API', () => {
  it('put / get / containsKey / delete', async () => {
    expect(await run(client.put('a1', 'x'))).toBe(true);
    expect(text(await run(client.get('a1')))).toBe('x');
    expect(await run(client.containsKey('a1'))).toBe(true);
    expect(await run(client.delete('a1'))).toBe(true);
    expect(await run(client.containsKey('a1'))).toBe(false);
  });

  it('getAndPut, compareAndPut, putIfAbsent, merge', async () => {
    expect(await run(client.getAndPut('b1', 'v1'))).toBeNull();
    expect(text(await run(client.getAndPut('b1', 'v2')))).toBe('v1');
    expect(await run(client.compareAndPut('b1', 'wrong', 'v3'))).toBe(false);
    expect(await run(client.compareAndPut('b1', 'v2', 'v3'))).toBe(true);
    expect(await run(client.compareAndPut('b2', null, 'new'))).toBe(true);
    expect(text(await run(client.putIfAbsent('b2', 'other')))).toBe('new');
    expect(await run(client.putIfAbsent('b3', 'first'))).toBeNull();
    await run(client.merge('b4', 'x'));
    await run(client.merge('b4', 'y'));
    expect(text(await run(client.get('b4')))).toBe('x,y');
  });

  it('batch put / delete / compareAndPut across regions, multiGet in key order', async () => {
    const keys = ['c', 'h', 'q', 'z'];
    expect(await run(client.putAll(keys.map((k) => ({ key: k, value: `v-${k}` }))))).toBe(true);
    const got = await run(client.multiGet(['z', 'c', 'q', 'h', 'missing', 'c']));
    expect(got.map((e) => [text(e.key), text(e.value)])).toEqual([
      ['c', 'v-c'],
      ['h', 'v-h'],
      ['missing', null],
      ['q', 'v-q'],
      ['z', 'v-z'],
    ]);
    expect(await run(client.compareAndPutAll([{ key: 'c', expect: 'v-c', update: 'c2' }, { key: 'q', expect: 'nope', update: 'q2' }]))).toBe(false);
    // Atomic within a region: the 'q' part failed and wrote nothing; the 'c' part is its own region.
    expect(text(await run(client.get('q')))).toBe('v-q');
    expect(await run(client.deleteAll(['c', 'h', 'q', 'z']))).toBe(true);
    expect((await run(client.multiGet(keys))).every((e) => e.value === null)).toBe(true);
  });

  it('scans across region boundaries, both ways, with limits and keys only', async () => {
    const keys = ['d1', 'f9', 'g0', 'k5', 'o9', 'p0', 'x1'];
    await run(client.putAll(keys.map((k) => ({ key: k, value: k.toUpperCase() }))));
    const all = await run(client.scan('d', 'y'));
    expect(all.map((e) => text(e.key))).toEqual(keys);
    const mid = await run(client.scan('f', 'p0'));
    expect(mid.map((e) => text(e.key))).toEqual(['f9', 'g0', 'k5', 'o9']);
    const rev = await run(client.reverseScan('d', 'y', { limit: 3 }));
    expect(rev.map((e) => text(e.key))).toEqual(['x1', 'p0', 'o9']);
    const keysOnly = await run(client.scan('g', 'p', { returnValue: false }));
    expect(keysOnly.every((e) => e.value === null)).toBe(true);
    const seen: string[] = [];
    await run(
      (async () => {
        for await (const row of client.iterator('d', 'y', { pageSize: 2 })) seen.push(text(row.key)!);
      })(),
    );
    expect(seen).toEqual(keys);
    await run(client.deleteRange('d', 'y'));
    expect(await run(client.scan('d', 'y'))).toEqual([]);
  });

  it('sequences never hand out a number twice', async () => {
    expect(await run(client.getSequence('seq', 10))).toEqual({ startValue: 0, endValue: 10 });
    expect(await run(client.getSequence('seq', 5))).toEqual({ startValue: 10, endValue: 15 });
    expect(await run(client.getLatestSequence('seq'))).toBe(15);
    await run(client.resetSequence('seq'));
    expect(await run(client.getLatestSequence('seq'))).toBe(0);
  });

  it('distributed locks with a rising fencing token', async () => {
    const a = client.getDistributedLock('lock-1', 1000);
    const b = cluster.client().getDistributedLock('lock-1', 1000);
    expect(await run(a.tryLock())).toBe(true);
    const t1 = a.fencingToken;
    expect(t1).toBeGreaterThan(0);
    expect(await run(b.tryLock())).toBe(false);
    expect(await run(a.unlock())).toBe(true);
    expect(await run(b.tryLock())).toBe(true);
    expect(b.fencingToken).toBeGreaterThan(t1);
  });

  it('reads with every consistency level', async () => {
    await run(client.put('r1', 'v'));
    for (const consistency of ['linearizable', 'lease', 'follower', 'stale'] as const) {
      // A stale read may lag; the write above has applied on the leader it is served by or soon after.
      const v = await run(client.get('r1', { consistency }));
      if (consistency !== 'stale') expect(text(v)).toBe('v');
    }
  });

  it('refuses bad input with typed errors and changes nothing', async () => {
    await expectCode(client.put('', 'v'), 'InvalidArgument');
    await expectCode(client.put('k', new Uint8Array(5 * 1024 * 1024)), 'ValueTooLarge');
    await expectCode(client.put('k'.repeat(5000), 'v'), 'KeyTooLarge');
    await expectCode(client.scan('z', 'a'), 'InvalidArgument');
    await expectCode(client.getSequence('s', -1), 'InvalidArgument');
    expect(() => client.getDistributedLock('l', 0)).toThrow(FlotillaError);
    await expectCode(client.put(42 as unknown as string, 'v'), 'InvalidArgument');
    expect(await run(client.containsKey('k'))).toBe(false);
  });
});

describe('client identity', () => {
  it('a client that reuses an id moves its seq past the old session instead of failing', async () => {
    const first = cluster.client({ clientId: 'reused-id' });
    for (let i = 0; i < 3; i++) await run(first.put(`ri-${i}`, 'old'));
    const second = cluster.client({ clientId: 'reused-id' });
    expect(await run(second.getAndPut('ri-0', 'new'))).toEqual(new TextEncoder().encode('old'));
    expect(text(await run(second.get('ri-0')))).toBe('new');
  });
});
