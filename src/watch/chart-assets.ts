// The chart library the live pages draw with: uPlot (MIT, ~50 KB, no
// dependencies), served from the installed package at /uplot.js and
// /uplot.css so the pages work with no network beyond the daemon itself.
// CHART_SCRIPT is the small layer both pages share on top of it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';

const require = createRequire(import.meta.url);
let assets: Record<string, { type: string; body: Buffer }> | undefined;

function load(): Record<string, { type: string; body: Buffer }> {
  assets ??= {
    '/uplot.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) },
    '/uplot.css': { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) },
  };
  return assets;
}

/** Answers GET /uplot.js and /uplot.css; false for any other path. */
export function serveChartAsset(path: string, res: ServerResponse): boolean {
  const asset = load()[path];
  if (!asset) return false;
  res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'max-age=3600' }).end(asset.body);
  return true;
}

/**
 * Browser code (a string inlined into the pages): `fmt(n)` with SI
 * prefixes, and `TimeChart`, a uPlot line chart of named series over the
 * last ten minutes that can be fed a whole window and re-fed cheaply.
 */
export const CHART_SCRIPT = `
const fmt = (n) => { const a = Math.abs(n); return a >= 1e9 ? (n / 1e9).toFixed(2) + 'G' : a >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : a >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : String(Math.round(n * 10) / 10); };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
class TimeChart {
  constructor(el, title, unit, width) { this.el = el; this.title = title; this.unit = unit; this.width = width || 460; this.labels = []; this.plot = null; }
  /** times: seconds; columns: [{label, values}]; rebuilt when the set of series changes. */
  set(times, columns) {
    const labels = columns.map((c) => c.label);
    const data = [times, ...columns.map((c) => c.values)];
    if (!this.plot || labels.join('|') !== this.labels.join('|')) {
      if (this.plot) this.plot.destroy();
      this.el.innerHTML = '';
      this.labels = labels;
      const unit = this.unit;
      this.plot = new uPlot({
        title: this.title, width: this.width, height: 170,
        series: [{}, ...labels.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, value: (u, v) => v == null ? '–' : fmt(v) + unit }))],
        axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => fmt(v)) }],
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        cursor: { drag: { x: false, y: false } },
      }, data, this.el);
    } else {
      this.plot.setData(data);
    }
    this.points = times.length;
  }
  destroy() { if (this.plot) this.plot.destroy(); this.plot = null; this.labels = []; this.el.innerHTML = ''; }
}
`;
