/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chunk.c: bounded Gorilla chunks: header, append, iterate, seek (see chunk.h).
 *
 * Layout: an 18-byte little-endian header {u16 n_samples, i64 first_t_ms, i64
 * last_t_ms} followed by the Gorilla stream (gorilla.c, docs/formats/gorilla.md). The
 * header's first_t_ms is sample 0's timestamp, which the stream does not repeat.
 *
 * Invariants:
 * - A chunk holds 0..TSDB_CHUNK_MAX_SAMPLES samples with strictly increasing
 *   timestamps, all in [first_t_ms, first_t_ms + max_span_ms).
 * - Every failed append leaves header, stream and state byte-identical: all checks run
 *   before the first store, and the Gorilla encoder writes nothing when it fails.
 * - first_t_ms is stored once, by the first append, before anything is published;
 *   later appends store n_samples and last_t_ms, which snapshot readers never read.
 *   Snapshot readers decode exactly the published stream bits (gorilla.h).
 * - Iterators check the header against the bytes (sample count, minimum and maximum
 *   stream length, first <= last), then every read against the end of the buffer; a
 *   complete chunk must end with a sample at last_t_ms followed only by zero padding.
 *
 * Does not: allocate, lock, log, or know about series, heads or block files.
 */
#include "tsdb/chunk.h"

#include <string.h>

_Static_assert(TSDB_CHUNK_MAX_SAMPLES <= UINT16_MAX, "n_samples is a u16");
_Static_assert(TSDB_CHUNK_MAX_BYTES == 2213, "worst-case chunk size changed");

enum { OFF_N = 0, OFF_FIRST_T = 2, OFF_LAST_T = 10 };

static inline int64_t get_i64le(const uint8_t *p)
{
	uint64_t u = ts_get_u64le(p);
	int64_t r;
	memcpy(&r, &u, sizeof(r));
	return r;
}

/* Header stores run on every append: one memcpy each on little-endian hosts. */
static inline void put_u16le(uint8_t *p, uint16_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, sizeof(v));
#else
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
#endif
}

static inline void put_i64le(uint8_t *p, int64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, sizeof(v));
#else
	ts_put_u64le(p, (uint64_t)v);
#endif
}

/* Stream bits of n samples at least (1-bit dod and value) / at most. */
static size_t min_stream_bits(uint32_t n)
{
	return n ? TSDB_GORILLA_FIRST_SAMPLE_BITS + (size_t)(n - 1) * 2 : 0;
}

static size_t max_stream_bits(uint32_t n)
{
	return n ? TSDB_GORILLA_FIRST_SAMPLE_BITS + (size_t)(n - 1) * TSDB_GORILLA_MAX_SAMPLE_BITS
		 : 0;
}

/* -------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------- */

static int check_params(size_t cap_bytes, int64_t max_span_ms, ts_err *err)
{
	if (cap_bytes < TSDB_CHUNK_HEADER_BYTES + TSDB_GORILLA_FIRST_SAMPLE_BITS / 8)
		return ts_err_set(err, TS_EINVAL, "chunk: buffer of %zu bytes is too small",
				  cap_bytes);
	if (max_span_ms <= 0)
		return ts_err_set(err, TS_EINVAL, "chunk: max span %lld ms is not positive",
				  (long long)max_span_ms);
	return TS_OK;
}

int tsdb_chunk_init(tsdb_chunk *c, uint8_t *buf, size_t cap_bytes, int64_t max_span_ms, ts_err *err)
{
	int rc = check_params(cap_bytes, max_span_ms, err);
	if (rc)
		return rc;
	c->buf = buf;
	c->cap_bytes = cap_bytes;
	c->max_span_ms = max_span_ms;
	c->first_t_ms = 0;
	tsdb_gorilla_enc_init(&c->enc);
	memset(buf, 0, TSDB_CHUNK_HEADER_BYTES);
	return TS_OK;
}

int tsdb_chunk_append(tsdb_chunk *c, int64_t t_ms, double v, ts_err *err)
{
	uint32_t n = c->enc.n_samples;
	if (n > 0) {
		if (t_ms <= c->enc.prev_t_ms) {
			if (t_ms == c->enc.prev_t_ms)
				return ts_err_set(err, TS_EINVAL, "chunk: duplicate timestamp %lld",
						  (long long)t_ms);
			return ts_err_set(err, TS_EOUTOFORDER,
					  "chunk: timestamp %lld is before the last one %lld",
					  (long long)t_ms, (long long)c->enc.prev_t_ms);
		}
		if (n >= TSDB_CHUNK_MAX_SAMPLES)
			return ts_err_set(err, TS_EFULL, "chunk: %u samples", n);
		/* t_ms > first_t_ms, so the unsigned difference is exact. */
		uint64_t span = (uint64_t)t_ms - (uint64_t)c->first_t_ms;
		if (c->max_span_ms != TSDB_CHUNK_SPAN_UNLIMITED && span >= (uint64_t)c->max_span_ms)
			return ts_err_set(
			    err, TS_EFULL,
			    "chunk: timestamp %lld is %llu ms after the first, max %lld",
			    (long long)t_ms, (unsigned long long)span, (long long)c->max_span_ms);
	}
	int rc = tsdb_gorilla_enc_append(&c->enc, c->buf + TSDB_CHUNK_HEADER_BYTES,
					 c->cap_bytes - TSDB_CHUNK_HEADER_BYTES, t_ms, v, err);
	if (rc)
		return rc;
	if (n == 0) {
		c->first_t_ms = t_ms;
		put_i64le(c->buf + OFF_FIRST_T, t_ms);
	}
	put_u16le(c->buf + OFF_N, (uint16_t)(n + 1));
	put_i64le(c->buf + OFF_LAST_T, t_ms);
	return TS_OK;
}

const uint8_t *tsdb_chunk_bytes(const tsdb_chunk *c)
{
	return c->buf;
}

size_t tsdb_chunk_len(const tsdb_chunk *c)
{
	return TSDB_CHUNK_HEADER_BYTES + tsdb_gorilla_enc_len(&c->enc);
}

uint32_t tsdb_chunk_n_samples(const tsdb_chunk *c)
{
	return c->enc.n_samples;
}

uint64_t tsdb_chunk_published(const tsdb_chunk *c)
{
	return (uint64_t)c->enc.n_samples << 32 | (uint64_t)c->enc.n_bits;
}

int64_t tsdb_chunk_first_t(const tsdb_chunk *c)
{
	return c->first_t_ms;
}

int64_t tsdb_chunk_last_t(const tsdb_chunk *c)
{
	return c->enc.prev_t_ms;
}

int tsdb_chunk_move(tsdb_chunk *c, uint8_t *buf, size_t cap_bytes, ts_err *err)
{
	size_t len = tsdb_chunk_len(c);
	if (cap_bytes < len)
		return ts_err_set(err, TS_EINVAL, "chunk: %zu bytes cannot hold a %zu-byte chunk",
				  cap_bytes, len);
	memcpy(buf, c->buf, len);
	c->buf = buf;
	c->cap_bytes = cap_bytes;
	return TS_OK;
}

int tsdb_chunk_resume(tsdb_chunk *c, uint8_t *buf, size_t len_bytes, size_t cap_bytes,
		      int64_t max_span_ms, ts_err *err)
{
	int rc = check_params(cap_bytes, max_span_ms, err);
	if (rc)
		return rc;
	if (len_bytes > cap_bytes)
		return ts_err_set(err, TS_EINVAL, "chunk: length %zu exceeds capacity %zu",
				  len_bytes, cap_bytes);
	tsdb_chunk_iter it;
	rc = tsdb_chunk_iter_init(&it, buf, len_bytes, err);
	if (rc)
		return rc;
	int n;
	do {
		n = tsdb_chunk_iter_read(&it, NULL, NULL, TSDB_CHUNK_MAX_SAMPLES, err);
	} while (n > 0);
	if (n < 0)
		return n;
	c->buf = buf;
	c->cap_bytes = cap_bytes;
	c->max_span_ms = max_span_ms;
	c->first_t_ms = get_i64le(buf + OFF_FIRST_T);
	tsdb_gorilla_enc_resume(&c->enc, &it.dec);
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------- */

int tsdb_chunk_iter_init(tsdb_chunk_iter *it, const uint8_t *data, size_t len_bytes, ts_err *err)
{
	if (len_bytes < TSDB_CHUNK_HEADER_BYTES)
		return ts_err_set(err, TS_ECORRUPT, "chunk: %zu bytes, header needs %d", len_bytes,
				  TSDB_CHUNK_HEADER_BYTES);
	uint32_t n = ts_get_u16le(data + OFF_N);
	int64_t first = get_i64le(data + OFF_FIRST_T);
	int64_t last = get_i64le(data + OFF_LAST_T);
	size_t stream = len_bytes - TSDB_CHUNK_HEADER_BYTES;
	if (n > TSDB_CHUNK_MAX_SAMPLES)
		return ts_err_set(err, TS_ECORRUPT, "chunk: header claims %u samples, max %d", n,
				  TSDB_CHUNK_MAX_SAMPLES);
	if (stream < (min_stream_bits(n) + 7) / 8 || stream > (max_stream_bits(n) + 7) / 8)
		return ts_err_set(err, TS_ECORRUPT,
				  "chunk: %zu stream bytes cannot hold %u samples", stream, n);
	if (n > 0 && (n == 1 ? first != last : first >= last))
		return ts_err_set(err, TS_ECORRUPT,
				  "chunk: first timestamp %lld vs last %lld for %u samples",
				  (long long)first, (long long)last, n);
	tsdb_gorilla_dec_init(&it->dec, data + TSDB_CHUNK_HEADER_BYTES, stream, first, n);
	it->last_t_ms = last;
	it->pend_t_ms = 0;
	it->pend_v = 0;
	it->has_pending = false;
	it->is_snapshot = false;
	return TS_OK;
}

int tsdb_chunk_iter_init_snapshot(tsdb_chunk_iter *it, const uint8_t *data, uint64_t published,
				  ts_err *err)
{
	uint32_t n = tsdb_chunk_published_n(published);
	uint32_t bits = (uint32_t)published;
	if (n > TSDB_CHUNK_MAX_SAMPLES)
		return ts_err_set(err, TS_EINVAL, "chunk: snapshot of %u samples, max %d", n,
				  TSDB_CHUNK_MAX_SAMPLES);
	if (bits < min_stream_bits(n) || bits > max_stream_bits(n))
		return ts_err_set(err, TS_EINVAL, "chunk: snapshot of %u samples in %u bits", n,
				  bits);
	int64_t first = n ? get_i64le(data + OFF_FIRST_T) : 0;
	tsdb_gorilla_dec_init_bits(&it->dec, data + TSDB_CHUNK_HEADER_BYTES, bits, first, n);
	it->last_t_ms = 0;
	it->pend_t_ms = 0;
	it->pend_v = 0;
	it->has_pending = false;
	it->is_snapshot = true;
	return TS_OK;
}

/*
 * After the last sample: a complete chunk must end at last_t_ms followed only by zero
 * padding; a snapshot must end exactly at the published bit length.
 */
static int check_end(tsdb_chunk_iter *it, ts_err *err)
{
	if (it->dec.n_read < it->dec.n_samples)
		return TS_OK;
	if (it->is_snapshot) {
		if (it->dec.pos == it->dec.end)
			return TS_OK;
		it->dec.is_corrupt = true;
		return ts_err_set(err, TS_ECORRUPT,
				  "chunk: snapshot samples end at bit %zu, published %zu",
				  it->dec.pos, it->dec.end);
	}
	if (it->dec.t_ms != it->last_t_ms) {
		it->dec.is_corrupt = true;
		return ts_err_set(err, TS_ECORRUPT, "chunk: last sample at %lld, header says %lld",
				  (long long)it->dec.t_ms, (long long)it->last_t_ms);
	}
	int rc = tsdb_gorilla_dec_check_end(&it->dec, err);
	if (rc) {
		it->dec.is_corrupt = true;
		return TS_ECORRUPT;
	}
	return TS_OK;
}

int tsdb_chunk_iter_next(tsdb_chunk_iter *it, int64_t *t_ms, double *v, ts_err *err)
{
	if (it->has_pending) {
		it->has_pending = false;
		*t_ms = it->pend_t_ms;
		*v = it->pend_v;
		return 1;
	}
	int64_t t;
	double val;
	int rc = tsdb_gorilla_dec_next(&it->dec, &t, &val, err);
	if (rc <= 0)
		return rc;
	if (it->dec.n_read == it->dec.n_samples && (rc = check_end(it, err)) != TS_OK)
		return rc;
	*t_ms = t;
	*v = val;
	return 1;
}

int tsdb_chunk_iter_read(tsdb_chunk_iter *it, int64_t *t_ms, double *v, size_t max, ts_err *err)
{
	size_t got = 0;
	if (max == 0)
		return 0;
	if (it->has_pending) {
		it->has_pending = false;
		if (t_ms)
			*t_ms++ = it->pend_t_ms;
		if (v)
			*v++ = it->pend_v;
		got = 1;
		max--;
	}
	uint32_t before = it->dec.n_read;
	int rc = tsdb_gorilla_dec_read(&it->dec, t_ms, v, max, err);
	if (rc < 0)
		return rc;
	if (it->dec.n_read != before && it->dec.n_read == it->dec.n_samples &&
	    (rc = check_end(it, err)) != TS_OK)
		return rc;
	return (int)(got + (size_t)(it->dec.n_read - before));
}

int tsdb_chunk_iter_seek(tsdb_chunk_iter *it, int64_t t_ms, ts_err *err)
{
	if (it->has_pending) {
		if (it->pend_t_ms >= t_ms)
			return 1;
		it->has_pending = false;
	}
	for (;;) {
		int64_t t = 0; /* set when rc == 1; initialized for -Wmaybe-uninitialized */
		double v = 0;
		int rc = tsdb_chunk_iter_next(it, &t, &v, err);
		if (rc <= 0)
			return rc;
		if (t >= t_ms) {
			it->pend_t_ms = t;
			it->pend_v = v;
			it->has_pending = true;
			return 1;
		}
	}
}
