/**
 * A mixed cluster: stores 1 and 2 under Node, store 3 under Deno (`deno run -A bin/cli.ts serve`),
 * PD on. The Deno store leads a region, is SIGKILLed, the cluster keeps
 * serving, and the restarted Deno store catches up. Then a fourth store joins with `--join` (its
 * id assigned by the cluster), clients discover it, and once store 3 is drained (`flotilla
 * remove-store`) PD moves its replicas to the newcomer, the region's 17 MiB snapshot as a chunk
 * stream.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFlotilla, type StoreProcess, waitListening } from '../../scripts/cluster-processes.ts';
import { FAST, logsOnFailure, SECRET, startCluster, type TestCluster } from './helpers.ts';

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
let cluster: TestCluster;
let joined: StoreProcess | undefined;

beforeAll(async () => {
  // One initial region: PD would merge several empty ones, and a merge sent to a store that is then
  // killed blocks its regions until PD's operator timeout (60 s).
  cluster = await startCluster(3, ['node', 'node', 'deno'], [], 1);
}, 120_000);

afterAll(async () => {
  joined?.child.kill('SIGKILL');
  await cluster?.close();
});

async function waitFor(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a mixed Node and Deno cluster', () => {
  it('serves through the Deno store, survives its SIGKILL as leader, and the restarted Deno store catches up', async () => {
    logsOnFailure(cluster);
    const viaDeno = await cluster.client([3]);
    const viaNode = await cluster.client([1]);
    try {
      await viaNode.put('apple', 'red');
      expect(text(await viaDeno.get('apple'))).toBe('red');
      const region = (await viaDeno.admin.regions()).find((r) => r.startKey.length === 0)!;
      // PD balances leaders meanwhile: ask again until store 3 leads.
      await waitFor('store 3 (Deno) to lead the region', 20_000, async () => {
        if ((await cluster.leaderOf(region.id, 2000)) === 3) return true;
        await viaDeno.admin.transferLeader(region.id, 3).catch(() => undefined);
        return (await cluster.leaderOf(region.id, 2000)) === 3;
      });
      // Every replica reached by a leader first: one that never was withholds its vote (docs/store-identity.md).
      await cluster.caughtUp(region.id);
      await cluster.kill(3);
      for (let i = 0; i < 10; i++) await viaNode.put(`a${i}`, String(i));
      expect(text(await viaNode.get('apple'))).toBe('red');
      await cluster.restart(3);
      // The Deno store catches up.
      await cluster.caughtUp(region.id, [3], 20_000);
      expect(text(await viaDeno.get('a9'))).toBe('9');
    } finally {
      viaDeno.close();
      viaNode.close();
    }
  });

  it('adds a fourth store with --join: it gets id 4, clients find it; draining store 3 moves its replicas there', { timeout: 90_000 }, async () => {
    // Over 16 MiB in the region: its snapshot to the newcomer exceeds one frame and goes as a chunk stream.
    logsOnFailure(cluster);
    const big = await cluster.client([1]);
    const blob = (i: number) => new Uint8Array(3_500_000).fill(i + 1);
    for (let i = 0; i < 5; i++) await big.put(`big/${i}`, blob(i));
    big.close();
    const args = ['serve', '--join', `127.0.0.1:${cluster.ports[0]}`, '--listen', `127.0.0.1:${cluster.ports[3]}`, '--http', `127.0.0.1:${cluster.httpPorts[3]}`, '--data', join(cluster.dir, 'store-4'), ...FAST];
    joined = spawnFlotilla('node', args, { FLOTILLA_SECRET: SECRET });
    await waitListening(joined);
    expect(joined.stdout).toMatch(/store 4 listening/);
    cluster.stores.set(4, joined);
    const kv = await cluster.client([2]);
    try {
      await waitFor('the clients to learn of store 4', 10_000, async () => {
        await kv.refreshStores();
        return kv.stores().some((s) => s.id === 4 && s.url === cluster.endpoint(4));
      });
      // Drain store 3 (flotilla remove-store): PD moves its data replicas to the newcomer.
      const removal = spawnFlotilla('node', ['remove-store', '--store', '3', '--endpoints', `127.0.0.1:${cluster.ports[1]}`], { FLOTILLA_SECRET: SECRET });
      expect(await removal.exited, removal.stderr).toBe(0);
      const dataRegions = async (id: number) => (await cluster.status(id)).regions.filter((r) => r.id !== Number.MAX_SAFE_INTEGER);
      await waitFor('PD to move store 3 replicas to store 4', 60_000, async () => {
        const on4 = await dataRegions(4);
        return (await dataRegions(3)).length === 0 && on4.length > 0 && on4.every((r) => r.peers.find((p) => p.storeId === 4)?.role === 'voter');
      });
      const metrics = await (await fetch(`http://127.0.0.1:${cluster.httpPorts[3]}/metrics`)).text();
      expect(Number(/^flotilla_store_snapshots_installed_total\{store="4"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
      // Store 4 leads and serves the big values from the snapshot it received.
      const regionId = (await dataRegions(4))[0].id;
      await waitFor('store 4 to lead', 20_000, async () => {
        if ((await cluster.leaderOf(regionId, 2000)) === 4) return true;
        await kv.admin.transferLeader(regionId, 4).catch(() => undefined);
        return (await cluster.leaderOf(regionId, 2000)) === 4;
      });
      for (let i = 0; i < 5; i++) {
        const v = await kv.get(`big/${i}`, { consistency: 'lease' });
        expect(v?.length).toBe(3_500_000);
        expect(v?.every((b) => b === i + 1)).toBe(true);
      }
      for (const k of ['a', 'c', 'e', 'g', 'i', 'k', 'm']) await kv.put(k, k.toUpperCase());
      for (const k of ['a', 'c', 'e', 'g', 'i', 'k', 'm']) expect(text(await kv.get(k))).toBe(k.toUpperCase());
      const stores = await kv.admin.stores();
      expect(stores.find((s) => s.id === 4)).toMatchObject({ up: true });
      expect(stores.find((s) => s.id === 4)!.regions).toBeGreaterThanOrEqual(1);
    } finally {
      kv.close();
    }
  });
});
