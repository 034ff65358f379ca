/**
 * RheaKV's put batching: `put`s issued while a batch is being collected (the same turn of the
 * event loop) travel together as one `batchPut`, split by region by the client. Semantics are
 * unchanged: each caller's promise settles when its own key is written, and a failure of the batch
 * of one region's part is the failure of the puts in that part only.
 */
import type { KvEntry } from '../kv/commands.ts';

interface Waiting {
  entry: KvEntry;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class PutBatcher {
  private pending: Waiting[] = [];
  private scheduled = false;
  private readonly batchMax: number;
  private readonly flushBatch: (entries: KvEntry[]) => Promise<unknown[]>;

  /**
   * @param batchMax - most puts per batch.
   * @param flushBatch - writes a batch; resolves with, for each entry, undefined (written) or the error of its part.
   */
  constructor(batchMax: number, flushBatch: (entries: KvEntry[]) => Promise<unknown[]>) {
    this.batchMax = batchMax;
    this.flushBatch = flushBatch;
  }

  /** Queues a put; resolves once the batch carrying it is applied. */
  add(entry: KvEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (this.pending.length >= this.batchMax) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After the current synchronous code: every put issued in this turn joins the batch.
        void Promise.resolve().then(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    // A later put of the same key in one batch wins, as sequential puts would.
    this.flushBatch(batch.map((w) => w.entry)).then(
      (errors) => {
        for (let i = 0; i < batch.length; i++) {
          if (errors[i] === undefined) batch[i].resolve();
          else batch[i].reject(errors[i]);
        }
      },
      (e) => {
        for (const w of batch) w.reject(e);
      },
    );
  }
}
