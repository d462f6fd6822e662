/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_remote_write.c: tests for ingest/remote_write.c: encode/decode round trips with
 * bit-exact values (stale markers, NaN payloads, infinities, -0.0) and extreme
 * timestamps, label normalization, every rejection reason (messages name the series,
 * nothing is delivered), the skip-invalid mode, limits and size caps, bad bodies
 * (snappy and protobuf), histograms/exemplars/unknown fields in hand-built protobuf,
 * metadata, sink aborts, allocation failures, the node_exporter data set, and decoding
 * through pooled scratch buffers (ingest_rw_pool).
 *
 * With STRATA_RW_SEED_DIR set, the test also writes the fuzz seeds for
 * fuzz/fuzz_remote_write.c into that directory (test_..._encode_fuzz_seeds).
 */
#include "ingest/exposition.h"
#include "ingest/remote_write.h"

#include <snappy-c.h>

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#define CAP_MAX        64
#define STALE_NAN_BITS 0x7ff0000000000002ULL

/* ================================================================ capturing sink */

typedef struct cap_sample {
	char series[512];
	int64_t t_ms;
	uint64_t v_bits;
} cap_sample;

typedef struct capture {
	cap_sample s[CAP_MAX];
	size_t n;
	size_t abort_at;
	int abort_code;
	size_t n_meta;
	char meta[8][160]; /* "family|type|help|unit" */
	int meta_abort_code;
} capture;

static void check_invariants(const ts_label *l, size_t n)
{
	bool has_name = false;
	for (size_t i = 0; i < n; i++) {
		assert_true(l[i].value[0] != '\0');
		assert_true(ts_utf8_valid(l[i].value, strlen(l[i].value)));
		if (i > 0)
			assert_true(strcmp(l[i - 1].name, l[i].name) < 0);
		if (strcmp(l[i].name, TS_METRIC_NAME) == 0) {
			has_name = true;
			assert_true(ts_metric_name_valid(l[i].value, strlen(l[i].value)));
		} else {
			assert_true(ts_label_name_valid(l[i].name, strlen(l[i].name)));
		}
	}
	assert_true(has_name);
}

static int cap_fn(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	capture *c = ctx;
	check_invariants(l, n);
	c->n++;
	if (c->abort_at && c->n == c->abort_at)
		return c->abort_code;
	if (c->n > CAP_MAX)
		return TS_OK;
	cap_sample *s = &c->s[c->n - 1];
	size_t off = 0;
	for (size_t i = 0; i < n && off < sizeof(s->series); i++)
		off += (size_t)snprintf(s->series + off, sizeof(s->series) - off, "%s%s=%s",
					i ? "," : "", l[i].name, l[i].value);
	s->t_ms = t_ms;
	memcpy(&s->v_bits, &v, sizeof(v));
	return TS_OK;
}

static int meta_fn(void *ctx, const char *family, const char *type, const char *help,
		   const char *unit)
{
	capture *c = ctx;
	if (c->meta_abort_code)
		return c->meta_abort_code;
	if (c->n_meta < 8)
		snprintf(c->meta[c->n_meta], sizeof(c->meta[0]), "%s|%s|%s|%s", family, type, help,
			 unit);
	c->n_meta++;
	return TS_OK;
}

static double from_bits(uint64_t b)
{
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/* Encode series into a fresh buffer (caller frees with ts_buf_free). */
static void encode(const ingest_rw_series *s, size_t n, const ingest_rw_metadata *md, size_t n_md,
		   ts_buf *out)
{
	ts_buf_init(out, 1 << 30);
	ts_err err = {0};
	int rc = ingest_remote_write_encode(s, n, md, n_md, out, &err);
	if (rc != TS_OK)
		print_error("encode: %s\n", err.msg);
	assert_int_equal(rc, TS_OK);
}

static int decode(const ts_buf *body, const ingest_rw_options *opt, const ingest_limits *lim,
		  capture *c, ingest_rw_result *res, ts_err *err)
{
	memset(c, 0, sizeof(*c));
	ts_err_clear(err);
	return ingest_remote_write_decode_ex(body->data, body->len, opt, lim, cap_fn, c, res, err);
}

/* ================================================================ raw protobuf */

static void pb_tag(ts_buf *b, unsigned field, unsigned wire)
{
	assert_int_equal(ts_buf_put_uvarint(b, ((uint64_t)field << 3) | wire), TS_OK);
}

static void pb_bytes(ts_buf *b, unsigned field, const void *p, size_t n)
{
	pb_tag(b, field, 2);
	assert_int_equal(ts_buf_put_uvarint(b, n), TS_OK);
	assert_int_equal(ts_buf_append(b, p, n), TS_OK);
}

static void pb_label(ts_buf *b, const char *name, const char *value)
{
	ts_buf l;
	ts_buf_init(&l, 1 << 20);
	pb_bytes(&l, 1, name, strlen(name));
	pb_bytes(&l, 2, value, strlen(value));
	pb_bytes(b, 1, l.data, l.len);
	ts_buf_free(&l);
}

static void pb_sample(ts_buf *b, double v, int64_t t)
{
	ts_buf s;
	ts_buf_init(&s, 64);
	uint64_t vb;
	memcpy(&vb, &v, sizeof(vb));
	pb_tag(&s, 1, 1);
	assert_int_equal(ts_buf_put_u64le(&s, vb), TS_OK);
	pb_tag(&s, 2, 0);
	assert_int_equal(ts_buf_put_uvarint(&s, (uint64_t)t), TS_OK);
	pb_bytes(b, 2, s.data, s.len);
	ts_buf_free(&s);
}

/* Snappy-compress raw protobuf into out (a fresh buffer). */
static void snappy_body(const ts_buf *raw, ts_buf *out)
{
	ts_buf_init(out, 1 << 30);
	size_t n = snappy_max_compressed_length(raw->len);
	assert_int_equal(ts_buf_reserve(out, n), TS_OK);
	assert_int_equal(snappy_compress(raw->data ? raw->data : "", raw->len, out->data, &n),
			 SNAPPY_OK);
	out->len = n;
}

/* ================================================================ round trips */

static void test_ingest_remote_write_decode_roundtrip(void **state)
{
	(void)state;
	const ts_label l1[] = {{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}};
	const ts_label l2[] = {{"__name__", "temp_celsius"},
			       {"room", "k\xc3\xbc"
					"che"}};
	const int64_t t1[] = {1000, 2000, 3000};
	const double v1[] = {1, 0, 1};
	const int64_t t2[] = {INT64_MIN, -1, 0, INT64_MAX, 5, 6, 7, 8};
	const double v2[] = {from_bits(STALE_NAN_BITS),
			     from_bits(0x7ff8000000000001ULL),
			     from_bits(0xfff8000000000000ULL),
			     INFINITY,
			     -INFINITY,
			     -0.0,
			     4.9e-324,
			     -1.7976931348623157e308};
	const ingest_rw_series s[] = {
	    {l1, 3, t1, v1, 3},
	    {l2, 2, t2, v2, 8},
	    {l1, 3, NULL, NULL, 0}, /* a series without samples is fine */
	};
	const ingest_rw_metadata md[] = {
	    {"up", "gauge", "1 if the target is up.", ""},
	    {"temp_celsius", "gauge", "Temperature.", "celsius"},
	    {"http_requests", "counter", NULL, NULL},
	    {"x", NULL, "", ""},
	};
	ts_buf body;
	encode(s, 3, md, 4, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	ingest_rw_options opt = {.meta_fn = meta_fn};
	assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_series, 3);
	assert_int_equal(res.n_samples, 11);
	assert_int_equal(res.n_metadata, 4);
	assert_int_equal(res.n_series_invalid, 0);
	assert_int_equal(res.n_histograms_skipped, 0);
	assert_string_equal(res.first_invalid, "");
	assert_true(res.decompressed_bytes > 0);
	assert_int_equal(c.n, 11);
	assert_string_equal(c.s[0].series, "__name__=up,instance=a:9100,job=node");
	assert_int_equal(c.s[2].t_ms, 3000);
	assert_true(c.s[2].v_bits == 0x3ff0000000000000ULL);
	assert_string_equal(c.s[3].series, "__name__=temp_celsius,room=k\xc3\xbc"
					   "che");
	for (size_t i = 0; i < 8; i++) {
		uint64_t want;
		memcpy(&want, &v2[i], sizeof(want));
		if (i == 5) /* proto3 encoders (protobuf-c, Prometheus' gogo) omit -0.0 */
			want = 0;
		if (c.s[3 + i].v_bits != want)
			print_error("sample %zu: %016" PRIx64 " want %016" PRIx64 "\n", i,
				    c.s[3 + i].v_bits, want);
		assert_true(c.s[3 + i].v_bits == want);
		assert_int_equal(c.s[3 + i].t_ms, t2[i]);
	}
	assert_int_equal(c.n_meta, 4);
	assert_string_equal(c.meta[0], "up|gauge|1 if the target is up.|");
	assert_string_equal(c.meta[1], "temp_celsius|gauge|Temperature.|celsius");
	assert_string_equal(c.meta[2], "http_requests|counter||");
	assert_string_equal(c.meta[3], "x|unknown||");
	/* The default entry point: same samples, metadata only counted. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    ingest_remote_write_decode(body.data, body.len, NULL, cap_fn, &c, &res, NULL), TS_OK);
	assert_int_equal(res.n_samples, 11);
	assert_int_equal(res.n_metadata, 4);
	assert_int_equal(c.n_meta, 0);
	ts_buf_free(&body);

	/* An empty WriteRequest (a snappy block of 0 bytes) decodes to nothing. */
	encode(NULL, 0, NULL, 0, &body);
	assert_int_equal(decode(&body, NULL, NULL, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_series, 0);
	assert_int_equal(res.decompressed_bytes, 0);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_normalizes(void **state)
{
	(void)state;
	const ts_label l[] = {{"zone", "z"}, {"empty", ""}, {"__name__", "m"}, {"a", "x"}};
	const int64_t t[] = {1};
	const double v[] = {2};
	const ingest_rw_series s[] = {{l, 4, t, v, 1}};
	ts_buf body;
	encode(s, 1, NULL, 0, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	assert_int_equal(decode(&body, NULL, NULL, &c, &res, &err), TS_OK);
	assert_string_equal(c.s[0].series, "__name__=m,a=x,zone=z");
	ts_buf_free(&body);
}

/* ================================================================ rejections */

typedef struct bad_case {
	ts_label labels[4];
	size_t n;
	int code;
	const char *msg;
} bad_case;

static void test_ingest_remote_write_decode_invalid_series(void **state)
{
	(void)state;
	static const bad_case cases[] = {
	    {{{"job", "x"}}, 1, TS_EINVAL, "series 1 {job=\"x\"}: missing metric name"},
	    {{{"__name__", ""}, {"job", "x"}}, 2, TS_EINVAL, "missing metric name"},
	    {{{"__name__", "1up"}}, 1, TS_EINVAL, "series 1 1up{}: invalid metric name '1up'"},
	    {{{"__name__", "up"}, {"bad-name", "x"}},
	     2,
	     TS_EINVAL,
	     "series 1 up{bad-name=\"x\"}: invalid label name 'bad-name'"},
	    {{{"__name__", "up"}, {"", "x"}}, 2, TS_EINVAL, "invalid label name ''"},
	    {{{"__name__", "up"}, {"a", "x"}, {"a", "y"}},
	     3,
	     TS_EINVAL,
	     "duplicate label name 'a'"},
	    {{{"__name__", "up"}, {"b", "x"}, {"a", "y"}, {"b", "z"}},
	     4,
	     TS_EINVAL,
	     "duplicate label name 'b'"},
	    {{{"__name__", "up"}, {"__name__", "down"}},
	     2,
	     TS_EINVAL,
	     "duplicate label name '__name__'"},
	    {{{"__name__", "up"}, {"a", "\xff"}},
	     2,
	     TS_EINVAL,
	     "series 1 up{a=\"?\"}: value of label 'a' is not valid UTF-8"},
	    {{{"__name__", "up"}, {"a", "\xed\xa0\x80"}}, 2, TS_EINVAL, "not valid UTF-8"},
	};
	const ts_label good[] = {{"__name__", "ok"}};
	const int64_t t[] = {1, 2};
	const double v[] = {1, 2};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const ingest_rw_series s[] = {{good, 1, t, v, 2},
					      {cases[i].labels, cases[i].n, t, v, 2}};
		ts_buf body;
		encode(s, 2, NULL, 0, &body);
		static capture c;
		ingest_rw_result res = {.n_series = 99};
		ts_err err;
		int rc = decode(&body, NULL, NULL, &c, &res, &err);
		if (rc != cases[i].code || !strstr(err.msg, cases[i].msg))
			print_error("case %zu: rc %d '%s'\n", i, rc, err.msg);
		assert_int_equal(rc, cases[i].code);
		assert_non_null(strstr(err.msg, cases[i].msg));
		assert_int_equal(c.n, 0);           /* a rejected request delivers nothing */
		assert_int_equal(res.n_series, 99); /* and leaves res alone */
		ts_buf_free(&body);
	}
}

static void test_ingest_remote_write_decode_nul_in_value(void **state)
{
	(void)state;
	/* Hand-built: a label value with an embedded NUL byte. */
	ts_buf ts, wr, body;
	ts_buf_init(&ts, 1 << 20);
	ts_buf_init(&wr, 1 << 20);
	pb_label(&ts, "__name__", "m");
	ts_buf l;
	ts_buf_init(&l, 64);
	pb_bytes(&l, 1, "a", 1);
	pb_bytes(&l, 2, "x\0y", 3);
	pb_bytes(&ts, 1, l.data, l.len);
	pb_sample(&ts, 1, 1);
	pb_bytes(&wr, 1, ts.data, ts.len);
	snappy_body(&wr, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	assert_int_equal(decode(&body, NULL, NULL, &c, &res, &err), TS_EINVAL);
	assert_non_null(
	    strstr(err.msg, "series 0 m{a=\"x?y\"}: value of label 'a' contains a NUL"));
	ts_buf_free(&l);
	ts_buf_free(&ts);
	ts_buf_free(&wr);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_skip_invalid(void **state)
{
	(void)state;
	const ts_label good[] = {{"__name__", "ok"}};
	const ts_label bad[] = {{"__name__", "ok"}, {"1x", "y"}};
	const ts_label nameless[] = {{"a", "b"}};
	const int64_t t[] = {1, 2, 3};
	const double v[] = {1, 2, 3};
	const ingest_rw_series s[] = {
	    {good, 1, t, v, 3}, {bad, 2, t, v, 2}, {good, 1, t, v, 1}, {nameless, 1, t, v, 3}};
	ts_buf body;
	encode(s, 4, NULL, 0, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	ingest_rw_options opt = {.flags = INGEST_RW_SKIP_INVALID};
	assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_series, 2);
	assert_int_equal(res.n_samples, 4);
	assert_int_equal(res.n_series_invalid, 2);
	assert_int_equal(res.n_samples_invalid, 5);
	assert_string_equal(res.first_invalid, "series 1 ok{1x=\"y\"}: invalid label name '1x'");
	assert_int_equal(c.n, 4);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_limits(void **state)
{
	(void)state;
	ingest_limits lim = {
	    .max_labels = 3, .max_name_bytes = 8, .max_value_bytes = 4, .max_line_bytes = 1 << 20};
	static const bad_case cases[] = {
	    {{{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", "3"}},
	     4,
	     TS_ELIMIT,
	     "series 0 m{a=\"1\",b=\"2\",c=\"3\"}: 4 labels, more than 3"},
	    {{{"__name__", "long_name"}},
	     1,
	     TS_ELIMIT,
	     "value of label '__name__' longer than 8 bytes"},
	    {{{"__name__", "m"}, {"long_label", "1"}},
	     2,
	     TS_ELIMIT,
	     "label name 'long_label' longer than 8 bytes"},
	    {{{"__name__", "m"}, {"a", "12345"}},
	     2,
	     TS_ELIMIT,
	     "value of label 'a' longer than 4 bytes"},
	};
	const int64_t t[] = {1};
	const double v[] = {1};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const ingest_rw_series s[] = {{cases[i].labels, cases[i].n, t, v, 1}};
		ts_buf body;
		encode(s, 1, NULL, 0, &body);
		static capture c;
		ingest_rw_result res;
		ts_err err;
		int rc = decode(&body, NULL, &lim, &c, &res, &err);
		if (rc != cases[i].code || !strstr(err.msg, cases[i].msg))
			print_error("case %zu: rc %d '%s'\n", i, rc, err.msg);
		assert_int_equal(rc, cases[i].code);
		assert_non_null(strstr(err.msg, cases[i].msg));
		/* Skipping covers limits as well. */
		ingest_rw_options opt = {.flags = INGEST_RW_SKIP_INVALID};
		assert_int_equal(decode(&body, &opt, &lim, &c, &res, &err), TS_OK);
		assert_int_equal(res.n_series_invalid, 1);
		ts_buf_free(&body);
	}
	/* At the limits exactly; an empty value does not count. */
	const ts_label ok[] = {{"__name__", "m2345678"}, {"a", "1234"}, {"b", "x"}, {"c", ""}};
	const ingest_rw_series s[] = {{ok, 4, t, v, 1}};
	ts_buf body;
	encode(s, 1, NULL, 0, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	assert_int_equal(decode(&body, NULL, &lim, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_samples, 1);
	/* "Unlimited" limits and caps work too. */
	ingest_limits big = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
	ingest_rw_options opt = {.max_decompressed_bytes = SIZE_MAX, .max_decoded_bytes = SIZE_MAX};
	assert_int_equal(decode(&body, &opt, &big, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_samples, 1);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_size_caps(void **state)
{
	(void)state;
	ts_label l[2] = {{"__name__", "m"}, {"v", NULL}};
	char big[4000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	l[1].value = big;
	int64_t t[100];
	double v[100];
	for (int i = 0; i < 100; i++)
		t[i] = i, v[i] = i;
	ingest_rw_series s[50];
	for (int i = 0; i < 50; i++)
		s[i] = (ingest_rw_series){l, 2, t, v, 100};
	ts_buf body;
	encode(s, 50, NULL, 0, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	assert_int_equal(decode(&body, NULL, NULL, &c, &res, &err), TS_OK);
	size_t raw = res.decompressed_bytes;
	assert_int_equal(res.n_samples, 5000);
	ingest_rw_options opt = {.max_decompressed_bytes = raw - 1};
	assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_ELIMIT);
	char want[96];
	snprintf(want, sizeof(want), "decompressed body larger than %zu bytes (%zu)", raw - 1, raw);
	assert_non_null(strstr(err.msg, want));
	opt.max_decompressed_bytes = raw;
	assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_OK);
	/* The decoded form is bigger than the wire form; cap it below that. */
	opt.max_decoded_bytes = raw;
	assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_ELIMIT);
	assert_non_null(strstr(err.msg, "decoded request larger than"));
	assert_int_equal(c.n, 0);
	opt.max_decoded_bytes = 64 * raw;
	assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_OK);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_bad_body(void **state)
{
	(void)state;
	static capture c;
	ts_err err;
	ts_buf body;
	ts_buf_init(&body, 1 << 20);
	/* Empty body, and bytes that are no snappy block. */
	assert_int_equal(decode(&body, NULL, NULL, &c, NULL, &err), TS_EPARSE);
	assert_non_null(strstr(err.msg, "not a snappy block"));
	assert_int_equal(ts_buf_append(&body, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
			 TS_OK);
	assert_int_equal(decode(&body, NULL, NULL, &c, NULL, &err), TS_EPARSE);
	assert_non_null(strstr(err.msg, "not a snappy block"));
	/* A valid length header with a broken body. */
	ts_buf_reset(&body);
	assert_int_equal(ts_buf_append(&body, "\x10\xf0\x01\x02", 4), TS_OK);
	assert_int_equal(decode(&body, NULL, NULL, &c, NULL, &err), TS_EPARSE);
	assert_non_null(strstr(err.msg, "corrupt snappy block"));
	ts_buf_free(&body);

	/* Snappy fine, protobuf not: truncated, wrong wire type, bad varint, wrong
	 * nested wire type. */
	static const struct {
		const char *bytes;
		size_t n;
	} bad_pb[] = {
	    {"\x0a\x05\x0a", 3},
	    {"\x0b", 1},
	    {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12},
	    {"\x0a\x02\x10\x01", 4},         /* TimeSeries.samples as a varint */
	    {"\x0a\x04\x12\x02\x09\x00", 6}, /* Sample.value truncated */
	};
	for (size_t i = 0; i < sizeof(bad_pb) / sizeof(bad_pb[0]); i++) {
		ts_buf raw, comp;
		ts_buf_init(&raw, 64);
		assert_int_equal(ts_buf_append(&raw, bad_pb[i].bytes, bad_pb[i].n), TS_OK);
		snappy_body(&raw, &comp);
		int rc = decode(&comp, NULL, NULL, &c, NULL, &err);
		if (rc != TS_EPARSE)
			print_error("case %zu: rc %d '%s'\n", i, rc, err.msg);
		assert_int_equal(rc, TS_EPARSE);
		assert_non_null(strstr(err.msg, "not a valid WriteRequest"));
		ts_buf_free(&raw);
		ts_buf_free(&comp);
	}
	/* Arguments. */
	assert_int_equal(ingest_remote_write_decode(NULL, 5, NULL, cap_fn, &c, NULL, &err),
			 TS_EINVAL);
	assert_int_equal(ingest_remote_write_decode("x", 1, NULL, NULL, &c, NULL, &err), TS_EINVAL);
}

/* A WriteRequest with exemplars, histograms, unknown and reserved fields, -0.0. */
static void build_rich_request(ts_buf *wr)
{
	ts_buf ts;
	ts_buf_init(&ts, 1 << 20);
	ts_buf_init(wr, 1 << 20);
	pb_label(&ts, "__name__", "rpc_seconds");
	pb_label(&ts, "job", "api");
	pb_sample(&ts, 0.5, 1000);
	pb_sample(&ts, -0.0, -1); /* explicit -0.0 bits on the wire survive decoding */
	pb_bytes(&ts, 3, "\x0a\x00\x11\x00\x00\x00\x00\x00\x00\xf0\x3f", 11); /* exemplar */
	pb_bytes(&ts, 4, "\x08\x05\x19\x00\x00\x00\x00\x00\x00\x00\x40", 11); /* histogram */
	pb_bytes(&ts, 4, "", 0);
	pb_tag(&ts, 9, 0); /* unknown field in TimeSeries */
	assert_int_equal(ts_buf_put_uvarint(&ts, 7), TS_OK);
	pb_bytes(wr, 1, ts.data, ts.len);
	pb_bytes(wr, 2, "cortex-source", 13); /* reserved field 2 */
	pb_bytes(wr, 1, ts.data, ts.len);
	ts_buf_free(&ts);
}

static void test_ingest_remote_write_decode_skips_histograms_exemplars(void **state)
{
	(void)state;
	ts_buf wr, body;
	build_rich_request(&wr);
	snappy_body(&wr, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	assert_int_equal(decode(&body, NULL, NULL, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_series, 2);
	assert_int_equal(res.n_samples, 4);
	assert_int_equal(res.n_histograms_skipped, 4);
	assert_int_equal(res.n_exemplars_skipped, 2);
	assert_string_equal(c.s[0].series, "__name__=rpc_seconds,job=api");
	assert_int_equal(c.s[0].t_ms, 1000);
	assert_true(c.s[0].v_bits == 0x3fe0000000000000ULL);
	assert_true(c.s[1].v_bits == 0x8000000000000000ULL);
	assert_int_equal(c.s[1].t_ms, -1);
	ts_buf_free(&wr);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_metadata(void **state)
{
	(void)state;
	const ingest_rw_metadata md[] = {
	    {"ok_total", "counter", "Help \"quoted\".", ""},
	    {"bad-name", "gauge", "", ""},
	    {"bad_help", "gauge", "\xff", ""},
	    {"", "gauge", "", ""},
	    {"info_m", "info", "", ""},
	    {"ss", "stateset", "", ""},
	    {"gh", "gaugehistogram", "", ""},
	    {"h", "histogram", "", ""},
	    {"s", "summary", "", ""},
	};
	ts_buf body;
	encode(NULL, 0, md, 9, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	ingest_rw_options opt = {.meta_fn = meta_fn};
	assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_metadata, 6);
	assert_int_equal(res.n_metadata_invalid, 3);
	assert_string_equal(c.meta[0], "ok_total|counter|Help \"quoted\".|");
	assert_string_equal(c.meta[1], "info_m|info||");
	assert_string_equal(c.meta[2], "ss|stateset||");
	assert_string_equal(c.meta[3], "gh|gaugehistogram||");
	assert_string_equal(c.meta[4], "h|histogram||");
	assert_string_equal(c.meta[5], "s|summary||");
	/* A metadata sink error aborts. */
	memset(&c, 0, sizeof(c));
	c.meta_abort_code = TS_EBUSY;
	assert_int_equal(
	    ingest_remote_write_decode_ex(body.data, body.len, &opt, NULL, cap_fn, &c, &res, &err),
	    TS_EBUSY);
	assert_non_null(strstr(err.msg, "metadata sink failed (EBUSY)"));
	ts_buf_free(&body);
	/* Unknown enum values map to "unknown". */
	ts_buf m, wr;
	ts_buf_init(&m, 64);
	ts_buf_init(&wr, 64);
	pb_tag(&m, 1, 0);
	assert_int_equal(ts_buf_put_uvarint(&m, 42), TS_OK);
	pb_bytes(&m, 2, "fam", 3);
	pb_bytes(&wr, 3, m.data, m.len);
	snappy_body(&wr, &body);
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    ingest_remote_write_decode_ex(body.data, body.len, &opt, NULL, cap_fn, &c, &res, &err),
	    TS_OK);
	assert_string_equal(c.meta[0], "fam|unknown||");
	ts_buf_free(&m);
	ts_buf_free(&wr);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_sink_abort(void **state)
{
	(void)state;
	const ts_label l[] = {{"__name__", "m"}};
	const int64_t t[] = {1, 2, 3};
	const double v[] = {1, 2, 3};
	const ingest_rw_series s[] = {{l, 1, t, v, 3}, {l, 1, t, v, 3}};
	ts_buf body;
	encode(s, 2, NULL, 0, &body);
	static capture c;
	memset(&c, 0, sizeof(c));
	c.abort_at = 5;
	c.abort_code = TS_EBUSY;
	ts_err err = {0};
	assert_int_equal(
	    ingest_remote_write_decode(body.data, body.len, NULL, cap_fn, &c, NULL, &err),
	    TS_EBUSY);
	assert_string_equal(err.msg, "remote write: sample sink failed (EBUSY) at series 1");
	assert_int_equal(c.n, 5);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_many_fields(void **state)
{
	(void)state;
	/* Wide series (40 labels) and many samples: the decoder's arrays grow several
	 * times within one request. */
	enum { N_SERIES = 300, N_LABELS = 40, N_SAMPLES = 70 };
	static char names[N_LABELS][8], values[N_SERIES][N_LABELS][12];
	static ts_label labels[N_SERIES][N_LABELS];
	static int64_t t[N_SAMPLES];
	static double v[N_SAMPLES];
	static ingest_rw_series s[N_SERIES];
	for (int j = 0; j < N_SAMPLES; j++)
		t[j] = j * 1000, v[j] = j * 0.5;
	for (int j = 1; j < N_LABELS; j++)
		snprintf(names[j], sizeof(names[j]), "l%02d", j);
	for (int i = 0; i < N_SERIES; i++) {
		labels[i][0] = (ts_label){"__name__", "wide"};
		for (int j = 1; j < N_LABELS; j++) {
			snprintf(values[i][j], sizeof(values[i][j]), "v%d_%d", i, j);
			labels[i][j] = (ts_label){names[j], values[i][j]};
		}
		s[i] = (ingest_rw_series){labels[i], N_LABELS, t, v, N_SAMPLES};
	}
	ts_buf body;
	encode(s, N_SERIES, NULL, 0, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	ingest_limits lim = INGEST_LIMITS_DEFAULT;
	assert_int_equal(decode(&body, NULL, &lim, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_series, N_SERIES);
	assert_int_equal(res.n_samples, N_SERIES * N_SAMPLES);
	assert_int_equal(c.s[CAP_MAX - 1].t_ms, (CAP_MAX - 1) * 1000);
	assert_true(strstr(c.s[0].series, "l39=v0_39") != NULL);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_decode_alloc_failure(void **state)
{
	(void)state;
	const ts_label l[] = {{"__name__", "m"}, {"b", "2"}, {"a", "1"}};
	const int64_t t[] = {1, 2};
	const double v[] = {1, 2};
	const ingest_rw_series s[] = {{l, 3, t, v, 2}};
	ts_buf body;
	encode(s, 1, NULL, 0, &body);
	static capture c;
	bool ok = false;
	for (int64_t n = 0; n < 32 && !ok; n++) {
		ingest_rw_result res;
		ts_err err;
		memset(&c, 0, sizeof(c));
		ts_alloc_fail_after(n);
		int rc =
		    ingest_remote_write_decode(body.data, body.len, NULL, cap_fn, &c, &res, &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			ok = true;
			assert_int_equal(res.n_samples, 2);
		} else {
			assert_int_equal(rc, TS_ENOMEM);
			assert_int_equal(c.n, 0);
		}
	}
	assert_true(ok);
	/* The encoder as well: out stays unchanged on failure. */
	ok = false;
	for (int64_t n = 0; n < 32 && !ok; n++) {
		ts_buf out;
		ts_buf_init(&out, 1 << 20);
		ts_alloc_fail_after(n);
		int rc = ingest_remote_write_encode(s, 1, NULL, 0, &out, NULL);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK)
			ok = true;
		else
			assert_int_equal(out.len, 0);
		ts_buf_free(&out);
	}
	assert_true(ok);
	ts_buf_free(&body);
}

static void test_ingest_remote_write_encode_errors(void **state)
{
	(void)state;
	ts_err err;
	ts_buf out;
	ts_buf_init(&out, 16);
	const ingest_rw_metadata md[] = {{"m", "untyped", "", ""}};
	assert_int_equal(ingest_remote_write_encode(NULL, 0, md, 1, &out, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "unknown type 'untyped'"));
	const ts_label nul[] = {{"__name__", NULL}};
	const ingest_rw_series s1[] = {{nul, 1, NULL, NULL, 0}};
	assert_int_equal(ingest_remote_write_encode(s1, 1, NULL, 0, &out, &err), TS_EINVAL);
	const ts_label l[] = {{"__name__", "a_rather_long_metric_name"}};
	const ingest_rw_series s2[] = {{l, 1, NULL, NULL, 1}};
	assert_int_equal(ingest_remote_write_encode(s2, 1, NULL, 0, &out, &err), TS_EINVAL);
	assert_int_equal(ingest_remote_write_encode(NULL, 1, NULL, 0, &out, &err), TS_EINVAL);
	const ingest_rw_series s3[] = {{l, 1, NULL, NULL, 0}};
	assert_int_equal(ingest_remote_write_encode(s3, 1, NULL, 0, &out, &err), TS_ELIMIT);
	assert_int_equal(out.len, 0);
	ts_buf_free(&out);
}

/* ================================================================ real data */

typedef struct collect {
	ts_label (*labels)[16];
	size_t *n_labels;
	char *strings;
	size_t str_off, str_cap;
	int64_t *t;
	double *v;
	size_t n, cap;
} collect;

static int collect_fn(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	collect *c = ctx;
	assert_true(c->n < c->cap);
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		size_t ln = strlen(l[i].name) + 1, lv = strlen(l[i].value) + 1;
		assert_true(c->str_off + ln + lv <= c->str_cap);
		char *p = c->strings + c->str_off;
		memcpy(p, l[i].name, ln);
		memcpy(p + ln, l[i].value, lv);
		c->labels[c->n][i] = (ts_label){p, p + ln};
		c->str_off += ln + lv;
	}
	c->n_labels[c->n] = n;
	c->t[c->n] = t_ms;
	c->v[c->n] = v;
	c->n++;
	return TS_OK;
}

static void test_ingest_remote_write_decode_node_exporter(void **state)
{
	(void)state;
	gzFile f = gzopen(STRATA_SHARED_DATA "/node_exporter/node_exporter_scrape.prom", "rb");
	assert_non_null(f);
	static char text[1 << 17];
	int len = gzread(f, text, sizeof(text));
	gzclose(f);
	assert_int_equal(len, 57535);
	static collect col;
	static ts_label lab[600][16];
	static size_t nlab[600];
	static char strings[1 << 18];
	static int64_t t[600];
	static double v[600];
	col = (collect){lab, nlab, strings, 0, sizeof(strings), t, v, 0, 600};
	assert_int_equal(ingest_exposition_parse(text, (size_t)len, INGEST_EXPO_TEXT_004, 0,
						 1795231500004LL, NULL, collect_fn, NULL, &col,
						 NULL, NULL),
			 TS_OK);
	assert_int_equal(col.n, 507);
	static ingest_rw_series s[600];
	for (size_t i = 0; i < col.n; i++)
		s[i] = (ingest_rw_series){lab[i], nlab[i], &t[i], &v[i], 1};
	ts_buf body;
	encode(s, col.n, NULL, 0, &body);
	static capture c;
	ingest_rw_result res;
	ts_err err;
	assert_int_equal(decode(&body, NULL, NULL, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_series, 507);
	assert_int_equal(res.n_samples, 507);
	assert_int_equal(c.n, 507);
	for (size_t i = 0; i < CAP_MAX; i++) {
		uint64_t want;
		memcpy(&want, &v[i], sizeof(want));
		assert_true(c.s[i].v_bits == want);
		assert_int_equal(c.s[i].t_ms, 1795231500004LL);
	}
	ts_buf_free(&body);
}

/* ================================================================ fuzz seeds */

/* Write one seed: mode byte (0 = snappy body, 1 = raw protobuf) + payload. */
static void write_seed(const char *dir, const char *name, unsigned char mode, const void *p,
		       size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	fputc(mode, fp);
	if (n)
		assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* The body as mode 0 (snappy) and mode 1 (raw protobuf) seeds; `flags` adds mode bits. */
static void write_seed_pair(const char *dir, const char *name, const ts_buf *body,
			    unsigned char flags)
{
	char nm[128];
	snprintf(nm, sizeof(nm), "%s.snappy", name);
	write_seed(dir, nm, flags, body->data, body->len);
	size_t n = 0;
	assert_int_equal(snappy_uncompressed_length(body->data, body->len, &n), SNAPPY_OK);
	char *raw = malloc(n ? n : 1);
	assert_int_equal(snappy_uncompress(body->data, body->len, raw, &n), SNAPPY_OK);
	snprintf(nm, sizeof(nm), "%s.pb", name);
	write_seed(dir, nm, 1 | flags, raw, n);
	free(raw);
}

static void test_ingest_remote_write_encode_fuzz_seeds(void **state)
{
	(void)state;
	const char *dir = getenv("STRATA_RW_SEED_DIR");
	const ts_label l1[] = {{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}};
	const ts_label l2[] = {{"job", "x"}, {"__name__", "m"}, {"e", ""}};
	const ts_label l3[] = {{"__name__", "m"}, {"a", "1"}, {"a", "2"}};
	const ts_label l4[] = {{"__name__", "bad-name"}, {"b", "\xc3\xa9"}};
	const int64_t t[] = {1795231500004LL, INT64_MIN, INT64_MAX};
	const double v[] = {1, from_bits(STALE_NAN_BITS), -INFINITY};
	const ingest_rw_metadata md[] = {{"up", "gauge", "Up.", ""},
					 {"req", "counter", "Requests.", "requests"}};
	const ingest_rw_series valid[] = {{l1, 3, t, v, 3}, {l2, 3, t, v, 1}};
	const ingest_rw_series dup[] = {{l1, 3, t, v, 1}, {l3, 3, t, v, 2}};
	const ingest_rw_series bad[] = {{l4, 2, t, v, 1}};
	ts_buf a, b, c3, d;
	encode(valid, 2, md, 2, &a);
	encode(dup, 2, NULL, 0, &b);
	encode(bad, 1, NULL, 0, &c3);
	encode(NULL, 0, NULL, 0, &d);
	assert_true(a.len < 4096 && b.len < 4096 && c3.len < 4096);
	ts_buf rich, rich_body;
	build_rich_request(&rich);
	snappy_body(&rich, &rich_body);
	if (dir) {
		write_seed_pair(dir, "histograms_exemplars", &rich_body, 0);
		write_seed_pair(dir, "histograms_exemplars_scratch", &rich_body, 0x10);
		write_seed_pair(dir, "valid_metadata_scratch", &a, 0x10);
		write_seed_pair(dir, "duplicate_label_skip", &b, 0x02);
		write_seed_pair(dir, "valid_small_limits_abort", &a, 0x0c);
		write_seed_pair(dir, "valid_metadata", &a, 0);
		write_seed_pair(dir, "duplicate_label", &b, 0);
		write_seed_pair(dir, "invalid_name", &c3, 0);
		write_seed_pair(dir, "empty", &d, 0);
		write_seed(dir, "not_snappy", 0, "\xff\xff\xff\x0a", 4);
	}
	ts_buf_free(&rich);
	ts_buf_free(&rich_body);
	ts_buf_free(&a);
	ts_buf_free(&b);
	ts_buf_free(&c3);
	ts_buf_free(&d);
}

static void test_ingest_rw_pool_scratch_reuse(void **state)
{
	(void)state;
	/* Requests of growing, then shrinking, size through one scratch give the same
	 * samples as without it; a bad body in between leaves it usable. */
	enum { N = 300 };
	static char vals[N][16];
	static ts_label labels[N][3];
	static ingest_rw_series s[N];
	static const int64_t t[] = {1000, 2000};
	static const double v[] = {1.5, 2.5};
	for (int i = 0; i < N; i++) {
		snprintf(vals[i], sizeof(vals[i]), "h%d", i);
		labels[i][0] = (ts_label){"__name__", "up"};
		labels[i][1] = (ts_label){"instance", vals[i]};
		labels[i][2] = (ts_label){"job", "node"};
		s[i] = (ingest_rw_series){labels[i], 3, t, v, 2};
	}
	ingest_rw_pool *pool;
	assert_int_equal(ingest_rw_pool_new(&pool, NULL), TS_OK);
	static const size_t sizes[] = {1, 30, 300, 2, 300, 0};
	static capture c, ref;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		ts_buf body;
		encode(s, sizes[k], NULL, 0, &body);
		ingest_rw_options opt = {.scratch = ingest_rw_pool_get(pool)};
		assert_non_null(opt.scratch);
		ingest_rw_result res, res_ref;
		ts_err err;
		assert_int_equal(decode(&body, &opt, NULL, &c, &res, &err), TS_OK);
		assert_int_equal(decode(&body, NULL, NULL, &ref, &res_ref, &err), TS_OK);
		assert_int_equal(res.n_samples, 2 * sizes[k]);
		assert_int_equal(res.n_samples, res_ref.n_samples);
		assert_int_equal(c.n, ref.n);
		assert_memory_equal(c.s, ref.s, sizeof(c.s));
		if (k == 2) { /* garbage through the same scratch */
			static const char junk[] =
			    "\x03\x08\x0a\x05\x0a"; /* snappy literal 0a 05 0a */
			memset(&c, 0, sizeof(c));
			assert_int_equal(ingest_remote_write_decode_ex(junk, 5, &opt, NULL, cap_fn,
								       &c, NULL, &err),
					 TS_EPARSE);
			assert_non_null(strstr(err.msg, "not a valid WriteRequest"));
		}
		ingest_rw_pool_put(pool, opt.scratch);
		ts_buf_free(&body);
	}
	/* More scratches than the pool keeps: the extra ones are freed (ASan checks). */
	ingest_rw_scratch *many[INGEST_RW_POOL_MAX + 2];
	for (int i = 0; i < INGEST_RW_POOL_MAX + 2; i++)
		assert_non_null(many[i] = ingest_rw_pool_get(pool));
	for (int i = 0; i < INGEST_RW_POOL_MAX + 2; i++)
		ingest_rw_pool_put(pool, many[i]);
	ingest_rw_pool_put(pool, NULL);
	ingest_rw_pool_free(pool);
	/* No pool: get gives none, put frees. */
	assert_null(ingest_rw_pool_get(NULL));
	ingest_rw_pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_remote_write_decode_roundtrip),
	    cmocka_unit_test(test_ingest_remote_write_decode_normalizes),
	    cmocka_unit_test(test_ingest_remote_write_decode_invalid_series),
	    cmocka_unit_test(test_ingest_remote_write_decode_nul_in_value),
	    cmocka_unit_test(test_ingest_remote_write_decode_skip_invalid),
	    cmocka_unit_test(test_ingest_remote_write_decode_limits),
	    cmocka_unit_test(test_ingest_remote_write_decode_size_caps),
	    cmocka_unit_test(test_ingest_remote_write_decode_bad_body),
	    cmocka_unit_test(test_ingest_remote_write_decode_skips_histograms_exemplars),
	    cmocka_unit_test(test_ingest_remote_write_decode_metadata),
	    cmocka_unit_test(test_ingest_remote_write_decode_sink_abort),
	    cmocka_unit_test(test_ingest_remote_write_decode_many_fields),
	    cmocka_unit_test(test_ingest_remote_write_decode_alloc_failure),
	    cmocka_unit_test(test_ingest_remote_write_encode_errors),
	    cmocka_unit_test(test_ingest_remote_write_decode_node_exporter),
	    cmocka_unit_test(test_ingest_remote_write_encode_fuzz_seeds),
	    cmocka_unit_test(test_ingest_rw_pool_scratch_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
