/**
 * RheaKV's request batching, shared by puts and gets: requests issued while a batch is being
 * collected (the same turn of the event loop) travel together, and the flush function splits them
 * by region. Semantics are unchanged: each caller's promise settles with its own result, and the
 * failure of one region's part is the failure of the requests in that part only.
 */

/** What a flush gives back: for each item, an error (it failed) or undefined and its value. */
export interface BatchOutcome<R> {
  /** `values[i]` is item i's result (unused for items that failed). */
  values: R[];
  /** `errors[i] !== undefined` when item i failed. */
  errors: unknown[];
}

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (e: unknown) => void;
}

export class Batcher<T, R> {
  private pending: Array<Waiting<T, R>> = [];
  private scheduled = false;
  private readonly batchMax: number;
  private readonly flushBatch: (items: T[]) => Promise<BatchOutcome<R>>;

  /**
   * @param batchMax - most items per batch; a full batch leaves at once.
   * @param flushBatch - sends a batch; resolves with each item's value or error (rejects: all fail).
   */
  constructor(batchMax: number, flushBatch: (items: T[]) => Promise<BatchOutcome<R>>) {
    if (!Number.isSafeInteger(batchMax) || batchMax < 1) throw new RangeError(`batchMax must be a positive integer, got ${batchMax}`);
    this.batchMax = batchMax;
    this.flushBatch = flushBatch;
  }

  /** Queues an item; settles with its own result once the batch carrying it is answered. */
  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.batchMax) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After the current synchronous code: every request issued in this turn joins the batch.
        void Promise.resolve().then(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.flushBatch(batch.map((w) => w.item)).then(
      ({ values, errors }) => {
        for (let i = 0; i < batch.length; i++) {
          if (errors[i] === undefined) batch[i].resolve(values[i]);
          else batch[i].reject(errors[i]);
        }
      },
      (e) => {
        for (const w of batch) w.reject(e);
      },
    );
  }
}
