/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_gorilla.c: tests of the Gorilla bit codec (tsdb/gorilla.c).
 *
 * Covers the exact bit layout of the first and second sample, every delta-of-delta
 * bucket edge on both sides, INT64_MIN/INT64_MAX timestamps, every special float bit
 * pattern (NaN payloads, the Prometheus stale marker, infinities, -0.0, subnormals),
 * order errors, TS_EFULL leaving bytes and state untouched, the append-only bit
 * invariant concurrent readers rely on, resume, a seeded random round-trip property
 * test, and truncated / corrupt / random input (which must fail cleanly, never crash:
 * run under ASan, every decode reads from an exact-size heap copy).
 */
#include "tsdb/gorilla.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* -------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------- */

#define BUF_BYTES 65536

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t bits_of(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static double dbl_of(uint64_t b)
{
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/* Encode n samples into buf (BUF_BYTES); every append must succeed. */
static void encode_all(tsdb_gorilla_enc *e, uint8_t *buf, const int64_t *t, const uint64_t *vb,
		       size_t n)
{
	tsdb_gorilla_enc_init(e);
	for (size_t i = 0; i < n; i++) {
		ts_err err = {0};
		int rc = tsdb_gorilla_enc_append(e, buf, BUF_BYTES, t[i], dbl_of(vb[i]), &err);
		if (rc != TS_OK)
			fail_msg("append %zu (t=%lld): %s", i, (long long)t[i], err.msg);
	}
}

/* Decode the first k samples of buf[0..len) (which may hold more) and compare. */
static void check_prefix(const uint8_t *buf, size_t len, const int64_t *t, const uint64_t *vb,
			 uint32_t k)
{
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, buf, len, k ? t[0] : 0, k);
	for (uint32_t i = 0; i < k; i++) {
		int64_t tt;
		double vv;
		assert_int_equal(tsdb_gorilla_dec_next(&d, &tt, &vv, NULL), 1);
		assert_int_equal(tt, t[i]);
		assert_int_equal(bits_of(vv), vb[i]);
	}
	int64_t tt;
	double vv;
	assert_int_equal(tsdb_gorilla_dec_next(&d, &tt, &vv, NULL), 0);
}

/* Decode from an exact-size heap copy (so ASan sees any over-read) and compare bits. */
static void check_decode(const uint8_t *buf, size_t len, const int64_t *t, const uint64_t *vb,
			 size_t n)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);

	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, copy, len, n ? t[0] : 0, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		int64_t tt;
		double vv;
		ts_err err = {0};
		int rc = tsdb_gorilla_dec_next(&d, &tt, &vv, &err);
		if (rc != 1)
			fail_msg("decode %zu: rc %d %s", i, rc, err.msg);
		assert_int_equal(tt, t[i]);
		assert_int_equal(bits_of(vv), vb[i]);
	}
	int64_t tt = 0;
	double vv = 0;
	assert_int_equal(tsdb_gorilla_dec_next(&d, &tt, &vv, NULL), 0);
	assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_OK);

	/* The batch reader gives the same answer. */
	int64_t *ts = malloc((n + 1) * sizeof(*ts));
	double *vs = malloc((n + 1) * sizeof(*vs));
	assert_non_null(ts);
	assert_non_null(vs);
	tsdb_gorilla_dec_init(&d, copy, len, n ? t[0] : 0, (uint32_t)n);
	size_t got = 0;
	for (;;) {
		int rc = tsdb_gorilla_dec_read(&d, ts + got, vs + got, 7, NULL);
		assert_true(rc >= 0);
		if (rc == 0)
			break;
		got += (size_t)rc;
	}
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ts[i], t[i]);
		assert_int_equal(bits_of(vs[i]), vb[i]);
	}
	free(ts);
	free(vs);
	free(copy);
}

static void roundtrip(const int64_t *t, const uint64_t *vb, size_t n)
{
	uint8_t *buf = calloc(1, BUF_BYTES);
	assert_non_null(buf);
	tsdb_gorilla_enc e;
	encode_all(&e, buf, t, vb, n);
	assert_int_equal(e.n_samples, n);
	check_decode(buf, tsdb_gorilla_enc_len(&e), t, vb, n);
	free(buf);
}

/* -------------------------------------------------------------------------------------
 * Layout
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_gorilla_enc_append_first_sample(void **state)
{
	(void)state;
	uint8_t buf[16];
	memset(buf, 0xAA, sizeof(buf));
	tsdb_gorilla_enc e;
	tsdb_gorilla_enc_init(&e);
	/* 1.5 = 0x3FF8000000000000, stored big-endian; the timestamp is not in the stream. */
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 1700000000123, 1.5, NULL),
			 TS_OK);
	assert_int_equal(e.n_bits, 64);
	assert_int_equal(tsdb_gorilla_enc_len(&e), 8);
	static const uint8_t want[8] = {0x3F, 0xF8, 0, 0, 0, 0, 0, 0};
	assert_memory_equal(buf, want, 8);
	for (size_t k = 8; k < sizeof(buf); k++) /* past the sample: scratch zeros at most */
		assert_true(buf[k] == 0xAA || (buf[k] == 0 && k < 15));

	int64_t t;
	double v;
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, buf, 8, 1700000000123, 1);
	assert_int_equal(tsdb_gorilla_dec_next(&d, &t, &v, NULL), 1);
	assert_int_equal(t, 1700000000123);
	assert_true(v == 1.5);
	assert_int_equal(tsdb_gorilla_dec_next(&d, &t, &v, NULL), 0);

	/* A first sample needs 8 bytes. */
	tsdb_gorilla_enc_init(&e);
	memset(buf, 0xAA, sizeof(buf));
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, 7, 5, 1.0, NULL), TS_EFULL);
	assert_int_equal(e.n_samples, 0);
	assert_int_equal(buf[0], 0xAA);
}

static void test_tsdb_gorilla_enc_append_second_sample(void **state)
{
	(void)state;
	uint8_t buf[32] = {0};
	tsdb_gorilla_enc e;
	tsdb_gorilla_enc_init(&e);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 1000, 1.0, NULL), TS_OK);
	/* delta 1000 with no previous delta: dod 1000 -> '11110' + 11 bits 01111101000. */
	/* value 1.0 -> 2.0: x = 0x3FF0.. ^ 0x4000.. = 0x7FF0000000000000: lead 1, trail 52,
	 * m 11 -> '11' '00001' '001011' '11111111111'. */
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 2000, 2.0, NULL), TS_OK);
	assert_int_equal(e.n_bits, 64 + 16 + 2 + 5 + 6 + 11);
	/* bits after the 8 value bytes (40 bits, no padding):
	 * 11110 01111101000 11 00001 001011 11111111111
	 * = 1111 0011 | 1110 1000 | 1100 0010 | 0101 1111 | 1111 1111 */
	static const uint8_t want[] = {0xF3, 0xE8, 0xC2, 0x5F, 0xFF};
	assert_int_equal(tsdb_gorilla_enc_len(&e), 8 + 5);
	assert_memory_equal(buf + 8, want, 5);
	int64_t t[] = {1000, 2000};
	uint64_t vb[] = {bits_of(1.0), bits_of(2.0)};
	check_decode(buf, tsdb_gorilla_enc_len(&e), t, vb, 2);
}

static void test_tsdb_gorilla_enc_append_third_sample_reuse(void **state)
{
	(void)state;
	uint8_t buf[32] = {0};
	tsdb_gorilla_enc e;
	int64_t t[] = {1000, 2000, 3000};
	uint64_t vb[] = {0x4000000000000000ull, 0x4000000000000F00ull, 0x4000000000000300ull};
	encode_all(&e, buf, t, vb, 2);
	size_t before = e.n_bits;
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), t[2], dbl_of(vb[2]), NULL),
			 TS_OK);
	/* dod 0 -> '0'; x = 0xC00 fits the window (lead 31, trail 8, m 25) -> '10' + 25 bits
	 * would be 27 bits, a new window (lead 31, trail 10, m 23) 36: reuse. */
	assert_int_equal(e.n_bits - before, 1 + 2 + 25);
	check_decode(buf, tsdb_gorilla_enc_len(&e), t, vb, 3);
}

static void test_tsdb_gorilla_enc_append_new_window_when_shorter(void **state)
{
	(void)state;
	uint8_t buf[64] = {0};
	tsdb_gorilla_enc e;
	/* x1 = 0x8000000000000001 sets window (0, 0); x2 = 0x10 would cost 2 + 64 to reuse
	 * but 13 + 29 as a new window (leading zeros clamp at 31, so m = 64 - 31 - 4): the
	 * encoder must choose the new window. */
	int64_t t[] = {1, 2, 3};
	uint64_t vb[] = {0, 0x8000000000000001ull, 0x8000000000000011ull};
	encode_all(&e, buf, t, vb, 2);
	size_t before = e.n_bits;
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), t[2], dbl_of(vb[2]), NULL),
			 TS_OK);
	assert_int_equal(e.n_bits - before, 1 + 13 + 29);
	assert_int_equal(e.leading, 31);
	assert_int_equal(e.trailing, 4);
	check_decode(buf, tsdb_gorilla_enc_len(&e), t, vb, 3);
}

/* -------------------------------------------------------------------------------------
 * Timestamps
 * ---------------------------------------------------------------------------------- */

/* Bits used by the timestamp of the third sample when its dod is `dod`. */
static unsigned dod_bits(int64_t dod)
{
	uint8_t *buf = calloc(1, 256);
	assert_non_null(buf);
	tsdb_gorilla_enc e;
	const int64_t base = 1000000000; /* first delta: 1e9 ms, far from every edge */
	int64_t t[] = {0, base, 2 * base + dod};
	uint64_t vb[] = {0, 0, 0};
	encode_all(&e, buf, t, vb, 2);
	size_t before = e.n_bits;
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, 256, t[2], 0.0, NULL), TS_OK);
	unsigned bits = (unsigned)(e.n_bits - before) - 1; /* minus the 1-bit value */
	check_decode(buf, tsdb_gorilla_enc_len(&e), t, vb, 3);
	free(buf);
	return bits;
}

static void test_tsdb_gorilla_enc_append_dod_bucket_edges(void **state)
{
	(void)state;
	static const struct {
		int64_t dod;
		unsigned bits;
	} cases[] = {
	    {0, 1},        {1, 6},       {-1, 6},       {7, 6},          {-8, 6},
	    {8, 9},        {-9, 9},      {31, 9},       {-32, 9},        {32, 12},
	    {-33, 12},     {127, 12},    {-128, 12},    {128, 16},       {-129, 16},
	    {1023, 16},    {-1024, 16},  {1024, 26},    {-1025, 26},     {524287, 26},
	    {-524288, 26}, {524288, 70}, {-524289, 70}, {999999999, 70}, {-999999999, 70},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = dod_bits(cases[i].dod);
		if (got != cases[i].bits)
			fail_msg("dod %lld: %u bits, want %u", (long long)cases[i].dod, got,
				 cases[i].bits);
	}
}

static void test_tsdb_gorilla_enc_append_first_delta_buckets(void **state)
{
	(void)state;
	/* The first delta is coded as a dod against 0: 1 s fits 16 bits, 60 s 26 bits. */
	static const struct {
		int64_t delta;
		unsigned bits;
	} cases[] = {{1, 6},      {1000, 16},   {1023, 16},   {1024, 26},
		     {60000, 26}, {524287, 26}, {524288, 70}, {INT64_MAX, 70}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[64] = {0};
		tsdb_gorilla_enc e;
		tsdb_gorilla_enc_init(&e);
		assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 0, 1.0, NULL),
				 TS_OK);
		assert_int_equal(
		    tsdb_gorilla_enc_append(&e, buf, sizeof(buf), cases[i].delta, 1.0, NULL),
		    TS_OK);
		assert_int_equal(e.n_bits - 64 - 1, cases[i].bits);
		int64_t t[] = {0, cases[i].delta};
		uint64_t vb[] = {bits_of(1.0), bits_of(1.0)};
		check_decode(buf, tsdb_gorilla_enc_len(&e), t, vb, 2);
	}
}

static void test_tsdb_gorilla_enc_append_int64_edges(void **state)
{
	(void)state;
	const uint64_t z = 0;
	{ /* The whole range in one delta (2^64 - 1). */
		int64_t t[] = {INT64_MIN, INT64_MAX};
		uint64_t vb[] = {z, z};
		roundtrip(t, vb, 2);
	}
	{ /* Tiny delta then a huge one: dod wraps mod 2^64. */
		int64_t t[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX};
		uint64_t vb[] = {z, z, z};
		roundtrip(t, vb, 3);
	}
	{ /* Huge delta then tiny ones. */
		int64_t t[] = {INT64_MIN, INT64_MAX - 2, INT64_MAX - 1, INT64_MAX};
		uint64_t vb[] = {z, z, z, z};
		roundtrip(t, vb, 4);
	}
	{ /* Equal 2^63 deltas across zero: dod 0. */
		int64_t t[] = {INT64_MIN, 0, INT64_MAX};
		uint64_t vb[] = {1, 2, 3};
		roundtrip(t, vb, 3);
	}
	{
		int64_t t[] = {-2, -1, 0, 1, 2};
		uint64_t vb[] = {z, z, z, z, z};
		roundtrip(t, vb, 5);
	}
	{ /* A single sample at either edge. */
		int64_t t1[] = {INT64_MIN};
		int64_t t2[] = {INT64_MAX};
		uint64_t vb[] = {z};
		roundtrip(t1, vb, 1);
		roundtrip(t2, vb, 1);
	}
	/* Nothing can follow INT64_MAX. */
	uint8_t buf[64] = {0};
	tsdb_gorilla_enc e;
	tsdb_gorilla_enc_init(&e);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), INT64_MAX, 0.0, NULL),
			 TS_OK);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), INT64_MAX, 0.0, NULL),
			 TS_EINVAL);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), INT64_MIN, 0.0, NULL),
			 TS_EOUTOFORDER);
}

static void test_tsdb_gorilla_enc_append_out_of_order(void **state)
{
	(void)state;
	uint8_t buf[64] = {0};
	tsdb_gorilla_enc e;
	tsdb_gorilla_enc_init(&e);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 100, 1.0, NULL), TS_OK);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 200, 2.0, NULL), TS_OK);
	uint8_t before[64];
	memcpy(before, buf, sizeof(buf));
	tsdb_gorilla_enc saved = e;
	ts_err err = {0};
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 199, 3.0, &err),
			 TS_EOUTOFORDER);
	assert_int_equal(err.code, TS_EOUTOFORDER);
	assert_non_null(strstr(err.msg, "199"));
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 200, 3.0, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "duplicate"));
	assert_memory_equal(&e, &saved, sizeof(e));
	assert_memory_equal(buf, before, sizeof(buf));
	/* Order errors win over TS_EFULL. */
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, 9, 150, 3.0, NULL), TS_EOUTOFORDER);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, 9, 200, 3.0, NULL), TS_EINVAL);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, 9, 300, 3.0, NULL), TS_EFULL);
}

/* -------------------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------------------- */

static const uint64_t special_bits[] = {
    0x7FF0000000000002ull, /* Prometheus stale marker (signalling NaN) */
    0x7FF8000000000000ull, /* quiet NaN */
    0xFFF8000000000000ull, /* negative quiet NaN */
    0x7FF0000000000001ull, /* smallest signalling NaN payload */
    0x7FFFFFFFFFFFFFFFull, /* largest NaN payload */
    0xFFF0000000000001ull, /* negative signalling NaN */
    0x7FF8DEADBEEF0001ull, /* quiet NaN with a payload */
    0x7FF0000000000000ull, /* +Inf */
    0xFFF0000000000000ull, /* -Inf */
    0x0000000000000000ull, /* +0.0 */
    0x8000000000000000ull, /* -0.0 */
    0x0000000000000001ull, /* smallest subnormal */
    0x8000000000000001ull, /* negative smallest subnormal */
    0x000FFFFFFFFFFFFFull, /* largest subnormal */
    0x0010000000000000ull, /* DBL_MIN */
    0x7FEFFFFFFFFFFFFFull, /* DBL_MAX */
    0xFFEFFFFFFFFFFFFFull, /* -DBL_MAX */
    0x3FF0000000000000ull, /* 1.0 */
    0xFFFFFFFFFFFFFFFFull, /* all ones (a NaN) */
    0x5555555555555555ull, 0xAAAAAAAAAAAAAAAAull,
};
#define N_SPECIAL (sizeof(special_bits) / sizeof(special_bits[0]))

static void test_tsdb_gorilla_enc_append_special_floats(void **state)
{
	(void)state;
	/* Every ordered pair, so each pattern follows each other one (all XOR shapes). */
	enum { N = N_SPECIAL * N_SPECIAL * 2 + 1 };
	int64_t *t = malloc(N * sizeof(*t));
	uint64_t *vb = malloc(N * sizeof(*vb));
	assert_non_null(t);
	assert_non_null(vb);
	size_t n = 0;
	vb[n] = special_bits[0];
	t[n] = n * 1000;
	n++;
	for (size_t i = 0; i < N_SPECIAL; i++) {
		for (size_t j = 0; j < N_SPECIAL; j++) {
			vb[n] = special_bits[i];
			t[n] = (int64_t)n * 1000;
			n++;
			vb[n] = special_bits[j];
			t[n] = (int64_t)n * 1000;
			n++;
		}
	}
	roundtrip(t, vb, n);
	/* Each pattern alone and as a constant series. */
	for (size_t i = 0; i < N_SPECIAL; i++) {
		uint64_t c[3] = {special_bits[i], special_bits[i], special_bits[i]};
		int64_t tt[3] = {1, 2, 3};
		roundtrip(tt, c, 1);
		roundtrip(tt, c, 3);
	}
	free(t);
	free(vb);
}

static void test_tsdb_gorilla_enc_append_stale_marker_bits(void **state)
{
	(void)state;
	/* The stale marker must come back bit-exact, not as a canonical NaN. */
	uint8_t buf[64] = {0};
	tsdb_gorilla_enc e;
	tsdb_gorilla_enc_init(&e);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 1, 42.0, NULL), TS_OK);
	assert_int_equal(
	    tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 2, dbl_of(0x7FF0000000000002ull), NULL),
	    TS_OK);
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, buf, tsdb_gorilla_enc_len(&e), 1, 2);
	int64_t t;
	double v;
	assert_int_equal(tsdb_gorilla_dec_next(&d, &t, &v, NULL), 1);
	assert_int_equal(tsdb_gorilla_dec_next(&d, &t, &v, NULL), 1);
	assert_int_equal(bits_of(v), 0x7FF0000000000002ull);
}

/* -------------------------------------------------------------------------------------
 * TS_EFULL and the append-only invariant
 * ---------------------------------------------------------------------------------- */

/* Samples that exercise every code path: escapes, all buckets, windows, specials. */
static void gen_series(int64_t *t, uint64_t *vb, size_t n, unsigned kind)
{
	int64_t ts = (int64_t)(rnd() >> 1) - (INT64_MAX / 2);
	int64_t interval = 1 + (int64_t)(rnd() % 60000);
	double g = (double)(rnd() % 1000);
	uint64_t counter = rnd() % 100000;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd();
		switch (kind % 4) {
		case 0: ts += interval; break; /* regular */
		case 1:
			ts += interval + (int64_t)(r % 401) - 200 + (interval < 201 ? 201 : 0);
			break;
		case 2: ts += 1 + (int64_t)(r % ((r >> 60) ? 1000 : 10000000)); break; /* wild */
		default: ts += (r & 1) ? 1 : (int64_t)(1 + (r >> 40)); break;          /* edges */
		}
		t[i] = ts;
		uint64_t r2 = rnd();
		switch ((kind / 4) % 6) {
		case 0: vb[i] = bits_of(g); break; /* constant */
		case 1:
			counter += r2 % 1000;
			vb[i] = bits_of((double)counter);
			break; /* counter */
		case 2:
			g += ((double)(r2 % 2001) - 1000.0) / 100.0;
			vb[i] = bits_of(g);
			break;
		case 3: vb[i] = r2; break; /* random bits */
		case 4: vb[i] = special_bits[r2 % N_SPECIAL]; break;
		default: vb[i] = (r2 & 3) ? bits_of(g) : (r2 >> 2); break; /* mixed */
		}
	}
}

static void test_tsdb_gorilla_enc_append_efull_unchanged(void **state)
{
	(void)state;
	rng_state = 42;
	enum { N = 200 };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 24; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t buf[4096], snap[4096];
		memset(buf, 0x5A, sizeof(buf)); /* garbage past the stream must stay untouched */
		tsdb_gorilla_enc e;
		tsdb_gorilla_enc_init(&e);
		for (size_t i = 0; i < N; i++) {
			/* Find the exact byte need with a trial copy. */
			uint8_t trial[4096];
			memcpy(trial, buf, sizeof(buf));
			tsdb_gorilla_enc te = e;
			assert_int_equal(tsdb_gorilla_enc_append(&te, trial, sizeof(trial), t[i],
								 dbl_of(vb[i]), NULL),
					 TS_OK);
			size_t need = tsdb_gorilla_enc_len(&te);
			/* Every smaller capacity fails without touching anything. */
			for (size_t cap = need > 3 ? need - 3 : 0; cap < need; cap++) {
				memcpy(snap, buf, sizeof(buf));
				tsdb_gorilla_enc saved = e;
				ts_err err = {0};
				assert_int_equal(tsdb_gorilla_enc_append(&e, buf, cap, t[i],
									 dbl_of(vb[i]), &err),
						 TS_EFULL);
				assert_int_equal(err.code, TS_EFULL);
				assert_memory_equal(&e, &saved, sizeof(e));
				assert_memory_equal(buf, snap, sizeof(buf));
			}
			assert_int_equal(
			    tsdb_gorilla_enc_append(&e, buf, need, t[i], dbl_of(vb[i]), NULL),
			    TS_OK);
			assert_memory_equal(&e, &te, sizeof(e));
			assert_memory_equal(buf, trial, need);
			/* Past the stream, at most 7 scratch bytes changed (to zeros). */
			for (size_t k = need; k < sizeof(buf); k++)
				assert_true(buf[k] == 0x5A || (buf[k] == 0 && k < need + 7));
		}
		check_decode(buf, tsdb_gorilla_enc_len(&e), t, vb, N);
	}
}

static void test_tsdb_gorilla_enc_append_never_rewrites_bits(void **state)
{
	(void)state;
	/* After each append, every bit written before is unchanged, and decoding the first
	 * k samples from the final bytes (with the final length) gives the same samples:
	 * what a concurrent reader with a snapshot count relies on. */
	rng_state = 7;
	enum { N = 300 };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 24; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t buf[8192] = {0}, prev[8192];
		size_t bits_at[N + 1];
		tsdb_gorilla_enc e;
		tsdb_gorilla_enc_init(&e);
		for (size_t i = 0; i < N; i++) {
			memcpy(prev, buf, sizeof(buf));
			size_t old_bits = e.n_bits;
			bits_at[i] = old_bits;
			assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), t[i],
								 dbl_of(vb[i]), NULL),
					 TS_OK);
			size_t whole = old_bits / 8;
			assert_memory_equal(buf, prev, whole);
			if (old_bits % 8) {
				uint8_t mask = (uint8_t)(0xFF00u >> (old_bits % 8));
				assert_int_equal(buf[whole] & mask, prev[whole] & mask);
			}
		}
		bits_at[N] = e.n_bits;
		size_t len = tsdb_gorilla_enc_len(&e);
		for (uint32_t k = 0; k <= N; k += 17)
			check_prefix(buf, len, t, vb, k); /* later bits are ignored */
		/* A snapshot reader bounded by the published bit length decodes exactly k
		 * samples and ends exactly there, even though later bits follow. */
		for (uint32_t k = 0; k <= N; k++) {
			tsdb_gorilla_dec d;
			tsdb_gorilla_dec_init_bits(&d, buf, bits_at[k], k ? t[0] : 0, k);
			int64_t ts[N];
			double vs[N];
			assert_int_equal(tsdb_gorilla_dec_read(&d, ts, vs, N, NULL), (int)k);
			for (uint32_t i = 0; i < k; i++) {
				assert_int_equal(ts[i], t[i]);
				assert_int_equal(bits_of(vs[i]), vb[i]);
			}
			assert_int_equal(d.pos, bits_at[k]);
			assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_OK);
			/* One sample more than published never reads past the bound. */
			if (k < N) {
				tsdb_gorilla_dec_init_bits(&d, buf, bits_at[k], k ? t[0] : 0,
							   k + 1);
				int rc = tsdb_gorilla_dec_read(&d, ts, vs, N, NULL);
				assert_true(rc == TS_ECORRUPT || rc == (int)k + 1);
			}
		}
	}
}

static void test_tsdb_gorilla_dec_next_prefix_of_longer_stream(void **state)
{
	(void)state;
	rng_state = 8;
	enum { N = 150 };
	int64_t t[N];
	uint64_t vb[N];
	gen_series(t, vb, N, 9);
	uint8_t buf[8192] = {0};
	tsdb_gorilla_enc e;
	encode_all(&e, buf, t, vb, N);
	for (uint32_t k = 1; k < N; k++) {
		check_prefix(buf, tsdb_gorilla_enc_len(&e), t, vb, k);
		/* More bytes follow, so the stream does not end here. */
		tsdb_gorilla_dec d;
		tsdb_gorilla_dec_init(&d, buf, tsdb_gorilla_enc_len(&e), t[0], k);
		assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, NULL, N, NULL), (int)k);
		if (tsdb_gorilla_enc_len(&e) * 8 - d.pos >= 8)
			assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_ECORRUPT);
	}
}

/* -------------------------------------------------------------------------------------
 * Resume
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_gorilla_enc_resume_continues_identically(void **state)
{
	(void)state;
	rng_state = 99;
	enum { N = 160 };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 24; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t a[8192] = {0}, b[8192] = {0};
		tsdb_gorilla_enc ea;
		encode_all(&ea, a, t, vb, N);
		size_t split = 1 + rnd() % (N - 1);
		tsdb_gorilla_enc eb;
		encode_all(&eb, b, t, vb, split);
		tsdb_gorilla_dec d;
		tsdb_gorilla_dec_init(&d, b, tsdb_gorilla_enc_len(&eb), t[0], (uint32_t)split);
		assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, NULL, N, NULL), (int)split);
		assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_OK);
		tsdb_gorilla_enc er;
		tsdb_gorilla_enc_resume(&er, &d);
		assert_memory_equal(&er, &eb, sizeof(er));
		for (size_t i = split; i < N; i++)
			assert_int_equal(
			    tsdb_gorilla_enc_append(&er, b, sizeof(b), t[i], dbl_of(vb[i]), NULL),
			    TS_OK);
		assert_int_equal(tsdb_gorilla_enc_len(&er), tsdb_gorilla_enc_len(&ea));
		assert_memory_equal(a, b, tsdb_gorilla_enc_len(&ea));
	}
	/* Resuming an empty decode gives an empty encoder. */
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, NULL, 0, 0, 0);
	tsdb_gorilla_enc e, z;
	tsdb_gorilla_enc_resume(&e, &d);
	tsdb_gorilla_enc_init(&z);
	assert_memory_equal(&e, &z, sizeof(e));
}

/* -------------------------------------------------------------------------------------
 * Property test
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_gorilla_dec_next_roundtrip_random(void **state)
{
	(void)state;
	rng_state = 20240601;
	enum { MAX_N = 400 };
	int64_t t[MAX_N];
	uint64_t vb[MAX_N];
	for (unsigned s = 0; s < 3000; s++) {
		size_t n = rnd() % MAX_N;
		gen_series(t, vb, n, (unsigned)(rnd() % 24));
		roundtrip(t, vb, n);
	}
}

/* -------------------------------------------------------------------------------------
 * Corrupt input
 * ---------------------------------------------------------------------------------- */

/* Decode n samples of buf[0..len) from an exact-size copy; return the final rc. */
static int decode_garbage(const uint8_t *buf, size_t len, int64_t t0, uint32_t n)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, copy, len, t0, n);
	int64_t prev = 0;
	int rc;
	uint32_t got = 0;
	for (;;) {
		int64_t tt;
		double vv;
		ts_err err = {0};
		rc = tsdb_gorilla_dec_next(&d, &tt, &vv, &err);
		if (rc != 1) {
			if (rc < 0) {
				assert_int_equal(rc, TS_ECORRUPT);
				assert_int_equal(err.code, TS_ECORRUPT);
				assert_true(err.msg[0] != '\0');
				/* Sticky. */
				assert_int_equal(tsdb_gorilla_dec_next(&d, &tt, &vv, NULL),
						 TS_ECORRUPT);
				assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, NULL, 5, NULL),
						 TS_ECORRUPT);
			}
			break;
		}
		if (got > 0)
			assert_true(tt > prev); /* decoded time always increases */
		prev = tt;
		got++;
	}
	if (rc == 0)
		assert_int_equal(got, n);
	free(copy);
	return rc;
}

static void test_tsdb_gorilla_dec_next_truncated(void **state)
{
	(void)state;
	rng_state = 5;
	enum { N = 120 };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 24; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t buf[8192] = {0};
		tsdb_gorilla_enc e;
		encode_all(&e, buf, t, vb, N);
		size_t len = tsdb_gorilla_enc_len(&e);
		/* Every strict prefix is missing real bits of the last sample. */
		for (size_t l = 0; l < len; l++)
			assert_int_equal(decode_garbage(buf, l, t[0], N), TS_ECORRUPT);
		assert_int_equal(decode_garbage(buf, len, t[0], N), 0);
		/* Claiming more samples than written: the zero padding may even decode as a
		 * sample (dod 0, same value) when 2+ bits are left; it must never crash. */
		(void)decode_garbage(buf, len, t[0], N + 1);
		(void)decode_garbage(buf, len, t[0], N + 5);
	}
}

static void test_tsdb_gorilla_dec_next_bit_flips(void **state)
{
	(void)state;
	rng_state = 6;
	enum { N = 60 };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 24; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t buf[4096] = {0};
		tsdb_gorilla_enc e;
		encode_all(&e, buf, t, vb, N);
		size_t len = tsdb_gorilla_enc_len(&e);
		for (size_t bit = 0; bit < len * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			(void)decode_garbage(buf, len, t[0], N); /* any result, but clean */
			buf[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		}
	}
}

static void test_tsdb_gorilla_dec_next_random_bytes(void **state)
{
	(void)state;
	rng_state = 77;
	uint8_t buf[512];
	for (unsigned i = 0; i < 20000; i++) {
		size_t len = rnd() % sizeof(buf);
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rnd();
		/* Bias towards all-ones bytes (escapes, new windows) now and then. */
		if (i % 3 == 0)
			for (size_t k = 0; k < len; k += 2)
				buf[k] = 0xFF;
		int64_t t0 = (int64_t)rnd();
		(void)decode_garbage(buf, len, t0, (uint32_t)(rnd() % 2000));
	}
}

/* Decode 2 samples of buf[0..len); expect TS_ECORRUPT with `why` in the message. */
static void expect_corrupt(const uint8_t *buf, size_t len, int64_t t0, const char *why)
{
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, buf, len, t0, 2);
	ts_err err = {0};
	int rc = tsdb_gorilla_dec_read(&d, NULL, NULL, 2, &err);
	assert_int_equal(rc, TS_ECORRUPT);
	if (!strstr(err.msg, why))
		fail_msg("message '%s' lacks '%s'", err.msg, why);
}

static void test_tsdb_gorilla_dec_next_reserved_forms(void **state)
{
	(void)state;
	uint8_t buf[32];
	/* Reuse ('10') before any window was set (enough bits follow for any window). */
	memset(buf, 0, sizeof(buf));
	buf[8] = 0x86; /* '10' '0001' (first delta 1), value '10' */
	expect_corrupt(buf, sizeof(buf), 0, "window reused before");
	/* New window with lead 31 and m 64 (0): 95 bits do not exist. */
	memset(buf, 0, sizeof(buf));
	buf[8] = 0x87;  /* '10' '0001', value '11' */
	buf[9] = 0xF8;  /* lead '11111' = 31, then m '000' ... */
	buf[10] = 0x00; /* ... '000' = 0 -> 64 */
	expect_corrupt(buf, sizeof(buf), 0, "wider than 64");
	/* Truncated in each field. */
	memset(buf, 0, sizeof(buf));
	expect_corrupt(buf, 7, 0, "truncated first value");
	buf[8] = 0xFC; /* escape prefix, then too few bits */
	expect_corrupt(buf, 12, 0, "truncated timestamp escape");
	buf[8] = 0xF8; /* '11111' + 20-bit payload, cut short */
	expect_corrupt(buf, 10, 0, "truncated timestamp");
	buf[8] = 0xF0; /* '11110' '00000000001': dod 1 in 16 bits, then no value bits */
	buf[9] = 0x01;
	expect_corrupt(buf, 10, 0, "truncated value");
	buf[8] = 0x87; /* '10' '0001', then '11' and too few bits for a window */
	expect_corrupt(buf, 9, 0, "truncated value window");
	/* dod that makes the delta 0: '10' + 4 bits 0000 is dod 0 encoded in a bucket that
	 * is legal, but a first delta of 0 is not an increasing timestamp. */
	memset(buf, 0, sizeof(buf));
	buf[8] = 0x80; /* '10' '0000' then value '0' */
	assert_int_equal(decode_garbage(buf, 10, 0, 2), TS_ECORRUPT);
	/* Negative first delta: '10' '1111' (-1). */
	buf[8] = 0xBC;
	assert_int_equal(decode_garbage(buf, 10, 0, 2), TS_ECORRUPT);
	/* A timestamp past INT64_MAX: t0 = INT64_MAX - 1 and dod +2. */
	buf[8] = 0x88; /* '10' '0010' '0' */
	assert_int_equal(decode_garbage(buf, 10, INT64_MAX - 1, 2), TS_ECORRUPT);
	assert_int_equal(decode_garbage(buf, 10, INT64_MAX - 2, 2), 0);
}

static void test_tsdb_gorilla_dec_check_end_padding(void **state)
{
	(void)state;
	uint8_t buf[16] = {0};
	tsdb_gorilla_enc e;
	tsdb_gorilla_enc_init(&e);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 1, 1.0, NULL), TS_OK);
	assert_int_equal(tsdb_gorilla_enc_append(&e, buf, sizeof(buf), 2, 1.0, NULL), TS_OK);
	size_t len = tsdb_gorilla_enc_len(&e); /* 64 + 6 + 1 bits: 9 bytes, 1 padding bit */
	assert_int_equal(len, 9);
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, buf, len, 1, 2);
	assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_EINVAL); /* not decoded */
	assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, NULL, 10, NULL), 2);
	assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_OK);
	buf[8] |= 1; /* a padding bit set */
	tsdb_gorilla_dec_init(&d, buf, len, 1, 2);
	assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, NULL, 10, NULL), 2);
	assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_ECORRUPT);
	buf[8] &= 0xFE;
	tsdb_gorilla_dec_init(&d, buf, len + 1, 1, 2); /* a trailing byte */
	assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, NULL, 10, NULL), 2);
	assert_int_equal(tsdb_gorilla_dec_check_end(&d, NULL), TS_ECORRUPT);
}

static void test_tsdb_gorilla_dec_read_null_outputs(void **state)
{
	(void)state;
	int64_t t[] = {10, 20, 35};
	uint64_t vb[] = {bits_of(1.0), bits_of(2.0), bits_of(-0.0)};
	uint8_t buf[64] = {0};
	tsdb_gorilla_enc e;
	encode_all(&e, buf, t, vb, 3);
	tsdb_gorilla_dec d;
	int64_t ts[3];
	double vs[3];
	tsdb_gorilla_dec_init(&d, buf, tsdb_gorilla_enc_len(&e), 10, 3);
	assert_int_equal(tsdb_gorilla_dec_read(&d, ts, NULL, 3, NULL), 3);
	assert_int_equal(ts[2], 35);
	tsdb_gorilla_dec_init(&d, buf, tsdb_gorilla_enc_len(&e), 10, 3);
	assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, vs, 2, NULL), 2);
	assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, vs + 2, 2, NULL), 1);
	assert_int_equal(bits_of(vs[2]), bits_of(-0.0));
	assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, vs, 2, NULL), 0);
	assert_int_equal(tsdb_gorilla_dec_read(&d, NULL, vs, 0, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_first_sample),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_second_sample),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_third_sample_reuse),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_new_window_when_shorter),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_dod_bucket_edges),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_first_delta_buckets),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_int64_edges),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_out_of_order),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_special_floats),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_stale_marker_bits),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_efull_unchanged),
	    cmocka_unit_test(test_tsdb_gorilla_enc_append_never_rewrites_bits),
	    cmocka_unit_test(test_tsdb_gorilla_dec_next_prefix_of_longer_stream),
	    cmocka_unit_test(test_tsdb_gorilla_enc_resume_continues_identically),
	    cmocka_unit_test(test_tsdb_gorilla_dec_next_roundtrip_random),
	    cmocka_unit_test(test_tsdb_gorilla_dec_next_truncated),
	    cmocka_unit_test(test_tsdb_gorilla_dec_next_bit_flips),
	    cmocka_unit_test(test_tsdb_gorilla_dec_next_random_bytes),
	    cmocka_unit_test(test_tsdb_gorilla_dec_next_reserved_forms),
	    cmocka_unit_test(test_tsdb_gorilla_dec_check_end_padding),
	    cmocka_unit_test(test_tsdb_gorilla_dec_read_null_outputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
