/**
 * The types of watch reads (`history.ts`), apart so that `commands.ts` can name them without
 * importing the history code (which imports the codec, which imports `commands.ts`).
 */

/** One change of one key, as a watch delivers it. */
export interface WatchEvent {
  type: 'put' | 'delete';
  key: Uint8Array;
  /** The new value; null for a delete. */
  value: Uint8Array | null;
  /** The value before the change (null: absent); only when the watch asked for `prevValue`. */
  prevValue?: Uint8Array | null;
  /** The revision of the command that made the change (rises per key, see the module comment). */
  revision: number;
  /** The region time (`KvCommand.nowMs`) of the command. */
  timeMs: number;
}

/** What a watch read returns. */
export interface WatchResult {
  /** Changes with revision above the cursor, by revision then key. */
  events: WatchEvent[];
  /** The new cursor: every change in the range up to this revision is in `events` or was before the cursor. */
  revision: number;
  /** The region's compaction point. */
  compactRevision: number;
  /** True when `limit` cut the answer: read again from `revision`. */
  more: boolean;
}
