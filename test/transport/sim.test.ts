import { describe, expect, it } from 'vitest';
import { createSimNetwork, type SimNetwork } from '../../adapters/transport/sim.ts';
import { makeMessage } from '../../src/raft/types.ts';
import { describeTransport, record, req } from './conformance.ts';

describeTransport('simulated network', () => {
  let net: SimNetwork;
  return {
    async start(ids, options) {
      net = createSimNetwork({ seed: 1, linkBytesMax: options?.queueBytesMax, limits: { frameBytesMax: options?.frameBytesMax } });
      return ids.map((id) => net.endpoint(id));
    },
    get clock() {
      return net.clock;
    },
    async settle() {
      net.settle();
      // Also let timers run that wait for nothing in flight (a chunked sender's polling).
      net.clock.advance(10);
    },
    async interrupt(a, b) {
      net.partition([a.localId], [b.localId]);
      net.settle();
      net.heal();
    },
    async stop() {},
  };
});

/** Runs a fixed workload on a faulty network and returns what each store received, in order. */
function trace(seed: number): string[] {
  const net = createSimNetwork({ seed, faults: { delayMs: { min: 1, max: 30 }, dropRate: 0.1, duplicateRate: 0.1, corruptRate: 0.05, reorder: true } });
  const eps = [1, 2, 3].map((id) => net.endpoint(id));
  const log: string[] = [];
  for (const ep of eps) ep.onFrame((f) => log.push(`${net.clock.now()}:${f.from}>${f.to}:${f.items.map((i) => (i.kind === 'raft' ? i.message.term : i.kind)).join(',')}`));
  for (let i = 0; i < 200; i++) {
    const from = eps[i % 3];
    from.send(((i + 1) % 3) + 1, [{ kind: 'raft', regionId: 1, message: makeMessage({ type: 'MsgHeartbeat', from: from.localId, to: 1, term: i }) }]);
    net.clock.advance(3);
  }
  net.settle();
  return log;
}

describe('simulated network faults', () => {
  it('replays the same trace for the same seed, and another for another seed', () => {
    expect(trace(7)).toEqual(trace(7));
    expect(trace(7)).not.toEqual(trace(8));
  });

  it('drops, duplicates, corrupts and reorders at the configured rates, refusing corrupted frames', () => {
    const net = createSimNetwork({ seed: 3, faults: { delayMs: { min: 1, max: 50 }, dropRate: 0.2, duplicateRate: 0.2, corruptRate: 0.2, reorder: true } });
    const [a, b] = [net.endpoint(1), net.endpoint(2)];
    const got = record(b);
    for (let i = 0; i < 2000; i++) a.send(2, [req(i)]);
    net.settle();
    const s = net.stats();
    expect(s.sent).toBe(2000);
    expect(s.dropped).toBeGreaterThan(300);
    expect(s.duplicated).toBeGreaterThan(200);
    expect(s.corrupted).toBeGreaterThan(200);
    expect(s.rejected).toBeGreaterThan(0);
    expect(s.delivered + s.rejected).toBe(s.sent - s.dropped + s.duplicated);
    const order = got.frames.map((f) => (f.items[0]?.kind === 'request' ? f.items[0].requestId : -1));
    expect(order.some((id, i) => i > 0 && id < order[i - 1])).toBe(true);
  });

  it('cuts links symmetrically, one way, and around a bridge, and heals', () => {
    const net = createSimNetwork({ seed: 4 });
    const eps = [1, 2, 3, 4, 5].map((id) => net.endpoint(id));
    const got = eps.map(record);
    const reach = () => {
      for (const g of got) g.frames.length = 0;
      for (const from of eps) for (const to of eps) if (from !== to) from.send(to.localId, [req(from.localId)]);
      net.settle();
      return got.map((g) => g.frames.map((f) => f.from).sort());
    };
    net.partition([1, 2], [3, 4, 5]);
    expect(reach()).toEqual([[2], [1], [4, 5], [3, 5], [3, 4]]);
    net.heal();
    net.cutOneWay([1], [2]);
    expect(reach()[1]).toEqual([3, 4, 5]);
    expect(reach()[0]).toEqual([2, 3, 4, 5]);
    net.heal();
    net.bridge([1, 2], 3, [4, 5]);
    expect(reach()).toEqual([[2, 3], [1, 3], [1, 2, 4, 5], [3, 5], [3, 4]]);
    net.heal();
    expect(reach()[0]).toEqual([2, 3, 4, 5]);
  });

  it('lets a closed store reopen as a new endpoint that gets only new frames', () => {
    const net = createSimNetwork({ seed: 5, faults: { delayMs: { min: 10, max: 10 } } });
    const a = net.endpoint(1);
    const b1 = net.endpoint(2);
    a.send(2, [req(1)]);
    void b1.close();
    const b2 = net.endpoint(2);
    const got = record(b2);
    expect(() => net.endpoint(2)).toThrow(/already has an open endpoint/);
    a.send(2, [req(2)]);
    net.settle();
    expect(got.frames.map((f) => f.items[0]).map((i) => (i.kind === 'request' ? i.requestId : 0))).toEqual([2]);
    expect(net.stats().unreachable).toBe(1);
  });
});
