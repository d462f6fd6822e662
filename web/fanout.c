/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout.c: cluster.role query: read every store node in parallel and merge.
 *
 * A query node has no store. Its PromQL engine reads through the query_source this file
 * provides (query.h): for each selector, one POST /internal/v1/select per store of the
 * static cluster.stores list, all in flight at once on one libcurl multi handle, bounded
 * by the fan-out timeout. Answers (docs/formats/internal_read.md) are decoded into
 * web_rseries and merged: series with equal label sets from several stores (a store
 * still holds the data of partitions it used to own, and both owners of a partition
 * during a handover hold some of it) become one series whose samples are merged by
 * timestamp, an identical timestamp kept once (the first store's value; owners hold the
 * same record, so the values agree).
 *
 * Partial answers: a store that cannot be reached, times out or answers 5xx is skipped
 * and the result carries the warning "store <host:port> unavailable: partial result"
 * (Prometheus' and Thanos' partial response). When no store answers the query fails
 * with TS_EUNAVAIL. A 4xx answer (bad selector, a store's limit) fails the query with
 * the store's message: a complete-looking answer must not silently miss data.
 *
 * The HTTP side of the role (web_api_fanout_routes): /api/v1/query and query_range
 * (api_query.c's handlers over the engine), /api/v1/labels, /api/v1/label/<n>/values
 * and /api/v1/series answered here from the stores' internal label and select endpoints,
 * /-/healthy and /-/ready; every other /api/ path answers 503 naming the role.
 *
 * Does not: discover stores (the list is static config), pick one replica per partition
 * (every listed store is asked; listing two replica groups is correct, deduplicated,
 * but reads twice), cache, or authenticate to the stores (their internal API must be
 * reachable without credentials from the query node).
 *
 * Tested by tests/web/test_fanout.c (decoding, merge, an unreachable store) and
 * tests/integration/test_cluster_query.sh (2 ingest + 2 store + 1 query on Kafka's mock
 * cluster, a store killed).
 */
#include "web/web_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FANOUT_MAX_ANSWER_BYTES   ((size_t)1 << 30) /* per store and request */
#define FANOUT_CONNECT_TIMEOUT_MS 2000
#define MIN_TIME_MS               (INT64_MIN / 4)
#define MAX_TIME_MS               (INT64_MAX / 4)

struct web_fanout {
	char **stores; /* "host:port", owned; immutable after new */
	size_t n_stores;
	int64_t timeout_ms;  /* one fan-out round */
	int64_t max_samples; /* per store answer (sent as max_samples) */
	query_source src;    /* select = fanout_select, ctx = this */
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
	CURL *h;
	ts_buf body;   /* the store's answer */
	CURLcode code; /* transfer result */
	long status;   /* HTTP status (0: none) */
	char curl_msg[CURL_ERROR_SIZE];
} fetch;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	fetch *f = ud;
	size_t n = size * nmemb;
	return ts_buf_append(&f->body, p, n) == TS_OK ? n : 0;
}

/* POST form to path on every store at once; fills fs[i] (caller frees bodies). */
static int fetch_all(web_fanout *f, const char *path, const char *form, fetch *fs, ts_err *err)
{
	CURLM *multi = curl_multi_init();
	if (!multi)
		return ts_err_set(err, TS_ENOMEM, "fan-out: curl_multi_init failed");
	int rc = TS_OK;
	for (size_t i = 0; i < f->n_stores; i++) {
		fetch *x = &fs[i];
		ts_buf_init(&x->body, FANOUT_MAX_ANSWER_BYTES);
		x->code = CURLE_FAILED_INIT;
		x->h = curl_easy_init();
		if (!x->h) {
			rc = ts_err_set(err, TS_ENOMEM, "fan-out: curl_easy_init failed");
			continue;
		}
		char url[600];
		snprintf(url, sizeof(url), "http://%s%s", f->stores[i], path);
		curl_easy_setopt(x->h, CURLOPT_URL, url);
		curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
		curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, (long)FANOUT_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->curl_msg);
		curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
		curl_multi_add_handle(multi, x->h);
	}
	int running = 1;
	while (rc == TS_OK && running) {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(multi, &left)))
		if (msg->msg == CURLMSG_DONE) {
			fetch *x = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			x->code = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &x->status);
		}
	for (size_t i = 0; i < f->n_stores; i++)
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
	for (size_t i = 0; fs && i < n; i++)
		ts_buf_free(&fs[i].body);
	ts_free(fs);
}

/* Is store i's answer usable? Unavailable stores add to the warning; a 4xx is an error. */
static int classify(web_fanout *f, fetch *x, size_t i, char *warning, size_t cap, ts_err *err)
{
	if (x->code == CURLE_OK && x->status == 200)
		return TS_OK;
	if (x->code == CURLE_OK && x->status >= 400 && x->status < 500) {
		/* The store refused the request: pass its message on ("error":"..."). */
		const char *m = x->body.data ? strstr(x->body.data, "\"error\":\"") : NULL;
		const char *e = m ? strchr(m + 9, '"') : NULL;
		int len = m && e ? (int)(e - m - 9) : 0;
		return ts_err_set(err, x->status == 422 ? TS_ELIMIT : TS_EINVAL,
				  "store %s answered %ld: %.*s", f->stores[i], x->status,
				  len > 180 ? 180 : len, m ? m + 9 : "");
	}
	if (warning && !warning[0])
		snprintf(warning, cap, "store %s unavailable: partial result", f->stores[i]);
	if (x->code != CURLE_OK)
		ts_log_debug("fan-out: store %s: %s", f->stores[i],
			     x->curl_msg[0] ? x->curl_msg : curl_easy_strerror(x->code));
	return TS_ENOTFOUND; /* skip this store */
}

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

/* One fan-out round: form to path on every store; answers kept in *out (owned). */
static int round_trip(web_fanout *f, const char *path, const ts_buf *form, fetch **out,
		      size_t *n_ok, char *warning, size_t cap, ts_err *err)
{
	fetch *fs = ts_calloc(f->n_stores, sizeof(*fs));
	if (!fs)
		return ts_err_set(err, TS_ENOMEM, "out of memory in the fan-out");
	int rc = fetch_all(f, path, form->data ? form->data : "", fs, err);
	size_t ok = 0;
	for (size_t i = 0; rc == TS_OK && i < f->n_stores; i++) {
		int c = classify(f, &fs[i], i, warning, cap, err);
		if (c == TS_OK)
			ok++;
		else if (c != TS_ENOTFOUND)
			rc = c;
		else
			fs[i].status = 0; /* mark as skipped */
	}
	if (rc == TS_OK && ok == 0)
		rc = ts_err_set(err, TS_EUNAVAIL, "no store answered (%zu asked; first: %s)",
				f->n_stores, f->stores[0]);
	if (rc) {
		fetch_free_all(fs, f->n_stores);
		return rc;
	}
	*out = fs;
	*n_ok = ok;
	return TS_OK;
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

/* Select over every store and pass the merged series to fn. */
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
	if (rc) {
		ts_buf_free(&form);
		return ts_err_set(err, rc, "fan-out request too large");
	}
	fetch *fs = NULL;
	size_t ok = 0;
	rc = round_trip(f, "/internal/v1/select", &form, &fs, &ok, warning, cap, err);
	ts_buf_free(&form);
	if (rc)
		return rc;
	web_rseries **v = NULL;
	size_t n_v = 0;
	for (size_t i = 0; rc == TS_OK && i < f->n_stores; i++)
		if (fs[i].status == 200) {
			rc = web_rseries_decode(fs[i].body.data, fs[i].body.len, (int)i, &v, &n_v,
						err);
			ts_buf_free(&fs[i].body); /* decoded: release early */
		}
	fetch_free_all(fs, f->n_stores);
	if (rc == TS_OK)
		rc = web_rseries_merge(v, n_v, max_series, fn, arg, err);
	web_rseries_free_all(v, n_v);
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
	f->src.select = fanout_select;
	f->src.ctx = f;
	*out = f;
	return TS_OK;
}

void web_fanout_free(web_fanout *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_stores; i++)
		ts_free(f->stores[i]);
	ts_free(f->stores);
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

/* /api/v1/labels and /api/v1/label/<name>/values over every store. */
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
		fetch *fs = NULL;
		size_t ok = 0;
		rc = round_trip(s->opt.fanout, path, &form, &fs, &ok, warning, sizeof(warning), &e);
		ts_buf_free(&form);
		for (size_t i = 0; rc == TS_OK && i < s->opt.fanout->n_stores; i++)
			if (fs[i].status == 200)
				rc = strings_decode(fs[i].body.data, fs[i].body.len, &all, &n_all,
						    &e);
		if (fs)
			fetch_free_all(fs, s->opt.fanout->n_stores);
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
	const char *rest = web_req_path_rest(req); /* "<name>/values" */
	const char *slash = strchr(rest, '/');
	if (!slash || strcmp(slash, "/values") != 0 || slash == rest)
		return web_resp_error(resp, 404, "not_found", "unknown path %s", web_req_path(req));
	char name[256];
	size_t n = (size_t)(slash - rest);
	if (n >= sizeof(name) || !ts_label_name_valid(rest, n))
		return web_resp_error(resp, 400, "bad_data", "invalid label name: \"%.*s\"",
				      (int)(n > 200 ? 200 : n), rest);
	memcpy(name, rest, n);
	name[n] = '\0';
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
	    {"GET", "/-/healthy", h_healthy},           {"GET", "/-/ready", h_ready},
	    {"GET", "/api/v1/labels", h_labels},        {"POST", "/api/v1/labels", h_labels},
	    {"GET", "/api/v1/label/*", h_label_values}, {"GET", "/api/v1/series", h_series},
	    {"POST", "/api/v1/series", h_series},       {NULL, "/api/*", h_role_query},
	};
	int rc = web_api_query_routes(s, err); /* query and query_range (no store needed) */
	for (size_t i = 0; rc == TS_OK && i < sizeof(routes) / sizeof(routes[0]); i++)
		rc = web_http_route(s->http, routes[i].method, routes[i].path, routes[i].h, s, err);
	return rc;
}
