/**
 * The placement driver's decisions (DESIGN §6) as pure functions: heartbeats build a
 * {@link ClusterView}; rules turn a view into {@link Instruction}s; {@link schedule} runs them
 * with priorities and limits; operators in flight are part of the view. No I/O, no clock: the
 * running PD passes its time and its id allocator in.
 */
export { balanceLeaders } from './balance-leader.ts';
export { balanceReplicas } from './balance-region.ts';
export { DEFAULT_PD_CONFIG, type PdConfig, resolvePdConfig } from './config.ts';
export { discountPause, isPeerHealthy, isPeerLost, isStoreDown, isStoreUsable, isViewWarm, keepsHealthyMajority, leaderCounts, replicaCounts, usableStoreIds } from './health.ts';
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
export { createClusterView, drainedStoreIds, handleRegionHeartbeat, handleStoreHeartbeat, type RegionHeartbeatResult, setStoreState, type StaleHeartbeatReason, StaleRegionHeartbeatError } from './region-table.ts';
export { checkReplicas, pickStoreForReplica, transferLeaderAway } from './replica-checker.ts';
export { instructionLeaderStoreId, instructionStoreIds, SCHEDULE_RULES, type ScheduleRule, schedule } from './schedule.ts';
export { checkMerge, checkSplit, isSmallRegion, needsSplit } from './split-merge-checker.ts';
export type { ClusterView, DownPeer, OperatorRecord, RegionHeartbeat, PdRegionInfo, StoreHeartbeat, PdStoreInfo, StoreState } from './types.ts';
