/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_record.c: tests of the log record codec (ingest/record.c): round trips (both
 * compressions, NaN payloads, extreme timestamps, many series), grouping, limits,
 * label validation, every corruption class, sink errors, allocation failures, and the
 * golden v1 record in tests/data/ingest/ (set STRATA_UPDATE_GOLDEN=1 to rewrite it).
 */
#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* One decoded sample, with its labels flattened into a canonical string. */
typedef struct got_sample {
	char key[512];
	int64_t t;
	uint64_t bits;
} got_sample;

typedef struct collector {
	got_sample *v;
	size_t n, cap;
	int fail_at; /* return fail_rc at this sample index (-1: never) */
	int fail_rc;
} collector;

static void flatten(const ts_label *l, size_t n, char *out, size_t cap)
{
	size_t w = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && w < cap; i++)
		w += (size_t)snprintf(out + w, cap - w, "%s=%s;", l[i].name, l[i].value);
}

static int collect(void *ctx, const ts_label *labels, size_t n, int64_t t, double v)
{
	collector *c = ctx;
	if (c->fail_at >= 0 && (size_t)c->fail_at == c->n)
		return c->fail_rc;
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(labels[i - 1].name, labels[i].name) < 0);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		assert_non_null(c->v);
	}
	got_sample *g = &c->v[c->n++];
	flatten(labels, n, g->key, sizeof(g->key));
	g->t = t;
	memcpy(&g->bits, &v, 8);
	return TS_OK;
}

static void collector_init(collector *c)
{
	memset(c, 0, sizeof(*c));
	c->fail_at = -1;
}

static double from_bits(uint64_t b)
{
	double d;
	memcpy(&d, &b, 8);
	return d;
}

#define L(n, v)                           \
	{                                 \
		.name = (n), .value = (v) \
	}

static int decode_into(const ts_buf *rec, collector *c, ts_err *err)
{
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	int rc = ingest_record_decode(d, rec->data, rec->len, collect, c, err);
	ingest_record_decoder_free(d);
	return rc;
}

/* ---------------------------------------------------------------- round trips */

static void roundtrip(int compression)
{
	ts_label a[] = {L("__name__", "cpu_seconds_total"), L("cpu", "0"), L("mode", "idle")};
	ts_label b[] = {L("__name__", "up"), L("instance", "host:9100"), L("job", "node")};
	uint64_t nan_bits[] = {
	    0x7ff0000000000002ull, /* Prometheus stale marker */
	    0x7ff8000000000001ull, /* quiet NaN with payload */
	    0xfff8000000000000ull, /* negative NaN */
	    0x7ff0000000000001ull, /* signalling NaN */
	    0x7ff0000000000000ull, /* +Inf */
	    0xfff0000000000000ull, /* -Inf */
	    0x8000000000000000ull, /* -0.0 */
	    0x0000000000000001ull, /* smallest denormal */
	};
	int64_t ts[] = {INT64_MIN, -1, 0, 1, INT64_MAX, 1700000000000, 1699999999999, 42};
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(compression, 0, &bld, NULL), TS_OK);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(
		    ingest_record_builder_add(bld, a, 3, ts[i], from_bits(nan_bits[i]), NULL),
		    TS_OK);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(ingest_record_builder_add(bld, b, 3,
							   1700000000000 + 15000 * (int64_t)i,
							   (double)i, NULL),
				 TS_OK);
	assert_int_equal(ingest_record_builder_add(bld, a, 3, 5, 1.5, NULL), TS_OK);
	assert_int_equal(ingest_record_builder_n_samples(bld), 109);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	ts_err err = {0};
	assert_int_equal(ingest_record_builder_finish(bld, &out, &err), TS_OK);
	assert_int_equal(ingest_record_builder_n_samples(bld), 0);
	ingest_record_info info;
	assert_int_equal(ingest_record_header_parse(out.data, out.len, &info, NULL), TS_OK);
	assert_int_equal(info.n_samples, 109);
	assert_int_equal(info.version, 1);
	if (compression == INGEST_RECORD_COMPRESS_SNAPPY)
		assert_int_equal(info.compression, INGEST_RECORD_COMPRESS_SNAPPY);

	collector c;
	collector_init(&c);
	assert_int_equal(decode_into(&out, &c, &err), TS_OK);
	assert_int_equal(c.n, 109);
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(c.v[i].key, "__name__=cpu_seconds_total;cpu=0;mode=idle;");
		assert_true(c.v[i].t == ts[i]);
		assert_true(c.v[i].bits == nan_bits[i]);
	}
	for (size_t i = 0; i < 100; i++) {
		assert_string_equal(c.v[8 + i].key, "__name__=up;instance=host:9100;job=node;");
		assert_true(c.v[8 + i].t == 1700000000000 + 15000 * (int64_t)i);
		assert_true(from_bits(c.v[8 + i].bits) == (double)i);
	}
	assert_true(c.v[108].t == 5);
	free(c.v);
	ts_buf_free(&out);
	ingest_record_builder_free(bld);
}

static void test_ingest_record_roundtrip_plain(void **state)
{
	(void)state;
	roundtrip(INGEST_RECORD_COMPRESS_NONE);
}

static void test_ingest_record_roundtrip_snappy(void **state)
{
	(void)state;
	roundtrip(INGEST_RECORD_COMPRESS_SNAPPY);
}

/* 20000 series x 3 samples; label strings repeat, so the symbol table stays small. */
static void test_ingest_record_roundtrip_many_series(void **state)
{
	(void)state;
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &bld, NULL),
			 TS_OK);
	char host[32], cpu[32];
	for (int s = 0; s < 20000; s++) {
		snprintf(host, sizeof(host), "host-%d", s / 100);
		snprintf(cpu, sizeof(cpu), "%d", s % 100);
		ts_label l[] = {L("__name__", "node_cpu_seconds_total"), L("cpu", cpu),
				L("instance", host), L("mode", "user")};
		int64_t t[3] = {1000, 2000, 3000};
		double v[3] = {s, s + 0.5, -s};
		assert_int_equal(ingest_record_builder_add_series(bld, l, 4, t, v, 3, NULL), TS_OK);
	}
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	/* 60000 samples x 8 value bytes + small per-series overhead */
	assert_true(out.len < 60000 * 8 + 20000 * 16);
	collector c;
	collector_init(&c);
	assert_int_equal(decode_into(&out, &c, NULL), TS_OK);
	assert_int_equal(c.n, 60000);
	assert_string_equal(c.v[3 * 12345].key,
			    "__name__=node_cpu_seconds_total;cpu=45;instance=host-123;mode=user;");
	assert_true(from_bits(c.v[3 * 12345 + 2].bits) == -12345.0);
	assert_true(c.v[3 * 12345 + 1].t == 2000);
	free(c.v);
	ts_buf_free(&out);
	ingest_record_builder_free(bld);
}

/*
 * Random label sets of 1..7 labels (fixed seed): exercises the reuse bits with series of
 * different lengths and changes at any position, and runs of the same series.
 */
static void test_ingest_record_roundtrip_random_label_sets(void **state)
{
	(void)state;
	static const char *names[] = {"__name__", "a", "b", "cpu", "instance", "job", "zone"};
	static const char *values[] = {"x", "y", "node", "a-long-label-value-0123456789", "1"};
	enum { POOL = 60, N = 3000 };
	ts_label pool[POOL][7];
	size_t pool_n[POOL];
	uint64_t x = 12345;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	for (int i = 0; i < POOL; i++) {
		size_t n = 1;
		pool[i][0] = (ts_label){"__name__", values[NEXT() % 5]};
		for (int k = 1; k < 7; k++)
			if (NEXT() % 2)
				pool[i][n++] = (ts_label){names[k], values[NEXT() % 5]};
		pool_n[i] = n;
	}
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 0, &bld, NULL),
			 TS_OK);
	static int pick[N];
	static int64_t ts[N];
	int cur = 0;
	for (int i = 0; i < N; i++) {
		if (NEXT() % 3 == 0)
			cur = (int)(NEXT() % POOL);
		pick[i] = cur;
		ts[i] = (int64_t)NEXT();
		assert_int_equal(
		    ingest_record_builder_add(bld, pool[cur], pool_n[cur], ts[i], (double)i, NULL),
		    TS_OK);
	}
#undef NEXT
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	collector c;
	collector_init(&c);
	assert_int_equal(decode_into(&out, &c, NULL), TS_OK);
	assert_int_equal(c.n, N);
	for (int i = 0; i < N; i++) {
		char want[512];
		flatten(pool[pick[i]], pool_n[pick[i]], want, sizeof(want));
		assert_string_equal(c.v[i].key, want);
		assert_true(c.v[i].t == ts[i]);
		assert_true(from_bits(c.v[i].bits) == (double)i);
	}
	free(c.v);
	ts_buf_free(&out);
	ingest_record_builder_free(bld);
}

/* Consecutive samples of a series share one entry: ~9-10 bytes per extra sample. */
static void test_ingest_record_builder_add_groups_series(void **state)
{
	(void)state;
	ts_label l[] = {L("__name__", "m"), L("a", "b")};
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &bld, NULL),
			 TS_OK);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ingest_record_builder_add(bld, l, 2, 1000 * i, i, NULL), TS_OK);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	assert_true(out.len < 20 + 30 + 1000 * (8 + 2));
	ts_buf_free(&out);
	ingest_record_builder_free(bld);
}

/* decode -> builder sink -> finish gives identical bytes (deterministic encoding). */
static void test_ingest_record_builder_sink_reencodes_identically(void **state)
{
	(void)state;
	ingest_record_builder *a, *b;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 0, &a, NULL),
			 TS_OK);
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 0, &b, NULL),
			 TS_OK);
	char v[16];
	for (int i = 0; i < 500; i++) {
		snprintf(v, sizeof(v), "%d", i % 37);
		ts_label l[] = {L("__name__", i % 2 ? "x" : "y"), L("k", v)};
		assert_int_equal(ingest_record_builder_add(a, l, 2, 77 * i, i * 0.25, NULL), TS_OK);
	}
	ts_buf r1, r2;
	ts_buf_init(&r1, INGEST_RECORD_MAX_BYTES);
	ts_buf_init(&r2, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(a, &r1, NULL), TS_OK);
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	assert_int_equal(
	    ingest_record_decode(d, r1.data, r1.len, ingest_record_builder_sink, b, NULL), TS_OK);
	assert_int_equal(ingest_record_builder_finish(b, &r2, NULL), TS_OK);
	assert_int_equal(r1.len, r2.len);
	assert_memory_equal(r1.data, r2.data, r1.len);
	ingest_record_decoder_free(d);
	ts_buf_free(&r1);
	ts_buf_free(&r2);
	ingest_record_builder_free(a);
	ingest_record_builder_free(b);
}

/* ---------------------------------------------------------------- builder errors */

static void test_ingest_record_builder_add_rejects_bad_labels(void **state)
{
	(void)state;
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &bld, NULL),
			 TS_OK);
	ts_err err = {0};
	ts_label unsorted[] = {L("__name__", "m"), L("z", "1"), L("a", "2")};
	assert_int_equal(ingest_record_builder_add(bld, unsorted, 3, 1, 1, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "sorted"));
	ts_label dup[] = {L("__name__", "m"), L("a", "1"), L("a", "2")};
	assert_int_equal(ingest_record_builder_add(bld, dup, 3, 1, 1, &err), TS_EINVAL);
	ts_label noname[] = {L("a", "1")};
	assert_int_equal(ingest_record_builder_add(bld, noname, 1, 1, 1, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "__name__"));
	ts_label empty[] = {L("__name__", "m"), L("a", "")};
	assert_int_equal(ingest_record_builder_add(bld, empty, 2, 1, 1, &err), TS_EINVAL);
	assert_int_equal(ingest_record_builder_add(bld, NULL, 0, 1, 1, &err), TS_EINVAL);
	assert_int_equal(ingest_record_builder_n_samples(bld), 0);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, &err), TS_EINVAL);
	assert_int_equal(out.len, 0);
	ingest_record_builder_free(bld);
	assert_int_equal(ingest_record_builder_new(7, 0, &bld, &err), TS_EINVAL);
	assert_int_equal(ingest_record_builder_new(0, INGEST_RECORD_MAX_BYTES + 1, &bld, &err),
			 TS_EINVAL);
}

/* Filling a small record: TS_ELIMIT leaves the builder intact; the record decodes. */
static void test_ingest_record_builder_add_limit(void **state)
{
	(void)state;
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 4096, &bld, NULL),
			 TS_OK);
	ts_err err = {0};
	size_t accepted = 0;
	char v[32];
	for (int i = 0;; i++) {
		snprintf(v, sizeof(v), "value-%d", i);
		ts_label l[] = {L("__name__", "m"), L("k", v)};
		size_t before = ingest_record_builder_size_bytes(bld);
		int rc = ingest_record_builder_add(bld, l, 2, i, i, &err);
		if (rc == TS_ELIMIT) {
			assert_int_equal(ingest_record_builder_size_bytes(bld), before);
			break;
		}
		assert_int_equal(rc, TS_OK);
		accepted++;
		assert_true(ingest_record_builder_size_bytes(bld) <= 4096);
	}
	assert_non_null(strstr(err.msg, "exceed"));
	assert_int_equal(ingest_record_builder_n_samples(bld), accepted);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	assert_true(out.len <= 4096);
	collector c;
	collector_init(&c);
	assert_int_equal(decode_into(&out, &c, NULL), TS_OK);
	assert_int_equal(c.n, accepted);
	free(c.v);
	ts_buf_free(&out);
	/* a too-small output buffer is TS_ELIMIT and leaves the builder as it was */
	ts_label l[] = {L("__name__", "m")};
	assert_int_equal(ingest_record_builder_add(bld, l, 1, 1, 1, NULL), TS_OK);
	ts_buf tiny;
	ts_buf_init(&tiny, 8);
	assert_int_equal(ingest_record_builder_finish(bld, &tiny, &err), TS_ELIMIT);
	assert_int_equal(ingest_record_builder_n_samples(bld), 1);
	ts_buf_free(&tiny);
	ingest_record_builder_free(bld);
}

/* Snappy is only used when it helps: random values stay uncompressed. */
static void test_ingest_record_builder_finish_incompressible(void **state)
{
	(void)state;
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 0, &bld, NULL),
			 TS_OK);
	ts_label l[] = {L("__name__", "m")};
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 64; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		assert_int_equal(
		    ingest_record_builder_add(bld, l, 1, (int64_t)x, from_bits(x), NULL), TS_OK);
	}
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	assert_int_equal((uint8_t)out.data[5], INGEST_RECORD_COMPRESS_NONE);
	collector c;
	collector_init(&c);
	assert_int_equal(decode_into(&out, &c, NULL), TS_OK);
	assert_int_equal(c.n, 64);
	free(c.v);
	ts_buf_free(&out);
	ingest_record_builder_free(bld);
}

/* ---------------------------------------------------------------- corruption */

/* A valid small record in out. */
static void small_record(ts_buf *out, int compression)
{
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(compression, 0, &bld, NULL), TS_OK);
	ts_label l[] = {L("__name__", "http_requests_total"), L("code", "200")};
	for (int i = 0; i < 50; i++)
		assert_int_equal(ingest_record_builder_add(bld, l, 2, 1000 * i, 7, NULL), TS_OK);
	ts_buf_init(out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, out, NULL), TS_OK);
	ingest_record_builder_free(bld);
}

static void fix_crc(uint8_t *r, size_t len)
{
	uint32_t crc = ts_crc32c(ts_crc32c(0, r, 16), r + 20, len - 20);
	ts_put_u32le(r + 16, crc);
}

static void expect_corrupt(const void *rec, size_t len, const char *needle)
{
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	collector c;
	collector_init(&c);
	ts_err err = {0};
	int rc = ingest_record_decode(d, rec, len, collect, &c, &err);
	if (rc != TS_ECORRUPT || !strstr(err.msg, needle))
		fail_msg("want ECORRUPT with '%s', got %s: %s", needle, ts_err_name(rc), err.msg);
	free(c.v);
	ingest_record_decoder_free(d);
}

static void test_ingest_record_decode_corrupt_header(void **state)
{
	(void)state;
	ts_buf r;
	small_record(&r, INGEST_RECORD_COMPRESS_NONE);
	uint8_t *p = malloc(r.len);
	assert_non_null(p);

	memcpy(p, r.data, r.len);
	p[0] = 'X';
	expect_corrupt(p, r.len, "bad magic");

	memcpy(p, r.data, r.len);
	p[4] = 2;
	expect_corrupt(p, r.len, "unsupported record version 2");

	memcpy(p, r.data, r.len);
	p[5] = 0x80;
	expect_corrupt(p, r.len, "unknown flags");

	memcpy(p, r.data, r.len);
	p[7] = 1;
	expect_corrupt(p, r.len, "reserved");

	memcpy(p, r.data, r.len);
	p[r.len / 2] ^= 0x10;
	expect_corrupt(p, r.len, "CRC32C mismatch");

	memcpy(p, r.data, r.len);
	p[17] ^= 1;
	expect_corrupt(p, r.len, "CRC32C mismatch");

	expect_corrupt(r.data, r.len - 1, "payload length"); /* truncated */
	expect_corrupt(r.data, 19, "shorter than");          /* shorter than the header */
	expect_corrupt(r.data, 0, "shorter than");

	memcpy(p, r.data, r.len);
	ts_put_u32le(p + 8, 0xFFFFFFFFu); /* length overflow */
	expect_corrupt(p, r.len, "payload length");

	free(p);
	ts_buf_free(&r);
}

/* Build a record around a hand-made payload with a valid CRC (a "forged" record). */
static size_t forge(uint8_t *out, int flags, uint32_t n_samples, const uint8_t *payload,
		    size_t plen)
{
	memcpy(out, "STRL", 4);
	out[4] = 1;
	out[5] = (uint8_t)flags;
	out[6] = out[7] = 0;
	ts_put_u32le(out + 8, (uint32_t)plen);
	ts_put_u32le(out + 12, n_samples);
	memcpy(out + 20, payload, plen);
	fix_crc(out, 20 + plen);
	return 20 + plen;
}

static void test_ingest_record_decode_corrupt_payload(void **state)
{
	(void)state;
	uint8_t rec[256];
	/*
	 * symbols "__name__", "m"; series := n_labels, reuse bits, (name, value) ids of the
	 * labels not reused, n_samples, zig-zag t0 delta, t deltas, values
	 */
	// clang-format off
#define SYMS 2, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 1, 'm'
#define VAL 0, 0, 0, 0, 0, 0, 0xf0, 0x3f
	const uint8_t good[] = {SYMS, 1, /* series */ 1, 0, 0, 1, /* samples */ 1, 2, VAL};
	const uint8_t reuse[] = {SYMS, 2, 1, 0, 0, 1, 1, 2, VAL, /* all reused */ 1, 1, 1, 4, VAL};
	const uint8_t bad_ref[] = {SYMS, 1, 1, 0, 0, 5, 1, 2, VAL};
	const uint8_t trailing[] = {SYMS, 1, 1, 0, 0, 1, 1, 2, VAL, 0};
	const uint8_t no_name[] = {SYMS, 1, 1, 0, 1, 1, 1, 2, VAL};
	const uint8_t unsorted[] = {3, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 1, 'm', 1, 'A',
				    1, 2, 0, 0, 1, 2, 2, 1, 2, VAL};
	const uint8_t nul_sym[] = {2, 8, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 1, 0,
				   1, 1, 0, 0, 1, 1, 2, VAL};
	const uint8_t huge_syms[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	const uint8_t sym_overrun[] = {1, 100, 'a'};
	const uint8_t short_series[] = {SYMS, 1, 1, 0, 0, 1, 1, 2, 0, 0};
	const uint8_t trunc_vals[] = {SYMS, 1, 1, 0, 0, 1, 1, 0x82, 0x82, 0x82, 0x82, 0x82, 2,
				      0, 0, 0};
	const uint8_t trunc_ts[] = {SYMS, 1, 1, 0, 0, 1, 1, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,
				    0x82, 0x82, 0x82};
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
	size_t n = forge(rec, 0, 1, good, sizeof(good));
	collector c;
	collector_init(&c);
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	assert_int_equal(ingest_record_decode(d, rec, n, collect, &c, NULL), TS_OK);
	assert_int_equal(c.n, 1);
	assert_true(c.v[0].t == 1);
	assert_true(from_bits(c.v[0].bits) == 1.0);
	n = forge(rec, 0, 2, reuse, sizeof(reuse));
	assert_int_equal(ingest_record_decode(d, rec, n, collect, &c, NULL), TS_OK);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.v[2].key, "__name__=m;");
	assert_true(c.v[2].t == 3);
	free(c.v);
	ingest_record_decoder_free(d);

	expect_corrupt(rec, forge(rec, 0, 1, bad_ref, sizeof(bad_ref)), "bad symbol reference");
	expect_corrupt(rec, forge(rec, 0, 1, trailing, sizeof(trailing)), "trailing");
	expect_corrupt(rec, forge(rec, 0, 2, good, sizeof(good)), "header says 2 samples");
	expect_corrupt(rec, forge(rec, 0, 1, no_name, sizeof(no_name)), "no __name__");
	expect_corrupt(rec, forge(rec, 0, 1, unsorted, sizeof(unsorted)), "not sorted");
	expect_corrupt(rec, forge(rec, 0, 1, nul_sym, sizeof(nul_sym)), "NUL");
	expect_corrupt(rec, forge(rec, 0, 1, huge_syms, sizeof(huge_syms)), "symbol count");
	expect_corrupt(rec, forge(rec, 0, 1, sym_overrun, sizeof(sym_overrun)), "runs past");
	expect_corrupt(rec, forge(rec, 0, 1, short_series, sizeof(short_series)), "series count");
	expect_corrupt(rec, forge(rec, 0, 1, trunc_vals, sizeof(trunc_vals)), "truncated values");
	expect_corrupt(rec, forge(rec, 0, 1, trunc_ts, sizeof(trunc_ts)), "timestamps");
	expect_corrupt(rec, forge(rec, 0, 1, empty_series, sizeof(empty_series)),
		       "bad sample count");
	expect_corrupt(rec, forge(rec, 0, 1, trunc_count, sizeof(trunc_count)), "series count");
	expect_corrupt(rec, forge(rec, 0, 1, reuse_first, sizeof(reuse_first)),
		       "previous series does not have");
	expect_corrupt(rec, forge(rec, 0, 1, reuse_past, sizeof(reuse_past)),
		       "past the last label");
	expect_corrupt(rec, forge(rec, 0, 2, reuse_more, sizeof(reuse_more)),
		       "previous series does not have");
	expect_corrupt(rec, forge(rec, 1, 1, garbage_snappy, sizeof(garbage_snappy)), "snappy");
	expect_corrupt(rec, forge(rec, 1, 1, bad_snappy, sizeof(bad_snappy)), "snappy");
}

/* A sink error stops decoding and comes back unchanged. */
static void test_ingest_record_decode_sink_error(void **state)
{
	(void)state;
	ts_buf r;
	small_record(&r, INGEST_RECORD_COMPRESS_SNAPPY);
	collector c;
	collector_init(&c);
	c.fail_at = 3;
	c.fail_rc = TS_EBUSY;
	ts_err err = {0};
	assert_int_equal(decode_into(&r, &c, &err), TS_EBUSY);
	assert_int_equal(c.n, 3);
	assert_non_null(strstr(err.msg, "sink"));
	free(c.v);
	ts_buf_free(&r);
}

/* ---------------------------------------------------------------- allocation failures */

static void test_ingest_record_alloc_failures(void **state)
{
	(void)state;
	for (int64_t n = 0;; n++) {
		ingest_record_builder *bld = NULL;
		ingest_record_decoder *d = NULL;
		ts_buf out;
		ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
		ts_alloc_fail_after(n);
		int rc = ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 0, &bld, NULL);
		size_t added = 0;
		char v[16];
		for (int i = 0; rc == TS_OK && i < 300; i++) {
			snprintf(v, sizeof(v), "%d", i);
			ts_label l[] = {L("__name__", "m"), L("i", v)};
			size_t before = bld ? ingest_record_builder_n_samples(bld) : 0;
			rc = ingest_record_builder_add(bld, l, 2, i, i, NULL);
			if (rc == TS_OK)
				added++;
			else
				assert_int_equal(ingest_record_builder_n_samples(bld), before);
		}
		if (rc == TS_OK)
			rc = ingest_record_builder_finish(bld, &out, NULL);
		collector c;
		collector_init(&c);
		if (rc == TS_OK)
			rc = ingest_record_decoder_new(&d, NULL);
		if (rc == TS_OK)
			rc = ingest_record_decode(d, out.data, out.len, collect, &c, NULL);
		ts_alloc_fail_after(-1);
		if (rc != TS_OK)
			assert_int_equal(rc, TS_ENOMEM);
		else
			assert_int_equal(c.n, 300);
		free(c.v);
		ts_buf_free(&out);
		ingest_record_decoder_free(d);
		ingest_record_builder_free(bld);
		if (rc == TS_OK)
			break;
		assert_true(n < 10000);
	}
}

/* ---------------------------------------------------------------- golden file */

#define GOLDEN_DIR STRATA_SOURCE_DIR "/tests/data/ingest/"

/* The records the golden files hold: two series, a stale marker. */
static void golden_build(ts_buf *out, int compression)
{
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(compression, 0, &bld, NULL), TS_OK);
	ts_label up[] = {L("__name__", "up"), L("instance", "localhost:9100"), L("job", "node")};
	ts_label load[] = {L("__name__", "node_load1"), L("instance", "localhost:9100"),
			   L("job", "node")};
	int n = compression == INGEST_RECORD_COMPRESS_NONE ? 2 : 20;
	for (int i = 0; i < n; i++)
		assert_int_equal(
		    ingest_record_builder_add(bld, up, 3, 1700000000000 + 15000 * i, 1, NULL),
		    TS_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(ingest_record_builder_add(
				     bld, load, 3, 1700000000000 + 15000 * i + 3,
				     i == n - 1 ? from_bits(0x7ff0000000000002ull) : 0.25 * (i + 1),
				     NULL),
				 TS_OK);
	ts_buf_init(out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, out, NULL), TS_OK);
	ingest_record_builder_free(bld);
}

static void check_golden(const char *name, int compression)
{
	char path[1024];
	snprintf(path, sizeof(path), GOLDEN_DIR "%s", name);
	ts_buf want;
	golden_build(&want, compression);
	if (getenv("STRATA_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(want.data, 1, want.len, f), want.len);
		fclose(f);
	}
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("missing %s (run with STRATA_UPDATE_GOLDEN=1 to create it)", path);
	uint8_t buf[4096];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* the encoder still produces exactly the pinned bytes ... */
	assert_int_equal(n, want.len);
	assert_memory_equal(buf, want.data, n);
	/* ... and the decoder reads them */
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	collector c;
	collector_init(&c);
	assert_int_equal(ingest_record_decode(d, buf, n, collect, &c, NULL), TS_OK);
	size_t per = compression == INGEST_RECORD_COMPRESS_NONE ? 2 : 20;
	assert_int_equal(c.n, 2 * per);
	assert_string_equal(c.v[0].key, "__name__=up;instance=localhost:9100;job=node;");
	assert_true(c.v[0].t == 1700000000000);
	assert_true(from_bits(c.v[0].bits) == 1.0);
	assert_string_equal(c.v[c.n - 1].key,
			    "__name__=node_load1;instance=localhost:9100;job=node;");
	assert_true(c.v[c.n - 1].bits == 0x7ff0000000000002ull);
	assert_true(c.v[c.n - 1].t == 1700000000000 + 15000 * (int64_t)(per - 1) + 3);
	free(c.v);
	ingest_record_decoder_free(d);
	ts_buf_free(&want);
}

static void test_ingest_record_decode_golden_v1(void **state)
{
	(void)state;
	check_golden("log_record_v1_plain.bin", INGEST_RECORD_COMPRESS_NONE);
	check_golden("log_record_v1_snappy.bin", INGEST_RECORD_COMPRESS_SNAPPY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_record_roundtrip_plain),
	    cmocka_unit_test(test_ingest_record_roundtrip_snappy),
	    cmocka_unit_test(test_ingest_record_roundtrip_many_series),
	    cmocka_unit_test(test_ingest_record_roundtrip_random_label_sets),
	    cmocka_unit_test(test_ingest_record_builder_add_groups_series),
	    cmocka_unit_test(test_ingest_record_builder_sink_reencodes_identically),
	    cmocka_unit_test(test_ingest_record_builder_add_rejects_bad_labels),
	    cmocka_unit_test(test_ingest_record_builder_add_limit),
	    cmocka_unit_test(test_ingest_record_builder_finish_incompressible),
	    cmocka_unit_test(test_ingest_record_decode_corrupt_header),
	    cmocka_unit_test(test_ingest_record_decode_corrupt_payload),
	    cmocka_unit_test(test_ingest_record_decode_sink_error),
	    cmocka_unit_test(test_ingest_record_alloc_failures),
	    cmocka_unit_test(test_ingest_record_decode_golden_v1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
