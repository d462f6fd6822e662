// SPDX-License-Identifier: Apache-2.0
// page_rules.js: the Rules page: rule groups from /api/v1/rules (Prometheus' shape), with
// each group's interval, last evaluation and evaluation time, and per rule its query,
// health, last error, last evaluation and evaluation time.

import { h, clear, formatSeconds, formatDuration, timeEl, labelList, badge, table } from './util.js';
import { prom, errorBox } from './api.js';

export const title = 'Rules';

function health(r) {
  const kind = r.health === 'ok' ? 'ok' : r.health === 'err' ? 'err' : 'neutral';
  return badge(r.health || 'unknown', kind);
}

function ruleRow(r) {
  return h('tr', { class: r.health === 'err' ? 'row-err' : null },
    h('td', {},
      h('div', {}, h('strong', {}, r.name), ' ', h('span', { class: 'muted' }, r.type === 'alerting' ? 'alert' : 'record')),
      h('pre', { class: 'expr' }, r.query),
      r.type === 'alerting' && r.duration ? h('div', { class: 'muted' }, `for ${formatDuration(r.duration)}`) : null,
      r.labels && Object.keys(r.labels).length ? labelList(r.labels) : null,
      r.type === 'alerting' && Array.isArray(r.alerts) && r.alerts.length ? h('div', {}, `${r.alerts.length} active alert${r.alerts.length > 1 ? 's' : ''}`) : null),
    h('td', {}, health(r)),
    h('td', {}, timeEl(r.lastEvaluation)),
    h('td', { class: 'num' }, formatSeconds(r.evaluationTime)),
    h('td', { class: 'err-text' }, r.lastError || ''));
}

function groupSection(g) {
  const rules = g.rules || [];
  const bad = rules.filter((r) => r.health === 'err').length;
  return h('section', { class: 'group' },
    h('h2', {}, g.name, ' ', bad ? badge(`${bad} failing`, 'err') : badge('ok', 'ok')),
    h('p', { class: 'muted' },
      g.file ? `${g.file} · ` : '',
      `every ${formatDuration(g.interval)} · last evaluated `, timeEl(g.lastEvaluation),
      ` · took ${formatSeconds(g.evaluationTime)}`),
    rules.length === 0 ? h('p', { class: 'muted' }, 'No rules in this group.')
      : table(['Rule', 'Health', 'Last evaluation', 'Evaluation time', 'Last error'], rules.map(ruleRow), { class: 'data' }));
}

export function mount(root) {
  let alive = true;
  const box = h('div', { 'aria-live': 'polite' });
  root.append(h('h1', {}, 'Rules'),
    h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: () => load() }, 'Refresh')),
    box);

  async function load() {
    clear(box, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await prom('/api/v1/rules', {});
      if (!alive) return;
      const groups = r.data.groups || [];
      if (groups.length === 0) {
        clear(box, h('p', { class: 'muted' }, 'No rule groups are loaded.'));
        return;
      }
      clear(box, groups.map(groupSection));
    } catch (e) {
      if (alive) clear(box, errorBox(e, 'Could not load rules.'));
    }
  }
  load();
  return () => {
    alive = false;
  };
}
