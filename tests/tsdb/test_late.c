/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_late.c: unit tests of late-write tracking (tsdb/late.c): the watermark only rises,
 * only accepted appends at or below it are recorded, per metric name with the minimum
 * timestamp, drained once per generation, degrading to one all-metrics mark beyond
 * TSDB_LATE_MAX_NAMES names, and concurrent appends versus watch-then-read.
 */
#include "tsdb/tsdb.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static tsdb_db *open_db(void)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.out_of_order_window_ms = 1000000;
	o.cut_check_interval_ms = 0;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static int append(tsdb_db *db, const char *name, const char *v, int64_t t, double val)
{
	ts_label l[2] = {{TS_METRIC_NAME, name}, {"i", v}};
	return tsdb_append(db, l, 2, t, val, NULL);
}

static const tsdb_late_mark *find_mark(const tsdb_late_mark *m, size_t n, const char *name)
{
	uint64_t h = tsdb_late_name_hash(name);
	for (size_t i = 0; i < n; i++)
		if (m[i].name_hash == h)
			return &m[i];
	return NULL;
}

static void test_tsdb_late_watch_monotonic(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	assert_int_equal(tsdb_late_watermark(db), INT64_MIN);
	tsdb_late_watch(db, 1000);
	assert_int_equal(tsdb_late_watermark(db), 1000);
	tsdb_late_watch(db, 500); /* never falls */
	assert_int_equal(tsdb_late_watermark(db), 1000);
	tsdb_late_watch(db, INT64_MAX);
	assert_int_equal(tsdb_late_watermark(db), INT64_MAX);
	assert_int_not_equal(tsdb_late_name_hash(""), TSDB_LATE_ALL);
	assert_int_not_equal(tsdb_late_name_hash("a"), tsdb_late_name_hash("b"));
	tsdb_close(db);
}

static void test_tsdb_late_drain_marks(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	tsdb_late_mark m[TSDB_LATE_MAX_NAMES];
	/* Without a watermark nothing is late. */
	assert_int_equal(append(db, "a", "1", 100, 1), TS_OK);
	assert_int_equal(tsdb_late_drain(db, m), 0);
	assert_int_equal(append(db, "a", "1", 10000, 1), TS_OK);
	tsdb_late_watch(db, 5000);
	/* Newer than the watermark: not late. */
	assert_int_equal(append(db, "a", "1", 10001, 1), TS_OK);
	assert_int_equal(append(db, "a", "2", 5001, 1), TS_OK);
	assert_int_equal(tsdb_late_drain(db, m), 0);
	assert_int_equal(tsdb_late_count(db), 0);
	/* At or below it: late, per name, minimum timestamp; out of order and new series. */
	assert_int_equal(append(db, "a", "1", 4000, 2), TS_OK);
	assert_int_equal(append(db, "a", "1", 3000, 2), TS_OK);
	assert_int_equal(append(db, "a", "3", 4500, 2), TS_OK); /* new series, in order */
	assert_int_equal(append(db, "b", "1", 5000, 2), TS_OK); /* == watermark */
	/* Exact duplicates and rejected samples change nothing: not recorded. */
	assert_int_equal(append(db, "c", "1", 7000, 1), TS_OK);
	assert_int_equal(append(db, "c", "1", 7000, 1), TS_OK);
	assert_int_equal(append(db, "a", "1", 100, 1), TS_OK);          /* duplicate */
	assert_int_equal(append(db, "a", "1", 100, 9), TS_EOUTOFORDER); /* conflict */
	assert_int_equal(tsdb_late_count(db), 4);
	size_t n = tsdb_late_drain(db, m);
	assert_int_equal(n, 2);
	const tsdb_late_mark *a = find_mark(m, n, "a"), *b = find_mark(m, n, "b");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->min_t_ms, 3000);
	assert_int_equal(b->min_t_ms, 5000);
	/* A drain ends the generation. */
	assert_int_equal(tsdb_late_drain(db, m), 0);
	assert_int_equal(append(db, "a", "1", 4100, 3), TS_OK);
	n = tsdb_late_drain(db, m);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].name_hash, tsdb_late_name_hash("a"));
	assert_int_equal(m[0].min_t_ms, 4100);
	tsdb_close(db);
}

static void test_tsdb_late_overflow(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	tsdb_late_watch(db, INT64_MAX);
	tsdb_late_mark m[TSDB_LATE_MAX_NAMES];
	char name[32];
	for (int i = 0; i < TSDB_LATE_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(append(db, name, "x", 1000 + i, 1), TS_OK);
	}
	size_t n = tsdb_late_drain(db, m);
	assert_int_equal(n, TSDB_LATE_MAX_NAMES); /* exactly full: still per name */
	assert_int_equal(find_mark(m, n, "n7")->min_t_ms, 1007);
	for (int i = 0; i <= TSDB_LATE_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(append(db, name, "y", 2000 - i, 1), TS_OK);
	}
	assert_int_equal(append(db, "n3", "z", 50, 1), TS_OK);
	n = tsdb_late_drain(db, m);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].name_hash, TSDB_LATE_ALL);
	assert_int_equal(m[0].min_t_ms, 50);
	/* The next generation is per name again. */
	assert_int_equal(append(db, "n1", "z", 60, 1), TS_OK);
	n = tsdb_late_drain(db, m);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].name_hash, tsdb_late_name_hash("n1"));
	tsdb_close(db);
}

/*
 * Watch-then-read never misses a sample: a writer appends increasing timestamps to a
 * fresh series while the reader repeatedly raises the watermark to some t and then reads;
 * every sample at or below t that the read did not see must be in the next drain.
 */
typedef struct race {
	tsdb_db *db;
	int64_t n;
} race;

static void *writer(void *arg)
{
	race *r = arg;
	for (int64_t t = 1; t <= r->n; t++)
		append(r->db, "w", "1", t, (double)t);
	return NULL;
}

/* Newest sample of w at or after from (one read), or from - 1 if there is none. */
static int64_t newest_visible(tsdb_db *db, int64_t from)
{
	tsdb_querier *q = NULL;
	assert_int_equal(tsdb_querier_open(db, from, INT64_MAX, &q, NULL), TS_OK);
	ts_matcher mt;
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_EQ, TS_METRIC_NAME, "w", NULL), TS_OK);
	tsdb_series **s = NULL;
	size_t n = 0;
	int64_t newest = from - 1;
	assert_int_equal(tsdb_select(q, &mt, 1, 0, &s, &n, NULL), TS_OK);
	if (n) {
		tsdb_iter *it = NULL;
		assert_int_equal(tsdb_iter_open(q, s[0], from, INT64_MAX, &it, NULL), TS_OK);
		int64_t t;
		double v;
		while (tsdb_iter_next(it, &t, &v) == 1)
			newest = t;
		tsdb_iter_close(it);
	}
	ts_free(s);
	ts_matcher_fini(&mt);
	tsdb_querier_close(q);
	return newest;
}

static void test_tsdb_late_watch_then_read(void **state)
{
	(void)state;
	tsdb_db *db = open_db();
	race r = {db, 200000};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, writer, &r), 0);
	tsdb_late_mark m[TSDB_LATE_MAX_NAMES];
	int64_t w = 0;
	for (int i = 0; i < 200; i++) {
		w += 500;
		tsdb_late_watch(db, w);
		int64_t seen = newest_visible(db, w - 1000);
		if (seen < 0)
			seen = 0; /* the writer's first timestamp is 1 */
		if (seen >= w)
			continue; /* the read covers everything up to w */
		/* Samples in (seen, w] were appended after the read, which came after the
		 * watch: once the writer is past w, the drain must report them. */
		int64_t deadline = ts_mono_ns() + 10 * 1000000000LL;
		while (newest_visible(db, w) < w && ts_mono_ns() < deadline)
			;
		assert_true(newest_visible(db, w) >= w);
		size_t n = tsdb_late_drain(db, m);
		assert_int_equal(n, 1);
		if (m[0].min_t_ms > seen + 1)
			fail_msg("w %lld: read saw up to %lld, late marks start at %lld",
				 (long long)w, (long long)seen, (long long)m[0].min_t_ms);
	}
	pthread_join(th, NULL);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_late_watch_monotonic),
	    cmocka_unit_test(test_tsdb_late_drain_marks),
	    cmocka_unit_test(test_tsdb_late_overflow),
	    cmocka_unit_test(test_tsdb_late_watch_then_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
