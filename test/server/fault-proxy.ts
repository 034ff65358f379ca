/**
 * A TCP proxy on loopback in front of one store, for the black-box fault tests
 * (test/server/faults-*.test.ts): every store and every client reaches the store through it, and it
 * tells the links apart by who dialled. It reads the dialler's id from the first WebSocket message
 * the dialler sends after the HTTP upgrade (the transport handshake's `hello`, JSON with the id in
 * `s`; client frames are masked, so it unmasks them), then asks `policy` what to do with that link,
 * on every chunk, so a change of policy applies at once:
 *
 * - `reset`: the connection is closed (both sockets destroyed), as a cut with RST/FIN;
 * - `fromDialler` / `toDialler` false: bytes in that direction are dropped silently and the
 *   connection stays open (a one-way cut; both false is a blackhole, no FIN).
 *
 * A connection that dropped a byte can never carry another: the WebSocket framing would resume
 * mid-frame. It is closed when its link comes back (as a real connection whose peer vanished
 * eventually is), and the dialler dials again. Until the dialler is identified, bytes pass: they
 * are only the HTTP upgrade and its answer.
 *
 * Different from test/server/link-proxy.ts (one proxy per link, all or nothing): one proxy per
 * store, so that the store's advertised address can be the proxy's too (no learned address
 * bypasses it), with per-link and one-way faults.
 */
import { createServer, type Server, Socket } from 'node:net';

/** What a proxy does with the traffic of one link now. */
export interface LinkPolicy {
  /** Close the link's connections (and any new one once its dialler is identified). */
  readonly reset: boolean;
  /** Whether bytes from the dialler reach the store. */
  readonly fromDialler: boolean;
  /** Whether bytes from the store reach the dialler. */
  readonly toDialler: boolean;
}

/** The policy of a healthy link. */
export const LINK_UP: LinkPolicy = { reset: false, fromDialler: true, toDialler: true };

/** One connection through a {@link FaultProxy}, as counted so far. */
export interface ProxiedConnection {
  /** The dialler's id from its handshake; 0 until identified. */
  readonly dialler: number;
  readonly bytesFromDialler: number;
  readonly bytesToDialler: number;
  readonly dropped: number;
}

/** See the module comment. */
export interface FaultProxy {
  /** The port to dial instead of the store's. */
  readonly port: number;
  /** Applies the policy to every open connection now (closing the ones it resets or that dropped bytes and are up again). */
  refresh(): void;
  /** Every dialler id identified so far, with how many connections it made. */
  diallers(): Map<number, number>;
  /** The connections open now. */
  open(): ProxiedConnection[];
  /** First WebSocket messages that were no readable hello (a protocol change this proxy misreads). */
  unreadable(): number;
  /** What the faults did so far: bytes dropped, connections closed by a reset or after dropping bytes. */
  faulted(): { droppedBytes: number; closed: number };
  close(): Promise<void>;
}

interface Conn {
  inbound: Socket;
  outbound: Socket;
  dialler: number;
  /** Dialler bytes not yet forwarded: headers until the upgrade ends, then the first message. */
  pending: Buffer;
  phase: 'http' | 'hello' | 'open';
  bytesFromDialler: number;
  bytesToDialler: number;
  dropped: number;
}

/**
 * The dialler's id from the first WebSocket frame in `buf` (masked, as a client sends it), or
 * `undefined` while the frame is incomplete, or `NaN` when it is no JSON hello.
 */
function helloId(buf: Buffer): number | undefined {
  if (buf.length < 2) return undefined;
  const rsv1 = (buf[0] & 0x40) !== 0;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    return Number.NaN; // a hello is far below 64 KiB
  }
  if (!masked || rsv1) return Number.NaN;
  if (buf.length < at + 4 + len) return undefined;
  const mask = buf.subarray(at, at + 4);
  const payload = Buffer.from(buf.subarray(at + 4, at + 4 + len));
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
  try {
    const m = JSON.parse(payload.toString('utf8')) as { h?: string; s?: number };
    return m.h === 'hello' && Number.isSafeInteger(m.s) && (m.s ?? 0) > 0 ? (m.s as number) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Starts a proxy on 127.0.0.1 (an OS-assigned port) in front of `127.0.0.1:targetPort`.
 * @param targetPort - the store's real port.
 * @param policy - what to do with the link of dialler `id` (asked on every chunk).
 */
export async function startFaultProxy(targetPort: number, policy: (dialler: number) => LinkPolicy): Promise<FaultProxy> {
  const conns = new Set<Conn>();
  const diallers = new Map<number, number>();
  let unreadable = 0;
  let closed = false;
  let droppedBytes = 0;
  let faultClosed = 0;
  const drop = (c: Conn) => {
    conns.delete(c);
    c.inbound.destroy();
    c.outbound.destroy();
  };
  /** Whether `c` may go on carrying bytes; closes it if not. */
  const alive = (c: Conn): boolean => {
    if (c.dialler === 0) return true;
    const p = policy(c.dialler);
    if (p.reset || (c.dropped > 0 && p.fromDialler && p.toDialler)) {
      faultClosed++;
      drop(c);
      return false;
    }
    return true;
  };
  const fromDialler = (c: Conn, d: Buffer) => {
    if (c.phase !== 'open') {
      c.pending = Buffer.concat([c.pending, d]);
      if (c.phase === 'http') {
        const end = c.pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        c.outbound.write(c.pending.subarray(0, end + 4));
        c.pending = c.pending.subarray(end + 4);
        c.phase = 'hello';
      }
      const id = helloId(c.pending);
      if (id === undefined) return;
      if (Number.isNaN(id)) unreadable++;
      c.dialler = Number.isNaN(id) ? 0 : id;
      if (c.dialler > 0) diallers.set(c.dialler, (diallers.get(c.dialler) ?? 0) + 1);
      c.phase = 'open';
      d = c.pending;
      c.pending = Buffer.alloc(0);
    }
    if (!alive(c)) return;
    if (c.dialler !== 0 && !policy(c.dialler).fromDialler) {
      c.dropped += d.length;
      droppedBytes += d.length;
      return;
    }
    c.bytesFromDialler += d.length;
    c.outbound.write(d);
  };
  const toDialler = (c: Conn, d: Buffer) => {
    if (!alive(c)) return;
    if (c.dialler !== 0 && !policy(c.dialler).toDialler) {
      c.dropped += d.length;
      droppedBytes += d.length;
      return;
    }
    c.bytesToDialler += d.length;
    c.inbound.write(d);
  };
  const server: Server = createServer((inbound) => {
    if (closed) {
      inbound.destroy();
      return;
    }
    const c: Conn = { inbound, outbound: new Socket(), dialler: 0, pending: Buffer.alloc(0), phase: 'http', bytesFromDialler: 0, bytesToDialler: 0, dropped: 0 };
    conns.add(c);
    inbound.on('data', (d: Buffer) => fromDialler(c, d));
    c.outbound.on('data', (d: Buffer) => toDialler(c, d));
    for (const s of [inbound, c.outbound]) {
      s.on('error', () => drop(c));
      s.on('close', () => drop(c));
    }
    c.outbound.connect(targetPort, '127.0.0.1');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    refresh() {
      for (const c of [...conns]) alive(c);
    },
    diallers: () => new Map(diallers),
    open: () => [...conns].map((c) => ({ dialler: c.dialler, bytesFromDialler: c.bytesFromDialler, bytesToDialler: c.bytesToDialler, dropped: c.dropped })),
    unreadable: () => unreadable,
    faulted: () => ({ droppedBytes, closed: faultClosed }),
    async close() {
      closed = true;
      for (const c of [...conns]) drop(c);
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
