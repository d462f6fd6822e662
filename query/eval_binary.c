/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval_binary.c: PromQL binary operators with Prometheus 2.42's semantics.
 *
 *  - scalar op scalar: per step; comparisons (which need `bool`) give 0 or 1.
 *  - vector op scalar, scalar op vector: per element. Arithmetic drops the metric name;
 *    a comparison filters (keeping the vector element's value, also when the scalar is
 *    on the left) or, with `bool`, gives 0/1 and drops the name. atan2 keeps the name.
 *  - vector op vector: elements are matched on their signature: the labels listed in
 *    on(...), or all labels except __name__ and those in ignoring(...). The "one" side
 *    (right, or left for group_right) must have unique signatures at every step
 *    ("found duplicate series for the match group ..."); in one-to-one matching each
 *    signature may produce one result per step ("multiple matches for labels: many-to-one
 *    matching must be explicit (group_left/group_right)"), in many-to-one matching the
 *    results of one signature must differ ("multiple matches for labels: grouping labels
 *    must ensure unique matches"). Result labels are those of the "many" side (left for
 *    one-to-one), without __name__ for arithmetic, reduced to the on() labels or without
 *    the ignoring() labels for one-to-one, plus group_x(...) labels copied from the "one"
 *    side (deleted when it lacks them); `bool` drops __name__ too.
 *  - and, or, unless: per step, matched on the same signatures; results keep their
 *    labels. An empty side short-circuits as in Prometheus (a and {} = {}, a or {} = a).
 *
 * Everything is evaluated per step like Prometheus' rangeEval: signatures and result
 * labels are computed once per series (or series pair) and reused for every step, and
 * results are merged by label set across steps (qe_vbuild). Element arithmetic uses C's
 * pow/fmod/atan2, whose special cases are those of Go's math package.
 */
#include "query/eval.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- element operations */

static bool is_arith(query_binop op)
{
	switch (op) {
	case QUERY_OP_ADD:
	case QUERY_OP_SUB:
	case QUERY_OP_MUL:
	case QUERY_OP_DIV:
	case QUERY_OP_POW:
	case QUERY_OP_MOD: return true;
	default: return false;
	}
}

/* Prometheus' vectorElemBinop: the value and whether a comparison keeps the element. */
static double elem_op(query_binop op, double l, double r, bool *keep)
{
	*keep = true;
	switch (op) {
	case QUERY_OP_ADD: return l + r;
	case QUERY_OP_SUB: return l - r;
	case QUERY_OP_MUL: return l * r;
	case QUERY_OP_DIV: return l / r;
	case QUERY_OP_POW: return pow(l, r);
	case QUERY_OP_MOD: return fmod(l, r);
	case QUERY_OP_ATAN2: return atan2(l, r);
	case QUERY_OP_EQ: *keep = l == r; return l;
	case QUERY_OP_NE: *keep = l != r; return l;
	case QUERY_OP_GT: *keep = l > r; return l;
	case QUERY_OP_LT: *keep = l < r; return l;
	case QUERY_OP_GE: *keep = l >= r; return l;
	case QUERY_OP_LE: *keep = l <= r; return l;
	default: return NAN; /* set operators never get here */
	}
}

/* ---------------------------------------------------------------- scalar and vector/scalar */

static int scalar_scalar(qe_ctx *c, const query_expr *e, const qe_value *l, const qe_value *r,
			 qe_value *out)
{
	out->type = QUERY_VALUE_SCALAR;
	out->scalar = qe_alloc(c, c->n_steps * sizeof(double));
	if (!out->scalar)
		return qe_nomem(c);
	for (size_t i = 0; i < c->n_steps; i++) {
		bool keep;
		double v = elem_op(e->binary.op, l->scalar[i], r->scalar[i], &keep);
		if (query_binop_is_comparison(e->binary.op))
			v = keep ? 1 : 0;
		out->scalar[i] = v;
	}
	return qe_add_samples(c, c->n_steps);
}

static int vector_scalar(qe_ctx *c, const query_expr *e, const qe_value *vec, const double *sc,
			 bool swap, qe_value *out)
{
	query_binop op = e->binary.op;
	bool is_cmp = query_binop_is_comparison(op), is_bool = e->binary.is_bool;
	qe_vbuild b;
	int rc = qe_vbuild_init(c, &b, vec->n_vec);
	for (size_t k = 0; rc == TS_OK && k < vec->n_vec; k++) {
		const qe_series *s = &vec->vec[k];
		ts_label *lab = s->labels;
		size_t nl = s->n_labels, idx = SIZE_MAX;
		if (is_arith(op) || is_bool) {
			if ((rc = qe_labels_copy(c, s->labels, s->n_labels, true, &lab, &nl)))
				break;
		}
		for (size_t i = 0; i < c->n_steps; i++) {
			if (!s->ok[i])
				continue;
			double lv = s->v[i], rv = sc[i];
			if (swap) {
				lv = sc[i];
				rv = s->v[i];
			}
			bool keep;
			double v = elem_op(op, lv, rv, &keep);
			if (is_cmp && swap)
				v = rv; /* a filter keeps the vector element's value */
			if (is_bool) {
				v = keep ? 1 : 0;
				keep = true;
			}
			if (!keep)
				continue;
			if (idx == SIZE_MAX && (rc = qe_vbuild_index(c, &b, lab, nl, &idx)))
				break;
			if ((rc = qe_vbuild_set(c, &b, idx, i, v)))
				break;
		}
		if (rc == TS_OK && (k % 256) == 255)
			rc = qe_check_timeout(c);
	}
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* ---------------------------------------------------------------- signatures */

/* Signature of each series of both sides as a dense index shared by the two sides. */
typedef struct sigs {
	size_t *l; /* per lhs series */
	size_t *r; /* per rhs series */
	size_t n;  /* distinct signatures */
	qe_lmap map;
} sigs;

static int sig_labels(qe_ctx *c, const query_vector_matching *m, const qe_series *s, ts_label **out,
		      size_t *n_out)
{
	if (m->is_on)
		return qe_labels_filter(c, s->labels, s->n_labels, m->labels, m->n_labels, true,
					false, out, n_out);
	return qe_labels_filter(c, s->labels, s->n_labels, m->labels, m->n_labels, false, true, out,
				n_out);
}

static int sigs_side(qe_ctx *c, sigs *sg, const query_vector_matching *m, const qe_value *v,
		     size_t *dst)
{
	for (size_t k = 0; k < v->n_vec; k++) {
		ts_label *l;
		size_t n;
		bool is_new;
		int rc = sig_labels(c, m, &v->vec[k], &l, &n);
		if (rc == TS_OK)
			rc = qe_lmap_get(c, &sg->map, l, n, &dst[k], &is_new);
		if (rc)
			return rc;
	}
	return TS_OK;
}

static int sigs_build(qe_ctx *c, const query_vector_matching *m, const qe_value *l,
		      const qe_value *r, sigs *sg)
{
	memset(sg, 0, sizeof(*sg));
	int rc = qe_lmap_init(c, &sg->map, l->n_vec + r->n_vec);
	if (rc)
		return rc;
	sg->l = qe_alloc(c, (l->n_vec + 1) * sizeof(size_t));
	sg->r = qe_alloc(c, (r->n_vec + 1) * sizeof(size_t));
	if (!sg->l || !sg->r)
		return qe_nomem(c);
	if ((rc = sigs_side(c, sg, m, l, sg->l)) || (rc = sigs_side(c, sg, m, r, sg->r)))
		return rc;
	sg->n = sg->map.n;
	return TS_OK;
}

static bool any_at(const qe_value *v, size_t i)
{
	for (size_t k = 0; k < v->n_vec; k++)
		if (v->vec[k].ok[i])
			return true;
	return false;
}

/* ---------------------------------------------------------------- set operators */

static int set_op(qe_ctx *c, const query_expr *e, const qe_value *l, const qe_value *r,
		  qe_value *out)
{
	sigs sg;
	int rc = sigs_build(c, e->binary.matching, l, r, &sg);
	if (rc)
		return rc;
	qe_vbuild b;
	if ((rc = qe_vbuild_init(c, &b, l->n_vec + r->n_vec)))
		return rc;
	size_t *lidx = qe_alloc(c, (l->n_vec + 1) * sizeof(size_t));
	size_t *ridx = qe_alloc(c, (r->n_vec + 1) * sizeof(size_t));
	size_t *stamp = qe_alloc(c, (sg.n + 1) * sizeof(size_t)); /* step + 1 a sig was seen */
	if (!lidx || !ridx || !stamp)
		return qe_nomem(c);
	for (size_t k = 0; k < l->n_vec; k++)
		lidx[k] = SIZE_MAX;
	for (size_t k = 0; k < r->n_vec; k++)
		ridx[k] = SIZE_MAX;
	query_binop op = e->binary.op;
	for (size_t i = 0; i < c->n_steps; i++) {
		if ((i % 64) == 63 && (rc = qe_check_timeout(c)))
			return rc;
		bool has_l = any_at(l, i), has_r = any_at(r, i);
		/* Which side's signatures are looked up, and which elements are emitted. */
		bool emit_l, emit_r, filter_l;
		switch (op) {
		case QUERY_OP_AND:
			if (!has_l || !has_r)
				continue;
			emit_l = true, emit_r = false, filter_l = true;
			break;
		case QUERY_OP_OR: emit_l = true, emit_r = true, filter_l = false; break;
		default: /* unless */
			emit_l = true, emit_r = false, filter_l = has_l && has_r;
			break;
		}
		if (filter_l) {
			for (size_t k = 0; k < r->n_vec; k++)
				if (r->vec[k].ok[i])
					stamp[sg.r[k]] = i + 1;
		}
		for (size_t k = 0; emit_l && k < l->n_vec; k++) {
			const qe_series *s = &l->vec[k];
			if (!s->ok[i])
				continue;
			if (filter_l) {
				bool seen = stamp[sg.l[k]] == i + 1;
				if (seen != (op == QUERY_OP_AND))
					continue;
			}
			if (op == QUERY_OP_OR)
				stamp[sg.l[k]] = i + 1;
			if (lidx[k] == SIZE_MAX &&
			    (rc = qe_vbuild_index(c, &b, s->labels, s->n_labels, &lidx[k])))
				return rc;
			if ((rc = qe_vbuild_set(c, &b, lidx[k], i, s->v[i])))
				return rc;
		}
		for (size_t k = 0; emit_r && k < r->n_vec; k++) {
			const qe_series *s = &r->vec[k];
			if (!s->ok[i] || stamp[sg.r[k]] == i + 1)
				continue;
			if (ridx[k] == SIZE_MAX &&
			    (rc = qe_vbuild_index(c, &b, s->labels, s->n_labels, &ridx[k])))
				return rc;
			if ((rc = qe_vbuild_set(c, &b, ridx[k], i, s->v[i])))
				return rc;
		}
	}
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* ---------------------------------------------------------------- vector matching */

/* Result labels of a matched pair (Prometheus' resultMetric). lhs is the "many" side. */
static int result_labels(qe_ctx *c, const query_expr *e, const qe_series *ls, const qe_series *rs,
			 ts_label **out, size_t *n_out)
{
	const query_vector_matching *m = e->binary.matching;
	bool drop = is_arith(e->binary.op) || e->binary.is_bool;
	ts_label *l;
	size_t n;
	int rc;
	if (m->card == QUERY_CARD_ONE_TO_ONE)
		rc = qe_labels_filter(c, ls->labels, ls->n_labels, m->labels, m->n_labels, m->is_on,
				      drop, &l, &n);
	else
		rc = qe_labels_filter(c, ls->labels, ls->n_labels, NULL, 0, false, drop, &l, &n);
	for (size_t j = 0; rc == TS_OK && j < m->n_include; j++) {
		const char *v = ts_labels_get(rs->labels, rs->n_labels, m->include[j]);
		rc = qe_labels_set(c, l, n, m->include[j], v, &l, &n);
	}
	if (rc)
		return rc;
	*out = l;
	*n_out = n;
	return TS_OK;
}

static int err_duplicate(qe_ctx *c, const query_vector_matching *m, const qe_series *dup,
			 const qe_series *first)
{
	ts_buf b;
	ts_buf_init(&b, 4096);
	ts_label *ml;
	size_t mn;
	int rc = sig_labels(c, m, dup, &ml, &mn);
	if (rc == TS_OK)
		rc = qe_labels_format(ml, mn, &b);
	if (rc == TS_OK)
		rc = ts_buf_printf(&b, " on the %s hand-side of the operation: [",
				   m->card == QUERY_CARD_ONE_TO_MANY ? "left" : "right");
	if (rc == TS_OK)
		rc = qe_labels_format(dup->labels, dup->n_labels, &b);
	if (rc == TS_OK)
		rc = ts_buf_puts(&b, ", ");
	if (rc == TS_OK)
		rc = qe_labels_format(first->labels, first->n_labels, &b);
	if (rc == TS_ENOMEM) {
		ts_buf_free(&b);
		return qe_nomem(c);
	}
	rc = ts_err_set(c->err, TS_EINVAL,
			"found duplicate series for the match group %s];many-to-many matching not "
			"allowed: matching labels must be unique on one side",
			rc == TS_OK && b.data ? b.data : "{}");
	ts_buf_free(&b);
	return rc;
}

static int vector_vector(qe_ctx *c, const query_expr *e, const qe_value *lhs, const qe_value *rhs,
			 qe_value *out)
{
	const query_vector_matching *m = e->binary.matching;
	bool swap = m->card == QUERY_CARD_ONE_TO_MANY;
	const qe_value *l = swap ? rhs : lhs, *r = swap ? lhs : rhs;
	query_binop op = e->binary.op;
	bool is_bool = e->binary.is_bool;
	sigs sg;
	int rc = sigs_build(c, m, l, r, &sg);
	if (rc)
		return rc;
	qe_vbuild b;
	if ((rc = qe_vbuild_init(c, &b, l->n_vec)))
		return rc;
	size_t ns = sg.n + 1;
	size_t *seen = qe_alloc(c, ns * sizeof(size_t));    /* step + 1 the sig's "one" was seen */
	size_t *partner = qe_alloc(c, ns * sizeof(size_t)); /* that "one" element */
	size_t *matched = qe_alloc(c, ns * sizeof(size_t)); /* step + 1 of a one-to-one result */
	size_t *cache_r = qe_alloc(c, (l->n_vec + 1) * sizeof(size_t)); /* last partner */
	size_t *cache_idx = qe_alloc(c, (l->n_vec + 1) * sizeof(size_t));
	if (!seen || !partner || !matched || !cache_r || !cache_idx)
		return qe_nomem(c);
	for (size_t k = 0; k < l->n_vec; k++)
		cache_r[k] = SIZE_MAX;
	for (size_t i = 0; i < c->n_steps; i++) {
		if ((i % 64) == 63 && (rc = qe_check_timeout(c)))
			return rc;
		if (!any_at(l, i) || !any_at(r, i))
			continue;
		for (size_t k = 0; k < r->n_vec; k++) {
			if (!r->vec[k].ok[i])
				continue;
			size_t sig = sg.r[k];
			if (seen[sig] == i + 1)
				return err_duplicate(c, m, &r->vec[k], &r->vec[partner[sig]]);
			seen[sig] = i + 1;
			partner[sig] = k;
		}
		for (size_t k = 0; k < l->n_vec; k++) {
			const qe_series *ls = &l->vec[k];
			size_t sig = sg.l[k];
			if (!ls->ok[i] || seen[sig] != i + 1)
				continue;
			size_t rk = partner[sig];
			const qe_series *rs = &r->vec[rk];
			double vl = ls->v[i], vr = rs->v[i];
			if (swap) {
				vl = rs->v[i];
				vr = ls->v[i];
			}
			bool keep;
			double v = elem_op(op, vl, vr, &keep);
			if (is_bool)
				v = keep ? 1 : 0;
			else if (!keep)
				continue;
			if (cache_r[k] != rk) {
				ts_label *rl;
				size_t rn;
				if ((rc = result_labels(c, e, ls, rs, &rl, &rn)) ||
				    (rc = qe_vbuild_index(c, &b, rl, rn, &cache_idx[k])))
					return rc;
				cache_r[k] = rk;
			}
			if (m->card == QUERY_CARD_ONE_TO_ONE) {
				if (matched[sig] == i + 1)
					return ts_err_set(
					    c->err, TS_EINVAL,
					    "multiple matches for labels: many-to-one "
					    "matching must be explicit "
					    "(group_left/group_right)");
				matched[sig] = i + 1;
			} else if (b.s[cache_idx[k]].ok[i]) {
				return ts_err_set(c->err, TS_EINVAL,
						  "multiple matches for labels: grouping labels "
						  "must ensure unique matches");
			}
			if ((rc = qe_vbuild_set(c, &b, cache_idx[k], i, v)))
				return rc;
		}
	}
	qe_vbuild_finish(&b, out);
	return TS_OK;
}

/* ---------------------------------------------------------------- entry point */

int qe_eval_binary(qe_ctx *c, const query_expr *e, qe_value *out)
{
	qe_value l, r;
	int rc = qe_eval(c, e->binary.lhs, &l);
	if (rc)
		return rc;
	if ((rc = qe_eval(c, e->binary.rhs, &r)))
		return rc;
	uint64_t held = qe_value_points(c, &l) + qe_value_points(c, &r);
	memset(out, 0, sizeof(*out));
	if (l.type == QUERY_VALUE_SCALAR && r.type == QUERY_VALUE_SCALAR)
		rc = scalar_scalar(c, e, &l, &r, out);
	else if (l.type == QUERY_VALUE_VECTOR && r.type == QUERY_VALUE_SCALAR)
		rc = vector_scalar(c, e, &l, r.scalar, false, out);
	else if (l.type == QUERY_VALUE_SCALAR && r.type == QUERY_VALUE_VECTOR)
		rc = vector_scalar(c, e, &r, l.scalar, true, out);
	else if (l.type == QUERY_VALUE_VECTOR && r.type == QUERY_VALUE_VECTOR && e->binary.matching)
		rc = query_binop_is_set(e->binary.op) ? set_op(c, e, &l, &r, out)
						      : vector_vector(c, e, &l, &r, out);
	else
		rc = ts_err_set(c->err, TS_EINVAL, "binary operator %s on %s and %s",
				query_binop_str(e->binary.op), query_value_type_name(l.type),
				query_value_type_name(r.type));
	if (rc == TS_OK)
		qe_sub_samples(c, held);
	return rc;
}
