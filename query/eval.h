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
 * Step invariance: a node Prometheus' PreprocessExpr would wrap in a StepInvariantExpr
 * (literals, selectors and subqueries with @, and what is built only from them) is
 * evaluated once at the first step and copied to the others, so its quirks (an
 * aggregation's parameter is then read at the first step only) are Prometheus' too.
 *
 * Sample accounting (max_samples, Prometheus' currentSamples): every node adds the
 * points of its result to c->samples (a vector one per series and step with a value, a
 * scalar one per step, a range selector every sample it holds for all steps) and
 * releases its children's points when it is done, so binary and aggregation outputs
 * count while their inputs are still held; the limit is checked whenever the count
 * grows.
 *
 * Files: engine.c (public API, limits, results), eval.c (dispatch, literals, selectors,
 * subqueries, unary, step invariance), eval_labels.c (label sets, maps and result
 * builders), eval_binary.c (binary operators and vector matching), eval_agg.c
 * (aggregations), functions.c (call dispatch, math, date, label and misc functions),
 * functions_range.c (functions of range vectors), tiers.c (range functions answered from
 * rollup tiers), functions_hist.c (histogram_quantile and quantile helpers), regex.c
 * (pcre2 with capture groups for label_replace), source.c (selectors read through a
 * query_source instead of the store).
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
	tsdb_querier *q;        /* read view covering every selector's window; NULL with a
				   query_source (query_options.source) */
	query_arena *arena;     /* all temporaries and the result */
	int64_t start_ms;       /* first step */
	int64_t end_ms;         /* last step is the largest start + k*step <= end */
	int64_t step_ms;        /* > 0 */
	size_t n_steps;         /* >= 1 */
	int64_t query_start_ms; /* the outermost query's start, for @ start() */
	int64_t query_end_ms;   /* the outermost query's end, for @ end() */
	int64_t lookback_ms;
	int64_t deadline_ns; /* ts_mono_ns() deadline */
	bool at_shift;       /* @ reference times move with the step (see qe_window) */
	int64_t clip_ms;     /* selectors read no sample after clip_ms - their offset
				(INT64_MAX: no limit); see eval.c */
	uint64_t *samples;   /* samples currently held by the query (shared by levels) */
	query_stats *stats;  /* shared by levels */
	char *warning;       /* query_result.warning (256 bytes), shared by levels */
	ts_err *err;
} qe_ctx;

typedef struct qe_series {
	ts_label *labels; /* sorted; arena */
	size_t n_labels;
	double *v;  /* n_steps values */
	bool *ok;   /* n_steps presence flags */
	int64_t *t; /* n_steps sample timestamps (ms), only from qe_eval_selector_ts */
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
	bool at_shift;    /* MATRIX: @ windows move with the step (see qe_window) */
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

/*
 * Window [lo, hi] (inclusive) of a MATRIX value at step i. With at_shift (an @-pinned
 * range argument of a call that is not step invariant, e.g. predict_linear) the window
 * moves by the step's distance from the first step, as Prometheus 2.42's adjusted
 * offsets make it do.
 */
void qe_window(const qe_ctx *c, const qe_value *m, size_t i, int64_t *lo, int64_t *hi);

/* Index of the first sample with t >= lo in r (binary search). */
size_t qe_lower_bound(const qe_rseries *r, int64_t lo);

/* Check the deadline; TS_ETIMEOUT with Prometheus' message ("query timed out in
 * expression evaluation") when past it. */
int qe_check_timeout(qe_ctx *c);
/* Account n more samples held; TS_ELIMIT with the Prometheus message when over. */
int qe_add_samples(qe_ctx *c, uint64_t n);
/* Release n samples accounted with qe_add_samples. */
void qe_sub_samples(qe_ctx *c, uint64_t n);
/* Points held by a value: present steps of a vector, samples of a matrix, one per step
 * of a scalar. */
uint64_t qe_value_points(const qe_ctx *c, const qe_value *v);

/* Receives the samples of one selected series (in a scratch buffer valid for the call;
 * labels valid for the whole query). */
typedef int (*qe_series_fn)(qe_ctx *c, void *arg, const ts_label *labels, size_t n_labels,
			    const int64_t *t, const double *v, size_t n);
/* The selector vs through the engine's query_source (source.c): every matching series'
 * samples in [mint, maxt] (staleness markers dropped if asked) to fn. */
int qe_load_remote(qe_ctx *c, const query_expr *vs, int64_t mint, int64_t maxt, bool drop_stale,
		   qe_series_fn fn, void *arg);

/* True if Prometheus 2.42 treats e as step invariant (PreprocessExpr's rules). */
bool qe_is_step_invariant(const query_expr *e);
/* e without enclosing parentheses. */
const query_expr *qe_unparen(const query_expr *e);
/* Evaluate a vector selector recording each step's sample timestamp in s->t (for
 * timestamp()). */
int qe_eval_selector_ts(qe_ctx *c, const query_expr *vs, qe_value *out);
/* Evaluate the range-vector argument e of a call; at_shift as in qe_window. */
int qe_eval_matrix_arg(qe_ctx *c, const query_expr *e, bool at_shift, qe_value *out);

/* ---------------------------------------------------------------- label sets (eval_labels.c) */

/* Go's labels.Labels.String(): {a="b", c="d"} (values quoted like Go's %q). */
int qe_labels_format(const ts_label *l, size_t n, ts_buf *out);
bool qe_labels_equal(const ts_label *a, size_t na, const ts_label *b, size_t nb);
/* Copy of l (arena) keeping (keep) or dropping (!keep) the names in names[0..n_names)
 * (any order); drop_name also removes __name__. Strings stay borrowed. */
int qe_labels_filter(qe_ctx *c, const ts_label *l, size_t n, const char *const *names,
		     size_t n_names, bool keep, bool drop_name, ts_label **out, size_t *n_out);
/* Copy of l (arena) with label name set to value (NULL or "" deletes it). name and value
 * are borrowed and must live as long as the result. */
int qe_labels_set(qe_ctx *c, const ts_label *l, size_t n, const char *name, const char *value,
		  ts_label **out, size_t *n_out);

/* A hash map from label sets (borrowed, must outlive the map) to dense indexes. */
typedef struct qe_lmap {
	uint64_t *hash; /* per slot; 0 = empty (hashes are forced non-zero) */
	uint32_t *idx;  /* per slot: index into the key arrays */
	size_t cap;     /* slots, a power of two */
	size_t n;       /* keys */
	const ts_label **keys;
	size_t *key_n;
	size_t keys_cap;
} qe_lmap;

int qe_lmap_init(qe_ctx *c, qe_lmap *m, size_t hint);
/* The index of label set l, inserting it (next index) when new; *is_new says which. */
int qe_lmap_get(qe_ctx *c, qe_lmap *m, const ts_label *l, size_t n, size_t *idx, bool *is_new);
/* The index of l, or SIZE_MAX when absent. */
size_t qe_lmap_find(const qe_lmap *m, const ts_label *l, size_t n);

/* Builds a VECTOR value series by series, merging equal label sets across steps. */
typedef struct qe_vbuild {
	qe_lmap map;
	qe_series *s; /* index = map index */
	size_t cap;
	uint64_t points; /* values set so far (accounted with qe_add_samples) */
} qe_vbuild;

int qe_vbuild_init(qe_ctx *c, qe_vbuild *b, size_t hint);
/* Index of the output series with labels l (borrowed; must live as long as the result). */
int qe_vbuild_index(qe_ctx *c, qe_vbuild *b, const ts_label *l, size_t n, size_t *idx);
/* Set step i of series idx; a second value for the same labels at one step is Prometheus'
 * "vector cannot contain metrics with the same labelset" (TS_EINVAL). */
int qe_vbuild_set(qe_ctx *c, qe_vbuild *b, size_t idx, size_t i, double v);
/* Move the series into out (a VECTOR); b must not be used afterwards. */
void qe_vbuild_finish(qe_vbuild *b, qe_value *out);

/* Error for two results with one label set at one step. */
int qe_err_dup_labelset(qe_ctx *c);

/* ---------------------------------------------------------------- helpers shared by functions */

/*
 * Labels of absent()/absent_over_time() for argument arg: those set by equality matchers
 * of a selector (Prometheus' createLabelsForAbsentFunction: in matcher order, the first
 * equality matcher of a name sets it and any later or non-equality matcher of that name
 * deletes it), {} for anything else.
 */
int qe_absent_labels(qe_ctx *c, const query_expr *arg, ts_label **out, size_t *n_out);

/* Comparison of items a and b for qe_sort_go. */
typedef bool (*qe_less_fn)(const void *ctx, size_t a, size_t b);
/*
 * Sort items[0..n) by less as Go's sort.Sort orders them: insertion sort up to 12 items
 * (so ties keep Go's order), a stable merge sort above (ties may then be ordered
 * differently from Go's pdqsort). Returns TS_ENOMEM/TS_ELIMIT only for n > 12.
 */
int qe_sort_go(qe_ctx *c, size_t *items, size_t n, qe_less_fn less, const void *ctx);

/* Prometheus' quantile(): the q-quantile of v[0..n) (sorted in place, NaN first). */
double qe_quantile(double q, double *v, size_t n);
/* Go's strconv.FormatFloat(v, 'f', -1, 64) into out (cap >= 400). */
void qe_format_float_f(double v, char *out, size_t cap);
/* Go's strconv.ParseFloat(s, 64) acceptance and value; false if Go would reject s. */
bool qe_parse_float(const char *s, double *out);

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
/* Range-vector functions (functions_range.c); e is the call. */
int qe_eval_range_call(qe_ctx *c, const query_expr *e, qe_value *out);
/*
 * Apply range function id (one without scalar arguments) to r's samples in [lo, hi] at
 * step time t_ms, as qe_eval_range_call does: true and *out set when it yields a value;
 * false with *rc = TS_OK when not, or with an error code in *rc.
 */
bool qe_range_apply_window(qe_ctx *c, query_func_id id, const qe_rseries *r, int64_t lo, int64_t hi,
			   int64_t t_ms, double range_s, double *out, int *rc);
/*
 * Prometheus 2.42's extrapolatedRate after the counter correction: result is last -
 * first (+ corrections) over n >= 2 samples from (first_t, first_v) to last_t in window
 * [lo, hi]; the same operations whether the inputs come from samples or rollups.
 */
double qe_extrapolate_rate(double result, double first_v, int64_t first_t, int64_t last_t, size_t n,
			   int64_t lo, int64_t hi, double range_s, bool is_counter, bool is_rate);

/* ---------------------------------------------------------------- tier planner (tiers.c) */

/*
 * Answer range call e from the rollup tiers at the steps where that equals the raw
 * answer (raw samples for the others). *is_done false (and nothing evaluated) when the
 * call is not routable or no step can use a tier: the caller then evaluates it on raw.
 */
int qe_tier_range_call(qe_ctx *c, const query_expr *e, qe_value *out, bool *is_done);
/* The tier string of a query_stats.tiers_read mask: "raw", "1m", "1h", "1h+raw", ...
 * (static; "raw" for 0). */
const char *qe_tiers_name(unsigned mask);

/* histogram_quantile (functions_hist.c): q per step, v the buckets. */
int qe_histogram_quantile(qe_ctx *c, const double *q, const qe_value *v, qe_value *out);
/* label_replace (regex.c): everything but the vector comes from the call's strings. */
int qe_label_replace(qe_ctx *c, const query_expr *e, const qe_value *v, qe_value *out);

bool qe_is_stale(double v);

#endif /* QUERY_EVAL_H */
