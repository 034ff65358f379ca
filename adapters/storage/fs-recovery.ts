/**
 * Start-up of the fs engine: loads the newest checkpoint, replays the logs written after it, and
 * decides what damage means. A damaged tail of the newest log (nothing valid after the damage) is
 * a write torn by a crash: it is truncated away. Damage anywhere else is corruption: the engine
 * refuses to open with a `CorruptionError` naming the file and byte offset.
 */
import * as fs from 'node:fs';
import type { Logger } from '../../src/ports.ts';
import { decodeRecordPayload } from '../../src/storage/batch-codec.ts';
import { CorruptionError } from '../../src/storage/errors.ts';
import { scanRecords } from '../../src/storage/record.ts';
import { checkpointName, logName, parseName } from './fs-files.ts';
import { OrderedMap } from './ordered-map.ts';

/** What to do about damage in the newest log that is followed by valid records. */
export type OnCorruption = 'throw' | 'truncate';

/** The state recovered from a store directory. */
export interface Recovered {
  map: OrderedMap;
  /** Generation of the log to append to (it exists, with a valid prefix only). */
  activeGen: number;
  /** Bytes in the active log. */
  activeLogBytes: number;
}

/** Replays one file's records into `map`; returns the valid prefix length and any damage. */
function replayFile(path: string, map: OrderedMap, expectEnd: boolean) {
  const buf = new Uint8Array(fs.readFileSync(path));
  let ended = false;
  const result = scanRecords(buf, 0, (start, end, offset) => {
    if (ended) throw new CorruptionError(path, offset, 'record after the end mark of a checkpoint');
    let rec: ReturnType<typeof decodeRecordPayload>;
    try {
      // A checkpoint's bytes are all live data: keep views into its buffer instead of copying each.
      rec = decodeRecordPayload(buf, start, end, !expectEnd);
    } catch (e) {
      throw new CorruptionError(path, offset, (e as Error).message);
    }
    if (rec.kind === 'batch') map.apply(rec.ops);
    else if (!expectEnd) throw new CorruptionError(path, offset, 'checkpoint end mark inside a log');
    else if (rec.keyCount !== map.keyCount) throw new CorruptionError(path, offset, `checkpoint says ${rec.keyCount} keys, found ${map.keyCount}`);
    else ended = true;
  });
  if (expectEnd && !result.damage && !ended) throw new CorruptionError(path, buf.length, 'checkpoint has no end mark');
  return { size: buf.length, ...result };
}

/**
 * Recovers the state of `dir` (which exists and is locked by the caller). Removes leftovers of
 * interrupted checkpoints and files that a completed checkpoint made obsolete.
 */
export function recover(dir: string, onCorruption: OnCorruption, logger: Logger): Recovered {
  const logs: number[] = [];
  const checkpoints: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    const p = parseName(name);
    if (p?.kind === 'tmp') fs.unlinkSync(`${dir}/${name}`); // an interrupted checkpoint: never renamed, never used
    else if (p?.kind === 'log') logs.push(p.gen);
    else if (p?.kind === 'checkpoint') checkpoints.push(p.gen);
  }
  logs.sort((a, b) => a - b);
  checkpoints.sort((a, b) => a - b);
  const map = new OrderedMap();
  // A checkpoint is renamed into place only after it was written and fsynced in full, so the
  // newest one is complete; damage in it is corruption, not a crash.
  const base = checkpoints.length > 0 ? checkpoints[checkpoints.length - 1] : 0;
  if (base > 0) {
    const path = `${dir}/${checkpointName(base)}`;
    const r = replayFile(path, map, true);
    if (r.damage) throw new CorruptionError(path, r.validEnd, r.damage.reason);
  }
  const replay = logs.filter((g) => g >= base);
  let activeGen = base === 0 ? 1 : base;
  let activeLogBytes = 0;
  for (let i = 0; i < replay.length; i++) {
    const path = `${dir}/${logName(replay[i])}`;
    const r = replayFile(path, map, false);
    const newest = i === replay.length - 1;
    if (r.damage) {
      // Older logs were fdatasynced before a newer one got its first record: damage there is never a torn write.
      if (!newest || (r.damage.damageInMiddle && onCorruption === 'throw')) {
        throw new CorruptionError(path, r.validEnd, `${r.damage.reason}${r.damage.damageInMiddle ? ', and valid records follow' : ''}`);
      }
      logger.warn('storage: dropping torn tail of log', { file: path, offset: r.validEnd, bytes: r.size - r.validEnd, reason: r.damage.reason });
      fs.truncateSync(path, r.validEnd);
      const fd = fs.openSync(path, 'r+');
      try {
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    activeGen = replay[i];
    activeLogBytes = r.validEnd;
  }
  // Files a finished checkpoint made obsolete (a crash came between its rename and their removal).
  for (const g of checkpoints) if (g < base) fs.unlinkSync(`${dir}/${checkpointName(g)}`);
  for (const g of logs) if (g < base) fs.unlinkSync(`${dir}/${logName(g)}`);
  return { map, activeGen, activeLogBytes };
}
