/**
 * Transactions on an in-page cluster (3 stores, regions split at 'g' and 'p'): both branches end
 * to end, a txn over two regions refused before anything is sent, a txn across a leader change,
 * a txn whose reply is lost and that is retried (applied once, answered from the session table),
 * and splits that land between the client's routing and the txn's apply.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../adapters/local-cluster.ts';
import type { VirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { KvClient } from '../../src/client/client.ts';
import { type StoreConnector, StoreUnreachableError } from '../../src/client/connector.ts';
import { Compare, CrossRegionTxnError, Op } from '../../src/client/txn.ts';
import { FlotillaError, InvalidArgumentError } from '../../src/errors.ts';
import type { ApplyOutcome } from '../../src/kv/state-machine.ts';
import type { TxnResult } from '../../src/kv/txn.ts';
import { dispatchRequest } from '../../src/store/dispatch.ts';
import type { StoreRequest, StoreResponses } from '../../src/store/requests.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { drive, elapse, text, virtualCluster } from './helpers.ts';

let cluster: LocalCluster | undefined;
let clock: VirtualClock;
const run = <T>(p: Promise<T>) => drive(clock, p);

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function start(): Promise<LocalCluster> {
  ({ cluster, clock } = await virtualCluster({ stores: 3, initialSplitKeys: ['g', 'p'] }));
  return cluster;
}

/** What a {@link tapped} connector saw: every txn request sent, and how each was answered. */
interface Tap {
  txnCalls: number;
  answers: string[];
  /** Runs before a txn request is passed on to `storeId` (by default: nothing); `call` is its index. */
  before?: (call: number, storeId: number, request: StoreRequest & { type: 'write' }) => Promise<void> | void;
  /** Whether to lose the store's answer to this txn call (the store still applied it). */
  loseReply?: (call: number, answer: ApplyOutcome) => boolean;
}

/** A client whose store calls go straight to the cluster's stores, through a tap on txn requests. */
function tapped(c: LocalCluster, tap: Tap, seed = 1): KvClient {
  const connector: StoreConnector = {
    storeIds: () => [...c.storeIds],
    async call<R extends StoreRequest>(storeId: number, request: R): Promise<StoreResponses[R['type']]> {
      const store = c.store(storeId);
      if (!store) throw new StoreUnreachableError(storeId, false, 'the store is stopped');
      if (request.type !== 'write' || request.op.type !== 'txn') return dispatchRequest(store, request);
      const n = tap.txnCalls++;
      await tap.before?.(n, storeId, request);
      try {
        const answer = (await dispatchRequest(store, request)) as ApplyOutcome;
        tap.answers.push(answer.ok ? `ok${answer.deduplicated ? ' (deduplicated)' : ''}` : answer.error.code);
        // A lost reply: the client hears nothing until its attempt times out.
        if (tap.loseReply?.(n, answer)) await new Promise(() => {});
        return answer as StoreResponses[R['type']];
      } catch (e) {
        tap.answers.push((e as FlotillaError).code ?? String(e));
        throw e;
      }
    },
  };
  return new KvClient({ connector, clock: c.clock, rand: createSeededRand(seed), retry: { timeoutMs: 10_000, attemptTimeoutMs: 300 } });
}

const getValue = (r: TxnResult, i: number) => text((r.results[i] as { value: Uint8Array | null }).value);

describe('txn on an in-page cluster', () => {
  it('applies the success or the failure branch atomically and returns its results', async () => {
    const c = await start();
    const kv = c.client();
    await run(kv.put('h/count', '1'));
    const ok = await run(kv.txn().if(Compare.value('h/count', '=', '1'), Compare.absent('h/lock')).then(Op.put('h/count', '2'), Op.put('h/lock', 'me'), Op.get('h/count')).else(Op.get('h/count')).commit());
    expect(ok.succeeded).toBe(true);
    expect(ok.results.map((r) => r.type)).toEqual(['put', 'put', 'get']);
    expect(getValue(ok, 2)).toBe('2');
    const no = await run(kv.txn().if(Compare.value('h/count', '=', '1')).then(Op.put('h/count', 'never')).else(Op.get('h/count'), Op.delete('h/lock')).commit());
    expect(no.succeeded).toBe(false);
    expect(getValue(no, 0)).toBe('2');
    expect(await run(kv.get('h/lock'))).toBeNull();
    expect(text(await run(kv.get('h/count')))).toBe('2');
    // A txn with no compares runs its success branch; in the last region (to +inf) too.
    const last = await run(kv.txn().then(Op.put('zz', 'z'), Op.deleteRange('zz0', ''), Op.get('zz')).commit());
    expect(last).toEqual({ succeeded: true, results: [{ type: 'put' }, { type: 'deleteRange' }, { type: 'get', value: new TextEncoder().encode('z') }] });
  });

  it('refuses a txn whose keys span two regions before sending anything, naming the boundary', async () => {
    const c = await start();
    const tap: Tap = { txnCalls: 0, answers: [] };
    const kv = tapped(c, tap);
    await run(kv.put('a', 'old'));
    const err = await run(kv.txn().if(Compare.exists('a')).then(Op.put('a', 'new'), Op.put('h', 'new')).commit()).catch((e) => e);
    expect(err).toBeInstanceOf(CrossRegionTxnError);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as CrossRegionTxnError).code).toBe('InvalidArgument');
    expect(text((err as CrossRegionTxnError).boundaryKey)).toBe('g');
    expect((err as Error).message).toContain('ends at "g"');
    // A deleteRange reaching into the next region counts the same.
    const range = await run(kv.txn().then(Op.deleteRange('a', 'h')).commit()).catch((e) => e);
    expect(range).toBeInstanceOf(CrossRegionTxnError);
    expect(tap.txnCalls).toBe(0);
    expect(text(await run(kv.get('a')))).toBe('old');
    expect(await run(kv.get('h'))).toBeNull();
    // Within one region, exactly up to its end, it goes through.
    expect((await run(kv.txn().then(Op.deleteRange('a', 'g')).commit())).succeeded).toBe(true);
    expect(tap.txnCalls).toBe(1);
  });

  it('refuses a forgotten commit() clearly instead of hanging, and clauses out of order', async () => {
    const c = await start();
    const kv = c.client();
    // `await` on the builder: a thenable that rejects at once.
    const awaited = await run((async () => await (kv.txn().if(Compare.exists('a')) as unknown as Promise<unknown>))().catch((e) => e));
    expect(awaited).toBeInstanceOf(InvalidArgumentError);
    expect((awaited as Error).message).toContain('commit()');
    expect(() => kv.txn().then(Op.get('a')).if(Compare.exists('a'))).toThrow(InvalidArgumentError);
    expect(() => kv.txn().else(Op.get('a')).else(Op.get('b'))).toThrow(InvalidArgumentError);
    const bad = await run(kv.txn().then(Op.put('', 'x')).commit()).catch((e) => e);
    expect((bad as InvalidArgumentError).argument).toBe('success[0].key');
  });

  it('commits across a leader change: the client follows the new leader and applies once', async () => {
    const c = await start();
    const kv = c.client();
    const region = (await run(kv.regions())).find((r) => r.startKey.length === 0)!;
    await run(kv.put('b/n', '0'));
    const incr = async (): Promise<boolean> => {
      const cur = text(await kv.get('b/n'));
      const r = await kv.txn().if(Compare.value('b/n', '=', cur!)).then(Op.put('b/n', String(Number(cur) + 1))).commit();
      return r.succeeded;
    };
    expect(await run(incr())).toBe(true);
    const leader = c.store(c.storeIds[0])!.regions().find((i) => i.region.id === region.id)!.leaderStoreId;
    const other = c.storeIds.find((s) => s !== leader)!;
    await run(kv.admin.transferLeader(region.id, other));
    await run(c.waitForLeaders());
    expect(await run(incr())).toBe(true);
    // And with the leader's store stopped outright, while the txn is on its way.
    const now = c.store(other)!.regions().find((i) => i.region.id === region.id)!.leaderStoreId;
    const pending = kv.txn().if(Compare.value('b/n', '=', '2')).then(Op.put('b/n', '3')).commit();
    await c.stopStore(now);
    const r = await run(pending).catch((e) => e);
    // The stop may have caught the txn before or after it applied: either it applied once (the
    // client saw it, perhaps from the session table) or the client says the outcome is unknown.
    if (r instanceof FlotillaError) expect(r.code).toBe('OutcomeUnknown');
    else expect(r.succeeded).toBe(true);
    await c.restartStore(now);
    await run(c.waitForLeaders());
    const v = text(await run(kv.get('b/n')));
    if (!(r instanceof FlotillaError)) expect(v).toBe('3');
    else expect(['2', '3']).toContain(v);
    // Whatever happened, the next increment sees one consistent value.
    expect(await run(incr())).toBe(true);
    expect(Number(text(await run(kv.get('b/n'))))).toBe(Number(v) + 1);
  });

  it('answers a txn retried after a lost reply from the session table: applied once', async () => {
    const c = await start();
    let lost = false;
    // The first answer that says it applied is lost (answers from non-leaders before it are not).
    const tap: Tap = {
      txnCalls: 0,
      answers: [],
      loseReply: (_n, answer) => {
        if (!answer.ok || lost) return false;
        lost = true;
        return true;
      },
    };
    const kv = tapped(c, tap);
    await run(kv.put('c/n', '0'));
    // Not idempotent: applied a second time, the compare would fail and the else branch would run.
    const r = await run(kv.txn().if(Compare.value('c/n', '=', '0')).then(Op.put('c/n', '1'), Op.get('c/n')).else(Op.put('c/n', 'applied twice')).commit());
    expect(r.succeeded).toBe(true);
    expect(getValue(r, 1)).toBe('1');
    expect(lost).toBe(true);
    expect(tap.answers.filter((a) => a !== 'NotLeader')).toEqual(['ok', 'ok (deduplicated)']);
    expect(text(await run(kv.get('c/n')))).toBe('1');
  });

  it('a split after routing: the store refuses the stale epoch, the client re-routes and commits in the new region', async () => {
    const c = await start();
    const tap: Tap = { txnCalls: 0, answers: [] };
    const kv = tapped(c, tap);
    const admin = c.client().admin;
    await run(kv.put('j/1', 'x'));
    const region = (await run(kv.regions())).find((r) => text(r.startKey) === 'g')!;
    tap.before = async (n) => {
      if (n === 0) await admin.splitRegion(region.id, 'm'); // the txn's keys stay together, right of 'm'
    };
    const r = await run(kv.txn().if(Compare.value('j/1', '=', 'x')).then(Op.put('n/1', 'moved'), Op.get('j/1')).commit()).catch((e) => e);
    // j/1 is left of 'm' and n/1 right of it: after the split the keys span two regions.
    expect(r).toBeInstanceOf(CrossRegionTxnError);
    expect(text((r as CrossRegionTxnError).boundaryKey)).toBe('m');
    expect(tap.answers[0]).toBe('EpochNotMatch');
    expect(await run(kv.get('n/1'))).toBeNull();
    // Keys on one side of the new boundary commit in the new region after one refusal.
    const tap2: Tap = { txnCalls: 0, answers: [] };
    const kv2 = tapped(c, tap2, 2);
    await run(kv2.regions());
    const right = (await run(kv2.regions())).find((x) => text(x.startKey) === 'm')!;
    tap2.before = async (n) => {
      if (n === 0) await admin.splitRegion(right.id, 'o');
    };
    const ok = await run(kv2.txn().if(Compare.absent('n/1')).then(Op.put('n/1', 'in'), Op.put('n/2', 'in')).commit());
    expect(ok.succeeded).toBe(true);
    expect(tap2.answers.filter((a) => a !== 'NotLeader')).toEqual(['EpochNotMatch', 'ok']);
    expect(text(await run(kv.get('n/2')))).toBe('in');
  });

  it('a split applied between the proposal and the apply: refused at apply, nothing applied, re-routed', async () => {
    const c = await start();
    const tap: Tap = { txnCalls: 0, answers: [] };
    const kv = tapped(c, tap);
    const region = (await run(kv.regions())).find((r) => text(r.startKey) === 'g')!;
    await run(kv.put('k/1', 'x'));
    // The split is proposed first, on the store the txn goes to (proposing is synchronous; the
    // split is not awaited), so the txn passes the epoch check, is proposed behind the split's
    // entry, and meets the new range when it applies.
    let proposed = false;
    tap.before = (_n, storeId, request) => {
      const store = c.store(storeId)!;
      const leads = store.regions().find((i) => i.region.id === request.regionId)?.leaderStoreId === storeId;
      if (proposed || !leads) return;
      proposed = true;
      store.splitRegion(region.id, undefined, new TextEncoder().encode('l')).catch(() => {});
    };
    const r = await run(kv.txn().if(Compare.exists('k/1')).then(Op.put('k/1', 'y'), Op.put('m/1', 'y')).commit()).catch((e) => e);
    expect(r).toBeInstanceOf(CrossRegionTxnError);
    expect(proposed).toBe(true);
    expect(tap.answers).toContain('KeyNotInRegion');
    await elapse(clock, 200);
    expect(text(await run(kv.get('k/1')))).toBe('x');
    expect(await run(kv.get('m/1'))).toBeNull();
  });
});
