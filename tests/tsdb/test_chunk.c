/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_chunk.c: tests of bounded Gorilla chunks (tsdb/chunk.c).
 *
 * Covers the header layout (golden bytes), first and second sample, full by count, by
 * time span and by buffer bytes (each leaving the chunk byte-identical), order errors
 * winning over TS_EFULL, INT64_MIN/INT64_MAX, the worst-case size bound, seek, batch
 * reads, resume and move, a head-like property test (cut a new chunk on TS_EFULL,
 * random spans and capacities, fixed seed), snapshot readers (single-threaded prefix
 * checks and a real writer/reader thread pair), the node_exporter scrape timestamps
 * (bits per sample), and corrupt, truncated and bit-flipped chunks (clean TS_ECORRUPT,
 * never a crash; every decode reads an exact-size heap copy so ASan sees over-reads).
 */
#include "tsdb/chunk.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

/* -------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------- */

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

static int64_t get_i64(const uint8_t *p)
{
	uint64_t u = ts_get_u64le(p);
	int64_t r;
	memcpy(&r, &u, sizeof(r));
	return r;
}

/* Fill a chunk with n samples; every append must succeed. */
static void fill(tsdb_chunk *c, const int64_t *t, const uint64_t *vb, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ts_err err = {0};
		int rc = tsdb_chunk_append(c, t[i], dbl_of(vb[i]), &err);
		if (rc != TS_OK)
			fail_msg("append %zu: %s", i, err.msg);
	}
}

/* Decode complete chunk bytes from an exact-size copy and compare every sample. */
static void check_chunk(const uint8_t *bytes, size_t len, const int64_t *t, const uint64_t *vb,
			size_t n)
{
	uint8_t *copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, bytes, len);
	tsdb_chunk_iter it;
	ts_err err = {0};
	if (tsdb_chunk_iter_init(&it, copy, len, &err) != TS_OK)
		fail_msg("iter_init: %s", err.msg);
	for (size_t i = 0; i < n; i++) {
		int64_t tt;
		double vv;
		int rc = tsdb_chunk_iter_next(&it, &tt, &vv, &err);
		if (rc != 1)
			fail_msg("sample %zu: rc %d %s", i, rc, err.msg);
		assert_int_equal(tt, t[i]);
		assert_int_equal(bits_of(vv), vb[i]);
	}
	int64_t tt;
	double vv;
	assert_int_equal(tsdb_chunk_iter_next(&it, &tt, &vv, NULL), 0);
	assert_int_equal(tsdb_chunk_iter_next(&it, &tt, &vv, NULL), 0);

	/* Batch reads in odd sizes give the same samples. */
	int64_t ts[TSDB_CHUNK_MAX_SAMPLES];
	double vs[TSDB_CHUNK_MAX_SAMPLES];
	assert_int_equal(tsdb_chunk_iter_init(&it, copy, len, NULL), TS_OK);
	size_t got = 0;
	for (;;) {
		int rc = tsdb_chunk_iter_read(&it, ts + got, vs + got, 13, NULL);
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
	free(copy);
}

/* Iterate a chunk from an exact-size copy; returns the final rc (0 or negative). */
static int decode_garbage(const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, bytes, len);
	tsdb_chunk_iter it;
	ts_err err = {0};
	int rc = tsdb_chunk_iter_init(&it, copy, len, &err);
	if (rc != TS_OK) {
		assert_int_equal(rc, TS_ECORRUPT);
		assert_int_equal(err.code, TS_ECORRUPT);
		free(copy);
		return rc;
	}
	int64_t prev = INT64_MIN;
	uint32_t n = 0;
	for (;;) {
		int64_t tt;
		double vv;
		rc = tsdb_chunk_iter_next(&it, &tt, &vv, &err);
		if (rc <= 0)
			break;
		if (n++ > 0)
			assert_true(tt > prev);
		prev = tt;
	}
	if (rc < 0) {
		assert_int_equal(rc, TS_ECORRUPT);
		int64_t tt;
		double vv;
		assert_int_equal(tsdb_chunk_iter_next(&it, &tt, &vv, NULL), TS_ECORRUPT);
	} else {
		assert_true(n <= TSDB_CHUNK_MAX_SAMPLES);
		assert_int_equal(n, ts_get_u16le(copy));
		if (n)
			assert_int_equal(prev, get_i64(copy + 10));
	}
	/* Seeking and batch reads over the same bytes are just as clean. */
	if (tsdb_chunk_iter_init(&it, copy, len, NULL) == TS_OK) {
		int s = tsdb_chunk_iter_seek(&it, (int64_t)rnd(), NULL);
		assert_true(s == 0 || s == 1 || s == TS_ECORRUPT);
		int64_t ts[TSDB_CHUNK_MAX_SAMPLES];
		double vs[TSDB_CHUNK_MAX_SAMPLES];
		int r;
		while ((r = tsdb_chunk_iter_read(&it, ts, vs, TSDB_CHUNK_MAX_SAMPLES, NULL)) > 0)
			;
		assert_true(r == 0 || r == TS_ECORRUPT);
	}
	free(copy);
	return rc;
}

/* A random series: kind picks timestamp and value shapes (see the cases). */
static void gen_series(int64_t *t, uint64_t *vb, size_t n, unsigned kind)
{
	int64_t ts = 1795231500004 + (int64_t)(rnd() % 100000);
	int64_t interval = (int64_t[]){1000, 10000, 15000, 60000}[rnd() % 4];
	double g = (double)(rnd() % 1000);
	uint64_t counter = rnd() % 100000;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd();
		switch (kind % 4) {
		case 0: ts += interval; break;
		case 1: ts += interval + (int64_t)(r % 401) - 200; break;
		case 2: ts += 1 + (int64_t)(r % 5000000); break;
		default: ts += (r & 1) ? 1 : (int64_t)(1 + (r >> 36)); break;
		}
		t[i] = ts;
		uint64_t r2 = rnd();
		switch ((kind / 4) % 5) {
		case 0: vb[i] = bits_of(g); break;
		case 1:
			counter += r2 % 1000;
			vb[i] = bits_of((double)counter);
			break;
		case 2:
			g += ((double)(r2 % 2001) - 1000.0) / 100.0;
			vb[i] = bits_of(g);
			break;
		case 3: vb[i] = r2; break;
		default: vb[i] = (r2 & 7) ? bits_of(g) : 0x7FF0000000000002ull; break;
		}
	}
}

/* -------------------------------------------------------------------------------------
 * Init and header
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_chunk_init_invalid(void **state)
{
	(void)state;
	uint8_t buf[64];
	tsdb_chunk c;
	ts_err err = {0};
	assert_int_equal(tsdb_chunk_init(&c, buf, 25, 1000, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "too small"));
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 0, NULL), TS_EINVAL);
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), -5, NULL), TS_EINVAL);
	assert_int_equal(tsdb_chunk_init(&c, buf, 26, 1, NULL), TS_OK);
	assert_int_equal(tsdb_chunk_len(&c), TSDB_CHUNK_HEADER_BYTES);
	assert_int_equal(tsdb_chunk_n_samples(&c), 0);
	assert_ptr_equal(tsdb_chunk_bytes(&c), buf);
}

static void test_tsdb_chunk_append_first_sample(void **state)
{
	(void)state;
	uint8_t buf[64];
	memset(buf, 0xEE, sizeof(buf));
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 7200000, NULL), TS_OK);
	static const uint8_t empty[18] = {0};
	assert_memory_equal(buf, empty, 18);
	assert_int_equal(tsdb_chunk_append(&c, 1795231500004, 1.0, NULL), TS_OK);
	assert_int_equal(tsdb_chunk_n_samples(&c), 1);
	assert_int_equal(tsdb_chunk_first_t(&c), 1795231500004);
	assert_int_equal(tsdb_chunk_last_t(&c), 1795231500004);
	assert_int_equal(tsdb_chunk_len(&c), 18 + 8);
	assert_int_equal(ts_get_u16le(buf), 1);
	assert_int_equal(get_i64(buf + 2), 1795231500004);
	assert_int_equal(get_i64(buf + 10), 1795231500004);
	static const uint8_t one[8] = {0x3F, 0xF0, 0, 0, 0, 0, 0, 0};
	assert_memory_equal(buf + 18, one, 8);
	assert_true(buf[26] == 0xEE || buf[26] == 0); /* scratch past the chunk */
	int64_t t[] = {1795231500004};
	uint64_t vb[] = {bits_of(1.0)};
	check_chunk(buf, tsdb_chunk_len(&c), t, vb, 1);
}

static void test_tsdb_chunk_append_second_sample(void **state)
{
	(void)state;
	uint8_t buf[64] = {0};
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 7200000, NULL), TS_OK);
	int64_t t[] = {1795231500004, 1795231501004};
	uint64_t vb[] = {bits_of(3.0), bits_of(3.0)};
	fill(&c, t, vb, 2);
	/* Golden bytes: header, value 3.0, then dod 1000 '11110'+'01111101000', value '0'. */
	static const uint8_t want[] = {
	    0x02, 0x00,                                     /* n_samples = 2 */
	    0xE4, 0xC6, 0x22, 0xFC, 0xA1, 0x01, 0x00, 0x00, /* first_t_ms 1795231500004 */
	    0xCC, 0xCA, 0x22, 0xFC, 0xA1, 0x01, 0x00, 0x00, /* last_t_ms 1795231501004 */
	    0x40, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 3.0 */
	    0xF3, 0xE8, 0x00,                               /* 11110011 11101000 0(pad 7) */
	};
	assert_int_equal(tsdb_chunk_len(&c), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	check_chunk(buf, tsdb_chunk_len(&c), t, vb, 2);
}

/* -------------------------------------------------------------------------------------
 * Full: count, span, bytes
 * ---------------------------------------------------------------------------------- */

/* Try an append that must fail with `want`, and check nothing changed. */
static void expect_unchanged(tsdb_chunk *c, int64_t t, double v, int want)
{
	uint8_t snap[TSDB_CHUNK_MAX_BYTES + 64];
	size_t cap = c->cap_bytes;
	assert_true(cap <= sizeof(snap));
	memcpy(snap, c->buf, cap);
	tsdb_chunk saved = *c;
	ts_err err = {0};
	assert_int_equal(tsdb_chunk_append(c, t, v, &err), want);
	assert_int_equal(err.code, want);
	assert_memory_equal(c, &saved, sizeof(saved));
	assert_memory_equal(c->buf, snap, cap);
}

static void test_tsdb_chunk_append_full_by_count(void **state)
{
	(void)state;
	uint8_t buf[TSDB_CHUNK_MAX_BYTES];
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL),
			 TS_OK);
	int64_t t[TSDB_CHUNK_MAX_SAMPLES];
	uint64_t vb[TSDB_CHUNK_MAX_SAMPLES];
	for (int i = 0; i < TSDB_CHUNK_MAX_SAMPLES; i++) {
		t[i] = 1000 * (int64_t)i;
		vb[i] = bits_of((double)i);
	}
	fill(&c, t, vb, TSDB_CHUNK_MAX_SAMPLES);
	assert_int_equal(tsdb_chunk_n_samples(&c), TSDB_CHUNK_MAX_SAMPLES);
	expect_unchanged(&c, 120000, 1.0, TS_EFULL);
	/* Order errors win, so a head never cuts a chunk for a sample it must reject. */
	expect_unchanged(&c, 119000, 1.0, TS_EINVAL);
	expect_unchanged(&c, 5, 1.0, TS_EOUTOFORDER);
	check_chunk(buf, tsdb_chunk_len(&c), t, vb, TSDB_CHUNK_MAX_SAMPLES);
}

static void test_tsdb_chunk_append_full_by_span(void **state)
{
	(void)state;
	uint8_t buf[TSDB_CHUNK_MAX_BYTES];
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 10000, NULL), TS_OK);
	int64_t t[] = {-5000, -1, 0, 4999};
	uint64_t vb[] = {1, 2, 3, 4};
	fill(&c, t, vb, 4);
	expect_unchanged(&c, 5000, 1.0, TS_EFULL); /* span is half-open: [first, first + 10000) */
	expect_unchanged(&c, INT64_MAX, 1.0, TS_EFULL);
	expect_unchanged(&c, 4999, 1.0, TS_EINVAL);
	check_chunk(buf, tsdb_chunk_len(&c), t, vb, 4);

	/* Span 1: only one sample fits. */
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 1, NULL), TS_OK);
	assert_int_equal(tsdb_chunk_append(&c, 7, 1.0, NULL), TS_OK);
	expect_unchanged(&c, 8, 1.0, TS_EFULL);
}

static void test_tsdb_chunk_append_full_by_bytes(void **state)
{
	(void)state;
	rng_state = 3;
	enum { N = TSDB_CHUNK_MAX_SAMPLES };
	int64_t t[N];
	uint64_t vb[N];
	gen_series(t, vb, N, 13); /* random bits: ~10 bytes per sample */
	uint8_t small[200];
	memset(small, 0x77, sizeof(small));
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, small, sizeof(small), TSDB_CHUNK_SPAN_UNLIMITED, NULL),
			 TS_OK);
	size_t i = 0;
	while (tsdb_chunk_append(&c, t[i], dbl_of(vb[i]), NULL) == TS_OK)
		i++;
	assert_true(i > 0 && i < N);
	expect_unchanged(&c, t[i], dbl_of(vb[i]), TS_EFULL);
	/* Past the chunk: untouched, except up to 7 scratch bytes zeroed by appends. */
	for (size_t k = tsdb_chunk_len(&c); k < sizeof(small); k++)
		assert_true(small[k] == 0x77 || (small[k] == 0 && k < tsdb_chunk_len(&c) + 7));
	check_chunk(small, tsdb_chunk_len(&c), t, vb, i);

	/* Grow: move to a bigger buffer and keep appending. */
	uint8_t big[TSDB_CHUNK_MAX_BYTES];
	ts_err err = {0};
	assert_int_equal(tsdb_chunk_move(&c, big, 10, &err), TS_EINVAL);
	assert_ptr_equal(tsdb_chunk_bytes(&c), small);
	assert_int_equal(tsdb_chunk_move(&c, big, sizeof(big), NULL), TS_OK);
	assert_ptr_equal(tsdb_chunk_bytes(&c), big);
	for (; i < N; i++)
		assert_int_equal(tsdb_chunk_append(&c, t[i], dbl_of(vb[i]), NULL), TS_OK);
	check_chunk(big, tsdb_chunk_len(&c), t, vb, N);
}

static void test_tsdb_chunk_append_efull_every_sample(void **state)
{
	(void)state;
	/* At every point of many series, a one-byte-short buffer fails cleanly. */
	rng_state = 4;
	enum { N = TSDB_CHUNK_MAX_SAMPLES };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 20; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t buf[TSDB_CHUNK_MAX_BYTES];
		tsdb_chunk c;
		assert_int_equal(
		    tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
		for (size_t i = 0; i < N; i++) {
			tsdb_chunk trial = c;
			uint8_t tbuf[TSDB_CHUNK_MAX_BYTES];
			memcpy(tbuf, buf, sizeof(buf));
			trial.buf = tbuf;
			trial.cap_bytes = sizeof(tbuf);
			assert_int_equal(tsdb_chunk_append(&trial, t[i], dbl_of(vb[i]), NULL),
					 TS_OK);
			size_t need = tsdb_chunk_len(&trial);
			c.cap_bytes = need - 1;
			if (need - 1 >= TSDB_CHUNK_HEADER_BYTES + 8)
				expect_unchanged(&c, t[i], dbl_of(vb[i]), TS_EFULL);
			c.cap_bytes = need;
			assert_int_equal(tsdb_chunk_append(&c, t[i], dbl_of(vb[i]), NULL), TS_OK);
			assert_memory_equal(buf, tbuf, need);
		}
		check_chunk(buf, tsdb_chunk_len(&c), t, vb, N);
	}
}

static void test_tsdb_chunk_append_worst_case_fits(void **state)
{
	(void)state;
	/* Escapes and 64-bit value windows on every sample still fit TSDB_CHUNK_MAX_BYTES. */
	enum { N = TSDB_CHUNK_MAX_SAMPLES };
	int64_t t[N];
	uint64_t vb[N];
	int64_t ts = INT64_MIN;
	for (int i = 0; i < N; i++) {
		ts += (i & 1) ? ((int64_t)1 << 56) : 1; /* dod = +-(2^56 - 1): escape each time */
		t[i] = ts;
		/* x alternates between 64-bit and 1-bit windows, so each is a new window. */
		vb[i] = (i & 1) ? 0x8000000000000001ull : ((i & 2) ? 0x0000000100000000ull : 0);
	}
	uint8_t buf[TSDB_CHUNK_MAX_BYTES];
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL),
			 TS_OK);
	fill(&c, t, vb, N);
	assert_true(tsdb_chunk_len(&c) <= TSDB_CHUNK_MAX_BYTES);
	assert_true(tsdb_chunk_len(&c) > 1500);
	check_chunk(buf, tsdb_chunk_len(&c), t, vb, N);
}

static void test_tsdb_chunk_append_duplicate_and_out_of_order(void **state)
{
	(void)state;
	uint8_t buf[256];
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 1000000, NULL), TS_OK);
	assert_int_equal(tsdb_chunk_append(&c, 100, 1.0, NULL), TS_OK);
	expect_unchanged(&c, 100, 2.0, TS_EINVAL);
	expect_unchanged(&c, 99, 2.0, TS_EOUTOFORDER);
	expect_unchanged(&c, INT64_MIN, 2.0, TS_EOUTOFORDER);
	assert_int_equal(tsdb_chunk_append(&c, 101, 2.0, NULL), TS_OK);
	expect_unchanged(&c, 101, 2.0, TS_EINVAL);
	ts_err err = {0};
	assert_int_equal(tsdb_chunk_append(&c, 50, 2.0, &err), TS_EOUTOFORDER);
	assert_non_null(strstr(err.msg, "before"));
}

static void test_tsdb_chunk_append_int64_edges(void **state)
{
	(void)state;
	uint8_t buf[256];
	tsdb_chunk c;
	/* Unlimited span: the whole int64 range fits in one chunk. */
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL),
			 TS_OK);
	int64_t t[] = {INT64_MIN, INT64_MIN + 1, 0, INT64_MAX - 1, INT64_MAX};
	uint64_t vb[] = {0x7FF0000000000002ull, 0, 0x8000000000000000ull, 1, 0xFFF0000000000000ull};
	fill(&c, t, vb, 5);
	expect_unchanged(&c, INT64_MAX, 0.0, TS_EINVAL);
	check_chunk(buf, tsdb_chunk_len(&c), t, vb, 5);
	assert_int_equal(get_i64(buf + 2), INT64_MIN);
	assert_int_equal(get_i64(buf + 10), INT64_MAX);

	/* The largest finite span, INT64_MAX - 1 = 2^63 - 2: distances up to 2^63 - 3 fit. */
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), INT64_MAX - 1, NULL), TS_OK);
	assert_int_equal(tsdb_chunk_append(&c, INT64_MIN, 1.0, NULL), TS_OK);
	assert_int_equal(tsdb_chunk_append(&c, -3, 1.0, NULL), TS_OK); /* distance 2^63 - 3 */
	expect_unchanged(&c, -2, 1.0, TS_EFULL);                       /* distance 2^63 - 2 */
	expect_unchanged(&c, INT64_MAX, 1.0, TS_EFULL);                /* distance 2^64 - 1 */
}

/* -------------------------------------------------------------------------------------
 * Iteration and seek
 * ---------------------------------------------------------------------------------- */

static void build_seek_chunk(tsdb_chunk *c, uint8_t *buf, size_t cap)
{
	assert_int_equal(tsdb_chunk_init(c, buf, cap, TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
	for (int i = 0; i < 10; i++) /* t = 100, 200, ..., 1000; v = t / 100 */
		assert_int_equal(tsdb_chunk_append(c, 100 * (i + 1), (double)(i + 1), NULL), TS_OK);
}

static void test_tsdb_chunk_iter_seek_positions(void **state)
{
	(void)state;
	uint8_t buf[256];
	tsdb_chunk c;
	build_seek_chunk(&c, buf, sizeof(buf));
	tsdb_chunk_iter it;
	int64_t t;
	double v;

	assert_int_equal(tsdb_chunk_iter_init(&it, buf, tsdb_chunk_len(&c), NULL), TS_OK);
	assert_int_equal(tsdb_chunk_iter_seek(&it, INT64_MIN, NULL), 1); /* before the first */
	assert_int_equal(tsdb_chunk_iter_next(&it, &t, &v, NULL), 1);
	assert_int_equal(t, 100);

	assert_int_equal(tsdb_chunk_iter_seek(&it, 500, NULL), 1); /* exact */
	assert_int_equal(tsdb_chunk_iter_seek(&it, 500, NULL), 1); /* idempotent */
	assert_int_equal(tsdb_chunk_iter_next(&it, &t, &v, NULL), 1);
	assert_int_equal(t, 500);
	assert_true(v == 5.0);

	assert_int_equal(tsdb_chunk_iter_seek(&it, 650, NULL), 1); /* between samples */
	assert_int_equal(tsdb_chunk_iter_seek(&it, 100, NULL), 1); /* never moves back */
	assert_int_equal(tsdb_chunk_iter_next(&it, &t, &v, NULL), 1);
	assert_int_equal(t, 700);

	assert_int_equal(tsdb_chunk_iter_seek(&it, 1000, NULL), 1); /* the last */
	int64_t ts[4];
	double vs[4];
	assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, 4, NULL), 1); /* pending via read */
	assert_int_equal(ts[0], 1000);
	assert_int_equal(tsdb_chunk_iter_seek(&it, 0, NULL), 0);

	assert_int_equal(tsdb_chunk_iter_init(&it, buf, tsdb_chunk_len(&c), NULL), TS_OK);
	assert_int_equal(tsdb_chunk_iter_seek(&it, 1001, NULL), 0); /* after the last */
	assert_int_equal(tsdb_chunk_iter_next(&it, &t, &v, NULL), 0);

	/* Seek then batch read the rest. */
	assert_int_equal(tsdb_chunk_iter_init(&it, buf, tsdb_chunk_len(&c), NULL), TS_OK);
	assert_int_equal(tsdb_chunk_iter_seek(&it, 801, NULL), 1);
	assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, 4, NULL), 2);
	assert_int_equal(ts[0], 900);
	assert_int_equal(ts[1], 1000);
	assert_true(vs[1] == 10.0);
	assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, 4, NULL), 0);
	assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, 0, NULL), 0);
}

static void test_tsdb_chunk_iter_seek_empty_chunk(void **state)
{
	(void)state;
	uint8_t buf[64];
	tsdb_chunk c;
	assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 1000, NULL), TS_OK);
	tsdb_chunk_iter it;
	int64_t t;
	double v;
	assert_int_equal(tsdb_chunk_iter_init(&it, buf, tsdb_chunk_len(&c), NULL), TS_OK);
	assert_int_equal(tsdb_chunk_iter_seek(&it, 0, NULL), 0);
	assert_int_equal(tsdb_chunk_iter_next(&it, &t, &v, NULL), 0);
	/* An empty chunk with trailing bytes is corrupt. */
	assert_int_equal(tsdb_chunk_iter_init(&it, buf, tsdb_chunk_len(&c) + 1, NULL), TS_ECORRUPT);
}

static void test_tsdb_chunk_iter_seek_random(void **state)
{
	(void)state;
	rng_state = 11;
	enum { N = TSDB_CHUNK_MAX_SAMPLES };
	int64_t t[N];
	uint64_t vb[N];
	uint8_t buf[TSDB_CHUNK_MAX_BYTES];
	for (unsigned s = 0; s < 200; s++) {
		size_t n = 1 + rnd() % N;
		gen_series(t, vb, n, (unsigned)(rnd() % 20));
		tsdb_chunk c;
		assert_int_equal(
		    tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
		fill(&c, t, vb, n);
		for (int q = 0; q < 20; q++) {
			int64_t target =
			    t[0] - 5 + (int64_t)(rnd() % (uint64_t)(t[n - 1] - t[0] + 10));
			size_t want = 0;
			while (want < n && t[want] < target)
				want++;
			tsdb_chunk_iter it;
			assert_int_equal(tsdb_chunk_iter_init(&it, buf, tsdb_chunk_len(&c), NULL),
					 TS_OK);
			int rc = tsdb_chunk_iter_seek(&it, target, NULL);
			if (want == n) {
				assert_int_equal(rc, 0);
				continue;
			}
			assert_int_equal(rc, 1);
			int64_t tt;
			double vv;
			assert_int_equal(tsdb_chunk_iter_next(&it, &tt, &vv, NULL), 1);
			assert_int_equal(tt, t[want]);
			assert_int_equal(bits_of(vv), vb[want]);
		}
	}
}

/* -------------------------------------------------------------------------------------
 * Resume
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_chunk_resume_continues_identically(void **state)
{
	(void)state;
	rng_state = 12;
	enum { N = TSDB_CHUNK_MAX_SAMPLES };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 20; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t a[TSDB_CHUNK_MAX_BYTES], b[TSDB_CHUNK_MAX_BYTES];
		tsdb_chunk ca, cb;
		assert_int_equal(
		    tsdb_chunk_init(&ca, a, sizeof(a), TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
		fill(&ca, t, vb, N);
		size_t split = rnd() % N;
		assert_int_equal(
		    tsdb_chunk_init(&cb, b, sizeof(b), TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
		fill(&cb, t, vb, split);
		tsdb_chunk cr;
		ts_err err = {0};
		if (tsdb_chunk_resume(&cr, b, tsdb_chunk_len(&cb), sizeof(b),
				      TSDB_CHUNK_SPAN_UNLIMITED, &err) != TS_OK)
			fail_msg("resume: %s", err.msg);
		assert_int_equal(tsdb_chunk_n_samples(&cr), split);
		assert_int_equal(tsdb_chunk_len(&cr), tsdb_chunk_len(&cb));
		if (split)
			assert_int_equal(tsdb_chunk_first_t(&cr), t[0]);
		fill(&cr, t + split, vb + split, N - split);
		assert_int_equal(tsdb_chunk_len(&cr), tsdb_chunk_len(&ca));
		assert_memory_equal(a, b, tsdb_chunk_len(&ca));
	}
}

static void test_tsdb_chunk_resume_invalid(void **state)
{
	(void)state;
	uint8_t buf[256];
	tsdb_chunk c;
	build_seek_chunk(&c, buf, sizeof(buf));
	size_t len = tsdb_chunk_len(&c);
	tsdb_chunk r;
	assert_int_equal(tsdb_chunk_resume(&r, buf, len, len - 1, 1000, NULL), TS_EINVAL);
	assert_int_equal(tsdb_chunk_resume(&r, buf, len, sizeof(buf), 0, NULL), TS_EINVAL);
	assert_int_equal(tsdb_chunk_resume(&r, buf, len - 1, sizeof(buf), 1000, NULL), TS_ECORRUPT);
	/* Span already exceeded: resume works, the next append is TS_EFULL. */
	assert_int_equal(tsdb_chunk_resume(&r, buf, len, sizeof(buf), 10, NULL), TS_OK);
	assert_int_equal(tsdb_chunk_append(&r, 2000, 1.0, NULL), TS_EFULL);
	assert_int_equal(tsdb_chunk_append(&r, 1000, 1.0, NULL), TS_EINVAL);
	buf[10] ^= 1; /* header last_t no longer matches the stream */
	assert_int_equal(tsdb_chunk_resume(&r, buf, len, sizeof(buf), 1000, NULL), TS_ECORRUPT);
}

/* -------------------------------------------------------------------------------------
 * Property test: a head cutting chunks
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_chunk_iter_next_roundtrip_random(void **state)
{
	(void)state;
	rng_state = 20240602;
	enum { MAX_N = 1000 };
	int64_t *t = malloc(MAX_N * sizeof(*t));
	uint64_t *vb = malloc(MAX_N * sizeof(*vb));
	assert_non_null(t);
	assert_non_null(vb);
	uint8_t buf[TSDB_CHUNK_MAX_BYTES];
	for (unsigned s = 0; s < 1500; s++) {
		size_t n = rnd() % MAX_N;
		gen_series(t, vb, n, (unsigned)(rnd() % 20));
		/* Random limits: span from 1 ms to unlimited, capacity from tiny to max. */
		int64_t span =
		    (rnd() & 3) ? (int64_t)(1 + rnd() % 3000000) : TSDB_CHUNK_SPAN_UNLIMITED;
		size_t cap = (rnd() & 1) ? sizeof(buf) : 26 + rnd() % 600;
		size_t start = 0, n_chunks = 0;
		while (start < n) {
			tsdb_chunk c;
			assert_int_equal(tsdb_chunk_init(&c, buf, cap, span, NULL), TS_OK);
			size_t i = start;
			int rc;
			while (i < n &&
			       (rc = tsdb_chunk_append(&c, t[i], dbl_of(vb[i]), NULL)) == TS_OK)
				i++;
			if (i < n)
				assert_int_equal(rc, TS_EFULL);
			assert_true(i > start); /* an empty chunk always takes one sample */
			assert_true(i - start <= TSDB_CHUNK_MAX_SAMPLES);
			assert_true(span == TSDB_CHUNK_SPAN_UNLIMITED ||
				    (uint64_t)t[i - 1] - (uint64_t)t[start] < (uint64_t)span);
			check_chunk(buf, tsdb_chunk_len(&c), t + start, vb + start, i - start);
			start = i;
			n_chunks++;
		}
		if (span == TSDB_CHUNK_SPAN_UNLIMITED && cap == sizeof(buf))
			assert_int_equal(n_chunks,
					 (n + TSDB_CHUNK_MAX_SAMPLES - 1) / TSDB_CHUNK_MAX_SAMPLES);
	}
	free(t);
	free(vb);
}

/* -------------------------------------------------------------------------------------
 * Snapshot readers
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_chunk_iter_init_snapshot_prefixes(void **state)
{
	(void)state;
	rng_state = 13;
	enum { N = TSDB_CHUNK_MAX_SAMPLES };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 20; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t buf[TSDB_CHUNK_MAX_BYTES];
		memset(buf, 0, sizeof(buf));
		tsdb_chunk c;
		assert_int_equal(
		    tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
		uint64_t pub[N + 1];
		pub[0] = tsdb_chunk_published(&c);
		assert_int_equal(pub[0], 0);
		for (size_t i = 0; i < N; i++) {
			assert_int_equal(tsdb_chunk_append(&c, t[i], dbl_of(vb[i]), NULL), TS_OK);
			pub[i + 1] = tsdb_chunk_published(&c);
			assert_int_equal(tsdb_chunk_published_n(pub[i + 1]), i + 1);
		}
		/* A reader holding the word of sample k decodes k samples from the final
		 * bytes (whose later bits it must ignore). */
		for (uint32_t k = 0; k <= N; k++) {
			tsdb_chunk_iter it;
			assert_int_equal(tsdb_chunk_iter_init_snapshot(&it, buf, pub[k], NULL),
					 TS_OK);
			int64_t ts[N];
			double vs[N];
			assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, N, NULL), (int)k);
			for (uint32_t i = 0; i < k; i++) {
				assert_int_equal(ts[i], t[i]);
				assert_int_equal(bits_of(vs[i]), vb[i]);
			}
			int64_t tt;
			double vv;
			assert_int_equal(tsdb_chunk_iter_next(&it, &tt, &vv, NULL), 0);
			/* A word whose bit length disagrees with the samples is caught (by init
			 * when it exceeds the worst case, e.g. escapes plus 64-bit windows). */
			if (k > 1 &&
			    tsdb_chunk_iter_init_snapshot(&it, buf, pub[k] + 1, NULL) == TS_OK)
				assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, N, NULL),
						 TS_ECORRUPT);
		}
	}
	tsdb_chunk_iter it;
	uint8_t buf[32] = {0};
	ts_err err = {0};
	assert_int_equal(tsdb_chunk_iter_init_snapshot(&it, buf, (uint64_t)121 << 32 | 20000, &err),
			 TS_EINVAL);
	assert_non_null(strstr(err.msg, "121"));
	assert_int_equal(tsdb_chunk_iter_init_snapshot(&it, buf, 1, NULL), TS_EINVAL);
	assert_int_equal(tsdb_chunk_iter_init_snapshot(&it, buf, (uint64_t)1 << 32 | 63, NULL),
			 TS_EINVAL);
	assert_int_equal(tsdb_chunk_iter_init_snapshot(&it, buf, (uint64_t)1 << 32 | 65, NULL),
			 TS_EINVAL);
	assert_int_equal(tsdb_chunk_iter_init_snapshot(&it, buf, (uint64_t)2 << 32 | 66, NULL),
			 TS_OK);
}

/* A writer appends and publishes (chunk number, tsdb_chunk_published()) with release
 * stores after each append; a reader acquires them and decodes that many samples from
 * the live buffer. Each chunk has its own buffer (a head never reuses a buffer a reader
 * may hold), so the only shared bytes are the ones the snapshot design covers. Also
 * run under TSan: no report. */
enum { SNAP_CHUNKS = 2000 };

typedef struct snap_shared {
	uint8_t (*bufs)[TSDB_CHUNK_MAX_BYTES]; /* one buffer per chunk */
	int64_t t[TSDB_CHUNK_MAX_SAMPLES];
	uint64_t vb[TSDB_CHUNK_MAX_SAMPLES];
	_Atomic uint32_t chunk;     /* chunk being written */
	_Atomic uint64_t published; /* its tsdb_chunk_published() word */
	_Atomic int failures;
	uint64_t n_partial; /* reader: snapshots taken of partly written chunks */
} snap_shared;

static void *snap_reader(void *arg)
{
	snap_shared *s = arg;
	for (;;) {
		uint32_t g = atomic_load_explicit(&s->chunk, memory_order_acquire);
		uint64_t p = atomic_load_explicit(&s->published, memory_order_acquire);
		if (atomic_load_explicit(&s->chunk, memory_order_acquire) != g)
			continue; /* the writer moved on between the two loads */
		uint32_t n = tsdb_chunk_published_n(p);
		tsdb_chunk_iter it;
		if (tsdb_chunk_iter_init_snapshot(&it, s->bufs[g], p, NULL) != TS_OK) {
			atomic_fetch_add(&s->failures, 1);
			break;
		}
		int64_t ts[TSDB_CHUNK_MAX_SAMPLES];
		double vs[TSDB_CHUNK_MAX_SAMPLES];
		int got = tsdb_chunk_iter_read(&it, ts, vs, TSDB_CHUNK_MAX_SAMPLES, NULL);
		if (got != (int)n)
			atomic_fetch_add(&s->failures, 1);
		for (uint32_t i = 0; got == (int)n && i < n; i++)
			if (ts[i] != s->t[i] || bits_of(vs[i]) != s->vb[i])
				atomic_fetch_add(&s->failures, 1);
		if (n > 0 && n < TSDB_CHUNK_MAX_SAMPLES)
			s->n_partial++;
		if (g == SNAP_CHUNKS - 1 && n == TSDB_CHUNK_MAX_SAMPLES)
			break;
	}
	return NULL;
}

static void test_tsdb_chunk_iter_init_snapshot_concurrent(void **state)
{
	(void)state;
	snap_shared *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->bufs = calloc(SNAP_CHUNKS, TSDB_CHUNK_MAX_BYTES);
	assert_non_null(s->bufs);
	rng_state = 14;
	gen_series(s->t, s->vb, TSDB_CHUNK_MAX_SAMPLES, 18); /* every chunk holds these */
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, snap_reader, s), 0);
	int failures = 0;
	for (uint32_t g = 0; g < SNAP_CHUNKS; g++) {
		tsdb_chunk c;
		failures += tsdb_chunk_init(&c, s->bufs[g], TSDB_CHUNK_MAX_BYTES,
					    TSDB_CHUNK_SPAN_UNLIMITED, NULL) != TS_OK;
		/* Switch chunks: hide the count first, so a reader never pairs the new
		 * chunk number with the old chunk's word. */
		atomic_store_explicit(&s->published, 0, memory_order_release);
		atomic_store_explicit(&s->chunk, g, memory_order_release);
		for (uint32_t i = 0; i < TSDB_CHUNK_MAX_SAMPLES; i++) {
			failures += tsdb_chunk_append(&c, s->t[i], dbl_of(s->vb[i]), NULL) != TS_OK;
			atomic_store_explicit(&s->published, tsdb_chunk_published(&c),
					      memory_order_release);
		}
	}
	pthread_join(th, NULL);
	print_message("snapshot reader decoded %llu partly written chunks\n",
		      (unsigned long long)s->n_partial);
	failures += atomic_load(&s->failures);
	free(s->bufs);
	free(s);
	assert_int_equal(failures, 0);
}

/* -------------------------------------------------------------------------------------
 * Corrupt input
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_chunk_iter_init_corrupt_header(void **state)
{
	(void)state;
	uint8_t buf[256];
	tsdb_chunk c;
	build_seek_chunk(&c, buf, sizeof(buf));
	size_t len = tsdb_chunk_len(&c);
	tsdb_chunk_iter it;
	ts_err err = {0};
	assert_int_equal(tsdb_chunk_iter_init(&it, buf, 17, &err), TS_ECORRUPT);
	assert_non_null(strstr(err.msg, "header"));
	uint8_t bad[256];

	memcpy(bad, buf, len); /* 121 samples */
	bad[0] = 121;
	assert_int_equal(tsdb_chunk_iter_init(&it, bad, len, NULL), TS_ECORRUPT);
	memcpy(bad, buf, len); /* more samples than bits for them */
	bad[0] = 100;
	assert_int_equal(tsdb_chunk_iter_init(&it, bad, len, NULL), TS_ECORRUPT);
	memcpy(bad, buf, len); /* first after last */
	ts_put_u64le(bad + 2, 5000);
	assert_int_equal(tsdb_chunk_iter_init(&it, bad, len, NULL), TS_ECORRUPT);
	memcpy(bad, buf, len); /* one sample, first != last */
	bad[0] = 1;
	assert_int_equal(tsdb_chunk_iter_init(&it, bad, 26, NULL), TS_ECORRUPT);
	memcpy(bad, buf, len); /* too many stream bytes for 1 sample */
	bad[0] = 1;
	ts_put_u64le(bad + 10, 100);
	assert_int_equal(tsdb_chunk_iter_init(&it, bad, 27, NULL), TS_ECORRUPT);
	assert_int_equal(tsdb_chunk_iter_init(&it, bad, 26, NULL), TS_OK);
	memcpy(bad, buf, len); /* header last_t disagrees with the stream */
	ts_put_u64le(bad + 10, 999);
	assert_int_equal(tsdb_chunk_iter_init(&it, bad, len, NULL), TS_OK);
	int64_t ts[16];
	double vs[16];
	assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, 16, &err), TS_ECORRUPT);
	assert_non_null(strstr(err.msg, "header says"));
	assert_int_equal(tsdb_chunk_iter_read(&it, ts, vs, 16, NULL), TS_ECORRUPT); /* sticky */
	memcpy(bad, buf, len); /* an extra zero byte after the stream */
	bad[len] = 0;
	assert_int_equal(decode_garbage(bad, len + 1), TS_ECORRUPT);
}

static void test_tsdb_chunk_iter_next_truncated(void **state)
{
	(void)state;
	rng_state = 15;
	enum { N = TSDB_CHUNK_MAX_SAMPLES };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 20; kind++) {
		size_t n = 1 + rnd() % N;
		gen_series(t, vb, n, kind);
		uint8_t buf[TSDB_CHUNK_MAX_BYTES];
		tsdb_chunk c;
		assert_int_equal(
		    tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
		fill(&c, t, vb, n);
		size_t len = tsdb_chunk_len(&c);
		for (size_t l = 0; l < len; l++)
			assert_int_equal(decode_garbage(buf, l), TS_ECORRUPT);
		assert_int_equal(decode_garbage(buf, len), 0);
	}
}

static void test_tsdb_chunk_iter_next_bit_flips(void **state)
{
	(void)state;
	rng_state = 16;
	enum { N = 40 };
	int64_t t[N];
	uint64_t vb[N];
	for (unsigned kind = 0; kind < 20; kind++) {
		gen_series(t, vb, N, kind);
		uint8_t buf[TSDB_CHUNK_MAX_BYTES];
		tsdb_chunk c;
		assert_int_equal(
		    tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL), TS_OK);
		fill(&c, t, vb, N);
		size_t len = tsdb_chunk_len(&c);
		for (size_t bit = 0; bit < len * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			(void)decode_garbage(buf, len);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
}

static void test_tsdb_chunk_iter_next_random_bytes(void **state)
{
	(void)state;
	rng_state = 17;
	uint8_t buf[600];
	for (unsigned i = 0; i < 30000; i++) {
		size_t len = rnd() % sizeof(buf);
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rnd();
		if (len >= 18) { /* make the header plausible so the stream gets decoded */
			uint16_t n = (uint16_t)(rnd() % 121);
			buf[0] = (uint8_t)n;
			buf[1] = 0;
			if (i & 1) {
				ts_put_u64le(buf + 2, rnd() >> 20);
				ts_put_u64le(buf + 10, (rnd() >> 20) + (1ull << 44));
			}
		}
		(void)decode_garbage(buf, len);
	}
}

/* -------------------------------------------------------------------------------------
 * Real data: node_exporter scrape timestamps
 * ---------------------------------------------------------------------------------- */

static void test_tsdb_chunk_append_node_exporter_timestamps(void **state)
{
	(void)state;
	/* Every series of the capture shares these 600 scrape times (index.tsv). The bucket
	 * widths were chosen on them: pin the timestamp cost so a change is noticed. */
	FILE *f = fopen(STRATA_SHARED_DATA "/node_exporter/node_exporter_10m.index.tsv", "r");
	if (!f) {
		skip();
		return;
	}
	int64_t t[600];
	size_t n = 0;
	char line[256];
	assert_non_null(fgets(line, sizeof(line), f)); /* header */
	while (n < 600 && fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		assert_non_null(tab);
		t[n++] = strtoll(tab + 1, NULL, 10);
	}
	fclose(f);
	assert_int_equal(n, 600);
	uint64_t vb[600] = {0};
	size_t stream_bits = 0;
	uint8_t buf[TSDB_CHUNK_MAX_BYTES];
	for (size_t start = 0; start < n; start += TSDB_CHUNK_MAX_SAMPLES) {
		tsdb_chunk c;
		assert_int_equal(tsdb_chunk_init(&c, buf, sizeof(buf), 7200000, NULL), TS_OK);
		fill(&c, t + start, vb + start, TSDB_CHUNK_MAX_SAMPLES);
		/* constant value: 64 bits + 1 bit per later sample */
		stream_bits += c.enc.n_bits - 64 - (TSDB_CHUNK_MAX_SAMPLES - 1);
		check_chunk(buf, tsdb_chunk_len(&c), t + start, vb + start, TSDB_CHUNK_MAX_SAMPLES);
	}
	double bits_per_sample = (double)stream_bits / (double)n;
	print_message("node_exporter timestamps: %.3f bits/sample\n", bits_per_sample);
	assert_true(bits_per_sample < 6.9); /* Prometheus' buckets: 14.6 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_chunk_init_invalid),
	    cmocka_unit_test(test_tsdb_chunk_append_first_sample),
	    cmocka_unit_test(test_tsdb_chunk_append_second_sample),
	    cmocka_unit_test(test_tsdb_chunk_append_full_by_count),
	    cmocka_unit_test(test_tsdb_chunk_append_full_by_span),
	    cmocka_unit_test(test_tsdb_chunk_append_full_by_bytes),
	    cmocka_unit_test(test_tsdb_chunk_append_efull_every_sample),
	    cmocka_unit_test(test_tsdb_chunk_append_worst_case_fits),
	    cmocka_unit_test(test_tsdb_chunk_append_duplicate_and_out_of_order),
	    cmocka_unit_test(test_tsdb_chunk_append_int64_edges),
	    cmocka_unit_test(test_tsdb_chunk_iter_seek_positions),
	    cmocka_unit_test(test_tsdb_chunk_iter_seek_empty_chunk),
	    cmocka_unit_test(test_tsdb_chunk_iter_seek_random),
	    cmocka_unit_test(test_tsdb_chunk_resume_continues_identically),
	    cmocka_unit_test(test_tsdb_chunk_resume_invalid),
	    cmocka_unit_test(test_tsdb_chunk_iter_next_roundtrip_random),
	    cmocka_unit_test(test_tsdb_chunk_iter_init_snapshot_prefixes),
	    cmocka_unit_test(test_tsdb_chunk_iter_init_snapshot_concurrent),
	    cmocka_unit_test(test_tsdb_chunk_iter_init_corrupt_header),
	    cmocka_unit_test(test_tsdb_chunk_iter_next_truncated),
	    cmocka_unit_test(test_tsdb_chunk_iter_next_bit_flips),
	    cmocka_unit_test(test_tsdb_chunk_iter_next_random_bytes),
	    cmocka_unit_test(test_tsdb_chunk_append_node_exporter_timestamps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
