/* SPDX-License-Identifier: Apache-2.0 */
/*
 * colenc.h: column codecs of persistent blocks: timestamp columns and value columns.
 *
 * Internal to tsdb/ (and its tests, fuzzers and benchmarks). A block stores the samples
 * of a series as a reference to a timestamp column (shared by every series scraped
 * together) plus a value column of its own (docs/formats/block.md, section 4).
 *
 * Timestamp column (n >= 1 strictly increasing int64 ms timestamps):
 *   zig-zag varint t0, then for samples 1..n-1 the delta-of-delta code of the Gorilla
 *   codec (tsdb/gorilla.h: buckets 0 | 10+4 | 110+6 | 1110+8 | 11110+11 | 111110+20 |
 *   111111+64 bits; the delta before sample 1 is 0), MSB first, zero-padded to a byte.
 *
 * Value column (n >= 1 float64 values, bits kept exactly), first byte = encoding:
 *   CONST  0x00, 8 bytes LE: every value has these bits.
 *   XOR    0x01, then the Gorilla value code: 64 raw bits, then per value 0 | 10+m |
 *          11+5+6+m, MSB first, zero-padded (same code and reuse rule as gorilla.c).
 *   DELTA  0x02, u8 scale e (0..22), zig-zag varint m0, then groups of up to 64 deltas
 *          d_i = m_i - m_(i-1) (mod 2^64): zig-zag varint min, u8 width w (0..64), then
 *          the count*w bits of (d - min) mod 2^64, MSB first, zero-padded to a byte.
 *   DOD    0x03, as DELTA but a zig-zag varint d_1 follows m0 (when n >= 2) and the
 *          groups hold the n - 2 items d_i - d_(i-1), i = 2 .. n-1.
 *   For DELTA/DOD the values are v_i = (double)m_i / 10^e, where 10^e is the exact
 *   double; the encoder uses them only when that expression gives back every value's
 *   exact bits (so -0.0, NaN, Inf and non-decimal values never take this path).
 * The encoder tries all and keeps the smallest (ties: the lower encoding number).
 *
 * Codecs never allocate; the caller passes the buffer and its capacity (use the
 * *_max_bytes bounds). Decoders check every read against the end of the input and
 * return TS_ECORRUPT, never reading outside [buf, buf + len).
 */
#ifndef TSDB_COLENC_H
#define TSDB_COLENC_H

#include "common/common.h"

#include <stddef.h>
#include <stdint.h>

enum {
	TSDB_VENC_CONST = 0, /* all values identical bits */
	TSDB_VENC_XOR = 1,   /* Gorilla XOR code */
	TSDB_VENC_DELTA = 2, /* decimal-scaled integers, frame-of-reference deltas */
	TSDB_VENC_DOD = 3,   /* decimal-scaled integers, frame-of-reference delta-of-deltas */
	TSDB_VENC_COUNT = 4,
	TSDB_VENC_AUTO = -1, /* encoder: pick the smallest */
};

#define TSDB_VENC_MAX_SCALE 22 /* 10^22 is the largest power of ten exact in a double */
#define TSDB_VENC_GROUP     64 /* deltas per frame-of-reference group */

/* Worst-case encoded sizes of n samples. */
size_t tsdb_tcol_max_bytes(size_t n);
size_t tsdb_vcol_max_bytes(size_t n);

/*
 * Encode n >= 1 strictly increasing timestamps into buf (cap bytes); *len receives the
 * byte length. TS_OK; TS_EINVAL if n == 0 or the timestamps do not strictly increase;
 * TS_EFULL if cap is too small (buf contents undefined then). Thread-safe (no state).
 */
int tsdb_tcol_encode(const int64_t *t, size_t n, uint8_t *buf, size_t cap, size_t *len,
		     ts_err *err);

/*
 * Decode exactly n timestamps from buf[0..len) into t[]. TS_OK, or TS_ECORRUPT if the
 * bytes do not hold n strictly increasing timestamps ending in zero padding within len.
 */
int tsdb_tcol_decode(const uint8_t *buf, size_t len, size_t n, int64_t *t, ts_err *err);

/*
 * Encode n >= 1 values with encoding enc (TSDB_VENC_AUTO: the smallest). scratch
 * (borrowed) holds n int64 for the decimal search. *len receives the length. TS_OK;
 * TS_EINVAL if n == 0 or a forced CONST/DELTA/DOD cannot represent the values exactly;
 * TS_EFULL if cap is too small.
 */
int tsdb_vcol_encode(const double *v, size_t n, int enc, int64_t *scratch, uint8_t *buf, size_t cap,
		     size_t *len, ts_err *err);

/* Decode exactly n values from buf[0..len) into v[]. TS_OK or TS_ECORRUPT. */
int tsdb_vcol_decode(const uint8_t *buf, size_t len, size_t n, double *v, ts_err *err);

/* The encoding byte of an encoded value column (no validation), or -1 if len == 0. */
int tsdb_vcol_encoding(const uint8_t *buf, size_t len);

#endif /* TSDB_COLENC_H */
