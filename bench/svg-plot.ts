/**
 * A small dependency-free SVG line-chart writer for the bench's scaling plots (issue 18: regions
 * × throughput, client concurrency × latency, idle regions × CPU), written to docs/scaling.svg.
 * Bench rows that carry a `plot` point ({@link BenchRow.plot}) are grouped into charts by
 * `plot.chart` and into series by `plot.series`; each series is one polyline.
 *
 * `npm run bench` folds the plotted rows of each run into docs/scaling.json (a module run again
 * replaces its rows; the others stay, so a partial run such as `npm run bench -- idle` keeps the
 * cluster lines of the last full run) and redraws the SVG from it. To redraw it from a saved run
 * without measuring again:
 *
 *   node --import tsx bench/svg-plot.ts [bench-results.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import type { BenchRow } from './table.ts';

/** One line of a chart: its points in x order. */
export interface PlotSeries {
  name: string;
  points: Array<{ x: number; y: number }>;
}

/** One chart. */
export interface PlotChart {
  title: string;
  xLabel: string;
  yLabel: string;
  /** A log10 x axis (region counts, writer counts span decades). */
  logX: boolean;
  series: PlotSeries[];
}

const CHART_W = 640;
const CHART_H = 320;
const MARGIN = { left: 78, right: 170, top: 36, bottom: 52 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
/** A bound on what one chart draws, so a malformed results file cannot make a huge SVG. */
const SERIES_MAX = 16;
const POINTS_MAX = 256;

/** Escapes text for SVG character data and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** A round step near `span / 5` (1, 2 or 5 times a power of ten). */
function niceStep(span: number): number {
  const raw = span / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(3));
}

/** The ticks of an axis over [lo, hi]: powers of ten on a log axis, round steps on a linear one. */
function axisTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
    return ticks;
  }
  const step = niceStep(hi - lo || 1);
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step / 2; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

/** Renders one chart as an SVG group at vertical offset `top`. */
function renderChart(chart: PlotChart, top: number): string {
  const series = chart.series.slice(0, SERIES_MAX).map((s) => ({ name: s.name, points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!chart.logX || p.x > 0)).slice(0, POINTS_MAX).sort((a, b) => a.x - b.x) }));
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const xLoRaw = xs.length ? Math.min(...xs) : 1;
  const xHiRaw = xs.length ? Math.max(...xs) : 10;
  const xTicks = axisTicks(chart.logX ? xLoRaw : Math.min(0, xLoRaw), xHiRaw === xLoRaw ? xLoRaw * 10 || 1 : xHiRaw, chart.logX);
  const yTicks = axisTicks(0, ys.length ? Math.max(...ys, 0) || 1 : 1, false);
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const plotW = CHART_W - MARGIN.left - MARGIN.right;
  const plotH = CHART_H - MARGIN.top - MARGIN.bottom;
  const fx = (x: number) => MARGIN.left + (chart.logX ? (Math.log10(x) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0) || 1) : (x - x0) / (x1 - x0 || 1)) * plotW;
  const fy = (y: number) => MARGIN.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const n = (v: number) => v.toFixed(1);
  const out: string[] = [`<g class="chart" transform="translate(0,${top})">`];
  out.push(`<text class="title" x="${MARGIN.left}" y="22" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`);
  // Axes and grid.
  out.push(`<g class="axis x-axis">`);
  out.push(`<line x1="${MARGIN.left}" y1="${n(MARGIN.top + plotH)}" x2="${n(MARGIN.left + plotW)}" y2="${n(MARGIN.top + plotH)}" stroke="#333"/>`);
  for (const t of xTicks) {
    out.push(`<line x1="${n(fx(t))}" y1="${MARGIN.top}" x2="${n(fx(t))}" y2="${n(MARGIN.top + plotH)}" stroke="#ddd"/>`);
    out.push(`<text x="${n(fx(t))}" y="${n(MARGIN.top + plotH + 16)}" text-anchor="middle" font-size="11">${formatTick(t)}</text>`);
  }
  out.push(`<text x="${n(MARGIN.left + plotW / 2)}" y="${CHART_H - 12}" text-anchor="middle" font-size="12">${escapeXml(chart.xLabel)}${chart.logX ? ' (log scale)' : ''}</text>`);
  out.push('</g>');
  out.push(`<g class="axis y-axis">`);
  out.push(`<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${n(MARGIN.top + plotH)}" stroke="#333"/>`);
  for (const t of yTicks) {
    out.push(`<line x1="${MARGIN.left}" y1="${n(fy(t))}" x2="${n(MARGIN.left + plotW)}" y2="${n(fy(t))}" stroke="#eee"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${n(fy(t) + 4)}" text-anchor="end" font-size="11">${formatTick(t)}</text>`);
  }
  out.push(`<text transform="translate(16,${n(MARGIN.top + plotH / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(chart.yLabel)}</text>`);
  out.push('</g>');
  // One polyline per series, its points marked, and a legend entry.
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points.map((p) => `${n(fx(p.x))},${n(fy(p.y))}`).join(' ');
    out.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts}"/>`);
    for (const p of s.points) out.push(`<circle cx="${n(fx(p.x))}" cy="${n(fy(p.y))}" r="3" fill="${colour}"><title>${escapeXml(`${s.name}: ${p.x} → ${+p.y.toPrecision(4)}`)}</title></circle>`);
    const ly = MARGIN.top + 10 + i * 18;
    const lx = MARGIN.left + plotW + 12;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 24}" y="${ly + 4}" font-size="11">${escapeXml(s.name)}</text>`);
    out.push('</g>');
  });
  out.push('</g>');
  return out.join('\n');
}

/** Renders charts stacked in one standalone SVG document. */
export function renderSvg(charts: readonly PlotChart[], caption = ''): string {
  const height = charts.length * CHART_H + (caption ? 24 : 0);
  const body = charts.map((c, i) => renderChart(c, i * CHART_H)).join('\n');
  const foot = caption ? `\n<text x="8" y="${height - 8}" font-size="10" fill="#555">${escapeXml(caption)}</text>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_W}" height="${height}" viewBox="0 0 ${CHART_W} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n${body}${foot}\n</svg>\n`;
}

/**
 * Groups the plotted rows into charts (in the order their charts first appear) and series, one
 * point per row at (`plot.x`, `row.value`). Rows without `plot` and non-finite values are left out.
 */
export function chartsFromRows(rows: readonly BenchRow[]): PlotChart[] {
  const charts = new Map<string, PlotChart>();
  for (const row of rows) {
    const p = row.plot;
    if (!p || !Number.isFinite(row.value) || !Number.isFinite(p.x)) continue;
    let chart = charts.get(p.chart);
    if (!chart) {
      chart = { title: p.chart, xLabel: p.xLabel, yLabel: p.yLabel ?? row.unit, logX: p.logX ?? false, series: [] };
      charts.set(p.chart, chart);
    }
    let series = chart.series.find((s) => s.name === p.series);
    if (!series) {
      series = { name: p.series, points: [] };
      chart.series.push(series);
    }
    series.points.push({ x: p.x, y: row.value });
  }
  return [...charts.values()];
}

/** bench-results.json's shape (what bench/index.ts writes). */
export interface SavedRun {
  date?: string;
  cpu?: string;
  results: Record<string, BenchRow[]>;
}

/** The plotted rows kept across runs, by bench module, each with the date it was measured. */
export interface PlotData {
  modules: Record<string, { date: string; cpu: string; rows: BenchRow[] }>;
}

/**
 * Folds the plotted rows of `run` into `data`: a module measured in `run` replaces its earlier
 * rows, the others are kept, so that `npm run bench -- idle` redraws the plot with the idle rows
 * new and the cluster rows of the last full run.
 */
export function mergePlotData(data: PlotData, run: SavedRun): PlotData {
  const modules = { ...data.modules };
  for (const [file, rows] of Object.entries(run.results)) {
    const plotted = rows.filter((r) => r.plot);
    if (plotted.length > 0) modules[file] = { date: run.date ?? '', cpu: run.cpu ?? '', rows: plotted };
  }
  return { modules };
}

/** Renders the plot of `data` (one caption line naming when each module was measured). */
export function renderPlotData(data: PlotData): string | undefined {
  const entries = Object.entries(data.modules).sort(([a], [b]) => a.localeCompare(b));
  const charts = chartsFromRows(entries.flatMap(([, m]) => m.rows));
  if (charts.length === 0) return undefined;
  const caption = `npm run bench: ${entries.map(([file, m]) => `${file} ${m.date.slice(0, 16).replace('T', ' ')}`).join('; ')}${entries[0]?.[1].cpu ? ` (${entries[0][1].cpu})` : ''}`;
  return renderSvg(charts, caption);
}

/**
 * Folds `run` into the plot data at `dataPath` (created if missing) and writes the SVG to
 * `svgPath`. Returns false (writing nothing) when nothing is plotted.
 */
export function writeScalingSvg(run: SavedRun, svgPath: string, dataPath: string): boolean {
  let data: PlotData = { modules: {} };
  try {
    data = JSON.parse(readFileSync(dataPath, 'utf8')) as PlotData;
  } catch {
    // No earlier run recorded: start afresh.
  }
  data = mergePlotData(data, run);
  const svg = renderPlotData(data);
  if (svg === undefined) return false;
  writeFileSync(dataPath, `${JSON.stringify(data, null, 1)}\n`);
  writeFileSync(svgPath, svg);
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Redraws docs/scaling.svg from a saved run (default bench-results.json), folded into docs/scaling.json.
  const input = process.argv[2] ?? 'bench-results.json';
  const saved = JSON.parse(readFileSync(input, 'utf8')) as SavedRun;
  console.log(writeScalingSvg(saved, 'docs/scaling.svg', 'docs/scaling.json') ? 'wrote docs/scaling.svg and docs/scaling.json' : `no plotted rows in ${input}`);
}
