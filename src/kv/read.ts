/**
 * The read commands of the KV state machine (`get`, `multiGet`, `containsKey`, `scan`,
 * `reverseScan`, `getLatestSequence`), served from applied state, and the sequence encoding.
 */
import { CorruptCommandError } from '../errors.ts';
import type { KvReadOp, KvReadResult, ScanEntry } from './commands.ts';
import { DATA_PREFIX, dataKey, decodeKey, encodeU64, prefixedRange, sequenceKey } from './keys.ts';
import { readAtRevision, readWatch } from './history.ts';
import type { KvLimits } from './limits.ts';
import type { KvReader } from './overlay.ts';

/**
 * Encodes a sequence's next value as 8 bytes, big-endian.
 * @param value - a non-negative safe integer.
 */
export function encodeSequence(value: number): Uint8Array {
  return encodeU64(value);
}

/**
 * Decodes what {@link encodeSequence} produced; throws {@link CorruptCommandError} otherwise.
 * @param bytes - 8 bytes.
 */
export function decodeSequence(bytes: Uint8Array): number {
  if (bytes.length !== 8) throw new CorruptCommandError(`a sequence value must be 8 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const value = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
  if (!Number.isSafeInteger(value)) throw new CorruptCommandError(`sequence value ${value} is not a safe integer`);
  return value;
}

/**
 * The next value `key`'s sequence will hand out (0 when it was never used or was reset).
 * @param view - the state to read.
 * @param key - the sequence's user key.
 */
export async function readSequence(view: KvReader, key: Uint8Array): Promise<number> {
  const bytes = await view.get(sequenceKey(key));
  return bytes === undefined ? 0 : decodeSequence(bytes);
}

/**
 * Executes a validated read whose keys are in the region.
 * @param view - the applied state.
 * @param op - the read.
 * @param limits - `scanLimitMax` bounds scans without a limit.
 * @param regionId - the region read (history reads need it).
 */
export async function executeRead(view: KvReader, op: KvReadOp, limits: KvLimits, regionId: number): Promise<KvReadResult> {
  switch (op.type) {
    case 'get':
      return (await view.get(dataKey(op.key))) ?? null;
    case 'containsKey':
      return (await view.get(dataKey(op.key))) !== undefined;
    case 'multiGet': {
      // One engine promise per key and nothing more (no async closure per key): a lease-read
      // batch of 64 keys is this loop and one Promise.all.
      const values: (Uint8Array | undefined | null)[] = await Promise.all(op.keys.map((k) => view.get(dataKey(k))));
      for (let i = 0; i < values.length; i++) values[i] ??= null;
      return values as (Uint8Array | null)[];
    }
    case 'getLatestSequence':
      return readSequence(view, op.key);
    case 'scan':
    case 'reverseScan': {
      const range = prefixedRange(DATA_PREFIX, op.start, op.end);
      const found = await view.scan({ ...range, limit: op.limit ?? limits.scanLimitMax, reverse: op.type === 'reverseScan' });
      const withValue = op.returnValue ?? true;
      return found.map((kv): ScanEntry => ({ key: decodeKey(kv.key).slice(), value: withValue ? kv.value : null }));
    }
    case 'watch':
      return readWatch(view, regionId, { ...op, limit: op.limit ?? limits.scanLimitMax });
    case 'getAt':
      return readAtRevision(view, regionId, op.key, op.revision);
  }
}
