/**
 * The scheduler: runs every rule in priority order (restore replication > split > merge >
 * replica balance > leader balance) and keeps what the limits allow: one operator per region
 * (counting those in flight) and at most `storeOperatorsMax` operators involving any one store.
 * An instruction that does not fit is dropped (ids it was given are never reused); its rule
 * proposes it again on a later pass.
 */
import { balanceLeaders } from './balance-leader.ts';
import { balanceReplicas } from './balance-region.ts';
import type { PdConfig } from './config.ts';
import { type IdAllocator, type Instruction, instructionRegions } from './instructions.ts';
import { recordOperators } from './operators.ts';
import { checkReplicas } from './replica-checker.ts';
import { checkMerge, checkSplit } from './split-merge-checker.ts';
import type { ClusterView } from './types.ts';

/** A scheduling rule: a pure function from a view to the instructions it proposes. */
export interface ScheduleRule {
  /** A short name for logs and tests (TiKV's checker and scheduler names). */
  name: string;
  run: (view: ClusterView, config: PdConfig, allocId: IdAllocator) => Instruction[];
}

/** The rules {@link schedule} runs, highest priority first. */
export const SCHEDULE_RULES: readonly ScheduleRule[] = Object.freeze([
  { name: 'replica-checker', run: checkReplicas },
  { name: 'split-checker', run: checkSplit },
  { name: 'merge-checker', run: (view: ClusterView, config: PdConfig) => checkMerge(view, config) },
  { name: 'balance-region', run: balanceReplicas },
  { name: 'balance-leader', run: (view: ClusterView, config: PdConfig) => balanceLeaders(view, config) },
]);

/**
 * The store whose region leader should receive the instruction: the region's leader (for a
 * merge, the source's leader, which proposes the prepare step), or undefined when the view no
 * longer holds the region.
 * @param view - the cluster view.
 * @param instruction - an instruction.
 */
export function instructionLeaderStoreId(view: ClusterView, instruction: Instruction): number | undefined {
  return view.regions.get(instructionRegions(instruction)[0].regionId)?.leader.storeId;
}

/**
 * The stores an instruction puts load on, which count against `storeOperatorsMax`: the leader
 * that carries it out, plus the store that receives a learner's snapshot or a transferred
 * leadership, or the store of a promoted or removed peer. By ascending id, without repeats.
 * @param view - the cluster view.
 * @param instruction - an instruction.
 */
export function instructionStoreIds(view: ClusterView, instruction: Instruction): number[] {
  const stores = new Set<number>();
  for (const { regionId } of instructionRegions(instruction)) {
    const leader = view.regions.get(regionId)?.leader.storeId;
    if (leader !== undefined) stores.add(leader);
  }
  if (instruction.type === 'addLearner') stores.add(instruction.storeId);
  if (instruction.type === 'transferLeader') stores.add(instruction.toStoreId);
  if (instruction.type === 'promoteLearner' || instruction.type === 'removePeer') {
    const { peerId } = instruction;
    const peer = view.regions.get(instruction.regionId)?.region.peers.find((p) => p.id === peerId);
    if (peer !== undefined) stores.add(peer.storeId);
  }
  return [...stores].sort((a, b) => a - b);
}

/**
 * Everything PD should issue now: each rule's instructions in priority order, keeping an
 * instruction only when none of its regions has an operator (in flight or chosen earlier in this
 * pass) and every store it involves has fewer than `storeOperatorsMax` operators. Each rule runs
 * on the view with the earlier rules' choices recorded, so it plans around them. Record what is
 * issued with `recordOperators` so the next pass waits for it.
 * @param view - the cluster view (bring it to the current time with `advanceClock` first).
 * @param config - the configuration.
 * @param allocId - PD's id allocator, for new region and peer ids.
 * @param rules - the rules to run, highest priority first; default {@link SCHEDULE_RULES}.
 */
export function schedule(view: ClusterView, config: PdConfig, allocId: IdAllocator, rules: readonly ScheduleRule[] = SCHEDULE_RULES): Instruction[] {
  const busyRegions = new Set(view.operators.keys());
  const storeLoad = new Map<number, number>();
  const addLoad = (instruction: Instruction) => {
    for (const id of instructionStoreIds(view, instruction)) storeLoad.set(id, (storeLoad.get(id) ?? 0) + 1);
  };
  const seen = new Set<Instruction>();
  for (const record of view.operators.values()) {
    if (seen.has(record.instruction)) continue;
    seen.add(record.instruction);
    addLoad(record.instruction);
  }
  const out: Instruction[] = [];
  let current = view;
  for (const rule of rules) {
    const accepted: Instruction[] = [];
    for (const instruction of rule.run(current, config, allocId)) {
      const regionIds = instructionRegions(instruction).map((r) => r.regionId);
      if (regionIds.some((id) => busyRegions.has(id))) continue;
      if (instructionStoreIds(view, instruction).some((id) => (storeLoad.get(id) ?? 0) >= config.storeOperatorsMax)) continue;
      for (const id of regionIds) busyRegions.add(id);
      addLoad(instruction);
      accepted.push(instruction);
    }
    // Later rules see this pass's choices as in flight and plan around them.
    current = recordOperators(current, accepted, view.nowMs);
    out.push(...accepted);
  }
  return out;
}
