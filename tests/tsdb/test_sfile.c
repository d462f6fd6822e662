/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sfile.c: tests for tsdb/sfile.c and tsdb/compress.c: section files round trip
 * (raw, streamed, snappy), and every single-byte corruption is detected.
 */
#include "tsdb/sfile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define MAGIC 0x54534554u

static const char *path_of(const char *name)
{
	static char p[512];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(p, sizeof(p), "%s/%s", STRATA_TEST_TMP, name);
	return p;
}

/* Write a file with a compressible, a streamed and an incompressible section. */
static void write_sample(const char *path, uint8_t *rnd, size_t n_rnd)
{
	tsdb_sfile_w w;
	char text[4000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "metric_name_"[i % 12];
	assert_int_equal(tsdb_sfile_create(&w, path, MAGIC, NULL), TS_OK);
	assert_int_equal(tsdb_sfile_section(&w, 1, text, sizeof(text), true, NULL), TS_OK);
	assert_int_equal(tsdb_sfile_begin(&w, 2, NULL), TS_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tsdb_sfile_write(&w, "abc", 3, NULL), TS_OK);
	assert_int_equal(tsdb_sfile_end(&w, NULL), TS_OK);
	assert_int_equal(tsdb_sfile_section(&w, 3, rnd, n_rnd, true, NULL), TS_OK);
	assert_int_equal(tsdb_sfile_section(&w, 4, "", 0, false, NULL), TS_OK);
	assert_int_equal(tsdb_sfile_finish(&w, NULL), TS_OK);
}

static void test_tsdb_sfile_open_roundtrip(void **state)
{
	(void)state;
	uint8_t rnd[300];
	uint64_t x = 12345;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		rnd[i] = (uint8_t)(x >> 56);
	}
	const char *p = path_of("sfile_roundtrip");
	write_sample(p, rnd, sizeof(rnd));
	tsdb_sfile f;
	assert_int_equal(tsdb_sfile_open(&f, p, MAGIC, NULL), TS_OK);
	assert_int_equal(f.n_secs, 4);
	const tsdb_sfile_sec *s1 = tsdb_sfile_get(&f, 1), *s2 = tsdb_sfile_get(&f, 2);
	const tsdb_sfile_sec *s3 = tsdb_sfile_get(&f, 3), *s4 = tsdb_sfile_get(&f, 4);
	assert_non_null(s1);
	assert_int_equal(s1->len, 4000);
	assert_memory_equal(s1->data, "metric_name_metric", 18);
	assert_non_null(f.owned[0]); /* the text was stored compressed */
	assert_int_equal(s2->len, 9);
	assert_memory_equal(s2->data, "abcabcabc", 9);
	assert_int_equal(s3->len, sizeof(rnd));
	assert_memory_equal(s3->data, rnd, sizeof(rnd));
	assert_null(f.owned[2]); /* random bytes stay raw */
	assert_int_equal(s4->len, 0);
	assert_null(tsdb_sfile_get(&f, 9));
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_true(f.size == (size_t)st.st_size && f.size < 4000);
	tsdb_sfile_close(&f);
	tsdb_sfile_close(NULL);
	ts_err err = {0};
	assert_int_equal(tsdb_sfile_open(&f, p, MAGIC + 1, &err), TS_ECORRUPT);
	assert_non_null(strstr(err.msg, "magic"));
	assert_int_equal(tsdb_sfile_open(&f, path_of("no_such_file"), MAGIC, &err), TS_EIO);
}

static void test_tsdb_sfile_open_detects_every_byte_flip(void **state)
{
	(void)state;
	uint8_t rnd[64];
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)(i * 37 + 11);
	const char *p = path_of("sfile_flip");
	write_sample(p, rnd, sizeof(rnd));
	FILE *fp = fopen(p, "rb");
	assert_non_null(fp);
	uint8_t buf[8192];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_true(n > 100 && n < sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		uint8_t *copy = malloc(n); /* exact size, so ASan sees any over-read */
		memcpy(copy, buf, n);
		copy[i] ^= 0x01;
		tsdb_sfile f;
		int rc = tsdb_sfile_open_mem(&f, copy, n, MAGIC, NULL);
		assert_int_equal(rc, TS_ECORRUPT);
		free(copy);
	}
	/* Truncations fail too. */
	for (size_t k = 0; k < n; k++) {
		uint8_t *copy = malloc(k ? k : 1);
		memcpy(copy, buf, k);
		tsdb_sfile f;
		assert_int_equal(tsdb_sfile_open_mem(&f, copy, k, MAGIC, NULL), TS_ECORRUPT);
		free(copy);
	}
}

static void test_tsdb_sfile_create_bad_path(void **state)
{
	(void)state;
	tsdb_sfile_w w;
	ts_err err = {0};
	assert_int_equal(tsdb_sfile_create(&w, "/proc/no/such/dir/file", MAGIC, &err), TS_EIO);
	assert_non_null(strstr(err.msg, "/proc/no/such/dir/file"));
	/* An aborted file is removed. */
	const char *p = path_of("sfile_abort");
	assert_int_equal(tsdb_sfile_create(&w, p, MAGIC, NULL), TS_OK);
	tsdb_sfile_abort(&w);
	assert_int_equal(access(p, F_OK), -1);
}

static void test_tsdb_snappy_uncompress_rejects_bad_length(void **state)
{
	(void)state;
	uint8_t in[100], *z, *out;
	size_t zlen;
	memset(in, 'a', sizeof(in));
	assert_int_equal(tsdb_snappy_compress(in, sizeof(in), &z, &zlen, NULL), TS_OK);
	assert_int_equal(tsdb_snappy_uncompress(z, zlen, 99, &out, NULL), TS_ECORRUPT);
	assert_int_equal(tsdb_snappy_uncompress(z, zlen, 100, &out, NULL), TS_OK);
	assert_memory_equal(out, in, 100);
	ts_free(out);
	assert_int_equal(tsdb_snappy_uncompress(z, zlen / 2, 100, &out, NULL), TS_ECORRUPT);
	ts_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_sfile_open_roundtrip),
	    cmocka_unit_test(test_tsdb_sfile_open_detects_every_byte_flip),
	    cmocka_unit_test(test_tsdb_sfile_create_bad_path),
	    cmocka_unit_test(test_tsdb_snappy_uncompress_rejects_bad_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
