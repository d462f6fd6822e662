/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_head.c: tests for tsdb/head.c: series registry, appends, out-of-order window,
 * duplicates, concurrent appenders.
 */
#include "tsdb/tsdb_int.h"

#include <math.h>
#include <pthread.h>
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
	ts_matcher m[8];
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ts_matcher_init(&m[i], TS_MATCH_EQ, l[i].name, l[i].value, NULL),
				 TS_OK);
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	tsdb_series **sel;
	size_t n_sel;
	assert_int_equal(tsdb_select(q, m, n, 0, &sel, &n_sel, NULL), TS_OK);
	size_t k = 0;
	for (size_t i = 0; i < n_sel; i++) {
		size_t nl;
		const ts_label *sl = tsdb_series_labels(sel[i], &nl);
		if (ts_labels_cmp(sl, nl, l, n) != 0)
			continue;
		tsdb_iter *it;
		assert_int_equal(tsdb_iter_open(q, sel[i], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
		while (k < cap && tsdb_iter_next(it, &t[k], &v[k]) == 1)
			k++;
		tsdb_iter_close(it);
	}
	ts_free(sel);
	tsdb_querier_close(q);
	for (size_t i = 0; i < n; i++)
		ts_matcher_fini(&m[i]);
	return k;
}

static void test_tsdb_head_get_or_create_same_series(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	tsdb_hseries *a1, *a2, *b;
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &a1, NULL), TS_OK);
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &a2, NULL), TS_OK);
	assert_int_equal(tsdb_head_get_or_create(db, cpu_b, 2, &b, NULL), TS_OK);
	assert_ptr_equal(a1, a2);
	assert_ptr_not_equal(a1, b);
	tsdb_hseries_release(db, a1);
	tsdb_hseries_release(db, a2);
	tsdb_hseries_release(db, b);
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

static uint64_t dbits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static void test_tsdb_head_series_append_ooo_rechunk(void **state)
{
	(void)state;
	tsdb_db *db = open_db(3600 * 1000);
	/* In order every 10 s for 2000 samples (17 chunks), then fill the odd 5 s slots of
	 * the last 20 minutes out of order: several rechunks. */
	for (int i = 0; i < 2000; i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 10000LL, i, NULL), TS_OK);
	for (int i = 1999; i >= 1880; i--)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 10000LL + 5000, -i, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_true(st.rechunks >= 1);
	assert_true(st.head_ooo_samples <= TSDB_OOO_MAX);
	assert_int_equal(st.n_samples, 2120);
	static int64_t t[2200];
	static double v[2200];
	assert_int_equal(read_all(db, cpu_a, 2, t, v, 2200), 2120);
	for (int k = 1; k < 2120; k++)
		assert_true(t[k] > t[k - 1]);
	for (int k = 0; k < 2120; k++) {
		int64_t i = t[k] / 10000;
		assert_true(v[k] == (t[k] % 10000 ? -(double)i : (double)i));
	}
	/* Duplicates of samples now in chunks, sealed or open, and in the OOO buffer. */
	assert_int_equal(tsdb_append(db, cpu_a, 2, 10000, 1, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1999 * 10000LL + 5000, -1999, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1999 * 10000LL, 1999, NULL), TS_OK);
	ts_err err = {0};
	assert_int_equal(tsdb_append(db, cpu_a, 2, 1945 * 10000LL + 5000, 7, &err), TS_EOUTOFORDER);
	assert_non_null(strstr(err.msg, "different value"));
	tsdb_stats_get(db, &st);
	assert_int_equal(st.duplicates_dropped, 3);
	assert_int_equal(st.n_samples, 2120);
	tsdb_close(db);
}

static void test_tsdb_head_series_append_chunk_boundaries(void **state)
{
	(void)state;
	/* Chunks are cut at 120 samples and at block_duration-aligned boundaries. */
	tsdb_options o;
	tsdb_options_init(&o);
	o.block_duration_ms = 1000;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	tsdb_hseries *s;
	for (int i = 0; i < 300; i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, 500 + i * 10, i, NULL), TS_OK);
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &s, NULL), TS_OK);
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < s->n_sealed; i++) {
		const tsdb_hchunk *c = s->sealed[i];
		assert_true(c->n <= TSDB_CHUNK_MAX_SAMPLES);
		assert_int_equal(tsdb_floor_div(c->min_t, 1000), tsdb_floor_div(c->max_t, 1000));
		if (i)
			assert_true(s->sealed[i - 1]->max_t < c->min_t);
	}
	assert_int_equal(s->n_sealed, 3); /* 500..990 = 50 samples, 1000..1990 = 100, ... */
	pthread_mutex_unlock(&s->lock);
	tsdb_hseries_release(db, s);
	tsdb_close(db);
}

static void test_tsdb_head_snap_take_gc(void **state)
{
	(void)state;
	tsdb_db *db = open_db(600000);
	for (int i = 0; i < 500; i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
	tsdb_hseries *s;
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &s, NULL), TS_OK);
	/* Snapshot everything <= 239999: two sealed chunks. */
	tsdb_hsnap snap;
	assert_int_equal(tsdb_head_snap_take(s, INT64_MIN, 239999, &snap, NULL), TS_OK);
	assert_int_equal(snap.n_sealed_drop, 2);
	assert_false(snap.open_drop);
	tsdb_samples out = {0};
	assert_int_equal(tsdb_head_snap_read(&snap, INT64_MIN, 239999, &out, NULL), TS_OK);
	assert_int_equal(out.n, 240);
	tsdb_samples_free(&out);
	assert_false(tsdb_head_series_gc(db, s, &snap));
	tsdb_head_snap_release(db, &snap);
	int64_t lo, hi;
	assert_true(tsdb_head_series_range(s, &lo, &hi));
	assert_int_equal(lo, 240000);
	assert_int_equal(hi, 499000);
	/* A rechunk between snapshot and GC keeps the data (gen changed). */
	assert_int_equal(tsdb_head_snap_take(s, INT64_MIN, INT64_MAX, &snap, NULL), TS_OK);
	for (int i = 430; i < 430 + TSDB_OOO_MAX + 1; i++) /* all behind the newest */
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL + 500, 0, NULL), TS_OK);
	assert_false(tsdb_head_series_gc(db, s, &snap));
	tsdb_head_snap_release(db, &snap);
	/* Unchanged: everything goes, the series is empty. */
	assert_int_equal(tsdb_head_snap_take(s, INT64_MIN, INT64_MAX, &snap, NULL), TS_OK);
	assert_true(tsdb_head_series_gc(db, s, &snap));
	tsdb_head_snap_release(db, &snap);
	assert_false(tsdb_head_series_range(s, &lo, &hi));
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_samples, 0);
	/* The window still refers to the newest sample ever accepted. */
	assert_int_equal(tsdb_append(db, cpu_a, 2, -200000, 0, NULL), TS_EOUTOFORDER);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 499000 - 600000, 0, NULL), TS_OK);
	tsdb_hseries_release(db, s);
	tsdb_close(db);
}

static void test_tsdb_stats_get_memory_per_series(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	char host[32];
	for (int h = 0; h < 1000; h++) {
		snprintf(host, sizeof(host), "host-%04d", h);
		ts_label l[] = {{"__name__", "cpu"}, {"host", host}};
		for (int i = 0; i < 121; i++)
			assert_int_equal(tsdb_append(db, l, 2, i * 15000LL, i % 7, NULL), TS_OK);
	}
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 1000);
	assert_int_equal(st.head_chunks, 2000); /* one sealed + one open each */
	assert_true(st.head_bytes_per_series > 200 && st.head_bytes_per_series < 1500);
	assert_true(st.head_chunk_bytes < st.head_bytes);
	tsdb_close(db);
}

typedef struct rw_arg {
	tsdb_db *db;
	_Atomic int64_t written; /* samples 0..written-1 are appended */
	_Atomic bool done;
	int bad;
} rw_arg;

static void *rw_appender(void *p)
{
	rw_arg *a = p;
	for (int64_t i = 0; i < 20000; i++) {
		for (int k = 0; k < 4; k++) {
			char h[8];
			snprintf(h, sizeof(h), "h%d", k);
			ts_label l[] = {{"__name__", "m"}, {"host", h}};
			if (tsdb_append(a->db, l, 2, i * 10, (double)i, NULL) != TS_OK)
				a->bad++;
		}
		atomic_store(&a->written, i + 1);
	}
	atomic_store(&a->done, true);
	return NULL;
}

static void *rw_reader(void *p)
{
	rw_arg *a = p;
	ts_matcher m;
	ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "m", NULL);
	while (!atomic_load(&a->done)) {
		int64_t before = atomic_load(&a->written);
		tsdb_querier *q;
		tsdb_series **v;
		size_t n;
		if (tsdb_querier_open(a->db, INT64_MIN, INT64_MAX, &q, NULL) ||
		    tsdb_select(q, &m, 1, 0, &v, &n, NULL)) {
			a->bad++;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			tsdb_iter *it;
			if (tsdb_iter_open(q, v[i], INT64_MIN, INT64_MAX, &it, NULL)) {
				a->bad++;
				continue;
			}
			int64_t t, expect = 0;
			double x;
			/* A consistent prefix: 0, 10, 20, ... with value t / 10, at least as long
			 * as what was written before the query started. */
			while (tsdb_iter_next(it, &t, &x) == 1) {
				if (t != expect * 10 || x != (double)expect)
					a->bad++;
				expect++;
			}
			if (expect < before)
				a->bad++;
			tsdb_iter_close(it);
		}
		ts_free(v);
		tsdb_querier_close(q);
	}
	ts_matcher_fini(&m);
	return NULL;
}

static void test_tsdb_append_concurrent_readers(void **state)
{
	(void)state;
	tsdb_db *db = open_db(0);
	rw_arg a = {db, 0, false, 0};
	pthread_t w, r[2];
	pthread_create(&w, NULL, rw_appender, &a);
	pthread_create(&r[0], NULL, rw_reader, &a);
	pthread_create(&r[1], NULL, rw_reader, &a);
	pthread_join(w, NULL);
	pthread_join(r[0], NULL);
	pthread_join(r[1], NULL);
	assert_int_equal(a.bad, 0);
	tsdb_close(db);
}

static void test_tsdb_append_stale_marker_in_chunk_duplicate(void **state)
{
	(void)state;
	tsdb_db *db = open_db(600000);
	double stale;
	uint64_t sb = 0x7ff0000000000002ULL;
	memcpy(&stale, &sb, 8);
	for (int i = 0; i < 200; i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i == 50 ? stale : 1.0, NULL),
				 TS_OK);
	/* Inside a sealed chunk now: same bits are a duplicate, a plain NaN a conflict. */
	assert_int_equal(tsdb_append(db, cpu_a, 2, 50000, stale, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 50000, NAN, NULL), TS_EOUTOFORDER);
	int64_t t[256];
	double v[256];
	assert_int_equal(read_all(db, cpu_a, 2, t, v, 256), 200);
	assert_true(dbits(v[50]) == sb);
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
	    cmocka_unit_test(test_tsdb_head_series_append_ooo_rechunk),
	    cmocka_unit_test(test_tsdb_head_series_append_chunk_boundaries),
	    cmocka_unit_test(test_tsdb_head_snap_take_gc),
	    cmocka_unit_test(test_tsdb_stats_get_memory_per_series),
	    cmocka_unit_test(test_tsdb_append_concurrent_readers),
	    cmocka_unit_test(test_tsdb_append_stale_marker_in_chunk_duplicate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
