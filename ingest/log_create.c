/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_create.c: create an empty embedded log whose partitions continue at given offsets.
 *
 * A store restored from a snapshot (tsdb_snapshot) has persisted offsets from the log it
 * was cut from; the consumer refuses a log that ends below them (a lost log would make
 * later writes invisible at the next replay). A snapshot therefore carries an empty log:
 * <dir>/pNNNN/<next:%020>.seg, each a bare 16-byte segment header (log_segment.h), so
 * the log opens with first = next = that offset and new writes continue above every
 * offset the snapshot's blocks cover. log.meta is left for ingest_log_local_open to
 * create, so a restore may use any partition count (docs/formats/log.md).
 *
 * Tested by tests/integration/test_snapshot.sh (restore into a new server) and
 * tests/ingest/test_log_create.c.
 */
#include "ingest/ingest.h"

#include "ingest/log_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int errno_code(int e)
{
	return e == ENOSPC || e == EDQUOT ? TS_ENOSPC : TS_EIO;
}

int ingest_log_local_create_at(const char *dir, int n_partitions, const uint64_t *next, ts_err *err)
{
	if (n_partitions < 1 || n_partitions > TSDB_MAX_PARTITIONS)
		return ts_err_set(err, TS_EINVAL, "log: %d partitions", n_partitions);
	char path[4096];
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return ts_err_set(err, errno_code(errno), "log: mkdir %s: %s", dir,
				  strerror(errno));
	for (int p = 0; p < n_partitions; p++) {
		int n = snprintf(path, sizeof(path), "%s/p%04d", dir, p);
		if (n < 0 || (size_t)n >= sizeof(path) - 32)
			return ts_err_set(err, TS_EINVAL, "log: path too long: %s", dir);
		if (mkdir(path, 0755) != 0)
			return ts_err_set(err, errno == EEXIST ? TS_EEXIST : errno_code(errno),
					  "log: mkdir %s: %s", path, strerror(errno));
		size_t dl = (size_t)n;
		snprintf(path + dl, sizeof(path) - dl, "/%020llu.seg", (unsigned long long)next[p]);
		uint8_t h[INGEST_SEG_HDR_BYTES];
		ingest_seg_put_header(h, next[p]);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return ts_err_set(err, errno_code(errno), "log: create %s: %s", path,
					  strerror(errno));
		int e = write(fd, h, sizeof(h)) == (ssize_t)sizeof(h) ? 0 : (errno ? errno : EIO);
		if (!e && fdatasync(fd) != 0)
			e = errno;
		close(fd);
		if (e)
			return ts_err_set(err, errno_code(e), "log: write %s: %s", path,
					  strerror(e));
		path[dl] = '\0';
		if ((e = ingest_seg_fsync_dir(path)))
			return ts_err_set(err, errno_code(e), "log: fsync %s: %s", path,
					  strerror(e));
	}
	int e = ingest_seg_fsync_dir(dir);
	if (e)
		return ts_err_set(err, errno_code(e), "log: fsync %s: %s", dir, strerror(e));
	return TS_OK;
}
