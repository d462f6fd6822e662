/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_block.c: tests for tsdb/block_write.c and tsdb/block_read.c: round trips with
 * shared and own timestamp columns, multi-part series, exact NaN bits, postings
 * selection, lookups, writer argument errors, the durable rename, golden files of
 * format version 1, and corruption in every section of every file.
 */
#include "tsdb/block.h"
#include "support/test_support.h"

#include "tsdb/colenc.h"

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

#define N_SHARED  10
#define N_SCRAPES 300
#define BIG_N     20000

static uint64_t bits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static double from_bits(uint64_t b)
{
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/* The test data set: series i has labels {__name__=m<i%3>, inst=i<i>, job=node}. */
typedef struct fixture {
	ts_label labels[N_SHARED + 3][3];
	char names[N_SHARED + 3][2][16];
	int64_t *t[N_SHARED + 3];
	double *v[N_SHARED + 3];
	size_t n[N_SHARED + 3];
	size_t n_series;
} fixture;

static void fixture_init(fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->n_series = N_SHARED + 3;
	int64_t scrape[N_SCRAPES];
	for (int k = 0; k < N_SCRAPES; k++)
		scrape[k] = 1000000 + 1000 * k + (k * 7919) % 300;
	for (size_t i = 0; i < f->n_series; i++) {
		snprintf(f->names[i][0], 16, "m%zu", i % 3);
		snprintf(f->names[i][1], 16, "i%02d", (int)i);
		f->labels[i][0] = (ts_label){"__name__", f->names[i][0]};
		f->labels[i][1] = (ts_label){"inst", f->names[i][1]};
		f->labels[i][2] = (ts_label){"job", "node"};
		size_t n = i < N_SHARED ? N_SCRAPES : i == N_SHARED + 2 ? BIG_N : 50 + i;
		f->n[i] = n;
		f->t[i] = malloc(n * sizeof(int64_t));
		f->v[i] = malloc(n * sizeof(double));
		for (size_t k = 0; k < n; k++) {
			f->t[i][k] = i < N_SHARED ? scrape[k] : 1000000 + (int64_t)(k * (13 + i));
			f->v[i][k] = i % 2 ? (double)(k * 3 + i) : (k * 17 % 1000) / 100.0;
		}
	}
	/* Exact bits that must survive: stale marker, NaN payload, -0.0, Inf. */
	f->v[1][5] = from_bits(0x7ff0000000000002ull);
	f->v[1][6] = from_bits(0x7ff8dead00000001ull);
	f->v[2][7] = -0.0;
	f->v[N_SHARED][3] = -INFINITY;
}

static void fixture_free(fixture *f)
{
	for (size_t i = 0; i < f->n_series; i++) {
		free(f->t[i]);
		free(f->v[i]);
	}
}

static fixture *sort_fx;
static int cmp_idx(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return ts_labels_cmp(sort_fx->labels[x], 3, sort_fx->labels[y], 3);
}

static char *write_block(fixture *f, const char *dir, const uint64_t *off, uint32_t n_off)
{
	size_t order[N_SHARED + 3];
	for (size_t i = 0; i < f->n_series; i++)
		order[i] = i;
	sort_fx = f;
	qsort(order, f->n_series, sizeof(order[0]), cmp_idx);
	tsdb_bw *w;
	assert_int_equal(tsdb_bw_new(dir, 0, 100000000, &w, NULL), TS_OK);
	for (size_t i = 0; i < f->n_series; i++)
		assert_int_equal(tsdb_bw_scan(w, f->t[order[i]], f->n[order[i]], NULL), TS_OK);
	for (size_t i = 0; i < f->n_series; i++) {
		size_t k = order[i];
		assert_int_equal(tsdb_bw_add(w, f->labels[k], 3, f->t[k], f->v[k], f->n[k], NULL),
				 TS_OK);
	}
	char *path = NULL;
	assert_int_equal(tsdb_bw_finish(w, off, n_off, &path, NULL), TS_OK);
	tsdb_bw_free(w);
	return path;
}

static void check_series(tsdb_block *b, const fixture *f, size_t i)
{
	uint32_t id;
	assert_int_equal(tsdb_block_lookup(b, f->labels[i], 3, &id, NULL), TS_OK);
	tsdb_samples s = {0};
	assert_int_equal(tsdb_block_read_series(b, id, INT64_MIN, INT64_MAX, &s, NULL), TS_OK);
	assert_int_equal(s.n, f->n[i]);
	for (size_t k = 0; k < s.n; k++) {
		assert_int_equal(s.t[k], f->t[i][k]);
		assert_true(bits(s.v[k]) == bits(f->v[i][k]));
	}
	tsdb_samples_free(&s);
}

static void test_tsdb_block_roundtrip(void **state)
{
	(void)state;
	fixture f;
	fixture_init(&f);
	const char *dir = test_fresh_dir("block_roundtrip");
	uint64_t off[3] = {7, 0, 42};
	char *path = write_block(&f, dir, off, 3);
	tsdb_block *b;
	assert_int_equal(tsdb_block_open(path, &b, NULL), TS_OK);
	assert_int_equal(b->meta.n_series, f.n_series);
	assert_int_equal(b->meta.tier, TSDB_TIER_RAW);
	/* One shared column for the 10 scraped series, one per other series. */
	assert_int_equal(b->meta.n_tcols, 1 + 3);
	assert_int_equal(b->meta.n_offsets, 3);
	assert_int_equal(b->meta.offsets[2], 42);
	assert_int_equal(b->meta.data_mint, 1000000);
	uint64_t total = 0;
	for (size_t i = 0; i < f.n_series; i++) {
		total += f.n[i];
		check_series(b, &f, i);
	}
	assert_int_equal(b->meta.n_samples, total);
	/* The directory name is the ULID, and the big series has three parts. */
	assert_non_null(strstr(path, b->meta.name));
	uint32_t id;
	tsdb_block_part *parts;
	size_t np;
	assert_int_equal(tsdb_block_lookup(b, f.labels[N_SHARED + 2], 3, &id, NULL), TS_OK);
	assert_int_equal(tsdb_block_series(b, id, NULL, NULL, &parts, &np, NULL), TS_OK);
	assert_int_equal(np, (BIG_N + TSDB_BLOCK_PART_MAX - 1) / TSDB_BLOCK_PART_MAX);
	ts_free(parts);
	/* A sub-range read. */
	tsdb_samples s = {0};
	assert_int_equal(tsdb_block_lookup(b, f.labels[0], 3, &id, NULL), TS_OK);
	assert_int_equal(tsdb_block_read_series(b, id, f.t[0][10], f.t[0][19], &s, NULL), TS_OK);
	assert_int_equal(s.n, 10);
	tsdb_samples_free(&s);
	/* Absent series. */
	ts_label none[] = {{"__name__", "m0"}, {"inst", "zz"}, {"job", "node"}};
	assert_int_equal(tsdb_block_lookup(b, none, 3, &id, NULL), TS_ENOTFOUND);
	tsdb_block_release(b);
	ts_free(path);
	fixture_free(&f);
}

static size_t select_n(tsdb_block *b, ts_match_type type, const char *name, const char *value)
{
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, type, name, value, NULL), TS_OK);
	tsdb_plist l = {0};
	assert_int_equal(tsdb_block_select(b, &m, 1, &l, NULL), TS_OK);
	for (size_t i = 1; i < l.n; i++)
		assert_true(l.ids[i - 1] < l.ids[i]);
	size_t n = l.n;
	tsdb_plist_free(&l);
	ts_matcher_fini(&m);
	return n;
}

static void test_tsdb_block_select_matchers(void **state)
{
	(void)state;
	fixture f;
	fixture_init(&f);
	char *path = write_block(&f, test_fresh_dir("block_select"), NULL, 0);
	tsdb_block *b;
	assert_int_equal(tsdb_block_open(path, &b, NULL), TS_OK);
	assert_int_equal(select_n(b, TS_MATCH_EQ, "__name__", "m0"), 5);
	assert_int_equal(select_n(b, TS_MATCH_EQ, "__name__", "nope"), 0);
	assert_int_equal(select_n(b, TS_MATCH_RE, "inst", "i0[0-4]"), 5);
	assert_int_equal(select_n(b, TS_MATCH_NEQ, "__name__", "m0"), 8);
	assert_int_equal(select_n(b, TS_MATCH_NRE, "absent", "x"), 13);
	assert_int_equal(select_n(b, TS_MATCH_EQ, "absent", ""), 13);
	assert_int_equal(select_n(b, TS_MATCH_RE, "job", ".*"), 13);
	/* Two matchers intersect. */
	ts_matcher m[2];
	ts_matcher_init(&m[0], TS_MATCH_EQ, "__name__", "m1", NULL);
	ts_matcher_init(&m[1], TS_MATCH_RE, "inst", "i0.", NULL);
	tsdb_plist l = {0};
	assert_int_equal(tsdb_block_select(b, m, 2, &l, NULL), TS_OK);
	assert_int_equal(l.n, 3); /* i01 i04 i07 */
	ts_label *labels;
	size_t nl;
	assert_int_equal(tsdb_block_series(b, l.ids[0], &labels, &nl, NULL, NULL, NULL), TS_OK);
	assert_int_equal(nl, 3);
	assert_string_equal(labels[1].value, "i01");
	ts_free(labels);
	tsdb_plist_free(&l);
	ts_matcher_fini(&m[0]);
	ts_matcher_fini(&m[1]);
	tsdb_block_release(b);
	ts_free(path);
	fixture_free(&f);
}

static void test_tsdb_bw_add_rejects_bad_input(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("block_bad_input");
	tsdb_bw *w;
	assert_int_equal(tsdb_bw_new(dir, 1000, 1999, &w, NULL), TS_OK);
	ts_label a[] = {{"__name__", "a"}}, b[] = {{"__name__", "b"}};
	ts_label unsorted[] = {{"z", "1"}, {"a", "2"}};
	int64_t t[] = {1000, 1500}, late[] = {1500, 2000}, dup[] = {1500, 1500};
	double v[] = {1, 2};
	ts_err err = {0};
	assert_int_equal(tsdb_bw_add(w, a, 1, late, v, 2, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "outside"));
	assert_int_equal(tsdb_bw_add(w, a, 1, dup, v, 2, NULL), TS_EINVAL);
	assert_int_equal(tsdb_bw_add(w, a, 1, t, v, 0, NULL), TS_EINVAL);
	assert_int_equal(tsdb_bw_add(w, unsorted, 2, t, v, 2, NULL), TS_EINVAL);
	assert_int_equal(tsdb_bw_add(w, b, 1, t, v, 2, NULL), TS_OK);
	assert_int_equal(tsdb_bw_add(w, a, 1, t, v, 2, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "label order"));
	assert_int_equal(tsdb_bw_add(w, b, 1, t, v, 2, NULL), TS_EINVAL);
	/* Unfinished: the temporary directory goes away. */
	tsdb_bw_free(w);
	DIR *d = opendir(dir);
	struct dirent *e;
	int entries = 0;
	while ((e = readdir(d)))
		entries += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 0);
	assert_int_equal(tsdb_bw_new(dir, 5, 4, &w, NULL), TS_EINVAL);
	assert_int_equal(tsdb_bw_new("/proc/nope", 0, 4, &w, NULL), TS_EIO);
}

static void test_tsdb_bw_finish_empty_block(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("block_empty");
	tsdb_bw *w;
	char *path;
	assert_int_equal(tsdb_bw_new(dir, INT64_MIN, INT64_MAX, &w, NULL), TS_OK);
	assert_int_equal(tsdb_bw_finish(w, NULL, 0, &path, NULL), TS_OK);
	tsdb_bw_free(w);
	tsdb_block *b;
	assert_int_equal(tsdb_block_open(path, &b, NULL), TS_OK);
	assert_int_equal(b->n_series, 0);
	assert_int_equal(select_n(b, TS_MATCH_RE, "x", ".*"), 0);
	tsdb_block_release(b);
	ts_free(path);
}

/* ---------------------------------------------------------------- corruption */

static size_t read_file(const char *path, uint8_t **out)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	*out = malloc((size_t)n);
	assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return (size_t)n;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void test_tsdb_block_open_rejects_flipped_byte_in_every_section(void **state)
{
	(void)state;
	fixture f;
	fixture_init(&f);
	const char *dir = test_fresh_dir("block_corrupt");
	char *path = write_block(&f, dir, NULL, 0);
	static const char *files[] = {"meta", "index", "chunks"};
	int n_checked = 0;
	for (int fi = 0; fi < 3; fi++) {
		char file[600];
		snprintf(file, sizeof(file), "%s/%s", path, files[fi]);
		uint8_t *orig;
		size_t n = read_file(file, &orig);
		/* Sections from the toc, plus header, toc and footer bytes. */
		uint64_t toc = ts_get_u64le(orig + n - 16);
		uint32_t n_sec = ts_get_u32le(orig + toc);
		size_t targets[80], n_t = 0;
		for (uint32_t s = 0; s < n_sec; s++) {
			const uint8_t *e = orig + toc + 4 + 40 * s;
			uint64_t off = ts_get_u64le(e + 8), len = ts_get_u64le(e + 16);
			if (len == 0)
				continue;
			targets[n_t++] = (size_t)off;
			targets[n_t++] = (size_t)(off + len / 2);
			targets[n_t++] = (size_t)(off + len - 1);
		}
		targets[n_t++] = 0;
		targets[n_t++] = 4;
		targets[n_t++] = (size_t)toc + 1;
		targets[n_t++] = n - 20;
		targets[n_t++] = n - 1;
		for (size_t k = 0; k < n_t; k++) {
			orig[targets[k]] ^= 0x10;
			write_file(file, orig, n);
			tsdb_block *b;
			ts_err err = {0};
			assert_int_equal(tsdb_block_open(path, &b, &err), TS_ECORRUPT);
			assert_non_null(strstr(err.msg, files[fi]));
			orig[targets[k]] ^= 0x10;
			n_checked++;
		}
		write_file(file, orig, n);
		free(orig);
	}
	assert_true(n_checked >= 3 * 3 + 3 * 5);
	/* Restored files open again. */
	tsdb_block *b;
	assert_int_equal(tsdb_block_open(path, &b, NULL), TS_OK);
	tsdb_block_release(b);
	/* A missing file is an I/O error. */
	char file[600];
	snprintf(file, sizeof(file), "%s/index", path);
	unlink(file);
	assert_int_equal(tsdb_block_open(path, &b, NULL), TS_EIO);
	ts_free(path);
	fixture_free(&f);
}

static void test_tsdb_block_quarantine_moves_dir(void **state)
{
	(void)state;
	char root[512], blocks[600], q[700];
	snprintf(root, sizeof(root), "%s/block_quarantine", STRATA_TEST_TMP);
	mkdir(STRATA_TEST_TMP, 0755);
	test_rm_rf(root);
	mkdir(root, 0755);
	snprintf(blocks, sizeof(blocks), "%s/blocks", root);
	mkdir(blocks, 0755);
	fixture f;
	fixture_init(&f);
	char *path = write_block(&f, blocks, NULL, 0);
	assert_int_equal(tsdb_block_quarantine(path, NULL), TS_OK);
	const char *name = strrchr(path, '/') + 1;
	snprintf(q, sizeof(q), "%s/quarantine/%s/index", root, name);
	assert_int_equal(access(q, F_OK), 0);
	assert_int_equal(access(path, F_OK), -1);
	ts_free(path);
	fixture_free(&f);
}

/* ---------------------------------------------------------------- golden files */

/* A small block whose index and chunks bytes are fully determined by its input. */
static char *write_small(const char *dir)
{
	tsdb_bw *w;
	assert_int_equal(tsdb_bw_new(dir, 0, 7199999, &w, NULL), TS_OK);
	int64_t t[] = {1000, 2000, 3004}, u[] = {1500};
	double a[] = {1.5, 2.0, 2.5}, b[] = {3, 3, 3}, c[] = {NAN};
	ts_label la[] = {{"__name__", "up"}, {"job", "a"}};
	ts_label lb[] = {{"__name__", "up"}, {"job", "b"}};
	ts_label lc[] = {{"__name__", "x"}};
	assert_int_equal(tsdb_bw_scan(w, t, 3, NULL), TS_OK);
	assert_int_equal(tsdb_bw_scan(w, t, 3, NULL), TS_OK);
	assert_int_equal(tsdb_bw_scan(w, u, 1, NULL), TS_OK);
	assert_int_equal(tsdb_bw_add(w, la, 2, t, a, 3, NULL), TS_OK);
	assert_int_equal(tsdb_bw_add(w, lb, 2, t, b, 3, NULL), TS_OK);
	assert_int_equal(tsdb_bw_add(w, lc, 1, u, c, 1, NULL), TS_OK);
	uint64_t off[] = {5, 9};
	char *path;
	assert_int_equal(tsdb_bw_finish(w, off, 2, &path, NULL), TS_OK);
	tsdb_bw_free(w);
	return path;
}

static void test_tsdb_block_golden_v1(void **state)
{
	(void)state;
	const char *golden = STRATA_SOURCE_DIR "/tests/data/tsdb/block_v1";
	char *path = write_small(test_fresh_dir("block_golden"));
	static const char *files[] = {"index", "chunks"};
	for (int i = 0; i < 2; i++) {
		char a[600], b[600];
		snprintf(a, sizeof(a), "%s/%s", path, files[i]);
		snprintf(b, sizeof(b), "%s/%s", golden, files[i]);
		uint8_t *x, *y;
		size_t nx = read_file(a, &x);
		if (getenv("STRATA_UPDATE_GOLDEN")) {
			mkdir(STRATA_SOURCE_DIR "/tests/data/tsdb", 0755);
			mkdir(golden, 0755);
			write_file(b, x, nx);
			char m[600], gm[600];
			uint8_t *mb;
			snprintf(m, sizeof(m), "%s/meta", path);
			snprintf(gm, sizeof(gm), "%s/meta", golden);
			size_t nm = read_file(m, &mb);
			write_file(gm, mb, nm);
			free(mb);
		}
		size_t ny = read_file(b, &y);
		assert_int_equal(nx, ny);
		assert_memory_equal(x, y, nx);
		free(x);
		free(y);
	}
	ts_free(path);
	/* The stored golden block (meta included) still reads as written. */
	tsdb_block *b;
	assert_int_equal(tsdb_block_open(golden, &b, NULL), TS_OK);
	assert_int_equal(b->meta.n_series, 3);
	assert_int_equal(b->meta.n_samples, 7);
	assert_int_equal(b->meta.n_tcols, 2);
	assert_int_equal(b->meta.n_offsets, 2);
	assert_int_equal(b->meta.offsets[1], 9);
	assert_int_equal(b->meta.range_maxt, 7199999);
	ts_label la[] = {{"__name__", "up"}, {"job", "a"}};
	uint32_t id;
	tsdb_samples s = {0};
	assert_int_equal(tsdb_block_lookup(b, la, 2, &id, NULL), TS_OK);
	assert_int_equal(tsdb_block_read_series(b, id, INT64_MIN, INT64_MAX, &s, NULL), TS_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.t[2], 3004);
	assert_true(s.v[0] == 1.5 && s.v[2] == 2.5);
	tsdb_samples_free(&s);
	tsdb_block_release(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_block_roundtrip),
	    cmocka_unit_test(test_tsdb_block_select_matchers),
	    cmocka_unit_test(test_tsdb_bw_add_rejects_bad_input),
	    cmocka_unit_test(test_tsdb_bw_finish_empty_block),
	    cmocka_unit_test(test_tsdb_block_open_rejects_flipped_byte_in_every_section),
	    cmocka_unit_test(test_tsdb_block_quarantine_moves_dir),
	    cmocka_unit_test(test_tsdb_block_golden_v1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
