/**
 * `flotilla check` against three real `flotilla serve` processes: every replica agrees while a
 * client writes; then one store's data directory gets a key written behind Raft's back (the store
 * stopped, its engine opened by the test), and check names exactly that store, exit code 1.
 * Waits on conditions, never on fixed sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openDiskStorage } from '../../adapters/storage/disk.ts';
import { spawnFlotilla } from '../../scripts/cluster-processes.ts';
import { dataKey } from '../../src/kv/keys.ts';
import type { CheckResult } from '../../src/store/consistency-types.ts';
import { logsOnFailure, SECRET, startCluster, type TestCluster } from './helpers.ts';
import { join } from 'node:path';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

interface CheckRun {
  code: number | string;
  out: string;
  json?: { ok: boolean; regions: CheckResult[]; failed: Array<{ regionId: number; error: string }> };
}

async function runCheck(c: TestCluster, extra: string[] = []): Promise<CheckRun> {
  const endpoints = [...c.stores.keys()].map((id) => `127.0.0.1:${c.ports[id - 1]}`).join(',');
  const p = spawnFlotilla('node', ['check', '--endpoints', endpoints, ...extra], { FLOTILLA_SECRET: SECRET });
  const code = await p.exited;
  return { code, out: p.stdout + p.stderr, json: extra.includes('--json') ? JSON.parse(p.stdout) : undefined };
}

describe('flotilla check (3 processes)', () => {
  it('reports agreement under writes, then the one store whose data was changed behind Raft', async () => {
    cluster = await startCluster(3);
    logsOnFailure(cluster);
    const c = cluster;
    const kv = await c.client();
    try {
      for (let i = 0; i < 60; i++) await kv.put(`${i % 2 ? 'a' : 'p'}${i}`, `v${i}`);
      // Writes go on while the check runs: the hashes are taken at one log index, so they agree.
      let writing = true;
      let written = 0;
      const writer = (async () => {
        while (writing) await kv.put(`p-live-${written++ % 50}`, `w${written}`);
      })();
      const first = await runCheck(c, ['--json']);
      writing = false;
      await writer;
      expect(written).toBeGreaterThan(0);
      expect(first.code, first.out).toBe(0);
      expect(first.json?.ok).toBe(true);
      expect(first.json?.regions.length).toBeGreaterThan(0);
      for (const r of first.json?.regions ?? []) {
        expect(r.agreeing).toEqual([1, 2, 3]);
        expect(r.divergent).toEqual([]);
        expect(r.unchecked).toEqual([]);
      }
      const regions = await kv.admin.regions();
      const q = new TextEncoder().encode('q');
      const holder = regions.find((r) => Buffer.compare(r.startKey, q) <= 0 && (r.endKey.length === 0 || Buffer.compare(q, r.endKey) < 0))!;
      const upperId = holder.id;

      // Store 2's engine gets a key of the upper region that no log entry wrote.
      await c.kill(2);
      const { engine } = await openDiskStorage({ dir: join(c.dir, 'store-2') });
      await engine.write([{ type: 'put', key: dataKey(new TextEncoder().encode('q-behind-raft')), value: new TextEncoder().encode('x') }], { sync: true });
      await engine.close();
      await c.restart(2);
      await c.caughtUp(upperId, [1, 2, 3], 60_000);

      const second = await runCheck(c);
      expect(second.code, second.out).toBe(1);
      expect(second.out).toMatch(new RegExp(`region ${upperId}: index \\d+, 2 replica\\(s\\) agree \\(stores 1,3\\); DIVERGENT: store\\(s\\) 2`));
      expect(second.out).toContain('check FAILED');
      const one = await runCheck(c, ['--region', String(upperId), '--json']);
      expect(one.code, one.out).toBe(1);
      expect(one.json?.ok).toBe(false);
      expect(one.json?.regions.map((r) => [r.regionId, r.divergent, r.agreeing])).toEqual([[upperId, [2], [1, 3]]]);
    } finally {
      kv.close();
    }
  }, 180_000);
});
