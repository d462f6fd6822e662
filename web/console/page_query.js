// SPDX-License-Identifier: Apache-2.0
// page_query.js: the Query page: PromQL editor, time range and step, graph and table.
//
// The Graph tab runs /api/v1/query_range and draws every series with uPlot (chart.js);
// the Table tab runs /api/v1/query at the end of the range. The page's whole state
// (expr, range or start/end, step, tab, stacked) lives in the URL, so the address bar is
// always a link to what is on screen. Under the result it says which storage tier
// answered (X-Strata-Tier) and whether the results cache did (X-Strata-Cache, when the
// server sends it). Errors are shown as the server worded them.

import { h, clear, uid, parseDuration, formatDuration, formatSeconds, formatTime, seriesName, table } from './util.js';
import { prom, errorBox } from './api.js';
import { Autocomplete } from './autocomplete.js';
import { alignMatrix, renderChart } from './chart.js';

export const title = 'Query';

const PRESETS = ['5m', '15m', '30m', '1h', '3h', '6h', '12h', '1d', '2d', '7d', '30d'];
const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const MAX_POINTS = 11000; // Prometheus refuses range queries with more points per series
const MAX_SERIES_DRAWN = 250;
const MAX_TABLE_ROWS = 1000;

// Step for a range (seconds) drawn `widthPx` wide: about one point per 2 pixels, rounded up
// to a "nice" step so repeated queries line up (and hit the results cache).
export function autoStep(rangeS, widthPx) {
  const points = Math.min(Math.max(widthPx / 2, 100), 1000);
  const raw = Math.max(rangeS / points, rangeS / MAX_POINTS, 1);
  const nice = NICE_STEPS.find((s) => s >= raw);
  return nice || Math.ceil(raw / 86400) * 86400;
}

// "2024-05-01T10:42:07" in local time, for <input type="datetime-local">.
function toLocalInput(sec) {
  const d = new Date(sec * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function isoSeconds(sec) {
  return new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function mount(root, ctx) {
  const p = ctx.params();
  const state = {
    expr: p.get('expr') || '',
    range: p.get('range') || (p.get('start') ? 'custom' : '1h'),
    start: p.get('start') || '',
    end: p.get('end') || '',
    step: p.get('step') || '',
    tab: p.get('tab') === 'table' ? 'table' : 'graph',
    stacked: p.get('stacked') === '1',
  };
  let abort = null;
  let chart = null;
  let lastGraph = null; // {key, data, meta}

  // --- the form
  const editorId = uid('expr');
  const noteId = uid('note');
  const input = h('textarea', {
    id: editorId, class: 'editor', rows: '2', spellcheck: 'false', autocapitalize: 'off',
    autocomplete: 'off', 'aria-describedby': noteId, placeholder: 'e.g. rate(strata_tsdb_samples_appended_total[5m])',
  });
  input.value = state.expr;
  const list = h('ul', { class: 'suggestions', id: uid('sugg') });
  const acNote = h('span', { class: 'ac-note', role: 'status' });
  const ac = new Autocomplete(input, list, acNote);

  const rangeSel = h('select', { id: uid('range') },
    PRESETS.map((r) => h('option', { value: r, selected: r === state.range }, `Last ${r}`)),
    h('option', { value: 'custom', selected: state.range === 'custom' }, 'Custom…'));
  const startIn = h('input', { type: 'datetime-local', step: '1', id: uid('start') });
  const endIn = h('input', { type: 'datetime-local', step: '1', id: uid('end') });
  const customBox = h('div', { class: 'custom-range' },
    h('label', { for: startIn.id }, 'Start', startIn),
    h('label', { for: endIn.id }, 'End', endIn));
  const stepIn = h('input', { type: 'text', id: uid('step'), value: state.step, placeholder: 'auto', size: '6', inputmode: 'text', 'aria-describedby': noteId });
  const formError = h('div', { class: 'form-error', role: 'alert' });

  function syncCustom() {
    customBox.hidden = rangeSel.value !== 'custom';
  }
  if (state.range === 'custom') {
    const s = Date.parse(state.start);
    const e = Date.parse(state.end);
    if (Number.isFinite(s)) startIn.value = toLocalInput(s / 1000);
    if (Number.isFinite(e)) endIn.value = toLocalInput(e / 1000);
  }
  rangeSel.addEventListener('change', () => {
    if (rangeSel.value === 'custom' && !startIn.value) {
      const now = Math.floor(Date.now() / 1000);
      startIn.value = toLocalInput(now - 3600);
      endIn.value = toLocalInput(now);
    }
    syncCustom();
    if (input.value.trim()) run();
  });
  syncCustom();

  input.addEventListener('keydown', (e) => {
    if (ac.onKeyDown(e)) return;
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      run();
    }
  });

  const form = h('form', {
    class: 'query-form', onsubmit: (e) => {
      e.preventDefault();
      run();
    },
  },
  h('label', { for: editorId, class: 'editor-label' }, 'PromQL expression'),
  h('div', { class: 'editor-wrap' }, input, list),
  h('p', { class: 'hint', id: noteId }, 'Enter runs the query, Shift+Enter starts a new line, Ctrl+Space suggests names. Step: a duration such as 15s or 1m, empty for automatic. ', acNote),
  h('div', { class: 'controls' },
    h('label', { for: rangeSel.id }, 'Range', rangeSel),
    customBox,
    h('label', { for: stepIn.id }, 'Step', stepIn),
    h('button', { type: 'submit', class: 'primary' }, 'Run query')),
  formError);

  // --- tabs and panels
  const tabGraph = h('button', { type: 'button', role: 'tab', id: uid('tab'), class: 'tab' }, 'Graph');
  const tabTable = h('button', { type: 'button', role: 'tab', id: uid('tab'), class: 'tab' }, 'Table');
  const stackedBox = h('input', { type: 'checkbox', id: uid('stacked'), checked: state.stacked });
  const graphMeta = h('p', { class: 'meta', role: 'status' });
  const graphMsg = h('div', { class: 'result-msg' });
  const chartEl = h('div', { class: 'chart', role: 'figure', 'aria-label': 'Graph of the query result' });
  const graphPanel = h('div', { role: 'tabpanel', class: 'panel', 'aria-labelledby': tabGraph.id },
    h('div', { class: 'panel-bar' }, h('label', { class: 'check', for: stackedBox.id }, stackedBox, 'Stacked'), graphMeta),
    graphMsg, chartEl);
  const tableMeta = h('p', { class: 'meta', role: 'status' });
  const tableMsg = h('div', { class: 'result-msg' });
  const tableBody = h('div', { class: 'result-table' });
  const tablePanel = h('div', { role: 'tabpanel', class: 'panel', 'aria-labelledby': tabTable.id },
    h('div', { class: 'panel-bar' }, tableMeta), tableMsg, tableBody);

  function selectTab(tab, doRun) {
    state.tab = tab;
    for (const [btn, panel, name] of [[tabGraph, graphPanel, 'graph'], [tabTable, tablePanel, 'table']]) {
      const on = name === tab;
      btn.setAttribute('aria-selected', on ? 'true' : 'false');
      btn.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
    }
    if (doRun && input.value.trim()) run();
  }
  for (const [btn, name] of [[tabGraph, 'graph'], [tabTable, 'table']]) {
    btn.addEventListener('click', () => selectTab(name, true));
    btn.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      e.preventDefault();
      const other = name === 'graph' ? tabTable : tabGraph;
      other.focus();
      selectTab(name === 'graph' ? 'table' : 'graph', true);
    });
  }
  stackedBox.addEventListener('change', () => {
    state.stacked = stackedBox.checked;
    saveUrl();
    if (lastGraph) drawGraph(lastGraph);
  });

  root.append(
    h('h1', {}, 'Query'),
    form,
    h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Result view' }, tabGraph, tabTable),
    graphPanel, tablePanel);
  selectTab(state.tab, false);

  // --- running
  function saveUrl() {
    const q = { expr: state.expr };
    if (state.range === 'custom') {
      q.start = state.start;
      q.end = state.end;
    } else {
      q.range = state.range;
    }
    if (state.step) q.step = state.step;
    q.tab = state.tab;
    if (state.stacked) q.stacked = '1';
    ctx.setParams(q);
  }

  // Read the form into state; returns {start, end, step} in seconds or throws a message.
  function readForm() {
    state.expr = input.value.trim();
    if (!state.expr) throw new Error('Enter a PromQL expression first.');
    state.range = rangeSel.value;
    state.step = stepIn.value.trim();
    let start;
    let end;
    if (state.range === 'custom') {
      start = Date.parse(startIn.value) / 1000;
      end = Date.parse(endIn.value) / 1000;
      if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error('Give both a start and an end time for a custom range.');
      if (end <= start) throw new Error('The end of the range must be after its start.');
      state.start = isoSeconds(start);
      state.end = isoSeconds(end);
    } else {
      end = Math.floor(Date.now() / 1000);
      start = end - parseDuration(state.range);
    }
    let step;
    let stepAuto = false;
    if (state.step) {
      step = parseDuration(state.step);
      if (step === null || step <= 0) throw new Error(`Step "${state.step}" is not a duration; use e.g. 15s, 1m or 1h, or leave it empty.`);
      if ((end - start) / step > MAX_POINTS) {
        throw new Error(`Step ${state.step} gives more than ${MAX_POINTS} points for this range; use a step of at least ${formatDuration(Math.ceil((end - start) / MAX_POINTS))}.`);
      }
    } else {
      step = autoStep(end - start, root.clientWidth || 800);
      stepAuto = true;
      if (state.range !== 'custom') { // align to the step: repeated queries then line up
        start = Math.floor(start / step) * step;
        end = Math.floor(end / step) * step;
      }
    }
    return { start, end, step, stepAuto };
  }

  function headerMeta(r, extra) {
    const parts = extra.map((t) => h('span', {}, t));
    const tier = r.headers.get('X-Strata-Tier');
    const cache = r.headers.get('X-Strata-Cache');
    if (tier) parts.push(h('span', { class: 'tag', title: 'Storage tier that answered (X-Strata-Tier)' }, `tier ${tier}`));
    if (cache) parts.push(h('span', { class: 'tag', title: 'Results cache (X-Strata-Cache)' }, `cache ${cache}`));
    return parts;
  }

  function warningsEl(ws) {
    if (!ws || ws.length === 0) return null;
    return h('div', { class: 'warning', role: 'status' }, h('strong', {}, 'Warnings: '), ws.join('; '));
  }

  async function run() {
    clear(formError);
    let range;
    try {
      range = readForm();
    } catch (e) {
      formError.append(e.message);
      return;
    }
    ac.close();
    saveUrl();
    if (abort) abort.abort();
    abort = new AbortController();
    const { signal } = abort;
    const t0 = performance.now();
    if (state.tab === 'graph') {
      clear(graphMsg, h('p', { class: 'muted' }, 'Running…'));
      try {
        const r = await prom('/api/v1/query_range', { query: state.expr, start: range.start, end: range.end, step: range.step }, { post: true, signal });
        lastGraph = { r, range, ms: performance.now() - t0 };
        drawGraph(lastGraph);
      } catch (e) {
        if (e.name === 'AbortError') return;
        destroyChart();
        clear(graphMeta);
        clear(graphMsg, errorBox(e, 'The query failed.'));
      }
    } else {
      clear(tableMsg, h('p', { class: 'muted' }, 'Running…'));
      try {
        const r = await prom('/api/v1/query', { query: state.expr, time: range.end }, { post: true, signal });
        drawTable(r, performance.now() - t0, range.end);
      } catch (e) {
        if (e.name === 'AbortError') return;
        clear(tableBody);
        clear(tableMeta);
        clear(tableMsg, errorBox(e, 'The query failed.'));
      }
    }
  }

  function destroyChart() {
    if (chart) chart.destroy();
    chart = null;
    chartEl.replaceChildren();
    delete chartEl.dataset.seriesCount;
  }

  function drawGraph({ r, range, ms }) {
    destroyChart();
    const { data } = r;
    const stepText = `step ${formatDuration(range.step)}${range.stepAuto ? ' (auto)' : ''}`;
    if (data.resultType !== 'matrix') {
      clear(graphMeta, headerMeta(r, [`took ${formatSeconds(ms / 1000)}`]));
      clear(graphMsg, h('p', { class: 'muted' }, `The result is a ${data.resultType}, which cannot be graphed; see the Table tab.`));
      return;
    }
    const all = data.result;
    const shown = all.slice(0, MAX_SERIES_DRAWN);
    clear(graphMeta, headerMeta(r, [
      `${all.length} series`, stepText, `took ${formatSeconds(ms / 1000)}`]));
    clear(graphMsg, warningsEl(r.warnings),
      all.length > shown.length ? h('div', { class: 'warning', role: 'status' }, `Showing the first ${shown.length} of ${all.length} series; narrow the query with label matchers or aggregate it.`) : null,
      all.length === 0 ? h('p', { class: 'muted' }, 'The query returned no data in this time range.') : null);
    if (shown.length === 0) return;
    try {
      chart = renderChart(chartEl, alignMatrix(shown, range.start, range.end), { stacked: state.stacked });
    } catch (e) {
      graphMsg.append(errorBox(e, 'The graph could not be drawn.'));
    }
  }

  function drawTable(r, ms, t) {
    const { data } = r;
    clear(tableMsg, warningsEl(r.warnings));
    let rows = [];
    let n = 0;
    if (data.resultType === 'vector') {
      n = data.result.length;
      rows = data.result.slice(0, MAX_TABLE_ROWS).map((s) => h('tr', {},
        h('td', {}, h('code', {}, seriesName(s.metric))), h('td', { class: 'num' }, s.value[1])));
    } else if (data.resultType === 'matrix') {
      n = data.result.length;
      rows = data.result.slice(0, MAX_TABLE_ROWS).map((s) => h('tr', {},
        h('td', {}, h('code', {}, seriesName(s.metric))),
        h('td', { class: 'num' }, s.values.slice(-20).map(([ts, v]) => h('div', {}, `${v} @${ts}`)),
          s.values.length > 20 ? h('div', { class: 'muted' }, `… and ${s.values.length - 20} earlier`) : null)));
    } else {
      n = 1;
      const [, v] = data.result;
      rows = [h('tr', {}, h('td', {}, h('code', {}, data.resultType)), h('td', { class: 'num' }, v))];
    }
    clear(tableMeta, headerMeta(r, [`${n} ${data.resultType === 'vector' || data.resultType === 'matrix' ? 'series' : 'value'}`,
      `at ${formatTime(t * 1000)}`, `took ${formatSeconds(ms / 1000)}`]));
    if (n > MAX_TABLE_ROWS) tableMsg.append(h('div', { class: 'warning', role: 'status' }, `Showing the first ${MAX_TABLE_ROWS} of ${n} series.`));
    if (n === 0) {
      clear(tableBody, h('p', { class: 'muted' }, 'The query returned no data at this time.'));
      return;
    }
    clear(tableBody, table(['Series', 'Value'], rows, { class: 'data' }));
  }

  if (state.expr) run();
  else input.focus();

  return () => {
    if (abort) abort.abort();
    destroyChart();
    ac.close();
  };
}
