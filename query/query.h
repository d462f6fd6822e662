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

typedef struct query_options {
	tsdb_db *db;               /* borrowed */
	int64_t lookback_delta_ms; /* instant-vector lookback (default 5m) */
	int64_t timeout_ms;        /* per query */
	int64_t max_samples;       /* samples a query may hold in memory at once */
	size_t max_series;         /* series a selector may select */
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
	const char *tier;        /* "raw", "1m", "1h": tier read (static string) */
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
	void *priv; /* memory owned by the result */
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

#endif /* QUERY_QUERY_H */
