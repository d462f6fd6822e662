/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scrape_int.h: the scrape target shared by scrape.c (the manager: schedule, transfers,
 * discovery) and scrape_target.c (building a target from discovery, and turning one
 * transfer into one committed batch). Internal to those two files and their tests.
 *
 * Ownership of a target's fields by phase (see scrape.c's file comment for the threads):
 *   - "immutable" fields are set by scrape_target_new and never change;
 *   - "scrape thread" fields belong to the thread running libcurl;
 *   - "in flight" fields are written by the scrape thread while the transfer runs and
 *     then read by exactly one worker (the hand-over goes through a mutex-protected
 *     queue, which orders the accesses);
 *   - "worker" fields are touched only by the worker holding the in-flight target;
 *   - "status" fields are guarded by *status_mu.
 */
#ifndef INGEST_SCRAPE_INT_H
#define INGEST_SCRAPE_INT_H

#include "ingest/scrape.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_SCRAPE_N_REPORT 5 /* up, scrape_duration_seconds, ... */

struct Curl_easy;  /* libcurl's CURL, used by scrape.c only */
struct curl_slist; /* libcurl header list, used by scrape.c only */

/* A series of one target as its last scrape exposed it (the scrape cache). */
typedef struct ingest_scrape_series {
	uint64_t hash;         /* ts_series_hash of labels */
	uint64_t last_iter;    /* scrape iteration that last exposed it */
	uint64_t created_iter; /* iteration that created the entry */
	bool is_tracked;       /* exposed without a timestamp by the last good scrape */
	bool cur_has_ts;       /* this scrape exposed it with its own timestamp */
	size_t n_labels;
	ts_label *labels; /* points after the struct; the strings follow the array */
} ingest_scrape_series;

/* A sample of the scrape being processed, applied only when the whole body parsed. */
typedef struct ingest_scrape_pending {
	ingest_scrape_series *e; /* borrowed from the cache */
	int64_t t_ms;
	double v;
} ingest_scrape_pending;

typedef enum ingest_scrape_state {
	INGEST_SCRAPE_ACTIVE = 0, /* scraped on schedule */
	INGEST_SCRAPE_REMOVING,   /* gone from discovery: end-of-run staleness pending */
} ingest_scrape_state;

typedef enum ingest_scrape_work {
	INGEST_SCRAPE_WORK_SCRAPE = 0, /* process a finished transfer */
	INGEST_SCRAPE_WORK_END_RUN,    /* write end-of-run staleness markers */
} ingest_scrape_work;

typedef struct ingest_scrape_target ingest_scrape_target;
struct ingest_scrape_target {
	/* Immutable. */
	const ingest_scrape_job *job; /* borrowed from the manager's config */
	void *pool;                   /* the manager's pool (opaque here) */
	pthread_mutex_t *status_mu;   /* guards the status fields (borrowed) */
	ingest_scrape_arena arena;    /* owns the strings and arrays below */
	char *key;                    /* identity: canonical series key of full labels */
	size_t key_len;
	ts_label *full, *disc, *pub; /* final, discovered and public labels, sorted */
	size_t n_full, n_disc, n_pub;
	ts_label *report[INGEST_SCRAPE_N_REPORT]; /* label sets of the synthetic series */
	size_t n_report;
	char *url, *global_url;
	int64_t interval_ms, timeout_ms; /* > 0, timeout <= interval */
	int64_t offset_ms;               /* scrape phase within the interval */

	/* Scrape thread. */
	struct Curl_easy *easy;
	struct curl_slist *hdrs;
	ingest_scrape_state state;   /* written under *status_mu too (read by the API) */
	bool is_in_flight;           /* handed to curl or a worker */
	bool is_dying;               /* end-of-run work queued: cannot be revived */
	size_t heap_idx;             /* in the schedule heap, SIZE_MAX when not queued */
	int64_t heap_key_ms;         /* monotonic time of the next action */
	int64_t due_mono_ms;         /* next scrape (monotonic ms) */
	int64_t last_t_ms;           /* timestamp of the previous scrape, 0 = none */
	ingest_scrape_target *qnext; /* work queue / done list link (under the queue lock) */

	/* In flight. */
	ingest_scrape_work kind;
	ts_buf body;       /* the response body (decoded), bounded by body_size_limit */
	bool is_body_over; /* the body hit its limit */
	long http_status;
	char status_line[96];          /* "404 Not Found" */
	char content_type[128];        /* response Content-Type */
	char fail_msg[TS_ERR_MSG_MAX]; /* why the transfer failed, "" if it did not */
	char curl_err[256];            /* libcurl's error buffer (CURL_ERROR_SIZE) */
	int64_t t_ms;                  /* scrape (or end-of-run) timestamp, wall ms */
	int64_t start_ns;              /* monotonic start */
	int64_t duration_ns;           /* of the transfer */

	/* Worker. */
	ingest_scrape_series **cache;
	size_t n_cache, cap_cache;
	uint32_t *index; /* open addressing over cache, index + 1; 0 = empty */
	size_t cap_index;
	ingest_scrape_pending *pend;
	size_t n_pend, cap_pend;
	uint64_t iter;     /* scrapes processed */
	size_t n_total;    /* samples the body exposed */
	size_t n_new;      /* series new to the cache */
	bool is_limit_hit; /* sample_limit exceeded */
	ts_label *scratch; /* merged labels of one sample */
	size_t cap_scratch;
	char *xnames; /* exported_ names of one sample */

	/* Status (guarded by *status_mu). */
	ingest_scrape_health health;
	char last_error[TS_ERR_MSG_MAX];
	int64_t last_scrape_ms;
	double last_duration_s;
	uint64_t n_scrapes, last_samples;
};

/*
 * Build the target for address addr of group g in job j (Prometheus' PopulateLabels
 * without relabeling: defaults, __param_ labels, default port, instance). *out is NULL
 * when the target is invalid (dropped with a logged warning, as Prometheus does). Strings
 * borrowed and copied; hostname (for the global URL) and jitter_seed (offset) are the
 * manager's. TS_OK or TS_ENOMEM.
 */
int ingest_scrape_target_new(const ingest_scrape_job *j, const ingest_scrape_group *g,
			     const char *addr, const char *hostname, uint64_t jitter_seed,
			     pthread_mutex_t *status_mu, ingest_scrape_target **out);
/* Free everything but the libcurl handles (the caller's). NULL allowed. */
void ingest_scrape_target_free(ingest_scrape_target *t);

/*
 * Worker: process the in-flight work of t into p: for a scrape, parse the body and
 * commit samples, staleness markers and synthetic series as one batch, then publish the
 * status; for an end of run, commit staleness markers for everything. Never fails: errors
 * become the target's lastError (or a log line for an end of run).
 */
void ingest_scrape_target_process(ingest_scrape_target *t, ingest_pipeline *p);

/* Sort/search order of labels by name. */
int ingest_scrape_label_cmp(const void *a, const void *b);

/* Grow *p (cap elements of elem bytes) to hold need: TS_OK, TS_ENOMEM, TS_ELIMIT (> max). */
int ingest_scrape_grow(void **p, size_t *cap, size_t need, size_t elem, size_t max);

#endif /* INGEST_SCRAPE_INT_H */
