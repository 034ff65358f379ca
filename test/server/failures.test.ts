/**
 * `flotilla serve` refusing to start, with a clear message and a non-zero exit, and leaving
 * everything intact: a bad config (file or flags), a port in use, a data directory held by a
 * running store, a wrong secret when joining. The running store keeps serving throughout.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, spawnFlotilla, type StoreProcess } from '../../scripts/cluster-processes.ts';
import { SECRET, startCluster, type TestCluster } from './helpers.ts';

let cluster: TestCluster;
const spawned: StoreProcess[] = [];

beforeAll(async () => {
  cluster = await startCluster(1, [], ['--no-pd']);
  const kv = await cluster.client();
  await kv.put('kept', 'yes');
  kv.close();
}, 90_000);

afterAll(async () => {
  for (const p of spawned) p.child.kill('SIGKILL');
  await cluster?.close();
});

/** Runs `flotilla <args>` to its exit; resolves with the exit code and stderr. */
async function run(args: string[], env: Record<string, string> = { FLOTILLA_SECRET: SECRET }): Promise<{ code: number | string; stderr: string }> {
  const p = spawnFlotilla('node', args, env);
  spawned.push(p);
  const code = await p.exited;
  return { code, stderr: p.stderr };
}

async function stillServes(): Promise<void> {
  const kv = await cluster.client();
  try {
    expect(new TextDecoder().decode((await kv.get('kept'))!)).toBe('yes');
  } finally {
    kv.close();
  }
}

describe('flotilla serve refuses to start, clearly', () => {
  it('a config file with a bad field: exit 2, naming the field', async () => {
    const file = join(cluster.dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ id: 1, listen: '127.0.0.1:1', replicas: 'three' }));
    const r = await run(['serve', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration: replicas:/);
    writeFileSync(file, JSON.stringify({ id: 1, listne: '127.0.0.1:1' }));
    const r2 = await run(['serve', '--config', file]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/unknown field\(s\) listne/);
  });

  it('bad flags and a missing secret: exit 2, naming the field', async () => {
    expect(await run(['serve', '--id', '1', '--listen', 'nowhere'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/listen: expected host:port/) });
    expect(await run(['serve', '--id', '0'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/id:/) });
    expect(await run(['serve', '--id', '1'], {})).toMatchObject({ code: 2, stderr: expect.stringMatching(/secret:/) });
  });

  it('a port in use: exit 1, saying so', async () => {
    const [port] = await freePorts(1);
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const r = await run(['serve', '--id', '1', '--listen', `127.0.0.1:${port}`, '--data', join(cluster.dir, 'fresh')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/address is in use/);
    } finally {
      blocker.close();
    }
  });

  it('a data directory held by a running store: exit 1, the store unharmed', async () => {
    const [port] = await freePorts(1);
    const r = await run(['serve', '--id', '1', '--listen', `127.0.0.1:${port}`, '--data', join(cluster.dir, 'store-1')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lock/i);
    await stillServes();
  });

  it('joining with the wrong secret: exit 1, the handshake refusal named', async () => {
    const [port] = await freePorts(1);
    const r = await run(['serve', '--join', `127.0.0.1:${cluster.ports[0]}`, '--listen', `127.0.0.1:${port}`], { FLOTILLA_SECRET: 'the wrong secret, 32 bytes long!' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot join the cluster .*BadProof/);
    await stillServes();
  });

  it('a data directory of another store: exit 1', async () => {
    const [port] = await freePorts(1);
    await cluster.kill(1);
    const r = await run(['serve', '--id', '7', '--listen', `127.0.0.1:${port}`, '--data', join(cluster.dir, 'store-1')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/belongs to store 1, not store 7/);
    await cluster.restart(1);
    await stillServes();
  });
});
