/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest.h: the public interface of ingest/: every way samples get into Strata.
 *
 * An ingest_pipeline accepts write requests in each wire format (Influx line protocol,
 * Prometheus remote write, exposition text for backfill), validates them, and hands
 * the samples to the store. A write function returns only when the samples it
 * accepted are durable (see docs/ARCHITECTURE.md "Durability"); a 2xx may be sent then.
 *
 * Thread-safety: all write functions may be called from any number of threads.
 */
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

#include "common/common.h"
#include "tsdb/tsdb.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ingest_pipeline ingest_pipeline;

typedef struct ingest_options {
	tsdb_db *db;            /* the store (borrowed; outlives the pipeline) */
	size_t max_labels;      /* labels per series incl. __name__ */
	size_t max_name_bytes;  /* metric and label name length */
	size_t max_value_bytes; /* label value length */
} ingest_options;

/* Fill *o with defaults (db = NULL must be set by the caller). */
void ingest_options_init(ingest_options *o);

/* Start the pipeline. *out returned owned. */
int ingest_open(const ingest_options *o, ingest_pipeline **out, ts_err *err);
/* Stop and free. NULL allowed. */
void ingest_close(ingest_pipeline *p);

/* Outcome of one write request. */
struct ingest_write_result {
	size_t n_samples;      /* samples accepted (durable) */
	size_t n_rejected;     /* samples the store refused (too old, conflicting) */
	size_t n_bad_lines;    /* lines/series that failed to parse */
	size_t n_skipped;      /* values that are not numeric samples (string fields) */
	size_t first_bad_line; /* 1-based line of the first bad line, 0 if none */
	char first_error[256]; /* reason for the first bad line or rejected sample */
};
typedef struct ingest_write_result ingest_write_result;

/*
 * Influx line protocol body (v1 /write and v2 /api/v2/write). `precision` may be NULL
 * (nanoseconds). Good lines are stored even when some lines are bad (res says which).
 * Returns TS_OK when the request was processed (check res->n_bad_lines),
 * TS_EINVAL for a bad precision, or the first storage error (TS_EBUSY, TS_EUNAVAIL, ...).
 */
int ingest_write_line_protocol(ingest_pipeline *p, const char *body, size_t len,
			       const char *precision, ingest_write_result *res, ts_err *err);

/*
 * Prometheus remote write 1.0 body (snappy block of a protobuf WriteRequest). All or
 * nothing at validation: an invalid series rejects the request with TS_EINVAL naming it
 * (the sender must not retry a 400); TS_EPARSE for a body that is not remote write;
 * TS_ELIMIT for oversized bodies; storage errors as for line protocol.
 */
int ingest_write_remote(ingest_pipeline *p, const void *body, size_t len, ingest_write_result *res,
			ts_err *err);

/*
 * Prometheus exposition text (0.0.4, or OpenMetrics when content_type says so or the body
 * ends in "# EOF") with optional timestamps, for backfill. Samples without a timestamp
 * get the server's time. Bad lines are skipped and reported in res like line protocol.
 */
int ingest_write_exposition(ingest_pipeline *p, const char *body, size_t len,
			    const char *content_type, ingest_write_result *res, ts_err *err);

/* Ingest statistics for /metrics. */
typedef struct ingest_stats {
	uint64_t requests;  /* write requests processed */
	uint64_t samples;   /* samples accepted */
	uint64_t bad_lines; /* lines rejected by parsers */
	uint64_t rejected;  /* samples rejected by the store */
} ingest_stats;

void ingest_stats_get(ingest_pipeline *p, ingest_stats *out);

#endif /* INGEST_INGEST_H */
