/**
 * A TCP proxy on loopback that a test puts on one link between two store processes, to cut it at
 * will: while blocked it forwards nothing (not a byte already in flight either), drops the
 * connections it carries and refuses new ones; unblocked, the dialling store reconnects.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** See the module comment. */
export interface LinkProxy {
  /** The port to dial instead of the target's. */
  readonly port: number;
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy on 127.0.0.1 (an OS-assigned port) in front of `127.0.0.1:targetPort`.
 * @param targetPort - the port the proxy forwards to.
 */
export async function startLinkProxy(targetPort: number): Promise<LinkProxy> {
  let blocked = false;
  const pairs = new Set<[Socket, Socket]>();
  const drop = (pair: [Socket, Socket]) => {
    pairs.delete(pair);
    pair[0].destroy();
    pair[1].destroy();
  };
  const server: Server = createServer((inbound) => {
    if (blocked) {
      inbound.destroy();
      return;
    }
    const outbound = new (inbound.constructor as typeof Socket)();
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    // Checked on every chunk, so that nothing passes once blocked (no pipe buffering it through).
    inbound.on('data', (d) => !blocked && outbound.write(d));
    outbound.on('data', (d) => !blocked && inbound.write(d));
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
    async close() {
      blocked = true;
      for (const pair of [...pairs]) drop(pair);
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
