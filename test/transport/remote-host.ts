/**
 * The Node side of `remote-harness.ts`.
 *
 * - {@link startRemoteHost}: a control server on 127.0.0.1; each control connection is a host
 *   session (`remote-host-session.ts`) whose stores (`ws` server and client) the driver on the
 *   other side (Chromium, Deno, another Node process) runs the cases against.
 * - {@link startReverseDriver}: the other way round: a browser page or a Deno process dials in,
 *   says `['hello', { canServe }]` and hosts the store that receives, while the cases run here
 *   with Node stores sending to it; the results go back over the socket as `['results', ...]`.
 */
import { WebSocket, WebSocketServer as ControlServer } from 'ws';
import type { WebSocketConstructor, WebSocketLike } from '../../adapters/transport/websocket.ts';
import { createWebSocketServer } from '../../adapters/transport/websocket-server.ts';
import { runConformance } from './conformance-cases.ts';
import { type ControlMessage, controlOver, packControl, remoteHarness, type ServeFn, unpackControl } from './remote-harness.ts';
import { createHostSession, type ReverseResults } from './remote-host-session.ts';

export type { ReverseResults } from './remote-host-session.ts';

/** Node's WebSocket constructor and server factory for test stores. */
export const nodeWebSocket = WebSocket as unknown as WebSocketConstructor;
export const nodeServe: ServeFn = async (accept, maxPayloadBytes) => {
  const s = await createWebSocketServer({ accept, maxPayloadBytes });
  return { url: s.url, close: () => s.close() };
};

/** A running remote host. */
export interface RemoteHost {
  /** `ws://127.0.0.1:port`: what `remoteHarness` takes as `controlUrl`. */
  url: string;
  /** Control sessions opened so far (each harness `start` opens one). */
  sessions(): number;
  close(): Promise<void>;
}

async function listen(): Promise<ControlServer> {
  const control = new ControlServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    control.once('listening', resolve);
    control.once('error', reject);
  });
  return control;
}

const urlOf = (server: ControlServer) => `ws://127.0.0.1:${(server.address() as { port: number }).port}`;

/** Starts a remote host on a free loopback port. */
export async function startRemoteHost(): Promise<RemoteHost> {
  const control = await listen();
  let sessions = 0;
  const closers = new Set<() => Promise<void>>();
  control.on('connection', (socket) => {
    sessions++;
    const reply = (msg: ControlMessage) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(packControl(msg));
    };
    const session = createHostSession(reply, { WebSocket: nodeWebSocket, serve: nodeServe });
    closers.add(session.stopAll);
    socket.on('message', (data) => session.handle(unpackControl(new Uint8Array(data as Buffer))));
    socket.on('close', () => {
      void session
        .idle()
        .then(session.stopAll)
        .finally(() => closers.delete(session.stopAll));
    });
  });
  return {
    url: urlOf(control),
    sessions: () => sessions,
    async close() {
      await Promise.all([...closers].map((c) => c()));
      for (const c of control.clients) c.terminate();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    },
  };
}

/** A running reverse driver. */
export interface ReverseDriver {
  /** Where a host dials in. */
  url: string;
  /** The results of the next host to dial in (the first call: the first host). */
  results(): Promise<ReverseResults>;
  close(): Promise<void>;
}

/** Starts a reverse driver on a free loopback port. */
export async function startReverseDriver(): Promise<ReverseDriver> {
  const control = await listen();
  const done: Promise<ReverseResults>[] = [];
  const waiting: ((r: Promise<ReverseResults>) => void)[] = [];
  control.on('connection', (socket) => {
    const run = new Promise<ReverseResults>((resolve, reject) => {
      socket.once('message', async (data) => {
        try {
          const hello = unpackControl(new Uint8Array(data as Buffer));
          if (hello[0] !== 'hello') throw new Error(`expected hello, got ${String(hello[0])}`);
          const canServe = (hello[1] as { canServe: boolean }).canServe;
          const ctl = controlOver(socket as unknown as WebSocketLike);
          const harness = (mode: 'client' | 'server') => () => remoteHarness({ control: ctl, mode, WebSocket: nodeWebSocket, serve: nodeServe });
          const results: ReverseResults = { server: await runConformance(harness('server')), client: canServe ? await runConformance(harness('client')) : null };
          ctl.post(['results', results]);
          resolve(results);
        } catch (err) {
          reject(err);
        }
      });
    });
    run.catch(() => {});
    const w = waiting.shift();
    if (w) w(run);
    else done.push(run);
  });
  return {
    url: urlOf(control),
    results() {
      const ready = done.shift();
      return ready ?? new Promise<ReverseResults>((resolve) => waiting.push((r) => resolve(r)));
    },
    async close() {
      for (const c of control.clients) c.terminate();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    },
  };
}
