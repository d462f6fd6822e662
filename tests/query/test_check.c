/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_check.c: unit tests of query_check_expr (query/check.c): rule expressions must
 * parse, type-check and produce an instant vector or a scalar; messages are the parser's
 * ("1:15: parse error: ..."); limits and allocation failures.
 */
#include "query/query.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void check(const char *expr, int want, const char *msg)
{
	ts_err err = {0};
	int rc = query_check_expr(expr, strlen(expr), &err);
	if (rc != want)
		fail_msg("%s: got %s (%s), want %s", expr, ts_err_name(rc), err.msg,
			 ts_err_name(want));
	if (msg && strcmp(err.msg, msg))
		fail_msg("%s: message '%s', want '%s'", expr, err.msg, msg);
}

static void test_query_check_expr_accepts(void **state)
{
	check("up", TS_OK, NULL);
	check("up == 0", TS_OK, NULL);
	check("sum by (job) (rate(http_requests_total[5m])) > 1", TS_OK, NULL);
	check("42", TS_OK, NULL);
	check("scalar(up) * 2", TS_OK, NULL);
	check("vector(1) and on() hour() > 8", TS_OK, NULL);
	check("max_over_time(up[5m:1m])", TS_OK, NULL);
}

static void test_query_check_expr_rejects(void **state)
{
	check("rate(x[5m] > 1", TS_EPARSE, "1:15: parse error: unclosed left parenthesis");
	check("up[5m]", TS_EPARSE,
	      "1:1: parse error: expression must evaluate to an instant vector or scalar, got "
	      "range vector");
	check("\"text\"", TS_EPARSE,
	      "1:1: parse error: expression must evaluate to an instant vector or scalar, got "
	      "string");
	check("rate(up)", TS_EPARSE, NULL);
	check("", TS_EPARSE, NULL);
	check("sum(", TS_EPARSE, NULL);
	char *big = malloc(70 * 1024);
	memset(big, 'a', 70 * 1024 - 1);
	big[70 * 1024 - 1] = '\0';
	check(big, TS_ELIMIT, NULL);
	free(big);
}

static void test_query_check_expr_alloc_failures(void **state)
{
	const char *e = "sum by (job) (rate(x{a=~\"b.*\"}[5m])) / on(job) group_left count(y)";
	bool ok = false;
	for (int64_t n = 0; n < 10000 && !ok; n++) {
		ts_alloc_fail_after(n);
		int rc = query_check_expr(e, strlen(e), NULL);
		ts_alloc_fail_after(-1);
		assert_true(rc == TS_OK || rc == TS_ENOMEM || rc == TS_ELIMIT);
		ok = rc == TS_OK;
	}
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_check_expr_accepts),
	    cmocka_unit_test(test_query_check_expr_rejects),
	    cmocka_unit_test(test_query_check_expr_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
