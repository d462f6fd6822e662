/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log_kafka.c: tests of the Kafka log backend (ingest/log_kafka.c) and its config
 * section (ingest/kafka_config.c) against librdkafka's in-process mock cluster, which
 * listens on 127.0.0.1 (real TCP, real Kafka protocol; no replication, no retention).
 *
 * Covered: appends return Kafka offsets; readers read in order from any offset and block
 * with a timeout; checkpoints commit the group offset and a new log resumes from it;
 * a broker outage makes appends fail with TS_EUNAVAIL after the produce timeout and loses
 * nothing that was acknowledged; record bytes are identical to the embedded log's;
 * concurrent appenders get dense offsets; large records; open-time checks (partition
 * count, properties, unreachable brokers); the `kafka:` config parser and its errors;
 * consumer-group membership (role store): the split of the partitions between members,
 * checkpoints committed through a member, a leaving member's partitions moving over.
 * Not covered here (the mock cannot do it): retention (TS_ENOTFOUND for deleted offsets)
 * and topic creation through CreateTopics.
 */
#include "ingest/log_kafka.h"

#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ingest_kafka_mock *start_mock(int brokers, const char *topic, int partitions)
{
	ingest_kafka_mock *m = NULL;
	ts_err err = {0};
	if (ingest_kafka_mock_new(brokers, &m, &err))
		fail_msg("mock: %s", err.msg);
	if (topic && ingest_kafka_mock_topic_create(m, topic, partitions, 1, &err))
		fail_msg("mock topic: %s", err.msg);
	return m;
}

static ingest_log_kafka_options options(const ingest_kafka_mock *m, const char *topic)
{
	ingest_log_kafka_options o = INGEST_LOG_KAFKA_OPTIONS_DEFAULT;
	o.brokers = ingest_kafka_mock_bootstraps(m);
	o.topic = topic;
	o.produce_timeout_ms = 5000;
	o.request_timeout_ms = 5000;
	return o;
}

static ingest_log *open_kafka(const ingest_log_kafka_options *o)
{
	ingest_log *l = NULL;
	ts_err err = {0};
	if (ingest_log_kafka_open(o, &l, &err))
		fail_msg("kafka open: %s", err.msg);
	return l;
}

/* A record of `n` samples of {__name__="m", id=<id>} with value = seq. */
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

/* Decode rec and return (id, seq) of its first sample; -1s when it does not decode. */
static void rec_ident(const void *rec, size_t len, int *id, int *seq)
{
	ingest_record_decoder *d;
	*id = *seq = -1;
	if (ingest_record_decoder_new(&d, NULL))
		return;
	first_sample f = {{0}, 0, 0};
	if (ingest_record_decode(d, rec, len, take_first, &f, NULL) == TS_OK && f.n) {
		*id = (int)strtol(f.id, NULL, 10);
		*seq = (int)f.v;
	}
	ingest_record_decoder_free(d);
}

static int append_rec(ingest_log *l, int part, int id, int seq, uint64_t *off, ts_err *err)
{
	ts_buf r;
	make_rec(&r, id, seq, 3);
	int rc = ingest_log_append(l, part, r.data, r.len, off, err);
	ts_buf_free(&r);
	return rc;
}

static uint64_t must_append(ingest_log *l, int part, int id, int seq)
{
	uint64_t off = UINT64_MAX;
	ts_err err = {0};
	if (append_rec(l, part, id, seq, &off, &err))
		fail_msg("append: %s", err.msg);
	return off;
}

static ingest_log_partition_stats stats(ingest_log *l, int part)
{
	ingest_log_partition_stats s;
	ts_err err = {0};
	if (ingest_log_stats(l, part, &s, &err))
		fail_msg("stats: %s", err.msg);
	return s;
}

static ingest_log_reader *open_reader(ingest_log *l, int part, uint64_t from)
{
	ingest_log_reader *r = NULL;
	ts_err err = {0};
	if (ingest_log_reader_open(l, part, from, &r, &err))
		fail_msg("reader_open: %s", err.msg);
	return r;
}

/* Next record within 10 s (a fresh consumer needs a moment to connect). */
static void next_rec(ingest_log_reader *r, uint64_t *off, int *id, int *seq)
{
	const void *rec;
	size_t len;
	ts_err err = {0};
	int rc = ingest_log_reader_next(r, &rec, &len, off, 10000, &err);
	if (rc)
		fail_msg("reader_next: %s", err.msg);
	rec_ident(rec, len, id, seq);
}

/* ---------------------------------------------------------------- append, read */

static void test_ingest_log_kafka_append_returns_offsets(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "t", 2);
	ingest_log_kafka_options o = options(m, "t");
	ingest_log *l = open_kafka(&o);
	assert_int_equal(ingest_log_n_partitions(l), 2);
	assert_string_equal(ingest_log_backend(l), "kafka");
	for (int i = 0; i < 5; i++)
		assert_true(must_append(l, 0, 0, i) == (uint64_t)i);
	for (int i = 0; i < 3; i++)
		assert_true(must_append(l, 1, 1, i) == (uint64_t)i);
	ingest_log_partition_stats s = stats(l, 0);
	assert_true(s.first_offset == 0 && s.next_offset == 5 && s.checkpoint_next == 0);
	assert_true(s.n_appends == 5 && s.n_append_bytes > 0 && s.n_io_errors == 0);
	assert_true(stats(l, 1).next_offset == 3);
	/* log.c's checks apply: bad partition, bad record */
	ts_err err = {0};
	uint64_t off;
	assert_int_equal(append_rec(l, 2, 0, 0, &off, &err), TS_EINVAL);
	assert_int_equal(ingest_log_append(l, 0, "garbage-garbage-garbage", 23, &off, &err),
			 TS_EINVAL);
	assert_int_equal(ingest_log_stats(l, 5, &s, &err), TS_EINVAL);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

static void test_ingest_log_kafka_reader_reads_in_order(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(3, "t", 1);
	ingest_log_kafka_options o = options(m, "t");
	ingest_log *l = open_kafka(&o);
	for (int i = 0; i < 10; i++)
		must_append(l, 0, 7, i);
	ingest_log_reader *r = open_reader(l, 0, 4);
	for (int i = 4; i < 10; i++) {
		uint64_t off;
		int id, seq;
		next_rec(r, &off, &id, &seq);
		assert_true(off == (uint64_t)i);
		assert_int_equal(id, 7);
		assert_int_equal(seq, i);
	}
	/* nothing more: a timeout, outputs untouched, and not an error */
	const void *rec = NULL;
	size_t len = 0;
	uint64_t off = 999;
	ts_err err = {0};
	int64_t t0 = now_ms();
	assert_int_equal(ingest_log_reader_next(r, &rec, &len, &off, 300, &err), TS_ETIMEOUT);
	assert_true(now_ms() - t0 >= 250);
	assert_true(off == 999 && rec == NULL);
	assert_int_equal(ingest_log_reader_next(r, &rec, &len, &off, 0, &err), TS_ETIMEOUT);
	/* a new record wakes it */
	must_append(l, 0, 7, 10);
	int id, seq;
	next_rec(r, &off, &id, &seq);
	assert_true(off == 10 && seq == 10);
	ingest_log_reader_close(r);

	/* bounds: at the end is fine (waits), beyond is TS_EINVAL; two readers at once */
	r = open_reader(l, 0, 11);
	ingest_log_reader *r2 = open_reader(l, 0, 0);
	next_rec(r2, &off, &id, &seq);
	assert_true(off == 0 && seq == 0);
	must_append(l, 0, 7, 11);
	next_rec(r, &off, &id, &seq);
	assert_true(off == 11 && seq == 11);
	ingest_log_reader_close(r);
	ingest_log_reader_close(r2);
	ingest_log_reader *bad = NULL;
	assert_int_equal(ingest_log_reader_open(l, 0, 13, &bad, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "beyond the end"));
	assert_null(bad);
	assert_int_equal(ingest_log_reader_open(l, 0, UINT64_MAX, &bad, &err), TS_EINVAL);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

/* ---------------------------------------------------------------- checkpoints */

static void test_ingest_log_kafka_checkpoint_commit_and_resume(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "t", 2);
	ingest_log_kafka_options o = options(m, "t");
	o.group_id = "store-a";
	ingest_log *l = open_kafka(&o);
	for (int i = 0; i < 10; i++)
		must_append(l, 1, 3, i);
	ts_err err = {0};
	assert_true(stats(l, 1).checkpoint_next == 0);
	assert_int_equal(ingest_log_checkpoint(l, 1, 4, &err), TS_OK);
	assert_true(stats(l, 1).checkpoint_next == 5);
	assert_true(stats(l, 0).checkpoint_next == 0);
	assert_int_equal(ingest_log_checkpoint(l, 1, 2, &err), TS_OK); /* older: ignored */
	assert_true(stats(l, 1).checkpoint_next == 5);
	assert_int_equal(ingest_log_checkpoint(l, 1, 10, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "not below the next offset 10"));
	assert_int_equal(ingest_log_checkpoint(l, 1, UINT64_MAX, &err), TS_EINVAL);
	ingest_log_close(l);

	/* a new log (a restarted process) sees the committed offset and resumes there */
	l = open_kafka(&o);
	ingest_log_partition_stats s = stats(l, 1);
	assert_true(s.checkpoint_next == 5 && s.next_offset == 10 && s.n_appends == 0);
	assert_true(ingest_log_stats_lag_records(&s) == 5);
	ingest_log_reader *r = open_reader(l, 1, s.checkpoint_next);
	uint64_t off;
	int id, seq;
	next_rec(r, &off, &id, &seq);
	assert_true(off == 5 && id == 3 && seq == 5);
	ingest_log_reader_close(r);
	assert_int_equal(ingest_log_checkpoint(l, 1, 9, &err), TS_OK);
	assert_true(stats(l, 1).checkpoint_next == 10);
	ingest_log_close(l);

	/* a store that persisted less (restored from a backup) moves the group back: the
	 * first checkpoint of a log is committed whatever the group held */
	l = open_kafka(&o);
	assert_int_equal(ingest_log_checkpoint(l, 1, 6, &err), TS_OK);
	assert_true(stats(l, 1).checkpoint_next == 7);
	ingest_log_close(l);

	/* another group has its own checkpoints */
	o.group_id = "store-b";
	l = open_kafka(&o);
	assert_true(stats(l, 1).checkpoint_next == 0);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

/* ---------------------------------------------------------------- outages */

#define OUTAGE_THREADS 4
#define MAX_ACKED      20000

typedef struct acked {
	uint64_t offset;
	int seq;
} acked;

typedef struct outage_worker {
	ingest_log *log;
	int id;
	_Atomic bool *stop;
	acked *acks; /* MAX_ACKED */
	size_t n_acks;
	size_t n_unavail;
	size_t n_other; /* failures other than TS_EUNAVAIL */
	int64_t max_fail_ms;
	char other_msg[TS_ERR_MSG_MAX];
} outage_worker;

static void *outage_main(void *arg)
{
	outage_worker *w = arg;
	for (int seq = 0; !atomic_load(w->stop) && w->n_acks < MAX_ACKED; seq++) {
		uint64_t off;
		ts_err err = {0};
		int64_t t0 = now_ms();
		int rc = append_rec(w->log, 0, w->id, seq, &off, &err);
		if (rc == TS_OK) {
			w->acks[w->n_acks].offset = off;
			w->acks[w->n_acks].seq = seq;
			w->n_acks++;
		} else if (rc == TS_EUNAVAIL) {
			w->n_unavail++;
			if (now_ms() - t0 > w->max_fail_ms)
				w->max_fail_ms = now_ms() - t0;
		} else {
			w->n_other++;
			snprintf(w->other_msg, sizeof(w->other_msg), "%s", err.msg);
		}
	}
	return NULL;
}

static void test_ingest_log_kafka_broker_down_unavailable(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "t", 1);
	ingest_log_kafka_options o = options(m, "t");
	o.produce_timeout_ms = 1500;
	o.request_timeout_ms = 1500;
	ingest_log *l = open_kafka(&o);
	for (int i = 0; i < 3; i++)
		must_append(l, 0, 99, i);

	/* appenders run through an outage */
	_Atomic bool stop = false;
	outage_worker w[OUTAGE_THREADS];
	pthread_t th[OUTAGE_THREADS];
	for (int i = 0; i < OUTAGE_THREADS; i++) {
		w[i] = (outage_worker){.log = l, .id = i, .stop = &stop};
		w[i].acks = calloc(MAX_ACKED, sizeof(acked));
		assert_non_null(w[i].acks);
		assert_int_equal(pthread_create(&th[i], NULL, outage_main, &w[i]), 0);
	}
	usleep(300 * 1000);
	ts_err err = {0};
	assert_int_equal(ingest_kafka_mock_broker_set_down(m, 1, true, &err), TS_OK);

	/* a single append now fails after about the produce timeout, naming it */
	int64_t t0 = now_ms();
	uint64_t off;
	assert_int_equal(append_rec(l, 0, 99, 3, &off, &err), TS_EUNAVAIL);
	int64_t took = now_ms() - t0;
	assert_true(took >= 1000 && took < 1500 + 1500); /* timeout + 0.5 s grace + slack */
	assert_non_null(strstr(err.msg, "not acknowledged within 1500 ms"));
	ingest_log_partition_stats s;
	assert_int_equal(ingest_log_stats(l, 0, &s, &err), TS_EUNAVAIL);
	assert_int_equal(ingest_kafka_mock_broker_set_down(m, 1, false, &err), TS_OK);

	/* after the outage appends succeed again (once the producer has reconnected) */
	int64_t deadline = now_ms() + 30000;
	int rc;
	while ((rc = append_rec(l, 0, 99, 4, &off, &err)) != TS_OK && now_ms() < deadline)
		usleep(100 * 1000);
	if (rc)
		fail_msg("append after the outage: %s", err.msg);
	usleep(500 * 1000);
	atomic_store(&stop, true);
	size_t n_acks = 0, n_unavail = 0;
	for (int i = 0; i < OUTAGE_THREADS; i++) {
		pthread_join(th[i], NULL);
		if (w[i].n_other)
			fail_msg("worker %d: unexpected error: %s", i, w[i].other_msg);
		assert_true(w[i].max_fail_ms < 3000);
		n_acks += w[i].n_acks;
		n_unavail += w[i].n_unavail;
	}
	assert_true(n_unavail > 0);
	assert_true(n_acks > 0);

	/* read everything back: every acknowledged record is at its offset, intact */
	uint64_t end = stats(l, 0).next_offset;
	int *ids = calloc(end, sizeof(int)), *seqs = calloc(end, sizeof(int));
	assert_true(ids && seqs);
	ingest_log_reader *r = open_reader(l, 0, 0);
	for (uint64_t i = 0; i < end; i++) {
		uint64_t got;
		next_rec(r, &got, &ids[i], &seqs[i]);
		assert_true(got == i);
	}
	ingest_log_reader_close(r);
	for (int i = 0; i < OUTAGE_THREADS; i++) {
		for (size_t k = 0; k < w[i].n_acks; k++) {
			uint64_t at = w[i].acks[k].offset;
			assert_true(at < end);
			assert_int_equal(ids[at], i);
			assert_int_equal(seqs[at], w[i].acks[k].seq);
		}
		free(w[i].acks);
	}
	free(ids);
	free(seqs);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

/*
 * A broker that answers too slowly: the append gives up at its own deadline (librdkafka
 * would wait for the request), the abandoned message is cleaned up when its report comes
 * or at close (ASan checks), and appends work again once the broker is fast.
 */
static void test_ingest_log_kafka_append_deadline_slow_broker(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "t", 1);
	ingest_log_kafka_options o = options(m, "t");
	o.produce_timeout_ms = 1000;
	ingest_log *l = open_kafka(&o);
	must_append(l, 0, 1, 0);
	ts_err err = {0};
	assert_int_equal(ingest_kafka_mock_broker_set_rtt(m, 1, 4000, &err), TS_OK);
	uint64_t off;
	int64_t t0 = now_ms();
	assert_int_equal(append_rec(l, 0, 1, 1, &off, &err), TS_EUNAVAIL);
	int64_t took = now_ms() - t0;
	assert_true(took >= 900 && took < 2500);
	assert_non_null(strstr(err.msg, "not acknowledged within 1000 ms"));
	assert_int_equal(ingest_kafka_mock_broker_set_rtt(m, 1, 0, &err), TS_OK);
	int64_t deadline = now_ms() + 30000;
	int rc;
	while ((rc = append_rec(l, 0, 1, 2, &off, &err)) != TS_OK && now_ms() < deadline)
		usleep(100 * 1000);
	if (rc)
		fail_msg("append after the slow phase: %s", err.msg);
	assert_true(off >= 1); /* the abandoned record may or may not have been stored */
	/* one more slow append left behind, then close right away */
	assert_int_equal(ingest_kafka_mock_broker_set_rtt(m, 1, 3000, &err), TS_OK);
	assert_int_equal(append_rec(l, 0, 1, 3, &off, &err), TS_EUNAVAIL);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

/* A reader blocked through an outage gets the next record once the broker is back. */
static void test_ingest_log_kafka_reader_survives_outage(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "t", 1);
	ingest_log_kafka_options o = options(m, "t");
	ingest_log *l = open_kafka(&o);
	must_append(l, 0, 1, 0);
	ingest_log_reader *r = open_reader(l, 0, 0);
	uint64_t off;
	int id, seq;
	next_rec(r, &off, &id, &seq);
	ts_err err = {0};
	assert_int_equal(ingest_kafka_mock_broker_set_down(m, 1, true, &err), TS_OK);
	const void *rec;
	size_t len;
	assert_int_equal(ingest_log_reader_next(r, &rec, &len, &off, 1500, &err), TS_ETIMEOUT);
	assert_int_equal(ingest_kafka_mock_broker_set_down(m, 1, false, &err), TS_OK);
	int64_t deadline = now_ms() + 30000;
	while (append_rec(l, 0, 1, 1, &off, &err) != TS_OK && now_ms() < deadline)
		usleep(100 * 1000);
	assert_true(off == 1);
	int rc = ingest_log_reader_next(r, &rec, &len, &off, 30000, &err);
	if (rc)
		fail_msg("reader after outage: %s", err.msg);
	assert_true(off == 1);
	ingest_log_reader_close(r);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

/* ---------------------------------------------------------------- bytes, concurrency */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void read_file(const char *path, ts_buf *out)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	ts_buf_init(out, 1u << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(ts_buf_append(out, chunk, n), TS_OK);
	fclose(f);
}

static void test_ingest_log_kafka_record_bytes_identical(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "t", 1);
	ingest_log_kafka_options o = options(m, "t");
	ingest_log *kl = open_kafka(&o);
	char dir[1024];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/log_kafka_bytes", STRATA_TEST_TMP);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ingest_log_local_options lo = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	lo.dir = dir;
	lo.n_partitions = 1;
	lo.no_sync = true;
	ingest_log *ll = NULL;
	assert_int_equal(ingest_log_local_open(&lo, &ll, NULL), TS_OK);

	ts_buf recs[3];
	read_file(STRATA_SOURCE_DIR "/tests/data/ingest/log_record_v1_plain.bin", &recs[0]);
	read_file(STRATA_SOURCE_DIR "/tests/data/ingest/log_record_v1_snappy.bin", &recs[1]);
	make_rec(&recs[2], 5, 5, 500);
	for (int i = 0; i < 3; i++) {
		uint64_t a, b;
		assert_int_equal(ingest_log_append(kl, 0, recs[i].data, recs[i].len, &a, NULL),
				 TS_OK);
		assert_int_equal(ingest_log_append(ll, 0, recs[i].data, recs[i].len, &b, NULL),
				 TS_OK);
		assert_true(a == b);
	}
	ingest_log_reader *rk = open_reader(kl, 0, 0), *rl = open_reader(ll, 0, 0);
	for (int i = 0; i < 3; i++) {
		const void *pk, *pl;
		size_t nk, nl;
		uint64_t ok, ol;
		ts_err err = {0};
		if (ingest_log_reader_next(rk, &pk, &nk, &ok, 10000, &err))
			fail_msg("kafka read: %s", err.msg);
		assert_int_equal(ingest_log_reader_next(rl, &pl, &nl, &ol, 0, NULL), TS_OK);
		assert_true(ok == ol && nk == nl && nk == recs[i].len);
		assert_memory_equal(pk, recs[i].data, nk);
		assert_memory_equal(pk, pl, nk);
	}
	ingest_log_reader_close(rk);
	ingest_log_reader_close(rl);
	for (int i = 0; i < 3; i++)
		ts_buf_free(&recs[i]);
	ingest_log_close(ll);
	ingest_log_close(kl);
	ingest_kafka_mock_free(m);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_ingest_log_kafka_append_large_record(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "t", 1);
	ingest_log_kafka_options o = options(m, "t");
	ingest_log *l = open_kafka(&o);
	ts_buf big;
	make_rec(&big, 1, 42, 300000); /* ~2.7 MB: above Kafka's 1 MB default */
	assert_true(big.len > (2u << 20));
	uint64_t off;
	ts_err err = {0};
	if (ingest_log_append(l, 0, big.data, big.len, &off, &err))
		fail_msg("append: %s", err.msg);
	ingest_log_reader *r = open_reader(l, 0, 0);
	const void *rec;
	size_t len;
	if (ingest_log_reader_next(r, &rec, &len, &off, 10000, &err))
		fail_msg("read: %s", err.msg);
	assert_true(len == big.len);
	assert_memory_equal(rec, big.data, len);
	ingest_log_reader_close(r);
	ts_buf_free(&big);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

#define CONC_THREADS 8
#define CONC_APPENDS 150

typedef struct conc_worker {
	ingest_log *log;
	int id;
	uint64_t offs[CONC_APPENDS];
	int n_fail;
} conc_worker;

static void *conc_main(void *arg)
{
	conc_worker *w = arg;
	for (int i = 0; i < CONC_APPENDS; i++)
		if (append_rec(w->log, w->id % 2, w->id, i, &w->offs[i], NULL) != TS_OK)
			w->n_fail++;
	return NULL;
}

static void test_ingest_log_kafka_append_concurrent(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(3, "t", 2);
	ingest_log_kafka_options o = options(m, "t");
	ingest_log *l = open_kafka(&o);
	static conc_worker w[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	for (int i = 0; i < CONC_THREADS; i++) {
		w[i] = (conc_worker){.log = l, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, conc_main, &w[i]), 0);
	}
	for (int i = 0; i < CONC_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].n_fail, 0);
	}
	/* per partition, offsets are dense and each holds the record its appender was told */
	const uint64_t per_part = CONC_THREADS / 2 * CONC_APPENDS;
	for (int p = 0; p < 2; p++) {
		assert_true(stats(l, p).next_offset == per_part);
		int *who = calloc(per_part, sizeof(int)), *what = calloc(per_part, sizeof(int));
		assert_true(who && what);
		ingest_log_reader *r = open_reader(l, p, 0);
		for (uint64_t i = 0; i < per_part; i++) {
			uint64_t off;
			next_rec(r, &off, &who[i], &what[i]);
			assert_true(off == i);
		}
		ingest_log_reader_close(r);
		for (int t = p; t < CONC_THREADS; t += 2)
			for (int i = 0; i < CONC_APPENDS; i++) {
				assert_int_equal(who[w[t].offs[i]], t);
				assert_int_equal(what[w[t].offs[i]], i);
			}
		free(who);
		free(what);
	}
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

/* ---------------------------------------------------------------- open errors */

static void test_ingest_log_kafka_open_checks(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "three", 3);
	ingest_log_kafka_options o = options(m, "three");
	ingest_log *l = NULL;
	ts_err err = {0};

	/* the topic's partition count is adopted, or must match */
	l = open_kafka(&o);
	assert_int_equal(ingest_log_n_partitions(l), 3);
	ingest_log_close(l);
	o.n_partitions = 3;
	l = open_kafka(&o);
	ingest_log_close(l);
	l = NULL;
	o.n_partitions = 2;
	assert_int_equal(ingest_log_kafka_open(&o, &l, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "has 3 partitions but kafka.partitions is 2"));
	assert_null(l);
	o.n_partitions = 0;

	/* option checks */
	ingest_log_kafka_options b = o;
	b.brokers = "";
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	b = o;
	b.topic = "bad topic";
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "not a valid Kafka topic name"));
	b = o;
	b.linger_ms = 5000;
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	b = o;
	b.replication_factor = 0;
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	b = o;
	b.produce_timeout_ms = 5;
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	ingest_log_kafka_property acks[] = {{"acks", "1"}};
	b = o;
	b.properties = acks;
	b.n_properties = 1;
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "'acks' is set by Strata"));
	ingest_log_kafka_property unknown[] = {{"no.such.thing", "1"}};
	b.properties = unknown;
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "not a librdkafka property"));
	ingest_log_kafka_property badval[] = {{"compression.type", "zip"}};
	b.properties = badval;
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "compression.type"));
	ingest_log_kafka_property good[] = {{"socket.keepalive.enable", "true"},
					    {"sasl.password", "hunter2"}};
	b.properties = good;
	b.n_properties = 2;
	l = open_kafka(&b);
	ingest_log_close(l);
	l = NULL;
	assert_null(strstr(err.msg, "hunter2"));

	/* reserved properties name the key to use instead */
	assert_int_equal(ingest_log_kafka_check_property("group.id", "x", &err), TS_EINVAL);
	assert_int_equal(ingest_log_kafka_check_property("linger.ms", "x", &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "kafka.linger"));
	ingest_kafka_mock_free(m);

	/* nobody listening: TS_EUNAVAIL after the request timeout */
	b = (ingest_log_kafka_options)INGEST_LOG_KAFKA_OPTIONS_DEFAULT;
	b.brokers = "127.0.0.1:1";
	b.request_timeout_ms = 700;
	int64_t t0 = now_ms();
	assert_int_equal(ingest_log_kafka_open(&b, &l, &err), TS_EUNAVAIL);
	assert_true(now_ms() - t0 < 5000);
	assert_non_null(strstr(err.msg, "127.0.0.1:1"));
	assert_null(l);
}

/* ---------------------------------------------------------------- config */

static int parse_cfg(const char *yaml, ingest_kafka_config **out, ts_err *err)
{
	ts_yaml_doc *d = NULL;
	if (ts_yaml_parse("test.yml", yaml, strlen(yaml), &d, err))
		fail_msg("yaml: %s", err->msg);
	int rc = ingest_kafka_config_parse(d, ts_yaml_get(ts_yaml_root(d), "kafka"), out, err);
	ts_yaml_free(d);
	return rc;
}

static void expect_cfg_error(const char *yaml, const char *want)
{
	ingest_kafka_config *c = NULL;
	ts_err err = {0};
	int rc = parse_cfg(yaml, &c, &err);
	if (rc == TS_OK)
		fail_msg("accepted: %s", yaml);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' lacks '%s'", err.msg, want);
	assert_null(c);
}

static void test_ingest_kafka_config_parse(void **state)
{
	(void)state;
	ingest_kafka_config *c = NULL;
	ts_err err = {0};
	const char *full = "kafka:\n"
			   "  brokers: [k1:9092, 'k2:9093']\n"
			   "  topic: metrics.v1\n"
			   "  partitions: 16\n"
			   "  create_topic: false\n"
			   "  replication_factor: 3\n"
			   "  client_id: ingest-1\n"
			   "  group_id: store-1\n"
			   "  produce_timeout: 5s\n"
			   "  request_timeout: 2s\n"
			   "  linger: 10ms\n"
			   "  properties:\n"
			   "    security.protocol: plaintext\n"
			   "    socket.keepalive.enable: true\n"
			   "    batch.num.messages: 500\n";
	if (parse_cfg(full, &c, &err))
		fail_msg("parse: %s", err.msg);
	const ingest_log_kafka_options *o = ingest_kafka_config_options(c);
	assert_string_equal(o->brokers, "k1:9092,k2:9093");
	assert_string_equal(o->topic, "metrics.v1");
	assert_int_equal(o->n_partitions, 16);
	assert_false(o->create_topic);
	assert_int_equal(o->replication_factor, 3);
	assert_string_equal(o->client_id, "ingest-1");
	assert_string_equal(o->group_id, "store-1");
	assert_true(o->produce_timeout_ms == 5000 && o->request_timeout_ms == 2000);
	assert_int_equal(o->linger_ms, 10);
	assert_int_equal(o->n_properties, 3);
	assert_string_equal(o->properties[1].name, "socket.keepalive.enable");
	assert_string_equal(o->properties[1].value, "true");
	assert_string_equal(o->properties[2].value, "500");
	ingest_kafka_config_free(c);

	/* defaults */
	if (parse_cfg("kafka:\n  brokers: a:1,b:2\n", &c, &err))
		fail_msg("parse: %s", err.msg);
	o = ingest_kafka_config_options(c);
	assert_string_equal(o->brokers, "a:1,b:2");
	assert_string_equal(o->topic, INGEST_LOG_KAFKA_TOPIC_DEFAULT);
	assert_int_equal(o->n_partitions, 0);
	assert_true(o->create_topic);
	assert_true(o->produce_timeout_ms == INGEST_LOG_KAFKA_PRODUCE_TIMEOUT_MS);
	assert_int_equal(o->n_properties, 0);
	ingest_kafka_config_free(c);
	ingest_kafka_config_free(NULL);

	/* absent section */
	c = NULL;
	assert_int_equal(parse_cfg("server: {}\n", &c, &err), TS_ENOTFOUND);
	assert_null(c);

	/* errors name file:line:col and the key */
	expect_cfg_error("kafka:\n  topic: x\n", "test.yml:2:3: kafka.brokers: required");
	expect_cfg_error("kafka:\n  brokers: a:1\n  bogus: 1\n",
			 "test.yml:3:3: unknown key 'kafka.bogus'");
	expect_cfg_error("kafka:\n  brokers: 'a:1,,b:2'\n", "kafka.brokers");
	expect_cfg_error("kafka:\n  brokers: []\n", "kafka.brokers");
	expect_cfg_error("kafka:\n  brokers: ['a 1']\n", "kafka.brokers[0]");
	expect_cfg_error("kafka:\n  brokers: a:1\n  topic: 'no/slash'\n",
			 "test.yml:3:10: kafka.topic");
	expect_cfg_error("kafka:\n  brokers: a:1\n  partitions: 5000\n", "kafka.partitions");
	expect_cfg_error("kafka:\n  brokers: a:1\n  replication_factor: 0\n",
			 "kafka.replication_factor");
	expect_cfg_error("kafka:\n  brokers: a:1\n  produce_timeout: 1ms\n",
			 "kafka.produce_timeout");
	expect_cfg_error("kafka:\n  brokers: a:1\n  produce_timeout: 1s\n  linger: 1s\n",
			 "test.yml:4:11: kafka.linger: must be below kafka.produce_timeout");
	expect_cfg_error("kafka:\n  brokers: a:1\n  create_topic: maybe\n", "kafka.create_topic");
	expect_cfg_error("kafka:\n  brokers: a:1\n  properties:\n    acks: 1\n",
			 "test.yml:4:5: kafka.properties.acks: kafka: property 'acks' is set "
			 "by Strata");
	expect_cfg_error("kafka:\n  brokers: a:1\n  properties:\n    no.such: 1\n",
			 "not a librdkafka property");
	expect_cfg_error("kafka:\n  brokers: a:1\n  properties:\n    compression.type: zip\n",
			 "kafka.properties.compression.type");
	expect_cfg_error("kafka:\n  brokers: a:1\n  properties:\n    sasl.password:\n",
			 "expected a value");
	expect_cfg_error("kafka:\n  brokers: a:1\n  properties: [a]\n", "expected a mapping");
	expect_cfg_error("kafka: [1]\n", "kafka: expected a mapping");
	/* a secret's value never shows up in a message */
	ts_err e2 = {0};
	assert_int_equal(parse_cfg("kafka:\n  brokers: a:1\n  properties:\n"
				   "    sasl.password: hunter2\n    bogus.x: y\n",
				   &c, &e2),
			 TS_EINVAL);
	assert_null(strstr(e2.msg, "hunter2"));
}

/* The config feeds open directly. */
/* ---------------------------------------------------------------- consumer group */

/* What the group callbacks of one member saw. */
typedef struct member_view {
	pthread_mutex_t mu;
	bool owned[8];   /* partitions owned now */
	int n_revoked;   /* partitions revoked (not lost) */
	int n_lost;      /* partitions lost */
	ingest_log *log; /* the member's log: revoked checkpoints ckpt_part at ckpt_off */
	int ckpt_part;   /* -1: none */
	uint64_t ckpt_off;
	int ckpt_rc; /* what that checkpoint returned */
} member_view;

static void view_assigned(void *ctx, const int *parts, int n)
{
	member_view *v = ctx;
	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < n; i++)
		v->owned[parts[i]] = true;
	pthread_mutex_unlock(&v->mu);
}

static void view_revoked(void *ctx, const int *parts, int n, bool is_lost)
{
	member_view *v = ctx;
	pthread_mutex_lock(&v->mu);
	for (int i = 0; i < n; i++) {
		v->owned[parts[i]] = false;
		if (parts[i] == v->ckpt_part && !is_lost) /* as a store's last commit does */
			v->ckpt_rc = ingest_log_checkpoint(v->log, parts[i], v->ckpt_off, NULL);
	}
	*(is_lost ? &v->n_lost : &v->n_revoked) += n;
	pthread_mutex_unlock(&v->mu);
}

static int n_owned(member_view *v, int n_parts)
{
	int n = 0;
	pthread_mutex_lock(&v->mu);
	for (int p = 0; p < n_parts; p++)
		n += v->owned[p];
	pthread_mutex_unlock(&v->mu);
	return n;
}

static bool is_owned(member_view *v, int p)
{
	pthread_mutex_lock(&v->mu);
	bool b = v->owned[p];
	pthread_mutex_unlock(&v->mu);
	return b;
}

static ingest_log_kafka_group *join(ingest_log *l, member_view *v)
{
	ingest_log_kafka_group_options go = {.session_timeout_ms = 3000, /* the mock needs >= 3 s */
					     .assigned = view_assigned,
					     .revoked = view_revoked,
					     .ctx = v};
	ingest_log_kafka_group *g = NULL;
	ts_err err = {0};
	if (ingest_log_kafka_group_join(l, &go, &g, &err))
		fail_msg("group join: %s", err.msg);
	return g;
}

static void test_ingest_log_kafka_group_split_commit_leave(void **state)
{
	(void)state;
	enum { P = 4 };
	ingest_kafka_mock *m = start_mock(1, "grp", P);
	ingest_log_kafka_options o = options(m, "grp");
	o.group_id = "grp-store.a";
	ingest_log *l1 = open_kafka(&o), *l2 = open_kafka(&o), *l3 = open_kafka(&o);
	member_view v1 = {.mu = PTHREAD_MUTEX_INITIALIZER, .ckpt_part = -1, .ckpt_rc = 1};
	member_view v2 = {.mu = PTHREAD_MUTEX_INITIALIZER, .ckpt_part = -1};
	ingest_log_kafka_group *g1 = join(l1, &v1), *g2 = join(l2, &v2);

	/* bad joins: a second group on one log, bad options */
	ts_err err = {0};
	ingest_log_kafka_group *bad = NULL;
	ingest_log_kafka_group_options go = {.session_timeout_ms = 2000,
					     .assigned = view_assigned,
					     .revoked = view_revoked,
					     .ctx = &v1};
	assert_int_equal(ingest_log_kafka_group_join(l1, &go, &bad, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "already joined"));
	go.session_timeout_ms = 10;
	assert_int_equal(ingest_log_kafka_group_join(l3, &go, &bad, &err), TS_EINVAL);
	assert_null(bad);

	/* the group splits the partitions: 2 + 2, disjoint */
	int64_t deadline = now_ms() + 30000;
	while ((n_owned(&v1, P) != 2 || n_owned(&v2, P) != 2) && now_ms() < deadline)
		usleep(50000);
	if (n_owned(&v1, P) != 2 || n_owned(&v2, P) != 2)
		fail_msg("members own %d and %d partitions, wanted 2 and 2", n_owned(&v1, P),
			 n_owned(&v2, P));
	for (int p = 0; p < P; p++)
		assert_true(is_owned(&v1, p) != is_owned(&v2, p));

	/* a checkpoint by a member commits through it (the group has members: a
	 * generation-less commit would be refused by Kafka); another log sees it */
	int p1 = is_owned(&v1, 0) ? 0 : is_owned(&v1, 1) ? 1 : is_owned(&v1, 2) ? 2 : 3;
	for (int i = 0; i < 3; i++)
		must_append(l1, p1, 1, i);
	assert_int_equal(ingest_log_checkpoint(l1, p1, 1, &err), TS_OK);
	assert_int_equal(stats(l3, p1).checkpoint_next, 2);
	v1.log = l1; /* when p1 is revoked, l1 checkpoints it at offset 2 */
	v1.ckpt_off = 2;
	pthread_mutex_lock(&v1.mu);
	v1.ckpt_part = p1;
	pthread_mutex_unlock(&v1.mu);

	/* l1 leaves: its partitions are revoked (not lost) and l2 gets all four */
	ingest_log_kafka_group_leave(g1);
	assert_int_equal(v1.n_revoked, 2);
	assert_int_equal(v1.n_lost, 0);
	assert_int_equal(n_owned(&v1, P), 0);
	assert_int_equal(v1.ckpt_rc, TS_OK); /* committed from inside the revocation */
	ingest_log *l5 = open_kafka(&o);
	assert_int_equal(stats(l5, p1).checkpoint_next, 3);
	ingest_log_close(l5);
	deadline = now_ms() + 30000;
	while (n_owned(&v2, P) != P && now_ms() < deadline)
		usleep(50000);
	assert_int_equal(n_owned(&v2, P), P);
	/* the new owner's first checkpoint commits its own offset, even below the group's */
	assert_int_equal(ingest_log_checkpoint(l2, p1, 0, &err), TS_OK);
	ingest_log *l4 = open_kafka(&o); /* l3 caches the group's offset for 10 s */
	assert_int_equal(stats(l4, p1).checkpoint_next, 1);
	ingest_log_close(l4);
	ingest_log_kafka_group_leave(g2);
	assert_int_equal(n_owned(&v2, P), 0);
	ingest_log_kafka_group_leave(NULL);

	ingest_log_close(l1);
	ingest_log_close(l2);
	ingest_log_close(l3);
	ingest_kafka_mock_free(m);
}

static void test_ingest_kafka_config_open(void **state)
{
	(void)state;
	ingest_kafka_mock *m = start_mock(1, "cfg", 4);
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
		 "kafka:\n  brokers: %s\n  topic: cfg\n  partitions: 4\n  linger: 1ms\n"
		 "  properties: {socket.keepalive.enable: true}\n",
		 ingest_kafka_mock_bootstraps(m));
	ingest_kafka_config *c = NULL;
	ts_err err = {0};
	if (parse_cfg(yaml, &c, &err))
		fail_msg("parse: %s", err.msg);
	ingest_log *l = open_kafka(ingest_kafka_config_options(c));
	ingest_kafka_config_free(c); /* the log keeps its own copies */
	assert_int_equal(ingest_log_n_partitions(l), 4);
	assert_true(must_append(l, 3, 1, 1) == 0);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_log_kafka_append_returns_offsets),
	    cmocka_unit_test(test_ingest_log_kafka_reader_reads_in_order),
	    cmocka_unit_test(test_ingest_log_kafka_checkpoint_commit_and_resume),
	    cmocka_unit_test(test_ingest_log_kafka_broker_down_unavailable),
	    cmocka_unit_test(test_ingest_log_kafka_append_deadline_slow_broker),
	    cmocka_unit_test(test_ingest_log_kafka_reader_survives_outage),
	    cmocka_unit_test(test_ingest_log_kafka_record_bytes_identical),
	    cmocka_unit_test(test_ingest_log_kafka_append_large_record),
	    cmocka_unit_test(test_ingest_log_kafka_append_concurrent),
	    cmocka_unit_test(test_ingest_log_kafka_open_checks),
	    cmocka_unit_test(test_ingest_kafka_config_parse),
	    cmocka_unit_test(test_ingest_kafka_config_open),
	    cmocka_unit_test(test_ingest_log_kafka_group_split_commit_leave),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
