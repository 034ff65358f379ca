/**
 * Backup fences (src/store/backup-fence.ts): a write after a region's fence waits (it is not
 * refused) until the thaw or until the fence's lease runs out; the reader opened at the fence sees
 * the region as it was then; a fence retried after its thaw fences nothing; takeBackup writes
 * files whose decoder accepts them, and refuses them once a byte changed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import { type BackupSink, takeBackup } from '../../src/client/backup.ts';
import { type BackupManifest, decodeManifest, encodeManifest, RegionFileDecoder } from '../../src/client/backup-format.ts';
import type { KvClient } from '../../src/client/client.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const dec = new TextDecoder();

/** Whether `p` settled by now. */
function watch<T>(p: Promise<T>): { settled: () => boolean } {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done };
}

async function thawAll(kv: KvClient, c: LocalCluster, backupId: string, clock: Parameters<typeof drive>[0]): Promise<number> {
  let n = 0;
  for (const s of c.storeIds) n += (await drive(clock, kv.admin.backupCall(s, backupId, { kind: 'thaw' }))) as number;
  return n;
}

/** A sink that keeps the files in memory. */
function memorySink(): { sink: BackupSink; files: Map<string, Uint8Array>; manifest: () => BackupManifest | undefined } {
  const files = new Map<string, Uint8Array>();
  let manifest: BackupManifest | undefined;
  return {
    files,
    manifest: () => manifest,
    sink: {
      async region(_id, file) {
        const parts: Uint8Array[] = [];
        return {
          async write(b) {
            parts.push(b.slice());
          },
          async close() {
            files.set(file, Buffer.concat(parts));
          },
        };
      },
      async finish(m) {
        manifest = decodeManifest(encodeManifest(m));
      },
    },
  };
}

function decodeFile(region: BackupManifest['regions'][number], bytes: Uint8Array, chunk: number): Map<string, string> {
  const d = new RegionFileDecoder(region);
  const out = new Map<string, string>();
  for (let at = 0; at < bytes.length; at += chunk) for (const p of d.push(bytes.subarray(at, at + chunk))) out.set(dec.decode(p.key), dec.decode(p.value));
  d.finish();
  return out;
}

describe('backup fence', () => {
  it('a write after the fence waits until the thaw, then applies; the reader sees the region at the fence', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.put('a', 'before'));
    const [region] = await drive(v.clock, kv.admin.regions());
    const fence = await drive(v.clock, kv.admin.backupFence(region.id, 'b1', 60_000));
    expect(fence.region.id).toBe(region.id);
    const write = kv.put('a', 'after');
    const w = watch(write);
    await elapse(v.clock, 2000);
    expect(w.settled()).toBe(false);
    // Reads up to the fence are still served.
    expect(text(await drive(v.clock, kv.get('a', { consistency: 'stale' })))).toBe('before');
    expect(await thawAll(kv, cluster, 'b1', v.clock)).toBeGreaterThanOrEqual(1);
    await drive(v.clock, write);
    expect(text(await drive(v.clock, kv.get('a')))).toBe('after');
    // The reader opened at the fence still sees the old value, after the thaw and the write.
    const page = await drive(v.clock, kv.admin.backupCall(fence.storeId, 'b1', { kind: 'read', regionId: region.id, maxBytes: 1 << 20 }));
    expect(page.done).toBe(true);
    expect(page.pairs.map((p) => [dec.decode(p.key.subarray(1)), dec.decode(p.value)])).toEqual([['a', 'before']]);
    expect(await drive(v.clock, kv.admin.backupCall(fence.storeId, 'b1', { kind: 'release' }))).toBe(1);
  });

  it('a fence thaws itself when its lease runs out; the same fence retried later fences nothing', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    const [region] = await drive(v.clock, kv.admin.regions());
    await drive(v.clock, kv.admin.backupFence(region.id, 'b2', 1500));
    const write = kv.put('k', 'v');
    const w = watch(write);
    await elapse(v.clock, 1000);
    expect(w.settled()).toBe(false);
    // No thaw comes (the backup tool died): the lease ends the fence on every replica.
    await drive(v.clock, write, 5000);
    expect(text(await drive(v.clock, kv.get('k')))).toBe('v');
    await expect(drive(v.clock, kv.admin.backupFence(region.id, 'b2', 1500))).rejects.toMatchObject({ code: 'ServerBusy' });
    // Writes flow with no wait: nothing is fenced.
    const next = kv.put('k', 'w');
    await drive(v.clock, next, 1000);
  });

  it('pages are bounded and resume after the last key; a page holds at least one pair', async () => {
    const v = await virtualCluster({ stores: 3 });
    cluster = v.cluster;
    const kv = cluster.client();
    await drive(v.clock, kv.putAll(Array.from({ length: 50 }, (_, i) => ({ key: `k${String(i).padStart(2, '0')}`, value: 'x'.repeat(40) }))));
    const [region] = await drive(v.clock, kv.admin.regions());
    const fence = await drive(v.clock, kv.admin.backupFence(region.id, 'b3', 60_000));
    await thawAll(kv, cluster, 'b3', v.clock);
    const keys: string[] = [];
    let after: Uint8Array | undefined;
    let pages = 0;
    for (;;) {
      const page = await drive(v.clock, kv.admin.backupCall(fence.storeId, 'b3', after ? { kind: 'read', regionId: region.id, after, maxBytes: 200 } : { kind: 'read', regionId: region.id, maxBytes: 200 }));
      pages++;
      expect(page.pairs.length).toBeGreaterThanOrEqual(page.done ? 0 : 1);
      expect(page.pairs.length).toBeLessThanOrEqual(5);
      for (const p of page.pairs) keys.push(dec.decode(p.key.subarray(1)));
      if (page.done) break;
      after = page.pairs[page.pairs.length - 1].key;
    }
    expect(keys).toEqual(Array.from({ length: 50 }, (_, i) => `k${String(i).padStart(2, '0')}`));
    expect(pages).toBeGreaterThanOrEqual(10);
  });

  it('the readers of one backup on a store share one engine view while their fences hold', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['k10', 'k20'] });
    cluster = v.cluster;
    const kv = cluster.client();
    const regions = await drive(v.clock, kv.admin.regions());
    // Every region led by one store, so that its fences open one view after the other.
    for (const r of regions) if (r.leaderStoreId !== 1) await drive(v.clock, kv.admin.transferLeader(r.id, 1));
    for (const [i, k] of ['k05', 'k15', 'k25'].entries()) await drive(v.clock, kv.put(k, `v${i}`));
    const fences = [];
    for (const [i, r] of regions.entries()) {
      // A write to a region not fenced yet, after other regions' fences: in the backup.
      if (i > 0) await drive(v.clock, kv.put(['k05', 'k15', 'k25'][i], `mid${i}`));
      fences.push(await drive(v.clock, kv.admin.backupFence(r.id, 'b4', 60_000)));
      expect(cluster.store(1)!.backup.viewCount).toBe(1);
      expect(cluster.store(1)!.backup.readerCount).toBe(i + 1);
    }
    expect(fences.every((f) => f.storeId === 1)).toBe(true);
    await thawAll(kv, cluster, 'b4', v.clock);
    for (const k of ['k05', 'k15', 'k25']) await drive(v.clock, kv.put(k, 'later'));
    // Each region reads as it was at its fence from the one shared view.
    for (const [i, r] of regions.entries()) {
      const page = await drive(v.clock, kv.admin.backupCall(1, 'b4', { kind: 'read', regionId: r.id, maxBytes: 1 << 20 }));
      expect(page.pairs.map((p) => dec.decode(p.value))).toEqual([i === 0 ? 'v0' : `mid${i}`]);
    }
    expect(await drive(v.clock, kv.admin.backupCall(1, 'b4', { kind: 'release' }))).toBe(3);
    expect(cluster.store(1)!.backup.viewCount).toBe(0);
  });

  it('takeBackup copies every region at one cut while writes go on; a changed byte is refused', async () => {
    const v = await virtualCluster({ stores: 3, initialSplitKeys: ['k10', 'k20'] });
    cluster = v.cluster;
    const kv = cluster.client();
    for (let i = 0; i < 30; i++) await drive(v.clock, kv.put(`k${String(i).padStart(2, '0')}`, '0'));
    // A writer that increments every key in turn, one write at a time.
    let stop = false;
    let acked = 0;
    const writer = (async () => {
      for (let round = 1; !stop; round++) {
        for (let i = 0; i < 30 && !stop; i++) {
          await kv.put(`k${String(i).padStart(2, '0')}`, String(round));
          acked++;
        }
      }
    })();
    await elapse(v.clock, 300);
    const ackedBefore = acked;
    const mem = memorySink();
    const result = await drive(v.clock, takeBackup(kv.admin, mem.sink, { clusterId: 'test', backupId: 'tb', clock: v.clock, wallClock: () => '2026-01-01T00:00:00.000Z', pageBytes: 64 }));
    stop = true;
    await drive(v.clock, writer);
    const m = mem.manifest()!;
    expect(m.regions.length).toBe(3);
    expect(result.manifest.regions.map((r) => r.pairs)).toEqual([10, 10, 10]);
    const state = new Map<string, number>();
    for (const r of m.regions) for (const [k, val] of decodeFile(r, mem.files.get(r.file)!, 7)) state.set(k.slice(1), Number(val));
    // Sequential writes over keys in order: the cut is a prefix of the write sequence.
    const writes = [...state.keys()].sort().map((k) => state.get(k)!);
    const total = writes.reduce((n, x) => n + x, 0);
    // Rounds form a prefix: keys k00..kj at round r+1, the rest at round r.
    const r = Math.min(...writes);
    expect(writes.every((x) => x === r || x === r + 1)).toBe(true);
    expect(writes.indexOf(r) === -1 || writes.slice(writes.indexOf(r)).every((x) => x === r)).toBe(true);
    expect(total).toBeGreaterThanOrEqual(ackedBefore);
    // Nothing left open on any store.
    for (const s of cluster.storeIds) expect(cluster.store(s)!.backup.readerCount).toBe(0);
    const region = m.regions[1];
    const bad = mem.files.get(region.file)!.slice();
    bad[bad.length - 20] ^= 1;
    expect(() => decodeFile(region, bad, 1000)).toThrow(/refused/);
    expect(() => decodeFile(region, mem.files.get(region.file)!.subarray(0, 30), 1000)).toThrow(/truncated/);
    expect(() => decodeManifest(encodeManifest(m).replace('"fenceIndex": ', '"fenceIndex": 1'))).toThrow(/checksum/);
  });
});
