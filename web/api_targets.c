/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_targets.c: the Prometheus scrape target API.
 *
 *   GET /api/v1/targets   state=active|dropped|any (default any), scrapePool=<job>
 *
 * The shape is Prometheus 2.42's: {"activeTargets": [...], "droppedTargets": [...]},
 * each active target with discoveredLabels, labels, scrapePool, scrapeUrl, globalUrl,
 * lastError, lastScrape (RFC 3339, "0001-01-01T00:00:00Z" before the first scrape, as
 * Go's zero time), lastScrapeDuration (seconds), health (up, down, unknown),
 * scrapeInterval and scrapeTimeout (Prometheus durations). Without relabeling nothing is
 * ever dropped, so droppedTargets is always empty. The data is a snapshot taken through
 * ingest_scrape_targets(); this file only renders it.
 */
#include "web/web_int.h"

#include <string.h>
#include <strings.h>

static void write_labels(web_json *w, const ts_label *l, size_t n)
{
	web_json_object_begin(w);
	for (size_t i = 0; i < n; i++) {
		web_json_key(w, l[i].name);
		web_json_string(w, l[i].value);
	}
	web_json_object_end(w);
}

static const char *health_str(ingest_scrape_health h)
{
	switch (h) {
	case INGEST_SCRAPE_UP: return "up";
	case INGEST_SCRAPE_DOWN: return "down";
	default: return "unknown";
	}
}

static void write_target(web_json *w, const ingest_scrape_target_info *t)
{
	char last[48], ival[32], tval[32];
	if (t->last_scrape_ms)
		ts_format_rfc3339(t->last_scrape_ms, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "0001-01-01T00:00:00Z");
	ts_format_duration(t->interval_ms, ival, sizeof(ival));
	ts_format_duration(t->timeout_ms, tval, sizeof(tval));
	web_json_object_begin(w);
	web_json_key(w, "discoveredLabels");
	write_labels(w, t->discovered_labels, t->n_discovered_labels);
	web_json_key(w, "labels");
	write_labels(w, t->labels, t->n_labels);
	web_json_key(w, "scrapePool");
	web_json_string(w, t->scrape_pool);
	web_json_key(w, "scrapeUrl");
	web_json_string(w, t->scrape_url);
	web_json_key(w, "globalUrl");
	web_json_string(w, t->global_url);
	web_json_key(w, "lastError");
	web_json_string(w, t->last_error);
	web_json_key(w, "lastScrape");
	web_json_string(w, last);
	web_json_key(w, "lastScrapeDuration");
	web_json_double(w, t->last_scrape_duration_s);
	web_json_key(w, "health");
	web_json_string(w, health_str(t->health));
	web_json_key(w, "scrapeInterval");
	web_json_string(w, ival);
	web_json_key(w, "scrapeTimeout");
	web_json_string(w, tval);
	web_json_object_end(w);
}

static int h_targets(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	const char *state = web_req_param(req, "state");
	const char *pool = web_req_param(req, "scrapePool");
	bool show_active =
	    !state || !*state || !strcasecmp(state, "any") || !strcasecmp(state, "active");
	ingest_scrape_target_info *v = NULL;
	size_t n = 0;
	ts_err e = {0};
	int rc = show_active ? ingest_scrape_targets(s->opt.ingest, &v, &n, &e) : TS_OK;
	if (rc)
		return web_api_error(resp, rc, e.msg);
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "activeTargets");
	web_json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		if (!pool || !*pool || !strcmp(pool, v[i].scrape_pool))
			write_target(&w, &v[i]);
	web_json_array_end(&w);
	web_json_key(&w, "droppedTargets");
	web_json_array_begin(&w);
	web_json_array_end(&w);
	web_json_object_end(&w);
	rc = web_api_end(&w);
	ingest_scrape_targets_free(v, n);
	if (rc)
		return ts_err_set(err, rc, "cannot render the target list");
	return web_resp_content_type(resp, "application/json");
}

int web_api_targets_routes(web_server *s, ts_err *err)
{
	return web_http_route(s->http, "GET", "/api/v1/targets", h_targets, s, err);
}
