/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist.c: the state files of the notifier (notification log, silences, outbox
 *
 * Tested by tests/alert/test_nlog.c, test_outbox.c and test_silences.c (their files go
 * through it).
 * entries): framing, atomic replacement, bounded decoding (alert/notify_int.h).
 *
 * Layout (docs/formats/alerting.md): magic u32le | version u32le | records, each
 *   len u32le | crc32c(payload) u32le | payload[len]
 * A file is written whole to "<path>.tmp", fsync'd, renamed over <path>, and the
 * directory fsync'd, so a reader sees the old file or the new one, never a mix (a crash
 * leaves at most a stale .tmp, which the next write replaces). A record whose CRC fails is
 * reported as TS_ECORRUPT: the caller logs it and skips it (or quarantines the file).
 */
#include "alert/notify_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int io_err(ts_err *err, const char *op, const char *path)
{
	int e = errno;
	return ts_err_set(err, e == ENOSPC ? TS_ENOSPC : TS_EIO, "%s %s: %s", op, path,
			  strerror(e));
}

int alert_persist_sync_dir(const char *dir, ts_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return io_err(err, "open", dir);
	int rc = fsync(fd) ? io_err(err, "fsync", dir) : TS_OK;
	close(fd);
	return rc;
}

int alert_persist_mkdir(const char *dir, ts_err *err)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(p))
		return ts_err_set(err, TS_EINVAL, "bad directory name '%s'", dir);
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return io_err(err, "mkdir", p);
		p[i] = c;
	}
	return TS_OK;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int alert_persist_write(const char *path, uint32_t magic, uint32_t version, const ts_buf *records,
			ts_err *err)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return ts_err_set(err, TS_EINVAL, "path too long: %s", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_err(err, "create", tmp);
	uint8_t hdr[8];
	ts_put_u32le(hdr, magic);
	ts_put_u32le(hdr + 4, version);
	if (write_all(fd, hdr, sizeof(hdr)) ||
	    (records->len && write_all(fd, records->data, records->len))) {
		int rc = io_err(err, "write", tmp);
		close(fd);
		unlink(tmp);
		return rc;
	}
	if (fsync(fd)) {
		int rc = io_err(err, "fsync", tmp);
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if (rename(tmp, path)) {
		int rc = io_err(err, "rename", tmp);
		unlink(tmp);
		return rc;
	}
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		return alert_persist_sync_dir(".", err);
	size_t dl = slash == path ? 1 : (size_t)(slash - path);
	memcpy(dir, path, dl);
	dir[dl] = '\0';
	return alert_persist_sync_dir(dir, err);
}

int alert_persist_read(const char *path, uint32_t magic, uint32_t max_version, uint8_t **data,
		       size_t *len, uint32_t *version, ts_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return ts_err_set(err, TS_ENOTFOUND, "%s: no such file", path);
		return io_err(err, "open", path);
	}
	struct stat st;
	if (fstat(fd, &st)) {
		int rc = io_err(err, "stat", path);
		close(fd);
		return rc;
	}
	if (st.st_size < 8 || (uint64_t)st.st_size > ALERT_PERSIST_MAX_FILE) {
		close(fd);
		return ts_err_set(err, TS_ECORRUPT, "%s: bad size %lld", path,
				  (long long)st.st_size);
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = ts_malloc(n);
	if (!buf) {
		close(fd);
		return ts_err_set(err, TS_ENOMEM, "out of memory reading %s", path);
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != n) {
		ts_free(buf);
		return ts_err_set(err, TS_EIO, "%s: short read", path);
	}
	uint32_t v = ts_get_u32le(buf + 4);
	if (ts_get_u32le(buf) != magic || v == 0 || v > max_version) {
		ts_free(buf);
		return ts_err_set(err, TS_ECORRUPT, "%s: bad magic or version %u", path, v);
	}
	*data = buf;
	*len = n;
	*version = v;
	return TS_OK;
}

int alert_persist_frame(ts_buf *b, const void *payload, size_t n)
{
	if (n > UINT32_MAX)
		return TS_ELIMIT;
	int rc = ts_buf_put_u32le(b, (uint32_t)n);
	rc = rc ? rc : ts_buf_put_u32le(b, ts_crc32c(0, payload, n));
	return rc ? rc : ts_buf_append(b, payload, n);
}

int alert_persist_next(const uint8_t **p, const uint8_t *end, const uint8_t **rec, size_t *n)
{
	if (*p == end)
		return TS_ENOTFOUND;
	if (end - *p < 8)
		return TS_ECORRUPT;
	uint32_t len = ts_get_u32le(*p), crc = ts_get_u32le(*p + 4);
	if ((size_t)(end - *p - 8) < len)
		return TS_ECORRUPT;
	const uint8_t *r = *p + 8;
	*p = r + len;
	if (ts_crc32c(0, r, len) != crc)
		return TS_ECORRUPT;
	*rec = r;
	*n = len;
	return TS_OK;
}

int alert_put_bytes(ts_buf *b, const void *p, size_t n)
{
	int rc = ts_buf_put_uvarint(b, n);
	return rc ? rc : ts_buf_append(b, p, n);
}

int alert_put_str(ts_buf *b, const char *s)
{
	return alert_put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

static bool need(alert_rd *r, size_t n)
{
	if (r->rc || (size_t)(r->end - r->p) < n) {
		if (!r->rc)
			r->rc = TS_ECORRUPT;
		return false;
	}
	return true;
}

uint8_t alert_rd_u8(alert_rd *r)
{
	return need(r, 1) ? *r->p++ : 0;
}

uint32_t alert_rd_u32(alert_rd *r)
{
	if (!need(r, 4))
		return 0;
	uint32_t v = ts_get_u32le(r->p);
	r->p += 4;
	return v;
}

uint64_t alert_rd_u64(alert_rd *r)
{
	if (!need(r, 8))
		return 0;
	uint64_t v = ts_get_u64le(r->p);
	r->p += 8;
	return v;
}

uint64_t alert_rd_uvarint(alert_rd *r)
{
	uint64_t v = 0;
	if (r->rc)
		return 0;
	if (ts_get_uvarint(&r->p, r->end, &v)) {
		r->rc = TS_ECORRUPT;
		return 0;
	}
	return v;
}

const char *alert_rd_str(alert_rd *r, size_t *n)
{
	uint64_t l = alert_rd_uvarint(r);
	if (!need(r, l)) {
		*n = 0;
		return "";
	}
	const char *s = (const char *)r->p;
	r->p += l;
	*n = (size_t)l;
	return s;
}

char *alert_rd_strdup(alert_rd *r)
{
	size_t n;
	const char *s = alert_rd_str(r, &n);
	if (r->rc)
		return NULL;
	if (memchr(s, '\0', n)) {
		r->rc = TS_ECORRUPT;
		return NULL;
	}
	char *d = ts_strndup(s, n);
	if (!d)
		r->rc = TS_ENOMEM;
	return d;
}

int alert_persist_load(const char *path, uint32_t magic, uint32_t version, const char *what,
		       int (*fn)(void *ctx, const uint8_t *rec, size_t n), void *ctx, ts_err *err)
{
	uint8_t *data;
	size_t len;
	uint32_t ver;
	ts_err e = {0};
	int rc = alert_persist_read(path, magic, version, &data, &len, &ver, &e);
	if (rc == TS_ENOTFOUND)
		return TS_OK;
	if (rc == TS_ECORRUPT) {
		ts_log_error("%s %s unreadable (%s); starting empty", what, path, e.msg);
		return TS_OK;
	}
	if (rc)
		return ts_err_set(err, rc, "%s", e.msg);
	const uint8_t *p = data + 8, *end = data + len, *rec;
	size_t n, bad = 0;
	for (;;) {
		const uint8_t *before = p;
		rc = alert_persist_next(&p, end, &rec, &n);
		if (rc == TS_ENOTFOUND)
			break;
		if (rc) {
			bad++;
			if (p == before) /* framing broken: nothing after it can be trusted */
				break;
			continue; /* CRC mismatch: skip this record */
		}
		rc = fn(ctx, rec, n);
		if (rc == TS_ECORRUPT) {
			bad++;
			continue;
		}
		if (rc) {
			ts_free(data);
			return ts_err_set(err, TS_ENOMEM, "out of memory loading %s", path);
		}
	}
	ts_free(data);
	if (bad)
		ts_log_error("%s %s: skipped %zu corrupt records", what, path, bad);
	return TS_OK;
}
