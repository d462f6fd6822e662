/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsdb_support.h: store helpers shared by the unit tests that link tsdb (defined in
 * tsdb_support.c): test store options, open-or-fail, counters, block directory counts,
 * sample dumps for before/after comparisons, and blocks written straight to disk. Test
 * code only; failures end the test through cmocka's assertions.
 */
#ifndef TESTS_SUPPORT_TSDB_SUPPORT_H
#define TESTS_SUPPORT_TSDB_SUPPORT_H

#include "tsdb/tsdb.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Defaults for a test store in dir (borrowed) with blocks of block_ms and no timed cut
 * checks (tests cut with tsdb_flush); the caller sets the rest.
 */
void test_tsdb_options(tsdb_options *o, const char *dir, int64_t block_ms);

/*
 * test_tsdb_options for the tier tests (downsampling, tier reads): in-order samples only
 * and every tier kept 1000 days, so nothing the tests load expires.
 */
void test_tsdb_tier_options(tsdb_options *o, const char *dir, int64_t block_ms);

/* Open a store with o; fails the test with the directory and the error otherwise. */
tsdb_db *test_tsdb_open(const tsdb_options *o);

/* The store's counters now. */
tsdb_stats test_tsdb_stats(tsdb_db *db);

/* Entries of dir whose name ends with suffix ("" = all), dot files not counted. */
int test_count_entries(const char *dir, const char *suffix);

/*
 * Every sample in [mint, maxt] of every series named `name`, read through q, as text: a
 * line per series, its labels then " t:bits" per sample (value bits in hex, so NaN
 * payloads and -0 compare exactly). *n counts the samples. Returned malloc'd (free).
 */
char *test_tsdb_dump_q(tsdb_querier *q, const char *name, int64_t mint, int64_t maxt, size_t *n);
/* The same through a querier of db over [mint, maxt]. */
char *test_tsdb_dump(tsdb_db *db, const char *name, int64_t mint, int64_t maxt, size_t *n);

/*
 * Write one block of `tier` for the range [lo, hi] straight to <dir>/blocks (created if
 * missing) holding one series with n rows at t: a raw block takes the values in
 * cols[TSDB_COL_RAW], a 1m/1h block every rollup column cols[TSDB_COL_COUNT ..] (its
 * origin: the tier and its resolution, no replaced blocks).
 */
void test_tsdb_write_block(const char *dir, int tier, int64_t lo, int64_t hi,
			   const ts_label *labels, size_t n_labels, const int64_t *t,
			   const double *const *cols, size_t n);

#endif /* TESTS_SUPPORT_TSDB_SUPPORT_H */
