/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head.c: the in-memory head: series registry and per-series samples.
 *
 * The registry is an open-addressing table keyed by the series hash (collisions are
 * resolved by comparing label sets). Each series holds its samples in ascending time
 * order in two parallel arrays. An append at or after the newest sample is O(1)
 * amortized; an out-of-order sample within the window is inserted by binary search
 * and memmove. Exact duplicates (same timestamp, same value bits) are dropped, which
 * makes log replay idempotent.
 *
 * Not here yet: Gorilla-compressed chunks (tsdb/chunk.c), block cuts and head GC.
 */
#include "tsdb/tsdb_int.h"

#include <string.h>

static bool same_bits(double a, double b)
{
	uint64_t x, y;
	memcpy(&x, &a, 8);
	memcpy(&y, &b, 8);
	return x == y;
}

/* Find the slot of a series with this hash and labels, or the empty slot for it. */
static size_t find_slot(tsdb_series **table, size_t cap, uint64_t hash, const ts_label *labels,
			size_t n)
{
	size_t i = (size_t)hash & (cap - 1);
	while (table[i]) {
		tsdb_series *s = table[i];
		if (s->hash == hash && ts_labels_cmp(s->labels, s->n_labels, labels, n) == 0)
			break;
		i = (i + 1) & (cap - 1);
	}
	return i;
}

static int grow_table(tsdb_db *db)
{
	size_t cap = db->cap ? db->cap * 2 : 4096;
	tsdb_series **t = ts_calloc(cap, sizeof(*t));
	if (!t)
		return TS_ENOMEM;
	for (size_t i = 0; i < db->cap; i++) {
		tsdb_series *s = db->table[i];
		if (s)
			t[find_slot(t, cap, s->hash, s->labels, s->n_labels)] = s;
	}
	ts_free(db->table);
	db->table = t;
	db->cap = cap;
	return TS_OK;
}

static tsdb_series *series_new(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n)
{
	tsdb_series *s = ts_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->labels = ts_malloc(n * sizeof(*s->labels));
	if (!s->labels) {
		ts_free(s);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		s->labels[i].name =
		    ts_intern_get(db->intern, labels[i].name, strlen(labels[i].name));
		s->labels[i].value =
		    ts_intern_get(db->intern, labels[i].value, strlen(labels[i].value));
		if (!s->labels[i].name || !s->labels[i].value) {
			ts_free(s->labels);
			ts_free(s);
			return NULL;
		}
	}
	s->n_labels = n;
	s->hash = hash;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void series_free(tsdb_series *s)
{
	pthread_mutex_destroy(&s->lock);
	ts_free(s->labels);
	ts_free(s->t);
	ts_free(s->v);
	ts_free(s);
}

int tsdb_head_get_or_create(tsdb_db *db, const ts_label *labels, size_t n, tsdb_series **out,
			    ts_err *err)
{
	uint64_t hash = ts_series_hash(labels, n);
	pthread_rwlock_rdlock(&db->series_lock);
	tsdb_series *s = NULL;
	if (db->cap)
		s = db->table[find_slot(db->table, db->cap, hash, labels, n)];
	pthread_rwlock_unlock(&db->series_lock);
	if (s) {
		*out = s;
		return TS_OK;
	}
	int rc = TS_OK;
	pthread_rwlock_wrlock(&db->series_lock);
	if ((db->n_series + 1) * 2 > db->cap && grow_table(db) != TS_OK) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory growing the series table");
		goto out;
	}
	size_t slot = find_slot(db->table, db->cap, hash, labels, n);
	s = db->table[slot];
	if (s)
		goto out; /* created by another thread meanwhile */
	if (db->n_series == db->by_id_cap) {
		size_t nc = db->by_id_cap ? db->by_id_cap * 2 : 4096;
		tsdb_series **b = ts_realloc(db->by_id, nc * sizeof(*b));
		if (!b) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory growing the series index");
			goto out;
		}
		db->by_id = b;
		db->by_id_cap = nc;
	}
	s = series_new(db, hash, labels, n);
	if (!s) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory creating a series");
		goto out;
	}
	s->id = db->n_series;
	db->by_id[db->n_series++] = s;
	db->table[slot] = s;
out:
	pthread_rwlock_unlock(&db->series_lock);
	if (rc == TS_OK)
		*out = s;
	return rc;
}

static int reserve_samples(tsdb_db *db, tsdb_series *s)
{
	if (s->n < s->cap)
		return TS_OK;
	size_t nc = s->cap ? s->cap * 2 : 16;
	int64_t *t = ts_realloc(s->t, nc * sizeof(*t));
	if (!t)
		return TS_ENOMEM;
	s->t = t;
	double *v = ts_realloc(s->v, nc * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	s->v = v;
	atomic_fetch_add(&db->sample_bytes, (nc - s->cap) * (sizeof(*t) + sizeof(*v)));
	s->cap = nc;
	return TS_OK;
}

static void update_range(tsdb_db *db, int64_t t)
{
	int64_t cur = atomic_load(&db->min_t);
	while (t < cur && !atomic_compare_exchange_weak(&db->min_t, &cur, t))
		;
	cur = atomic_load(&db->max_t);
	while (t > cur && !atomic_compare_exchange_weak(&db->max_t, &cur, t))
		;
}

int tsdb_head_series_append(tsdb_db *db, tsdb_series *s, int64_t t_ms, double v, ts_err *err)
{
	int rc = TS_OK;
	pthread_mutex_lock(&s->lock);
	size_t pos = s->n;
	if (s->n && t_ms <= s->t[s->n - 1]) {
		int64_t newest = s->t[s->n - 1];
		/* Binary search for the first sample with t >= t_ms. */
		size_t lo = 0, hi = s->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (s->t[mid] < t_ms)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos = lo;
		if (pos < s->n && s->t[pos] == t_ms) {
			if (same_bits(s->v[pos], v)) {
				atomic_fetch_add(&db->duplicates_dropped, 1);
				goto out;
			}
			atomic_fetch_add(&db->out_of_order_rejected, 1);
			rc =
			    ts_err_set(err, TS_EOUTOFORDER,
				       "duplicate sample for timestamp %lld with a different value",
				       (long long)t_ms);
			goto out;
		}
		/* newest >= t_ms, so the unsigned difference is exact even across INT64 range. */
		if ((uint64_t)newest - (uint64_t)t_ms > (uint64_t)db->opt.out_of_order_window_ms) {
			atomic_fetch_add(&db->out_of_order_rejected, 1);
			rc = ts_err_set(
			    err, TS_EOUTOFORDER,
			    "sample at %lld is %llu ms older than the newest, beyond the "
			    "out-of-order window",
			    (long long)t_ms,
			    (unsigned long long)((uint64_t)newest - (uint64_t)t_ms));
			goto out;
		}
	}
	if (reserve_samples(db, s) != TS_OK) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory appending a sample");
		goto out;
	}
	if (pos < s->n) {
		memmove(s->t + pos + 1, s->t + pos, (s->n - pos) * sizeof(*s->t));
		memmove(s->v + pos + 1, s->v + pos, (s->n - pos) * sizeof(*s->v));
	}
	s->t[pos] = t_ms;
	s->v[pos] = v;
	s->n++;
	atomic_fetch_add(&db->n_samples, 1);
	atomic_fetch_add(&db->samples_appended, 1);
	update_range(db, t_ms);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int tsdb_append(tsdb_db *db, const ts_label *labels, size_t n_labels, int64_t t_ms, double v,
		ts_err *err)
{
	tsdb_series *s;
	int rc = tsdb_head_get_or_create(db, labels, n_labels, &s, err);
	if (rc)
		return rc;
	return tsdb_head_series_append(db, s, t_ms, v, err);
}

void tsdb_head_free(tsdb_db *db)
{
	for (size_t i = 0; i < db->n_series; i++)
		series_free(db->by_id[i]);
	ts_free(db->by_id);
	ts_free(db->table);
	db->by_id = NULL;
	db->table = NULL;
	db->n_series = db->cap = db->by_id_cap = 0;
}
