/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fanout_late.c: web/fanout_late.c (a query node's poller of the stores' late-write
 * marks) against the store side, web/api_internal_late.c, over a real HTTP server on
 * 127.0.0.1 with an in-memory store and its query_late_log.
 *
 * A range cache on an engine reading through the fan-out, with the poller as its
 * provider: the second request is a hit; a late write on the store (older than the
 * freshness window) invalidates it and the next answer equals an uncached evaluation; a
 * store restart (a new log: new epoch, same address) drops every entry; a store that
 * cannot be polled makes requests bypass the cache (counted) with correct answers; the
 * poll raises the store's watermark; argument rules of new and set_auth.
 */
#include "web/web_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MIN_MS 60000LL

typedef struct fixture {
	tsdb_db *db;
	query_late_log *log;
	web_server *web;
	int port;
	char addr[64];
} fixture;

static int start_web(fixture *f)
{
	char listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", f->port);
	web_options wo = {.listen = listen,
			  .threads = 2,
			  .max_body_bytes = 1 << 20,
			  .max_connections = 64,
			  .read_timeout_ms = 10000,
			  .db = f->db,
			  .late_log = f->log};
	if (web_start(&wo, &f->web, NULL))
		return -1;
	web_set_ready(f->web, true);
	f->port = web_port(f->web);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%d", f->port);
	return 0;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	tsdb_options o;
	tsdb_options_init(&o);
	o.out_of_order_window_ms = 24 * 60 * MIN_MS;
	if (!f || tsdb_open(&o, &f->db, NULL))
		return -1;
	for (int i = 0; i <= 60; i++) {
		ts_label l[] = {{"__name__", "a"}, {"job", "x"}};
		if (tsdb_append(f->db, l, 2, i * MIN_MS, i, NULL))
			return -1;
	}
	if (query_late_log_new(f->db, 0, &f->log, NULL) || start_web(f))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	web_stop(f->web);
	query_late_log_free(f->log);
	tsdb_close(f->db);
	free(f);
	return 0;
}

typedef struct qnode {
	web_fanout *fan;
	web_late_client *late;
	query_engine *eng;
	query_cache *cache;
} qnode;

static void qnode_new(qnode *q, const char *data_store, const char *const *late_stores,
		      size_t n_late)
{
	assert_int_equal(web_fanout_new(&data_store, 1, 5000, 1000000, &q->fan, NULL), TS_OK);
	assert_int_equal(web_late_client_new(late_stores, n_late, 1000, &q->late, NULL), TS_OK);
	query_options ro;
	query_options_init(&ro);
	ro.source = web_fanout_source(q->fan);
	assert_int_equal(query_engine_new(&ro, &q->eng, NULL), TS_OK);
	query_cache_options co = {.max_bytes = 1 << 20, .freshness_ms = 5 * MIN_MS};
	ts_err err = {0};
	assert_int_equal(query_cache_new(q->eng, &co, &q->cache, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "late-marks provider"));
	co.late = web_late_client_provider(q->late);
	assert_int_equal(query_cache_new(q->eng, &co, &q->cache, NULL), TS_OK);
}

static void qnode_free(qnode *q)
{
	query_cache_free(q->cache);
	query_engine_free(q->eng);
	web_late_client_free(q->late);
	web_fanout_free(q->fan);
}

#define NOW (200 * MIN_MS)

/* sum(a) over [0, 60m] step 1m through the cache; returns the result, owned. */
static query_result *range(qnode *q)
{
	query_result *r = NULL;
	ts_err err = {0};
	if (query_range_cached(q->eng, q->cache, "sum(a)", 6, 0, 60 * MIN_MS, MIN_MS, NOW, &r,
			       &err))
		fail_msg("cached range: %s", err.msg);
	return r;
}

static void assert_equals_uncached(qnode *q, const query_result *a)
{
	query_result *b = NULL;
	assert_int_equal(query_range(q->eng, "sum(a)", 6, 0, 60 * MIN_MS, MIN_MS, &b, NULL), TS_OK);
	assert_int_equal(a->n_series, b->n_series);
	for (size_t i = 0; i < a->n_series; i++) {
		assert_int_equal(a->series[i].n, b->series[i].n);
		assert_memory_equal(a->series[i].t, b->series[i].t, a->series[i].n * 8);
		assert_memory_equal(a->series[i].v, b->series[i].v, a->series[i].n * 8);
	}
	query_result_free(b);
}

static void test_late_client_invalidates(void **state)
{
	fixture *f = *state;
	const char *one[] = {f->addr};
	qnode q = {0};
	qnode_new(&q, f->addr, one, 1);
	query_cache_stats st;

	query_result *r = range(&q);
	assert_int_equal(r->stats.cache, 0);
	query_result_free(r);
	/* The poll raised the store's watermark to the query node's now - freshness. */
	assert_int_equal(tsdb_late_watermark(f->db), NOW - 5 * MIN_MS);
	r = range(&q);
	assert_int_equal(r->stats.cache, 1);
	assert_int_equal(r->series[0].v[30], 30);
	query_result_free(r);

	/* A late series on the store: the next answer includes it. */
	ts_label l2[] = {{"__name__", "a"}, {"job", "late"}};
	assert_int_equal(tsdb_append(f->db, l2, 2, 30 * MIN_MS, 1000, NULL), TS_OK);
	r = range(&q);
	assert_int_equal(r->series[0].v[30], 1030);
	assert_int_equal(r->series[0].v[29], 29);
	assert_equals_uncached(&q, r);
	query_result_free(r);
	query_cache_stats_get(q.cache, &st);
	assert_true(st.invalidations >= 1);
	assert_int_equal(st.bypasses, 0);
	assert_int_equal(st.entries, 1);

	/* A late write to another metric keeps the entry whole. */
	ts_label l3[] = {{"__name__", "other"}, {"job", "x"}};
	assert_int_equal(tsdb_append(f->db, l3, 2, 10 * MIN_MS, 1, NULL), TS_OK);
	uint64_t inv = st.invalidations, hits = st.hits;
	r = range(&q);
	query_result_free(r);
	query_cache_stats_get(q.cache, &st);
	assert_int_equal(st.invalidations, inv);
	assert_int_equal(st.hits, hits + 1);

	/* Store restart: a new log (new epoch) on the same address drops every entry. */
	web_stop(f->web);
	f->web = NULL;
	query_late_log_free(f->log);
	assert_int_equal(query_late_log_new(f->db, 0, &f->log, NULL), TS_OK);
	assert_int_equal(start_web(f), 0);
	r = range(&q);
	assert_int_equal(r->stats.cache, 0);
	assert_equals_uncached(&q, r);
	query_result_free(r);
	r = range(&q);
	assert_int_equal(r->stats.cache, 1);
	query_result_free(r);
	qnode_free(&q);
}

static void test_late_client_store_down_bypasses(void **state)
{
	fixture *f = *state;
	const char *two[] = {f->addr, "127.0.0.1:1"};
	qnode q = {0};
	qnode_new(&q, f->addr, two, 2);
	query_cache_stats st;
	for (int i = 0; i < 2; i++) {
		query_result *r = range(&q);
		assert_int_equal(r->stats.cache, 0);
		assert_equals_uncached(&q, r);
		query_result_free(r);
	}
	query_cache_stats_get(q.cache, &st);
	assert_int_equal(st.bypasses, 2);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.hits + st.misses, 0);
	qnode_free(&q);
}

static void test_late_client_args(void **state)
{
	(void)state;
	web_late_client *c = NULL;
	ts_err err = {0};
	const char *bad[] = {""};
	assert_int_equal(web_late_client_new(bad, 0, 1000, &c, &err), TS_EINVAL);
	assert_int_equal(web_late_client_new(bad, 1, 1000, &c, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "bad store address"));
	const char *ok[] = {"127.0.0.1:1"};
	assert_int_equal(web_late_client_new(ok, 1, 0, &c, &err), TS_EINVAL);
	assert_int_equal(web_late_client_new(ok, 1, 1000, &c, &err), TS_OK);
	assert_int_equal(web_late_client_set_auth(c, "t", "u", "p", &err), TS_EINVAL);
	assert_int_equal(web_late_client_set_auth(c, NULL, "u", NULL, &err), TS_EINVAL);
	assert_int_equal(web_late_client_set_auth(c, NULL, "u", "p", &err), TS_OK);
	assert_int_equal(web_late_client_set_auth(c, "tok", NULL, NULL, &err), TS_OK);
	/* Unreachable: sync fails naming the store, watch promises nothing. */
	const query_late_provider *p = web_late_client_provider(c);
	assert_int_not_equal(p->sync(p->ctx, 0, &err), TS_OK);
	assert_non_null(strstr(err.msg, "127.0.0.1:1"));
	assert_false(p->watch(p->ctx, 0));
	tsdb_late_mark m[TSDB_LATE_MAX_NAMES];
	assert_int_equal(p->drain(p->ctx, m), 0);
	web_late_client_free(c);
	web_late_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_late_client_invalidates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_late_client_store_down_bypasses, setup, teardown),
	    cmocka_unit_test(test_late_client_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
