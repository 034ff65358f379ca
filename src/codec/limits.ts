/**
 * Limits of the wire format. Every one has a safe default and can be lowered or raised per
 * transport; nothing on the wire is unbounded.
 */

/** Limits applied to every inbound (and outbound) frame. */
export interface FrameLimits {
  /** Largest encoded frame accepted, checked before any decoding. */
  frameBytesMax: number;
  /** Deepest nesting of arrays and maps inside a frame. */
  depthMax: number;
  /**
   * Most MessagePack values in one frame (bounds the decoder's work and allocation). In a binary
   * frame the items, entries and node ids count as the values they would be in MessagePack.
   */
  valuesMax: number;
  /** Most items (Raft messages, client requests, responses) in one frame's batch. */
  batchItemsMax: number;
  /** Most log entries in one Raft message. */
  entriesMax: number;
  /** Most node ids in one configuration list of a snapshot. */
  confNodesMax: number;
  /** Longest cluster id, in UTF-16 code units. */
  clusterIdLengthMax: number;
}

/** The defaults: 16 MiB frames, 1 million values, 65,536 batch items or entries. */
export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  frameBytesMax: 16 * 1024 * 1024,
  depthMax: 8,
  valuesMax: 1_000_000,
  batchItemsMax: 65_536,
  entriesMax: 65_536,
  confNodesMax: 1024,
  clusterIdLengthMax: 128,
});

/**
 * Completes partial limits with the defaults and checks that every limit is a positive safe integer.
 * @param limits - overrides; absent or undefined fields take {@link DEFAULT_FRAME_LIMITS}.
 */
export function resolveFrameLimits(limits?: Partial<FrameLimits>): FrameLimits {
  const out: FrameLimits = { ...DEFAULT_FRAME_LIMITS };
  // An override left undefined keeps the default.
  for (const [name, value] of Object.entries(limits ?? {})) if (value !== undefined) out[name as keyof FrameLimits] = value;
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`frame limit ${name} must be a positive safe integer, got ${String(value)}`);
    }
  }
  // The schema needs at least this depth: frame > batch > item > message > entries > entry (or snapshot > node list).
  if (out.depthMax < 6) throw new RangeError(`frame limit depthMax must be at least 6, got ${out.depthMax}`);
  return out;
}
