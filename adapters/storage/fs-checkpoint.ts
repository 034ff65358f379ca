/**
 * Writes a checkpoint of the fs engine: every pair of a map clone as checksummed batch records
 * plus an end mark, written to a temporary file, fdatasynced, renamed into place and then made
 * durable in the directory. Only after that are the files it replaces removed.
 */
import * as fs from 'node:fs';
import type { WriteOp } from '../../src/ports.ts';
import { encodeBatchRecord, encodeCheckpointEndRecord } from '../../src/storage/batch-codec.ts';
import { call, checkpointName, fsyncDir, parseName, writeAll } from './fs-files.ts';
import type { OrderedMap } from './ordered-map.ts';

/** Payload bytes per checkpoint record: big enough to amortise headers, small enough to stream. */
const CHUNK_BYTES = 1024 * 1024;
/** Bytes gathered before one write call. */
const WRITE_BYTES = 4 * 1024 * 1024;

/**
 * Writes `checkpoint-<gen>` holding the state of `map` (a clone nobody else changes), then removes
 * the checkpoint and logs of older generations, which it makes obsolete.
 * @param dir - the store directory
 * @param gen - the generation: the checkpoint holds every batch of the logs before `log-<gen>`
 * @param map - the state to write; iterated while the engine goes on writing to its own map
 */
export async function writeCheckpoint(dir: string, gen: number, map: OrderedMap): Promise<void> {
  const path = `${dir}/${checkpointName(gen)}`;
  const tmp = `${path}.tmp`;
  const fd = await call<number>((cb) => fs.open(tmp, 'w', 0o600, cb));
  try {
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let chunk: WriteOp[] = [];
    let chunkBytes = 0;
    let keys = 0;
    const endChunk = () => {
      const rec = encodeBatchRecord(chunk);
      pending.push(rec);
      pendingBytes += rec.length;
      chunk = [];
      chunkBytes = 0;
    };
    for (const [key, value] of map.entries()) {
      chunk.push({ type: 'put', key, value });
      chunkBytes += key.length + value.length + 9;
      keys++;
      if (chunkBytes >= CHUNK_BYTES) endChunk();
      if (pendingBytes >= WRITE_BYTES) {
        await writeAll(fd, pending);
        pending = [];
        pendingBytes = 0;
      }
    }
    if (chunk.length > 0) endChunk();
    pending.push(encodeCheckpointEndRecord(keys));
    await writeAll(fd, pending);
    await call<void>((cb) => fs.fdatasync(fd, (e) => cb(e, undefined)));
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  await call<void>((cb) => fs.rename(tmp, path, (e) => cb(e, undefined)));
  await fsyncDir(dir);
  for (const name of fs.readdirSync(dir)) {
    const p = parseName(name);
    if ((p?.kind === 'log' || p?.kind === 'checkpoint') && p.gen < gen) fs.rmSync(`${dir}/${name}`, { force: true });
  }
}
