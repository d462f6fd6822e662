/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compact.c: merging blocks of one tier into larger ones ("compaction"), and the
 * open-time cleanup of what a crashed compaction or cold move left behind.
 *
 * Planning (tsdb_compact_run, one merge at a time, per tier, oldest first):
 *   1. Overlaps: blocks whose ranges overlap (a straggler cut after its range's block
 *      was written, a crash between a cut's rename and the head drop, a backfill) are
 *      merged into one block spanning the union of their ranges ("vertical").
 *   2. Levels: ranges are aligned multiples of the block duration D, and the levels
 *      are D, 3D, 6D, 12D, then doubling (2h, 6h, 12h, 24h, 48h, ... with D = 2h); each
 *      level divides the next, so two aligned ranges are nested or disjoint. For each
 *      level R above D and up to the tier's cap, the blocks that lie inside one aligned
 *      window [kR, (k+1)R) and are shorter than R are merged when there are at least
 *      two and either they fill the window or a newer block of the tier starts after
 *      the window (it is closed: cuts have moved on). As in Prometheus, the window is
 *      not waited for when it is only partly covered but closed.
 *   The cap is min(storage.max_block_duration (default 24h), 10% of the tier's
 *   retention), at least D: retention deletes whole blocks, so a block may outlive its
 *   retention by up to its span; 10% bounds that excess (Prometheus' rule). With the
 *   defaults (raw 7d: cap 16.8h) raw blocks grow to 12h, 1m (30d) and 1h (365d) tier
 *   blocks to 24h.
 *
 * Merging (merge_blocks): the sources' series are walked in label order in parallel (a
 * k-way merge join over their sorted indexes). A series present in several sources
 * has its samples merged by timestamp; a timestamp in several sources keeps the value
 * of the first source in block-set order (range start, then ULID), which is the value
 * queriers return, so reads give the same samples before, during and after. Two
 * passes, as the block writer needs: pass 1 feeds every merged series' timestamps to
 * tsdb_bw_scan (shared timestamp columns), pass 2 adds the series in label order. The
 * merged meta keeps the tier and resolution, takes per partition the maximum of the
 * sources' log offsets, and lists in its SOURCES section the sources' ULIDs and the
 * ULIDs their own metas listed (so a chain of compactions stays covered even if a
 * deletion failed), at most TSDB_MAX_SOURCES.
 *
 * Durability and crash safety: the new block is written as <ULID>.tmp, every file and
 * the directory fsync'd, renamed, the parent fsync'd (block_write.c). Only then is
 * the set swapped (under cut_lock: the sources leave, the merged block enters); the
 * worker waits until no querier holds the previous set, then deletes each source by
 * renaming it to <ULID>.tmp (atomic; open removes *.tmp) and removing its files.
 * kill -9 at any point leaves one of: the sources plus a *.tmp (removed at open); the
 * sources plus the durable merged block, which lists them (open drops them:
 * tsdb_compact_open_cleanup); the merged block plus some sources or *.tmp remains
 * (same). A sample is therefore never lost and never counted twice.
 *
 * Tiers: raw blocks carry one value column per part, 1m/1h blocks every rollup column
 * kind (downsample.c); a merge reads each source series' rows with all the columns of
 * its tier and writes them back unchanged (tsdb_bw_add / tsdb_bw_add_rollup), so a
 * duplicate bucket keeps the whole row of the first source. A 1m/1h merge gets the union
 * of the sources' BUILT sections (merge_built); after any swap, tier blocks that were
 * fresh stay fresh (tsdb_tier_carry_fresh: the merge holds the same samples), so
 * compaction never makes a tier stop covering (downsample.c, late source data).
 *
 * Deletions: a merge drops what the tombstones current at its start delete (raw
 * samples in a deleted interval, rollup rows whose bucket meets one); the tombstones
 * themselves stay until tsdb_clean_tombstones (tombstones.c), which rewrites single
 * blocks through tsdb_compact_blocks.
 *
 * Not done here: downsampling (downsample.c makes the 1m/1h tiers), retention and
 * cold moves (retention.c).
 */
#include "tsdb/block.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LEVELS 40

/* -------------------------------------------------------------------------------------
 * Directories
 * ---------------------------------------------------------------------------------- */

/* Remove every entry of directory path, then the directory. */
static int remove_dir(const char *path, ts_err *err)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT
			   ? TS_OK
			   : ts_err_set(err, TS_EIO, "open %s: %s", path, strerror(errno));
	struct dirent *e;
	char f[4200];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(f, sizeof(f), "%s/%s", path, e->d_name) < (int)sizeof(f))
			unlink(f);
	}
	closedir(d);
	if (rmdir(path) != 0)
		return ts_err_set(err, TS_EIO, "rmdir %s: %s", path, strerror(errno));
	return TS_OK;
}

int tsdb_block_dir_delete(const char *path, ts_err *err)
{
	char tmp[4200]; /* no allocation: this also runs on out-of-memory error paths */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return ts_err_set(err, TS_EIO, "path too long: %s", path);
	if (rename(path, tmp) != 0)
		return ts_err_set(err, TS_EIO, "rename %s: %s", path, strerror(errno));
	return remove_dir(tmp, err);
}

/* -------------------------------------------------------------------------------------
 * Open-time cleanup
 * ---------------------------------------------------------------------------------- */

static int cmp_ulid(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static void drop_at_open(tsdb_block *b, const char *why)
{
	ts_err e = {0};
	if (b->dir && tsdb_block_dir_delete(b->dir, &e) != TS_OK)
		ts_log_warn("tsdb: cannot delete block %s (%s): %s", b->dir, why, e.msg);
	else
		ts_log_info("tsdb: deleted block %s: %s", b->dir ? b->dir : b->meta.name, why);
	tsdb_block_release(b);
}

size_t tsdb_compact_open_cleanup(tsdb_block **v, size_t *n)
{
	size_t n_src = 0, dropped = 0;
	for (size_t i = 0; i < *n; i++)
		n_src += v[i]->meta.n_sources;
	uint8_t(*src)[16] = n_src ? ts_malloc(n_src * sizeof(*src)) : NULL;
	uint8_t(*seen)[16] = *n ? ts_malloc(*n * sizeof(*seen)) : NULL;
	if ((n_src && !src) || (*n && !seen)) {
		/* Without memory the cleanup waits for the next open; reads stay correct as
		 * long as the duplicates hold equal samples, which they do. */
		ts_log_warn("tsdb: out of memory checking blocks for compaction leftovers");
		ts_free(src);
		ts_free(seen);
		return 0;
	}
	n_src = 0;
	for (size_t i = 0; i < *n; i++) {
		if (!v[i]->meta.n_sources)
			continue;
		memcpy(src + n_src, v[i]->meta.sources, v[i]->meta.n_sources * sizeof(*src));
		n_src += v[i]->meta.n_sources;
	}
	if (n_src)
		qsort(src, n_src, sizeof(*src), cmp_ulid);
	size_t w = 0, n_seen = 0;
	for (size_t i = 0; i < *n; i++) {
		tsdb_block *b = v[i];
		bool is_dup = false;
		for (size_t k = 0; k < n_seen && !is_dup; k++)
			is_dup = memcmp(seen[k], b->meta.ulid, 16) == 0;
		if (is_dup) {
			drop_at_open(b, "a second copy (interrupted move to the cold directory)");
			dropped++;
			continue;
		}
		memcpy(seen[n_seen++], b->meta.ulid, 16);
		if (n_src && bsearch(b->meta.ulid, src, n_src, sizeof(*src), cmp_ulid)) {
			drop_at_open(b, "replaced by a compacted block (interrupted compaction)");
			dropped++;
			continue;
		}
		v[w++] = b;
	}
	*n = w;
	ts_free(src);
	ts_free(seen);
	return dropped;
}

/* -------------------------------------------------------------------------------------
 * Merging
 * ---------------------------------------------------------------------------------- */

/*
 * Rows of one series: timestamps and one array per carried column kind (raw blocks:
 * TSDB_COL_RAW; 1m/1h blocks: every rollup kind TSDB_COL_COUNT .. TSDB_COL_N - 1).
 */
typedef struct rows {
	int64_t *t;
	double *c[TSDB_COL_N];
	size_t n, cap;
} rows;

static bool kind_used(bool is_rollup, int k)
{
	return is_rollup ? k != TSDB_COL_RAW : k == TSDB_COL_RAW;
}

static int rows_reserve(rows *r, bool is_rollup, size_t extra, ts_err *err)
{
	if (r->n + extra <= r->cap)
		return TS_OK;
	size_t nc = r->cap ? r->cap : 256;
	while (nc < r->n + extra)
		nc *= 2;
	int64_t *t = ts_realloc(r->t, nc * sizeof(*t));
	if (!t)
		return ts_err_set(err, TS_ENOMEM, "out of memory merging blocks");
	r->t = t;
	for (int k = 0; k < TSDB_COL_N; k++) {
		if (!kind_used(is_rollup, k))
			continue;
		double *c = ts_realloc(r->c[k], nc * sizeof(*c));
		if (!c)
			return ts_err_set(err, TS_ENOMEM, "out of memory merging blocks");
		r->c[k] = c;
	}
	r->cap = nc;
	return TS_OK;
}

static void rows_free(rows *r)
{
	ts_free(r->t);
	for (int k = 0; k < TSDB_COL_N; k++)
		ts_free(r->c[k]);
	memset(r, 0, sizeof(*r));
}

/* One source walked in label order. */
typedef struct src_cur {
	tsdb_block *b;
	uint32_t next;    /* next series id to decode */
	uint32_t id;      /* current series */
	ts_label *labels; /* its labels (owned array, strings borrowed from b), NULL at end */
	size_t n_labels;
	bool is_used;     /* the current series went into the last merged series */
	int64_t *tcol;    /* rollup blocks: the last decoded timestamp column (owned) */
	int64_t tcol_idx; /* its index, -1 = none */
} src_cur;

typedef struct merger {
	src_cur *c;
	size_t n;
	bool is_rollup;
	rows acc, tmp, out;
	tsdb_samples raw; /* scratch for raw reads */
} merger;

static int cur_advance(src_cur *c, ts_err *err)
{
	ts_free(c->labels);
	c->labels = NULL;
	c->n_labels = 0;
	c->is_used = false;
	if (c->next >= c->b->n_series)
		return TS_OK;
	c->id = c->next++;
	return tsdb_block_series(c->b, c->id, &c->labels, &c->n_labels, NULL, NULL, err);
}

static void merger_free(merger *m)
{
	for (size_t i = 0; i < m->n && m->c; i++) {
		ts_free(m->c[i].labels);
		ts_free(m->c[i].tcol);
	}
	ts_free(m->c);
	rows_free(&m->acc);
	rows_free(&m->tmp);
	rows_free(&m->out);
	tsdb_samples_free(&m->raw);
	memset(m, 0, sizeof(*m));
}

static int merger_init(merger *m, tsdb_block **src, size_t n, bool is_rollup, ts_err *err)
{
	memset(m, 0, sizeof(*m));
	m->is_rollup = is_rollup;
	m->c = ts_calloc(n, sizeof(*m->c));
	if (!m->c)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting a compaction");
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		m->c[i].b = src[i];
		m->c[i].tcol_idx = -1;
		int rc = cur_advance(&m->c[i], err);
		if (rc)
			return rc;
	}
	return TS_OK;
}

/* Read the current series of c into r (emptied first). */
static int read_rows(merger *m, src_cur *c, rows *r, ts_err *err)
{
	r->n = 0;
	int rc;
	if (!m->is_rollup) {
		m->raw.n = 0;
		if ((rc =
			 tsdb_block_read_series(c->b, c->id, INT64_MIN, INT64_MAX, &m->raw, err)) ||
		    (rc = rows_reserve(r, false, m->raw.n, err)))
			return rc;
		memcpy(r->t, m->raw.t, m->raw.n * sizeof(*r->t));
		memcpy(r->c[TSDB_COL_RAW], m->raw.v, m->raw.n * sizeof(double));
		r->n = m->raw.n;
		return TS_OK;
	}
	/* Rollup parts: timestamps from the (shared, cached) column, every kind's values. */
	tsdb_block_part *parts = NULL;
	size_t np = 0;
	rc = tsdb_block_series(c->b, c->id, NULL, NULL, &parts, &np, err);
	for (size_t i = 0; rc == TS_OK && i < np; i++) {
		const tsdb_block_part *p = &parts[i];
		if (c->tcol_idx != (int64_t)p->tcol) {
			ts_free(c->tcol);
			c->tcol_idx = -1;
			c->tcol = ts_malloc(c->b->tcols[p->tcol].n * sizeof(*c->tcol));
			if (!c->tcol) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory merging blocks");
				break;
			}
			if ((rc = tsdb_block_tcol_read(c->b, p->tcol, c->tcol, err)))
				break;
			c->tcol_idx = p->tcol;
		}
		if ((rc = rows_reserve(r, true, p->n, err)))
			break;
		memcpy(r->t + r->n, c->tcol + p->start, p->n * sizeof(*r->t));
		for (int k = 0; k < TSDB_COL_N && rc == TS_OK; k++)
			if (kind_used(true, k))
				rc = tsdb_block_read_rollup_col(c->b, p, k, r->c[k] + r->n, err);
		r->n += p->n;
	}
	ts_free(parts);
	return rc;
}

/* out = a merged with b by time; a timestamp in both keeps a's row. */
static int rows_merge(const rows *a, const rows *b, rows *out, bool is_rollup, ts_err *err)
{
	out->n = 0;
	int rc = rows_reserve(out, is_rollup, a->n + b->n, err);
	if (rc)
		return rc;
	size_t i = 0, j = 0, k = 0;
	while (i < a->n || j < b->n) {
		const rows *from;
		size_t at;
		if (j >= b->n || (i < a->n && a->t[i] <= b->t[j])) {
			if (j < b->n && a->t[i] == b->t[j])
				j++; /* duplicate: the earlier source wins */
			from = a;
			at = i++;
		} else {
			from = b;
			at = j++;
		}
		out->t[k] = from->t[at];
		for (int c = 0; c < TSDB_COL_N; c++)
			if (kind_used(is_rollup, c))
				out->c[c][k] = from->c[c][at];
		k++;
	}
	out->n = k;
	return TS_OK;
}

/*
 * The next series in label order: its labels (borrowed, valid until the next call) and
 * merged rows (borrowed). Returns 1, 0 at the end, or a negative code.
 */
static int merger_next(merger *m, const ts_label **labels, size_t *n_labels, rows **out,
		       ts_err *err)
{
	int rc;
	for (size_t i = 0; i < m->n; i++)
		if (m->c[i].is_used && (rc = cur_advance(&m->c[i], err)))
			return rc;
	src_cur *min = NULL;
	for (size_t i = 0; i < m->n; i++) {
		src_cur *c = &m->c[i];
		if (c->labels &&
		    (!min || ts_labels_cmp(c->labels, c->n_labels, min->labels, min->n_labels) < 0))
			min = c;
	}
	if (!min)
		return 0;
	m->acc.n = 0;
	bool has = false;
	/* In source order (= block-set order): the first source's value wins a tie. */
	for (size_t i = 0; i < m->n; i++) {
		src_cur *c = &m->c[i];
		if (!c->labels || ts_labels_cmp(c->labels, c->n_labels, min->labels, min->n_labels))
			continue;
		c->is_used = true;
		if (!has) {
			if ((rc = read_rows(m, c, &m->acc, err)))
				return rc;
			has = true;
			continue;
		}
		if ((rc = read_rows(m, c, &m->tmp, err)) ||
		    (rc = rows_merge(&m->acc, &m->tmp, &m->out, m->is_rollup, err)))
			return rc;
		rows t = m->acc;
		m->acc = m->out;
		m->out = t;
	}
	*labels = min->labels;
	*n_labels = min->n_labels;
	*out = &m->acc;
	return 1;
}

static int cmp_set_order(const void *a, const void *b)
{
	const tsdb_block *x = *(tsdb_block *const *)a, *y = *(tsdb_block *const *)b;
	if (x->meta.range_mint != y->meta.range_mint)
		return x->meta.range_mint < y->meta.range_mint ? -1 : 1;
	return memcmp(x->meta.ulid, y->meta.ulid, sizeof(x->meta.ulid));
}

/* Sources of the merged block: the blocks themselves, then their listed sources. */
static int collect_sources(tsdb_block **src, size_t n, uint8_t (**out)[16], size_t *n_out,
			   ts_err *err)
{
	size_t total = n;
	for (size_t i = 0; i < n; i++)
		total += src[i]->meta.n_sources;
	uint8_t(*v)[16] = ts_malloc(total * sizeof(*v));
	if (!v)
		return ts_err_set(err, TS_ENOMEM, "out of memory listing compaction sources");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		memcpy(v[k++], src[i]->meta.ulid, 16);
	for (size_t i = 0; i < n && k < TSDB_MAX_SOURCES; i++)
		for (uint32_t j = 0; j < src[i]->meta.n_sources && k < TSDB_MAX_SOURCES; j++) {
			bool is_dup = false;
			for (size_t q = 0; q < k && !is_dup; q++)
				is_dup = memcmp(v[q], src[i]->meta.sources[j], 16) == 0;
			if (!is_dup)
				memcpy(v[k++], src[i]->meta.sources[j], 16);
		}
	*out = v;
	*n_out = k < TSDB_MAX_SOURCES ? k : TSDB_MAX_SOURCES;
	return TS_OK;
}

/*
 * Drop the rows of r that tombstones delete (tombstones.c): raw samples inside a
 * deleted interval; rollup rows whose bucket (t - res, t] lies inside one, or with
 * is_partial also those whose bucket only meets one (their other samples are lost:
 * tsdb_clean_tombstones asks for it only where no source tier remains to rebuild from).
 */
static void drop_deleted(const tsdb_tombset *ts, const ts_label *labels, size_t n_labels,
			 bool is_rollup, bool is_partial, int64_t res, rows *r)
{
	size_t first, nt = tsdb_tombs_find(ts, ts_series_hash(labels, n_labels), &first);
	if (nt == 0)
		return;
	size_t w = 0;
	for (size_t i = 0; i < r->n; i++) {
		int64_t lo = is_rollup ? r->t[i] - res + 1 : r->t[i];
		if (is_rollup && !is_partial ? tsdb_tombs_within(ts, first, nt, lo, r->t[i])
					     : tsdb_tombs_hit(ts, first, nt, lo, r->t[i]))
			continue;
		r->t[w] = r->t[i];
		for (int k = 0; k < TSDB_COL_N; k++)
			if (kind_used(is_rollup, k))
				r->c[k][w] = r->c[k][i];
		w++;
	}
	r->n = w;
}

/*
 * One pass of the merge: scan (pass 1) or add (pass 2) every merged series, without
 * what the tombstones ts (NULL allowed; the same set for both passes) delete.
 */
static int merge_pass(tsdb_bw *w, tsdb_block **src, size_t n, bool is_rollup, bool is_add,
		      const tsdb_tombset *ts, bool is_partial, ts_err *err)
{
	int64_t res = tsdb_tier_resolution_ms(src[0]->meta.tier);
	merger m;
	int rc = merger_init(&m, src, n, is_rollup, err);
	while (rc == TS_OK) {
		const ts_label *labels = NULL;
		size_t n_labels = 0;
		rows *r = NULL;
		int more = merger_next(&m, &labels, &n_labels, &r, err);
		if (more <= 0) {
			rc = more;
			break;
		}
		if (ts)
			drop_deleted(ts, labels, n_labels, is_rollup, is_partial, res, r);
		if (!r->n)
			continue;
		if (!is_add)
			rc = tsdb_bw_scan(w, r->t, r->n, err);
		else if (!is_rollup)
			rc = tsdb_bw_add(w, labels, n_labels, r->t, r->c[TSDB_COL_RAW], r->n, err);
		else
			rc = tsdb_bw_add_rollup(w, labels, n_labels, r->t,
						(const double *const *)r->c, r->n, err);
	}
	merger_free(&m);
	return rc;
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

/*
 * 1m/1h merges: the merged block's BUILT section is the union of the sources' (their
 * sample counts add up, their source blocks are listed once; past TSDB_MAX_SOURCES the
 * list stays empty, which only makes the freshness check count). A source without one
 * (an older block) leaves the merge without one too.
 */
static int merge_built(tsdb_bw *w, tsdb_block **src, size_t n, ts_err *err)
{
	size_t total = 0;
	uint64_t n_samples = 0;
	for (size_t i = 0; i < n; i++) {
		if (!src[i]->meta.has_built)
			return TS_OK;
		total += src[i]->meta.n_built;
		n_samples += src[i]->meta.n_built_samples;
	}
	uint8_t(*v)[16] = total ? ts_malloc(total * sizeof(*v)) : NULL;
	if (total && !v)
		return ts_err_set(err, TS_ENOMEM, "out of memory listing built-from blocks");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < src[i]->meta.n_built; j++) {
			bool is_dup = false;
			for (size_t q = 0; q < k && !is_dup; q++)
				is_dup = memcmp(v[q], src[i]->meta.built[j], 16) == 0;
			if (!is_dup)
				memcpy(v[k++], src[i]->meta.built[j], 16);
		}
	int rc = tsdb_bw_set_built(w, n_samples, (const uint8_t(*)[16])v,
				   k <= TSDB_MAX_SOURCES ? k : 0, err);
	ts_free(v);
	return rc;
}

/*
 * Merge src[0..n) (the caller holds a reference on each and no block set) into one
 * block, swap it in, wait for older queriers, delete the sources' directories.
 */
static int merge_blocks(tsdb_db *db, tsdb_block **src, size_t n, bool is_partial, ts_err *err)
{
	if (n == 0 || !db->dir)
		return ts_err_set(err, TS_EINVAL, "nothing to compact");
	qsort(src, n, sizeof(*src), cmp_set_order);
	uint8_t tier = src[0]->meta.tier;
	uint64_t res = src[0]->meta.resolution_ms;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	uint32_t n_off = 0;
	for (size_t i = 0; i < n; i++) {
		const tsdb_block_meta *m = &src[i]->meta;
		if (m->tier != tier || m->resolution_ms != res)
			return ts_err_set(err, TS_EINVAL,
					  "cannot merge block %s (tier %u) with %s (tier %u)",
					  m->name, m->tier, src[0]->meta.name, tier);
		lo = m->range_mint < lo ? m->range_mint : lo;
		hi = m->range_maxt > hi ? m->range_maxt : hi;
		n_off = m->n_offsets > n_off ? m->n_offsets : n_off;
	}
	bool is_rollup = tier != TSDB_TIER_RAW;
	uint64_t *off = ts_calloc(n_off ? n_off : 1, sizeof(*off));
	uint8_t(*ulids)[16] = NULL;
	size_t n_ulids = 0;
	char *bdir = NULL, *path = NULL;
	tsdb_bw *w = NULL;
	tsdb_block *nb = NULL;
	tsdb_tombset *ts = tsdb_tombs_acquire(db); /* deleted samples are not copied */
	int rc;
	if (!off) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory starting a compaction");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		for (uint32_t p = 0; p < src[i]->meta.n_offsets; p++)
			off[p] =
			    src[i]->meta.offsets[p] > off[p] ? src[i]->meta.offsets[p] : off[p];
	if ((rc = collect_sources(src, n, &ulids, &n_ulids, err)) ||
	    (rc = blocks_dir(db, &bdir, err)) || (rc = tsdb_bw_new(bdir, lo, hi, &w, err)) ||
	    (rc = tsdb_bw_set_origin(w, tier, res, (const uint8_t(*)[16])ulids, n_ulids, err)) ||
	    (is_rollup && (rc = merge_built(w, src, n, err))) ||
	    (rc = merge_pass(w, src, n, is_rollup, false, ts, is_partial, err)) ||
	    (rc = merge_pass(w, src, n, is_rollup, true, ts, is_partial, err)))
		goto fail;
	if (tsdb_bw_n_series(w) && ((rc = tsdb_bw_finish(w, off, n_off, &path, err)) ||
				    (rc = tsdb_block_open(path, &nb, err))))
		goto fail;
	/* Swap: the merged block (if any series) replaces the sources. */
	pthread_mutex_lock(&db->cut_lock);
	tsdb_blockset *old = NULL;
	rc = tsdb_blocks_replace(db, src, n, nb ? &nb : NULL, nb ? 1 : 0, &old, err);
	if (rc == TS_OK) {
		tsdb_blockset *cur = tsdb_blocks_acquire(db); /* same samples: tiers stay fresh */
		tsdb_tier_carry_fresh(old, cur);
		tsdb_blockset_release(cur);
		tsdb_blockset_wait_release(old); /* no querier reads the sources any more */
	}
	pthread_mutex_unlock(&db->cut_lock);
	if (rc)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		ts_err e = {0};
		if (src[i]->dir && tsdb_block_dir_delete(src[i]->dir, &e) != TS_OK)
			ts_log_warn("tsdb: compaction could not delete source block (the next "
				    "open drops it): %s",
				    e.msg);
	}
	ts_log_debug("tsdb: compacted %zu blocks into %s [%lld, %lld]", n,
		     nb ? nb->meta.name : "nothing", (long long)lo, (long long)hi);
	tsdb_block_release(nb);
	tsdb_bw_free(w);
	tsdb_tombset_release(ts);
	ts_free(off);
	ts_free(ulids);
	ts_free(bdir);
	ts_free(path);
	return TS_OK;
fail:
	if (nb) {
		tsdb_block_release(nb);
		nb = NULL;
	}
	if (path) { /* written but not published: its sources are still live */
		ts_err e = {0};
		if (tsdb_block_dir_delete(path, &e) != TS_OK)
			ts_log_warn("tsdb: %s", e.msg);
	}
	tsdb_bw_free(w);
	tsdb_tombset_release(ts);
	ts_free(off);
	ts_free(ulids);
	ts_free(bdir);
	ts_free(path);
	return rc;
}

int tsdb_compact_blocks(tsdb_db *db, tsdb_block **src, size_t n, ts_err *err)
{
	return tsdb_compact_blocks_ex(db, src, n, false, err);
}

int tsdb_compact_blocks_ex(tsdb_db *db, tsdb_block **src, size_t n, bool is_partial, ts_err *err)
{
	tsdb_block **v = ts_malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting a compaction");
	for (size_t i = 0; i < n; i++) {
		v[i] = src[i];
		tsdb_block_acquire(v[i]);
	}
	int rc = merge_blocks(db, v, n, is_partial, err);
	atomic_fetch_add_explicit(rc ? &db->compaction_errors : &db->compactions, 1,
				  memory_order_relaxed);
	for (size_t i = 0; i < n; i++)
		tsdb_block_release(v[i]);
	ts_free(v);
	return rc;
}

/* -------------------------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------------------- */

int64_t tsdb_compact_max_ms(const tsdb_db *db, int tier)
{
	int64_t ret = tier == TSDB_TIER_1H   ? db->opt.retention_1h_ms
		      : tier == TSDB_TIER_1M ? db->opt.retention_1m_ms
					     : db->opt.retention_raw_ms;
	int64_t cap = db->opt.max_block_duration_ms;
	cap = ret / 10 < cap ? ret / 10 : cap;
	return cap > db->opt.block_duration_ms ? cap : db->opt.block_duration_ms;
}

/* Level spans D, 3D, 6D, 12D, 24D, ... up to max; returns how many. */
static size_t levels(int64_t d, int64_t max, int64_t *out)
{
	size_t n = 0;
	int64_t r = d;
	while (n < MAX_LEVELS && r <= max) {
		out[n++] = r;
		int64_t mul = n == 1 ? 3 : 2;
		if (r > INT64_MAX / mul)
			break;
		r *= mul;
	}
	return n;
}

static uint64_t span_of(const tsdb_block *b)
{
	return (uint64_t)b->meta.range_maxt - (uint64_t)b->meta.range_mint + 1;
}

/* Window [lo, hi] of span r holding t; false if it does not fit in int64. */
static bool window_of(int64_t t, int64_t r, int64_t *lo, int64_t *hi)
{
	int64_t k = tsdb_floor_div(t, r);
	if (__builtin_mul_overflow(k, r, lo) || __builtin_add_overflow(*lo, r - 1, hi))
		return false;
	return true;
}

/*
 * The next group to merge among the tier's blocks v[0..n) (set order): the oldest
 * overlapping group, else the lowest level's oldest eligible window. Sets *a, *b to
 * the group's index range [a, b); false if there is none.
 */
static bool plan_tier(const tsdb_db *db, tsdb_block **v, size_t n, int tier, size_t *a, size_t *b)
{
	for (size_t i = 0; i < n;) {
		int64_t gmax = v[i]->meta.range_maxt;
		size_t j = i + 1;
		while (j < n && v[j]->meta.range_mint <= gmax) {
			gmax = v[j]->meta.range_maxt > gmax ? v[j]->meta.range_maxt : gmax;
			j++;
		}
		if (j - i >= 2) {
			*a = i;
			*b = j;
			return true;
		}
		i = j;
	}
	if (n < 2)
		return false;
	int64_t lv[MAX_LEVELS];
	size_t n_lv = levels(db->opt.block_duration_ms, tsdb_compact_max_ms(db, tier), lv);
	int64_t newest_mint = INT64_MIN;
	for (size_t i = 0; i < n; i++)
		newest_mint =
		    v[i]->meta.range_mint > newest_mint ? v[i]->meta.range_mint : newest_mint;
	for (size_t l = 1; l < n_lv; l++) {
		int64_t r = lv[l];
		for (size_t i = 0; i < n;) {
			int64_t lo, hi;
			if (span_of(v[i]) >= (uint64_t)r ||
			    !window_of(v[i]->meta.range_mint, r, &lo, &hi) ||
			    v[i]->meta.range_maxt > hi) {
				i++;
				continue;
			}
			uint64_t covered = span_of(v[i]);
			size_t j = i + 1;
			while (j < n && v[j]->meta.range_maxt <= hi &&
			       span_of(v[j]) < (uint64_t)r) {
				covered += span_of(v[j]);
				j++;
			}
			if (j - i >= 2 && (covered == (uint64_t)r || hi < newest_mint)) {
				*a = i;
				*b = j;
				return true;
			}
			i = j;
		}
	}
	return false;
}

/* Pick a group from the current set; *out gets referenced blocks (owned array). */
static int plan(tsdb_db *db, tsdb_block ***out, size_t *n_out, ts_err *err)
{
	*n_out = 0;
	*out = NULL;
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	tsdb_block **v = ts_malloc((bs->n ? bs->n : 1) * sizeof(*v));
	if (!v) {
		tsdb_blockset_release(bs);
		return ts_err_set(err, TS_ENOMEM, "out of memory planning a compaction");
	}
	for (int tier = TSDB_TIER_RAW; tier < TSDB_TIER_N && !*n_out; tier++) {
		size_t n = 0, a, b;
		for (size_t i = 0; i < bs->n; i++)
			if (bs->b[i]->meta.tier == tier && !atomic_load(&bs->b[i]->is_bad))
				v[n++] = bs->b[i];
		if (!plan_tier(db, v, n, tier, &a, &b))
			continue;
		memmove(v, v + a, (b - a) * sizeof(*v));
		for (size_t i = 0; i < b - a; i++)
			tsdb_block_acquire(v[i]);
		*n_out = b - a;
	}
	tsdb_blockset_release(bs);
	if (*n_out)
		*out = v;
	else
		ts_free(v);
	return TS_OK;
}

int tsdb_compact_run(tsdb_db *db, int max_merges, int *n_done, ts_err *err)
{
	int done = 0, rc = TS_OK;
	while (db->dir && done < max_merges) {
		tsdb_block **g = NULL;
		size_t n = 0;
		if ((rc = plan(db, &g, &n, err)) || n == 0)
			break;
		rc = merge_blocks(db, g, n, false, err);
		atomic_fetch_add_explicit(rc ? &db->compaction_errors : &db->compactions, 1,
					  memory_order_relaxed);
		for (size_t i = 0; i < n; i++)
			tsdb_block_release(g[i]);
		ts_free(g);
		if (rc)
			break;
		done++;
	}
	if (n_done)
		*n_done = done;
	return rc;
}
