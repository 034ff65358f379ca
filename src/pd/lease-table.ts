/**
 * LeaseTable: what PD's leader keeps in memory about leases (etcd's lessor): when each lease
 * expires, and for a lease being revoked, which key ranges have already deleted its keys. Pure:
 * time comes in as arguments. The leases themselves (id, ttl, state) are PD's replicated state;
 * this table is soft state, rebuilt empty by each new PD leader.
 *
 * Expiry is measured on the leader's local clock, from when this leader first saw the lease (or
 * from its last keepAlive): a new leader starts every lease at `now + ttl`, so a lease never
 * expires early because the leader changed (etcd's `Promote`). A pause of the leader's process
 * is struck out with {@link LeaseTable.shift}: clients could not keep leases alive meanwhile.
 */

/** A half-open user key range; an empty `endKey` is +∞. */
export interface KeyRange {
  startKey: Uint8Array;
  endKey: Uint8Array;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * The parts of the whole key space `[-∞, +∞)` that `ranges` leave uncovered, in key order.
 * @param ranges - the covered ranges, in any order, overlapping or not.
 */
export function uncoveredRanges(ranges: readonly KeyRange[]): KeyRange[] {
  const sorted = [...ranges].sort((a, b) => compare(a.startKey, b.startKey));
  const gaps: KeyRange[] = [];
  let at: Uint8Array = new Uint8Array(0); // covered up to here; starts at -∞
  let done = false; // covered up to +∞
  for (const r of sorted) {
    if (done) break;
    if (compare(r.startKey, at) > 0) gaps.push({ startKey: at, endKey: r.startKey });
    if (r.endKey.length === 0) done = true;
    else if (compare(r.endKey, at) > 0) at = r.endKey;
  }
  if (!done) gaps.push({ startKey: at, endKey: new Uint8Array(0) });
  return gaps;
}

/**
 * Whether two ranges share a key.
 * @param a - a range.
 * @param b - another.
 */
export function rangesOverlap(a: KeyRange, b: KeyRange): boolean {
  const aBeforeB = a.endKey.length > 0 && compare(a.endKey, b.startKey) <= 0;
  const bBeforeA = b.endKey.length > 0 && compare(b.endKey, a.startKey) <= 0;
  return !aBeforeB && !bBeforeA;
}

/** The PD leader's memory of leases. */
export class LeaseTable {
  /** Local-clock expiry of each lease this leader has seen. */
  private readonly deadlines = new Map<number, number>();
  /** Ranges that deleted the keys of each revoking lease. */
  private readonly cleared = new Map<number, KeyRange[]>();

  /** How many leases the table tracks. */
  get size(): number {
    return this.deadlines.size;
  }

  /**
   * The lease's expiry; a lease seen for the first time gets `nowMs + ttlMs` (the safe direction).
   * @param id - the lease.
   * @param ttlMs - its ttl.
   * @param nowMs - the leader's clock.
   */
  deadline(id: number, ttlMs: number, nowMs: number): number {
    let d = this.deadlines.get(id);
    if (d === undefined) {
      d = nowMs + ttlMs;
      this.deadlines.set(id, d);
    }
    return d;
  }

  /**
   * Restarts the lease's ttl: it now expires at `nowMs + ttlMs` (keepAlive, grant).
   * @param id - the lease.
   * @param ttlMs - its ttl.
   * @param nowMs - the leader's clock.
   */
  touch(id: number, ttlMs: number, nowMs: number): void {
    this.deadlines.set(id, Math.max(this.deadlines.get(id) ?? 0, nowMs + ttlMs));
  }

  /**
   * Milliseconds the lease has left (0 when it ran out); undefined for a lease not tracked.
   * @param id - the lease.
   * @param nowMs - the leader's clock.
   */
  remainingMs(id: number, nowMs: number): number | undefined {
    const d = this.deadlines.get(id);
    return d === undefined ? undefined : Math.max(0, d - nowMs);
  }

  /**
   * Pushes every expiry back by `gapMs`: the leader's process was stopped that long, and no client
   * could keep a lease alive meanwhile.
   * @param gapMs - the pause, positive.
   */
  shift(gapMs: number): void {
    for (const [id, d] of this.deadlines) this.deadlines.set(id, d + gapMs);
  }

  /**
   * Records that `range` deleted the keys of revoking lease `id`.
   * @param id - the lease.
   * @param range - the range a region covered when its revoke applied.
   */
  cover(id: number, range: KeyRange): void {
    const list = this.cleared.get(id) ?? [];
    list.push({ startKey: range.startKey, endKey: range.endKey });
    this.cleared.set(id, uncoveredRanges(list).length === 0 ? [{ startKey: new Uint8Array(0), endKey: new Uint8Array(0) }] : list);
  }

  /**
   * The key ranges that have not yet deleted the keys of revoking lease `id`.
   * @param id - the lease.
   */
  uncovered(id: number): KeyRange[] {
    return uncoveredRanges(this.cleared.get(id) ?? []);
  }

  /**
   * Forgets a lease (forgotten by PD's state, or no longer recorded).
   * @param id - the lease.
   */
  forget(id: number): void {
    this.deadlines.delete(id);
    this.cleared.delete(id);
  }

  /** The ids the table tracks. */
  ids(): number[] {
    return [...this.deadlines.keys(), ...[...this.cleared.keys()].filter((id) => !this.deadlines.has(id))];
  }

  /** Forgets everything (this store lost PD leadership). */
  clear(): void {
    this.deadlines.clear();
    this.cleared.clear();
  }
}
