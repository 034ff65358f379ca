/**
 * The page side of the Chromium IndexedDB benchmark (bundled by `storage-chromium.ts`): synced
 * batch writes with N concurrent writers against the real IndexedDB, one database per run.
 */
import { createIndexedDbStorage } from '../adapters/storage/indexeddb.ts';

/**
 * Runs one timed measurement per writer count and returns batches written and seconds taken.
 * @param a - writer counts, milliseconds per measurement, batch shape
 */
export async function run(a: { writerCounts: number[]; ms: number; putsPerBatch: number; valueBytes: number }) {
  const out: { writers: number; batches: number; seconds: number }[] = [];
  for (const writers of a.writerCounts) {
    const db = await createIndexedDbStorage({ name: `bench-${writers}-${performance.now()}` });
    const start = performance.now();
    const counts = await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        let n = 0;
        while (performance.now() - start < a.ms) {
          const value = new Uint8Array(a.valueBytes).fill(n & 0xff);
          const batch = Array.from({ length: a.putsPerBatch }, (_, p) => ({ type: 'put' as const, key: Uint8Array.of(w, n >> 16, n >> 8, n & 0xff, p), value }));
          await db.write(batch, { sync: true });
          n++;
        }
        return n;
      }),
    );
    out.push({ writers, batches: counts.reduce((x, y) => x + y, 0), seconds: (performance.now() - start) / 1000 });
    await db.close();
  }
  return out;
}
