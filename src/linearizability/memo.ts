/**
 * Memoisation for the search: the set of operations linearized so far, as a bitset with an
 * incrementally kept hash, and a cache of (bitset, state) pairs already explored.
 *
 * Wing & Gong's search revisits the same configuration through many orders of the same operations;
 * Lowe's improvement, which porcupine uses, is to remember each configuration reached and not
 * explore it twice. Two configurations are the same when they linearized the same set of
 * operations and reached equal model states.
 */

import { combineHash, mix32 } from './hash.ts';

/** The hash an operation contributes to a set that holds it (Zobrist hashing: XOR of per-member keys). */
function memberKey(op: number): number {
  return mix32(Math.imul(op + 1, 0x9e3779b9));
}

/** The set of linearized operations of one partition, numbered 0..size-1. */
export class LinearizedSet {
  /** Bit `op` of `words` is set when the operation is linearized. */
  readonly words: Uint32Array;
  /** XOR of {@link memberKey} over the members. Invariant: always matches `words`. */
  hash = 0;
  /** How many members. Invariant: the number of set bits in `words`. */
  count = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  /** Adds `op`, which must not be a member. */
  add(op: number): void {
    const bit = 1 << (op & 31);
    if ((this.words[op >>> 5] & bit) !== 0) throw new Error(`operation ${op} is already linearized`);
    this.words[op >>> 5] |= bit;
    this.hash ^= memberKey(op);
    this.count++;
  }

  /** Removes `op`, which must be a member. */
  remove(op: number): void {
    const bit = 1 << (op & 31);
    if ((this.words[op >>> 5] & bit) === 0) throw new Error(`operation ${op} is not linearized`);
    this.words[op >>> 5] &= ~bit;
    this.hash ^= memberKey(op);
    this.count--;
  }

  /** Whether `words` equals this set's words. */
  equalWords(words: Uint32Array): boolean {
    const mine = this.words;
    for (let i = 0; i < mine.length; i++) if (mine[i] !== words[i]) return false;
    return true;
  }
}

interface Seen<State> {
  readonly words: Uint32Array;
  readonly count: number;
  readonly state: State;
}

/** The configurations the search has reached, so that it never explores one twice. */
export class ConfigurationCache<State> {
  private readonly buckets = new Map<number, Seen<State>[]>();
  private readonly equal: (a: State, b: State) => boolean;
  private readonly hashState: (s: State) => number;
  /** How many configurations are stored. */
  size = 0;

  constructor(equal: (a: State, b: State) => boolean, hashState: (s: State) => number) {
    this.equal = equal;
    this.hashState = hashState;
  }

  /**
   * Records the configuration (`set`, `state`) unless it was seen before; returns true when it is new.
   */
  addIfNew(set: LinearizedSet, state: State): boolean {
    const key = combineHash(set.hash, this.hashState(state));
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) {
      for (const seen of bucket) {
        if (seen.count === set.count && set.equalWords(seen.words) && this.equal(seen.state, state)) return false;
      }
    }
    const entry = { words: set.words.slice(), count: set.count, state };
    if (bucket === undefined) this.buckets.set(key, [entry]);
    else bucket.push(entry);
    this.size++;
    return true;
  }
}
