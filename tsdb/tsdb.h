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
 * The same worker compacts adjacent or overlapping blocks of a tier into larger ones
 * (compact.c), deletes blocks older than their tier's retention and moves old blocks
 * to the optional cold directory (retention.c), which is read like the data directory.
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
	/* Added with compaction, retention and the cold directory (compact.c, retention.c): */
	int64_t max_block_duration_ms; /* longest block compaction builds; per tier the cap is
					* min(this, 10% of the tier's retention) */
	const char *cold_dir;          /* optional directory (borrowed) that blocks whose range
					* ended more than cold_after_ms ago move to; NULL = none */
	int64_t cold_after_ms;         /* age (see retention.c) at which blocks move cold */
} tsdb_options;

/*
 * Fill *o with defaults (memory only, 8 partitions, 10m window, 2h blocks, 7d/30d/365d,
 * cut check every 1 s, compaction up to 24h blocks, no cold directory, cold after 2d).
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
 * Append n samples (t_ms[i], v[i], borrowed) to one series: the same as n tsdb_append
 * calls with these labels, but the series is looked up and locked once, and
 * out-of-order samples in increasing time order share one decode of the open chunk.
 * Samples the store refuses (TS_EOUTOFORDER cases) are skipped and counted in
 * *n_rejected; err then holds the first one's message. Returns TS_OK when all n were
 * handled; otherwise the error (TS_ENOMEM, TS_ELIMIT, ...) that stopped it at sample
 * *n_done (samples before it were handled; a retry of all n is safe: the store drops
 * exact duplicates). *n_done and *n_rejected are always written. Thread-safe.
 */
int tsdb_append_series(tsdb_db *db, const ts_label *labels, size_t n_labels, const int64_t *t_ms,
		       const double *v, size_t n, size_t *n_done, size_t *n_rejected, ts_err *err);

/*
 * tsdb_append_series for a caller that already has the series hash: `hash` must be
 * ts_series_hash(labels, n_labels) (ingest computes it to pick the log partition), which
 * saves hashing the label set again (about a tenth of an append). A wrong hash is a bug
 * of the caller (it would create a second series; Debug builds assert). Thread-safe.
 */
int tsdb_append_series_hashed(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n_labels,
			      const int64_t *t_ms, const double *v, size_t n, size_t *n_done,
			      size_t *n_rejected, ts_err *err);

/*
 * Series references, for a caller that appends to the same series again and again (the
 * log consumer keeps them across records): a counted reference to one head series, so
 * the lookup (hash chain, label compare) is paid once instead of at every append.
 *
 * _get: the series of a normalized label set (borrowed; hash == ts_series_hash(labels,
 * n_labels)), created if new; TS_OK, TS_ENOMEM, TS_ELIMIT. _append: as
 * tsdb_append_series, plus TS_EBUSY (at *n_done) when the series has been removed from
 * the head since (an empty series is dropped at a cut): put the reference and get a new
 * one. _put drops the reference (NULL allowed). A reference keeps the series' memory,
 * not its samples: hold references for a bounded set of series. Thread-safe.
 */
typedef struct tsdb_hseries tsdb_series_ref;
int tsdb_series_ref_get(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n_labels,
			tsdb_series_ref **out, ts_err *err);
int tsdb_series_ref_append(tsdb_db *db, tsdb_series_ref *s, const int64_t *t_ms, const double *v,
			   size_t n, size_t *n_done, size_t *n_rejected, ts_err *err);
void tsdb_series_ref_put(tsdb_db *db, tsdb_series_ref *s);

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

/* ---------------------------------------------------------------- tiers */

/*
 * Tiers: raw samples, and the 1-minute and 1-hour rollups the background worker builds
 * from complete raw blocks (downsample.c; column scheme in docs/formats/block.md
 * section 9). A rollup row summarizes the samples of one series in one bucket
 * (t - resolution, t] (t is the bucket's last millisecond, so buckets start at
 * multiples of the resolution); staleness markers are not samples. The head is always
 * raw; a tier exists only where its blocks were built (see tsdb_querier_covers).
 */
enum { TSDB_TIER_RAW = 0, TSDB_TIER_1M = 1, TSDB_TIER_1H = 2, TSDB_TIER_N = 3 };

/* Bucket width of a tier in ms (0 for raw and for unknown tiers). */
int64_t tsdb_tier_resolution_ms(int tier);
/* "raw", "1m", "1h" (static strings; "?" for unknown tiers). */
const char *tsdb_tier_name(int tier);

typedef struct tsdb_rollup {
	int64_t t_ms;       /* bucket end: the row covers (t_ms - resolution, t_ms] */
	int64_t first_t_ms; /* time of the first sample in the bucket */
	int64_t last_t_ms;  /* time of the last sample */
	double count;       /* samples (>= 1) */
	double sum;         /* their sum (NaN if one is NaN) */
	double min, max;    /* NaN only if every sample is NaN (min/max_over_time rule) */
	double first, last; /* first and last sample values */
	double resets;      /* sum of v[i-1] over consecutive samples in the bucket with
			     * v[i] < v[i-1] (PromQL's counter correction inside it) */
	double counter;     /* running reset-adjusted counter at the last sample, counted
			     * from the series' first sample in its block (Thanos' scheme);
			     * exact increases use first/last/resets instead */
} tsdb_rollup;

typedef struct tsdb_rollup_iter tsdb_rollup_iter; /* rollup rows of one series */

/*
 * Open a read view of one tier over [mint_ms, maxt_ms]: TSDB_TIER_RAW is
 * tsdb_querier_open (raw blocks and the head); a rollup tier selects series from that
 * tier's blocks only and reads them with tsdb_rollup_iter_*. Thread-safe. TS_EINVAL
 * for an unknown tier.
 */
int tsdb_querier_open_tier(tsdb_db *db, int tier, int64_t mint_ms, int64_t maxt_ms,
			   tsdb_querier **out, ts_err *err);
/* The tier of a querier. */
int tsdb_querier_tier(const tsdb_querier *q);
/*
 * True if `tier`'s blocks in q's block set (the set q opened with, whatever q's own
 * tier) together cover every millisecond of [mint_ms, maxt_ms] (block ranges, so a
 * covered stretch may hold no data); always true for raw. The planner uses it to fall
 * back to raw where a tier is not built yet. Same threading rule as the querier.
 */
bool tsdb_querier_covers(tsdb_querier *q, int tier, int64_t mint_ms, int64_t maxt_ms);

/*
 * Iterate the rollup rows of s (from a rollup-tier querier) whose bucket end lies in
 * [mint_ms, maxt_ms] ∩ the querier range, in time order. TS_EINVAL on a raw querier.
 */
int tsdb_rollup_iter_open(tsdb_querier *q, tsdb_series *s, int64_t mint_ms, int64_t maxt_ms,
			  tsdb_rollup_iter **out, ts_err *err);
/* Next row: 1 and *row filled, 0 at the end, or a negative TS_E* code. */
int tsdb_rollup_iter_next(tsdb_rollup_iter *it, tsdb_rollup *row);
/* NULL allowed. */
void tsdb_rollup_iter_close(tsdb_rollup_iter *it);

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
	/* Added with compaction and retention: */
	uint64_t compactions, compaction_errors; /* block merges done / failed */
	uint64_t blocks_retention_deleted;       /* blocks deleted whole by retention */
	uint64_t blocks_moved_cold;              /* blocks moved to the cold directory */
	/* Added with tiers (downsample.c, querier.c): */
	uint64_t downsampled_1m, downsampled_1h; /* rollup blocks written per tier */
	uint64_t downsample_errors;              /* downsampling passes that failed */
	uint64_t raw_parts_decoded;              /* raw block parts decoded by queriers */
	uint64_t head_series_reads;              /* series reads from the head by queriers */
	uint64_t rollup_parts_decoded;           /* rollup block parts decoded by queriers */
} tsdb_stats;

/* Snapshot of counters and gauges. Thread-safe. */
void tsdb_stats_get(tsdb_db *db, tsdb_stats *out);

/* ---------------------------------------------------------------- late writes (late.c) */

/*
 * Late-write tracking, for caches of query results (query/cache.c). A reader that keeps
 * results computed from samples up to some time raises the store's watermark to that
 * time (tsdb_late_watch); from then on every accepted append with t_ms <= watermark is
 * a "late write" and is recorded as (metric name, minimum timestamp). The reader takes
 * the records with tsdb_late_drain, which ends a generation: the next drain returns
 * only writes recorded after this one. Granularity is per metric name: up to
 * TSDB_LATE_MAX_NAMES distinct names per generation, beyond that one mark for every
 * metric (name_hash TSDB_LATE_ALL) carries the overall minimum. The watermark only
 * rises, and appends newer than it pay one relaxed atomic load.
 *
 * Ordering: the check runs under the series lock the append holds, and readers snapshot
 * a series under the same lock, so a reader that raises the watermark before opening its
 * querier either sees a concurrent sample or finds it in the next drain.
 * Drains are meant for one consumer per store (each drain hands its records to the
 * caller only).
 */
#define TSDB_LATE_MAX_NAMES 256
#define TSDB_LATE_ALL       0 /* name_hash of a mark that applies to every metric */

typedef struct tsdb_late_mark {
	uint64_t name_hash; /* tsdb_late_name_hash of the metric name, or TSDB_LATE_ALL */
	int64_t min_t_ms;   /* oldest late sample of that metric in the generation */
} tsdb_late_mark;

/* The hash a mark uses for metric name `name` (never TSDB_LATE_ALL). Pure function. */
uint64_t tsdb_late_name_hash(const char *name);

/* Raise the watermark to at least t_ms (it never falls). Thread-safe. */
void tsdb_late_watch(tsdb_db *db, int64_t t_ms);

/* The current watermark (INT64_MIN until the first watch). Thread-safe. */
int64_t tsdb_late_watermark(tsdb_db *db);

/*
 * Take the marks recorded since the previous drain: writes up to TSDB_LATE_MAX_NAMES
 * marks to out and returns their number (0 when nothing was late; cheap, no lock then).
 * Bumps the generation when it returns marks. Thread-safe.
 */
size_t tsdb_late_drain(tsdb_db *db, tsdb_late_mark out[TSDB_LATE_MAX_NAMES]);

/* Late writes recorded since the store opened (accepted appends at or below the
 * watermark). Thread-safe. */
uint64_t tsdb_late_count(tsdb_db *db);

/* ---------------------------------------------------------------- cardinality */

#define TSDB_CARDINALITY_MAX_LIMIT 10000 /* entries per list tsdb_cardinality_get keeps */

/* One entry of a cardinality list. */
typedef struct tsdb_card_stat {
	const char *name; /* metric name, label name, or "name=value" */
	uint64_t count;   /* series, distinct values or bytes (see the list) */
} tsdb_card_stat;

/* Head cardinality, as Prometheus' /api/v1/status/tsdb reports it (cardinality.c). */
typedef struct tsdb_cardinality {
	uint64_t n_series;          /* head series */
	uint64_t n_label_pairs;     /* distinct label name=value pairs in the head */
	uint64_t n_chunks;          /* head chunks */
	int64_t min_t_ms, max_t_ms; /* head time range; min > max when empty */
	/* Top lists, largest count first (ties by name): */
	tsdb_card_stat *series_by_metric; /* series per metric name */
	size_t n_series_by_metric;
	tsdb_card_stat *values_by_label; /* distinct values per label name */
	size_t n_values_by_label;
	tsdb_card_stat *memory_by_label; /* sum of len(value) x series per label name */
	size_t n_memory_by_label;
	tsdb_card_stat *series_by_pair; /* series per "name=value" */
	size_t n_series_by_pair;
} tsdb_cardinality;

/*
 * Head cardinality with the top `limit` (<= TSDB_CARDINALITY_MAX_LIMIT; 0 = lists empty)
 * entries per list. *out is one allocation returned owned (free with ts_free). TS_OK,
 * TS_EINVAL (limit too large), TS_ENOMEM. Thread-safe; holds the index lock shared for
 * one pass over the head's postings.
 */
int tsdb_cardinality_get(tsdb_db *db, size_t limit, tsdb_cardinality **out, ts_err *err);

/* ---------------------------------------------------------------- snapshots (snapshot.c) */

#define TSDB_SNAPSHOT_NAME_MAX 40 /* bytes of a snapshot name, NUL included */

/*
 * Write an online, consistent snapshot of the store to <dir>/snapshots/<name>/ (dir =
 * options.dir): hard links of every block plus, unless skip_head, the head's samples
 * written as blocks. The directory is a data directory: a store opened on it holds the
 * snapshot's samples (every sample applied before the call, and maybe some appended
 * during it). name receives "<YYYYMMDDTHHMMSSZ>-<16 hex digits>" (Prometheus' form;
 * name_cap >= TSDB_SNAPSHOT_NAME_MAX). resume_offsets (NULL allowed, else n_partitions
 * entries) receives, per log partition, the offset a store opened on the snapshot
 * resumes from (tsdb_partition_resume_offset there). path (NULL allowed) receives the
 * snapshot directory, returned owned (ts_free). Appends continue meanwhile; cuts
 * wait until it is done. TS_OK, TS_EINVAL (no data directory), TS_EIO, TS_ENOSPC,
 * TS_ENOMEM, TS_ELIMIT; on error nothing is left under the final name. Thread-safe; the
 * calling thread must not hold an open querier.
 */
int tsdb_snapshot(tsdb_db *db, bool skip_head, char *name, size_t name_cap,
		  uint64_t *resume_offsets, char **path, ts_err *err);

/* ---------------------------------------------------------------- deletion (tombstones.c) */

/*
 * Delete the samples in [mint_ms, maxt_ms] of every series matching ms (borrowed; at
 * least one) in the head, raw blocks and the 1m/1h tiers, as Prometheus' delete_series:
 * the range's end is clamped to the newest sample held, so later samples stay visible.
 * Queriers opened after the call no longer see them (a tier hides each rollup row whose
 * bucket meets a deleted range); they are removed from disk by compaction and
 * tsdb_clean_tombstones. Tombstones are persisted in <dir>/tombstones before the call
 * returns (docs/formats/tombstones.md) and invalidate the late-write tracker's readers
 * (tsdb_late_drain returns a mark per deleted metric name). *n_series (NULL allowed)
 * receives the number of series affected. TS_OK, TS_EINVAL, TS_EIO, TS_ENOSPC,
 * TS_ENOMEM, TS_ELIMIT (too many tombstones). Thread-safe; the calling thread must not
 * hold an open querier.
 */
int tsdb_delete_series(tsdb_db *db, const ts_matcher *ms, size_t n_ms, int64_t mint_ms,
		       int64_t maxt_ms, size_t *n_series, ts_err *err);

/*
 * Remove deleted samples physically: flush the head to blocks, rewrite every block a
 * tombstone meets, then drop the tombstones (except those meeting samples appended to
 * the head meanwhile). *n_rewritten (NULL allowed) receives the blocks rewritten.
 * Without a data directory tombstones stay (they are the only filter). TS_OK, TS_EIO,
 * TS_ENOSPC, TS_ENOMEM, TS_EBUSY. Thread-safe; the calling thread must not hold a querier.
 */
int tsdb_clean_tombstones(tsdb_db *db, size_t *n_rewritten, ts_err *err);

/* Tombstone intervals currently held. Thread-safe. */
size_t tsdb_tombstones_count(tsdb_db *db);

/* ---------------------------------------------------------------- series limits */

/*
 * A series limiter (limits.c) answers, before a sample is written, whether its series may
 * exist: known series always may; a new one only while the total and its metric's number
 * of series are below the limits (the config's ingest.max_series and
 * ingest.max_series_per_metric). Ingest calls it before the log append, since the store
 * applies the log later. It keeps its own set of the series' hashes (8-16 bytes per
 * series), seeded when created from the active series (a sample in the last hour, head
 * or blocks); when a limit is reached it re-seeds (at most once a minute), so series that
 * went quiet free their room. Series admitted
 * but not yet applied to the store are forgotten by a re-seed and admitted again on their
 * next sample, so a limit can be passed by the few series in flight at that moment.
 */
typedef struct tsdb_limiter tsdb_limiter;

/*
 * New limiter over db (borrowed; must outlive it): max_series, max_series_per_metric
 * (0 = no bound; both 0 is allowed but useless). *out returned owned. TS_ENOMEM.
 */
int tsdb_limiter_new(tsdb_db *db, uint64_t max_series, uint64_t max_series_per_metric,
		     tsdb_limiter **out, ts_err *err);
/* NULL allowed. */
void tsdb_limiter_free(tsdb_limiter *l);
/*
 * May the series with these labels (normalized, borrowed) and hash (ts_series_hash of
 * them) be written? TS_OK (known, or new and admitted now), TS_ELIMIT naming the limit and
 * the metric ("max_series_per_metric 100 reached for metric 'cpu'"), TS_ENOMEM.
 * Thread-safe; a known series costs one shared lock and a hash probe.
 */
int tsdb_limiter_admit(tsdb_limiter *l, const ts_label *labels, size_t n_labels, uint64_t hash,
		       ts_err *err);
/* Series currently counted (admitted or seen in the head). Thread-safe. */
uint64_t tsdb_limiter_n_series(tsdb_limiter *l);

#endif /* TSDB_TSDB_H */
