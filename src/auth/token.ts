/**
 * Short-lived signed login tokens. A store that checked a user's password hands out a token
 * `<body>.<tag>`: the body is base64url JSON `{ c: cluster, u: user, iat, exp, rev }` (ms since the
 * epoch, and the auth revision it was issued under), the tag HMAC-SHA256 over the body under a key
 * derived with HKDF from the cluster secret, which only stores hold. Any store of the cluster
 * checks a token without asking anyone; a client uses it to log in to every other store until it
 * nears expiry, then logs in with its password again.
 *
 * Refused: a bad tag (forged or altered), another cluster's, expired, issued more than
 * {@link CLOCK_SKEW_MS} in the verifier's future, for a user that no longer exists or whose
 * password changed since (`passwordRevision`), or while auth is disabled. Permissions are never in
 * the token: each request is checked against the table in force (`permissions.ts`).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { z } from 'zod';
import { encodeUtf8 } from '../codec/utf8.ts';
import { equalConstantTime } from './scram.ts';
import { type AuthTable, findUser, nameSchema } from './table.ts';

/** How far a store's clock may run behind the issuer's: a token issued up to this far in the future is accepted. */
export const CLOCK_SKEW_MS = 30_000;
/** Default token lifetime. */
export const DEFAULT_TOKEN_TTL_MS = 10 * 60_000;
/** Longest token text accepted. */
export const TOKEN_CHARS_MAX = 512;

/** The token signing key (raw bytes, kept in the store process only). */
export interface TokenKey {
  readonly bytes: Uint8Array;
}

/**
 * Derives the token key from the cluster secret (HKDF-SHA256, the cluster id as salt).
 * @param secret - the cluster secret.
 * @param clusterId - the cluster id.
 */
export function deriveTokenKey(secret: string | Uint8Array, clusterId: string): TokenKey {
  const ikm = typeof secret === 'string' ? encodeUtf8(secret) : secret;
  return { bytes: hkdf(sha256, ikm, encodeUtf8(clusterId), encodeUtf8('flotilla login token key v1'), 32) };
}

/** What a valid token says. */
export interface TokenClaims {
  user: string;
  issuedAtMs: number;
  expiresAtMs: number;
  revision: number;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function toBase64Url(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    const chars = [n >> 18, (n >> 12) & 63, (n >> 6) & 63, n & 63].map((x) => B64[x]);
    out += chars.slice(0, Math.min(4, b.length - i + 1)).join('');
  }
  return out;
}

function fromBase64Url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return undefined;
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 4) {
    const chunk = s.slice(i, i + 4);
    const n = [...chunk].reduce((acc, c, j) => acc | (B64.indexOf(c) << (18 - 6 * j)), 0);
    out.push((n >> 16) & 255);
    if (chunk.length > 2) out.push((n >> 8) & 255);
    if (chunk.length > 3) out.push(n & 255);
  }
  return Uint8Array.from(out);
}

/** JSON with every non-ASCII character escaped, so the body's bytes are its characters. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const bodySchema = z.object({ c: z.string().max(128), u: nameSchema, iat: z.int().nonnegative(), exp: z.int().nonnegative(), rev: z.int().nonnegative() });

/**
 * Issues a token for `user`.
 * @param key - from {@link deriveTokenKey}.
 * @param clusterId - the cluster.
 * @param claims - user, times and revision.
 */
export function issueToken(key: TokenKey, clusterId: string, claims: TokenClaims): string {
  const body = toBase64Url(encodeUtf8(asciiJson({ c: clusterId, u: claims.user, iat: claims.issuedAtMs, exp: claims.expiresAtMs, rev: claims.revision })));
  return `${body}.${toBase64Url(hmac(sha256, key.bytes, encodeUtf8(body)))}`;
}

/**
 * Checks a token against the key, the clock and the auth table in force.
 * @returns its claims, or why it is refused (to be reported without detail to the peer).
 */
export function verifyToken(key: TokenKey, clusterId: string, token: string, nowMs: number, table: AuthTable): { ok: true; claims: TokenClaims } | { ok: false; reason: string } {
  if (token.length > TOKEN_CHARS_MAX) return { ok: false, reason: 'token too long' };
  const [body, tag, extra] = token.split('.');
  const tagBytes = tag === undefined || extra !== undefined ? undefined : fromBase64Url(tag);
  if (body === undefined || tagBytes === undefined) return { ok: false, reason: 'malformed token' };
  if (!equalConstantTime(tagBytes, hmac(sha256, key.bytes, encodeUtf8(body)))) return { ok: false, reason: 'bad token signature' };
  let parsed: ReturnType<typeof bodySchema.safeParse>;
  try {
    parsed = bodySchema.safeParse(JSON.parse(String.fromCharCode(...(fromBase64Url(body) ?? new Uint8Array(0)))));
  } catch {
    return { ok: false, reason: 'malformed token' };
  }
  if (!parsed.success) return { ok: false, reason: 'malformed token' };
  const b = parsed.data;
  if (b.c !== clusterId) return { ok: false, reason: 'token of another cluster' };
  if (nowMs >= b.exp) return { ok: false, reason: 'token expired' };
  if (b.iat > nowMs + CLOCK_SKEW_MS) return { ok: false, reason: 'token issued in the future (clock skew between stores?)' };
  if (!table.enabled) return { ok: false, reason: 'auth is disabled' };
  const user = findUser(table, b.u);
  if (!user) return { ok: false, reason: 'user removed' };
  if (user.passwordRevision > b.rev) return { ok: false, reason: 'password changed since the token was issued' };
  return { ok: true, claims: { user: b.u, issuedAtMs: b.iat, expiresAtMs: b.exp, revision: b.rev } };
}

/** The user a token names, unchecked (to look up before {@link verifyToken}); undefined when unreadable. */
export function tokenUserOf(token: string): string | undefined {
  if (token.length > TOKEN_CHARS_MAX) return undefined;
  try {
    const body = JSON.parse(String.fromCharCode(...(fromBase64Url(token.split('.')[0]) ?? new Uint8Array(0)))) as { u?: unknown };
    return typeof body.u === 'string' ? body.u : undefined;
  } catch {
    return undefined;
  }
}
