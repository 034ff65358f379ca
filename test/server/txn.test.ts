/**
 * Transactions over the wire. Three `flotilla serve` processes (regions cut at 'm') and a
 * RemoteKvClient: both branches with their results, a txn over two regions refused before it is
 * sent, and compare-and-increment txns that go on, each applied once, while the leader's process
 * is SIGKILLed. Then, on one in-process server, malformed txn calls refused at the boundary.
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientIdentity } from '../../adapters/client/remote-caller.ts';
import { openRemoteLink } from '../../adapters/client/remote-link.ts';
import type { WebSocketConstructor } from '../../adapters/transport/websocket-link.ts';
import { Compare, CrossRegionTxnError, Op } from '../../src/client/txn.ts';
import { BatchTooLargeError, FlotillaError, InvalidArgumentError } from '../../src/errors.ts';
import type { ServerCall } from '../../src/server/protocol.ts';
import type { TxnResult } from '../../src/kv/txn.ts';
import { logsOnFailure, SECRET, startCluster, startTestServer, type TestCluster } from './helpers.ts';

const text = (b: Uint8Array | null | undefined) => (b == null ? null : new TextDecoder().decode(b));
const enc = (s: string) => new TextEncoder().encode(s);
const valueAt = (r: TxnResult, i: number) => text((r.results[i] as { value: Uint8Array | null }).value);

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster(3, [], ['--initial-split-keys', 'm']);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
});

describe('txn through flotilla serve', () => {
  it('applies either branch atomically, returns the results as bytes, and refuses keys over two regions unsent', async () => {
    logsOnFailure(cluster);
    const kv = await cluster.client();
    try {
      await kv.put('acct/a', '10');
      const ok = await kv.txn().if(Compare.value('acct/a', '=', '10'), Compare.absent('acct/b')).then(Op.put('acct/a', '7'), Op.put('acct/b', '3'), Op.get('acct/a')).else(Op.get('acct/a')).commit();
      expect(ok.succeeded).toBe(true);
      expect(ok.results[2]).toMatchObject({ type: 'get' });
      expect((ok.results[2] as { value: Uint8Array }).value).toBeInstanceOf(Uint8Array);
      expect(valueAt(ok, 2)).toBe('7');
      const no = await kv.txn().if(Compare.value('acct/a', '>', '9')).then(Op.delete('acct/a')).else(Op.get('acct/a'), Op.get('acct/b'), Op.get('acct/none')).commit();
      expect(no.succeeded).toBe(false);
      expect([valueAt(no, 0), valueAt(no, 1), valueAt(no, 2)]).toEqual(['7', '3', null]);
      const err = await kv
        .txn()
        .then(Op.put('acct/c', '1'), Op.put('zoo', '1'))
        .commit()
        .catch((e) => e);
      expect(err).toBeInstanceOf(CrossRegionTxnError);
      expect(text((err as CrossRegionTxnError).boundaryKey)).toBe('m');
      expect(await kv.get('acct/c')).toBeNull();
      // Bad input is refused with a typed error, on the client, before anything is sent.
      const bad = await kv.txn().if(Compare.value('', '=', 'x')).commit().catch((e) => e);
      expect((bad as InvalidArgumentError).argument).toBe('compare[0].key');
    } finally {
      kv.close();
    }
  });

  it("applies each compare-and-increment once while the leader's process is SIGKILLed", async () => {
    logsOnFailure(cluster);
    const kv = await cluster.client();
    try {
      const incr = async (): Promise<'applied' | 'lost race' | 'unknown'> => {
        const cur = text(await kv.get('ctr')) ?? '0';
        const next = String(Number(cur) + 1);
        try {
          const r = await kv
            .txn()
            .if(cur === '0' ? Compare.absent('ctr') : Compare.value('ctr', '=', cur))
            .then(Op.put('ctr', next), Op.put('ctr/copy', next))
            .commit();
          return r.succeeded ? 'applied' : 'lost race';
        } catch (e) {
          if (e instanceof FlotillaError && (e.code === 'OutcomeUnknown' || e.code === 'Timeout')) return 'unknown';
          throw e;
        }
      };
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) outcomes.push(await incr());
      await cluster.caughtUp(1);
      const leader = await cluster.leaderOf(1);
      await cluster.kill(leader);
      for (let i = 0; i < 10; i++) outcomes.push(await incr());
      await cluster.restart(leader);
      for (let i = 0; i < 5; i++) outcomes.push(await incr());
      const applied = outcomes.filter((o) => o === 'applied').length;
      const unknown = outcomes.filter((o) => o === 'unknown').length;
      // One client, one txn at a time: every compare is against what it just read, so none loses a
      // race (unless a txn whose outcome was unknown applied late).
      if (unknown === 0) expect(outcomes).not.toContain('lost race');
      const final = Number(text(await kv.get('ctr')));
      expect(final).toBeGreaterThanOrEqual(applied);
      expect(final).toBeLessThanOrEqual(applied + unknown);
      expect(text(await kv.get('ctr/copy'))).toBe(String(final));
    } finally {
      kv.close();
    }
  }, 120_000);
});

describe('txn calls at the server boundary', () => {
  it('refuses malformed txns with InvalidArgument naming the field, and over-limit ones with BatchTooLarge', async () => {
    const server = await startTestServer('txn-proto');
    const link = await openRemoteLink({ url: server.url, identity: await createClientIdentity('txn-proto', SECRET), WebSocket: WebSocket as unknown as WebSocketConstructor });
    try {
      const deadline = Date.now() + 10_000;
      while (server.store.regions()[0]?.leaderStoreId !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const epoch = server.store.regions()[0].region.epoch;
      const txn = (op: unknown): ServerCall => ({ t: 'kv', r: { type: 'write', regionId: 1, epoch, clientId: 'c', seq: 1, op } }) as unknown as ServerCall;
      const put = (k: string) => ({ type: 'put', key: enc(k), value: enc('v') });
      const badResult = await link.call(txn({ type: 'txn', compare: [{ target: 'value', key: enc('k'), result: '<=', value: enc('v') }], success: [], failure: [] }), 2000).catch((e) => e);
      expect(badResult).toBeInstanceOf(InvalidArgumentError);
      expect((badResult as InvalidArgumentError).argument).toBe('request.r.op.compare.0.result');
      const badOp = await link.call(txn({ type: 'txn', compare: [], success: [{ type: 'merge', key: enc('k') }], failure: [] }), 2000).catch((e) => e);
      expect((badOp as InvalidArgumentError).argument).toMatch(/^request\.r\.op\.success\.0/);
      const tooMany = await link.call(txn({ type: 'txn', compare: [], success: Array.from({ length: 129 }, (_, i) => put(`k${i}`)), failure: [] }), 2000).catch((e) => e);
      expect(tooMany).toBeInstanceOf(BatchTooLargeError);
      const empty = await link.call(txn({ type: 'txn', compare: [], success: [put('')], failure: [] }), 2000).catch((e) => e);
      expect((empty as InvalidArgumentError).argument).toBe('success[0].key');
      // None of it applied; a good txn through the same link does.
      const good = (await link.call(txn({ type: 'txn', compare: [{ target: 'exists', key: enc('k0'), exists: false }], success: [put('k0'), { type: 'get', key: enc('k0') }], failure: [] }), 2000)) as {
        ok: boolean;
        result: TxnResult;
      };
      expect(good.ok).toBe(true);
      expect(good.result.succeeded).toBe(true);
      expect(valueAt(good.result, 1)).toBe('v');
    } finally {
      link.close();
      await server.close();
    }
  });
});
