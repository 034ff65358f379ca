/**
 * zod schemas of the wire format, version 1: the reference statement of what a valid frame is.
 * They take the plain values msgpackr decodes (tuples, to keep frames small) and give back the
 * domain objects of `src/raft/types.ts`, so that a frame that passes is exactly what the core
 * expects and nothing else. `validate.ts` applies the same rules on the hot path, faster; the
 * tests hold the two to the same verdict on every input.
 *
 * Wire shapes (arrays are MessagePack arrays, in this order):
 * - frame: map `{ v: version, c: clusterId, f: from, t: to, b: batch[] }`
 * - batch item: `[0, regionId, message]` or `[0, regionId, message, [startKey, endKey, confVer, version, tombstone?]]`
 *   (the sender's view of the region, so that a store can create a replica it does not host yet;
 *   `tombstone: true` tells the recipient replica it was removed from the region)
 *   | `[1, requestId, payload]` | `[2, requestId, payload]`
 *   | `[3, streamId, seq, total, payload]` (one chunk of a large payload, seq < total)
 * - message: `[type, from, to, term, logTerm, index, entries[], commit, reject, rejectHint, snapshot | nil, context]`
 * - entry: `[term, index, 0 normal | 1 confChange, data]`
 * - snapshot: `[index, term, voters[], learners[], votersOutgoing[], learnersNext[], autoLeave, data]`
 */
import { z } from 'zod';
import type { Entry, Message, MessageType, Snapshot } from '../raft/types.ts';
import type { FrameLimits } from './limits.ts';
import { ownBytes } from './msgpack.ts';

/**
 * Message types that may cross the network, indexed by their wire code. Local types (MsgHup,
 * MsgBeat, MsgUnreachable, MsgSnapStatus, MsgCheckQuorum) have no code and are refused.
 * Append only: the position of a type is part of the protocol.
 */
export const WIRE_MESSAGE_TYPES: readonly MessageType[] = Object.freeze([
  'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgPreVote', 'MsgPreVoteResp',
  'MsgSnap', 'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgTransferLeader', 'MsgTimeoutNow',
  'MsgReadIndex', 'MsgReadIndexResp', 'MsgQuiesce',
] as const);

/** Wire code of each network message type; see {@link WIRE_MESSAGE_TYPES}. */
export const WIRE_MESSAGE_CODE: ReadonlyMap<MessageType, number> = new Map(WIRE_MESSAGE_TYPES.map((t, i) => [t, i]));

/** Batch item kinds on the wire. */
export const ITEM_RAFT = 0;
export const ITEM_REQUEST = 1;
export const ITEM_RESPONSE = 2;
export const ITEM_CHUNK = 3;

/** The sender's view of a region, carried with its Raft messages (TiKV's RaftMessage keys and epoch). */
export interface RaftRegionMeta {
  startKey: Uint8Array;
  endKey: Uint8Array;
  confVer: number;
  version: number;
  /** The recipient replica is no longer a member of the region (as of `confVer`): destroy it. */
  tombstone?: boolean;
}

/** One item of a frame's batch: a Raft message for a region, or an opaque client payload. */
export type FrameItem =
  | { kind: 'raft'; regionId: number; message: Message; region?: RaftRegionMeta }
  | { kind: 'request'; requestId: number; payload: Uint8Array }
  | { kind: 'response'; requestId: number; payload: Uint8Array }
  /** Chunk `seq` of `total` of a large payload (a snapshot), reassembled by `src/transport/chunks.ts`. */
  | { kind: 'chunk'; streamId: number; seq: number; total: number; payload: Uint8Array };

/** A decoded, validated frame. `from` and `to` are store (or client) ids. */
export interface Frame {
  version: number;
  clusterId: string;
  from: number;
  to: number;
  items: FrameItem[];
  /**
   * Not on the wire: the incarnation of the sender's data, set by the receiving transport from
   * what the link's handshake proved (stores only).
   */
  incarnation?: string;
  /**
   * Not on the wire: which of the sender's links it came on (a number that grows with each new
   * link), set by the receiving transport, so that a reply can go only to that link.
   */
  link?: number;
}

const index = z.int().nonnegative();
const id = z.int().positive();
// Byte fields are detached from the frame they were decoded from, as in `validate.ts`.
const bytes = z.instanceof(Uint8Array).transform(ownBytes);

function entrySchema() {
  return z.tuple([index, index, z.union([z.literal(0), z.literal(1)]), bytes]).transform(
    ([term, idx, type, data]): Entry => ({ term, index: idx, type: type === 1 ? 'confChange' : 'normal', data }),
  );
}

function snapshotSchema(limits: FrameLimits) {
  const nodes = z.array(id).max(limits.confNodesMax);
  return z.tuple([index, index, nodes, nodes, nodes, nodes, z.boolean(), bytes]).transform(
    ([idx, term, voters, learners, votersOutgoing, learnersNext, autoLeave, data]): Snapshot => ({
      metadata: { index: idx, term, confState: { voters, learners, votersOutgoing, learnersNext, autoLeave } },
      data,
    }),
  );
}

/**
 * Invariants of a message the core relies on beyond field types. Returns a reason or null.
 * @param m - a message whose fields have the right types.
 */
export function messageProblem(m: Message): string | null {
  if (m.type === 'MsgSnap' && m.snapshot === null) return 'MsgSnap without a snapshot';
  if (m.type === 'MsgApp') {
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i];
      if (e.index !== m.index + 1 + i) return `MsgApp entry ${i} has index ${e.index}, expected ${m.index + 1 + i}`;
      if (e.term > m.term) return `MsgApp entry ${i} has term ${e.term} above the message term ${m.term}`;
      if (e.term < (i === 0 ? m.logTerm : m.entries[i - 1].term)) return `MsgApp entry ${i} has a decreasing term`;
    }
  }
  return null;
}

function messageSchema(limits: FrameLimits) {
  const type = z.int().nonnegative().max(WIRE_MESSAGE_TYPES.length - 1);
  return z
    .tuple([type, id, id, index, index, index, z.array(entrySchema()).max(limits.entriesMax), index, z.boolean(), index, snapshotSchema(limits).nullable(), bytes])
    .transform(
      ([code, from, to, term, logTerm, idx, entries, commit, reject, rejectHint, snapshot, context], ctx): Message => {
        const m: Message = { type: WIRE_MESSAGE_TYPES[code], from, to, term, logTerm, index: idx, entries, commit, reject, rejectHint, snapshot, context };
        const problem = messageProblem(m);
        if (problem !== null) ctx.issues.push({ code: 'custom', message: problem, input: m });
        return m;
      },
    );
}

/**
 * Builds the zod schema of a whole frame for the given limits. The output is a {@link Frame}.
 * @param limits - resolved limits (see `resolveFrameLimits`).
 */
export function createFrameSchema(limits: FrameLimits) {
  const payload = z.tuple([z.literal(ITEM_REQUEST), index, bytes]).transform(
    ([, requestId, p]): FrameItem => ({ kind: 'request', requestId, payload: p }),
  );
  const response = z.tuple([z.literal(ITEM_RESPONSE), index, bytes]).transform(
    ([, requestId, p]): FrameItem => ({ kind: 'response', requestId, payload: p }),
  );
  const chunk = z
    .tuple([z.literal(ITEM_CHUNK), index, index, id, bytes])
    .refine(([, , seq, total]) => seq < total, 'chunk seq must be below total')
    .transform(([, streamId, seq, total, p]): FrameItem => ({ kind: 'chunk', streamId, seq, total, payload: p }));
  const meta = z.union([
    z.tuple([bytes, bytes, id, id]).transform(([startKey, endKey, confVer, version]): RaftRegionMeta => ({ startKey, endKey, confVer, version })),
    z.tuple([bytes, bytes, id, id, z.literal(true)]).transform(([startKey, endKey, confVer, version]): RaftRegionMeta => ({ startKey, endKey, confVer, version, tombstone: true })),
  ]);
  const raft = z.union([
    z.tuple([z.literal(ITEM_RAFT), id, messageSchema(limits)]).transform(([, regionId, message]): FrameItem => ({ kind: 'raft', regionId, message })),
    z.tuple([z.literal(ITEM_RAFT), id, messageSchema(limits), meta]).transform(([, regionId, message, region]): FrameItem => ({ kind: 'raft', regionId, message, region })),
  ]);
  return z
    .object({
      v: z.int().positive(),
      c: z.string().min(1).max(limits.clusterIdLengthMax),
      f: id,
      t: id,
      b: z.array(z.union([raft, payload, response, chunk])).max(limits.batchItemsMax),
    })
    .transform((w): Frame => ({ version: w.v, clusterId: w.c, from: w.f, to: w.t, items: w.b }));
}
