/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chunk.h: a bounded chunk of samples of one series, Gorilla-encoded (tsdb/gorilla.h).
 *
 * Internal to tsdb/ (and its tests, fuzzers and benchmarks). A chunk is a byte string
 * that decodes from its bytes alone, so the same bytes live in the head, in block files
 * and in the page cache:
 *
 *   offset  size  field (little-endian)
 *   0       2     n_samples     u16, 0..TSDB_CHUNK_MAX_SAMPLES
 *   2       8     first_t_ms    i64, timestamp of sample 0
 *   10      8     last_t_ms     i64, timestamp of the last sample
 *   18      ...   Gorilla stream of n_samples samples, zero-padded to a whole byte
 *
 * The chunk's length is exactly 18 + the stream's bytes; there is no magic, version or
 * checksum here: the container (block file, log record) carries the encoding id and
 * the CRC-32C. docs/formats/gorilla.md describes every bit.
 *
 * A chunk is full at TSDB_CHUNK_MAX_SAMPLES samples, when a sample lies max_span_ms or
 * more after the first one, or when the caller's buffer cannot hold the next sample's
 * bits; the append then returns TS_EFULL and changes nothing (not one byte).
 *
 * Concurrent readers (the head): one thread appends; after each successful append it
 * publishes w = tsdb_chunk_published(c) (sample count and stream bit length in one
 * 64-bit word) with a release store, e.g. to an _Atomic uint64_t next to the buffer
 * pointer. A reader acquires w and opens tsdb_chunk_iter_init_snapshot(bytes, w).
 * Appending never changes a bit that was written before: it fills the unused low bits
 * of the stream's last partial byte (one relaxed atomic byte store) and stores bytes
 * after it. The reader reads the whole bytes below the published bit length (written
 * before the release), the partial byte once with a relaxed atomic load, and from the
 * header only first_t_ms, which the first append writes before anything is published
 * (n_samples and last_t_ms change with every append). No data race in the C11 model,
 * so head tests can run under TSan. Details: docs/formats/gorilla.md.
 */
#ifndef TSDB_CHUNK_H
#define TSDB_CHUNK_H

#include "common/common.h"
#include "tsdb/gorilla.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSDB_CHUNK_MAX_SAMPLES  120 /* samples per chunk at most */
#define TSDB_CHUNK_HEADER_BYTES 18  /* n_samples + first_t_ms + last_t_ms */
/* A buffer of this many bytes never fills before the sample or span limit. */
#define TSDB_CHUNK_MAX_BYTES                                                 \
	(TSDB_CHUNK_HEADER_BYTES +                                           \
	 (TSDB_GORILLA_FIRST_SAMPLE_BITS +                                   \
	  (TSDB_CHUNK_MAX_SAMPLES - 1) * TSDB_GORILLA_MAX_SAMPLE_BITS + 7) / \
	     8)
/* max_span_ms value meaning "no time-span limit". */
#define TSDB_CHUNK_SPAN_UNLIMITED INT64_MAX

/* A chunk being appended to. The bytes are the caller's; this is only the write state. */
typedef struct tsdb_chunk {
	uint8_t *buf;         /* borrowed: header then stream, cap_bytes long */
	size_t cap_bytes;     /* capacity of buf */
	int64_t max_span_ms;  /* full when t - first_t >= this (UNLIMITED: never) */
	int64_t first_t_ms;   /* timestamp of sample 0 (valid when enc.n_samples > 0) */
	tsdb_gorilla_enc enc; /* stream state: last sample, window, bits used */
} tsdb_chunk;

/* Reads a chunk's bytes (complete, or the first n samples of one being appended). */
typedef struct tsdb_chunk_iter {
	tsdb_gorilla_dec dec; /* stream decoder; borrows the bytes */
	int64_t last_t_ms;    /* header's last timestamp, checked when a complete chunk ends */
	int64_t pend_t_ms;    /* sample found by seek, returned by the next read */
	double pend_v;
	bool has_pending; /* pend_* holds a sample */
	bool is_snapshot; /* opened with _init_snapshot: header n/last_t not used */
} tsdb_chunk_iter;

/*
 * Start an empty chunk in buf (borrowed, cap_bytes long; must outlive the chunk) and
 * write its empty header. max_span_ms > 0, or TSDB_CHUNK_SPAN_UNLIMITED.
 * TS_OK, or TS_EINVAL when cap_bytes < TSDB_CHUNK_HEADER_BYTES + 8 or max_span_ms <= 0.
 * Not thread-safe for one chunk (one writer).
 */
int tsdb_chunk_init(tsdb_chunk *c, uint8_t *buf, size_t cap_bytes, int64_t max_span_ms,
		    ts_err *err);

/*
 * Append one sample. Returns TS_OK; TS_EOUTOFORDER if t_ms is before the last sample;
 * TS_EINVAL if equal to it (the head drops duplicates first); TS_EFULL when the chunk
 * already has TSDB_CHUNK_MAX_SAMPLES samples, t_ms - first_t_ms >= max_span_ms, or the
 * bits do not fit in the buffer. On any error the chunk and its bytes are unchanged.
 * Order errors win over TS_EFULL, so cutting a new chunk on TS_EFULL is always right.
 * A successful append may zero up to 7 bytes of buf past the new chunk end (scratch).
 * One writer per chunk; snapshot readers see the sample once the writer has stored
 * tsdb_chunk_published(c) with a release store.
 */
int tsdb_chunk_append(tsdb_chunk *c, int64_t t_ms, double v, ts_err *err);

/* The chunk's bytes (borrowed: c's buffer) and their length: header + stream. */
const uint8_t *tsdb_chunk_bytes(const tsdb_chunk *c);
size_t tsdb_chunk_len(const tsdb_chunk *c);
/* Samples in the chunk. */
uint32_t tsdb_chunk_n_samples(const tsdb_chunk *c);

/*
 * The publication word for snapshot readers: n_samples << 32 | stream bits. The writer
 * stores it with memory_order_release after each successful append (and after
 * tsdb_chunk_init, as 0); readers load it with memory_order_acquire.
 */
uint64_t tsdb_chunk_published(const tsdb_chunk *c);
/* The sample count in a publication word. */
static inline uint32_t tsdb_chunk_published_n(uint64_t published)
{
	return (uint32_t)(published >> 32);
}
/* Timestamps of the first and last samples; only meaningful when n_samples > 0. */
int64_t tsdb_chunk_first_t(const tsdb_chunk *c);
int64_t tsdb_chunk_last_t(const tsdb_chunk *c);

/*
 * Copy the chunk into buf (borrowed, cap_bytes long; may not overlap the old buffer)
 * and continue appending there, e.g. to grow the buffer on TS_EFULL. TS_OK or
 * TS_EINVAL if cap_bytes < tsdb_chunk_len(c) (c unchanged then). The old buffer is no
 * longer used by c; readers still on it keep reading consistent bytes.
 */
int tsdb_chunk_move(tsdb_chunk *c, uint8_t *buf, size_t cap_bytes, ts_err *err);

/*
 * Reopen complete chunk bytes for appending: buf (borrowed) holds len_bytes of a chunk
 * and has room for cap_bytes. Decodes and validates every sample. TS_OK; TS_ECORRUPT
 * if the bytes are not a valid chunk; TS_EINVAL for bad cap_bytes/max_span_ms. A
 * sample already past max_span_ms is not an error; the next append gets TS_EFULL.
 */
int tsdb_chunk_resume(tsdb_chunk *c, uint8_t *buf, size_t len_bytes, size_t cap_bytes,
		      int64_t max_span_ms, ts_err *err);

/*
 * Open an iterator over complete chunk bytes (data borrowed, len_bytes long, must stay
 * valid and unchanged while iterating). Checks the header: TS_OK or TS_ECORRUPT. The
 * iterator also checks, when the last sample is decoded, that its timestamp equals the
 * header's last_t_ms and that only zero padding follows. Never reads past len_bytes.
 */
int tsdb_chunk_iter_init(tsdb_chunk_iter *it, const uint8_t *data, size_t len_bytes, ts_err *err);

/*
 * Open an iterator over the samples published in `published` (tsdb_chunk_published(),
 * acquired by the reader) of a chunk that another thread may still be appending to.
 * data (borrowed) is the chunk's buffer; only first_t_ms is read from its header, then
 * the stream bits the word covers. TS_OK, or TS_EINVAL if the word is not a valid
 * publication (more than TSDB_CHUNK_MAX_SAMPLES samples, or a bit length no stream of
 * that many samples can have). Decoding checks that the samples end exactly at the
 * published bit length.
 */
int tsdb_chunk_iter_init_snapshot(tsdb_chunk_iter *it, const uint8_t *data, uint64_t published,
				  ts_err *err);

/*
 * Next sample in time order: returns 1 and sets *t_ms and *v, 0 at the end, or
 * TS_ECORRUPT (sticky). Outputs are written only when 1 is returned.
 * Thread-safety (all iterator calls): an iterator belongs to one thread; any number of
 * iterators may read the same bytes at once.
 */
int tsdb_chunk_iter_next(tsdb_chunk_iter *it, int64_t *t_ms, double *v, ts_err *err);

/*
 * Decode up to max samples into t_ms[] and v[] (either may be NULL). Returns the count
 * (0 at the end) or TS_ECORRUPT. The fast path for scanning whole chunks.
 */
int tsdb_chunk_iter_read(tsdb_chunk_iter *it, int64_t *t_ms, double *v, size_t max, ts_err *err);

/*
 * Move forward to the first sample with timestamp >= t_ms, at or after the current
 * position (an iterator never moves back). Returns 1 when there is one (the next
 * read returns it), 0 when there is none (the iterator is at its end), or TS_ECORRUPT.
 */
int tsdb_chunk_iter_seek(tsdb_chunk_iter *it, int64_t t_ms, ts_err *err);

#endif /* TSDB_CHUNK_H */
