/**
 * The leader's view of one follower's log (Raft paper: matchIndex and nextIndex), with the
 * replication state machine of etcd-io/raft:
 * - `probe`: one append per heartbeat interval until the follower's position is found;
 * - `replicate`: optimistic pipelining of appends, bounded by {@link Inflights};
 * - `snapshot`: a snapshot is on its way; nothing else is sent until it is reported.
 */
import { Inflights } from './inflights.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be replicated on the follower. Invariant: match < next. */
  match = 0;
  /** Index of the next entry to send. */
  next = 1;
  state: ProgressState = 'probe';
  /** In probe state: an append was sent and we wait for its answer or the next heartbeat. */
  msgAppFlowPaused = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** In snapshot state: ticks since the snapshot was sent (a lost one is retried after a timeout). */
  snapshotElapsedTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  isLearner: boolean;
  /** The leader's tick when it sent the newest heartbeat this follower acknowledged (lease accounting). */
  heartbeatAckTick = Number.NEGATIVE_INFINITY;
  readonly inflights: Inflights;

  constructor(next: number, inflightMax: number, inflightBytesMax: number, isLearner: boolean) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(inflightMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.snapshotElapsedTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // The follower has at least the snapshot (if it got it); probe right after it.
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * Records that entries up to `lastIndex` were sent (`bytes` of payload). In replicate state the
   * send is optimistic: next moves past it immediately.
   */
  sentEntries(lastIndex: number, count: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      this.msgAppFlowPaused = true;
    }
  }

  /** Updates after a successful append response; returns false if it was stale (changed nothing). */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    if (this.next < n + 1) this.next = n + 1;
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Handles a rejected append for `rejected` with the follower's hint of where to retry.
   * Returns false when the rejection is stale (it refers to an append already superseded).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // A rejection at or below match is stale: that index was acknowledged since.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the rejection of the probe we are waiting for counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Whether sending appends to this follower is paused (flow control or a pending snapshot). */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.state === 'snapshot') s += ` pendingSnap=${this.pendingSnapshot}`;
    if (this.state === 'replicate' && this.inflights.count > 0) s += ` inflight=${this.inflights.count}`;
    if (this.isPaused()) s += ' paused';
    return s;
  }
}
