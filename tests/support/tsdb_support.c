/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsdb_support.c: store helpers shared by the unit tests (tsdb_support.h, and
 * test_load_om of test_support.h). A separate object in the test_support archive, so
 * only tests that link the store pull it in. Exercised by tests/tsdb/test_compact.c,
 * test_retention.c, test_downsample.c and tests/query/test_tiers.c.
 */
#include "support/tsdb_support.h"

#include "support/test_support.h"
#include "tsdb/block.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

size_t test_load_om(tsdb_db *db, const char *cmd, int64_t max_ms, int64_t *first)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char line[4096];
	size_t n = 0;
	int64_t t0 = INT64_MIN;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *series;
		double v;
		int64_t t;
		if (!test_parse_om_line(line, &series, &v, &t))
			continue;
		if (t0 == INT64_MIN)
			t0 = t;
		if (t - t0 >= max_ms)
			continue;
		char name[512];
		size_t nl = strcspn(series, "{");
		snprintf(name, sizeof(name), "%.*s", (int)nl, series);
		ts_label l[2] = {{"__name__", name}, {"s", series}};
		if (tsdb_append(db, l, 2, t, v, NULL) == TS_OK)
			n++;
	}
	pclose(f);
	if (first)
		*first = t0;
	return n;
}

void test_tsdb_options(tsdb_options *o, const char *dir, int64_t block_ms)
{
	tsdb_options_init(o);
	o->dir = dir;
	o->block_duration_ms = block_ms;
	o->cut_check_interval_ms = 0;
}

void test_tsdb_tier_options(tsdb_options *o, const char *dir, int64_t block_ms)
{
	test_tsdb_options(o, dir, block_ms);
	o->out_of_order_window_ms = 0;
	o->retention_raw_ms = o->retention_1m_ms = o->retention_1h_ms = 1000LL * 86400 * 1000;
}

tsdb_db *test_tsdb_open(const tsdb_options *o)
{
	tsdb_db *db;
	ts_err e = {0};
	if (tsdb_open(o, &db, &e) != TS_OK)
		fail_msg("open %s: %s", o->dir, e.msg);
	return db;
}

tsdb_stats test_tsdb_stats(tsdb_db *db)
{
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	return st;
}

int test_count_entries(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	size_t k = strlen(suffix);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] != '.' && l >= k && strcmp(e->d_name + l - k, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

char *test_tsdb_dump_q(tsdb_querier *q, const char *name, int64_t mint, int64_t maxt, size_t *n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	ts_matcher m;
	tsdb_series **v;
	size_t nv;
	*n = 0;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "__name__", name, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &nv, NULL), TS_OK);
	for (size_t i = 0; i < nv; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(v[i], &nl);
		for (size_t k = 0; k < nl; k++)
			fprintf(f, "%s=%s,", l[k].name, l[k].value);
		tsdb_iter *it;
		int64_t t;
		double x;
		assert_int_equal(tsdb_iter_open(q, v[i], mint, maxt, &it, NULL), TS_OK);
		while (tsdb_iter_next(it, &t, &x) == 1) {
			uint64_t bits;
			memcpy(&bits, &x, sizeof(bits));
			fprintf(f, " %lld:%llx", (long long)t, (unsigned long long)bits);
			(*n)++;
		}
		tsdb_iter_close(it);
		fputc('\n', f);
	}
	ts_free(v);
	ts_matcher_fini(&m);
	fclose(f);
	return out;
}

char *test_tsdb_dump(tsdb_db *db, const char *name, int64_t mint, int64_t maxt, size_t *n)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, mint, maxt, &q, NULL), TS_OK);
	char *s = test_tsdb_dump_q(q, name, mint, maxt, n);
	tsdb_querier_close(q);
	return s;
}

void test_tsdb_write_block(const char *dir, int tier, int64_t lo, int64_t hi,
			   const ts_label *labels, size_t n_labels, const int64_t *t,
			   const double *const *cols, size_t n)
{
	char bdir[1024];
	int len = snprintf(bdir, sizeof(bdir), "%s/blocks", dir);
	assert_true(len > 0 && (size_t)len < sizeof(bdir));
	mkdir(dir, 0755);
	mkdir(bdir, 0755);
	tsdb_bw *w;
	assert_int_equal(tsdb_bw_new(bdir, lo, hi, &w, NULL), TS_OK);
	if (tier != TSDB_TIER_RAW)
		assert_int_equal(tsdb_bw_set_origin(w, (uint8_t)tier,
						    (uint64_t)tsdb_tier_resolution_ms(tier), NULL,
						    0, NULL),
				 TS_OK);
	assert_int_equal(tsdb_bw_scan(w, t, n, NULL), TS_OK);
	if (tier == TSDB_TIER_RAW)
		assert_int_equal(tsdb_bw_add(w, labels, n_labels, t, cols[TSDB_COL_RAW], n, NULL),
				 TS_OK);
	else
		assert_int_equal(tsdb_bw_add_rollup(w, labels, n_labels, t, cols, n, NULL), TS_OK);
	char *path;
	assert_int_equal(tsdb_bw_finish(w, NULL, 0, &path, NULL), TS_OK);
	ts_free(path);
	tsdb_bw_free(w);
}
