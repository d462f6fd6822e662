// SPDX-License-Identifier: Apache-2.0
// page_alerts.js: the Alerts page: active alerts, silences, and a form to create one.
//
// Alerts come from Prometheus' /api/v1/alerts (firing and pending, with labels,
// annotations and the time they became active). Silences use the Alertmanager v2 API:
// GET /api/v2/silences to list, POST /api/v2/silences with Alertmanager's JSON
// ({matchers: [{name, value, isRegex, isEqual}], startsAt, endsAt, createdBy, comment})
// to create, DELETE /api/v2/silence/<id> to expire. Each section loads on its own, so a
// server without the silences API still shows its alerts, and says so about silences.

import { h, clear, uid, parseDuration, formatDuration, formatTime, timeEl, labelList, badge } from './util.js';
import { prom, request, errorBox } from './api.js';

export const title = 'Alerts';

const OPS = [['=', false, true], ['!=', false, false], ['=~', true, true], ['!~', true, false]];

function opText(m) {
  return (OPS.find(([, re, eq]) => re === !!m.isRegex && eq === (m.isEqual !== false)) || OPS[0])[0];
}

export function mount(root) {
  let alive = true;
  const alertsBox = h('div', { 'aria-live': 'polite' });
  const silencesBox = h('div', { 'aria-live': 'polite' });
  const showExpired = h('input', { type: 'checkbox', id: uid('expired') });
  const form = silenceForm(() => loadSilences());
  let silences = [];

  root.append(
    h('h1', {}, 'Alerts'),
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', onclick: () => refresh() }, 'Refresh')),
    h('section', { 'aria-labelledby': 'alerts-h' }, h('h2', { id: 'alerts-h' }, 'Active alerts'), alertsBox),
    h('section', { 'aria-labelledby': 'silences-h' },
      h('h2', { id: 'silences-h' }, 'Silences'),
      h('label', { class: 'check', for: showExpired.id }, showExpired, 'Show expired'),
      silencesBox),
    h('section', { 'aria-labelledby': 'new-silence-h' }, h('h2', { id: 'new-silence-h' }, 'New silence'), form.el));
  showExpired.addEventListener('change', () => drawSilences());

  async function loadAlerts() {
    clear(alertsBox, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await prom('/api/v1/alerts', {});
      if (alive) drawAlerts(r.data.alerts || []);
    } catch (e) {
      if (alive) clear(alertsBox, errorBox(e, 'Could not load alerts.'));
    }
  }

  function drawAlerts(alerts) {
    const firing = alerts.filter((a) => a.state === 'firing');
    const pending = alerts.filter((a) => a.state === 'pending');
    const other = alerts.filter((a) => a.state !== 'firing' && a.state !== 'pending');
    if (alerts.length === 0) {
      clear(alertsBox, h('p', { class: 'muted' }, 'No alerts are firing or pending.'));
      return;
    }
    clear(alertsBox,
      h('p', {}, `${firing.length} firing, ${pending.length} pending.`),
      h('ul', { class: 'cards' }, [...firing, ...pending, ...other].map((a) => alertCard(a))));
  }

  function alertCard(a) {
    const name = (a.labels && a.labels.alertname) || '(no alertname)';
    const ann = Object.entries(a.annotations || {});
    return h('li', { class: `card alert-${a.state}` },
      h('div', { class: 'card-head' },
        h('h3', {}, name), badge(a.state, a.state === 'firing' ? 'err' : 'warn'),
        h('span', { class: 'muted' }, 'active since ', timeEl(a.activeAt), a.activeAt ? ` (${formatTime(a.activeAt)})` : ''),
        a.value !== undefined ? h('span', { class: 'muted' }, `value ${a.value}`) : null),
      labelList(a.labels, ['alertname']),
      ann.length ? h('dl', { class: 'annotations' }, ann.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])) : null,
      h('button', { type: 'button', class: 'small', onclick: () => form.prefill(a.labels) }, `Silence ${name}…`));
  }

  async function loadSilences() {
    clear(silencesBox, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await request('GET', '/api/v2/silences');
      if (!Array.isArray(r.body)) throw new Error('GET /api/v2/silences did not answer with a JSON list of silences.');
      silences = r.body;
      if (alive) drawSilences();
    } catch (e) {
      if (alive) clear(silencesBox, errorBox(e, 'Could not load silences.'));
    }
  }

  function drawSilences() {
    const order = { active: 0, pending: 1, expired: 2 };
    const list = silences
      .filter((s) => showExpired.checked || (s.status && s.status.state) !== 'expired')
      .sort((a, b) => (order[a.status?.state] ?? 3) - (order[b.status?.state] ?? 3) || String(b.startsAt).localeCompare(String(a.startsAt)));
    if (list.length === 0) {
      clear(silencesBox, h('p', { class: 'muted' }, silences.length ? 'No active or pending silences (tick "Show expired" to see old ones).' : 'No silences.'));
      return;
    }
    clear(silencesBox, h('ul', { class: 'cards' }, list.map((s) => silenceCard(s))));
  }

  function silenceCard(s) {
    const state = (s.status && s.status.state) || 'unknown';
    const msg = h('div', {});
    const expire = state === 'expired' ? null : h('button', {
      type: 'button', class: 'small danger',
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          await request('DELETE', `/api/v2/silence/${encodeURIComponent(s.id)}`);
          await loadSilences();
        } catch (err) {
          e.target.disabled = false;
          clear(msg, errorBox(err, 'Could not expire the silence.'));
        }
      },
    }, 'Expire');
    return h('li', { class: 'card silence', 'data-silence-id': s.id },
      h('div', { class: 'card-head' },
        badge(state, state === 'active' ? 'ok' : state === 'pending' ? 'warn' : 'neutral'),
        h('code', { class: 'muted' }, s.id)),
      h('ul', { class: 'labels' }, (s.matchers || []).map((m) => h('li', {}, h('span', { class: 'lname' }, m.name), opText(m), h('span', { class: 'lvalue' }, `"${m.value}"`)))),
      h('p', {}, `${formatTime(s.startsAt)} → ${formatTime(s.endsAt)} · by ${s.createdBy || '?'}`),
      s.comment ? h('p', { class: 'comment' }, s.comment) : null,
      expire, msg);
  }

  function refresh() {
    loadAlerts();
    loadSilences();
  }
  refresh();
  return () => {
    alive = false;
  };
}

// The create-silence form. onCreated() runs after a successful POST.
function silenceForm(onCreated) {
  const rows = h('div', { class: 'matchers' });
  const durIn = h('input', { type: 'text', id: uid('dur'), value: '2h', size: '8' });
  const endsText = h('span', { class: 'muted' });
  const creatorIn = h('input', { type: 'text', id: uid('creator'), autocomplete: 'username', value: localStorage.getItem('strata.silence.creator') || '' });
  const commentIn = h('textarea', { id: uid('comment'), rows: '2' });
  const result = h('div', { role: 'status' });

  function addRow(name = '', op = '=', value = '') {
    const nameIn = h('input', { type: 'text', value: name, 'aria-label': 'Label name', placeholder: 'label', class: 'm-name' });
    const opSel = h('select', { 'aria-label': 'Operator', class: 'm-op' }, OPS.map(([o]) => h('option', { value: o, selected: o === op }, o)));
    const valueIn = h('input', { type: 'text', value, 'aria-label': 'Value', placeholder: 'value', class: 'm-value' });
    const row = h('div', { class: 'matcher-row' }, nameIn, opSel, valueIn,
      h('button', { type: 'button', class: 'small', 'aria-label': 'Remove this matcher', onclick: () => row.remove() }, 'Remove'));
    rows.append(row);
    return row;
  }

  function showEnds() {
    const d = parseDuration(durIn.value);
    endsText.textContent = d && d > 0 ? `ends ${formatTime(Date.now() + d * 1000)}` : 'not a duration (e.g. 2h, 30m, 1d)';
  }
  durIn.addEventListener('input', showEnds);
  showEnds();
  addRow();

  const el = h('form', {
    class: 'silence-form', onsubmit: async (e) => {
      e.preventDefault();
      clear(result);
      const matchers = [...rows.querySelectorAll('.matcher-row')].map((r) => {
        const op = r.querySelector('.m-op').value;
        const [, isRegex, isEqual] = OPS.find(([o]) => o === op);
        return { name: r.querySelector('.m-name').value.trim(), value: r.querySelector('.m-value').value, isRegex, isEqual };
      }).filter((m) => m.name !== '');
      const dur = parseDuration(durIn.value);
      const problems = [];
      if (matchers.length === 0) problems.push('add at least one matcher with a label name');
      if (!dur || dur <= 0) problems.push(`duration "${durIn.value}" is not a duration such as 2h or 30m`);
      if (!creatorIn.value.trim()) problems.push('say who creates the silence');
      if (!commentIn.value.trim()) problems.push('add a comment saying why');
      if (problems.length) {
        result.append(h('div', { class: 'form-error', role: 'alert' }, `Cannot create the silence: ${problems.join('; ')}.`));
        return;
      }
      const now = Date.now();
      const body = {
        matchers,
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + dur * 1000).toISOString(),
        createdBy: creatorIn.value.trim(),
        comment: commentIn.value.trim(),
      };
      localStorage.setItem('strata.silence.creator', body.createdBy);
      const btn = el.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const r = await request('POST', '/api/v2/silences', { json: body });
        const id = r.body && r.body.silenceID;
        result.append(h('p', { class: 'ok-msg' }, `Silence ${id || ''} created, for ${formatDuration(dur)}.`));
        commentIn.value = '';
        onCreated();
      } catch (err) {
        result.append(errorBox(err, 'Could not create the silence.'));
      } finally {
        btn.disabled = false;
      }
    },
  },
  h('fieldset', {}, h('legend', {}, 'Matchers (alerts with all of these labels are silenced)'), rows,
    h('button', { type: 'button', class: 'small', onclick: () => addRow().querySelector('input').focus() }, 'Add matcher')),
  h('div', { class: 'controls' },
    h('label', { for: durIn.id }, 'Duration', durIn), endsText,
    h('label', { for: creatorIn.id }, 'Created by', creatorIn)),
  h('label', { for: commentIn.id, class: 'block' }, 'Comment', commentIn),
  h('button', { type: 'submit', class: 'primary' }, 'Create silence'),
  result);

  return {
    el,
    prefill(labels) {
      rows.replaceChildren();
      for (const [k, v] of Object.entries(labels || {}).sort()) addRow(k, '=', v);
      if (!rows.children.length) addRow();
      el.scrollIntoView({ behavior: 'smooth', block: 'start' });
      rows.querySelector('input').focus({ preventScroll: true });
    },
  };
}
