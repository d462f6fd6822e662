// SPDX-License-Identifier: Apache-2.0
// page_targets.js: the Targets page: scrape targets from /api/v1/targets, grouped by
// scrape pool, with health, last scrape, its duration, the last error and the labels.

import { h, clear, uid, formatSeconds, timeEl, labelList, badge, table } from './util.js';
import { prom, errorBox } from './api.js';

export const title = 'Targets';

function targetRow(t) {
  const kind = t.health === 'up' ? 'ok' : t.health === 'down' ? 'err' : 'neutral';
  return h('tr', { class: t.health === 'down' ? 'row-err' : null },
    h('td', {}, h('a', { href: t.scrapeUrl, rel: 'noopener noreferrer', target: '_blank' }, t.scrapeUrl)),
    h('td', {}, badge(t.health || 'unknown', kind)),
    h('td', {}, labelList(t.labels)),
    h('td', {}, timeEl(t.lastScrape)),
    h('td', { class: 'num' }, t.lastScrape && !/^0001-/.test(t.lastScrape) ? formatSeconds(t.lastScrapeDuration) : '—'),
    h('td', { class: 'err-text' }, t.lastError || ''));
}

export function mount(root) {
  let alive = true;
  let targets = [];
  const box = h('div', { 'aria-live': 'polite' });
  const onlyBad = h('input', { type: 'checkbox', id: uid('unhealthy') });
  onlyBad.addEventListener('change', () => draw());
  root.append(h('h1', {}, 'Targets'),
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', onclick: () => load() }, 'Refresh'),
      h('label', { class: 'check', for: onlyBad.id }, onlyBad, 'Only unhealthy')),
    box);

  function draw() {
    if (targets.length === 0) {
      clear(box, h('p', { class: 'muted' }, 'No scrape targets are configured.'));
      return;
    }
    const pools = new Map();
    for (const t of targets) {
      if (onlyBad.checked && t.health === 'up') continue;
      const k = t.scrapePool || '(no pool)';
      if (!pools.has(k)) pools.set(k, []);
      pools.get(k).push(t);
    }
    const sections = [...pools.keys()].sort().map((pool) => {
      const ts = pools.get(pool);
      const all = targets.filter((t) => (t.scrapePool || '(no pool)') === pool);
      const up = all.filter((t) => t.health === 'up').length;
      return h('section', { class: 'group' },
        h('h2', {}, pool, ' ', badge(`${up}/${all.length} up`, up === all.length ? 'ok' : 'err')),
        table(['Endpoint', 'State', 'Labels', 'Last scrape', 'Duration', 'Error'], ts.map(targetRow), { class: 'data' }));
    });
    clear(box, sections.length ? sections : h('p', { class: 'muted' }, 'Every target is healthy.'));
  }

  async function load() {
    clear(box, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await prom('/api/v1/targets', {});
      if (!alive) return;
      targets = r.data.activeTargets || [];
      draw();
    } catch (e) {
      if (alive) clear(box, errorBox(e, 'Could not load targets.'));
    }
  }
  load();
  return () => {
    alive = false;
  };
}
