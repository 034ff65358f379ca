/**
 * A loopback cluster of three `flotilla serve` processes for the TLS tests: every peer link goes
 * through a recording TCP proxy (store 2 dials store 1, store 3 dials stores 1 and 2), with
 * mutual TLS (`--cert/--key/--ca --peer-client-cert-auth`, certificates from `tls-certs.ts`) or
 * in plaintext as the sniffing test's control. The secret comes from `--secret-file`.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type RemoteKvClient } from '../../adapters/client/remote.ts';
import type { StoreStatus } from '../../adapters/server/http-status.ts';
import { httpsJson } from '../../adapters/server/tls-files.ts';
import { freePorts, type StoreProcess, serveArgs, spawnFlotilla, stopProcess, waitListening } from '../../scripts/cluster-processes.ts';
import { FAST, SECRET } from './helpers.ts';
import { type LinkProxy, startLinkProxy } from './link-proxy.ts';
import { type CertFiles, makeTestPki, type TestPki } from './tls-certs.ts';

/** See the module comment. */
export interface TlsTestCluster {
  pki: TestPki;
  dir: string;
  ports: number[];
  httpPorts: number[];
  stores: Map<number, StoreProcess>;
  /** Store `id`'s certificate files (as named on its command line). */
  certs: Map<number, CertFiles>;
  /** The proxies on the peer links (2→1, 3→1, 3→2). */
  proxies: LinkProxy[];
  /** The file holding the secret (mode 0600). */
  secretFile: string;
  tls: boolean;
  endpoint(id: number): string;
  status(id: number): Promise<StoreStatus>;
  client(): Promise<RemoteKvClient>;
  close(): Promise<void>;
}

/**
 * Starts the cluster and waits until every store listens.
 * @param options - `tls` on or off, the runtime of each store, extra serve flags.
 */
export async function startTlsCluster(options: { tls: boolean; runtimes?: Array<'node' | 'deno'>; extra?: string[] }): Promise<TlsTestCluster> {
  const pki = makeTestPki();
  const dir = join(pki.dir, 'data');
  mkdirSync(dir);
  const secretFile = join(pki.dir, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`);
  chmodSync(secretFile, 0o600);
  const all = await freePorts(6);
  const ports = all.slice(0, 3);
  const httpPorts = all.slice(3);
  // Store i dials the lower ids through a proxy each: the ports it is told for them are the proxies'.
  const proxies: LinkProxy[] = [];
  const seen: number[][] = [[...ports], [...ports], [...ports]];
  for (const [from, to] of [
    [2, 1],
    [3, 1],
    [3, 2],
  ]) {
    const proxy = await startLinkProxy(ports[to - 1], { record: true });
    proxies.push(proxy);
    seen[from - 1][to - 1] = proxy.port;
  }
  const certs = new Map<number, CertFiles>();
  const stores = new Map<number, StoreProcess>();
  for (let id = 1; id <= 3; id++) {
    const tlsFlags: string[] = [];
    if (options.tls) {
      const c = pki.leaf(`store-${id}`);
      certs.set(id, c);
      tlsFlags.push('--cert', c.cert, '--key', c.key, '--ca', pki.ca.cert, '--peer-client-cert-auth');
    }
    const args = serveArgs(id, seen[id - 1], httpPorts, dir, [...FAST, '--secret-file', secretFile, ...tlsFlags, ...(options.extra ?? [])]);
    stores.set(id, spawnFlotilla(options.runtimes?.[id - 1] ?? 'node', args));
  }
  const ca = readFileSync(pki.ca.cert, 'utf8');
  const scheme = options.tls ? 'wss' : 'ws';
  const cluster: TlsTestCluster = {
    pki,
    dir,
    ports,
    httpPorts,
    stores,
    certs,
    proxies,
    secretFile,
    tls: options.tls,
    endpoint: (id) => `${scheme}://127.0.0.1:${ports[id - 1]}`,
    async status(id) {
      const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${httpPorts[id - 1]}/status`;
      return (options.tls ? await httpsJson(url, { ca }) : await (await fetch(url)).json()) as StoreStatus;
    },
    client: () => connect({ endpoints: [1, 2, 3].map((id) => cluster.endpoint(id)), secret: SECRET, ...(options.tls ? { tls: { ca } } : {}), callTimeoutMs: 10_000 }),
    async close() {
      await Promise.all([...stores.values()].map((p) => stopProcess(p, 'SIGKILL')));
      await Promise.all(proxies.map((p) => p.close()));
      pki.close();
    },
  };
  try {
    await Promise.all([...stores.values()].map((p) => waitListening(p, 90_000)));
  } catch (e) {
    const logs = [...stores.values()].map((p) => `store ${p.id}: ${p.stderr.slice(-2000)}`).join('\n');
    await cluster.close();
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
  return cluster;
}

/**
 * Waits until `done` holds (polling every 100 ms), or throws after `timeoutMs`.
 * @param what - what is awaited, for the error.
 */
export async function waitFor(what: string, timeoutMs: number, done: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve(done()).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
