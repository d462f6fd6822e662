/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_parser.c: tests for query/parser.c (query_parse) against Prometheus 2.42.
 *
 * Tables: valid expressions with the canonical text Prometheus' String() prints and the
 * result type (and a print/re-parse fixed-point check); precedence trees as S-expressions;
 * every error class with its exact message and line:column; cases taken from
 * Prometheus' own parse_test.go; durations; limits; allocation failures; and a replay of
 * the fuzz seeds with a print/re-parse round trip. Function signatures and the tree shape
 * the evaluator relies on are tested in test_ast.c.
 */
#include "query/ast.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ================================================================ helpers */

typedef struct parsed {
	query_arena *a;
	query_expr *e;
	int rc;
	ts_err err;
} parsed;

static parsed parse_n(const char *in, size_t len)
{
	parsed p;
	memset(&p, 0, sizeof(p));
	p.a = query_arena_new(0);
	assert_non_null(p.a);
	ts_err_clear(&p.err);
	p.rc = query_parse(p.a, in, len, &p.e, &p.err);
	return p;
}

static parsed parse(const char *in)
{
	return parse_n(in, strlen(in));
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
	char *s = ts_buf_take(&b, NULL);
	assert_non_null(s);
	return s;
}

/* S-expression of the tree: operators, unary, parens, calls, aggregations. */
static void sexpr(const query_expr *e, ts_buf *b)
{
	switch (e->kind) {
	case QUERY_EXPR_BINARY:
		ts_buf_printf(b, "(%s%s ", query_binop_str(e->binary.op),
			      e->binary.is_bool ? ":bool" : "");
		sexpr(e->binary.lhs, b);
		ts_buf_putc(b, ' ');
		sexpr(e->binary.rhs, b);
		ts_buf_putc(b, ')');
		return;
	case QUERY_EXPR_UNARY:
		ts_buf_puts(b, e->unary.is_neg ? "(neg " : "(pos ");
		sexpr(e->unary.expr, b);
		ts_buf_putc(b, ')');
		return;
	case QUERY_EXPR_PAREN:
		ts_buf_puts(b, "(paren ");
		sexpr(e->paren.expr, b);
		ts_buf_putc(b, ')');
		return;
	case QUERY_EXPR_CALL:
		ts_buf_printf(b, "(%s", e->call.func->name);
		for (size_t i = 0; i < e->call.n_args; i++) {
			ts_buf_putc(b, ' ');
			sexpr(e->call.args[i], b);
		}
		ts_buf_putc(b, ')');
		return;
	case QUERY_EXPR_AGGREGATE:
		ts_buf_printf(b, "(%s ", query_aggop_str(e->agg.op));
		if (e->agg.param) {
			sexpr(e->agg.param, b);
			ts_buf_putc(b, ' ');
		}
		sexpr(e->agg.expr, b);
		ts_buf_putc(b, ')');
		return;
	case QUERY_EXPR_SUBQUERY:
		ts_buf_puts(b, "(subquery ");
		sexpr(e->subquery.expr, b);
		ts_buf_putc(b, ')');
		return;
	default: {
		char *s = format(e);
		ts_buf_puts(b, s);
		free(s);
	}
	}
}

/* ================================================================ valid expressions */

typedef struct valid_case {
	const char *in;
	const char *out; /* canonical text; NULL = same as in */
	query_value_type type;
} valid_case;

#define SC QUERY_VALUE_SCALAR
#define VE QUERY_VALUE_VECTOR
#define MA QUERY_VALUE_MATRIX
#define ST QUERY_VALUE_STRING

static const valid_case valid_cases[] = {
    /* numbers */
    {"1", NULL, SC},
    {"+Inf", NULL, SC},
    {"-Inf", NULL, SC},
    {"inf", "+Inf", SC},
    {"NaN", NULL, SC},
    {"nan", "NaN", SC},
    {"-nan", "NaN", SC},
    {".5", "0.5", SC},
    {"5.", "5", SC},
    {"123.4567", NULL, SC},
    {"5e-3", "0.005", SC},
    {"5e3", "5000", SC},
    {"0xc", "12", SC},
    {"0X1F", "31", SC},
    {"0755", "493", SC},
    {"08", "8", SC},
    {"0755.5", "755.5", SC},
    {"+5.5e-3", "0.0055", SC},
    {"-0755", "-493", SC},
    {"-0", "-0", SC},
    {"1e6", "1e+06", SC},
    {"123456", NULL, SC},
    {"1234567", "1.234567e+06", SC},
    {"0.0001", NULL, SC},
    {"0.00001", "1e-05", SC},
    {"1e-400", "0", SC},
    {"99999999999999999999", "1e+20", SC},
    {"9007199254740993", "9.007199254740992e+15", SC},
    {"0x7fffffffffffffff", "9.223372036854776e+18", SC},
    {"0.1", NULL, SC},
    {"1.7976931348623157e308", "1.7976931348623157e+308", SC},
    {"5e-324", NULL, SC},
    /* scalar arithmetic */
    {"1 + 1", NULL, SC},
    {"1 - 1", NULL, SC},
    {"1 * 1", NULL, SC},
    {"1 % 1", NULL, SC},
    {"1 / 1", NULL, SC},
    {"1 ^ 2", NULL, SC},
    {"1 atan2 2", NULL, SC},
    {"1 == bool 1", NULL, SC},
    {"1 != bool 1", NULL, SC},
    {"1 > bool 1", NULL, SC},
    {"1 >= bool 1", NULL, SC},
    {"1 < bool 1", NULL, SC},
    {"1 <= bool 1", NULL, SC},
    {"-1^2", "-1 ^ 2", SC},
    {"-1*2", "-1 * 2", SC},
    {"-1+2", "-1 + 2", SC},
    {"-1^-2", "-1 ^ -2", SC},
    {"+1 + -2 * 1", "1 + -2 * 1", SC},
    {"1 + 2/(3*1)", "1 + 2 / (3 * 1)", SC},
    {"1 < bool 2 - 1 * 2", NULL, SC},
    {"- - 1", "1", SC},
    {"+-1", "-1", SC},
    {"-(1)", NULL, SC},
    {"2 ^ -1 * 3", NULL, SC},
    {"time()", NULL, SC},
    {"pi() * 2", NULL, SC},
    {"scalar(foo)", NULL, SC},
    /* strings */
    {"\"abc\"", NULL, ST},
    {"'abc'", "\"abc\"", ST},
    {"`abc`", "\"abc\"", ST},
    {"`a\\b`", "\"a\\\\b\"", ST},
    {"'a\"b'", "\"a\\\"b\"", ST},
    {"\"\\x41\\101\\u00e9\\U0001F600\"", "\"AAé😀\"", ST},
    {"\"\\a\\b\\f\\n\\r\\t\\v\\\\\"", NULL, ST},
    {"\"\\xff\"", NULL, ST},
    {"\"\\x00\"", NULL, ST},
    {"\"\xc2\xa0\"", "\"\\u00a0\"", ST},
    /* vector selectors */
    {"foo", NULL, VE},
    {"min", NULL, VE},
    {"sum", NULL, VE},
    {"by", NULL, VE},
    {"without", NULL, VE},
    {"offset", NULL, VE},
    {"and", NULL, VE},
    {"start", NULL, VE},
    {"end", NULL, VE},
    {":", NULL, VE},
    {"a:b:c", NULL, VE},
    {"foo * sum", NULL, VE},
    {"foo{}", "foo", VE},
    {"foo{a=\"b\"}", NULL, VE},
    {"foo{a=\"b\",}", "foo{a=\"b\"}", VE},
    {"foo{ a = \"b\" , c != 'd' }", "foo{a=\"b\",c!=\"d\"}", VE},
    {"foo{c=\"d\", a=\"b\"}", "foo{a=\"b\",c=\"d\"}", VE},
    {"foo{a!~\"b|c\", b=~\"x.*\", c!=\"d\", a=\"z\"}",
     "foo{a!~\"b|c\",a=\"z\",b=~\"x.*\",c!=\"d\"}", VE},
    {"{__name__=\"foo\"}", NULL, VE},
    {"{__name__=~\"foo.*\"}", NULL, VE},
    {"{__name__=\"\", a=\"b\"}", "{a=\"b\"}", VE},
    {"{a=\"b\"}", NULL, VE},
    {"{a=~\".+\"}", NULL, VE},
    {"{a!=\"\"}", NULL, VE},
    {"{on=\"x\", by=\"y\", sum=\"z\", NaN=\"n\"}", "{NaN=\"n\",by=\"y\",on=\"x\",sum=\"z\"}", VE},
    {"foo{a=\"\\n\\t\\\"\"}", NULL, VE},
    {"foo{a=`x\\d+`}", "foo{a=\"x\\\\d+\"}", VE},
    {"foo{a=~\"(?i)abc\"}", NULL, VE},
    {"foo{a=~\"(?P<n>x)\"}", NULL, VE},
    {"foo{a=~\"\\\\d\\\\.\\\\w+\"}", NULL, VE},
    {"foo{a=~\"[[:alpha:]]+\"}", NULL, VE},
    {"offset{step=\"1s\"}[5m]", NULL, MA},
    {"foo # comment", "foo", VE},
    {"# c1\nfoo{a=\"b\" # c2\n} # c3", "foo{a=\"b\"}", VE},
    /* binary operators and matching */
    {"foo * bar", NULL, VE},
    {"foo == 1", NULL, VE},
    {"foo == bool 1", NULL, VE},
    {"2.5 / bar", NULL, VE},
    {"foo and bar", NULL, VE},
    {"foo or bar", NULL, VE},
    {"foo unless bar", NULL, VE},
    {"foo + bar or bla and blub", NULL, VE},
    {"foo and bar unless baz or qux", NULL, VE},
    {"bar + on(foo) bla / on(baz, buz) group_right(test) blub",
     "bar + on (foo) bla / on (baz, buz) group_right (test) blub", VE},
    {"foo * on(test,blub) bar", "foo * on (test, blub) bar", VE},
    {"foo * on(test,blub) group_left bar", "foo * on (test, blub) group_left () bar", VE},
    {"foo and on(test,blub) bar", "foo and on (test, blub) bar", VE},
    {"foo and on() bar", "foo and on () bar", VE},
    {"foo and ignoring(test,blub) bar", "foo and ignoring (test, blub) bar", VE},
    {"foo and ignoring() bar", "foo and bar", VE},
    {"foo unless on(bar) baz", "foo unless on (bar) baz", VE},
    {"foo / on(test,blub) group_left(bar) bar", "foo / on (test, blub) group_left (bar) bar", VE},
    {"foo / ignoring(test,blub) group_left(blub) bar",
     "foo / ignoring (test, blub) group_left (blub) bar", VE},
    {"foo / ignoring(test,blub) group_left(bar) bar",
     "foo / ignoring (test, blub) group_left (bar) bar", VE},
    {"foo - on(test,blub) group_right(bar,foo) bar",
     "foo - on (test, blub) group_right (bar, foo) bar", VE},
    {"foo - ignoring(test,blub) group_right(bar,foo) bar",
     "foo - ignoring (test, blub) group_right (bar, foo) bar", VE},
    {"a - on(b) group_left() (c)", "a - on (b) group_left () (c)", VE},
    {"a - ignoring() group_left c", "a - c", VE},
    {"a * on(b) group_left(c,) d", "a * on (b) group_left (c) d", VE},
    {"a > bool b == bool c", NULL, VE},
    {"a atan2 b", NULL, VE},
    {"foo + 1 * bar", NULL, VE},
    {"-foo", NULL, VE},
    {"+foo", NULL, VE},
    {" +foo", "+foo", VE},
    {"--foo", NULL, VE},
    {"-(foo)", NULL, VE},
    {"-foo ^ 2", NULL, VE},
    {"a * -b * c", NULL, VE},
    {"a ^ b ^ c", NULL, VE},
    {"(a ^ b) ^ c", NULL, VE},
    {"1 + foo", NULL, VE},
    {"foo < bool 1 + 2", NULL, VE},
    {"and and and", NULL, VE},
    {"by + without", NULL, VE},
    /* range selectors, offset, @ */
    {"foo[5m]", NULL, MA},
    {"foo[5m30s]", NULL, MA},
    {"foo[1h30m]", NULL, MA},
    {"foo[5m] offset 5m", NULL, MA},
    {"foo[5m] offset -5m", NULL, MA},
    {"test{a=\"b\"}[5y] OFFSET 3d", "test{a=\"b\"}[5y] offset 3d", MA},
    {"foo offset 5m", NULL, VE},
    {"foo offset -7m", NULL, VE},
    {"foo OFFSET 1h30m", "foo offset 1h30m", VE},
    {"foo OFFSET 1m30ms", "foo offset 1m30ms", VE},
    {"foo @ 10", "foo @ 10.000", VE},
    {"foo @ -100", "foo @ -100.000", VE},
    {"foo @ +5", "foo @ 5.000", VE},
    {"foo @ 1.2345", "foo @ 1.235", VE},
    {"foo @ 3.0004", "foo @ 3.000", VE},
    {"foo @ 0x10", "foo @ 16.000", VE},
    {"foo @ 1e3", "foo @ 1000.000", VE},
    {"foo @ start()", NULL, VE},
    {"foo @ end()", NULL, VE},
    {"foo @ 10 offset 5m", "foo @ 10.000 offset 5m", VE},
    {"foo offset 5m @ 10", "foo @ 10.000 offset 5m", VE},
    {"foo offset 5m @ start()", "foo @ start() offset 5m", VE},
    {"foo[5m] @ 10 offset 1m", "foo[5m] @ 10.000 offset 1m", MA},
    {"foo[5m] offset 1m @ end()", "foo[5m] @ end() offset 1m", MA},
    {"foo @ start() [5m]", "foo[5m] @ start()", MA},
    {"foo{a=\"b\"} @ 1e17", "foo{a=\"b\"} @ -9223372036854776.000", VE},
    /* subqueries */
    {"foo[5m:1m]", NULL, MA},
    {"foo[5m:]", NULL, MA},
    {"foo[5m : 1m]", "foo[5m:1m]", MA},
    {"foo[ 5m:]", "foo[5m:]", MA},
    {"foo[5m x]", "foo[5m:]", MA},
    {"foo[1h:5m] offset 1m", NULL, MA},
    {"foo[1h:5m] offset -1m", NULL, MA},
    {"foo[5m:1m] @ 100", "foo[5m:1m] @ 100.000", MA},
    {"foo[5m:1m] offset 10m @ start()", "foo[5m:1m] @ start() offset 10m", MA},
    {"foo offset 5m [10m:]", "foo offset 5m[10m:]", MA},
    {"foo @ 5 [10m:]", "foo @ 5.000[10m:]", MA},
    {"(foo + bar)[5m:1m]", NULL, MA},
    {"rate(foo[5m])[10m:1m]", NULL, MA},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:5s])", NULL, VE},
    {"max_over_time(rate(foo[2s])[5m:] offset 4m)", NULL, VE},
    {"sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]",
     "sum without (and, by, avg, count, alert, annotations) (some_metric)[30m:10s]", MA},
    /* aggregations */
    {"sum by (foo)(some_metric)", "sum by (foo) (some_metric)", VE},
    {"avg by (foo)(some_metric)", "avg by (foo) (some_metric)", VE},
    {"max by (foo)(some_metric)", "max by (foo) (some_metric)", VE},
    {"sum without (foo) (some_metric)", NULL, VE},
    {"sum (some_metric) without (foo)", "sum without (foo) (some_metric)", VE},
    {"stddev(some_metric)", NULL, VE},
    {"stdvar by (foo)(some_metric)", "stdvar by (foo) (some_metric)", VE},
    {"sum by ()(some_metric)", "sum(some_metric)", VE},
    {"sum by (foo,bar,)(some_metric)", "sum by (foo, bar) (some_metric)", VE},
    {"sum by (foo,)(some_metric)", "sum by (foo) (some_metric)", VE},
    {"sum without ()(some_metric)", "sum without () (some_metric)", VE},
    {"topk(5, some_metric)", NULL, VE},
    {"count_values(\"value\", some_metric)", NULL, VE},
    {"sum without(and, by, avg, count, alert, annotations)(some_metric)",
     "sum without (and, by, avg, count, alert, annotations) (some_metric)", VE},
    {"sum by (on, bool, offset, start, end, atan2, group_left, ignoring)(x)",
     "sum by (on, bool, offset, start, end, atan2, group_left, ignoring) (x)", VE},
    {"sum by (SUM)(x)", "sum by (SUM) (x)", VE},
    {"SUM(x) BY (a)", "sum by (a) (x)", VE},
    {"group(x)", NULL, VE},
    {"quantile(0.9, x)", NULL, VE},
    {"bottomk by (a) (3, x)", NULL, VE},
    {"count(x) without (a)", "count without (a) (x)", VE},
    {"min(x) by (a) + 1", "min by (a) (x) + 1", VE},
    {"sum(sum(x))", NULL, VE},
    {"sum by (job) (rate(x[5m]))", NULL, VE},
    {"sum(rate(http_requests_total[5m])) by (job)", "sum by (job) (rate(http_requests_total[5m]))",
     VE},
    {"topk(scalar(foo), bar)", NULL, VE},
    /* functions */
    {"time()", NULL, SC},
    {"floor(some_metric{foo!=\"bar\"})", NULL, VE},
    {"rate(some_metric[5m])", NULL, VE},
    {"round(some_metric)", NULL, VE},
    {"round(some_metric, 5)", NULL, VE},
    {"hour()", NULL, VE},
    {"hour(foo)", NULL, VE},
    {"label_join(foo, \"a\", \",\")", NULL, VE},
    {"label_join(foo, \"a\", \",\", \"b\", \"c\", \"d\")", NULL, VE},
    {"label_replace(up, \"x\", \"$1\", \"job\", \"(.*)\")", NULL, VE},
    {"histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))", NULL, VE},
    {"vector(1)", NULL, VE},
    {"absent(nonexistent{job=\"myjob\"})", NULL, VE},
    {"holt_winters(x[5m], 0.5, 0.5)", NULL, VE},
    {"quantile_over_time(0.5, x[5m])", NULL, VE},
    {"clamp(x, 0, 1)", NULL, VE},
    {"predict_linear(x[1h], 3600)", NULL, VE},
    {"timestamp(x)", NULL, VE},
    {"sort_desc(sum by (a) (x))", NULL, VE},
    {"histogram_count(x)", NULL, VE},
    {"histogram_fraction(0, 1, x)", NULL, VE},
    {"exp(x) + ln(x) - log2(x) * log10(x)", NULL, VE},
    /* layout */
    {"foo +\n  bar", "foo + bar", VE},
    {"\tsum(\n\tx\n)\n", "sum(x)", VE},
    {"((foo))", NULL, VE},
    {"(((1)))", NULL, SC},
};

static void test_query_parse_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const valid_case *c = &valid_cases[i];
		parsed p = parse(c->in);
		if (p.rc != TS_OK) {
			print_error("input %s: unexpected error %s\n", c->in, p.err.msg);
			fail();
		}
		char *s = format(p.e);
		const char *want = c->out ? c->out : c->in;
		if (strcmp(s, want) != 0) {
			print_error("input %s:\n want %s\n got  %s\n", c->in, want, s);
			fail();
		}
		if (query_expr_type(p.e) != c->type) {
			print_error("input %s: want type %s got %s\n", c->in,
				    query_value_type_name(c->type),
				    query_value_type_name(query_expr_type(p.e)));
			fail();
		}
		/* Printing is a fixed point: the canonical text parses back to itself. */
		parsed q = parse(s);
		if (q.rc != TS_OK) {
			print_error("canonical %s does not parse: %s\n", s, q.err.msg);
			fail();
		}
		char *s2 = format(q.e);
		assert_string_equal(s2, s);
		free(s2);
		done(&q);
		free(s);
		done(&p);
	}
}

/* ================================================================ precedence trees */

static void test_query_parse_precedence(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *tree;
	} cases[] = {
	    {"1 + 2 * 3", "(+ 1 (* 2 3))"},
	    {"1 * 2 + 3", "(+ (* 1 2) 3)"},
	    {"1 - 2 - 3", "(- (- 1 2) 3)"},
	    {"1 / 2 / 3", "(/ (/ 1 2) 3)"},
	    {"2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"},
	    {"-2 ^ 2", "(neg (^ 2 2))"},
	    {"-2 * 2", "(* -2 2)"},
	    {"-a ^ b", "(neg (^ a b))"},
	    {"-a * b", "(* (neg a) b)"},
	    {"-a + b", "(+ (neg a) b)"},
	    {"a * -b", "(* a (neg b))"},
	    {"a ^ -b", "(^ a (neg b))"},
	    {"a ^ -b ^ c", "(^ a (neg (^ b c)))"},
	    {"a ^ -b * c", "(* (^ a (neg b)) c)"},
	    {"a * -b * c", "(* (* a (neg b)) c)"},
	    {"a + -b * c", "(+ a (* (neg b) c))"},
	    {"- - a", "(neg (neg a))"},
	    {"-a offset 5m", "(neg a offset 5m)"},
	    {"-a @ 5 offset 1m", "(neg a @ 5.000 offset 1m)"},
	    {"a % b atan2 c * d", "(* (atan2 (% a b) c) d)"},
	    {"a + b % c", "(+ a (% b c))"},
	    {"a == b + c", "(== a (+ b c))"},
	    {"a + b == c", "(== (+ a b) c)"},
	    {"a < b > c", "(> (< a b) c)"},
	    {"a == bool b != bool c", "(!=:bool (==:bool a b) c)"},
	    {"a and b == c", "(and a (== b c))"},
	    {"a or b and c", "(or a (and b c))"},
	    {"a and b or c", "(or (and a b) c)"},
	    {"a unless b and c", "(and (unless a b) c)"},
	    {"a or b unless c", "(or a (unless b c))"},
	    {"a or b or c", "(or (or a b) c)"},
	    {"foo + bar or bla and blub", "(or (+ foo bar) (and bla blub))"},
	    {"foo and bar unless baz or qux", "(or (unless (and foo bar) baz) qux)"},
	    {"bar + on(foo) bla / on(baz, buz) group_right(test) blub", "(+ bar (/ bla blub))"},
	    {"(a + b) * c", "(* (paren (+ a b)) c)"},
	    {"a + b offset 5m", "(+ a b offset 5m)"},
	    {"a + max_over_time(b[5m:])", "(+ a (max_over_time (subquery b)))"},
	    {"a + b @ 5", "(+ a b @ 5.000)"},
	    {"sum(a) + b", "(+ (sum a) b)"},
	    {"sum by (x) (a) / on(x) group_left b", "(/ (sum a) b)"},
	    {"rate(a[5m]) * 2 ^ 2", "(* (rate a[5m]) (^ 2 2))"},
	    {"1 - -1", "(- 1 -1)"},
	    {"-1 - 1", "(- -1 1)"},
	    {"2 ^ -1 * 3", "(* (^ 2 -1) 3)"},
	    {"+1 + -2 * 1", "(+ 1 (* -2 1))"},
	    {"-(1)", "(neg (paren 1))"},
	    {"topk(1 + 1, a)", "(topk (+ 1 1) a)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parsed p = parse(cases[i].in);
		if (p.rc != TS_OK) {
			print_error("input %s: %s\n", cases[i].in, p.err.msg);
			fail();
		}
		ts_buf b;
		ts_buf_init(&b, 1 << 16);
		sexpr(p.e, &b);
		if (strcmp(b.data, cases[i].tree) != 0) {
			print_error("input %s:\n want %s\n got  %s\n", cases[i].in, cases[i].tree,
				    b.data);
			fail();
		}
		ts_buf_free(&b);
		done(&p);
	}
}

/* ================================================================ errors */

typedef struct error_case {
	const char *in;
	const char *msg; /* full message, "L:C: parse error: ..." */
} error_case;

static void run_errors(const error_case *cases, size_t n, int code)
{
	for (size_t i = 0; i < n; i++) {
		parsed p = parse(cases[i].in);
		if (p.rc != code || strcmp(p.err.msg, cases[i].msg) != 0) {
			print_error("input %s:\n want %s %s\n got  %s %s\n", cases[i].in,
				    ts_err_name(code), cases[i].msg, ts_err_name(p.rc), p.err.msg);
			fail();
		}
		done(&p);
	}
}

#define RUN_ERRORS(cases) run_errors(cases, sizeof(cases) / sizeof(cases[0]), TS_EPARSE)

static void test_query_parse_lexer_errors(void **state)
{
	(void)state;
	static const error_case cases[] = {
	    {".", "1:1: parse error: unexpected character: '.'"},
	    {"2.5.", "1:4: parse error: unexpected character: '.'"},
	    {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
	    {"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
	    {"1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
	    {"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
	    {"((1)", "1:5: parse error: unclosed left parenthesis"},
	    {"(", "1:2: parse error: unclosed left parenthesis"},
	    {"sum(foo", "1:8: parse error: unclosed left parenthesis"},
	    {"foo[5m", "1:7: parse error: unclosed left bracket"},
	    {"foo]", "1:4: parse error: unexpected right bracket ']'"},
	    {"foo[5m[", "1:7: parse error: unexpected left bracket '['"},
	    {"foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"},
	    {"foo{a:b=\"c\"}", "1:6: parse error: unexpected character inside braces: ':'"},
	    {"foo{{", "1:5: parse error: unexpected left brace '{'"},
	    {"foo{a!x}", "1:6: parse error: unexpected character after '!' inside braces: 'x'"},
	    {"foo $ bar", "1:5: parse error: unexpected character: '$'"},
	    {"foo}", "1:4: parse error: unexpected character: '}'"},
	    {"\"abc", "1:1: parse error: unterminated quoted string"},
	    {"`abc", "1:1: parse error: unterminated raw string"},
	    {"\"a\\.b\"", "1:1: parse error: unknown escape sequence U+002E '.'"},
	    {"foo{a=\"a\\.b\"}", "1:7: parse error: unknown escape sequence U+002E '.'"},
	    {"\"\\xZZ\"", "1:1: parse error: illegal character U+005A 'Z' in escape sequence"},
	    {"\"\\400\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
	    {"\"\xff\"", "1:1: parse error: invalid UTF-8 rune"},
	    {"foo[]", "1:5: parse error: missing unit character in duration"},
	    {"foo[5]", "1:5: parse error: missing unit character in duration"},
	    {"foo[ 5]", "1:6: parse error: missing unit character in duration"},
	    {"foo[5mx]", "1:5: parse error: bad duration syntax: \"5mx\""},
	    {"foo[5m:x]", "1:8: parse error: unexpected colon 'x'"},
	    {"foo[5m::]", "1:8: parse error: unexpected colon ':'"},
	    {"foo offset 5M", "1:12: parse error: bad number or duration syntax: \"5\""},
	    {"1mm", "1:1: parse error: bad number or duration syntax: \"1mm\""},
	    {"x + é", "1:5: parse error: unexpected character: 'é'"},
	    {"foo\n  + $", "2:5: parse error: unexpected character: '$'"},
	    /* a lexer error wins over an aggregation error found after it */
	    {"sum() )", "1:8: parse error: unexpected right parenthesis ')'"},
	};
	RUN_ERRORS(cases);
}

static void test_query_parse_syntax_errors(void **state)
{
	(void)state;
	static const error_case cases[] = {
	    {"", "1:1: parse error: no expression found in input"},
	    {"   ", "1:1: parse error: no expression found in input"},
	    {"# just a comment\n\n", "1:1: parse error: no expression found in input"},
	    {"1+", "1:3: parse error: unexpected end of input"},
	    {"1 /", "1:4: parse error: unexpected end of input"},
	    {"*1", "1:1: parse error: unexpected <op:*>"},
	    {"*test", "1:1: parse error: unexpected <op:*>"},
	    {"@@", "1:1: parse error: unexpected <op:@>"},
	    {"100..4", "1:5: parse error: unexpected number \".4\""},
	    {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
	    {"foo 1", "1:5: parse error: unexpected number \"1\""},
	    {"foo \"x\"", "1:5: parse error: unexpected string \"\\\"x\\\"\""},
	    {"foo 5m", "1:5: parse error: unexpected duration \"5m\""},
	    {"foo bool", "1:5: parse error: unexpected <bool>"},
	    {"foo by", "1:5: parse error: unexpected <by>"},
	    {"foo sum", "1:5: parse error: unexpected <aggr:sum>"},
	    {"foo start", "1:5: parse error: unexpected \"start\""},
	    {"foo,", "1:4: parse error: unexpected \",\""},
	    {"()", "1:2: parse error: unexpected \")\""},
	    {"(foo bar)", "1:6: parse error: unexpected identifier \"bar\""},
	    {"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
	    {"a == on(b) bool c", "1:12: parse error: unexpected <bool>"},
	    {"a * group_left b", "1:5: parse error: unexpected <group_left>"},
	    {"a * on(b) group_left(c)", "1:24: parse error: unexpected end of input"},
	    {"on", "1:1: parse error: unexpected <on>"},
	    {"atan2", "1:1: parse error: unexpected <op:atan2>"},
	    {"a:b(x)", "1:4: parse error: unexpected \"(\""},
	    {"sum foo", "1:5: parse error: unexpected identifier \"foo\""},
	    {"foo{a=\"b\"} offset 1h extra", "1:22: parse error: unexpected identifier \"extra\""},
	    {"foo\n bar", "2:2: parse error: unexpected identifier \"bar\""},
	    {"abcdefghijkl 12345678901234",
	     "1:14: parse error: unexpected number \"1234567890\"..."},
	    /* aggregation context */
	    {"sum(foo bar)", "1:9: parse error: unexpected identifier \"bar\" in aggregation"},
	    {"sum(rate(foo bar))",
	     "1:14: parse error: unexpected identifier \"bar\" in aggregation"},
	    {"sum((foo bar))", "1:10: parse error: unexpected identifier \"bar\" in aggregation"},
	    {"sum by (a) foo", "1:12: parse error: unexpected identifier \"foo\" in aggregation"},
	    {"sum(*)", "1:5: parse error: unexpected <op:*> in aggregation"},
	    {"topk(,x)", "1:6: parse error: unexpected \",\" in aggregation"},
	    {"sum(x) by (a) b", "1:15: parse error: unexpected identifier \"b\""},
	    {"sum by (a) (x) by (b)", "1:16: parse error: unexpected <by>"},
	    /* grouping */
	    {"sum by foo", "1:8: parse error: unexpected identifier \"foo\" in grouping opts, "
			   "expected \"(\""},
	    {"sum by",
	     "1:7: parse error: unexpected end of input in grouping opts, expected \"(\""},
	    {"sum(x) by 1", "1:11: parse error: unexpected number \"1\" in grouping opts, "
			    "expected \"(\""},
	    {"sum by (a b)(x)", "1:11: parse error: unexpected identifier \"b\" in grouping "
				"opts, expected \",\" or \")\""},
	    {"sum by (1)(x)", "1:9: parse error: unexpected number \"1\" in grouping opts, "
			      "expected label"},
	    {"sum by (a,,)(x)", "1:11: parse error: unexpected \",\" in grouping opts, expected "
				"label"},
	    {"sum by (a:b)(x)", "1:9: parse error: unexpected metric identifier \"a:b\" in "
				"grouping opts, expected label"},
	    {"sum by (inf)(x)", "1:9: parse error: unexpected number \"inf\" in grouping opts, "
				"expected label"},
	    {"sum without(==)(x)", "1:13: parse error: unexpected <op:==> in grouping opts, "
				   "expected label"},
	    {"sum by (\"foo\")(x)", "1:9: parse error: unexpected string \"\\\"foo\\\"\" in "
				    "grouping opts, expected label"},
	    {"a + on b", "1:8: parse error: unexpected identifier \"b\" in grouping opts, "
			 "expected \"(\""},
	    {"a + ignoring(b c", "1:16: parse error: unexpected identifier \"c\" in grouping "
				 "opts, expected \",\" or \")\""},
	    /* function calls */
	    {"rate(foo bar)", "1:10: parse error: unexpected identifier \"bar\""},
	    {"rate(x[5m],)",
	     "1:11: parse error: trailing commas not allowed in function call args"},
	    {"rate(x[5m],,)",
	     "1:11: parse error: trailing commas not allowed in function call args"},
	    {"sum(x,)", "1:6: parse error: trailing commas not allowed in function call args"},
	    {"rate(,x)", "1:6: parse error: unexpected \",\""},
	    {"foo_bar()", "1:1: parse error: unknown function with name \"foo_bar\""},
	    {"RATE(x[5m])", "1:1: parse error: unknown function with name \"RATE\""},
	    {"unknown_fn(sum())",
	     "1:12: parse error: no arguments for aggregate expression provided"},
	    {"unknown_fn(1 2)", "1:14: parse error: unexpected number \"2\""},
	    /* label matching */
	    {"foo{a b}", "1:7: parse error: unexpected identifier \"b\" in label matching, "
			 "expected label matching operator"},
	    {"foo{a}", "1:6: parse error: unexpected \"}\" in label matching, expected label "
		       "matching operator"},
	    {"foo{a=b}", "1:7: parse error: unexpected identifier \"b\" in label matching, "
			 "expected string"},
	    {"foo{a=}", "1:7: parse error: unexpected \"}\" in label matching, expected string"},
	    {"foo{a==\"b\"}", "1:7: parse error: unexpected \"=\" in label matching, expected "
			      "string"},
	    {"foo{a=\"b\" c=\"d\"}", "1:11: parse error: unexpected identifier \"c\" in label "
				     "matching, expected \",\" or \"}\""},
	    {"foo{,}", "1:5: parse error: unexpected \",\" in label matching, expected "
		       "identifier or \"}\""},
	    {"foo{a=\"b\",,}", "1:11: parse error: unexpected \",\" in label matching, expected "
			       "identifier or \"}\""},
	    {"{\"a\"=\"b\"}", "1:2: parse error: unexpected string \"\\\"a\\\"\" in label "
			      "matching, expected identifier or \"}\""},
	    {"sum(foo{a})", "1:10: parse error: unexpected \"}\" in label matching, expected "
			    "label matching operator"},
	    /* offset, @ and brackets */
	    {"foo offset",
	     "1:11: parse error: unexpected end of input in offset, expected duration"},
	    {"foo offset 5", "1:12: parse error: unexpected number \"5\" in offset, expected "
			     "duration"},
	    {"foo offset -x", "1:13: parse error: unexpected identifier \"x\" in offset, "
			      "expected duration"},
	    {"foo offset +5m", "1:12: parse error: unexpected <op:+> in offset, expected duration"},
	    {"some_metric[5m] OFFSET", "1:23: parse error: unexpected end of input in offset, "
				       "expected duration"},
	    {"foo @", "1:6: parse error: unexpected end of input in @, expected timestamp"},
	    {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected "
			  "timestamp"},
	    {"foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"},
	    {"foo @ start(1)", "1:13: parse error: unexpected number \"1\" in @, expected "
			       "timestamp"},
	    {"foo @ -", "1:8: parse error: unexpected end of input in @, expected timestamp"},
	    {"foo @ 5m", "1:7: parse error: unexpected duration \"5m\" in @, expected timestamp"},
	    {"foo[5m 5m]", "1:8: parse error: unexpected duration \"5m\" in subquery or range, "
			   "expected \":\" or \"]\""},
	    {"foo[5m 1]", "1:8: parse error: unexpected number \"1\" in subquery or range, "
			  "expected \":\" or \"]\""},
	    {"rate(foo[5m)", "1:12: parse error: unexpected \")\" in subquery or range, expected "
			     "\":\" or \"]\""},
	    {"foo[5m:1]", "1:8: parse error: unexpected number \"1\" in subquery selector, "
			  "expected duration or \"]\""},
	    {"foo[5m:1m 1]", "1:11: parse error: unexpected number \"1\" in subquery selector, "
			     "expected duration or \"]\""},
	};
	RUN_ERRORS(cases);
}

static void test_query_parse_semantic_errors(void **state)
{
	(void)state;
	static const error_case cases[] = {
	    /* numbers */
	    {"1e", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e\": "
		   "invalid syntax"},
	    {"0x", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": "
		   "invalid syntax"},
	    {"0xffffffffffffffffff", "1:1: parse error: error parsing number: strconv.ParseFloat: "
				     "parsing \"0xffffffffffffffffff\": invalid syntax"},
	    {"1e400", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
		      "\"1e400\": value out of range"},
	    {"x + -1e999", "1:6: parse error: error parsing number: strconv.ParseFloat: parsing "
			   "\"1e999\": value out of range"},
	    /* durations */
	    {"foo[0s]", "1:5: parse error: duration must be greater than 0"},
	    {"foo[5m:0s]", "1:8: parse error: duration must be greater than 0"},
	    {"foo offset 0s", "1:12: parse error: duration must be greater than 0"},
	    {"foo[1.5m]", "1:5: parse error: not a valid duration string: \"1.5m\""},
	    {"foo[5ys]", "1:5: parse error: not a valid duration string: \"5ys\""},
	    {"foo[1m1h]", "1:5: parse error: not a valid duration string: \"1m1h\""},
	    {"foo[1h1h]", "1:5: parse error: not a valid duration string: \"1h1h\""},
	    {"foo[5ms1s]", "1:5: parse error: not a valid duration string: \"5ms1s\""},
	    {"foo offset 1e3m", "1:12: parse error: not a valid duration string: \"1e3m\""},
	    {"foo[300y]", "1:5: parse error: duration out of range"},
	    {"foo[99999999999999999999s]", "1:5: parse error: duration out of range"},
	    /* offset and @ placement */
	    {"1 offset 1d", "1:1: parse error: offset modifier must be preceded by an instant "
			    "vector selector or range vector selector or a subquery"},
	    {"sum(foo) offset 1d", "1:1: parse error: offset modifier must be preceded by an "
				   "instant vector selector or range vector selector or a "
				   "subquery"},
	    {"(foo) offset 1d", "1:1: parse error: offset modifier must be preceded by an instant "
				"vector selector or range vector selector or a subquery"},
	    {"- 1 offset 5m", "1:3: parse error: offset modifier must be preceded by an instant "
			      "vector selector or range vector selector or a subquery"},
	    {"foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
	    {"foo[5m] offset 1s offset 2s",
	     "1:1: parse error: offset may not be set multiple times"},
	    {"foo[5m:] offset 1s offset 2s",
	     "1:1: parse error: offset may not be set multiple times"},
	    {"1 @ 10", "1:1: parse error: @ modifier must be preceded by an instant vector "
		       "selector or range vector selector or a subquery"},
	    {"rate(x[5m]) @ end()", "1:1: parse error: @ modifier must be preceded by an instant "
				    "vector selector or range vector selector or a subquery"},
	    {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
	    {"foo @ start() @ end()", "1:1: parse error: @ <timestamp> may not be set multiple "
				      "times"},
	    {"foo[5m] @ 1 @ start()", "1:1: parse error: @ <timestamp> may not be set multiple "
				      "times"},
	    {"foo @ +Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
	    {"foo @ -Inf", "1:1: parse error: timestamp out of bounds for @ modifier: -Inf"},
	    {"foo @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
	    {"foo @ 1e20", "1:1: parse error: timestamp out of bounds for @ modifier: "
			   "100000000000000000000.000000"},
	    {"x @ 1 @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
	    /* ranges */
	    {"(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"},
	    {"1[5m]", "1:2: parse error: ranges only allowed for vector selectors"},
	    {"foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"},
	    {"foo offset 5m [5m]", "1:15: parse error: no offset modifiers allowed before range"},
	    {"some_metric OFFSET 1m[5m]",
	     "1:22: parse error: no offset modifiers allowed before range"},
	    {"foo @ 5 [5m]", "1:9: parse error: no @ modifiers allowed before range"},
	    /* aggregations */
	    {"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
	    {"x + topk by (a) ()",
	     "1:5: parse error: no arguments for aggregate expression provided"},
	    {"sum(foo, bar)", "1:1: parse error: wrong number of arguments for aggregate "
			      "expression provided, expected 1, got 2"},
	    {"topk(foo)", "1:1: parse error: wrong number of arguments for aggregate expression "
			  "provided, expected 2, got 1"},
	    {"count_values(\"a\", x, y)", "1:1: parse error: wrong number of arguments for "
					  "aggregate expression provided, expected 2, got 3"},
	    /* regexes and matchers */
	    {"foo{a=~\"(?=x)\"}", "1:5: parse error: error parsing regexp: invalid or unsupported "
				  "Perl syntax: `(?=`"},
	    {"foo{a=~\"(?<=x)y\"}", "1:5: parse error: error parsing regexp: invalid or "
				    "unsupported Perl syntax: `(?<`"},
	    {"foo{a!~\"(?!x)\"}", "1:5: parse error: error parsing regexp: invalid or unsupported "
				  "Perl syntax: `(?!`"},
	    {"foo{a=~\"(?>x)\"}", "1:5: parse error: error parsing regexp: invalid or unsupported "
				  "Perl syntax: `(?>`"},
	    {"foo{a=~\"(x)\\\\1\"}", "1:5: parse error: error parsing regexp: invalid escape "
				     "sequence: `\\1`"},
	    {"foo{a=~\"x\\\\K\"}", "1:5: parse error: error parsing regexp: invalid escape "
				   "sequence: `\\K`"},
	    {"foo{a=~\"a*+\"}", "1:5: parse error: error parsing regexp: invalid nested "
				"repetition operator: `*+`"},
	    {"foo{a=\"\\x00\"}", "1:5: parse error: label matcher value for a must not contain a "
				 "NUL byte"},
	};
	RUN_ERRORS(cases);
}

/* Long tokens: numbers are parsed whole, messages are truncated to the ts_err size. */
static void test_query_parse_long_tokens(void **state)
{
	(void)state;
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	ts_buf_puts(&b, "0.");
	for (int i = 0; i < 5000; i++)
		ts_buf_putc(&b, '0');
	ts_buf_puts(&b, "1");
	parsed p = parse(b.data);
	assert_int_equal(p.rc, TS_OK);
	assert_true(p.e->number == 0);
	done(&p);

	ts_buf_reset(&b);
	ts_buf_puts(&b, "1");
	for (int i = 0; i < 5000; i++)
		ts_buf_putc(&b, '0');
	p = parse(b.data);
	assert_int_equal(p.rc, TS_EPARSE);
	const char *want =
	    "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1000";
	assert_true(strncmp(p.err.msg, want, strlen(want)) == 0);
	assert_int_equal(strlen(p.err.msg), TS_ERR_MSG_MAX - 1);
	done(&p);

	ts_buf_reset(&b);
	ts_buf_puts(&b, "foo ");
	for (int i = 0; i < 60000; i++)
		ts_buf_putc(&b, 'x');
	p = parse(b.data);
	assert_int_equal(p.rc, TS_EPARSE);
	want = "1:5: parse error: unexpected identifier \"xxx";
	assert_true(strncmp(p.err.msg, want, strlen(want)) == 0);
	done(&p);
	ts_buf_free(&b);
}

static void test_query_parse_regex_error_message(void **state)
{
	(void)state;
	parsed p = parse("foo{a=~\"(\"}");
	assert_int_equal(p.rc, TS_EPARSE);
	assert_non_null(strstr(p.err.msg, "1:5: parse error: error parsing regexp: "));
	done(&p);
}

static void test_query_parse_type_errors(void **state)
{
	(void)state;
	static const error_case cases[] = {
	    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
	    {"{x=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty "
			 "matcher"},
	    {"{x=~\".*\"}", "1:1: parse error: vector selector must contain at least one "
			    "non-empty matcher"},
	    {"{x!=\"a\"}", "1:1: parse error: vector selector must contain at least one "
			   "non-empty matcher"},
	    {"{x!~\".+\"}", "1:1: parse error: vector selector must contain at least one "
			    "non-empty matcher"},
	    {"foo + {}", "1:7: parse error: vector selector must contain at least one non-empty "
			 "matcher"},
	    {"rate({}[5m])", "1:6: parse error: vector selector must contain at least one "
			     "non-empty matcher"},
	    {"foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice: "
				      "\"foo\" or \"bar\""},
	    {"foo{__name__=~\"b.*\"}", "1:1: parse error: metric name must not be set twice: "
				       "\"foo\" or \"b.*\""},
	    {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar "
			"expression"},
	    {"1 or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar "
		       "expression"},
	    {"1 unless 1", "1:1: parse error: set operator \"unless\" not allowed in binary scalar "
			   "expression"},
	    {"foo and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar "
			  "expression"},
	    {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
	    {"1   >\n 1", "1:5: parse error: comparisons between scalars must use BOOL modifier"},
	    {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison "
			       "operators"},
	    {"foo and bool 10", "1:5: parse error: bool modifier can only be used on comparison "
				"operators"},
	    {"1 + on(foo) bar", "1:1: parse error: vector matching only allowed between instant "
				"vectors"},
	    {"foo + on(bar) 1", "1:1: parse error: vector matching only allowed between instant "
				"vectors"},
	    {"foo and on(a) group_left(b) bar", "1:1: parse error: no grouping allowed for "
						"\"and\" operation"},
	    {"foo or on(a) group_right bar", "1:1: parse error: no grouping allowed for \"or\" "
					     "operation"},
	    {"foo * on(a) group_left(a) bar", "1:5: parse error: label \"a\" must not occur in ON "
					      "and GROUP clause at once"},
	    {"\"a\" + 1", "1:1: parse error: binary expression must contain only scalar and "
			  "instant vector types"},
	    {"1 + \"a\"", "1:5: parse error: binary expression must contain only scalar and "
			  "instant vector types"},
	    {"foo[5m] + 1", "1:1: parse error: binary expression must contain only scalar and "
			    "instant vector types"},
	    {"foo + bar[5m:]", "1:7: parse error: binary expression must contain only scalar and "
			       "instant vector types"},
	    {"-\"string\"", "1:1: parse error: unary expression only allowed on expressions of "
			    "type scalar or instant vector, got \"string\""},
	    {"-test[5m]", "1:1: parse error: unary expression only allowed on expressions of type "
			  "scalar or instant vector, got \"range vector\""},
	    {"foo[5m][5m:]", "1:1: parse error: subquery is only allowed on instant vector, got "
			     "matrix instead"},
	    {"1[5m:]", "1:1: parse error: subquery is only allowed on instant vector, got scalar "
		       "instead"},
	    {"\"x\"[5m:]", "1:1: parse error: subquery is only allowed on instant vector, got "
			   "string instead"},
	    {"rate(foo)", "1:6: parse error: expected type range vector in call to function "
			  "\"rate\", got instant vector"},
	    {"rate(foo[5m], 1)", "1:1: parse error: expected 1 argument(s) in call to \"rate\", "
				 "got 2"},
	    {"rate()", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 0"},
	    {"round(foo, 1, 2)", "1:1: parse error: expected at most 2 argument(s) in call to "
				 "\"round\", got 3"},
	    {"label_join(foo, \"a\")", "1:1: parse error: expected at least 3 argument(s) in call "
				       "to \"label_join\", got 2"},
	    {"label_join(foo, \"a\", \",\", 1)", "1:27: parse error: expected type string in call "
						 "to function \"label_join\", got scalar"},
	    {"hour(foo, bar)", "1:1: parse error: expected at most 1 argument(s) in call to "
			       "\"hour\", got 2"},
	    {"time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
	    {"vector(foo)", "1:8: parse error: expected type scalar in call to function "
			    "\"vector\", got instant vector"},
	    {"sum(1)", "1:5: parse error: expected type instant vector in aggregation expression, "
		       "got scalar"},
	    {"sum(foo[5m])", "1:5: parse error: expected type instant vector in aggregation "
			     "expression, got range vector"},
	    {"topk(\"a\", foo)", "1:6: parse error: expected type scalar in aggregation "
				 "parameter, got string"},
	    {"quantile(foo, bar)", "1:10: parse error: expected type scalar in aggregation "
				   "parameter, got instant vector"},
	    {"count_values(1, foo)", "1:14: parse error: expected type string in aggregation "
				     "parameter, got scalar"},
	    /* traversal order: aggregate expr before param, call arity before args */
	    {"topk({}, {})", "1:10: parse error: vector selector must contain at least one "
			     "non-empty matcher"},
	    {"rate({}, {})", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2"},
	    {"{} + {a=\"\"}", "1:1: parse error: vector selector must contain at least one "
			      "non-empty matcher"},
	};
	RUN_ERRORS(cases);
}

/* Cases from Prometheus' own parse_test.go (yacc era), checked like there: the error
 * message must contain the expected text. */
static void test_query_parse_prometheus_cases(void **state)
{
	(void)state;
	static const error_case cases[] = {
	    {"-=", "unexpected \"=\""},
	    {"++-++-+-+-<", "unexpected <op:<>"},
	    {"e-+=/(0)", "unexpected \"=\""},
	    {"a>b()", "unknown function"},
	    {"rate(avg)", "expected type range vector"},
	    {"start()", "1:6: parse error: unexpected \"(\""},
	    {"end()", "1:4: parse error: unexpected \"(\""},
	    {"test[5d] OFFSET 10s [10m:5s]",
	     "1:1: parse error: subquery is only allowed on instant vector, got matrix"},
	    {"(foo + bar{nm=\"val\"})[5m:][10m:5s]",
	     "1:1: parse error: subquery is only allowed on instant vector, got matrix"},
	    {"rate(food[1m])[1h] offset 1h", "1:15: parse error: ranges only allowed for vector "
					     "selectors"},
	    {"rate(food[1m])[1h] @ 100", "1:15: parse error: ranges only allowed for vector "
					 "selectors"},
	    {"floor()", "expected 1 argument(s) in call to \"floor\", got 0"},
	    {"floor(some_metric, other_metric)",
	     "expected 1 argument(s) in call to \"floor\", got 2"},
	    {"floor(some_metric, 1)", "expected 1 argument(s) in call to \"floor\", got 2"},
	    {"floor(1)", "expected type instant vector in call to function \"floor\", got scalar"},
	    {"hour(some_metric, some_metric, some_metric)",
	     "expected at most 1 argument(s) in call to \"hour\", got 3"},
	    {"time(some_metric)", "expected 0 argument(s) in call to \"time\", got 1"},
	    {"non_existent_function_far_bar()",
	     "unknown function with name \"non_existent_function_far_bar\""},
	    {"rate(some_metric)", "expected type range vector in call to function \"rate\", got "
				  "instant vector"},
	    {"label_replace(a, `b`, `c\xff`, `d`, `.*`)", "1:23: parse error: invalid UTF-8 rune"},
	    {"`\\``", "unterminated raw string"},
	    {"\"\\", "escape sequence not terminated"},
	    {"\"\\c\"", "unknown escape sequence U+0063 'c'"},
	    {"\"\\x.\"", "illegal character U+002E '.' in escape sequence"},
	    {"topk(some_metric, other_metric)", "1:6: parse error: expected type scalar in "
						"aggregation parameter, got instant vector"},
	    {"count_values(5, other_metric)", "1:14: parse error: expected type string in "
					      "aggregation parameter, got scalar"},
	    {"rate(some_metric[5m]) @ 1234", "1:1: parse error: @ modifier must be preceded by an "
					     "instant vector selector or range vector selector "
					     "or a subquery"},
	    {"sum without(==)(some_metric)", "unexpected <op:==> in grouping opts, expected label"},
	    {"sum without(,)(some_metric)", "unexpected \",\" in grouping opts, expected label"},
	    {"sum without(foo,,)(some_metric)",
	     "unexpected \",\" in grouping opts, expected label"},
	    {"sum some_metric by (test)", "unexpected identifier \"some_metric\""},
	    {"sum (some_metric) by test", "unexpected identifier \"test\" in grouping opts"},
	    {"sum () by (test)", "no arguments for aggregate expression provided"},
	    {"MIN keep_common (some_metric)", "1:5: parse error: unexpected identifier "
					      "\"keep_common\""},
	    {"MIN (some_metric) keep_common", "unexpected identifier \"keep_common\""},
	    {"sum (some_metric) without (test) by (test)", "unexpected <by>"},
	    {"sum without (test) (some_metric) by (test)", "unexpected <by>"},
	    {"topk(some_metric)", "wrong number of arguments for aggregate expression provided, "
				  "expected 2, got 1"},
	    {"topk(some_metric,)", "trailing commas not allowed in function call args"},
	    {"foo[5mm]", "bad duration syntax: \"5mm\""},
	    {"foo[5m1]", "bad duration syntax: \"5m1\""},
	    {"foo[5m:1m1]", "bad number or duration syntax: \"1m1\""},
	    {"foo[5y1hs]", "not a valid duration string: \"5y1hs\""},
	    {"foo[5m1h]", "not a valid duration string: \"5m1h\""},
	    {"foo[5m1m]", "not a valid duration string: \"5m1m\""},
	    {"foo[0m]", "duration must be greater than 0"},
	    {"foo[\"5m\"]", "parse error"},
	    {"foo[]", "missing unit character in duration"},
	    {"foo[1]", "missing unit character in duration"},
	    {"some_metric[5m] OFFSET 1", "unexpected number \"1\" in offset, expected duration"},
	    {"some_metric[5m] OFFSET 1mm", "bad number or duration syntax: \"1mm\""},
	    {"some_metric[5m] @ 1m", "1:19: parse error: unexpected duration \"1m\" in @, expected "
				     "timestamp"},
	    {"some_metric[5m] @", "1:18: parse error: unexpected end of input in @, expected "
				  "timestamp"},
	    {"some_metric @ 1234 [5m]", "1:20: parse error: no @ modifiers allowed before range"},
	    {"(foo + bar)[5m]", "1:12: parse error: ranges only allowed for vector selectors"},
	    {"{", "unexpected end of input inside braces"},
	    {"}", "unexpected character: '}'"},
	    {"some{", "unexpected end of input inside braces"},
	    {"some}", "unexpected character: '}'"},
	    {"some_metric{a=b}", "unexpected identifier \"b\" in label matching, expected string"},
	    {"some_metric{a:b=\"b\"}", "unexpected character inside braces: ':'"},
	    {"foo{a*\"b\"}", "unexpected character inside braces: '*'"},
	    {"foo{a>=\"b\"}", "unexpected character inside braces: '>'"},
	    {"some_metric{a=\"\xff\"}", "1:15: parse error: invalid UTF-8 rune"},
	    {"foo{gibberish}", "unexpected \"}\" in label matching, expected label matching "
			       "operator"},
	    {"foo{1}", "unexpected character inside braces: '1'"},
	    {"foo{__name__= =}", "1:15: parse error: unexpected \"=\" in label matching, expected "
				 "string"},
	    {"foo{__name__ == \"bar\"}", "1:15: parse error: unexpected \"=\" in label matching, "
					 "expected string"},
	    {"foo{__name__=\"bar\" lol}", "unexpected identifier \"lol\" in label matching, "
					  "expected \",\" or \"}\""},
	    {"foo @ 9223372036854775808.000000", "1:1: parse error: timestamp out of bounds for @ "
						 "modifier: 9223372036854775808.000000"},
	    {"foo @ -9223372036854775809.000000", "1:1: parse error: timestamp out of bounds for @ "
						  "modifier: -9223372036854775808.000000"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parsed p = parse(cases[i].in);
		if (p.rc != TS_EPARSE || !strstr(p.err.msg, cases[i].msg)) {
			print_error("input %s:\n want ...%s...\n got  %s %s\n", cases[i].in,
				    cases[i].msg, ts_err_name(p.rc), p.err.msg);
			fail();
		}
		done(&p);
	}
	static const struct {
		const char *in;
		int64_t at_ms;
	} at_cases[] = {
	    {"foo @ 1603774568", 1603774568000},
	    {"foo @ -100", -100000},
	    {"foo @ .3", 300},
	    {"foo @ 3.", 3000},
	    {"foo @ 3.33", 3330},
	    {"foo @ 3.3333", 3333},
	    {"foo @ 3.3335", 3334},
	    {"foo @ 3e2", 300000},
	    {"foo @ 3e-1", 300},
	    {"foo @ 0xA", 10000},
	    {"foo @ -3.3e1", -33000},
	};
	for (size_t i = 0; i < sizeof(at_cases) / sizeof(at_cases[0]); i++) {
		parsed p = parse(at_cases[i].in);
		assert_int_equal(p.rc, TS_OK);
		assert_int_equal(p.e->vs.mods.at, QUERY_AT_TIME);
		assert_int_equal(p.e->vs.mods.at_ms, at_cases[i].at_ms);
		done(&p);
	}
}

/* ================================================================ durations */

static void test_query_parse_durations(void **state)
{
	(void)state;
	static const struct {
		const char *d;
		int64_t ms;
		const char *printed;
	} cases[] = {
	    {"1ms", 1, "1ms"},
	    {"250ms", 250, "250ms"},
	    {"1s", 1000, "1s"},
	    {"90s", 90000, "1m30s"},
	    {"5m", 300000, "5m"},
	    {"1h30m", 5400000, "1h30m"},
	    {"1h0m", 3600000, "1h"},
	    {"1d", 86400000, "1d"},
	    {"7d", 604800000, "1w"},
	    {"8d", 691200000, "8d"},
	    {"14d", 1209600000, "2w"},
	    {"90d", 7776000000, "90d"},
	    {"1w", 604800000, "1w"},
	    {"1w1d", 691200000, "8d"},
	    {"1y", 31536000000, "1y"},
	    {"365d", 31536000000, "1y"},
	    {"1y1d", 31622400000, "366d"},
	    {"2y", 63072000000, "2y"},
	    {"1y2w3d4h5m6s7ms", 33019506007, "382d4h5m6s7ms"},
	    {"01m", 60000, "1m"},
	    {"60m", 3600000, "1h"},
	    {"292y", 9208512000000, "292y"},
	};
	char in[128], want[128];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(in, sizeof(in), "foo[%s]", cases[i].d);
		parsed p = parse(in);
		if (p.rc != TS_OK) {
			print_error("%s: %s\n", in, p.err.msg);
			fail();
		}
		assert_int_equal(p.e->kind, QUERY_EXPR_MATRIX_SELECTOR);
		assert_int_equal(p.e->matrix.range_ms, cases[i].ms);
		char *s = format(p.e);
		snprintf(want, sizeof(want), "foo[%s]", cases[i].printed);
		assert_string_equal(s, want);
		free(s);
		done(&p);

		/* the same duration as an offset and as a subquery step */
		snprintf(in, sizeof(in), "foo[1h:%s] offset %s", cases[i].d, cases[i].d);
		p = parse(in);
		assert_int_equal(p.rc, TS_OK);
		assert_int_equal(p.e->kind, QUERY_EXPR_SUBQUERY);
		assert_int_equal(p.e->subquery.step_ms, cases[i].ms);
		assert_int_equal(p.e->subquery.mods.offset_ms, cases[i].ms);
		done(&p);
		snprintf(in, sizeof(in), "foo offset -%s", cases[i].d);
		p = parse(in);
		assert_int_equal(p.rc, TS_OK);
		assert_int_equal(p.e->vs.mods.offset_ms, -cases[i].ms);
		s = format(p.e);
		snprintf(want, sizeof(want), "foo offset -%s", cases[i].printed);
		assert_string_equal(s, want);
		free(s);
		done(&p);
	}
}

/* ================================================================ limits */

static void test_query_parse_limits(void **state)
{
	(void)state;
	size_t big = QUERY_MAX_LEN + 1;
	char *in = malloc(big + 1);
	assert_non_null(in);
	memset(in, ' ', big);
	in[0] = 'x';
	in[big] = '\0';
	parsed p = parse_n(in, big);
	assert_int_equal(p.rc, TS_ELIMIT);
	assert_non_null(strstr(p.err.msg, "too long"));
	done(&p);
	p = parse_n(in, QUERY_MAX_LEN); /* exactly at the limit is fine */
	assert_int_equal(p.rc, TS_OK);
	done(&p);
	free(in);

	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	/* 255 nested parentheses: height 256 is the limit and accepted */
	for (int i = 0; i < 255; i++)
		ts_buf_putc(&b, '(');
	ts_buf_putc(&b, '1');
	for (int i = 0; i < 255; i++)
		ts_buf_putc(&b, ')');
	p = parse(b.data);
	assert_int_equal(p.rc, TS_OK);
	assert_int_equal(p.e->height, 256);
	done(&p);

	static const char *const deep[] = {"(", "-", "sum(", "rate(", "a ^ ", "-a + "};
	static const char *const tail[] = {")", "", ")", "[5m])", "", ""};
	for (size_t k = 0; k < sizeof(deep) / sizeof(deep[0]); k++) {
		ts_buf_reset(&b);
		for (int i = 0; i < 5000; i++)
			ts_buf_puts(&b, deep[k]);
		ts_buf_puts(&b, "a");
		for (int i = 0; i < 5000; i++)
			ts_buf_puts(&b, tail[k]);
		p = parse(b.data);
		if (p.rc != TS_ELIMIT) {
			print_error("deep %s: rc %s %s\n", deep[k], ts_err_name(p.rc), p.err.msg);
			fail();
		}
		assert_non_null(strstr(p.err.msg, "nesting depth"));
		done(&p);
	}
	/* a long left-deep chain is limited by tree height */
	ts_buf_reset(&b);
	ts_buf_puts(&b, "a");
	for (int i = 0; i < 300; i++)
		ts_buf_puts(&b, " + a");
	p = parse(b.data);
	assert_int_equal(p.rc, TS_ELIMIT);
	done(&p);
	ts_buf_free(&b);

	/* an arena budget too small for the query: TS_ELIMIT */
	query_arena *a = query_arena_new(4096);
	query_expr *e = NULL;
	ts_err err;
	ts_err_clear(&err);
	assert_int_equal(query_parse(a, "sum by (a, b, c) (rate(foo{x=\"y\"}[5m]))", 40, &e, &err),
			 TS_ELIMIT);
	assert_null(e);
	query_arena_free(a);
}

static void test_query_parse_alloc_failures(void **state)
{
	(void)state;
	static const char *const queries[] = {
	    "sum by (job, instance) (rate(http_requests_total{job=~\"api|web\", code!=\"500\"}"
	    "[5m] offset 1m)) / on(job) group_left(team) max(team_info) > bool 0.5",
	    "foo{a=~\"(\"}",
	    "quantile_over_time(0.9, (a + b)[1h:1m] @ start()) or vector(1)",
	    "{}",
	};
	for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
		int ok = 0;
		for (int n = 0; n < 200 && !ok; n++) {
			query_arena *a = query_arena_new(0);
			if (!a)
				continue;
			query_expr *e = NULL;
			ts_err err;
			ts_err_clear(&err);
			ts_alloc_fail_after(n);
			int rc = query_parse(a, queries[q], strlen(queries[q]), &e, &err);
			ts_alloc_fail_after(-1);
			if (rc == TS_ENOMEM) {
				assert_null(e);
			} else {
				/* past the failure point the outcome is the normal one */
				parsed ref = parse(queries[q]);
				assert_int_equal(rc, ref.rc);
				if (rc == TS_OK) {
					char *s1 = format(e), *s2 = format(ref.e);
					assert_string_equal(s1, s2);
					free(s1);
					free(s2);
				} else {
					assert_string_equal(err.msg, ref.err.msg);
				}
				done(&ref);
				ok = 1;
			}
			query_arena_free(a);
		}
		assert_true(ok);
	}
}

/* ================================================================ fuzz seeds */

/* Trees whose canonical text is not a fixed point in Prometheus either (see
 * fuzz/fuzz_promql.c): +Inf on the left of ^, @ beyond 2^53 ms. */
static int find_unstable(const query_expr *e, void *ctx)
{
	bool *unstable = ctx;
	if (e->kind == QUERY_EXPR_BINARY && e->binary.op == QUERY_OP_POW &&
	    e->binary.lhs->kind == QUERY_EXPR_NUMBER && isinf(e->binary.lhs->number) &&
	    e->binary.lhs->number > 0)
		*unstable = true;
	if (e->kind == QUERY_EXPR_VECTOR_SELECTOR && e->vs.mods.at == QUERY_AT_TIME &&
	    (e->vs.mods.at_ms > (1LL << 53) || e->vs.mods.at_ms < -(1LL << 53)))
		*unstable = true;
	return QUERY_WALK_CONTINUE;
}

static void test_query_parse_fuzz_seeds(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/fuzz/corpus/promql", STRATA_SOURCE_DIR);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	int n = 0, n_ok = 0;
	static char buf[QUERY_MAX_LEN + 2];
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		parsed p = parse_n(buf, len);
		n++;
		if (p.rc == TS_OK) {
			n_ok++;
			char *s = format(p.e);
			parsed q = parse(s);
			if (q.rc != TS_OK) {
				print_error("seed %s: canonical %s fails: %s\n", de->d_name, s,
					    q.err.msg);
				fail();
			}
			char *s2 = format(q.e);
			bool unstable = false;
			query_expr_walk(p.e, find_unstable, &unstable);
			if (!unstable)
				assert_string_equal(s, s2);
			free(s2);
			free(s);
			done(&q);
		} else {
			assert_true(p.rc == TS_EPARSE || p.rc == TS_ELIMIT);
			assert_true(p.err.msg[0] != '\0');
		}
		done(&p);
	}
	closedir(d);
	assert_true(n >= 50);
	assert_true(n_ok >= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_parse_valid),
	    cmocka_unit_test(test_query_parse_precedence),
	    cmocka_unit_test(test_query_parse_lexer_errors),
	    cmocka_unit_test(test_query_parse_syntax_errors),
	    cmocka_unit_test(test_query_parse_semantic_errors),
	    cmocka_unit_test(test_query_parse_regex_error_message),
	    cmocka_unit_test(test_query_parse_long_tokens),
	    cmocka_unit_test(test_query_parse_type_errors),
	    cmocka_unit_test(test_query_parse_prometheus_cases),
	    cmocka_unit_test(test_query_parse_durations),
	    cmocka_unit_test(test_query_parse_limits),
	    cmocka_unit_test(test_query_parse_alloc_failures),
	    cmocka_unit_test(test_query_parse_fuzz_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
