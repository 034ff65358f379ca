/**
 * Throwaway certificates for the TLS tests, made with the `openssl` command line in a temporary
 * directory: a cluster CA, a second unrelated CA, and leaf certificates (ECDSA P-256, valid two
 * days, for 127.0.0.1 and localhost, usable as server and as client certificates).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key on disk. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A directory of throwaway certificates. */
export interface TestPki {
  dir: string;
  /** The cluster CA (its certificate is `ca.cert`). */
  ca: CertFiles;
  /** Another CA, that the cluster does not trust. */
  otherCa: CertFiles;
  /** Makes a leaf certificate named `name` (its subject CN), signed by `by` (default the cluster CA). */
  leaf(name: string, by?: CertFiles): CertFiles;
  /** Removes the directory. */
  close(): void;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSigned(dir: string, name: string): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.key, '-out', files.cert, '-days', '2', '-subj', `/CN=${name}`]);
  return files;
}

/** Makes a CA pair in a fresh temporary directory. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-pki-'));
  const ca = selfSigned(dir, 'flotilla-test-ca');
  const otherCa = selfSigned(dir, 'other-ca');
  return {
    dir,
    ca,
    otherCa,
    leaf(name, by = ca) {
      const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
      const csr = join(dir, `${name}.csr`);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
      openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.key, '-out', csr, '-subj', `/CN=${name}`]);
      openssl(dir, ['x509', '-req', '-in', csr, '-CA', by.cert, '-CAkey', by.key, '-CAcreateserial', '-out', files.cert, '-days', '2', '-extfile', ext]);
      chmodSync(files.key, 0o600);
      return files;
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
