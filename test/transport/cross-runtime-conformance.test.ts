/**
 * The transport conformance cases over WebSocket between runtimes and processes, against a Node
 * store in this process (`remote-host.ts`): `conformance-process.ts` runs every case under Deno
 * (the `deno` npm package) and in another Node process, each time with its WebSocket client
 * dialling the Node server and with its own servers that the Node client dials, and prints what
 * passed; Deno also checks its server's message size limit. This test asserts the summaries.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases } from './conformance-cases.ts';
import type { ProcessConformanceSummary } from './conformance-process.ts';
import { type RemoteHost, startRemoteHost } from './remote-host.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const script = 'test/transport/conformance-process.ts';

async function runIn(runtime: 'deno' | 'node', controlUrl: string): Promise<ProcessConformanceSummary> {
  const [cmd, args] = runtime === 'deno' ? [bin('deno'), ['run', '-A', '--quiet', script, controlUrl]] : [bin('tsx'), [script, controlUrl]];
  const { stdout } = await promisify(execFile)(cmd, args, { cwd: root, maxBuffer: 16 * 1024 * 1024, timeout: 110_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ProcessConformanceSummary;
}

describe('WebSocket transport conformance across runtimes and processes, against a Node store', () => {
  let host: RemoteHost;
  const summaries: Partial<Record<'deno' | 'node', ProcessConformanceSummary>> = {};
  beforeAll(async () => {
    host = await startRemoteHost();
    // Both processes at once, each with control sessions of its own on the same host.
    [summaries.deno, summaries.node] = await Promise.all([runIn('deno', host.url), runIn('node', host.url)]);
  }, 120_000);
  afterAll(async () => {
    await host?.close();
  });

  const names = conformanceCases.map((c) => c.name);
  for (const [runtime, mode, title] of [
    ['deno', 'client', 'Deno client (native WebSocket) -> Node server (ws)'],
    ['deno', 'server', 'Node client (ws) -> Deno server (Deno.upgradeWebSocket)'],
    ['node', 'client', 'Node client in another process (ws) -> Node server (ws)'],
    ['node', 'server', 'Node client (ws) -> Node server in another process (ws)'],
  ] as const) {
    it(`${title}: passes every conformance case`, () => {
      const summary = summaries[runtime]!;
      expect(summary.runtime).toMatch(runtime === 'deno' ? /^deno 2\./ : /^node v/);
      expect(summary[mode].map((r) => r.name)).toEqual(names);
      expect(summary[mode].filter((r) => !r.ok)).toEqual([]);
    });
  }

  it('Deno server: a message over maxPayloadBytes closes the socket with 1009 and a reason before the transport sees it, and is counted', () => {
    const { oversize } = summaries.deno!;
    expect(oversize?.error).toBeUndefined();
    expect(oversize?.ok).toBe(true);
    expect(oversize?.detail).toMatchObject({ binary: { code: 1009 }, text: { code: 1009 }, oversizeRefused: 3, transport: { accepted: 1, rejected: 0 } });
    expect(summaries.node!.oversize).toBeNull();
  });

  it('every case ran against the Node host (one control session per case, mode and runtime)', () => {
    expect(host.sessions()).toBe(2 * 2 * conformanceCases.length);
  });
});
