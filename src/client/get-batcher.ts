/**
 * RheaKV's get batching: concurrent `get`s of one read consistency, issued while a batch is being
 * collected (the same turn of the event loop), travel as one `multiGet` per region, so one
 * ReadIndex round (or one lease check) on the leader answers them all. Each caller gets its own
 * key's value; a region part's failure is the failure of the gets in that part only.
 */
import { Batcher } from './batcher.ts';

/** Concurrent gets (keys) become one `multiGet` per region; each resolves with its value or null. */
export class GetBatcher extends Batcher<Uint8Array, Uint8Array | null> {}
