/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sfile.h: the section-file container of block files (meta, index, chunks).
 *
 * Internal to tsdb/. A section file is a header, sections, a table of contents and a
 * footer, all little-endian (docs/formats/block.md section 2):
 *
 *   0        u32 magic, u8 version (1), 3 zero bytes
 *   8        section bytes, back to back
 *   toc      u32 n, then n entries of 40 bytes:
 *              u32 id, u32 flags (bit 0: snappy), u64 offset, u64 stored_len,
 *              u64 raw_len, u32 crc32c of the stored bytes, u32 zero
 *   size-16  u64 toc offset, u32 crc32c of the toc, u32 magic
 *
 * The writer streams sections to a file (a section may be written in pieces), the
 * reader maps the file, checks every offset, length and CRC before anything else may
 * look at it, and inflates snappy sections into owned memory. A reader over caller
 * bytes (tsdb_sfile_open_mem) serves the fuzzer.
 */
#ifndef TSDB_SFILE_H
#define TSDB_SFILE_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSDB_SFILE_VERSION   1
#define TSDB_SFILE_HEADER    8
#define TSDB_SFILE_TOC_ENTRY 40
#define TSDB_SFILE_FOOTER    16
#define TSDB_SFILE_F_SNAPPY  1u
#define TSDB_SFILE_MAX_SECS  64

typedef struct tsdb_sfile_toc {
	uint32_t id;         /* section id (file-specific) */
	uint32_t flags;      /* TSDB_SFILE_F_* */
	uint64_t offset;     /* of the stored bytes in the file */
	uint64_t stored_len; /* bytes in the file */
	uint64_t raw_len;    /* bytes after decompression (== stored_len when raw) */
	uint32_t crc;        /* crc32c of the stored bytes */
} tsdb_sfile_toc;

/* A file being written. Plain struct; owned by one thread. */
typedef struct tsdb_sfile_w {
	int fd;                                  /* -1 when closed */
	uint32_t magic;                          /* file magic */
	uint64_t off;                            /* file offset of the next byte */
	tsdb_sfile_toc toc[TSDB_SFILE_MAX_SECS]; /* sections written */
	uint32_t n_toc;                          /* entries used */
	bool in_section;                         /* between _begin and _end */
	uint8_t *buf;                            /* write buffer (owned) */
	size_t buf_len, buf_cap;                 /* bytes pending / capacity */
	char path[4096];                         /* for messages and unlink */
} tsdb_sfile_w;

/* Create (truncate) path and write the header. TS_OK, TS_EIO, TS_ENOMEM. */
int tsdb_sfile_create(tsdb_sfile_w *w, const char *path, uint32_t magic, ts_err *err);
/* Start a streamed raw section with this id. */
int tsdb_sfile_begin(tsdb_sfile_w *w, uint32_t id, ts_err *err);
/* Append bytes to the open section. TS_OK, TS_EIO, TS_ENOSPC. */
int tsdb_sfile_write(tsdb_sfile_w *w, const void *p, size_t n, ts_err *err);
/* Close the open section (its CRC is recorded). */
int tsdb_sfile_end(tsdb_sfile_w *w, ts_err *err);
/* Write a whole section; with try_snappy, store it compressed when that is smaller. */
int tsdb_sfile_section(tsdb_sfile_w *w, uint32_t id, const void *p, size_t n, bool try_snappy,
		       ts_err *err);
/* Write the toc and footer, fsync and close. TS_OK, TS_EIO, TS_ENOSPC. */
int tsdb_sfile_finish(tsdb_sfile_w *w, ts_err *err);
/* Close (if open) and unlink a file that will not be finished. Cannot fail. */
void tsdb_sfile_abort(tsdb_sfile_w *w);
/* Bytes written so far (the file size once finished). */
uint64_t tsdb_sfile_size(const tsdb_sfile_w *w);

/* One verified section of an open file. */
typedef struct tsdb_sfile_sec {
	uint32_t id;
	const uint8_t *data; /* borrowed from the file map or an owned inflated copy */
	size_t len;          /* raw length */
} tsdb_sfile_sec;

/* An open, verified file. */
typedef struct tsdb_sfile {
	uint8_t *map;    /* mmap of the file, or NULL for open_mem */
	size_t map_size; /* bytes mapped */
	size_t size;     /* file size */
	tsdb_sfile_sec secs[TSDB_SFILE_MAX_SECS];
	uint8_t *owned[TSDB_SFILE_MAX_SECS]; /* inflated section copies (ts_free) */
	uint32_t n_secs;
} tsdb_sfile;

/*
 * Map path read-only and verify header, footer, toc and every section's bounds and
 * CRC; inflate snappy sections. TS_OK, TS_EIO (cannot open/map), TS_ECORRUPT (with the
 * reason), TS_ENOMEM. On error nothing stays mapped. Thread-safe (no shared state).
 */
int tsdb_sfile_open(tsdb_sfile *f, const char *path, uint32_t magic, ts_err *err);
/* The same over caller bytes (borrowed; must outlive f). */
int tsdb_sfile_open_mem(tsdb_sfile *f, const uint8_t *data, size_t size, uint32_t magic,
			ts_err *err);
/* The section with this id, or NULL. */
const tsdb_sfile_sec *tsdb_sfile_get(const tsdb_sfile *f, uint32_t id);
/* Unmap and free. NULL allowed. */
void tsdb_sfile_close(tsdb_sfile *f);

/* ---------------------------------------------------------------- snappy (compress.c) */

/* Compress in[0..n) into an owned buffer (*out, *out_len). TS_OK, TS_ENOMEM, TS_EIO. */
int tsdb_snappy_compress(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len, ts_err *err);
/*
 * Inflate in[0..n), which must hold exactly raw_len bytes once inflated, into an owned
 * buffer. TS_OK, TS_ECORRUPT, TS_ENOMEM.
 */
int tsdb_snappy_uncompress(const uint8_t *in, size_t n, size_t raw_len, uint8_t **out, ts_err *err);

#endif /* TSDB_SFILE_H */
