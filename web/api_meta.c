/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_meta.c: the Prometheus API endpoints around queries that are not queries.
 *
 *   GET      /api/v1/metadata          metric, limit, limit_per_metric
 *   GET|POST /api/v1/query_exemplars   query, start, end
 *   GET      /api/v1/status/tsdb       limit
 *   GET|POST /api/v1/format_query      query
 *
 * metadata answers from the ingest metadata registry (ingest/metadata.c: # TYPE, # HELP
 * and # UNIT of scrapes and imports, remote-write metadata) in Prometheus' shape:
 * {"<metric>": [{"type", "help", "unit"}, ...]}, metrics in name order. limit and
 * limit_per_metric follow Prometheus (a negative limit, or a limit_per_metric <= 0,
 * means no limit; a non-number is 400 "limit must be a number").
 *
 * query_exemplars validates its parameters like Prometheus (times, end before start,
 * the expression) and answers an empty list: Strata does not store exemplars (the
 * parsers validate and skip them). Grafana asks for exemplars with every panel query.
 *
 * status/tsdb reports head cardinality (tsdb_cardinality_get, computed like Prometheus'
 * MemPostings.Stats); `limit` (default 10, a positive number, capped at
 * TSDB_CARDINALITY_MAX_LIMIT) bounds each top list, as in Prometheus 2.44+ (2.42 has no
 * limit parameter and always lists 10).
 *
 * format_query prints the expression as Prometheus' Expr.String() (query_format).
 *
 * Tested by tests/integration/test_api_meta.sh and test_promtool.sh (shapes compared
 * with Prometheus 2.42's answers).
 */
#include "web/web_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Prometheus' minTime/maxTime for absent start/end. */
#define MIN_TIME_MS (INT64_MIN / 4)
#define MAX_TIME_MS (INT64_MAX / 4)

/* Go's strconv.Atoi: optional sign then decimal digits, nothing else. */
static bool parse_long(const char *s, long *out)
{
	if (!s || !*s)
		return false;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!*p)
		return false;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	errno = 0;
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int send(web_resp *resp, web_json *w)
{
	int rc = web_api_end(w);
	if (rc)
		return web_api_error(resp, rc, "response too large");
	return web_resp_content_type(resp, "application/json");
}

/* ---------------------------------------------------------------- metadata */

static int h_metadata(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	long limit = -1, per_metric = -1;
	const char *v = web_req_param(req, "limit");
	if (v && *v && !parse_long(v, &limit))
		return web_resp_error(resp, 400, "bad_data", "limit must be a number");
	v = web_req_param(req, "limit_per_metric");
	if (v && *v && !parse_long(v, &per_metric))
		return web_resp_error(resp, 400, "bad_data", "limit_per_metric must be a number");
	const char *metric = web_req_param(req, "metric");
	ingest_metadata_entry *ents = NULL;
	size_t n = 0;
	ts_err e = {0};
	int rc = s->opt.ingest ? ingest_metadata_get(ingest_pipeline_metadata(s->opt.ingest),
						     metric, limit, per_metric, &ents, &n, &e)
			       : TS_OK;
	if (rc)
		return web_api_error(resp, rc, e.msg);
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(ents[i].family, ents[i - 1].family) != 0) {
			if (i)
				web_json_array_end(&w);
			web_json_key(&w, ents[i].family);
			web_json_array_begin(&w);
		}
		web_json_object_begin(&w);
		web_json_key(&w, "type");
		web_json_string(&w, ents[i].type);
		web_json_key(&w, "help");
		web_json_string(&w, ents[i].help);
		web_json_key(&w, "unit");
		web_json_string(&w, ents[i].unit);
		web_json_object_end(&w);
	}
	if (n)
		web_json_array_end(&w);
	web_json_object_end(&w);
	ingest_metadata_entries_free(ents);
	return send(resp, &w);
}

/* ---------------------------------------------------------------- exemplars */

static int h_query_exemplars(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	int64_t start, end;
	if (!web_time_param(req, resp, "start", MIN_TIME_MS, &start) ||
	    !web_time_param(req, resp, "end", MAX_TIME_MS, &end))
		return TS_OK;
	if (end < start)
		return web_resp_error(resp, 400, "bad_data",
				      "end timestamp must not be before start timestamp");
	const char *q = web_req_param(req, "query");
	ts_err e = {0};
	int rc = query_format(q ? q : "", q ? strlen(q) : 0, NULL, NULL, &e);
	if (rc == TS_EPARSE || rc == TS_ELIMIT)
		return web_resp_error(resp, 400, "bad_data", "%s", e.msg);
	if (rc)
		return web_api_error(resp, rc, e.msg);
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_array_begin(&w);
	web_json_array_end(&w);
	return send(resp, &w);
}

/* ---------------------------------------------------------------- status/tsdb */

static void stat_list(web_json *w, const char *key, const tsdb_card_stat *v, size_t n)
{
	web_json_key(w, key);
	web_json_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		web_json_object_begin(w);
		web_json_key(w, "name");
		web_json_string(w, v[i].name);
		web_json_key(w, "value");
		web_json_uint(w, v[i].count);
		web_json_object_end(w);
	}
	web_json_array_end(w);
}

static int h_status_tsdb(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	long limit = 10;
	const char *v = web_req_param(req, "limit");
	if (v && *v && (!parse_long(v, &limit) || limit < 1))
		return web_resp_error(resp, 400, "bad_data", "limit must be a positive number");
	if (limit > TSDB_CARDINALITY_MAX_LIMIT)
		limit = TSDB_CARDINALITY_MAX_LIMIT;
	if (!s->opt.db) /* a role without a store (ingest only) */
		return web_resp_error(resp, 503, "unavailable", "this node has no store");
	tsdb_cardinality *c = NULL;
	ts_err e = {0};
	int rc = tsdb_cardinality_get(s->opt.db, (size_t)limit, &c, &e);
	if (rc)
		return web_api_error(resp, rc, e.msg);
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "headStats");
	web_json_object_begin(&w);
	web_json_key(&w, "numSeries");
	web_json_uint(&w, c->n_series);
	web_json_key(&w, "numLabelPairs");
	web_json_uint(&w, c->n_label_pairs);
	web_json_key(&w, "chunkCount");
	web_json_uint(&w, c->n_chunks);
	web_json_key(&w, "minTime");
	web_json_int(&w, c->min_t_ms);
	web_json_key(&w, "maxTime");
	web_json_int(&w, c->max_t_ms);
	web_json_object_end(&w);
	stat_list(&w, "seriesCountByMetricName", c->series_by_metric, c->n_series_by_metric);
	stat_list(&w, "labelValueCountByLabelName", c->values_by_label, c->n_values_by_label);
	stat_list(&w, "memoryInBytesByLabelName", c->memory_by_label, c->n_memory_by_label);
	stat_list(&w, "seriesCountByLabelValuePair", c->series_by_pair, c->n_series_by_pair);
	web_json_object_end(&w);
	ts_free(c);
	return send(resp, &w);
}

/* ---------------------------------------------------------------- format_query */

static int h_format_query(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	const char *q = web_req_param(req, "query");
	ts_buf text;
	ts_buf_init(&text, 1 << 20);
	ts_err e = {0};
	int rc = query_format(q ? q : "", q ? strlen(q) : 0, &text, NULL, &e);
	if (rc == TS_EPARSE || rc == TS_ELIMIT) {
		ts_buf_free(&text);
		return web_resp_error(resp, 400, "bad_data", "invalid parameter \"query\": %s",
				      e.msg);
	}
	if (rc) {
		ts_buf_free(&text);
		return web_api_error(resp, rc, e.msg);
	}
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_string_n(&w, text.data ? text.data : "", text.len);
	ts_buf_free(&text);
	return send(resp, &w);
}

int web_api_meta_routes(web_server *s, ts_err *err)
{
	int rc;
	if ((rc = web_http_route(s->http, "GET", "/api/v1/metadata", h_metadata, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/api/v1/query_exemplars", h_query_exemplars, s,
				 err)) ||
	    (rc = web_http_route(s->http, "POST", "/api/v1/query_exemplars", h_query_exemplars, s,
				 err)) ||
	    (rc = web_http_route(s->http, "GET", "/api/v1/status/tsdb", h_status_tsdb, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/api/v1/format_query", h_format_query, s, err)) ||
	    (rc = web_http_route(s->http, "POST", "/api/v1/format_query", h_format_query, s, err)))
		return rc;
	return TS_OK;
}
