/**
 * PD's region and store tables as pure functions over a {@link ClusterView}: heartbeats in, a new
 * view out. A region heartbeat is checked against what PD knows by TiKV PD's rules
 * (`PreCheckPutRegion`): refused when the same region is known with a greater `version` or a
 * greater `confVer` (each compared on its own), with the same epoch but an older term, or when a
 * region it overlaps has a greater `version`. An accepted heartbeat replaces every overlapping
 * region, so a split's halves replace their parent and a merged region replaces its sources.
 */
import { EpochNotMatchError, InvalidArgumentError } from '../errors.ts';
import { epochEquals, validateRegion } from '../region/epoch.ts';
import { keysEqual, rangesOverlap } from '../region/keys.ts';
import { cloneRegion, type Region } from '../region/types.ts';
import { isIncarnation } from '../util/incarnation.ts';
import type { PdConfig } from './config.ts';
import { settleOperators } from './operators.ts';
import type { ClusterView, PdRegionInfo, RegionHeartbeat, StoreHeartbeat, StoreState } from './types.ts';

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
 * A region heartbeat older than what PD knows (TiKV PD's `ErrRegionIsStale`). It is an
 * {@link EpochNotMatchError}, so a sender that handles `EpochNotMatch` needs nothing new and it
 * crosses the wire as one. Nothing in PD's view changed. `regions` holds PD's newer regions (the
 * same id, or the overlapping ones): the sender is behind and catches up through Raft; it should
 * not act on its stale shape.
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

/**
 * An empty view: no stores, regions or operators, started at PD time `nowMs`.
 * @param config - the configuration to keep the view with (see `resolvePdConfig`).
 * @param nowMs - the current PD time.
 */
export function createClusterView(config: PdConfig, nowMs = 0): ClusterView {
  return { nowMs, startedMs: nowMs, config, stores: new Map(), regions: new Map(), operators: new Map() };
}

/** The answer to a region heartbeat: the new view, or why it was refused (the view is unchanged then). */
export type RegionHeartbeatResult =
  | {
      ok: true;
      view: ClusterView;
      /** Regions the heartbeat replaced (split parents, merge sources), now gone from the view. */
      removedRegionIds: number[];
    }
  | { ok: false; error: StaleRegionHeartbeatError };

const STATE_ORDER: Record<StoreState, number> = { up: 0, offline: 1, tombstone: 2 };

function nonNegative(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function checkRegionHeartbeat(hb: RegionHeartbeat): void {
  validateRegion(hb.region, 'heartbeat.region');
  const leader = hb.region.peers.find((p) => p.id === hb.leader?.id);
  if (leader === undefined || leader.storeId !== hb.leader.storeId || leader.role !== 'voter') {
    throw new InvalidArgumentError('heartbeat.leader', `must be a voter of region ${hb.region.id} on its store`);
  }
  for (const name of ['approximateKeys', 'approximateBytes', 'bytesWritten', 'keysWritten', 'bytesRead', 'keysRead', 'term'] as const) {
    if (!nonNegative(hb[name])) throw new InvalidArgumentError(`heartbeat.${name}`, `must be a non-negative number, got ${String(hb[name])}`);
  }
}

function staleness(known: Region, hb: RegionHeartbeat, knownTerm: number): 'version' | 'confVer' | 'term' | 'range' | undefined {
  const epoch = hb.region.epoch;
  if (epoch.version < known.epoch.version) return 'version';
  if (epoch.confVer < known.epoch.confVer) return 'confVer';
  if (!epochEquals(epoch, known.epoch)) return undefined;
  if (!keysEqual(known.startKey, hb.region.startKey) || !keysEqual(known.endKey, hb.region.endKey)) return 'range';
  return hb.term < knownTerm ? 'term' : undefined;
}

/**
 * Applies a region leader's heartbeat. Returns the new view (the region stored as reported,
 * overlapping older regions removed, finished operators forgotten) or, when the heartbeat is
 * stale, a {@link StaleRegionHeartbeatError} carrying PD's newer regions. Throws
 * {@link InvalidArgumentError} for a malformed heartbeat (bad region, a leader that is not one of
 * its voters, negative statistics); validate at the wire edge so that this never happens.
 * @param view - the cluster view.
 * @param hb - the heartbeat.
 * @param nowMs - PD time of receipt.
 */
export function handleRegionHeartbeat(view: ClusterView, hb: RegionHeartbeat, nowMs: number): RegionHeartbeatResult {
  checkRegionHeartbeat(hb);
  const { region } = hb;
  const overlaps = [...view.regions.values()].filter((o) => o.region.id !== region.id && rangesOverlap(o.region.startKey, o.region.endKey, region.startKey, region.endKey));
  const newer = overlaps.filter((o) => o.region.epoch.version > region.epoch.version);
  if (newer.length > 0) return { ok: false, error: new StaleRegionHeartbeatError(region.id, 'overlap', newer.map((o) => cloneRegion(o.region))) };
  const origin = view.regions.get(region.id);
  const reason = origin === undefined ? undefined : staleness(origin.region, hb, origin.term);
  if (origin !== undefined && reason !== undefined) return { ok: false, error: new StaleRegionHeartbeatError(region.id, reason, [cloneRegion(origin.region)]) };

  const regions = new Map(view.regions);
  for (const o of overlaps) regions.delete(o.region.id);
  const info: PdRegionInfo = {
    region: cloneRegion(region),
    leader: { ...hb.leader },
    downPeers: hb.downPeers.map((d) => ({ peer: { ...d.peer }, downSeconds: d.downSeconds })),
    pendingPeers: hb.pendingPeers.map((p) => ({ ...p })),
    approximateKeys: hb.approximateKeys,
    approximateBytes: hb.approximateBytes,
    bytesWritten: hb.bytesWritten,
    keysWritten: hb.keysWritten,
    bytesRead: hb.bytesRead,
    keysRead: hb.keysRead,
    term: hb.term,
    lastHeartbeatMs: nowMs,
    pendingSinceMs: new Map(hb.pendingPeers.map((p) => [p.id, origin?.pendingSinceMs.get(p.id) ?? nowMs])),
  };
  regions.set(region.id, info);
  const next = settleOperators({ ...view, nowMs: Math.max(view.nowMs, nowMs), regions });
  return { ok: true, view: next, removedRegionIds: overlaps.map((o) => o.region.id).sort((a, b) => a - b) };
}

/**
 * Applies a store's heartbeat: records it with PD time `nowMs`. The store's state becomes the
 * further along of the reported one and the one PD holds (a store PD marked offline stays
 * offline however it reports). Throws {@link InvalidArgumentError} for a malformed heartbeat.
 * @param view - the cluster view.
 * @param hb - the heartbeat.
 * @param nowMs - PD time of receipt.
 */
export function handleStoreHeartbeat(view: ClusterView, hb: StoreHeartbeat, nowMs: number): ClusterView {
  if (!Number.isSafeInteger(hb.storeId) || hb.storeId <= 0) throw new InvalidArgumentError('heartbeat.storeId', `must be a positive safe integer, got ${String(hb.storeId)}`);
  if (!(hb.state in STATE_ORDER)) throw new InvalidArgumentError('heartbeat.state', `must be up, offline or tombstone, got ${String(hb.state)}`);
  for (const name of ['capacityBytes', 'availableBytes', 'regionCount', 'leaderCount', 'bytesWritten', 'keysWritten', 'bytesRead', 'keysRead'] as const) {
    if (!nonNegative(hb[name])) throw new InvalidArgumentError(`heartbeat.${name}`, `must be a non-negative number, got ${String(hb[name])}`);
  }
  if (hb.incarnation !== undefined && !isIncarnation(hb.incarnation)) throw new InvalidArgumentError('heartbeat.incarnation', 'must be 1 to 64 letters, digits, - or _ (as in the handshake)');
  const known = view.stores.get(hb.storeId);
  const state = known !== undefined && STATE_ORDER[known.state] > STATE_ORDER[hb.state] ? known.state : hb.state;
  const stores = new Map(view.stores);
  stores.set(hb.storeId, { heartbeat: { ...hb }, lastHeartbeatMs: nowMs, state });
  return settleOperators({ ...view, nowMs: Math.max(view.nowMs, nowMs), stores });
}

/**
 * Moves a store forward in its lifecycle (admin `removeStore` marks it `offline`; once it hosts
 * no replica, `tombstone`). Throws {@link InvalidArgumentError} for an unknown store or a step
 * backwards (a tombstone store never comes back; a new store takes a new id).
 * @param view - the cluster view.
 * @param storeId - the store.
 * @param state - its new state.
 */
export function setStoreState(view: ClusterView, storeId: number, state: StoreState): ClusterView {
  const known = view.stores.get(storeId);
  if (known === undefined) throw new InvalidArgumentError('storeId', `store ${storeId} is not known to PD`);
  if (STATE_ORDER[state] < STATE_ORDER[known.state]) throw new InvalidArgumentError('state', `store ${storeId} is ${known.state} and cannot become ${state}`);
  const stores = new Map(view.stores);
  stores.set(storeId, { ...known, state });
  return { ...view, stores };
}

/**
 * Offline stores that no region in the view places a replica on any more: ready to be marked
 * tombstone with {@link setStoreState}. By ascending id.
 * @param view - the cluster view.
 */
export function drainedStoreIds(view: ClusterView): number[] {
  const hosting = new Set<number>();
  for (const info of view.regions.values()) for (const p of info.region.peers) hosting.add(p.storeId);
  return [...view.stores.entries()]
    .filter(([id, s]) => s.state === 'offline' && !hosting.has(id))
    .map(([id]) => id)
    .sort((a, b) => a - b);
}
