/* SPDX-License-Identifier: Apache-2.0 */
/*
 * querier.c: read views over head and blocks: select by matchers, iterate samples,
 * label names and values.
 *
 * A querier holds the block set current when it opened (so a cut cannot drop head
 * samples it might still need, see tsdb_int.h) and references on every head series it
 * returned. Selection runs the postings algorithm (postings.c) on each block whose
 * range overlaps the querier's and on the head's inverted index, keeps series with
 * samples in range, and merges what it found by label set: a series present in two
 * blocks and the head is one tsdb_series with three sources. The querier caches its
 * series by label hash, so repeated selects return the same pointer for the same
 * series (web/api_query.c relies on that to de-duplicate match[] sets).
 *
 * An iterator materializes the series' samples in its range: each block source decodes
 * the parts that overlap (timestamp columns decoded once per querier and block, then
 * shared by every series that refers to them), the head source reads a snapshot, and
 * the sources are merged in order (blocks oldest first, head last; an equal timestamp
 * keeps the first source's value), so duplicates between blocks and head vanish.
 *
 * Tiers: a querier reads one tier (tsdb_querier_open_tier). A raw querier ignores
 * rollup blocks; a 1m/1h querier selects from that tier's blocks only, never the head,
 * and reads rollup rows (tsdb_rollup_iter_*) decoding every rollup column of the parts
 * that overlap. tsdb_querier_covers answers from the block ranges of the querier's set
 * and their freshness (tsdb_tier_block_fresh: no late source samples missing).
 *
 * Deletions: a querier also holds the tombstone set current when it opened
 * (tombstones.c). Iterators drop deleted samples, rollup iterators drop rows whose
 * bucket meets a deleted interval, select drops series with nothing left in range, and
 * covers reports no tier coverage where a tombstone lies (so the planner reads raw).
 */
#include "tsdb/block.h"

#include <stdlib.h>
#include <string.h>

typedef struct qsrc {
	uint32_t bi; /* index of the block in the querier's set */
	uint32_t id; /* series id in that block */
} qsrc;

struct tsdb_series {
	ts_label *labels; /* owned array (strings borrowed) or the head series' array */
	size_t n_labels;
	bool is_labels_owned;
	uint64_t hash;
	uint64_t sel_gen;   /* the select that last returned it */
	tsdb_hseries *head; /* acquired, or NULL */
	qsrc *src;          /* block sources, sorted by bi */
	size_t n_src, cap_src;
	tsdb_series *next; /* querier hash chain */
};

struct tsdb_querier {
	tsdb_db *db;
	int tier; /* TSDB_TIER_*: which blocks select reads (the head only for raw) */
	int64_t mint, maxt;
	tsdb_blockset *bs;
	tsdb_series **table; /* chains by label hash */
	size_t n_buckets, n;
	uint64_t gen;
	int64_t ***tcache;   /* [block][tcol] decoded timestamp columns, lazily */
	tsdb_tombset *tombs; /* acquired tombstones, or NULL */
};

struct tsdb_iter {
	tsdb_samples s;
	size_t pos;
};

struct tsdb_rollup_iter {
	tsdb_rollup *rows; /* owned, sorted by t_ms */
	size_t n, pos;
};

int64_t tsdb_tier_resolution_ms(int tier)
{
	return tier == TSDB_TIER_1M ? 60000 : tier == TSDB_TIER_1H ? 3600000 : 0;
}

const char *tsdb_tier_name(int tier)
{
	static const char *const names[TSDB_TIER_N] = {"raw", "1m", "1h"};
	return tier >= 0 && tier < TSDB_TIER_N ? names[tier] : "?";
}

int tsdb_querier_open(tsdb_db *db, int64_t mint_ms, int64_t maxt_ms, tsdb_querier **out,
		      ts_err *err)
{
	return tsdb_querier_open_tier(db, TSDB_TIER_RAW, mint_ms, maxt_ms, out, err);
}

int tsdb_querier_tier(const tsdb_querier *q)
{
	return q->tier;
}

bool tsdb_querier_covers(tsdb_querier *q, int tier, int64_t mint_ms, int64_t maxt_ms)
{
	if (tier == TSDB_TIER_RAW)
		return true;
	/* The set is sorted by range start: sweep the tier's blocks extending the covered
	 * prefix [mint_ms, reach]. A block missing late source samples (a rebuild pending,
	 * downsample.c) does not cover. */
	int64_t need = mint_ms;
	for (size_t i = 0; i < q->bs->n; i++) {
		const tsdb_block_meta *m = &q->bs->b[i]->meta;
		if (m->tier != tier || m->range_maxt < need)
			continue;
		if (m->range_mint > need || !tsdb_tier_block_fresh(q->bs, q->bs->b[i]))
			return false;
		if (m->range_maxt >= maxt_ms)
			return !tsdb_tombs_any_in(q->tombs, mint_ms, maxt_ms);
		need = m->range_maxt + 1;
	}
	return mint_ms > maxt_ms;
}

int tsdb_querier_open_tier(tsdb_db *db, int tier, int64_t mint_ms, int64_t maxt_ms,
			   tsdb_querier **out, ts_err *err)
{
	if (tier < 0 || tier >= TSDB_TIER_N)
		return ts_err_set(err, TS_EINVAL, "unknown tier %d", tier);
	if (mint_ms > maxt_ms)
		return ts_err_set(err, TS_EINVAL, "querier range start %lld after end %lld",
				  (long long)mint_ms, (long long)maxt_ms);
	tsdb_querier *q = ts_calloc(1, sizeof(*q));
	if (!q)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening a querier");
	q->db = db;
	q->tier = tier;
	q->mint = mint_ms;
	q->maxt = maxt_ms;
	q->bs = tsdb_blocks_acquire(db);
	q->tombs = tsdb_tombs_acquire(db);
	*out = q;
	return TS_OK;
}

static void series_free(tsdb_db *db, tsdb_series *s)
{
	if (s->is_labels_owned)
		ts_free(s->labels);
	tsdb_hseries_release(db, s->head);
	ts_free(s->src);
	ts_free(s);
}

void tsdb_querier_close(tsdb_querier *q)
{
	if (!q)
		return;
	for (size_t b = 0; b < q->n_buckets; b++) {
		for (tsdb_series *s = q->table[b], *next; s; s = next) {
			next = s->next;
			series_free(q->db, s);
		}
	}
	ts_free(q->table);
	if (q->tcache) {
		for (size_t i = 0; i < q->bs->n; i++) {
			if (!q->tcache[i])
				continue;
			for (uint32_t k = 0; k < q->bs->b[i]->n_tcols; k++)
				ts_free(q->tcache[i][k]);
			ts_free(q->tcache[i]);
		}
		ts_free(q->tcache);
	}
	tsdb_blockset_release(q->bs);
	tsdb_tombset_release(q->tombs);
	ts_free(q);
}

/* -------------------------------------------------------------------------------------
 * Series cache
 * ---------------------------------------------------------------------------------- */

static int grow_table(tsdb_querier *q)
{
	if ((q->n + 1) <= q->n_buckets)
		return TS_OK;
	size_t nb = q->n_buckets ? q->n_buckets * 2 : 256;
	tsdb_series **t = ts_calloc(nb, sizeof(*t));
	if (!t)
		return TS_ENOMEM;
	for (size_t i = 0; i < q->n_buckets; i++) {
		for (tsdb_series *s = q->table[i], *next; s; s = next) {
			next = s->next;
			s->next = t[s->hash & (nb - 1)];
			t[s->hash & (nb - 1)] = s;
		}
	}
	ts_free(q->table);
	q->table = t;
	q->n_buckets = nb;
	return TS_OK;
}

/*
 * The querier's series for labels, created if needed. labels: with take_labels the
 * array is owned and taken (freed here if the series exists); otherwise borrowed for
 * the querier's lifetime.
 */
static tsdb_series *series_get(tsdb_querier *q, ts_label *labels, size_t n, bool take_labels)
{
	uint64_t h = ts_series_hash(labels, n);
	if (q->n_buckets) {
		for (tsdb_series *s = q->table[h & (q->n_buckets - 1)]; s; s = s->next) {
			if (s->hash == h && ts_labels_cmp(s->labels, s->n_labels, labels, n) == 0) {
				if (take_labels)
					ts_free(labels);
				return s;
			}
		}
	}
	tsdb_series *s = NULL;
	if (grow_table(q) != TS_OK || !(s = ts_calloc(1, sizeof(*s)))) {
		if (take_labels)
			ts_free(labels);
		return NULL;
	}
	s->labels = labels;
	s->n_labels = n;
	s->is_labels_owned = take_labels;
	s->hash = h;
	s->next = q->table[h & (q->n_buckets - 1)];
	q->table[h & (q->n_buckets - 1)] = s;
	q->n++;
	return s;
}

static int add_src(tsdb_series *s, uint32_t bi, uint32_t id)
{
	size_t i = s->n_src;
	while (i > 0 && s->src[i - 1].bi > bi)
		i--;
	if (i > 0 && s->src[i - 1].bi == bi)
		return TS_OK; /* already known (a repeated select) */
	if (s->n_src == s->cap_src) {
		size_t nc = s->cap_src ? s->cap_src * 2 : 2;
		qsrc *v = ts_realloc(s->src, nc * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		s->src = v;
		s->cap_src = nc;
	}
	memmove(s->src + i + 1, s->src + i, (s->n_src - i) * sizeof(*s->src));
	s->src[i] = (qsrc){bi, id};
	s->n_src++;
	return TS_OK;
}

/* A growable array of series pointers. */
typedef struct svec {
	tsdb_series **v;
	size_t n, cap;
} svec;

static int svec_push(svec *sv, tsdb_series *s)
{
	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 64;
		tsdb_series **v = ts_realloc(sv->v, nc * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		sv->v = v;
		sv->cap = nc;
	}
	sv->v[sv->n++] = s;
	return TS_OK;
}

/* Note s as a result of the current select (once). */
static int result_add(tsdb_querier *q, svec *out, tsdb_series *s)
{
	if (s->sel_gen == q->gen)
		return TS_OK;
	s->sel_gen = q->gen;
	return svec_push(out, s);
}

/* -------------------------------------------------------------------------------------
 * Selection
 * ---------------------------------------------------------------------------------- */

static bool parts_overlap(const tsdb_block_part *p, size_t n, int64_t mint, int64_t maxt)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].mint <= maxt && p[i].maxt >= mint)
			return true;
	return false;
}

static int collect_block(tsdb_querier *q, uint32_t bi, const ts_matcher *ms, size_t n_ms, svec *out,
			 ts_err *err)
{
	tsdb_block *b = q->bs->b[bi];
	if (b->meta.tier != q->tier || b->meta.data_maxt < q->mint || b->meta.data_mint > q->maxt ||
	    !b->n_series)
		return TS_OK;
	tsdb_plist ids = {0};
	int rc = tsdb_block_select(b, ms, n_ms, &ids, err);
	for (size_t i = 0; rc == TS_OK && i < ids.n; i++) {
		ts_label *labels;
		tsdb_block_part *parts;
		size_t nl, np;
		if ((rc = tsdb_block_series(b, ids.ids[i], &labels, &nl, &parts, &np, err)))
			break;
		bool in = parts_overlap(parts, np, q->mint, q->maxt);
		ts_free(parts);
		if (!in) {
			ts_free(labels);
			continue;
		}
		tsdb_series *s = series_get(q, labels, nl, true);
		if (!s || add_src(s, bi, ids.ids[i]) != TS_OK || result_add(q, out, s) != TS_OK)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory selecting series");
	}
	tsdb_plist_free(&ids);
	return rc;
}

static int collect_head(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, svec *out, ts_err *err)
{
	tsdb_hseries **hs;
	size_t n;
	int rc = tsdb_head_select(q->db, ms, n_ms, q->mint, q->maxt, &hs, &n, err);
	if (rc)
		return rc;
	size_t i = 0;
	for (; i < n && rc == TS_OK; i++) {
		tsdb_series *s = series_get(q, hs[i]->labels, hs[i]->n_labels, false);
		if (!s) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory selecting series");
			break;
		}
		if (!s->head) {
			s->head = hs[i];         /* keeps the reference */
			if (!s->is_labels_owned) /* borrow from the series we now hold */
				s->labels = hs[i]->labels;
		} else {
			tsdb_hseries_release(q->db, hs[i]);
		}
		if (result_add(q, out, s) != TS_OK)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory selecting series");
	}
	for (; i < n; i++)
		tsdb_hseries_release(q->db, hs[i]);
	ts_free(hs);
	return rc;
}

/* Every series matching ms (n_ms may be 0: all) with samples in range, unsorted. */
static int collect(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, svec *out, ts_err *err)
{
	q->gen++;
	int rc = TS_OK;
	for (uint32_t bi = 0; bi < q->bs->n && rc == TS_OK; bi++)
		rc = collect_block(q, bi, ms, n_ms, out, err);
	if (rc == TS_OK && q->tier == TSDB_TIER_RAW)
		rc = collect_head(q, ms, n_ms, out, err);
	return rc;
}

/* Does s keep a sample (raw) or row (tier) in the querier range despite tombstones? */
static int has_data(tsdb_querier *q, tsdb_series *s, bool *out, ts_err *err)
{
	int rc;
	if (q->tier == TSDB_TIER_RAW) {
		tsdb_iter *it = NULL;
		if ((rc = tsdb_iter_open(q, s, q->mint, q->maxt, &it, err)))
			return rc;
		*out = it->s.n > 0;
		tsdb_iter_close(it);
		return TS_OK;
	}
	tsdb_rollup_iter *it = NULL;
	if ((rc = tsdb_rollup_iter_open(q, s, q->mint, q->maxt, &it, err)))
		return rc;
	*out = it->n > 0;
	tsdb_rollup_iter_close(it);
	return TS_OK;
}

/* Remove from sv the series whose every sample in range is deleted. */
static int drop_deleted(tsdb_querier *q, svec *sv, ts_err *err)
{
	size_t w = 0;
	int64_t res = tsdb_tier_resolution_ms(q->tier);
	/* rows ending in range start up to res - 1 ms earlier (saturating) */
	int64_t lo = res && q->mint < INT64_MIN + res ? INT64_MIN : q->mint - (res ? res - 1 : 0);
	for (size_t i = 0; i < sv->n; i++) {
		tsdb_series *s = sv->v[i];
		size_t first, nt = tsdb_tombs_find(q->tombs, s->hash, &first);
		bool keep = true;
		if (nt && tsdb_tombs_hit(q->tombs, first, nt, lo, q->maxt)) {
			int rc = has_data(q, s, &keep, err);
			if (rc)
				return rc;
		}
		if (keep)
			sv->v[w++] = s;
	}
	sv->n = w;
	return TS_OK;
}

static int cmp_series(const void *a, const void *b)
{
	const tsdb_series *x = *(tsdb_series *const *)a, *y = *(tsdb_series *const *)b;
	return ts_labels_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

int tsdb_select(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, size_t max_series,
		tsdb_series ***out, size_t *n_out, ts_err *err)
{
	if (n_ms == 0)
		return ts_err_set(err, TS_EINVAL, "select needs at least one matcher");
	svec sv = {0};
	int rc = collect(q, ms, n_ms, &sv, err);
	if (rc == TS_OK && max_series && sv.n > max_series)
		rc = ts_err_set(err, TS_ELIMIT, "query selects more than the limit of %zu series",
				max_series);
	if (rc) {
		ts_free(sv.v);
		return rc;
	}
	if (q->tombs && (rc = drop_deleted(q, &sv, err))) {
		ts_free(sv.v);
		return rc;
	}
	if (sv.n > 1)
		qsort(sv.v, sv.n, sizeof(*sv.v), cmp_series);
	*out = sv.v;
	*n_out = sv.n;
	return TS_OK;
}

const ts_label *tsdb_series_labels(const tsdb_series *s, size_t *n_labels)
{
	*n_labels = s->n_labels;
	return s->labels;
}

/* -------------------------------------------------------------------------------------
 * Iteration
 * ---------------------------------------------------------------------------------- */

/* The decoded timestamp column, cached for the querier's lifetime. */
static int tcol_get(tsdb_querier *q, uint32_t bi, uint32_t tc, const int64_t **out, ts_err *err)
{
	tsdb_block *b = q->bs->b[bi];
	if (!q->tcache && !(q->tcache = ts_calloc(q->bs->n, sizeof(*q->tcache))))
		return ts_err_set(err, TS_ENOMEM, "out of memory reading a block");
	if (!q->tcache[bi] && !(q->tcache[bi] = ts_calloc(b->n_tcols, sizeof(**q->tcache))))
		return ts_err_set(err, TS_ENOMEM, "out of memory reading a block");
	int64_t *t = q->tcache[bi][tc];
	if (!t) {
		t = ts_malloc(b->tcols[tc].n * sizeof(*t));
		if (!t)
			return ts_err_set(err, TS_ENOMEM, "out of memory reading a block");
		int rc = tsdb_block_tcol_read(b, tc, t, err);
		if (rc) {
			ts_free(t);
			return rc;
		}
		q->tcache[bi][tc] = t;
	}
	*out = t;
	return TS_OK;
}

static int read_block_src(tsdb_querier *q, const qsrc *src, int64_t mint, int64_t maxt,
			  tsdb_samples *out, ts_err *err)
{
	tsdb_block *b = q->bs->b[src->bi];
	tsdb_block_part *parts = NULL;
	size_t np = 0;
	int rc = tsdb_block_series(b, src->id, NULL, NULL, &parts, &np, err);
	for (size_t i = 0; rc == TS_OK && i < np; i++) {
		const tsdb_block_part *p = &parts[i];
		const int64_t *t = NULL;
		if (p->maxt < mint || p->mint > maxt)
			continue;
		if ((rc = tcol_get(q, src->bi, p->tcol, &t, err)) == TS_OK)
			rc = tsdb_block_read_part(b, p, t, mint, maxt, out, err);
		atomic_fetch_add_explicit(&q->db->raw_parts_decoded, 1, memory_order_relaxed);
	}
	ts_free(parts);
	return rc;
}

int tsdb_iter_open(tsdb_querier *q, tsdb_series *s, int64_t mint_ms, int64_t maxt_ms,
		   tsdb_iter **out, ts_err *err)
{
	if (q->tier != TSDB_TIER_RAW)
		return ts_err_set(err, TS_EINVAL, "samples read from a %s-tier querier",
				  tsdb_tier_name(q->tier));
	int64_t mint = mint_ms > q->mint ? mint_ms : q->mint;
	int64_t maxt = maxt_ms < q->maxt ? maxt_ms : q->maxt;
	tsdb_iter *it = ts_calloc(1, sizeof(*it));
	if (!it)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening an iterator");
	tsdb_samples acc = {0}, one = {0}, tmp = {0};
	int rc = TS_OK;
	size_t n_src = s->n_src + (s->head != NULL);
	for (size_t i = 0; mint <= maxt && i < n_src && rc == TS_OK; i++) {
		one.n = 0;
		if (i < s->n_src)
			rc = read_block_src(q, &s->src[i], mint, maxt, &one, err);
		else {
			rc = tsdb_head_series_read(q->db, s->head, mint, maxt, &one, err);
			atomic_fetch_add_explicit(&q->db->head_series_reads, 1,
						  memory_order_relaxed);
		}
		if (rc || one.n == 0)
			continue;
		tsdb_samples *next = &one;
		if (acc.n) {
			tmp.n = 0;
			if ((rc = tsdb_samples_merge(&acc, &one, &tmp, NULL, NULL, err)))
				break;
			next = &tmp;
		}
		tsdb_samples t = acc;
		acc = *next;
		*next = t;
	}
	tsdb_samples_free(&one);
	tsdb_samples_free(&tmp);
	if (rc) {
		tsdb_samples_free(&acc);
		ts_free(it);
		return rc;
	}
	acc.n = tsdb_tombs_filter(q->tombs, s->hash, acc.t, acc.v, acc.n);
	it->s = acc;
	*out = it;
	return TS_OK;
}

int tsdb_iter_next(tsdb_iter *it, int64_t *t_ms, double *v)
{
	if (it->pos >= it->s.n)
		return 0;
	*t_ms = it->s.t[it->pos];
	*v = it->s.v[it->pos];
	it->pos++;
	return 1;
}

void tsdb_iter_close(tsdb_iter *it)
{
	if (!it)
		return;
	tsdb_samples_free(&it->s);
	ts_free(it);
}

/* -------------------------------------------------------------------------------------
 * Rollup rows
 * ---------------------------------------------------------------------------------- */

typedef struct rvec {
	tsdb_rollup *v;
	size_t n, cap;
} rvec;

/* Append the rows of one rollup part with bucket ends in [mint, maxt]. */
static int read_rollup_part(tsdb_querier *q, uint32_t bi, const tsdb_block_part *p, int64_t mint,
			    int64_t maxt, rvec *out, ts_err *err)
{
	tsdb_block *b = q->bs->b[bi];
	const int64_t *t;
	int rc = tcol_get(q, bi, p->tcol, &t, err);
	if (rc)
		return rc;
	t += p->start;
	if (t[0] != p->mint || t[p->n - 1] != p->maxt) {
		atomic_store(&b->is_bad, true);
		return ts_err_set(err, TS_ECORRUPT, "block %s: part bounds differ from its column",
				  b->meta.name);
	}
	double *col = ts_malloc((size_t)TSDB_COL_N * p->n * sizeof(*col));
	if (!col)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading rollups");
	for (int k = 1; k < TSDB_COL_N && rc == TS_OK; k++)
		rc = tsdb_block_read_rollup_col(b, p, k, col + (size_t)k * p->n, err);
	atomic_fetch_add_explicit(&q->db->rollup_parts_decoded, 1, memory_order_relaxed);
	if (rc == TS_OK && out->n + p->n > out->cap) {
		size_t nc = out->cap ? out->cap : 64;
		while (nc < out->n + p->n)
			nc *= 2;
		tsdb_rollup *v = ts_realloc(out->v, nc * sizeof(*v));
		if (!v)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory reading rollups");
		else {
			out->v = v;
			out->cap = nc;
		}
	}
	for (uint32_t i = 0; rc == TS_OK && i < p->n; i++) {
		if (t[i] < mint || t[i] > maxt)
			continue;
		const double *c = col + i;
		int64_t start = t[i] - tsdb_tier_resolution_ms(b->meta.tier) + 1;
		tsdb_rollup *r = &out->v[out->n++];
		r->t_ms = t[i];
		r->count = c[(size_t)TSDB_COL_COUNT * p->n];
		r->sum = c[(size_t)TSDB_COL_SUM * p->n];
		r->min = c[(size_t)TSDB_COL_MIN * p->n];
		r->max = c[(size_t)TSDB_COL_MAX * p->n];
		r->last = c[(size_t)TSDB_COL_LAST * p->n];
		r->counter = c[(size_t)TSDB_COL_COUNTER * p->n];
		r->first = c[(size_t)TSDB_COL_FIRST * p->n];
		r->resets = c[(size_t)TSDB_COL_RESETS * p->n];
		r->first_t_ms = start + (int64_t)c[(size_t)TSDB_COL_FIRST_T * p->n];
		r->last_t_ms = start + (int64_t)c[(size_t)TSDB_COL_LAST_T * p->n];
	}
	ts_free(col);
	return rc;
}

static int cmp_rollup(const void *a, const void *b)
{
	const tsdb_rollup *x = a, *y = b;
	return x->t_ms < y->t_ms ? -1 : x->t_ms > y->t_ms;
}

int tsdb_rollup_iter_open(tsdb_querier *q, tsdb_series *s, int64_t mint_ms, int64_t maxt_ms,
			  tsdb_rollup_iter **out, ts_err *err)
{
	if (q->tier == TSDB_TIER_RAW)
		return ts_err_set(err, TS_EINVAL, "rollup rows read from a raw querier");
	int64_t mint = mint_ms > q->mint ? mint_ms : q->mint;
	int64_t maxt = maxt_ms < q->maxt ? maxt_ms : q->maxt;
	rvec rv = {0};
	int rc = TS_OK;
	bool is_sorted = true;
	for (size_t i = 0; i < s->n_src && mint <= maxt && rc == TS_OK; i++) {
		tsdb_block_part *parts = NULL;
		size_t np = 0;
		rc = tsdb_block_series(q->bs->b[s->src[i].bi], s->src[i].id, NULL, NULL, &parts,
				       &np, err);
		for (size_t k = 0; rc == TS_OK && k < np; k++) {
			if (parts[k].maxt < mint || parts[k].mint > maxt)
				continue;
			size_t before = rv.n;
			rc = read_rollup_part(q, s->src[i].bi, &parts[k], mint, maxt, &rv, err);
			if (before && rv.n > before && rv.v[before].t_ms <= rv.v[before - 1].t_ms)
				is_sorted = false;
		}
		ts_free(parts);
	}
	tsdb_rollup_iter *it = rc ? NULL : ts_calloc(1, sizeof(*it));
	if (!rc && !it)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory opening a rollup iterator");
	if (rc) {
		ts_free(rv.v);
		return rc;
	}
	if (!is_sorted) { /* overlapping blocks of one tier: keep one row per bucket */
		qsort(rv.v, rv.n, sizeof(*rv.v), cmp_rollup);
		size_t w = 0;
		for (size_t i = 0; i < rv.n; i++)
			if (w == 0 || rv.v[i].t_ms != rv.v[w - 1].t_ms)
				rv.v[w++] = rv.v[i];
		rv.n = w;
	}
	size_t first, nt = tsdb_tombs_find(q->tombs, s->hash, &first);
	if (nt) { /* a row goes when its bucket (t - R, t] meets a deleted interval */
		int64_t res = tsdb_tier_resolution_ms(q->tier);
		size_t w = 0;
		for (size_t i = 0; i < rv.n; i++)
			if (!tsdb_tombs_hit(q->tombs, first, nt, rv.v[i].t_ms - res + 1,
					    rv.v[i].t_ms))
				rv.v[w++] = rv.v[i];
		rv.n = w;
	}
	it->rows = rv.v;
	it->n = rv.n;
	*out = it;
	return TS_OK;
}

int tsdb_rollup_iter_next(tsdb_rollup_iter *it, tsdb_rollup *row)
{
	if (it->pos >= it->n)
		return 0;
	*row = it->rows[it->pos++];
	return 1;
}

void tsdb_rollup_iter_close(tsdb_rollup_iter *it)
{
	if (!it)
		return;
	ts_free(it->rows);
	ts_free(it);
}

/* -------------------------------------------------------------------------------------
 * Label names and values
 * ---------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A growable array of borrowed strings. */
typedef struct strv {
	const char **v;
	size_t n, cap;
} strv;

static int strv_push(void *arg, const char *str)
{
	strv *sv = arg;
	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 64;
		const char **nv = ts_realloc(sv->v, nc * sizeof(*nv));
		if (!nv)
			return TS_ENOMEM;
		sv->v = nv;
		sv->cap = nc;
	}
	sv->v[sv->n++] = str;
	return TS_OK;
}

/*
 * Gather strings (names, or values of `name`) from matching series, sort, dedupe.
 * Without matchers, a block whose whole time range lies inside the querier's answers
 * from its label index instead of decoding every series (every block series has
 * samples inside the block's data range), a block partly inside from its postings
 * lists (tsdb_block_labels_in_range: one series in range per value, parts decoded,
 * labels not), and the head from its inverted index (tsdb_head_label_strings), so no
 * series is selected at all.
 */
static int gather(tsdb_querier *q, const char *name, const ts_matcher *ms, size_t n_ms,
		  const char ***out, size_t *n_out, ts_err *err)
{
	svec sv = {0};
	strv str = {0};
	int rc = TS_OK;
	if (n_ms) {
		rc = collect(q, ms, n_ms, &sv, err);
	} else {
		q->gen++;
		for (uint32_t bi = 0; bi < q->bs->n && rc == TS_OK; bi++) {
			tsdb_block *b = q->bs->b[bi];
			if (b->meta.tier != q->tier)
				continue;
			if (b->meta.data_mint >= q->mint && b->meta.data_maxt <= q->maxt)
				rc = tsdb_block_labels_each(b, name, strv_push, &str);
			else if (b->meta.data_maxt >= q->mint && b->meta.data_mint <= q->maxt)
				rc = tsdb_block_labels_in_range(b, name, q->mint, q->maxt,
								strv_push, &str, err);
		}
		/* The head answers from its inverted index: per value, one series with samples
		 * in range suffices (the index may list empty or out-of-range series). */
		if (rc == TS_OK && q->tier == TSDB_TIER_RAW)
			rc = tsdb_head_label_strings(q->db, name, q->mint, q->maxt, strv_push, &str,
						     err);
	}
	for (size_t i = 0; rc == TS_OK && i < sv.n; i++) {
		const tsdb_series *s = sv.v[i];
		for (size_t k = 0; rc == TS_OK && k < s->n_labels; k++) {
			if (!name)
				rc = strv_push(&str, s->labels[k].name);
			else if (strcmp(s->labels[k].name, name) == 0)
				rc = strv_push(&str, s->labels[k].value);
		}
	}
	ts_free(sv.v);
	if (rc) {
		ts_free(str.v);
		return rc == TS_ENOMEM ? ts_err_set(err, TS_ENOMEM, "out of memory listing labels")
				       : rc;
	}
	if (str.n > 1)
		qsort(str.v, str.n, sizeof(*str.v), cmp_str);
	size_t w = 0;
	for (size_t i = 0; i < str.n; i++)
		if (w == 0 || strcmp(str.v[i], str.v[w - 1]) != 0)
			str.v[w++] = str.v[i];
	*out = str.v;
	*n_out = w;
	return TS_OK;
}

int tsdb_label_names(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, const char ***out,
		     size_t *n_out, ts_err *err)
{
	return gather(q, NULL, ms, n_ms, out, n_out, err);
}

int tsdb_label_values(tsdb_querier *q, const char *name, const ts_matcher *ms, size_t n_ms,
		      const char ***out, size_t *n_out, ts_err *err)
{
	return gather(q, name, ms, n_ms, out, n_out, err);
}
