/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head_append.c: appending to head series: Gorilla chunks, the out-of-order buffer,
 * duplicates.
 *
 * In order (t newer than anything the series accepted): the sample goes into the open
 * chunk (chunk.c). The open chunk is sealed at TSDB_CHUNK_MAX_SAMPLES samples or when
 * t crosses a block_duration-aligned boundary (so cuts never split a chunk, as
 * Prometheus aligns head chunks to its chunk range); sealing copies the bytes into an
 * exact-size buffer. The open buffer starts at 64 bytes and doubles up to
 * TSDB_CHUNK_MAX_BYTES on TS_EFULL (tsdb_chunk_move); later open chunks start at the
 * size of the series' previous chunk, which keeps the typical series at a few hundred
 * bytes of chunk memory.
 *
 * Older or equal t: if a sample exists at t (in a chunk or in the out-of-order buffer)
 * the append is an exact duplicate (same bits: dropped, counted) or a conflict
 * (rejected). Otherwise t must be within out_of_order_window_ms of the series' newest
 * sample, and goes into the sorted out-of-order buffer.
 *
 * Interleaved writers (several connections posting consecutive time slices) make a
 * series receive samples a few scrapes behind its newest all the time. Looking such a
 * sample up in the open chunk means decoding it from its start, and buffering it
 * means a rechunk every TSDB_OOO_MAX of them. So while the buffer is not empty, new
 * in-order samples are buffered too (a sorted append), and a full buffer is settled
 * (settle()): the samples newer than every chunk sample, except the newest
 * TSDB_OOO_TAIL, are encoded in order into the open chunk. A sample that then arrives
 * behind the newest but after the chunks' newest is decided by a binary search of the
 * buffer and lands there without any decode. Only when the buffer is still full of
 * samples older than the chunks' newest are the chunks from the first one it overlaps
 * onwards decoded, merged with it and encoded again (rechunk). A series that never
 * receives an old sample never buffers; readers merge at most TSDB_OOO_MAX loose
 * samples. The sizes (64, tail 40) come from the devops ingest load (4 connections,
 * 5,000-line batches, consumers merging records: about 11 samples of a series a call):
 * samples arrive 5 to 40 scrapes behind, so with the former 32 / 8 half of them decoded
 * the open chunk and one settle in 24 rechunked; with 64 / 40 none rechunks. After
 * TSDB_OOO_CALM fills in a row with no sample arriving behind the newest (has_behind,
 * calm_fills) and no sample older than the chunks' newest buffered, a settle keeps no
 * tail and frees the emptied buffer: a series whose writers stopped interleaving (once
 * a cut's GC took its old samples) goes back to plain in-order appends. Draining costs
 * a rechunk if late samples come back, so it waits for a long calm (8 fills, 192
 * samples; shuffled batches make a few calm fills in a row by chance) and never
 * happens while old samples keep the buffer anyway.
 *
 * Bookkeeping per sample is plain fields under the series lock; the shared counters
 * (the stripe's samples, appended, duplicates, rejected and n_ooo, the head's min_t and
 * max_t) are atomics that several consumer threads write, so a call adds its totals
 * once, after the lock (tally_flush): with ~11 samples a call that is one locked add
 * where there were ~30, and no compare-and-swap unless the head's range moves.
 *
 * tsdb_append_series appends a run of samples of one series with one lookup and one
 * lock. Out-of-order samples of a run that fall into one chunk (open or sealed) share
 * one decode: an open_cursor keeps the chunk iterator where the previous lookup
 * stopped, valid until the chunks change (in-order append, settle or rechunk), so a run
 * of k ascending out-of-order samples decodes each chunk it touches once instead of k
 * times.
 *
 * Every change to what readers may see happens under series->lock, with the open
 * chunk's publication word release-stored after each append (tsdb_int.h). Every
 * failure (TS_ENOMEM) leaves the series as it was.
 */
#include "tsdb/tsdb_int.h"

#include <string.h>

static inline uint64_t dbits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static inline int64_t range_of(const tsdb_db *db, int64_t t)
{
	return tsdb_floor_div(t, db->opt.block_duration_ms);
}

/*
 * The last timestamp of the block range holding `first` (INT64_MAX at the top), so a
 * chunk starting at `first` checks each later sample with one comparison instead of
 * two divisions. Unsigned arithmetic: `first` minus the range start is exact in
 * [0, D), whatever the sign of first.
 */
static int64_t range_last_t(const tsdb_db *db, int64_t first)
{
	uint64_t d = (uint64_t)db->opt.block_duration_ms;
	uint64_t off = (uint64_t)first - (uint64_t)range_of(db, first) * d; /* in [0, d) */
	uint64_t span = d - 1 - off; /* ms from first to the range's last */
	if (first > 0 && span > (uint64_t)(INT64_MAX - first))
		return INT64_MAX;
	return first + (int64_t)span;
}

static void publish(tsdb_hseries *s)
{
	uint64_t w = s->open ? tsdb_chunk_published(&s->w) : 0;
	atomic_store_explicit(&s->published, w, memory_order_release);
}

/* Ensure room for `extra` more sealed chunk pointers. */
static int reserve_sealed(tsdb_db *db, tsdb_hseries *s, size_t extra)
{
	if (s->n_sealed + extra <= s->cap_sealed)
		return TS_OK;
	size_t nc = s->cap_sealed ? s->cap_sealed : 4;
	while (nc < s->n_sealed + extra)
		nc *= 2;
	tsdb_hchunk **v =
	    tsdb_hmem_realloc(db, s->sealed, s->cap_sealed * sizeof(*v), nc * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	s->sealed = v;
	s->cap_sealed = (uint32_t)nc;
	return TS_OK;
}

/* An exact-size sealed copy of chunk bytes. */
static tsdb_hchunk *sealed_copy(tsdb_db *db, const tsdb_chunk *w)
{
	size_t len = tsdb_chunk_len(w);
	tsdb_hchunk *c = tsdb_hchunk_new(db, len);
	if (!c)
		return NULL;
	memcpy(c->data, tsdb_chunk_bytes(w), len);
	c->len = (uint32_t)len;
	c->n = tsdb_chunk_n_samples(w);
	c->min_t = tsdb_chunk_first_t(w);
	c->max_t = tsdb_chunk_last_t(w);
	return c;
}

/* Seal the open chunk (moved to the sealed list) or drop it if empty. */
static int seal(tsdb_db *db, tsdb_hseries *s)
{
	if (!s->open)
		return TS_OK;
	if (tsdb_chunk_n_samples(&s->w) > 0) {
		if (reserve_sealed(db, s, 1) != TS_OK)
			return TS_ENOMEM;
		tsdb_hchunk *c = sealed_copy(db, &s->w);
		if (!c)
			return TS_ENOMEM;
		s->sealed[s->n_sealed++] = c;
	}
	tsdb_hchunk_release(db, s->open);
	s->open = NULL;
	publish(s);
	return TS_OK;
}

/*
 * A new open chunk. Its buffer is sized after the series' last sealed chunk (plus 12%
 * and the encoder's 8 scratch bytes): series keep their shape, so this usually avoids
 * both regrowing and the waste of doubling.
 */
static int start_open(tsdb_db *db, tsdb_hseries *s)
{
	size_t cap = TSDB_HCHUNK_INIT;
	if (s->n_sealed) {
		size_t last = s->sealed[s->n_sealed - 1]->len;
		cap = last + last / 8 + 8;
		cap = cap < TSDB_HCHUNK_INIT ? TSDB_HCHUNK_INIT : cap;
		cap = cap > TSDB_CHUNK_MAX_BYTES ? TSDB_CHUNK_MAX_BYTES : cap;
	}
	tsdb_hchunk *c = tsdb_hchunk_new(db, cap);
	if (!c)
		return TS_ENOMEM;
	if (tsdb_chunk_init(&s->w, c->data, c->cap, TSDB_CHUNK_SPAN_UNLIMITED, NULL) != TS_OK) {
		tsdb_hchunk_release(db, c);
		return TS_ENOMEM;
	}
	s->open = c;
	return TS_OK;
}

/* Move the open chunk to a buffer twice as large (capped at the worst-case size). */
static int grow_open(tsdb_db *db, tsdb_hseries *s)
{
	size_t cap = (size_t)s->open->cap * 2;
	if (cap > TSDB_CHUNK_MAX_BYTES)
		cap = TSDB_CHUNK_MAX_BYTES;
	tsdb_hchunk *c = tsdb_hchunk_new(db, cap);
	if (!c)
		return TS_ENOMEM;
	c->min_t = s->open->min_t;
	c->max_t = s->open->max_t;
	if (tsdb_chunk_move(&s->w, c->data, cap, NULL) != TS_OK) {
		tsdb_hchunk_release(db, c);
		return TS_ENOMEM;
	}
	tsdb_hchunk_release(db, s->open);
	s->open = c;
	return TS_OK;
}

static int append_in_order(tsdb_db *db, tsdb_hseries *s, int64_t t, double v)
{
	/* open->max_t: the last timestamp of the open chunk's block range (tsdb_int.h) */
	if (s->open && tsdb_chunk_n_samples(&s->w) > 0 && t > s->open->max_t &&
	    seal(db, s) != TS_OK)
		return TS_ENOMEM;
	for (;;) {
		if (!s->open && start_open(db, s) != TS_OK)
			return TS_ENOMEM;
		uint32_t n = tsdb_chunk_n_samples(&s->w);
		int rc = tsdb_chunk_append(&s->w, t, v, NULL);
		if (rc == TS_OK) {
			if (n == 0) {
				s->open->min_t = t;
				s->open->max_t = range_last_t(db, t);
			}
			publish(s);
			return TS_OK;
		}
		if (TS_NEVER(rc != TS_EFULL))
			return rc;
		if (n < TSDB_CHUNK_MAX_SAMPLES && s->open->cap < TSDB_CHUNK_MAX_BYTES) {
			if (grow_open(db, s) != TS_OK)
				return TS_ENOMEM;
		} else if (seal(db, s) != TS_OK) {
			return TS_ENOMEM;
		}
	}
}

/* -------------------------------------------------------------------------------------
 * Lookups for duplicates
 * ---------------------------------------------------------------------------------- */

/* Value bits of the sample at t in complete chunk bytes; false if there is none. */
static bool chunk_lookup(const uint8_t *data, size_t len, int64_t t, uint64_t *bits)
{
	tsdb_chunk_iter it;
	int64_t ct;
	double cv;
	if (tsdb_chunk_iter_init(&it, data, len, NULL) != TS_OK ||
	    tsdb_chunk_iter_seek(&it, t, NULL) != 1 ||
	    tsdb_chunk_iter_next(&it, &ct, &cv, NULL) != 1)
		return false;
	if (ct != t)
		return false;
	*bits = dbits(cv);
	return true;
}

/*
 * First buffered sample >= t (n_ooo if none). Branch-free halving (the compiler emits a
 * conditional move): where a sample lands in the buffer is unpredictable, and the
 * mispredicted branches of the textbook loop were most of its cost.
 */
static size_t ooo_lower_bound(const tsdb_hseries *s, int64_t t)
{
	size_t len = s->n_ooo;
	if (len == 0)
		return 0;
	const int64_t *base = s->ooo_t;
	while (len > 1) {
		size_t half = len / 2;
		base = base[half] < t ? base + half : base;
		len -= half;
	}
	return (size_t)(base - s->ooo_t) + (*base < t);
}

/* First sealed chunk with max_t >= t. */
static size_t sealed_lower_bound(const tsdb_hseries *s, int64_t t)
{
	size_t lo = 0, hi = s->n_sealed;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->sealed[mid]->max_t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A lookup position in one chunk (the open one or a sealed one) kept across the samples
 * of one tsdb_append_series run: out-of-order samples of a run usually come in
 * increasing order (a record holds a series' samples of a batch, in time order), so each
 * lookup continues decoding where the previous one stopped instead of from the chunk's
 * start. `data` names the chunk it reads. Valid only while the series' chunks are
 * unchanged: any in-order append, settle or rechunk clears is_valid (a run holds the
 * series lock, so nothing else changes them meanwhile).
 */
typedef struct open_cursor {
	bool is_valid;       /* it reads the chunk at data */
	const uint8_t *data; /* bytes of the chunk being read */
	int64_t last_t;      /* the last timestamp looked up through it */
	tsdb_chunk_iter it;  /* positioned at the first sample >= last_t */
} open_cursor;

/* Value bits of the sample at t in chunk bytes data[0..len), through cur. */
static bool cursor_lookup(const uint8_t *data, size_t len, int64_t t, uint64_t *bits,
			  open_cursor *cur)
{
	if (!cur->is_valid || cur->data != data || t <= cur->last_t) {
		if (tsdb_chunk_iter_init(&cur->it, data, len, NULL) != TS_OK)
			return false;
		cur->is_valid = true;
		cur->data = data;
	}
	cur->last_t = t;
	if (tsdb_chunk_iter_seek(&cur->it, t, NULL) != 1 || cur->it.pend_t_ms != t) {
		if (!cur->it.has_pending)
			cur->is_valid = false; /* at the end or failed: start over next time */
		return false;
	}
	*bits = dbits(cur->it.pend_v);
	return true;
}

/*
 * Is there a sample at t in the chunks? Its value bits go to *bits. cur may be NULL. A
 * t after the chunks' newest sample is answered without decoding anything.
 */
static bool chunks_lookup(const tsdb_hseries *s, int64_t t, uint64_t *bits, open_cursor *cur)
{
	uint32_t n_open = s->open ? tsdb_chunk_n_samples(&s->w) : 0;
	if (n_open && t >= tsdb_chunk_first_t(&s->w)) {
		if (t == s->w.enc.prev_t_ms) {
			*bits = s->w.enc.prev_bits;
			return true;
		}
		if (t > s->w.enc.prev_t_ms)
			return false;
		if (cur)
			return cursor_lookup(tsdb_chunk_bytes(&s->w), tsdb_chunk_len(&s->w), t,
					     bits, cur);
		return chunk_lookup(tsdb_chunk_bytes(&s->w), tsdb_chunk_len(&s->w), t, bits);
	}
	size_t i = sealed_lower_bound(s, t);
	if (i < s->n_sealed && s->sealed[i]->min_t <= t) {
		if (cur)
			return cursor_lookup(s->sealed[i]->data, s->sealed[i]->len, t, bits, cur);
		return chunk_lookup(s->sealed[i]->data, s->sealed[i]->len, t, bits);
	}
	return false;
}

/* -------------------------------------------------------------------------------------
 * Out-of-order buffer and rechunk
 * ---------------------------------------------------------------------------------- */

/* Room for one more buffered sample (the buffer never holds more than TSDB_OOO_MAX). */
static int ooo_reserve(tsdb_db *db, tsdb_hseries *s)
{
	if (s->n_ooo < s->cap_ooo)
		return TS_OK;
	size_t nc = s->cap_ooo ? s->cap_ooo * 2 : 8;
	if (nc > TSDB_OOO_MAX && s->n_ooo < TSDB_OOO_MAX)
		nc = TSDB_OOO_MAX;
	int64_t *nt = tsdb_hmem_alloc(db, nc * sizeof(*nt));
	double *nv = tsdb_hmem_alloc(db, nc * sizeof(*nv));
	if (!nt || !nv) {
		tsdb_hmem_free(db, nt, nc * sizeof(*nt));
		tsdb_hmem_free(db, nv, nc * sizeof(*nv));
		return TS_ENOMEM;
	}
	if (s->n_ooo) {
		memcpy(nt, s->ooo_t, s->n_ooo * sizeof(*nt));
		memcpy(nv, s->ooo_v, s->n_ooo * sizeof(*nv));
	}
	tsdb_hmem_free(db, s->ooo_t, s->cap_ooo * sizeof(*nt));
	tsdb_hmem_free(db, s->ooo_v, s->cap_ooo * sizeof(*nv));
	s->ooo_t = nt;
	s->ooo_v = nv;
	s->cap_ooo = (uint32_t)nc;
	return TS_OK;
}

/*
 * Insert t (not in the buffer) at position i, its sorted place (ooo_lower_bound; n_ooo
 * for a t after every buffered sample). Appending past the last sample keeps every
 * existing position, so only an insertion before it bumps ooo_gen (a cut's GC then keeps
 * the buffer prefix it wrote; head_read.c). The stripe's n_ooo gauge is updated once
 * per append call (append_n).
 */
static int ooo_insert(tsdb_db *db, tsdb_hseries *s, size_t i, int64_t t, double v)
{
	if (ooo_reserve(db, s) != TS_OK)
		return TS_ENOMEM;
	if (i < s->n_ooo) {
		memmove(s->ooo_t + i + 1, s->ooo_t + i, (s->n_ooo - i) * sizeof(*s->ooo_t));
		memmove(s->ooo_v + i + 1, s->ooo_v + i, (s->n_ooo - i) * sizeof(*s->ooo_v));
		s->ooo_gen++;
	}
	s->ooo_t[i] = t;
	s->ooo_v[i] = v;
	s->n_ooo++;
	return TS_OK;
}

/* Decode complete chunk bytes, appending to out. */
static int decode_chunk(const uint8_t *data, size_t len, tsdb_samples *out)
{
	tsdb_chunk_iter it;
	if (tsdb_chunk_iter_init(&it, data, len, NULL) != TS_OK ||
	    tsdb_samples_reserve(out, TSDB_CHUNK_MAX_SAMPLES, NULL) != TS_OK)
		return TS_ENOMEM;
	int n = tsdb_chunk_iter_read(&it, out->t + out->n, out->v + out->n, TSDB_CHUNK_MAX_SAMPLES,
				     NULL);
	if (TS_NEVER(n < 0))
		return TS_ECORRUPT;
	out->n += (size_t)n;
	return TS_OK;
}

/* New chunks for samples (sorted, unique): sealed[] gets all but the last, which is
 * returned as an open chunk (*open, *w). */
static int encode_chunks(tsdb_db *db, const tsdb_samples *in, tsdb_hchunk ***sealed_out,
			 size_t *n_sealed_out, tsdb_hchunk **open_out, tsdb_chunk *w_out)
{
	uint8_t tmp[TSDB_CHUNK_MAX_BYTES];
	tsdb_hchunk **v = ts_malloc((in->n + 1) * sizeof(*v));
	size_t n = 0;
	tsdb_chunk w;
	if (!v)
		return TS_ENOMEM;
	tsdb_chunk_init(&w, tmp, sizeof(tmp), TSDB_CHUNK_SPAN_UNLIMITED, NULL);
	int64_t last_t = in->n ? range_last_t(db, in->t[0]) : 0; /* of the chunk's range */
	for (size_t i = 0; i < in->n; i++) {
		uint32_t cn = tsdb_chunk_n_samples(&w);
		bool cut = cn > 0 && in->t[i] > last_t; /* in is sorted */
		int rc = cut ? TS_EFULL : tsdb_chunk_append(&w, in->t[i], in->v[i], NULL);
		if (rc == TS_OK)
			continue;
		if (TS_NEVER(rc != TS_EFULL) || !(v[n] = sealed_copy(db, &w)))
			goto fail;
		n++;
		tsdb_chunk_init(&w, tmp, sizeof(tmp), TSDB_CHUNK_SPAN_UNLIMITED, NULL);
		if (tsdb_chunk_append(&w, in->t[i], in->v[i], NULL) != TS_OK)
			goto fail;
		last_t = range_last_t(db, in->t[i]);
	}
	size_t len = tsdb_chunk_len(&w), cap = len + TSDB_HCHUNK_INIT;
	if (cap > TSDB_CHUNK_MAX_BYTES)
		cap = TSDB_CHUNK_MAX_BYTES;
	tsdb_hchunk *open = tsdb_hchunk_new(db, cap);
	if (!open)
		goto fail;
	open->min_t = tsdb_chunk_first_t(&w);
	open->max_t = range_last_t(db, open->min_t);
	tsdb_chunk_move(&w, open->data, cap, NULL);
	*sealed_out = v;
	*n_sealed_out = n;
	*open_out = open;
	*w_out = w;
	return TS_OK;
fail:
	for (size_t i = 0; i < n; i++)
		tsdb_hchunk_release(db, v[i]);
	ts_free(v);
	return TS_ENOMEM;
}

/* Merge the out-of-order buffer into the chunks it overlaps. */
static int rechunk(tsdb_db *db, tsdb_hseries *s)
{
	size_t first = sealed_lower_bound(s, s->ooo_t[0]);
	tsdb_samples cur = {0}, merged = {0};
	tsdb_samples ooo = {s->ooo_t, s->ooo_v, s->n_ooo, s->n_ooo};
	tsdb_hchunk **nv = NULL, *nopen = NULL;
	size_t n_new = 0;
	tsdb_chunk nw;
	int rc = TS_ENOMEM;
	for (size_t i = first; i < s->n_sealed; i++)
		if ((rc = decode_chunk(s->sealed[i]->data, s->sealed[i]->len, &cur)) != TS_OK)
			goto out;
	if (s->open && tsdb_chunk_n_samples(&s->w) > 0 &&
	    (rc = decode_chunk(tsdb_chunk_bytes(&s->w), tsdb_chunk_len(&s->w), &cur)) != TS_OK)
		goto out;
	if ((rc = tsdb_samples_merge(&cur, &ooo, &merged, NULL, NULL, NULL)) != TS_OK ||
	    (rc = encode_chunks(db, &merged, &nv, &n_new, &nopen, &nw)) != TS_OK)
		goto out;
	if (reserve_sealed(db, s, first + n_new > s->n_sealed ? first + n_new - s->n_sealed : 0)) {
		for (size_t i = 0; i < n_new; i++)
			tsdb_hchunk_release(db, nv[i]);
		tsdb_hchunk_release(db, nopen);
		rc = TS_ENOMEM;
		goto out;
	}
	/* Commit: nothing below can fail. */
	for (size_t i = first; i < s->n_sealed; i++)
		tsdb_hchunk_release(db, s->sealed[i]);
	if (n_new) /* s->sealed may still be NULL (memcpy from/to NULL is undefined) */
		memcpy(s->sealed + first, nv, n_new * sizeof(*nv));
	s->n_sealed = (uint32_t)(first + n_new);
	tsdb_hchunk_release(db, s->open);
	s->open = nopen;
	s->w = nw;
	publish(s);
	atomic_fetch_add_explicit(&db->rechunks, 1, memory_order_relaxed);
	tsdb_hmem_free(db, s->ooo_t, s->cap_ooo * sizeof(*s->ooo_t));
	tsdb_hmem_free(db, s->ooo_v, s->cap_ooo * sizeof(*s->ooo_v));
	s->ooo_t = NULL;
	s->ooo_v = NULL;
	s->n_ooo = s->cap_ooo = 0;
	s->gen++;
	s->ooo_gen++;
	rc = TS_OK;
out:
	ts_free(nv);
	tsdb_samples_free(&cur);
	tsdb_samples_free(&merged);
	return rc;
}

/* Newest timestamp in the chunks (open, else the last sealed); false if none. */
static bool chunks_max_t(const tsdb_hseries *s, int64_t *t)
{
	if (s->open && tsdb_chunk_n_samples(&s->w) > 0) {
		*t = s->w.enc.prev_t_ms;
		return true;
	}
	if (s->n_sealed) {
		*t = s->sealed[s->n_sealed - 1]->max_t;
		return true;
	}
	return false;
}

/*
 * The buffer is full (TSDB_OOO_MAX samples). Its samples newer than every chunk sample
 * (the tail) are encoded in order into the open chunk, all but the newest
 * TSDB_OOO_TAIL, which stay buffered so that samples arriving a little behind them
 * still find no chunk to decode. Whatever is left older than the chunks' newest is
 * merged by a rechunk once the buffer is still full. Failures (TS_ENOMEM) keep every
 * sample, buffered or encoded: a sample encoded is removed from the buffer first.
 */
static void settle(tsdb_db *db, tsdb_hseries *s)
{
	int64_t max_t;
	size_t p = 0; /* buffered samples at or before the chunks' newest */
	if (chunks_max_t(s, &max_t))
		p = max_t == INT64_MAX ? s->n_ooo : ooo_lower_bound(s, max_t + 1);
	if (s->has_behind)
		s->calm_fills = 0;
	else if (s->calm_fills < TSDB_OOO_CALM)
		s->calm_fills++;
	/* Drain only what can then be freed: with old samples buffered (p) the buffer stays,
	 * and the tail is what keeps the next late sample from decoding a chunk. */
	size_t keep = s->calm_fills >= TSDB_OOO_CALM && p == 0 ? 0 : TSDB_OOO_TAIL;
	size_t n_tail = s->n_ooo - p, d = n_tail > keep ? n_tail - keep : 0;
	size_t k = 0;
	while (k < d && append_in_order(db, s, s->ooo_t[p + k], s->ooo_v[p + k]) == TS_OK)
		k++;
	if (k) {
		memmove(s->ooo_t + p, s->ooo_t + p + k, (s->n_ooo - p - k) * sizeof(*s->ooo_t));
		memmove(s->ooo_v + p, s->ooo_v + p + k, (s->n_ooo - p - k) * sizeof(*s->ooo_v));
		s->n_ooo -= (uint32_t)k;
		s->ooo_gen++;
	}
	s->has_behind = false;
	if (s->n_ooo == 0) { /* back to plain in-order appends: drop the buffer */
		tsdb_hmem_free(db, s->ooo_t, s->cap_ooo * sizeof(*s->ooo_t));
		tsdb_hmem_free(db, s->ooo_v, s->cap_ooo * sizeof(*s->ooo_v));
		s->ooo_t = NULL;
		s->ooo_v = NULL;
		s->cap_ooo = 0;
	}
	/* A failed rechunk keeps the samples buffered; the next full buffer retries. */
	if (s->n_ooo >= TSDB_OOO_MAX && k == d)
		rechunk(db, s);
}

/* -------------------------------------------------------------------------------------
 * Append
 * ---------------------------------------------------------------------------------- */

/*
 * What one append call did to the shared counters, added to them once at its end: the
 * counters are atomics on lines that several consumer threads write, and a locked add
 * per sample cost more than the rest of the bookkeeping.
 */
typedef struct tally {
	uint64_t appended, duplicates, rejected;
	int64_t min_t, max_t; /* of the appended samples */
} tally;

static void tally_flush(tsdb_db *db, const tsdb_hseries *s, const tally *ta, int64_t ooo_delta)
{
	tsdb_stripe *st = tsdb_stripe_of(db, s->hash);
	if (ta->appended) {
		atomic_fetch_add_explicit(&st->n_samples, (int64_t)ta->appended,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&st->appended, ta->appended, memory_order_relaxed);
		/* Load first: the range rarely moves, and a plain load keeps the line shared. */
		int64_t cur = atomic_load_explicit(&db->min_t, memory_order_relaxed);
		while (ta->min_t < cur &&
		       !atomic_compare_exchange_weak(&db->min_t, &cur, ta->min_t))
			;
		cur = atomic_load(&db->max_t);
		while (ta->max_t > cur &&
		       !atomic_compare_exchange_weak(&db->max_t, &cur, ta->max_t))
			;
	}
	if (ta->duplicates)
		atomic_fetch_add_explicit(&st->duplicates, ta->duplicates, memory_order_relaxed);
	if (ta->rejected)
		atomic_fetch_add_explicit(&st->rejected, ta->rejected, memory_order_relaxed);
	if (ooo_delta)
		atomic_fetch_add_explicit(&st->n_ooo, ooo_delta, memory_order_relaxed);
}

/*
 * Append one sample to s (s->lock held); cur (NULL allowed) caches chunk lookups, ta
 * counts the outcome (rejections included).
 */
static int append_locked(tsdb_db *db, tsdb_hseries *s, int64_t t_ms, double v, open_cursor *cur,
			 tally *ta, ts_err *err)
{
	if (s->is_dead)
		return ts_err_set(err, TS_EBUSY, "series was removed; look it up again");
	if (!s->has_newest || t_ms > s->newest_t) {
		/* With samples buffered, the newest go to the buffer too (settle() encodes
		 * them later), so a sample arriving a little behind finds no chunk to decode.
		 * Every buffered sample is <= newest_t: this one goes at the end. */
		if (s->n_ooo) {
			if (ooo_insert(db, s, s->n_ooo, t_ms, v) != TS_OK)
				return ts_err_set(err, TS_ENOMEM,
						  "out of memory buffering a sample");
		} else {
			if (cur)
				cur->is_valid = false;
			if (append_in_order(db, s, t_ms, v) != TS_OK)
				return ts_err_set(err, TS_ENOMEM,
						  "out of memory appending a sample");
		}
		s->newest_t = t_ms;
		s->has_newest = true;
		goto settle;
	}
	/* One binary search of the buffer answers both "is it there" and "where it goes". */
	size_t at = ooo_lower_bound(s, t_ms);
	uint64_t have;
	bool is_found = at < s->n_ooo && s->ooo_t[at] == t_ms;
	if (is_found)
		have = dbits(s->ooo_v[at]);
	else
		is_found = chunks_lookup(s, t_ms, &have, cur);
	if (is_found) {
		if (have == dbits(v)) {
			ta->duplicates++;
			return TS_OK;
		}
		ta->rejected++;
		return ts_err_set(err, TS_EOUTOFORDER,
				  "duplicate sample for timestamp %lld with a different value",
				  (long long)t_ms);
	}
	/* newest >= t_ms, so the unsigned difference is exact even across the INT64 range. */
	uint64_t behind = (uint64_t)s->newest_t - (uint64_t)t_ms;
	if (behind > (uint64_t)db->opt.out_of_order_window_ms) {
		ta->rejected++;
		return ts_err_set(err, TS_EOUTOFORDER,
				  "sample at %lld is %llu ms older than the newest, beyond the "
				  "out-of-order window",
				  (long long)t_ms, (unsigned long long)behind);
	}
	if (ooo_insert(db, s, at, t_ms, v) != TS_OK)
		return ts_err_set(err, TS_ENOMEM, "out of memory buffering an out-of-order sample");
	s->has_behind = true;
settle:
	if (s->n_ooo >= TSDB_OOO_MAX) {
		if (cur)
			cur->is_valid = false;
		settle(db, s);
	}
	if (ta->appended++ == 0) {
		ta->min_t = ta->max_t = t_ms;
	} else {
		ta->min_t = t_ms < ta->min_t ? t_ms : ta->min_t;
		ta->max_t = t_ms > ta->max_t ? t_ms : ta->max_t;
	}
	tsdb_late_note(db, s, t_ms);
	return TS_OK;
}

int tsdb_head_series_append(tsdb_db *db, tsdb_hseries *s, int64_t t_ms, double v, ts_err *err)
{
	tally ta = {0};
	pthread_mutex_lock(&s->lock);
	uint32_t n_ooo = s->n_ooo;
	int rc = append_locked(db, s, t_ms, v, NULL, &ta, err);
	int64_t ooo_delta = (int64_t)s->n_ooo - (int64_t)n_ooo;
	pthread_mutex_unlock(&s->lock);
	tally_flush(db, s, &ta, ooo_delta);
	return rc;
}

int tsdb_append_series(tsdb_db *db, const ts_label *labels, size_t n_labels, const int64_t *t_ms,
		       const double *v, size_t n, size_t *n_done, size_t *n_rejected, ts_err *err)
{
	return tsdb_append_series_hashed(db, ts_series_hash(labels, n_labels), labels, n_labels,
					 t_ms, v, n, n_done, n_rejected, err);
}

/*
 * Append n samples to s under its lock: the loop of tsdb_append_series_hashed and
 * tsdb_series_ref_append. TS_EBUSY (at *n_done) if s was removed from the head. The
 * counters are updated once, after the lock is dropped: the samples are visible to
 * readers a moment before stats and the head range count them (both are approximate
 * for concurrent readers anyway); the caller's own later calls (tsdb_partition_applied
 * reads db->max_t) come after.
 */
static int append_n(tsdb_db *db, tsdb_hseries *s, const int64_t *t_ms, const double *v, size_t n,
		    size_t *n_done, size_t *n_rejected, ts_err *err)
{
	size_t done = *n_done, rejected = *n_rejected;
	int rc = TS_OK;
	open_cursor cur = {0};
	tally ta = {0};
	pthread_mutex_lock(&s->lock);
	uint32_t n_ooo = s->n_ooo;
	for (; done < n; done++) {
		rc = append_locked(db, s, t_ms[done], v[done], &cur, &ta, rejected ? NULL : err);
		if (rc == TS_EOUTOFORDER) {
			rejected++;
			rc = TS_OK;
		} else if (rc) {
			break;
		}
	}
	int64_t ooo_delta = (int64_t)s->n_ooo - (int64_t)n_ooo;
	pthread_mutex_unlock(&s->lock);
	tally_flush(db, s, &ta, ooo_delta);
	*n_done = done;
	*n_rejected = rejected;
	return rc;
}

int tsdb_append_series_hashed(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n_labels,
			      const int64_t *t_ms, const double *v, size_t n, size_t *n_done,
			      size_t *n_rejected, ts_err *err)
{
	*n_done = *n_rejected = 0;
	int rc = TS_OK;
	for (int attempt = 0; *n_done < n; attempt++) {
		tsdb_hseries *s;
		if ((rc = tsdb_head_get_or_create_hashed(db, hash, labels, n_labels, &s, err)))
			break;
		rc = append_n(db, s, t_ms, v, n, n_done, n_rejected, err);
		tsdb_hseries_release(db, s);
		/* TS_EBUSY: GC removed the series meanwhile; the next lookup recreates it. */
		if (rc != TS_EBUSY || attempt > 100)
			break;
	}
	return rc;
}

int tsdb_series_ref_get(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n_labels,
			tsdb_series_ref **out, ts_err *err)
{
	return tsdb_head_get_or_create_hashed(db, hash, labels, n_labels, out, err);
}

int tsdb_series_ref_append(tsdb_db *db, tsdb_series_ref *s, const int64_t *t_ms, const double *v,
			   size_t n, size_t *n_done, size_t *n_rejected, ts_err *err)
{
	*n_done = *n_rejected = 0;
	return append_n(db, s, t_ms, v, n, n_done, n_rejected, err);
}

void tsdb_series_ref_put(tsdb_db *db, tsdb_series_ref *s)
{
	if (s)
		tsdb_hseries_release(db, s);
}

void tsdb_hseries_free_data(tsdb_db *db, tsdb_hseries *s)
{
	for (uint32_t i = 0; i < s->n_sealed; i++)
		tsdb_hchunk_release(db, s->sealed[i]);
	tsdb_hmem_free(db, s->sealed, s->cap_sealed * sizeof(*s->sealed));
	tsdb_hchunk_release(db, s->open);
	tsdb_hmem_free(db, s->ooo_t, s->cap_ooo * sizeof(*s->ooo_t));
	tsdb_hmem_free(db, s->ooo_v, s->cap_ooo * sizeof(*s->ooo_v));
	atomic_fetch_sub_explicit(&tsdb_stripe_of(db, s->hash)->n_ooo, (int64_t)s->n_ooo,
				  memory_order_relaxed);
	s->sealed = NULL;
	s->open = NULL;
	s->ooo_t = NULL;
	s->ooo_v = NULL;
	s->n_sealed = s->cap_sealed = s->n_ooo = s->cap_ooo = 0;
}
