/**
 * The inbound side every network adapter shares: decode and validate each frame from a peer,
 * count what is refused (by peer and by code), and say when a peer has offended often enough to be
 * disconnected. Pure, so the same rules hold over MessageChannel and WebSocket in every runtime.
 */
import { FrameError, type FrameErrorCode } from '../codec/errors.ts';
import { decodeFrame, type FrameExpectation } from '../codec/frame.ts';
import type { FrameLimits } from '../codec/limits.ts';
import type { Frame } from '../codec/schema.ts';

/** Counters of a {@link FrameGuard}. */
export interface FrameGuardStats {
  accepted: number;
  rejected: number;
  rejectedByCode: Partial<Record<FrameErrorCode, number>>;
  /** Links closed because their peer sent too many bad frames. */
  disconnected: number;
}

/** The verdict on one inbound frame. */
export type FrameVerdict =
  | { ok: true; frame: Frame }
  /** Refused; `disconnect` is true once the peer has sent `offencesMax` bad frames on this link. */
  | { ok: false; error: FrameError; disconnect: boolean };

/** Decodes, validates and counts inbound frames per link. */
export interface FrameGuard {
  /**
   * Judges `bytes` received on the link of the authenticated peer `peerId`.
   * @param peerId - the store the link was authenticated as (the frame must come from it).
   * @param bytes - the frame as received.
   */
  check(peerId: number, bytes: Uint8Array): FrameVerdict;
  /** Counts an offence found outside a frame (an unexpected message on the link). */
  offend(peerId: number, error: FrameError): FrameVerdict;
  /** Clears the offence count of `peerId` (a new, freshly authenticated link). */
  reset(peerId: number): void;
  stats(): FrameGuardStats;
}

/** Options of {@link createFrameGuard}. */
export interface FrameGuardOptions {
  clusterId: string;
  /** This store's id: frames must be addressed to it. */
  localId: number;
  limits: FrameLimits;
  /** Bad frames on one link after which it is closed (default 3). */
  offencesMax?: number;
}

/**
 * Creates a {@link FrameGuard}.
 * @param options - cluster and local id to expect, frame limits, offence limit.
 */
export function createFrameGuard(options: FrameGuardOptions): FrameGuard {
  const offencesMax = options.offencesMax ?? 3;
  const offences = new Map<number, number>();
  const stats: FrameGuardStats = { accepted: 0, rejected: 0, rejectedByCode: {}, disconnected: 0 };
  const offend = (peerId: number, error: FrameError): FrameVerdict => {
    stats.rejected++;
    stats.rejectedByCode[error.code] = (stats.rejectedByCode[error.code] ?? 0) + 1;
    const count = (offences.get(peerId) ?? 0) + 1;
    offences.set(peerId, count);
    const disconnect = count >= offencesMax;
    if (disconnect) stats.disconnected++;
    return { ok: false, error, disconnect };
  };
  // One expectation per peer, made once: `check` runs for every inbound frame.
  const expectations = new Map<number, FrameExpectation>();
  const expectationOf = (peerId: number): FrameExpectation => {
    let e = expectations.get(peerId);
    if (e === undefined) {
      e = { clusterId: options.clusterId, from: peerId, to: options.localId };
      expectations.set(peerId, e);
    }
    return e;
  };
  return {
    check(peerId, bytes) {
      try {
        const frame = decodeFrame(bytes, expectationOf(peerId), options.limits);
        stats.accepted++;
        return { ok: true, frame };
      } catch (err) {
        // decodeFrame throws nothing but FrameError; anything else is our bug and must surface.
        if (!(err instanceof FrameError)) throw err;
        return offend(peerId, err);
      }
    },
    offend,
    reset: (peerId) => void offences.delete(peerId),
    stats: () => ({ ...stats, rejectedByCode: { ...stats.rejectedByCode } }),
  };
}

/** A list of handlers called in registration order; one throwing does not stop the others being registered. */
export interface HandlerList<T> {
  add(handler: (value: T) => void): void;
  emit(value: T): void;
}

/** Creates a {@link HandlerList}. */
export function createHandlerList<T>(): HandlerList<T> {
  const handlers: ((value: T) => void)[] = [];
  return {
    add: (h) => void handlers.push(h),
    emit(value) {
      for (const h of handlers) h(value);
    },
  };
}
