/**
 * What a region's normal log entries carry: a tag byte, then the payload. KV commands are the
 * common case; admin commands (split, merge, compaction hints) share the log so that every replica
 * applies them at the same point in the sequence of writes.
 *
 * | tag  | payload                                   |
 * |------|-------------------------------------------|
 * | —    | empty entry: the leader's no-op of a term |
 * | 0x01 | `encodeKvCommand(command)`                |
 * | 0x02 | an admin command (region splits and merges) |
 * | 0x03 | a placement-driver command (PD's own group only) |
 */
import { CorruptCommandError } from '../errors.ts';

export const TAG_KV = 0x01;
export const TAG_ADMIN = 0x02;
export const TAG_PD = 0x03;

/** Prefixes `payload` with `tag`. */
export function tagEntryData(tag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = tag;
  out.set(payload, 1);
  return out;
}

/** Splits entry data into its tag and payload; throws {@link CorruptCommandError} for an unknown tag. */
export function untagEntryData(data: Uint8Array): { tag: number; payload: Uint8Array } {
  const tag = data[0];
  if (tag !== TAG_KV && tag !== TAG_ADMIN && tag !== TAG_PD) throw new CorruptCommandError(`unknown log entry tag ${tag}`);
  return { tag, payload: data.subarray(1) };
}
