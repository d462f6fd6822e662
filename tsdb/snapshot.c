/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.c: online snapshots of the store (tsdb_snapshot, tsdb.h).
 *
 * A snapshot is a directory <dir>/snapshots/<name>/ laid out like a data directory:
 * blocks/<ULID>/{meta,index,chunks}. Every block of the current set is hard-linked
 * (blocks are immutable, so a link is a copy that costs no space); unless skip_head,
 * the head's samples are written as new blocks, one per block-aligned range, with the
 * ordinary block writer (block_write.c). A store opened on the directory therefore
 * holds exactly the snapshot's samples; its resume offsets are the maximum over the
 * blocks' metas, as for any store (cut.c).
 *
 * Consistency while writes continue: the whole snapshot runs under db->cut_lock, which
 * every block-set publisher (cut, downsampling, compaction, dropping bad blocks) holds,
 * so no sample can move from the head into a block between the moment the block set is
 * taken and the moment the head is read. The applied offsets are read before the head:
 * every sample of records below them is in the head or in a linked block, so the head
 * blocks carry them as their covered offsets (never less than what the store already
 * persisted). Appends go on meanwhile; samples they add may or may not be included.
 *
 * The snapshot is built in <name>.tmp/ and renamed when complete (after fsyncing every
 * file and directory), so a crash leaves no half snapshot under a final name; a stale
 * .tmp directory is harmless. Not done here: deleting snapshots (an operator's rm -r),
 * the embedded log (the caller's business: a restored store needs a log that starts at
 * the returned resume offsets, ingest's ingest_log_local_create_at).
 */
#include "tsdb/block.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAP_MAX_RANGES 4096 /* head block ranges one snapshot may write */

static int errno_code(int e)
{
	return e == ENOSPC || e == EDQUOT ? TS_ENOSPC : TS_EIO;
}

static int mkdir_p1(const char *path, ts_err *err)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return ts_err_set(err, errno_code(errno), "snapshot: mkdir %s: %s", path,
				  strerror(errno));
	return TS_OK;
}

static int fsync_path(const char *path, ts_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ts_err_set(err, TS_EIO, "snapshot: open %s: %s", path, strerror(errno));
	int rc = TS_OK;
	if (fsync(fd) != 0)
		rc = ts_err_set(err, errno_code(errno), "snapshot: fsync %s: %s", path,
				strerror(errno));
	close(fd);
	return rc;
}

/* Remove a snapshot tree we created (blocks/<x>/<files>, blocks/, the root). Uses no
 * heap, so it works when an allocation failure is the reason it runs. */
static void remove_tree(const char *root)
{
	static const char *files[] = {"meta", "index", "chunks"};
	char p[PATH_MAX], q[PATH_MAX + 300];
	snprintf(p, sizeof(p), "%s/blocks", root);
	DIR *d = opendir(p);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < 3; i++) {
			snprintf(q, sizeof(q), "%s/%.255s/%s", p, e->d_name, files[i]);
			unlink(q);
		}
		snprintf(q, sizeof(q), "%s/%.255s", p, e->d_name);
		rmdir(q);
	}
	if (d)
		closedir(d);
	rmdir(p);
	rmdir(root);
}

/* ------------------------------------------------------------------- block links */

static int link_block(const tsdb_block *b, const char *blocks_dir, ts_err *err)
{
	static const char *files[] = {"meta", "index", "chunks"};
	size_t cap = strlen(blocks_dir) + strlen(b->dir) + 64;
	char *dst = ts_malloc(cap), *src = ts_malloc(cap);
	int rc = TS_OK;
	if (!dst || !src) {
		rc = ts_err_set(err, TS_ENOMEM, "snapshot: out of memory");
		goto out;
	}
	snprintf(dst, cap, "%s/%s", blocks_dir, b->meta.name);
	if ((rc = mkdir_p1(dst, err)))
		goto out;
	for (size_t i = 0; i < 3 && rc == TS_OK; i++) {
		snprintf(src, cap, "%s/%s", b->dir, files[i]);
		snprintf(dst, cap, "%s/%s/%s", blocks_dir, b->meta.name, files[i]);
		if (link(src, dst) != 0)
			rc = ts_err_set(err, errno_code(errno), "snapshot: link %s to %s: %s", src,
					dst, strerror(errno));
	}
	if (rc == TS_OK) {
		snprintf(dst, cap, "%s/%s", blocks_dir, b->meta.name);
		rc = fsync_path(dst, err);
	}
out:
	ts_free(dst);
	ts_free(src);
	return rc;
}

/* ------------------------------------------------------------------- head blocks */

typedef struct snap_range {
	int64_t k; /* range index: [k*D, (k+1)*D) */
	tsdb_bw *w;
} snap_range;

typedef struct head_ctx {
	tsdb_db *db;
	const char *blocks_dir;
	int64_t d;
	snap_range *r; /* sorted by k */
	size_t n_r, cap_r;
	tsdb_samples buf;
} head_ctx;

static void range_bounds(int64_t k, int64_t d, int64_t *lo, int64_t *hi)
{
	if (k > INT64_MAX / d) {
		*lo = *hi = INT64_MAX;
	} else if (k < INT64_MIN / d) {
		*lo = INT64_MIN;
		*hi = (k + 1) * d - 1;
	} else {
		*lo = k * d;
		*hi = *lo > INT64_MAX - (d - 1) ? INT64_MAX : *lo + (d - 1);
	}
}

/* The writer of range k, created on first use. */
static int range_of(head_ctx *c, int64_t k, tsdb_bw **out, ts_err *err)
{
	size_t lo = 0, hi = c->n_r;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->r[mid].k < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->n_r && c->r[lo].k == k) {
		*out = c->r[lo].w;
		return TS_OK;
	}
	if (c->n_r == SNAP_MAX_RANGES)
		return ts_err_set(err, TS_ELIMIT,
				  "snapshot: the head spans more than %d block ranges",
				  SNAP_MAX_RANGES);
	if (c->n_r == c->cap_r) {
		size_t cap = c->cap_r ? c->cap_r * 2 : 8;
		snap_range *r = ts_realloc(c->r, cap * sizeof(*r));
		if (!r)
			return ts_err_set(err, TS_ENOMEM, "snapshot: out of memory");
		c->r = r;
		c->cap_r = cap;
	}
	int64_t rlo, rhi;
	range_bounds(k, c->d, &rlo, &rhi);
	tsdb_bw *w;
	int rc = tsdb_bw_new(c->blocks_dir, rlo, rhi, &w, err);
	if (rc)
		return rc;
	memmove(c->r + lo + 1, c->r + lo, (c->n_r - lo) * sizeof(*c->r));
	c->r[lo] = (snap_range){k, w};
	c->n_r++;
	*out = w;
	return TS_OK;
}

static int cmp_series(const void *a, const void *b)
{
	const tsdb_hseries *x = *(tsdb_hseries *const *)a, *y = *(tsdb_hseries *const *)b;
	return ts_labels_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

/*
 * Write the head's samples as blocks: pass 1 scans each series' timestamps per range
 * (shared timestamp columns), pass 2 adds the series in label order. Both passes read
 * samples <= maxt; appends in between only add samples pass 1 did not see, which the
 * writer stores with a timestamp column of their own.
 */
static int write_head(head_ctx *c, const uint64_t *offsets, ts_err *err)
{
	tsdb_db *db = c->db;
	tsdb_hseries **ss = NULL;
	size_t n = 0;
	int rc = tsdb_head_all_series(db, &ss, &n, err);
	if (rc)
		return rc;
	if (n > 1)
		qsort(ss, n, sizeof(*ss), cmp_series);
	int64_t maxt = atomic_load(&db->max_t);
	for (int pass = 0; pass < 2 && rc == TS_OK; pass++) {
		for (size_t i = 0; i < n && rc == TS_OK; i++) {
			c->buf.n = 0;
			if ((rc = tsdb_head_series_read(db, ss[i], INT64_MIN, maxt, &c->buf, err)))
				break;
			size_t a = 0;
			while (a < c->buf.n && rc == TS_OK) {
				int64_t k = tsdb_floor_div(c->buf.t[a], c->d);
				size_t b = a + 1;
				while (b < c->buf.n && tsdb_floor_div(c->buf.t[b], c->d) == k)
					b++;
				tsdb_bw *w = NULL;
				if ((rc = range_of(c, k, &w, err)))
					break;
				rc = pass == 0
					 ? tsdb_bw_scan(w, c->buf.t + a, b - a, err)
					 : tsdb_bw_add(w, ss[i]->labels, ss[i]->n_labels,
						       c->buf.t + a, c->buf.v + a, b - a, err);
				a = b;
			}
		}
	}
	for (size_t i = 0; i < c->n_r && rc == TS_OK; i++) {
		if (!tsdb_bw_n_series(c->r[i].w))
			continue;
		char *path = NULL;
		rc = tsdb_bw_finish(c->r[i].w, offsets, (uint32_t)db->opt.n_partitions, &path, err);
		ts_free(path);
	}
	for (size_t i = 0; i < n; i++)
		tsdb_hseries_release(db, ss[i]);
	ts_free(ss);
	return rc;
}

/* ------------------------------------------------------------------- entry point */

static void make_name(char *name, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_t t = ts.tv_sec;
	gmtime_r(&t, &tm);
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
	/* The moduli only bound each field's width for the compiler; the values fit. */
	snprintf(name, cap, "%04u%02u%02uT%02u%02u%02uZ-%016" PRIx64,
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, rnd);
}

int tsdb_snapshot(tsdb_db *db, bool skip_head, char *name, size_t name_cap,
		  uint64_t *resume_offsets, char **path, ts_err *err)
{
	if (!db->dir)
		return ts_err_set(err, TS_EINVAL, "snapshot: the store has no data directory");
	if (name_cap < TSDB_SNAPSHOT_NAME_MAX)
		return ts_err_set(err, TS_EINVAL, "snapshot: name buffer too small");
	int np = db->opt.n_partitions;
	char nm[TSDB_SNAPSHOT_NAME_MAX];
	make_name(nm, sizeof(nm));
	size_t cap = strlen(db->dir) + sizeof(nm) + 64;
	char *snaps = ts_malloc(cap), *tmp = ts_malloc(cap), *fin = ts_malloc(cap),
	     *blocks = ts_malloc(cap);
	uint64_t *off = ts_calloc((size_t)np, sizeof(*off));
	uint64_t *resume = ts_calloc((size_t)np, sizeof(*resume));
	head_ctx hc = {.db = db, .d = db->opt.block_duration_ms};
	tsdb_blockset *bs = NULL;
	bool is_locked = false, made_tmp = false;
	int rc = TS_OK;
	if (!snaps || !tmp || !fin || !blocks || !off || !resume) {
		rc = ts_err_set(err, TS_ENOMEM, "snapshot: out of memory");
		goto out;
	}
	snprintf(snaps, cap, "%s/snapshots", db->dir);
	snprintf(tmp, cap, "%s/%s.tmp", snaps, nm);
	snprintf(fin, cap, "%s/%s", snaps, nm);
	snprintf(blocks, cap, "%s/blocks", tmp);
	if ((rc = mkdir_p1(snaps, err)))
		goto out;
	if (mkdir(tmp, 0755) != 0) {
		rc = ts_err_set(err, errno_code(errno), "snapshot: mkdir %s: %s", tmp,
				strerror(errno));
		goto out;
	}
	made_tmp = true;
	if ((rc = mkdir_p1(blocks, err)))
		goto out;

	pthread_mutex_lock(&db->cut_lock); /* no sample moves from head to blocks now */
	is_locked = true;
	bs = tsdb_blocks_acquire(db);
	for (int p = 0; p < np; p++) {
		uint64_t a = atomic_load(&db->parts[p].applied);
		uint64_t s = atomic_load(&db->parts[p].persisted);
		off[p] = a > s ? a : s;
	}
	for (size_t i = 0; i < bs->n && rc == TS_OK; i++) {
		tsdb_block *b = bs->b[i];
		if (!b->dir || atomic_load(&b->is_bad))
			continue;
		rc = link_block(b, blocks, err);
		for (uint32_t p = 0; p < b->meta.n_offsets && (int)p < np && rc == TS_OK; p++)
			if (b->meta.offsets[p] > resume[p])
				resume[p] = b->meta.offsets[p];
	}
	/* Deleted samples stay deleted in the snapshot: its blocks may still hold them. */
	if (rc == TS_OK)
		rc = tsdb_tombs_save_copy(db, tmp, err);
	if (rc == TS_OK && !skip_head) {
		hc.blocks_dir = blocks;
		rc = write_head(&hc, off, err);
		bool wrote = false;
		for (size_t i = 0; i < hc.n_r; i++)
			wrote |= tsdb_bw_n_series(hc.r[i].w) > 0;
		for (int p = 0; p < np && wrote; p++)
			if (off[p] > resume[p])
				resume[p] = off[p];
	}
	pthread_mutex_unlock(&db->cut_lock);
	is_locked = false;
	if (rc)
		goto out;
	if ((rc = fsync_path(blocks, err)) || (rc = fsync_path(tmp, err)))
		goto out;
	if (rename(tmp, fin) != 0) {
		rc = ts_err_set(err, errno_code(errno), "snapshot: rename %s: %s", tmp,
				strerror(errno));
		goto out;
	}
	made_tmp = false;
	if ((rc = fsync_path(snaps, err)))
		goto out;
	snprintf(name, name_cap, "%s", nm);
	if (path) {
		*path = fin;
		fin = NULL;
	}
	if (resume_offsets)
		memcpy(resume_offsets, resume, (size_t)np * sizeof(*resume));
out:
	if (is_locked)
		pthread_mutex_unlock(&db->cut_lock);
	if (bs)
		tsdb_blockset_release(bs);
	for (size_t i = 0; i < hc.n_r; i++)
		tsdb_bw_free(hc.r[i].w);
	ts_free(hc.r);
	tsdb_samples_free(&hc.buf);
	if (made_tmp)
		remove_tree(tmp);
	ts_free(snaps);
	ts_free(tmp);
	ts_free(fin);
	ts_free(blocks);
	ts_free(off);
	ts_free(resume);
	return rc;
}
