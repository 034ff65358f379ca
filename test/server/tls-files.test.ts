/**
 * The TLS files of `flotilla serve`: read and checked at start (and at each reload), a bad one a
 * ConfigError naming the file and what is wrong, never quoting a key.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../adapters/server/config.ts';
import { loadDialTls, loadStoreTls } from '../../adapters/server/tls-files.ts';
import { makeTestPki } from './tls-certs.ts';

const pki = makeTestPki();
afterAll(() => pki.close());

describe('TLS files', () => {
  const store = pki.leaf('store-a');
  const other = pki.leaf('store-b');
  const garbage = join(pki.dir, 'garbage.pem');
  writeFileSync(garbage, 'not PEM at all: SECRET-LOOKING-CONTENT\n');

  it('reads a certificate, its key and the CA; --peer-cert/--peer-key replace what is dialled with', async () => {
    const tls = await loadStoreTls({ cert: store.cert, key: store.key, ca: pki.ca.cert, peerClientCertAuth: true });
    expect(tls.server).toMatchObject({ requestCert: true });
    expect(tls.server.cert).toContain('BEGIN CERTIFICATE');
    expect(tls.dial.cert).toBe(tls.server.cert);
    expect(tls.summary).toMatch(/^subject "CN=store-a", serial [0-9A-F]+, valid until /);
    const split = await loadStoreTls({ cert: store.cert, key: store.key, peerCert: other.cert, peerKey: other.key, peerClientCertAuth: false });
    expect(split.dial.cert).not.toBe(split.server.cert);
    expect(split.server.requestCert).toBe(false);
    expect(await loadDialTls({ ca: pki.ca.cert })).toEqual({ ca: tls.server.ca });
  });

  it('refuses a missing file, a file without a certificate, a key that is not one, and a key of another certificate', async () => {
    const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: Error) => (e instanceof ConfigError ? e.message : `not a ConfigError: ${e}`));
    const base = { cert: store.cert, key: store.key, ca: pki.ca.cert, peerClientCertAuth: false };
    expect(await refusal(loadStoreTls({ ...base, cert: join(pki.dir, 'missing.pem') }))).toMatch(/^cert: cannot read .*missing.pem: ENOENT/);
    expect(await refusal(loadStoreTls({ ...base, cert: garbage }))).toMatch(/^cert: .*garbage.pem holds no PEM certificate/);
    expect(await refusal(loadStoreTls({ ...base, ca: garbage }))).toMatch(/^ca: .*garbage.pem holds no PEM certificate/);
    const badKey = await refusal(loadStoreTls({ ...base, key: garbage }));
    expect(badKey).toMatch(/^key: .*garbage.pem holds no private key in PEM form$/);
    expect(badKey).not.toContain('SECRET-LOOKING');
    expect(await refusal(loadStoreTls({ ...base, key: other.key }))).toMatch(/^key: .*store-b.key is not the key of the certificate in .*store-a.crt/);
    expect(await refusal(loadDialTls({ cert: store.cert }))).toMatch(/^key: --cert and --key go together/);
  });
});
