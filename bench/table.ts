/**
 * The shared shape of benchmark results and a plain-text table printer. Every `bench/*.bench.ts`
 * module returns {@link BenchRow}s; `bench/index.ts` prints them with {@link printTable} and
 * writes them all to `bench-results.json`.
 */

/** One measured figure. */
export interface BenchRow {
  /** The module or area, e.g. `storage`. */
  group: string;
  /** What was measured, e.g. `fs synced writes, 16 writers`. */
  name: string;
  /** The figure. */
  value: number;
  /** Its unit, e.g. `batches/s`, `MB/s`, `ratio`. */
  unit: string;
  /** Anything a reader needs to judge the figure (sizes, caveats). */
  note?: string;
  /** A goal the figure is judged against (issue 9's targets); the suite ends with a met/not-met summary. */
  target?: BenchTarget;
  /** A point of a scaling plot (bench/svg-plot.ts draws docs/scaling.svg): (`x`, `value`) on `series` of `chart`. */
  plot?: BenchPlotPoint;
}

/** Where a row goes in the bench's scaling plot. */
export interface BenchPlotPoint {
  /** The chart's title; rows with the same title share a chart. */
  chart: string;
  /** The line the point belongs to. */
  series: string;
  x: number;
  xLabel: string;
  /** The y axis' label; default the row's unit. */
  yLabel?: string;
  logX?: boolean;
}

/** A goal for one figure: `value` must be at least (`>=`) or at most (`<=`) `bound`. */
export interface BenchTarget {
  /** Short name of the goal, e.g. `issue 9 target 1`. */
  label: string;
  op: '>=' | '<=';
  bound: number;
}

/** Whether a row meets its target (`undefined` when it has none). */
export function targetMet(row: BenchRow): boolean | undefined {
  if (!row.target) return undefined;
  return row.target.op === '>=' ? row.value >= row.target.bound : row.value <= row.target.bound;
}

/** Renders every row that has a target as `met`/`NOT met` lines, for the end of a suite run. */
export function formatTargets(rows: readonly BenchRow[]): string {
  return rows
    .filter((r) => r.target)
    .map((r) => {
      const t = r.target as BenchTarget;
      return `${targetMet(r) ? 'met    ' : 'NOT met'}  ${t.label}: ${r.name} = ${formatValue(r.value)} ${r.unit} (goal ${t.op} ${formatValue(t.bound)})`;
    })
    .join('\n');
}

/** Formats a figure with three significant digits and thousands separators. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Renders rows as an aligned plain-text (and Markdown-compatible) table. */
export function formatTable(rows: readonly BenchRow[]): string {
  const cells = [['benchmark', 'value', 'unit', 'note'], ...rows.map((r) => [r.name, formatValue(r.value), r.unit, r.note ?? ''])];
  const widths = cells[0].map((_, c) => Math.max(...cells.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => (c === 1 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ')} |`;
  return [line(cells[0]), `|${widths.map((w, c) => (c === 1 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** Prints rows under a heading. */
export function printTable(title: string, rows: readonly BenchRow[]): void {
  console.log(`\n## ${title}\n`);
  console.log(formatTable(rows));
}

/** Runs `body` repeatedly for about `ms` milliseconds; returns iterations and elapsed seconds. */
export async function timed(ms: number, body: () => Promise<void>): Promise<{ count: number; seconds: number }> {
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < ms) {
    await body();
    count++;
  }
  return { count, seconds: (performance.now() - start) / 1000 };
}
