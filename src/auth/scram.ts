/**
 * SCRAM-SHA-256 (RFC 5802 / 7677) with scrypt in place of PBKDF2, for user logins in the
 * handshake. The store holds only a {@link PasswordVerifier}; the client proves it knows the
 * password over both nonces without sending it, and checks the store's signature in turn (a
 * store that does not hold the verifier cannot sign). Works without TLS and in browsers:
 * @noble/hashes is pure JS (Node, Deno, browsers). What a sniffer of one login learns is the
 * transcript, which neither logs in again (fresh nonces) nor gives the password without an
 * offline scrypt search per guess.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeUtf8 } from '../codec/utf8.ts';
import type { PasswordVerifier, ScryptParams } from './table.ts';

/** scrypt cost of new passwords: N = 2^15, r = 8, p = 1 (32 MiB, a fraction of a second), as RFC 7914 suggests for logins. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
/** Salt length of new verifiers, in bytes. */
export const SALT_BYTES = 16;

const CLIENT_KEY = encodeUtf8('Client Key');
const SERVER_KEY = encodeUtf8('Server Key');

/**
 * scrypt(password, salt) with the verifier's parameters: the slow step, run by the client only.
 * @param password - the password (UTF-8).
 * @param salt - the verifier's salt.
 * @param params - the verifier's scrypt parameters.
 */
export function saltPassword(password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return scryptAsync(encodeUtf8(password.normalize('NFKC')), salt, { N: params.N, r: params.r, p: params.p, dkLen: 32, maxmem: 2 ** 31 });
}

/**
 * Makes the verifier of a new password (the CLI runs this; the password never leaves it).
 * @param password - the new password.
 * @param salt - {@link SALT_BYTES} random bytes.
 * @param params - scrypt cost (default {@link DEFAULT_SCRYPT}).
 */
export async function makeVerifier(password: string, salt: Uint8Array, params: ScryptParams = DEFAULT_SCRYPT): Promise<PasswordVerifier> {
  const salted = await saltPassword(password, salt, params);
  const clientKey = hmac(sha256, salted, CLIENT_KEY);
  return { salt: salt.slice(), scrypt: { ...params }, storedKey: sha256(clientKey), serverKey: hmac(sha256, salted, SERVER_KEY) };
}

/** What both sides sign: the login's names and both nonces (RFC 5802's AuthMessage). */
export function authMessage(clusterId: string, user: string, clientId: number, serverId: number, nonceC: string, nonceS: string): Uint8Array {
  return encodeUtf8(`flotilla-scram/v1|${clusterId.length}:${clusterId}|${user}|${clientId}|${serverId}|${nonceC}|${nonceS}`);
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** Constant-time comparison of two byte strings of public length. */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/**
 * The client's side of a login, once it has the salted password.
 * @returns the proof to send and the server signature to expect.
 */
export function clientProof(saltedPassword: Uint8Array, message: Uint8Array): { proof: Uint8Array; serverSignature: Uint8Array } {
  const clientKey = hmac(sha256, saltedPassword, CLIENT_KEY);
  const storedKey = sha256(clientKey);
  const proof = xor(clientKey, hmac(sha256, storedKey, message));
  return { proof, serverSignature: hmac(sha256, hmac(sha256, saltedPassword, SERVER_KEY), message) };
}

/**
 * The store's side: checks a client's proof against the verifier.
 * @returns the server signature to send back, or undefined when the proof is wrong.
 */
export function checkClientProof(verifier: PasswordVerifier, message: Uint8Array, proof: Uint8Array): Uint8Array | undefined {
  if (proof.length !== 32) return undefined;
  const clientKey = xor(proof, hmac(sha256, verifier.storedKey, message));
  if (!equalConstantTime(sha256(clientKey), verifier.storedKey)) return undefined;
  return hmac(sha256, verifier.serverKey, message);
}
