/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest_int.h: types shared by ingest/'s own files (parsers, log, consumer). Internal:
 * other modules use ingest/ingest.h only.
 */
#ifndef INGEST_INGEST_INT_H
#define INGEST_INGEST_INT_H

#include "common/common.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A parser hands every sample it decodes to a sink callback.
 *   labels   - normalized label set (sorted by name, unique, non-empty values, includes
 *              "__name__"); borrowed, valid only during the call.
 *   t_ms     - sample time in ms since the epoch.
 *   v        - sample value (NaN payloads preserved bit-exactly).
 * Return TS_OK to continue; any negative TS_E* code aborts the parse and is returned by
 * the parser unchanged (e.g. TS_EBUSY for back-pressure).
 */
typedef int (*ingest_sample_fn)(void *ctx, const ts_label *labels, size_t n_labels, int64_t t_ms,
				double v);

/* Grow *p (an array of elements of `elem` bytes, *cap allocated) to hold at least n,
 * doubling from 64. TS_OK or TS_ENOMEM (then *p and *cap are unchanged). record.c. */
int ingest_grow(void **p, size_t *cap, size_t n, size_t elem);

/* Limits every parser enforces; exceeding one rejects the line/series with a message. */
typedef struct ingest_limits {
	size_t max_labels;      /* labels per series, incl. __name__ (default 64) */
	size_t max_name_bytes;  /* metric/label name length (default 256) */
	size_t max_value_bytes; /* label value length (default 4096) */
	size_t max_line_bytes;  /* one input line (default 1 MiB) */
} ingest_limits;

#define INGEST_LIMITS_DEFAULT           \
	{                               \
		64, 256, 4096, 1u << 20 \
	}

/*
 * A write in progress (batch.c). Every ingest path (HTTP writes, the scraper, rule
 * results) collects its samples into a batch and commits it; the commit returns once
 * the accepted samples are durable in the partitioned log, which is what a 2xx promises
 * (the consumers apply them to the store afterwards).
 *   ingest_batch_begin   start a batch (returned owned).
 *   ingest_batch_add     an ingest_sample_fn: pass it with the batch as ctx to a parser.
 *   ingest_batch_commit  make the batch durable and add to res (samples accepted; store
 *                        rejections only without a log); TS_EBUSY (back-pressure),
 *                        TS_EUNAVAIL, TS_ENOSPC, TS_EIO when the log refuses: then
 *                        nothing is acknowledged (some partitions may already hold
 *                        their records; a retry is deduplicated by the store).
 *   ingest_batch_free    NULL allowed; frees an uncommitted batch without writing it.
 * A batch belongs to one thread.
 */
typedef struct ingest_pipeline ingest_pipeline;
typedef struct ingest_write_result ingest_write_result;
typedef struct ingest_batch ingest_batch;
int ingest_batch_begin(ingest_pipeline *p, ingest_batch **out, ts_err *err);
int ingest_batch_add(void *batch, const ts_label *labels, size_t n_labels, int64_t t_ms, double v);
int ingest_batch_commit(ingest_batch *b, ingest_write_result *res, ts_err *err);
/* ingest_batch_add for a sample whose labels equal the previous ingest_batch_add(_renamed)
 * call's on this batch except labels[name_idx].value (the next field of a line-protocol
 * point): the other labels are not compared again. Same results as ingest_batch_add. */
int ingest_batch_add_renamed(void *batch, const ts_label *labels, size_t n_labels, size_t name_idx,
			     int64_t t_ms, double v);
/* Series refs (the line-protocol series cache, line_protocol.c): ingest_batch_add
 * (name_idx == SIZE_MAX) or ingest_batch_add_renamed (name_idx = the index of __name__)
 * that also returns in *ref a handle of the sample's series in this batch, UINT32_MAX when
 * none can be given (no log, or the sample was not stored: series limits). Same results
 * as those two. ingest_batch_add_at adds a sample to the series of a ref this batch
 * returned since ingest_batch_begin: the same as ingest_batch_add with that series'
 * labels, without looking at them; TS_EINVAL for a ref it did not return. */
int ingest_batch_add_ref(void *batch, const ts_label *labels, size_t n_labels, size_t name_idx,
			 int64_t t_ms, double v, uint32_t *ref);
int ingest_batch_add_at(void *batch, uint32_t ref, int64_t t_ms, double v);
void ingest_batch_free(ingest_batch *b);
/* The limits the pipeline enforces (borrowed from p). */
const ingest_limits *ingest_pipeline_limits(const ingest_pipeline *p);

#endif /* INGEST_INGEST_INT_H */
