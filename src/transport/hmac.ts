/**
 * HMAC-SHA256 through WebCrypto, injected so that the pure core needs no ambient `crypto`:
 * adapters pass `globalThis.crypto`, present in Node 20, Deno, browsers and Workers.
 */
import { encodeUtf8 } from '../codec/utf8.ts';

/** Bytes backed by a plain ArrayBuffer, as WebCrypto takes them. */
type Bytes = Uint8Array<ArrayBuffer>;

/** The slice of WebCrypto the handshake uses (structurally `globalThis.crypto`). */
export interface HandshakeCrypto {
  subtle: {
    importKey(format: 'raw', keyData: Bytes, algorithm: { name: 'HMAC'; hash: 'SHA-256' }, extractable: boolean, usages: ('sign' | 'verify')[]): Promise<unknown>;
    sign(algorithm: 'HMAC', key: never, data: Bytes): Promise<ArrayBuffer>;
    verify(algorithm: 'HMAC', key: never, signature: Bytes, data: Bytes): Promise<boolean>;
  };
  getRandomValues<T extends Uint8Array>(array: T): T;
}

/** An imported cluster secret (a non-extractable WebCrypto key). */
export interface HandshakeKey {
  readonly cryptoKey: unknown;
}

/** Shortest cluster secret accepted, in bytes. */
export const SECRET_BYTES_MIN = 16;

/**
 * Imports the shared cluster secret as an HMAC-SHA256 key.
 * @param crypto - `globalThis.crypto` or equivalent.
 * @param secret - at least 16 bytes (a string is taken as UTF-8).
 */
export async function importClusterSecret(crypto: HandshakeCrypto, secret: string | Uint8Array): Promise<HandshakeKey> {
  const bytes: Bytes = typeof secret === 'string' ? encodeUtf8(secret) : new Uint8Array(secret);
  if (bytes.length < SECRET_BYTES_MIN) throw new RangeError(`the cluster secret must be at least ${SECRET_BYTES_MIN} bytes, got ${bytes.length}`);
  const cryptoKey = await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  return { cryptoKey };
}

/**
 * HMAC-SHA256 of `data` under `key`.
 * @param crypto - WebCrypto.
 * @param key - from {@link importClusterSecret}.
 * @param data - the message.
 */
export async function hmacSha256(crypto: HandshakeCrypto, key: HandshakeKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', key.cryptoKey as never, new Uint8Array(data)));
}

/**
 * Checks an HMAC-SHA256 tag in constant time (WebCrypto's verify), after a length check.
 * @param crypto - WebCrypto.
 * @param key - from {@link importClusterSecret}.
 * @param tag - the tag received.
 * @param data - the message it should cover.
 */
export async function verifyHmacSha256(crypto: HandshakeCrypto, key: HandshakeKey, tag: Uint8Array, data: Uint8Array): Promise<boolean> {
  if (tag.length !== 32) return false;
  return crypto.subtle.verify('HMAC', key.cryptoKey as never, new Uint8Array(tag), new Uint8Array(data));
}
