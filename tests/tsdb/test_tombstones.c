/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tombstones.c: tests for tsdb/tombstones.c and the deletion filters it drives in
 * querier.c and compact.c: deletion in the head, in raw blocks and in the 1m tier
 * (rows whose bucket meets a deleted range go, coverage falls back to raw), clamping
 * to the newest sample (later samples stay visible), persistence across a reopen,
 * clean_tombstones (blocks rewritten, tombstones dropped, deleted samples stay gone),
 * compaction dropping deleted samples, late-write marks for the cache, and the file
 * decoder's checks on corrupt input.
 */
#include "tsdb/block.h"
#include "support/test_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL
#define T0      (1000 * DAY_MS) /* a day boundary, so 1h/1m buckets align */

static tsdb_db *open_db_ret(const char *dir, int64_t retention_raw_ms)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.block_duration_ms = HOUR_MS;
	o.out_of_order_window_ms = 0;
	o.cut_check_interval_ms = 0;
	o.retention_raw_ms = o.retention_1m_ms = o.retention_1h_ms = 10000 * DAY_MS;
	o.retention_raw_ms = retention_raw_ms;
	tsdb_db *db;
	ts_err err = {0};
	int rc = tsdb_open(&o, &db, &err);
	if (rc)
		fail_msg("open: %s", err.msg);
	return db;
}

static tsdb_db *open_db(const char *dir)
{
	return open_db_ret(dir, 10000 * DAY_MS);
}

/* Append metric{x=<x>} every step_ms over [from, to). */
static void fill(tsdb_db *db, const char *metric, const char *x, int64_t from, int64_t to,
		 int64_t step_ms)
{
	ts_label l[2] = {{"__name__", metric}, {"x", x}};
	for (int64_t t = from; t < to; t += step_ms) {
		ts_err e = {0};
		if (tsdb_append(db, l, 2, t, (double)(t / 1000), &e) != TS_OK)
			fail_msg("append: %s", e.msg);
	}
}

/* Samples of metric{x=<x>} over [mint, maxt] (raw): count, first and last time. */
static size_t count_raw(tsdb_db *db, const char *metric, const char *x, int64_t mint, int64_t maxt,
			int64_t lo, int64_t hi)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, mint, maxt, &q, NULL), TS_OK);
	ts_matcher m[2];
	assert_int_equal(ts_matcher_init(&m[0], TS_MATCH_EQ, "__name__", metric, NULL), TS_OK);
	assert_int_equal(ts_matcher_init(&m[1], TS_MATCH_EQ, "x", x, NULL), TS_OK);
	tsdb_series **ss;
	size_t n, count = 0;
	assert_int_equal(tsdb_select(q, m, 2, 0, &ss, &n, NULL), TS_OK);
	assert_true(n <= 1);
	if (n == 1) {
		tsdb_iter *it;
		assert_int_equal(tsdb_iter_open(q, ss[0], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
		int64_t t;
		double v;
		while (tsdb_iter_next(it, &t, &v) == 1) {
			/* nothing inside the deleted range [lo, hi] survives */
			if (t >= lo && t <= hi)
				fail_msg("sample at %lld inside deleted [%lld, %lld]", (long long)t,
					 (long long)lo, (long long)hi);
			count++;
		}
		tsdb_iter_close(it);
		assert_true(count > 0); /* select drops series with nothing left */
	}
	ts_free(ss);
	ts_matcher_fini(&m[0]);
	ts_matcher_fini(&m[1]);
	tsdb_querier_close(q);
	return count;
}

static size_t del(tsdb_db *db, const char *metric, const char *x, int64_t mint, int64_t maxt)
{
	ts_matcher m[2];
	size_t nm = 1, n = 0;
	assert_int_equal(ts_matcher_init(&m[0], TS_MATCH_EQ, "__name__", metric, NULL), TS_OK);
	if (x) {
		assert_int_equal(ts_matcher_init(&m[1], TS_MATCH_EQ, "x", x, NULL), TS_OK);
		nm = 2;
	}
	ts_err e = {0};
	if (tsdb_delete_series(db, m, nm, mint, maxt, &n, &e) != TS_OK)
		fail_msg("delete: %s", e.msg);
	for (size_t i = 0; i < nm; i++)
		ts_matcher_fini(&m[i]);
	return n;
}

/* ---------------------------------------------------------------- head */

static void test_delete_series_head(void **state)
{
	(void)state;
	tsdb_db *db = open_db(test_fresh_dir("tomb_head"));
	fill(db, "a", "1", T0, T0 + 100000, 1000); /* 100 samples */
	fill(db, "a", "2", T0, T0 + 100000, 1000);
	fill(db, "b", "1", T0, T0 + 100000, 1000);
	assert_int_equal(del(db, "a", "1", T0 + 10000, T0 + 19999), 1);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0 + 10000, T0 + 19999), 90);
	assert_int_equal(count_raw(db, "a", "2", INT64_MIN, INT64_MAX, 1, 0), 100);
	assert_int_equal(count_raw(db, "b", "1", INT64_MIN, INT64_MAX, 1, 0), 100);
	/* A querier over the deleted range only does not return the series at all. */
	assert_int_equal(count_raw(db, "a", "1", T0 + 10000, T0 + 19999, 1, 0), 0);
	/* Everything of a{x="1"} (end defaults beyond the data): later samples stay. */
	assert_int_equal(del(db, "a", "1", INT64_MIN / 4, INT64_MAX / 4), 1);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, 1, 0), 0);
	fill(db, "a", "1", T0 + 100000, T0 + 110000, 1000);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0, T0 + 99999), 10);
	/* Nothing matches: no series, no tombstone. */
	size_t before = tsdb_tombstones_count(db);
	assert_int_equal(del(db, "nope", NULL, INT64_MIN / 4, INT64_MAX / 4), 0);
	assert_int_equal(tsdb_tombstones_count(db), before);
	/* Intervals of one series merge: one tombstone for a{x="1"}. */
	assert_int_equal(before, 1);
	tsdb_close(db);
}

static void test_delete_series_errors(void **state)
{
	(void)state;
	tsdb_db *db = open_db(test_fresh_dir("tomb_err"));
	ts_matcher m;
	ts_err e = {0};
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "a", NULL), TS_OK);
	assert_int_equal(tsdb_delete_series(db, &m, 0, 0, 1, NULL, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "matcher"));
	assert_int_equal(tsdb_delete_series(db, &m, 1, 5, 1, NULL, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "after end"));
	/* An empty store deletes nothing. */
	size_t n = 9;
	assert_int_equal(tsdb_delete_series(db, &m, 1, 0, 1, &n, &e), TS_OK);
	assert_int_equal(n, 0);
	ts_matcher_fini(&m);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- blocks, reopen */

static void test_delete_series_blocks_persist(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("tomb_blocks");
	char path[600];
	snprintf(path, sizeof(path), "%s/tombstones", dir);
	tsdb_db *db = open_db(dir);
	fill(db, "a", "1", T0, T0 + 3 * HOUR_MS, 10000); /* 1080 samples, 3 blocks */
	fill(db, "a", "2", T0, T0 + 3 * HOUR_MS, 10000);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 3);
	/* 30 minutes across the first block boundary: 180 samples. */
	int64_t lo = T0 + HOUR_MS - 15 * MIN_MS, hi = T0 + HOUR_MS + 15 * MIN_MS - 1;
	assert_int_equal(del(db, "a", "1", lo, hi), 1);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, lo, hi), 1080 - 180);
	assert_int_equal(count_raw(db, "a", "2", INT64_MIN, INT64_MAX, 1, 0), 1080);
	tsdb_close(db);
	/* Reopen: the tombstone is still there and still applies. */
	db = open_db(dir);
	assert_int_equal(tsdb_tombstones_count(db), 1);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, lo, hi), 1080 - 180);
	tsdb_close(db);
	/* A corrupt file fails the open with a message naming it. */
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 12, SEEK_SET), 0);
	fputc(0x5a, f);
	fclose(f);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.cut_check_interval_ms = 0;
	o.block_duration_ms = HOUR_MS;
	tsdb_db *bad = NULL;
	ts_err e = {0};
	assert_int_equal(tsdb_open(&o, &bad, &e), TS_ECORRUPT);
	assert_null(bad);
	assert_non_null(strstr(e.msg, "tombstones"));
}

/* A snapshot carries the tombstones: its hard-linked blocks still hold deleted samples. */
static void test_snapshot_keeps_deletions(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("tomb_snap");
	tsdb_db *db = open_db(dir);
	fill(db, "a", "1", T0, T0 + 2 * HOUR_MS, 10000); /* 720 samples, 2 blocks */
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	int64_t lo = T0 + 30 * MIN_MS, hi = T0 + 40 * MIN_MS - 1; /* 60 samples */
	assert_int_equal(del(db, "a", "1", lo, hi), 1);
	char name[TSDB_SNAPSHOT_NAME_MAX], *path = NULL;
	ts_err e = {0};
	if (tsdb_snapshot(db, false, name, sizeof(name), NULL, &path, &e) != TS_OK)
		fail_msg("snapshot: %s", e.msg);
	tsdb_close(db);
	tsdb_db *snap = open_db(path);
	assert_int_equal(tsdb_tombstones_count(snap), 1);
	assert_int_equal(count_raw(snap, "a", "1", INT64_MIN, INT64_MAX, lo, hi), 720 - 60);
	tsdb_close(snap);
	ts_free(path);
}

static void test_tombs_decode_corrupt(void **state)
{
	(void)state;
	uint8_t buf[8 + 2 * 24] = {0};
	tsdb_tombset *ts = NULL;
	ts_err e = {0};
	/* Too short, a count that does not fit, then entries out of order / inverted. */
	assert_int_equal(tsdb_tombs_decode(buf, 4, &ts, &e), TS_ECORRUPT);
	buf[0] = 3;
	assert_int_equal(tsdb_tombs_decode(buf, sizeof(buf), &ts, &e), TS_ECORRUPT);
	assert_non_null(strstr(e.msg, "do not fit"));
	buf[0] = 2;
	buf[8] = 5;      /* hash 5 */
	buf[8 + 24] = 4; /* hash 4 < 5 */
	assert_int_equal(tsdb_tombs_decode(buf, sizeof(buf), &ts, &e), TS_ECORRUPT);
	assert_non_null(strstr(e.msg, "entry 1"));
	buf[8 + 24] = 6;
	buf[8 + 8] = 9; /* entry 0: mint 9 > maxt 0 */
	assert_int_equal(tsdb_tombs_decode(buf, sizeof(buf), &ts, &e), TS_ECORRUPT);
	buf[8 + 8] = 0;
	/* One series, [0, 10] then [10, 20] (overlap) or [11, 20] (adjacent): refused. */
	buf[8 + 24] = 5;
	buf[8 + 16] = 10;
	buf[8 + 24 + 8] = 10;
	buf[8 + 24 + 16] = 20;
	assert_int_equal(tsdb_tombs_decode(buf, sizeof(buf), &ts, &e), TS_ECORRUPT);
	assert_non_null(strstr(e.msg, "overlapping"));
	buf[8 + 24 + 8] = 11;
	assert_int_equal(tsdb_tombs_decode(buf, sizeof(buf), &ts, &e), TS_ECORRUPT);
	buf[8 + 24 + 8] = 12; /* [0, 10] and [12, 20]: fine */
	assert_int_equal(tsdb_tombs_decode(buf, sizeof(buf), &ts, &e), TS_OK);
	size_t at = 9;
	assert_int_equal(tsdb_tombs_find(ts, 5, &at), 2);
	assert_int_equal(at, 0);
	tsdb_tombset_release(ts);
	memset(buf + 8, 0, sizeof(buf) - 8);
	buf[8] = 5;
	buf[8 + 24] = 6;
	assert_int_equal(tsdb_tombs_decode(buf, sizeof(buf), &ts, &e), TS_OK);
	assert_int_equal(ts->n, 2);
	size_t first;
	assert_int_equal(tsdb_tombs_find(ts, 6, &first), 1);
	assert_int_equal(first, 1);
	assert_int_equal(tsdb_tombs_find(ts, 7, &first), 0);
	tsdb_tombset_release(ts);
}

/* The file bytes of two tombstones are pinned by tests/data/tsdb/tombstones_v1
 * (STRATA_UPDATE_GOLDEN=1 rewrites it), and the stored file still loads. */
static void test_tombstones_golden_v1(void **state)
{
	(void)state;
	const char *golden = STRATA_SOURCE_DIR "/tests/data/tsdb/tombstones_v1";
	const char *dir = test_fresh_dir("tomb_golden");
	tsdb_db *db = open_db(dir);
	fill(db, "a", "1", T0, T0 + 10000, 1000);
	fill(db, "a", "2", T0, T0 + 10000, 1000);
	del(db, "a", "1", T0 + 1000, T0 + 2999);
	del(db, "a", "2", T0 + 5000, T0 + 5000);
	del(db, "a", "1", T0 + 3000, T0 + 3999); /* adjacent: merged into [1000, 3999] */
	assert_int_equal(tsdb_tombstones_count(db), 2);
	tsdb_close(db);
	char path[600];
	snprintf(path, sizeof(path), "%s/tombstones", dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t x[512], y[512];
	size_t nx = fread(x, 1, sizeof(x), f);
	fclose(f);
	assert_int_equal(nx, 8 + (8 + 48) + 4 + 40 + 16); /* header, section, toc, footer */
	assert_memory_equal(x, "STTS", 4);
	if (getenv("STRATA_UPDATE_GOLDEN")) {
		f = fopen(golden, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(x, 1, nx, f), nx);
		fclose(f);
	}
	f = fopen(golden, "rb");
	assert_non_null(f);
	size_t ny = fread(y, 1, sizeof(y), f);
	fclose(f);
	assert_int_equal(nx, ny);
	assert_memory_equal(x, y, nx);
	/* The golden file loads into a fresh store and deletes the same samples. */
	dir = test_fresh_dir("tomb_golden2");
	snprintf(path, sizeof(path), "%s/tombstones", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(y, 1, ny, f), ny);
	fclose(f);
	db = open_db(dir);
	fill(db, "a", "1", T0, T0 + 10000, 1000);
	fill(db, "a", "2", T0, T0 + 10000, 1000);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0 + 1000, T0 + 3999), 7);
	assert_int_equal(count_raw(db, "a", "2", INT64_MIN, INT64_MAX, T0 + 5000, T0 + 5000), 9);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- tiers */

/* Rows of a{x=<x>} in the 1m tier; fails if a row's bucket meets [lo, hi]. */
static size_t count_1m(tsdb_db *db, const char *x, int64_t lo, int64_t hi)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open_tier(db, TSDB_TIER_1M, INT64_MIN, INT64_MAX, &q, NULL),
			 TS_OK);
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "x", x, NULL), TS_OK);
	tsdb_series **ss;
	size_t n, count = 0;
	assert_int_equal(tsdb_select(q, &m, 1, 0, &ss, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	tsdb_rollup_iter *it;
	assert_int_equal(tsdb_rollup_iter_open(q, ss[0], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
	tsdb_rollup r;
	while (tsdb_rollup_iter_next(it, &r) == 1) {
		if (r.t_ms - MIN_MS < hi && r.t_ms >= lo)
			fail_msg("row %lld meets deleted [%lld, %lld]", (long long)r.t_ms,
				 (long long)lo, (long long)hi);
		count++;
	}
	tsdb_rollup_iter_close(it);
	ts_free(ss);
	ts_matcher_fini(&m);
	tsdb_querier_close(q);
	return count;
}

/* The count of a{x="1"}'s 1m row ending at t (0 if none). */
static double row_count(tsdb_db *db, int64_t t)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open_tier(db, TSDB_TIER_1M, t, t, &q, NULL), TS_OK);
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "x", "1", NULL), TS_OK);
	tsdb_series **ss;
	size_t n;
	double count = 0;
	assert_int_equal(tsdb_select(q, &m, 1, 0, &ss, &n, NULL), TS_OK);
	if (n == 1) {
		tsdb_rollup_iter *it;
		assert_int_equal(tsdb_rollup_iter_open(q, ss[0], t, t, &it, NULL), TS_OK);
		tsdb_rollup r;
		if (tsdb_rollup_iter_next(it, &r) == 1)
			count = r.count;
		tsdb_rollup_iter_close(it);
	}
	ts_free(ss);
	ts_matcher_fini(&m);
	tsdb_querier_close(q);
	return count;
}

static void test_delete_series_tier(void **state)
{
	(void)state;
	tsdb_db *db = open_db(test_fresh_dir("tomb_tier"));
	fill(db, "a", "1", T0, T0 + 3 * HOUR_MS, 10000);
	fill(db, "a", "2", T0, T0 + 3 * HOUR_MS, 10000);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	assert_int_equal(tsdb_downsample_run(db, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_true(st.downsampled_1m >= 2);
	/* The newest raw block's unit is not complete yet: two hours of 1m rows. */
	assert_int_equal(count_1m(db, "1", 1, 0), 120);
	/* 20 s inside minute 30 (a partial bucket) and all of minute 40. */
	int64_t lo = T0 + 30 * MIN_MS + 20000, hi = T0 + 30 * MIN_MS + 39999;
	del(db, "a", "1", lo, hi);
	del(db, "a", "1", T0 + 40 * MIN_MS, T0 + 41 * MIN_MS - 1);
	assert_int_equal(count_1m(db, "1", lo, hi), 118);
	assert_int_equal(count_1m(db, "2", 1, 0), 120);
	/* The tier no longer covers ranges a tombstone meets: the planner reads raw. */
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open_tier(db, TSDB_TIER_1M, T0, T0 + 3 * HOUR_MS, &q, NULL),
			 TS_OK);
	assert_false(tsdb_querier_covers(q, TSDB_TIER_1M, T0, T0 + HOUR_MS - 1));
	assert_true(tsdb_querier_covers(q, TSDB_TIER_1M, T0 + HOUR_MS, T0 + 2 * HOUR_MS - 1));
	tsdb_querier_close(q);
	/* Raw: exactly the 2 + 6 deleted samples are gone. */
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, lo, hi), 1080 - 8);
	/* clean: minute 40's row goes; minute 30's row (partly deleted, raw still there)
	 * is rebuilt from the cleaned raw block by the next downsampling pass. */
	assert_int_equal(tsdb_clean_tombstones(db, NULL, NULL), TS_OK);
	assert_int_equal(tsdb_downsample_run(db, NULL), TS_OK);
	assert_int_equal(count_1m(db, "2", 1, 0), 120);
	assert_int_equal(count_1m(db, "1", T0 + 40 * MIN_MS, T0 + 41 * MIN_MS - 1), 119);
	assert_true(row_count(db, T0 + 31 * MIN_MS - 1) == 4.0);
	tsdb_close(db);
}

static void test_downsample_skips_deleted(void **state)
{
	(void)state;
	tsdb_db *db = open_db(test_fresh_dir("tomb_ds"));
	fill(db, "a", "1", T0, T0 + 2 * HOUR_MS, 10000);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	/* Delete two whole minutes before the tier is built: no rows for them, and the
	 * row of a partially deleted minute counts only the samples left. */
	del(db, "a", "1", T0 + 5 * MIN_MS, T0 + 7 * MIN_MS - 1);
	del(db, "a", "1", T0 + 9 * MIN_MS, T0 + 9 * MIN_MS + 29999);
	assert_int_equal(tsdb_downsample_run(db, NULL), TS_OK);
	/* While the tombstones exist, minute 9's row is hidden too (its bucket meets one). */
	assert_int_equal(count_1m(db, "1", T0 + 9 * MIN_MS, T0 + 9 * MIN_MS + 29999), 60 - 3);
	assert_int_equal(tsdb_clean_tombstones(db, NULL, NULL), TS_OK);
	assert_int_equal(tsdb_tombstones_count(db), 0);
	assert_int_equal(tsdb_downsample_run(db, NULL), TS_OK); /* rebuilds the dropped unit */
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open_tier(db, TSDB_TIER_1M, INT64_MIN, INT64_MAX, &q, NULL),
			 TS_OK);
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "x", "1", NULL), TS_OK);
	tsdb_series **ss;
	size_t n;
	assert_int_equal(tsdb_select(q, &m, 1, 0, &ss, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	tsdb_rollup_iter *it;
	assert_int_equal(tsdb_rollup_iter_open(q, ss[0], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
	tsdb_rollup r;
	size_t rows = 0;
	bool seen9 = false;
	while (tsdb_rollup_iter_next(it, &r) == 1) {
		assert_false(r.t_ms == T0 + 6 * MIN_MS - 1 || r.t_ms == T0 + 7 * MIN_MS - 1);
		if (r.t_ms == T0 + 10 * MIN_MS - 1) {
			assert_true(r.count == 3.0);
			assert_int_equal(r.first_t_ms, T0 + 9 * MIN_MS + 30000);
			seen9 = true;
		}
		rows++;
	}
	assert_true(seen9);
	assert_int_equal(rows, 60 - 2); /* the first hour's unit (the second is incomplete) */
	tsdb_rollup_iter_close(it);
	ts_free(ss);
	ts_matcher_fini(&m);
	tsdb_querier_close(q);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- physical removal */

/* A 1m block whose raw source is gone (retention) is rewritten by clean: a row a
 * tombstone only partly deletes goes whole, since nothing can recompute it. */
static void test_clean_tombstones_no_source(void **state)
{
	(void)state;
	tsdb_db *db = open_db_ret(test_fresh_dir("tomb_nosrc"), HOUR_MS);
	fill(db, "a", "1", T0, T0 + 3 * HOUR_MS, 10000);
	fill(db, "a", "2", T0, T0 + 3 * HOUR_MS, 10000);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	assert_int_equal(tsdb_downsample_run(db, NULL), TS_OK);
	size_t n_del = 0;
	assert_int_equal(tsdb_retention_run(db, T0 + 3 * HOUR_MS, &n_del, NULL, NULL), TS_OK);
	assert_int_equal(n_del, 1); /* the first hour's raw block */
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, 1, 0), 720);
	int64_t lo = T0 + 30 * MIN_MS + 20000, hi = T0 + 30 * MIN_MS + 39999;
	del(db, "a", "1", lo, hi);
	size_t n_rw = 0;
	assert_int_equal(tsdb_clean_tombstones(db, &n_rw, NULL), TS_OK);
	assert_int_equal(n_rw, 1);
	assert_int_equal(tsdb_tombstones_count(db), 0);
	assert_int_equal(tsdb_downsample_run(db, NULL), TS_OK);
	assert_int_equal(count_1m(db, "1", lo, hi), 120 - 1);
	assert_int_equal(count_1m(db, "2", 1, 0), 120);
	tsdb_close(db);
}

static void test_clean_tombstones(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("tomb_clean");
	tsdb_db *db = open_db(dir);
	fill(db, "a", "1", T0, T0 + 3 * HOUR_MS, 10000);
	fill(db, "a", "2", T0, T0 + 3 * HOUR_MS, 10000);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	/* Also samples still in the head when the deletion happens. */
	fill(db, "a", "1", T0 + 3 * HOUR_MS, T0 + 3 * HOUR_MS + 600000, 10000);
	fill(db, "a", "2", T0 + 3 * HOUR_MS, T0 + 3 * HOUR_MS + 600000, 10000);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	uint64_t block_samples = st.block_samples;
	/* Every sample of a{x="1"} in the second hour and the head's first 5 minutes. */
	del(db, "a", "1", T0 + HOUR_MS, T0 + 2 * HOUR_MS - 1);
	del(db, "a", "1", T0 + 3 * HOUR_MS, T0 + 3 * HOUR_MS + 299999);
	assert_int_equal(tsdb_tombstones_count(db), 2);
	size_t n_rw = 0;
	ts_err e = {0};
	if (tsdb_clean_tombstones(db, &n_rw, &e) != TS_OK)
		fail_msg("clean: %s", e.msg);
	assert_int_equal(n_rw, 2); /* the second hour's block and the flushed head's */
	assert_int_equal(tsdb_tombstones_count(db), 0);
	tsdb_stats_get(db, &st);
	/* blocks now hold the head's 2 x 60 samples minus the 360 + 30 deleted ones */
	assert_int_equal(st.block_samples, block_samples + 120 - 390);
	assert_int_equal(
	    count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0 + HOUR_MS, T0 + 2 * HOUR_MS - 1),
	    1080 + 60 - 390);
	assert_int_equal(count_raw(db, "a", "2", INT64_MIN, INT64_MAX, 1, 0), 1140);
	/* Nothing to clean: a no-op. */
	assert_int_equal(tsdb_clean_tombstones(db, &n_rw, NULL), TS_OK);
	assert_int_equal(n_rw, 0);
	tsdb_close(db);
	db = open_db(dir);
	assert_int_equal(tsdb_tombstones_count(db), 0);
	assert_int_equal(
	    count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0 + HOUR_MS, T0 + 2 * HOUR_MS - 1),
	    1080 + 60 - 390);
	tsdb_close(db);
}

static void test_compact_drops_deleted(void **state)
{
	(void)state;
	tsdb_db *db = open_db(test_fresh_dir("tomb_compact"));
	fill(db, "a", "1", T0, T0 + 2 * HOUR_MS, 10000);
	fill(db, "b", "1", T0, T0 + 2 * HOUR_MS, 10000);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	del(db, "b", NULL, INT64_MIN / 4, INT64_MAX / 4); /* the whole series */
	del(db, "a", "1", T0 + 50 * MIN_MS, T0 + 70 * MIN_MS - 1);
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->n, 2);
	tsdb_block *src[2] = {bs->b[0], bs->b[1]};
	tsdb_block_acquire(src[0]);
	tsdb_block_acquire(src[1]);
	tsdb_blockset_release(bs);
	ts_err e = {0};
	if (tsdb_compact_blocks(db, src, 2, &e) != TS_OK)
		fail_msg("compact: %s", e.msg);
	tsdb_block_release(src[0]);
	tsdb_block_release(src[1]);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 1);
	assert_int_equal(st.block_samples, 720 - 120); /* b gone, 20 minutes of a gone */
	/* The tombstones stay until clean_tombstones; reads agree. */
	assert_int_equal(tsdb_tombstones_count(db), 2);
	assert_int_equal(
	    count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0 + 50 * MIN_MS, T0 + 70 * MIN_MS - 1),
	    600);
	assert_int_equal(count_raw(db, "b", "1", INT64_MIN, INT64_MAX, 1, 0), 0);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- cache invalidation */

static void test_delete_series_late_marks(void **state)
{
	(void)state;
	tsdb_db *db = open_db(test_fresh_dir("tomb_late"));
	fill(db, "a", "1", T0, T0 + 100000, 1000);
	fill(db, "b", "1", T0, T0 + 100000, 1000);
	tsdb_late_mark marks[TSDB_LATE_MAX_NAMES];
	assert_int_equal(tsdb_late_drain(db, marks), 0);
	del(db, "a", NULL, T0 + 5000, T0 + 6000);
	size_t n = tsdb_late_drain(db, marks);
	assert_int_equal(n, 1);
	assert_true(marks[0].name_hash == tsdb_late_name_hash("a"));
	assert_int_equal(marks[0].min_t_ms, T0 + 5000);
	/* A deletion that matches nothing marks nothing. */
	del(db, "zzz", NULL, T0, T0 + 1);
	assert_int_equal(tsdb_late_drain(db, marks), 0);
	tsdb_close(db);
}

/* A memory-only store filters too; clean keeps the tombstones (they are the filter). */
static void test_delete_series_memory_only(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	o.cut_check_interval_ms = 0;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	fill(db, "a", "1", T0, T0 + 100000, 1000);
	del(db, "a", "1", T0, T0 + 49999);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0, T0 + 49999), 50);
	assert_int_equal(tsdb_clean_tombstones(db, NULL, NULL), TS_OK);
	assert_int_equal(tsdb_tombstones_count(db), 1);
	assert_int_equal(count_raw(db, "a", "1", INT64_MIN, INT64_MAX, T0, T0 + 49999), 50);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delete_series_head),
	    cmocka_unit_test(test_delete_series_errors),
	    cmocka_unit_test(test_delete_series_blocks_persist),
	    cmocka_unit_test(test_snapshot_keeps_deletions),
	    cmocka_unit_test(test_tombs_decode_corrupt),
	    cmocka_unit_test(test_tombstones_golden_v1),
	    cmocka_unit_test(test_delete_series_tier),
	    cmocka_unit_test(test_downsample_skips_deleted),
	    cmocka_unit_test(test_clean_tombstones),
	    cmocka_unit_test(test_clean_tombstones_no_source),
	    cmocka_unit_test(test_compact_drops_deleted),
	    cmocka_unit_test(test_delete_series_late_marks),
	    cmocka_unit_test(test_delete_series_memory_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
