/**
 * The hot-path validator of decoded frames: the same rules as the zod schema (`schema.ts`, the
 * reference), hand-written because zod spends five times as long as decoding itself on a frame of
 * small Raft messages. The codec tests feed both the same hundred thousand hostile and valid
 * frames and require the same verdict every time.
 */
import { FrameError } from './errors.ts';
import type { FrameLimits } from './limits.ts';
import { ownBytes } from './msgpack.ts';
import { type Frame, type FrameItem, type RaftRegionMeta, ITEM_CHUNK, ITEM_RAFT, ITEM_REQUEST, ITEM_RESPONSE, messageProblem, WIRE_MESSAGE_TYPES } from './schema.ts';
import type { Entry, Message, NodeId, Snapshot } from '../raft/types.ts';

type Path = readonly (string | number)[];

// Scalar checks take the parent's path and their key, so that no path array is built unless a
// check fails: the happy path allocates nothing but the result.
function fail(path: Path, what: string, key?: string | number): never {
  const full = key === undefined ? path : [...path, key];
  throw new FrameError('FrameInvalid', `invalid frame at ${full.join('.') || '(root)'}: ${what}`);
}

function index(v: unknown, path: Path, key: string | number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(path, `expected a non-negative safe integer, got ${describe(v)}`, key);
  return v;
}

function id(v: unknown, path: Path, key: string | number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(path, `expected a positive safe integer, got ${describe(v)}`, key);
  return v;
}

function bytes(v: unknown, path: Path, key: string | number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(path, `expected bytes, got ${describe(v)}`, key);
  return ownBytes(v);
}

function bool(v: unknown, path: Path, key: string | number): boolean {
  if (typeof v !== 'boolean') fail(path, `expected a boolean, got ${describe(v)}`, key);
  return v;
}

function tuple(v: unknown, length: number, path: Path): unknown[] {
  if (!Array.isArray(v) || v.length !== length) fail(path, `expected a tuple of ${length}, got ${describe(v)}`);
  return v;
}

function list(v: unknown, max: number, path: Path): unknown[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${describe(v)}`);
  if (v.length > max) fail(path, `array of ${v.length} is over the limit of ${max}`);
  return v;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : typeof v;
}

function nodes(v: unknown, limits: FrameLimits, path: Path): NodeId[] {
  const a = list(v, limits.confNodesMax, path);
  for (let i = 0; i < a.length; i++) id(a[i], path, i);
  return a as NodeId[];
}

function snapshot(v: unknown, limits: FrameLimits, path: Path): Snapshot | null {
  if (v === null) return null;
  const s = tuple(v, 8, path);
  return {
    metadata: {
      index: index(s[0], path, 0),
      term: index(s[1], path, 1),
      confState: {
        voters: nodes(s[2], limits, [...path, 2]),
        learners: nodes(s[3], limits, [...path, 3]),
        votersOutgoing: nodes(s[4], limits, [...path, 4]),
        learnersNext: nodes(s[5], limits, [...path, 5]),
        autoLeave: bool(s[6], path, 6),
      },
    },
    data: bytes(s[7], path, 7),
  };
}

function entries(v: unknown, limits: FrameLimits, path: Path): Entry[] {
  const a = list(v, limits.entriesMax, path);
  const out: Entry[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const at = [...path, i];
    const e = tuple(a[i], 4, at);
    const type = e[2];
    if (type !== 0 && type !== 1) fail(at, `expected entry type 0 or 1, got ${describe(type)}`, 2);
    out[i] = { term: index(e[0], at, 0), index: index(e[1], at, 1), type: type === 1 ? 'confChange' : 'normal', data: bytes(e[3], at, 3) };
  }
  return out;
}

function message(v: unknown, limits: FrameLimits, path: Path): Message {
  const t = tuple(v, 12, path);
  const code = index(t[0], path, 0);
  if (code >= WIRE_MESSAGE_TYPES.length) fail([...path, 0], `unknown message type code ${code}`);
  const m: Message = {
    type: WIRE_MESSAGE_TYPES[code],
    from: id(t[1], path, 1),
    to: id(t[2], path, 2),
    term: index(t[3], path, 3),
    logTerm: index(t[4], path, 4),
    index: index(t[5], path, 5),
    entries: Array.isArray(t[6]) && t[6].length === 0 ? [] : entries(t[6], limits, [...path, 6]),
    commit: index(t[7], path, 7),
    reject: bool(t[8], path, 8),
    rejectHint: index(t[9], path, 9),
    snapshot: t[10] === null ? null : snapshot(t[10], limits, [...path, 10]),
    context: bytes(t[11], path, 11),
  };
  const problem = messageProblem(m);
  if (problem !== null) fail(path, problem);
  return m;
}

function chunk(t: unknown[], path: Path): FrameItem {
  const seq = index(t[2], path, 2);
  const total = id(t[3], path, 3);
  if (seq >= total) fail(path, 'chunk seq must be below total');
  return { kind: 'chunk', streamId: index(t[1], path, 1), seq, total, payload: bytes(t[4], path, 4) };
}

function item(v: unknown, limits: FrameLimits, path: Path): FrameItem {
  if (Array.isArray(v) && v[0] === ITEM_CHUNK) return chunk(tuple(v, 5, path), path);
  if (Array.isArray(v) && v[0] === ITEM_RAFT && v.length === 4) {
    const at = [...path, 3];
    const m = Array.isArray(v[3]) && v[3].length === 5 ? tuple(v[3], 5, at) : tuple(v[3], 4, at);
    if (m.length === 5 && m[4] !== true) fail(at, 'the fifth element of a region must be true (tombstone) when present', 4);
    const region: RaftRegionMeta = { startKey: bytes(m[0], at, 0), endKey: bytes(m[1], at, 1), confVer: id(m[2], at, 2), version: id(m[3], at, 3) };
    if (m.length === 5) region.tombstone = true;
    return { kind: 'raft', regionId: id(v[1], path, 1), message: message(v[2], limits, [...path, 2]), region };
  }
  const t = tuple(v, 3, path);
  if (t[0] === ITEM_RAFT) return { kind: 'raft', regionId: id(t[1], path, 1), message: message(t[2], limits, [...path, 2]) };
  if (t[0] === ITEM_REQUEST || t[0] === ITEM_RESPONSE) {
    return { kind: t[0] === ITEM_REQUEST ? 'request' : 'response', requestId: index(t[1], path, 1), payload: bytes(t[2], path, 2) };
  }
  return fail([...path, 0], `unknown item kind ${describe(t[0])}`);
}

/**
 * Checks a decoded wire value against the frame rules and builds the {@link Frame}; throws
 * {@link FrameError} `FrameInvalid` naming the first offending path otherwise.
 * @param value - what msgpackr decoded.
 * @param limits - the link's limits.
 */
export function validateFrame(value: unknown, limits: FrameLimits): Frame {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) fail([], `expected a map, got ${describe(value)}`);
  const w = value as Record<string, unknown>;
  const version = id(w.v, [], 'v');
  if (typeof w.c !== 'string' || w.c.length < 1 || w.c.length > limits.clusterIdLengthMax) fail(['c'], `expected a cluster id of 1 to ${limits.clusterIdLengthMax} characters`);
  const from = id(w.f, [], 'f');
  const to = id(w.t, [], 't');
  const batch = list(w.b, limits.batchItemsMax, ['b']);
  const items: FrameItem[] = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) items[i] = item(batch[i], limits, ['b', i]);
  return { version, clusterId: w.c, from, to, items };
}
