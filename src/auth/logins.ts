/**
 * A store's {@link UserDirectory}: the user logins of its handshakes, answered from the auth table
 * it holds now (`cache.ts`) and the token key derived from the cluster secret.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeUtf8 } from '../codec/utf8.ts';
import type { UserDirectory } from './user-handshake.ts';
import { DEFAULT_SCRYPT } from './scram.ts';
import { type AuthTable, findUser } from './table.ts';
import { DEFAULT_TOKEN_TTL_MS, issueToken, type TokenKey, verifyToken } from './token.ts';

/** Options of {@link createUserDirectory}. */
export interface UserDirectoryOptions {
  clusterId: string;
  clientIdMin: number;
  tokenKey: TokenKey;
  /** The table in force on this store now. */
  table(): AuthTable;
  /** Wall-clock time, ms since the epoch (tokens carry wall-clock times). */
  nowMs(): number;
  /** Token lifetime (default {@link DEFAULT_TOKEN_TTL_MS}). */
  tokenTtlMs?: number;
}

/**
 * Creates the user directory of a store.
 * @param options - cluster, token key, table and clock.
 */
export function createUserDirectory(options: UserDirectoryOptions): UserDirectory {
  const ttl = options.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;
  const decoy = (user: string) => {
    // Derived, not random: the same unknown name gets the same salt every time, as a real user would.
    const h = hmac(sha256, options.tokenKey.bytes, encodeUtf8(`decoy|${user}`));
    return { salt: h.slice(0, 16), scrypt: DEFAULT_SCRYPT, storedKey: h, serverKey: h };
  };
  return {
    clusterId: options.clusterId,
    clientIdMin: options.clientIdMin,
    challenge(user) {
      const table = options.table();
      const found = table.enabled ? findUser(table, user) : undefined;
      return found ? { verifier: found.verifier, real: true } : { verifier: decoy(user), real: false };
    },
    issue(user) {
      const now = options.nowMs();
      const expiresAtMs = now + ttl;
      return { token: issueToken(options.tokenKey, options.clusterId, { user, issuedAtMs: now, expiresAtMs, revision: options.table().revision }), expiresAtMs };
    },
    check(user, token) {
      const v = verifyToken(options.tokenKey, options.clusterId, token, options.nowMs(), options.table());
      if (!v.ok) return v;
      if (v.claims.user !== user) return { ok: false, reason: 'token of another user' };
      return { ok: true, expiresAtMs: v.claims.expiresAtMs };
    },
  };
}
