// SPDX-License-Identifier: Apache-2.0
// util.js: small DOM and formatting helpers shared by the console's pages.
//
// Everything that shows server data builds DOM nodes with textContent (through h()), never
// innerHTML, so label values and error messages can hold any characters safely.

// h('div', {class: 'x', onclick: fn}, child, ...): an element. Children may be strings,
// nodes, arrays of them, or null/undefined/false (skipped). Attributes starting with "on"
// become event listeners; `true` sets a boolean attribute; null/false/undefined skip it.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === '') continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// Replace all children of el.
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idSeq = 0;
// A document-unique id for label/for and aria attributes.
export function uid(prefix) {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

// Prometheus durations: "1h30m", "15s", "500ms", "2d", "1w", "1y"; or plain seconds ("30",
// "1.5"). Returns seconds, or null when the text is not a duration.
export function parseDuration(text) {
  const s = String(text).trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const units = { y: 31536000, w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };
  const re = /(\d+)(ms|y|w|d|h|m|s)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

// Seconds as a Prometheus duration: 90 -> "1m30s", 0.25 -> "250ms". maxParts keeps only
// the most significant units (for "3h12m ago" instead of "3h12m5s ago").
export function formatDuration(seconds, maxParts = 4) {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (seconds === 0) return '0s';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  let rest = Math.round(seconds);
  const parts = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (rest >= n && parts.length < maxParts) {
      parts.push(`${Math.floor(rest / n)}${u}`);
      rest %= n;
    }
  }
  return parts.join('');
}

// A short human duration for measured times given in seconds: "12 ms", "1.3 s".
export function formatSeconds(seconds) {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 1) return `${(seconds * 1000).toPrecision(3).replace(/\.?0+$/, '')} ms`;
  if (seconds < 120) return `${seconds.toPrecision(3).replace(/\.?0+$/, '')} s`;
  return formatDuration(seconds);
}

// An ISO time string or epoch ms -> Date, or null for Go's zero time and bad input.
export function toDate(v) {
  if (v === null || v === undefined || v === '') return null;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 1) return null;
  return d;
}

// "2024-05-01 10:42:07" in local time.
export function formatTime(v) {
  const d = toDate(v);
  if (!d) return 'never';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// "3m ago", "in 2h" relative to now.
export function formatRelative(v) {
  const d = toDate(v);
  if (!d) return 'never';
  const diff = (Date.now() - d.getTime()) / 1000;
  const abs = Math.abs(diff);
  if (abs < 1) return 'just now';
  // Two units, rounded at the second: "1h5m", "2d3h", "42s".
  const rounded = abs >= 86400 ? Math.round(abs / 3600) * 3600 : abs >= 3600 ? Math.round(abs / 60) * 60 : Math.round(abs);
  const text = formatDuration(rounded, 2);
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

// A <time> element showing the relative time, with the absolute time as its title.
export function timeEl(v) {
  const d = toDate(v);
  if (!d) return h('span', { class: 'muted' }, 'never');
  return h('time', { datetime: d.toISOString(), title: formatTime(d) }, formatRelative(d));
}

// Compact number for axes and legends: 1234567 -> "1.23M", 0.000123 -> "123µ".
export function formatValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const a = Math.abs(v);
  if (a === 0) return '0';
  const si = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [n, s] of si) if (a >= n) return `${trim(v / n)}${s}`;
  if (a >= 0.01) return trim(v);
  const small = [[1e-3, 'm'], [1e-6, 'µ'], [1e-9, 'n']];
  for (const [n, s] of small) if (a >= n) return `${trim(v / n)}${s}`;
  return v.toExponential(2);
}

function trim(x) {
  return String(Number(x.toPrecision(3)));
}

// Prometheus sample value strings ("1.5", "NaN", "+Inf") -> number.
export function parseSampleValue(s) {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

// {__name__: "up", job: "x"} -> 'up{job="x"}' (label values escaped as in PromQL).
export function seriesName(metric) {
  const name = metric.__name__ || '';
  const labels = Object.keys(metric).filter((k) => k !== '__name__').sort()
    .map((k) => `${k}="${escapeLabel(metric[k])}"`);
  if (labels.length === 0) return name || '{}';
  return `${name}{${labels.join(', ')}}`;
}

export function escapeLabel(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// Label chips: <ul class="labels"><li>name="value"</li>...</ul>.
export function labelList(labels, skip = []) {
  const keys = Object.keys(labels || {}).filter((k) => !skip.includes(k)).sort();
  if (keys.length === 0) return h('span', { class: 'muted' }, 'no labels');
  return h('ul', { class: 'labels' },
    keys.map((k) => h('li', {}, h('span', { class: 'lname' }, k), '=', h('span', { class: 'lvalue' }, `"${labels[k]}"`))));
}

// A table inside a horizontally scrolling wrapper. Each cell gets its column's heading as
// data-label, which style.css shows above the value when narrow screens stack the cells.
export function table(head, rows, attrs = {}) {
  for (const tr of rows) {
    [...tr.children].forEach((td, i) => {
      if (head[i] !== undefined) td.dataset.label = head[i];
    });
  }
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
}

// A status badge: kind is ok, warn, err or neutral.
export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}` }, text);
}
