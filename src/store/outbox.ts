/**
 * Raft messages out. After a turn's write batch is durable (`ready-loop.ts`), the messages of
 * every replica's Ready are grouped into one {@link Outbox} entry per destination store and sent
 * in one call each (TiKV's BatchRaftMessage); messages to this store's own replicas go straight
 * back in through `StoreContext.receiveRaft`. A `MsgSnap` gets its data here: built whole from
 * the region as applied now, or, with a snapshot link, streamed in bounded chunks first
 * (`snapshot-stream.ts`), its `MsgSnap` following once the receiver verified every chunk.
 */

import type { Message } from '../raft/types.ts';
import type { RegionPeer } from './region-peer.ts';
import { buildRegionSnapshot, snapshotHead, streamedSnapshot } from './snapshot.ts';
import { OutgoingStream } from './snapshot-send.ts';
import { isReplyChunk, SNAPSHOT_STREAM_BASE } from './snapshot-stream.ts';
import { isPdGroup, type PeerReady, type StoreContext } from './store-context.ts';
import type { RaftItem } from './store-options.ts';

/**
 * The Raft items of one turn by destination store. Produced by {@link RaftOutbox.send} from the
 * turn's Readies, then handed out by it, one transport call per store.
 */
export type Outbox = Map<number, RaftItem[]>;

/** Sends the Raft messages of the store's replicas; owns the snapshot streams it sends. */
export class RaftOutbox {
  private readonly ctx: StoreContext;
  /** Snapshot streams this store sends, by `to:streamId`, and by `regionId:peerId` of their target. */
  private readonly outgoing = new Map<string, OutgoingStream>();
  private readonly outgoingByTarget = new Map<string, OutgoingStream>();
  private nextStreamId = SNAPSHOT_STREAM_BASE;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Sends the messages of `work`: groups them by destination store into an {@link Outbox} (each
   * `MsgSnap` given its data, or its stream started), then one call per store. One async body, as
   * the turn awaits it: its only waits are for snapshots.
   */
  async send(work: readonly PeerReady[]): Promise<void> {
    const ctx = this.ctx;
    const out: Outbox = new Map();
    const snapshotsSent: Array<{ peer: RegionPeer; to: number }> = [];
    for (const { peer, rd } of work) {
      for (const m of rd.messages) {
        const to = peer.storeOf(m.to);
        if (to === 0) continue;
        let message = m;
        // The core names the truncation point; what is sent is the region as applied right now.
        if (m.type === 'MsgSnap' && ctx.opts.snapshotLink && !isPdGroup(peer) && to !== ctx.storeId) {
          await this.streamSnapshot(peer, m, to);
          continue;
        }
        if (m.type === 'MsgSnap') {
          message = { ...m, snapshot: await buildRegionSnapshot(ctx.engine, peer) };
          ctx.counters.snapshotsSent++;
          snapshotsSent.push({ peer, to: m.to });
        }
        const list = out.get(to) ?? [];
        const r = peer.region;
        list.push({ regionId: peer.regionId, message, region: { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version } });
        out.set(to, list);
      }
    }
    this.deliver(out);
    for (const { peer, to } of snapshotsSent) reportSnapshotSent(peer, to);
  }

  /** Hands each store its items (this store's own go straight back in). */
  private deliver(out: Outbox): void {
    const ctx = this.ctx;
    for (const [to, items] of out) {
      ctx.counters.messagesSent += items.length;
      if (to === ctx.storeId) ctx.receiveRaft(ctx.storeId, items);
      else ctx.opts.sendRaft(to, items);
    }
  }

  /** An acknowledgement chunk from `fromStoreId` for a stream this store sends; false when `payload` is stream data instead. */
  receiveReply(fromStoreId: number, streamId: number, payload: Uint8Array): boolean {
    if (!isReplyChunk(payload)) return false;
    this.outgoing.get(`${fromStoreId}:${streamId}`)?.receive(payload);
    return true;
  }

  /** Aborts the streams to a store whose link went down. */
  linkDown(storeId: number): void {
    for (const [key, stream] of this.outgoing) if (key.startsWith(`${storeId}:`)) stream.abort('the link went down');
  }

  /**
   * Starts streaming a snapshot of `peer`'s region (as applied now) to replica `m.to` on store
   * `to`; its `MsgSnap` follows once the receiver verified every chunk. One stream per target at
   * a time; a stream that fails is reported to Raft, which sends another.
   */
  private async streamSnapshot(peer: RegionPeer, m: Message, to: number): Promise<void> {
    const ctx = this.ctx;
    const link = ctx.opts.snapshotLink;
    const target = `${peer.regionId}:${m.to}`;
    if (!link || this.outgoingByTarget.has(target)) return;
    const view = await ctx.engine.snapshot();
    const head = snapshotHead(peer);
    const r = head.envelope.region;
    const meta = { startKey: r.startKey, endKey: r.endKey, confVer: r.epoch.confVer, version: r.epoch.version };
    const streamId = this.nextStreamId++;
    const stream = new OutgoingStream({
      link,
      clock: ctx.opts.clock,
      to,
      streamId,
      region: r,
      view,
      chunkBytes: ctx.opts.snapshotChunkBytes,
      window: 4,
      stallMs: ctx.opts.snapshotStallMs,
      pollMs: 5,
      resendMs: 1000,
      live: () => !ctx.closed && ctx.peers.get(peer.regionId) === peer && peer.isLeader(),
      stats: ctx.snapshotStats,
    });
    const key = `${to}:${streamId}`;
    this.outgoing.set(key, stream);
    this.outgoingByTarget.set(target, stream);
    ctx.counters.snapshotsSent++;
    void stream
      .run()
      .then(
        (d) => {
          if (ctx.closed) return;
          const message: Message = { ...m, snapshot: streamedSnapshot(head, d) };
          ctx.counters.messagesSent++;
          ctx.opts.sendRaft(to, [{ regionId: peer.regionId, message, region: meta }]);
          if (ctx.peers.get(peer.regionId) !== peer) return;
          reportSnapshotSent(peer, m.to);
          ctx.dirty.add(peer);
          ctx.runLoop();
        },
        (e) => {
          ctx.opts.logger.warn('a snapshot stream failed; Raft will send another', { regionId: peer.regionId, to, error: String(e) });
          if (ctx.closed || ctx.peers.get(peer.regionId) !== peer) return;
          peer.node.reportSnapshot(m.to, false);
          ctx.dirty.add(peer);
          ctx.runLoop();
        },
      )
      .finally(() => {
        try {
          view.release();
        } catch {
          // the engine closed first: nothing is held any more
        }
        this.outgoing.delete(key);
        if (this.outgoingByTarget.get(target) === stream) this.outgoingByTarget.delete(target);
      });
  }
}

/**
 * Tells the leader's Raft that its snapshot for replica `to` has left (etcd's
 * `ReportSnapshot(SnapshotFinish)`), only once its `MsgSnap` is handed to the transport: the leader
 * then probes right after the snapshot's index at the next heartbeat answer. Without the report it
 * stays in the `snapshot` state until the follower's acknowledgement lets it replicate from its log,
 * and when the log was compacted past the snapshot's index meanwhile (a leader applying while the
 * snapshot travels, kvsim seed 80 with a yielding turn) no acknowledgement can: it waited for
 * `snapshotTimeoutTicks` (2.5 s by default) before sending the follower a newer snapshot.
 */
function reportSnapshotSent(peer: RegionPeer, to: number): void {
  if (peer.isLeader()) peer.node.reportSnapshot(to, true);
}
