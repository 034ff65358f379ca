/**
 * `npm run bench`: runs every `bench/*.bench.ts` module in sequence (each exports
 * `run(): Promise<BenchRow[]>`), prints a table per module and writes all rows, with the machine
 * and runtime they were measured on, to `bench-results.json`. `npm run bench -- storage` runs
 * only the modules whose file name contains `storage`. Rows with plot points are drawn into
 * docs/scaling.svg (bench/svg-plot.ts).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeScalingSvg } from './svg-plot.ts';
import { type BenchRow, formatTargets, printTable } from './table.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2];
const modules = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();
const results: Record<string, BenchRow[]> = {};
for (const file of modules) {
  const started = performance.now();
  const mod = (await import(pathToFileURL(`${here}/${file}`).href)) as { run: () => Promise<BenchRow[]> };
  const rows = await mod.run();
  results[file] = rows;
  printTable(`${file} (${((performance.now() - started) / 1000).toFixed(1)} s)`, rows);
}
const targets = formatTargets(Object.values(results).flat());
if (targets) console.log(`\n## Targets\n\n${targets}`);
const cpus = os.cpus();
const saved = { date: new Date().toISOString(), node: process.version, platform: `${os.platform()} ${os.arch()}`, cpu: `${cpus.length} x ${cpus[0]?.model ?? '?'}`, results };
writeFileSync('bench-results.json', `${JSON.stringify(saved, null, 2)}\n`);
console.log('\nwrote bench-results.json');
// The scaling plot (issue 18), from the rows that carry plot points; `BENCH_SVG=0` leaves it alone,
// and `node --import tsx bench/svg-plot.ts bench-results.json` redraws it from a saved run.
if (process.env.BENCH_SVG !== '0' && writeScalingSvg(saved, 'docs/scaling.svg', 'docs/scaling.json')) console.log('wrote docs/scaling.svg');
