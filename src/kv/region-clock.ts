/**
 * RegionClock: the leader-side source of `KvCommand.nowMs`, a region time that never runs
 * backwards across leader changes and never leaps ahead of what the previous leaders stamped.
 *
 * Store clocks have arbitrary origins (`Clock.now()` is milliseconds since some start), so a new
 * leader cannot stamp its own clock reading: time could jump forward (expiring every lock lease at
 * once) or back. Instead it anchors its clock to the latest region time it has applied, when it
 * becomes leader, and advances from there at its own clock's rate. Time lost during the election
 * is not counted, so region time runs at most as fast as real time: leases last at least as long
 * as their holders think, which is the safe direction for locks and sessions.
 *
 * @example
 * ```ts
 * // On becoming leader of a region (appliedNowMs: the largest nowMs applied so far, kept with the apply state):
 * const clock = new RegionClock(appliedNowMs, storeClock.now());
 * // On applying any command (also ones proposed by earlier leaders):
 * clock.observe(command.nowMs, storeClock.now());
 * // On proposing:
 * const nowMs = clock.now(storeClock.now());
 * ```
 */
export class RegionClock {
  // Invariant: #lastMs never decreases.
  #lastMs: number;
  #anchorRegionMs: number;
  #anchorLocalMs: number;

  /**
   * Anchors the region time `appliedNowMs` to the local clock reading `localNowMs`.
   * @param appliedNowMs - the largest `nowMs` of the commands this replica has applied (0 for a new region).
   * @param localNowMs - the store clock's reading now.
   */
  constructor(appliedNowMs: number, localNowMs: number) {
    this.#lastMs = appliedNowMs;
    this.#anchorRegionMs = appliedNowMs;
    this.#anchorLocalMs = localNowMs;
  }

  /**
   * Moves region time up to a time seen in an applied command (one proposed by an earlier leader
   * and applied after this one took over), re-anchoring there, so proposals never stamp a time
   * below one already in the log. A time at or below the current one changes nothing.
   * @param nowMs - the applied command's `nowMs`.
   * @param localNowMs - the store clock's reading now.
   */
  observe(nowMs: number, localNowMs: number): void {
    if (nowMs <= this.now(localNowMs)) return;
    this.#lastMs = nowMs;
    this.#anchorRegionMs = nowMs;
    this.#anchorLocalMs = localNowMs;
  }

  /**
   * The region time to stamp on a proposal: the anchor advanced by the local clock, and never
   * less than any time returned or observed before.
   * @param localNowMs - the store clock's reading now.
   */
  now(localNowMs: number): number {
    const t = this.#anchorRegionMs + Math.max(0, localNowMs - this.#anchorLocalMs);
    if (t > this.#lastMs) this.#lastMs = Math.floor(t);
    return this.#lastMs;
  }
}
