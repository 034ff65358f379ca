/**
 * The KV state machine (DESIGN §1 `kv`): commands, their encoding and validation, the key layout
 * in the shared storage engine, client sessions, locks, sequences and region snapshots. Pure.
 */
export { COMMAND_FORMAT_VERSION, decodeKvCommand, encodeKvCommand, plainBytes, SHARED_COMMAND_BYTES_MAX } from './codec.ts';
export type {
  CasEntry,
  KvCommand,
  KvEntry,
  KvReadOp,
  KvReadResult,
  KvReadResults,
  KvReadType,
  KvWriteOp,
  KvWriteResult,
  KvWriteResults,
  KvWriteType,
  LockResult,
  ScanEntry,
  SequenceRange,
  UnlockResult,
} from './commands.ts';
export {
  DATA_PREFIX,
  dataKey,
  decodeKey,
  encodeKey,
  KEYED_PREFIXES,
  LOCK_PREFIX,
  lockKey,
  prefixedRange,
  RAFT_PREFIX,
  regionRanges,
  SEQUENCE_PREFIX,
  SESSION_PREFIX,
  type StorageRange,
  sequenceKey,
  sessionClientId,
  sessionKey,
  sessionRange,
} from './keys.ts';
export { DEFAULT_KV_LIMITS, HARD_KV_LIMITS, type KvLimits, resolveKvLimits } from './limits.ts';
export { decodeLockRecord, encodeLockRecord, type LockRecord } from './locks.ts';
export { type KvReader, WriteOverlay } from './overlay.ts';
export { decodeSequence, encodeSequence, readSequence } from './read.ts';
export { RegionClock } from './region-clock.ts';
export { copySessions, DEFAULT_SESSION_IDLE_MS, decodeSession, encodeSession, readSession, type Session } from './sessions.ts';
export { type RestoredRegion, type RestoreOptions, restoreRegion, SNAPSHOT_FORMAT_VERSION, snapshotRegion } from './snapshot.ts';
export { type ApplyOutcome, KvStateMachine, type KvStateMachineOptions, type RegionRange } from './state-machine.ts';
export {
  decodeTxnFields,
  encodeTxnFields,
  executeTxn,
  TXN_RESULT_BYTES_MAX,
  type TxnCompare,
  type TxnCompareResult,
  type TxnOp,
  type TxnOpResult,
  type TxnResult,
  type TxnWriteOp,
  TXN_COMPARE_RESULTS,
  txnSpan,
} from './txn.ts';
export { checkOpInRegion, type OpFootprint, opFootprint, validateKvCommand, validateReadOp, validateTxn, validateWriteOp } from './validate.ts';
