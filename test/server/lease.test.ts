/**
 * TTL leases over the wire: three `flotilla serve` processes (PD on all three) and a
 * RemoteKvClient. Grant a lease, put keys with it, keep it alive in the background, SIGKILL the
 * process leading PD's group: the keys stay while the lease is kept alive through the new PD
 * leader; stop keeping it alive: the keys disappear (deleted through each region's log).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logsOnFailure, startCluster, type TestCluster } from './helpers.ts';

const text = (b: Uint8Array | null | undefined) => (b == null ? null : new TextDecoder().decode(b));

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster(3, [], ['--initial-split-keys', 'm']);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
});

/** Waits for `cond`, polling, up to `timeoutMs` (generous: the box is shared). */
async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The store that keeps the leases (leads PD's group), per the stores' /status; 0 when none says so. */
async function leaseKeeper(ids: number[]): Promise<number> {
  for (const id of ids) {
    const s = await cluster.status(id).catch(() => undefined);
    if (s?.leases?.keeper) return id;
  }
  return 0;
}

describe('leases through flotilla serve', () => {
  it("keeps leased keys across a SIGKILL of PD's leader while kept alive, and deletes them once keepAlives stop", async () => {
    logsOnFailure(cluster);
    const kv = await cluster.client();
    try {
      const ttlMs = 3000;
      let lease: { id: number; ttlMs: number } | undefined;
      await waitFor('a lease grant', async () => {
        lease = await kv.grantLease(ttlMs);
        return true;
      });
      const id = lease!.id;
      await kv.put('a-leased', '1', { lease: id });
      await kv.put('z-leased', '2', { lease: id });
      await kv.put('plain', '3');
      let lost = false;
      const keeper = kv.keepAliveInBackground(lease!, {
        intervalMs: 500,
        onLost: () => {
          lost = true;
        },
      });

      let pdLeader = 0;
      await waitFor("PD's leader", async () => {
        pdLeader = await leaseKeeper([1, 2, 3]);
        return pdLeader > 0;
      });
      await cluster.kill(pdLeader);
      const survivors = [1, 2, 3].filter((s) => s !== pdLeader);
      await waitFor("a new PD leader", async () => (await leaseKeeper(survivors)) > 0);
      // Kept alive through the new leader for well over a ttl: the keys stay.
      const until = Date.now() + 3 * ttlMs;
      while (Date.now() < until) {
        expect(text(await kv.get('a-leased'))).toBe('1');
        expect(text(await kv.get('z-leased'))).toBe('2');
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(lost).toBe(false);
      expect((await kv.leaseTimeToLive(id)).ttlMs).toBe(ttlMs);
      await cluster.restart(pdLeader);

      keeper.stop();
      await waitFor('the leased keys to disappear', async () => (await kv.get('a-leased')) === null && (await kv.get('z-leased')) === null);
      expect(text(await kv.get('plain'))).toBe('3');
      await expect(kv.keepAlive(id)).rejects.toMatchObject({ code: 'LeaseNotFound' });
      await expect(kv.put('late', 'x', { lease: id })).rejects.toMatchObject({ code: 'LeaseNotFound' });
    } finally {
      kv.close();
    }
  }, 240_000);
});
