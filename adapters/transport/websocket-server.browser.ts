/**
 * The browser build of `flotilla/transport/websocket-server`: a page cannot listen for
 * connections, so this stub throws a clear error. Browsers connect out with
 * `flotilla/transport/websocket` instead.
 */
import { TransportError } from '../../src/codec/errors.ts';
import type { WebSocketServer, WebSocketServerOptions } from './websocket-server.ts';

export type { WebSocketServer, WebSocketServerOptions } from './websocket-server.ts';

/**
 * Always rejects: there is no WebSocket server in a browser.
 * @param _options - ignored.
 */
export async function createWebSocketServer(_options: WebSocketServerOptions): Promise<WebSocketServer> {
  throw new TransportError(
    'Unsupported',
    'flotilla/transport/websocket-server cannot run in a browser (a page cannot accept connections); run the server in Node or Deno and connect with flotilla/transport/websocket',
  );
}
