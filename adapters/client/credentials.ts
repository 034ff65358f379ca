/**
 * A remote client's user login: the name, the password (kept in this object only, to log in
 * again when a token runs out), the salted password per salt (scrypt is the slow step, run once
 * per salt), and the newest token, which every new link presents instead of the password while it
 * has more than a third of its lifetime (or 30 s) left. So a client refreshes its token by
 * itself: the first link opened past that point logs in with the password and gets a new one.
 */
import { saltPassword } from '../../src/auth/scram.ts';
import { toHex } from '../../src/codec/utf8.ts';
import type { UserCredentials } from '../../src/auth/user-handshake.ts';

/** {@link UserCredentials} with what the client library reads of them. */
export interface PasswordCredentials extends UserCredentials {
  /** The newest token, if any (for `Authorization: Bearer` on `/status`). */
  currentToken(): { token: string; expiresAtMs: number } | undefined;
  /** Whether a link opened under a login expiring at `expiresAtMs` should be replaced now. */
  stale(expiresAtMs: number): boolean;
}

/**
 * Makes the credentials of `user`.
 * @param user - the user name.
 * @param password - its password (never sent: see `src/auth/scram.ts`).
 * @param nowMs - wall clock, ms since the epoch (default `Date.now`).
 */
export function createPasswordCredentials(user: string, password: string, nowMs: () => number = Date.now): PasswordCredentials {
  const salted = new Map<string, Promise<Uint8Array>>();
  let current: { token: string; issuedAtMs: number; expiresAtMs: number } | undefined;
  // Replaced once less than a third of the lifetime (at most 30 s) is left: well before any store
  // (clocks within CLOCK_SKEW_MS of each other) sees it expire.
  const stale = (expiresAtMs: number) => {
    const lifetime = current ? current.expiresAtMs - current.issuedAtMs : 0;
    return expiresAtMs - nowMs() <= Math.min(30_000, lifetime / 3);
  };
  return {
    user,
    token: () => (current && !stale(current.expiresAtMs) ? current.token : undefined),
    saltedPassword(salt, params) {
      const key = `${toHex(salt)}/${params.N}/${params.r}/${params.p}`;
      let p = salted.get(key);
      if (!p) {
        p = saltPassword(password, salt, params);
        salted.set(key, p);
        p.catch(() => salted.delete(key));
      }
      return p;
    },
    issued(token, expiresAtMs) {
      if (!current || expiresAtMs > current.expiresAtMs) current = { token, issuedAtMs: nowMs(), expiresAtMs };
    },
    tokenRefused(token) {
      if (current?.token === token) current = undefined;
    },
    currentToken: () => (current ? { token: current.token, expiresAtMs: current.expiresAtMs } : undefined),
    stale,
  };
}
