/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_config.c: parse the `alerting:` section: an Alertmanager config subset plus
 * Strata's delivery settings (alert/notify_int.h, docs/formats/alerting.md).
 *
 *   alerting:
 *     config_file: alertmanager.yml   # or `config:` with the same content inline
 *     external_url: http://strata:9470
 *     outbox: {max_age: 24h, retry_initial: 1s, retry_max: 5m, timeout: 10s}
 *     rate_limit: {notifications: 0, interval: 1m}   # per receiver; 0 = off
 *     retention: 120h                  # notification log and expired silences
 *     alertmanagers: [http://am:9093]  # also forward every posted alert
 *
 * The Alertmanager part follows Alertmanager 0.25's config.go: defaults (group_wait 30s,
 * group_interval 5m, repeat_interval 4h, resolve_timeout 5m, webhook send_resolved true,
 * email send_resolved false, smtp_require_tls true), inheritance of receiver, group_by
 * and timers from the parent route, root-route rules (receiver required, no matchers, no
 * continue), group_by '...' alone, receiver names unique and every referenced receiver
 * defined, and both matcher syntaxes (matchers: ['a="b"'] and legacy match/match_re,
 * whose regexes print as ^(?:re)$ in route keys as in Alertmanager).
 *
 * Deliberately not done: integrations other than webhook and email, templates (email
 * html/text/headers are literal; the default template names are accepted), time
 * intervals, url_file, oauth2, auth_secret. Such keys fail with "not supported by
 * Strata" naming file:line:col, never silently ignored; global keys that only configure
 * unsupported integrations (slack_api_url, ...) are accepted and unused.
 *
 * Memory: one arena (alert/arena.h) per config; compiled regexes are tracked and
 * released with it.
 */
#include "alert/notify_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARENA_MAX_BYTES ((size_t)256 << 20)
#define MAX_ROUTE_DEPTH 32
#define SECRET_FILE_MAX (64 * 1024)

/* ================================================================ refcount */

static void ncfg_free(alert_ncfg *c)
{
	for (size_t i = 0; i < c->n_owned; i++) {
		for (size_t j = 0; j < c->n_owned_each[i]; j++)
			ts_matcher_fini(&c->owned[i][j]);
		ts_free(c->owned[i]);
	}
	ts_free(c->owned);
	ts_free(c->n_owned_each);
	alert_arena_free(c->arena);
	ts_free(c);
}

void alert_ncfg_acquire(alert_ncfg *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void alert_ncfg_release(alert_ncfg *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		ncfg_free(c);
}

const alert_ncfg_receiver *alert_ncfg_receiver_get(const alert_ncfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_receivers; i++)
		if (!strcmp(c->receivers[i].name, name))
			return &c->receivers[i];
	return NULL;
}

const char *alert_ncfg_kind_name(alert_ncfg_kind k)
{
	return k == ALERT_NCFG_EMAIL ? "email" : "webhook";
}

/* ================================================================ parse helpers */

typedef struct gdefaults {
	int64_t resolve_timeout_ms;
	const char *smtp_from, *smtp_hello, *smtp_smarthost, *smtp_user, *smtp_pass, *smtp_identity;
	bool smtp_require_tls;
	alert_ncfg_http http;
} gdefaults;

typedef struct pctx {
	ts_yaml_reader r; /* the document, base directory and c's arena */
	alert_ncfg *c;
	gdefaults g;
	uint32_t n_routes;
} pctx;

static int oom(ts_err *err)
{
	return ts_err_set(err, TS_ENOMEM, "out of memory reading the alerting config");
}

static void *arena_alloc(void *a, size_t n)
{
	return alert_arena_alloc(a, n ? n : 1);
}

/* The parse state for doc (borrowed), filling cf; relative file names resolve in dir. */
static pctx ctx_new(const ts_yaml_doc *doc, alert_ncfg *cf, const char *dir)
{
	return (pctx){.r = {.doc = doc,
			    .base_dir = dir,
			    .name = "alerting config",
			    .doc_ref = "docs/formats/alerting.md",
			    .alloc = arena_alloc,
			    .arena = cf->arena},
		      .c = cf};
}

static void *alloc(pctx *c, size_t n)
{
	return arena_alloc(c->c->arena, n);
}

/* A sequence or null. */
static int opt_seq(pctx *c, const ts_yaml_node *v, const char *what, ts_err *err)
{
	return ts_yaml_is_null(v) ? TS_OK : ts_yaml_want_seq(c->r.doc, v, what, err);
}

/* Key k of `what` names a feature Strata lacks: accepted only when empty (null or []). */
static int empty_or_unsupported(pctx *c, const ts_yaml_node *k, const ts_yaml_node *v,
				const char *what, ts_err *err)
{
	if (ts_yaml_is_null(v) || (v->type == TS_YAML_SEQ && v->n == 0))
		return TS_OK;
	return ts_yaml_unsupported(&c->r, k, what, err);
}

static bool key_in(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(k, *list))
			return true;
	return false;
}

/* The contents of a secret file (trailing newline stripped), like Prometheus' *_file. */
static int read_secret(pctx *c, const ts_yaml_node *v, const char *what, const char **out,
		       ts_err *err)
{
	const char *path;
	int rc = ts_yaml_copy_path(&c->r, v, what, &path, err);
	if (rc)
		return rc;
	FILE *f = fopen(path, "rb");
	if (!f)
		return ts_yaml_error(c->r.doc, v, err, TS_EIO, "%s: cannot read '%s': %s", what,
				     path, strerror(errno));
	char *buf = alloc(c, SECRET_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, SECRET_FILE_MAX, f) : 0;
	fclose(f);
	if (!buf)
		return oom(err);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	*out = buf;
	return TS_OK;
}

/* read_secret as a TS_YAML_KEY_FUNC handler (ctx: the pctx). */
static int secret_key(void *ctx, const ts_yaml_node *v, const char *what, void *out, ts_err *err)
{
	return read_secret(ctx, v, what, out, err);
}

static int track_matchers(pctx *c, ts_matcher *v, size_t n, ts_err *err)
{
	alert_ncfg *cf = c->c;
	if (cf->n_owned == cf->cap_owned) {
		size_t nc = cf->cap_owned ? cf->cap_owned * 2 : 16;
		ts_matcher **o = ts_realloc(cf->owned, nc * sizeof(*o));
		if (!o)
			return oom(err);
		cf->owned = o;
		size_t *e = ts_realloc(cf->n_owned_each, nc * sizeof(*e));
		if (!e)
			return oom(err);
		cf->n_owned_each = e;
		cf->cap_owned = nc;
	}
	cf->owned[cf->n_owned] = v;
	cf->n_owned_each[cf->n_owned++] = n;
	return TS_OK;
}

/* Alertmanager's labels.Matchers order: name, then value, then type. */
static int cmp_matcher(const void *a, const void *b)
{
	const ts_matcher *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	if ((c = strcmp(x->value, y->value)))
		return c;
	return (int)x->type - (int)y->type;
}

/*
 * Collect matchers from a new-style list (key `mkey`) and legacy equality/regex maps into
 * one sorted array owned by the config (its regexes tracked for release).
 */
static int parse_matcher_set(pctx *c, const ts_yaml_node *list, const ts_yaml_node *eq,
			     const ts_yaml_node *re, const char *what, ts_matcher **out,
			     size_t *n_out, ts_err *err)
{
	ts_matcher *v = NULL;
	size_t n = 0;
	int rc = TS_OK;
	char w[TS_YAML_WHAT_MAX];
	ts_buf wrapped;
	ts_buf_init(&wrapped, 1 << 20);
	if (list && !ts_yaml_is_null(list)) {
		if ((rc = ts_yaml_want_seq(c->r.doc, list, what, err)))
			goto fail;
		for (size_t i = 0; i < list->n; i++) {
			const char *s;
			ts_yaml_what(w, sizeof(w), "%s[%zu]", what, i);
			if ((rc = ts_yaml_str(c->r.doc, list->items[i], w, &s, err)))
				goto fail;
			ts_err e = {0};
			if ((rc = alert_matchers_parse(s, &v, &n, &e))) {
				rc = ts_yaml_error(c->r.doc, list->items[i], err, rc, "%s: %s", w,
						   e.msg);
				goto fail;
			}
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		const ts_yaml_node *m = pass ? re : eq;
		if (!m || ts_yaml_is_null(m))
			continue;
		ts_yaml_what(w, sizeof(w), "%s", what);
		if ((rc = ts_yaml_want_map(c->r.doc, m, w, err)))
			goto fail;
		for (size_t i = 0; i < m->n; i++) {
			const char *name = m->keys[i]->scalar, *val;
			ts_yaml_what(w, sizeof(w), "%s.%s", what, name);
			if (!ts_label_name_valid(name, strlen(name))) {
				rc = ts_yaml_error(c->r.doc, m->keys[i], err, TS_EINVAL,
						   "%s: invalid label name", w);
				goto fail;
			}
			if ((rc = ts_yaml_str(c->r.doc, m->items[i], w, &val, err)))
				goto fail;
			ts_buf_reset(&wrapped);
			if (pass && ts_buf_printf(&wrapped, "^(?:%s)$", val)) {
				rc = oom(err);
				goto fail;
			}
			ts_matcher *nv = ts_realloc(v, (n + 1) * sizeof(*v));
			if (!nv) {
				rc = oom(err);
				goto fail;
			}
			v = nv;
			ts_err e = {0};
			if ((rc = ts_matcher_init(&v[n], pass ? TS_MATCH_RE : TS_MATCH_EQ, name,
						  pass ? wrapped.data : val, &e))) {
				rc = ts_yaml_error(c->r.doc, m->items[i], err, rc, "%s: %s", w,
						   e.msg);
				goto fail;
			}
			n++;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_matcher);
	if (n && (rc = track_matchers(c, v, n, err)))
		goto fail;
	ts_buf_free(&wrapped);
	*out = n ? v : NULL;
	*n_out = n;
	if (!n)
		ts_free(v);
	return TS_OK;
fail:
	ts_buf_free(&wrapped);
	alert_matchers_free(v, n);
	return rc;
}

/* A sequence of label names (null = empty). */
static int parse_names(pctx *c, const ts_yaml_node *s, const char *what, bool allow_all,
		       const char ***out, size_t *n_out, bool *is_all, ts_err *err)
{
	*out = NULL;
	*n_out = 0;
	if (is_all)
		*is_all = false;
	if (ts_yaml_is_null(s))
		return TS_OK;
	int rc = ts_yaml_want_seq(c->r.doc, s, what, err);
	if (rc)
		return rc;
	const char **v = alloc(c, s->n * sizeof(*v));
	if (!v)
		return oom(err);
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		char w[TS_YAML_WHAT_MAX];
		const char *name;
		ts_yaml_what(w, sizeof(w), "%s[%zu]", what, i);
		if ((rc = ts_yaml_str(c->r.doc, s->items[i], w, &name, err)))
			return rc;
		if (allow_all && !strcmp(name, "...")) {
			if (s->n != 1)
				return ts_yaml_error(c->r.doc, s->items[i], err, TS_EINVAL,
						     "%s: cannot have wildcard group_by (`...`) "
						     "and other labels at the same time",
						     what);
			*is_all = true;
			return TS_OK;
		}
		if (!ts_label_name_valid(name, strlen(name)))
			return ts_yaml_error(c->r.doc, s->items[i], err, TS_EINVAL,
					     "%s: invalid label name '%s'", w, name);
		for (size_t j = 0; j < n; j++)
			if (!strcmp(v[j], name))
				return ts_yaml_error(c->r.doc, s->items[i], err, TS_EINVAL,
						     "%s: duplicated label '%s'", what, name);
		if (!(v[n++] = ts_yaml_strdup(&c->r, name)))
			return oom(err);
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: short lists */
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	*n_out = n;
	return TS_OK;
}

/* ================================================================ http_config */

/* tls_config; cert and key NULL: no client certificate keys (email). */
static int parse_tls(pctx *c, const ts_yaml_node *m, const char *what, const char **ca,
		     const char **cert, const char **key, bool *insecure, ts_err *err)
{
	ts_yaml_key keys[] = {TS_YAML_KEY("ca_file", TS_YAML_KEY_PATH, ca),
			      TS_YAML_KEY("insecure_skip_verify", TS_YAML_KEY_BOOL, insecure),
			      TS_YAML_KEY("server_name", TS_YAML_KEY_UNSUPPORTED, NULL),
			      TS_YAML_KEY("min_version", TS_YAML_KEY_UNSUPPORTED, NULL),
			      TS_YAML_KEY("cert_file", TS_YAML_KEY_PATH, cert),
			      TS_YAML_KEY("key_file", TS_YAML_KEY_PATH, key),
			      TS_YAML_KEYS_END};
	if (!cert)
		keys[4] = keys[6]; /* the table ends before cert_file and key_file */
	return ts_yaml_keys(&c->r, m, what, keys, c, err);
}

static int parse_http(pctx *c, const ts_yaml_node *m, const char *what, alert_ncfg_http *h,
		      ts_err *err)
{
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	int n_auth = 0;
	for (size_t i = 0; !rc && i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		const char *key = k->scalar;
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, key);
		if (!strcmp(key, "basic_auth")) {
			const ts_yaml_key keys[] = {
			    TS_YAML_KEY("username", TS_YAML_KEY_STR, &h->basic_user),
			    TS_YAML_KEY("password", TS_YAML_KEY_STR, &h->basic_password),
			    TS_YAML_KEY_FN("password_file", secret_key, &h->basic_password),
			    TS_YAML_KEYS_END};
			n_auth++;
			h->basic_user = h->basic_password = NULL;
			h->auth_type = h->auth_credentials = NULL;
			rc = ts_yaml_keys(&c->r, v, w, keys, c, err);
			if (!rc && !h->basic_user)
				h->basic_user = "";
		} else if (!strcmp(key, "authorization")) {
			const ts_yaml_key keys[] = {
			    TS_YAML_KEY("type", TS_YAML_KEY_STR, &h->auth_type),
			    TS_YAML_KEY("credentials", TS_YAML_KEY_STR, &h->auth_credentials),
			    TS_YAML_KEY_FN("credentials_file", secret_key, &h->auth_credentials),
			    TS_YAML_KEYS_END};
			n_auth++;
			h->basic_user = h->basic_password = NULL;
			h->auth_type = "Bearer";
			h->auth_credentials = NULL;
			rc = ts_yaml_keys(&c->r, v, w, keys, c, err);
			if (!rc && !strcasecmp(h->auth_type, "basic"))
				rc = ts_yaml_error(c->r.doc, v, err, TS_EINVAL,
						   "%s.type: authorization type cannot be set to "
						   "\"basic\", use \"basic_auth\" instead",
						   w);
		} else if (!strcmp(key, "bearer_token")) {
			n_auth++;
			h->basic_user = h->basic_password = NULL;
			h->auth_type = "Bearer";
			rc = ts_yaml_copy_str(&c->r, v, w, &h->auth_credentials, err);
		} else if (!strcmp(key, "bearer_token_file")) {
			n_auth++;
			h->basic_user = h->basic_password = NULL;
			h->auth_type = "Bearer";
			rc = read_secret(c, v, w, &h->auth_credentials, err);
		} else if (!strcmp(key, "tls_config")) {
			rc = parse_tls(c, v, w, &h->ca_file, &h->cert_file, &h->key_file,
				       &h->is_insecure, err);
		} else if (!strcmp(key, "follow_redirects")) {
			rc = ts_yaml_bool(c->r.doc, v, w, &h->follow_redirects, err);
		} else if (!strcmp(key, "proxy_url")) {
			rc = ts_yaml_copy_str(&c->r, v, w, &h->proxy_url, err);
		} else if (!strcmp(key, "enable_http2")) {
			bool ignored;
			rc = ts_yaml_bool(c->r.doc, v, w, &ignored, err);
		} else if (!strcmp(key, "oauth2") || !strcmp(key, "no_proxy") ||
			   !strcmp(key, "proxy_from_environment") ||
			   !strcmp(key, "proxy_connect_header")) {
			rc = ts_yaml_unsupported(&c->r, k, what, err);
		} else {
			rc = ts_yaml_unknown_key(c->r.doc, k, what, err);
		}
		if (!rc && n_auth > 1)
			rc = ts_yaml_error(c->r.doc, k, err, TS_EINVAL,
					   "%s: at most one of basic_auth, authorization and "
					   "bearer_token(_file) may be configured",
					   what);
	}
	return rc;
}

/* ================================================================ global */

/* parse_http as a TS_YAML_KEY_FUNC handler (ctx: the pctx). */
static int http_key(void *ctx, const ts_yaml_node *v, const char *what, void *out, ts_err *err)
{
	return parse_http(ctx, v, what, out, err);
}

/* A duration that must be above 0. */
static int positive_ms(void *ctx, const ts_yaml_node *v, const char *what, void *out, ts_err *err)
{
	const pctx *c = ctx;
	int64_t *ms = out;
	int rc = ts_yaml_duration(c->r.doc, v, what, ms, err);
	if (!rc && *ms <= 0)
		rc = ts_yaml_error(c->r.doc, v, err, TS_EINVAL, "%s: must be positive", what);
	return rc;
}

static int parse_global(pctx *c, const ts_yaml_node *m, const char *what, ts_err *err)
{
	const ts_yaml_key keys[] = {
	    TS_YAML_KEY("resolve_timeout", TS_YAML_KEY_DURATION, &c->g.resolve_timeout_ms),
	    TS_YAML_KEY("smtp_from", TS_YAML_KEY_STR, &c->g.smtp_from),
	    TS_YAML_KEY("smtp_hello", TS_YAML_KEY_STR, &c->g.smtp_hello),
	    TS_YAML_KEY("smtp_smarthost", TS_YAML_KEY_STR, &c->g.smtp_smarthost),
	    TS_YAML_KEY("smtp_auth_username", TS_YAML_KEY_STR, &c->g.smtp_user),
	    TS_YAML_KEY("smtp_auth_password", TS_YAML_KEY_STR, &c->g.smtp_pass),
	    TS_YAML_KEY_FN("smtp_auth_password_file", secret_key, &c->g.smtp_pass),
	    TS_YAML_KEY("smtp_auth_identity", TS_YAML_KEY_STR, &c->g.smtp_identity),
	    TS_YAML_KEY("smtp_require_tls", TS_YAML_KEY_BOOL, &c->g.smtp_require_tls),
	    TS_YAML_KEY_FN("http_config", http_key, &c->g.http),
	    TS_YAML_KEY("smtp_auth_secret", TS_YAML_KEY_UNSUPPORTED, NULL),
	    /* only configure integrations Strata lacks: accepted and unused */
	    TS_YAML_KEY("slack_api_url", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("slack_api_url_file", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("victorops_api_key", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("victorops_api_key_file", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("victorops_api_url", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("pagerduty_url", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("opsgenie_api_key", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("opsgenie_api_key_file", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("opsgenie_api_url", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("wechat_api_url", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("wechat_api_secret", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("wechat_api_corp_id", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("telegram_api_url", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("webex_api_url", TS_YAML_KEY_IGNORED, NULL),
	    TS_YAML_KEY("pushover_api_url", TS_YAML_KEY_IGNORED, NULL), TS_YAML_KEYS_END};
	int rc = ts_yaml_keys(&c->r, m, what, keys, c, err);
	if (!rc && c->g.resolve_timeout_ms <= 0)
		rc = ts_yaml_error(c->r.doc, ts_yaml_get(m, "resolve_timeout"), err, TS_EINVAL,
				   "%s.resolve_timeout: must be positive", what);
	return rc;
}

/* ================================================================ receivers */

static bool has_template(const char *s)
{
	return strstr(s, "{{") != NULL;
}

static int parse_webhook(pctx *c, const ts_yaml_node *m, const char *what,
			 alert_ncfg_integration *it, ts_err *err)
{
	alert_ncfg_webhook *w = alloc(c, sizeof(*w));
	if (!w)
		return oom(err);
	it->kind = ALERT_NCFG_WEBHOOK;
	it->send_resolved = true;
	it->u.webhook = w;
	w->http = c->g.http;
	const ts_yaml_key keys[] = {
	    TS_YAML_KEY("url", TS_YAML_KEY_STR, &w->url),
	    TS_YAML_KEY("send_resolved", TS_YAML_KEY_BOOL, &it->send_resolved),
	    TS_YAML_KEY_RANGE("max_alerts", &w->max_alerts, 0, INT32_MAX),
	    TS_YAML_KEY_FN("http_config", http_key, &w->http),
	    TS_YAML_KEY("url_file", TS_YAML_KEY_UNSUPPORTED, NULL),
	    TS_YAML_KEYS_END};
	int rc = ts_yaml_keys(&c->r, m, what, keys, c, err);
	if (rc)
		return rc;
	if (!w->url)
		return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
				     "%s: one of url or url_file must be "
				     "configured",
				     what);
	if (strncmp(w->url, "http://", 7) && strncmp(w->url, "https://", 8))
		return ts_yaml_error(c->r.doc, ts_yaml_get(m, "url"), err, TS_EINVAL,
				     "%s.url: unsupported scheme in '%s' (want http or https)",
				     what, w->url);
	return TS_OK;
}

/* Text values may not be Go templates, except Alertmanager's default template names. */
static int literal(pctx *c, const ts_yaml_node *v, const char *what, const char *dflt_tmpl,
		   const char **out, ts_err *err)
{
	const char *s;
	int rc = ts_yaml_str(c->r.doc, v, what, &s, err);
	if (rc)
		return rc;
	if (dflt_tmpl && strstr(s, dflt_tmpl) && has_template(s)) {
		*out = NULL; /* the default body */
		return TS_OK;
	}
	if (has_template(s))
		return ts_yaml_error(c->r.doc, v, err, TS_EINVAL,
				     "%s: templates are not supported by Strata (use literal "
				     "text or leave the default)",
				     what);
	return (*out = ts_yaml_strdup(&c->r, s)) ? TS_OK : oom(err);
}

static int parse_email(pctx *c, const ts_yaml_node *m, const char *what, alert_ncfg_integration *it,
		       ts_err *err)
{
	alert_ncfg_email *e = alloc(c, sizeof(*e));
	if (!e)
		return oom(err);
	it->kind = ALERT_NCFG_EMAIL;
	it->send_resolved = false;
	it->u.email = e;
	e->from = c->g.smtp_from;
	e->hello = c->g.smtp_hello ? c->g.smtp_hello : "localhost";
	e->smarthost = c->g.smtp_smarthost;
	e->auth_username = c->g.smtp_user;
	e->auth_password = c->g.smtp_pass;
	e->auth_identity = c->g.smtp_identity;
	e->require_tls = c->g.smtp_require_tls;
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	for (size_t i = 0; !rc && i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		const char *key = k->scalar;
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, key);
		if (!strcmp(key, "to"))
			rc = literal(c, v, w, NULL, &e->to, err);
		else if (!strcmp(key, "from"))
			rc = literal(c, v, w, NULL, &e->from, err);
		else if (!strcmp(key, "hello"))
			rc = ts_yaml_copy_str(&c->r, v, w, &e->hello, err);
		else if (!strcmp(key, "smarthost"))
			rc = ts_yaml_copy_str(&c->r, v, w, &e->smarthost, err);
		else if (!strcmp(key, "auth_username"))
			rc = ts_yaml_copy_str(&c->r, v, w, &e->auth_username, err);
		else if (!strcmp(key, "auth_password"))
			rc = ts_yaml_copy_str(&c->r, v, w, &e->auth_password, err);
		else if (!strcmp(key, "auth_password_file"))
			rc = read_secret(c, v, w, &e->auth_password, err);
		else if (!strcmp(key, "auth_identity"))
			rc = ts_yaml_copy_str(&c->r, v, w, &e->auth_identity, err);
		else if (!strcmp(key, "require_tls"))
			rc = ts_yaml_bool(c->r.doc, v, w, &e->require_tls, err);
		else if (!strcmp(key, "send_resolved"))
			rc = ts_yaml_bool(c->r.doc, v, w, &it->send_resolved, err);
		else if (!strcmp(key, "tls_config"))
			rc = parse_tls(c, v, w, &e->ca_file, NULL, NULL, &e->is_insecure, err);
		else if (!strcmp(key, "html"))
			rc = literal(c, v, w, "email.default.html", &e->html, err);
		else if (!strcmp(key, "text"))
			rc = literal(c, v, w, "email.default.text", &e->text, err);
		else if (!strcmp(key, "headers")) {
			if ((rc = ts_yaml_want_map(c->r.doc, v, w, err)))
				break;
			e->headers = alloc(c, v->n * sizeof(*e->headers));
			if (!e->headers)
				return oom(err);
			for (size_t j = 0; !rc && j < v->n; j++) {
				const char *hn = v->keys[j]->scalar;
				char w2[TS_YAML_WHAT_MAX];
				ts_yaml_what(w2, sizeof(w2), "%s.%s", w, hn);
				for (const char *p = hn; *p && !rc; p++)
					if (*p <= ' ' || *p == ':' || (unsigned char)*p >= 127)
						rc = ts_yaml_error(c->r.doc, v->keys[j], err,
								   TS_EINVAL,
								   "%s: invalid header name", w2);
				for (size_t x = 0; !rc && x < j; x++)
					if (!strcasecmp(e->headers[x].name, hn))
						rc = ts_yaml_error(
						    c->r.doc, v->keys[j], err, TS_EINVAL,
						    "%s: duplicate header \"%s\"", w, hn);
				if (rc)
					break;
				e->headers[j].name = ts_yaml_strdup(&c->r, hn);
				rc = literal(c, v->items[j], w2,
					     !strcasecmp(hn, "subject") ? "email.default.subject"
									: NULL,
					     &e->headers[j].value, err);
				if (!rc && e->headers[j].value &&
				    strpbrk(e->headers[j].value, "\r\n"))
					rc = ts_yaml_error(c->r.doc, v->items[j], err, TS_EINVAL,
							   "%s: header values cannot contain line "
							   "breaks",
							   w2);
				if (!rc && !e->headers[j].value) {
					/* the default subject template: drop the override */
					e->headers[j].name = NULL;
				}
			}
			size_t n = 0;
			for (size_t j = 0; j < v->n; j++)
				if (e->headers[j].name)
					e->headers[n++] = e->headers[j];
			e->n_headers = n;
		} else if (!strcmp(key, "auth_secret"))
			rc = ts_yaml_unsupported(&c->r, k, what, err);
		else
			rc = ts_yaml_unknown_key(c->r.doc, k, what, err);
	}
	if (rc)
		return rc;
	if (!e->to || !e->to[0])
		return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
				     "%s: missing to address in email config", what);
	if (!e->from || !e->from[0])
		return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
				     "%s: no global SMTP from set and no from in email config",
				     what);
	if (!e->smarthost || !e->smarthost[0])
		return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
				     "%s: no global SMTP smarthost set and no smarthost in email "
				     "config",
				     what);
	char host[256];
	int port;
	ts_err e2 = {0};
	if (ts_config_split_hostport(e->smarthost, host, sizeof(host), &port, &e2) || !host[0] ||
	    port == 0)
		return ts_yaml_error(
		    c->r.doc, ts_yaml_get(m, "smarthost") ? ts_yaml_get(m, "smarthost") : m, err,
		    TS_EINVAL, "%s.smarthost: '%s' is not host:port", what, e->smarthost);
	return TS_OK;
}

static int parse_receiver(pctx *c, const ts_yaml_node *m, const char *what, alert_ncfg_receiver *r,
			  ts_err *err)
{
	static const char *const other[] = {
	    "slack_configs",    "pagerduty_configs", "opsgenie_configs", "wechat_configs",
	    "pushover_configs", "victorops_configs", "sns_configs",      "telegram_configs",
	    "webex_configs",    "discord_configs",   "msteams_configs",  NULL};
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	const ts_yaml_node *wh = NULL, *em = NULL;
	for (size_t i = 0; !rc && i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, k->scalar);
		if (!strcmp(k->scalar, "name"))
			rc = ts_yaml_copy_str(&c->r, v, w, &r->name, err);
		else if (!strcmp(k->scalar, "webhook_configs"))
			rc = opt_seq(c, wh = v, w, err);
		else if (!strcmp(k->scalar, "email_configs"))
			rc = opt_seq(c, em = v, w, err);
		else if (key_in(k->scalar, other))
			rc = empty_or_unsupported(c, k, v, what, err);
		else
			rc = ts_yaml_unknown_key(c->r.doc, k, what, err);
	}
	if (rc)
		return rc;
	if (!r->name || !r->name[0])
		return ts_yaml_error(c->r.doc, m, err, TS_EINVAL, "%s: missing name of receiver",
				     what);
	size_t nw = wh && wh->type == TS_YAML_SEQ ? wh->n : 0;
	size_t ne = em && em->type == TS_YAML_SEQ ? em->n : 0;
	r->integ = alloc(c, (nw + ne) * sizeof(*r->integ));
	if (!r->integ)
		return oom(err);
	for (size_t i = 0; i < nw + ne; i++) {
		char w[TS_YAML_WHAT_MAX];
		alert_ncfg_integration *it = &r->integ[i];
		if (i < nw) {
			ts_yaml_what(w, sizeof(w), "%s.webhook_configs[%zu]", what, i);
			it->index = (uint32_t)i;
			rc = parse_webhook(c, wh->items[i], w, it, err);
		} else {
			ts_yaml_what(w, sizeof(w), "%s.email_configs[%zu]", what, i - nw);
			it->index = (uint32_t)(i - nw);
			rc = parse_email(c, em->items[i - nw], w, it, err);
		}
		if (rc)
			return rc;
	}
	r->n_integ = nw + ne;
	return TS_OK;
}

/* ================================================================ routes */

static int route_key(pctx *c, alert_ncfg_route *r, ts_err *err)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	int rc = TS_OK;
	if (r->parent)
		rc = ts_buf_puts(&b, r->parent->key) || ts_buf_putc(&b, '/');
	rc = rc || ts_buf_putc(&b, '{');
	for (size_t i = 0; !rc && i < r->n_matchers; i++)
		rc = (i && ts_buf_putc(&b, ',')) || alert_matcher_string(&r->matchers[i], &b);
	rc = rc || ts_buf_putc(&b, '}');
	if (!rc)
		r->key = alert_arena_strndup(c->c->arena, b.data, b.len);
	ts_buf_free(&b);
	return rc || !r->key ? oom(err) : TS_OK;
}

static int parse_route(pctx *c, const ts_yaml_node *m, const char *what, alert_ncfg_route *parent,
		       int depth, alert_ncfg_route **out, ts_err *err)
{
	if (depth > MAX_ROUTE_DEPTH)
		return ts_yaml_error(c->r.doc, m, err, TS_ELIMIT, "%s: routes nested too deeply",
				     what);
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	if (rc)
		return rc;
	alert_ncfg_route *r = alloc(c, sizeof(*r));
	if (!r)
		return oom(err);
	r->parent = parent;
	r->index = c->n_routes++;
	if (parent) {
		r->receiver = parent->receiver;
		r->group_by = parent->group_by;
		r->n_group_by = parent->n_group_by;
		r->is_group_by_all = parent->is_group_by_all;
		r->group_wait_ms = parent->group_wait_ms;
		r->group_interval_ms = parent->group_interval_ms;
		r->repeat_interval_ms = parent->repeat_interval_ms;
	} else {
		r->group_wait_ms = 30 * 1000;
		r->group_interval_ms = 5 * 60 * 1000;
		r->repeat_interval_ms = 4 * 3600 * 1000;
	}
	const ts_yaml_node *mlist = NULL, *meq = NULL, *mre = NULL, *routes = NULL;
	for (size_t i = 0; !rc && i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		const char *key = k->scalar;
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, key);
		if (!strcmp(key, "receiver"))
			rc = ts_yaml_copy_str(&c->r, v, w, &r->receiver, err);
		else if (!strcmp(key, "group_by"))
			rc = parse_names(c, v, w, true, &r->group_by, &r->n_group_by,
					 &r->is_group_by_all, err);
		else if (!strcmp(key, "group_wait"))
			rc = ts_yaml_duration(c->r.doc, v, w, &r->group_wait_ms, err);
		else if (!strcmp(key, "group_interval"))
			rc = ts_yaml_duration(c->r.doc, v, w, &r->group_interval_ms, err);
		else if (!strcmp(key, "repeat_interval"))
			rc = ts_yaml_duration(c->r.doc, v, w, &r->repeat_interval_ms, err);
		else if (!strcmp(key, "continue"))
			rc = ts_yaml_bool(c->r.doc, v, w, &r->is_continue, err);
		else if (!strcmp(key, "matchers"))
			mlist = v;
		else if (!strcmp(key, "match"))
			meq = v;
		else if (!strcmp(key, "match_re"))
			mre = v;
		else if (!strcmp(key, "routes"))
			rc = opt_seq(c, routes = v, w, err);
		else if (!strcmp(key, "mute_time_intervals") ||
			 !strcmp(key, "active_time_intervals"))
			rc = empty_or_unsupported(c, k, v, what, err);
		else
			rc = ts_yaml_unknown_key(c->r.doc, k, what, err);
	}
	if (rc)
		return rc;
	char w[TS_YAML_WHAT_MAX];
	ts_yaml_what(w, sizeof(w), "%s.matchers", what);
	if ((rc = parse_matcher_set(c, mlist, meq, mre, w, &r->matchers, &r->n_matchers, err)))
		return rc;
	if (!parent) {
		if (!r->receiver || !r->receiver[0])
			return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
					     "%s: root route must specify a default receiver",
					     what);
		if (r->n_matchers)
			return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
					     "%s: root route must not have any matchers", what);
		if (r->is_continue)
			return ts_yaml_error(c->r.doc, m, err, TS_EINVAL,
					     "%s: cannot have continue in root route", what);
	}
	static const char *const timers[] = {"group_wait", "group_interval", "repeat_interval"};
	int64_t vals[] = {r->group_wait_ms, r->group_interval_ms, r->repeat_interval_ms};
	for (int i = 0; i < 3; i++)
		if (vals[i] < 0 || (i > 0 && vals[i] == 0))
			return ts_yaml_error(c->r.doc, ts_yaml_get(m, timers[i]), err, TS_EINVAL,
					     "%s.%s: must be positive", what, timers[i]);
	if ((rc = route_key(c, r, err)))
		return rc;
	size_t nr = routes && routes->type == TS_YAML_SEQ ? routes->n : 0;
	r->routes = alloc(c, nr * sizeof(*r->routes));
	if (!r->routes)
		return oom(err);
	for (size_t i = 0; i < nr; i++) {
		ts_yaml_what(w, sizeof(w), "%s.routes[%zu]", what, i);
		if ((rc = parse_route(c, routes->items[i], w, r, depth + 1, &r->routes[i], err)))
			return rc;
	}
	r->n_routes = nr;
	*out = r;
	return TS_OK;
}

static void index_routes(alert_ncfg_route *r, alert_ncfg_route **v)
{
	v[r->index] = r;
	for (size_t i = 0; i < r->n_routes; i++)
		index_routes(r->routes[i], v);
}

static int check_receivers(pctx *c, const alert_ncfg_route *r, const ts_yaml_node *rn, ts_err *err)
{
	if (!alert_ncfg_receiver_get(c->c, r->receiver))
		return ts_yaml_error(c->r.doc, rn, err, TS_EINVAL,
				     "route: undefined receiver \"%s\" used in route", r->receiver);
	for (size_t i = 0; i < r->n_routes; i++) {
		const ts_yaml_node *rs = ts_yaml_get(rn, "routes");
		const ts_yaml_node *child =
		    rs && rs->type == TS_YAML_SEQ && i < rs->n ? rs->items[i] : rn;
		int rc = check_receivers(c, r->routes[i], child, err);
		if (rc)
			return rc;
	}
	return TS_OK;
}

/* ================================================================ inhibit rules */

static int parse_inhibit(pctx *c, const ts_yaml_node *m, const char *what, alert_ncfg_inhibit *ih,
			 ts_err *err)
{
	int rc = ts_yaml_want_map(c->r.doc, m, what, err);
	const ts_yaml_node *sm = NULL, *sme = NULL, *smr = NULL, *tm = NULL, *tme = NULL,
			   *tmr = NULL;
	for (size_t i = 0; !rc && i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		const char *key = k->scalar;
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, key);
		if (!strcmp(key, "source_matchers"))
			sm = v;
		else if (!strcmp(key, "source_match"))
			sme = v;
		else if (!strcmp(key, "source_match_re"))
			smr = v;
		else if (!strcmp(key, "target_matchers"))
			tm = v;
		else if (!strcmp(key, "target_match"))
			tme = v;
		else if (!strcmp(key, "target_match_re"))
			tmr = v;
		else if (!strcmp(key, "equal"))
			rc = parse_names(c, v, w, false, &ih->equal, &ih->n_equal, NULL, err);
		else
			rc = ts_yaml_unknown_key(c->r.doc, k, what, err);
	}
	char w[TS_YAML_WHAT_MAX];
	ts_yaml_what(w, sizeof(w), "%s.source_matchers", what);
	if (!rc)
		rc = parse_matcher_set(c, sm, sme, smr, w, &ih->source, &ih->n_source, err);
	ts_yaml_what(w, sizeof(w), "%s.target_matchers", what);
	if (!rc)
		rc = parse_matcher_set(c, tm, tme, tmr, w, &ih->target, &ih->n_target, err);
	return rc;
}

/* ================================================================ the Alertmanager config */

static int parse_am(pctx *c, const ts_yaml_node *root, const char *what, ts_err *err)
{
	alert_ncfg *cf = c->c;
	c->g.resolve_timeout_ms = 5 * 60 * 1000;
	c->g.smtp_require_tls = true;
	c->g.http.follow_redirects = true;
	int rc = ts_yaml_want_map(c->r.doc, root, what, err);
	if (rc)
		return rc;
	char w[TS_YAML_WHAT_MAX];
	const ts_yaml_node *g = ts_yaml_get(root, "global");
	if (g && !ts_yaml_is_null(g)) {
		ts_yaml_what(w, sizeof(w), "%s%sglobal", what, what[0] ? "." : "");
		if ((rc = parse_global(c, g, w, err)))
			return rc;
	}
	cf->resolve_timeout_ms = c->g.resolve_timeout_ms;
	const ts_yaml_node *route = NULL, *inh = NULL, *recv = NULL;
	for (size_t i = 0; i < root->n; i++) {
		const ts_yaml_node *k = root->keys[i], *v = root->items[i];
		const char *key = k->scalar;
		if (!strcmp(key, "global"))
			continue;
		if (!strcmp(key, "route"))
			route = v;
		else if (!strcmp(key, "inhibit_rules"))
			inh = v;
		else if (!strcmp(key, "receivers"))
			recv = v;
		else if (!strcmp(key, "templates") || !strcmp(key, "time_intervals") ||
			 !strcmp(key, "mute_time_intervals")) {
			if ((rc = empty_or_unsupported(c, k, v, what[0] ? what : "config", err)))
				return rc;
		} else {
			return ts_yaml_unknown_key(c->r.doc, k, what[0] ? what : "config", err);
		}
	}
	/* receivers */
	ts_yaml_what(w, sizeof(w), "%s%sreceivers", what, what[0] ? "." : "");
	if (recv && !ts_yaml_is_null(recv) && (rc = ts_yaml_want_seq(c->r.doc, recv, w, err)))
		return rc;
	size_t nrecv = recv && recv->type == TS_YAML_SEQ ? recv->n : 0;
	cf->receivers = alloc(c, nrecv * sizeof(*cf->receivers));
	if (!cf->receivers)
		return oom(err);
	for (size_t i = 0; i < nrecv; i++) {
		char wr[TS_YAML_WHAT_MAX];
		ts_yaml_what(wr, sizeof(wr), "%s[%zu]", w, i);
		if ((rc = parse_receiver(c, recv->items[i], wr, &cf->receivers[i], err)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cf->receivers[j].name, cf->receivers[i].name))
				return ts_yaml_error(c->r.doc, recv->items[i], err, TS_EINVAL,
						     "%s: notification config name \"%s\" is not "
						     "unique",
						     wr, cf->receivers[i].name);
		cf->n_receivers = i + 1;
	}
	/* route */
	ts_yaml_what(w, sizeof(w), "%s%sroute", what, what[0] ? "." : "");
	if (!route || ts_yaml_is_null(route))
		return ts_yaml_error(c->r.doc, root, err, TS_EINVAL, "%s: no routes provided", w);
	if ((rc = parse_route(c, route, w, NULL, 0, &cf->root, err)))
		return rc;
	cf->n_routes = c->n_routes;
	cf->routes = alloc(c, cf->n_routes * sizeof(*cf->routes));
	if (!cf->routes)
		return oom(err);
	index_routes(cf->root, cf->routes);
	if ((rc = check_receivers(c, cf->root, route, err)))
		return rc;
	/* inhibit rules */
	ts_yaml_what(w, sizeof(w), "%s%sinhibit_rules", what, what[0] ? "." : "");
	if (inh && !ts_yaml_is_null(inh)) {
		if ((rc = ts_yaml_want_seq(c->r.doc, inh, w, err)))
			return rc;
		cf->inhibits = alloc(c, inh->n * sizeof(*cf->inhibits));
		if (!cf->inhibits)
			return oom(err);
		for (size_t i = 0; i < inh->n; i++) {
			char wi[TS_YAML_WHAT_MAX];
			ts_yaml_what(wi, sizeof(wi), "%s[%zu]", w, i);
			if ((rc = parse_inhibit(c, inh->items[i], wi, &cf->inhibits[i], err)))
				return rc;
			cf->n_inhibits = i + 1;
		}
	}
	return TS_OK;
}

static alert_ncfg *ncfg_new(void)
{
	alert_ncfg *c = ts_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (!(c->arena = alert_arena_new(ARENA_MAX_BYTES))) {
		ts_free(c);
		return NULL;
	}
	atomic_init(&c->refs, 1);
	c->outbox_max_age_ms = 24LL * 3600 * 1000;
	c->retry_initial_ms = 1000;
	c->retry_max_ms = 5 * 60 * 1000;
	c->send_timeout_ms = 10 * 1000;
	c->rate_limit_interval_ms = 60 * 1000;
	c->retention_ms = 120LL * 3600 * 1000;
	c->resolve_timeout_ms = 5 * 60 * 1000;
	return c;
}

/* A config that routes everything to one receiver with no integrations. */
static int null_config(alert_ncfg *cf, ts_err *err)
{
	alert_ncfg_route *r = alert_arena_alloc(cf->arena, sizeof(*r));
	alert_ncfg_receiver *rv = alert_arena_alloc(cf->arena, sizeof(*rv));
	alert_ncfg_route **rs = alert_arena_alloc(cf->arena, sizeof(*rs));
	if (!r || !rv || !rs)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	rv->name = "strata-null";
	r->receiver = rv->name;
	r->group_wait_ms = 30 * 1000;
	r->group_interval_ms = 5 * 60 * 1000;
	r->repeat_interval_ms = 4 * 3600 * 1000;
	r->key = "{}";
	rs[0] = r;
	cf->root = r;
	cf->routes = rs;
	cf->n_routes = 1;
	cf->receivers = rv;
	cf->n_receivers = 1;
	return TS_OK;
}

int alert_ncfg_parse(const char *name, const char *text, size_t len, alert_ncfg **out, ts_err *err)
{
	ts_yaml_doc *doc = NULL;
	int rc = ts_yaml_parse(name, text, len, &doc, err);
	if (rc)
		return rc;
	alert_ncfg *cf = ncfg_new();
	if (!cf) {
		ts_yaml_free(doc);
		return oom(err);
	}
	pctx c = ctx_new(doc, cf, NULL);
	const ts_yaml_node *root = ts_yaml_root(doc);
	if (!root)
		rc = ts_err_set(err, TS_EINVAL, "%s: empty Alertmanager config", name);
	else
		rc = parse_am(&c, root, "", err);
	ts_yaml_free(doc);
	if (rc) {
		alert_ncfg_release(cf);
		return rc;
	}
	*out = cf;
	return TS_OK;
}

/* ================================================================ the alerting: section */

static int parse_strata(pctx *c, const ts_yaml_node *sec, const ts_yaml_node **am_inline,
			const char **am_file, const ts_yaml_node **file_node, ts_err *err)
{
	alert_ncfg *cf = c->c;
	int rc = ts_yaml_want_map(c->r.doc, sec, "alerting", err);
	for (size_t i = 0; !rc && i < sec->n; i++) {
		const ts_yaml_node *k = sec->keys[i], *v = sec->items[i];
		const char *key = k->scalar;
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "alerting.%s", key);
		if (!strcmp(key, "config")) {
			*am_inline = v;
		} else if (!strcmp(key, "config_file")) {
			*file_node = v;
			rc = ts_yaml_copy_path(&c->r, v, w, am_file, err);
		} else if (!strcmp(key, "external_url")) {
			rc = ts_yaml_copy_str(&c->r, v, w, &cf->external_url, err);
		} else if (!strcmp(key, "retention")) {
			rc = ts_yaml_duration(c->r.doc, v, w, &cf->retention_ms, err);
		} else if (!strcmp(key, "alertmanagers")) {
			rc = opt_seq(c, v, w, err);
			if (rc || ts_yaml_is_null(v))
				continue;
			cf->alertmanagers = alloc(c, v->n * sizeof(char *));
			if (!cf->alertmanagers)
				return oom(err);
			for (size_t j = 0; !rc && j < v->n; j++) {
				char w2[TS_YAML_WHAT_MAX];
				ts_yaml_what(w2, sizeof(w2), "%s[%zu]", w, j);
				rc = ts_yaml_copy_str(&c->r, v->items[j], w2, &cf->alertmanagers[j],
						      err);
				if (!rc && strncmp(cf->alertmanagers[j], "http://", 7) &&
				    strncmp(cf->alertmanagers[j], "https://", 8))
					rc = ts_yaml_error(c->r.doc, v->items[j], err, TS_EINVAL,
							   "%s: want an http(s) URL", w2);
				cf->n_alertmanagers = j + 1;
			}
		} else if (!strcmp(key, "outbox")) {
			const ts_yaml_key keys[] = {
			    TS_YAML_KEY_FN("max_age", positive_ms, &cf->outbox_max_age_ms),
			    TS_YAML_KEY_FN("retry_initial", positive_ms, &cf->retry_initial_ms),
			    TS_YAML_KEY_FN("retry_max", positive_ms, &cf->retry_max_ms),
			    TS_YAML_KEY_FN("timeout", positive_ms, &cf->send_timeout_ms),
			    TS_YAML_KEYS_END};
			rc = ts_yaml_keys(&c->r, v, w, keys, c, err);
		} else if (!strcmp(key, "rate_limit")) {
			const ts_yaml_key keys[] = {
			    TS_YAML_KEY_RANGE("notifications", &cf->rate_limit, 0, 1000000),
			    TS_YAML_KEY_FN("interval", positive_ms, &cf->rate_limit_interval_ms),
			    TS_YAML_KEYS_END};
			rc = ts_yaml_keys(&c->r, v, w, keys, c, err);
		} else {
			rc = ts_yaml_unknown_key(c->r.doc, k, "alerting", err);
		}
	}
	if (!rc && *am_inline && *am_file)
		rc = ts_yaml_error(c->r.doc, *file_node, err, TS_EINVAL,
				   "alerting: config and config_file are mutually exclusive");
	return rc;
}

int alert_ncfg_from_config(const ts_config *conf, alert_ncfg **out, ts_err *err)
{
	alert_ncfg *cf = ncfg_new();
	if (!cf)
		return oom(err);
	const ts_yaml_node *sec = conf ? ts_config_section(conf, "alerting") : NULL;
	int rc = TS_OK;
	ts_yaml_doc *fdoc = NULL;
	char *dir = NULL;
	if (!sec || ts_yaml_is_null(sec)) {
		rc = null_config(cf, err);
		goto done;
	}
	if (conf->source) {
		const char *slash = strrchr(conf->source, '/');
		if (slash && !(dir = ts_strndup(conf->source, (size_t)(slash - conf->source)))) {
			rc = oom(err);
			goto done;
		}
	}
	pctx c = ctx_new(ts_config_doc(conf), cf, dir);
	const ts_yaml_node *am_inline = NULL, *file_node = NULL;
	const char *am_file = NULL;
	if ((rc = parse_strata(&c, sec, &am_inline, &am_file, &file_node, err)))
		goto done;
	if (am_inline) {
		rc = parse_am(&c, am_inline, "alerting.config", err);
	} else if (am_file) {
		if ((rc = ts_yaml_load_file(am_file, &fdoc, err)))
			goto done;
		const ts_yaml_node *root = ts_yaml_root(fdoc);
		/* relative paths inside the file resolve against its own directory */
		ts_free(dir);
		dir = NULL;
		const char *slash = strrchr(am_file, '/');
		if (slash && !(dir = ts_strndup(am_file, (size_t)(slash - am_file)))) {
			rc = oom(err);
			goto done;
		}
		pctx fc = ctx_new(fdoc, cf, dir);
		if (!root)
			rc = ts_err_set(err, TS_EINVAL, "%s: empty Alertmanager config", am_file);
		else
			rc = parse_am(&fc, root, "", err);
	} else {
		rc = null_config(cf, err);
	}
done:
	ts_yaml_free(fdoc);
	ts_free(dir);
	if (rc) {
		alert_ncfg_release(cf);
		return rc;
	}
	*out = cf;
	return TS_OK;
}
