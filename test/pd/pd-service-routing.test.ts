/**
 * How a store without a PD replica finds PD once its members moved: it takes the members and the
 * leader from the PD leader's answers (and persists them), trusts that leader only while it keeps
 * answering, then tries the members it knows, and after ten silent rounds also every store it
 * heard from (the list it knows may name stores that are all gone).
 */
import { describe, expect, it } from 'vitest';
import { type PdHost, type PdMessage, PdService } from '../../src/store/pd-service.ts';

function fakeHost(known: number[]) {
  let nowMs = 0;
  const sent: Array<{ to: number; m: PdMessage }> = [];
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const host = {
    storeId: 9,
    now: () => nowMs,
    send: (to: number, m: PdMessage) => sent.push({ to, m }),
    pdPeer: () => undefined,
    leaderHeartbeats: async () => [],
    storeHeartbeat: () => ({ storeId: 9, capacityBytes: 0, availableBytes: 0, regionCount: 0, leaderCount: 0, bytesWritten: 0, keysWritten: 0, bytesRead: 0, keysRead: 0, timestampMs: nowMs, state: 'up' as const }),
    loadState: async () => ({ stores: [], regions: [] }),
    execute: async () => undefined,
    region: () => undefined,
    authRevision: () => 0,
    authAsked: () => undefined,
    authTold: () => undefined,
    refreshAuth: () => undefined,
    pdGroup: () => undefined,
    changePdMembers: async () => undefined,
    knownStoreIds: () => known,
    logger: quiet,
  } as unknown as PdHost;
  return {
    host,
    sent,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

/** The stores the heartbeats of `rounds` rounds went to, one round per `heartbeatMs`. */
function heartbeatTargets(pd: PdService, f: ReturnType<typeof fakeHost>, rounds: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    f.sent.length = 0;
    pd.tick();
    out.push(...f.sent.filter((s) => s.m.type === 'storeHeartbeat').map((s) => s.to));
    f.advance(1000);
  }
  return out;
}

describe('PdService: finding PD when its members move', () => {
  it("takes the leader's member list, persists it, and heartbeats the leader while it answers", () => {
    const f = fakeHost([1, 2, 3, 4, 5]);
    const saved: number[][] = [];
    const pd = new PdService(f.host, { pdStoreIds: [1, 2, 3], heartbeatMs: 1000, onPdMembers: (ids) => saved.push(ids) });
    pd.receive(5, { type: 'pdMembers', storeIds: [5, 3, 4], leaderStoreId: 4 });
    expect(pd.pdStoreIds).toEqual([3, 4, 5]);
    expect(saved).toEqual([[3, 4, 5]]);
    pd.receive(4, { type: 'pdMembers', storeIds: [3, 4, 5], leaderStoreId: 4 });
    expect(saved).toHaveLength(1); // unchanged: not saved again
    expect(heartbeatTargets(pd, f, 3)).toEqual([4, 4, 4]);
  });

  it('a silent leader is given up after three rounds; the members are tried in turn, then every store heard from', () => {
    const f = fakeHost([1, 2, 3, 7, 8]);
    const pd = new PdService(f.host, { pdStoreIds: [1, 2, 3], heartbeatMs: 1000 });
    pd.receive(2, { type: 'pdMembers', storeIds: [1, 2, 3], leaderStoreId: 2 });
    const targets = heartbeatTargets(pd, f, 30);
    expect(targets.slice(0, 4)).toEqual([2, 2, 2, 2]);
    expect(new Set(targets.slice(4, 11))).toEqual(new Set([1, 2, 3]));
    // Past ten silent rounds, stores outside the list get their turn (the list may be all gone).
    expect(targets.slice(11).some((t) => t === 7 || t === 8)).toBe(true);
  });
});
