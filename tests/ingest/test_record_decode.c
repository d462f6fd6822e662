/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_record_decode.c: tests of the id decoder (ingest_record_decode_ids in
 * ingest/record_decode.c): round trips through the builder (both compressions, random
 * label sets, NaN payloads, extreme timestamps) give what ingest_record_decode_series
 * gives; forged and randomly damaged records give the same code and the same message from
 * all three decoder entry points; sink errors; allocation failures. The builder and the
 * string entry points are tested by test_record.c.
 */
#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/ingest_support.h" /* after cmocka.h: uses its assertions */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* A decoded record as text: one line per series entry ("labels|t:bits,..."), so the
 * outputs of the entry points compare as strings. */
typedef struct text {
	char *s;
	size_t n, cap;
	size_t n_entries, n_samples;
	/* ids sink state */
	const char *const *syms;
	const uint32_t *lens;
	size_t n_syms;
	int n_sym_calls;
	int fail_sym_rc;   /* returned by the symbols sink when not 0 */
	int fail_entry_at; /* entry index at which the series sinks return fail_rc (-1) */
	int fail_rc;
} text;

static void text_init(text *x)
{
	memset(x, 0, sizeof(*x));
	x->fail_entry_at = -1;
}

static void put(text *x, const char *s, size_t n)
{
	if (x->n + n + 1 > x->cap) {
		while (x->n + n + 1 > x->cap)
			x->cap = x->cap ? x->cap * 2 : 4096;
		x->s = realloc(x->s, x->cap);
		assert_non_null(x->s);
	}
	memcpy(x->s + x->n, s, n);
	x->n += n;
	x->s[x->n] = '\0';
}

static void putf(text *x, const char *fmt, ...)
{
	char b[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	put(x, b, (size_t)n);
}

static void put_samples(text *x, const int64_t *t, const double *v, size_t n)
{
	put(x, "|", 1);
	for (size_t i = 0; i < n; i++) {
		uint64_t bits;
		memcpy(&bits, &v[i], 8);
		putf(x, "%lld:%016llx,", (long long)t[i], (unsigned long long)bits);
	}
	put(x, "\n", 1);
	x->n_entries++;
	x->n_samples += n;
}

static int series_sink(void *ctx, const ts_label *labels, size_t n_labels, const int64_t *t,
		       const double *v, size_t n)
{
	text *x = ctx;
	if (x->fail_entry_at >= 0 && (size_t)x->fail_entry_at == x->n_entries)
		return x->fail_rc;
	for (size_t i = 0; i < n_labels; i++) {
		put(x, labels[i].name, strlen(labels[i].name));
		put(x, "=", 1);
		put(x, labels[i].value, strlen(labels[i].value));
		put(x, ";", 1);
	}
	put_samples(x, t, v, n);
	return TS_OK;
}

static int sym_sink(void *ctx, const char *const *syms, const uint32_t *lens, size_t n_syms)
{
	text *x = ctx;
	x->n_sym_calls++;
	assert_int_equal(x->n_entries, 0); /* before the first entry */
	for (size_t i = 0; i < n_syms; i++) {
		assert_true(lens[i] >= 1);
		assert_null(memchr(syms[i], 0, lens[i]));
	}
	x->syms = syms;
	x->lens = lens;
	x->n_syms = n_syms;
	return x->fail_sym_rc;
}

static int ids_sink(void *ctx, const uint32_t *ids, size_t n_labels, const int64_t *t,
		    const double *v, size_t n)
{
	text *x = ctx;
	if (x->fail_entry_at >= 0 && (size_t)x->fail_entry_at == x->n_entries)
		return x->fail_rc;
	assert_int_equal(x->n_sym_calls, 1);
	for (size_t i = 0; i < n_labels; i++) {
		uint32_t a = ids[2 * i], b = ids[2 * i + 1];
		assert_true(a < x->n_syms && b < x->n_syms);
		if (i > 0) { /* sorted by name bytes, unique */
			uint32_t p = ids[2 * i - 2];
			size_t m = x->lens[p] < x->lens[a] ? x->lens[p] : x->lens[a];
			int c = memcmp(x->syms[p], x->syms[a], m);
			assert_true(c < 0 || (c == 0 && x->lens[p] < x->lens[a]));
		}
		put(x, x->syms[a], x->lens[a]);
		put(x, "=", 1);
		put(x, x->syms[b], x->lens[b]);
		put(x, ";", 1);
	}
	put_samples(x, t, v, n);
	return TS_OK;
}

/* Per-sample sink: consecutive samples of one entry cannot be told from two entries of
 * the same series, so this text is compared only for errors. */
static int sample_sink(void *ctx, const ts_label *labels, size_t n_labels, int64_t t, double v)
{
	(void)labels, (void)n_labels, (void)v;
	text *x = ctx;
	x->n_samples++;
	putf(x, "%lld,", (long long)t);
	return TS_OK;
}

/* Decode rec with _decode_series and _decode_ids: both must agree (code, message,
 * output). Returns the code; *out gets the series text. */
static int decode_both(ingest_record_decoder *d, const void *rec, size_t len, text *out,
		       ts_err *err)
{
	text a, b;
	text_init(&a);
	text_init(&b);
	ts_err ea = {0}, eb = {0};
	int ra = ingest_record_decode_series(d, rec, len, series_sink, &a, &ea);
	int rb = ingest_record_decode_ids(d, rec, len, sym_sink, ids_sink, &b, &eb);
	assert_int_equal(ra, rb);
	assert_string_equal(ea.msg, eb.msg);
	assert_int_equal(a.n, b.n);
	if (a.n)
		assert_memory_equal(a.s, b.s, a.n);
	assert_true(b.n_sym_calls <= 1);
	if (err)
		*err = ea;
	free(b.s);
	*out = a;
	return ra;
}

static void build(ts_buf *out, int compression, int seed, size_t *n_samples)
{
	ingest_record_builder *b;
	assert_int_equal(ingest_record_builder_new(compression, 0, &b, NULL), TS_OK);
	uint64_t r = 0x9E3779B97F4A7C15ULL * (uint64_t)(seed + 1);
	size_t added = 0;
	for (int i = 0; i < 400; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		char host[16], dc[16], name[16];
		snprintf(host, sizeof(host), "h%d", (int)(r % 23));
		snprintf(dc, sizeof(dc), "dc%d", (int)(r >> 8) % 3);
		snprintf(name, sizeof(name), "m%d", (int)(r >> 16) % 4);
		ts_label all[] = {{"A", "upper"}, {"__name__", name}, {"dc", dc}, {"host", host}};
		size_t skip = (r >> 24) % 2; /* with or without the label sorting before __name__ */
		int64_t t = (int64_t)(r >> 32) % 100000;
		if (i == 7)
			t = INT64_MIN;
		if (i == 8)
			t = INT64_MAX;
		double v = (double)(r % 1000) / 8;
		if (i % 50 == 3) {
			uint64_t nan = 0x7ff0000000000002ULL; /* staleness marker payload */
			memcpy(&v, &nan, 8);
		}
		assert_int_equal(ingest_record_builder_add(b, all + skip, 4 - skip, t, v, NULL),
				 TS_OK);
		added++;
	}
	ts_buf_init(out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(b, out, NULL), TS_OK);
	ingest_record_builder_free(b);
	*n_samples = added;
}

/* All three entry points give rc and the same message; the message contains needle. */
static void expect_same_error(ingest_record_decoder *d, const void *rec, size_t len, int rc,
			      const char *needle)
{
	text a, c;
	text_init(&c);
	ts_err ea = {0}, ec = {0};
	int ra = decode_both(d, rec, len, &a, &ea);
	int rc3 = ingest_record_decode(d, rec, len, sample_sink, &c, &ec);
	if (ra != rc || (needle && !strstr(ea.msg, needle)))
		fail_msg("want %s with '%s', got %s: %s", ts_err_name(rc), needle ? needle : "",
			 ts_err_name(ra), ea.msg);
	assert_int_equal(rc3, ra);
	assert_string_equal(ec.msg, ea.msg);
	free(a.s);
	free(c.s);
}

/* ---------------------------------------------------------------- tests */

static void test_ingest_record_decode_ids_round_trip(void **state)
{
	(void)state;
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	for (int seed = 0; seed < 20; seed++) {
		int comp = seed % 2 ? INGEST_RECORD_COMPRESS_SNAPPY : INGEST_RECORD_COMPRESS_NONE;
		ts_buf r;
		size_t n;
		build(&r, comp, seed, &n);
		text a;
		assert_int_equal(decode_both(d, r.data, r.len, &a, NULL), TS_OK);
		assert_int_equal(a.n_samples, n);
		assert_true(a.n_entries > 1);
		if (seed == 0) {
			assert_non_null(strstr(a.s, "-9223372036854775808:"));
			assert_non_null(strstr(a.s, "9223372036854775807:"));
			assert_non_null(strstr(a.s, ":7ff0000000000002,"));
			assert_non_null(strstr(a.s, "A=upper;__name__=m"));
		}
		/* the per-sample entry point sees the same samples */
		text c;
		text_init(&c);
		assert_int_equal(ingest_record_decode(d, r.data, r.len, sample_sink, &c, NULL),
				 TS_OK);
		assert_int_equal(c.n_samples, n);
		free(c.s);
		free(a.s);
		ts_buf_free(&r);
	}
	ingest_record_decoder_free(d);
}

static void test_ingest_record_decode_ids_corrupt_payload(void **state)
{
	(void)state;
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	uint8_t rec[256];
	// clang-format off
#define SYMS 2, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 1, 'm'
#define VAL 0, 0, 0, 0, 0, 0, 0xf0, 0x3f
	const uint8_t good[] = {SYMS, 1, 1, 0, 0, 1, 1, 2, VAL};
	const uint8_t bad_ref[] = {SYMS, 1, 1, 0, 0, 5, 1, 2, VAL};
	const uint8_t trailing[] = {SYMS, 1, 1, 0, 0, 1, 1, 2, VAL, 0};
	const uint8_t no_name[] = {SYMS, 1, 1, 0, 1, 1, 1, 2, VAL};
	const uint8_t unsorted[] = {3, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 1, 'm', 1, 'A',
				    1, 2, 0, 0, 1, 2, 2, 1, 2, VAL};
	/* "__name__" twice: not unique */
	const uint8_t dup[] = {SYMS, 1, 2, 0, 0, 1, 0, 1, 1, 2, VAL};
	/* a name that is a prefix of the next: "ab" after "abc" is out of order */
	const uint8_t prefix[] = {4, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 1, 'm', 3, 'a', 'b',
				  'c', 2, 'a', 'b', 1, 3, 0, 0, 1, 2, 1, 3, 1, 1, 2, VAL};
	const uint8_t nul_sym[] = {2, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 1, 0,
				   1, 1, 0, 0, 1, 1, 2, VAL};
	const uint8_t huge_syms[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	const uint8_t sym_overrun[] = {1, 100, 'a'};
	const uint8_t short_series[] = {SYMS, 1, 1, 0, 0, 1, 1, 2, 0, 0};
	const uint8_t trunc_vals[] = {SYMS, 1, 1, 0, 0, 1, 1, 0x82, 0x82, 0x82, 0x82, 0x82, 2,
				      0, 0, 0};
	const uint8_t trunc_ts[] = {SYMS, 1, 1, 0, 0, 1, 1, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,
				    0x82, 0x82, 0x82};
	/* an 11-byte timestamp varint (terminated, values fit): a bad varint */
	const uint8_t long_ts[] = {SYMS, 1, 1, 0, 0, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
				   0x80, 0x80, 0x80, 0x80, 0x01, VAL};
	const uint8_t empty_series[] = {SYMS, 1, 1, 0, 0, 1, 0, 2, VAL};
	const uint8_t trunc_count[] = {SYMS};
	const uint8_t reuse_first[] = {SYMS, 1, 1, 1, 1, 2, VAL};
	const uint8_t reuse_past[] = {SYMS, 1, 1, 2, 0, 1, 1, 2, VAL};
	const uint8_t reuse_more[] = {SYMS, 2, 1, 0, 0, 1, 1, 2, VAL, 2, 3, 1, 4, VAL};
	const uint8_t garbage_snappy[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
	const uint8_t bad_snappy[] = {10, 0x00, 1, 2};
#undef SYMS
#undef VAL
	// clang-format on
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, good, sizeof(good)), TS_OK, NULL);
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, bad_ref, sizeof(bad_ref)),
			  TS_ECORRUPT, "bad symbol reference");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, trailing, sizeof(trailing)),
			  TS_ECORRUPT, "trailing");
	expect_same_error(d, rec, test_forge_record(rec, 0, 2, good, sizeof(good)), TS_ECORRUPT,
			  "header says 2 samples");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, no_name, sizeof(no_name)),
			  TS_ECORRUPT, "no __name__");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, unsorted, sizeof(unsorted)),
			  TS_ECORRUPT, "not sorted or not unique at 'A'");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, dup, sizeof(dup)), TS_ECORRUPT,
			  "not sorted or not unique at '__name__'");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, prefix, sizeof(prefix)), TS_ECORRUPT,
			  "not sorted or not unique at 'ab'");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, nul_sym, sizeof(nul_sym)),
			  TS_ECORRUPT, "NUL");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, huge_syms, sizeof(huge_syms)),
			  TS_ECORRUPT, "symbol count");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, sym_overrun, sizeof(sym_overrun)),
			  TS_ECORRUPT, "runs past");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, short_series, sizeof(short_series)),
			  TS_ECORRUPT, "series count");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, trunc_vals, sizeof(trunc_vals)),
			  TS_ECORRUPT, "truncated values");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, trunc_ts, sizeof(trunc_ts)),
			  TS_ECORRUPT, "truncated timestamps");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, long_ts, sizeof(long_ts)),
			  TS_ECORRUPT, "bad timestamp varint");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, empty_series, sizeof(empty_series)),
			  TS_ECORRUPT, "bad sample count");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, trunc_count, sizeof(trunc_count)),
			  TS_ECORRUPT, "series count");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, reuse_first, sizeof(reuse_first)),
			  TS_ECORRUPT, "previous series does not have");
	expect_same_error(d, rec, test_forge_record(rec, 0, 1, reuse_past, sizeof(reuse_past)),
			  TS_ECORRUPT, "past the last label");
	expect_same_error(d, rec, test_forge_record(rec, 0, 2, reuse_more, sizeof(reuse_more)),
			  TS_ECORRUPT, "previous series does not have");
	expect_same_error(d, rec,
			  test_forge_record(rec, 1, 1, garbage_snappy, sizeof(garbage_snappy)),
			  TS_ECORRUPT, "snappy");
	expect_same_error(d, rec, test_forge_record(rec, 1, 1, bad_snappy, sizeof(bad_snappy)),
			  TS_ECORRUPT, "snappy");
	ts_buf r;
	size_t n;
	build(&r, INGEST_RECORD_COMPRESS_NONE, 3, &n);
	r.data[r.len / 2] ^= 0x10; /* CRC */
	expect_same_error(d, r.data, r.len, TS_ECORRUPT, "CRC32C mismatch");
	expect_same_error(d, r.data, 10, TS_ECORRUPT, "shorter than");
	ts_buf_free(&r);
	ingest_record_decoder_free(d);
}

/* Random damage under a fixed CRC: every entry point reports the same code and message
 * (and the two series entry points deliver the same entries before it). */
static void test_ingest_record_decode_ids_damaged_same_errors(void **state)
{
	(void)state;
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	ts_buf r;
	size_t n;
	build(&r, INGEST_RECORD_COMPRESS_NONE, 5, &n);
	uint8_t *p = malloc(r.len);
	assert_non_null(p);
	uint64_t x = 88172645463325252ULL;
	size_t n_corrupt = 0;
	for (int i = 0; i < 3000; i++) {
		memcpy(p, r.data, r.len);
		int flips = 1 + i % 3;
		for (int f = 0; f < flips; f++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = 20 + (size_t)(x % (r.len - 20));
			p[at] ^= (uint8_t)(1u << ((x >> 32) % 8));
		}
		uint32_t crc = ts_crc32c(ts_crc32c(0, p, 16), p + 20, r.len - 20);
		ts_put_u32le(p + 16, crc);
		text a, c;
		text_init(&c);
		ts_err ea = {0}, ec = {0};
		int ra = decode_both(d, p, r.len, &a, &ea);
		int rc3 = ingest_record_decode(d, p, r.len, sample_sink, &c, &ec);
		assert_int_equal(rc3, ra);
		assert_string_equal(ec.msg, ea.msg);
		n_corrupt += ra == TS_ECORRUPT;
		free(a.s);
		free(c.s);
	}
	assert_true(n_corrupt > 1000); /* the damage is mostly found */
	free(p);
	ts_buf_free(&r);
	ingest_record_decoder_free(d);
}

static void test_ingest_record_decode_ids_sink_errors(void **state)
{
	(void)state;
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	ts_buf r;
	size_t n;
	build(&r, INGEST_RECORD_COMPRESS_SNAPPY, 1, &n);
	text x;
	text_init(&x);
	x.fail_sym_rc = TS_ENOMEM;
	ts_err err = {0};
	assert_int_equal(ingest_record_decode_ids(d, r.data, r.len, sym_sink, ids_sink, &x, &err),
			 TS_ENOMEM);
	assert_int_equal(x.n_entries, 0);
	assert_non_null(strstr(err.msg, "symbol sink stopped"));
	free(x.s);
	text_init(&x);
	x.fail_entry_at = 2;
	x.fail_rc = TS_EBUSY;
	assert_int_equal(ingest_record_decode_ids(d, r.data, r.len, sym_sink, ids_sink, &x, &err),
			 TS_EBUSY);
	assert_int_equal(x.n_entries, 2);
	assert_non_null(strstr(err.msg, "series sink stopped at series 2"));
	free(x.s);
	/* the decoder is still usable */
	text a;
	assert_int_equal(decode_both(d, r.data, r.len, &a, NULL), TS_OK);
	assert_int_equal(a.n_samples, n);
	free(a.s);
	ts_buf_free(&r);
	ingest_record_decoder_free(d);
}

static void test_ingest_record_decode_ids_alloc_failures(void **state)
{
	(void)state;
	ts_buf r;
	size_t n;
	build(&r, INGEST_RECORD_COMPRESS_SNAPPY, 2, &n);
	for (int64_t k = 0;; k++) {
		ingest_record_decoder *d = NULL;
		text x;
		text_init(&x);
		ts_alloc_fail_after(k);
		int rc = ingest_record_decoder_new(&d, NULL);
		if (rc == TS_OK)
			rc = ingest_record_decode_ids(d, r.data, r.len, sym_sink, ids_sink, &x,
						      NULL);
		ts_alloc_fail_after(-1);
		free(x.s);
		ingest_record_decoder_free(d);
		if (rc == TS_OK) {
			assert_int_equal(x.n_samples, n);
			break;
		}
		assert_int_equal(rc, TS_ENOMEM);
		assert_true(k < 1000);
	}
	ts_buf_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_record_decode_ids_round_trip),
	    cmocka_unit_test(test_ingest_record_decode_ids_corrupt_payload),
	    cmocka_unit_test(test_ingest_record_decode_ids_damaged_same_errors),
	    cmocka_unit_test(test_ingest_record_decode_ids_sink_errors),
	    cmocka_unit_test(test_ingest_record_decode_ids_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
