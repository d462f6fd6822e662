/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scrape_config.c: parse Prometheus' `global:` and `scrape_configs:` sections and
 * file_sd target group files (ingest/scrape.h).
 *
 * The accepted subset and every difference from Prometheus are in docs/formats/scrape.md.
 * Validation happens here, once: the manager (scrape.c) trusts what it gets. Defaults and
 * inheritance follow Prometheus 2.42 config.go: scrape_interval 1m and scrape_timeout 10s
 * globally; a job inherits both; an unset timeout is min(global timeout, interval); a
 * timeout above its interval is an error; 0 means "unset". Relative file names are
 * resolved against the directory of the config file (Prometheus' SetDirectory).
 *
 * Errors are TS_EINVAL "file:line:col: <path>: <reason>", where path names the key as
 * `scrape_configs[2].basic_auth.password_file`, so an operator finds the line at once.
 * Prometheus keys Strata does not implement (relabeling, the other service discoveries,
 * proxies, OAuth2) fail with "not supported" rather than being silently ignored.
 *
 * Memory: everything a parse returns lives in one ingest_scrape_arena, so error paths
 * only free the arena and the result is immutable and lock-free to share.
 */
#include "ingest/scrape.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_SCRAPE_INTERVAL_MS (60 * 1000)
#define DEFAULT_SCRAPE_TIMEOUT_MS  (10 * 1000)
#define DEFAULT_EVAL_INTERVAL_MS   (60 * 1000)
#define DEFAULT_SD_REFRESH_MS      (5 * 60 * 1000)
#define ARENA_CHUNK_BYTES          4096

/* ================================================================ arena */

struct ingest_scrape_arena_chunk {
	ingest_scrape_arena_chunk *next; /* older chunk */
	size_t used, cap;                /* bytes of data */
	alignas(max_align_t) unsigned char data[];
};

void *ingest_scrape_arena_alloc(ingest_scrape_arena *a, size_t n)
{
	size_t al = alignof(max_align_t);
	size_t need = (n + al - 1) / al * al;
	if (need < n)
		return NULL;
	ingest_scrape_arena_chunk *c = a->head;
	if (!c || c->cap - c->used < need) {
		size_t cap = need > ARENA_CHUNK_BYTES ? need : ARENA_CHUNK_BYTES;
		c = ts_malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->cap = cap;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += need;
	memset(p, 0, n);
	return p;
}

char *ingest_scrape_arena_strndup(ingest_scrape_arena *a, const char *s, size_t n)
{
	char *p = ingest_scrape_arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void ingest_scrape_arena_free(ingest_scrape_arena *a)
{
	ingest_scrape_arena_chunk *c = a->head;
	while (c) {
		ingest_scrape_arena_chunk *next = c->next;
		ts_free(c);
		c = next;
	}
	a->head = NULL;
}

/* ================================================================ helpers */

/* Parse state: the document, base directory and arena (as a reader), and the arena. */
typedef struct pctx {
	ts_yaml_reader r; /* strings and file names go to `a` */
	ingest_scrape_arena *a;
} pctx;

static void *arena_alloc(void *a, size_t n)
{
	return ingest_scrape_arena_alloc(a, n);
}

static void ctx_init(pctx *c, const ts_yaml_doc *d, ingest_scrape_arena *a, const char *base_dir)
{
	*c = (pctx){.r = {.doc = d,
			  .base_dir = base_dir,
			  .name = "scrape config",
			  .doc_ref = "docs/formats/scrape.md",
			  .alloc = arena_alloc,
			  .arena = a},
		    .a = a};
}

static int oom(pctx *c, ts_err *err)
{
	return ts_yaml_oom(&c->r, err);
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const ts_label *)a)->name, ((const ts_label *)b)->name);
}

/*
 * A label mapping (static_configs/file_sd labels, external_labels): names must be valid
 * Prometheus label names, values strings (null = ""), valid UTF-8. Sorted result.
 */
static int parse_labels(pctx *c, const ts_yaml_node *m, const char *what, ts_label **out,
			size_t *n_out, ts_err *err)
{
	*out = NULL;
	*n_out = 0;
	if (ts_yaml_is_null(m))
		return TS_OK;
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	if (rc)
		return rc;
	ts_label *v = ingest_scrape_arena_alloc(c->a, (m->n ? m->n : 1) * sizeof(*v));
	if (!v)
		return oom(c, err);
	for (size_t i = 0; i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *val = m->items[i];
		if (!ts_label_name_valid(k->scalar, k->len))
			return ts_yaml_error(c->r.doc, k, err, TS_EINVAL,
					     "%s: \"%s\" is not a valid label name", what,
					     k->scalar);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(v[j].name, k->scalar))
				return ts_yaml_error(c->r.doc, k, err, TS_EINVAL,
						     "%s: duplicate label name \"%s\"", what,
						     k->scalar);
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, k->scalar);
		const char *s = "";
		if (!ts_yaml_is_null(val) && (rc = ts_yaml_str(c->r.doc, val, w, &s, err)))
			return rc;
		if (!ts_utf8_valid(s, strlen(s)))
			return ts_yaml_error(c->r.doc, val, err, TS_EINVAL,
					     "%s: label value is not valid UTF-8", w);
		v[i].name = ts_yaml_strdup(&c->r, k->scalar);
		v[i].value = ts_yaml_strdup(&c->r, s);
		if (!v[i].name || !v[i].value)
			return oom(c, err);
	}
	qsort(v, m->n, sizeof(*v), cmp_label);
	*out = v;
	*n_out = m->n;
	return TS_OK;
}

/* A sequence of strings (null = empty). */
static int parse_strings(pctx *c, const ts_yaml_node *s, const char *what, const char ***out,
			 size_t *n_out, ts_err *err)
{
	*out = NULL;
	*n_out = 0;
	if (ts_yaml_is_null(s))
		return TS_OK;
	int rc = ts_yaml_want_seq(c->r.doc, s, what, err);
	if (rc)
		return rc;
	const char **v = ingest_scrape_arena_alloc(c->a, (s->n ? s->n : 1) * sizeof(*v));
	if (!v)
		return oom(c, err);
	for (size_t i = 0; i < s->n; i++) {
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s[%zu]", what, i);
		if ((rc = ts_yaml_copy_str(&c->r, s->items[i], w, &v[i], err)))
			return rc;
	}
	*out = v;
	*n_out = s->n;
	return TS_OK;
}

/* ================================================================ target groups */

/* Prometheus' config.CheckTargetAddress: a target is "host:port" with no path. */
static int check_target(pctx *c, const ts_yaml_node *n, const char *what, const char *t,
			ts_err *err)
{
	if (!t[0] || strchr(t, '/'))
		return ts_yaml_error(c->r.doc, n, err, TS_EINVAL,
				     "%s: \"%s\" is not a valid hostname", what, t);
	return TS_OK;
}

/* {targets: [...], labels: {...}} of static_configs or an SD file. */
static int parse_group(pctx *c, const ts_yaml_node *m, const char *what, const char *source,
		       ingest_scrape_group *g, ts_err *err)
{
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	if (rc)
		return rc;
	g->source = source;
	for (size_t i = 0; i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, k->scalar);
		if (!strcmp(k->scalar, "targets")) {
			rc = parse_strings(c, v, w, &g->targets, &g->n_targets, err);
			for (size_t j = 0; rc == TS_OK && j < g->n_targets; j++)
				rc = check_target(c, v->items[j], w, g->targets[j], err);
		} else if (!strcmp(k->scalar, "labels")) {
			rc = parse_labels(c, v, w, &g->labels, &g->n_labels, err);
		} else {
			rc = ts_yaml_unknown_key(c->r.doc, k, what, err);
		}
		if (rc)
			return rc;
	}
	return TS_OK;
}

/* A list of groups (static_configs, or an SD file's root). */
static int parse_groups(pctx *c, const ts_yaml_node *s, const char *what, const char *source,
			ingest_scrape_group **out, size_t *n_out, ts_err *err)
{
	*out = NULL;
	*n_out = 0;
	if (!s || ts_yaml_is_null(s))
		return TS_OK;
	int rc = ts_yaml_want_seq(c->r.doc, s, what, err);
	if (rc)
		return rc;
	ingest_scrape_group *g = ingest_scrape_arena_alloc(c->a, (s->n ? s->n : 1) * sizeof(*g));
	if (!g)
		return oom(c, err);
	for (size_t i = 0; i < s->n; i++) {
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s[%zu]", what, i);
		if ((rc = parse_group(c, s->items[i], w, source, &g[i], err)))
			return rc;
	}
	*out = g;
	*n_out = s->n;
	return TS_OK;
}

/*
 * Prometheus' file SD name rule ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$: at most
 * one '*', only in the last path element, and a known extension.
 */
static bool sd_name_valid(const char *s)
{
	const char *star = strchr(s, '*');
	if (star && (strchr(star + 1, '*') || strchr(star, '/')))
		return false;
	static const char *const ext[] = {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"};
	size_t n = strlen(s);
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);
		if (n >= e && !strcmp(s + n - e, ext[i]))
			return true;
	}
	return false;
}

static int parse_file_sd(pctx *c, const ts_yaml_node *m, const char *what, ingest_scrape_file_sd *f,
			 ts_err *err)
{
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	if (rc)
		return rc;
	f->refresh_interval_ms = DEFAULT_SD_REFRESH_MS;
	const ts_yaml_node *files = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, k->scalar);
		if (!strcmp(k->scalar, "files")) {
			files = v;
			if ((rc = ts_yaml_want_seq(c->r.doc, v, w, err)))
				return rc;
			f->files =
			    ingest_scrape_arena_alloc(c->a, (v->n ? v->n : 1) * sizeof(char *));
			if (!f->files)
				return oom(c, err);
			for (size_t j = 0; j < v->n; j++) {
				char wj[TS_YAML_WHAT_MAX];
				ts_yaml_what(wj, sizeof(wj), "%s[%zu]", w, j);
				const char *s;
				if ((rc = ts_yaml_str(c->r.doc, v->items[j], wj, &s, err)))
					return rc;
				if (!sd_name_valid(s))
					return ts_yaml_error(
					    c->r.doc, v->items[j], err, TS_EINVAL,
					    "%s: path name \"%s\" is not valid for file discovery",
					    wj, s);
				if ((rc = ts_yaml_copy_path(&c->r, v->items[j], wj, &f->files[j],
							    err)))
					return rc;
			}
			f->n_files = v->n;
		} else if (!strcmp(k->scalar, "refresh_interval")) {
			int64_t ms;
			if ((rc = ts_yaml_duration(c->r.doc, v, w, &ms, err)))
				return rc;
			if (ms > 0)
				f->refresh_interval_ms = ms;
		} else {
			return ts_yaml_unknown_key(c->r.doc, k, what, err);
		}
	}
	if (!f->n_files)
		return ts_yaml_error(
		    c->r.doc, files ? files : m, err, TS_EINVAL,
		    "%s: file service discovery config must contain at least one path name", what);
	return TS_OK;
}

/* ================================================================ jobs */

static int parse_params(pctx *c, const ts_yaml_node *m, const char *what, ingest_scrape_job *j,
			ts_err *err)
{
	if (ts_yaml_is_null(m))
		return TS_OK;
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	if (rc)
		return rc;
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++) {
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, m->keys[i]->scalar);
		if ((rc = ts_yaml_want_seq(c->r.doc, m->items[i], w, err)))
			return rc;
		n += m->items[i]->n;
	}
	j->params = ingest_scrape_arena_alloc(c->a, (n ? n : 1) * sizeof(ts_label));
	if (!j->params)
		return oom(c, err);
	for (size_t i = 0; i < m->n; i++) {
		const ts_yaml_node *s = m->items[i];
		for (size_t k = 0; k < s->n; k++) {
			char w[TS_YAML_WHAT_MAX];
			ts_yaml_what(w, sizeof(w), "%s.%s[%zu]", what, m->keys[i]->scalar, k);
			ts_label *p = &j->params[j->n_params++];
			if (!(p->name = ts_yaml_strdup(&c->r, m->keys[i]->scalar)))
				return oom(c, err);
			if ((rc = ts_yaml_copy_str(&c->r, s->items[k], w, &p->value, err)))
				return rc;
		}
	}
	/* Go's url.Values.Encode sorts by key; values of one key keep their order. */
	for (size_t i = 1; i < j->n_params; i++)
		for (size_t k = i; k > 0 && strcmp(j->params[k - 1].name, j->params[k].name) > 0;
		     k--) {
			ts_label t = j->params[k];
			j->params[k] = j->params[k - 1];
			j->params[k - 1] = t;
		}
	return TS_OK;
}

/* Which auth blocks a job had, for Prometheus' HTTPClientConfig.Validate checks. */
typedef struct auth_seen {
	const ts_yaml_node *basic, *authorization, *bearer, *bearer_file;
} auth_seen;

static int parse_basic_auth(pctx *c, const ts_yaml_node *m, const char *what, ingest_scrape_job *j,
			    ts_err *err)
{
	const ts_yaml_key keys[] = {
	    TS_YAML_KEY("username", TS_YAML_KEY_STR, &j->basic_username),
	    TS_YAML_KEY("password", TS_YAML_KEY_STR, &j->basic_password),
	    TS_YAML_KEY("password_file", TS_YAML_KEY_PATH, &j->basic_password_file),
	    TS_YAML_KEYS_END};
	if (m && m->type == TS_YAML_MAP)
		j->basic_username = "";
	int rc = ts_yaml_keys(&c->r, m, what, keys, c, err);
	if (rc)
		return rc;
	const ts_yaml_node *file = ts_yaml_get(m, "password_file");
	if (ts_yaml_get(m, "password") && file && j->basic_password[0])
		return ts_yaml_error(
		    c->r.doc, file, err, TS_EINVAL,
		    "%s: at most one of basic_auth password & password_file must be configured",
		    what);
	return TS_OK;
}

static int parse_authorization(pctx *c, const ts_yaml_node *m, const char *what,
			       ingest_scrape_job *j, ts_err *err)
{
	const char *type = "Bearer";
	const ts_yaml_key keys[] = {
	    TS_YAML_KEY("type", TS_YAML_KEY_STR, &type),
	    TS_YAML_KEY("credentials", TS_YAML_KEY_STR, &j->auth_credentials),
	    TS_YAML_KEY("credentials_file", TS_YAML_KEY_PATH, &j->auth_credentials_file),
	    TS_YAML_KEYS_END};
	int rc = ts_yaml_keys(&c->r, m, what, keys, c, err);
	if (rc)
		return rc;
	const ts_yaml_node *type_node = ts_yaml_get(m, "type") ? ts_yaml_get(m, "type") : m;
	const ts_yaml_node *cred_file = ts_yaml_get(m, "credentials_file");
	while (*type == ' ' || *type == '\t')
		type++;
	if (!type[0])
		type = "Bearer";
	if (!strcasecmp(type, "basic"))
		return ts_yaml_error(
		    c->r.doc, type_node, err, TS_EINVAL,
		    "%s: authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
		    what);
	if (strpbrk(type, " \t\r\n"))
		return ts_yaml_error(c->r.doc, type_node, err, TS_EINVAL,
				     "%s: invalid authorization type \"%s\"", what, type);
	if (ts_yaml_get(m, "credentials") && cred_file && j->auth_credentials[0])
		return ts_yaml_error(c->r.doc, cred_file, err, TS_EINVAL,
				     "%s: at most one of authorization credentials & "
				     "credentials_file must be configured",
				     what);
	j->auth_type = type;
	return TS_OK;
}

static int parse_tls(pctx *c, const ts_yaml_node *m, const char *what, ingest_scrape_job *j,
		     ts_err *err)
{
	const ts_yaml_key keys[] = {
	    TS_YAML_KEY("ca_file", TS_YAML_KEY_PATH, &j->tls_ca_file),
	    TS_YAML_KEY("cert_file", TS_YAML_KEY_PATH, &j->tls_cert_file),
	    TS_YAML_KEY("key_file", TS_YAML_KEY_PATH, &j->tls_key_file),
	    TS_YAML_KEY("insecure_skip_verify", TS_YAML_KEY_BOOL, &j->tls_insecure_skip_verify),
	    TS_YAML_KEY("ca", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEY("cert", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEY("key", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEY("server_name", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEY("min_version", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEY("max_version", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEYS_END};
	int rc = ts_yaml_keys(&c->r, m, what, keys, c, err);
	if (rc)
		return rc;
	if (!j->tls_cert_file != !j->tls_key_file)
		return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
				     "%s: cert_file and key_file must be configured together",
				     what);
	return TS_OK;
}

/* Prometheus keys of a scrape config that Strata rejects explicitly. */
static bool is_unsupported_job_key(const char *k)
{
	static const char *const keys[] = {"relabel_configs",
					   "metric_relabel_configs",
					   "oauth2",
					   "proxy_url",
					   "no_proxy",
					   "proxy_from_environment",
					   "proxy_connect_header",
					   "label_limit",
					   "label_name_length_limit",
					   "label_value_length_limit",
					   "target_limit",
					   "native_histogram_bucket_limit",
					   "scrape_classic_histograms",
					   NULL};
	for (size_t i = 0; keys[i]; i++)
		if (!strcmp(k, keys[i]))
			return true;
	size_t n = strlen(k);
	return n > 11 && !strcmp(k + n - 11, "_sd_configs"); /* consul_sd_configs, ... */
}

/* Read job_name first so later messages can name the job. */
static int parse_job(pctx *c, const ts_yaml_node *m, size_t idx, const ingest_scrape_config *global,
		     ingest_scrape_job *j, ts_err *err)
{
	char what[TS_YAML_WHAT_MAX];
	ts_yaml_what(what, sizeof(what), "scrape_configs[%zu]", idx);
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	if (rc)
		return rc;
	j->metrics_path = "/metrics";
	j->scheme = "http";
	j->honor_timestamps = true;
	j->follow_redirects = true;
	auth_seen seen = {0};
	const ts_yaml_node *interval_node = NULL, *timeout_node = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		const char *key = k->scalar;
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, key);
		int64_t iv = 0;
		if (!strcmp(key, "job_name")) {
			rc = ts_yaml_copy_str(&c->r, v, w, &j->job_name, err);
		} else if (!strcmp(key, "scrape_interval")) {
			interval_node = v;
			rc = ts_yaml_duration(c->r.doc, v, w, &j->interval_ms, err);
		} else if (!strcmp(key, "scrape_timeout")) {
			timeout_node = v;
			rc = ts_yaml_duration(c->r.doc, v, w, &j->timeout_ms, err);
		} else if (!strcmp(key, "metrics_path")) {
			rc = ts_yaml_copy_str(&c->r, v, w, &j->metrics_path, err);
			if (rc == TS_OK && j->metrics_path[0] != '/')
				rc = ts_yaml_error(c->r.doc, v, err, TS_EINVAL,
						   "%s: \"%s\" must start with '/'", w,
						   j->metrics_path);
		} else if (!strcmp(key, "scheme")) {
			rc = ts_yaml_copy_str(&c->r, v, w, &j->scheme, err);
			if (rc == TS_OK && strcmp(j->scheme, "http") && strcmp(j->scheme, "https"))
				rc = ts_yaml_error(c->r.doc, v, err, TS_EINVAL,
						   "%s: \"%s\" is not http or https", w, j->scheme);
		} else if (!strcmp(key, "params")) {
			rc = parse_params(c, v, w, j, err);
		} else if (!strcmp(key, "honor_labels")) {
			rc = ts_yaml_bool(c->r.doc, v, w, &j->honor_labels, err);
		} else if (!strcmp(key, "honor_timestamps")) {
			rc = ts_yaml_bool(c->r.doc, v, w, &j->honor_timestamps, err);
		} else if (!strcmp(key, "follow_redirects")) {
			rc = ts_yaml_bool(c->r.doc, v, w, &j->follow_redirects, err);
		} else if (!strcmp(key, "enable_http2")) {
			bool ignored;
			rc = ts_yaml_bool(c->r.doc, v, w, &ignored, err);
		} else if (!strcmp(key, "sample_limit")) {
			rc = ts_yaml_int(c->r.doc, v, w, 0, INT64_MAX, &iv, err);
			j->sample_limit = (uint64_t)iv;
		} else if (!strcmp(key, "body_size_limit")) {
			rc = ts_yaml_bytes(c->r.doc, v, w, &j->body_size_limit_bytes, err);
		} else if (!strcmp(key, "static_configs")) {
			rc = parse_groups(c, v, w, NULL, &j->static_groups, &j->n_static_groups,
					  err);
		} else if (!strcmp(key, "file_sd_configs")) {
			if ((rc = ts_yaml_want_seq(c->r.doc, v, w, err)))
				return rc;
			j->file_sds = ingest_scrape_arena_alloc(c->a, (v->n ? v->n : 1) *
									  sizeof(*j->file_sds));
			if (!j->file_sds)
				return oom(c, err);
			for (size_t f = 0; rc == TS_OK && f < v->n; f++) {
				char wf[TS_YAML_WHAT_MAX];
				ts_yaml_what(wf, sizeof(wf), "%s[%zu]", w, f);
				rc = parse_file_sd(c, v->items[f], wf, &j->file_sds[f], err);
			}
			j->n_file_sds = v->n;
		} else if (!strcmp(key, "basic_auth")) {
			seen.basic = k;
			rc = parse_basic_auth(c, v, w, j, err);
		} else if (!strcmp(key, "authorization")) {
			seen.authorization = k;
			rc = parse_authorization(c, v, w, j, err);
		} else if (!strcmp(key, "bearer_token")) {
			seen.bearer = k;
			rc = ts_yaml_copy_str(&c->r, v, w, &j->auth_credentials, err);
		} else if (!strcmp(key, "bearer_token_file")) {
			seen.bearer_file = k;
			rc = ts_yaml_copy_path(&c->r, v, w, &j->auth_credentials_file, err);
		} else if (!strcmp(key, "tls_config")) {
			rc = parse_tls(c, v, w, j, err);
		} else if (is_unsupported_job_key(key)) {
			rc = ts_yaml_unsupported(&c->r, k, what, err);
		} else {
			rc = ts_yaml_unknown_key(c->r.doc, k, what, err);
		}
		if (rc)
			return rc;
	}
	if (!j->job_name || !j->job_name[0])
		return ts_yaml_error(c->r.doc, m, err, TS_EINVAL, "%s: job_name is empty", what);

	/* HTTPClientConfig.Validate, in Prometheus' order and words. */
	if (seen.bearer && seen.bearer_file)
		return ts_yaml_error(
		    c->r.doc, seen.bearer_file, err, TS_EINVAL,
		    "%s: at most one of bearer_token & bearer_token_file must be configured", what);
	if (seen.basic && (seen.bearer || seen.bearer_file))
		return ts_yaml_error(c->r.doc, seen.bearer ? seen.bearer : seen.bearer_file, err,
				     TS_EINVAL,
				     "%s: at most one of basic_auth, oauth2, bearer_token & "
				     "bearer_token_file must be configured",
				     what);
	if (seen.authorization && (seen.bearer || seen.bearer_file))
		return ts_yaml_error(
		    c->r.doc, seen.authorization, err, TS_EINVAL,
		    "%s: authorization is not compatible with bearer_token & bearer_token_file",
		    what);
	if (seen.authorization && seen.basic)
		return ts_yaml_error(
		    c->r.doc, seen.authorization, err, TS_EINVAL,
		    "%s: at most one of basic_auth, oauth2 & authorization must be configured",
		    what);
	if (seen.bearer || seen.bearer_file)
		j->auth_type = "Bearer";

	/* Interval and timeout inheritance (config.go ScrapeConfig.Validate). */
	if (j->interval_ms == 0)
		j->interval_ms = global->scrape_interval_ms;
	if (j->timeout_ms > j->interval_ms)
		return ts_yaml_error(c->r.doc, timeout_node ? timeout_node : interval_node, err,
				     TS_EINVAL,
				     "%s: scrape timeout greater than scrape interval for scrape "
				     "config with job name \"%s\"",
				     what, j->job_name);
	if (j->timeout_ms == 0)
		j->timeout_ms = global->scrape_timeout_ms > j->interval_ms
				    ? j->interval_ms
				    : global->scrape_timeout_ms;
	return TS_OK;
}

/* ================================================================ global */

static int external_labels(void *ctx, const ts_yaml_node *v, const char *what, void *out,
			   ts_err *err)
{
	ingest_scrape_config *cfg = out;
	return parse_labels(ctx, v, what, &cfg->external_labels, &cfg->n_external_labels, err);
}

static int parse_global(pctx *c, const ts_yaml_node *m, ingest_scrape_config *cfg, ts_err *err)
{
	const ts_yaml_key keys[] = {
	    TS_YAML_KEY("scrape_interval", TS_YAML_KEY_DURATION, &cfg->scrape_interval_ms),
	    TS_YAML_KEY("scrape_timeout", TS_YAML_KEY_DURATION, &cfg->scrape_timeout_ms),
	    TS_YAML_KEY("evaluation_interval", TS_YAML_KEY_DURATION, &cfg->evaluation_interval_ms),
	    TS_YAML_KEY_FN("external_labels", external_labels, cfg),
	    TS_YAML_KEY("query_log_file", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEYS_END};
	const ts_yaml_node *timeout_node = NULL;
	if (m && !ts_yaml_is_null(m)) {
		int rc = ts_yaml_keys(&c->r, m, "global", keys, c, err);
		if (rc)
			return rc;
		timeout_node = ts_yaml_get(m, "scrape_timeout");
	}
	/* config.go GlobalConfig.UnmarshalYAML. */
	if (cfg->scrape_interval_ms == 0)
		cfg->scrape_interval_ms = DEFAULT_SCRAPE_INTERVAL_MS;
	if (cfg->scrape_timeout_ms > cfg->scrape_interval_ms)
		return ts_yaml_error(c->r.doc, timeout_node, err, TS_EINVAL,
				     "global: scrape timeout greater than scrape interval");
	if (cfg->scrape_timeout_ms == 0)
		cfg->scrape_timeout_ms = DEFAULT_SCRAPE_TIMEOUT_MS > cfg->scrape_interval_ms
					     ? cfg->scrape_interval_ms
					     : DEFAULT_SCRAPE_TIMEOUT_MS;
	if (cfg->evaluation_interval_ms == 0)
		cfg->evaluation_interval_ms = DEFAULT_EVAL_INTERVAL_MS;
	return TS_OK;
}

/* ================================================================ entry points */

int ingest_scrape_config_parse(const ts_yaml_doc *d, const ts_yaml_node *global,
			       const ts_yaml_node *scrape_configs, const char *base_dir,
			       ingest_scrape_config **out, ts_err *err)
{
	pctx c;
	ingest_scrape_config *cfg = ts_calloc(1, sizeof(*cfg));
	ctx_init(&c, d, cfg ? &cfg->arena : NULL, base_dir);
	if (!cfg)
		return oom(&c, err);
	int rc = parse_global(&c, global, cfg, err);
	if (rc)
		goto fail;
	const ts_yaml_node *s = scrape_configs;
	if (s && !ts_yaml_is_null(s)) {
		if ((rc = ts_yaml_want_seq(c.r.doc, s, "scrape_configs", err)))
			goto fail;
		cfg->jobs = ingest_scrape_arena_alloc(c.a, (s->n ? s->n : 1) * sizeof(*cfg->jobs));
		if (!cfg->jobs) {
			rc = oom(&c, err);
			goto fail;
		}
		for (size_t i = 0; i < s->n; i++) {
			if ((rc = parse_job(&c, s->items[i], i, cfg, &cfg->jobs[i], err)))
				goto fail;
			for (size_t k = 0; k < i; k++) {
				if (strcmp(cfg->jobs[k].job_name, cfg->jobs[i].job_name))
					continue;
				rc = ts_yaml_error(
				    d, ts_yaml_get(s->items[i], "job_name"), err, TS_EINVAL,
				    "scrape_configs[%zu]: found multiple scrape configs with job "
				    "name \"%s\"",
				    i, cfg->jobs[i].job_name);
				goto fail;
			}
			cfg->n_jobs++;
		}
	}
	*out = cfg;
	return TS_OK;
fail:
	ingest_scrape_config_free(cfg);
	return rc;
}

int ingest_scrape_config_load(const ts_config *c, ingest_scrape_config **out, ts_err *err)
{
	char dir[4096] = "";
	if (c && c->source) {
		const char *slash = strrchr(c->source, '/');
		if (slash)
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - c->source), c->source);
		if (slash == c->source)
			snprintf(dir, sizeof(dir), "/");
	}
	return ingest_scrape_config_parse(
	    c ? ts_config_doc(c) : NULL, c ? ts_config_section(c, "global") : NULL,
	    c ? ts_config_section(c, "scrape_configs") : NULL, dir[0] ? dir : NULL, out, err);
}

void ingest_scrape_config_free(ingest_scrape_config *c)
{
	if (!c)
		return;
	ingest_scrape_arena_free(&c->arena);
	ts_free(c);
}

int ingest_scrape_sd_file_parse(const char *path, ingest_scrape_groups **out, ts_err *err)
{
	ts_yaml_doc *d = NULL;
	int rc = ts_yaml_load_file(path, &d, err);
	if (rc)
		return rc;
	pctx c;
	ingest_scrape_groups *g = ts_calloc(1, sizeof(*g));
	ctx_init(&c, d, g ? &g->arena : NULL, NULL);
	if (!g) {
		ts_yaml_free(d);
		return oom(&c, err);
	}
	const char *source = ts_yaml_strdup(&c.r, path);
	if (!source)
		rc = oom(&c, err);
	else
		rc = parse_groups(&c, ts_yaml_root(d), "target groups", source, &g->groups,
				  &g->n_groups, err);
	ts_yaml_free(d);
	if (rc) {
		ingest_scrape_groups_free(g);
		return rc;
	}
	*out = g;
	return TS_OK;
}

void ingest_scrape_groups_free(ingest_scrape_groups *g)
{
	if (!g)
		return;
	ingest_scrape_arena_free(&g->arena);
	ts_free(g);
}
