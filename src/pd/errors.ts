/**
 * The typed error PD answers a stale region heartbeat with (TiKV PD's `ErrRegionIsStale`). It is
 * an {@link EpochNotMatchError} carrying PD's newer regions, so a sender that knows how to handle
 * `EpochNotMatch` needs nothing new, and it crosses the wire as one.
 */
import { EpochNotMatchError } from '../errors.ts';
import type { Region } from '../region/types.ts';

/** Why a region heartbeat was refused as stale. */
export type StaleHeartbeatReason =
  /** PD knows the region with a greater `version` (a split or merge the sender has not applied). */
  | 'version'
  /** PD knows the region with a greater `confVer` (a membership change the sender has not applied). */
  | 'confVer'
  /** Same epoch, older term: a deposed leader reporting. */
  | 'term'
  /** Same epoch, another range: one of the two reports is corrupt. */
  | 'range'
  /** An overlapping region has a greater `version` (the sender's range was split or merged away). */
  | 'overlap';

/**
 * A region heartbeat older than what PD knows. Nothing in PD's view changed. `regions` holds
 * PD's newer regions (the same id, or the overlapping ones): the sender is behind and catches up
 * through Raft; it should not act on its stale shape.
 */
export class StaleRegionHeartbeatError extends EpochNotMatchError {
  readonly regionId: number;
  readonly reason: StaleHeartbeatReason;
  constructor(regionId: number, reason: StaleHeartbeatReason, regions: Region[]) {
    super(regionId, regions);
    this.name = 'StaleRegionHeartbeatError';
    this.regionId = regionId;
    this.reason = reason;
    this.message = `PD refused the heartbeat of region ${regionId}: stale (${reason}); PD knows ${regions.map((r) => `region ${r.id} at version ${r.epoch.version}, confVer ${r.epoch.confVer}`).join('; ')}. The sender is behind and catches up through Raft`;
  }
}
