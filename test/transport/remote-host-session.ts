/**
 * One control session of a remote host (see `remote-harness.ts`): starts WebSocket stores on
 * command, carries out their sends and closes, and relays every frame and disconnect they see.
 * Runtime-neutral: Node hosts sessions in `remote-host.ts`; a page in Chromium or a Deno process
 * hosts one over a socket it dials itself, so that the Node side can drive the cases the other
 * way round (frames into the browser or Deno).
 */
import { createWebSocketTransport, type WebSocketConstructor, type WebSocketTransport } from '../../adapters/transport/websocket.ts';
import { decodeFrame, encodeFrame } from '../../src/codec/frame.ts';
import type { CaseResult } from './conformance-cases.ts';
import { type ControlMessage, packControl, RELAY_LIMITS, REMOTE_CLUSTER, REMOTE_SECRET, type ServeFn, unpackControl } from './remote-harness.ts';

/** A host session. */
export interface HostSession {
  /** Takes one command; commands are carried out one after another, in order. */
  handle(msg: ControlMessage): void;
  /** Closes every store the session started. */
  stopAll(): Promise<void>;
  /** Resolves once every command taken so far is done. */
  idle(): Promise<void>;
}

/** How long a slow receiver holds its thread per frame. */
const SLOW_RECEIVER_MS = 1;

interface Store {
  transport: WebSocketTransport;
  server: { url: string; close(): Promise<void> } | undefined;
  peers: Set<number>;
}

/**
 * A session replying through `reply`.
 * @param reply - sends a control message back to the driver.
 * @param deps - the WebSocket constructor for dialling, and a server factory where this runtime can listen.
 * @param other - receives messages that are not commands (a driver's results).
 */
export function createHostSession(reply: (msg: ControlMessage) => void, deps: { WebSocket: WebSocketConstructor; serve?: ServeFn }, other?: (msg: ControlMessage) => void): HostSession {
  const stores = new Map<number, Store>();
  let chain: Promise<void> = Promise.resolve();
  const stopAll = async () => {
    const all = [...stores.values()];
    stores.clear();
    await Promise.all(
      all.map(async (s) => {
        await s.transport.close();
        await s.server?.close();
      }),
    );
  };

  const run = async (msg: ControlMessage) => {
    const [kind] = msg;
    if (kind === 'send') {
      const [, id, to, bytes] = msg as [string, number, number, Uint8Array];
      const s = stores.get(id);
      const frame = decodeFrame(bytes, { clusterId: REMOTE_CLUSTER, from: id, to }, RELAY_LIMITS);
      s?.peers.add(to);
      if (s === undefined || !s.transport.send(to, frame.items)) reply(['refused', id, to]);
      return;
    }
    const rid = msg[1] as number;
    try {
      if (kind === 'start') {
        const [, , id, peerUrls, queueBytesMax, frameBytesMax, slow] = msg as [string, number, number, Record<string, string>, number | null, number | null, boolean];
        let transport: WebSocketTransport | undefined;
        const listen = Object.keys(peerUrls).length === 0;
        if (listen && deps.serve === undefined) throw new Error('this host cannot listen: give the store peers to dial');
        const server = listen ? await deps.serve!((sock) => transport?.accept(sock), frameBytesMax === null ? undefined : frameBytesMax + 65536) : undefined;
        transport = await createWebSocketTransport({
          localId: id,
          clusterId: REMOTE_CLUSTER,
          secret: REMOTE_SECRET,
          WebSocket: deps.WebSocket,
          peers: peerUrls,
          reconnectDelayMs: { min: 10, max: 200 },
          queueBytesMax: queueBytesMax ?? undefined,
          socketBufferBytesMax: queueBytesMax === null ? undefined : queueBytesMax / 2,
          limits: { frameBytesMax: frameBytesMax ?? undefined },
        });
        const store: Store = { transport, server, peers: new Set(Object.keys(peerUrls).map(Number)) };
        stores.set(id, store);
        transport.onFrame((f) => {
          // A slow receiver holds this thread for a moment per frame, so that reading stops and
          // the sender's socket fills (see HarnessOptions.slowReceiver).
          if (slow) for (const until = performance.now() + SLOW_RECEIVER_MS; performance.now() < until; );
          store.peers.add(f.from);
          reply(['frame', id, encodeFrame(f, RELAY_LIMITS)]);
        });
        transport.onDisconnect((d) => reply(['disconnect', id, d.storeId, d.reason]));
        for (const peer of store.peers) await transport.connected(peer, 20_000);
        reply(['ok', rid, { url: server?.url ?? null }]);
      } else if (kind === 'close') {
        await stores.get(msg[2] as number)?.transport.close();
        reply(['ok', rid, null]);
      } else if (kind === 'ping') {
        const queued: Record<number, number> = {};
        for (const s of stores.values()) for (const p of s.peers) queued[p] = s.transport.queuedBytes(p);
        reply(['ok', rid, queued]);
      } else if (kind === 'stop') {
        await stopAll();
        reply(['ok', rid, null]);
      } else if (other !== undefined) other(msg);
      else reply(['error', rid, `unknown command ${String(kind)}`]);
    } catch (err) {
      reply(['error', rid, String(err)]);
    }
  };

  return {
    handle(msg) {
      chain = chain.then(() => run(msg)).catch((err) => reply(['error', -1, String(err)]));
    },
    stopAll,
    idle: () => chain,
  };
}

/** What a reverse run found: `client` when the host listened and Node dialled it, `server` when Node listened. */
export interface ReverseResults {
  client: CaseResult[] | null;
  server: CaseResult[];
}

/**
 * Dials a reverse driver (`startReverseDriver` in Node) and hosts the receiving store of every
 * case it runs; resolves with the driver's results once it is done.
 * @param url - the driver's URL.
 * @param deps - the WebSocket constructor, and a server factory where this runtime can listen.
 */
export async function hostForDriver(url: string, deps: { WebSocket: WebSocketConstructor; serve?: ServeFn }): Promise<ReverseResults> {
  const socket = new deps.WebSocket(url);
  socket.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`cannot reach the reverse driver at ${url}`));
  });
  return new Promise<ReverseResults>((resolve, reject) => {
    const session = createHostSession(
      (msg) => {
        if (socket.readyState === 1) socket.send(packControl(msg));
      },
      deps,
      (msg) => {
        if (msg[0] !== 'results') return;
        void session.stopAll().then(() => {
          socket.close(1000, 'done');
          resolve(msg[1] as ReverseResults);
        });
      },
    );
    socket.onmessage = (ev: { data: unknown }) => session.handle(unpackControl(ev.data));
    socket.onclose = () => reject(new Error('the reverse driver closed the socket before sending results'));
    socket.send(packControl(['hello', { canServe: deps.serve !== undefined }]));
  });
}
