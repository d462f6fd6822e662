// SPDX-License-Identifier: Apache-2.0
// app.js: the console's entry point: a small router over the HTML5 history API.
//
// Each page is a module exporting `title` and `mount(root, ctx)`, which fills root and
// returns a cleanup function (stop timers, abort requests, destroy charts). Links to
// console pages are followed without reloading; the server answers /query, /alerts,
// /rules, /targets and /status with index.html too, so every URL can be reloaded or shared.
// ctx.setParams() rewrites the query string (replaceState) so a page's state is in its URL.

import { h } from './util.js';
import * as queryPage from './page_query.js';
import * as alertsPage from './page_alerts.js';
import * as rulesPage from './page_rules.js';
import * as targetsPage from './page_targets.js';
import * as statusPage from './page_status.js';

const ROUTES = {
  '/': queryPage,
  '/query': queryPage,
  '/alerts': alertsPage,
  '/rules': rulesPage,
  '/targets': targetsPage,
  '/status': statusPage,
};

const main = document.getElementById('main');
let cleanup = null;

const ctx = {
  params: () => new URLSearchParams(location.search),
  setParams(params) {
    const qs = new URLSearchParams(params).toString();
    const url = `${location.pathname === '/' ? '/query' : location.pathname}${qs ? `?${qs}` : ''}`;
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  },
  navigate(url) {
    history.pushState(null, '', url);
    render(true);
  },
};

function markNav(path) {
  for (const a of document.querySelectorAll('.topbar nav a')) {
    const here = a.getAttribute('href') === path || (path === '/' && a.getAttribute('href') === '/query');
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function render(moveFocus) {
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error('console: page cleanup failed', e);
    }
    cleanup = null;
  }
  const path = location.pathname;
  const page = ROUTES[path];
  main.replaceChildren();
  markNav(path);
  if (!page) {
    document.title = 'Not found · Strata';
    main.append(h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, `The console has no page at ${path}. `, h('a', { href: '/query' }, 'Go to Query'), '.'));
  } else {
    document.title = `${page.title} · Strata`;
    try {
      cleanup = page.mount(main, ctx) || null;
    } catch (e) {
      main.append(h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'The page failed to load: '), String(e && e.message ? e.message : e)));
      console.error(e);
    }
  }
  if (moveFocus) {
    const h1 = main.querySelector('h1');
    if (h1) {
      h1.setAttribute('tabindex', '-1');
      h1.focus();
    }
  }
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !ROUTES[url.pathname]) return;
  e.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) return;
  ctx.navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => render(true));
render(false);
