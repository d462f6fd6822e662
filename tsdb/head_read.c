/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head_read.c: reading head series: snapshots, decoding, merging, and dropping what a
 * cut persisted.
 *
 * A snapshot (tsdb_hsnap) is taken under series->lock and holds references, never the
 * lock: sealed chunks overlapping the range, the open chunk with its publication word,
 * and a copy of the out-of-order samples in range (at most TSDB_OOO_MAX). Decoding
 * runs afterwards without locks (the open chunk through the snapshot iterator of
 * chunk.h), so a reader blocks the appender only for the pointer copies.
 *
 * The cut takes [INT64_MIN, maxt] snapshots and, after the block is published, hands
 * them back to tsdb_head_series_gc(), which drops exactly what was written: the sealed
 * prefix if no rechunk happened since (gen), the open chunk if it is still the same
 * buffer with the same publication word, the out-of-order prefix if the buffer did not
 * change (ooo_gen). Anything that changed stays in the head; its samples are written
 * again by a later cut, which drops those already in a block (cut.c).
 */
#include "tsdb/tsdb_int.h"

#include <string.h>

/* -------------------------------------------------------------------------------------
 * Sample arrays
 * ---------------------------------------------------------------------------------- */

int tsdb_samples_reserve(tsdb_samples *s, size_t extra, ts_err *err)
{
	if (extra <= s->cap - s->n)
		return TS_OK;
	if (extra > TSDB_MAX_SAMPLES_IO - s->n)
		return ts_err_set(err, TS_ELIMIT, "more than %u samples in one read",
				  TSDB_MAX_SAMPLES_IO);
	size_t nc = s->cap ? s->cap * 2 : 64;
	if (nc < s->n + extra)
		nc = s->n + extra;
	int64_t *t = ts_realloc(s->t, nc * sizeof(*t));
	if (!t)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading samples");
	s->t = t;
	double *v = ts_realloc(s->v, nc * sizeof(*v));
	if (!v)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading samples");
	s->v = v;
	s->cap = nc;
	return TS_OK;
}

void tsdb_samples_free(tsdb_samples *s)
{
	ts_free(s->t);
	ts_free(s->v);
	memset(s, 0, sizeof(*s));
}

static inline uint64_t dbits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

int tsdb_samples_merge(const tsdb_samples *a, const tsdb_samples *b, tsdb_samples *out,
		       size_t *n_dup, size_t *n_conflict, ts_err *err)
{
	int rc = tsdb_samples_reserve(out, a->n + b->n, err);
	if (rc)
		return rc;
	size_t i = 0, j = 0, k = out->n, dup = 0, conflict = 0;
	while (i < a->n && j < b->n) {
		if (a->t[i] < b->t[j]) {
			out->t[k] = a->t[i];
			out->v[k++] = a->v[i++];
		} else if (b->t[j] < a->t[i]) {
			out->t[k] = b->t[j];
			out->v[k++] = b->v[j++];
		} else {
			dup++;
			conflict += dbits(a->v[i]) != dbits(b->v[j]);
			out->t[k] = a->t[i];
			out->v[k++] = a->v[i++];
			j++;
		}
	}
	for (; i < a->n; i++, k++) {
		out->t[k] = a->t[i];
		out->v[k] = a->v[i];
	}
	for (; j < b->n; j++, k++) {
		out->t[k] = b->t[j];
		out->v[k] = b->v[j];
	}
	out->n = k;
	if (n_dup)
		*n_dup = dup;
	if (n_conflict)
		*n_conflict = conflict;
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Snapshots
 * ---------------------------------------------------------------------------------- */

int tsdb_head_snap_take(tsdb_hseries *s, int64_t mint, int64_t maxt, tsdb_hsnap *snap, ts_err *err)
{
	memset(snap, 0, sizeof(*snap));
	int rc = TS_OK;
	pthread_mutex_lock(&s->lock);
	/* Sealed chunks are sorted and disjoint: [lo, hi) overlap the range. */
	size_t lo = 0, hi = s->n_sealed;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->sealed[mid]->max_t < mint)
			lo = mid + 1;
		else
			hi = mid;
	}
	hi = lo;
	while (hi < s->n_sealed && s->sealed[hi]->min_t <= maxt)
		hi++;
	if (hi > lo) {
		snap->chunks = ts_malloc((hi - lo) * sizeof(*snap->chunks));
		if (!snap->chunks) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory reading a series");
			goto out;
		}
		for (size_t i = lo; i < hi; i++) {
			tsdb_hchunk_acquire(s->sealed[i]);
			snap->chunks[snap->n_chunks++] = s->sealed[i];
		}
	}
	uint32_t n_open = s->open ? tsdb_chunk_n_samples(&s->w) : 0;
	if (n_open && s->open->min_t <= maxt && s->w.enc.prev_t_ms >= mint) {
		tsdb_hchunk_acquire(s->open);
		snap->open = s->open;
		snap->published = atomic_load_explicit(&s->published, memory_order_acquire);
	}
	size_t a = 0, b;
	while (a < s->n_ooo && s->ooo_t[a] < mint)
		a++;
	b = a;
	while (b < s->n_ooo && s->ooo_t[b] <= maxt)
		b++;
	if (b > a) {
		snap->ooo_t = ts_malloc((b - a) * sizeof(*snap->ooo_t));
		snap->ooo_v = ts_malloc((b - a) * sizeof(*snap->ooo_v));
		if (!snap->ooo_t || !snap->ooo_v) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory reading a series");
			goto out;
		}
		memcpy(snap->ooo_t, s->ooo_t + a, (b - a) * sizeof(*snap->ooo_t));
		memcpy(snap->ooo_v, s->ooo_v + a, (b - a) * sizeof(*snap->ooo_v));
		snap->n_ooo = (uint32_t)(b - a);
	}
	snap->gen = s->gen;
	snap->ooo_gen = s->ooo_gen;
	while (snap->n_sealed_drop < s->n_sealed && s->sealed[snap->n_sealed_drop]->max_t <= maxt)
		snap->n_sealed_drop++;
	snap->open_drop = snap->open != NULL && s->w.enc.prev_t_ms <= maxt;
	snap->n_ooo_drop = (uint32_t)b;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void tsdb_head_snap_release(tsdb_db *db, tsdb_hsnap *snap)
{
	for (uint32_t i = 0; i < snap->n_chunks; i++)
		tsdb_hchunk_release(db, snap->chunks[i]);
	tsdb_hchunk_release(db, snap->open);
	ts_free(snap->chunks);
	ts_free(snap->ooo_t);
	ts_free(snap->ooo_v);
	memset(snap, 0, sizeof(*snap));
}

/* Append the samples of it that lie in [mint, maxt] to out. */
static int read_iter(tsdb_chunk_iter *it, int64_t mint, int64_t maxt, tsdb_samples *out,
		     ts_err *err)
{
	int rc = tsdb_samples_reserve(out, TSDB_CHUNK_MAX_SAMPLES, err);
	if (rc)
		return rc;
	int n =
	    tsdb_chunk_iter_read(it, out->t + out->n, out->v + out->n, TSDB_CHUNK_MAX_SAMPLES, err);
	if (n < 0)
		return n;
	size_t w = out->n;
	for (size_t i = out->n; i < out->n + (size_t)n; i++) {
		if (out->t[i] < mint || out->t[i] > maxt)
			continue;
		out->t[w] = out->t[i];
		out->v[w++] = out->v[i];
	}
	out->n = w;
	return TS_OK;
}

static int read_chunks(const tsdb_hsnap *snap, int64_t mint, int64_t maxt, tsdb_samples *out,
		       ts_err *err)
{
	tsdb_chunk_iter it;
	int rc;
	for (uint32_t i = 0; i < snap->n_chunks; i++) {
		const tsdb_hchunk *c = snap->chunks[i];
		if (c->max_t < mint || c->min_t > maxt)
			continue;
		if ((rc = tsdb_chunk_iter_init(&it, c->data, c->len, err)) ||
		    (rc = read_iter(&it, mint, maxt, out, err)))
			return rc;
	}
	if (snap->open) {
		if ((rc = tsdb_chunk_iter_init_snapshot(&it, snap->open->data, snap->published,
							err)) ||
		    (rc = read_iter(&it, mint, maxt, out, err)))
			return rc;
	}
	return TS_OK;
}

int tsdb_head_snap_read(const tsdb_hsnap *snap, int64_t mint, int64_t maxt, tsdb_samples *out,
			ts_err *err)
{
	if (snap->n_ooo == 0)
		return read_chunks(snap, mint, maxt, out, err);
	tsdb_samples c = {0};
	tsdb_samples o = {snap->ooo_t, snap->ooo_v, snap->n_ooo, snap->n_ooo};
	size_t a = 0, b = o.n;
	while (a < o.n && o.t[a] < mint)
		a++;
	while (b > a && o.t[b - 1] > maxt)
		b--;
	tsdb_samples ow = {o.t + a, o.v + a, b - a, b - a};
	int rc = read_chunks(snap, mint, maxt, &c, err);
	if (rc == TS_OK)
		rc = tsdb_samples_merge(&c, &ow, out, NULL, NULL, err);
	tsdb_samples_free(&c);
	return rc;
}

int tsdb_head_series_read(tsdb_db *db, tsdb_hseries *s, int64_t mint, int64_t maxt,
			  tsdb_samples *out, ts_err *err)
{
	tsdb_hsnap snap;
	int rc = tsdb_head_snap_take(s, mint, maxt, &snap, err);
	if (rc == TS_OK)
		rc = tsdb_head_snap_read(&snap, mint, maxt, out, err);
	tsdb_head_snap_release(db, &snap);
	return rc;
}

bool tsdb_head_series_range(tsdb_hseries *s, int64_t *mint, int64_t *maxt)
{
	bool has = false;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	pthread_mutex_lock(&s->lock);
	uint32_t n_open = s->open ? tsdb_chunk_n_samples(&s->w) : 0;
	if (s->n_sealed) {
		lo = s->sealed[0]->min_t;
		hi = s->sealed[s->n_sealed - 1]->max_t;
		has = true;
	}
	if (n_open) {
		lo = has ? lo : s->open->min_t;
		hi = s->w.enc.prev_t_ms;
		has = true;
	}
	if (s->n_ooo) {
		lo = s->ooo_t[0] < lo ? s->ooo_t[0] : lo;
		hi = s->ooo_t[s->n_ooo - 1] > hi ? s->ooo_t[s->n_ooo - 1] : hi;
		has = true;
	}
	pthread_mutex_unlock(&s->lock);
	*mint = lo;
	*maxt = hi;
	return has;
}

bool tsdb_head_series_gc(tsdb_db *db, tsdb_hseries *s, const tsdb_hsnap *snap)
{
	uint64_t dropped = 0;
	pthread_mutex_lock(&s->lock);
	if (snap->gen == s->gen) {
		uint32_t k = snap->n_sealed_drop;
		if (TS_NEVER(k > s->n_sealed))
			k = 0;
		for (uint32_t i = 0; i < k; i++) {
			dropped += s->sealed[i]->n;
			tsdb_hchunk_release(db, s->sealed[i]);
		}
		if (k) {
			memmove(s->sealed, s->sealed + k, (s->n_sealed - k) * sizeof(*s->sealed));
			s->n_sealed -= k;
		}
		if (snap->open_drop && s->open == snap->open &&
		    atomic_load_explicit(&s->published, memory_order_relaxed) == snap->published) {
			dropped += tsdb_chunk_published_n(snap->published);
			tsdb_hchunk_release(db, s->open);
			s->open = NULL;
			atomic_store_explicit(&s->published, 0, memory_order_release);
		}
	}
	if (snap->ooo_gen == s->ooo_gen && snap->n_ooo_drop) {
		uint32_t k = snap->n_ooo_drop;
		if (TS_NEVER(k > s->n_ooo))
			k = 0;
		memmove(s->ooo_t, s->ooo_t + k, (s->n_ooo - k) * sizeof(*s->ooo_t));
		memmove(s->ooo_v, s->ooo_v + k, (s->n_ooo - k) * sizeof(*s->ooo_v));
		s->n_ooo -= k;
		s->ooo_gen++;
		dropped += k;
		atomic_fetch_sub_explicit(&tsdb_stripe_of(db, s->hash)->n_ooo, (int64_t)k,
					  memory_order_relaxed);
	}
	bool empty = s->n_sealed == 0 && !s->open && s->n_ooo == 0;
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_sub_explicit(&tsdb_stripe_of(db, s->hash)->n_samples, (int64_t)dropped,
				  memory_order_relaxed);
	return empty;
}
