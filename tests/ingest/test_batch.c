/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_batch.c: tests of the durable write path (ingest/batch.c, ingest_config.c, and the
 * pipeline around them): writes -> partitioned log -> consumers -> store round trips, the
 * partition contract (ts_series_hash % P), one record per partition per request, record
 * splitting at max_record_bytes, snappy, sequential and parallel appends, back-pressure
 * (log pending bytes and consumer lag: TS_EBUSY with nothing appended), disk full, replay
 * after closing and reopening everything (nothing lost, nothing duplicated), the
 * `ingest:` config section and its errors, direct mode without a log, batches reused
 * from the writer's pool and the label checks of the id path, the partition of series
 * added with ingest_batch_add_renamed (spliced series keys; 3 and 8 partitions), and the
 * line-protocol series cache (line_protocol.c with ingest_batch_add_ref/_add_at): a body
 * parsed whole writes exactly the log records that the same body parsed line by line (no
 * cache) does.
 */
#include "ingest/batch.h"

#include "ingest/consumer.h"
#include "ingest/ingest_config.h"
#include "ingest/line_protocol.h"
#include "ingest/log.h"
#include "ingest/log_kafka.h"
#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/ingest_support.h" /* after cmocka.h: uses its assertions */

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define WAIT_MS 15000 /* upper bound of every wait */
#define T0_S    1700000000LL

/* ---------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* A fresh empty directory STRATA_TEST_TMP/batch/<name> (created); returns a static path. */
static const char *fresh_dir(const char *name)
{
	static char path[1024];
	mkdir(STRATA_TEST_TMP, 0755);
	mkdir(STRATA_TEST_TMP "/batch", 0755);
	snprintf(path, sizeof(path), STRATA_TEST_TMP "/batch/%s", name);
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(path, 0755);
	return path;
}

/* Load a config from YAML text (written to <dir>/strata.yml). */
static ts_config *load_config(const char *dir, const char *yaml, ts_err *err)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/strata.yml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);
	ts_config *c = NULL;
	return ts_config_load(path, &c, err) == TS_OK ? c : NULL;
}

static ts_config *config(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static ts_config *config(const char *dir, const char *fmt, ...)
{
	char yaml[2048];
	int n = snprintf(yaml, sizeof(yaml), "storage:\n  data_dir: %s/data\n", dir);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(yaml + n, sizeof(yaml) - (size_t)n, fmt, ap);
	va_end(ap);
	ts_err err = {0};
	ts_config *c = load_config(dir, yaml, &err);
	if (!c)
		fail_msg("config: %s", err.msg);
	return c;
}

typedef struct env {
	tsdb_db *db;
	ingest_log *log; /* opened by the test (NULL: the pipeline opens it from the config) */
	ts_config *cfg;
	ingest_pipeline *p;
} env;

static tsdb_db *open_db(int parts, const char *dir)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.n_partitions = parts;
	o.dir = dir;
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

/* Start a pipeline over a memory store, with the log `l` (may be NULL) and config c. */
static void env_open(env *e, int parts, ingest_log *l, ts_config *c)
{
	memset(e, 0, sizeof(*e));
	e->db = open_db(parts, NULL);
	e->log = l;
	e->cfg = c;
	ingest_options o;
	ingest_options_init(&o);
	o.db = e->db;
	o.log = l;
	o.config = c;
	ts_err err = {0};
	if (ingest_open(&o, &e->p, &err))
		fail_msg("ingest_open: %s", err.msg);
}

static void env_close(env *e)
{
	ingest_close(e->p);
	tsdb_close(e->db);
	ingest_log_close(e->log);
	ts_config_free(e->cfg);
}

static ingest_log *open_log(const char *dir, int parts, uint64_t max_pending)
{
	ingest_log_local_options o = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	o.dir = dir;
	o.n_partitions = parts;
	o.max_pending_bytes = max_pending;
	ingest_log *l = NULL;
	ts_err err = {0};
	if (ingest_log_local_open(&o, &l, &err))
		fail_msg("open %s: %s", dir, err.msg);
	return l;
}

/* Line protocol: n_series hosts x n_t timestamps (seconds from T0_S + t0), 2 fields. */
static char *make_lp(int n_series, int t0, int n_t)
{
	size_t cap = (size_t)n_series * (size_t)n_t * 96 + 1, len = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	for (int t = 0; t < n_t; t++)
		for (int h = 0; h < n_series; h++)
			len += (size_t)snprintf(s + len, cap - len,
						"cpu,host=h%04d,dc=eu user=%d,idle=%di %lld\n", h,
						t0 + t, t0 + t, T0_S + t0 + t);
	return s;
}

static int write_lp(env *e, const char *lp, ingest_write_result *res, ts_err *err)
{
	return ingest_write_line_protocol(e->p, lp, strlen(lp), "s", res, err);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Wait until every consumer applied everything the log holds. */
static void wait_applied(env *e)
{
	ingest_consumers *c = ingest_writer_consumers(ingest_pipeline_writer(e->p));
	int n = ingest_n_partitions(e->p);
	for (int64_t end = ts_now_ms() + WAIT_MS; ts_now_ms() < end; sleep_ms(2)) {
		int done = 0;
		for (int p = 0; p < n; p++) {
			ingest_consumer_stats cs;
			ingest_consumers_stats(c, p, &cs);
			ingest_partition_stats ps;
			assert_int_equal(ingest_partition_stats_get(e->p, p, &ps, NULL), TS_OK);
			if (cs.lag_bytes == 0 && cs.next_offset >= ps.log_next_offset &&
			    ingest_replay_done(e->p))
				done++;
		}
		if (done == n)
			return;
	}
	fail_msg("consumers did not catch up");
}

/* Samples of metric `name` in the store; each (series, t) must appear once. */
static size_t count_samples(tsdb_db *db, const char *name, size_t *n_series)
{
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "__name__", name, NULL), TS_OK);
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, 0, INT64_MAX / 4, &q, NULL), TS_OK);
	tsdb_series **s = NULL;
	size_t n = 0, count = 0;
	assert_int_equal(tsdb_select(q, &m, 1, 0, &s, &n, NULL), TS_OK);
	for (size_t i = 0; i < n; i++) {
		tsdb_iter *it;
		assert_int_equal(tsdb_iter_open(q, s[i], 0, INT64_MAX / 4, &it, NULL), TS_OK);
		int64_t t, prev = INT64_MIN;
		double v;
		while (tsdb_iter_next(it, &t, &v) == 1) {
			assert_true(t > prev); /* no duplicates */
			assert_true(v == (double)(t / 1000 - T0_S));
			prev = t;
			count++;
		}
		tsdb_iter_close(it);
	}
	ts_free(s);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	if (n_series)
		*n_series = n;
	return count;
}

typedef struct part_check {
	int partition, n_partitions;
	size_t n_samples;
} part_check;

static int check_partition(void *ctx, const ts_label *labels, size_t n, int64_t t_ms, double v)
{
	part_check *pc = ctx;
	assert_int_equal(ts_series_hash(labels, n) % (uint64_t)pc->n_partitions, pc->partition);
	pc->n_samples++;
	return TS_OK;
}

/* Read partition p from the start; returns samples; checks the partition contract. */
static size_t read_partition(ingest_log *l, int p, uint64_t *n_records)
{
	ingest_log_reader *r;
	assert_int_equal(ingest_log_reader_open(l, p, 0, &r, NULL), TS_OK);
	ingest_record_decoder *d;
	assert_int_equal(ingest_record_decoder_new(&d, NULL), TS_OK);
	part_check pc = {p, ingest_log_n_partitions(l), 0};
	const void *rec;
	size_t len;
	*n_records = 0;
	while (ingest_log_reader_next(r, &rec, &len, NULL, 0, NULL) == TS_OK) {
		assert_int_equal(ingest_record_decode(d, rec, len, check_partition, &pc, NULL),
				 TS_OK);
		(*n_records)++;
	}
	ingest_record_decoder_free(d);
	ingest_log_reader_close(r);
	return pc.n_samples;
}

/* ---------------------------------------------------------------- round trips */

static void round_trip(const char *name, const char *yaml)
{
	const char *dir = fresh_dir(name);
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 4, open_log(logdir, 4, 0), config(dir, "%s", yaml));
	char *lp = make_lp(200, 0, 3);
	ingest_write_result res;
	ts_err err = {0};
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_OK);
	free(lp);
	assert_int_equal(res.n_samples, 1200);
	assert_int_equal(res.n_rejected, 0);
	wait_applied(&e);
	size_t n_series;
	assert_int_equal(count_samples(e.db, "cpu_user", &n_series), 600);
	assert_int_equal(n_series, 200);
	assert_int_equal(count_samples(e.db, "cpu_idle", NULL), 600);
	size_t total = 0;
	uint64_t n_records = 0;
	for (int p = 0; p < 4; p++) {
		uint64_t nr;
		total += read_partition(e.log, p, &nr);
		n_records += nr;
		ingest_partition_stats ps;
		assert_int_equal(ingest_partition_stats_get(e.p, p, &ps, NULL), TS_OK);
		assert_int_equal(ps.n_samples_applied, read_partition(e.log, p, &nr));
		assert_int_equal(ps.consumer_next_offset, nr);
		assert_true(ps.is_replayed);
	}
	assert_int_equal(total, 1200);
	assert_true(n_records >= 4); /* one record per partition at least (max_record_bytes) */
	ingest_stats st;
	ingest_stats_get(e.p, &st);
	assert_int_equal(st.samples, 1200);
	assert_int_equal(st.rejected, 0);
	env_close(&e);
}

static void test_ingest_batch_commit_round_trip(void **state)
{
	round_trip("round_trip", "");
}

static void test_ingest_batch_commit_round_trip_snappy(void **state)
{
	round_trip("snappy", "ingest:\n  compression: snappy\n");
}

static void test_ingest_batch_commit_round_trip_sequential(void **state)
{
	round_trip("sequential", "ingest:\n  append_threads: 0\n");
}

static void test_ingest_batch_commit_round_trip_small_records(void **state)
{
	/* many records per partition per request; their order must survive */
	round_trip("small_records", "ingest:\n  max_record_bytes: 4KiB\n");
}

static void test_ingest_batch_commit_one_record_per_partition(void **state)
{
	const char *dir = fresh_dir("one_record");
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 4, open_log(logdir, 4, 0), config(dir, "%s", ""));
	ingest_write_result res;
	for (int i = 0; i < 5; i++) {
		char *lp = make_lp(50, i, 1);
		assert_int_equal(write_lp(&e, lp, &res, NULL), TS_OK);
		free(lp);
	}
	uint64_t records = 0;
	for (int p = 0; p < 4; p++) {
		ingest_log_partition_stats ls;
		assert_int_equal(ingest_log_stats(e.log, p, &ls, NULL), TS_OK);
		assert_int_equal(ls.next_offset, 5); /* 50 hosts touch every partition */
		records += ls.next_offset;
	}
	assert_int_equal(records, 20);
	env_close(&e);
}

static void test_ingest_batch_commit_scraper_style(void **state)
{
	/* the batch API as the scraper uses it: begin, add, commit, free */
	const char *dir = fresh_dir("api");
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 2, open_log(logdir, 2, 0), config(dir, "%s", ""));
	ingest_batch *b;
	assert_int_equal(ingest_batch_begin(e.p, &b, NULL), TS_OK);
	ts_label l[] = {{"__name__", "cpu_user"}, {"host", "x"}};
	for (int i = 0; i < 10; i++)
		assert_int_equal(ingest_batch_add(b, l, 2, (T0_S + i) * 1000, i), TS_OK);
	ingest_write_result res = {0};
	assert_int_equal(ingest_batch_commit(b, &res, NULL), TS_OK);
	ingest_batch_free(b);
	assert_int_equal(res.n_samples, 10);
	/* an uncommitted batch writes nothing */
	assert_int_equal(ingest_batch_begin(e.p, &b, NULL), TS_OK);
	assert_int_equal(ingest_batch_add(b, l, 2, (T0_S + 99) * 1000, 99), TS_OK);
	ingest_batch_free(b);
	ingest_batch_free(NULL);
	wait_applied(&e);
	assert_int_equal(count_samples(e.db, "cpu_user", NULL), 10);
	env_close(&e);
}

/*
 * Batches come back from the writer's pool: symbol ids, series slots and builders of
 * an earlier (committed or dropped) batch must not leak into the next. Also the label
 * checks of the id path: unsorted, duplicate, no __name__, empty strings.
 */
static void test_ingest_batch_add_reused_batches(void **state)
{
	const char *dir = fresh_dir("reuse");
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 3, open_log(logdir, 3, 0), config(dir, "%s", ""));
	char host[16];
	size_t want = 0;
	for (int round = 0; round < 6; round++) {
		ingest_batch *b;
		assert_int_equal(ingest_batch_begin(e.p, &b, NULL), TS_OK);
		/* hosts in a different order each round, fields interleaved like a point */
		for (int i = 0; i < 40; i++) {
			int h = (i * 7 + round * 13) % 40; /* a permutation */
			snprintf(host, sizeof(host), "h%d", h);
			int64_t t_s = round * 10 + (h % 3);
			ts_label u[] = {{"__name__", "cpu_user"}, {"dc", "eu"}, {"host", host}};
			ts_label d[] = {{"__name__", "cpu_idle"}, {"dc", "eu"}, {"host", host}};
			ts_label z[] = {{"__name__", "cpu_user"}, {"host", host}, {"zone", "z1"}};
			assert_int_equal(
			    ingest_batch_add(b, u, 3, (T0_S + t_s) * 1000, (double)t_s), TS_OK);
			/* the next field of the same point (the line-protocol parser's path) */
			assert_int_equal(
			    ingest_batch_add_renamed(b, d, 3, 0, (T0_S + t_s) * 1000, (double)t_s),
			    TS_OK);
			assert_int_equal(
			    ingest_batch_add(b, z, 3, (T0_S + t_s) * 1000, (double)t_s), TS_OK);
		}
		/* bad label sets are refused and do not disturb the next sample */
		ts_label unsorted[] = {{"__name__", "cpu_user"}, {"host", "a"}, {"dc", "eu"}};
		ts_label dup[] = {{"__name__", "cpu_user"}, {"host", "a"}, {"host", "b"}};
		ts_label noname[] = {{"dc", "eu"}, {"host", "a"}};
		ts_label empty[] = {{"__name__", "cpu_user"}, {"host", ""}};
		ts_label emptyname[] = {{"", "x"}, {"__name__", "cpu_user"}};
		assert_int_equal(ingest_batch_add(b, unsorted, 3, T0_S * 1000, 0), TS_EINVAL);
		assert_int_equal(ingest_batch_add(b, dup, 3, T0_S * 1000, 0), TS_EINVAL);
		assert_int_equal(ingest_batch_add(b, noname, 2, T0_S * 1000, 0), TS_EINVAL);
		assert_int_equal(ingest_batch_add(b, empty, 2, T0_S * 1000, 0), TS_EINVAL);
		assert_int_equal(ingest_batch_add(b, emptyname, 2, T0_S * 1000, 0), TS_EINVAL);
		assert_int_equal(ingest_batch_add(b, NULL, 0, T0_S * 1000, 0), TS_EINVAL);
		/* renamed after a refused set falls back to the full check */
		assert_int_equal(ingest_batch_add_renamed(b, noname, 2, 0, T0_S * 1000, 0),
				 TS_EINVAL);
		ts_label noval[] = {{"__name__", ""}, {"dc", "eu"}, {"host", "h0"}};
		ts_label ok[] = {{"__name__", "cpu_user"}, {"dc", "eu"}, {"host", "h0"}};
		int64_t t_ok = round * 10 + 5;
		assert_int_equal(ingest_batch_add(b, ok, 3, (T0_S + t_ok) * 1000, (double)t_ok),
				 TS_OK);
		assert_int_equal(ingest_batch_add_renamed(b, noval, 3, 0, T0_S * 1000, 0),
				 TS_EINVAL);
		if (round % 2) { /* dropped: nothing of it may appear later */
			ts_label ghost[] = {{"__name__", "cpu_user"}, {"host", "ghost"}};
			assert_int_equal(ingest_batch_add(b, ghost, 2, T0_S * 1000, 0), TS_OK);
			ingest_batch_free(b);
			continue;
		}
		ingest_write_result res = {0};
		assert_int_equal(ingest_batch_commit(b, &res, NULL), TS_OK);
		assert_int_equal(res.n_samples, 121);
		want += 121;
		ingest_batch_free(b);
	}
	wait_applied(&e);
	size_t n_user, n_idle;
	size_t got =
	    count_samples(e.db, "cpu_user", &n_user) + count_samples(e.db, "cpu_idle", &n_idle);
	assert_int_equal(got, want);
	assert_int_equal(n_user, 80); /* 40 hosts with dc, 40 with zone; no ghost */
	assert_int_equal(n_idle, 40);
	env_close(&e);
}

/*
 * The partition of every series is ts_series_hash % P whichever way the batch got its
 * labels: ingest_batch_add, then _add_renamed with __name__ values of other lengths (the
 * batch splices them into its series key), labels sorting before and after __name__, a
 * different label set in between, and P a power of 2 or not (the batch masks instead of
 * dividing then).
 */
static void renamed_partitions(const char *name, int parts)
{
	const char *dir = fresh_dir(name);
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, parts, open_log(logdir, parts, 0), config(dir, "%s", ""));
	static const char *names[] = {
	    "m", "mem_used_bytes", "mx", "cpu_usage", "m", "a_much_longer_metric_name_x"};
	enum { N_NAMES = sizeof(names) / sizeof(names[0]) };
	ingest_batch *b;
	assert_int_equal(ingest_batch_begin(e.p, &b, NULL), TS_OK);
	char host[16];
	size_t want = 0;
	for (int h = 0; h < 60; h++) {
		snprintf(host, sizeof(host), "host-%d", h);
		/* "Zone" sorts before "__name__", "host" after */
		ts_label l[] = {
		    {"Zone", h % 2 ? "eu" : "us-east-1"}, {"__name__", names[0]}, {"host", host}};
		int64_t t = (T0_S + h) * 1000;
		assert_int_equal(ingest_batch_add(b, l, 3, t, h), TS_OK);
		want++;
		for (int k = 1; k < N_NAMES; k++) {
			l[1].value = names[k];
			assert_int_equal(ingest_batch_add_renamed(b, l, 3, 1, t + k, h), TS_OK);
			want++;
		}
		if (h % 3 == 0) { /* another label set in between, __name__ first */
			ts_label o[] = {{"__name__", "other"}, {"host", host}};
			assert_int_equal(ingest_batch_add(b, o, 2, t, h), TS_OK);
			o[0].value = "other_renamed";
			assert_int_equal(ingest_batch_add_renamed(b, o, 2, 0, t, h), TS_OK);
			want += 2;
		}
		/* a wrong name_idx is not trusted: the full checks run (and pass here) */
		l[1].value = "m";
		assert_int_equal(ingest_batch_add_renamed(b, l, 3, 2, t + 100, h), TS_OK);
		want++;
	}
	ingest_write_result res = {0};
	assert_int_equal(ingest_batch_commit(b, &res, NULL), TS_OK);
	assert_int_equal(res.n_samples, want);
	ingest_batch_free(b);
	size_t total = 0;
	for (int p = 0; p < parts; p++) {
		uint64_t nr;
		total += read_partition(e.log, p, &nr); /* checks ts_series_hash % P */
	}
	assert_int_equal(total, want);
	wait_applied(&e);
	size_t n_series;
	assert_int_equal(count_samples(e.db, "m", &n_series), 180); /* t, t + 4, t + 100 */
	assert_int_equal(n_series, 60);
	assert_int_equal(count_samples(e.db, "a_much_longer_metric_name_x", NULL), 60);
	assert_int_equal(count_samples(e.db, "other_renamed", NULL), 20);
	env_close(&e);
}

static void test_ingest_batch_add_renamed_partitions(void **state)
{
	renamed_partitions("renamed_p3", 3);
	renamed_partitions("renamed_p8", 8);
}

/* ---------------------------------------------------------------- errors */

static void test_ingest_batch_commit_busy_pending(void **state)
{
	/* the memory store persists nothing, so nothing is checkpointed: the log's
	 * pending-bytes bound is reached and stays */
	const char *dir = fresh_dir("busy_pending");
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 2, open_log(logdir, 2, 8192), config(dir, "%s", ""));
	char *lp = make_lp(100, 0, 1);
	ingest_write_result res;
	ts_err err = {0};
	int rc = TS_OK, i;
	for (i = 0; i < 100 && rc == TS_OK; i++)
		rc = write_lp(&e, lp, &res, &err);
	free(lp);
	assert_int_equal(rc, TS_EBUSY);
	assert_true(i > 1);
	assert_non_null(strstr(err.msg, "not yet checkpointed"));
	uint64_t busy = 0;
	for (int p = 0; p < 2; p++) {
		ingest_log_partition_stats ls;
		assert_int_equal(ingest_log_stats(e.log, p, &ls, NULL), TS_OK);
		busy += ls.n_busy;
	}
	assert_int_equal(busy, 1);
	env_close(&e);
}

static void test_ingest_batch_commit_busy_lag(void **state)
{
	const char *dir = fresh_dir("busy_lag");
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 2, open_log(logdir, 2, 0),
		 config(dir, "%s", "ingest:\n  max_consumer_lag_bytes: 1KiB\n"));
	ingest_consumers *c = ingest_writer_consumers(ingest_pipeline_writer(e.p));
	ingest_consumers_set_paused(c, true);
	char *lp = make_lp(200, 0, 1);
	ingest_write_result res;
	ts_err err = {0};
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_OK); /* lag was 0 */
	uint64_t before[2];
	for (int p = 0; p < 2; p++) {
		ingest_log_partition_stats ls;
		assert_int_equal(ingest_log_stats(e.log, p, &ls, NULL), TS_OK);
		before[p] = ls.next_offset;
	}
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_EBUSY);
	assert_int_equal(res.n_samples, 0);
	assert_non_null(strstr(err.msg, "max_consumer_lag_bytes 1024"));
	for (int p = 0; p < 2; p++) { /* refused before anything was appended */
		ingest_log_partition_stats ls;
		assert_int_equal(ingest_log_stats(e.log, p, &ls, NULL), TS_OK);
		assert_int_equal(ls.next_offset, before[p]);
	}
	ingest_consumers_set_paused(c, false);
	wait_applied(&e);
	free(lp);
	lp = make_lp(200, 1, 1);
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_OK);
	free(lp);
	wait_applied(&e);
	assert_int_equal(count_samples(e.db, "cpu_user", NULL), 400);
	env_close(&e);
}

static void test_ingest_batch_commit_enospc(void **state)
{
	const char *dir = fresh_dir("enospc");
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 2, open_log(logdir, 2, 0), config(dir, "%s", ""));
	ingest_log_local_faults f = {.space_bytes = 0, .fail_syncs = 0, .sync_delay_us = 0};
	assert_int_equal(ingest_log_local_set_faults(e.log, &f, NULL), TS_OK);
	char *lp = make_lp(20, 0, 1);
	ingest_write_result res;
	ts_err err = {0};
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_ENOSPC);
	assert_int_equal(res.n_samples, 0);
	f.space_bytes = -1;
	assert_int_equal(ingest_log_local_set_faults(e.log, &f, NULL), TS_OK);
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_OK); /* works again */
	free(lp);
	assert_int_equal(res.n_samples, 40);
	wait_applied(&e);
	assert_int_equal(count_samples(e.db, "cpu_user", NULL), 20);
	env_close(&e);
}

static void test_ingest_batch_commit_sync_failure(void **state)
{
	const char *dir = fresh_dir("eio");
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 1, open_log(logdir, 1, 0), config(dir, "%s", ""));
	ingest_log_local_faults f = {.space_bytes = -1, .fail_syncs = 1, .sync_delay_us = 0};
	assert_int_equal(ingest_log_local_set_faults(e.log, &f, NULL), TS_OK);
	char *lp = make_lp(5, 0, 1);
	ingest_write_result res;
	ts_err err = {0};
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_EIO);
	assert_int_equal(write_lp(&e, lp, &res, &err), TS_OK);
	free(lp);
	wait_applied(&e);
	assert_int_equal(count_samples(e.db, "cpu_user", NULL), 5);
	env_close(&e);
}

/* ---------------------------------------------------------------- restart */

static void test_ingest_open_replay_after_reopen(void **state)
{
	/* everything through the config: log in <data_dir>/log, a store with a directory;
	 * close and reopen it all three times: nothing lost, nothing duplicated */
	const char *dir = fresh_dir("reopen");
	char data[1200];
	snprintf(data, sizeof(data), "%s/data", dir);
	size_t written = 0;
	for (int round = 0; round < 3; round++) {
		env e;
		memset(&e, 0, sizeof(e));
		e.cfg = config(dir, "ingest:\n  partitions: 3\n  segment_bytes: 8KiB\n");
		int parts = 0;
		assert_int_equal(ingest_config_partitions(e.cfg, &parts, NULL), TS_OK);
		assert_int_equal(parts, 3);
		mkdir(data, 0755);
		e.db = open_db(parts, data);
		ingest_options o;
		ingest_options_init(&o);
		o.db = e.db;
		o.config = e.cfg;
		ts_err err = {0};
		if (ingest_open(&o, &e.p, &err))
			fail_msg("ingest_open: %s", err.msg);
		assert_int_equal(ingest_n_partitions(e.p), 3);
		wait_applied(&e);
		assert_int_equal(count_samples(e.db, "cpu_user", NULL), written);
		for (int i = 0; i < 4; i++) {
			char *lp = make_lp(30, round * 4 + i, 1);
			ingest_write_result res;
			assert_int_equal(write_lp(&e, lp, &res, &err), TS_OK);
			free(lp);
			written += 30;
		}
		if (round == 2) {
			wait_applied(&e);
			assert_int_equal(count_samples(e.db, "cpu_user", NULL), written);
		}
		env_close(&e); /* drains the consumers */
	}
}

static void test_ingest_open_partition_count_mismatch(void **state)
{
	const char *dir = fresh_dir("mismatch");
	ts_config *c = config(dir, "ingest:\n  partitions: 2\n");
	char data[1200];
	snprintf(data, sizeof(data), "%s/data", dir);
	mkdir(data, 0755);
	env e;
	env_open(&e, 2, NULL, c);
	env_close(&e);
	c = config(dir, "ingest:\n  partitions: 4\n");
	tsdb_db *db = open_db(4, NULL);
	ingest_options o;
	ingest_options_init(&o);
	o.db = db;
	o.config = c;
	ingest_pipeline *p = NULL;
	ts_err err = {0};
	assert_int_equal(ingest_open(&o, &p, &err), TS_EINVAL);
	assert_null(p);
	assert_non_null(strstr(err.msg, "partition"));
	tsdb_close(db);
	ts_config_free(c);
}

static void test_ingest_open_kafka_round_trip(void **state)
{
	/* backend kafka against librdkafka's mock cluster: write, apply, and replay into a
	 * fresh store after a restart */
	ingest_kafka_mock *m = NULL;
	ts_err err = {0};
	if (ingest_kafka_mock_new(1, &m, &err))
		fail_msg("mock: %s", err.msg);
	assert_int_equal(ingest_kafka_mock_topic_create(m, "strata-test", 3, 1, &err), TS_OK);
	const char *dir = fresh_dir("kafka");
	for (int round = 0; round < 2; round++) {
		env e;
		memset(&e, 0, sizeof(e));
		e.cfg = config(dir,
			       "ingest:\n  backend: kafka\n  partitions: 3\n"
			       "kafka:\n  brokers: %s\n  topic: strata-test\n",
			       ingest_kafka_mock_bootstraps(m));
		e.db = open_db(3, NULL);
		ingest_options o;
		ingest_options_init(&o);
		o.db = e.db;
		o.config = e.cfg;
		if (ingest_open(&o, &e.p, &err))
			fail_msg("ingest_open: %s", err.msg);
		assert_int_equal(ingest_n_partitions(e.p), 3);
		if (round == 0) {
			char *lp = make_lp(40, 0, 2);
			ingest_write_result res;
			assert_int_equal(write_lp(&e, lp, &res, &err), TS_OK);
			free(lp);
			assert_int_equal(res.n_samples, 160);
		}
		wait_applied(&e); /* round 1: the replay into the new store */
		size_t n_series = 0;
		assert_int_equal(count_samples(e.db, "cpu_user", &n_series), 80);
		assert_int_equal(n_series, 40);
		env_close(&e);
	}
	ingest_kafka_mock_free(m);
}

/* ---------------------------------------------------------------- config */

static void config_error(const char *yaml, const char *want)
{
	const char *dir = fresh_dir("config_error");
	ts_err err = {0};
	ts_config *c = load_config(dir, yaml, &err);
	assert_non_null(c);
	int n = 0;
	assert_int_equal(ingest_config_partitions(c, &n, &err), TS_EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("got '%s', want '%s'", err.msg, want);
	ts_config_free(c);
}

static void test_ingest_config_partitions_errors(void **state)
{
	config_error("ingest:\n  partitons: 4\n", "strata.yml:2:3: unknown key 'ingest.partitons'");
	config_error("ingest:\n  partitions: 0\n", "strata.yml:2:15: ingest.partitions");
	config_error("ingest:\n  partitions: 2000\n", "ingest.partitions");
	config_error("ingest:\n  compression: zstd\n",
		     "strata.yml:2:16: ingest.compression: 'zstd' is not one of none, snappy");
	config_error("ingest:\n  backend: nfs\n", "is not one of local, kafka");
	config_error("ingest:\n  segment_bytes: 10\n",
		     "ingest.segment_bytes: '10' is out of range");
	config_error("ingest:\n  max_pending_bytes: lots\n", "ingest.max_pending_bytes");
	config_error("ingest:\n  group_commit_wait: 5s\n", "out of range [0s, 1s]");
	config_error("ingest:\n  append_threads: -1\n", "ingest.append_threads");
	config_error("ingest:\n  max_record_bytes: 64MiB\n", "ingest.max_record_bytes");
	config_error("ingest:\n  log_dir: ''\n", "ingest.log_dir: must not be empty");
	config_error("ingest: [1, 2]\n", "strata.yml:1:9: ingest: expected a mapping");
	config_error("ingest:\n  backend: kafka\n", "kafka");
}

static void test_ingest_config_parse_values(void **state)
{
	const char *dir = fresh_dir("config_values");
	ts_err err = {0};
	ts_config *c = load_config(dir,
				   "storage:\n  data_dir: /srv/strata\n"
				   "ingest:\n  backend: local\n  partitions: 16\n"
				   "  segment_bytes: 1MiB\n  max_pending_bytes: 0\n"
				   "  max_consumer_lag_bytes: 2MiB\n  compression: snappy\n"
				   "  group_commit_wait: 2ms\n  max_record_bytes: 512KiB\n"
				   "  append_threads: 0\n",
				   &err);
	assert_non_null(c);
	ingest_config ic;
	ingest_config_defaults(&ic);
	assert_int_equal(ingest_config_parse(c, &ic, &err), TS_OK);
	assert_int_equal(ic.n_partitions, 16);
	assert_string_equal(ic.log_dir, "/srv/strata/log");
	assert_int_equal(ic.segment_bytes, 1 << 20);
	assert_int_equal(ic.max_pending_bytes, 0);
	assert_int_equal(ic.max_consumer_lag_bytes, 2 << 20);
	assert_int_equal(ic.compression, INGEST_RECORD_COMPRESS_SNAPPY);
	assert_int_equal(ic.group_commit_wait_us, 2000);
	assert_int_equal(ic.max_record_bytes, 512 << 10);
	assert_int_equal(ic.append_threads, 0);
	ingest_config_fini(&ic);
	ts_config_free(c);
	/* defaults */
	ingest_config_defaults(&ic);
	assert_int_equal(ingest_config_parse(NULL, &ic, &err), TS_OK);
	assert_int_equal(ic.n_partitions, 8);
	assert_string_equal(ic.log_dir, "./log");
	ingest_config_fini(&ic);
	ingest_config_fini(NULL);
	int n = 0;
	assert_int_equal(ingest_config_partitions(NULL, &n, NULL), TS_OK);
	assert_int_equal(n, 8);
}

static void test_ingest_config_parse_examples_file(void **state)
{
	/* examples/strata.yml documents every key of the section with its default */
	ts_config *c = NULL;
	ts_err err = {0};
	if (ts_config_load(STRATA_SOURCE_DIR "/examples/strata.yml", &c, &err))
		fail_msg("%s", err.msg);
	ingest_config got, want;
	ingest_config_defaults(&got);
	ingest_config_defaults(&want);
	assert_int_equal(ingest_config_parse(c, &got, &err), TS_OK);
	assert_int_equal(ingest_config_parse(NULL, &want, &err), TS_OK);
	assert_non_null(ts_config_section(c, "ingest"));
	assert_int_equal(got.backend, want.backend);
	assert_int_equal(got.n_partitions, want.n_partitions);
	assert_string_equal(got.log_dir, "./data/log");
	assert_int_equal(got.segment_bytes, want.segment_bytes);
	assert_int_equal(got.max_pending_bytes, want.max_pending_bytes);
	assert_int_equal(got.max_consumer_lag_bytes, want.max_consumer_lag_bytes);
	assert_int_equal(got.compression, want.compression);
	assert_int_equal(got.group_commit_wait_us, want.group_commit_wait_us);
	assert_int_equal(got.max_record_bytes, want.max_record_bytes);
	assert_int_equal(got.append_threads, want.append_threads);
	ingest_config_fini(&got);
	ingest_config_fini(&want);
	ts_config_free(c);
}

/* ---------------------------------------------------------------- direct mode */

static void test_ingest_batch_commit_direct_mode(void **state)
{
	env e;
	env_open(&e, 8, NULL, NULL);
	assert_int_equal(ingest_n_partitions(e.p), 0);
	assert_true(ingest_replay_done(e.p));
	assert_int_equal(ingest_partition_stats_get(e.p, 0, &(ingest_partition_stats){0}, NULL),
			 TS_EINVAL);
	char *lp = make_lp(10, 5, 1);
	ingest_write_result res;
	assert_int_equal(write_lp(&e, lp, &res, NULL), TS_OK);
	free(lp);
	assert_int_equal(res.n_samples, 20);
	/* visible at once, and store rejections are reported synchronously */
	assert_int_equal(count_samples(e.db, "cpu_user", NULL), 10);
	lp = make_lp(10, 5, 1);
	char *p = strstr(lp, " user=5");
	assert_non_null(p);
	p[6] = '6'; /* a different value at an existing timestamp */
	assert_int_equal(write_lp(&e, lp, &res, NULL), TS_OK);
	free(lp);
	assert_int_equal(res.n_rejected, 1);
	env_close(&e);
}

/* ---------------------------------------------------------------- series cache */

/* Line protocol of many shapes; prefixes repeat so that the series cache hits. */
static char *make_mixed_lp(size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	uint32_t x = 12345;
	for (int i = 0; i < 900; i++) {
		x = x * 1103515245u + 12345u;
		unsigned h = (x >> 16) % 7, shape = (x >> 8) % 16;
		long long t = T0_S + i;
		const char *eol = i % 11 == 0 ? "\r\n" : "\n";
		switch (shape) {
		case 0:
		case 1:
		case 2:
			n += (size_t)snprintf(
			    s + n, cap - n,
			    "cpu,dc=eu,host=h%u user=%d.5,idle=%di,sys=-3e-2 %lld%s", h, i, i, t,
			    eol);
			break;
		case 3: /* same prefix, fields in another order */
			n += (size_t)snprintf(s + n, cap - n,
					      "cpu,dc=eu,host=h%u idle=%di,user=%d.25 %lld%s", h, i,
					      i, t, eol);
			break;
		case 4: /* same prefix, one more field, a string field between */
			n += (size_t)snprintf(s + n, cap - n,
					      "cpu,dc=eu,host=h%u user=%d,s=\"a b\",idle=%di,sys=1,"
					      "extra=%du %lld%s",
					      h, i, i, i, t, eol);
			break;
		case 5: /* same prefix, a bad value: the point is dropped */
			n += (size_t)snprintf(s + n, cap - n, "cpu,dc=eu,host=h%u user=abc %lld%s",
					      h, t, eol);
			break;
		case 6: /* escaped: never cached */
			n += (size_t)snprintf(s + n, cap - n,
					      "cpu,dc=eu,host=h\\ %u user=%d,idle=1i %lld%s", h, i,
					      t, eol);
			break;
		case 7: /* unsorted tags, "value" field */
			n += (size_t)snprintf(s + n, cap - n,
					      "mem,zone=z%u,host=h%u value=%d %lld%s", h % 2, h, i,
					      t, eol);
			break;
		case 8: /* no tags */
			n += (size_t)snprintf(s + n, cap - n, "disk value=%d,free=%d %lld%s", i, i,
					      t, eol);
			break;
		case 9: { /* more fields than the parser's first pass keeps */
			n += (size_t)snprintf(s + n, cap - n, "wide,host=h%u ", h % 2);
			for (int f = 0; f < 70; f++)
				n += (size_t)snprintf(s + n, cap - n, "%sf%d=%d", f ? "," : "",
						      (f + i) % 71, f);
			n += (size_t)snprintf(s + n, cap - n, " %lld%s", t, eol);
			break;
		}
		case 10: /* another measurement, same tags */
			n += (size_t)snprintf(s + n, cap - n, "2cpu,dc=eu,host=h%u user=%d %lld%s",
					      h, i, t, eol);
			break;
		case 11: /* a reserved tag key, booleans */
			n += (size_t)snprintf(s + n, cap - n,
					      "cpu,__x=1,host=h%u up=true,dn=F %lld%s", h, t, eol);
			break;
		case 12: /* bad tags */
			n += (size_t)snprintf(s + n, cap - n, "cpu,host=,dc=eu user=1 %lld%s", t,
					      eol);
			break;
		case 13: /* cached prefix, no fields */
			n += (size_t)snprintf(s + n, cap - n, "cpu,dc=eu,host=h%u %s", h, eol);
			break;
		case 14: /* blank and comment lines */
			n += (size_t)snprintf(s + n, cap - n, "%s# cpu,dc=eu,host=h%u user=1%s",
					      eol, h, eol);
			break;
		default: /* the same prefix, value field */
			n += (size_t)snprintf(s + n, cap - n, "cpu,dc=eu,host=h%u value=%d %lld%s",
					      h, i, t, eol);
			break;
		}
		assert_true(n < cap - 4096);
	}
	*len = n;
	return s;
}

/* Parse body whole (by_line false) or one line per call into one batch of a fresh
 * pipeline with a 4-partition log, commit, and return the log's samples as text. */
static char *write_through_cache(const char *name, const char *yaml, const char *body, size_t len,
				 bool by_line, ingest_lp_result *sum, ingest_write_result *wres)
{
	const char *dir = fresh_dir(name);
	char logdir[1200];
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	env e;
	env_open(&e, 4, open_log(logdir, 4, 0), config(dir, "%s", yaml));
	ingest_batch *b;
	assert_int_equal(ingest_batch_begin(e.p, &b, NULL), TS_OK);
	test_lp_parse_into(b, body, len, by_line, NULL, sum);
	memset(wres, 0, sizeof(*wres));
	assert_int_equal(ingest_batch_commit(b, wres, NULL), TS_OK);
	ingest_batch_free(b);
	char *d = test_log_dump_all(e.log);
	env_close(&e);
	return d;
}

static void cache_same_records(const char *yaml)
{
	size_t len;
	char *body = make_mixed_lp(&len);
	ingest_lp_result whole, lines;
	ingest_write_result wr_whole, wr_lines;
	char *a = write_through_cache("cache_whole", yaml, body, len, false, &whole, &wr_whole);
	char *b = write_through_cache("cache_lines", yaml, body, len, true, &lines, &wr_lines);
	assert_true(whole.n_cached_points > 300); /* the cache was used */
	assert_int_equal(lines.n_cached_points, 0);
	assert_int_equal(whole.n_lines, lines.n_lines);
	assert_int_equal(whole.n_samples, lines.n_samples);
	assert_int_equal(whole.n_bad_lines, lines.n_bad_lines);
	assert_true(whole.n_bad_lines > 0);
	assert_int_equal(whole.n_string_fields_skipped, lines.n_string_fields_skipped);
	assert_int_equal(wr_whole.n_samples, wr_lines.n_samples);
	assert_int_equal(wr_whole.n_limited, wr_lines.n_limited);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(body);
}

static void test_ingest_lp_parse_series_cache_same_records(void **state)
{
	cache_same_records("");
}

/* With series limits some series are refused: the cache must not let them through. */
static void test_ingest_lp_parse_series_cache_series_limits(void **state)
{
	ingest_lp_result whole, lines;
	ingest_write_result wr_whole, wr_lines;
	size_t len;
	char *body = make_mixed_lp(&len);
	const char *yaml = "ingest:\n  max_series: 12\n";
	char *a = write_through_cache("cache_lim_whole", yaml, body, len, false, &whole, &wr_whole);
	char *b = write_through_cache("cache_lim_lines", yaml, body, len, true, &lines, &wr_lines);
	assert_true(whole.n_cached_points > 300);
	assert_true(wr_whole.n_limited > 0);
	assert_int_equal(wr_whole.n_limited, wr_lines.n_limited);
	assert_int_equal(wr_whole.n_samples, wr_lines.n_samples);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(body);
	cache_same_records("ingest:\n  compression: snappy\n  max_record_bytes: 4096\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_batch_commit_round_trip),
	    cmocka_unit_test(test_ingest_batch_commit_round_trip_snappy),
	    cmocka_unit_test(test_ingest_batch_commit_round_trip_sequential),
	    cmocka_unit_test(test_ingest_batch_commit_round_trip_small_records),
	    cmocka_unit_test(test_ingest_batch_commit_one_record_per_partition),
	    cmocka_unit_test(test_ingest_batch_commit_scraper_style),
	    cmocka_unit_test(test_ingest_batch_add_reused_batches),
	    cmocka_unit_test(test_ingest_batch_add_renamed_partitions),
	    cmocka_unit_test(test_ingest_batch_commit_busy_pending),
	    cmocka_unit_test(test_ingest_batch_commit_busy_lag),
	    cmocka_unit_test(test_ingest_batch_commit_enospc),
	    cmocka_unit_test(test_ingest_batch_commit_sync_failure),
	    cmocka_unit_test(test_ingest_open_replay_after_reopen),
	    cmocka_unit_test(test_ingest_open_partition_count_mismatch),
	    cmocka_unit_test(test_ingest_open_kafka_round_trip),
	    cmocka_unit_test(test_ingest_config_partitions_errors),
	    cmocka_unit_test(test_ingest_config_parse_values),
	    cmocka_unit_test(test_ingest_config_parse_examples_file),
	    cmocka_unit_test(test_ingest_batch_commit_direct_mode),
	    cmocka_unit_test(test_ingest_lp_parse_series_cache_same_records),
	    cmocka_unit_test(test_ingest_lp_parse_series_cache_series_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
