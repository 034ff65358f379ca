/**
 * PD's own replicas move to live stores (docs/pd-membership.md), with five real `flotilla serve`
 * processes and writes going on throughout: PD's group grows to five voters; one PD store is
 * killed with SIGKILL and its data directory wiped (it comes back empty, under a new store id) and
 * PD gets a member on that new store; then a second original PD store is lost for good. PD still
 * schedules (a split through the admin API, every region re-replicated to three live voters),
 * `flotilla pd members` shows the group on live stores, and every acknowledged write reads back.
 * Waits on conditions, never on fixed sleeps.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RemoteKvClient } from '../../adapters/client/remote.ts';
import { spawnFlotilla } from '../../scripts/cluster-processes.ts';
import type { PdMembersInfo } from '../../src/store/pd-members.ts';
import { PD_GROUP_ID } from '../../src/store/pd-state.ts';
import { logsOnFailure, SECRET, startCluster, type TestCluster } from './helpers.ts';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const text = (v: Uint8Array | null) => (v === null ? '(none)' : new TextDecoder().decode(v));

async function flotilla(c: TestCluster, slots: number[], args: string[]): Promise<{ code: number | string; out: string; stdout: string }> {
  const endpoints = slots.map((s) => `127.0.0.1:${c.ports[s - 1]}`).join(',');
  const p = spawnFlotilla('node', [...args, '--endpoints', endpoints], { FLOTILLA_SECRET: SECRET });
  const code = await p.exited;
  return { code, out: p.stdout + p.stderr, stdout: p.stdout };
}

/** Waits until `cond` holds (polling every 250 ms) or throws after `ms`, with the last thing seen. */
async function until(what: string, cond: () => Promise<boolean | string>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown = 'nothing yet';
  let error: unknown = 'none';
  while (Date.now() < deadline) {
    try {
      const r = await cond();
      if (r === true) return;
      last = r;
    } catch (e) {
      error = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${ms} ms (last seen: ${String(last)}; last error: ${String(error)})`);
}

/** Writes `w<i>` one after the other until stopped; records what was acknowledged. */
function startWriter(kv: RemoteKvClient): { acked: Map<string, string>; errors: () => number; stop: () => Promise<void> } {
  const acked = new Map<string, string>();
  let errors = 0;
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const key = `w${String(i).padStart(6, '0')}`;
      try {
        await kv.put(key, `v${i}`);
        acked.set(key, `v${i}`);
      } catch {
        errors++; // unknown outcome or unavailable for a moment: only acknowledged writes are checked
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  return {
    acked,
    errors: () => errors,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

const describeMembers = (m: PdMembersInfo) => m.members.map((x) => `${x.storeId}:${x.role}${x.leader ? '*' : ''}${x.up ? '' : '(down)'}`).join(' ');

describe('PD membership with processes', () => {
  it('5 stores: a wiped PD store and then a second PD store lost for good; PD moves to live stores and keeps scheduling', async () => {
    cluster = await startCluster(5, [], ['--replicas', '3']);
    logsOnFailure(cluster);
    const c = cluster;
    const kv = await c.client();
    const writer = startWriter(kv);
    // How long each move takes (printed; the deadlines are generous, nothing is timed).
    let phase = performance.now();
    const took = (what: string) => {
      console.log(`pd-loss: ${what} in ${Math.round(performance.now() - phase)} ms`);
      phase = performance.now();
    };
    try {
      await until(
        'PD on five voters',
        async () => {
          const m = await kv.admin.pdMembers();
          return (m.members.filter((x) => x.role === 'voter').length === 5 && m.members.every((x) => x.up)) || describeMembers(m);
        },
        90_000,
      );
      took('PD grew to five voters');
      // Every member holds PD's log before a store goes (a replica no PD leader reached withholds its vote).
      await c.caughtUp(PD_GROUP_ID, [1, 2, 3, 4, 5], 60_000);
      const shown = await flotilla(c, [2, 3], ['pd', 'members']);
      expect(shown.code, shown.out).toBe(0);
      expect(shown.stdout).toMatch(/^PD leader: store \d+, commit index \d+/);
      expect(shown.stdout.split('\n').filter((l) => /^\d+ +\d+ +voter/.test(l))).toHaveLength(5);

      // Store 1 (an original PD store) is killed and its data wiped; it comes back empty and
      // joins under a new id (docs/store-identity.md), replacing store 1.
      await c.kill(1);
      rmSync(join(c.dir, 'store-1'), { recursive: true, force: true });
      phase = performance.now();
      await c.restart(1);
      const newId = Number(/store (\d+) listening/.exec(c.stores.get(1)!.stdout)?.[1]);
      expect(newId).toBeGreaterThan(5);
      await until(
        `PD has a member on the new store ${newId} and none on store 1`,
        async () => {
          const m = await kv.admin.pdMembers();
          const on = m.members.map((x) => x.storeId);
          const mine = m.members.find((x) => x.storeId === newId);
          return (mine?.role === 'voter' && mine.up && !on.includes(1) && m.members.every((x) => x.up)) || describeMembers(m);
        },
        120_000,
      );
      took(`PD had a voter on the new store ${newId} (from the wiped store's restart)`);
      // Every region back on three live voters before the second loss (one loss at a time is a minority).
      const live1 = [2, 3, 4, 5, newId];
      await until(
        'every region on three live voters',
        async () => {
          const regions = await kv.admin.regions();
          return regions.every((r) => r.peers.length === 3 && r.peers.every((p) => p.role === 'voter' && live1.includes(p.storeId))) || regions.map((r) => r.peers.map((p) => p.storeId).join('/')).join(' ');
        },
        120_000,
      );
      await c.caughtUp(PD_GROUP_ID, [1, 2, 3, 4, 5], 60_000);

      // Store 2, another original PD store, is lost for good.
      await c.kill(2);
      rmSync(join(c.dir, 'store-2'), { recursive: true, force: true });
      phase = performance.now();
      const live = [3, 4, 5, newId];
      await until(
        'PD on three voters, all on live stores',
        async () => {
          const m = await kv.admin.pdMembers();
          const voters = m.members.filter((x) => x.role === 'voter');
          return (m.members.length === 3 && voters.length === 3 && voters.every((x) => live.includes(x.storeId) && x.up)) || describeMembers(m);
        },
        120_000,
      );
      took('PD shrank to three voters on live stores (from the second kill)');

      // PD still schedules: a forced split, and every region re-replicated to three live voters.
      const before = await kv.admin.regions();
      await until(
        'a split through the admin API',
        async () => {
          await kv.admin.splitRegion(before[0].id, 'w000001');
          return true;
        },
        60_000,
      );
      await until(
        'two or more regions, each on three live voters',
        async () => {
          const regions = await kv.admin.regions();
          const ok = regions.every((r) => r.peers.length === 3 && r.peers.every((p) => p.role === 'voter' && live.includes(p.storeId)));
          return (regions.length > before.length && ok) || regions.map((r) => r.peers.map((p) => `${p.storeId}${p.role[0]}`).join('/')).join(' ');
        },
        180_000,
      );
      took('split and every region on three live voters');
      const final = await flotilla(c, [3, 4], ['pd', 'members', '--json']);
      expect(final.code, final.out).toBe(0);
      const m = JSON.parse(final.stdout) as PdMembersInfo;
      expect(m.members.map((x) => x.storeId).every((s) => live.includes(s)), final.stdout).toBe(true);
      expect(m.members.filter((x) => x.role === 'voter' && x.up)).toHaveLength(3);
      expect(m.members.filter((x) => x.leader).map((x) => x.storeId)).toEqual([m.leaderStoreId]);
      // Each live store keeps the list in its identity file (a restart finds PD there, not on stores 1-3).
      const onStores = m.members.map((x) => x.storeId).sort((a, b) => a - b);
      await until(
        'the identity files name PD where it is now',
        async () => {
          const saved = [3, 4, 5].map((slot) => (JSON.parse(readFileSync(join(c.dir, `store-${slot}`, 'flotilla-store.json'), 'utf8')) as { pdStoreIds: number[] }).pdStoreIds.join());
          return saved.every((ids) => ids === onStores.join()) || saved.join(' | ');
        },
        30_000,
      );
    } finally {
      await writer.stop();
    }
    console.log(`pd-loss: ${writer.acked.size} writes acknowledged, ${writer.errors()} failed or unknown`);
    expect(writer.acked.size).toBeGreaterThan(20);
    const reader = await c.client([3, 4, 5]);
    try {
      for (const [key, value] of writer.acked) expect(text(await reader.get(key)), key).toBe(value);
    } finally {
      reader.close();
      kv.close();
    }
  }, 600_000);
});
