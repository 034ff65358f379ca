/**
 * WriteOverlay: pending writes layered over a read-only view of the storage engine, so that many
 * commands applied in one loop turn read their own and each other's writes and leave ONE write
 * batch for the engine. A child overlay stages one command's writes and is merged into its parent
 * only when the command succeeds, so a failing command leaves no partial writes.
 */
import type { KeyValue, ScanOptions, WriteOp } from '../ports.ts';
import { compareKeys, nextKey } from '../region/keys.ts';
import { inRange } from '../storage/bytes.ts';

/** What the state machine reads from: a `StorageEngine`, a `StorageSnapshot` or another overlay. */
export interface KvReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  scan(options?: ScanOptions): Promise<KeyValue[]>;
}

interface Pending {
  key: Uint8Array;
  /** undefined: deleted. */
  value: Uint8Array | undefined;
}

/** Code units per `String.fromCharCode` call, well below any engine's argument limit. */
const ID_CHUNK = 4096;

/** A key as a Map key: one code unit per byte, built a chunk at a time (not a byte at a time). */
function id(key: Uint8Array): string {
  if (key.length <= ID_CHUNK) return String.fromCharCode.apply(null, key as unknown as number[]);
  let s = '';
  for (let i = 0; i < key.length; i += ID_CHUNK) s += String.fromCharCode.apply(null, key.subarray(i, i + ID_CHUNK) as unknown as number[]);
  return s;
}

/** Pending puts, deletes and range deletes over a {@link KvReader}; itself a reader. */
export class WriteOverlay implements KvReader {
  readonly #base: KvReader;
  // Invariant: no entry of #pending was written before a range of #ranges that covers it
  // (a range delete drops the pending writes it covers), so pending entries win over ranges.
  readonly #pending = new Map<string, Pending>();
  readonly #ranges: { start: Uint8Array; end: Uint8Array }[] = [];
  #bytes = 0;

  /**
   * Creates an empty overlay.
   * @param base - the view it reads through to.
   */
  constructor(base: KvReader) {
    this.#base = base;
  }

  /** Number of ops {@link WriteOverlay.toWriteOps} would return. The store flushes when it nears the engine's batch limit. */
  get opCount(): number {
    return this.#pending.size + this.#ranges.length;
  }

  /** Approximate bytes of keys and values written so far (a high-water mark: overwrites still count). */
  get byteSize(): number {
    return this.#bytes;
  }

  /**
   * The value under `key` as the pending writes leave it, else as the base has it. Like the
   * engine's, what it returns is the caller's own copy: pending values are handed over to the
   * engine as they are (`WriteOptions.handOver`), so nobody may change them.
   * @param key - a storage key.
   */
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const p = this.#pending.get(id(key));
    if (p !== undefined) return p.value?.slice();
    if (this.#ranges.some((r) => inRange(key, r.start, r.end))) return undefined;
    return this.#base.get(key);
  }

  /**
   * Pairs of `[start, end)` in order (or reverse) as the pending writes leave them, at most `limit`.
   * @param options - the range, limit and direction, as for `StorageEngine.scan`.
   */
  async scan(options: ScanOptions = {}): Promise<KeyValue[]> {
    const { start, end, limit = Number.POSITIVE_INFINITY, reverse = false } = options;
    const mine = [...this.#pending.values()].filter((p) => inRange(p.key, start, end));
    mine.sort((a, b) => (reverse ? compareKeys(b.key, a.key) : compareKeys(a.key, b.key)));
    const out: KeyValue[] = [];
    let lo = start;
    let hi = end;
    let mi = 0;
    const emitMineBefore = (key: Uint8Array | undefined) => {
      while (mi < mine.length && out.length < limit && (key === undefined || (reverse ? compareKeys(mine[mi].key, key) > 0 : compareKeys(mine[mi].key, key) < 0))) {
        const p = mine[mi++];
        if (p.value !== undefined) out.push({ key: p.key.slice(), value: p.value.slice() });
      }
    };
    const page = Number.isFinite(limit) ? Math.max(16, limit) : undefined;
    for (;;) {
      const base = await this.#base.scan({ start: lo, end: hi, limit: page, reverse });
      for (const kv of base) {
        emitMineBefore(kv.key);
        if (out.length >= limit) return out;
        const shadowed = this.#pending.has(id(kv.key)) || this.#ranges.some((r) => inRange(kv.key, r.start, r.end));
        if (!shadowed) out.push(kv);
        if (out.length >= limit) return out;
      }
      if (page === undefined || base.length < page) break;
      const last = base[base.length - 1].key;
      if (reverse) hi = last;
      else lo = nextKey(last);
    }
    emitMineBefore(undefined);
    return out;
  }

  /**
   * Stages a put.
   * @param key - a storage key.
   * @param value - its new value.
   */
  put(key: Uint8Array, value: Uint8Array): void {
    this.#pending.set(id(key), { key, value });
    this.#bytes += key.length + value.length;
  }

  /**
   * Stages a delete.
   * @param key - a storage key.
   */
  delete(key: Uint8Array): void {
    this.#pending.set(id(key), { key, value: undefined });
    this.#bytes += key.length;
  }

  /**
   * Stages the deletion of every key in `[start, end)`.
   * @param start - inclusive storage key.
   * @param end - exclusive storage key.
   */
  deleteRange(start: Uint8Array, end: Uint8Array): void {
    if (compareKeys(start, end) >= 0) return;
    for (const [k, p] of this.#pending) if (inRange(p.key, start, end)) this.#pending.delete(k);
    this.#ranges.push({ start, end });
    this.#bytes += start.length + end.length;
  }

  /**
   * Stages engine write ops in order (for example what `copySessions` returns), so they join
   * this turn's one batch and later commands read them.
   * @param ops - the ops to stage.
   */
  stage(ops: readonly WriteOp[]): void {
    for (const op of ops) {
      if (op.type === 'put') this.put(op.key, op.value);
      else if (op.type === 'delete') this.delete(op.key);
      else this.deleteRange(op.start, op.end);
    }
  }

  /**
   * A copy of the pending writes laid over another base: with a snapshot of this overlay's base
   * taken now, it is a view of the state as the pending writes leave it that later writes to
   * either never change (a consistency check hashes it while the store applies on). Pending
   * values are never changed once staged (they are handed over to the engine), so they are shared.
   * @param base - the view the copy reads through to.
   */
  rebased(base: KvReader): WriteOverlay {
    const copy = new WriteOverlay(base);
    for (const r of this.#ranges) copy.#ranges.push(r);
    for (const [k, p] of this.#pending) copy.#pending.set(k, p);
    copy.#bytes = this.#bytes;
    return copy;
  }

  /**
   * What this overlay stages under one key prefix byte: its puts and deletes (value undefined),
   * and its range deletes that start under the prefix. For MVCC history (`history.ts`), which
   * turns one command's staged data writes into versions.
   * @param prefix - the key prefix byte.
   */
  stagedUnder(prefix: number): { writes: { key: Uint8Array; value: Uint8Array | undefined }[]; ranges: { start: Uint8Array; end: Uint8Array }[] } {
    const writes: { key: Uint8Array; value: Uint8Array | undefined }[] = [];
    for (const p of this.#pending.values()) if (p.key[0] === prefix) writes.push({ key: p.key, value: p.value });
    return { writes, ranges: this.#ranges.filter((r) => r.start[0] === prefix) };
  }

  /** A new overlay reading through this one, to stage one command's writes. */
  child(): WriteOverlay {
    return new WriteOverlay(this);
  }

  /**
   * Moves this overlay's writes into `parent` (the overlay it was made from), in an order that
   * leaves the same state: range deletes first, then the surviving puts and deletes.
   * @param parent - the overlay this one reads through to.
   */
  mergeInto(parent: WriteOverlay): void {
    for (const r of this.#ranges) parent.deleteRange(r.start, r.end);
    // As parent.put / parent.delete would, without building each key's Map key again.
    for (const [k, p] of this.#pending) {
      parent.#pending.set(k, p);
      parent.#bytes += p.key.length + (p.value === undefined ? 0 : p.value.length);
    }
  }

  /** The pending writes as one engine batch: range deletes first, then puts and deletes (see the invariant). */
  toWriteOps(): WriteOp[] {
    const ops: WriteOp[] = this.#ranges.map((r) => ({ type: 'deleteRange', start: r.start, end: r.end }));
    for (const p of this.#pending.values()) ops.push(p.value === undefined ? { type: 'delete', key: p.key } : { type: 'put', key: p.key, value: p.value });
    return ops;
  }
}
