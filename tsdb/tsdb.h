/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsdb.h: the public interface of the storage engine.
 *
 * tsdb/ stores samples (series = sorted label set; sample = int64 ms timestamp + float64
 * value, NaN bits preserved) and answers reads by label matchers and time range. It
 * knows nothing about HTTP, Kafka or PromQL.
 *
 * Writes: tsdb_append() from the consumer threads (one per log partition owns that
 * partition's series; the call is nonetheless thread-safe). A sample equal to the one
 * stored at the same timestamp is a replayed duplicate and is dropped silently
 * (counted); a different value at an existing timestamp, or a sample older than the
 * series' newest minus the out-of-order window, is rejected and counted.
 *
 * Reads: open a querier over [mint, maxt], select series by matchers, iterate each
 * series' samples in time order. A querier sees a consistent view of every series it
 * returns; queries never block appends for longer than copying one series' samples.
 *
 * Offsets: the store records per log partition the highest log offset whose samples
 * are persisted (tsdb_partition_persisted); the ingest consumer resumes from there.
 *
 * Persistence (when options.dir is set): the head keeps recent samples in memory as
 * Gorilla chunks; when it spans more than 1.5 x block_duration_ms, a background worker
 * writes the oldest block_duration range into an immutable block under
 * <dir>/blocks/<ULID>/ and drops it from the head; tsdb_flush() and tsdb_close() write
 * everything. Queriers merge blocks and head transparently. Blocks that fail their
 * checks at open are moved to <dir>/quarantine/ and logged; the store keeps serving.
 * Block layout: docs/formats/block.md.
 */
#ifndef TSDB_TSDB_H
#define TSDB_TSDB_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tsdb_db tsdb_db;           /* the store */
typedef struct tsdb_series tsdb_series;   /* a series as seen by a querier */
typedef struct tsdb_querier tsdb_querier; /* a read view over a time range */
typedef struct tsdb_iter tsdb_iter;       /* samples of one series in a querier */

#define TSDB_MAX_PARTITIONS 1024

typedef struct tsdb_options {
	const char *dir;                /* data directory (borrowed); NULL = memory only */
	int n_partitions;               /* log partitions whose offsets are tracked */
	int64_t out_of_order_window_ms; /* accept samples this far behind a series' newest */
	int64_t block_duration_ms;      /* time span of a raw block */
	int64_t retention_raw_ms;       /* raw tier retention */
	int64_t retention_1m_ms;        /* 1-minute tier retention */
	int64_t retention_1h_ms;        /* 1-hour tier retention */
	int64_t cut_check_interval_ms;  /* how often the worker checks the cut rule; 0 = no
					 * worker (cuts only on tsdb_flush/close) */
} tsdb_options;

/*
 * Fill *o with defaults (memory only, 8 partitions, 10m window, 2h blocks, 7d/30d/365d,
 * cut check every 1 s).
 */
void tsdb_options_init(tsdb_options *o);

/*
 * Open the store described by o (o and its strings are copied). *out is returned owned;
 * close with tsdb_close. TS_EIO/TS_ENOMEM/TS_EINVAL/TS_ECORRUPT with a message.
 */
int tsdb_open(const tsdb_options *o, tsdb_db **out, ts_err *err);

/*
 * Close the store: stop the worker, write the whole head to blocks and persist the
 * applied offsets (tsdb_flush; a failure is logged), free everything. NULL allowed.
 * No querier may be open.
 */
void tsdb_close(tsdb_db *db);

/*
 * Write every sample in the head to blocks, drop them from the head, and persist the
 * partition offsets applied before the call (tsdb_partition_resume_offset then returns
 * them). A no-op without a data directory. TS_OK, TS_EIO, TS_ENOSPC, TS_ENOMEM; on error
 * the head keeps its samples. Thread-safe; appends may continue meanwhile (what they add
 * stays in the head). Waits for queriers opened before the new blocks were published,
 * so the calling thread must not hold an open querier.
 */
int tsdb_flush(tsdb_db *db, ts_err *err);

/*
 * Append one sample to the series with the given normalized label set (sorted, unique,
 * non-empty, includes "__name__"; borrowed). Returns TS_OK (also for a dropped exact
 * duplicate), TS_EOUTOFORDER (too old, or a different value at an existing timestamp),
 * TS_ELIMIT (series limit), TS_ENOMEM. Thread-safe.
 */
int tsdb_append(tsdb_db *db, const ts_label *labels, size_t n_labels, int64_t t_ms, double v,
		ts_err *err);

/*
 * Record that every sample from log `partition` up to and including `offset` has been
 * applied to the store. Once those samples are persisted, tsdb_partition_persisted()
 * reports the offset. Thread-safe.
 */
void tsdb_partition_applied(tsdb_db *db, int partition, uint64_t offset);

/*
 * The next log offset to read for `partition` after a restart: one past the highest
 * offset whose samples are persisted, 0 if none. Thread-safe.
 */
uint64_t tsdb_partition_resume_offset(tsdb_db *db, int partition);

/* ---------------------------------------------------------------- reads */

/* Open a read view over [mint_ms, maxt_ms] (inclusive). *out returned owned. Thread-safe. */
int tsdb_querier_open(tsdb_db *db, int64_t mint_ms, int64_t maxt_ms, tsdb_querier **out,
		      ts_err *err);
/* Close the view; every series and iterator obtained from it becomes invalid. NULL ok. */
void tsdb_querier_close(tsdb_querier *q);

/*
 * Select the series matching all matchers (borrowed; at least one) that have samples in
 * the querier's range, sorted by labels. *out is an array returned owned (free with
 * ts_free); the series in it stay valid until the querier is closed. Within one querier
 * a series is always the same pointer, whichever select returned it (a series stored
 * in several blocks and the head is one series). TS_ELIMIT when more than max_series
 * match (0 = no limit). A querier and its iterators are used by one thread at a time.
 */
int tsdb_select(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, size_t max_series,
		tsdb_series ***out, size_t *n_out, ts_err *err);

/* The series' labels (borrowed, sorted; valid while the querier is open). */
const ts_label *tsdb_series_labels(const tsdb_series *s, size_t *n_labels);

/* Iterate s's samples in [mint_ms, maxt_ms] ∩ the querier range, in time order. */
int tsdb_iter_open(tsdb_querier *q, tsdb_series *s, int64_t mint_ms, int64_t maxt_ms,
		   tsdb_iter **out, ts_err *err);
/* Next sample: returns 1 and sets t_ms and v, 0 at the end, or a negative TS_E* code. */
int tsdb_iter_next(tsdb_iter *it, int64_t *t_ms, double *v);
/* NULL allowed. */
void tsdb_iter_close(tsdb_iter *it);

/*
 * Sorted, unique label names (or values of label `name`) over the series selected by the
 * matchers (n_ms may be 0 = all series) with samples in the querier range. *out is an
 * owned array of borrowed strings (valid until the querier closes); free it with ts_free.
 */
int tsdb_label_names(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, const char ***out,
		     size_t *n_out, ts_err *err);
int tsdb_label_values(tsdb_querier *q, const char *name, const ts_matcher *ms, size_t n_ms,
		      const char ***out, size_t *n_out, ts_err *err);

/* ---------------------------------------------------------------- stats */

typedef struct tsdb_stats {
	uint64_t n_series;              /* active series in the head */
	uint64_t n_samples;             /* samples held in the head */
	uint64_t head_bytes;            /* memory held by head samples and series */
	uint64_t samples_appended;      /* total accepted */
	uint64_t duplicates_dropped;    /* exact duplicates ignored */
	uint64_t out_of_order_rejected; /* too old or conflicting */
	int64_t min_t_ms, max_t_ms;     /* time range held; min > max when empty */
	/* Added with blocks: */
	uint64_t head_bytes_per_series;    /* head_bytes / n_series (0 without series) */
	uint64_t head_chunk_bytes;         /* of head_bytes: Gorilla chunk buffers */
	uint64_t head_chunks;              /* chunk buffers (sealed + open) */
	uint64_t head_ooo_samples;         /* samples waiting in out-of-order buffers */
	uint64_t rechunks;                 /* out-of-order buffers merged into chunks */
	uint64_t n_blocks;                 /* blocks loaded */
	uint64_t block_bytes;              /* bytes of their files */
	uint64_t block_samples;            /* samples they hold */
	uint64_t cuts, cut_errors;         /* head-to-block cuts done / failed */
	uint64_t blocks_quarantined;       /* corrupt blocks moved to quarantine/ */
	uint64_t block_duplicates_dropped; /* head samples a block already held at a cut */
} tsdb_stats;

/* Snapshot of counters and gauges. Thread-safe. */
void tsdb_stats_get(tsdb_db *db, tsdb_stats *out);

#endif /* TSDB_TSDB_H */
