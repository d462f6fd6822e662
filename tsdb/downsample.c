/* SPDX-License-Identifier: Apache-2.0 */
/*
 * downsample.c: building the 1-minute tier from raw blocks and the 1-hour tier from
 * 1-minute blocks.
 *
 * Units. A 1m block covers one raw block range [kD, (k+1)D - 1] (D = block_duration_ms,
 * which must be a multiple of 1 minute); a 1h block covers a day-sized unit: the
 * smallest multiple of D that is >= 24 h and a multiple of 1 h (24 h for D = 2 h). Each
 * unit's rollup block is written once, from the unit's source data read through a
 * querier of the source tier (so raw blocks compacted into longer ones, and overlapping
 * raw blocks, are read merged and de-duplicated like any query).
 *
 * When a unit is built (tsdb_downsample_run): its range ends before the newest sample
 * the store has seen minus the out-of-order window (late samples for it are then
 * rejected), the head holds nothing in it, it lies within the tier's retention, no block
 * of the tier covers it yet (that is what makes the pass idempotent and lets a crash
 * before the rename simply redo the unit), and it has source data: for 1m a raw block
 * overlapping it, for 1h 1m blocks covering every raw block's part of the unit (and at
 * least one 1m block). A unit with source blocks but no samples still gets an (empty)
 * block, so coverage stays contiguous. Blocks are written like every block (temporary
 * directory, fsync, rename; block_write.c) and published under cut_lock with the same
 * wait as a cut (tsdb_int.h), all of one tier at once.
 *
 * Rows: a bucket (t - R, t] with t = S + R - 1 for bucket start S = multiple of R, so
 * buckets never straddle a block range. Column scheme (docs/formats/block.md section 9):
 * count, sum (Kahan-Neumaier, as PromQL's sum_over_time), min and max (PromQL's
 * min/max_over_time NaN rule), first and last values with their times (as ms after S),
 * resets (sum of v[i-1] over consecutive samples inside the bucket with v[i] < v[i-1],
 * PromQL's counter correction) and counter (last + every reset since the series' first
 * sample in the unit: Thanos' running counter; block edges are bridged with first/last).
 * Staleness markers are not samples. 1h rows are combined from 1m rows exactly: resets
 * add the 1m buckets' resets and the drops between consecutive 1m buckets.
 *
 * Late source data (samples accepted after a unit was built: the out-of-order window of
 * a series that had stopped advancing, cut into a later raw block). Every 1m/1h block
 * records in its BUILT meta section the source samples its rows summarize (the sum of
 * its count column) and the source-tier blocks overlapping it when it was built
 * (compaction of 1m/1h blocks carries the union). A block is *fresh* when every
 * source-tier block now overlapping it is one of those, or when this source set was
 * verified: a pass counts the source samples in its range (through a querier, merged
 * and de-duplicated) and finds no more than it summarized (compaction preserves the
 * count; retention only lowers it), or compaction carried freshness from the set it
 * replaced (tsdb_tier_carry_fresh). Verdicts are cached per block in memory
 * (fresh_sig / stale_sig, a signature of the source set), so a set is counted at most
 * once per process. A 1h block is fresh only if the 1m blocks below it are. More source samples
 * than summarized: late samples; tsdb_querier_covers reports no coverage for a stale
 * block (the planner reads the tier below), and refresh_tier rebuilds it once the unit
 * could be built for the first time (outside the out-of-order window, head clear),
 * one block per unit of its range, each listing the stale block in SOURCES: a crash
 * after a rename makes the next open drop the stale block (and run_tier then builds
 * any unit still missing); the swap itself is one block-set replace under cut_lock.
 *
 * Not done here: deleting rollup blocks (retention.c). Blocks written before the BUILT
 * section existed are taken as fresh, and so is a stale block whose source no longer
 * covers its whole range (retention expired part of it: a rebuild would lose rows; it
 * is logged). A late sample whose count is offset by raw
 * samples of the same unit expiring meanwhile goes unnoticed (the raw data is being
 * deleted anyway). Right after an open, a tier whose raw blocks were compacted since
 * it was built does not cover until the first pass has counted it.
 *
 * Tests: tests/tsdb/test_downsample.c.
 */
#include "tsdb/block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STALE_BITS 0x7ff0000000000002ULL
#define DAY_MS     86400000LL

/* -------------------------------------------------------------------------------------
 * Rows
 * ---------------------------------------------------------------------------------- */

typedef struct rows {
	tsdb_rollup *v;
	size_t n, cap;
} rows;

static int rows_push(rows *r, tsdb_rollup **out, ts_err *err)
{
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		tsdb_rollup *v = ts_realloc(r->v, nc * sizeof(*v));
		if (!v)
			return ts_err_set(err, TS_ENOMEM, "out of memory downsampling");
		r->v = v;
		r->cap = nc;
	}
	*out = &r->v[r->n++];
	memset(*out, 0, sizeof(**out));
	return TS_OK;
}

static bool is_stale(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b == STALE_BITS;
}

/* Prometheus' kahanSumInc (Neumaier). */
static double kahan_inc(double inc, double sum, double *c)
{
	double t = sum + inc;
	if (fabs(sum) >= fabs(inc))
		*c += (sum - t) + inc;
	else
		*c += (inc - t) + sum;
	return t;
}

/* Fold a finished row's Kahan compensation into its sum. */
static void row_finish(tsdb_rollup *r, double c)
{
	r->sum = isinf(r->sum) ? r->sum : r->sum + c;
}

/* Raw samples (sorted) -> rows of width res (appended to out). */
static int rollup_raw(const int64_t *t, const double *v, size_t n, int64_t res, rows *out,
		      ts_err *err)
{
	tsdb_rollup *r = NULL;
	int64_t start = 0;
	double prev = 0, run = 0, c = 0;
	bool has_prev = false;
	for (size_t i = 0; i < n; i++) {
		if (is_stale(v[i]))
			continue;
		int64_t s = tsdb_floor_div(t[i], res) * res;
		bool drop = has_prev && v[i] < prev;
		if (drop)
			run += prev;
		if (!r || s != start) {
			if (r)
				row_finish(r, c);
			int rc = rows_push(out, &r, err);
			if (rc)
				return rc;
			start = s;
			c = 0;
			r->t_ms = s + res - 1;
			r->first = r->min = r->max = v[i];
			r->first_t_ms = t[i];
		} else if (drop) {
			r->resets += prev;
		}
		r->count++;
		r->sum = kahan_inc(v[i], r->sum, &c);
		if (v[i] < r->min || isnan(r->min))
			r->min = v[i];
		if (v[i] > r->max || isnan(r->max))
			r->max = v[i];
		r->last = v[i];
		r->last_t_ms = t[i];
		r->counter = v[i] + run;
		prev = v[i];
		has_prev = true;
	}
	if (r)
		row_finish(r, c);
	return TS_OK;
}

/* Rows of a finer tier (sorted) -> rows of width res (appended to out). */
static int rollup_rows(const tsdb_rollup *in, size_t n, int64_t res, rows *out, ts_err *err)
{
	tsdb_rollup *r = NULL;
	int64_t start = 0;
	double prev_last = 0, run = 0, c = 0;
	for (size_t i = 0; i < n; i++) {
		const tsdb_rollup *x = &in[i];
		int64_t s = tsdb_floor_div(x->t_ms, res) * res;
		bool drop = i > 0 && x->first < prev_last;
		run += x->resets + (drop ? prev_last : 0);
		if (!r || s != start) {
			if (r)
				row_finish(r, c);
			int rc = rows_push(out, &r, err);
			if (rc)
				return rc;
			start = s;
			c = 0;
			r->t_ms = s + res - 1;
			r->first = x->first;
			r->first_t_ms = x->first_t_ms;
			r->min = x->min;
			r->max = x->max;
			r->resets = x->resets;
		} else {
			r->resets += x->resets + (drop ? prev_last : 0);
		}
		r->count += x->count;
		r->sum = kahan_inc(x->sum, r->sum, &c);
		if (x->min < r->min || isnan(r->min))
			r->min = x->min;
		if (x->max > r->max || isnan(r->max))
			r->max = x->max;
		r->last = x->last;
		r->last_t_ms = x->last_t_ms;
		r->counter = x->last + run;
		prev_last = x->last;
	}
	if (r)
		row_finish(r, c);
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Units
 * ---------------------------------------------------------------------------------- */

/* Unit length of a tier for block duration d, or 0 when the tier cannot be built. */
static int64_t unit_ms(int64_t d, int tier)
{
	if (tier == TSDB_TIER_1M)
		return d % 60000 == 0 ? d : 0;
	if (d % 60000 != 0 || d > 366 * DAY_MS)
		return 0;
	int64_t u = (DAY_MS + d - 1) / d * d;
	while (u % 3600000 != 0)
		u += d;
	return u;
}

bool tsdb_blockset_covers(const tsdb_blockset *bs, int tier, int64_t lo, int64_t hi)
{
	int64_t need = lo;
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block_meta *m = &bs->b[i]->meta;
		if (m->tier != tier || m->range_maxt < need)
			continue;
		if (m->range_mint > need)
			return false;
		if (m->range_maxt >= hi)
			return true;
		need = m->range_maxt + 1;
	}
	return lo > hi;
}

static bool direct_fresh(const tsdb_blockset *bs, const tsdb_block *b);

/* Whether the unit [lo, hi] of `tier` has its source data in bs (for 1h: fresh 1m blocks). */
static bool unit_ready(const tsdb_blockset *bs, int tier, int64_t lo, int64_t hi)
{
	bool has_src = false;
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block_meta *m = &bs->b[i]->meta;
		if (m->range_maxt < lo || m->range_mint > hi)
			continue;
		if (m->tier == tier - 1)
			has_src = true;
		if (tier == TSDB_TIER_1H && m->tier == TSDB_TIER_1M && !direct_fresh(bs, bs->b[i]))
			return false; /* waits for the 1m block's rebuild */
		if (tier == TSDB_TIER_1H && m->tier == TSDB_TIER_RAW &&
		    !tsdb_blockset_covers(bs, TSDB_TIER_1M, m->range_mint > lo ? m->range_mint : lo,
					  m->range_maxt < hi ? m->range_maxt : hi))
			return false;
	}
	return has_src;
}

/* Rows of one source series over [lo, hi] into out (replaced). */
static int source_rows(tsdb_querier *q, tsdb_series *s, int tier, int64_t lo, int64_t hi, rows *tmp,
		       rows *out, ts_err *err)
{
	int64_t res = tsdb_tier_resolution_ms(tier);
	out->n = 0;
	int rc;
	if (tier == TSDB_TIER_1M) {
		tsdb_iter *it;
		if ((rc = tsdb_iter_open(q, s, lo, hi, &it, err)))
			return rc;
		int64_t t;
		double v;
		tsdb_samples sm = {0};
		while ((rc = tsdb_iter_next(it, &t, &v)) == 1) {
			if ((rc = tsdb_samples_reserve(&sm, 1, err)))
				break;
			sm.t[sm.n] = t;
			sm.v[sm.n++] = v;
		}
		tsdb_iter_close(it);
		if (rc == TS_OK)
			rc = rollup_raw(sm.t, sm.v, sm.n, res, out, err);
		tsdb_samples_free(&sm);
		return rc;
	}
	tsdb_rollup_iter *it;
	if ((rc = tsdb_rollup_iter_open(q, s, lo, hi, &it, err)))
		return rc;
	tmp->n = 0;
	tsdb_rollup row, *dst = NULL;
	while ((rc = tsdb_rollup_iter_next(it, &row)) == 1) {
		if ((rc = rows_push(tmp, &dst, err)))
			break;
		*dst = row;
	}
	tsdb_rollup_iter_close(it);
	if (rc == TS_OK)
		rc = rollup_rows(tmp->v, tmp->n, res, out, err);
	return rc;
}

/* Source-tier blocks of bs overlapping [lo, hi]: their ULIDs into *out (owned, may be NULL
 * when none), at most TSDB_MAX_SOURCES (more: the list is left empty, which only makes
 * freshness checks fall back to counting). */
static int source_ulids(const tsdb_blockset *bs, int tier, int64_t lo, int64_t hi,
			uint8_t (**out)[16], size_t *n_out, ts_err *err)
{
	size_t n = 0;
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block_meta *m = &bs->b[i]->meta;
		n += m->tier == tier - 1 && m->range_maxt >= lo && m->range_mint <= hi;
	}
	*out = NULL;
	*n_out = 0;
	if (n == 0 || n > TSDB_MAX_SOURCES)
		return TS_OK;
	uint8_t(*v)[16] = ts_malloc(n * sizeof(*v));
	if (!v)
		return ts_err_set(err, TS_ENOMEM, "out of memory downsampling");
	n = 0;
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block_meta *m = &bs->b[i]->meta;
		if (m->tier == tier - 1 && m->range_maxt >= lo && m->range_mint <= hi)
			memcpy(v[n++], m->ulid, 16);
	}
	*out = v;
	*n_out = n;
	return TS_OK;
}

/*
 * Write the rollup block of unit [lo, hi]; *path receives its directory (owned). bs
 * (borrowed) names the source blocks recorded in the BUILT section; replaces[0..n_rep)
 * the tier blocks the new one replaces (its SOURCES, so a crash after the rename drops
 * them at open).
 */
static int build_unit(tsdb_db *db, const tsdb_blockset *bs, const char *bdir, int tier, int64_t lo,
		      int64_t hi, const uint8_t (*replaces)[16], size_t n_rep, char **path,
		      ts_err *err)
{
	tsdb_querier *q = NULL;
	tsdb_bw *w = NULL;
	tsdb_series **ss = NULL;
	size_t n_ss = 0, n_built = 0;
	uint8_t(*built)[16] = NULL;
	uint64_t n_src = 0;
	rows tmp = {0}, out = {0};
	int64_t *ts = NULL;
	double *cols[TSDB_COL_N] = {0};
	size_t cap = 0;
	ts_matcher m;
	int rc = ts_matcher_init(&m, TS_MATCH_NEQ, "__name__", "", err);
	if (rc)
		return rc;
	if ((rc = tsdb_querier_open_tier(db, tier - 1, lo, hi, &q, err)) ||
	    (rc = tsdb_select(q, &m, 1, 0, &ss, &n_ss, err)) ||
	    (rc = tsdb_bw_new(bdir, lo, hi, &w, err)) ||
	    (rc = tsdb_bw_set_origin(w, (uint8_t)tier, (uint64_t)tsdb_tier_resolution_ms(tier),
				     replaces, n_rep, err)) ||
	    (rc = source_ulids(bs, tier, lo, hi, &built, &n_built, err)))
		goto out;
	/* Pass 1: bucket times, for the shared timestamp columns. */
	for (size_t i = 0; i < n_ss; i++) {
		if ((rc = source_rows(q, ss[i], tier, lo, hi, &tmp, &out, err)))
			goto out;
		if (out.n > cap) {
			int64_t *nt = ts_realloc(ts, out.n * sizeof(*ts));
			if (!nt) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory downsampling");
				goto out;
			}
			ts = nt;
			for (int k = 1; k < TSDB_COL_N; k++) {
				double *nc = ts_realloc(cols[k], out.n * sizeof(double));
				if (!nc) {
					rc = ts_err_set(err, TS_ENOMEM,
							"out of memory downsampling");
					goto out;
				}
				cols[k] = nc;
			}
			cap = out.n;
		}
		for (size_t k = 0; k < out.n; k++)
			ts[k] = out.v[k].t_ms;
		if (out.n && (rc = tsdb_bw_scan(w, ts, out.n, err)))
			goto out;
	}
	/* Pass 2: the rows, series in label order (tsdb_select sorted them). */
	for (size_t i = 0; i < n_ss; i++) {
		if ((rc = source_rows(q, ss[i], tier, lo, hi, &tmp, &out, err)))
			goto out;
		if (!out.n)
			continue;
		for (size_t k = 0; k < out.n; k++) {
			const tsdb_rollup *r = &out.v[k];
			int64_t start = r->t_ms - tsdb_tier_resolution_ms(tier) + 1;
			ts[k] = r->t_ms;
			cols[TSDB_COL_COUNT][k] = r->count;
			cols[TSDB_COL_SUM][k] = r->sum;
			cols[TSDB_COL_MIN][k] = r->min;
			cols[TSDB_COL_MAX][k] = r->max;
			cols[TSDB_COL_LAST][k] = r->last;
			cols[TSDB_COL_COUNTER][k] = r->counter;
			cols[TSDB_COL_FIRST][k] = r->first;
			cols[TSDB_COL_FIRST_T][k] = (double)(r->first_t_ms - start);
			cols[TSDB_COL_LAST_T][k] = (double)(r->last_t_ms - start);
			cols[TSDB_COL_RESETS][k] = r->resets;
			n_src += r->count;
		}
		size_t nl;
		const ts_label *l = tsdb_series_labels(ss[i], &nl);
		if ((rc =
			 tsdb_bw_add_rollup(w, l, nl, ts, (const double *const *)cols, out.n, err)))
			goto out;
	}
	if ((rc = tsdb_bw_set_built(w, n_src, (const uint8_t(*)[16])built, n_built, err)))
		goto out;
	rc = tsdb_bw_finish(w, NULL, 0, path, err);
out:
	ts_free(built);
	tsdb_bw_free(w);
	ts_free(ss);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	ts_free(tmp.v);
	ts_free(out.v);
	ts_free(ts);
	for (int k = 1; k < TSDB_COL_N; k++)
		ts_free(cols[k]);
	if (rc)
		ts_err_prefix(err, "downsampling %s [%lld, %lld]: ", tsdb_tier_name(tier),
			      (long long)lo, (long long)hi);
	return rc;
}

/* -------------------------------------------------------------------------------------
 * Freshness: late source data after a unit was built
 * ---------------------------------------------------------------------------------- */

/*
 * Whether every source-tier block of bs overlapping b's range is one b was built from
 * (BUILT section); *sig receives an order-independent signature of those blocks (never 0).
 */
static bool src_check(const tsdb_blockset *bs, const tsdb_block *b, uint64_t *sig)
{
	const tsdb_block_meta *m = &b->meta;
	bool is_all = true;
	uint64_t h = 0, n = 0;
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block_meta *x = &bs->b[i]->meta;
		if (x->tier + 1 != m->tier || x->range_maxt < m->range_mint ||
		    x->range_mint > m->range_maxt)
			continue;
		h += ts_hash64(x->ulid, 16, 0x5354524154414249ULL);
		n++;
		bool is_found = false;
		for (uint32_t k = 0; k < m->n_built && !is_found; k++)
			is_found = memcmp(m->built[k], x->ulid, 16) == 0;
		is_all = is_all && is_found;
	}
	h ^= n * 0x9e3779b97f4a7c15ULL;
	*sig = h ? h : 1;
	return is_all;
}

/* b's rows against its direct source (the tier below), without recursion. */
static bool direct_fresh(const tsdb_blockset *bs, const tsdb_block *b)
{
	uint64_t sig;
	if (b->meta.tier == TSDB_TIER_RAW || !b->meta.has_built || src_check(bs, b, &sig))
		return true;
	return atomic_load(&((tsdb_block *)b)->fresh_sig) == sig;
}

bool tsdb_tier_block_fresh(const tsdb_blockset *bs, const tsdb_block *b)
{
	if (!direct_fresh(bs, b))
		return false;
	if (b->meta.tier != TSDB_TIER_1H)
		return true;
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block *x = bs->b[i];
		if (x->meta.tier == TSDB_TIER_1M && x->meta.range_maxt >= b->meta.range_mint &&
		    x->meta.range_mint <= b->meta.range_maxt && !direct_fresh(bs, x))
			return false;
	}
	return true;
}

void tsdb_tier_carry_fresh(const tsdb_blockset *old, const tsdb_blockset *cur)
{
	for (size_t i = 0; i < cur->n; i++) {
		tsdb_block *b = cur->b[i];
		if (b->meta.tier == TSDB_TIER_RAW || !b->meta.has_built)
			continue;
		bool is_kept = false;
		for (size_t k = 0; k < old->n && !is_kept; k++)
			is_kept = old->b[k] == b;
		/* Kept: fresh there. New (a merge): every block of its tier that left the set
		 * within its range (its sources) was fresh there. */
		bool was_fresh = is_kept ? direct_fresh(old, b) : true;
		for (size_t k = 0; k < old->n && !is_kept && was_fresh; k++) {
			const tsdb_block *x = old->b[k];
			bool is_gone = true;
			for (size_t j = 0; j < cur->n && is_gone; j++)
				is_gone = cur->b[j] != x;
			if (is_gone && x->meta.tier == b->meta.tier &&
			    x->meta.range_maxt >= b->meta.range_mint &&
			    x->meta.range_mint <= b->meta.range_maxt)
				was_fresh = direct_fresh(old, x);
		}
		uint64_t sig;
		if (was_fresh && !src_check(cur, b, &sig))
			atomic_store(&b->fresh_sig, sig);
	}
}

/* Source samples (staleness markers excluded) that rows over [lo, hi] of `tier` would
 * summarize now: what the BUILT section's count is compared with. */
static int count_source(tsdb_db *db, int tier, int64_t lo, int64_t hi, uint64_t *out, ts_err *err)
{
	tsdb_querier *q = NULL;
	tsdb_series **ss = NULL;
	size_t n_ss = 0;
	rows tmp = {0}, r = {0};
	uint64_t n = 0;
	ts_matcher m;
	int rc = ts_matcher_init(&m, TS_MATCH_NEQ, "__name__", "", err);
	if (rc)
		return rc;
	if ((rc = tsdb_querier_open_tier(db, tier - 1, lo, hi, &q, err)) ||
	    (rc = tsdb_select(q, &m, 1, 0, &ss, &n_ss, err)))
		goto out;
	for (size_t i = 0; i < n_ss; i++) {
		if ((rc = source_rows(q, ss[i], tier, lo, hi, &tmp, &r, err)))
			goto out;
		for (size_t k = 0; k < r.n; k++)
			n += (uint64_t)r.v[k].count;
	}
	*out = n;
out:
	ts_free(ss);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	ts_free(tmp.v);
	ts_free(r.v);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void remove_block_dir(const char *path)
{
	static const char *files[] = {"meta", "index", "chunks"};
	char p[4200];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", path, files[i]);
		unlink(p);
	}
	rmdir(path);
}

/*
 * Rebuild the stale tier block b (a reference held by the caller, who holds no block
 * set): one new block per unit of its range, each listing b in SOURCES, then swap them
 * in for b and delete b. A crash before the swap leaves b (rebuilt again) and maybe some
 * new blocks that list it (open drops b); after, the new blocks.
 */
static int rebuild_block(tsdb_db *db, const char *bdir, int64_t u, tsdb_block *b, ts_err *err)
{
	int tier = b->meta.tier;
	int64_t k0 = tsdb_floor_div(b->meta.range_mint, u),
		k1 = tsdb_floor_div(b->meta.range_maxt, u);
	if (k1 - k0 >= 4096)
		return ts_err_set(err, TS_ELIMIT, "%s block %s spans %lld units",
				  tsdb_tier_name(tier), b->meta.name, (long long)(k1 - k0 + 1));
	size_t n = (size_t)(k1 - k0 + 1), n_paths = 0, n_opened = 0;
	char **paths = ts_calloc(n, sizeof(*paths));
	tsdb_block **opened = ts_calloc(n, sizeof(*opened));
	int rc = TS_OK;
	if (!paths || !opened) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory rebuilding a tier block");
		goto out;
	}
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	for (int64_t k = k0; k <= k1 && rc == TS_OK; k++) {
		int64_t lo = k == k0 ? b->meta.range_mint : k * u;
		int64_t hi = k == k1 ? b->meta.range_maxt : lo + (u - 1);
		rc = build_unit(db, bs, bdir, tier, lo, hi, (const uint8_t(*)[16]) & b->meta.ulid,
				1, &paths[n_paths], err);
		if (rc == TS_OK)
			n_paths++;
	}
	tsdb_blockset_release(bs);
	for (size_t i = 0; i < n_paths && rc == TS_OK; i++)
		if ((rc = tsdb_block_open(paths[i], &opened[n_opened], err)) == TS_OK)
			n_opened++;
	if (rc == TS_OK) {
		pthread_mutex_lock(&db->cut_lock);
		tsdb_blockset *old = NULL;
		rc = tsdb_blocks_replace(db, &b, 1, opened, n_opened, &old, err);
		if (rc == TS_OK)
			tsdb_blockset_wait_release(old);
		pthread_mutex_unlock(&db->cut_lock);
	}
	if (rc == TS_OK) {
		ts_err e = {0};
		if (b->dir && tsdb_block_dir_delete(b->dir, &e) != TS_OK)
			ts_log_warn("tsdb: could not delete the replaced %s block (the next open "
				    "drops it): %s",
				    tsdb_tier_name(tier), e.msg);
		atomic_fetch_add(&db->downsampled[tier], n_opened);
		ts_log_info("tsdb: rebuilt %s block %s [%lld, %lld] for late samples",
			    tsdb_tier_name(tier), b->meta.name, (long long)b->meta.range_mint,
			    (long long)b->meta.range_maxt);
	}
out:
	for (size_t i = 0; i < n_opened; i++)
		tsdb_block_release(opened[i]);
	for (size_t i = 0; i < n_paths; i++) {
		if (rc != TS_OK) /* not published: b stays, the next pass retries */
			remove_block_dir(paths[i]);
		ts_free(paths[i]);
	}
	ts_free(paths);
	ts_free(opened);
	return rc;
}

/*
 * Check every built block of `tier` whose source blocks changed since it was built:
 * count the source samples now in its range; no more than it summarized (compaction,
 * retention) marks it fresh for this source set; more means late samples: rebuild it
 * once they can no longer arrive (as for a first build) and, for 1h, once the 1m
 * blocks below are fresh. Until then tsdb_tier_block_fresh is false for it.
 */
static int refresh_tier(tsdb_db *db, const char *bdir, int tier, ts_err *err)
{
	int64_t u = unit_ms(db->opt.block_duration_ms, tier);
	if (!u)
		return TS_OK;
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	int64_t frontier = atomic_load(&db->max_t), head_min = atomic_load(&db->min_t);
	for (size_t i = 0; i < bs->n; i++)
		if (bs->b[i]->meta.n_series && bs->b[i]->meta.data_maxt > frontier)
			frontier = bs->b[i]->meta.data_maxt;
	tsdb_block **stale = NULL;
	size_t n_stale = 0;
	int rc = TS_OK;
	for (size_t i = 0; i < bs->n && rc == TS_OK; i++) {
		tsdb_block *b = bs->b[i];
		const tsdb_block_meta *m = &b->meta;
		uint64_t sig = 0, n = 0;
		if (m->tier != tier || !m->has_built || src_check(bs, b, &sig) ||
		    atomic_load(&b->fresh_sig) == sig)
			continue;
		if (atomic_load(&b->stale_sig) != sig) { /* not counted for this set yet */
			if ((rc = count_source(db, tier, m->range_mint, m->range_maxt, &n, err)))
				break;
			if (n <= m->n_built_samples) {
				atomic_store(&b->fresh_sig, sig);
				continue;
			}
			atomic_store(&b->stale_sig, sig);
		}
		if (frontier < INT64_MIN + db->opt.out_of_order_window_ms + 1 ||
		    m->range_maxt >= frontier - db->opt.out_of_order_window_ms ||
		    head_min <= m->range_maxt)
			continue;
		int64_t keep_src =
		    tier == TSDB_TIER_1M ? db->opt.retention_raw_ms : db->opt.retention_1m_ms;
		if (keep_src > 0 && frontier > INT64_MIN + keep_src &&
		    frontier - keep_src > m->range_mint) {
			/* Part of its source is gone (retention): a rebuild would lose those
			 * rows, so the block stays as it is, late samples missing. */
			ts_log_warn("tsdb: %s block %s misses late samples but its source is "
				    "partly expired; kept",
				    tsdb_tier_name(tier), m->name);
			atomic_store(&b->fresh_sig, sig);
			continue;
		}
		bool is_ready = true;
		for (size_t k = 0; k < bs->n && tier == TSDB_TIER_1H; k++) {
			const tsdb_block *x = bs->b[k];
			if (x->meta.tier == TSDB_TIER_1M && x->meta.range_maxt >= m->range_mint &&
			    x->meta.range_mint <= m->range_maxt && !direct_fresh(bs, x))
				is_ready = false;
		}
		if (!is_ready)
			continue;
		tsdb_block **ns = ts_realloc(stale, (n_stale + 1) * sizeof(*ns));
		if (!ns) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory downsampling");
			break;
		}
		stale = ns;
		tsdb_block_acquire(b);
		stale[n_stale++] = b;
	}
	tsdb_blockset_release(bs);
	for (size_t i = 0; i < n_stale; i++) {
		if (rc == TS_OK)
			rc = rebuild_block(db, bdir, u, stale[i], err);
		tsdb_block_release(stale[i]);
	}
	ts_free(stale);
	return rc;
}

/* Build and publish every ready unit of one tier. */
static int run_tier(tsdb_db *db, const char *bdir, int tier, ts_err *err)
{
	int64_t u = unit_ms(db->opt.block_duration_ms, tier);
	if (!u)
		return TS_OK;
	int64_t keep = tier == TSDB_TIER_1M ? db->opt.retention_1m_ms : db->opt.retention_1h_ms;
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	/* The newest time the store has seen, and where the head starts. */
	int64_t frontier = atomic_load(&db->max_t), head_min = atomic_load(&db->min_t);
	for (size_t i = 0; i < bs->n; i++)
		if (bs->b[i]->meta.n_series && bs->b[i]->meta.data_maxt > frontier)
			frontier = bs->b[i]->meta.data_maxt;
	/* Candidate units: those overlapped by source-tier blocks. */
	int64_t *ks = NULL;
	size_t n_ks = 0, cap_ks = 0;
	int rc = TS_OK;
	for (size_t i = 0; i < bs->n && rc == TS_OK; i++) {
		const tsdb_block_meta *m = &bs->b[i]->meta;
		if (m->tier != tier - 1)
			continue;
		for (int64_t k = tsdb_floor_div(m->range_mint, u);
		     k <= tsdb_floor_div(m->range_maxt, u); k++) {
			if (n_ks == cap_ks) {
				size_t nc = cap_ks ? cap_ks * 2 : 64;
				int64_t *nk = ts_realloc(ks, nc * sizeof(*nk));
				if (!nk) {
					rc = ts_err_set(err, TS_ENOMEM,
							"out of memory downsampling");
					break;
				}
				ks = nk;
				cap_ks = nc;
			}
			ks[n_ks++] = k;
		}
	}
	if (n_ks > 1)
		qsort(ks, n_ks, sizeof(*ks), cmp_i64);
	char **paths = rc ? NULL : ts_calloc(n_ks ? n_ks : 1, sizeof(*paths));
	if (!rc && !paths)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory downsampling");
	size_t n_paths = 0;
	for (size_t i = 0; i < n_ks && rc == TS_OK; i++) {
		if (i && ks[i] == ks[i - 1])
			continue;
		if (ks[i] > INT64_MAX / u - 1 || ks[i] < INT64_MIN / u)
			continue;
		int64_t lo = ks[i] * u, hi = lo + (u - 1);
		if (frontier < INT64_MIN + db->opt.out_of_order_window_ms + 1 ||
		    hi >= frontier - db->opt.out_of_order_window_ms || head_min <= hi ||
		    (keep > 0 && frontier - keep > hi) || tsdb_blockset_covers(bs, tier, lo, hi) ||
		    !unit_ready(bs, tier, lo, hi))
			continue;
		rc = build_unit(db, bs, bdir, tier, lo, hi, NULL, 0, &paths[n_paths], err);
		if (rc == TS_OK)
			n_paths++;
	}
	tsdb_blockset_release(bs);
	ts_free(ks);
	/* Open and publish what was written (a failure leaves the finished blocks on disk:
	 * they load at the next open, or the next pass sees them missing and redoes them). */
	tsdb_block **opened = n_paths ? ts_calloc(n_paths, sizeof(*opened)) : NULL;
	size_t n_opened = 0;
	ts_err e2 = {0};
	int rc2 = n_paths && !opened ? ts_err_set(&e2, TS_ENOMEM, "out of memory") : TS_OK;
	for (size_t i = 0; i < n_paths && rc2 == TS_OK; i++)
		if ((rc2 = tsdb_block_open(paths[i], &opened[n_opened], &e2)) == TS_OK)
			n_opened++;
	if (rc2 == TS_OK && n_opened) {
		pthread_mutex_lock(&db->cut_lock);
		tsdb_blockset *old = NULL;
		rc2 = tsdb_blocks_publish(db, opened, n_opened, &old, &e2);
		if (old)
			tsdb_blockset_wait_release(old);
		pthread_mutex_unlock(&db->cut_lock);
		if (rc2 == TS_OK)
			atomic_fetch_add(&db->downsampled[tier], n_opened);
	}
	for (size_t i = 0; i < n_opened; i++)
		tsdb_block_release(opened[i]);
	if (rc2 != TS_OK) /* not published: remove, the next pass rebuilds them */
		for (size_t i = 0; i < n_paths; i++)
			remove_block_dir(paths[i]);
	for (size_t i = 0; i < n_paths; i++)
		ts_free(paths[i]);
	ts_free(paths);
	ts_free(opened);
	if (rc == TS_OK && rc2 != TS_OK) {
		rc = rc2;
		if (err)
			*err = e2;
	}
	return rc;
}

int tsdb_downsample_run(tsdb_db *db, ts_err *err)
{
	if (!db->dir)
		return TS_OK;
	size_t n = strlen(db->dir) + 8;
	char *bdir = ts_malloc(n);
	if (!bdir)
		return ts_err_set(err, TS_ENOMEM, "out of memory downsampling");
	snprintf(bdir, n, "%s/blocks", db->dir);
	int rc = refresh_tier(db, bdir, TSDB_TIER_1M, err);
	if (rc == TS_OK)
		rc = run_tier(db, bdir, TSDB_TIER_1M, err);
	if (rc == TS_OK)
		rc = refresh_tier(db, bdir, TSDB_TIER_1H, err);
	if (rc == TS_OK)
		rc = run_tier(db, bdir, TSDB_TIER_1H, err);
	ts_free(bdir);
	if (rc)
		atomic_fetch_add(&db->downsample_errors, 1);
	return rc;
}
