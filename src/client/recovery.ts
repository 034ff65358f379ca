/**
 * Unsafe recovery, the operator's side (`client.admin.recoverUnsafe`, `flotilla recover --unsafe`):
 * plan from what every surviving store reports, then tell one survivor per region that lost its
 * majority to lead the survivors (`src/store/unsafe-recovery.ts`). Like TiKV's online unsafe
 * recovery, it is for stores lost for good: it may lose acknowledged writes and breaks
 * linearizability for the regions it recovers (docs/disaster-recovery.md).
 */
import { FlotillaError, InvalidArgumentError } from '../errors.ts';
import type { Region } from '../region/types.ts';
import type { ReplicaReport } from '../store/unsafe-recovery.ts';
import type { StoreConnector } from './connector.ts';

/** What {@link recoverUnsafe} did. */
export interface RecoveryResult {
  /** Regions brought back, each by its replica on `storeId`, with the membership they have now. */
  recovered: Array<{ regionId: number; storeId: number; lastIndex: number; lastTerm: number; region: Region }>;
  /** Regions that still have a majority of their voters: untouched. */
  healthy: number[];
  /** Regions with no surviving voter: their data is gone with the lost stores (restore them from a backup). */
  unrecoverable: Array<{ regionId: number; reason: string }>;
  /** Regions whose recovery failed (run again: it resumes). */
  failed: Array<{ regionId: number; storeId: number; error: string }>;
}

/** How long a survivor's answer to a report may take. */
const REPORT_TIMEOUT_MS = 5000;
/** How long a lost store is given to answer before it counts as lost indeed. */
const LOST_PROBE_MS = 2000;

/**
 * Recovers every region (or `regionId`'s) whose voters lost their majority with `lostStoreIds`.
 * @throws InvalidArgumentError when a store named lost answers (it is not lost), a survivor does
 *   not answer, PD's own group lost its majority (recover PD first), or nothing needs recovery.
 */
export async function recoverUnsafe(
  connector: StoreConnector,
  lostStoreIds: readonly number[],
  options: { regionId?: number; waitMs?: number; knownRegionIds?: readonly number[] } = {},
): Promise<RecoveryResult> {
  if (lostStoreIds.length === 0 || lostStoreIds.some((id) => !Number.isSafeInteger(id) || id <= 0)) throw new InvalidArgumentError('lost', 'name the lost stores by their ids (positive integers)');
  const lost = new Set(lostStoreIds);
  await refuseLiveLost(connector, lost);
  const survivors = connector.storeIds().filter((id) => !lost.has(id));
  if (survivors.length === 0) throw new InvalidArgumentError('lost', 'no store would survive: every known store is named lost');
  const reports: ReplicaReport[] = [];
  for (const id of survivors) {
    try {
      reports.push(...((await connector.call(id, { type: 'recovery', op: { kind: 'report' } }, REPORT_TIMEOUT_MS)) as ReplicaReport[]));
    } catch (e) {
      throw new InvalidArgumentError('lost', `surviving store ${id} did not answer (${e instanceof Error ? e.message : String(e)}): start it, or name it lost too`);
    }
  }
  const plan = planRecovery(reports, lost, options.regionId, options.knownRegionIds);
  if (plan.pdLost) throw new InvalidArgumentError('lost', plan.pdLost);
  if (plan.targets.length === 0) {
    const which = options.regionId === undefined ? 'every region' : `region ${options.regionId}`;
    throw new InvalidArgumentError('lost', `${which} still has a majority of its voters without stores ${[...lost].join(',')}: nothing to recover (a region with a majority elects a leader by itself)`);
  }
  const result: RecoveryResult = { recovered: [], healthy: plan.healthy, unrecoverable: plan.unrecoverable, failed: [] };
  for (const t of plan.targets) {
    try {
      const waitMs = options.waitMs ?? 30_000;
      const region = (await connector.call(t.storeId, { type: 'recovery', op: { kind: 'force', regionId: t.region.id, lostStoreIds: [...lost], waitMs } }, waitMs + 5000)) as Region;
      result.recovered.push({ regionId: t.region.id, storeId: t.storeId, lastIndex: t.lastIndex, lastTerm: t.lastTerm, region });
    } catch (e) {
      result.failed.push({ regionId: t.region.id, storeId: t.storeId, error: e instanceof FlotillaError ? `${e.code}: ${e.message}` : String(e) });
    }
  }
  return result;
}

/** A store named lost that answers is not lost: recovering around it would split the region in two. */
async function refuseLiveLost(connector: StoreConnector, lost: ReadonlySet<number>): Promise<void> {
  const known = new Set(connector.storeIds());
  for (const id of lost) {
    if (!known.has(id)) continue;
    const answered = await connector.call(id, { type: 'ident' }, LOST_PROBE_MS).then(
      () => true,
      () => false,
    );
    if (answered) throw new InvalidArgumentError('lost', `store ${id} answers: it is not lost. Unsafe recovery is only for stores gone for good (stop it and wipe it first if that is what you mean)`);
  }
}

/** The recovery to do, from the survivors' reports: pure, for tests. */
export function planRecovery(
  reports: readonly ReplicaReport[],
  lost: ReadonlySet<number>,
  onlyRegionId?: number,
  knownRegionIds: readonly number[] = [],
): { targets: ReplicaReport[]; healthy: number[]; unrecoverable: RecoveryResult['unrecoverable']; pdLost?: string } {
  const byRegion = new Map<number, ReplicaReport[]>();
  for (const r of reports) byRegion.set(r.region.id, [...(byRegion.get(r.region.id) ?? []), r]);
  const targets: ReplicaReport[] = [];
  const healthy: number[] = [];
  const unrecoverable: RecoveryResult['unrecoverable'] = [];
  let pdLost: string | undefined;
  for (const [regionId, replicas] of [...byRegion].sort((a, b) => a[0] - b[0])) {
    // The newest membership any survivor applied describes the region.
    const view = replicas.reduce((a, b) => (b.region.epoch.confVer > a.region.epoch.confVer ? b : a)).region;
    const voters = view.peers.filter((p) => p.role === 'voter');
    const alive = voters.filter((p) => !lost.has(p.storeId));
    if (alive.length * 2 > voters.length) {
      if (!replicas[0].pd) healthy.push(regionId);
      continue;
    }
    if (replicas[0].pd) {
      pdLost = `PD's own group lost its majority (voters on stores ${voters.map((p) => p.storeId).join(',')}, lost ${voters.filter((p) => lost.has(p.storeId)).map((p) => p.storeId).join(',')}): PD cannot record a recovery. Bring back one of its lost stores with its data directory, or build a new cluster from a backup (flotilla restore)`;
      continue;
    }
    if (onlyRegionId !== undefined && regionId !== onlyRegionId) continue;
    const candidates = replicas.filter((r) => alive.some((p) => p.id === r.peerId));
    if (candidates.length === 0) {
      unrecoverable.push({ regionId, reason: `no voter of region ${regionId} survives (voters on stores ${voters.map((p) => p.storeId).join(',')})` });
      continue;
    }
    // The survivor whose log is the most up to date (Raft's election order): it holds every
    // entry any survivor could have acknowledged.
    targets.push(candidates.reduce((a, b) => (b.lastTerm > a.lastTerm || (b.lastTerm === a.lastTerm && b.lastIndex > a.lastIndex) ? b : a)));
  }
  // Regions the client routed to that no survivor hosts went with the lost stores entirely.
  const gone = onlyRegionId === undefined ? knownRegionIds : [onlyRegionId];
  for (const id of gone) if (!byRegion.has(id)) unrecoverable.push({ regionId: id, reason: `no surviving store hosts region ${id}: its data is gone with stores ${[...lost].join(',')}` });
  return { targets, healthy: onlyRegionId === undefined ? healthy : healthy.filter((id) => id === onlyRegionId), unrecoverable, pdLost };
}
