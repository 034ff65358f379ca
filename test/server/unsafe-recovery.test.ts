/**
 * `flotilla recover --unsafe` with real `flotilla serve` processes: two of a region's three
 * replicas are killed with SIGKILL and their data directories wiped (lost for good); recover
 * brings the region back from the survivor, which serves reads and writes again, with every key
 * acknowledged before that it held. With PD (five stores, PD's group keeping its majority), PD
 * then re-replicates the recovered region onto the live stores. Waits on conditions, never on
 * fixed sleeps.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RemoteKvClient } from '../../adapters/client/remote.ts';
import { spawnFlotilla } from '../../scripts/cluster-processes.ts';
import { logsOnFailure, SECRET, startCluster, type TestCluster } from './helpers.ts';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const text = (v: Uint8Array | null) => (v === null ? '(none)' : new TextDecoder().decode(v));

async function flotilla(c: TestCluster, ids: number[], args: string[]): Promise<{ code: number | string; out: string }> {
  const endpoints = ids.map((id) => `127.0.0.1:${c.ports[id - 1]}`).join(',');
  const p = spawnFlotilla('node', [...args, '--endpoints', endpoints], { FLOTILLA_SECRET: SECRET });
  const code = await p.exited;
  return { code, out: p.stdout + p.stderr };
}

/** Waits until `cond` holds (polling every 200 ms) or throws after `ms`. */
async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms (last error: ${String(last)})`);
}

/** Kills store `id` with SIGKILL and wipes its data directory: lost for good. */
async function lose(c: TestCluster, id: number): Promise<void> {
  await c.kill(id);
  rmSync(join(c.dir, `store-${id}`), { recursive: true, force: true });
}

async function writeKeys(kv: RemoteKvClient, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await kv.put(`${prefix}${i}`, `v${i}`);
}

describe('flotilla recover --unsafe (processes)', () => {
  it('3 stores: two replicas killed and wiped, the survivor serves the region again with the keys it held', async () => {
    cluster = await startCluster(3, [], ['--no-pd']);
    logsOnFailure(cluster);
    const c = cluster;
    const kv = await c.client();
    try {
      await writeKeys(kv, 'k', 40);
      const [region] = await kv.admin.regions();
      // Store 1 holds every acknowledged write (the test checks keys present on the survivor).
      await c.caughtUp(region.id, [1, 2, 3]);
    } finally {
      kv.close();
    }
    await lose(c, 2);
    await lose(c, 3);

    // Refused first: store 1 answers, so it is not lost; and without --unsafe.
    const refused = await flotilla(c, [1], ['recover', '--unsafe', '--lost', '1,2']);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain('store 1 answers: it is not lost');
    const noFlag = await flotilla(c, [1], ['recover', '--lost', '2,3']);
    expect(noFlag.code, noFlag.out).toBe(2);

    const run = await flotilla(c, [1], ['recover', '--unsafe', '--lost', '2,3']);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/region \d+: recovered from store 1 .*replicas now on stores 1\n/);

    const after = await c.client([1]);
    try {
      for (let i = 0; i < 40; i++) expect(text(await after.get(`k${i}`))).toBe(`v${i}`);
      await after.put('after', 'recovery');
      expect(text(await after.get('after'))).toBe('recovery');
      const [r] = await after.admin.regions();
      expect(r.peers.map((p) => p.storeId)).toEqual([1]);
    } finally {
      after.close();
    }
    // Nothing left to do: refused clearly.
    const again = await flotilla(c, [1], ['recover', '--unsafe', '--lost', '2,3']);
    expect(again.code, again.out).toBe(1);
    expect(again.out).toContain('nothing to recover');
  }, 240_000);

  it("5 stores with PD: a region on stores 1,4,5 loses 4 and 5; recovered from store 1, PD re-replicates it onto live stores", async () => {
    cluster = await startCluster(5, [], ['--replicas', '3']);
    logsOnFailure(cluster);
    const c = cluster;
    const kv = await c.client();
    let regionId = 0;
    try {
      await writeKeys(kv, 'p', 30);
      regionId = (await kv.admin.regions())[0].id;
      // Place the region on stores 1, 4 and 5 (PD's group stays on 1, 2, 3): add 4 and 5, drop 2 and 3.
      await until(
        'region on stores 1,4,5',
        async () => {
          const r = (await kv.admin.regions()).find((x) => x.id === regionId)!;
          const on = r.peers.map((p) => p.storeId).sort();
          if (on.join() === '1,4,5') return true;
          for (const s of [4, 5]) if (!on.includes(s)) await kv.admin.addReplica(regionId, s);
          const now = (await kv.admin.regions()).find((x) => x.id === regionId)!;
          if (now.leaderStoreId !== 1) await kv.admin.transferLeader(regionId, 1);
          for (const s of [2, 3]) if (now.peers.some((p) => p.storeId === s)) await kv.admin.removeReplica(regionId, s);
          return false;
        },
        90_000,
      );
      await c.caughtUp(regionId, [1, 4, 5]);
    } finally {
      kv.close();
    }
    await lose(c, 4);
    await lose(c, 5);

    const run = await flotilla(c, [1, 2, 3], ['recover', '--unsafe', '--lost', '4,5']);
    expect(run.code, run.out).toBe(0);
    // (PD may have placed one more replica meanwhile: the survivors are whatever is not on 4 or 5.)
    const line = run.out.split('\n').find((l) => l.startsWith(`region ${regionId}: recovered from store `)) ?? '';
    expect(line, run.out).toMatch(/recovered from store [123] .*replicas now on stores [123](,[123])*$/);

    const after = await c.client([1, 2, 3]);
    try {
      for (let i = 0; i < 30; i++) expect(text(await after.get(`p${i}`))).toBe(`v${i}`);
      await after.put('after', 'recovery');
      // PD learns the new membership from the leader's heartbeats and adds replicas on 2 and 3.
      await until(
        'PD re-replicates the recovered region to three voters',
        async () => {
          const r = (await after.admin.regions()).find((x) => x.id === regionId);
          return r !== undefined && r.peers.filter((p) => p.role === 'voter' && [1, 2, 3].includes(p.storeId)).length === 3;
        },
        120_000,
      );
      expect(text(await after.get('after'))).toBe('recovery');
    } finally {
      after.close();
    }
  }, 300_000);
});
