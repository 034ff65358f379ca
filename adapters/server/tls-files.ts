/**
 * The TLS files of `flotilla serve` and the admin commands (`--cert`, `--key`, `--ca`,
 * `--peer-cert`, `--peer-key`): read, checked (each certificate parses, each key parses and
 * matches its certificate) and turned into what the servers listen with and what the dialling side
 * presents. A bad file is a {@link ConfigError} naming the file and what is wrong with it, never
 * the key's content. Read again on reload (SIGHUP): see docs/tls.md. Also: a GET of a JSON
 * document over https with that material (`flotilla status --ca`).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import type { TlsDialMaterial, TlsServerMaterial } from '../transport/tls.ts';
import { ConfigError } from './config.ts';

/** The TLS files named by the configuration. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
  peerCert?: string;
  peerKey?: string;
  /** Stores must present a certificate signed by `ca` on peer links. */
  peerClientCertAuth: boolean;
}

/** What a store listens with and dials with, read from its {@link TlsFiles}. */
export interface StoreTls {
  server: TlsServerMaterial;
  dial: TlsDialMaterial;
  peerClientCertAuth: boolean;
  /** The subject and serial of the listening certificate, for the log. */
  summary: string;
}

async function read(field: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${field}: cannot read ${path}: ${(e as { code?: string }).code ?? (e as Error).message}`);
  }
}

/** Every certificate in a PEM bundle, parsed; at least one. */
function certificates(field: string, path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${field}: ${path} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new ConfigError(`${field}: ${path} holds a certificate that does not parse: ${(e as Error).message}`);
    }
  });
}

/** Reads a certificate chain and its key and checks that the key is the leaf's. */
async function pair(certField: string, certPath: string, keyField: string, keyPath: string): Promise<{ cert: string; key: string; leaf: X509Certificate }> {
  const cert = await read(certField, certPath);
  const key = await read(keyField, keyPath);
  const [leaf] = certificates(certField, certPath, cert);
  let parsed: ReturnType<typeof createPrivateKey>;
  try {
    parsed = createPrivateKey(key);
  } catch {
    // The parser's message may quote the input: say only which file.
    throw new ConfigError(`${keyField}: ${keyPath} holds no private key in PEM form`);
  }
  if (!leaf.checkPrivateKey(parsed)) throw new ConfigError(`${keyField}: ${keyPath} is not the key of the certificate in ${certPath}`);
  return { cert, key, leaf };
}

/**
 * Reads and checks the TLS files.
 * @param files - the paths from the configuration.
 * @throws {@link ConfigError} naming the first bad file.
 */
export async function loadStoreTls(files: TlsFiles): Promise<StoreTls> {
  const own = await pair('cert', files.cert, 'key', files.key);
  let ca: string | undefined;
  if (files.ca !== undefined) {
    ca = await read('ca', files.ca);
    certificates('ca', files.ca, ca);
  }
  const peer = files.peerCert !== undefined && files.peerKey !== undefined ? await pair('peerCert', files.peerCert, 'peerKey', files.peerKey) : own;
  return {
    server: { cert: own.cert, key: own.key, ...(ca !== undefined ? { ca } : {}), requestCert: files.peerClientCertAuth },
    dial: { ...(ca !== undefined ? { ca } : {}), cert: peer.cert, key: peer.key },
    peerClientCertAuth: files.peerClientCertAuth,
    summary: `subject ${JSON.stringify(own.leaf.subject.replace(/\n/g, ', '))}, serial ${own.leaf.serialNumber}, valid until ${own.leaf.validTo}`,
  };
}

/**
 * Reads what an admin command or a client dials with: `--ca`, and `--cert`/`--key` for mutual TLS.
 * @throws {@link ConfigError} naming the first bad file.
 */
export async function loadDialTls(files: { ca?: string; cert?: string; key?: string }): Promise<TlsDialMaterial> {
  if ((files.cert === undefined) !== (files.key === undefined)) throw new ConfigError('key: --cert and --key go together');
  const out: TlsDialMaterial = {};
  if (files.ca !== undefined) {
    out.ca = await read('ca', files.ca);
    certificates('ca', files.ca, out.ca);
  }
  if (files.cert !== undefined && files.key !== undefined) {
    const p = await pair('cert', files.cert, 'key', files.key);
    out.cert = p.cert;
    out.key = p.key;
  }
  return out;
}

/**
 * GETs a JSON document over https, trusting `tls.ca` and presenting `tls.cert`/`tls.key` if given.
 * @param url - an `https://` URL.
 * @param tls - what to trust and present.
 */
export function httpsJson(url: string, tls: TlsDialMaterial, headers: Record<string, string> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: tls.ca, cert: tls.cert, key: tls.key, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return reject(new Error(`GET ${new URL(url).pathname} answered ${status}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}
