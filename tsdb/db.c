/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.c: opening and closing the store, partition offsets, statistics.
 *
 * Partition offsets: `applied[p]` is one past the highest log offset whose samples
 * reached the head; `persisted[p]` one past the highest that is durable in blocks. The
 * head alone is not durable, so until blocks exist `persisted` stays at what was
 * loaded on open and recovery replays the log from there.
 */
#include "tsdb/tsdb_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

void tsdb_options_init(tsdb_options *o)
{
	memset(o, 0, sizeof(*o));
	o->n_partitions = 8;
	o->out_of_order_window_ms = 10 * 60 * 1000;
	o->block_duration_ms = 2 * 3600 * 1000;
	o->retention_raw_ms = 7LL * 86400 * 1000;
	o->retention_1m_ms = 30LL * 86400 * 1000;
	o->retention_1h_ms = 365LL * 86400 * 1000;
}

int tsdb_open(const tsdb_options *o, tsdb_db **out, ts_err *err)
{
	if (o->n_partitions < 1 || o->n_partitions > TSDB_MAX_PARTITIONS)
		return ts_err_set(err, TS_EINVAL, "n_partitions must be in [1, %d], got %d",
				  TSDB_MAX_PARTITIONS, o->n_partitions);
	if (o->out_of_order_window_ms < 0)
		return ts_err_set(err, TS_EINVAL, "out_of_order_window must not be negative");
	tsdb_db *db = ts_calloc(1, sizeof(*db));
	if (!db)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening the store");
	db->opt = *o;
	int rc = TS_OK;
	if (o->dir) {
		db->dir = ts_strdup(o->dir);
		if (!db->dir) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory");
			goto fail;
		}
		db->opt.dir = db->dir;
		if (mkdir(db->dir, 0755) != 0 && errno != EEXIST) {
			rc = ts_err_set(err, TS_EIO, "cannot create %s: %s", db->dir,
					strerror(errno));
			goto fail;
		}
	}
	db->intern = ts_intern_new();
	db->applied = ts_calloc((size_t)o->n_partitions, sizeof(*db->applied));
	db->persisted = ts_calloc((size_t)o->n_partitions, sizeof(*db->persisted));
	if (!db->intern || !db->applied || !db->persisted) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory opening the store");
		goto fail;
	}
	atomic_store(&db->min_t, INT64_MAX);
	atomic_store(&db->max_t, INT64_MIN);
	pthread_rwlock_init(&db->series_lock, NULL);
	*out = db;
	return TS_OK;
fail:
	ts_intern_free(db->intern);
	ts_free((void *)db->applied);
	ts_free((void *)db->persisted);
	ts_free(db->dir);
	ts_free(db);
	return rc;
}

void tsdb_close(tsdb_db *db)
{
	if (!db)
		return;
	tsdb_head_free(db);
	pthread_rwlock_destroy(&db->series_lock);
	ts_intern_free(db->intern);
	ts_free((void *)db->applied);
	ts_free((void *)db->persisted);
	ts_free(db->dir);
	ts_free(db);
}

void tsdb_partition_applied(tsdb_db *db, int partition, uint64_t offset)
{
	if (TS_NEVER(partition < 0 || partition >= db->opt.n_partitions))
		return;
	uint64_t next = offset + 1, cur = atomic_load(&db->applied[partition]);
	while (next > cur && !atomic_compare_exchange_weak(&db->applied[partition], &cur, next))
		;
}

uint64_t tsdb_partition_resume_offset(tsdb_db *db, int partition)
{
	if (TS_NEVER(partition < 0 || partition >= db->opt.n_partitions))
		return 0;
	return atomic_load(&db->persisted[partition]);
}

void tsdb_stats_get(tsdb_db *db, tsdb_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&db->series_lock);
	out->n_series = db->n_series;
	pthread_rwlock_unlock(&db->series_lock);
	size_t n_str = 0, str_bytes = 0;
	ts_intern_stats(db->intern, &n_str, &str_bytes);
	out->n_samples = atomic_load(&db->n_samples);
	out->head_bytes = atomic_load(&db->sample_bytes) + str_bytes +
			  out->n_series * (sizeof(tsdb_series) + 2 * sizeof(void *));
	out->samples_appended = atomic_load(&db->samples_appended);
	out->duplicates_dropped = atomic_load(&db->duplicates_dropped);
	out->out_of_order_rejected = atomic_load(&db->out_of_order_rejected);
	out->min_t_ms = atomic_load(&db->min_t);
	out->max_t_ms = atomic_load(&db->max_t);
}
