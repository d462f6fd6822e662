/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ast.c: the PromQL AST's tables and algorithms: function signatures, operator names,
 * result types, the walker, the type checker and the printer.
 *
 * Function table: every function of Prometheus 2.42's promql/parser/functions.go with the
 * same argument types, variadic counts and return types, sorted by name for bsearch.
 *
 * Type checker (query_check): Prometheus' checkAST, rule for rule and in the same
 * traversal order, so the first error reported (message and position) is the same. It
 * also normalizes binary vector matching the way checkAST does (NULL when an operand is a
 * scalar, many-to-many for set operators), so the evaluator need not.
 *
 * Printer (query_expr_format): Prometheus' Expr.String() (printer.go), which is what
 * /api/v1/format_query returns for queries short enough not to be prettified. Numbers
 * print like Go's fmt.Sprint(float64) (shortest round-trip digits, exponent from 1e+06,
 * "+Inf", "NaN"), strings like Go's %q, durations like model.Duration (years and weeks
 * only when exact: 90d stays 90d). Matchers inside braces are sorted as strings, the
 * __name__ matcher implied by the metric name is omitted, @ comes before offset.
 *
 * All recursion here is bounded by the tree height limit enforced by the parser.
 */
#include "query/ast.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ functions */

#define S QUERY_VALUE_SCALAR
#define V QUERY_VALUE_VECTOR
#define M QUERY_VALUE_MATRIX
#define T QUERY_VALUE_STRING

/* Sorted by name (strcmp order) for query_func_lookup's binary search. */
static const query_func funcs[] = {
    {QUERY_FN_ABS, "abs", {V}, 1, 0, V},
    {QUERY_FN_ABSENT, "absent", {V}, 1, 0, V},
    {QUERY_FN_ABSENT_OVER_TIME, "absent_over_time", {M}, 1, 0, V},
    {QUERY_FN_ACOS, "acos", {V}, 1, 0, V},
    {QUERY_FN_ACOSH, "acosh", {V}, 1, 0, V},
    {QUERY_FN_ASIN, "asin", {V}, 1, 0, V},
    {QUERY_FN_ASINH, "asinh", {V}, 1, 0, V},
    {QUERY_FN_ATAN, "atan", {V}, 1, 0, V},
    {QUERY_FN_ATANH, "atanh", {V}, 1, 0, V},
    {QUERY_FN_AVG_OVER_TIME, "avg_over_time", {M}, 1, 0, V},
    {QUERY_FN_CEIL, "ceil", {V}, 1, 0, V},
    {QUERY_FN_CHANGES, "changes", {M}, 1, 0, V},
    {QUERY_FN_CLAMP, "clamp", {V, S, S}, 3, 0, V},
    {QUERY_FN_CLAMP_MAX, "clamp_max", {V, S}, 2, 0, V},
    {QUERY_FN_CLAMP_MIN, "clamp_min", {V, S}, 2, 0, V},
    {QUERY_FN_COS, "cos", {V}, 1, 0, V},
    {QUERY_FN_COSH, "cosh", {V}, 1, 0, V},
    {QUERY_FN_COUNT_OVER_TIME, "count_over_time", {M}, 1, 0, V},
    {QUERY_FN_DAY_OF_MONTH, "day_of_month", {V}, 1, 1, V},
    {QUERY_FN_DAY_OF_WEEK, "day_of_week", {V}, 1, 1, V},
    {QUERY_FN_DAY_OF_YEAR, "day_of_year", {V}, 1, 1, V},
    {QUERY_FN_DAYS_IN_MONTH, "days_in_month", {V}, 1, 1, V},
    {QUERY_FN_DEG, "deg", {V}, 1, 0, V},
    {QUERY_FN_DELTA, "delta", {M}, 1, 0, V},
    {QUERY_FN_DERIV, "deriv", {M}, 1, 0, V},
    {QUERY_FN_EXP, "exp", {V}, 1, 0, V},
    {QUERY_FN_FLOOR, "floor", {V}, 1, 0, V},
    {QUERY_FN_HISTOGRAM_COUNT, "histogram_count", {V}, 1, 0, V},
    {QUERY_FN_HISTOGRAM_FRACTION, "histogram_fraction", {S, S, V}, 3, 0, V},
    {QUERY_FN_HISTOGRAM_QUANTILE, "histogram_quantile", {S, V}, 2, 0, V},
    {QUERY_FN_HISTOGRAM_SUM, "histogram_sum", {V}, 1, 0, V},
    {QUERY_FN_HOLT_WINTERS, "holt_winters", {M, S, S}, 3, 0, V},
    {QUERY_FN_HOUR, "hour", {V}, 1, 1, V},
    {QUERY_FN_IDELTA, "idelta", {M}, 1, 0, V},
    {QUERY_FN_INCREASE, "increase", {M}, 1, 0, V},
    {QUERY_FN_IRATE, "irate", {M}, 1, 0, V},
    {QUERY_FN_LABEL_JOIN, "label_join", {V, T, T, T}, 4, -1, V},
    {QUERY_FN_LABEL_REPLACE, "label_replace", {V, T, T, T, T}, 5, 0, V},
    {QUERY_FN_LAST_OVER_TIME, "last_over_time", {M}, 1, 0, V},
    {QUERY_FN_LN, "ln", {V}, 1, 0, V},
    {QUERY_FN_LOG10, "log10", {V}, 1, 0, V},
    {QUERY_FN_LOG2, "log2", {V}, 1, 0, V},
    {QUERY_FN_MAX_OVER_TIME, "max_over_time", {M}, 1, 0, V},
    {QUERY_FN_MIN_OVER_TIME, "min_over_time", {M}, 1, 0, V},
    {QUERY_FN_MINUTE, "minute", {V}, 1, 1, V},
    {QUERY_FN_MONTH, "month", {V}, 1, 1, V},
    {QUERY_FN_PI, "pi", {0}, 0, 0, S},
    {QUERY_FN_PREDICT_LINEAR, "predict_linear", {M, S}, 2, 0, V},
    {QUERY_FN_PRESENT_OVER_TIME, "present_over_time", {M}, 1, 0, V},
    {QUERY_FN_QUANTILE_OVER_TIME, "quantile_over_time", {S, M}, 2, 0, V},
    {QUERY_FN_RAD, "rad", {V}, 1, 0, V},
    {QUERY_FN_RATE, "rate", {M}, 1, 0, V},
    {QUERY_FN_RESETS, "resets", {M}, 1, 0, V},
    {QUERY_FN_ROUND, "round", {V, S}, 2, 1, V},
    {QUERY_FN_SCALAR, "scalar", {V}, 1, 0, S},
    {QUERY_FN_SGN, "sgn", {V}, 1, 0, V},
    {QUERY_FN_SIN, "sin", {V}, 1, 0, V},
    {QUERY_FN_SINH, "sinh", {V}, 1, 0, V},
    {QUERY_FN_SORT, "sort", {V}, 1, 0, V},
    {QUERY_FN_SORT_DESC, "sort_desc", {V}, 1, 0, V},
    {QUERY_FN_SQRT, "sqrt", {V}, 1, 0, V},
    {QUERY_FN_STDDEV_OVER_TIME, "stddev_over_time", {M}, 1, 0, V},
    {QUERY_FN_STDVAR_OVER_TIME, "stdvar_over_time", {M}, 1, 0, V},
    {QUERY_FN_SUM_OVER_TIME, "sum_over_time", {M}, 1, 0, V},
    {QUERY_FN_TAN, "tan", {V}, 1, 0, V},
    {QUERY_FN_TANH, "tanh", {V}, 1, 0, V},
    {QUERY_FN_TIME, "time", {0}, 0, 0, S},
    {QUERY_FN_TIMESTAMP, "timestamp", {V}, 1, 0, V},
    {QUERY_FN_VECTOR, "vector", {S}, 1, 0, V},
    {QUERY_FN_YEAR, "year", {V}, 1, 1, V},
};

#undef S
#undef V
#undef M
#undef T

_Static_assert(sizeof(funcs) / sizeof(funcs[0]) == QUERY_FN_COUNT_,
	       "one table entry per query_func_id");

const query_func *query_func_lookup(const char *name, size_t n)
{
	size_t lo = 0, hi = sizeof(funcs) / sizeof(funcs[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *f = funcs[mid].name;
		size_t fl = strlen(f);
		int c = memcmp(name, f, n < fl ? n : fl);
		if (c == 0)
			c = n < fl ? -1 : n > fl ? 1 : 0;
		if (c == 0)
			return &funcs[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const query_func *query_func_get(query_func_id id)
{
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (funcs[i].id == id)
			return &funcs[i];
	return NULL;
}

/* ================================================================ names and types */

const char *query_value_type_name(query_value_type t)
{
	switch (t) {
	case QUERY_VALUE_SCALAR: return "scalar";
	case QUERY_VALUE_VECTOR: return "instant vector";
	case QUERY_VALUE_MATRIX: return "range vector";
	case QUERY_VALUE_STRING: return "string";
	case QUERY_VALUE_NONE: break;
	}
	return "none";
}

/* Prometheus' raw ValueType string ("vector", "matrix"), used by one message. */
static const char *value_type_raw(query_value_type t)
{
	switch (t) {
	case QUERY_VALUE_SCALAR: return "scalar";
	case QUERY_VALUE_VECTOR: return "vector";
	case QUERY_VALUE_MATRIX: return "matrix";
	case QUERY_VALUE_STRING: return "string";
	case QUERY_VALUE_NONE: break;
	}
	return "none";
}

const char *query_binop_str(query_binop op)
{
	static const char *const names[] = {
	    [QUERY_OP_ADD] = "+",         [QUERY_OP_SUB] = "-",   [QUERY_OP_MUL] = "*",
	    [QUERY_OP_DIV] = "/",         [QUERY_OP_MOD] = "%",   [QUERY_OP_POW] = "^",
	    [QUERY_OP_ATAN2] = "atan2",   [QUERY_OP_EQ] = "==",   [QUERY_OP_NE] = "!=",
	    [QUERY_OP_GT] = ">",          [QUERY_OP_LT] = "<",    [QUERY_OP_GE] = ">=",
	    [QUERY_OP_LE] = "<=",         [QUERY_OP_AND] = "and", [QUERY_OP_OR] = "or",
	    [QUERY_OP_UNLESS] = "unless",
	};
	return (size_t)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

bool query_binop_is_comparison(query_binop op)
{
	return op >= QUERY_OP_EQ && op <= QUERY_OP_LE;
}

bool query_binop_is_set(query_binop op)
{
	return op == QUERY_OP_AND || op == QUERY_OP_OR || op == QUERY_OP_UNLESS;
}

const char *query_aggop_str(query_aggop op)
{
	static const char *const names[] = {
	    [QUERY_AGG_SUM] = "sum",           [QUERY_AGG_AVG] = "avg",
	    [QUERY_AGG_COUNT] = "count",       [QUERY_AGG_MIN] = "min",
	    [QUERY_AGG_MAX] = "max",           [QUERY_AGG_GROUP] = "group",
	    [QUERY_AGG_STDDEV] = "stddev",     [QUERY_AGG_STDVAR] = "stdvar",
	    [QUERY_AGG_TOPK] = "topk",         [QUERY_AGG_BOTTOMK] = "bottomk",
	    [QUERY_AGG_QUANTILE] = "quantile", [QUERY_AGG_COUNT_VALUES] = "count_values",
	};
	return (size_t)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

bool query_aggop_has_param(query_aggop op)
{
	return op == QUERY_AGG_TOPK || op == QUERY_AGG_BOTTOMK || op == QUERY_AGG_QUANTILE ||
	       op == QUERY_AGG_COUNT_VALUES;
}

query_value_type query_expr_type(const query_expr *e)
{
	switch (e->kind) {
	case QUERY_EXPR_NUMBER: return QUERY_VALUE_SCALAR;
	case QUERY_EXPR_STRING: return QUERY_VALUE_STRING;
	case QUERY_EXPR_VECTOR_SELECTOR: return QUERY_VALUE_VECTOR;
	case QUERY_EXPR_MATRIX_SELECTOR:
	case QUERY_EXPR_SUBQUERY: return QUERY_VALUE_MATRIX;
	case QUERY_EXPR_CALL: return e->call.func->return_type;
	case QUERY_EXPR_AGGREGATE: return QUERY_VALUE_VECTOR;
	case QUERY_EXPR_BINARY:
		if (query_expr_type(e->binary.lhs) == QUERY_VALUE_SCALAR &&
		    query_expr_type(e->binary.rhs) == QUERY_VALUE_SCALAR)
			return QUERY_VALUE_SCALAR;
		return QUERY_VALUE_VECTOR;
	case QUERY_EXPR_UNARY: return query_expr_type(e->unary.expr);
	case QUERY_EXPR_PAREN: return query_expr_type(e->paren.expr);
	}
	return QUERY_VALUE_NONE;
}

/* ================================================================ children and walk */

size_t query_expr_children(const query_expr *e, const query_expr **out, size_t max)
{
	const query_expr *tmp[2];
	const query_expr *const *src = tmp;
	size_t n = 0;
	switch (e->kind) {
	case QUERY_EXPR_NUMBER:
	case QUERY_EXPR_STRING:
	case QUERY_EXPR_VECTOR_SELECTOR: return 0;
	case QUERY_EXPR_MATRIX_SELECTOR: tmp[n++] = e->matrix.vs; break;
	case QUERY_EXPR_SUBQUERY: tmp[n++] = e->subquery.expr; break;
	case QUERY_EXPR_UNARY: tmp[n++] = e->unary.expr; break;
	case QUERY_EXPR_PAREN: tmp[n++] = e->paren.expr; break;
	case QUERY_EXPR_BINARY:
		tmp[n++] = e->binary.lhs;
		tmp[n++] = e->binary.rhs;
		break;
	case QUERY_EXPR_AGGREGATE:
		tmp[n++] = e->agg.expr;
		if (e->agg.param)
			tmp[n++] = e->agg.param;
		break;
	case QUERY_EXPR_CALL:
		src = (const query_expr *const *)e->call.args;
		n = e->call.n_args;
		break;
	}
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = src[i];
	return n;
}

int query_expr_walk(const query_expr *e, query_walk_fn fn, void *ctx)
{
	int rc = fn(e, ctx);
	if (rc < 0)
		return rc;
	if (rc == QUERY_WALK_SKIP)
		return TS_OK;
	if (e->kind == QUERY_EXPR_CALL) {
		for (size_t i = 0; i < e->call.n_args; i++)
			if ((rc = query_expr_walk(e->call.args[i], fn, ctx)) != TS_OK)
				return rc;
		return TS_OK;
	}
	const query_expr *kids[2];
	size_t n = query_expr_children(e, kids, 2);
	for (size_t i = 0; i < n; i++)
		if ((rc = query_expr_walk(kids[i], fn, ctx)) != TS_OK)
			return rc;
	return TS_OK;
}

/* ================================================================ type checker */

typedef struct checker {
	const char *in;
	size_t len;
	ts_err *err;
	int rc; /* first error */
} checker;

__attribute__((format(printf, 3, 4))) static void cfail(checker *c, size_t pos, const char *fmt,
							...)
{
	if (c->rc)
		return;
	char msg[TS_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->rc = query_parse_errorf(c->err, c->in, c->len, pos, "%s", msg);
}

/* Go's %q of s into a fixed buffer (truncated), for messages. */
static const char *cquote(char *dst, size_t cap, const char *s)
{
	ts_buf b;
	ts_buf_init(&b, (size_t)1 << 20);
	if (query_quote(&b, s, strlen(s)) == TS_OK)
		snprintf(dst, cap, "%s", b.data);
	else
		snprintf(dst, cap, "\"%.*s\"", (int)(cap > 8 ? cap - 8 : 0), s);
	ts_buf_free(&b);
	return dst;
}

static query_value_type check(checker *c, query_expr *e);

static void expect_type(checker *c, query_expr *e, query_value_type want, const char *context)
{
	query_value_type t = check(c, e);
	if (t != want)
		cfail(c, e->pos.start, "expected type %s in %s, got %s",
		      query_value_type_name(want), context, query_value_type_name(t));
}

static bool is_space_byte(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Start of the operator between lhs and rhs (Prometheus' opRange().Start). */
static size_t op_pos(const checker *c, const query_expr *e)
{
	size_t p = e->binary.lhs->pos.end;
	while (p < c->len && is_space_byte(c->in[p]))
		p++;
	return p;
}

static void check_binary(checker *c, query_expr *e)
{
	query_value_type lt = check(c, e->binary.lhs);
	query_value_type rt = check(c, e->binary.rhs);
	query_binop op = e->binary.op;
	query_vector_matching *vm = e->binary.matching;
	char q[TS_ERR_MSG_MAX];

	if (e->binary.is_bool && !query_binop_is_comparison(op))
		cfail(c, op_pos(c, e), "bool modifier can only be used on comparison operators");
	if (query_binop_is_comparison(op) && !e->binary.is_bool &&
	    query_expr_type(e->binary.rhs) == QUERY_VALUE_SCALAR &&
	    query_expr_type(e->binary.lhs) == QUERY_VALUE_SCALAR)
		cfail(c, op_pos(c, e), "comparisons between scalars must use BOOL modifier");
	if (vm && query_binop_is_set(op) && vm->card == QUERY_CARD_ONE_TO_ONE)
		vm->card = QUERY_CARD_MANY_TO_MANY;
	if (vm && vm->is_on)
		for (size_t i = 0; i < vm->n_labels; i++)
			for (size_t j = 0; j < vm->n_include; j++)
				if (strcmp(vm->labels[i], vm->include[j]) == 0)
					cfail(c, op_pos(c, e),
					      "label %s must not occur in ON and GROUP clause at "
					      "once",
					      cquote(q, sizeof(q), vm->labels[i]));
	if (lt != QUERY_VALUE_SCALAR && lt != QUERY_VALUE_VECTOR)
		cfail(c, e->binary.lhs->pos.start,
		      "binary expression must contain only scalar and instant vector types");
	if (rt != QUERY_VALUE_SCALAR && rt != QUERY_VALUE_VECTOR)
		cfail(c, e->binary.rhs->pos.start,
		      "binary expression must contain only scalar and instant vector types");
	if ((lt != QUERY_VALUE_VECTOR || rt != QUERY_VALUE_VECTOR) && vm) {
		if (vm->n_labels > 0)
			cfail(c, e->pos.start,
			      "vector matching only allowed between instant vectors");
		e->binary.matching = NULL;
	} else if (vm && query_binop_is_set(op)) {
		if (vm->card == QUERY_CARD_ONE_TO_MANY || vm->card == QUERY_CARD_MANY_TO_ONE)
			cfail(c, e->pos.start, "no grouping allowed for \"%s\" operation",
			      query_binop_str(op));
		if (vm->card != QUERY_CARD_MANY_TO_MANY)
			cfail(c, e->pos.start, "set operations must always be many-to-many");
	}
	if ((lt == QUERY_VALUE_SCALAR || rt == QUERY_VALUE_SCALAR) && query_binop_is_set(op))
		cfail(c, e->pos.start,
		      "set operator \"%s\" not allowed in binary scalar expression",
		      query_binop_str(op));
}

static void check_call(checker *c, query_expr *e)
{
	const query_func *f = e->call.func;
	int nargs = f->n_arg_types;
	size_t got = e->call.n_args;
	char name[64];
	snprintf(name, sizeof(name), "\"%s\"", f->name);
	if (f->variadic == 0) {
		if ((size_t)nargs != got)
			cfail(c, e->pos.start, "expected %d argument(s) in call to %s, got %zu",
			      nargs, name, got);
	} else {
		int na = nargs - 1;
		if ((size_t)na > got)
			cfail(c, e->pos.start,
			      "expected at least %d argument(s) in call to %s, got %zu", na, name,
			      got);
		else if (f->variadic > 0 && (size_t)(na + f->variadic) < got)
			cfail(c, e->pos.start,
			      "expected at most %d argument(s) in call to %s, got %zu",
			      na + f->variadic, name, got);
	}
	char context[96];
	snprintf(context, sizeof(context), "call to function %s", name);
	for (size_t i = 0; i < got; i++) {
		size_t k = i;
		if (k >= (size_t)nargs) {
			if (f->variadic == 0)
				break;
			k = (size_t)nargs - 1;
		}
		expect_type(c, e->call.args[i], f->arg_types[k], context);
	}
}

static void check_selector(checker *c, query_expr *e)
{
	char q1[TS_ERR_MSG_MAX / 2], q2[TS_ERR_MSG_MAX / 2];
	if (e->vs.name) {
		/* The last matcher is the one implied by the name. */
		for (size_t i = 0; i + 1 < e->vs.n_matchers; i++)
			if (strcmp(e->vs.matchers[i].name, TS_METRIC_NAME) == 0)
				cfail(c, e->pos.start,
				      "metric name must not be set twice: %s or %s",
				      cquote(q1, sizeof(q1), e->vs.name),
				      cquote(q2, sizeof(q2), e->vs.matchers[i].value));
		return;
	}
	for (size_t i = 0; i < e->vs.n_matchers; i++)
		if (!ts_matcher_matches_empty(&e->vs.matchers[i]))
			return;
	cfail(c, e->pos.start, "vector selector must contain at least one non-empty matcher");
}

static query_value_type check(checker *c, query_expr *e)
{
	query_value_type typ = query_expr_type(e);
	switch (e->kind) {
	case QUERY_EXPR_AGGREGATE:
		expect_type(c, e->agg.expr, QUERY_VALUE_VECTOR, "aggregation expression");
		if (e->agg.op == QUERY_AGG_TOPK || e->agg.op == QUERY_AGG_BOTTOMK ||
		    e->agg.op == QUERY_AGG_QUANTILE)
			expect_type(c, e->agg.param, QUERY_VALUE_SCALAR, "aggregation parameter");
		if (e->agg.op == QUERY_AGG_COUNT_VALUES)
			expect_type(c, e->agg.param, QUERY_VALUE_STRING, "aggregation parameter");
		break;
	case QUERY_EXPR_BINARY: check_binary(c, e); break;
	case QUERY_EXPR_CALL: check_call(c, e); break;
	case QUERY_EXPR_PAREN: check(c, e->paren.expr); break;
	case QUERY_EXPR_UNARY: {
		query_value_type t = check(c, e->unary.expr);
		if (t != QUERY_VALUE_SCALAR && t != QUERY_VALUE_VECTOR)
			cfail(c, e->pos.start,
			      "unary expression only allowed on expressions of type scalar or "
			      "instant "
			      "vector, got \"%s\"",
			      query_value_type_name(t));
		break;
	}
	case QUERY_EXPR_SUBQUERY: {
		query_value_type t = check(c, e->subquery.expr);
		if (t != QUERY_VALUE_VECTOR)
			cfail(c, e->pos.start,
			      "subquery is only allowed on instant vector, got %s instead",
			      value_type_raw(t));
		break;
	}
	case QUERY_EXPR_MATRIX_SELECTOR: check(c, e->matrix.vs); break;
	case QUERY_EXPR_VECTOR_SELECTOR: check_selector(c, e); break;
	case QUERY_EXPR_NUMBER:
	case QUERY_EXPR_STRING: break;
	}
	return typ;
}

int query_check(query_expr *e, const char *in, size_t len, ts_err *err)
{
	checker c = {.in = in, .len = len, .err = err, .rc = TS_OK};
	check(&c, e);
	return c.rc;
}

/* ================================================================ printer */

int query_format_float(ts_buf *out, double v)
{
	if (isnan(v))
		return ts_buf_puts(out, "NaN");
	if (isinf(v))
		return ts_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	/* Shortest %e precision that reads back to the same double. */
	char e[40];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e is [-]d[.ddd]e(+|-)XX: split into digits and decimal exponent. */
	const char *s = e;
	bool neg = *s == '-';
	if (neg)
		s++;
	char digits[24];
	size_t nd = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[nd++] = *s;
	int exp10 = (int)strtol(s + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	char buf[64];
	size_t k = 0;
	if (neg)
		buf[k++] = '-';
	if (exp10 < -4 || exp10 >= 6) { /* Go: %e when exp < -4 || exp >= eprec (6) */
		buf[k++] = digits[0];
		if (nd > 1) {
			buf[k++] = '.';
			memcpy(buf + k, digits + 1, nd - 1);
			k += nd - 1;
		}
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "e%c%02d", exp10 < 0 ? '-' : '+',
				      exp10 < 0 ? -exp10 : exp10);
	} else {
		int dp = exp10 + 1; /* digits before the decimal point */
		if (dp <= 0) {
			buf[k++] = '0';
			buf[k++] = '.';
			for (int i = 0; i < -dp; i++)
				buf[k++] = '0';
			memcpy(buf + k, digits, nd);
			k += nd;
		} else if ((size_t)dp >= nd) {
			memcpy(buf + k, digits, nd);
			k += nd;
			for (size_t i = nd; i < (size_t)dp; i++)
				buf[k++] = '0';
		} else {
			memcpy(buf + k, digits, (size_t)dp);
			k += (size_t)dp;
			buf[k++] = '.';
			memcpy(buf + k, digits + dp, nd - (size_t)dp);
			k += nd - (size_t)dp;
		}
	}
	return ts_buf_append(out, buf, k);
}

int query_format_duration(ts_buf *out, int64_t ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
		bool exact; /* only used when it divides the remainder exactly */
	} units[] = {
	    {"y", 365LL * 24 * 3600 * 1000, true},
	    {"w", 7LL * 24 * 3600 * 1000, true},
	    {"d", 24LL * 3600 * 1000, false},
	    {"h", 3600LL * 1000, false},
	    {"m", 60LL * 1000, false},
	    {"s", 1000, false},
	    {"ms", 1, false},
	};
	if (ms <= 0)
		return ts_buf_puts(out, "0s");
	int rc = TS_OK;
	for (size_t k = 0; k < sizeof(units) / sizeof(units[0]) && rc == TS_OK; k++) {
		if (units[k].exact && ms % units[k].ms != 0)
			continue;
		int64_t v = ms / units[k].ms;
		if (v > 0) {
			rc = ts_buf_printf(out, "%lld%s", (long long)v, units[k].unit);
			ms -= v * units[k].ms;
		}
	}
	return rc;
}

static int fmt_expr(ts_buf *b, const query_expr *e);

static int fmt_mods(ts_buf *b, const query_mods *m)
{
	int rc = TS_OK;
	switch (m->at) {
	case QUERY_AT_TIME: rc = ts_buf_printf(b, " @ %.3f", (double)m->at_ms / 1000.0); break;
	case QUERY_AT_START: rc = ts_buf_puts(b, " @ start()"); break;
	case QUERY_AT_END: rc = ts_buf_puts(b, " @ end()"); break;
	case QUERY_AT_NONE: break;
	}
	if (rc == TS_OK && m->offset_ms > 0) {
		rc = ts_buf_puts(b, " offset ");
		if (rc == TS_OK)
			rc = query_format_duration(b, m->offset_ms);
	} else if (rc == TS_OK && m->offset_ms < 0) {
		rc = ts_buf_puts(b, " offset -");
		if (rc == TS_OK)
			rc = query_format_duration(b, -m->offset_ms);
	}
	return rc;
}

/* The selector text without offset/@ (VectorSelector.String() minus its suffixes). */
static int fmt_selector_base(ts_buf *b, const query_expr *e)
{
	const char *name = e->vs.name ? e->vs.name : "";
	size_t n = e->vs.n_matchers;
	ts_buf tmp;
	ts_buf_init(&tmp, (size_t)1 << 30);
	size_t *off = n ? ts_malloc(2 * n * sizeof(*off)) : NULL;
	size_t *idx = n ? ts_malloc(n * sizeof(*idx)) : NULL;
	size_t count = 0;
	int rc = TS_OK;
	if (n && (!off || !idx)) {
		rc = TS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		const ts_matcher *m = &e->vs.matchers[i];
		if (strcmp(m->name, TS_METRIC_NAME) == 0 && m->type == TS_MATCH_EQ &&
		    strcmp(m->value, name) == 0)
			continue;
		size_t start = tmp.len;
		rc = ts_buf_printf(&tmp, "%s%s", m->name, ts_match_type_str(m->type));
		if (rc == TS_OK)
			rc = query_quote(&tmp, m->value, strlen(m->value));
		off[2 * count] = start;
		off[2 * count + 1] = tmp.len - start;
		idx[count] = count;
		count++;
	}
	if (rc != TS_OK)
		goto out;
	/* Insertion sort of the matcher strings, bytewise (Go's sort.Strings). */
	for (size_t i = 1; i < count; i++) {
		size_t cur = idx[i], j = i;
		while (j > 0) {
			size_t prev = idx[j - 1];
			size_t la = off[2 * prev + 1], lb = off[2 * cur + 1];
			int c = memcmp(tmp.data + off[2 * prev], tmp.data + off[2 * cur],
				       la < lb ? la : lb);
			if (c < 0 || (c == 0 && la <= lb))
				break;
			idx[j] = prev;
			j--;
		}
		idx[j] = cur;
	}
	rc = ts_buf_puts(b, name);
	if (rc == TS_OK && count > 0) {
		rc = ts_buf_putc(b, '{');
		for (size_t i = 0; i < count && rc == TS_OK; i++) {
			if (i > 0)
				rc = ts_buf_putc(b, ',');
			if (rc == TS_OK)
				rc = ts_buf_append(b, tmp.data + off[2 * idx[i]],
						   off[2 * idx[i] + 1]);
		}
		if (rc == TS_OK)
			rc = ts_buf_putc(b, '}');
	}
out:
	ts_free(off);
	ts_free(idx);
	ts_buf_free(&tmp);
	return rc;
}

static int fmt_labels(ts_buf *b, const char *const *labels, size_t n)
{
	int rc = ts_buf_putc(b, '(');
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		if (i > 0)
			rc = ts_buf_puts(b, ", ");
		if (rc == TS_OK)
			rc = ts_buf_puts(b, labels[i]);
	}
	return rc ? rc : ts_buf_putc(b, ')');
}

static int fmt_binary(ts_buf *b, const query_expr *e)
{
	int rc = fmt_expr(b, e->binary.lhs);
	if (rc == TS_OK)
		rc = ts_buf_printf(b, " %s%s", query_binop_str(e->binary.op),
				   e->binary.is_bool ? " bool" : "");
	const query_vector_matching *vm = e->binary.matching;
	if (rc == TS_OK && vm && (vm->n_labels > 0 || vm->is_on)) {
		rc = ts_buf_printf(b, " %s ", vm->is_on ? "on" : "ignoring");
		if (rc == TS_OK)
			rc = fmt_labels(b, vm->labels, vm->n_labels);
		if (rc == TS_OK &&
		    (vm->card == QUERY_CARD_MANY_TO_ONE || vm->card == QUERY_CARD_ONE_TO_MANY)) {
			rc = ts_buf_printf(b, " group_%s ",
					   vm->card == QUERY_CARD_MANY_TO_ONE ? "left" : "right");
			if (rc == TS_OK)
				rc = fmt_labels(b, vm->include, vm->n_include);
		}
	}
	if (rc == TS_OK)
		rc = ts_buf_putc(b, ' ');
	return rc ? rc : fmt_expr(b, e->binary.rhs);
}

static int fmt_aggregate(ts_buf *b, const query_expr *e)
{
	int rc = ts_buf_puts(b, query_aggop_str(e->agg.op));
	if (rc == TS_OK && (e->agg.is_without || e->agg.n_grouping > 0)) {
		rc = ts_buf_puts(b, e->agg.is_without ? " without " : " by ");
		if (rc == TS_OK)
			rc = fmt_labels(b, e->agg.grouping, e->agg.n_grouping);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, ' ');
	}
	if (rc == TS_OK)
		rc = ts_buf_putc(b, '(');
	if (rc == TS_OK && e->agg.param) {
		rc = fmt_expr(b, e->agg.param);
		if (rc == TS_OK)
			rc = ts_buf_puts(b, ", ");
	}
	if (rc == TS_OK)
		rc = fmt_expr(b, e->agg.expr);
	return rc ? rc : ts_buf_putc(b, ')');
}

static int fmt_expr(ts_buf *b, const query_expr *e)
{
	int rc = TS_OK;
	switch (e->kind) {
	case QUERY_EXPR_NUMBER: return query_format_float(b, e->number);
	case QUERY_EXPR_STRING: return query_quote(b, e->string.val, e->string.len);
	case QUERY_EXPR_VECTOR_SELECTOR:
		rc = fmt_selector_base(b, e);
		return rc ? rc : fmt_mods(b, &e->vs.mods);
	case QUERY_EXPR_MATRIX_SELECTOR:
		rc = fmt_selector_base(b, e->matrix.vs);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, '[');
		if (rc == TS_OK)
			rc = query_format_duration(b, e->matrix.range_ms);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, ']');
		return rc ? rc : fmt_mods(b, &e->matrix.vs->vs.mods);
	case QUERY_EXPR_SUBQUERY:
		rc = fmt_expr(b, e->subquery.expr);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, '[');
		if (rc == TS_OK)
			rc = query_format_duration(b, e->subquery.range_ms);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, ':');
		if (rc == TS_OK && e->subquery.step_ms != 0)
			rc = query_format_duration(b, e->subquery.step_ms);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, ']');
		return rc ? rc : fmt_mods(b, &e->subquery.mods);
	case QUERY_EXPR_CALL:
		rc = ts_buf_printf(b, "%s(", e->call.func->name);
		for (size_t i = 0; i < e->call.n_args && rc == TS_OK; i++) {
			if (i > 0)
				rc = ts_buf_puts(b, ", ");
			if (rc == TS_OK)
				rc = fmt_expr(b, e->call.args[i]);
		}
		return rc ? rc : ts_buf_putc(b, ')');
	case QUERY_EXPR_AGGREGATE: return fmt_aggregate(b, e);
	case QUERY_EXPR_BINARY: return fmt_binary(b, e);
	case QUERY_EXPR_UNARY:
		rc = ts_buf_putc(b, e->unary.is_neg ? '-' : '+');
		return rc ? rc : fmt_expr(b, e->unary.expr);
	case QUERY_EXPR_PAREN:
		rc = ts_buf_putc(b, '(');
		if (rc == TS_OK)
			rc = fmt_expr(b, e->paren.expr);
		return rc ? rc : ts_buf_putc(b, ')');
	}
	return TS_EINVAL;
}

int query_expr_format(const query_expr *e, ts_buf *out)
{
	return fmt_expr(out, e);
}
