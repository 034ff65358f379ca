/**
 * The transport conformance cases in a process of their own (Deno, or another Node process),
 * against a Node store in the parent process (a remote host, `remote-host.ts`): once with this
 * runtime's WebSocket client dialling the Node server (`client`), once with servers here
 * (`Deno.serve` + `Deno.upgradeWebSocket` in Deno, `ws` in Node) that the Node store dials
 * (`server`). Under Deno it then checks the Deno server's message size limit: a message over
 * `maxPayloadBytes` closes the socket with 1009 before the transport sees it (Node's `ws` limit is
 * tested in `websocket.test.ts`). Given a reverse driver's URL, it finally hosts the receiving
 * store while the Node side runs the cases (`startReverseDriver`), as server and as client.
 *
 *   npx deno run -A test/transport/conformance-process.ts <controlUrl> [<reverseUrl>]
 *   npx tsx test/transport/conformance-process.ts <controlUrl> [<reverseUrl>]
 *
 * Prints one JSON line ({@link ProcessConformanceSummary}); `cross-runtime-conformance.test.ts`
 * asserts it.
 */
import { createWebSocketTransport, type WebSocketConstructor } from '../../adapters/transport/websocket.ts';
import { createWebSocketServer } from '../../adapters/transport/websocket-server.ts';
import { KEEPALIVE_MESSAGE } from '../../adapters/transport/websocket-link.ts';
import { encodeFrame } from '../../src/codec/frame.ts';
import { createClientHandshake } from '../../src/transport/handshake.ts';
import { importClusterSecret } from '../../src/transport/hmac.ts';
import { type CaseResult, check, checkEqual, req, runConformance } from './conformance-cases.ts';
import { remoteHarness, type ServeFn } from './remote-harness.ts';
import { hostForDriver } from './remote-host-session.ts';

/** What the script prints. */
export interface ProcessConformanceSummary {
  /** `deno 2.9.6` or `node v20.…`. */
  runtime: string;
  client: CaseResult[];
  server: CaseResult[];
  /** The Deno server's size limit; null under Node. */
  oversize: { ok: boolean; error?: string; detail?: unknown } | null;
  /** How hosting for a reverse driver ended (`done`, or the error); null when not asked to. */
  hosted: string | null;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One raw client socket to `url`, authenticated as `localId`, with what it receives. */
async function rawClient(url: string, localId: number, clusterId: string, secret: string) {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const texts: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.onclose = (ev) => resolve({ code: ev.code, reason: ev.reason });
  });
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error('raw client cannot connect'));
  });
  const hs = createClientHandshake({ clusterId, localId, crypto: globalThis.crypto, key: await importClusterSecret(globalThis.crypto, secret) });
  const next = () =>
    new Promise<string>((resolve) => {
      socket.onmessage = (ev) => resolve(String(ev.data));
    });
  let reply = next();
  socket.send(hs.hello());
  const step = await hs.receive(await reply);
  if (step.kind !== 'send') throw new Error(`handshake: ${JSON.stringify(step)}`);
  reply = next();
  socket.send(step.message);
  const done = await hs.receive(await reply);
  if (done.kind !== 'done') throw new Error(`handshake: ${JSON.stringify(done)}`);
  socket.onmessage = (ev) => {
    // Keepalives (the dead-link detector, docs/reconnect.md) are no refusal notices.
    if (typeof ev.data === 'string' && ev.data !== KEEPALIVE_MESSAGE) texts.push(ev.data);
  };
  return { socket, texts, closed };
}

/**
 * A Deno server with a 64 KiB message limit: a valid frame just under it is delivered, a binary
 * message over it closes the socket with 1009 and a reason and is never decoded, and so does an
 * oversized text message; the server counts each.
 */
async function checkOversize(): Promise<unknown> {
  const clusterId = 'deno-oversize';
  const secret = 'flotilla deno oversize secret!!';
  const limit = 64 * 1024;
  let accept: (s: never) => void = () => {};
  const server = await createWebSocketServer({ accept: (s) => accept(s as never), maxPayloadBytes: limit });
  const transport = await createWebSocketTransport({ localId: 2, clusterId, secret });
  accept = (s) => transport.accept(s);
  const got: number[] = [];
  transport.onFrame((f) => got.push(...f.items.map((i) => (i.kind === 'request' ? i.requestId : -1))));
  try {
    const a = await rawClient(server.url, 1, clusterId, secret);
    const fits = encodeFrame({ clusterId, from: 1, to: 2, items: [req(1, limit - 1024)] });
    check(fits.length <= limit, `the first frame fits (${fits.length} bytes)`);
    a.socket.send(fits);
    for (let i = 0; i < 200 && got.length < 1; i++) await sleep(5);
    checkEqual(got, [1], 'requests delivered before the oversized message');
    // An oversized message that would be a valid frame, then a valid small one right behind it:
    // neither reaches the transport. (Deno's client reports code 0 when it is still sending as the
    // close arrives, so the close code is checked on sockets that send nothing more.)
    a.socket.send(encodeFrame({ clusterId, from: 1, to: 2, items: [req(2, limit + 1024)] }));
    a.socket.send(encodeFrame({ clusterId, from: 1, to: 2, items: [req(3)] }));
    const closedA = await Promise.race([a.closed, sleep(5000).then(() => undefined)]);
    check(closedA !== undefined, 'the socket that sent an oversized message is closed');
    const b = await rawClient(server.url, 3, clusterId, secret);
    b.socket.send(new Uint8Array(limit + 1));
    const closedB = await Promise.race([b.closed, sleep(5000).then(() => undefined)]);
    check(closedB?.code === 1009, `binary: closed with 1009 (got ${JSON.stringify(closedB)})`);
    check(/^message too big: 65537 bytes, limit 65536$/.test(closedB?.reason ?? ''), `binary: the reason says why (got ${closedB?.reason})`);
    const c = await rawClient(server.url, 4, clusterId, secret);
    c.socket.send('\u00e9'.repeat(limit / 2 + 1)); // 32,769 characters, 65,538 bytes of UTF-8
    const closedC = await Promise.race([c.closed, sleep(5000).then(() => undefined)]);
    check(closedC?.code === 1009, `text: closed with 1009 (got ${JSON.stringify(closedC)})`);
    check(/^message too big: 65538 bytes/.test(closedC?.reason ?? ''), `text: the reason gives its UTF-8 size (got ${closedC?.reason})`);
    await sleep(50);
    checkEqual(got, [1], 'requests delivered in all');
    const stats = transport.stats();
    checkEqual(server.oversizeRefused(), 3, 'oversized messages counted by the server');
    checkEqual({ accepted: stats.accepted, rejected: stats.rejected }, { accepted: 1, rejected: 0 }, 'frames the transport saw');
    checkEqual(c.texts, [], 'refusal notices sent for the text message (it never reached the transport)');
    return { binary: closedB, text: closedC, oversizeRefused: server.oversizeRefused(), transport: { accepted: stats.accepted, rejected: stats.rejected } };
  } finally {
    await transport.close();
    await server.close();
  }
}

const deno = (globalThis as { Deno?: { args: string[]; exit(code: number): never; version: { deno: string } } }).Deno;
const Ctor = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? ((await import('ws')).WebSocket as unknown as WebSocketConstructor);
const [controlUrl, reverseUrl] = deno ? deno.args : process.argv.slice(2);
const serve: ServeFn = async (accept, maxPayloadBytes) => {
  const s = await createWebSocketServer({ accept, maxPayloadBytes });
  return { url: s.url, close: () => s.close() };
};
const client = await runConformance(() => remoteHarness({ controlUrl, mode: 'client', WebSocket: Ctor }));
const server = await runConformance(() => remoteHarness({ controlUrl, mode: 'server', WebSocket: Ctor, serve }));
let oversize: ProcessConformanceSummary['oversize'] = null;
if (deno) {
  try {
    oversize = { ok: true, detail: await checkOversize() };
  } catch (err) {
    oversize = { ok: false, error: String(err) };
  }
}
// The other way round: the Node side runs the cases and this process hosts the receiving store.
let hosted: string | null = null;
if (reverseUrl !== undefined) {
  try {
    await hostForDriver(reverseUrl, { WebSocket: Ctor, serve });
    hosted = 'done';
  } catch (err) {
    hosted = String(err);
  }
}
const summary: ProcessConformanceSummary = { runtime: deno ? `deno ${deno.version.deno}` : `node ${process.version}`, client, server, oversize, hosted };
console.log(JSON.stringify(summary));
if (deno) deno.exit(0);
process.exit(0);
