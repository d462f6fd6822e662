/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scrape.c: the scrape manager: pull Prometheus exposition text from every configured
 * target on its schedule and ingest it (ingest/scrape.h, docs/formats/scrape.md).
 *
 * Threads and ownership
 *   - One thread, "ingest-scrape", owns the target list and every target's schedule and
 *     curl easy handle. It runs libcurl's multi interface for all targets at once (no
 *     thread per target), starts each scrape when it is due, polls the file_sd files and
 *     adds/removes targets. It never parses or commits, so a slow disk never delays a
 *     scrape start.
 *   - Worker threads, "ingest-scr-wN", take finished transfers from a queue, parse the
 *     body into an ingest_batch, add staleness markers and the synthetic series, commit
 *     (which returns when durable) and publish the target's status.
 *   - A target is "in flight" from the start of its scrape until its worker hands it back
 *     through the done list; meanwhile only the one thread holding it touches its scrape
 *     state, so at most one scrape per target runs at a time, as in Prometheus' loop.
 *   Locks: s->qmu guards the work queue and the done list; s->mu guards the membership of
 *   s->targets (written by the scrape thread only) and every target's status fields. No
 *   lock is held across a libcurl call, a commit or file I/O.
 *
 * Semantics (Prometheus 2.42 scrape/scrape.go and target.go):
 *   - Schedule: a target scrapes at wall times t with t % interval == offset, where the
 *     offset is a stable hash of the target (its labels and URL) mixed with a per-host
 *     jitter seed, so restarts keep the phase and targets spread over the interval.
 *     Timestamps within 2 ms of the previous one plus the interval snap to it.
 *   - Every sample without a timestamp (or all, with honor_timestamps: false) gets the
 *     scrape start time. Target labels (job, instance, static/file_sd labels) are added;
 *     on conflict honor_labels keeps the scraped value, otherwise the scraped label is
 *     renamed exported_<name> (repeatedly, until unique).
 *   - A scrape is all or nothing: a transport error, a non-200 status, a parse error or
 *     exceeding sample_limit stores none of its samples (the batch is dropped, Prometheus
 *     rolls back its appender), writes staleness markers for every series the previous
 *     scrape exposed, and reports up=0.
 *   - After a good scrape, series the previous scrape exposed and this one did not get a
 *     staleness marker (NaN 0x7ff0000000000002) at the scrape time. Series exposed with
 *     their own timestamp are not tracked (as Prometheus).
 *   - Synthetic series with the target labels: up, scrape_duration_seconds,
 *     scrape_samples_scraped, scrape_samples_post_metric_relabeling, scrape_series_added.
 *   - A target that disappears from discovery gets end-of-run staleness markers for all
 *     its series and its synthetic series at the time its next scrape would have been,
 *     written 10% of an interval after that. At shutdown no markers are written.
 *
 * Building targets and appending a scrape's samples are in scrape_target.c.
 * Not done here: relabeling, target_limit, native histograms, HTTP/2 tuning, proxies.
 */
#include "ingest/scrape_int.h"

#include <curl/curl.h>

#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SECRET_FILE_MAX    (64u << 10) /* password and token files */
#define TS_ALIGN_TOLERANCE 2           /* ms, Prometheus ScrapeTimestampTolerance */
#define SD_POLL_DEFAULT_MS 1000
#define DEFAULT_WORKERS    8 /* commits block until durable: more than the cores */
#define MAX_POLL_MS        1000
#define WORKER_NICE        5 /* workers' nice value above the process' */
#define SCRAPE_ACCEPT                                                                       \
	"Accept: application/openmetrics-text;version=1.0.0,"                               \
	"application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5," \
	"*/*;q=0.1"

typedef struct ingest_scrape_target target;
typedef struct scrape_pool scrape_pool;

_Static_assert(CURL_ERROR_SIZE <= sizeof(((target *)0)->curl_err), "curl error buffer");

/* ================================================================ types */

/* One file matched by a file_sd pattern. */
typedef struct sd_file {
	char *path; /* owned */
	struct timespec mtime;
	off_t size;
	ino_t ino;
	bool is_seen;                 /* matched in the current poll */
	ingest_scrape_groups *groups; /* last good read (owned), NULL if none */
} sd_file;

typedef struct sd_state {
	const ingest_scrape_file_sd *cfg;
	sd_file *files;
	size_t n_files, cap_files;
	int64_t last_full_ms; /* monotonic time of the last full re-read */
} sd_state;

struct scrape_pool {
	const ingest_scrape_job *job;
	sd_state *sds; /* one per file_sd_configs entry */
	size_t n_sds;
};

/* A worker thread and its argument. */
typedef struct scrape_worker {
	pthread_t th;
	ingest_scraper *s;
	int idx;
} scrape_worker;

struct ingest_scraper {
	ingest_pipeline *p;
	ingest_scrape_config *cfg; /* owned */
	ingest_scraper_options opt;
	uint64_t jitter_seed;
	char hostname[256];
	CURLM *multi;
	bool is_curl_init;
	scrape_pool *pools;
	size_t n_pools;
	_Atomic bool is_stopping;
	pthread_t thread;
	bool has_thread;
	scrape_worker *workers; /* n_workers started */
	int n_workers;

	pthread_mutex_t mu; /* guards targets membership and target status fields */
	target **targets;
	size_t n_targets, cap_targets;

	pthread_mutex_t qmu; /* guards the queue, the done list and is_q_stop */
	pthread_cond_t qcond;
	target *q_head, *q_tail, *done_head;
	bool is_q_stop;

	/* Scrape thread only. */
	target **heap;
	size_t n_heap, cap_heap;
	int64_t next_sd_poll_ms;
};

/* ================================================================ small helpers */

/* Format a message, truncating it if needed (messages are bounded by design). */
static void msgf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

static int64_t mono_ms(void)
{
	return ts_mono_ns() / 1000000;
}

int64_t ingest_scrape_offset_ms(uint64_t target_hash, uint64_t jitter_seed, int64_t interval_ms)
{
	if (interval_ms <= 0)
		return 0;
	return (int64_t)((target_hash ^ jitter_seed) % (uint64_t)interval_ms);
}

/* Read a secret file, trimmed of surrounding whitespace (Prometheus: strings.TrimSpace). */
static int read_secret(const char *path, char *out, size_t cap, ts_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return ts_err_set(err, TS_EIO, "%s", strerror(errno));
	size_t n = fread(out, 1, cap - 1, f);
	bool is_bad = ferror(f) || !feof(f);
	fclose(f);
	if (is_bad)
		return ts_err_set(err, TS_EIO, "unreadable or larger than %zu bytes", cap - 1);
	out[n] = '\0';
	size_t b = 0;
	while (b < n && strchr(" \t\r\n", out[b]))
		b++;
	while (n > b && strchr(" \t\r\n", out[n - 1]))
		n--;
	memmove(out, out + b, n - b);
	out[n - b] = '\0';
	return TS_OK;
}

static void *worker_main(void *arg)
{
	scrape_worker *w = arg;
	ingest_scraper *s = w->s;
	char name[16];
	snprintf(name, sizeof(name), "ingest-scr-w%d", w->idx % 100);
	pthread_setname_np(pthread_self(), name);
	/* Below the libcurl thread: under overload parsing falls behind (targets wait for
	 * their previous scrape), but request timing and timeouts stay accurate. Without it,
	 * 2000 node_exporter targets on 2 cores had p99 scrape durations of 1.6 s and fewer
	 * scrapes per second than 1500 (bench_scrape). Best effort: errors are ignored. */
	id_t tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, tid);
	if (errno == 0)
		setpriority(PRIO_PROCESS, tid, nice + WORKER_NICE);
	for (;;) {
		pthread_mutex_lock(&s->qmu);
		while (!s->q_head && !s->is_q_stop)
			pthread_cond_wait(&s->qcond, &s->qmu);
		target *t = s->q_head;
		if (!t) {
			pthread_mutex_unlock(&s->qmu);
			break;
		}
		s->q_head = t->qnext;
		if (!s->q_head)
			s->q_tail = NULL;
		pthread_mutex_unlock(&s->qmu);

		ingest_scrape_target_process(t, s->p);

		pthread_mutex_lock(&s->qmu);
		t->qnext = s->done_head;
		s->done_head = t;
		pthread_mutex_unlock(&s->qmu);
		curl_multi_wakeup(s->multi);
	}
	return NULL;
}

static void enqueue(ingest_scraper *s, target *t)
{
	pthread_mutex_lock(&s->qmu);
	t->qnext = NULL;
	if (s->q_tail)
		s->q_tail->qnext = t;
	else
		s->q_head = t;
	s->q_tail = t;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qmu);
}

/* ================================================================ schedule heap */

static bool heap_less(ingest_scraper *s, size_t a, size_t b)
{
	return s->heap[a]->heap_key_ms < s->heap[b]->heap_key_ms;
}

static void heap_swap(ingest_scraper *s, size_t a, size_t b)
{
	target *t = s->heap[a];
	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->heap_idx = a;
	s->heap[b]->heap_idx = b;
}

static void heap_fix(ingest_scraper *s, size_t i)
{
	while (i > 0 && heap_less(s, i, (i - 1) / 2)) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n_heap && heap_less(s, l, m))
			m = l;
		if (r < s->n_heap && heap_less(s, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void heap_remove(ingest_scraper *s, target *t)
{
	size_t i = t->heap_idx;
	if (i == SIZE_MAX)
		return;
	t->heap_idx = SIZE_MAX;
	if (i != --s->n_heap) {
		s->heap[i] = s->heap[s->n_heap];
		s->heap[i]->heap_idx = i;
		heap_fix(s, i);
	}
}

/* Queue t for key_ms (replacing an earlier position). Space is reserved at creation. */
static void heap_set(ingest_scraper *s, target *t, int64_t key_ms)
{
	heap_remove(s, t);
	t->heap_key_ms = key_ms;
	t->heap_idx = s->n_heap;
	s->heap[s->n_heap++] = t;
	heap_fix(s, t->heap_idx);
}

/* ================================================================ transfers */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	target *t = ud;
	size_t n = size * nmemb;
	if (ts_buf_append(&t->body, p, n) != TS_OK) {
		t->is_body_over = true;
		return 0;
	}
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	target *t = ud;
	size_t n = size * nmemb;
	if (n > 5 && !memcmp(p, "HTTP/", 5)) {
		const char *sp = memchr(p, ' ', n);
		if (sp) {
			size_t k = n - (size_t)(sp + 1 - p);
			while (k && (sp[k] == '\r' || sp[k] == '\n'))
				k--;
			snprintf(t->status_line, sizeof(t->status_line), "%.*s", (int)k, sp + 1);
		}
	}
	return n;
}

/* Options that stay for the target's life. TS_ENOMEM when libcurl refuses. */
static int easy_setup(target *t)
{
	const ingest_scrape_job *j = t->job;
	CURL *c = curl_easy_init();
	if (!c)
		return TS_ENOMEM;
	t->easy = c;
	char hdr[96];
	char secs[32];
	snprintf(secs, sizeof(secs), "%.3f", (double)t->timeout_ms / 1000.0);
	size_t k = strlen(secs);
	while (secs[k - 1] == '0')
		secs[--k] = '\0';
	if (secs[k - 1] == '.')
		secs[--k] = '\0';
	snprintf(hdr, sizeof(hdr), "X-Prometheus-Scrape-Timeout-Seconds: %s", secs);
	struct curl_slist *h = curl_slist_append(NULL, SCRAPE_ACCEPT);
	struct curl_slist *h2 = h ? curl_slist_append(h, hdr) : NULL;
	if (!h2) {
		curl_slist_free_all(h);
		return TS_ENOMEM;
	}
	t->hdrs = h2;
	if (j->auth_type && j->auth_credentials) {
		size_t n = strlen(j->auth_type) + strlen(j->auth_credentials) + 32;
		char *a = ts_malloc(n);
		if (!a)
			return TS_ENOMEM;
		snprintf(a, n, "Authorization: %s %s", j->auth_type, j->auth_credentials);
		struct curl_slist *h3 = curl_slist_append(t->hdrs, a);
		memset(a, 0, n);
		ts_free(a);
		if (!h3)
			return TS_ENOMEM;
		t->hdrs = h3;
	}
	CURLcode rc = CURLE_OK;
#define SETOPT(o, v)                                    \
	do {                                            \
		if (rc == CURLE_OK)                     \
			rc = curl_easy_setopt(c, o, v); \
	} while (0)
	SETOPT(CURLOPT_URL, t->url);
	SETOPT(CURLOPT_PRIVATE, t);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, t);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, t);
	SETOPT(CURLOPT_ERRORBUFFER, t->curl_err);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
	SETOPT(CURLOPT_ACCEPT_ENCODING, "gzip");
	SETOPT(CURLOPT_USERAGENT, "Strata/" STRATA_VERSION);
	SETOPT(CURLOPT_HTTPHEADER, t->hdrs);
	SETOPT(CURLOPT_PROXY, ""); /* never the *_proxy environment (Prometheus neither) */
	SETOPT(CURLOPT_FOLLOWLOCATION, j->follow_redirects ? 1L : 0L);
	SETOPT(CURLOPT_MAXREDIRS, 10L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (j->basic_username) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERNAME, j->basic_username);
		SETOPT(CURLOPT_PASSWORD, j->basic_password ? j->basic_password : "");
	}
	if (j->tls_ca_file)
		SETOPT(CURLOPT_CAINFO, j->tls_ca_file);
	if (j->tls_cert_file) {
		SETOPT(CURLOPT_SSLCERT, j->tls_cert_file);
		SETOPT(CURLOPT_SSLKEY, j->tls_key_file);
	}
	if (j->tls_insecure_skip_verify) {
		SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
	}
#undef SETOPT
	return rc == CURLE_OK ? TS_OK : TS_ENOMEM;
}

/* Per-scrape secrets read from files (rotated files take effect at the next scrape). */
static int load_secrets(target *t)
{
	const ingest_scrape_job *j = t->job;
	char secret[SECRET_FILE_MAX];
	ts_err e = {0};
	if (j->basic_password_file) {
		if (read_secret(j->basic_password_file, secret, sizeof(secret), &e)) {
			msgf(t->fail_msg, sizeof(t->fail_msg),
			     "unable to read basic auth password file %s: %s",
			     j->basic_password_file, e.msg);
			return TS_EIO;
		}
		curl_easy_setopt(t->easy, CURLOPT_PASSWORD, secret);
	}
	if (j->auth_credentials_file) {
		if (read_secret(j->auth_credentials_file, secret, sizeof(secret), &e)) {
			msgf(t->fail_msg, sizeof(t->fail_msg),
			     "unable to read authorization credentials file %s: %s",
			     j->auth_credentials_file, e.msg);
			return TS_EIO;
		}
		/* Rebuild the header list: Accept, timeout, then the fresh Authorization. */
		struct curl_slist *h = curl_slist_append(NULL, t->hdrs->data);
		if (h && !curl_slist_append(h, t->hdrs->next->data)) {
			curl_slist_free_all(h);
			h = NULL;
		}
		size_t n = strlen(j->auth_type) + strlen(secret) + 32;
		char *a = h ? ts_malloc(n) : NULL;
		if (a) {
			snprintf(a, n, "Authorization: %s %s", j->auth_type, secret);
			if (!curl_slist_append(h, a)) {
				curl_slist_free_all(h);
				h = NULL;
			}
			memset(a, 0, n);
			ts_free(a);
		}
		if (!h || !a) {
			curl_slist_free_all(h);
			msgf(t->fail_msg, sizeof(t->fail_msg), "out of memory");
			return TS_ENOMEM;
		}
		curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, h);
		curl_slist_free_all(t->hdrs);
		t->hdrs = h;
	}
	memset(secret, 0, sizeof(secret));
	return TS_OK;
}

/* Scrape thread: start t's scrape now (t is due and not in flight). */
static void start_scrape(ingest_scraper *s, target *t, int64_t now)
{
	t->is_in_flight = true;
	t->kind = INGEST_SCRAPE_WORK_SCRAPE;
	ts_buf_reset(&t->body);
	t->is_body_over = false;
	t->http_status = 0;
	t->status_line[0] = t->content_type[0] = t->curl_err[0] = t->fail_msg[0] = '\0';
	t->duration_ns = 0;
	t->start_ns = ts_mono_ns();
	int64_t wall = ts_now_ms();
	if (t->last_t_ms && t->interval_ms > 100 * TS_ALIGN_TOLERANCE) {
		int64_t aligned = t->last_t_ms + t->interval_ms;
		if (wall - aligned >= -TS_ALIGN_TOLERANCE && wall - aligned <= TS_ALIGN_TOLERANCE)
			wall = aligned;
	}
	t->t_ms = t->last_t_ms = wall;
	/* The next slot; missed ones are skipped, as Go's ticker drops ticks. */
	do
		t->due_mono_ms += t->interval_ms;
	while (t->due_mono_ms <= now);

	if (load_secrets(t) == TS_OK) {
		CURLMcode mc = curl_multi_add_handle(s->multi, t->easy);
		if (mc == CURLM_OK)
			return;
		msgf(t->fail_msg, sizeof(t->fail_msg), "cannot start the transfer: %s",
		     curl_multi_strerror(mc));
	}
	enqueue(s, t);
}

/* Scrape thread: a transfer finished; hand it to a worker. */
static void finish_transfer(ingest_scraper *s, CURL *easy, CURLcode cc)
{
	char *priv = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	target *t = (target *)(void *)priv;
	curl_multi_remove_handle(s->multi, easy);
	if (!t)
		return;
	t->duration_ns = ts_mono_ns() - t->start_ns;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->http_status);
	char *ct = NULL;
	curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(t->content_type, sizeof(t->content_type), "%s", ct ? ct : "");
	/* Prometheus' wording where it has one. */
	if (t->is_body_over)
		msgf(t->fail_msg, sizeof(t->fail_msg), "body size limit exceeded");
	else if (cc != CURLE_OK)
		msgf(t->fail_msg, sizeof(t->fail_msg), "Get \"%s\": %s", t->url,
		     t->curl_err[0] ? t->curl_err : curl_easy_strerror(cc));
	else if (t->http_status != 200)
		msgf(t->fail_msg, sizeof(t->fail_msg), "server returned HTTP status %s",
		     t->status_line[0] ? t->status_line : "(no status line)");
	enqueue(s, t);
}

/* Free a target with its libcurl handles (not attached to the multi handle). */
static void target_free(target *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->hdrs);
	ingest_scrape_target_free(t);
}

static int cmp_target_key(const void *a, const void *b)
{
	const target *x = *(target *const *)a, *y = *(target *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Scrape thread: the first scrape of a new target, at its offset in the interval. */
static void schedule_first(ingest_scraper *s, target *t)
{
	int64_t now_wall = ts_now_ms(), now = mono_ms();
	int64_t i = t->interval_ms;
	int64_t next = (i - now_wall % i) + t->offset_ms; /* Target.offset */
	if (next > i)
		next -= i;
	if (s->opt.no_jitter_offset)
		next = 0;
	t->due_mono_ms = now + next;
	heap_set(s, t, t->due_mono_ms);
}

/* Scrape thread: add a target (creates its handle, reserves heap space). */
static int target_activate(ingest_scraper *s, target *t)
{
	int rc = easy_setup(t);
	if (rc == TS_OK)
		rc = ingest_scrape_grow((void **)&s->heap, &s->cap_heap, s->n_targets + 1,
					sizeof(*s->heap), SIZE_MAX / sizeof(void *));
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	rc = ingest_scrape_grow((void **)&s->targets, &s->cap_targets, s->n_targets + 1,
				sizeof(*s->targets), SIZE_MAX / sizeof(void *));
	if (rc == TS_OK)
		s->targets[s->n_targets++] = t;
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	schedule_first(s, t);
	ts_log_debug("scrape job %s: new target %s", t->job->job_name, t->url);
	return TS_OK;
}

/* Scrape thread: free a target that finished its end of run. */
static void target_destroy(ingest_scraper *s, target *t)
{
	heap_remove(s, t);
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_targets; i++)
		if (s->targets[i] == t) {
			s->targets[i] = s->targets[--s->n_targets];
			break;
		}
	pthread_mutex_unlock(&s->mu);
	ts_log_debug("scrape job %s: removed target %s", t->job->job_name, t->url);
	target_free(t);
}

/* Scrape thread: change a target's state (the API reads it under s->mu). */
static void set_state(ingest_scraper *s, target *t, ingest_scrape_state st)
{
	pthread_mutex_lock(&s->mu);
	t->state = st;
	pthread_mutex_unlock(&s->mu);
}

/* Scrape thread: the target left discovery; stale markers when its next scrape was due. */
static void target_begin_removal(ingest_scraper *s, target *t)
{
	set_state(s, t, INGEST_SCRAPE_REMOVING);
	if (!t->is_in_flight)
		heap_set(s, t, t->due_mono_ms + t->interval_ms / 10);
}

/* Scrape thread: make the pool's targets match its groups (static + file_sd). */
static int pool_sync(ingest_scraper *s, scrape_pool *pool)
{
	target **want = NULL, **have = NULL;
	size_t n_want = 0, cap_want = 0, n_have = 0;
	int rc = TS_OK;
	const ingest_scrape_job *j = pool->job;
	for (size_t pass = 0; pass < 1 + pool->n_sds && rc == TS_OK; pass++) {
		for (size_t f = 0; f < (pass ? pool->sds[pass - 1].n_files : 1) && rc == TS_OK;
		     f++) {
			const ingest_scrape_group *gs = j->static_groups;
			size_t ng = j->n_static_groups;
			if (pass) {
				ingest_scrape_groups *fg = pool->sds[pass - 1].files[f].groups;
				gs = fg ? fg->groups : NULL;
				ng = fg ? fg->n_groups : 0;
			}
			for (size_t g = 0; g < ng && rc == TS_OK; g++)
				for (size_t k = 0; k < gs[g].n_targets && rc == TS_OK; k++) {
					target *t;
					rc = ingest_scrape_target_new(j, &gs[g], gs[g].targets[k],
								      s->hostname, s->jitter_seed,
								      &s->mu, &t);
					if (rc || !t)
						continue;
					t->pool = pool;
					rc = ingest_scrape_grow((void **)&want, &cap_want,
								n_want + 1, sizeof(*want),
								SIZE_MAX / sizeof(void *));
					if (rc)
						target_free(t);
					else
						want[n_want++] = t;
				}
		}
	}
	if (rc == TS_OK && s->n_targets && !(have = ts_malloc(s->n_targets * sizeof(*have))))
		rc = TS_ENOMEM;
	if (rc)
		goto out;
	for (size_t i = 0; i < s->n_targets; i++)
		if (s->targets[i]->pool == pool && !s->targets[i]->is_dying)
			have[n_have++] = s->targets[i];
	if (n_want)
		qsort(want, n_want, sizeof(*want), cmp_target_key);
	size_t n_uniq = 0; /* the same target in two groups is scraped once */
	for (size_t i = 0; i < n_want; i++) {
		if (n_uniq && cmp_target_key(&want[n_uniq - 1], &want[i]) == 0)
			target_free(want[i]);
		else
			want[n_uniq++] = want[i];
	}
	n_want = n_uniq;
	if (n_have)
		qsort(have, n_have, sizeof(*have), cmp_target_key);
	size_t a = 0, b = 0;
	while (a < n_want || b < n_have) {
		int c = a == n_want ? 1 : b == n_have ? -1 : cmp_target_key(&want[a], &have[b]);
		if (c == 0) {
			/* Back before its end of run: keep it (and its series). */
			if (have[b]->state == INGEST_SCRAPE_REMOVING) {
				set_state(s, have[b], INGEST_SCRAPE_ACTIVE);
				if (!have[b]->is_in_flight)
					heap_set(s, have[b], have[b]->due_mono_ms);
			}
			target_free(want[a]);
			want[a++] = NULL;
			b++;
		} else if (c < 0) {
			target *t = want[a];
			want[a++] = NULL;
			if ((rc = target_activate(s, t))) {
				target_free(t);
				break;
			}
		} else {
			if (have[b]->state == INGEST_SCRAPE_ACTIVE)
				target_begin_removal(s, have[b]);
			b++;
		}
	}
out:
	for (size_t i = 0; i < n_want; i++)
		target_free(want[i]);
	ts_free(want);
	ts_free(have);
	return rc;
}

/* ================================================================ file discovery */

static void sd_file_clear(sd_file *f)
{
	ts_free(f->path);
	ingest_scrape_groups_free(f->groups);
}

/* Re-read one file; on error keep its previous groups (Prometheus does the same). */
static void sd_read(sd_file *f)
{
	ingest_scrape_groups *g = NULL;
	ts_err e = {0};
	if (ingest_scrape_sd_file_parse(f->path, &g, &e) != TS_OK) {
		ts_log_error("file_sd: cannot read %s: %s", f->path, e.msg);
		return;
	}
	ingest_scrape_groups_free(f->groups);
	f->groups = g;
}

/* Scrape thread: poll one file_sd config; true when its target groups may have changed. */
static bool sd_poll_one(sd_state *sd, int64_t now, bool force)
{
	bool changed = false;
	bool full = force || now - sd->last_full_ms >= sd->cfg->refresh_interval_ms;
	if (full)
		sd->last_full_ms = now;
	for (size_t i = 0; i < sd->n_files; i++)
		sd->files[i].is_seen = false;
	for (size_t p = 0; p < sd->cfg->n_files; p++) {
		glob_t gl;
		memset(&gl, 0, sizeof(gl));
		if (glob(sd->cfg->files[p], 0, NULL, &gl) != 0) {
			globfree(&gl);
			continue;
		}
		for (size_t k = 0; k < gl.gl_pathc; k++) {
			const char *path = gl.gl_pathv[k];
			struct stat st;
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			sd_file *f = NULL;
			for (size_t i = 0; i < sd->n_files && !f; i++)
				if (!strcmp(sd->files[i].path, path))
					f = &sd->files[i];
			if (!f) {
				char *cp = ts_strdup(path);
				if (!cp || ingest_scrape_grow((void **)&sd->files, &sd->cap_files,
							      sd->n_files + 1, sizeof(*sd->files),
							      1u << 20)) {
					ts_free(cp);
					continue;
				}
				f = &sd->files[sd->n_files++];
				memset(f, 0, sizeof(*f));
				f->path = cp;
				f->mtime.tv_sec = -1;
			}
			f->is_seen = true;
			bool same = f->mtime.tv_sec == st.st_mtim.tv_sec &&
				    f->mtime.tv_nsec == st.st_mtim.tv_nsec &&
				    f->size == st.st_size && f->ino == st.st_ino;
			if (same && !full)
				continue;
			f->mtime = st.st_mtim;
			f->size = st.st_size;
			f->ino = st.st_ino;
			sd_read(f);
			changed = true;
		}
		globfree(&gl);
	}
	for (size_t i = 0; i < sd->n_files; i++)
		if (!sd->files[i].is_seen) {
			sd_file_clear(&sd->files[i]);
			sd->files[i--] = sd->files[--sd->n_files];
			changed = true;
		}
	return changed;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(((const sd_file *)a)->path, ((const sd_file *)b)->path);
}

/* Scrape thread: poll every file_sd config and resync the pools that changed. */
static void sd_poll(ingest_scraper *s, bool force)
{
	int64_t now = mono_ms();
	for (size_t p = 0; p < s->n_pools; p++) {
		scrape_pool *pool = &s->pools[p];
		bool changed = force;
		for (size_t i = 0; i < pool->n_sds; i++) {
			if (sd_poll_one(&pool->sds[i], now, force)) {
				changed = true;
				qsort(pool->sds[i].files, pool->sds[i].n_files, sizeof(sd_file),
				      path_cmp);
			}
		}
		if (changed && pool_sync(s, pool) != TS_OK)
			ts_log_error("scrape job %s: out of memory updating targets",
				     pool->job->job_name);
	}
}

/* ================================================================ the scrape thread */

static void drain_done(ingest_scraper *s)
{
	pthread_mutex_lock(&s->qmu);
	target *t = s->done_head;
	s->done_head = NULL;
	pthread_mutex_unlock(&s->qmu);
	int64_t now = mono_ms();
	while (t) {
		target *next = t->qnext;
		t->is_in_flight = false;
		if (t->is_dying) {
			target_destroy(s, t);
		} else if (t->state == INGEST_SCRAPE_REMOVING) {
			heap_set(s, t, t->due_mono_ms + t->interval_ms / 10);
		} else {
			while (t->due_mono_ms <= now - t->interval_ms)
				t->due_mono_ms += t->interval_ms;
			heap_set(s, t, t->due_mono_ms);
		}
		t = next;
	}
}

static void run_due(ingest_scraper *s)
{
	int64_t now = mono_ms();
	while (s->n_heap && s->heap[0]->heap_key_ms <= now) {
		target *t = s->heap[0];
		heap_remove(s, t);
		if (t->state == INGEST_SCRAPE_ACTIVE) {
			start_scrape(s, t, now);
			continue;
		}
		/* End of run: markers at the time the next scrape would have had. */
		t->is_dying = t->is_in_flight = true;
		t->kind = INGEST_SCRAPE_WORK_END_RUN;
		t->t_ms = ts_now_ms() - (now - t->due_mono_ms);
		enqueue(s, t);
	}
}

static void *scrape_main(void *arg)
{
	ingest_scraper *s = arg;
	pthread_setname_np(pthread_self(), "ingest-scrape");
	while (!atomic_load(&s->is_stopping)) {
		drain_done(s);
		if (mono_ms() >= s->next_sd_poll_ms) {
			sd_poll(s, false);
			s->next_sd_poll_ms = mono_ms() + s->opt.sd_poll_ms;
		}
		run_due(s);
		int running = 0;
		curl_multi_perform(s->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(s->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				finish_transfer(s, m->easy_handle, m->data.result);
		int64_t now = mono_ms();
		int64_t wait = s->next_sd_poll_ms - now;
		if (s->n_heap && s->heap[0]->heap_key_ms - now < wait)
			wait = s->heap[0]->heap_key_ms - now;
		if (wait > MAX_POLL_MS)
			wait = MAX_POLL_MS;
		if (wait < 0)
			wait = 0;
		pthread_mutex_lock(&s->qmu);
		bool has_done = s->done_head != NULL;
		pthread_mutex_unlock(&s->qmu);
		if (!has_done)
			curl_multi_poll(s->multi, NULL, 0, (int)wait, NULL);
	}
	/* Abandon transfers in progress; their targets are freed by stop. */
	for (size_t i = 0; i < s->n_targets; i++)
		curl_multi_remove_handle(s->multi, s->targets[i]->easy);
	return NULL;
}

/* ================================================================ start/stop */

static uint64_t default_jitter_seed(const ingest_scrape_config *cfg, const char *hostname)
{
	ts_hash64_state h;
	ts_hash64_init(&h, 0);
	ts_hash64_update(&h, hostname, strlen(hostname));
	for (size_t i = 0; i < cfg->n_external_labels; i++) {
		ts_hash64_update(&h, cfg->external_labels[i].name,
				 strlen(cfg->external_labels[i].name) + 1);
		ts_hash64_update(&h, cfg->external_labels[i].value,
				 strlen(cfg->external_labels[i].value) + 1);
	}
	return ts_hash64_digest(&h);
}

int ingest_scraper_start(ingest_pipeline *p, ingest_scrape_config *cfg,
			 const ingest_scraper_options *o, ingest_scraper **out, ts_err *err)
{
	*out = NULL;
	if (!cfg || !cfg->n_jobs) {
		ingest_scrape_config_free(cfg);
		return TS_OK;
	}
	ingest_scraper *s = ts_calloc(1, sizeof(*s));
	if (!s) {
		ingest_scrape_config_free(cfg);
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the scraper");
	}
	s->p = p;
	s->cfg = cfg;
	if (o)
		s->opt = *o;
	if (s->opt.n_workers <= 0)
		s->opt.n_workers = DEFAULT_WORKERS;
	if (s->opt.sd_poll_ms <= 0)
		s->opt.sd_poll_ms = SD_POLL_DEFAULT_MS;
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0 || !s->hostname[0])
		snprintf(s->hostname, sizeof(s->hostname), "localhost");
	s->jitter_seed =
	    s->opt.jitter_seed ? s->opt.jitter_seed : default_jitter_seed(cfg, s->hostname);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_cond_init(&s->qcond, NULL);
	int rc = TS_OK;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = ts_err_set(err, TS_EIO, "cannot initialize libcurl");
		goto fail;
	}
	s->is_curl_init = true;
	if (!(s->multi = curl_multi_init())) {
		rc = ts_err_set(err, TS_ENOMEM, "cannot create a libcurl multi handle");
		goto fail;
	}
	curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	s->pools = ts_calloc(cfg->n_jobs, sizeof(*s->pools));
	if (!s->pools) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory starting the scraper");
		goto fail;
	}
	s->n_pools = cfg->n_jobs;
	for (size_t i = 0; i < cfg->n_jobs; i++) {
		scrape_pool *pool = &s->pools[i];
		pool->job = &cfg->jobs[i];
		pool->n_sds = pool->job->n_file_sds;
		if (pool->n_sds && !(pool->sds = ts_calloc(pool->n_sds, sizeof(*pool->sds)))) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory starting the scraper");
			goto fail;
		}
		for (size_t k = 0; k < pool->n_sds; k++)
			pool->sds[k].cfg = &pool->job->file_sds[k];
	}
	/* Initial targets before any thread runs, so the API shows them at once. */
	sd_poll(s, true);
	s->next_sd_poll_ms = mono_ms() + s->opt.sd_poll_ms;
	s->workers = ts_calloc((size_t)s->opt.n_workers, sizeof(*s->workers));
	if (!s->workers) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory starting the scraper");
		goto fail;
	}
	for (int i = 0; i < s->opt.n_workers; i++) {
		s->workers[i].s = s;
		s->workers[i].idx = i;
		int e = pthread_create(&s->workers[i].th, NULL, worker_main, &s->workers[i]);
		if (e == 0)
			s->n_workers++;
		if (e) {
			rc = ts_err_set(err, TS_EIO, "cannot start a scrape worker: %s",
					strerror(e));
			goto fail;
		}
	}
	int e = pthread_create(&s->thread, NULL, scrape_main, s);
	if (e) {
		rc = ts_err_set(err, TS_EIO, "cannot start the scrape thread: %s", strerror(e));
		goto fail;
	}
	s->has_thread = true;
	ts_log_info("scraping %zu targets in %zu jobs", s->n_targets, s->n_pools);
	*out = s;
	return TS_OK;
fail:
	ingest_scraper_stop(s);
	return rc;
}

int ingest_scraper_start_config(ingest_pipeline *p, const ts_config *c, ingest_scraper **out,
				ts_err *err)
{
	*out = NULL;
	ingest_scrape_config *cfg = NULL;
	int rc = ingest_scrape_config_load(c, &cfg, err);
	if (rc)
		return rc;
	return ingest_scraper_start(p, cfg, NULL, out, err);
}

void ingest_scraper_stop(ingest_scraper *s)
{
	if (!s)
		return;
	atomic_store(&s->is_stopping, true);
	if (s->has_thread) {
		curl_multi_wakeup(s->multi);
		pthread_join(s->thread, NULL);
	}
	pthread_mutex_lock(&s->qmu);
	s->is_q_stop = true;
	pthread_cond_broadcast(&s->qcond);
	pthread_mutex_unlock(&s->qmu);
	for (int i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i].th, NULL);
	ts_free(s->workers);
	for (size_t i = 0; i < s->n_targets; i++)
		target_free(s->targets[i]);
	ts_free(s->targets);
	ts_free(s->heap);
	for (size_t i = 0; i < s->n_pools; i++) {
		for (size_t k = 0; k < s->pools[i].n_sds; k++) {
			sd_state *sd = &s->pools[i].sds[k];
			for (size_t f = 0; f < sd->n_files; f++)
				sd_file_clear(&sd->files[f]);
			ts_free(sd->files);
		}
		ts_free(s->pools[i].sds);
	}
	ts_free(s->pools);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	if (s->is_curl_init)
		curl_global_cleanup();
	pthread_cond_destroy(&s->qcond);
	pthread_mutex_destroy(&s->qmu);
	pthread_mutex_destroy(&s->mu);
	ingest_scrape_config_free(s->cfg);
	ts_free(s);
}

/* ================================================================ targets API */

static ts_label *copy_labels(const ts_label *v, size_t n)
{
	ts_label *c = ts_calloc(n ? n : 1, sizeof(*c));
	for (size_t i = 0; c && i < n; i++) {
		c[i].name = ts_strdup(v[i].name);
		c[i].value = ts_strdup(v[i].value);
		if (!c[i].name || !c[i].value) {
			for (size_t k = 0; k <= i; k++) {
				ts_free((char *)c[k].name);
				ts_free((char *)c[k].value);
			}
			ts_free(c);
			return NULL;
		}
	}
	return c;
}

static int cmp_info(const void *a, const void *b)
{
	const ingest_scrape_target_info *x = a, *y = b;
	int c = strcmp(x->scrape_pool, y->scrape_pool);
	return c ? c : strcmp(x->scrape_url, y->scrape_url);
}

int ingest_scraper_targets(ingest_scraper *s, ingest_scrape_target_info **out, size_t *n_out,
			   ts_err *err)
{
	*out = NULL;
	*n_out = 0;
	if (!s)
		return TS_OK;
	pthread_mutex_lock(&s->mu);
	size_t n = 0;
	ingest_scrape_target_info *v = ts_calloc(s->n_targets ? s->n_targets : 1, sizeof(*v));
	for (size_t i = 0; v && i < s->n_targets; i++) {
		const target *t = s->targets[i];
		if (t->state != INGEST_SCRAPE_ACTIVE)
			continue;
		ingest_scrape_target_info *x = &v[n++];
		x->scrape_pool = ts_strdup(t->job->job_name);
		x->scrape_url = ts_strdup(t->url);
		x->global_url = ts_strdup(t->global_url);
		x->discovered_labels = copy_labels(t->disc, t->n_disc);
		x->n_discovered_labels = t->n_disc;
		x->labels = copy_labels(t->pub, t->n_pub);
		x->n_labels = t->n_pub;
		x->health = t->health;
		snprintf(x->last_error, sizeof(x->last_error), "%s", t->last_error);
		x->last_scrape_ms = t->last_scrape_ms;
		x->last_scrape_duration_s = t->last_duration_s;
		x->interval_ms = t->interval_ms;
		x->timeout_ms = t->timeout_ms;
		x->n_scrapes = t->n_scrapes;
		x->last_samples = t->last_samples;
		if (!x->scrape_pool || !x->scrape_url || !x->global_url || !x->discovered_labels ||
		    !x->labels) {
			pthread_mutex_unlock(&s->mu);
			ingest_scrape_targets_free(v, n);
			return ts_err_set(err, TS_ENOMEM, "out of memory listing scrape targets");
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (!v)
		return ts_err_set(err, TS_ENOMEM, "out of memory listing scrape targets");
	if (n)
		qsort(v, n, sizeof(*v), cmp_info);
	*out = v;
	*n_out = n;
	return TS_OK;
}

static void free_labels(ts_label *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		ts_free((char *)v[i].name);
		ts_free((char *)v[i].value);
	}
	ts_free(v);
}

void ingest_scrape_targets_free(ingest_scrape_target_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		ts_free(v[i].scrape_pool);
		ts_free(v[i].scrape_url);
		ts_free(v[i].global_url);
		free_labels(v[i].discovered_labels, v[i].n_discovered_labels);
		free_labels(v[i].labels, v[i].n_labels);
	}
	ts_free(v);
}
