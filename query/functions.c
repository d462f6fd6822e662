/* SPDX-License-Identifier: Apache-2.0 */
/*
 * functions.c: PromQL function calls: dispatch, and the functions of instant vectors and
 * scalars (math, clamp, round, date and time, label_join, absent, scalar, vector, sort,
 * timestamp), with Prometheus 2.42's semantics.
 *
 * Calls with a range-vector argument go to functions_range.c, histogram_quantile to
 * functions_hist.c and label_replace to regex.c. Everything else is evaluated like
 * Prometheus' rangeEval: arguments for all steps first, then the function per step,
 * results merged by label set (qe_vbuild), two equal label sets at one step being an
 * error. Most functions drop the metric name; label_join, label_replace, sort and
 * sort_desc keep it.
 *
 * Go's math differs from C's where it matters for equal results: log2 and log10 are
 * computed Go's way (frexp and log for log2, log10 = log2(x) * (ln 2 / ln 10)), and
 * min/max follow math.Min/math.Max (NaN wins over numbers, +Inf/-Inf over NaN). Date functions
 * convert with Go's int64(float) truncation; values Go would convert to the minimum int64 (NaN,
 * +-Inf, |v| >= 2^63) are not supported identically (see docs). The native-histogram functions
 * (histogram_count, histogram_sum, histogram_fraction) return empty vectors since the
 * store holds no native histograms, which is what 2.42 does for float series.
 */
#include "query/eval.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- Go math */

static double go_max(double x, double y)
{
	if (isinf(x) && x > 0)
		return x;
	if (isinf(y) && y > 0)
		return y;
	if (isnan(x) || isnan(y))
		return NAN;
	if (x == 0 && x == y)
		return signbit(x) ? y : x;
	return x > y ? x : y;
}

static double go_min(double x, double y)
{
	if (isinf(x) && x < 0)
		return x;
	if (isinf(y) && y < 0)
		return y;
	if (isnan(x) || isnan(y))
		return NAN;
	if (x == 0 && x == y)
		return signbit(x) ? x : y;
	return x < y ? x : y;
}

static double go_log2(double x)
{
	int e;
	double frac = frexp(x, &e);
	if (frac == 0.5)
		return (double)(e - 1);
	/* 1/ln 2 and ln 2/ln 10 rounded once, as Go's constant expressions are. */
	return log(frac) * 1.44269504088896340735992468100189213742664595415298593413544940693 +
	       (double)e;
}

static double go_log10(double x)
{
	return go_log2(x) * 0.30102999566398119521373889472449302676818988146210854131044;
}

static double f_sgn(double v)
{
	return v < 0 ? -1 : v > 0 ? 1 : v;
}

static double f_deg(double v)
{
	return v * 180 / M_PI;
}

static double f_rad(double v)
{
	return v * M_PI / 180;
}

/* The one-argument math function of id, or NULL. */
static double (*math_fn(query_func_id id))(double)
{
	switch (id) {
	case QUERY_FN_ABS: return fabs;
	case QUERY_FN_CEIL: return ceil;
	case QUERY_FN_FLOOR: return floor;
	case QUERY_FN_EXP: return exp;
	case QUERY_FN_SQRT: return sqrt;
	case QUERY_FN_LN: return log;
	case QUERY_FN_LOG2: return go_log2;
	case QUERY_FN_LOG10: return go_log10;
	case QUERY_FN_SIN: return sin;
	case QUERY_FN_COS: return cos;
	case QUERY_FN_TAN: return tan;
	case QUERY_FN_ASIN: return asin;
	case QUERY_FN_ACOS: return acos;
	case QUERY_FN_ATAN: return atan;
	case QUERY_FN_SINH: return sinh;
	case QUERY_FN_COSH: return cosh;
	case QUERY_FN_TANH: return tanh;
	case QUERY_FN_ASINH: return asinh;
	case QUERY_FN_ACOSH: return acosh;
	case QUERY_FN_ATANH: return atanh;
	case QUERY_FN_SGN: return f_sgn;
	case QUERY_FN_DEG: return f_deg;
	case QUERY_FN_RAD: return f_rad;
	default: return NULL;
	}
}

/* ---------------------------------------------------------------- per-element functions */

typedef struct elem_fn {
	query_func_id id;
	double (*f)(double);
	const double *a1, *a2; /* scalar arguments per step (clamp bounds, round's to_nearest) */
} elem_fn;

static bool elem_skip_step(const elem_fn *f, size_t i)
{
	return f->id == QUERY_FN_CLAMP && f->a2[i] < f->a1[i]; /* clamp with max < min */
}

static double elem_apply(const elem_fn *f, size_t i, double v)
{
	switch (f->id) {
	case QUERY_FN_CLAMP: return go_max(f->a1[i], go_min(f->a2[i], v));
	case QUERY_FN_CLAMP_MAX: return go_min(f->a1[i], v);
	case QUERY_FN_CLAMP_MIN: return go_max(f->a1[i], v);
	case QUERY_FN_ROUND: {
		double inv = 1.0 / (f->a1 ? f->a1[i] : 1.0);
		return floor(v * inv + 0.5) / inv;
	}
	default: return f->f(v);
	}
}

/* Apply f to every element, dropping the metric name (simpleFunc and friends). */
static int map_elements(qe_ctx *c, const qe_value *in, const elem_fn *f, qe_value *out)
{
	qe_vbuild b;
	int rc = qe_vbuild_init(c, &b, in->n_vec);
	for (size_t k = 0; rc == TS_OK && k < in->n_vec; k++) {
		const qe_series *s = &in->vec[k];
		size_t idx = SIZE_MAX;
		ts_label *l = NULL;
		size_t n = 0;
		for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
			if (!s->ok[i] || elem_skip_step(f, i))
				continue;
			if (idx == SIZE_MAX) {
				rc = qe_labels_copy(c, s->labels, s->n_labels, true, &l, &n);
				if (rc == TS_OK)
					rc = qe_vbuild_index(c, &b, l, n, &idx);
				if (rc)
					break;
			}
			rc = qe_vbuild_set(c, &b, idx, i, elem_apply(f, i, s->v[i]));
		}
		if (rc == TS_OK && (k % 256) == 255)
			rc = qe_check_timeout(c);
	}
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* ---------------------------------------------------------------- date and time */

/* Go's int64(float64) on amd64: truncation, and the minimum int64 when out of range. */
static int64_t go_int64(double v)
{
	if (isnan(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)v;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A date function of Unix seconds sec, as Go's time.Unix(sec, 0).UTC() gives it. */
static double date_fn(query_func_id id, int64_t sec)
{
	int64_t days = floor_div(sec, 86400), rem = sec - days * 86400;
	int64_t y;
	unsigned m, d;
	ts_civil_from_days(days, &y, &m, &d);
	switch (id) {
	case QUERY_FN_YEAR: return (double)y;
	case QUERY_FN_MONTH: return (double)m;
	case QUERY_FN_DAY_OF_MONTH: return (double)d;
	case QUERY_FN_DAY_OF_WEEK: return (double)((days % 7 + 11) % 7); /* 1970-01-01: Thu */
	case QUERY_FN_DAY_OF_YEAR: return (double)(days - ts_days_from_civil(y, 1, 1) + 1);
	case QUERY_FN_HOUR: return (double)(rem / 3600);
	case QUERY_FN_MINUTE: return (double)(rem % 3600 / 60);
	case QUERY_FN_DAYS_IN_MONTH: {
		int64_t ny = m == 12 ? y + 1 : y;
		unsigned nm = m == 12 ? 1 : m + 1;
		return (double)(ts_days_from_civil(ny, nm, 1) - ts_days_from_civil(y, m, 1));
	}
	default: return NAN;
	}
}

static double date_apply(query_func_id id, double v)
{
	return date_fn(id, go_int64(v));
}

static int eval_date(qe_ctx *c, const query_expr *e, const qe_value *args, qe_value *out)
{
	query_func_id id = e->call.func->id;
	if (e->call.n_args == 0) {
		/* No argument: vector(time()), one unlabeled series. */
		qe_vbuild b;
		size_t idx;
		int rc = qe_vbuild_init(c, &b, 1);
		if (rc == TS_OK)
			rc = qe_vbuild_index(c, &b, NULL, 0, &idx);
		for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
			int64_t t = qe_step_time(c, i);
			rc = qe_vbuild_set(c, &b, idx, i, date_fn(id, t / 1000));
		}
		if (rc)
			return rc;
		qe_vbuild_finish(&b, out);
		return TS_OK;
	}
	qe_vbuild b;
	int rc = qe_vbuild_init(c, &b, args[0].n_vec);
	for (size_t k = 0; rc == TS_OK && k < args[0].n_vec; k++) {
		const qe_series *s = &args[0].vec[k];
		size_t idx = SIZE_MAX;
		for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
			if (!s->ok[i])
				continue;
			if (idx == SIZE_MAX) {
				ts_label *l;
				size_t n;
				rc = qe_labels_copy(c, s->labels, s->n_labels, true, &l, &n);
				if (rc == TS_OK)
					rc = qe_vbuild_index(c, &b, l, n, &idx);
				if (rc)
					break;
			}
			rc = qe_vbuild_set(c, &b, idx, i, date_apply(id, s->v[i]));
		}
	}
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* timestamp(): sample times for a plain selector, the step time for anything else. */
static int eval_timestamp(qe_ctx *c, const query_expr *e, qe_value *out)
{
	const query_expr *arg = qe_unparen(e->call.args[0]);
	qe_value v;
	int rc = arg->kind == QUERY_EXPR_VECTOR_SELECTOR ? qe_eval_selector_ts(c, arg, &v)
							 : qe_eval(c, arg, &v);
	if (rc)
		return rc;
	uint64_t held = qe_value_points(c, &v);
	qe_vbuild b;
	rc = qe_vbuild_init(c, &b, v.n_vec);
	for (size_t k = 0; rc == TS_OK && k < v.n_vec; k++) {
		const qe_series *s = &v.vec[k];
		size_t idx = SIZE_MAX;
		for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
			if (!s->ok[i])
				continue;
			if (idx == SIZE_MAX) {
				ts_label *l;
				size_t n;
				rc = qe_labels_copy(c, s->labels, s->n_labels, true, &l, &n);
				if (rc == TS_OK)
					rc = qe_vbuild_index(c, &b, l, n, &idx);
				if (rc)
					break;
			}
			int64_t t = s->t ? s->t[i] : qe_step_time(c, i);
			rc = qe_vbuild_set(c, &b, idx, i, (double)t / 1000);
		}
	}
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	qe_sub_samples(c, held);
	return TS_OK;
}

/* ---------------------------------------------------------------- absent, scalar, vector */

int qe_absent_labels(qe_ctx *c, const query_expr *arg, ts_label **out, size_t *n_out)
{
	arg = qe_unparen(arg);
	if (arg->kind == QUERY_EXPR_MATRIX_SELECTOR)
		arg = arg->matrix.vs;
	*out = NULL;
	*n_out = 0;
	if (arg->kind != QUERY_EXPR_VECTOR_SELECTOR)
		return TS_OK;
	size_t nm = arg->vs.n_matchers;
	ts_label *l = NULL;
	/* 2.42: set by the first equality matcher of a name, deleted by any other. */
	const char **seen = qe_alloc(c, (nm + 1) * sizeof(*seen));
	if (!seen)
		return qe_nomem(c);
	size_t n = 0, ns = 0;
	for (size_t i = 0; i < nm; i++) {
		const ts_matcher *m = &arg->vs.matchers[i];
		if (strcmp(m->name, TS_METRIC_NAME) == 0)
			continue;
		bool has = false;
		for (size_t j = 0; j < ns && !has; j++)
			has = strcmp(seen[j], m->name) == 0;
		int rc;
		if (m->type == TS_MATCH_EQ && !has) {
			rc = qe_labels_set(c, l, n, m->name, m->value, &l, &n);
			seen[ns++] = m->name;
		} else {
			rc = qe_labels_set(c, l, n, m->name, NULL, &l, &n);
		}
		if (rc)
			return rc;
	}
	*out = l;
	*n_out = n;
	return TS_OK;
}

static int eval_absent(qe_ctx *c, const query_expr *e, const qe_value *v, qe_value *out)
{
	ts_label *l;
	size_t n, idx = SIZE_MAX;
	qe_vbuild b;
	int rc = qe_absent_labels(c, e->call.args[0], &l, &n);
	if (rc == TS_OK)
		rc = qe_vbuild_init(c, &b, 1);
	for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
		bool any = false;
		for (size_t k = 0; k < v->n_vec && !any; k++)
			any = v->vec[k].ok[i];
		if (any)
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

static int new_scalar(qe_ctx *c, qe_value *out)
{
	out->type = QUERY_VALUE_SCALAR;
	out->scalar = qe_alloc(c, c->n_steps * sizeof(double));
	if (!out->scalar)
		return qe_nomem(c);
	return qe_add_samples(c, c->n_steps);
}

static int eval_scalar_fn(qe_ctx *c, query_func_id id, const qe_value *v, qe_value *out)
{
	int rc = new_scalar(c, out);
	for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
		switch (id) {
		case QUERY_FN_TIME: out->scalar[i] = (double)qe_step_time(c, i) / 1000; break;
		case QUERY_FN_PI: out->scalar[i] = M_PI; break;
		default: { /* scalar(): the only element's value, NaN unless exactly one */
			size_t n = 0;
			double x = NAN;
			for (size_t k = 0; k < v->n_vec; k++)
				if (v->vec[k].ok[i]) {
					n++;
					x = v->vec[k].v[i];
				}
			out->scalar[i] = n == 1 ? x : NAN;
		}
		}
	}
	return rc;
}

static int eval_vector_fn(qe_ctx *c, const qe_value *s, qe_value *out)
{
	qe_vbuild b;
	size_t idx;
	int rc = qe_vbuild_init(c, &b, 1);
	if (rc == TS_OK)
		rc = qe_vbuild_index(c, &b, NULL, 0, &idx);
	for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++)
		rc = qe_vbuild_set(c, &b, idx, i, s->scalar[i]);
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* ---------------------------------------------------------------- sort */

typedef struct sort_ctx {
	const qe_value *v;
	size_t step;
	bool desc;
} sort_ctx;

/* sort: sort.Reverse(vectorByReverseValueHeap); sort_desc: sort.Reverse(vectorByValueHeap).
 * NaN ends up last in both. */
static bool sort_less(const void *vctx, size_t a, size_t b)
{
	const sort_ctx *s = vctx;
	double va = s->v->vec[a].v[s->step], vb = s->v->vec[b].v[s->step];
	if (isnan(vb))
		return true;
	return s->desc ? vb < va : vb > va;
}

static int eval_sort(qe_ctx *c, const qe_value *v, bool desc, qe_value *out)
{
	qe_vbuild b;
	size_t *items = qe_alloc(c, (v->n_vec + 1) * sizeof(size_t));
	size_t *idx = qe_alloc(c, (v->n_vec + 1) * sizeof(size_t));
	if (!items || !idx)
		return qe_nomem(c);
	int rc = qe_vbuild_init(c, &b, v->n_vec);
	for (size_t k = 0; k < v->n_vec; k++)
		idx[k] = SIZE_MAX;
	for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
		size_t n = 0;
		for (size_t k = 0; k < v->n_vec; k++)
			if (v->vec[k].ok[i])
				items[n++] = k;
		sort_ctx sc = {.v = v, .step = i, .desc = desc};
		rc = qe_sort_go(c, items, n, sort_less, &sc);
		for (size_t j = 0; rc == TS_OK && j < n; j++) {
			const qe_series *s = &v->vec[items[j]];
			if (idx[items[j]] == SIZE_MAX &&
			    (rc = qe_vbuild_index(c, &b, s->labels, s->n_labels, &idx[items[j]])))
				break;
			rc = qe_vbuild_set(c, &b, idx[items[j]], i, s->v[i]);
		}
	}
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* ---------------------------------------------------------------- label_join */

static const char *arg_string(const query_expr *e)
{
	e = qe_unparen(e);
	return e->kind == QUERY_EXPR_STRING ? e->string.val : "";
}

static int eval_label_join(qe_ctx *c, const query_expr *e, const qe_value *v, qe_value *out)
{
	const char *dst = arg_string(e->call.args[1]), *sep = arg_string(e->call.args[2]);
	size_t n_src = e->call.n_args - 3;
	const char **src = qe_alloc(c, (n_src + 1) * sizeof(*src));
	if (!src)
		return qe_nomem(c);
	for (size_t j = 0; j < n_src; j++) {
		src[j] = arg_string(e->call.args[3 + j]);
		if (!ts_label_name_valid(src[j], strlen(src[j])))
			return ts_err_set(c->err, TS_EINVAL,
					  "invalid source label name in label_join(): %s", src[j]);
	}
	if (!ts_label_name_valid(dst, strlen(dst)))
		return ts_err_set(c->err, TS_EINVAL,
				  "invalid destination label name in label_join(): %s", dst);
	qe_vbuild b;
	int rc = qe_vbuild_init(c, &b, v->n_vec);
	ts_buf val;
	ts_buf_init(&val, 1 << 20);
	for (size_t k = 0; rc == TS_OK && k < v->n_vec; k++) {
		const qe_series *s = &v->vec[k];
		size_t idx = SIZE_MAX;
		for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
			if (!s->ok[i])
				continue;
			if (idx == SIZE_MAX) {
				ts_buf_reset(&val);
				for (size_t j = 0; rc == TS_OK && j < n_src; j++) {
					const char *sv =
					    ts_labels_get(s->labels, s->n_labels, src[j]);
					if (j > 0)
						rc = ts_buf_puts(&val, sep);
					if (rc == TS_OK && sv)
						rc = ts_buf_puts(&val, sv);
				}
				char *joined = query_arena_strndup(
				    c->arena, val.data ? val.data : "", val.len);
				ts_label *l;
				size_t n;
				if (rc == TS_OK && !joined)
					rc = qe_nomem(c);
				if (rc == TS_OK)
					rc = qe_labels_set(c, s->labels, s->n_labels, dst, joined,
							   &l, &n);
				if (rc == TS_OK)
					rc = qe_vbuild_index(c, &b, l, n, &idx);
				if (rc)
					break;
			}
			rc = qe_vbuild_set(c, &b, idx, i, s->v[i]);
		}
	}
	ts_buf_free(&val);
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* ---------------------------------------------------------------- dispatch */

static int empty_vector(qe_value *out)
{
	memset(out, 0, sizeof(*out));
	out->type = QUERY_VALUE_VECTOR;
	return TS_OK;
}

#define QE_MAX_ARGS 8

int qe_eval_call(qe_ctx *c, const query_expr *e, qe_value *out)
{
	const query_func *f = e->call.func;
	for (size_t i = 0; i < e->call.n_args; i++)
		if (query_expr_type(e->call.args[i]) == QUERY_VALUE_MATRIX)
			return qe_eval_range_call(c, e, out);
	if (f->id == QUERY_FN_TIMESTAMP)
		return eval_timestamp(c, e, out);
	if (e->call.n_args > QE_MAX_ARGS && f->id != QUERY_FN_LABEL_JOIN)
		return ts_err_set(c->err, TS_EINVAL, "too many arguments");
	/* label_join may have any number of string arguments: only its vector is evaluated. */
	size_t n_eval = f->id == QUERY_FN_LABEL_JOIN ? 1 : e->call.n_args;
	qe_value args[QE_MAX_ARGS];
	uint64_t held = 0;
	int rc;
	for (size_t i = 0; i < n_eval; i++) {
		if ((rc = qe_eval(c, e->call.args[i], &args[i])))
			return rc;
		held += qe_value_points(c, &args[i]);
	}
	memset(out, 0, sizeof(*out));
	elem_fn ef = {.id = f->id, .f = math_fn(f->id)};
	switch (f->id) {
	case QUERY_FN_CLAMP:
		ef.a1 = args[1].scalar;
		ef.a2 = args[2].scalar;
		rc = map_elements(c, &args[0], &ef, out);
		break;
	case QUERY_FN_CLAMP_MAX:
	case QUERY_FN_CLAMP_MIN:
		ef.a1 = args[1].scalar;
		rc = map_elements(c, &args[0], &ef, out);
		break;
	case QUERY_FN_ROUND:
		ef.a1 = e->call.n_args > 1 ? args[1].scalar : NULL;
		rc = map_elements(c, &args[0], &ef, out);
		break;
	case QUERY_FN_DAYS_IN_MONTH:
	case QUERY_FN_DAY_OF_MONTH:
	case QUERY_FN_DAY_OF_WEEK:
	case QUERY_FN_DAY_OF_YEAR:
	case QUERY_FN_HOUR:
	case QUERY_FN_MINUTE:
	case QUERY_FN_MONTH:
	case QUERY_FN_YEAR: rc = eval_date(c, e, args, out); break;
	case QUERY_FN_ABSENT: rc = eval_absent(c, e, &args[0], out); break;
	case QUERY_FN_SCALAR:
	case QUERY_FN_TIME:
	case QUERY_FN_PI: rc = eval_scalar_fn(c, f->id, n_eval ? &args[0] : NULL, out); break;
	case QUERY_FN_VECTOR: rc = eval_vector_fn(c, &args[0], out); break;
	case QUERY_FN_SORT:
	case QUERY_FN_SORT_DESC:
		rc = eval_sort(c, &args[0], f->id == QUERY_FN_SORT_DESC, out);
		break;
	case QUERY_FN_LABEL_JOIN: rc = eval_label_join(c, e, &args[0], out); break;
	case QUERY_FN_LABEL_REPLACE: rc = qe_label_replace(c, e, &args[0], out); break;
	case QUERY_FN_HISTOGRAM_QUANTILE:
		rc = qe_histogram_quantile(c, args[0].scalar, &args[1], out);
		break;
	case QUERY_FN_HISTOGRAM_COUNT:
	case QUERY_FN_HISTOGRAM_SUM:
	case QUERY_FN_HISTOGRAM_FRACTION: rc = empty_vector(out); break;
	default:
		if (ef.f)
			rc = map_elements(c, &args[0], &ef, out);
		else
			rc = ts_err_set(c->err, TS_EINVAL, "function %s is not implemented",
					f->name);
		break;
	}
	if (rc == TS_OK)
		qe_sub_samples(c, held);
	return rc;
}
