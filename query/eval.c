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
		return ts_err_set(c->err, TS_ETIMEOUT, "query timed out in query execution");
	return TS_OK;
}

int qe_add_samples(qe_ctx *c, uint64_t n)
{
	*c->samples += n;
	c->stats->samples_loaded += n;
	if (*c->samples > (uint64_t)c->eng->opt.max_samples)
		return ts_err_set(c->err, TS_ELIMIT,
				  "query processing would load too many samples into memory in "
				  "query execution");
	return TS_OK;
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
	return t - m->offset_ms;
}

void qe_window(const qe_ctx *c, const qe_value *m, size_t i, int64_t *lo, int64_t *hi)
{
	*hi = qe_ref_time(c, &m->mods, i);
	*lo = *hi - m->range_ms;
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

/* Select the series of a selector and read their samples in [mint, maxt]. */
static int load_series(qe_ctx *c, const query_expr *vs, int64_t mint, int64_t maxt, bool drop_stale,
		       qe_rseries **out, size_t *n_out)
{
	tsdb_series **sel = NULL;
	size_t n_sel = 0;
	int rc = tsdb_select(c->q, vs->vs.matchers, vs->vs.n_matchers, c->eng->opt.max_series, &sel,
			     &n_sel, c->err);
	if (rc)
		return rc;
	qe_rseries *rs = qe_alloc(c, (n_sel ? n_sel : 1) * sizeof(*rs));
	if (!rs) {
		ts_free(sel);
		return qe_nomem(c);
	}
	size_t w = 0;
	for (size_t k = 0; k < n_sel && rc == TS_OK; k++) {
		if ((rc = qe_check_timeout(c)))
			break;
		tsdb_iter *it = NULL;
		if ((rc = tsdb_iter_open(c->q, sel[k], mint, maxt, &it, c->err)))
			break;
		size_t cap = 0, n = 0;
		int64_t *t = NULL;
		double *v = NULL;
		int64_t st;
		double sv;
		int got;
		while ((got = tsdb_iter_next(it, &st, &sv)) == 1) {
			if (drop_stale && qe_is_stale(sv))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				int64_t *nt = query_arena_alloc(c->arena, nc * sizeof(*nt));
				double *nv = query_arena_alloc(c->arena, nc * sizeof(*nv));
				if (!nt || !nv) {
					got = qe_nomem(c);
					break;
				}
				if (n) {
					memcpy(nt, t, n * sizeof(*t));
					memcpy(nv, v, n * sizeof(*v));
				}
				t = nt;
				v = nv;
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
		if ((rc = qe_add_samples(c, n)))
			break;
		size_t nl;
		const ts_label *l = tsdb_series_labels(sel[k], &nl);
		rs[w].labels = (ts_label *)l; /* valid while the querier is open */
		rs[w].n_labels = nl;
		rs[w].t = t;
		rs[w].v = v;
		rs[w].n = n;
		w++;
	}
	ts_free(sel);
	if (rc)
		return rc;
	c->stats->series_loaded += w;
	*out = rs;
	*n_out = w;
	return TS_OK;
}

/* Smallest and largest reference time over all steps. */
static void ref_span(const qe_ctx *c, const query_mods *m, int64_t *lo, int64_t *hi)
{
	int64_t a = qe_ref_time(c, m, 0), b = qe_ref_time(c, m, c->n_steps - 1);
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

/* ---------------------------------------------------------------- selectors */

static int eval_vector_selector(qe_ctx *c, const query_expr *e, qe_value *out)
{
	int64_t lo, hi;
	ref_span(c, &e->vs.mods, &lo, &hi);
	qe_rseries *rs;
	size_t n_rs;
	int rc = load_series(c, e, lo - c->lookback_ms, hi, false, &rs, &n_rs);
	if (rc)
		return rc;
	qe_series *vec = qe_alloc(c, (n_rs ? n_rs : 1) * sizeof(*vec));
	if (!vec)
		return qe_nomem(c);
	size_t w = 0;
	for (size_t k = 0; k < n_rs; k++) {
		const qe_rseries *r = &rs[k];
		qe_series *s = &vec[w];
		if ((rc = qe_series_init(c, s)))
			return rc;
		bool any = false;
		size_t pos = 0; /* first sample with t > ref; ref never decreases over steps */
		for (size_t i = 0; i < c->n_steps; i++) {
			int64_t ref = qe_ref_time(c, &e->vs.mods, i);
			while (pos < r->n && r->t[pos] <= ref)
				pos++;
			if (pos == 0)
				continue;
			size_t j = pos - 1;
			if (r->t[j] < ref - c->lookback_ms || qe_is_stale(r->v[j]))
				continue;
			s->v[i] = r->v[j];
			s->ok[i] = true;
			any = true;
		}
		if (!any)
			continue;
		s->labels = r->labels;
		s->n_labels = r->n_labels;
		w++;
	}
	out->type = QUERY_VALUE_VECTOR;
	out->vec = vec;
	out->n_vec = w;
	return TS_OK;
}

static int eval_matrix_selector(qe_ctx *c, const query_expr *e, qe_value *out)
{
	const query_expr *vs = e->matrix.vs;
	int64_t lo, hi;
	ref_span(c, &vs->vs.mods, &lo, &hi);
	qe_rseries *rs;
	size_t n_rs;
	int rc = load_series(c, vs, lo - e->matrix.range_ms, hi, true, &rs, &n_rs);
	if (rc)
		return rc;
	out->type = QUERY_VALUE_MATRIX;
	out->rng = rs;
	out->n_rng = n_rs;
	out->range_ms = e->matrix.range_ms;
	out->mods = vs->vs.mods;
	return TS_OK;
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
	return TS_OK;
}

int qe_eval(qe_ctx *c, const query_expr *e, qe_value *out)
{
	memset(out, 0, sizeof(*out));
	int rc = qe_check_timeout(c);
	if (rc)
		return rc;
	switch (e->kind) {
	case QUERY_EXPR_NUMBER:
		out->type = QUERY_VALUE_SCALAR;
		out->scalar = qe_alloc(c, c->n_steps * sizeof(double));
		if (!out->scalar)
			return qe_nomem(c);
		for (size_t i = 0; i < c->n_steps; i++)
			out->scalar[i] = e->number;
		return TS_OK;
	case QUERY_EXPR_STRING:
		out->type = QUERY_VALUE_STRING;
		out->str = e->string.val;
		out->str_len = e->string.len;
		return TS_OK;
	case QUERY_EXPR_PAREN: return qe_eval(c, e->paren.expr, out);
	case QUERY_EXPR_VECTOR_SELECTOR: return eval_vector_selector(c, e, out);
	case QUERY_EXPR_MATRIX_SELECTOR: return eval_matrix_selector(c, e, out);
	case QUERY_EXPR_SUBQUERY: return eval_subquery(c, e, out);
	case QUERY_EXPR_UNARY: return eval_unary(c, e, out);
	case QUERY_EXPR_BINARY: return qe_eval_binary(c, e, out);
	case QUERY_EXPR_AGGREGATE: return qe_eval_aggregate(c, e, out);
	case QUERY_EXPR_CALL: return qe_eval_call(c, e, out);
	}
	return ts_err_set(c->err, TS_EINVAL, "unknown expression kind %d", (int)e->kind);
}
