/**
 * The wire codec: frames (msgpackr + zod), their limits and typed errors, and the handshake.
 * Pure: runs unchanged in Node, Deno and the browser.
 */
export { FrameError, type FrameErrorCode, isFrameError, TransportError, type TransportErrorCode } from './errors.ts';
export { BINARY_FRAME_MARK } from './binary.ts';
export { decodeFrame, decodeFrameWithSchema, encodeFrame, encodeFrameMsgpack, type FrameExpectation, type OutboundFrame, PROTOCOL_VERSION } from './frame.ts';
export { DEFAULT_FRAME_LIMITS, type FrameLimits, resolveFrameLimits } from './limits.ts';
export { type ScanLimits, scanMsgpack } from './msgpack-scan.ts';
export { createFrameSchema, type Frame, type FrameItem, WIRE_MESSAGE_CODE, WIRE_MESSAGE_TYPES } from './schema.ts';
export { validateFrame } from './validate.ts';
