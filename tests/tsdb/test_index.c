/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_index.c: tests for tsdb/index.c: the index writer's argument checks, and the
 * parser's structural checks on hand-built index sections with valid CRCs (so only
 * index.c can catch them): unsorted or unterminated symbols, references out of range,
 * unsorted labels, overlapping parts, bad postings, counts that disagree with meta.
 */
#include "tsdb/index.h"

#include "tsdb/colenc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

static void test_tsdb_ixw_check_rejects_bad_series(void **state)
{
	(void)state;
	tsdb_ixw *x;
	assert_int_equal(tsdb_ixw_new(&x, NULL), TS_OK);
	ts_label a[] = {{"__name__", "a"}}, b[] = {{"__name__", "b"}};
	ts_label dup[] = {{"x", "1"}, {"x", "2"}};
	tsdb_block_part p = {
	    .tcol = 0, .start = 0, .n = 1, .mint = 5, .maxt = 5, .off = 0, .len = 9};
	ts_err err = {0};
	assert_int_equal(tsdb_ixw_check(x, a, 0, &err), TS_EINVAL);
	assert_int_equal(tsdb_ixw_check(x, dup, 2, &err), TS_EINVAL);
	assert_int_equal(tsdb_ixw_add(x, b, 1, &p, 1, NULL), TS_OK);
	assert_int_equal(tsdb_ixw_add(x, a, 1, &p, 1, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "label order"));
	assert_int_equal(tsdb_ixw_add(x, b, 1, &p, 1, NULL), TS_EINVAL);
	assert_int_equal(tsdb_ixw_n_series(x), 1);
	ts_buf out[TSDB_IX_N];
	tsdb_block_tcol tc = {0, 5, 1, 5, 5};
	assert_int_equal(tsdb_ixw_encode(x, &tc, 1, out, NULL), TS_OK);
	/* SYMBOLS: 2 strings "__name__", "b". */
	const uint8_t want[] = {2, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 0, 1, 'b', 0};
	assert_int_equal(out[TSDB_IX_SYMBOLS].len, sizeof(want));
	assert_memory_equal(out[TSDB_IX_SYMBOLS].data, want, sizeof(want));
	for (int i = 0; i < TSDB_IX_N; i++)
		ts_buf_free(&out[i]);
	tsdb_ixw_free(x);
	tsdb_ixw_free(NULL);
}

/* ---------------------------------------------------------------- hand-built blocks */

enum {
	M_NONE,
	M_SYM_ORDER,
	M_SYM_NUL,
	M_SYM_COUNT,
	M_TCOL_OUTSIDE,
	M_TCOL_SPAN,
	M_SER_SYM_RANGE,
	M_SER_NAME_ORDER,
	M_SER_PART_RANGE,
	M_SER_PART_OVERLAP,
	M_SER_NO_RAW,
	M_SER_TRAILING,
	M_LAB_VALUE_ORDER,
	M_LAB_POST_OFF,
	M_META_SERIES,
	M_POST_ZERO_GAP,
	M_N
};

static void sym(ts_buf *b, const char *s)
{
	ts_buf_put_uvarint(b, strlen(s));
	ts_buf_append(b, s, strlen(s));
	ts_buf_putc(b, 0);
}

static void put_file(const char *path, uint32_t magic, uint32_t id0, ts_buf *secs, int n)
{
	tsdb_sfile_w w;
	assert_int_equal(tsdb_sfile_create(&w, path, magic, NULL), TS_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(tsdb_sfile_section(&w, id0 + (uint32_t)i, secs[i].data,
						    secs[i].len, false, NULL),
				 TS_OK);
	assert_int_equal(tsdb_sfile_finish(&w, NULL), TS_OK);
}

/*
 * Two series, up{job=a} and up{job=b}, at t = 1000 and 2000 sharing one timestamp
 * column, values 1.0 (constant) each; mutation m breaks one rule.
 */
static const char *build(int m)
{
	static char dir[512];
	char path[600];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/index_blk", STRATA_TEST_TMP);
	mkdir(dir, 0755);
	int64_t t[] = {1000, 2000};
	double v[] = {1.0, 1.0};
	int64_t scratch[2];
	uint8_t tcol[32], vcol[32];
	size_t tl, vl;
	assert_int_equal(tsdb_tcol_encode(t, 2, tcol, sizeof(tcol), &tl, NULL), TS_OK);
	assert_int_equal(
	    tsdb_vcol_encode(v, 2, TSDB_VENC_AUTO, scratch, vcol, sizeof(vcol), &vl, NULL), TS_OK);
	ts_buf data;
	ts_buf_init(&data, 1 << 20);
	ts_buf_append(&data, tcol, tl);
	ts_buf_append(&data, vcol, vl); /* both series share the value column bytes too */
	ts_buf ix[TSDB_IX_N];
	for (int i = 0; i < TSDB_IX_N; i++)
		ts_buf_init(&ix[i], 1 << 20);
	/* SYMBOLS: __name__ a b job up (sym 0..4). */
	ts_buf *b = &ix[TSDB_IX_SYMBOLS];
	ts_buf_put_uvarint(b, m == M_SYM_COUNT ? 6 : 5);
	sym(b, "__name__");
	sym(b, m == M_SYM_ORDER ? "c" : "a");
	sym(b, "b");
	if (m == M_SYM_NUL) {
		ts_buf_put_uvarint(b, 3);
		ts_buf_append(b, "jobX", 4); /* no NUL terminator where it belongs */
	} else {
		sym(b, "job");
	}
	sym(b, "up");
	/* TCOLS. */
	b = &ix[TSDB_IX_TCOLS];
	ts_buf_put_uvarint(b, 1);
	ts_buf_put_uvarint(b, m == M_TCOL_OUTSIDE ? 1000 : 0);
	ts_buf_put_uvarint(b, tl);
	ts_buf_put_uvarint(b, 2);
	ts_buf_put_varint(b, 1000);
	ts_buf_put_uvarint(b, m == M_TCOL_SPAN ? 0 : 1000);
	/* SERIES. */
	b = &ix[TSDB_IX_SERIES];
	ts_buf_put_uvarint(b, 2);
	for (int s = 0; s < 2; s++) {
		ts_buf_put_uvarint(b, 2);
		ts_buf_put_uvarint(b, 0);
		ts_buf_put_uvarint(b, m == M_SER_SYM_RANGE && s == 1 ? 9 : 4);
		ts_buf_put_uvarint(b, m == M_SER_NAME_ORDER ? 0 : 3);
		ts_buf_put_uvarint(b, 1 + (uint64_t)s);
		int np = m == M_SER_PART_OVERLAP && s == 0 ? 2 : 1;
		ts_buf_put_uvarint(b, np);
		for (int p = 0; p < np; p++) {
			ts_buf_put_uvarint(b, 0);
			ts_buf_put_uvarint(b, 0);
			ts_buf_put_uvarint(b, m == M_SER_PART_RANGE ? 3 : 2);
			ts_buf_put_varint(b, 1000);
			ts_buf_put_uvarint(b, 1000);
			ts_buf_put_uvarint(b, 1);
			ts_buf_put_uvarint(b, m == M_SER_NO_RAW ? 3 : TSDB_COL_RAW);
			ts_buf_put_uvarint(b, tl);
			ts_buf_put_uvarint(b, vl);
		}
	}
	if (m == M_SER_TRAILING)
		ts_buf_putc(b, 0);
	/* LABELS: __name__ -> up; job -> a, b. */
	b = &ix[TSDB_IX_LABELS];
	ts_buf_put_uvarint(b, 2);
	ts_buf_put_uvarint(b, 0);
	ts_buf_put_uvarint(b, 1);
	ts_buf_put_uvarint(b, 4);
	ts_buf_put_uvarint(b, 0);
	ts_buf_put_uvarint(b, 2);
	ts_buf_put_uvarint(b, 3);
	ts_buf_put_uvarint(b, 2);
	ts_buf_put_uvarint(b, m == M_LAB_VALUE_ORDER ? 2 : 1);
	ts_buf_put_uvarint(b, m == M_LAB_POST_OFF ? 99 : 2);
	ts_buf_put_uvarint(b, 1);
	ts_buf_put_uvarint(b, m == M_LAB_VALUE_ORDER ? 1 : 2);
	ts_buf_put_uvarint(b, 3);
	ts_buf_put_uvarint(b, 1);
	/* POSTINGS: [0 1] at 0, [0] at 2, [1] at 3. */
	b = &ix[TSDB_IX_POSTINGS];
	ts_buf_put_uvarint(b, 0);
	ts_buf_put_uvarint(b, m == M_POST_ZERO_GAP ? 0 : 1);
	ts_buf_put_uvarint(b, 0);
	ts_buf_put_uvarint(b, 1);
	/* META. */
	ts_buf meta;
	ts_buf_init(&meta, 1024);
	uint8_t mb[TSDB_BLOCK_META_BASE] = {0};
	ts_put_u64le(mb + 16, 7199999);
	ts_put_u64le(mb + 24, 1000);
	ts_put_u64le(mb + 32, 2000);
	ts_put_u64le(mb + 40, m == M_META_SERIES ? 3 : 2);
	ts_put_u64le(mb + 48, 4);
	ts_put_u64le(mb + 56, 1);
	ts_buf_append(&meta, mb, sizeof(mb));
	snprintf(path, sizeof(path), "%s/meta", dir);
	put_file(path, TSDB_BLOCK_MAGIC_META, TSDB_SEC_META, &meta, 1);
	snprintf(path, sizeof(path), "%s/index", dir);
	put_file(path, TSDB_BLOCK_MAGIC_INDEX, TSDB_SEC_SYMBOLS, ix, TSDB_IX_N);
	snprintf(path, sizeof(path), "%s/chunks", dir);
	put_file(path, TSDB_BLOCK_MAGIC_CHUNKS, TSDB_SEC_DATA, &data, 1);
	for (int i = 0; i < TSDB_IX_N; i++)
		ts_buf_free(&ix[i]);
	ts_buf_free(&data);
	ts_buf_free(&meta);
	return dir;
}

static int concat(void *arg, const char *s)
{
	char *buf = arg;
	size_t n = strlen(buf);
	snprintf(buf + n, 64 - n, "%s,", s);
	return TS_OK;
}

static void test_tsdb_index_parse_valid_block(void **state)
{
	(void)state;
	tsdb_block *b;
	ts_err err = {0};
	int rc = tsdb_block_open(build(M_NONE), &b, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, TS_OK);
	ts_label l[] = {{"__name__", "up"}, {"job", "b"}};
	uint32_t id;
	assert_int_equal(tsdb_block_lookup(b, l, 2, &id, NULL), TS_OK);
	assert_int_equal(id, 1);
	tsdb_samples s = {0};
	assert_int_equal(tsdb_block_read_series(b, id, INT64_MIN, INT64_MAX, &s, NULL), TS_OK);
	assert_int_equal(s.n, 2);
	assert_true(s.t[1] == 2000 && s.v[1] == 1.0);
	tsdb_samples_free(&s);
	char got[64] = "";
	assert_int_equal(tsdb_block_labels_each(b, "job", concat, got), TS_OK);
	assert_string_equal(got, "a,b,");
	got[0] = 0;
	assert_int_equal(tsdb_block_labels_each(b, NULL, concat, got), TS_OK);
	assert_string_equal(got, "__name__,job,");
	got[0] = 0;
	assert_int_equal(tsdb_block_labels_each(b, "nope", concat, got), TS_OK);
	assert_string_equal(got, "");
	tsdb_block_release(b);
}

static void test_tsdb_index_parse_rejects_structure(void **state)
{
	(void)state;
	static const char *what[M_N] = {
	    [M_SYM_ORDER] = "symbols",       [M_SYM_NUL] = "symbols",
	    [M_SYM_COUNT] = "symbols",       [M_TCOL_OUTSIDE] = "tcols",
	    [M_TCOL_SPAN] = "tcols",         [M_SER_SYM_RANGE] = "series",
	    [M_SER_NAME_ORDER] = "series",   [M_SER_PART_RANGE] = "series",
	    [M_SER_PART_OVERLAP] = "series", [M_SER_NO_RAW] = "series",
	    [M_SER_TRAILING] = "series",     [M_LAB_VALUE_ORDER] = "labels",
	    [M_LAB_POST_OFF] = "labels",     [M_META_SERIES] = "series",
	};
	for (int m = M_SYM_ORDER; m < M_N; m++) {
		if (m == M_POST_ZERO_GAP)
			continue;
		tsdb_block *b;
		ts_err err = {0};
		assert_int_equal(tsdb_block_open(build(m), &b, &err), TS_ECORRUPT);
		if (!strstr(err.msg, what[m]))
			fail_msg("mutation %d: '%s' does not mention %s", m, err.msg, what[m]);
	}
}

static void test_tsdb_block_select_bad_postings_marks_block(void **state)
{
	(void)state;
	/* A zero gap passes open (postings are checked as they are read). */
	tsdb_block *b;
	assert_int_equal(tsdb_block_open(build(M_POST_ZERO_GAP), &b, NULL), TS_OK);
	ts_matcher m;
	ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "up", NULL);
	tsdb_plist l = {0};
	ts_err err = {0};
	assert_int_equal(tsdb_block_select(b, &m, 1, &l, &err), TS_ECORRUPT);
	assert_non_null(strstr(err.msg, "postings"));
	assert_true(atomic_load(&b->is_bad));
	tsdb_plist_free(&l);
	ts_matcher_fini(&m);
	atomic_store(&b->is_bad, false); /* keep the fixture out of quarantine/ */
	tsdb_block_release(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_ixw_check_rejects_bad_series),
	    cmocka_unit_test(test_tsdb_index_parse_valid_block),
	    cmocka_unit_test(test_tsdb_index_parse_rejects_structure),
	    cmocka_unit_test(test_tsdb_block_select_bad_postings_marks_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
