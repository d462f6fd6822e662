/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format.c: query_format (query.h): parse an expression and print it canonically, for
 * /api/v1/format_query.
 *
 * The same parser and messages as query_instant, then the AST printer of ast.c
 * (query_expr_format, Prometheus' Expr.String()), so the output is what Prometheus'
 * format_query returns and parses back to the same tree. The result type is reported
 * too: the HTTP layer uses it to tell an expression a range query cannot evaluate
 * (bad_data) from an evaluation error (execution). The parse tree lives in a private
 * arena freed before returning; nothing is evaluated.
 */
#include "query/query.h"

#include "query/ast.h"

/* Arena budget for one expression (the text is at most QUERY_MAX_LEN). */
#define FORMAT_ARENA_MAX ((size_t)16 << 20)

static query_result_type result_type(query_value_type t)
{
	switch (t) {
	case QUERY_VALUE_SCALAR: return QUERY_RESULT_SCALAR;
	case QUERY_VALUE_MATRIX: return QUERY_RESULT_MATRIX;
	case QUERY_VALUE_STRING: return QUERY_RESULT_STRING;
	default: return QUERY_RESULT_VECTOR;
	}
}

int query_format(const char *expr, size_t len, ts_buf *out, query_result_type *type, ts_err *err)
{
	query_arena *a = query_arena_new(FORMAT_ARENA_MAX);
	if (!a)
		return ts_err_set(err, TS_ENOMEM, "out of memory formatting an expression");
	query_expr *e = NULL;
	int rc = query_parse(a, expr, len, &e, err);
	if (rc == TS_OK && out && (rc = query_expr_format(e, out)))
		ts_err_set(err, rc, "formatted expression does not fit");
	if (rc == TS_OK && type)
		*type = result_type(query_expr_type(e));
	query_arena_free(a);
	return rc;
}
