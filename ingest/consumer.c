/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer.c: one thread per log partition feeds the store from the partitioned log.
 *
 * Design. A consumer ("ingest-pN") owns a log reader, a record decoder and a series
 * cache. It takes the durable records at hand, in offset order (up to MERGE_MAX_RECORDS),
 * decodes their series entries as symbol ids (ingest_record_decode_ids) into one merge
 * (see `merge`), finds each entry's series in its cache by consumer-wide label ids (see
 * `cache`: no string is hashed or compared per entry, no lookup in the store), appends
 * each series' samples in time order through the cached store reference
 * (tsdb_series_ref_append) and then records the last offset as applied
 * (tsdb_partition_applied). Because a partition is only ever applied by its own
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

/*
 * The series cache (one per consumer, consumer thread only). Label strings are interned
 * to consumer-wide ids (`cstr`, the id is the index); for each record the decoder hands
 * its symbol table once (ingest_record_decode_ids) and every symbol is mapped to its
 * consumer-wide id through an array indexed by record symbol id (`rmap`), so a series
 * entry becomes a sequence of 2 * n_labels integers. A series (`centry`) is keyed by that
 * sequence and holds its ts_series_hash and a reference to the store's series
 * (tsdb_series_ref), so a series entry costs an integer hash and compare here and no
 * lookup in the store. A reference whose series the store removed (an empty series
 * dropped at a cut) answers TS_EBUSY: it is put and a new one got.
 *
 * Bound: the cache's allocations (strings, their table, entries, id sequences) are kept
 * under max_bytes (ingest_consumers_options.series_cache_bytes, default
 * CACHE_MAX_BYTES_DEFAULT = 64 MiB per consumer): at the start of a merge a cache over it
 * is dropped as a whole (every reference put) and filled again from the next records. A
 * merge never drops entries it uses, so one merge may take it past the bound by what its
 * records add (at most MERGE_MAX_RECORDS records). References keep the store's series
 * structs (not their samples) alive, so the bound also bounds the series memory held for
 * removed series.
 */
#define CACHE_MAX_BYTES_DEFAULT ((size_t)64 << 20)
#define CACHE_MAX_IDS           (UINT32_MAX / 4) /* more strings or entries: TS_ENOMEM */

typedef struct cstr {
	uint64_t hash; /* ts_hash64 of its bytes */
	uint32_t off;  /* in cache.str, NUL-terminated */
	uint32_t len;  /* bytes, the NUL excluded */
} cstr;

typedef struct centry {
	uint64_t key;         /* ids_hash of its id sequence */
	uint64_t hash;        /* ts_series_hash of its labels */
	tsdb_series_ref *ref; /* the store's series; NULL until got (or after a refusal) */
	uint64_t gen;         /* the merge that last added samples of it (merge.gen) */
	uint32_t ids_off;     /* its 2 * n_labels string ids start at cache.ids[ids_off] */
	uint32_t n_labels;    /* labels */
	uint32_t mi;          /* its index in merge.ser during merge gen */
} centry;

typedef struct cache {
	cstr *strs; /* interned strings by id */
	size_t n_strs, cap_strs;
	uint32_t *str_slots; /* open addressing on cstr.hash: id + 1, 0 = free; load <= 1/2 */
	size_t n_str_slots;  /* power of 2 (0 before the first string) */
	char *str;           /* string bytes */
	size_t n_str, cap_str;
	centry *ent; /* series */
	size_t n_ent, cap_ent;
	uint32_t *ent_slots; /* open addressing on centry.key: index + 1, 0 = free */
	size_t n_ent_slots;  /* power of 2 (0 before the first entry) */
	uint32_t *ids;       /* id sequences of the entries */
	size_t n_ids, cap_ids;
	uint32_t *rmap; /* this record: record symbol id -> string id */
	size_t n_rmap, cap_rmap;
	uint32_t *key; /* scratch: one series entry's string ids */
	size_t cap_key;
	ts_label *labels; /* scratch: one series' labels */
	size_t cap_labels;
	size_t max_bytes; /* bound of cache_bytes() (see above) */
	uint32_t prev_ce; /* the entry of the previous series entry (UINT32_MAX: none) */
} cache;

/* A series of a merge (see merge). */
typedef struct mseries {
	uint32_t ce;          /* its cache entry (cache.ent) */
	uint32_t n;           /* samples */
	uint32_t first, last; /* its first and last run (merge.runs) */
	int64_t last_t;       /* time of its last sample added */
	bool is_sorted;       /* samples were added in non-decreasing time order */
} mseries;

/* The samples of one series entry of a record, in merge.t / merge.v. */
typedef struct mrun {
	uint32_t off;  /* first sample */
	uint32_t n;    /* samples */
	uint32_t next; /* the series' next run + 1, 0 = its last */
} mrun;

/*
 * The records a consumer applies together: every durable record the reader has at hand
 * (up to MERGE_MAX_RECORDS / MERGE_MAX_SAMPLES) is decoded into one set of series, and
 * each series gets one append with its samples in time order (a stable sort, so equal
 * timestamps keep log order and the store keeps the first of conflicting values, as it
 * would applying the records one by one). Concurrent writers append their records out of
 * time order (4 connections posting consecutive batches); applied record by record, the
 * later batch's samples come first and the earlier ones take the store's out-of-order
 * path. A merge of fewer than MERGE_WAIT_RECORDS records waits up to MERGE_WAIT_MS for
 * more (the concurrent writers' records usually follow within milliseconds): the samples
 * reach the store that much later, acknowledgements are not delayed. On the devops
 * benchmark (4 connections) this cut the samples taking the store's out-of-order path
 * from ~33 % to ~20-25 % (docs/benchmarks.md). Series are grouped by cache entry (see
 * cache). Consumer thread only; memory is kept for the next merge.
 */
typedef struct mkey {
	int64_t t;  /* sample time */
	uint32_t i; /* its index in log order: ties keep it */
} mkey;

typedef struct merge {
	uint64_t gen; /* this merge's number (centry.gen) */
	mseries *ser; /* in first-seen order */
	size_t n_ser, cap_ser;
	mrun *runs; /* series entries in log order */
	size_t n_runs, cap_runs;
	int64_t *t;    /* sample times, log order */
	double *v;     /* sample values, log order */
	size_t n, cap; /* samples held, allocated */
	int64_t *st;   /* scratch: one series' times, then sorted */
	double *sv;    /* scratch: its values */
	mkey *sk;      /* scratch: sort keys (long series) */
	size_t cap_s;
} merge;

typedef struct consumer {
	ingest_consumers *g;           /* immutable */
	int partition;                 /* immutable */
	uint64_t replay_end;           /* immutable after start: the log's end at start */
	pthread_t thread;              /* immutable after start */
	bool has_thread;               /* immutable after start */
	ingest_log_reader *r;          /* consumer thread only */
	ingest_record_decoder *dec;    /* consumer thread only */
	merge m;                       /* consumer thread only */
	cache cc;                      /* consumer thread only (max_bytes immutable) */
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
	_Atomic uint64_t n_cache_drops; /* series cache dropped over its bound */
	_Atomic uint64_t cache_bytes;   /* series cache allocations after the last merge */
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
 * Count the outcome of appending n samples of one series (done appended, rejected of
 * them refused, rc the append's code) in c->rec_samples / rec_rejected. TS_OK, or
 * TS_ENOMEM passed on: the caller applies it again once memory is back.
 */
static int count_appended(consumer *c, int rc, size_t n, size_t done, size_t rejected)
{
	if (rc == TS_ENOMEM)
		return rc;
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
	consumer *c = ctx;
	size_t done = 0, rejected = 0;
	int rc = tsdb_append_series(c->g->db, labels, n_labels, t_ms, v, n, &done, &rejected,
				    &c->rec_err);
	return count_appended(c, rc, n, done, rejected);
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

/* ---------------------------------------------------------------- series cache */

/* Bytes the cache has allocated (its bound counts these). */
static size_t cache_bytes(const cache *k)
{
	return k->cap_strs * sizeof(*k->strs) + k->n_str_slots * sizeof(*k->str_slots) +
	       k->cap_str + k->cap_ent * sizeof(*k->ent) + k->n_ent_slots * sizeof(*k->ent_slots) +
	       k->cap_ids * sizeof(*k->ids);
}

/* Forget every string and series (every reference put) and free the memory counted by
 * the bound; the per-record scratch is kept. */
static void cache_drop(cache *k, tsdb_db *db)
{
	for (size_t i = 0; i < k->n_ent; i++)
		tsdb_series_ref_put(db, k->ent[i].ref);
	ts_free(k->strs);
	ts_free(k->str_slots);
	ts_free(k->str);
	ts_free(k->ent);
	ts_free(k->ent_slots);
	ts_free(k->ids);
	k->strs = NULL;
	k->str_slots = NULL;
	k->str = NULL;
	k->ent = NULL;
	k->ent_slots = NULL;
	k->ids = NULL;
	k->n_strs = k->cap_strs = k->n_str_slots = k->n_str = k->cap_str = 0;
	k->n_ent = k->cap_ent = k->n_ent_slots = k->n_ids = k->cap_ids = 0;
	k->n_rmap = 0;
	k->prev_ce = UINT32_MAX;
}

/* cache_drop, then free the scratch too. */
static void cache_free(cache *k, tsdb_db *db)
{
	cache_drop(k, db);
	ts_free(k->rmap);
	ts_free(k->key);
	ts_free(k->labels);
	k->rmap = k->key = NULL;
	k->labels = NULL;
	k->cap_rmap = k->cap_key = k->cap_labels = 0;
}

/* A new slot table of n_slots (power of 2) holding the n items whose hashes hash_of
 * gives; TS_ENOMEM leaves *slots as it was. */
static int rehash(uint32_t **slots, size_t *n_slots, size_t want, size_t n,
		  uint64_t (*hash_of)(const cache *, size_t), const cache *k)
{
	size_t ns = *n_slots ? *n_slots : 1024;
	while (ns < want)
		ns *= 2;
	uint32_t *t = ts_calloc(ns, sizeof(*t));
	if (!t)
		return TS_ENOMEM;
	for (size_t j = 0; j < n; j++) {
		size_t i = (size_t)hash_of(k, j) & (ns - 1);
		while (t[i])
			i = (i + 1) & (ns - 1);
		t[i] = (uint32_t)j + 1;
	}
	ts_free(*slots);
	*slots = t;
	*n_slots = ns;
	return TS_OK;
}

static uint64_t str_hash_of(const cache *k, size_t j)
{
	return k->strs[j].hash;
}

static uint64_t ent_hash_of(const cache *k, size_t j)
{
	return k->ent[j].key;
}

/* The id of s[0..len) (len >= 1, no NUL inside), interned if new. TS_OK, TS_ENOMEM. */
static int cache_intern(cache *k, const char *s, uint32_t len, uint32_t *id)
{
	uint64_t h = ts_hash64(s, len, 0);
	if (k->n_str_slots) {
		size_t mask = k->n_str_slots - 1;
		for (size_t i = (size_t)h & mask; k->str_slots[i]; i = (i + 1) & mask) {
			const cstr *cs = &k->strs[k->str_slots[i] - 1];
			if (cs->hash == h && cs->len == len &&
			    memcmp(k->str + cs->off, s, len) == 0) {
				*id = k->str_slots[i] - 1;
				return TS_OK;
			}
		}
	}
	if (k->n_strs >= CACHE_MAX_IDS || k->n_str + len + 1 > UINT32_MAX ||
	    ingest_grow((void **)&k->strs, &k->cap_strs, k->n_strs + 1, sizeof(*k->strs)) ||
	    ingest_grow((void **)&k->str, &k->cap_str, k->n_str + len + 1, 1))
		return TS_ENOMEM;
	if ((k->n_strs + 1) * 2 > k->n_str_slots &&
	    rehash(&k->str_slots, &k->n_str_slots, (k->n_strs + 1) * 2, k->n_strs, str_hash_of, k))
		return TS_ENOMEM;
	memcpy(k->str + k->n_str, s, len);
	k->str[k->n_str + len] = '\0';
	size_t j = k->n_strs++;
	k->strs[j] = (cstr){.hash = h, .off = (uint32_t)k->n_str, .len = len};
	k->n_str += (size_t)len + 1;
	size_t mask = k->n_str_slots - 1, i = (size_t)h & mask;
	while (k->str_slots[i])
		i = (i + 1) & mask;
	k->str_slots[i] = (uint32_t)j + 1;
	*id = (uint32_t)j;
	return TS_OK;
}

/* Hash of a string id sequence (cache keys only; never stored outside the process). */
static uint64_t ids_hash(const uint32_t *ids, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
	size_t i = 0;
	for (; i + 1 < n; i += 2) {
		h ^= (uint64_t)ids[i] << 32 | ids[i + 1];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	if (i < n) {
		h ^= ids[i];
		h *= 0xff51afd7ed558ccdULL;
	}
	h ^= h >> 32;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

/* The entry of the label set ids[0 .. 2 n_labels) (string ids), added if new: its index
 * in *ce. TS_OK, TS_ENOMEM. */
static int cache_series(cache *k, const uint32_t *ids, size_t n_labels, uint32_t *ce)
{
	size_t n_ids = 2 * n_labels;
	uint64_t key = ids_hash(ids, n_ids);
	if (k->n_ent_slots) {
		size_t mask = k->n_ent_slots - 1;
		for (size_t i = (size_t)key & mask; k->ent_slots[i]; i = (i + 1) & mask) {
			const centry *e = &k->ent[k->ent_slots[i] - 1];
			if (e->key == key && e->n_labels == n_labels &&
			    memcmp(k->ids + e->ids_off, ids, n_ids * sizeof(*ids)) == 0) {
				*ce = k->ent_slots[i] - 1;
				return TS_OK;
			}
		}
	}
	if (k->n_ent >= CACHE_MAX_IDS || k->n_ids + n_ids > UINT32_MAX ||
	    ingest_grow((void **)&k->ent, &k->cap_ent, k->n_ent + 1, sizeof(*k->ent)) ||
	    ingest_grow((void **)&k->ids, &k->cap_ids, k->n_ids + n_ids, sizeof(*k->ids)) ||
	    ingest_grow((void **)&k->labels, &k->cap_labels, n_labels, sizeof(*k->labels)))
		return TS_ENOMEM;
	if ((k->n_ent + 1) * 2 > k->n_ent_slots &&
	    rehash(&k->ent_slots, &k->n_ent_slots, (k->n_ent + 1) * 2, k->n_ent, ent_hash_of, k))
		return TS_ENOMEM;
	for (size_t i = 0; i < n_labels; i++)
		k->labels[i] = (ts_label){k->str + k->strs[ids[2 * i]].off,
					  k->str + k->strs[ids[2 * i + 1]].off};
	memcpy(k->ids + k->n_ids, ids, n_ids * sizeof(*ids));
	size_t j = k->n_ent++;
	k->ent[j] = (centry){.key = key,
			     .hash = ts_series_hash(k->labels, n_labels),
			     .ids_off = (uint32_t)k->n_ids,
			     .n_labels = (uint32_t)n_labels};
	k->n_ids += n_ids;
	size_t mask = k->n_ent_slots - 1, i = (size_t)key & mask;
	while (k->ent_slots[i])
		i = (i + 1) & mask;
	k->ent_slots[i] = (uint32_t)j + 1;
	*ce = (uint32_t)j;
	return TS_OK;
}

/* ingest_record_symbols_fn: map the record's symbols to string ids (c->cc.rmap). */
static int cache_symbols(void *ctx, const char *const *syms, const uint32_t *lens, size_t n_syms)
{
	cache *k = &((consumer *)ctx)->cc;
	k->n_rmap = 0;
	if (ingest_grow((void **)&k->rmap, &k->cap_rmap, n_syms ? n_syms : 1, sizeof(*k->rmap)))
		return TS_ENOMEM;
	for (size_t i = 0; i < n_syms; i++)
		if (cache_intern(k, syms[i], lens[i], &k->rmap[i]))
			return TS_ENOMEM;
	k->n_rmap = n_syms;
	return TS_OK;
}

/* ---------------------------------------------------------------- merging records */

static void merge_free(merge *m)
{
	ts_free(m->ser);
	ts_free(m->runs);
	ts_free(m->t);
	ts_free(m->v);
	ts_free(m->st);
	ts_free(m->sv);
	ts_free(m->sk);
	memset(m, 0, sizeof(*m));
}

static void merge_reset(merge *m)
{
	m->n_ser = m->n_runs = m->n = 0;
	m->gen++;
}

/* ingest_record_ids_fn: add one decoded series entry to the consumer's merge. */
static int merge_entry(void *ctx, const uint32_t *ids, size_t n_labels, const int64_t *t_ms,
		       const double *v, size_t n)
{
	consumer *c = ctx;
	merge *m = &c->m;
	cache *k = &c->cc;
	if (m->n + n > UINT32_MAX / 2 || m->n_runs >= UINT32_MAX / 2 ||
	    ingest_grow((void **)&k->key, &k->cap_key, 2 * n_labels, sizeof(*k->key)) ||
	    ingest_grow((void **)&m->runs, &m->cap_runs, m->n_runs + 1, sizeof(*m->runs)))
		return TS_ENOMEM;
	size_t cap = m->cap;
	if (m->n + n > cap) {
		size_t c1 = cap, c2 = cap;
		if (ingest_grow((void **)&m->t, &c1, m->n + n, sizeof(*m->t)) ||
		    ingest_grow((void **)&m->v, &c2, m->n + n, sizeof(*m->v)))
			return TS_ENOMEM; /* the array that grew keeps its larger size */
		m->cap = c1;
	}
	uint32_t *key = k->key;
	const uint32_t *rmap = k->rmap;
	for (size_t i = 0; i < 2 * n_labels; i++)
		key[i] = rmap[ids[i]]; /* ids < n_syms: the decoder checked */
	/* Records list series in the order their writer saw them, which repeats from record
	 * to record: the entry made after the previous one is tried first. */
	uint32_t ce = k->prev_ce + 1;
	const centry *guess = ce < k->n_ent ? &k->ent[ce] : NULL;
	if (!guess || guess->n_labels != n_labels ||
	    memcmp(k->ids + guess->ids_off, key, 2 * n_labels * sizeof(*key)) != 0) {
		if (cache_series(k, key, n_labels, &ce))
			return TS_ENOMEM;
	}
	k->prev_ce = ce;
	centry *e = &k->ent[ce];
	uint32_t run = (uint32_t)m->n_runs;
	if (e->gen != m->gen) {
		if (ingest_grow((void **)&m->ser, &m->cap_ser, m->n_ser + 1, sizeof(*m->ser)))
			return TS_ENOMEM;
		e->gen = m->gen;
		e->mi = (uint32_t)m->n_ser;
		m->ser[m->n_ser++] = (mseries){
		    .ce = ce, .first = run, .last = run, .last_t = INT64_MIN, .is_sorted = true};
	} else {
		mseries *ms = &m->ser[e->mi];
		m->runs[ms->last].next = run + 1;
		ms->last = run;
	}
	mseries *ms = &m->ser[e->mi];
	m->runs[m->n_runs++] = (mrun){.off = (uint32_t)m->n, .n = (uint32_t)n};
	bool is_sorted = t_ms[0] >= ms->last_t;
	for (size_t j = 1; j < n; j++)
		is_sorted &= t_ms[j] >= t_ms[j - 1];
	ms->is_sorted &= is_sorted;
	ms->last_t = t_ms[n - 1];
	memcpy(m->t + m->n, t_ms, n * sizeof(*t_ms));
	memcpy(m->v + m->n, v, n * sizeof(*v));
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

/* Longest series a merge sorts by insertion (nearly sorted runs); longer ones qsort. */
#define INSERTION_SORT_MAX 256

/*
 * Sort t[0..n) (and v with it) by time, stably: equal times keep their order. Binary
 * insertion: the runs of a series are each in order and mostly follow one another, so
 * most samples stay where they are. keys: scratch of n for the qsort of long series.
 */
static void sort_samples(int64_t *t, double *v, size_t n, mkey *keys)
{
	if (n > INSERTION_SORT_MAX) {
		for (size_t j = 0; j < n; j++)
			keys[j] = (mkey){t[j], (uint32_t)j};
		qsort(keys, n, sizeof(*keys), mkey_cmp);
		/* v by the sorted indexes: through t as scratch for the values' bits */
		for (size_t j = 0; j < n; j++)
			memcpy(&t[j], &v[keys[j].i], sizeof(*t));
		memcpy(v, t, n * sizeof(*v));
		for (size_t j = 0; j < n; j++)
			t[j] = keys[j].t;
		return;
	}
	for (size_t j = 1; j < n; j++) {
		int64_t x = t[j];
		if (x >= t[j - 1])
			continue;
		double y = v[j];
		size_t lo = 0, hi = j - 1; /* first index in [0, j) with t > x: t[j - 1] > x */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (t[mid] > x)
				hi = mid;
			else
				lo = mid + 1;
		}
		memmove(t + lo + 1, t + lo, (j - lo) * sizeof(*t));
		memmove(v + lo + 1, v + lo, (j - lo) * sizeof(*v));
		t[lo] = x;
		v[lo] = y;
	}
}

/*
 * Append n samples (borrowed) to the series of cache entry e through its reference
 * (got first if it has none; put and got again when the store removed the series), and
 * count them (count_appended). TS_OK; TS_ENOMEM to apply the merge again later.
 */
static int cached_append(consumer *c, centry *e, const int64_t *t_ms, const double *v, size_t n)
{
	tsdb_db *db = c->g->db;
	cache *k = &c->cc;
	size_t done = 0, rejected = 0;
	int rc = TS_OK;
	for (int attempt = 0; done < n; attempt++) {
		if (!e->ref) {
			const uint32_t *ids = k->ids + e->ids_off;
			for (size_t i = 0; i < e->n_labels; i++)
				k->labels[i] = (ts_label){k->str + k->strs[ids[2 * i]].off,
							  k->str + k->strs[ids[2 * i + 1]].off};
			rc = tsdb_series_ref_get(db, e->hash, k->labels, e->n_labels, &e->ref,
						 &c->rec_err);
			if (rc)
				break;
		}
		size_t d = 0, r = 0;
		rc = tsdb_series_ref_append(db, e->ref, t_ms + done, v + done, n - done, &d, &r,
					    &c->rec_err);
		done += d;
		rejected += r;
		if (rc != TS_EBUSY)
			break;
		/* the store removed the series (empty at a cut): look it up again */
		tsdb_series_ref_put(db, e->ref);
		e->ref = NULL;
		if (attempt > 100)
			break;
	}
	return count_appended(c, rc, n, done, rejected);
}

/*
 * Append every series of the merge to the store, each with its samples in time order
 * (c->rec_samples / rec_rejected count them). TS_OK; TS_ENOMEM (from the store or for
 * scratch) means apply it again later: samples already applied are duplicates then.
 */
static int merge_apply(consumer *c)
{
	merge *m = &c->m;
	for (size_t k = 0; k < m->n_ser; k++) {
		const mseries *ms = &m->ser[k];
		size_t n = ms->n;
		const mrun *r = &m->runs[ms->first];
		const int64_t *t = m->t + r->off;
		const double *v = m->v + r->off;
		if (!r->next && ms->is_sorted)
			goto append; /* one run in order: appended from where it is */
		size_t cs = m->cap_s, cs2 = m->cap_s, cs3 = m->cap_s;
		if (ingest_grow((void **)&m->st, &cs, n, sizeof(*m->st)) ||
		    ingest_grow((void **)&m->sv, &cs2, n, sizeof(*m->sv)) ||
		    ingest_grow((void **)&m->sk, &cs3, n, sizeof(*m->sk)))
			return TS_ENOMEM;
		m->cap_s = cs;
		for (size_t j = 0;; r = &m->runs[r->next - 1]) {
			memcpy(m->st + j, m->t + r->off, r->n * sizeof(*m->st));
			memcpy(m->sv + j, m->v + r->off, r->n * sizeof(*m->sv));
			j += r->n;
			if (!r->next)
				break;
		}
		if (!ms->is_sorted)
			sort_samples(m->st, m->sv, n, m->sk);
		t = m->st;
		v = m->sv;
	append:;
		int rc = cached_append(c, &c->cc.ent[ms->ce], t, v, n);
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
	if (cache_bytes(&c->cc) > c->cc.max_bytes) {
		cache_drop(&c->cc, g->db); /* no merge holds entries now */
		atomic_fetch_add_explicit(&c->n_cache_drops, 1, memory_order_relaxed);
	}
	merge_reset(m);
	uint64_t last = off, n_recs = 0, lag_bytes = 0;
	int rc_read = TS_OK;
	int64_t t_end_ns = ts_mono_ns() + (int64_t)MERGE_WAIT_MS * 1000000;
	const void *left = NULL; /* a record to apply on its own after the merge */
	size_t left_len = 0;
	for (;;) {
		ts_err e = {0};
		c->rec_samples = 0;
		int rc =
		    ingest_record_decode_ids(c->dec, rec, len, cache_symbols, merge_entry, c, &e);
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
	atomic_store_explicit(&c->cache_bytes, cache_bytes(&c->cc), memory_order_relaxed);
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
	cache_drop(&c->cc, c->g->db); /* the series are no longer ours to write */
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
	size_t cache_max = o->series_cache_bytes ? o->series_cache_bytes : CACHE_MAX_BYTES_DEFAULT;
	for (int p = 0; p < g->n; p++) {
		g->c[p].cc.max_bytes = cache_max;
		g->c[p].cc.prev_ce = UINT32_MAX;
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
			cache_free(&c->cc, g->db);
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
	out->n_cache_drops = atomic_load(&c->n_cache_drops);
	out->cache_bytes = atomic_load(&c->cache_bytes);
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
