/**
 * Helpers for the WebSocket tests: start a store (transport + server) on loopback, and a raw
 * client that runs the handshake by hand so a test can then send arbitrary bytes.
 */
import { WebSocket } from 'ws';
import { createWebSocketTransport, type WebSocketTransport, type WebSocketTransportOptions } from '../../adapters/transport/websocket.ts';
import { createWebSocketServer, type WebSocketServer } from '../../adapters/transport/websocket-server.ts';
import { createClientHandshake } from '../../src/transport/handshake.ts';
import { importClusterSecret } from '../../src/transport/hmac.ts';
import { KEEPALIVE_MESSAGE } from '../../adapters/transport/websocket-link.ts';

/** The secret every test store shares. */
export const SECRET = 'flotilla test secret, 32 bytes!';

/** A store listening on 127.0.0.1 with its WebSocket transport. */
export interface TestStore {
  transport: WebSocketTransport;
  server: WebSocketServer;
  close(): Promise<void>;
}

/**
 * Starts a store: a server on a free loopback port and a transport that dials `peers`.
 * @param localId - the store id.
 * @param options - overrides of the transport options.
 * @param serverOptions - origin allow-list and payload limit of the server.
 */
export async function startStore(
  localId: number,
  options: Partial<WebSocketTransportOptions> = {},
  serverOptions: { allowedOrigins?: string[]; maxPayloadBytes?: number; connectionsMax?: number } = {},
): Promise<TestStore> {
  let transport: WebSocketTransport | undefined;
  const server = await createWebSocketServer({ accept: (s) => transport!.accept(s), ...serverOptions });
  transport = await createWebSocketTransport({ localId, clusterId: 'ws-test', secret: SECRET, WebSocket, reconnectDelayMs: { min: 10, max: 200 }, ...options });
  return {
    transport,
    server,
    async close() {
      await transport!.close();
      await server.close();
    },
  };
}

/** A raw client socket, authenticated or not. */
export interface RawClient {
  socket: WebSocket;
  /** Text messages received (refusal notices, handshake messages). */
  texts: string[];
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * Opens a raw socket to `url` and, unless `handshake` is false, authenticates it as `localId`.
 * @param url - the server.
 * @param localId - the store id to claim.
 * @param opts - cluster, secret, whether to run the handshake, extra headers (Origin).
 */
export async function rawClient(url: string, localId: number, opts: { clusterId?: string; secret?: string; handshake?: boolean; headers?: Record<string, string> } = {}): Promise<RawClient> {
  const socket = new WebSocket(url, { headers: opts.headers });
  socket.binaryType = 'arraybuffer';
  const texts: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  socket.on('error', () => {});
  socket.on('message', (data, isBinary) => {
    // Keepalives (the transport's dead-link detector) are no notices.
    if (!isBinary && data.toString() !== KEEPALIVE_MESSAGE) texts.push(data.toString());
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    socket.once('error', reject);
  });
  if (opts.handshake === false) return { socket, texts, closed };
  const hs = createClientHandshake({ clusterId: opts.clusterId ?? 'ws-test', localId, crypto: globalThis.crypto, key: await importClusterSecret(globalThis.crypto, opts.secret ?? SECRET) });
  const next = () => new Promise<string>((resolve) => socket.once('message', (d) => resolve(d.toString())));
  socket.send(hs.hello());
  const step = await hs.receive(await next());
  if (step.kind !== 'send') throw new Error(`handshake failed: ${JSON.stringify(step)}`);
  socket.send(step.message);
  const done = await hs.receive(await next());
  if (done.kind !== 'done') throw new Error(`handshake failed: ${JSON.stringify(done)}`);
  texts.length = 0;
  return { socket, texts, closed };
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
