/**
 * RheaKV's put batching: `put`s issued while a batch is being collected (the same turn of the
 * event loop) travel together as one `batchPut`, split by region by the client. Semantics are
 * unchanged: each caller's promise settles when its own key is written, and a failure of the batch
 * of one region's part is the failure of the puts in that part only.
 */
import type { KvEntry } from '../kv/commands.ts';
import { Batcher } from './batcher.ts';

/** Concurrent puts become one `batchPut` per region; a later put of the same key in one batch wins, as sequential puts would. */
export class PutBatcher extends Batcher<KvEntry, void> {}
