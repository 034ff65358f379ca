/**
 * TLS for the WebSocket transport in Node and Deno: the certificate material a server listens
 * with, what a dialling side presents and trusts, and a WebSocket constructor (over the `ws`
 * package) that dials `wss://` with them. Browsers need none of this: a page dials `wss://` with
 * its own WebSocket and trusts what the browser trusts.
 *
 * Deno's own `WebSocket` and `Deno.serve` can neither present nor request client certificates, so
 * with TLS both runtimes use `ws` over `node:https` (Deno's implementation verifies client
 * certificates and supports `setSecureContext`, checked by test/server/tls-deno.test.ts).
 */
import type { WebSocketConstructor, WebSocketLike } from './websocket-link.ts';

/** What a TLS server listens with (PEM text). */
export interface TlsServerMaterial {
  /** The certificate chain (leaf first). */
  cert: string;
  key: string;
  /** CA certificates that client certificates must chain to (needed to verify them). */
  ca?: string;
  /**
   * Ask every connecting peer for a certificate. The TLS layer never refuses one without (browser
   * clients have none): whether the certificate verified is handed to `accept` as `peerCertVerified`.
   */
  requestCert?: boolean;
}

/** What a dialling side presents and trusts (PEM text). */
export interface TlsDialMaterial {
  /** CA certificates the server's certificate must chain to (default: the runtime's roots). */
  ca?: string;
  /** A client certificate chain and its key, for servers that check peers' certificates. */
  cert?: string;
  key?: string;
}

/** What the server learned about an accepted socket below the WebSocket layer. */
export interface AcceptInfo {
  /** True when the peer presented a certificate that chains to the server's `ca`. */
  peerCertVerified: boolean;
}

type WsCtorWithOptions = new (url: string, protocols: undefined, options: Record<string, unknown>) => WebSocketLike;

/**
 * A WebSocket constructor that dials with TLS material read at each dial (so a certificate
 * reload applies to the next connection).
 * @param material - returns what to present and trust now.
 * @param Base - `ws`'s WebSocket (default: imported).
 */
export async function tlsWebSocket(material: () => TlsDialMaterial, Base?: unknown): Promise<WebSocketConstructor> {
  // A variable specifier keeps bundlers from pulling `ws` into browser builds.
  const wsModule = 'ws';
  const Ws = (Base ?? ((await import(/* @vite-ignore */ wsModule)) as { WebSocket: unknown }).WebSocket) as WsCtorWithOptions;
  function TlsWebSocket(url: string): WebSocketLike {
    const m = material();
    const options: Record<string, unknown> = {};
    if (m.ca !== undefined) options.ca = m.ca;
    if (m.cert !== undefined && m.key !== undefined) {
      options.cert = m.cert;
      options.key = m.key;
    }
    return new Ws(url, undefined, options);
  }
  return TlsWebSocket as unknown as WebSocketConstructor;
}

/**
 * `ws://` URLs as `wss://` (and `http://` as `https://`), for a cluster running TLS: a store
 * never dials a peer in plaintext then, whatever an old address book or a flag says.
 * @param url - a URL; others pass unchanged.
 */
export function secureUrl(url: string): string {
  return url.replace(/^ws:\/\//, 'wss://').replace(/^http:\/\//, 'https://');
}
