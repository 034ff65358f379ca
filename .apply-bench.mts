import { createMemoryStorage } from './adapters/storage/memory.ts';
import { KvStateMachine, WriteOverlay } from './src/kv/index.ts';
const engine = createMemoryStorage();
const sm = new KvStateMachine();
const region = { id: 1, startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
const N = Number(process.argv[3] ?? 40000), TURN = 64;
const enc = new TextEncoder();
let seq = 0;
const t0 = performance.now();
for (let i = 0; i < N; i += TURN) {
  const overlay = new WriteOverlay(engine);
  for (let j = 0; j < TURN; j++) {
    const k = i + j;
    await sm.apply(overlay, region, { clientId: 'c', seq: ++seq, nowMs: k, op: { type: 'put', key: enc.encode(`key/${k % 5000}`), value: enc.encode(`value-${k}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`) } });
  }
  await engine.write(overlay.toWriteOps());
}
const ms = performance.now() - t0;
console.log(`${process.argv[2]}: ${N} puts applied in ${ms.toFixed(0)} ms = ${Math.round(N / ms * 1000)} puts/s`);
