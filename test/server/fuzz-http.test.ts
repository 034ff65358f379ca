/**
 * Seeded fuzzing of the HTTP parsers a stranger reaches: the WebSocket upgrade port and the
 * `--http` status port of a real store server, over loopback. Random and mutated requests (methods,
 * paths, headers, Content-Length lies, chunked bodies, upgrade headers, raw garbage) go out in
 * parallel from many loopback addresses; each must be answered with an HTTP status or closed
 * within its deadline (zero hangs), the process must not throw (zero crashes), and an honest
 * client must still write and /health still answer 200 afterwards. FUZZ_SEED=... replays a run.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../adapters/client/remote.ts';
import { startStatusServer } from '../../adapters/server/http-status.ts';
import type { StoreServer } from '../../adapters/server/store-server.ts';
import type { Rand } from '../../src/ports.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { freePorts } from '../../scripts/cluster-processes.ts';
import { SECRET, startTestServer } from './helpers.ts';
import { rawPeer, statusLine, until } from './hostile-peers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 16_0317);
// npm test: 600 requests per port; `npm run fuzz` (FUZZ_CASES=100000): 3000.
const CASES = Number(process.env.FUZZ_CASES ?? 0) >= 100_000 ? 3000 : 600;
const PARALLEL = 24;
const CLUSTER = 'fuzz-http';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'get', 'G\u00e9T', 'BREW', ''];
const PATHS = ['/', '/status', '/metrics', '/health', '/status?x=1', '/../../etc/passwd', '/%00', '/%ZZ', '*', 'http://evil/', '//', '/health#x', '/metrics?'.padEnd(3000, 'q')];
const HEADERS = ['Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Connection: keep-alive', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 99', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Key: x', 'Origin: http://evil.example', 'Content-Length: 10', 'Content-Length: -1', 'Content-Length: 99999999999999999999', 'Content-Length: 0', 'Content-Length: 5, 6', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Expect: 100-continue', 'X-\u0000: y', 'Bad Header', ': empty', 'Host: a\r\nHost: b'];

function pick<T>(rand: Rand, xs: readonly T[]): T {
  return xs[rand.int(xs.length)];
}

function randomText(rand: Rand, n: number, max = 256): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rand.int(max));
  return s;
}

const VALID = ['GET /status', 'GET /metrics', 'GET /health', 'GET /', 'HEAD /health', 'POST /metrics'];
const UPGRADE = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];

/** One fuzzed request as raw bytes: a valid request with 0 to 3 mutations, or garbage. */
function fuzzRequest(rand: Rand): Buffer {
  if (rand.int(10) === 0) return Buffer.from(randomText(rand, rand.int(400)), 'latin1');
  let [method, path] = pick(rand, VALID).split(' ');
  let version = 'HTTP/1.1';
  const headers = ['Host: 127.0.0.1', ...(rand.int(2) === 0 ? UPGRADE : [])];
  let body = '';
  let eol = '\r\n';
  let truncate = false;
  for (let n = rand.int(4); n > 0; n--) {
    switch (rand.int(9)) {
      case 0:
        method = rand.int(3) === 0 ? randomText(rand, 1 + rand.int(8), 128) : pick(rand, METHODS);
        break;
      case 1:
        path = rand.int(3) === 0 ? `/${randomText(rand, rand.int(100), 128)}` : pick(rand, PATHS);
        break;
      case 2:
        version = pick(rand, ['HTTP/1.0', 'HTTP/2.0', 'HTTP/9', 'HTTP/1.1 x', '']);
        break;
      case 3:
        headers.push(pick(rand, HEADERS));
        break;
      case 4:
        headers.push(`X-${randomText(rand, 1 + rand.int(10), 128)}: ${randomText(rand, rand.int(50))}`);
        break;
      case 5:
        body = headers.some((h) => h.includes('chunked')) ? pick(rand, ['5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', 'fffffffffffffff\r\n']) : randomText(rand, rand.int(4000));
        if (rand.int(2) === 0) headers.push(`Content-Length: ${rand.int(3) === 0 ? body.length + 1 + rand.int(100) : body.length}`);
        break;
      case 6:
        if (headers.length > 0) headers.splice(rand.int(headers.length), 1);
        break;
      case 7:
        eol = '\n';
        break;
      default:
        truncate = true;
    }
  }
  let text = `${method} ${path} ${version}${eol}${headers.join(eol)}${eol}${eol}${body}`;
  if (truncate) text = text.slice(0, rand.int(text.length));
  return Buffer.from(text, 'latin1');
}

let server: StoreServer;
let status: Server;
let statusPort: number;

beforeAll(async () => {
  server = await startTestServer(CLUSTER, [], {
    hardening: { handshakeTimeoutMs: 1000, http: { headersTimeoutMs: 1000, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500 }, admission: { unauthenticatedPerAddressMax: 4 } },
  });
  [statusPort] = await freePorts(1);
  status = await startStatusServer(server, '127.0.0.1', statusPort, { headersTimeoutMs: 1000, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500 });
}, 60_000);

afterAll(async () => {
  status?.close();
  await server?.close();
});

async function fuzzPort(port: number, seed: number): Promise<Map<string, number>> {
  const rand = createSeededRand(seed);
  const outcomes = new Map<string, number>();
  let next = 0;
  const lane = async (slot: number) => {
    // Each lane sends from its own loopback address, so per-address caps see a crowd, not one peer.
    const address = `127.0.${1 + (slot % 250)}.${2 + (slot % 200)}`;
    while (next < CASES) {
      const i = next++;
      const bytes = fuzzRequest(rand);
      const peer = await rawPeer(port, address);
      peer.socket.write(bytes);
      try {
        // Answered (a status line) or closed: either ends the case; neither within 15 s is a hang.
        await until(() => statusLine(peer) !== '' || peer.socket.destroyed || peer.socket.readableEnded, 15_000);
      } catch {
        throw new Error(`case ${i} (seed ${seed}) hung: ${JSON.stringify(bytes.toString('latin1').slice(0, 300))}`);
      }
      const line = statusLine(peer);
      const key = line === '' ? 'closed' : (line.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? `odd: ${line.slice(0, 40)}`);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      peer.socket.destroy();
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, (_, s) => lane(s)));
  return outcomes;
}

describe(`HTTP fuzz (seed ${SEED}; FUZZ_SEED=... to replay)`, { timeout: 240_000 }, () => {
  it(`answers or closes ${CASES} fuzzed requests on the WebSocket port and ${CASES} on the status port, and still serves`, async () => {
    console.log(`HTTP fuzz seed ${SEED}, ${CASES} requests per port`);
    const ws = await fuzzPort(Number(new URL(server.url).port), SEED);
    const st = await fuzzPort(statusPort, SEED + 1);
    console.log('WebSocket port outcomes', Object.fromEntries(ws), 'status port outcomes', Object.fromEntries(st));
    for (const m of [ws, st]) {
      expect([...m.values()].reduce((a, b) => a + b, 0)).toBe(CASES);
      expect([...m.keys()].filter((k) => k.startsWith('odd'))).toEqual([]);
    }
    expect(st.get('200') ?? 0).toBeGreaterThan(0);
    expect(ws.get('101') ?? 0).toBeGreaterThan(0);
    // Still serving: /health answers and an honest client writes.
    expect((await fetch(`http://127.0.0.1:${statusPort}/health`)).status).toBe(200);
    const client = await connect({ endpoints: [server.url], secret: SECRET, cluster: CLUSTER });
    await client.put('after-fuzz', 'ok');
    client.close();
  });
});
