/**
 * The HTTP side of a store server (`--http host:port`): `GET /status` (JSON: the store, whether it
 * serves, and each region with its range, epoch, role, term, leader, commit and applied index),
 * `GET /metrics` (Prometheus text format) and `GET /health` (200 while the store serves, 503 with
 * the reason once it stopped on a storage failure or is shutting down: for load balancers and
 * orchestrators). Uses `node:http`, which Node and Deno both provide, or `node:https` when the
 * store runs TLS (then plain `http://` is refused).
 *
 * Who may read `/status` and `/metrics` (they name keys: region boundaries): while auth is
 * disabled, requests from loopback only; once it is enabled, requests with
 * `Authorization: Bearer <token>` of a user with admin on the whole key space, from anywhere
 * (loopback too). `/health` stays open for load balancers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { ADMIN_ALL, authorize } from '../../src/auth/permissions.ts';
import type { TlsServerMaterial } from '../transport/tls.ts';
import { type HttpTimeouts, resolveHttpTimeouts } from '../transport/websocket-server.ts';
import type { RequestAdmissionStats } from '../../src/server/request-admission.ts';
import type { StoreServer } from './store-server.ts';

/** Connections the status port holds at once; more are dropped on accept (it serves operators, not crowds). */
const STATUS_CONNECTIONS_MAX = 64;

/** The JSON of `GET /status`. */
export interface StoreStatus {
  storeId: number;
  clusterId: string;
  url: string;
  /** False once the store stopped on a storage failure (then `reason` says why) or is shutting down. */
  serving: boolean;
  reason?: string;
  stores: Array<{ id: number; url: string }>;
  pdStoreIds: number[];
  /** The incarnation of this store's data (docs/store-identity.md). */
  incarnation: string | undefined;
  /** The first incarnation this store recorded of each other store, by id: what it holds their replicas to. */
  seenIncarnations: Record<number, string>;
  /** Replicas on other stores refused here because their store lost its data since it made them. */
  lostReplicas: Array<{ regionId: number; peerId: number; storeId: number; expected: string; actual: string }>;
  /** Load shedding (docs/overload.md): reads and writes admitted, shed by reason, in flight. */
  admission: RequestAdmissionStats;
  /** TTL leases (docs/leases.md): whether this store leads PD's group and so keeps the leases, and its counters. */
  leases?: { keeper: boolean; granted: number; expired: number; revokeRequests: number; forgotten: number };
  regions: Array<{
    id: number;
    startKey: string;
    endKey: string;
    epoch: { confVer: number; version: number };
    peers: Array<{ id: number; storeId: number; role: string }>;
    peerId: number;
    role: string;
    term: number;
    leaderStoreId: number;
    commit: number;
    applied: number;
  }>;
}

/** A key for display: UTF-8 when it is printable text, else hex prefixed with `0x`. */
function showKey(key: Uint8Array): string {
  const text = new TextDecoder().decode(key);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this detects.
  if (!/[\u0000-\u001f\ufffd]/.test(text)) return text;
  return `0x${[...key].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The status of a store server, as `GET /status` answers it.
 * @param server - the running server.
 */
export function storeStatus(server: StoreServer): StoreStatus {
  const info = server.info();
  const leaders = new Map(server.store.regions().map((r) => [r.region.id, r.leaderStoreId]));
  const health = server.health();
  return {
    storeId: server.storeId,
    clusterId: info.clusterId,
    url: server.url,
    serving: health.serving,
    ...(health.reason !== undefined ? { reason: health.reason } : {}),
    stores: info.stores,
    pdStoreIds: info.pdStoreIds,
    incarnation: server.store.incarnationOf(server.storeId),
    seenIncarnations: server.store.seenIncarnations(),
    lostReplicas: server.store.lostReplicas(),
    admission: server.admission(),
    ...(server.store.leases ? { leases: { keeper: server.store.leases.isLeader(), ...server.store.leases.counters } } : {}),
    regions: server.store
      .status()
      .sort((a, b) => a.region.id - b.region.id)
      .map((s) => ({
        id: s.region.id,
        startKey: showKey(s.region.startKey),
        endKey: showKey(s.region.endKey),
        epoch: s.region.epoch,
        peers: s.region.peers.map((p) => ({ id: p.id, storeId: p.storeId, role: p.role })),
        peerId: s.peerId,
        // A stopped store's replicas are not followers of anyone any more, whatever Raft last said.
        role: health.serving ? s.raft.role : 'stopped',
        term: s.raft.term,
        leaderStoreId: leaders.get(s.region.id) ?? s.region.peers.find((p) => p.id === s.raft.lead)?.storeId ?? 0,
        commit: s.raft.commit,
        applied: s.applied,
      })),
  };
}

/**
 * The metrics of a store server in Prometheus text format.
 * @param server - the running server.
 */
export function storeMetrics(server: StoreServer, statusRefused: Record<string, number> = {}): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[string, number]>) => {
    lines.push(`# HELP flotilla_${name} ${help}`, `# TYPE flotilla_${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`flotilla_${name}${labels} ${value}`);
  };
  const store = `store="${server.storeId}"`;
  metric('store_serving', 'gauge', 'Whether the store serves (0 once stopped on a storage failure or shutting down).', [[`{${store}}`, server.health().serving ? 1 : 0]]);
  for (const [k, v] of Object.entries(server.store.counters)) metric(`store_${snake(k)}_total`, 'counter', `StoreEngine counter ${k}.`, [[`{${store}}`, v]]);
  for (const [k, v] of Object.entries(server.counters)) metric(`server_${snake(k)}_total`, 'counter', `Server counter ${k}.`, [[`{${store}}`, v]]);
  const status = storeStatus(server);
  const data = status.regions.filter((r) => r.id !== Number.MAX_SAFE_INTEGER);
  metric('regions', 'gauge', 'Region replicas hosted by the store (PD group excluded).', [[`{${store}}`, data.length]]);
  metric('leaders', 'gauge', 'Regions the store leads (PD group excluded).', [[`{${store}}`, data.filter((r) => r.role === 'leader').length]]);
  metric('region_term', 'gauge', 'Raft term of each replica.', status.regions.map((r) => [`{${store},region="${r.id}"}`, r.term]));
  metric('region_commit_index', 'gauge', 'Commit index of each replica.', status.regions.map((r) => [`{${store},region="${r.id}"}`, r.commit]));
  metric('region_applied_index', 'gauge', 'Applied index of each replica.', status.regions.map((r) => [`{${store},region="${r.id}"}`, r.applied]));
  const t = server.transport.stats();
  metric('transport_frames_accepted_total', 'counter', 'Inbound frames accepted.', [[`{${store}}`, t.accepted]]);
  metric('transport_frames_rejected_total', 'counter', 'Inbound frames refused.', [[`{${store}}`, t.rejected]]);
  metric('transport_reconnects_total', 'counter', 'Links redialled.', [[`{${store}}`, t.reconnects]]);
  metric('transport_links_replaced_total', 'counter', 'Links replaced by a newer authenticated link of the same peer (docs/reconnect.md).', [[`{${store}}`, t.linksReplaced]]);
  metric('transport_links_kept_total', 'counter', 'Newer links of a peer refused because its current link wins the tie-break.', [[`{${store}}`, t.linksKept]]);
  const refused = Object.values(t.handshakeRefused).reduce((a, b) => a + b, 0);
  metric('transport_handshakes_refused_total', 'counter', 'Handshakes refused (both directions).', [[`{${store}}`, refused]]);
  const a = status.admission;
  metric('requests_admitted_total', 'counter', 'Reads and writes admitted (docs/overload.md).', [[`{${store}}`, a.admitted]]);
  metric('requests_shed_total', 'counter', 'Reads and writes refused with ServerBusy before any work, by reason (requests, bytes: a cap on what is in flight; concurrency: the adaptive limit; fairness: the connection holds its share; wait: requests take longer now than its deadline allows; expired: read after it).', Object.entries(a.shed).map(([k, v]) => [`{${store},reason="${k}"}`, v]));
  metric('requests_late_total', 'counter', 'Admitted reads and writes answered after the deadline their client gave.', [[`{${store}}`, a.late]]);
  metric('requests_late_after_stall_total', 'counter', 'Of those, the ones during which the process stood still for half their deadline or more.', [[`{${store}}`, a.lateAfterStall]]);
  metric('requests_in_flight', 'gauge', 'Reads and writes admitted and not yet answered.', [[`{${store}}`, a.inFlight]]);
  metric('requests_in_flight_bytes', 'gauge', 'Bytes of the reads and writes admitted and not yet answered.', [[`{${store}}`, a.inFlightBytes]]);
  metric('event_loop_lag_ms', 'gauge', 'Largest lag of the event loop within the last second: how late what arrives is read.', [[`{${store}}`, a.arrivalDelayMs]]);
  metric('requests_concurrency_limit', 'gauge', 'The adaptive limit on reads and writes in flight (grows while answers come within the latency target).', [[`{${store}}`, a.concurrencyLimit]]);
  metric('requests_latency_ms', 'gauge', 'Mean time from admission to answer of the reads and writes answered in the last second.', [[`{${store}}`, a.latencyMs]]);
  hostileMetrics(metric, store, server, statusRefused);
  return `${lines.join('\n')}\n`;
}

type Metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[string, number]>) => void;

/** What operators watch for an attack: every refusal before and during authentication, by reason. */
function hostileMetrics(metric: Metric, store: string, server: StoreServer, statusRefused: Record<string, number>): void {
  const l = server.listenerStats();
  const by = (label: string, counts: Record<string, number>): Array<[string, number]> => Object.entries(counts).map(([k, v]) => [`{${store},${label}="${k}"}`, v]);
  const refusals: Record<string, number> = { ...l.admissionRefused, Origin: l.originRefused, Busy: l.busyRefused };
  metric('listener_upgrades_refused_total', 'counter', 'Upgrades refused before any WebSocket was made, by reason (Origin, Busy: connectionsMax, TooManyFromAddress, TooManyUnauthenticated, AuthBackoff).', by('reason', refusals));
  metric('listener_handshakes_refused_total', 'counter', 'Handshakes of accepted sockets refused, by failure code (Timeout, BadProof, Malformed, ...).', by('code', server.transport.stats().handshakeRefused));
  metric('listener_http_refused_total', 'counter', 'Requests refused by the HTTP layer of the WebSocket port, by status (408 timeout, 431 headers too large, 400).', by('status', l.httpRefused));
  metric('listener_pre_auth_overflow_total', 'counter', 'Sockets cut for sending too many bytes before authenticating.', [[`{${store}}`, l.preAuthOverflow]]);
  metric('listener_refused_cut_total', 'counter', 'Refused sockets cut for not answering the close frame.', [[`{${store}}`, l.refusedCut]]);
  metric('listener_oversize_total', 'counter', 'Sockets closed (1009) for a message over the payload limit.', [[`{${store}}`, l.oversizeRefused]]);
  metric('listener_unauthenticated', 'gauge', 'Unauthenticated sockets open now.', [[`{${store}}`, l.unauthenticated]]);
  metric('listener_addresses_in_backoff', 'gauge', 'Remote addresses refused now after repeated failed logins.', [[`{${store}}`, l.addressesInBackoff]]);
  metric('status_http_refused_total', 'counter', 'Requests refused by the status port, by status (408, 431, 400, 405).', by('status', statusRefused));
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * Whether `req` may read `/status` or `/metrics` (see the module comment).
 * @returns undefined when it may, else the HTTP status and why not.
 */
export function statusAccess(server: StoreServer, req: IncomingMessage): { status: 401 | 403; reason: string } | undefined {
  const table = server.store.auth.table;
  if (!table.enabled) {
    if (LOOPBACK.has(req.socket.remoteAddress ?? '')) return undefined;
    return { status: 403, reason: 'answered on loopback only while auth is disabled' };
  }
  const m = /^Bearer ([A-Za-z0-9_.-]{1,512})$/.exec(req.headers.authorization ?? '');
  if (!m) return { status: 401, reason: 'send Authorization: Bearer <token> of an admin user (flotilla auth token)' };
  const checked = server.checkToken(m[1]);
  if (!checked.ok) return { status: 401, reason: `token refused: ${checked.reason}` };
  try {
    authorize(table, checked.user, 'status', [ADMIN_ALL]);
  } catch (e) {
    return { status: 403, reason: (e as Error).message };
  }
  return undefined;
}

/**
 * Serves `/status`, `/metrics` and `/health` for `server` on `host:port`.
 * @param tls - serve `https://` only, with this certificate (no client certificate is asked for).
 * @returns the HTTP server (close it on shutdown; `setSecureContext` reloads its certificate).
 */
export async function startStatusServer(server: StoreServer, host: string, port: number, limits?: Partial<HttpTimeouts>, tls?: TlsServerMaterial): Promise<Server | HttpsServer> {
  const t = resolveHttpTimeouts(limits);
  const refused: Record<string, number> = {};
  const count = (status: number) => {
    refused[status] = (refused[status] ?? 0) + 1;
  };
  const options = { headersTimeout: t.headersTimeoutMs, requestTimeout: t.requestTimeoutMs, keepAliveTimeout: t.keepAliveTimeoutMs, maxHeaderSize: t.headerBytesMax, connectionsCheckingInterval: Math.min(1000, t.headersTimeoutMs) };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const denied = path === '/status' || path === '/metrics' ? statusAccess(server, req) : undefined;
    if (req.method !== 'GET') {
      // Bodies are never read: close rather than drain whatever the client is sending.
      count(405);
      res.writeHead(405, { connection: 'close' }).end('GET only\n');
    } else if (denied) {
      count(denied.status);
      res.writeHead(denied.status, { 'content-type': 'text/plain', ...(denied.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) }).end(`${denied.reason}\n`);
    } else if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(storeStatus(server), null, 2)}\n`);
    } else if (path === '/health') {
      const h = server.health();
      res.writeHead(h.serving ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(h)}\n`);
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(storeMetrics(server, refused));
    } else {
      res.writeHead(404).end('try /status, /metrics or /health\n');
    }
  };
  const http = tls === undefined ? createServer(options, handler) : createHttpsServer({ ...options, cert: tls.cert, key: tls.key }, handler);
  http.maxConnections = STATUS_CONNECTIONS_MAX;
  // headersTimeout is checked only while a request is parsed; an idle socket is cut by this.
  http.on('connection', (socket: Socket) => socket.setTimeout(t.keepAliveTimeoutMs + t.headersTimeoutMs, () => socket.destroy()));
  http.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT' ? 408 : 400;
    count(status);
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\n\r\n`);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new Error(`cannot listen on ${host}:${port} (--http): the address is in use (EADDRINUSE)`) : e));
    http.listen(port, host, () => resolve());
  });
  return http;
}
