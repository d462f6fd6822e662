/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_remote_write_pb.c: tests for ingest/remote_write_pb.c, the hand-written
 * WriteRequest decoder, with protobuf-c (the generated ingest/remote.pb-c.h) as the
 * reference.
 *
 * Property tests (fixed seeds): random WriteRequests (random byte strings incl. empty and
 * NUL bytes, random value bits incl. NaN payloads, any int64 timestamp, exemplars,
 * histograms, metadata with any enum value, unknown fields of every wire type at every
 * level) are packed by protobuf-c and must decode to the same series, labels, samples
 * and metadata; every truncation and random byte mutations of them must be accepted or
 * rejected exactly as protobuf-c does, with equal contents when accepted and a message
 * naming the problem and byte offset when not. Unit tests: each malformation, the size
 * cap, allocation failures, reuse of one request, in-place NUL termination.
 */
#include "ingest/remote.pb-c.h"
#include "ingest/remote_write_pb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ================================================================ random requests */

typedef struct rng {
	uint64_t s;
} rng;

static uint64_t next(rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static size_t below(rng *r, size_t n)
{
	return n ? (size_t)(next(r) % n) : 0;
}

/* Everything a random request points to, freed in one go. */
typedef struct pool {
	void *p[8192];
	size_t n;
} pool;

static void *pool_alloc(pool *pl, size_t n)
{
	assert_true(pl->n < sizeof(pl->p) / sizeof(pl->p[0]));
	void *x = calloc(1, n ? n : 1);
	assert_non_null(x);
	pl->p[pl->n++] = x;
	return x;
}

static void pool_free(pool *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->p[i]);
	pl->n = 0;
}

static ProtobufCBinaryData rand_bytes(rng *r, pool *pl)
{
	ProtobufCBinaryData b = {0, NULL};
	size_t kind = below(r, 8);
	b.len = kind == 0 ? 0 : kind < 6 ? below(r, 12) : below(r, 300);
	b.data = pool_alloc(pl, b.len);
	for (size_t i = 0; i < b.len; i++)
		b.data[i] = below(r, 4) ? (uint8_t)('a' + below(r, 26)) : (uint8_t)next(r);
	return b;
}

/* Raw wire bytes of an unknown field's value for wire type wt (protobuf-c copies them). */
static void rand_unknown(rng *r, pool *pl, ProtobufCMessage *m)
{
	static const ProtobufCWireType wts[] = {
	    PROTOBUF_C_WIRE_TYPE_VARINT, PROTOBUF_C_WIRE_TYPE_64BIT,
	    PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, PROTOBUF_C_WIRE_TYPE_32BIT};
	if (below(r, 6) != 0)
		return;
	size_t n = 1 + below(r, 2);
	m->unknown_fields = pool_alloc(pl, n * sizeof(*m->unknown_fields));
	m->n_unknown_fields = n;
	for (size_t i = 0; i < n; i++) {
		ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
		/* Not a field of any of our messages; sometimes past 2^29 - 1 (5-byte tags). */
		u->tag = 6 + (uint32_t)(below(r, 4) ? below(r, 1000) : below(r, UINT32_MAX - 6));
		u->wire_type = wts[below(r, 4)];
		uint8_t *d = pool_alloc(pl, 32);
		size_t len = 0;
		switch (u->wire_type) {
		case PROTOBUF_C_WIRE_TYPE_VARINT: {
			size_t k = 1 + below(r, 10);
			for (size_t j = 0; j + 1 < k; j++)
				d[len++] = (uint8_t)(0x80 | next(r));
			d[len++] = (uint8_t)(below(r, 2)); /* last byte: no continuation */
			break;
		}
		case PROTOBUF_C_WIRE_TYPE_64BIT: len = 8; break;
		case PROTOBUF_C_WIRE_TYPE_32BIT: len = 4; break;
		default:
			d[0] = (uint8_t)below(r, 20);
			len = 1 + d[0];
			for (size_t j = 1; j < len; j++)
				d[j] = (uint8_t)next(r);
			break;
		}
		if (u->wire_type == PROTOBUF_C_WIRE_TYPE_64BIT ||
		    u->wire_type == PROTOBUF_C_WIRE_TYPE_32BIT)
			for (size_t j = 0; j < len; j++)
				d[j] = (uint8_t)next(r);
		u->len = len;
		u->data = d;
	}
}

static double rand_value(rng *r)
{
	static const uint64_t special[] = {0,
					   0x8000000000000000ull,
					   0x7ff0000000000002ull,
					   0x7ff8000000000001ull,
					   0x7ff0000000000000ull,
					   0xfff0000000000000ull,
					   0x3ff0000000000000ull};
	uint64_t bits = below(r, 3) ? next(r) : special[below(r, 7)];
	double v;
	memcpy(&v, &bits, sizeof(v));
	return v;
}

static int64_t rand_ts(rng *r)
{
	switch (below(r, 4)) {
	case 0: return (int64_t)next(r);
	case 1: return -(int64_t)below(r, 1000000);
	case 2: return below(r, 2) ? INT64_MIN : INT64_MAX;
	default: return 1700000000000 + (int64_t)below(r, 1000000000);
	}
}

/* A random WriteRequest packed by protobuf-c into *out (malloc'd, *len bytes). */
static void rand_request(rng *r, pool *pl, uint8_t **out, size_t *len)
{
	Prometheus__WriteRequest *wr = pool_alloc(pl, sizeof(*wr));
	prometheus__write_request__init(wr);
	rand_unknown(r, pl, &wr->base);
	wr->n_timeseries = below(r, 12);
	wr->timeseries = pool_alloc(pl, wr->n_timeseries * sizeof(*wr->timeseries));
	for (size_t i = 0; i < wr->n_timeseries; i++) {
		Prometheus__TimeSeries *ts = pool_alloc(pl, sizeof(*ts));
		prometheus__time_series__init(ts);
		rand_unknown(r, pl, &ts->base);
		ts->n_labels = below(r, 9);
		ts->labels = pool_alloc(pl, ts->n_labels * sizeof(*ts->labels));
		for (size_t j = 0; j < ts->n_labels; j++) {
			Prometheus__Label *l = pool_alloc(pl, sizeof(*l));
			prometheus__label__init(l);
			rand_unknown(r, pl, &l->base);
			l->name = rand_bytes(r, pl);
			l->value = rand_bytes(r, pl);
			ts->labels[j] = l;
		}
		ts->n_samples = below(r, 6);
		ts->samples = pool_alloc(pl, ts->n_samples * sizeof(*ts->samples));
		for (size_t j = 0; j < ts->n_samples; j++) {
			Prometheus__Sample *s = pool_alloc(pl, sizeof(*s));
			prometheus__sample__init(s);
			rand_unknown(r, pl, &s->base);
			s->value = rand_value(r);
			s->timestamp = rand_ts(r);
			ts->samples[j] = s;
		}
		ts->n_exemplars = below(r, 4) == 0 ? below(r, 3) : 0;
		ts->exemplars = pool_alloc(pl, ts->n_exemplars * sizeof(*ts->exemplars));
		for (size_t j = 0; j < ts->n_exemplars; j++)
			ts->exemplars[j] = rand_bytes(r, pl);
		ts->n_histograms = below(r, 4) == 0 ? below(r, 3) : 0;
		ts->histograms = pool_alloc(pl, ts->n_histograms * sizeof(*ts->histograms));
		for (size_t j = 0; j < ts->n_histograms; j++)
			ts->histograms[j] = rand_bytes(r, pl);
		wr->timeseries[i] = ts;
	}
	wr->n_metadata = below(r, 3) == 0 ? below(r, 4) : 0;
	wr->metadata = pool_alloc(pl, wr->n_metadata * sizeof(*wr->metadata));
	for (size_t i = 0; i < wr->n_metadata; i++) {
		Prometheus__MetricMetadata *m = pool_alloc(pl, sizeof(*m));
		prometheus__metric_metadata__init(m);
		rand_unknown(r, pl, &m->base);
		m->type = (Prometheus__MetricMetadata__MetricType)(below(r, 5) ? (int)below(r, 8)
									       : (int)next(r));
		m->metric_family_name = rand_bytes(r, pl);
		m->help = rand_bytes(r, pl);
		m->unit = rand_bytes(r, pl);
		wr->metadata[i] = m;
	}
	*len = prometheus__write_request__get_packed_size(wr);
	*out = malloc(*len + 1);
	assert_non_null(*out);
	assert_int_equal(prometheus__write_request__pack(wr, *out), *len);
}

/* ================================================================ comparison */

static bool str_eq(const ingest_pb_str *s, const ProtobufCBinaryData *b)
{
	return s->len == b->len && (b->len == 0 || memcmp(s->p, b->data, b->len) == 0) &&
	       s->p[s->len] == '\0';
}

/* Assert that the hand decoder's r equals protobuf-c's wr. */
static void assert_same(const ingest_pb_write_request *r, const Prometheus__WriteRequest *wr)
{
	assert_int_equal(r->n_series, wr->n_timeseries);
	assert_int_equal(r->n_metadata, wr->n_metadata);
	size_t n_lab = 0, n_smp = 0;
	for (size_t i = 0; i < wr->n_timeseries; i++) {
		const Prometheus__TimeSeries *ts = wr->timeseries[i];
		const ingest_pb_series *s = &r->series[i];
		assert_int_equal(s->n_labels, ts->n_labels);
		assert_int_equal(s->n_samples, ts->n_samples);
		assert_int_equal(s->n_exemplars, ts->n_exemplars);
		assert_int_equal(s->n_histograms, ts->n_histograms);
		assert_int_equal(s->label_off, n_lab);
		assert_int_equal(s->sample_off, n_smp);
		for (size_t j = 0; j < ts->n_labels; j++) {
			assert_true(
			    str_eq(&r->labels[s->label_off + j].name, &ts->labels[j]->name));
			assert_true(
			    str_eq(&r->labels[s->label_off + j].value, &ts->labels[j]->value));
		}
		for (size_t j = 0; j < ts->n_samples; j++) {
			const ingest_pb_sample *x = &r->samples[s->sample_off + j];
			assert_int_equal(x->t_ms, ts->samples[j]->timestamp);
			assert_memory_equal(&x->v, &ts->samples[j]->value, sizeof(double));
		}
		n_lab += ts->n_labels;
		n_smp += ts->n_samples;
	}
	assert_int_equal(r->n_labels, n_lab);
	assert_int_equal(r->n_samples, n_smp);
	for (size_t i = 0; i < wr->n_metadata; i++) {
		const Prometheus__MetricMetadata *m = wr->metadata[i];
		assert_int_equal(r->metadata[i].type, (int32_t)m->type);
		assert_true(str_eq(&r->metadata[i].family, &m->metric_family_name));
		assert_true(str_eq(&r->metadata[i].help, &m->help));
		assert_true(str_eq(&r->metadata[i].unit, &m->unit));
	}
}

/*
 * Decode bytes[0..len) with both decoders: they must agree on success, and on the
 * contents when both succeed. Returns whether it decoded.
 */
static bool check_both(ingest_pb_write_request *r, const uint8_t *bytes, size_t len)
{
	Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, len, bytes);
	char *buf = malloc(len + 1);
	assert_non_null(buf);
	if (len)
		memcpy(buf, bytes, len);
	ts_err err;
	ts_err_clear(&err);
	int rc = ingest_pb_write_request_decode(r, buf, len, &err);
	if ((rc == TS_OK) != (wr != NULL))
		print_error("disagree on %zu bytes: hand rc %d '%s', protobuf-c %s\n", len, rc,
			    err.msg, wr ? "ok" : "error");
	assert_int_equal(rc == TS_OK, wr != NULL);
	if (wr) {
		assert_same(r, wr);
		prometheus__write_request__free_unpacked(wr, NULL);
	} else {
		assert_int_equal(rc, TS_EPARSE);
		assert_non_null(strstr(err.msg, " at byte "));
		assert_memory_equal(buf, bytes, len); /* untouched on failure */
		assert_int_equal(r->n_series, 0);
	}
	free(buf);
	return rc == TS_OK;
}

/* ================================================================ property tests */

static void test_ingest_pb_write_request_decode_matches_protobuf_c(void **state)
{
	(void)state;
	rng r = {0x5eed0001ull};
	pool *pl = calloc(1, sizeof(*pl));
	ingest_pb_write_request req;
	ingest_pb_write_request_init(&req, (size_t)1 << 30);
	size_t n_series = 0;
	for (int iter = 0; iter < 400; iter++) {
		uint8_t *bytes;
		size_t len;
		rand_request(&r, pl, &bytes, &len);
		assert_true(check_both(&req, bytes, len));
		n_series += req.n_series;
		free(bytes);
		pool_free(pl);
	}
	assert_true(n_series > 1000); /* the generator is not degenerate */
	ingest_pb_write_request_fini(&req);
	free(pl);
}

static void test_ingest_pb_write_request_decode_truncated_and_mutated(void **state)
{
	(void)state;
	rng r = {0x5eed0002ull};
	pool *pl = calloc(1, sizeof(*pl));
	ingest_pb_write_request req;
	ingest_pb_write_request_init(&req, (size_t)1 << 30);
	size_t n_ok = 0, n_fail = 0;
	for (int iter = 0; iter < 40; iter++) {
		uint8_t *bytes;
		size_t len;
		rand_request(&r, pl, &bytes, &len);
		/* Every prefix: a cut at a field boundary is still a valid request. */
		for (size_t cut = 0; cut < len; cut++) {
			if (check_both(&req, bytes, cut))
				n_ok++;
			else
				n_fail++;
		}
		/* Random byte flips, one to four at a time. */
		uint8_t *m = malloc(len + 1);
		for (int k = 0; k < 200 && len; k++) {
			memcpy(m, bytes, len);
			size_t flips = 1 + below(&r, 4);
			for (size_t f = 0; f < flips; f++)
				m[below(&r, len)] =
				    below(&r, 2) ? (uint8_t)next(&r) : (uint8_t)(m[0] ^ 0x80);
			if (check_both(&req, m, len))
				n_ok++;
			else
				n_fail++;
		}
		free(m);
		free(bytes);
		pool_free(pl);
	}
	assert_true(n_ok > 100 && n_fail > 100); /* both outcomes were exercised */
	ingest_pb_write_request_fini(&req);
	free(pl);
}

/* ================================================================ unit tests */

static int decode_bytes(ingest_pb_write_request *r, const char *bytes, size_t len, ts_err *err)
{
	static char buf[256];
	assert_true(len < sizeof(buf));
	memcpy(buf, bytes, len);
	return ingest_pb_write_request_decode(r, buf, len, err);
}

static void test_ingest_pb_write_request_decode_errors(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t n;
		const char *msg;
	} bad[] = {
	    {"\x0a\x05\x0a", 3, "TimeSeries: length past the end of the message at byte 1"},
	    {"\x0b", 1, "WriteRequest: field has the wrong wire type at byte 1"},
	    {"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
	     "WriteRequest: bad varint at byte 1"},
	    {"\x0a\x02\x10\x01", 4, "TimeSeries: field has the wrong wire type at byte 3"},
	    {"\x0a\x04\x12\x02\x09\x00", 6, "Sample.value: truncated double at byte 5"},
	    {"\x0a\x04\x12\x02\x10\x80", 6, "Sample.timestamp: bad varint at byte 5"},
	    {"\x0a\x03\x0a\x01\x08", 5, "Label.name: field has the wrong wire type at byte 5"},
	    {"\x0a\x04\x0a\x02\x0a\x05", 6, "Label.name: length past the end"},
	    {"\x0a\x02\x12\x05\x12\x00\x00\x00\x00", 9,
	     "TimeSeries: length past the end of the message at byte 3"}, /* past the parent */
	    {"\x00", 1, "WriteRequest: invalid field number 0 at byte 0"},
	    {"\x80", 1, "WriteRequest: bad tag varint at byte 0"},
	    {"\x0a\x80\x80\x80\x80\x80\x01", 7, "TimeSeries: bad length varint at byte 1"},
	    {"\x0a\xff\xff\xff\xff\x0f", 6, "TimeSeries: length past the end"},
	    {"\x1a\x02\x08\xff", 4, "MetricMetadata.type: bad varint at byte 3"},
	    {"\x1a\x02\x12\x01", 4, "MetricMetadata.metric_family_name: length past the end"},
	    {"\x1a\x01\x33", 3, "MetricMetadata: unsupported wire type"},
	    {"\x0a\x01\x1d", 3, "TimeSeries: field has the wrong wire type"}, /* exemplar */
	    {"\x15\x00\x00\x00", 4, "WriteRequest: truncated fixed-size value at byte 1"},
	    {"\x0a\x00\x17", 3, "WriteRequest: unsupported wire type"},
	};
	ingest_pb_write_request r;
	ingest_pb_write_request_init(&r, 1 << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ts_err err;
		ts_err_clear(&err);
		int rc = decode_bytes(&r, bad[i].bytes, bad[i].n, &err);
		if (rc != TS_EPARSE || !strstr(err.msg, bad[i].msg))
			print_error("case %zu: rc %d '%s'\n", i, rc, err.msg);
		assert_int_equal(rc, TS_EPARSE);
		assert_non_null(strstr(err.msg, bad[i].msg));
		assert_int_equal(r.n_series + r.n_labels + r.n_samples + r.n_metadata, 0);
		/* protobuf-c rejects these as well. */
		assert_null(prometheus__write_request__unpack(NULL, bad[i].n,
							      (const uint8_t *)bad[i].bytes));
	}
	ingest_pb_write_request_fini(&r);
}

static void test_ingest_pb_write_request_decode_fields(void **state)
{
	(void)state;
	/* Series: label {a=""} with an unknown fixed32, label {__name__=m}, sample with
	 * value 1.0 and timestamp -1 (10-byte varint), then again value given twice (the
	 * last wins), an exemplar, a histogram; reserved field 2; metadata type 2. */
	static const char wire[] =
	    "\x0a\x49"
	    "\x0a\x0a\x0a\x01"
	    "a"
	    "\x12\x00\x25\x01\x02\x03\x04"
	    "\x0a\x0d\x0a\x08__name__\x12\x01m"
	    "\x12\x14\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x10\xff\xff\xff\xff\xff\xff\xff\xff"
	    "\xff\x01"
	    "\x12\x12\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x09\x00\x00\x00\x00\x00\x00\x00\x40"
	    "\x1a\x00\x22\x00"
	    "\x12\x03xyz"
	    "\x1a\x07\x08\x02\x12\x03m_t";
	char buf[sizeof(wire)];
	memcpy(buf, wire, sizeof(wire));
	size_t len = sizeof(wire) - 1;
	ingest_pb_write_request r;
	ingest_pb_write_request_init(&r, 1 << 20);
	ts_err err;
	ts_err_clear(&err);
	int rc = ingest_pb_write_request_decode(&r, buf, len, &err);
	if (rc)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, TS_OK);
	assert_int_equal(r.n_series, 1);
	assert_int_equal(r.series[0].n_labels, 2);
	assert_string_equal(r.labels[0].name.p, "a");
	assert_string_equal(r.labels[0].value.p, "");
	assert_string_equal(r.labels[1].name.p, "__name__");
	assert_string_equal(r.labels[1].value.p, "m");
	assert_int_equal(r.series[0].n_samples, 2);
	assert_int_equal(r.samples[0].t_ms, -1);
	assert_true(r.samples[0].v == 1.0);
	assert_int_equal(r.samples[1].t_ms, 0);
	assert_true(r.samples[1].v == 2.0);
	assert_int_equal(r.series[0].n_exemplars, 1);
	assert_int_equal(r.series[0].n_histograms, 1);
	assert_int_equal(r.n_metadata, 1);
	assert_int_equal(r.metadata[0].type, 2);
	assert_string_equal(r.metadata[0].family.p, "m_t");
	assert_string_equal(r.metadata[0].help.p, "");
	/* Strings are terminated in the buffer itself. */
	assert_ptr_equal(r.labels[1].name.p, buf + 18);
	/* Odd tags protobuf-c accepts as unknown fields: a padded zero tag, a field number
	 * past 2^29 - 1 (found by fuzzing the differential check), at every level. */
	static const char odd[] =
	    "\x80\x00\x05"
	    "\x80\x80\x80\x80\x10\x00"
	    "\x0a\x0e\x80\x80\x80\x80\x7f\x00\x12\x06\x80\x00\x00\x10\x80\x01";
	memcpy(buf, odd, sizeof(odd) - 1);
	assert_int_equal(ingest_pb_write_request_decode(&r, buf, sizeof(odd) - 1, &err), TS_OK);
	assert_int_equal(r.n_series, 1);
	assert_int_equal(r.n_samples, 1);
	assert_int_equal(r.samples[0].t_ms, 128);
	Prometheus__WriteRequest *ref =
	    prometheus__write_request__unpack(NULL, sizeof(odd) - 1, (const uint8_t *)odd);
	assert_non_null(ref);
	prometheus__write_request__free_unpacked(ref, NULL);
	/* The empty request. */
	assert_int_equal(ingest_pb_write_request_decode(&r, buf, 0, &err), TS_OK);
	assert_int_equal(r.n_series + r.n_labels + r.n_samples + r.n_metadata, 0);
	ingest_pb_write_request_fini(&r);
	ingest_pb_write_request_fini(NULL);
}

/* A request of n one-sample series with 3 labels each, packed by protobuf-c. */
static uint8_t *many_series(size_t n, size_t *len)
{
	Prometheus__TimeSeries *ts = calloc(n, sizeof(*ts));
	Prometheus__TimeSeries **tsp = calloc(n, sizeof(*tsp));
	Prometheus__Label lab[3];
	Prometheus__Label *labp[3] = {&lab[0], &lab[1], &lab[2]};
	static const char *kv[3][2] = {{"__name__", "up"}, {"instance", "h:9100"}, {"job", "n"}};
	for (int i = 0; i < 3; i++) {
		prometheus__label__init(&lab[i]);
		lab[i].name.data = (uint8_t *)(uintptr_t)kv[i][0];
		lab[i].name.len = strlen(kv[i][0]);
		lab[i].value.data = (uint8_t *)(uintptr_t)kv[i][1];
		lab[i].value.len = strlen(kv[i][1]);
	}
	Prometheus__Sample smp;
	prometheus__sample__init(&smp);
	smp.value = 1;
	smp.timestamp = 1000;
	Prometheus__Sample *smpp = &smp;
	for (size_t i = 0; i < n; i++) {
		prometheus__time_series__init(&ts[i]);
		ts[i].n_labels = 3;
		ts[i].labels = labp;
		ts[i].n_samples = 1;
		ts[i].samples = &smpp;
		tsp[i] = &ts[i];
	}
	Prometheus__WriteRequest wr;
	prometheus__write_request__init(&wr);
	wr.n_timeseries = n;
	wr.timeseries = tsp;
	*len = prometheus__write_request__get_packed_size(&wr);
	uint8_t *out = malloc(*len + 1);
	prometheus__write_request__pack(&wr, out);
	free(ts);
	free(tsp);
	return out;
}

static void test_ingest_pb_write_request_decode_limit_and_reuse(void **state)
{
	(void)state;
	size_t len;
	uint8_t *bytes = many_series(1000, &len);
	char *buf = malloc(len + 1);
	ts_err err;
	ingest_pb_write_request r;
	/* The cap covers the buffer itself plus the arrays. */
	ingest_pb_write_request_init(&r, len - 1);
	memcpy(buf, bytes, len);
	assert_int_equal(ingest_pb_write_request_decode(&r, buf, len, &err), TS_ELIMIT);
	assert_non_null(strstr(err.msg, "decoded request larger than"));
	ingest_pb_write_request_fini(&r);
	ingest_pb_write_request_init(&r, len + 1000);
	assert_int_equal(ingest_pb_write_request_decode(&r, buf, len, &err), TS_ELIMIT);
	assert_int_equal(r.n_series, 0);
	assert_memory_equal(buf, bytes, len);
	ingest_pb_write_request_fini(&r);
	/* Enough room: decode, then decode again into the same arrays. */
	ingest_pb_write_request_init(&r, (size_t)1 << 24);
	for (int k = 0; k < 3; k++) {
		memcpy(buf, bytes, len);
		assert_int_equal(ingest_pb_write_request_decode(&r, buf, len, &err), TS_OK);
		assert_int_equal(r.n_series, 1000);
		assert_int_equal(r.n_labels, 3000);
		assert_int_equal(r.n_samples, 1000);
		assert_string_equal(r.labels[2999].value.p, "n");
	}
	size_t used = r.used_bytes;
	memcpy(buf, bytes, len);
	assert_int_equal(ingest_pb_write_request_decode(&r, buf, len, &err), TS_OK);
	assert_int_equal(r.used_bytes, used); /* no growth on reuse */
	ingest_pb_write_request_fini(&r);
	free(buf);
	free(bytes);
}

static void test_ingest_pb_write_request_decode_alloc_failure(void **state)
{
	(void)state;
	size_t len;
	uint8_t *bytes = many_series(200, &len);
	char *buf = malloc(len + 1);
	bool ok = false;
	for (int64_t n = 0; n < 64 && !ok; n++) {
		ingest_pb_write_request r;
		ingest_pb_write_request_init(&r, (size_t)1 << 24);
		memcpy(buf, bytes, len);
		ts_err err;
		ts_alloc_fail_after(n);
		int rc = ingest_pb_write_request_decode(&r, buf, len, &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			ok = true;
			assert_int_equal(r.n_series, 200);
		} else {
			assert_int_equal(rc, TS_ENOMEM);
			assert_non_null(strstr(err.msg, "no memory"));
			assert_int_equal(r.n_series, 0);
		}
		ingest_pb_write_request_fini(&r);
	}
	assert_true(ok);
	free(buf);
	free(bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_pb_write_request_decode_matches_protobuf_c),
	    cmocka_unit_test(test_ingest_pb_write_request_decode_truncated_and_mutated),
	    cmocka_unit_test(test_ingest_pb_write_request_decode_errors),
	    cmocka_unit_test(test_ingest_pb_write_request_decode_fields),
	    cmocka_unit_test(test_ingest_pb_write_request_decode_limit_and_reuse),
	    cmocka_unit_test(test_ingest_pb_write_request_decode_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
