/* SPDX-License-Identifier: Apache-2.0 */
/*
 * late.c: late-write tracking for result caches (tsdb.h, "late writes").
 *
 * A cache of query results raises a watermark to the newest time its results depend on
 * (tsdb_late_watch). Every accepted append calls tsdb_late_note under its series lock;
 * an append newer than the watermark (the normal case: the watermark trails "now" by the
 * cache's freshness window) costs one relaxed atomic load. An append at or below it is
 * a late write: its metric name's hash and timestamp are folded into the current
 * generation's table (name -> minimum timestamp) under `lock`. tsdb_late_drain hands the
 * table to the cache and starts the next generation.
 *
 * Table: open addressing over 2 x TSDB_LATE_MAX_NAMES slots keyed by name hash. When a
 * generation sees more than TSDB_LATE_MAX_NAMES names, it degrades to one mark for all
 * metrics (TSDB_LATE_ALL) holding the overall minimum: always correct, less precise.
 *
 * Ordering: see tsdb.h. The note runs while the append holds series->lock and readers
 * snapshot series under that lock, so "watch, then open a querier" never misses a
 * sample: either the snapshot includes it or the note sees the raised watermark. New
 * series are covered the same way through the index lock a select takes.
 *
 * Not done here: deletions and retention also change old results; they are not late
 * writes (retention removes data older than any cache keeps; there is no delete API).
 * Tested by tests/tsdb/test_late.c.
 */
#include "tsdb/tsdb_int.h"

#include <string.h>

#define LATE_SLOTS (2 * TSDB_LATE_MAX_NAMES)

struct tsdb_late {
	_Atomic int64_t watermark; /* appends with t <= this are late; only rises */
	_Atomic uint64_t n_late;   /* late writes recorded, ever */
	_Atomic bool has_marks;    /* the table holds something (drain fast path) */
	pthread_mutex_t lock;      /* guards every field below */
	uint64_t gen;              /* generations drained */
	size_t n_names;            /* used slots */
	bool is_all;               /* overflowed: one mark for every metric */
	int64_t all_min_t;         /* with is_all: minimum over every late write */
	uint64_t hash[LATE_SLOTS]; /* 0 = empty slot */
	int64_t min_t[LATE_SLOTS];
};

_Static_assert((LATE_SLOTS & (LATE_SLOTS - 1)) == 0, "slot count must be a power of two");

tsdb_late *tsdb_late_new(void)
{
	tsdb_late *l = ts_calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	atomic_init(&l->watermark, INT64_MIN);
	atomic_init(&l->n_late, 0);
	atomic_init(&l->has_marks, false);
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void tsdb_late_free(tsdb_late *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	ts_free(l);
}

uint64_t tsdb_late_name_hash(const char *name)
{
	uint64_t h = ts_hash64(name, strlen(name), 0x1a7e);
	return h == TSDB_LATE_ALL ? 1 : h;
}

void tsdb_late_watch(tsdb_db *db, int64_t t_ms)
{
	tsdb_late *l = db->late;
	int64_t cur = atomic_load(&l->watermark);
	while (t_ms > cur && !atomic_compare_exchange_weak(&l->watermark, &cur, t_ms))
		;
}

int64_t tsdb_late_watermark(tsdb_db *db)
{
	return atomic_load(&db->late->watermark);
}

uint64_t tsdb_late_count(tsdb_db *db)
{
	return atomic_load_explicit(&db->late->n_late, memory_order_relaxed);
}

/* Fold (h, t) into the table; the caller holds l->lock. */
static void record(tsdb_late *l, uint64_t h, int64_t t)
{
	if (!l->is_all) {
		size_t i = (size_t)h & (LATE_SLOTS - 1);
		while (l->hash[i] && l->hash[i] != h)
			i = (i + 1) & (LATE_SLOTS - 1);
		if (l->hash[i] == h) {
			if (t < l->min_t[i])
				l->min_t[i] = t;
			return;
		}
		if (l->n_names < TSDB_LATE_MAX_NAMES) {
			l->hash[i] = h;
			l->min_t[i] = t;
			l->n_names++;
			return;
		}
		/* Too many names in one generation: one mark for everything. */
		l->is_all = true;
		l->all_min_t = t;
		for (size_t k = 0; k < LATE_SLOTS; k++)
			if (l->hash[k] && l->min_t[k] < l->all_min_t)
				l->all_min_t = l->min_t[k];
		memset(l->hash, 0, sizeof(l->hash));
		l->n_names = 0;
		return;
	}
	if (t < l->all_min_t)
		l->all_min_t = t;
}

void tsdb_late_note(tsdb_db *db, const tsdb_hseries *s, int64_t t_ms)
{
	tsdb_late *l = db->late;
	if (t_ms > atomic_load_explicit(&l->watermark, memory_order_relaxed))
		return;
	uint64_t h = TSDB_LATE_ALL;
	for (uint32_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].name, TS_METRIC_NAME) == 0) {
			h = tsdb_late_name_hash(s->labels[i].value);
			break;
		}
	atomic_fetch_add_explicit(&l->n_late, 1, memory_order_relaxed);
	tsdb_late_note_name(db, h, t_ms); /* no metric name (not produced by ingest): all */
}

void tsdb_late_note_name(tsdb_db *db, uint64_t h, int64_t t_ms)
{
	tsdb_late *l = db->late;
	pthread_mutex_lock(&l->lock);
	if (h == TSDB_LATE_ALL) {
		if (!l->is_all) {
			l->is_all = true;
			l->all_min_t = t_ms;
			for (size_t k = 0; k < LATE_SLOTS; k++)
				if (l->hash[k] && l->min_t[k] < l->all_min_t)
					l->all_min_t = l->min_t[k];
			memset(l->hash, 0, sizeof(l->hash));
			l->n_names = 0;
		} else if (t_ms < l->all_min_t) {
			l->all_min_t = t_ms;
		}
	} else {
		record(l, h, t_ms);
	}
	atomic_store_explicit(&l->has_marks, true, memory_order_release);
	pthread_mutex_unlock(&l->lock);
}

size_t tsdb_late_drain(tsdb_db *db, tsdb_late_mark out[TSDB_LATE_MAX_NAMES])
{
	tsdb_late *l = db->late;
	if (!atomic_load_explicit(&l->has_marks, memory_order_acquire))
		return 0;
	size_t n = 0;
	pthread_mutex_lock(&l->lock);
	if (l->is_all) {
		out[n++] = (tsdb_late_mark){TSDB_LATE_ALL, l->all_min_t};
	} else {
		for (size_t k = 0; k < LATE_SLOTS; k++)
			if (l->hash[k])
				out[n++] = (tsdb_late_mark){l->hash[k], l->min_t[k]};
	}
	memset(l->hash, 0, sizeof(l->hash));
	l->n_names = 0;
	l->is_all = false;
	if (n)
		l->gen++;
	atomic_store_explicit(&l->has_marks, false, memory_order_relaxed);
	pthread_mutex_unlock(&l->lock);
	return n;
}
