/**
 * A browser client over `wss://`: the remote client bundled for the browser, in headless Chromium,
 * against a TLS store server in this process, with nothing TLS-specific in the client's code (no
 * `tls` option: the browser checks the certificate). Chromium is told to trust exactly the store's
 * key (`--ignore-certificate-errors-spki-list`, standing in for installing the CA); a second
 * server with another key is refused, so the browser does verify.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreServer } from '../../adapters/server/store-server.ts';
import { CHROMIUM_ARGS, findChromium } from '../../scripts/find-chromium.ts';
import { openClientPage } from './client-page.ts';
import { SECRET, startTestServer } from './helpers.ts';
import { makeTestPki } from './tls-certs.ts';

const pki = makeTestPki();
let trusted: StoreServer;
let untrusted: StoreServer;
let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;

/** The base64 SHA-256 of a certificate's public key, as Chromium's SPKI allow-list takes it. */
function spkiHash(certFile: string): string {
  const pub = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-pubkey']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
  return execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
}

beforeAll(async () => {
  const serve = (name: string) => {
    const c = pki.leaf(name);
    const tls = { server: { cert: readFileSync(c.cert, 'utf8'), key: readFileSync(c.key, 'utf8') }, dial: {}, peerClientCertAuth: false };
    return { files: c, start: () => startTestServer('browser', ['m'], { tls }) };
  };
  const a = serve('store-trusted');
  const b = serve('store-untrusted');
  trusted = await a.start();
  untrusted = await b.start();
  browser = await chromium.launch({ executablePath: findChromium(), args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spkiHash(a.files.cert)}`] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await trusted?.close();
  await untrusted?.close();
  pki.close();
});

describe('the remote client in Chromium over wss://', () => {
  it('writes and reads through a store it trusts, and cannot connect to one it does not', async () => {
    expect(trusted.url).toMatch(/^wss:\/\//);
    const { page, close } = await openClientPage(browser!);
    const result = await page.evaluate(
      async ({ good, bad, secret }) => {
        const F = (globalThis as unknown as { Flotilla: typeof import('../../adapters/client/remote.ts') }).Flotilla;
        const kv = await F.connect({ endpoints: [good], secret, cluster: 'browser' });
        await kv.put('apple', 'red');
        const apple = new TextDecoder().decode((await kv.get('apple')) ?? new Uint8Array());
        kv.close();
        const refused = await F.connect({ endpoints: [bad], secret, cluster: 'browser', connectTimeoutMs: 3000 }).then(
          (c) => {
            c.close();
            return 'connected';
          },
          (e: Error) => e.name,
        );
        return { apple, refused };
      },
      { good: trusted.url, bad: untrusted.url, secret: SECRET },
    );
    close();
    expect(result.apple).toBe('red');
    expect(result.refused).not.toBe('connected');
  }, 60_000);
});
