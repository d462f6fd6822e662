/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote_write.h: Prometheus remote write 1.0 request decoding and encoding.
 *
 * A request body is a snappy *block* (not framed) holding a prometheus.WriteRequest
 * (ingest/proto/remote.proto). The decoder validates every series before it delivers
 * any sample, so a rejected request delivers nothing. The encoder builds the same
 * bodies from arrays; tests, fuzz seeds and bench/ use it. Wire format, mapping and
 * errors: docs/formats/remote_write.md.
 *
 * Internal to ingest/ (and its tests, fuzz targets and benchmarks).
 */
#ifndef INGEST_REMOTE_WRITE_H
#define INGEST_REMOTE_WRITE_H

#include "ingest/exposition.h"
#include "ingest/ingest_int.h"

#include <stddef.h>
#include <stdint.h>

/* Default cap on the decompressed WriteRequest (Prometheus senders send ~100 KiB). */
#define INGEST_RW_MAX_DECOMPRESSED_DEFAULT ((size_t)256 << 20)
/* Default cap on the decoded request: decompressed buffer plus decoded arrays. */
#define INGEST_RW_MAX_DECODED_DEFAULT ((size_t)1 << 30)

/* Flags for ingest_rw_options.flags. */
#define INGEST_RW_SKIP_INVALID 0x1u /* drop invalid series and count them, not TS_EINVAL */

/*
 * Buffers one decode reuses (decompressed body, decoded arrays, normalized labels), so a
 * steady stream of requests neither allocates nor page-faults per request. Used by one
 * decode at a time; nothing in it outlives the decode that used it (the sink copies what
 * it keeps). Pooled per pipeline by ingest_rw_pool.
 */
typedef struct ingest_rw_scratch ingest_rw_scratch;

typedef struct ingest_rw_options {
	size_t max_decompressed_bytes; /* snappy output cap; 0 = ..._DECOMPRESSED_DEFAULT */
	size_t max_decoded_bytes;      /* decoded-form cap; 0 = ..._DECODED_DEFAULT */
	unsigned flags;                /* INGEST_RW_* */
	ingest_metadata_fn meta_fn;    /* optional: one call per valid MetricMetadata */
	ingest_rw_scratch *scratch;    /* optional, borrowed: reused buffers; NULL = per call */
} ingest_rw_options;

/*
 * A small pool of scratches for concurrent decodes (HTTP handler threads). get() returns
 * a kept scratch or a new one (NULL when out of memory: decode then allocates per call);
 * put() keeps it for the next get() unless INGEST_RW_POOL_MAX are kept or its buffers
 * exceed INGEST_RW_POOL_MAX_BYTES, and frees it otherwise. NULL pool: get() returns NULL,
 * put() frees. Thread-safe (one mutex, held only to push or pop).
 */
typedef struct ingest_rw_pool ingest_rw_pool;
#define INGEST_RW_POOL_MAX       4
#define INGEST_RW_POOL_MAX_BYTES ((size_t)32 << 20)
int ingest_rw_pool_new(ingest_rw_pool **out, ts_err *err);        /* *out returned owned */
void ingest_rw_pool_free(ingest_rw_pool *p);                      /* NULL allowed; none in use */
ingest_rw_scratch *ingest_rw_pool_get(ingest_rw_pool *p);         /* returned owned */
void ingest_rw_pool_put(ingest_rw_pool *p, ingest_rw_scratch *s); /* s taken; NULL allowed */

/* What one decoded request held. Written only on success. */
typedef struct ingest_rw_result {
	size_t n_series;                    /* valid series (delivered, even with 0 samples) */
	size_t n_samples;                   /* samples delivered to the sink */
	size_t n_series_invalid;            /* INGEST_RW_SKIP_INVALID only: series dropped */
	size_t n_samples_invalid;           /* samples of the dropped series */
	size_t n_histograms_skipped;        /* native histogram samples (not supported) */
	size_t n_exemplars_skipped;         /* exemplars (not stored) */
	size_t n_metadata;                  /* valid MetricMetadata entries (given to meta_fn) */
	size_t n_metadata_invalid;          /* metadata entries with a bad name or text, skipped */
	size_t decompressed_bytes;          /* size of the protobuf WriteRequest */
	char first_invalid[TS_ERR_MSG_MAX]; /* reason for the first dropped series, or "" */
} ingest_rw_result;

/*
 * Decode one remote write body with default options (reject on invalid series, 256 MiB
 * decompressed cap, metadata counted only). See ingest_remote_write_decode_ex.
 */
int ingest_remote_write_decode(const void *body, size_t len, const ingest_limits *lim,
			       ingest_sample_fn fn, void *ctx, ingest_rw_result *res, ts_err *err);

/*
 * Decode one remote write body: snappy block -> WriteRequest -> validated series ->
 * fn(ctx, labels, n, t_ms, v) for every sample, series in request order, samples in
 * series order. Values are passed bit-exactly (stale-marker NaNs survive).
 *
 *   body/len  request body (borrowed); an empty body is not a snappy block.
 *   opt       NULL for defaults.
 *   lim       NULL for INGEST_LIMITS_DEFAULT; max_line_bytes is not used.
 *   fn        sample sink (required); meta_fn in opt gets ctx too.
 *   res       NULL allowed.
 *
 * Validation (every series, before any sample is delivered): __name__ present and a
 * valid metric name, label names valid, no duplicate names, values valid UTF-8 without
 * NUL bytes, label count/name/value lengths within lim. Empty values drop the label.
 *
 * Returns TS_OK;
 *   TS_EPARSE   not a snappy block, or not a WriteRequest;
 *   TS_ELIMIT   decompressed size or decoded memory over the cap, or a series over a
 *               limit in lim (names the series; not with INGEST_RW_SKIP_INVALID);
 *   TS_EINVAL   an invalid series (names the series; not with INGEST_RW_SKIP_INVALID);
 *   TS_ENOMEM;
 *   or the code a sink returned (samples before it were delivered).
 * Thread-safe: no shared state.
 */
int ingest_remote_write_decode_ex(const void *body, size_t len, const ingest_rw_options *opt,
				  const ingest_limits *lim, ingest_sample_fn fn, void *ctx,
				  ingest_rw_result *res, ts_err *err);

/* One series for the encoder; all pointers borrowed. */
typedef struct ingest_rw_series {
	const ts_label *labels; /* written in the given order (senders sort them) */
	size_t n_labels;
	const int64_t *t_ms; /* n_samples timestamps, ms */
	const double *v;     /* n_samples values, bit-exact */
	size_t n_samples;
} ingest_rw_series;

/* One metadata entry for the encoder; type is an OpenMetrics type name. */
typedef struct ingest_rw_metadata {
	const char *family; /* metric family name */
	const char *type;   /* "counter", "gauge", ..., "unknown"; NULL = unknown */
	const char *help;   /* NULL = "" */
	const char *unit;   /* NULL = "" */
} ingest_rw_metadata;

/*
 * Encode series and metadata as a remote write body (snappy block of a WriteRequest)
 * appended to out. Does not validate labels (tests use it to build bad requests).
 * Like every proto3 encoder (Prometheus' included), it omits zero fields, so a -0.0
 * value arrives as +0.0; all other bits (NaN payloads, stale markers) are kept.
 * Returns TS_OK, TS_EINVAL (unknown metadata type, NULL label string),
 * TS_ENOMEM or TS_ELIMIT (out is full; out unchanged). Thread-safe.
 */
int ingest_remote_write_encode(const ingest_rw_series *series, size_t n_series,
			       const ingest_rw_metadata *md, size_t n_md, ts_buf *out, ts_err *err);

#endif /* INGEST_REMOTE_WRITE_H */
