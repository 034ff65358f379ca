/**
 * Encoding and decoding of frames: the unit a transport carries between two stores.
 *
 * Frames are written in the binary layout of `binary.ts` (first byte 0xc1); MessagePack frames
 * (`encodeFrameMsgpack`, a plain map of tuples that any MessagePack library can write) are still
 * read, told apart by their first byte.
 *
 * Decoding is the trust boundary. In order: the size is checked before a byte is parsed; a binary
 * frame is read field by field with bounds checks and the schema's rules (`binary.ts`); a
 * MessagePack frame's structure is pre-scanned (declared lengths, nesting, value count, no extensions),
 * msgpackr decodes, the validator (the zod schema's rules, hand-compiled) builds the domain objects, and the header is checked
 * against what the link expects (version, cluster, authenticated sender, recipient). Any failure
 * is a {@link FrameError}; decoding throws nothing else, whatever the bytes.
 */
import type { Entry, Message, Snapshot } from '../raft/types.ts';
import { BINARY_FRAME_MARK, encodeBinaryFrame, readBinaryFrame, readBinaryWire } from './binary.ts';
import { FrameError } from './errors.ts';
import { DEFAULT_FRAME_LIMITS, type FrameLimits } from './limits.ts';
import { scanMsgpack } from './msgpack-scan.ts';
import { packValue, unpackValue } from './msgpack.ts';
import { createFrameSchema, type Frame, type FrameItem, ITEM_CHUNK, ITEM_RAFT, ITEM_REQUEST, ITEM_RESPONSE, WIRE_MESSAGE_CODE } from './schema.ts';
import { validateFrame } from './validate.ts';

/** The protocol version this build speaks. A frame or handshake with another version is refused. */
export const PROTOCOL_VERSION = 5;

/** A frame to encode: the version is always {@link PROTOCOL_VERSION}. */
export type OutboundFrame = Omit<Frame, 'version' | 'items'> & { items: readonly FrameItem[] };

/** What the receiving link expects of a frame's header. */
export interface FrameExpectation {
  /** The cluster this store belongs to. */
  clusterId: string;
  /** The authenticated peer on this link; the frame's `from` must equal it. */
  from?: number;
  /** This store's id; the frame's `to` must equal it. */
  to?: number;
}

const schemas = new WeakMap<FrameLimits, ReturnType<typeof createFrameSchema>>();

function schemaFor(limits: FrameLimits) {
  let schema = schemas.get(limits);
  if (schema === undefined) {
    schema = createFrameSchema(limits);
    schemas.set(limits, schema);
  }
  return schema;
}

function entryTuple(e: Entry): unknown[] {
  return [e.term, e.index, e.type === 'confChange' ? 1 : 0, e.data];
}

function snapshotTuple(s: Snapshot | null): unknown[] | null {
  if (s === null) return null;
  const { index, term, confState: c } = s.metadata;
  return [index, term, c.voters, c.learners, c.votersOutgoing, c.learnersNext, c.autoLeave, s.data];
}

function messageTuple(m: Message): unknown[] {
  const code = WIRE_MESSAGE_CODE.get(m.type);
  if (code === undefined) throw new FrameError('FrameInvalid', `${m.type} is local to a node and cannot be sent`);
  return [code, m.from, m.to, m.term, m.logTerm, m.index, m.entries.map(entryTuple), m.commit, m.reject, m.rejectHint, snapshotTuple(m.snapshot), m.context];
}

function itemTuple(item: FrameItem): unknown[] {
  if (item.kind === 'raft') {
    const r = item.region;
    const tuple = [ITEM_RAFT, item.regionId, messageTuple(item.message)];
    if (r) tuple.push(r.tombstone ? [r.startKey, r.endKey, r.confVer, r.version, true] : [r.startKey, r.endKey, r.confVer, r.version]);
    return tuple;
  }
  if (item.kind === 'chunk') return [ITEM_CHUNK, item.streamId, item.seq, item.total, item.payload];
  return [item.kind === 'request' ? ITEM_REQUEST : ITEM_RESPONSE, item.requestId, item.payload];
}

/**
 * Encodes a frame in the binary layout (`binary.ts`). Throws {@link FrameError} `FrameTooLarge`
 * when the result would be over `limits.frameBytesMax` (checked before allocating; send large
 * payloads in chunks) and `FrameInvalid` for a local message type or a number that is not a
 * non-negative safe integer. The result is a plain Uint8Array that owns its exact-size `buffer`
 * (safe to transfer).
 * @param frame - header and batch; the version is added.
 * @param limits - the limits of the link (default {@link DEFAULT_FRAME_LIMITS}).
 */
export function encodeFrame(frame: OutboundFrame, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Uint8Array {
  return encodeBinaryFrame({ version: PROTOCOL_VERSION, clusterId: frame.clusterId, from: frame.from, to: frame.to }, frame.items, limits.frameBytesMax);
}

/**
 * Encodes a frame as MessagePack (the map of tuples described in `schema.ts`), which
 * {@link decodeFrame} reads as well as the binary layout. Throws {@link FrameError} `FrameTooLarge` when the result is over
 * `limits.frameBytesMax` (send large payloads in chunks) and `FrameInvalid` for a local message type.
 * The result is a plain Uint8Array that owns its exact-size `buffer` (safe to transfer).
 * @param frame - header and batch; the version is added.
 * @param limits - the limits of the link (default {@link DEFAULT_FRAME_LIMITS}).
 */
export function encodeFrameMsgpack(frame: OutboundFrame, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Uint8Array {
  const wire = { v: PROTOCOL_VERSION, c: frame.clusterId, f: frame.from, t: frame.to, b: frame.items.map(itemTuple) };
  const packed = packValue(wire);
  if (packed.length > limits.frameBytesMax) {
    throw new FrameError('FrameTooLarge', `frame of ${packed.length} bytes is over the limit of ${limits.frameBytesMax}; send large payloads in chunks`);
  }
  // msgpackr returns a view into its reusable buffer (a Buffer in Node); hand out a plain copy
  // that owns exactly its bytes, so it can be transferred, kept or mutated safely.
  const bytes = new Uint8Array(packed.length);
  bytes.set(packed);
  return bytes;
}

function peekVersion(value: unknown): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { v?: unknown }).v : undefined;
}

/**
 * Size check, structural pre-scan, msgpackr and the version check: everything before validation.
 * Returns the decoded (still untrusted) value.
 */
function checkSize(bytes: Uint8Array, limits: FrameLimits): void {
  if (!(bytes instanceof Uint8Array)) throw new FrameError('FrameMalformed', 'a frame must be a Uint8Array');
  if (bytes.length > limits.frameBytesMax) {
    throw new FrameError('FrameTooLarge', `frame of ${bytes.length} bytes is over the limit of ${limits.frameBytesMax}`);
  }
}

function isBinary(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === BINARY_FRAME_MARK;
}

function checkVersion(version: unknown): void {
  if (typeof version === 'number' && version !== PROTOCOL_VERSION) {
    throw new FrameError('WrongVersion', `frame speaks protocol version ${version}, this store speaks ${PROTOCOL_VERSION}`);
  }
}

/** Pre-scan, msgpackr and the version check of a size-checked MessagePack frame. Returns the decoded (still untrusted) value. */
function decodeWire(bytes: Uint8Array, limits: FrameLimits): unknown {
  const problem = scanMsgpack(bytes, limits);
  if (problem !== null) throw new FrameError('FrameMalformed', `not a well-formed frame: ${problem}`);
  let value: unknown;
  try {
    value = unpackValue(bytes);
  } catch (err) {
    throw new FrameError('FrameMalformed', `not a well-formed frame: ${err instanceof Error ? err.message : String(err)}`);
  }
  checkVersion(peekVersion(value));
  return value;
}

function checkHeader(frame: Frame, expect: FrameExpectation): Frame {
  if (frame.clusterId !== expect.clusterId) {
    throw new FrameError('WrongCluster', `frame belongs to cluster ${JSON.stringify(frame.clusterId)}, not ${JSON.stringify(expect.clusterId)}`);
  }
  if (expect.from !== undefined && frame.from !== expect.from) {
    throw new FrameError('WrongSender', `frame claims to come from store ${frame.from} on the link of store ${expect.from}`);
  }
  if (expect.to !== undefined && frame.to !== expect.to) {
    throw new FrameError('WrongRecipient', `frame is addressed to store ${frame.to}, this is store ${expect.to}`);
  }
  return frame;
}

/**
 * Decodes and validates a frame. Returns only a fully valid {@link Frame}; otherwise throws a
 * {@link FrameError} whose `code` says what was wrong. Never throws anything else.
 * Non-empty byte fields of the result (entry data, contexts, payloads) are views into `bytes`:
 * do not modify or reuse `bytes` afterwards, and copy a field that must outlive the frame's memory.
 * @param bytes - the frame as received; the result keeps views into it.
 * @param expect - the cluster id, and optionally the authenticated sender and this store's id.
 * @param limits - the limits of the link (default {@link DEFAULT_FRAME_LIMITS}).
 */
export function decodeFrame(bytes: Uint8Array, expect: FrameExpectation, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Frame {
  checkSize(bytes, limits);
  if (isBinary(bytes)) {
    const { frame, invalid } = readBinaryFrame(bytes, limits, expect.clusterId);
    checkVersion(frame.version);
    if (invalid !== null) throw new FrameError('FrameInvalid', `invalid frame: ${invalid}`);
    return checkHeader(frame, expect);
  }
  const value = decodeWire(bytes, limits);
  let frame: Frame;
  try {
    frame = validateFrame(value, limits);
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError('FrameInvalid', `invalid frame: ${err instanceof Error ? err.message : String(err)}`);
  }
  return checkHeader(frame, expect);
}

/**
 * {@link decodeFrame} with the zod schema (the reference) in place of the hot-path validator; a
 * binary frame is read structure-only (`readBinaryWire`) into the MessagePack frame's wire value first.
 * Same contract, several times slower; for tests and for auditing a suspicious frame.
 * @param bytes - the frame as received.
 * @param expect - the cluster id, and optionally the authenticated sender and this store's id.
 * @param limits - the limits of the link (default {@link DEFAULT_FRAME_LIMITS}).
 */
export function decodeFrameWithSchema(bytes: Uint8Array, expect: FrameExpectation, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Frame {
  checkSize(bytes, limits);
  let value: unknown;
  if (isBinary(bytes)) {
    value = readBinaryWire(bytes, limits);
    checkVersion(peekVersion(value));
  } else value = decodeWire(bytes, limits);
  let frame: Frame;
  try {
    const parsed = schemaFor(limits).safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FrameError('FrameInvalid', `invalid frame at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    frame = parsed.data;
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError('FrameInvalid', `invalid frame: ${err instanceof Error ? err.message : String(err)}`);
  }
  return checkHeader(frame, expect);
}
