/* SPDX-License-Identifier: Apache-2.0 */
/*
 * line_protocol.h: the InfluxDB line protocol parser (internal to ingest/ and its tests).
 *
 * ingest_lp_parse() turns a /write or /api/v2/write body into samples for an
 * ingest_sample_fn sink: one sample per numeric field, named <measurement>_<field>
 * (or <measurement> for the field "value"), labelled with the line's tags. The mapping
 * rules, escaping, value types and error messages are specified in
 * docs/formats/line_protocol.md; ingest/line_protocol.c gives the parser's design.
 */
#ifndef INGEST_LINE_PROTOCOL_H
#define INGEST_LINE_PROTOCOL_H

#include "ingest/ingest_int.h"

#include <stddef.h>
#include <stdint.h>

/* Unit of the timestamps in a body (the `precision` query parameter). */
typedef enum ingest_precision {
	INGEST_PREC_NS, /* nanoseconds (the default) */
	INGEST_PREC_US, /* microseconds */
	INGEST_PREC_MS, /* milliseconds */
	INGEST_PREC_S,  /* seconds */
	INGEST_PREC_M,  /* minutes (v1 only) */
	INGEST_PREC_H,  /* hours (v1 only) */
} ingest_precision;

/*
 * Parse a precision name as InfluxDB v1 and v2 accept it: "n"/"ns", "u"/"us"/"µ"/"µs"
 * (U+00B5 or U+03BC), "ms", "s", "m", "h". NULL or "" means nanoseconds. Writes *out
 * only on success; an unknown name is TS_EINVAL "unknown precision 'x'".
 * Thread-safe.
 */
int ingest_precision_parse(const char *s, ingest_precision *out, ts_err *err);

#define INGEST_LP_ERROR_MAX 200

/* What one ingest_lp_parse call did. */
typedef struct ingest_lp_result {
	size_t n_lines;                        /* points seen (good + bad); blank and comment lines
						* are not counted */
	size_t n_samples;                      /* samples the sink accepted */
	size_t n_bad_lines;                    /* points rejected as a whole (nothing delivered) */
	size_t n_string_fields_skipped;        /* string fields of accepted points (not samples) */
	size_t n_cached_points;                /* points whose measurement and tags the series
						* cache recognized (not parsed again) */
	size_t first_bad_line;                 /* 1-based physical line where the first bad point
						* starts; 0 if none */
	char first_error[INGEST_LP_ERROR_MAX]; /* "line N: unable to parse '...': reason",
						* "" if none */
} ingest_lp_result;

/*
 * Parse the line protocol in body[0..len) (need not be NUL-terminated) and call
 * fn(ctx, labels, n_labels, t_ms, v) for every numeric field of every valid point, in
 * input order. Labels are normalized (sorted by name, unique, include __name__) and
 * borrowed for the duration of the call only.
 *
 *   prec          - unit of the timestamps in body; converted to ms with floor division.
 *   default_t_ms  - time of points that carry no timestamp.
 *   lim           - limits (borrowed; NULL means INGEST_LIMITS_DEFAULT). A point that
 *                   exceeds one is a bad line whose message names the limit.
 *   res           - filled in on every return, also when the sink aborts (counts up to
 *                   the abort); NULL allowed.
 *
 * A point is delivered completely or not at all. Bad points are skipped and counted in
 * res (the first one's line and reason kept), and the call still returns TS_OK: the
 * caller decides whether a partial write is an error (InfluxDB answers 400 and keeps the
 * good points).
 *
 * Returns TS_OK; the sink's negative code unchanged when it aborts (err says at which
 * line); TS_EINVAL for a NULL body with len > 0, a NULL fn or an unknown prec;
 * TS_ENOMEM when the per-call scratch buffer cannot be allocated (one ts_malloc at most
 * per call, none for bodies up to about 12 KiB; about 40 KiB of stack are used). With
 * fn == ingest_batch_add and a body of 2 KiB or more the call also allocates its series
 * cache (line_protocol.c; at most 16 MiB + 32 MiB for 2^18 prefixes and 2^21 fields,
 * a few hundred KiB for a 5,000-line body); without that memory it parses uncached.
 * Thread-safe: no shared state; fn is called on the caller's thread.
 */
int ingest_lp_parse(const char *body, size_t len, ingest_precision prec, int64_t default_t_ms,
		    const ingest_limits *lim, ingest_sample_fn fn, void *ctx, ingest_lp_result *res,
		    ts_err *err);

#endif /* INGEST_LINE_PROTOCOL_H */
