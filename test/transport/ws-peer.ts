/**
 * A store process for the cross-runtime WebSocket tests, run by Node (tsx) or Deno: listens on
 * 127.0.0.1, optionally dials peers, and answers every request item with a response carrying the
 * same id and payload. Prints `ready <url>` once listening; exits when stdin closes.
 *
 * Arguments: `<storeId> [<peerId>=<url> ...]`.
 */
import { createWebSocketTransport, type WebSocketConstructor } from '../../adapters/transport/websocket.ts';
import { createWebSocketServer } from '../../adapters/transport/websocket-server.ts';
import type { FrameItem } from '../../src/codec/schema.ts';

const deno = (globalThis as { Deno?: { args: string[]; stdin: { readable: AsyncIterable<Uint8Array> }; exit(code: number): never } }).Deno;
const args = deno ? deno.args : process.argv.slice(2);
const localId = Number(args[0]);
const peers = Object.fromEntries(args.slice(1).map((a) => a.split('=') as [string, string]));
const Ctor = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? ((await import('ws')).WebSocket as unknown as WebSocketConstructor);

let accept: (s: never) => void = () => {};
const server = await createWebSocketServer({ accept: (s) => accept(s as never) });
const transport = await createWebSocketTransport({
  localId,
  clusterId: 'ws-test',
  secret: 'flotilla test secret, 32 bytes!',
  peers,
  WebSocket: Ctor,
  reconnectDelayMs: { min: 10, max: 200 },
});
accept = (s) => transport.accept(s);
transport.onFrame((frame) => {
  const out: FrameItem[] = [];
  for (const item of frame.items) if (item.kind === 'request') out.push({ kind: 'response', requestId: item.requestId, payload: item.payload });
  if (out.length > 0) transport.send(frame.from, out);
});
console.log(`ready ${server.url} ${deno ? 'deno' : 'node'}`);

const stop = async () => {
  await transport.close();
  await server.close();
  if (deno) deno.exit(0);
  process.exit(0);
};
if (deno) {
  for await (const _ of deno.stdin.readable) {
    // Drain until the parent closes stdin.
  }
  await stop();
} else {
  process.stdin.resume();
  process.stdin.on('end', stop);
}
