/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_compact.c: tests for tsdb/compact.c: level planning and the tier caps, merges
 * of adjacent and of overlapping blocks with duplicate and conflicting samples on
 * random data, readers before/during/after a merge, the SOURCES meta round trip,
 * simulated crash points (a leftover temporary directory, sources left after the
 * rename, a half-deleted source), real kill -9 at random points of a compaction
 * (fork), allocation failures, and a source that left the set.
 */
#include "tsdb/block.h"
#include "support/test_support.h"
#include "support/tsdb_support.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define D 1000 /* block duration of these tests, ms */

/* ---------------------------------------------------------------- helpers */

static void fresh_dir(const char *name, char *dir)
{
	snprintf(dir, 512, "%s", test_fresh_dir(name));
}

static tsdb_db *open_db(const char *dir, int64_t max_block_ms)
{
	tsdb_options o;
	test_tsdb_options(&o, dir, D);
	o.n_partitions = 2;
	o.out_of_order_window_ms = 1000 * D;
	o.max_block_duration_ms = max_block_ms;
	return test_tsdb_open(&o);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t bits(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	return u;
}

/* Every sample of the series named "m", as text (test_tsdb_dump); *n counts them. */
static char *dump(tsdb_db *db, size_t *n)
{
	return test_tsdb_dump(db, "m", INT64_MIN, INT64_MAX, n);
}

/*
 * Fill db with n_ranges block ranges of random data (20 series in two groups that
 * share jittered timestamps, decimal gauges and counters), flushing after each range
 * so every range is one block. Returns the number of samples.
 */
static size_t fill_ranges(tsdb_db *db, int n_ranges, int64_t step, uint64_t seed)
{
	uint64_t s = seed;
	size_t total = 0;
	for (int k = 0; k < n_ranges; k++) {
		for (int64_t t0 = (int64_t)k * D; t0 < (int64_t)(k + 1) * D; t0 += step) {
			int64_t jit[2] = {(int64_t)(rng_next(&s) % (uint64_t)(step / 2)),
					  (int64_t)(rng_next(&s) % (uint64_t)(step / 2))};
			for (int i = 0; i < 20; i++) {
				char id[8];
				snprintf(id, sizeof(id), "s%02d", i);
				ts_label l[] = {{"__name__", "m"}, {"id", id}};
				double v = i % 3 == 0 ? (double)(t0 * (i + 1))
						      : (double)(rng_next(&s) % 100000) / 100.0;
				assert_int_equal(tsdb_append(db, l, 2, t0 + jit[i % 2], v, NULL),
						 TS_OK);
				total++;
			}
		}
		assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	}
	return total;
}

/* ---------------------------------------------------------------- planning */

static void test_tsdb_compact_max_ms_caps(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("compact_caps", dir);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.cut_check_interval_ms = 0;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	/* Raw 7d: 10% (16.8h) is below 24h; 1m 30d and 1h 365d: 24h. */
	assert_int_equal(tsdb_compact_max_ms(db, TSDB_TIER_RAW), 7LL * 86400 * 1000 / 10);
	assert_int_equal(tsdb_compact_max_ms(db, TSDB_TIER_1M), 86400 * 1000);
	assert_int_equal(tsdb_compact_max_ms(db, TSDB_TIER_1H), 86400 * 1000);
	tsdb_close(db);
	o.max_block_duration_ms = 0; /* never below the block duration */
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	assert_int_equal(tsdb_compact_max_ms(db, TSDB_TIER_RAW), 2 * 3600 * 1000);
	tsdb_close(db);
	o.max_block_duration_ms = -1;
	ts_err e = {0};
	assert_int_equal(tsdb_open(&o, &db, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "max_block_duration"));
}

static void test_tsdb_compact_run_levels_to_one_block(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("compact_levels", dir);
	tsdb_db *db = open_db(dir, 12 * D);
	size_t total = fill_ranges(db, 12, 50, 1), n;
	assert_int_equal(test_tsdb_stats(db).n_blocks, 12);
	char *before = dump(db, &n);
	assert_int_equal(n, total);
	int done = -1;
	assert_int_equal(tsdb_compact_run(db, 100, &done, NULL), TS_OK);
	/* 3D: four windows; 6D: two; 12D: one. */
	assert_int_equal(done, 7);
	tsdb_stats st = test_tsdb_stats(db);
	assert_int_equal(st.n_blocks, 1);
	assert_int_equal(st.block_samples, total);
	assert_int_equal(st.compactions, 7);
	assert_int_equal(st.compaction_errors, 0);
	char *after = dump(db, &n);
	assert_string_equal(before, after);
	free(after);
	/* Nothing left to do; the source directories are gone. */
	assert_int_equal(tsdb_compact_run(db, 100, &done, NULL), TS_OK);
	assert_int_equal(done, 0);
	char bdir[600];
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	assert_int_equal(test_count_entries(bdir, ""), 1);
	/* The merged block lists its sources (12 leaves + 6 intermediate) and survives a
	 * reopen with the same samples. */
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->b[0]->meta.n_sources, 18);
	assert_int_equal(bs->b[0]->meta.range_mint, 0);
	assert_int_equal(bs->b[0]->meta.range_maxt, 12 * D - 1);
	assert_int_equal(bs->b[0]->meta.tier, TSDB_TIER_RAW);
	tsdb_blockset_release(bs);
	tsdb_close(db);
	db = open_db(dir, 12 * D);
	after = dump(db, &n);
	assert_string_equal(before, after);
	assert_int_equal(test_tsdb_stats(db).n_blocks, 1);
	free(after);
	free(before);
	tsdb_close(db);
}

static void test_tsdb_compact_run_waits_for_closed_windows(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("compact_windows", dir);
	tsdb_db *db = open_db(dir, 6 * D);
	fill_ranges(db, 2, 100, 2); /* ranges 0 and 1: window [0, 3D) is still open */
	int done = -1;
	assert_int_equal(tsdb_compact_run(db, 100, &done, NULL), TS_OK);
	assert_int_equal(done, 0);
	assert_int_equal(test_tsdb_stats(db).n_blocks, 2);
	/* A block in the next window closes [0, 3D): its two blocks merge. */
	ts_label l[] = {{"__name__", "m"}, {"id", "late"}};
	assert_int_equal(tsdb_append(db, l, 2, 3 * D + 5, 1, NULL), TS_OK);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	assert_int_equal(tsdb_compact_run(db, 100, &done, NULL), TS_OK);
	assert_int_equal(done, 1);
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->n, 2);
	assert_int_equal(bs->b[0]->meta.range_mint, 0);
	assert_int_equal(bs->b[0]->meta.range_maxt, 2 * D - 1); /* union of the sources */
	tsdb_blockset_release(bs);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- overlaps */

typedef struct ser {
	int64_t t[4 * D];
	double v[4 * D];
	size_t n;
} ser;

typedef struct bspec {
	int64_t lo, hi; /* range */
} bspec;

/* Write one block straight to <dir>/blocks with the samples of s that pick chose. */
static void write_block(const char *dir, const bspec *b, ser *s, size_t n_ser,
			const unsigned char *pick, int bi, double conflict_v)
{
	char bdir[600];
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	mkdir(dir, 0755);
	mkdir(bdir, 0755);
	tsdb_bw *w;
	assert_int_equal(tsdb_bw_new(bdir, b->lo, b->hi, &w, NULL), TS_OK);
	int64_t *t = malloc(sizeof(int64_t) * 4 * D);
	double *v = malloc(sizeof(double) * 4 * D);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_ser; i++) {
			size_t n = 0;
			for (size_t k = 0; k < s[i].n; k++) {
				if (!(pick[i * 4 * D + k] & (1u << bi)))
					continue;
				t[n] = s[i].t[k];
				v[n++] = s[i].v[k];
			}
			if (i == 0 && n && t[0] == 5)
				v[0] = conflict_v; /* series s00 at t=5 differs between blocks */
			if (!n)
				continue;
			char id[24];
			snprintf(id, sizeof(id), "s%02zu", i);
			ts_label l[] = {{"__name__", "m"}, {"id", id}};
			if (pass == 0)
				assert_int_equal(tsdb_bw_scan(w, t, n, NULL), TS_OK);
			else
				assert_int_equal(tsdb_bw_add(w, l, 2, t, v, n, NULL), TS_OK);
		}
	}
	uint64_t off[2] = {(uint64_t)bi * 10, 100 - (uint64_t)bi};
	char *path;
	assert_int_equal(tsdb_bw_finish(w, off, 2, &path, NULL), TS_OK);
	ts_free(path);
	tsdb_bw_free(w);
	free(t);
	free(v);
}

static void test_tsdb_compact_run_overlaps_and_duplicates(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("compact_overlap", dir);
	/* Blocks 0 and 1: [0, D) twice; 2: [0, 3D) (overlapping both and more); 3:
	 * [3D, 4D) alone. Every sample goes to one to three blocks covering it. */
	const bspec bl[] = {{0, D - 1}, {0, D - 1}, {0, 3 * D - 1}, {3 * D, 4 * D - 1}};
	enum { NB = 4, NS = 12 };
	ser *s = calloc(NS, sizeof(*s));
	unsigned char *pick = calloc(NS * 4 * D, 1);
	uint64_t r = 42;
	size_t total = 0;
	for (size_t i = 0; i < NS; i++) {
		for (int64_t t = i == 0 ? 5 : (int64_t)(rng_next(&r) % 7); t < 4 * D;
		     t += 1 + (int64_t)(rng_next(&r) % 13)) {
			size_t k = s[i].n++;
			s[i].t[k] = t;
			s[i].v[k] = (double)(rng_next(&r) % 1000) / 10.0;
			unsigned cover = 0;
			for (int b = 0; b < NB; b++)
				if (t >= bl[b].lo && t <= bl[b].hi)
					cover |= 1u << b;
			unsigned m = 0;
			while (!m)
				m = (unsigned)rng_next(&r) & cover;
			pick[i * 4 * D + k] = (unsigned char)m;
			total++;
		}
		if (i == 0) { /* t = 5 is in blocks 0 and 1 with different values */
			assert_int_equal(s[0].t[0], 5);
			pick[0] = 3;
		}
	}
	for (int b = 0; b < NB; b++)
		write_block(dir, &bl[b], s, NS, pick, b, b == 0 ? 111.0 : 222.0);
	tsdb_db *db = open_db(dir, 2 * D);
	size_t n;
	tsdb_stats st = test_tsdb_stats(db);
	assert_int_equal(st.n_blocks, 4);
	assert_true(st.block_samples > total); /* duplicates on disk */
	char *before = dump(db, &n);
	assert_int_equal(n, total);
	/* The conflicting sample reads as the value of the first block in set order. */
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	double first = -1;
	for (size_t i = 0; i < bs->n && first < 0; i++) {
		tsdb_samples sm = {0};
		uint32_t id;
		ts_label l[] = {{"__name__", "m"}, {"id", "s00"}};
		if (tsdb_block_lookup(bs->b[i], l, 2, &id, NULL) == TS_OK) {
			assert_int_equal(tsdb_block_read_series(bs->b[i], id, 5, 5, &sm, NULL),
					 TS_OK);
			if (sm.n)
				first = sm.v[0];
		}
		tsdb_samples_free(&sm);
	}
	tsdb_blockset_release(bs);
	char want[64];
	snprintf(want, sizeof(want), " 5:%llx", (unsigned long long)bits(first));
	assert_non_null(strstr(before, want));
	int done;
	assert_int_equal(tsdb_compact_run(db, 100, &done, NULL), TS_OK);
	assert_int_equal(done, 1); /* the overlap group; [0,3D) + [3D,4D) stays: 6D cap > 2D */
	st = test_tsdb_stats(db);
	assert_int_equal(st.n_blocks, 2);
	assert_int_equal(st.block_samples, total); /* every duplicate dropped exactly once */
	char *after = dump(db, &n);
	assert_string_equal(before, after);
	free(after);
	bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->b[0]->meta.range_mint, 0);
	assert_int_equal(bs->b[0]->meta.range_maxt, 3 * D - 1);
	assert_int_equal(bs->b[0]->meta.n_sources, 3);
	/* Offsets: the maximum of the sources per partition. */
	assert_int_equal(bs->b[0]->meta.n_offsets, 2);
	assert_int_equal(bs->b[0]->meta.offsets[0], 20);
	assert_int_equal(bs->b[0]->meta.offsets[1], 100);
	tsdb_blockset_release(bs);
	tsdb_close(db);
	db = open_db(dir, 2 * D);
	after = dump(db, &n);
	assert_string_equal(before, after);
	assert_int_equal(tsdb_partition_resume_offset(db, 0), 30);
	free(after);
	free(before);
	tsdb_close(db);
	free(s);
	free(pick);
}

/* ---------------------------------------------------------------- rollup tiers */

/* A 1m block for [lo, hi] with series "r" rows at t[0..n), kind k value k * 1000 + t + f. */
static void write_rollup(const char *dir, int64_t lo, int64_t hi, const int64_t *t, size_t n,
			 double f)
{
	double v[TSDB_COL_N][8];
	const double *cols[TSDB_COL_N] = {0};
	for (int k = 1; k < TSDB_COL_N; k++) {
		for (size_t i = 0; i < n; i++)
			v[k][i] = k * 1000 + (double)t[i] + f;
		cols[k] = v[k];
	}
	ts_label l[] = {{"__name__", "m"}, {"id", "r"}};
	test_tsdb_write_block(dir, TSDB_TIER_1M, lo, hi, l, 2, t, cols, n);
}

static void test_tsdb_compact_run_rollup_tier_keeps_every_column(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("compact_rollup", dir);
	const int64_t ta[] = {100, 300, 500}, tb[] = {300, 700}, tc[] = {D + 100},
		      td[] = {2 * D + 100, 2 * D + 200};
	write_rollup(dir, 0, D - 1, ta, 3, 0.5);
	write_rollup(dir, 0, D - 1, tb, 2, 0.25); /* overlaps; t = 300 in both */
	write_rollup(dir, D, 2 * D - 1, tc, 1, 0.5);
	write_rollup(dir, 2 * D, 3 * D - 1, td, 2, 0.5);
	tsdb_db *db = open_db(dir, 3 * D);
	assert_int_equal(tsdb_compact_max_ms(db, TSDB_TIER_1M), 3 * D);
	/* The row at 300 comes from the first of the two [0, D) blocks in set order. */
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->n, 4);
	double f300 = bs->b[0]->meta.n_samples == 3 ? 0.5 : 0.25;
	tsdb_blockset_release(bs);
	int done;
	assert_int_equal(tsdb_compact_run(db, 100, &done, NULL), TS_OK);
	assert_int_equal(done, 2); /* the overlap, then the 3D window */
	bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->n, 1);
	tsdb_block *b = bs->b[0];
	assert_int_equal(b->meta.tier, TSDB_TIER_1M);
	assert_int_equal(b->meta.resolution_ms, 60000);
	assert_int_equal(b->meta.n_samples, 7);
	assert_int_equal(b->meta.n_sources, 5); /* 4 leaves + the overlap merge */
	const int64_t want_t[] = {100, 300, 500, 700, D + 100, 2 * D + 100, 2 * D + 200};
	const double want_f[] = {0.5, f300, 0.5, 0.25, 0.5, 0.5, 0.5};
	tsdb_block_part *parts;
	size_t np;
	assert_int_equal(tsdb_block_series(b, 0, NULL, NULL, &parts, &np, NULL), TS_OK);
	assert_int_equal(np, 1);
	assert_int_equal(parts[0].n, 7);
	int64_t *t = malloc(b->tcols[parts[0].tcol].n * sizeof(*t));
	assert_int_equal(tsdb_block_tcol_read(b, parts[0].tcol, t, NULL), TS_OK);
	for (int k = 1; k < TSDB_COL_N; k++) {
		double v[8];
		assert_int_equal(tsdb_block_read_rollup_col(b, &parts[0], k, v, NULL), TS_OK);
		for (size_t i = 0; i < 7; i++) {
			assert_int_equal(t[parts[0].start + i], want_t[i]);
			if (v[i] != k * 1000 + (double)want_t[i] + want_f[i])
				fail_msg("kind %d row %zu: %g", k, i, v[i]);
		}
	}
	free(t);
	ts_free(parts);
	tsdb_blockset_release(bs);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- readers */

typedef struct compactor {
	tsdb_db *db;
	int rc, done;
	_Atomic bool is_finished;
} compactor;

static void *compact_thread(void *p)
{
	compactor *c = p;
	c->rc = tsdb_compact_run(c->db, 1, &c->done, NULL);
	atomic_store(&c->is_finished, true);
	return NULL;
}

static void test_tsdb_compact_run_readers_see_same_samples(void **state)
{
	(void)state;
	char dir[512];
	fresh_dir("compact_readers", dir);
	tsdb_db *db = open_db(dir, 3 * D);
	size_t total = fill_ranges(db, 3, 20, 7), n;
	char *before = dump(db, &n);
	assert_int_equal(n, total);
	tsdb_querier *old;
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &old, NULL), TS_OK);
	compactor c = {db, -1, -1, false};
	pthread_t th;
	pthread_create(&th, NULL, compact_thread, &c);
	/* Wait (bounded) until the merged block is published. */
	size_t n_blocks = 3;
	for (int i = 0; i < 2000 && n_blocks != 1; i++) {
		tsdb_blockset *bs = tsdb_blocks_acquire(db);
		n_blocks = bs->n;
		tsdb_blockset_release(bs);
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(n_blocks, 1);
	/* During: the old querier still reads the sources; a new one the merged block; the
	 * compactor waits for the old querier before deleting anything. */
	char *during_old = test_tsdb_dump_q(old, "m", INT64_MIN, INT64_MAX, &n);
	assert_string_equal(before, during_old);
	char *during_new = dump(db, &n);
	assert_string_equal(before, during_new);
	assert_false(atomic_load(&c.is_finished));
	tsdb_querier_close(old);
	pthread_join(th, NULL);
	assert_int_equal(c.rc, TS_OK);
	assert_int_equal(c.done, 1);
	char *after = dump(db, &n);
	assert_string_equal(before, after);
	free(before);
	free(during_old);
	free(during_new);
	free(after);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- crashes */

static void test_tsdb_compact_open_cleanup_crash_points(void **state)
{
	(void)state;
	char dir[512], bdir[600];
	fresh_dir("compact_crash", dir);
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	tsdb_db *db = open_db(dir, 3 * D);
	size_t total = fill_ranges(db, 3, 20, 9), n;
	char *before = dump(db, &n);
	tsdb_close(db);
	test_sh("rm -rf '%s.bak' && cp -a '%s' '%s.bak'", bdir, bdir, bdir);
	/* 1. Killed while writing: a *.tmp block directory (partial files) is removed. */
	test_sh(
	    "d=$(ls '%s' | head -1); mkdir '%s/01JZZZZZZZZZZZZZZZZZZZZZZZ.tmp' && cp '%s'/$d/meta "
	    "'%s/01JZZZZZZZZZZZZZZZZZZZZZZZ.tmp/' && head -c 100 '%s'/$d/chunks > "
	    "'%s/01JZZZZZZZZZZZZZZZZZZZZZZZ.tmp/chunks'",
	    bdir, bdir, bdir, bdir, bdir, bdir);
	db = open_db(dir, 3 * D);
	assert_int_equal(test_count_entries(bdir, ".tmp"), 0);
	assert_int_equal(test_tsdb_stats(db).n_blocks, 3);
	assert_int_equal(test_tsdb_stats(db).blocks_quarantined, 0);
	char *s = dump(db, &n);
	assert_string_equal(before, s);
	free(s);
	/* 2. Killed after the merged block's rename, before the sources were deleted: put
	 * the sources back next to it. Open drops them: no sample is counted twice. */
	int done;
	assert_int_equal(tsdb_compact_run(db, 10, &done, NULL), TS_OK);
	assert_int_equal(done, 1);
	tsdb_close(db);
	assert_int_equal(test_count_entries(bdir, ""), 1);
	test_sh("cp -a '%s.bak'/* '%s/'", bdir, bdir);
	assert_int_equal(test_count_entries(bdir, ""), 4);
	db = open_db(dir, 3 * D);
	tsdb_stats st = test_tsdb_stats(db);
	assert_int_equal(st.n_blocks, 1);
	assert_int_equal(st.block_samples, total);
	assert_int_equal(st.blocks_quarantined, 0);
	assert_int_equal(test_count_entries(bdir, ""), 1);
	s = dump(db, &n);
	assert_string_equal(before, s);
	free(s);
	tsdb_close(db);
	/* 3. Killed while deleting a source: it was renamed to <ULID>.tmp, some files gone. */
	test_sh(
	    "d=$(ls '%s.bak' | head -1); mkdir '%s'/$d.tmp && cp '%s.bak'/$d/index '%s'/$d.tmp/",
	    bdir, bdir, bdir, bdir);
	db = open_db(dir, 3 * D);
	assert_int_equal(test_count_entries(bdir, ".tmp"), 0);
	assert_int_equal(test_tsdb_stats(db).block_samples, total);
	s = dump(db, &n);
	assert_string_equal(before, s);
	free(s);
	free(before);
	tsdb_close(db);
	test_sh("rm -rf '%s.bak'", bdir);
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Run a compaction to the end in a child process on dir, killing it with SIGKILL after
 * delay_us (< 0: never). Returns the child's run time in microseconds.
 */
static int64_t compact_in_child(const char *dir, int64_t delay_us)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		tsdb_db *db = open_db(dir, 12 * D);
		char c = 1;
		if (write(fds[1], &c, 1) != 1)
			_exit(3);
		int rc = tsdb_compact_run(db, 100, NULL, NULL);
		_exit(rc == TS_OK ? 0 : 2); /* no close: the store is left as a crash leaves it */
	}
	close(fds[1]);
	char c;
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	int64_t t0 = mono_us();
	if (delay_us >= 0) {
		struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (delay_us < 0)
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return mono_us() - t0;
}

static void test_tsdb_compact_run_survives_kill9(void **state)
{
	(void)state;
	char dir[512], pristine[600], bdir[600];
	fresh_dir("compact_kill", dir);
	snprintf(pristine, sizeof(pristine), "%s.pristine", dir);
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	tsdb_db *db = open_db(dir, 12 * D);
	size_t total = fill_ranges(db, 12, 10, 11), n;
	char *want = dump(db, &n);
	assert_int_equal(n, total);
	tsdb_close(db);
	test_sh("rm -rf '%s' && cp -a '%s' '%s'", pristine, dir, pristine);
	int64_t full_us = compact_in_child(dir, -1);
	const int runs = 12;
	uint64_t r = 99;
	for (int i = 0; i < runs; i++) {
		test_sh("rm -rf '%s' && cp -a '%s' '%s'", dir, pristine, dir);
		/* Spread the kills over the whole compaction, with some random jitter. */
		int64_t delay = full_us * i / runs + (int64_t)(rng_next(&r) % 2000);
		compact_in_child(dir, delay);
		db = open_db(dir, 12 * D);
		tsdb_stats st = test_tsdb_stats(db);
		if (st.block_samples != total || st.blocks_quarantined != 0)
			fail_msg("kill after %lld us: %llu block samples (want %zu), %llu "
				 "quarantined",
				 (long long)delay, (unsigned long long)st.block_samples, total,
				 (unsigned long long)st.blocks_quarantined);
		char *got = dump(db, &n);
		assert_string_equal(want, got);
		free(got);
		/* The interrupted work finishes on the next run. */
		assert_int_equal(tsdb_compact_run(db, 100, NULL, NULL), TS_OK);
		st = test_tsdb_stats(db);
		assert_int_equal(st.n_blocks, 1);
		assert_int_equal(st.block_samples, total);
		got = dump(db, &n);
		assert_string_equal(want, got);
		free(got);
		tsdb_close(db);
		assert_int_equal(test_count_entries(bdir, ".tmp"), 0);
	}
	free(want);
	test_sh("rm -rf '%s'", pristine);
}

/* ---------------------------------------------------------------- errors */

static void test_tsdb_compact_blocks_source_gone(void **state)
{
	(void)state;
	char dir[512], bdir[600];
	fresh_dir("compact_gone", dir);
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	tsdb_db *db = open_db(dir, 3 * D);
	fill_ranges(db, 2, 50, 5);
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	assert_int_equal(bs->n, 2);
	tsdb_block *src[2] = {bs->b[0], bs->b[1]};
	tsdb_block_acquire(src[0]);
	tsdb_block_acquire(src[1]);
	tsdb_blockset_release(bs);
	assert_int_equal(tsdb_compact_blocks(db, src, 2, NULL), TS_OK);
	assert_int_equal(test_tsdb_stats(db).n_blocks, 1);
	/* Again with the same (now replaced) blocks: refused, and the block it wrote is
	 * removed again. */
	ts_err e = {0};
	assert_int_equal(tsdb_compact_blocks(db, src, 2, &e), TS_ENOTFOUND);
	assert_non_null(strstr(e.msg, "left the set"));
	assert_int_equal(test_count_entries(bdir, ""), 1);
	tsdb_stats st = test_tsdb_stats(db);
	assert_int_equal(st.compactions, 1);
	assert_int_equal(st.compaction_errors, 1);
	tsdb_block_release(src[0]);
	tsdb_block_release(src[1]);
	tsdb_close(db);
}

static void test_tsdb_compact_run_enomem_leaves_store_intact(void **state)
{
	(void)state;
	char dir[512], bdir[600];
	fresh_dir("compact_enomem", dir);
	snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	tsdb_db *db = open_db(dir, 3 * D);
	size_t total = fill_ranges(db, 2, 200, 6), n;
	ts_label l[] = {{"__name__", "m"}, {"id", "late"}};
	assert_int_equal(tsdb_append(db, l, 2, 3 * D + 5, 1, NULL), TS_OK);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	total++;
	char *before = dump(db, &n);
	int rc = TS_ENOMEM, k;
	for (k = 0; k < 5000 && rc == TS_ENOMEM; k++) {
		int done = 0;
		ts_alloc_fail_after(k);
		rc = tsdb_compact_run(db, 1, &done, NULL);
		ts_alloc_fail_after(-1);
		if (rc == TS_ENOMEM) {
			/* Nothing changed: same blocks, same samples, no leftovers. */
			assert_int_equal(test_tsdb_stats(db).n_blocks, 3);
			assert_int_equal(test_count_entries(bdir, ".tmp"), 0);
			assert_int_equal(test_count_entries(bdir, ""), 3);
		}
	}
	assert_int_equal(rc, TS_OK);
	assert_true(k > 10);
	tsdb_stats st = test_tsdb_stats(db);
	assert_int_equal(st.n_blocks, 2);
	assert_int_equal(st.block_samples, total);
	char *after = dump(db, &n);
	assert_string_equal(before, after);
	free(before);
	free(after);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_compact_max_ms_caps),
	    cmocka_unit_test(test_tsdb_compact_run_levels_to_one_block),
	    cmocka_unit_test(test_tsdb_compact_run_waits_for_closed_windows),
	    cmocka_unit_test(test_tsdb_compact_run_overlaps_and_duplicates),
	    cmocka_unit_test(test_tsdb_compact_run_rollup_tier_keeps_every_column),
	    cmocka_unit_test(test_tsdb_compact_run_readers_see_same_samples),
	    cmocka_unit_test(test_tsdb_compact_open_cleanup_crash_points),
	    cmocka_unit_test(test_tsdb_compact_run_survives_kill9),
	    cmocka_unit_test(test_tsdb_compact_blocks_source_gone),
	    cmocka_unit_test(test_tsdb_compact_run_enomem_leaves_store_intact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
