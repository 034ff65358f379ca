/**
 * Transport-side pure pieces: chunked sending of large payloads, the frame guard every network
 * adapter uses, and the authentication handshake. The adapters themselves are export subpaths
 * (`flotilla/transport/*`).
 */
export { type ChunkAssembler, type ChunkAssemblerOptions, type ChunkedSendOptions, type ChunkResult, createChunkAssembler, sendChunked } from './chunks.ts';
export { createFrameGuard, type FrameGuard, type FrameGuardOptions, type FrameGuardStats, type FrameVerdict } from './guard.ts';
export {
  type ClientHandshake,
  createClientHandshake,
  createNonceRegistry,
  createServerHandshake,
  type HandshakeFailure,
  type HandshakeIdentity,
  type HandshakeStep,
  type NonceRegistry,
  originAllowed,
  type ServerHandshake,
} from './handshake.ts';
export { type HandshakeCrypto, type HandshakeKey, importClusterSecret } from './hmac.ts';
