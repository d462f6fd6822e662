/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout_late.c: the late-write marks of every store, for a query node's range cache
 * (web.h, web_late_client; the store side is api_internal_late.c).
 *
 * sync (query_late_provider): poll GET /internal/v1/late?epoch=E&since=S&watch=UPTO on
 * every store at once (libcurl multi, bounded by timeout_ms). The store raises its
 * late-write watermark to UPTO before answering, and the query node reads the data only
 * after sync returns, so any write at or before UPTO that the read misses is a mark the
 * next poll returns (no clock is compared across nodes: UPTO is the query node's own
 * now - freshness). The answered marks are folded into `pending`; the cache takes them
 * under its lock with drain. A store answering "reset" (it restarted: new epoch; or this
 * node fell more than the store's ring behind) adds the mark {TSDB_LATE_ALL, INT64_MIN}:
 * every entry is dropped.
 *
 * A store that does not answer (or answers garbage) fails the sync and that request
 * bypasses the cache (correctness over speed: its data may have changed unseen); its
 * position is kept, so when it answers again nothing is lost (or it answers reset).
 *
 * Polls are serialized (one round at a time, under poll_mu); a request that waited for a
 * round that started after it arrived, watching at least as far, uses that round's
 * outcome instead of polling again, so concurrent requests share rounds.
 *
 * watch(t): true when every store acknowledged a watermark >= t in a round that
 * succeeded (sync(upto) always precedes watch(t <= upto) in query/cache.c).
 *
 * Tested by tests/web/test_fanout_late.c and tests/integration/test_cluster_query_cache.sh.
 */
#include "web/web_int.h"

#include "web/store_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LATE_MAX_ANSWER_BYTES   ((size_t)1 << 20) /* QUERY_LATE_LOG_CAP marks fit easily */
#define LATE_CONNECT_TIMEOUT_MS 1000

typedef struct late_store {
	char *addr;      /* "host:port", owned */
	uint64_t epoch;  /* 0: never answered (written under both locks) */
	uint64_t seq;    /* last seq seen (poll_mu) */
	int64_t watched; /* watermark acknowledged, INT64_MIN: none (mu) */
	CURL *h;         /* during a round */
	ts_buf body;     /* during a round */
	CURLcode code;   /* during a round */
	long status;     /* during a round */
} late_store;

struct web_late_client {
	late_store *st;
	size_t n;
	int64_t timeout_ms;
	web_store_auth auth;
	query_late_provider prov;
	pthread_mutex_t poll_mu;  /* one round at a time; guards st[] cursors and the below */
	int64_t last_ok_start_ns; /* start of the newest round every store answered (0 none) */
	int64_t last_ok_upto;
	pthread_mutex_t mu; /* guards pending and every st[].watched */
	tsdb_late_mark pending[TSDB_LATE_MAX_NAMES];
	size_t n_pending;
	bool is_all; /* pending collapsed into one mark for every metric */
	int64_t all_min_t;
};

/* Fold one mark into pending; the caller holds c->mu. */
static void pending_add(web_late_client *c, uint64_t h, int64_t t)
{
	if (!c->is_all && h != TSDB_LATE_ALL) {
		for (size_t i = 0; i < c->n_pending; i++)
			if (c->pending[i].name_hash == h) {
				if (t < c->pending[i].min_t_ms)
					c->pending[i].min_t_ms = t;
				return;
			}
		if (c->n_pending < TSDB_LATE_MAX_NAMES) {
			c->pending[c->n_pending++] = (tsdb_late_mark){h, t};
			return;
		}
	}
	if (!c->is_all) { /* collapse: one mark for every metric at the oldest time */
		c->is_all = true;
		c->all_min_t = t;
		for (size_t i = 0; i < c->n_pending; i++)
			if (c->pending[i].min_t_ms < c->all_min_t)
				c->all_min_t = c->pending[i].min_t_ms;
		c->n_pending = 0;
	} else if (t < c->all_min_t) {
		c->all_min_t = t;
	}
}

static void store_done(void *priv, CURLcode code, long status)
{
	late_store *x = priv;
	x->code = code;
	x->status = status;
}

/* Parse one "key value" line of an answer; false when the line is not that key. */
static bool line_u64(const char **p, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	if (strncmp(*p, key, kl) != 0 || (*p)[kl] != ' ')
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(*p + kl + 1, &end, 10);
	if (errno || *end != '\n' || (*p)[kl + 1] == '-')
		return false;
	*out = (uint64_t)v;
	*p = end + 1;
	return true;
}

/*
 * Apply store x's answer: marks into pending, its position forward. TS_ECORRUPT (nothing
 * applied) when the answer is malformed or truncated.
 */
static int apply_answer(web_late_client *c, late_store *x, int64_t upto, ts_err *err)
{
	if (ts_buf_append(&x->body, "", 1) != TS_OK) /* NUL-terminate */
		return ts_err_set(err, TS_ENOMEM, "out of memory reading late marks");
	const char *p = (const char *)x->body.data;
	uint64_t epoch, seq, reset, version;
	if (!line_u64(&p, "strata-late", &version) || version != 1 ||
	    !line_u64(&p, "epoch", &epoch) || !line_u64(&p, "seq", &seq) ||
	    !line_u64(&p, "reset", &reset) || reset > 1)
		return ts_err_set(err, TS_ECORRUPT, "store %s: malformed late-marks header",
				  x->addr);
	/* Validate every mark line before applying any. */
	const char *q = p;
	size_t n = 0;
	for (;;) {
		if (strcmp(q, "end\n") == 0)
			break;
		uint64_t h;
		long long t;
		char *end = NULL;
		if (strncmp(q, "m ", 2) != 0)
			return ts_err_set(err, TS_ECORRUPT, "store %s: truncated late marks",
					  x->addr);
		errno = 0;
		h = strtoull(q + 2, &end, 10);
		if (errno || *end != ' ')
			return ts_err_set(err, TS_ECORRUPT, "store %s: bad late mark", x->addr);
		t = strtoll(end + 1, &end, 10);
		if (errno || *end != '\n')
			return ts_err_set(err, TS_ECORRUPT, "store %s: bad late mark", x->addr);
		(void)h;
		(void)t;
		q = end + 1;
		n++;
	}
	bool is_reset = reset || epoch != x->epoch;
	pthread_mutex_lock(&c->mu);
	if (is_reset) {
		pending_add(c, TSDB_LATE_ALL, INT64_MIN);
	} else {
		for (size_t i = 0; i < n; i++) {
			char *end = NULL;
			uint64_t h = strtoull(p + 2, &end, 10);
			int64_t t = (int64_t)strtoll(end + 1, &end, 10);
			pending_add(c, h, t);
			p = end + 1;
		}
	}
	if (x->epoch != epoch || upto > x->watched)
		x->watched = upto;
	x->epoch = epoch;
	x->seq = seq;
	pthread_mutex_unlock(&c->mu);
	return TS_OK;
}

/* One round over every store; the caller holds c->poll_mu. */
static int poll_round(web_late_client *c, int64_t upto, ts_err *err)
{
	CURLM *multi = curl_multi_init();
	if (!multi)
		return ts_err_set(err, TS_ENOMEM, "late marks: curl_multi_init failed");
	int rc = TS_OK;
	for (size_t i = 0; i < c->n; i++) {
		late_store *x = &c->st[i];
		ts_buf_init(&x->body, LATE_MAX_ANSWER_BYTES);
		x->code = CURLE_FAILED_INIT;
		x->status = 0;
		char url[600];
		snprintf(url, sizeof(url),
			 "http://%s/internal/v1/late?epoch=%" PRIu64 "&since=%" PRIu64
			 "&watch=%" PRId64,
			 x->addr, x->epoch, x->seq, upto);
		x->h = web_store_easy(url, &x->body, x, c->timeout_ms, LATE_CONNECT_TIMEOUT_MS,
				      &c->auth);
		if (!x->h) {
			rc = ts_err_set(err, TS_ENOMEM, "late marks: curl_easy_init failed");
			continue;
		}
		curl_multi_add_handle(multi, x->h);
	}
	if (rc == TS_OK)
		web_store_multi_run(multi, store_done);
	for (size_t i = 0; i < c->n; i++) {
		late_store *x = &c->st[i];
		if (x->h) {
			curl_multi_remove_handle(multi, x->h);
			curl_easy_cleanup(x->h);
			x->h = NULL;
		}
		if (rc == TS_OK && (x->code != CURLE_OK || x->status != 200))
			rc = ts_err_set(err, TS_EUNAVAIL,
					"late marks of store %s unavailable (%s, HTTP %ld)",
					x->addr, curl_easy_strerror(x->code), x->status);
		else if (x->code == CURLE_OK && x->status == 200) {
			ts_err e2 = {0};
			int r2 = apply_answer(c, x, upto, &e2);
			if (r2 && rc == TS_OK)
				rc = ts_err_set(err, r2, "%s", e2.msg);
		}
		ts_buf_free(&x->body);
	}
	curl_multi_cleanup(multi);
	return rc;
}

static int late_sync(void *ctx, int64_t upto_ms, ts_err *err)
{
	web_late_client *c = ctx;
	int64_t arrived = ts_mono_ns();
	pthread_mutex_lock(&c->poll_mu);
	if (c->last_ok_start_ns >= arrived && c->last_ok_upto >= upto_ms) {
		pthread_mutex_unlock(&c->poll_mu); /* a round that began after us covers us */
		return TS_OK;
	}
	int64_t start = ts_mono_ns();
	int rc = poll_round(c, upto_ms, err);
	if (rc == TS_OK) {
		c->last_ok_start_ns = start;
		c->last_ok_upto = upto_ms;
	}
	pthread_mutex_unlock(&c->poll_mu);
	return rc;
}

static bool late_watch(void *ctx, int64_t t_ms)
{
	web_late_client *c = ctx;
	bool ok = true;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++)
		ok &= c->st[i].epoch != 0 && c->st[i].watched >= t_ms;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

static size_t late_drain(void *ctx, tsdb_late_mark out[TSDB_LATE_MAX_NAMES])
{
	web_late_client *c = ctx;
	pthread_mutex_lock(&c->mu);
	size_t n = 0;
	if (c->is_all) {
		out[n++] = (tsdb_late_mark){TSDB_LATE_ALL, c->all_min_t};
	} else {
		memcpy(out, c->pending, c->n_pending * sizeof(*out));
		n = c->n_pending;
	}
	c->n_pending = 0;
	c->is_all = false;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* ---------------------------------------------------------------- lifecycle */

int web_late_client_new(const char *const *stores, size_t n, int64_t timeout_ms,
			web_late_client **out, ts_err *err)
{
	if (n == 0)
		return ts_err_set(err, TS_EINVAL,
				  "late marks: no stores (cluster.stores is empty)");
	if (timeout_ms <= 0)
		return ts_err_set(err, TS_EINVAL, "late marks: the poll timeout must be positive");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ts_err_set(err, TS_EIO, "late marks: libcurl initialization failed");
	web_late_client *c = ts_calloc(1, sizeof(*c));
	if (!c || !(c->st = ts_calloc(n, sizeof(*c->st)))) {
		ts_free(c);
		return ts_err_set(err, TS_ENOMEM, "out of memory creating the late-marks client");
	}
	pthread_mutex_init(&c->poll_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	c->timeout_ms = timeout_ms;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(stores[i]);
		if (len == 0 || len > 255) {
			web_late_client_free(c);
			return ts_err_set(err, TS_EINVAL, "late marks: bad store address '%.64s'",
					  stores[i]);
		}
		if (!(c->st[i].addr = ts_strdup(stores[i]))) {
			web_late_client_free(c);
			return ts_err_set(err, TS_ENOMEM,
					  "out of memory creating the late-marks client");
		}
		c->st[i].watched = INT64_MIN;
		c->n++;
	}
	c->prov = (query_late_provider){
	    .sync = late_sync, .watch = late_watch, .drain = late_drain, .ctx = c};
	*out = c;
	return TS_OK;
}

int web_late_client_set_auth(web_late_client *c, const char *token, const char *user,
			     const char *password, ts_err *err)
{
	return web_store_auth_set(&c->auth, "late marks", token, user, password, err);
}

void web_late_client_free(web_late_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		ts_free(c->st[i].addr);
	ts_free(c->st);
	web_store_auth_clear(&c->auth);
	pthread_mutex_destroy(&c->poll_mu);
	pthread_mutex_destroy(&c->mu);
	ts_free(c);
}

const query_late_provider *web_late_client_provider(web_late_client *c)
{
	return &c->prov;
}
