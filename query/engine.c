/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c: the query engine's public API (query.h): parse, plan the read range,
 * evaluate, and turn the evaluator's step-aligned values into results.
 *
 * A query owns one arena for its AST, temporaries and result; query_result_free()
 * frees the arena, so a result costs one free however large it is.
 * Limits: the query text (QUERY_MAX_LEN), the arena budget (query memory), samples
 * held at once (max_samples, Prometheus' query.max-samples; see eval.h for what counts)
 * and a deadline (timeout, checked between nodes and in the evaluators' loops).
 */
#include "query/eval.h"

#include <stdlib.h>
#include <string.h>

void query_options_init(query_options *o)
{
	memset(o, 0, sizeof(*o));
	o->lookback_delta_ms = 5 * 60 * 1000;
	o->timeout_ms = 2 * 60 * 1000;
	o->max_samples = 50000000;
	o->max_series = 500000;
}

int query_engine_new(const query_options *o, query_engine **out, ts_err *err)
{
	if (!o->db && !(o->source && o->source->select))
		return ts_err_set(err, TS_EINVAL, "query engine needs a store or a series source");
	if (o->lookback_delta_ms <= 0 || o->timeout_ms <= 0 || o->max_samples <= 0)
		return ts_err_set(err, TS_EINVAL,
				  "lookback delta, timeout and max samples must be positive");
	query_engine *e = ts_calloc(1, sizeof(*e));
	if (!e)
		return ts_err_set(err, TS_ENOMEM, "out of memory creating the query engine");
	e->opt = *o;
	if (o->source) { /* rollup tiers and late-write marks live in a local store only */
		e->opt.db = NULL;
		e->opt.is_raw_only = true;
	}
	*out = e;
	return TS_OK;
}

void query_engine_free(query_engine *e)
{
	ts_free(e);
}

void query_result_free(query_result *r)
{
	if (!r)
		return;
	query_arena_free(r->priv);
}

/* ---------------------------------------------------------------- read range planning */

typedef struct range_plan {
	const qe_ctx *c;
	int64_t mint, maxt;
	int64_t extra_back_ms;  /* reach before the steps added by enclosing subqueries */
	int64_t extra_ahead_ms; /* reach after the steps (negative subquery offsets) */
} range_plan;

static int64_t sat_sub(int64_t a, int64_t b)
{
	if (b > 0 && a < INT64_MIN + b)
		return INT64_MIN;
	if (b < 0 && a > INT64_MAX + b)
		return INT64_MAX;
	return a - b;
}

static void plan_mods(range_plan *p, const query_mods *m, int64_t back_ms)
{
	int64_t lo, hi;
	switch (m->at) {
	case QUERY_AT_TIME: lo = hi = m->at_ms; break;
	case QUERY_AT_START: lo = hi = p->c->query_start_ms; break;
	case QUERY_AT_END: lo = hi = p->c->query_end_ms; break;
	default:
		lo = sat_sub(p->c->start_ms, p->extra_back_ms);
		hi = sat_sub(p->c->end_ms, -p->extra_ahead_ms);
		break;
	}
	lo = sat_sub(sat_sub(lo, m->offset_ms), back_ms);
	hi = sat_sub(hi, m->offset_ms);
	if (lo < p->mint)
		p->mint = lo;
	if (hi > p->maxt)
		p->maxt = hi;
}

static int plan_walk(const query_expr *e, void *ctx)
{
	range_plan *p = ctx;
	switch (e->kind) {
	case QUERY_EXPR_VECTOR_SELECTOR: plan_mods(p, &e->vs.mods, p->c->lookback_ms); break;
	case QUERY_EXPR_MATRIX_SELECTOR:
		plan_mods(p, &e->matrix.vs->vs.mods, e->matrix.range_ms);
		return QUERY_WALK_SKIP;
	case QUERY_EXPR_SUBQUERY: {
		/* Everything below reads up to range + offset earlier than the outer steps;
		 * an @ inside pins its own times. Widen conservatively. */
		range_plan inner = *p;
		int64_t off = e->subquery.mods.offset_ms;
		inner.extra_back_ms = p->extra_back_ms + e->subquery.range_ms + (off > 0 ? off : 0);
		inner.extra_ahead_ms = p->extra_ahead_ms + (off < 0 ? -off : 0);
		query_expr_walk(e->subquery.expr, plan_walk, &inner);
		p->mint = inner.mint < p->mint ? inner.mint : p->mint;
		p->maxt = inner.maxt > p->maxt ? inner.maxt : p->maxt;
		if (e->subquery.mods.at != QUERY_AT_NONE) {
			/* Pinned subqueries read around their @ time: open the view fully. */
			p->mint = INT64_MIN;
			p->maxt = INT64_MAX;
		}
		return QUERY_WALK_SKIP;
	}
	default: break;
	}
	return QUERY_WALK_CONTINUE;
}

/* ---------------------------------------------------------------- results */

/* Deep-copy labels into the arena: store strings are only valid while the querier is. */
static int own_labels(qe_ctx *c, query_series *o, const ts_label *l, size_t n)
{
	o->labels = qe_alloc(c, (n ? n : 1) * sizeof(*o->labels));
	if (!o->labels)
		return qe_nomem(c);
	for (size_t i = 0; i < n; i++) {
		o->labels[i].name = query_arena_strdup(c->arena, l[i].name);
		o->labels[i].value = query_arena_strdup(c->arena, l[i].value);
		if (!o->labels[i].name || !o->labels[i].value)
			return qe_nomem(c);
	}
	o->n_labels = n;
	return TS_OK;
}

static int cmp_series(const void *pa, const void *pb)
{
	const query_series *a = pa, *b = pb;
	return ts_labels_cmp(a->labels, a->n_labels, b->labels, b->n_labels);
}

static int to_result(qe_ctx *c, const qe_value *v, bool is_instant, query_result *r)
{
	switch (v->type) {
	case QUERY_VALUE_SCALAR:
		if (is_instant) {
			r->type = QUERY_RESULT_SCALAR;
			r->scalar = v->scalar[0];
			r->t_ms = c->start_ms;
			return TS_OK;
		}
		/* A range query of a scalar is a matrix with one unlabeled series. */
		r->type = QUERY_RESULT_MATRIX;
		r->series = qe_alloc(c, sizeof(*r->series));
		if (!r->series)
			return qe_nomem(c);
		r->n_series = 1;
		r->series[0].t = qe_alloc(c, c->n_steps * sizeof(int64_t));
		r->series[0].v = qe_alloc(c, c->n_steps * sizeof(double));
		if (!r->series[0].t || !r->series[0].v)
			return qe_nomem(c);
		for (size_t i = 0; i < c->n_steps; i++) {
			r->series[0].t[i] = qe_step_time(c, i);
			r->series[0].v[i] = v->scalar[i];
		}
		r->series[0].n = c->n_steps;
		return TS_OK;
	case QUERY_VALUE_STRING:
		r->type = QUERY_RESULT_STRING;
		r->string = query_arena_strndup(c->arena, v->str, v->str_len);
		r->t_ms = c->start_ms;
		return r->string ? TS_OK : qe_nomem(c);
	case QUERY_VALUE_VECTOR: {
		r->type = is_instant ? QUERY_RESULT_VECTOR : QUERY_RESULT_MATRIX;
		r->series = qe_alloc(c, (v->n_vec ? v->n_vec : 1) * sizeof(*r->series));
		if (!r->series)
			return qe_nomem(c);
		size_t w = 0;
		for (size_t k = 0; k < v->n_vec; k++) {
			const qe_series *s = &v->vec[k];
			size_t n = 0;
			for (size_t i = 0; i < c->n_steps; i++)
				n += s->ok[i];
			if (n == 0)
				continue;
			query_series *o = &r->series[w++];
			if (own_labels(c, o, s->labels, s->n_labels))
				return qe_nomem(c);
			o->t = qe_alloc(c, n * sizeof(int64_t));
			o->v = qe_alloc(c, n * sizeof(double));
			if (!o->t || !o->v)
				return qe_nomem(c);
			for (size_t i = 0; i < c->n_steps; i++) {
				if (!s->ok[i])
					continue;
				o->t[o->n] = qe_step_time(c, i);
				o->v[o->n++] = s->v[i];
			}
		}
		r->n_series = w;
		if (!is_instant && w > 1) /* range results are sorted by labels, as Prometheus' */
			qsort(r->series, w, sizeof(*r->series), cmp_series);
		return TS_OK;
	}
	case QUERY_VALUE_MATRIX: {
		/* Only an instant query may return a range vector: the window of its step. */
		r->type = QUERY_RESULT_MATRIX;
		r->series = qe_alloc(c, (v->n_rng ? v->n_rng : 1) * sizeof(*r->series));
		if (!r->series)
			return qe_nomem(c);
		int64_t lo, hi;
		qe_window(c, v, 0, &lo, &hi);
		size_t w = 0;
		for (size_t k = 0; k < v->n_rng; k++) {
			const qe_rseries *s = &v->rng[k];
			size_t a = qe_lower_bound(s, lo), b = a;
			while (b < s->n && s->t[b] <= hi)
				b++;
			if (a == b)
				continue;
			query_series *o = &r->series[w++];
			if (own_labels(c, o, s->labels, s->n_labels))
				return qe_nomem(c);
			o->t = s->t + a;
			o->v = s->v + a;
			o->n = b - a;
		}
		r->n_series = w;
		return TS_OK;
	}
	default: return ts_err_set(c->err, TS_EINVAL, "unexpected result type");
	}
}

/* ---------------------------------------------------------------- evaluation */

static int run(query_engine *e, const char *expr, size_t len, int64_t start_ms, int64_t end_ms,
	       int64_t step_ms, bool is_instant, int64_t deadline_ns, query_result **out,
	       ts_err *err)
{
	int64_t t0 = ts_mono_ns();
	int64_t own_ns = t0 + e->opt.timeout_ms * 1000000; /* query.timeout */
	query_arena *arena = query_arena_new(0);
	if (!arena)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	query_result *r = query_arena_alloc(arena, sizeof(*r));
	if (!r) {
		query_arena_free(arena);
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	r->priv = arena;
	r->stats.tier = "raw";
	query_expr *root = NULL;
	int rc = query_parse(arena, expr, len, &root, err);
	if (rc)
		goto fail;
	query_value_type vt = query_expr_type(root);
	if (!is_instant && vt != QUERY_VALUE_SCALAR && vt != QUERY_VALUE_VECTOR) {
		rc = ts_err_set(err, TS_EINVAL,
				"invalid expression type \"%s\" for range query, must be Scalar or "
				"instant Vector",
				query_value_type_name(vt));
		goto fail;
	}
	uint64_t samples = 0;
	qe_ctx c = {
	    .eng = e,
	    .arena = arena,
	    .start_ms = start_ms,
	    .end_ms = end_ms,
	    .step_ms = step_ms,
	    .n_steps = (size_t)((end_ms - start_ms) / step_ms) + 1,
	    .query_start_ms = start_ms,
	    .query_end_ms = end_ms,
	    .lookback_ms = e->opt.lookback_delta_ms,
	    .clip_ms = INT64_MAX,
	    .deadline_ns = deadline_ns > 0 && deadline_ns < own_ns ? deadline_ns : own_ns,
	    .samples = &samples,
	    .stats = &r->stats,
	    .warning = r->warning,
	    .err = err,
	};
	range_plan plan = {.c = &c, .mint = INT64_MAX, .maxt = INT64_MIN};
	query_expr_walk(root, plan_walk, &plan);
	if (plan.mint > plan.maxt)
		plan.mint = plan.maxt = start_ms; /* no selectors */
	if (!e->opt.source && (rc = tsdb_querier_open(e->opt.db, plan.mint, plan.maxt, &c.q, err)))
		goto fail;
	qe_value v;
	rc = qe_eval(&c, root, &v);
	if (rc == TS_OK)
		rc = to_result(&c, &v, is_instant, r);
	tsdb_querier_close(c.q);
	if (rc)
		goto fail;
	r->stats.tier = qe_tiers_name(r->stats.tiers_read);
	r->stats.exec_ns = ts_mono_ns() - t0;
	*out = r;
	return TS_OK;
fail:
	query_arena_free(arena);
	return rc;
}

int query_instant(query_engine *e, const char *expr, size_t len, int64_t t_ms, query_result **out,
		  ts_err *err)
{
	return run(e, expr, len, t_ms, t_ms, 1, true, 0, out, err);
}

int query_instant_until(query_engine *e, const char *expr, size_t len, int64_t t_ms,
			int64_t deadline_ns, query_result **out, ts_err *err)
{
	return run(e, expr, len, t_ms, t_ms, 1, true, deadline_ns, out, err);
}

/* Prometheus refuses ranges with more than this many points per series. */
#define QUERY_MAX_POINTS 11000

int query_range(query_engine *e, const char *expr, size_t len, int64_t start_ms, int64_t end_ms,
		int64_t step_ms, query_result **out, ts_err *err)
{
	return query_range_until(e, expr, len, start_ms, end_ms, step_ms, 0, out, err);
}

int query_range_until(query_engine *e, const char *expr, size_t len, int64_t start_ms,
		      int64_t end_ms, int64_t step_ms, int64_t deadline_ns, query_result **out,
		      ts_err *err)
{
	if (end_ms < start_ms)
		return ts_err_set(err, TS_EINVAL, "end timestamp must not be before start time");
	if (step_ms <= 0)
		return ts_err_set(err, TS_EINVAL,
				  "zero or negative query resolution step widths are not accepted. "
				  "Try a positive integer");
	if ((end_ms - start_ms) / step_ms > QUERY_MAX_POINTS)
		return ts_err_set(err, TS_EINVAL,
				  "exceeded maximum resolution of 11,000 points per timeseries. "
				  "Try decreasing the query resolution (?step=XX)");
	return run(e, expr, len, start_ms, end_ms, step_ms, false, deadline_ns, out, err);
}

/* ---------------------------------------------------------------- selectors */

void query_matchers_free(ts_matcher *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++)
		ts_matcher_fini(&m[i]);
	ts_free(m);
}

int query_parse_selector(const char *text, size_t len, ts_matcher **out, size_t *n_out, ts_err *err)
{
	query_arena *arena = query_arena_new(1 << 20);
	if (!arena)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	query_expr *e = NULL;
	int rc = query_parse(arena, text, len, &e, err);
	if (rc == TS_OK && e->kind != QUERY_EXPR_VECTOR_SELECTOR)
		rc = ts_err_set(err, TS_EPARSE, "1:1: parse error: expected a series selector");
	ts_matcher *m = NULL;
	size_t n = 0;
	if (rc == TS_OK) {
		m = ts_calloc(e->vs.n_matchers ? e->vs.n_matchers : 1, sizeof(*m));
		if (!m)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		for (; rc == TS_OK && n < e->vs.n_matchers; n++) {
			const ts_matcher *src = &e->vs.matchers[n];
			rc = ts_matcher_init(&m[n], src->type, src->name, src->value, err);
		}
	}
	query_arena_free(arena);
	if (rc) {
		query_matchers_free(m, n);
		return rc;
	}
	*out = m;
	*n_out = n;
	return TS_OK;
}
