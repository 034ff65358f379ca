/**
 * The Node side of `remote-harness.ts`: a control server on 127.0.0.1; each control connection
 * starts WebSocket stores here (`ws` server and client) on command, carries out their sends and
 * closes, and relays every frame and disconnect they see back over the control socket. Used by the
 * browser project's global setup (Chromium client → Node server) and by the Deno conformance test
 * (Deno client → Node server, Node client → Deno server).
 */
import { WebSocket, WebSocketServer as ControlServer } from 'ws';
import { createWebSocketTransport, type WebSocketConstructor, type WebSocketTransport } from '../../adapters/transport/websocket.ts';
import { createWebSocketServer, type WebSocketServer } from '../../adapters/transport/websocket-server.ts';
import { decodeFrame, encodeFrame } from '../../src/codec/frame.ts';
import { type ControlMessage, packControl, RELAY_LIMITS, REMOTE_CLUSTER, REMOTE_SECRET, unpackControl } from './remote-harness.ts';

/** A running remote host. */
export interface RemoteHost {
  /** `ws://127.0.0.1:port`: what `remoteHarness` takes as `controlUrl`. */
  url: string;
  /** Control sessions opened so far (each harness `start` opens one). */
  sessions(): number;
  close(): Promise<void>;
}

interface Store {
  transport: WebSocketTransport;
  server: WebSocketServer;
  peers: Set<number>;
}

/** Starts a remote host on a free loopback port. */
export async function startRemoteHost(): Promise<RemoteHost> {
  const control = new ControlServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    control.once('listening', resolve);
    control.once('error', reject);
  });
  let sessions = 0;
  const closers = new Set<() => Promise<void>>();

  control.on('connection', (socket) => {
    sessions++;
    const stores = new Map<number, Store>();
    const reply = (msg: ControlMessage) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(packControl(msg));
    };
    const stopAll = async () => {
      const all = [...stores.values()];
      stores.clear();
      await Promise.all(all.map(async (s) => {
        await s.transport.close();
        await s.server.close();
      }));
    };
    closers.add(stopAll);
    // Commands run one after another, in the order they came.
    let chain: Promise<void> = Promise.resolve();

    const handle = async (msg: ControlMessage) => {
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
          const [, , id, peerUrls, queueBytesMax, frameBytesMax] = msg as [string, number, number, Record<string, string>, number | null, number | null];
          let transport: WebSocketTransport | undefined;
          const server = await createWebSocketServer({ accept: (sock) => transport?.accept(sock), maxPayloadBytes: frameBytesMax === null ? undefined : frameBytesMax + 65536 });
          transport = await createWebSocketTransport({
            localId: id,
            clusterId: REMOTE_CLUSTER,
            secret: REMOTE_SECRET,
            WebSocket: WebSocket as unknown as WebSocketConstructor,
            peers: peerUrls,
            reconnectDelayMs: { min: 10, max: 200 },
            queueBytesMax: queueBytesMax ?? undefined,
            socketBufferBytesMax: queueBytesMax === null ? undefined : queueBytesMax / 2,
            limits: { frameBytesMax: frameBytesMax ?? undefined },
          });
          const store: Store = { transport, server, peers: new Set(Object.keys(peerUrls).map(Number)) };
          stores.set(id, store);
          transport.onFrame((f) => {
            store.peers.add(f.from);
            reply(['frame', id, encodeFrame(f, RELAY_LIMITS)]);
          });
          transport.onDisconnect((d) => reply(['disconnect', id, d.storeId, d.reason]));
          for (const peer of store.peers) await transport.connected(peer, 20_000);
          reply(['ok', rid, { url: server.url }]);
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
        } else reply(['error', rid, `unknown command ${String(kind)}`]);
      } catch (err) {
        reply(['error', rid, String(err)]);
      }
    };

    socket.on('message', (data) => {
      const msg = unpackControl(new Uint8Array(data as Buffer));
      chain = chain.then(() => handle(msg)).catch((err) => reply(['error', -1, String(err)]));
    });
    socket.on('close', () => {
      chain = chain.then(stopAll).finally(() => closers.delete(stopAll));
    });
  });

  const port = (control.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    sessions: () => sessions,
    async close() {
      await Promise.all([...closers].map((c) => c()));
      for (const c of control.clients) c.terminate();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    },
  };
}
