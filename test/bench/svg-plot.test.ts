/**
 * bench/svg-plot.ts: the scaling plot's SVG is well-formed, has both axes with ticks, one
 * polyline per series with a point per row, escapes text, and keeps earlier modules' rows when a
 * partial bench run is folded in.
 */
import { describe, expect, it } from 'vitest';
import { chartsFromRows, escapeXml, mergePlotData, renderPlotData, renderSvg } from '../../bench/svg-plot.ts';
import type { BenchRow } from '../../bench/table.ts';

const rows: BenchRow[] = [
  { group: 'cluster', name: '1 region', value: 1000, unit: 'writes/s', plot: { chart: 'Regions × throughput', series: '3 processes', x: 1, xLabel: 'regions', logX: true } },
  { group: 'cluster', name: '8 regions', value: 1800, unit: 'writes/s', plot: { chart: 'Regions × throughput', series: '3 processes', x: 8, xLabel: 'regions', logX: true } },
  { group: 'cluster', name: '64 regions', value: 2500, unit: 'writes/s', plot: { chart: 'Regions × throughput', series: '3 processes', x: 64, xLabel: 'regions', logX: true } },
  { group: 'cluster', name: 'in-process 1', value: 900, unit: 'writes/s', plot: { chart: 'Regions × throughput', series: 'in-process <&>', x: 1, xLabel: 'regions', logX: true } },
  { group: 'cluster', name: 'in-process 8', value: 850, unit: 'writes/s', plot: { chart: 'Regions × throughput', series: 'in-process <&>', x: 8, xLabel: 'regions', logX: true } },
  { group: 'cluster', name: 'p99 at 256', value: 40, unit: 'ms', plot: { chart: 'Writers × latency', series: 'p99', x: 256, xLabel: 'writers', yLabel: 'latency, ms' } },
  { group: 'cluster', name: 'p99 at 1000', value: 120, unit: 'ms', plot: { chart: 'Writers × latency', series: 'p99', x: 1000, xLabel: 'writers', yLabel: 'latency, ms' } },
  { group: 'cluster', name: 'not plotted', value: 3, unit: 'ratio' },
  { group: 'cluster', name: 'unmeasured', value: Number.NaN, unit: 'writes/s', plot: { chart: 'Writers × latency', series: 'p99', x: 64, xLabel: 'writers' } },
];

/** A minimal XML well-formedness check: every tag closes in order, attributes are quoted, no bare `&` or `<`. */
function wellFormed(xml: string): boolean {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    if (/[<>]/.test(text) || /&(?!(amp|lt|gt|quot|apos);)/.test(text)) return false;
    last = m.index + m[0].length;
    if (m[1]) {
      if (stack.pop() !== m[2]) return false;
    } else if (!m[4]) stack.push(m[2]);
  }
  return stack.length === 0 && body.slice(last).trim() === '';
}

describe('svg-plot', () => {
  it('groups rows into charts and series, skipping unplotted and non-finite rows', () => {
    const charts = chartsFromRows(rows);
    expect(charts.map((c) => c.title)).toEqual(['Regions × throughput', 'Writers × latency']);
    expect(charts[0].series.map((s) => [s.name, s.points.map((p) => [p.x, p.y])])).toEqual([
      ['3 processes', [[1, 1000], [8, 1800], [64, 2500]]],
      ['in-process <&>', [[1, 900], [8, 850]]],
    ]);
    expect(charts[0].logX).toBe(true);
    expect(charts[1].yLabel).toBe('latency, ms');
    expect(charts[1].series[0].points).toHaveLength(2);
  });

  it('renders valid SVG with both axes, ticks, and one polyline per series with its points', () => {
    const svg = renderSvg(chartsFromRows(rows), 'caption & date');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(wellFormed(svg)).toBe(true);
    expect(svg.match(/<g class="chart"/g)).toHaveLength(2);
    expect(svg.match(/<g class="axis x-axis">/g)).toHaveLength(2);
    expect(svg.match(/<g class="axis y-axis">/g)).toHaveLength(2);
    const polylines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
    expect(polylines).toEqual([3, 2, 2]);
    // Log x axis: decades 1, 10, 100 as ticks; the escaped series name and axis labels are there.
    expect(svg).toContain('>100</text>');
    expect(svg).toContain('regions (log scale)');
    expect(svg).toContain('in-process &lt;&amp;&gt;');
    expect(svg).toContain('caption &amp; date');
    // Every point lies inside the drawing area.
    for (const m of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)) {
      expect(Number(m[1])).toBeGreaterThanOrEqual(78);
      expect(Number(m[1])).toBeLessThanOrEqual(640 - 170 + 0.1);
      expect(Number(m[2])).toBeGreaterThanOrEqual(0);
    }
  });

  it('places a larger value higher and a larger x further right', () => {
    const svg = renderSvg(chartsFromRows(rows.slice(0, 3)));
    const pts = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(pts).toHaveLength(3);
    expect(pts[0][0]).toBeLessThan(pts[1][0]);
    expect(pts[1][0]).toBeLessThan(pts[2][0]);
    expect(pts[0][1]).toBeGreaterThan(pts[1][1]);
    expect(pts[1][1]).toBeGreaterThan(pts[2][1]);
  });

  it('keeps the rows of modules a partial run did not measure, and replaces the ones it did', () => {
    let data = mergePlotData({ modules: {} }, { date: '2026-12-07T10:00:00Z', results: { 'cluster.bench.ts': rows.slice(0, 3), 'idle.bench.ts': [rows[5]] } });
    data = mergePlotData(data, { date: '2026-12-07T11:00:00Z', results: { 'idle.bench.ts': [rows[6]], 'kv.bench.ts': [rows[7]] } });
    expect(Object.keys(data.modules).sort()).toEqual(['cluster.bench.ts', 'idle.bench.ts']);
    expect(data.modules['idle.bench.ts'].rows).toEqual([rows[6]]);
    expect(data.modules['cluster.bench.ts'].date).toBe('2026-12-07T10:00:00Z');
    const svg = renderPlotData(data) ?? '';
    expect(wellFormed(svg)).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(renderPlotData({ modules: {} })).toBe(undefined);
  });

  it('escapes the five XML specials', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
