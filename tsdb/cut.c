/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cut.c: moving head samples into blocks ("cut"), persisting partition offsets, and
 * the background worker that applies Prometheus' cut rule.
 *
 * Rule: when the head spans more than 1.5 x block_duration (D), the oldest aligned
 * range [kD, (k+1)D) is written to a block and dropped from the head
 * (tsdb_cut_maybe); tsdb_flush() and close write everything (tsdb_cut_to with
 * is_full). A cut to maxt runs in rounds of at most 16 ranges:
 *   1. note the partition offset marks (before any series is read);
 *   2. pass 1: read every series' samples <= maxt, feed each range's block writer
 *      their timestamps (shared timestamp columns, block_write.c);
 *   3. pass 2, in label order: snapshot each series, drop samples an existing block of
 *      that range already holds (replays after a crash, stragglers after a partial
 *      GC), add the rest to the writer; keep the snapshot's GC fields;
 *   4. finish the writers (durable rename), open the new blocks, publish a new block
 *      set, wait until no querier holds the previous set (so none can miss samples
 *      between head and blocks), then drop the written samples from the head and,
 *      after partial cuts, remove series left empty.
 * On any error before step 4 publishes, the head is unchanged and the unfinished
 * block directories are removed; the next cut retries.
 *
 * Offsets (DESIGN.md "Durability"): tsdb_partition_applied(p, off) appends a mark
 * (next = off + 1, max_t = the head's newest timestamp at that moment). The head's
 * max_t is updated by every append before the consumer reports the offset, so the
 * mark says "every sample of records before next has t <= max_t". After a cut that
 * wrote everything <= maxt, each partition may persist the newest mark with max_t <=
 * maxt that existed before the cut started: its records' samples are all in blocks.
 * A full flush persists everything applied before it started. This is the brief's
 * "persist applied offsets on a full flush" rule, refined so partial cuts persist too
 * (a far-future timestamp only delays persistence to the next full flush). Marks are
 * coarsened to one per D/64 of max_t advance, 128 per partition (2 x D of history);
 * dropping or merging marks only delays persistence, never loses data. The persisted
 * offsets are written to the last block's meta of the cut and to <dir>/offsets
 * (checkpoint: magic, version, count, u64 each, CRC-32C; tmp + fsync + rename + dir
 * fsync), so a full flush of an empty head still advances them. Open takes the
 * maximum over the checkpoint and every block's meta.
 *
 * Worker (thread "tsdb-cut"): every cut_check_interval_ms it applies the cut rule (up
 * to 8 cuts), then bg_maintain: downsampling, compaction, retention and cold moves,
 * then drops blocks a read found corrupt. All of them publish under cut_lock, one at a
 * time, so only the newest two block sets can have readers.
 */
#include "tsdb/block.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OFFSETS_MAGIC   0x464F5453u /* "STOF" */
#define OFFSETS_VERSION 1
#define MAX_RANGES      16

/* -------------------------------------------------------------------------------------
 * Offset marks and the checkpoint file
 * ---------------------------------------------------------------------------------- */

void tsdb_offsets_mark(tsdb_db *db, int partition, uint64_t next)
{
	tsdb_part *pt = &db->parts[partition];
	int64_t mt = atomic_load(&db->max_t); /* seq_cst: after this thread's appends */
	int64_t gran = db->opt.block_duration_ms / 64 > 0 ? db->opt.block_duration_ms / 64 : 1;
	pthread_mutex_lock(&pt->lock);
	if (next <= atomic_load_explicit(&pt->applied, memory_order_relaxed)) {
		pthread_mutex_unlock(&pt->lock);
		return;
	}
	atomic_store(&pt->applied, next);
	tsdb_offmark *last =
	    pt->n_marks ? &pt->marks[(pt->first + pt->n_marks - 1) % TSDB_OFFMARKS] : NULL;
	if (last && mt >= last->start_t &&
	    (uint64_t)mt - (uint64_t)last->start_t < (uint64_t)gran) {
		/* Same granule: the mark now covers more records with a (weakly) larger bound. */
		last->next = next;
		last->max_t = mt > last->max_t ? mt : last->max_t;
		pthread_mutex_unlock(&pt->lock);
		return;
	}
	if (pt->n_marks == TSDB_OFFMARKS) { /* drop the oldest: only delays persistence */
		pt->first = (pt->first + 1) % TSDB_OFFMARKS;
		pt->n_marks--;
	}
	tsdb_offmark *m = &pt->marks[(pt->first + pt->n_marks) % TSDB_OFFMARKS];
	m->next = next;
	m->max_t = last && last->max_t > mt ? last->max_t : mt;
	m->start_t = mt;
	pt->n_marks++;
	pthread_mutex_unlock(&pt->lock);
}

/* After a successful cut: raise persisted, drop the marks it covers. */
static void offsets_commit(tsdb_db *db, const uint64_t *cand)
{
	for (int p = 0; p < db->opt.n_partitions; p++) {
		tsdb_part *pt = &db->parts[p];
		pthread_mutex_lock(&pt->lock);
		if (cand[p] > atomic_load(&pt->persisted))
			atomic_store(&pt->persisted, cand[p]);
		while (pt->n_marks && pt->marks[pt->first].next <= cand[p]) {
			pt->first = (pt->first + 1) % TSDB_OFFMARKS;
			pt->n_marks--;
		}
		pthread_mutex_unlock(&pt->lock);
	}
}

static int offsets_path(const tsdb_db *db, const char *suffix, char **out, ts_err *err)
{
	size_t n = strlen(db->dir) + 32;
	*out = ts_malloc(n);
	if (!*out)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	snprintf(*out, n, "%s/offsets%s", db->dir, suffix);
	return TS_OK;
}

int tsdb_offsets_save(tsdb_db *db, const uint64_t *next, ts_err *err)
{
	uint32_t n = (uint32_t)db->opt.n_partitions;
	size_t len = 12 + 8 * (size_t)n + 4;
	uint8_t *b = ts_calloc(1, len);
	char *tmp = NULL, *path = NULL;
	int rc, fd = -1;
	if (!b) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory saving offsets");
		goto out;
	}
	ts_put_u32le(b, OFFSETS_MAGIC);
	b[4] = OFFSETS_VERSION;
	ts_put_u32le(b + 8, n);
	for (uint32_t i = 0; i < n; i++)
		ts_put_u64le(b + 12 + 8 * i, next[i]);
	ts_put_u32le(b + len - 4, ts_crc32c(0, b, len - 4));
	if ((rc = offsets_path(db, ".tmp", &tmp, err)) || (rc = offsets_path(db, "", &path, err)))
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, b, len) != (ssize_t)len || fsync(fd) != 0) {
		rc = ts_err_set(err, errno == ENOSPC ? TS_ENOSPC : TS_EIO, "write %s: %s", tmp,
				strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = ts_err_set(err, TS_EIO, "rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	int dfd = open(db->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0)
		rc = ts_err_set(err, TS_EIO, "fsync %s: %s", db->dir, strerror(errno));
	if (dfd >= 0)
		close(dfd);
out:
	if (fd >= 0)
		close(fd);
	ts_free(b);
	ts_free(tmp);
	ts_free(path);
	return rc;
}

int tsdb_offsets_load(tsdb_db *db, ts_err *err)
{
	char *path = NULL;
	int rc = offsets_path(db, "", &path, err);
	if (rc)
		return rc;
	uint8_t buf[12 + 8 * TSDB_MAX_PARTITIONS + 4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT
			 ? TS_OK
			 : ts_err_set(err, TS_EIO, "open %s: %s", path, strerror(errno));
		ts_free(path);
		return rc;
	}
	ssize_t len = read(fd, buf, sizeof(buf));
	close(fd);
	uint32_t n = len >= 16 ? ts_get_u32le(buf + 8) : 0;
	if (len < 16 || ts_get_u32le(buf) != OFFSETS_MAGIC || buf[4] != OFFSETS_VERSION ||
	    n > TSDB_MAX_PARTITIONS || (size_t)len != 16 + 8 * (size_t)n ||
	    ts_crc32c(0, buf, (size_t)len - 4) != ts_get_u32le(buf + len - 4)) {
		/* Not fatal: block metas still carry offsets; replaying more is safe. */
		ts_log_error("%s is corrupt; using the offsets recorded in blocks", path);
		ts_free(path);
		return TS_OK;
	}
	if ((int)n != db->opt.n_partitions)
		ts_log_warn("%s has %u partitions, the store %d", path, n, db->opt.n_partitions);
	for (uint32_t i = 0; i < n && (int)i < db->opt.n_partitions; i++) {
		uint64_t v = ts_get_u64le(buf + 12 + 8 * i);
		if (v > atomic_load(&db->parts[i].persisted))
			atomic_store(&db->parts[i].persisted, v);
	}
	ts_free(path);
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Ranges
 * ---------------------------------------------------------------------------------- */

/* Inclusive bounds of range k (k >= floor(INT64_MIN / d)), saturated at the int64 limits. */
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

/*
 * An existing block overlapping a range, walked in label order alongside the cut's
 * series (both are sorted by labels), so finding a series there is a merge join.
 */
typedef struct ov_cursor {
	tsdb_block *b;    /* borrowed from the cut's block set */
	uint32_t next;    /* next block series id to decode */
	ts_label *labels; /* labels of series next - 1 (owned), or NULL */
	size_t n_labels;
} ov_cursor;

typedef struct range_w {
	tsdb_bw *w;     /* NULL until the range has data */
	int64_t lo, hi; /* inclusive bounds */
	ov_cursor *ov;  /* existing blocks overlapping the range */
	size_t n_ov;
	char *path; /* finished block directory */
} range_w;

typedef struct cut_ser {
	tsdb_hseries *s;
	tsdb_hsnap snap; /* pass 2 snapshot, trimmed to its GC fields and open ref */
	bool has_snap;
} cut_ser;

typedef struct cut_ctx {
	tsdb_db *db;
	int64_t d;
	int64_t kmin;
	int64_t round_max;
	range_w r[MAX_RANGES];
	tsdb_blockset *bs;
	tsdb_samples buf;
} cut_ctx;

static int cmp_series(const void *a, const void *b)
{
	const tsdb_hseries *x = ((const cut_ser *)a)->s, *y = ((const cut_ser *)b)->s;
	return ts_labels_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

static void remove_block_dir(const char *path)
{
	static const char *files[] = {"meta", "index", "chunks"};
	size_t n = strlen(path) + 16;
	char *f = ts_malloc(n);
	if (!f)
		return;
	for (size_t i = 0; i < 3; i++) {
		snprintf(f, n, "%s/%s", path, files[i]);
		unlink(f);
	}
	rmdir(path);
	ts_free(f);
}

static int blocks_dir(const tsdb_db *db, char **out, ts_err *err)
{
	size_t n = strlen(db->dir) + 16;
	*out = ts_malloc(n);
	if (!*out)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	snprintf(*out, n, "%s/blocks", db->dir);
	return TS_OK;
}

/* The writer of range k (created on first use); NULL if k is outside this round. */
static int writer_of(cut_ctx *c, int64_t k, range_w **out, ts_err *err)
{
	*out = NULL;
	if (k < c->kmin || (uint64_t)k - (uint64_t)c->kmin >= MAX_RANGES)
		return TS_OK;
	range_w *r = &c->r[k - c->kmin];
	if (!r->w) {
		char *dir;
		int rc = blocks_dir(c->db, &dir, err);
		if (rc)
			return rc;
		range_bounds(k, c->d, &r->lo, &r->hi);
		rc = tsdb_bw_new(dir, r->lo, r->hi, &r->w, err);
		ts_free(dir);
		if (rc)
			return rc;
		for (size_t i = 0; i < c->bs->n; i++) {
			tsdb_block *b = c->bs->b[i];
			if (b->meta.tier == TSDB_TIER_RAW && b->meta.range_mint <= r->hi &&
			    b->meta.range_maxt >= r->lo)
				r->n_ov++;
		}
		if (r->n_ov) {
			r->ov = ts_malloc(r->n_ov * sizeof(*r->ov));
			if (!r->ov)
				return ts_err_set(err, TS_ENOMEM, "out of memory");
			r->n_ov = 0;
			for (size_t i = 0; i < c->bs->n; i++) {
				tsdb_block *b = c->bs->b[i];
				if (b->meta.tier == TSDB_TIER_RAW && b->meta.range_mint <= r->hi &&
				    b->meta.range_maxt >= r->lo)
					r->ov[r->n_ov++] = (ov_cursor){b, 0, NULL, 0};
			}
		}
	}
	*out = r;
	return TS_OK;
}

/*
 * Remove from t/v[0..*n) the samples an overlapping block of r already holds for
 * these labels (an exact duplicate, or a conflict: the block's value wins).
 */
/* Id of labels in cursor o's block (TS_ENOTFOUND if absent); moves the cursor. */
static int ov_find(ov_cursor *o, const ts_label *labels, size_t n, uint32_t *id, ts_err *err)
{
	for (;;) {
		if (o->labels) {
			int c = ts_labels_cmp(o->labels, o->n_labels, labels, n);
			if (c == 0) {
				*id = o->next - 1;
				return TS_OK;
			}
			if (c > 0)
				return TS_ENOTFOUND;
			ts_free(o->labels);
			o->labels = NULL;
		}
		if (o->next >= o->b->n_series)
			return TS_ENOTFOUND;
		int rc =
		    tsdb_block_series(o->b, o->next, &o->labels, &o->n_labels, NULL, NULL, err);
		if (rc)
			return rc;
		o->next++;
	}
}

/*
 * Remove from t/v[0..*n) the samples an overlapping block of r already holds for
 * these labels (an exact duplicate, or a conflict: the block's value wins).
 */
static int drop_persisted(cut_ctx *c, range_w *r, const tsdb_hseries *s, int64_t *t, double *v,
			  size_t *n, ts_err *err)
{
	for (size_t i = 0; i < r->n_ov && *n; i++) {
		uint32_t id;
		int rc = ov_find(&r->ov[i], s->labels, s->n_labels, &id, err);
		if (rc == TS_ENOTFOUND)
			continue;
		if (rc)
			return rc;
		tsdb_samples have = {0};
		if ((rc = tsdb_block_read_series(r->ov[i].b, id, t[0], t[*n - 1], &have, err))) {
			tsdb_samples_free(&have);
			return rc;
		}
		size_t w = 0, j = 0;
		for (size_t k = 0; k < *n; k++) {
			while (j < have.n && have.t[j] < t[k])
				j++;
			if (j < have.n && have.t[j] == t[k])
				continue;
			t[w] = t[k];
			v[w++] = v[k];
		}
		atomic_fetch_add_explicit(&c->db->block_dup_dropped, *n - w, memory_order_relaxed);
		*n = w;
		tsdb_samples_free(&have);
	}
	return TS_OK;
}

/* Call fn for each maximal run of samples in one range. */
static int for_each_range(cut_ctx *c, const tsdb_samples *sm,
			  int (*fn)(cut_ctx *c, int64_t k, size_t a, size_t b, void *arg,
				    ts_err *err),
			  void *arg, ts_err *err)
{
	size_t a = 0;
	while (a < sm->n) {
		int64_t k = tsdb_floor_div(sm->t[a], c->d);
		size_t b = a + 1;
		while (b < sm->n && tsdb_floor_div(sm->t[b], c->d) == k)
			b++;
		int rc = fn(c, k, a, b, arg, err);
		if (rc)
			return rc;
		a = b;
	}
	return TS_OK;
}

static int scan_fn(cut_ctx *c, int64_t k, size_t a, size_t b, void *arg, ts_err *err)
{
	range_w *r;
	int rc = writer_of(c, k, &r, err);
	if (rc || !r)
		return rc;
	return tsdb_bw_scan(r->w, c->buf.t + a, b - a, err);
}

typedef struct add_arg {
	cut_ser *cs;
	bool is_complete; /* every sample landed in a range of this round */
} add_arg;

static int add_fn(cut_ctx *c, int64_t k, size_t a, size_t b, void *arg, ts_err *err)
{
	add_arg *x = arg;
	range_w *r;
	int rc = writer_of(c, k, &r, err);
	if (rc)
		return rc;
	if (!r) {
		x->is_complete = false;
		return TS_OK;
	}
	size_t n = b - a;
	if ((rc = drop_persisted(c, r, x->cs->s, c->buf.t + a, c->buf.v + a, &n, err)) || n == 0)
		return rc;
	return tsdb_bw_add(r->w, x->cs->s->labels, x->cs->s->n_labels, c->buf.t + a, c->buf.v + a,
			   n, err);
}

/* Release the sealed-chunk references and copies a GC does not need. */
static void snap_trim(tsdb_db *db, tsdb_hsnap *snap)
{
	for (uint32_t i = 0; i < snap->n_chunks; i++)
		tsdb_hchunk_release(db, snap->chunks[i]);
	ts_free(snap->chunks);
	ts_free(snap->ooo_t);
	ts_free(snap->ooo_v);
	snap->chunks = NULL;
	snap->ooo_t = NULL;
	snap->ooo_v = NULL;
	snap->n_chunks = snap->n_ooo = 0;
}

/* One round: ranges kmin .. kmin+15, samples <= round_max. */
static int cut_round(cut_ctx *c, cut_ser *cs, size_t n, const uint64_t *last_off,
		     const uint64_t *prev_off, bool is_full, ts_err *err)
{
	tsdb_db *db = c->db;
	tsdb_block *opened[MAX_RANGES] = {0};
	size_t n_opened = 0;
	int rc = TS_OK;
	/* Pass 1: timestamp sequences. */
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		c->buf.n = 0;
		if ((rc =
			 tsdb_head_series_read(db, cs[i].s, INT64_MIN, c->round_max, &c->buf, err)))
			break;
		rc = for_each_range(c, &c->buf, scan_fn, NULL, err);
	}
	/* Pass 2: series in label order. */
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		c->buf.n = 0;
		if ((rc = tsdb_head_snap_take(cs[i].s, INT64_MIN, c->round_max, &cs[i].snap, err)))
			break;
		cs[i].has_snap = true;
		add_arg x = {&cs[i], true};
		if ((rc =
			 tsdb_head_snap_read(&cs[i].snap, INT64_MIN, c->round_max, &c->buf, err)) ||
		    (rc = for_each_range(c, &c->buf, add_fn, &x, err)))
			break;
		snap_trim(db, &cs[i].snap);
		if (!x.is_complete) { /* a straggler older than this round: keep it all */
			tsdb_head_snap_release(db, &cs[i].snap);
			cs[i].has_snap = false;
		}
	}
	/* Finish: every block but the last carries the offsets persisted before. */
	size_t last = MAX_RANGES;
	for (size_t i = 0; i < MAX_RANGES; i++)
		if (c->r[i].w && tsdb_bw_n_series(c->r[i].w))
			last = i;
	for (size_t i = 0; i < MAX_RANGES && rc == TS_OK; i++) {
		if (!c->r[i].w || !tsdb_bw_n_series(c->r[i].w))
			continue;
		const uint64_t *off = i == last ? last_off : prev_off;
		rc = tsdb_bw_finish(c->r[i].w, off, (uint32_t)db->opt.n_partitions, &c->r[i].path,
				    err);
	}
	for (size_t i = 0; i < MAX_RANGES && rc == TS_OK; i++) {
		if (c->r[i].path &&
		    (rc = tsdb_block_open(c->r[i].path, &opened[n_opened], err)) == TS_OK)
			n_opened++;
	}
	tsdb_blockset *old = NULL;
	if (rc == TS_OK && n_opened)
		rc = tsdb_blocks_publish(db, opened, n_opened, &old, err);
	for (size_t i = 0; i < n_opened; i++)
		tsdb_block_release(opened[i]); /* the set holds them now (or they go away) */
	if (rc) {
		for (size_t i = 0; i < MAX_RANGES; i++)
			if (c->r[i].path)
				remove_block_dir(c->r[i].path);
		return rc;
	}
	/* Our own reference on the previous set (overlap checks) must not be waited for. */
	tsdb_blockset_release(c->bs);
	c->bs = NULL;
	if (old)
		tsdb_blockset_wait_release(old); /* no querier misses the dropped samples */
	/* GC: drop what the blocks now hold. */
	tsdb_hseries **empty = is_full ? NULL : ts_malloc((n ? n : 1) * sizeof(*empty));
	size_t n_empty = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cs[i].has_snap)
			continue;
		if (tsdb_head_series_gc(db, cs[i].s, &cs[i].snap) && empty)
			empty[n_empty++] = cs[i].s;
		tsdb_head_snap_release(db, &cs[i].snap);
		cs[i].has_snap = false;
	}
	if (n_empty)
		tsdb_head_remove_empty(db, empty, n_empty);
	ts_free(empty);
	return TS_OK;
}

static void ctx_reset(cut_ctx *c)
{
	for (size_t i = 0; i < MAX_RANGES; i++) {
		tsdb_bw_free(c->r[i].w);
		for (size_t k = 0; k < c->r[i].n_ov; k++)
			ts_free(c->r[i].ov[k].labels);
		ts_free(c->r[i].ov);
		ts_free(c->r[i].path);
	}
	memset(c->r, 0, sizeof(c->r));
}

/* Newest mark with max_t <= bound in a copy of the marks, or the applied offset. */
typedef struct marks_copy {
	tsdb_offmark marks[TSDB_OFFMARKS];
	uint32_t n;
	uint64_t applied;
} marks_copy;

static void copy_marks(tsdb_db *db, marks_copy *mc)
{
	for (int p = 0; p < db->opt.n_partitions; p++) {
		tsdb_part *pt = &db->parts[p];
		pthread_mutex_lock(&pt->lock);
		mc[p].n = pt->n_marks;
		for (uint32_t i = 0; i < pt->n_marks; i++)
			mc[p].marks[i] = pt->marks[(pt->first + i) % TSDB_OFFMARKS];
		mc[p].applied = atomic_load(&pt->applied);
		pthread_mutex_unlock(&pt->lock);
	}
}

static void eval_marks(tsdb_db *db, const marks_copy *mc, int64_t bound, bool is_all, uint64_t *out)
{
	for (int p = 0; p < db->opt.n_partitions; p++) {
		uint64_t v = atomic_load(&db->parts[p].persisted);
		if (is_all) {
			v = mc[p].applied > v ? mc[p].applied : v;
		} else {
			for (uint32_t i = 0; i < mc[p].n && mc[p].marks[i].max_t <= bound; i++)
				v = mc[p].marks[i].next > v ? mc[p].marks[i].next : v;
		}
		out[p] = v;
	}
}

/* Recompute db->min_t from the series (approximate under concurrent appends). */
static void refresh_min(tsdb_db *db)
{
	tsdb_hseries **all;
	size_t n;
	if (tsdb_head_all_series(db, &all, &n, NULL) != TS_OK)
		return;
	int64_t lo = INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		int64_t a, b;
		if (tsdb_head_series_range(all[i], &a, &b) && a < lo)
			lo = a;
		tsdb_hseries_release(db, all[i]);
	}
	ts_free(all);
	atomic_store(&db->min_t, lo);
}

int tsdb_cut_to(tsdb_db *db, int64_t maxt_incl, bool is_full, ts_err *err)
{
	if (!db->dir)
		return TS_OK;
	int np = db->opt.n_partitions;
	marks_copy *mc = ts_malloc((size_t)np * sizeof(*mc));
	uint64_t *prev = ts_malloc((size_t)np * sizeof(*prev));
	uint64_t *next = ts_malloc((size_t)np * sizeof(*next));
	cut_ctx c;
	memset(&c, 0, sizeof(c));
	c.db = db;
	c.d = db->opt.block_duration_ms;
	if (!mc || !prev || !next) {
		ts_free(mc);
		ts_free(prev);
		ts_free(next);
		return ts_err_set(err, TS_ENOMEM, "out of memory starting a cut");
	}
	pthread_mutex_lock(&db->cut_lock);
	copy_marks(db, mc); /* before any series is read */
	int rc = TS_OK;
	int64_t reached = INT64_MIN;
	bool is_reached = false;
	for (int round = 0; round < 64 && !is_reached; round++) {
		tsdb_hseries **all;
		size_t n_all, n = 0;
		if ((rc = tsdb_head_all_series(db, &all, &n_all, err)))
			break;
		cut_ser *cs = ts_calloc(n_all ? n_all : 1, sizeof(*cs));
		int64_t lo_min = INT64_MAX;
		for (size_t i = 0; cs && i < n_all; i++) {
			int64_t a, b;
			if (tsdb_head_series_range(all[i], &a, &b) && a <= maxt_incl) {
				cs[n++].s = all[i];
				lo_min = a < lo_min ? a : lo_min;
			} else {
				tsdb_hseries_release(db, all[i]);
			}
		}
		if (!cs) {
			for (size_t i = 0; i < n_all; i++)
				tsdb_hseries_release(db, all[i]);
			ts_free(all);
			rc = ts_err_set(err, TS_ENOMEM, "out of memory starting a cut");
			break;
		}
		ts_free(all);
		if (n == 0) {
			reached = maxt_incl;
			is_reached = true;
		} else {
			qsort(cs, n, sizeof(*cs), cmp_series);
			c.kmin = tsdb_floor_div(lo_min, c.d);
			int64_t lo, hi;
			range_bounds(c.kmin > INT64_MAX - MAX_RANGES ? INT64_MAX
								     : c.kmin + MAX_RANGES - 1,
				     c.d, &lo, &hi);
			c.round_max = hi < maxt_incl ? hi : maxt_incl;
			eval_marks(db, mc, reached, false, prev);
			bool is_all = is_full && c.round_max == INT64_MAX;
			eval_marks(db, mc, c.round_max > reached ? c.round_max : reached, is_all,
				   next);
			c.bs = tsdb_blocks_acquire(db);
			rc = cut_round(&c, cs, n, next, prev, is_full, err);
			tsdb_blockset_release(c.bs);
			c.bs = NULL;
			ctx_reset(&c);
			if (rc == TS_OK && c.round_max > reached)
				reached = c.round_max;
			is_reached = rc == TS_OK && reached >= maxt_incl;
		}
		for (size_t i = 0; i < n; i++) {
			if (cs[i].has_snap)
				tsdb_head_snap_release(db, &cs[i].snap);
			tsdb_hseries_release(db, cs[i].s);
		}
		ts_free(cs);
		if (rc)
			break;
	}
	if (reached > INT64_MIN || is_reached) {
		eval_marks(db, mc, reached, is_full && reached == INT64_MAX, next);
		bool changed = false;
		for (int p = 0; p < np; p++)
			changed |= next[p] > atomic_load(&db->parts[p].persisted);
		offsets_commit(db, next);
		if (changed) {
			for (int p = 0; p < np; p++)
				next[p] = atomic_load(&db->parts[p].persisted);
			ts_err e2 = {0};
			int r2 = tsdb_offsets_save(db, next, &e2);
			if (r2 && rc == TS_OK)
				rc = ts_err_set(err, r2, "%s", e2.msg);
		}
	}
	atomic_fetch_add_explicit(rc ? &db->cut_errors : &db->cuts, 1, memory_order_relaxed);
	refresh_min(db);
	pthread_mutex_unlock(&db->cut_lock);
	tsdb_samples_free(&c.buf);
	ts_free(mc);
	ts_free(prev);
	ts_free(next);
	return rc;
}

int tsdb_cut_maybe(tsdb_db *db, bool *did_cut, ts_err *err)
{
	*did_cut = false;
	if (!db->dir)
		return TS_OK;
	int64_t lo = atomic_load(&db->min_t), hi = atomic_load(&db->max_t);
	int64_t d = db->opt.block_duration_ms;
	if (lo > hi || (uint64_t)hi - (uint64_t)lo <= (uint64_t)d + (uint64_t)d / 2)
		return TS_OK;
	int64_t rlo, rhi;
	range_bounds(tsdb_floor_div(lo, d), d, &rlo, &rhi);
	int rc = tsdb_cut_to(db, rhi, false, err);
	*did_cut = rc == TS_OK;
	return rc;
}

/* -------------------------------------------------------------------------------------
 * Background worker
 * ---------------------------------------------------------------------------------- */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The worker's duties after the cuts of one tick: downsampling (downsample.c),
 * compaction (compact.c: at most 4 merges per tick so shutdown stays prompt; after a
 * failure it pauses a minute instead of retrying every tick), retention and cold moves
 * (retention.c). Each failure is logged here; the next tick retries.
 */
static void bg_maintain(tsdb_db *db)
{
	ts_err e = {0};
	int64_t now = wall_ms();
	if (tsdb_downsample_run(db, &e) != TS_OK) /* tiers helper: the one call */
		ts_log_error("tsdb: downsampling failed: %s", e.msg);
	e = (ts_err){0};
	if (now >= db->compact_pause_until_ms && tsdb_compact_run(db, 4, NULL, &e) != TS_OK) {
		ts_log_error("tsdb: compaction failed (retrying in 1 min): %s", e.msg);
		db->compact_pause_until_ms = now + 60000;
	}
	e = (ts_err){0};
	if (tsdb_retention_run(db, now, NULL, NULL, &e) != TS_OK)
		ts_log_error("tsdb: retention or cold move failed: %s", e.msg);
}

static void *bg_main(void *arg)
{
	tsdb_db *db = arg;
	pthread_mutex_lock(&db->bg_lock);
	while (!db->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (db->opt.cut_check_interval_ms % 1000) * 1000000;
		ts.tv_sec += db->opt.cut_check_interval_ms / 1000 + ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&db->bg_cond, &db->bg_lock, &ts);
		if (db->stopping)
			break;
		pthread_mutex_unlock(&db->bg_lock);
		bool did = true;
		for (int i = 0; i < 8 && did; i++) {
			ts_err e = {0};
			if (tsdb_cut_maybe(db, &did, &e) != TS_OK) {
				ts_log_error("tsdb: cutting a block failed: %s", e.msg);
				break;
			}
		}
		bg_maintain(db);
		tsdb_blocks_drop_bad(db);
		pthread_mutex_lock(&db->bg_lock);
	}
	pthread_mutex_unlock(&db->bg_lock);
	return NULL;
}

int tsdb_bg_start(tsdb_db *db, ts_err *err)
{
	if (!db->dir || db->opt.cut_check_interval_ms <= 0)
		return TS_OK;
	if (pthread_create(&db->bg, NULL, bg_main, db) != 0)
		return ts_err_set(err, TS_EIO, "cannot start the tsdb worker thread");
	pthread_setname_np(db->bg, "tsdb-cut");
	db->has_bg = true;
	return TS_OK;
}

void tsdb_bg_stop(tsdb_db *db)
{
	if (!db->has_bg)
		return;
	pthread_mutex_lock(&db->bg_lock);
	db->stopping = true;
	pthread_cond_broadcast(&db->bg_cond);
	pthread_mutex_unlock(&db->bg_lock);
	pthread_join(db->bg, NULL);
	db->has_bg = false;
}
