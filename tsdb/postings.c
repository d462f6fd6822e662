/* SPDX-License-Identifier: Apache-2.0 */
/*
 * postings.c: postings lists, matcher selection over any index, and the head's
 * in-memory inverted index.
 *
 * A postings list is a sorted array of unique uint32 series ids. Selection
 * (tsdb_postings_select) follows Prometheus' PostingsForMatchers: intersect the lists
 * of matchers that do not match the empty string (equality first, cheapest), then
 * subtract, for each matcher that does match "" (!=, !~, ="" ...), the union of the
 * values that fail it, starting from all series if nothing positive came first. The
 * index behind it is abstract (tsdb_pindex_ops): the head's below, a block's in
 * block_read.c.
 *
 * Head index (guarded by db->index_lock): label pair -> postings list, and label name
 * -> its pairs (so a regex scans the name's values only, not every series), both hash
 * tables keyed by string content; by_id maps a head id to its series. Ids are dense
 * and assigned in indexing order, so appending an id keeps every list sorted. After a
 * cut's GC, tsdb_hindex_compact() removes the gone series, drops empty lists and
 * renumbers the survivors 0..n-1 (a monotone map, so lists stay sorted), which keeps
 * by_id dense under series churn. Label names and values for a time range come straight
 * from the name -> pairs table (tsdb_head_label_strings), checking one series per value.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------------------------------
 * Lists
 * ---------------------------------------------------------------------------------- */

int tsdb_plist_push(tsdb_plist *l, uint32_t id, ts_err *err)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 4;
		uint32_t *v = ts_realloc(l->ids, nc * sizeof(*v));
		if (!v)
			return ts_err_set(err, TS_ENOMEM, "out of memory growing a postings list");
		l->ids = v;
		l->cap = nc;
	}
	l->ids[l->n++] = id;
	return TS_OK;
}

void tsdb_plist_free(tsdb_plist *l)
{
	ts_free(l->ids);
	memset(l, 0, sizeof(*l));
}

void tsdb_plist_intersect(tsdb_plist *a, const tsdb_plist *b)
{
	size_t i = 0, j = 0, w = 0;
	while (i < a->n && j < b->n) {
		if (a->ids[i] < b->ids[j])
			i++;
		else if (b->ids[j] < a->ids[i])
			j++;
		else {
			a->ids[w++] = a->ids[i];
			i++;
			j++;
		}
	}
	a->n = w;
}

void tsdb_plist_subtract(tsdb_plist *a, const tsdb_plist *b)
{
	size_t i = 0, j = 0, w = 0;
	while (i < a->n) {
		while (j < b->n && b->ids[j] < a->ids[i])
			j++;
		if (j < b->n && b->ids[j] == a->ids[i]) {
			i++;
			continue;
		}
		a->ids[w++] = a->ids[i++];
	}
	a->n = w;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void tsdb_plist_normalize(tsdb_plist *l)
{
	if (l->n < 2)
		return;
	bool sorted = true;
	for (size_t i = 1; i < l->n && sorted; i++)
		sorted = l->ids[i - 1] < l->ids[i];
	if (sorted)
		return;
	qsort(l->ids, l->n, sizeof(*l->ids), cmp_u32);
	size_t w = 1;
	for (size_t i = 1; i < l->n; i++)
		if (l->ids[i] != l->ids[w - 1])
			l->ids[w++] = l->ids[i];
	l->n = w;
}

/* -------------------------------------------------------------------------------------
 * Selection
 * ---------------------------------------------------------------------------------- */

int tsdb_postings_select(const tsdb_pindex_ops *ops, void *ctx, const ts_matcher *ms, size_t n_ms,
			 tsdb_plist *out, ts_err *err)
{
	tsdb_plist tmp = {0};
	bool have = false;
	int rc = TS_OK;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_ms; i++) {
			const ts_matcher *m = &ms[i];
			if (ts_matcher_matches_empty(m) || (pass == 0) != (m->type == TS_MATCH_EQ))
				continue;
			rc = m->type == TS_MATCH_EQ ? ops->eq(ctx, m->name, m->value, &tmp, err)
						    : ops->matching(ctx, m, true, &tmp, err);
			if (rc)
				goto out;
			if (!have) {
				tsdb_plist t = *out;
				*out = tmp;
				tmp = t;
				have = true;
			} else {
				tsdb_plist_intersect(out, &tmp);
			}
			if (out->n == 0)
				goto out;
		}
	}
	for (size_t i = 0; i < n_ms; i++) {
		const ts_matcher *m = &ms[i];
		if (!ts_matcher_matches_empty(m))
			continue;
		if (!have) {
			if ((rc = ops->all(ctx, out, err)))
				goto out;
			have = true;
		}
		if (out->n == 0)
			goto out;
		if ((rc = ops->matching(ctx, m, false, &tmp, err)))
			goto out;
		tsdb_plist_subtract(out, &tmp);
	}
	if (!have)
		rc = ops->all(ctx, out, err);
out:
	tsdb_plist_free(&tmp);
	if (rc)
		out->n = 0;
	return rc;
}

/* -------------------------------------------------------------------------------------
 * Head index
 * ---------------------------------------------------------------------------------- */

static uint64_t str_hash(const char *s, uint64_t seed)
{
	return ts_hash64(s, strlen(s), seed);
}

static uint64_t pair_hash(const char *name, const char *value)
{
	return str_hash(value, str_hash(name, 0) ^ 0x9E3779B97F4A7C15ull);
}

static tsdb_hpost *find_pair(const tsdb_hindex *x, const char *name, const char *value, uint64_t h)
{
	if (!x->n_pair_buckets)
		return NULL;
	for (tsdb_hpost *p = x->pairs[h & (x->n_pair_buckets - 1)]; p; p = p->next)
		if (p->hash == h && strcmp(p->value, value) == 0 && strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static tsdb_hname *find_name(const tsdb_hindex *x, const char *name, uint64_t h)
{
	if (!x->n_name_buckets)
		return NULL;
	for (tsdb_hname *p = x->names[h & (x->n_name_buckets - 1)]; p; p = p->next)
		if (p->hash == h && strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* Rehash chains to nb buckets (a power of two). */
#define REHASH(db, type, table, n_buckets, nb)                           \
	do {                                                             \
		type **b_ = tsdb_hmem_calloc(db, nb, sizeof(*b_));       \
		if (!b_)                                                 \
			return TS_ENOMEM;                                \
		for (size_t i_ = 0; i_ < (n_buckets); i_++) {            \
			for (type *p_ = (table)[i_], *n_; p_; p_ = n_) { \
				n_ = p_->next;                           \
				p_->next = b_[p_->hash & ((nb)-1)];      \
				b_[p_->hash & ((nb)-1)] = p_;            \
			}                                                \
		}                                                        \
		tsdb_hmem_free(db, table, (n_buckets) * sizeof(*b_));    \
		(table) = b_;                                            \
		(n_buckets) = nb;                                        \
	} while (0)

static int grow_pairs(tsdb_db *db)
{
	tsdb_hindex *x = &db->idx;
	size_t nb = x->n_pair_buckets ? x->n_pair_buckets * 2 : 1024;
	REHASH(db, tsdb_hpost, x->pairs, x->n_pair_buckets, nb);
	return TS_OK;
}

static int grow_names(tsdb_db *db)
{
	tsdb_hindex *x = &db->idx;
	size_t nb = x->n_name_buckets ? x->n_name_buckets * 2 : 64;
	REHASH(db, tsdb_hname, x->names, x->n_name_buckets, nb);
	return TS_OK;
}

/* The pair entry for (name, value), created if needed (strings interned). */
static tsdb_hpost *get_pair(tsdb_db *db, const char *name, const char *value)
{
	tsdb_hindex *x = &db->idx;
	uint64_t h = pair_hash(name, value);
	tsdb_hpost *p = find_pair(x, name, value, h);
	if (p)
		return p;
	if (x->n_pairs + 1 > x->n_pair_buckets && grow_pairs(db) != TS_OK)
		return NULL;
	uint64_t hn = str_hash(name, 0);
	tsdb_hname *nm = find_name(x, name, hn);
	if (!nm) {
		if (x->n_names + 1 > x->n_name_buckets && grow_names(db) != TS_OK)
			return NULL;
		nm = tsdb_hmem_calloc(db, 1, sizeof(*nm));
		if (!nm)
			return NULL;
		nm->hash = hn;
		nm->name = name;
		nm->next = x->names[hn & (x->n_name_buckets - 1)];
		x->names[hn & (x->n_name_buckets - 1)] = nm;
		x->n_names++;
	}
	if (nm->n_vals == nm->cap_vals) {
		size_t nc = nm->cap_vals ? nm->cap_vals * 2 : 4;
		tsdb_hpost **v =
		    tsdb_hmem_realloc(db, nm->vals, nm->cap_vals * sizeof(*v), nc * sizeof(*v));
		if (!v)
			return NULL;
		nm->vals = v;
		nm->cap_vals = nc;
	}
	p = tsdb_hmem_calloc(db, 1, sizeof(*p));
	if (!p)
		return NULL;
	p->hash = h;
	p->name = name;
	p->value = value;
	p->next = x->pairs[h & (x->n_pair_buckets - 1)];
	x->pairs[h & (x->n_pair_buckets - 1)] = p;
	x->n_pairs++;
	nm->vals[nm->n_vals++] = p;
	return p;
}

/* Push id onto a head list, accounting its memory. */
static int hpush(tsdb_db *db, tsdb_plist *l, uint32_t id)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 2;
		uint32_t *v = tsdb_hmem_realloc(db, l->ids, l->cap * sizeof(*v), nc * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		l->ids = v;
		l->cap = nc;
	}
	l->ids[l->n++] = id;
	return TS_OK;
}

int tsdb_hindex_add(tsdb_db *db, tsdb_hseries *s, ts_err *err)
{
	tsdb_hindex *x = &db->idx;
	if (x->n_ids >= UINT32_MAX)
		return ts_err_set(err, TS_ELIMIT, "more than %u series in the head", UINT32_MAX);
	if (x->n_ids == x->cap_ids) {
		size_t nc = x->cap_ids ? x->cap_ids * 2 : 1024;
		tsdb_hseries **v =
		    tsdb_hmem_realloc(db, x->by_id, x->cap_ids * sizeof(*v), nc * sizeof(*v));
		if (!v)
			return ts_err_set(err, TS_ENOMEM, "out of memory indexing a series");
		x->by_id = v;
		x->cap_ids = nc;
	}
	uint32_t id = (uint32_t)x->n_ids;
	for (uint32_t i = 0; i < s->n_labels; i++) {
		tsdb_hpost *p = get_pair(db, s->labels[i].name, s->labels[i].value);
		if (!p || hpush(db, &p->ids, id) != TS_OK) {
			/* Roll back: id is the last element of every list it reached. */
			for (uint32_t k = 0; k < i; k++) {
				tsdb_hpost *q =
				    find_pair(x, s->labels[k].name, s->labels[k].value,
					      pair_hash(s->labels[k].name, s->labels[k].value));
				if (q && q->ids.n && q->ids.ids[q->ids.n - 1] == id)
					q->ids.n--;
			}
			return ts_err_set(err, TS_ENOMEM, "out of memory indexing a series");
		}
	}
	x->by_id[id] = s;
	x->n_ids++;
	s->id = id;
	s->is_indexed = true;
	return TS_OK;
}

static void unlink_pair(tsdb_db *db, tsdb_hpost *p)
{
	tsdb_hindex *x = &db->idx;
	tsdb_hpost **pp = &x->pairs[p->hash & (x->n_pair_buckets - 1)];
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	x->n_pairs--;
	tsdb_hmem_free(db, p->ids.ids, p->ids.cap * sizeof(*p->ids.ids));
	tsdb_hmem_free(db, p, sizeof(*p));
}

void tsdb_hindex_compact(tsdb_db *db, tsdb_hseries **gone, size_t n)
{
	tsdb_hindex *x = &db->idx;
	for (size_t i = 0; i < n; i++) {
		if (gone[i]->is_indexed && gone[i]->id < x->n_ids &&
		    x->by_id[gone[i]->id] == gone[i]) {
			x->by_id[gone[i]->id] = NULL;
			gone[i]->is_indexed = false;
		}
	}
	uint32_t *map = ts_malloc((x->n_ids ? x->n_ids : 1) * sizeof(*map));
	if (!map)
		return; /* by_id keeps NULL holes; selection skips them */
	size_t live = 0, old_n = x->n_ids;
	for (size_t i = 0; i < old_n; i++) {
		map[i] = UINT32_MAX;
		if (x->by_id[i]) {
			map[i] = (uint32_t)live;
			x->by_id[i]->id = (uint32_t)live;
			x->by_id[live++] = x->by_id[i];
		}
	}
	x->n_ids = live;
	/* Rewrite every list through the map; free lists and names that became empty. */
	for (size_t b = 0; b < x->n_name_buckets; b++) {
		tsdb_hname **pn = &x->names[b];
		while (*pn) {
			tsdb_hname *nm = *pn;
			size_t wv = 0;
			for (size_t k = 0; k < nm->n_vals; k++) {
				tsdb_hpost *p = nm->vals[k];
				size_t w = 0;
				for (size_t i = 0; i < p->ids.n; i++) {
					uint32_t id = p->ids.ids[i];
					if (id < old_n && map[id] != UINT32_MAX)
						p->ids.ids[w++] = map[id];
				}
				p->ids.n = w;
				if (w)
					nm->vals[wv++] = p;
				else
					unlink_pair(db, p);
			}
			nm->n_vals = wv;
			if (wv) {
				pn = &nm->next;
				continue;
			}
			*pn = nm->next;
			x->n_names--;
			tsdb_hmem_free(db, nm->vals, nm->cap_vals * sizeof(*nm->vals));
			tsdb_hmem_free(db, nm, sizeof(*nm));
		}
	}
	ts_free(map);
}

void tsdb_hindex_free(tsdb_db *db)
{
	tsdb_hindex *x = &db->idx;
	for (size_t b = 0; b < x->n_name_buckets; b++) {
		for (tsdb_hname *nm = x->names[b], *next; nm; nm = next) {
			next = nm->next;
			for (size_t k = 0; k < nm->n_vals; k++) {
				tsdb_hpost *p = nm->vals[k];
				tsdb_hmem_free(db, p->ids.ids, p->ids.cap * sizeof(*p->ids.ids));
				tsdb_hmem_free(db, p, sizeof(*p));
			}
			tsdb_hmem_free(db, nm->vals, nm->cap_vals * sizeof(*nm->vals));
			tsdb_hmem_free(db, nm, sizeof(*nm));
		}
	}
	tsdb_hmem_free(db, x->names, x->n_name_buckets * sizeof(*x->names));
	tsdb_hmem_free(db, x->pairs, x->n_pair_buckets * sizeof(*x->pairs));
	tsdb_hmem_free(db, x->by_id, x->cap_ids * sizeof(*x->by_id));
	memset(x, 0, sizeof(*x));
}

/* -------------------------------------------------------------------------------------
 * Head selection (index_lock held shared by the caller of the ops)
 * ---------------------------------------------------------------------------------- */

static int copy_list(const tsdb_plist *src, tsdb_plist *out, ts_err *err)
{
	out->n = 0;
	if (src->n > out->cap) {
		uint32_t *v = ts_realloc(out->ids, src->n * sizeof(*v));
		if (!v)
			return ts_err_set(err, TS_ENOMEM, "out of memory selecting series");
		out->ids = v;
		out->cap = src->n;
	}
	if (src->n)
		memcpy(out->ids, src->ids, src->n * sizeof(*out->ids));
	out->n = src->n;
	return TS_OK;
}

static int h_eq(void *ctx, const char *name, const char *value, tsdb_plist *out, ts_err *err)
{
	tsdb_db *db = ctx;
	tsdb_hpost *p = find_pair(&db->idx, name, value, pair_hash(name, value));
	if (!p) {
		out->n = 0;
		return TS_OK;
	}
	return copy_list(&p->ids, out, err);
}

static int h_matching(void *ctx, const ts_matcher *m, bool want, tsdb_plist *out, ts_err *err)
{
	tsdb_db *db = ctx;
	out->n = 0;
	tsdb_hname *nm = find_name(&db->idx, m->name, str_hash(m->name, 0));
	if (!nm)
		return TS_OK;
	size_t n_lists = 0;
	for (size_t k = 0; k < nm->n_vals; k++) {
		tsdb_hpost *p = nm->vals[k];
		if (ts_matcher_matches(m, p->value) != want)
			continue;
		for (size_t i = 0; i < p->ids.n; i++)
			if (tsdb_plist_push(out, p->ids.ids[i], err) != TS_OK)
				return TS_ENOMEM;
		n_lists++;
	}
	if (n_lists > 1)
		tsdb_plist_normalize(out);
	return TS_OK;
}

static int h_all(void *ctx, tsdb_plist *out, ts_err *err)
{
	tsdb_db *db = ctx;
	out->n = 0;
	for (size_t i = 0; i < db->idx.n_ids; i++)
		if (db->idx.by_id[i] && tsdb_plist_push(out, (uint32_t)i, err) != TS_OK)
			return TS_ENOMEM;
	return TS_OK;
}

const tsdb_pindex_ops tsdb_hindex_ops = {h_eq, h_matching, h_all};

int tsdb_head_select(tsdb_db *db, const ts_matcher *ms, size_t n_ms, int64_t mint, int64_t maxt,
		     tsdb_hseries ***out, size_t *n_out, ts_err *err)
{
	tsdb_plist ids = {0};
	tsdb_hseries **v = NULL;
	size_t n = 0;
	pthread_rwlock_rdlock(&db->index_lock);
	int rc = tsdb_postings_select(&tsdb_hindex_ops, db, ms, n_ms, &ids, err);
	if (rc == TS_OK && ids.n) {
		v = ts_malloc(ids.n * sizeof(*v));
		if (!v)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory selecting series");
	}
	for (size_t i = 0; rc == TS_OK && i < ids.n; i++) {
		tsdb_hseries *s = ids.ids[i] < db->idx.n_ids ? db->idx.by_id[ids.ids[i]] : NULL;
		if (s) {
			tsdb_hseries_acquire(s);
			v[n++] = s;
		}
	}
	pthread_rwlock_unlock(&db->index_lock);
	tsdb_plist_free(&ids);
	if (rc) {
		ts_free(v);
		return rc;
	}
	/* Keep the series with samples in range (checked without the index lock). */
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t lo, hi;
		if (tsdb_head_series_range(v[i], &lo, &hi) && lo <= maxt && hi >= mint)
			v[w++] = v[i];
		else
			tsdb_hseries_release(db, v[i]);
	}
	*out = v;
	*n_out = w;
	return TS_OK;
}

/*
 * Whether some head series of p has samples in [mint, maxt] (index_lock held shared;
 * the series lock is taken inside it, as the lock order allows). seen (NULL or one byte
 * per id: 0 unknown, 1 in range, 2 not) remembers answers across postings lists.
 */
static bool post_has_in_range(const tsdb_db *db, const tsdb_hpost *p, int64_t mint, int64_t maxt,
			      uint8_t *seen)
{
	for (size_t i = 0; i < p->ids.n; i++) {
		uint32_t id = p->ids.ids[i];
		tsdb_hseries *s = id < db->idx.n_ids ? db->idx.by_id[id] : NULL;
		if (!s)
			continue;
		if (seen && seen[id] == 1)
			return true;
		if (seen && seen[id] == 2)
			continue;
		int64_t lo, hi;
		bool in = tsdb_head_series_range(s, &lo, &hi) && lo <= maxt && hi >= mint;
		if (seen)
			seen[id] = in ? 1 : 2;
		if (in)
			return true;
	}
	return false;
}

int tsdb_head_label_strings(tsdb_db *db, const char *name, int64_t mint, int64_t maxt,
			    int (*fn)(void *arg, const char *s), void *arg, ts_err *err)
{
	int rc = TS_OK;
	uint8_t *seen = NULL;
	pthread_rwlock_rdlock(&db->index_lock);
	const tsdb_hindex *x = &db->idx;
	if (name) {
		/* Each series is in one value's list: nothing to remember across lists. */
		const tsdb_hname *nm = find_name(x, name, str_hash(name, 0));
		for (size_t k = 0; nm && k < nm->n_vals && rc == TS_OK; k++)
			if (post_has_in_range(db, nm->vals[k], mint, maxt, NULL))
				rc = fn(arg, nm->vals[k]->value);
	} else if (x->n_ids && !(seen = ts_calloc(x->n_ids, 1))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory listing label names");
	} else {
		for (size_t b = 0; b < x->n_name_buckets && rc == TS_OK; b++) {
			for (const tsdb_hname *nm = x->names[b]; nm && rc == TS_OK; nm = nm->next) {
				bool in = false;
				for (size_t k = 0; k < nm->n_vals && !in; k++)
					in = post_has_in_range(db, nm->vals[k], mint, maxt, seen);
				if (in)
					rc = fn(arg, nm->name);
			}
		}
	}
	pthread_rwlock_unlock(&db->index_lock);
	ts_free(seen);
	return rc;
}
