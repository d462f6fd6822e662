/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_remote_write.c: libFuzzer target for ingest_remote_write_decode_ex
 * (ingest/remote_write.c) and its protobuf decoder (ingest/remote_write_pb.c).
 *
 * The first input byte is the mode: bit 0 set means the rest is a raw WriteRequest
 * protobuf, which is snappy-compressed here so the fuzzer reaches the protobuf decoder and
 * the validation directly; clear means the rest is the HTTP body (snappy block) as is.
 * Bit 1 selects INGEST_RW_SKIP_INVALID, bit 2 small limits, bit 3 a sink that aborts
 * on its third sample, bit 4 decodes through a pooled scratch twice (the second decode,
 * reusing the first one's buffers, must give the same result). Caps are small (1 MiB
 * decompressed, 32 MiB decoded) so a "decompression bomb" is rejected quickly. The sink
 * checks the label contract (sorted, unique, __name__ valid, names valid, values
 * non-empty UTF-8) and the result must match what the sinks saw. With bit 0 the raw
 * bytes also go to the hand decoder and to protobuf-c (the reference): both must accept
 * or both reject, and agree on every series, label, sample bit and metadata entry.
 * A violation calls abort(). Inputs are capped at 64 KiB. Seeds in
 * fuzz/corpus/remote_write/ come from the encoder (see tests/ingest/test_remote_write.c,
 * STRATA_RW_SEED_DIR).
 */
#include "ingest/remote_write.h"

#include "ingest/remote.pb-c.h"
#include "ingest/remote_write_pb.h"

#include <snappy-c.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT 65536

typedef struct fuzz_sink {
	size_t n_calls;  /* samples seen */
	size_t n_meta;   /* metadata seen */
	size_t abort_at; /* abort on this call (1-based); 0 = never */
} fuzz_sink;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static int sink(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	fuzz_sink *s = ctx;
	bool has_name = false;
	(void)t_ms;
	(void)v;
	for (size_t i = 0; i < n; i++) {
		size_t ln = strlen(l[i].name), lv = strlen(l[i].value);
		check(lv > 0 && ts_utf8_valid(l[i].value, lv));
		if (i > 0)
			check(strcmp(l[i - 1].name, l[i].name) < 0);
		if (strcmp(l[i].name, TS_METRIC_NAME) == 0) {
			has_name = true;
			check(ts_metric_name_valid(l[i].value, lv));
		} else {
			check(ts_label_name_valid(l[i].name, ln));
		}
	}
	check(has_name);
	s->n_calls++;
	return (s->abort_at && s->n_calls == s->abort_at) ? TS_EBUSY : TS_OK;
}

static int meta(void *ctx, const char *family, const char *type, const char *help, const char *unit)
{
	fuzz_sink *s = ctx;
	check(ts_metric_name_valid(family, strlen(family)));
	check(type[0] != '\0');
	check(ts_utf8_valid(help, strlen(help)) && ts_utf8_valid(unit, strlen(unit)));
	s->n_meta++;
	return TS_OK;
}

static bool str_eq(const ingest_pb_str *s, const ProtobufCBinaryData *b)
{
	return s->len == b->len && (b->len == 0 || memcmp(s->p, b->data, b->len) == 0) &&
	       s->p[s->len] == '\0';
}

/* The hand decoder and protobuf-c on the same raw bytes must agree. */
static void differential(const uint8_t *raw, size_t len)
{
	Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, len, raw);
	char *buf = malloc(len + 1);
	check(buf != NULL);
	if (len)
		memcpy(buf, raw, len);
	ingest_pb_write_request r;
	ingest_pb_write_request_init(&r, (size_t)64 << 20);
	ts_err err = {0};
	int rc = ingest_pb_write_request_decode(&r, buf, len, &err);
	check(rc == TS_OK || rc == TS_EPARSE);
	check((rc == TS_OK) == (wr != NULL));
	if (wr) {
		check(r.n_series == wr->n_timeseries && r.n_metadata == wr->n_metadata);
		for (size_t i = 0; i < wr->n_timeseries; i++) {
			const Prometheus__TimeSeries *ts = wr->timeseries[i];
			const ingest_pb_series *s = &r.series[i];
			check(s->n_labels == ts->n_labels && s->n_samples == ts->n_samples &&
			      s->n_exemplars == ts->n_exemplars &&
			      s->n_histograms == ts->n_histograms);
			for (size_t j = 0; j < ts->n_labels; j++)
				check(str_eq(&r.labels[s->label_off + j].name,
					     &ts->labels[j]->name) &&
				      str_eq(&r.labels[s->label_off + j].value,
					     &ts->labels[j]->value));
			for (size_t j = 0; j < ts->n_samples; j++) {
				const ingest_pb_sample *x = &r.samples[s->sample_off + j];
				check(x->t_ms == ts->samples[j]->timestamp &&
				      memcmp(&x->v, &ts->samples[j]->value, sizeof(double)) == 0);
			}
		}
		for (size_t i = 0; i < wr->n_metadata; i++) {
			const Prometheus__MetricMetadata *m = wr->metadata[i];
			check(r.metadata[i].type == (int32_t)m->type &&
			      str_eq(&r.metadata[i].family, &m->metric_family_name) &&
			      str_eq(&r.metadata[i].help, &m->help) &&
			      str_eq(&r.metadata[i].unit, &m->unit));
		}
		prometheus__write_request__free_unpacked(wr, NULL);
	} else {
		check(memcmp(buf, raw, len) == 0 && r.n_series == 0); /* untouched */
	}
	ingest_pb_write_request_fini(&r);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	uint8_t mode = data[0];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	char *packed = NULL;
	if (mode & 0x01) {
		size_t n = snappy_max_compressed_length(len);
		packed = malloc(n ? n : 1);
		if (!packed || snappy_compress(body, len, packed, &n) != SNAPPY_OK) {
			free(packed);
			return 0;
		}
		body = packed;
		len = n;
	}
	ingest_limits lim = INGEST_LIMITS_DEFAULT;
	if (mode & 0x04) {
		lim.max_labels = 4;
		lim.max_name_bytes = 12;
		lim.max_value_bytes = 8;
	}
	ingest_rw_options opt = {
	    .max_decompressed_bytes = 1 << 20,
	    .max_decoded_bytes = 32 << 20,
	    .flags = (mode & 0x02) ? INGEST_RW_SKIP_INVALID : 0,
	    .meta_fn = meta,
	};
	if (mode & 0x01)
		differential(data + 1, size - 1);
	ingest_rw_pool *pool = NULL;
	if (mode & 0x10) {
		check(ingest_rw_pool_new(&pool, NULL) == TS_OK);
		opt.scratch = ingest_rw_pool_get(pool);
		fuzz_sink s0 = {0, 0, (mode & 0x08) ? 3 : 0};
		ingest_rw_result r0;
		ts_err e0 = {0};
		int rc0 = ingest_remote_write_decode_ex(body, len, &opt, &lim, sink, &s0, &r0, &e0);
		fuzz_sink s1 = {0, 0, (mode & 0x08) ? 3 : 0};
		ingest_rw_result r1;
		ts_err e1 = {0};
		int rc1 = ingest_remote_write_decode_ex(body, len, &opt, &lim, sink, &s1, &r1, &e1);
		check(rc0 == rc1 && s0.n_calls == s1.n_calls && s0.n_meta == s1.n_meta &&
		      strcmp(e0.msg, e1.msg) == 0);
		check(rc0 != TS_OK || (r0.n_samples == r1.n_samples && r0.n_series == r1.n_series));
	}
	fuzz_sink s = {0, 0, (mode & 0x08) ? 3 : 0};
	ingest_rw_result r;
	ts_err err = {0};
	int rc = ingest_remote_write_decode_ex(body, len, &opt, &lim, sink, &s, &r, &err);
	check(rc == TS_OK || rc == TS_EPARSE || rc == TS_EINVAL || rc == TS_ELIMIT ||
	      rc == TS_ENOMEM || (rc == TS_EBUSY && s.n_calls == s.abort_at));
	check(rc == TS_OK || err.code == rc);
	if (rc == TS_EINVAL || rc == TS_EPARSE || rc == TS_ELIMIT)
		check(s.n_calls == 0 && s.n_meta == 0); /* rejected: nothing delivered */
	if (rc == TS_OK) {
		check(r.n_samples == s.n_calls && r.n_metadata == s.n_meta);
		check((r.n_series_invalid == 0) == (r.first_invalid[0] == '\0'));
		check(r.decompressed_bytes <= opt.max_decompressed_bytes);
	}
	ingest_rw_pool_put(pool, opt.scratch);
	ingest_rw_pool_free(pool);
	free(packed);
	return 0;
}
