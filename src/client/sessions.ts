/**
 * Session slots: how one client keeps many writes in flight and still gets at-most-once
 * application. The state machine remembers one `(seq, result)` per client id per region, so each
 * write in flight uses a slot of its own — a client id `<clientId>/<slot>` whose `seq` rises with
 * every write — and holds it until the write has a definite answer or is given up. A retry reuses
 * the slot and the seq, so a write that did apply is answered from the session table.
 */

/** One write's identity: the slot's client id and the write's seq. */
export interface Slot {
  clientId: string;
  seq: number;
  index: number;
}

export class SessionSlots {
  private readonly base: string;
  private readonly free: Slot[] = [];
  private nextIndex = 0;
  private readonly seqs: number[] = [];

  constructor(base: string) {
    this.base = base;
  }

  /** A free slot with a fresh seq. */
  acquire(): Slot {
    const reused = this.free.pop();
    const index = reused ? reused.index : this.nextIndex++;
    const seq = (this.seqs[index] ?? 0) + 1;
    this.seqs[index] = seq;
    return { clientId: `${this.base}/${index}`, seq, index };
  }

  /** Moves a slot's seq past `lastSeq` (the session table knew the slot's id from an earlier client). */
  bump(slot: Slot, lastSeq: number): void {
    if (lastSeq >= slot.seq) {
      slot.seq = lastSeq + 1;
      this.seqs[slot.index] = slot.seq;
    }
  }

  /** Returns a slot once its write has a definite answer (or was given up: its next seq supersedes it). */
  release(slot: Slot): void {
    this.free.push(slot);
  }

  /** Slots ever created (the most writes that were in flight at once). */
  get size(): number {
    return this.nextIndex;
  }
}
