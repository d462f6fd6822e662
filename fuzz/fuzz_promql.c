/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_promql.c: libFuzzer target for the PromQL lexer, parser, type checker and printer
 * (query/parser.c, query/lexer.c, query/ast.c). Seeds: fuzz/corpus/promql/, one query per
 * file; ctest replays them through fuzz/replay.c.
 *
 * Besides "never crash, never leak", it checks invariants and traps when one breaks:
 *  - a failed parse returns TS_EPARSE, TS_ELIMIT or TS_ENOMEM with a message;
 *  - a successful parse has height <= QUERY_MAX_DEPTH, and its canonical text parses
 *    again, to the same canonical text and type (Prometheus' String() round trip).
 *    Two Prometheus printing quirks are exempt from the text comparison (the re-parse
 *    must still succeed): @ timestamps beyond 2^53 ms print with lost precision, and a
 *    +Inf literal on the left of ^ prints as "+Inf ^ x", which re-parses as +(Inf ^ x).
 * Inputs are capped a little above QUERY_MAX_LEN so the length limit is exercised too.
 */
#include "query/ast.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_INPUT (QUERY_MAX_LEN + 64)

static int check_node(const query_expr *e, void *ctx)
{
	bool *imprecise = ctx;
	if (e->height > QUERY_MAX_DEPTH)
		__builtin_trap();
	const query_mods *m = NULL;
	if (e->kind == QUERY_EXPR_VECTOR_SELECTOR)
		m = &e->vs.mods;
	else if (e->kind == QUERY_EXPR_SUBQUERY)
		m = &e->subquery.mods;
	if (m && m->at == QUERY_AT_TIME &&
	    (m->at_ms > (INT64_C(1) << 53) || m->at_ms < -(INT64_C(1) << 53)))
		*imprecise = true;
	if (e->kind == QUERY_EXPR_BINARY && e->binary.op == QUERY_OP_POW &&
	    e->binary.lhs->kind == QUERY_EXPR_NUMBER && isinf(e->binary.lhs->number) &&
	    e->binary.lhs->number > 0)
		*imprecise = true;
	if (e->kind == QUERY_EXPR_VECTOR_SELECTOR && e->vs.n_matchers == 0)
		__builtin_trap();
	return QUERY_WALK_CONTINUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	query_arena *a = query_arena_new(64 << 20);
	if (!a)
		return 0;
	query_expr *e = NULL;
	ts_err err;
	ts_err_clear(&err);
	int rc = query_parse(a, (const char *)data, size, &e, &err);
	if (rc != TS_OK) {
		if ((rc != TS_EPARSE && rc != TS_ELIMIT && rc != TS_ENOMEM) || err.msg[0] == '\0')
			__builtin_trap();
		query_arena_free(a);
		return 0;
	}
	bool imprecise = false;
	query_expr_walk(e, check_node, &imprecise);

	ts_buf b1, b2;
	ts_buf_init(&b1, 16 << 20);
	ts_buf_init(&b2, 16 << 20);
	if (query_expr_format(e, &b1) == TS_OK) {
		query_arena *a2 = query_arena_new(64 << 20);
		query_expr *e2 = NULL;
		if (a2) {
			ts_err err2;
			ts_err_clear(&err2);
			int rc2 = query_parse(a2, b1.data, b1.len, &e2, &err2);
			if (rc2 == TS_EPARSE)
				__builtin_trap(); /* the canonical text must parse */
			if (rc2 == TS_OK) {
				if (query_expr_type(e2) != query_expr_type(e))
					__builtin_trap();
				if (!imprecise && query_expr_format(e2, &b2) == TS_OK &&
				    (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0))
					__builtin_trap();
			}
			query_arena_free(a2);
		}
	}
	ts_buf_free(&b1);
	ts_buf_free(&b2);
	query_arena_free(a);
	return 0;
}
