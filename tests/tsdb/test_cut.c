/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cut.c: tests for tsdb/cut.c: the 1.5 x block_duration rule, partial cuts and the
 * offsets they may persist, the offsets checkpoint, cuts over many ranges, a cut waiting
 * for an open querier, appends racing cuts, and the background worker.
 */
#include "tsdb/block.h"
#include "support/test_support.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static tsdb_db *open_fresh(const char *name, int64_t block_ms, int64_t interval_ms, char *dir)
{
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, 512, "%s/%s", STRATA_TEST_TMP, name);
	test_rm_rf(dir);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.n_partitions = 2;
	o.block_duration_ms = block_ms;
	o.cut_check_interval_ms = interval_ms;
	o.out_of_order_window_ms = block_ms;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static tsdb_db *reopen(const char *dir, int64_t block_ms)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.n_partitions = 2;
	o.block_duration_ms = block_ms;
	o.cut_check_interval_ms = 0;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static void put(tsdb_db *db, const char *id, int64_t t, double v)
{
	ts_label l[] = {{"__name__", "m"}, {"id", id}};
	assert_int_equal(tsdb_append(db, l, 2, t, v, NULL), TS_OK);
}

/* Samples of every series with __name__="m" in [mint, maxt]. */
static size_t count(tsdb_db *db, int64_t mint, int64_t maxt)
{
	tsdb_querier *q;
	ts_matcher m;
	tsdb_series **v;
	size_t nv, total = 0;
	ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "m", NULL);
	assert_int_equal(tsdb_querier_open(db, mint, maxt, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &nv, NULL), TS_OK);
	for (size_t i = 0; i < nv; i++) {
		tsdb_iter *it;
		int64_t t, prev = INT64_MIN;
		double x;
		assert_int_equal(tsdb_iter_open(q, v[i], mint, maxt, &it, NULL), TS_OK);
		while (tsdb_iter_next(it, &t, &x) == 1) {
			assert_true(t > prev);
			prev = t;
			total++;
		}
		tsdb_iter_close(it);
	}
	ts_free(v);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	return total;
}

static void test_tsdb_cut_maybe_rule(void **state)
{
	(void)state;
	char dir[512];
	tsdb_db *db = open_fresh("cut_rule", 1000, 0, dir);
	for (int64_t t = 0; t <= 1500; t += 10)
		put(db, "a", t, (double)t);
	bool did;
	/* Span 1500 is not more than 1.5 x 1000. */
	assert_int_equal(tsdb_cut_maybe(db, &did, NULL), TS_OK);
	assert_false(did);
	put(db, "a", 1510, 1510);
	put(db, "b", 1000, 1); /* a series that only has data after the cut */
	assert_int_equal(tsdb_cut_maybe(db, &did, NULL), TS_OK);
	assert_true(did);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 1);
	assert_int_equal(st.block_samples, 100); /* [0, 999] */
	assert_int_equal(st.n_samples, 53);      /* 1000..1510 of a, and b */
	assert_int_equal(st.min_t_ms, 1000);
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 153);
	assert_int_equal(count(db, 990, 1000), 3);
	/* A series left empty by a partial cut is removed from the head. */
	put(db, "c", 1200, 1);
	for (int64_t t = 1520; t <= 3000; t += 10)
		put(db, "a", t, (double)t);
	assert_int_equal(tsdb_cut_maybe(db, &did, NULL), TS_OK);
	assert_true(did);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 2);
	assert_int_equal(st.n_series, 1); /* b and c went to the block and were removed */
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 153 + 1 + 149);
	tsdb_close(db);
	db = reopen(dir, 1000);
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 153 + 1 + 149);
	tsdb_close(db);
}

static void test_tsdb_cut_to_partial_offsets(void **state)
{
	(void)state;
	char dir[512];
	const int64_t h = 3600 * 1000;
	tsdb_db *db = open_fresh("cut_offsets", h, 0, dir);
	/* Records 0..9 carry the first hour, 10..19 the second, 20..29 the third. */
	for (int r = 0; r < 30; r++) {
		for (int k = 0; k < 10; k++)
			put(db, "a", (int64_t)r * h / 10 + k * 1000, r);
		tsdb_partition_applied(db, 0, (uint64_t)r);
	}
	tsdb_partition_applied(db, 1, 3);
	/* Cut the first hour: records whose samples all lie in it may be persisted (the
	 * marks are coarse, 1/64 of the block duration, so up to record 9). */
	assert_int_equal(tsdb_cut_to(db, h - 1, false, NULL), TS_OK);
	uint64_t r0 = tsdb_partition_resume_offset(db, 0);
	assert_true(r0 >= 9 && r0 <= 10);
	/* Partition 1's only record came when the head already reached hour 3. */
	assert_int_equal(tsdb_partition_resume_offset(db, 1), 0);
	assert_int_equal(tsdb_cut_to(db, 2 * h - 1, false, NULL), TS_OK);
	uint64_t r1 = tsdb_partition_resume_offset(db, 0);
	assert_true(r1 >= 19 && r1 <= 20);
	/* Persisted in the checkpoint: a crash (no close) keeps them. */
	tsdb_db *db2 = reopen(dir, h);
	assert_int_equal(tsdb_partition_resume_offset(db2, 0), r1);
	tsdb_close(db2);
	/* A full flush persists everything applied. */
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	assert_int_equal(tsdb_partition_resume_offset(db, 0), 30);
	assert_int_equal(tsdb_partition_resume_offset(db, 1), 4);
	tsdb_close(db);
	/* A corrupt checkpoint falls back to the blocks' meta. */
	char path[600];
	snprintf(path, sizeof(path), "%s/offsets", dir);
	FILE *f = fopen(path, "r+b");
	fseek(f, 12, SEEK_SET);
	fputc(0x55, f);
	fclose(f);
	db = reopen(dir, h);
	uint64_t after = tsdb_partition_resume_offset(db, 0);
	assert_true(after >= r1 && after <= 30);
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 300);
	tsdb_close(db);
}

static void test_tsdb_cut_to_many_ranges(void **state)
{
	(void)state;
	char dir[512];
	tsdb_db *db = open_fresh("cut_many", 100, 0, dir);
	/* 50 ranges of 100 ms: more than one cut round (16 ranges each). */
	for (int64_t t = 0; t < 5000; t += 7)
		put(db, "a", t, (double)t);
	put(db, "z", -1000000, 1); /* a straggler far in the past */
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_samples, 0);
	assert_int_equal(st.n_blocks, 51);
	assert_int_equal(st.block_samples, 715 + 1);
	tsdb_close(db);
	db = reopen(dir, 100);
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 716);
	assert_int_equal(count(db, 95, 105), 2);
	tsdb_close(db);
}

typedef struct flusher {
	tsdb_db *db;
	_Atomic bool done;
	int rc;
} flusher;

static void *flush_thread(void *p)
{
	flusher *f = p;
	f->rc = tsdb_flush(f->db, NULL);
	atomic_store(&f->done, true);
	return NULL;
}

static void test_tsdb_cut_to_waits_for_queriers(void **state)
{
	(void)state;
	char dir[512];
	tsdb_db *db = open_fresh("cut_wait", 3600000, 0, dir);
	for (int64_t t = 0; t < 100000; t += 1000)
		put(db, "a", t, (double)t);
	tsdb_querier *q;
	ts_matcher m;
	tsdb_series **v;
	size_t nv;
	ts_matcher_init(&m, TS_MATCH_EQ, "id", "a", NULL);
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &nv, NULL), TS_OK);
	assert_int_equal(nv, 1);
	flusher f = {db, false, -1};
	pthread_t th;
	pthread_create(&th, NULL, flush_thread, &f);
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	/* The block is published but the head keeps the samples while q is open. */
	assert_false(atomic_load(&f.done));
	tsdb_iter *it;
	int64_t t;
	double x;
	size_t n = 0;
	assert_int_equal(tsdb_iter_open(q, v[0], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
	while (tsdb_iter_next(it, &t, &x) == 1)
		n++;
	tsdb_iter_close(it);
	assert_int_equal(n, 100);
	ts_free(v);
	tsdb_querier_close(q);
	pthread_join(th, NULL);
	assert_int_equal(f.rc, TS_OK);
	/* A querier opened now sees the block. */
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 100);
	ts_matcher_fini(&m);
	tsdb_close(db);
}

typedef struct racer {
	tsdb_db *db;
	_Atomic bool stop;
	int64_t n;
} racer;

static void *append_thread(void *p)
{
	racer *r = p;
	for (int64_t t = 0; !atomic_load(&r->stop) || r->n < 20000; t += 10) {
		char id[8];
		snprintf(id, sizeof(id), "s%d", (int)(t / 10 % 5));
		ts_label l[] = {{"__name__", "m"}, {"id", id}};
		if (tsdb_append(r->db, l, 2, t, (double)t, NULL) != TS_OK)
			break;
		r->n++;
		if (r->n >= 50000)
			break;
	}
	return NULL;
}

static void test_tsdb_cut_to_races_appends(void **state)
{
	(void)state;
	char dir[512];
	tsdb_db *db = open_fresh("cut_race", 20000, 0, dir);
	racer r = {db, false, 0};
	pthread_t th;
	pthread_create(&th, NULL, append_thread, &r);
	for (int i = 0; i < 20; i++) {
		bool did;
		assert_int_equal(tsdb_cut_maybe(db, &did, NULL), TS_OK);
		if (i % 5 == 4)
			assert_int_equal(tsdb_flush(db, NULL), TS_OK);
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), (size_t)r.n);
	tsdb_close(db);
	db = reopen(dir, 20000);
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), (size_t)r.n);
	tsdb_close(db);
}

static void test_tsdb_bg_start_worker_cuts(void **state)
{
	(void)state;
	char dir[512];
	tsdb_db *db = open_fresh("cut_worker", 1000, 10, dir);
	for (int64_t t = 0; t < 5000; t += 10)
		put(db, "a", t, 1);
	tsdb_stats st;
	for (int i = 0; i < 500; i++) {
		tsdb_stats_get(db, &st);
		if (st.block_samples >= 400)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* Cut while the head spans more than 1.5 s: [0,1000) .. [3000,4000) go to blocks,
	 * [4000, 4990] stays. (The worker may already have compacted [0,3000) into one.) */
	assert_int_equal(st.block_samples, 400);
	assert_int_equal(st.n_samples, 100);
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 500);
	tsdb_close(db);
}

static void test_tsdb_blocks_drop_bad_quarantines_at_runtime(void **state)
{
	(void)state;
	char dir[512];
	tsdb_db *db = open_fresh("cut_runtime_bad", 1000, 0, dir);
	for (int64_t t = 0; t < 2000; t += 10)
		put(db, "a", t, (double)t);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK); /* blocks [0,999] and [1000,1999] */
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->n, 2);
	char victim[600], chunks[700];
	snprintf(victim, sizeof(victim), "%s", bs->b[1]->dir);
	/* Damage the data of the second block under the reader's map (CRCs were checked at
	 * open; the decoders catch it now). */
	snprintf(chunks, sizeof(chunks), "%s/chunks", victim);
	FILE *f = fopen(chunks, "r+b");
	assert_non_null(f);
	fseek(f, 8, SEEK_SET);
	for (int i = 0; i < 64; i++)
		fputc(0xFF, f);
	fclose(f);
	tsdb_blockset_release(bs);
	tsdb_querier *q;
	ts_matcher m;
	tsdb_series **v;
	size_t nv;
	tsdb_iter *it;
	ts_err err = {0};
	ts_matcher_init(&m, TS_MATCH_EQ, "id", "a", NULL);
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &nv, NULL), TS_OK);
	assert_int_equal(tsdb_iter_open(q, v[0], INT64_MIN, INT64_MAX, &it, &err), TS_ECORRUPT);
	ts_free(v);
	tsdb_querier_close(q);
	tsdb_blocks_drop_bad(db);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 1);
	assert_int_equal(st.blocks_quarantined, 1);
	assert_int_equal(access(victim, F_OK), -1); /* moved to quarantine/ */
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 100);
	ts_matcher_fini(&m);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_cut_maybe_rule),
	    cmocka_unit_test(test_tsdb_cut_to_partial_offsets),
	    cmocka_unit_test(test_tsdb_cut_to_many_ranges),
	    cmocka_unit_test(test_tsdb_cut_to_waits_for_queriers),
	    cmocka_unit_test(test_tsdb_cut_to_races_appends),
	    cmocka_unit_test(test_tsdb_bg_start_worker_cuts),
	    cmocka_unit_test(test_tsdb_blocks_drop_bad_quarantines_at_runtime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
