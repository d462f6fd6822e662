/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_query.c: the Prometheus HTTP query API.
 *
 *   GET|POST /api/v1/query              query, time, timeout
 *   GET|POST /api/v1/query_range        query, start, end, step, timeout
 *   GET|POST /api/v1/series             match[], start, end, limit
 *   GET|POST /api/v1/labels             match[], start, end
 *   GET      /api/v1/label/<name>/values match[], start, end
 *
 * Parameters come from the query string or a form body (web_req_param merges both).
 * Times are Unix seconds or RFC 3339; step and timeout are durations or seconds.
 * Responses use Prometheus' envelope and formats: sample values as strings, timestamps
 * as seconds. The header X-Strata-Tier says which storage tiers answered ("raw", "1h",
 * "1h+raw", ...; query/tiers.c); with a `stats` parameter data.stats says it too.
 */
#include "web/web_int.h"

#include <stdlib.h>
#include <string.h>

/* Prometheus' defaults for absent start/end in metadata endpoints: all of time. */
#define MIN_TIME_MS (INT64_MIN / 4)
#define MAX_TIME_MS (INT64_MAX / 4)

static int bad_param(web_resp *resp, const char *name, const char *msg)
{
	return web_resp_error(resp, 400, "bad_data", "invalid parameter \"%s\": %s", name, msg);
}

/* Parse time parameter `name` into *out, or set *out = dflt when absent. */
static int time_param(web_req *req, web_resp *resp, const char *name, int64_t dflt, int64_t *out,
		      bool *bad)
{
	const char *v = web_req_param(req, name);
	*bad = false;
	if (!v || !*v) {
		*out = dflt;
		return TS_OK;
	}
	ts_err e = {0};
	if (ts_parse_time_ms(v, strlen(v), out, &e)) {
		*bad = true;
		/* Optional times go through Prometheus' parseTimeParam, which adds a prefix;
		 * query_range's required start/end (dflt 0, checked present) do not. */
		if (dflt == 0)
			return bad_param(resp, name, e.msg);
		return web_resp_error(resp, 400, "bad_data",
				      "invalid parameter \"%s\": Invalid time value for '%s': %s",
				      name, name, e.msg);
	}
	return TS_OK;
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

/*
 * data.stats, when the request has a non-empty `stats` parameter (Prometheus' rule):
 * Prometheus' timings and samples objects (evalTotalTime and totalQueryableSamples
 * filled: the evaluation time and the samples and rollup rows read) plus Strata's
 * "tier" (tiers read, as X-Strata-Tier) and "cache" (answered at least partly from the
 * range cache; the tier then names only what this request evaluated, "raw" when nothing).
 */
static void write_stats(web_json *w, const query_result *r)
{
	web_json_key(w, "stats");
	web_json_object_begin(w);
	web_json_key(w, "timings");
	web_json_object_begin(w);
	web_json_key(w, "evalTotalTime");
	web_json_double(w, (double)r->stats.exec_ns / 1e9);
	web_json_object_end(w);
	web_json_key(w, "samples");
	web_json_object_begin(w);
	web_json_key(w, "totalQueryableSamples");
	web_json_uint(w, r->stats.samples_loaded);
	web_json_object_end(w);
	web_json_key(w, "tier");
	web_json_string(w, r->stats.tier ? r->stats.tier : "raw");
	web_json_key(w, "cache");
	web_json_bool(w, r->stats.cache != 0);
	web_json_object_end(w);
}

static int send_result(web_req *req, web_resp *resp, const query_result *r)
{
	ts_buf *out = web_resp_body(resp);
	web_json w;
	web_api_begin(&w, out);
	web_json_object_begin(&w);
	web_json_key(&w, "resultType");
	switch (r->type) {
	case QUERY_RESULT_SCALAR:
		web_json_string(&w, "scalar");
		web_json_key(&w, "result");
		web_json_point(&w, r->t_ms, r->scalar);
		break;
	case QUERY_RESULT_STRING:
		web_json_string(&w, "string");
		web_json_key(&w, "result");
		web_json_array_begin(&w);
		web_json_time(&w, r->t_ms);
		web_json_string(&w, r->string);
		web_json_array_end(&w);
		break;
	case QUERY_RESULT_VECTOR:
		web_json_string(&w, "vector");
		web_json_key(&w, "result");
		web_json_array_begin(&w);
		for (size_t i = 0; i < r->n_series; i++) {
			const query_series *s = &r->series[i];
			web_json_object_begin(&w);
			web_json_key(&w, "metric");
			write_labels(&w, s->labels, s->n_labels);
			web_json_key(&w, "value");
			web_json_point(&w, s->t[0], s->v[0]);
			web_json_object_end(&w);
		}
		web_json_array_end(&w);
		break;
	case QUERY_RESULT_MATRIX:
		web_json_string(&w, "matrix");
		web_json_key(&w, "result");
		web_json_array_begin(&w);
		for (size_t i = 0; i < r->n_series; i++) {
			const query_series *s = &r->series[i];
			web_json_object_begin(&w);
			web_json_key(&w, "metric");
			write_labels(&w, s->labels, s->n_labels);
			web_json_key(&w, "values");
			web_json_array_begin(&w);
			for (size_t k = 0; k < s->n; k++)
				web_json_point(&w, s->t[k], s->v[k]);
			web_json_array_end(&w);
			web_json_object_end(&w);
		}
		web_json_array_end(&w);
		break;
	}
	const char *want_stats = web_req_param(req, "stats");
	if (want_stats && *want_stats)
		write_stats(&w, r);
	web_json_object_end(&w);
	if (r->warning[0]) { /* partial answer of a query node (web/fanout.c) */
		web_json_key(&w, "warnings");
		web_json_array_begin(&w);
		web_json_string(&w, r->warning);
		web_json_array_end(&w);
	}
	int rc = web_api_end(&w);
	if (rc)
		return web_api_error(resp, rc, "response too large");
	web_resp_content_type(resp, "application/json");
	web_resp_header(resp, "X-Strata-Tier", r->stats.tier ? r->stats.tier : "raw", NULL);
	return TS_OK;
}

/*
 * Map an engine error to Prometheus' answer (web/api/v1/api.go): an expression that does
 * not parse, or (range queries) is not a scalar or instant vector, is 400 bad_data (an
 * instant query's message is prefixed 'invalid parameter "query": ', a range query's is
 * not, as in 2.42); a timeout is 503 timeout; every other evaluation error (duplicate
 * label sets, many-to-many matching, too many samples, bad function arguments) is 422
 * execution; out of memory is 503 unavailable.
 */
static int query_error(web_resp *resp, int rc, const ts_err *e, bool is_range, const char *q)
{
	if (rc == TS_EINVAL && is_range) {
		query_result_type t;
		if (query_format(q, strlen(q), NULL, &t, NULL) == TS_OK &&
		    t != QUERY_RESULT_SCALAR && t != QUERY_RESULT_VECTOR)
			rc = TS_EPARSE; /* "invalid expression type ... for range query" */
	}
	switch (rc) {
	case TS_EPARSE:
		if (is_range)
			return web_resp_error(resp, 400, "bad_data", "%s", e->msg);
		return bad_param(resp, "query", e->msg);
	case TS_ETIMEOUT: return web_resp_error(resp, 503, "timeout", "%s", e->msg);
	case TS_EINVAL:
	case TS_ELIMIT:
	case TS_EOUTOFORDER: return web_resp_error(resp, 422, "execution", "%s", e->msg);
	default: return web_api_error(resp, rc, e->msg);
	}
}

/* Validate the optional timeout parameter (a duration or seconds); false if bad. Else
 * *deadline_ns is when it ends (ts_mono_ns; 0 without one): the engine stops the query
 * at the earlier of it and query.timeout. */
static bool timeout_ok(web_req *req, web_resp *resp, int64_t *deadline_ns)
{
	const char *to = web_req_param(req, "timeout");
	int64_t ms;
	ts_err e = {0};
	*deadline_ns = 0;
	if (!to || !*to)
		return true;
	if (ts_parse_duration_or_seconds_ms(to, strlen(to), &ms, &e) == TS_OK) {
		int64_t now = ts_mono_ns();
		ms = ms < 0 ? 0 : ms;
		*deadline_ns = ms > (INT64_MAX - now) / 1000000 ? INT64_MAX : now + ms * 1000000;
		return true;
	}
	bad_param(resp, "timeout", e.msg);
	return false;
}

static int h_query(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	const char *q = web_req_param(req, "query");
	if (!q || !*q)
		return bad_param(resp, "query",
				 "unknown position: parse error: no expression found in input");
	int64_t t;
	bool bad;
	time_param(req, resp, "time", ts_now_ms(), &t, &bad);
	int64_t deadline_ns;
	if (bad || !timeout_ok(req, resp, &deadline_ns))
		return TS_OK;
	query_result *r = NULL;
	ts_err e = {0};
	int rc = query_instant_until(s->opt.query, q, strlen(q), t, deadline_ns, &r, &e);
	if (rc)
		return query_error(resp, rc, &e, false, q);
	rc = send_result(req, resp, r);
	query_result_free(r);
	return rc;
}

static int h_query_range(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	const char *q = web_req_param(req, "query");
	int64_t start, end, step;
	bool bad;
	if (!web_req_param(req, "start"))
		return bad_param(resp, "start", "cannot parse \"\" to a valid timestamp");
	if (!web_req_param(req, "end"))
		return bad_param(resp, "end", "cannot parse \"\" to a valid timestamp");
	time_param(req, resp, "start", 0, &start, &bad);
	if (bad)
		return TS_OK;
	time_param(req, resp, "end", 0, &end, &bad);
	if (bad)
		return TS_OK;
	if (end < start)
		return bad_param(resp, "end", "end timestamp must not be before start time");
	const char *st = web_req_param(req, "step");
	ts_err e = {0};
	if (!st || ts_parse_duration_or_seconds_ms(st, strlen(st), &step, &e))
		return bad_param(resp, "step",
				 st ? e.msg : "cannot parse \"\" to a valid duration");
	if (step <= 0)
		return bad_param(resp, "step",
				 "zero or negative query resolution step widths are not accepted. "
				 "Try a positive integer");
	/* For safety Prometheus limits the points per series (a week at 60 s, a year at 1 h). */
	if ((end - start) / step > 11000)
		return web_resp_error(
		    resp, 400, "bad_data",
		    "exceeded maximum resolution of 11,000 points per timeseries. "
		    "Try decreasing the query resolution (?step=XX)");
	int64_t deadline_ns;
	if (!timeout_ok(req, resp, &deadline_ns))
		return TS_OK;
	if (!q || !*q)
		return bad_param(resp, "query",
				 "unknown position: parse error: no expression found in input");
	query_result *r = NULL;
	int rc = query_range_cached_until(s->opt.query, s->opt.query_cache, q, strlen(q), start,
					  end, step, ts_now_ms(), deadline_ns, &r, &e);
	if (rc)
		return query_error(resp, rc, &e, true, q);
	rc = send_result(req, resp, r);
	query_result_free(r);
	return rc;
}

/* ---------------------------------------------------------------- metadata endpoints */

typedef struct match_set {
	ts_matcher *m[64]; /* per match[] */
	size_t n[64];
	size_t count;
} match_set;

static void match_set_free(match_set *ms)
{
	for (size_t i = 0; i < ms->count; i++)
		query_matchers_free(ms->m[i], ms->n[i]);
	ms->count = 0;
}

/* Parse every match[]; on error the response is filled and *bad set. */
static void parse_matches(web_req *req, web_resp *resp, match_set *ms, bool required, bool *bad)
{
	const char *const *vals;
	size_t n;
	web_req_params(req, "match[]", &vals, &n);
	*bad = false;
	ms->count = 0;
	if (n == 0 && required) {
		*bad = true;
		web_resp_error(resp, 400, "bad_data", "no match[] parameter provided");
		return;
	}
	if (n > 64) {
		*bad = true;
		web_resp_error(resp, 400, "bad_data", "too many match[] parameters (max 64)");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ts_err e = {0};
		if (query_parse_selector(vals[i], strlen(vals[i]), &ms->m[i], &ms->n[i], &e)) {
			match_set_free(ms);
			*bad = true;
			web_resp_error(resp, 400, "bad_data", "invalid parameter \"match[]\": %s",
				       e.msg);
			return;
		}
		ms->count++;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Label names (name == NULL) or values of `name` as a JSON string array. */
static int label_strings(web_req *req, web_resp *resp, web_server *s, const char *name)
{
	int64_t start, end;
	bool bad;
	time_param(req, resp, "start", MIN_TIME_MS, &start, &bad);
	if (bad)
		return TS_OK;
	time_param(req, resp, "end", MAX_TIME_MS, &end, &bad);
	if (bad)
		return TS_OK;
	match_set ms;
	parse_matches(req, resp, &ms, false, &bad);
	if (bad)
		return TS_OK;
	tsdb_querier *q = NULL;
	ts_err e = {0};
	int rc = tsdb_querier_open(s->opt.db, start, end, &q, &e);
	const char **all = NULL;
	size_t n_all = 0;
	for (size_t i = 0; rc == TS_OK && i < (ms.count ? ms.count : 1); i++) {
		const char **v = NULL;
		size_t n = 0;
		const ts_matcher *m = ms.count ? ms.m[i] : NULL;
		size_t nm = ms.count ? ms.n[i] : 0;
		rc = name ? tsdb_label_values(q, name, m, nm, &v, &n, &e)
			  : tsdb_label_names(q, m, nm, &v, &n, &e);
		if (rc)
			break;
		const char **grown = ts_realloc(all, (n_all + n + 1) * sizeof(*all));
		if (!grown) {
			ts_free(v);
			rc = ts_err_set(&e, TS_ENOMEM, "out of memory");
			break;
		}
		all = grown;
		if (n) /* v may be NULL when nothing matched */
			memcpy(all + n_all, v, n * sizeof(*v));
		n_all += n;
		ts_free(v);
	}
	if (rc == TS_OK) {
		if (ms.count > 1) /* one list is sorted and unique already */
			qsort(all, n_all, sizeof(*all), cmp_str);
		web_json w;
		web_api_begin(&w, web_resp_body(resp));
		web_json_array_begin(&w);
		for (size_t i = 0; i < n_all; i++)
			if (i == 0 || strcmp(all[i], all[i - 1]) != 0)
				web_json_string(&w, all[i]);
		web_json_array_end(&w);
		rc = web_api_end(&w);
		if (rc)
			ts_err_set(&e, rc, "response too large");
		else
			web_resp_content_type(resp, "application/json");
	}
	ts_free(all);
	tsdb_querier_close(q);
	match_set_free(&ms);
	return rc ? web_api_error(resp, rc, e.msg) : TS_OK;
}

static int h_labels(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return label_strings(req, resp, ctx, NULL);
}

bool web_time_param(web_req *req, web_resp *resp, const char *name, int64_t dflt, int64_t *out)
{
	const char *v = web_req_param(req, name);
	if (!v || !*v) {
		*out = dflt;
		return true;
	}
	ts_err e = {0};
	if (ts_parse_time_ms(v, strlen(v), out, &e) == TS_OK)
		return true;
	web_resp_error(resp, 400, "bad_data",
		       "invalid parameter \"%s\": Invalid time value for '%s': %s", name, name,
		       e.msg);
	return false;
}

bool web_label_values_name(web_req *req, web_resp *resp, char *name, size_t cap, int *rc)
{
	const char *rest = web_req_path_rest(req); /* "<name>/values" */
	const char *slash = strchr(rest, '/');
	if (!slash || strcmp(slash, "/values") != 0 || slash == rest) {
		*rc = web_resp_error(resp, 404, "not_found", "unknown path %s", web_req_path(req));
		return false;
	}
	size_t n = (size_t)(slash - rest);
	if (n >= cap || !ts_label_name_valid(rest, n)) {
		*rc = web_resp_error(resp, 400, "bad_data", "invalid label name: \"%.*s\"",
				     (int)(n > 200 ? 200 : n), rest);
		return false;
	}
	memcpy(name, rest, n);
	name[n] = '\0';
	return true;
}

static int h_label_values(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	char name[256];
	int rc;
	if (!web_label_values_name(req, resp, name, sizeof(name), &rc))
		return rc;
	return label_strings(req, resp, ctx, name);
}

static int h_series(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	int64_t start, end;
	bool bad;
	time_param(req, resp, "start", MIN_TIME_MS, &start, &bad);
	if (bad)
		return TS_OK;
	time_param(req, resp, "end", MAX_TIME_MS, &end, &bad);
	if (bad)
		return TS_OK;
	match_set ms;
	parse_matches(req, resp, &ms, true, &bad);
	if (bad)
		return TS_OK;
	tsdb_querier *q = NULL;
	ts_err e = {0};
	int rc = tsdb_querier_open(s->opt.db, start, end, &q, &e);
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_array_begin(&w);
	/* Series selected by several match[] are listed once: remember what was written. */
	const tsdb_series **seen = NULL;
	size_t n_seen = 0;
	for (size_t i = 0; rc == TS_OK && i < ms.count; i++) {
		tsdb_series **v = NULL;
		size_t n = 0;
		rc = tsdb_select(q, ms.m[i], ms.n[i], 0, &v, &n, &e);
		if (rc)
			break;
		const tsdb_series **grown = ts_realloc(seen, (n_seen + n + 1) * sizeof(*seen));
		if (!grown) {
			ts_free(v);
			rc = ts_err_set(&e, TS_ENOMEM, "out of memory");
			break;
		}
		seen = grown;
		for (size_t k = 0; k < n; k++) {
			bool dup = false;
			for (size_t j = 0; ms.count > 1 && j < n_seen && !dup; j++)
				dup = seen[j] == v[k];
			if (dup)
				continue;
			seen[n_seen++] = v[k];
			size_t nl;
			const ts_label *l = tsdb_series_labels(v[k], &nl);
			write_labels(&w, l, nl);
		}
		ts_free(v);
	}
	web_json_array_end(&w);
	if (rc == TS_OK && (rc = web_api_end(&w)))
		ts_err_set(&e, rc, "response too large");
	ts_free(seen);
	tsdb_querier_close(q);
	match_set_free(&ms);
	if (rc)
		return web_api_error(resp, rc, e.msg);
	web_resp_content_type(resp, "application/json");
	return TS_OK;
}

int web_api_query_routes(web_server *s, ts_err *err)
{
	static const struct {
		const char *path;
		web_http_handler h;
		bool post;
	} routes[] = {
	    {"/api/v1/query", h_query, true},
	    {"/api/v1/query_range", h_query_range, true},
	    {"/api/v1/series", h_series, true},
	    {"/api/v1/labels", h_labels, true},
	    {"/api/v1/label/*", h_label_values, false},
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!s->opt.db && i >= 2) /* role query: fanout.c serves series and labels */
			continue;
		int rc = web_http_route(s->http, "GET", routes[i].path, routes[i].h, s, err);
		if (rc == TS_OK && routes[i].post)
			rc = web_http_route(s->http, "POST", routes[i].path, routes[i].h, s, err);
		if (rc)
			return rc;
	}
	return TS_OK;
}
