/**
 * `flotilla serve`: runs one store until SIGTERM or SIGINT, then shuts down cleanly (stop
 * accepting, finish or fail calls in flight, close the store, the transport and the engine) and
 * exits 0. A storage failure (disk full, EIO) stops the store: it exits with code 75. Prints `flotilla: store <id> listening on <url>` on stdout once it serves.
 * SIGHUP re-reads the TLS files (docs/tls.md): new connections use the new certificate.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../src/ports.ts';
import { loadServeConfig, type ServeConfig, serverHardening, splitHostPort, toWsUrl } from '../adapters/server/config.ts';
import { loadStoreTls, type StoreTls } from '../adapters/server/tls-files.ts';
import { startStatusServer } from '../adapters/server/http-status.ts';
import { startStoreServer } from '../adapters/server/store-server.ts';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** The exit code of a store that stopped on a storage failure (EX_TEMPFAIL: restart it). */
export const EXIT_STORAGE_FAILURE = 75;

/** A logger writing one line per event to stderr, at or above `level`. */
export function stderrLogger(level: (typeof LEVELS)[number], prefix: string): Logger {
  const min = LEVELS.indexOf(level);
  const line = (lvl: (typeof LEVELS)[number]) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(lvl) < min) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields, (_, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}` : '';
    process.stderr.write(`${new Date().toISOString()} ${lvl} ${prefix}${msg}${extra}\n`);
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** Registers `handler` for SIGTERM and SIGINT (or the signals named), in Node and in Deno. */
function onSignals(handler: (signal: string) => void, signals = ['SIGTERM', 'SIGINT']): void {
  const deno = (globalThis as { Deno?: { addSignalListener(s: string, f: () => void): void } }).Deno;
  for (const signal of signals) {
    if (deno) deno.addSignalListener(signal, () => handler(signal));
    else process.on(signal, () => handler(signal));
  }
}

/**
 * Warns (one line, naming the file, never its content) when a secret file is readable by group or others.
 * @param path - the file.
 * @param warn - where to say it.
 */
export async function warnIfSecretFileOpen(path: string, warn: (msg: string) => void): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) warn(`the secret file ${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${path}`);
}

function tlsFiles(config: ServeConfig) {
  const { cert, key, ca, peerCert, peerKey, peerClientCertAuth } = config;
  return cert === undefined || key === undefined ? undefined : { cert, key, ca, peerCert, peerKey, peerClientCertAuth };
}

/**
 * Runs `flotilla serve` with the given arguments.
 * @param argv - the arguments after `serve`.
 * @returns the exit code (only on a failed start; a running store exits from its signal handler).
 */
export async function serve(argv: readonly string[]): Promise<number> {
  const config = await loadServeConfig(argv, process.env, (p) => readFile(p, 'utf8'));
  const logger = stderrLogger(config.logLevel, config.id !== undefined ? `[store ${config.id}] ` : '');
  const listen = splitHostPort(config.listen);
  if (config.secretFile !== undefined) await warnIfSecretFileOpen(config.secretFile, (m) => logger.warn(m));
  const files = tlsFiles(config);
  const tls: StoreTls | undefined = files === undefined ? undefined : await loadStoreTls(files);
  const on = tls !== undefined;
  let http: Awaited<ReturnType<typeof startStatusServer>> | undefined;
  let stopping = false;
  // A store stopped by a storage failure serves nothing and cannot recover in place (its memory may
  // be ahead of the disk): exit non-zero so that a supervisor restarts it, which recovers from disk.
  const onFatal = (e: Error) => {
    if (stopping) return;
    stopping = true;
    logger.error(`exiting with code ${EXIT_STORAGE_FAILURE} after a storage failure; restart the store once the disk is fixed`, { error: e.message });
    void (async () => {
      http?.close();
      await server.close();
    })()
      .catch(() => undefined)
      .finally(() => process.exit(EXIT_STORAGE_FAILURE));
  };
  const server = await startStoreServer({
    storeId: config.id,
    listen,
    advertise: config.advertise,
    peers: Object.fromEntries(Object.entries(config.peers).map(([id, a]) => [Number(id), toWsUrl(a, on)])),
    join: config.join === undefined ? undefined : toWsUrl(config.join, on),
    initialClusterState: config.initialClusterState,
    peerProbeMs: config.peerProbeMs,
    dataDir: config.data,
    engine: config.engine,
    secret: config.secret,
    clusterId: config.cluster,
    pd: config.pd,
    replicas: config.replicas,
    initialSplitKeys: config.initialSplitKeys,
    splitKeys: config.splitKeys,
    splitBytes: config.splitBytes,
    tickMs: config.tickMs,
    electionTick: config.electionTick,
    heartbeatTick: config.heartbeatTick,
    storeDownMs: config.storeDownMs,
    pdIntervalMs: config.pdIntervalMs,
    hardening: serverHardening(config),
    admission: { requestsMax: config.requestsInFlightMax, bytesMax: config.requestsInFlightBytesMax, latencyTargetMs: config.latencyTargetMs },
    tokenTtlMs: config.tokenTtlMs,
    logger,
    onFatal,
    tls,
  });
  if (config.http !== undefined) {
    const h = splitHostPort(config.http);
    try {
      http = await startStatusServer(server, h.host, h.port, serverHardening(config).http, tls?.server);
    } catch (e) {
      await server.close();
      throw e;
    }
  }
  onSignals((signal) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    void (async () => {
      http?.close();
      await server.close();
      process.exit(0);
    })().catch((e) => {
      logger.error('shutdown failed', { error: String(e) });
      process.exit(1);
    });
  });
  if (files !== undefined) {
    logger.info(`TLS: ${tls!.summary}${tls!.peerClientCertAuth ? '; stores must present a certificate signed by --ca' : ''}`);
    // A bad file at reload keeps the old certificate: the store goes on serving with it.
    onSignals(() => {
      void loadStoreTls(files).then(
        (next) => {
          server.reloadTls(next);
          if (http !== undefined && 'setSecureContext' in http) http.setSecureContext({ cert: next.server.cert, key: next.server.key });
          logger.info(`TLS reloaded: ${next.summary}`);
        },
        (e: Error) => logger.warn(`TLS reload failed, keeping the current certificate: ${e.message}`),
      );
    }, ['SIGHUP']);
  }
  process.stdout.write(`flotilla: store ${server.storeId} listening on ${server.url}${config.http ? ` (http${on ? 's' : ''} ${config.http})` : ''}\n`);
  return -1;
}
