/**
 * Flow control for one follower: the appends sent but not yet acknowledged, bounded by count
 * and by bytes. A leader in replicate state pipelines appends until this window is full.
 */

/** A bounded FIFO of in-flight appends, identified by the last index each carried. */
export class Inflights {
  /** Most appends in flight. */
  readonly countMax: number;
  /** Most payload bytes in flight; 0 means unlimited. */
  readonly bytesMax: number;
  // Invariant: indexes are strictly increasing; indexes.length <= countMax.
  private indexes: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  /** Payload bytes in flight. Invariant: equals the sum of sizes[head..]. */
  bytes = 0;

  constructor(countMax: number, bytesMax: number) {
    this.countMax = countMax;
    this.bytesMax = bytesMax;
  }

  /** Number of appends in flight. */
  get count(): number {
    return this.indexes.length - this.head;
  }

  /** Records an append whose last entry is `index`, carrying `bytes` of payload. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new Error(`inflights: add(${index}) when full`);
    if (this.count > 0 && index <= this.indexes[this.indexes.length - 1]) {
      throw new Error(`inflights: index ${index} not increasing`);
    }
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every append whose last index is <= `to` (they were acknowledged). */
  freeLE(to: number): void {
    while (this.head < this.indexes.length && this.indexes[this.head] <= to) {
      this.bytes -= this.sizes[this.head];
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.indexes.length) {
      this.indexes = this.indexes.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    if (this.count === 0) this.reset();
  }

  /** True when no further append may be sent. */
  full(): boolean {
    return this.count >= this.countMax || (this.bytesMax > 0 && this.bytes >= this.bytesMax);
  }

  reset(): void {
    this.indexes = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}
