/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query.h: the public interface of query/: PromQL over the store.
 *
 * A query_engine evaluates PromQL expressions at an instant or over a range with
 * Prometheus semantics (5-minute lookback, staleness markers, step alignment). It
 * reads the store only through tsdb.h. Results are owned by the caller and freed with
 * query_result_free().
 *
 * Thread-safety: a query_engine may be used by any number of threads at once.
 */
#ifndef QUERY_QUERY_H
#define QUERY_QUERY_H

#include "common/common.h"
#include "tsdb/tsdb.h"

#include <stddef.h>
#include <stdint.h>

typedef struct query_engine query_engine;

/* ---------------------------------------------------------------- series sources */

/*
 * Receives one selected series: labels sorted by name, samples ascending by time with
 * no duplicate timestamps (stale markers included). Everything is borrowed for the call.
 * Returns TS_OK to go on or an error code that the source returns unchanged.
 */
typedef int (*query_series_fn)(void *arg, const ts_label *labels, size_t n_labels, const int64_t *t,
			       const double *v, size_t n);

/*
 * Where an engine reads series from when it has no store of its own (cluster role query:
 * web/fanout.c reads the store nodes). The engine calls select once per selector
 * evaluation, from the query's thread; it may be called from many threads at once.
 *
 * select: call fn for every series matching all n_m matchers m that has samples in
 * [mint_ms, maxt_ms]; at most max_series series (0: no bound) else TS_ELIMIT. When part
 * of the data is unavailable the source still answers from the rest and writes a
 * warning (NUL-terminated, at most warning_cap bytes; e.g. "store X unavailable:
 * partial result") into warning; the engine reports it in query_result.warning.
 * Errors: TS_EUNAVAIL (no data source answered), TS_ELIMIT, TS_ETIMEOUT, TS_ENOMEM,
 * TS_EIO, or fn's error.
 */
typedef struct query_source {
	int (*select)(void *ctx, const ts_matcher *m, size_t n_m, int64_t mint_ms, int64_t maxt_ms,
		      size_t max_series, query_series_fn fn, void *arg, char *warning,
		      size_t warning_cap, ts_err *err);
	void *ctx; /* passed to select */
} query_source;

typedef struct query_options {
	tsdb_db *db;                /* borrowed; NULL when source is set */
	const query_source *source; /* borrowed; NULL: read db. Set: selectors read through
				       it, rollup tiers are not used and db is ignored */
	int64_t lookback_delta_ms;  /* instant-vector lookback (default 5m) */
	int64_t timeout_ms;         /* per query */
	int64_t max_samples;        /* samples a query may hold in memory at once */
	size_t max_series;          /* series a selector may select */
	bool is_raw_only;           /* never read the rollup tiers (benchmarks, debugging) */
} query_options;

void query_options_init(query_options *o);
int query_engine_new(const query_options *o, query_engine **out, ts_err *err);
void query_engine_free(query_engine *e);

typedef enum query_result_type {
	QUERY_RESULT_SCALAR,
	QUERY_RESULT_VECTOR,
	QUERY_RESULT_MATRIX,
	QUERY_RESULT_STRING,
} query_result_type;

/* One series of a result: an instant vector element has n == 1. */
typedef struct query_series {
	ts_label *labels; /* sorted; owned by the result */
	size_t n_labels;
	int64_t *t; /* sample timestamps (ms) */
	double *v;  /* sample values */
	size_t n;
} query_series;

typedef struct query_stats {
	uint64_t samples_loaded; /* samples read from the store */
	uint64_t series_loaded;  /* series read from the store */
	int64_t exec_ns;         /* evaluation time */
	const char *tier;        /* tiers read, coarsest first: "raw", "1m", "1h", "1h+raw",
				  * "1h+1m+raw", ... (static string; query/tiers.c) */
	unsigned tiers_read;     /* bit 1 << TSDB_TIER_* for every tier read */
	int cache;               /* 1 if answered (partly) from the range cache */
} query_stats;

typedef struct query_result {
	query_result_type type;
	query_series *series; /* VECTOR and MATRIX */
	size_t n_series;
	double scalar; /* SCALAR */
	int64_t t_ms;  /* SCALAR and STRING: evaluation time */
	char *string;  /* STRING */
	query_stats stats;
	char warning[256]; /* non-empty: the answer is partial (query_source warning) */
	void *priv;        /* memory owned by the result */
} query_result;

/*
 * Evaluate `expr` at t_ms (instant query) or at every step in [start_ms, end_ms]
 * (range query; result is a MATRIX or, for scalar expressions, a MATRIX with one
 * unlabeled series). *out returned owned.
 * Errors: TS_EPARSE (bad expression; message "1:5: parse error: ..."), TS_EINVAL (bad
 * arguments), TS_ELIMIT (too many samples/series), TS_ETIMEOUT, TS_ENOMEM.
 */
int query_instant(query_engine *e, const char *expr, size_t len, int64_t t_ms, query_result **out,
		  ts_err *err);
int query_range(query_engine *e, const char *expr, size_t len, int64_t start_ms, int64_t end_ms,
		int64_t step_ms, query_result **out, ts_err *err);
/*
 * The same with a per-request deadline (the HTTP timeout parameter): deadline_ns is a
 * ts_mono_ns() time; the query stops with TS_ETIMEOUT at the earlier of it and the
 * engine's timeout_ms from the start. deadline_ns <= 0: the engine's timeout only.
 */
int query_instant_until(query_engine *e, const char *expr, size_t len, int64_t t_ms,
			int64_t deadline_ns, query_result **out, ts_err *err);
int query_range_until(query_engine *e, const char *expr, size_t len, int64_t start_ms,
		      int64_t end_ms, int64_t step_ms, int64_t deadline_ns, query_result **out,
		      ts_err *err);
void query_result_free(query_result *r);

/*
 * Parse a series selector ("up{job=~\"a.*\"}", as in match[] parameters) into an array
 * of compiled matchers (returned owned; free with query_matchers_free). TS_EPARSE with a
 * positioned message when text is not a vector selector.
 */
int query_parse_selector(const char *text, size_t len, ts_matcher **out, size_t *n_out,
			 ts_err *err);
void query_matchers_free(ts_matcher *m, size_t n);

/*
 * Check a rule expression without evaluating it (query/check.c): it must parse, pass the
 * type checker, and evaluate to an instant vector or a scalar. TS_OK, TS_EPARSE with the
 * same positioned message query_instant gives ("1:15: parse error: ..."), TS_ELIMIT
 * (too long or nested too deep), TS_ENOMEM. Thread-safe.
 */
int query_check_expr(const char *expr, size_t len, ts_err *err);

/*
 * Parse expr and append its canonical text to out, as Prometheus' Expr.String() prints
 * it (/api/v1/format_query; query/format.c): `sum(rate(x[5m]))by(job)` becomes
 * `sum by (job) (rate(x[5m]))`. out may be NULL (parse and type only). *type (NULL
 * allowed) gets the expression's result type (a range vector is MATRIX). TS_OK,
 * TS_EPARSE (message as query_instant's), TS_ELIMIT (too long, too deep, or out full),
 * TS_ENOMEM. Thread-safe.
 */
int query_format(const char *expr, size_t len, ts_buf *out, query_result_type *type, ts_err *err);

/* ---------------------------------------------------------------- range-read cache */

/*
 * A cache in front of query_range (query/cache.c). Entries are keyed by the normalized
 * expression (parsed and printed, so spacing and spelling variants share an entry), the
 * step, the step grid's phase (start mod step) and the engine's lookback delta. Each
 * entry holds step-aligned extents: disjoint runs of steps [start, end] with their series
 * and points. A request is split into cached and missing runs; only the missing runs
 * are evaluated (on the same step grid) and the parts are merged, series by labels,
 * into a result equal to query_range's. Steps newer than now - freshness are never
 * stored. Entries are evicted least recently used when the cache holds more than
 * max_bytes. Late writes (samples at or before the newest cached step, tsdb.h "late
 * writes") trim every extent of entries reading that metric name from the sample's
 * timestamp on. Expressions with @ or a negative offset (results that depend on the
 * request range or on later data) bypass the cache.
 *
 * Counting: a request answered at least partly from cache is a hit (query_stats.cache
 * = 1), and also a partial hit when something had to be evaluated; a cacheable request
 * with nothing cached is a miss; bypassed requests are neither.
 *
 * Thread-safety: every function may be called from any number of threads.
 */
typedef struct query_cache query_cache;

/*
 * Where a cache learns about late writes (query/cache.c). Without one (NULL) the cache
 * uses the engine's store directly (tsdb_late_watch / tsdb_late_drain: role all). A
 * store node's cache reads a query_late_log (below); a query node's cache polls every
 * store's log over HTTP (web.h, web_late_client).
 *
 * sync: called before a request plans, without the cache lock (it may block on I/O):
 *   from its return on, every read of the data raises no write at or before upto_ms
 *   that is not reported by a later drain, and every late write recorded before the call
 *   is drained by the next drain. TS_OK, or an error when that cannot be promised (a
 *   store did not answer): the request then bypasses the cache. NULL: nothing to do.
 * watch: before evaluating steps up to t_ms that it will store (after sync); false when
 *   the provider cannot promise to report late writes up to t_ms (the request then does
 *   not store what it evaluated).
 * drain: take the marks known so far (at most TSDB_LATE_MAX_NAMES; more collapse into
 *   one TSDB_LATE_ALL mark holding the minimum). A mark {TSDB_LATE_ALL, INT64_MIN}
 *   drops every entry (a store restarted or its log overflowed). Called under the cache
 *   lock: must not block.
 * Every callback may be called from many threads at once.
 */
typedef struct query_late_provider {
	int (*sync)(void *ctx, int64_t upto_ms, ts_err *err);
	bool (*watch)(void *ctx, int64_t t_ms);
	size_t (*drain)(void *ctx, tsdb_late_mark out[TSDB_LATE_MAX_NAMES]);
	void *ctx; /* passed to every callback */
} query_late_provider;

typedef struct query_cache_options {
	size_t max_bytes;     /* memory bound of cached extents and keys; 0 = disabled */
	int64_t freshness_ms; /* steps newer than now - freshness_ms are not cached */
	/* borrowed, must outlive the cache; NULL = the engine's store (needs query_options.db) */
	const query_late_provider *late;
} query_cache_options;

typedef struct query_cache_stats {
	uint64_t hits;          /* requests answered at least partly from cache */
	uint64_t partial_hits;  /* of hits: requests that also evaluated missing steps */
	uint64_t misses;        /* cacheable requests with nothing cached */
	uint64_t bytes;         /* memory held by entries (gauge) */
	uint64_t entries;       /* entries held (gauge) */
	uint64_t evictions;     /* entries evicted to stay under max_bytes */
	uint64_t invalidations; /* extents trimmed or dropped because of late writes */
	uint64_t bypasses;      /* cacheable requests evaluated uncached: provider sync failed */
} query_cache_stats;

/*
 * A cache for range queries of engine e (borrowed; must outlive the cache). *out
 * returned owned, free with query_cache_free. With max_bytes 0 the cache exists but
 * stores nothing (every request is evaluated). TS_EINVAL (negative freshness),
 * TS_ENOMEM.
 */
int query_cache_new(query_engine *e, const query_cache_options *o, query_cache **out, ts_err *err);
void query_cache_free(query_cache *c); /* NULL allowed */

/*
 * query_range through cache c (NULL: plain query_range on e). c must have been created
 * for e. now_ms is the wall-clock time that the freshness window is measured from.
 * Same results, errors and ownership as query_range.
 */
int query_range_cached(query_engine *e, query_cache *c, const char *expr, size_t len,
		       int64_t start_ms, int64_t end_ms, int64_t step_ms, int64_t now_ms,
		       query_result **out, ts_err *err);
/* The same with a deadline (query_range_until) bounding every evaluated piece. */
int query_range_cached_until(query_engine *e, query_cache *c, const char *expr, size_t len,
			     int64_t start_ms, int64_t end_ms, int64_t step_ms, int64_t now_ms,
			     int64_t deadline_ns, query_result **out, ts_err *err);

/* Snapshot of the counters. Thread-safe. */
void query_cache_stats_get(query_cache *c, query_cache_stats *out);

/* ---------------------------------------------------------------- late-write log */

/*
 * A store node's record of late writes for several readers (query/late_log.c): its own
 * range cache and the query nodes polling GET /internal/v1/late
 * (docs/formats/internal_read.md). It is the only consumer of the store's tsdb_late
 * marks (tsdb_late_drain) and keeps the last `cap` of them in a ring, numbered 1, 2, ...
 * (seq). A reader remembers the epoch (random, new on every start) and the last seq it
 * saw; when its epoch is not the log's or its marks fell off the ring, it is told to
 * reset (drop everything it cached). Thread-safe.
 */
typedef struct query_late_log query_late_log;

#define QUERY_LATE_LOG_CAP 4096 /* default ring size */

/* A log over db (borrowed; the log must be its only tsdb_late_drain caller). cap 0 =
 * QUERY_LATE_LOG_CAP. TS_ENOMEM. */
int query_late_log_new(tsdb_db *db, size_t cap, query_late_log **out, ts_err *err);
void query_late_log_free(query_late_log *l);      /* NULL allowed */
uint64_t query_late_log_epoch(query_late_log *l); /* never 0 */
/* Raise the store's late-write watermark to at least t_ms (tsdb_late_watch). */
void query_late_log_watch(query_late_log *l, int64_t t_ms);

typedef struct query_late_read {
	uint64_t epoch;    /* the log's */
	uint64_t next_seq; /* pass as since next time */
	bool is_reset;     /* epoch or since unknown, or marks lost: drop everything */
	size_t n;          /* marks written to out */
} query_late_read;

/*
 * The marks after `since` of epoch `epoch` (at most cap; next_seq tells where to go on).
 * With is_reset, n is 0 and next_seq is the newest seq. Thread-safe.
 */
void query_late_log_read(query_late_log *l, uint64_t epoch, uint64_t since, tsdb_late_mark *out,
			 size_t cap, query_late_read *r);
/* A provider for the store's own cache: one more reader of l. Valid while l lives. */
const query_late_provider *query_late_log_provider(query_late_log *l);

#endif /* QUERY_QUERY_H */
