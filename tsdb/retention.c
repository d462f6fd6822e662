/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retention.c: deleting blocks older than their tier's retention, and moving old
 * blocks to the optional cold directory.
 *
 * Reference time ("now" of retention): the newest sample the store holds (head or
 * blocks), capped at the wall clock. Prometheus measures time retention from the
 * newest block's end, so a server that was down for a week, or a store filled by a
 * backfill of old data, does not delete everything at start; the cap at the wall clock
 * adds what Prometheus lacks: one sample with a timestamp far in the future cannot
 * make all history look expired. A block is deleted whole once its whole range
 * (range_maxt, the aligned end, not just its newest sample) is older than reference -
 * retention of its tier (storage.retention.raw/1m/1h); so data lives at least its
 * retention and at most retention + its block's span (compact.c caps spans at 10% of
 * the retention).
 *
 * Cold directory (storage.cold_dir, optional): blocks whose range ended more than
 * storage.cold_after before the reference move to <cold_dir>/blocks/<ULID>/, which
 * tsdb_open loads together with <dir>/blocks (blocks read the same from both; a
 * corrupt cold block is quarantined to <cold_dir>/quarantine/). The move is crash
 * safe: copy every file into <cold_dir>/blocks/<ULID>.tmp/, fsync each file and the
 * directory, rename it to <ULID>, fsync <cold_dir>/blocks; open the copy, swap it into
 * the set for the original (under cut_lock), wait for older queriers, delete the
 * original (rename to .tmp, remove). A crash before the rename leaves a *.tmp in the
 * cold directory (removed at open); after it, both copies with the same ULID (open
 * keeps the cold one and deletes the other: compact.c tsdb_compact_open_cleanup).
 * Compaction may still take cold blocks as sources; its output is written to the data
 * directory and moves cold again later.
 */
#include "tsdb/block.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF (1 << 20)

int64_t tsdb_retention_ref_ms(tsdb_db *db, int64_t now_ms)
{
	int64_t newest = INT64_MIN;
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	if (st.n_samples)
		newest = st.max_t_ms;
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	for (size_t i = 0; i < bs->n; i++)
		if (bs->b[i]->meta.n_series && bs->b[i]->meta.data_maxt > newest)
			newest = bs->b[i]->meta.data_maxt;
	tsdb_blockset_release(bs);
	return newest < now_ms ? newest : now_ms;
}

static int64_t retention_of(const tsdb_db *db, int tier)
{
	return tier == TSDB_TIER_1H   ? db->opt.retention_1h_ms
	       : tier == TSDB_TIER_1M ? db->opt.retention_1m_ms
				      : db->opt.retention_raw_ms;
}

/* ref - age, saturated. */
static int64_t before(int64_t ref, int64_t age)
{
	int64_t r;
	return __builtin_sub_overflow(ref, age, &r) ? INT64_MIN : r;
}

static bool is_cold(const tsdb_db *db, const tsdb_block *b)
{
	size_t n = db->cold_dir ? strlen(db->cold_dir) : 0;
	return n && b->dir && strncmp(b->dir, db->cold_dir, n) == 0 && b->dir[n] == '/';
}

/*
 * Swap rm[0..n) out of the set for add[0..n_add) (may be 0), wait for older queriers,
 * then delete rm's directories. The caller holds a reference on each block.
 */
static int swap_and_delete(tsdb_db *db, tsdb_block **rm, size_t n, tsdb_block **add, size_t n_add,
			   ts_err *err)
{
	pthread_mutex_lock(&db->cut_lock);
	tsdb_blockset *old = NULL;
	int rc = tsdb_blocks_replace(db, rm, n, add, n_add, &old, err);
	if (rc == TS_OK)
		tsdb_blockset_wait_release(old);
	pthread_mutex_unlock(&db->cut_lock);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		ts_err e = {0};
		if (rm[i]->dir && tsdb_block_dir_delete(rm[i]->dir, &e) != TS_OK)
			ts_log_warn("tsdb: cannot delete block directory: %s", e.msg);
	}
	return TS_OK;
}

/* Referenced blocks of the current set for which pick() is true (owned array). */
static int select_blocks(tsdb_db *db, bool (*pick)(tsdb_db *, const tsdb_block *, int64_t),
			 int64_t ref, tsdb_block ***out, size_t *n_out, ts_err *err)
{
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	tsdb_block **v = ts_malloc((bs->n ? bs->n : 1) * sizeof(*v));
	size_t n = 0;
	if (!v) {
		tsdb_blockset_release(bs);
		return ts_err_set(err, TS_ENOMEM, "out of memory applying retention");
	}
	for (size_t i = 0; i < bs->n; i++)
		if (pick(db, bs->b[i], ref)) {
			tsdb_block_acquire(bs->b[i]);
			v[n++] = bs->b[i];
		}
	tsdb_blockset_release(bs);
	*out = v;
	*n_out = n;
	return TS_OK;
}

static void release_all(tsdb_block **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsdb_block_release(v[i]);
	ts_free(v);
}

static bool is_expired(tsdb_db *db, const tsdb_block *b, int64_t ref)
{
	return b->meta.range_maxt < before(ref, retention_of(db, b->meta.tier));
}

static bool is_for_cold(tsdb_db *db, const tsdb_block *b, int64_t ref)
{
	return !is_cold(db, b) && b->meta.range_maxt < before(ref, db->opt.cold_after_ms);
}

/* -------------------------------------------------------------------------------------
 * Copying a block to the cold directory
 * ---------------------------------------------------------------------------------- */

static int io_err(ts_err *err, const char *what, const char *path)
{
	return ts_err_set(err, errno == ENOSPC ? TS_ENOSPC : TS_EIO, "%s %s: %s", what, path,
			  strerror(errno));
}

static int fsync_path(const char *path, ts_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return io_err(err, "open", path);
	int rc = fsync(fd) == 0 ? TS_OK : io_err(err, "fsync", path);
	close(fd);
	return rc;
}

static int copy_file(const char *from, const char *to, uint8_t *buf, ts_err *err)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return io_err(err, "open", from);
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		int rc = io_err(err, "create", to);
		close(in);
		return rc;
	}
	int rc = TS_OK;
	for (;;) {
		ssize_t n = read(in, buf, COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_err(err, "read", from);
			break;
		}
		if (n == 0)
			break;
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				rc = io_err(err, "write", to);
				break;
			}
			w += k;
		}
		if (rc)
			break;
	}
	if (rc == TS_OK && fsync(out) != 0)
		rc = io_err(err, "fsync", to);
	close(in);
	if (close(out) != 0 && rc == TS_OK)
		rc = io_err(err, "close", to);
	return rc;
}

/* Remove a partial copy (files, then the directory). */
static void remove_partial(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char f[4200];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    snprintf(f, sizeof(f), "%s/%s", dir, e->d_name) < (int)sizeof(f))
			unlink(f);
	closedir(d);
	rmdir(dir);
}

/* Copy block b into <cold>/blocks/<ULID> durably and open the copy (*out). */
static int copy_cold(tsdb_db *db, const tsdb_block *b, uint8_t *buf, tsdb_block **out, ts_err *err)
{
	char cdir[4200], tmp[4200], fin[4200], from[4200], to[4200];
	if (!b->dir ||
	    snprintf(cdir, sizeof(cdir), "%s/blocks", db->cold_dir) >= (int)sizeof(cdir) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", cdir, b->meta.name) >= (int)sizeof(tmp) ||
	    snprintf(fin, sizeof(fin), "%s/%s", cdir, b->meta.name) >= (int)sizeof(fin))
		return ts_err_set(err, TS_EINVAL, "cold directory path too long");
	remove_partial(tmp); /* a leftover of an earlier failed attempt */
	if (mkdir(tmp, 0755) != 0)
		return io_err(err, "mkdir", tmp);
	int rc = TS_OK;
	DIR *d = opendir(b->dir);
	if (!d) {
		rc = io_err(err, "open", b->dir);
		goto fail;
	}
	struct dirent *e;
	while (rc == TS_OK && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(from, sizeof(from), "%s/%s", b->dir, e->d_name) >= (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/%s", tmp, e->d_name) >= (int)sizeof(to)) {
			rc = ts_err_set(err, TS_EINVAL, "block file path too long");
			break;
		}
		rc = copy_file(from, to, buf, err);
	}
	closedir(d);
	if (rc || (rc = fsync_path(tmp, err)))
		goto fail;
	if (rename(tmp, fin) != 0) {
		rc = io_err(err, "rename", tmp);
		goto fail;
	}
	if ((rc = fsync_path(cdir, err)) || (rc = tsdb_block_open(fin, out, err))) {
		/* The copy is durable but unusable: remove it, the original stays. */
		remove_partial(fin);
		return rc;
	}
	return TS_OK;
fail:
	remove_partial(tmp);
	return rc;
}

/* -------------------------------------------------------------------------------------
 * The pass
 * ---------------------------------------------------------------------------------- */

static int delete_expired(tsdb_db *db, int64_t ref, size_t *n_deleted, ts_err *err)
{
	tsdb_block **v = NULL;
	size_t n = 0;
	int rc = select_blocks(db, is_expired, ref, &v, &n, err);
	if (rc)
		return rc;
	if (n && (rc = swap_and_delete(db, v, n, NULL, 0, err)) == TS_OK) {
		atomic_fetch_add_explicit(&db->retention_deleted, n, memory_order_relaxed);
		for (size_t i = 0; i < n; i++)
			ts_log_info("tsdb: block %s [%lld, %lld] (tier %u) is past retention; "
				    "deleted",
				    v[i]->meta.name, (long long)v[i]->meta.range_mint,
				    (long long)v[i]->meta.range_maxt, v[i]->meta.tier);
		*n_deleted = n;
	}
	release_all(v, n);
	return rc;
}

static int move_cold(tsdb_db *db, int64_t ref, size_t *n_moved, ts_err *err)
{
	tsdb_block **v = NULL;
	size_t n = 0;
	int rc = select_blocks(db, is_for_cold, ref, &v, &n, err);
	if (rc || n == 0) {
		if (rc == TS_OK)
			release_all(v, n);
		return rc;
	}
	uint8_t *buf = ts_malloc(COPY_BUF);
	if (!buf) {
		release_all(v, n);
		return ts_err_set(err, TS_ENOMEM, "out of memory moving blocks to %s",
				  db->cold_dir);
	}
	/* One block at a time, so a full cold disk still moves what fits. */
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		tsdb_block *copy = NULL;
		if ((rc = copy_cold(db, v[i], buf, &copy, err)))
			break;
		rc = swap_and_delete(db, &v[i], 1, &copy, 1, err);
		if (rc) {
			char *dir = copy->dir ? ts_strdup(copy->dir) : NULL;
			tsdb_block_release(copy);
			if (dir)
				remove_partial(dir); /* the original stays in the set */
			ts_free(dir);
			break;
		}
		tsdb_block_release(copy);
		atomic_fetch_add_explicit(&db->moved_cold, 1, memory_order_relaxed);
		(*n_moved)++;
	}
	ts_free(buf);
	release_all(v, n);
	return rc;
}

int tsdb_retention_run(tsdb_db *db, int64_t now_ms, size_t *n_deleted, size_t *n_moved, ts_err *err)
{
	size_t nd = 0, nm = 0;
	int rc = TS_OK;
	int64_t ref = db->dir ? tsdb_retention_ref_ms(db, now_ms) : INT64_MIN;
	if (ref != INT64_MIN) {
		rc = delete_expired(db, ref, &nd, err);
		if (rc == TS_OK && db->cold_dir)
			rc = move_cold(db, ref, &nm, err);
	}
	if (n_deleted)
		*n_deleted = nd;
	if (n_moved)
		*n_moved = nm;
	return rc;
}
