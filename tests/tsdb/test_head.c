/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_head.c: tests for tsdb/head.c: series registry, appends, out-of-order window,
 * duplicates, concurrent appenders.
 */
#include "tsdb/tsdb_int.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static tsdb_db *open_db(int64_t ooo_ms)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.out_of_order_window_ms = ooo_ms;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static const ts_label cpu_a[] = {{"__name__", "cpu"}, {"host", "a"}};
static const ts_label cpu_b[] = {{"__name__", "cpu"}, {"host", "b"}};

/* Read every sample of the series with labels l into t/v; returns the count. */
static size_t read_all(tsdb_db *db, const ts_label *l, size_t n, int64_t *t, double *v, size_t cap)
{
	tsdb_series *s = NULL;
	assert_int_equal(tsdb_head_get_or_create(db, l, n, &s, NULL), TS_OK);
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	tsdb_iter *it;
	assert_int_equal(tsdb_iter_open(q, s, INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
	size_t k = 0;
	while (k < cap && tsdb_iter_next(it, &t[k], &v[k]) == 1)
		k++;
	tsdb_iter_close(it);
	tsdb_querier_close(q);
	return k;
}

static void test_tsdb_head_get_or_create_same_series(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	tsdb_series *a1, *a2, *b;
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &a1, NULL), TS_OK);
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &a2, NULL), TS_OK);
	assert_int_equal(tsdb_head_get_or_create(db, cpu_b, 2, &b, NULL), TS_OK);
	assert_ptr_equal(a1, a2);
	assert_ptr_not_equal(a1, b);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 2);
	tsdb_close(db);
}

static void test_tsdb_head_get_or_create_many_series_grow(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	char val[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(val, sizeof(val), "h%d", i);
		ts_label l[] = {{"__name__", "m"}, {"host", val}};
		assert_int_equal(tsdb_append(db, l, 2, 1000 + i, i, NULL), TS_OK);
	}
	for (int i = 0; i < 20000; i += 997) {
		snprintf(val, sizeof(val), "h%d", i);
		ts_label l[] = {{"__name__", "m"}, {"host", val}};
		int64_t t[4];
		double v[4];
		assert_int_equal(read_all(db, l, 2, t, v, 4), 1);
		assert_int_equal(t[0], 1000 + i);
		assert_true(v[0] == i);
	}
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 20000);
	assert_int_equal(st.n_samples, 20000);
	tsdb_close(db);
}

static void test_tsdb_append_in_order(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000, i * 0.5, NULL), TS_OK);
	int64_t t[1100];
	double v[1100];
	assert_int_equal(read_all(db, cpu_a, 2, t, v, 1100), 1000);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(t[i], i * 1000);
		assert_true(v[i] == i * 0.5);
	}
	tsdb_close(db);
}

static void test_tsdb_append_duplicate_dropped(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, 1.5, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, 1.5, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_samples, 1);
	assert_int_equal(st.duplicates_dropped, 1);
	tsdb_close(db);
}

static void test_tsdb_append_conflicting_value_rejected(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	ts_err err = {0};
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, 1.5, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, 2.5, &err), TS_EOUTOFORDER);
	assert_non_null(strstr(err.msg, "duplicate sample"));
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.out_of_order_rejected, 1);
	tsdb_close(db);
}

static void test_tsdb_append_nan_bits_preserved(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	uint64_t stale_bits = 0x7ff0000000000002ULL, back;
	double stale;
	memcpy(&stale, &stale_bits, 8);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, stale, NULL), TS_OK);
	/* A stale marker again at the same time is a duplicate, a plain NaN is a conflict. */
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, stale, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, NAN, NULL), TS_EOUTOFORDER);
	int64_t t[2];
	double v[2];
	assert_int_equal(read_all(db, cpu_a, 2, t, v, 2), 1);
	memcpy(&back, &v[0], 8);
	assert_true(back == stale_bits);
	tsdb_close(db);
}

static void test_tsdb_append_out_of_order_within_window(void **state)
{
	(void)state;
	tsdb_db *db = open_db(60000);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 100000, 1, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 160000, 3, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 130000, 2, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 100000, 1, NULL), TS_OK); /* duplicate */
	/* Exactly at the window edge is accepted, one ms past it is not. */
	assert_int_equal(tsdb_append(db, cpu_a, 2, 100001, 9, NULL), TS_OK);
	ts_err err = {0};
	assert_int_equal(tsdb_append(db, cpu_a, 2, 99999, 0, &err), TS_EOUTOFORDER);
	assert_non_null(strstr(err.msg, "out-of-order window"));
	int64_t t[8];
	double v[8];
	assert_int_equal(read_all(db, cpu_a, 2, t, v, 8), 4);
	int64_t want_t[] = {100000, 100001, 130000, 160000};
	double want_v[] = {1, 9, 2, 3};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(t[i], want_t[i]);
		assert_true(v[i] == want_v[i]);
	}
	tsdb_close(db);
}

static void test_tsdb_append_out_of_order_no_window(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 2000, 1, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1999, 1, NULL), TS_EOUTOFORDER);
	tsdb_close(db);
}

static void test_tsdb_append_extreme_timestamps(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	assert_int_equal(tsdb_append(db, cpu_a, 2, INT64_MIN, -1, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 0, 0, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, INT64_MAX, 1, NULL), TS_OK);
	int64_t t[4];
	double v[4];
	assert_int_equal(read_all(db, cpu_a, 2, t, v, 4), 3);
	assert_true(t[0] == INT64_MIN && t[2] == INT64_MAX);
	tsdb_close(db);
}

static void test_tsdb_append_alloc_failure(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	ts_err err = {0};
	ts_alloc_fail_after(0);
	int rc = tsdb_append(db, cpu_a, 2, 1000, 1, &err);
	ts_alloc_fail_after(-1);
	assert_int_equal(rc, TS_ENOMEM);
	/* The store still works afterwards. */
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1000, 1, NULL), TS_OK);
	tsdb_close(db);
}

typedef struct thread_arg {
	tsdb_db *db;
	int id;
} thread_arg;

static void *appender(void *p)
{
	thread_arg *a = p;
	char host[16];
	snprintf(host, sizeof(host), "t%d", a->id);
	for (int i = 0; i < 5000; i++) {
		char inst[16];
		snprintf(inst, sizeof(inst), "i%d", i % 50);
		ts_label l[] = {{"__name__", "m"}, {"host", host}, {"inst", inst}};
		if (tsdb_append(a->db, l, 3, i, i, NULL) != TS_OK)
			return (void *)1;
	}
	return NULL;
}

static void test_tsdb_append_concurrent_threads(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	pthread_t th[4];
	thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (thread_arg){db, i};
		pthread_create(&th[i], NULL, appender, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		assert_null(r);
	}
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 200);
	assert_int_equal(st.n_samples, 20000);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_head_get_or_create_same_series),
	    cmocka_unit_test(test_tsdb_head_get_or_create_many_series_grow),
	    cmocka_unit_test(test_tsdb_append_in_order),
	    cmocka_unit_test(test_tsdb_append_duplicate_dropped),
	    cmocka_unit_test(test_tsdb_append_conflicting_value_rejected),
	    cmocka_unit_test(test_tsdb_append_nan_bits_preserved),
	    cmocka_unit_test(test_tsdb_append_out_of_order_within_window),
	    cmocka_unit_test(test_tsdb_append_out_of_order_no_window),
	    cmocka_unit_test(test_tsdb_append_extreme_timestamps),
	    cmocka_unit_test(test_tsdb_append_alloc_failure),
	    cmocka_unit_test(test_tsdb_append_concurrent_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
