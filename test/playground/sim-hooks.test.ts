/**
 * The read-only observation hooks and per-frame controls the playground uses: the simulated
 * network reports frames sent, delivered and dropped, drops one in flight on request, and slows or
 * loses frames on one link only; a store reports the terms of a replica's log.
 */
import { describe, expect, it } from 'vitest';
import { createSimNetwork, type SimFrameEvent } from '../../adapters/transport/sim.ts';
import { makeMessage } from '../../src/raft/types.ts';
import { drive, virtualCluster } from '../store/helpers.ts';

const hb = (from: number, term: number) => [{ kind: 'raft' as const, regionId: 1, message: makeMessage({ type: 'MsgHeartbeat', from, to: 2, term }) }];

describe('simulated network observation', () => {
  it('reports each frame sent and delivered, and drops one in flight by id', () => {
    const net = createSimNetwork({ seed: 1, faults: { delayMs: { min: 10, max: 10 } } });
    const [a, b] = [net.endpoint(1), net.endpoint(2)];
    const got: number[] = [];
    b.onFrame((f) => got.push(f.items[0].kind === 'raft' ? f.items[0].message.term : -1));
    const events: SimFrameEvent[] = [];
    const stop = net.observe((e) => events.push(e));
    a.send(2, hb(1, 5));
    a.send(2, hb(1, 6));
    const sends = events.filter((e) => e.type === 'send');
    expect(sends.map((e) => [e.from, e.to, e.deliverMs - e.sentMs])).toEqual([
      [1, 2, 10],
      [1, 2, 10],
    ]);
    expect(net.dropInFlight(sends[0].id)).toBe(true);
    expect(net.dropInFlight(sends[0].id)).toBe(false);
    net.settle();
    expect(got).toEqual([6]);
    expect(events.map((e) => e.type)).toEqual(['send', 'send', 'drop', 'deliver']);
    expect(net.stats().dropped).toBe(1);
    stop();
    a.send(2, hb(1, 7));
    net.settle();
    expect(events).toHaveLength(4);
    expect(got).toEqual([6, 7]);
  });

  it('slows and loses frames on one link only', () => {
    const net = createSimNetwork({ seed: 2, faults: { delayMs: { min: 1, max: 1 } } });
    const [a, b, c] = [net.endpoint(1), net.endpoint(2), net.endpoint(3)];
    const at: Record<number, number[]> = { 2: [], 3: [] };
    b.onFrame(() => at[2].push(net.clock.now()));
    c.onFrame(() => at[3].push(net.clock.now()));
    net.setLinkFaults(1, 2, { delayMs: { min: 300, max: 300 } });
    a.send(2, hb(1, 1));
    a.send(3, hb(1, 1));
    net.settle();
    expect(at[2]).toEqual([300]);
    expect(at[3]).toEqual([1]);
    net.setLinkFaults(1, 3, { dropRate: 1 });
    net.setLinkFaults(1, 2, undefined);
    for (let i = 0; i < 10; i++) {
      a.send(2, hb(1, 1));
      a.send(3, hb(1, 1));
    }
    net.settle();
    expect(at[2]).toHaveLength(11);
    expect(at[3]).toHaveLength(1);
  });
});

describe('StoreEngine.logTerms', () => {
  it('gives the terms of the last entries of a replica, agreeing with its Raft status', async () => {
    const { cluster, clock } = await virtualCluster({ stores: 3 });
    try {
      const kv = cluster.client();
      for (let i = 0; i < 5; i++) await drive(clock, kv.put(`k${i}`, 'v'));
      const store = cluster.store(1)!;
      const status = store.status().find((s) => s.region.id === 1)!;
      const all = store.logTerms(1, 1000);
      expect(all.firstIndex + all.terms.length - 1).toBe(status.raft.lastIndex);
      expect(all.terms.at(-1)).toBe(status.raft.term);
      expect([...all.terms].sort((x, y) => x - y)).toEqual(all.terms);
      const last3 = store.logTerms(1, 3);
      expect(last3.terms).toEqual(all.terms.slice(-3));
      expect(last3.firstIndex).toBe(status.raft.lastIndex - 2);
      expect(store.logTerms(12345)).toEqual({ firstIndex: 1, terms: [] });
    } finally {
      await cluster.close();
    }
  });
});
