/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_internal.c: the internal read API of a store node, read by query nodes (fanout.c).
 *
 *   POST /internal/v1/select            match, start, end, max_series, max_samples, samples
 *   POST /internal/v1/labels            match, start, end
 *   POST /internal/v1/label/<name>/values match, start, end
 *
 * Parameters are form fields (or the query string): `match` one series selector in
 * PromQL syntax (absent for labels and values: all series), `start`/`end` integer ms
 * (inclusive; absent: all of time), `max_series` (0 = no bound), `max_samples` (default
 * and upper bound STORE_MAX_SAMPLES) and `samples=0` to send label sets only. Answers are
 * binary (application/x-strata-series, application/x-strata-strings), laid out in
 * docs/formats/internal_read.md: every sample of every selected series in the range, raw
 * (stale markers included, NaN bits exact), so the query node evaluates PromQL exactly as
 * a single node would. Errors use the Prometheus JSON error envelope and status.
 *
 * Bounds: a selection over max_series or a response over max_samples samples is refused
 * with 422 (TS_ELIMIT) instead of being cut short, so a query node never merges a
 * truncated answer. The routes are registered on nodes with a store (roles all and
 * store) and go through the same access control as the rest of the API.
 *
 * Tested by tests/integration/test_cluster_query.sh (2 stores read through a query node)
 * and tests/web/test_fanout.c (the fan-out and the engine reading a real store through it).
 */
#include "web/web_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_TIME_MS       (INT64_MIN / 4)
#define MAX_TIME_MS       (INT64_MAX / 4)
#define STORE_MAX_SAMPLES 50000000 /* per select answer: 800 MB of samples */

/* An integer form field; dflt when absent. false (and a 400 answer) when malformed. */
static bool int_param(web_req *req, web_resp *resp, const char *name, int64_t dflt, int64_t *out)
{
	const char *v = web_req_param(req, name);
	if (!v || !*v) {
		*out = dflt;
		return true;
	}
	char *end = NULL;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end) {
		web_resp_error(resp, 400, "bad_data",
			       "invalid parameter \"%s\": '%.64s' is not an "
			       "integer",
			       name, v);
		return false;
	}
	*out = (int64_t)x;
	return true;
}

/* The common parameters; false when the response already holds a 400. */
static bool parse_common(web_req *req, web_resp *resp, ts_matcher **m, size_t *n_m, int64_t *start,
			 int64_t *end)
{
	*m = NULL;
	*n_m = 0;
	if (!int_param(req, resp, "start", MIN_TIME_MS, start) ||
	    !int_param(req, resp, "end", MAX_TIME_MS, end))
		return false;
	const char *sel = web_req_param(req, "match");
	if (!sel || !*sel)
		return true;
	ts_err e = {0};
	if (query_parse_selector(sel, strlen(sel), m, n_m, &e)) {
		web_resp_error(resp, 400, "bad_data", "invalid parameter \"match\": %s", e.msg);
		return false;
	}
	return true;
}

static int put_str(ts_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (n > UINT16_MAX)
		return TS_ELIMIT;
	int rc = ts_buf_put_u16le(b, (uint16_t)n);
	return rc ? rc : ts_buf_append(b, s, n);
}

static int put_header(ts_buf *b, const char *magic)
{
	int rc = ts_buf_append(b, magic, 4);
	if (rc == TS_OK)
		rc = ts_buf_put_u32le(b, WEB_INTERNAL_VERSION);
	return rc;
}

/* Encode one series (labels, then its samples in [start, end]) into b. */
static int put_series(ts_buf *b, tsdb_querier *q, tsdb_series *s, int64_t start, int64_t end,
		      bool with_samples, int64_t *budget, ts_err *err)
{
	size_t nl;
	const ts_label *l = tsdb_series_labels(s, &nl);
	int rc = ts_buf_put_u16le(b, (uint16_t)nl);
	for (size_t i = 0; rc == TS_OK && i < nl; i++)
		if ((rc = put_str(b, l[i].name)) == TS_OK)
			rc = put_str(b, l[i].value);
	if (rc)
		return ts_err_set(err, rc, "answer too large (labels)");
	size_t count_at = b->len;
	if ((rc = ts_buf_put_u32le(b, 0)))
		return ts_err_set(err, rc, "answer too large");
	if (!with_samples)
		return TS_OK;
	tsdb_iter *it = NULL;
	if ((rc = tsdb_iter_open(q, s, start, end, &it, err)))
		return rc;
	uint32_t n = 0;
	int64_t t;
	double v;
	int got;
	while ((got = tsdb_iter_next(it, &t, &v)) == 1) {
		if (--*budget < 0) {
			got = ts_err_set(err, TS_ELIMIT,
					 "store answer would exceed max_samples: narrow the "
					 "selector or the time range");
			break;
		}
		uint64_t bits;
		memcpy(&bits, &v, sizeof(bits));
		if ((rc = ts_buf_put_u64le(b, (uint64_t)t)) || (rc = ts_buf_put_u64le(b, bits))) {
			got = ts_err_set(err, rc, "answer too large");
			break;
		}
		n++;
	}
	tsdb_iter_close(it);
	if (got < 0)
		return err && err->code == got ? got
					       : ts_err_set(err, got, "reading samples failed");
	ts_put_u32le((uint8_t *)b->data + count_at, n);
	return TS_OK;
}

static int h_select(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	ts_matcher *m = NULL;
	size_t n_m = 0;
	int64_t start, end, max_series, max_samples, with_samples;
	if (!parse_common(req, resp, &m, &n_m, &start, &end))
		return TS_OK;
	if (!int_param(req, resp, "max_series", 0, &max_series) ||
	    !int_param(req, resp, "max_samples", STORE_MAX_SAMPLES, &max_samples) ||
	    !int_param(req, resp, "samples", 1, &with_samples)) {
		query_matchers_free(m, n_m);
		return TS_OK;
	}
	if (n_m == 0) {
		query_matchers_free(m, n_m);
		return web_resp_error(resp, 400, "bad_data", "no match parameter provided");
	}
	if (max_samples <= 0 || max_samples > STORE_MAX_SAMPLES)
		max_samples = STORE_MAX_SAMPLES;
	if (max_series < 0)
		max_series = 0;
	ts_err e = {0};
	tsdb_querier *q = NULL;
	tsdb_series **sel = NULL;
	size_t n_sel = 0;
	int rc = tsdb_querier_open(s->opt.db, start, end, &q, &e);
	if (rc == TS_OK)
		rc = tsdb_select(q, m, n_m, (size_t)max_series, &sel, &n_sel, &e);
	ts_buf *b = web_resp_body(resp);
	if (rc == TS_OK && (rc = put_header(b, WEB_INTERNAL_SERIES_MAGIC)) == TS_OK &&
	    (rc = ts_buf_put_u32le(b, (uint32_t)n_sel)))
		ts_err_set(&e, rc, "answer too large");
	int64_t budget = max_samples;
	for (size_t k = 0; rc == TS_OK && k < n_sel; k++)
		rc = put_series(b, q, sel[k], start, end, with_samples != 0, &budget, &e);
	if (rc == TS_OK && (rc = ts_buf_append(b, WEB_INTERNAL_END_MAGIC, 4)))
		ts_err_set(&e, rc, "answer too large");
	ts_free(sel);
	tsdb_querier_close(q);
	query_matchers_free(m, n_m);
	if (rc) {
		ts_buf_reset(b);
		return web_api_error(resp, rc, e.msg);
	}
	web_resp_content_type(resp, WEB_INTERNAL_SERIES_TYPE);
	return TS_OK;
}

/* Label names (name NULL) or the values of label `name`, as a strings answer. */
static int strings_answer(web_req *req, web_resp *resp, web_server *s, const char *name)
{
	ts_matcher *m = NULL;
	size_t n_m = 0;
	int64_t start, end;
	if (!parse_common(req, resp, &m, &n_m, &start, &end))
		return TS_OK;
	ts_err e = {0};
	tsdb_querier *q = NULL;
	const char **v = NULL;
	size_t n = 0;
	int rc = tsdb_querier_open(s->opt.db, start, end, &q, &e);
	if (rc == TS_OK)
		rc = name ? tsdb_label_values(q, name, m, n_m, &v, &n, &e)
			  : tsdb_label_names(q, m, n_m, &v, &n, &e);
	ts_buf *b = web_resp_body(resp);
	if (rc == TS_OK && (rc = put_header(b, WEB_INTERNAL_STRINGS_MAGIC)) == TS_OK)
		rc = ts_buf_put_u32le(b, (uint32_t)n);
	for (size_t i = 0; rc == TS_OK && i < n; i++)
		rc = put_str(b, v[i]);
	if (rc == TS_OK)
		rc = ts_buf_append(b, WEB_INTERNAL_END_MAGIC, 4);
	if (rc && !e.msg[0])
		ts_err_set(&e, rc, "answer too large");
	ts_free(v);
	tsdb_querier_close(q);
	query_matchers_free(m, n_m);
	if (rc) {
		ts_buf_reset(b);
		return web_api_error(resp, rc, e.msg);
	}
	web_resp_content_type(resp, WEB_INTERNAL_STRINGS_TYPE);
	return TS_OK;
}

static int h_labels(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return strings_answer(req, resp, ctx, NULL);
}

static int h_label_values(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	const char *rest = web_req_path_rest(req); /* "<name>/values" */
	const char *slash = strchr(rest, '/');
	if (!slash || strcmp(slash, "/values") != 0 || slash == rest)
		return web_resp_error(resp, 404, "not_found", "unknown path %s", web_req_path(req));
	char name[256];
	size_t n = (size_t)(slash - rest);
	if (n >= sizeof(name) || !ts_label_name_valid(rest, n))
		return web_resp_error(resp, 400, "bad_data", "invalid label name: \"%.*s\"",
				      (int)(n > 200 ? 200 : n), rest);
	memcpy(name, rest, n);
	name[n] = '\0';
	return strings_answer(req, resp, ctx, name);
}

int web_api_internal_routes(web_server *s, ts_err *err)
{
	int rc = web_http_route(s->http, "POST", "/internal/v1/select", h_select, s, err);
	if (rc == TS_OK)
		rc = web_http_route(s->http, "POST", "/internal/v1/labels", h_labels, s, err);
	if (rc == TS_OK)
		rc =
		    web_http_route(s->http, "POST", "/internal/v1/label/*", h_label_values, s, err);
	return rc;
}
