/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tiers.c: the tier planner: range-vector functions answered from the 1m/1h rollup
 * tiers (tsdb.h "tiers") wherever that gives the raw answer.
 *
 * A call f(sel[r]) is routable when f is count/sum/avg/min/max/last/present_over_time,
 * rate, increase or delta, its argument is a plain range selector (offset allowed, no
 * @), the engine is not raw-only (query_options.is_raw_only) and the call is not inside
 * an @-pinned subquery. The plan is made per step. Step i (window [lo, hi], hi = step
 * time - offset, lo = hi - r) reads tier T (resolution R) when
 *  - r and hi are multiples of R: the window is then exactly the buckets starting in
 *    [lo, hi - R] plus the sample at exactly hi, which is the next bucket's first sample
 *    when that bucket's first_t is hi (docs/formats/block.md section 9);
 *  - T's blocks cover [lo, hi + R - 1] (tsdb_querier_covers, on the tier querier's own
 *    block set, so retention or compaction cannot change what the plan saw);
 *  - the head holds nothing at or before hi + R - 1 (late samples the tier lacks).
 * The coarsest such tier wins (1h, then 1m); other steps read raw samples, over the span
 * of the raw steps only, so a range wholly answered from tiers decodes no raw chunk.
 *
 * Exactness (every routed answer equals raw within 1e-9 relative, checked by
 * tests/query/test_tiers.c): count, present, last, min and max (the NaN rule composes
 * over buckets), delta (first and last sample with their times and the count are
 * stored) are the raw computation's own operations. rate/increase add the counter
 * corrections in time order: per bucket its `resets`, between buckets prev.last when
 * next.first < prev.last; that is raw's sequence of additions unless a bucket holds two
 * or more drops, where the grouping can round differently. Each of raw's and the
 * tier's k additions rounds by at most eps/2 of the magnitude (|last - first| + the
 * corrections), so they differ by at most k * eps * magnitude; k is bounded by the
 * count - 1 of every bucket with resets. The step reads raw unless that bound stays
 * under 5e-10 of the result (half the promised 1e-9). A
 * counter window with a negative value reads raw (a zero drop could hide in a bucket).
 * sum/avg combine the buckets' compensated sums; both answers are within
 * 2 eps (|S| + sum |v|) of the exact sum, so a step reads raw when sum |v| (bounded
 * from count x max(|min|, |max|)) exceeds 1e5 |S|, or anything is infinite. Such
 * data-dependent fallbacks are decided for all series of a step at once, before the raw
 * read. Not routed: functions the rollups cannot answer (changes, resets, irate, idelta,
 * deriv, stddev, quantile, ...), subquery arguments, windows or times off the grid.
 *
 * Reporting: each tier read sets its bit in query_stats.tiers_read; qe_tiers_name makes
 * the response's tier string ("1h", "1h+raw", ...).
 */
#include "query/eval.h"

#include <math.h>
#include <string.h>

#define TIER_EPS      2.220446049250313e-16 /* DBL_EPSILON */
#define TIER_REL      1e-10                 /* error budget: a tenth of the promised 1e-9 */
#define TIER_RATE_REL 5e-10 /* rate/increase: half of it, against a bound on both errors */
#define TIER_SUM_MAX  1e5   /* sum |v| / |S| beyond which sums read raw */

/* A step's plan: RAW (0), a tier, or REDO (planned on a tier, but inexact there). */
#define PLAN_REDO 0xff

const char *qe_tiers_name(unsigned mask)
{
	static const char *const names[8] = {"raw", "raw",    "1m",    "1m+raw",
					     "1h",  "1h+raw", "1h+1m", "1h+1m+raw"};
	return names[mask & 7];
}

static bool is_routable_fn(query_func_id id)
{
	switch (id) {
	case QUERY_FN_COUNT_OVER_TIME:
	case QUERY_FN_SUM_OVER_TIME:
	case QUERY_FN_AVG_OVER_TIME:
	case QUERY_FN_MIN_OVER_TIME:
	case QUERY_FN_MAX_OVER_TIME:
	case QUERY_FN_LAST_OVER_TIME:
	case QUERY_FN_PRESENT_OVER_TIME:
	case QUERY_FN_RATE:
	case QUERY_FN_INCREASE:
	case QUERY_FN_DELTA: return true;
	default: return false;
	}
}

static int64_t floor_mod(int64_t a, int64_t m)
{
	int64_t r = a % m;
	return r < 0 ? r + m : r;
}

/* ---------------------------------------------------------------- one window from rows */

/* Index of the first row with t_ms >= t. */
static size_t rows_lower(const tsdb_rollup *r, size_t n, int64_t t)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (r[mid].t_ms < t)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

static double kahan_inc(double inc, double sum, double *c)
{
	double t = sum + inc;
	if (fabs(sum) >= fabs(inc))
		*c += (sum - t) + inc;
	else
		*c += (inc - t) + sum;
	return t;
}

static double fold_extreme(double m, double v, bool is_max)
{
	return (is_max ? v > m : v < m) || isnan(m) ? v : m;
}

/* sum/avg from the buckets' sums; -1 when the answer could differ from raw's. */
static int tier_sum(const tsdb_rollup *r, size_t a, size_t b, bool has_x, double xv, double count,
		    bool is_avg, double *out)
{
	double sum = 0, cmp = 0, mag = 0;
	bool has_nan = false;
	for (size_t j = a; j < b; j++) {
		has_nan |= isnan(r[j].sum);
		sum = kahan_inc(r[j].sum, sum, &cmp);
		double m = fabs(r[j].min) > fabs(r[j].max) ? fabs(r[j].min) : fabs(r[j].max);
		mag += r[j].count * m;
	}
	if (has_x) {
		has_nan |= isnan(xv);
		sum = kahan_inc(xv, sum, &cmp);
		mag += fabs(xv);
	}
	if (has_nan) { /* a NaN (or +Inf with -Inf) makes raw's sum and mean NaN as well */
		*out = NAN;
		return 1;
	}
	double s = isinf(sum) ? sum : sum + cmp;
	if (!isfinite(s) || !isfinite(mag) || !(mag <= TIER_SUM_MAX * fabs(s)))
		return -1;
	*out = is_avg ? s / count : s;
	return 1;
}

/* rate/increase/delta: raw's extrapolatedRate on the window's first/last sample. */
static int tier_rate(const tsdb_rollup *r, size_t a, size_t b, bool has_x, double xv, int64_t lo,
		     int64_t hi, double range_s, double count, query_func_id id, double *out)
{
	if (count < 2)
		return 0;
	bool is_counter = id != QUERY_FN_DELTA;
	double first_v = a < b ? r[a].first : xv;
	int64_t first_t = a < b ? r[a].first_t_ms : hi;
	double last_v = has_x ? xv : r[b - 1].last;
	int64_t last_t = has_x ? hi : r[b - 1].last_t_ms;
	double result = last_v - first_v;
	if (is_counter) {
		double mag = fabs(result), drops = 0;
		bool is_grouped = false;
		for (size_t j = a; j < b; j++) {
			if (r[j].min < 0)
				return -1;
			if (j > a && r[j].first < r[j - 1].last) {
				result += r[j - 1].last;
				mag += fabs(r[j - 1].last);
				drops++;
			}
			if (r[j].resets != 0) {
				result += r[j].resets;
				mag += fabs(r[j].resets);
				drops += r[j].count - 1;
				is_grouped |= r[j].count > 2;
			}
		}
		if (has_x) {
			if (xv < 0)
				return -1;
			if (a < b && xv < r[b - 1].last) {
				result += r[b - 1].last;
				mag += fabs(r[b - 1].last);
				drops++;
			}
		}
		if (is_grouped && !(drops * TIER_EPS * mag <= TIER_RATE_REL * fabs(result)))
			return -1;
	}
	*out = qe_extrapolate_rate(result, first_v, first_t, last_t, (size_t)count, lo, hi, range_s,
				   is_counter, id == QUERY_FN_RATE);
	return 1;
}

/*
 * Function id over the window [lo, hi] from a series' rows of resolution res (lo and hi
 * multiples of res): 1 and *out set, 0 when raw gives no value either, -1 when the rows
 * cannot give raw's answer.
 */
static int tier_apply(query_func_id id, const tsdb_rollup *r, size_t n, int64_t res, int64_t lo,
		      int64_t hi, double range_s, double *out)
{
	size_t a = rows_lower(r, n, lo + res - 1), b = rows_lower(r, n, hi);
	bool has_x = b < n && r[b].t_ms == hi + res - 1 && r[b].first_t_ms == hi;
	double xv = has_x ? r[b].first : 0;
	if (a == b && !has_x)
		return 0;
	double count = has_x;
	for (size_t j = a; j < b; j++)
		count += r[j].count;
	switch (id) {
	case QUERY_FN_COUNT_OVER_TIME: *out = count; return 1;
	case QUERY_FN_PRESENT_OVER_TIME: *out = 1; return 1;
	case QUERY_FN_LAST_OVER_TIME: *out = has_x ? xv : r[b - 1].last; return 1;
	case QUERY_FN_MAX_OVER_TIME:
	case QUERY_FN_MIN_OVER_TIME: {
		bool is_max = id == QUERY_FN_MAX_OVER_TIME;
		double m = a < b ? (is_max ? r[a].max : r[a].min) : xv;
		for (size_t j = a + 1; j < b; j++)
			m = fold_extreme(m, is_max ? r[j].max : r[j].min, is_max);
		if (has_x && a < b)
			m = fold_extreme(m, xv, is_max);
		*out = m;
		return 1;
	}
	case QUERY_FN_SUM_OVER_TIME:
	case QUERY_FN_AVG_OVER_TIME:
		return tier_sum(r, a, b, has_x, xv, count, id == QUERY_FN_AVG_OVER_TIME, out);
	case QUERY_FN_RATE:
	case QUERY_FN_INCREASE:
	case QUERY_FN_DELTA: return tier_rate(r, a, b, has_x, xv, lo, hi, range_s, count, id, out);
	default: return -1;
	}
}

/* ---------------------------------------------------------------- reading a tier */

/* One input series' answers at the steps planned on a tier. */
typedef struct tseries {
	ts_label *labels; /* arena copies (the tier querier closes first) */
	size_t n_labels;
	double *v; /* n_steps */
	bool *ok;
} tseries;

typedef struct tread {
	int tier;
	tseries *s;
	size_t n;
} tread;

typedef struct tplan {
	const query_expr *call, *sel; /* the call and its VECTOR_SELECTOR */
	int64_t range_ms;
	uint8_t *plan; /* per step: TSDB_TIER_* or PLAN_REDO */
} tplan;

static int copy_labels(qe_ctx *c, const ts_label *l, size_t n, ts_label **out)
{
	ts_label *o = qe_alloc(c, (n ? n : 1) * sizeof(*o));
	if (!o)
		return qe_nomem(c);
	for (size_t i = 0; i < n; i++) {
		o[i].name = query_arena_strdup(c->arena, l[i].name);
		o[i].value = query_arena_strdup(c->arena, l[i].value);
		if (!o[i].name || !o[i].value)
			return qe_nomem(c);
	}
	*out = o;
	return TS_OK;
}

/* Evaluate one series of tier querier tq at its planned steps; flags inexact steps. */
static int tier_series(qe_ctx *c, const tplan *p, tsdb_querier *tq, tsdb_series *ts, int tier,
		       int64_t mint, int64_t maxt, tread *tr)
{
	tsdb_rollup_iter *it = NULL;
	int rc = tsdb_rollup_iter_open(tq, ts, mint, maxt, &it, c->err);
	if (rc)
		return rc;
	tsdb_rollup *rows = NULL;
	size_t n = 0, cap = 0;
	tsdb_rollup row;
	int got;
	while ((got = tsdb_rollup_iter_next(it, &row)) == 1) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			tsdb_rollup *nr = ts_realloc(rows, nc * sizeof(*nr));
			if (!nr) {
				got =
				    ts_err_set(c->err, TS_ENOMEM, "out of memory reading rollups");
				break;
			}
			rows = nr;
			cap = nc;
		}
		rows[n++] = row;
	}
	tsdb_rollup_iter_close(it);
	if (got < 0) {
		ts_free(rows);
		if (c->err && c->err->code != got)
			ts_err_set(c->err, got, "reading rollup rows failed");
		return got;
	}
	if (n == 0) {
		ts_free(rows);
		return TS_OK;
	}
	c->stats->samples_loaded += n;
	if ((rc = qe_add_samples(c, n))) {
		ts_free(rows);
		return rc;
	}
	tseries *s = &tr->s[tr->n];
	memset(s, 0, sizeof(*s));
	s->v = qe_alloc(c, c->n_steps * sizeof(*s->v));
	s->ok = qe_alloc(c, c->n_steps * sizeof(*s->ok));
	rc = s->v && s->ok ? TS_OK : qe_nomem(c);
	int64_t res = tsdb_tier_resolution_ms(tier);
	double range_s = (double)p->range_ms / 1000;
	for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
		if (p->plan[i] != tier)
			continue;
		int64_t hi = qe_ref_time(c, &p->sel->vs.mods, i);
		int r = tier_apply(p->call->call.func->id, rows, n, res, hi - p->range_ms, hi,
				   range_s, &s->v[i]);
		if (r < 0)
			p->plan[i] = PLAN_REDO;
		s->ok[i] = r > 0;
	}
	qe_sub_samples(c, n);
	ts_free(rows);
	if (rc)
		return rc;
	size_t nl;
	const ts_label *l = tsdb_series_labels(ts, &nl);
	if ((rc = copy_labels(c, l, nl, &s->labels)))
		return rc;
	s->n_labels = nl;
	tr->n++;
	c->stats->series_loaded++;
	return TS_OK;
}

/*
 * Plan the steps tier can answer among those still raw, and evaluate them. tq is
 * opened here and closed before returning (labels are copied).
 */
static int tier_read(qe_ctx *c, tplan *p, int tier, int64_t head_min, tread *tr)
{
	int64_t res = tsdb_tier_resolution_ms(tier);
	memset(tr, 0, sizeof(*tr));
	tr->tier = tier;
	if (p->range_ms % res != 0)
		return TS_OK;
	int64_t lo_min = INT64_MAX, hi_max = INT64_MIN;
	for (size_t i = 0; i < c->n_steps; i++) {
		int64_t hi = qe_ref_time(c, &p->sel->vs.mods, i);
		if (p->plan[i] != TSDB_TIER_RAW || floor_mod(hi, res) != 0 ||
		    hi > INT64_MAX - res || hi + res - 1 >= head_min)
			continue;
		lo_min = hi - p->range_ms < lo_min ? hi - p->range_ms : lo_min;
		hi_max = hi > hi_max ? hi : hi_max;
	}
	if (lo_min > hi_max)
		return TS_OK;
	tsdb_querier *tq = NULL;
	int rc =
	    tsdb_querier_open_tier(c->eng->opt.db, tier, lo_min, hi_max + res - 1, &tq, c->err);
	if (rc)
		return rc;
	bool is_all = tsdb_querier_covers(tq, tier, lo_min, hi_max + res - 1);
	int64_t mint = INT64_MAX, maxt = INT64_MIN; /* bucket ends the planned steps read */
	for (size_t i = 0; i < c->n_steps; i++) {
		int64_t hi = qe_ref_time(c, &p->sel->vs.mods, i), lo = hi - p->range_ms;
		if (p->plan[i] != TSDB_TIER_RAW || floor_mod(hi, res) != 0 || hi > hi_max)
			continue; /* hi <= hi_max also keeps hi + res - 1 before the head */
		if (!is_all && !tsdb_querier_covers(tq, tier, lo, hi + res - 1))
			continue;
		p->plan[i] = (uint8_t)tier;
		mint = lo + res - 1 < mint ? lo + res - 1 : mint;
		maxt = hi + res - 1 > maxt ? hi + res - 1 : maxt;
	}
	if (mint > maxt) {
		tsdb_querier_close(tq);
		return TS_OK;
	}
	tsdb_series **sel = NULL;
	size_t n_sel = 0;
	rc = tsdb_select(tq, p->sel->vs.matchers, p->sel->vs.n_matchers, c->eng->opt.max_series,
			 &sel, &n_sel, c->err);
	if (rc == TS_OK && !(tr->s = qe_alloc(c, (n_sel ? n_sel : 1) * sizeof(*tr->s))))
		rc = qe_nomem(c);
	for (size_t k = 0; rc == TS_OK && k < n_sel; k++) {
		if ((rc = qe_check_timeout(c)))
			break;
		rc = tier_series(c, p, tq, sel[k], tier, mint, maxt, tr);
	}
	ts_free(sel);
	tsdb_querier_close(tq);
	return rc;
}

/* ---------------------------------------------------------------- merging */

int qe_tier_range_call(qe_ctx *c, const query_expr *e, qe_value *out, bool *is_done)
{
	*is_done = false;
	if (c->eng->opt.is_raw_only || c->clip_ms != INT64_MAX || e->call.n_args != 1 ||
	    !is_routable_fn(e->call.func->id))
		return TS_OK;
	const query_expr *m = qe_unparen(e->call.args[0]);
	if (m->kind != QUERY_EXPR_MATRIX_SELECTOR || m->matrix.vs->vs.mods.at != QUERY_AT_NONE)
		return TS_OK;
	tplan p = {.call = e, .sel = m->matrix.vs, .range_ms = m->matrix.range_ms};
	if (!(p.plan = qe_alloc(c, c->n_steps)))
		return qe_nomem(c);
	tsdb_stats st;
	tsdb_stats_get(c->eng->opt.db, &st);
	int64_t head_min = st.n_samples ? st.min_t_ms : INT64_MAX;
	tread tr[2];
	memset(tr, 0, sizeof(tr));
	int rc = tier_read(c, &p, TSDB_TIER_1H, head_min, &tr[0]);
	if (rc == TS_OK)
		rc = tier_read(c, &p, TSDB_TIER_1M, head_min, &tr[1]);
	if (rc)
		return rc;
	size_t i0 = SIZE_MAX, i1 = 0, n_tier = 0;
	for (size_t i = 0; i < c->n_steps; i++) {
		if (p.plan[i] == PLAN_REDO)
			p.plan[i] = TSDB_TIER_RAW;
		if (p.plan[i] != TSDB_TIER_RAW) {
			c->stats->tiers_read |= 1u << p.plan[i];
			n_tier++;
			continue;
		}
		i0 = i0 == SIZE_MAX ? i : i0;
		i1 = i;
	}
	if (n_tier == 0)
		return TS_OK; /* the raw path evaluates it all */
	*is_done = true;
	/* Raw samples over the raw steps' windows only. */
	qe_value raw;
	memset(&raw, 0, sizeof(raw));
	if (i0 != SIZE_MAX) {
		qe_ctx sub = *c;
		sub.start_ms = qe_step_time(c, i0);
		sub.end_ms = qe_step_time(c, i1);
		sub.n_steps = i1 - i0 + 1;
		if ((rc = qe_eval_matrix_arg(&sub, e->call.args[0], false, &raw)))
			return rc;
	}
	uint64_t held = qe_value_points(c, &raw);
	query_func_id id = e->call.func->id;
	bool keep_name = id == QUERY_FN_LAST_OVER_TIME;
	size_t cap = raw.n_rng + tr[0].n + tr[1].n;
	qe_series *vec = qe_alloc(c, (cap ? cap : 1) * sizeof(*vec));
	if (!vec)
		return qe_nomem(c);
	size_t w = 0, ri = 0, ti[2] = {0, 0};
	double range_s = (double)p.range_ms / 1000;
	for (;;) {
		/* The smallest label set among the three sorted lists. */
		const ts_label *l = NULL;
		size_t nl = 0;
		if (ri < raw.n_rng) {
			l = raw.rng[ri].labels;
			nl = raw.rng[ri].n_labels;
		}
		for (int k = 0; k < 2; k++) {
			if (ti[k] >= tr[k].n)
				continue;
			const tseries *s = &tr[k].s[ti[k]];
			if (!l || ts_labels_cmp(s->labels, s->n_labels, l, nl) < 0) {
				l = s->labels;
				nl = s->n_labels;
			}
		}
		if (!l)
			break;
		if ((rc = qe_check_timeout(c)))
			return rc;
		const qe_rseries *r = NULL;
		const tseries *ts[2] = {NULL, NULL};
		if (ri < raw.n_rng &&
		    ts_labels_cmp(raw.rng[ri].labels, raw.rng[ri].n_labels, l, nl) == 0)
			r = &raw.rng[ri++];
		for (int k = 0; k < 2; k++)
			if (ti[k] < tr[k].n && ts_labels_cmp(tr[k].s[ti[k]].labels,
							     tr[k].s[ti[k]].n_labels, l, nl) == 0)
				ts[k] = &tr[k].s[ti[k]++];
		qe_series *s = &vec[w];
		memset(s, 0, sizeof(*s));
		uint64_t pts = 0;
		for (size_t i = 0; i < c->n_steps; i++) {
			double v = 0;
			bool has = false;
			if (p.plan[i] == TSDB_TIER_RAW && r) {
				int64_t hi = qe_ref_time(c, &p.sel->vs.mods, i);
				has = qe_range_apply_window(c, id, r, hi - p.range_ms, hi,
							    qe_step_time(c, i), range_s, &v, &rc);
				if (rc)
					return rc;
			} else if (p.plan[i] != TSDB_TIER_RAW) {
				const tseries *t = ts[p.plan[i] == TSDB_TIER_1H ? 0 : 1];
				if (t && t->ok[i]) {
					v = t->v[i];
					has = true;
				}
			}
			if (!has)
				continue;
			if (!s->v && (rc = qe_series_init(c, s)))
				return rc;
			s->v[i] = v;
			s->ok[i] = true;
			pts++;
		}
		if (!pts)
			continue;
		if ((rc = qe_add_samples(c, pts)))
			return rc;
		if ((rc = qe_labels_copy(c, l, nl, !keep_name, &s->labels, &s->n_labels)))
			return rc;
		w++;
	}
	/* 2.42 checks the whole result for repeated label sets. */
	qe_lmap lm;
	if ((rc = qe_lmap_init(c, &lm, w)))
		return rc;
	for (size_t k = 0; k < w; k++) {
		size_t idx;
		bool is_new;
		if ((rc = qe_lmap_get(c, &lm, vec[k].labels, vec[k].n_labels, &idx, &is_new)))
			return rc;
		if (!is_new)
			return qe_err_dup_labelset(c);
	}
	memset(out, 0, sizeof(*out));
	out->type = QUERY_VALUE_VECTOR;
	out->vec = vec;
	out->n_vec = w;
	qe_sub_samples(c, held);
	return TS_OK;
}
