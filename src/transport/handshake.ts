/**
 * The authentication handshake every WebSocket link runs before any frame (pure: the adapters
 * carry its text messages and enforce its timeout).
 *
 * 1. client → server `hello`     { v, c: cluster, s: client store id, n: client nonce, i?: client incarnation }
 * 2. server → client `challenge` { v, c, s: server store id, n: server nonce, p: server proof, i?: server incarnation }
 * 3. client → server `proof`     { p: client proof }
 * 4. server → client `welcome`   — or, at any step, `refuse` { code, reason } and the link closes.
 *
 * A proof is HMAC-SHA256 under the shared cluster secret over the role, the cluster id, both store
 * ids and both nonces, so it proves the secret without revealing it, binds this very link (a proof
 * recorded from another link never verifies against fresh nonces) and cannot be reflected (the
 * roles differ). The server also refuses a client nonce it has seen before (an outright replay).
 *
 * A store also says which incarnation of its data it runs (`i`, see `src/store/store-ident.ts`);
 * both incarnations are in both proofs, so a link's incarnation is as authentic as its store id.
 * Clients have none. Protocol version 3 added `i`.
 *
 * A client without the secret logs in as a user instead (protocol version 4): its `hello` carries
 * `u` (user name) and maybe `tk` (a token), and the server hands it to a {@link UserLoginHandler}
 * (`src/auth/user-handshake.ts`: SCRAM over the nonces, or a token), which answers `scram` /
 * `session` messages. Every failed user login is refused with `BadCredentials`.
 *
 * Protocol version 5 added keepalives (`{"t":"ping"}` text messages after the handshake, docs/reconnect.md):
 * a store of version 4 would count them as bad frames, so the versions refuse each other at hello.
 */
import { z } from 'zod';
import { PROTOCOL_VERSION } from '../codec/frame.ts';
import { encodeUtf8, fromHex, toHex } from '../codec/utf8.ts';
import { INCARNATION_PATTERN } from '../util/incarnation.ts';
import { type HandshakeCrypto, type HandshakeKey, hmacSha256, verifyHmacSha256 } from './hmac.ts';

/** Why a handshake failed; sent to the peer in `refuse` and used as the close reason. */
export type HandshakeFailure =
  | 'WrongVersion'
  | 'WrongCluster'
  | 'BadProof'
  | 'DuplicateStoreId'
  | 'UnexpectedPeer'
  | 'Replay'
  | 'Malformed'
  | 'Timeout'
  | 'OriginRefused'
  /** A user login failed: unknown user, wrong password, or a token that is expired, forged or revoked. */
  | 'BadCredentials';

/** What the adapter does next with the handshake's output. */
export type HandshakeStep =
  /** Send `message` to the peer and wait for its answer. */
  | { kind: 'send'; message: string }
  /** Authenticated as `peerId` (running `peerIncarnation`, if a store); send `message` first when present. Frames may flow. */
  | { kind: 'done'; peerId: number; peerIncarnation?: string; message?: string; session?: UserSession }
  /** Failed: send `message` when present (our refusal), then close with `code` and `reason`. */
  | { kind: 'refuse'; code: HandshakeFailure; reason: string; message?: string };

/** The user a client's link logged in as (absent for links that proved the cluster secret). */
export interface UserSession {
  user: string;
  /** When the token (or the login) the link was opened with expires, ms since the epoch. */
  expiresAtMs: number;
}

/** Who this end is. */
export interface HandshakeIdentity {
  clusterId: string;
  localId: number;
  key: HandshakeKey;
  crypto: HandshakeCrypto;
  /** The incarnation of this store's data (stores only; clients have none). */
  incarnation?: string;
}

/** Longest handshake message accepted, in UTF-16 code units. */
export const HANDSHAKE_MESSAGE_MAX = 1024;
const NONCE_BYTES = 16;

const id = z.int().positive();
const nonce = z.string().regex(/^[0-9a-f]{32}$/);
const proof = z.string().regex(/^[0-9a-f]{64}$/);
const incarnation = z.string().regex(INCARNATION_PATTERN).optional();
const userName = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/).optional();
const token = z.string().max(512).optional();
const message = z.discriminatedUnion('h', [
  z.object({ h: z.literal('hello'), v: z.int(), c: z.string().max(128), s: id, n: nonce, i: incarnation, u: userName, tk: token }),
  z.object({ h: z.literal('challenge'), v: z.int(), c: z.string().max(128), s: id, n: nonce, p: proof, i: incarnation }),
  z.object({ h: z.literal('proof'), p: proof }),
  z.object({ h: z.literal('welcome') }),
  z.object({ h: z.literal('refuse'), code: z.string().max(64), reason: z.string().max(256) }),
  z.object({ h: z.literal('scram'), v: z.int(), c: z.string().max(128), s: id, n: nonce, salt: z.string().regex(/^([0-9a-f]{2}){16,64}$/), N: z.int().min(2).max(2 ** 20), r: z.int().min(1).max(32), p: z.int().min(1).max(16) }),
  z.object({ h: z.literal('session'), v: z.int(), c: z.string().max(128), s: id, x: z.int().nonnegative(), tk: token, g: proof.optional() }),
]);
/** A parsed handshake message. */
export type HandshakeMessage = z.infer<typeof message>;

/** Parses and validates one handshake message; undefined when it is not one. */
export function parseHandshakeMessage(text: unknown): HandshakeMessage | undefined {
  return parse(text);
}

function parse(text: unknown): HandshakeMessage | undefined {
  if (typeof text !== 'string' || text.length > HANDSHAKE_MESSAGE_MAX) return undefined;
  try {
    const parsed = message.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A refusal step (told to the peer unless `tellPeer` is false). */
export function refuse(code: HandshakeFailure, reason: string, tellPeer = true): HandshakeStep {
  return { kind: 'refuse', code, reason, message: tellPeer ? JSON.stringify({ h: 'refuse', code, reason }) : undefined };
}

function proofInput(role: 'client' | 'server', clusterId: string, clientId: number, serverId: number, nonceC: string, nonceS: string, incC: string | undefined, incS: string | undefined): Uint8Array {
  // The cluster id is length-prefixed so that no two field lists give the same text; incarnations
  // hold no '|'.
  return encodeUtf8(`flotilla-handshake/v${PROTOCOL_VERSION}|${role}|${clusterId.length}:${clusterId}|${clientId}|${serverId}|${nonceC}|${nonceS}|${incC ?? ''}|${incS ?? ''}`);
}

/** Refuses a message of another protocol version or cluster. */
export function checkHeader(m: { v: number; c: string }, self: Pick<HandshakeIdentity, 'clusterId'>): HandshakeStep | undefined {
  if (m.v !== PROTOCOL_VERSION) return refuse('WrongVersion', `peer speaks protocol version ${m.v}, this store speaks ${PROTOCOL_VERSION}`);
  if (m.c !== self.clusterId) return refuse('WrongCluster', `peer belongs to cluster ${JSON.stringify(m.c)}, not ${JSON.stringify(self.clusterId)}`);
  return undefined;
}

/** The peer's own refusal, as a step. */
export function peerRefusal(m: HandshakeMessage): HandshakeStep | undefined {
  if (m.h !== 'refuse') return undefined;
  return { kind: 'refuse', code: (m.code as HandshakeFailure) ?? 'Malformed', reason: `peer refused: ${m.reason}` };
}

/** The dialling side of a handshake. */
export interface ClientHandshake {
  /** The first message to send. */
  hello(): string;
  /** Handles the server's next message. */
  receive(text: unknown): Promise<HandshakeStep>;
}

/**
 * Starts the client side of a handshake.
 * @param self - this store's identity, key and crypto.
 * @param expectPeerId - the store id the dialled address should belong to, when known.
 */
export function createClientHandshake(self: HandshakeIdentity, expectPeerId?: number): ClientHandshake {
  const nonceC = toHex(self.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
  let state: 'hello' | 'challenge' | 'welcome' | 'over' = 'hello';
  let peerId = 0;
  let peerIncarnation: string | undefined;
  return {
    hello() {
      state = 'challenge';
      return JSON.stringify({ h: 'hello', v: PROTOCOL_VERSION, c: self.clusterId, s: self.localId, n: nonceC, i: self.incarnation });
    },
    async receive(text) {
      const m = parse(text);
      const expected = state;
      state = 'over';
      if (m === undefined) return refuse('Malformed', 'unreadable handshake message');
      const refused = peerRefusal(m);
      if (refused) return refused;
      if (expected === 'welcome' && m.h === 'welcome') return { kind: 'done', peerId, peerIncarnation };
      if (expected !== 'challenge' || m.h !== 'challenge') return refuse('Malformed', `unexpected ${m.h} message`);
      const bad = checkHeader(m, self);
      if (bad) return bad;
      if (m.s === self.localId) return refuse('DuplicateStoreId', `peer claims this store's own id ${m.s}`);
      if (expectPeerId !== undefined && m.s !== expectPeerId) return refuse('UnexpectedPeer', `expected store ${expectPeerId} at this address, found store ${m.s}`);
      const serverProof = fromHex(m.p)!;
      if (!(await verifyHmacSha256(self.crypto, self.key, serverProof, proofInput('server', self.clusterId, self.localId, m.s, nonceC, m.n, self.incarnation, m.i)))) {
        return refuse('BadProof', 'server did not prove the cluster secret');
      }
      peerId = m.s;
      peerIncarnation = m.i;
      state = 'welcome';
      const p = toHex(await hmacSha256(self.crypto, self.key, proofInput('client', self.clusterId, self.localId, m.s, nonceC, m.n, self.incarnation, m.i)));
      return { kind: 'send', message: JSON.stringify({ h: 'proof', p }) };
    },
  };
}

/** Remembers recent client nonces so a replayed `hello` is refused; bounded, oldest forgotten first. */
export interface NonceRegistry {
  /** Records `nonce`; false when it was already recorded. */
  claim(nonce: string): boolean;
}

/**
 * Creates a {@link NonceRegistry} holding at most `capacity` nonces.
 * @param capacity - how many recent nonces to remember (default 65,536).
 */
export function createNonceRegistry(capacity = 65_536): NonceRegistry {
  const seen = new Set<string>();
  return {
    claim(n) {
      if (seen.has(n)) return false;
      seen.add(n);
      if (seen.size > capacity) seen.delete(seen.values().next().value as string);
      return true;
    },
  };
}

/** The hello of a user login, as the server received it. */
export type UserHello = Extract<HandshakeMessage, { h: 'hello' }>;

/**
 * Runs user logins on the server side of a handshake (`src/auth/user-handshake.ts`). Given a
 * hello with `u` or `tk`, it answers the first step and, when more is to come, the handler of the
 * client's next message.
 */
export interface UserLoginHandler {
  start(hello: UserHello, localId: number): Promise<{ step: HandshakeStep; next?: (m: HandshakeMessage) => Promise<HandshakeStep> }>;
}

/** The accepting side of a handshake. */
export interface ServerHandshake {
  /** Handles the client's next message. */
  receive(text: unknown): Promise<HandshakeStep>;
}

/**
 * Starts the server side of a handshake. Whether an id already connected may connect again is not
 * its business: a hello proves nothing, so only the transport decides, once the link has fully
 * authenticated (`link-choice.ts`: a newer link replaces a half-dead one).
 * @param self - this store's identity, key and crypto.
 * @param nonces - the registry of client nonces seen, shared by all links of the server.
 * @param logins - runs user logins; without it a hello with a user is refused (`BadCredentials`).
 */
export function createServerHandshake(self: HandshakeIdentity, nonces: NonceRegistry, logins?: UserLoginHandler): ServerHandshake {
  const nonceS = toHex(self.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
  let state: 'hello' | 'proof' | 'login' | 'over' = 'hello';
  let client: { id: number; nonce: string; incarnation?: string } = { id: 0, nonce: '' };
  let loginNext: ((m: HandshakeMessage) => Promise<HandshakeStep>) | undefined;
  return {
    async receive(text) {
      const m = parse(text);
      const expected = state;
      state = 'over';
      if (m === undefined) return refuse('Malformed', 'unreadable handshake message');
      const refused = peerRefusal(m);
      if (refused) return refused;
      if (expected === 'login' && loginNext) return loginNext(m);
      if (expected === 'proof' && m.h === 'proof') {
        const ok = await verifyHmacSha256(self.crypto, self.key, fromHex(m.p)!, proofInput('client', self.clusterId, client.id, self.localId, client.nonce, nonceS, client.incarnation, self.incarnation));
        if (!ok) return refuse('BadProof', 'client did not prove the cluster secret');
        return { kind: 'done', peerId: client.id, peerIncarnation: client.incarnation, message: JSON.stringify({ h: 'welcome' }) };
      }
      if (expected !== 'hello' || m.h !== 'hello') return refuse('Malformed', `unexpected ${m.h} message`);
      const bad = checkHeader(m, self);
      if (bad) return bad;
      if (m.s === self.localId) return refuse('DuplicateStoreId', `peer claims this store's own id ${m.s}`);
      if (!nonces.claim(m.n)) return refuse('Replay', 'this hello was seen before (replayed handshake)');
      if (m.u !== undefined || m.tk !== undefined) {
        if (!logins) return refuse('BadCredentials', 'this store takes no user logins (it was started without accounts)');
        const started = await logins.start(m, self.localId);
        if (started.next) {
          loginNext = started.next;
          state = 'login';
        }
        return started.step;
      }
      client = { id: m.s, nonce: m.n, incarnation: m.i };
      state = 'proof';
      const p = toHex(await hmacSha256(self.crypto, self.key, proofInput('server', self.clusterId, m.s, self.localId, m.n, nonceS, m.i, self.incarnation)));
      return { kind: 'send', message: JSON.stringify({ h: 'challenge', v: PROTOCOL_VERSION, c: self.clusterId, s: self.localId, n: nonceS, p, i: self.incarnation }) };
    },
  };
}

/**
 * Whether a browser `Origin` may connect. No allow-list: every origin (and none) may. With one:
 * only listed origins; a request without an Origin header (not a browser) is allowed.
 * @param origin - the request's Origin header, if any.
 * @param allowList - allowed origins, e.g. `['https://app.example.com']`.
 */
export function originAllowed(origin: string | null | undefined, allowList: readonly string[] | undefined): boolean {
  if (allowList === undefined || origin === null || origin === undefined) return true;
  return allowList.includes(origin);
}
