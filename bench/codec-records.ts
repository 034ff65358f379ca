/**
 * The binary frame codec against msgpackr with records (issue 18: "reconsider the hand-written
 * binary codec versus msgpackr with records/structures, and pick by the numbers"); not part of
 * `npm run bench`:
 *
 *   node --import tsx bench/codec-records.ts
 *
 * For each of transport.bench.ts's batches: CPU µs per frame of our binary encode and of our
 * decode (size check, bounds-checked read, the schema's rules, header checks), against msgpackr
 * `pack` and `unpack` with `useRecords` and shared `structures` (the most favourable msgpackr
 * setting: record definitions are not even sent), which do no validation at all. Alternating
 * runs, best of 5 each.
 */
import { Packr } from 'msgpackr';
import { decodeFrame, encodeFrame } from '../src/codec/frame.ts';
import { BATCHES } from './transport.bench.ts';

/** CPU µs per call of `fn`: the best of 5 runs of `n` calls after a warm-up. */
function cpuMicros(fn: () => void, n = 20_000): number {
  for (let i = 0; i < 2000; i++) fn();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 5; r++) {
    const c = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const u = process.cpuUsage(c);
    best = Math.min(best, (u.user + u.system) / n);
  }
  return best;
}

const link = { clusterId: 'bench', from: 1, to: 2 };
for (const { name, items } of BATCHES) {
  const frame = { clusterId: 'bench', from: 1, to: 2, items };
  const binary = encodeFrame(frame);
  // Shared structures: both ends know the record shapes in advance (a protocol-version contract).
  const structures: object[] = [];
  const packr = new Packr({ useRecords: true, structures, moreTypes: false, copyBuffers: false, mapsAsObjects: true });
  const wire = { v: 5, c: frame.clusterId, f: frame.from, t: frame.to, b: items };
  const packed = packr.pack(wire).slice();
  const unpackr = new Packr({ useRecords: true, structures, copyBuffers: false, mapsAsObjects: true });
  unpackr.unpack(packed);
  const rows = {
    'binary encode': cpuMicros(() => encodeFrame(frame)),
    'msgpackr+records pack': cpuMicros(() => packr.pack(wire)),
    'binary decode (validated)': cpuMicros(() => decodeFrame(binary, link)),
    'msgpackr+records unpack (no validation)': cpuMicros(() => unpackr.unpack(packed)),
  };
  console.log(`${name}: binary ${binary.length} B, msgpackr+records ${packed.length} B`);
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k}: ${v.toFixed(2)} µs CPU/frame`);
}
