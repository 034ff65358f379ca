/**
 * The KV client: RheaKV's API over a Multi-Raft cluster, reaching stores through a StoreConnector.
 */
export { type Bytes, type GetOptions, KvClient, type KvClientOptions, type PutOptions, type ReadOptions, type ScanOptions as ClientScanOptions, toBytes } from './client.ts';
export { type StoreConnector, StoreUnreachableError } from './connector.ts';
export type { ReadRequest, RegionsRequest, StoreRequest, StoreResponses, WriteRequest } from '../store/requests.ts';
export { DEFAULT_RETRY, type RetryOptions } from './executor.ts';
export { DistributedLock, type LockOptions } from './lock.ts';
export { type KeepAliveOptions, LeaseClient, type LeaseInfo, type LeaseKeeper } from './lease.ts';
export { AdminClient, type RegionView, type StoreView } from './admin.ts';
export type { CheckResult, ReplicaHash } from '../store/consistency-types.ts';
export { planRecovery, type RecoveryResult } from './recovery.ts';
export { Compare, CrossRegionTxnError, Op, Txn } from './txn.ts';
export { type KvWatchEvent, prefixEnd, type WatchOptions, type WatchPosition, Watcher } from './watch.ts';
