/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval.c: evaluator dispatch and the leaves of PromQL: literals, vector and range
 * selectors, subqueries, unary operators, parentheses (see eval.h for value shapes).
 *
 * Selector semantics are Prometheus 2.42's:
 *  - An instant vector selector at reference time r = (@ or step time) - offset takes
 *    the newest sample with t in [r - lookback, r]; if that sample is the staleness
 *    marker the series has no value at that step.
 *  - A range selector's window at step i is [r - range, r], both ends included, and
 *    staleness markers are dropped from it.
 *  - A subquery evaluates its expression at steps aligned to multiples of its step
 *    (default 1m) from the first aligned time >= start - offset - range up to
 *    end - offset; the points form a range vector windowed like a range selector.
 * Samples of a series are read once for all steps and walked with a moving index.
 *
 * Step invariance (Prometheus' PreprocessExpr/StepInvariantExpr): a node that is step
 * invariant is evaluated once at the first step and its values copied to every step.
 * Range-vector nodes are exempt: their windows are pinned by @ already, except that an
 * @-pinned range argument of a call that is not itself step invariant gets windows that
 * move with the step (qe_eval_matrix_arg), which is what 2.42's offset adjustment does.
 * Prometheus then still reads that argument's samples only up to the @ time (its select
 * hints end there), so in that mode data is clipped (c->clip_ms) to what 2.42 would read.
 */
#include "query/eval.h"

#include <math.h>
#include <string.h>

/* Subqueries without a step use this resolution (Prometheus: evaluation_interval). */
#define QE_DEFAULT_SUBQUERY_STEP_MS 60000

bool qe_is_stale(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b == QE_STALE_NAN_BITS;
}

void *qe_alloc(qe_ctx *c, size_t size)
{
	void *p = query_arena_alloc(c->arena, size);
	if (!p)
		qe_nomem(c);
	return p;
}

int qe_nomem(qe_ctx *c)
{
	if (query_arena_over_limit(c->arena))
		return ts_err_set(c->err, TS_ELIMIT,
				  "query processing would use too much memory in query execution");
	return ts_err_set(c->err, TS_ENOMEM, "out of memory in query execution");
}

int qe_series_init(qe_ctx *c, qe_series *s)
{
	s->v = qe_alloc(c, c->n_steps * sizeof(*s->v));
	s->ok = qe_alloc(c, c->n_steps * sizeof(*s->ok));
	return s->v && s->ok ? TS_OK : qe_nomem(c);
}

int qe_labels_copy(qe_ctx *c, const ts_label *src, size_t n, bool drop_name, ts_label **out,
		   size_t *n_out)
{
	ts_label *l = qe_alloc(c, (n ? n : 1) * sizeof(*l));
	if (!l)
		return qe_nomem(c);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (drop_name && strcmp(src[i].name, TS_METRIC_NAME) == 0)
			continue;
		l[w++] = src[i]; /* strings are interned by the store or arena-owned */
	}
	*out = l;
	*n_out = w;
	return TS_OK;
}

int qe_check_timeout(qe_ctx *c)
{
	if (ts_mono_ns() > c->deadline_ns)
		return ts_err_set(c->err, TS_ETIMEOUT, "query timed out in expression evaluation");
	return TS_OK;
}

int qe_add_samples(qe_ctx *c, uint64_t n)
{
	*c->samples += n;
	if (*c->samples > (uint64_t)c->eng->opt.max_samples)
		return ts_err_set(c->err, TS_ELIMIT,
				  "query processing would load too many samples into memory in "
				  "query execution");
	return TS_OK;
}

void qe_sub_samples(qe_ctx *c, uint64_t n)
{
	*c->samples = *c->samples > n ? *c->samples - n : 0;
}

uint64_t qe_value_points(const qe_ctx *c, const qe_value *v)
{
	uint64_t n = 0;
	switch (v->type) {
	case QUERY_VALUE_SCALAR: return c->n_steps;
	case QUERY_VALUE_VECTOR:
		for (size_t k = 0; k < v->n_vec; k++)
			for (size_t i = 0; i < c->n_steps; i++)
				n += v->vec[k].ok[i];
		return n;
	case QUERY_VALUE_MATRIX:
		for (size_t k = 0; k < v->n_rng; k++)
			n += v->rng[k].n;
		return n;
	default: return 0;
	}
}

int64_t qe_ref_time(const qe_ctx *c, const query_mods *m, size_t i)
{
	int64_t t;
	switch (m->at) {
	case QUERY_AT_TIME: t = m->at_ms; break;
	case QUERY_AT_START: t = c->query_start_ms; break;
	case QUERY_AT_END: t = c->query_end_ms; break;
	default: t = qe_step_time(c, i); break;
	}
	if (c->at_shift && m->at != QUERY_AT_NONE)
		t += qe_step_time(c, i) - c->start_ms;
	return t - m->offset_ms;
}

void qe_window(const qe_ctx *c, const qe_value *m, size_t i, int64_t *lo, int64_t *hi)
{
	*hi = qe_ref_time(c, &m->mods, i);
	if (m->at_shift && !c->at_shift && m->mods.at != QUERY_AT_NONE)
		*hi += qe_step_time(c, i) - c->start_ms;
	*lo = *hi - m->range_ms;
}

const query_expr *qe_unparen(const query_expr *e)
{
	while (e->kind == QUERY_EXPR_PAREN)
		e = e->paren.expr;
	return e;
}

/* Functions whose result depends on the evaluation time even for invariant arguments
 * (Prometheus' AtModifierUnsafeFunctions). */
static bool at_unsafe(query_func_id id)
{
	switch (id) {
	case QUERY_FN_DAYS_IN_MONTH:
	case QUERY_FN_DAY_OF_MONTH:
	case QUERY_FN_DAY_OF_WEEK:
	case QUERY_FN_DAY_OF_YEAR:
	case QUERY_FN_HOUR:
	case QUERY_FN_MINUTE:
	case QUERY_FN_MONTH:
	case QUERY_FN_YEAR:
	case QUERY_FN_PREDICT_LINEAR:
	case QUERY_FN_TIME:
	case QUERY_FN_TIMESTAMP: return true;
	default: return false;
	}
}

bool qe_is_step_invariant(const query_expr *e)
{
	switch (e->kind) {
	case QUERY_EXPR_NUMBER:
	case QUERY_EXPR_STRING: return true;
	case QUERY_EXPR_VECTOR_SELECTOR: return e->vs.mods.at != QUERY_AT_NONE;
	case QUERY_EXPR_MATRIX_SELECTOR: return e->matrix.vs->vs.mods.at != QUERY_AT_NONE;
	case QUERY_EXPR_SUBQUERY: return e->subquery.mods.at != QUERY_AT_NONE;
	case QUERY_EXPR_AGGREGATE: return qe_is_step_invariant(e->agg.expr); /* not the param */
	case QUERY_EXPR_BINARY:
		return qe_is_step_invariant(e->binary.lhs) && qe_is_step_invariant(e->binary.rhs);
	case QUERY_EXPR_CALL:
		if (at_unsafe(e->call.func->id))
			return false;
		for (size_t i = 0; i < e->call.n_args; i++)
			if (!qe_is_step_invariant(e->call.args[i]))
				return false;
		return true;
	case QUERY_EXPR_UNARY: return qe_is_step_invariant(e->unary.expr);
	case QUERY_EXPR_PAREN: return qe_is_step_invariant(e->paren.expr);
	}
	return false;
}

size_t qe_lower_bound(const qe_rseries *r, int64_t lo)
{
	size_t a = 0, b = r->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (r->t[mid] < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/* ---------------------------------------------------------------- loading samples */

/*
 * Select the series of a selector and pass each one's samples in [mint, maxt] (stale
 * markers dropped if asked) to fn. Samples are read into one reusable ts_malloc scratch
 * buffer, so only what fn keeps takes arena memory.
 */
static int load_series(qe_ctx *c, const query_expr *vs, int64_t mint, int64_t maxt, bool drop_stale,
		       qe_series_fn fn, void *arg)
{
	if (c->clip_ms != INT64_MAX && vs->vs.mods.at == QUERY_AT_NONE &&
	    c->clip_ms - vs->vs.mods.offset_ms < maxt)
		maxt = c->clip_ms - vs->vs.mods.offset_ms;
	tsdb_series **sel = NULL;
	size_t n_sel = 0;
	c->stats->tiers_read |= 1u << TSDB_TIER_RAW;
	if (c->eng->opt.source) /* cluster role query: source.c */
		return qe_load_remote(c, vs, mint, maxt, drop_stale, fn, arg);
	int rc = tsdb_select(c->q, vs->vs.matchers, vs->vs.n_matchers, c->eng->opt.max_series, &sel,
			     &n_sel, c->err);
	if (rc)
		return rc;
	size_t cap = 0, loaded = 0;
	int64_t *t = NULL;
	double *v = NULL;
	for (size_t k = 0; k < n_sel && rc == TS_OK; k++) {
		if ((rc = qe_check_timeout(c)))
			break;
		tsdb_iter *it = NULL;
		if ((rc = tsdb_iter_open(c->q, sel[k], mint, maxt, &it, c->err)))
			break;
		size_t n = 0;
		int64_t st;
		double sv;
		int got;
		while ((got = tsdb_iter_next(it, &st, &sv)) == 1) {
			if (drop_stale && qe_is_stale(sv))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				if (nc > (size_t)c->eng->opt.max_samples + 1024) {
					got = ts_err_set(c->err, TS_ELIMIT,
							 "query processing would load too many "
							 "samples into memory in query execution");
					break;
				}
				int64_t *nt = ts_realloc(t, nc * sizeof(*nt));
				if (nt)
					t = nt;
				double *nv = nt ? ts_realloc(v, nc * sizeof(*nv)) : NULL;
				if (nv)
					v = nv;
				if (!nt || !nv) {
					got = ts_err_set(c->err, TS_ENOMEM,
							 "out of memory in query execution");
					break;
				}
				cap = nc;
			}
			t[n] = st;
			v[n++] = sv;
		}
		tsdb_iter_close(it);
		if (got < 0) {
			rc = got;
			if (c->err && c->err->code != rc)
				ts_err_set(c->err, rc, "reading samples failed");
			break;
		}
		if (n == 0)
			continue;
		c->stats->samples_loaded += n;
		loaded++;
		size_t nl;
		const ts_label *l = tsdb_series_labels(sel[k], &nl); /* valid while q is open */
		rc = fn(c, arg, l, nl, t, v, n);
	}
	ts_free(t);
	ts_free(v);
	ts_free(sel);
	if (rc == TS_OK)
		c->stats->series_loaded += loaded;
	return rc;
}

/* Smallest and largest reference time over all steps. */
static void ref_span(const qe_ctx *c, const query_mods *m, int64_t *lo, int64_t *hi)
{
	int64_t a = qe_ref_time(c, m, 0), b = qe_ref_time(c, m, c->n_steps - 1);
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

/* ---------------------------------------------------------------- selectors */

typedef struct vs_build {
	const query_expr *e;
	bool want_ts;
	qe_series *vec;
	size_t n, cap;
	uint64_t points;
} vs_build;

/* Turn one series' samples into its value at every step. */
static int vs_series(qe_ctx *c, void *arg, const ts_label *labels, size_t n_labels,
		     const int64_t *t, const double *v, size_t n)
{
	vs_build *b = arg;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		qe_series *nv = qe_alloc(c, nc * sizeof(*nv));
		if (!nv)
			return qe_nomem(c);
		if (b->n)
			memcpy(nv, b->vec, b->n * sizeof(*nv));
		b->vec = nv;
		b->cap = nc;
	}
	qe_series *s = &b->vec[b->n];
	memset(s, 0, sizeof(*s));
	int rc = qe_series_init(c, s);
	if (rc)
		return rc;
	if (b->want_ts && !(s->t = qe_alloc(c, c->n_steps * sizeof(*s->t))))
		return qe_nomem(c);
	bool any = false;
	size_t pos = 0; /* first sample with t > ref; ref never decreases over steps */
	for (size_t i = 0; i < c->n_steps; i++) {
		int64_t ref = qe_ref_time(c, &b->e->vs.mods, i);
		while (pos < n && t[pos] <= ref)
			pos++;
		if (pos == 0)
			continue;
		size_t j = pos - 1;
		if (t[j] < ref - c->lookback_ms || qe_is_stale(v[j]))
			continue;
		s->v[i] = v[j];
		s->ok[i] = true;
		if (s->t)
			s->t[i] = t[j];
		b->points++;
		any = true;
	}
	if (!any)
		return TS_OK; /* the slot is reused by the next series */
	s->labels = (ts_label *)labels;
	s->n_labels = n_labels;
	b->n++;
	return TS_OK;
}

static int eval_vector_selector(qe_ctx *c, const query_expr *e, bool want_ts, qe_value *out)
{
	int64_t lo, hi;
	ref_span(c, &e->vs.mods, &lo, &hi);
	vs_build b = {.e = e, .want_ts = want_ts};
	int rc = load_series(c, e, lo - c->lookback_ms, hi, false, vs_series, &b);
	if (rc)
		return rc;
	out->type = QUERY_VALUE_VECTOR;
	out->vec = b.vec;
	out->n_vec = b.n;
	return qe_add_samples(c, b.points);
}

int qe_eval_selector_ts(qe_ctx *c, const query_expr *vs, qe_value *out)
{
	memset(out, 0, sizeof(*out));
	return eval_vector_selector(c, vs, true, out);
}

typedef struct ms_build {
	qe_rseries *rs;
	size_t n, cap;
} ms_build;

/* Keep one series' samples (an exact-size arena copy). */
static int ms_series(qe_ctx *c, void *arg, const ts_label *labels, size_t n_labels,
		     const int64_t *t, const double *v, size_t n)
{
	ms_build *b = arg;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		qe_rseries *nr = qe_alloc(c, nc * sizeof(*nr));
		if (!nr)
			return qe_nomem(c);
		if (b->n)
			memcpy(nr, b->rs, b->n * sizeof(*nr));
		b->rs = nr;
		b->cap = nc;
	}
	qe_rseries *r = &b->rs[b->n];
	r->t = qe_alloc(c, n * sizeof(*t));
	r->v = qe_alloc(c, n * sizeof(*v));
	if (!r->t || !r->v)
		return qe_nomem(c);
	memcpy(r->t, t, n * sizeof(*t));
	memcpy(r->v, v, n * sizeof(*v));
	r->n = n;
	r->labels = (ts_label *)labels;
	r->n_labels = n_labels;
	b->n++;
	return TS_OK;
}

static int eval_matrix_selector(qe_ctx *c, const query_expr *e, qe_value *out)
{
	const query_expr *vs = e->matrix.vs;
	int64_t lo, hi;
	qe_ctx unshifted = *c; /* shifted windows still read only up to the @ time */
	unshifted.at_shift = false;
	ref_span(&unshifted, &vs->vs.mods, &lo, &hi);
	ms_build b = {0};
	int rc = load_series(c, vs, lo - e->matrix.range_ms, hi, true, ms_series, &b);
	if (rc)
		return rc;
	out->type = QUERY_VALUE_MATRIX;
	out->rng = b.rs;
	out->n_rng = b.n;
	out->range_ms = e->matrix.range_ms;
	out->mods = vs->vs.mods;
	return qe_add_samples(c, qe_value_points(c, out));
}

/* ---------------------------------------------------------------- subqueries */

static int eval_subquery(qe_ctx *c, const query_expr *e, qe_value *out)
{
	int64_t step = e->subquery.step_ms ? e->subquery.step_ms : QE_DEFAULT_SUBQUERY_STEP_MS;
	int64_t range = e->subquery.range_ms;
	int64_t outer_lo, outer_hi;
	ref_span(c, &e->subquery.mods, &outer_lo, &outer_hi);
	/* First step-aligned time >= outer_lo - range (Go's truncating division). */
	int64_t from = outer_lo - range;
	int64_t start = step * (from / step);
	if (start < from)
		start += step;
	if (outer_hi < start) {
		out->type = QUERY_VALUE_MATRIX;
		out->n_rng = 0;
		out->rng = NULL;
		out->range_ms = range;
		out->mods = e->subquery.mods;
		return TS_OK;
	}
	int64_t n_steps = (outer_hi - start) / step + 1;
	if (n_steps > 100000000)
		return ts_err_set(c->err, TS_ELIMIT, "subquery has too many steps (%lld)",
				  (long long)n_steps);
	qe_ctx inner = *c;
	inner.at_shift = false;
	if (e->subquery.mods.at != QUERY_AT_NONE) {
		qe_ctx unshifted = *c;
		unshifted.at_shift = false;
		inner.clip_ms = qe_ref_time(&unshifted, &e->subquery.mods, 0);
	} else if (c->clip_ms != INT64_MAX) {
		inner.clip_ms = c->clip_ms - e->subquery.mods.offset_ms;
	}
	inner.start_ms = start;
	inner.end_ms = outer_hi;
	inner.step_ms = step;
	inner.n_steps = (size_t)n_steps;
	qe_value v;
	int rc = qe_eval(&inner, e->subquery.expr, &v);
	if (rc)
		return rc;
	qe_rseries *rs = NULL;
	size_t n_rs = 0;
	if (v.type == QUERY_VALUE_SCALAR) {
		/* A scalar subquery ("(1)[5m:1m]") is a matrix with one unlabeled series. */
		rs = qe_alloc(c, sizeof(*rs));
		if (!rs)
			return qe_nomem(c);
		rs->t = qe_alloc(c, inner.n_steps * sizeof(int64_t));
		rs->v = qe_alloc(c, inner.n_steps * sizeof(double));
		if (!rs->t || !rs->v)
			return qe_nomem(c);
		for (size_t i = 0; i < inner.n_steps; i++) {
			rs->t[i] = qe_step_time(&inner, i);
			rs->v[i] = v.scalar[i];
		}
		rs->n = inner.n_steps;
		n_rs = 1;
	} else if (v.type == QUERY_VALUE_VECTOR) {
		rs = qe_alloc(c, (v.n_vec ? v.n_vec : 1) * sizeof(*rs));
		if (!rs)
			return qe_nomem(c);
		for (size_t k = 0; k < v.n_vec; k++) {
			const qe_series *s = &v.vec[k];
			size_t n = 0;
			for (size_t i = 0; i < inner.n_steps; i++)
				n += s->ok[i];
			if (!n)
				continue;
			qe_rseries *r = &rs[n_rs++];
			r->labels = s->labels;
			r->n_labels = s->n_labels;
			r->t = qe_alloc(c, n * sizeof(int64_t));
			r->v = qe_alloc(c, n * sizeof(double));
			if (!r->t || !r->v)
				return qe_nomem(c);
			for (size_t i = 0; i < inner.n_steps; i++) {
				if (!s->ok[i])
					continue;
				r->t[r->n] = qe_step_time(&inner, i);
				r->v[r->n++] = s->v[i];
			}
		}
	} else {
		return ts_err_set(c->err, TS_EINVAL, "subquery of a %s is not allowed",
				  query_value_type_name(v.type));
	}
	out->type = QUERY_VALUE_MATRIX;
	out->rng = rs;
	out->n_rng = n_rs;
	out->range_ms = range;
	out->mods = e->subquery.mods;
	return TS_OK;
}

/* ---------------------------------------------------------------- unary and literals */

static int eval_unary(qe_ctx *c, const query_expr *e, qe_value *out)
{
	int rc = qe_eval(c, e->unary.expr, out);
	if (rc || !e->unary.is_neg)
		return rc;
	if (out->type == QUERY_VALUE_SCALAR) {
		for (size_t i = 0; i < c->n_steps; i++)
			out->scalar[i] = -out->scalar[i];
		return TS_OK;
	}
	/* Unary minus on a vector drops the metric name (Prometheus). */
	for (size_t k = 0; k < out->n_vec; k++) {
		qe_series *s = &out->vec[k];
		if ((rc =
			 qe_labels_copy(c, s->labels, s->n_labels, true, &s->labels, &s->n_labels)))
			return rc;
		for (size_t i = 0; i < c->n_steps; i++)
			s->v[i] = -s->v[i];
	}
	/* As 2.42, two series left with one label set are an error even when they never
	 * have values at the same step (the check runs on the whole result). */
	qe_lmap m;
	if ((rc = qe_lmap_init(c, &m, out->n_vec)))
		return rc;
	for (size_t k = 0; k < out->n_vec; k++) {
		const qe_series *s = &out->vec[k];
		size_t i = 0, idx;
		bool is_new;
		while (i < c->n_steps && !s->ok[i])
			i++;
		if (i == c->n_steps)
			continue;
		if ((rc = qe_lmap_get(c, &m, s->labels, s->n_labels, &idx, &is_new)))
			return rc;
		if (!is_new)
			return qe_err_dup_labelset(c);
	}
	return TS_OK;
}

/* Evaluate a step-invariant node once at the first step and copy it to every step. */
static int eval_invariant(qe_ctx *c, const query_expr *e, qe_value *out)
{
	qe_ctx one = *c;
	one.end_ms = c->start_ms;
	one.n_steps = 1;
	int rc = qe_eval(&one, e, out);
	if (rc)
		return rc;
	size_t n = c->n_steps;
	if (out->type == QUERY_VALUE_SCALAR) {
		double *v = qe_alloc(c, n * sizeof(*v));
		if (!v)
			return qe_nomem(c);
		for (size_t i = 0; i < n; i++)
			v[i] = out->scalar[0];
		out->scalar = v;
		return qe_add_samples(c, n - 1);
	}
	if (out->type != QUERY_VALUE_VECTOR)
		return TS_OK;
	uint64_t points = 0;
	for (size_t k = 0; k < out->n_vec; k++) {
		qe_series *s = &out->vec[k];
		double v0 = s->v[0];
		bool ok0 = s->ok[0];
		int64_t t0 = s->t ? s->t[0] : 0;
		if ((rc = qe_series_init(c, s)))
			return rc;
		if (s->t && !(s->t = qe_alloc(c, n * sizeof(*s->t))))
			return qe_nomem(c);
		for (size_t i = 0; i < n; i++) {
			s->v[i] = v0;
			s->ok[i] = ok0;
			if (s->t)
				s->t[i] = t0;
		}
		points += ok0 ? n - 1 : 0;
	}
	return qe_add_samples(c, points);
}

int qe_eval_matrix_arg(qe_ctx *c, const query_expr *e, bool at_shift, qe_value *out)
{
	e = qe_unparen(e);
	qe_ctx sc = *c;
	sc.at_shift = at_shift && c->n_steps > 1;
	memset(out, 0, sizeof(*out));
	int rc = qe_check_timeout(c);
	if (rc)
		return rc;
	if (e->kind == QUERY_EXPR_MATRIX_SELECTOR)
		rc = eval_matrix_selector(&sc, e, out);
	else if (e->kind == QUERY_EXPR_SUBQUERY)
		rc = eval_subquery(&sc, e, out);
	else
		return ts_err_set(c->err, TS_EINVAL, "expected a range vector argument");
	if (rc == TS_OK)
		out->at_shift = sc.at_shift;
	return rc;
}

int qe_eval(qe_ctx *c, const query_expr *e, qe_value *out)
{
	memset(out, 0, sizeof(*out));
	int rc = qe_check_timeout(c);
	if (rc)
		return rc;
	if (c->n_steps > 1 && e->kind != QUERY_EXPR_NUMBER && e->kind != QUERY_EXPR_STRING &&
	    e->kind != QUERY_EXPR_MATRIX_SELECTOR && e->kind != QUERY_EXPR_SUBQUERY &&
	    qe_is_step_invariant(e))
		return eval_invariant(c, e, out);
	switch (e->kind) {
	case QUERY_EXPR_NUMBER:
		out->type = QUERY_VALUE_SCALAR;
		out->scalar = qe_alloc(c, c->n_steps * sizeof(double));
		if (!out->scalar)
			return qe_nomem(c);
		for (size_t i = 0; i < c->n_steps; i++)
			out->scalar[i] = e->number;
		return qe_add_samples(c, c->n_steps);
	case QUERY_EXPR_STRING:
		out->type = QUERY_VALUE_STRING;
		out->str = e->string.val;
		out->str_len = e->string.len;
		return TS_OK;
	case QUERY_EXPR_PAREN: return qe_eval(c, e->paren.expr, out);
	case QUERY_EXPR_VECTOR_SELECTOR: return eval_vector_selector(c, e, false, out);
	case QUERY_EXPR_MATRIX_SELECTOR: return eval_matrix_selector(c, e, out);
	case QUERY_EXPR_SUBQUERY: return eval_subquery(c, e, out);
	case QUERY_EXPR_UNARY: return eval_unary(c, e, out);
	case QUERY_EXPR_BINARY: return qe_eval_binary(c, e, out);
	case QUERY_EXPR_AGGREGATE: return qe_eval_aggregate(c, e, out);
	case QUERY_EXPR_CALL: return qe_eval_call(c, e, out);
	}
	return ts_err_set(c->err, TS_EINVAL, "unknown expression kind %d", (int)e->kind);
}
