/**
 * How a client reaches stores. The in-page cluster calls its StoreEngines directly; the remote
 * client (over WebSocket) sends the same requests as frames. Either way a call either returns the
 * store's answer or throws a typed error (the store's own, or `StoreUnreachable` when the store
 * could not be asked at all). The requests and answers themselves are `src/store/requests.ts`.
 */
import type { StoreRequest, StoreResponses } from '../store/requests.ts';

/**
 * A store could not be asked (down, connection refused or lost). Not a `FlotillaError`: the client
 * handles it by trying another store, and callers only ever see `Timeout` or `OutcomeUnknown`.
 */
export class StoreUnreachableError extends Error {
  readonly storeId: number;
  /** Whether the request may have left before the link failed (a write may then have applied). */
  readonly maybeSent: boolean;
  constructor(storeId: number, maybeSent: boolean, detail: string) {
    super(`store ${storeId} is unreachable: ${detail}`);
    this.name = 'StoreUnreachableError';
    this.storeId = storeId;
    this.maybeSent = maybeSent;
  }
}

/** The client's door to the stores of a cluster. */
export interface StoreConnector {
  /** The stores the client may ask (the ones it knows of). */
  storeIds(): number[];
  /**
   * Sends `request` to `storeId` and returns its answer. Throws the store's typed error, or a
   * `ServerBusy`/`Timeout`-style error when the store cannot be reached; must not hang forever.
   * `timeoutMs`: how long the caller waits for this answer; a remote store sheds the request
   * when it cannot answer in time (in-page connectors may ignore it).
   */
  call<R extends StoreRequest>(storeId: number, request: R, timeoutMs?: number): Promise<StoreResponses[R['type']]>;
}
