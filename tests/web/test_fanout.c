/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fanout.c: web/fanout.c (the query role's series source) and the store side it
 * reads, web/api_internal.c, over a real HTTP server on 127.0.0.1 with an in-memory store.
 *
 * Decoding is checked on hand-built answers (every truncation is TS_ECORRUPT); merging on
 * overlapping series (duplicate timestamps kept once, the first store's value); the
 * fan-out against the real server listed once and twice (a store listed twice is the
 * "several stores hold the same series" case: the answer must equal the single one),
 * against an unreachable address (partial result with the warning, or TS_EUNAVAIL); and
 * the PromQL engine reading through the fan-out must give bit-identical results to the
 * engine reading the store directly. The store here has no partitioned log, so its status
 * makes the fan-out read it whole; store credentials are checked for their argument rules.
 * Replica planning: test_fanout_plan.c and tests/integration/test_cluster_replicas.sh.
 */
#include "web/web_int.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define STALE_BITS 0x7ff0000000000002ULL
#define N_SAMPLES  11

typedef struct fixture {
	tsdb_db *db;
	web_server *web;
	char addr[64]; /* "127.0.0.1:<port>" */
} fixture;

static double stale_nan(void)
{
	uint64_t b = STALE_BITS;
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	tsdb_options o;
	tsdb_options_init(&o);
	if (!f || tsdb_open(&o, &f->db, NULL))
		return -1;
	char iv[8];
	for (int k = 0; k < 3; k++) {
		snprintf(iv, sizeof(iv), "%d", k);
		ts_label l[] = {{"__name__", "a"}, {"i", iv}, {"job", "x"}};
		for (int j = 0; j < N_SAMPLES - 1; j++)
			if (tsdb_append(f->db, l, 3, 1000 * (j + 1), k * 100 + j * (k + 1), NULL))
				return -1;
		/* series 0 ends with a staleness marker: its NaN bits must travel exactly */
		if (tsdb_append(f->db, l, 3, 1000 * N_SAMPLES, k == 0 ? stale_nan() : 7.5, NULL))
			return -1;
	}
	ts_label q[] = {{"__name__", "b"}, {"v", "q\"b\\s\nx"}};
	if (tsdb_append(f->db, q, 2, 5000, 42, NULL))
		return -1;
	web_options wo = {.listen = "127.0.0.1:0",
			  .threads = 2,
			  .max_body_bytes = 1 << 20,
			  .max_connections = 64,
			  .read_timeout_ms = 10000,
			  .db = f->db};
	if (web_start(&wo, &f->web, NULL))
		return -1;
	web_set_ready(f->web, true);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%d", web_port(f->web));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	web_stop(f->web);
	tsdb_close(f->db);
	free(f);
	return 0;
}

/* ---------------------------------------------------------------- decode, merge */

/* A select answer: series "m"{k="v"} with n samples t = base + i, v = i. */
static void build_answer(ts_buf *b, int64_t base, size_t n)
{
	ts_buf_init(b, 1 << 20);
	ts_buf_append(b, WEB_INTERNAL_SERIES_MAGIC, 4);
	ts_buf_put_u32le(b, WEB_INTERNAL_VERSION);
	ts_buf_put_u32le(b, 1);
	ts_buf_put_u16le(b, 2);
	const char *s[] = {"__name__", "m", "k", "v"};
	for (int i = 0; i < 4; i++) {
		ts_buf_put_u16le(b, (uint16_t)strlen(s[i]));
		ts_buf_append(b, s[i], strlen(s[i]));
	}
	ts_buf_put_u32le(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		double v = (double)i;
		uint64_t bits;
		memcpy(&bits, &v, sizeof(bits));
		ts_buf_put_u64le(b, (uint64_t)(base + (int64_t)i));
		ts_buf_put_u64le(b, bits);
	}
	ts_buf_append(b, WEB_INTERNAL_END_MAGIC, 4);
}

static void test_web_rseries_decode_ok_and_truncated(void **state)
{
	(void)state;
	ts_buf b;
	build_answer(&b, 100, 3);
	web_rseries **v = NULL;
	size_t n = 0;
	assert_int_equal(web_rseries_decode(b.data, b.len, 4, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0]->n_labels, 2);
	assert_string_equal(v[0]->labels[0].name, "__name__");
	assert_string_equal(v[0]->labels[1].value, "v");
	assert_int_equal(v[0]->n, 3);
	assert_int_equal(v[0]->t[2], 102);
	assert_true(v[0]->v[2] == 2.0);
	assert_int_equal(v[0]->store, 4);
	web_rseries_free_all(v, n);
	/* every cut is refused (the end marker is gone or lands inside the body) */
	for (size_t cut = 0; cut < b.len; cut++) {
		v = NULL;
		n = 0;
		ts_err e = {0};
		assert_int_equal(web_rseries_decode(b.data, cut, 0, &v, &n, &e), TS_ECORRUPT);
		assert_non_null(strstr(e.msg, "store answer:"));
		web_rseries_free_all(v, n);
	}
	/* a wrong magic, version, or out-of-order samples */
	char *bad = malloc(b.len);
	memcpy(bad, b.data, b.len);
	bad[0] = 'X';
	ts_err e = {0};
	v = NULL;
	n = 0;
	assert_int_equal(web_rseries_decode(bad, b.len, 0, &v, &n, &e), TS_ECORRUPT);
	assert_non_null(strstr(e.msg, "bad magic at byte 0"));
	memcpy(bad, b.data, b.len);
	bad[4] = 9;
	assert_int_equal(web_rseries_decode(bad, b.len, 0, &v, &n, &e), TS_ECORRUPT);
	assert_non_null(strstr(e.msg, "unknown version"));
	memcpy(bad, b.data, b.len);
	size_t samples_at = b.len - 4 - 3 * 16;
	memcpy(bad + samples_at + 16, bad + samples_at, 8); /* t[1] = t[0] */
	assert_int_equal(web_rseries_decode(bad, b.len, 0, &v, &n, &e), TS_ECORRUPT);
	assert_non_null(strstr(e.msg, "not in time order"));
	web_rseries_free_all(v, n);
	free(bad);
	ts_buf_free(&b);
}

typedef struct collected {
	size_t n_series;
	int64_t t[16];
	double v[16];
	size_t n;
} collected;

static int collect(void *arg, const ts_label *l, size_t nl, const int64_t *t, const double *v,
		   size_t n)
{
	(void)l;
	(void)nl;
	collected *c = arg;
	c->n_series++;
	if (n > 16)
		return TS_ELIMIT;
	memcpy(c->t, t, n * sizeof(*t));
	memcpy(c->v, v, n * sizeof(*v));
	c->n = n;
	return TS_OK;
}

static void test_web_rseries_merge_dedups_timestamps(void **state)
{
	(void)state;
	ts_buf b0, b1;
	build_answer(&b0, 10, 3); /* t 10,11,12 v 0,1,2 */
	build_answer(&b1, 11, 4); /* t 11,12,13,14 v 0,1,2,3 */
	web_rseries **v = NULL;
	size_t n = 0;
	/* store 1's answer first: the merge orders by store, not by arrival */
	assert_int_equal(web_rseries_decode(b1.data, b1.len, 1, &v, &n, NULL), TS_OK);
	assert_int_equal(web_rseries_decode(b0.data, b0.len, 0, &v, &n, NULL), TS_OK);
	collected c = {0};
	assert_int_equal(web_rseries_merge(v, n, 0, collect, &c, NULL), TS_OK);
	assert_int_equal(c.n_series, 1);
	assert_int_equal(c.n, 5);
	const int64_t want_t[] = {10, 11, 12, 13, 14};
	const double want_v[] = {0, 1, 2, 2, 3}; /* 11 and 12 from store 0 */
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(c.t[i], want_t[i]);
		assert_true(c.v[i] == want_v[i]);
	}
	/* the bound counts distinct series, not answers */
	ts_err e = {0};
	assert_int_equal(web_rseries_merge(v, n, 1, collect, &c, &e), TS_OK);
	web_rseries_free_all(v, n);
	ts_buf_free(&b0);
	ts_buf_free(&b1);
}

/* ---------------------------------------------------------------- fan-out over HTTP */

typedef struct gathered {
	size_t n_series;
	size_t n_samples;
	bool saw_stale; /* the staleness marker arrived with its exact bits */
	bool saw_escaped;
} gathered;

static int gather(void *arg, const ts_label *l, size_t nl, const int64_t *t, const double *v,
		  size_t n)
{
	gathered *g = arg;
	g->n_series++;
	g->n_samples += n;
	for (size_t i = 1; i < n; i++)
		assert_true(t[i] > t[i - 1]);
	for (size_t i = 0; i < n; i++) {
		uint64_t bits;
		memcpy(&bits, &v[i], sizeof(bits));
		if (bits == STALE_BITS)
			g->saw_stale = true;
	}
	for (size_t i = 0; i < nl; i++)
		if (!strcmp(l[i].name, "v") && !strcmp(l[i].value, "q\"b\\s\nx"))
			g->saw_escaped = true;
	return TS_OK;
}

static int fan_select(fixture *f, const char *const *stores, size_t n_stores, const char *sel,
		      gathered *g, char *warning, ts_err *err)
{
	web_fanout *fan = NULL;
	int rc = web_fanout_new(stores, n_stores, 5000, 1000000, &fan, err);
	if (rc)
		return rc;
	ts_matcher *m = NULL;
	size_t nm = 0;
	assert_int_equal(query_parse_selector(sel, strlen(sel), &m, &nm, NULL), TS_OK);
	const query_source *src = web_fanout_source(fan);
	memset(g, 0, sizeof(*g));
	warning[0] = '\0';
	rc = src->select(src->ctx, m, nm, 0, 100000, 0, gather, g, warning, 256, err);
	query_matchers_free(m, nm);
	web_fanout_free(fan);
	(void)f;
	return rc;
}

static void test_fanout_select_once_and_twice(void **state)
{
	fixture *f = *state;
	const char *one[] = {f->addr};
	const char *two[] = {f->addr, f->addr};
	gathered g1, g2;
	char w[256];
	assert_int_equal(fan_select(f, one, 1, "a", &g1, w, NULL), TS_OK);
	assert_int_equal(g1.n_series, 3);
	assert_int_equal(g1.n_samples, 3 * N_SAMPLES);
	assert_true(g1.saw_stale);
	assert_string_equal(w, "");
	/* the same store twice: every series and sample arrives twice and is merged */
	assert_int_equal(fan_select(f, two, 2, "a", &g2, w, NULL), TS_OK);
	assert_int_equal(g2.n_series, g1.n_series);
	assert_int_equal(g2.n_samples, g1.n_samples);
	assert_string_equal(w, "");
	/* matchers are sent as selector text: quotes, backslashes, newlines survive */
	assert_int_equal(fan_select(f, one, 1, "{v=\"q\\\"b\\\\s\\nx\"}", &g1, w, NULL), TS_OK);
	assert_int_equal(g1.n_series, 1);
	assert_true(g1.saw_escaped);
	assert_int_equal(fan_select(f, one, 1, "{__name__=~\"a|b\",i!=\"1\"}", &g1, w, NULL),
			 TS_OK);
	assert_int_equal(g1.n_series, 3); /* a{i=0}, a{i=2}, b */
	assert_int_equal(fan_select(f, one, 1, "nothing_here", &g1, w, NULL), TS_OK);
	assert_int_equal(g1.n_series, 0);
}

static void test_fanout_select_store_down(void **state)
{
	fixture *f = *state;
	const char *mixed[] = {"127.0.0.1:1", f->addr};
	const char *down[] = {"127.0.0.1:1"};
	gathered g;
	char w[256];
	ts_err e = {0};
	assert_int_equal(fan_select(f, mixed, 2, "a", &g, w, &e), TS_OK);
	assert_int_equal(g.n_series, 3);
	assert_string_equal(w, "store 127.0.0.1:1 unavailable: partial result");
	assert_int_equal(fan_select(f, down, 1, "a", &g, w, &e), TS_EUNAVAIL);
	assert_non_null(strstr(e.msg, "no store answered"));
	/* a store's 4xx fails the query with the store's message */
	web_fanout *fan = NULL;
	const char *one[] = {f->addr};
	assert_int_equal(web_fanout_new(one, 1, 5000, 1000000, &fan, NULL), TS_OK);
	ts_matcher *m = NULL;
	size_t nm = 0;
	assert_int_equal(query_parse_selector("a", 1, &m, &nm, NULL), TS_OK);
	const query_source *src = web_fanout_source(fan);
	assert_int_equal(src->select(src->ctx, m, nm, 0, 100000, 2, gather, &g, w, 256, &e),
			 TS_ELIMIT);
	assert_non_null(strstr(e.msg, "answered 422"));
	query_matchers_free(m, nm);
	web_fanout_free(fan);
	/* argument errors */
	assert_int_equal(web_fanout_new(one, 0, 5000, 1000000, &fan, &e), TS_EINVAL);
	assert_int_equal(web_fanout_new(one, 1, 0, 1000000, &fan, &e), TS_EINVAL);
	assert_int_equal(web_fanout_new(one, 1, 5000, 0, &fan, &e), TS_EINVAL);
	/* a store over the sample bound refuses: the query fails, it is not cut short */
	assert_int_equal(web_fanout_new(one, 1, 5000, 10, &fan, NULL), TS_OK);
	assert_int_equal(query_parse_selector("a", 1, &m, &nm, NULL), TS_OK);
	src = web_fanout_source(fan);
	assert_int_equal(src->select(src->ctx, m, nm, 0, 100000, 0, gather, &g, w, 256, &e),
			 TS_ELIMIT);
	assert_non_null(strstr(e.msg, "max_samples"));
	query_matchers_free(m, nm);
	web_fanout_free(fan);
	const char *empty[] = {""};
	assert_int_equal(web_fanout_new(empty, 1, 5000, 1000000, &fan, &e), TS_EINVAL);
	web_fanout_free(NULL);
}

/* Store credentials: a token or a user and password, never both; sent on every request
 * (a store without an auth: section ignores them). */
static void test_fanout_set_auth(void **state)
{
	fixture *f = *state;
	const char *one[] = {f->addr};
	web_fanout *fan = NULL;
	ts_err e = {0};
	assert_int_equal(web_fanout_new(one, 1, 5000, 1000000, &fan, NULL), TS_OK);
	assert_int_equal(web_fanout_set_auth(fan, "t", "u", "p", &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "not both"));
	assert_int_equal(web_fanout_set_auth(fan, NULL, "u", NULL, &e), TS_EINVAL);
	assert_int_equal(web_fanout_set_auth(fan, NULL, NULL, "p", &e), TS_EINVAL);
	assert_int_equal(web_fanout_set_auth(fan, NULL, "u", "p", &e), TS_OK);
	assert_int_equal(web_fanout_set_auth(fan, "token", NULL, NULL, &e), TS_OK);
	assert_int_equal(web_fanout_set_auth(fan, NULL, NULL, NULL, &e), TS_OK);
	assert_int_equal(web_fanout_set_auth(fan, "token", NULL, NULL, &e), TS_OK);
	ts_matcher *m = NULL;
	size_t nm = 0;
	gathered g;
	char w[256] = "";
	assert_int_equal(query_parse_selector("a", 1, &m, &nm, NULL), TS_OK);
	const query_source *src = web_fanout_source(fan);
	memset(&g, 0, sizeof(g));
	assert_int_equal(src->select(src->ctx, m, nm, 0, 100000, 0, gather, &g, w, 256, &e), TS_OK);
	assert_int_equal(g.n_series, 3);
	assert_string_equal(w, "");
	query_matchers_free(m, nm);
	web_fanout_free(fan);
}

/* The engine over the fan-out answers exactly as the engine over the store. */
static void test_fanout_engine_equals_local(void **state)
{
	fixture *f = *state;
	const char *two[] = {f->addr, f->addr};
	web_fanout *fan = NULL;
	assert_int_equal(web_fanout_new(two, 2, 5000, 1000000, &fan, NULL), TS_OK);
	query_options lo, ro;
	query_options_init(&lo);
	lo.db = f->db;
	query_options_init(&ro);
	ro.source = web_fanout_source(fan);
	query_engine *local = NULL, *remote = NULL;
	assert_int_equal(query_engine_new(&lo, &local, NULL), TS_OK);
	assert_int_equal(query_engine_new(&ro, &remote, NULL), TS_OK);
	const char *exprs[] = {
	    "a", "sum(a)",     "rate(a[5s])", "count_over_time(a[1m])", "max by (i) (a) * 2",
	    "b", "a offset 2s"};
	for (size_t k = 0; k < sizeof(exprs) / sizeof(exprs[0]); k++) {
		query_result *a = NULL, *b = NULL;
		size_t len = strlen(exprs[k]);
		assert_int_equal(query_range(local, exprs[k], len, 1000, 12000, 1000, &a, NULL),
				 TS_OK);
		assert_int_equal(query_range(remote, exprs[k], len, 1000, 12000, 1000, &b, NULL),
				 TS_OK);
		assert_int_equal(a->n_series, b->n_series);
		assert_true(a->n_series > 0);
		assert_string_equal(b->warning, "");
		for (size_t i = 0; i < a->n_series; i++) {
			assert_int_equal(a->series[i].n_labels, b->series[i].n_labels);
			for (size_t j = 0; j < a->series[i].n_labels; j++)
				assert_string_equal(a->series[i].labels[j].value,
						    b->series[i].labels[j].value);
			assert_int_equal(a->series[i].n, b->series[i].n);
			assert_memory_equal(a->series[i].t, b->series[i].t,
					    a->series[i].n * sizeof(int64_t));
			assert_memory_equal(a->series[i].v, b->series[i].v,
					    a->series[i].n * sizeof(double));
		}
		assert_int_equal(a->stats.samples_loaded, b->stats.samples_loaded);
		query_result_free(a);
		query_result_free(b);
	}
	/* a partial answer carries the source's warning into the result */
	query_engine_free(remote);
	web_fanout_free(fan);
	const char *mixed[] = {f->addr, "127.0.0.1:1"};
	assert_int_equal(web_fanout_new(mixed, 2, 5000, 1000000, &fan, NULL), TS_OK);
	ro.source = web_fanout_source(fan);
	assert_int_equal(query_engine_new(&ro, &remote, NULL), TS_OK);
	query_result *r = NULL;
	assert_int_equal(query_instant(remote, "count(a)", 8, 5000, &r, NULL), TS_OK);
	assert_int_equal(r->n_series, 1);
	assert_true(r->series[0].v[0] == 3);
	assert_string_equal(r->warning, "store 127.0.0.1:1 unavailable: partial result");
	query_result_free(r);
	/* an engine needs a store or a source */
	query_options none;
	query_options_init(&none);
	ts_err e = {0};
	query_engine *bad = NULL;
	assert_int_equal(query_engine_new(&none, &bad, &e), TS_EINVAL);
	query_engine_free(remote);
	query_engine_free(local);
	web_fanout_free(fan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_web_rseries_decode_ok_and_truncated),
	    cmocka_unit_test(test_web_rseries_merge_dedups_timestamps),
	    cmocka_unit_test(test_fanout_select_once_and_twice),
	    cmocka_unit_test(test_fanout_select_store_down),
	    cmocka_unit_test(test_fanout_set_auth),
	    cmocka_unit_test(test_fanout_engine_equals_local),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
