/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsdb_int.h: internal structures of the storage engine, shared by tsdb/ files and
 * their tests only.
 *
 * Locking:
 * - db->series_lock (rwlock) guards the series table (table, cap, n_series, by_id).
 *   Appends take it shared for lookup and exclusive only to add a series.
 * - series->lock (mutex) guards the series' samples (t, v, n, cap). Readers copy the
 *   samples they need under it, so a query holds it only for a memcpy.
 * Series are never removed while the db is open (head GC comes with block cuts), so a
 * querier may keep series pointers without reference counts.
 */
#ifndef TSDB_TSDB_INT_H
#define TSDB_TSDB_INT_H

#include "tsdb/tsdb.h"

#include <pthread.h>
#include <stdatomic.h>

struct tsdb_series {
	uint64_t id;      /* dense id, index into db->by_id */
	uint64_t hash;    /* ts_series_hash of labels */
	ts_label *labels; /* sorted; strings interned in db->intern */
	size_t n_labels;
	pthread_mutex_t lock; /* guards the fields below */
	int64_t *t;           /* sample timestamps, ascending, unique */
	double *v;            /* sample values */
	size_t n, cap;        /* samples used / allocated */
};

struct tsdb_db {
	tsdb_options opt;             /* copy; opt.dir points to dir */
	char *dir;                    /* owned copy of opt.dir, or NULL */
	ts_intern *intern;            /* label strings */
	pthread_rwlock_t series_lock; /* guards table, cap, n_series, by_id */
	tsdb_series **table;          /* open addressing by hash; NULL = empty */
	size_t cap;                   /* power of two */
	size_t n_series;
	tsdb_series **by_id; /* id -> series */
	size_t by_id_cap;
	_Atomic uint64_t n_samples;
	_Atomic uint64_t sample_bytes;
	_Atomic uint64_t samples_appended;
	_Atomic uint64_t duplicates_dropped;
	_Atomic uint64_t out_of_order_rejected;
	_Atomic int64_t min_t, max_t;
	_Atomic uint64_t *applied;   /* per partition: last applied offset + 1 (0 = none) */
	_Atomic uint64_t *persisted; /* per partition: last persisted offset + 1 */
};

/* Look up or create the series for a normalized label set (head.c). */
int tsdb_head_get_or_create(tsdb_db *db, const ts_label *labels, size_t n, tsdb_series **out,
			    ts_err *err);
/* Append to one series honoring the out-of-order window and duplicates (head.c). */
int tsdb_head_series_append(tsdb_db *db, tsdb_series *s, int64_t t_ms, double v, ts_err *err);
/* Free every series (head.c). */
void tsdb_head_free(tsdb_db *db);

#endif /* TSDB_TSDB_INT_H */
