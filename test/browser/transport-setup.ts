/**
 * Global setup of the browser project (runs in Node): starts a WebSocket store on 127.0.0.1 that
 * echoes every request, for `transport.test.ts` in Chromium to dial. Its URL is provided to the
 * tests as `transportEchoUrl`. Also a remote host (`test/transport/remote-host.ts`) whose stores
 * the conformance suite runs against from Chromium, provided as `transportRemoteUrl`, and a reverse
 * driver (`transportReverseUrl`) that runs the suite with Node stores sending to a store the page
 * hosts.
 */
import type { TestProject } from 'vitest/node';
import { WebSocket } from 'ws';
import { createWebSocketTransport, type WebSocketTransport } from '../../adapters/transport/websocket.ts';
import { createWebSocketServer } from '../../adapters/transport/websocket-server.ts';
import type { FrameItem } from '../../src/codec/schema.ts';
import { startRemoteHost, startReverseDriver } from '../transport/remote-host.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    transportEchoUrl: string;
    transportRemoteUrl: string;
    transportReverseUrl: string;
  }
}

/** The store id of the Node echo store. */
export const ECHO_STORE_ID = 100;

/**
 * Starts the echo store and provides its URL; returns the teardown.
 * @param project - the browser test project.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let transport: WebSocketTransport | undefined;
  const server = await createWebSocketServer({ accept: (s) => transport?.accept(s) });
  transport = await createWebSocketTransport({ localId: ECHO_STORE_ID, clusterId: 'browser-test', secret: 'flotilla browser test secret!!', WebSocket });
  const t = transport;
  t.onFrame((frame) => {
    const out: FrameItem[] = [];
    for (const item of frame.items) if (item.kind === 'request') out.push({ kind: 'response', requestId: item.requestId, payload: item.payload });
    if (out.length > 0) t.send(frame.from, out);
  });
  project.provide('transportEchoUrl', server.url);
  const remote = await startRemoteHost();
  project.provide('transportRemoteUrl', remote.url);
  const reverse = await startReverseDriver();
  project.provide('transportReverseUrl', reverse.url);
  return async () => {
    await reverse.close();
    await remote.close();
    await t.close();
    await server.close();
  };
}
