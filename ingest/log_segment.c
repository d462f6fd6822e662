/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_segment.c: the embedded log's segment file format: header, frames, checked reads.
 *
 * Layout in log_segment.h and docs/formats/log.md. Everything here is stateless apart from
 * a cursor's read buffer: the locking, group commit and repair policy live in log_local.c.
 * A cursor never reads at or past its limit (the durable end the caller passes), so a
 * reader cannot see a frame that is still being written.
 */
#include "ingest/log_segment.h"

#include "ingest/record.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20) /* cursor refill size */

void ingest_seg_put_header(uint8_t *h, uint64_t base)
{
	memcpy(h, INGEST_SEG_MAGIC, 4);
	h[4] = INGEST_SEG_VERSION;
	h[5] = h[6] = h[7] = 0;
	ts_put_u64le(h + 8, base);
}

const char *ingest_seg_check_header(const uint8_t *h, uint64_t base)
{
	if (memcmp(h, INGEST_SEG_MAGIC, 4) != 0)
		return "bad segment magic";
	if (h[4] != INGEST_SEG_VERSION)
		return "unsupported segment version";
	if (h[5] || h[6] || h[7])
		return "reserved header bytes not zero";
	if (ts_get_u64le(h + 8) != base)
		return "base offset in header does not match the file name";
	return NULL;
}

void ingest_seg_put_frame(uint8_t *h, size_t len, uint32_t rec_crc, uint64_t offset)
{
	ts_put_u32le(h + 4, (uint32_t)len);
	ts_put_u64le(h + 8, offset);
	ts_put_u32le(h, ts_crc32c(rec_crc, h + 4, INGEST_SEG_FRAME_BYTES - 4));
}

bool ingest_seg_parse_name(const char *name, uint64_t *base)
{
	if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0)
		return false;
	uint64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		uint64_t d = (uint64_t)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*base = v;
	return true;
}

int ingest_seg_read_full(int fd, void *buf, size_t n, uint64_t pos)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(pos + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (r == 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

int ingest_seg_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) == 0 ? 0 : errno;
	close(fd);
	return rc;
}

int ingest_seg_copy_range(int fd, uint64_t from, uint64_t size, const char *path)
{
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return errno;
	char buf[65536];
	int e = 0;
	for (uint64_t pos = from; pos < size && !e;) {
		size_t n = size - pos < sizeof(buf) ? (size_t)(size - pos) : sizeof(buf);
		e = ingest_seg_read_full(fd, buf, n, pos);
		if (e < 0)
			e = EIO;
		if (!e && write(out, buf, n) != (ssize_t)n)
			e = errno ? errno : EIO;
		pos += n;
	}
	if (!e && fsync(out) != 0)
		e = errno;
	close(out);
	return e;
}

/* ---------------------------------------------------------------- cursor */

void ingest_seg_cursor_reset(ingest_seg_cursor *c, int fd, uint64_t limit)
{
	c->fd = fd;
	c->limit = limit;
	c->buf_pos = 0;
	c->buf_len = 0;
}

void ingest_seg_cursor_fini(ingest_seg_cursor *c)
{
	ts_free(c->buf);
	c->buf = NULL;
	c->cap = 0;
	c->buf_len = 0;
}

/*
 * Make [pos, pos + n) available; a pointer to it, or NULL with *rc: TS_ECORRUPT when it
 * reaches past limit or the file is shorter than limit, TS_EIO, TS_ENOMEM.
 */
static const uint8_t *cur_get(ingest_seg_cursor *c, uint64_t pos, size_t n, int *rc)
{
	if (pos > c->limit || n > c->limit - pos) {
		*rc = TS_ECORRUPT;
		return NULL;
	}
	if (pos >= c->buf_pos && pos + n <= c->buf_pos + c->buf_len)
		return c->buf + (pos - c->buf_pos);
	size_t want = n > READ_CHUNK ? n : READ_CHUNK;
	if (want > c->limit - pos)
		want = (size_t)(c->limit - pos);
	if (want > c->cap) {
		size_t cap = c->cap ? c->cap : READ_CHUNK;
		while (cap < want)
			cap *= 2;
		uint8_t *b = ts_realloc(c->buf, cap);
		if (!b) {
			*rc = TS_ENOMEM;
			return NULL;
		}
		c->buf = b;
		c->cap = cap;
	}
	c->buf_len = 0;
	int e = ingest_seg_read_full(c->fd, c->buf, want, pos);
	if (e) {
		*rc = e < 0 ? TS_ECORRUPT : TS_EIO;
		return NULL;
	}
	c->buf_pos = pos;
	c->buf_len = want;
	return c->buf;
}

int ingest_seg_frame_at(ingest_seg_cursor *c, uint64_t pos, uint64_t expect, uint64_t expect_max,
			ingest_seg_frame *f, const char **why)
{
	int rc = TS_OK;
	const uint8_t *h = cur_get(c, pos, INGEST_SEG_FRAME_BYTES, &rc);
	if (!h) {
		*why = "frame header runs past the end of the data";
		return rc;
	}
	uint8_t hdr[INGEST_SEG_FRAME_BYTES];
	memcpy(hdr, h, sizeof(hdr)); /* the next cur_get may refill the buffer */
	uint32_t crc = ts_get_u32le(hdr), len = ts_get_u32le(hdr + 4);
	uint64_t off = ts_get_u64le(hdr + 8);
	if (len == 0 || len > INGEST_RECORD_MAX_BYTES) {
		*why = "frame length out of range";
		return TS_ECORRUPT;
	}
	if (pos + INGEST_SEG_FRAME_BYTES + len > c->limit) {
		*why = "frame runs past the end of the data";
		return TS_ECORRUPT;
	}
	if (expect_max > expect ? (off < expect || off >= expect_max) : off != expect) {
		*why = "unexpected offset in frame";
		return TS_ECORRUPT;
	}
	const uint8_t *rec = cur_get(c, pos + INGEST_SEG_FRAME_BYTES, len, &rc);
	if (!rec) {
		*why = "frame runs past the end of the file";
		return rc;
	}
	uint32_t got = ts_crc32c(ts_crc32c(0, rec, len), hdr + 4, INGEST_SEG_FRAME_BYTES - 4);
	if (got != crc) {
		*why = "frame CRC32C mismatch";
		return TS_ECORRUPT;
	}
	f->offset = off;
	f->rec = rec;
	f->len = len;
	return TS_OK;
}

int ingest_seg_resync(ingest_seg_cursor *c, uint64_t pos, uint64_t lo, uint64_t hi, uint64_t *at,
		      ingest_seg_frame *f)
{
	for (uint64_t q = pos + 1; q + INGEST_SEG_FRAME_BYTES <= c->limit; q++) {
		int rc = TS_OK;
		const uint8_t *h = cur_get(c, q, INGEST_SEG_FRAME_BYTES, &rc);
		if (!h) {
			if (rc == TS_ECORRUPT)
				break;
			return rc;
		}
		uint32_t len = ts_get_u32le(h + 4);
		uint64_t off = ts_get_u64le(h + 8);
		if (off < lo || off >= hi || len == 0 || len > INGEST_RECORD_MAX_BYTES ||
		    q + INGEST_SEG_FRAME_BYTES + len > c->limit)
			continue;
		const char *why;
		rc = ingest_seg_frame_at(c, q, lo, hi, f, &why);
		if (rc == TS_OK) {
			*at = q;
			return TS_OK;
		}
		if (rc != TS_ECORRUPT)
			return rc;
	}
	return TS_ENOTFOUND;
}
