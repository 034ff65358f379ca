/**
 * Readers for porcupine's published test histories (test/fixtures/porcupine): Jepsen etcd logs
 * for the register model and the EDN-ish kv logs for the kv model. Each line is one event and its
 * line number is its time.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KvInput, KvOutput, Operation, RegisterInput, RegisterOutput, RegisterValue } from '../../src/linearizability/index.ts';

/** The folder of porcupine's histories, copied with its licence. */
export const porcupineDir = fileURLToPath(new URL('../fixtures/porcupine/', import.meta.url));

/** The etcd logs porcupine_test.go expects to be linearizable; all others but the empty 95 are not. */
export const etcdLinearizable = new Set([
  2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98, 100, 101, 102,
]);

interface Pending<I> {
  readonly clientId: number;
  readonly input: I;
  readonly call: number;
}

const jepsenLine = /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*?)\s*$/;

function parseRegisterInput(f: string, arg: string, where: string): RegisterInput {
  if (f === 'read') return { op: 'read' };
  if (f === 'write') return { op: 'write', value: Number(arg) };
  const cas = /^\[(\d+) (\d+)\]$/.exec(arg);
  if (cas === null) throw new Error(`${where}: bad cas argument ${arg}`);
  return { op: 'cas', expect: Number(cas[1]), update: Number(cas[2]) };
}

/**
 * Reads a Jepsen etcd log. `:ok` completes an operation; `:fail` means it did not take effect,
 * which for a cas is the answer "compare failed" (checked as `false`) and for a read drops it;
 * `:info` (timed out) and an invoke never completed leave the outcome unknown.
 */
export function parseJepsenLog(text: string, name = 'log'): Operation<RegisterInput, RegisterOutput>[] {
  const ops: Operation<RegisterInput, RegisterOutput>[] = [];
  const open = new Map<number, Pending<RegisterInput>>();
  const lines = text.split('\n');
  lines.forEach((line, time) => {
    if (line.trim() === '') return;
    const m = jepsenLine.exec(line);
    const where = `${name}:${time + 1}`;
    if (m === null) throw new Error(`${where}: unrecognised line ${JSON.stringify(line)}`);
    const [, proc, type, f, arg] = m;
    const clientId = Number(proc);
    if (type === 'invoke') {
      if (open.has(clientId)) throw new Error(`${where}: process ${clientId} invokes twice`);
      open.set(clientId, { clientId, input: parseRegisterInput(f, arg, where), call: time });
      return;
    }
    const p = open.get(clientId);
    if (p === undefined) throw new Error(`${where}: completion without invoke`);
    open.delete(clientId);
    if (type === 'info') ops.push({ ...p, unknown: true });
    else if (type === 'fail' && f !== 'cas') return;
    else if (f === 'read') ops.push({ ...p, return: time, output: arg === 'nil' ? null : Number(arg) as RegisterValue });
    else if (f === 'write') ops.push({ ...p, return: time, output: true });
    else ops.push({ ...p, return: time, output: type === 'ok' });
  });
  for (const p of open.values()) ops.push({ ...p, unknown: true });
  return ops;
}

const kvLine = /^\{:process (\d+), :type :(invoke|ok), :f :(get|put|append), :key "([^"]*)", :value (nil|"([^"]*)")\}$/;

/** Reads one of porcupine's kv logs (get / put / append on string keys; every call returns). */
export function parseKvLog(text: string, name = 'log'): Operation<KvInput, KvOutput>[] {
  const ops: Operation<KvInput, KvOutput>[] = [];
  const open = new Map<number, Pending<KvInput>>();
  text.split('\n').forEach((line, time) => {
    if (line.trim() === '') return;
    const m = kvLine.exec(line);
    const where = `${name}:${time + 1}`;
    if (m === null) throw new Error(`${where}: unrecognised line ${JSON.stringify(line)}`);
    const [, proc, type, f, key, , value] = m;
    const clientId = Number(proc);
    if (type === 'invoke') {
      if (open.has(clientId)) throw new Error(`${where}: process ${clientId} invokes twice`);
      const input: KvInput = f === 'get' ? { op: 'get', key } : { op: f as 'put' | 'append', key, value: value ?? '' };
      open.set(clientId, { clientId, input, call: time });
      return;
    }
    const p = open.get(clientId);
    if (p === undefined) throw new Error(`${where}: completion without invoke`);
    open.delete(clientId);
    ops.push({ ...p, return: time, output: f === 'get' ? (value ?? '') : null });
  });
  for (const p of open.values()) ops.push({ ...p, unknown: true });
  return ops;
}

/** Reads a file of the porcupine fixtures. */
export function readFixture(relative: string): string {
  return readFileSync(porcupineDir + relative, 'utf8');
}
