// SPDX-License-Identifier: Apache-2.0
// chart.js: time series graphs, drawn by uPlot (window.uPlot, from vendor/uPlot.iife.min.js).
//
// This file only turns Prometheus results into uPlot's columnar data and options: one
// shared x column (seconds), one y column per series, null where a series has no sample.
// Stacking is done the way uPlot's own stacking demo does it: the y columns hold running
// sums, bands fill between neighbours, and the legend and hover show the original values.
// The chart follows its container's width (ResizeObserver).

import { formatValue, formatTime, parseSampleValue, seriesName } from './util.js';

// Colour-blind-friendly palette (Okabe-Ito and Tableau hues), each readable on white.
const PALETTE = ['#0b6fc4', '#d55e00', '#009e73', '#cc79a7', '#8a6d00', '#56108a',
  '#c41e3a', '#2f6b2f', '#6b4f9e', '#b85c00', '#00758f', '#7f7f7f'];

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

// Align Prometheus matrix series ({metric, values: [[t, "v"], ...]}) on one x column.
// start/end (seconds, optional) are added to x so the graph spans the whole requested
// range even where there is no data. Returns {x: [t...], ys: [[v|null...]...], names}.
export function alignMatrix(result, start, end) {
  const ts = new Set();
  if (Number.isFinite(start)) ts.add(start);
  if (Number.isFinite(end)) ts.add(end);
  for (const s of result) for (const [t] of s.values) ts.add(t);
  const x = [...ts].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys = result.map((s) => {
    const col = new Array(x.length).fill(null);
    for (const [t, v] of s.values) {
      const n = parseSampleValue(v);
      col[index.get(t)] = Number.isFinite(n) ? n : null;
    }
    return col;
  });
  return { x, ys, names: result.map((s) => seriesName(s.metric)) };
}

// Running sums for stacking; null counts as 0 but stays null where the series has no value.
function stack(ys) {
  const acc = new Array(ys[0] ? ys[0].length : 0).fill(0);
  return ys.map((col) => col.map((v, i) => {
    if (v === null) return null;
    acc[i] += v;
    return acc[i];
  }));
}

// Time axis labels in 24-hour, ISO-like form (uPlot's table format: tick increment, label,
// then the extra line shown where the year, month, day, hour, minute or second changes).
const TIME_VALUES = [
  [3600 * 24 * 365, '{YYYY}', null, null, null, null, null, null, 1],
  [3600 * 24 * 28, '{MMM}', '\n{YYYY}', null, null, null, null, null, 1],
  [3600 * 24, '{MM}-{DD}', '\n{YYYY}', null, null, null, null, null, 1],
  [3600, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
  [60, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
  [1, '{HH}:{mm}:{ss}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
  [0.001, ':{ss}.{fff}', '\n{YYYY}-{MM}-{DD} {HH}:{mm}', null, '\n{MM}-{DD} {HH}:{mm}', null, '\n{HH}:{mm}', null, 1],
];

function fillColor(hex) {
  return `${hex}40`; // 25% alpha
}

// Render a chart into el (emptied first). data: alignMatrix() output. opts: {stacked,
// height, title, unit}. Returns {destroy(), u} (u: the uPlot instance).
export function renderChart(el, data, opts = {}) {
  if (typeof window.uPlot !== 'function') {
    throw new Error('the charting library (uPlot) did not load; reload the page');
  }
  el.replaceChildren();
  const raw = data.ys;
  const stacked = !!opts.stacked && raw.length > 1;
  const ys = stacked ? stack(raw) : raw;
  const series = [{
    label: 'Time',
    value: (u, v) => (v === null || v === undefined ? '—' : formatTime(v * 1000)),
  }];
  data.names.forEach((name, i) => {
    series.push({
      label: name,
      stroke: color(i),
      width: 1.5,
      fill: stacked ? fillColor(color(i)) : undefined,
      spanGaps: false,
      points: { show: data.x.length < 60 },
      value: (u, v, sidx, idx) => (idx === null || idx === undefined ? '—' : formatValue(raw[sidx - 1][idx])),
    });
  });
  const bands = [];
  if (stacked) for (let i = raw.length; i > 1; i--) bands.push({ series: [i, i - 1] });
  const axisStyle = { stroke: '#3b4350', grid: { stroke: '#e3e6ea', width: 1 }, ticks: { stroke: '#c5cad1', width: 1 } };
  const width = Math.max(el.clientWidth, 200);
  const u = new window.uPlot({
    width,
    height: opts.height || 320,
    title: opts.title,
    series,
    bands,
    scales: { x: { time: true } },
    axes: [
      { ...axisStyle, values: TIME_VALUES },
      { ...axisStyle, size: 60, values: (self, splits) => splits.map((v) => formatValue(v) + (opts.unit || '')) },
    ],
    cursor: { focus: { prox: 24 } },
    focus: { alpha: 0.35 },
    legend: { live: true },
  }, [data.x, ...ys], el);
  el.dataset.seriesCount = String(data.names.length);
  const ro = new ResizeObserver(() => {
    const w = Math.max(el.clientWidth, 200);
    if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height: u.height });
  });
  ro.observe(el);
  return {
    u,
    destroy() {
      ro.disconnect();
      u.destroy();
    },
  };
}
