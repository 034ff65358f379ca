/**
 * The client side of etcd-style transactions: the `txn().if(...).then(...).else(...).commit()`
 * builder, the {@link Compare} and {@link Op} helpers that build its parts, and the commit path.
 *
 * A txn is ONE write to ONE region. The client routes it by the span of its keys and refuses,
 * before sending anything, a txn whose keys lie in more than one region
 * ({@link CrossRegionTxnError}). It goes through the same retry loop and session slot as every
 * other write, so a retried txn is answered from the session table rather than applied twice. If
 * a split moves some of its keys away while it is in flight, the store refuses it (nothing
 * applied) and the client routes it again, or fails with `CrossRegionTxnError` when the keys now
 * span two regions.
 */
import { InvalidArgumentError, OutcomeUnknownError } from '../errors.ts';
import type { KvLimits } from '../kv/limits.ts';
import type { TxnCompare, TxnCompareResult, TxnOp, TxnResult, TxnWriteOp } from '../kv/txn.ts';
import { txnSpan } from '../kv/txn.ts';
import { validateWriteOp } from '../kv/validate.ts';
import type { Clock } from '../ports.ts';
import { rangeWithin } from '../region/keys.ts';
import type { Region } from '../region/types.ts';
import { type Bytes, toBytes as bytesOf } from './bytes.ts';
import { type Executor, RegroupError } from './executor.ts';
import type { Router } from './router.ts';
import type { SessionSlots } from './sessions.ts';


/** A key for a message: as text when it is printable ASCII, else as hex. */
function show(key: Uint8Array): string {
  if (key.length === 0) return '+inf';
  if (key.length <= 64 && key.every((b) => b >= 0x20 && b < 0x7f)) return JSON.stringify(String.fromCharCode(...key));
  return `0x${[...key.subarray(0, 32)].map((b) => b.toString(16).padStart(2, '0')).join('')}${key.length > 32 ? `…(${key.length} bytes)` : ''}`;
}

/**
 * A txn's keys lie in more than one region, so it cannot apply atomically as one region's log
 * entry. Nothing was sent (or, refused by the store after a split, nothing was applied). Keep a
 * txn's keys close together (a common prefix), or split it into txns of one region each.
 */
export class CrossRegionTxnError extends InvalidArgumentError {
  /** The region holding the txn's lowest key. */
  readonly regionId: number;
  /** Where that region ends: the txn touches keys on both sides of it. */
  readonly boundaryKey: Uint8Array;
  constructor(regionId: number, boundaryKey: Uint8Array) {
    super(
      'txn',
      `its keys span more than one region: region ${regionId} ends at ${show(boundaryKey)} and the txn touches keys on both sides; a txn must stay inside one region (keep its keys under one prefix, or split it)`,
    );
    this.name = 'CrossRegionTxnError';
    this.regionId = regionId;
    this.boundaryKey = boundaryKey;
  }
}

/** Builders of txn compares (etcd's `clientv3.Compare`), on a key's value or existence. */
export const Compare = {
  /**
   * The key's value `result` `value`, byte-wise; false when the key is absent (as in etcd).
   * @param key - the key.
   * @param result - `=`, `!=`, `<` or `>`.
   * @param value - what to compare the stored value with.
   */
  value(key: Bytes, result: TxnCompareResult, value: Bytes): TxnCompare {
    return { target: 'value', key: bytesOf(key, 'key'), result, value: bytesOf(value, 'value') };
  },
  /**
   * The key has a value.
   * @param key - the key.
   */
  exists(key: Bytes): TxnCompare {
    return { target: 'exists', key: bytesOf(key, 'key'), exists: true };
  },
  /**
   * The key has no value.
   * @param key - the key.
   */
  absent(key: Bytes): TxnCompare {
    return { target: 'exists', key: bytesOf(key, 'key'), exists: false };
  },
};

/** Builders of txn ops (etcd's `clientv3.OpPut`, `OpGet`, `OpDelete`). */
export const Op = {
  /**
   * Sets `key` to `value`.
   * @param key - the key.
   * @param value - its new value.
   */
  put(key: Bytes, value: Bytes): TxnOp {
    return { type: 'put', key: bytesOf(key, 'key'), value: bytesOf(value, 'value') };
  },
  /**
   * Reads `key` (after the earlier ops of its branch); its result carries the value or null.
   * @param key - the key.
   */
  get(key: Bytes): TxnOp {
    return { type: 'get', key: bytesOf(key, 'key') };
  },
  /**
   * Removes `key` (absent is fine).
   * @param key - the key.
   */
  delete(key: Bytes): TxnOp {
    return { type: 'delete', key: bytesOf(key, 'key') };
  },
  /**
   * Removes every key in `[start, end)`; the range must lie in the txn's one region.
   * @param start - inclusive start (empty: the first key).
   * @param end - exclusive end (empty: +∞).
   */
  deleteRange(start: Bytes, end: Bytes): TxnOp {
    return { type: 'deleteRange', start: bytesOf(start, 'start'), end: bytesOf(end, 'end') };
  },
};

/**
 * A transaction being built: `if` the compares all hold, `then` ops run, `else` the others.
 * Each clause may be given once, in that order (as etcd's client requires); `commit` sends it.
 */
export class Txn {
  readonly #commit: (op: TxnWriteOp) => Promise<TxnResult>;
  readonly #op: TxnWriteOp = { type: 'txn', compare: [], success: [], failure: [] };
  /** 0: nothing given yet; 1: `if` given; 2: `then` given; 3: `else` given. */
  #stage = 0;

  /** Made by `KvClient.txn()`. */
  constructor(commit: (op: TxnWriteOp) => Promise<TxnResult>) {
    this.#commit = commit;
  }

  #advance(to: number, clause: string): void {
    if (this.#stage >= to) throw new InvalidArgumentError(clause, 'is given twice or after a later clause; build a txn as if(...).then(...).else(...)');
    this.#stage = to;
  }

  /**
   * The conditions: all must hold for `then` to run (none given: `then` runs).
   * @param compares - from {@link Compare}.
   */
  if(...compares: TxnCompare[]): this {
    this.#advance(1, 'if');
    this.#op.compare.push(...compares);
    return this;
  }

  /**
   * The ops to run, in order, when every compare holds.
   * @param ops - from {@link Op}.
   */
  // biome-ignore lint/suspicious/noThenProperty: etcd's API names it `then`; awaiting a Txn by mistake is caught below.
  then(...ops: TxnOp[]): this {
    // `await txn` (a forgotten `commit()`) calls then(resolve, reject): refuse it, or it would never settle.
    if (ops.some((x) => typeof x === 'function')) {
      (ops[1] as unknown as ((e: unknown) => void) | undefined)?.(new InvalidArgumentError('txn', 'a Txn is not a promise: end it with .commit()'));
      return this;
    }
    this.#advance(2, 'then');
    this.#op.success.push(...ops);
    return this;
  }

  /**
   * The ops to run, in order, when some compare does not hold.
   * @param ops - from {@link Op}.
   */
  else(...ops: TxnOp[]): this {
    this.#advance(3, 'else');
    this.#op.failure.push(...ops);
    return this;
  }

  /**
   * Applies the txn atomically in its region: `succeeded` says whether the compares held, and
   * `results` holds one result per op of the branch that ran (a `get`'s carries the value).
   * Rejects with a typed error and applies nothing on bad input, keys over more than one region
   * ({@link CrossRegionTxnError}) or a permission missing for any key; with `OutcomeUnknown` when
   * it may or may not have applied.
   */
  commit(): Promise<TxnResult> {
    return this.#commit({ type: 'txn', compare: [...this.#op.compare], success: [...this.#op.success], failure: [...this.#op.failure] });
  }
}

/** What committing a txn needs of the client. */
export interface TxnDeps {
  executor: Executor;
  router: Router;
  slots: SessionSlots;
  limits: KvLimits;
  clock: Clock;
}

/**
 * Sends a txn to the region of its keys and returns its result; see {@link Txn.commit}.
 * @param deps - the client's executor, router, session slots, limits and clock.
 * @param op - the txn.
 */
export async function commitTxn(deps: TxnDeps, op: TxnWriteOp): Promise<TxnResult> {
  validateWriteOp(op, deps.limits);
  const span = txnSpan(op);
  const routeKey = span?.start ?? new Uint8Array(0);
  const fits = (region: Region) => span === undefined || rangeWithin(span.start, span.end, region.startKey, region.endKey);
  const t0 = deps.clock.now();
  const slot = deps.slots.acquire();
  try {
    // The executor checks `fits` before every attempt, so a txn over two regions is refused before
    // anything leaves. A route table that only looks split (a merge it has not heard of) gets one refresh.
    for (let pass = 0; ; pass++) {
      try {
        const outcome = await deps.executor.run(
          routeKey,
          true,
          (region) => ({ type: 'write', regionId: region.id, epoch: region.epoch, clientId: slot.clientId, seq: slot.seq, op }),
          'txn',
          fits,
          (lastSeq) => deps.slots.bump(slot, lastSeq),
          false,
          t0,
        );
        if (!outcome.ok) throw outcome.error;
        return outcome.result as TxnResult;
      } catch (e) {
        if (!(e instanceof RegroupError)) throw e;
        // An earlier attempt may have applied in the region before it split: it must not be sent again.
        if (e.maybeApplied) throw new OutcomeUnknownError('txn: a split moved its keys into two regions after an attempt whose fate is unknown; it may or may not have applied');
        if (pass === 0) {
          await deps.executor.boundedRefresh(t0 + deps.executor.retry.timeoutMs);
          continue;
        }
        const region = deps.router.table.findRegionByKey(routeKey);
        throw new CrossRegionTxnError(region?.id ?? 0, region?.endKey ?? new Uint8Array(0));
      }
    }
  } finally {
    deps.slots.release(slot);
  }
}
