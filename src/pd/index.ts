/**
 * The placement driver's decisions (DESIGN §6) as pure functions: heartbeats build a
 * with priorities and limits; operators in flight are part of the view. No I/O, no clock: the
 * running PD passes its time and its id allocator in.
 */
export { DEFAULT_PD_CONFIG, type PdConfig, resolvePdConfig } from './config.ts';
export { type StaleHeartbeatReason, StaleRegionHeartbeatError } from './errors.ts';
export { isPeerHealthy, isPeerLost, isStoreDown, isStoreUsable, keepsHealthyMajority, leaderCounts, replicaCounts, usableStoreIds } from './health.ts';
export {
  type AddLearnerInstruction,
  type IdAllocator,
  type Instruction,
  instructionRegions,
  isInstructionCurrent,
  type MembershipInstruction,
  type MergeRegionsInstruction,
  type PromoteLearnerInstruction,
  type RemovePeerInstruction,
  type SplitRegionInstruction,
  type TransferLeaderInstruction,
} from './instructions.ts';
export { advanceClock, isOperatorFinished, operatorsInFlight, recordOperators, settleOperators } from './operators.ts';
export { createClusterView, drainedStoreIds, handleRegionHeartbeat, handleStoreHeartbeat, type RegionHeartbeatResult, setStoreState } from './region-table.ts';
export type { ClusterView, DownPeer, OperatorRecord, RegionHeartbeat, RegionInfo, StoreHeartbeat, StoreInfo, StoreState } from './types.ts';
