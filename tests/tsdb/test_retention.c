/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_retention.c: tests for tsdb/retention.c: deletion per tier from the reference
 * time (newest sample, capped at the wall clock; a future sample cannot expire
 * history), moves to the cold directory and reads from it, crash leftovers of a move
 * (both copies, a partial copy), retention in the cold directory, and the background
 * worker doing compaction and retention on its own.
 */
#include "tsdb/block.h"
#include "support/test_support.h"
#include "support/tsdb_support.h"

#include <dirent.h>
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

#define D 1000 /* block duration of these tests, ms */

/* A fresh STRATA_TEST_TMP/<name> in dir (512 bytes), with no <name>.cold beside it. */
static void fresh_dir(const char *name, char *dir)
{
	snprintf(dir, 512, "%s", test_fresh_dir(name));
	test_sh("rm -rf '%s.cold'", dir);
}

static void opts(tsdb_options *o, const char *dir)
{
	test_tsdb_options(o, dir, D);
	o->n_partitions = 2;
	o->out_of_order_window_ms = 1000 * D;
	o->max_block_duration_ms = 0; /* no level compaction unless a test asks */
}

/* Samples of every series named "m" in [mint, maxt] as text; *n counts them. */
static char *dump(tsdb_db *db, int64_t mint, int64_t maxt, size_t *n)
{
	return test_tsdb_dump(db, "m", mint, maxt, n);
}

/* One block of `tier` for range [k D, (k+1) D) with one series, written directly. */
static void write_block(const char *dir, int tier, int64_t k)
{
	ts_label l[] = {{"__name__", "m"}, {"id", "x"}};
	int64_t t[4];
	double v[4];
	const double *cols[TSDB_COL_N];
	for (int i = 0; i < 4; i++) {
		t[i] = k * D + 100 + 250 * i;
		v[i] = (double)(k * 4 + i);
	}
	for (int c = 0; c < TSDB_COL_N; c++)
		cols[c] = v;
	test_tsdb_write_block(dir, tier, k * D, (k + 1) * D - 1, l, 2, t, cols, 4);
}

/* Blocks per tier currently in the set, and the smallest range start of each. */
static void tier_counts(tsdb_db *db, int n[TSDB_TIER_N], int64_t first[TSDB_TIER_N])
{
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	for (int t = 0; t < TSDB_TIER_N; t++) {
		n[t] = 0;
		first[t] = INT64_MAX;
	}
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block_meta *m = &bs->b[i]->meta;
		n[m->tier]++;
		first[m->tier] = m->range_mint < first[m->tier] ? m->range_mint : first[m->tier];
	}
	tsdb_blockset_release(bs);
}

/* ---------------------------------------------------------------- retention */

static void test_tsdb_retention_run_per_tier(void **state)
{
	(void)state;
	char dir[512], bdir[600];
	fresh_dir("ret_tiers", dir);
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	for (int tier = 0; tier < TSDB_TIER_N; tier++)
		for (int64_t k = 0; k < 12; k++)
			write_block(dir, tier, k);
	tsdb_options o;
	opts(&o, dir);
	o.retention_raw_ms = 3 * D;
	o.retention_1m_ms = 6 * D;
	o.retention_1h_ms = 9 * D;
	tsdb_db *db = test_tsdb_open(&o);
	int n[TSDB_TIER_N];
	int64_t first[TSDB_TIER_N];
	/* The newest sample is at 11D + 850; the reference is capped at the clock. */
	assert_int_equal(tsdb_retention_ref_ms(db, INT64_MAX), 11 * D + 850);
	assert_int_equal(tsdb_retention_ref_ms(db, 6 * D), 6 * D);
	size_t nd, nm;
	assert_int_equal(tsdb_retention_run(db, 6 * D, &nd, &nm, NULL), TS_OK);
	/* ref 6D: raw keeps ranges ending at or after 3D, 1m after 0, 1h everything. */
	assert_int_equal(nd, 3);
	assert_int_equal(nm, 0);
	tier_counts(db, n, first);
	assert_int_equal(n[TSDB_TIER_RAW], 9);
	assert_int_equal(first[TSDB_TIER_RAW], 3 * D);
	assert_int_equal(n[TSDB_TIER_1M], 12);
	assert_int_equal(n[TSDB_TIER_1H], 12);
	/* A sample far in the future does not move the reference past the clock. */
	ts_label l[] = {{"__name__", "m"}, {"id", "future"}};
	assert_int_equal(tsdb_append(db, l, 2, 1000 * D, 1, NULL), TS_OK);
	assert_int_equal(tsdb_retention_run(db, 11 * D + 850, &nd, NULL, NULL), TS_OK);
	/* ref 11D + 850: raw keeps ranges ending >= 8D + 850 (k >= 8), 1m k >= 5, 1h k >= 2. */
	assert_int_equal(nd, 5 + 5 + 2);
	tier_counts(db, n, first);
	assert_int_equal(n[TSDB_TIER_RAW], 4);
	assert_int_equal(first[TSDB_TIER_RAW], 8 * D);
	assert_int_equal(n[TSDB_TIER_1M], 7);
	assert_int_equal(first[TSDB_TIER_1M], 5 * D);
	assert_int_equal(n[TSDB_TIER_1H], 10);
	assert_int_equal(first[TSDB_TIER_1H], 2 * D);
	tsdb_stats st = test_tsdb_stats(db);
	assert_int_equal(st.blocks_retention_deleted, 15);
	assert_int_equal(test_count_entries(bdir, ""), 21);
	/* Raw reads: what is left starts at 8D; the future sample is still there. */
	size_t cnt;
	free(dump(db, INT64_MIN, 8 * D - 1, &cnt));
	assert_int_equal(cnt, 0);
	free(dump(db, 8 * D, INT64_MAX, &cnt));
	assert_int_equal(cnt, 4 * 4 + 1);
	tsdb_close(db);
	/* Persisted: a reopen sees the same blocks (plus the future sample's, flushed at
	 * close); nothing more is due. */
	db = test_tsdb_open(&o);
	tier_counts(db, n, first);
	assert_int_equal(n[TSDB_TIER_RAW] + n[TSDB_TIER_1M] + n[TSDB_TIER_1H], 22);
	assert_int_equal(tsdb_retention_run(db, 11 * D + 850, &nd, NULL, NULL), TS_OK);
	assert_int_equal(nd, 0);
	tsdb_close(db);
}

static void test_tsdb_retention_run_empty_store(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("ret_empty", dir);
	tsdb_options o;
	opts(&o, dir);
	tsdb_db *db = test_tsdb_open(&o);
	assert_int_equal(tsdb_retention_ref_ms(db, 5), INT64_MIN);
	size_t nd = 9, nm = 9;
	assert_int_equal(tsdb_retention_run(db, INT64_MAX, &nd, &nm, NULL), TS_OK);
	assert_int_equal(nd, 0);
	assert_int_equal(nm, 0);
	tsdb_close(db);
	/* Memory-only stores have nothing to delete. */
	o.dir = NULL;
	db = test_tsdb_open(&o);
	assert_int_equal(tsdb_append(db, (ts_label[]){{"__name__", "m"}}, 1, 5, 1, NULL), TS_OK);
	assert_int_equal(tsdb_retention_run(db, INT64_MAX, &nd, &nm, NULL), TS_OK);
	assert_int_equal(nd, 0);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- cold directory */

/* 8 raw ranges of 5 series (one block each); returns the number of samples. */
static size_t fill(tsdb_db *db, int n_ranges)
{
	size_t total = 0;
	for (int k = 0; k < n_ranges; k++) {
		for (int64_t t = (int64_t)k * D; t < (int64_t)(k + 1) * D; t += 25)
			for (int i = 0; i < 5; i++) {
				char id[8];
				snprintf(id, sizeof(id), "s%d", i);
				ts_label l[] = {{"__name__", "m"}, {"id", id}};
				assert_int_equal(
				    tsdb_append(db, l, 2, t + i, (double)(t * i) / 7.0, NULL),
				    TS_OK);
				total++;
			}
		assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	}
	return total;
}

static void test_tsdb_retention_run_moves_cold_and_reads(void **state)
{
	(void)state;
	char dir[512], cold[600], bdir[600], cbdir[700];
	fresh_dir("ret_cold", dir);
	snprintf(cold, sizeof(cold), "%s.cold", dir);
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	snprintf(cbdir, sizeof(cbdir), "%s/blocks", cold);
	tsdb_options o;
	opts(&o, dir);
	o.cold_dir = cold;
	o.cold_after_ms = 4 * D;
	tsdb_db *db = test_tsdb_open(&o);
	size_t total = fill(db, 8), n;
	char *before = dump(db, INT64_MIN, INT64_MAX, &n);
	assert_int_equal(n, total);
	size_t nd, nm;
	assert_int_equal(tsdb_retention_run(db, INT64_MAX, &nd, &nm, NULL), TS_OK);
	/* Newest sample 7D + 979: ranges ending before 3D + 979 (k = 0..2) move. */
	assert_int_equal(nd, 0);
	assert_int_equal(nm, 3);
	assert_int_equal(test_count_entries(cbdir, ""), 3);
	assert_int_equal(test_count_entries(bdir, ""), 5);
	tsdb_stats st = test_tsdb_stats(db);
	assert_int_equal(st.blocks_moved_cold, 3);
	assert_int_equal(st.n_blocks, 8);
	assert_int_equal(st.block_samples, total);
	char *s = dump(db, INT64_MIN, INT64_MAX, &n);
	assert_string_equal(before, s);
	free(s);
	/* Already cold: nothing moves again. */
	assert_int_equal(tsdb_retention_run(db, INT64_MAX, &nd, &nm, NULL), TS_OK);
	assert_int_equal(nm, 0);
	tsdb_close(db);
	/* Reopen: blocks load from both directories. */
	db = test_tsdb_open(&o);
	assert_int_equal(test_tsdb_stats(db).n_blocks, 8);
	s = dump(db, INT64_MIN, INT64_MAX, &n);
	assert_string_equal(before, s);
	free(s);
	tsdb_close(db);
	/* Crash after the copy's rename, before the original was deleted: both copies.
	 * And a crash during a copy: a partial <ULID>.tmp in the cold directory. */
	test_sh("d=$(ls '%s' | head -1); cp -a '%s'/$d '%s'/ && "
		"mkdir '%s/01JZZZZZZZZZZZZZZZZZZZZZZZ.tmp' && cp '%s'/$d/meta "
		"'%s/01JZZZZZZZZZZZZZZZZZZZZZZZ.tmp/'",
		cbdir, cbdir, bdir, cbdir, cbdir, cbdir);
	assert_int_equal(test_count_entries(bdir, ""), 6);
	assert_int_equal(test_count_entries(cbdir, ".tmp"), 1);
	db = test_tsdb_open(&o);
	st = test_tsdb_stats(db);
	assert_int_equal(st.n_blocks, 8);
	assert_int_equal(st.block_samples, total);
	assert_int_equal(st.blocks_quarantined, 0);
	assert_int_equal(test_count_entries(bdir, ""), 5);
	assert_int_equal(test_count_entries(cbdir, ""), 3);
	s = dump(db, INT64_MIN, INT64_MAX, &n);
	assert_string_equal(before, s);
	free(s);
	tsdb_close(db);
	/* Retention reaches into the cold directory too. */
	o.retention_raw_ms = 5 * D;
	db = test_tsdb_open(&o);
	assert_int_equal(tsdb_retention_run(db, INT64_MAX, &nd, &nm, NULL), TS_OK);
	assert_int_equal(nd, 2); /* ranges ending before 2D + 979 */
	assert_int_equal(test_count_entries(cbdir, ""), 1);
	free(dump(db, INT64_MIN, 2 * D - 1, &n));
	assert_int_equal(n, 0);
	s = dump(db, 2 * D, INT64_MAX, &n);
	assert_int_equal(n, total / 8 * 6);
	free(s);
	tsdb_close(db);
	free(before);
}

static void test_tsdb_retention_run_cold_dir_unusable(void **state)
{
	(void)state;
	char dir[512], cold[600];
	fresh_dir("ret_cold_bad", dir);
	snprintf(cold, sizeof(cold), "%s.cold", dir);
	tsdb_options o;
	opts(&o, dir);
	o.cold_dir = cold;
	o.cold_after_ms = D;
	tsdb_db *db = test_tsdb_open(&o);
	size_t total = fill(db, 4), n;
	/* The cold blocks directory turns into a file: the move fails with a message
	 * naming it, the originals stay and read the same. */
	char cb[700];
	snprintf(cb, sizeof(cb), "%s/blocks", cold);
	test_sh("rm -rf '%s' && touch '%s'", cb, cb);
	ts_err e = {0};
	size_t nm = 9;
	assert_int_not_equal(tsdb_retention_run(db, INT64_MAX, NULL, &nm, &e), TS_OK);
	assert_non_null(strstr(e.msg, "blocks"));
	assert_int_equal(nm, 0);
	assert_int_equal(test_tsdb_stats(db).n_blocks, 4);
	free(dump(db, INT64_MIN, INT64_MAX, &n));
	assert_int_equal(n, total);
	tsdb_close(db);
	/* Opening fails clearly while the cold directory cannot hold blocks. */
	tsdb_db *db2;
	assert_int_equal(tsdb_open(&o, &db2, &e), TS_EIO);
	assert_non_null(strstr(e.msg, "blocks"));
}

/* ---------------------------------------------------------------- worker */

static void test_tsdb_bg_worker_compacts_and_expires(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("ret_worker", dir);
	tsdb_options o;
	opts(&o, dir);
	o.cut_check_interval_ms = 20;
	o.retention_raw_ms = 40 * D; /* compaction cap: min(3D, 4D) = 3D */
	o.max_block_duration_ms = 3 * D;
	tsdb_db *db = test_tsdb_open(&o);
	size_t kept = 0;
	for (int64_t t = 0; t < 60 * D; t += 50)
		for (int i = 0; i < 3; i++) {
			char id[8];
			snprintf(id, sizeof(id), "s%d", i);
			ts_label l[] = {{"__name__", "m"}, {"id", id}};
			assert_int_equal(tsdb_append(db, l, 2, t, (double)t, NULL), TS_OK);
			kept += t >= 21 * D;
		}
	/* The worker cuts, compacts and expires on its own (bounded wait): in the end
	 * nothing before 18D is left (the 3D window [18D, 21D) ends after 60D - 40D). */
	tsdb_stats st;
	size_t n = 1;
	for (int i = 0; i < 1000; i++) {
		st = test_tsdb_stats(db);
		free(dump(db, INT64_MIN, 18 * D - 1, &n));
		if (st.compactions >= 3 && n == 0)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(n, 0);
	assert_true(st.compactions >= 3);
	assert_true(st.blocks_retention_deleted >= 3);
	assert_int_equal(st.compaction_errors, 0);
	/* Everything from 21D on is still there. */
	free(dump(db, 21 * D, INT64_MAX, &n));
	assert_int_equal(n, kept);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_retention_run_per_tier),
	    cmocka_unit_test(test_tsdb_retention_run_empty_store),
	    cmocka_unit_test(test_tsdb_retention_run_moves_cold_and_reads),
	    cmocka_unit_test(test_tsdb_retention_run_cold_dir_unusable),
	    cmocka_unit_test(test_tsdb_bg_worker_compacts_and_expires),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
