/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_exposition.c: libFuzzer target for ingest_exposition_parse
 * (ingest/exposition.c).
 *
 * The first input byte is the mode: bits 0-1 pick the format (0.0.4, OpenMetrics,
 * AUTO), bit 2 INGEST_EXPO_SKIP_INVALID, bit 3 INGEST_EXPO_SKIP_CREATED, bit 4 small
 * limits, bit 5 a sink that aborts on its third sample; the rest is the body. The
 * sink checks the label contract (sorted, unique, __name__ valid, names valid,
 * values non-empty UTF-8), the metadata sink its strings, and the result must match
 * what the sinks saw; a violation calls abort(). Inputs are capped at 64 KiB.
 */
#include "ingest/exposition.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT 65536

typedef struct fuzz_sink {
	size_t n_calls;  /* samples seen */
	size_t n_meta;   /* families seen */
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
	check(ts_utf8_valid(help, strlen(help)));
	(void)unit;
	s->n_meta++;
	return TS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	uint8_t mode = data[0];
	static const ingest_expo_format fmts[] = {INGEST_EXPO_TEXT_004, INGEST_EXPO_OPENMETRICS,
						  INGEST_EXPO_AUTO, INGEST_EXPO_TEXT_004};
	unsigned flags = ((mode & 0x04) ? INGEST_EXPO_SKIP_INVALID : 0) |
			 ((mode & 0x08) ? INGEST_EXPO_SKIP_CREATED : 0);
	ingest_limits lim = INGEST_LIMITS_DEFAULT;
	if (mode & 0x10) {
		lim.max_labels = 4;
		lim.max_name_bytes = 12;
		lim.max_value_bytes = 8;
		lim.max_line_bytes = 64;
	}
	fuzz_sink s = {0, 0, (mode & 0x20) ? 3 : 0};
	ingest_expo_result r;
	ts_err err = {0};
	int rc = ingest_exposition_parse((const char *)data + 1, size - 1, fmts[mode & 3], flags, 0,
					 &lim, sink, meta, &s, &r, &err);
	check(rc == TS_OK || rc == TS_EPARSE || rc == TS_ELIMIT || rc == TS_ENOMEM ||
	      (rc == TS_EBUSY && s.n_calls == s.abort_at));
	check(rc == TS_OK || err.code == rc);
	if ((rc == TS_EPARSE || rc == TS_ELIMIT) && (flags & INGEST_EXPO_SKIP_INVALID))
		abort(); /* skipping never fails on input */
	if (rc == TS_OK) {
		check(r.n_samples == s.n_calls && r.n_metadata == s.n_meta);
		check(r.format == INGEST_EXPO_TEXT_004 || r.format == INGEST_EXPO_OPENMETRICS);
		check((r.n_invalid_lines == 0) == (r.first_invalid_line == 0));
		check((r.n_invalid_lines == 0) == (r.first_invalid[0] == '\0'));
	}
	return 0;
}
