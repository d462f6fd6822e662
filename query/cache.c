/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache.c: the range-read cache in front of query_range (query.h, "range-read cache").
 *
 * Key: "<step>/<phase>/<lookback>\n<expression as printed by query_expr_format>", where
 * phase = start mod step: extents of one entry all lie on one step grid, so cached and
 * freshly evaluated steps line up exactly. Printing the parsed tree normalizes spacing,
 * quoting, duration spelling and redundant parentheses are kept as written (the printer
 * keeps PAREN nodes), so `rate(x[300s])` and `rate( x [5m] )` share an entry.
 *
 * Value: extents, sorted by start and disjoint: runs of steps [start_ms, end_ms] with
 * their series (sorted by labels, as query_range returns them) and points. A request
 * walks the extents overlapping [start, end]: covered runs are read from the extents,
 * the gaps are evaluated with query_range over exactly those steps, and the pieces are
 * merged: a series is identified by its label set across pieces, its points are the
 * concatenation in time order, and the merged series are sorted by labels like
 * query_range's. That equals the uncached result because every step of a range query is
 * evaluated independently of the others (selector windows, subquery grids aligned to
 * absolute multiples of their step, step-invariant nodes), except for @ start()/end()
 * and fixed @ times, and negative offsets that read data newer than the step: those
 * expressions bypass the cache. time() and timestamp() are per-step and fine. Each
 * extent keeps the tiers (query_stats.tiers_read) of the evaluations it holds, and an
 * answer reports the union over its pieces: a cached answer names what produced it.
 *
 * Freshness: only steps <= now - freshness are stored; the rest of a request is
 * evaluated every time. Newly evaluated cacheable runs are inserted as extents; once an
 * entry holds more than COALESCE_AT, runs of adjacent extents are merged into one, so a
 * dashboard that refreshes keeps a few extents and pays one copy per COALESCE_AT
 * refreshes.
 *
 * Late writes: before evaluating steps it will store, a request raises the store's
 * late-write watermark to its newest cacheable step (tsdb_late_watch). Every cache
 * operation first drains the store's late marks (metric name hash, oldest timestamp) and
 * trims, in each entry whose expression reads that metric (or any metric, for selectors
 * without a fixed name), every extent from the first step >= the timestamp on: a sample
 * at t can change the results of steps >= t only (no negative offsets here). Marks are
 * also kept in a ring of MARK_RING so that a request that evaluated while another request
 * drained marks applies them to its own new extents before inserting them; if the ring
 * overflowed meanwhile, the request does not insert.
 * Where marks come from (query_cache_options.late): the engine's store (role all), a
 * store's query_late_log (role store, late_log.c), or the stores' logs polled over HTTP
 * (role query, web/fanout_late.c). A provider with sync is asked before planning, out of
 * the lock (network); when it fails the request bypasses the cache (counted in
 * bypasses): correctness over speed. A watch the provider cannot promise means the
 * request evaluates but does not store.
 *
 * Memory: extents are reference counted. A request takes references to the extents it
 * reads and builds views (pointers into their immutable point arrays) under the lock,
 * and merges after releasing it. Trimming only shortens counts; points are never
 * rewritten, so a result series that comes from one extent borrows its labels and
 * points (the result holds a reference until query_result_free: a full hit copies no
 * points). Bytes are counted per entry (key, names, extent arrays, points and labels);
 * the least recently used entries are evicted while the total exceeds max_bytes.
 *
 * Not done: invalidation after retention or deletes (retention removes data older than
 * any dashboard range is likely to keep; there is no delete API), caching of instant
 * queries. One lock guards the whole cache: lookups copy no points under it, inserts
 * and coalescing copy one entry's points.
 */
#include "query/eval.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MARK_RING       256   /* late marks remembered for in-flight requests */
#define MAX_KEY_BYTES   65536 /* longer expressions bypass the cache */
#define QUERY_MAX_STEPS 11000 /* as query_range */
#define COALESCE_AT     8     /* extents an entry may hold before adjacent ones merge */

/* An extent: steps [start_ms, end_ms] of one entry. */
typedef struct cext {
	_Atomic uint32_t refs; /* the entry's + readers'; freed at 0 */
	int64_t start_ms;      /* first step; guarded by the cache lock */
	int64_t end_ms;        /* last step; shrinks on trim (cache lock) */
	query_series *series;  /* sorted by labels; .n shrinks on trim (cache lock) */
	size_t n_series;
	size_t bytes;        /* memory held */
	unsigned tiers_read; /* query_stats.tiers_read of the evaluations it holds */
} cext;

typedef struct centry centry;
struct centry {
	centry *hnext;               /* hash chain */
	centry *lru_prev, *lru_next; /* lru_prev toward the most recent */
	uint64_t hash;               /* of key */
	char *key;                   /* owned */
	size_t key_len;
	int64_t step_ms;
	uint64_t *names; /* tsdb_late_name_hash of metric names read; owned */
	size_t n_names;
	bool is_any_name; /* a selector without a fixed metric name */
	cext **ext;       /* sorted by start, disjoint; owned references */
	size_t n_ext, cap_ext;
	size_t bytes; /* counted memory of this entry */
};

struct query_cache {
	query_engine *eng; /* borrowed */
	query_cache_options opt;
	pthread_mutex_t lock; /* guards every field below */
	centry **buckets;
	size_t n_buckets, n_entries;
	centry *lru_head, *lru_tail; /* head = most recently used */
	size_t bytes;
	tsdb_late_mark ring[MARK_RING]; /* mark number k is ring[k % MARK_RING] */
	uint64_t mark_seq;              /* marks applied so far */
	query_cache_stats st;           /* bytes and entries are filled on read */
};

/* A view of one piece of a request, in time order: cached or evaluated. */
typedef struct piece {
	int64_t a, b;        /* steps */
	bool is_cached;      /* else evaluated into r */
	cext *ext;           /* cached: referenced extent */
	query_series *views; /* cached: series restricted to [a, b] (malloc'd array) */
	size_t n_views;
	query_result *r; /* evaluated */
	bool is_lent;    /* cached: the result holds a reference on ext */
} piece;

/* ---------------------------------------------------------------- extents */

static void ext_release(cext *x)
{
	if (!x || atomic_fetch_sub(&x->refs, 1) != 1)
		return;
	for (size_t i = 0; i < x->n_series; i++)
		ts_free(x->series[i].labels);
	ts_free(x->series);
	ts_free(x);
}

static void ext_release_cb(void *x)
{
	ext_release(x);
}

/* One allocation per cached series: label array, then t, v, then the label strings. */
static int series_alloc(query_series *o, const ts_label *l, size_t n_labels, size_t n_points,
			size_t *bytes)
{
	size_t lab = (n_labels ? n_labels : 1) * sizeof(ts_label), str = 0;
	for (size_t i = 0; i < n_labels; i++)
		str += strlen(l[i].name) + strlen(l[i].value) + 2;
	size_t total = lab + n_points * (sizeof(int64_t) + sizeof(double)) + str;
	char *p = ts_malloc(total);
	if (!p)
		return TS_ENOMEM;
	o->labels = (ts_label *)(void *)p;
	o->t = (int64_t *)(void *)(p + lab);
	o->v = (double *)(void *)(p + lab + n_points * sizeof(int64_t));
	char *s = p + lab + n_points * (sizeof(int64_t) + sizeof(double));
	for (size_t i = 0; i < n_labels; i++) {
		size_t nn = strlen(l[i].name) + 1, vn = strlen(l[i].value) + 1;
		memcpy(s, l[i].name, nn);
		o->labels[i].name = s;
		s += nn;
		memcpy(s, l[i].value, vn);
		o->labels[i].value = s;
		s += vn;
	}
	o->n_labels = n_labels;
	o->n = 0;
	*bytes += total + sizeof(*o);
	return TS_OK;
}

/* Number of points of s with t <= hi (points are sorted). */
static size_t count_upto(const query_series *s, int64_t hi)
{
	size_t lo = 0, up = s->n;
	while (lo < up) {
		size_t mid = lo + (up - lo) / 2;
		if (s->t[mid] <= hi)
			lo = mid + 1;
		else
			up = mid;
	}
	return lo;
}

/* Index of the first point of s with t >= lo. */
static size_t first_from(const query_series *s, int64_t lo)
{
	size_t a = 0, b = s->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (s->t[mid] < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/* ---------------------------------------------------------------- merging pieces */

typedef struct sref {
	const query_series *s;
	size_t piece; /* time order */
} sref;

static int cmp_sref(const void *pa, const void *pb)
{
	const sref *a = pa, *b = pb;
	int c = ts_labels_cmp(a->s->labels, a->s->n_labels, b->s->labels, b->s->n_labels);
	if (c)
		return c;
	return a->piece < b->piece ? -1 : a->piece > b->piece;
}

/*
 * Every non-empty series of lists[0..n) (lists in time order) sorted by labels, then by
 * list: equal label sets are adjacent and in time order. *out malloc'd.
 */
static int merge_refs(const query_series *const *lists, const size_t *n_in, size_t n, sref **out,
		      size_t *n_out)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += n_in[i];
	sref *r = ts_malloc((total ? total : 1) * sizeof(*r));
	if (!r)
		return TS_ENOMEM;
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n_in[i]; k++)
			if (lists[i][k].n)
				r[w++] = (sref){&lists[i][k], i};
	qsort(r, w, sizeof(*r), cmp_sref);
	*out = r;
	*n_out = w;
	return TS_OK;
}

/* End of the group of equal label sets starting at refs[i]. */
static size_t group_end(const sref *r, size_t n, size_t i)
{
	size_t j = i + 1;
	while (j < n && ts_labels_cmp(r[i].s->labels, r[i].s->n_labels, r[j].s->labels,
				      r[j].s->n_labels) == 0)
		j++;
	return j;
}

/* A new extent [start, end] from lists (time order) restricted to t <= end. */
static int ext_build(const query_series *const *lists, const size_t *n_in, size_t n, int64_t start,
		     int64_t end, cext **out)
{
	sref *r = NULL;
	size_t nr = 0;
	if (merge_refs(lists, n_in, n, &r, &nr))
		return TS_ENOMEM;
	cext *x = ts_calloc(1, sizeof(*x));
	if (!x)
		goto fail;
	atomic_init(&x->refs, 1);
	x->start_ms = start;
	x->end_ms = end;
	x->bytes = sizeof(*x);
	x->series = ts_calloc(nr ? nr : 1, sizeof(*x->series));
	if (!x->series)
		goto fail;
	for (size_t i = 0; i < nr;) {
		size_t j = group_end(r, nr, i), np = 0;
		for (size_t k = i; k < j; k++)
			np += count_upto(r[k].s, end);
		if (np) {
			query_series *o = &x->series[x->n_series];
			if (series_alloc(o, r[i].s->labels, r[i].s->n_labels, np, &x->bytes))
				goto fail;
			x->n_series++;
			for (size_t k = i; k < j; k++) {
				size_t m = count_upto(r[k].s, end);
				memcpy(o->t + o->n, r[k].s->t, m * sizeof(int64_t));
				memcpy(o->v + o->n, r[k].s->v, m * sizeof(double));
				o->n += m;
			}
		}
		i = j;
	}
	ts_free(r);
	*out = x;
	return TS_OK;
fail:
	ts_free(r);
	ext_release(x);
	return TS_ENOMEM;
}

/* ---------------------------------------------------------------- entries */

static uint64_t key_hash(const char *k, size_t n)
{
	return ts_hash64(k, n, 0xcac4e);
}

static centry *find(query_cache *c, const char *key, size_t len, uint64_t h)
{
	if (!c->n_buckets)
		return NULL;
	for (centry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

static void lru_unlink(query_cache *c, centry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(query_cache *c, centry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static void entry_remove(query_cache *c, centry *e)
{
	centry **pp = &c->buckets[e->hash & (c->n_buckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	for (size_t i = 0; i < e->n_ext; i++)
		ext_release(e->ext[i]);
	c->bytes -= e->bytes;
	c->n_entries--;
	ts_free(e->ext);
	ts_free(e->names);
	ts_free(e->key);
	ts_free(e);
}

static int grow_buckets(query_cache *c)
{
	size_t nb = c->n_buckets ? c->n_buckets * 2 : 64;
	centry **b = ts_calloc(nb, sizeof(*b));
	if (!b)
		return TS_ENOMEM;
	for (size_t i = 0; i < c->n_buckets; i++)
		for (centry *e = c->buckets[i], *next; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	ts_free(c->buckets);
	c->buckets = b;
	c->n_buckets = nb;
	return TS_OK;
}

/* Drop extent i of e (release the entry's reference). */
static void ext_remove_at(query_cache *c, centry *e, size_t i)
{
	cext *x = e->ext[i];
	e->bytes -= x->bytes;
	c->bytes -= x->bytes;
	memmove(e->ext + i, e->ext + i + 1, (e->n_ext - i - 1) * sizeof(*e->ext));
	e->n_ext--;
	ext_release(x);
}

/* Trim e's extents to steps < t. */
static void entry_trim(query_cache *c, centry *e, int64_t t)
{
	for (size_t i = e->n_ext; i-- > 0;) {
		cext *x = e->ext[i];
		if (x->end_ms < t)
			break;
		c->st.invalidations++;
		if (x->start_ms >= t) {
			ext_remove_at(c, e, i);
			continue;
		}
		/* start < t <= end: keep the steps before t. */
		int64_t last = x->start_ms + ((t - 1 - x->start_ms) / e->step_ms) * e->step_ms;
		x->end_ms = last;
		for (size_t k = 0; k < x->n_series; k++)
			x->series[k].n = count_upto(&x->series[k], last);
	}
}

static bool entry_reads(const centry *e, uint64_t name_hash)
{
	if (e->is_any_name || name_hash == TSDB_LATE_ALL)
		return true;
	for (size_t i = 0; i < e->n_names; i++)
		if (e->names[i] == name_hash)
			return true;
	return false;
}

/* Drain the store's late marks, remember them in the ring, trim affected entries. */
static void apply_late(query_cache *c)
{
	tsdb_late_mark m[TSDB_LATE_MAX_NAMES];
	const query_late_provider *p = c->opt.late;
	size_t n = p ? p->drain(p->ctx, m) : tsdb_late_drain(c->eng->opt.db, m);
	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		c->ring[c->mark_seq++ % MARK_RING] = m[i];
	for (size_t b = 0; b < c->n_buckets; b++)
		for (centry *e = c->buckets[b], *next; e; e = next) {
			next = e->hnext;
			for (size_t i = 0; i < n; i++)
				if (entry_reads(e, m[i].name_hash))
					entry_trim(c, e, m[i].min_t_ms);
			if (!e->n_ext)
				entry_remove(c, e);
		}
}

static void evict(query_cache *c)
{
	while (c->bytes > c->opt.max_bytes && c->lru_tail) {
		entry_remove(c, c->lru_tail);
		c->st.evictions++;
	}
}

/* ---------------------------------------------------------------- the request */

typedef struct scan {
	bool is_cacheable;
	bool is_any_name;
	uint64_t names[64];
	size_t n_names;
} scan;

static int scan_walk(const query_expr *e, void *ctx)
{
	scan *s = ctx;
	const query_mods *m = NULL;
	if (e->kind == QUERY_EXPR_VECTOR_SELECTOR) {
		m = &e->vs.mods;
		const char *name = NULL;
		for (size_t i = 0; i < e->vs.n_matchers; i++)
			if (e->vs.matchers[i].type == TS_MATCH_EQ &&
			    strcmp(e->vs.matchers[i].name, TS_METRIC_NAME) == 0)
				name = e->vs.matchers[i].value;
		if (!name || s->n_names == sizeof(s->names) / sizeof(s->names[0])) {
			s->is_any_name = true;
		} else {
			uint64_t h = tsdb_late_name_hash(name);
			bool have = false;
			for (size_t i = 0; i < s->n_names; i++)
				have |= s->names[i] == h;
			if (!have)
				s->names[s->n_names++] = h;
		}
	} else if (e->kind == QUERY_EXPR_SUBQUERY) {
		m = &e->subquery.mods;
	}
	if (m && (m->at != QUERY_AT_NONE || m->offset_ms < 0))
		s->is_cacheable = false;
	return QUERY_WALK_CONTINUE;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	if (b > 0 && a < INT64_MIN + b)
		return INT64_MIN;
	return a - b;
}

/* Largest step of the grid (start + k*step) that is <= t, or INT64_MIN if t < start. */
static int64_t grid_floor(int64_t start, int64_t step, int64_t t)
{
	if (t < start)
		return INT64_MIN;
	return start + ((t - start) / step) * step;
}

static void pieces_free(piece *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ext_release(p[i].ext);
		ts_free(p[i].views);
		query_result_free(p[i].r);
	}
	ts_free(p);
}

/* Tiers that produced a piece: recorded with a cached extent, or its evaluation's. */
static unsigned piece_tiers(const piece *p)
{
	return p->is_cached ? p->ext->tiers_read : p->r->stats.tiers_read;
}

/* Build the caller's result from the pieces (time order); its tier is their union. */
static int build_result(piece *p, size_t np, query_result **out, ts_err *err)
{
	const query_series **lists = ts_malloc((np ? np : 1) * sizeof(*lists));
	size_t *ns = ts_malloc((np ? np : 1) * sizeof(*ns));
	sref *r = NULL;
	size_t nr = 0;
	query_arena *arena = NULL;
	if (!lists || !ns)
		goto nomem;
	query_stats st = {.tier = "raw"};
	for (size_t i = 0; i < np; i++) {
		st.tiers_read |= piece_tiers(&p[i]);
		if (p[i].is_cached) {
			lists[i] = p[i].views;
			ns[i] = p[i].n_views;
			st.cache = 1;
		} else {
			lists[i] = p[i].r->series;
			ns[i] = p[i].r->n_series;
			st.samples_loaded += p[i].r->stats.samples_loaded;
			st.series_loaded += p[i].r->stats.series_loaded;
			st.exec_ns += p[i].r->stats.exec_ns;
		}
	}
	st.tier = qe_tiers_name(st.tiers_read);
	if (merge_refs(lists, ns, np, &r, &nr))
		goto nomem;
	if (!(arena = query_arena_new(0)))
		goto nomem;
	query_result *res = query_arena_alloc(arena, sizeof(*res));
	if (!res)
		goto nomem;
	res->priv = arena;
	res->type = QUERY_RESULT_MATRIX;
	res->series = query_arena_alloc(arena, (nr ? nr : 1) * sizeof(*res->series));
	if (!res->series)
		goto nomem;
	for (size_t i = 0; i < nr;) {
		size_t j = group_end(r, nr, i), npt = 0;
		for (size_t k = i; k < j; k++)
			npt += r[k].s->n;
		query_series *o = &res->series[res->n_series++];
		piece *pc = &p[r[i].piece];
		if (j == i + 1 && pc->is_cached) {
			/* From one extent: lend its labels and points (never rewritten) instead
			 * of copying; the result keeps a reference until query_result_free. */
			if (!pc->is_lent) {
				atomic_fetch_add(&pc->ext->refs, 1);
				if (query_arena_defer(arena, ext_release_cb, pc->ext) != TS_OK) {
					ext_release(pc->ext);
					goto nomem;
				}
				pc->is_lent = true;
			}
			*o = *r[i].s;
			i = j;
			continue;
		}
		o->n_labels = r[i].s->n_labels;
		o->labels =
		    query_arena_alloc(arena, (o->n_labels ? o->n_labels : 1) * sizeof(*o->labels));
		o->t = query_arena_alloc(arena, npt * sizeof(int64_t));
		o->v = query_arena_alloc(arena, npt * sizeof(double));
		if (!o->labels || !o->t || !o->v)
			goto nomem;
		for (size_t l = 0; l < o->n_labels; l++) {
			o->labels[l].name = query_arena_strdup(arena, r[i].s->labels[l].name);
			o->labels[l].value = query_arena_strdup(arena, r[i].s->labels[l].value);
			if (!o->labels[l].name || !o->labels[l].value)
				goto nomem;
		}
		for (size_t k = i; k < j; k++) {
			memcpy(o->t + o->n, r[k].s->t, r[k].s->n * sizeof(int64_t));
			memcpy(o->v + o->n, r[k].s->v, r[k].s->n * sizeof(double));
			o->n += r[k].s->n;
		}
		i = j;
	}
	res->stats = st;
	res->warning[0] = 0;
	for (size_t i = 0; i < np && !res->warning[0]; i++)
		if (!p[i].is_cached && p[i].r->warning[0]) /* a partial answer says so */
			memcpy(res->warning, p[i].r->warning, sizeof(res->warning));
	ts_free(lists);
	ts_free(ns);
	ts_free(r);
	*out = res;
	return TS_OK;
nomem:
	ts_free(lists);
	ts_free(ns);
	ts_free(r);
	query_arena_free(arena);
	return ts_err_set(err, TS_ENOMEM, "out of memory merging cached query results");
}

/* Views of x's series restricted to steps [a, b] (called under the lock). */
static int take_views(piece *p, cext *x)
{
	p->views = ts_malloc((x->n_series ? x->n_series : 1) * sizeof(*p->views));
	if (!p->views)
		return TS_ENOMEM;
	for (size_t k = 0; k < x->n_series; k++) {
		const query_series *s = &x->series[k];
		size_t lo = first_from(s, p->a), hi = count_upto(s, p->b);
		if (hi <= lo)
			continue;
		query_series *v = &p->views[p->n_views++];
		*v = *s;
		v->t = s->t + lo;
		v->v = s->v + lo;
		v->n = hi - lo;
	}
	atomic_fetch_add(&x->refs, 1);
	p->ext = x;
	return TS_OK;
}

/*
 * Under the lock: plan the pieces of [start, last] from entry e (NULL: one missing
 * piece). *out malloc'd.
 */
static int plan(centry *e, int64_t start, int64_t last, int64_t step, piece **out, size_t *n_out)
{
	size_t cap = 2 * (e ? e->n_ext : 0) + 2, n = 0;
	piece *p = ts_calloc(cap, sizeof(*p));
	if (!p)
		return TS_ENOMEM;
	int64_t cur = start;
	for (size_t i = 0; e && i < e->n_ext && cur <= last; i++) {
		cext *x = e->ext[i];
		if (x->end_ms < cur)
			continue;
		if (x->start_ms > last)
			break;
		if (x->start_ms > cur)
			p[n++] = (piece){.a = cur, .b = x->start_ms - step};
		p[n] = (piece){.a = cur > x->start_ms ? cur : x->start_ms,
			       .b = x->end_ms < last ? x->end_ms : last,
			       .is_cached = true};
		if (take_views(&p[n], x)) {
			pieces_free(p, n + 1);
			return TS_ENOMEM;
		}
		cur = p[n].b + step;
		n++;
	}
	if (cur <= last)
		p[n++] = (piece){.a = cur, .b = last};
	*out = p;
	*n_out = n;
	return TS_OK;
}

/*
 * Merge every run of grid-adjacent extents of e into one extent. Called when e has more
 * than COALESCE_AT extents, so an auto-refreshing dashboard (one new adjacent extent per
 * refresh) pays one copy of the entry every COALESCE_AT refreshes, not every time.
 */
static void coalesce(query_cache *c, centry *e)
{
	const query_series **lists = ts_malloc(e->n_ext * sizeof(*lists));
	size_t *ns = ts_malloc(e->n_ext * sizeof(*ns));
	for (size_t i = 0; lists && ns && i < e->n_ext; i++) {
		size_t j = i + 1;
		while (j < e->n_ext && e->ext[j - 1]->end_ms + e->step_ms == e->ext[j]->start_ms)
			j++;
		if (j - i < 2)
			continue;
		for (size_t k = i; k < j; k++) {
			lists[k - i] = e->ext[k]->series;
			ns[k - i] = e->ext[k]->n_series;
		}
		cext *m = NULL;
		if (ext_build(lists, ns, j - i, e->ext[i]->start_ms, e->ext[j - 1]->end_ms, &m))
			break; /* out of memory: keep them apart */
		for (size_t k = i; k < j; k++)
			m->tiers_read |= e->ext[k]->tiers_read;
		for (size_t k = j; k-- > i + 1;)
			ext_remove_at(c, e, k);
		e->bytes -= e->ext[i]->bytes;
		c->bytes -= e->ext[i]->bytes;
		ext_release(e->ext[i]);
		e->ext[i] = m;
		e->bytes += m->bytes;
		c->bytes += m->bytes;
	}
	ts_free(lists);
	ts_free(ns);
}

/* Under the lock: insert x (taken) into e, keeping extents sorted, disjoint, coalesced. */
static void insert_ext(query_cache *c, centry *e, cext *x)
{
	size_t i = 0;
	while (i < e->n_ext && e->ext[i]->end_ms < x->start_ms)
		i++;
	if (i < e->n_ext && e->ext[i]->start_ms <= x->end_ms) {
		ext_release(x); /* a concurrent request cached these steps first */
		return;
	}
	if (e->n_ext == e->cap_ext) {
		size_t nc = e->cap_ext ? e->cap_ext * 2 : 4;
		cext **v = ts_realloc(e->ext, nc * sizeof(*v));
		if (!v) {
			ext_release(x);
			return;
		}
		e->bytes += (nc - e->cap_ext) * sizeof(*v);
		c->bytes += (nc - e->cap_ext) * sizeof(*v);
		e->ext = v;
		e->cap_ext = nc;
	}
	memmove(e->ext + i + 1, e->ext + i, (e->n_ext - i) * sizeof(*e->ext));
	e->ext[i] = x;
	e->n_ext++;
	e->bytes += x->bytes;
	c->bytes += x->bytes;
	if (e->n_ext > COALESCE_AT)
		coalesce(c, e);
}

static centry *entry_new(query_cache *c, const char *key, size_t len, uint64_t h, int64_t step,
			 const scan *sc)
{
	if (c->n_entries >= c->n_buckets && grow_buckets(c))
		return NULL;
	centry *e = ts_calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = ts_malloc(len);
	e->names = ts_malloc((sc->n_names ? sc->n_names : 1) * sizeof(*e->names));
	if (!e->key || !e->names) {
		ts_free(e->key);
		ts_free(e->names);
		ts_free(e);
		return NULL;
	}
	memcpy(e->key, key, len);
	memcpy(e->names, sc->names, sc->n_names * sizeof(*e->names));
	e->key_len = len;
	e->hash = h;
	e->step_ms = step;
	e->n_names = sc->n_names;
	e->is_any_name = sc->is_any_name;
	e->bytes = sizeof(*e) + len + sc->n_names * sizeof(*e->names);
	e->hnext = c->buckets[h & (c->n_buckets - 1)];
	c->buckets[h & (c->n_buckets - 1)] = e;
	lru_push_front(c, e);
	c->n_entries++;
	c->bytes += e->bytes;
	return e;
}

/*
 * Insert the cacheable parts (steps <= upto) of the evaluated pieces. seq0 is the mark
 * sequence when the request planned: marks drained since then are applied to the new
 * extents first.
 */
static void insert_new(query_cache *c, const char *key, size_t len, uint64_t h, int64_t step,
		       const scan *sc, piece *p, size_t np, int64_t upto, uint64_t seq0)
{
	cext **nx = ts_malloc((np ? np : 1) * sizeof(*nx));
	size_t n_nx = 0;
	if (!nx)
		return; /* not cached this time */
	for (size_t i = 0; i < np; i++) {
		if (p[i].is_cached || p[i].a > upto || p[i].r->warning[0])
			continue; /* partial answers (a store did not answer) are not kept */
		int64_t b = p[i].b < upto ? p[i].b : upto;
		const query_series *lists[1] = {p[i].r->series};
		size_t ns[1] = {p[i].r->n_series};
		if (ext_build(lists, ns, 1, p[i].a, b, &nx[n_nx]) == TS_OK)
			nx[n_nx++]->tiers_read = p[i].r->stats.tiers_read;
	}
	if (!n_nx) {
		ts_free(nx);
		return;
	}
	pthread_mutex_lock(&c->lock);
	apply_late(c);
	centry tmp = {.step_ms = step,
		      .names = (uint64_t *)sc->names,
		      .n_names = sc->n_names,
		      .is_any_name = sc->is_any_name};
	bool is_lost = c->mark_seq - seq0 > MARK_RING;
	for (uint64_t k = seq0; !is_lost && k < c->mark_seq; k++) {
		const tsdb_late_mark *m = &c->ring[k % MARK_RING];
		if (!entry_reads(&tmp, m->name_hash))
			continue;
		/* Trim the new extents exactly as entry_trim trims stored ones. */
		tmp.ext = nx;
		tmp.n_ext = n_nx;
		tmp.bytes = 0;
		size_t before = c->bytes;
		entry_trim(c, &tmp, m->min_t_ms);
		c->bytes = before; /* not yet counted in the cache */
		n_nx = tmp.n_ext;
	}
	centry *e = is_lost ? NULL : find(c, key, len, h);
	if (!is_lost && !e)
		e = entry_new(c, key, len, h, step, sc);
	for (size_t i = 0; i < n_nx; i++) {
		if (e)
			insert_ext(c, e, nx[i]);
		else
			ext_release(nx[i]);
	}
	if (e && !e->n_ext)
		entry_remove(c, e);
	evict(c);
	pthread_mutex_unlock(&c->lock);
	ts_free(nx);
}

int query_range_cached(query_engine *e, query_cache *c, const char *expr, size_t len,
		       int64_t start_ms, int64_t end_ms, int64_t step_ms, int64_t now_ms,
		       query_result **out, ts_err *err)
{
	return query_range_cached_until(e, c, expr, len, start_ms, end_ms, step_ms, now_ms, 0, out,
					err);
}

int query_range_cached_until(query_engine *e, query_cache *c, const char *expr, size_t len,
			     int64_t start_ms, int64_t end_ms, int64_t step_ms, int64_t now_ms,
			     int64_t deadline_ns, query_result **out, ts_err *err)
{
	if (!c || c->opt.max_bytes == 0 || end_ms < start_ms || step_ms <= 0 ||
	    (end_ms - start_ms) / step_ms > QUERY_MAX_STEPS || TS_NEVER(c->eng != e))
		return query_range_until(e, expr, len, start_ms, end_ms, step_ms, deadline_ns, out,
					 err);
	int64_t t0 = ts_mono_ns();
	/* Parse and print: the key. Anything unusual takes the uncached path, which also
	 * produces the errors. */
	query_arena *arena = query_arena_new(0);
	if (!arena)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	query_expr *root = NULL;
	scan sc = {.is_cacheable = true};
	ts_buf key;
	ts_buf_init(&key, MAX_KEY_BYTES);
	int64_t phase = ((start_ms % step_ms) + step_ms) % step_ms;
	if (query_parse(arena, expr, len, &root, NULL) != TS_OK ||
	    (query_expr_type(root) != QUERY_VALUE_SCALAR &&
	     query_expr_type(root) != QUERY_VALUE_VECTOR) ||
	    query_expr_walk(root, scan_walk, &sc) != TS_OK || !sc.is_cacheable ||
	    ts_buf_printf(&key, "%lld/%lld/%lld\n", (long long)step_ms, (long long)phase,
			  (long long)e->opt.lookback_delta_ms) != TS_OK ||
	    query_expr_format(root, &key) != TS_OK) {
		query_arena_free(arena);
		ts_buf_free(&key);
		return query_range_until(e, expr, len, start_ms, end_ms, step_ms, deadline_ns, out,
					 err);
	}
	query_arena_free(arena);
	uint64_t h = key_hash((const char *)key.data, key.len);
	int64_t last = grid_floor(start_ms, step_ms, end_ms);
	int64_t upto = grid_floor(start_ms, step_ms, sat_sub(now_ms, c->opt.freshness_ms));
	const query_late_provider *lp = c->opt.late;
	if (lp && lp->sync) {
		/* Marks from remote stores: fetched outside the lock, applied under it below. */
		ts_err se = {0};
		if (lp->sync(lp->ctx, upto, &se) != TS_OK) {
			ts_log_debug("query cache bypassed: %s", se.msg);
			pthread_mutex_lock(&c->lock);
			c->st.bypasses++;
			pthread_mutex_unlock(&c->lock);
			ts_buf_free(&key);
			return query_range_until(e, expr, len, start_ms, end_ms, step_ms,
						 deadline_ns, out, err);
		}
	}

	piece *p = NULL;
	size_t np = 0;
	pthread_mutex_lock(&c->lock);
	apply_late(c);
	centry *ent = find(c, (const char *)key.data, key.len, h);
	int rc = plan(ent, start_ms, last, step_ms, &p, &np);
	uint64_t seq0 = c->mark_seq;
	bool has_cached = false, has_missing = false;
	int64_t watch = INT64_MIN;
	for (size_t i = 0; rc == TS_OK && i < np; i++) {
		has_cached |= p[i].is_cached;
		has_missing |= !p[i].is_cached;
		if (!p[i].is_cached && p[i].a <= upto)
			watch = p[i].b < upto ? p[i].b : upto;
	}
	if (rc == TS_OK) {
		if (ent) {
			lru_unlink(c, ent);
			lru_push_front(c, ent);
		}
		c->st.hits += has_cached;
		c->st.partial_hits += has_cached && has_missing;
		c->st.misses += !has_cached;
		/* Before evaluating: later writes at or before these steps become late. */
		if (watch != INT64_MIN && lp && !lp->watch(lp->ctx, watch))
			watch = INT64_MIN; /* not promised: evaluate, do not store */
		else if (watch != INT64_MIN && !lp)
			tsdb_late_watch(e->opt.db, watch);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		ts_buf_free(&key);
		return ts_err_set(err, TS_ENOMEM, "out of memory planning a cached query");
	}
	for (size_t i = 0; i < np; i++) {
		if (p[i].is_cached)
			continue;
		rc = query_range_until(e, expr, len, p[i].a, p[i].b, step_ms, deadline_ns, &p[i].r,
				       err);
		if (rc)
			goto out;
	}
	rc = build_result(p, np, out, err);
	if (rc == TS_OK)
		(*out)->stats.exec_ns = ts_mono_ns() - t0;
	if (rc == TS_OK && watch != INT64_MIN)
		insert_new(c, (const char *)key.data, key.len, h, step_ms, &sc, p, np, upto, seq0);
out:
	pieces_free(p, np);
	ts_buf_free(&key);
	return rc;
}

/* ---------------------------------------------------------------- lifecycle */

int query_cache_new(query_engine *e, const query_cache_options *o, query_cache **out, ts_err *err)
{
	if (!e)
		return ts_err_set(err, TS_EINVAL, "query cache needs a query engine");
	if (!o->late && !e->opt.db)
		return ts_err_set(err, TS_EINVAL,
				  "query cache over a series source needs a late-marks provider");
	if (o->late && (!o->late->watch || !o->late->drain))
		return ts_err_set(err, TS_EINVAL,
				  "query cache late-marks provider needs watch and drain");
	if (o->freshness_ms < 0)
		return ts_err_set(err, TS_EINVAL, "query cache freshness must not be negative");
	query_cache *c = ts_calloc(1, sizeof(*c));
	if (!c)
		return ts_err_set(err, TS_ENOMEM, "out of memory creating the query cache");
	c->eng = e;
	c->opt = *o;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return TS_OK;
}

void query_cache_free(query_cache *c)
{
	if (!c)
		return;
	while (c->lru_tail)
		entry_remove(c, c->lru_tail);
	ts_free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	ts_free(c);
}

void query_cache_stats_get(query_cache *c, query_cache_stats *out)
{
	if (!c) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	out->bytes = c->bytes;
	out->entries = c->n_entries;
	pthread_mutex_unlock(&c->lock);
}
