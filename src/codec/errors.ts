/**
 * Typed errors of the wire codec and the transports. Each has a stable `code` so that a transport
 * can count offences by kind and tell the peer why its frame was refused, without parsing messages.
 */

/** The stable codes of {@link FrameError}. */
export type FrameErrorCode =
  /** The frame is over the configured byte limit; it was not decoded. */
  | 'FrameTooLarge'
  /** The bytes are not one well-formed MessagePack value within the structural limits. */
  | 'FrameMalformed'
  /** The value decoded but does not match the frame schema (types, ranges, lengths). */
  | 'FrameInvalid'
  /** The frame speaks another protocol version. */
  | 'WrongVersion'
  /** The frame belongs to another cluster. */
  | 'WrongCluster'
  /** The frame's sender is not the peer authenticated on this link. */
  | 'WrongSender'
  /** The frame is addressed to another store. */
  | 'WrongRecipient';

/** Every error the codec throws. Decoding throws nothing else, whatever the input bytes. */
export class FrameError extends Error {
  readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.name = 'FrameError';
    this.code = code;
  }
}

/** The stable codes of {@link TransportError}. */
export type TransportErrorCode =
  /** The per-peer send queue is at its limit; slow down or drop (Raft retries by itself). */
  | 'QueueFull'
  /** The transport was closed; nothing more can be sent. */
  | 'TransportClosed'
  /** The handshake failed: wrong secret, cluster, version, duplicate store id, replay, timeout. */
  | 'AuthFailed'
  /** The adapter cannot run in this runtime (for example the WebSocket server in a browser). */
  | 'Unsupported'
  /** An argument was out of range (unknown store id, non-positive limit). */
  | 'InvalidArgument';

/** Errors of transports and the handshake, with a stable `code`. */
export class TransportError extends Error {
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string) {
    super(message);
    this.name = 'TransportError';
    this.code = code;
  }
}

/** True when `err` is a {@link FrameError}; works across realms where `instanceof` may not. */
export function isFrameError(err: unknown): err is FrameError {
  return err instanceof FrameError || (err instanceof Error && err.name === 'FrameError' && 'code' in err);
}
