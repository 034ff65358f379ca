/**
 * The checks every mutual-TLS cluster passes, whatever runtime its stores run under (Node in
 * tls.test.ts, Deno in tls-deno.test.ts): a client over `wss://` writes and reads, and the peer
 * links carry no plaintext; plaintext is refused; a store without a certificate signed by the
 * cluster CA is refused; the certificate reloads on SIGHUP; data files are the owner's only.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../adapters/client/remote.ts';
import { tlsWebSocket } from '../../adapters/transport/tls.ts';
import { createWebSocketTransport } from '../../adapters/transport/websocket.ts';
import { SECRET } from './helpers.ts';
import { startTlsCluster, type TlsTestCluster, waitFor } from './tls-cluster.ts';

/** A marker no Flotilla byte holds by chance, for the keys and values of the sniffing tests. */
export const MARKER = `SNIFF-${randomBytes(6).toString('hex')}`;

/** Writes keys and values carrying the marker, then waits until every store applied everything. */
export async function writeMarked(cluster: TlsTestCluster): Promise<void> {
  const kv = await cluster.client();
  try {
    for (let i = 0; i < 20; i++) await kv.put(`${MARKER}-key-${i}`, `${MARKER}-value-${i}`);
    expect(new TextDecoder().decode((await kv.get(`${MARKER}-key-7`))!)).toBe(`${MARKER}-value-7`);
  } finally {
    kv.close();
  }
  await waitFor('every store to apply the writes', 30_000, async () => {
    const views = await Promise.all([1, 2, 3].map((id) => cluster.status(id)));
    const commits = new Map<number, number>();
    for (const v of views) for (const r of v.regions) commits.set(r.id, Math.max(commits.get(r.id) ?? 0, r.commit));
    return views.every((v) => v.regions.length > 0 && v.regions.every((r) => r.applied >= (commits.get(r.id) ?? 0)));
  });
}

/**
 * What an eavesdropper reads off one direction of a connection: the bytes as they are, and, when
 * they are a plaintext WebSocket stream (an HTTP upgrade first), every frame's payload unmasked
 * (frames from the dialling side are XOR-masked with a key sent in the clear).
 */
function eavesdrop(stream: Buffer): Buffer {
  const head = stream.indexOf('\r\n\r\n');
  if (!/^(GET |HTTP\/)/.test(stream.subarray(0, 5).toString('latin1')) || head < 0) return stream;
  const payloads: Buffer[] = [stream];
  let at = head + 4;
  while (at + 2 <= stream.length) {
    const masked = (stream[at + 1] & 0x80) !== 0;
    let len = stream[at + 1] & 0x7f;
    let off = at + 2;
    if (len === 126) {
      len = stream.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      len = Number(stream.readBigUInt64BE(off));
      off += 8;
    }
    const mask = masked ? stream.subarray(off, off + 4) : undefined;
    if (masked) off += 4;
    const payload = Buffer.from(stream.subarray(off, off + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
    payloads.push(payload);
    at = off + len;
  }
  return Buffer.concat(payloads);
}

/** Everything read off the peer links, both directions, WebSocket frames unmasked where possible. */
export const sniffed = (cluster: TlsTestCluster) => Buffer.concat(cluster.proxies.flatMap((p) => p.recorded().flatMap((c) => [eavesdrop(c.fromDialler), eavesdrop(c.toDialler)])));

/** The subject CN and serial of the certificate a new TLS connection to `port` is shown. */
export function peerCert(port: number, ca: string): Promise<{ cn: string; serial: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => {
      const c = socket.getPeerCertificate();
      resolve({ cn: String(c.subject.CN), serial: c.serialNumber, socket });
    });
    socket.once('error', reject);
  });
}

/**
 * Declares the suite for a cluster whose stores run under `runtimes`.
 * @param more - further tests inside the suite, given the running cluster.
 */
export function describeMutualTlsCluster(name: string, runtimes: Array<'node' | 'deno'>, more?: (cluster: () => TlsTestCluster) => void): void {
  describe(name, () => {
    let cluster: TlsTestCluster;
    let ca: string;
    beforeAll(async () => {
      cluster = await startTlsCluster({ tls: true, runtimes });
      ca = readFileSync(cluster.pki.ca.cert, 'utf8');
    }, 150_000);
    afterAll(async () => {
      await cluster?.close();
    });
    it('serves a client over wss://, and the peer links carry no plaintext key or value', async () => {
      await writeMarked(cluster);
      const bytes = sniffed(cluster);
      // Replication did cross the proxies (each follower applied the writes through them).
      expect(bytes.length).toBeGreaterThan(10_000);
      // Every stream is TLS from its first byte (a handshake record, 0x16), not an HTTP upgrade.
      // (Dials made before the target listened carried nothing.)
      const streams = cluster.proxies.flatMap((p) => p.recorded()).flatMap((c) => [c.fromDialler, c.toDialler]).filter((b) => b.length > 0);
      expect(streams.length).toBeGreaterThanOrEqual(6);
      for (const b of streams) expect(b[0]).toBe(0x16);
      expect(bytes.includes(MARKER)).toBe(false);
      expect(bytes.includes(SECRET)).toBe(false);
      expect(bytes.includes('flotilla-store')).toBe(false);
    });

    it('refuses plaintext ws:// and http:// on its ports', async () => {
      const plain = connect({ endpoints: [`ws://127.0.0.1:${cluster.ports[0]}`], secret: SECRET, connectTimeoutMs: 3000 });
      await expect(plain).rejects.toThrow();
      await expect(fetch(`http://127.0.0.1:${cluster.httpPorts[0]}/status`)).rejects.toThrow();
      // The same ports answer over TLS (a request that is no WebSocket upgrade gets 426).
      expect((await cluster.status(1)).storeId).toBe(1);
      const status = await new Promise<number>((resolve, reject) => {
        request(`https://127.0.0.1:${cluster.ports[0]}/`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(status).toBe(426);
    });

    it('refuses a store that presents no certificate, or one from another CA', async () => {
      const store1 = cluster.stores.get(1)!;
      const refusals = () => store1.stderr.split('PeerCertRequired').length - 1;
      const rogue = cluster.pki.leaf('rogue-store', cluster.pki.otherCa);
      const attempts = [{ ca }, { ca, cert: readFileSync(rogue.cert, 'utf8'), key: readFileSync(rogue.key, 'utf8') }];
      for (const material of attempts) {
        const before = refusals();
        // A transport claiming store id 9 with the right cluster secret, but no trusted certificate.
        const t = await createWebSocketTransport({ localId: 9, clusterId: 'flotilla', secret: SECRET, peers: { 1: cluster.endpoint(1) }, WebSocket: await tlsWebSocket(() => material) });
        try {
          await expect(t.connected(1, 1500)).rejects.toThrow(/no authenticated link/);
          await waitFor('store 1 to log the refusal', 10_000, () => refusals() > before);
        } finally {
          await t.close();
        }
      }
    });

    it('reloads its certificate on SIGHUP: new connections see the new one, open links stay up; a bad file keeps the old', async () => {
      const store1 = cluster.stores.get(1)!;
      const files = cluster.certs.get(1)!;
      const old = await peerCert(cluster.ports[0], ca);
      expect(old.cn).toBe('store-1');
      let oldClosed = false;
      old.socket.on('close', () => {
        oldClosed = true;
      });
      const dialsBefore = cluster.proxies.map((p) => p.accepted());
      const rotated = cluster.pki.leaf('store-1-rotated');
      copyFileSync(rotated.cert, files.cert);
      copyFileSync(rotated.key, files.key);
      store1.child.kill('SIGHUP');
      await waitFor('a new connection to see the rotated certificate', 15_000, async () => {
        const c = await peerCert(cluster.ports[0], ca);
        c.socket.destroy();
        return c.cn === 'store-1-rotated' && c.serial !== old.serial;
      });
      // The HTTP port reloaded too.
      expect((await cluster.status(1)).storeId).toBe(1);
      // A bad file: the reload fails with a warning naming the file, never the key, and the current certificate stays.
      writeFileSync(files.cert, 'not a certificate\n');
      store1.child.kill('SIGHUP');
      await waitFor('the failed reload to be logged', 15_000, () => /TLS reload failed, keeping the current certificate: cert: .* holds no PEM certificate/.test(store1.stderr));
      const after = await peerCert(cluster.ports[0], ca);
      after.socket.destroy();
      expect(after.cn).toBe('store-1-rotated');
      expect(store1.stderr).not.toMatch(/PRIVATE KEY/);
      // The connection opened before the reloads is still up, and no peer link was dialled again.
      expect(oldClosed).toBe(false);
      old.socket.destroy();
      expect(cluster.proxies.map((p) => p.accepted())).toEqual(dialsBefore);
      await writeMarked(cluster);
    });

    it('keeps the data directories 0700 and every file in them 0600', () => {
      const check = (path: string) => {
        const st = statSync(path);
        if (st.isDirectory()) {
          expect([path, (st.mode & 0o777).toString(8)]).toEqual([path, '700']);
          for (const name of readdirSync(path)) check(join(path, name));
        } else {
          expect([path, (st.mode & 0o777).toString(8)]).toEqual([path, '600']);
        }
      };
      const dirs = readdirSync(cluster.dir).map((d) => join(cluster.dir, d));
      expect(dirs.length).toBe(3);
      for (const d of dirs) {
        expect(readdirSync(d).length).toBeGreaterThan(1);
        check(d);
      }
    });
    more?.(() => cluster);
  });
}
