/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_silences.c: the Alertmanager v2 API subset served by Strata's notifier.
 *
 *   GET    /api/v2/alerts          filter (repeated matchers), active, silenced, inhibited,
 *                                  receiver (regex): gettableAlerts
 *   POST   /api/v2/alerts          postableAlerts (what Prometheus' notifier sends): 200
 *   GET    /api/v2/silences        filter (repeated matchers): gettableSilences
 *   POST   /api/v2/silences        postableSilence: {"silenceID": "<id>"}
 *   GET    /api/v2/silence/<id>    gettableSilence, 404 when unknown
 *   DELETE /api/v2/silence/<id>    expire: 200, 404 when unknown
 *
 * Bodies come from alert/ (alert_notifier_*_json), so the shapes are Alertmanager 0.25's.
 * Errors are answered as Alertmanager does: the status (400 bad input, 404 not found, 500
 * otherwise) with the message as a JSON string body. Without a notifier (web_options
 * .notifier NULL) every route answers 503. Content-Type of request bodies is not checked
 * (Alertmanager wants application/json; curl's default form type is accepted too).
 */
#include "web/web_int.h"

#include <string.h>

static int am_error(web_resp *resp, int code, const char *msg)
{
	int status = code == TS_EINVAL || code == TS_EPARSE ? 400
		     : code == TS_ENOTFOUND                 ? 404
		     : code == TS_ELIMIT                    ? 422
		     : code == TS_EUNAVAIL                  ? 503
							    : 500;
	web_resp_status(resp, status);
	web_resp_content_type(resp, "application/json");
	ts_buf *b = web_resp_body(resp);
	ts_buf_reset(b);
	if (web_json_escape(b, msg, strlen(msg)) || ts_buf_putc(b, '\n'))
		return TS_ENOMEM;
	return TS_OK;
}

static alert_notifier *notifier(web_server *s, web_resp *resp)
{
	if (!s->opt.notify)
		am_error(resp, TS_EUNAVAIL, "alerting is not enabled on this server");
	return s->opt.notify;
}

static int json_ok(web_resp *resp)
{
	web_resp_content_type(resp, "application/json");
	return TS_OK;
}

/* Alertmanager's boolean query parameters: absent = dflt, "true"/"false". */
static bool bool_param(web_req *req, const char *name, bool dflt, bool *bad)
{
	const char *v = web_req_param(req, name);
	if (!v || !*v)
		return dflt;
	if (!strcmp(v, "true"))
		return true;
	if (!strcmp(v, "false"))
		return false;
	*bad = true;
	return dflt;
}

static int h_alerts_get(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	alert_notifier *n = notifier(ctx, resp);
	if (!n)
		return TS_OK;
	bool bad = false;
	alert_notifier_query q = {0};
	web_req_params(req, "filter", &q.filter, &q.n_filter);
	q.active = bool_param(req, "active", true, &bad);
	q.silenced = bool_param(req, "silenced", true, &bad);
	q.inhibited = bool_param(req, "inhibited", true, &bad);
	q.receiver = web_req_param(req, "receiver");
	if (bad)
		return am_error(resp, TS_EINVAL, "boolean parameters must be true or false");
	ts_err e = {0};
	int rc = alert_notifier_alerts_json(n, &q, web_resp_body(resp), &e);
	return rc ? am_error(resp, rc, e.msg) : json_ok(resp);
}

static int h_alerts_post(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	alert_notifier *n = notifier(ctx, resp);
	if (!n)
		return TS_OK;
	size_t len;
	const char *body = web_req_body(req, &len);
	ts_err e = {0};
	int rc = alert_notifier_post_json(n, body, len, &e);
	return rc ? am_error(resp, rc, e.msg) : TS_OK;
}

static int h_silences_get(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	alert_notifier *n = notifier(ctx, resp);
	if (!n)
		return TS_OK;
	const char *const *f;
	size_t nf;
	web_req_params(req, "filter", &f, &nf);
	ts_err e = {0};
	int rc = alert_notifier_silences_json(n, f, nf, web_resp_body(resp), &e);
	return rc ? am_error(resp, rc, e.msg) : json_ok(resp);
}

static int h_silences_post(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	alert_notifier *n = notifier(ctx, resp);
	if (!n)
		return TS_OK;
	size_t len;
	const char *body = web_req_body(req, &len);
	ts_err e = {0};
	int rc = alert_notifier_silence_post_json(n, body, len, web_resp_body(resp), &e);
	return rc ? am_error(resp, rc, e.msg) : json_ok(resp);
}

static int h_silence_get(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	alert_notifier *n = notifier(ctx, resp);
	if (!n)
		return TS_OK;
	ts_err e = {0};
	int rc = alert_notifier_silence_json(n, web_req_path_rest(req), web_resp_body(resp), &e);
	return rc ? am_error(resp, rc, e.msg) : json_ok(resp);
}

static int h_silence_delete(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	alert_notifier *n = notifier(ctx, resp);
	if (!n)
		return TS_OK;
	ts_err e = {0};
	int rc = alert_notifier_silence_expire(n, web_req_path_rest(req), &e);
	return rc ? am_error(resp, rc, e.msg) : TS_OK;
}

int web_api_silences_routes(web_server *s, ts_err *err)
{
	int rc;
	if ((rc = web_http_route(s->http, "GET", "/api/v2/alerts", h_alerts_get, s, err)) ||
	    (rc = web_http_route(s->http, "POST", "/api/v2/alerts", h_alerts_post, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/api/v2/silences", h_silences_get, s, err)) ||
	    (rc = web_http_route(s->http, "POST", "/api/v2/silences", h_silences_post, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/api/v2/silence/*", h_silence_get, s, err)) ||
	    (rc = web_http_route(s->http, "DELETE", "/api/v2/silence/*", h_silence_delete, s, err)))
		return rc;
	return TS_OK;
}
