/**
 * Typed errors of the Raft core. Each has a stable `code` so that callers can branch on it
 * without parsing messages, and a message that says what was wrong and what to do.
 */

export type RaftErrorCode =
  | 'ProposalDropped'
  | 'ConfChangePending'
  | 'InvalidConfChange'
  | 'TransferTarget'
  | 'StepLocalMessage'
  | 'InvalidConfig'
  | 'Compacted'
  | 'Unavailable'
  | 'SnapshotOutOfDate'
  | 'ReadIndexNotReady'
  | 'LeaseReadDisabled';

/** Base class of every error thrown by the core. */
export class RaftError extends Error {
  readonly code: RaftErrorCode;
  constructor(code: RaftErrorCode, message: string) {
    super(message);
    this.name = 'RaftError';
    this.code = code;
  }
}

/** Why a proposal was not appended. */
export type DropReason = 'noLeader' | 'notLeader' | 'transferring' | 'notMember' | 'tooLarge' | 'forwardingDisabled';

/** A proposal could not be appended to the log; nothing was changed. Retry on the leader, later. */
export class ProposalDroppedError extends RaftError {
  readonly reason: DropReason;
  constructor(reason: DropReason, detail: string) {
    super('ProposalDropped', `proposal dropped (${reason}): ${detail}`);
    this.name = 'ProposalDroppedError';
    this.reason = reason;
  }
}

/** A membership change was proposed while another is still uncommitted. Wait until it commits. */
export class ConfChangePendingError extends RaftError {
  constructor(detail: string) {
    super('ConfChangePending', `configuration change refused: ${detail}`);
    this.name = 'ConfChangePendingError';
  }
}

/** A membership change that cannot be applied to the current configuration (nothing was changed). */
export class InvalidConfChangeError extends RaftError {
  constructor(detail: string) {
    super('InvalidConfChange', `invalid configuration change: ${detail}`);
    this.name = 'InvalidConfChangeError';
  }
}

/** Leadership cannot be transferred to the given node (not a voter, or it is this node). */
export class TransferTargetError extends RaftError {
  constructor(detail: string) {
    super('TransferTarget', `leader transfer refused: ${detail}`);
    this.name = 'TransferTargetError';
  }
}

/** A local-only message (MsgHup, MsgBeat ...) was passed to `step`; use the RawNode method instead. */
export class StepLocalMessageError extends RaftError {
  constructor(type: string) {
    super('StepLocalMessage', `${type} is local to a node and cannot be stepped from outside; call the RawNode method`);
    this.name = 'StepLocalMessageError';
  }
}

/** The configuration is invalid; the message names the field. */
export class InvalidConfigError extends RaftError {
  constructor(detail: string) {
    super('InvalidConfig', `invalid raft config: ${detail}`);
    this.name = 'InvalidConfigError';
  }
}

/** The requested log index was compacted into a snapshot. */
export class CompactedError extends RaftError {
  constructor(index: number, firstIndex: number) {
    super('Compacted', `log index ${index} is compacted (first available index is ${firstIndex})`);
    this.name = 'CompactedError';
  }
}

/** The requested log index is not (yet) in the log. */
export class UnavailableError extends RaftError {
  constructor(index: number, lastIndex: number) {
    super('Unavailable', `log index ${index} is unavailable (last index is ${lastIndex})`);
    this.name = 'UnavailableError';
  }
}

/** A snapshot older than what the storage already holds. */
export class SnapshotOutOfDateError extends RaftError {
  constructor(index: number, current: number) {
    super('SnapshotOutOfDate', `snapshot at index ${index} is older than the current one at ${current}`);
    this.name = 'SnapshotOutOfDateError';
  }
}
