/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ast.c: tests for query/ast.c and the per-query arena it lives in (query/arena.c):
 * every function's arity and argument types, the function table, the tree shape the
 * evaluator relies on (matchers, modifiers, vector matching, aggregations, literals),
 * result types, children and walk order, the checker's normalization, the Go-compatible
 * number and duration printing, error positions, and the arena (alignment, big blocks,
 * cleanups, budget, allocation failures).
 */
#include "query/ast.h"

#include <math.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static query_expr *must_parse(query_arena *a, const char *in)
{
	query_expr *e = NULL;
	ts_err err;
	ts_err_clear(&err);
	int rc = query_parse(a, in, strlen(in), &e, &err);
	if (rc != TS_OK) {
		print_error("%s: %s\n", in, err.msg);
		fail();
	}
	return e;
}

/* ================================================================ parse helpers */

typedef struct parsed {
	query_arena *a;
	query_expr *e;
	int rc;
	ts_err err;
} parsed;

static parsed parse(const char *in)
{
	parsed p;
	memset(&p, 0, sizeof(p));
	p.a = query_arena_new(0);
	assert_non_null(p.a);
	ts_err_clear(&p.err);
	p.rc = query_parse(p.a, in, strlen(in), &p.e, &p.err);
	return p;
}

static void done(parsed *p)
{
	query_arena_free(p->a);
}

/* Canonical text of a parsed expression (caller frees). */
static char *format(const query_expr *e)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(query_expr_format(e, &b), TS_OK);
	char *out = ts_buf_take(&b, NULL);
	assert_non_null(out);
	return out;
}

/* ================================================================ functions */

static const char *arg_for(query_value_type t)
{
	switch (t) {
	case QUERY_VALUE_SCALAR: return "1";
	case QUERY_VALUE_VECTOR: return "v";
	case QUERY_VALUE_MATRIX: return "m[5m]";
	case QUERY_VALUE_STRING: return "\"s\"";
	default: return "?";
	}
}

/* An argument of the wrong type for t. */
static const char *wrong_arg_for(query_value_type t)
{
	return t == QUERY_VALUE_VECTOR ? "m[5m]" : "v";
}

static void call_text(ts_buf *b, const query_func *f, int n_args, int wrong_at)
{
	ts_buf_reset(b);
	ts_buf_printf(b, "%s(", f->name);
	for (int i = 0; i < n_args; i++) {
		int k = i < f->n_arg_types ? i : f->n_arg_types - 1;
		query_value_type t = k >= 0 ? f->arg_types[k] : QUERY_VALUE_SCALAR;
		ts_buf_printf(b, "%s%s", i ? ", " : "",
			      i == wrong_at ? wrong_arg_for(t) : arg_for(t));
	}
	ts_buf_putc(b, ')');
}

static void test_query_parse_functions(void **state)
{
	(void)state;
	ts_buf b;
	ts_buf_init(&b, 4096);
	char want[512];
	for (int id = 0; id < QUERY_FN_COUNT_; id++) {
		const query_func *f = query_func_get((query_func_id)id);
		assert_non_null(f);
		int n = f->n_arg_types;
		int min = f->variadic == 0 ? n : n - 1;
		int max = f->variadic == 0 ? n : f->variadic < 0 ? n + 3 : n - 1 + f->variadic;

		/* every accepted arity parses, prints back and has the declared type */
		for (int k = min; k <= max; k++) {
			call_text(&b, f, k, -1);
			parsed p = parse(b.data);
			if (p.rc != TS_OK) {
				print_error("%s: %s\n", b.data, p.err.msg);
				fail();
			}
			assert_int_equal(p.e->kind, QUERY_EXPR_CALL);
			assert_ptr_equal(p.e->call.func, f);
			assert_int_equal(query_expr_type(p.e), f->return_type);
			char *s = format(p.e);
			assert_string_equal(s, b.data);
			free(s);
			done(&p);
		}
		/* one too few */
		if (min > 0) {
			call_text(&b, f, min - 1, -1);
			parsed p = parse(b.data);
			if (f->variadic == 0)
				snprintf(
				    want, sizeof(want),
				    "1:1: parse error: expected %d argument(s) in call to \"%s\", "
				    "got %d",
				    n, f->name, min - 1);
			else
				snprintf(
				    want, sizeof(want),
				    "1:1: parse error: expected at least %d argument(s) in call to "
				    "\"%s\", got %d",
				    min, f->name, min - 1);
			assert_int_equal(p.rc, TS_EPARSE);
			assert_string_equal(p.err.msg, want);
			done(&p);
		}
		/* one too many (unlimited variadics have no maximum) */
		if (f->variadic >= 0) {
			call_text(&b, f, max + 1, -1);
			parsed p = parse(b.data);
			if (f->variadic == 0)
				snprintf(
				    want, sizeof(want),
				    "1:1: parse error: expected %d argument(s) in call to \"%s\", "
				    "got %d",
				    n, f->name, max + 1);
			else
				snprintf(
				    want, sizeof(want),
				    "1:1: parse error: expected at most %d argument(s) in call to "
				    "\"%s\", got %d",
				    max, f->name, max + 1);
			assert_int_equal(p.rc, TS_EPARSE);
			assert_string_equal(p.err.msg, want);
			done(&p);
		}
		/* each argument position with a wrong type */
		for (int w = 0; w < n; w++) {
			call_text(&b, f, n, w);
			parsed p = parse(b.data);
			assert_int_equal(p.rc, TS_EPARSE);
			query_value_type t = f->arg_types[w];
			snprintf(want, sizeof(want),
				 "expected type %s in call to function \"%s\", got %s",
				 query_value_type_name(t), f->name,
				 query_value_type_name(t == QUERY_VALUE_VECTOR
							   ? QUERY_VALUE_MATRIX
							   : QUERY_VALUE_VECTOR));
			if (!strstr(p.err.msg, want)) {
				print_error("%s: want ...%s got %s\n", b.data, want, p.err.msg);
				fail();
			}
			done(&p);
		}
	}
	ts_buf_free(&b);
}

static void test_query_func_lookup_table(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "abs",
	    "absent",
	    "absent_over_time",
	    "acos",
	    "acosh",
	    "asin",
	    "asinh",
	    "atan",
	    "atanh",
	    "avg_over_time",
	    "ceil",
	    "changes",
	    "clamp",
	    "clamp_max",
	    "clamp_min",
	    "cos",
	    "cosh",
	    "count_over_time",
	    "day_of_month",
	    "day_of_week",
	    "day_of_year",
	    "days_in_month",
	    "deg",
	    "delta",
	    "deriv",
	    "exp",
	    "floor",
	    "histogram_count",
	    "histogram_fraction",
	    "histogram_quantile",
	    "histogram_sum",
	    "holt_winters",
	    "hour",
	    "idelta",
	    "increase",
	    "irate",
	    "label_join",
	    "label_replace",
	    "last_over_time",
	    "ln",
	    "log10",
	    "log2",
	    "max_over_time",
	    "min_over_time",
	    "minute",
	    "month",
	    "pi",
	    "predict_linear",
	    "present_over_time",
	    "quantile_over_time",
	    "rad",
	    "rate",
	    "resets",
	    "round",
	    "scalar",
	    "sgn",
	    "sin",
	    "sinh",
	    "sort",
	    "sort_desc",
	    "sqrt",
	    "stddev_over_time",
	    "stdvar_over_time",
	    "sum_over_time",
	    "tan",
	    "tanh",
	    "time",
	    "timestamp",
	    "vector",
	    "year",
	};
	assert_int_equal(sizeof(names) / sizeof(names[0]), QUERY_FN_COUNT_);
	bool seen[QUERY_FN_COUNT_] = {false};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const query_func *f = query_func_lookup(names[i], strlen(names[i]));
		assert_non_null(f);
		assert_string_equal(f->name, names[i]);
		assert_false(seen[f->id]);
		seen[f->id] = true;
		assert_ptr_equal(query_func_get(f->id), f);
	}
	assert_null(query_func_lookup("Rate", 4));
	assert_null(query_func_lookup("rat", 3));
	assert_null(query_func_lookup("rates", 5));
	assert_null(query_func_lookup("", 0));
	assert_null(query_func_lookup("sum", 3));
	assert_null(query_func_lookup("zzz", 3));
	/* name given by length, not NUL */
	assert_non_null(query_func_lookup("ratex", 4));
}

/* ================================================================ tree shape */

static void test_query_parse_selector_shape(void **state)
{
	(void)state;
	parsed p = parse("foo{b=\"1\", a=~\"x|y\"} offset 5m @ 1.5");
	assert_int_equal(p.rc, TS_OK);
	const query_expr *e = p.e;
	assert_int_equal(e->kind, QUERY_EXPR_VECTOR_SELECTOR);
	assert_string_equal(e->vs.name, "foo");
	assert_int_equal(e->vs.n_matchers, 3);
	/* source order, then the implied name matcher */
	assert_string_equal(e->vs.matchers[0].name, "b");
	assert_int_equal(e->vs.matchers[0].type, TS_MATCH_EQ);
	assert_string_equal(e->vs.matchers[1].name, "a");
	assert_int_equal(e->vs.matchers[1].type, TS_MATCH_RE);
	assert_true(ts_matcher_matches(&e->vs.matchers[1], "y"));
	assert_false(ts_matcher_matches(&e->vs.matchers[1], "xy"));
	assert_string_equal(e->vs.matchers[2].name, "__name__");
	assert_string_equal(e->vs.matchers[2].value, "foo");
	assert_int_equal(e->vs.mods.offset_ms, 300000);
	assert_int_equal(e->vs.mods.at, QUERY_AT_TIME);
	assert_int_equal(e->vs.mods.at_ms, 1500);
	assert_int_equal(e->pos.start, 0);
	assert_int_equal(e->pos.end, 36);
	done(&p);

	p = parse("{__name__=\"foo\"}");
	assert_int_equal(p.rc, TS_OK);
	assert_null(p.e->vs.name);
	assert_int_equal(p.e->vs.n_matchers, 1);
	done(&p);

	/* many matchers (array growth keeps every compiled matcher) */
	ts_buf b;
	ts_buf_init(&b, 1 << 16);
	ts_buf_puts(&b, "m{");
	for (int i = 0; i < 40; i++)
		ts_buf_printf(&b, "%sl%d=~\"v%d|w\"", i ? "," : "", i, i);
	ts_buf_putc(&b, '}');
	p = parse(b.data);
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->vs.n_matchers, 41);
	for (int i = 0; i < 40; i++)
		assert_true(ts_matcher_matches(&p.e->vs.matchers[i], "w"));
	done(&p);
	ts_buf_free(&b);
}

static void test_query_parse_matrix_and_subquery_shape(void **state)
{
	(void)state;
	parsed p = parse("rate(foo[5m] offset 1m @ end())");
	assert_int_equal(p.rc, TS_OK);
	const query_expr *m = p.e->call.args[0];
	assert_int_equal(m->kind, QUERY_EXPR_MATRIX_SELECTOR);
	assert_int_equal(m->matrix.range_ms, 300000);
	assert_int_equal(m->matrix.vs->kind, QUERY_EXPR_VECTOR_SELECTOR);
	assert_int_equal(m->matrix.vs->vs.mods.offset_ms, 60000);
	assert_int_equal(m->matrix.vs->vs.mods.at, QUERY_AT_END);
	assert_int_equal(m->pos.start, 5);
	assert_int_equal(m->pos.end, 30);
	done(&p);

	p = parse("max_over_time((a + b)[1h:] @ start() offset -5m)");
	assert_int_equal(p.rc, TS_OK);
	const query_expr *s = p.e->call.args[0];
	assert_int_equal(s->kind, QUERY_EXPR_SUBQUERY);
	assert_int_equal(s->subquery.range_ms, 3600000);
	assert_int_equal(s->subquery.step_ms, 0);
	assert_int_equal(s->subquery.mods.at, QUERY_AT_START);
	assert_int_equal(s->subquery.mods.offset_ms, -300000);
	assert_int_equal(s->subquery.expr->kind, QUERY_EXPR_PAREN);
	done(&p);
}

static void test_query_parse_binary_shape(void **state)
{
	(void)state;
	parsed p = parse("a / on(x, y) group_left(z) b");
	assert_int_equal(p.rc, TS_OK);
	const query_vector_matching *vm = p.e->binary.matching;
	assert_non_null(vm);
	assert_int_equal(vm->card, QUERY_CARD_MANY_TO_ONE);
	assert_true(vm->is_on);
	assert_int_equal(vm->n_labels, 2);
	assert_string_equal(vm->labels[0], "x");
	assert_string_equal(vm->labels[1], "y");
	assert_int_equal(vm->n_include, 1);
	assert_string_equal(vm->include[0], "z");
	done(&p);

	p = parse("a and b");
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->binary.matching->card, QUERY_CARD_MANY_TO_MANY);
	done(&p);

	p = parse("a - ignoring(x) group_right b");
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->binary.matching->card, QUERY_CARD_ONE_TO_MANY);
	assert_false(p.e->binary.matching->is_on);
	assert_int_equal(p.e->binary.matching->n_include, 0);
	done(&p);

	/* a scalar operand: no vector matching, as after Prometheus' checkAST */
	p = parse("a * 2");
	assert_int_equal(p.rc, TS_OK);
	assert_null(p.e->binary.matching);
	done(&p);
	p = parse("1 + 2");
	assert_int_equal(p.rc, TS_OK);
	assert_null(p.e->binary.matching);
	done(&p);
	p = parse("a > bool on() 1");
	assert_int_equal(p.rc, TS_OK);
	assert_null(p.e->binary.matching);
	assert_true(p.e->binary.is_bool);
	done(&p);
}

static void test_query_parse_aggregate_shape(void **state)
{
	(void)state;
	parsed p = parse("topk by (a, b) (5, x)");
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->kind, QUERY_EXPR_AGGREGATE);
	assert_int_equal(p.e->agg.op, QUERY_AGG_TOPK);
	assert_int_equal(p.e->agg.param->kind, QUERY_EXPR_NUMBER);
	assert_true(p.e->agg.param->number == 5);
	assert_int_equal(p.e->agg.expr->kind, QUERY_EXPR_VECTOR_SELECTOR);
	assert_int_equal(p.e->agg.n_grouping, 2);
	assert_false(p.e->agg.is_without);
	done(&p);

	p = parse("count_values without (x) (\"v\", y)");
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->agg.op, QUERY_AGG_COUNT_VALUES);
	assert_int_equal(p.e->agg.param->kind, QUERY_EXPR_STRING);
	assert_string_equal(p.e->agg.param->string.val, "v");
	assert_true(p.e->agg.is_without);
	done(&p);

	p = parse("sum(x)");
	assert_int_equal(p.rc, TS_OK);
	assert_null(p.e->agg.param);
	assert_int_equal(p.e->agg.n_grouping, 0);
	done(&p);
}

static void test_query_parse_literals_shape(void **state)
{
	(void)state;
	parsed p = parse("-Inf");
	assert_int_equal(p.rc, TS_OK);
	assert_true(isinf(p.e->number) && p.e->number < 0);
	assert_int_equal(p.e->pos.start, 0);
	assert_int_equal(p.e->pos.end, 4);
	done(&p);

	p = parse("\"a\\x00b\"");
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->kind, QUERY_EXPR_STRING);
	assert_int_equal(p.e->string.len, 3);
	assert_memory_equal(p.e->string.val, "a\0b", 3);
	char *s = format(p.e);
	assert_string_equal(s, "\"a\\x00b\"");
	free(s);
	done(&p);

	p = parse("nan");
	assert_int_equal(p.rc, TS_OK);
	assert_true(isnan(p.e->number));
	done(&p);

	/* Prometheus' printer quirk, kept: +Inf on the left of ^ prints as "+Inf", which
	 * re-parses as a unary plus over the power (unary binds looser than ^). */
	p = parse("Inf ^ 2");
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->kind, QUERY_EXPR_BINARY);
	s = format(p.e);
	assert_string_equal(s, "+Inf ^ 2");
	done(&p);
	p = parse(s);
	free(s);
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->kind, QUERY_EXPR_UNARY);
	done(&p);
}

/* ================================================================ printer helpers */

static void test_query_format_float_go(void **state)
{
	(void)state;
	static const struct {
		double v;
		const char *want;
	} cases[] = {
	    {0, "0"},
	    {1, "1"},
	    {-1, "-1"},
	    {0.5, "0.5"},
	    {0.1, "0.1"},
	    {0.1 + 0.2, "0.30000000000000004"},
	    {1.0 / 3, "0.3333333333333333"},
	    {100, "100"},
	    {123456, "123456"},
	    {999999, "999999"},
	    {1e6, "1e+06"},
	    {1234567, "1.234567e+06"},
	    {1e21, "1e+21"},
	    {1.5e300, "1.5e+300"},
	    {0.0001, "0.0001"},
	    {0.00012345, "0.00012345"},
	    {0.00001, "1e-05"},
	    {1.5e-7, "1.5e-07"},
	    {5e-324, "5e-324"},
	    {1.7976931348623157e308, "1.7976931348623157e+308"},
	    {-2.5e-10, "-2.5e-10"},
	    {123.456, "123.456"},
	    {12345.678, "12345.678"},
	    {9007199254740993.0, "9.007199254740992e+15"},
	    {INFINITY, "+Inf"},
	    {-INFINITY, "-Inf"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ts_buf b;
		ts_buf_init(&b, 256);
		assert_int_equal(query_format_float(&b, cases[i].v), TS_OK);
		if (strcmp(b.data, cases[i].want) != 0) {
			print_error("%.17g: want %s got %s\n", cases[i].v, cases[i].want, b.data);
			fail();
		}
		/* round trip */
		if (isfinite(cases[i].v))
			assert_true(strtod(b.data, NULL) == cases[i].v);
		ts_buf_free(&b);
	}
	ts_buf b;
	ts_buf_init(&b, 64);
	assert_int_equal(query_format_float(&b, NAN), TS_OK);
	assert_string_equal(b.data, "NaN");
	ts_buf_reset(&b);
	assert_int_equal(query_format_float(&b, -0.0), TS_OK);
	assert_string_equal(b.data, "-0");
	ts_buf_free(&b);
}

/* Every double printed reads back bit-exactly (a pseudo-random sweep). */
static void test_query_format_float_round_trip(void **state)
{
	(void)state;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double v;
		memcpy(&v, &x, sizeof(v));
		if (!isfinite(v))
			continue;
		ts_buf b;
		ts_buf_init(&b, 64);
		assert_int_equal(query_format_float(&b, v), TS_OK);
		double back = strtod(b.data, NULL);
		assert_memory_equal(&back, &v, sizeof(v));
		ts_buf_free(&b);
	}
}

static void test_query_format_duration_model(void **state)
{
	(void)state;
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
	    {0, "0s"},
	    {1, "1ms"},
	    {999, "999ms"},
	    {1000, "1s"},
	    {61000, "1m1s"},
	    {3600000, "1h"},
	    {5400000, "1h30m"},
	    {86400000, "1d"},
	    {604800000, "1w"},
	    {691200000, "8d"},
	    {7776000000, "90d"},
	    {31536000000, "1y"},
	    {31536000000 + 86400000, "366d"},
	    {2 * 31536000000, "2y"},
	    {86400000 + 1, "1d1ms"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ts_buf b;
		ts_buf_init(&b, 64);
		assert_int_equal(query_format_duration(&b, cases[i].ms), TS_OK);
		assert_string_equal(b.data, cases[i].want);
		ts_buf_free(&b);
	}
}

static void test_query_expr_format_buffer_limit(void **state)
{
	(void)state;
	query_arena *a = query_arena_new(0);
	query_expr *e = must_parse(a, "sum by (job) (rate(http_requests_total{code=\"500\"}[5m]))");
	ts_buf b;
	ts_buf_init(&b, 10);
	assert_int_equal(query_expr_format(e, &b), TS_ELIMIT);
	ts_buf_free(&b);
	/* the format appends */
	ts_buf_init(&b, 1024);
	ts_buf_puts(&b, ">> ");
	assert_int_equal(query_expr_format(e, &b), TS_OK);
	assert_string_equal(b.data,
			    ">> sum by (job) (rate(http_requests_total{code=\"500\"}[5m]))");
	ts_buf_free(&b);
	/* allocation failure inside the selector printer */
	for (int n = 0; n < 10; n++) {
		ts_buf_init(&b, 1024);
		ts_alloc_fail_after(n);
		int rc = query_expr_format(e, &b);
		ts_alloc_fail_after(-1);
		assert_true(rc == TS_OK || rc == TS_ENOMEM);
		ts_buf_free(&b);
	}
	query_arena_free(a);
}

/* ================================================================ names and types */

static void test_query_names(void **state)
{
	(void)state;
	assert_string_equal(query_value_type_name(QUERY_VALUE_SCALAR), "scalar");
	assert_string_equal(query_value_type_name(QUERY_VALUE_VECTOR), "instant vector");
	assert_string_equal(query_value_type_name(QUERY_VALUE_MATRIX), "range vector");
	assert_string_equal(query_value_type_name(QUERY_VALUE_STRING), "string");
	assert_string_equal(query_value_type_name(QUERY_VALUE_NONE), "none");
	static const char *const ops[] = {"+",  "-", "*", "/",  "%",  "^",   "atan2", "==",
					  "!=", ">", "<", ">=", "<=", "and", "or",    "unless"};
	for (int i = 0; i <= QUERY_OP_UNLESS; i++)
		assert_string_equal(query_binop_str((query_binop)i), ops[i]);
	for (int i = 0; i <= QUERY_OP_UNLESS; i++) {
		assert_int_equal(query_binop_is_comparison((query_binop)i),
				 i >= QUERY_OP_EQ && i <= QUERY_OP_LE);
		assert_int_equal(query_binop_is_set((query_binop)i), i >= QUERY_OP_AND);
	}
	static const char *const aggs[] = {"sum",  "avg",     "count",    "min",
					   "max",  "group",   "stddev",   "stdvar",
					   "topk", "bottomk", "quantile", "count_values"};
	for (int i = 0; i <= QUERY_AGG_COUNT_VALUES; i++) {
		assert_string_equal(query_aggop_str((query_aggop)i), aggs[i]);
		assert_int_equal(query_aggop_has_param((query_aggop)i), i >= QUERY_AGG_TOPK);
	}
	assert_string_equal(query_tok_name(QUERY_TOK_SUM), "sum");
	assert_true(query_tok_is_operator(QUERY_TOK_AT));
	assert_true(query_tok_is_aggregator(QUERY_TOK_COUNT_VALUES));
	assert_true(query_tok_is_keyword(QUERY_TOK_OFFSET));
	assert_false(query_tok_is_keyword(QUERY_TOK_START));
}

static void test_query_expr_type_kinds(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		query_value_type t;
	} cases[] = {
	    {"1", QUERY_VALUE_SCALAR},         {"\"s\"", QUERY_VALUE_STRING},
	    {"x", QUERY_VALUE_VECTOR},         {"x[5m]", QUERY_VALUE_MATRIX},
	    {"x[5m:]", QUERY_VALUE_MATRIX},    {"rate(x[5m])", QUERY_VALUE_VECTOR},
	    {"time()", QUERY_VALUE_SCALAR},    {"scalar(x)", QUERY_VALUE_SCALAR},
	    {"sum(x)", QUERY_VALUE_VECTOR},    {"1 + 2", QUERY_VALUE_SCALAR},
	    {"1 + x", QUERY_VALUE_VECTOR},     {"x + 1", QUERY_VALUE_VECTOR},
	    {"-(1)", QUERY_VALUE_SCALAR},      {"-x", QUERY_VALUE_VECTOR},
	    {"((\"s\"))", QUERY_VALUE_STRING}, {"(x[5m])", QUERY_VALUE_MATRIX},
	};
	query_arena *a = query_arena_new(0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(query_expr_type(must_parse(a, cases[i].in)), cases[i].t);
	query_arena_free(a);
}

/* ================================================================ children and walk */

static void test_query_expr_children_order(void **state)
{
	(void)state;
	query_arena *a = query_arena_new(0);
	const query_expr *kids[8];

	query_expr *e = must_parse(a, "topk(3, x)");
	assert_int_equal(query_expr_children(e, kids, 8), 2);
	assert_int_equal(kids[0]->kind, QUERY_EXPR_VECTOR_SELECTOR); /* expr first */
	assert_int_equal(kids[1]->kind, QUERY_EXPR_NUMBER);

	e = must_parse(a, "label_join(x, \"a\", \",\", \"b\", \"c\")");
	assert_int_equal(query_expr_children(e, kids, 2), 5); /* total, 2 written */
	assert_int_equal(kids[0]->kind, QUERY_EXPR_VECTOR_SELECTOR);
	assert_int_equal(kids[1]->kind, QUERY_EXPR_STRING);

	e = must_parse(a, "x[5m]");
	assert_int_equal(query_expr_children(e, kids, 8), 1);
	assert_ptr_equal(kids[0], e->matrix.vs);

	e = must_parse(a, "a - b");
	assert_int_equal(query_expr_children(e, kids, 8), 2);
	assert_ptr_equal(kids[0], e->binary.lhs);
	assert_ptr_equal(kids[1], e->binary.rhs);

	assert_int_equal(query_expr_children(must_parse(a, "1"), kids, 8), 0);
	assert_int_equal(query_expr_children(must_parse(a, "x"), kids, 8), 0);
	assert_int_equal(query_expr_children(must_parse(a, "(x)"), kids, 8), 1);
	assert_int_equal(query_expr_children(must_parse(a, "-x"), kids, 8), 1);
	assert_int_equal(query_expr_children(must_parse(a, "x[1m:]"), kids, 8), 1);
	assert_int_equal(query_expr_children(must_parse(a, "time()"), kids, 8), 0);
	query_arena_free(a);
}

typedef struct walk_ctx {
	char kinds[64];
	size_t n;
	query_expr_kind skip;
	query_expr_kind stop;
} walk_ctx;

static int record(const query_expr *e, void *arg)
{
	walk_ctx *w = arg;
	static const char letters[] = "NSVMQCABUP"; /* by query_expr_kind */
	if (w->n < sizeof(w->kinds) - 1)
		w->kinds[w->n++] = letters[e->kind];
	w->kinds[w->n] = '\0';
	if (e->kind == w->stop)
		return TS_EINVAL;
	return e->kind == w->skip ? QUERY_WALK_SKIP : QUERY_WALK_CONTINUE;
}

static void test_query_expr_walk_order(void **state)
{
	(void)state;
	query_arena *a = query_arena_new(0);
	query_expr *e = must_parse(a, "sum(rate(x[5m])) / on(a) (-y + 2) > bool scalar(z)");
	walk_ctx w = {.skip = (query_expr_kind)-1, .stop = (query_expr_kind)-1};
	assert_int_equal(query_expr_walk(e, record, &w), TS_OK);
	/* pre-order: > ( / (sum (rate (matrix (vs)))) (paren (+ (unary vs) num)) ) (scalar vs) */
	assert_string_equal(w.kinds, "BBACMVPBUVNCV");

	walk_ctx skip = {.skip = QUERY_EXPR_CALL, .stop = (query_expr_kind)-1};
	assert_int_equal(query_expr_walk(e, record, &skip), TS_OK);
	assert_string_equal(skip.kinds, "BBACPBUVNC");

	walk_ctx stop = {.skip = (query_expr_kind)-1, .stop = QUERY_EXPR_PAREN};
	assert_int_equal(query_expr_walk(e, record, &stop), TS_EINVAL);
	assert_string_equal(stop.kinds, "BBACMVP");
	query_arena_free(a);
}

/* ================================================================ checker */

static void test_query_check_normalizes_matching(void **state)
{
	(void)state;
	query_arena *a = query_arena_new(0);
	query_expr *e = must_parse(a, "(a or b) * on(x) c unless 1 > bool d");
	/* ((a or b) * on(x) c) unless (1 > bool d) */
	assert_int_equal(e->binary.op, QUERY_OP_UNLESS);
	assert_int_equal(e->binary.matching->card, QUERY_CARD_MANY_TO_MANY);
	const query_expr *mul = e->binary.lhs;
	assert_int_equal(mul->binary.op, QUERY_OP_MUL);
	assert_int_equal(mul->binary.matching->card, QUERY_CARD_ONE_TO_ONE);
	assert_true(mul->binary.matching->is_on);
	const query_expr * or = mul->binary.lhs->paren.expr;
	assert_int_equal(or->binary.matching->card, QUERY_CARD_MANY_TO_MANY);
	const query_expr *cmp = e->binary.rhs;
	assert_null(cmp->binary.matching);
	query_arena_free(a);
}

static void test_query_parse_errorf_positions(void **state)
{
	(void)state;
	ts_err err;
	const char *in = "ab\ncd\n\nef";
	assert_int_equal(query_parse_errorf(&err, in, strlen(in), 0, "x"), TS_EPARSE);
	assert_string_equal(err.msg, "1:1: parse error: x");
	query_parse_errorf(&err, in, strlen(in), 2, "x");
	assert_string_equal(err.msg, "1:3: parse error: x");
	query_parse_errorf(&err, in, strlen(in), 3, "x");
	assert_string_equal(err.msg, "2:1: parse error: x");
	query_parse_errorf(&err, in, strlen(in), 6, "x");
	assert_string_equal(err.msg, "3:1: parse error: x");
	query_parse_errorf(&err, in, strlen(in), 9, "%s %d", "y", 5);
	assert_string_equal(err.msg, "4:3: parse error: y 5");
	/* byte columns, as Prometheus */
	const char *u = "é + $";
	query_parse_errorf(&err, u, strlen(u), 5, "x");
	assert_string_equal(err.msg, "1:6: parse error: x");
	assert_int_equal(err.code, TS_EPARSE);
	assert_int_equal(query_parse_errorf(NULL, in, 1, 0, "x"), TS_EPARSE);
}

/* ================================================================ arena */

static void test_query_arena_alloc_basic(void **state)
{
	(void)state;
	query_arena *a = query_arena_new(0);
	assert_non_null(a);
	assert_int_equal(query_arena_used(a), 0);
	char *prev = NULL;
	for (int i = 0; i < 10000; i++) {
		size_t n = (size_t)(i % 97);
		unsigned char *p = query_arena_alloc(a, n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xAB, n);
		assert_true((char *)p != prev);
		prev = (char *)p;
	}
	/* oversized requests get their own chunk and do not disturb the current one */
	char *big = query_arena_alloc(a, 3 << 20);
	assert_non_null(big);
	big[(3 << 20) - 1] = 1;
	char *small = query_arena_alloc(a, 8);
	assert_non_null(small);
	assert_true(query_arena_used(a) > (size_t)(3 << 20));
	assert_false(query_arena_over_limit(a));
	query_arena_free(a);
	query_arena_free(NULL);
}

static void test_query_arena_strdup(void **state)
{
	(void)state;
	query_arena *a = query_arena_new(0);
	char *s = query_arena_strdup(a, "hello");
	assert_string_equal(s, "hello");
	char *t = query_arena_strndup(a, "a\0bcdef", 4);
	assert_memory_equal(t, "a\0bc", 4);
	assert_int_equal(t[4], '\0');
	char *e = query_arena_strndup(a, NULL, 0);
	assert_non_null(e);
	assert_string_equal(e, "");
	query_arena_free(a);
}

static int order[8];
static int n_order;

static void note(void *arg)
{
	order[n_order++] = (int)(intptr_t)arg;
}

static void test_query_arena_defer_order(void **state)
{
	(void)state;
	n_order = 0;
	query_arena *a = query_arena_new(0);
	for (intptr_t i = 1; i <= 3; i++)
		assert_int_equal(query_arena_defer(a, note, (void *)i), TS_OK);
	assert_int_equal(n_order, 0);
	query_arena_free(a);
	assert_int_equal(n_order, 3);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
}

static void test_query_arena_budget(void **state)
{
	(void)state;
	query_arena *a = query_arena_new(64 << 10);
	size_t got = 0;
	while (query_arena_alloc(a, 1000))
		got += 1000;
	assert_true(query_arena_over_limit(a));
	assert_true(got > 32 << 10 && got <= 64 << 10);
	assert_null(query_arena_alloc(a, 1 << 20));
	assert_null(query_arena_alloc(a, SIZE_MAX));
	assert_null(query_arena_strndup(a, "x", SIZE_MAX));
	while (query_arena_alloc(a, 16)) /* use up the last chunk */
		;
	assert_int_equal(query_arena_defer(a, note, NULL), TS_ELIMIT);
	query_arena_free(a);
}

static void test_query_arena_alloc_failure(void **state)
{
	(void)state;
	ts_alloc_fail_after(0);
	query_arena *none = query_arena_new(0);
	ts_alloc_fail_after(-1);
	assert_null(none);

	query_arena *a = query_arena_new(0);
	assert_non_null(a);
	ts_alloc_fail_after(0);
	assert_null(query_arena_alloc(a, 16));
	assert_int_equal(query_arena_defer(a, note, NULL), TS_ENOMEM);
	ts_alloc_fail_after(-1);
	assert_false(query_arena_over_limit(a));
	assert_non_null(query_arena_alloc(a, 16));
	query_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_parse_functions),
	    cmocka_unit_test(test_query_func_lookup_table),
	    cmocka_unit_test(test_query_parse_selector_shape),
	    cmocka_unit_test(test_query_parse_matrix_and_subquery_shape),
	    cmocka_unit_test(test_query_parse_binary_shape),
	    cmocka_unit_test(test_query_parse_aggregate_shape),
	    cmocka_unit_test(test_query_parse_literals_shape),
	    cmocka_unit_test(test_query_format_float_go),
	    cmocka_unit_test(test_query_format_float_round_trip),
	    cmocka_unit_test(test_query_format_duration_model),
	    cmocka_unit_test(test_query_expr_format_buffer_limit),
	    cmocka_unit_test(test_query_names),
	    cmocka_unit_test(test_query_expr_type_kinds),
	    cmocka_unit_test(test_query_expr_children_order),
	    cmocka_unit_test(test_query_expr_walk_order),
	    cmocka_unit_test(test_query_check_normalizes_matching),
	    cmocka_unit_test(test_query_parse_errorf_positions),
	    cmocka_unit_test(test_query_arena_alloc_basic),
	    cmocka_unit_test(test_query_arena_strdup),
	    cmocka_unit_test(test_query_arena_defer_order),
	    cmocka_unit_test(test_query_arena_budget),
	    cmocka_unit_test(test_query_arena_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
