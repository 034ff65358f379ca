/**
 * The binary frame layout: a hand-written, fixed-order encoding of the whole frame, several times
 * cheaper to write and to read than MessagePack tuples plus a structural pre-scan plus a validator,
 * because every field sits at a known place in a known type and is checked as it is read.
 *
 * Layout (every integer is an unsigned LEB128 varint of at most 8 bytes and at most 2^53 - 1, so a
 * negative, fractional or unsafe number cannot be written at all; `u8` is one byte; `bytes` is a
 * varint length then that many bytes; `list` is a varint count then that many varint ids):
 * - frame: `0xc1` (a byte MessagePack never uses, so the two formats cannot be confused), version,
 *   cluster id length in UTF-16 code units, the code units (u16 little-endian each), from, to,
 *   item count, items
 * - item: kind u8, then by kind
 *   - 0 Raft: regionId, region u8 (0 none, 1 present, 2 present with tombstone),
 *     [startKey bytes, endKey bytes, confVer, version] when present, message
 *   - 1 request / 2 response: requestId, payload bytes
 *   - 3 chunk: streamId, seq, total, payload bytes
 * - message: type code u8, from, to, term, logTerm, index, commit, reject u8, rejectHint, entry
 *   count, entries, context bytes, snapshot u8 (0 none, 1 present), [snapshot]
 * - entry: term, index, type u8 (0 normal, 1 confChange), data bytes
 * - snapshot: index, term, voters list, learners list, votersOutgoing list, learnersNext list,
 *   autoLeave u8, data bytes
 *
 * Reading never allocates from a declared length before checking it against the bytes left. What
 * the layout cannot express (an unknown item kind, a presence byte other than the values above, a
 * length or count past the end, an over-long varint, trailing bytes, more elements than `valuesMax`
 * MessagePack values would allow) is `FrameMalformed`; a value
 * the layout expresses but the schema forbids (an id of 0, a boolean byte of 2, a type code out of
 * range, a count over a limit, a bad MsgApp chain) is `FrameInvalid`, exactly as the zod schema
 * judges the same frame read by {@link readBinaryWire}. Malformed wins over invalid wherever each
 * occurs in the frame, as it does for MessagePack frames (the pre-scan runs before validation).
 */
import type { Entry, Message, NodeId, Snapshot } from '../raft/types.ts';
import { FrameError } from './errors.ts';
import type { FrameLimits } from './limits.ts';
import { type Frame, type FrameItem, ITEM_CHUNK, ITEM_RAFT, ITEM_REQUEST, ITEM_RESPONSE, messageProblem, type RaftRegionMeta, WIRE_MESSAGE_CODE, WIRE_MESSAGE_TYPES } from './schema.ts';

/** First byte of a binary frame: 0xc1 is never used by MessagePack. */
export const BINARY_FRAME_MARK = 0xc1;

const EMPTY = new Uint8Array(0);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TYPE_COUNT = WIRE_MESSAGE_TYPES.length;

// ---------------------------------------------------------------------------------------------
// Encoding: a sizing pass (which also refuses numbers the layout cannot carry), one exact-size
// allocation, a writing pass.

function unencodable(v: number): never {
  throw new FrameError('FrameInvalid', `cannot encode ${v}: every number on the wire is a non-negative safe integer`);
}

function uvSize(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
  if (!Number.isSafeInteger(v) || v < 0) unencodable(v);
  let s = 1;
  for (let x = v; x >= 0x80; x = Math.floor(x / 128)) s++;
  return s;
}

function bytesSize(b: Uint8Array): number {
  return uvSize(b.length) + b.length;
}

function listSize(ids: readonly number[]): number {
  let s = uvSize(ids.length);
  for (let i = 0; i < ids.length; i++) s += uvSize(ids[i]);
  return s;
}

// The type code of each message, looked up by the sizing pass and written by the writing pass.
const codes: number[] = [];

function messageSize(m: Message): number {
  const code = WIRE_MESSAGE_CODE.get(m.type);
  if (code === undefined) throw new FrameError('FrameInvalid', `${m.type} is local to a node and cannot be sent`);
  codes.push(code);
  let s = 3 + uvSize(m.from) + uvSize(m.to) + uvSize(m.term) + uvSize(m.logTerm) + uvSize(m.index) + uvSize(m.commit) + uvSize(m.rejectHint) + uvSize(m.entries.length) + bytesSize(m.context);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    s += 1 + uvSize(e.term) + uvSize(e.index) + bytesSize(e.data);
  }
  const snap = m.snapshot;
  if (snap !== null) {
    const c = snap.metadata.confState;
    s += 1 + uvSize(snap.metadata.index) + uvSize(snap.metadata.term) + listSize(c.voters) + listSize(c.learners) + listSize(c.votersOutgoing) + listSize(c.learnersNext) + bytesSize(snap.data);
  }
  return s;
}

function itemSize(item: FrameItem): number {
  if (item.kind === 'raft') {
    const r = item.region;
    return 2 + uvSize(item.regionId) + (r ? bytesSize(r.startKey) + bytesSize(r.endKey) + uvSize(r.confVer) + uvSize(r.version) : 0) + messageSize(item.message);
  }
  if (item.kind === 'chunk') return 1 + uvSize(item.streamId) + uvSize(item.seq) + uvSize(item.total) + bytesSize(item.payload);
  return 1 + uvSize(item.requestId) + bytesSize(item.payload);
}

let out: Uint8Array = EMPTY;
let at = 0;
let nextCode = 0;

function putUv(v: number): void {
  while (v > 0x7fffffff) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
}

function putBytes(b: Uint8Array): void {
  putUv(b.length);
  if (b.length > 0) {
    out.set(b, at);
    at += b.length;
  }
}

function putList(ids: readonly number[]): void {
  putUv(ids.length);
  for (let i = 0; i < ids.length; i++) putUv(ids[i]);
}

function putMessage(m: Message): void {
  out[at++] = codes[nextCode++];
  putUv(m.from);
  putUv(m.to);
  putUv(m.term);
  putUv(m.logTerm);
  putUv(m.index);
  putUv(m.commit);
  out[at++] = m.reject ? 1 : 0;
  putUv(m.rejectHint);
  putUv(m.entries.length);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    putUv(e.term);
    putUv(e.index);
    out[at++] = e.type === 'confChange' ? 1 : 0;
    putBytes(e.data);
  }
  putBytes(m.context);
  const snap = m.snapshot;
  if (snap === null) {
    out[at++] = 0;
    return;
  }
  out[at++] = 1;
  const c = snap.metadata.confState;
  putUv(snap.metadata.index);
  putUv(snap.metadata.term);
  putList(c.voters);
  putList(c.learners);
  putList(c.votersOutgoing);
  putList(c.learnersNext);
  out[at++] = c.autoLeave ? 1 : 0;
  putBytes(snap.data);
}

function putItem(item: FrameItem): void {
  if (item.kind === 'raft') {
    out[at++] = ITEM_RAFT;
    putUv(item.regionId);
    const r = item.region;
    if (r === undefined) out[at++] = 0;
    else {
      out[at++] = r.tombstone ? 2 : 1;
      putBytes(r.startKey);
      putBytes(r.endKey);
      putUv(r.confVer);
      putUv(r.version);
    }
    putMessage(item.message);
  } else if (item.kind === 'chunk') {
    out[at++] = ITEM_CHUNK;
    putUv(item.streamId);
    putUv(item.seq);
    putUv(item.total);
    putBytes(item.payload);
  } else {
    out[at++] = item.kind === 'request' ? ITEM_REQUEST : ITEM_RESPONSE;
    putUv(item.requestId);
    putBytes(item.payload);
  }
}

/** The header fields of a frame to encode. */
export interface BinaryHeader {
  version: number;
  clusterId: string;
  from: number;
  to: number;
}

/**
 * Encodes a frame in the binary layout into a new exact-size Uint8Array (safe to transfer). Throws
 * {@link FrameError} `FrameTooLarge` over `frameBytesMax` (before allocating) and `FrameInvalid`
 * for a local message type or a number the layout cannot carry.
 * @param header - version, cluster, from, to.
 * @param items - the batch.
 * @param frameBytesMax - the size limit.
 */
export function encodeBinaryFrame(header: BinaryHeader, items: readonly FrameItem[], frameBytesMax: number): Uint8Array {
  const cluster = header.clusterId;
  codes.length = 0;
  let size = 1 + uvSize(header.version) + uvSize(cluster.length) + 2 * cluster.length + uvSize(header.from) + uvSize(header.to) + uvSize(items.length);
  for (let i = 0; i < items.length; i++) size += itemSize(items[i]);
  if (size > frameBytesMax) {
    throw new FrameError('FrameTooLarge', `frame of ${size} bytes is over the limit of ${frameBytesMax}; send large payloads in chunks`);
  }
  const bytes = new Uint8Array(size);
  out = bytes;
  at = 0;
  nextCode = 0;
  try {
    out[at++] = BINARY_FRAME_MARK;
    putUv(header.version);
    putUv(cluster.length);
    for (let i = 0; i < cluster.length; i++) {
      const u = cluster.charCodeAt(i);
      out[at++] = u & 0xff;
      out[at++] = u >>> 8;
    }
    putUv(header.from);
    putUv(header.to);
    putUv(items.length);
    for (let i = 0; i < items.length; i++) putItem(items[i]);
    if (at !== size) throw new Error(`binary frame encoder wrote ${at} bytes of ${size}`);
  } finally {
    out = EMPTY;
    codes.length = 0;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Reading: shared by the fast decoder and the reference reader, so that the two agree on what is
// structure (malformed) by construction. Decoding is synchronous, so module state is safe.

let b: Uint8Array = EMPTY;
let p = 0;
let n = 0;
let values = 0;
let valuesMax = 0;

function malformed(what: string): never {
  throw new FrameError('FrameMalformed', `not a well-formed binary frame at byte ${p}: ${what}`);
}

function u8(): number {
  if (p >= n) malformed('truncated');
  return b[p++];
}

function uv(): number {
  if (p >= n) malformed('truncated');
  const x = b[p++];
  return x < 0x80 ? x : uvRest(x);
}

function uvRest(first: number): number {
  let value = first & 0x7f;
  let scale = 128;
  for (let i = 1; i < 8; i++) {
    if (p >= n) malformed('truncated varint');
    const x = b[p++];
    value += (x & 0x7f) * scale;
    if (x < 0x80) {
      if (value > MAX_SAFE) malformed('varint over 2^53 - 1');
      return value;
    }
    scale *= 128;
  }
  return malformed('varint longer than 8 bytes');
}

function bytesField(): Uint8Array {
  const len = uv();
  if (len > n - p) malformed(`byte string of ${len} runs past the end`);
  if (len === 0) return EMPTY;
  const view = b.subarray(p, p + len);
  p += len;
  return view;
}

/**
 * A count of elements each at least `minBytes` long: one the remaining bytes cannot hold is a lie.
 * The elements also count against `valuesMax` as the MessagePack values they would be (`weight`
 * each), so that a frame of many tiny elements cannot make the decoder build more objects than a
 * MessagePack frame may.
 */
function count(minBytes: number, weight: number): number {
  const c = uv();
  if (c * minBytes > n - p) malformed(`count of ${c} runs past the end`);
  values += c * weight;
  if (values > valuesMax) malformed(`more than ${valuesMax} values`);
  return c;
}

function clusterUnits(): number {
  const len = uv();
  if (len * 2 > n - p) malformed(`cluster id of ${len} code units runs past the end`);
  return len;
}

function clusterString(len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(b[p + 2 * i] | (b[p + 2 * i + 1] << 8));
  return s;
}

function begin(bytes: Uint8Array, limits: FrameLimits): void {
  b = bytes;
  n = bytes.length;
  p = 1; // past the mark
  values = 0;
  valuesMax = limits.valuesMax;
}

function end(): void {
  if (p !== n) malformed(`${n - p} trailing bytes`);
  b = EMPTY;
}

// Minimum encoded sizes, for counts: an item is at least a kind, an id and a length; an entry a
// term, an index, a type and a length. And their weight in MessagePack values (the tuple and its
// fields; a node id is one value).
const ITEM_MIN = 3;
const ITEM_VALUES = 4;
const ENTRY_MIN = 4;
const ENTRY_VALUES = 5;

// ---------------------------------------------------------------------------------------------
// The fast decoder: builds the domain objects while reading and checks the schema's rules on the
// way. A rule broken is remembered (the first one) and reading goes on, because a structural fault
// later in the frame takes precedence, as in the reference.

let invalid: string | null = null;

function bad(what: string): void {
  if (invalid === null) invalid = what;
}

function id(what: string): number {
  const v = uv();
  if (v === 0) bad(`${what}: expected a positive safe integer, got 0`);
  return v;
}

function bool(what: string): boolean {
  const v = u8();
  if (v > 1) bad(`${what}: expected a boolean, got ${v}`);
  return v === 1;
}

function nodes(limits: FrameLimits, what: string): NodeId[] {
  const c = count(1, 1);
  if (c > limits.confNodesMax) bad(`${what}: list of ${c} is over the limit of ${limits.confNodesMax}`);
  const a: NodeId[] = new Array(c);
  for (let i = 0; i < c; i++) a[i] = id(what);
  return a;
}

function snapshot(limits: FrameLimits): Snapshot {
  const index = uv();
  const term = uv();
  const voters = nodes(limits, 'voters');
  const learners = nodes(limits, 'learners');
  const votersOutgoing = nodes(limits, 'votersOutgoing');
  const learnersNext = nodes(limits, 'learnersNext');
  const autoLeave = bool('autoLeave');
  return { metadata: { index, term, confState: { voters, learners, votersOutgoing, learnersNext, autoLeave } }, data: bytesField() };
}

// Messages without entries share one empty array, as `makeMessage` gives them: nothing appends to a message's entries.
const NO_ENTRIES: Entry[] = [];

function entries(limits: FrameLimits): Entry[] {
  const c = count(ENTRY_MIN, ENTRY_VALUES);
  if (c === 0) return NO_ENTRIES;
  if (c > limits.entriesMax) bad(`entries: array of ${c} is over the limit of ${limits.entriesMax}`);
  const a: Entry[] = new Array(c);
  for (let i = 0; i < c; i++) {
    const term = uv();
    const index = uv();
    const type = u8();
    if (type > 1) bad(`entry ${i}: expected entry type 0 or 1, got ${type}`);
    a[i] = { term, index, type: type === 1 ? 'confChange' : 'normal', data: bytesField() };
  }
  return a;
}

function message(limits: FrameLimits): Message {
  const code = u8();
  if (code >= TYPE_COUNT) bad(`unknown message type code ${code}`);
  const from = id('message from');
  const to = id('message to');
  const term = uv();
  const logTerm = uv();
  const index = uv();
  const commit = uv();
  const reject = bool('reject');
  const rejectHint = uv();
  const es = entries(limits);
  const context = bytesField();
  const hasSnapshot = u8();
  if (hasSnapshot > 1) malformed(`snapshot presence byte ${hasSnapshot}`);
  const m: Message = {
    type: WIRE_MESSAGE_TYPES[code],
    from,
    to,
    term,
    logTerm,
    index,
    entries: es,
    commit,
    reject,
    rejectHint,
    snapshot: hasSnapshot === 1 ? snapshot(limits) : null,
    context,
  };
  if (invalid === null) {
    const problem = messageProblem(m);
    if (problem !== null) bad(problem);
  }
  return m;
}

function regionPresence(): number {
  const r = u8();
  if (r > 2) malformed(`region presence byte ${r}`);
  return r;
}

function item(limits: FrameLimits): FrameItem {
  const kind = u8();
  if (kind === ITEM_RAFT) {
    const regionId = id('regionId');
    const r = regionPresence();
    if (r === 0) return { kind: 'raft', regionId, message: message(limits) };
    const region: RaftRegionMeta = { startKey: bytesField(), endKey: bytesField(), confVer: id('confVer'), version: id('version') };
    if (r === 2) region.tombstone = true;
    return { kind: 'raft', regionId, message: message(limits), region };
  }
  if (kind === ITEM_REQUEST || kind === ITEM_RESPONSE) {
    return { kind: kind === ITEM_REQUEST ? 'request' : 'response', requestId: uv(), payload: bytesField() };
  }
  if (kind === ITEM_CHUNK) {
    const streamId = uv();
    const seq = uv();
    const total = id('chunk total');
    if (seq >= total) bad('chunk seq must be below total');
    return { kind: 'chunk', streamId, seq, total, payload: bytesField() };
  }
  return malformed(`unknown item kind ${kind}`);
}

/** A binary frame read and checked, before the version and header checks of `frame.ts`. */
export interface BinaryReadResult {
  frame: Frame;
  /** The first schema rule the frame breaks, or null. */
  invalid: string | null;
}

/**
 * Reads a binary frame (`bytes[0]` is {@link BINARY_FRAME_MARK}), checking every rule of the
 * schema on the way. Throws {@link FrameError} `FrameMalformed` for a structural fault; returns the
 * first schema rule broken (if any) beside the frame so that the caller can put the version check
 * before it, as for MessagePack frames. The frame's non-empty byte fields are views into `bytes`.
 * @param bytes - the frame, already size-checked.
 * @param limits - the link's limits.
 * @param expectedCluster - the cluster id the link expects: when the frame's matches, that string is reused.
 */
export function readBinaryFrame(bytes: Uint8Array, limits: FrameLimits, expectedCluster: string): BinaryReadResult {
  begin(bytes, limits);
  invalid = null;
  try {
    const version = uv();
    const len = clusterUnits();
    let clusterId = expectedCluster;
    if (len < 1 || len > limits.clusterIdLengthMax) {
      bad(`expected a cluster id of 1 to ${limits.clusterIdLengthMax} characters`);
      clusterId = '';
    } else if (len !== expectedCluster.length || !sameUnits(expectedCluster)) clusterId = clusterString(len);
    p += 2 * len;
    const from = id('from');
    const to = id('to');
    const c = count(ITEM_MIN, ITEM_VALUES);
    if (c > limits.batchItemsMax) bad(`batch of ${c} is over the limit of ${limits.batchItemsMax}`);
    const items: FrameItem[] = new Array(c);
    for (let i = 0; i < c; i++) items[i] = item(limits);
    end();
    return { frame: { version, clusterId, from, to, items }, invalid };
  } finally {
    b = EMPTY;
    invalid = null;
  }
}

function sameUnits(s: string): boolean {
  for (let i = 0; i < s.length; i++) if ((b[p + 2 * i] | (b[p + 2 * i + 1] << 8)) !== s.charCodeAt(i)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// The reference reader: the same structure, no rules; gives the MessagePack frame's wire value
// (`{ v, c, f, t, b }` of tuples, see `schema.ts`) for the zod schema to judge.

function flag(): boolean | number {
  const v = u8();
  return v === 0 ? false : v === 1 ? true : v;
}

function wireList(): number[] {
  const c = count(1, 1);
  const a: number[] = [];
  for (let i = 0; i < c; i++) a.push(uv());
  return a;
}

function wireMessage(): unknown[] {
  const head = [u8(), uv(), uv(), uv(), uv(), uv()];
  const commit = uv();
  const reject = flag();
  const rejectHint = uv();
  const c = count(ENTRY_MIN, ENTRY_VALUES);
  const es: unknown[] = [];
  for (let i = 0; i < c; i++) es.push([uv(), uv(), u8(), bytesField()]);
  const context = bytesField();
  const hasSnapshot = u8();
  if (hasSnapshot > 1) malformed(`snapshot presence byte ${hasSnapshot}`);
  const snap = hasSnapshot === 1 ? [uv(), uv(), wireList(), wireList(), wireList(), wireList(), flag(), bytesField()] : null;
  return [...head, es, commit, reject, rejectHint, snap, context];
}

function wireItem(): unknown[] {
  const kind = u8();
  if (kind === ITEM_RAFT) {
    const regionId = uv();
    const r = regionPresence();
    if (r === 0) return [ITEM_RAFT, regionId, wireMessage()];
    const meta: unknown[] = [bytesField(), bytesField(), uv(), uv()];
    if (r === 2) meta.push(true);
    return [ITEM_RAFT, regionId, wireMessage(), meta];
  }
  if (kind === ITEM_REQUEST || kind === ITEM_RESPONSE) return [kind, uv(), bytesField()];
  if (kind === ITEM_CHUNK) return [ITEM_CHUNK, uv(), uv(), uv(), bytesField()];
  return malformed(`unknown item kind ${kind}`);
}

/**
 * The reference reading of a binary frame: structure only (the same faults as
 * {@link readBinaryFrame} are `FrameMalformed`), giving the wire value a MessagePack frame would
 * decode to, for the zod schema to judge. Slow; for tests and audits.
 * @param bytes - the frame, already size-checked, starting with {@link BINARY_FRAME_MARK}.
 * @param limits - the link's limits (`valuesMax` is structural, as in the MessagePack pre-scan).
 */
export function readBinaryWire(bytes: Uint8Array, limits: FrameLimits): { v: number; c: string; f: number; t: number; b: unknown[] } {
  begin(bytes, limits);
  try {
    const v = uv();
    const len = clusterUnits();
    const c = clusterString(len);
    p += 2 * len;
    const f = uv();
    const t = uv();
    const count_ = count(ITEM_MIN, ITEM_VALUES);
    const items: unknown[] = [];
    for (let i = 0; i < count_; i++) items.push(wireItem());
    end();
    return { v, c, f, t, b: items };
  } finally {
    b = EMPTY;
  }
}
