/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout.c: cluster.role query: read one replica per partition from the stores and merge.
 *
 * A query node has no store. Its PromQL engine reads through the query_source this file
 * provides (query.h). The stores of the static cluster.stores list (every replica group)
 * are polled for their status (GET /internal/v1/status, reused cluster.status_interval, 1 s) and
 * fanout_plan.c picks per log partition one store that owns it and is caught up. Each
 * selector is one POST /internal/v1/select per chosen store carrying its partitions, all
 * in flight at once on one libcurl multi handle, within the query timeout. A store that
 * fails is marked down and its partitions are asked of the next caught-up replica in a
 * further round (failover); a partition with no caught-up owner is asked of every store
 * holding it. Answers (docs/formats/internal_read.md) are decoded into web_rseries and
 * merged: series with equal label sets from several stores become one series whose
 * samples are merged by timestamp, an identical timestamp kept once (the first store's
 * value; owners hold the same record, so the values agree).
 *
 * Partial answers: when a partition could be read from no reachable store, the result
 * carries the warning "store <host:port> unavailable: partial result" (Prometheus' and
 * Thanos' partial response); a partition read from holders that are not caught up adds
 * "partition N has no caught-up replica: read from every store holding it". When no store
 * answers the query fails with TS_EUNAVAIL. A 4xx answer (bad selector, a store's limit)
 * fails the query with the store's message: a complete-looking answer must not silently
 * miss data. Stores answering status without partitions (no partitioned log, or an older
 * store: 404) are read whole, as before replica planning.
 *
 * The HTTP side of the role (web_api_fanout_routes): /api/v1/query and query_range
 * (api_query.c's handlers over the engine), /api/v1/labels, /api/v1/label/<n>/values
 * and /api/v1/series answered here from the stores' internal label and select endpoints,
 * GET /internal/v1/fanout (statuses, plan, counters), /-/healthy and /-/ready; every
 * other /api/ path answers 503 naming the role. Credentials (cluster.store_auth, a bearer
 * token or basic auth) go on every store request.
 *
 * Does not: discover stores (the list is static), cache range reads, read rollup tiers.
 * Guarantees during handovers: docs/SCALING.md "Replicated reads".
 *
 * Tested by tests/web/test_fanout.c (decoding, merge, an unreachable store, stores
 * without a partitioned log), tests/web/test_fanout_plan.c (the plan) and
 * tests/integration/test_cluster_query.sh, test_cluster_replicas.sh (2 replica groups x 2
 * stores with auth on Kafka's mock cluster, a replica killed under load and restarted).
 */
#include "web/web_int.h"

#include "web/fanout_plan.h"
#include "web/store_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FANOUT_MAX_ANSWER_BYTES   ((size_t)1 << 30) /* per store and request */
#define FANOUT_CONNECT_TIMEOUT_MS 2000
#define FANOUT_STATUS_TIMEOUT_MS  1000 /* one status poll */
#define FANOUT_STATUS_TTL_MS      1000 /* statuses are polled again after this */
#define FANOUT_STATUS_STALE_MS    5000 /* while another query polls, use one this old */
#define MIN_TIME_MS               (INT64_MIN / 4)
#define MAX_TIME_MS               (INT64_MAX / 4)

struct web_fanout {
	char **stores; /* "host:port", owned; immutable after new */
	size_t n_stores;
	int64_t timeout_ms;           /* one query's reads, failover included */
	int64_t max_samples;          /* per store answer (sent as max_samples) */
	query_source src;             /* select = fanout_select, ctx = this */
	web_store_auth auth;          /* cluster.store_auth (set before the first query) */
	pthread_mutex_t mu;           /* guards the status cache below */
	web_store_status *status;     /* n_stores, as of status_ms; NULL before the first poll */
	int64_t status_ms;            /* monotonic ms of the last poll, 0 never */
	int64_t status_ttl_ms;        /* reuse statuses this long (cluster.status_interval) */
	bool refreshing;              /* a query is polling */
	char refused[256];            /* a store refused the status request (credentials) */
	int np;                       /* partition count the stores agree on (0 none, -1 not) */
	int *choice;                  /* the plan: np entries, store index or -1 */
	_Atomic uint64_t n_polls;     /* status polls */
	_Atomic uint64_t n_requests;  /* store requests answered */
	_Atomic uint64_t n_failovers; /* store requests failed mid-query */
};

/* ---------------------------------------------------------------- decoding */

static int corrupt(ts_err *err, size_t off, const char *what)
{
	return ts_err_set(err, TS_ECORRUPT, "store answer: %s at byte %zu", what, off);
}

void web_rseries_free_all(web_rseries **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ts_free(v[i]);
	ts_free(v);
}

/* Check the header (magic, version) and the end marker; *pos = first byte after the header. */
static int check_frame(const char *p, size_t n, const char *magic, size_t *pos, ts_err *err)
{
	if (n < 12 || memcmp(p, magic, 4) != 0)
		return corrupt(err, 0, "bad magic");
	if (ts_get_u32le((const uint8_t *)p + 4) != WEB_INTERNAL_VERSION)
		return corrupt(err, 4, "unknown version");
	if (memcmp(p + n - 4, WEB_INTERNAL_END_MAGIC, 4) != 0)
		return corrupt(err, n - 4, "missing end marker (truncated)");
	*pos = 8;
	return TS_OK;
}

int web_rseries_decode(const char *p, size_t n, int store, web_rseries ***v, size_t *n_v,
		       ts_err *err)
{
	size_t pos;
	int rc = check_frame(p, n, WEB_INTERNAL_SERIES_MAGIC, &pos, err);
	if (rc)
		return rc;
	const uint8_t *b = (const uint8_t *)p;
	size_t end = n - 4;
	if (end - pos < 4)
		return corrupt(err, pos, "missing series count");
	uint32_t ns = ts_get_u32le(b + pos);
	pos += 4;
	if (ns > (end - pos) / 6) /* every series takes at least 6 bytes */
		return corrupt(err, pos - 4, "series count larger than the answer");
	web_rseries **grown = ts_realloc(*v, (*n_v + ns + 1) * sizeof(*grown));
	if (!grown)
		return ts_err_set(err, TS_ENOMEM, "out of memory decoding a store answer");
	*v = grown;
	for (uint32_t s = 0; s < ns; s++) {
		size_t start = pos;
		if (end - pos < 2)
			return corrupt(err, pos, "truncated series");
		uint16_t nl = ts_get_u16le(b + pos);
		pos += 2;
		size_t str_bytes = 0;
		for (uint32_t i = 0; i < 2u * nl; i++) { /* first pass: sizes */
			if (end - pos < 2)
				return corrupt(err, pos, "truncated label");
			uint16_t len = ts_get_u16le(b + pos);
			if (end - pos - 2 < len)
				return corrupt(err, pos, "label longer than the answer");
			if (memchr(b + pos + 2, 0, len))
				return corrupt(err, pos, "NUL byte in a label");
			pos += 2 + (size_t)len;
			str_bytes += (size_t)len + 1;
		}
		if (end - pos < 4)
			return corrupt(err, pos, "truncated sample count");
		uint32_t n_samples = ts_get_u32le(b + pos);
		pos += 4;
		if (n_samples > (end - pos) / 16)
			return corrupt(err, pos - 4, "sample count larger than the answer");
		size_t sz = sizeof(web_rseries) + (size_t)n_samples * 16 + nl * sizeof(ts_label) +
			    str_bytes;
		web_rseries *r = ts_malloc(sz);
		if (!r)
			return ts_err_set(err, TS_ENOMEM, "out of memory decoding a store answer");
		r->t = (int64_t *)(r + 1);
		r->v = (double *)(r->t + n_samples);
		r->labels = (ts_label *)(r->v + n_samples);
		r->n_labels = nl;
		r->n = n_samples;
		r->store = store;
		char *str = (char *)(r->labels + nl);
		size_t q = start + 2;
		for (uint32_t i = 0; i < 2u * nl; i++) {
			uint16_t len = ts_get_u16le(b + q);
			memcpy(str, b + q + 2, len);
			str[len] = '\0';
			if (i % 2 == 0)
				r->labels[i / 2].name = str;
			else
				r->labels[i / 2].value = str;
			str += len + 1;
			q += 2 + (size_t)len;
		}
		for (uint32_t i = 0; i < n_samples; i++, pos += 16) {
			r->t[i] = (int64_t)ts_get_u64le(b + pos);
			uint64_t bits = ts_get_u64le(b + pos + 8);
			memcpy(&r->v[i], &bits, sizeof(bits));
			if (i && r->t[i] <= r->t[i - 1]) {
				ts_free(r);
				return corrupt(err, pos, "samples not in time order");
			}
		}
		(*v)[(*n_v)++] = r;
	}
	if (pos != end)
		return corrupt(err, pos, "trailing bytes");
	return TS_OK;
}

/* Decode a strings answer, appending owned copies to *out. */
static int strings_decode(const char *p, size_t n, char ***out, size_t *n_out, ts_err *err)
{
	size_t pos;
	int rc = check_frame(p, n, WEB_INTERNAL_STRINGS_MAGIC, &pos, err);
	if (rc)
		return rc;
	const uint8_t *b = (const uint8_t *)p;
	size_t end = n - 4;
	if (end - pos < 4)
		return corrupt(err, pos, "missing count");
	uint32_t ns = ts_get_u32le(b + pos);
	pos += 4;
	if (ns > (end - pos) / 2)
		return corrupt(err, pos - 4, "count larger than the answer");
	char **grown = ts_realloc(*out, (*n_out + ns + 1) * sizeof(*grown));
	if (!grown)
		return ts_err_set(err, TS_ENOMEM, "out of memory decoding a store answer");
	*out = grown;
	for (uint32_t i = 0; i < ns; i++) {
		if (end - pos < 2)
			return corrupt(err, pos, "truncated string");
		uint16_t len = ts_get_u16le(b + pos);
		if (end - pos - 2 < len)
			return corrupt(err, pos, "string longer than the answer");
		char *s = ts_malloc((size_t)len + 1);
		if (!s)
			return ts_err_set(err, TS_ENOMEM, "out of memory decoding a store answer");
		memcpy(s, b + pos + 2, len);
		s[len] = '\0';
		(*out)[(*n_out)++] = s;
		pos += 2 + (size_t)len;
	}
	if (pos != end)
		return corrupt(err, pos, "trailing bytes");
	return TS_OK;
}

/* ---------------------------------------------------------------- merging */

static int cmp_labels(const web_rseries *a, const web_rseries *b)
{
	size_t n = a->n_labels < b->n_labels ? a->n_labels : b->n_labels;
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a->labels[i].name, b->labels[i].name);
		if (!c)
			c = strcmp(a->labels[i].value, b->labels[i].value);
		if (c)
			return c;
	}
	return a->n_labels < b->n_labels ? -1 : a->n_labels > b->n_labels;
}

static int cmp_rseries(const void *pa, const void *pb)
{
	const web_rseries *a = *(const web_rseries *const *)pa,
			  *b = *(const web_rseries *const *)pb;
	int c = cmp_labels(a, b);
	return c ? c : (a->store > b->store) - (a->store < b->store);
}

int web_rseries_merge(web_rseries **v, size_t n, size_t max_series, query_series_fn fn, void *arg,
		      ts_err *err)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_rseries);
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || cmp_labels(v[i], v[i - 1]) != 0)
			distinct++;
	if (max_series && distinct > max_series)
		return ts_err_set(err, TS_ELIMIT,
				  "the selector matches %zu series, more than the limit of %zu",
				  distinct, max_series);
	int64_t *t = NULL, *t2 = NULL;
	double *val = NULL, *val2 = NULL;
	size_t cap = 0;
	int rc = TS_OK;
	for (size_t i = 0; i < n && rc == TS_OK;) {
		size_t j = i + 1, total = v[i]->n;
		while (j < n && cmp_labels(v[j], v[i]) == 0)
			total += v[j++]->n;
		if (j == i + 1) { /* one store holds the series: no copy */
			rc = fn(arg, v[i]->labels, v[i]->n_labels, v[i]->t, v[i]->v, v[i]->n);
			i = j;
			continue;
		}
		if (total > cap) {
			ts_free(t);
			ts_free(t2);
			ts_free(val);
			ts_free(val2);
			t = ts_malloc(total * sizeof(*t));
			t2 = ts_malloc(total * sizeof(*t2));
			val = ts_malloc(total * sizeof(*val));
			val2 = ts_malloc(total * sizeof(*val2));
			cap = total;
			if (!t || !t2 || !val || !val2) {
				cap = 0;
				rc = ts_err_set(err, TS_ENOMEM,
						"out of memory merging store answers");
				break;
			}
		}
		/* Fold the stores' lists in, lowest store first: ties keep the earlier value. */
		size_t m = v[i]->n;
		memcpy(t, v[i]->t, m * sizeof(*t));
		memcpy(val, v[i]->v, m * sizeof(*val));
		for (size_t k = i + 1; k < j; k++) {
			const web_rseries *s = v[k];
			size_t a = 0, b = 0, w = 0;
			while (a < m || b < s->n) {
				if (b == s->n || (a < m && t[a] <= s->t[b])) {
					if (b < s->n && t[a] == s->t[b])
						b++; /* duplicate timestamp: keep the first */
					t2[w] = t[a];
					val2[w++] = val[a++];
				} else {
					t2[w] = s->t[b];
					val2[w++] = s->v[b++];
				}
			}
			int64_t *tt = t;
			t = t2;
			t2 = tt;
			double *vv = val;
			val = val2;
			val2 = vv;
			m = w;
		}
		rc = fn(arg, v[i]->labels, v[i]->n_labels, t, val, m);
		i = j;
	}
	ts_free(t);
	ts_free(t2);
	ts_free(val);
	ts_free(val2);
	return rc;
}

/* ---------------------------------------------------------------- fan-out over HTTP */

typedef struct fetch {
	int store;   /* index in f->stores */
	char *form;  /* owned POST body; NULL = GET */
	bool *parts; /* owned: partitions asked (n_partitions), NULL = whole store */
	CURL *h;
	ts_buf body;   /* the store's answer */
	CURLcode code; /* transfer result */
	long status;   /* HTTP status (0: none) */
	char curl_msg[CURL_ERROR_SIZE];
} fetch;

static void fetch_done(void *priv, CURLcode code, long status)
{
	fetch *x = priv;
	x->code = code;
	x->status = status;
}

static int64_t mono_ms(void)
{
	return ts_mono_ns() / 1000000;
}

/* Run every request of fs at once (path on store fs[i].store), each bounded by timeout_ms. */
static int fetch_run(web_fanout *f, const char *path, fetch *fs, size_t n, int64_t timeout_ms,
		     ts_err *err)
{
	CURLM *multi = curl_multi_init();
	if (!multi)
		return ts_err_set(err, TS_ENOMEM, "fan-out: curl_multi_init failed");
	if (timeout_ms < 1)
		timeout_ms = 1;
	int rc = TS_OK;
	for (size_t i = 0; i < n; i++) {
		fetch *x = &fs[i];
		ts_buf_init(&x->body, FANOUT_MAX_ANSWER_BYTES);
		x->code = CURLE_FAILED_INIT;
		x->status = 0;
		char url[600];
		snprintf(url, sizeof(url), "http://%s%s", f->stores[x->store], path);
		x->h = web_store_easy(url, &x->body, x, timeout_ms, FANOUT_CONNECT_TIMEOUT_MS,
				      &f->auth);
		if (!x->h) {
			rc = ts_err_set(err, TS_ENOMEM, "fan-out: curl_easy_init failed");
			continue;
		}
		if (x->form)
			curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, x->form);
		curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->curl_msg);
		curl_multi_add_handle(multi, x->h);
	}
	if (rc == TS_OK)
		web_store_multi_run(multi, fetch_done);
	for (size_t i = 0; i < n; i++)
		if (fs[i].h) {
			curl_multi_remove_handle(multi, fs[i].h);
			curl_easy_cleanup(fs[i].h);
			fs[i].h = NULL;
		}
	curl_multi_cleanup(multi);
	return rc;
}

static void fetch_free_all(fetch *fs, size_t n)
{
	for (size_t i = 0; fs && i < n; i++) {
		ts_buf_free(&fs[i].body);
		ts_free(fs[i].form);
		ts_free(fs[i].parts);
	}
	ts_free(fs);
}

/* Is an answer usable? TS_OK, TS_ENOTFOUND (store unavailable: skip it) or a 4xx error. */
static int classify(web_fanout *f, const fetch *x, ts_err *err)
{
	if (x->code == CURLE_OK && x->status == 200)
		return TS_OK;
	if (x->code == CURLE_OK && x->status >= 400 && x->status < 500) {
		/* The store refused the request: pass its message on ("error":"..."). */
		const char *m = x->body.data ? strstr(x->body.data, "\"error\":\"") : NULL;
		const char *e = m ? strchr(m + 9, '"') : NULL;
		int len = m && e ? (int)(e - m - 9) : 0;
		return ts_err_set(err, x->status == 422 ? TS_ELIMIT : TS_EINVAL,
				  "store %s answered %ld: %.*s", f->stores[x->store], x->status,
				  len > 180 ? 180 : len, m ? m + 9 : "");
	}
	if (x->code != CURLE_OK)
		ts_log_debug("fan-out: store %s: %s", f->stores[x->store],
			     x->curl_msg[0] ? x->curl_msg : curl_easy_strerror(x->code));
	return TS_ENOTFOUND;
}

/* ---------------------------------------------------------------- store status, plan */

/* What one query plans with: a copy of the status cache. */
typedef struct snapshot {
	web_store_status *st; /* n_stores (parts owned) */
	int np;               /* agreed partition count: 0 none, -1 the stores disagree */
	int *choice;          /* np entries (np > 0) */
} snapshot;

static void snapshot_fini(snapshot *s, size_t n)
{
	for (size_t i = 0; s->st && i < n; i++)
		web_store_status_fini(&s->st[i]);
	ts_free(s->st);
	ts_free(s->choice);
	memset(s, 0, sizeof(*s));
}

/* Deep copy of n statuses into *out (allocated). */
static int status_copy(const web_store_status *in, size_t n, web_store_status **out)
{
	web_store_status *st = ts_calloc(n, sizeof(*st));
	if (!st)
		return TS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		st[i] = in[i];
		st[i].parts = NULL;
		size_t np = (size_t)in[i].n_partitions;
		if (in[i].parts && np) {
			if (!(st[i].parts = ts_malloc(np * sizeof(*st[i].parts)))) {
				for (size_t k = 0; k < i; k++)
					web_store_status_fini(&st[k]);
				ts_free(st);
				return TS_ENOMEM;
			}
			memcpy(st[i].parts, in[i].parts, np * sizeof(*st[i].parts));
		}
	}
	*out = st;
	return TS_OK;
}

/* Ask every store for its status (in parallel, bounded); st: n_stores, filled. */
static int status_poll(web_fanout *f, web_store_status *st, char *refused, size_t cap, ts_err *err)
{
	fetch *fs = ts_calloc(f->n_stores, sizeof(*fs));
	if (!fs)
		return ts_err_set(err, TS_ENOMEM, "out of memory in the fan-out");
	for (size_t i = 0; i < f->n_stores; i++)
		fs[i].store = (int)i;
	int64_t t =
	    f->timeout_ms < FANOUT_STATUS_TIMEOUT_MS ? f->timeout_ms : FANOUT_STATUS_TIMEOUT_MS;
	int rc = fetch_run(f, "/internal/v1/status", fs, f->n_stores, t, err);
	for (size_t i = 0; rc == TS_OK && i < f->n_stores; i++) {
		fetch *x = &fs[i];
		ts_err e = {0};
		memset(&st[i], 0, sizeof(st[i]));
		if (x->code == CURLE_OK && x->status == 200) {
			if (web_store_status_decode(x->body.data, x->body.len, &st[i], &e))
				ts_log_warn("fan-out: store %s: %s", f->stores[i], e.msg);
		} else if (x->code == CURLE_OK && x->status == 404) {
			st[i].up = true; /* a store without status: read it whole, as before */
		} else if (x->code == CURLE_OK && (x->status == 401 || x->status == 403)) {
			if (!refused[0])
				snprintf(refused, cap,
					 "store %s refused the status request with %ld: check "
					 "cluster.store_auth against the store's auth: section",
					 f->stores[i], x->status);
		} else {
			classify(f, x, &e);
		}
	}
	fetch_free_all(fs, f->n_stores);
	return rc;
}

/* Recompute the plan of the cache from its statuses (f->mu held). */
static void replan_locked(web_fanout *f)
{
	int np = web_plan_n_partitions(f->status, f->n_stores);
	if (np != f->np) {
		ts_free(f->choice);
		f->choice = np > 0 ? ts_malloc((size_t)np * sizeof(*f->choice)) : NULL;
		if (f->choice)
			for (int p = 0; p < np; p++)
				f->choice[p] = -1;
		f->np = f->choice || np <= 0 ? np : 0;
	}
	if (f->np > 0)
		web_plan_compute(f->status, f->n_stores, f->np, f->choice, f->choice);
}

/*
 * The statuses and plan for one query: the cache when younger than status_ttl_ms
 * (or being refreshed by another query and younger than FANOUT_STATUS_STALE_MS), else
 * polled now.
 */
static int snapshot_get(web_fanout *f, snapshot *snap, ts_err *err)
{
	memset(snap, 0, sizeof(*snap));
	int64_t now = mono_ms();
	pthread_mutex_lock(&f->mu);
	bool fresh = f->status_ms && now - f->status_ms < f->status_ttl_ms;
	bool wait_other = f->refreshing && f->status_ms &&
			  now - f->status_ms < f->status_ttl_ms + FANOUT_STATUS_STALE_MS;
	bool poll = !fresh && !wait_other;
	if (poll)
		f->refreshing = true;
	pthread_mutex_unlock(&f->mu);
	if (poll) {
		web_store_status *st = ts_calloc(f->n_stores, sizeof(*st));
		char refused[256] = "";
		int rc = st ? status_poll(f, st, refused, sizeof(refused), err)
			    : ts_err_set(err, TS_ENOMEM, "out of memory in the fan-out");
		pthread_mutex_lock(&f->mu);
		f->refreshing = false;
		if (rc == TS_OK) {
			for (size_t i = 0; f->status && i < f->n_stores; i++)
				web_store_status_fini(&f->status[i]);
			ts_free(f->status);
			f->status = st;
			f->status_ms = mono_ms();
			snprintf(f->refused, sizeof(f->refused), "%s", refused);
			replan_locked(f);
			atomic_fetch_add_explicit(&f->n_polls, 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&f->mu);
		if (rc) {
			for (size_t i = 0; st && i < f->n_stores; i++)
				web_store_status_fini(&st[i]);
			ts_free(st);
			return rc;
		}
	}
	pthread_mutex_lock(&f->mu);
	int rc = TS_OK;
	if (f->refused[0])
		rc = ts_err_set(err, TS_EUNAVAIL, "%s", f->refused);
	else if (!f->status || status_copy(f->status, f->n_stores, &snap->st))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory in the fan-out");
	snap->np = f->np;
	if (rc == TS_OK && f->np > 0) {
		if ((snap->choice = ts_malloc((size_t)f->np * sizeof(*snap->choice))))
			memcpy(snap->choice, f->choice, (size_t)f->np * sizeof(*snap->choice));
		else
			rc = ts_err_set(err, TS_ENOMEM, "out of memory in the fan-out");
	}
	pthread_mutex_unlock(&f->mu);
	if (rc)
		snapshot_fini(snap, f->n_stores);
	return rc;
}

/* A store failed mid-query: the cache counts it down until the next poll. */
static void mark_down(web_fanout *f, int store)
{
	pthread_mutex_lock(&f->mu);
	if (f->status && f->status[store].up) {
		f->status[store].up = false;
		replan_locked(f);
	}
	pthread_mutex_unlock(&f->mu);
}

/* ---------------------------------------------------------------- planned rounds */

/* An answer of a store (200), passed to the caller's decoder. */
typedef int (*answer_fn)(void *arg, int store, const ts_buf *body, ts_err *err);

/* Append "&key=<escaped value>" to b. */
static int form_add(ts_buf *b, const char *key, const char *val)
{
	char *esc = curl_easy_escape(NULL, val, 0);
	if (!esc)
		return TS_ENOMEM;
	int rc = ts_buf_printf(b, "%s%s=%s", b->len ? "&" : "", key, esc);
	curl_free(esc);
	return rc;
}

/* The form of one store's request: base, plus its partitions when filtered. */
static char *job_form(const char *base, const bool *parts, int np)
{
	ts_buf b;
	ts_buf_init(&b, (size_t)1 << 24);
	int rc = ts_buf_puts(&b, base);
	if (rc == TS_OK && parts) {
		rc = ts_buf_printf(&b, "%sn_partitions=%d&partitions=", b.len ? "&" : "", np);
		bool first = true;
		for (int p = 0; rc == TS_OK && p < np; p++)
			if (parts[p]) {
				rc = ts_buf_printf(&b, first ? "%d" : "%%2C%d", p);
				first = false;
			}
	}
	if (rc == TS_OK)
		rc = ts_buf_putc(&b, '\0');
	if (rc) {
		ts_buf_free(&b);
		return NULL;
	}
	return ts_buf_take(&b, NULL);
}

/* Per-query planning state of fan_rounds. */
typedef struct rounds {
	web_fanout *f;
	snapshot snap;
	int np;        /* partitions planned (0: no partitioned store) */
	bool *failed;  /* n_stores: down (status) or failed in this query */
	bool *pending; /* np: still to read */
	bool *asked;   /* n_stores x np: asked for p in this query */
	int lost;      /* first partition nobody could serve, -1 none */
	int fallback;  /* first partition read from every holder, -1 none */
	int down;      /* first store down or failed, -1 none */
	bool filter;   /* send the partitions (select); label requests go unfiltered */
} rounds;

/* Plan round r: one request per store with the partitions it serves now. */
static int plan_round(rounds *q, int r, const char *base, fetch **out, size_t *n_out)
{
	web_fanout *f = q->f;
	size_t n = f->n_stores;
	int np = q->np;
	bool *want = ts_calloc(n * (size_t)(np ? np : 1), sizeof(*want));
	bool *whole = ts_calloc(n, sizeof(*whole));
	fetch *fs = ts_calloc(n, sizeof(*fs));
	if (!want || !whole || !fs) {
		ts_free(want);
		ts_free(whole);
		ts_free(fs);
		return TS_ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < n; i++) /* stores without a partitioned log */
		whole[i] = q->snap.st[i].up && (q->snap.st[i].n_partitions == 0 || np <= 0);
	for (int p = 0; p < np; p++) {
		if (!q->pending[p])
			continue;
		q->pending[p] = false;
		int c = web_plan_pick(q->snap.st, n, np, p, q->failed,
				      r == 0 && q->snap.choice ? q->snap.choice[p] : -1);
		if (c >= 0) {
			want[(size_t)c * (size_t)np + (size_t)p] = true;
			continue;
		}
		/* No caught-up owner: every reachable holder not yet asked for p. */
		size_t holders = 0;
		for (size_t i = 0; i < n; i++) {
			const web_store_status *s = &q->snap.st[i];
			if (q->failed[i] || !s->up || s->n_partitions != np ||
			    !(s->parts[p].flags & (WEB_PART_HELD | WEB_PART_OWNED)) ||
			    q->asked[i * (size_t)np + (size_t)p])
				continue;
			want[i * (size_t)np + (size_t)p] = true;
			holders++;
		}
		if (holders && q->fallback < 0)
			q->fallback = p;
		if (!holders && q->lost < 0)
			q->lost = p;
	}
	size_t k = 0;
	int rc = TS_OK;
	for (size_t i = 0; rc == TS_OK && i < n; i++) {
		bool any = false;
		for (int p = 0; p < np && !any; p++)
			any = want[i * (size_t)np + (size_t)p];
		if (!any && !whole[i])
			continue;
		fetch *x = &fs[k++];
		x->store = (int)i;
		if (!whole[i] && np > 0) {
			if (!(x->parts = ts_malloc((size_t)np * sizeof(*x->parts)))) {
				rc = TS_ENOMEM;
				break;
			}
			memcpy(x->parts, want + i * (size_t)np, (size_t)np * sizeof(*x->parts));
			for (int p = 0; p < np; p++)
				if (x->parts[p])
					q->asked[i * (size_t)np + (size_t)p] = true;
		}
		if (!(x->form = job_form(base, q->filter ? x->parts : NULL, np)))
			rc = TS_ENOMEM;
	}
	ts_free(want);
	ts_free(whole);
	if (rc) {
		fetch_free_all(fs, n);
		return rc;
	}
	*out = fs;
	*n_out = k;
	return TS_OK;
}

/*
 * Read path from the stores the plan picks, failing over within the fan-out timeout:
 * round 0 asks each partition's chosen replica (and every store without a partitioned
 * log); a store that fails is counted down and its partitions go to the next caught-up
 * replica in the next round, or to every holder when there is none. fn gets each
 * answer. The warning says when the result may be partial or was read from holders
 * that are not caught up. TS_EUNAVAIL when no store answered at all.
 */
static int fan_rounds(web_fanout *f, const char *path, const char *base, bool filter, answer_fn fn,
		      void *arg, char *warning, size_t cap, ts_err *err)
{
	rounds q = {.f = f, .lost = -1, .fallback = -1, .down = -1, .filter = filter};
	int rc = snapshot_get(f, &q.snap, err);
	if (rc)
		return rc;
	size_t n = f->n_stores;
	q.np = q.snap.np > 0 ? q.snap.np : 0;
	q.failed = ts_calloc(n, sizeof(*q.failed));
	q.pending = ts_calloc(q.np ? (size_t)q.np : 1, sizeof(*q.pending));
	q.asked = ts_calloc(n * (size_t)(q.np ? q.np : 1), sizeof(*q.asked));
	if (!q.failed || !q.pending || !q.asked) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory in the fan-out");
		goto out;
	}
	size_t n_up = 0;
	for (size_t i = 0; i < n; i++) {
		n_up += q.snap.st[i].up;
		if (!q.snap.st[i].up) {
			q.failed[i] = true;
			if (q.down < 0)
				q.down = (int)i;
		}
	}
	for (int p = 0; p < q.np; p++)
		q.pending[p] = true;
	int64_t deadline = mono_ms() + f->timeout_ms;
	size_t answered = 0, asked = 0;
	for (int r = 0; rc == TS_OK && r <= (int)n; r++) {
		fetch *fs = NULL;
		size_t k = 0;
		if ((rc = plan_round(&q, r, base, &fs, &k))) {
			ts_err_set(err, rc, "out of memory in the fan-out");
			break;
		}
		if (k == 0) {
			fetch_free_all(fs, n);
			break;
		}
		int64_t left = deadline - mono_ms();
		if (left <= 0) { /* no time left to fail over: the result is partial */
			if (q.lost == -1)
				q.lost = -2;
			fetch_free_all(fs, n);
			break;
		}
		asked += k;
		rc = fetch_run(f, path, fs, k, left, err);
		bool again = false;
		for (size_t j = 0; rc == TS_OK && j < k; j++) {
			fetch *x = &fs[j];
			int c = classify(f, x, err);
			if (c == TS_OK) {
				answered++;
				atomic_fetch_add_explicit(&f->n_requests, 1, memory_order_relaxed);
				rc = fn(arg, x->store, &x->body, err);
				ts_buf_free(&x->body); /* decoded: release early */
				continue;
			}
			if (c != TS_ENOTFOUND) {
				rc = c;
				break;
			}
			/* Unavailable: its partitions go to the next replica. */
			q.failed[x->store] = true;
			if (q.down < 0)
				q.down = x->store;
			atomic_fetch_add_explicit(&f->n_failovers, 1, memory_order_relaxed);
			mark_down(f, x->store);
			for (int p = 0; x->parts && p < q.np; p++)
				if (x->parts[p]) {
					q.pending[p] = true;
					again = true;
				}
			if (!x->parts && q.lost < 0)
				q.lost = -2; /* a whole store's data is missing */
		}
		fetch_free_all(fs, n);
		if (!again)
			break;
	}
	/* Nothing answered although something was asked, or every store is down. (Stores
	 * that are up but own nothing yet answer an empty result with a warning.) */
	if (rc == TS_OK && answered == 0 && (asked > 0 || n_up == 0))
		rc = ts_err_set(err, TS_EUNAVAIL, "no store answered (%zu asked; first: %s)",
				asked ? asked : n, f->stores[q.down >= 0 ? q.down : 0]);
	if (rc == TS_OK && warning && !warning[0]) {
		if ((q.lost != -1 || q.np == 0) && q.down >= 0)
			snprintf(warning, cap, "store %s unavailable: partial result",
				 f->stores[q.down]);
		else if (q.lost >= 0)
			snprintf(warning, cap, "partition %d: no store owns it: partial result",
				 q.lost);
		else if (q.snap.np < 0)
			snprintf(warning, cap,
				 "the stores report different partition counts: read every store");
		else if (q.fallback >= 0)
			snprintf(warning, cap,
				 "partition %d has no caught-up replica: read from every store "
				 "holding it",
				 q.fallback);
	}
out:
	ts_free(q.failed);
	ts_free(q.pending);
	ts_free(q.asked);
	snapshot_fini(&q.snap, n);
	return rc;
}

/* A selector string for matchers: {name="value",...} with PromQL string escapes. */
static int selector_text(ts_buf *b, const ts_matcher *m, size_t n)
{
	static const char *const ops[] = {"=", "!=", "=~", "!~"};
	int rc = ts_buf_putc(b, '{');
	for (size_t i = 0; rc == TS_OK && i < n; i++) {
		rc = ts_buf_printf(b, "%s%s%s\"", i ? "," : "", m[i].name, ops[m[i].type & 3]);
		for (const char *p = m[i].value; rc == TS_OK && *p; p++) {
			if (*p == '\\' || *p == '"')
				rc = ts_buf_putc(b, '\\');
			if (rc == TS_OK)
				rc = *p == '\n' ? ts_buf_puts(b, "\\n") : ts_buf_putc(b, *p);
		}
		if (rc == TS_OK)
			rc = ts_buf_putc(b, '"');
	}
	return rc ? rc : ts_buf_putc(b, '}');
}

static int range_form(ts_buf *form, const char *selector, int64_t mint, int64_t maxt)
{
	char num[32];
	int rc = selector ? form_add(form, "match", selector) : TS_OK;
	snprintf(num, sizeof(num), "%lld", (long long)mint);
	if (rc == TS_OK)
		rc = form_add(form, "start", num);
	snprintf(num, sizeof(num), "%lld", (long long)maxt);
	return rc ? rc : form_add(form, "end", num);
}

/* Decoded select answers of one query. */
typedef struct rseries_list {
	web_rseries **v;
	size_t n;
} rseries_list;

static int rseries_answer(void *arg, int store, const ts_buf *body, ts_err *err)
{
	rseries_list *l = arg;
	return web_rseries_decode(body->data, body->len, store, &l->v, &l->n, err);
}

/* Select over the planned stores and pass the merged series to fn. */
static int select_all(web_fanout *f, const char *selector, int64_t mint, int64_t maxt,
		      size_t max_series, bool with_samples, query_series_fn fn, void *arg,
		      char *warning, size_t cap, ts_err *err)
{
	ts_buf form;
	ts_buf_init(&form, 1 << 20);
	char num[32];
	int rc = range_form(&form, selector, mint, maxt);
	snprintf(num, sizeof(num), "%zu", max_series);
	if (rc == TS_OK)
		rc = form_add(&form, "max_series", num);
	snprintf(num, sizeof(num), "%lld", (long long)f->max_samples);
	if (rc == TS_OK)
		rc = form_add(&form, "max_samples", num);
	if (rc == TS_OK && !with_samples)
		rc = form_add(&form, "samples", "0");
	if (rc == TS_OK)
		rc = ts_buf_putc(&form, '\0');
	if (rc) {
		ts_buf_free(&form);
		return ts_err_set(err, rc, "fan-out request too large");
	}
	rseries_list l = {0};
	rc = fan_rounds(f, "/internal/v1/select", form.data, true, rseries_answer, &l, warning, cap,
			err);
	ts_buf_free(&form);
	if (rc == TS_OK)
		rc = web_rseries_merge(l.v, l.n, max_series, fn, arg, err);
	web_rseries_free_all(l.v, l.n);
	return rc;
}

static int fanout_select(void *ctx, const ts_matcher *m, size_t n_m, int64_t mint_ms,
			 int64_t maxt_ms, size_t max_series, query_series_fn fn, void *arg,
			 char *warning, size_t warning_cap, ts_err *err)
{
	ts_buf sel;
	ts_buf_init(&sel, 1 << 20);
	int rc = selector_text(&sel, m, n_m);
	if (rc == TS_OK)
		rc = ts_buf_putc(&sel, '\0');
	if (rc == TS_OK)
		rc = select_all(ctx, sel.data, mint_ms, maxt_ms, max_series, true, fn, arg, warning,
				warning_cap, err);
	else
		ts_err_set(err, rc, "selector too long for the fan-out");
	ts_buf_free(&sel);
	return rc;
}

/* ---------------------------------------------------------------- lifecycle */

int web_fanout_new(const char *const *stores, size_t n, int64_t timeout_ms, int64_t max_samples,
		   web_fanout **out, ts_err *err)
{
	if (n == 0)
		return ts_err_set(err, TS_EINVAL, "fan-out: no stores (cluster.stores is empty)");
	if (timeout_ms <= 0 || max_samples <= 0)
		return ts_err_set(err, TS_EINVAL,
				  "fan-out: timeout and max samples must be positive");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ts_err_set(err, TS_EIO, "fan-out: libcurl initialization failed");
	web_fanout *f = ts_calloc(1, sizeof(*f));
	if (!f || !(f->stores = ts_calloc(n, sizeof(*f->stores)))) {
		ts_free(f);
		return ts_err_set(err, TS_ENOMEM, "out of memory creating the fan-out");
	}
	pthread_mutex_init(&f->mu, NULL);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(stores[i]);
		if (len == 0 || len > 255) {
			web_fanout_free(f);
			return ts_err_set(err, TS_EINVAL, "fan-out: bad store address '%.64s'",
					  stores[i]);
		}
		if (!(f->stores[i] = ts_malloc(len + 1))) {
			web_fanout_free(f);
			return ts_err_set(err, TS_ENOMEM, "out of memory creating the fan-out");
		}
		memcpy(f->stores[i], stores[i], len + 1);
		f->n_stores++;
	}
	f->timeout_ms = timeout_ms;
	f->max_samples = max_samples;
	f->status_ttl_ms = FANOUT_STATUS_TTL_MS;
	f->src.select = fanout_select;
	f->src.ctx = f;
	*out = f;
	return TS_OK;
}

int web_fanout_set_auth(web_fanout *f, const char *token, const char *user, const char *password,
			ts_err *err)
{
	return web_store_auth_set(&f->auth, "fan-out", token, user, password, err);
}

int web_fanout_configure(web_fanout *f, const ingest_cluster_config *cc, ts_err *err)
{
	if (cc->status_interval_ms > 0)
		f->status_ttl_ms = cc->status_interval_ms;
	return web_fanout_set_auth(f, cc->store_token, cc->store_user, cc->store_password, err);
}

void web_fanout_free(web_fanout *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_stores; i++) {
		ts_free(f->stores[i]);
		if (f->status)
			web_store_status_fini(&f->status[i]);
	}
	ts_free(f->stores);
	ts_free(f->status);
	ts_free(f->choice);
	web_store_auth_clear(&f->auth);
	pthread_mutex_destroy(&f->mu);
	ts_free(f);
}

const query_source *web_fanout_source(web_fanout *f)
{
	return &f->src;
}

/* ---------------------------------------------------------------- HTTP API of the role */

/* Prometheus time parameter (seconds or RFC 3339) in ms; false with a 400 when bad. */
static bool time_param(web_req *req, web_resp *resp, const char *name, int64_t dflt, int64_t *out)
{
	const char *v = web_req_param(req, name);
	*out = dflt;
	if (!v || !*v)
		return true;
	ts_err e = {0};
	if (ts_parse_time_ms(v, strlen(v), out, &e)) {
		web_resp_error(resp, 400, "bad_data",
			       "invalid parameter \"%s\": Invalid time value for '%s': %s", name,
			       name, e.msg);
		return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Finish a success envelope, with a warnings array when warning is non-empty. */
static int end_envelope(web_json *w, web_resp *resp, const char *warning)
{
	if (warning[0]) {
		web_json_key(w, "warnings");
		web_json_array_begin(w);
		web_json_string(w, warning);
		web_json_array_end(w);
	}
	int rc = web_api_end(w);
	if (rc)
		return web_api_error(resp, rc, "response too large");
	web_resp_content_type(resp, "application/json");
	return TS_OK;
}

/* Decoded strings answers of one request (fan_rounds). */
typedef struct strings_list {
	char ***all;
	size_t *n;
} strings_list;

static int strings_answer(void *arg, int store, const ts_buf *body, ts_err *err)
{
	strings_list *l = arg;
	(void)store;
	return strings_decode(body->data, body->len, l->all, l->n, err);
}

/* /api/v1/labels and /api/v1/label/<name>/values over the planned stores. */
static int strings_all(web_req *req, web_resp *resp, web_server *s, const char *name)
{
	int64_t start, end;
	if (!time_param(req, resp, "start", MIN_TIME_MS, &start) ||
	    !time_param(req, resp, "end", MAX_TIME_MS, &end))
		return TS_OK;
	const char *const *matches;
	size_t n_match;
	web_req_params(req, "match[]", &matches, &n_match);
	if (n_match > 64)
		return web_resp_error(resp, 400, "bad_data",
				      "too many match[] parameters (max 64)");
	char path[320];
	if (name)
		snprintf(path, sizeof(path), "/internal/v1/label/%s/values", name);
	else
		snprintf(path, sizeof(path), "/internal/v1/labels");
	char warning[256] = "";
	char **all = NULL;
	size_t n_all = 0;
	ts_err e = {0};
	int rc = TS_OK;
	for (size_t k = 0; rc == TS_OK && k < (n_match ? n_match : 1); k++) {
		ts_buf form;
		ts_buf_init(&form, 1 << 20);
		if ((rc = range_form(&form, n_match ? matches[k] : NULL, start, end))) {
			ts_err_set(&e, rc, "request too large");
			ts_buf_free(&form);
			break;
		}
		if ((rc = ts_buf_putc(&form, '\0')) == TS_OK) {
			strings_list l = {&all, &n_all};
			rc = fan_rounds(s->opt.fanout, path, form.data, false, strings_answer, &l,
					warning, sizeof(warning), &e);
		} else {
			ts_err_set(&e, rc, "request too large");
		}
		ts_buf_free(&form);
	}
	if (rc == TS_OK) {
		if (n_all > 1)
			qsort(all, n_all, sizeof(*all), cmp_str);
		web_json w;
		web_api_begin(&w, web_resp_body(resp));
		web_json_array_begin(&w);
		for (size_t i = 0; i < n_all; i++)
			if (i == 0 || strcmp(all[i], all[i - 1]) != 0)
				web_json_string(&w, all[i]);
		web_json_array_end(&w);
		rc = end_envelope(&w, resp, warning);
	} else {
		rc = web_api_error(resp, rc, e.msg);
	}
	for (size_t i = 0; i < n_all; i++)
		ts_free(all[i]);
	ts_free(all);
	return rc;
}

static int h_labels(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return strings_all(req, resp, ctx, NULL);
}

static int h_label_values(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	char name[256];
	int rc;
	if (!web_label_values_name(req, resp, name, sizeof(name), &rc))
		return rc;
	return strings_all(req, resp, ctx, name);
}

/* Label sets of /api/v1/series, written as they come from the merge (sorted, unique). */
typedef struct series_out {
	web_json *w;
	char **seen; /* "k=v,..." keys written, for several match[] */
	size_t n_seen, cap;
	bool dedup;
} series_out;

static int series_write(void *arg, const ts_label *l, size_t nl, const int64_t *t, const double *v,
			size_t n)
{
	series_out *o = arg;
	(void)t;
	(void)v;
	(void)n;
	if (o->dedup) {
		ts_buf key;
		ts_buf_init(&key, 1 << 20);
		for (size_t i = 0; i < nl; i++) {
			ts_buf_puts(&key, l[i].name);
			ts_buf_putc(&key, '\x01');
			ts_buf_puts(&key, l[i].value);
			ts_buf_putc(&key, '\x02');
		}
		ts_buf_putc(&key, 0);
		for (size_t i = 0; i < o->n_seen; i++)
			if (key.data && !strcmp(o->seen[i], key.data)) {
				ts_buf_free(&key);
				return TS_OK;
			}
		if (o->n_seen == o->cap) {
			size_t nc = o->cap ? o->cap * 2 : 64;
			char **g = ts_realloc(o->seen, nc * sizeof(*g));
			if (!g) {
				ts_buf_free(&key);
				return TS_ENOMEM;
			}
			o->seen = g;
			o->cap = nc;
		}
		o->seen[o->n_seen++] = ts_buf_take(&key, NULL);
	}
	web_json_object_begin(o->w);
	for (size_t i = 0; i < nl; i++) {
		web_json_key(o->w, l[i].name);
		web_json_string(o->w, l[i].value);
	}
	web_json_object_end(o->w);
	return TS_OK;
}

static int h_series(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	int64_t start, end;
	if (!time_param(req, resp, "start", MIN_TIME_MS, &start) ||
	    !time_param(req, resp, "end", MAX_TIME_MS, &end))
		return TS_OK;
	const char *const *matches;
	size_t n_match;
	web_req_params(req, "match[]", &matches, &n_match);
	if (n_match == 0)
		return web_resp_error(resp, 400, "bad_data", "no match[] parameter provided");
	if (n_match > 64)
		return web_resp_error(resp, 400, "bad_data",
				      "too many match[] parameters (max 64)");
	char warning[256] = "";
	ts_err e = {0};
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_array_begin(&w);
	series_out o = {.w = &w, .dedup = n_match > 1};
	int rc = TS_OK;
	for (size_t k = 0; rc == TS_OK && k < n_match; k++) {
		ts_matcher *m = NULL; /* validate here for Prometheus' 400 message */
		size_t nm = 0;
		if (query_parse_selector(matches[k], strlen(matches[k]), &m, &nm, &e)) {
			for (size_t i = 0; i < o.n_seen; i++)
				ts_free(o.seen[i]);
			ts_free(o.seen);
			ts_buf_reset(web_resp_body(resp));
			return web_resp_error(resp, 400, "bad_data",
					      "invalid parameter \"match[]\": %s", e.msg);
		}
		query_matchers_free(m, nm);
		rc = select_all(s->opt.fanout, matches[k], start, end, 0, false, series_write, &o,
				warning, sizeof(warning), &e);
	}
	for (size_t i = 0; i < o.n_seen; i++)
		ts_free(o.seen[i]);
	ts_free(o.seen);
	if (rc) {
		ts_buf_reset(web_resp_body(resp));
		return web_api_error(resp, rc, e.msg[0] ? e.msg : "fan-out failed");
	}
	web_json_array_end(&w);
	return end_envelope(&w, resp, warning);
}

static int h_healthy(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_resp_content_type(resp, "text/plain");
	return ts_buf_puts(web_resp_body(resp), "Strata is Healthy.\n");
}

static int h_ready(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	if (!atomic_load(&s->ready)) {
		web_resp_status(resp, 503);
		return ts_buf_puts(web_resp_body(resp), "Service Unavailable\n");
	}
	web_resp_content_type(resp, "text/plain");
	return ts_buf_puts(web_resp_body(resp), "Strata is Ready.\n");
}

/* GET /internal/v1/fanout: the stores as last polled and the plan (people, tests). */
static int h_fanout_status(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_fanout *f = ((web_server *)ctx)->opt.fanout;
	snapshot snap;
	ts_err e = {0};
	int rc = snapshot_get(f, &snap, &e);
	if (rc)
		return web_api_error(resp, rc, e.msg);
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "stores");
	web_json_array_begin(&w);
	for (size_t i = 0; i < f->n_stores; i++) {
		const web_store_status *st = &snap.st[i];
		size_t owned = 0, caught_up = 0;
		for (int p = 0; st->parts && p < st->n_partitions; p++) {
			owned += (st->parts[p].flags & WEB_PART_OWNED) != 0;
			caught_up += (st->parts[p].flags & WEB_PART_CAUGHT_UP) != 0;
		}
		web_json_object_begin(&w);
		web_json_key(&w, "address");
		web_json_string(&w, f->stores[i]);
		web_json_key(&w, "up");
		web_json_bool(&w, st->up);
		web_json_key(&w, "node_id");
		web_json_string(&w, st->node_id);
		web_json_key(&w, "replica_group");
		web_json_string(&w, st->replica_group);
		web_json_key(&w, "n_partitions");
		web_json_int(&w, st->n_partitions);
		web_json_key(&w, "owned");
		web_json_uint(&w, owned);
		web_json_key(&w, "caught_up");
		web_json_uint(&w, caught_up);
		web_json_object_end(&w);
	}
	web_json_array_end(&w);
	web_json_key(&w, "plan"); /* per partition: the store read, or null */
	web_json_array_begin(&w);
	for (int p = 0; p < snap.np; p++)
		if (snap.choice[p] >= 0)
			web_json_string(&w, f->stores[snap.choice[p]]);
		else
			web_json_null(&w);
	web_json_array_end(&w);
	web_json_key(&w, "polls");
	web_json_uint(&w, atomic_load(&f->n_polls));
	web_json_key(&w, "requests");
	web_json_uint(&w, atomic_load(&f->n_requests));
	web_json_key(&w, "failovers");
	web_json_uint(&w, atomic_load(&f->n_failovers));
	web_json_object_end(&w);
	snapshot_fini(&snap, f->n_stores);
	return end_envelope(&w, resp, "");
}

static int h_role_query(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return web_api_error(resp, TS_EUNAVAIL,
			     "this node has role query: it answers /api/v1/query, query_range, "
			     "series, labels and label values over the stores; other APIs live on "
			     "the store nodes");
}

int web_api_fanout_routes(web_server *s, ts_err *err)
{
	static const struct {
		const char *method, *path;
		web_http_handler h;
	} routes[] = {
	    {"GET", "/-/healthy", h_healthy},
	    {"GET", "/-/ready", h_ready},
	    {"GET", "/api/v1/labels", h_labels},
	    {"POST", "/api/v1/labels", h_labels},
	    {"GET", "/api/v1/label/*", h_label_values},
	    {"GET", "/api/v1/series", h_series},
	    {"POST", "/api/v1/series", h_series},
	    {"GET", "/internal/v1/fanout", h_fanout_status},
	    {NULL, "/api/*", h_role_query},
	};
	int rc = web_api_query_routes(s, err); /* query and query_range (no store needed) */
	for (size_t i = 0; rc == TS_OK && i < sizeof(routes) / sizeof(routes[0]); i++)
		rc = web_http_route(s->http, routes[i].method, routes[i].path, routes[i].h, s, err);
	return rc;
}
