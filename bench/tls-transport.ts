/**
 * What TLS costs the WebSocket transport: frames/s and MB/s of Raft append batches (8 regions x 4
 * entries x 256 B) from one store's transport to another's over loopback, in
 * plaintext (`ws://`) and over TLS (`wss://`, mutual, certificates from test/server/tls-certs.ts),
 * best of three runs each, taken alternately (the machine is shared).
 * Run: `node --import tsx bench/tls-transport.ts [frames]`.
 */
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { tlsWebSocket } from '../adapters/transport/tls.ts';
import { createWebSocketTransport } from '../adapters/transport/websocket.ts';
import type { WebSocketConstructor } from '../adapters/transport/websocket-link.ts';
import { createWebSocketServer } from '../adapters/transport/websocket-server.ts';
import { encodeFrame } from '../src/codec/frame.ts';
import type { FrameItem } from '../src/codec/schema.ts';
import { makeMessage } from '../src/raft/types.ts';
import { makeTestPki } from '../test/server/tls-certs.ts';

const FRAMES = Number(process.argv[2] ?? 5000);
const SECRET = 'benchmark secret of 32 bytes!!!!';
const items: FrameItem[] = Array.from({ length: 8 }, (_, r) => ({
  kind: 'raft',
  regionId: r + 1,
  message: makeMessage({ type: 'MsgApp', from: 2, to: 1, term: 7, logTerm: 7, index: 1000, commit: 999, entries: Array.from({ length: 4 }, (_, i) => ({ term: 7, index: 1001 + i, type: 'normal' as const, data: new Uint8Array(256).fill(i) })) }),
}));

const pki = makeTestPki();
const leaf = pki.leaf('bench-store');
const pem = (f: string) => readFileSync(f, 'utf8');
const material = { cert: pem(leaf.cert), key: pem(leaf.key), ca: pem(pki.ca.cert) };

/** Seconds to carry FRAMES frames from store 2 to store 1. */
async function once(tls: boolean): Promise<number> {
  const receiver = await createWebSocketTransport({ localId: 1, clusterId: 'bench', secret: SECRET, WebSocket: WebSocket as unknown as WebSocketConstructor, peerCertRequired: tls ? (id) => id < 2 ** 31 : undefined });
  const server = await createWebSocketServer({ accept: (s, i) => receiver.accept(s, i), tls: tls ? { ...material, requestCert: true } : undefined });
  const Ctor = tls ? await tlsWebSocket(() => material) : (WebSocket as unknown as WebSocketConstructor);
  const sender = await createWebSocketTransport({ localId: 2, clusterId: 'bench', secret: SECRET, peers: { 1: server.url }, WebSocket: Ctor });
  await sender.connected(1, 10_000);
  let received = 0;
  const done = new Promise<void>((resolve) => receiver.onFrame(() => ++received === FRAMES && resolve()));
  const start = performance.now();
  for (let i = 0; i < FRAMES; i++) while (!sender.send(1, items)) await new Promise((r) => setTimeout(r, 1));
  await done;
  const seconds = (performance.now() - start) / 1000;
  await sender.close();
  await receiver.close();
  await server.close();
  return seconds;
}

const best = { plain: Number.POSITIVE_INFINITY, tls: Number.POSITIVE_INFINITY };
for (let run = 0; run < 3; run++) {
  best.plain = Math.min(best.plain, await once(false));
  best.tls = Math.min(best.tls, await once(true));
}
const frameBytes = encodeFrame({ clusterId: 'bench', from: 2, to: 1, items }).length;
for (const [name, s] of Object.entries(best)) console.log(`${name.padEnd(5)} ${(FRAMES / s).toFixed(0).padStart(7)} frames/s  ${((FRAMES * frameBytes) / s / 1e6).toFixed(1).padStart(6)} MB/s  (${FRAMES} frames in ${s.toFixed(2)} s)`);
console.log(`TLS / plain throughput: ${(best.plain / best.tls).toFixed(2)}`);
pki.close();
process.exit(0);
