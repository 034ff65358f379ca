/**
 * User logins in the handshake (`handshake.ts` carries the messages). A client that holds no
 * cluster secret says who it is in its `hello`:
 *
 * - with a token (`u`, `tk`): the server checks it (`src/auth/token.ts`) and answers `session`
 *   { s, x: expiry } — one round trip;
 * - with a password (`u` only): SCRAM (`src/auth/scram.ts`). server → `scram` { s, n, salt, N, r, p };
 *   client → `proof` { p }; server → `session` { s, x, tk: a fresh token, g: server signature },
 *   which the client checks before it trusts the link.
 *
 * Every failure is refused with `BadCredentials` and says no more than "wrong user name or
 * password" (an unknown user gets a decoy salt, so the answer does not tell which users exist).
 * A user's link must take a client transport id (at or above `clientIdMin`), so a user can
 * never pose as a store: servers never take a client id's frames for Raft or PD messages.
 */
import { fromHex, toHex } from '../codec/utf8.ts';
import { authMessage, checkClientProof, clientProof, equalConstantTime } from './scram.ts';
import type { PasswordVerifier, ScryptParams } from './table.ts';
import { type ClientHandshake, checkHeader, type HandshakeMessage, type HandshakeStep, parseHandshakeMessage, peerRefusal, refuse, type UserLoginHandler } from '../transport/handshake.ts';
import { PROTOCOL_VERSION } from '../codec/frame.ts';

/** What the server side of user logins needs (made by `src/auth/logins.ts` from the auth table). */
export interface UserDirectory {
  clusterId: string;
  /** Lowest transport id a user's link may take (`CLIENT_ID_MIN`). */
  clientIdMin: number;
  /** The verifier to challenge `user` with: the real one, or a decoy (`real: false`) for an unknown user or while logins are off. */
  challenge(user: string): { verifier: PasswordVerifier; real: boolean };
  /** Issues a token for `user`, who just proved its password. */
  issue(user: string): { token: string; expiresAtMs: number };
  /** Checks a token presented by a link claiming to be `user`. */
  check(user: string, token: string): { ok: true; expiresAtMs: number } | { ok: false; reason: string };
}

const WRONG = 'wrong user name or password';

/**
 * The server side of user logins, for `createServerHandshake`.
 * @param directory - users and tokens.
 * @param randomNonce - 32 hex characters of fresh randomness per login.
 */
export function createUserLoginHandler(directory: UserDirectory, randomNonce: () => string): UserLoginHandler {
  return {
    async start(hello, localId) {
      const user = hello.u;
      if (user === undefined) return { step: refuse('BadCredentials', 'a token login must name its user') };
      if (hello.s < directory.clientIdMin) return { step: refuse('BadCredentials', `a user's link must take a client id (at least ${directory.clientIdMin}), not a store's`) };
      const header = { v: PROTOCOL_VERSION, c: directory.clusterId, s: localId };
      if (hello.tk !== undefined) {
        const checked = directory.check(user, hello.tk);
        if (!checked.ok) return { step: refuse('BadCredentials', `token refused: ${checked.reason}`) };
        return { step: { kind: 'done', peerId: hello.s, session: { user, expiresAtMs: checked.expiresAtMs }, message: JSON.stringify({ h: 'session', ...header, x: checked.expiresAtMs }) } };
      }
      const nonceS = randomNonce();
      const { verifier, real } = directory.challenge(user);
      const message = authMessage(directory.clusterId, user, hello.s, localId, hello.n, nonceS);
      const step: HandshakeStep = { kind: 'send', message: JSON.stringify({ h: 'scram', ...header, n: nonceS, salt: toHex(verifier.salt), ...verifier.scrypt }) };
      const next = async (m: HandshakeMessage): Promise<HandshakeStep> => {
        if (m.h !== 'proof') return refuse('Malformed', `unexpected ${m.h} message`);
        const signature = checkClientProof(verifier, message, fromHex(m.p)!);
        if (signature === undefined || !real) return refuse('BadCredentials', WRONG);
        const { token, expiresAtMs } = directory.issue(user);
        return { kind: 'done', peerId: hello.s, session: { user, expiresAtMs }, message: JSON.stringify({ h: 'session', ...header, x: expiresAtMs, tk: token, g: toHex(signature) }) };
      };
      return { step, next };
    },
  };
}

/** What a client logging in as a user keeps (the remote client's credentials object). */
export interface UserCredentials {
  user: string;
  /** A token still good for a while, to log in without the password; undefined to use the password. */
  token(): string | undefined;
  /** scrypt of the password for this salt and cost: the slow step, cached by the caller. */
  saltedPassword(salt: Uint8Array, params: ScryptParams): Promise<Uint8Array>;
  /** A store issued a token after a password login. */
  issued(token: string, expiresAtMs: number): void;
  /** The token was refused (expired, revoked): forget it, the next login uses the password. */
  tokenRefused(token: string): void;
}

/**
 * The client side of a user login.
 * @param self - cluster, this client's transport id (at or above `CLIENT_ID_MIN`) and randomness.
 * @param credentials - the user and how to get its token or salted password.
 * @param expectPeerId - the store id the dialled address should belong to, when known.
 */
export function createUserClientHandshake(self: { clusterId: string; localId: number; crypto: { getRandomValues<T extends Uint8Array>(a: T): T } }, credentials: UserCredentials, expectPeerId?: number): ClientHandshake {
  const nonceC = toHex(self.crypto.getRandomValues(new Uint8Array(16)));
  const token = credentials.token();
  let state: 'hello' | 'first' | 'session' | 'over' = 'hello';
  let peerId = 0;
  let expectSignature: Uint8Array | undefined;
  const checkPeer = (m: { v: number; c: string; s: number }): HandshakeStep | undefined => {
    const bad = checkHeader(m, self);
    if (bad) return bad;
    if (peerId !== 0 && m.s !== peerId) return refuse('Malformed', `store ${m.s} answered for store ${peerId}`);
    if (expectPeerId !== undefined && m.s !== expectPeerId) return refuse('UnexpectedPeer', `expected store ${expectPeerId} at this address, found store ${m.s}`);
    peerId = m.s;
    return undefined;
  };
  return {
    hello() {
      state = 'first';
      return JSON.stringify({ h: 'hello', v: PROTOCOL_VERSION, c: self.clusterId, s: self.localId, n: nonceC, u: credentials.user, tk: token });
    },
    async receive(text) {
      const m = parseHandshakeMessage(text);
      const expected = state;
      state = 'over';
      if (m === undefined) return refuse('Malformed', 'unreadable handshake message');
      const refused = peerRefusal(m);
      if (refused) {
        if (token !== undefined && refused.kind === 'refuse' && refused.code === 'BadCredentials') credentials.tokenRefused(token);
        return refused;
      }
      if (expected === 'first' && token !== undefined && m.h === 'session') {
        return checkPeer(m) ?? { kind: 'done', peerId, session: { user: credentials.user, expiresAtMs: m.x } };
      }
      if (expected === 'first' && token === undefined && m.h === 'scram') {
        const bad = checkPeer(m);
        if (bad) return bad;
        const salted = await credentials.saltedPassword(fromHex(m.salt)!, { N: m.N, r: m.r, p: m.p });
        const { proof, serverSignature } = clientProof(salted, authMessage(self.clusterId, credentials.user, self.localId, m.s, nonceC, m.n));
        expectSignature = serverSignature;
        state = 'session';
        return { kind: 'send', message: JSON.stringify({ h: 'proof', p: toHex(proof) }) };
      }
      if (expected === 'session' && m.h === 'session') {
        const bad = checkPeer(m);
        if (bad) return bad;
        if (m.g === undefined || m.tk === undefined || !equalConstantTime(fromHex(m.g)!, expectSignature!)) return refuse('BadProof', 'the store did not prove it holds this user\'s verifier');
        credentials.issued(m.tk, m.x);
        return { kind: 'done', peerId, session: { user: credentials.user, expiresAtMs: m.x } };
      }
      return refuse('Malformed', `unexpected ${m.h} message`);
    },
  };
}
