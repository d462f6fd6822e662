/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_limits.c: tests for tsdb/limits.c (the series limiter): known series always pass,
 * new ones until the total or per-metric bound, messages naming limit and metric, seeding
 * from series already in the store, hash 0, no bounds, many threads at once.
 */
#include "tsdb/tsdb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static tsdb_db *open_db(void)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.n_partitions = 1;
	o.cut_check_interval_ms = 0;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

/* Admit metric{i="<i>"}. */
static int admit(tsdb_limiter *l, const char *metric, int i, ts_err *err)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", i);
	ts_label ls[2] = {{"__name__", metric}, {"i", v}};
	return tsdb_limiter_admit(l, ls, 2, ts_series_hash(ls, 2), err);
}

static void test_tsdb_limiter_admit_per_metric(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	tsdb_limiter *l = NULL;
	assert_int_equal(tsdb_limiter_new(db, 0, 3, &l, NULL), TS_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(admit(l, "cpu", i, NULL), TS_OK);
	ts_err e = {0};
	assert_int_equal(admit(l, "cpu", 3, &e), TS_ELIMIT);
	assert_non_null(strstr(e.msg, "max_series_per_metric 3 reached for metric 'cpu'"));
	/* known series keep passing, other metrics have their own count */
	for (int i = 0; i < 3; i++)
		assert_int_equal(admit(l, "cpu", i, NULL), TS_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(admit(l, "mem", i, NULL), TS_OK);
	assert_int_equal(admit(l, "mem", 9, NULL), TS_ELIMIT);
	assert_int_equal(tsdb_limiter_n_series(l), 6);
	tsdb_limiter_free(l);
	tsdb_close(db);
}

static void test_tsdb_limiter_admit_total(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	tsdb_limiter *l = NULL;
	assert_int_equal(tsdb_limiter_new(db, 5, 0, &l, NULL), TS_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(admit(l, i % 2 ? "a" : "b", i, NULL), TS_OK);
	ts_err e = {0};
	assert_int_equal(admit(l, "c", 0, &e), TS_ELIMIT);
	assert_non_null(strstr(e.msg, "max_series 5 reached: new series for metric 'c'"));
	assert_int_equal(admit(l, "a", 1, NULL), TS_OK);
	tsdb_limiter_free(l);
	tsdb_close(db);
}

static void test_tsdb_limiter_new_seeds_from_store(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	int64_t now = ts_now_ms();
	for (int i = 0; i < 4; i++) {
		char v[32];
		snprintf(v, sizeof(v), "%d", i);
		ts_label ls[2] = {{"__name__", "up"}, {"i", v}};
		assert_int_equal(tsdb_append(db, ls, 2, now, 1.0, NULL), TS_OK);
	}
	/* an old series (no sample in the last hour) is not active */
	ts_label old[2] = {{"__name__", "up"}, {"i", "old"}};
	assert_int_equal(tsdb_append(db, old, 2, now - 3 * 3600 * 1000, 1.0, NULL), TS_OK);
	tsdb_limiter *l = NULL;
	assert_int_equal(tsdb_limiter_new(db, 0, 5, &l, NULL), TS_OK);
	assert_int_equal(tsdb_limiter_n_series(l), 4);
	assert_int_equal(admit(l, "up", 2, NULL), TS_OK); /* stored: known */
	assert_int_equal(admit(l, "up", 7, NULL), TS_OK); /* the fifth */
	assert_int_equal(admit(l, "up", 8, NULL), TS_ELIMIT);
	tsdb_limiter_free(l);
	tsdb_close(db);
}

static void test_tsdb_limiter_admit_hash_zero_and_unbounded(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	tsdb_limiter *l = NULL;
	assert_int_equal(tsdb_limiter_new(db, 0, 0, &l, NULL), TS_OK);
	ts_label ls[1] = {{"__name__", "z"}};
	assert_int_equal(tsdb_limiter_admit(l, ls, 1, 0, NULL), TS_OK);
	assert_int_equal(tsdb_limiter_admit(l, ls, 1, 0, NULL), TS_OK);
	assert_int_equal(tsdb_limiter_n_series(l), 1);
	for (int i = 0; i < 20000; i++) /* grows the sets through many resizes */
		assert_int_equal(admit(l, "many", i, NULL), TS_OK);
	assert_int_equal(tsdb_limiter_n_series(l), 20001);
	tsdb_limiter_free(l);
	tsdb_limiter_free(NULL);
	tsdb_close(db);
}

typedef struct worker {
	tsdb_limiter *l;
	int base, n_ok;
} worker;

static void *race(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < 2000; i++)
		if (admit(w->l, "race", w->base + i % 500, NULL) == TS_OK)
			w->n_ok++;
	return NULL;
}

static void test_tsdb_limiter_admit_concurrent(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	tsdb_limiter *l = NULL;
	assert_int_equal(tsdb_limiter_new(db, 0, 1000, &l, NULL), TS_OK);
	pthread_t t[4];
	worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (worker){l, i * 500, 0};
		pthread_create(&t[i], NULL, race, &w[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* exactly 1000 distinct series admitted across threads, never more */
	assert_int_equal(tsdb_limiter_n_series(l), 1000);
	tsdb_limiter_free(l);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_limiter_admit_per_metric),
	    cmocka_unit_test(test_tsdb_limiter_admit_total),
	    cmocka_unit_test(test_tsdb_limiter_new_seeds_from_store),
	    cmocka_unit_test(test_tsdb_limiter_admit_hash_zero_and_unbounded),
	    cmocka_unit_test(test_tsdb_limiter_admit_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
