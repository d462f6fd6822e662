// SPDX-License-Identifier: Apache-2.0
// autocomplete.js: PromQL suggestions for the query editor.
//
// promqlContext() reads the text before the caret with a small scanner (strings, comments,
// brackets) and says what may be typed there: a metric or function name, a label name
// (inside {...} or by/without/on/ignoring (...)), or a label value (inside a quoted string
// after `label=`). The Autocomplete class fetches the candidates from the query API
// (/api/v1/label/__name__/values, /api/v1/labels, /api/v1/label/<name>/values, narrowed
// with match[] to the metric when one is known), caches them for a minute, and drives an
// ARIA combobox: a listbox under the editor, arrows to move, Enter or Tab to accept,
// Escape to close, Ctrl+Space to ask. Fetch failures are shown in the editor's note.

import { h, escapeLabel } from './util.js';
import { prom } from './api.js';

const FUNCTIONS = ('abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil ' +
  'changes clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week ' +
  'day_of_year days_in_month deg delta deriv exp floor histogram_quantile holt_winters hour ' +
  'idelta increase irate label_join label_replace last_over_time ln log10 log2 max_over_time ' +
  'min_over_time minute month pi predict_linear present_over_time quantile_over_time rad rate ' +
  'resets round scalar sgn sin sinh sort sort_desc sqrt stddev_over_time stdvar_over_time ' +
  'sum_over_time tan tanh time timestamp vector year').split(' ');
const AGGREGATIONS = 'sum min max avg group stddev stdvar count count_values bottomk topk quantile'.split(' ');
const KEYWORDS = 'by without on ignoring group_left group_right offset bool and or unless'.split(' ');
const GROUPING = /^(by|without|on|ignoring|group_left|group_right)$/;
const MAX_ITEMS = 50;
const TTL_MS = 60000;

// What can be typed at `caret` in `text`:
//   {kind: 'metric', prefix}                       a metric, function or keyword
//   {kind: 'labelName', prefix, metric}            a label name (metric may be null)
//   {kind: 'labelValue', prefix, label, metric, quote}
//   {kind: 'none'}                                 in a range [5m], a number, a comment
export function promqlContext(text, caret) {
  const before = text.slice(0, caret);
  const stack = [];
  let inStr = null;
  let strStart = -1;
  let lastIdent = null;
  let prevIdent = false; // the previous token was an identifier
  let i = 0;
  while (i < before.length) {
    const c = before[i];
    if (inStr) {
      if (c === '\\' && inStr !== '`') {
        i += 2;
        continue;
      }
      if (c === inStr) inStr = null;
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      inStr = c;
      strStart = i;
      prevIdent = false;
      i++;
      continue;
    }
    if (c === '#') {
      const nl = before.indexOf('\n', i);
      if (nl < 0) return { kind: 'none' };
      i = nl;
      continue;
    }
    if (/[a-zA-Z_:]/.test(c)) {
      let j = i + 1;
      while (j < before.length && /[a-zA-Z0-9_:]/.test(before[j])) j++;
      lastIdent = before.slice(i, j);
      prevIdent = true;
      i = j;
      continue;
    }
    if (/[0-9.]/.test(c)) { // a number, possibly 1e5 or 0x1f: skip it whole
      let j = i + 1;
      while (j < before.length && /[0-9a-zA-Z._]/.test(before[j])) j++;
      prevIdent = false;
      i = j;
      continue;
    }
    if (c === '{') stack.push({ ch: '{', metric: prevIdent ? lastIdent : null, start: i });
    else if (c === '(') stack.push({ ch: '(', grouping: prevIdent && GROUPING.test(lastIdent), start: i });
    else if (c === '[') stack.push({ ch: '[', start: i });
    else if (c === '}' || c === ')' || c === ']') stack.pop();
    if (!/\s/.test(c)) prevIdent = false;
    i++;
  }
  const top = stack[stack.length - 1];
  if (inStr) {
    if (!top || top.ch !== '{' || inStr === '`') return { kind: 'none' };
    const m = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(before.slice(0, strStart));
    if (!m) return { kind: 'none' };
    return { kind: 'labelValue', label: m[1], metric: top.metric, prefix: before.slice(strStart + 1), quote: inStr };
  }
  if (top && top.ch === '[') return { kind: 'none' };
  const pm = /[a-zA-Z_:][a-zA-Z0-9_:]*$/.exec(before);
  const prefix = pm ? pm[0] : '';
  if (pm && pm.index > 0 && /[0-9.]/.test(before[pm.index - 1])) return { kind: 'none' };
  if (top && top.ch === '{') {
    // A label name goes right after '{' or ',' (only spaces between).
    const since = before.slice(top.start + 1, before.length - prefix.length);
    const lastSep = Math.max(since.lastIndexOf(','), -1);
    if (since.slice(lastSep + 1).trim() !== '') return { kind: 'none' };
    if (lastSep >= 0 && /[=~!]\s*$/.test(since.slice(0, lastSep))) return { kind: 'none' };
    return { kind: 'labelName', prefix, metric: top.metric };
  }
  if (top && top.ch === '(' && top.grouping) return { kind: 'labelName', prefix, metric: null };
  return { kind: 'metric', prefix };
}

// Rank candidates: prefix matches first (shorter first), then substring matches.
function rank(items, prefix) {
  const p = prefix.toLowerCase();
  const starts = [];
  const contains = [];
  for (const it of items) {
    const t = it.text.toLowerCase();
    if (t === p) continue;
    if (t.startsWith(p)) starts.push(it);
    else if (p.length >= 2 && t.includes(p)) contains.push(it);
  }
  starts.sort((a, b) => a.text.length - b.text.length || a.text.localeCompare(b.text));
  return starts.concat(contains).slice(0, MAX_ITEMS);
}

export class Autocomplete {
  // input: the <textarea>; list: an empty <ul> for the listbox; note: an element where
  // fetch errors are shown.
  constructor(input, list, note) {
    this.input = input;
    this.list = list;
    this.note = note;
    this.items = [];
    this.active = -1;
    this.ctx = null;
    this.seq = 0;
    this.cache = new Map();
    list.setAttribute('role', 'listbox');
    list.id = list.id || 'promql-suggestions';
    list.hidden = true;
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', list.id);
    input.setAttribute('aria-expanded', 'false');
    input.addEventListener('input', () => this.update(false));
    input.addEventListener('blur', () => this.close());
    input.addEventListener('focus', () => this.fetchCached('metrics', () => this.loadMetricNames()).catch(() => {}));
  }

  get isOpen() {
    return !this.list.hidden;
  }

  // Handle a keydown on the editor; returns true when the key was used by the list.
  onKeyDown(e) {
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      this.update(true);
      return true;
    }
    if (!this.isOpen) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = this.items.length;
      this.setActive(e.key === 'ArrowDown' ? (this.active + 1) % n : (this.active - 1 + n) % n);
      return true;
    }
    if ((e.key === 'Enter' || e.key === 'Tab') && this.active >= 0 && !e.shiftKey) {
      e.preventDefault();
      this.accept(this.items[this.active]);
      return true;
    }
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      this.close();
      return true;
    }
    return false;
  }

  close() {
    this.list.hidden = true;
    this.list.replaceChildren();
    this.items = [];
    this.active = -1;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  setActive(i) {
    this.active = i;
    this.list.querySelectorAll('[role=option]').forEach((li, k) => {
      li.setAttribute('aria-selected', k === i ? 'true' : 'false');
      if (k === i) {
        this.input.setAttribute('aria-activedescendant', li.id);
        li.scrollIntoView({ block: 'nearest' });
      }
    });
  }

  // Recompute suggestions for the caret position. force: show even for an empty prefix.
  async update(force) {
    const caret = this.input.selectionStart;
    if (caret !== this.input.selectionEnd) return this.close();
    const ctx = promqlContext(this.input.value, caret);
    const seq = ++this.seq;
    if (ctx.kind === 'none' || (ctx.kind === 'metric' && !ctx.prefix && !force)) return this.close();
    let candidates;
    try {
      candidates = await this.candidates(ctx);
      this.note.textContent = '';
    } catch (e) {
      if (seq !== this.seq) return undefined;
      this.note.textContent = `Suggestions unavailable: ${e.message}`;
      return this.close();
    }
    if (seq !== this.seq) return undefined; // a newer keystroke won
    this.ctx = ctx;
    this.show(rank(candidates, ctx.prefix));
    return undefined;
  }

  show(items) {
    this.items = items;
    this.active = -1;
    if (items.length === 0) return this.close();
    const base = this.list.id;
    this.list.replaceChildren(...items.map((it, k) => h('li', {
      id: `${base}-${k}`,
      role: 'option',
      'aria-selected': 'false',
      onmousedown: (e) => {
        e.preventDefault(); // keep the editor focused
        this.accept(it);
      },
    }, h('span', { class: 'sugg-text' }, it.text), h('span', { class: 'sugg-kind' }, it.kind))));
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    return undefined;
  }

  accept(item) {
    const { input, ctx } = this;
    const caret = input.selectionStart;
    const start = caret - ctx.prefix.length;
    let insert = item.text;
    let after = '';
    if (ctx.kind === 'labelValue') {
      insert = ctx.quote === '"' ? escapeLabel(item.text) : item.text;
      if (input.value[caret] !== ctx.quote) after = ctx.quote;
    } else if (item.kind === 'function' || item.kind === 'aggregation') {
      if (input.value[caret] !== '(') after = '(';
    }
    input.setRangeText(insert + after, start, caret, 'end');
    this.close();
    input.dispatchEvent(new Event('change'));
  }

  fetchCached(key, load) {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.promise;
    const promise = load();
    this.cache.set(key, { at: Date.now(), promise });
    promise.catch(() => this.cache.delete(key));
    return promise;
  }

  async loadMetricNames() {
    const r = await prom('/api/v1/label/__name__/values', {});
    return r.data;
  }

  async candidates(ctx) {
    if (ctx.kind === 'metric') {
      const metrics = await this.fetchCached('metrics', () => this.loadMetricNames());
      return [
        ...metrics.map((m) => ({ text: m, kind: 'metric' })),
        ...AGGREGATIONS.map((f) => ({ text: f, kind: 'aggregation' })),
        ...FUNCTIONS.map((f) => ({ text: f, kind: 'function' })),
        ...KEYWORDS.map((k) => ({ text: k, kind: 'keyword' })),
      ];
    }
    const match = ctx.metric ? [['match[]', ctx.metric]] : [];
    if (ctx.kind === 'labelName') {
      const names = await this.fetchCached(`labels:${ctx.metric || ''}`,
        async () => (await prom('/api/v1/labels', match)).data);
      return names.filter((n) => n !== '__name__' || !ctx.metric).map((n) => ({ text: n, kind: 'label' }));
    }
    const values = await this.fetchCached(`values:${ctx.label}:${ctx.metric || ''}`,
      async () => (await prom(`/api/v1/label/${encodeURIComponent(ctx.label)}/values`, match)).data);
    return values.map((v) => ({ text: v, kind: 'value' }));
  }
}
