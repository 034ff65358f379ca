/**
 * The store's side of TTL leases (docs/leases.md): the {@link LeaseHost} the PD leader's
 * LeaseService runs on, the lease calls clients send to any store, and the revoke requests PD's
 * leader sends to region leaders.
 */
import { z } from 'zod';
import { InvalidArgumentError, NotLeaderError } from '../errors.ts';
import type { KvReadOp } from '../kv/commands.ts';
import type { LeaseRevokeResult } from '../kv/leases.ts';
import { type LeaseHost, type LeaseInfo, type LeaseOp, LeaseService } from './lease-service.ts';
import type { PdMessage } from './pd-service.ts';
import { loadLease, loadLeases, PD_GROUP_ID } from './pd-state.ts';
import { isPdGroup, type StoreContext } from './store-context.ts';

/** Revoke proposals one store keeps in flight at most (PD resends what is dropped). */
const REVOKES_IN_FLIGHT_MAX = 256;
/** A read that touches nothing, for a ReadIndex round on PD's group. */
const PROBE: KvReadOp = { type: 'get', key: Uint8Array.of(0) };

const revokeRegionSchema = z.object({ leaseId: z.int().positive(), regionId: z.int().positive() });
const regionRevokedSchema = z.object({ leaseId: z.int().positive(), startKey: z.instanceof(Uint8Array), endKey: z.instanceof(Uint8Array) });

/** Connects the PD leader's lease keeper to the store; carries out revokes for regions led here. */
export class LeaseWorker {
  private readonly ctx: StoreContext;
  private readonly send: (toStoreId: number, m: PdMessage) => void;
  /** The lease keeper; undefined on stores run without PD. */
  readonly service: LeaseService | undefined;
  /** `regionId:leaseId` of revokes proposed here and not yet applied. Invariant: size <= REVOKES_IN_FLIGHT_MAX. */
  private readonly inFlight = new Set<string>();

  constructor(ctx: StoreContext, send: (toStoreId: number, m: PdMessage) => void) {
    this.ctx = ctx;
    this.send = send;
    if (ctx.pd) {
      this.service = new LeaseService(this.host());
      ctx.pd.leases = this.service;
    }
  }

  private host(): LeaseHost {
    const ctx = this.ctx;
    const pdPeer = () => ctx.peers.get(PD_GROUP_ID);
    return {
      now: () => ctx.opts.clock.now(),
      isLeader: () => pdPeer()?.isLeader() ?? false,
      leaderStoreId: () => pdPeer()?.leaderStoreId() ?? 0,
      confirmLeader: async () => {
        const peer = pdPeer();
        if (!peer?.isLeader()) throw new NotLeaderError(PD_GROUP_ID, peer?.leaderStoreId() ?? 0);
        // A ReadIndex round: answered only while this replica leads a quorum, and only once it
        // applied everything committed before (so the lease records read next are current).
        const done = peer.read(PROBE, 'linearizable');
        ctx.kick(peer);
        await done;
      },
      propose: (command) => {
        const peer = pdPeer();
        if (!peer?.isLeader()) return Promise.reject(new NotLeaderError(PD_GROUP_ID, peer?.leaderStoreId() ?? 0));
        const result = peer.proposePd(command);
        ctx.kick(peer);
        return result;
      },
      loadLeases: () => loadLeases(ctx.engine),
      loadLease: (id) => loadLease(ctx.engine, id),
      regions: () => {
        const view = ctx.pd?.view;
        if (!view) return [];
        return [...view.regions.values()].map((r) => ({ id: r.region.id, startKey: r.region.startKey, endKey: r.region.endKey, leaderStoreId: r.leader.storeId }));
      },
      sendRevoke: (to, leaseId, regionId) => this.send(to, { type: 'leaseRevokeRegion', leaseId, regionId }),
    };
  }

  /**
   * Serves a client's lease call (on PD's leader; elsewhere `NotLeader` with a hint).
   * @param op - the call.
   */
  async call(op: LeaseOp): Promise<LeaseInfo | number[] | undefined> {
    const s = this.service;
    if (!s) throw new InvalidArgumentError('lease', 'this cluster runs without a placement driver (--no-pd), and leases live in PD; start it with PD to use leases');
    switch (op.kind) {
      case 'grant':
        return s.grant(op.ttlMs);
      case 'keepAlive':
        return s.keepAlive(op.id);
      case 'timeToLive':
        return s.timeToLive(op.id);
      case 'revoke':
        await s.revoke(op.id);
        return undefined;
      case 'list':
        return s.list();
    }
  }

  /**
   * Handles a lease message between stores; false when `m` is not one.
   * @param fromStoreId - the sender.
   * @param m - the message.
   */
  receive(fromStoreId: number, m: PdMessage): boolean {
    if (m.type === 'leaseRegionRevoked') {
      const r = regionRevokedSchema.safeParse(m);
      if (r.success) this.service?.regionRevoked(r.data.leaseId, { startKey: r.data.startKey, endKey: r.data.endKey });
      return true;
    }
    if (m.type !== 'leaseRevokeRegion') return false;
    const r = revokeRegionSchema.safeParse(m);
    if (r.success) this.revokeInRegion(fromStoreId, r.data.leaseId, r.data.regionId);
    return true;
  }

  /** Proposes the revoke in a region led here and tells PD's leader once it applied. */
  private revokeInRegion(pdStoreId: number, leaseId: number, regionId: number): void {
    const ctx = this.ctx;
    const peer = ctx.peers.get(regionId);
    // Not led here (any more): PD's view catches up with the next heartbeat and asks the leader.
    if (!peer?.isLeader() || isPdGroup(peer) || !peer.storage.initialized) return;
    const tag = `${regionId}:${leaseId}`;
    if (this.inFlight.has(tag) || this.inFlight.size >= REVOKES_IN_FLIGHT_MAX) return;
    this.inFlight.add(tag);
    const op = { type: 'revokeLease' as const, lease: leaseId };
    const outcome = peer.proposeKv({ clientId: '', seq: 0, nowMs: peer.regionTime(ctx.opts.clock.now()), op });
    ctx.kick(peer);
    outcome
      .then((o) => {
        if (!o.ok) return; // e.g. a split moved keys meanwhile: PD asks again
        const result = o.result as LeaseRevokeResult;
        this.send(pdStoreId, { type: 'leaseRegionRevoked', leaseId, startKey: result.startKey, endKey: result.endKey });
      })
      .catch(() => undefined) // lost leadership: PD asks the next leader
      .finally(() => this.inFlight.delete(tag));
  }
}
