/**
 * Short display names of regions: split children get 52-bit random ids without PD, so the
 * playground shows r1, r2, … in the order it first sees them, and "PD" for the PD group.
 * The real ids stay in data attributes and actions.
 */
const PD_GROUP_ID = Number.MAX_SAFE_INTEGER;
const aliases = new Map<number, number>();

/** The short name of a region (its first sight fixes its number). */
export function regionName(id: number): string {
  if (id === PD_GROUP_ID) return 'PD';
  let n = aliases.get(id);
  if (n === undefined) {
    // Small ids (the initial regions, PD-allocated ones) keep their number when it is free.
    n = id < 1000 && ![...aliases.values()].includes(id) ? id : Math.max(0, ...aliases.values(), 99) + 1;
    aliases.set(id, n);
  }
  return `r${n}`;
}

/** Whether a region id is PD's own group. */
export const isPdGroup = (id: number) => id === PD_GROUP_ID;

/** Forgets every alias (a new cluster). */
export function resetNames(): void {
  aliases.clear();
}
