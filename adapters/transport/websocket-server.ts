/**
 * The WebSocket server side: listens, checks the browser `Origin` against an allow-list, admits
 * unauthenticated sockets under per-address and overall caps (`src/transport/admission.ts`),
 * limits message size, and hands every upgraded socket to a WebSocket transport, which
 * authenticates it and reports back whether it did.
 * Node uses `node:http` with header, request and idle timeouts (slow-loris) and the `ws` package
 * (with `maxPayload`, checked on the frame header before the payload is read); before a socket
 * authenticates, at most `preAuthBytesMax` raw bytes are accepted from it. Deno uses its native
 * `Deno.upgradeWebSocket`, which has no size limit, so the server checks each message's size first
 * thing, before the transport sees it, and closes the socket with 1009 when it is over.
 * With `tls`, both runtimes serve `wss://` through `ws` over `node:https` (Deno.serve cannot
 * request client certificates): plain `ws://` is refused by the TLS layer, and the certificate
 * can be replaced without a restart (`reloadTls`).
 * Browsers cannot listen: the `browser` export condition resolves to a stub that throws.
 * docs/hardening.md lists every limit and its default.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { DEFAULT_FRAME_LIMITS } from '../../src/codec/limits.ts';
import { type AdmissionLimits, type AdmissionRefusal, type AdmissionStats, createAdmission } from '../../src/transport/admission.ts';
import { originAllowed } from '../../src/transport/handshake.ts';
import type { AcceptInfo, TlsServerMaterial } from './tls.ts';
import type { WebSocketLike } from './websocket-link.ts';

const DEFAULT_PAYLOAD_BYTES_MAX = DEFAULT_FRAME_LIMITS.frameBytesMax + 64 * 1024;
/** Raw bytes an unauthenticated socket may send: the handshake needs two messages of at most 1 KiB. */
const DEFAULT_PRE_AUTH_BYTES_MAX = 64 * 1024;

/** HTTP limits of the upgrade port (Node's `http.Server` options; Deno's server has its own). */
export interface HttpTimeouts {
  /** Time to receive a request's headers, from the connection or the previous request (default 10,000 ms). */
  headersTimeoutMs: number;
  /** Time to receive a whole request (default 30,000 ms). */
  requestTimeoutMs: number;
  /** Idle time between requests on a kept-alive connection (default 5000 ms). */
  keepAliveTimeoutMs: number;
  /** Largest request head (request line and headers), in bytes (default 16 KiB). */
  headerBytesMax: number;
}

/** The defaults of {@link HttpTimeouts}. */
export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, headerBytesMax: 16 * 1024 });

/**
 * Completes partial HTTP limits with the defaults.
 * @param given - overrides.
 */
export function resolveHttpTimeouts(given?: Partial<HttpTimeouts>): HttpTimeouts {
  const out = { ...DEFAULT_HTTP_TIMEOUTS };
  for (const [k, v] of Object.entries(given ?? {})) if (v !== undefined) out[k as keyof HttpTimeouts] = v;
  // Node requires a request timeout no shorter than the headers timeout.
  out.requestTimeoutMs = Math.max(out.requestTimeoutMs, out.headersTimeoutMs);
  return out;
}

/** Node's HTTP parser errors and the status a refused client is sent. */
const HTTP_CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_HEADERS_TIMEOUT: [408, 'Request Timeout'],
};

/** What the server learns about an accepted socket, and how the transport reports back on it. */
export interface AcceptedLink extends AcceptInfo {
  /** The peer's IP address. */
  remoteAddress: string;
  /** The handshake succeeded: the socket stops counting as unauthenticated. */
  authenticated(): void;
  /** The handshake failed with `code` (counted; failed logins lead to back-off). */
  refused(code: string): void;
}

/** Options of {@link createWebSocketServer}. */
export interface WebSocketServerOptions {
  /** Receives each upgraded socket (a `WebSocketTransport`'s `accept`, passing `link` on). */
  accept(socket: WebSocketLike, link: AcceptedLink): void;
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
  /**
   * Caps on unauthenticated sockets and failed-login back-off. Given (the store server always
   * gives it), `accept` must report on every socket through its `link`: the pre-authentication
   * byte limit and the cut of refused sockets are on too. Absent: none of them, only `connectionsMax`.
   */
  admission?: Partial<AdmissionLimits>;
  /** Raw bytes a socket may send before it authenticates; more cuts it (with `admission`; default 64 KiB). */
  preAuthBytesMax?: number;
  /** How long a refused socket may take to answer our close frame before it is cut (Node; default 1000 ms). */
  refusedGraceMs?: number;
  /** Header, request and keep-alive timeouts and the header size limit (Node). */
  http?: Partial<HttpTimeouts>;
  /** Serve `wss://` only, with this certificate (Node and Deno, through `node:https`). */
  tls?: TlsServerMaterial;
}

/** Counters and gauges of a {@link WebSocketServer} (all counters since start). */
export interface WebSocketServerStats {
  originRefused: number;
  busyRefused: number;
  oversizeRefused: number;
  /** Sockets cut for sending more than `preAuthBytesMax` before authenticating. */
  preAuthOverflow: number;
  /** Refused sockets cut because they did not answer our close frame within `refusedGraceMs`. */
  refusedCut: number;
  /** Requests refused by the HTTP layer, by status (408 timeouts, 431 headers too large, 400 malformed). */
  httpRefused: Record<string, number>;
  /** Handshakes of accepted sockets refused, by failure code. */
  handshakeRefused: Record<string, number>;
  /** Upgrades refused by admission, by reason. */
  admissionRefused: Record<AdmissionRefusal, number>;
  /** Unauthenticated sockets open now. */
  unauthenticated: number;
  /** Addresses in failed-login back-off now. */
  addressesInBackoff: number;
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
  /** Every counter of the server. */
  stats(): WebSocketServerStats;
  /** Stops listening and closes every socket it accepted. */
  close(): Promise<void>;
}

interface MutableStats {
  origin: number;
  busy: number;
  oversize: number;
  preAuthOverflow: number;
  refusedCut: number;
  httpRefused: Record<string, number>;
  handshakeRefused: Record<string, number>;
}

function newStats(): MutableStats {
  return { origin: 0, busy: 0, oversize: 0, preAuthOverflow: 0, refusedCut: 0, httpRefused: {}, handshakeRefused: {} };
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function snapshot(s: MutableStats, admission: { stats(): AdmissionStats } | undefined): WebSocketServerStats {
  const a = admission?.stats();
  return {
    originRefused: s.origin,
    busyRefused: s.busy,
    oversizeRefused: s.oversize,
    preAuthOverflow: s.preAuthOverflow,
    refusedCut: s.refusedCut,
    httpRefused: { ...s.httpRefused },
    handshakeRefused: { ...s.handshakeRefused },
    admissionRefused: a?.refused ?? { TooManyFromAddress: 0, TooManyUnauthenticated: 0, AuthBackoff: 0 },
    unauthenticated: a?.unauthenticated ?? 0,
    addressesInBackoff: a?.addressesInBackoff ?? 0,
  };
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
  serve(options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void }, handler: (req: Request, info?: { remoteAddr?: { hostname?: string } }) => Response): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
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
  const { createServer } = await import('node:http');
  const connectionsMax = options.connectionsMax ?? 1024;
  const t = resolveHttpTimeouts(options.http);
  const preAuthBytesMax = options.preAuthBytesMax ?? DEFAULT_PRE_AUTH_BYTES_MAX;
  const refusedGraceMs = options.refusedGraceMs ?? 1000;
  const admission = options.admission === undefined ? undefined : createAdmission({ ...options.admission, now: () => performance.now() });
  const stats = newStats();
  const wss = new WsServer({ noServer: true, maxPayload: options.maxPayloadBytes ?? DEFAULT_PAYLOAD_BYTES_MAX });
  const httpOptions = { headersTimeout: t.headersTimeoutMs, requestTimeout: t.requestTimeoutMs, keepAliveTimeout: t.keepAliveTimeoutMs, maxHeaderSize: t.headerBytesMax, connectionsCheckingInterval: Math.min(1000, t.headersTimeoutMs) };
  const tls = options.tls;
  // The TLS layer asks for a certificate but never refuses a peer without one: clients (browsers)
  // have none; the transport refuses a *store* whose certificate did not verify. A TLS handshake
  // that does not finish within the header timeout is cut (slow-loris below HTTP).
  const https = tls === undefined ? undefined : (await import('node:https')).createServer({ ...httpOptions, ...tls, requestCert: tls.requestCert === true, rejectUnauthorized: false, handshakeTimeout: t.headersTimeoutMs });
  const http = https ?? createServer(httpOptions);
  // Node checks headersTimeout only while a request is being parsed; a socket that connects and
  // sends nothing is cut by this idle timeout instead (ws clears it once the socket is upgraded).
  // With TLS the timeout goes on the TLS socket, the one ws sees and clears.
  http.on(https === undefined ? 'connection' : 'secureConnection', (socket: Socket) => socket.setTimeout(t.headersTimeoutMs, () => socket.destroy()));
  http.on('request', (_req, res) => res.writeHead(426, { connection: 'close' }).end('WebSocket only\n'));
  http.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const [status, text] = HTTP_CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request'];
    count(stats.httpRefused, String(status));
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n\r\n`);
    socket.destroy();
  });
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const refuse = (status: number, message: string) => {
      socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Length: 0\r\n${status === 429 ? 'Retry-After: 10\r\n' : ''}\r\n`);
      socket.destroy();
    };
    socket.on('error', () => socket.destroy());
    if (!originAllowed(req.headers.origin, options.allowedOrigins)) {
      stats.origin++;
      return refuse(403, 'origin not allowed');
    }
    if (wss.clients.size >= connectionsMax) {
      stats.busy++;
      return refuse(503, 'too many connections');
    }
    const verdict = admission?.admit(socket.remoteAddress ?? '');
    if (verdict !== undefined && !verdict.ok) return refuse(verdict.status, verdict.reason);
    const ticket = verdict?.ticket;
    socket.once('close', () => ticket?.closed());
    wss.handleUpgrade(req, socket, head, (ws) => {
      let authenticated = false;
      // Until the handshake succeeds, the peer may send only a few small handshake messages:
      // more than preAuthBytesMax raw bytes (counted as they arrive, before ws assembles a
      // message of up to maxPayload) cuts the socket.
      let preAuthBytes = 0;
      const meter = (chunk: Buffer) => {
        preAuthBytes += chunk.length;
        if (preAuthBytes <= preAuthBytesMax) return;
        stats.preAuthOverflow++;
        socket.off('data', meter);
        socket.destroy();
      };
      if (admission !== undefined) socket.on('data', meter);
      // ws closes the socket with 1009 itself, having read only the frame header; count it.
      ws.on('error', (err: Error & { code?: string }) => {
        if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') stats.oversize++;
      });
      options.accept(ws as unknown as WebSocketLike, {
        remoteAddress: socket.remoteAddress ?? '',
        peerCertVerified: (socket as { authorized?: boolean }).authorized === true,
        authenticated() {
          authenticated = true;
          socket.off('data', meter);
          ticket?.authenticated();
        },
        refused(code) {
          count(stats.handshakeRefused, code);
          ticket?.refused(code);
          // A refused peer that does not answer our close frame is not waited for (ws would wait 30 s).
          if (authenticated || admission === undefined) return;
          setTimeout(() => {
            if (ws.readyState === ws.CLOSED) return;
            stats.refusedCut++;
            ws.terminate();
          }, refusedGraceMs).unref();
        },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (http.address() as { port: number }).port;
  return {
    port,
    url: `${https === undefined ? 'ws' : 'wss'}://${host}:${port}`,
    reloadTls(next) {
      if (https === undefined) throw new Error('this server was started without TLS');
      https.setSecureContext(next);
    },
    originRefused: () => stats.origin,
    busyRefused: () => stats.busy,
    oversizeRefused: () => stats.oversize,
    stats: () => snapshot(stats, admission),
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function serveDeno(deno: DenoLike, host: string, options: WebSocketServerOptions): Promise<WebSocketServer> {
  const connectionsMax = options.connectionsMax ?? 1024;
  const payloadBytesMax = options.maxPayloadBytes ?? DEFAULT_PAYLOAD_BYTES_MAX;
  const preAuthBytesMax = options.preAuthBytesMax ?? DEFAULT_PRE_AUTH_BYTES_MAX;
  const admission = options.admission === undefined ? undefined : createAdmission({ ...options.admission, now: () => performance.now() });
  const stats = newStats();
  const sockets = new Set<DenoSocket>();
  let resolvePort: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  const server = deno.serve({ hostname: host, port: options.port ?? 0, onListen: (addr) => resolvePort(addr.port) }, (req, info) => {
    if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('WebSocket only', { status: 426 });
    if (!originAllowed(req.headers.get('origin'), options.allowedOrigins)) {
      stats.origin++;
      return new Response('origin not allowed', { status: 403 });
    }
    if (sockets.size >= connectionsMax) {
      stats.busy++;
      return new Response('too many connections', { status: 503 });
    }
    const remoteAddress = info?.remoteAddr?.hostname ?? '';
    const verdict = admission?.admit(remoteAddress);
    if (verdict !== undefined && !verdict.ok) return new Response(verdict.reason, { status: verdict.status });
    const ticket = verdict?.ticket;
    const { socket, response } = deno.upgradeWebSocket(req);
    sockets.add(socket);
    let authenticated = false;
    let preAuthBytes = 0;
    socket.addEventListener('close', () => {
      sockets.delete(socket);
      ticket?.closed();
    });
    // Deno has no size limit of its own: check every message first thing. This listener is added
    // before the transport's handler (set on open), so it runs first and stops an oversized
    // message from reaching it at all; the socket is closed with 1009 and the reason. Before the
    // handshake succeeds, the messages together may not exceed preAuthBytesMax.
    socket.addEventListener('message', (ev) => {
      const limit = authenticated || admission === undefined ? payloadBytesMax : Math.min(payloadBytesMax, preAuthBytesMax - preAuthBytes);
      const size = messageBytes(ev.data, limit);
      preAuthBytes += authenticated ? 0 : size;
      if (size <= limit) return;
      ev.stopImmediatePropagation();
      if (authenticated || size > payloadBytesMax) stats.oversize++;
      else stats.preAuthOverflow++;
      socket.close(1009, `message too big: ${size} bytes, limit ${limit}`);
    });
    // Deno's socket is not open until the upgrade response is sent: accept it once it is.
    socket.onopen = () =>
      options.accept(socket, {
        remoteAddress,
        peerCertVerified: false,
        authenticated() {
          authenticated = true;
          ticket?.authenticated();
        },
        refused(code) {
          count(stats.handshakeRefused, code);
          ticket?.refused(code);
        },
      });
    return response;
  });
  const port = await listening;
  return {
    port,
    url: `ws://${host}:${port}`,
    reloadTls() {
      throw new Error('this server was started without TLS');
    },
    originRefused: () => stats.origin,
    busyRefused: () => stats.busy,
    oversizeRefused: () => stats.oversize,
    stats: () => snapshot(stats, admission),
    async close() {
      for (const s of sockets) s.close(1001, 'server closing');
      await server.shutdown();
    },
  };
}
