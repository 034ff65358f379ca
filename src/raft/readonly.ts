/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4). A read request remembers the commit
 * index at the time it arrived; it may be answered once a quorum has acknowledged a heartbeat
 * sent after it, proving that this node was still the leader when the request came in.
 */
import type { Message, NodeId } from './types.ts';

export interface ReadIndexStatus {
  /** The original request (local when `from` is this node). */
  req: Message;
  /** The commit index when the request arrived; the read is served once applied >= index. */
  index: number;
  /** Voters that acknowledged a heartbeat carrying this request's context. */
  acks: Set<NodeId>;
}

/** A byte string as a map key. */
export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]);
  return s;
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  /** Request contexts in arrival order. Invariant: same keys as `pending`. */
  private queue: string[] = [];

  /** Drops every pending request (the node stopped being leader). */
  reset(): void {
    this.pending = new Map();
    this.queue = [];
  }

  get size(): number {
    return this.queue.length;
  }

  /** Queues a request that arrived when the commit index was `index`. Duplicate contexts are ignored. */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req: m, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Records `id`'s acknowledgement of the heartbeat carrying `ctx`; returns the acks so far, or undefined if unknown. */
  recvAck(id: NodeId, ctx: Uint8Array): Set<NodeId> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * Dequeues the request with `ctx` and every request queued before it: a quorum ack of a later
   * heartbeat confirms the leadership for all earlier requests too.
   */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      if (rs) out.push(rs);
      this.pending.delete(k);
    }
    return out;
  }

  /** The context of the newest pending request, carried by every heartbeat so that regular beats confirm reads too. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])?.req.context;
  }
}
