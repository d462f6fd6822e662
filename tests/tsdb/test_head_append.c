/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_head_append.c: tests for tsdb/head_append.c's run append, tsdb_append_series:
 * the same results as one tsdb_append per sample (differential test over random runs
 * of in-order, out-of-order, duplicate and conflicting samples, which drives the
 * open-chunk lookup cursor), rejection counts and messages, allocation failures;
 * interleaved writers against a reference model (the buffered tail, settling, rechunks,
 * tsdb_append_series_hashed), a cut's GC with a buffered tail; series references
 * (tsdb_series_ref_get/_append/_put): the same results as tsdb_append_series, TS_EBUSY
 * once a partial cut removed the emptied series, and a fresh reference after that.
 * Single-sample appends, the out-of-order buffer and rechunks are tested in test_head.c.
 */
#include "tsdb/tsdb_int.h"
#include "support/test_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Samples of the series matching label=value (head and blocks): into t/v (first cap)
 * when t is not NULL; returns how many were read (all of them when t is NULL). */
static size_t read_matching(tsdb_db *db, const char *label, const char *value, int64_t *t,
			    double *v, size_t cap)
{
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, label, value, NULL), TS_OK);
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	tsdb_series **sel;
	size_t n_sel, k = 0;
	assert_int_equal(tsdb_select(q, &m, 1, 0, &sel, &n_sel, NULL), TS_OK);
	for (size_t i = 0; i < n_sel; i++) {
		tsdb_iter *it;
		int64_t t1;
		double v1;
		assert_int_equal(tsdb_iter_open(q, sel[i], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
		while ((!t || k < cap) && tsdb_iter_next(it, t ? &t[k] : &t1, t ? &v[k] : &v1) == 1)
			k++;
		tsdb_iter_close(it);
	}
	ts_free(sel);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	return k;
}

/* Every sample of cpu_a into t/v; returns the count. */
static size_t read_all(tsdb_db *db, int64_t *t, double *v, size_t cap)
{
	return read_matching(db, "host", "a", t, v, cap);
}

/*
 * Runs of 1-12 samples: mostly in order, some older (within and beyond the window),
 * exact duplicates and conflicting values, often ascending inside a run (the cursor's
 * case) and sometimes not. Both stores must end with the same samples and counters.
 */
static void test_tsdb_append_series_matches_single_appends(void **state)
{
	(void)state;
	enum { N = 6000 };
	tsdb_db *a = open_db(600000), *b = open_db(600000);
	static int64_t t[N], got_t[2][N + 1];
	static double v[N], got_v[2][N + 1];
	uint64_t x = 4242;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	int64_t newest = 1700000000000;
	for (size_t i = 0; i < N; i++) {
		uint64_t r = NEXT() % 10;
		if (r < 5) {
			newest += 1000 + (int64_t)(NEXT() % 3);
			t[i] = newest;
		} else if (r < 8) {
			t[i] = newest - (int64_t)(NEXT() % 400) * 1000; /* maybe an existing t */
		} else if (r < 9) {
			t[i] = newest - 700000; /* beyond the window */
		} else {
			t[i] = i ? t[i - 1] : newest; /* repeat */
		}
		/* values from t, so a repeated t is usually an exact duplicate */
		v[i] = NEXT() % 7 == 0 ? (double)i : (double)(t[i] % 1000003);
	}
	size_t rej_a = 0, rej_b = 0;
	for (size_t i = 0; i < N;) {
		size_t run = 1 + NEXT() % 12;
		if (run > N - i)
			run = N - i;
		if (NEXT() % 3) { /* ascending inside the run */
			for (size_t p = 1; p < run; p++)
				for (size_t q = p; q > 0 && t[i + q - 1] > t[i + q]; q--) {
					int64_t tt = t[i + q];
					double vv = v[i + q];
					t[i + q] = t[i + q - 1];
					v[i + q] = v[i + q - 1];
					t[i + q - 1] = tt;
					v[i + q - 1] = vv;
				}
		}
		size_t done = 99, rejected = 99;
		assert_int_equal(
		    tsdb_append_series(a, cpu_a, 2, &t[i], &v[i], run, &done, &rejected, NULL),
		    TS_OK);
		assert_int_equal(done, run);
		rej_a += rejected;
		for (size_t k = 0; k < run; k++) {
			int rc = tsdb_append(b, cpu_a, 2, t[i + k], v[i + k], NULL);
			if (rc == TS_EOUTOFORDER)
				rej_b++;
			else
				assert_int_equal(rc, TS_OK);
		}
		i += run;
	}
#undef NEXT
	assert_int_equal(rej_a, rej_b);
	assert_true(rej_a > 100); /* the mix did exercise rejections */
	size_t na = read_all(a, got_t[0], got_v[0], N + 1);
	size_t nb = read_all(b, got_t[1], got_v[1], N + 1);
	assert_int_equal(na, nb);
	assert_memory_equal(got_t[0], got_t[1], na * sizeof(int64_t));
	assert_memory_equal(got_v[0], got_v[1], na * sizeof(double));
	tsdb_stats sa, sb;
	tsdb_stats_get(a, &sa);
	tsdb_stats_get(b, &sb);
	assert_int_equal(sa.samples_appended, sb.samples_appended);
	assert_int_equal(sa.duplicates_dropped, sb.duplicates_dropped);
	assert_int_equal(sa.out_of_order_rejected, sb.out_of_order_rejected);
	assert_true(sa.duplicates_dropped > 10);
	tsdb_close(a);
	tsdb_close(b);
}

/* Rejections inside a run: counted, the first one's message kept, the rest applied. */
static void test_tsdb_append_series_rejections(void **state)
{
	(void)state;
	tsdb_db *db = open_db(10000);
	int64_t t0[] = {1000, 2000, 3000, 40000};
	double v0[] = {1, 2, 3, 4};
	size_t done, rejected;
	assert_int_equal(tsdb_append_series(db, cpu_a, 2, t0, v0, 4, &done, &rejected, NULL),
			 TS_OK);
	assert_int_equal(rejected, 0);
	/* 2000 conflicts, 3000 duplicates, 500 is beyond the window, 35000 is new */
	int64_t t1[] = {2000, 3000, 500, 35000, 50000};
	double v1[] = {9, 3, 1, 5, 6};
	ts_err err = {0};
	assert_int_equal(tsdb_append_series(db, cpu_a, 2, t1, v1, 5, &done, &rejected, &err),
			 TS_OK);
	assert_int_equal(done, 5);
	assert_int_equal(rejected, 2);
	assert_non_null(strstr(err.msg, "different value"));
	int64_t t[16];
	double v[16];
	size_t n = read_all(db, t, v, 16);
	int64_t want_t[] = {1000, 2000, 3000, 35000, 40000, 50000};
	double want_v[] = {1, 2, 3, 5, 4, 6};
	assert_int_equal(n, 6);
	assert_memory_equal(t, want_t, sizeof(want_t));
	assert_memory_equal(v, want_v, sizeof(want_v));
	/* an empty run does nothing */
	assert_int_equal(tsdb_append_series(db, cpu_a, 2, t1, v1, 0, &done, &rejected, NULL),
			 TS_OK);
	assert_int_equal(done + rejected, 0);
	tsdb_close(db);
}

/* TS_ENOMEM stops the run at *n_done; appending the whole run again completes it. */
static void test_tsdb_append_series_alloc_failure(void **state)
{
	(void)state;
	enum { N = 400 };
	static int64_t t[N], got_t[N + 1];
	static double v[N], got_v[N + 1];
	for (size_t i = 0; i < N; i++) {
		t[i] = 1000 * (int64_t)i;
		v[i] = (double)i * 0.5;
	}
	for (int64_t fail = 0;; fail++) {
		tsdb_db *db = open_db(0);
		size_t done = 0, rejected = 0;
		ts_alloc_fail_after(fail);
		int rc = tsdb_append_series(db, cpu_a, 2, t, v, N, &done, &rejected, NULL);
		ts_alloc_fail_after(-1);
		assert_int_equal(rejected, 0);
		if (rc != TS_OK) {
			assert_int_equal(rc, TS_ENOMEM);
			assert_true(done < N);
			assert_int_equal(
			    tsdb_append_series(db, cpu_a, 2, t, v, N, &done, &rejected, NULL),
			    TS_OK);
			assert_int_equal(rejected, 0);
		}
		assert_int_equal(done, N);
		assert_int_equal(read_all(db, got_t, got_v, N + 1), N);
		assert_memory_equal(got_t, t, sizeof(t));
		assert_memory_equal(got_v, v, sizeof(v));
		tsdb_close(db);
		if (rc == TS_OK)
			break;
		assert_true(fail < 10000);
	}
}

/* ---------------------------------------------------------------- interleaved writers */

/* Reference model of one series: accepted samples by timestamp (open addressing). */
enum { MODEL_SLOTS = 1 << 14 };
typedef struct model {
	int64_t t[MODEL_SLOTS];
	uint64_t bits[MODEL_SLOTS];
	bool used[MODEL_SLOTS];
	int64_t newest, window_ms;
	bool has_newest;
	uint64_t accepted, dups, rejected;
} model;

static uint64_t bits_of(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static size_t model_slot(const model *m, int64_t t)
{
	size_t i = (size_t)((uint64_t)t * 0x9E3779B97F4A7C15ull >> 50) & (MODEL_SLOTS - 1);
	while (m->used[i] && m->t[i] != t)
		i = (i + 1) & (MODEL_SLOTS - 1);
	return i;
}

/* What the store must answer for (t, v), applied to the model. */
static int model_append(model *m, int64_t t, double v)
{
	size_t i = model_slot(m, t);
	if (m->used[i]) {
		if (m->bits[i] == bits_of(v)) {
			m->dups++;
			return TS_OK;
		}
		m->rejected++;
		return TS_EOUTOFORDER;
	}
	if (m->has_newest && t < m->newest && m->newest - t > m->window_ms) {
		m->rejected++;
		return TS_EOUTOFORDER;
	}
	m->used[i] = true;
	m->t[i] = t;
	m->bits[i] = bits_of(v);
	m->accepted++;
	if (!m->has_newest || t > m->newest)
		m->newest = t;
	m->has_newest = true;
	return TS_OK;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Read the series back and compare it with the model, sample by sample (value bits). */
static void model_check(tsdb_db *db, model *m)
{
	static int64_t t[MODEL_SLOTS], want[MODEL_SLOTS];
	static double v[MODEL_SLOTS];
	size_t n = read_all(db, t, v, MODEL_SLOTS), k = 0;
	for (size_t i = 0; i < MODEL_SLOTS; i++)
		if (m->used[i])
			want[k++] = m->t[i];
	qsort(want, k, sizeof(*want), cmp_i64);
	assert_int_equal(n, k);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t[i], want[i]);
		assert_true(bits_of(v[i]) == m->bits[model_slot(m, t[i])]);
	}
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.samples_appended, m->accepted);
	assert_int_equal(st.duplicates_dropped, m->dups);
	assert_int_equal(st.out_of_order_rejected, m->rejected);
	assert_int_equal(st.n_samples, m->accepted);
	assert_true(st.head_ooo_samples <= TSDB_OOO_MAX);
}

/*
 * Four writers posting consecutive 10 s slices: each group of 4 scrapes reaches the
 * series in a random order, across chunk and 2 h range boundaries. Phase 1 (only that)
 * must never rechunk: samples behind the newest land in the buffered tail. Phase 2 adds
 * exact duplicates, conflicting values, staleness markers, samples far behind (older
 * than the chunks' newest, so rechunks) and beyond the window; every answer, the data
 * read back and the counters must match the model.
 */
static void test_tsdb_append_series_interleaved_writers(void **state)
{
	(void)state;
	static model m;
	memset(&m, 0, sizeof(m));
	m.window_ms = 3600 * 1000;
	tsdb_db *db = open_db(m.window_ms);
	uint64_t x = 99;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	const int64_t t0 = 1700000000000;
	int k = 0;
	for (int phase = 1; phase <= 2; phase++) {
		for (int g = 0; g < 600; g++, k += 4) {
			int perm[4] = {0, 1, 2, 3};
			for (int j = 3; j > 0; j--) {
				int r = (int)(NEXT() % (uint64_t)(j + 1)), tmp = perm[j];
				perm[j] = perm[r];
				perm[r] = tmp;
			}
			for (int j = 0; j < 4; j++) {
				int64_t t = t0 + (int64_t)(k + perm[j]) * 10000;
				double v = (double)((k + perm[j]) % 97);
				if (phase == 2) {
					uint64_t r = NEXT() % 40, back = NEXT() % 40;
					uint64_t far = NEXT() % 300, ms = NEXT() % 9999;
					if (r == 0) { /* repeat an earlier scrape: a duplicate */
						t = t0 + (int64_t)(k - (int)back) * 10000;
						v = (double)((t - t0) / 10000 % 97);
					} else if (r == 1) { /* the same, with another value */
						t = t0 + (int64_t)(k - (int)back) * 10000;
						v = -1;
					} else if (r == 2) { /* far behind, between scrapes */
						t = t0 + (int64_t)(k - 5 - (int)far) * 10000 +
						    (int64_t)ms + 1;
					} else if (r ==
						   3) { /* staleness marker (own NaN payload) */
						memcpy(&v, &(uint64_t){0x7ff0000000000002ull}, 8);
					} else if (r == 4) { /* beyond the out-of-order window */
						t = m.newest - m.window_ms - 1 - (int64_t)ms;
					}
				}
				int want = model_append(&m, t, v);
				size_t done = 0, rejected = 0;
				uint64_t h = ts_series_hash(cpu_a, 2);
				int rc = (NEXT() & 1)
					     ? tsdb_append_series(db, cpu_a, 2, &t, &v, 1, &done,
								  &rejected, NULL)
					     : tsdb_append_series_hashed(db, h, cpu_a, 2, &t, &v, 1,
									 &done, &rejected, NULL);
				assert_int_equal(rc, TS_OK);
				assert_int_equal(done, 1);
				assert_int_equal(rejected, want == TS_EOUTOFORDER);
			}
		}
		model_check(db, &m);
		tsdb_stats st;
		tsdb_stats_get(db, &st);
		assert_int_equal(st.n_series, 1);
		if (phase == 1)
			assert_int_equal(st.rechunks, 0);
		else
			assert_true(st.rechunks > 0 && m.dups > 20 && m.rejected > 20);
	}
#undef NEXT
	tsdb_close(db);
}

/*
 * A cut's snapshot and GC with a buffered tail: appending after the buffer's newest
 * does not keep the written prefix from being dropped; an insertion before it does
 * (the GC then keeps it, and nothing is lost either way).
 */
static void test_tsdb_append_buffered_tail_cut_gc(void **state)
{
	(void)state;
	tsdb_db *db = open_db(600000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 50500, -1, NULL), TS_OK); /* buffered */
	for (int i = 100; i < 105; i++) /* buffered too: the buffer is not empty */
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.head_ooo_samples, 6);
	tsdb_hseries *s;
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &s, NULL), TS_OK);
	tsdb_hsnap snap;
	assert_int_equal(tsdb_head_snap_take(s, INT64_MIN, 102000, &snap, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 105000, 105, NULL), TS_OK);
	assert_false(tsdb_head_series_gc(db, s, &snap));
	tsdb_head_snap_release(db, &snap);
	int64_t lo, hi;
	assert_true(tsdb_head_series_range(s, &lo, &hi));
	assert_int_equal(lo, 103000);
	assert_int_equal(hi, 105000);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_samples, 3);
	/* An insertion before the end between snapshot and GC: the buffer stays. */
	assert_int_equal(tsdb_head_snap_take(s, INT64_MIN, 104000, &snap, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 103500, 7, NULL), TS_OK);
	assert_false(tsdb_head_series_gc(db, s, &snap));
	tsdb_head_snap_release(db, &snap);
	int64_t t[8];
	double v[8];
	assert_int_equal(read_all(db, t, v, 8), 4);
	int64_t want_t[] = {103000, 103500, 104000, 105000};
	assert_memory_equal(t, want_t, sizeof(want_t));
	tsdb_hseries_release(db, s);
	tsdb_close(db);
}

/*
 * A full buffer keeps the newest TSDB_OOO_TAIL samples unencoded while samples arrive
 * behind the newest, and while an old sample is buffered; once TSDB_OOO_CALM fills
 * passed in order and a cut's GC took the old sample, settling encodes everything and
 * drops the buffer: the series is back on the plain in-order path.
 */
static void test_tsdb_append_calm_buffer_drains(void **state)
{
	(void)state;
	tsdb_db *db = open_db(600000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, cpu_a, 2, 50500, -1, NULL), TS_OK); /* behind */
	int i = 100;
	for (; i < 100 + TSDB_OOO_MAX - 1; i++) /* in order, buffered: the 63rd settles */
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.head_ooo_samples, 1 + TSDB_OOO_TAIL); /* 50500 and the tail */
	/* Calm fills: the tail stays while 50500 (older than the chunks) keeps the buffer. */
	for (int fill = 0; fill <= TSDB_OOO_CALM; fill++) {
		for (int k = 1 + TSDB_OOO_TAIL; k < TSDB_OOO_MAX; k++, i++)
			assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
		tsdb_stats_get(db, &st);
		assert_int_equal(st.head_ooo_samples, 1 + TSDB_OOO_TAIL);
	}
	/* A cut's GC of everything <= 99000 takes 50500 (and no chunk: the open one has
	 * newer samples). */
	tsdb_hseries *s;
	assert_int_equal(tsdb_head_get_or_create(db, cpu_a, 2, &s, NULL), TS_OK);
	tsdb_hsnap snap;
	assert_int_equal(tsdb_head_snap_take(s, INT64_MIN, 99000, &snap, NULL), TS_OK);
	assert_false(tsdb_head_series_gc(db, s, &snap));
	tsdb_head_snap_release(db, &snap);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.head_ooo_samples, TSDB_OOO_TAIL);
	/* The next fill, calm too, encodes everything: the buffer is gone. */
	for (int k = TSDB_OOO_TAIL; k < TSDB_OOO_MAX; k++, i++)
		assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.head_ooo_samples, 0);
	pthread_mutex_lock(&s->lock);
	assert_int_equal(s->n_ooo, 0);
	assert_int_equal(s->cap_ooo, 0);
	assert_null(s->ooo_t);
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK); /* plain */
	i++;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.head_ooo_samples, 0);
	assert_int_equal(st.rechunks, 0);
	static int64_t t[1000];
	static double v[1000];
	size_t n = read_all(db, t, v, 1000);
	/* Every in-order sample is there (the open chunk also holds newer ones, so the GC
	 * kept it), 50500 is gone. */
	assert_int_equal(n, (size_t)i);
	for (int k = 0; k < i; k++)
		assert_true(t[k] == k * 1000LL && v[k] == k);
	tsdb_hseries_release(db, s);
	tsdb_close(db);
}

/*
 * Allocation failures while samples are buffered and settled into chunks: a failed
 * append is not accepted, every accepted sample stays readable, the store goes on.
 */
static void test_tsdb_append_buffered_alloc_failure(void **state)
{
	(void)state;
	static model m;
	for (int64_t fail = 0; fail < 40; fail++) {
		memset(&m, 0, sizeof(m));
		m.window_ms = 600000;
		tsdb_db *db = open_db(m.window_ms);
		for (int i = 0; i < 100; i++) {
			assert_int_equal(tsdb_append(db, cpu_a, 2, i * 1000LL, i, NULL), TS_OK);
			model_append(&m, i * 1000LL, i);
		}
		assert_int_equal(tsdb_append(db, cpu_a, 2, 50500, -1, NULL), TS_OK);
		model_append(&m, 50500, -1);
		ts_alloc_fail_after(fail);
		for (int i = 100; i < 400; i++) {
			int64_t t = (i ^ 1) * 1000LL; /* pairs swapped: every other one behind */
			int rc = tsdb_append(db, cpu_a, 2, t, i, NULL);
			if (rc == TS_OK) {
				assert_int_equal(model_append(&m, t, i), TS_OK);
			} else {
				assert_int_equal(rc, TS_ENOMEM);
			}
		}
		ts_alloc_fail_after(-1);
		/* Counters count what was accepted; the model checks data and counters. */
		model_check(db, &m);
		assert_int_equal(tsdb_append(db, cpu_a, 2, 500000, 1, NULL), TS_OK);
		tsdb_close(db);
	}
}

/* ---------------------------------------------------------------- series references */

/*
 * One reference held over runs of mixed samples (in order, behind, duplicates,
 * conflicts, beyond the window) answers every call like tsdb_append_series on a second
 * store, and both end with the same samples and counters.
 */
static void test_tsdb_series_ref_append_matches_append_series(void **state)
{
	(void)state;
	enum { N = 5000 };
	tsdb_db *a = open_db(300000), *b = open_db(300000);
	static int64_t t[N], got_t[2][N + 1];
	static double v[N], got_v[2][N + 1];
	uint64_t x = 777;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	int64_t newest = 1700000000000;
	for (size_t i = 0; i < N; i++) {
		uint64_t r = NEXT() % 10;
		if (r < 6) {
			newest += 10000;
			t[i] = newest;
		} else if (r < 9) {
			t[i] = newest - (int64_t)(NEXT() % 45) * 10000; /* behind, maybe present */
		} else {
			t[i] = newest - 400000 - (int64_t)(NEXT() % 9); /* beyond the window */
		}
		v[i] = NEXT() % 5 == 0 ? -(double)i : (double)(t[i] / 10000 % 1009);
	}
	tsdb_series_ref *ref = NULL;
	assert_int_equal(tsdb_series_ref_get(a, ts_series_hash(cpu_a, 2), cpu_a, 2, &ref, NULL),
			 TS_OK);
	assert_non_null(ref);
	size_t total_rej = 0;
	for (size_t i = 0; i < N;) {
		size_t run = 1 + NEXT() % 16;
		if (run > N - i)
			run = N - i;
		size_t da = 99, ra = 99, db_ = 99, rb = 99;
		ts_err ea = {0}, eb = {0};
		int rca = tsdb_series_ref_append(a, ref, &t[i], &v[i], run, &da, &ra, &ea);
		int rcb = tsdb_append_series(b, cpu_a, 2, &t[i], &v[i], run, &db_, &rb, &eb);
		assert_int_equal(rca, TS_OK);
		assert_int_equal(rcb, TS_OK);
		assert_int_equal(da, run);
		assert_int_equal(db_, run);
		assert_int_equal(ra, rb);
		assert_string_equal(ea.msg, eb.msg);
		total_rej += ra;
		i += run;
	}
#undef NEXT
	tsdb_series_ref_put(a, ref);
	tsdb_series_ref_put(a, NULL); /* allowed, does nothing */
	assert_true(total_rej > 200);
	size_t na = read_all(a, got_t[0], got_v[0], N + 1);
	size_t nb = read_all(b, got_t[1], got_v[1], N + 1);
	assert_int_equal(na, nb);
	assert_true(na > N / 2);
	assert_memory_equal(got_t[0], got_t[1], na * sizeof(int64_t));
	assert_memory_equal(got_v[0], got_v[1], na * sizeof(double));
	tsdb_stats sa, sb;
	tsdb_stats_get(a, &sa);
	tsdb_stats_get(b, &sb);
	assert_int_equal(sa.n_series, 1);
	assert_int_equal(sa.n_samples, sb.n_samples);
	assert_int_equal(sa.samples_appended, sb.samples_appended);
	assert_int_equal(sa.duplicates_dropped, sb.duplicates_dropped);
	assert_int_equal(sa.out_of_order_rejected, sb.out_of_order_rejected);
	assert_int_equal(sa.head_ooo_samples, sb.head_ooo_samples);
	assert_int_equal(sa.rechunks, sb.rechunks);
	assert_int_equal(sa.min_t_ms, sb.min_t_ms);
	assert_int_equal(sa.max_t_ms, sb.max_t_ms);
	assert_true(sa.duplicates_dropped > 50);
	tsdb_close(a);
	tsdb_close(b);
}

/* Samples of series {__name__="m", id=id} in the store (head and blocks). */
static size_t count_id(tsdb_db *db, const char *id)
{
	return read_matching(db, "id", id, NULL, NULL, 0);
}

/*
 * A reference to a series that a partial cut emptied and removed answers TS_EBUSY with
 * nothing appended; put it, get a new one: that appends again, and nothing the old
 * series held is lost (it is in the block).
 */
static void test_tsdb_series_ref_busy_after_gc(void **state)
{
	(void)state;
	char dir[512];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/series_ref_gc", STRATA_TEST_TMP);
	test_rm_rf(dir);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.block_duration_ms = 1000;
	o.out_of_order_window_ms = 1000;
	o.cut_check_interval_ms = 0;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	const ts_label la[] = {{"__name__", "m"}, {"id", "a"}};
	const ts_label lb[] = {{"__name__", "m"}, {"id", "b"}};
	uint64_t ha = ts_series_hash(la, 2), hb = ts_series_hash(lb, 2);
	tsdb_series_ref *ra = NULL, *rb = NULL;
	assert_int_equal(tsdb_series_ref_get(db, ha, la, 2, &ra, NULL), TS_OK);
	assert_int_equal(tsdb_series_ref_get(db, hb, lb, 2, &rb, NULL), TS_OK);
	int64_t t[100];
	double v[100];
	size_t done, rejected;
	for (int i = 0; i < 100; i++) { /* a: [0, 990], in the first block range */
		t[i] = i * 10;
		v[i] = i;
	}
	assert_int_equal(tsdb_series_ref_append(db, ra, t, v, 100, &done, &rejected, NULL), TS_OK);
	assert_int_equal(done, 100);
	for (int i = 0; i < 100; i++) /* b: [0, 1980], so it keeps samples after the cut */
		t[i] = i * 20;
	assert_int_equal(tsdb_series_ref_append(db, rb, t, v, 100, &done, &rejected, NULL), TS_OK);
	/* A partial cut of [.., 999]: a is left empty and removed from the head. */
	assert_int_equal(tsdb_cut_to(db, 999, false, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 1);
	assert_int_equal(st.n_samples, 50);
	int64_t t1[] = {1501, 1511}; /* between b's samples */
	double v1[] = {1, 2};
	done = rejected = 99;
	ts_err err = {0};
	assert_int_equal(tsdb_series_ref_append(db, ra, t1, v1, 2, &done, &rejected, &err),
			 TS_EBUSY);
	assert_int_equal(done, 0);
	assert_int_equal(rejected, 0);
	assert_non_null(strstr(err.msg, "removed"));
	/* b was not removed: its reference still works. */
	assert_int_equal(tsdb_series_ref_append(db, rb, t1, v1, 2, &done, &rejected, NULL), TS_OK);
	assert_int_equal(done, 2);
	assert_int_equal(rejected, 0);
	tsdb_series_ref_put(db, ra);
	assert_int_equal(tsdb_series_ref_get(db, ha, la, 2, &ra, NULL), TS_OK);
	assert_int_equal(tsdb_series_ref_append(db, ra, t1, v1, 2, &done, &rejected, NULL), TS_OK);
	assert_int_equal(done, 2);
	assert_int_equal(rejected, 0);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 2);
	assert_int_equal(st.n_samples, 54);
	assert_int_equal(count_id(db, "a"), 102);
	assert_int_equal(count_id(db, "b"), 102);
	/* Appending through the new reference equals appending by labels. */
	int64_t t2 = 1520;
	double v2 = 3;
	assert_int_equal(tsdb_append_series(db, la, 2, &t2, &v2, 1, &done, &rejected, NULL), TS_OK);
	assert_int_equal(tsdb_series_ref_append(db, ra, &t2, &v2, 1, &done, &rejected, NULL),
			 TS_OK);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.duplicates_dropped, 1);
	assert_int_equal(count_id(db, "a"), 103);
	tsdb_series_ref_put(db, ra);
	tsdb_series_ref_put(db, rb);
	tsdb_close(db);
	test_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_append_series_matches_single_appends),
	    cmocka_unit_test(test_tsdb_append_series_rejections),
	    cmocka_unit_test(test_tsdb_append_series_alloc_failure),
	    cmocka_unit_test(test_tsdb_append_series_interleaved_writers),
	    cmocka_unit_test(test_tsdb_append_buffered_tail_cut_gc),
	    cmocka_unit_test(test_tsdb_append_buffered_alloc_failure),
	    cmocka_unit_test(test_tsdb_append_calm_buffer_drains),
	    cmocka_unit_test(test_tsdb_series_ref_append_matches_append_series),
	    cmocka_unit_test(test_tsdb_series_ref_busy_after_gc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
