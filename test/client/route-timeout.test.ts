/**
 * A client operation is bounded by its deadline even while it looks up routes: when the only
 * store is gone and a `regions` call never answers (a link that hangs instead of failing), a put
 * or get must still reject with a typed error within its timeout, and a later operation must
 * not wait on the hung lookup (bug seen in issue 17: `router.regionFor` / `refresh` were not
 * bounded by the attempt timeout, so the put hung).
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../adapters/runtime/virtual-clock.ts';
import { KvClient } from '../../src/client/client.ts';
import type { StoreConnector } from '../../src/client/connector.ts';
import type { StoreRequest, StoreResponses } from '../../src/store/requests.ts';
import { FlotillaError } from '../../src/errors.ts';
import { createSeededRand } from '../../src/util/rand.ts';

/** A connector to one store that has exited: every call hangs, never answering. */
function hangingConnector(): StoreConnector & { calls: number } {
  const c = {
    calls: 0,
    storeIds: () => [1],
    call<R extends StoreRequest>(_storeId: number, _request: R): Promise<StoreResponses[R['type']]> {
      c.calls++;
      return new Promise(() => {});
    },
  };
  return c;
}

async function settleWithin<T>(clock: ReturnType<typeof createVirtualClock>, p: Promise<T>, ms: number): Promise<{ settled: boolean; error?: unknown; atMs: number }> {
  let done = false;
  let error: unknown;
  p.then(
    () => (done = true),
    (e) => {
      done = true;
      error = e;
    },
  );
  const start = clock.now();
  for (let i = 0; i < ms && !done; i++) {
    clock.advance(1);
    await new Promise((r) => setImmediate(r));
  }
  return { settled: done, error, atMs: clock.now() - start };
}

describe('client deadlines cover route lookups', () => {
  it.each(['put', 'get'] as const)('%s rejects with a typed error within its timeout when the only store hangs', async (op) => {
    const clock = createVirtualClock();
    const connector = hangingConnector();
    const client = new KvClient({ connector, clock, rand: createSeededRand(7), retry: { timeoutMs: 2000, attemptTimeoutMs: 300 } });
    const p: Promise<unknown> = op === 'put' ? client.put('k', 'v') : client.get('k');
    const r = await settleWithin(clock, p, 5000);
    expect(r.settled).toBe(true);
    expect(r.atMs).toBeLessThanOrEqual(2000 + 5); // virtual ms: the deadline plus the steps of this loop that settle the promise chain
    expect(r.error).toBeInstanceOf(FlotillaError);
    expect(['Timeout', 'OutcomeUnknown', 'Unavailable']).toContain((r.error as FlotillaError).code);
    // The hung lookup is not shared with later operations: the next one asks again.
    const before = connector.calls;
    const r2 = await settleWithin(clock, client.get('k2'), 5000);
    expect(r2.settled).toBe(true);
    expect(connector.calls).toBeGreaterThan(before);
  });
});
