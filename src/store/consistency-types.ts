/**
 * What a consistency check (`consistency.ts`) exchanges and answers: a replica's report to the
 * store that proposed the check, and the comparison that store makes. Kept apart from the checker
 * so that the PD channel, the store context and the client name them without an import cycle.
 */
import { z } from 'zod';

const pos = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** One replica's hash of its region state at the check's index. */
export interface ReplicaHash {
  storeId: number;
  peerId: number;
  /** 16 hex digits. */
  hash: string;
  /** Pairs hashed. */
  pairs: number;
}

/** What a store sends the proposer of a check once its replica hashed (a PD-channel message). */
export interface HashReport {
  regionId: number;
  checkId: number;
  index: number;
  storeId: number;
  peerId: number;
  hash: string;
  pairs: number;
}

/** What a valid {@link HashReport} from another store is (checked where it comes in). */
export const hashReportSchema = z.object({
  regionId: pos,
  checkId: pos,
  index: pos,
  storeId: pos,
  peerId: pos,
  hash: z.string().regex(/^[0-9a-f]{16}$/),
  pairs: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

/** The outcome of one region's check, as the leader compared it. */
export interface CheckResult {
  regionId: number;
  /** The log index every hash was taken at. */
  index: number;
  /** The store that proposed the check (the leader then). */
  leaderStoreId: number;
  /** The hash most replicas (the leader's side on a tie) agree on. */
  hash: string;
  /** Stores whose replica's hash is {@link CheckResult.hash}. */
  agreeing: number[];
  /** Stores whose replica's hash differs: their state diverged from the others'. */
  divergent: number[];
  /** Stores whose replica did not report in time (lagging, down): not checked, never called divergent. */
  unchecked: number[];
  replicas: ReplicaHash[];
}
