// SPDX-License-Identifier: Apache-2.0
// api.js: every HTTP call the console makes, and turning failures into plain words.
//
// The console talks to the same origin that served it. Answers come in three shapes:
// Prometheus' envelope ({"status":"success","data":...} or {"status":"error","errorType",
// "error"}), Alertmanager v2's bare JSON (errors as a JSON string or {"code","message"}),
// and plain text (/metrics, /-/ready). A failed call always throws an ApiError whose
// message says, in words, which request failed, the HTTP status, the errorType and the
// server's own message; pages show it with errorBox(). Nothing is swallowed.

import { h } from './util.js';

export class ApiError extends Error {
  // status: HTTP status (0 when the server could not be reached); errorType: Prometheus'
  // errorType or a short word of ours; detail: the server's message; what: "GET /api/v1/x".
  constructor(what, status, statusText, errorType, detail) {
    super(describe(what, status, statusText, errorType, detail));
    this.name = 'ApiError';
    this.what = what;
    this.status = status;
    this.statusText = statusText;
    this.errorType = errorType;
    this.detail = detail;
  }

  // The endpoint itself is missing (as opposed to "silence abc not found").
  get isMissingEndpoint() {
    return this.status === 404 && (!this.detail || /^path \S+ not found$/.test(this.detail));
  }
}

const STATUS_TEXT = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large',
  422: 'Unprocessable Entity', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

function describe(what, status, statusText, errorType, detail) {
  if (status === 0) return `${what} failed: could not reach the Strata server (${detail}).`;
  const st = `${status} ${statusText || STATUS_TEXT[status] || ''}`.trim();
  if (status === 404 && (!detail || /^path \S+ not found$/.test(detail))) {
    return `${what} answered ${st}: this Strata server does not provide that endpoint ` +
      '(the feature may not be in this version).' + (detail ? ` Server said: ${detail}.` : '');
  }
  const type = errorType ? ` (${errorType})` : '';
  return `${what} answered ${st}${type}: ${detail || 'no error message was given'}`;
}

// Pull the error text out of a non-2xx or error-envelope body.
function errorFromBody(body, text) {
  if (body && typeof body === 'object') {
    if (body.status === 'error') return [body.errorType || '', body.error || ''];
    if (typeof body.message === 'string') return [body.code ? String(body.code) : '', body.message];
    if (typeof body.error === 'string') return [body.errorType || '', body.error];
  }
  if (typeof body === 'string') return ['', body];
  const t = (text || '').trim();
  return ['', t.length > 300 ? `${t.slice(0, 300)}…` : t];
}

// request(method, path, {params, form, json, signal}) -> {body, text, headers, status}.
// params: object or [key, value] pairs, put in the query string. form: same shape, sent as
// application/x-www-form-urlencoded. json: a value sent as application/json.
export async function request(method, path, opts = {}) {
  const qs = opts.params ? new URLSearchParams(opts.params).toString() : '';
  const url = qs ? `${path}?${qs}` : path;
  const what = `${method} ${path}`;
  const init = { method, headers: { Accept: 'application/json' }, signal: opts.signal };
  if (opts.form) {
    init.body = new URLSearchParams(opts.form);
  } else if (opts.json !== undefined) {
    init.body = JSON.stringify(opts.json);
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(what, 0, '', 'network', e.message || String(e));
  }
  const text = await res.text();
  let body = null;
  if ((res.headers.get('Content-Type') || '').includes('json') || /^\s*[[{"]/.test(text)) {
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok || (body && body.status === 'error')) {
    const [type, detail] = errorFromBody(body, text);
    throw new ApiError(what, res.status, res.statusText, type, detail);
  }
  return { body, text, headers: res.headers, status: res.status };
}

// A Prometheus API call: returns {data, warnings, headers}. Long parameters (PromQL) go in
// a POST form body so no URL length limit applies; Strata and Prometheus accept both.
export async function prom(path, params, { post = false, signal } = {}) {
  const r = post ? await request('POST', path, { form: params, signal })
    : await request('GET', path, { params, signal });
  if (!r.body || r.body.status !== 'success') {
    throw new ApiError(`${post ? 'POST' : 'GET'} ${path}`, r.status, '', 'bad_response',
      'the answer is not a Prometheus API response');
  }
  return { data: r.body.data, warnings: r.body.warnings || [], headers: r.headers };
}

// A plain-text endpoint (/metrics): returns the text.
export async function text(path, signal) {
  const r = await request('GET', path, { signal });
  return r.text;
}

// An error shown to the user: a role="alert" box with the message in plain words.
export function errorBox(err, title = 'Request failed') {
  const msg = err instanceof Error ? err.message : String(err);
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, title), ' ', h('span', { class: 'error-msg' }, msg));
}
