/**
 * A conformance harness whose second endpoint (the one the cases send to) is a WebSocket store in
 * another process or runtime, hosted by a host session (`remote-host-session.ts`) and driven over a
 * control socket, while the other endpoints are real WebSocket transports here. Runtime-neutral
 * (no Node or vitest imports): it takes the WebSocket constructor and, for the server mode, a
 * server factory. Chromium and Deno drive a Node host (`startRemoteHost`); Node drives a host in
 * Chromium or Deno the other way round (`startReverseDriver`, over a socket the host dialled).
 *
 * - `client` mode: the remote store listens; the local stores dial it.
 * - `server` mode: each local store listens; the remote store dials them.
 *
 * The remote endpoint is a proxy {@link Transport}: its frames and disconnects are relayed here as
 * they happen; `send` forwards the items and returns true once forwarded (a refusal at the host is
 * counted in `refusedByHost`); `queuedBytes` is the host's figure as of the last `settle`. The cases
 * only ever check `send` and `queuedBytes` of the local endpoints (see `conformance-cases.ts`).
 */
import { createRealClock } from '../../adapters/runtime/real-clock.ts';
import type { WebSocketConstructor, WebSocketLike, WebSocketTransport } from '../../adapters/transport/websocket.ts';
import { createWebSocketTransport } from '../../adapters/transport/websocket.ts';
import { decodeFrame, encodeFrame } from '../../src/codec/frame.ts';
import { resolveFrameLimits } from '../../src/codec/limits.ts';
import { packValue, unpackValue } from '../../src/codec/msgpack.ts';
import type { Frame } from '../../src/codec/schema.ts';
import type { DisconnectInfo, Transport } from '../../src/transport/port.ts';
import { createHandlerList } from '../../src/transport/guard.ts';
import type { TransportHarness } from './conformance-cases.ts';

/** The cluster every remote-harness store belongs to. */
export const REMOTE_CLUSTER = 'remote-conformance';
/** Their shared secret. */
export const REMOTE_SECRET = 'flotilla remote conformance secret';
/** Frames relayed over the control socket may be this large (the cases send up to 9 MiB). */
export const RELAY_LIMITS = resolveFrameLimits({ frameBytesMax: 32 * 1024 * 1024 });

/**
 * Control messages, MessagePack arrays. Driver → host: `['start', rid, id, peers, queueBytesMax,
 * frameBytesMax, slowReceiver]` (no peers: the store listens and the answer gives its URL), `['send', id, to, frameBytes]`, `['close', rid, id]`, `['ping', rid]`,
 * `['stop', rid]`. Host → driver: `['ok', rid, value]`, `['error', rid, message]`,
 * `['frame', id, frameBytes]`, `['disconnect', id, storeId, reason]`, `['refused', id, to]`.
 */
export type ControlMessage = unknown[];

/** Packs a control message into bytes of its own. */
export function packControl(msg: ControlMessage): Uint8Array {
  return packValue(msg).slice();
}

/** Unpacks a control message. */
export function unpackControl(data: unknown): ControlMessage {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
  return unpackValue(bytes) as ControlMessage;
}

/** A server the `server` mode makes for each local store (`createWebSocketServer` in Deno or Node). */
export type ServeFn = (accept: (socket: WebSocketLike) => void, maxPayloadBytes?: number) => Promise<{ url: string; close(): Promise<void> }>;

/** Options of {@link remoteHarness}. */
export interface RemoteHarnessOptions {
  /** The remote host's control URL (a control socket is opened per `start`)... */
  controlUrl?: string;
  /** ... or a control channel shared by every harness (kept open by `stop`). */
  control?: Control;
  mode: 'client' | 'server';
  /** The local WebSocket constructor (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Required in `server` mode. */
  serve?: ServeFn;
}

/** The driver's end of a control socket. */
export interface Control {
  /** Sends a command and resolves with the host's answer. */
  call(msg: (rid: number) => ControlMessage): Promise<unknown>;
  /** Sends a message that has no answer. */
  post(msg: ControlMessage): void;
  /** Takes every message that is not an answer; returns the unsubscribe. */
  on(handler: (msg: ControlMessage) => void): () => void;
  close(): void;
}

/**
 * Opens a control socket to a host at `url`.
 * @param url - the host's control URL.
 * @param Ctor - the WebSocket constructor.
 */
export async function openControl(url: string, Ctor: WebSocketConstructor): Promise<Control> {
  const socket = new Ctor(url);
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`cannot reach the remote host at ${url}`));
  });
  return controlOver(socket);
}

/**
 * The driver's end over an open socket (one the host dialled, for example).
 * @param socket - an open WebSocket.
 */
export function controlOver(socket: WebSocketLike): Control {
  socket.binaryType = 'arraybuffer';
  let nextRid = 1;
  let lost: Error | undefined;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let handlers: ((msg: ControlMessage) => void)[] = [];
  socket.onmessage = (ev: { data: unknown }) => {
    const msg = unpackControl(ev.data);
    if (msg[0] === 'ok' || msg[0] === 'error') {
      const p = pending.get(msg[1] as number);
      pending.delete(msg[1] as number);
      if (msg[0] === 'ok') p?.resolve(msg[2]);
      else p?.reject(new Error(`remote host: ${String(msg[2])}`));
    } else for (const h of handlers) h(msg);
  };
  socket.onclose = () => {
    lost = new Error('control socket to the remote host closed');
    for (const p of pending.values()) p.reject(lost);
    pending.clear();
  };
  return {
    call(make) {
      if (lost) return Promise.reject(lost);
      const rid = nextRid++;
      return new Promise((resolve, reject) => {
        pending.set(rid, { resolve, reject });
        socket.send(packControl(make(rid)));
      });
    },
    post(msg) {
      if (!lost) socket.send(packControl(msg));
    },
    on(h) {
      handlers.push(h);
      return () => {
        handlers = handlers.filter((x) => x !== h);
      };
    },
    close: () => socket.close(1000, 'done'),
  };
}

/** The proxy of the remote store. */
function remoteEndpoint(control: Control, id: number): Transport & { refusedByHost: number; queued: Record<number, number>; detach(): void } {
  const frames = createHandlerList<Frame>();
  const disconnects = createHandlerList<DisconnectInfo>();
  let closed = false;
  const self = {
    localId: id,
    detach: () => {},
    refusedByHost: 0,
    queued: {} as Record<number, number>,
    send(storeId: number, items: Parameters<Transport['send']>[1]) {
      if (closed) return false;
      control.post(['send', id, storeId, encodeFrame({ clusterId: REMOTE_CLUSTER, from: id, to: storeId, items }, RELAY_LIMITS)]);
      return true;
    },
    onFrame: frames.add,
    onDisconnect: disconnects.add,
    queuedBytes: (storeId: number) => self.queued[storeId] ?? 0,
    async close() {
      if (closed) return;
      closed = true;
      await control.call((rid) => ['close', rid, id]);
    },
  };
  self.detach = control.on((msg) => {
    if (msg[1] !== id) return;
    if (msg[0] === 'frame') frames.emit(decodeFrame(msg[2] as Uint8Array, { clusterId: REMOTE_CLUSTER, to: id }, RELAY_LIMITS));
    else if (msg[0] === 'disconnect') disconnects.emit({ storeId: msg[2] as number, reason: msg[3] as string });
    else if (msg[0] === 'refused') self.refusedByHost++;
  });
  return self;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A fresh harness per case; `start(ids)` puts `ids[1]` on the remote host and the others here.
 * @param options - control URL, mode, local WebSocket constructor and server factory.
 */
export function remoteHarness(options: RemoteHarnessOptions): TransportHarness {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket!;
  let control: Control | undefined;
  let remote: ReturnType<typeof remoteEndpoint> | undefined;
  const locals: WebSocketTransport[] = [];
  const servers: { close(): Promise<void> }[] = [];
  return {
    clock: createRealClock(),
    async start(ids, opts) {
      const ctl = options.control ?? (await openControl(options.controlUrl!, Ctor));
      control = ctl;
      const remoteId = ids[1];
      const localIds = ids.filter((_, i) => i !== 1);
      const storeOptions = (id: number, peers: Record<number, string>) => ({
        localId: id,
        clusterId: REMOTE_CLUSTER,
        secret: REMOTE_SECRET,
        WebSocket: Ctor,
        peers,
        reconnectDelayMs: { min: 10, max: 200 },
        queueBytesMax: opts?.queueBytesMax,
        socketBufferBytesMax: opts?.queueBytesMax && opts.queueBytesMax / 2,
        limits: { frameBytesMax: opts?.frameBytesMax },
      });
      remote = remoteEndpoint(ctl, remoteId);
      if (options.mode === 'client') {
        const { url } = (await ctl.call((rid) => ['start', rid, remoteId, {}, opts?.queueBytesMax ?? null, opts?.frameBytesMax ?? null, opts?.slowReceiver === true])) as { url: string };
        for (const id of localIds) locals.push(await createWebSocketTransport(storeOptions(id, { [remoteId]: url })));
      } else {
        if (options.serve === undefined) throw new Error('server mode needs options.serve');
        const urls: Record<number, string> = {};
        for (const id of localIds) {
          let t: WebSocketTransport | undefined;
          const server = await options.serve((s) => t?.accept(s), opts?.frameBytesMax && opts.frameBytesMax + 65536);
          servers.push(server);
          t = await createWebSocketTransport(storeOptions(id, {}));
          locals.push(t);
          urls[id] = server.url;
        }
        await ctl.call((rid) => ['start', rid, remoteId, urls, opts?.queueBytesMax ?? null, opts?.frameBytesMax ?? null, opts?.slowReceiver === true]);
      }
      for (const t of locals) await t.connected(remoteId, 20_000);
      return ids.map((id) => (id === remoteId ? remote! : locals.find((t) => t.localId === id)!));
    },
    async settle() {
      // The round trip also makes sure the host has carried out every command sent before.
      const queued = (await control?.call((rid) => ['ping', rid])) as Record<number, number> | undefined;
      if (remote && queued) remote.queued = queued;
      await sleep(5);
    },
    async interrupt(a, b) {
      const local = locals.find((t) => t.localId === a.localId);
      if (local === undefined) throw new Error(`interrupt: store ${a.localId} is not local`);
      local.disconnect(b.localId, 'test interrupt');
      await sleep(20);
    },
    async stop() {
      await Promise.all(locals.splice(0).map((t) => t.close()));
      await Promise.all(servers.splice(0).map((s) => s.close()));
      remote?.detach();
      await control?.call((rid) => ['stop', rid]).catch(() => {});
      if (options.control === undefined) control?.close();
      control = undefined;
    },
  };
}
