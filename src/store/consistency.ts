/**
 * Replica consistency checks (TiKV's ComputeHash / VerifyHash): the leader proposes a
 * `computeHash` admin entry through the region's log; every replica, when it APPLIES that entry,
 * hashes its region state at exactly that index (every pair of the region's key ranges and its
 * client sessions, the replicated state), and reports `{checkId, index, hash}` to the store that
 * proposed it; that store compares. Comparing at one log index is what makes a check meaningful
 * while writes go on: hashes taken "now" on each store differ whenever the replicas are at
 * different indexes.
 *
 * The hash is taken from a consistent view (an engine snapshot plus a copy of the apply turn's
 * pending writes, see `WriteOverlay.rebased`), a page of pairs at a time, never the region whole
 * in memory, and in the background: the store applies on meanwhile.
 */
import { InvalidArgumentError, ServerBusyError } from '../errors.ts';
import { regionRanges } from '../kv/keys.ts';
import type { KvReader, WriteOverlay } from '../kv/overlay.ts';
import { nextKey } from '../region/keys.ts';
import { crc32 } from '../storage/crc32.ts';
import type { ComputeHashCommand } from './admin.ts';
import type { CheckResult, HashReport, ReplicaHash } from './consistency-types.ts';
import { encodePdMessage } from './pd-service.ts';
import { PD_PREFIX } from './pd-state.ts';
import type { RegionPeer } from './region-peer.ts';
import { isPdGroup, type StoreContext } from './store-context.ts';

/** How long a check waits for the replicas by default. */
export const CHECK_WAIT_MS_DEFAULT = 10_000;
/** Checks proposed here and not yet finished, at most (each holds a few reports). */
const CHECKS_IN_FLIGHT_MAX = 64;

interface PendingCheck {
  regionId: number;
  /** The members at the check's index, once the leader's own replica applied it. */
  members: Array<{ storeId: number; peerId: number }> | undefined;
  index: number;
  /** By peer id, with the index each was taken at. */
  reports: Map<number, ReplicaHash & { index: number }>;
  /** Called when a report arrived. */
  wake: () => void;
}

/** The checks this store proposed, and the hashing of the checks its replicas applied. */
export class ConsistencyChecker {
  private readonly ctx: StoreContext;
  private readonly pending = new Map<number, PendingCheck>();
  /** 0 until the first check draws a random start (not before: a store that never checks draws nothing, so simulation seeds replay as before). */
  private nextCheckId = 0;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Checks one region this store leads: proposes `computeHash`, waits (at most `waitMs`) for every
   * member's hash at the entry's index, compares. Resolves with the result, lagging replicas in
   * `unchecked`. Rejects with NotLeader off the leader.
   */
  async check(peer: RegionPeer, waitMs = CHECK_WAIT_MS_DEFAULT): Promise<CheckResult> {
    const ctx = this.ctx;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > 600_000) throw new InvalidArgumentError('waitMs', 'must be an integer from 0 to 600000');
    if (!peer.isLeader()) throw peer.notLeader();
    if (this.pending.size >= CHECKS_IN_FLIGHT_MAX) throw new ServerBusyError(`${CHECKS_IN_FLIGHT_MAX} consistency checks are under way on store ${ctx.storeId}; retry`);
    // A random start, then counting: entries of checks proposed before a restart of this store
    // may still apply on lagging replicas, and their reports must not pass for a new check's.
    if (this.nextCheckId === 0) this.nextCheckId = ctx.opts.rand.int(2 ** 30) * 2 ** 20 + 1;
    const checkId = this.nextCheckId++;
    let wake = () => {};
    const check: PendingCheck = { regionId: peer.regionId, members: undefined, index: 0, reports: new Map(), wake: () => wake() };
    this.pending.set(checkId, check);
    try {
      const outcome = await peer.proposeAdmin({ type: 'computeHash', reportTo: ctx.storeId, checkId });
      ctx.kick();
      if (!outcome.ok) throw outcome.error;
      const deadline = ctx.opts.clock.now() + waitMs;
      while (!this.complete(check) && ctx.opts.clock.now() < deadline && !ctx.closed) {
        await new Promise<void>((resolve) => {
          const cancel = ctx.opts.clock.setTimer(Math.max(1, Math.min(ctx.opts.tickMs, deadline - ctx.opts.clock.now())), () => resolve());
          wake = () => {
            cancel();
            resolve();
          };
        });
      }
      return this.compare(check);
    } finally {
      this.pending.delete(checkId);
    }
  }

  private complete(check: PendingCheck): boolean {
    return check.members?.every((m) => check.reports.get(m.peerId)?.index === check.index) === true;
  }

  private compare(check: PendingCheck): CheckResult {
    const ctx = this.ctx;
    const members = check.members ?? [];
    // Only hashes taken at the check's index (the leader's own apply fixed it) are compared.
    const reports = [...check.reports.values()].filter((r) => r.index === check.index);
    const byHash = new Map<string, number[]>();
    for (const r of reports) byHash.set(r.hash, [...(byHash.get(r.hash) ?? []), r.storeId]);
    const mine = reports.find((r) => r.storeId === ctx.storeId)?.hash ?? '';
    // The hash most replicas hold is taken as the region's; on a tie the leader's side.
    let hash = mine;
    for (const [h, stores] of byHash) {
      const best = byHash.get(hash)?.length ?? 0;
      if (stores.length > best) hash = h;
    }
    const replicas = reports.map(({ storeId, peerId, hash: h, pairs }) => ({ storeId, peerId, hash: h, pairs })).sort((a, b) => a.storeId - b.storeId);
    const result: CheckResult = {
      regionId: check.regionId,
      index: check.index,
      leaderStoreId: ctx.storeId,
      hash,
      agreeing: replicas.filter((r) => r.hash === hash).map((r) => r.storeId),
      divergent: replicas.filter((r) => r.hash !== hash).map((r) => r.storeId),
      unchecked: members.filter((m) => !reports.some((r) => r.peerId === m.peerId)).map((m) => m.storeId).sort((a, b) => a - b),
      replicas,
    };
    ctx.counters.consistencyChecks++;
    ctx.counters.consistencyDivergences += result.divergent.length;
    if (result.divergent.length > 0) ctx.opts.logger.error('replicas diverged', { regionId: result.regionId, index: result.index, divergent: result.divergent, agreeing: result.agreeing });
    return result;
  }

  /**
   * Called by a replica applying a `computeHash` entry at `index`, inside the apply turn: takes the
   * consistent view now (engine snapshot + the turn's pending writes), then hashes in the
   * background and reports to the proposer.
   */
  async applied(peer: RegionPeer, cmd: ComputeHashCommand, index: number, overlay: WriteOverlay): Promise<void> {
    const ctx = this.ctx;
    const region = peer.region;
    if (cmd.reportTo === ctx.storeId) {
      const check = this.pending.get(cmd.checkId);
      if (check?.regionId === peer.regionId) {
        check.members = region.peers.map((p) => ({ storeId: p.storeId, peerId: p.id }));
        check.index = index;
      }
    }
    const snapshot = await ctx.engine.snapshot();
    // Nothing applies while this turn awaits here, so the overlay is as the entry left it.
    const view = overlay.rebased(snapshot);
    const ranges = isPdGroup(peer) ? [{ start: Uint8Array.of(PD_PREFIX), end: Uint8Array.of(PD_PREFIX + 1) }] : regionRanges(region);
    const peerId = peer.peerId;
    void hashRanges(view, ranges)
      .then(({ hash, pairs }) => {
        const report: HashReport = { regionId: region.id, checkId: cmd.checkId, index, storeId: ctx.storeId, peerId, hash, pairs };
        if (cmd.reportTo === ctx.storeId) this.receive(ctx.storeId, report);
        else ctx.opts.sendPd?.(cmd.reportTo, encodePdMessage({ type: 'hashReport', report }));
      })
      .catch((e) => ctx.opts.logger.warn('consistency hash not computed', { regionId: region.id, index, error: String(e) }))
      .finally(() => snapshot.release());
  }

  /** A replica's report (from this store or another); reports for no check under way here are dropped. */
  receive(fromStoreId: number, report: HashReport): void {
    const check = this.pending.get(report.checkId);
    if (!check || check.regionId !== report.regionId || report.storeId !== fromStoreId) return;
    // A report may come before the leader's own apply fixed the index: kept, and compared only if
    // taken at that index (an entry at another index is not this check's).
    if (check.index !== 0 && report.index !== check.index) return;
    check.reports.set(report.peerId, { storeId: report.storeId, peerId: report.peerId, hash: report.hash, pairs: report.pairs, index: report.index });
    check.wake();
  }
}

/** Pairs per scan while hashing: bounds what a check holds in memory at once. */
const HASH_PAGE_PAIRS = 256;

/**
 * Hashes every pair of `ranges` in `view`, a page at a time: CRC-32 and FNV-1a side by side (64
 * bits), each pair framed by its lengths so that no two different sequences of pairs hash alike
 * by moving bytes between a key and a value.
 */
export async function hashRanges(view: KvReader, ranges: ReadonlyArray<{ start: Uint8Array; end: Uint8Array }>): Promise<{ hash: string; pairs: number }> {
  let crc = 0;
  let fnv = 0x811c9dc5;
  let pairs = 0;
  const len = new Uint8Array(4);
  const mix = (b: Uint8Array) => {
    new DataView(len.buffer).setUint32(0, b.length);
    crc = crc32(len, crc);
    crc = crc32(b, crc);
    for (let i = 0; i < 4; i++) fnv = Math.imul(fnv ^ len[i], 0x01000193) >>> 0;
    for (let i = 0; i < b.length; i++) fnv = Math.imul(fnv ^ b[i], 0x01000193) >>> 0;
  };
  for (const r of ranges) {
    let start = r.start;
    for (;;) {
      const page = await view.scan({ start, end: r.end, limit: HASH_PAGE_PAIRS });
      for (const kv of page) {
        mix(kv.key);
        mix(kv.value);
        pairs++;
      }
      if (page.length < HASH_PAGE_PAIRS) break;
      start = nextKey(page[page.length - 1].key);
    }
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  return { hash: hex(crc) + hex(fnv), pairs };
}
