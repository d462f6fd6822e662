/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_snapshot.c: tests for tsdb/snapshot.c: a snapshot of blocks plus head opens as a
 * store holding every sample once with the right resume offsets; skip_head links the
 * blocks only (same files, hard links); an empty store; errors (no data directory,
 * small name buffer, allocation failures leave nothing under a final name); and a
 * snapshot taken while a writer appends and the background worker cuts holds every
 * sample appended before the call.
 */
#include "tsdb/block.h"
#include "support/test_support.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static tsdb_db *open_dir(const char *dir, int64_t interval_ms)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.n_partitions = 2;
	o.block_duration_ms = 1000;
	o.out_of_order_window_ms = 1000;
	o.cut_check_interval_ms = interval_ms;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static tsdb_db *open_fresh(const char *name, int64_t interval_ms, char *dir)
{
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, 512, "%s/%s", STRATA_TEST_TMP, name);
	test_rm_rf(dir);
	return open_dir(dir, interval_ms);
}

static void put(tsdb_db *db, const char *id, int64_t t, double v)
{
	ts_label l[] = {{"__name__", "m"}, {"id", id}};
	assert_int_equal(tsdb_append(db, l, 2, t, v, NULL), TS_OK);
}

/* Samples of m in [mint, maxt]; fails on a duplicate or a value != t. */
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
			assert_true(x == (double)t);
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

static size_t n_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void snap_path(const char *dir, const char *name, char *out)
{
	snprintf(out, 700, "%s/snapshots/%s", dir, name);
}

/* Three series over 5 block ranges; ranges 0..2 cut to blocks, 3..4 in the head. */
static void fill(tsdb_db *db)
{
	static const char *ids[] = {"a", "b", "c"};
	for (int64_t t = 0; t < 5000; t += 10)
		for (size_t i = 0; i < 3; i++)
			put(db, ids[i], t, (double)t);
	tsdb_partition_applied(db, 0, 41);
	tsdb_partition_applied(db, 1, 7);
	assert_int_equal(tsdb_cut_to(db, 2999, false, NULL), TS_OK);
}

static void test_tsdb_snapshot_blocks_and_head(void **state)
{
	char dir[512], sp[700], name[TSDB_SNAPSHOT_NAME_MAX];
	tsdb_db *db = open_fresh("snap_full", 0, dir);
	fill(db);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 3);
	assert_true(st.n_samples > 0);
	uint64_t resume[2] = {99, 99};
	char *path = NULL;
	assert_int_equal(tsdb_snapshot(db, false, name, sizeof(name), resume, &path, NULL), TS_OK);
	assert_int_equal(strlen(name), 33);
	assert_true(name[8] == 'T' && name[15] == 'Z' && name[16] == '-');
	snap_path(dir, name, sp);
	assert_string_equal(path, sp);
	ts_free(path);
	assert_int_equal(resume[0], 42);
	assert_int_equal(resume[1], 8);
	/* the live store is unchanged */
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 1500);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 3);
	/* 3 linked blocks + 2 head ranges, no temporary directory left */
	char bdir[800];
	snprintf(bdir, sizeof(bdir), "%s/blocks", sp);
	assert_int_equal(n_entries(bdir), 5);
	snprintf(bdir, sizeof(bdir), "%s/snapshots", dir);
	assert_int_equal(n_entries(bdir), 1);
	tsdb_close(db);

	tsdb_db *r = open_dir(sp, 0);
	assert_int_equal(count(r, INT64_MIN, INT64_MAX), 1500);
	assert_int_equal(tsdb_partition_resume_offset(r, 0), 42);
	assert_int_equal(tsdb_partition_resume_offset(r, 1), 8);
	tsdb_close(r);
	test_rm_rf(dir);
}

static void test_tsdb_snapshot_skip_head_links(void **state)
{
	char dir[512], sp[700], name[TSDB_SNAPSHOT_NAME_MAX];
	tsdb_db *db = open_fresh("snap_skip", 0, dir);
	fill(db);
	assert_int_equal(tsdb_snapshot(db, true, name, sizeof(name), NULL, NULL, NULL), TS_OK);
	snap_path(dir, name, sp);
	/* the same three blocks, as hard links of the store's files */
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->n, 3);
	for (size_t i = 0; i < bs->n; i++) {
		char a[800], b[900];
		struct stat sa, sb;
		snprintf(a, sizeof(a), "%s/chunks", bs->b[i]->dir);
		snprintf(b, sizeof(b), "%s/blocks/%s/chunks", sp, bs->b[i]->meta.name);
		assert_int_equal(stat(a, &sa), 0);
		assert_int_equal(stat(b, &sb), 0);
		assert_true(sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
		assert_true(sa.st_nlink >= 2);
	}
	tsdb_blockset_release(bs);
	tsdb_close(db);
	tsdb_db *r = open_dir(sp, 0);
	assert_int_equal(count(r, INT64_MIN, INT64_MAX), 900); /* t < 3000 only */
	assert_int_equal(count(r, 3000, INT64_MAX), 0);
	tsdb_close(r);
	test_rm_rf(dir);
}

static void test_tsdb_snapshot_empty_store(void **state)
{
	char dir[512], sp[700], name[TSDB_SNAPSHOT_NAME_MAX];
	tsdb_db *db = open_fresh("snap_empty", 0, dir);
	uint64_t resume[2] = {5, 5};
	assert_int_equal(tsdb_snapshot(db, false, name, sizeof(name), resume, NULL, NULL), TS_OK);
	assert_int_equal(resume[0], 0);
	assert_int_equal(resume[1], 0);
	snap_path(dir, name, sp);
	tsdb_close(db);
	tsdb_db *r = open_dir(sp, 0);
	assert_int_equal(count(r, INT64_MIN, INT64_MAX), 0);
	tsdb_close(r);
	test_rm_rf(dir);
}

static void test_tsdb_snapshot_errors(void **state)
{
	char name[TSDB_SNAPSHOT_NAME_MAX], small[8];
	ts_err e;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *mem;
	assert_int_equal(tsdb_open(&o, &mem, NULL), TS_OK);
	assert_int_equal(tsdb_snapshot(mem, false, name, sizeof(name), NULL, NULL, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "data directory"));
	tsdb_close(mem);

	char dir[512], sdir[600];
	tsdb_db *db = open_fresh("snap_err", 0, dir);
	fill(db);
	assert_int_equal(tsdb_snapshot(db, false, small, sizeof(small), NULL, NULL, &e), TS_EINVAL);
	/* allocation failures at every step: an error, no final or temporary directory */
	snprintf(sdir, sizeof(sdir), "%s/snapshots", dir);
	int n_fail = 0;
	for (int64_t n = 0; n < 10000; n++) {
		ts_alloc_fail_after(n);
		int rc = tsdb_snapshot(db, false, name, sizeof(name), NULL, NULL, &e);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK)
			break;
		assert_int_equal(rc, TS_ENOMEM);
		assert_int_equal(n_entries(sdir), 0);
		n_fail++;
	}
	assert_true(n_fail > 5);
	assert_int_equal(n_entries(sdir), 1); /* the one that succeeded */
	assert_int_equal(count(db, INT64_MIN, INT64_MAX), 1500);
	tsdb_close(db);
	test_rm_rf(dir);
}

/* ------------------------------------------------------------- concurrent writer */

typedef struct writer_arg {
	tsdb_db *db;
	_Atomic int64_t done_t; /* every sample with t <= done_t has been appended */
	_Atomic bool stop;
} writer_arg;

static void *writer_main(void *p)
{
	writer_arg *a = p;
	static const char *ids[] = {"a", "b", "c", "d"};
	/* 40 block ranges over about 0.3 s: the worker cuts while snapshots are taken */
	for (int64_t t = 0; t < 40000 && !atomic_load(&a->stop); t += 5) {
		if (t % 100 == 0) {
			struct timespec ts = {0, 1000000L};
			nanosleep(&ts, NULL);
		}
		for (size_t i = 0; i < 4; i++) {
			ts_label l[] = {{"__name__", "m"}, {"id", ids[i]}};
			if (tsdb_append(a->db, l, 2, t, (double)t, NULL) != TS_OK)
				return NULL;
		}
		atomic_store(&a->done_t, t);
	}
	return NULL;
}

static void test_tsdb_snapshot_while_appending_and_cutting(void **state)
{
	char dir[512], sp[700], name[TSDB_SNAPSHOT_NAME_MAX];
	tsdb_db *db = open_fresh("snap_race", 1, dir); /* worker checks every 1 ms */
	writer_arg a = {.db = db, .done_t = -1};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, writer_main, &a), 0);
	for (int round = 0; round < 5; round++) {
		struct timespec ts = {0, 40 * 1000000L};
		nanosleep(&ts, NULL);
		int64_t before = atomic_load(&a.done_t);
		assert_int_equal(tsdb_snapshot(db, false, name, sizeof(name), NULL, NULL, NULL),
				 TS_OK);
		snap_path(dir, name, sp);
		tsdb_db *r = open_dir(sp, 0);
		size_t n = count(r, INT64_MIN, before); /* checks no duplicates too */
		tsdb_close(r);
		assert_int_equal(n, 4 * (size_t)(before / 5 + 1));
		test_rm_rf(sp);
	}
	atomic_store(&a.stop, true);
	pthread_join(th, NULL);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_true(st.cuts > 0); /* the worker did cut meanwhile */
	tsdb_close(db);
	test_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_snapshot_blocks_and_head),
	    cmocka_unit_test(test_tsdb_snapshot_skip_head_links),
	    cmocka_unit_test(test_tsdb_snapshot_empty_store),
	    cmocka_unit_test(test_tsdb_snapshot_errors),
	    cmocka_unit_test(test_tsdb_snapshot_while_appending_and_cutting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
