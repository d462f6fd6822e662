/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gorilla.h: the Gorilla bit codec: (timestamp, float64) samples as a bit stream.
 *
 * Internal to tsdb/ (and its tests, fuzzers and benchmarks); other modules go through
 * tsdb/tsdb.h. A stream holds samples with strictly increasing int64 millisecond
 * timestamps. Sample 0 is 64 raw value bits (its timestamp is kept by the container,
 * see tsdb/chunk.h); every later sample is a delta-of-delta timestamp code followed by
 * an XOR value code. The exact layout is in docs/formats/gorilla.md; in short:
 *
 *   timestamp (dod = delta - previous delta, mod 2^64; the delta before sample 1 is 0)
 *     0                    dod == 0                      1 bit
 *     10      + 4 bits     dod in [-8, 7]                6 bits
 *     110     + 6 bits     dod in [-32, 31]              9 bits
 *     1110    + 8 bits     dod in [-128, 127]           12 bits
 *     11110   + 11 bits    dod in [-1024, 1023]         16 bits
 *     111110  + 20 bits    dod in [-524288, 524287]     26 bits
 *     111111  + 64 bits    any dod (escape)             70 bits
 *   value (x = bits XOR previous bits)
 *     0                                                  x == 0
 *     10 + m bits                                        reuse the previous window
 *     11 + 5 bits leading + 6 bits m (0 = 64) + m bits   new window
 *
 * Bits are written MSB first; the stream is zero-padded to a byte boundary.
 *
 * Codecs never allocate: the caller owns the bytes and passes their capacity. An append
 * either writes the whole sample or returns TS_EFULL and writes nothing at all. A
 * successful append may also store zeros in up to 7 bytes after the stream's new end
 * (within the capacity): that space is the encoder's scratch until it is appended to.
 *
 * Concurrent readers: appending only ever (a) fills the unused low bits of the last,
 * partial byte, storing that byte with one relaxed atomic store, and (b) stores bytes
 * past it. Bits already written never change. So a reader that acquired (sample count,
 * stream bits) published by the writer with a release store after an append can decode
 * that many samples with tsdb_gorilla_dec_init_bits() while the writer keeps appending:
 * it reads the whole bytes below the published bit length (immutable since the
 * release), and the partial byte once, with a relaxed atomic load. No data race in the
 * C11 model. See docs/formats/gorilla.md, "Concurrent readers".
 *
 * Not here: chunk headers, sample-count and time-span limits (tsdb/chunk.c).
 */
#ifndef TSDB_GORILLA_H
#define TSDB_GORILLA_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bits of sample 0 (the raw value). */
#define TSDB_GORILLA_FIRST_SAMPLE_BITS 64
/* Worst case bits of any later sample: escape dod (6+64) + new value window (2+5+6+64). */
#define TSDB_GORILLA_MAX_SAMPLE_BITS 147

/* Encoder state of one stream. Plain data: copy it to snapshot, no cleanup needed. */
typedef struct tsdb_gorilla_enc {
	int64_t prev_t_ms;   /* timestamp of the last sample (valid when n_samples > 0) */
	uint64_t prev_delta; /* last timestamp delta in ms, mod 2^64 (0 before sample 1) */
	uint64_t prev_bits;  /* IEEE-754 bits of the last value */
	size_t n_bits;       /* bits written so far; the stream is (n_bits + 7) / 8 bytes */
	uint32_t n_samples;  /* samples written so far */
	uint8_t leading;     /* current XOR window: leading zero bits (0..31) */
	uint8_t trailing;    /* current XOR window: trailing zero bits (0..63) */
	bool has_window;     /* false until the first non-zero XOR */
} tsdb_gorilla_enc;

/* Decoder state of one stream. Holds a borrowed pointer to the bytes. */
typedef struct tsdb_gorilla_dec {
	const uint8_t *buf; /* borrowed: the stream bytes */
	size_t len_bytes;   /* whole bytes read at buf; no byte past them is read directly */
	size_t pos;         /* next bit to read */
	size_t end;         /* bits in the stream: len_bytes * 8, plus tail bits if has_tail */
	uint8_t tail;       /* _init_bits: copy of the partial byte buf[len_bytes], masked */
	bool has_tail;      /* tail holds the stream's last (partial) byte */
	int64_t t_ms;       /* timestamp of the last decoded sample (t0 before sample 0) */
	uint64_t delta;     /* last timestamp delta in ms, mod 2^64 */
	uint64_t bits;      /* IEEE-754 bits of the last decoded value */
	uint32_t n_read;    /* samples decoded so far */
	uint32_t n_samples; /* samples in the stream */
	uint8_t leading;    /* current XOR window: leading zero bits */
	uint8_t trailing;   /* current XOR window: trailing zero bits */
	bool has_window;    /* a new-window code was seen */
	bool is_corrupt;    /* sticky: a TS_ECORRUPT was returned */
} tsdb_gorilla_dec;

/* Reset e to an empty stream. Cannot fail. Thread-safety: e is owned by the caller. */
void tsdb_gorilla_enc_init(tsdb_gorilla_enc *e);

/*
 * Append one sample to the stream in buf (borrowed, cap_bytes long; bytes [0, stream
 * length) must hold what this encoder wrote earlier).
 * Returns TS_OK; TS_EOUTOFORDER if t_ms is below the previous timestamp; TS_EINVAL if
 * equal (duplicates are dropped before the codec); TS_EFULL if the sample's bits do not
 * fit in cap_bytes. On any error neither *e nor a single byte of buf is changed.
 * Order errors are reported before TS_EFULL, so a caller that cuts a new stream on
 * TS_EFULL never cuts one for a sample it must reject. v's bits are stored exactly
 * (NaN payloads, -0.0, subnormals). Not thread-safe for one e; see the file comment for
 * concurrent readers.
 */
int tsdb_gorilla_enc_append(tsdb_gorilla_enc *e, uint8_t *buf, size_t cap_bytes, int64_t t_ms,
			    double v, ts_err *err);

/* Bytes of the stream so far: (n_bits + 7) / 8. */
size_t tsdb_gorilla_enc_len(const tsdb_gorilla_enc *e);

/*
 * Start decoding n_samples samples from buf (borrowed, len_bytes readable); t0_ms is
 * the timestamp of sample 0, which the stream does not contain. Cannot fail: problems
 * surface as TS_ECORRUPT from the reads. Never reads outside [buf, buf + len_bytes).
 * A decoder belongs to one thread; any number may read the same bytes at once.
 */
void tsdb_gorilla_dec_init(tsdb_gorilla_dec *d, const uint8_t *buf, size_t len_bytes, int64_t t0_ms,
			   uint32_t n_samples);

/*
 * Like tsdb_gorilla_dec_init() for a stream another thread may be appending to: decode
 * n_samples samples that end within the first n_bits bits (both as published by the
 * writer). Reads the whole bytes below n_bits plainly and the partial byte at n_bits / 8
 * (when n_bits % 8 != 0) once, here, with a relaxed atomic load.
 */
void tsdb_gorilla_dec_init_bits(tsdb_gorilla_dec *d, const uint8_t *buf, size_t n_bits,
				int64_t t0_ms, uint32_t n_samples);

/*
 * Decode the next sample. Returns 1 and sets *t_ms and *v, 0 when all n_samples were
 * decoded, or TS_ECORRUPT (sticky) if the stream is truncated, uses a reserved code or
 * does not strictly increase in time; outputs are written only when 1 is returned.
 */
int tsdb_gorilla_dec_next(tsdb_gorilla_dec *d, int64_t *t_ms, double *v, ts_err *err);

/*
 * Decode up to max samples into t_ms[] and v[] (either may be NULL to skip it).
 * Returns the number decoded (0 at the end) or TS_ECORRUPT; on TS_ECORRUPT the samples
 * before the bad one are already in the arrays but are not counted. Faster than
 * calling tsdb_gorilla_dec_next() per sample.
 */
int tsdb_gorilla_dec_read(tsdb_gorilla_dec *d, int64_t *t_ms, double *v, size_t max, ts_err *err);

/*
 * After every sample was decoded, check that the stream ends there: fewer than 8 bits
 * remain and they are zero padding. TS_OK, TS_ECORRUPT, or TS_EINVAL if samples are
 * left to decode or a read already failed.
 */
int tsdb_gorilla_dec_check_end(const tsdb_gorilla_dec *d, ts_err *err);

/*
 * Rebuild the encoder state that wrote the samples d has decoded so far, so that
 * appending can resume on bytes that were decoded (for example a chunk read back from
 * disk). Cannot fail; call it only when d returned no error.
 */
void tsdb_gorilla_enc_resume(tsdb_gorilla_enc *e, const tsdb_gorilla_dec *d);

#endif /* TSDB_GORILLA_H */
