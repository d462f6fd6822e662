/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exposition.h: Prometheus text exposition 0.0.4 and OpenMetrics 1.0 text parsing.
 *
 * Used by the scraper (a whole response body) and by /api/v1/import/prometheus
 * (backfill). Every sample goes to an ingest_sample_fn; family metadata (# TYPE, # HELP,
 * # UNIT) goes to an optional ingest_metadata_fn so /api/v1/metadata can be served.
 * What is accepted, the mapping and the errors: docs/formats/exposition.md.
 *
 * Internal to ingest/ (and its tests, fuzz targets and benchmarks).
 */
#ifndef INGEST_EXPOSITION_H
#define INGEST_EXPOSITION_H

#include "ingest/ingest_int.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Metadata sink: one call per metric family that has # TYPE, # HELP or # UNIT lines,
 * after its last metadata line. All strings borrowed, NUL-terminated, valid during the
 * call: family as written (OpenMetrics counters without _total), type one of "counter",
 * "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"
 * (0.0.4 "untyped" and a missing # TYPE map to "unknown", as Prometheus does), help
 * unescaped ("" if none), unit ("" if none). Return TS_OK to continue; any negative code
 * aborts the parse and is returned unchanged.
 */
typedef int (*ingest_metadata_fn)(void *ctx, const char *family, const char *type, const char *help,
				  const char *unit);

typedef enum ingest_expo_format {
	INGEST_EXPO_AUTO = 0,    /* OpenMetrics if the body ends with "# EOF", else 0.0.4 */
	INGEST_EXPO_TEXT_004,    /* text/plain; version=0.0.4: integer ms timestamps */
	INGEST_EXPO_OPENMETRICS, /* application/openmetrics-text: float s timestamps, # EOF */
} ingest_expo_format;

/*
 * Flags for ingest_exposition_parse.
 * SKIP_INVALID: skip bad lines and count them (VictoriaMetrics import); default: stop at
 *   the first bad line (Prometheus scrape).
 * SKIP_CREATED: OpenMetrics only: drop <family>_created samples of counter, histogram,
 *   summary and gaugehistogram families; default: keep them as series (Prometheus'
 *   default).
 */
#define INGEST_EXPO_SKIP_INVALID 0x1u
#define INGEST_EXPO_SKIP_CREATED 0x2u

/* What one body held. Written only on success. */
typedef struct ingest_expo_result {
	ingest_expo_format format;  /* the format parsed (AUTO resolved) */
	size_t n_lines;             /* lines read */
	size_t n_samples;           /* samples delivered to the sink */
	size_t n_metadata;          /* families reported (to meta_fn when given) */
	size_t n_exemplars_skipped; /* OpenMetrics exemplars (validated, not stored) */
	size_t n_created_skipped;   /* _created samples dropped (INGEST_EXPO_SKIP_CREATED) */
	size_t n_invalid_lines;     /* INGEST_EXPO_SKIP_INVALID only: lines skipped */
	size_t first_invalid_line;  /* 1-based line of the first skipped line, 0 if none */
	char first_invalid[TS_ERR_MSG_MAX]; /* "line N: reason" of that line, or "" */
} ingest_expo_result;

/*
 * The format for an HTTP Content-Type: application/openmetrics-text -> OPENMETRICS;
 * anything else, NULL or "" -> TEXT_004 (Prometheus' fallback). Cannot fail.
 */
ingest_expo_format ingest_exposition_format_detect(const char *content_type);

/*
 * Parse an exposition body and deliver every sample, in body order, to fn.
 *
 *   body/len      text (borrowed); need not be NUL-terminated.
 *   fmt           format, or INGEST_EXPO_AUTO.
 *   flags         INGEST_EXPO_*.
 *   default_t_ms  timestamp of samples that carry none (the scrape time).
 *   lim           NULL for INGEST_LIMITS_DEFAULT.
 *   fn            sample sink (required); meta_fn optional; both get ctx.
 *   res           NULL allowed.
 *
 * Returns TS_OK;
 *   TS_EPARSE  "line N: reason" for the first malformed line (OpenMetrics: also a
 *              missing # EOF or data after it);
 *   TS_ELIMIT  "line N: reason" for the first line over a limit in lim;
 *   TS_ENOMEM;
 *   or the code a sink returned.
 * Streaming: samples before a failing line have already been delivered; a caller that
 * needs all-or-nothing (the scraper) must drop what it collected when this fails. With
 * INGEST_EXPO_SKIP_INVALID, bad lines are counted in res and do not fail the call.
 * Thread-safe: no shared state.
 */
int ingest_exposition_parse(const char *body, size_t len, ingest_expo_format fmt, unsigned flags,
			    int64_t default_t_ms, const ingest_limits *lim, ingest_sample_fn fn,
			    ingest_metadata_fn meta_fn, void *ctx, ingest_expo_result *res,
			    ts_err *err);

#endif /* INGEST_EXPOSITION_H */
