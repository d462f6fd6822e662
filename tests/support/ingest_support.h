/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest_support.h: log helpers shared by the ingest unit tests that compare what two
 * write paths put in the log (test_batch.c, test_line_protocol.c), parse line protocol into a
 * batch, and forge records for the decoder tests (test_record.c, test_record_decode.c). Header-only
 * (static inline): the test support library does not link ingest. Test code only; failures end the
 * test through cmocka's assertions.
 */
#ifndef TESTS_SUPPORT_INGEST_SUPPORT_H
#define TESTS_SUPPORT_INGEST_SUPPORT_H

#include "ingest/line_protocol.h"
#include "ingest/log.h"
#include "ingest/record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_log_dump {
	char *s;
	size_t len, cap;
} test_log_dump;

/* ingest_sample_fn: one line per sample, "name=value,... t bits" (value bits in hex). */
static inline int test_log_dump_sample(void *ctx, const ts_label *labels, size_t n, int64_t t_ms,
				       double v)
{
	test_log_dump *d = ctx;
	char line[2048];
	size_t k = 0;
	for (size_t i = 0; i < n && k < sizeof(line); i++)
		k += (size_t)snprintf(line + k, sizeof(line) - k, "%s=%s,", labels[i].name,
				      labels[i].value);
	assert_true(k < sizeof(line) - 64);
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	k += (size_t)snprintf(line + k, sizeof(line) - k, " %" PRId64 " %016" PRIx64 "\n", t_ms,
			      bits);
	if (d->len + k + 1 > d->cap) {
		d->cap = (d->len + k + 1) * 2;
		d->s = realloc(d->s, d->cap);
		assert_non_null(d->s);
	}
	memcpy(d->s + d->len, line, k + 1);
	d->len += k;
	return TS_OK;
}

/* Every sample of the log, partition by partition (each headed by a marker line), as
 * text; returned malloc'd (free), "" for an empty log. */
static inline char *test_log_dump_all(ingest_log *l)
{
	test_log_dump d = {0};
	ingest_record_decoder *dec;
	assert_int_equal(ingest_record_decoder_new(&dec, NULL), TS_OK);
	for (int p = 0; p < ingest_log_n_partitions(l); p++) {
		test_log_dump_sample(&d, &(ts_label){"partition", p % 2 ? "odd" : "even"}, 1, p, 0);
		ingest_log_reader *r;
		assert_int_equal(ingest_log_reader_open(l, p, 0, &r, NULL), TS_OK);
		const void *rec;
		size_t len;
		while (ingest_log_reader_next(r, &rec, &len, NULL, 0, NULL) == TS_OK)
			assert_int_equal(
			    ingest_record_decode(dec, rec, len, test_log_dump_sample, &d, NULL),
			    TS_OK);
		ingest_log_reader_close(r);
	}
	ingest_record_decoder_free(dec);
	return d.s;
}

/* Parse body (precision s, limits lim, NULL = defaults) into batch b whole (by_line
 * false) or one line per ingest_lp_parse call; *sum adds up the calls' results. */
static inline void test_lp_parse_into(ingest_batch *b, const char *body, size_t len, bool by_line,
				      const ingest_limits *lim, ingest_lp_result *sum)
{
	memset(sum, 0, sizeof(*sum));
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *q = by_line ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		q = q ? q + 1 : end;
		ingest_lp_result r;
		ts_err err = {0};
		if (ingest_lp_parse(p, (size_t)(q - p), INGEST_PREC_S, 0, lim, ingest_batch_add, b,
				    &r, &err))
			fail_msg("parse: %s", err.msg);
		sum->n_lines += r.n_lines;
		sum->n_samples += r.n_samples;
		sum->n_bad_lines += r.n_bad_lines;
		sum->n_string_fields_skipped += r.n_string_fields_skipped;
		sum->n_cached_points += r.n_cached_points;
		p = q;
	}
}

/* A version-1 record around a hand-made payload (plen bytes) with a valid CRC: a
 * "forged" record for decoder tests. out has room for 20 + plen bytes; returns the
 * record's length. */
static inline size_t test_forge_record(uint8_t *out, int flags, uint32_t n_samples,
				       const uint8_t *payload, size_t plen)
{
	memcpy(out, "STRL", 4);
	out[4] = 1;
	out[5] = (uint8_t)flags;
	out[6] = out[7] = 0;
	ts_put_u32le(out + 8, (uint32_t)plen);
	ts_put_u32le(out + 12, n_samples);
	memcpy(out + 20, payload, plen);
	ts_put_u32le(out + 16, ts_crc32c(ts_crc32c(0, out, 16), out + 20, plen));
	return 20 + plen;
}

#endif
