/**
 * Issue 21 on real processes: a leader whose process was stopped must not serve stale lease reads
 * once it runs again. Three `flotilla serve --no-pd` stores, one region; every link between two
 * stores runs through a TCP proxy the test controls. Each round:
 *
 * 1. put k = old (acknowledged); lease reads through the leader's endpoint answer it;
 * 2. SIGSTOP the leader, and cut its links (so that once resumed it cannot hear the new leader);
 * 3. the other two elect a leader; put k = new through them, acknowledged;
 * 4. SIGCONT the old leader and lease-read k through its own endpoint for a while: every answer
 *    must be `new` (or a refusal such as NotLeader); `old` is a stale read.
 *
 * `npm test` runs LEASE_PAUSE_ROUNDS rounds (default 10); `LEASE_PAUSE_ROUNDS=30 npx vitest run
 * test/server/lease-pause.test.ts` runs more. The issue's own setting: LEASE_PAUSE_STOP_MS=20000
 * (the leader stays stopped at least that long), LEASE_PAUSE_READ_MS=1500, and LEASE_PAUSE_CUT=0
 * (its links stay up, so that it may hear the new leader at once). Waits are on conditions with
 * generous deadlines; the stop length is the scenario's, not a wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClientIdentity, createRemoteCaller, type RemoteCaller } from '../../adapters/client/remote-caller.ts';
import type { WebSocketConstructor } from '../../adapters/transport/websocket-link.ts';
import type { RegionInfo } from '../../src/store/store-engine.ts';
import { freePorts, spawnFlotilla, type StoreProcess, stopProcess, waitListening } from '../../scripts/cluster-processes.ts';
import { startLinkProxy, type LinkProxy } from './link-proxy.ts';
import { FAST, SECRET } from './helpers.ts';

const ROUNDS = Number(process.env.LEASE_PAUSE_ROUNDS ?? 10);
/** How long the resumed leader is read through after SIGCONT. */
const READ_MS = Number(process.env.LEASE_PAUSE_READ_MS ?? 1000);
/** The leader stays stopped at least this long (beyond the new leader's acknowledgement). */
const STOP_MS = Number(process.env.LEASE_PAUSE_STOP_MS ?? 0);
/** Whether the stopped leader's links are cut until the reads after SIGCONT are done. */
const CUT = process.env.LEASE_PAUSE_CUT !== '0';
const IDS = [1, 2, 3];
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: unknown) => (b instanceof Uint8Array ? new TextDecoder().decode(b) : String(b));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let ports: number[];
const stores = new Map<number, StoreProcess>();
/** The proxy on the link between two stores (the higher id dials the lower through it), by "hi-lo". */
const proxies = new Map<string, LinkProxy>();
let caller: RemoteCaller;
const clientId = `lease-pause-${process.pid}`;
let seq = 0;

const url = (id: number) => `ws://127.0.0.1:${ports[id - 1]}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-lease-pause-'));
  ports = await freePorts(3);
  for (const hi of IDS) for (const lo of IDS) if (lo < hi) proxies.set(`${hi}-${lo}`, await startLinkProxy(ports[lo - 1]));
  for (const id of IDS) {
    // Store `id` dials the lower ids through the proxies; it is dialled by the higher ones.
    const peers = IDS.map((j) => `${j}=127.0.0.1:${j < id ? proxies.get(`${id}-${j}`)!.port : ports[j - 1]}`).join(',');
    const args = ['serve', '--id', String(id), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peers', peers, '--data', join(dir, `store-${id}`), '--no-pd', ...FAST];
    stores.set(id, spawnFlotilla('node', args, { FLOTILLA_SECRET: SECRET }));
  }
  await Promise.all([...stores.values()].map((p) => waitListening(p, 60_000)));
  const identity = await createClientIdentity('flotilla', SECRET);
  caller = createRemoteCaller({ identity, WebSocket: WebSocket as unknown as WebSocketConstructor, endpoints: IDS.map(url), connectTimeoutMs: 1000, callTimeoutMs: 1000 });
}, 90_000);

afterAll(async () => {
  caller?.close();
  for (const p of stores.values()) await stopProcess(p, 'SIGKILL');
  for (const p of proxies.values()) await p.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function setLinks(of: number, up: boolean): void {
  for (const [key, proxy] of proxies) {
    if (!key.split('-').map(Number).includes(of)) continue;
    if (up) proxy.unblock();
    else proxy.block();
  }
}

/** The region as store `id` knows it, or undefined when it does not answer. */
async function regionAt(id: number): Promise<RegionInfo | undefined> {
  try {
    const infos = (await caller.callUrl(url(id), { t: 'kv', r: { type: 'regions' } })) as RegionInfo[];
    return infos[0];
  } catch {
    return undefined;
  }
}

/** Waits until every store of `ids` names the same leader (among `among`); returns it. */
async function agreedLeader(ids: number[], among: number[], timeoutMs = 30_000): Promise<RegionInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(ids.map(regionAt));
    const leader = views[0]?.leaderStoreId ?? 0;
    if (among.includes(leader) && views.every((v) => v?.leaderStoreId === leader)) return views.find((v) => v)!;
    if (Date.now() > deadline) throw new Error(`stores ${ids} did not agree on a leader among ${among} within ${timeoutMs} ms: ${JSON.stringify(views.map((v) => v?.leaderStoreId))}`);
    await sleep(50);
  }
}

/**
 * Puts `key` = `value` through the leader the stores of `ids` agree on (straight to its own
 * endpoint, whatever a store's address book says), retrying until acknowledged.
 */
async function put(ids: number[], key: string, value: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  const mySeq = ++seq; // one command: a retry of it applies at most once
  for (;;) {
    const info = await agreedLeader(ids, ids);
    try {
      const outcome = (await caller.callUrl(url(info.leaderStoreId), { t: 'kv', r: { type: 'write', regionId: info.region.id, epoch: info.region.epoch, clientId, seq: mySeq, op: { type: 'put', key: enc(key), value: enc(value) } } })) as { ok: boolean };
      if (outcome.ok) return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(50);
  }
}

/** One lease read of `key` through store `id`'s endpoint: the value, or the error's code. */
async function leaseRead(id: number, info: RegionInfo, key: string): Promise<{ value?: string; refused?: string }> {
  try {
    const v = await caller.callUrl(url(id), { t: 'kv', r: { type: 'read', regionId: info.region.id, epoch: info.region.epoch, op: { type: 'get', key: enc(key) }, consistency: 'lease' } });
    return { value: v === null ? 'null' : dec(v) };
  } catch (e) {
    return { refused: (e as { code?: string }).code ?? String(e) };
  }
}

it(`a leader stopped with SIGSTOP serves no stale lease read after SIGCONT (${ROUNDS} rounds)`, async () => {
  const totals = { stale: 0, fresh: 0, refused: 0, servedBeforeStop: 0 };
  const staleRounds: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const key = 'k';
    const old = `old-${round}`;
    const fresh = `new-${round}`;
    // 1. Everyone agrees on a leader; k = old is acknowledged, and lease reads through the leader answer it.
    const before = await agreedLeader(IDS, IDS);
    const leader = before.leaderStoreId;
    await put(IDS, key, old);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await leaseRead(leader, before, key);
      if (r.value === old) break;
      if (Date.now() > deadline) throw new Error(`round ${round}: store ${leader} never answered a lease read with ${old}: ${JSON.stringify(r)}`);
      await sleep(10);
    }
    totals.servedBeforeStop++;
    // 2. Stop the leader and cut its links while it cannot notice.
    const proc = stores.get(leader)!;
    proc.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    if (CUT) setLinks(leader, false);
    try {
      // 3. The others elect a leader of their own and acknowledge k = new.
      const others = IDS.filter((id) => id !== leader);
      await put(others, key, fresh);
      if (Date.now() - stoppedAt < STOP_MS) await sleep(STOP_MS - (Date.now() - stoppedAt));
    } finally {
      // 4. Resume it, still cut off from the others, and read through it.
      proc.child.kill('SIGCONT');
    }
    const readsUntil = Date.now() + READ_MS;
    let stale = 0;
    while (Date.now() < readsUntil) {
      const rs = await Promise.all([1, 2, 3, 4].map(() => leaseRead(leader, before, key)));
      for (const r of rs) {
        if (r.value === old) stale++;
        else if (r.value === fresh) totals.fresh++;
        else if (r.refused !== undefined) totals.refused++;
        else throw new Error(`round ${round}: unexpected value ${r.value}`);
      }
    }
    totals.stale += stale;
    if (stale > 0) staleRounds.push(round);
    if (CUT) setLinks(leader, true);
    console.log(`lease-pause round ${round}: leader ${leader} stopped; after SIGCONT ${stale} stale lease reads`);
  }
  // The cluster heals: all three agree on a leader again.
  await agreedLeader(IDS, IDS);
  console.log(`lease-pause: ${ROUNDS} rounds, ${totals.stale} stale, ${totals.fresh} fresh, ${totals.refused} refused lease reads after SIGCONT (stale in rounds ${staleRounds.join(',') || 'none'})`);
  expect(totals.servedBeforeStop).toBe(ROUNDS);
  expect(totals.stale, `stale lease reads in rounds ${staleRounds.join(',')}`).toBe(0);
}, 60_000 + ROUNDS * (30_000 + STOP_MS + READ_MS));
