/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_rules.c: the Prometheus rules and alerts API, and the reload endpoint.
 *
 *   GET  /api/v1/rules    type=alert|record (default both)
 *   GET  /api/v1/alerts
 *   POST /-/reload        (also PUT) re-read the config file and the rule files
 *
 * Shapes are Prometheus 2.42's (web/api/v1/api.go): groups with name, file, rules,
 * interval (seconds), limit, evaluationTime (seconds), lastEvaluation (RFC 3339 with
 * Go's trailing-zero trimming; "0001-01-01T00:00:00Z" before the first evaluation);
 * alerting rules with state, name, query, duration, keepFiringFor, labels, annotations,
 * alerts, health, lastError (only when set), evaluationTime, lastEvaluation,
 * type "alerting"; recording rules with name, query, labels (only when set), health,
 * lastError, evaluationTime, lastEvaluation, type "recording". Alerts carry labels,
 * annotations, state, activeAt and value in Go's %e form ("1e+00"), plus keepFiringSince
 * when an alert is kept firing (newer Prometheus versions report it). Groups without
 * matching rules are still listed, as 2.42 does. The data is a snapshot taken through
 * alert_rules_snapshot_get(); this file only renders it.
 *
 * /-/reload answers 200 with an empty body, or 500 with "failed to reload config: ..."
 * as text, like Prometheus with --web.enable-lifecycle (always enabled here).
 */
#include "web/web_int.h"

#include <string.h>
#include <strings.h>

/* Go's time.Time RFC3339Nano of ms (trailing fraction zeros trimmed), zero time for 0. */
static void write_time(web_json *w, int64_t ms)
{
	char t[48];
	if (ms == 0) {
		web_json_string(w, "0001-01-01T00:00:00Z");
		return;
	}
	ts_format_rfc3339(ms, t, sizeof(t));
	char *dot = strchr(t, '.');
	char *z = dot ? strchr(dot, 'Z') : NULL;
	if (dot && z) {
		char *e = z;
		while (e > dot + 1 && e[-1] == '0')
			e--;
		if (e == dot + 1)
			e = dot;
		memmove(e, z, strlen(z) + 1);
	}
	web_json_string(w, t);
}

static void write_labels(web_json *w, const ts_label *l, size_t n)
{
	web_json_object_begin(w);
	for (size_t i = 0; i < n; i++) {
		web_json_key(w, l[i].name);
		web_json_string(w, l[i].value);
	}
	web_json_object_end(w);
}

static void write_alert(web_json *w, const alert_rules_alert_info *a)
{
	char v[ALERT_RULES_VALUE_TEXT_MAX];
	alert_rules_format_value(v, a->value);
	web_json_object_begin(w);
	web_json_key(w, "labels");
	write_labels(w, a->labels, a->n_labels);
	web_json_key(w, "annotations");
	write_labels(w, a->annotations, a->n_annotations);
	web_json_key(w, "state");
	web_json_string(w, a->state);
	web_json_key(w, "activeAt");
	write_time(w, a->active_at_ms);
	if (a->keep_firing_since_ms) {
		web_json_key(w, "keepFiringSince");
		write_time(w, a->keep_firing_since_ms);
	}
	web_json_key(w, "value");
	web_json_string(w, v);
	web_json_object_end(w);
}

static void write_rule(web_json *w, const alert_rules_rule_info *r)
{
	web_json_object_begin(w);
	if (r->is_alert) {
		web_json_key(w, "state");
		web_json_string(w, r->state);
	}
	web_json_key(w, "name");
	web_json_string(w, r->name);
	web_json_key(w, "query");
	web_json_string(w, r->query);
	if (r->is_alert) {
		web_json_key(w, "duration");
		web_json_double(w, (double)r->for_ms / 1000.0);
		web_json_key(w, "keepFiringFor");
		web_json_double(w, (double)r->keep_firing_for_ms / 1000.0);
	}
	if (r->is_alert || r->n_labels) {
		web_json_key(w, "labels");
		write_labels(w, r->labels, r->n_labels);
	}
	if (r->is_alert) {
		web_json_key(w, "annotations");
		write_labels(w, r->annotations, r->n_annotations);
		web_json_key(w, "alerts");
		web_json_array_begin(w);
		for (size_t i = 0; i < r->n_alerts; i++)
			write_alert(w, &r->alerts[i]);
		web_json_array_end(w);
	}
	web_json_key(w, "health");
	web_json_string(w, r->health);
	if (r->last_error && *r->last_error) {
		web_json_key(w, "lastError");
		web_json_string(w, r->last_error);
	}
	web_json_key(w, "evaluationTime");
	web_json_double(w, r->eval_s);
	web_json_key(w, "lastEvaluation");
	write_time(w, r->last_eval_ms);
	web_json_key(w, "type");
	web_json_string(w, r->is_alert ? "alerting" : "recording");
	web_json_object_end(w);
}

static int snapshot(web_server *s, web_resp *resp, alert_rules_snapshot **out)
{
	*out = NULL;
	if (!s->opt.alerts)
		return TS_OK;
	ts_err e = {0};
	int rc = alert_rules_snapshot_get(alert_manager_rules(s->opt.alerts), out, &e);
	if (rc)
		web_api_error(resp, rc, e.msg);
	return rc;
}

static int h_rules(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	const char *type = web_req_param(req, "type");
	bool want_alert = true, want_record = true;
	if (type && *type) {
		if (!strcasecmp(type, "alert"))
			want_record = false;
		else if (!strcasecmp(type, "record"))
			want_alert = false;
		else
			return web_resp_error(
			    resp, 400, "bad_data",
			    "invalid parameter \"type\": not supported value \"%s\"", type);
	}
	alert_rules_snapshot *snap;
	if (snapshot(s, resp, &snap))
		return TS_OK;
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "groups");
	web_json_array_begin(&w);
	for (size_t i = 0; snap && i < snap->n_groups; i++) {
		const alert_rules_group_info *g = &snap->groups[i];
		web_json_object_begin(&w);
		web_json_key(&w, "name");
		web_json_string(&w, g->name);
		web_json_key(&w, "file");
		web_json_string(&w, g->file);
		web_json_key(&w, "rules");
		web_json_array_begin(&w);
		for (size_t k = 0; k < g->n_rules; k++)
			if (g->rules[k].is_alert ? want_alert : want_record)
				write_rule(&w, &g->rules[k]);
		web_json_array_end(&w);
		web_json_key(&w, "interval");
		web_json_double(&w, (double)g->interval_ms / 1000.0);
		web_json_key(&w, "limit");
		web_json_int(&w, g->limit);
		web_json_key(&w, "evaluationTime");
		web_json_double(&w, g->eval_s);
		web_json_key(&w, "lastEvaluation");
		write_time(&w, g->last_eval_ms);
		web_json_object_end(&w);
	}
	web_json_array_end(&w);
	web_json_object_end(&w);
	int rc = web_api_end(&w);
	alert_rules_snapshot_free(snap);
	if (rc)
		return ts_err_set(err, rc, "cannot render the rules");
	return web_resp_content_type(resp, "application/json");
}

static int h_alerts(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	alert_rules_snapshot *snap;
	if (snapshot(s, resp, &snap))
		return TS_OK;
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "alerts");
	web_json_array_begin(&w);
	for (size_t i = 0; snap && i < snap->n_groups; i++)
		for (size_t k = 0; k < snap->groups[i].n_rules; k++)
			for (size_t a = 0; a < snap->groups[i].rules[k].n_alerts; a++)
				write_alert(&w, &snap->groups[i].rules[k].alerts[a]);
	web_json_array_end(&w);
	web_json_object_end(&w);
	int rc = web_api_end(&w);
	alert_rules_snapshot_free(snap);
	if (rc)
		return ts_err_set(err, rc, "cannot render the alerts");
	return web_resp_content_type(resp, "application/json");
}

static int h_reload(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	ts_err e = {0};
	int rc = s->opt.reload ? s->opt.reload(s->opt.reload_ctx, &e)
			       : ts_err_set(&e, TS_EINVAL, "reloading is not configured");
	if (rc == TS_OK)
		return TS_OK;
	web_resp_status(resp, 500);
	web_resp_content_type(resp, "text/plain; charset=utf-8");
	rc = ts_buf_printf(web_resp_body(resp), "failed to reload config: %s\n", e.msg);
	return rc ? ts_err_set(err, rc, "out of memory") : TS_OK;
}

int web_api_rules_routes(web_server *s, ts_err *err)
{
	int rc;
	if ((rc = web_http_route(s->http, "GET", "/api/v1/rules", h_rules, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/api/v1/alerts", h_alerts, s, err)) ||
	    (rc = web_http_route(s->http, "POST", "/-/reload", h_reload, s, err)) ||
	    (rc = web_http_route(s->http, "PUT", "/-/reload", h_reload, s, err)))
		return rc;
	return TS_OK;
}
