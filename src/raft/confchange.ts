/**
 * Membership changes as pure functions from one configuration to the next.
 *
 * A single change that alters at most one voter may be applied directly: any majority of the
 * old voters and any majority of the new overlap. Anything larger goes through a joint
 * configuration C(old,new), in which every decision needs a majority of both, and is then left
 * for C(new) (Raft thesis §4.3). All functions validate first and never return a half-applied config.
 */
import { InvalidConfChangeError } from './errors.ts';
import type { TrackerConfig } from './tracker.ts';
import { configFromConfState, confStateFromConfig } from './tracker.ts';
import type { ConfChange, ConfChangeSingle, ConfChangeTransition, ConfState, NodeId } from './types.ts';

const without = (ids: NodeId[], id: NodeId) => ids.filter((x) => x !== id);
const withId = (ids: NodeId[], id: NodeId) => (ids.includes(id) ? ids : [...ids, id].sort((a, b) => a - b));

function cloneConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: [...c.voters],
    votersOutgoing: [...c.votersOutgoing],
    learners: [...c.learners],
    learnersNext: [...c.learnersNext],
    autoLeave: c.autoLeave,
  };
}

function applySingle(c: TrackerConfig, cc: ConfChangeSingle): void {
  const id = cc.nodeId;
  if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidConfChangeError(`node id must be a positive integer, got ${id}`);
  switch (cc.type) {
    case 'addNode':
      c.learners = without(c.learners, id);
      c.learnersNext = without(c.learnersNext, id);
      c.voters = withId(c.voters, id);
      return;
    case 'addLearner':
      c.voters = without(c.voters, id);
      c.learners = without(c.learners, id);
      c.learnersNext = without(c.learnersNext, id);
      // A node still voting in the outgoing half becomes a learner only when the joint config is left.
      if (c.votersOutgoing.includes(id)) c.learnersNext = withId(c.learnersNext, id);
      else c.learners = withId(c.learners, id);
      return;
    case 'removeNode':
      c.voters = without(c.voters, id);
      c.learners = without(c.learners, id);
      c.learnersNext = without(c.learnersNext, id);
      return;
    default:
      throw new InvalidConfChangeError(`unknown change type ${String((cc as ConfChangeSingle).type)}`);
  }
}

function checkInvariants(c: TrackerConfig): void {
  if (c.voters.length === 0) throw new InvalidConfChangeError('the change would remove every voter');
  for (const id of c.learners) {
    if (c.voters.includes(id) || c.votersOutgoing.includes(id)) {
      throw new InvalidConfChangeError(`node ${id} would be both a voter and a learner`);
    }
  }
  for (const id of c.learnersNext) {
    if (!c.votersOutgoing.includes(id)) throw new InvalidConfChangeError(`learner-to-be ${id} is not an outgoing voter`);
  }
}

function symmetricVoterDiff(a: NodeId[], b: NodeId[]): number {
  let n = 0;
  for (const id of a) if (!b.includes(id)) n++;
  for (const id of b) if (!a.includes(id)) n++;
  return n;
}

/** Applies a change that alters at most one voter, outside a joint configuration. */
export function applySimple(cur: TrackerConfig, changes: ConfChangeSingle[]): TrackerConfig {
  if (cur.votersOutgoing.length > 0) throw new InvalidConfChangeError('cannot apply a simple change while in a joint configuration');
  const next = cloneConfig(cur);
  for (const cc of changes) applySingle(next, cc);
  if (symmetricVoterDiff(cur.voters, next.voters) > 1) {
    throw new InvalidConfChangeError('more than one voter changed; use a joint configuration');
  }
  checkInvariants(next);
  return next;
}

/** Enters the joint configuration C(old, new). */
export function enterJoint(cur: TrackerConfig, autoLeave: boolean, changes: ConfChangeSingle[]): TrackerConfig {
  if (cur.votersOutgoing.length > 0) throw new InvalidConfChangeError('already in a joint configuration');
  const next = cloneConfig(cur);
  next.votersOutgoing = [...cur.voters];
  for (const cc of changes) applySingle(next, cc);
  next.autoLeave = autoLeave;
  checkInvariants(next);
  return next;
}

/** Leaves a joint configuration for C(new). */
export function leaveJoint(cur: TrackerConfig): TrackerConfig {
  if (cur.votersOutgoing.length === 0) throw new InvalidConfChangeError('not in a joint configuration');
  const next = cloneConfig(cur);
  for (const id of next.learnersNext) next.learners = withId(next.learners, id);
  next.learnersNext = [];
  next.votersOutgoing = [];
  next.autoLeave = false;
  checkInvariants(next);
  return next;
}

/** Whether `cc` asks to leave the joint configuration. */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

/** The configuration that results from `cc`; throws {@link InvalidConfChangeError} and changes nothing if it is invalid. */
export function applyConfChange(cur: TrackerConfig, cc: ConfChange): TrackerConfig {
  if (cur.voters.length === 0 && cur.votersOutgoing.length === 0) {
    // No group has zero voters: an empty configuration means "not known yet" (a replica that
    // joined with empty storage). A change is a delta, and a delta against an unknown base would
    // make up a membership (v4 on nothing gives voters=(4), a group of one that elects itself).
    throw new InvalidConfChangeError('the current configuration is unknown (no voters); it comes with a snapshot');
  }
  if (isLeaveJoint(cc)) return leaveJoint(cur);
  if (cc.transition === 'auto') {
    const trial = cloneConfig(cur);
    for (const c of cc.changes) applySingle(trial, c);
    if (cur.votersOutgoing.length === 0 && symmetricVoterDiff(cur.voters, trial.voters) <= 1) {
      return applySimple(cur, cc.changes);
    }
  }
  return enterJoint(cur, cc.transition !== 'jointExplicit', cc.changes);
}

// --- encoding ----------------------------------------------------------------------------------
// A ConfChange travels inside a log entry. The core needs no codec library for it: a version
// byte, the transition, a count, (type, id) pairs as varints, then the context bytes.

const TRANSITIONS: ConfChangeTransition[] = ['auto', 'joint', 'jointExplicit'];
const TYPES: ConfChangeSingle['type'][] = ['addNode', 'addLearner', 'removeNode'];
const FORMAT_VERSION = 1;

function pushVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/** Encodes a change for a log entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out: number[] = [FORMAT_VERSION, TRANSITIONS.indexOf(cc.transition)];
  pushVarint(out, cc.changes.length);
  for (const c of cc.changes) {
    out.push(TYPES.indexOf(c.type));
    pushVarint(out, c.nodeId);
  }
  const ctx = cc.context ?? new Uint8Array(0);
  pushVarint(out, ctx.length);
  const bytes = new Uint8Array(out.length + ctx.length);
  bytes.set(out, 0);
  bytes.set(ctx, out.length);
  return bytes;
}

/** Decodes what {@link encodeConfChange} produced; throws {@link InvalidConfChangeError} on malformed bytes. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  let pos = 0;
  const byte = () => {
    if (pos >= bytes.length) throw new InvalidConfChangeError('truncated encoding');
    return bytes[pos++];
  };
  const varint = () => {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = byte();
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 0x80;
    }
    throw new InvalidConfChangeError('varint too long');
  };
  if (byte() !== FORMAT_VERSION) throw new InvalidConfChangeError('unknown encoding version');
  const transition = TRANSITIONS[byte()];
  if (!transition) throw new InvalidConfChangeError('unknown transition');
  const count = varint();
  if (count > bytes.length) throw new InvalidConfChangeError('change count exceeds encoding size');
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[byte()];
    if (!type) throw new InvalidConfChangeError('unknown change type');
    changes.push({ type, nodeId: varint() });
  }
  const ctxLen = varint();
  if (pos + ctxLen !== bytes.length) throw new InvalidConfChangeError('context length does not match encoding size');
  const context = bytes.slice(pos, pos + ctxLen);
  return ctxLen > 0 ? { transition, changes, context } : { transition, changes };
}

/** A readable form such as `v2 l3 r1` (v=addNode, l=addLearner, r=removeNode), used in transcripts. */
export function describeConfChange(cc: ConfChange): string {
  if (cc.changes.length === 0) return 'leave-joint';
  const letter = { addNode: 'v', addLearner: 'l', removeNode: 'r' } as const;
  const body = cc.changes.map((c) => `${letter[c.type]}${c.nodeId}`).join(' ');
  return cc.transition === 'auto' ? body : `${body} (${cc.transition})`;
}

/**
 * The membership after a committed configuration entry: what an application tracks as it applies
 * entries, so that a snapshot taken at an applied index carries the membership of that index.
 * Invalid changes are no-ops, exactly as in the core.
 */
export function nextConfState(cs: ConfState, data: Uint8Array): ConfState {
  try {
    return confStateFromConfig(applyConfChange(configFromConfState(cs), decodeConfChange(data)));
  } catch {
    return cs;
  }
}
