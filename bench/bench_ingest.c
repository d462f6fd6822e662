/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ingest.c: line-protocol ingest load generator.
 *
 * Reads a line-protocol file (plain or .gz) into memory, cuts it into batches of N lines
 * (default 5,000), and posts every batch exactly once, spread over C keep-alive
 * connections (one thread and one libcurl handle each), to URL (e.g.
 * http://127.0.0.1:9470/write?precision=ns or InfluxDB's
 * http://127.0.0.1:8086/write?db=bench). Counts the samples (field values) in batches
 * answered 2xx and prints acknowledged samples/s. Any non-2xx answer is counted and
 * reported; the run is bounded by the data and by --max-seconds.
 *
 *   bench_ingest URL FILE [--batch 5000] [--conns 4] [--max-seconds 120]
 *                [--remote-write N]
 *
 * --remote-write N: post Prometheus remote write requests instead (URL .../api/v1/write):
 * before the clock starts, the file is parsed with Strata's line-protocol parser
 * (precision ns) and every N samples, in file order, are encoded as one snappy-compressed
 * WriteRequest of N one-sample TimeSeries, the shape Prometheus' queue manager sends
 * (max_samples_per_send defaults to 500 in 2.42). --batch is ignored then.
 *
 * Output (one line, key=value, for scripts): samples=... seconds=... samples_per_s=...
 * batches=... failed=... prep_seconds=... (reading and preparing the data, before the
 * clock started)
 */
#include "ingest/line_protocol.h"
#include "ingest/remote_write.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

typedef struct batch {
	const char *data;
	size_t len;
	size_t n_samples; /* field values in the batch */
} batch;

typedef struct shared {
	const char *url;
	bool is_remote_write; /* post snappy protobuf, not line protocol */
	batch *batches;
	size_t n_batches;
	_Atomic size_t next;
	_Atomic uint64_t ok_samples, ok_batches, failed;
	double deadline;
	char first_error[512];
	pthread_mutex_t lock;
} shared;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *read_all(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		int got =
		    gzread(f, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	gzclose(f);
	*len = n;
	return buf;
}

/* Samples in one line: the number of fields (commas in the field set, outside quotes). */
static size_t count_fields(const char *p, const char *end)
{
	/* Skip measurement and tags: up to the first unescaped space. */
	while (p < end && *p != ' ') {
		if (*p == '\\' && p + 1 < end)
			p++;
		p++;
	}
	size_t n = 1;
	int in_quotes = 0;
	for (p++; p < end && !(*p == ' ' && !in_quotes); p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
			continue;
		}
		if (*p == '"')
			in_quotes = !in_quotes;
		else if (*p == ',' && !in_quotes)
			n++;
	}
	return n;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

static void *worker(void *arg)
{
	shared *s = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	if (s->is_remote_write) {
		hdr = curl_slist_append(hdr, "Content-Type: application/x-protobuf");
		hdr = curl_slist_append(hdr, "Content-Encoding: snappy");
		hdr = curl_slist_append(hdr, "X-Prometheus-Remote-Write-Version: 0.1.0");
	} else {
		hdr = curl_slist_append(hdr, "Content-Type: text/plain");
	}
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	for (;;) {
		size_t i = atomic_fetch_add(&s->next, 1);
		if (i >= s->n_batches || now_s() > s->deadline)
			break;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->batches[i].data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->batches[i].len);
		CURLcode rc = curl_easy_perform(c);
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status >= 200 && status < 300) {
			atomic_fetch_add(&s->ok_samples, s->batches[i].n_samples);
			atomic_fetch_add(&s->ok_batches, 1);
		} else {
			if (atomic_fetch_add(&s->failed, 1) == 0) {
				pthread_mutex_lock(&s->lock);
				snprintf(s->first_error, sizeof(s->first_error), "curl=%d http=%ld",
					 (int)rc, status);
				pthread_mutex_unlock(&s->lock);
			}
		}
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return NULL;
}

/* ---------------------------------------------------------------- remote write */

/* Samples being collected into the next request (labels copied: the parser reuses its). */
typedef struct rw_builder {
	size_t per_req;           /* samples per request */
	ingest_rw_series *series; /* per_req entries */
	int64_t *t;               /* per_req timestamps */
	double *v;                /* per_req values */
	ts_label *labels;         /* all labels of the pending samples */
	size_t n_labels, cap_labels;
	char *strs; /* their strings */
	size_t n_strs, cap_strs;
	size_t n; /* pending samples */
	batch *reqs;
	size_t n_reqs, cap_reqs;
	int failed; /* encoding failed */
} rw_builder;

static int rw_flush(rw_builder *r)
{
	if (r->n == 0)
		return 0;
	size_t li = 0;
	for (size_t i = 0; i < r->n; i++) { /* strings were stored as offsets */
		r->series[i].labels = &r->labels[li];
		for (size_t k = 0; k < r->series[i].n_labels; k++, li++) {
			r->labels[li].name = r->strs + (uintptr_t)r->labels[li].name;
			r->labels[li].value = r->strs + (uintptr_t)r->labels[li].value;
		}
		r->series[i].t_ms = &r->t[i];
		r->series[i].v = &r->v[i];
		r->series[i].n_samples = 1;
	}
	ts_buf out;
	ts_buf_init(&out, (size_t)256 << 20);
	ts_err err = {0};
	if (ingest_remote_write_encode(r->series, r->n, NULL, 0, &out, &err) != TS_OK) {
		fprintf(stderr, "remote write encode: %s\n", err.msg);
		r->failed = 1;
		return -1;
	}
	if (r->n_reqs == r->cap_reqs) {
		r->cap_reqs = r->cap_reqs ? r->cap_reqs * 2 : 1024;
		r->reqs = realloc(r->reqs, r->cap_reqs * sizeof(*r->reqs));
	}
	size_t len;
	char *body = ts_buf_take(&out, &len);
	r->reqs[r->n_reqs++] = (batch){body, len, r->n};
	r->n = r->n_labels = r->n_strs = 0;
	return 0;
}

static size_t rw_str(rw_builder *r, const char *s)
{
	size_t len = strlen(s) + 1;
	while (r->n_strs + len > r->cap_strs) {
		r->cap_strs = r->cap_strs ? r->cap_strs * 2 : 1 << 20;
		r->strs = realloc(r->strs, r->cap_strs);
	}
	memcpy(r->strs + r->n_strs, s, len);
	r->n_strs += len;
	return r->n_strs - len;
}

static int rw_sink(void *ctx, const ts_label *labels, size_t n_labels, int64_t t_ms, double v)
{
	rw_builder *r = ctx;
	while (r->n_labels + n_labels > r->cap_labels) {
		r->cap_labels = r->cap_labels ? r->cap_labels * 2 : 4096;
		r->labels = realloc(r->labels, r->cap_labels * sizeof(*r->labels));
	}
	for (size_t k = 0; k < n_labels; k++) {
		ts_label *l = &r->labels[r->n_labels++];
		l->name = (const char *)(uintptr_t)rw_str(r, labels[k].name);
		l->value = (const char *)(uintptr_t)rw_str(r, labels[k].value);
	}
	r->series[r->n].n_labels = n_labels;
	r->t[r->n] = t_ms;
	r->v[r->n] = v;
	if (++r->n == r->per_req && rw_flush(r))
		return TS_EINVAL;
	return TS_OK;
}

/* Parse the whole file and cut it into remote write requests of per_req samples. */
static batch *rw_requests(const char *data, size_t len, size_t per_req, size_t *n_out)
{
	rw_builder r = {.per_req = per_req};
	r.series = calloc(per_req, sizeof(*r.series));
	r.t = malloc(per_req * sizeof(*r.t));
	r.v = malloc(per_req * sizeof(*r.v));
	ingest_lp_result res = {0};
	ts_err err = {0};
	int rc = ingest_lp_parse(data, len, INGEST_PREC_NS, 0, NULL, rw_sink, &r, &res, &err);
	if (rc == TS_OK)
		rw_flush(&r);
	free(r.series);
	free(r.t);
	free(r.v);
	free(r.labels);
	free(r.strs);
	if (rc != TS_OK || r.failed || res.n_bad_lines) {
		fprintf(stderr, "cannot build remote write requests: %s (bad lines %zu)\n", err.msg,
			res.n_bad_lines);
		return NULL;
	}
	*n_out = r.n_reqs;
	return r.reqs;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s URL FILE [--batch N] [--conns C] [--max-seconds S]\n",
			argv[0]);
		return 2;
	}
	size_t batch_lines = 5000;
	int conns = 4;
	double max_s = 120;
	size_t rw_per_req = 0; /* 0: line protocol */
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--batch"))
			batch_lines = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--conns"))
			conns = (int)strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--max-seconds"))
			max_s = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--remote-write"))
			rw_per_req = strtoul(argv[i + 1], NULL, 10);
	}
	if (batch_lines == 0 || conns < 1 || conns > 256) {
		fprintf(stderr, "bad --batch or --conns\n");
		return 2;
	}
	double t_prep = now_s();
	size_t len;
	char *data = read_all(argv[2], &len);
	if (!data) {
		fprintf(stderr, "cannot read %s\n", argv[2]);
		return 1;
	}
	/* Cut into batches of batch_lines lines; each batch is a NUL-free slice of data. */
	size_t cap = 1024, n = 0;
	batch *b = rw_per_req ? rw_requests(data, len, rw_per_req, &n) : malloc(cap * sizeof(*b));
	if (!b)
		return 1;
	const char *p = data, *end = rw_per_req ? data : data + len;
	while (p < end) {
		const char *start = p;
		size_t lines = 0, samples = 0;
		while (p < end && lines < batch_lines) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;
			if (le > p && *p != '#') {
				samples += count_fields(p, le);
				lines++;
			}
			p = nl ? nl + 1 : end;
		}
		if (n == cap)
			b = realloc(b, (cap *= 2) * sizeof(*b));
		b[n++] = (batch){start, (size_t)(p - start), samples};
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	shared s = {
	    .url = argv[1], .is_remote_write = rw_per_req > 0, .batches = b, .n_batches = n};
	pthread_mutex_init(&s.lock, NULL);
	double t0 = now_s();
	s.deadline = t0 + max_s;
	pthread_t *th = malloc((size_t)conns * sizeof(*th));
	for (int i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, worker, &s);
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	double secs = now_s() - t0;
	uint64_t ok = atomic_load(&s.ok_samples);
	printf("samples=%llu seconds=%.3f samples_per_s=%.0f batches=%llu failed=%llu "
	       "prep_seconds=%.3f%s%s\n",
	       (unsigned long long)ok, secs, ok / secs,
	       (unsigned long long)atomic_load(&s.ok_batches),
	       (unsigned long long)atomic_load(&s.failed), t0 - t_prep,
	       s.first_error[0] ? " first_error=" : "", s.first_error);
	curl_global_cleanup();
	free(th);
	for (size_t i = 0; rw_per_req && i < n; i++)
		ts_free((void *)b[i].data);
	free(b);
	free(data);
	return atomic_load(&s.failed) ? 1 : 0;
}
