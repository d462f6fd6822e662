/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval_agg.c: PromQL aggregations (sum avg count min max group stddev stdvar topk bottomk
 * quantile count_values) with by/without, as Prometheus 2.42's aggregation().
 *
 * Grouping: `by (l...)` keeps exactly the listed labels (also __name__ if listed);
 * `without (l...)` drops them and __name__. The group of a series is computed once;
 * every step then folds the present elements, in input order, into their groups, which
 * are emitted in order of first appearance at that step (Prometheus' orderedResult).
 *
 * Float semantics are 2.42's, not later versions': sum is a plain running sum (no Kahan),
 * avg the incremental mean `mean += v/n - mean/n` with the infinity special cases, stddev
 * and stdvar Welford's update without compensation, min/max replace a NaN by any later
 * value, count_values formats values like Go's strconv.FormatFloat(v, 'f', -1, 64).
 * topk/bottomk keep per-group heaps driven exactly like Go's container/heap with
 * Prometheus' comparators (NaN is "smallest"), so the same elements win among ties; the
 * parameter is read per step, truncated to int64 ("Scalar value %v overflows int64"
 * when it does not fit) and k < 1 gives nothing.
 */
#include "query/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- Go-style sorting */

int qe_sort_go(qe_ctx *c, size_t *items, size_t n, qe_less_fn less, const void *ctx)
{
	if (n <= 12) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && less(ctx, items[j], items[j - 1]); j--) {
				size_t t = items[j];
				items[j] = items[j - 1];
				items[j - 1] = t;
			}
		return TS_OK;
	}
	size_t *tmp = qe_alloc(c, n * sizeof(*tmp));
	if (!tmp)
		return qe_nomem(c);
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, o = lo;
			while (a < mid && b < hi)
				tmp[o++] = less(ctx, items[b], items[a]) ? items[b++] : items[a++];
			while (a < mid)
				tmp[o++] = items[a++];
			while (b < hi)
				tmp[o++] = items[b++];
		}
		memcpy(items, tmp, n * sizeof(*items));
	}
	return TS_OK;
}

/* ---------------------------------------------------------------- heaps (container/heap) */

typedef struct heap_ctx {
	const double *v; /* value of each item (series index) */
	bool reverse;    /* bottomk: vectorByReverseValueHeap */
} heap_ctx;

static bool heap_less(const void *vctx, size_t a, size_t b)
{
	const heap_ctx *h = vctx;
	if (isnan(h->v[a]))
		return true;
	return h->reverse ? h->v[a] > h->v[b] : h->v[a] < h->v[b];
}

static void heap_up(const heap_ctx *h, size_t *d, size_t j)
{
	while (j > 0) {
		size_t i = (j - 1) / 2;
		if (!heap_less(h, d[j], d[i]))
			break;
		size_t t = d[i];
		d[i] = d[j];
		d[j] = t;
		j = i;
	}
}

static void heap_down(const heap_ctx *h, size_t *d, size_t i, size_t n)
{
	for (;;) {
		size_t j1 = 2 * i + 1;
		if (j1 >= n)
			break;
		size_t j = j1;
		if (j1 + 1 < n && heap_less(h, d[j1 + 1], d[j1]))
			j = j1 + 1;
		if (!heap_less(h, d[j], d[i]))
			break;
		size_t t = d[i];
		d[i] = d[j];
		d[j] = t;
		i = j;
	}
}

/* heap.Pop followed by heap.Push(x), as Prometheus does when a group's heap is full. */
static void heap_replace(const heap_ctx *h, size_t *d, size_t n, size_t x)
{
	size_t last = n - 1;
	size_t t = d[0];
	d[0] = d[last];
	d[last] = t;
	heap_down(h, d, 0, last);
	d[last] = x;
	heap_up(h, d, last);
}

/* Sort order of the output: sort.Sort(sort.Reverse(heap)). */
static bool heap_rev_less(const void *vctx, size_t a, size_t b)
{
	return heap_less(vctx, b, a);
}

/* ---------------------------------------------------------------- grouping */

typedef struct agg {
	qe_ctx *c;
	const query_expr *e;
	const char **grouping; /* sorted */
	size_t n_grouping;
	const qe_value *in;
	size_t *grp;   /* group of each input series */
	ts_label **gl; /* labels of each group */
	size_t *gn;
	size_t n_groups;
	qe_vbuild out;
	size_t *gidx; /* output index of each group, SIZE_MAX until used */
} agg;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int group_labels(agg *a, const ts_label *l, size_t n, ts_label **out, size_t *n_out)
{
	if (a->e->agg.is_without)
		return qe_labels_filter(a->c, l, n, a->grouping, a->n_grouping, false, true, out,
					n_out);
	return qe_labels_filter(a->c, l, n, a->grouping, a->n_grouping, true, false, out, n_out);
}

static int build_groups(agg *a)
{
	qe_ctx *c = a->c;
	const qe_value *in = a->in;
	qe_lmap m;
	int rc = qe_lmap_init(c, &m, in->n_vec);
	if (rc)
		return rc;
	a->grp = qe_alloc(c, (in->n_vec + 1) * sizeof(size_t));
	a->gl = qe_alloc(c, (in->n_vec + 1) * sizeof(ts_label *));
	a->gn = qe_alloc(c, (in->n_vec + 1) * sizeof(size_t));
	a->gidx = qe_alloc(c, (in->n_vec + 1) * sizeof(size_t));
	if (!a->grp || !a->gl || !a->gn || !a->gidx)
		return qe_nomem(c);
	for (size_t k = 0; k < in->n_vec; k++) {
		ts_label *l;
		size_t n;
		bool is_new;
		if ((rc = group_labels(a, in->vec[k].labels, in->vec[k].n_labels, &l, &n)) ||
		    (rc = qe_lmap_get(c, &m, l, n, &a->grp[k], &is_new)))
			return rc;
		if (is_new) {
			a->gl[a->grp[k]] = l;
			a->gn[a->grp[k]] = n;
			a->gidx[a->grp[k]] = SIZE_MAX;
		}
	}
	a->n_groups = m.n;
	return TS_OK;
}

static int emit(agg *a, size_t g, size_t i, double v)
{
	if (a->gidx[g] == SIZE_MAX) {
		int rc = qe_vbuild_index(a->c, &a->out, a->gl[g], a->gn[g], &a->gidx[g]);
		if (rc)
			return rc;
	}
	return qe_vbuild_set(a->c, &a->out, a->gidx[g], i, v);
}

/* ---------------------------------------------------------------- simple aggregations */

static int fold_simple(agg *a)
{
	qe_ctx *c = a->c;
	query_aggop op = a->e->agg.op;
	size_t ng = a->n_groups + 1;
	double *val = qe_alloc(c, ng * sizeof(double)), *mean = qe_alloc(c, ng * sizeof(double));
	size_t *cnt = qe_alloc(c, ng * sizeof(size_t)), *stamp = qe_alloc(c, ng * sizeof(size_t));
	size_t *order = qe_alloc(c, ng * sizeof(size_t));
	if (!val || !mean || !cnt || !stamp || !order)
		return qe_nomem(c);
	for (size_t i = 0; i < c->n_steps; i++) {
		size_t n_order = 0;
		int rc;
		if ((i % 64) == 63 && (rc = qe_check_timeout(c)))
			return rc;
		for (size_t k = 0; k < a->in->n_vec; k++) {
			const qe_series *s = &a->in->vec[k];
			if (!s->ok[i])
				continue;
			double v = s->v[i];
			size_t g = a->grp[k];
			if (stamp[g] != i + 1) {
				stamp[g] = i + 1;
				order[n_order++] = g;
				val[g] = v;
				mean[g] = v;
				cnt[g] = 1;
				if (op == QUERY_AGG_STDDEV || op == QUERY_AGG_STDVAR)
					val[g] = 0;
				else if (op == QUERY_AGG_GROUP)
					val[g] = 1;
				continue;
			}
			switch (op) {
			case QUERY_AGG_SUM: val[g] += v; break;
			case QUERY_AGG_AVG: {
				cnt[g]++;
				double m = mean[g];
				if (isinf(m)) {
					if (isinf(v) && (m > 0) == (v > 0))
						break;
					if (!isinf(v) && !isnan(v))
						break;
				}
				mean[g] += v / (double)cnt[g] - m / (double)cnt[g];
				break;
			}
			case QUERY_AGG_MAX:
				if (val[g] < v || isnan(val[g]))
					val[g] = v;
				break;
			case QUERY_AGG_MIN:
				if (val[g] > v || isnan(val[g]))
					val[g] = v;
				break;
			case QUERY_AGG_COUNT: cnt[g]++; break;
			case QUERY_AGG_STDDEV:
			case QUERY_AGG_STDVAR: {
				cnt[g]++;
				double delta = v - mean[g];
				mean[g] += delta / (double)cnt[g];
				val[g] += delta * (v - mean[g]);
				break;
			}
			default: break; /* group */
			}
		}
		for (size_t j = 0; j < n_order; j++) {
			size_t g = order[j];
			double v = val[g];
			switch (op) {
			case QUERY_AGG_AVG: v = mean[g]; break;
			case QUERY_AGG_COUNT: v = (double)cnt[g]; break;
			case QUERY_AGG_STDVAR: v = val[g] / (double)cnt[g]; break;
			case QUERY_AGG_STDDEV: v = sqrt(val[g] / (double)cnt[g]); break;
			default: break;
			}
			if ((rc = emit(a, g, i, v)))
				return rc;
		}
	}
	return TS_OK;
}

/* ---------------------------------------------------------------- topk, bottomk, quantile */

/* Prometheus' convertibleToInt64 bounds. */
#define QE_MAX_INT64_F 9223372036854774784.0
#define QE_MIN_INT64_F (-9223372036854775808.0)

static int fold_select(agg *a, const double *param)
{
	qe_ctx *c = a->c;
	query_aggop op = a->e->agg.op;
	const qe_value *in = a->in;
	size_t nv = in->n_vec, ng = a->n_groups + 1;
	/* Per group: a slice of `items` holding series indexes (heap or quantile inputs). */
	size_t *start = qe_alloc(c, ng * sizeof(size_t)), *len = qe_alloc(c, ng * sizeof(size_t));
	size_t *gsize = qe_alloc(c, ng * sizeof(size_t)), *stamp = qe_alloc(c, ng * sizeof(size_t));
	size_t *order = qe_alloc(c, ng * sizeof(size_t)),
	       *items = qe_alloc(c, (nv + 1) * sizeof(size_t));
	size_t *sidx = qe_alloc(c, (nv + 1) * sizeof(size_t)); /* output index per series */
	double *vals = qe_alloc(c, (nv + 1) * sizeof(double)),
	       *qv = qe_alloc(c, (nv + 1) * sizeof(double));
	if (!start || !len || !gsize || !stamp || !order || !items || !sidx || !vals || !qv)
		return qe_nomem(c);
	for (size_t k = 0; k < nv; k++) {
		gsize[a->grp[k]]++;
		sidx[k] = SIZE_MAX;
	}
	for (size_t g = 0, off = 0; g < a->n_groups; g++) {
		start[g] = off;
		off += gsize[g];
	}
	heap_ctx hc = {.v = vals, .reverse = op == QUERY_AGG_BOTTOMK};
	int rc;
	for (size_t i = 0; i < c->n_steps; i++) {
		if ((i % 64) == 63 && (rc = qe_check_timeout(c)))
			return rc;
		int64_t k = 0;
		if (op != QUERY_AGG_QUANTILE) {
			double f = param[i];
			if (!(f <= QE_MAX_INT64_F && f >= QE_MIN_INT64_F)) {
				ts_buf b;
				ts_buf_init(&b, 64);
				query_format_float(&b, f);
				rc =
				    ts_err_set(c->err, TS_EINVAL, "Scalar value %s overflows int64",
					       b.data ? b.data : "NaN");
				ts_buf_free(&b);
				return rc;
			}
			k = (int64_t)f;
			if (k < 1)
				continue;
		}
		size_t n_order = 0;
		for (size_t s = 0; s < nv; s++) {
			const qe_series *sr = &in->vec[s];
			if (!sr->ok[i])
				continue;
			size_t g = a->grp[s];
			double v = sr->v[i];
			vals[s] = v;
			size_t *h = items + start[g];
			if (stamp[g] != i + 1) {
				stamp[g] = i + 1;
				order[n_order++] = g;
				h[0] = s;
				len[g] = 1;
				continue;
			}
			if (op == QUERY_AGG_QUANTILE) {
				h[len[g]++] = s;
				continue;
			}
			double top = vals[h[0]];
			bool better = op == QUERY_AGG_TOPK ? top < v : top > v;
			if ((int64_t)len[g] < k || better || isnan(top)) {
				if ((int64_t)len[g] == k) {
					if (k == 1) {
						h[0] = s;
						continue;
					}
					heap_replace(&hc, h, len[g], s);
				} else {
					h[len[g]++] = s;
					heap_up(&hc, h, len[g] - 1);
				}
			}
		}
		for (size_t j = 0; j < n_order; j++) {
			size_t g = order[j], *h = items + start[g];
			if (op == QUERY_AGG_QUANTILE) {
				for (size_t x = 0; x < len[g]; x++)
					qv[x] = vals[h[x]];
				if ((rc = emit(a, g, i, qe_quantile(param[i], qv, len[g]))))
					return rc;
				continue;
			}
			if (len[g] > 1 && (rc = qe_sort_go(c, h, len[g], heap_rev_less, &hc)))
				return rc;
			for (size_t x = 0; x < len[g]; x++) {
				size_t s = h[x];
				if (sidx[s] == SIZE_MAX &&
				    (rc = qe_vbuild_index(c, &a->out, in->vec[s].labels,
							  in->vec[s].n_labels, &sidx[s])))
					return rc;
				if ((rc = qe_vbuild_set(c, &a->out, sidx[s], i, vals[s])))
					return rc;
			}
		}
	}
	return TS_OK;
}

/* ---------------------------------------------------------------- count_values */

static int fold_count_values(agg *a, const char *label)
{
	qe_ctx *c = a->c;
	const qe_value *in = a->in;
	if (!ts_label_name_valid(label, strlen(label))) {
		ts_buf b;
		ts_buf_init(&b, 1024);
		query_quote(&b, label, strlen(label));
		int rc = ts_err_set(c->err, TS_EINVAL, "invalid label name %s",
				    b.data ? b.data : "\"\"");
		ts_buf_free(&b);
		return rc;
	}
	/* by (...): the value label joins the grouping labels. */
	const char **grouping = a->grouping;
	size_t n_grouping = a->n_grouping;
	if (!a->e->agg.is_without) {
		grouping = qe_alloc(c, (n_grouping + 1) * sizeof(*grouping));
		if (!grouping)
			return qe_nomem(c);
		if (n_grouping)
			memcpy(grouping, a->grouping, n_grouping * sizeof(*grouping));
		grouping[n_grouping++] = label;
	}
	a->grouping = grouping;
	a->n_grouping = n_grouping;
	qe_lmap m;
	int rc = qe_lmap_init(c, &m, in->n_vec);
	if (rc)
		return rc;
	size_t cap = 0, *cnt = NULL, *stamp = NULL, *order = NULL;
	size_t *last_g = qe_alloc(c, (in->n_vec + 1) * sizeof(size_t));
	double *last_v = qe_alloc(c, (in->n_vec + 1) * sizeof(double));
	if (!last_g || !last_v)
		return qe_nomem(c);
	for (size_t k = 0; k < in->n_vec; k++)
		last_g[k] = SIZE_MAX;
	for (size_t i = 0; i < c->n_steps; i++) {
		size_t n_order = 0;
		if ((i % 64) == 63 && (rc = qe_check_timeout(c)))
			return rc;
		for (size_t k = 0; k < in->n_vec; k++) {
			const qe_series *s = &in->vec[k];
			if (!s->ok[i])
				continue;
			size_t g;
			if (last_g[k] != SIZE_MAX &&
			    !memcmp(&last_v[k], &s->v[i], sizeof(double))) {
				g = last_g[k];
			} else {
				char buf[400];
				qe_format_float_f(s->v[i], buf, sizeof(buf));
				char *val = query_arena_strdup(c->arena, buf);
				ts_label *l, *gl;
				size_t n, gn;
				bool is_new;
				if (!val)
					return qe_nomem(c);
				if ((rc = qe_labels_set(c, s->labels, s->n_labels, label, val, &l,
							&n)) ||
				    (rc = group_labels(a, l, n, &gl, &gn)) ||
				    (rc = qe_lmap_get(c, &m, gl, gn, &g, &is_new)))
					return rc;
				last_g[k] = g;
				last_v[k] = s->v[i];
			}
			if (g >= cap) {
				size_t nc = cap ? cap * 2 : 64;
				while (nc <= g)
					nc *= 2;
				size_t *ncnt = qe_alloc(c, nc * sizeof(size_t));
				size_t *nst = qe_alloc(c, nc * sizeof(size_t));
				size_t *nord = qe_alloc(c, nc * sizeof(size_t));
				size_t *ngidx = qe_alloc(c, nc * sizeof(size_t));
				if (!ncnt || !nst || !nord || !ngidx)
					return qe_nomem(c);
				if (cap) {
					memcpy(ncnt, cnt, cap * sizeof(size_t));
					memcpy(nst, stamp, cap * sizeof(size_t));
					memcpy(nord, order, cap * sizeof(size_t));
					memcpy(ngidx, a->gidx, cap * sizeof(size_t));
				}
				for (size_t x = cap; x < nc; x++)
					ngidx[x] = SIZE_MAX;
				cnt = ncnt, stamp = nst, order = nord, a->gidx = ngidx;
				cap = nc;
			}
			if (stamp[g] != i + 1) {
				stamp[g] = i + 1;
				cnt[g] = 0;
				order[n_order++] = g;
			}
			cnt[g]++;
		}
		for (size_t j = 0; j < n_order; j++) {
			size_t g = order[j];
			if (a->gidx[g] == SIZE_MAX &&
			    (rc = qe_vbuild_index(c, &a->out, m.keys[g], m.key_n[g], &a->gidx[g])))
				return rc;
			if ((rc = qe_vbuild_set(c, &a->out, a->gidx[g], i, (double)cnt[g])))
				return rc;
		}
	}
	return TS_OK;
}

/* ---------------------------------------------------------------- entry point */

int qe_eval_aggregate(qe_ctx *c, const query_expr *e, qe_value *out)
{
	qe_value pv, v;
	memset(&pv, 0, sizeof(pv));
	int rc;
	if (e->agg.param && (rc = qe_eval(c, e->agg.param, &pv)))
		return rc;
	if ((rc = qe_eval(c, e->agg.expr, &v)))
		return rc;
	uint64_t held = qe_value_points(c, &pv) + qe_value_points(c, &v);
	agg a = {.c = c, .e = e, .in = &v, .n_grouping = e->agg.n_grouping};
	a.grouping = qe_alloc(c, (e->agg.n_grouping + 1) * sizeof(char *));
	if (!a.grouping)
		return qe_nomem(c);
	if (e->agg.n_grouping)
		memcpy(a.grouping, e->agg.grouping, e->agg.n_grouping * sizeof(char *));
	qsort(a.grouping, a.n_grouping, sizeof(char *), cmp_str);
	if ((rc = qe_vbuild_init(c, &a.out, v.n_vec)))
		return rc;
	switch (e->agg.op) {
	case QUERY_AGG_COUNT_VALUES:
		if (pv.type != QUERY_VALUE_STRING)
			return ts_err_set(c->err, TS_EINVAL, "count_values needs a string");
		rc = fold_count_values(&a, pv.str);
		break;
	case QUERY_AGG_TOPK:
	case QUERY_AGG_BOTTOMK:
	case QUERY_AGG_QUANTILE:
		if (pv.type != QUERY_VALUE_SCALAR)
			return ts_err_set(c->err, TS_EINVAL, "%s needs a scalar parameter",
					  query_aggop_str(e->agg.op));
		rc = build_groups(&a);
		if (rc == TS_OK)
			rc = fold_select(&a, pv.scalar);
		break;
	default:
		rc = build_groups(&a);
		if (rc == TS_OK)
			rc = fold_simple(&a);
		break;
	}
	if (rc)
		return rc;
	qe_vbuild_finish(&a.out, out);
	qe_sub_samples(c, held);
	return TS_OK;
}
