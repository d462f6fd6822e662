/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metadata.c: tests for ingest/metadata.c: the bounded metric metadata registry
 * (put, variants, LRU eviction by count and bytes, help truncation, queries with limits,
 * allocation failures) and its feeding from exposition and remote-write bodies through
 * the pipeline.
 */
#include "ingest/ingest.h"

#include "ingest/remote_write.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static ingest_metadata *new_reg(size_t max_families, size_t max_bytes)
{
	ingest_metadata *m = NULL;
	assert_int_equal(ingest_metadata_new(max_families, max_bytes, &m, NULL), TS_OK);
	return m;
}

static void get_all(ingest_metadata *m, ingest_metadata_entry **v, size_t *n)
{
	assert_int_equal(ingest_metadata_get(m, NULL, -1, -1, v, n, NULL), TS_OK);
}

static void test_ingest_metadata_put_and_get(void **state)
{
	(void)state;
	ingest_metadata *m = new_reg(100, 1 << 20);
	assert_int_equal(ingest_metadata_put(m, "up", "gauge", "1 if up", "", NULL), TS_OK);
	assert_int_equal(ingest_metadata_put(m, "a_total", "counter", "As.", "bytes", NULL), TS_OK);
	assert_int_equal(ingest_metadata_put(m, "x", NULL, NULL, NULL, NULL), TS_OK);
	ingest_metadata_entry *v;
	size_t n;
	get_all(m, &v, &n);
	assert_int_equal(n, 3);
	/* sorted by family name */
	assert_string_equal(v[0].family, "a_total");
	assert_string_equal(v[0].type, "counter");
	assert_string_equal(v[0].help, "As.");
	assert_string_equal(v[0].unit, "bytes");
	assert_string_equal(v[1].family, "up");
	assert_string_equal(v[2].family, "x");
	assert_string_equal(v[2].type, "unknown");
	assert_string_equal(v[2].help, "");
	ingest_metadata_entries_free(v);
	/* one family */
	assert_int_equal(ingest_metadata_get(m, "up", -1, -1, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].help, "1 if up");
	ingest_metadata_entries_free(v);
	assert_int_equal(ingest_metadata_get(m, "nope", -1, -1, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
	ingest_metadata_entries_free(v);
	ingest_metadata_stats st;
	ingest_metadata_stats_get(m, &st);
	assert_int_equal(st.n_families, 3);
	assert_int_equal(st.n_variants, 3);
	assert_true(st.bytes > 0);
	ingest_metadata_free(m);
	ingest_metadata_free(NULL);
}

static void test_ingest_metadata_put_bad_name(void **state)
{
	(void)state;
	ingest_metadata *m = new_reg(10, 1 << 20);
	ts_err e = {0};
	assert_int_equal(ingest_metadata_put(m, "", "gauge", "", "", &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "family name"));
	assert_int_equal(ingest_metadata_put(m, NULL, "gauge", "", "", NULL), TS_EINVAL);
	char long_name[INGEST_METADATA_MAX_NAME_BYTES + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(ingest_metadata_put(m, long_name, "gauge", "", "", NULL), TS_EINVAL);
	/* the sink skips refused names */
	assert_int_equal(ingest_metadata_sink(m, "", "gauge", "", ""), TS_OK);
	ingest_metadata_stats st;
	ingest_metadata_stats_get(m, &st);
	assert_int_equal(st.n_refused, 4);
	assert_int_equal(st.n_families, 0);
	ingest_metadata *m2 = NULL;
	assert_int_equal(ingest_metadata_new(0, 1, &m2, NULL), TS_EINVAL);
	assert_int_equal(ingest_metadata_new(1, 0, &m2, NULL), TS_EINVAL);
	assert_null(m2);
	ingest_metadata_free(m);
}

static void test_ingest_metadata_variants(void **state)
{
	(void)state;
	ingest_metadata *m = new_reg(10, 1 << 20);
	/* same triple twice: one variant */
	ingest_metadata_put(m, "f", "gauge", "h1", "", NULL);
	ingest_metadata_put(m, "f", "gauge", "h1", "", NULL);
	ingest_metadata_entry *v;
	size_t n;
	get_all(m, &v, &n);
	assert_int_equal(n, 1);
	ingest_metadata_entries_free(v);
	/* distinct triples, most recent first, at most MAX_VARIANTS */
	for (int i = 2; i <= INGEST_METADATA_MAX_VARIANTS + 2; i++) {
		char h[16];
		snprintf(h, sizeof(h), "h%d", i);
		ingest_metadata_put(m, "f", "gauge", h, "", NULL);
	}
	get_all(m, &v, &n);
	assert_int_equal(n, INGEST_METADATA_MAX_VARIANTS);
	char want[16];
	snprintf(want, sizeof(want), "h%d", INGEST_METADATA_MAX_VARIANTS + 2);
	assert_string_equal(v[0].help, want);
	snprintf(want, sizeof(want), "h%d", 3);
	assert_string_equal(v[n - 1].help, want);
	ingest_metadata_entries_free(v);
	/* re-seeing an old variant moves it to the front */
	ingest_metadata_put(m, "f", "gauge", "h4", "", NULL);
	get_all(m, &v, &n);
	assert_string_equal(v[0].help, "h4");
	ingest_metadata_entries_free(v);
	/* type or unit differing is a different variant too */
	ingest_metadata_put(m, "f", "counter", "h4", "", NULL);
	ingest_metadata_put(m, "f", "counter", "h4", "s", NULL);
	get_all(m, &v, &n);
	assert_string_equal(v[0].unit, "s");
	assert_string_equal(v[1].type, "counter");
	assert_string_equal(v[1].unit, "");
	ingest_metadata_entries_free(v);
	/* limit_per_metric */
	assert_int_equal(ingest_metadata_get(m, NULL, -1, 2, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	ingest_metadata_entries_free(v);
	assert_int_equal(ingest_metadata_get(m, NULL, -1, 0, &v, &n, NULL), TS_OK);
	assert_int_equal(n, INGEST_METADATA_MAX_VARIANTS);
	ingest_metadata_entries_free(v);
	ingest_metadata_free(m);
}

static void test_ingest_metadata_limit(void **state)
{
	(void)state;
	ingest_metadata *m = new_reg(100, 1 << 20);
	ingest_metadata_put(m, "c", "gauge", "", "", NULL);
	ingest_metadata_put(m, "a", "gauge", "", "", NULL);
	ingest_metadata_put(m, "b", "gauge", "", "", NULL);
	ingest_metadata_entry *v;
	size_t n;
	assert_int_equal(ingest_metadata_get(m, NULL, 2, -1, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].family, "a");
	assert_string_equal(v[1].family, "b");
	ingest_metadata_entries_free(v);
	assert_int_equal(ingest_metadata_get(m, NULL, 0, -1, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
	ingest_metadata_entries_free(v);
	assert_int_equal(ingest_metadata_get(m, "", -1, -1, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 3);
	ingest_metadata_entries_free(v);
	ingest_metadata_free(m);
}

static void test_ingest_metadata_evict_lru_by_count(void **state)
{
	(void)state;
	ingest_metadata *m = new_reg(3, 1 << 20);
	ingest_metadata_put(m, "a", "gauge", "", "", NULL);
	ingest_metadata_put(m, "b", "gauge", "", "", NULL);
	ingest_metadata_put(m, "c", "gauge", "", "", NULL);
	ingest_metadata_put(m, "a", "gauge", "", "", NULL); /* a is now the newest */
	ingest_metadata_put(m, "d", "gauge", "", "", NULL); /* evicts b */
	ingest_metadata_entry *v;
	size_t n;
	get_all(m, &v, &n);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].family, "a");
	assert_string_equal(v[1].family, "c");
	assert_string_equal(v[2].family, "d");
	ingest_metadata_entries_free(v);
	ingest_metadata_stats st;
	ingest_metadata_stats_get(m, &st);
	assert_int_equal(st.n_evicted, 1);
	assert_int_equal(st.n_families, 3);
	ingest_metadata_free(m);
}

static void test_ingest_metadata_evict_by_bytes_and_grow(void **state)
{
	(void)state;
	/* Many families: the hash table grows; the byte bound keeps the newest ones. */
	ingest_metadata *m = new_reg(1000000, 64 * 1024);
	char name[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "metric_%05d", i);
		assert_int_equal(
		    ingest_metadata_put(m, name, "counter", "some help text", "", NULL), TS_OK);
	}
	ingest_metadata_stats st;
	ingest_metadata_stats_get(m, &st);
	assert_true(st.bytes <= 64 * 1024);
	assert_true(st.n_families > 100);
	assert_int_equal(st.n_families + st.n_evicted, 5000);
	/* the newest survived, the oldest went */
	ingest_metadata_entry *v;
	size_t n;
	assert_int_equal(ingest_metadata_get(m, "metric_04999", -1, -1, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	ingest_metadata_entries_free(v);
	assert_int_equal(ingest_metadata_get(m, "metric_00000", -1, -1, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
	ingest_metadata_entries_free(v);
	/* every remaining family is still found through the grown table */
	get_all(m, &v, &n);
	assert_int_equal(n, st.n_families);
	for (size_t i = 0; i < n; i++) {
		ingest_metadata_entry *one;
		size_t k;
		assert_int_equal(ingest_metadata_get(m, v[i].family, -1, -1, &one, &k, NULL),
				 TS_OK);
		assert_int_equal(k, 1);
		ingest_metadata_entries_free(one);
	}
	ingest_metadata_entries_free(v);
	ingest_metadata_free(m);
}

static void test_ingest_metadata_help_truncated_utf8(void **state)
{
	(void)state;
	ingest_metadata *m = new_reg(10, 1 << 20);
	/* "é" (2 bytes) straddles the cut: it must be dropped whole */
	size_t n_help = INGEST_METADATA_MAX_HELP_BYTES + 10;
	char *help = malloc(n_help + 1);
	memset(help, 'x', n_help);
	help[INGEST_METADATA_MAX_HELP_BYTES - 1] = (char)0xC3;
	help[INGEST_METADATA_MAX_HELP_BYTES] = (char)0xA9;
	help[n_help] = '\0';
	assert_int_equal(ingest_metadata_put(m, "f", "gauge", help, "", NULL), TS_OK);
	ingest_metadata_entry *v;
	size_t n;
	get_all(m, &v, &n);
	assert_int_equal(strlen(v[0].help), INGEST_METADATA_MAX_HELP_BYTES - 1);
	ingest_metadata_entries_free(v);
	/* the same long help again is the same variant */
	assert_int_equal(ingest_metadata_put(m, "f", "gauge", help, "", NULL), TS_OK);
	get_all(m, &v, &n);
	assert_int_equal(n, 1);
	ingest_metadata_entries_free(v);
	free(help);
	ingest_metadata_free(m);
}

static void test_ingest_metadata_alloc_failures(void **state)
{
	(void)state;
	for (int k = 0; k < 6; k++) {
		ingest_metadata *m = NULL;
		ts_alloc_fail_after(k);
		int rc = ingest_metadata_new(10, 1 << 20, &m, NULL);
		if (rc == TS_OK) {
			rc = ingest_metadata_put(m, "a", "gauge", "h", "", NULL);
			if (rc == TS_OK)
				rc = ingest_metadata_put(m, "a", "gauge", "h2", "", NULL);
			ingest_metadata_entry *v = NULL;
			size_t n = 0;
			if (rc == TS_OK)
				rc = ingest_metadata_get(m, NULL, -1, -1, &v, &n, NULL);
			ingest_metadata_entries_free(v);
		}
		ts_alloc_fail_after(-1);
		assert_true(rc == TS_OK || rc == TS_ENOMEM);
		/* the registry stays usable after a failure */
		if (m) {
			assert_int_equal(ingest_metadata_put(m, "b", "gauge", "", "", NULL), TS_OK);
			ingest_metadata_entry *v;
			size_t n;
			get_all(m, &v, &n);
			assert_true(n >= 1);
			ingest_metadata_entries_free(v);
		}
		ingest_metadata_free(m);
	}
}

/* ---------------------------------------------------------------- through the pipeline */

static ingest_pipeline *open_pipeline(tsdb_db **db)
{
	tsdb_options to;
	tsdb_options_init(&to);
	assert_int_equal(tsdb_open(&to, db, NULL), TS_OK);
	ingest_options io;
	ingest_options_init(&io);
	io.db = *db;
	ingest_pipeline *p = NULL;
	assert_int_equal(ingest_open(&io, &p, NULL), TS_OK);
	return p;
}

static void test_ingest_metadata_from_exposition(void **state)
{
	(void)state;
	tsdb_db *db;
	ingest_pipeline *p = open_pipeline(&db);
	static const char body[] = "# HELP http_requests_total Requests \\\\ served.\n"
				   "# TYPE http_requests_total counter\n"
				   "http_requests_total{code=\"200\"} 3 1000\n"
				   "# TYPE temp gauge\n"
				   "temp 21.5 1000\n"
				   "plain 1 1000\n";
	ingest_write_result res;
	assert_int_equal(ingest_write_exposition(p, body, sizeof(body) - 1, NULL, &res, NULL),
			 TS_OK);
	assert_int_equal(res.n_samples, 3);
	ingest_metadata_entry *v;
	size_t n;
	get_all(ingest_pipeline_metadata(p), &v, &n);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].family, "http_requests_total");
	assert_string_equal(v[0].type, "counter");
	assert_string_equal(v[0].help, "Requests \\ served.");
	assert_string_equal(v[1].family, "temp");
	assert_string_equal(v[1].type, "gauge");
	ingest_metadata_entries_free(v);
	/* OpenMetrics: UNIT */
	static const char om[] = "# TYPE rt_seconds histogram\n"
				 "# UNIT rt_seconds seconds\n"
				 "# HELP rt_seconds Response time.\n"
				 "rt_seconds_bucket{le=\"+Inf\"} 1 1\n"
				 "rt_seconds_count 1 1\n"
				 "rt_seconds_sum 0.5 1\n"
				 "# EOF\n";
	assert_int_equal(ingest_write_exposition(p, om, sizeof(om) - 1,
						 "application/openmetrics-text; version=1.0.0",
						 &res, NULL),
			 TS_OK);
	assert_int_equal(
	    ingest_metadata_get(ingest_pipeline_metadata(p), "rt_seconds", -1, -1, &v, &n, NULL),
	    TS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].type, "histogram");
	assert_string_equal(v[0].unit, "seconds");
	assert_string_equal(v[0].help, "Response time.");
	ingest_metadata_entries_free(v);
	ingest_close(p);
	tsdb_close(db);
}

static void test_ingest_metadata_from_remote_write(void **state)
{
	(void)state;
	tsdb_db *db;
	ingest_pipeline *p = open_pipeline(&db);
	ts_label l[] = {{"__name__", "rw_metric"}, {"job", "j"}};
	int64_t t[] = {1000};
	double val[] = {1};
	ingest_rw_series s = {l, 2, t, val, 1};
	ingest_rw_metadata md[] = {{"rw_metric", "gauge", "From remote write.", "bytes"},
				   {"other_total", "counter", NULL, NULL}};
	ts_buf body;
	ts_buf_init(&body, 1 << 20);
	assert_int_equal(ingest_remote_write_encode(&s, 1, md, 2, &body, NULL), TS_OK);
	ingest_write_result res;
	assert_int_equal(ingest_write_remote(p, body.data, body.len, &res, NULL), TS_OK);
	assert_int_equal(res.n_samples, 1);
	ingest_metadata_entry *v;
	size_t n;
	get_all(ingest_pipeline_metadata(p), &v, &n);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].family, "other_total");
	assert_string_equal(v[0].type, "counter");
	assert_string_equal(v[1].family, "rw_metric");
	assert_string_equal(v[1].help, "From remote write.");
	assert_string_equal(v[1].unit, "bytes");
	ingest_metadata_entries_free(v);
	ts_buf_free(&body);
	ingest_close(p);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_metadata_put_and_get),
	    cmocka_unit_test(test_ingest_metadata_put_bad_name),
	    cmocka_unit_test(test_ingest_metadata_variants),
	    cmocka_unit_test(test_ingest_metadata_limit),
	    cmocka_unit_test(test_ingest_metadata_evict_lru_by_count),
	    cmocka_unit_test(test_ingest_metadata_evict_by_bytes_and_grow),
	    cmocka_unit_test(test_ingest_metadata_help_truncated_utf8),
	    cmocka_unit_test(test_ingest_metadata_alloc_failures),
	    cmocka_unit_test(test_ingest_metadata_from_exposition),
	    cmocka_unit_test(test_ingest_metadata_from_remote_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
