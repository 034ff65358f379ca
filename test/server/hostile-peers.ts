/**
 * Hostile peers for the hardening tests and the `soak:hostile` bench: raw TCP sockets that stall
 * the HTTP request, stall or trickle the WebSocket handshake, lie about frame lengths, flood before
 * authenticating, or fail logins. Each binds to a chosen loopback address (`127.0.0.2`, ...), so
 * that a store sees it as a different IP from the honest client on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { PROTOCOL_VERSION } from '../../src/codec/frame.ts';

/** A raw socket and how it ended. */
export interface RawPeer {
  socket: Socket;
  /** Everything the server sent. */
  received(): Buffer;
  /** Resolves when the server (or we) closed the socket. */
  closed: Promise<void>;
  /** Bytes we managed to write before the close. */
  written(): number;
}

/**
 * Opens a TCP connection to `127.0.0.1:port` from `localAddress`.
 * @param port - the store's port.
 * @param localAddress - the loopback address to send from.
 */
export async function rawPeer(port: number, localAddress: string): Promise<RawPeer> {
  const socket = tcpConnect({ host: '127.0.0.1', port, localAddress });
  const chunks: Buffer[] = [];
  let written = 0;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const write = socket.write.bind(socket);
  socket.write = ((data: Buffer | string, ...rest: never[]) => {
    written += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    return write(data, ...rest);
  }) as typeof socket.write;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks), closed, written: () => written };
}

/** The HTTP request that upgrades to a WebSocket. */
export function upgradeRequest(extraHeaders = ''): string {
  const key = randomBytes(16).toString('base64');
  return `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`;
}

/** The status line of what the server answered (`HTTP/1.1 101 ...`), or '' before any answer. */
export function statusLine(peer: RawPeer): string {
  const text = peer.received().toString('latin1');
  const end = text.indexOf('\r\n');
  return end < 0 ? '' : text.slice(0, end);
}

/**
 * Opens a socket and completes the WebSocket upgrade (or not: the status line says).
 * @param port - the store's port.
 * @param localAddress - the loopback address to send from.
 */
export async function upgradedPeer(port: number, localAddress: string): Promise<RawPeer> {
  const peer = await rawPeer(port, localAddress);
  peer.socket.write(upgradeRequest());
  await Promise.race([peer.closed, until(() => peer.received().includes('\r\n\r\n'))]);
  return peer;
}

/**
 * A masked client WebSocket frame header (no payload) claiming `length` payload bytes.
 * @param opcode - 1 text, 2 binary.
 * @param length - the payload length to claim.
 */
export function frameHeader(opcode: number, length: number): Buffer {
  const mask = randomBytes(4);
  if (length < 126) return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | length]), mask]);
  if (length < 65_536) return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]), mask]);
  const b = Buffer.alloc(10);
  b[0] = 0x80 | opcode;
  b[1] = 0x80 | 127;
  b.writeBigUInt64BE(BigInt(length), 2);
  return Buffer.concat([b, mask]);
}

/**
 * A complete masked client text frame.
 * @param text - the message.
 */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = frameHeader(1, payload.length);
  const mask = header.subarray(header.length - 4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([header, masked]);
}

/** The close code of the first close frame the server sent after its 101 answer, if any. */
export function closeCode(peer: RawPeer): number | undefined {
  const all = peer.received();
  const at = all.indexOf('\r\n\r\n');
  let i = at < 0 ? 0 : at + 4;
  // Server frames are unmasked; walk them to the close frame.
  while (i + 2 <= all.length) {
    const op = all[i] & 0x0f;
    let len = all[i + 1] & 0x7f;
    let head = 2;
    if (len === 126) {
      len = all.readUInt16BE(i + 2);
      head = 4;
    } else if (len === 127) {
      len = Number(all.readBigUInt64BE(i + 2));
      head = 10;
    }
    if (op === 8) return len >= 2 ? all.readUInt16BE(i + head) : 1005;
    i += head + len;
  }
  return undefined;
}

/**
 * Sends a hello for a random client id, answers the challenge with a made-up proof: the store
 * refuses it as BadProof, a failed login.
 * @param port - the store's port.
 * @param localAddress - the loopback address to send from.
 * @param clusterId - the store's cluster.
 */
export async function failedLogin(port: number, localAddress: string, clusterId: string): Promise<RawPeer> {
  const peer = await upgradedPeer(port, localAddress);
  if (!statusLine(peer).includes(' 101 ')) return peer;
  const before = peer.received().length;
  const hello = { h: 'hello', v: PROTOCOL_VERSION, c: clusterId, s: 1_000_000_000 + Math.floor(Math.random() * 1e8), n: randomBytes(16).toString('hex') };
  peer.socket.write(textFrame(JSON.stringify(hello)));
  await Promise.race([peer.closed, until(() => peer.received().length > before)]);
  peer.socket.write(textFrame(JSON.stringify({ h: 'proof', p: randomBytes(32).toString('hex') })));
  // The store refuses and closes; a hostile peer does not bother answering the close frame.
  await Promise.race([peer.closed, until(() => closeCode(peer) !== undefined)]);
  peer.socket.destroy();
  return peer;
}

/**
 * Writes `bytes` one byte every `everyMs` until the socket closes or all are written.
 * @param peer - the socket.
 * @param bytes - what to trickle.
 * @param everyMs - the pause between bytes.
 */
export async function trickle(peer: RawPeer, bytes: Buffer, everyMs: number): Promise<void> {
  let open = true;
  void peer.closed.then(() => {
    open = false;
  });
  for (let i = 0; i < bytes.length && open; i++) {
    peer.socket.write(bytes.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Waits until `cond` holds (polling), at most `timeoutMs`.
 * @param cond - the condition.
 * @param timeoutMs - the deadline (generous: the box is loaded).
 */
export async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
