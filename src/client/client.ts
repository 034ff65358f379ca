/**
 * KvClient: RheaKV's whole KV API over a Multi-Raft cluster. It routes each key to its region,
 * splits multi-key calls by region and runs the parts in parallel, batches concurrent `put`s to
 * the same region into one `batchPut`, and retries through leader changes, splits and busy stores
 * without ever applying a write twice.
 *
 * Keys and values are `string | Uint8Array` (strings are UTF-8 encoded); values come back as
 * `Uint8Array`, or `null` when absent. Every error is a typed `FlotillaError` with a stable `code`.
 */
import { encodeUtf8Shared } from '../codec/utf8.ts';
import { InvalidArgumentError, OutcomeUnknownError, RegionNotFoundError, TimeoutError } from '../errors.ts';
import type { CasEntry, KvEntry, KvReadOp, KvReadResults, KvWriteOp, KvWriteResults, ScanEntry, SequenceRange } from '../kv/commands.ts';
import { DEFAULT_KV_LIMITS, type KvLimits, resolveKvLimits } from '../kv/limits.ts';
import { validateReadOp, validateWriteOp } from '../kv/validate.ts';
import type { Clock, Rand } from '../ports.ts';
import { compareEndKeys, compareKeys, intersectRanges, keyInRegion, nextKey } from '../region/keys.ts';
import type { Region } from '../region/types.ts';
import type { ReadConsistency } from '../store/region-peer.ts';
import type { StoreConnector } from './connector.ts';
import { DEFAULT_RETRY, Executor, RegroupError, type RetryOptions } from './executor.ts';
import { DistributedLock, type LockOptions } from './lock.ts';
import { type KeepAliveOptions, LeaseClient, type LeaseInfo, type LeaseKeeper } from './lease.ts';
import { AdminClient } from './admin.ts';
import type { BatchOutcome } from './batcher.ts';
import { GetBatcher } from './get-batcher.ts';
import { PutBatcher } from './put-batcher.ts';
import { Router } from './router.ts';
import { SessionSlots } from './sessions.ts';
import { type Bytes, toBytes } from './bytes.ts';
import { commitTxn, Txn } from './txn.ts';
import { prefixEnd, type WatchOptions, Watcher } from './watch.ts';

export { type Bytes, toBytes } from './bytes.ts';

/** Options of reads. `linearizable` (default: ReadIndex on the leader), `lease` (leader lease), `follower` (ReadIndex served by any replica), `stale` (local, may be behind). */
export interface ReadOptions {
  consistency?: ReadConsistency;
}

/** Options of `put`. */
export interface PutOptions {
  /** Attach the key to this lease (`grantLease`): it is deleted when the lease expires or is revoked. */
  lease?: number;
}

/** Options of `get`: `revision` reads the value as of that revision of the key's region (MVCC history, docs/watch.md). */
export interface GetOptions extends ReadOptions {
  revision?: number;
}

/** Options of range reads. */
export interface ScanOptions extends ReadOptions {
  /** At most this many pairs (default: the store's `scanLimitMax`). */
  limit?: number;
  /** Leave values out (null) when false; default true. */
  returnValue?: boolean;
}

export interface KvClientOptions {
  connector: StoreConnector;
  clock: Clock;
  rand: Rand;
  /** Identifies this client's sessions; must be unique per client instance (default: random bits and the clock). */
  clientId?: string;
  retry?: Partial<RetryOptions>;
  limits?: Partial<KvLimits>;
  /** What `merge` puts between the old value and the appended one; default `,` (RheaKV). */
  mergeSeparator?: Bytes;
  /** Default read consistency; default `linearizable`. */
  readConsistency?: ReadConsistency;
  /** Most puts merged into one batch; default 128. */
  putBatchMax?: number;
  /** Most concurrent `get`s of one consistency merged into one batch (one `multiGet` per region); default 128. */
  getBatchMax?: number;
}

export class KvClient {
  readonly clientId: string;
  readonly router: Router;
  readonly limits: KvLimits;
  /** Region and store administration: split, move leaders, add and remove replicas. */
  readonly admin: AdminClient;
  /** TTL leases, kept by PD's leader (docs/leases.md). */
  private readonly leaseClient: LeaseClient;
  private readonly executor: Executor;
  private readonly slots: SessionSlots;
  private readonly batcher: PutBatcher;
  /** One get batcher per read consistency: only gets of the same consistency share a request. */
  private readonly getBatchers = new Map<ReadConsistency, GetBatcher>();
  private readonly getBatchMax: number;
  private readonly separator: Uint8Array;
  private readonly consistency: ReadConsistency;
  private readonly clock: Clock;
  private readonly rand: Rand;

  constructor(opts: KvClientOptions) {
    this.clock = opts.clock;
    this.rand = opts.rand;
    // Must be unique per client instance: a reused id could be answered from another client's
    // session. The default draws 62 random bits and the clock; give a UUID where one is at hand.
    this.clientId = opts.clientId ?? `c${opts.rand.int(2 ** 31).toString(36)}${opts.rand.int(2 ** 31).toString(36)}-${Math.floor(opts.clock.now()).toString(36)}`;
    this.limits = resolveKvLimits(opts.limits ?? DEFAULT_KV_LIMITS);
    const retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.router = new Router(opts.connector, opts.rand, { clock: opts.clock, ms: retry.attemptTimeoutMs });
    this.executor = new Executor(opts.connector, this.router, opts.clock, opts.rand, retry);
    this.slots = new SessionSlots(this.clientId);
    this.separator = toBytes(opts.mergeSeparator ?? ',', 'mergeSeparator');
    this.consistency = opts.readConsistency ?? 'linearizable';
    this.batcher = new PutBatcher(opts.putBatchMax ?? 128, (entries) => this.putParts(entries));
    this.getBatchMax = opts.getBatchMax ?? 128;
    this.admin = new AdminClient(opts.connector, this.router, this.executor, toBytes);
    this.leaseClient = new LeaseClient(opts.connector, opts.clock, opts.rand, retry);
  }

  // --- the write path --------------------------------------------------------------------------

  /** Applies one write to the region of `routeKey`, retrying with the same session seq. */
  private async write<T extends KvWriteOp>(op: T, routeKey: Uint8Array, keys?: readonly Uint8Array[], startedAtMs?: number): Promise<KvWriteResults[T['type']]> {
    validateWriteOp(op, this.limits);
    const slot = this.slots.acquire();
    try {
      const outcome = await this.executor.run(
        routeKey,
        true,
        (region) => ({ type: 'write', regionId: region.id, epoch: region.epoch, clientId: slot.clientId, seq: slot.seq, op }),
        op.type,
        keys && ((region) => keys.every((k) => keyInRegion(k, region))),
        (lastSeq) => this.slots.bump(slot, lastSeq),
        false,
        startedAtMs,
      );
      if (!outcome.ok) throw outcome.error;
      return outcome.result as KvWriteResults[T['type']];
    } finally {
      this.slots.release(slot);
    }
  }

  /** Splits a multi-key write by region (each part atomic within its region) and runs the parts in parallel. */
  private async writeGrouped(op: Extract<KvWriteOp, { type: 'batchPut' | 'batchDelete' | 'batchCompareAndPut' }>): Promise<boolean> {
    const keys = op.type === 'batchDelete' ? op.keys : op.entries.map((e) => e.key);
    const t0 = this.clock.now();
    const part = (idx: number[]) => {
      const sub = op.type === 'batchDelete' ? { type: op.type, keys: idx.map((i) => op.keys[i]) } : { type: op.type, entries: idx.map((i) => op.entries[i]) };
      const subKeys = idx.map((i) => keys[i]);
      return this.write(sub as typeof op, subKeys[0], subKeys, t0);
    };
    // A compare-and-put batch re-sent under a new grouping could apply twice if an earlier
    // attempt's fate is unknown; puts and deletes are idempotent.
    const results = await this.runGroups(keys, part, op.type !== 'batchCompareAndPut', t0);
    return results.every((r) => r.value === true);
  }

  /** Writes a put batch region by region; a region's part fails alone. */
  private putParts(entries: KvEntry[]): Promise<BatchOutcome<void>> {
    const keys = entries.map((e) => e.key);
    const t0 = this.clock.now();
    return this.batchParts(
      keys,
      (idx) => this.write({ type: 'batchPut', entries: idx.map((i) => entries[i]) }, keys[idx[0]], idx.map((i) => keys[i]), t0).then(() => undefined),
      t0,
    );
  }

  /** Reads a get batch region by region: one `multiGet` per region (a lone key: a `get`); a region's part fails alone. */
  private getParts(keys: Uint8Array[], consistency: ReadConsistency): Promise<BatchOutcome<Uint8Array | null>> {
    const opts = { consistency };
    const t0 = this.clock.now();
    return this.batchParts(
      keys,
      async (idx) => {
        if (idx.length === 1) return [await this.read({ type: 'get', key: keys[idx[0]] }, keys[idx[0]], opts, undefined, t0)];
        const sub = idx.map((i) => keys[i]);
        return this.read({ type: 'multiGet', keys: sub }, sub[0], opts, sub, t0);
      },
      t0,
    );
  }

  /**
   * Runs a batch of single-key requests grouped by region: `part(idx)` answers the items at `idx`
   * (values in that order, or undefined for none). A part that fails is the failure of its items
   * only; a part a split divided is regrouped and sent again.
   */
  private async batchParts<R>(keys: readonly Uint8Array[], part: (idx: number[]) => Promise<R[] | undefined>, startedAtMs: number): Promise<BatchOutcome<R>> {
    const values: R[] = new Array(keys.length);
    const errors: unknown[] = new Array(keys.length).fill(undefined);
    await this.runGroups(
      keys,
      (idx) =>
        part(idx).then(
          (vs) => {
            if (vs) for (let j = 0; j < idx.length; j++) values[idx[j]] = vs[j];
          },
          (e) => {
            if (e instanceof RegroupError) throw e;
            for (const i of idx) errors[i] = e;
          },
        ),
      true,
      startedAtMs,
    );
    return { values, errors };
  }

  /**
   * Groups `keys` by region and runs `part` on each group in parallel; a group whose keys a split
   * has since divided is regrouped and run again (a bounded number of times).
   */
  private async runGroups<T>(keys: readonly Uint8Array[], part: (idx: number[]) => Promise<T>, idempotent: boolean, startedAtMs: number): Promise<Array<{ idx: number[]; value: T }>> {
    const out: Array<{ idx: number[]; value: T }> = [];
    if (keys.length === 0) return out;
    let todo: number[][] = await this.group(keys, keys.map((_, i) => i), startedAtMs);
    for (let round = 0; todo.length > 0; round++) {
      const again: number[][] = [];
      await Promise.all(
        todo.map(async (idx) => {
          try {
            out.push({ idx, value: await part(idx) });
          } catch (e) {
            if (!(e instanceof RegroupError)) throw e;
            if (e.maybeApplied && !idempotent) throw new OutcomeUnknownError('a batch part may have applied before a split divided its keys');
            if (round >= 8) throw new TimeoutError('the regions of a batch kept changing while it was sent');
            for (const g of await this.group(keys, idx, startedAtMs)) again.push(g);
          }
        }),
      );
      todo = again;
    }
    return out;
  }

  /** The indexes `which` of `keys`, grouped by the region serving them (refreshing routes for unrouted keys). */
  private async group(keys: readonly Uint8Array[], which: readonly number[], startedAtMs: number): Promise<number[][]> {
    const subset = which.map((i) => keys[i]);
    let lookup = this.router.table.findRegionsByKeys(subset);
    if (lookup.unrouted.length > 0) {
      // Within the operation's deadline (a store that hangs must not hold it): unrouted keys go on alone.
      await this.executor.boundedRefresh(startedAtMs + this.executor.retry.timeoutMs);
      lookup = this.router.table.findRegionsByKeys(subset);
    }
    const groups = lookup.groups.map((g) => g.indexes.map((j) => which[j]));
    // Keys no region is known for yet go one group each; the executor keeps looking them up.
    for (const j of lookup.unrouted) groups.push([which[j]]);
    return groups;
  }

  // --- reads -----------------------------------------------------------------------------------

  private async read<T extends KvReadOp>(op: T, routeKey: Uint8Array, opts?: ReadOptions, keys?: readonly Uint8Array[], startedAtMs?: number): Promise<KvReadResults[T['type']]> {
    validateReadOp(op, this.limits);
    const consistency = opts?.consistency ?? this.consistency;
    const fits = keys && ((region: Region) => keys.every((k) => keyInRegion(k, region)));
    return (await this.executor.run(routeKey, false, (region) => ({ type: 'read', regionId: region.id, epoch: region.epoch, op, consistency }), op.type, fits, undefined, false, startedAtMs)) as KvReadResults[T['type']];
  }

  /** The value of `key`, or null. Concurrent gets of one consistency travel as one `multiGet` per region. */
  async get(key: Bytes, opts?: GetOptions): Promise<Uint8Array | null> {
    const k = toBytes(key, 'key');
    if (opts?.revision !== undefined) return this.read({ type: 'getAt', key: k, revision: opts.revision }, k, opts);
    validateReadOp({ type: 'get', key: k }, this.limits);
    const consistency = opts?.consistency ?? this.consistency;
    let batcher = this.getBatchers.get(consistency);
    if (!batcher) {
      batcher = new GetBatcher(this.getBatchMax, (keys) => this.getParts(keys, consistency));
      this.getBatchers.set(consistency, batcher);
    }
    return batcher.add(k);
  }

  /** The values of `keys`, as pairs in key order (duplicates once). */
  async multiGet(keys: readonly Bytes[], opts?: ReadOptions): Promise<ScanEntry[]> {
    const ks = uniqueSorted(keys.map((k, i) => toBytes(k, `keys[${i}]`)));
    const t0 = this.clock.now();
    const parts = await this.runGroups(ks, (idx) => this.read({ type: 'multiGet', keys: idx.map((i) => ks[i]) }, ks[idx[0]], opts, idx.map((i) => ks[i]), t0), true, t0);
    const out: ScanEntry[] = [];
    for (const { idx, value } of parts) {
      for (let j = 0; j < idx.length; j++) out.push({ key: ks[idx[j]], value: value[j] });
    }
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Whether `key` has a value. */
  containsKey(key: Bytes, opts?: ReadOptions): Promise<boolean> {
    const k = toBytes(key, 'key');
    return this.read({ type: 'containsKey', key: k }, k, opts);
  }

  /** Pairs in `[start, end)` in ascending key order, across region boundaries. Empty `end` is +∞. */
  scan(start: Bytes, end: Bytes, opts?: ScanOptions): Promise<ScanEntry[]> {
    return this.scanRange(toBytes(start, 'start'), toBytes(end, 'end'), false, opts);
  }

  /** Pairs in `[start, end)` in descending key order, across region boundaries. */
  reverseScan(start: Bytes, end: Bytes, opts?: ScanOptions): Promise<ScanEntry[]> {
    return this.scanRange(toBytes(start, 'start'), toBytes(end, 'end'), true, opts);
  }

  private async scanRange(start: Uint8Array, end: Uint8Array, reverse: boolean, opts?: ScanOptions): Promise<ScanEntry[]> {
    if (end.length > 0 && compareKeys(start, end) > 0) throw new InvalidArgumentError('end', 'the range end is before its start');
    const limit = opts?.limit ?? this.limits.scanLimitMax;
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new InvalidArgumentError('limit', `must be a positive integer, got ${limit}`);
    const out: ScanEntry[] = [];
    // Walk the range region by region (from the far end when reverse); each step looks the next
    // region up again, so splits during the walk only make the steps smaller.
    let lo = start;
    let hi = end;
    while (out.length < limit && (hi.length === 0 || compareKeys(lo, hi) < 0)) {
      const region = await this.edgeRegion(lo, hi, reverse);
      const part = intersectRanges(lo, hi, region.startKey, region.endKey)!;
      const op = { type: reverse ? 'reverseScan' : 'scan', start: part.start, end: part.end, limit: limit - out.length, returnValue: opts?.returnValue ?? true } as const;
      for (const r of await this.read(op, part.start, opts)) out.push(r);
      if (reverse) {
        if (region.startKey.length === 0 || compareKeys(region.startKey, lo) <= 0) break;
        hi = region.startKey;
      } else {
        if (region.endKey.length === 0 || (end.length > 0 && compareKeys(region.endKey, end) >= 0)) break;
        lo = region.endKey;
      }
    }
    return out;
  }

  /** The first (or, reverse, the last) region of `[lo, hi)`, with no gap in the route table before it. */
  private async edgeRegion(lo: Uint8Array, hi: Uint8Array, reverse: boolean): Promise<Region> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const regions = this.router.table.findRegionsByRange(lo, hi);
      const edge = reverse ? regions[regions.length - 1] : regions[0];
      const covered = edge && (reverse ? compareEndKeys(edge.endKey, hi) >= 0 : compareKeys(edge.startKey, lo) <= 0);
      if (covered) return edge;
      await this.router.refresh();
    }
    throw new RegionNotFoundError(0);
  }

  /** Iterates over `[start, end)` page by page (`pageSize` pairs per request). */
  async *iterator(start: Bytes, end: Bytes, opts: ScanOptions & { pageSize?: number } = {}): AsyncGenerator<ScanEntry> {
    const pageSize = opts.pageSize ?? 100;
    let lo = toBytes(start, 'start');
    const hi = toBytes(end, 'end');
    for (;;) {
      const page = await this.scanRange(lo, hi, false, { ...opts, limit: pageSize });
      for (const row of page) yield row;
      if (page.length < pageSize) return;
      lo = nextKey(page[page.length - 1].key);
    }
  }

  // --- writes ----------------------------------------------------------------------------------

  /**
   * Sets `key` to `value`. Concurrent puts to one region travel as one batch. With `lease`, the
   * key is attached to that lease (`LeaseNotFound` if it is gone) and deleted when it ends; a put
   * without one detaches the key from its lease.
   */
  async put(key: Bytes, value: Bytes, opts?: PutOptions): Promise<true> {
    const k = toBytes(key, 'key');
    if (opts?.lease !== undefined) {
      const op = { type: 'leasePut' as const, key: k, value: toBytes(value, 'value'), lease: opts.lease };
      validateWriteOp(op, this.limits);
      await this.leaseClient.ensureKnown(opts.lease);
      return this.write(op, k);
    }
    // A string value is only read until its batch is encoded: it may share a chunk.
    const v = typeof value === 'string' ? encodeUtf8Shared(value) : toBytes(value, 'value');
    validateWriteOp({ type: 'put', key: k, value: v }, this.limits);
    await this.batcher.add({ key: k, value: v });
    return true;
  }

  // --- leases (docs/leases.md) ------------------------------------------------------------------

  /**
   * Grants a lease: keys put with it are deleted `ttlMs` after PD's leader last heard a keepAlive.
   * @param ttlMs - a positive integer, at most a day.
   */
  grantLease(ttlMs: number): Promise<LeaseInfo> {
    return this.leaseClient.grant(ttlMs);
  }

  /** Restarts the lease's ttl once; `LeaseNotFound` when it expired or was revoked. */
  keepAlive(id: number): Promise<LeaseInfo> {
    return this.leaseClient.keepAlive(id);
  }

  /** Keeps the lease alive in the background (every ttl/3 by default) until `stop()` or its loss. */
  keepAliveInBackground(lease: { id: number; ttlMs: number }, opts?: KeepAliveOptions): LeaseKeeper {
    return this.leaseClient.keepAliveInBackground(lease, opts);
  }

  /** Revokes the lease; resolves once every key attached to it is deleted. */
  revoke(id: number): Promise<void> {
    return this.leaseClient.revoke(id);
  }

  /** The lease's ttl and the time it has left; `LeaseNotFound` when it is gone. */
  leaseTimeToLive(id: number): Promise<LeaseInfo> {
    return this.leaseClient.timeToLive(id);
  }

  /** The ids of the active leases. */
  leases(): Promise<number[]> {
    return this.leaseClient.list();
  }

  /** Sets many keys; atomic within each region, not across regions. */
  putAll(entries: ReadonlyArray<{ key: Bytes; value: Bytes }>): Promise<boolean> {
    return this.writeGrouped({ type: 'batchPut', entries: entries.map((e, i) => ({ key: toBytes(e.key, `entries[${i}].key`), value: toBytes(e.value, `entries[${i}].value`) })) });
  }

  /** Sets `key` and returns its previous value (or null). */
  getAndPut(key: Bytes, value: Bytes): Promise<Uint8Array | null> {
    const k = toBytes(key, 'key');
    return this.write({ type: 'getAndPut', key: k, value: toBytes(value, 'value') }, k);
  }

  /** Sets `key` to `update` only if its value is `expect` (null: only if absent). Returns whether it did. */
  compareAndPut(key: Bytes, expect: Bytes | null, update: Bytes): Promise<boolean> {
    const k = toBytes(key, 'key');
    return this.write({ type: 'compareAndPut', key: k, expect: expect === null ? null : toBytes(expect, 'expect'), update: toBytes(update, 'update') }, k);
  }

  /** Compare-and-put of many keys: all-or-nothing within each region. Returns whether every part succeeded. */
  compareAndPutAll(entries: ReadonlyArray<{ key: Bytes; expect: Bytes | null; update: Bytes }>): Promise<boolean> {
    const cas: CasEntry[] = entries.map((e, i) => ({
      key: toBytes(e.key, `entries[${i}].key`),
      expect: e.expect === null ? null : toBytes(e.expect, `entries[${i}].expect`),
      update: toBytes(e.update, `entries[${i}].update`),
    }));
    return this.writeGrouped({ type: 'batchCompareAndPut', entries: cas });
  }

  /** Sets `key` only if absent. Returns the previous value (null: it was absent and is now set). */
  putIfAbsent(key: Bytes, value: Bytes): Promise<Uint8Array | null> {
    const k = toBytes(key, 'key');
    return this.write({ type: 'putIfAbsent', key: k, value: toBytes(value, 'value') }, k);
  }

  /** Appends `value` to the current value with the merge separator (sets it when absent). */
  merge(key: Bytes, value: Bytes): Promise<true> {
    const k = toBytes(key, 'key');
    return this.write({ type: 'merge', key: k, value: toBytes(value, 'value'), separator: this.separator }, k);
  }

  /** Removes `key` (absent is fine). */
  delete(key: Bytes): Promise<true> {
    const k = toBytes(key, 'key');
    return this.write({ type: 'delete', key: k }, k);
  }

  /** Removes many keys; atomic within each region. */
  deleteAll(keys: readonly Bytes[]): Promise<boolean> {
    return this.writeGrouped({ type: 'batchDelete', keys: keys.map((k, i) => toBytes(k, `keys[${i}]`)) });
  }

  /** Removes every key in `[start, end)`, region by region. */
  async deleteRange(start: Bytes, end: Bytes): Promise<true> {
    const s = toBytes(start, 'start');
    const e = toBytes(end, 'end');
    validateWriteOp({ type: 'deleteRange', start: s, end: e }, this.limits);
    let lo = s;
    for (;;) {
      const region = await this.router.regionFor(lo);
      const part = intersectRanges(lo, e, region.startKey, region.endKey);
      if (part) await this.write({ type: 'deleteRange', start: part.start, end: part.end }, part.start);
      if (region.endKey.length === 0 || (e.length > 0 && compareKeys(region.endKey, e) >= 0)) return true;
      lo = region.endKey;
    }
  }

  /** Hands out `[startValue, startValue + step)` of the sequence at `key`. */
  getSequence(key: Bytes, step: number): Promise<SequenceRange> {
    const k = toBytes(key, 'key');
    return this.write({ type: 'getSequence', key: k, step }, k);
  }

  /** The next value the sequence at `key` would hand out. */
  getLatestSequence(key: Bytes, opts?: ReadOptions): Promise<number> {
    const k = toBytes(key, 'key');
    return this.read({ type: 'getLatestSequence', key: k }, k, opts);
  }

  /** Restarts the sequence at `key` from 0. */
  resetSequence(key: Bytes): Promise<true> {
    const k = toBytes(key, 'key');
    return this.write({ type: 'resetSequence', key: k }, k);
  }

  /** A distributed lock on `key` with a lease of `leaseMs`, and a fencing token that only rises. */
  getDistributedLock(key: Bytes, leaseMs: number, opts: LockOptions = {}): DistributedLock {
    const k = toBytes(key, 'key');
    if (!Number.isSafeInteger(leaseMs) || leaseMs <= 0) throw new InvalidArgumentError('leaseMs', `must be a positive integer, got ${leaseMs}`);
    const owner = opts.owner ?? `${this.clientId}:${this.rand.int(2 ** 31).toString(36)}`;
    return new DistributedLock(k, owner, leaseMs, opts, (op) => this.write(op, k), this.clock);
  }

  /**
   * Starts an etcd-style transaction on keys of ONE region, applied atomically:
   * `kv.txn().if(Compare.value('k', '=', 'v')).then(Op.put('k', 'w')).else(Op.get('k')).commit()`.
   * See docs/transactions.md.
   */
  txn(): Txn {
    return new Txn((op) => commitTxn({ executor: this.executor, router: this.router, slots: this.slots, limits: this.limits, clock: this.clock }, op));
  }

  /**
   * Watches a key range for changes: an async iterable of put/delete events, in revision order
   * per key, none lost or repeated across leader changes, reconnects, store restarts, splits and
   * merges (docs/watch.md). `prefixOrRange` is a key prefix, or `{ start, end }` (empty end: +∞).
   * Break out of the loop, or call `close()`, to stop.
   * @param prefixOrRange - what to watch.
   * @param opts - where to start, previous values, polling.
   */
  watch(prefixOrRange: Bytes | { start: Bytes; end: Bytes }, opts: WatchOptions = {}): Watcher {
    let start: Uint8Array;
    let end: Uint8Array;
    if (typeof prefixOrRange === 'string' || prefixOrRange instanceof Uint8Array) {
      start = toBytes(prefixOrRange, 'prefix');
      end = prefixEnd(start);
    } else {
      start = toBytes(prefixOrRange.start, 'start');
      end = toBytes(prefixOrRange.end, 'end');
    }
    return new Watcher(this.executor, this.router, this.clock, start, end, opts);
  }

  /**
   * Compacts the MVCC history of every region overlapping `[start, end)` (default: all) up to
   * `revision` (each region: at most its latest revision). Watches and `get(key, { revision })`
   * below it fail with `Compacted` afterwards. Returns each region's compaction point.
   * @param revision - the revision to compact to.
   * @param range - the key range whose regions compact.
   */
  async compact(revision: number, range: { start?: Bytes; end?: Bytes } = {}): Promise<{ regionId: number; compactRevision: number }[]> {
    const s = toBytes(range.start ?? '', 'start');
    const e = toBytes(range.end ?? '', 'end');
    validateWriteOp({ type: 'compact', revision }, this.limits);
    const out: { regionId: number; compactRevision: number }[] = [];
    let lo = s;
    for (;;) {
      const region = await this.router.regionFor(lo);
      out.push({ regionId: region.id, compactRevision: await this.write({ type: 'compact', revision }, region.startKey) });
      if (region.endKey.length === 0 || (e.length > 0 && compareKeys(region.endKey, e) >= 0)) return out;
      lo = region.endKey;
    }
  }

  /** The regions the client knows, in key order (refreshing first). */
  async regions(): Promise<Region[]> {
    await this.router.refresh();
    return this.router.table.list();
  }
}

function uniqueSorted(keys: Uint8Array[]): Uint8Array[] {
  const sorted = [...keys].sort(compareKeys);
  return sorted.filter((k, i) => i === 0 || compareKeys(sorted[i - 1], k) !== 0);
}
