/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sfile.c: the section-file container of block files: streaming writer, verifying
 * mmap reader (layout in sfile.h and docs/formats/block.md section 2).
 *
 * Writer: sections go through a 1 MiB buffer to write(2); each section's CRC-32C is
 * computed while it streams, so a multi-gigabyte chunk section never sits in memory.
 * finish() appends the toc and footer and fsyncs; the caller fsyncs the directory
 * and renames (block_write.c).
 *
 * Reader: every byte read from disk is input (STYLE 4). Before a section is handed
 * out the reader has checked the header and footer magic, the version, that the toc
 * lies exactly between the sections and the footer, that every section lies inside
 * [8, toc) without overflow, that ids are unique, the flags known, and every CRC. A
 * snappy section must inflate to its recorded length, which may not exceed 64 times
 * its stored length (a sanity bound; snappy cannot expand further), so corrupt input
 * never drives a large allocation.
 */
#include "tsdb/sfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WBUF_BYTES (1u << 20)

/* -------------------------------------------------------------------------------------
 * Writer
 * ---------------------------------------------------------------------------------- */

static int io_err(tsdb_sfile_w *w, const char *what, ts_err *err)
{
	int e = errno;
	return ts_err_set(err, e == ENOSPC || e == EDQUOT ? TS_ENOSPC : TS_EIO, "%s %s: %s", what,
			  w->path, strerror(e));
}

static int write_all(tsdb_sfile_w *w, const uint8_t *p, size_t n, ts_err *err)
{
	while (n) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return io_err(w, "write", err);
		}
		p += k;
		n -= (size_t)k;
	}
	return TS_OK;
}

static int flush_buf(tsdb_sfile_w *w, ts_err *err)
{
	int rc = write_all(w, w->buf, w->buf_len, err);
	w->buf_len = 0;
	return rc;
}

static int put(tsdb_sfile_w *w, const void *p, size_t n, ts_err *err)
{
	const uint8_t *s = p;
	w->off += n;
	if (n >= w->buf_cap) {
		int rc = flush_buf(w, err);
		return rc ? rc : write_all(w, s, n, err);
	}
	if (w->buf_cap - w->buf_len < n) {
		int rc = flush_buf(w, err);
		if (rc)
			return rc;
	}
	memcpy(w->buf + w->buf_len, s, n);
	w->buf_len += n;
	return TS_OK;
}

int tsdb_sfile_create(tsdb_sfile_w *w, const char *path, uint32_t magic, ts_err *err)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->magic = magic;
	if (snprintf(w->path, sizeof(w->path), "%s", path) >= (int)sizeof(w->path))
		return ts_err_set(err, TS_EINVAL, "path too long: %s", path);
	w->buf = ts_malloc(WBUF_BYTES);
	if (!w->buf)
		return ts_err_set(err, TS_ENOMEM, "out of memory creating %s", path);
	w->buf_cap = WBUF_BYTES;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int rc = io_err(w, "create", err);
		ts_free(w->buf);
		w->buf = NULL;
		return rc;
	}
	uint8_t hdr[TSDB_SFILE_HEADER] = {0};
	ts_put_u32le(hdr, magic);
	hdr[4] = TSDB_SFILE_VERSION;
	return put(w, hdr, sizeof(hdr), err);
}

int tsdb_sfile_begin(tsdb_sfile_w *w, uint32_t id, ts_err *err)
{
	if (TS_NEVER(w->in_section) || w->n_toc == TSDB_SFILE_MAX_SECS)
		return ts_err_set(err, TS_EINVAL, "%s: too many sections", w->path);
	tsdb_sfile_toc *t = &w->toc[w->n_toc];
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->offset = w->off;
	w->in_section = true;
	return TS_OK;
}

int tsdb_sfile_write(tsdb_sfile_w *w, const void *p, size_t n, ts_err *err)
{
	if (TS_NEVER(!w->in_section))
		return ts_err_set(err, TS_EINVAL, "%s: write outside a section", w->path);
	if (n == 0)
		return TS_OK;
	tsdb_sfile_toc *t = &w->toc[w->n_toc];
	t->crc = ts_crc32c(t->crc, p, n);
	t->stored_len += n;
	t->raw_len += n;
	return put(w, p, n, err);
}

int tsdb_sfile_end(tsdb_sfile_w *w, ts_err *err)
{
	if (TS_NEVER(!w->in_section))
		return ts_err_set(err, TS_EINVAL, "%s: no open section", w->path);
	w->in_section = false;
	w->n_toc++;
	return TS_OK;
}

int tsdb_sfile_section(tsdb_sfile_w *w, uint32_t id, const void *p, size_t n, bool try_snappy,
		       ts_err *err)
{
	uint8_t *z = NULL;
	size_t zlen = 0;
	/* Compress only when it saves at least 1/8: inflating costs time on every open. */
	if (try_snappy && n >= 64 && tsdb_snappy_compress(p, n, &z, &zlen, NULL) == TS_OK &&
	    zlen >= n - n / 8) {
		ts_free(z);
		z = NULL;
	}
	int rc = tsdb_sfile_begin(w, id, err);
	if (rc == TS_OK)
		rc = tsdb_sfile_write(w, z ? z : p, z ? zlen : n, err);
	if (rc == TS_OK && z) {
		w->toc[w->n_toc].flags = TSDB_SFILE_F_SNAPPY;
		w->toc[w->n_toc].raw_len = n;
	}
	if (rc == TS_OK)
		rc = tsdb_sfile_end(w, err);
	ts_free(z);
	return rc;
}

uint64_t tsdb_sfile_size(const tsdb_sfile_w *w)
{
	return w->off;
}

int tsdb_sfile_finish(tsdb_sfile_w *w, ts_err *err)
{
	int rc = TS_OK;
	uint64_t toc_off = w->off;
	uint8_t e[TSDB_SFILE_TOC_ENTRY], n4[4];
	ts_put_u32le(n4, w->n_toc);
	uint32_t crc = ts_crc32c(0, n4, 4);
	if ((rc = put(w, n4, 4, err)))
		goto out;
	for (uint32_t i = 0; i < w->n_toc; i++) {
		const tsdb_sfile_toc *t = &w->toc[i];
		memset(e, 0, sizeof(e));
		ts_put_u32le(e, t->id);
		ts_put_u32le(e + 4, t->flags);
		ts_put_u64le(e + 8, t->offset);
		ts_put_u64le(e + 16, t->stored_len);
		ts_put_u64le(e + 24, t->raw_len);
		ts_put_u32le(e + 32, t->crc);
		crc = ts_crc32c(crc, e, sizeof(e));
		if ((rc = put(w, e, sizeof(e), err)))
			goto out;
	}
	uint8_t foot[TSDB_SFILE_FOOTER];
	ts_put_u64le(foot, toc_off);
	ts_put_u32le(foot + 8, crc);
	ts_put_u32le(foot + 12, w->magic);
	if ((rc = put(w, foot, sizeof(foot), err)) || (rc = flush_buf(w, err)))
		goto out;
	if (fsync(w->fd) != 0)
		rc = io_err(w, "fsync", err);
out:
	if (close(w->fd) != 0 && rc == TS_OK)
		rc = io_err(w, "close", err);
	w->fd = -1;
	ts_free(w->buf);
	w->buf = NULL;
	return rc;
}

void tsdb_sfile_abort(tsdb_sfile_w *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->path[0])
		unlink(w->path);
	w->fd = -1;
	ts_free(w->buf);
	w->buf = NULL;
}

/* -------------------------------------------------------------------------------------
 * Reader
 * ---------------------------------------------------------------------------------- */

static int parse(tsdb_sfile *f, const uint8_t *d, size_t size, uint32_t magic, ts_err *err)
{
	if (size < TSDB_SFILE_HEADER + 4 + TSDB_SFILE_FOOTER)
		return ts_err_set(err, TS_ECORRUPT, "file of %zu bytes is too short", size);
	if (ts_get_u32le(d) != magic || ts_get_u32le(d + size - 4) != magic)
		return ts_err_set(err, TS_ECORRUPT, "bad magic");
	if (d[4] != TSDB_SFILE_VERSION)
		return ts_err_set(err, TS_ECORRUPT, "unsupported version %u", d[4]);
	if (d[5] || d[6] || d[7])
		return ts_err_set(err, TS_ECORRUPT, "reserved header bytes are not zero");
	uint64_t toc = ts_get_u64le(d + size - TSDB_SFILE_FOOTER);
	uint32_t toc_crc = ts_get_u32le(d + size - TSDB_SFILE_FOOTER + 8);
	size_t toc_end = size - TSDB_SFILE_FOOTER;
	if (toc < TSDB_SFILE_HEADER || toc > toc_end - 4)
		return ts_err_set(err, TS_ECORRUPT, "toc offset %llu out of bounds",
				  (unsigned long long)toc);
	uint32_t n = ts_get_u32le(d + toc);
	if (n > TSDB_SFILE_MAX_SECS || toc_end - toc - 4 != (uint64_t)n * TSDB_SFILE_TOC_ENTRY)
		return ts_err_set(err, TS_ECORRUPT, "toc of %u sections does not fit its space", n);
	if (ts_crc32c(0, d + toc, toc_end - toc) != toc_crc)
		return ts_err_set(err, TS_ECORRUPT, "toc checksum mismatch");
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = d + toc + 4 + (size_t)i * TSDB_SFILE_TOC_ENTRY;
		uint32_t id = ts_get_u32le(e), flags = ts_get_u32le(e + 4);
		uint64_t off = ts_get_u64le(e + 8), len = ts_get_u64le(e + 16);
		uint64_t raw = ts_get_u64le(e + 24);
		uint32_t crc = ts_get_u32le(e + 32);
		if (off < TSDB_SFILE_HEADER || off > toc || len > toc - off)
			return ts_err_set(err, TS_ECORRUPT, "section %u out of bounds", id);
		if (flags & ~TSDB_SFILE_F_SNAPPY)
			return ts_err_set(err, TS_ECORRUPT, "section %u: unknown flags %#x", id,
					  flags);
		for (uint32_t k = 0; k < i; k++)
			if (f->secs[k].id == id)
				return ts_err_set(err, TS_ECORRUPT, "section %u twice", id);
		if (ts_crc32c(0, d + off, (size_t)len) != crc)
			return ts_err_set(err, TS_ECORRUPT, "section %u checksum mismatch", id);
		f->secs[i].id = id;
		f->n_secs = i + 1;
		if (!(flags & TSDB_SFILE_F_SNAPPY)) {
			if (raw != len)
				return ts_err_set(err, TS_ECORRUPT, "section %u: raw length %llu",
						  id, (unsigned long long)raw);
			f->secs[i].data = d + off;
			f->secs[i].len = (size_t)len;
			continue;
		}
		if (raw > len * 64 + 64)
			return ts_err_set(err, TS_ECORRUPT, "section %u: implausible raw length",
					  id);
		int rc =
		    tsdb_snappy_uncompress(d + off, (size_t)len, (size_t)raw, &f->owned[i], err);
		if (rc) {
			ts_err_prefix(err, "section %u: ", id);
			return rc;
		}
		f->secs[i].data = f->owned[i];
		f->secs[i].len = (size_t)raw;
	}
	return TS_OK;
}

int tsdb_sfile_open_mem(tsdb_sfile *f, const uint8_t *data, size_t size, uint32_t magic,
			ts_err *err)
{
	memset(f, 0, sizeof(*f));
	f->size = size;
	int rc = parse(f, data, size, magic, err);
	if (rc)
		tsdb_sfile_close(f);
	return rc;
}

int tsdb_sfile_open(tsdb_sfile *f, const char *path, uint32_t magic, ts_err *err)
{
	memset(f, 0, sizeof(*f));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ts_err_set(err, TS_EIO, "open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return ts_err_set(err, TS_EIO, "stat %s: %s", path, strerror(e));
	}
	size_t size = (size_t)st.st_size;
	if (size < TSDB_SFILE_HEADER + 4 + TSDB_SFILE_FOOTER) {
		close(fd);
		return ts_err_set(err, TS_ECORRUPT, "%s: file of %zu bytes is too short", path,
				  size);
	}
	void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return ts_err_set(err, TS_EIO, "mmap %s: %s", path, strerror(errno));
	f->map = m;
	f->map_size = size;
	f->size = size;
	int rc = parse(f, m, size, magic, err);
	if (rc) {
		ts_err_prefix(err, "%s: ", path);
		tsdb_sfile_close(f);
	}
	return rc;
}

const tsdb_sfile_sec *tsdb_sfile_get(const tsdb_sfile *f, uint32_t id)
{
	for (uint32_t i = 0; i < f->n_secs; i++)
		if (f->secs[i].id == id)
			return &f->secs[i];
	return NULL;
}

void tsdb_sfile_close(tsdb_sfile *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; i < TSDB_SFILE_MAX_SECS; i++) {
		ts_free(f->owned[i]);
		f->owned[i] = NULL;
	}
	if (f->map)
		munmap(f->map, f->map_size);
	f->map = NULL;
	f->n_secs = 0;
}
