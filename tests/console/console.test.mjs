// SPDX-License-Identifier: Apache-2.0
// console.test.mjs: end-to-end tests of the browser console against the real strata binary.
//
// Starts `strata serve` on 127.0.0.1 port 0 (the port is read from the banner, as
// tests/integration/lib.sh does), writes a few series over /write, and starts a second
// server that scrapes itself and a dead target every second (its port is picked free
// beforehand, since its config must name it: the Targets page then has an "up" and a
// "down" target, and the Status page its PromQL ingest-rate graph). Then it drives Debian's
// headless Chromium with playwright-core: every page loads; a query typed with the
// keyboard (autocomplete included) draws the expected number of series; stacking and the
// table view work; a bad query shows the server's error; a silence is created and expired
// (skipped, saying so, when /api/v2/silences answers 404); endpoints that are missing show
// their 404 in words; no page overflows at 1280x800 or 375x667; no request leaves the
// origin; no JavaScript error is thrown. Screenshots go to $STRATA_SCREENS_DIR.
//
// Env: STRATA_BIN (required), STRATA_SCREENS_DIR, STRATA_CHROMIUM (default /usr/bin/chromium).
// Output is TAP-like ("ok - ...", "not ok - ..."); the exit status is 1 if anything failed.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.STRATA_BIN;
const CHROMIUM = process.env.STRATA_CHROMIUM || '/usr/bin/chromium';
const SCREENS = process.env.STRATA_SCREENS_DIR || join(process.env.STRATA_BUILD_DIR || tmpdir(), 'console-screens');
if (!BIN) {
  console.error('not ok - STRATA_BIN must point at the strata binary');
  process.exit(1);
}

let passed = 0;
let failed = 0;
let skipped = 0;
function ok(desc) {
  passed++;
  console.log(`ok - ${desc}`);
}
function notOk(desc, why) {
  failed++;
  console.log(`not ok - ${desc}${why ? `\n  # ${String(why).split('\n').join('\n  # ')}` : ''}`);
}
function skip(desc, why) {
  skipped++;
  console.log(`ok - ${desc} # SKIP ${why}`);
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function step(desc, fn) {
  try {
    await fn();
    ok(desc);
  } catch (e) {
    notOk(desc, e && e.stack ? e.stack.split('\n').slice(0, 4).join('\n') : e);
  }
}

// --- the server ----------------------------------------------------------------------

function startStrata(dataDir, { listen = '127.0.0.1:0', config } = {}) {
  return new Promise((resolve, reject) => {
    const args = ['serve', '--listen', listen, '--data-dir', dataDir];
    if (config) args.push('--config', config);
    const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`strata did not print its banner in 15 s:\n${out}`)), 15000);
    const onData = (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: `http://127.0.0.1:${m[1]}`, log: () => out });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`strata exited with ${code} during start:\n${out}`));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A server that scrapes itself and a closed port every second. The config must name its
// own port, so the port is chosen before the start (retried if someone takes it meanwhile).
async function startSelfScraping(work) {
  let lastErr = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(work, `self-${attempt}.yml`);
    writeFileSync(config, `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: strata
    static_configs:
      - targets: ['127.0.0.1:${port}']
  - job_name: unreachable
    static_configs:
      - targets: ['127.0.0.1:1']
`);
    try {
      return await startStrata(join(work, `self-data-${attempt}`), { listen: `127.0.0.1:${port}`, config });
    } catch (e) {
      lastErr = e;
    }
  }
  throw lastErr;
}

// Wait until the self-scraping server has 2+ points of its own ingest rate (as the Status
// page asks for them), so that page takes its PromQL path.
async function waitForSelfRate(url) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const end = Math.floor(Date.now() / 1000 / 10) * 10;
    const body = new URLSearchParams({ query: 'sum(irate(strata_tsdb_samples_appended_total[5m]))', start: String(end - 1800), end: String(end), step: '10' });
    const r = await (await fetch(`${url}/api/v1/query_range`, { method: 'POST', body })).json();
    if (r.status === 'success' && r.data.result.length && r.data.result[0].values.length >= 2) return;
    if (Date.now() > deadline) throw new Error(`no self-scraped rate after 60 s: ${JSON.stringify(r).slice(0, 300)}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

async function stopStrata(srv) {
  srv.proc.removeAllListeners('exit');
  if (srv.proc.exitCode === null) {
    await new Promise((r) => {
      const t = setTimeout(() => {
        srv.proc.kill('SIGKILL');
        r();
      }, 5000);
      srv.proc.on('exit', () => {
        clearTimeout(t);
        r();
      });
      srv.proc.kill('SIGTERM');
    });
  }
  if (failed) console.log(`# strata log:\n# ${srv.log().split('\n').slice(-20).join('\n# ')}`);
}

async function writeData(url) {
  const now = Math.floor(Date.now() / 1000);
  const lines = [];
  for (let t = now - 900; t <= now; t += 15) {
    for (const [host, region, base] of [['a', 'eu', 10], ['b', 'us', 20], ['c', 'us', 30]]) {
      const k = (t - now + 900) / 15;
      lines.push(`cpu,host=${host},region=${region} usage_user=${base + (k % 7)},usage_system=${base / 10 + (k % 3)} ${t}`);
    }
    lines.push(`mem,host=a value=${1000 + (t % 100)} ${t}`);
  }
  const r = await fetch(`${url}/write?precision=s`, { method: 'POST', body: lines.join('\n') });
  assert(r.status === 204, `POST /write answered ${r.status}: ${await r.text()}`);
}

// --- helpers for pages -----------------------------------------------------------------

async function shot(page, name) {
  const path = join(SCREENS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// Wait until the page's main area shows a result or an error (loading finished).
async function settled(page, selector) {
  await page.waitForFunction((sel) => {
    const main = document.getElementById('main');
    if (!main || main.textContent.includes('Loading…') || main.textContent.includes('Running…')) return false;
    return !sel || document.querySelector(sel);
  }, selector, { timeout: 15000 });
}

async function apiStatus(url, path, init) {
  const r = await fetch(url + path, init);
  return r.status;
}

// --- the tests ---------------------------------------------------------------------------

async function testHttp(url) {
  await step('GET / serves index.html with ETag, Cache-Control and a CSP', async () => {
    const r = await fetch(`${url}/`);
    assert(r.status === 200, `status ${r.status}`);
    assert((r.headers.get('content-type') || '').startsWith('text/html'), `content-type ${r.headers.get('content-type')}`);
    assert(r.headers.get('etag'), 'no ETag');
    assert(r.headers.get('cache-control') === 'no-cache', `cache-control ${r.headers.get('cache-control')}`);
    assert((r.headers.get('content-security-policy') || '').includes("script-src 'self'"), 'no CSP');
    const body = await r.text();
    assert(body.includes('/console/app.js'), 'index.html does not load app.js');
    const r2 = await fetch(`${url}/`, { headers: { 'If-None-Match': r.headers.get('etag') } });
    assert(r2.status === 304, `If-None-Match answered ${r2.status}, want 304`);
  });
  await step('assets have their content types; uPlot is sent gzipped', async () => {
    for (const [path, type] of [['/console/app.js', 'text/javascript'], ['/console/style.css', 'text/css'], ['/console/vendor/uPlot.min.css', 'text/css'], ['/console/favicon.svg', 'image/svg+xml']]) {
      const r = await fetch(url + path);
      assert(r.status === 200, `${path}: ${r.status}`);
      assert((r.headers.get('content-type') || '').startsWith(type), `${path}: ${r.headers.get('content-type')}`);
    }
    const r = await fetch(`${url}/console/vendor/uPlot.iife.min.js`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert(r.headers.get('content-encoding') === 'gzip', `content-encoding ${r.headers.get('content-encoding')}`);
    assert((await r.text()).includes('uPlot'), 'uPlot body');
  });
  await step('page URLs serve the console; unknown assets are 404', async () => {
    for (const p of ['/query', '/alerts', '/rules', '/targets', '/status']) {
      const r = await fetch(url + p);
      assert(r.status === 200 && (await r.text()).includes('/console/app.js'), `${p}: ${r.status}`);
    }
    assert((await apiStatus(url, '/console/nope.js')) === 404, '/console/nope.js is not 404');
  });
}

async function testQuery(page, url) {
  await step('query page: metric autocomplete, Enter runs, graph has 3 series', async () => {
    await page.goto(`${url}/query`);
    const editor = page.getByLabel('PromQL expression');
    await editor.focus();
    await page.keyboard.type('cpu_usage_u');
    const opt = page.locator('.suggestions [role=option]', { hasText: 'cpu_usage_user' });
    await opt.first().waitFor({ timeout: 5000 });
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter'); // accepts the suggestion
    assert((await editor.inputValue()) === 'cpu_usage_user', `editor holds "${await editor.inputValue()}"`);
    await page.keyboard.press('Enter'); // runs the query
    await page.waitForSelector('.chart .u-legend .u-series', { timeout: 10000 });
    const rows = await page.locator('.chart .u-legend .u-series').count();
    assert(rows === 4, `legend has ${rows} rows, want 4 (time + 3 series)`);
    assert((await page.locator('.chart').first().getAttribute('data-series-count')) === '3', 'data-series-count');
    const meta = await page.locator('.meta').first().textContent();
    assert(/tier \w+/.test(meta), `no tier shown in "${meta}"`);
    assert(/3 series/.test(meta), `meta says "${meta}"`);
    assert(page.url().includes('expr=cpu_usage_user'), `URL ${page.url()} does not hold the query`);
  });
  await step('hovering the graph shows values in the legend', async () => {
    const over = page.locator('.chart .u-over');
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    const values = await page.locator('.chart .u-legend .u-series .u-value').allTextContents();
    assert(values.slice(1).some((v) => /\d/.test(v)), `legend values: ${values.join(' | ')}`);
    await shot(page, 'query-graph-1280x800');
  });
  await step('stacked toggle redraws with the same series and is kept in the URL', async () => {
    await page.getByLabel('Stacked').check();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('stacked') === '1');
    assert((await page.locator('.chart .u-legend .u-series').count()) === 4, 'series count after stacking');
    await shot(page, 'query-stacked-1280x800');
    await page.getByLabel('Stacked').uncheck();
  });
  await step('label name and label value autocomplete', async () => {
    const editor = page.getByLabel('PromQL expression');
    await editor.fill('');
    await editor.focus();
    await page.keyboard.type('cpu_usage_user{ho');
    await page.locator('.suggestions [role=option]', { hasText: 'host' }).first().waitFor({ timeout: 5000 });
    await page.keyboard.type('st="');
    await page.locator('.suggestions [role=option]', { hasText: 'b' }).first().waitFor({ timeout: 5000 });
    const vals = await page.locator('.suggestions .sugg-text').allTextContents();
    assert(['a', 'b', 'c'].every((v) => vals.includes(v)), `value suggestions: ${vals}`);
    await page.keyboard.press('Escape');
  });
  await step('table tab shows an instant query as rows', async () => {
    await page.getByLabel('PromQL expression').fill('cpu_usage_user');
    await page.getByRole('tab', { name: 'Table' }).click();
    await page.waitForSelector('.result-table tbody tr', { timeout: 10000 });
    const n = await page.locator('.result-table tbody tr').count();
    assert(n === 3, `table has ${n} rows`);
    assert(page.url().includes('tab=table'), 'tab not in URL');
    await shot(page, 'query-table-1280x800');
  });
  await step('a bad query shows the server error in words', async () => {
    await page.getByRole('tab', { name: 'Graph' }).click();
    const editor = page.getByLabel('PromQL expression');
    await editor.fill('sum(');
    await editor.press('Escape');
    await editor.press('Enter');
    const err = page.locator('[role=tabpanel]:not([hidden]) .error');
    await err.waitFor({ timeout: 10000 });
    const text = await err.textContent();
    assert(/400/.test(text) && /bad_data/.test(text) && /parse error/.test(text), `error box says "${text}"`);
    await shot(page, 'query-error-1280x800');
  });
  await step('a shared URL restores the query and its result', async () => {
    await page.goto(`${url}/query?expr=${encodeURIComponent('cpu_usage_user{host="a"}')}&range=15m&tab=graph`);
    await page.waitForSelector('.chart[data-series-count]', { timeout: 10000 });
    assert((await page.locator('.chart').first().getAttribute('data-series-count')) === '1', 'want 1 series');
    assert((await page.getByLabel('Range').inputValue()) === '15m', 'range not restored');
  });
}

async function testAlerts(page, url) {
  const alerts404 = (await apiStatus(url, '/api/v1/alerts')) === 404;
  await step(`alerts page shows alerts${alerts404 ? ' (or, here, the 404 in words)' : ''}`, async () => {
    await page.goto(`${url}/alerts`);
    await settled(page, 'section');
    const text = await page.locator('section').first().textContent();
    if (alerts404) assert(/404 Not Found/.test(text) && /does not provide/.test(text), `alerts section: "${text}"`);
    else assert(/firing|No alerts/.test(text), `alerts section: "${text}"`);
  });
  const silStatus = await apiStatus(url, '/api/v2/silences');
  if (silStatus === 404) {
    skip('create and expire a silence', 'GET /api/v2/silences answered 404 at test time (no silences API in this build)');
    await step('silences section says the silences API is missing', async () => {
      const text = await page.locator('section').nth(1).textContent();
      assert(/GET \/api\/v2\/silences answered 404 Not Found/.test(text), `silences section: "${text}"`);
    });
    await step('creating a silence without the API shows the error', async () => {
      await page.locator('.m-name').first().fill('alertname');
      await page.locator('.m-value').first().fill('ConsoleTest');
      await page.getByLabel('Created by').fill('console-test');
      await page.getByLabel('Comment').fill('created by console.test.mjs');
      await page.getByRole('button', { name: 'Create silence' }).click();
      const err = page.locator('.silence-form .error');
      await err.waitFor({ timeout: 5000 });
      assert(/POST \/api\/v2\/silences answered 404/.test(await err.textContent()), await err.textContent());
    });
    await shot(page, 'alerts-1280x800');
    return;
  }
  await step('create a silence with the form', async () => {
    await page.locator('.m-name').first().fill('alertname');
    await page.locator('.m-value').first().fill('ConsoleTest');
    await page.getByLabel('Duration').fill('1h');
    await page.getByLabel('Created by').fill('console-test');
    await page.getByLabel('Comment').fill('created by console.test.mjs');
    await page.getByRole('button', { name: 'Create silence' }).click();
    await page.locator('.silence-form .ok-msg').waitFor({ timeout: 5000 });
    await page.locator('.card.silence', { hasText: 'ConsoleTest' }).first().waitFor({ timeout: 5000 });
    await shot(page, 'alerts-silence-1280x800');
  });
  await step('expire the silence', async () => {
    const card = page.locator('.card.silence', { hasText: 'ConsoleTest' }).first();
    const id = await card.getAttribute('data-silence-id');
    await card.getByRole('button', { name: 'Expire' }).click();
    await page.waitForFunction((sid) => !document.querySelector(`.card.silence[data-silence-id="${sid}"] .badge-ok`), id, { timeout: 5000 });
    const r = await fetch(`${url}/api/v2/silences`);
    const list = await r.json();
    const s = list.find((x) => x.id === id);
    assert(s && s.status.state === 'expired', `silence ${id} is ${s ? s.status.state : 'gone'}`);
  });
}

async function testSimplePage(page, url, path, api, okPattern) {
  const missing = (await apiStatus(url, api)) === 404;
  await step(`${path} page loads${missing ? ` and says ${api} answered 404` : ''}`, async () => {
    await page.goto(url + path);
    await settled(page, '#main h1');
    const text = await page.locator('#main').textContent();
    if (missing) assert(/404 Not Found/.test(text) && text.includes(api), `page says "${text.slice(0, 300)}"`);
    else assert(okPattern.test(text), `page says "${text.slice(0, 300)}"`);
  });
}

async function testTargets(page, url) {
  await step('targets page: the self-scrape is up, the closed port is down with its error', async () => {
    await page.goto(`${url}/targets`);
    await page.waitForFunction(() => document.querySelectorAll('#main tbody tr').length >= 2 &&
      [...document.querySelectorAll('#main tbody tr')].every((tr) => !/never/.test(tr.textContent)), null, { timeout: 20000 });
    const up = page.locator('#main tbody tr', { hasText: `${url}/metrics` });
    assert((await up.locator('.badge').textContent()) === 'up', `self target row: ${await up.textContent()}`);
    const down = page.locator('#main tbody tr', { hasText: '127.0.0.1:1/metrics' });
    const dt = await down.textContent();
    assert((await down.locator('.badge').textContent()) === 'down' && (await down.locator('.err-text').textContent()).trim() !== '', `dead target row: ${dt}`);
    await page.getByLabel('Only unhealthy').check();
    assert((await page.locator('#main tbody tr').count()) === 1, 'filter keeps only the down target');
    await page.getByLabel('Only unhealthy').uncheck();
    await shot(page, 'targets-up-down-1280x800');
  });
}

async function testStatusPromql(page, url) {
  await step('status page of a self-scraping server graphs the rate from PromQL', async () => {
    await waitForSelfRate(url);
    await page.goto(`${url}/status`);
    await page.waitForSelector('section .chart .uplot', { timeout: 15000 });
    const caption = await page.locator('section').first().textContent();
    assert(/From PromQL/.test(caption), `caption: ${caption.slice(0, 200)}`);
    await shot(page, 'status-promql-1280x800');
  });
}

async function testStatus(page, url) {
  await step('status page: build info, head series, ingest-rate graph', async () => {
    await page.goto(`${url}/status`);
    await page.waitForSelector('.tiles', { timeout: 10000 });
    await page.waitForSelector('table.kv', { timeout: 10000 });
    const kv = await page.locator('table.kv').textContent();
    assert(/Version\s*\d+\.\d+/.test(kv), `build info: ${kv.slice(0, 200)}`);
    const series = await page.locator('.tile', { hasText: 'Active series' }).locator('.tile-value').textContent();
    assert(Number(series) >= 7, `active series tile: "${series}"`);
    await page.waitForSelector('section .chart .uplot', { timeout: 15000 });
    const caption = await page.locator('section').first().textContent();
    assert(/polling \/metrics/.test(caption), `caption: ${caption.slice(0, 200)}`);
    await shot(page, 'status-polling-1280x800');
  });
}

async function testLayout(page, url, selfUrl) {
  const pages = [['query', url, `/query?expr=${encodeURIComponent('rate(cpu_usage_user[1m])')}&range=15m`], ['alerts', url, '/alerts'],
    ['rules', url, '/rules'], ['targets', selfUrl, '/targets'], ['status', selfUrl, '/status']];
  for (const [w, hgt] of [[1280, 800], [375, 667]]) {
    await page.setViewportSize({ width: w, height: hgt });
    for (const [name, base, path] of pages) {
      await step(`${name} at ${w}x${hgt}: no horizontal overflow`, async () => {
        await page.goto(base + path);
        await settled(page, '#main h1');
        if (name === 'query' || name === 'status') await page.waitForSelector('.chart .uplot', { timeout: 15000 });
        if (name === 'targets') await page.waitForSelector('#main tbody tr', { timeout: 15000 });
        await page.waitForTimeout(300);
        const { sw, iw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
        await shot(page, `${name}-${w}x${hgt}`);
        assert(sw <= iw, `page is ${sw}px wide in a ${iw}px window`);
      });
    }
  }
}

async function testKeyboard(page, url) {
  await step('keyboard: skip link first, nav links reachable, focus visible', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${url}/rules`);
    await settled(page, '#main h1');
    await page.keyboard.press('Tab');
    assert((await page.evaluate(() => document.activeElement.textContent)) === 'Skip to content', 'first Tab stop');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const label = await page.evaluate(() => document.activeElement.textContent);
    assert(label === 'Query', `third Tab stop is "${label}"`);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert(outline !== 'none', 'no focus outline');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/query$/);
  });
}

async function main() {
  mkdirSync(SCREENS, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'strata-console-'));
  let server = null;
  let selfSrv = null;
  let browser = null;
  let status = 1;
  try {
    server = await startStrata(join(work, 'data'));
    selfSrv = await startSelfScraping(work);
    console.log(`# strata at ${server.url}, self-scraping strata at ${selfSrv.url}; screenshots in ${SCREENS}`);
    await step('write test data over /write', () => writeData(server.url));
    await testHttp(server.url);

    browser = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = browser.pages()[0] || await browser.newPage();
    page.setDefaultTimeout(15000);
    const jsErrors = [];
    const foreign = [];
    page.on('pageerror', (e) => jsErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // The browser logs every 4xx answer; the bad query (400) and endpoints this build lacks
      // (404) are expected, and the tests above check that the page shows them in words.
      if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[04]/.test(m.text())) jsErrors.push(`console: ${m.text()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith(selfSrv.url) && !r.url().startsWith('data:')) foreign.push(r.url());
    });

    await testQuery(page, server.url);
    await testAlerts(page, server.url);
    await testSimplePage(page, server.url, '/rules', '/api/v1/rules', /No rule groups|every/);
    await testSimplePage(page, server.url, '/targets', '/api/v1/targets', /No scrape targets|up/);
    await testStatus(page, server.url);
    await testTargets(page, selfSrv.url);
    await testStatusPromql(page, selfSrv.url);
    await testKeyboard(page, server.url);
    await testLayout(page, server.url, selfSrv.url);

    await step('no request left the origin (everything is embedded)', async () => {
      assert(foreign.length === 0, `requests to: ${foreign.slice(0, 5).join(', ')}`);
    });
    await step('no JavaScript errors', async () => {
      assert(jsErrors.length === 0, jsErrors.slice(0, 10).join('\n'));
    });
    status = failed === 0 ? 0 : 1;
  } catch (e) {
    notOk('test run', e && e.stack ? e.stack : e);
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const srv of [server, selfSrv]) if (srv) await stopStrata(srv);
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped; screenshots in ${SCREENS}`);
  process.exit(failed ? 1 : status);
}

main();
