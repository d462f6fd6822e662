/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head.c: the head's series registry, series and chunk-buffer lifetimes, memory
 * accounting.
 *
 * The registry is 64 stripes of hash chains keyed by the series hash (collisions
 * resolved by comparing label sets), each stripe under its own rwlock, so consumer
 * threads of different partitions rarely meet on a lock. A series is created with the
 * stripe held exclusively: bucket space is reserved first and the series is indexed
 * (postings.c) before it is linked, so creation either fully succeeds or changes
 * nothing, and a series an appender can find is always queryable.
 *
 * Lifetimes (tsdb_int.h, "Locking and publication"): series and chunk buffers are
 * reference counted; whoever drops the last reference frees. GC of empty series after
 * a cut (tsdb_head_remove_empty) marks them dead under their lock, unlinks them, then
 * drops the registry's reference.
 *
 * Memory accounting: every head allocation goes through tsdb_hmem_* with its size, so
 * head_bytes is exact (allocator overhead excluded); label strings are counted by the
 * intern table and added in tsdb_stats_get.
 *
 * Not here: appending (head_append.c), reading (head_read.c), postings (postings.c).
 */
#include "tsdb/tsdb_int.h"

#include <assert.h>
#include <string.h>

/* -------------------------------------------------------------------------------------
 * Memory accounting
 * ---------------------------------------------------------------------------------- */

void *tsdb_hmem_alloc(tsdb_db *db, size_t size)
{
	void *p = ts_malloc(size ? size : 1);
	if (p)
		atomic_fetch_add_explicit(&db->head_bytes, size, memory_order_relaxed);
	return p;
}

void *tsdb_hmem_calloc(tsdb_db *db, size_t n, size_t size)
{
	void *p = ts_calloc(n ? n : 1, size ? size : 1);
	if (p)
		atomic_fetch_add_explicit(&db->head_bytes, n * size, memory_order_relaxed);
	return p;
}

void *tsdb_hmem_realloc(tsdb_db *db, void *p, size_t old_size, size_t new_size)
{
	void *q = ts_realloc(p, new_size ? new_size : 1);
	if (q) {
		atomic_fetch_add_explicit(&db->head_bytes, new_size, memory_order_relaxed);
		atomic_fetch_sub_explicit(&db->head_bytes, old_size, memory_order_relaxed);
	}
	return q;
}

void tsdb_hmem_free(tsdb_db *db, void *p, size_t size)
{
	if (!p)
		return;
	atomic_fetch_sub_explicit(&db->head_bytes, size, memory_order_relaxed);
	ts_free(p);
}

/* -------------------------------------------------------------------------------------
 * Chunk buffers
 * ---------------------------------------------------------------------------------- */

tsdb_hchunk *tsdb_hchunk_new(tsdb_db *db, size_t cap)
{
	tsdb_hchunk *c = tsdb_hmem_alloc(db, sizeof(*c) + cap);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->cap = (uint32_t)cap;
	c->len = 0;
	c->n = 0;
	c->min_t = 0;
	c->max_t = 0;
	atomic_fetch_add_explicit(&db->chunk_bytes, sizeof(*c) + cap, memory_order_relaxed);
	atomic_fetch_add_explicit(&db->n_chunks, 1, memory_order_relaxed);
	return c;
}

void tsdb_hchunk_acquire(tsdb_hchunk *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void tsdb_hchunk_release(tsdb_db *db, tsdb_hchunk *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	atomic_fetch_sub_explicit(&db->chunk_bytes, sizeof(*c) + c->cap, memory_order_relaxed);
	atomic_fetch_sub_explicit(&db->n_chunks, 1, memory_order_relaxed);
	tsdb_hmem_free(db, c, sizeof(*c) + c->cap);
}

/* -------------------------------------------------------------------------------------
 * Series lifetime
 * ---------------------------------------------------------------------------------- */

/* One allocation holds the series and its label array (label_mem), so a lookup reads
 * the labels at an address computed from the series pointer, not loaded through it. */
static tsdb_hseries *series_new(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n)
{
	size_t size = sizeof(tsdb_hseries) + n * sizeof(ts_label);
	tsdb_hseries *s = tsdb_hmem_calloc(db, 1, size);
	if (!s)
		return NULL;
	s->labels = s->label_mem;
	for (size_t i = 0; i < n; i++) {
		s->labels[i].name =
		    ts_intern_get(db->intern, labels[i].name, strlen(labels[i].name));
		s->labels[i].value =
		    ts_intern_get(db->intern, labels[i].value, strlen(labels[i].value));
		if (!s->labels[i].name || !s->labels[i].value) {
			tsdb_hmem_free(db, s, size);
			return NULL;
		}
	}
	s->n_labels = (uint32_t)n;
	s->hash = hash;
	atomic_init(&s->refs, 1);
	atomic_init(&s->published, 0);
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void series_free(tsdb_db *db, tsdb_hseries *s)
{
	tsdb_hseries_free_data(db, s);
	pthread_mutex_destroy(&s->lock);
	tsdb_hmem_free(db, s, sizeof(*s) + s->n_labels * sizeof(ts_label));
}

void tsdb_hseries_acquire(tsdb_hseries *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void tsdb_hseries_release(tsdb_db *db, tsdb_hseries *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		series_free(db, s);
}

/* -------------------------------------------------------------------------------------
 * Registry
 * ---------------------------------------------------------------------------------- */

/* Equal strings; interned and caller strings are often the same pointer. */
static inline bool str_eq(const char *a, const char *b)
{
	if (a == b)
		return true;
	for (; *a == *b; a++, b++)
		if (!*a)
			return true;
	return false;
}

/*
 * Is the series' label set exactly labels[0..n)? A hash hit is almost always the series,
 * so this is a full comparison every lookup: an inline byte loop is cheaper here than
 * ts_labels_cmp's two strcmp calls per label, which also order (not needed).
 */
static bool labels_eq(const tsdb_hseries *s, const ts_label *labels, size_t n)
{
	if (s->n_labels != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!str_eq(s->label_mem[i].name, labels[i].name) ||
		    !str_eq(s->label_mem[i].value, labels[i].value))
			return false;
	return true;
}

static tsdb_hseries *find(tsdb_stripe *st, uint64_t hash, const ts_label *labels, size_t n)
{
	if (!st->n_buckets)
		return NULL;
	for (tsdb_hseries *s = st->buckets[(hash >> 6) & (st->n_buckets - 1)]; s; s = s->next)
		if (s->hash == hash && labels_eq(s, labels, n))
			return s;
	return NULL;
}

/* Make room for one more series (exclusive lock held). */
static int reserve(tsdb_db *db, tsdb_stripe *st)
{
	if (st->n + 1 <= st->n_buckets)
		return TS_OK;
	size_t nb = st->n_buckets ? st->n_buckets * 2 : 256;
	tsdb_hseries **b = tsdb_hmem_calloc(db, nb, sizeof(*b));
	if (!b)
		return TS_ENOMEM;
	for (size_t i = 0; i < st->n_buckets; i++) {
		for (tsdb_hseries *s = st->buckets[i], *next; s; s = next) {
			next = s->next;
			s->next = b[(s->hash >> 6) & (nb - 1)];
			b[(s->hash >> 6) & (nb - 1)] = s;
		}
	}
	tsdb_hmem_free(db, st->buckets, st->n_buckets * sizeof(*b));
	st->buckets = b;
	st->n_buckets = nb;
	return TS_OK;
}

int tsdb_head_init(tsdb_db *db, ts_err *err)
{
	for (int i = 0; i < TSDB_STRIPES; i++)
		pthread_rwlock_init(&db->stripes[i].lock, NULL);
	pthread_rwlock_init(&db->index_lock, NULL);
	return TS_OK;
}

static int get_or_create(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n,
			 tsdb_hseries **out, ts_err *err)
{
	tsdb_stripe *st = tsdb_stripe_of(db, hash);
	pthread_rwlock_rdlock(&st->lock);
	tsdb_hseries *s = find(st, hash, labels, n);
	if (s)
		tsdb_hseries_acquire(s);
	pthread_rwlock_unlock(&st->lock);
	if (s) {
		*out = s;
		return TS_OK;
	}
	/* Allocate outside the lock; a racing creator may win, then this copy is dropped. */
	tsdb_hseries *fresh = series_new(db, hash, labels, n);
	if (!fresh)
		return ts_err_set(err, TS_ENOMEM, "out of memory creating a series");
	int rc = TS_OK;
	pthread_rwlock_wrlock(&st->lock);
	s = find(st, hash, labels, n);
	if (s) {
		tsdb_hseries_acquire(s);
		goto out;
	}
	if (reserve(db, st) != TS_OK) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory growing the series table");
		goto out;
	}
	pthread_rwlock_wrlock(&db->index_lock);
	rc = tsdb_hindex_add(db, fresh, err);
	pthread_rwlock_unlock(&db->index_lock);
	if (rc)
		goto out;
	size_t b = (hash >> 6) & (st->n_buckets - 1);
	fresh->next = st->buckets[b];
	st->buckets[b] = fresh;
	st->n++;
	atomic_fetch_add_explicit(&db->n_series, 1, memory_order_relaxed);
	tsdb_hseries_acquire(fresh); /* the registry's reference plus the caller's */
	s = fresh;
	fresh = NULL;
out:
	pthread_rwlock_unlock(&st->lock);
	if (fresh)
		series_free(db, fresh);
	if (rc == TS_OK)
		*out = s;
	return rc;
}

int tsdb_head_get_or_create(tsdb_db *db, const ts_label *labels, size_t n, tsdb_hseries **out,
			    ts_err *err)
{
	return get_or_create(db, ts_series_hash(labels, n), labels, n, out, err);
}

int tsdb_head_get_or_create_hashed(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n,
				   tsdb_hseries **out, ts_err *err)
{
	assert(hash == ts_series_hash(labels, n)); /* a wrong hash would split the series */
	return get_or_create(db, hash, labels, n, out, err);
}

int tsdb_append(tsdb_db *db, const ts_label *labels, size_t n_labels, int64_t t_ms, double v,
		ts_err *err)
{
	for (int attempt = 0;; attempt++) {
		tsdb_hseries *s;
		int rc = tsdb_head_get_or_create(db, labels, n_labels, &s, err);
		if (rc)
			return rc;
		rc = tsdb_head_series_append(db, s, t_ms, v, err);
		tsdb_hseries_release(db, s);
		/* TS_EBUSY: GC removed the series meanwhile; the next lookup recreates it. */
		if (rc != TS_EBUSY || attempt > 100)
			return rc;
	}
}

int tsdb_head_all_series(tsdb_db *db, tsdb_hseries ***out, size_t *n_out, ts_err *err)
{
	pthread_rwlock_rdlock(&db->index_lock);
	size_t n = 0, cap = db->idx.n_ids;
	tsdb_hseries **v = ts_malloc((cap ? cap : 1) * sizeof(*v));
	if (!v) {
		pthread_rwlock_unlock(&db->index_lock);
		return ts_err_set(err, TS_ENOMEM, "out of memory listing series");
	}
	for (size_t i = 0; i < db->idx.n_ids; i++) {
		tsdb_hseries *s = db->idx.by_id[i];
		if (s) {
			tsdb_hseries_acquire(s);
			v[n++] = s;
		}
	}
	pthread_rwlock_unlock(&db->index_lock);
	*out = v;
	*n_out = n;
	return TS_OK;
}

static bool is_empty(const tsdb_hseries *s)
{
	return s->n_sealed == 0 && !s->open && s->n_ooo == 0;
}

size_t tsdb_head_remove_empty(tsdb_db *db, tsdb_hseries **cand, size_t n)
{
	tsdb_hseries **gone = ts_malloc((n ? n : 1) * sizeof(*gone));
	if (!gone)
		return 0; /* try again at the next cut */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		tsdb_hseries *s = cand[i];
		tsdb_stripe *st = tsdb_stripe_of(db, s->hash);
		pthread_rwlock_wrlock(&st->lock);
		pthread_mutex_lock(&s->lock);
		bool is_gone = !s->is_dead && is_empty(s);
		if (is_gone)
			s->is_dead = true;
		pthread_mutex_unlock(&s->lock);
		if (is_gone) {
			tsdb_hseries **pp = &st->buckets[(s->hash >> 6) & (st->n_buckets - 1)];
			while (*pp && *pp != s)
				pp = &(*pp)->next;
			if (!TS_NEVER(*pp == NULL)) {
				*pp = s->next;
				st->n--;
			}
			gone[k++] = s;
		}
		pthread_rwlock_unlock(&st->lock);
	}
	if (k) {
		pthread_rwlock_wrlock(&db->index_lock);
		tsdb_hindex_compact(db, gone, k);
		pthread_rwlock_unlock(&db->index_lock);
		for (size_t i = 0; i < k; i++)
			tsdb_hseries_release(db, gone[i]); /* the registry's reference */
		atomic_fetch_sub_explicit(&db->n_series, k, memory_order_relaxed);
	}
	ts_free(gone);
	return k;
}

void tsdb_head_free(tsdb_db *db)
{
	for (int i = 0; i < TSDB_STRIPES; i++) {
		tsdb_stripe *st = &db->stripes[i];
		for (size_t b = 0; b < st->n_buckets; b++) {
			for (tsdb_hseries *s = st->buckets[b], *next; s; s = next) {
				next = s->next;
				series_free(db, s);
			}
		}
		tsdb_hmem_free(db, st->buckets, st->n_buckets * sizeof(*st->buckets));
		st->buckets = NULL;
		st->n_buckets = st->n = 0;
		pthread_rwlock_destroy(&st->lock);
	}
	tsdb_hindex_free(db);
	pthread_rwlock_destroy(&db->index_lock);
}
