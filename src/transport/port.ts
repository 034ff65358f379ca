/**
 * The Transport port: how stores (and clients) exchange frames. It sits above the wire codec
 * (`src/codec/`), whose `Frame` it carries, which is why it is not in `src/ports.ts`: the ports
 * there import nothing, so the Raft core can use them without depending on the wire format.
 * Implementations: `adapters/transport/*` (MessageChannel, WebSocket, the simulated network).
 */
import type { Frame, FrameItem } from '../codec/schema.ts';

/** Why a link to a peer store went away. */
export interface DisconnectInfo {
  storeId: number;
  reason: string;
}

/**
 * Carries batches between stores (and between clients and stores). A transport knows store ids,
 * not regions: the store hands it every region's messages for one destination in one call, which
 * travel as one frame. The transport owns the wire format (`src/codec/`): it encodes what is sent
 * and hands on only frames that were size-checked, decoded, validated and authenticated.
 */
export interface Transport {
  /** This end's store id (or client id). */
  readonly localId: number;
  /**
   * Encodes `items` as one frame and queues it for `storeId`. Returns false when it cannot be
   * queued (unknown or unreachable peer, queue full, transport closed); Raft tolerates the loss
   * and retries by itself. Throws `FrameError` `FrameTooLarge` when the frame is over the
   * frame limit: large payloads must be sent in chunks.
   */
  send(storeId: number, items: readonly FrameItem[]): boolean;
  /** Registers the handler of inbound frames: valid, from the authenticated peer `frame.from`, to this store. */
  onFrame(handler: (frame: Frame) => void): void;
  /** Registers the handler told when a link is lost. */
  onDisconnect(handler: (info: DisconnectInfo) => void): void;
  /**
   * Bytes queued for `storeId` and not yet handed to the network (or, where the channel has flow
   * control, not yet acknowledged). A sender of large chunked payloads waits while this is high.
   */
  queuedBytes(storeId: number): number;
  /** Closes every link; later sends return false and nothing more is delivered. */
  close(): Promise<void>;
}
