/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_consumer.c: tests of the log consumers (ingest/consumer.c): records appended to an
 * embedded log reach the store exactly once; replay into a fresh store and into the same
 * store (duplicates dropped); drain on stop; corrupt records (bad record CRC) and corrupt
 * segment frames are skipped and counted; a resume offset below the first retained offset
 * starts at the first retained one; the replay-done flag; the consumer-lag bound (admit)
 * and its accounting; store rejections counted; records at hand merged into one append
 * per series in time order; the series cache: a series removed from the store while
 * cached still gets its samples, a cache over its bound is dropped and refilled.
 */
#include "ingest/consumer.h"

#include "ingest/log.h"
#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 15000 /* upper bound of every wait */
#define T0      1700000000000LL

/* ---------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* A fresh empty directory STRATA_TEST_TMP/consumer/<name>; returns a static path. */
static const char *fresh_dir(const char *name)
{
	static char path[1024];
	mkdir(STRATA_TEST_TMP, 0755);
	mkdir(STRATA_TEST_TMP "/consumer", 0755);
	snprintf(path, sizeof(path), STRATA_TEST_TMP "/consumer/%s", name);
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return path;
}

static ingest_log *open_log(const char *dir, int parts, uint64_t seg_bytes)
{
	ingest_log_local_options o = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	o.dir = dir;
	o.n_partitions = parts;
	o.segment_bytes = seg_bytes;
	ingest_log *l = NULL;
	ts_err err = {0};
	if (ingest_log_local_open(&o, &l, &err))
		fail_msg("open %s: %s", dir, err.msg);
	return l;
}

static tsdb_db *open_db(int parts)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.n_partitions = parts;
	o.out_of_order_window_ms = 0;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static ingest_consumers *start_opt(ingest_log *l, tsdb_db *db, uint64_t max_lag, bool is_paused)
{
	ingest_consumers_options o = {
	    .log = l, .db = db, .max_lag_bytes = max_lag, .poll_ms = 20, .is_paused = is_paused};
	ingest_consumers *c = NULL;
	ts_err err = {0};
	if (ingest_consumers_start(&o, &c, &err))
		fail_msg("start: %s", err.msg);
	return c;
}

static ingest_consumers *start_cache(ingest_log *l, tsdb_db *db, size_t cache_bytes)
{
	ingest_consumers_options o = {
	    .log = l, .db = db, .poll_ms = 20, .series_cache_bytes = cache_bytes};
	ingest_consumers *c = NULL;
	ts_err err = {0};
	if (ingest_consumers_start(&o, &c, &err))
		fail_msg("start: %s", err.msg);
	return c;
}

static ingest_consumers *start(ingest_log *l, tsdb_db *db, uint64_t max_lag)
{
	return start_opt(l, db, max_lag, false);
}

/* Append a record of n samples of series m{id="<id>"}, t = T0 + 1000 * (first + i). */
/* A record of n samples of m{id="<id>"}: t = T0 + first..first+n-1 s, value = t index + add. */
static size_t append_rec_v(ingest_log *l, int part, int id, int first, int n, double add)
{
	ingest_record_builder *b;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &b, NULL),
			 TS_OK);
	char v[32];
	snprintf(v, sizeof(v), "%d", id);
	ts_label lb[] = {{"__name__", "m"}, {"id", v}};
	for (int i = 0; i < n; i++)
		assert_int_equal(ingest_record_builder_add(b, lb, 2, T0 + 1000LL * (first + i),
							   first + i + add, NULL),
				 TS_OK);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(b, &out, NULL), TS_OK);
	ingest_record_builder_free(b);
	ts_err err = {0};
	if (ingest_log_append(l, part, out.data, out.len, NULL, &err))
		fail_msg("append: %s", err.msg);
	size_t len = out.len;
	ts_buf_free(&out);
	return len;
}

/* A record of one sample of each of m{id="<id0>"} .. m{id="<id0 + n_series - 1>"} at
 * t = T0 + 1000 * first, value first. */
static void append_multi(ingest_log *l, int part, int id0, int n_series, int first)
{
	ingest_record_builder *b;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &b, NULL),
			 TS_OK);
	for (int i = 0; i < n_series; i++) {
		char v[32];
		snprintf(v, sizeof(v), "%d", id0 + i);
		ts_label lb[] = {{"__name__", "m"}, {"id", v}};
		assert_int_equal(
		    ingest_record_builder_add(b, lb, 2, T0 + 1000LL * first, first, NULL), TS_OK);
	}
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(b, &out, NULL), TS_OK);
	ingest_record_builder_free(b);
	assert_int_equal(ingest_log_append(l, part, out.data, out.len, NULL, NULL), TS_OK);
	ts_buf_free(&out);
}

static size_t append_rec(ingest_log *l, int part, int id, int first, int n)
{
	return append_rec_v(l, part, id, first, n, 0);
}

/* Samples of m{id="<id>"} in the store; checks they are first, first+1, ... in order. */
static size_t count_series(tsdb_db *db, int id, int first)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", id);
	ts_matcher m[2];
	assert_int_equal(ts_matcher_init(&m[0], TS_MATCH_EQ, "__name__", "m", NULL), TS_OK);
	assert_int_equal(ts_matcher_init(&m[1], TS_MATCH_EQ, "id", v, NULL), TS_OK);
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, 0, INT64_MAX / 4, &q, NULL), TS_OK);
	tsdb_series **s = NULL;
	size_t n = 0, count = 0;
	assert_int_equal(tsdb_select(q, m, 2, 0, &s, &n, NULL), TS_OK);
	for (size_t i = 0; i < n; i++) {
		tsdb_iter *it;
		assert_int_equal(tsdb_iter_open(q, s[i], 0, INT64_MAX / 4, &it, NULL), TS_OK);
		int64_t t;
		double x;
		while (tsdb_iter_next(it, &t, &x) == 1) {
			assert_int_equal(t, T0 + 1000LL * (first + (int64_t)count));
			assert_true(x == (double)(first + (int64_t)count));
			count++;
		}
		tsdb_iter_close(it);
	}
	ts_free(s);
	tsdb_querier_close(q);
	ts_matcher_fini(&m[0]);
	ts_matcher_fini(&m[1]);
	return count;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Wait until partition p's consumer has applied everything below `next`. */
static void wait_applied(ingest_consumers *c, int p, uint64_t next)
{
	for (int64_t end = ts_now_ms() + WAIT_MS; ts_now_ms() < end; sleep_ms(2)) {
		ingest_consumer_stats st;
		ingest_consumers_stats(c, p, &st);
		if (st.next_offset >= next)
			return;
	}
	fail_msg("partition %d did not reach offset %llu", p, (unsigned long long)next);
}

static void wait_replayed(ingest_consumers *c)
{
	for (int64_t end = ts_now_ms() + WAIT_MS; ts_now_ms() < end; sleep_ms(2))
		if (ingest_consumers_replay_done(c))
			return;
	fail_msg("replay did not finish");
}

/* ---------------------------------------------------------------- tests */

static void test_ingest_consumers_start_round_trip(void **state)
{
	const char *dir = fresh_dir("round_trip");
	ingest_log *l = open_log(dir, 3, 1 << 20);
	tsdb_db *db = open_db(3);
	ingest_consumers *c = start(l, db, 0);
	wait_replayed(c); /* an empty log is replayed at once */
	for (int p = 0; p < 3; p++)
		for (int r = 0; r < 5; r++)
			append_rec(l, p, p, r * 10, 10);
	for (int p = 0; p < 3; p++)
		wait_applied(c, p, 5);
	for (int p = 0; p < 3; p++) {
		assert_int_equal(count_series(db, p, 0), 50);
		ingest_consumer_stats st;
		ingest_consumers_stats(c, p, &st);
		assert_int_equal(st.n_records, 5);
		assert_int_equal(st.n_samples, 50);
		assert_int_equal(st.n_rejected, 0);
		assert_int_equal(st.n_corrupt, 0);
		assert_int_equal(st.n_cache_drops, 0); /* 64 MiB by default */
		assert_true(st.cache_bytes > 0);
		assert_true(st.is_replayed);
	}
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_start_replay_fresh_store(void **state)
{
	const char *dir = fresh_dir("replay_fresh");
	ingest_log *l = open_log(dir, 2, 4096); /* small segments: replay crosses rolls */
	for (int r = 0; r < 40; r++)
		append_rec(l, r % 2, r % 2, (r / 2) * 50, 50);
	ingest_log_partition_stats ls;
	assert_int_equal(ingest_log_stats(l, 0, &ls, NULL), TS_OK);
	assert_true(ls.n_segments >= 2);
	ingest_log_close(l);
	/* a new process: the log is reopened, the store starts empty (resume offset 0) */
	l = open_log(dir, 2, 4096);
	tsdb_db *db = open_db(2);
	ingest_consumers *c = start_opt(l, db, 0, true);
	sleep_ms(50);
	assert_false(ingest_consumers_replay_done(c)); /* paused: 40 records to go */
	ingest_consumers_set_paused(c, false);
	wait_replayed(c);
	for (int p = 0; p < 2; p++) {
		assert_int_equal(count_series(db, p, 0), 1000);
		ingest_consumer_stats st;
		ingest_consumers_stats(c, p, &st);
		assert_int_equal(st.replay_end, 20);
		assert_int_equal(st.next_offset, 20);
		assert_int_equal(st.lag_bytes, 0); /* replayed records are not lag bytes */
	}
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_start_replay_same_store_drops_duplicates(void **state)
{
	const char *dir = fresh_dir("replay_same");
	ingest_log *l = open_log(dir, 1, 1 << 20);
	tsdb_db *db = open_db(1);
	ingest_consumers *c = start(l, db, 0);
	for (int r = 0; r < 10; r++)
		append_rec(l, 0, 1, r * 5, 5);
	wait_applied(c, 0, 10);
	ingest_consumers_stop(c);
	/* the store persisted nothing, so a restart replays all 10 records into it again */
	tsdb_stats before;
	tsdb_stats_get(db, &before);
	c = start(l, db, 0);
	wait_replayed(c);
	ingest_consumers_stop(c);
	assert_int_equal(count_series(db, 1, 0), 50);
	tsdb_stats after;
	tsdb_stats_get(db, &after);
	/* whatever the store had not persisted was replayed and dropped as duplicates */
	assert_true(after.duplicates_dropped - before.duplicates_dropped <= 50);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_stop_drains(void **state)
{
	const char *dir = fresh_dir("drain");
	ingest_log *l = open_log(dir, 2, 1 << 20);
	tsdb_db *db = open_db(2);
	ingest_consumers *c = start(l, db, 0);
	ingest_consumers_set_paused(c, true);
	for (int r = 0; r < 20; r++)
		append_rec(l, r % 2, 7 + r % 2, (r / 2) * 3, 3);
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.next_offset, 0); /* paused: nothing applied yet */
	ingest_consumers_stop(c);            /* drains even while paused */
	assert_int_equal(count_series(db, 7, 0), 30);
	assert_int_equal(count_series(db, 8, 0), 30);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_admit_lag_bound(void **state)
{
	const char *dir = fresh_dir("lag_bound");
	ingest_log *l = open_log(dir, 2, 1 << 20);
	tsdb_db *db = open_db(2);
	ingest_consumers *c = start(l, db, 1000);
	ingest_consumers_set_paused(c, true);
	assert_int_equal(ingest_consumers_admit(c, 0, NULL), TS_OK);
	size_t total = 0;
	while (total < 1000) {
		size_t len = append_rec(l, 0, 3, (int)total, 20);
		ingest_consumers_appended(c, 0, len);
		total += len;
	}
	ts_err err = {0};
	assert_int_equal(ingest_consumers_admit(c, 0, &err), TS_EBUSY);
	assert_non_null(strstr(err.msg, "max_consumer_lag_bytes 1000"));
	assert_int_equal(ingest_consumers_admit(c, 1, NULL), TS_OK); /* per partition */
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.lag_bytes, (int64_t)total);
	assert_int_equal(st.n_busy, 1);
	/* the consumer catches up: the bound is lifted */
	ingest_consumers_set_paused(c, false);
	for (int64_t end = ts_now_ms() + WAIT_MS; ts_now_ms() < end; sleep_ms(2)) {
		ingest_consumers_stats(c, 0, &st);
		if (st.lag_bytes == 0)
			break;
	}
	assert_int_equal(st.lag_bytes, 0);
	assert_int_equal(ingest_consumers_admit(c, 0, NULL), TS_OK);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_start_corrupt_record_skipped(void **state)
{
	const char *dir = fresh_dir("corrupt_record");
	ingest_log *l = open_log(dir, 1, 1 << 20);
	tsdb_db *db = open_db(1);
	ingest_consumers *c = start(l, db, 0);
	append_rec(l, 0, 1, 0, 5);
	/* a record whose header is valid but whose CRC is not (the log checks only the
	 * header): the consumer's decoder must refuse it */
	ingest_record_builder *b;
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &b, NULL),
			 TS_OK);
	ts_label lb[] = {{"__name__", "m"}, {"id", "2"}};
	assert_int_equal(ingest_record_builder_add(b, lb, 2, T0, 1, NULL), TS_OK);
	ts_buf rec;
	ts_buf_init(&rec, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(b, &rec, NULL), TS_OK);
	ingest_record_builder_free(b);
	rec.data[rec.len - 1] ^= 0x40; /* a value bit: only the CRC notices */
	assert_int_equal(ingest_log_append(l, 0, rec.data, rec.len, NULL, NULL), TS_OK);
	ts_buf_free(&rec);
	append_rec(l, 0, 1, 5, 5);
	wait_applied(c, 0, 3);
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.n_corrupt, 1);
	assert_int_equal(st.n_records, 3);
	assert_int_equal(count_series(db, 1, 0), 10);
	assert_int_equal(count_series(db, 2, 0), 0);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

/* Flip one byte at `pos` of a file. */
static void flip_byte(const char *path, off_t pos)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char ch;
	assert_int_equal(pread(fd, &ch, 1, pos), 1);
	ch ^= 0xFF;
	assert_int_equal(pwrite(fd, &ch, 1, pos), 1);
	close(fd);
}

static void test_ingest_consumers_start_corrupt_frame_skipped(void **state)
{
	const char *dir = fresh_dir("corrupt_frame");
	ingest_log *l = open_log(dir, 1, 4096);
	size_t len = 0;
	for (int r = 0; r < 30; r++)
		len = append_rec(l, 0, 4, r * 50, 50);
	ingest_log_partition_stats ls;
	assert_int_equal(ingest_log_stats(l, 0, &ls, NULL), TS_OK);
	assert_true(ls.n_segments >= 2);
	ingest_log_close(l);
	/* damage the second frame of the first segment (not the last segment, which
	 * recovery would truncate): header 16 bytes, frames of 16 + len bytes */
	char path[1200];
	snprintf(path, sizeof(path), "%s/p0000/%020d.seg", dir, 0);
	flip_byte(path, (off_t)(16 + (16 + len) + 16 + 30));
	l = open_log(dir, 1, 4096);
	tsdb_db *db = open_db(1);
	ingest_consumers *c = start(l, db, 0);
	wait_replayed(c);
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.n_corrupt, 1);
	assert_int_equal(st.next_offset, 30);
	assert_true(st.n_records >= 28 && st.n_records <= 29);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_start_resume_below_first_retained(void **state)
{
	const char *dir = fresh_dir("below_first");
	ingest_log *l = open_log(dir, 1, 4096);
	for (int r = 0; r < 40; r++)
		append_rec(l, 0, 5, r * 50, 50);
	/* the log deletes segments below a checkpoint the (memory) store never made */
	assert_int_equal(ingest_log_checkpoint(l, 0, 25, NULL), TS_OK);
	ingest_log_partition_stats ls;
	assert_int_equal(ingest_log_stats(l, 0, &ls, NULL), TS_OK);
	assert_true(ls.first_offset > 0);
	tsdb_db *db = open_db(1);
	ingest_consumers *c = start(l, db, 0);
	wait_replayed(c);
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.next_offset, 40);
	assert_int_equal(st.n_records, 40 - ls.first_offset);
	assert_int_equal(count_series(db, 5, (int)ls.first_offset * 50),
			 (40 - ls.first_offset) * 50);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_start_rejections_counted(void **state)
{
	const char *dir = fresh_dir("rejections");
	ingest_log *l = open_log(dir, 1, 1 << 20);
	tsdb_db *db = open_db(1); /* out-of-order window 0 */
	ingest_consumers *c = start(l, db, 0);
	append_rec(l, 0, 6, 10, 5); /* t = 10..14 */
	wait_applied(c, 0, 1);      /* applied on its own, not merged with the next */
	append_rec(l, 0, 6, 0, 5);  /* t = 0..4: too old */
	wait_applied(c, 0, 2);
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.n_samples, 5);
	assert_int_equal(st.n_rejected, 5);
	assert_int_equal(ingest_consumers_rejected(c), 5);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

/*
 * Records at hand are merged: samples of a series from several records are appended in
 * time order (no out-of-order rejections with a window of 0), records past
 * MERGE_MAX_RECORDS go to the next merge, and of two samples with the same time the one
 * earlier in the log wins (the other is a rejected conflict), as record by record.
 */
static void test_ingest_consumers_start_merges_records(void **state)
{
	const char *dir = fresh_dir("merge");
	ingest_log *l = open_log(dir, 1, 1 << 20);
	tsdb_db *db = open_db(1); /* out-of-order window 0 */
	ingest_consumers *c = start_opt(l, db, 0, true);
	append_rec(l, 0, 7, 10, 5); /* t = 10..14 */
	append_rec(l, 0, 7, 0, 5);  /* t = 0..4 */
	append_rec(l, 0, 8, 0, 5);
	append_rec(l, 0, 7, 5, 5);        /* t = 5..9 */
	append_rec_v(l, 0, 9, 0, 5, 0);   /* t = 0..4 */
	append_rec_v(l, 0, 9, 0, 5, 100); /* the same times, other values: conflicts */
	for (int r = 0; r < 100; r++)     /* more than one merge */
		append_rec(l, 0, 10, r * 3, 3);
	ingest_consumers_set_paused(c, false);
	wait_applied(c, 0, 106);
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.n_records, 106);
	assert_int_equal(st.n_samples, 15 + 5 + 5 + 300);
	assert_int_equal(st.n_rejected, 5);
	assert_int_equal(st.lag_bytes, 0);
	assert_int_equal(count_series(db, 7, 0), 15); /* checks times and values in order */
	assert_int_equal(count_series(db, 8, 0), 5);
	assert_int_equal(count_series(db, 9, 0), 5); /* the first record's values */
	assert_int_equal(count_series(db, 10, 0), 300);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

/*
 * The consumer caches a reference to each series; a series the store removes (left empty
 * by a cut) answers TS_EBUSY through it, and the consumer looks it up again: the samples
 * land, none is counted as rejected.
 */
static void test_ingest_consumers_start_series_removed_while_cached(void **state)
{
	const char *dir = fresh_dir("removed_while_cached");
	char log_dir[1100], db_dir[1100];
	snprintf(log_dir, sizeof(log_dir), "%s/log", dir);
	snprintf(db_dir, sizeof(db_dir), "%s/db", dir);
	mkdir(dir, 0755);
	ingest_log *l = open_log(log_dir, 1, 1 << 20);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = db_dir;
	o.n_partitions = 1;
	o.out_of_order_window_ms = 0;
	o.block_duration_ms = 1000; /* cut as soon as the head spans 1.5 s */
	o.cut_check_interval_ms = 5;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	ingest_consumers *c = start(l, db, 0);
	append_rec(l, 0, 20, 0, 5); /* t = 0..4 s */
	wait_applied(c, 0, 1);
	append_rec(l, 0, 21, 10, 5); /* t = 10..14 s: the cut moves series 20 to blocks */
	wait_applied(c, 0, 2);
	tsdb_stats st;
	for (int64_t end = ts_now_ms() + WAIT_MS; ts_now_ms() < end; sleep_ms(5)) {
		tsdb_stats_get(db, &st);
		if (st.n_series == 1)
			break;
	}
	assert_int_equal(st.n_series, 1); /* series 20 left the head; the consumer's ref is stale */
	append_rec(l, 0, 20, 5, 5);       /* t = 5..9 s */
	append_rec(l, 0, 21, 15, 5);
	wait_applied(c, 0, 4);
	ingest_consumer_stats cs;
	ingest_consumers_stats(c, 0, &cs);
	assert_int_equal(cs.n_samples, 20);
	assert_int_equal(cs.n_rejected, 0);
	assert_int_equal(cs.n_cache_drops, 0);
	assert_int_equal(count_series(db, 20, 0), 10); /* blocks, then the head */
	assert_int_equal(count_series(db, 21, 10), 10);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

/*
 * A series cache over its bound is dropped at the start of the next merge (its
 * references put) and filled again: every sample still lands exactly once.
 */
static void test_ingest_consumers_start_series_cache_bound(void **state)
{
	const char *dir = fresh_dir("cache_bound");
	ingest_log *l = open_log(dir, 2, 1 << 20);
	tsdb_db *db = open_db(2);
	/* partition 0: a 1-byte bound drops the cache before every merge after the first;
	 * each record is applied on its own (the next is appended once it is applied) */
	ingest_consumers *c = start_cache(l, db, 1);
	for (int r = 0; r < 20; r++) {
		append_multi(l, 0, 100, 50, r); /* the same 50 series every time */
		wait_applied(c, 0, (uint64_t)r + 1);
	}
	ingest_consumer_stats st;
	ingest_consumers_stats(c, 0, &st);
	assert_int_equal(st.n_cache_drops, 19);
	assert_int_equal(st.n_samples, 1000);
	assert_int_equal(st.n_rejected, 0);
	for (int id = 100; id < 150; id++)
		assert_int_equal(count_series(db, id, 0), 20);
	ingest_consumers_stop(c);
	/* partition 1, a 64 KiB bound and new series in every record: dropped now and
	 * then, never losing or repeating a sample */
	c = start_cache(l, db, 64 << 10);
	for (int r = 0; r < 40; r++) {
		append_multi(l, 1, 1000 + 200 * r, 200, 0);
		wait_applied(c, 1, (uint64_t)r + 1);
	}
	ingest_consumers_stats(c, 1, &st);
	assert_true(st.n_cache_drops >= 1 && st.n_cache_drops < 40);
	assert_true(st.cache_bytes > 0);
	assert_int_equal(st.n_samples, 40 * 200);
	assert_int_equal(st.n_rejected, 0);
	for (int id = 1000; id < 1000 + 40 * 200; id += 7)
		assert_int_equal(count_series(db, id, 0), 1);
	ingest_consumers_stop(c);
	tsdb_close(db);
	ingest_log_close(l);
}

static void test_ingest_consumers_start_bad_args(void **state)
{
	ingest_consumers_options o = {0};
	ingest_consumers *c = NULL;
	ts_err err = {0};
	assert_int_equal(ingest_consumers_start(&o, &c, &err), TS_EINVAL);
	assert_null(c);
	ingest_consumers_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_consumers_start_round_trip),
	    cmocka_unit_test(test_ingest_consumers_start_replay_fresh_store),
	    cmocka_unit_test(test_ingest_consumers_start_replay_same_store_drops_duplicates),
	    cmocka_unit_test(test_ingest_consumers_stop_drains),
	    cmocka_unit_test(test_ingest_consumers_admit_lag_bound),
	    cmocka_unit_test(test_ingest_consumers_start_corrupt_record_skipped),
	    cmocka_unit_test(test_ingest_consumers_start_corrupt_frame_skipped),
	    cmocka_unit_test(test_ingest_consumers_start_resume_below_first_retained),
	    cmocka_unit_test(test_ingest_consumers_start_rejections_counted),
	    cmocka_unit_test(test_ingest_consumers_start_merges_records),
	    cmocka_unit_test(test_ingest_consumers_start_series_removed_while_cached),
	    cmocka_unit_test(test_ingest_consumers_start_series_cache_bound),
	    cmocka_unit_test(test_ingest_consumers_start_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
