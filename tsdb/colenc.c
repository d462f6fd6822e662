/* SPDX-License-Identifier: Apache-2.0 */
/*
 * colenc.c: column codecs of persistent blocks: timestamp and value columns (colenc.h).
 *
 * Layouts (docs/formats/block.md section 4 has them with examples):
 *   timestamp column  zig-zag varint t0, then Gorilla delta-of-delta codes (gorilla.c's
 *                     buckets: 0 | 10+4 | 110+6 | 1110+8 | 11110+11 | 111110+20 |
 *                     111111+64), MSB first, zero padding to a byte
 *   value column      u8 encoding, then
 *     CONST           8 bytes LE value bits
 *     XOR             64 raw bits, then 0 | 10+m | 11+L(5)+m(6, 0 = 64)+m per value
 *     DELTA/DOD       u8 scale e, zig-zag varint m0, then groups of <= 64 items:
 *                     zig-zag varint min, u8 width w, count*w bits of (item - min)
 *                     MSB first, padded to a byte. Items are deltas of m (DELTA), or
 *                     delta-of-deltas after a zig-zag varint first delta (DOD). All integer
 *                     arithmetic is mod 2^64, so every input decodes without UB.
 *
 * Why decimal scaling: scraped and pushed values are mostly short decimals printed by
 * the exporter (250.56, 0.132, 1.7949e-05) or integers. (double)m / 10^e with the
 * exact power is correctly rounded, so it reproduces the parsed double bit for bit;
 * the encoder checks that for every value before it picks DELTA/DOD. On the
 * node_exporter capture this halves the value bits against XOR (bench_tsdb).
 *
 * Invariants: encoders are pure functions of their input (deterministic output, no
 * allocation); decoders never read outside [buf, buf + len), reject trailing garbage
 * (non-zero padding, extra bytes) and always write exactly n outputs or fail.
 */
#include "tsdb/colenc.h"

#include <string.h>

_Static_assert(sizeof(double) == sizeof(uint64_t), "double must be 64-bit IEEE-754");
#if defined(__FLT_EVAL_METHOD__) && __FLT_EVAL_METHOD__ != 0
#error "decimal value columns need FLT_EVAL_METHOD 0 (no excess precision)"
#endif

/* -------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------- */

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

static inline int64_t u2i(uint64_t x)
{
	int64_t r;
	memcpy(&r, &x, sizeof(r));
	return r;
}

static inline uint64_t zz_enc(uint64_t x) /* x is a two's complement int64 */
{
	return (x << 1) ^ (0 - (x >> 63));
}

static inline uint64_t zz_dec(uint64_t u)
{
	return (u >> 1) ^ (0 - (u & 1));
}

static inline unsigned bit_width(uint64_t x)
{
	return x ? 64 - (unsigned)__builtin_clzll(x) : 0;
}

static inline size_t uvarint_len(uint64_t u)
{
	size_t n = 1;
	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap64(w);
#else
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
	       (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	       (uint64_t)p[6] << 8 | (uint64_t)p[7];
#endif
}

/* Exact powers of ten as doubles (10^0 .. 10^22 are all exactly representable). */
static const double p10[TSDB_VENC_MAX_SCALE + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* -------------------------------------------------------------------------------------
 * Bit writer (MSB first) with byte-aligned escapes for varints
 * ---------------------------------------------------------------------------------- */

typedef struct bw {
	uint8_t *buf;
	size_t cap;
	size_t len;   /* bytes written (or that would have been, when is_full) */
	uint64_t acc; /* pending bits at the top */
	unsigned n;   /* pending bit count */
	bool is_full; /* a byte did not fit in cap */
} bw;

static void bw_init(bw *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->acc = 0;
	w->n = 0;
	w->is_full = false;
}

static inline void bw_byte(bw *w, uint8_t b)
{
	if (w->len < w->cap)
		w->buf[w->len] = b;
	else
		w->is_full = true;
	w->len++;
}

static inline void bw_flush(bw *w)
{
	while (w->n >= 8) {
		bw_byte(w, (uint8_t)(w->acc >> 56));
		w->acc <<= 8;
		w->n -= 8;
	}
}

/* Append the low nb bits of v, 0 <= nb <= 56. */
static inline void bw_put(bw *w, uint64_t v, unsigned nb)
{
	if (nb == 0)
		return;
	v &= ((uint64_t)1 << nb) - 1;
	if (w->n + nb > 64)
		bw_flush(w);
	w->acc |= v << (64 - w->n - nb);
	w->n += nb;
}

/* Append the low nb bits of v, 0 <= nb <= 64. */
static inline void bw_put64(bw *w, uint64_t v, unsigned nb)
{
	if (nb > 32) {
		bw_put(w, v >> 32, nb - 32);
		bw_put(w, v & 0xFFFFFFFFu, 32);
	} else {
		bw_put(w, v, nb);
	}
}

/* Flush with zero padding to a byte boundary. */
static void bw_align(bw *w)
{
	bw_flush(w);
	if (w->n) {
		bw_byte(w, (uint8_t)(w->acc >> 56));
		w->acc = 0;
		w->n = 0;
	}
}

static void bw_uvarint(bw *w, uint64_t u) /* aligned */
{
	while (u >= 0x80) {
		bw_byte(w, (uint8_t)(u | 0x80));
		u >>= 7;
	}
	bw_byte(w, (uint8_t)u);
}

/* -------------------------------------------------------------------------------------
 * Bit reader
 * ---------------------------------------------------------------------------------- */

typedef struct br {
	const uint8_t *buf;
	size_t len; /* bytes */
	size_t pos; /* bit position, <= 8 * len */
} br;

static inline size_t br_left(const br *r)
{
	return r->len * 8 - r->pos;
}

/* Read nb bits (1..64); false if fewer remain. */
static inline bool br_read(br *r, unsigned nb, uint64_t *out)
{
	if (br_left(r) < nb)
		return false;
	size_t i = r->pos >> 3;
	unsigned off = (unsigned)(r->pos & 7);
	uint64_t x;
	if (r->len - i >= 9) {
		x = load_be64(r->buf + i) << off;
		if (off)
			x |= (uint64_t)r->buf[i + 8] >> (8 - off);
	} else {
		x = 0;
		for (unsigned k = 0; k < 8; k++)
			x |= (uint64_t)(i + k < r->len ? r->buf[i + k] : 0) << (56 - 8 * k);
		x <<= off;
		if (off && i + 8 < r->len)
			x |= (uint64_t)r->buf[i + 8] >> (8 - off);
	}
	*out = nb == 64 ? x : x >> (64 - nb);
	r->pos += nb;
	return true;
}

static inline bool br_bit(br *r, unsigned *bit)
{
	if (r->pos >= r->len * 8)
		return false;
	*bit = (r->buf[r->pos >> 3] >> (7 - (r->pos & 7))) & 1;
	r->pos++;
	return true;
}

/* Skip to the next byte boundary; the skipped bits must be zero. */
static bool br_align(br *r)
{
	unsigned rem = (unsigned)((8 - (r->pos & 7)) & 7);
	if (rem == 0)
		return true;
	uint64_t pad;
	if (!br_read(r, rem, &pad))
		return false;
	return pad == 0;
}

static bool br_uvarint(br *r, uint64_t *out) /* aligned */
{
	const uint8_t *p = r->buf + (r->pos >> 3), *end = r->buf + r->len;
	if (ts_get_uvarint(&p, end, out) != TS_OK)
		return false;
	r->pos = (size_t)(p - r->buf) * 8;
	return true;
}

static bool br_byte(br *r, uint8_t *out) /* aligned */
{
	if (r->pos >= r->len * 8)
		return false;
	*out = r->buf[r->pos >> 3];
	r->pos += 8;
	return true;
}

/* -------------------------------------------------------------------------------------
 * Timestamp columns
 * ---------------------------------------------------------------------------------- */

enum { N_DOD_CODES = 7, DOD_ESCAPE = 6 };
static const uint8_t dod_prefix_len[N_DOD_CODES] = {1, 2, 3, 4, 5, 6, 6};
static const uint8_t dod_prefix_bits[N_DOD_CODES] = {0x0, 0x2, 0x6, 0xE, 0x1E, 0x3E, 0x3F};
static const uint8_t dod_payload_len[N_DOD_CODES] = {0, 4, 6, 8, 11, 20, 64};

static unsigned dod_code(uint64_t dod)
{
	if (dod == 0)
		return 0;
	uint64_t mag = dod ^ (0 - (dod >> 63));
	unsigned width = bit_width(mag) + 1; /* two's complement width */
	for (unsigned k = 1; k < DOD_ESCAPE; k++)
		if (width <= dod_payload_len[k])
			return k;
	return DOD_ESCAPE;
}

size_t tsdb_tcol_max_bytes(size_t n)
{
	return 10 + (n ? ((n - 1) * 70 + 7) / 8 : 0);
}

int tsdb_tcol_encode(const int64_t *t, size_t n, uint8_t *buf, size_t cap, size_t *len, ts_err *err)
{
	if (n == 0)
		return ts_err_set(err, TS_EINVAL, "tcol: no timestamps");
	bw w;
	bw_init(&w, buf, cap);
	bw_uvarint(&w, zz_enc((uint64_t)t[0]));
	uint64_t prev_delta = 0;
	for (size_t i = 1; i < n; i++) {
		if (t[i] <= t[i - 1])
			return ts_err_set(err, TS_EINVAL,
					  "tcol: timestamp %lld at %zu does not increase",
					  (long long)t[i], i);
		uint64_t delta = (uint64_t)t[i] - (uint64_t)t[i - 1];
		uint64_t dod = delta - prev_delta;
		unsigned k = dod_code(dod);
		bw_put(&w, dod_prefix_bits[k], dod_prefix_len[k]);
		bw_put64(&w, dod, dod_payload_len[k]);
		prev_delta = delta;
	}
	bw_align(&w);
	if (w.is_full)
		return ts_err_set(err, TS_EFULL, "tcol: %zu bytes needed, %zu available", w.len,
				  cap);
	*len = w.len;
	return TS_OK;
}

static int tcol_corrupt(ts_err *err, size_t i, size_t n, const char *what)
{
	return ts_err_set(err, TS_ECORRUPT, "tcol: timestamp %zu of %zu: %s", i, n, what);
}

int tsdb_tcol_decode(const uint8_t *buf, size_t len, size_t n, int64_t *t, ts_err *err)
{
	br r = {buf, len, 0};
	uint64_t u;
	if (n == 0)
		return tcol_corrupt(err, 0, n, "empty column");
	if (!br_uvarint(&r, &u))
		return tcol_corrupt(err, 0, n, "bad first timestamp");
	int64_t cur = u2i(zz_dec(u));
	t[0] = cur;
	uint64_t delta = 0;
	for (size_t i = 1; i < n; i++) {
		unsigned k = 0, bit = 1;
		while (k < DOD_ESCAPE) {
			if (!br_bit(&r, &bit))
				return tcol_corrupt(err, i, n, "truncated");
			if (!bit)
				break;
			k++;
		}
		uint64_t dod = 0;
		unsigned pl = dod_payload_len[k];
		if (pl) {
			if (!br_read(&r, pl, &dod))
				return tcol_corrupt(err, i, n, "truncated");
			if (pl < 64) {
				uint64_t sign = (uint64_t)1 << (pl - 1);
				dod = (dod ^ sign) - sign;
			}
		}
		delta += dod;
		/* 1 <= delta <= INT64_MAX - cur, in unsigned arithmetic. */
		if (delta - 1 >= (uint64_t)INT64_MAX - (uint64_t)cur)
			return tcol_corrupt(err, i, n, "timestamps do not increase");
		cur = u2i((uint64_t)cur + delta);
		t[i] = cur;
	}
	if (!br_align(&r) || r.pos != len * 8)
		return tcol_corrupt(err, n, n, "trailing bytes after the last timestamp");
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Value columns: XOR
 * ---------------------------------------------------------------------------------- */

static void xor_encode(const double *v, size_t n, bw *w)
{
	uint64_t prev = dbl_bits(v[0]);
	bw_put64(w, prev, 64);
	unsigned L = 0, T = 0;
	bool has_window = false;
	for (size_t i = 1; i < n; i++) {
		uint64_t b = dbl_bits(v[i]), x = b ^ prev;
		prev = b;
		if (x == 0) {
			bw_put(w, 0, 1);
			continue;
		}
		unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
		if (lead > 31)
			lead = 31;
		unsigned m = 64 - lead - trail;
		if (has_window && lead >= L && trail >= T && 2 + (64 - L - T) <= 13 + m) {
			bw_put(w, 2, 2);
			bw_put64(w, x >> T, 64 - L - T);
			continue;
		}
		bw_put(w, 3, 2);
		bw_put(w, lead, 5);
		bw_put(w, m & 63, 6);
		bw_put64(w, x >> trail, m);
		L = lead;
		T = trail;
		has_window = true;
	}
}

static int xor_decode(br *r, size_t n, double *v, ts_err *err)
{
	uint64_t prev;
	if (!br_read(r, 64, &prev))
		return ts_err_set(err, TS_ECORRUPT, "vcol xor: truncated first value");
	v[0] = bits_dbl(prev);
	unsigned L = 0, T = 0;
	bool has_window = false;
	for (size_t i = 1; i < n; i++) {
		unsigned bit;
		if (!br_bit(r, &bit))
			goto truncated;
		if (bit) {
			if (!br_bit(r, &bit))
				goto truncated;
			uint64_t x;
			if (bit) {
				uint64_t lead, m;
				if (!br_read(r, 5, &lead) || !br_read(r, 6, &m))
					goto truncated;
				if (m == 0)
					m = 64;
				if (lead + m > 64)
					return ts_err_set(err, TS_ECORRUPT,
							  "vcol xor: value %zu: window %u+%u > 64",
							  i, (unsigned)lead, (unsigned)m);
				L = (unsigned)lead;
				T = (unsigned)(64 - lead - m);
				has_window = true;
			} else if (!has_window) {
				return ts_err_set(err, TS_ECORRUPT,
						  "vcol xor: value %zu reuses a missing window", i);
			}
			if (!br_read(r, 64 - L - T, &x))
				goto truncated;
			prev ^= T == 64 ? 0 : x << T;
		}
		v[i] = bits_dbl(prev);
	}
	return TS_OK;
truncated:
	return ts_err_set(err, TS_ECORRUPT, "vcol xor: truncated");
}

/* -------------------------------------------------------------------------------------
 * Value columns: decimal-scaled integers
 * ---------------------------------------------------------------------------------- */

/* m for v at scale e when (double)m / 10^e reproduces v exactly; false otherwise. */
static inline bool to_scaled(double v, int e, int64_t *m)
{
	double x = v * p10[e];
	if (!(x > -4.0e18 && x < 4.0e18)) /* also rejects NaN */
		return false;
	int64_t r = (int64_t)(x + (x >= 0 ? 0.5 : -0.5));
	if (dbl_bits((double)r / p10[e]) != dbl_bits(v)) {
		/* x + 0.5 may have rounded; try the neighbours before giving up. */
		if (dbl_bits((double)(r - 1) / p10[e]) == dbl_bits(v))
			r--;
		else if (dbl_bits((double)(r + 1) / p10[e]) == dbl_bits(v))
			r++;
		else
			return false;
	}
	*m = r;
	return true;
}

/* The smallest scale that represents every value exactly (m[] receives the integers), or -1. */
static int find_scale(const double *v, size_t n, int64_t *m)
{
	int e = 0;
	for (size_t i = 0; i < n; i++) {
		while (!to_scaled(v[i], e, &m[i]))
			if (++e > TSDB_VENC_MAX_SCALE)
				return -1;
	}
	/* A value checked at a smaller scale may not survive a larger one: recheck. */
	for (size_t i = 0; i < n; i++)
		if (!to_scaled(v[i], e, &m[i]))
			return -1;
	return e;
}

/*
 * Item i of the grouped integer stream. DELTA: items are d_1 .. d_(n-1) with
 * d_k = m_k - m_(k-1). DOD: d_1 is stored before the groups, items are d_(k+1) - d_k for
 * k = 1 .. n-2. All mod 2^64.
 */
static inline uint64_t int_item(const int64_t *m, size_t i, bool is_dod)
{
	if (!is_dod)
		return (uint64_t)m[i + 1] - (uint64_t)m[i];
	uint64_t d1 = (uint64_t)m[i + 1] - (uint64_t)m[i];
	uint64_t d2 = (uint64_t)m[i + 2] - (uint64_t)m[i + 1];
	return d2 - d1;
}

static size_t n_items(size_t n, bool is_dod)
{
	return is_dod ? (n >= 2 ? n - 2 : 0) : n - 1;
}

/* Minimum item and bit width of the group [g, g + cnt). */
static unsigned group_frame(const int64_t *m, size_t g, size_t cnt, bool is_dod, int64_t *mn_out)
{
	int64_t mn = INT64_MAX, mx = INT64_MIN;
	for (size_t i = g; i < g + cnt; i++) {
		int64_t it = u2i(int_item(m, i, is_dod));
		mn = it < mn ? it : mn;
		mx = it > mx ? it : mx;
	}
	*mn_out = mn;
	return bit_width((uint64_t)mx - (uint64_t)mn);
}

/* Bytes of the DELTA/DOD encoding (encoding and scale bytes included). */
static size_t int_size(const int64_t *m, size_t n, bool is_dod)
{
	size_t size = 2 + uvarint_len(zz_enc((uint64_t)m[0]));
	if (is_dod && n >= 2)
		size += uvarint_len(zz_enc((uint64_t)m[1] - (uint64_t)m[0]));
	size_t ni = n_items(n, is_dod);
	for (size_t g = 0; g < ni; g += TSDB_VENC_GROUP) {
		size_t cnt = ni - g < TSDB_VENC_GROUP ? ni - g : TSDB_VENC_GROUP;
		int64_t mn;
		unsigned w = group_frame(m, g, cnt, is_dod, &mn);
		size += uvarint_len(zz_enc((uint64_t)mn)) + 1 + (cnt * w + 7) / 8;
	}
	return size;
}

static void int_encode(const int64_t *m, size_t n, int e, bool is_dod, bw *w)
{
	bw_byte(w, (uint8_t)e);
	bw_uvarint(w, zz_enc((uint64_t)m[0]));
	if (is_dod && n >= 2)
		bw_uvarint(w, zz_enc((uint64_t)m[1] - (uint64_t)m[0]));
	size_t ni = n_items(n, is_dod);
	for (size_t g = 0; g < ni; g += TSDB_VENC_GROUP) {
		size_t cnt = ni - g < TSDB_VENC_GROUP ? ni - g : TSDB_VENC_GROUP;
		int64_t mn;
		unsigned width = group_frame(m, g, cnt, is_dod, &mn);
		bw_uvarint(w, zz_enc((uint64_t)mn));
		bw_byte(w, (uint8_t)width);
		for (size_t i = g; i < g + cnt; i++)
			bw_put64(w, int_item(m, i, is_dod) - (uint64_t)mn, width);
		bw_align(w);
	}
}

static int int_decode(br *r, size_t n, bool is_dod, double *v, ts_err *err)
{
	uint8_t e;
	uint64_t u;
	if (!br_byte(r, &e) || e > TSDB_VENC_MAX_SCALE)
		return ts_err_set(err, TS_ECORRUPT, "vcol int: bad scale");
	if (!br_uvarint(r, &u))
		return ts_err_set(err, TS_ECORRUPT, "vcol int: bad first value");
	uint64_t m = zz_dec(u), d = 0;
	const double scale = p10[e];
	size_t out = 0;
	v[out++] = (double)u2i(m) / scale;
	if (is_dod && n >= 2) {
		if (!br_uvarint(r, &u))
			return ts_err_set(err, TS_ECORRUPT, "vcol int: bad first delta");
		d = zz_dec(u);
		m += d;
		v[out++] = (double)u2i(m) / scale;
	}
	size_t ni = n_items(n, is_dod);
	for (size_t g = 0; g < ni; g += TSDB_VENC_GROUP) {
		size_t cnt = ni - g < TSDB_VENC_GROUP ? ni - g : TSDB_VENC_GROUP;
		uint8_t width;
		if (!br_uvarint(r, &u) || !br_byte(r, &width))
			return ts_err_set(err, TS_ECORRUPT, "vcol int: truncated group header");
		if (width > 64)
			return ts_err_set(err, TS_ECORRUPT, "vcol int: group width %u", width);
		uint64_t mn = zz_dec(u);
		if (br_left(r) < cnt * width)
			return ts_err_set(err, TS_ECORRUPT, "vcol int: truncated group");
		for (size_t i = 0; i < cnt; i++) {
			uint64_t x = 0;
			if (width)
				br_read(r, width, &x);
			x += mn;
			if (is_dod)
				d += x;
			else
				d = x;
			m += d;
			v[out++] = (double)u2i(m) / scale;
		}
		if (!br_align(r))
			return ts_err_set(err, TS_ECORRUPT, "vcol int: non-zero padding");
	}
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Value columns: choice, encode, decode
 * ---------------------------------------------------------------------------------- */

size_t tsdb_vcol_max_bytes(size_t n)
{
	/* XOR: 1 + (64 + 77 (n-1)) / 8. DELTA: 2 + 10 + per group 11 + 64 * 8 bytes. */
	size_t x = 1 + (64 + 77 * (n ? n - 1 : 0) + 7) / 8;
	size_t g = (n + TSDB_VENC_GROUP - 1) / TSDB_VENC_GROUP;
	size_t d = 12 + g * 11 + n * 8;
	return (x > d ? x : d) + 9;
}

static size_t xor_size(const double *v, size_t n)
{
	/* Same decisions as xor_encode, counting bits only. */
	uint64_t prev = dbl_bits(v[0]);
	size_t bits = 64;
	unsigned L = 0, T = 0;
	bool has_window = false;
	for (size_t i = 1; i < n; i++) {
		uint64_t b = dbl_bits(v[i]), x = b ^ prev;
		prev = b;
		if (x == 0) {
			bits++;
			continue;
		}
		unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
		if (lead > 31)
			lead = 31;
		unsigned m = 64 - lead - trail;
		if (has_window && lead >= L && trail >= T && 2 + (64 - L - T) <= 13 + m) {
			bits += 2 + (64 - L - T);
			continue;
		}
		bits += 13 + m;
		L = lead;
		T = trail;
		has_window = true;
	}
	return 1 + (bits + 7) / 8;
}

int tsdb_vcol_encode(const double *v, size_t n, int enc, int64_t *scratch, uint8_t *buf, size_t cap,
		     size_t *len, ts_err *err)
{
	if (n == 0)
		return ts_err_set(err, TS_EINVAL, "vcol: no values");
	if (enc < TSDB_VENC_AUTO || enc >= TSDB_VENC_COUNT)
		return ts_err_set(err, TS_EINVAL, "vcol: unknown encoding %d", enc);
	int e = -1;
	if (enc == TSDB_VENC_AUTO) {
		uint64_t b0 = dbl_bits(v[0]);
		size_t i = 1;
		while (i < n && dbl_bits(v[i]) == b0)
			i++;
		if (i == n) {
			enc = TSDB_VENC_CONST;
		} else {
			enc = TSDB_VENC_XOR;
			size_t best = xor_size(v, n);
			e = find_scale(v, n, scratch);
			if (e >= 0) {
				size_t sd = int_size(scratch, n, false);
				size_t sdd = int_size(scratch, n, true);
				if (sd < best) {
					best = sd;
					enc = TSDB_VENC_DELTA;
				}
				if (sdd < best)
					enc = TSDB_VENC_DOD;
			}
		}
	} else if (enc == TSDB_VENC_CONST) {
		for (size_t i = 1; i < n; i++)
			if (dbl_bits(v[i]) != dbl_bits(v[0]))
				return ts_err_set(err, TS_EINVAL, "vcol: values are not constant");
	} else if (enc == TSDB_VENC_DELTA || enc == TSDB_VENC_DOD) {
		e = find_scale(v, n, scratch);
		if (e < 0)
			return ts_err_set(err, TS_EINVAL, "vcol: values are not short decimals");
	}
	bw w;
	bw_init(&w, buf, cap);
	bw_byte(&w, (uint8_t)enc);
	switch (enc) {
	case TSDB_VENC_CONST: {
		uint64_t b = dbl_bits(v[0]);
		for (int k = 0; k < 8; k++)
			bw_byte(&w, (uint8_t)(b >> (8 * k)));
		break;
	}
	case TSDB_VENC_XOR:
		xor_encode(v, n, &w);
		bw_align(&w);
		break;
	default: int_encode(scratch, n, e, enc == TSDB_VENC_DOD, &w); break;
	}
	if (w.is_full)
		return ts_err_set(err, TS_EFULL, "vcol: %zu bytes needed, %zu available", w.len,
				  cap);
	*len = w.len;
	return TS_OK;
}

int tsdb_vcol_encoding(const uint8_t *buf, size_t len)
{
	return len ? buf[0] : -1;
}

int tsdb_vcol_decode(const uint8_t *buf, size_t len, size_t n, double *v, ts_err *err)
{
	if (n == 0 || len == 0)
		return ts_err_set(err, TS_ECORRUPT, "vcol: empty column");
	br r = {buf, len, 8};
	int rc;
	switch (buf[0]) {
	case TSDB_VENC_CONST: {
		if (len != 9)
			return ts_err_set(err, TS_ECORRUPT, "vcol const: %zu bytes, want 9", len);
		double c = bits_dbl(ts_get_u64le(buf + 1));
		for (size_t i = 0; i < n; i++)
			v[i] = c;
		return TS_OK;
	}
	case TSDB_VENC_XOR: rc = xor_decode(&r, n, v, err); break;
	case TSDB_VENC_DELTA:
	case TSDB_VENC_DOD: rc = int_decode(&r, n, buf[0] == TSDB_VENC_DOD, v, err); break;
	default: return ts_err_set(err, TS_ECORRUPT, "vcol: unknown encoding %u", buf[0]);
	}
	if (rc)
		return rc;
	if (!br_align(&r) || r.pos != len * 8)
		return ts_err_set(err, TS_ECORRUPT, "vcol: trailing bytes after %zu values", n);
	return TS_OK;
}
