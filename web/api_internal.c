/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_internal.c: the internal read API of a store node, read by query nodes (fanout.c).
 *
 *   POST /internal/v1/select            match, start, end, max_series, max_samples, samples,
 *                                       partitions, n_partitions
 *   POST /internal/v1/labels            match, start, end
 *   POST /internal/v1/label/<name>/values match, start, end
 *   GET  /internal/v1/status            format (json; default binary)
 *
 * Parameters are form fields (or the query string): `match` one series selector in
 * PromQL syntax (absent for labels and values: all series), `start`/`end` integer ms
 * (inclusive; absent: all of time), `max_series` (0 = no bound), `max_samples` (default
 * and upper bound STORE_MAX_SAMPLES) and `samples=0` to send label sets only;
 * `partitions=0,3` (with `n_partitions`, the count the query node planned with) keeps
 * only series whose partition (ts_series_hash % P, docs/formats/kafka.md) is listed: the
 * query node reads each partition from one replica. Answers are binary
 * (application/x-strata-series, application/x-strata-strings), laid out in
 * docs/formats/internal_read.md: every sample of every selected series in the range, raw
 * (stale markers included, NaN bits exact), so the query node evaluates PromQL exactly as
 * a single node would. Errors use the Prometheus JSON error envelope and status.
 *
 * Status: node id, replica group, partition count, the time range held, request
 * counters, and per partition owned or held: owned now, caught up (owned, replay done,
 * lag <= WEB_CAUGHT_UP_LAG records), applied offset, the log's end and the lag, from
 * ingest_partition_stats (fanout_plan.c encodes it).
 *
 * Bounds: a selection over max_series or a response over max_samples samples is refused
 * with 422 (TS_ELIMIT) instead of being cut short, so a query node never merges a
 * truncated answer. The routes are registered on nodes with a store (roles all and
 * store) and go through the same access control as the rest of the API (scope read
 * when an `auth:` section exists; query nodes send cluster.store_auth).
 *
 * Tested by tests/integration/test_cluster_query.sh (2 stores read through a query node),
 * tests/integration/test_cluster_replicas.sh (2 replica groups, status, partitions, auth)
 * and tests/web/test_fanout.c (the fan-out and the engine reading a real store through it).
 */
#include "web/web_int.h"

#include "web/fanout_plan.h"

#include <errno.h>
#include <stdio.h>
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

int web_put_str(ts_buf *b, const char *s)
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
		if ((rc = web_put_str(b, l[i].name)) == TS_OK)
			rc = web_put_str(b, l[i].value);
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

/*
 * The `partitions` filter: *keep (n_partitions entries, owned) marks the listed
 * partitions; NULL when the field is absent. false (and a 400 answer) when malformed or
 * planned with another partition count than this store's.
 */
static bool partitions_param(web_req *req, web_resp *resp, web_server *s, bool **keep, int *np)
{
	*keep = NULL;
	*np = 0;
	const char *v = web_req_param(req, "partitions");
	if (!v)
		return true;
	int64_t want;
	if (!int_param(req, resp, "n_partitions", 0, &want))
		return false;
	int have = s->opt.ingest ? ingest_n_partitions(s->opt.ingest) : 0;
	if (have <= 0 || want != have) {
		web_resp_error(
		    resp, 400, "bad_data",
		    "invalid parameter \"partitions\": this store has %d log partitions, "
		    "the request was planned with %lld",
		    have, (long long)want);
		return false;
	}
	if (!(*keep = ts_calloc((size_t)have, sizeof(**keep)))) {
		web_api_error(resp, TS_ENOMEM, "out of memory");
		return false;
	}
	for (const char *p = v; *p;) {
		char *end = NULL;
		errno = 0;
		long x = strtol(p, &end, 10);
		if (errno || end == p || x < 0 || x >= have || (*end && *end != ',')) {
			web_resp_error(resp, 400, "bad_data",
				       "invalid parameter \"partitions\": '%.64s' is not a list of "
				       "partitions below %d",
				       v, have);
			ts_free(*keep);
			*keep = NULL;
			return false;
		}
		(*keep)[x] = true;
		p = *end ? end + 1 : end;
	}
	*np = have;
	return true;
}

/* Drop the series of sel whose partition is not kept (order preserved). */
static size_t filter_partitions(tsdb_series **sel, size_t n, const bool *keep, int np)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(sel[i], &nl);
		if (keep[ts_series_hash(l, nl) % (uint64_t)np])
			sel[w++] = sel[i];
	}
	return w;
}

static int h_select(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	ts_matcher *m = NULL;
	size_t n_m = 0;
	int64_t start, end, max_series, max_samples, with_samples;
	if (!parse_common(req, resp, &m, &n_m, &start, &end))
		return TS_OK;
	bool *keep = NULL;
	int np = 0;
	if (!int_param(req, resp, "max_series", 0, &max_series) ||
	    !int_param(req, resp, "max_samples", STORE_MAX_SAMPLES, &max_samples) ||
	    !int_param(req, resp, "samples", 1, &with_samples) ||
	    !partitions_param(req, resp, s, &keep, &np)) {
		query_matchers_free(m, n_m);
		return TS_OK;
	}
	if (n_m == 0) {
		query_matchers_free(m, n_m);
		ts_free(keep);
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
	/* With a partition filter the bound applies to the series kept, not to those of
	 * partitions this store holds but was not asked for. */
	if (rc == TS_OK)
		rc = tsdb_select(q, m, n_m, keep ? 0 : (size_t)max_series, &sel, &n_sel, &e);
	if (rc == TS_OK && keep) {
		n_sel = filter_partitions(sel, n_sel, keep, np);
		if (max_series && n_sel > (size_t)max_series)
			rc = ts_err_set(
			    &e, TS_ELIMIT,
			    "the selector matches %zu series, more than the limit of %lld", n_sel,
			    (long long)max_series);
	}
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
	ts_free(keep);
	tsdb_querier_close(q);
	query_matchers_free(m, n_m);
	if (rc) {
		ts_buf_reset(b);
		return web_api_error(resp, rc, e.msg);
	}
	atomic_fetch_add_explicit(&s->internal_selects, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->internal_series_sent, n_sel, memory_order_relaxed);
	web_resp_content_type(resp, WEB_INTERNAL_SERIES_TYPE);
	return TS_OK;
}

/* GET /internal/v1/status: what this store holds, per log partition. */
static int h_status(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	const char *fmt = web_req_param(req, "format");
	bool json = fmt && !strcmp(fmt, "json");
	if (fmt && *fmt && !json)
		return web_resp_error(resp, 400, "bad_data",
				      "invalid parameter \"format\": '%.32s' (json or absent)",
				      fmt);
	web_store_status st;
	memset(&st, 0, sizeof(st));
	const ingest_cluster_config *cc = s->opt.cluster;
	snprintf(st.node_id, sizeof(st.node_id), "%s", cc ? cc->node_id : "");
	snprintf(st.replica_group, sizeof(st.replica_group), "%s",
		 cc ? cc->replica_group : INGEST_CLUSTER_REPLICA_GROUP);
	tsdb_stats ts;
	tsdb_stats_get(s->opt.db, &ts);
	st.min_t_ms = ts.min_t_ms;
	st.max_t_ms = ts.max_t_ms;
	st.n_selects = atomic_load_explicit(&s->internal_selects, memory_order_relaxed);
	st.n_series_sent = atomic_load_explicit(&s->internal_series_sent, memory_order_relaxed);
	int np = s->opt.ingest ? ingest_n_partitions(s->opt.ingest) : 0;
	if (np > WEB_STATUS_MAX_PARTS)
		np = 0;
	if (np > 0 && !(st.parts = ts_calloc((size_t)np, sizeof(*st.parts))))
		return web_api_error(resp, TS_ENOMEM, "out of memory");
	st.n_partitions = np;
	for (int p = 0; p < np; p++) {
		ingest_partition_stats ps;
		ts_err e = {0};
		if (ingest_partition_stats_get(s->opt.ingest, p, &ps, &e))
			continue;
		web_part_status *o = &st.parts[p];
		o->applied = ps.consumer_next_offset;
		o->high = ps.log_next_offset;
		o->lag = ps.owned ? ps.lag_records : 0;
		if (ps.owned)
			o->flags |= WEB_PART_OWNED;
		if (ps.owned && ps.is_replayed && ps.lag_records <= WEB_CAUGHT_UP_LAG)
			o->flags |= WEB_PART_CAUGHT_UP;
		if (ps.owned || ps.consumer_next_offset > 0 ||
		    tsdb_partition_resume_offset(s->opt.db, p) > 0)
			o->flags |= WEB_PART_HELD;
	}
	ts_buf *b = web_resp_body(resp);
	int rc = json ? web_store_status_json(&st, b) : web_store_status_encode(&st, b);
	web_store_status_fini(&st);
	if (rc) {
		ts_buf_reset(b);
		return web_api_error(resp, rc, "status answer too large");
	}
	web_resp_content_type(resp, json ? "application/json" : WEB_STATUS_TYPE);
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
		rc = web_put_str(b, v[i]);
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
	if (rc == TS_OK)
		rc = web_http_route(s->http, "GET", "/internal/v1/status", h_status, s, err);
	return rc;
}
