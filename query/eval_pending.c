/* SPDX-License-Identifier: Apache-2.0 */
/* eval_pending.c: TEMPORARY until eval_binary.c, eval_agg.c and functions.c land. */
#include "query/eval.h"

int qe_eval_binary(qe_ctx *c, const query_expr *e, qe_value *out)
{
	return ts_err_set(c->err, TS_EINVAL, "binary operators are not implemented yet");
}

int qe_eval_aggregate(qe_ctx *c, const query_expr *e, qe_value *out)
{
	return ts_err_set(c->err, TS_EINVAL, "aggregations are not implemented yet");
}

int qe_eval_call(qe_ctx *c, const query_expr *e, qe_value *out)
{
	return ts_err_set(c->err, TS_EINVAL, "functions are not implemented yet");
}
