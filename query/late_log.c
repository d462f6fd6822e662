/* SPDX-License-Identifier: Apache-2.0 */
/*
 * late_log.c: a store's late-write marks for several readers (query.h, "late-write log").
 *
 * tsdb's late tracker hands each mark to one consumer (tsdb_late_drain ends a
 * generation). A store node has several readers: its own range cache and every query
 * node polling GET /internal/v1/late. The log is the single consumer: every read first
 * pumps tsdb_late_drain into a ring of `cap` marks numbered 1, 2, ... (seq), and each
 * reader keeps its own position. A reader whose position fell off the ring (more than
 * cap marks since its last read) or belongs to another epoch (the store restarted: the
 * epoch is drawn anew on every start, and the tsdb watermark raised for that reader is
 * gone with the old process) is told to reset, i.e. to drop everything it cached: always
 * correct, rarely needed.
 *
 * Watermark: the tsdb watermark is shared. A reader raises it with query_late_log_watch
 * (the local cache before evaluating, a query node in every poll with its own
 * now - freshness): the store then records every write at or before the highest
 * watermark any reader asked for, which is what each of them needs (more marks than one
 * reader asked for only trim more).
 *
 * Tested by tests/query/test_late_log.c.
 */
#include "query/eval.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct query_late_log {
	tsdb_db *db; /* borrowed */
	uint64_t epoch;
	pthread_mutex_t lock; /* guards every field below */
	tsdb_late_mark *ring; /* mark number k is ring[k % cap] */
	size_t cap;
	uint64_t last;      /* newest seq (0: none yet) */
	uint64_t local_seq; /* the local provider's position */
	query_late_provider local;
};

static _Atomic uint64_t epoch_counter;

/* A 64-bit epoch that differs between starts: time, process id and a counter, mixed. */
static uint64_t new_epoch(void)
{
	uint64_t x = (uint64_t)ts_now_ms() * 1000003u ^ (uint64_t)ts_mono_ns() ^
		     ((uint64_t)getpid() << 40) ^ atomic_fetch_add(&epoch_counter, 1);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x ? x : 1;
}

/* Move the store's new marks into the ring; the caller holds l->lock. */
static void pump(query_late_log *l)
{
	tsdb_late_mark m[TSDB_LATE_MAX_NAMES];
	size_t n = tsdb_late_drain(l->db, m);
	for (size_t i = 0; i < n; i++) {
		l->last++;
		l->ring[l->last % l->cap] = m[i];
	}
}

/* Can a reader at since go on (same epoch, nothing it needs fell off the ring)? */
static bool in_ring(const query_late_log *l, uint64_t epoch, uint64_t since)
{
	if (epoch != l->epoch || since > l->last)
		return false;
	return l->last - since <= l->cap;
}

void query_late_log_read(query_late_log *l, uint64_t epoch, uint64_t since, tsdb_late_mark *out,
			 size_t cap, query_late_read *r)
{
	pthread_mutex_lock(&l->lock);
	pump(l);
	r->epoch = l->epoch;
	r->n = 0;
	if (!in_ring(l, epoch, since)) {
		r->is_reset = true;
		r->next_seq = l->last;
		pthread_mutex_unlock(&l->lock);
		return;
	}
	r->is_reset = false;
	uint64_t k = since;
	while (k < l->last && r->n < cap) {
		k++;
		out[r->n++] = l->ring[k % l->cap];
	}
	r->next_seq = k;
	pthread_mutex_unlock(&l->lock);
}

/* ---------------------------------------------------------------- the local reader */

static bool local_watch(void *ctx, int64_t t_ms)
{
	query_late_log *l = ctx;
	tsdb_late_watch(l->db, t_ms);
	return true;
}

static size_t local_drain(void *ctx, tsdb_late_mark out[TSDB_LATE_MAX_NAMES])
{
	query_late_log *l = ctx;
	pthread_mutex_lock(&l->lock);
	pump(l);
	size_t n = 0;
	if (!in_ring(l, l->epoch, l->local_seq)) {
		out[n++] = (tsdb_late_mark){TSDB_LATE_ALL, INT64_MIN};
	} else if (l->last - l->local_seq > TSDB_LATE_MAX_NAMES) {
		/* More than fit: one mark for every metric at the oldest time. */
		int64_t min_t = INT64_MAX;
		for (uint64_t k = l->local_seq + 1; k <= l->last; k++)
			if (l->ring[k % l->cap].min_t_ms < min_t)
				min_t = l->ring[k % l->cap].min_t_ms;
		out[n++] = (tsdb_late_mark){TSDB_LATE_ALL, min_t};
	} else {
		for (uint64_t k = l->local_seq + 1; k <= l->last; k++)
			out[n++] = l->ring[k % l->cap];
	}
	l->local_seq = l->last;
	pthread_mutex_unlock(&l->lock);
	return n;
}

const query_late_provider *query_late_log_provider(query_late_log *l)
{
	return &l->local;
}

/* ---------------------------------------------------------------- lifecycle */

int query_late_log_new(tsdb_db *db, size_t cap, query_late_log **out, ts_err *err)
{
	if (!db)
		return ts_err_set(err, TS_EINVAL, "late-write log needs a store");
	if (cap == 0)
		cap = QUERY_LATE_LOG_CAP;
	query_late_log *l = ts_calloc(1, sizeof(*l));
	if (!l || !(l->ring = ts_calloc(cap, sizeof(*l->ring)))) {
		ts_free(l);
		return ts_err_set(err, TS_ENOMEM, "out of memory creating the late-write log");
	}
	l->db = db;
	l->cap = cap;
	l->epoch = new_epoch();
	pthread_mutex_init(&l->lock, NULL);
	l->local = (query_late_provider){.watch = local_watch, .drain = local_drain, .ctx = l};
	/* Marks recorded before the log existed have no reader that needs them. */
	pthread_mutex_lock(&l->lock);
	pump(l);
	l->local_seq = l->last;
	pthread_mutex_unlock(&l->lock);
	*out = l;
	return TS_OK;
}

void query_late_log_free(query_late_log *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	ts_free(l->ring);
	ts_free(l);
}

uint64_t query_late_log_epoch(query_late_log *l)
{
	return l->epoch;
}

void query_late_log_watch(query_late_log *l, int64_t t_ms)
{
	tsdb_late_watch(l->db, t_ms);
}
