/**
 * What PD tells a region leader to do (RheaKV `Instruction`, TiKV's operator steps). Each carries
 * the epoch it was computed from: a store carries one out only while its region still has that
 * epoch ({@link isInstructionCurrent}) and drops it otherwise, since PD decided on a shape that
 * no longer exists. New region and peer ids come from PD's id allocator.
 */
import { epochEquals } from '../region/epoch.ts';
import type { Region, RegionEpoch } from '../region/types.ts';

/** Hands out ids (regions and peers share one sequence) that were never handed out before. */
export type IdAllocator = () => number;

/** Split the region (RheaKV `RangeSplit`); the split itself is a log entry the leader proposes. */
export interface SplitRegionInstruction {
  type: 'splitRegion';
  regionId: number;
  epoch: RegionEpoch;
  /** Where to split; absent means the leader picks the middle key by count (`chooseSplitKey`). */
  splitKey?: Uint8Array;
  /** The id of the right half. */
  newRegionId: number;
  /** One fresh peer id per peer of the region, in the order of `region.peers` at `epoch`. */
  newPeerIds: number[];
}

/** Hand leadership to the region's voter on `toStoreId` (RheaKV `TransferLeader`). */
export interface TransferLeaderInstruction {
  type: 'transferLeader';
  regionId: number;
  epoch: RegionEpoch;
  toStoreId: number;
  /** The voter on `toStoreId`. */
  toPeerId: number;
}

/** Add a learner replica on `storeId` with the fresh id `peerId`; it catches up from the leader. */
export interface AddLearnerInstruction {
  type: 'addLearner';
  regionId: number;
  epoch: RegionEpoch;
  storeId: number;
  peerId: number;
  /** The incarnation of `storeId`'s data, from its latest heartbeat: the new replica is made for it. */
  incarnation?: string;
}

/** Make a caught-up learner a voter. */
export interface PromoteLearnerInstruction {
  type: 'promoteLearner';
  regionId: number;
  epoch: RegionEpoch;
  peerId: number;
}

/** Remove a replica (never the leader: PD transfers leadership away first). */
export interface RemovePeerInstruction {
  type: 'removePeer';
  regionId: number;
  epoch: RegionEpoch;
  peerId: number;
}

/** Merge the adjacent region `sourceId` into `targetId`; the target survives with the union of the ranges. */
export interface MergeRegionsInstruction {
  type: 'mergeRegions';
  sourceId: number;
  targetId: number;
  epochs: { source: RegionEpoch; target: RegionEpoch };
}

/** One instruction from PD to a region leader. */
export type Instruction =
  | SplitRegionInstruction
  | TransferLeaderInstruction
  | AddLearnerInstruction
  | PromoteLearnerInstruction
  | RemovePeerInstruction
  | MergeRegionsInstruction;

/** The membership changes, which at most one at a time may be in flight per region. */
export type MembershipInstruction = AddLearnerInstruction | PromoteLearnerInstruction | RemovePeerInstruction;

/**
 * The regions an instruction involves, each with the epoch it was computed from (two for a merge:
 * source first).
 * @param instruction - an instruction.
 */
export function instructionRegions(instruction: Instruction): { regionId: number; epoch: RegionEpoch }[] {
  if (instruction.type === 'mergeRegions') {
    return [
      { regionId: instruction.sourceId, epoch: instruction.epochs.source },
      { regionId: instruction.targetId, epoch: instruction.epochs.target },
    ];
  }
  return [{ regionId: instruction.regionId, epoch: instruction.epoch }];
}

/**
 * True when every region the instruction involves still has the epoch it was computed from, so
 * the store may carry it out; false when one changed or is unknown (drop the instruction: PD will
 * decide again from the next heartbeat).
 * @param instruction - an instruction from PD.
 * @param getRegion - the store's current region by id, or undefined when it hosts none.
 */
export function isInstructionCurrent(instruction: Instruction, getRegion: (regionId: number) => Region | undefined): boolean {
  return instructionRegions(instruction).every(({ regionId, epoch }) => {
    const region = getRegion(regionId);
    return region !== undefined && epochEquals(region.epoch, epoch);
  });
}
