/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval.h: the PromQL evaluator's internal types (query/ and its tests only).
 *
 * Evaluation follows Prometheus' range evaluation: every node is evaluated once for all
 * steps of the query (an instant query is a range query with one step) and yields a
 * qe_value:
 *  - SCALAR: one double per step.
 *  - VECTOR: series with one optional value per step (`ok[i]` says whether the series
 *    has a value at step i).
 *  - MATRIX: series with their raw samples (sorted, stale markers dropped) over the
 *    union of all steps' windows; qe_window() gives the window of step i.
 *  - STRING: a string, the same at every step.
 * All memory comes from the query's arena (STYLE.md 5): nothing is freed piecemeal.
 *
 * Files: engine.c (public API, limits, results), eval.c (dispatch, literals, selectors,
 * subqueries, unary), eval_binary.c (binary operators and vector matching),
 * eval_agg.c (aggregations), functions.c (the function library).
 */
#ifndef QUERY_EVAL_H
#define QUERY_EVAL_H

#include "query/query.h"

#include "query/arena.h"
#include "query/ast.h"

#include <stdbool.h>
#include <stdint.h>

/* The PromQL staleness marker: a NaN with this exact bit pattern. */
#define QE_STALE_NAN_BITS 0x7ff0000000000002ULL

struct query_engine {
	query_options opt;
};

/* Evaluation context of one query (or of one subquery level). */
typedef struct qe_ctx {
	query_engine *eng;
	tsdb_querier *q;        /* read view covering every selector's window */
	query_arena *arena;     /* all temporaries and the result */
	int64_t start_ms;       /* first step */
	int64_t end_ms;         /* last step is the largest start + k*step <= end */
	int64_t step_ms;        /* > 0 */
	size_t n_steps;         /* >= 1 */
	int64_t query_start_ms; /* the outermost query's start, for @ start() */
	int64_t query_end_ms;   /* the outermost query's end, for @ end() */
	int64_t lookback_ms;
	int64_t deadline_ns; /* ts_mono_ns() deadline */
	uint64_t *samples;   /* samples currently held by the query (shared by levels) */
	query_stats *stats;  /* shared by levels */
	ts_err *err;
} qe_ctx;

typedef struct qe_series {
	ts_label *labels; /* sorted; arena */
	size_t n_labels;
	double *v; /* n_steps values */
	bool *ok;  /* n_steps presence flags */
} qe_series;

typedef struct qe_rseries {
	ts_label *labels; /* sorted; arena */
	size_t n_labels;
	int64_t *t; /* sample times, ascending */
	double *v;
	size_t n;
} qe_rseries;

typedef struct qe_value {
	query_value_type type;
	double *scalar; /* SCALAR: n_steps values */
	qe_series *vec; /* VECTOR */
	size_t n_vec;
	qe_rseries *rng; /* MATRIX */
	size_t n_rng;
	int64_t range_ms; /* MATRIX: window length */
	query_mods mods;  /* MATRIX: offset and @ of the windows */
	const char *str;  /* STRING */
	size_t str_len;
} qe_value;

/* Evaluate e over the context's steps into *out (arena memory). TS_OK or a TS_E* code
 * with c->err set. */
int qe_eval(qe_ctx *c, const query_expr *e, qe_value *out);

/* Time of step i. */
static inline int64_t qe_step_time(const qe_ctx *c, size_t i)
{
	return c->start_ms + (int64_t)i * c->step_ms;
}

/* Reference time of step i after offset and @ (the time a selector reads at). */
int64_t qe_ref_time(const qe_ctx *c, const query_mods *m, size_t i);

/* Window [lo, hi] (inclusive) of a MATRIX value at step i. */
void qe_window(const qe_ctx *c, const qe_value *m, size_t i, int64_t *lo, int64_t *hi);

/* Index of the first sample with t >= lo in r (binary search). */
size_t qe_lower_bound(const qe_rseries *r, int64_t lo);

/* Check the deadline; TS_ETIMEOUT with the Prometheus message when past it. */
int qe_check_timeout(qe_ctx *c);
/* Account n more samples held; TS_ELIMIT with the Prometheus message when over. */
int qe_add_samples(qe_ctx *c, uint64_t n);

/* Arena helpers. */
void *qe_alloc(qe_ctx *c, size_t size);      /* zeroed; sets c->err on failure */
int qe_series_init(qe_ctx *c, qe_series *s); /* allocate v/ok for n_steps */
/* Copy labels into the arena, optionally dropping __name__. */
int qe_labels_copy(qe_ctx *c, const ts_label *src, size_t n, bool drop_name, ts_label **out,
		   size_t *n_out);
/* Error for a failed arena allocation: TS_ELIMIT if over budget, else TS_ENOMEM. */
int qe_nomem(qe_ctx *c);

/* Node kinds implemented in their own files. */
int qe_eval_binary(qe_ctx *c, const query_expr *e, qe_value *out);
int qe_eval_aggregate(qe_ctx *c, const query_expr *e, qe_value *out);
int qe_eval_call(qe_ctx *c, const query_expr *e, qe_value *out);

bool qe_is_stale(double v);

#endif /* QUERY_EVAL_H */
