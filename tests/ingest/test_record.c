/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_record.c: tests of the log record codec (ingest/record.c): round trips (both
 * compressions, NaN payloads, extreme timestamps, many series), grouping, limits, label
 * validation, header corruption (payload checks: test_record_decode.c), sink errors,
 * allocation failures, the golden v1 record in tests/data/ingest/ (set
 * STRATA_UPDATE_GOLDEN=1 to rewrite it), and the shared symbol table with the id path
 * (_add_ids grouping, decode_series; records cut at max_bytes byte-identical to _add of
 * the same samples in grouped order, exact size checks on the fast path; allocation
 * failures that leave the builder as it was).
 */
#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/ingest_support.h" /* after cmocka.h: uses its assertions */

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

/* ---------------------------------------------------------------- shared ids */

static void test_ingest_symtab_intern(void **state)
{
	(void)state;
	ingest_symtab *t;
	assert_int_equal(ingest_symtab_new(0, &t, NULL), TS_OK);
	char s[32];
	uint32_t id;
	for (int i = 0; i < 5000; i++) { /* several rehashes */
		snprintf(s, sizeof(s), "value-%d", i);
		assert_int_equal(ingest_symtab_intern(t, s, strlen(s), &id, NULL), TS_OK);
		assert_int_equal(id, (uint32_t)i);
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(s, sizeof(s), "value-%d", i);
		assert_int_equal(ingest_symtab_intern(t, s, strlen(s), &id, NULL), TS_OK);
		assert_int_equal(id, (uint32_t)i);
		size_t len;
		assert_string_equal(ingest_symtab_str(t, id, &len), s);
		assert_int_equal(len, strlen(s));
	}
	/* a prefix is another string */
	assert_int_equal(ingest_symtab_intern(t, "value-1", 6, &id, NULL), TS_OK);
	assert_int_equal(id, 5000);
	assert_string_equal(ingest_symtab_str(t, id, NULL), "value-");
	assert_true(ingest_symtab_alloc_bytes(t) > 5000 * 8);
	ingest_symtab_reset(t);
	assert_int_equal(ingest_symtab_intern(t, "value-42", 8, &id, NULL), TS_OK);
	assert_int_equal(id, 0);
	ingest_symtab_free(t);
	ingest_symtab_free(NULL);

	/* the byte bound */
	assert_int_equal(ingest_symtab_new(64, &t, NULL), TS_OK);
	ts_err err = {0};
	int rc = TS_OK;
	for (int i = 0; i < 100 && rc == TS_OK; i++) {
		snprintf(s, sizeof(s), "string-%d", i);
		rc = ingest_symtab_intern(t, s, strlen(s), &id, &err);
	}
	assert_int_equal(rc, TS_ELIMIT);
	assert_non_null(strstr(err.msg, "symbol table"));
	assert_int_equal(ingest_symtab_intern(t, "string-0", 8, &id, NULL), TS_OK); /* known */
	assert_int_equal(id, 0);
	ingest_symtab_free(t);
}

/* A pool of label sets as symbol ids, with one slot word per set (as a batch keeps). */
typedef struct id_pool {
	ingest_symtab *t;
	ts_label l[64][6];
	size_t n[64];
	uint32_t ids[64][12];
	uint64_t slot[64];
	char key[64][256];
} id_pool;

static void id_pool_init(id_pool *p, int n_sets)
{
	static const char *zones[] = {"a", "b", "c"};
	static char vals[64][16];
	memset(p, 0, sizeof(*p));
	assert_int_equal(ingest_symtab_new(0, &p->t, NULL), TS_OK);
	for (int i = 0; i < n_sets; i++) {
		snprintf(vals[i], sizeof(vals[i]), "host-%d", i / 3);
		size_t n = 0;
		p->l[i][n++] = (ts_label){"__name__", i % 2 ? "cpu_idle" : "cpu_user"};
		p->l[i][n++] = (ts_label){"host", vals[i]};
		if (i % 3)
			p->l[i][n++] = (ts_label){"zone", zones[i % 3]};
		p->n[i] = n;
		for (size_t k = 0; k < n; k++) {
			assert_int_equal(ingest_symtab_intern(p->t, p->l[i][k].name,
							      strlen(p->l[i][k].name),
							      &p->ids[i][2 * k], NULL),
					 TS_OK);
			assert_int_equal(ingest_symtab_intern(p->t, p->l[i][k].value,
							      strlen(p->l[i][k].value),
							      &p->ids[i][2 * k + 1], NULL),
					 TS_OK);
		}
		flatten(p->l[i], n, p->key[i], sizeof(p->key[i]));
	}
}

/* ingest_record_series_fn counting entries into a collector (ctx: entry_counter). */
typedef struct entry_counter {
	collector c;
	size_t n_entries;
	int fail_at; /* entry index whose call fails with TS_EBUSY (-1: never) */
} entry_counter;

static int count_entries(void *ctx, const ts_label *labels, size_t n_labels, const int64_t *t,
			 const double *v, size_t n)
{
	entry_counter *ec = ctx;
	if (ec->fail_at >= 0 && (size_t)ec->fail_at == ec->n_entries)
		return TS_EBUSY;
	ec->n_entries++;
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(collect(&ec->c, labels, n_labels, t[i], v[i]), TS_OK);
	return TS_OK;
}

/*
 * Samples of interleaved series come out grouped: one entry per distinct series, each
 * with its samples in the order they were added; the per-sample decoder sees the same.
 */
static void test_ingest_record_builder_add_ids_groups_by_series(void **state)
{
	(void)state;
	enum { SETS = 40, N = 4000 };
	static id_pool p;
	id_pool_init(&p, SETS);
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 0, &bld, NULL),
			 TS_OK);
	static int pick[N];
	uint64_t x = 99;
	for (int i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		pick[i] = (int)(x % SETS);
		assert_int_equal(ingest_record_builder_add_ids(
				     bld, p.t, p.ids[pick[i]], p.n[pick[i]], &p.slot[pick[i]],
				     (int64_t)(x >> 20) - 5000, (double)i, NULL),
				 TS_OK);
	}
	assert_int_equal(ingest_record_builder_n_samples(bld), N);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	assert_int_equal(ingest_record_builder_n_samples(bld), 0);

	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	entry_counter ec = {.fail_at = -1};
	collector_init(&ec.c);
	assert_int_equal(
	    ingest_record_decode_series(d, out.data, out.len, count_entries, &ec, NULL), TS_OK);
	assert_int_equal(ec.n_entries, SETS);
	assert_int_equal(ec.c.n, N);
	/* per series: the subsequence of values equals the insertion order */
	size_t at = 0;
	for (int set = 0; set < SETS; set++) {
		size_t first = at;
		for (int i = 0; i < N; i++) {
			if (strcmp(p.key[pick[i]], ec.c.v[first].key) != 0)
				continue;
			assert_string_equal(ec.c.v[at].key, p.key[pick[i]]);
			assert_true(from_bits(ec.c.v[at].bits) == (double)i);
			at++;
		}
	}
	assert_int_equal(at, N);
	/* the per-sample decoder delivers the same samples */
	collector c2;
	collector_init(&c2);
	assert_int_equal(ingest_record_decode(d, out.data, out.len, collect, &c2, NULL), TS_OK);
	assert_int_equal(c2.n, N);
	for (size_t i = 0; i < N; i++) {
		assert_string_equal(c2.v[i].key, ec.c.v[i].key);
		assert_true(c2.v[i].t == ec.c.v[i].t && c2.v[i].bits == ec.c.v[i].bits);
	}
	/* a series sink error stops the decode with its code, before that entry */
	entry_counter stop = {.fail_at = 3};
	collector_init(&stop.c);
	ts_err err = {0};
	assert_int_equal(
	    ingest_record_decode_series(d, out.data, out.len, count_entries, &stop, &err),
	    TS_EBUSY);
	assert_int_equal(stop.n_entries, 3);
	assert_non_null(strstr(err.msg, "series sink stopped"));
	/* a damaged record is found by the series decoder too */
	out.data[out.len - 3] ^= 0x40;
	entry_counter bad = {.fail_at = -1};
	collector_init(&bad.c);
	assert_int_equal(
	    ingest_record_decode_series(d, out.data, out.len, count_entries, &bad, NULL),
	    TS_ECORRUPT);
	assert_int_equal(bad.n_entries, 0);

	/* next record: the slots of the last one are stale, nothing leaks across */
	assert_int_equal(
	    ingest_record_builder_add_ids(bld, p.t, p.ids[5], p.n[5], &p.slot[5], 7, 7.0, NULL),
	    TS_OK);
	ts_buf_reset(&out);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	collector c3;
	collector_init(&c3);
	assert_int_equal(ingest_record_decode(d, out.data, out.len, collect, &c3, NULL), TS_OK);
	assert_int_equal(c3.n, 1);
	assert_string_equal(c3.v[0].key, p.key[5]);
	free(c3.v);
	free(bad.c.v);
	free(stop.c.v);
	free(c2.v);
	free(ec.c.v);
	ingest_record_decoder_free(d);
	ts_buf_free(&out);
	ingest_record_builder_free(bld);
	ingest_symtab_free(p.t);
}

/* _add and _add_ids on one builder: every series keeps its order. */
static void test_ingest_record_builder_add_ids_mixed_with_add(void **state)
{
	(void)state;
	static id_pool p;
	id_pool_init(&p, 6);
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &bld, NULL),
			 TS_OK);
	/* set 0: ids, string, ids; set 1: string then ids */
	assert_int_equal(
	    ingest_record_builder_add_ids(bld, p.t, p.ids[0], p.n[0], &p.slot[0], 1, 1, NULL),
	    TS_OK);
	assert_int_equal(
	    ingest_record_builder_add_ids(bld, p.t, p.ids[2], p.n[2], &p.slot[2], 1, 10, NULL),
	    TS_OK);
	assert_int_equal(ingest_record_builder_add(bld, p.l[0], p.n[0], 2, 2, NULL), TS_OK);
	assert_int_equal(ingest_record_builder_add(bld, p.l[1], p.n[1], 1, 20, NULL), TS_OK);
	assert_int_equal(
	    ingest_record_builder_add_ids(bld, p.t, p.ids[0], p.n[0], &p.slot[0], 3, 3, NULL),
	    TS_OK);
	assert_int_equal(
	    ingest_record_builder_add_ids(bld, p.t, p.ids[1], p.n[1], &p.slot[1], 2, 21, NULL),
	    TS_OK);
	assert_int_equal(
	    ingest_record_builder_add_ids(bld, p.t, p.ids[2], p.n[2], &p.slot[2], 2, 11, NULL),
	    TS_OK);
	/* a second table: the builder's mapping of the first is dropped */
	ingest_symtab *t2;
	assert_int_equal(ingest_symtab_new(0, &t2, NULL), TS_OK);
	uint32_t ids2[4], junk;
	assert_int_equal(ingest_symtab_intern(t2, "zzz", 3, &junk, NULL), TS_OK);
	assert_int_equal(ingest_symtab_intern(t2, "__name__", 8, &ids2[0], NULL), TS_OK);
	assert_int_equal(ingest_symtab_intern(t2, "other", 5, &ids2[1], NULL), TS_OK);
	uint64_t slot2 = 0;
	assert_int_equal(ingest_record_builder_add_ids(bld, t2, ids2, 1, &slot2, 9, 99, NULL),
			 TS_OK);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	collector c;
	collector_init(&c);
	assert_int_equal(decode_into(&out, &c, NULL), TS_OK);
	assert_int_equal(c.n, 8);
	double want0[] = {1, 2, 3}, want1[] = {20, 21}, want2[] = {10, 11};
	size_t k0 = 0, k1 = 0, k2 = 0;
	for (size_t i = 0; i < c.n; i++) {
		double v = from_bits(c.v[i].bits);
		if (strcmp(c.v[i].key, p.key[0]) == 0)
			assert_true(v == want0[k0++]);
		else if (strcmp(c.v[i].key, p.key[1]) == 0)
			assert_true(v == want1[k1++]);
		else if (strcmp(c.v[i].key, p.key[2]) == 0)
			assert_true(v == want2[k2++]);
		else
			assert_string_equal(c.v[i].key, "__name__=other;");
	}
	assert_int_equal(k0 + k1 + k2, 7);
	free(c.v);
	ts_buf_free(&out);
	ingest_symtab_free(t2);
	ingest_record_builder_free(bld);
	ingest_symtab_free(p.t);
}

/* Bad ids, the size limit (builder unchanged), and allocation failures. */
static void test_ingest_record_builder_add_ids_errors(void **state)
{
	(void)state;
	static id_pool p;
	id_pool_init(&p, 4);
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 256, &bld, NULL),
			 TS_OK);
	uint32_t bad[2] = {0, 1000};
	uint64_t slot = 0;
	ts_err err = {0};
	assert_int_equal(ingest_record_builder_add_ids(bld, p.t, bad, 1, &slot, 0, 0, &err),
			 TS_EINVAL);
	assert_non_null(strstr(err.msg, "unknown symbol 1000"));
	assert_int_equal(ingest_record_builder_add_ids(bld, p.t, bad, 0, &slot, 0, 0, NULL),
			 TS_EINVAL);
	assert_int_equal(ingest_record_builder_n_samples(bld), 0);
	int rc = TS_OK;
	size_t added = 0;
	for (int i = 0; i < 1000 && rc == TS_OK; i++) {
		rc = ingest_record_builder_add_ids(bld, p.t, p.ids[i % 4], p.n[i % 4],
						   &p.slot[i % 4], i, i, &err);
		added += rc == TS_OK;
	}
	assert_int_equal(rc, TS_ELIMIT);
	assert_int_equal(ingest_record_builder_n_samples(bld), added);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
	assert_true(out.len <= 256);
	collector c;
	collector_init(&c);
	assert_int_equal(decode_into(&out, &c, NULL), TS_OK);
	assert_int_equal(c.n, added);
	free(c.v);
	ts_buf_free(&out);
	ingest_record_builder_free(bld);

	for (int64_t n = 0;; n++) {
		ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
		bld = NULL;
		memset(p.slot, 0, sizeof(p.slot));
		ts_alloc_fail_after(n);
		rc = ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 0, &bld, NULL);
		for (int i = 0; rc == TS_OK && i < 600; i++) {
			size_t before = ingest_record_builder_n_samples(bld);
			rc = ingest_record_builder_add_ids(bld, p.t, p.ids[i % 4], p.n[i % 4],
							   &p.slot[i % 4], i, i, NULL);
			if (rc != TS_OK)
				assert_int_equal(ingest_record_builder_n_samples(bld), before);
		}
		if (rc == TS_OK)
			rc = ingest_record_builder_finish(bld, &out, NULL);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			collector_init(&c);
			assert_int_equal(decode_into(&out, &c, NULL), TS_OK);
			assert_int_equal(c.n, 600);
			free(c.v);
		} else {
			assert_int_equal(rc, TS_ENOMEM);
		}
		ts_buf_free(&out);
		ingest_record_builder_free(bld);
		if (rc == TS_OK)
			break;
		assert_true(n < 10000);
	}
	ingest_symtab_free(p.t);
}

/*
 * The reference for _add_ids: _add of the same samples in grouped order (series in
 * first-seen order, each series' samples in the order they were added), which must give
 * the same bytes. picks[i] is the id_pool set of sample i.
 */
static void grouped_reference(const id_pool *p, int compression, const int *picks, const int64_t *t,
			      const double *v, size_t n, ts_buf *out)
{
	ingest_record_builder *ref;
	assert_int_equal(ingest_record_builder_new(compression, 0, &ref, NULL), TS_OK);
	bool done[64] = {false};
	for (size_t first = 0; first < n; first++) {
		int k = picks[first];
		if (done[k])
			continue;
		done[k] = true;
		for (size_t i = first; i < n; i++)
			if (picks[i] == k)
				assert_int_equal(ingest_record_builder_add(ref, p->l[k], p->n[k],
									   t[i], v[i], NULL),
						 TS_OK);
	}
	assert_int_equal(ingest_record_builder_finish(ref, out, NULL), TS_OK);
	ingest_record_builder_free(ref);
}

/*
 * _add_ids over interleaved series, records cut at max_bytes as a batch cuts them
 * (TS_ELIMIT: finish, add again): the size check is exact for a series already in the
 * record (it fits iff size + 18 <= max_bytes, and the size grows by exactly 18, the
 * unchecked fast path included), a refused sample changes nothing, and every record is
 * byte-identical to _add of its samples in grouped order.
 */
static void check_add_ids_records(int compression, size_t max_bytes, int sets, int n, uint64_t seed,
				  size_t *n_records)
{
	static id_pool p;
	id_pool_init(&p, sets);
	ingest_record_builder *bld;
	assert_int_equal(ingest_record_builder_new(compression, max_bytes, &bld, NULL), TS_OK);
	enum { MAX_N = 20000 };
	static int picks[MAX_N];
	static int64_t ts[MAX_N];
	static double vs[MAX_N];
	assert_true(n <= MAX_N);
	bool known[64] = {false};
	size_t r_n = 0; /* samples in the open record */
	size_t max = max_bytes ? max_bytes : INGEST_RECORD_MAX_BYTES;
	ts_buf out, want;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	ts_buf_init(&want, INGEST_RECORD_MAX_BYTES);
	uint64_t x = seed;
	*n_records = 0;
	for (int i = 0; i <= n; i++) {
		if (i == n) { /* the end: write the last record */
			if (r_n == 0)
				break;
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			int k = (int)(x % (uint64_t)sets);
			int64_t t = (int64_t)(x >> 40) - (1 << 23); /* any order, negative too */
			double v = (double)(x >> 11) / 7.0;
			if (x % 97 == 0) { /* a NaN with a payload */
				uint64_t bits = 0x7ff0000000000000ull | (x & 0xfffff) | 1;
				memcpy(&v, &bits, 8);
			}
			size_t size = ingest_record_builder_size_bytes(bld);
			size_t before = ingest_record_builder_n_samples(bld);
			int rc = ingest_record_builder_add_ids(bld, p.t, p.ids[k], p.n[k],
							       &p.slot[k], t, v, NULL);
			if (known[k])
				assert_int_equal(rc == TS_OK, size + 18 <= max);
			if (rc == TS_OK) {
				if (known[k])
					assert_int_equal(ingest_record_builder_size_bytes(bld),
							 size + 18);
				known[k] = true;
				picks[r_n] = k;
				ts[r_n] = t;
				vs[r_n] = v;
				r_n++;
				continue;
			}
			assert_int_equal(rc, TS_ELIMIT);
			assert_int_equal(ingest_record_builder_n_samples(bld), before);
			assert_int_equal(ingest_record_builder_size_bytes(bld), size);
			assert_true(r_n > 0);
			i--; /* the sample goes into the next record */
		}
		ts_buf_reset(&out);
		ts_buf_reset(&want);
		assert_int_equal(ingest_record_builder_finish(bld, &out, NULL), TS_OK);
		assert_true(out.len <= max);
		grouped_reference(&p, compression, picks, ts, vs, r_n, &want);
		assert_int_equal(out.len, want.len);
		assert_memory_equal(out.data, want.data, out.len);
		(*n_records)++;
		memset(known, 0, sizeof(known));
		r_n = 0;
	}
	ts_buf_free(&out);
	ts_buf_free(&want);
	ingest_record_builder_free(bld);
	ingest_symtab_free(p.t);
}

static void test_ingest_record_builder_add_ids_records_match_add(void **state)
{
	(void)state;
	size_t n_records;
	/* one record, many samples per series */
	check_add_ids_records(INGEST_RECORD_COMPRESS_NONE, 0, 40, 5000, 7, &n_records);
	assert_int_equal(n_records, 1);
	check_add_ids_records(INGEST_RECORD_COMPRESS_SNAPPY, 0, 64, 5000, 8, &n_records);
	assert_int_equal(n_records, 1);
	/* records full at every size class: a few samples each, then hundreds */
	size_t sizes[] = {256, 300, 1000, 4096, 65536};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		check_add_ids_records(INGEST_RECORD_COMPRESS_NONE, sizes[i], 40, 20000, 9 + i,
				      &n_records);
		assert_true(n_records > 1);
		check_add_ids_records(INGEST_RECORD_COMPRESS_SNAPPY, sizes[i], 5, 20000, 19 + i,
				      &n_records);
		assert_true(n_records > 1);
	}
}

/*
 * TS_ENOMEM anywhere (a new series' symbols, the grouping arrays, the body, finish's
 * output) leaves the builder as it was: retrying the failed call once allocation works
 * again gives byte-identical records to a run that never failed. Records are cut at
 * 2 KiB like a batch cuts them.
 */
static int run_with_retries(id_pool *p, const int *picks, int n, ts_buf *out, int64_t fail_after,
			    int *n_failed)
{
	ingest_record_builder *bld = NULL;
	*n_failed = 0;
	ts_alloc_fail_after(fail_after);
	int rc;
	while ((rc = ingest_record_builder_new(INGEST_RECORD_COMPRESS_SNAPPY, 2048, &bld, NULL)) ==
	       TS_ENOMEM) {
		ts_alloc_fail_after(-1);
		(*n_failed)++;
	}
	assert_int_equal(rc, TS_OK);
	for (int i = 0; i <= n; i++) {
		if (i < n) {
			int k = picks[i];
			rc = ingest_record_builder_add_ids(bld, p->t, p->ids[k], p->n[k],
							   &p->slot[k], 1000 * (int64_t)i, i, NULL);
			if (rc == TS_ENOMEM) {
				ts_alloc_fail_after(-1);
				(*n_failed)++;
				i--;
				continue;
			}
			if (rc == TS_OK)
				continue;
			assert_int_equal(rc, TS_ELIMIT);
			i--; /* finish, then add the sample again */
		}
		while ((rc = ingest_record_builder_finish(bld, out, NULL)) == TS_ENOMEM) {
			ts_alloc_fail_after(-1);
			(*n_failed)++;
		}
		assert_int_equal(rc, TS_OK);
	}
	ts_alloc_fail_after(-1);
	ingest_record_builder_free(bld);
	return TS_OK;
}

static void test_ingest_record_builder_add_ids_enomem_keeps_builder(void **state)
{
	(void)state;
	enum { SETS = 40, N = 400 };
	static id_pool p;
	id_pool_init(&p, SETS);
	int picks[N];
	uint64_t x = 5;
	for (int i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		picks[i] = (int)(x % SETS);
	}
	ts_buf want, out;
	ts_buf_init(&want, (size_t)1 << 30);
	int n_failed;
	memset(p.slot, 0, sizeof(p.slot));
	run_with_retries(&p, picks, N, &want, -1, &n_failed);
	assert_int_equal(n_failed, 0);
	for (int64_t n = 0;; n++) {
		ts_buf_init(&out, (size_t)1 << 30);
		memset(p.slot, 0, sizeof(p.slot));
		run_with_retries(&p, picks, N, &out, n, &n_failed);
		assert_int_equal(out.len, want.len);
		assert_memory_equal(out.data, want.data, out.len);
		ts_buf_free(&out);
		if (n_failed == 0)
			break;
		assert_true(n < 10000);
	}
	ts_buf_free(&want);
	ingest_symtab_free(p.t);
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
	    cmocka_unit_test(test_ingest_record_decode_sink_error),
	    cmocka_unit_test(test_ingest_record_alloc_failures),
	    cmocka_unit_test(test_ingest_record_decode_golden_v1),
	    cmocka_unit_test(test_ingest_symtab_intern),
	    cmocka_unit_test(test_ingest_record_builder_add_ids_groups_by_series),
	    cmocka_unit_test(test_ingest_record_builder_add_ids_mixed_with_add),
	    cmocka_unit_test(test_ingest_record_builder_add_ids_errors),
	    cmocka_unit_test(test_ingest_record_builder_add_ids_records_match_add),
	    cmocka_unit_test(test_ingest_record_builder_add_ids_enomem_keeps_builder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
