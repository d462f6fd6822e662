/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web_int.h: state shared by web/'s handler files (internal to web/ and its tests).
 *
 * server.c owns the web_server and registers the routes; each api_*.c file provides the
 * handlers of one area and a function that registers them.
 */
#ifndef WEB_WEB_INT_H
#define WEB_WEB_INT_H

#include "web/web.h"

#include "web/auth.h"
#include "web/http_server.h"
#include "web/json.h"

#include <stdatomic.h>

struct web_server {
	web_options opt; /* copy; pointers borrowed from the caller */
	web_http_server *http;
	_Atomic bool ready;
	int64_t start_ms; /* process start, for /api/v1/status/runtimeinfo */
	web_auth *auth;   /* owned; NULL = no access control (no auth: section) */
	/* Internal read API counters (api_internal.c; in its status answer). */
	_Atomic uint64_t internal_selects, internal_series_sent;
};

/* The `tls:` config section (tls.c). */
typedef struct web_tls_config {
	char *cert_pem;         /* owned PEM text; NULL = no TLS */
	char *key_pem;          /* owned PEM text */
	const char *priorities; /* static GnuTLS priority string for min_version */
} web_tls_config;

/*
 * Parse the `tls:` section of c (NULL or absent: *out zeroed, plain HTTP) and read its
 * files. Errors name file:line:col (TS_EINVAL), TS_ENOMEM. Free with web_tls_config_fini.
 */
int web_tls_config_load(const ts_config *c, web_tls_config *out, ts_err *err);
void web_tls_config_fini(web_tls_config *t);

/* Route registration per area (each returns TS_OK or the first error). */
int web_api_write_routes(web_server *s, ts_err *err);
int web_api_query_routes(web_server *s, ts_err *err);
int web_api_status_routes(web_server *s, ts_err *err);
int web_api_targets_routes(web_server *s, ts_err *err);
/* The browser console: /, its pages, /console/<asset> (console.c). */
int web_api_console_routes(web_server *s, ts_err *err);
/* Alertmanager v2 alerts and silences API over the notifier (api_silences.c). */
int web_api_silences_routes(web_server *s, ts_err *err);
/* /api/v1/rules, /api/v1/alerts and /-/reload (api_rules.c). */
int web_api_rules_routes(web_server *s, ts_err *err);
/* POST /api/v1/admin/tsdb/snapshot (api_admin.c). */
int web_api_admin_routes(web_server *s, ts_err *err);
/* /api/v1/metadata, query_exemplars, status/tsdb, format_query (api_meta.c). */
int web_api_meta_routes(web_server *s, ts_err *err);

/* Internal read API of store nodes (api_internal.c; docs/formats/internal_read.md). */
int web_api_internal_routes(web_server *s, ts_err *err);
/* GET /internal/v1/late when opt.late_log is set (api_internal_late.c). */
int web_api_internal_late_routes(web_server *s, ts_err *err);
/* Routes of a node with cluster.role query (fanout.c): query API over the stores. */
int web_api_fanout_routes(web_server *s, ts_err *err);

#define WEB_INTERNAL_VERSION       1u
#define WEB_INTERNAL_SERIES_MAGIC  "STSR" /* select answer */
#define WEB_INTERNAL_STRINGS_MAGIC "STSL" /* label names / values answer */
#define WEB_INTERNAL_END_MAGIC     "STSE" /* last 4 bytes of every answer */
#define WEB_INTERNAL_SERIES_TYPE   "application/x-strata-series"
#define WEB_INTERNAL_STRINGS_TYPE  "application/x-strata-strings"

/* One decoded series of a select answer (fanout.c): a single ts_malloc block. */
typedef struct web_rseries {
	ts_label *labels; /* sorted; strings inside the block */
	size_t n_labels;
	int64_t *t; /* ascending */
	double *v;
	size_t n;
	int store; /* index of the store that sent it */
} web_rseries;

/*
 * Decode a select answer (p, n bytes) from store `store` and append its series to
 * *v (grown with ts_realloc; *n_v updated; every element owned, free with
 * web_rseries_free_all). TS_ECORRUPT naming the byte offset when the answer is
 * truncated or malformed, TS_ENOMEM.
 */
int web_rseries_decode(const char *p, size_t n, int store, web_rseries ***v, size_t *n_v,
		       ts_err *err);
void web_rseries_free_all(web_rseries **v, size_t n);
/*
 * Merge series with equal label sets (sorts v by labels; samples merged by time,
 * identical timestamps kept once, the first store's value) and call fn for each merged
 * series. TS_ELIMIT when more than max_series (0 = no bound) distinct series, TS_ENOMEM,
 * or fn's error.
 */
int web_rseries_merge(web_rseries **v, size_t n, size_t max_series, query_series_fn fn, void *arg,
		      ts_err *err);

/* Start a Prometheus success envelope {"status":"success","data": ... in w. */
void web_api_begin(web_json *w, ts_buf *out);
/* Close the envelope (optionally with warnings) and finish; returns w's status. */
int web_api_end(web_json *w);

/* Send a Prometheus JSON error for an error code (status and errorType from the code). */
int web_api_error(web_resp *resp, int code, const char *msg);

/*
 * Append s as a u16le length and its bytes (the string encoding of the internal formats,
 * docs/formats/internal_read.md; api_internal.c). TS_ELIMIT over 65535 bytes, TS_ENOMEM.
 */
int web_put_str(ts_buf *b, const char *s);

/* The <name> of /api/v1/label/<name>/values (the route's path rest "<name>/values") into
 * name (cap bytes): true; false with a 404 (another path) or 400 (invalid name) answer in
 * resp and *rc the handler's return value (api_query.c; also the query role's). */
bool web_label_values_name(web_req *req, web_resp *resp, char *name, size_t cap, int *rc);

/* An optional time parameter (RFC 3339 or Unix seconds) into *out, dflt when absent: true;
 * false with a 400 "invalid parameter ... Invalid time value" answer in resp (the series,
 * labels and delete_series endpoints; api_query.c). */
bool web_time_param(web_req *req, web_resp *resp, const char *name, int64_t dflt, int64_t *out);

#endif /* WEB_WEB_INT_H */
