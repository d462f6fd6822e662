/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_line_protocol.c: libFuzzer target for ingest_lp_parse (ingest/line_protocol.c).
 *
 * The first input byte picks the precision, small or default limits, and whether the
 * sink aborts after a few samples; the rest is the body. The sink checks the contract
 * every sample must meet (sorted unique labels, __name__ present and a valid metric
 * name, valid label names with no reserved "__" prefix, non-empty UTF-8 values) and
 * the result must be consistent with what the sink saw. Then the body is parsed again
 * twice over ("body\nbody"): both halves must give the same samples as the single
 * parse, which checks that the parser's name and tag-order caches (warm in the second
 * half) never change a result. The body's leading run of number characters (up to
 * 40) is also parsed as a field value, followed by a timestamp and at the very end of a
 * body: when the parser takes it, its value must be strtod's bit for bit (the parser's
 * short-decimal fast paths). A violation calls abort() so the fuzzer (or the ctest
 * replay) reports it. Inputs are capped at 64 KiB.
 */
#include "ingest/line_protocol.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT 65536

typedef struct fuzz_sink {
	size_t n_calls;     /* samples seen */
	size_t abort_at;    /* abort on this call (1-based); 0 = never */
	size_t split;       /* samples before this index go to digest[0], the rest to [1] */
	uint64_t digest[2]; /* order-sensitive digest of (series, t_ms, value bits) */
} fuzz_sink;

static uint64_t mix(uint64_t d, uint64_t x)
{
	return (d ^ x) * 0x100000001B3ULL + 0x9E3779B97F4A7C15ULL;
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

static int sink(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	fuzz_sink *s = ctx;
	bool has_name = false;
	check(!isnan(v) && !isinf(v));
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
			check(!(ln >= 2 && l[i].name[0] == '_' && l[i].name[1] == '_'));
		}
	}
	check(has_name);
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	uint64_t *d = &s->digest[s->n_calls < s->split ? 0 : 1];
	*d = mix(mix(mix(*d, ts_series_hash(l, n)), (uint64_t)t_ms), bits);
	s->n_calls++;
	return (s->abort_at && s->n_calls == s->abort_at) ? TS_EBUSY : TS_OK;
}

static int value_sink(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	(void)l, (void)n, (void)t_ms;
	*(double *)ctx = v;
	return TS_OK;
}

/* The leading number characters of body as a field value: taken means strtod's double. */
static void check_number(const char *body, size_t len)
{
	size_t n = 0;
	while (n < len && n < 40 && body[n] && strchr("0123456789.-+eE", body[n]))
		n++;
	if (n == 0)
		return;
	char lit[48], line[96];
	memcpy(lit, body, n);
	lit[n] = '\0';
	for (int at_end = 0; at_end < 2; at_end++) {
		int k = snprintf(line, sizeof(line),
				 at_end ? "m v=%s" : "m v=%s 1465839830100400200\n", lit);
		double v = 0;
		ingest_lp_result r;
		ts_err err = {0};
		check(ingest_lp_parse(line, (size_t)k, INGEST_PREC_NS, 0, NULL, value_sink, &v, &r,
				      &err) == TS_OK);
		if (r.n_samples == 1) {
			char *e;
			double want = strtod(lit, &e);
			check(*e == '\0' && memcmp(&v, &want, sizeof(v)) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	uint8_t mode = data[0];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	check_number(body, len);

	ingest_limits lim = INGEST_LIMITS_DEFAULT;
	if (mode & 0x08) {
		lim.max_labels = 4;
		lim.max_name_bytes = 12;
		lim.max_value_bytes = 8;
		lim.max_line_bytes = 64;
	}
	fuzz_sink s = {0, (mode & 0x10) ? 3 : 0, SIZE_MAX, {0, 0}};
	ingest_lp_result r;
	ts_err err = {0};
	int rc =
	    ingest_lp_parse(body, len, (ingest_precision)(mode % 6), 0, &lim, sink, &s, &r, &err);
	check(rc == TS_OK || (rc == TS_EBUSY && s.abort_at && s.n_calls == s.abort_at));
	check(r.n_samples == (rc == TS_OK ? s.n_calls : s.n_calls - 1));
	check(r.n_bad_lines <= r.n_lines);
	check((r.n_bad_lines == 0) == (r.first_bad_line == 0));
	check(strlen(r.first_error) < sizeof(r.first_error));
	check((r.n_bad_lines == 0) == (r.first_error[0] == '\0'));
	if (rc != TS_OK)
		return 0;

	/* body "\n" body: each half must match the single parse */
	char *twice = malloc(2 * len + 1);
	if (!twice)
		return 0;
	memcpy(twice, body, len);
	twice[len] = '\n';
	memcpy(twice + len + 1, body, len);
	fuzz_sink s2 = {0, 0, s.n_calls, {0, 0}};
	ingest_lp_result r2;
	rc = ingest_lp_parse(twice, 2 * len + 1, (ingest_precision)(mode % 6), 0, &lim, sink, &s2,
			     &r2, &err);
	check(rc == TS_OK);
	/* Each line is parsed on its own unless a string spans lines; a bad point whose
	 * string runs to the end would run into the second half instead. */
	if (r.n_bad_lines == 0 || !memchr(body, '"', len)) {
		check(r2.n_lines == 2 * r.n_lines && r2.n_samples == 2 * r.n_samples);
		check(r2.n_bad_lines == 2 * r.n_bad_lines);
		check(s2.digest[0] == s.digest[0] && s2.digest[1] == s.digest[0]);
	}
	free(twice);
	return 0;
}
