/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_segment.h: the embedded log's segment file format: header, frames, checked reads.
 *
 * Internal to the embedded log (log_local.c). Byte layout (docs/formats/log.md):
 *
 *   segment header (16 bytes)
 *     0  4  magic "STSG" (53 54 53 47)
 *     4  1  version (1)
 *     5  3  zero
 *     8  8  u64le base offset (= the number in the file name)
 *   frames, back to back, until the end of the file
 *     0  4  u32le crc32c of the record bytes, continued over frame bytes 4..15
 *     4  4  u32le record length (1..INGEST_RECORD_MAX_BYTES)
 *     8  8  u64le offset of the record
 *    16  n  the record (ingest/record.h bytes)
 *
 * The file of a segment with base offset B is named "%020llu.seg" % B.
 */
#ifndef INGEST_LOG_SEGMENT_H
#define INGEST_LOG_SEGMENT_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_SEG_MAGIC       "STSG"
#define INGEST_SEG_VERSION     1
#define INGEST_SEG_HDR_BYTES   16 /* segment header */
#define INGEST_SEG_FRAME_BYTES 16 /* frame header */

/* Write the 16-byte header of a segment with base offset `base` to h. */
void ingest_seg_put_header(uint8_t *h, uint64_t base);

/* Check a segment header against its file name's base: NULL if fine, else the reason. */
const char *ingest_seg_check_header(const uint8_t *h, uint64_t base);

/* Write the 16-byte frame header of a len-byte record whose crc32c (from 0) is rec_crc. */
void ingest_seg_put_frame(uint8_t *h, size_t len, uint32_t rec_crc, uint64_t offset);

/* Is name "<20 digits>.seg"? Then *base gets the number. */
bool ingest_seg_parse_name(const char *name, uint64_t *base);

/* Read exactly n bytes at pos: 0, an errno, or -1 when the file ends first. */
int ingest_seg_read_full(int fd, void *buf, size_t n, uint64_t pos);

/* fsync a directory (after creating, renaming or deleting in it): 0 or an errno. */
int ingest_seg_fsync_dir(const char *dir);

/* Copy bytes [from, size) of fd to a new file at path and fsync it: 0 or an errno. */
int ingest_seg_copy_range(int fd, uint64_t from, uint64_t size, const char *path);

/* Buffered, bounds-checked reading of frames in [0, limit) of one segment file. */
typedef struct ingest_seg_cursor {
	int fd;           /* borrowed; -1 when none */
	uint64_t limit;   /* readable end: nothing at or past it is ever read */
	uint8_t *buf;     /* owned read buffer */
	size_t cap;       /* bytes allocated */
	uint64_t buf_pos; /* file position of buf[0] */
	size_t buf_len;   /* valid bytes in buf */
} ingest_seg_cursor;

/* A frame that passed every check; rec points into the cursor buffer. */
typedef struct ingest_seg_frame {
	uint64_t offset;    /* record offset */
	const uint8_t *rec; /* record bytes, valid until the cursor's next read */
	size_t len;         /* record length */
} ingest_seg_frame;

/* Point c at fd (borrowed) with readable end limit, dropping buffered data. */
void ingest_seg_cursor_reset(ingest_seg_cursor *c, int fd, uint64_t limit);
/* Free the buffer. */
void ingest_seg_cursor_fini(ingest_seg_cursor *c);

/*
 * Check the frame at byte pos: header and record inside limit, length in range, offset ==
 * expect (or in [expect, expect_max) when expect_max > expect), CRC. TS_OK with *f;
 * TS_ECORRUPT with *why (static string); TS_EIO; TS_ENOMEM.
 */
int ingest_seg_frame_at(ingest_seg_cursor *c, uint64_t pos, uint64_t expect, uint64_t expect_max,
			ingest_seg_frame *f, const char **why);

/*
 * Find the first intact frame after byte pos whose offset is in [lo, hi) (a byte-by-byte
 * scan; CRCs are checked only where length and offset are plausible). TS_OK with *at and
 * *f; TS_ENOTFOUND when none lies before limit; TS_EIO; TS_ENOMEM.
 */
int ingest_seg_resync(ingest_seg_cursor *c, uint64_t pos, uint64_t lo, uint64_t hi, uint64_t *at,
		      ingest_seg_frame *f);

#endif /* INGEST_LOG_SEGMENT_H */
