/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch.c: write batches: group samples per log partition, append them durably.
 *
 * Every ingest path (HTTP writes, the scraper) collects a request's samples into an
 * ingest_batch (ingest_int.h) and commits it; a 2xx may be sent once commit returns.
 *
 * add(): the series hash of the labels picks the partition (ts_series_hash % P, the
 * documented contract in docs/ARCHITECTURE.md, so any producer can compute it) and the
 * sample goes into that partition's record builder. A builder that reaches
 * max_record_bytes is finished into the partition's list of records and a new record
 * starts; order within a partition is kept.
 *
 * commit(): every partition with samples first passes the consumer-lag check (TS_EBUSY
 * before anything is appended), then its records are appended with ingest_log_append,
 * which returns once they are durable. The partitions of one commit are appended in
 * parallel: the committing thread queues all but the first partition's job for the
 * append threads, appends the first itself, takes back any job no append thread picked up
 * yet, and waits for the rest. Appends to one partition from many commits meet in the log's
 * group commit; appends to different partitions sync different files concurrently. With
 * append_threads = 0 the caller appends the partitions one after the other.
 *
 * What a successful commit means: every sample counted in res->n_samples is in a durable
 * log record. The store applies it asynchronously (consumer.c): samples it refuses then
 * (out of order, conflicting) are counted in /metrics, not in res. When a commit fails
 * (TS_EBUSY back-pressure, TS_ENOSPC, TS_EIO, TS_EUNAVAIL) nothing is acknowledged, but the
 * records of partitions appended before the failure stay in the log: a retried request
 * stores them again and the store drops the exact duplicates (at-least-once).
 *
 * Batches are not pooled: reusing their builders measured no faster (the allocations are
 * small next to encoding the samples) and kept ~17 MB more memory in the 4-connection
 * benchmark.
 *
 * Locks: the writer's `mu` guards the job queue, `stopping` and every batch's n_left; it
 * is never held across a log append, a store call or a builder call.
 */
#include "ingest/batch.h"

#include "ingest/consumer.h"
#include "ingest/ingest_config.h"
#include "ingest/log.h"
#include "ingest/record.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define BATCH_PART_MAX ((size_t)1 << 30) /* records of one partition in one batch */

/* ---------------------------------------------------------------- types */

typedef enum job_state {
	JOB_IDLE = 0, /* not queued */
	JOB_QUEUED,   /* in the writer's queue */
	JOB_RUNNING,  /* taken by an append thread or by its owner */
	JOB_DONE,
} job_state;

typedef struct append_job {
	ingest_batch *b;                /* owner */
	int partition;                  /* whose records to append */
	job_state state;                /* guarded by w->mu once queued */
	struct append_job *prev, *next; /* queue links, guarded by w->mu */
	int rc;                         /* result, written by whoever runs the job */
	ts_err err;                     /* its message */
} append_job;

/* One partition of a batch. */
typedef struct part_buf {
	ingest_record_builder *b; /* open record; NULL until the partition's first sample */
	ts_buf recs;              /* finished records, back to back */
	bool is_dirty;            /* has samples (listed in the batch's dirty[]) */
} part_buf;

/* A batch is used by one thread at a time (its owner), except n_left and its jobs'
 * queue fields, which the append threads touch under w->mu. */
struct ingest_batch {
	ingest_writer *w; /* borrowed */
	size_t n_samples; /* samples added (log mode) or stored (direct mode) */
	/* direct mode */
	size_t n_rejected; /* refused by the store */
	char first_error[256];
	/* log mode */
	part_buf *parts; /* w->n_parts */
	int *dirty;      /* partitions with samples, first use first */
	int n_dirty;
	append_job *jobs;    /* w->n_parts */
	int n_left;          /* jobs not done; guarded by w->mu */
	pthread_cond_t done; /* n_left reached 0 (with w->mu) */
};

struct ingest_writer {
	/* Immutable after ingest_writer_open: */
	tsdb_db *db;            /* borrowed */
	ingest_config cfg;      /* parsed `ingest:` section (defaults in direct mode) */
	ingest_log *log;        /* NULL in direct mode */
	bool owns_log;          /* opened here (closed here) */
	int n_parts;            /* log partitions; 0 in direct mode */
	ingest_consumers *cons; /* NULL in direct mode; thread-safe itself */
	/* Guarded by mu (with the batches' n_left and queued jobs' links and state): */
	pthread_mutex_t mu;
	pthread_cond_t has_work; /* a job was queued or stopping was set */
	append_job *q_head, *q_tail;
	bool stopping;
	pthread_t *threads; /* append threads, immutable after open */
	int n_threads;
};

/* ---------------------------------------------------------------- batches */

static void batch_destroy(ingest_batch *b)
{
	if (!b)
		return;
	for (int i = 0; b->parts && i < b->w->n_parts; i++) {
		ingest_record_builder_free(b->parts[i].b);
		ts_buf_free(&b->parts[i].recs);
	}
	if (b->parts)
		pthread_cond_destroy(&b->done);
	ts_free(b->parts);
	ts_free(b->dirty);
	ts_free(b->jobs);
	ts_free(b);
}

static int batch_create(ingest_writer *w, ingest_batch **out)
{
	ingest_batch *b = ts_calloc(1, sizeof(*b));
	if (!b)
		return TS_ENOMEM;
	b->w = w;
	if (w->n_parts) {
		size_t n = (size_t)w->n_parts;
		b->parts = ts_calloc(n, sizeof(*b->parts));
		b->dirty = ts_calloc(n, sizeof(*b->dirty));
		b->jobs = ts_calloc(n, sizeof(*b->jobs));
		if (!b->parts || !b->dirty || !b->jobs) {
			ts_free(b->parts);
			b->parts = NULL;
			batch_destroy(b);
			return TS_ENOMEM;
		}
		for (size_t i = 0; i < n; i++)
			ts_buf_init(&b->parts[i].recs, BATCH_PART_MAX);
		pthread_cond_init(&b->done, NULL);
	}
	*out = b;
	return TS_OK;
}

int ingest_batch_begin(ingest_pipeline *p, ingest_batch **out, ts_err *err)
{
	if (batch_create(ingest_pipeline_writer(p), out))
		return ts_err_set(err, TS_ENOMEM, "out of memory starting a write");
	return TS_OK;
}

void ingest_batch_free(ingest_batch *b)
{
	batch_destroy(b);
}

/* Direct mode: store the sample now (the behaviour before the log existed). */
static int add_direct(ingest_batch *b, const ts_label *labels, size_t n, int64_t t_ms, double v)
{
	ts_err e = {0};
	int rc = tsdb_append(b->w->db, labels, n, t_ms, v, &e);
	if (rc == TS_OK) {
		b->n_samples++;
		return TS_OK;
	}
	if (rc == TS_EOUTOFORDER) {
		if (b->n_rejected++ == 0)
			snprintf(b->first_error, sizeof(b->first_error), "%s", e.msg);
		return TS_OK;
	}
	return rc;
}

int ingest_batch_add(void *batch, const ts_label *labels, size_t n, int64_t t_ms, double v)
{
	ingest_batch *b = batch;
	ingest_writer *w = b->w;
	if (!w->log)
		return add_direct(b, labels, n, t_ms, v);
	int p = (int)(ts_series_hash(labels, n) % (uint64_t)w->n_parts);
	part_buf *pb = &b->parts[p];
	int rc;
	if (!pb->b && (rc = ingest_record_builder_new(w->cfg.compression, w->cfg.max_record_bytes,
						      &pb->b, NULL)))
		return rc;
	rc = ingest_record_builder_add(pb->b, labels, n, t_ms, v, NULL);
	if (rc == TS_ELIMIT && ingest_record_builder_n_samples(pb->b) > 0) {
		/* the record is full: finish it and start the next one */
		if ((rc = ingest_record_builder_finish(pb->b, &pb->recs, NULL)))
			return rc;
		rc = ingest_record_builder_add(pb->b, labels, n, t_ms, v, NULL);
	}
	if (rc)
		return rc;
	if (!pb->is_dirty) {
		pb->is_dirty = true;
		b->dirty[b->n_dirty++] = p;
	}
	b->n_samples++;
	return TS_OK;
}

/* ---------------------------------------------------------------- appending */

/* Append the records of job->partition in order (any thread). */
static void run_job(ingest_writer *w, append_job *job)
{
	const ts_buf *recs = &job->b->parts[job->partition].recs;
	const uint8_t *p = (const uint8_t *)recs->data, *end = p + recs->len;
	job->rc = TS_OK;
	while (p < end) {
		size_t len = INGEST_RECORD_HEADER_BYTES + ts_get_u32le(p + 8);
		int rc = ingest_log_append(w->log, job->partition, p, len, NULL, &job->err);
		if (rc) {
			job->rc = rc;
			return;
		}
		ingest_consumers_appended(w->cons, job->partition, len);
		p += len;
	}
}

static void *append_main(void *arg)
{
	ingest_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->q_head && !w->stopping)
			pthread_cond_wait(&w->has_work, &w->mu);
		append_job *job = w->q_head;
		if (!job)
			break; /* stopping and nothing queued */
		w->q_head = job->next;
		if (w->q_head)
			w->q_head->prev = NULL;
		else
			w->q_tail = NULL;
		job->next = NULL;
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&w->mu);
		run_job(w, job);
		pthread_mutex_lock(&w->mu);
		job->state = JOB_DONE;
		ingest_batch *b = job->b; /* job belongs to b: do not touch it after this */
		if (--b->n_left == 0)
			pthread_cond_signal(&b->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Remove a queued job (w->mu held). */
static void unqueue(ingest_writer *w, append_job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		w->q_head = job->next;
	if (job->next)
		job->next->prev = job->prev;
	else
		w->q_tail = job->prev;
	job->prev = job->next = NULL;
}

/* Append every dirty partition's records; the first failure in dirty order is returned. */
static int append_all(ingest_batch *b, ts_err *err)
{
	ingest_writer *w = b->w;
	int k = b->n_dirty;
	for (int i = 0; i < k; i++) {
		append_job *job = &b->jobs[i];
		job->b = b;
		job->partition = b->dirty[i];
		job->state = JOB_IDLE;
		job->prev = job->next = NULL;
		job->rc = TS_OK;
	}
	if (k == 1 || w->n_threads == 0) {
		for (int i = 0; i < k; i++)
			run_job(w, &b->jobs[i]);
	} else {
		pthread_mutex_lock(&w->mu);
		for (int i = 1; i < k; i++) {
			append_job *job = &b->jobs[i];
			job->state = JOB_QUEUED;
			job->prev = w->q_tail;
			if (w->q_tail)
				w->q_tail->next = job;
			else
				w->q_head = job;
			w->q_tail = job;
			pthread_cond_signal(&w->has_work);
		}
		b->n_left = k - 1;
		pthread_mutex_unlock(&w->mu);
		run_job(w, &b->jobs[0]);
		pthread_mutex_lock(&w->mu);
		/* take back what no append thread has started: the threads are busy */
		for (int i = 1; i < k; i++) {
			append_job *job = &b->jobs[i];
			if (job->state != JOB_QUEUED)
				continue;
			unqueue(w, job);
			job->state = JOB_RUNNING;
			pthread_mutex_unlock(&w->mu);
			run_job(w, job);
			pthread_mutex_lock(&w->mu);
			job->state = JOB_DONE;
			b->n_left--;
		}
		while (b->n_left > 0)
			pthread_cond_wait(&b->done, &w->mu);
		pthread_mutex_unlock(&w->mu);
	}
	for (int i = 0; i < k; i++) {
		append_job *job = &b->jobs[i];
		if (job->rc) {
			if (err)
				*err = job->err;
			return job->rc;
		}
	}
	return TS_OK;
}

int ingest_batch_commit(ingest_batch *b, ingest_write_result *res, ts_err *err)
{
	ingest_writer *w = b->w;
	if (!w->log) {
		res->n_samples += b->n_samples;
		res->n_rejected += b->n_rejected;
		if (b->n_rejected && !res->first_error[0])
			snprintf(res->first_error, sizeof(res->first_error), "%s", b->first_error);
		return TS_OK;
	}
	int rc;
	for (int i = 0; i < b->n_dirty; i++) {
		part_buf *pb = &b->parts[b->dirty[i]];
		if (ingest_record_builder_n_samples(pb->b) > 0 &&
		    (rc = ingest_record_builder_finish(pb->b, &pb->recs, err)))
			return rc;
	}
	/* back-pressure before anything is appended, so a refusal appends nothing */
	for (int i = 0; i < b->n_dirty; i++)
		if ((rc = ingest_consumers_admit(w->cons, b->dirty[i], err)))
			return rc;
	if ((rc = append_all(b, err)))
		return rc;
	res->n_samples += b->n_samples;
	b->n_samples = 0;
	return TS_OK;
}

/* ---------------------------------------------------------------- the writer */

int ingest_writer_open(const ingest_options *o, ingest_writer **out, ts_err *err)
{
	ingest_writer *w = ts_calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting ingest");
	w->db = o->db;
	ingest_config_defaults(&w->cfg);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->has_work, NULL);
	int rc = TS_OK;
	if (!o->log && !o->config) {
		*out = w; /* direct mode */
		return TS_OK;
	}
	if ((rc = ingest_config_parse(o->config, &w->cfg, err)))
		goto fail;
	if (o->log) {
		w->log = o->log;
	} else {
		if ((rc = ingest_config_open_log(&w->cfg, o->config, &w->log, err)))
			goto fail;
		w->owns_log = true;
	}
	w->n_parts = ingest_log_n_partitions(w->log);
	ingest_consumers_options co = {
	    .log = w->log, .db = o->db, .max_lag_bytes = w->cfg.max_consumer_lag_bytes};
	if ((rc = ingest_consumers_start(&co, &w->cons, err)))
		goto fail;
	if (w->cfg.append_threads > 0 && w->n_parts > 1) {
		w->threads = ts_calloc((size_t)w->cfg.append_threads, sizeof(*w->threads));
		if (!w->threads) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory starting ingest");
			goto fail;
		}
		for (int i = 0; i < w->cfg.append_threads; i++) {
			int e = pthread_create(&w->threads[i], NULL, append_main, w);
			if (e) {
				rc = ts_err_set(err, TS_ENOMEM, "cannot start append thread: %s",
						strerror(e));
				goto fail;
			}
			char name[32]; /* at most 15 bytes are used: i <= 1024 */
			snprintf(name, sizeof(name), "ingest-a%d", i);
			pthread_setname_np(w->threads[i], name);
			w->n_threads++;
		}
	}
	*out = w;
	return TS_OK;
fail:
	ingest_writer_close(w);
	return rc;
}

void ingest_writer_close(ingest_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->has_work);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	ts_free(w->threads);
	ingest_consumers_stop(w->cons);
	if (w->owns_log)
		ingest_log_close(w->log);
	ingest_config_fini(&w->cfg);
	pthread_cond_destroy(&w->has_work);
	pthread_mutex_destroy(&w->mu);
	ts_free(w);
}

ingest_consumers *ingest_writer_consumers(ingest_writer *w)
{
	return w->cons;
}

uint64_t ingest_writer_rejected(const ingest_writer *w)
{
	return w->cons ? ingest_consumers_rejected(w->cons) : 0;
}

/* ---------------------------------------------------------------- public state */

bool ingest_replay_done(ingest_pipeline *p)
{
	ingest_writer *w = ingest_pipeline_writer(p);
	return !w->cons || ingest_consumers_replay_done(w->cons);
}

int ingest_n_partitions(ingest_pipeline *p)
{
	return ingest_pipeline_writer(p)->n_parts;
}

int ingest_partition_stats_get(ingest_pipeline *p, int partition, ingest_partition_stats *out,
			       ts_err *err)
{
	ingest_writer *w = ingest_pipeline_writer(p);
	if (partition < 0 || partition >= w->n_parts)
		return ts_err_set(err, TS_EINVAL, "ingest: partition %d out of range [0, %d)",
				  partition, w->n_parts);
	ingest_consumer_stats cs;
	ingest_consumers_stats(w->cons, partition, &cs);
	/* The embedded log answers at once; a remote backend (Kafka) may block on its
	 * brokers, so its stats come from the snapshot the consumer refreshes (<= 500 ms). */
	ingest_log_partition_stats ls = cs.log;
	if (strcmp(ingest_log_backend(w->log), "local") == 0) {
		int rc = ingest_log_stats(w->log, partition, &ls, err);
		if (rc)
			return rc;
	}
	memset(out, 0, sizeof(*out));
	out->log_first_offset = ls.first_offset;
	out->log_next_offset = ls.next_offset;
	out->consumer_next_offset = cs.next_offset;
	out->checkpoint_next = ls.checkpoint_next;
	out->lag_records = ingest_log_stats_consumer_lag(&ls, cs.next_offset);
	out->lag_bytes = (uint64_t)cs.lag_bytes;
	out->pending_bytes = ls.pending_bytes;
	out->log_bytes = ls.bytes;
	out->n_segments = ls.n_segments;
	out->n_appends = ls.n_appends;
	out->n_append_bytes = ls.n_append_bytes;
	out->n_syncs = ls.n_syncs;
	out->n_busy = ls.n_busy + cs.n_busy;
	out->n_append_errors = ls.n_nospc + ls.n_io_errors;
	out->n_records_applied = cs.n_records;
	out->n_samples_applied = cs.n_samples;
	out->n_samples_rejected = cs.n_rejected;
	out->n_corrupt = cs.n_corrupt;
	out->is_replayed = cs.is_replayed;
	return TS_OK;
}
