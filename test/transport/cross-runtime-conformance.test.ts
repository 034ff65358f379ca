/**
 * The transport conformance cases over WebSocket between runtimes and processes, with a Node store
 * in this process: `conformance-process.ts` runs every case under Deno (the `deno` npm package)
 * and in another Node process against a Node store here (`startRemoteHost`), with its WebSocket
 * client dialling the Node server and with its own servers that the Node client dials, and prints
 * what passed; Deno also checks its server's message size limit. Then the other way round: the
 * cases run here (`startReverseDriver`), Node stores sending to a store the child process hosts,
 * again as client and as server. In the titles, frames go from left to right.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases } from './conformance-cases.ts';
import type { ProcessConformanceSummary } from './conformance-process.ts';
import { type RemoteHost, type ReverseDriver, type ReverseResults, startRemoteHost, startReverseDriver } from './remote-host.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const script = 'test/transport/conformance-process.ts';

async function runIn(runtime: 'deno' | 'node', controlUrl: string, reverseUrl: string): Promise<ProcessConformanceSummary> {
  const [cmd, args] = runtime === 'deno' ? [bin('deno'), ['run', '-A', '--quiet', script, controlUrl, reverseUrl]] : [bin('tsx'), [script, controlUrl, reverseUrl]];
  const { stdout } = await promisify(execFile)(cmd, args, { cwd: root, maxBuffer: 16 * 1024 * 1024, timeout: 110_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ProcessConformanceSummary;
}

describe('WebSocket transport conformance across runtimes and processes, against a Node store', () => {
  let host: RemoteHost;
  const drivers: ReverseDriver[] = [];
  const summaries: Partial<Record<'deno' | 'node', ProcessConformanceSummary>> = {};
  const reverse: Partial<Record<'deno' | 'node', ReverseResults>> = {};
  beforeAll(async () => {
    host = await startRemoteHost();
    const [forDeno, forNode] = [await startReverseDriver(), await startReverseDriver()];
    drivers.push(forDeno, forNode);
    // Both processes at once, each with control sessions of its own on the same host.
    [summaries.deno, summaries.node, reverse.deno, reverse.node] = await Promise.all([runIn('deno', host.url, forDeno.url), runIn('node', host.url, forNode.url), forDeno.results(), forNode.results()]);
  }, 120_000);
  afterAll(async () => {
    await host?.close();
    await Promise.all(drivers.map((d) => d.close()));
  });

  const names = conformanceCases.map((c) => c.name);
  const Other = { deno: 'Deno', node: 'Node (another process)' } as const;
  for (const runtime of ['deno', 'node'] as const) {
    const other = Other[runtime];
    for (const [mode, title] of [
      ['client', `${other} client -> Node server`],
      ['server', `${other} server -> Node client`],
    ] as const) {
      it(`${title}: passes every conformance case (run in ${runtime})`, () => {
        const summary = summaries[runtime]!;
        expect(summary.runtime).toMatch(runtime === 'deno' ? /^deno 2\./ : /^node v/);
        expect(summary[mode].map((r) => r.name)).toEqual(names);
        expect(summary[mode].filter((r) => !r.ok)).toEqual([]);
      });
    }
    for (const [mode, title] of [
      ['server', `Node server -> ${other} client`],
      ['client', `Node client -> ${other} server`],
    ] as const) {
      it(`${title}: passes every conformance case (run in this process)`, () => {
        expect(summaries[runtime]!.hosted).toBe('done');
        const results = reverse[runtime]![mode];
        expect(results?.map((r) => r.name)).toEqual(names);
        expect(results?.filter((r) => !r.ok)).toEqual([]);
      });
    }
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
