/* SPDX-License-Identifier: Apache-2.0 */
/*
 * functions_range.c: PromQL functions of range vectors, with Prometheus 2.42's
 * semantics: rate, increase, delta (extrapolated), irate, idelta, deriv, predict_linear,
 * holt_winters, resets, changes, the *_over_time family, absent_over_time and
 * present_over_time.
 *
 * Each input series is processed on its own (as Prometheus does): for every step its
 * window [lo, hi] (both ends included, staleness markers already dropped) is located by
 * binary search, the function is applied when the window holds samples, and the result
 * series carries the input labels without __name__ (last_over_time keeps it). Two
 * result series with one label set are an error even when their steps never overlap,
 * because 2.42 checks the whole result matrix.
 *
 * rate/increase/delta extrapolate as 2.42's extrapolatedRate: by the distance to the
 * window edges when it is below 1.1 times the average sample interval, otherwise by half
 * an interval, and for counters never below the zero point. sum_over_time, avg_over_time,
 * stddev/stdvar_over_time and the regression of deriv/predict_linear use Kahan-Neumaier
 * compensated sums (kahanSumInc), avg_over_time and avg on top of the incremental mean.
 */
#include "query/eval.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- numeric helpers */

/* Prometheus' kahanSumInc (Neumaier's variant). */
static double kahan_inc(double inc, double sum, double *c)
{
	double t = sum + inc;
	if (fabs(sum) >= fabs(inc))
		*c += (sum - t) + inc;
	else
		*c += (inc - t) + sum;
	return t;
}

/* Prometheus' linearRegression: slope and intercept at intercept_ms. */
static void linear_regression(const int64_t *t, const double *v, size_t n, int64_t intercept_ms,
			      double *slope, double *intercept)
{
	double sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
	double init_y = v[0];
	bool const_y = true;
	for (size_t i = 0; i < n; i++) {
		if (const_y && i > 0 && v[i] != init_y)
			const_y = false;
		double x = (double)(t[i] - intercept_ms) / 1e3;
		sum_x = kahan_inc(x, sum_x, &c_x);
		sum_y = kahan_inc(v[i], sum_y, &c_y);
		sum_xy = kahan_inc(x * v[i], sum_xy, &c_xy);
		sum_x2 = kahan_inc(x * x, sum_x2, &c_x2);
	}
	if (const_y) {
		if (isinf(init_y)) {
			*slope = NAN;
			*intercept = NAN;
		} else {
			*slope = 0;
			*intercept = init_y;
		}
		return;
	}
	double nn = (double)n;
	sum_x += c_x;
	sum_y += c_y;
	sum_xy += c_xy;
	sum_x2 += c_x2;
	double cov_xy = sum_xy - sum_x * sum_y / nn;
	double var_x = sum_x2 - sum_x * sum_x / nn;
	*slope = cov_xy / var_x;
	*intercept = sum_y / nn - *slope * sum_x / nn;
}

/* ---------------------------------------------------------------- the functions */

typedef struct rwin {
	const int64_t *t;
	const double *v;
	size_t n;              /* >= 1 */
	int64_t lo, hi;        /* window bounds */
	int64_t t_ms;          /* the step's evaluation time */
	double range_s;        /* range of the selector or subquery in seconds */
	const double *a1, *a2; /* scalar arguments at this step */
	double *scratch;       /* room for n values (quantile_over_time) */
} rwin;

/* extrapolatedRate; false when there is no result (fewer than two samples). */
static bool extrapolated_rate(const rwin *w, bool is_counter, bool is_rate, double *out)
{
	if (w->n < 2)
		return false;
	size_t last = w->n - 1;
	double result = w->v[last] - w->v[0];
	if (is_counter) {
		double prev = w->v[0];
		for (size_t i = 1; i < w->n; i++) {
			if (w->v[i] < prev)
				result += prev;
			prev = w->v[i];
		}
	}
	*out = qe_extrapolate_rate(result, w->v[0], w->t[0], w->t[last], w->n, w->lo, w->hi,
				   w->range_s, is_counter, is_rate);
	return true;
}

double qe_extrapolate_rate(double result, double first_v, int64_t first_t, int64_t last_t, size_t n,
			   int64_t lo, int64_t hi, double range_s, bool is_counter, bool is_rate)
{
	double to_start = (double)(first_t - lo) / 1000;
	double to_end = (double)(hi - last_t) / 1000;
	double sampled = (double)(last_t - first_t) / 1000;
	double avg = sampled / (double)(n - 1);
	if (is_counter && result > 0 && first_v >= 0) {
		double to_zero = sampled * (first_v / result);
		if (to_zero < to_start)
			to_start = to_zero;
	}
	double threshold = avg * 1.1, interval = sampled;
	interval += to_start < threshold ? to_start : avg / 2;
	interval += to_end < threshold ? to_end : avg / 2;
	result = result * (interval / sampled);
	if (is_rate)
		result = result / range_s;
	return result;
}

static bool instant_value(const rwin *w, bool is_rate, double *out)
{
	if (w->n < 2)
		return false;
	double last = w->v[w->n - 1], prev = w->v[w->n - 2];
	double result = is_rate && last < prev ? last : last - prev;
	int64_t dt = w->t[w->n - 1] - w->t[w->n - 2];
	if (dt == 0)
		return false;
	if (is_rate)
		result /= (double)dt / 1000;
	*out = result;
	return true;
}

static double holt_winters(const rwin *w, double sf, double tf, bool *ok)
{
	*ok = w->n >= 2;
	if (!*ok)
		return 0;
	double s0 = 0, s1 = w->v[0], b = w->v[1] - w->v[0];
	for (size_t i = 1; i < w->n; i++) {
		double x = sf * w->v[i];
		if (i - 1 != 0) /* calcTrendValue(i-1, ...) */
			b = tf * (s1 - s0) + (1 - tf) * b;
		double y = (1 - sf) * (s1 + b);
		s0 = s1;
		s1 = x + y;
	}
	return s1;
}

static double avg_over_time(const rwin *w)
{
	double mean = 0, count = 0, c = 0;
	for (size_t i = 0; i < w->n; i++) {
		double v = w->v[i];
		count++;
		if (isinf(mean)) {
			if (isinf(v) && (mean > 0) == (v > 0))
				continue;
			if (!isinf(v) && !isnan(v))
				continue;
		}
		mean = kahan_inc(v / count - mean / count, mean, &c);
	}
	return isinf(mean) ? mean : mean + c;
}

static double var_over_time(const rwin *w)
{
	double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
	for (size_t i = 0; i < w->n; i++) {
		double v = w->v[i];
		count++;
		double delta = v - (mean + c_mean);
		mean = kahan_inc(delta / count, mean, &c_mean);
		aux = kahan_inc(delta * (v - (mean + c_mean)), aux, &c_aux);
	}
	return (aux + c_aux) / count;
}

/* Apply function id to a non-empty window; false when it yields no sample. */
static bool apply(qe_ctx *c, query_func_id id, const rwin *w, double *out, int *rc)
{
	*rc = TS_OK;
	switch (id) {
	case QUERY_FN_RATE: return extrapolated_rate(w, true, true, out);
	case QUERY_FN_INCREASE: return extrapolated_rate(w, true, false, out);
	case QUERY_FN_DELTA: return extrapolated_rate(w, false, false, out);
	case QUERY_FN_IRATE: return instant_value(w, true, out);
	case QUERY_FN_IDELTA: return instant_value(w, false, out);
	case QUERY_FN_DERIV: {
		if (w->n < 2)
			return false;
		double slope, icpt;
		linear_regression(w->t, w->v, w->n, w->t[0], &slope, &icpt);
		*out = slope;
		return true;
	}
	case QUERY_FN_PREDICT_LINEAR: {
		if (w->n < 2)
			return false;
		double slope, icpt;
		linear_regression(w->t, w->v, w->n, w->t_ms, &slope, &icpt);
		*out = slope * w->a1[0] + icpt;
		return true;
	}
	case QUERY_FN_HOLT_WINTERS: {
		double sf = w->a1[0], tf = w->a2[0];
		if (sf <= 0 || sf >= 1) {
			*rc = ts_err_set(c->err, TS_EINVAL,
					 "invalid smoothing factor. Expected: 0 < sf < 1, got: %f",
					 sf);
			return false;
		}
		if (tf <= 0 || tf >= 1) {
			*rc = ts_err_set(c->err, TS_EINVAL,
					 "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
			return false;
		}
		bool ok;
		*out = holt_winters(w, sf, tf, &ok);
		return ok;
	}
	case QUERY_FN_RESETS:
	case QUERY_FN_CHANGES: {
		size_t n = 0;
		for (size_t i = 1; i < w->n; i++) {
			double cur = w->v[i], prev = w->v[i - 1];
			if (id == QUERY_FN_RESETS)
				n += cur < prev;
			else
				n += cur != prev && !(isnan(cur) && isnan(prev));
		}
		*out = (double)n;
		return true;
	}
	case QUERY_FN_AVG_OVER_TIME: *out = avg_over_time(w); return true;
	case QUERY_FN_COUNT_OVER_TIME: *out = (double)w->n; return true;
	case QUERY_FN_LAST_OVER_TIME: *out = w->v[w->n - 1]; return true;
	case QUERY_FN_PRESENT_OVER_TIME:
	case QUERY_FN_ABSENT_OVER_TIME: *out = 1; return true;
	case QUERY_FN_MAX_OVER_TIME:
	case QUERY_FN_MIN_OVER_TIME: {
		double m = w->v[0];
		for (size_t i = 0; i < w->n; i++) {
			double v = w->v[i];
			if ((id == QUERY_FN_MAX_OVER_TIME ? v > m : v < m) || isnan(m))
				m = v;
		}
		*out = m;
		return true;
	}
	case QUERY_FN_SUM_OVER_TIME: {
		double sum = 0, cmp = 0;
		for (size_t i = 0; i < w->n; i++)
			sum = kahan_inc(w->v[i], sum, &cmp);
		*out = isinf(sum) ? sum : sum + cmp;
		return true;
	}
	case QUERY_FN_STDDEV_OVER_TIME: *out = sqrt(var_over_time(w)); return true;
	case QUERY_FN_STDVAR_OVER_TIME: *out = var_over_time(w); return true;
	case QUERY_FN_QUANTILE_OVER_TIME: {
		memcpy(w->scratch, w->v, w->n * sizeof(double));
		*out = qe_quantile(w->a1[0], w->scratch, w->n);
		return true;
	}
	default:
		*rc = ts_err_set(c->err, TS_EINVAL, "function %s is not implemented",
				 query_func_get(id)->name);
		return false;
	}
}

/* ---------------------------------------------------------------- evaluation */

/* absent_over_time: 1 at the steps where no series has a sample in its window. */
static int absent_over_time(qe_ctx *c, const query_expr *e, const qe_value *m, qe_value *out)
{
	bool *found = qe_alloc(c, c->n_steps * sizeof(bool));
	if (!found)
		return qe_nomem(c);
	for (size_t k = 0; k < m->n_rng; k++) {
		const qe_rseries *r = &m->rng[k];
		for (size_t i = 0; i < c->n_steps; i++) {
			int64_t lo, hi;
			qe_window(c, m, i, &lo, &hi);
			size_t a = qe_lower_bound(r, lo);
			if (a < r->n && r->t[a] <= hi)
				found[i] = true;
		}
	}
	qe_vbuild b;
	ts_label *l;
	size_t n, idx = SIZE_MAX;
	int rc = qe_vbuild_init(c, &b, 1);
	if (rc == TS_OK)
		rc = qe_absent_labels(c, e->call.args[0], &l, &n);
	for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
		if (found[i])
			continue;
		if (idx == SIZE_MAX && (rc = qe_vbuild_index(c, &b, l, n, &idx)))
			break;
		rc = qe_vbuild_set(c, &b, idx, i, 1);
	}
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

bool qe_range_apply_window(qe_ctx *c, query_func_id id, const qe_rseries *r, int64_t lo, int64_t hi,
			   int64_t t_ms, double range_s, double *out, int *rc)
{
	*rc = TS_OK;
	size_t lo_i = qe_lower_bound(r, lo), hi_i = lo_i;
	while (hi_i < r->n && r->t[hi_i] <= hi)
		hi_i++;
	if (hi_i == lo_i)
		return false;
	double none = 0;
	rwin win = {
	    .t = r->t + lo_i,
	    .v = r->v + lo_i,
	    .n = hi_i - lo_i,
	    .lo = lo,
	    .hi = hi,
	    .t_ms = t_ms,
	    .range_s = range_s,
	    .a1 = &none,
	    .a2 = &none,
	};
	return apply(c, id, &win, out, rc);
}

int qe_eval_range_call(qe_ctx *c, const query_expr *e, qe_value *out)
{
	const query_func *f = e->call.func;
	bool is_done;
	int rc = qe_tier_range_call(c, e, out, &is_done); /* tiers.c: rollups where exact */
	if (rc || is_done)
		return rc;
	size_t mi = SIZE_MAX;
	for (size_t i = 0; i < e->call.n_args && mi == SIZE_MAX; i++)
		if (query_expr_type(e->call.args[i]) == QUERY_VALUE_MATRIX)
			mi = i;
	if (mi == SIZE_MAX || e->call.n_args > 3)
		return ts_err_set(c->err, TS_EINVAL, "bad arguments for %s", f->name);
	/* An @-pinned range argument of a call that is not step invariant moves with the
	 * steps (2.42's offset adjustment); invariant calls never get here with > 1 step. */
	bool at_shift = qe_is_step_invariant(qe_unparen(e->call.args[mi]));
	qe_value m, sc[3];
	memset(sc, 0, sizeof(sc));
	rc = qe_eval_matrix_arg(c, e->call.args[mi], at_shift, &m);
	if (rc)
		return rc;
	uint64_t held = qe_value_points(c, &m);
	for (size_t i = 0; i < e->call.n_args; i++) {
		if (i == mi)
			continue;
		if ((rc = qe_eval(c, e->call.args[i], &sc[i])))
			return rc;
		if (sc[i].type != QUERY_VALUE_SCALAR)
			return ts_err_set(c->err, TS_EINVAL, "expected a scalar argument");
		held += qe_value_points(c, &sc[i]);
	}
	memset(out, 0, sizeof(*out));
	if (f->id == QUERY_FN_ABSENT_OVER_TIME) {
		if ((rc = absent_over_time(c, e, &m, out)))
			return rc;
		qe_sub_samples(c, held);
		return TS_OK;
	}
	/* The scalar arguments besides the range vector, in order. */
	const double *a[2] = {NULL, NULL};
	for (size_t i = 0, j = 0; i < e->call.n_args && j < 2; i++)
		if (i != mi)
			a[j++] = sc[i].scalar;
	qe_series *vec = qe_alloc(c, (m.n_rng + 1) * sizeof(*vec));
	size_t max_n = 1;
	for (size_t k = 0; k < m.n_rng; k++)
		max_n = m.rng[k].n > max_n ? m.rng[k].n : max_n;
	double *scratch =
	    f->id == QUERY_FN_QUANTILE_OVER_TIME ? qe_alloc(c, max_n * sizeof(double)) : NULL;
	if (!vec || (f->id == QUERY_FN_QUANTILE_OVER_TIME && !scratch))
		return qe_nomem(c);
	size_t w = 0;
	bool keep_name = f->id == QUERY_FN_LAST_OVER_TIME;
	for (size_t k = 0; k < m.n_rng; k++) {
		if ((rc = qe_check_timeout(c)))
			return rc;
		const qe_rseries *r = &m.rng[k];
		qe_series *s = &vec[w];
		memset(s, 0, sizeof(*s));
		bool any = false;
		for (size_t i = 0; i < c->n_steps; i++) {
			int64_t lo, hi;
			qe_window(c, &m, i, &lo, &hi);
			size_t lo_i = qe_lower_bound(r, lo), hi_i = lo_i;
			while (hi_i < r->n && r->t[hi_i] <= hi)
				hi_i++;
			if (hi_i == lo_i)
				continue;
			rwin win = {
			    .t = r->t + lo_i,
			    .v = r->v + lo_i,
			    .n = hi_i - lo_i,
			    .lo = lo,
			    .hi = hi,
			    .t_ms = qe_step_time(c, i),
			    .range_s = (double)m.range_ms / 1000,
			    .scratch = scratch,
			};
			double a1 = a[0] ? a[0][i] : 0, a2 = a[1] ? a[1][i] : 0;
			win.a1 = &a1;
			win.a2 = &a2;
			double v;
			if (!apply(c, f->id, &win, &v, &rc)) {
				if (rc)
					return rc;
				continue;
			}
			if (!s->v && (rc = qe_series_init(c, s)))
				return rc;
			s->v[i] = v;
			s->ok[i] = true;
			if (!any && (rc = qe_add_samples(c, 1)))
				return rc;
			any = true;
		}
		if (!any)
			continue;
		uint64_t pts = 0;
		for (size_t i = 0; i < c->n_steps; i++)
			pts += s->ok[i];
		if ((rc = qe_add_samples(c, pts - 1)))
			return rc;
		if ((rc = qe_labels_copy(c, r->labels, r->n_labels, !keep_name, &s->labels,
					 &s->n_labels)))
			return rc;
		w++;
	}
	/* 2.42 checks the whole result for repeated label sets. */
	qe_lmap lm;
	if ((rc = qe_lmap_init(c, &lm, w)))
		return rc;
	for (size_t k = 0; k < w; k++) {
		size_t idx;
		bool is_new;
		if ((rc = qe_lmap_get(c, &lm, vec[k].labels, vec[k].n_labels, &idx, &is_new)))
			return rc;
		if (!is_new)
			return qe_err_dup_labelset(c);
	}
	out->type = QUERY_VALUE_VECTOR;
	out->vec = vec;
	out->n_vec = w;
	qe_sub_samples(c, held);
	return TS_OK;
}
