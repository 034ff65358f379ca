/**
 * A TCP proxy on loopback that a test puts on one link between two store processes, to cut it at
 * will: while blocked it forwards nothing (not a byte already in flight either), drops the
 * connections it carries and refuses new ones; unblocked, the dialling store reconnects.
 * With `record`, it keeps every byte it forwarded, per connection and direction, for sniffing tests.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** See the module comment. */
export interface LinkProxy {
  /** The port to dial instead of the target's. */
  readonly port: number;
  block(): void;
  unblock(): void;
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
  const streams: Array<{ fromDialler: Buffer[]; toDialler: Buffer[] }> = [];
  const pairs = new Set<[Socket, Socket]>();
  const drop = (pair: [Socket, Socket]) => {
    pairs.delete(pair);
    pair[0].destroy();
    pair[1].destroy();
  };
  let accepted = 0;
  const server: Server = createServer((inbound) => {
    accepted++;
    if (blocked) {
      inbound.destroy();
      return;
    }
    const outbound = new (inbound.constructor as typeof Socket)();
    const pair: [Socket, Socket] = [inbound, outbound];
    const stream = { fromDialler: [] as Buffer[], toDialler: [] as Buffer[] };
    if (options.record) streams.push(stream);
    const forward = (to: Socket, record: Buffer[]) => (d: Buffer) => {
      if (blocked) return;
      if (options.record) record.push(d);
      to.write(d);
    };
    pairs.add(pair);
    // Checked on every chunk, so that nothing passes once blocked (no pipe buffering it through).
    inbound.on('data', forward(outbound, stream.fromDialler));
    outbound.on('data', forward(inbound, stream.toDialler));
    for (const s of pair) {
      s.on('error', () => drop(pair));
      s.on('close', () => drop(pair));
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
    recorded: () => streams.map((s) => ({ fromDialler: Buffer.concat(s.fromDialler), toDialler: Buffer.concat(s.toDialler) })),
    accepted: () => accepted,
    async close() {
      blocked = true;
      for (const pair of [...pairs]) drop(pair);
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
