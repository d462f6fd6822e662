/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log_local.c: tests of the embedded partitioned log (ingest/log.c, log_local.c,
 * log_segment.c): append/read across segment rolls, reopen, torn and corrupt tails,
 * mid-segment corruption seen by readers, checkpoints, concurrent appenders and group
 * commit, blocking readers, back-pressure, ENOSPC and sync failures (fault hooks),
 * argument errors, the directory lock and the partition-count guard.
 */
#include "ingest/log.h"

#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* A fresh empty directory STRATA_TEST_TMP/log_local/<name>; returns a static path. */
static const char *fresh_dir(const char *name)
{
	static char path[1024];
	mkdir(STRATA_TEST_TMP, 0755);
	mkdir(STRATA_TEST_TMP "/log_local", 0755);
	snprintf(path, sizeof(path), STRATA_TEST_TMP "/log_local/%s", name);
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return path;
}

static ingest_log *open_log(const char *dir, int parts, uint64_t seg_bytes, uint64_t max_pending)
{
	ingest_log_local_options o = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	o.dir = dir;
	o.n_partitions = parts;
	o.segment_bytes = seg_bytes;
	o.max_pending_bytes = max_pending;
	ingest_log *l = NULL;
	ts_err err = {0};
	int rc = ingest_log_local_open(&o, &l, &err);
	if (rc)
		fail_msg("open %s: %s", dir, err.msg);
	return l;
}

/* A record holding `n` samples of series {__name__="m", id=<id>} with value = seq. */
static void make_rec(ts_buf *out, int id, int seq, int n)
{
	ingest_record_builder *b;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &b, NULL),
			 TS_OK);
	char v[32];
	snprintf(v, sizeof(v), "%d", id);
	ts_label l[] = {{"__name__", "m"}, {"id", v}};
	for (int i = 0; i < n; i++)
		assert_int_equal(ingest_record_builder_add(b, l, 2, 1000 * i, seq, NULL), TS_OK);
	ts_buf_init(out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(b, out, NULL), TS_OK);
	ingest_record_builder_free(b);
}

typedef struct first_sample {
	char id[32];
	double v;
	int n;
} first_sample;

static int take_first(void *ctx, const ts_label *l, size_t n, int64_t t, double v)
{
	(void)t;
	first_sample *f = ctx;
	if (f->n++ == 0) {
		snprintf(f->id, sizeof(f->id), "%s", ts_labels_get(l, n, "id"));
		f->v = v;
	}
	return TS_OK;
}

/* Decode rec and return (id, seq) of its first sample. */
static void rec_ident(const void *rec, size_t len, int *id, int *seq)
{
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	first_sample f = {{0}, 0, 0};
	ts_err err = {0};
	int rc = ingest_record_decode(d, rec, len, take_first, &f, &err);
	if (rc)
		fail_msg("decode: %s", err.msg);
	ingest_record_decoder_free(d);
	*id = (int)strtol(f.id, NULL, 10);
	*seq = (int)f.v;
}

static uint64_t append_rec(ingest_log *l, int part, int id, int seq, int n)
{
	ts_buf r;
	make_rec(&r, id, seq, n);
	uint64_t off = UINT64_MAX;
	ts_err err = {0};
	int rc = ingest_log_append(l, part, r.data, r.len, &off, &err);
	if (rc)
		fail_msg("append: %s", err.msg);
	ts_buf_free(&r);
	return off;
}

static ingest_log_partition_stats stats(ingest_log *l, int part)
{
	ingest_log_partition_stats s;
	assert_int_equal(ingest_log_stats(l, part, &s, NULL), TS_OK);
	return s;
}

/* Read records from `from` until none is left; check offsets and (id, seq) = (0, off). */
static uint64_t read_all(ingest_log *l, int part, uint64_t from)
{
	ingest_log_reader *r;
	ts_err err = {0};
	int rc = ingest_log_reader_open(l, part, from, &r, &err);
	if (rc)
		fail_msg("reader_open: %s", err.msg);
	uint64_t want = from, n = 0;
	for (;;) {
		const void *rec;
		size_t len;
		uint64_t off;
		rc = ingest_log_reader_next(r, &rec, &len, &off, 0, &err);
		if (rc == TS_ETIMEOUT)
			break;
		if (rc)
			fail_msg("reader_next: %s", err.msg);
		assert_true(off == want);
		int id, seq;
		rec_ident(rec, len, &id, &seq);
		assert_int_equal(seq, (int)off);
		want++;
		n++;
	}
	ingest_log_reader_close(r);
	return n;
}

static size_t count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0, sl = strlen(suffix);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len >= sl && strcmp(e->d_name + len - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Path of the newest (highest base) segment of partition 0. */
static void last_segment(const char *dir, char *out, size_t cap)
{
	char pdir[1024];
	snprintf(pdir, sizeof(pdir), "%s/p0000", dir);
	DIR *d = opendir(pdir);
	assert_non_null(d);
	char best[256] = "";
	struct dirent *e;
	while ((e = readdir(d)))
		if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0 &&
		    strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	snprintf(out, cap, "%s/%s", pdir, best);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- basic */

static void test_ingest_log_append_read_across_rolls(void **state)
{
	(void)state;
	const char *dir = fresh_dir("rolls");
	ingest_log *l = open_log(dir, 2, 4096, 0);
	assert_int_equal(ingest_log_n_partitions(l), 2);
	assert_string_equal(ingest_log_backend(l), "local");
	for (int i = 0; i < 300; i++)
		assert_true(append_rec(l, 0, 0, i, 1 + i % 20) == (uint64_t)i);
	assert_true(append_rec(l, 1, 0, 0, 3) == 0);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.next_offset == 300);
	assert_true(s.first_offset == 0);
	assert_true(s.n_appends == 300);
	assert_true(s.n_segments > 5);
	assert_true(s.n_syncs >= 300 && s.n_syncs < 300 + s.n_segments + 1);
	assert_int_equal(stats(l, 1).next_offset, 1);
	assert_int_equal(read_all(l, 0, 0), 300);
	assert_int_equal(read_all(l, 0, 123), 300 - 123);
	assert_int_equal(read_all(l, 0, 299), 1);
	assert_int_equal(read_all(l, 0, 300), 0);
	assert_int_equal(read_all(l, 1, 0), 1);
	ingest_log_close(l);
}

static void test_ingest_log_local_open_reopen_continues(void **state)
{
	(void)state;
	const char *dir = fresh_dir("reopen");
	ingest_log *l = open_log(dir, 1, 8192, 0);
	for (int i = 0; i < 50; i++)
		append_rec(l, 0, 0, i, 10);
	ingest_log_close(l);
	l = open_log(dir, 1, 8192, 0);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.next_offset == 50);
	assert_true(s.n_repairs == 0);
	assert_true(append_rec(l, 0, 0, 50, 10) == 50);
	assert_int_equal(read_all(l, 0, 0), 51);
	ingest_log_close(l);
}

static void test_ingest_log_local_open_guards(void **state)
{
	(void)state;
	const char *dir = fresh_dir("guards");
	ingest_log *l = open_log(dir, 2, 8192, 0);
	/* a second open of the same directory is refused while the first holds the lock */
	ingest_log_local_options o = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	o.dir = dir;
	o.n_partitions = 2;
	ingest_log *l2 = NULL;
	ts_err err = {0};
	assert_int_equal(ingest_log_local_open(&o, &l2, &err), TS_EBUSY);
	ingest_log_close(l);
	/* the partition count is fixed once created */
	o.n_partitions = 3;
	assert_int_equal(ingest_log_local_open(&o, &l2, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "2 partitions"));
	o.n_partitions = 0;
	assert_int_equal(ingest_log_local_open(&o, &l2, &err), TS_EINVAL);
	o.n_partitions = 2;
	o.segment_bytes = 100;
	assert_int_equal(ingest_log_local_open(&o, &l2, &err), TS_EINVAL);
	o.dir = NULL;
	assert_int_equal(ingest_log_local_open(&o, &l2, &err), TS_EINVAL);
}

static void test_ingest_log_append_invalid(void **state)
{
	(void)state;
	const char *dir = fresh_dir("invalid");
	ingest_log *l = open_log(dir, 2, 8192, 0);
	ts_buf r;
	make_rec(&r, 0, 0, 1);
	ts_err err = {0};
	assert_int_equal(ingest_log_append(l, 2, r.data, r.len, NULL, &err), TS_EINVAL);
	assert_int_equal(ingest_log_append(l, -1, r.data, r.len, NULL, &err), TS_EINVAL);
	assert_int_equal(ingest_log_append(l, 0, r.data, 0, NULL, &err), TS_EINVAL);
	assert_int_equal(ingest_log_append(l, 0, "garbage-garbage-garbage", 23, NULL, &err),
			 TS_EINVAL);
	assert_non_null(strstr(err.msg, "bad magic"));
	assert_int_equal(ingest_log_append(l, 0, r.data, INGEST_RECORD_MAX_BYTES + 1, NULL, &err),
			 TS_ELIMIT);
	ingest_log_reader *rd;
	assert_int_equal(ingest_log_reader_open(l, 0, 1, &rd, &err), TS_EINVAL);
	assert_int_equal(ingest_log_reader_open(l, 5, 0, &rd, &err), TS_EINVAL);
	assert_int_equal(ingest_log_checkpoint(l, 0, 0, &err), TS_EINVAL);
	ingest_log_partition_stats s;
	assert_int_equal(ingest_log_stats(l, 9, &s, &err), TS_EINVAL);
	assert_true(stats(l, 0).next_offset == 0);
	ingest_log_local_faults f = {-1, 0, 0};
	assert_int_equal(ingest_log_local_set_faults(l, &f, NULL), TS_OK);
	ts_buf_free(&r);
	ingest_log_close(l);
	ingest_log_close(NULL);
	ingest_log_reader_close(NULL);
}

/* ---------------------------------------------------------------- recovery */

static void test_ingest_log_local_open_truncates_garbage_tail(void **state)
{
	(void)state;
	const char *dir = fresh_dir("garbage_tail");
	ingest_log *l = open_log(dir, 1, 1 << 20, 0);
	for (int i = 0; i < 5; i++)
		append_rec(l, 0, 0, i, 4);
	ingest_log_close(l);
	char seg[1200];
	last_segment(dir, seg, sizeof(seg));
	off_t good = file_size(seg);
	FILE *f = fopen(seg, "ab");
	assert_non_null(f);
	for (int i = 0; i < 100; i++)
		fputc(i * 37, f);
	fclose(f);
	l = open_log(dir, 1, 1 << 20, 0);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.next_offset == 5);
	assert_true(s.n_repairs == 1);
	assert_true(s.n_repaired_bytes == 100);
	assert_int_equal(file_size(seg), good);
	assert_true(append_rec(l, 0, 0, 5, 4) == 5);
	assert_int_equal(read_all(l, 0, 0), 6);
	ingest_log_close(l);
}

static void test_ingest_log_local_open_truncates_torn_record(void **state)
{
	(void)state;
	const char *dir = fresh_dir("torn_record");
	ingest_log *l = open_log(dir, 1, 1 << 20, 0);
	for (int i = 0; i < 5; i++)
		append_rec(l, 0, 0, i, 30);
	ingest_log_close(l);
	char seg[1200];
	last_segment(dir, seg, sizeof(seg));
	off_t size = file_size(seg);
	assert_int_equal(truncate(seg, size - 7), 0); /* tear the last record */
	l = open_log(dir, 1, 1 << 20, 0);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.next_offset == 4);
	assert_true(s.n_repairs == 1);
	assert_true(append_rec(l, 0, 0, 4, 30) == 4);
	assert_int_equal(read_all(l, 0, 0), 5);
	ingest_log_close(l);
	/* torn header of a freshly created segment */
	char pdir[1100], extra[1200];
	snprintf(pdir, sizeof(pdir), "%s/p0000", dir);
	snprintf(extra, sizeof(extra), "%s/%020d.seg", pdir, 5);
	FILE *f = fopen(extra, "wb");
	assert_non_null(f);
	fputs("STS", f);
	fclose(f);
	l = open_log(dir, 1, 1 << 20, 0);
	s = stats(l, 0);
	assert_true(s.next_offset == 5);
	assert_int_equal(s.n_segments, 2);
	assert_true(append_rec(l, 0, 0, 5, 30) == 5);
	assert_int_equal(read_all(l, 0, 0), 6);
	ingest_log_close(l);
}

/* Damage followed by intact frames in the last segment: quarantine, then truncate. */
static void test_ingest_log_local_open_quarantines_damage(void **state)
{
	(void)state;
	const char *dir = fresh_dir("quarantine");
	ingest_log *l = open_log(dir, 1, 1 << 20, 0);
	for (int i = 0; i < 10; i++)
		append_rec(l, 0, 0, i, 8);
	ingest_log_close(l);
	char seg[1200], pdir[1100];
	last_segment(dir, seg, sizeof(seg));
	snprintf(pdir, sizeof(pdir), "%s/p0000", dir);
	off_t size = file_size(seg);
	/* frames are equal-sized: flip a byte inside frame 3 */
	off_t frame = (size - 16) / 10;
	int fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	unsigned char c;
	assert_int_equal(pread(fd, &c, 1, 16 + 3 * frame + 30), 1);
	c ^= 0xFF;
	assert_int_equal(pwrite(fd, &c, 1, 16 + 3 * frame + 30), 1);
	close(fd);
	l = open_log(dir, 1, 1 << 20, 0);
	assert_true(stats(l, 0).next_offset == 3);
	assert_int_equal(count_files(pdir, ".corrupt"), 1);
	assert_int_equal(read_all(l, 0, 0), 3);
	ingest_log_close(l);
}

/* A damaged record in an older segment: the reader reports it and skips past it. */
static void test_ingest_log_reader_next_corrupt_middle_segment(void **state)
{
	(void)state;
	const char *dir = fresh_dir("corrupt_middle");
	ingest_log *l = open_log(dir, 1, 4096, 0);
	for (int i = 0; i < 100; i++)
		append_rec(l, 0, 0, i, 8);
	assert_true(stats(l, 0).n_segments >= 3);
	ingest_log_close(l);
	/* flip a byte in the 3rd frame of the first segment */
	char seg[1200];
	snprintf(seg, sizeof(seg), "%s/p0000/%020d.seg", dir, 0);
	ts_buf r;
	make_rec(&r, 0, 0, 8);
	off_t frame = 16 + (off_t)r.len;
	ts_buf_free(&r);
	int fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	unsigned char c = 0x55;
	assert_int_equal(pwrite(fd, &c, 1, 16 + 2 * frame + 40), 1);
	close(fd);

	l = open_log(dir, 1, 4096, 0);
	ingest_log_reader *rd;
	assert_int_equal(ingest_log_reader_open(l, 0, 0, &rd, NULL), TS_OK);
	uint64_t want = 0;
	int n_corrupt = 0;
	for (;;) {
		const void *rec;
		size_t len;
		uint64_t off;
		ts_err err = {0};
		int rc = ingest_log_reader_next(rd, &rec, &len, &off, 0, &err);
		if (rc == TS_ETIMEOUT)
			break;
		if (rc == TS_ECORRUPT) {
			n_corrupt++;
			assert_non_null(strstr(err.msg, "00000000000000000000.seg byte"));
			assert_non_null(strstr(err.msg, "1 record(s) skipped"));
			want++;
			continue;
		}
		assert_int_equal(rc, TS_OK);
		assert_true(off == want);
		want++;
	}
	assert_int_equal(n_corrupt, 1);
	assert_true(want == 100);
	ingest_log_reader_close(rd);
	/* positioning a reader past the damage works too */
	assert_int_equal(read_all(l, 0, 10), 90);
	ingest_log_close(l);
}

/* Base offsets of partition 0's segments, ascending; returns how many. */
static size_t segment_bases(const char *dir, uint64_t *out, size_t cap)
{
	char pdir[1100];
	snprintf(pdir, sizeof(pdir), "%s/p0000", dir);
	DIR *d = opendir(pdir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0 && n < cap)
			out[n++] = strtoull(e->d_name, NULL, 10);
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && out[k - 1] > out[k]; k--) {
			uint64_t t = out[k];
			out[k] = out[k - 1];
			out[k - 1] = t;
		}
	return n;
}

/* A segment whose header is unusable is skipped as a whole, reported once. */
static void test_ingest_log_reader_next_skips_bad_segment(void **state)
{
	(void)state;
	const char *dir = fresh_dir("bad_segment");
	ingest_log *l = open_log(dir, 1, 4096, 0);
	for (int i = 0; i < 100; i++)
		append_rec(l, 0, 0, i, 8);
	ingest_log_close(l);
	uint64_t bases[64];
	size_t n = segment_bases(dir, bases, 64);
	assert_true(n >= 4);
	char seg[1200];
	snprintf(seg, sizeof(seg), "%s/p0000/%020llu.seg", dir, (unsigned long long)bases[1]);
	int fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XXXX", 4, 0), 4);
	close(fd);

	l = open_log(dir, 1, 4096, 0);
	ingest_log_reader *rd;
	assert_int_equal(ingest_log_reader_open(l, 0, 0, &rd, NULL), TS_OK);
	uint64_t want = 0, got = 0;
	int n_corrupt = 0;
	for (;;) {
		const void *rec;
		size_t len;
		uint64_t off;
		ts_err err = {0};
		int rc = ingest_log_reader_next(rd, &rec, &len, &off, 0, &err);
		if (rc == TS_ETIMEOUT)
			break;
		if (rc == TS_ECORRUPT) {
			n_corrupt++;
			assert_non_null(strstr(err.msg, "skipping the segment"));
			want = bases[2];
			continue;
		}
		assert_int_equal(rc, TS_OK);
		assert_true(off == want);
		want++;
		got++;
	}
	assert_int_equal(n_corrupt, 1);
	assert_true(got == 100 - (bases[2] - bases[1]));
	ingest_log_reader_close(rd);
	/* a reader opened inside the bad segment starts at the next one */
	assert_int_equal(ingest_log_reader_open(l, 0, bases[1] + 1, &rd, NULL), TS_OK);
	const void *rec;
	size_t len;
	uint64_t off;
	assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, 0, NULL), TS_OK);
	assert_true(off == bases[2]);
	ingest_log_reader_close(rd);
	assert_int_equal(read_all(l, 0, bases[2]), 100 - bases[2]);
	ingest_log_close(l);
}

/* A checkpoint past what a reader has read deletes its segment: TS_ENOTFOUND. */
static void test_ingest_log_reader_next_segment_deleted(void **state)
{
	(void)state;
	const char *dir = fresh_dir("deleted_under_reader");
	ingest_log *l = open_log(dir, 1, 4096, 0);
	for (int i = 0; i < 100; i++)
		append_rec(l, 0, 0, i, 8);
	ingest_log_reader *rd;
	assert_int_equal(ingest_log_reader_open(l, 0, 0, &rd, NULL), TS_OK);
	const void *rec;
	size_t len;
	uint64_t off;
	assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, 0, NULL), TS_OK);
	assert_int_equal(ingest_log_checkpoint(l, 0, 90, NULL), TS_OK);
	ts_err err = {0};
	assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, 0, &err), TS_ENOTFOUND);
	assert_non_null(strstr(err.msg, "deleted"));
	ingest_log_reader_close(rd);
	ingest_log_close(l);
}

/* ---------------------------------------------------------------- checkpoint */

static void test_ingest_log_checkpoint_deletes_whole_segments(void **state)
{
	(void)state;
	const char *dir = fresh_dir("checkpoint");
	ingest_log *l = open_log(dir, 1, 4096, 0);
	const uint64_t n = 200;
	for (uint64_t i = 0; i < n; i++)
		append_rec(l, 0, 0, (int)i, 8);
	char pdir[1100];
	snprintf(pdir, sizeof(pdir), "%s/p0000", dir);
	ingest_log_partition_stats s = stats(l, 0);
	uint32_t n_seg = s.n_segments;
	assert_true(n_seg >= 5);
	assert_int_equal(count_files(pdir, ".seg"), n_seg);
	assert_true(ingest_log_stats_lag_records(&s) == n);

	assert_int_equal(ingest_log_checkpoint(l, 0, 80, NULL), TS_OK);
	s = stats(l, 0);
	/* the first remaining segment is the one holding offset 81 */
	assert_true(s.first_offset <= 81);
	assert_true(s.first_offset > 0);
	assert_true(s.checkpoint_next == 81);
	assert_true(ingest_log_stats_lag_records(&s) == n - 81);
	assert_true(ingest_log_stats_consumer_lag(&s, n - 10) == 10);
	assert_true(ingest_log_stats_consumer_lag(&s, n + 5) == 0);
	assert_int_equal(count_files(pdir, ".seg"), s.n_segments);
	assert_true(s.n_segments < n_seg);
	assert_true(s.n_deleted_segments == n_seg - s.n_segments);
	assert_int_equal(read_all(l, 0, 81), n - 81);
	assert_int_equal(read_all(l, 0, s.first_offset), n - s.first_offset);
	ingest_log_reader *rd;
	ts_err err = {0};
	assert_int_equal(ingest_log_reader_open(l, 0, 0, &rd, &err), TS_ENOTFOUND);
	assert_non_null(strstr(err.msg, "deleted"));
	/* an older checkpoint is ignored; one at the end keeps the active segment */
	assert_int_equal(ingest_log_checkpoint(l, 0, 10, NULL), TS_OK);
	assert_true(stats(l, 0).checkpoint_next == 81);
	assert_int_equal(ingest_log_checkpoint(l, 0, n, &err), TS_EINVAL);
	assert_int_equal(ingest_log_checkpoint(l, 0, n - 1, NULL), TS_OK);
	s = stats(l, 0);
	assert_int_equal(s.n_segments, 1);
	assert_true(s.pending_bytes == 0);
	assert_true(s.first_offset <= n - 1);
	assert_true(append_rec(l, 0, 0, (int)n, 8) == n);
	ingest_log_close(l);
	/* after reopen the offsets continue from the surviving segment */
	l = open_log(dir, 1, 4096, 0);
	assert_true(stats(l, 0).next_offset == n + 1);
	ingest_log_close(l);
}

/* ---------------------------------------------------------------- concurrency */

#define N_THREADS  8
#define PER_THREAD 150

typedef struct appender_arg {
	ingest_log *l;
	int id;
	uint64_t offsets[PER_THREAD];
	int failures;
} appender_arg;

static void *appender(void *p)
{
	appender_arg *a = p;
	for (int i = 0; i < PER_THREAD; i++) {
		ts_buf r;
		make_rec(&r, a->id, i, 5 + i % 7);
		if (ingest_log_append(a->l, 0, r.data, r.len, &a->offsets[i], NULL) != TS_OK)
			a->failures++;
		ts_buf_free(&r);
	}
	return NULL;
}

static void test_ingest_log_append_concurrent_group_commit(void **state)
{
	(void)state;
	const char *dir = fresh_dir("concurrent");
	ingest_log *l = open_log(dir, 1, 64 * 1024, 0);
	/* a slow sync makes appenders pile up behind the leader, as on a real disk */
	ingest_log_local_faults f = {-1, 0, 2000};
	assert_int_equal(ingest_log_local_set_faults(l, &f, NULL), TS_OK);
	static appender_arg args[N_THREADS];
	pthread_t th[N_THREADS];
	for (int i = 0; i < N_THREADS; i++) {
		args[i].l = l;
		args[i].id = i;
		args[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, appender, &args[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	static uint8_t seen[N_THREADS * PER_THREAD];
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(args[i].failures, 0);
		for (int k = 0; k < PER_THREAD; k++) {
			uint64_t off = args[i].offsets[k];
			assert_true(off < N_THREADS * PER_THREAD);
			assert_int_equal(seen[off], 0);
			seen[off] = 1;
			if (k > 0)
				assert_true(off > args[i].offsets[k - 1]);
		}
	}
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.n_appends == N_THREADS * PER_THREAD);
	double per_sync = (double)s.n_appends / (double)s.n_syncs;
	print_message("group commit: %llu appends, %llu syncs, %.2f records/sync\n",
		      (unsigned long long)s.n_appends, (unsigned long long)s.n_syncs, per_sync);
	/* without gathering batches alternate 1, N-1 (about N/2 per sync) */
	assert_true(per_sync > N_THREADS * 0.6);
	ingest_log_close(l);
	/* every record is there with the right content after reopen */
	l = open_log(dir, 1, 64 * 1024, 0);
	ingest_log_reader *rd;
	assert_int_equal(ingest_log_reader_open(l, 0, 0, &rd, NULL), TS_OK);
	for (uint64_t want = 0; want < N_THREADS * PER_THREAD; want++) {
		const void *rec;
		size_t len;
		uint64_t off;
		assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, 0, NULL), TS_OK);
		assert_true(off == want);
		int id, seq;
		rec_ident(rec, len, &id, &seq);
		assert_true(args[id].offsets[seq] == off);
	}
	ingest_log_reader_close(rd);
	ingest_log_close(l);
}

typedef struct consumer_arg {
	ingest_log *l;
	uint64_t total;  /* records to read */
	uint64_t n_read; /* records read, all in offset order */
	int failures;    /* unexpected results */
} consumer_arg;

/* Reads everything in order while appenders run, checkpointing as it goes. */
static void *consumer(void *p)
{
	consumer_arg *c = p;
	ingest_log_reader *rd;
	if (ingest_log_reader_open(c->l, 0, 0, &rd, NULL) != TS_OK) {
		c->failures++;
		return NULL;
	}
	while (c->n_read < c->total) {
		const void *rec;
		size_t len;
		uint64_t off;
		ts_err err = {0};
		int rc = ingest_log_reader_next(rd, &rec, &len, &off, 50, &err);
		if (rc == TS_ETIMEOUT)
			continue;
		if (rc != TS_OK || off != c->n_read) {
			print_message("consumer at %llu: %s\n", (unsigned long long)c->n_read,
				      err.msg);
			c->failures++;
			break;
		}
		int id, seq;
		rec_ident(rec, len, &id, &seq);
		if (id < 0 || id >= N_THREADS || seq < 0 || seq >= PER_THREAD)
			c->failures++;
		c->n_read++;
		if (off % 37 == 0 && ingest_log_checkpoint(c->l, 0, off, &err) != TS_OK) {
			print_message("checkpoint %llu: %s\n", (unsigned long long)off, err.msg);
			c->failures++;
		}
	}
	ingest_log_reader_close(rd);
	return NULL;
}

/* Appenders, a tailing reader and checkpoints at once, with a roll every few records. */
static void test_ingest_log_concurrent_append_read_checkpoint(void **state)
{
	(void)state;
	const char *dir = fresh_dir("concurrent_rw");
	ingest_log *l = open_log(dir, 1, 4096, 0);
	static appender_arg args[N_THREADS];
	pthread_t th[N_THREADS], cth;
	consumer_arg c = {l, N_THREADS * PER_THREAD, 0, 0};
	assert_int_equal(pthread_create(&cth, NULL, consumer, &c), 0);
	for (int i = 0; i < N_THREADS; i++) {
		args[i].l = l;
		args[i].id = i;
		args[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, appender, &args[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_join(cth, NULL);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(args[i].failures, 0);
	assert_int_equal(c.failures, 0);
	assert_true(c.n_read == N_THREADS * PER_THREAD);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.next_offset == N_THREADS * PER_THREAD);
	assert_true(s.n_deleted_segments > 10);
	assert_true(s.first_offset > 0);
	ingest_log_close(l);
}

typedef struct late_arg {
	ingest_log *l;
	int delay_ms;
} late_arg;

static void *late_appender(void *p)
{
	late_arg *a = p;
	usleep((useconds_t)a->delay_ms * 1000);
	append_rec(a->l, 0, 0, 0, 3);
	return NULL;
}

static void test_ingest_log_reader_next_blocks_with_timeout(void **state)
{
	(void)state;
	const char *dir = fresh_dir("blocking");
	ingest_log *l = open_log(dir, 1, 8192, 0);
	ingest_log_reader *rd;
	assert_int_equal(ingest_log_reader_open(l, 0, 0, &rd, NULL), TS_OK);
	const void *rec = NULL;
	size_t len = 0;
	uint64_t off = 77;
	ts_err err = {0};
	int64_t t0 = now_ms();
	assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, 100, &err), TS_ETIMEOUT);
	int64_t waited = now_ms() - t0;
	assert_true(waited >= 95);
	assert_true(waited < 2000);
	assert_true(off == 77); /* untouched */
	assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, 0, &err), TS_ETIMEOUT);

	/* a record appended while the reader waits wakes it promptly */
	late_arg a = {l, 50};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, late_appender, &a), 0);
	t0 = now_ms();
	assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, 5000, &err), TS_OK);
	assert_true(now_ms() - t0 < 2500);
	assert_true(off == 0);
	pthread_join(th, NULL);
	/* the same across a segment roll, waiting forever */
	for (int i = 1; i < 40; i++)
		append_rec(l, 0, 0, i, 20);
	for (uint64_t want = 1; want < 40; want++) {
		assert_int_equal(ingest_log_reader_next(rd, &rec, &len, &off, -1, &err), TS_OK);
		assert_true(off == want);
	}
	assert_true(stats(l, 0).n_segments > 1);
	ingest_log_reader_close(rd);
	ingest_log_close(l);
}

/* ---------------------------------------------------------------- back-pressure, faults */

static void test_ingest_log_append_backpressure(void **state)
{
	(void)state;
	const char *dir = fresh_dir("backpressure");
	ingest_log *l = open_log(dir, 1, 1 << 20, 64 * 1024);
	ts_buf r;
	make_rec(&r, 0, 0, 100);
	ts_err err = {0};
	int rc = TS_OK, n = 0;
	uint64_t off = 0;
	while (n < 10000 && (rc = ingest_log_append(l, 0, r.data, r.len, &off, &err)) == TS_OK)
		n++;
	assert_int_equal(rc, TS_EBUSY);
	assert_non_null(strstr(err.msg, "not yet checkpointed"));
	assert_true((uint64_t)n * r.len >= 60 * 1024);
	assert_true((uint64_t)n * r.len < 80 * 1024);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.n_busy == 1);
	assert_true(s.next_offset == (uint64_t)n);
	assert_true(s.pending_bytes >= 64 * 1024);
	/* a checkpoint of everything relieves it */
	assert_int_equal(ingest_log_checkpoint(l, 0, (uint64_t)n - 1, NULL), TS_OK);
	assert_true(stats(l, 0).pending_bytes == 0);
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_OK);
	assert_true(off == (uint64_t)n);
	/* a partial checkpoint relieves part of it */
	while (ingest_log_append(l, 0, r.data, r.len, &off, &err) == TS_OK)
		;
	uint64_t before = stats(l, 0).pending_bytes;
	assert_int_equal(ingest_log_checkpoint(l, 0, off - 20, NULL), TS_OK);
	uint64_t after = stats(l, 0).pending_bytes;
	assert_true(after < before);
	assert_true(after >= 20 * r.len);
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_OK);
	ts_buf_free(&r);
	ingest_log_close(l);
}

static void test_ingest_log_append_enospc(void **state)
{
	(void)state;
	const char *dir = fresh_dir("enospc");
	ingest_log *l = open_log(dir, 1, 1 << 20, 0);
	for (int i = 0; i < 3; i++)
		append_rec(l, 0, 0, i, 20);
	char seg[1200];
	last_segment(dir, seg, sizeof(seg));
	off_t size = file_size(seg);
	ingest_log_local_faults f = {100, 0, 0}; /* room for only part of the next frame */
	assert_int_equal(ingest_log_local_set_faults(l, &f, NULL), TS_OK);
	ts_buf r;
	make_rec(&r, 0, 3, 20);
	assert_true(r.len > 100);
	ts_err err = {0};
	uint64_t off = 999;
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_ENOSPC);
	assert_true(off == 999);
	assert_int_equal(file_size(seg), size); /* the partial write was cut back */
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_ENOSPC);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.n_nospc == 2);
	assert_true(s.next_offset == 3);
	/* space comes back: appends work and continue the offsets */
	f.space_bytes = -1;
	assert_int_equal(ingest_log_local_set_faults(l, &f, NULL), TS_OK);
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_OK);
	assert_true(off == 3);
	assert_int_equal(read_all(l, 0, 0), 4);
	ts_buf_free(&r);
	ingest_log_close(l);
	l = open_log(dir, 1, 1 << 20, 0);
	assert_true(stats(l, 0).n_repairs == 0);
	assert_int_equal(read_all(l, 0, 0), 4);
	ingest_log_close(l);
}

/* ENOSPC while creating the next segment: the append fails, the log stays usable. */
static void test_ingest_log_append_enospc_on_roll(void **state)
{
	(void)state;
	const char *dir = fresh_dir("enospc_roll");
	ingest_log *l = open_log(dir, 1, 4096, 0);
	ts_buf r;
	make_rec(&r, 0, 0, 30);
	uint64_t off;
	int n = 0;
	/* fill the first segment up to the roll */
	while ((uint64_t)(n + 1) * (16 + r.len) + 16 <= 4096) {
		ts_buf_free(&r);
		make_rec(&r, 0, n, 30);
		assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, NULL), TS_OK);
		n++;
	}
	assert_int_equal(stats(l, 0).n_segments, 1);
	ingest_log_local_faults f = {8, 0, 0}; /* not even a segment header fits */
	assert_int_equal(ingest_log_local_set_faults(l, &f, NULL), TS_OK);
	ts_buf_free(&r);
	make_rec(&r, 0, n, 30);
	ts_err err = {0};
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_ENOSPC);
	assert_int_equal(stats(l, 0).n_segments, 1);
	f.space_bytes = -1;
	assert_int_equal(ingest_log_local_set_faults(l, &f, NULL), TS_OK);
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_OK);
	assert_true(off == (uint64_t)n);
	assert_int_equal(stats(l, 0).n_segments, 2);
	assert_int_equal(read_all(l, 0, 0), (uint64_t)n + 1);
	ts_buf_free(&r);
	ingest_log_close(l);
}

static void test_ingest_log_append_sync_failure(void **state)
{
	(void)state;
	const char *dir = fresh_dir("sync_failure");
	ingest_log *l = open_log(dir, 1, 1 << 20, 0);
	append_rec(l, 0, 0, 0, 5);
	ingest_log_local_faults f = {-1, 1, 0};
	assert_int_equal(ingest_log_local_set_faults(l, &f, NULL), TS_OK);
	ts_buf r;
	make_rec(&r, 0, 1, 5);
	ts_err err = {0};
	uint64_t off;
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_EIO);
	assert_non_null(strstr(err.msg, "sync failed"));
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.next_offset == 1);
	assert_true(s.n_io_errors == 1);
	assert_int_equal(read_all(l, 0, 0), 1);
	assert_int_equal(ingest_log_append(l, 0, r.data, r.len, &off, &err), TS_OK);
	assert_true(off == 1);
	assert_int_equal(read_all(l, 0, 0), 2);
	ts_buf_free(&r);
	ingest_log_close(l);
	l = open_log(dir, 1, 1 << 20, 0);
	assert_true(stats(l, 0).n_repairs == 0);
	assert_int_equal(read_all(l, 0, 0), 2);
	ingest_log_close(l);
}

static void test_ingest_log_local_open_alloc_failures(void **state)
{
	(void)state;
	const char *dir = fresh_dir("alloc");
	ingest_log *l = open_log(dir, 3, 4096, 0);
	for (int i = 0; i < 40; i++)
		append_rec(l, 1, 0, i, 10);
	ingest_log_close(l);
	ingest_log_local_options o = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	o.dir = dir;
	o.n_partitions = 3;
	o.segment_bytes = 4096;
	for (int64_t n = 0;; n++) {
		ts_alloc_fail_after(n);
		l = NULL;
		int rc = ingest_log_local_open(&o, &l, NULL);
		ingest_log_reader *rd = NULL;
		if (rc == TS_OK)
			rc = ingest_log_reader_open(l, 1, 5, &rd, NULL);
		const void *rec;
		size_t len;
		uint64_t off;
		if (rc == TS_OK)
			rc = ingest_log_reader_next(rd, &rec, &len, &off, 0, NULL);
		ts_alloc_fail_after(-1);
		ingest_log_reader_close(rd);
		ingest_log_close(l);
		if (rc == TS_OK) {
			assert_true(off == 5);
			break;
		}
		assert_int_equal(rc, TS_ENOMEM);
		assert_true(n < 1000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_log_append_read_across_rolls),
	    cmocka_unit_test(test_ingest_log_local_open_reopen_continues),
	    cmocka_unit_test(test_ingest_log_local_open_guards),
	    cmocka_unit_test(test_ingest_log_append_invalid),
	    cmocka_unit_test(test_ingest_log_local_open_truncates_garbage_tail),
	    cmocka_unit_test(test_ingest_log_local_open_truncates_torn_record),
	    cmocka_unit_test(test_ingest_log_local_open_quarantines_damage),
	    cmocka_unit_test(test_ingest_log_reader_next_corrupt_middle_segment),
	    cmocka_unit_test(test_ingest_log_reader_next_skips_bad_segment),
	    cmocka_unit_test(test_ingest_log_reader_next_segment_deleted),
	    cmocka_unit_test(test_ingest_log_checkpoint_deletes_whole_segments),
	    cmocka_unit_test(test_ingest_log_append_concurrent_group_commit),
	    cmocka_unit_test(test_ingest_log_concurrent_append_read_checkpoint),
	    cmocka_unit_test(test_ingest_log_reader_next_blocks_with_timeout),
	    cmocka_unit_test(test_ingest_log_append_backpressure),
	    cmocka_unit_test(test_ingest_log_append_enospc),
	    cmocka_unit_test(test_ingest_log_append_enospc_on_roll),
	    cmocka_unit_test(test_ingest_log_append_sync_failure),
	    cmocka_unit_test(test_ingest_log_local_open_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
