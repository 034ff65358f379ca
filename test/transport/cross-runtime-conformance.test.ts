/**
 * The transport conformance cases under Deno (the `deno` npm package) against a Node store in
 * this process: `deno-conformance.ts` runs every case with Deno's WebSocket client dialling the
 * Node server and with Deno servers the Node client dials, then checks the Deno server's message
 * size limit, and prints what passed; this test asserts it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases } from './conformance-cases.ts';
import type { DenoConformanceSummary } from './deno-conformance.ts';
import { type RemoteHost, startRemoteHost } from './remote-host.ts';

const root = join(import.meta.dirname, '..', '..');

describe('WebSocket transport under Deno, against Node', () => {
  let host: RemoteHost;
  let summary: DenoConformanceSummary;
  beforeAll(async () => {
    host = await startRemoteHost();
    const deno = join(root, 'node_modules', '.bin', 'deno');
    const { stdout } = await promisify(execFile)(deno, ['run', '-A', '--quiet', 'test/transport/deno-conformance.ts', host.url], { cwd: root, maxBuffer: 16 * 1024 * 1024, timeout: 110_000 });
    summary = JSON.parse(stdout.trim().split('\n').pop()!) as DenoConformanceSummary;
  }, 120_000);
  afterAll(async () => {
    await host?.close();
  });

  const names = conformanceCases.map((c) => c.name);
  for (const [mode, title] of [
    ['client', 'Deno client (native WebSocket) → Node server (ws)'],
    ['server', 'Node client (ws) → Deno server (Deno.upgradeWebSocket)'],
  ] as const) {
    it(`${title}: passes every conformance case`, () => {
      expect(summary.runtime).toMatch(/^deno 2\./);
      const results = summary[mode];
      expect(results.map((r) => r.name)).toEqual(names);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    });
  }

  it('Deno server: a message over maxPayloadBytes closes the socket with 1009 and a reason before the transport sees it, and is counted', () => {
    expect(summary.oversize.error).toBeUndefined();
    expect(summary.oversize.ok).toBe(true);
    expect(summary.oversize.detail).toMatchObject({ binary: { code: 1009 }, text: { code: 1009 }, oversizeRefused: 3, transport: { accepted: 1, rejected: 0 } });
  });

  it('every case ran against the Node host (one control session per case and mode)', () => {
    expect(host.sessions()).toBe(2 * conformanceCases.length);
  });
});
