/**
 * How the client meets an overloaded store (docs/overload.md): `ServerBusy` is retried with
 * jittered back-off within the operation's deadline; a write refused to the end fails with the
 * typed `ServerBusy` (never `OutcomeUnknown`: it was refused before any proposal); a write with an
 * earlier unanswered attempt still ends `OutcomeUnknown`; and every attempt tells the store how
 * long it waits (`timeoutMs`).
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { KvClient } from '../../src/client/client.ts';
import type { StoreConnector } from '../../src/client/connector.ts';
import { type FlotillaError, ServerBusyError } from '../../src/errors.ts';
import type { Region } from '../../src/region/types.ts';
import type { StoreRequest, StoreResponses } from '../../src/store/requests.ts';
import { createSeededRand } from '../../src/util/rand.ts';

const REGION: Region = { id: 1, startKey: new Uint8Array(), endKey: new Uint8Array(), epoch: { confVer: 1, version: 1 }, peers: [{ id: 1, storeId: 1, role: 'voter' }] };

/** One store leading the whole key space; `answer` decides each write's fate by attempt number. */
function busyStore(answer: (attempt: number) => 'busy' | 'ok' | 'hang') {
  const writes: Array<{ atMs: number; timeoutMs: number | undefined }> = [];
  const clock = createVirtualClock();
  const connector: StoreConnector = {
    storeIds: () => [1],
    call<R extends StoreRequest>(_storeId: number, request: R, timeoutMs?: number): Promise<StoreResponses[R['type']]> {
      type A = StoreResponses[R['type']];
      if (request.type === 'regions') return Promise.resolve([{ region: REGION, leaderStoreId: 1 }] as A);
      writes.push({ atMs: clock.now(), timeoutMs });
      const fate = answer(writes.length);
      if (fate === 'busy') return Promise.reject(new ServerBusyError('store 1 is overloaded: 9 requests / 900 bytes in flight (requestsMax 9)'));
      if (fate === 'hang') return new Promise(() => {});
      return Promise.resolve({ ok: true, value: undefined } as unknown as A);
    },
  };
  return { clock, connector, writes };
}

async function settle<T>(clock: ReturnType<typeof createVirtualClock>, p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; done: boolean }> {
  const out: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then(
    (v) => Object.assign(out, { value: v, done: true }),
    (e) => Object.assign(out, { error: e, done: true }),
  );
  for (let i = 0; i < ms && !out.done; i++) {
    clock.advance(1);
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

describe('the client against a busy store', () => {
  it('retries ServerBusy with back-off and succeeds once admitted, telling the store each attempt’s timeout', async () => {
    const s = busyStore((n) => (n <= 4 ? 'busy' : 'ok'));
    const client = new KvClient({ connector: s.connector, clock: s.clock, rand: createSeededRand(3), putBatchMax: 1, retry: { timeoutMs: 5000, attemptTimeoutMs: 800 } });
    const r = await settle(s.clock, client.put('k', 'v'), 6000);
    expect(r.error).toBeUndefined();
    expect(r.value).toBe(true);
    expect(s.writes.length).toBe(5);
    for (const w of s.writes) {
      expect(w.timeoutMs).toBeGreaterThan(0);
      expect(w.timeoutMs).toBeLessThanOrEqual(800);
    }
    // Backed off between attempts: never all at the same instant.
    expect(s.writes.at(-1)!.atMs).toBeGreaterThan(s.writes[0].atMs);
  });

  it('fails a write refused to the end with the typed ServerBusy, not OutcomeUnknown, within its deadline', async () => {
    const s = busyStore(() => 'busy');
    const client = new KvClient({ connector: s.connector, clock: s.clock, rand: createSeededRand(4), putBatchMax: 1, retry: { timeoutMs: 3000, attemptTimeoutMs: 500 } });
    const start = s.clock.now();
    const r = await settle(s.clock, client.put('k', 'v'), 6000);
    expect(r.done).toBe(true);
    expect(s.clock.now() - start).toBeLessThanOrEqual(3000 + 5);
    expect(r.error).toBeInstanceOf(ServerBusyError);
    expect((r.error as FlotillaError).code).toBe('ServerBusy');
    expect((r.error as Error).message).toContain('store 1 is overloaded');
    expect(s.writes.length).toBeGreaterThan(2);
    // The last attempts are told only what is left of the deadline.
    expect(s.writes.at(-1)!.timeoutMs).toBeLessThanOrEqual(500);
  });

  it('still reports OutcomeUnknown for a write whose earlier attempt went unanswered', async () => {
    const s = busyStore((n) => (n === 1 ? 'hang' : 'busy'));
    const client = new KvClient({ connector: s.connector, clock: s.clock, rand: createSeededRand(5), putBatchMax: 1, retry: { timeoutMs: 3000, attemptTimeoutMs: 500 } });
    const r = await settle(s.clock, client.put('k', 'v'), 6000);
    expect((r.error as FlotillaError).code).toBe('OutcomeUnknown');
  });

  it('fails a read refused to the end with ServerBusy', async () => {
    const s = busyStore(() => 'busy');
    const client = new KvClient({ connector: s.connector, clock: s.clock, rand: createSeededRand(6), getBatchMax: 1, retry: { timeoutMs: 2000, attemptTimeoutMs: 500 } });
    const r = await settle(s.clock, client.get('k'), 6000);
    expect((r.error as FlotillaError).code).toBe('ServerBusy');
  });
});
