/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote_write_pb.h: hand-written protobuf decoder for prometheus.WriteRequest (remote
 * write 1.0, ingest/proto/remote.proto), used by remote_write.c.
 *
 * The decoded request is a set of flat arrays: series point at runs of labels and
 * samples by index, and every string points into the caller's (decompressed) buffer,
 * so decoding does no allocation per label or per sample, only amortized array growth.
 * Wire format handled and rejected: remote_write_pb.c and docs/formats/remote_write.md.
 *
 * Internal to ingest/ (and its tests, fuzz targets and benchmarks).
 */
#ifndef INGEST_REMOTE_WRITE_PB_H
#define INGEST_REMOTE_WRITE_PB_H

#include "common/common.h"

#include <stddef.h>
#include <stdint.h>

/* A string of the request: NUL-terminated in place after a successful decode. */
typedef struct ingest_pb_str {
	const char *p; /* into the decoded buffer, or a static "" when the field is absent */
	size_t len;    /* bytes, not counting the terminator */
} ingest_pb_str;

typedef struct ingest_pb_label {
	ingest_pb_str name;  /* Label.name (field 1) */
	ingest_pb_str value; /* Label.value (field 2) */
} ingest_pb_label;

typedef struct ingest_pb_sample {
	int64_t t_ms; /* Sample.timestamp (field 2, varint int64) */
	double v;     /* Sample.value (field 1, fixed64), bit-exact */
} ingest_pb_sample;

typedef struct ingest_pb_series {
	size_t label_off;    /* its labels are labels[label_off .. + n_labels), wire order */
	size_t n_labels;     /* Label messages (field 1) */
	size_t sample_off;   /* its samples are samples[sample_off .. + n_samples) */
	size_t n_samples;    /* Sample messages (field 2) */
	size_t n_exemplars;  /* field 3, counted and skipped */
	size_t n_histograms; /* field 4 (native histograms), counted and skipped */
} ingest_pb_series;

typedef struct ingest_pb_metadata {
	int32_t type;         /* MetricMetadata.type (field 1; open enum, any value) */
	ingest_pb_str family; /* metric_family_name (field 2) */
	ingest_pb_str help;   /* field 4 */
	ingest_pb_str unit;   /* field 5 */
} ingest_pb_metadata;

/* A decoded WriteRequest. Init once, decode (any number of times: the arrays are
 * reused), fini. Fields are read-only for callers. */
typedef struct ingest_pb_write_request {
	ingest_pb_series *series; /* TimeSeries (field 1), request order */
	size_t n_series;
	ingest_pb_label *labels; /* every series' labels, back to back */
	size_t n_labels;
	ingest_pb_sample *samples; /* every series' samples, back to back */
	size_t n_samples;
	ingest_pb_metadata *metadata; /* MetricMetadata (field 3), request order */
	size_t n_metadata;
	/* private */
	size_t cap_series, cap_labels, cap_samples, cap_metadata; /* array capacities */
	size_t max_bytes;  /* cap on the arrays' bytes plus the buffer decoded */
	size_t used_bytes; /* the arrays' bytes plus the last buffer decoded */
} ingest_pb_write_request;

/* Empty request whose arrays plus decoded buffer may use up to max_bytes. */
void ingest_pb_write_request_init(ingest_pb_write_request *r, size_t max_bytes);

/* Free the arrays. NULL allowed. */
void ingest_pb_write_request_fini(ingest_pb_write_request *r);

/*
 * Decode the WriteRequest in buf[0..len) into r (its previous content is dropped).
 *   buf  borrowed and modified: it must have len + 1 writable bytes; on success every
 *        string of r is NUL-terminated in place (the byte after each string, a tag
 *        already read, is overwritten), so r's strings live as long as buf does.
 * Strict, and accepting exactly what protobuf-c accepts: every length is checked against
 * the bytes left in its enclosing message; tags are at most 5 bytes and a one-byte tag of
 * field 0 is invalid; varints are at most 10 bytes, lengths at most 5 bytes and 2^31 - 1;
 * a known field with the wrong wire type and groups (wire types 3 and 4) are errors, so
 * nesting never goes deeper than WriteRequest > TimeSeries > Label/Sample; unknown
 * fields of wire types 0, 1, 2 and 5 are skipped; the last of repeated scalar fields
 * wins, as in every protobuf decoder.
 * Returns TS_OK;
 *   TS_EPARSE  not a valid WriteRequest (message names the problem and byte offset);
 *   TS_ELIMIT  len plus the arrays would exceed max_bytes;
 *   TS_ENOMEM.
 * On failure r holds no series (n_* are 0) and buf is unchanged.
 * Thread-safe for distinct r.
 */
int ingest_pb_write_request_decode(ingest_pb_write_request *r, char *buf, size_t len, ts_err *err);

#endif /* INGEST_REMOTE_WRITE_PB_H */
