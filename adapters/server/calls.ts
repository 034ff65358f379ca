/**
 * The server side of the client protocol (`src/server/protocol.ts`): decodes and validates each
 * call (a malformed one is answered with `InvalidArgument` and counted, never thrown into the
 * store), runs it, and answers with the response item of the same id. Tracks calls in flight so
 * that a shutdown can finish them; calls arriving during shutdown are told to go elsewhere.
 */
import { ADMIN_ALL, authorize, requestNeeds } from '../../src/auth/permissions.ts';
import { publicView } from '../../src/auth/table.ts';
import { InvalidArgumentError, NotLeaderError, PermissionDeniedError, ServerBusyError } from '../../src/errors.ts';
import type { Logger } from '../../src/ports.ts';
import { type ClusterInfo, decodeCall, encodeAnswer, encodeCall, type ServerCall } from '../../src/server/protocol.ts';
import { createRequestAdmission, type RequestAdmissionLimits, type RequestAdmissionStats } from '../../src/server/request-admission.ts';
import { dispatchRequest } from '../../src/store/dispatch.ts';
import type { StoreEngine } from '../../src/store/store-engine.ts';
import type { WebSocketTransport } from '../transport/websocket.ts';
import type { AddressBook } from './address-book.ts';

/** What the call handler needs. */
export interface CallHandlerOptions {
  store: StoreEngine;
  book: AddressBook;
  info(): ClusterInfo;
  /** The stores the cluster was bootstrapped with (told to joining stores). */
  initialStoreIds: number[];
  transport: WebSocketTransport;
  logger: Logger;
  /** Wall-clock time in ms since the epoch (session expiry; default `Date.now`). */
  nowMs?: () => number;
  /** Caps on the reads and writes in flight (docs/overload.md); absent fields take the defaults. */
  admission?: Partial<RequestAdmissionLimits>;
}

/** See the module comment. */
export interface CallHandler {
  /** Runs a call that came on `from`'s link number `link` (`frame.link`): the answer goes only to that link. */
  handle(from: number, requestId: number, payload: Uint8Array, link?: number): void;
  /** Sends this store's address book to store `to` (one way). */
  announce(to: number): void;
  /** Refuses new calls and waits up to `timeoutMs` for those in flight. */
  drain(timeoutMs: number): Promise<void>;
  readonly counters: { calls: number; badRequests: number; refusedClosing: number; raftFromClients: number; denied: number; refusedUserCalls: number };
  /** Reads and writes admitted, shed and in flight. */
  admission(): RequestAdmissionStats;
}

/**
 * Creates the call handler of a store server.
 * @param options - the store, the address book and the transport to answer on.
 */
export function createCallHandler(options: CallHandlerOptions): CallHandler {
  const { store, book, transport, logger } = options;
  const counters = { calls: 0, badRequests: 0, refusedClosing: 0, raftFromClients: 0, denied: 0, refusedUserCalls: 0 };
  const inFlight = new Set<Promise<void>>();
  let closing = false;
  let nextRequestId = 1;
  const reserved = new Set<number>();
  // Only reads and writes queue behind each other in the store; routing and admin calls are few
  // and must get through an overload (a split or a leader move is how it is relieved).
  const lag = watchLoopLag();
  const admission = createRequestAdmission(store.storeId, options.admission ?? {}, () => performance.now(), lag.recentMs, lag.worstSince);

  const answer = (to: number, requestId: number, result: Parameters<typeof encodeAnswer>[0], link?: number) => {
    // The link the call came on was replaced meanwhile: its caller has given it up (docs/reconnect.md).
    if (link !== undefined && transport.linkOf(to) !== link) return;
    transport.send(to, [{ kind: 'response', requestId, payload: encodeAnswer(result) }]);
  };

  const nowMs = options.nowMs ?? Date.now;
  /**
   * Refuses a call its link may not make. Links that proved the cluster secret (stores, operator
   * tools) may make any; a user's link is checked against the auth table in force now.
   */
  const check = (from: number, call: ServerCall) => {
    const session = transport.sessionOf(from);
    if (session === undefined) return;
    const table = store.auth.table;
    if (nowMs() >= session.expiresAtMs) throw new PermissionDeniedError(call.t === 'kv' ? requestNeeds(call.r).operation : call.t, 'the login of this link expired; connect again');
    switch (call.t) {
      case 'kv': {
        const { operation, needs } = requestNeeds(call.r);
        return authorize(table, session.user, operation, needs);
      }
      case 'stores':
        return authorize(table, session.user, 'stores', []);
      case 'storeState':
      case 'auth':
      case 'authGet':
        return authorize(table, session.user, call.t === 'auth' ? call.change.op : call.t, [ADMIN_ALL]);
      default:
        // join, announce, seen: between stores only.
        counters.refusedUserCalls++;
        throw new PermissionDeniedError(call.t, 'only stores (holding the cluster secret) may make this call');
    }
  };

  const run = async (from: number, call: ServerCall): Promise<unknown> => {
    switch (call.t) {
      case 'auth':
        return publicView(await store.proposeAuth(call.change));
      case 'authGet':
        return publicView(store.auth.table);
      case 'kv':
        return dispatchRequest(store, call.r);
      case 'stores':
        return options.info();
      case 'announce':
        return void book.merge(from, call.stores);
      case 'storeState':
        store.setStoreState(call.storeId, call.state);
        return undefined;
      case 'seen':
        return { seen: store.seenIncarnationOf(call.storeId) ?? null, replicas: store.status().filter((s) => s.region.peers.some((p) => p.storeId === call.storeId)).length };
      case 'join': {
        const known = book.list().map((s) => s.id);
        const highest = Math.max(0, ...known, ...reserved);
        const id = call.storeId ?? highest + 1;
        // A store dials only stores of lower id, so a newcomer must have the highest id to reach everyone.
        if (call.storeId !== undefined && call.storeId <= highest) {
          throw new InvalidArgumentError('storeId', `store ${call.storeId} cannot join: ids up to ${highest} are taken; pick a higher id or leave it to the cluster`);
        }
        reserved.add(id);
        book.add(id, call.url);
        logger.info('store joining', { storeId: id, url: call.url, replaces: call.replaces });
        // A store that lost its data comes back under a new id: the old one is gone for good, and
        // PD replaces its replicas (TiKV: a wiped store is a new store).
        if (call.replaces !== undefined && store.pd) {
          logger.warn(`store ${call.replaces} lost its data and rejoins as store ${id}: marking store ${call.replaces} tombstone so that PD replaces its replicas`, { code: 'StoreReplaced', storeId: call.replaces, newStoreId: id });
          store.setStoreState(call.replaces, 'tombstone');
        }
        return { ...options.info(), assignedId: id, initialStoreIds: options.initialStoreIds };
      }
    }
  };

  return {
    counters,
    admission: () => admission.stats(),
    handle(from, requestId, payload, link) {
      counters.calls++;
      const call = decodeCall(payload);
      if (call instanceof InvalidArgumentError) {
        counters.badRequests++;
        logger.warn('bad request refused', { from, error: call.message });
        return answer(from, requestId, { ok: false, error: call }, link);
      }
      if (closing) {
        counters.refusedClosing++;
        const r = call.t === 'kv' ? call.r : undefined;
        const error = r && r.type !== 'regions' && r.type !== 'ident' && r.type !== 'backup' ? new NotLeaderError(r.regionId, 0) : new ServerBusyError('the store is shutting down');
        return answer(from, requestId, { ok: false, error }, link);
      }
      try {
        check(from, call);
      } catch (error) {
        counters.denied++;
        return answer(from, requestId, { ok: false, error }, link);
      }
      let release = () => {};
      if (call.t === 'kv' && (call.r.type === 'read' || call.r.type === 'write')) {
        // Refused before anything is proposed: always safe for the client to retry elsewhere or later.
        const ticket = admission.admit(payload.length, call.timeoutMs, from);
        if (ticket instanceof ServerBusyError) return answer(from, requestId, { ok: false, error: ticket }, link);
        release = ticket.release;
      }
      // The slot is held until the store settles the call, however it ends, so the caps bound
      // the store's work (and memory) even for callers that stopped waiting.
      const p = run(from, call)
        .then(
          (value) => answer(from, requestId, { ok: true, value }, link),
          (error) => answer(from, requestId, { ok: false, error }, link),
        )
        .finally(release);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    announce(to) {
      transport.send(to, [{ kind: 'request', requestId: nextRequestId++, payload: encodeCall({ t: 'announce', stores: book.list() }) }]);
    },
    async drain(timeoutMs) {
      closing = true;
      lag.stop();
      const deadline = performance.now() + timeoutMs;
      while (inFlight.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (inFlight.size > 0) logger.warn('shutting down with calls in flight', { calls: inFlight.size });
    },
  };
}

/** How often the event loop's lag is sampled, how long a sample counts as recent, and how long it is kept. */
const LAG_SAMPLE_MS = 20;
const LAG_WINDOW_MS = 1000;
const LAG_KEPT_MS = 60_000;

/**
 * Watches the event loop's lag: a timer asked for every {@link LAG_SAMPLE_MS} ms that fires late
 * shows how long anything arriving (a socket read, a call) waits before it is handled.
 * `recentMs` is the largest lag seen within the last second (and the lag of a sample overdue now);
 * `worstSince(t)` the largest since `t` (within the last minute).
 */
function watchLoopLag(): { recentMs: () => number; worstSince: (t: number) => number; stop: () => void } {
  const samples: Array<{ at: number; lagMs: number }> = [];
  let expected = performance.now() + LAG_SAMPLE_MS;
  const timer = setInterval(() => {
    const t = performance.now();
    if (t - expected > 1) samples.push({ at: t, lagMs: t - expected });
    expected = t + LAG_SAMPLE_MS;
    // Only samples that lagged are kept: a quiet minute keeps nothing.
    while (samples.length > 0 && samples[0].at < t - LAG_KEPT_MS) samples.shift();
  }, LAG_SAMPLE_MS);
  (timer as { unref?: () => void }).unref?.();
  const worstSince = (since: number) => {
    let worst = Math.max(0, performance.now() - expected - LAG_SAMPLE_MS);
    // A sample that fired at or after `since` stood still (at least partly) after it.
    for (let i = samples.length - 1; i >= 0 && samples[i].at >= since; i--) if (samples[i].lagMs > worst) worst = samples[i].lagMs;
    return worst;
  };
  return {
    recentMs: () => worstSince(performance.now() - LAG_WINDOW_MS),
    worstSince,
    stop: () => clearInterval(timer),
  };
}
