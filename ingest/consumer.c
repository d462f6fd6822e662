/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer.c: one thread per log partition feeds the store from the partitioned log.
 *
 * Design. A consumer ("ingest-pN") owns a log reader and a record decoder. It takes the
 * durable records at hand, in offset order (up to MERGE_MAX_RECORDS), decodes their
 * series entries into one merge (see `merge`), appends each series' samples in time order
 * to the store with one lookup (tsdb_append_series) and then records the last offset as
 * applied (tsdb_partition_applied). Because a partition is only ever applied by its own
 * consumer, series of one partition meet no other writer (DESIGN.md "one consumer per
 * partition owns its series"). A crash in the middle of a merge replays all of it; the
 * store drops the samples it already had.
 *
 * Recovery. The store reports per partition the next offset whose samples are not yet
 * persisted (tsdb_partition_resume_offset). At start the consumer reads from there, so a
 * restart replays exactly what the store could have lost; samples replayed twice are exact
 * duplicates the store drops. Until every consumer has reached the end the log had at
 * start, ingest_consumers_replay_done() is false (/-/ready answers 503).
 *
 * Checkpoints. Every CHECKPOINT_NS the consumer asks the store what it persisted and
 * checkpoints the log below it, which deletes whole segments and relieves the log's own
 * back-pressure (max_pending_bytes). The log keeps no checkpoint of its own: the first
 * checkpoint after a start is made from the store's offsets before the reader opens.
 *
 * Failures, none of them fatal:
 *   - TS_ECORRUPT from the reader (a damaged frame) or the decoder (a bad record): logged
 *     at error with the position, counted (n_corrupt), and the consumer moves on; those
 *     samples are lost.
 *   - samples the store refuses (out of order, conflicting value, series limit): counted
 *     (n_rejected, /metrics) and summarized in one warning per REJECT_LOG_MS. The client
 *     got its 2xx when the record became durable; this is the asynchronous part.
 *   - TS_ENOMEM (store or decoder) and TS_EIO: retried with exponential backoff; a record
 *     is applied again from its first sample (its applied samples are duplicates then).
 *     While stopping, a record that still fails is left for the next start's replay.
 *   - TS_ENOTFOUND (the data below the reader was deleted): logged, resumes at the first
 *     retained offset.
 *
 * Stop. ingest_consumers_stop sets `stopping`; each consumer then reads on without
 * waiting until the log has nothing more (the embedded log answers at once; Kafka after
 * STOP_IDLE_POLLS empty polls), applies it, checkpoints what the store persisted and exits.
 *
 * Consumer lag. lag_bytes counts bytes appended since start (ingest_consumers_appended)
 * minus bytes applied of records appended since start (offset >= replay_end). The replay
 * backlog is counted in records (offsets), not bytes. admit() compares lag_bytes with the
 * bound; the check and the later append are not atomic, so one request per concurrent
 * writer may overshoot the bound: it is a soft limit. (Records of this run that a reader
 * skips as damaged stay counted: a disk that corrupts fresh data can leave the bound
 * permanently closer.)
 *
 * Threads and locks. The consumer's own fields are touched only by its thread; the
 * counters and positions read by stats are atomics; `stopping` and `is_paused` are atomic
 * flags; `st_mu` guards only the cached log stats (copied in and out, nothing called under
 * it). No call into the store or the log holds a lock.
 *
 * Roles (consumer.h). Role store: the group "kafka-group" thread (log_kafka.c) calls
 * group_assigned/group_revoked. An assigned partition gets a consumer thread that first
 * prepares like a start does (retrying while Kafka or the offsets are not right) and then
 * runs the same loop. It resumes from the store's persisted offset for that partition, not
 * from the group's committed offset: each store keeps its own blocks, so only its own
 * offset says what it lacks (a store that never owned the partition reads it from the
 * beginning; one that owned it before continues where its blocks end). The owner of a
 * partition therefore always holds every retained record of it. A revoked partition's
 * thread stops after the record it is applying, without flushing: the samples stay in the
 * head and are persisted by the next cut like any others (a flush per rebalance would write
 * small blocks for every partition at every membership change, and nothing depends on it:
 * new owners read from their own offsets). Its last checkpoint commits the store's
 * persisted offset, unless the assignment was lost (another member may own it already).
 * Role ingest: no thread at all.
 *
 * Not done here: writing to the log (batch.c), deciding when the store persists (tsdb/).
 */
#include "ingest/consumer.h"

#include "ingest/log_kafka.h"
#include "ingest/record.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS_DEFAULT    100
#define CHECKPOINT_NS      (250 * 1000000LL) /* how often the store's offsets are looked at */
#define STATS_NS           (500 * 1000000LL) /* how often the log's stats are refreshed */
#define REJECT_LOG_MS      10000             /* one rejection summary per partition per 10 s */
#define ERROR_LOG_MS       10000             /* one retry error per partition per 10 s */
#define BACKOFF_MIN_MS     50
#define BACKOFF_MAX_MS     2000
#define STOP_TRIES         3  /* attempts of a failing record once stopping */
#define STOP_IDLE_POLLS    10 /* Kafka: empty polls in a row that end the drain at stop */
#define REVOKED            1  /* consumer.revoked: stop after the current record, checkpoint */
#define REVOKED_LOST       2  /* the same without the checkpoint (the assignment was lost) */
#define GAVE_UP            1  /* apply_merged: stopping, left for the replay */
#define MERGE_MAX_RECORDS  64 /* records merged into one apply */
#define MERGE_MAX_SAMPLES  (1 << 18) /* merging stops once this many samples are held */
#define MERGE_WAIT_MS      10        /* a merge of fewer than MERGE_WAIT_RECORDS records waits up */
#define MERGE_WAIT_RECORDS 4         /* to this long for more (not while stopping) */

/* ---------------------------------------------------------------- types */

/* A series of a merge (see merge). */
typedef struct mseries {
	uint64_t hash;     /* ts_series_hash of its labels */
	uint32_t lab_off;  /* its 2 * n_labels string offsets start at merge.lab[lab_off] */
	uint32_t n_labels; /* labels */
	uint32_t n;        /* samples */
	uint32_t pos;      /* counting sort cursor */
	int64_t last_t;    /* time of its last sample added */
	bool is_sorted;    /* samples were added in non-decreasing time order */
} mseries;

/*
 * The records a consumer applies together: every durable record the reader has at hand
 * (up to MERGE_MAX_RECORDS / MERGE_MAX_SAMPLES) is decoded into one set of series, and
 * each series gets one tsdb_append_series call with its samples in time order (a stable
 * sort, so equal timestamps keep log order and the store keeps the first of conflicting
 * values, as it would applying the records one by one). Concurrent writers append their
 * records out of time order (4 connections posting consecutive batches); applied record
 * by record, the later batch's samples come first and the earlier ones take the store's
 * out-of-order path. A merge of fewer than MERGE_WAIT_RECORDS records waits up to
 * MERGE_WAIT_MS for more (the concurrent writers' records usually follow within
 * milliseconds): the samples reach the store that much later, acknowledgements are not
 * delayed. On the devops benchmark (4 connections) this cut the samples taking the
 * store's out-of-order path from ~33 % to ~20-25 % (docs/benchmarks.md). Consumer thread
 * only; memory is kept for the next merge.
 */
typedef struct mkey {
	int64_t t;  /* sample time */
	uint32_t i; /* its index in log order: ties keep it */
} mkey;

typedef struct merge {
	mseries *ser; /* in first-seen order */
	size_t n_ser, cap_ser;
	uint32_t *slots; /* open addressing on hash: index + 1, 0 = free; load <= 1/2 */
	size_t n_slots;  /* power of 2 (0 before the first series) */
	uint32_t *lab;   /* name and value offsets into str, 2 per label */
	size_t n_lab, cap_lab;
	char *str; /* label strings, NUL-terminated */
	size_t n_str, cap_str;
	uint32_t *s_ser;  /* series of each sample, in log order */
	int64_t *t;       /* sample times, log order */
	double *v;        /* sample values, log order */
	uint32_t *order;  /* samples by series (counting sort) */
	size_t n, cap;    /* samples held, allocated */
	ts_label *labels; /* scratch for one series' labels */
	size_t cap_labels;
	int64_t *st; /* scratch: one series' times, then sorted */
	double *sv;  /* scratch: its values */
	mkey *sk;    /* scratch: sort keys */
	size_t cap_s;
} merge;

typedef struct consumer {
	ingest_consumers *g;  /* immutable */
	int partition;        /* immutable */
	uint64_t replay_end;  /* immutable after start: the log's end at start */
	pthread_t thread;     /* immutable after start */
	bool has_thread;      /* immutable after start */
	ingest_log_reader *r; /* consumer thread only */
	ingest_record_decoder *dec;
	merge m;                       /* consumer thread only */
	int64_t last_ckpt_ns;          /* consumer thread only: last look at the store's offsets */
	int64_t last_stats_ns;         /* consumer thread only: last refresh of st */
	pthread_mutex_t st_mu;         /* guards st */
	ingest_log_partition_stats st; /* the log's stats as of last_stats_ns */
	/* Per record (apply_sample), consumer thread only. */
	uint64_t rec_samples, rec_rejected;
	ts_err rec_err; /* scratch for the store's messages */
	/* Rejection summary, consumer thread only. */
	uint64_t rej_window; /* rejected since the last summary */
	int64_t rej_log_ms;  /* time of the last summary */
	char rej_first[256]; /* first reason in the window */
	int64_t err_log_ms;  /* last retry error logged */
	/* Shared with stats and appenders (atomics). */
	_Atomic uint64_t next;      /* next offset to apply */
	_Atomic int64_t lag_bytes;  /* see the file comment; may dip below 0 briefly */
	_Atomic bool is_replayed;   /* reached replay_end */
	_Atomic uint64_t ckpt_next; /* log checkpointed below this */
	_Atomic uint64_t n_records, n_samples, n_rejected, n_corrupt, n_busy, n_errors;
	/* Role store (group_assigned/group_revoked on "kafka-group"; has_thread and thread are
	 * touched only there once the group is joined): */
	_Atomic int revoked;   /* 0, REVOKED or REVOKED_LOST: the consumer thread must exit */
	_Atomic bool is_owned; /* assigned to this member (stats) */
} consumer;

struct ingest_consumers {
	ingest_log *log;         /* borrowed, immutable */
	tsdb_db *db;             /* borrowed, immutable */
	uint64_t max_lag_bytes;  /* immutable */
	int poll_ms;             /* immutable */
	bool is_local;           /* immutable: the embedded log, where a read that times out
				    means the reader is at the durable end */
	int n;                   /* immutable: partitions */
	consumer *c;             /* immutable array of n */
	_Atomic bool stopping;   /* set by ingest_consumers_stop */
	_Atomic bool is_paused;  /* test hook */
	_Atomic int n_replaying; /* consumers not yet at their replay_end */
	uint64_t replay_records; /* immutable after start: records to replay, all partitions */
	int64_t start_ns;        /* immutable after start */
	ingest_role role;        /* immutable */
	ingest_log_kafka_group *group; /* role store: the group membership (owned) */
	_Atomic bool has_assignment;   /* role store: the group assigned this member once */
};

/* ---------------------------------------------------------------- helpers */

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* The consumer reached the end the log had at start (once). */
static void caught_up(consumer *c)
{
	if (atomic_load(&c->is_replayed))
		return;
	atomic_store(&c->is_replayed, true);
	ingest_consumers *g = c->g;
	if (atomic_fetch_sub(&g->n_replaying, 1) == 1 && g->replay_records)
		ts_log_info("ingest: log replay finished: %llu records in %lld ms",
			    (unsigned long long)g->replay_records,
			    (long long)((ts_mono_ns() - g->start_ns) / 1000000));
}

/* Log the rejection summary when due (or when forced, at stop). */
static void flush_rejections(consumer *c, bool force)
{
	if (!c->rej_window)
		return;
	int64_t now = ts_now_ms();
	if (!force && now - c->rej_log_ms < REJECT_LOG_MS)
		return;
	ts_log_warn("ingest: partition %d: the store refused %llu samples of durable records "
		    "(first: %s)",
		    c->partition, (unsigned long long)c->rej_window, c->rej_first);
	c->rej_window = 0;
	c->rej_log_ms = now;
}

/* A retried failure: count it, log it at most once per ERROR_LOG_MS. */
static void retry_error(consumer *c, const char *what, const ts_err *e)
{
	atomic_fetch_add_explicit(&c->n_errors, 1, memory_order_relaxed);
	int64_t now = ts_now_ms();
	if (now - c->err_log_ms < ERROR_LOG_MS)
		return;
	c->err_log_ms = now;
	ts_log_error("ingest: partition %d: %s at offset %llu (retrying): %s", c->partition, what,
		     (unsigned long long)atomic_load(&c->next), e->msg);
}

/* Look at the store's persisted offset and checkpoint the log below it when it moved. */
static void maybe_checkpoint(consumer *c, bool force)
{
	int64_t now = ts_mono_ns();
	if (!force && now - c->last_ckpt_ns < CHECKPOINT_NS)
		return;
	c->last_ckpt_ns = now;
	uint64_t resume = tsdb_partition_resume_offset(c->g->db, c->partition);
	if (resume <= atomic_load(&c->ckpt_next))
		return;
	ts_err e = {0};
	int rc = ingest_log_checkpoint(c->g->log, c->partition, resume - 1, &e);
	if (rc == TS_OK || rc == TS_EIO) /* EIO: recorded; a file delete is retried later */
		atomic_store(&c->ckpt_next, resume);
	if (rc)
		retry_error(c, "log checkpoint", &e);
}

/* Refresh the cached log stats when due (or now). */
static void refresh_stats(consumer *c, bool force)
{
	int64_t now = ts_mono_ns();
	if (!force && now - c->last_stats_ns < STATS_NS)
		return;
	c->last_stats_ns = now;
	ingest_log_partition_stats st;
	ts_err e = {0};
	if (ingest_log_stats(c->g->log, c->partition, &st, &e) != TS_OK)
		return; /* keep the last snapshot; a backend that is down shows in its errors */
	pthread_mutex_lock(&c->st_mu);
	c->st = st;
	pthread_mutex_unlock(&c->st_mu);
}

/* ---------------------------------------------------------------- applying records */

/*
 * Append one series' samples to the store; hash, when not NULL, is ts_series_hash of the
 * labels (the merge computed it already), which spares the store hashing them again.
 */
static int append_series(consumer *c, const uint64_t *hash, const ts_label *labels, size_t n_labels,
			 const int64_t *t_ms, const double *v, size_t n)
{
	size_t done = 0, rejected = 0;
	int rc = hash ? tsdb_append_series_hashed(c->g->db, *hash, labels, n_labels, t_ms, v, n,
						  &done, &rejected, &c->rec_err)
		      : tsdb_append_series(c->g->db, labels, n_labels, t_ms, v, n, &done, &rejected,
					   &c->rec_err);
	if (rc == TS_ENOMEM)
		return rc; /* retry the record once memory is back */
	if (rc != TS_OK)
		rejected += n - done; /* refused as a whole from there on (e.g. series limit) */
	c->rec_samples += n - rejected;
	if (rejected && c->rec_rejected == 0 && c->rej_window == 0)
		snprintf(c->rej_first, sizeof(c->rej_first), "%s", c->rec_err.msg);
	c->rec_rejected += rejected;
	return TS_OK;
}

/* ingest_record_series_fn: append one decoded series entry to the store. */
static int apply_series(void *ctx, const ts_label *labels, size_t n_labels, const int64_t *t_ms,
			const double *v, size_t n)
{
	return append_series(ctx, NULL, labels, n_labels, t_ms, v, n);
}

/*
 * Apply record `off` to the store. TS_OK once it is applied (or skipped as corrupt);
 * otherwise (only while stopping) the error that made the consumer give up on it.
 */
static int apply(consumer *c, const void *rec, size_t len, uint64_t off)
{
	int backoff = BACKOFF_MIN_MS;
	for (int attempt = 1;; attempt++) {
		c->rec_samples = c->rec_rejected = 0;
		ts_err e = {0};
		int rc = ingest_record_decode_series(c->dec, rec, len, apply_series, c, &e);
		if (rc == TS_ECORRUPT) {
			atomic_fetch_add_explicit(&c->n_corrupt, 1, memory_order_relaxed);
			ts_log_error("ingest: partition %d: skipping corrupt record at offset %llu "
				     "(%zu bytes; %llu samples applied before the damage): %s",
				     c->partition, (unsigned long long)off, len,
				     (unsigned long long)c->rec_samples, e.msg);
			break;
		}
		if (rc == TS_OK)
			break;
		retry_error(c, "cannot apply a record", &e);
		if (atomic_load(&c->g->stopping) && attempt >= STOP_TRIES) {
			ts_log_error("ingest: partition %d: leaving offset %llu for the replay at "
				     "the next start: %s",
				     c->partition, (unsigned long long)off, e.msg);
			return rc;
		}
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	tsdb_partition_applied(c->g->db, c->partition, off);
	atomic_store(&c->next, off + 1);
	if (off >= c->replay_end)
		atomic_fetch_sub(&c->lag_bytes, (int64_t)len);
	atomic_fetch_add_explicit(&c->n_records, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->n_samples, c->rec_samples, memory_order_relaxed);
	if (c->rec_rejected) {
		atomic_fetch_add_explicit(&c->n_rejected, c->rec_rejected, memory_order_relaxed);
		c->rej_window += c->rec_rejected;
		flush_rejections(c, false);
	}
	return TS_OK;
}

/* ---------------------------------------------------------------- merging records */

static void merge_free(merge *m)
{
	ts_free(m->ser);
	ts_free(m->slots);
	ts_free(m->lab);
	ts_free(m->str);
	ts_free(m->s_ser);
	ts_free(m->t);
	ts_free(m->v);
	ts_free(m->order);
	ts_free(m->labels);
	ts_free(m->st);
	ts_free(m->sv);
	ts_free(m->sk);
	memset(m, 0, sizeof(*m));
}

static void merge_reset(merge *m)
{
	if (m->n_ser && m->slots)
		memset(m->slots, 0, m->n_slots * sizeof(*m->slots));
	m->n_ser = m->n_lab = m->n_str = m->n = 0;
}

static bool mseries_eq(const merge *m, const mseries *ms, const ts_label *labels, size_t n)
{
	if (ms->n_labels != n)
		return false;
	const uint32_t *lab = m->lab + ms->lab_off;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->str + lab[2 * i], labels[i].name) != 0 ||
		    strcmp(m->str + lab[2 * i + 1], labels[i].value) != 0)
			return false;
	return true;
}

/* Copy a string into m->str; its offset in *off. */
static int merge_str(merge *m, const char *s, uint32_t *off)
{
	size_t len = strlen(s) + 1;
	if (m->n_str + len > UINT32_MAX ||
	    ingest_grow((void **)&m->str, &m->cap_str, m->n_str + len, 1))
		return TS_ENOMEM;
	memcpy(m->str + m->n_str, s, len);
	*off = (uint32_t)m->n_str;
	m->n_str += len;
	return TS_OK;
}

/* The series of labels in m (added if new): its index in *sid. TS_OK, TS_ENOMEM. */
static int merge_series(merge *m, const ts_label *labels, size_t n, uint32_t *sid)
{
	uint64_t h = ts_series_hash(labels, n);
	if (m->n_slots) {
		size_t mask = m->n_slots - 1;
		for (size_t i = (size_t)h & mask; m->slots[i]; i = (i + 1) & mask) {
			const mseries *ms = &m->ser[m->slots[i] - 1];
			if (ms->hash == h && mseries_eq(m, ms, labels, n)) {
				*sid = m->slots[i] - 1;
				return TS_OK;
			}
		}
	}
	if (m->n_ser >= UINT32_MAX / 2 || m->n_lab + 2 * n > UINT32_MAX ||
	    ingest_grow((void **)&m->ser, &m->cap_ser, m->n_ser + 1, sizeof(*m->ser)) ||
	    ingest_grow((void **)&m->lab, &m->cap_lab, m->n_lab + 2 * n, sizeof(*m->lab)))
		return TS_ENOMEM;
	if ((m->n_ser + 1) * 2 > m->n_slots) {
		size_t n_slots = m->n_slots ? m->n_slots * 2 : 1024;
		uint32_t *slots = ts_calloc(n_slots, sizeof(*slots));
		if (!slots)
			return TS_ENOMEM;
		for (size_t k = 0; k < m->n_ser; k++) {
			size_t i = (size_t)m->ser[k].hash & (n_slots - 1);
			while (slots[i])
				i = (i + 1) & (n_slots - 1);
			slots[i] = (uint32_t)k + 1;
		}
		ts_free(m->slots);
		m->slots = slots;
		m->n_slots = n_slots;
	}
	uint32_t lab_off = (uint32_t)m->n_lab;
	for (size_t i = 0; i < n; i++)
		if (merge_str(m, labels[i].name, &m->lab[lab_off + 2 * i]) ||
		    merge_str(m, labels[i].value, &m->lab[lab_off + 2 * i + 1]))
			return TS_ENOMEM;
	m->n_lab += 2 * n;
	size_t k = m->n_ser++;
	m->ser[k] = (mseries){.hash = h,
			      .lab_off = lab_off,
			      .n_labels = (uint32_t)n,
			      .last_t = INT64_MIN,
			      .is_sorted = true};
	size_t i = (size_t)h & (m->n_slots - 1);
	while (m->slots[i])
		i = (i + 1) & (m->n_slots - 1);
	m->slots[i] = (uint32_t)k + 1;
	*sid = (uint32_t)k;
	return TS_OK;
}

/* ingest_record_series_fn: add one decoded series entry to the consumer's merge. */
static int merge_entry(void *ctx, const ts_label *labels, size_t n_labels, const int64_t *t_ms,
		       const double *v, size_t n)
{
	merge *m = &((consumer *)ctx)->m;
	uint32_t sid;
	if (m->n + n > UINT32_MAX / 2 || merge_series(m, labels, n_labels, &sid))
		return TS_ENOMEM;
	size_t cap = m->cap;
	if (m->n + n > cap) {
		size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap;
		if (ingest_grow((void **)&m->s_ser, &c1, m->n + n, sizeof(*m->s_ser)) ||
		    ingest_grow((void **)&m->t, &c2, m->n + n, sizeof(*m->t)) ||
		    ingest_grow((void **)&m->v, &c3, m->n + n, sizeof(*m->v)) ||
		    ingest_grow((void **)&m->order, &c4, m->n + n, sizeof(*m->order)))
			return TS_ENOMEM; /* the arrays that grew keep their larger size */
		m->cap = c1;
	}
	mseries *ms = &m->ser[sid];
	for (size_t k = 0; k < n; k++) {
		m->s_ser[m->n + k] = sid;
		m->t[m->n + k] = t_ms[k];
		m->v[m->n + k] = v[k];
		ms->is_sorted &= t_ms[k] >= ms->last_t;
		ms->last_t = t_ms[k];
	}
	ms->n += (uint32_t)n;
	m->n += n;
	return TS_OK;
}

static int mkey_cmp(const void *a, const void *b)
{
	const mkey *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Append every series of the merge to the store, each with its samples in time order
 * (c->rec_samples / rec_rejected count them). TS_OK; TS_ENOMEM (from the store or for
 * scratch) means apply it again later: samples already applied are duplicates then.
 */
static int merge_apply(consumer *c)
{
	merge *m = &c->m;
	uint32_t pos = 0;
	for (size_t k = 0; k < m->n_ser; k++) {
		m->ser[k].pos = pos;
		pos += m->ser[k].n;
	}
	for (size_t i = 0; i < m->n; i++)
		m->order[m->ser[m->s_ser[i]].pos++] = (uint32_t)i;
	const uint32_t *order = m->order;
	for (size_t k = 0; k < m->n_ser; k++) {
		const mseries *ms = &m->ser[k];
		size_t n = ms->n, cs = m->cap_s, cs2 = m->cap_s, cs3 = m->cap_s;
		if (ingest_grow((void **)&m->labels, &m->cap_labels, ms->n_labels,
				sizeof(*m->labels)) ||
		    ingest_grow((void **)&m->st, &cs, n, sizeof(*m->st)) ||
		    ingest_grow((void **)&m->sv, &cs2, n, sizeof(*m->sv)) ||
		    ingest_grow((void **)&m->sk, &cs3, n, sizeof(*m->sk)))
			return TS_ENOMEM;
		m->cap_s = cs;
		const uint32_t *lab = m->lab + ms->lab_off;
		for (size_t i = 0; i < ms->n_labels; i++)
			m->labels[i] = (ts_label){m->str + lab[2 * i], m->str + lab[2 * i + 1]};
		if (ms->is_sorted) {
			for (size_t j = 0; j < n; j++) {
				m->st[j] = m->t[order[j]];
				m->sv[j] = m->v[order[j]];
			}
		} else {
			for (size_t j = 0; j < n; j++)
				m->sk[j] = (mkey){m->t[order[j]], order[j]};
			qsort(m->sk, n, sizeof(*m->sk), mkey_cmp);
			for (size_t j = 0; j < n; j++) {
				m->st[j] = m->sk[j].t;
				m->sv[j] = m->v[m->sk[j].i];
			}
		}
		order += n;
		int rc = append_series(c, &ms->hash, m->labels, ms->n_labels, m->st, m->sv, n);
		if (rc)
			return rc;
	}
	return TS_OK;
}

/*
 * Apply the records from `off` (rec, len: the one just read) on, merged with the records
 * the reader has at hand (polled without waiting): decode each into c->m, then append
 * the merge (retrying like apply()) and record the last offset as applied. A record whose
 * decoding needs memory that is not there ends the merge: the merge is applied, then that
 * record alone (apply()). Returns TS_OK; GAVE_UP when it gave up while stopping (what
 * was not applied is left for the replay); or a read error of a follow-up poll (e_read
 * has its message) for the caller to handle as it handles any read error.
 */
static int apply_merged(consumer *c, const void *rec, size_t len, uint64_t off, ts_err *e_read)
{
	merge *m = &c->m;
	ingest_consumers *g = c->g;
	merge_reset(m);
	uint64_t last = off, n_recs = 0, lag_bytes = 0;
	int rc_read = TS_OK;
	int64_t t_end_ns = ts_mono_ns() + (int64_t)MERGE_WAIT_MS * 1000000;
	const void *left = NULL; /* a record to apply on its own after the merge */
	size_t left_len = 0;
	for (;;) {
		ts_err e = {0};
		c->rec_samples = 0;
		int rc = ingest_record_decode_series(c->dec, rec, len, merge_entry, c, &e);
		if (rc == TS_ECORRUPT) {
			atomic_fetch_add_explicit(&c->n_corrupt, 1, memory_order_relaxed);
			ts_log_error("ingest: partition %d: skipping corrupt record at offset %llu "
				     "(%zu bytes; samples decoded before the damage are applied): "
				     "%s",
				     c->partition, (unsigned long long)off, len, e.msg);
		} else if (rc) {
			left = rec; /* valid: the reader is not called again before it is applied */
			left_len = len;
			break;
		}
		last = off;
		n_recs++;
		if (off >= c->replay_end)
			lag_bytes += len;
		if (n_recs >= MERGE_MAX_RECORDS || m->n >= MERGE_MAX_SAMPLES ||
		    atomic_load(&g->is_paused))
			break;
		int wait_ms = 0;
		if (!atomic_load(&g->stopping) && n_recs < MERGE_WAIT_RECORDS) {
			int64_t left_ns = t_end_ns - ts_mono_ns();
			wait_ms = left_ns > 0 ? (int)(left_ns / 1000000) + 1 : 0;
		}
		rc = ingest_log_reader_next(c->r, &rec, &len, &off, wait_ms, e_read);
		if (rc != TS_OK) {
			if (rc != TS_ETIMEOUT)
				rc_read = rc;
			break;
		}
	}
	if (n_recs > 0 || left) {
		int backoff = BACKOFF_MIN_MS;
		for (int attempt = 1;; attempt++) {
			c->rec_samples = c->rec_rejected = 0;
			int rc = merge_apply(c);
			if (rc == TS_OK)
				break;
			ts_err e = {0};
			ts_err_set(&e, rc, "applying %llu merged records: %s",
				   (unsigned long long)n_recs, c->rec_err.msg);
			retry_error(c, "cannot apply records", &e);
			if (atomic_load(&g->stopping) && attempt >= STOP_TRIES) {
				ts_log_error("ingest: partition %d: leaving offset %llu for the "
					     "replay at the next start: %s",
					     c->partition,
					     (unsigned long long)atomic_load(&c->next), e.msg);
				return GAVE_UP;
			}
			sleep_ms(backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
	}
	if (n_recs > 0) {
		tsdb_partition_applied(g->db, c->partition, last);
		atomic_store(&c->next, last + 1);
		atomic_fetch_sub(&c->lag_bytes, (int64_t)lag_bytes);
		atomic_fetch_add_explicit(&c->n_records, n_recs, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->n_samples, c->rec_samples, memory_order_relaxed);
		if (c->rec_rejected) {
			atomic_fetch_add_explicit(&c->n_rejected, c->rec_rejected,
						  memory_order_relaxed);
			c->rej_window += c->rec_rejected;
			flush_rejections(c, false);
		}
	}
	if (left && apply(c, left, left_len, off) != TS_OK)
		return GAVE_UP;
	return rc_read;
}

/*
 * Reopen the reader at the consumer's next offset, or at the first retained offset when
 * that was deleted (logging the gap). TS_OK or the error (the reader is NULL then).
 */
static int reopen(consumer *c, ts_err *e)
{
	ingest_log_reader_close(c->r);
	c->r = NULL;
	uint64_t from = atomic_load(&c->next);
	int rc = ingest_log_reader_open(c->g->log, c->partition, from, &c->r, e);
	if (rc != TS_ENOTFOUND)
		return rc;
	ingest_log_partition_stats st;
	if ((rc = ingest_log_stats(c->g->log, c->partition, &st, e)))
		return rc;
	ts_log_warn(
	    "ingest: partition %d: offsets %llu..%llu were deleted before the store "
	    "applied them (%llu records lost); resuming at %llu",
	    c->partition, (unsigned long long)from, (unsigned long long)(st.first_offset - 1),
	    (unsigned long long)(st.first_offset - from), (unsigned long long)st.first_offset);
	atomic_store(&c->next, st.first_offset);
	return ingest_log_reader_open(c->g->log, c->partition, st.first_offset, &c->r, e);
}

static void *consumer_main(void *arg)
{
	consumer *c = arg;
	ingest_consumers *g = c->g;
	char name[16];
	snprintf(name, sizeof(name), "ingest-p%d", c->partition);
	pthread_setname_np(pthread_self(), name);
	int backoff = BACKOFF_MIN_MS, stop_failures = 0, stop_idle = 0;
	for (;;) {
		if (atomic_load(&c->revoked))
			break; /* role store: the partition went to another member */
		bool stopping = atomic_load(&g->stopping);
		if (!stopping && atomic_load(&g->is_paused)) {
			sleep_ms(10);
			maybe_checkpoint(c, false);
			continue;
		}
		ts_err e = {0};
		int rc = c->r ? TS_OK : reopen(c, &e);
		const void *rec = NULL;
		size_t len = 0;
		uint64_t off = 0;
		if (rc == TS_OK)
			rc = ingest_log_reader_next(c->r, &rec, &len, &off,
						    stopping && g->is_local ? 0 : g->poll_ms, &e);
		while (rc == TS_OK && atomic_load(&g->is_paused) && !atomic_load(&g->stopping))
			sleep_ms(10); /* test hook: hold the record until resumed */
		if (rc == TS_OK) {
			backoff = BACKOFF_MIN_MS;
			stop_idle = 0;
			rc = apply_merged(c, rec, len, off, &e);
			if (rc == GAVE_UP)
				break; /* stopping; left for the next replay */
		}
		if (rc == TS_OK) {
			/* applied */
		} else if (rc == TS_ETIMEOUT) {
			/* Embedded log: nothing more is durable, so the replay is over even if
			 * damaged records at its end were skipped. Kafka: a fetch may just be
			 * slow; the replay ends when an offset at or past its end was read. */
			if (g->is_local)
				caught_up(c);
			if (stopping && (g->is_local || ++stop_idle >= STOP_IDLE_POLLS))
				break;
		} else if (rc == TS_ECORRUPT) {
			/* the reader already moved past the damage */
			atomic_fetch_add_explicit(&c->n_corrupt, 1, memory_order_relaxed);
			ts_log_error("ingest: partition %d: corrupt log data skipped: %s",
				     c->partition, e.msg);
		} else if (rc == TS_ENOTFOUND) {
			/* deleted under the reader: reopen() resumes at the first retained */
			ingest_log_reader_close(c->r);
			c->r = NULL;
		} else {
			retry_error(c, "cannot read the log", &e);
			ingest_log_reader_close(c->r);
			c->r = NULL;
			if (stopping && ++stop_failures >= STOP_TRIES)
				break;
			sleep_ms(backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
		if (atomic_load(&c->next) >= c->replay_end)
			caught_up(c);
		maybe_checkpoint(c, false);
		refresh_stats(c, false);
	}
	flush_rejections(c, true);
	if (atomic_load(&c->revoked) != REVOKED_LOST)
		maybe_checkpoint(c, true);
	return NULL;
}

/* ---------------------------------------------------------------- role store: group */

static int prepare(consumer *c, ts_err *err);

/* Close what prepare() opened (the thread has exited or never ran). */
static void unprepare(consumer *c)
{
	ingest_log_reader_close(c->r);
	c->r = NULL;
	ingest_record_decoder_free(c->dec);
	c->dec = NULL;
}

/* Thread of an assigned partition: prepare (retrying until it works or the partition is
 * revoked), then the ordinary consumer loop. */
static void *owned_main(void *arg)
{
	consumer *c = arg;
	int backoff = BACKOFF_MIN_MS;
	for (;;) {
		if (atomic_load(&c->revoked))
			return NULL;
		ts_err e = {0};
		if (prepare(c, &e) == TS_OK)
			break;
		unprepare(c);
		retry_error(c, "cannot start consuming an assigned partition", &e);
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	uint64_t from = atomic_load(&c->next);
	ts_log_info("ingest: partition %d assigned: resuming at offset %llu (this store's "
		    "persisted offset), %llu records behind the log's end",
		    c->partition, (unsigned long long)from,
		    (unsigned long long)(c->replay_end > from ? c->replay_end - from : 0));
	if (from >= c->replay_end)
		caught_up(c);
	return consumer_main(c);
}

/* ingest_log_kafka_group_options.assigned: start a consumer per new partition. */
static void group_assigned(void *ctx, const int *parts, int n)
{
	ingest_consumers *g = ctx;
	for (int i = 0; i < n; i++) {
		consumer *c = &g->c[parts[i]];
		if (c->has_thread)
			continue; /* already ours */
		atomic_store(&c->revoked, 0);
		atomic_store(&c->is_replayed, false);
		atomic_fetch_add(&g->n_replaying, 1);
		int e = pthread_create(&c->thread, NULL, owned_main, c);
		if (e) {
			ts_log_error("ingest: partition %d: cannot start its consumer thread: %s",
				     c->partition, strerror(e));
			caught_up(c); /* not counted as replaying: readiness does not hang */
			continue;
		}
		c->has_thread = true;
		atomic_store(&c->is_owned, true);
	}
	atomic_store(&g->has_assignment, true);
	if (n)
		ts_log_info("ingest: the consumer group assigned %d partitions to this store", n);
}

/* ingest_log_kafka_group_options.revoked: stop the partitions' consumers (in parallel). */
static void group_revoked(void *ctx, const int *parts, int n, bool is_lost)
{
	ingest_consumers *g = ctx;
	for (int i = 0; i < n; i++)
		atomic_store(&g->c[parts[i]].revoked, is_lost ? REVOKED_LOST : REVOKED);
	for (int i = 0; i < n; i++) {
		consumer *c = &g->c[parts[i]];
		if (!c->has_thread)
			continue;
		pthread_join(c->thread, NULL);
		c->has_thread = false;
		unprepare(c);
		caught_up(c); /* no longer replaying anything */
		atomic_store(&c->is_owned, false);
	}
	if (n)
		ts_log_info("ingest: %d partitions %s this store", n,
			    is_lost ? "were lost by (session expired)" : "were revoked from");
}

/* Role store: no thread yet; join the group, whose callbacks start and stop them. */
static int start_group(ingest_consumers *g, int64_t session_timeout_ms, ts_err *err)
{
	ingest_log_kafka_group_options go = {
	    .session_timeout_ms =
		session_timeout_ms > 0 ? session_timeout_ms : INGEST_CLUSTER_SESSION_TIMEOUT_MS,
	    .assigned = group_assigned,
	    .revoked = group_revoked,
	    .ctx = g};
	return ingest_log_kafka_group_join(g->log, &go, &g->group, err);
}

/* ---------------------------------------------------------------- start, stop */

/* Set up partition p: check the offsets, first checkpoint, reader. */
static int prepare(consumer *c, ts_err *err)
{
	ingest_consumers *g = c->g;
	ingest_log_partition_stats st;
	int rc = ingest_log_stats(g->log, c->partition, &st, err);
	if (rc)
		return rc;
	uint64_t resume = tsdb_partition_resume_offset(g->db, c->partition);
	if (resume > st.next_offset)
		return ts_err_set(err, TS_ECORRUPT,
				  "ingest: partition %d: the store has persisted offsets up to "
				  "%llu but the log ends at %llu: the log was lost or replaced; "
				  "refusing to start (new writes would be skipped at the next "
				  "replay)",
				  c->partition, (unsigned long long)(resume - 1),
				  (unsigned long long)st.next_offset);
	if (resume > 0 && (rc = ingest_log_checkpoint(g->log, c->partition, resume - 1, err)) &&
	    rc != TS_EIO)
		return rc;
	atomic_store(&c->ckpt_next, resume);
	atomic_store(&c->next, resume);
	c->replay_end = st.next_offset;
	pthread_mutex_lock(&c->st_mu);
	c->st = st;
	pthread_mutex_unlock(&c->st_mu);
	c->last_stats_ns = ts_mono_ns();
	if ((rc = reopen(c, err)))
		return rc;
	if ((rc = ingest_record_decoder_new(&c->dec, err)))
		return rc;
	c->last_ckpt_ns = ts_mono_ns();
	return TS_OK;
}

int ingest_consumers_start(const ingest_consumers_options *o, ingest_consumers **out, ts_err *err)
{
	if (!o->log || (!o->db && o->role != INGEST_ROLE_INGEST))
		return ts_err_set(err, TS_EINVAL, "ingest: consumers need a log and a store");
	ingest_consumers *g = ts_calloc(1, sizeof(*g));
	if (!g)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the consumers");
	g->log = o->log;
	g->db = o->db;
	g->role = o->role;
	g->max_lag_bytes = o->role == INGEST_ROLE_ALL ? o->max_lag_bytes : 0;
	g->poll_ms = o->poll_ms > 0 ? o->poll_ms : POLL_MS_DEFAULT;
	g->is_local = strcmp(ingest_log_backend(o->log), "local") == 0;
	atomic_store(&g->is_paused, o->is_paused);
	g->n = ingest_log_n_partitions(o->log);
	g->start_ns = ts_mono_ns();
	int rc = TS_OK;
	if (g->n > TSDB_MAX_PARTITIONS) {
		rc = ts_err_set(err, TS_EINVAL,
				"ingest: %d log partitions, the store tracks at most %d", g->n,
				TSDB_MAX_PARTITIONS);
		goto fail;
	}
	if (!(g->c = ts_calloc((size_t)g->n, sizeof(*g->c)))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory starting the consumers");
		goto fail;
	}
	for (int p = 0; p < g->n && g->role != INGEST_ROLE_ALL; p++) {
		g->c[p].g = g;
		g->c[p].partition = p;
		pthread_mutex_init(&g->c[p].st_mu, NULL);
	}
	if (g->role != INGEST_ROLE_ALL) {
		if (g->role == INGEST_ROLE_STORE &&
		    (rc = start_group(g, o->session_timeout_ms, err)))
			goto fail;
		*out = g;
		return TS_OK;
	}
	for (int p = 0; p < g->n; p++) {
		consumer *c = &g->c[p];
		c->g = g;
		c->partition = p;
		pthread_mutex_init(&c->st_mu, NULL);
		if ((rc = prepare(c, err)))
			goto fail;
		uint64_t from = atomic_load(&c->next);
		if (from < c->replay_end)
			g->replay_records += c->replay_end - from;
		else
			atomic_store(&c->is_replayed, true);
		if (!atomic_load(&c->is_replayed))
			atomic_fetch_add(&g->n_replaying, 1);
	}
	if (g->replay_records)
		ts_log_info("ingest: replaying %llu log records into the store",
			    (unsigned long long)g->replay_records);
	for (int p = 0; p < g->n; p++) {
		consumer *c = &g->c[p];
		int e = pthread_create(&c->thread, NULL, consumer_main, c);
		if (e) {
			rc = ts_err_set(err, TS_ENOMEM, "cannot start consumer thread %d: %s", p,
					strerror(e));
			goto fail;
		}
		c->has_thread = true;
	}
	*out = g;
	return TS_OK;
fail:
	ingest_consumers_stop(g);
	return rc;
}

void ingest_consumers_stop(ingest_consumers *g)
{
	if (!g)
		return;
	ingest_log_kafka_group_leave(g->group); /* role store: revokes (stops) every consumer */
	atomic_store(&g->stopping, true);
	for (int p = 0; g->c && p < g->n; p++) {
		consumer *c = &g->c[p];
		if (c->has_thread)
			pthread_join(c->thread, NULL);
		ingest_log_reader_close(c->r);
		ingest_record_decoder_free(c->dec);
		merge_free(&c->m);
		if (c->g)
			pthread_mutex_destroy(&c->st_mu);
	}
	ts_free(g->c);
	ts_free(g);
}

/* ---------------------------------------------------------------- accounting, stats */

bool ingest_consumers_replay_done(const ingest_consumers *g)
{
	ingest_consumers *cg = (ingest_consumers *)g;
	if (cg->role == INGEST_ROLE_STORE && !atomic_load(&cg->has_assignment))
		return false;
	return atomic_load(&cg->n_replaying) == 0;
}

int ingest_consumers_admit(ingest_consumers *g, int partition, ts_err *err)
{
	if (!g->max_lag_bytes)
		return TS_OK;
	consumer *c = &g->c[partition];
	int64_t lag = atomic_load_explicit(&c->lag_bytes, memory_order_relaxed);
	if (lag <= 0 || (uint64_t)lag < g->max_lag_bytes)
		return TS_OK;
	atomic_fetch_add_explicit(&c->n_busy, 1, memory_order_relaxed);
	return ts_err_set(err, TS_EBUSY,
			  "ingest: partition %d has %lld bytes not yet applied to the store "
			  "(max_consumer_lag_bytes %llu); retry later",
			  partition, (long long)lag, (unsigned long long)g->max_lag_bytes);
}

void ingest_consumers_appended(ingest_consumers *g, int partition, size_t bytes)
{
	if (g->role != INGEST_ROLE_ALL)
		return; /* another process consumes: no lag bound (consumer.h) */
	atomic_fetch_add_explicit(&g->c[partition].lag_bytes, (int64_t)bytes, memory_order_relaxed);
}

void ingest_consumers_stats(const ingest_consumers *cg, int partition, ingest_consumer_stats *out)
{
	consumer *c = &((ingest_consumers *)cg)->c[partition];
	int64_t lag = atomic_load(&c->lag_bytes);
	out->next_offset = atomic_load(&c->next);
	out->replay_end = c->replay_end;
	out->lag_bytes = lag > 0 ? lag : 0;
	out->n_records = atomic_load(&c->n_records);
	out->n_samples = atomic_load(&c->n_samples);
	out->n_rejected = atomic_load(&c->n_rejected);
	out->n_corrupt = atomic_load(&c->n_corrupt);
	out->n_busy = atomic_load(&c->n_busy);
	out->n_errors = atomic_load(&c->n_errors);
	out->checkpoint_next = atomic_load(&c->ckpt_next);
	out->is_replayed = atomic_load(&c->is_replayed);
	out->is_owned = c->g && (c->g->role == INGEST_ROLE_ALL || atomic_load(&c->is_owned));
	pthread_mutex_lock(&c->st_mu);
	out->log = c->st;
	pthread_mutex_unlock(&c->st_mu);
}

uint64_t ingest_consumers_rejected(const ingest_consumers *cg)
{
	uint64_t n = 0;
	for (int p = 0; p < cg->n; p++)
		n += atomic_load(&((ingest_consumers *)cg)->c[p].n_rejected);
	return n;
}

void ingest_consumers_set_paused(ingest_consumers *g, bool is_paused)
{
	atomic_store(&g->is_paused, is_paused);
}
