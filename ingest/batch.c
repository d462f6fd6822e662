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
 * The per-sample work is kept small (issue 3): each label string is compared with the
 * previous sample's at the same position (strcmp) and only changed ones are interned in
 * the batch's ingest_symtab; the label ids then find the series in the batch's series
 * table (a hash of the ids; slots carry part of the hash, so a probe reads no series;
 * one memcmp), which holds its partition and the slot word its partition's builder uses
 * to group its samples. A new series' ts_series_hash (once per distinct series per
 * request) is taken over a series key the batch keeps for the current labels, built from
 * its symbol table (lengths known: no strlen) and, for a renamed sample, only spliced:
 * the same bytes as ts_series_key, so the same hash. The partition is hash & (P - 1)
 * when P is a power of 2 (equal to hash % P, without a division).
 * ingest_batch_add_renamed (the next field of a line-protocol point) skips the
 * comparisons: only __name__'s value is interned (a name_idx that is not where __name__
 * was gets the full checks). Every label set is checked to be normalized where a name
 * changed; values are checked non-empty when interned.
 * ingest_batch_add_ref also hands out the series' index in the batch (its ref), and
 * ingest_batch_add_at adds a sample by ref with no label work at all (the line-protocol
 * parser's series cache); a ref is handed out only for a sample that was buffered, so
 * refs name admitted series (series limits: each series is asked once per batch).
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
 * Series limits (ingest.max_series, ingest.max_series_per_metric): when set, add() asks
 * the writer's tsdb_limiter about each distinct series (one call, skipped for a sample of
 * the same series as the previous one) before the sample is buffered; a refused new
 * series is dropped, counted in res->n_limited with the first message, and the rest of the
 * batch is written (web/ answers 429).
 *
 * Batches are pooled: the writer keeps up to BATCH_POOL_MAX freed batches (each under
 * BATCH_POOL_MAX_BYTES of buffers) for the next begin(). With the per-batch symbol and
 * series tables and the builders' grouping arrays, a fresh batch per request spent ~10%
 * of the CPU in page faults and realloc copies of the devops benchmark. A 5,000-line
 * devops request leaves ~10 MB allocated; the pool keeps at most 4 x 16 MiB.
 *
 * Locks: the writer's `mu` guards the job queue, `stopping` and every batch's n_left; it
 * is never held across a log append, a store call or a builder call.
 */
#include "ingest/batch.h"

#include "ingest/cluster_config.h"
#include "ingest/consumer.h"
#include "ingest/ingest_config.h"
#include "ingest/log.h"
#include "ingest/record.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define BATCH_PART_MAX       ((size_t)1 << 30)  /* records of one partition in one batch */
#define BATCH_POOL_MAX       4                  /* freed batches kept for reuse */
#define BATCH_POOL_MAX_BYTES ((size_t)16 << 20) /* larger batches are freed, not kept */

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

/* A distinct series of a batch: what adding a sample to it reads (24 bytes, so that the
 * series of one line-protocol point share few cache lines; the hashes are in bser_hash). */
typedef struct bseries {
	uint64_t slot;     /* its partition builder's slot word (ingest_record_builder_add_ids) */
	uint32_t ids_off;  /* its 2 * n_labels label ids start here in ser_ids */
	uint32_t n_labels; /* labels */
	uint32_t part;     /* its partition: hash % w->n_parts */
	bool is_admitted;  /* the series limits admitted it (this batch asks once) */
} bseries;

/* The hashes of a distinct series of a batch (same index). */
typedef struct bser_hash {
	uint64_t ids_hash; /* ids_hash of its label ids */
	uint64_t hash;     /* ts_series_hash: picks the partition, keys the series limits */
} bser_hash;

/* A batch is used by one thread at a time (its owner), except n_left and its jobs'
 * queue fields, which the append threads touch under w->mu. */
struct ingest_batch {
	ingest_writer *w;       /* borrowed */
	size_t n_samples;       /* samples added (log mode) or stored (direct mode) */
	size_t n_limited;       /* samples of new series refused by the series limits */
	uint64_t last_admitted; /* hash of the last series the limiter admitted (+1; 0 none) */
	char limit_error[256];  /* first refusal */
	/* direct mode */
	size_t n_rejected; /* refused by the store */
	char first_error[256];
	/* log mode */
	ingest_symtab *syms; /* label strings of this batch (created at the first sample) */
	uint32_t *cur_ids;   /* 2 * cur_n symbol ids of the last sample's labels, which were
			      * checked to be a normalized label set */
	size_t cur_n;        /* labels in cur_ids (0: none) */
	size_t cur_name_idx; /* index of __name__ in cur_ids (valid while cur_n > 0) */
	/* ts_series_key bytes of cur_ids for ts_series_hash of a new series, kept between
	 * samples: a renamed sample only splices in the new __name__ value */
	char *key;
	size_t key_len, key_cap;
	bool key_ok;         /* key holds cur_ids' labels but maybe another __name__ value */
	size_t key_name_idx; /* index of __name__ among the key's labels */
	size_t key_nv_off;   /* offset of __name__'s value in key */
	size_t key_nv_len;   /* its length */
	uint32_t key_nv_id;  /* its symbol id */
	size_t cap_cur;      /* capacity of cur_ids in labels */
	/* the distinct series of this batch, found by their label ids (sid = index): */
	bseries *ser;          /* in first-seen order */
	bser_hash *ser_h;      /* their hashes */
	size_t n_ser, cap_ser; /* (both arrays) */
	uint64_t *ser_slots;   /* open addressing table, load <= 1/2: the ids_hash's high half
				* << 32 | sid + 1 (0 = free), so a probe reads no bseries */
	size_t n_ser_slots;    /* power of 2 (0 before the first series) */
	uint32_t *ser_ids;     /* label ids of every series, back to back */
	size_t n_ser_ids, cap_ser_ids;
	uint64_t ser_seed; /* keys ids_hash */
	part_buf *parts;   /* w->n_parts */
	int *dirty;        /* partitions with samples, first use first */
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
	tsdb_limiter *limiter;  /* series limits; NULL when none are set */
	/* Guarded by mu (with the batches' n_left and queued jobs' links and state): */
	pthread_mutex_t mu;
	pthread_cond_t has_work; /* a job was queued or stopping was set */
	append_job *q_head, *q_tail;
	bool stopping;
	ingest_batch *pool[BATCH_POOL_MAX]; /* freed batches for reuse */
	int n_pool;
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
	ingest_symtab_free(b->syms);
	ts_free(b->cur_ids);
	ts_free(b->key);
	ts_free(b->ser);
	ts_free(b->ser_h);
	ts_free(b->ser_slots);
	ts_free(b->ser_ids);
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
	b->ser_seed = (uint64_t)(uintptr_t)b * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts_mono_ns();
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
	ingest_writer *w = ingest_pipeline_writer(p);
	pthread_mutex_lock(&w->mu);
	ingest_batch *b = w->n_pool ? w->pool[--w->n_pool] : NULL;
	pthread_mutex_unlock(&w->mu);
	if (b) {
		*out = b;
		return TS_OK;
	}
	if (batch_create(w, out))
		return ts_err_set(err, TS_ENOMEM, "out of memory starting a write");
	return TS_OK;
}

/* Bytes a batch keeps allocated (approximate: its large buffers). */
static size_t batch_alloc_bytes(const ingest_batch *b)
{
	size_t n = b->cap_ser * (sizeof(*b->ser) + sizeof(*b->ser_h)) +
		   b->n_ser_slots * sizeof(*b->ser_slots) + b->cap_ser_ids * sizeof(*b->ser_ids) +
		   (b->syms ? ingest_symtab_alloc_bytes(b->syms) : 0);
	for (int i = 0; b->parts && i < b->w->n_parts; i++)
		n += b->parts[i].recs.cap +
		     (b->parts[i].b ? ingest_record_builder_alloc_bytes(b->parts[i].b) : 0);
	return n;
}

/* Make a used batch like a new one, keeping its allocations. */
static void batch_reset(ingest_batch *b)
{
	b->n_samples = b->n_limited = b->n_rejected = 0;
	b->last_admitted = 0;
	b->limit_error[0] = b->first_error[0] = '\0';
	for (int i = 0; b->parts && i < b->w->n_parts; i++) {
		part_buf *pb = &b->parts[i];
		if (pb->b)
			ingest_record_builder_reset(pb->b);
		ts_buf_reset(&pb->recs);
		pb->is_dirty = false;
	}
	b->n_dirty = 0;
	if (b->syms)
		ingest_symtab_reset(b->syms);
	b->cur_n = 0;
	b->key_ok = false;
	if (b->n_ser && b->ser_slots)
		memset(b->ser_slots, 0, b->n_ser_slots * sizeof(*b->ser_slots));
	b->n_ser = b->n_ser_ids = 0;
}

void ingest_batch_free(ingest_batch *b)
{
	if (!b)
		return;
	ingest_writer *w = b->w;
	if (batch_alloc_bytes(b) <= BATCH_POOL_MAX_BYTES) {
		batch_reset(b);
		pthread_mutex_lock(&w->mu);
		if (w->n_pool < BATCH_POOL_MAX && !w->stopping) {
			w->pool[w->n_pool++] = b;
			b = NULL;
		}
		pthread_mutex_unlock(&w->mu);
	}
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

/*
 * The series-limit hook: may this sample's series be written? One limiter call per
 * distinct series in a row. Returns 1 (yes), 0 (refused: counted in the batch) or a
 * negative TS_E* code.
 */
static int series_admitted(ingest_batch *b, const ts_label *labels, size_t n, uint64_t hash)
{
	if (b->last_admitted == hash + 1 && hash + 1 != 0)
		return 1;
	ts_err e = {0};
	int rc = tsdb_limiter_admit(b->w->limiter, labels, n, hash, &e);
	if (rc == TS_ELIMIT) {
		if (b->n_limited++ == 0)
			snprintf(b->limit_error, sizeof(b->limit_error), "ingest.%.240s", e.msg);
		return 0;
	}
	if (rc)
		return rc;
	b->last_admitted = hash + 1;
	return 1;
}

/*
 * Turn labels into symbol ids of the batch's table in b->cur_ids, checking that they are
 * a normalized label set (sorted unique non-empty names, non-empty values, __name__).
 * Every string is compared with the previous sample's at the same position first: the
 * fields of one line-protocol point, and consecutive series of a scrape, share most
 * labels, so most labels cost one strcmp and no hashing, and the set is checked again
 * only where a name changed.
 */
static int labels_to_ids(ingest_batch *b, const ts_label *labels, size_t n)
{
	size_t prev = b->cur_n;
	b->cur_n = 0; /* cur_ids are being rewritten */
	b->key_ok = false;
	if (n == 0 || !labels)
		return TS_EINVAL;
	if (!b->syms && ingest_symtab_new(BATCH_PART_MAX, &b->syms, NULL))
		return TS_ENOMEM;
	if (n > b->cap_cur) {
		size_t cap = b->cap_cur ? b->cap_cur : 16;
		while (cap < n)
			cap *= 2;
		uint32_t *ids = ts_malloc(2 * cap * sizeof(*ids));
		if (!ids)
			return TS_ENOMEM;
		if (prev)
			memcpy(ids, b->cur_ids, 2 * prev * sizeof(*ids));
		ts_free(b->cur_ids);
		b->cur_ids = ids;
		b->cap_cur = cap;
	}
	bool names_same = n == prev;
	for (size_t i = 0; i < n; i++) {
		const char *name = labels[i].name, *value = labels[i].value;
		uint32_t *id = &b->cur_ids[2 * i];
		int rc;
		if (!name || !value)
			return TS_EINVAL;
		if (i >= prev || strcmp(ingest_symtab_str(b->syms, id[0], NULL), name) != 0) {
			size_t len = strlen(name);
			if (len == 0)
				return TS_EINVAL;
			if ((rc = ingest_symtab_intern(b->syms, name, len, &id[0], NULL)))
				return rc;
			names_same = false;
		}
		if (i >= prev || strcmp(ingest_symtab_str(b->syms, id[1], NULL), value) != 0) {
			size_t len = strlen(value);
			if (len == 0)
				return TS_EINVAL;
			if ((rc = ingest_symtab_intern(b->syms, value, len, &id[1], NULL)))
				return rc;
		}
	}
	if (!names_same) {
		bool has_name = false;
		for (size_t i = 0; i < n; i++) {
			if (i > 0 && strcmp(labels[i - 1].name, labels[i].name) >= 0)
				return TS_EINVAL;
			if (strcmp(labels[i].name, TS_METRIC_NAME) == 0) {
				has_name = true;
				b->cur_name_idx = i;
			}
		}
		if (!has_name)
			return TS_EINVAL;
	}
	b->cur_n = n;
	return TS_OK;
}

/* Hash of a label-id array, keyed by the batch's seed. */
static uint64_t ids_hash(uint64_t seed, const uint32_t *ids, size_t n)
{
	uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
	for (size_t k = 0; k + 1 < n; k += 2) {
		h = (h ^ ((uint64_t)ids[k] << 32 | ids[k + 1])) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	if (n % 2)
		h = (h ^ ids[n - 1]) * 0x94d049bb133111ebull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

/* Room for cap bytes in b->key. */
static int key_reserve(ingest_batch *b, size_t cap)
{
	if (cap <= b->key_cap)
		return TS_OK;
	size_t c = b->key_cap ? b->key_cap : 512;
	while (c < cap)
		c *= 2;
	char *k = ts_realloc(b->key, c);
	if (!k)
		return TS_ENOMEM;
	b->key = k;
	b->key_cap = c;
	return TS_OK;
}

/*
 * ts_series_hash of the n labels in cur_ids, from the batch's strings (lengths known)
 * rather than the caller's: the series key (ts_series_key bytes) is kept in b->key, and
 * when only __name__'s value changed since it was built (add_renamed: the next field of a
 * line-protocol point) the new value is spliced in. The same bytes, so the same hash.
 * TS_OK, TS_ENOMEM.
 */
static int cur_series_hash(ingest_batch *b, size_t n, uint64_t *out)
{
	const ingest_symtab *t = b->syms;
	size_t len;
	if (b->key_ok) {
		uint32_t id = b->cur_ids[2 * b->key_name_idx + 1];
		if (id != b->key_nv_id) {
			const char *s = ingest_symtab_str(t, id, &len);
			size_t off = b->key_nv_off, old = b->key_nv_len;
			if (len != old) {
				if (key_reserve(b, b->key_len - old + len))
					return TS_ENOMEM;
				memmove(b->key + off + len, b->key + off + old,
					b->key_len - off - old);
				b->key_len = b->key_len - old + len;
				b->key_nv_len = len;
			}
			memcpy(b->key + off, s, len);
			b->key_nv_id = id;
		}
		*out = ts_hash64(b->key, b->key_len, 0);
		return TS_OK;
	}
	size_t total = 0;
	for (size_t i = 0; i < 2 * n; i++) {
		(void)ingest_symtab_str(t, b->cur_ids[i], &len);
		total += len + 1;
	}
	if (key_reserve(b, total))
		return TS_ENOMEM;
	char *k = b->key;
	for (size_t i = 0; i < 2 * n; i++) {
		const char *s = ingest_symtab_str(t, b->cur_ids[i], &len);
		if (i == 2 * b->cur_name_idx + 1) {
			b->key_nv_off = (size_t)(k - b->key);
			b->key_nv_len = len;
			b->key_nv_id = b->cur_ids[i];
		}
		memcpy(k, s, len);
		k += len;
		*k++ = (char)0xFF;
	}
	b->key_len = total;
	b->key_name_idx = b->cur_name_idx;
	b->key_ok = true;
	*out = ts_hash64(b->key, b->key_len, 0);
	return TS_OK;
}

/*
 * The series (sid) of cur_ids, registering it with its ts_series_hash (cur_series_hash)
 * and partition if new: a series seen before in this batch costs one hash of its label
 * ids and one compare, not a series key. TS_OK, TS_ENOMEM, TS_ELIMIT (2^32 series).
 */
static int series_of(ingest_batch *b, size_t n, size_t *sid)
{
	size_t n_ids = 2 * n;
	uint64_t h = ids_hash(b->ser_seed, b->cur_ids, n_ids);
	if (b->n_ser_slots) {
		size_t mask = b->n_ser_slots - 1;
		uint32_t tag = (uint32_t)(h >> 32);
		for (size_t i = (size_t)h & mask; b->ser_slots[i]; i = (i + 1) & mask) {
			uint64_t e = b->ser_slots[i];
			if ((uint32_t)(e >> 32) != tag)
				continue;
			const bseries *bs = &b->ser[(uint32_t)e - 1];
			if (b->ser_h[(uint32_t)e - 1].ids_hash == h && bs->n_labels == n &&
			    memcmp(b->ser_ids + bs->ids_off, b->cur_ids,
				   n_ids * sizeof(uint32_t)) == 0) {
				*sid = (uint32_t)e - 1;
				return TS_OK;
			}
		}
	}
	if (b->n_ser >= UINT32_MAX - 1 || b->n_ser_ids + n_ids > UINT32_MAX)
		return TS_ELIMIT;
	if (b->n_ser == b->cap_ser) {
		size_t cap = b->cap_ser ? b->cap_ser * 2 : 1024;
		bseries *v = ts_realloc(b->ser, cap * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		b->ser = v;
		bser_hash *vh = ts_realloc(b->ser_h, cap * sizeof(*vh));
		if (!vh)
			return TS_ENOMEM;
		b->ser_h = vh;
		b->cap_ser = cap;
	}
	if (b->n_ser_ids + n_ids > b->cap_ser_ids) {
		size_t cap = b->cap_ser_ids ? b->cap_ser_ids : 16384;
		while (cap < b->n_ser_ids + n_ids)
			cap *= 2;
		uint32_t *v = ts_realloc(b->ser_ids, cap * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		b->ser_ids = v;
		b->cap_ser_ids = cap;
	}
	if ((b->n_ser + 1) * 2 > b->n_ser_slots) {
		size_t n_slots = b->n_ser_slots ? b->n_ser_slots * 2 : 2048;
		uint64_t *slots = ts_calloc(n_slots, sizeof(*slots));
		if (!slots)
			return TS_ENOMEM;
		for (size_t k = 0; k < b->n_ser; k++) {
			uint64_t hk = b->ser_h[k].ids_hash;
			size_t i = (size_t)hk & (n_slots - 1);
			while (slots[i])
				i = (i + 1) & (n_slots - 1);
			slots[i] = (hk >> 32) << 32 | (k + 1);
		}
		ts_free(b->ser_slots);
		b->ser_slots = slots;
		b->n_ser_slots = n_slots;
	}
	uint64_t hash;
	if (cur_series_hash(b, n, &hash))
		return TS_ENOMEM;
	uint64_t parts = (uint64_t)b->w->n_parts;
	size_t k = b->n_ser++;
	b->ser_h[k] = (bser_hash){.ids_hash = h, .hash = hash};
	b->ser[k] = (bseries){
	    .ids_off = (uint32_t)b->n_ser_ids,
	    .n_labels = (uint32_t)n,
	    /* the same as hash % parts; a division costs ~40 cycles */
	    .part = (uint32_t)((parts & (parts - 1)) == 0 ? hash & (parts - 1) : hash % parts)};
	memcpy(b->ser_ids + b->n_ser_ids, b->cur_ids, n_ids * sizeof(uint32_t));
	b->n_ser_ids += n_ids;
	size_t i = (size_t)h & (b->n_ser_slots - 1);
	while (b->ser_slots[i])
		i = (i + 1) & (b->n_ser_slots - 1);
	b->ser_slots[i] = (h >> 32) << 32 | (k + 1);
	*sid = k;
	return TS_OK;
}

static int add_ids(ingest_batch *b, const ts_label *labels, size_t n, int64_t t_ms, double v,
		   uint32_t *ref);

/* ingest_batch_add with the series ref out (UINT32_MAX when none is handed out). */
static int add_labels(ingest_batch *b, const ts_label *labels, size_t n, int64_t t_ms, double v,
		      uint32_t *ref)
{
	ingest_writer *w = b->w;
	int rc;
	*ref = UINT32_MAX;
	if (!w->log) {
		if (w->limiter) {
			int ok = series_admitted(b, labels, n, ts_series_hash(labels, n));
			if (ok <= 0)
				return ok;
		}
		return add_direct(b, labels, n, t_ms, v);
	}
	if ((rc = labels_to_ids(b, labels, n)))
		return rc;
	return add_ids(b, labels, n, t_ms, v, ref);
}

/* ingest_batch_add_renamed with the series ref out. */
static int add_renamed(ingest_batch *b, const ts_label *labels, size_t n, size_t name_idx,
		       int64_t t_ms, double v, uint32_t *ref)
{
	if (!b->w->log || n != b->cur_n || name_idx != b->cur_name_idx || !labels[name_idx].value)
		return add_labels(b, labels, n, t_ms, v, ref);
	*ref = UINT32_MAX;
	const char *value = labels[name_idx].value;
	size_t len = strlen(value);
	b->cur_n = 0; /* cur_ids are being rewritten */
	if (len == 0)
		return TS_EINVAL;
	int rc = ingest_symtab_intern(b->syms, value, len, &b->cur_ids[2 * name_idx + 1], NULL);
	if (rc)
		return rc;
	b->cur_n = n;
	return add_ids(b, labels, n, t_ms, v, ref);
}

int ingest_batch_add(void *batch, const ts_label *labels, size_t n, int64_t t_ms, double v)
{
	uint32_t ref;
	return add_labels(batch, labels, n, t_ms, v, &ref);
}

int ingest_batch_add_renamed(void *batch, const ts_label *labels, size_t n, size_t name_idx,
			     int64_t t_ms, double v)
{
	uint32_t ref;
	return add_renamed(batch, labels, n, name_idx, t_ms, v, &ref);
}

int ingest_batch_add_ref(void *batch, const ts_label *labels, size_t n, size_t name_idx,
			 int64_t t_ms, double v, uint32_t *ref)
{
	if (name_idx == SIZE_MAX)
		return add_labels(batch, labels, n, t_ms, v, ref);
	return add_renamed(batch, labels, n, name_idx, t_ms, v, ref);
}

/*
 * Buffer one sample of series sid (admitted by the series limits) in its partition's
 * record builder, finishing the builder's record first when it is full.
 */
static int add_sid(ingest_batch *b, size_t sid, int64_t t_ms, double v)
{
	ingest_writer *w = b->w;
	bseries *bs = &b->ser[sid];
	const uint32_t *ids = b->ser_ids + bs->ids_off;
	int p = (int)bs->part;
	part_buf *pb = &b->parts[p];
	int rc;
	if (!pb->b && (rc = ingest_record_builder_new(w->cfg.compression, w->cfg.max_record_bytes,
						      &pb->b, NULL)))
		return rc;
	rc = ingest_record_builder_add_ids(pb->b, b->syms, ids, bs->n_labels, &bs->slot, t_ms, v,
					   NULL);
	if (rc == TS_ELIMIT && ingest_record_builder_n_samples(pb->b) > 0) {
		/* the record is full: finish it and start the next one */
		if ((rc = ingest_record_builder_finish(pb->b, &pb->recs, NULL)))
			return rc;
		rc = ingest_record_builder_add_ids(pb->b, b->syms, ids, bs->n_labels, &bs->slot,
						   t_ms, v, NULL);
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

/* The log-mode rest of ingest_batch_add once b->cur_ids hold the labels. */
static int add_ids(ingest_batch *b, const ts_label *labels, size_t n, int64_t t_ms, double v,
		   uint32_t *ref)
{
	size_t sid;
	int rc;
	if ((rc = series_of(b, n, &sid)))
		return rc;
	if (b->w->limiter && !b->ser[sid].is_admitted) {
		int ok = series_admitted(b, labels, n, b->ser_h[sid].hash);
		if (ok <= 0)
			return ok;
		b->ser[sid].is_admitted = true;
	}
	if ((rc = add_sid(b, sid, t_ms, v)))
		return rc;
	*ref = (uint32_t)sid;
	return TS_OK;
}

int ingest_batch_add_at(void *batch, uint32_t ref, int64_t t_ms, double v)
{
	ingest_batch *b = batch;
	if (!b->w->log || ref >= b->n_ser || (b->w->limiter && !b->ser[ref].is_admitted))
		return TS_EINVAL;
	return add_sid(b, ref, t_ms, v);
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
	if (k == 0) /* every sample was refused by the series limits */
		return TS_OK;
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
	if (b->n_limited) {
		if (!res->n_limited)
			snprintf(res->limit_error, sizeof(res->limit_error), "%s", b->limit_error);
		res->n_limited += b->n_limited;
		b->n_limited = 0;
	}
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
	ingest_cluster_config cc; /* the node's role (cluster_config.c) */
	if ((rc = ingest_config_parse(o->config, &w->cfg, err)) ||
	    (rc = ingest_cluster_config_load(o->config, &cc, err)))
		goto fail;
	if ((w->cfg.max_series || w->cfg.max_series_per_metric) &&
	    (rc = tsdb_limiter_new(o->db, w->cfg.max_series, w->cfg.max_series_per_metric,
				   &w->limiter, err)))
		goto fail;
	if (o->log) {
		w->log = o->log;
	} else {
		if ((rc = ingest_cluster_open_log(&cc, &w->cfg, o->config, &w->log, err)))
			goto fail;
		w->owns_log = true;
	}
	w->n_parts = ingest_log_n_partitions(w->log);
	ingest_consumers_options co = {.log = w->log,
				       .db = o->db,
				       .max_lag_bytes = w->cfg.max_consumer_lag_bytes,
				       .role = cc.role,
				       .session_timeout_ms = cc.session_timeout_ms};
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
	for (int i = 0; i < w->n_pool; i++)
		batch_destroy(w->pool[i]);
	w->n_pool = 0;
	ingest_consumers_stop(w->cons);
	if (w->owns_log)
		ingest_log_close(w->log);
	ingest_config_fini(&w->cfg);
	tsdb_limiter_free(w->limiter);
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
	out->cache_bytes = cs.cache_bytes;
	out->n_cache_drops = cs.n_cache_drops;
	out->is_replayed = cs.is_replayed;
	out->owned = cs.is_owned;
	return TS_OK;
}
