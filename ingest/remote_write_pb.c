/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote_write_pb.c: hand-written protobuf wire-format decoder for prometheus.WriteRequest.
 *
 * Why not protobuf-c: its generic unpack walks field descriptors, allocates every message,
 * string and repeated array (~15 allocations per one-sample series) and copies every
 * string; for remote write that was the largest per-sample cost after the store. This
 * decoder knows the five message types of ingest/proto/remote.proto and writes straight
 * into flat arrays (ingest_pb_write_request): labels and metadata strings point into the
 * caller's buffer, samples are copied as (t_ms, v) pairs. protobuf-c stays the reference:
 * tests/ingest/test_remote_write_pb.c checks both agree on random requests and mutations.
 *
 * Wire format (https://protobuf.dev/programming-guides/encoding/): a message is a
 * sequence of (tag, value); tag = varint (field << 3 | wire type); wire types 0 varint
 * (up to 10 bytes, little-endian base 128), 1 fixed64 (8 bytes LE), 2 length-delimited
 * (varint length, then that many bytes), 5 fixed32 (4 bytes LE); 3 and 4 (groups) are
 * deprecated and rejected, as protobuf-c does.
 *
 *   WriteRequest    1: TimeSeries (2)      3: MetricMetadata (2)     2 reserved
 *   TimeSeries      1: Label (2)           2: Sample (2)
 *                   3: Exemplar (2, counted)  4: Histogram (2, counted)
 *   Label           1: name (2)            2: value (2)
 *   Sample          1: value double (1)    2: timestamp int64 (0)
 *   MetricMetadata  1: type enum (0)       2: metric_family_name (2)  4: help (2)  5: unit (2)
 *
 * Tags are read as protobuf-c reads them (the reference decoder; see get_tag), so both
 * accept exactly the same inputs.
 *
 * Invariants: every read is checked against the end of the enclosing message (a nested
 * message's end is its length, itself checked against its parent's end), so no read
 * leaves buf[0..len); nesting follows the schema only (three levels), unknown fields are
 * skipped without looking inside. Strings are NUL-terminated only after the whole request
 * parsed: the byte after a string is a tag (or the end of buf, hence len + 1 bytes), which
 * must not be overwritten while it may still be read. String leaves never overlap and are
 * each preceded by their own length byte, so no terminator lands inside another string.
 *
 * Not done here: validation of names and values (remote_write.c), UTF-8, packed
 * encodings (the schema has no repeated scalar field), the contents of exemplars and
 * native histograms.
 */
#include "ingest/remote_write_pb.h"

#include <stdbool.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Longest length prefix (protobuf-c's limit; a message is under 2 GiB). */
#define PB_MAX_LEN_BYTES 5
#define PB_MAX_LEN       ((uint64_t)INT32_MAX)

typedef struct pb_ctx {
	ingest_pb_write_request *r;
	const uint8_t *base; /* buf, for byte offsets in messages */
	ts_err *err;
} pb_ctx;

/* ================================================================ primitives */

/* Varint of at most max_n bytes at p (< end). Returns the bytes read, 0 when it is
 * truncated or longer. Bits past 64 are dropped, as every decoder does. */
static inline size_t get_varint(const uint8_t *p, const uint8_t *end, size_t max_n, uint64_t *out)
{
	if (p < end && *p < 0x80) {
		*out = *p;
		return 1;
	}
	size_t n = (size_t)(end - p);
	if (n > max_n)
		n = max_n;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] < 0x80) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}

static int parse_fail(pb_ctx *c, const uint8_t *at, const char *what, const char *msg)
{
	return ts_err_set(c->err, TS_EPARSE, "%s: %s at byte %zu", what, msg,
			  (size_t)(at - c->base));
}

/* Tag at *pp: field number and wire type; advances *pp. */
static inline int get_tag(pb_ctx *c, const uint8_t **pp, const uint8_t *end, const char *what,
			  uint32_t *field, unsigned *wt)
{
	uint64_t t = 0;
	size_t n = get_varint(*pp, end, 5, &t);
	if (n == 0)
		return parse_fail(c, *pp, what, "bad tag varint");
	/* Field 0 in a one-byte tag is invalid; like protobuf-c (the reference), a padded
	 * zero tag and numbers past 2^29 - 1 are unknown fields, skipped. */
	if (n == 1 && t < 8)
		return parse_fail(c, *pp, what, "invalid field number 0");
	*field = (uint32_t)(t >> 3); /* t < 2^35 */
	*wt = (unsigned)(t & 7);
	*pp += n;
	return TS_OK;
}

/* Length-delimited value at *pp: its bytes are [*start, *start + *len); advances *pp past. */
static inline int get_len(pb_ctx *c, const uint8_t **pp, const uint8_t *end, const char *what,
			  const uint8_t **start, size_t *len)
{
	uint64_t l = 0;
	size_t n = get_varint(*pp, end, PB_MAX_LEN_BYTES, &l);
	if (n == 0)
		return parse_fail(c, *pp, what, "bad length varint");
	if (l > PB_MAX_LEN || l > (uint64_t)(end - (*pp + n)))
		return parse_fail(c, *pp, what, "length past the end of the message");
	*start = *pp + n;
	*len = (size_t)l;
	*pp = *start + l;
	return TS_OK;
}

/* Skip the value of an unknown field of wire type wt at *pp. */
static int skip_value(pb_ctx *c, const uint8_t **pp, const uint8_t *end, const char *what,
		      unsigned wt)
{
	uint64_t v = 0;
	size_t n = 0;
	const uint8_t *s = NULL;
	switch (wt) {
	case WT_VARINT:
		n = get_varint(*pp, end, 10, &v);
		if (n == 0)
			return parse_fail(c, *pp, what, "bad varint");
		*pp += n;
		return TS_OK;
	case WT_I64:
	case WT_I32:
		n = wt == WT_I64 ? 8 : 4;
		if ((size_t)(end - *pp) < n)
			return parse_fail(c, *pp, what, "truncated fixed-size value");
		*pp += n;
		return TS_OK;
	case WT_LEN: return get_len(c, pp, end, what, &s, &n);
	default: return parse_fail(c, *pp, what, "unsupported wire type (group or invalid)");
	}
}

/* A known field arrived with another wire type than the schema's. */
static int wire_type_fail(pb_ctx *c, const uint8_t *at, const char *what)
{
	return parse_fail(c, at, what, "field has the wrong wire type");
}

/* Grow *arr (elements of size elem, capacity *cap) by doubling, within r->max_bytes. */
static int grow(pb_ctx *c, void **arr, size_t *cap, size_t elem)
{
	ingest_pb_write_request *r = c->r;
	size_t ncap = *cap ? *cap * 2 : 64;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		goto limit;
	size_t add = (ncap - *cap) * elem;
	if (r->used_bytes + add < r->used_bytes || r->used_bytes + add > r->max_bytes)
		goto limit;
	void *n = ts_realloc(*arr, ncap * elem);
	if (!n)
		return ts_err_set(c->err, TS_ENOMEM, "no memory for %zu decoded entries", ncap);
	*arr = n;
	*cap = ncap;
	r->used_bytes += add;
	return TS_OK;
limit:
	return ts_err_set(c->err, TS_ELIMIT, "decoded request larger than %zu bytes", r->max_bytes);
}

/* ================================================================ messages */

static int decode_string(pb_ctx *c, const uint8_t **pp, const uint8_t *end, const char *what,
			 unsigned wt, ingest_pb_str *out)
{
	if (wt != WT_LEN)
		return wire_type_fail(c, *pp, what);
	const uint8_t *s = NULL;
	size_t n = 0;
	int rc = get_len(c, pp, end, what, &s, &n);
	if (rc == TS_OK) {
		out->p = (const char *)s;
		out->len = n;
	}
	return rc;
}

static int decode_label(pb_ctx *c, const uint8_t *p, const uint8_t *end)
{
	ingest_pb_write_request *r = c->r;
	if (r->n_labels == r->cap_labels) {
		int rc = grow(c, (void **)&r->labels, &r->cap_labels, sizeof(*r->labels));
		if (rc)
			return rc;
	}
	ingest_pb_label *l = &r->labels[r->n_labels];
	l->name.p = l->value.p = NULL; /* absent; "" once the request is complete */
	l->name.len = l->value.len = 0;
	while (p < end) {
		uint32_t field = 0;
		unsigned wt = 0;
		int rc = get_tag(c, &p, end, "Label", &field, &wt);
		if (rc == TS_OK) {
			if (field == 1)
				rc = decode_string(c, &p, end, "Label.name", wt, &l->name);
			else if (field == 2)
				rc = decode_string(c, &p, end, "Label.value", wt, &l->value);
			else
				rc = skip_value(c, &p, end, "Label", wt);
		}
		if (rc)
			return rc;
	}
	r->n_labels++;
	return TS_OK;
}

static int decode_sample(pb_ctx *c, const uint8_t *p, const uint8_t *end)
{
	ingest_pb_write_request *r = c->r;
	if (r->n_samples == r->cap_samples) {
		int rc = grow(c, (void **)&r->samples, &r->cap_samples, sizeof(*r->samples));
		if (rc)
			return rc;
	}
	uint64_t bits = 0, t = 0;
	while (p < end) {
		uint32_t field = 0;
		unsigned wt = 0;
		int rc = get_tag(c, &p, end, "Sample", &field, &wt);
		if (rc)
			return rc;
		if (field == 1) {
			if (wt != WT_I64)
				return wire_type_fail(c, p, "Sample.value");
			if (end - p < 8)
				return parse_fail(c, p, "Sample.value", "truncated double");
			bits = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
			       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
			       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
			p += 8;
		} else if (field == 2) {
			if (wt != WT_VARINT)
				return wire_type_fail(c, p, "Sample.timestamp");
			size_t n = get_varint(p, end, 10, &t);
			if (n == 0)
				return parse_fail(c, p, "Sample.timestamp", "bad varint");
			p += n;
		} else {
			rc = skip_value(c, &p, end, "Sample", wt);
			if (rc)
				return rc;
		}
	}
	ingest_pb_sample *s = &r->samples[r->n_samples++];
	s->t_ms = (int64_t)t; /* two's complement, as int64 is encoded */
	memcpy(&s->v, &bits, sizeof(s->v));
	return TS_OK;
}

static int decode_series(pb_ctx *c, const uint8_t *p, const uint8_t *end)
{
	ingest_pb_write_request *r = c->r;
	if (r->n_series == r->cap_series) {
		int rc = grow(c, (void **)&r->series, &r->cap_series, sizeof(*r->series));
		if (rc)
			return rc;
	}
	size_t n_ex = 0, n_hist = 0, label_off = r->n_labels, sample_off = r->n_samples;
	while (p < end) {
		uint32_t field = 0;
		unsigned wt = 0;
		int rc = get_tag(c, &p, end, "TimeSeries", &field, &wt);
		if (rc)
			return rc;
		if (field >= 1 && field <= 4) {
			const uint8_t *s = NULL;
			size_t n = 0;
			if (wt != WT_LEN)
				return wire_type_fail(c, p, "TimeSeries");
			rc = get_len(c, &p, end, "TimeSeries", &s, &n);
			if (rc == TS_OK && field == 1)
				rc = decode_label(c, s, s + n);
			else if (rc == TS_OK && field == 2)
				rc = decode_sample(c, s, s + n);
			n_ex += field == 3;
			n_hist += field == 4;
		} else {
			rc = skip_value(c, &p, end, "TimeSeries", wt);
		}
		if (rc)
			return rc;
	}
	ingest_pb_series *ts = &r->series[r->n_series++];
	ts->label_off = label_off;
	ts->n_labels = r->n_labels - label_off;
	ts->sample_off = sample_off;
	ts->n_samples = r->n_samples - sample_off;
	ts->n_exemplars = n_ex;
	ts->n_histograms = n_hist;
	return TS_OK;
}

static int decode_metadata(pb_ctx *c, const uint8_t *p, const uint8_t *end)
{
	ingest_pb_write_request *r = c->r;
	if (r->n_metadata == r->cap_metadata) {
		int rc = grow(c, (void **)&r->metadata, &r->cap_metadata, sizeof(*r->metadata));
		if (rc)
			return rc;
	}
	ingest_pb_metadata m = {0};
	while (p < end) {
		uint32_t field = 0;
		unsigned wt = 0;
		int rc = get_tag(c, &p, end, "MetricMetadata", &field, &wt);
		if (rc)
			return rc;
		if (field == 1) {
			uint64_t v = 0;
			if (wt != WT_VARINT)
				return wire_type_fail(c, p, "MetricMetadata.type");
			size_t n = get_varint(p, end, 10, &v);
			if (n == 0)
				return parse_fail(c, p, "MetricMetadata.type", "bad varint");
			m.type = (int32_t)(uint32_t)v; /* enums are int32 */
			p += n;
		} else if (field == 2) {
			rc = decode_string(c, &p, end, "MetricMetadata.metric_family_name", wt,
					   &m.family);
		} else if (field == 4) {
			rc = decode_string(c, &p, end, "MetricMetadata.help", wt, &m.help);
		} else if (field == 5) {
			rc = decode_string(c, &p, end, "MetricMetadata.unit", wt, &m.unit);
		} else {
			rc = skip_value(c, &p, end, "MetricMetadata", wt);
		}
		if (rc)
			return rc;
	}
	r->metadata[r->n_metadata++] = m;
	return TS_OK;
}

/* ================================================================ request */

static size_t arrays_bytes(const ingest_pb_write_request *r)
{
	return r->cap_series * sizeof(*r->series) + r->cap_labels * sizeof(*r->labels) +
	       r->cap_samples * sizeof(*r->samples) + r->cap_metadata * sizeof(*r->metadata);
}

void ingest_pb_write_request_init(ingest_pb_write_request *r, size_t max_bytes)
{
	memset(r, 0, sizeof(*r));
	r->max_bytes = max_bytes;
}

void ingest_pb_write_request_fini(ingest_pb_write_request *r)
{
	if (!r)
		return;
	ts_free(r->series);
	ts_free(r->labels);
	ts_free(r->samples);
	ts_free(r->metadata);
	size_t max = r->max_bytes;
	ingest_pb_write_request_init(r, max);
}

/* Terminate s in place (buf has room after every string), or point an absent one at "". */
static void str_finish(char *buf, ingest_pb_str *s)
{
	if (s->p)
		buf[(size_t)(s->p - buf) + s->len] = '\0';
	else
		s->p = "";
}

int ingest_pb_write_request_decode(ingest_pb_write_request *r, char *buf, size_t len, ts_err *err)
{
	r->n_series = r->n_labels = r->n_samples = r->n_metadata = 0;
	if (len > r->max_bytes)
		return ts_err_set(err, TS_ELIMIT, "decoded request larger than %zu bytes",
				  r->max_bytes);
	if (arrays_bytes(r) + len > r->max_bytes) /* arrays of an earlier, larger request */
		ingest_pb_write_request_fini(r);
	r->used_bytes = arrays_bytes(r) + len;

	pb_ctx c = {r, (const uint8_t *)buf, err};
	const uint8_t *p = (const uint8_t *)buf, *end = p + len;
	int rc = TS_OK;
	while (p < end && rc == TS_OK) {
		uint32_t field = 0;
		unsigned wt = 0;
		const uint8_t *s = NULL;
		size_t n = 0;
		rc = get_tag(&c, &p, end, "WriteRequest", &field, &wt);
		if (rc)
			break;
		if (field == 1 || field == 3) {
			if (wt != WT_LEN) {
				rc = wire_type_fail(&c, p, "WriteRequest");
				break;
			}
			rc = get_len(&c, &p, end, field == 1 ? "TimeSeries" : "MetricMetadata", &s,
				     &n);
			if (rc == TS_OK)
				rc = field == 1 ? decode_series(&c, s, s + n)
						: decode_metadata(&c, s, s + n);
		} else {
			rc = skip_value(&c, &p, end, "WriteRequest", wt);
		}
	}
	if (rc) {
		r->n_series = r->n_labels = r->n_samples = r->n_metadata = 0;
		return rc;
	}
	/* Only now may the byte after each string (a tag already read) become its NUL. */
	for (size_t i = 0; i < r->n_labels; i++) {
		str_finish(buf, &r->labels[i].name);
		str_finish(buf, &r->labels[i].value);
	}
	for (size_t i = 0; i < r->n_metadata; i++) {
		str_finish(buf, &r->metadata[i].family);
		str_finish(buf, &r->metadata[i].help);
		str_finish(buf, &r->metadata[i].unit);
	}
	return TS_OK;
}
