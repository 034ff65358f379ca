/**
 * Batched reads: the client merges concurrent gets of one consistency into one `multiGet` per
 * region (RheaKV's get batching), and the store answers every read queued together with one
 * ReadIndex round, or, for lease reads while the lease holds, with no Raft round at all.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { createMemoryStorage } from '../../adapters/storage/memory.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { encodeUtf8 } from '../../src/codec/utf8.ts';
import { InvalidArgumentError } from '../../src/errors.ts';
import type { KvReadOp } from '../../src/kv/commands.ts';
import { RawNode } from '../../src/raft/rawnode.ts';
import type { ReadConsistency } from '../../src/store/region-peer.ts';
import type { StorageEngine } from '../../src/ports.ts';
import type { StoreEngine } from '../../src/store/store-engine.ts';
import { drive, elapse, text, tick, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
let clock: VirtualClock;
afterEach(async () => {
  vi.restoreAllMocks();
  await cluster?.close();
  cluster = undefined;
});

async function start(initialSplitKeys: string[] = [], storage?: (storeId: number) => StorageEngine): Promise<LocalCluster> {
  const v = await virtualCluster({ stores: 3, initialSplitKeys, storage });
  clock = v.clock;
  cluster = v.cluster;
  return cluster;
}

interface Call {
  storeId: number;
  regionId: number;
  op: KvReadOp;
  consistency: ReadConsistency;
}

/** Records every read request any store receives. */
function recordReads(c: LocalCluster): Call[] {
  const calls: Call[] = [];
  for (const id of c.storeIds) {
    const store = c.store(id)!;
    const original = store.read.bind(store);
    vi.spyOn(store, 'read').mockImplementation((regionId, epoch, op, consistency = 'linearizable') => {
      calls.push({ storeId: id, regionId, op, consistency });
      return original(regionId, epoch, op, consistency);
    });
  }
  return calls;
}

/** The store leading `regionId`, and that region's current epoch. */
function leaderOf(c: LocalCluster, regionId: number): { store: StoreEngine; epoch: { confVer: number; version: number } } {
  for (const id of c.storeIds) {
    const store = c.store(id)!;
    const info = store.regions().find((r) => r.region.id === regionId);
    if (info && info.leaderStoreId === id) return { store, epoch: info.region.epoch };
  }
  throw new Error(`region ${regionId} has no leader`);
}

const keysOf = (op: KvReadOp): string[] => (op.type === 'multiGet' ? op.keys.map((k) => text(k)!) : op.type === 'get' ? [text(op.key)!] : []);

describe('client get batching', () => {
  it('concurrent gets of one consistency travel as one multiGet, each caller getting its own value', async () => {
    const c = await start();
    const kv = c.client();
    await drive(clock, kv.putAll([{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: '3' }]));
    const calls = recordReads(c);
    const got = await drive(clock, Promise.all(['a', 'b', 'c', 'missing', 'a'].map((k) => kv.get(k))));
    expect(got.map(text)).toEqual(['1', '2', '3', null, '1']);
    expect(calls).toHaveLength(1);
    expect(calls[0].op.type).toBe('multiGet');
    expect(keysOf(calls[0].op)).toEqual(['a', 'b', 'c', 'missing', 'a']);
    expect(calls[0].consistency).toBe('linearizable');
  });

  it('gets of different consistencies do not share a request', async () => {
    const c = await start();
    const kv = c.client();
    await drive(clock, kv.putAll([{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: '3' }]));
    const calls = recordReads(c);
    const got = await drive(clock, Promise.all([kv.get('a', { consistency: 'lease' }), kv.get('b'), kv.get('c', { consistency: 'lease' })]));
    expect(got.map(text)).toEqual(['1', '2', '3']);
    const byConsistency = Object.fromEntries(calls.map((call) => [call.consistency, keysOf(call.op)]));
    expect(calls).toHaveLength(2);
    expect(byConsistency).toEqual({ lease: ['a', 'c'], linearizable: ['b'] });
  });

  it('a failed region part fails only its own gets; a bad key fails alone', async () => {
    const c = await start(['m']);
    const kv = c.client();
    await drive(clock, kv.putAll([{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'y', value: '3' }, { key: 'z', value: '4' }]));
    const right = (await drive(clock, kv.regions())).find((r) => text(r.startKey) === 'm')!;
    const boom = new InvalidArgumentError('op', 'refused by the test');
    for (const id of c.storeIds) {
      const store = c.store(id)!;
      const original = store.read.bind(store);
      vi.spyOn(store, 'read').mockImplementation((regionId, epoch, op, consistency) => (regionId === right.id ? Promise.reject(boom) : original(regionId, epoch, op, consistency)));
    }
    const settle = (p: Promise<Uint8Array | null>) =>
      p.then(
        (v) => text(v),
        (e: Error) => e,
      );
    const got = await drive(clock, Promise.all(['a', 'y', 'b', 'z', 'k'.repeat(5000)].map((k) => settle(kv.get(k)))));
    expect(got.slice(0, 4)).toEqual(['1', boom, '2', boom]);
    expect(got[4]).toMatchObject({ code: 'KeyTooLarge' });
  });

  it('a split between routing and sending regroups the batch by region', async () => {
    const c = await start();
    const kv = c.client();
    await drive(clock, kv.putAll([{ key: 'a', value: '1' }, { key: 'z', value: '2' }]));
    const [only] = await drive(clock, kv.regions());
    // Another client splits the region: `kv` still routes both keys to the parent's old epoch.
    await drive(clock, c.client().admin.splitRegion(only.id, 'm'));
    await drive(clock, c.waitForLeaders());
    const calls = recordReads(c);
    const got = await drive(clock, Promise.all([kv.get('a'), kv.get('z')]));
    expect(got.map(text)).toEqual(['1', '2']);
    expect(keysOf(calls[0].op)).toEqual(['a', 'z']);
    // After the refusal (EpochNotMatch) each key goes to its own region (a request may be retried
    // on another replica, following a leader hint).
    const after = calls.slice(1);
    expect(after.every((call) => keysOf(call.op).length === 1)).toBe(true);
    const regionOf = new Map(after.map((call) => [keysOf(call.op)[0], call.regionId]));
    expect(regionOf.size).toBe(2);
    expect(regionOf.get('a')).not.toBe(regionOf.get('z'));
  });
});

describe('store read path', () => {
  it('reads queued together share one ReadIndex round, which goes out at once (no tick)', async () => {
    const c = await start();
    const kv = c.client();
    await drive(clock, kv.put('a', '1'));
    const [region] = await drive(clock, kv.regions());
    const { store, epoch } = leaderOf(c, region.id);
    const rounds = vi.spyOn(RawNode.prototype, 'readIndex');
    const reads = Array.from({ length: 5 }, () => store.read(region.id, epoch, { type: 'get', key: encodeUtf8('a') }, 'linearizable'));
    let done = 0;
    for (const r of reads) void r.then(() => done++);
    // The simulated network delivers in 1 virtual ms; a tick is 50. A round that waited for a
    // tick or another timer would not finish within a few ms.
    let ms = 0;
    for (; ms < 5 && done < reads.length; ms++) {
      await tick();
      clock.advance(1);
      await tick();
    }
    expect(done).toBe(reads.length);
    expect((await Promise.all(reads)).map((v) => text(v as Uint8Array))).toEqual(['1', '1', '1', '1', '1']);
    expect(rounds).toHaveBeenCalledTimes(1);
  });

  it('a lease read while the lease holds takes no Raft round and no loop turn', async () => {
    const c = await start();
    const kv = c.client();
    await drive(clock, kv.put('a', '1'));
    await elapse(clock, 200); // heartbeats acknowledged: the lease holds
    const [region] = await drive(clock, kv.regions());
    const { store, epoch } = leaderOf(c, region.id);
    const rounds = vi.spyOn(RawNode.prototype, 'readIndex');
    const turns = store.counters.turns;
    const value = await store.read(region.id, epoch, { type: 'multiGet', keys: [encodeUtf8('a'), encodeUtf8('b')] }, 'lease');
    expect((value as Array<Uint8Array | null>).map(text)).toEqual(['1', null]);
    expect(rounds).not.toHaveBeenCalled();
    expect(store.counters.turns).toBe(turns);
  });

  it('a lease read never sees an applied entry before its apply batch is written', async () => {
    // Holds back, on one store, the engine write that puts `value` into the data (the apply batch).
    let gatedStore = 0;
    let release: (() => void) | undefined;
    let held = false;
    const value = encodeUtf8('2');
    const storage = (storeId: number): StorageEngine => {
      const engine = createMemoryStorage();
      return {
        ...engine,
        async write(batch, opts) {
          const applies = batch.some((op) => op.type === 'put' && op.value.length === 1 && op.value[0] === value[0]);
          if (storeId === gatedStore && applies) {
            held = true;
            await new Promise<void>((r) => (release = r));
          }
          return engine.write(batch, opts);
        },
      };
    };
    const c = await start([], storage);
    const kv = c.client();
    await drive(clock, kv.put('a', '1'));
    await elapse(clock, 200);
    const [region] = await drive(clock, kv.regions());
    const { store, epoch } = leaderOf(c, region.id);
    gatedStore = store.storeId;
    const write = kv.put('a', '2');
    for (let ms = 0; ms < 100 && !held; ms++) {
      clock.advance(1);
      await tick();
    }
    expect(held).toBe(true);
    // The leader has applied the entry (its applied index covers the commit index) but the engine
    // does not hold it yet. Another replica may already serve it, so a lease read here must wait.
    const read = store.read(region.id, epoch, { type: 'get', key: encodeUtf8('a') }, 'lease');
    let early: unknown = 'pending';
    void read.then((v) => (early = text(v as Uint8Array)));
    await elapse(clock, 5);
    expect(early).toBe('pending');
    release?.();
    expect(text((await drive(clock, read)) as Uint8Array)).toBe('2');
    await drive(clock, write);
  });
});
