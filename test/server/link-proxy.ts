/**
 * A TCP proxy on loopback that a test puts on one link between two store processes, to cut it at
 * will: while blocked it forwards nothing (not a byte already in flight either), drops the
 * connections it carries and refuses new ones; unblocked, the dialling store reconnects.
 * With `record`, it keeps every byte it forwarded, per connection and direction, for sniffing tests.
 *
 * `blackhole` cuts it silently instead, as a lost route does: nothing is forwarded and nothing is
 * closed (no FIN, no RST) on the connections it carries, and new ones are taken but never reach
 * the target. `restore` lets new connections through again while the blackholed ones stay open and
 * silent (their route is gone, as after a NAT reboot), so a store that redials arrives while the
 * other end still holds its old, half-dead socket; `resetDialler` also resets the dialling side of
 * each (as a middlebox answering the dialler's next packet with RST would), so the dialler notices
 * at once and the target does not.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** See the module comment. */
export interface LinkProxy {
  /** The port to dial instead of the target's. */
  readonly port: number;
  block(): void;
  unblock(): void;
  /** Stops forwarding without closing anything (see the module comment). */
  blackhole(): void;
  /** New connections pass again; blackholed ones stay open and silent (dialling side reset with `resetDialler`). */
  restore(options?: { resetDialler?: boolean }): void;
  /** The bytes forwarded so far on each connection, each direction (none unless started with `record`). */
  recorded(): Array<{ fromDialler: Buffer; toDialler: Buffer }>;
  /** Connections accepted so far (each dial of the store behind counts once). */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * Starts a proxy on 127.0.0.1 (an OS-assigned port) in front of `127.0.0.1:targetPort`.
 * @param targetPort - the port the proxy forwards to.
 * @param options - `record`: keep the bytes forwarded.
 */
export async function startLinkProxy(targetPort: number, options: { record?: boolean } = {}): Promise<LinkProxy> {
  let blocked = false;
  let holeOpen = false;
  const streams: Array<{ fromDialler: Buffer[]; toDialler: Buffer[] }> = [];
  const pairs = new Set<[Socket, Socket]>();
  /** Blackholed connections: their sockets stay open, carry nothing, and a close on one side is not passed on. */
  const dead = new Set<Socket>();
  /** The dialling side of each blackholed connection (a subset of `dead`). */
  const deadDialler = new Set<Socket>();
  const drop = (pair: [Socket, Socket]) => {
    pairs.delete(pair);
    pair[0].destroy();
    pair[1].destroy();
  };
  const hold = (s: Socket, dialler: boolean) => {
    dead.add(s);
    if (dialler) deadDialler.add(s);
    const forget = () => {
      dead.delete(s);
      deadDialler.delete(s);
    };
    s.on('error', forget);
    s.on('close', forget);
  };
  let accepted = 0;
  const server: Server = createServer((inbound) => {
    accepted++;
    if (blocked) {
      inbound.destroy();
      return;
    }
    if (holeOpen) {
      inbound.on('data', () => {});
      return hold(inbound, true);
    }
    const outbound = new (inbound.constructor as typeof Socket)();
    const pair: [Socket, Socket] = [inbound, outbound];
    const stream = { fromDialler: [] as Buffer[], toDialler: [] as Buffer[] };
    if (options.record) streams.push(stream);
    const forward = (to: Socket, record: Buffer[]) => (d: Buffer) => {
      if (blocked || !pairs.has(pair)) return;
      if (options.record) record.push(d);
      to.write(d);
    };
    pairs.add(pair);
    // Checked on every chunk, so that nothing passes once blocked (no pipe buffering it through).
    inbound.on('data', forward(outbound, stream.fromDialler));
    outbound.on('data', forward(inbound, stream.toDialler));
    for (const s of pair) {
      s.on('error', () => pairs.has(pair) && drop(pair));
      s.on('close', () => pairs.has(pair) && drop(pair));
    }
    outbound.connect(targetPort, '127.0.0.1');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    block() {
      blocked = true;
      for (const pair of [...pairs]) drop(pair);
    },
    unblock() {
      blocked = false;
    },
    blackhole() {
      holeOpen = true;
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        hold(pair[0], true);
        hold(pair[1], false);
      }
    },
    restore(opts = {}) {
      holeOpen = false;
      // Only the dialling side is reset: the target's socket stays open, half-dead.
      if (opts.resetDialler) for (const s of [...deadDialler]) s.resetAndDestroy();
    },
    recorded: () => streams.map((s) => ({ fromDialler: Buffer.concat(s.fromDialler), toDialler: Buffer.concat(s.toDialler) })),
    accepted: () => accepted,
    async close() {
      blocked = true;
      for (const pair of [...pairs]) drop(pair);
      for (const s of [...dead]) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
