/**
 * How a client reaches stores. The in-page cluster calls its StoreEngines directly; the remote
 * client (over WebSocket) sends the same requests as frames. Either way a call either returns the
 * store's answer or throws a typed error (the store's own, or `StoreUnreachable` when the store
 * could not be asked at all).
 */
import type { KvReadOp, KvReadResult, KvWriteOp } from '../kv/commands.ts';
import type { ApplyOutcome } from '../kv/state-machine.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import type { ReadConsistency } from '../store/region-peer.ts';
import type { RegionInfo } from '../store/store-engine.ts';

/** A write for one region. `clientId` + `seq` make a retry apply at most once. */
export interface WriteRequest {
  type: 'write';
  regionId: number;
  epoch: RegionEpoch;
  clientId: string;
  seq: number;
  op: KvWriteOp;
}

/** A read for one region. */
export interface ReadRequest {
  type: 'read';
  regionId: number;
  epoch: RegionEpoch;
  op: KvReadOp;
  consistency: ReadConsistency;
}

/** The regions a store hosts, for routing. */
export interface RegionsRequest {
  type: 'regions';
}

/** A change to a region's shape or membership, sent to its leader. */
export type AdminOp =
  | { kind: 'split'; splitKey?: Uint8Array }
  | { kind: 'transferLeader'; toStoreId: number }
  | { kind: 'changePeer'; change: 'addLearner' | 'promote' | 'remove'; storeId: number }
  /** Sent to the target region (which survives); the source is absorbed. */
  | { kind: 'merge'; sourceId: number };

/** An admin request for one region. */
export interface AdminRequest {
  type: 'admin';
  regionId: number;
  epoch: RegionEpoch;
  op: AdminOp;
}

export type StoreRequest = WriteRequest | ReadRequest | RegionsRequest | AdminRequest;

/** What each request type answers. */
export interface StoreResponses {
  write: ApplyOutcome;
  read: KvReadResult;
  regions: RegionInfo[];
  /** split: the two regions; transferLeader: nothing; changePeer and merge: the region after the change. */
  admin: Region[] | Region | undefined;
}

/**
 * A store could not be asked (down, connection refused or lost). Not a `FlotillaError`: the client
 * handles it by trying another store, and callers only ever see `Timeout` or `OutcomeUnknown`.
 */
export class StoreUnreachableError extends Error {
  readonly storeId: number;
  /** Whether the request may have left before the link failed (a write may then have applied). */
  readonly maybeSent: boolean;
  constructor(storeId: number, maybeSent: boolean, detail: string) {
    super(`store ${storeId} is unreachable: ${detail}`);
    this.name = 'StoreUnreachableError';
    this.storeId = storeId;
    this.maybeSent = maybeSent;
  }
}

/** The client's door to the stores of a cluster. */
export interface StoreConnector {
  /** The stores the client may ask (the ones it knows of). */
  storeIds(): number[];
  /**
   * Sends `request` to `storeId` and returns its answer. Throws the store's typed error, or a
   * `ServerBusy`/`Timeout`-style error when the store cannot be reached; must not hang forever.
   */
  call<R extends StoreRequest>(storeId: number, request: R): Promise<StoreResponses[R['type']]>;
}
