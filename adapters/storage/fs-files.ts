/**
 * File-level helpers of the fs engine: names of the files in a store directory, promise wrappers
 * over the `node:fs` callback API (which Node and Deno both implement), directory fsync, and the
 * lock file that keeps a second engine out of a directory.
 */
import * as fs from 'node:fs';
import process from 'node:process';
import { LockedError, StorageIOError } from '../../src/storage/errors.ts';

/** Name of the lock file inside a store directory. */
export const LOCK_FILE = 'LOCK';

/** `log-<gen>.wal`: the batches written after checkpoint `gen` (or since the start, for the first). */
export function logName(gen: number): string {
  return `log-${String(gen).padStart(10, '0')}.wal`;
}

/** `checkpoint-<gen>.ckpt`: the state after every log with a smaller generation. */
export function checkpointName(gen: number): string {
  return `checkpoint-${String(gen).padStart(10, '0')}.ckpt`;
}

/** Parses a file name of a store directory; undefined for files the engine does not own. */
export function parseName(name: string): { kind: 'log' | 'checkpoint' | 'tmp'; gen: number } | undefined {
  const m = /^(log|checkpoint)-(\d{10})\.(wal|ckpt)(\.tmp)?$/.exec(name);
  if (!m) return undefined;
  if (m[4]) return { kind: 'tmp', gen: Number(m[2]) };
  if ((m[1] === 'log') !== (m[3] === 'wal')) return undefined;
  return { kind: m[1] as 'log' | 'checkpoint', gen: Number(m[2]) };
}

/** Promise form of a `node:fs` callback call. */
export function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/** Writes every buffer at the end of `fd` (opened with 'a'), continuing after short writes. */
export async function writeAll(fd: number, buffers: Uint8Array[]): Promise<void> {
  // Bounded so that one writev never exceeds IOV_MAX (1024 on Linux).
  const IOV_BATCH = 512;
  for (let i = 0; i < buffers.length; i += IOV_BATCH) {
    let chunk = buffers.slice(i, i + IOV_BATCH);
    while (chunk.length > 0) {
      let written = await call<number>((cb) => fs.writev(fd, chunk, cb));
      // A short write (disk full, signal) leaves a prefix on disk; finish the rest.
      while (chunk.length > 0 && written >= chunk[0].length) {
        written -= chunk[0].length;
        chunk = chunk.slice(1);
      }
      if (chunk.length > 0 && written > 0) chunk[0] = chunk[0].subarray(written);
    }
  }
}

/** Makes a directory's entries (created, renamed, removed files) durable. Best effort where the runtime cannot open directories. */
export async function fsyncDir(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = await call<number>((cb) => fs.open(dir, 'r', cb));
  } catch {
    return; // e.g. a runtime or platform that cannot open a directory; nothing more we can do
  }
  try {
    await call<void>((cb) => fs.fsync(fd, (e) => cb(e, undefined)));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EBADF' && code !== 'EISDIR' && code !== 'EPERM') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the directory's lock file, or throws `LockedError` when a live process (this one
 * included) holds it. A lock left by a dead process (its pid no longer runs) is taken over.
 * Returns a function that releases the lock.
 */
export function acquireLock(dir: string): () => void {
  const path = `${dir}/${LOCK_FILE}`;
  const mine = `${process.pid}\n`;
  try {
    fs.writeFileSync(path, mine, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new StorageIOError(`cannot create ${path}`, { cause: e });
    const held = readLockPid(path);
    if (held !== undefined && pidAlive(held)) throw new LockedError(path, `process ${held}${held === process.pid ? ' (this process)' : ''}`);
    // Stale: replace it atomically, then check we won against another process doing the same.
    const tmp = `${path}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, mine, { mode: 0o600 });
    fs.renameSync(tmp, path);
    if (readLockPid(path) !== process.pid) throw new LockedError(path, 'another process that took over the stale lock');
  }
  return () => {
    try {
      if (readLockPid(path) === process.pid) fs.unlinkSync(path);
    } catch {
      // Already gone: nothing to release.
    }
  };
}

function readLockPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
