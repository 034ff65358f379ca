/**
 * Issue 19, reconnect after a network cut, on real processes: three `flotilla serve --no-pd`
 * stores whose store links (the higher id dials the lower) and client links each run through a
 * TCP proxy the test controls (test/server/link-proxy.ts). A link is cut silently (blackhole: no
 * FIN, no RST), then healed so that the dialler's new connection arrives while the other end still
 * holds the old, half-dead socket. The new, authenticated connection must be taken at once
 * (never `DuplicateStoreId`), and the time from the heal to the link carrying frames again (a
 * write that needs it is acknowledged) is printed; its only assertion is a generous deadline.
 *
 * Store 1's own dead-link timeout is long (60 s), so its old socket is still open when store 3 (or
 * the client) comes back; the others notice a dead link after 2 s (docs/reconnect.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import type { WebSocketConstructor } from '../../adapters/transport/websocket-link.ts';
import { freePorts, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from '../../scripts/cluster-processes.ts';
import { startLinkProxy, type LinkProxy } from './link-proxy.ts';
import { FAST, SECRET } from './helpers.ts';

const IDS = [1, 2, 3];
/** The dead-link timeout of each store: store 1 holds on to half-dead sockets, the others notice. */
const IDLE_MS: Record<number, number> = { 1: 60_000, 2: 2000, 3: 2000 };
const enc = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let ports: number[];
const stores = new Map<number, StoreProcess>();
/** The proxy on each store link, by "hi-lo" (store hi dials store lo through it). */
const links = new Map<string, LinkProxy>();
/** The proxy in front of each store for clients (each store advertises it). */
const front = new Map<number, LinkProxy>();
let client: RemoteKvClient;
let seq = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-reconnect-'));
  ports = await freePorts(3);
  for (const hi of IDS) for (const lo of IDS) if (lo < hi) links.set(`${hi}-${lo}`, await startLinkProxy(ports[lo - 1]));
  for (const id of IDS) front.set(id, await startLinkProxy(ports[id - 1]));
  for (const id of IDS) {
    const peers = IDS.map((j) => `${j}=127.0.0.1:${j < id ? links.get(`${id}-${j}`)!.port : ports[j - 1]}`).join(',');
    const args = ['serve', '--id', String(id), '--listen', `127.0.0.1:${ports[id - 1]}`, '--advertise', `ws://127.0.0.1:${front.get(id)!.port}`, '--peers', peers, '--data', join(dir, `store-${id}`), '--no-pd', ...FAST];
    // Info level: the test reads when a link was replaced. (Later flags win over FAST's.)
    args.push('--link-idle-timeout-ms', String(IDLE_MS[id]), '--handshake-timeout-ms', '1000', '--log-level', 'info');
    stores.set(id, spawnFlotilla('node', args, { FLOTILLA_SECRET: SECRET }));
  }
  await Promise.all([...stores.values()].map((p) => waitListening(p, 60_000)));
  client = await connect({
    endpoints: IDS.map((id) => `ws://127.0.0.1:${front.get(id)!.port}`),
    secret: SECRET,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    callTimeoutMs: 1000,
    connectTimeoutMs: 1000,
    linkIdleTimeoutMs: 2000,
    client: { retry: { timeoutMs: 2000 } },
  });
  await writeWithin(30_000);
}, 120_000);

afterAll(async () => {
  client?.close();
  for (const p of stores.values()) await stopProcess(p, 'SIGKILL');
  for (const p of [...links.values(), ...front.values()]) await p.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Puts a fresh key until one put is acknowledged; returns how long that took (ms). */
async function writeWithin(deadlineMs: number): Promise<number> {
  const start = performance.now();
  let last: unknown;
  while (performance.now() - start < deadlineMs) {
    try {
      await client.put(enc(`k${++seq}`), enc('v'));
      return performance.now() - start;
    } catch (e) {
      last = e;
      await sleep(20);
    }
  }
  throw new Error(`no write acknowledged within ${deadlineMs} ms (last error: ${String(last)})\n${logs()}`);
}

/** Waits until a write fails (the cut has taken effect). */
async function writesFail(deadlineMs = 30_000): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < deadlineMs) {
    try {
      await client.put(enc(`k${++seq}`), enc('v'));
    } catch {
      return;
    }
  }
  throw new Error(`writes kept succeeding for ${deadlineMs} ms after the cut`);
}

function logs(): string {
  return [...stores.values()].map((p) => `--- store ${p.id}\n${p.stderr.slice(-3000)}`).join('\n');
}

/** The length of every store's log now, to look only at what came after. */
const marks = () => new Map([...stores].map(([id, p]) => [id, p.stderr.length]));
const since = (at: Map<number, number>) => [...stores].map(([id, p]) => p.stderr.slice(at.get(id) ?? 0)).join('\n');

/**
 * Waits until store `id` logs, after `mark`, that it replaced a link of `peer`; returns how long
 * after `healedAt` (ms since the epoch) the line was written.
 */
async function replacedAfter(id: number, peer: number, mark: Map<number, number>, healedAt: number): Promise<number> {
  const pattern = new RegExp(`^(\\S+) info \\[store ${id}\\] transport: link replaced by a newer authenticated one .*"peer":${peer}[,}]`, 'm');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = pattern.exec(stores.get(id)!.stderr.slice(mark.get(id) ?? 0));
    if (m) return Date.parse(m[1]) - healedAt;
    if (Date.now() > deadline) throw new Error(`store ${id} never replaced its link of ${peer}\n${logs()}`);
    await sleep(20);
  }
}

/** Cuts store 2 off (both its store links refuse), so that the quorum of {1, 3} needs link 3→1. */
function isolateStore2(cut: boolean): void {
  for (const key of ['2-1', '3-2']) {
    if (cut) links.get(key)!.block();
    else links.get(key)!.unblock();
  }
}

describe('reconnect after a silent cut (issue 19)', { timeout: 180_000 }, () => {
  for (const resetDialler of [true, false]) {
    const how = resetDialler ? 'the dialler is reset on heal, store 1 is not' : 'nobody is told: store 3 finds the link dead by itself';
    it(`store link 3→1 blackholed, then healed (${how}): store 1 takes store 3's new link at once`, async () => {
      isolateStore2(true);
      await writeWithin(30_000);
      const proxy = links.get('3-1')!;
      proxy.blackhole();
      await writesFail();
      const mark = marks();
      const healedAt = Date.now();
      proxy.restore({ resetDialler });
      const ms = await writeWithin(30_000);
      const replaced = await replacedAfter(1, 3, mark, healedAt);
      console.log(`reconnect (store link 3→1, ${resetDialler ? 'dialler reset' : 'pure blackhole'}): store 1 took store 3's new link ${replaced} ms after the heal; first write acknowledged after ${ms.toFixed(0)} ms`);
      expect(since(mark)).not.toMatch(/DuplicateStoreId/);
      isolateStore2(false);
    });
  }

  for (const resetDialler of [true, false]) {
    it(`client links blackholed, then healed (${resetDialler ? 'client reset' : 'pure blackhole'}): the RemoteKvClient keeps working`, async () => {
      await writeWithin(30_000);
      for (const p of front.values()) p.blackhole();
      await writesFail();
      const mark = marks();
      for (const p of front.values()) p.restore({ resetDialler });
      const ms = await writeWithin(30_000);
      const replaced = (since(mark).match(/transport: link replaced by a newer authenticated one/g) ?? []).length;
      console.log(`reconnect (client links, ${resetDialler ? 'client reset' : 'pure blackhole'}): first write acknowledged ${ms.toFixed(0)} ms after the heal (${replaced} half-dead client link(s) replaced)`);
      expect(since(mark)).not.toMatch(/DuplicateStoreId/);
    });
  }
});
