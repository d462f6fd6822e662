/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.c: opening and closing the store, loading blocks, block sets, partition
 * offsets, statistics.
 *
 * Open: validate options, create <dir> and <dir>/blocks, remove leftover *.tmp block
 * directories (a cut that crashed before its rename), open every block (block_read.c
 * verifies all CRCs and the index; a block that fails is logged and moved to
 * <dir>/quarantine/, never fatal) of the optional cold directory and of <dir>/blocks,
 * drop blocks a crashed compaction or cold move left behind (compact.c:
 * tsdb_compact_open_cleanup), and take the persisted partition offsets as the
 * maximum over <dir>/offsets and every block's meta (cut.c). Then start the worker.
 * Close: stop the worker, flush the head into blocks, free.
 *
 * Block sets: db->blocks is an immutable, reference-counted array of blocks sorted by
 * range then ULID (so merges prefer the oldest copy of a sample). Publishing builds a
 * new set under blocks_lock and swaps the pointer; queriers hold the set they opened
 * with. tsdb_blockset_wait_release() lets a cut wait until every querier that may not
 * see its new blocks is gone before it drops samples from the head. Every publisher
 * (cut, dropping corrupt blocks) holds cut_lock and waits for the previous set's
 * readers, so at any time only the newest two sets can have readers.
 */
#include "tsdb/block.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void tsdb_options_init(tsdb_options *o)
{
	memset(o, 0, sizeof(*o));
	o->n_partitions = 8;
	o->out_of_order_window_ms = 10 * 60 * 1000;
	o->block_duration_ms = 2 * 3600 * 1000;
	o->retention_raw_ms = 7LL * 86400 * 1000;
	o->retention_1m_ms = 30LL * 86400 * 1000;
	o->retention_1h_ms = 365LL * 86400 * 1000;
	o->cut_check_interval_ms = 1000;
	o->max_block_duration_ms = 24 * 3600 * 1000;
	o->cold_after_ms = 2LL * 86400 * 1000;
}

/* -------------------------------------------------------------------------------------
 * Block sets
 * ---------------------------------------------------------------------------------- */

static tsdb_blockset *set_new(size_t n)
{
	tsdb_blockset *bs = ts_malloc(sizeof(*bs) + n * sizeof(bs->b[0]));
	if (!bs)
		return NULL;
	atomic_init(&bs->refs, 1);
	bs->n = 0;
	return bs;
}

static int cmp_blocks(const void *a, const void *b)
{
	const tsdb_block *x = *(tsdb_block *const *)a, *y = *(tsdb_block *const *)b;
	if (x->meta.range_mint != y->meta.range_mint)
		return x->meta.range_mint < y->meta.range_mint ? -1 : 1;
	return memcmp(x->meta.ulid, y->meta.ulid, sizeof(x->meta.ulid));
}

tsdb_blockset *tsdb_blocks_acquire(tsdb_db *db)
{
	pthread_mutex_lock(&db->blocks_lock);
	tsdb_blockset *bs = db->blocks;
	atomic_fetch_add_explicit(&bs->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&db->blocks_lock);
	return bs;
}

void tsdb_blockset_release(tsdb_blockset *bs)
{
	if (!bs || atomic_fetch_sub_explicit(&bs->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < bs->n; i++)
		tsdb_block_release(bs->b[i]);
	ts_free(bs);
}

int tsdb_blocks_publish(tsdb_db *db, tsdb_block **add, size_t n_add, tsdb_blockset **old,
			ts_err *err)
{
	pthread_mutex_lock(&db->blocks_lock);
	tsdb_blockset *cur = db->blocks;
	tsdb_blockset *bs = set_new(cur->n + n_add);
	if (!bs) {
		pthread_mutex_unlock(&db->blocks_lock);
		return ts_err_set(err, TS_ENOMEM, "out of memory publishing blocks");
	}
	for (size_t i = 0; i < cur->n; i++)
		bs->b[bs->n++] = cur->b[i];
	for (size_t i = 0; i < n_add; i++)
		bs->b[bs->n++] = add[i];
	for (size_t i = 0; i < bs->n; i++)
		tsdb_block_acquire(bs->b[i]);
	qsort(bs->b, bs->n, sizeof(bs->b[0]), cmp_blocks);
	db->blocks = bs;
	pthread_mutex_unlock(&db->blocks_lock);
	*old = cur; /* the store's reference moves to the caller */
	return TS_OK;
}

int tsdb_blocks_replace(tsdb_db *db, tsdb_block *const *rm, size_t n_rm, tsdb_block **add,
			size_t n_add, tsdb_blockset **old, ts_err *err)
{
	pthread_mutex_lock(&db->blocks_lock);
	tsdb_blockset *cur = db->blocks;
	size_t found = 0;
	for (size_t i = 0; i < cur->n; i++)
		for (size_t k = 0; k < n_rm; k++)
			found += cur->b[i] == rm[k];
	if (found != n_rm) {
		pthread_mutex_unlock(&db->blocks_lock);
		return ts_err_set(err, TS_ENOTFOUND, "a block to replace left the set");
	}
	tsdb_blockset *bs = set_new(cur->n - n_rm + n_add);
	if (!bs) {
		pthread_mutex_unlock(&db->blocks_lock);
		return ts_err_set(err, TS_ENOMEM, "out of memory publishing blocks");
	}
	for (size_t i = 0; i < cur->n; i++) {
		bool is_rm = false;
		for (size_t k = 0; k < n_rm && !is_rm; k++)
			is_rm = cur->b[i] == rm[k];
		if (!is_rm)
			bs->b[bs->n++] = cur->b[i];
	}
	for (size_t i = 0; i < n_add; i++)
		bs->b[bs->n++] = add[i];
	for (size_t i = 0; i < bs->n; i++)
		tsdb_block_acquire(bs->b[i]);
	qsort(bs->b, bs->n, sizeof(bs->b[0]), cmp_blocks);
	db->blocks = bs;
	pthread_mutex_unlock(&db->blocks_lock);
	*old = cur;
	return TS_OK;
}

void tsdb_blockset_wait_release(tsdb_blockset *bs)
{
	struct timespec ts = {0, 100000};
	int64_t waited_ns = 0, next_warn_ns = 10000000000LL;
	while (atomic_load(&bs->refs) > 1) {
		nanosleep(&ts, NULL);
		waited_ns += ts.tv_nsec;
		if (ts.tv_nsec < 50000000)
			ts.tv_nsec *= 2;
		if (waited_ns >= next_warn_ns) {
			ts_log_warn("tsdb: a cut has waited %lld s for open queriers",
				    (long long)(waited_ns / 1000000000));
			next_warn_ns += 10000000000LL;
		}
	}
	tsdb_blockset_release(bs);
}

void tsdb_blocks_drop_bad(tsdb_db *db)
{
	/* Like a cut, this publishes a set and waits for the old one's readers, under
	 * cut_lock: so when any publisher waits, only the previous set can have readers. */
	pthread_mutex_lock(&db->cut_lock);
	pthread_mutex_lock(&db->blocks_lock);
	tsdb_blockset *cur = db->blocks;
	size_t n_bad = 0;
	for (size_t i = 0; i < cur->n; i++)
		n_bad += atomic_load(&cur->b[i]->is_bad);
	tsdb_blockset *bs = n_bad ? set_new(cur->n - n_bad) : NULL;
	if (bs) {
		for (size_t i = 0; i < cur->n; i++) {
			if (atomic_load(&cur->b[i]->is_bad))
				continue;
			tsdb_block_acquire(cur->b[i]);
			bs->b[bs->n++] = cur->b[i];
		}
		db->blocks = bs;
	}
	pthread_mutex_unlock(&db->blocks_lock);
	if (bs) {
		atomic_fetch_add_explicit(&db->blocks_quarantined, n_bad, memory_order_relaxed);
		tsdb_blockset_wait_release(cur);
	}
	pthread_mutex_unlock(&db->cut_lock);
}

/* -------------------------------------------------------------------------------------
 * Open and close
 * ---------------------------------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && strcmp(s + n - k, suf) == 0;
}

static void remove_tmp_block(const char *path)
{
	static const char *files[] = {"meta", "index", "chunks"};
	char f[4200];
	for (size_t i = 0; i < 3; i++)
		if (snprintf(f, sizeof(f), "%s/%s", path, files[i]) < (int)sizeof(f))
			unlink(f);
	if (rmdir(path) != 0)
		ts_log_warn("cannot remove unfinished block %s: %s", path, strerror(errno));
}

typedef struct block_vec {
	tsdb_block **v;
	size_t n, cap;
} block_vec;

/* Open every block under bdir into bv; quarantine the ones that fail. */
static int load_dir(tsdb_db *db, const char *bdir, block_vec *bv, ts_err *err)
{
	DIR *d = opendir(bdir);
	if (!d)
		return ts_err_set(err, TS_EIO, "open %s: %s", bdir, strerror(errno));
	int rc = TS_OK;
	struct dirent *e;
	char path[4200];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", bdir, e->d_name) >= (int)sizeof(path))
			continue;
		if (has_suffix(e->d_name, ".tmp")) {
			remove_tmp_block(path);
			continue;
		}
		tsdb_block *b;
		ts_err be = {0};
		int r = tsdb_block_open(path, &b, &be);
		if (r == TS_ENOMEM) {
			rc = ts_err_set(err, TS_ENOMEM, "%s", be.msg);
			break;
		}
		if (r) {
			ts_err qe = {0};
			if (tsdb_block_quarantine(path, &qe) == TS_OK)
				ts_log_error(
				    "tsdb: block %s is unreadable (%s); moved to quarantine", path,
				    be.msg);
			else
				ts_log_error(
				    "tsdb: block %s is unreadable (%s); quarantine failed: %s",
				    path, be.msg, qe.msg);
			atomic_fetch_add_explicit(&db->blocks_quarantined, 1, memory_order_relaxed);
			continue;
		}
		if (bv->n == bv->cap) {
			size_t nc = bv->cap ? bv->cap * 2 : 16;
			tsdb_block **nv = ts_realloc(bv->v, nc * sizeof(*nv));
			if (!nv) {
				tsdb_block_release(b);
				rc = ts_err_set(err, TS_ENOMEM, "out of memory loading blocks");
				break;
			}
			bv->v = nv;
			bv->cap = nc;
		}
		bv->v[bv->n++] = b;
		for (uint32_t p = 0; p < b->meta.n_offsets && (int)p < db->opt.n_partitions; p++)
			if (b->meta.offsets[p] > atomic_load(&db->parts[p].persisted))
				atomic_store(&db->parts[p].persisted, b->meta.offsets[p]);
	}
	closedir(d);
	return rc;
}

/*
 * Load the cold directory's blocks (if any) then <dir>/blocks, drop what a crashed
 * compaction or cold move left behind (compact.c), publish the rest.
 */
static int load_blocks(tsdb_db *db, const char *bdir, const char *cold_bdir, ts_err *err)
{
	block_vec bv = {0};
	int rc = cold_bdir ? load_dir(db, cold_bdir, &bv, err) : TS_OK;
	if (rc == TS_OK)
		rc = load_dir(db, bdir, &bv, err);
	tsdb_block **v = bv.v;
	size_t n = bv.n;
	if (rc == TS_OK)
		tsdb_compact_open_cleanup(v, &n);
	tsdb_blockset *old = NULL;
	if (rc == TS_OK && n)
		rc = tsdb_blocks_publish(db, v, n, &old, err);
	for (size_t i = 0; i < n; i++)
		tsdb_block_release(v[i]);
	tsdb_blockset_release(old);
	ts_free(v);
	return rc;
}

static void db_free(tsdb_db *db)
{
	tsdb_head_free(db);
	tsdb_blockset_release(db->blocks);
	if (db->parts)
		for (int i = 0; i < db->opt.n_partitions; i++)
			pthread_mutex_destroy(&db->parts[i].lock);
	ts_free(db->parts);
	ts_intern_free(db->intern);
	tsdb_late_free(db->late);
	tsdb_tombs_free(db);
	pthread_mutex_destroy(&db->tomb_lock);
	pthread_mutex_destroy(&db->tomb_write_lock);
	ts_free(db->cold_dir);
	pthread_mutex_destroy(&db->blocks_lock);
	pthread_mutex_destroy(&db->cut_lock);
	pthread_mutex_destroy(&db->bg_lock);
	pthread_cond_destroy(&db->bg_cond);
	ts_free(db->dir);
	ts_free(db);
}

static int make_dir(const char *path, ts_err *err)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return ts_err_set(err, TS_EIO, "cannot create %s: %s", path, strerror(errno));
	return TS_OK;
}

int tsdb_open(const tsdb_options *o, tsdb_db **out, ts_err *err)
{
	if (o->n_partitions < 1 || o->n_partitions > TSDB_MAX_PARTITIONS)
		return ts_err_set(err, TS_EINVAL, "n_partitions must be in [1, %d], got %d",
				  TSDB_MAX_PARTITIONS, o->n_partitions);
	if (o->out_of_order_window_ms < 0)
		return ts_err_set(err, TS_EINVAL, "out_of_order_window must not be negative");
	if (o->block_duration_ms <= 0)
		return ts_err_set(err, TS_EINVAL, "block_duration must be positive");
	if (o->max_block_duration_ms < 0 || o->cold_after_ms < 0 || o->retention_raw_ms <= 0 ||
	    o->retention_1m_ms <= 0 || o->retention_1h_ms <= 0)
		return ts_err_set(err, TS_EINVAL,
				  "max_block_duration and cold_after must not be negative, "
				  "retentions must be positive");
	tsdb_db *db = ts_calloc(1, sizeof(*db));
	if (!db)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening the store");
	db->opt = *o;
	db->opt.dir = NULL;
	db->opt.cold_dir = NULL;
	pthread_mutex_init(&db->blocks_lock, NULL);
	pthread_mutex_init(&db->cut_lock, NULL);
	pthread_mutex_init(&db->bg_lock, NULL);
	pthread_cond_init(&db->bg_cond, NULL);
	pthread_mutex_init(&db->tomb_lock, NULL);
	pthread_mutex_init(&db->tomb_write_lock, NULL);
	atomic_store(&db->min_t, INT64_MAX);
	atomic_store(&db->max_t, INT64_MIN);
	tsdb_head_init(db, NULL);
	int rc = TS_OK;
	char *bdir = NULL, *cold_bdir = NULL;
	db->intern = ts_intern_new();
	db->parts = ts_calloc((size_t)o->n_partitions, sizeof(*db->parts));
	db->blocks = set_new(0);
	db->late = tsdb_late_new();
	if (!db->intern || !db->parts || !db->blocks || !db->late) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory opening the store");
		goto fail;
	}
	for (int i = 0; i < o->n_partitions; i++)
		pthread_mutex_init(&db->parts[i].lock, NULL);
	if (o->dir) {
		size_t n = strlen(o->dir) + 16;
		db->dir = ts_strdup(o->dir);
		bdir = ts_malloc(n);
		if (!db->dir || !bdir) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory");
			goto fail;
		}
		db->opt.dir = db->dir;
		snprintf(bdir, n, "%s/blocks", o->dir);
		if (o->cold_dir) {
			size_t cn = strlen(o->cold_dir) + 16;
			db->cold_dir = ts_strdup(o->cold_dir);
			cold_bdir = ts_malloc(cn);
			if (!db->cold_dir || !cold_bdir) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory");
				goto fail;
			}
			snprintf(cold_bdir, cn, "%s/blocks", o->cold_dir);
			if ((rc = make_dir(db->cold_dir, err)) || (rc = make_dir(cold_bdir, err)))
				goto fail;
		}
		db->opt.cold_dir = db->cold_dir;
		if ((rc = make_dir(db->dir, err)) || (rc = make_dir(bdir, err)) ||
		    (rc = tsdb_offsets_load(db, err)) || (rc = tsdb_tombs_load(db, err)) ||
		    (rc = load_blocks(db, bdir, cold_bdir, err)))
			goto fail;
	}
	if ((rc = tsdb_bg_start(db, err)))
		goto fail;
	ts_free(bdir);
	ts_free(cold_bdir);
	*out = db;
	return TS_OK;
fail:
	ts_free(bdir);
	ts_free(cold_bdir);
	db_free(db);
	return rc;
}

void tsdb_close(tsdb_db *db)
{
	if (!db)
		return;
	tsdb_bg_stop(db);
	ts_err e = {0};
	if (db->dir && tsdb_cut_to(db, INT64_MAX, true, &e) != TS_OK)
		ts_log_error("tsdb: flushing the head at close failed (the log replays it): %s",
			     e.msg);
	db_free(db);
}

int tsdb_flush(tsdb_db *db, ts_err *err)
{
	return tsdb_cut_to(db, INT64_MAX, true, err);
}

/* -------------------------------------------------------------------------------------
 * Offsets and statistics
 * ---------------------------------------------------------------------------------- */

void tsdb_partition_applied(tsdb_db *db, int partition, uint64_t offset)
{
	if (TS_NEVER(partition < 0 || partition >= db->opt.n_partitions))
		return;
	tsdb_offsets_mark(db, partition, offset + 1);
}

uint64_t tsdb_partition_resume_offset(tsdb_db *db, int partition)
{
	if (TS_NEVER(partition < 0 || partition >= db->opt.n_partitions))
		return 0;
	return atomic_load(&db->parts[partition].persisted);
}

void tsdb_stats_get(tsdb_db *db, tsdb_stats *out)
{
	memset(out, 0, sizeof(*out));
	size_t n_str = 0, str_bytes = 0;
	ts_intern_stats(db->intern, &n_str, &str_bytes);
	out->n_series = atomic_load(&db->n_series);
	int64_t n_samples = 0, n_ooo = 0;
	for (int i = 0; i < TSDB_STRIPES; i++) {
		const tsdb_stripe *st = &db->stripes[i];
		n_samples += atomic_load_explicit(&st->n_samples, memory_order_relaxed);
		n_ooo += atomic_load_explicit(&st->n_ooo, memory_order_relaxed);
		out->samples_appended += atomic_load_explicit(&st->appended, memory_order_relaxed);
		out->duplicates_dropped +=
		    atomic_load_explicit(&st->duplicates, memory_order_relaxed);
		out->out_of_order_rejected +=
		    atomic_load_explicit(&st->rejected, memory_order_relaxed);
	}
	out->n_samples = n_samples > 0 ? (uint64_t)n_samples : 0;
	out->head_bytes = atomic_load(&db->head_bytes) + str_bytes;
	out->min_t_ms = atomic_load(&db->min_t);
	out->max_t_ms = atomic_load(&db->max_t);
	if (out->n_samples == 0) {
		out->min_t_ms = INT64_MAX;
		out->max_t_ms = INT64_MIN;
	}
	out->head_bytes_per_series = out->n_series ? out->head_bytes / out->n_series : 0;
	out->head_chunk_bytes = atomic_load(&db->chunk_bytes);
	out->head_chunks = atomic_load(&db->n_chunks);
	out->head_ooo_samples = n_ooo > 0 ? (uint64_t)n_ooo : 0;
	out->rechunks = atomic_load(&db->rechunks);
	out->cuts = atomic_load(&db->cuts);
	out->cut_errors = atomic_load(&db->cut_errors);
	out->blocks_quarantined = atomic_load(&db->blocks_quarantined);
	out->block_duplicates_dropped = atomic_load(&db->block_dup_dropped);
	out->compactions = atomic_load(&db->compactions);
	out->compaction_errors = atomic_load(&db->compaction_errors);
	out->blocks_retention_deleted = atomic_load(&db->retention_deleted);
	out->blocks_moved_cold = atomic_load(&db->moved_cold);
	out->downsampled_1m = atomic_load(&db->downsampled[TSDB_TIER_1M]);
	out->downsampled_1h = atomic_load(&db->downsampled[TSDB_TIER_1H]);
	out->downsample_errors = atomic_load(&db->downsample_errors);
	out->raw_parts_decoded = atomic_load(&db->raw_parts_decoded);
	out->head_series_reads = atomic_load(&db->head_series_reads);
	out->rollup_parts_decoded = atomic_load(&db->rollup_parts_decoded);
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	out->n_blocks = bs->n;
	for (size_t i = 0; i < bs->n; i++) {
		out->block_bytes += bs->b[i]->size_bytes;
		out->block_samples += bs->b[i]->meta.n_samples;
	}
	tsdb_blockset_release(bs);
}
