/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_db.c: tests for tsdb/db.c: options validation, data directory creation,
 * partition offsets, statistics.
 */
#include "tsdb/tsdb.h"
#include "support/test_support.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_tsdb_open_rejects_bad_options(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	ts_err err = {0};
	o.n_partitions = 0;
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "n_partitions"));
	o.n_partitions = TSDB_MAX_PARTITIONS + 1;
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EINVAL);
	tsdb_options_init(&o);
	o.out_of_order_window_ms = -1;
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EINVAL);
}

static void test_tsdb_open_creates_dir(void **state)
{
	(void)state;
	mkdir(STRATA_TEST_TMP, 0755);
	const char *dir = STRATA_TEST_TMP "/tsdb_db_dir";
	rmdir(dir);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	tsdb_close(db);
	ts_err err = {0};
	o.dir = "/proc/definitely/not/here";
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EIO);
	assert_non_null(strstr(err.msg, "/proc/definitely/not/here"));
}

static void test_tsdb_partition_offsets(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	o.n_partitions = 4;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	assert_int_equal(tsdb_partition_resume_offset(db, 3), 0);
	tsdb_partition_applied(db, 3, 41);
	tsdb_partition_applied(db, 3, 7); /* never goes backwards */
	/* Head data is not persisted: a restart must still replay from the start. */
	assert_int_equal(tsdb_partition_resume_offset(db, 3), 0);
	tsdb_close(db);
}

static void test_tsdb_stats_get_empty_and_range(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 0);
	assert_true(st.min_t_ms > st.max_t_ms);
	ts_label l[] = {{"__name__", "x"}};
	tsdb_append(db, l, 1, 5000, 1, NULL);
	tsdb_append(db, l, 1, 9000, 1, NULL);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.min_t_ms, 5000);
	assert_int_equal(st.max_t_ms, 9000);
	assert_int_equal(st.samples_appended, 2);
	assert_true(st.head_bytes > 0);
	tsdb_close(db);
	tsdb_close(NULL);
}

/* ---------------------------------------------------------------- persistence */

static const char *fresh_dir(const char *name)
{
	static char p[512];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(p, sizeof(p), "%s/%s", STRATA_TEST_TMP, name);
	test_rm_rf(p);
	return p;
}

static tsdb_db *open_dir(const char *dir, int64_t block_ms)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.n_partitions = 4;
	o.block_duration_ms = block_ms;
	o.cut_check_interval_ms = 0;
	o.out_of_order_window_ms = 3600 * 1000;
	tsdb_db *db;
	ts_err err = {0};
	int rc = tsdb_open(&o, &db, &err);
	if (rc)
		fprintf(stderr, "open: %s\n", err.msg);
	assert_int_equal(rc, TS_OK);
	return db;
}

static uint64_t bits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static double value_of(int s, int64_t t)
{
	if (s == 3 && t % 7000 == 0) {
		double stale;
		uint64_t b = 0x7ff0000000000002ull;
		memcpy(&stale, &b, 8);
		return stale;
	}
	return (double)(t / 1000 * (s + 1)) / 4.0;
}

static void series_labels(int s, ts_label *l, char *buf)
{
	snprintf(buf, 16, "s%d", s);
	l[0] = (ts_label){"__name__", "metric"};
	l[1] = (ts_label){"id", buf};
}

/* Every series s in [0, n) must have exactly the samples t = k * step in [t0, t1). */
static void check_all(tsdb_db *db, int n, int64_t t0, int64_t t1, int64_t step)
{
	tsdb_querier *q;
	ts_matcher m;
	tsdb_series **v;
	size_t nv;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "metric", NULL), TS_OK);
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &nv, NULL), TS_OK);
	assert_int_equal(nv, (size_t)n);
	for (size_t i = 0; i < nv; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(v[i], &nl);
		int s = (int)strtol(ts_labels_get(l, nl, "id") + 1, NULL, 10);
		tsdb_iter *it;
		assert_int_equal(tsdb_iter_open(q, v[i], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
		int64_t t, want = t0;
		double x;
		while (tsdb_iter_next(it, &t, &x) == 1) {
			assert_int_equal(t, want);
			assert_true(bits(x) == bits(value_of(s, t)));
			want += step;
		}
		assert_int_equal(want, t1);
		tsdb_iter_close(it);
	}
	ts_free(v);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
}

static void append_range(tsdb_db *db, int n, int64_t t0, int64_t t1, int64_t step)
{
	for (int64_t t = t0; t < t1; t += step) {
		for (int s = 0; s < n; s++) {
			ts_label l[2];
			char buf[16];
			series_labels(s, l, buf);
			assert_int_equal(tsdb_append(db, l, 2, t, value_of(s, t), NULL), TS_OK);
		}
	}
}

static void test_tsdb_close_restart_keeps_data_and_offsets(void **state)
{
	(void)state;
	const char *dir = fresh_dir("db_restart");
	tsdb_db *db = open_dir(dir, 3600 * 1000);
	append_range(db, 20, 0, 3 * 3600 * 1000, 10000); /* 3 h: 3 blocks */
	tsdb_partition_applied(db, 0, 100);
	tsdb_partition_applied(db, 3, 7);
	check_all(db, 20, 0, 3 * 3600 * 1000, 10000);
	tsdb_close(db);
	db = open_dir(dir, 3600 * 1000);
	assert_int_equal(tsdb_partition_resume_offset(db, 0), 101);
	assert_int_equal(tsdb_partition_resume_offset(db, 1), 0);
	assert_int_equal(tsdb_partition_resume_offset(db, 3), 8);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 3);
	assert_int_equal(st.block_samples, 20 * 3 * 360);
	assert_int_equal(st.n_samples, 0);
	check_all(db, 20, 0, 3 * 3600 * 1000, 10000);
	/* The log replays what it already applied: everything is a duplicate. */
	append_range(db, 20, 2 * 3600 * 1000, 3 * 3600 * 1000, 10000);
	check_all(db, 20, 0, 3 * 3600 * 1000, 10000);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 3); /* nothing new to write */
	assert_int_equal(st.block_duplicates_dropped, 20 * 360);
	/* New data continues after the restart. */
	append_range(db, 20, 3 * 3600 * 1000, 4 * 3600 * 1000, 10000);
	tsdb_partition_applied(db, 0, 150);
	tsdb_close(db);
	db = open_dir(dir, 3600 * 1000);
	assert_int_equal(tsdb_partition_resume_offset(db, 0), 151);
	check_all(db, 20, 0, 4 * 3600 * 1000, 10000);
	tsdb_close(db);
}

/* Flip one byte at offset `at` of file `name` in the first block directory found. */
static void corrupt_block(const char *dir, const char *block, const char *name, size_t at)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/blocks/%s/%s", dir, block, name);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)at, SEEK_SET), 0);
	int c = fgetc(f);
	assert_true(c != EOF);
	fseek(f, (long)at, SEEK_SET);
	fputc(c ^ 0x04, f);
	fclose(f);
}

/* Names of the block directories (sorted), at most 8. */
static int list_blocks(const char *dir, char names[8][300])
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/blocks", dir);
	DIR *d = opendir(path);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 8)
		if (e->d_name[0] != '.')
			snprintf(names[n++], 300, "%s", e->d_name);
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			char t[300];
			memcpy(t, names[k], 300);
			memcpy(names[k], names[k - 1], 300);
			memcpy(names[k - 1], t, 300);
		}
	return n;
}

/* Offsets of every section in a section file (from its table of contents). */
static int section_offsets(const char *path, uint64_t *out)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, -16, SEEK_END);
	uint8_t foot[16], hdr[4], e[40];
	assert_int_equal(fread(foot, 1, 16, f), 16);
	uint64_t toc = ts_get_u64le(foot);
	fseek(f, (long)toc, SEEK_SET);
	assert_int_equal(fread(hdr, 1, 4, f), 4);
	uint32_t n = ts_get_u32le(hdr);
	int k = 0;
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(fread(e, 1, 40, f), 40);
		if (ts_get_u64le(e + 16))
			out[k++] = ts_get_u64le(e + 8) + ts_get_u64le(e + 16) / 2;
	}
	fclose(f);
	return k;
}

static void test_tsdb_open_quarantines_corrupt_block(void **state)
{
	(void)state;
	static const char *files[] = {"meta", "index", "chunks"};
	int cases = 0;
	for (int fi = 0; fi < 3; fi++) {
		for (int si = 0;; si++) {
			const char *dir = fresh_dir("db_quarantine");
			tsdb_db *db = open_dir(dir, 3600 * 1000);
			append_range(db, 5, 0, 2 * 3600 * 1000, 60000); /* 2 blocks */
			tsdb_close(db);
			char names[8][300], path[1024];
			assert_int_equal(list_blocks(dir, names), 2);
			uint64_t offs[16];
			snprintf(path, sizeof(path), "%s/blocks/%s/%s", dir, names[1], files[fi]);
			int n_sec = section_offsets(path, offs);
			if (si >= n_sec)
				break;
			corrupt_block(dir, names[1], files[fi], offs[si]);
			db = open_dir(dir, 3600 * 1000);
			tsdb_stats st;
			tsdb_stats_get(db, &st);
			assert_int_equal(st.n_blocks, 1);
			assert_int_equal(st.blocks_quarantined, 1);
			snprintf(path, sizeof(path), "%s/quarantine/%s/%s", dir, names[1],
				 files[fi]);
			assert_int_equal(access(path, F_OK), 0);
			/* The other block still serves its hour (which one depends on the ULIDs).
			 */
			tsdb_querier *q;
			ts_matcher m;
			tsdb_series **v;
			size_t nv;
			tsdb_iter *it;
			int64_t t0;
			double x;
			ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "metric", NULL);
			assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL),
					 TS_OK);
			assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &nv, NULL), TS_OK);
			assert_int_equal(nv, 5);
			assert_int_equal(tsdb_iter_open(q, v[0], INT64_MIN, INT64_MAX, &it, NULL),
					 TS_OK);
			assert_int_equal(tsdb_iter_next(it, &t0, &x), 1);
			tsdb_iter_close(it);
			ts_free(v);
			tsdb_querier_close(q);
			ts_matcher_fini(&m);
			check_all(db, 5, t0, t0 + 3600 * 1000, 60000);
			tsdb_close(db);
			cases++;
		}
	}
	assert_int_equal(cases, 1 + 5 + 1);
}

static void test_tsdb_open_removes_unfinished_block(void **state)
{
	(void)state;
	const char *dir = fresh_dir("db_tmpblock");
	tsdb_db *db = open_dir(dir, 3600 * 1000);
	tsdb_close(db);
	char tmp[1024], f[1100];
	snprintf(tmp, sizeof(tmp), "%s/blocks/01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp", dir);
	assert_int_equal(mkdir(tmp, 0755), 0);
	snprintf(f, sizeof(f), "%s/chunks", tmp);
	FILE *fp = fopen(f, "w");
	fputs("partial", fp);
	fclose(fp);
	db = open_dir(dir, 3600 * 1000);
	assert_int_equal(access(tmp, F_OK), -1);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 0);
	assert_int_equal(st.blocks_quarantined, 0);
	tsdb_close(db);
}

static void test_tsdb_flush_memory_only_is_noop(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	ts_label l[] = {{"__name__", "x"}};
	assert_int_equal(tsdb_append(db, l, 1, 1, 1, NULL), TS_OK);
	tsdb_partition_applied(db, 1, 5);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	assert_int_equal(tsdb_partition_resume_offset(db, 1), 0);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_samples, 1);
	tsdb_close(db);
	o.block_duration_ms = 0;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_EINVAL);
}

static void test_tsdb_flush_extreme_timestamps(void **state)
{
	(void)state;
	const char *dir = fresh_dir("db_extreme");
	tsdb_db *db = open_dir(dir, 7200 * 1000);
	ts_label l[] = {{"__name__", "x"}};
	int64_t ts[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(tsdb_append(db, l, 1, ts[i], (double)i, NULL), TS_OK);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	tsdb_close(db);
	db = open_dir(dir, 7200 * 1000);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_blocks, 4); /* lowest range, [-D, -1], [0, D - 1], highest */
	assert_int_equal(st.block_samples, 6);
	tsdb_querier *q;
	ts_matcher m;
	tsdb_series **v;
	size_t n;
	tsdb_iter *it;
	ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "x", NULL);
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(tsdb_iter_open(q, v[0], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
	int64_t t;
	double x;
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(tsdb_iter_next(it, &t, &x), 1);
		assert_int_equal(t, ts[i]);
		assert_true(x == (double)i);
	}
	assert_int_equal(tsdb_iter_next(it, &t, &x), 0);
	tsdb_iter_close(it);
	ts_free(v);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- random model */

#define M_SERIES 4
#define M_SPAN   20000 /* timestamps in [0, M_SPAN) */

typedef struct model {
	bool has[M_SERIES][M_SPAN];
	double v[M_SERIES][M_SPAN];
} model;

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void model_check(tsdb_db *db, const model *m)
{
	tsdb_querier *q;
	ts_matcher mt;
	tsdb_series **v;
	size_t nv;
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_EQ, "__name__", "metric", NULL), TS_OK);
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &mt, 1, 0, &v, &nv, NULL), TS_OK);
	bool seen[M_SERIES] = {0};
	for (size_t i = 0; i < nv; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(v[i], &nl);
		int s = (int)strtol(ts_labels_get(l, nl, "id") + 1, NULL, 10);
		seen[s] = true;
		tsdb_iter *it;
		assert_int_equal(tsdb_iter_open(q, v[i], INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
		int64_t t, next = 0;
		double x;
		while (tsdb_iter_next(it, &t, &x) == 1) {
			assert_true(t >= next && t < M_SPAN);
			for (; next < t; next++)
				assert_false(m->has[s][next]);
			assert_true(m->has[s][t]);
			assert_true(bits(x) == bits(m->v[s][t]));
			next = t + 1;
		}
		for (; next < M_SPAN; next++)
			assert_false(m->has[s][next]);
		tsdb_iter_close(it);
	}
	for (int s = 0; s < M_SERIES; s++)
		if (!seen[s])
			for (int t = 0; t < M_SPAN; t++)
				assert_false(m->has[s][t]);
	ts_free(v);
	tsdb_querier_close(q);
	ts_matcher_fini(&mt);
}

static void test_tsdb_random_ops_match_model(void **state)
{
	(void)state;
	const char *dir = fresh_dir("db_model");
	model *m = calloc(1, sizeof(*m));
	tsdb_db *db = open_dir(dir, 1000);
	int64_t cursor = 0;
	for (int op = 0; op < 12000; op++) {
		uint64_t r = rnd() % 1000;
		if (r < 3) {
			assert_int_equal(tsdb_flush(db, NULL), TS_OK);
		} else if (r < 5) {
			tsdb_close(db);
			db = open_dir(dir, 1000);
		} else if (r < 8) {
			model_check(db, m);
		} else {
			int s = (int)(rnd() % M_SERIES);
			/* Mostly near a moving cursor, sometimes anywhere (duplicates, old data).
			 */
			int64_t t =
			    rnd() % 8 ? cursor - (int64_t)(rnd() % 300) : (int64_t)(rnd() % M_SPAN);
			if (t < 0 || t >= M_SPAN)
				continue;
			double v = rnd() % 4 ? (double)(t % 97) : (double)(rnd() % 3);
			ts_label l[2];
			char buf[16];
			series_labels(s, l, buf);
			int rc = tsdb_append(db, l, 2, t, v, NULL);
			assert_true(rc == TS_OK || rc == TS_EOUTOFORDER);
			if (rc == TS_OK && !m->has[s][t]) {
				m->has[s][t] = true;
				m->v[s][t] = v;
			}
			if (cursor < M_SPAN - 1)
				cursor += rnd() % 3 == 0;
		}
	}
	model_check(db, m);
	tsdb_close(db);
	db = open_dir(dir, 1000);
	model_check(db, m);
	tsdb_close(db);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_open_rejects_bad_options),
	    cmocka_unit_test(test_tsdb_open_creates_dir),
	    cmocka_unit_test(test_tsdb_partition_offsets),
	    cmocka_unit_test(test_tsdb_stats_get_empty_and_range),
	    cmocka_unit_test(test_tsdb_close_restart_keeps_data_and_offsets),
	    cmocka_unit_test(test_tsdb_open_quarantines_corrupt_block),
	    cmocka_unit_test(test_tsdb_open_removes_unfinished_block),
	    cmocka_unit_test(test_tsdb_flush_memory_only_is_noop),
	    cmocka_unit_test(test_tsdb_flush_extreme_timestamps),
	    cmocka_unit_test(test_tsdb_random_ops_match_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
