/**
 * The simulated network: messages in flight with a delivery tick, per-message loss and
 * duplication, and partitions as a set of blocked directed links (so a partition can be
 * symmetric, one-way, or a bridge where one replica still talks to both sides).
 */
import type { Message } from './core.ts';

/** Only what the network needs from the run's seeded source. */
export interface SimRand {
  next(): number;
  int(n: number): number;
}

export interface InFlight {
  m: Message;
  /** The tick at which it may be delivered. */
  at: number;
}

export interface Network {
  queue: InFlight[];
  /** Blocked directed links, as `from>to`. */
  blocked: Set<string>;
  dropP: number;
  dupP: number;
  maxDelayTicks: number;
  /** A message is held back for up to `lateTicksMax` ticks instead. */
  lateP: number;
  lateTicksMax: number;
  /** A description of the current partition, for the trace. */
  partition: string;
}

export function newNetwork(dropP: number, dupP: number, maxDelayTicks: number, lateP: number, lateTicksMax: number): Network {
  return { queue: [], blocked: new Set(), dropP, dupP, maxDelayTicks, lateP, lateTicksMax, partition: 'none' };
}

export function linkUp(net: Network, from: number, to: number): boolean {
  return !net.blocked.has(`${from}>${to}`);
}

/** Queues `m` unless lost; returns how many copies were queued (0, 1 or 2). */
export function transmit(net: Network, rand: SimRand, now: number, m: Message): number {
  if (!linkUp(net, m.from, m.to)) return 0;
  if (net.dropP > 0 && rand.next() < net.dropP) return 0;
  const copies = net.dupP > 0 && rand.next() < net.dupP ? 2 : 1;
  for (let c = 0; c < copies; c++) {
    const late = net.lateP > 0 && rand.next() < net.lateP;
    net.queue.push({ m, at: now + (late ? 1 + rand.int(net.lateTicksMax) : rand.int(net.maxDelayTicks + 1)) });
  }
  return copies;
}

/** Removes and returns a random message that is due at `now`, or undefined. */
export function takeDue(net: Network, rand: SimRand, now: number): Message | undefined {
  let due = 0;
  for (const f of net.queue) if (f.at <= now) due++;
  if (due === 0) return undefined;
  let k = rand.int(due);
  for (let i = 0; i < net.queue.length; i++) {
    if (net.queue[i].at > now) continue;
    if (k-- === 0) {
      const { m } = net.queue[i];
      net.queue.splice(i, 1);
      return m;
    }
  }
  return undefined;
}

function shuffled(ids: readonly number[], rand: SimRand): number[] {
  const a = [...ids];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rand.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function blockBetween(net: Network, a: readonly number[], b: readonly number[]): void {
  for (const x of a) {
    for (const y of b) {
      net.blocked.add(`${x}>${y}`);
      net.blocked.add(`${y}>${x}`);
    }
  }
}

/** Replaces the partition with a random one of the given kind over `ids`. */
export function partition(net: Network, rand: SimRand, ids: readonly number[]): void {
  net.blocked.clear();
  const s = shuffled(ids, rand);
  const kind = rand.int(4);
  if (kind === 0) {
    // Symmetric: two sides that cannot talk at all.
    const cut = 1 + rand.int(s.length - 1);
    blockBetween(net, s.slice(0, cut), s.slice(cut));
    net.partition = `symmetric ${s.slice(0, cut).join(',')} | ${s.slice(cut).join(',')}`;
  } else if (kind === 1) {
    // Isolate one replica.
    blockBetween(net, s.slice(0, 1), s.slice(1));
    net.partition = `isolate ${s[0]}`;
  } else if (kind === 2) {
    // One-way: some directed links lose everything, their reverse still works.
    const n = 1 + rand.int(3);
    const links: string[] = [];
    for (let i = 0; i < n; i++) {
      const a = s[rand.int(s.length)];
      const b = s[rand.int(s.length)];
      if (a === b) continue;
      net.blocked.add(`${a}>${b}`);
      links.push(`${a}>${b}`);
    }
    net.partition = `one-way ${links.join(' ')}`;
  } else {
    // Bridge: two sides that cannot talk, and one replica that talks to both.
    const bridge = s[0];
    const rest = s.slice(1);
    const cut = rest.length > 1 ? 1 + rand.int(rest.length - 1) : rest.length;
    blockBetween(net, rest.slice(0, cut), rest.slice(cut));
    net.partition = `bridge ${bridge} between ${rest.slice(0, cut).join(',')} | ${rest.slice(cut).join(',')}`;
  }
}

export function heal(net: Network): void {
  net.blocked.clear();
  net.partition = 'none';
}
