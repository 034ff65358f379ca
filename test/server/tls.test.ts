/**
 * TLS between real `flotilla serve` processes under Node: the mutual-TLS suite (tls-suite.ts:
 * sniffed peer links, plaintext refused, untrusted stores refused, SIGHUP reload, file modes),
 * the admin commands over TLS with the secret from a file (`--secret` refused, an open secret
 * file warned of), and the sniffing test's control: the same cluster in plaintext shows the marker.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFlotilla } from '../../scripts/cluster-processes.ts';
import { SECRET } from './helpers.ts';
import { startTlsCluster, type TlsTestCluster } from './tls-cluster.ts';
import { describeMutualTlsCluster, MARKER, sniffed, writeMarked } from './tls-suite.ts';

/** Runs `flotilla <args>` from the sources; resolves with its exit code and output. */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = spawnFlotilla('node', args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

describeMutualTlsCluster('a 3-store cluster over mutual TLS (Node)', ['node', 'node', 'node'], (c) => {
  it('runs the admin commands over TLS with --ca and the secret from a file; refuses --secret; warns of an open secret file; a bad certificate stops serve', async () => {
    const regions = await run(['regions', '--endpoints', `127.0.0.1:${c().ports[1]}`, '--ca', c().pki.ca.cert, '--secret-file', c().secretFile]);
    expect(regions.code).toBe(0);
    expect(JSON.parse(regions.stdout).length).toBeGreaterThan(0);
    expect(regions.stderr).toBe('');
    const status = await run(['status', '--http', `127.0.0.1:${c().httpPorts[1]}`, '--ca', c().pki.ca.cert]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`store 2 at wss://127.0.0.1:${c().ports[1]}`);
    const onArgv = await run(['regions', '--endpoints', `127.0.0.1:${c().ports[1]}`, '--ca', c().pki.ca.cert, '--secret', SECRET]);
    expect(onArgv.code).toBe(2);
    expect(onArgv.stderr).toMatch(/--secret is not accepted .*FLOTILLA_SECRET.*--secret-file/);
    const open = join(c().pki.dir, 'open-secret');
    writeFileSync(open, SECRET);
    chmodSync(open, 0o644);
    const warned = await run(['regions', '--endpoints', `127.0.0.1:${c().ports[1]}`, '--ca', c().pki.ca.cert, '--secret-file', open]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/^flotilla: warning: the secret file .*open-secret is readable by others \(mode 0644\): chmod 600/);
    expect(warned.stderr).not.toContain(SECRET);
    // A bad certificate file stops the start with a ConfigError naming it.
    const badCert = await run(['serve', '--id', '1', '--secret-file', c().secretFile, '--cert', open, '--key', c().certs.get(2)!.key]);
    expect(badCert.code).toBe(2);
    expect(badCert.stderr).toMatch(/^flotilla: invalid configuration: cert: .*open-secret holds no PEM certificate\n$/);
  });
});

describe('the same cluster in plaintext (the sniffing control)', () => {
  let cluster: TlsTestCluster;
  beforeAll(async () => {
    cluster = await startTlsCluster({ tls: false });
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('shows the marker on the peer links: the sniffing test can fail', async () => {
    await writeMarked(cluster);
    expect(sniffed(cluster).includes(MARKER)).toBe(true);
  });
});
