/**
 * The configuration of `flotilla serve`: command-line flags and an optional JSON file
 * (`--config`), merged (flags win) and validated with zod. Every problem names its field.
 */
import { z } from 'zod';
import { STORE_ID_MAX } from '../../src/server/protocol.ts';
import type { ServerHardening } from './store-server.ts';

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7001');
const address = z.string().regex(/^(wss?:\/\/)?[^\s:/]+:\d{1,5}\/?$/, 'expected host:port or ws://host:port');
const storeId = z.int().positive().max(STORE_ID_MAX);
const count = z.int().nonnegative();

/** The schema of a serve configuration (file keys; flags use the same names in kebab case). */
export const serveConfigSchema = z
  .object({
    id: storeId.optional(),
    listen: hostPort.default('127.0.0.1:7001'),
    advertise: z.string().optional(),
    peers: z.record(z.string().regex(/^\d+$/, 'store ids are positive integers'), address).default({}),
    join: address.optional(),
    /**
     * On an empty data directory (etcd's `--initial-cluster-state`): `new` bootstraps the initial
     * regions; `existing` never does (the store waits to be given replicas); `auto` (default)
     * first waits up to `peerProbeMs` for a peer to answer. A store that a running peer knew
     * bootstraps nothing in any case (it lost its data). Ignored once the directory holds a store.
     */
    initialClusterState: z.enum(['new', 'existing', 'auto']).default('auto'),
    /** How long `auto` waits for a peer to answer before bootstrapping (ms). */
    peerProbeMs: z.int().min(0).max(600_000).default(3000),
    data: z.string().min(1).optional(),
    /** The storage engine of `data`: absent picks what the directory holds, else lmdb (fs where lmdb cannot load). */
    engine: z.enum(['lmdb', 'fs']).optional(),
    /** Filled from `secretFile` or FLOTILLA_SECRET, never from argv or the config file itself. */
    secret: z.string({ error: 'the cluster secret is required: set FLOTILLA_SECRET or name a file with --secret-file' }).min(16, 'the cluster secret must be at least 16 characters (FLOTILLA_SECRET or --secret-file)'),
    /** A file holding the cluster secret (one trailing newline is ignored); wins over FLOTILLA_SECRET. */
    secretFile: z.string().min(1).optional(),
    /** TLS (docs/tls.md): this store's certificate chain and key (PEM files), for listening and, unless `peerCert`, for dialling peers. */
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** CA certificates (PEM) that peers' certificates must chain to. */
    ca: z.string().min(1).optional(),
    /** Mutual TLS between stores: a store must present a certificate signed by `ca` (clients need not). */
    peerClientCertAuth: z.boolean().default(false),
    /** A different certificate and key for dialling peers (default `cert`/`key`). */
    peerCert: z.string().min(1).optional(),
    peerKey: z.string().min(1).optional(),
    cluster: z.string().min(1).max(128).default('flotilla'),
    http: hostPort.optional(),
    pd: z.boolean().default(true),
    replicas: z.int().min(1).max(7).default(3),
    initialSplitKeys: z.array(z.string().min(1)).default([]),
    splitKeys: count.default(0),
    splitBytes: count.default(0),
    tickMs: z.int().min(1).max(10_000).default(50),
    electionTick: z.int().min(2).max(1000).default(10),
    heartbeatTick: z.int().min(1).max(100).default(2),
    storeDownMs: z.int().positive().optional(),
    pdIntervalMs: z.int().positive().optional(),
    /** Lifetime of the login tokens this store issues (ms; docs/auth.md). */
    tokenTtlMs: z.int().min(1000).max(7 * 24 * 3600_000).optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    // Limits on unauthenticated and hostile peers (docs/hardening.md); absent: the defaults there.
    handshakeTimeoutMs: z.int().min(100).max(600_000).optional(),
    /** A link silent this long is closed as dead (docs/reconnect.md). */
    linkIdleTimeoutMs: z.int().min(100).max(3_600_000).optional(),
    unauthenticatedPerAddressMax: z.int().positive().optional(),
    unauthenticatedMax: z.int().positive().optional(),
    authFailuresMax: z.int().positive().optional(),
    authFailureWindowMs: z.int().positive().optional(),
    authBanMs: z.int().positive().optional(),
    httpHeadersTimeoutMs: z.int().min(100).max(600_000).optional(),
    httpRequestTimeoutMs: z.int().min(100).max(600_000).optional(),
    // Load shedding (docs/overload.md); absent: the defaults there.
    requestsInFlightMax: z.int().positive().max(1_000_000).optional(),
    requestsInFlightBytesMax: z.int().positive().max(2 ** 40).optional(),
    latencyTargetMs: z.int().positive().max(600_000).optional(),
  })
  .strict()
  .refine((c) => c.heartbeatTick < c.electionTick, { message: 'must be below electionTick', path: ['heartbeatTick'] })
  .refine((c) => c.id !== undefined || c.join !== undefined, { message: 'is required unless the store joins a cluster (--join)', path: ['id'] })
  .refine((c) => (c.cert === undefined) === (c.key === undefined), { message: '--cert and --key go together', path: ['key'] })
  .refine((c) => (c.peerCert === undefined) === (c.peerKey === undefined), { message: '--peer-cert and --peer-key go together', path: ['peerKey'] })
  .refine((c) => c.cert !== undefined || (c.ca === undefined && c.peerCert === undefined && !c.peerClientCertAuth), { message: 'TLS needs --cert and --key (for --ca, --peer-cert, --peer-client-cert-auth)', path: ['cert'] })
  .refine((c) => !c.peerClientCertAuth || c.ca !== undefined, { message: '--peer-client-cert-auth needs --ca (the CA that signs the stores\' certificates)', path: ['ca'] });

/** A validated serve configuration. */
export type ServeConfig = z.infer<typeof serveConfigSchema>;

/** The numeric keys of the hostile-peer limits. */
const HARDENING_KEYS = ['handshakeTimeoutMs', 'linkIdleTimeoutMs', 'unauthenticatedPerAddressMax', 'unauthenticatedMax', 'authFailuresMax', 'authFailureWindowMs', 'authBanMs', 'httpHeadersTimeoutMs', 'httpRequestTimeoutMs'];

/** Flags taking no value, and the config key and value they set. */
const SWITCHES: Record<string, [string, unknown]> = { 'no-pd': ['pd', false], pd: ['pd', true], json: ['json', true], 'peer-client-cert-auth': ['peerClientCertAuth', true] };

/** Why `--secret` is refused: argv is visible to every user of the machine (`ps`, /proc). */
export const SECRET_ON_ARGV = 'secret: --secret is not accepted (the command line is visible to other users): set FLOTILLA_SECRET or put the secret in a file named by --secret-file';
const NUMERIC = new Set(['id', 'peerProbeMs', 'replicas', 'splitKeys', 'splitBytes', 'tickMs', 'electionTick', 'heartbeatTick', 'storeDownMs', 'pdIntervalMs', 'tokenTtlMs', 'requestsInFlightMax', 'requestsInFlightBytesMax', 'latencyTargetMs', ...HARDENING_KEYS]);

/** A configuration error: the message names the field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Parses `--peers 1=host:port,2=host:port` into `{ 1: 'host:port', ... }`. */
function parsePeers(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').filter((p) => p.length > 0)) {
    const at = part.indexOf('=');
    if (at <= 0) throw new ConfigError(`peers: expected id=host:port, got ${JSON.stringify(part)}`);
    out[part.slice(0, at)] = part.slice(at + 1);
  }
  return out;
}

/**
 * Splits argv into `--flag value` pairs (and `--flag=value`, and switches) as config keys.
 * @param argv - arguments after the subcommand.
 */
export function parseFlags(argv: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (flags start with --)`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === 'secret') throw new ConfigError(SECRET_ON_ARGV);
    if (name in SWITCHES && value === undefined) {
      const [key, v] = SWITCHES[name];
      out[key] = v;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`${name}: --${name} needs a value`);
    }
    const key = camel(name);
    if (key === 'peers') out.peers = parsePeers(value);
    else if (key === 'initialSplitKeys') out.initialSplitKeys = value.split(',').filter((k) => k.length > 0);
    else if (NUMERIC.has(key)) out[key] = /^-?\d+$/.test(value) ? Number(value) : value;
    else out[key] = value;
  }
  return out;
}

/**
 * Builds the serve configuration from flags, the `--config` file they name and the environment.
 * @param argv - the arguments after `serve`.
 * @param env - the environment (`FLOTILLA_SECRET`).
 * @param readFile - reads the config file (injected so tests need no disk).
 * @throws {@link ConfigError} naming the field that is wrong.
 */
export async function loadServeConfig(argv: readonly string[], env: Record<string, string | undefined>, readFile: (path: string) => Promise<string>): Promise<ServeConfig> {
  const flags = parseFlags(argv);
  let file: Record<string, unknown> = {};
  if (typeof flags.config === 'string') {
    let text: string;
    try {
      text = await readFile(flags.config);
    } catch (e) {
      throw new ConfigError(`config: cannot read ${flags.config}: ${(e as Error).message}`);
    }
    try {
      file = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config: ${flags.config} is not JSON: ${(e as Error).message}`);
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new ConfigError(`config: ${flags.config} must hold a JSON object`);
  }
  delete flags.config;
  if ('secret' in file) throw new ConfigError('secret: the config file may not hold the secret itself: name a file with "secretFile" (mode 0600), or set FLOTILLA_SECRET');
  const merged: Record<string, unknown> = { ...file, ...flags };
  if (typeof merged.secretFile === 'string') merged.secret = await readSecretFile(merged.secretFile, readFile);
  else if (env.FLOTILLA_SECRET) merged.secret = env.FLOTILLA_SECRET;
  const parsed = serveConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length > 0 ? issue.path.join('.') : 'config';
    throw new ConfigError(`${field}: ${issue.code === 'unrecognized_keys' ? `unknown field(s) ${(issue as { keys: string[] }).keys.join(', ')}` : issue.message}`);
  }
  return parsed.data;
}

/**
 * Reads the cluster secret from `path` (one trailing newline dropped).
 * @throws {@link ConfigError} naming the file (never its content) when it cannot be read.
 */
export async function readSecretFile(path: string, readFile: (path: string) => Promise<string>): Promise<string> {
  try {
    return (await readFile(path)).replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigError(`secretFile: cannot read ${path}: ${(e as { code?: string }).code ?? (e as Error).message}`);
  }
}

/** `host:port` or `ws://host:port` as a WebSocket URL; with `tls`, `host:port` means `wss://host:port`. */
export function toWsUrl(address: string, tls = false): string {
  return /^wss?:\/\//.test(address) ? address.replace(/\/$/, '') : `${tls ? 'wss' : 'ws'}://${address}`;
}

/** Splits `host:port`. */
export function splitHostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

/**
 * The hostile-peer limits of a serve configuration, as {@link ServerHardening} (unset keys stay
 * unset, so the adapters' defaults apply).
 * @param c - a validated configuration.
 */
export function serverHardening(c: ServeConfig): ServerHardening {
  return {
    handshakeTimeoutMs: c.handshakeTimeoutMs,
    linkIdleTimeoutMs: c.linkIdleTimeoutMs,
    admission: { unauthenticatedPerAddressMax: c.unauthenticatedPerAddressMax, unauthenticatedMax: c.unauthenticatedMax, authFailuresMax: c.authFailuresMax, authFailureWindowMs: c.authFailureWindowMs, authBanMs: c.authBanMs },
    http: { headersTimeoutMs: c.httpHeadersTimeoutMs, requestTimeoutMs: c.httpRequestTimeoutMs },
  };
}
