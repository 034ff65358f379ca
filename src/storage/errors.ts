/**
 * Typed errors of the storage engines. Each has a stable `code` so that callers can branch on it
 * without parsing messages, and a message that says what was wrong and what to do.
 */

/** The stable codes of {@link StorageError}. */
export type StorageErrorCode =
  | 'InvalidArgument'
  | 'KeyTooLarge'
  | 'ValueTooLarge'
  | 'BatchTooLarge'
  | 'StorageClosed'
  | 'Corruption'
  | 'Locked'
  | 'StorageIO'
  | 'Unsupported';

/** Base class of every error a storage engine throws or rejects with. */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string) {
    super(message);
    this.name = 'StorageError';
    this.code = code;
  }
}

/** A key, value, bound or op was not of the required type (keys and values must be `Uint8Array`). Nothing was changed. */
export class InvalidArgumentError extends StorageError {
  /** Which argument was wrong, e.g. `batch[3].key`. */
  readonly argument: string;
  constructor(argument: string, detail: string) {
    super('InvalidArgument', `invalid ${argument}: ${detail}`);
    this.name = 'InvalidArgumentError';
    this.argument = argument;
  }
}

/** A key is longer than the engine's `keyBytesMax`. Nothing was changed. */
export class KeyTooLargeError extends StorageError {
  readonly bytes: number;
  readonly bytesMax: number;
  constructor(argument: string, bytes: number, bytesMax: number) {
    super('KeyTooLarge', `${argument} is ${bytes} bytes, over the limit of ${bytesMax} (raise keyBytesMax or use a shorter key)`);
    this.name = 'KeyTooLargeError';
    this.bytes = bytes;
    this.bytesMax = bytesMax;
  }
}

/** A value is longer than the engine's `valueBytesMax`. Nothing was changed. */
export class ValueTooLargeError extends StorageError {
  readonly bytes: number;
  readonly bytesMax: number;
  constructor(argument: string, bytes: number, bytesMax: number) {
    super('ValueTooLarge', `${argument} is ${bytes} bytes, over the limit of ${bytesMax} (raise valueBytesMax or split the value)`);
    this.name = 'ValueTooLargeError';
    this.bytes = bytes;
    this.bytesMax = bytesMax;
  }
}

/** A batch has more ops or bytes than `batchOpsMax` / `batchBytesMax`. Nothing was changed. */
export class BatchTooLargeError extends StorageError {
  constructor(detail: string) {
    super('BatchTooLarge', `write batch too large: ${detail} (split it into several batches or raise the limit)`);
    this.name = 'BatchTooLargeError';
  }
}

/** The engine (or a snapshot) was used after `close()` (or `release()`). Open a new one. */
export class StorageClosedError extends StorageError {
  constructor(what = 'storage engine') {
    super('StorageClosed', `${what} is closed; open a new one`);
    this.name = 'StorageClosedError';
  }
}

/**
 * Stored data failed its checksum or framing somewhere other than a torn tail, so the engine
 * refuses to open rather than silently lose what follows. `file` and `offset` say where.
 */
export class CorruptionError extends StorageError {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, detail: string) {
    super(
      'Corruption',
      `corrupt record in ${file} at byte offset ${offset}: ${detail}. ` +
        'Refusing to open so that no acknowledged data is dropped silently; restore the directory from a replica or backup, ' +
        'or open with onCorruption: "truncate" to discard everything from this offset on.',
    );
    this.name = 'CorruptionError';
    this.file = file;
    this.offset = offset;
  }
}

/** Another live engine (this process or another) holds the directory's lock. */
export class LockedError extends StorageError {
  readonly lockFile: string;
  constructor(lockFile: string, holder: string) {
    super('Locked', `${lockFile} is held by ${holder}; close that engine first (delete the file only if you are sure it is stale)`);
    this.name = 'LockedError';
    this.lockFile = lockFile;
  }
}

/**
 * A read or write of the medium failed. After a failed write the engine stops accepting
 * operations (its memory may be ahead of the medium): close it and open it again.
 */
export class StorageIOError extends StorageError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('StorageIO', `storage I/O failed: ${detail}`);
    this.name = 'StorageIOError';
    if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The adapter cannot work in this runtime (e.g. the fs engine in a browser). */
export class UnsupportedError extends StorageError {
  constructor(detail: string) {
    super('Unsupported', detail);
    this.name = 'UnsupportedError';
  }
}
