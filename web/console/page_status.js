// SPDX-License-Identifier: Apache-2.0
// page_status.js: the Status page: build and runtime info, readiness, storage and ingest
// figures from /metrics, partition log lag and results-cache hit ratio when the server
// exports them, and a graph of the ingest rate.
//
// The ingest rate comes from PromQL (sum(irate(strata_tsdb_samples_appended_total[5m])))
// when Strata scrapes itself, so the graph has history. Otherwise the page polls /metrics
// every POLL_MS and graphs the rate between consecutive polls itself; the caption says
// which of the two it shows. /metrics is parsed in the browser (promtext.js).

import { h, clear, formatValue, formatTime, formatDuration, timeEl, table } from './util.js';
import { prom, request, text, errorBox } from './api.js';
import { parse, select, sum } from './promtext.js';
import { alignMatrix, renderChart } from './chart.js';

export const title = 'Status';

const POLL_MS = 5000;
const MAX_POINTS = 360; // 30 minutes of client-side polls
// irate: the last two samples in the window, so any scrape interval up to 2.5 minutes works.
const RATE_QUERY = 'sum(irate(strata_tsdb_samples_appended_total[5m]))';
const RATE_RANGE_S = 1800;
const RATE_STEP_S = 10;
const RATE_COUNTER = 'strata_tsdb_samples_appended_total';

function bytes(v) {
  if (v === null) return null;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

// One "label: value" tile; value null -> "not reported".
function tile(label, value, help) {
  return h('div', { class: 'tile', title: help || null },
    h('div', { class: 'tile-value' }, value === null || value === undefined ? h('span', { class: 'muted' }, 'not reported') : String(value)),
    h('div', { class: 'tile-label' }, label));
}

function kvTable(pairs) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'kv' },
    h('tbody', {}, pairs.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v === '' || v === null || v === undefined ? h('span', { class: 'muted' }, '—') : v))))));
}

export function mount(root) {
  let alive = true;
  let timer = null;
  let chart = null;
  const infoBox = h('div', {});
  const statsBox = h('div', { 'aria-live': 'off' });
  const rateCaption = h('p', { class: 'muted', role: 'status' });
  const rateMsg = h('div', {});
  const rateChart = h('div', { class: 'chart', role: 'figure', 'aria-label': 'Ingest rate in samples per second' });
  const polled = []; // [{t (s), v (counter)}]

  root.append(h('h1', {}, 'Status'),
    h('section', { 'aria-labelledby': 'rate-h' }, h('h2', { id: 'rate-h' }, 'Ingest rate (samples/s)'), rateCaption, rateMsg, rateChart),
    h('section', { 'aria-labelledby': 'stats-h' }, h('h2', { id: 'stats-h' }, 'Storage and ingest'), statsBox),
    h('section', { 'aria-labelledby': 'info-h' }, h('h2', { id: 'info-h' }, 'Server'), infoBox));

  async function loadInfo() {
    const parts = await Promise.allSettled([
      prom('/api/v1/status/buildinfo', {}),
      prom('/api/v1/status/runtimeinfo', {}),
      request('GET', '/-/ready'),
    ]);
    if (!alive) return;
    const [build, runtime, ready] = parts;
    const rows = [];
    const errs = [];
    if (build.status === 'fulfilled') {
      const b = build.value.data;
      rows.push(['Version', b.version], ['Revision', b.revision], ['Branch', b.branch], ['Build date', b.buildDate], ['Built with', b.goVersion]);
    } else errs.push(errorBox(build.reason, 'Build info unavailable.'));
    if (runtime.status === 'fulfilled') {
      const r = runtime.value.data;
      rows.push(['Started', r.startTime ? h('span', {}, formatTime(r.startTime), ' (', timeEl(r.startTime), ')') : ''],
        ['Working directory', r.CWD], ['Raw retention', r.storageRetention],
        ['Config reloaded OK', r.reloadConfigSuccess === undefined ? '' : String(r.reloadConfigSuccess)],
        ['Last config load', r.lastConfigTime ? formatTime(r.lastConfigTime) : '']);
      for (const [k, v] of Object.entries(r)) {
        if (!['startTime', 'CWD', 'storageRetention', 'reloadConfigSuccess', 'lastConfigTime'].includes(k)) rows.push([k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
      }
    } else errs.push(errorBox(runtime.reason, 'Runtime info unavailable.'));
    if (ready.status === 'fulfilled') rows.push(['Ready', ready.value.text.trim() || 'yes']);
    else rows.push(['Ready', h('span', { class: 'err-text' }, ready.reason.message)]);
    clear(infoBox, errs, kvTable(rows));
  }

  function drawStats(m) {
    const v = (name) => sum(m, name);
    const hits = v('strata_query_cache_hits_total');
    const misses = v('strata_query_cache_misses_total');
    const ratio = hits !== null && misses !== null && hits + misses > 0 ? `${((hits / (hits + misses)) * 100).toFixed(1)}%` : null;
    const lag = select(m, 'strata_ingest_log_lag_records').sort((a, b) => Number(a.labels.partition) - Number(b.labels.partition));
    const tiles = h('div', { class: 'tiles' },
      tile('Active series (head)', fmtCount(v('strata_tsdb_head_series'))),
      tile('Samples in head', fmtCount(v('strata_tsdb_head_samples'))),
      tile('Head memory', bytes(v('strata_tsdb_head_bytes'))),
      tile('Samples appended', fmtCount(v(RATE_COUNTER)), 'since start'),
      tile('Write requests', fmtCount(v('strata_ingest_requests_total'))),
      tile('Rejected lines', fmtCount(v('strata_ingest_bad_lines_total'))),
      tile('Out-of-order samples', fmtCount(v('strata_tsdb_out_of_order_samples_total'))),
      tile('Allocated memory', bytes(v('strata_memory_allocated_bytes'))),
      tile('Query cache hit ratio', hits === null ? null : ratio || 'no lookups yet',
        hits === null ? 'strata_query_cache_hits_total is not in /metrics' : `${fmtCount(hits)} hits, ${fmtCount(misses)} misses`));
    const lagBox = lag.length
      ? table(['Partition', 'Log lag (records)'], lag.map((s) => h('tr', {}, h('td', {}, s.labels.partition ?? '?'), h('td', { class: 'num' }, fmtCount(s.value)))), { class: 'narrow' })
      : h('p', { class: 'muted' }, 'Per-partition log lag: not reported by this server (no strata_ingest_log_lag_records in /metrics).');
    clear(statsBox, tiles, h('h3', {}, 'Log lag per partition'), lagBox,
      m.errors.length ? h('p', { class: 'warning' }, `${m.errors.length} line(s) of /metrics could not be parsed; first: ${m.errors[0]}`) : null);
  }

  function fmtCount(x) {
    if (x === null) return null;
    return x >= 1e4 ? formatValue(x) : String(Math.round(x * 100) / 100);
  }

  // Poll /metrics: refresh the figures, and (in polling mode) add a rate point.
  async function poll(graphRate) {
    try {
      const m = parse(await text('/metrics'));
      if (!alive) return;
      drawStats(m);
      if (graphRate) addPoint(sum(m, RATE_COUNTER));
      else refreshPromRate();
    } catch (e) {
      if (!alive) return;
      clear(statsBox, errorBox(e, 'Could not read /metrics.'));
    }
  }

  function addPoint(counter) {
    if (counter === null) {
      clear(rateMsg, h('p', { class: 'muted' }, `${RATE_COUNTER} is not in /metrics; no rate to show.`));
      return;
    }
    polled.push({ t: Date.now() / 1000, v: counter });
    if (polled.length > MAX_POINTS + 1) polled.shift();
    const x = [];
    const y = [];
    for (let i = 1; i < polled.length; i++) {
      const dv = polled[i].v - polled[i - 1].v;
      x.push(polled[i].t);
      y.push(dv >= 0 ? dv / (polled[i].t - polled[i - 1].t) : null); // null: counter reset
    }
    if (x.length === 0) {
      clear(rateMsg, h('p', { class: 'muted' }, 'Measuring: the first value appears after the next poll.'));
      return;
    }
    clear(rateMsg);
    const data = { x, ys: [y], names: ['samples/s'] };
    if (chart) chart.u.setData([x, y]);
    else chart = renderChart(rateChart, data, { height: 220 });
  }

  // The ingest rate over the last RATE_RANGE_S from PromQL; null when there is no history.
  async function promRate() {
    const end = Math.floor(Date.now() / 1000 / RATE_STEP_S) * RATE_STEP_S;
    const start = end - RATE_RANGE_S;
    const r = await prom('/api/v1/query_range', { query: RATE_QUERY, start, end, step: RATE_STEP_S }, { post: true });
    const s = r.data.result;
    if (r.data.resultType !== 'matrix' || s.length === 0 || s[0].values.length < 2) return null;
    return { ...alignMatrix(s, start, end), names: ['samples/s'] };
  }

  // Decide where the rate comes from and draw it; true means "poll /metrics".
  async function startRate() {
    let note = '';
    try {
      const data = await promRate();
      if (!alive) return false;
      if (data) {
        clear(rateCaption, 'From PromQL over Strata\'s own scraped counters: ', h('code', {}, RATE_QUERY),
          `, last ${formatDuration(RATE_RANGE_S)}, step ${formatDuration(RATE_STEP_S)}.`);
        chart = renderChart(rateChart, data, { height: 220 });
        return false;
      }
    } catch (e) {
      if (!alive) return false;
      note = ` (The PromQL query failed: ${e.message})`;
    }
    rateCaption.textContent = `Strata does not scrape itself (no history of ${RATE_COUNTER}), so this graph is computed in your browser by polling /metrics every ${POLL_MS / 1000} s while this page is open.${note}`;
    return true;
  }

  // PromQL mode: redraw with fresh data; a failure is shown under the graph.
  async function refreshPromRate() {
    try {
      const data = await promRate();
      if (!alive) return;
      clear(rateMsg);
      if (data && chart) chart.u.setData([data.x, ...data.ys]);
    } catch (e) {
      if (alive) clear(rateMsg, errorBox(e, 'Could not refresh the ingest rate.'));
    }
  }

  loadInfo();
  (async () => {
    const polling = await startRate();
    if (!alive) return;
    await poll(polling);
    if (!alive) return;
    // A second poll after a second gives the first rate at once; then every POLL_MS.
    timer = setTimeout(() => {
      poll(polling);
      timer = setInterval(() => poll(polling), POLL_MS);
    }, 1000);
  })();

  return () => {
    alive = false;
    clearTimeout(timer);
    clearInterval(timer);
    if (chart) chart.destroy();
  };
}
