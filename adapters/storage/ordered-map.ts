/**
 * The in-memory ordered map under the memory and fs engines: a `sorted-btree` B+ tree keyed by
 * byte strings in unsigned order, with running key/byte totals and O(1) copy-on-write clones
 * (which is what makes `snapshot()` cheap while writes go on).
 */
import * as btreeModule from 'sorted-btree';
import type { KeyValue, WriteOp } from '../../src/ports.ts';
import { compareBytes, isEmptyRange } from '../../src/storage/bytes.ts';

type Tree = import('sorted-btree').default<Uint8Array, Uint8Array>;
type TreeClass = new (entries?: [Uint8Array, Uint8Array][], compare?: (a: Uint8Array, b: Uint8Array) => number, maxNodeSize?: number) => Tree;

// sorted-btree is CommonJS with `exports.default`: Node's ESM loader hands us the exports object,
// bundlers hand us the class. This is the one place that tells the two apart.
const BTree: TreeClass = (() => {
  const m = btreeModule as unknown as { default: unknown };
  const d = m.default as { default?: unknown };
  return (typeof d === 'function' ? d : d.default) as TreeClass;
})();

const EMPTY = new Uint8Array(0);
/** sorted-btree's default; 64, 128 and 256 measured no faster on 1M 16-byte keys (see BENCHMARKS.md). */
const MAX_NODE_SIZE = 32;

/** Normalised scan arguments (see `validateScan`). */
export interface ScanArgs {
  start?: Uint8Array;
  end?: Uint8Array;
  limit: number;
  reverse: boolean;
}

/** An ordered byte map with running totals. Keys and values are stored as given: callers copy. */
export class OrderedMap {
  private tree: Tree;
  // Invariant: keyCount === tree.size and bytes === sum of key.length + value.length over the tree.
  private bytes: number;

  constructor(tree?: Tree, bytes = 0) {
    this.tree = tree ?? new BTree(undefined, compareBytes, MAX_NODE_SIZE);
    this.bytes = bytes;
  }

  /** Number of keys held. */
  get keyCount(): number {
    return this.tree.size;
  }

  /** Bytes of keys plus values held. */
  get byteCount(): number {
    return this.bytes;
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    return this.tree.get(key);
  }

  /** Pairs in `[start, end)` in key order (or reverse), at most `limit` of them. */
  scan(a: ScanArgs): KeyValue[] {
    const out: KeyValue[] = [];
    if (a.limit === 0 || this.tree.size === 0 || isEmptyRange(a.start, a.end)) return out;
    if (!a.reverse) {
      const max = this.tree.maxKey()!;
      const high = a.end ?? max;
      // getRange stops one pair past maxLength (sorted-btree 2.1), hence the trim below.
      const want = Math.min(a.limit, this.tree.size);
      const pairs = this.tree.getRange(a.start ?? EMPTY, high, a.end === undefined, want);
      const n = Math.min(want, pairs.length);
      for (let i = 0; i < n; i++) out.push({ key: pairs[i][0], value: pairs[i][1] });
      return out;
    }
    for (const [key, value] of this.tree.entriesReversed(a.end, undefined, a.end !== undefined)) {
      if (a.start !== undefined && compareBytes(key, a.start) < 0) break;
      out.push({ key, value });
      if (out.length >= a.limit) break;
    }
    return out;
  }

  /** Applies a validated batch in order. The caller owns atomicity (validate first, then apply). */
  apply(batch: readonly WriteOp[]): void {
    const t = this.tree;
    for (const op of batch) {
      if (op.type === 'put') {
        // One traversal for a new key (log entries, most data); an existing key is replaced in
        // a second one that also yields the old value's size for the running total.
        if (t.setIfNotPresent(op.key, op.value)) this.bytes += op.key.length + op.value.length;
        else this.replace(op.key, op.value);
      } else if (op.type === 'delete') {
        const old = t.get(op.key);
        if (old !== undefined) {
          this.bytes -= op.key.length + old.length;
          t.delete(op.key);
        }
      } else if (!isEmptyRange(op.start, op.end)) {
        let freed = 0;
        t.editRange(op.start, op.end, false, (k, v) => {
          freed += k.length + v.length;
          return { delete: true };
        });
        this.bytes -= freed;
      }
    }
  }

  /** Replaces the value of a key known to be present, keeping the byte total. */
  private replace(key: Uint8Array, value: Uint8Array): void {
    let oldLength = 0;
    this.tree.editRange(key, key, true, (_k, v) => {
      oldLength = v.length;
      return { value };
    });
    this.bytes += value.length - oldLength;
  }

  /** Exact key count and bytes in `[start, end)`: O(1) for the whole map, O(keys in range) otherwise. */
  size(start: Uint8Array | undefined, end: Uint8Array | undefined): { keys: number; bytes: number } {
    if (start === undefined && end === undefined) return { keys: this.tree.size, bytes: this.bytes };
    if (this.tree.size === 0 || isEmptyRange(start, end)) return { keys: 0, bytes: 0 };
    let keys = 0;
    let bytes = 0;
    this.tree.forRange(start ?? EMPTY, end ?? this.tree.maxKey()!, end === undefined, (k, v) => {
      keys++;
      bytes += k.length + v.length;
    });
    return { keys, bytes };
  }

  /** Every pair in key order; used to write checkpoints from a clone. */
  entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    return this.tree.entries();
  }

  /** An O(1) copy-on-write clone: later changes to either map do not show in the other. */
  clone(): OrderedMap {
    return new OrderedMap(this.tree.clone(), this.bytes);
  }
}
