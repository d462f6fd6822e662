/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gorilla.c: the Gorilla bit codec: delta-of-delta timestamps, XOR values (gorilla.h).
 *
 * Layout (full description with examples in docs/formats/gorilla.md). Bits are MSB
 * first; the stream is zero-padded to a whole byte.
 *
 *   sample 0   64 bits   value bits (timestamp kept by the container)
 *   sample i   dod code, then value code
 *
 *   dod code: D = delta_i - delta_{i-1} (mod 2^64, read as two's complement; delta_0 = 0)
 *     prefix   payload  range of D                 total bits
 *     0        -        0                          1
 *     10       4        [-8, 7]                    6
 *     110      6        [-32, 31]                  9
 *     1110     8        [-128, 127]                12
 *     11110    11       [-1024, 1023]              16
 *     111110   20       [-524288, 524287]          26
 *     111111   64       any (escape)               70
 *   The widths were chosen by measurement on the node_exporter capture in shared/data
 *   (1 s scrapes with 0.83-1.23 s intervals, so D is often in the hundreds of ms) and
 *   checked on synthetic 1 s / 10 s / 15 s / 60 s series: 6.83 timestamp bits/sample
 *   there against 14.57 with Prometheus' {14,17,20,64} buckets (docs/formats/gorilla.md
 *   has the table). The 20-bit bucket keeps the first delta of a chunk and missed
 *   scrapes of intervals up to 8 minutes off the 70-bit escape. All arithmetic is mod
 *   2^64, so any two increasing int64 timestamps (INT64_MIN then INT64_MAX) round-trip
 *   through the escape.
 *
 *   value code: x = bits_i XOR bits_{i-1}
 *     0                                   x == 0
 *     10 + m bits                         x fits the current window (leading L, trailing
 *                                         T, m = 64 - L - T); the bits are x >> T
 *     11 + L (5) + m (6, 0 means 64) + m  new window; T = 64 - L - m; L is clamped to 31
 *   The encoder takes the reuse form only when it is not longer than a new window (the
 *   decoder does not care which form it gets); Prometheus always reuses.
 *
 * Invariants:
 * - Appending never changes a bit that was written before: it fills the unused low bits
 *   of the last partial byte (one relaxed atomic store of the whole byte) and stores
 *   whole bytes after it (plus up to 7 zero scratch bytes past the new end). Readers
 *   that decode only what was published therefore see stable bits, and the one byte
 *   both sides touch is accessed atomically (gorilla.h).
 * - The encoder computes the exact bit cost of a sample before it writes anything, so
 *   TS_EFULL and every other error leave the bytes and the state untouched.
 * - The decoder checks every read against the end of the stream and never reads past
 *   it (tsdb_gorilla_dec_init_bits reads the published partial byte once, up front);
 *   decoded timestamps strictly increase.
 *
 * Does not: know about chunk headers, sample limits or time spans (chunk.c); allocate;
 * log; canonicalize NaNs (values move as uint64 bits via memcpy).
 */
#include "tsdb/gorilla.h"

#include <stdatomic.h>
#include <string.h>

/* -------------------------------------------------------------------------------------
 * Bit helpers
 * ---------------------------------------------------------------------------------- */

_Static_assert(sizeof(double) == sizeof(uint64_t), "double must be 64-bit IEEE-754");
/* The partial byte is accessed as an _Atomic uint8_t in place (bw_flush, dec_init_bits). */
_Static_assert(sizeof(_Atomic uint8_t) == 1, "_Atomic uint8_t must be a plain byte");
_Static_assert(ATOMIC_CHAR_LOCK_FREE == 2, "byte atomics must be lock-free");

static inline uint64_t dbl_bits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static inline double bits_dbl(uint64_t b)
{
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/* Two's complement reinterpretation without implementation-defined conversions. */
static inline int64_t u2i(uint64_t x)
{
	int64_t r;
	memcpy(&r, &x, sizeof(r));
	return r;
}

static inline unsigned clz64(uint64_t x) /* x != 0 */
{
	return (unsigned)__builtin_clzll(x);
}

static inline unsigned ctz64(uint64_t x) /* x != 0 */
{
	return (unsigned)__builtin_ctzll(x);
}

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap64(w);
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return w;
#else
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
	       (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	       (uint64_t)p[6] << 8 | (uint64_t)p[7];
#endif
}

/* -------------------------------------------------------------------------------------
 * Timestamp buckets
 * ---------------------------------------------------------------------------------- */

enum { N_DOD_CODES = 7, DOD_ESCAPE = 6 };

/* Code k (0..6): k one bits then a zero bit, except the escape which is six one bits. */
static const uint8_t dod_prefix_len[N_DOD_CODES] = {1, 2, 3, 4, 5, 6, 6};
static const uint8_t dod_prefix_bits[N_DOD_CODES] = {0x0, 0x2, 0x6, 0xE, 0x1E, 0x3E, 0x3F};
static const uint8_t dod_payload_len[N_DOD_CODES] = {0, 4, 6, 8, 11, 20, 64};

/* Code by two's complement width (1..64 bits): the smallest bucket that holds it. */
static const uint8_t dod_code_by_width[] = {
    0, 1, 1, 1, 1,                   /* 1..4 bits: 4-bit payload */
    2, 2,                            /* 5..6 */
    3, 3,                            /* 7..8 */
    4, 4, 4,                         /* 9..11 */
    5, 5, 5, 5, 5, 5, 5, 5, 5,       /* 12..20 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 21..64: escape */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
};
_Static_assert(sizeof(dod_code_by_width) == 65, "one code per width 0..64");

/* The code for dod (mod 2^64, read as two's complement), without branches. */
static inline unsigned dod_code(uint64_t dod)
{
	uint64_t mag = dod ^ (0 - (dod >> 63)); /* dod < 0: ~dod, so -1 -> 0, -8 -> 7 */
	unsigned width = 65 - clz64(mag | 1) - (mag == 0);
	return (dod != 0) * dod_code_by_width[width];
}

/* -------------------------------------------------------------------------------------
 * Encoder
 * ---------------------------------------------------------------------------------- */

/*
 * A bit writer over the caller's bytes. acc holds n pending bits at its top. Bytes are
 * flushed with one 8-byte big-endian store when the buffer has room (the bytes past the
 * pending bits get zeros: scratch space past the stream, which no one reads), one at a
 * time near the end of the buffer. The first byte of an append may be the partial byte
 * a snapshot reader loads, so it is always stored alone, with a relaxed atomic store;
 * every other byte it writes is past everything published.
 */
typedef struct bitw {
	uint8_t *p;     /* byte that receives the next flushed bits */
	uint8_t *first; /* the append's first byte (possibly shared with readers) */
	uint8_t *limit; /* end of the caller's buffer */
	uint64_t acc;   /* pending bits, MSB aligned */
	unsigned n;     /* number of pending bits */
} bitw;

static inline void store_be64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
	memcpy(p, &v, sizeof(v));
#else
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
#endif
}

static inline void bw_begin(bitw *w, uint8_t *buf, size_t cap_bytes, size_t pos)
{
	w->p = buf + (pos >> 3);
	w->first = w->p;
	w->limit = buf + cap_bytes;
	w->n = (unsigned)(pos & 7);
	/* Keep the bits already in the partial byte (only this thread writes it). */
	w->acc = w->n ? (uint64_t)(*w->p & (uint8_t)(0xFF00u >> w->n)) << 56 : 0;
}

/* Store the complete pending bytes; with all, also the last, partial one. */
static inline void bw_flush(bitw *w, bool all)
{
	unsigned n_bytes = all ? (w->n + 7) >> 3 : w->n >> 3;
	if (n_bytes == 0)
		return;
	if (w->p == w->first) {
		atomic_store_explicit((_Atomic uint8_t *)w->p, (uint8_t)(w->acc >> 56),
				      memory_order_relaxed);
		w->p++;
		w->acc <<= 8;
		w->n = w->n >= 8 ? w->n - 8 : 0;
		n_bytes--;
	}
	if (n_bytes == 0)
		return;
	if (w->limit - w->p >= 8) {
		store_be64(w->p, w->acc);
	} else {
		for (unsigned i = 0; i < n_bytes; i++)
			w->p[i] = (uint8_t)(w->acc >> (56 - 8 * i));
	}
	w->p += n_bytes;
	w->acc = (w->acc << (4 * n_bytes)) << (4 * n_bytes); /* n_bytes may be 8 */
	w->n = w->n >= 8 * n_bytes ? w->n - 8 * n_bytes : 0;
}

/* Append the low nb bits of v (1 <= nb <= 57, v < 2^nb; after a flush n <= 7). */
static inline void bw_put(bitw *w, uint64_t v, unsigned nb)
{
	if (w->n + nb > 64)
		bw_flush(w, false);
	w->acc |= v << (64 - w->n - nb);
	w->n += nb;
}

/* Append the low nb bits of v (1 <= nb <= 64). */
static inline void bw_put_long(bitw *w, uint64_t v, unsigned nb)
{
	if (nb > 32) {
		bw_put(w, v >> 32, nb - 32);
		bw_put(w, v & 0xFFFFFFFFu, 32);
	} else {
		bw_put(w, v, nb);
	}
}

static inline void bw_end(bitw *w)
{
	bw_flush(w, true);
}

void tsdb_gorilla_enc_init(tsdb_gorilla_enc *e)
{
	memset(e, 0, sizeof(*e));
}

size_t tsdb_gorilla_enc_len(const tsdb_gorilla_enc *e)
{
	return (e->n_bits + 7) / 8;
}

int tsdb_gorilla_enc_append(tsdb_gorilla_enc *e, uint8_t *buf, size_t cap_bytes, int64_t t_ms,
			    double v, ts_err *err)
{
	uint64_t vb = dbl_bits(v);
	size_t cap_bits = cap_bytes > SIZE_MAX / 8 ? SIZE_MAX : cap_bytes * 8;
	bitw w;

	if (e->n_samples == 0) {
		if (cap_bits < TSDB_GORILLA_FIRST_SAMPLE_BITS)
			return ts_err_set(err, TS_EFULL, "gorilla: %zu bytes cannot hold a sample",
					  cap_bytes);
		bw_begin(&w, buf, cap_bytes, 0);
		bw_put_long(&w, vb, 64);
		bw_end(&w);
		e->prev_t_ms = t_ms;
		e->prev_delta = 0;
		e->prev_bits = vb;
		e->n_bits = TSDB_GORILLA_FIRST_SAMPLE_BITS;
		e->n_samples = 1;
		return TS_OK;
	}
	if (t_ms <= e->prev_t_ms) {
		if (t_ms == e->prev_t_ms)
			return ts_err_set(err, TS_EINVAL, "gorilla: duplicate timestamp %lld",
					  (long long)t_ms);
		return ts_err_set(err, TS_EOUTOFORDER,
				  "gorilla: timestamp %lld is before the last one %lld",
				  (long long)t_ms, (long long)e->prev_t_ms);
	}
	if (e->n_samples == UINT32_MAX)
		return ts_err_set(err, TS_EFULL, "gorilla: stream holds UINT32_MAX samples");

	/* Timestamp: the true delta is in [1, 2^64 - 1], so it is exact as a uint64. */
	uint64_t delta = (uint64_t)t_ms - (uint64_t)e->prev_t_ms;
	uint64_t dod = delta - e->prev_delta;
	unsigned k = dod_code(dod);
	unsigned t_bits = dod_prefix_len[k] + dod_payload_len[k];

	/* Value: pick the shorter of "reuse window" and "new window". */
	uint64_t x = vb ^ e->prev_bits;
	unsigned lead = 0, trail = 0, m = 0, v_bits;
	bool is_reuse = false;
	if (x == 0) {
		v_bits = 1;
	} else {
		lead = clz64(x);
		if (lead > 31)
			lead = 31;
		trail = ctz64(x);
		m = 64 - lead - trail;
		v_bits = 13 + m;
		if (e->has_window && lead >= e->leading && trail >= e->trailing) {
			unsigned m_old = 64u - e->leading - e->trailing;
			if (2 + m_old <= v_bits) {
				is_reuse = true;
				lead = e->leading;
				trail = e->trailing;
				m = m_old;
				v_bits = 2 + m_old;
			}
		}
	}

	if (e->n_bits > cap_bits || cap_bits - e->n_bits < t_bits + v_bits)
		return ts_err_set(err, TS_EFULL,
				  "gorilla: sample needs %u bits, %zu of %zu bytes used",
				  t_bits + v_bits, tsdb_gorilla_enc_len(e), cap_bytes);

	bw_begin(&w, buf, cap_bytes, e->n_bits);
	unsigned v_head = x == 0 ? 0 : is_reuse ? 2 : (3u << 11) | (lead << 6) | (m & 63);
	unsigned v_head_bits = x == 0 ? 1 : is_reuse ? 2 : 13;
	if (t_bits + v_bits <= 57) {
		/* The common case: the whole sample in one put (no escape, short value). */
		uint64_t t_field = ((uint64_t)dod_prefix_bits[k] << dod_payload_len[k]) |
				   (dod & (((uint64_t)1 << dod_payload_len[k]) - 1));
		uint64_t v_field = x == 0 ? 0 : ((uint64_t)v_head << m) | (x >> trail);
		bw_put(&w, (t_field << v_bits) | v_field, t_bits + v_bits);
	} else {
		if (k < DOD_ESCAPE) {
			uint64_t payload = dod & (((uint64_t)1 << dod_payload_len[k]) - 1);
			bw_put(&w, ((uint64_t)dod_prefix_bits[k] << dod_payload_len[k]) | payload,
			       t_bits);
		} else {
			bw_put(&w, dod_prefix_bits[k], dod_prefix_len[k]);
			bw_put_long(&w, dod, 64);
		}
		bw_put(&w, v_head, v_head_bits);
		if (x != 0)
			bw_put_long(&w, x >> trail, m);
	}
	bw_end(&w);
	if (x != 0 && !is_reuse) {
		e->leading = (uint8_t)lead;
		e->trailing = (uint8_t)trail;
		e->has_window = true;
	}

	e->prev_t_ms = t_ms;
	e->prev_delta = delta;
	e->prev_bits = vb;
	e->n_bits += t_bits + v_bits;
	e->n_samples++;
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Decoder
 * ---------------------------------------------------------------------------------- */

/*
 * The 64 bits starting at bit pos (pos <= end), zero-filled past the end. At least 57 of
 * them are real stream bits when the stream is that long. Reads only bytes inside
 * [buf, buf + len_bytes), then the tail copy.
 */
static inline uint64_t peek(const tsdb_gorilla_dec *d, size_t pos)
{
	size_t i = pos >> 3;
	uint64_t w;
	if (d->len_bytes - i >= 8) {
		w = load_be64(d->buf + i);
	} else {
		w = 0;
		size_t k = 0;
		for (; i + k < d->len_bytes; k++)
			w |= (uint64_t)d->buf[i + k] << (56 - 8 * k);
		if (d->has_tail)
			w |= (uint64_t)d->tail << (56 - 8 * k);
	}
	return w << (pos & 7);
}

/* nb bits (1..64) at pos; the caller has checked pos + nb <= end. */
static inline uint64_t read_bits(const tsdb_gorilla_dec *d, size_t pos, unsigned nb)
{
	if (nb <= 57)
		return peek(d, pos) >> (64 - nb);
	uint64_t hi = peek(d, pos) >> (64 - (nb - 32));
	uint64_t lo = peek(d, pos + (nb - 32)) >> 32;
	return hi << 32 | lo;
}

static int corrupt(tsdb_gorilla_dec *d, const char *what, ts_err *err)
{
	d->is_corrupt = true;
	return ts_err_set(err, TS_ECORRUPT, "gorilla: sample %u of %u: %s at bit %zu of %zu",
			  d->n_read, d->n_samples, what, d->pos, d->end);
}

/* Decode sample 0, the raw value. NULL, or why the stream is corrupt (d unchanged). */
static const char *decode_first(tsdb_gorilla_dec *d)
{
	if (d->end - d->pos < 64)
		return "truncated first value";
	d->bits = read_bits(d, d->pos, 64);
	d->pos += 64;
	d->n_read = 1;
	return NULL;
}

/*
 * Decode sample d->n_read >= 1 into d (t_ms, bits and the rest of the state). Returns
 * NULL, or why the stream is corrupt (d unchanged then). Callers pass a local copy of
 * the state so that a loop over this keeps it in registers.
 */
static inline const char *decode_next(tsdb_gorilla_dec *d)
{
	size_t pos = d->pos;
	const size_t end = d->end;

	/* Timestamp: k leading one bits pick the bucket (6 or more: the escape). */
	uint64_t w = peek(d, pos);
	unsigned k = clz64(~w | 1);
	uint64_t dod;
	if (k < DOD_ESCAPE) {
		unsigned plen = k + 1, nb = dod_payload_len[k];
		if (end - pos < plen + nb)
			return "truncated timestamp";
		/* Branch-free for nb == 0 too: (w << plen) >> 1 has a zero top bit. */
		uint64_t half = ((uint64_t)1 << nb) >> 1;
		dod = ((((w << plen) >> 1) >> (63 - nb)) ^ half) - half;
		pos += plen + nb;
	} else {
		if (end - pos < 70)
			return "truncated timestamp escape";
		dod = read_bits(d, pos + 6, 64);
		pos += 70;
	}
	uint64_t delta = d->delta + dod;
	/* The new timestamp must be in (t, INT64_MAX]: delta in [1, INT64_MAX - t]. */
	if (delta - 1 >= (uint64_t)INT64_MAX - (uint64_t)d->t_ms)
		return "timestamp not increasing";

	/* Value: '0' same, '10' reuse the window, '11' new window. A peek holds at least
	 * 57 stream bits, so short payloads come from the same load. */
	if (end == pos)
		return "truncated value";
	w = peek(d, pos);
	uint64_t x = 0;
	if (!(w >> 63)) {
		pos += 1;
	} else if (!((w >> 62) & 1)) {
		if (!d->has_window)
			return "window reused before one was set";
		unsigned m = 64u - d->leading - d->trailing;
		if (end - pos < 2 + (size_t)m)
			return "truncated value";
		x = m <= 55 ? (w << 2) >> (64 - m) : read_bits(d, pos + 2, m);
		x <<= d->trailing;
		pos += 2 + m;
	} else {
		if (end - pos < 13)
			return "truncated value window";
		unsigned lead = (unsigned)(w >> 57) & 31;
		unsigned m = (unsigned)(w >> 51) & 63;
		if (m == 0)
			m = 64;
		if (lead + m > 64)
			return "value window wider than 64 bits";
		if (end - pos - 13 < m)
			return "truncated value";
		unsigned trail = 64 - lead - m;
		x = m <= 44 ? (w << 13) >> (64 - m) : read_bits(d, pos + 13, m);
		x <<= trail;
		pos += 13 + m;
		d->leading = (uint8_t)lead;
		d->trailing = (uint8_t)trail;
		d->has_window = true;
	}

	d->t_ms = u2i((uint64_t)d->t_ms + delta);
	d->delta = delta;
	d->bits ^= x;
	d->pos = pos;
	d->n_read++;
	return NULL;
}

void tsdb_gorilla_dec_init(tsdb_gorilla_dec *d, const uint8_t *buf, size_t len_bytes, int64_t t0_ms,
			   uint32_t n_samples)
{
	memset(d, 0, sizeof(*d));
	if (len_bytes > SIZE_MAX / 8)
		len_bytes = SIZE_MAX / 8; /* unreachable in practice; keeps end from overflowing */
	d->buf = buf;
	d->len_bytes = len_bytes;
	d->end = len_bytes * 8;
	d->t_ms = t0_ms;
	d->n_samples = n_samples;
}

void tsdb_gorilla_dec_init_bits(tsdb_gorilla_dec *d, const uint8_t *buf, size_t n_bits,
				int64_t t0_ms, uint32_t n_samples)
{
	tsdb_gorilla_dec_init(d, buf, n_bits / 8, t0_ms, n_samples);
	if (n_bits % 8) {
		/* The writer may be filling this byte's low bits right now; take one atomic
		 * snapshot and keep only the published high bits. */
		uint8_t b = atomic_load_explicit((_Atomic uint8_t *)(uintptr_t)(buf + n_bits / 8),
						 memory_order_relaxed);
		d->tail = (uint8_t)(b & (0xFF00u >> (n_bits % 8)));
		d->has_tail = true;
		d->end = n_bits;
	}
}

int tsdb_gorilla_dec_next(tsdb_gorilla_dec *d, int64_t *t_ms, double *v, ts_err *err)
{
	if (d->is_corrupt)
		return ts_err_set(err, TS_ECORRUPT, "gorilla: stream already failed to decode");
	if (d->n_read >= d->n_samples)
		return 0;
	const char *why = d->n_read ? decode_next(d) : decode_first(d);
	if (why)
		return corrupt(d, why, err);
	*t_ms = d->t_ms;
	*v = bits_dbl(d->bits);
	return 1;
}

int tsdb_gorilla_dec_read(tsdb_gorilla_dec *d, int64_t *t_ms, double *v, size_t max, ts_err *err)
{
	if (d->is_corrupt)
		return ts_err_set(err, TS_ECORRUPT, "gorilla: stream already failed to decode");
	size_t left = d->n_samples - d->n_read;
	if (max > left)
		max = left;
	if (max > INT32_MAX)
		max = INT32_MAX;
	size_t i = 0;
	if (max && d->n_read == 0) {
		const char *why = decode_first(d);
		if (why)
			return corrupt(d, why, err);
		if (t_ms)
			t_ms[0] = d->t_ms;
		if (v)
			memcpy(&v[0], &d->bits, sizeof(d->bits));
		i = 1;
	}
	tsdb_gorilla_dec s = *d; /* local copy: the loop keeps the state in registers */
	for (; i < max; i++) {
		const char *why = decode_next(&s);
		if (why) {
			*d = s;
			return corrupt(d, why, err);
		}
		if (t_ms)
			t_ms[i] = s.t_ms;
		if (v)
			memcpy(&v[i], &s.bits, sizeof(s.bits));
	}
	*d = s;
	return (int)max;
}

int tsdb_gorilla_dec_check_end(const tsdb_gorilla_dec *d, ts_err *err)
{
	if (d->is_corrupt || d->n_read < d->n_samples)
		return ts_err_set(err, TS_EINVAL, "gorilla: stream not fully decoded");
	size_t rem = d->end - d->pos;
	if (rem >= 8)
		return ts_err_set(err, TS_ECORRUPT, "gorilla: %zu bytes after the last sample",
				  rem / 8);
	if (rem && peek(d, d->pos) >> (64 - rem))
		return ts_err_set(err, TS_ECORRUPT, "gorilla: non-zero padding after bit %zu",
				  d->pos);
	return TS_OK;
}

void tsdb_gorilla_enc_resume(tsdb_gorilla_enc *e, const tsdb_gorilla_dec *d)
{
	tsdb_gorilla_enc_init(e);
	if (d->n_read == 0)
		return;
	e->prev_t_ms = d->t_ms;
	e->prev_delta = d->delta;
	e->prev_bits = d->bits;
	e->n_bits = d->pos;
	e->n_samples = d->n_read;
	e->leading = d->leading;
	e->trailing = d->trailing;
	e->has_window = d->has_window;
}
