/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_colenc.c: tests for tsdb/colenc.c: timestamp and value column round trips, each
 * value encoding, the automatic choice, exact NaN/-0.0/Inf bits, extreme timestamps,
 * golden bytes, and rejection of corrupt input.
 */
#include "tsdb/colenc.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Encode and decode timestamps; returns the encoded length. */
static size_t tcol_roundtrip(const int64_t *t, size_t n)
{
	size_t cap = tsdb_tcol_max_bytes(n), len;
	uint8_t *buf = malloc(cap);
	int64_t *back = malloc(n * sizeof(*back));
	assert_int_equal(tsdb_tcol_encode(t, n, buf, cap, &len, NULL), TS_OK);
	assert_true(len <= cap);
	assert_int_equal(tsdb_tcol_decode(buf, len, n, back, NULL), TS_OK);
	assert_memory_equal(t, back, n * sizeof(*t));
	/* (n - 1 or n + 1 may also decode, from padding bits, as in Gorilla chunks: the
	 * count comes from the index.) */
	free(buf);
	free(back);
	return len;
}

static void test_tsdb_tcol_encode_roundtrip_shapes(void **state)
{
	(void)state;
	int64_t t[2000];
	/* Regular 15 s: one varint then one bit per timestamp after the first delta. */
	for (int i = 0; i < 2000; i++)
		t[i] = 1700000000000 + 15000LL * i;
	size_t len = tcol_roundtrip(t, 2000);
	assert_true(len < 6 + 4 + 2000 / 8 + 2);
	/* Jittered 1 s (node_exporter-like). */
	for (int i = 0; i < 2000; i++)
		t[i] = 1795231500004 + 1000LL * i + (int64_t)(rng() % 400) - 200;
	tcol_roundtrip(t, 2000);
	/* Every bucket: deltas growing by powers of two. */
	t[0] = -5;
	for (int i = 1; i < 60; i++)
		t[i] = t[i - 1] + ((int64_t)1 << (i % 40)) + 1;
	tcol_roundtrip(t, 60);
	/* One timestamp, and the extremes (the escape code). */
	tcol_roundtrip(t, 1);
	int64_t ext[] = {INT64_MIN, INT64_MIN + 1, 0, INT64_MAX - 1, INT64_MAX};
	tcol_roundtrip(ext, 5);
	int64_t jump[] = {INT64_MIN, INT64_MAX};
	tcol_roundtrip(jump, 2);
}

static void test_tsdb_tcol_encode_errors(void **state)
{
	(void)state;
	int64_t t[] = {10, 20, 20};
	uint8_t buf[64];
	size_t len;
	ts_err err = {0};
	assert_int_equal(tsdb_tcol_encode(t, 3, buf, sizeof(buf), &len, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "does not increase"));
	assert_int_equal(tsdb_tcol_encode(t, 0, buf, sizeof(buf), &len, NULL), TS_EINVAL);
	int64_t u[] = {10, 20, 30};
	assert_int_equal(tsdb_tcol_encode(u, 3, buf, 1, &len, NULL), TS_EFULL);
}

static void test_tsdb_tcol_encode_golden(void **state)
{
	(void)state;
	/* t0 = 1000 (zig-zag 2000 = d0 0f), then dod 1000 -> 11110 + 01111101000, dod 0 -> 0:
	 * bits 1111 0011 1110 1000 0 -> f3 e8 00 */
	int64_t t[] = {1000, 2000, 3000};
	uint8_t buf[32];
	size_t len;
	assert_int_equal(tsdb_tcol_encode(t, 3, buf, sizeof(buf), &len, NULL), TS_OK);
	const uint8_t want[] = {0xd0, 0x0f, 0xf3, 0xe8, 0x00};
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_tsdb_tcol_decode_corrupt(void **state)
{
	(void)state;
	int64_t t[100], back[100];
	for (int i = 0; i < 100; i++)
		t[i] = 1000 * i + (i % 3);
	uint8_t buf[512];
	size_t len;
	assert_int_equal(tsdb_tcol_encode(t, 100, buf, sizeof(buf), &len, NULL), TS_OK);
	/* Truncations never read past the end and always fail. */
	for (size_t k = 0; k < len; k++)
		assert_int_equal(tsdb_tcol_decode(buf, k, 100, back, NULL), TS_ECORRUPT);
	/* Non-zero padding or a trailing byte. */
	uint8_t pad[] = {0x02, 0x01};
	assert_int_equal(tsdb_tcol_decode(pad, 2, 1, back, NULL), TS_ECORRUPT);
	/* A delta of zero (dod = -first delta) is rejected. */
	int64_t two[] = {5, 6};
	assert_int_equal(tsdb_tcol_encode(two, 2, buf, sizeof(buf), &len, NULL), TS_OK);
	uint8_t zero_delta[] = {0x0a, 0x00}; /* t0 = 5, dod 0 -> delta 0 */
	assert_int_equal(tsdb_tcol_decode(zero_delta, 2, 2, back, NULL), TS_ECORRUPT);
	/* Overflow past INT64_MAX. */
	int64_t hi[] = {INT64_MAX - 1, INT64_MAX};
	assert_int_equal(tsdb_tcol_encode(hi, 2, buf, sizeof(buf), &len, NULL), TS_OK);
	assert_int_equal(tsdb_tcol_decode(buf, len, 3, back, NULL), TS_ECORRUPT);
	/* Random garbage never crashes. */
	for (int r = 0; r < 2000; r++) {
		uint8_t g[40];
		for (size_t i = 0; i < sizeof(g); i++)
			g[i] = (uint8_t)rng();
		int rc = tsdb_tcol_decode(g, 1 + rng() % sizeof(g), 1 + rng() % 90, back, NULL);
		assert_true(rc == TS_OK || rc == TS_ECORRUPT);
	}
}

/* Encode with enc, decode, compare bits; returns the length. */
static size_t vcol_roundtrip(const double *v, size_t n, int enc, int want_enc)
{
	size_t cap = tsdb_vcol_max_bytes(n), len;
	uint8_t *buf = malloc(cap);
	int64_t *scratch = malloc(n * sizeof(*scratch));
	double *back = malloc(n * sizeof(*back));
	assert_int_equal(tsdb_vcol_encode(v, n, enc, scratch, buf, cap, &len, NULL), TS_OK);
	assert_true(len <= cap);
	if (want_enc >= 0)
		assert_int_equal(tsdb_vcol_encoding(buf, len), want_enc);
	assert_int_equal(tsdb_vcol_decode(buf, len, n, back, NULL), TS_OK);
	for (size_t i = 0; i < n; i++)
		assert_true(bits(back[i]) == bits(v[i]));
	for (size_t k = 0; k < len; k++) {
		int rc = tsdb_vcol_decode(buf, k, n, back, NULL);
		assert_int_equal(rc, TS_ECORRUPT);
	}
	free(buf);
	free(scratch);
	free(back);
	return len;
}

static void test_tsdb_vcol_encode_each_encoding(void **state)
{
	(void)state;
	double v[300];
	for (int i = 0; i < 300; i++)
		v[i] = 42.5;
	assert_int_equal(vcol_roundtrip(v, 300, TSDB_VENC_AUTO, TSDB_VENC_CONST), 9);
	vcol_roundtrip(v, 300, TSDB_VENC_XOR, TSDB_VENC_XOR);
	vcol_roundtrip(v, 300, TSDB_VENC_DELTA, TSDB_VENC_DELTA);
	/* Counter with 2 decimals: DELTA or DOD, much smaller than XOR. */
	for (int i = 0; i < 300; i++)
		v[i] = (25056 + 37 * i + (int)(rng() % 5)) / 100.0;
	size_t auto_len = vcol_roundtrip(v, 300, TSDB_VENC_AUTO, -1);
	size_t xor_len = vcol_roundtrip(v, 300, TSDB_VENC_XOR, TSDB_VENC_XOR);
	size_t d_len = vcol_roundtrip(v, 300, TSDB_VENC_DELTA, TSDB_VENC_DELTA);
	size_t dd_len = vcol_roundtrip(v, 300, TSDB_VENC_DOD, TSDB_VENC_DOD);
	assert_true(auto_len <= d_len && auto_len <= dd_len && auto_len < xor_len / 2);
	/* Steady rate: DOD's groups hold zeros only (min 0, width 0). */
	for (int i = 0; i < 300; i++)
		v[i] = 1e6 + 12345.0 * i;
	vcol_roundtrip(v, 300, TSDB_VENC_AUTO, TSDB_VENC_DOD);
	/* Small random steps around a level: DELTA. */
	for (int i = 0; i < 300; i++)
		v[i] = 500 + (double)(rng() % 16);
	vcol_roundtrip(v, 300, TSDB_VENC_AUTO, TSDB_VENC_DELTA);
	/* Accelerating: DOD wins. */
	for (int i = 0; i < 300; i++)
		v[i] = 7.0 * i * i;
	vcol_roundtrip(v, 300, TSDB_VENC_AUTO, TSDB_VENC_DOD);
	vcol_roundtrip(v, 2, TSDB_VENC_DOD, TSDB_VENC_DOD);
	/* Small and negative decimals, large integers. */
	for (int i = 0; i < 300; i++)
		v[i] = i % 2 ? -1.7949e-05 * i : (double)(1LL << 52) - i;
	vcol_roundtrip(v, 300, TSDB_VENC_AUTO, -1);
	/* Random 64-bit patterns: XOR. */
	for (int i = 0; i < 300; i++)
		v[i] = from_bits(rng() & ~(0x7FFull << 52)); /* finite */
	vcol_roundtrip(v, 300, TSDB_VENC_AUTO, TSDB_VENC_XOR);
	/* One value. */
	vcol_roundtrip(v, 1, TSDB_VENC_AUTO, TSDB_VENC_CONST);
	vcol_roundtrip(v, 1, TSDB_VENC_XOR, TSDB_VENC_XOR);
}

static void test_tsdb_vcol_encode_special_bits(void **state)
{
	(void)state;
	double v[] = {from_bits(0x7ff0000000000002ull), /* Prometheus stale marker */
		      NAN,
		      from_bits(0x7ff8dead00000001ull),
		      -0.0,
		      0.0,
		      INFINITY,
		      -INFINITY,
		      from_bits(1), /* smallest subnormal */
		      1.0,
		      from_bits(0xfff0000000000001ull)};
	size_t n = sizeof(v) / sizeof(v[0]);
	vcol_roundtrip(v, n, TSDB_VENC_AUTO, TSDB_VENC_XOR);
	/* Decimal forms must refuse them rather than canonicalize. */
	int64_t scratch[16];
	uint8_t buf[256];
	size_t len;
	assert_int_equal(
	    tsdb_vcol_encode(v, n, TSDB_VENC_DELTA, scratch, buf, sizeof(buf), &len, NULL),
	    TS_EINVAL);
	double z[] = {0.0, -0.0, 0.0};
	assert_int_equal(
	    tsdb_vcol_encode(z, 3, TSDB_VENC_DOD, scratch, buf, sizeof(buf), &len, NULL),
	    TS_EINVAL);
	vcol_roundtrip(z, 3, TSDB_VENC_AUTO, TSDB_VENC_XOR);
	assert_int_equal(
	    tsdb_vcol_encode(z, 3, TSDB_VENC_CONST, scratch, buf, sizeof(buf), &len, NULL),
	    TS_EINVAL);
	assert_int_equal(tsdb_vcol_encode(z, 3, 9, scratch, buf, sizeof(buf), &len, NULL),
			 TS_EINVAL);
	assert_int_equal(tsdb_vcol_encode(z, 3, TSDB_VENC_XOR, scratch, buf, 2, &len, NULL),
			 TS_EFULL);
}

static void test_tsdb_vcol_encode_random_decimals(void **state)
{
	(void)state;
	double v[500];
	for (int r = 0; r < 200; r++) {
		int e = (int)(rng() % 10);
		double p = pow(10, e);
		int64_t m = (int64_t)(rng() % 2000000) - 1000000;
		for (int i = 0; i < 500; i++) {
			m += (int64_t)(rng() % 2000) - 1000 * (int64_t)(r % 2);
			v[i] = (double)m / p;
		}
		vcol_roundtrip(v, 1 + rng() % 500, TSDB_VENC_AUTO, -1);
	}
}

static void test_tsdb_vcol_encode_golden(void **state)
{
	(void)state;
	/* DELTA, e = 1: 1.5 2.0 2.5 -> m 15 20 25, deltas 5 5: min 5 (zz 10), width 0. */
	double v[] = {1.5, 2.0, 2.5};
	int64_t scratch[3];
	uint8_t buf[64];
	size_t len;
	assert_int_equal(
	    tsdb_vcol_encode(v, 3, TSDB_VENC_DELTA, scratch, buf, sizeof(buf), &len, NULL), TS_OK);
	const uint8_t want[] = {0x02, 0x01, 0x1e, 0x0a, 0x00};
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* CONST 1.0. */
	double one[] = {1.0, 1.0};
	assert_int_equal(
	    tsdb_vcol_encode(one, 2, TSDB_VENC_AUTO, scratch, buf, sizeof(buf), &len, NULL), TS_OK);
	const uint8_t want_c[] = {0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
	assert_int_equal(len, sizeof(want_c));
	assert_memory_equal(buf, want_c, sizeof(want_c));
}

static void test_tsdb_vcol_decode_corrupt(void **state)
{
	(void)state;
	double back[100];
	uint8_t unknown[] = {0x07, 0x00};
	assert_int_equal(tsdb_vcol_decode(unknown, 2, 1, back, NULL), TS_ECORRUPT);
	uint8_t bad_scale[] = {0x02, 23, 0x00};
	assert_int_equal(tsdb_vcol_decode(bad_scale, 3, 1, back, NULL), TS_ECORRUPT);
	uint8_t bad_width[] = {0x02, 0x00, 0x00, 0x00, 65, 0x00};
	assert_int_equal(tsdb_vcol_decode(bad_width, 6, 2, back, NULL), TS_ECORRUPT);
	uint8_t const_long[] = {0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	assert_int_equal(tsdb_vcol_decode(const_long, 10, 2, back, NULL), TS_ECORRUPT);
	assert_int_equal(tsdb_vcol_decode(const_long, 0, 2, back, NULL), TS_ECORRUPT);
	/* XOR reuse before any window. */
	uint8_t reuse[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
	assert_int_equal(tsdb_vcol_decode(reuse, sizeof(reuse), 2, back, NULL), TS_ECORRUPT);
	for (int r = 0; r < 5000; r++) {
		uint8_t g[64];
		for (size_t i = 0; i < sizeof(g); i++)
			g[i] = (uint8_t)rng();
		g[0] %= 5;
		int rc = tsdb_vcol_decode(g, 1 + rng() % sizeof(g), 1 + rng() % 100, back, NULL);
		assert_true(rc == TS_OK || rc == TS_ECORRUPT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_tcol_encode_roundtrip_shapes),
	    cmocka_unit_test(test_tsdb_tcol_encode_errors),
	    cmocka_unit_test(test_tsdb_tcol_encode_golden),
	    cmocka_unit_test(test_tsdb_tcol_decode_corrupt),
	    cmocka_unit_test(test_tsdb_vcol_encode_each_encoding),
	    cmocka_unit_test(test_tsdb_vcol_encode_special_bits),
	    cmocka_unit_test(test_tsdb_vcol_encode_random_decimals),
	    cmocka_unit_test(test_tsdb_vcol_encode_golden),
	    cmocka_unit_test(test_tsdb_vcol_decode_corrupt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
