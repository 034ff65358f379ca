/**
 * The state machine agrees with the checker's model of Flotilla KV
 * (src/linearizability/models/flotilla-kv.ts): a seeded random sequence of single-key operations,
 * applied one after another (some retried), must give outputs that the model accepts at every step.
 */
import { describe, expect, it } from 'vitest';
import type { KvWriteOp, SequenceRange } from '../../src/kv/index.ts';
import { type FlotillaKvInput, type FlotillaKvOutput, type FlotillaKvState, flotillaKvModel } from '../../src/linearizability/index.ts';
import { createSeededRand } from '../../src/util/rand.ts';
import { Harness } from './harness.ts';

const KEYS = [Uint8Array.of(0x00), Uint8Array.of(0xff), Uint8Array.of(0x61, 0x00, 0xff)];
const VALUES = [new Uint8Array(0), Uint8Array.of(0x31), Uint8Array.of(0x00, 0xff)];
const SEP = Uint8Array.of(0x2c);

type Rand = ReturnType<typeof createSeededRand>;

function randomInput(rand: Rand): FlotillaKvInput {
  const key = KEYS[rand.int(KEYS.length)];
  const value = VALUES[rand.int(VALUES.length)];
  const ops: FlotillaKvInput[] = [
    { op: 'get', key },
    { op: 'containsKey', key },
    { op: 'put', key, value },
    { op: 'delete', key },
    { op: 'getAndPut', key, value },
    { op: 'compareAndPut', key, expect: rand.int(3) === 0 ? null : VALUES[rand.int(VALUES.length)], update: value },
    { op: 'putIfAbsent', key, value },
    { op: 'merge', key, value },
    { op: 'getSequence', key, step: rand.int(4) },
    { op: 'getLatestSequence', key },
    { op: 'resetSequence', key },
  ];
  return ops[rand.int(ops.length)];
}

/** Runs one model input against the state machine and returns its output in the model's terms. */
async function run(h: Harness, input: FlotillaKvInput, retry: boolean): Promise<FlotillaKvOutput> {
  const key = input.key as Uint8Array;
  switch (input.op) {
    case 'get':
      return (await h.read({ type: 'get', key })) as Uint8Array | null;
    case 'containsKey':
      return (await h.read({ type: 'containsKey', key })) as boolean;
    case 'getLatestSequence':
      return (await h.read({ type: 'getLatestSequence', key })) as number;
    default: {
      const op = toWrite(input);
      const command = h.command(op);
      const first = await h.apply(command);
      const out = retry ? await h.apply({ ...command }) : first;
      if (!out.ok) throw out.error;
      if (retry) expect(out).toEqual({ ...first, deduplicated: true });
      if (input.op === 'getSequence') {
        const r = out.result as SequenceRange;
        return { start: r.startValue, end: r.endValue };
      }
      return out.result as FlotillaKvOutput;
    }
  }
}

function toWrite(i: FlotillaKvInput): KvWriteOp {
  const key = i.key as Uint8Array;
  switch (i.op) {
    case 'put':
    case 'getAndPut':
    case 'putIfAbsent':
      return { type: i.op, key, value: i.value as Uint8Array };
    case 'merge':
      return { type: 'merge', key, value: i.value as Uint8Array, separator: SEP };
    case 'compareAndPut':
      return { type: 'compareAndPut', key, expect: i.expect as Uint8Array | null, update: i.update as Uint8Array };
    case 'getSequence':
      return { type: 'getSequence', key, step: i.step };
    case 'delete':
    case 'resetSequence':
      return { type: i.op, key };
    default:
      throw new Error(`not a write: ${i.op}`);
  }
}

describe('agreement with the linearizability model', () => {
  it('every output of a sequential run is one the model allows (seeded)', async () => {
    const model = flotillaKvModel({ mergeSeparator: SEP });
    for (let i = 0; i < 10; i++) {
      const seed = 424242 + i;
      if (i === 0) console.log('model agreement seeds: 424242..424251');
      const rand = createSeededRand(seed);
      const h = new Harness();
      const states = new Map<string, FlotillaKvState>();
      for (let step = 0; step < 150; step++) {
        const input = randomInput(rand);
        const ns = input.op.endsWith('Sequence') ? 'seq' : 'data';
        const id = `${ns}:${Buffer.from(input.key as Uint8Array).toString('hex')}`;
        const output = await run(h, input, rand.int(5) === 0);
        const result = model.step(states.get(id) ?? model.init(), input, output);
        expect(result.ok, `seed ${seed} step ${step}: ${model.describeOperation?.(input, output)}`).toBe(true);
        if (result.ok && 'state' in result) states.set(id, result.state);
      }
    }
  });
});
