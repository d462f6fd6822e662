/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_support.h: helpers shared by the unit tests (linked into every
 * tests/<module>/test_*.c executable). Test code only; failures end the test through
 * cmocka's assertions.
 */
#ifndef TESTS_SUPPORT_TEST_SUPPORT_H
#define TESTS_SUPPORT_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tsdb_db tsdb_db;

/* Run a shell command built from fmt (up to 2 KiB); fails the test unless it exits 0. */
void test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Remove path and everything under it (rm -rf); fails the test if that fails. */
void test_rm_rf(const char *path);

/*
 * An empty directory STRATA_TEST_TMP/<name>, created fresh (emptied if it existed).
 * Returns a static buffer: copy it before the next call.
 */
const char *test_fresh_dir(const char *name);

/*
 * Split one OpenMetrics sample line "series value timestamp" in place (timestamp in
 * seconds with up to millisecond fraction): *series points at the series text (NUL
 * terminated), *v and *t_ms get the value and the time in ms. false for comments, blank
 * lines and lines without both fields.
 */
bool test_parse_om_line(char *line, char **series, double *v, int64_t *t_ms);

/*
 * Append the samples of an OpenMetrics text read from the output of `cmd` (e.g.
 * "zcat FILE") to db, those less than max_ms after the first sample. Labels: __name__ =
 * the series text up to '{', s = the whole series text. Returns the samples the store
 * accepted; *first (NULL allowed) gets the first sample's time (INT64_MIN if none).
 * Defined in tsdb_support.c: link the store to use it.
 */
size_t test_load_om(tsdb_db *db, const char *cmd, int64_t max_ms, int64_t *first);

#endif /* TESTS_SUPPORT_TEST_SUPPORT_H */
