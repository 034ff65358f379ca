/**
 * A browser logs in as a user over WebSocket: the remote client bundled for the browser runs in
 * headless Chromium against a one-store server with PD in this process, with no cluster secret in
 * the page. SCRAM (scrypt, HMAC) runs in the page; the read-only user reads and is refused a write.
 */
import { createServer } from 'node:http';
import { build } from 'esbuild';
import { chromium } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import type { StoreServer } from '../../adapters/server/store-server.ts';
import type { WebSocketConstructor } from '../../adapters/transport/websocket-link.ts';
import { makeVerifier } from '../../src/auth/scram.ts';
import { freePorts } from '../../scripts/cluster-processes.ts';
import { CHROMIUM_ARGS, findChromium } from '../../scripts/find-chromium.ts';
import { SECRET, startTestServer } from './helpers.ts';

let server: StoreServer;
let admin: RemoteKvClient;
let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;

beforeAll(async () => {
  server = await startTestServer('browser-auth', [], { pd: true, pdIntervalMs: 200 });
  admin = await connect({ endpoints: [server.url], secret: SECRET, cluster: 'browser-auth', WebSocket: WebSocket as unknown as WebSocketConstructor });
  const deadline = Date.now() + 30_000;
  // PD's group (one replica here) must elect itself before accounts can be written.
  for (;;) {
    try {
      await admin.changeAuth({ op: 'userAdd', name: 'root', verifier: await makeVerifier('root password', new Uint8Array(16).fill(9), { N: 1024, r: 8, p: 1 }) });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await admin.put('app/hello', 'world');
  const enc = (s: string) => new TextEncoder().encode(s);
  await admin.changeAuth({ op: 'userGrant', name: 'root', role: 'root' });
  await admin.changeAuth({ op: 'roleAdd', name: 'reader' });
  await admin.changeAuth({ op: 'roleGrant', name: 'reader', permission: { kind: 'read', start: enc('app/'), end: enc('app0') } });
  await admin.changeAuth({ op: 'userAdd', name: 'web', verifier: await makeVerifier('web password', new Uint8Array(16).fill(4), { N: 1024, r: 8, p: 1 }) });
  await admin.changeAuth({ op: 'userGrant', name: 'web', role: 'reader' });
  await admin.changeAuth({ op: 'enable' });
  browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  admin?.close();
  await server?.close();
});

it('a browser logs in as a read-only user without the cluster secret', async () => {
  const bundle = await build({ entryPoints: ['adapters/client/remote.ts'], bundle: true, platform: 'browser', format: 'iife', globalName: 'Flotilla', write: false });
  const http = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script>${bundle.outputFiles[0].text}</script>`));
  const [port] = await freePorts(1);
  await new Promise<void>((r) => http.listen(port, '127.0.0.1', () => r()));
  const page = await browser!.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  const result = await page.evaluate(
    async ({ url }) => {
      const F = (globalThis as unknown as { Flotilla: typeof import('../../adapters/client/remote.ts') }).Flotilla;
      const wrong = await F.connect({ endpoints: [url], user: 'web', password: 'not it', cluster: 'browser-auth' }).then(
        () => 'accepted',
        (e: Error) => (/BadCredentials/.test(e.message) ? 'BadCredentials' : e.message),
      );
      const kv = await F.connect({ endpoints: [url], user: 'web', password: 'web password', cluster: 'browser-auth' });
      const value = new TextDecoder().decode((await kv.get('app/hello')) ?? new Uint8Array(0));
      const write = await kv.put('app/hello', 'x').then(
        () => 'accepted',
        (e: { code: string }) => e.code,
      );
      const hasToken = typeof kv.token() === 'string';
      kv.close();
      return { wrong, value, write, hasToken };
    },
    { url: server.url },
  );
  http.close();
  expect(result).toEqual({ wrong: 'BadCredentials', value: 'world', write: 'PermissionDenied', hasToken: true });
}, 90_000);
