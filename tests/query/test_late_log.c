/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_late_log.c: query/late_log.c, a store's late-write marks for several readers, on a
 * real in-memory store.
 *
 * Readers see every late write once, independently of each other (an HTTP reader's
 * position and the store's own cache); first contact, a foreign epoch, a position ahead
 * of the log and a position that fell off the ring are resets; reads bounded by cap go
 * on from next_seq; the local provider collapses more than TSDB_LATE_MAX_NAMES marks into
 * one and answers a reset as {TSDB_LATE_ALL, INT64_MIN}; and a range cache reading its
 * marks through the provider invalidates on a late write exactly like the tsdb-direct
 * cache (results equal to an uncached query_range).
 */
#include "query/query.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MIN_MS 60000LL

static tsdb_db *open_db(void)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.out_of_order_window_ms = 24 * 60 * MIN_MS;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static void put(tsdb_db *db, const char *name, int64_t t, double v)
{
	ts_label l[] = {{"__name__", name}, {"job", "x"}};
	ts_err err = {0};
	if (tsdb_append(db, l, 2, t, v, &err))
		fail_msg("append %s at %lld: %s", name, (long long)t, err.msg);
}

static void test_late_log_readers(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	query_late_log *l = NULL, *other = NULL;
	assert_int_equal(query_late_log_new(db, 8, &l, NULL), TS_OK);
	assert_int_not_equal(query_late_log_epoch(l), 0);
	uint64_t ep = query_late_log_epoch(l);
	tsdb_late_mark m[16];
	query_late_read r;

	/* First contact (epoch 0) is a reset at the newest seq. */
	query_late_log_read(l, 0, 0, m, 16, &r);
	assert_true(r.is_reset);
	assert_int_equal(r.epoch, ep);
	assert_int_equal(r.next_seq, 0);

	for (int i = 0; i < 10; i++)
		put(db, "a", (i + 1) * MIN_MS, i);
	query_late_log_read(l, ep, 0, m, 16, &r);
	assert_false(r.is_reset);
	assert_int_equal(r.n, 0); /* nothing watched yet: nothing is late */

	query_late_log_watch(l, 10 * MIN_MS);
	put(db, "a", 3 * MIN_MS + 1, 1);
	put(db, "b", 5 * MIN_MS, 1);
	put(db, "a", 2 * MIN_MS + 1, 1);
	put(db, "a", 11 * MIN_MS, 1); /* newer than the watermark: not late */
	query_late_log_read(l, ep, 0, m, 16, &r);
	assert_false(r.is_reset);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.next_seq, 2);
	uint64_t ha = tsdb_late_name_hash("a"), hb = tsdb_late_name_hash("b");
	for (size_t i = 0; i < r.n; i++) {
		assert_true(m[i].name_hash == ha || m[i].name_hash == hb);
		assert_int_equal(m[i].min_t_ms, m[i].name_hash == ha ? 2 * MIN_MS + 1 : 5 * MIN_MS);
	}
	/* The same marks again for a reader at 0; nothing new for one at 2. */
	query_late_log_read(l, ep, 0, m, 16, &r);
	assert_int_equal(r.n, 2);
	query_late_log_read(l, ep, 2, m, 16, &r);
	assert_false(r.is_reset);
	assert_int_equal(r.n, 0);

	/* The local reader sees them too, once. */
	const query_late_provider *p = query_late_log_provider(l);
	tsdb_late_mark dm[TSDB_LATE_MAX_NAMES];
	assert_true(p->watch(p->ctx, 10 * MIN_MS));
	assert_null(p->sync);
	assert_int_equal(p->drain(p->ctx, dm), 2);
	assert_int_equal(p->drain(p->ctx, dm), 0);

	/* A bounded read goes on from next_seq. */
	put(db, "c", 4 * MIN_MS, 1);
	query_late_log_read(l, ep, 0, m, 2, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.next_seq, 2);
	query_late_log_read(l, ep, r.next_seq, m, 2, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(m[0].name_hash, tsdb_late_name_hash("c"));
	assert_int_equal(r.next_seq, 3);

	/* Foreign epoch, a position ahead of the log: reset. */
	assert_int_equal(query_late_log_new(db, 8, &other, NULL), TS_OK);
	assert_int_not_equal(query_late_log_epoch(other), ep);
	query_late_log_free(other);
	query_late_log_read(l, ep + 1, 3, m, 16, &r);
	assert_true(r.is_reset);
	assert_int_equal(r.n, 0);
	query_late_log_read(l, ep, 4, m, 16, &r);
	assert_true(r.is_reset);

	/* 8 more marks (one per read): a reader at 3 still has all 8 (the ring holds 8), a
	 * reader at 2 lost one and resets, and so does the local reader (at 2). */
	char name[8];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		put(db, name, 1 * MIN_MS, 1);
		query_late_log_read(l, ep, 11, m, 16, &r); /* pumps */
	}
	query_late_log_read(l, ep, 3, m, 16, &r);
	assert_false(r.is_reset);
	assert_int_equal(r.n, 8);
	assert_int_equal(r.next_seq, 11);
	query_late_log_read(l, ep, 2, m, 16, &r);
	assert_true(r.is_reset);
	assert_int_equal(r.next_seq, 11);
	assert_int_equal(p->drain(p->ctx, dm), 1);
	assert_int_equal(dm[0].name_hash, TSDB_LATE_ALL);
	assert_int_equal(dm[0].min_t_ms, INT64_MIN);
	assert_int_equal(p->drain(p->ctx, dm), 0);
	query_late_log_free(l);
	tsdb_close(db);
}

static void test_late_log_local_collapses(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	query_late_log *l = NULL;
	assert_int_equal(query_late_log_new(db, 1024, &l, NULL), TS_OK);
	const query_late_provider *p = query_late_log_provider(l);
	tsdb_late_mark m[4], dm[TSDB_LATE_MAX_NAMES];
	query_late_read r;
	put(db, "x", 100 * MIN_MS, 1);
	p->watch(p->ctx, 100 * MIN_MS);
	char name[16];
	for (int i = 0; i < TSDB_LATE_MAX_NAMES + 20; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		put(db, name, (50 + i % 7) * MIN_MS, 1);
		query_late_log_read(l, 0, 0, m, 4, &r); /* pumps: one mark each */
	}
	assert_int_equal(p->drain(p->ctx, dm), 1);
	assert_int_equal(dm[0].name_hash, TSDB_LATE_ALL);
	assert_int_equal(dm[0].min_t_ms, 50 * MIN_MS);
	assert_int_equal(query_late_log_new(NULL, 0, &l, NULL), TS_EINVAL);
	query_late_log_free(NULL);
	query_late_log_free(l);
	tsdb_close(db);
}

/* Exact equality of two results. */
static void assert_same(const query_result *a, const query_result *b)
{
	assert_int_equal(a->n_series, b->n_series);
	for (size_t i = 0; i < a->n_series; i++) {
		assert_int_equal(a->series[i].n, b->series[i].n);
		assert_memory_equal(a->series[i].t, b->series[i].t, a->series[i].n * 8);
		assert_memory_equal(a->series[i].v, b->series[i].v, a->series[i].n * 8);
	}
}

static void test_late_log_cache_invalidates(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	for (int i = 0; i <= 60; i++)
		put(db, "a", i * MIN_MS, i);
	query_late_log *l = NULL;
	assert_int_equal(query_late_log_new(db, 0, &l, NULL), TS_OK);
	query_options qo;
	query_options_init(&qo);
	qo.db = db;
	query_engine *e = NULL;
	assert_int_equal(query_engine_new(&qo, &e, NULL), TS_OK);
	query_cache_options co = {
	    .max_bytes = 1 << 20, .freshness_ms = 5 * MIN_MS, .late = query_late_log_provider(l)};
	query_cache *c = NULL;
	assert_int_equal(query_cache_new(e, &co, &c, NULL), TS_OK);
	const char *q = "sum(a)";
	int64_t now = 200 * MIN_MS;
	query_result *x = NULL, *y = NULL;
	query_cache_stats st;
	assert_int_equal(
	    query_range_cached(e, c, q, strlen(q), 0, 60 * MIN_MS, MIN_MS, now, &x, NULL), TS_OK);
	query_result_free(x);
	assert_int_equal(
	    query_range_cached(e, c, q, strlen(q), 0, 60 * MIN_MS, MIN_MS, now, &x, NULL), TS_OK);
	assert_int_equal(x->stats.cache, 1);
	query_result_free(x);

	/* A second series, late: the next answer includes it. */
	ts_label l2[] = {{"__name__", "a"}, {"job", "y"}};
	assert_int_equal(tsdb_append(db, l2, 2, 30 * MIN_MS, 1000, NULL), TS_OK);
	assert_int_equal(
	    query_range_cached(e, c, q, strlen(q), 0, 60 * MIN_MS, MIN_MS, now, &x, NULL), TS_OK);
	assert_int_equal(query_range(e, q, strlen(q), 0, 60 * MIN_MS, MIN_MS, &y, NULL), TS_OK);
	assert_same(x, y);
	assert_int_equal(x->series[0].v[30], 1030);
	query_cache_stats_get(c, &st);
	assert_true(st.invalidations >= 1);
	assert_int_equal(st.bypasses, 0);
	query_result_free(x);
	query_result_free(y);

	/* An HTTP reader meanwhile saw the same mark. */
	tsdb_late_mark m[8];
	query_late_read r;
	query_late_log_read(l, query_late_log_epoch(l), 0, m, 8, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(m[0].name_hash, tsdb_late_name_hash("a"));
	assert_int_equal(m[0].min_t_ms, 30 * MIN_MS);

	/* A provider must have watch and drain. */
	query_options so;
	query_options_init(&so);
	query_cache *bad = NULL;
	query_cache_options none = {.max_bytes = 1 << 20, .freshness_ms = 0};
	query_engine *e2 = NULL;
	so.db = db;
	assert_int_equal(query_engine_new(&so, &e2, NULL), TS_OK);
	query_late_provider half = {.drain = NULL};
	none.late = &half;
	ts_err err = {0};
	assert_int_equal(query_cache_new(e2, &none, &bad, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "watch and drain"));
	query_engine_free(e2);

	query_cache_free(c);
	query_engine_free(e);
	query_late_log_free(l);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_late_log_readers),
	    cmocka_unit_test(test_late_log_local_collapses),
	    cmocka_unit_test(test_late_log_cache_invalidates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
