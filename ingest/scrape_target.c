/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scrape_target.c: one scrape target: built from discovery, and the append side of its
 * scrape loop (ingest/scrape_int.h; the manager is scrape.c).
 *
 * Building (Prometheus 2.42 scrape/target.go PopulateLabels, without relabeling): the
 * group's labels, __address__, __meta_filepath for file_sd, then job, __scrape_interval__,
 * __scrape_timeout__, __metrics_path__ and __scheme__ unless the group set them, and
 * __param_<name> for the first value of each URL parameter. Those are the discovered
 * labels. A missing port becomes 80/443, __meta_ labels go, instance defaults to the
 * address; the public labels (no "__" prefix) are the target labels added to every
 * series. Group labels may thus override the path, scheme, interval and timeout of one
 * target, as in Prometheus. The URL is Target.URL(): params with __param_ overrides,
 * sorted by name and query-escaped.
 *
 * Appending a scrape (Prometheus scrapeLoop.append/report):
 *   - the scrape cache maps each exposed series (after target labels) to an entry that
 *     owns its final label set; the parser's samples become (entry, t, v) triples and
 *     are only added to the batch after the whole body parsed, so a failed scrape adds
 *     nothing but staleness markers whatever the batch implementation does;
 *   - target labels: honor_labels keeps scraped values on conflict, otherwise the scraped
 *     label is renamed exported_<name>, shortest names first, repeating the prefix until
 *     it clashes with nothing (resolveConflictingExposedLabels);
 *   - staleness: entries the previous good scrape exposed without a timestamp and this
 *     one did not get StaleNaN at the scrape time; after a failed scrape, all of them;
 *     the cache then holds exactly the series of the last good scrape;
 *   - synthetic series: up, scrape_duration_seconds, scrape_samples_scraped,
 *     scrape_samples_post_metric_relabeling (= samples appended: there is no metric
 *     relabeling), scrape_series_added, with the target labels only.
 */
#include "ingest/scrape_int.h"

#include "ingest/exposition.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_TS         INT64_MIN    /* default_t_ms sentinel: the sample had no timestamp */
#define BODY_MAX      (256u << 20) /* response bytes when body_size_limit is 0 */
#define SAMPLES_MAX   (1u << 26)   /* samples (and cache entries) of one scrape */
#define XNAME_MAX     512          /* an exported_... label name */
#define MAX_CONFLICTS 64           /* target labels a sample may clash with */

static const char *const report_names[INGEST_SCRAPE_N_REPORT] = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
};

/* Format a message, truncating it if needed (messages are bounded by design). */
static void msgf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

int ingest_scrape_label_cmp(const void *a, const void *b)
{
	return strcmp(((const ts_label *)a)->name, ((const ts_label *)b)->name);
}

int ingest_scrape_grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
	if (need <= *cap)
		return TS_OK;
	if (need > max)
		return TS_ELIMIT;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	void *q = ts_realloc(*p, n * elem);
	if (!q)
		return TS_ENOMEM;
	*p = q;
	*cap = n;
	return TS_OK;
}

/* ================================================================ scrape cache */

static void cache_index_put(ingest_scrape_target *t, size_t i)
{
	size_t mask = t->cap_index - 1;
	size_t h = (size_t)t->cache[i]->hash & mask;
	while (t->index[h])
		h = (h + 1) & mask;
	t->index[h] = (uint32_t)(i + 1);
}

static int cache_reindex(ingest_scrape_target *t, size_t want)
{
	size_t cap = 64;
	while (cap < want * 2)
		cap *= 2;
	if (cap != t->cap_index) {
		uint32_t *ix = ts_malloc(cap * sizeof(*ix));
		if (!ix)
			return TS_ENOMEM;
		ts_free(t->index);
		t->index = ix;
		t->cap_index = cap;
	}
	memset(t->index, 0, t->cap_index * sizeof(*t->index));
	for (size_t i = 0; i < t->n_cache; i++)
		cache_index_put(t, i);
	return TS_OK;
}

static bool labels_equal(const ingest_scrape_series *e, const ts_label *l, size_t n)
{
	if (e->n_labels != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(e->labels[i].name, l[i].name) || strcmp(e->labels[i].value, l[i].value))
			return false;
	return true;
}

/* The entry for labels (returned borrowed), created if new (*is_new). */
static int cache_get(ingest_scrape_target *t, const ts_label *l, size_t n,
		     ingest_scrape_series **out, bool *is_new)
{
	uint64_t hash = ts_series_hash(l, n);
	if (t->cap_index) {
		size_t mask = t->cap_index - 1;
		for (size_t h = (size_t)hash & mask; t->index[h]; h = (h + 1) & mask) {
			ingest_scrape_series *e = t->cache[t->index[h] - 1];
			if (e->hash == hash && labels_equal(e, l, n)) {
				*out = e;
				*is_new = false;
				return TS_OK;
			}
		}
	}
	size_t bytes = sizeof(ingest_scrape_series) + n * sizeof(ts_label);
	for (size_t i = 0; i < n; i++)
		bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
	int rc = ingest_scrape_grow((void **)&t->cache, &t->cap_cache, t->n_cache + 1,
				    sizeof(*t->cache), SAMPLES_MAX);
	if (rc)
		return rc;
	ingest_scrape_series *e = ts_malloc(bytes);
	if (!e)
		return TS_ENOMEM;
	memset(e, 0, sizeof(*e));
	e->hash = hash;
	e->created_iter = t->iter;
	e->n_labels = n;
	e->labels = (ts_label *)(e + 1);
	char *p = (char *)(e->labels + n);
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
		memcpy(p, l[i].name, a);
		e->labels[i].name = p;
		p += a;
		memcpy(p, l[i].value, b);
		e->labels[i].value = p;
		p += b;
	}
	t->cache[t->n_cache++] = e;
	if (t->n_cache * 2 > t->cap_index) {
		if ((rc = cache_reindex(t, t->n_cache))) {
			ts_free(t->cache[--t->n_cache]);
			return rc;
		}
	} else {
		cache_index_put(t, t->n_cache - 1);
	}
	*out = e;
	*is_new = true;
	return TS_OK;
}

/* Keep the entries this scrape exposed (keep_seen) or none; rebuild the index. */
static void cache_compact(ingest_scrape_target *t, bool keep_seen)
{
	size_t w = 0;
	for (size_t i = 0; i < t->n_cache; i++) {
		ingest_scrape_series *e = t->cache[i];
		if (keep_seen && e->last_iter == t->iter)
			t->cache[w++] = e;
		else
			ts_free(e);
	}
	bool shrunk = w != t->n_cache;
	t->n_cache = w;
	if (shrunk && cache_reindex(t, w ? w : 1) != TS_OK) {
		/* A smaller index could not be allocated: rebuild the current one. */
		memset(t->index, 0, t->cap_index * sizeof(*t->index));
		for (size_t i = 0; i < t->n_cache; i++)
			cache_index_put(t, i);
	}
}

/* ================================================================ sample path */

/*
 * Merge the scraped labels e[0..ne) with the target's public labels into t->scratch, as
 * Prometheus' mutateSampleLabels. Returns the count, or 0 when a renamed label does not
 * fit (the scrape then fails with TS_ELIMIT).
 */
static size_t merge_labels(ingest_scrape_target *t, const ts_label *e, size_t ne)
{
	const ts_label *pub = t->pub;
	size_t np = t->n_pub, i = 0, j = 0, n = 0, n_conf = 0;
	ts_label *out = t->scratch;
	ts_label conf[MAX_CONFLICTS];
	bool honor = t->job->honor_labels;
	while (i < ne || j < np) {
		int c = i == ne ? 1 : j == np ? -1 : strcmp(e[i].name, pub[j].name);
		if (c < 0) {
			out[n++] = e[i++];
		} else if (c > 0) {
			out[n++] = pub[j++];
		} else if (honor) {
			out[n++] = e[i++];
			j++;
		} else {
			if (n_conf == sizeof(conf) / sizeof(conf[0]))
				return 0;
			conf[n_conf++] = e[i++];
			out[n++] = pub[j++];
		}
	}
	if (!n_conf)
		return n;
	/* resolveConflictingExposedLabels: shortest names first, each prefixed with
	 * exported_ until it clashes with no scraped, target or earlier renamed label. */
	for (size_t a = 1; a < n_conf; a++)
		for (size_t b = a; b > 0 && strlen(conf[b - 1].name) > strlen(conf[b].name); b--) {
			ts_label tmp = conf[b];
			conf[b] = conf[b - 1];
			conf[b - 1] = tmp;
		}
	for (size_t k = 0; k < n_conf; k++) {
		char *name = t->xnames + k * XNAME_MAX;
		size_t len = strlen(conf[k].name);
		if (len >= XNAME_MAX)
			return 0;
		memcpy(name, conf[k].name, len + 1);
		for (;;) {
			if (len + 9 >= XNAME_MAX)
				return 0;
			memmove(name + 9, name, len + 1);
			memcpy(name, "exported_", 9);
			len += 9;
			bool clash = ts_labels_get(e, ne, name) || ts_labels_get(pub, np, name);
			for (size_t q = 0; q < k && !clash; q++)
				clash = !strcmp(conf[q].name, name);
			if (!clash)
				break;
		}
		conf[k].name = name;
		out[n++] = conf[k];
	}
	qsort(out, n, sizeof(*out), ingest_scrape_label_cmp);
	return n;
}

/* The exposition parser's sink for a target's scrape. */
static int scrape_sink(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	ingest_scrape_target *t = ctx;
	t->n_total++;
	bool has_ts = t_ms != NO_TS && t->job->honor_timestamps;
	if (!has_ts)
		t_ms = t->t_ms;
	if (t->job->sample_limit && t->n_pend >= t->job->sample_limit) {
		t->is_limit_hit = true;
		return TS_OK;
	}
	int rc = ingest_scrape_grow((void **)&t->scratch, &t->cap_scratch, n + 2 * t->n_pub + 1,
				    sizeof(*t->scratch), SIZE_MAX / sizeof(ts_label));
	if (rc)
		return rc;
	size_t m = merge_labels(t, l, n);
	if (!m)
		return TS_ELIMIT;
	ingest_scrape_series *e;
	bool is_new;
	if ((rc = cache_get(t, t->scratch, m, &e, &is_new)))
		return rc;
	if (is_new)
		t->n_new++;
	e->last_iter = t->iter;
	e->cur_has_ts = has_ts;
	if ((rc = ingest_scrape_grow((void **)&t->pend, &t->cap_pend, t->n_pend + 1,
				     sizeof(*t->pend), SAMPLES_MAX)))
		return rc;
	t->pend[t->n_pend++] = (ingest_scrape_pending){e, t_ms, v};
	return TS_OK;
}

static double stale_nan(void)
{
	uint64_t bits = INGEST_STALE_NAN_BITS;
	double v;
	memcpy(&v, &bits, sizeof(v));
	return v;
}

/* Add the synthetic series (values NULL: staleness markers for all of them). */
static int add_report(ingest_scrape_target *t, ingest_batch *b, int64_t t_ms, const double *values)
{
	for (int i = 0; i < INGEST_SCRAPE_N_REPORT; i++) {
		int rc = ingest_batch_add(b, t->report[i], t->n_report, t_ms,
					  values ? values[i] : stale_nan());
		if (rc)
			return rc;
	}
	return TS_OK;
}

/* Stale markers for every tracked series that existed before this scrape. */
static int add_all_stale(ingest_scrape_target *t, ingest_batch *b, int64_t t_ms)
{
	for (size_t i = 0; i < t->n_cache; i++) {
		ingest_scrape_series *e = t->cache[i];
		if (e->created_iter == t->iter || !e->is_tracked)
			continue;
		int rc = ingest_batch_add(b, e->labels, e->n_labels, t_ms, stale_nan());
		if (rc)
			return rc;
	}
	return TS_OK;
}

/* Parser context of a scrape: samples go to the target, metadata to the registry. */
typedef struct scrape_ctx {
	ingest_scrape_target *t;
	ingest_metadata *meta;
} scrape_ctx;

static int scrape_ctx_sample(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	return scrape_sink(((scrape_ctx *)ctx)->t, l, n, t_ms, v);
}

static int scrape_ctx_meta(void *ctx, const char *family, const char *type, const char *help,
			   const char *unit)
{
	return ingest_metadata_sink(((scrape_ctx *)ctx)->meta, family, type, help, unit);
}

/* Publish a finished scrape's status. */
static void publish(ingest_scrape_target *t, bool is_up, const char *msg, size_t n_samples)
{
	pthread_mutex_lock(t->status_mu);
	t->health = is_up ? INGEST_SCRAPE_UP : INGEST_SCRAPE_DOWN;
	snprintf(t->last_error, sizeof(t->last_error), "%s", is_up ? "" : msg);
	t->last_scrape_ms = t->t_ms;
	t->last_duration_s = (double)t->duration_ns / 1e9;
	t->last_samples = n_samples;
	t->n_scrapes++;
	pthread_mutex_unlock(t->status_mu);
}

/* Worker: turn a finished transfer into one committed batch. */
static void process_scrape(ingest_scrape_target *t, ingest_pipeline *p)
{
	char msg[TS_ERR_MSG_MAX];
	ts_err e = {0};
	msgf(msg, sizeof(msg), "%s", t->fail_msg);
	bool ok = !msg[0];
	t->iter++;
	t->n_total = t->n_new = t->n_pend = 0;
	t->is_limit_hit = false;
	if (ok) {
		ingest_expo_format fmt = ingest_exposition_format_detect(t->content_type);
		scrape_ctx sc = {t, ingest_pipeline_metadata(p)};
		int rc = ingest_exposition_parse(t->body.data, t->body.len, fmt, 0, NO_TS,
						 ingest_pipeline_limits(p), scrape_ctx_sample,
						 scrape_ctx_meta, &sc, NULL, &e);
		if (rc) {
			ok = false;
			msgf(msg, sizeof(msg), "%s", e.msg);
		} else if (t->is_limit_hit) {
			ok = false;
			msgf(msg, sizeof(msg), "sample limit exceeded");
		}
	}
	double rep[INGEST_SCRAPE_N_REPORT] = {0, (double)t->duration_ns / 1e9, (double)t->n_total,
					      (double)t->n_pend, (double)t->n_new};
	ingest_batch *b = NULL;
	int rc = ingest_batch_begin(p, &b, &e);
	if (rc == TS_OK && ok) {
		for (size_t i = 0; rc == TS_OK && i < t->n_pend; i++)
			rc = ingest_batch_add(b, t->pend[i].e->labels, t->pend[i].e->n_labels,
					      t->pend[i].t_ms, t->pend[i].v);
		for (size_t i = 0; rc == TS_OK && i < t->n_cache; i++) {
			ingest_scrape_series *c = t->cache[i];
			if (c->last_iter != t->iter && c->is_tracked)
				rc = ingest_batch_add(b, c->labels, c->n_labels, t->t_ms,
						      stale_nan());
		}
		if (rc) {
			/* Like a failed append in Prometheus: drop it, keep only staleness. */
			ok = false;
			msgf(msg, sizeof(msg), "append failed: %s", ts_err_name(rc));
			ingest_batch_free(b);
			b = NULL;
			rc = ingest_batch_begin(p, &b, &e);
		}
	}
	if (rc == TS_OK && !ok)
		rc = add_all_stale(t, b, t->t_ms);
	rep[0] = ok ? 1 : 0;
	if (rc == TS_OK)
		rc = add_report(t, b, t->t_ms, rep);
	if (rc == TS_OK) {
		ingest_write_result res = {0};
		rc = ingest_batch_commit(b, &res, &e);
	}
	if (rc && ok) {
		ok = false;
		msgf(msg, sizeof(msg), "append failed: %s", rc == e.code ? e.msg : ts_err_name(rc));
	}
	ingest_batch_free(b);
	/* The cache now holds exactly what this scrape exposed (nothing after a failure). */
	if (ok)
		for (size_t i = 0; i < t->n_cache; i++)
			t->cache[i]->is_tracked = !t->cache[i]->cur_has_ts;
	cache_compact(t, ok);
	if (!ok)
		ts_log_debug("scrape of %s (job %s) failed: %s", t->url, t->job->job_name, msg);
	publish(t, ok, msg, t->n_total);
}

/* Worker: the target is gone; mark all its series stale at t->t_ms. */
static void process_end_run(ingest_scrape_target *t, ingest_pipeline *p)
{
	ts_err e = {0};
	ingest_batch *b = NULL;
	t->iter++;
	int rc = ingest_batch_begin(p, &b, &e);
	if (rc == TS_OK)
		rc = add_all_stale(t, b, t->t_ms);
	if (rc == TS_OK)
		rc = add_report(t, b, t->t_ms, NULL);
	if (rc == TS_OK) {
		ingest_write_result res = {0};
		rc = ingest_batch_commit(b, &res, &e);
	}
	ingest_batch_free(b);
	if (rc)
		ts_log_warn("end-of-run staleness markers for %s (job %s) not written: %s", t->url,
			    t->job->job_name, rc == e.code ? e.msg : ts_err_name(rc));
	cache_compact(t, false);
}

/* ================================================================ targets */

/* Go's url.QueryEscape. */
static int query_escape(ts_buf *b, const char *s)
{
	int rc = TS_OK;
	for (; *s && rc == TS_OK; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~", c))
			rc = ts_buf_putc(b, (char)c);
		else if (c == ' ')
			rc = ts_buf_putc(b, '+');
		else
			rc = ts_buf_printf(b, "%%%02X", c);
	}
	return rc;
}

static int path_escape(ts_buf *b, const char *s)
{
	int rc = TS_OK;
	for (; *s && rc == TS_OK; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~!$&'()*+,;=:@/", c))
			rc = ts_buf_putc(b, (char)c);
		else
			rc = ts_buf_printf(b, "%%%02X", c);
	}
	return rc;
}

/* Target.URL(): scheme://address/path?params with __param_ labels overriding. */
static int build_url(ingest_scrape_target *t, const char *scheme, const char *addr,
		     const char *path, ts_buf *b)
{
	const ingest_scrape_job *j = t->job;
	size_t np = j->n_params, cap = np + t->n_full;
	ts_label *ps = ts_malloc((cap ? cap : 1) * sizeof(*ps));
	if (!ps)
		return TS_ENOMEM;
	if (np)
		memcpy(ps, j->params, np * sizeof(*ps));
	for (size_t i = 0; i < t->n_full; i++) {
		if (strncmp(t->full[i].name, "__param_", 8))
			continue;
		const char *k = t->full[i].name + 8;
		size_t q = 0;
		while (q < np && strcmp(ps[q].name, k))
			q++;
		if (q < np) {
			ps[q].value = t->full[i].value;
		} else {
			ps[np].name = k;
			ps[np++].value = t->full[i].value;
		}
	}
	for (size_t a = 1; a < np; a++)
		for (size_t c = a; c > 0 && strcmp(ps[c - 1].name, ps[c].name) > 0; c--) {
			ts_label x = ps[c];
			ps[c] = ps[c - 1];
			ps[c - 1] = x;
		}
	int rc = ts_buf_printf(b, "%s://%s", scheme, addr);
	if (rc == TS_OK)
		rc = path_escape(b, path);
	for (size_t i = 0; rc == TS_OK && i < np; i++) {
		rc = ts_buf_putc(b, i ? '&' : '?');
		if (rc == TS_OK)
			rc = query_escape(b, ps[i].name);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, '=');
		if (rc == TS_OK)
			rc = query_escape(b, ps[i].value);
	}
	ts_free(ps);
	return rc;
}

/* A label builder (labels.Builder): set/get/del by name over a small array. */
typedef struct lbuild {
	ts_label v[128];
	size_t n;
} lbuild;

static const char *lb_get(const lbuild *lb, const char *name)
{
	for (size_t i = 0; i < lb->n; i++)
		if (!strcmp(lb->v[i].name, name))
			return lb->v[i].value;
	return NULL;
}

static bool lb_set(lbuild *lb, const char *name, const char *value)
{
	for (size_t i = 0; i < lb->n; i++)
		if (!strcmp(lb->v[i].name, name)) {
			lb->v[i].value = value;
			return true;
		}
	if (lb->n == sizeof(lb->v) / sizeof(lb->v[0]))
		return false;
	lb->v[lb->n++] = (ts_label){name, value};
	return true;
}

/* Copy the non-empty labels of lb, sorted, into the target's arena. */
static ts_label *lb_copy(ingest_scrape_target *t, const lbuild *lb, bool public_only, size_t *n_out)
{
	ts_label *v = ingest_scrape_arena_alloc(&t->arena, (lb->n + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; v && i < lb->n; i++) {
		if (!lb->v[i].value[0] || (public_only && !strncmp(lb->v[i].name, "__", 2)))
			continue;
		v[n].name =
		    ingest_scrape_arena_strndup(&t->arena, lb->v[i].name, strlen(lb->v[i].name));
		v[n].value =
		    ingest_scrape_arena_strndup(&t->arena, lb->v[i].value, strlen(lb->v[i].value));
		if (!v[n].name || !v[n].value)
			return NULL;
		n++;
	}
	if (v && n)
		qsort(v, n, sizeof(*v), ingest_scrape_label_cmp);
	*n_out = n;
	return v;
}

void ingest_scrape_target_free(ingest_scrape_target *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_cache; i++)
		ts_free(t->cache[i]);
	ts_free(t->cache);
	ts_free(t->index);
	ts_free(t->pend);
	ts_free(t->scratch);
	ts_free(t->xnames);
	ts_buf_free(&t->body);
	ingest_scrape_arena_free(&t->arena);
	ts_free(t);
}

/*
 * Build a target for address addr of group g (Prometheus PopulateLabels without
 * relabeling). *out NULL with a logged reason when the target is invalid (dropped).
 */
int ingest_scrape_target_new(const ingest_scrape_job *j, const ingest_scrape_group *g,
			     const char *addr, const char *hostname, uint64_t jitter_seed,
			     pthread_mutex_t *status_mu, ingest_scrape_target **out)
{
	*out = NULL;
	ingest_scrape_target *t = ts_calloc(1, sizeof(*t));
	if (!t)
		return TS_ENOMEM;
	t->status_mu = status_mu;
	t->job = j;
	t->heap_idx = SIZE_MAX;
	ts_buf_init(&t->body,
		    j->body_size_limit_bytes > 0 ? (size_t)j->body_size_limit_bytes : BODY_MAX);
	char ival[32], tval[32], addr_port[300], why[160] = "";
	const char *reason = why;
	ts_format_duration(j->interval_ms, ival, sizeof(ival));
	ts_format_duration(j->timeout_ms, tval, sizeof(tval));
	lbuild lb = {.n = 0};
	bool ok = true;
	for (size_t i = 0; i < g->n_labels; i++)
		ok = ok && lb_set(&lb, g->labels[i].name, g->labels[i].value);
	if (g->source)
		ok = ok && lb_set(&lb, "__meta_filepath", g->source);
	ok = ok && lb_set(&lb, "__address__", addr);
	const char *defaults[][2] = {{"job", j->job_name},
				     {"__scrape_interval__", ival},
				     {"__scrape_timeout__", tval},
				     {"__metrics_path__", j->metrics_path},
				     {"__scheme__", j->scheme}};
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		const char *v = lb_get(&lb, defaults[i][0]);
		if (!v || !v[0])
			ok = ok && lb_set(&lb, defaults[i][0], defaults[i][1]);
	}
	char pnames[16][128];
	size_t n_pn = 0;
	for (size_t i = 0; i < j->n_params; i++) {
		if (i && !strcmp(j->params[i - 1].name, j->params[i].name))
			continue; /* first value only */
		if (n_pn == 16)
			break;
		snprintf(pnames[n_pn], sizeof(pnames[n_pn]), "__param_%s", j->params[i].name);
		ok = ok && lb_set(&lb, pnames[n_pn++], j->params[i].value);
	}
	if (!ok) {
		reason = "too many labels";
		goto drop;
	}
	if (!(t->disc = lb_copy(t, &lb, false, &t->n_disc)))
		goto oom;

	/* After (no) relabeling: address, port, meta labels, instance. */
	const char *a = lb_get(&lb, "__address__");
	char host[256];
	int port;
	if (!a || !a[0]) {
		reason = "no address";
		goto drop;
	}
	if (strchr(a, '/')) {
		snprintf(why, sizeof(why), "\"%s\" is not a valid hostname", a);
		goto drop;
	}
	snprintf(addr_port, sizeof(addr_port), "%s", a);
	if (ts_config_split_hostport(a, host, sizeof(host), &port, NULL) != TS_OK) {
		snprintf(addr_port, sizeof(addr_port), "%s:1234", a);
		if (ts_config_split_hostport(addr_port, host, sizeof(host), &port, NULL) != TS_OK) {
			snprintf(why, sizeof(why), "invalid address \"%s\"", a);
			goto drop;
		}
		const char *scheme = lb_get(&lb, "__scheme__");
		snprintf(addr_port, sizeof(addr_port), "%s:%s", a,
			 scheme && !strcmp(scheme, "https") ? "443" : "80");
	}
	lb_set(&lb, "__address__", addr_port);
	for (size_t i = 0; i < lb.n; i++)
		if (!strncmp(lb.v[i].name, "__meta_", 7))
			lb.v[i--] = lb.v[--lb.n];
	const char *inst = lb_get(&lb, "instance");
	if ((!inst || !inst[0]) && !lb_set(&lb, "instance", addr_port)) {
		reason = "too many labels";
		goto drop;
	}
	for (size_t i = 0; i < lb.n; i++)
		if (!ts_utf8_valid(lb.v[i].value, strlen(lb.v[i].value))) {
			snprintf(why, sizeof(why), "invalid label value for \"%s\"", lb.v[i].name);
			goto drop;
		}
	const char *iv = lb_get(&lb, "__scrape_interval__");
	const char *tv = lb_get(&lb, "__scrape_timeout__");
	if (ts_parse_duration_ms(iv, strlen(iv), &t->interval_ms, NULL) || t->interval_ms == 0) {
		snprintf(why, sizeof(why), "invalid scrape interval \"%s\"", iv);
		goto drop;
	}
	if (ts_parse_duration_ms(tv, strlen(tv), &t->timeout_ms, NULL) || t->timeout_ms == 0) {
		snprintf(why, sizeof(why), "invalid scrape timeout \"%s\"", tv);
		goto drop;
	}
	if (t->timeout_ms > t->interval_ms) {
		snprintf(why, sizeof(why),
			 "scrape timeout cannot be greater than scrape interval (\"%s\" > \"%s\")",
			 tv, iv);
		goto drop;
	}
	const char *scheme = lb_get(&lb, "__scheme__");
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		snprintf(why, sizeof(why), "invalid scheme \"%s\"", scheme);
		goto drop;
	}
	if (!(t->full = lb_copy(t, &lb, false, &t->n_full)) ||
	    !(t->pub = lb_copy(t, &lb, true, &t->n_pub)))
		goto oom;

	ts_buf kb, ub;
	ts_buf_init(&kb, 1u << 20);
	ts_buf_init(&ub, 1u << 16);
	int rc = ts_series_key(t->full, t->n_full, &kb);
	if (rc == TS_OK)
		rc = build_url(t, scheme, addr_port, lb_get(&lb, "__metrics_path__"), &ub);
	if (rc == TS_OK) {
		t->key_len = kb.len;
		t->key = ingest_scrape_arena_strndup(&t->arena, kb.data ? kb.data : "", kb.len);
		t->url = ingest_scrape_arena_strndup(&t->arena, ub.data, ub.len);
		ts_buf_reset(&ub);
		if (ts_config_split_hostport(addr_port, host, sizeof(host), &port, NULL) == TS_OK &&
		    (!strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") ||
		     !strcmp(host, "::1"))) {
			char gaddr[300];
			snprintf(gaddr, sizeof(gaddr), "%s:%d", hostname, port);
			rc = build_url(t, scheme, gaddr, lb_get(&lb, "__metrics_path__"), &ub);
			t->global_url =
			    ingest_scrape_arena_strndup(&t->arena, ub.data ? ub.data : "", ub.len);
		} else {
			t->global_url = t->url;
		}
	}
	ts_buf_free(&kb);
	ts_buf_free(&ub);
	if (rc || !t->key || !t->url || !t->global_url)
		goto oom;
	t->offset_ms = ingest_scrape_offset_ms(
	    ts_hash64(t->key, t->key_len, ts_hash64(t->url, strlen(t->url), 0)), jitter_seed,
	    t->interval_ms);
	/* The synthetic series: {__name__=<name>} plus the target labels. */
	t->n_report = t->n_pub + 1;
	for (int i = 0; i < INGEST_SCRAPE_N_REPORT; i++) {
		ts_label *r = ingest_scrape_arena_alloc(&t->arena, t->n_report * sizeof(*r));
		if (!r)
			goto oom;
		r[0] = (ts_label){TS_METRIC_NAME, report_names[i]};
		memcpy(r + 1, t->pub, t->n_pub * sizeof(*r));
		qsort(r, t->n_report, sizeof(*r), ingest_scrape_label_cmp);
		t->report[i] = r;
	}
	if (t->n_pub && !(t->xnames = ts_malloc(t->n_pub * XNAME_MAX)))
		goto oom;
	*out = t;
	return TS_OK;
drop:
	ts_log_warn("scrape job %s: dropping target %s: %s", j->job_name, addr, reason);
	ingest_scrape_target_free(t);
	return TS_OK;
oom:
	ingest_scrape_target_free(t);
	return TS_ENOMEM;
}

void ingest_scrape_target_process(ingest_scrape_target *t, ingest_pipeline *p)
{
	if (t->kind == INGEST_SCRAPE_WORK_SCRAPE)
		process_scrape(t, p);
	else
		process_end_run(t, p);
}
