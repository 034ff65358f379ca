/**
 * A store whose disk fails (ENOSPC, EIO on fsync): it stops accepting writes with a clear error,
 * acknowledges nothing it did not make durable, says it is not serving on /health, /status and
 * /metrics, tells its owner (`flotilla serve` exits non-zero), and a restart on the healed disk
 * finds every acknowledged write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect } from '../../adapters/client/remote.ts';
import { startStatusServer } from '../../adapters/server/http-status.ts';
import type { StoreServer } from '../../adapters/server/store-server.ts';
import { createSwitchableStorage, type SwitchableStorage } from '../../adapters/storage/fault-switch.ts';
import type { WebSocketConstructor } from '../../adapters/transport/websocket-link.ts';
import { SECRET, startTestServer } from './helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function start(dataDir: string, onFatal: (e: Error) => void): Promise<{ server: StoreServer; disk: SwitchableStorage; http: Server; httpUrl: string }> {
  let disk: SwitchableStorage | undefined;
  const server = await startTestServer('disk-fault', [], {
    dataDir,
    onFatal,
    wrapEngine: (e) => {
      disk = createSwitchableStorage(e);
      return disk;
    },
  });
  const http = await startStatusServer(server, '127.0.0.1', 0);
  return { server, disk: disk!, http, httpUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a store whose disk fails', () => {
  for (const code of ['ENOSPC', 'EIO'] as const) {
    it(`${code}: stops serving, acknowledges nothing lost, reports it, and recovers on restart`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'flotilla-disk-fault-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      const fatal: Error[] = [];
      let s = await start(dir, (e) => fatal.push(e));
      cleanups.push(async () => {
        s.http.close();
        await s.server.close();
      });
      expect((await fetch(`${s.httpUrl}/health`)).status).toBe(200);
      const client = await connect({ endpoints: [s.server.url], secret: SECRET, cluster: 'disk-fault', client: { retry: { timeoutMs: 2000 } }, WebSocket: WebSocket as unknown as WebSocketConstructor });
      cleanups.push(async () => client.close());
      for (let i = 0; i < 20; i++) await client.put(`k${i}`, `v${i}`);

      s.disk.failWrites(code);
      const attempts = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => client.put(`lost${i}`, 'x')));
      await until('the store to stop', () => fatal.length > 0);
      expect(attempts.every((a) => a.status === 'rejected'), 'no write is acknowledged while the disk fails').toBe(true);
      expect(s.disk.refusedWrites).toBeGreaterThan(0);
      expect(fatal[0].message).toContain(code);

      const health = await fetch(`${s.httpUrl}/health`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { reason: string }).reason).toContain(code);
      const status = (await (await fetch(`${s.httpUrl}/status`)).json()) as { serving: boolean; regions: Array<{ role: string }> };
      expect(status.serving).toBe(false);
      expect(status.regions.every((r) => r.role === 'stopped')).toBe(true);
      expect(await (await fetch(`${s.httpUrl}/metrics`)).text()).toMatch(/flotilla_store_serving\{store="1"\} 0/);
      await expect(client.put('after', 'x')).rejects.toThrow();

      // The disk is fixed and the store restarted (what a supervisor does after the non-zero exit).
      s.http.close();
      await s.server.close();
      await client.close();
      s = await start(dir, (e) => fatal.push(e));
      const again = await connect({ endpoints: [s.server.url], secret: SECRET, cluster: 'disk-fault', WebSocket: WebSocket as unknown as WebSocketConstructor });
      cleanups.push(async () => again.close());
      for (let i = 0; i < 20; i++) expect(new TextDecoder().decode((await again.get(`k${i}`))!)).toBe(`v${i}`);
      await again.put('after', 'y');
      expect((await fetch(`${s.httpUrl}/health`)).status).toBe(200);
      expect(fatal).toHaveLength(1);
    }, 60_000);
  }
});
