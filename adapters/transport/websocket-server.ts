/**
 * The WebSocket server side: listens, checks the browser `Origin` against an allow-list, limits
 * message size, and hands every upgraded socket to a WebSocket transport, which authenticates it.
 * Node uses the `ws` package (with `maxPayload`, checked on the frame header before the payload is
 * read); Deno uses its native `Deno.upgradeWebSocket`, which has no size limit, so the server
 * checks each message's size first thing, before the transport sees it, and closes the socket with
 * 1009 when it is over.
 * With `tls`, both runtimes serve `wss://` through `ws` over `node:https` (Deno.serve cannot
 * request client certificates): plain `ws://` is refused by the TLS layer, and the certificate
 * can be replaced without a restart (`reloadTls`).
 * Browsers cannot listen: the `browser` export condition resolves to a stub that throws.
 */
import { DEFAULT_FRAME_LIMITS } from '../../src/codec/limits.ts';
import { originAllowed } from '../../src/transport/handshake.ts';
import type { AcceptInfo, TlsServerMaterial } from './tls.ts';
import type { WebSocketLike } from './websocket-link.ts';

const DEFAULT_PAYLOAD_BYTES_MAX = DEFAULT_FRAME_LIMITS.frameBytesMax + 64 * 1024;

/** Options of {@link createWebSocketServer}. */
export interface WebSocketServerOptions {
  /** Receives each upgraded socket (a `WebSocketTransport`'s `accept`), and with `tls` whether its peer's certificate verified. */
  accept(socket: WebSocketLike, info?: AcceptInfo): void;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port (default 0: any free port; read the chosen one from the result). */
  port?: number;
  /** Browser origins allowed to connect; absent: any. Requests without an Origin (not browsers) pass. */
  allowedOrigins?: readonly string[];
  /** Largest WebSocket message accepted; a larger one closes the socket with 1009 (default frame limit + 64 KiB). */
  maxPayloadBytes?: number;
  /** Open sockets beyond which upgrades are refused with 503 (default 1024): bounds what unauthenticated peers can hold. */
  connectionsMax?: number;
  /** Serve `wss://` only, with this certificate (Node and Deno, through `node:https`). */
  tls?: TlsServerMaterial;
}

/** A listening server. */
export interface WebSocketServer {
  /** The port actually listened on. */
  readonly port: number;
  /** `ws://host:port` (`wss://` with TLS). */
  readonly url: string;
  /** Replaces the certificate, key and CA for new connections (open ones keep theirs). Throws on bad material, keeping the old. */
  reloadTls(tls: TlsServerMaterial): void;
  /** Connections refused before the upgrade because of their Origin. */
  originRefused(): number;
  /** Connections refused before the upgrade because `connectionsMax` sockets were open. */
  busyRefused(): number;
  /** Sockets closed (1009) because a message was over `maxPayloadBytes`. */
  oversizeRefused(): number;
  /** Stops listening and closes every socket it accepted. */
  close(): Promise<void>;
}

interface DenoSocket extends WebSocketLike {
  addEventListener(type: 'close', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown; stopImmediatePropagation(): void }) => void): void;
}

const utf8 = new TextEncoder();

/**
 * The size in bytes of a WebSocket message's `data`, as far as needed to compare it with `limit`
 * (a text message is only encoded when its length alone cannot decide).
 * @param data - an ArrayBuffer, a view, a Blob or a string.
 * @param limit - the largest size allowed.
 */
export function messageBytes(data: unknown, limit: number): number {
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof data === 'string') {
    // UTF-8 takes at least one and at most three bytes per UTF-16 code unit.
    if (data.length > limit || data.length * 3 <= limit) return data.length;
    return utf8.encode(data).length;
  }
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  return 0;
}

interface DenoLike {
  serve(options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void }, handler: (req: Request) => Response): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
  upgradeWebSocket(req: Request): { socket: DenoSocket; response: Response };
}

/**
 * Starts a WebSocket server (Node via `ws`, Deno natively).
 * @param options - where to listen, whom to hand sockets to, origins and size limit.
 */
export async function createWebSocketServer(options: WebSocketServerOptions): Promise<WebSocketServer> {
  const host = options.host ?? '127.0.0.1';
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  return deno !== undefined && options.tls === undefined ? serveDeno(deno, host, options) : serveNode(host, options);
}

async function serveNode(host: string, options: WebSocketServerOptions): Promise<WebSocketServer> {
  const { WebSocketServer: WsServer } = await import('ws');
  const connectionsMax = options.connectionsMax ?? 1024;
  let refused = 0;
  let busy = 0;
  let oversize = 0;
  const tls = options.tls;
  // The TLS layer asks for a certificate but never refuses a peer without one: clients (browsers)
  // have none; the transport refuses a *store* whose certificate did not verify.
  // A TLS handshake gets 10 s (Node's default is 120 s): a peer that never finishes one holds nothing long.
  const https =
    tls === undefined
      ? undefined
      : (await import('node:https')).createServer({ ...tls, requestCert: tls.requestCert === true, rejectUnauthorized: false, handshakeTimeout: 10_000 }, (_req, res) => {
          res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
        });
  const wss = new WsServer({
    ...(https === undefined ? { host, port: options.port ?? 0 } : { server: https }),
    maxPayload: options.maxPayloadBytes ?? DEFAULT_PAYLOAD_BYTES_MAX,
    verifyClient: (info: { origin?: string }, done: (ok: boolean, code?: number, message?: string) => void) => {
      if (!originAllowed(info.origin, options.allowedOrigins)) {
        refused++;
        return done(false, 403, 'origin not allowed');
      }
      if (wss.clients.size >= connectionsMax) {
        busy++;
        return done(false, 503, 'too many connections');
      }
      done(true);
    },
  });
  await new Promise<void>((resolve, reject) => {
    const events = https ?? wss;
    events.once('listening', resolve);
    events.once('error', reject);
    https?.listen(options.port ?? 0, host);
  });
  wss.on('connection', (socket, req) => {
    // ws closes the socket with 1009 itself, having read only the frame header; count it.
    socket.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') oversize++;
    });
    const verified = (req.socket as { authorized?: boolean }).authorized === true;
    options.accept(socket as unknown as WebSocketLike, https === undefined ? undefined : { peerCertVerified: verified });
  });
  const port = ((https ?? wss).address() as { port: number }).port;
  return {
    port,
    url: `${https === undefined ? 'ws' : 'wss'}://${host}:${port}`,
    reloadTls(next) {
      if (https === undefined) throw new Error('this server was started without TLS');
      https.setSecureContext(next);
    },
    originRefused: () => refused,
    busyRefused: () => busy,
    oversizeRefused: () => oversize,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (https !== undefined) {
        https.closeAllConnections?.();
        await new Promise<void>((resolve) => https.close(() => resolve()));
      }
    },
  };
}

async function serveDeno(deno: DenoLike, host: string, options: WebSocketServerOptions): Promise<WebSocketServer> {
  const connectionsMax = options.connectionsMax ?? 1024;
  const payloadBytesMax = options.maxPayloadBytes ?? DEFAULT_PAYLOAD_BYTES_MAX;
  let refused = 0;
  let busy = 0;
  let oversize = 0;
  const sockets = new Set<DenoSocket>();
  let resolvePort: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  const server = deno.serve({ hostname: host, port: options.port ?? 0, onListen: (addr) => resolvePort(addr.port) }, (req) => {
    if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('WebSocket only', { status: 426 });
    if (!originAllowed(req.headers.get('origin'), options.allowedOrigins)) {
      refused++;
      return new Response('origin not allowed', { status: 403 });
    }
    if (sockets.size >= connectionsMax) {
      busy++;
      return new Response('too many connections', { status: 503 });
    }
    const { socket, response } = deno.upgradeWebSocket(req);
    sockets.add(socket);
    socket.addEventListener('close', () => sockets.delete(socket));
    // Deno has no size limit of its own: check every message first thing. This listener is added
    // before the transport's handler (set on open), so it runs first and stops an oversized
    // message from reaching it at all; the socket is closed with 1009 and the reason.
    socket.addEventListener('message', (ev) => {
      const size = messageBytes(ev.data, payloadBytesMax);
      if (size <= payloadBytesMax) return;
      ev.stopImmediatePropagation();
      oversize++;
      socket.close(1009, `message too big: ${size} bytes, limit ${payloadBytesMax}`);
    });
    // Deno's socket is not open until the upgrade response is sent: accept it once it is.
    socket.onopen = () => options.accept(socket);
    return response;
  });
  const port = await listening;
  return {
    port,
    url: `ws://${host}:${port}`,
    reloadTls() {
      throw new Error('this server was started without TLS');
    },
    originRefused: () => refused,
    busyRefused: () => busy,
    oversizeRefused: () => oversize,
    async close() {
      for (const s of sockets) s.close(1001, 'server closing');
      await server.shutdown();
    },
  };
}
