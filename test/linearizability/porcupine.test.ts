/**
 * porcupine's published histories with their known verdicts: 102 Jepsen etcd register logs and
 * the kv logs by 1, 10 and 50 clients. Every verdict must agree. Timings are printed at the end.
 */

import { afterAll, describe, expect, it } from 'vitest';
import { checkOperations, kvModel, registerModel } from '../../src/linearizability/index.ts';
import { etcdLinearizable, parseJepsenLog, parseKvLog, readFixture } from './porcupine-format.ts';
import { verifyResult } from './verify.ts';

const timings: { name: string; ms: number; steps: number; ops: number; result: string }[] = [];

afterAll(() => {
  const total = timings.reduce((n, t) => n + t.ms, 0);
  const slowest = [...timings].sort((a, b) => b.ms - a.ms).slice(0, 8);
  console.log(
    `porcupine histories: ${timings.length} checked in ${total.toFixed(0)} ms of checking\n` +
      slowest.map((t) => `  ${t.name}: ${t.ms.toFixed(1)} ms, ${t.steps} steps, ${t.ops} ops, ${t.result}`).join('\n'),
  );
});

function timed<T extends { result: string; steps: number }>(name: string, ops: number, run: () => T): T {
  const start = performance.now();
  const result = run();
  timings.push({ name, ms: performance.now() - start, steps: result.steps, ops, result: result.result });
  return result;
}

const etcdNumbers = Array.from({ length: 103 }, (_, i) => i).filter((i) => i !== 95);
const etcdCases = etcdNumbers.map((n) => ({ n, name: `etcd_${String(n).padStart(3, '0')}` }));

describe('Jepsen etcd logs (register model)', () => {
  it('has 23 logs porcupine expects to be linearizable and 79 it does not', () => {
    expect(etcdLinearizable.size).toBe(23);
    expect(etcdNumbers.filter((i) => !etcdLinearizable.has(i))).toHaveLength(79);
  });

  it.each(etcdCases)('$name agrees with porcupine', ({ n, name }) => {
    const history = parseJepsenLog(readFixture(`jepsen/${name}.log`), name);
    expect(history.length).toBeGreaterThan(0);
    const model = registerModel();
    const result = timed(name, history.length, () => checkOperations(model, history));
    expect(result.result).toBe(etcdLinearizable.has(n) ? 'ok' : 'illegal');
    verifyResult(model, history, result);
  });

  it('etcd_095, which porcupine leaves out, is empty, and an empty history is linearizable', () => {
    expect(readFixture('jepsen/etcd_095.log')).toBe('');
    expect(checkOperations(registerModel(), parseJepsenLog('')).result).toBe('ok');
  });
});

describe('kv logs (kv model, partitioned by key)', () => {
  const cases = ['c01', 'c10', 'c50'].flatMap((c) => [`${c}-ok`, `${c}-bad`]);

  it.each(cases)('%s agrees with porcupine', (name) => {
    const history = parseKvLog(readFixture(`kv/${name}.txt`), name);
    expect(history.length).toBeGreaterThan(0);
    const model = kvModel();
    const result = timed(name, history.length, () => checkOperations(model, history));
    expect(result.result).toBe(name.endsWith('-ok') ? 'ok' : 'illegal');
    expect(result.partitions.length).toBe(new Set(history.map((op) => op.input.key)).size);
    verifyResult(model, history, result);
  });

  it('explains a bad history with its key and the operation that could not be placed', () => {
    const history = parseKvLog(readFixture('kv/c01-bad.txt'));
    const result = checkOperations(kvModel(), history);
    if (result.result !== 'illegal') throw new Error(`expected illegal, got ${result.result}`);
    expect(result.illegal.partition).toMatch(/^key "\d"$/);
    expect(result.illegal.message).toContain('Could not place');
    expect(result.illegal.message).toContain(`client ${history[result.illegal.blocking].clientId}`);
  });
});
