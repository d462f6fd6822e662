/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.c: query_check_expr (query.h): validate a rule expression without evaluating it.
 *
 * Parses and type-checks the text exactly as query_instant would (same parser, same
 * messages: "1:15: parse error: unclosed left parenthesis"), then requires the result
 * type a rule can use: an instant vector or a scalar. promtool accepts any expression
 * that parses (a rule with a string or range-vector expression then fails at every
 * evaluation with "rule result is not a vector or scalar"); Strata reports it up front.
 * The parse tree lives in a private arena freed before returning.
 */
#include "query/query.h"

#include "query/ast.h"

/* Arena budget for checking one expression (the text is at most QUERY_MAX_LEN). */
#define CHECK_ARENA_MAX ((size_t)16 << 20)

int query_check_expr(const char *expr, size_t len, ts_err *err)
{
	query_arena *a = query_arena_new(CHECK_ARENA_MAX);
	if (!a)
		return ts_err_set(err, TS_ENOMEM, "out of memory checking an expression");
	query_expr *e = NULL;
	int rc = query_parse(a, expr, len, &e, err);
	if (rc == TS_OK) {
		query_value_type t = query_expr_type(e);
		if (t != QUERY_VALUE_VECTOR && t != QUERY_VALUE_SCALAR)
			rc = query_parse_errorf(err, expr, len, e->pos.start,
						"expression must evaluate to an instant vector or "
						"scalar, got %s",
						query_value_type_name(t));
	}
	query_arena_free(a);
	return rc;
}
