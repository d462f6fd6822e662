/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_format.c: tests for query/format.c: query_format prints expressions as Prometheus'
 * format_query does (outputs taken from Prometheus 2.42's /api/v1/format_query), reports
 * result types, and fails with the parser's messages.
 */
#include "query/query.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void check(const char *in, const char *want)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 16);
	ts_err e = {0};
	assert_int_equal(query_format(in, strlen(in), &b, NULL, &e), TS_OK);
	assert_non_null(b.data);
	assert_string_equal(b.data, want);
	ts_buf_free(&b);
}

static void test_query_format_canonical(void **state)
{
	(void)state;
	check("sum(rate(x[5m]))by(job)", "sum by (job) (rate(x[5m]))");
	check("up{job=\"a\",instance!~'b.*'}", "up{instance!~\"b.*\",job=\"a\"}");
	check("a+on(x)group_left(y)b", "a + on (x) group_left (y) b");
	check("rate(x[300s] offset 1h)", "rate(x[5m] offset 1h)");
	check("  1e3 * 2 ", "1000 * 2");
	check("max_over_time(deriv(x[1m])[10m:30s])", "max_over_time(deriv(x[1m])[10m:30s])");
}

static void test_query_format_types(void **state)
{
	(void)state;
	query_result_type t;
	assert_int_equal(query_format("up", 2, NULL, &t, NULL), TS_OK);
	assert_int_equal(t, QUERY_RESULT_VECTOR);
	assert_int_equal(query_format("up[5m]", 6, NULL, &t, NULL), TS_OK);
	assert_int_equal(t, QUERY_RESULT_MATRIX);
	assert_int_equal(query_format("1+1", 3, NULL, &t, NULL), TS_OK);
	assert_int_equal(t, QUERY_RESULT_SCALAR);
	assert_int_equal(query_format("\"s\"", 3, NULL, &t, NULL), TS_OK);
	assert_int_equal(t, QUERY_RESULT_STRING);
}

static void test_query_format_errors(void **state)
{
	(void)state;
	ts_buf b;
	ts_buf_init(&b, 1 << 16);
	ts_err e = {0};
	assert_int_equal(query_format("sum(", 4, &b, NULL, &e), TS_EPARSE);
	assert_string_equal(e.msg, "1:5: parse error: unclosed left parenthesis");
	assert_int_equal(query_format("", 0, &b, NULL, &e), TS_EPARSE);
	assert_non_null(strstr(e.msg, "no expression found in input"));
	ts_buf_free(&b);
	/* an output buffer too small for the text */
	ts_buf small;
	ts_buf_init(&small, 4);
	assert_int_equal(query_format("some_long_metric_name", 21, &small, NULL, &e), TS_ELIMIT);
	ts_buf_free(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_format_canonical),
	    cmocka_unit_test(test_query_format_types),
	    cmocka_unit_test(test_query_format_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
