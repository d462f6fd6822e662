/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tombstones.c: series deletion (Prometheus' delete_series / clean_tombstones).
 *
 * A tombstone says "the samples of series <hash> in [mint, maxt] are deleted". The
 * store keeps every tombstone in one immutable, reference-counted set (tsdb_tombset,
 * sorted by series hash then mint, intervals of one series disjoint and not adjacent)
 * swapped under db->tomb_lock, the way block sets are (RCU-like): a querier acquires
 * the set current when it opens and filters with it (querier.c), so a deletion applies
 * to every querier opened after tsdb_delete_series returns, in the head, in raw blocks
 * and in the 1m/1h tiers. Rollup rows cannot be split, so a tier hides every row whose
 * bucket (t - R, t] meets a deleted interval, and tsdb_querier_covers reports a tier as
 * not covering a range a tombstone meets (the planner then reads raw, which is exact).
 *
 * Deletion (tsdb_delete_series) selects the matching series in every tier over the
 * range, clamps the range's end to the newest sample the store holds (as Prometheus
 * clamps to the head's and the series' range, so samples written after the deletion
 * stay visible), writes the new set to <dir>/tombstones (section file, magic "STTS",
 * tmp + fsync + rename + directory fsync; docs/formats/tombstones.md) and only then
 * publishes it, and finally marks every deleted metric name in the late-write tracker
 * (late.c) from the interval's start so the range-read cache trims what it cached.
 *
 * Physical removal: compaction drops tombstoned samples from the blocks it writes
 * (compact.c), downsampling reads through a filtered querier, and
 * tsdb_clean_tombstones flushes the head into blocks (so the log never replays deleted
 * samples into the head), rewrites every block a tombstone meets through
 * tsdb_compact_blocks (one source: a filtered copy), then removes the tombstones it
 * applied. Writers (delete, clean) are serialized by db->tomb_write_lock, which is held
 * across the file write; readers never take it.
 *
 * Granularity: a series is identified by the 64-bit hash of its labels
 * (ts_series_hash), not by its labels, so a hash collision would delete from both
 * series; at 2^-64 per pair this is accepted (the file stays small). Not done: the
 * tombstones file is not copied into snapshots (tsdb_snapshot); a snapshot taken
 * between a deletion and clean_tombstones shows the deleted samples.
 */
#include "tsdb/tsdb_int.h"

#include "tsdb/block.h"
#include "tsdb/sfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOMB_MAGIC   0x53545453u /* "STTS" */
#define TOMB_SEC     1u          /* the one section: count + entries */
#define TOMB_ENTRY   24          /* u64 hash, i64 mint, i64 maxt */
#define TOMB_MAX     (1u << 24)  /* tombstones kept before deletions are refused */
#define CLEAN_PASSES 16          /* rewrite passes before clean gives up on races */

/* ------------------------------------------------------------------------------------
 * Sets
 * ---------------------------------------------------------------------------------- */

static tsdb_tombset *set_alloc(size_t n)
{
	tsdb_tombset *ts = ts_malloc(sizeof(*ts) + (n ? n : 1) * sizeof(tsdb_tomb));
	if (!ts)
		return NULL;
	atomic_init(&ts->refs, 1);
	ts->n = n;
	return ts;
}

tsdb_tombset *tsdb_tombs_acquire(tsdb_db *db)
{
	pthread_mutex_lock(&db->tomb_lock);
	tsdb_tombset *ts = db->tombs;
	if (ts)
		atomic_fetch_add_explicit(&ts->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&db->tomb_lock);
	return ts;
}

void tsdb_tombset_release(tsdb_tombset *ts)
{
	if (ts && atomic_fetch_sub_explicit(&ts->refs, 1, memory_order_acq_rel) == 1)
		ts_free(ts);
}

/* Publish ts (taken; NULL or empty = no tombstones) as the current set. */
static void set_publish(tsdb_db *db, tsdb_tombset *ts)
{
	if (ts && ts->n == 0) {
		tsdb_tombset_release(ts);
		ts = NULL;
	}
	pthread_mutex_lock(&db->tomb_lock);
	tsdb_tombset *old = db->tombs;
	db->tombs = ts;
	pthread_mutex_unlock(&db->tomb_lock);
	tsdb_tombset_release(old);
}

static int cmp_tomb(const void *a, const void *b)
{
	const tsdb_tomb *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->mint < y->mint ? -1 : x->mint > y->mint;
}

/* Sort v[0..n) and merge overlapping or adjacent intervals of one series; new n. */
static size_t normalize(tsdb_tomb *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_tomb);
	size_t w = 0;
	for (size_t i = 1; i < n; i++) {
		tsdb_tomb *last = &v[w];
		if (v[i].hash == last->hash &&
		    (last->maxt == INT64_MAX || v[i].mint <= last->maxt + 1)) {
			if (v[i].maxt > last->maxt)
				last->maxt = v[i].maxt;
			continue;
		}
		v[++w] = v[i];
	}
	return w + 1;
}

size_t tsdb_tombs_find(const tsdb_tombset *ts, uint64_t hash, size_t *first)
{
	if (!ts || ts->n == 0)
		return 0;
	size_t lo = 0, hi = ts->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ts->v[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < ts->n && ts->v[end].hash == hash)
		end++;
	*first = lo;
	return end - lo;
}

bool tsdb_tombs_hit(const tsdb_tombset *ts, size_t first, size_t n, int64_t lo, int64_t hi)
{
	for (size_t i = first; i < first + n; i++) {
		if (ts->v[i].mint > hi)
			return false; /* sorted by mint */
		if (ts->v[i].maxt >= lo)
			return true;
	}
	return false;
}

bool tsdb_tombs_within(const tsdb_tombset *ts, size_t first, size_t n, int64_t lo, int64_t hi)
{
	for (size_t i = first; i < first + n; i++)
		if (ts->v[i].mint <= lo && ts->v[i].maxt >= hi)
			return true;
	return false;
}

bool tsdb_tombs_any_in(const tsdb_tombset *ts, int64_t lo, int64_t hi)
{
	for (size_t i = 0; ts && i < ts->n; i++)
		if (ts->v[i].mint <= hi && ts->v[i].maxt >= lo)
			return true;
	return false;
}

size_t tsdb_tombs_filter(const tsdb_tombset *ts, uint64_t hash, int64_t *t, double *v, size_t n)
{
	size_t first, nt = tsdb_tombs_find(ts, hash, &first);
	if (nt == 0)
		return n;
	size_t w = 0, k = first;
	for (size_t i = 0; i < n; i++) {
		/* t is sorted: advance past intervals that end before t[i]. */
		while (k < first + nt && ts->v[k].maxt < t[i])
			k++;
		if (k < first + nt && ts->v[k].mint <= t[i])
			continue;
		t[w] = t[i];
		v[w] = v[i];
		w++;
	}
	return w;
}

/* ------------------------------------------------------------------------------------
 * File
 * ---------------------------------------------------------------------------------- */

static void put64(uint8_t *p, uint64_t x)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(x >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

static int tomb_path_in(const char *dir, const char *suffix, char **out, ts_err *err)
{
	size_t n = strlen(dir) + 32;
	*out = ts_malloc(n);
	if (!*out)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	snprintf(*out, n, "%s/tombstones%s", dir, suffix);
	return TS_OK;
}

static int tomb_path(const tsdb_db *db, const char *suffix, char **out, ts_err *err)
{
	return tomb_path_in(db->dir, suffix, out, err);
}

/* Write ts (NULL = none) to <dir>/tombstones atomically. */
static int save_in(const char *dir, const tsdb_tombset *ts, ts_err *err)
{
	size_t n = ts ? ts->n : 0;
	size_t len = 8 + n * TOMB_ENTRY;
	uint8_t *buf = ts_malloc(len);
	char *tmp = NULL, *path = NULL;
	tsdb_sfile_w w = {.fd = -1};
	int rc = TS_OK;
	if (!buf) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory writing tombstones");
		goto done;
	}
	put64(buf, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + 8 + i * TOMB_ENTRY;
		put64(p, ts->v[i].hash);
		put64(p + 8, (uint64_t)ts->v[i].mint);
		put64(p + 16, (uint64_t)ts->v[i].maxt);
	}
	if ((rc = tomb_path_in(dir, ".tmp", &tmp, err)) || (rc = tomb_path_in(dir, "", &path, err)))
		goto done;
	if ((rc = tsdb_sfile_create(&w, tmp, TOMB_MAGIC, err)) ||
	    (rc = tsdb_sfile_section(&w, TOMB_SEC, buf, len, false, err)) ||
	    (rc = tsdb_sfile_finish(&w, err))) {
		tsdb_sfile_abort(&w);
		goto done;
	}
	if (rename(tmp, path) != 0) {
		rc = ts_err_set(err, TS_EIO, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0 || fsync(dfd) != 0)
		rc = ts_err_set(err, TS_EIO, "fsync %s: %s", dir, strerror(errno));
	if (dfd >= 0)
		close(dfd);
done:
	ts_free(buf);
	ts_free(tmp);
	ts_free(path);
	return rc;
}

static int save(tsdb_db *db, const tsdb_tombset *ts, ts_err *err)
{
	return save_in(db->dir, ts, err);
}

int tsdb_tombs_save_copy(tsdb_db *db, const char *dir, ts_err *err)
{
	tsdb_tombset *ts = tsdb_tombs_acquire(db);
	int rc = ts ? save_in(dir, ts, err) : TS_OK;
	tsdb_tombset_release(ts);
	return rc;
}

int tsdb_tombs_decode(const uint8_t *p, size_t len, tsdb_tombset **out, ts_err *err)
{
	if (len < 8)
		return ts_err_set(err, TS_ECORRUPT, "tombstones: section of %zu bytes", len);
	uint64_t n = get64(p);
	if (n > TOMB_MAX || len != 8 + n * TOMB_ENTRY)
		return ts_err_set(err, TS_ECORRUPT,
				  "tombstones: %llu entries do not fit a %zu-byte section",
				  (unsigned long long)n, len);
	tsdb_tombset *ts = set_alloc((size_t)n);
	if (!ts)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading tombstones");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = p + 8 + i * TOMB_ENTRY;
		tsdb_tomb *t = &ts->v[i];
		t->hash = get64(e);
		t->mint = (int64_t)get64(e + 8);
		t->maxt = (int64_t)get64(e + 16);
		const tsdb_tomb *prev = i > 0 ? &ts->v[i - 1] : NULL;
		/* prev->mint < t->mint when the hashes are equal, so t->mint - 1 is defined */
		if (t->mint > t->maxt || (prev && cmp_tomb(prev, t) >= 0) ||
		    (prev && prev->hash == t->hash && prev->maxt >= t->mint - 1)) {
			tsdb_tombset_release(ts);
			return ts_err_set(err, TS_ECORRUPT,
					  "tombstones: entry %zu out of order, inverted or "
					  "overlapping the previous interval of its series",
					  i);
		}
	}
	*out = ts;
	return TS_OK;
}

int tsdb_tombs_load(tsdb_db *db, ts_err *err)
{
	char *path = NULL, *tmp = NULL;
	int rc;
	if ((rc = tomb_path(db, "", &path, err)) || (rc = tomb_path(db, ".tmp", &tmp, err)))
		goto done;
	unlink(tmp); /* a write that crashed before its rename */
	if (access(path, F_OK) != 0)
		goto done; /* no tombstones yet */
	/* A corrupt file fails the open: ignoring it would bring deleted samples back. */
	tsdb_sfile f;
	ts_err e = {0};
	if ((rc = tsdb_sfile_open(&f, path, TOMB_MAGIC, &e)) == TS_OK) {
		const tsdb_sfile_sec *sec = tsdb_sfile_get(&f, TOMB_SEC);
		tsdb_tombset *ts = NULL;
		if (!sec)
			rc = ts_err_set(&e, TS_ECORRUPT, "no tombstone section");
		else
			rc = tsdb_tombs_decode(sec->data, sec->len, &ts, &e);
		tsdb_sfile_close(&f);
		if (rc == TS_OK)
			set_publish(db, ts);
	}
	if (rc)
		rc = ts_err_set(err, rc,
				"%s: %s (move the file away to open the store without its "
				"deletions)",
				path, e.msg);
done:
	ts_free(path);
	ts_free(tmp);
	return rc;
}

void tsdb_tombs_free(tsdb_db *db)
{
	tsdb_tombset_release(db->tombs);
	db->tombs = NULL;
}

/* ------------------------------------------------------------------------------------
 * Deletion
 * ---------------------------------------------------------------------------------- */

typedef struct tvec {
	tsdb_tomb *v;
	size_t n, cap;
} tvec;

static int tvec_push(tvec *tv, tsdb_tomb t, ts_err *err)
{
	if (tv->n == tv->cap) {
		size_t nc = tv->cap ? tv->cap * 2 : 64;
		if (nc > TOMB_MAX)
			return ts_err_set(err, TS_ELIMIT,
					  "more than %u tombstones; run clean_tombstones first",
					  TOMB_MAX);
		tsdb_tomb *v = ts_realloc(tv->v, nc * sizeof(*v));
		if (!v)
			return ts_err_set(err, TS_ENOMEM, "out of memory deleting series");
		tv->v = v;
		tv->cap = nc;
	}
	tv->v[tv->n++] = t;
	return TS_OK;
}

/* Tombstones for every series of `tier` matching ms in [mint, maxt] into tv; metric
 * name hashes (for the cache) into names. */
static int collect_tier(tsdb_db *db, int tier, const ts_matcher *ms, size_t n_ms, int64_t mint,
			int64_t maxt, tvec *tv, tvec *names, ts_err *err)
{
	tsdb_querier *q = NULL;
	tsdb_series **ss = NULL;
	size_t n = 0;
	int rc;
	/* a rollup row ending up to R - 1 ms after maxt still meets the range */
	int64_t res = tsdb_tier_resolution_ms(tier);
	int64_t hi = res && maxt > INT64_MAX - res ? INT64_MAX : maxt + (res ? res - 1 : 0);
	if ((rc = tsdb_querier_open_tier(db, tier, mint, hi, &q, err)) ||
	    (rc = tsdb_select(q, ms, n_ms, 0, &ss, &n, err)))
		goto done;
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(ss[i], &nl);
		rc = tvec_push(tv, (tsdb_tomb){ts_series_hash(l, nl), mint, maxt}, err);
		uint64_t nh = TSDB_LATE_ALL;
		for (size_t k = 0; k < nl; k++)
			if (strcmp(l[k].name, TS_METRIC_NAME) == 0)
				nh = tsdb_late_name_hash(l[k].value);
		if (rc == TS_OK)
			rc = tvec_push(names, (tsdb_tomb){nh, mint, maxt}, err);
	}
done:
	ts_free(ss);
	tsdb_querier_close(q);
	return rc;
}

int tsdb_delete_series(tsdb_db *db, const ts_matcher *ms, size_t n_ms, int64_t mint_ms,
		       int64_t maxt_ms, size_t *n_series, ts_err *err)
{
	if (n_ms == 0)
		return ts_err_set(err, TS_EINVAL, "delete needs at least one matcher");
	if (mint_ms > maxt_ms)
		return ts_err_set(err, TS_EINVAL, "delete range start %lld after end %lld",
				  (long long)mint_ms, (long long)maxt_ms);
	tvec tv = {0}, names = {0};
	tsdb_tombset *cur = NULL, *ns = NULL;
	int rc = TS_OK;
	pthread_mutex_lock(&db->tomb_write_lock);
	/* Samples written after the deletion stay visible: end at the newest one now. */
	int64_t newest = tsdb_retention_ref_ms(db, INT64_MAX);
	int64_t maxt = maxt_ms < newest ? maxt_ms : newest;
	size_t n_new = 0;
	if (newest != INT64_MIN && mint_ms <= maxt) {
		for (int tier = 0; tier < TSDB_TIER_N && rc == TS_OK; tier++)
			rc = collect_tier(db, tier, ms, n_ms, mint_ms, maxt, &tv, &names, err);
		if (rc)
			goto done;
		n_new = normalize(tv.v, tv.n);
	}
	if (n_series) {
		size_t distinct = 0; /* series, not intervals (one per series here) */
		for (size_t i = 0; i < n_new; i++)
			distinct += i == 0 || tv.v[i].hash != tv.v[i - 1].hash;
		*n_series = distinct;
	}
	if (n_new == 0)
		goto done;
	cur = tsdb_tombs_acquire(db);
	size_t n_cur = cur ? cur->n : 0;
	if (n_cur + n_new > TOMB_MAX) {
		rc = ts_err_set(err, TS_ELIMIT,
				"more than %u tombstones; run clean_tombstones first", TOMB_MAX);
		goto done;
	}
	ns = set_alloc(n_cur + n_new);
	if (!ns) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory deleting series");
		goto done;
	}
	if (n_cur)
		memcpy(ns->v, cur->v, n_cur * sizeof(tsdb_tomb));
	memcpy(ns->v + n_cur, tv.v, n_new * sizeof(tsdb_tomb));
	ns->n = normalize(ns->v, n_cur + n_new);
	if (db->dir && (rc = save(db, ns, err)))
		goto done;
	set_publish(db, ns);
	ns = NULL;
	/* Cached query results computed from the deleted samples: trim from mint. */
	for (size_t i = 0; i < names.n; i++)
		tsdb_late_note_name(db, names.v[i].hash, mint_ms);
	ts_log_info("tsdb: deleted series: %zu tombstones added over [%lld, %lld]", n_new,
		    (long long)mint_ms, (long long)maxt);
done:
	pthread_mutex_unlock(&db->tomb_write_lock);
	tsdb_tombset_release(cur);
	tsdb_tombset_release(ns);
	ts_free(tv.v);
	ts_free(names.v);
	return rc;
}

size_t tsdb_tombstones_count(tsdb_db *db)
{
	tsdb_tombset *ts = tsdb_tombs_acquire(db);
	size_t n = ts ? ts->n : 0;
	tsdb_tombset_release(ts);
	return n;
}

/* ------------------------------------------------------------------------------------
 * Cleaning
 * ---------------------------------------------------------------------------------- */

/* Does a tombstone of ts meet block b (rollup rows widened to their buckets)? */
static bool block_hit(const tsdb_tombset *ts, const tsdb_block *b)
{
	int64_t res = tsdb_tier_resolution_ms(b->meta.tier);
	int64_t lo = res > 0 && b->meta.range_mint < INT64_MIN + res
			 ? INT64_MIN
			 : b->meta.range_mint - (res > 0 ? res - 1 : 0);
	return tsdb_tombs_any_in(ts, lo, b->meta.range_maxt);
}

/* Remove block b from the set (downsampling builds its units again). */
static int drop_block(tsdb_db *db, tsdb_block *b, ts_err *err)
{
	pthread_mutex_lock(&db->cut_lock);
	tsdb_blockset *old = NULL;
	int rc = tsdb_blocks_replace(db, &b, 1, NULL, 0, &old, err);
	if (rc == TS_OK)
		tsdb_blockset_wait_release(old);
	pthread_mutex_unlock(&db->cut_lock);
	ts_err e = {0};
	if (rc == TS_OK && b->dir && tsdb_block_dir_delete(b->dir, &e) != TS_OK)
		ts_log_warn(
		    "tsdb: could not delete a dropped %s block (the next open drops it): %s",
		    tsdb_tier_name(b->meta.tier), e.msg);
	return rc;
}

/*
 * Rewrite every block of the current set that a tombstone of ts meets. Raw blocks and
 * rollup blocks with no source tier left are rewritten as filtered copies (rollup rows
 * a tombstone meets go whole). A rollup block whose source tier still covers its range
 * is dropped instead: downsampling builds its units again from the cleaned source, so
 * rows only partly deleted are recomputed exactly, and until then the planner reads
 * the tier below. Decisions use the set as it is at the start of the pass.
 */
static int rewrite_pass(tsdb_db *db, const tsdb_tombset *ts, size_t *n_rewritten, bool *is_raced,
			ts_err *err)
{
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	tsdb_block **hit = ts_malloc((bs->n ? bs->n : 1) * sizeof(*hit));
	bool *is_drop = ts_malloc((bs->n ? bs->n : 1) * sizeof(*is_drop));
	size_t n = 0;
	if (!hit || !is_drop) {
		tsdb_blockset_release(bs);
		ts_free(hit);
		ts_free(is_drop);
		return ts_err_set(err, TS_ENOMEM, "out of memory cleaning tombstones");
	}
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block_meta *m = &bs->b[i]->meta;
		if (!block_hit(ts, bs->b[i]))
			continue;
		is_drop[n] = m->tier != TSDB_TIER_RAW &&
			     tsdb_blockset_covers(bs, m->tier - 1, m->range_mint, m->range_maxt);
		hit[n] = bs->b[i];
		tsdb_block_acquire(hit[n++]);
	}
	tsdb_blockset_release(bs); /* publishing waits for readers of old sets */
	int rc = TS_OK;
	*is_raced = false;
	for (size_t i = 0; i < n; i++) {
		if (rc == TS_OK) {
			ts_err e = {0};
			int r = is_drop[i] ? drop_block(db, hit[i], &e)
					   : tsdb_compact_blocks_ex(db, &hit[i], 1, true, &e);
			if (r == TS_ENOTFOUND)
				*is_raced = true; /* compacted meanwhile: look again */
			else if (r) {
				rc = r;
				if (err)
					*err = e;
			} else
				(*n_rewritten)++;
		}
		tsdb_block_release(hit[i]);
	}
	ts_free(hit);
	ts_free(is_drop);
	return rc;
}

int tsdb_clean_tombstones(tsdb_db *db, size_t *n_rewritten, ts_err *err)
{
	size_t n_rw = 0;
	int rc = TS_OK;
	pthread_mutex_lock(&db->tomb_write_lock);
	tsdb_tombset *ts = tsdb_tombs_acquire(db);
	if (!ts)
		goto done;
	if (!db->dir) {
		/* Memory only: the head is the store; tombstones stay as filters. */
		goto done;
	}
	/* The head goes into blocks first, with its offsets persisted, so neither the head
	 * nor a replay of the log can bring deleted samples back once the tombstones go. */
	if ((rc = tsdb_flush(db, err)))
		goto done;
	bool is_raced = true;
	for (int pass = 0; is_raced && pass < CLEAN_PASSES && rc == TS_OK; pass++)
		rc = rewrite_pass(db, ts, &n_rw, &is_raced, err);
	if (rc == TS_OK && is_raced)
		rc = ts_err_set(err, TS_EBUSY,
				"clean_tombstones: blocks kept changing under %d rewrite passes",
				CLEAN_PASSES);
	if (rc)
		goto done;
	/* Every block is clean now. Keep only the tombstones that meet samples appended to
	 * the head after the flush (no deletion ran meanwhile: tomb_write_lock). */
	int64_t hmin = atomic_load(&db->min_t), hmax = atomic_load(&db->max_t);
	tsdb_tombset *keep = set_alloc(ts->n);
	if (!keep) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory cleaning tombstones");
		goto done;
	}
	keep->n = 0;
	for (size_t i = 0; i < ts->n; i++)
		if (hmin <= hmax && ts->v[i].mint <= hmax && ts->v[i].maxt >= hmin)
			keep->v[keep->n++] = ts->v[i];
	if ((rc = save(db, keep, err))) {
		tsdb_tombset_release(keep);
		goto done;
	}
	ts_log_info("tsdb: clean_tombstones rewrote %zu blocks, %zu of %zu tombstones kept", n_rw,
		    keep->n, ts->n);
	set_publish(db, keep);
done:
	pthread_mutex_unlock(&db->tomb_write_lock);
	tsdb_tombset_release(ts);
	if (n_rewritten)
		*n_rewritten = n_rw;
	return rc;
}
