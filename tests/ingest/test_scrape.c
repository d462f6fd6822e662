/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_scrape.c: tests for ingest/scrape.c and ingest/scrape_target.c: the scrape
 * manager against a tiny HTTP server this file runs on 127.0.0.1 (a plain socket thread
 * whose body, status, content type, delay and gzip can change between scrapes).
 *
 * Each test starts an in-memory store, a pipeline and a scraper with a short interval
 * (250 ms), waits for scrapes through ingest_scraper_targets (bounded by count and
 * time), and reads what was stored straight from the store: target labels, the synthetic
 * series, staleness markers (exact NaN bits) when a series disappears, when the target
 * goes down and when discovery removes it, honor_labels conflict handling, honor_timestamps,
 * sample_limit, timeouts, HTTP errors, parse errors (nothing of a bad body is stored),
 * gzip and OpenMetrics, request headers (Accept, timeout, auth), URL parameters, and
 * file_sd picking up added and removed targets. SCRAPE_TEST_DEBUG=1 shows the scraper's
 * debug log. Temporary files carry the pid, so concurrent runs do not interfere.
 */
#include "ingest/scrape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#define WAIT_MS   15000 /* upper bound of every wait */
#define MAX_SAMPS 256

/* ================================================================ test HTTP server */

typedef struct tsrv {
	int fd;
	int port;
	pthread_t th;
	_Atomic bool is_stop;
	pthread_mutex_t mu; /* guards everything below */
	char body[8192];
	char content_type[128];
	int status;
	int delay_ms;
	bool is_gzip;
	int n_requests;
	char last_req[4096];
	char req_lines[4096]; /* first line of every request, newline-separated */
} tsrv;

static void handle(tsrv *s, int c)
{
	char req[4096];
	size_t n = 0;
	while (n + 1 < sizeof(req)) {
		struct pollfd p = {c, POLLIN, 0};
		if (poll(&p, 1, 2000) <= 0)
			break;
		ssize_t k = read(c, req + n, sizeof(req) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = '\0';
	pthread_mutex_lock(&s->mu);
	s->n_requests++;
	snprintf(s->last_req, sizeof(s->last_req), "%s", req);
	size_t used = strlen(s->req_lines), eol = strcspn(req, "\r\n");
	if (used + eol + 2 < sizeof(s->req_lines))
		snprintf(s->req_lines + used, sizeof(s->req_lines) - used, "%.*s\n", (int)eol, req);
	int delay = s->delay_ms, status = s->status;
	bool gz = s->is_gzip && strstr(req, "Accept-Encoding: gzip");
	char body[8192], ct[128];
	snprintf(body, sizeof(body), "%s", s->body);
	snprintf(ct, sizeof(ct), "%s", s->content_type);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < delay / 10 && !atomic_load(&s->is_stop); i++)
		usleep(10000);
	unsigned char zbuf[16384];
	const char *out = body;
	size_t out_n = strlen(body);
	if (gz) {
		z_stream z;
		memset(&z, 0, sizeof(z));
		deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (unsigned char *)body;
		z.avail_in = (unsigned)out_n;
		z.next_out = zbuf;
		z.avail_out = sizeof(zbuf);
		deflate(&z, Z_FINISH);
		out = (const char *)zbuf;
		out_n = sizeof(zbuf) - z.avail_out;
		deflateEnd(&z);
	}
	char hdr[512];
	int h = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 status,
			 status == 200   ? "OK"
			 : status == 404 ? "Not Found"
					 : "Error",
			 ct, out_n, gz ? "Content-Encoding: gzip\r\n" : "");
	if (send(c, hdr, (size_t)h, MSG_NOSIGNAL) == h && out_n)
		(void)!send(c, out, out_n, MSG_NOSIGNAL);
	close(c);
}

static void *srv_main(void *arg)
{
	tsrv *s = arg;
	while (!atomic_load(&s->is_stop)) {
		struct pollfd p = {s->fd, POLLIN, 0};
		if (poll(&p, 1, 20) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c >= 0)
			handle(s, c);
	}
	return NULL;
}

static void srv_start(tsrv *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->status = 200;
	snprintf(s->content_type, sizeof(s->content_type), "text/plain; version=0.0.4");
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	int one = 1;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 64), 0);
	socklen_t len = sizeof(a);
	getsockname(s->fd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

/* Stop serving: the port refuses connections afterwards (the target "goes down"). */
static void srv_stop(tsrv *s)
{
	if (s->fd < 0)
		return;
	atomic_store(&s->is_stop, true);
	pthread_join(s->th, NULL);
	close(s->fd);
	s->fd = -1;
}

static void srv_body(tsrv *s, const char *body)
{
	pthread_mutex_lock(&s->mu);
	snprintf(s->body, sizeof(s->body), "%s", body);
	pthread_mutex_unlock(&s->mu);
}

static void srv_last_req(tsrv *s, char *out, size_t cap)
{
	pthread_mutex_lock(&s->mu);
	snprintf(out, cap, "%s", s->last_req);
	pthread_mutex_unlock(&s->mu);
}

/* ================================================================ environment */

typedef struct env {
	tsdb_db *db;
	ingest_pipeline *p;
	ingest_scraper *s;
	tsrv srv;
} env;

static env *env_new(void)
{
	env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	tsdb_options to;
	tsdb_options_init(&to);
	assert_int_equal(tsdb_open(&to, &e->db, NULL), TS_OK);
	ingest_options io;
	ingest_options_init(&io);
	io.db = e->db;
	assert_int_equal(ingest_open(&io, &e->p, NULL), TS_OK);
	srv_start(&e->srv);
	return e;
}

/* Start scraping with the YAML config text (printf format; %d is the server port). */
static void env_scrape(env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void env_scrape(env *e, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	assert_int_equal(ts_yaml_parse("test.yml", text, strlen(text), &d, &err), TS_OK);
	const ts_yaml_node *root = ts_yaml_root(d);
	ingest_scrape_config *cfg = NULL;
	if (ingest_scrape_config_parse(d, ts_yaml_get(root, "global"),
				       ts_yaml_get(root, "scrape_configs"), NULL, &cfg, &err))
		fail_msg("config: %s", err.msg);
	ts_yaml_free(d);
	ingest_scraper_options o = {.sd_poll_ms = 100, .no_jitter_offset = true};
	assert_int_equal(ingest_scraper_start(e->p, cfg, &o, &e->s, &err), TS_OK);
}

static void env_free(env *e)
{
	ingest_scraper_stop(e->s);
	srv_stop(&e->srv);
	pthread_mutex_destroy(&e->srv.mu);
	ingest_close(e->p);
	tsdb_close(e->db);
	free(e);
}

/* Snapshot of the first target of job (or of the i-th overall when job is NULL). */
static bool target_info(env *e, const char *job, ingest_scrape_target_info *out)
{
	ingest_scrape_target_info *v = NULL;
	size_t n = 0;
	assert_int_equal(ingest_scraper_targets(e->s, &v, &n, NULL), TS_OK);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(v[i].scrape_pool, job))
			continue;
		*out = v[i];
		out->scrape_pool = out->scrape_url = out->global_url = NULL;
		out->labels = out->discovered_labels = NULL;
		found = true;
	}
	ingest_scrape_targets_free(v, n);
	return found;
}

/* Wait until job's target finished at least n scrapes; returns its info. */
static ingest_scrape_target_info wait_scrapes(env *e, const char *job, uint64_t n)
{
	ingest_scrape_target_info t = {0};
	int64_t end = ts_now_ms() + WAIT_MS;
	while (ts_now_ms() < end) {
		if (target_info(e, job, &t) && t.n_scrapes >= n)
			return t;
		usleep(10000);
	}
	fail_msg("job %s: %llu scrapes not reached (have %llu)", job, (unsigned long long)n,
		 (unsigned long long)t.n_scrapes);
	return t;
}

static uint64_t n_scrapes(env *e, const char *job)
{
	ingest_scrape_target_info t = {0};
	return target_info(e, job, &t) ? t.n_scrapes : 0;
}

/* The samples of the series matching name (and lname=lvalue when given; the last one
 * in label order when several match). */
typedef struct series_data {
	size_t n_series;
	char labels[1024]; /* k=v,k=v of the (last) series */
	size_t n;
	int64_t t[MAX_SAMPS];
	double v[MAX_SAMPS];
} series_data;

static void read_series(env *e, const char *name, const char *lname, const char *lvalue,
			series_data *out)
{
	memset(out, 0, sizeof(*out));
	ts_matcher m[2];
	size_t nm = 1;
	assert_int_equal(ts_matcher_init(&m[0], TS_MATCH_EQ, "__name__", name, NULL), TS_OK);
	if (lname) {
		assert_int_equal(ts_matcher_init(&m[1], TS_MATCH_EQ, lname, lvalue, NULL), TS_OK);
		nm = 2;
	}
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(e->db, 0, INT64_MAX / 4, &q, NULL), TS_OK);
	tsdb_series **v = NULL;
	size_t n = 0;
	assert_int_equal(tsdb_select(q, m, nm, 0, &v, &n, NULL), TS_OK);
	out->n_series = n;
	for (size_t i = 0; i < n; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(v[i], &nl);
		size_t off = 0;
		for (size_t k = 0; k < nl; k++)
			off += (size_t)snprintf(out->labels + off, sizeof(out->labels) - off,
						"%s%s=%s", k ? "," : "", l[k].name, l[k].value);
		tsdb_iter *it;
		assert_int_equal(tsdb_iter_open(q, v[i], 0, INT64_MAX / 4, &it, NULL), TS_OK);
		int64_t t;
		double x;
		out->n = 0;
		while (tsdb_iter_next(it, &t, &x) == 1 && out->n < MAX_SAMPS) {
			out->t[out->n] = t;
			out->v[out->n++] = x;
		}
		tsdb_iter_close(it);
	}
	ts_free(v);
	tsdb_querier_close(q);
	for (size_t i = 0; i < nm; i++)
		ts_matcher_fini(&m[i]);
}

static bool is_stale(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b == INGEST_STALE_NAN_BITS;
}

static size_t count_stale(const series_data *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		n += is_stale(d->v[i]);
	return n;
}

static double last_value(env *e, const char *name, const char *job)
{
	series_data d;
	read_series(e, name, job ? "job" : NULL, job, &d);
	assert_int_equal(d.n_series, 1);
	assert_true(d.n > 0);
	return d.v[d.n - 1];
}

static const char *job_yaml = "scrape_configs:\n"
			      "  - job_name: %s\n"
			      "    scrape_interval: 250ms\n"
			      "    static_configs:\n"
			      "      - targets: ['127.0.0.1:%d']\n"
			      "        labels: {env: test}\n";

/* ================================================================ tests */

static void test_ingest_scraper_scrape_basic(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "# TYPE a counter\na_total{x=\"1\"} 5\nb 2\n");
	env_scrape(e, job_yaml, "j", e->srv.port);
	ingest_scrape_target_info t = wait_scrapes(e, "j", 3);
	assert_int_equal(t.health, INGEST_SCRAPE_UP);
	assert_string_equal(t.last_error, "");
	assert_int_equal(t.interval_ms, 250);
	assert_int_equal(t.timeout_ms, 250);
	assert_int_equal(t.last_samples, 2);
	assert_true(t.last_scrape_ms > 0);

	char want[256];
	series_data d;
	read_series(e, "a_total", NULL, NULL, &d);
	assert_int_equal(d.n_series, 1);
	snprintf(want, sizeof(want), "__name__=a_total,env=test,instance=127.0.0.1:%d,job=j,x=1",
		 e->srv.port);
	assert_string_equal(d.labels, want);
	assert_true(d.n >= 3);
	for (size_t i = 1; i < d.n; i++)
		assert_true(d.t[i] > d.t[i - 1]);
	/* About an interval apart (exactly when on time; a late start shifts one). */
	int64_t mean = (d.t[d.n - 1] - d.t[0]) / (int64_t)(d.n - 1);
	assert_true(mean >= 150 && mean <= 1000);
	assert_true(d.v[0] == 5);

	/* The synthetic series carry the target labels only. */
	read_series(e, "up", NULL, NULL, &d);
	snprintf(want, sizeof(want), "__name__=up,env=test,instance=127.0.0.1:%d,job=j",
		 e->srv.port);
	assert_string_equal(d.labels, want);
	for (size_t i = 0; i < d.n; i++)
		assert_true(d.v[i] == 1);
	read_series(e, "scrape_series_added", NULL, NULL, &d);
	assert_true(d.v[0] == 2);
	assert_true(d.v[d.n - 1] == 0);
	assert_true(last_value(e, "scrape_samples_scraped", NULL) == 2);
	assert_true(last_value(e, "scrape_samples_post_metric_relabeling", NULL) == 2);
	double dur = last_value(e, "scrape_duration_seconds", NULL);
	assert_true(dur > 0 && dur < 0.25);
	/* Every sample of one scrape shares the scrape's timestamp. */
	series_data a, u;
	read_series(e, "a_total", NULL, NULL, &a);
	read_series(e, "up", NULL, NULL, &u);
	assert_int_equal(a.t[0], u.t[0]);

	/* What the target was asked. */
	char req[4096];
	srv_last_req(&e->srv, req, sizeof(req));
	assert_non_null(strstr(req, "GET /metrics HTTP/1.1\r\n"));
	assert_non_null(strstr(req, "Accept: application/openmetrics-text;version=1.0.0,"
				    "application/openmetrics-text;version=0.0.1;q=0.75,text/"
				    "plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"));
	assert_non_null(strstr(req, "X-Prometheus-Scrape-Timeout-Seconds: 0.25\r\n"));
	assert_non_null(strstr(req, "User-Agent: Strata/"));
	assert_non_null(strstr(req, "Accept-Encoding: gzip"));
	assert_null(strstr(req, "Authorization"));
	env_free(e);
}

static void test_ingest_scraper_targets_snapshot(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "m 1\n");
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: b\n"
		   "    scrape_interval: 1h\n"
		   "    metrics_path: /probe\n"
		   "    params: {target: ['x y'], module: [m1, m2]}\n"
		   "    static_configs:\n"
		   "      - targets: ['127.0.0.1:%d', 'localhost']\n"
		   "        labels: {__param_module: m3}\n"
		   "  - job_name: a\n"
		   "    scrape_interval: 1h\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d'], labels: {instance: mine}}]\n",
		   e->srv.port, e->srv.port);
	ingest_scrape_target_info *v = NULL;
	size_t n = 0;
	assert_int_equal(ingest_scraper_targets(e->s, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 3);
	/* Sorted by pool then URL. */
	assert_string_equal(v[0].scrape_pool, "a");
	char want[512];
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/metrics", e->srv.port);
	assert_string_equal(v[0].scrape_url, want);
	assert_int_equal(v[0].n_labels, 2);
	assert_string_equal(v[0].labels[0].name, "instance");
	assert_string_equal(v[0].labels[0].value, "mine");
	assert_string_equal(v[1].scrape_pool, "b");
	/* Configured params win over a group's __param_ label (Prometheus sets them after
	 * the group labels); Go's query escaping. */
	snprintf(want, sizeof(want), "http://127.0.0.1:%d/probe?module=m1&module=m2&target=x+y",
		 e->srv.port);
	assert_string_equal(v[1].scrape_url, want);
	assert_string_equal(v[2].scrape_url, "http://localhost:80/probe?module=m1&module=m2&"
					     "target=x+y");
	/* Discovered labels: before the default port and instance are added. */
	const ts_label *dl = v[2].discovered_labels;
	assert_int_equal(v[2].n_discovered_labels, 8);
	assert_string_equal(dl[0].name, "__address__");
	assert_string_equal(dl[0].value, "localhost");
	assert_string_equal(dl[1].name, "__metrics_path__");
	assert_string_equal(dl[2].name, "__param_module");
	assert_string_equal(dl[2].value, "m1");
	assert_string_equal(dl[3].name, "__param_target");
	assert_string_equal(dl[4].name, "__scheme__");
	assert_string_equal(dl[5].name, "__scrape_interval__");
	assert_string_equal(dl[5].value, "1h");
	assert_string_equal(dl[6].value, "10s");
	assert_string_equal(dl[7].name, "job");
	assert_string_equal(v[2].labels[0].value, "localhost:80");
	/* Loopback hosts become the host name in the global URL. */
	char host[256];
	gethostname(host, sizeof(host));
	snprintf(want, sizeof(want), "http://%s:80/probe?module=m1&module=m2&target=x+y", host);
	assert_string_equal(v[2].global_url, want);
	ingest_scrape_targets_free(v, n);

	/* The scrape uses the path and the parameters. */
	wait_scrapes(e, "b", 1);
	pthread_mutex_lock(&e->srv.mu);
	assert_non_null(
	    strstr(e->srv.req_lines, "GET /probe?module=m1&module=m2&target=x+y HTTP/1.1\n"));
	pthread_mutex_unlock(&e->srv.mu);
	env_free(e);

	/* No scraper: an empty list. */
	assert_int_equal(ingest_scraper_targets(NULL, &v, &n, NULL), TS_OK);
	assert_null(v);
	assert_int_equal(n, 0);
}

static void test_ingest_scraper_stale_series_disappears(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\nb 2\n");
	env_scrape(e, job_yaml, "j", e->srv.port);
	uint64_t n0 = wait_scrapes(e, "j", 2).n_scrapes;
	srv_body(&e->srv, "a 1\n");
	wait_scrapes(e, "j", n0 + 3);
	series_data b, a;
	read_series(e, "b", NULL, NULL, &b);
	read_series(e, "a", NULL, NULL, &a);
	assert_int_equal(count_stale(&b), 1);
	assert_true(is_stale(b.v[b.n - 1]));
	assert_true(b.t[b.n - 1] > b.t[b.n - 2]);
	assert_int_equal(count_stale(&a), 0);
	/* The marker has the timestamp of the first scrape without b. */
	bool found = false;
	for (size_t i = 0; i < a.n; i++)
		found = found || a.t[i] == b.t[b.n - 1];
	assert_true(found);
	assert_true(last_value(e, "scrape_samples_scraped", NULL) == 1);

	/* b comes back: new samples after the marker, and no second marker. */
	uint64_t n1 = n_scrapes(e, "j");
	srv_body(&e->srv, "a 1\nb 3\n");
	wait_scrapes(e, "j", n1 + 2);
	read_series(e, "b", NULL, NULL, &b);
	assert_int_equal(count_stale(&b), 1);
	assert_true(b.v[b.n - 1] == 3);
	env_free(e);
}

static void test_ingest_scraper_stale_target_down(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\nb{k=\"v\"} 2\n");
	env_scrape(e, job_yaml, "j", e->srv.port);
	wait_scrapes(e, "j", 2);
	srv_stop(&e->srv);
	uint64_t n0 = n_scrapes(e, "j");
	ingest_scrape_target_info t = wait_scrapes(e, "j", n0 + 3);
	assert_int_equal(t.health, INGEST_SCRAPE_DOWN);
	assert_non_null(strstr(t.last_error, "Get \"http://127.0.0.1:"));
	assert_non_null(strstr(t.last_error, "onnect"));
	series_data d;
	for (int i = 0; i < 2; i++) {
		read_series(e, i ? "b" : "a", NULL, NULL, &d);
		/* One marker, even after several failed scrapes. */
		assert_int_equal(count_stale(&d), 1);
		assert_true(is_stale(d.v[d.n - 1]));
	}
	assert_true(last_value(e, "up", NULL) == 0);
	assert_true(last_value(e, "scrape_samples_scraped", NULL) == 0);
	/* The synthetic series are not stale: up says 0. */
	read_series(e, "up", NULL, NULL, &d);
	assert_int_equal(count_stale(&d), 0);
	env_free(e);
}

static void test_ingest_scraper_parse_error_drops_scrape(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\n");
	env_scrape(e, job_yaml, "j", e->srv.port);
	uint64_t n0 = wait_scrapes(e, "j", 2).n_scrapes;
	srv_body(&e->srv, "c 1\nthis is not a metric\n");
	ingest_scrape_target_info t = wait_scrapes(e, "j", n0 + 2);
	assert_int_equal(t.health, INGEST_SCRAPE_DOWN);
	assert_string_equal(t.last_error, "line 2: invalid value 'is'");
	series_data d;
	read_series(e, "c", NULL, NULL, &d);
	assert_int_equal(d.n_series, 0); /* nothing of the bad body */
	read_series(e, "a", NULL, NULL, &d);
	assert_int_equal(count_stale(&d), 1);
	assert_true(last_value(e, "up", NULL) == 0);
	assert_true(last_value(e, "scrape_samples_scraped", NULL) == 1);
	env_free(e);
}

static void test_ingest_scraper_honor_labels(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "m{job=\"exp\",instance=\"i2\",exported_job=\"z\",a=\"b\"} 1\n");
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: plain\n"
		   "    scrape_interval: 250ms\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
		   "  - job_name: honor\n"
		   "    scrape_interval: 250ms\n"
		   "    honor_labels: true\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d'], labels: {extra: x}}]\n",
		   e->srv.port, e->srv.port);
	wait_scrapes(e, "plain", 1);
	wait_scrapes(e, "honor", 1);
	char want[512];
	series_data d;
	/* Conflicts renamed shortest first: job -> exported_exported_job (exported_job is
	 * taken), instance -> exported_instance. */
	read_series(e, "m", "job", "plain", &d);
	assert_int_equal(d.n_series, 1);
	snprintf(want, sizeof(want),
		 "__name__=m,a=b,exported_exported_job=exp,exported_instance=i2,exported_job=z,"
		 "instance=127.0.0.1:%d,job=plain",
		 e->srv.port);
	assert_string_equal(d.labels, want);
	/* honor_labels keeps the scraped values and adds only missing target labels. */
	read_series(e, "m", "job", "exp", &d);
	assert_int_equal(d.n_series, 1);
	assert_string_equal(d.labels, "__name__=m,a=b,exported_job=z,extra=x,instance=i2,job=exp");
	read_series(e, "up", "job", "honor", &d);
	assert_int_equal(d.n_series, 1);
	env_free(e);
}

static void test_ingest_scraper_honor_timestamps(void **state)
{
	env *e = env_new();
	int64_t ts = ts_now_ms() - 60000;
	char body[128];
	snprintf(body, sizeof(body), "old 7 %lld\nnow 8\n", (long long)ts);
	srv_body(&e->srv, body);
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: on\n"
		   "    scrape_interval: 250ms\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
		   "  - job_name: off\n"
		   "    scrape_interval: 250ms\n"
		   "    honor_timestamps: false\n"
		   "    static_configs: [{targets: ['localhost:%d']}]\n",
		   e->srv.port, e->srv.port);
	wait_scrapes(e, "on", 2);
	wait_scrapes(e, "off", 2);
	series_data d;
	read_series(e, "old", "job", "on", &d);
	assert_int_equal(d.n, 1); /* the same timestamp every scrape */
	assert_int_equal(d.t[0], ts);
	read_series(e, "old", "job", "off", &d);
	assert_true(d.n >= 2);
	assert_true(d.t[0] > ts + 50000);
	/* Series with their own timestamp get no staleness marker when they go. */
	uint64_t n_on = n_scrapes(e, "on"), n_off = n_scrapes(e, "off");
	srv_body(&e->srv, "now 8\n");
	wait_scrapes(e, "on", n_on + 2);
	wait_scrapes(e, "off", n_off + 2);
	read_series(e, "old", "job", "on", &d);
	assert_int_equal(count_stale(&d), 0);
	read_series(e, "old", "job", "off", &d);
	assert_int_equal(count_stale(&d), 1);
	env_free(e);
}

static void test_ingest_scraper_sample_limit(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\nb 2\nc 3\n");
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: j\n"
		   "    scrape_interval: 250ms\n"
		   "    sample_limit: 2\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
		   e->srv.port);
	ingest_scrape_target_info t = wait_scrapes(e, "j", 2);
	assert_int_equal(t.health, INGEST_SCRAPE_DOWN);
	assert_string_equal(t.last_error, "sample limit exceeded");
	series_data d;
	read_series(e, "a", NULL, NULL, &d);
	assert_int_equal(d.n_series, 0);
	assert_true(last_value(e, "up", NULL) == 0);
	assert_true(last_value(e, "scrape_samples_scraped", NULL) == 3);
	assert_true(last_value(e, "scrape_samples_post_metric_relabeling", NULL) == 2);
	/* Under the limit again: up. */
	uint64_t n0 = t.n_scrapes;
	srv_body(&e->srv, "a 1\nb 2\n");
	t = wait_scrapes(e, "j", n0 + 2);
	assert_int_equal(t.health, INGEST_SCRAPE_UP);
	assert_true(last_value(e, "a", NULL) == 1);
	env_free(e);
}

static void test_ingest_scraper_timeout(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\n");
	e->srv.delay_ms = 1000;
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: j\n"
		   "    scrape_interval: 500ms\n"
		   "    scrape_timeout: 150ms\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
		   e->srv.port);
	ingest_scrape_target_info t = wait_scrapes(e, "j", 1);
	assert_int_equal(t.health, INGEST_SCRAPE_DOWN);
	assert_non_null(strstr(t.last_error, "imed out"));
	assert_true(t.last_scrape_duration_s >= 0.14 && t.last_scrape_duration_s < 0.5);
	assert_true(last_value(e, "up", NULL) == 0);
	char req[4096];
	srv_last_req(&e->srv, req, sizeof(req));
	assert_non_null(strstr(req, "X-Prometheus-Scrape-Timeout-Seconds: 0.15\r\n"));
	env_free(e);
}

static void test_ingest_scraper_http_errors(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\n");
	e->srv.status = 404;
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: j\n"
		   "    scrape_interval: 250ms\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
		   "  - job_name: small\n"
		   "    scrape_interval: 250ms\n"
		   "    body_size_limit: 3\n"
		   "    static_configs: [{targets: ['localhost:%d']}]\n",
		   e->srv.port, e->srv.port);
	ingest_scrape_target_info t = wait_scrapes(e, "j", 1);
	assert_string_equal(t.last_error, "server returned HTTP status 404 Not Found");
	pthread_mutex_lock(&e->srv.mu);
	e->srv.status = 200;
	pthread_mutex_unlock(&e->srv.mu);
	uint64_t n = n_scrapes(e, "small");
	t = wait_scrapes(e, "small", n + 1);
	assert_string_equal(t.last_error, "body size limit exceeded");
	env_free(e);
}

static void test_ingest_scraper_gzip_openmetrics(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "# TYPE c counter\nc_total 3 1795231500.004\nd 4\n# EOF\n");
	pthread_mutex_lock(&e->srv.mu);
	e->srv.is_gzip = true;
	snprintf(e->srv.content_type, sizeof(e->srv.content_type),
		 "application/openmetrics-text; version=1.0.0; charset=utf-8");
	pthread_mutex_unlock(&e->srv.mu);
	env_scrape(e, job_yaml, "j", e->srv.port);
	ingest_scrape_target_info t = wait_scrapes(e, "j", 1);
	assert_string_equal(t.last_error, "");
	series_data d;
	read_series(e, "c_total", NULL, NULL, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.t[0], 1795231500004LL);
	assert_true(last_value(e, "d", NULL) == 4);
	env_free(e);
}

static void test_ingest_scraper_auth_headers(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\n");
	char tok[600], tokpath[512];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(tokpath, sizeof(tokpath), "%s/scrape_token.%d", STRATA_TEST_TMP, (int)getpid());
	FILE *f = fopen(tokpath, "w");
	assert_non_null(f);
	fputs("  s3cret\n", f);
	fclose(f);
	snprintf(tok, sizeof(tok), "%s", tokpath);
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: basic\n"
		   "    scrape_interval: 1h\n"
		   "    basic_auth: {username: u, password: p}\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
		   e->srv.port);
	wait_scrapes(e, "basic", 1);
	char req[4096];
	srv_last_req(&e->srv, req, sizeof(req));
	assert_non_null(strstr(req, "Authorization: Basic dTpw\r\n"));
	ingest_scraper_stop(e->s);
	e->s = NULL;

	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: bearer\n"
		   "    scrape_interval: 1h\n"
		   "    bearer_token_file: %s\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
		   tok, e->srv.port);
	wait_scrapes(e, "bearer", 1);
	srv_last_req(&e->srv, req, sizeof(req));
	assert_non_null(strstr(req, "Authorization: Bearer s3cret\r\n"));
	ingest_scraper_stop(e->s);
	e->s = NULL;

	/* An unreadable secret fails the scrape before any request. */
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: missing\n"
		   "    scrape_interval: 1h\n"
		   "    authorization: {credentials_file: /nonexistent/cred}\n"
		   "    static_configs: [{targets: ['127.0.0.1:%d']}]\n",
		   e->srv.port);
	ingest_scrape_target_info t = wait_scrapes(e, "missing", 1);
	assert_string_equal(t.last_error, "unable to read authorization credentials file "
					  "/nonexistent/cred: No such file or directory");
	env_free(e);
	remove(tokpath);
}

static void write_file(const char *path, const char *text)
{
	char tmp[600];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_true(n > 0 && (size_t)n < sizeof(tmp));
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_ingest_scraper_file_sd(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\n");
	char dir[512], path[600], text[512];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/file_sd.%d", STRATA_TEST_TMP, (int)getpid());
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/targets.json", dir);
	remove(path);
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: sd\n"
		   "    scrape_interval: 250ms\n"
		   "    file_sd_configs: [{files: ['%s/*.json'], refresh_interval: 1h}]\n",
		   dir);
	ingest_scrape_target_info t;
	assert_false(target_info(e, "sd", &t));

	/* A target appears. */
	snprintf(text, sizeof(text),
		 "[{\"targets\": [\"127.0.0.1:%d\"], \"labels\": {\"v\": \"1\"}}]", e->srv.port);
	write_file(path, text);
	t = wait_scrapes(e, "sd", 2);
	assert_int_equal(t.health, INGEST_SCRAPE_UP);
	series_data d;
	read_series(e, "a", NULL, NULL, &d);
	assert_int_equal(d.n_series, 1);
	assert_non_null(strstr(d.labels, ",v=1"));
	ingest_scrape_target_info *v = NULL;
	size_t n = 0;
	assert_int_equal(ingest_scraper_targets(e->s, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	assert_non_null(
	    ts_labels_get(v[0].discovered_labels, v[0].n_discovered_labels, "__meta_filepath"));
	assert_null(ts_labels_get(v[0].labels, v[0].n_labels, "__meta_filepath"));
	ingest_scrape_targets_free(v, n);

	/* Its labels change: a new target; the old one ends with staleness markers. */
	snprintf(text, sizeof(text),
		 "[{\"targets\": [\"127.0.0.1:%d\"], \"labels\": {\"v\": \"2\"}}]", e->srv.port);
	write_file(path, text);
	int64_t end = ts_now_ms() + WAIT_MS;
	for (;;) {
		read_series(e, "a", NULL, NULL, &d);
		series_data up1;
		read_series(e, "up", "v", "1", &up1);
		if (d.n_series == 2 && count_stale(&up1) > 0)
			break;
		assert_true(ts_now_ms() < end);
		usleep(20000);
	}
	assert_int_equal(ingest_scraper_targets(e->s, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ts_labels_get(v[0].labels, v[0].n_labels, "v"), "2");
	ingest_scrape_targets_free(v, n);

	/* The file goes: the target goes. */
	remove(path);
	end = ts_now_ms() + WAIT_MS;
	while (target_info(e, "sd", &t)) {
		assert_true(ts_now_ms() < end);
		usleep(20000);
	}
	env_free(e);
	rmdir(dir);
}

/* The old target's series got exactly one marker at end of run (checked separately). */
static void test_ingest_scraper_end_of_run_markers(void **state)
{
	env *e = env_new();
	srv_body(&e->srv, "a 1\n");
	char dir[512], path[600], text[512];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/file_sd2.%d", STRATA_TEST_TMP, (int)getpid());
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/t.yml", dir);
	snprintf(text, sizeof(text), "- targets: ['127.0.0.1:%d']\n", e->srv.port);
	write_file(path, text);
	env_scrape(e,
		   "scrape_configs:\n"
		   "  - job_name: sd\n"
		   "    scrape_interval: 250ms\n"
		   "    file_sd_configs: [{files: ['%s']}]\n",
		   path);
	wait_scrapes(e, "sd", 2);
	write_file(path, "[]\n");
	int64_t end = ts_now_ms() + WAIT_MS;
	series_data a, up;
	for (;;) {
		read_series(e, "a", NULL, NULL, &a);
		read_series(e, "up", NULL, NULL, &up);
		if (count_stale(&a) && count_stale(&up))
			break;
		assert_true(ts_now_ms() < end);
		usleep(20000);
	}
	assert_true(is_stale(a.v[a.n - 1]));
	assert_true(is_stale(up.v[up.n - 1]));
	/* At the time the next scrape would have been: one interval after the last. */
	assert_true(a.t[a.n - 1] - a.t[a.n - 2] > 0 && a.t[a.n - 1] - a.t[a.n - 2] <= 600);
	usleep(600000);
	read_series(e, "a", NULL, NULL, &a);
	assert_int_equal(count_stale(&a), 1);
	env_free(e);
	remove(path);
	rmdir(dir);
}

int main(void)
{
	if (getenv("SCRAPE_TEST_DEBUG"))
		ts_log_set_level(TS_LOG_DEBUG);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_scraper_scrape_basic),
	    cmocka_unit_test(test_ingest_scraper_targets_snapshot),
	    cmocka_unit_test(test_ingest_scraper_stale_series_disappears),
	    cmocka_unit_test(test_ingest_scraper_stale_target_down),
	    cmocka_unit_test(test_ingest_scraper_parse_error_drops_scrape),
	    cmocka_unit_test(test_ingest_scraper_honor_labels),
	    cmocka_unit_test(test_ingest_scraper_honor_timestamps),
	    cmocka_unit_test(test_ingest_scraper_sample_limit),
	    cmocka_unit_test(test_ingest_scraper_timeout),
	    cmocka_unit_test(test_ingest_scraper_http_errors),
	    cmocka_unit_test(test_ingest_scraper_gzip_openmetrics),
	    cmocka_unit_test(test_ingest_scraper_auth_headers),
	    cmocka_unit_test(test_ingest_scraper_file_sd),
	    cmocka_unit_test(test_ingest_scraper_end_of_run_markers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
