/**
 * The requests a store serves and what each answers: the one vocabulary shared by the client
 * (`src/client/`, which sends them through a `StoreConnector`), the store (`dispatch.ts`, which
 * runs them on a StoreEngine) and the server protocol (`src/server/protocol.ts`, which carries
 * them over the wire). It lives with the store so that the store never imports the client.
 */
import type { KvReadOp, KvReadResult, KvWriteOp } from '../kv/commands.ts';
import type { ApplyOutcome } from '../kv/state-machine.ts';
import type { Region, RegionEpoch } from '../region/types.ts';
import type { CheckResult } from './consistency-types.ts';
import type { BackupPage, FenceAnswer } from './backup-fence.ts';
import type { ReadConsistency } from './region-peer.ts';
import type { LeaseInfo, LeaseOp } from './lease-service.ts';

export type { LeaseOp } from './lease-service.ts';
import type { ReplicaReport } from './unsafe-recovery.ts';
import type { RegionInfo } from './store-engine.ts';
import type { PdMembersInfo } from './pd-members.ts';

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

/** Who a store is: its id and the incarnation of its data (a wiped store runs a new one). */
export interface IdentRequest {
  type: 'ident';
}

/** What an {@link IdentRequest} answers; `incarnation` is absent on stores run without one (in-process tests). */
export interface StoreIdent {
  storeId: number;
  incarnation?: string;
}

/** A change to a region's shape or membership, sent to its leader. */
export type AdminOp =
  | { kind: 'split'; splitKey?: Uint8Array }
  | { kind: 'transferLeader'; toStoreId: number }
  /**
   * `incarnation` (addLearner only): the incarnation the new replica is made for, as the target
   * store itself reported it (`ident`); without it the leader stamps the one its link from that
   * store last showed.
   */
  | { kind: 'changePeer'; change: 'addLearner' | 'promote' | 'remove'; storeId: number; incarnation?: string }
  /** Sent to the target region (which survives); the source is absorbed. */
  | { kind: 'merge'; sourceId: number }
  /** Compare the replicas' state at one log index (`consistency.ts`); wait at most `waitMs` for lagging ones. */
  | { kind: 'check'; waitMs?: number }
  /** A backup's fence (docs/backup.md): answers a `FenceAnswer` once it applied on the leader. */
  | { kind: 'backupFence'; backupId: string; leaseMs: number };

/** An admin request for one region. */
export interface AdminRequest {
  type: 'admin';
  regionId: number;
  epoch: RegionEpoch;
  op: AdminOp;
}

/**
 * Unsafe recovery (`unsafe-recovery.ts`), sent to one store (not to a region's leader): `report`
 * lists the replicas it hosts; `force` makes its replica of `regionId` lead the survivors and
 * remove the replicas on `lostStoreIds` (may lose acknowledged writes).
 */
export interface RecoveryRequest {
  type: 'recovery';
  op: { kind: 'report' } | { kind: 'force'; regionId: number; lostStoreIds: number[]; waitMs?: number };
}

/**
 * A backup's call to one store (docs/backup.md): thaw its fences, read a page of a fenced region
 * (from the store that answered the fence), or release its readers. Needs admin.
 */
export interface BackupRequest {
  type: 'backup';
  backupId: string;
  op: { kind: 'thaw' } | { kind: 'release' } | { kind: 'read'; regionId: number; after?: Uint8Array; maxBytes: number };
}

/** A lease call. */
export interface LeaseRequest {
  type: 'lease';
  op: LeaseOp;
}

/** The members of PD's group (docs/pd-membership.md); only PD's leader answers, others say `NotLeader` with a hint. */
export interface PdMembersRequest {
  type: 'pdMembers';
}

/** Any request a store serves; `type` selects the answer in {@link StoreResponses}. */
export type StoreRequest = WriteRequest | ReadRequest | RegionsRequest | IdentRequest | AdminRequest | RecoveryRequest | BackupRequest | PdMembersRequest | LeaseRequest;

/** What each request type answers. */
export interface StoreResponses {
  write: ApplyOutcome;
  read: KvReadResult;
  regions: RegionInfo[];
  ident: StoreIdent;
  /** split: the two regions; transferLeader: nothing; changePeer and merge: the region after the change; check: the comparison; backupFence: where to read. */
  admin: Region[] | Region | CheckResult | FenceAnswer | undefined;
  /** report: the replicas; force: the region after the lost replicas were removed. */
  recovery: ReplicaReport[] | Region;
  /** thaw and release: how many fences or readers; read: a page. */
  backup: number | BackupPage;
  pdMembers: PdMembersInfo;
  /** grant, keepAlive, timeToLive: the lease; revoke: nothing (its keys are gone); list: the active lease ids. */
  lease: LeaseInfo | number[] | undefined;
}
