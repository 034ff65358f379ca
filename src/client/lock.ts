/**
 * DistributedLock: RheaKV's distributed lock on a key, with a lease and a fencing token that only
 * rises. Pass the token to whatever the lock protects, and have it refuse tokens lower than the
 * highest it has seen: a holder whose lease ran out while it was paused is then fenced off.
 */
import type { KvWriteOp, LockResult, UnlockResult } from '../kv/commands.ts';
import type { Clock } from '../ports.ts';

/** Options of a lock. */
export interface LockOptions {
  /** Who holds it; default a random id per lock object. */
  owner?: string;
  /** Renew the lease every `leaseMs / 3` while held (a watchdog); default false. */
  watchdog?: boolean;
}

type LockWrite = (op: KvWriteOp) => Promise<unknown>;

export class DistributedLock {
  readonly key: Uint8Array;
  readonly owner: string;
  readonly leaseMs: number;
  private readonly writeOp: LockWrite;
  private readonly clock: Clock;
  private readonly watchdog: boolean;
  private cancelWatchdog: () => void = () => {};
  /** The fencing token of the current hold; 0 when not held. */
  fencingToken = 0;
  /** What the last `tryLock` or renewal saw of the lock. */
  last: LockResult | undefined;

  constructor(key: Uint8Array, owner: string, leaseMs: number, opts: LockOptions, write: LockWrite, clock: Clock) {
    this.key = key;
    this.owner = owner;
    this.leaseMs = leaseMs;
    this.writeOp = write;
    this.clock = clock;
    this.watchdog = opts.watchdog ?? false;
  }

  /** Takes the lock if it is free or expired (or re-enters it). Returns whether this owner holds it now. */
  async tryLock(): Promise<boolean> {
    const r = (await this.writeOp({ type: 'tryLock', key: this.key, owner: this.owner, leaseMs: this.leaseMs })) as LockResult;
    this.last = r;
    this.fencingToken = r.success ? r.fencingToken : 0;
    if (r.success && this.watchdog) this.startWatchdog();
    return r.success;
  }

  /** Extends the lease of a held, unexpired lock. Returns false if it was lost. */
  async renew(): Promise<boolean> {
    const r = (await this.writeOp({ type: 'renewLock', key: this.key, owner: this.owner, leaseMs: this.leaseMs })) as LockResult;
    this.last = r;
    if (!r.success) {
      this.fencingToken = 0;
      this.cancelWatchdog();
    }
    return r.success;
  }

  /** Releases one hold. Returns whether this owner held the lock. */
  async unlock(): Promise<boolean> {
    this.cancelWatchdog();
    const r = (await this.writeOp({ type: 'unlock', key: this.key, owner: this.owner })) as UnlockResult;
    if (r.acquires === 0) this.fencingToken = 0;
    return r.success;
  }

  private startWatchdog(): void {
    this.cancelWatchdog();
    const every = Math.max(1, Math.floor(this.leaseMs / 3));
    const loop = () => {
      this.cancelWatchdog = this.clock.setTimer(every, () => {
        this.renew().then(
          (ok) => {
            if (ok) loop();
          },
          () => {
            // Renewal failed to reach the cluster: the lease may lapse; the next tryLock decides.
          },
        );
      });
    };
    loop();
  }
}
