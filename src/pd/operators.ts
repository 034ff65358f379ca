/**
 * Operators in flight (TiKV's operator controller, as pure state): PD remembers each instruction
 * it issued, under every region it involves, until a heartbeat shows it done (the region's epoch
 * moved on, the region is gone, or the leader is where a transfer sent it) or it times out.
 * While a region has one in flight no rule schedules anything else for it.
 */
import { epochEquals } from '../region/epoch.ts';
import { type Instruction, instructionRegions } from './instructions.ts';
import type { ClusterView, OperatorRecord } from './types.ts';

/**
 * The view with `instructions` recorded as in flight at `nowMs` (a merge under both of its
 * regions). A region that already has an operator keeps the older one and the new instruction is
 * not recorded: {@link schedule} never issues two for a region, so that only happens when a
 * caller issues instructions by hand.
 * @param view - the cluster view.
 * @param instructions - what PD just issued.
 * @param nowMs - PD time of issue.
 */
export function recordOperators(view: ClusterView, instructions: readonly Instruction[], nowMs: number): ClusterView {
  if (instructions.length === 0) return view;
  const operators = new Map(view.operators);
  for (const instruction of instructions) {
    const regions = instructionRegions(instruction);
    if (regions.some((r) => operators.has(r.regionId))) continue;
    for (const { regionId, epoch } of regions) {
      operators.set(regionId, { instruction, regionId, epoch: { ...epoch }, issuedMs: nowMs });
    }
  }
  return { ...view, operators };
}

/**
 * True when a heartbeat shows the operator finished, or it failed in a way that changed the region:
 * the region is gone or its epoch differs from the one the instruction was computed from, or a
 * leader transfer's target now leads.
 * @param view - the cluster view, with the latest heartbeats.
 * @param record - an operator in flight.
 */
export function isOperatorFinished(view: ClusterView, record: OperatorRecord): boolean {
  const info = view.regions.get(record.regionId);
  if (info === undefined || !epochEquals(info.region.epoch, record.epoch)) return true;
  return record.instruction.type === 'transferLeader' && info.leader.storeId === record.instruction.toStoreId;
}

/**
 * The view without the operators that finished ({@link isOperatorFinished}) or were issued more
 * than `operatorTimeoutMs` before `view.nowMs`. A merge is forgotten under both regions at once,
 * so neither region is freed while the other still waits.
 * @param view - the cluster view.
 */
export function settleOperators(view: ClusterView): ClusterView {
  let operators: Map<number, OperatorRecord> | undefined;
  const done = new Set<Instruction>();
  for (const record of view.operators.values()) {
    if (isOperatorFinished(view, record) || view.nowMs - record.issuedMs > view.config.operatorTimeoutMs) done.add(record.instruction);
  }
  for (const [regionId, record] of view.operators) {
    // A merge is done when either side shows it; forget it under the other side too.
    if (!done.has(record.instruction)) continue;
    operators ??= new Map(view.operators);
    operators.delete(regionId);
  }
  return operators === undefined ? view : { ...view, operators };
}

/**
 * The view brought to PD time `nowMs` (never backwards), with timed-out and finished operators
 * forgotten. Call it before scheduling so that down stores and timeouts are judged at `nowMs`.
 * @param view - the cluster view.
 * @param nowMs - the current PD time.
 */
export function advanceClock(view: ClusterView, nowMs: number): ClusterView {
  return settleOperators(nowMs > view.nowMs ? { ...view, nowMs } : view);
}

/**
 * The operators in flight as a list, by region id: one entry per instruction (a merge once, under
 * the lower of its two region ids). For an admin listing and for tests.
 * @param view - the cluster view.
 */
export function operatorsInFlight(view: ClusterView): OperatorRecord[] {
  const seen = new Set<Instruction>();
  const out: OperatorRecord[] = [];
  for (const record of [...view.operators.values()].sort((a, b) => a.regionId - b.regionId)) {
    if (seen.has(record.instruction)) continue;
    seen.add(record.instruction);
    out.push(record);
  }
  return out;
}
