/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_server.c: the HTTP server: the one wrapper around libmicrohttpd (MHD) and zlib's
 * use for HTTP bodies (see http_server.h for the API).
 *
 * Request life cycle, in MHD's callbacks:
 *   on_uri       MHD has read the request line: allocate the web_req, keep the raw target
 *                (MHD unescapes its own copy in place and does not report bad escapes).
 *   on_access #1 headers complete: count the request as in flight, decode the path, match
 *                the route, check Content-Length against max_body_bytes (413 before a byte
 *                of body is read, and before "100 Continue" is sent), set up gunzip for
 *                Content-Encoding: gzip. Reserves the whole body when its length is known,
 *                so a keep-alive batch of line protocol costs one allocation. Errors found
 *                here (400/404/405) are answered at the end of an absent or small body:
 *                MHD closes any connection whose response was queued before its body.
 *   on_access #n each body chunk: appended (or inflated) into req->body, which grows
 *                geometrically; past a limit the rest of the body is read and dropped, not
 *                buffered, and the request ends in 413.
 *   on_access #z end of body: parse parameters, call the handler, compress, queue the
 *                response. The body buffer is handed to MHD without a copy and freed by it.
 *   on_completed response sent or connection gone: statistics, access log, free.
 *
 * Graceful stop: MHD_quiesce_daemon closes the door, requests arriving on open
 * connections get 503 + Connection: close, in-flight requests drain (bounded wait), then
 * MHD_stop_daemon closes what is left. We create and bind the listen socket ourselves so
 * bind errors carry errno and the ephemeral port is known.
 *
 * Routes live in an immutable table published through an atomic pointer; registering a
 * route copies the table (registration is rare, lookups are per request and lock-free).
 * Old tables are kept until stop, so a request may keep using the table it started with.
 *
 * Statistics are per route pattern: a 500-slot array of atomic counters indexed by status
 * code, plus a duration sum and count; requests matching no route go to "other".
 *
 * THREADING DECISION. Thread per connection is the default because handlers block: the
 * write path acknowledges only after a durable log append (group commit), and a PromQL
 * range query can run for seconds. In MHD's epoll pool a blocked handler stalls every
 * connection its worker serves. Measured with libcurl clients on the 2-core dev box (load
 * average ~11 from parallel builds, so throughput figures are noisy), MHD 0.9.75:
 *   - fast GETs on 8 keep-alive connections while one 1 s query runs: thread per
 *     connection p99 0.26 ms; pool of 4: p50 698 ms, p99 1001 ms (two queries: p50 2 s);
 *   - 16 clients, handler waiting 20 ms (a stand-in for a durable-ack wait): 785 req/s
 *     vs 193 req/s for the pool of 4 (capped at 4 / 20 ms);
 *   - 8 clients posting 5,000-line (495 KB) batches over keep-alive, CPU-bound: 300-1160
 *     req/s vs 240-780 req/s for the pool (not worse, within the noise);
 *   - 1,000 idle keep-alive connections: +75 KiB RSS each and 1,002 threads vs +65 KiB
 *     and 5 threads; the 64 KiB per-connection buffer dominates, not the stacks.
 * The pool stays available (WEB_HTTP_THREAD_POOL) for many mostly idle clients; the real
 * fix for both, suspend/resume with a handler worker pool, is future work.
 *
 * Responses are gzipped at level 1: on a 1 MB Prometheus matrix with 15-digit values,
 * level 1 gives 2.7x in 30 ms, level 6 3.4x in 76 ms (same box).
 *
 * Access control: the authorize hook runs in on_access #1 right after the target is parsed,
 * before routing, so a refused request never has its body read. TLS: MHD_USE_TLS with the
 * PEM certificate and key in memory and a GnuTLS priority string (minimum version).
 * Header deadlines (slowloris): connection and request events go to http_guard.c.
 *
 * Does not: HTTP/2, chunked or streamed responses, Range, request trailers.
 */
#include "web/http_server.h"

#include "web/http_guard.h"
#include "web/json.h"

#include <microhttpd.h>
#include <zlib.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STATUS_MIN       100
#define STATUS_SLOTS     500         /* codes 100..599 */
#define INFLATE_CHUNK    (64 * 1024) /* output room made available per inflate step */
#define REJECT_DRAIN_MAX (64 * 1024) /* bodies read and dropped to keep a connection */
#define DEFAULT_CTYPE    "text/plain; charset=utf-8"

/* ------------------------------------------------------------------------------------ */
/* Types                                                                                 */
/* ------------------------------------------------------------------------------------ */

/* Counters of one route pattern. Immutable except the atomics. */
typedef struct route_stats {
	char *handler;                            /* owned: label value, the pattern */
	_Atomic uint64_t n_by_code[STATUS_SLOTS]; /* requests by status - STATUS_MIN */
	_Atomic uint64_t dur_ns_sum;              /* sum of request durations, ns */
	_Atomic uint64_t n_done;                  /* requests in dur_ns_sum */
	_Atomic(struct route_stats *) next;       /* append-only list, srv->reg_lock */
} route_stats;

/* One registered route. Immutable once published. */
typedef struct route {
	char *method;        /* owned; NULL = any method */
	char *path;          /* owned; pattern without the trailing '*' */
	size_t path_len;     /* strlen(path) */
	bool is_prefix;      /* pattern ended with '*' */
	web_http_handler fn; /* the handler */
	void *ctx;           /* borrowed, passed to fn */
	route_stats *stats;  /* borrowed from the server's stats list */
} route;

/* A published route table. Immutable; superseded tables stay on the retired list. */
typedef struct route_table {
	struct route_table *retired_next; /* older table, freed at stop (reg_lock) */
	size_t n;                         /* routes */
	route *r[];                       /* borrowed; owned by the server's route list */
} route_table;

struct web_http_server {
	web_http_options o;                  /* settings, defaults applied; immutable after start */
	char *host;                          /* owned copy of o.host */
	struct MHD_Daemon *mhd;              /* the daemon */
	int listen_fd;                       /* our listen socket, -1 once MHD owns closing it */
	uint16_t port;                       /* bound port */
	_Atomic(route_table *) routes;       /* current table; NULL = none yet */
	pthread_mutex_t reg_lock;            /* serializes registration; guards the fields below */
	route_table *retired;                /* superseded tables (reg_lock) */
	route **all;                         /* every route ever registered, owned (reg_lock) */
	size_t n_all, cap_all;               /* (reg_lock) */
	route_stats *stats_tail;             /* last entry of the stats list (reg_lock) */
	route_stats *other;                  /* head of the stats list: unmatched requests */
	_Atomic uint64_t in_flight;          /* requests started and not completed */
	atomic_bool draining;                /* web_http_stop has begun */
	web_http_guard *guard;               /* header deadlines; stopped after the daemon */
	char *tls_cert, *tls_key, *tls_prio; /* owned copies of the TLS options, or NULL */
};

struct web_resp {
	int status;     /* HTTP status, default 200 */
	ts_buf body;    /* the body; max = max_response_bytes */
	ts_buf hdrs;    /* "Name\0Value\0" pairs */
	size_t n_hdrs;  /* pairs in hdrs */
	bool has_ctype; /* a Content-Type header is in hdrs */
	bool has_cenc;  /* a Content-Encoding header is in hdrs */
};

struct web_req {
	web_http_server *srv;        /* borrowed; NULL for web_req_new requests */
	struct MHD_Connection *conn; /* borrowed; NULL for web_req_new requests */
	char *target;                /* owned: raw request target */
	char *method;                /* owned */
	char *path;                  /* owned: decoded path */
	const char *path_rest;       /* into path: the part after a prefix route */
	const route *rt;             /* matched route (borrowed from a route table) */
	route_stats *stats;          /* where this request is counted */
	web_params *params;          /* owned; NULL when there are none */
	/* Body. */
	ts_buf body;         /* decoded body; max = max_body or max_decoded */
	uint64_t wire_bytes; /* body bytes received */
	z_stream *zs;        /* owned: inflater when Content-Encoding is gzip */
	bool z_member_done;  /* the current gzip member has ended */
	/* Early failure: the status and message to answer with at the end of the body. */
	int fail_status; /* 0 = none */
	char fail_msg[TS_ERR_MSG_MAX];
	const char *fail_type; /* Prometheus errorType */
	char allow[160];       /* Allow header of a 405 */
	/* State. */
	size_t query_off, query_n; /* raw query string: target[query_off..+query_n) */
	bool started;              /* on_access has run for this request */
	bool responded;            /* a response was queued */
	int64_t start_ns;          /* ts_mono_ns() at on_access #1 */
	int status_sent;           /* status of the queued response */
	uint64_t resp_bytes;       /* body bytes of the queued response */
	char client[64];           /* formatted peer address, lazily */
	ts_buf hdrs;               /* web_req_new only: "Name\0Value\0" pairs */
	size_t n_hdrs;             /* pairs in hdrs */
	web_resp resp;             /* the response being built */
};

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                         */
/* ------------------------------------------------------------------------------------ */

/* Look up name in a "Name\0Value\0" list of n pairs (case-insensitive), or NULL. */
static const char *pairs_get(const ts_buf *b, size_t n, const char *name)
{
	const char *p = b->data;
	for (size_t i = 0; i < n; i++) {
		const char *v = p + strlen(p) + 1;
		if (strcasecmp(p, name) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

static int pairs_add(ts_buf *b, size_t *n, const char *name, const char *value)
{
	size_t start = b->len;
	int rc = ts_buf_append(b, name, strlen(name) + 1);
	if (!rc)
		rc = ts_buf_append(b, value, strlen(value) + 1);
	if (rc) {
		b->len = start;
		return rc;
	}
	(*n)++;
	return TS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Responses                                                                             */
/* ------------------------------------------------------------------------------------ */

static void resp_init(web_resp *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	ts_buf_init(&r->body, max_body);
	ts_buf_init(&r->hdrs, 64 * 1024);
}

static void resp_fini(web_resp *r)
{
	ts_buf_free(&r->body);
	ts_buf_free(&r->hdrs);
}

web_resp *web_resp_new(void)
{
	web_resp *r = ts_malloc(sizeof(*r));
	if (r)
		resp_init(r, (size_t)1 << 30);
	return r;
}

void web_resp_free(web_resp *resp)
{
	if (!resp)
		return;
	resp_fini(resp);
	ts_free(resp);
}

void web_resp_status(web_resp *resp, int status)
{
	if (TS_NEVER(status < STATUS_MIN || status >= STATUS_MIN + STATUS_SLOTS))
		status = 500;
	resp->status = status;
}

int web_resp_header(web_resp *resp, const char *name, const char *value, ts_err *err)
{
	if (!name[0] || strpbrk(name, " \t\r\n:") || web_http_has_ctl(value))
		return ts_err_set(err, TS_EINVAL, "invalid response header \"%s\"", name);
	static const char *const owned[] = {"Content-Length", "Transfer-Encoding", "Connection",
					    "Date"};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (strcasecmp(name, owned[i]) == 0)
			return ts_err_set(err, TS_EINVAL, "header %s is set by the server", name);
	if (pairs_add(&resp->hdrs, &resp->n_hdrs, name, value))
		return ts_err_set(err, TS_ENOMEM, "out of memory adding header %s", name);
	if (strcasecmp(name, "Content-Type") == 0)
		resp->has_ctype = true;
	if (strcasecmp(name, "Content-Encoding") == 0)
		resp->has_cenc = true;
	return TS_OK;
}

int web_resp_content_type(web_resp *resp, const char *type)
{
	return web_resp_header(resp, "Content-Type", type, NULL);
}

ts_buf *web_resp_body(web_resp *resp)
{
	return &resp->body;
}

void web_resp_set_body(web_resp *resp, ts_buf *body)
{
	size_t max = resp->body.max;
	ts_buf_free(&resp->body);
	resp->body = *body;
	resp->body.max = max > body->len ? max : body->len;
	size_t keep = body->max;
	ts_buf_init(body, keep);
}

int web_resp_error(web_resp *resp, int status, const char *error_type, const char *fmt, ...)
{
	char msg[TS_ERR_MSG_MAX * 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ts_buf_reset(&resp->body);
	ts_buf_reset(&resp->hdrs);
	resp->n_hdrs = 0;
	resp->has_ctype = resp->has_cenc = false;
	web_resp_status(resp, status);
	ts_buf *b = &resp->body;
	int rc = ts_buf_puts(b, "{\"status\":\"error\",\"errorType\":");
	if (!rc)
		rc = web_json_escape(b, error_type, strlen(error_type));
	if (!rc)
		rc = ts_buf_puts(b, ",\"error\":");
	if (!rc)
		rc = web_json_escape(b, msg, strlen(msg));
	if (!rc)
		rc = ts_buf_putc(b, '}');
	if (!rc)
		rc = web_resp_content_type(resp, "application/json");
	return rc ? TS_ENOMEM : TS_OK;
}

int web_resp_get_status(const web_resp *resp)
{
	return resp->status;
}

const char *web_resp_get_body(const web_resp *resp, size_t *len)
{
	if (len)
		*len = resp->body.len;
	return resp->body.data ? resp->body.data : "";
}

const char *web_resp_get_header(const web_resp *resp, const char *name)
{
	return pairs_get(&resp->hdrs, resp->n_hdrs, name);
}

/* ------------------------------------------------------------------------------------ */
/* Request parsing (shared by the server and web_req_new)                                */
/* ------------------------------------------------------------------------------------ */

static web_req *req_alloc(web_http_server *srv, const char *target)
{
	web_req *r = ts_calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->srv = srv;
	r->target = ts_strdup(target);
	if (!r->target) {
		ts_free(r);
		return NULL;
	}
	ts_buf_init(&r->body, srv ? srv->o.max_body_bytes : (size_t)1 << 30);
	ts_buf_init(&r->hdrs, 64 * 1024);
	resp_init(&r->resp, srv ? srv->o.max_response_bytes : (size_t)1 << 30);
	return r;
}

static void req_free(web_req *r)
{
	if (!r)
		return;
	if (r->zs) {
		inflateEnd(r->zs);
		ts_free(r->zs);
	}
	ts_free(r->target);
	ts_free(r->method);
	ts_free(r->path);
	web_params_free(r->params);
	ts_buf_free(&r->body);
	ts_buf_free(&r->hdrs);
	resp_fini(&r->resp);
	ts_free(r);
}

/* Split the target into path and query, decode the path into r->path. */
static int parse_target(web_req *r, const char **query, size_t *query_len, ts_err *err)
{
	const char *t = r->target;
	/* absolute-form (proxies): skip scheme://authority */
	if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
		t = strstr(t, "://") + 3;
		t += strcspn(t, "/?");
		if (*t != '/')
			return ts_err_set(err, TS_EINVAL, "request target has no path");
	}
	if (t[0] != '/')
		return ts_err_set(err, TS_EINVAL, "request target must start with '/'");
	size_t plen = strcspn(t, "?#");
	*query = "";
	*query_len = 0;
	if (t[plen] == '?') {
		*query = t + plen + 1;
		*query_len = strcspn(*query, "#");
	}
	r->path = ts_malloc(plen + 1);
	if (!r->path)
		return ts_err_set(err, TS_ENOMEM, "out of memory decoding the path");
	size_t n;
	int rc = web_url_decode(t, plen, false, r->path, &n, "path", err);
	if (rc) {
		ts_free(r->path);
		r->path = NULL;
	}
	return rc;
}

static bool method_has_form(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

/* Parameters of a request whose body is complete. */
static int parse_request_params(web_req *r, const char *query, size_t query_n, ts_err *err)
{
	const char *form = "";
	size_t form_n = 0;
	if (method_has_form(r->method) &&
	    web_http_media_type_is(web_req_header(r, "Content-Type"),
				   "application/x-www-form-urlencoded")) {
		form = r->body.data ? r->body.data : "";
		form_n = r->body.len;
	}
	return web_params_parse(form, form_n, query, query_n, &r->params, err);
}

/* ------------------------------------------------------------------------------------ */
/* Request getters                                                                       */
/* ------------------------------------------------------------------------------------ */

const char *web_req_method(const web_req *req)
{
	return req->method;
}

const char *web_req_path(const web_req *req)
{
	return req->path;
}

const char *web_req_path_rest(const web_req *req)
{
	return req->path_rest ? req->path_rest : "";
}

const char *web_req_param(const web_req *req, const char *key)
{
	return web_params_get(req->params, key);
}

void web_req_params(const web_req *req, const char *key, const char *const **vals, size_t *n)
{
	web_params_get_all(req->params, key, vals, n);
}

size_t web_req_n_params(const web_req *req)
{
	return web_params_count(req->params);
}

void web_req_param_at(const web_req *req, size_t i, const char **key, const char **val)
{
	web_params_at(req->params, i, key, val);
}

const char *web_req_header(const web_req *req, const char *name)
{
	if (req->conn)
		return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
	return pairs_get(&req->hdrs, req->n_hdrs, name);
}

const char *web_req_body(const web_req *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

const char *web_req_query(const web_req *req, size_t *n)
{
	*n = req->query_n;
	return req->query_n ? req->target + req->query_off : "";
}

const char *web_req_client(const web_req *req)
{
	web_req *r = (web_req *)req; /* the formatted address is a lazy cache */
	if (r->client[0] || !r->conn)
		return r->client;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return r->client;
	const struct sockaddr *sa = ci->client_addr;
	socklen_t sl =
	    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	char host[INET6_ADDRSTRLEN + 1], serv[8];
	if (getnameinfo(sa, sl, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return r->client;
	snprintf(r->client, sizeof(r->client), sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, serv);
	return r->client;
}

int web_req_new(const char *method, const char *target, const char *content_type, const char *body,
		size_t body_len, web_req **out, ts_err *err)
{
	web_req *r = req_alloc(NULL, target);
	int rc = TS_ENOMEM;
	if (!r)
		return ts_err_set(err, TS_ENOMEM, "out of memory allocating a request");
	r->method = ts_strdup(method);
	if (!r->method || (body_len && ts_buf_append(&r->body, body, body_len)) ||
	    (content_type && pairs_add(&r->hdrs, &r->n_hdrs, "Content-Type", content_type))) {
		ts_err_set(err, TS_ENOMEM, "out of memory building a request");
		goto fail;
	}
	const char *query;
	size_t query_n;
	if ((rc = parse_target(r, &query, &query_n, err)) ||
	    (rc = parse_request_params(r, query, query_n, err)))
		goto fail;
	r->query_off = query_n ? (size_t)(query - r->target) : 0;
	r->query_n = query_n;
	*out = r;
	return TS_OK;
fail:
	req_free(r);
	return rc;
}

int web_req_add_header(web_req *req, const char *name, const char *value, ts_err *err)
{
	if (req->conn)
		return ts_err_set(err, TS_EINVAL, "headers of a network request are read-only");
	if (pairs_add(&req->hdrs, &req->n_hdrs, name, value))
		return ts_err_set(err, TS_ENOMEM, "out of memory adding header %s", name);
	return TS_OK;
}

void web_req_free(web_req *req)
{
	req_free(req);
}

/* ------------------------------------------------------------------------------------ */
/* Routes                                                                                */
/* ------------------------------------------------------------------------------------ */

static route_stats *stats_new(const char *handler)
{
	route_stats *st = ts_malloc(sizeof(*st));
	if (!st)
		return NULL;
	st->handler = ts_strdup(handler);
	if (!st->handler) {
		ts_free(st);
		return NULL;
	}
	for (size_t i = 0; i < STATUS_SLOTS; i++)
		atomic_init(&st->n_by_code[i], 0);
	atomic_init(&st->dur_ns_sum, 0);
	atomic_init(&st->n_done, 0);
	atomic_init(&st->next, NULL);
	return st;
}

static void stats_free(route_stats *st)
{
	if (!st)
		return;
	ts_free(st->handler);
	ts_free(st);
}

static void route_free(route *rt)
{
	if (!rt)
		return;
	ts_free(rt->method);
	ts_free(rt->path);
	ts_free(rt);
}

/* An HTTP method token: 1..31 of A-Z, 0-9, '-', '_'. */
static bool valid_method(const char *m)
{
	size_t n = 0;
	for (; m[n]; n++)
		if (!((m[n] >= 'A' && m[n] <= 'Z') || (m[n] >= '0' && m[n] <= '9') || m[n] == '-' ||
		      m[n] == '_'))
			return false;
	return n > 0 && n < 32;
}

int web_http_route(web_http_server *srv, const char *method, const char *path,
		   web_http_handler handler, void *ctx, ts_err *err)
{
	if (!path || path[0] != '/' || web_http_has_ctl(path))
		return ts_err_set(err, TS_EINVAL, "route path \"%s\" must start with '/'",
				  path ? path : "(null)");
	size_t len = strlen(path);
	bool is_prefix = path[len - 1] == '*';
	if (memchr(path, '*', len - is_prefix))
		return ts_err_set(err, TS_EINVAL, "route path \"%s\": '*' only at the end", path);
	if (method && !valid_method(method))
		return ts_err_set(err, TS_EINVAL, "route %s: bad method \"%s\"", path, method);
	if (!handler)
		return ts_err_set(err, TS_EINVAL, "route %s: no handler", path);
	size_t plen = len - is_prefix;

	pthread_mutex_lock(&srv->reg_lock);
	int rc = TS_ENOMEM;
	route *rt = NULL;
	route_table *cur = atomic_load_explicit(&srv->routes, memory_order_acquire);
	size_t n = cur ? cur->n : 0;
	for (size_t i = 0; i < n; i++) {
		const route *o = cur->r[i];
		bool same_method = (!o->method && !method) ||
				   (o->method && method && strcmp(o->method, method) == 0);
		if (o->is_prefix == is_prefix && o->path_len == plen &&
		    memcmp(o->path, path, plen) == 0 && same_method) {
			rc = ts_err_set(err, TS_EEXIST, "route %s %s is already registered",
					method ? method : "*", path);
			goto fail;
		}
	}
	route_stats *st = srv->other;
	while (st && strcmp(st->handler, path) != 0)
		st = atomic_load_explicit(&st->next, memory_order_relaxed);
	if (!st) {
		if (!(st = stats_new(path)))
			goto nomem;
		atomic_store_explicit(&srv->stats_tail->next, st, memory_order_release);
		srv->stats_tail = st;
	}
	rt = ts_calloc(1, sizeof(*rt));
	if (!rt || !(rt->path = ts_strndup(path, plen)) ||
	    (method && !(rt->method = ts_strdup(method))))
		goto nomem;
	rt->path_len = plen;
	rt->is_prefix = is_prefix;
	rt->fn = handler;
	rt->ctx = ctx;
	rt->stats = st;
	if (srv->n_all == srv->cap_all) {
		size_t cap = srv->cap_all ? srv->cap_all * 2 : 16;
		route **all = ts_realloc(srv->all, cap * sizeof(*all));
		if (!all)
			goto nomem;
		srv->all = all;
		srv->cap_all = cap;
	}
	route_table *nt = ts_malloc(sizeof(*nt) + (n + 1) * sizeof(route *));
	if (!nt)
		goto nomem;
	nt->retired_next = NULL;
	nt->n = n + 1;
	if (n)
		memcpy(nt->r, cur->r, n * sizeof(route *));
	nt->r[n] = rt;
	srv->all[srv->n_all++] = rt;
	if (cur) {
		cur->retired_next = srv->retired;
		srv->retired = cur;
	}
	atomic_store_explicit(&srv->routes, nt, memory_order_release);
	pthread_mutex_unlock(&srv->reg_lock);
	return TS_OK;
nomem:
	rc = ts_err_set(err, TS_ENOMEM, "out of memory registering route %s", path);
fail:
	pthread_mutex_unlock(&srv->reg_lock);
	route_free(rt);
	return rc;
}

typedef struct route_match {
	const route *rt;         /* best route for path and method, or NULL */
	route_stats *path_stats; /* stats of a route matching the path only (for 405) */
	char allow[160];         /* methods of the routes matching the path only */
} route_match;

static void allow_add(char *allow, size_t cap, const char *m)
{
	size_t ml = strlen(m), al = strlen(allow);
	for (const char *p = allow; (p = strstr(p, m)); p += ml)
		if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0'))
			return;
	if (al + ml + 3 < cap)
		snprintf(allow + al, cap - al, "%s%s", al ? ", " : "", m);
}

static void match_route(const route_table *t, const char *path, const char *method, route_match *m)
{
	memset(m, 0, sizeof(*m));
	size_t best = 0;
	bool is_head = strcmp(method, "HEAD") == 0;
	for (size_t i = 0; t && i < t->n; i++) {
		const route *rt = t->r[i];
		bool path_ok = rt->is_prefix ? strncmp(path, rt->path, rt->path_len) == 0
					     : strcmp(path, rt->path) == 0;
		if (!path_ok)
			continue;
		bool exact_method = rt->method && strcmp(rt->method, method) == 0;
		bool ok =
		    !rt->method || exact_method || (is_head && strcmp(rt->method, "GET") == 0);
		if (!ok) {
			if (!m->path_stats)
				m->path_stats = rt->stats;
			allow_add(m->allow, sizeof(m->allow), rt->method);
			if (strcmp(rt->method, "GET") == 0)
				allow_add(m->allow, sizeof(m->allow), "HEAD");
			continue;
		}
		/* exact path beats any prefix, longer prefix beats shorter, exact method beats
		 * "any" and HEAD-via-GET */
		size_t score = (rt->is_prefix ? rt->path_len + 1 : SIZE_MAX / 4) * 2 + exact_method;
		if (score > best) {
			best = score;
			m->rt = rt;
		}
	}
}

/* ------------------------------------------------------------------------------------ */
/* Sending                                                                               */
/* ------------------------------------------------------------------------------------ */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return ts_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	ts_free(p);
}

/* Replace the response body with its gzip encoding if that is smaller. Best effort. */
static void gzip_body(web_resp *resp)
{
	ts_buf *in = &resp->body;
	if (in->len > UINT32_MAX)
		return;
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	zs.zalloc = z_alloc;
	zs.zfree = z_free;
	/* Level 1: most of level 6's ratio for less than half its CPU (file comment). */
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	/* Room for exactly the input size: output that does not fit is not worth sending. */
	ts_buf out;
	ts_buf_init(&out, in->len);
	if (ts_buf_reserve(&out, in->len) == TS_OK) {
		zs.next_in = (Bytef *)in->data;
		zs.avail_in = (uInt)in->len;
		zs.next_out = (Bytef *)out.data;
		zs.avail_out = (uInt)in->len;
		if (deflate(&zs, Z_FINISH) == Z_STREAM_END &&
		    pairs_add(&resp->hdrs, &resp->n_hdrs, "Content-Encoding", "gzip") == TS_OK) {
			out.len = zs.total_out;
			out.data[out.len] = '\0';
			resp->has_cenc = true;
			ts_buf_free(in);
			*in = out;
			ts_buf_init(&out, 0);
		}
	}
	ts_buf_free(&out);
	deflateEnd(&zs);
}

/* Queue r->resp on the connection. MHD_NO makes MHD close the connection. */
static enum MHD_Result queue_resp(web_req *r)
{
	web_http_server *srv = r->srv;
	web_resp *resp = &r->resp;
	bool compressible = !resp->has_cenc && resp->body.len > srv->o.gzip_min_bytes;
	if (compressible && web_http_accepts_gzip(web_req_header(r, "Accept-Encoding")))
		gzip_body(resp);
	size_t len = 0;
	char *data = resp->body.len ? ts_buf_take(&resp->body, &len) : NULL;
	struct MHD_Response *mr =
	    data ? MHD_create_response_from_buffer_with_free_callback(len, data, ts_free)
		 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!mr) {
		ts_free(data);
		return MHD_NO;
	}
	const char *p = resp->hdrs.data;
	for (size_t i = 0; i < resp->n_hdrs; i++) {
		const char *v = p + strlen(p) + 1;
		if (MHD_add_response_header(mr, p, v) != MHD_YES)
			ts_log_debug("http: header %s dropped by libmicrohttpd", p);
		p = v + strlen(v) + 1;
	}
	if (!resp->has_ctype && len)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, DEFAULT_CTYPE);
	if (compressible)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (atomic_load_explicit(&srv->draining, memory_order_relaxed))
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)resp->status, mr);
	MHD_destroy_response(mr);
	if (ok == MHD_YES) {
		r->responded = true;
		r->status_sent = resp->status;
		r->resp_bytes = len;
	}
	return ok;
}

static int resp_error_msg(web_resp *resp, int status, const char *type, const char *msg)
{
	return web_resp_error(resp, status, type, "%s", msg);
}

/* Remember the first failure while a body is still arriving; answered at its end. */
static void set_fail(web_req *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_fail(web_req *r, int status, const char *type, const char *fmt, ...)
{
	if (r->fail_status)
		return;
	r->fail_status = status;
	r->fail_type = type;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->fail_msg, sizeof(r->fail_msg), fmt, ap);
	va_end(ap);
	ts_buf_free(&r->body); /* the rest is dropped, not buffered */
}

/* ------------------------------------------------------------------------------------ */
/* Receiving                                                                             */
/* ------------------------------------------------------------------------------------ */

/* The guard slot of a connection (set by on_connection), or NULL. */
static web_http_guard_conn *guard_conn(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void inflate_chunk(web_req *r, const char *data, size_t n)
{
	z_stream *zs = r->zs;
	ts_buf *b = &r->body;
	zs->next_in = (Bytef *)data;
	zs->avail_in = (uInt)n;
	while (zs->avail_in > 0) {
		if (r->z_member_done) { /* concatenated gzip members, as Go's reader accepts */
			if (inflateReset(zs) != Z_OK) {
				set_fail(r, 400, "bad_data", "invalid gzip request body");
				return;
			}
			r->z_member_done = false;
		}
		if (!b->data || b->cap == b->len) {
			size_t room = b->max - b->len;
			if (room == 0) {
				set_fail(r, 413, "bad_data",
					 "decompressed request body exceeds the limit of %zu bytes",
					 b->max);
				return;
			}
			size_t want = b->len > INFLATE_CHUNK ? b->len : INFLATE_CHUNK;
			if (want > room)
				want = room;
			if (ts_buf_reserve(b, want) != TS_OK) {
				set_fail(r, 503, "unavailable",
					 "out of memory decompressing the request body");
				return;
			}
		}
		size_t avail = b->cap - b->len;
		uInt out_n = avail > UINT32_MAX ? UINT32_MAX : (uInt)avail;
		zs->next_out = (Bytef *)b->data + b->len;
		zs->avail_out = out_n;
		int zr = inflate(zs, Z_NO_FLUSH);
		b->len += out_n - zs->avail_out;
		b->data[b->len] = '\0';
		if (zr == Z_STREAM_END) {
			r->z_member_done = true;
		} else if (zr == Z_BUF_ERROR && zs->avail_out != 0) {
			break; /* no progress possible; cannot happen with input left */
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			set_fail(r, 400, "bad_data", "invalid gzip request body: %s",
				 zs->msg ? zs->msg : "corrupt data");
			return;
		}
	}
}

static void body_chunk(web_req *r, const char *data, size_t n)
{
	size_t max = r->srv->o.max_body_bytes;
	r->wire_bytes += n;
	if (r->fail_status)
		return;
	if (r->wire_bytes > max) {
		set_fail(r, 413, "bad_data", "request body exceeds the limit of %zu bytes", max);
		return;
	}
	if (r->zs) {
		inflate_chunk(r, data, n);
		return;
	}
	int rc = ts_buf_append(&r->body, data, n);
	if (rc == TS_ELIMIT)
		set_fail(r, 413, "bad_data", "request body exceeds the limit of %zu bytes", max);
	else if (rc)
		set_fail(r, 503, "unavailable", "out of memory receiving the request body");
}

/* Answer a request that failed before its body: see reject(). */
static enum MHD_Result respond_fail(web_req *r)
{
	resp_error_msg(&r->resp, r->fail_status, r->fail_type, r->fail_msg);
	if (r->fail_status == 405)
		web_resp_header(&r->resp, "Allow", r->allow, NULL);
	if (r->fail_status == 401) {
		web_resp_header(&r->resp, "WWW-Authenticate", "Basic realm=\"strata\"", NULL);
		web_resp_header(&r->resp, "WWW-Authenticate", "Bearer realm=\"strata\"", NULL);
	}
	return queue_resp(r);
}

/*
 * Reject a request whose headers are in. MHD closes the connection after a response queued
 * before the body was read, so when the body is absent or small (declared length up to
 * REJECT_DRAIN_MAX) it is read and dropped and the answer comes at its end, which keeps
 * the connection; a large or chunked body is not worth reading: answer now and close.
 */
static enum MHD_Result reject(web_req *r, bool small_body, int status, const char *type,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result reject(web_req *r, bool small_body, int status, const char *type,
			      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r->fail_status = status;
	r->fail_type = type;
	vsnprintf(r->fail_msg, sizeof(r->fail_msg), fmt, ap);
	va_end(ap);
	return small_body ? MHD_YES : respond_fail(r);
}

/* on_access #1: the request line and headers are in. */
static enum MHD_Result on_first(web_http_server *srv, web_req *r, struct MHD_Connection *conn,
				const char *method)
{
	r->started = true;
	r->conn = conn;
	r->start_ns = ts_mono_ns();
	web_http_guard_headers_done(srv->guard, guard_conn(conn));
	r->stats = srv->other;
	atomic_fetch_add_explicit(&srv->in_flight, 1, memory_order_relaxed);
	if (!(r->method = ts_strdup(method)))
		return MHD_NO;
	size_t max = srv->o.max_body_bytes;
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long clen = 0;
	if (cl) {
		char *end;
		errno = 0;
		clen = strtoull(cl, &end, 10);
		if (errno || end == cl)
			clen = 0;
	}
	bool small =
	    clen <= REJECT_DRAIN_MAX &&
	    !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (atomic_load_explicit(&srv->draining, memory_order_relaxed))
		return reject(r, false, 503, "unavailable", "server is shutting down");
	ts_err err = {0};
	const char *query;
	int rc = parse_target(r, &query, &r->query_n, &err);
	if (rc)
		return reject(r, small, web_http_status_for_err(rc), web_http_error_type(rc), "%s",
			      err.msg);
	r->query_off = (size_t)(query - r->target);
	if (!*query)
		r->query_off = strlen(r->target);
	if (srv->o.authorize) {
		char msg[TS_ERR_MSG_MAX] = "";
		int st = srv->o.authorize(r, srv->o.authorize_ctx, msg, sizeof(msg));
		if (st)
			return reject(r, small, st, st == 401 ? "unauthorized" : "forbidden", "%s",
				      msg[0] ? msg : "access denied");
	}

	route_match m;
	match_route(atomic_load_explicit(&srv->routes, memory_order_acquire), r->path, method, &m);
	if (!m.rt) {
		if (!m.path_stats)
			return reject(r, small, 404, "not_found", "path %s not found", r->path);
		r->stats = m.path_stats;
		snprintf(r->allow, sizeof(r->allow), "%s", m.allow);
		return reject(r, small, 405, "bad_data",
			      "method %s not allowed for %s (allowed: %s)", method, r->path,
			      m.allow);
	}
	r->rt = m.rt;
	r->stats = m.rt->stats;
	r->path_rest = m.rt->is_prefix ? r->path + m.rt->path_len : "";

	/* Too large by its declared length: answer before reading (and before 100 Continue). */
	if (clen > max)
		return reject(r, false, 413, "bad_data",
			      "request body of %llu bytes exceeds the limit of %zu bytes", clen,
			      max);
	const char *ce =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (ce && (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "x-gzip") == 0)) {
		r->zs = ts_calloc(1, sizeof(*r->zs));
		if (!r->zs)
			return reject(r, false, 503, "unavailable", "out of memory");
		r->zs->zalloc = z_alloc;
		r->zs->zfree = z_free;
		if (inflateInit2(r->zs, 15 + 16) != Z_OK) {
			ts_free(r->zs);
			r->zs = NULL;
			return reject(r, false, 503, "unavailable", "out of memory");
		}
		r->body.max = srv->o.max_decoded_bytes;
		if (clen) {
			size_t guess = clen > r->body.max / 4 ? r->body.max : (size_t)clen * 4;
			ts_buf_reserve(&r->body, guess); /* a hint: failure shows up later */
		}
	} else if (clen && ts_buf_reserve(&r->body, (size_t)clen) != TS_OK) {
		return reject(r, false, 503, "unavailable",
			      "out of memory for a request body of %llu bytes", clen);
	}
	return MHD_YES;
}

/* on_access #z: the body is complete. */
static enum MHD_Result on_body_done(web_req *r)
{
	if (!r->fail_status && r->zs && r->wire_bytes && !r->z_member_done)
		set_fail(r, 400, "bad_data", "truncated gzip request body");
	if (r->fail_status)
		return respond_fail(r);
	ts_err err = {0};
	int rc = parse_request_params(r, r->target + r->query_off, r->query_n, &err);
	if (rc)
		return reject(r, false, web_http_status_for_err(rc), web_http_error_type(rc), "%s",
			      err.msg);
	rc = r->rt->fn(r, &r->resp, r->rt->ctx, &err);
	if (rc)
		resp_error_msg(&r->resp, web_http_status_for_err(rc), web_http_error_type(rc),
			       err.msg[0] ? err.msg : ts_err_name(rc));
	return queue_resp(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **req_cls)
{
	web_http_server *srv = cls;
	web_req *r = *req_cls;
	(void)url;
	(void)version;
	if (!r) /* on_uri ran out of memory: drop the connection */
		return MHD_NO;
	if (!r->started)
		return on_first(srv, r, conn, method);
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->responded)
			return MHD_YES;
		body_chunk(r, upload_data, n);
		/* Drop a connection that keeps sending far past the limit. */
		if (r->fail_status && r->wire_bytes / 2 > srv->o.max_body_bytes)
			return MHD_NO;
		return MHD_YES;
	}
	if (r->responded)
		return MHD_YES;
	return on_body_done(r);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	web_http_server *srv = cls;
	web_http_guard_request_line(srv->guard, guard_conn(conn));
	return req_alloc(cls, uri);
}

/* Connection opened or closing (before its socket is closed): track it in the guard. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	web_http_server *srv = cls;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		web_http_guard_close(srv->guard, *socket_context);
		*socket_context = NULL;
		return;
	}
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	*socket_context = ci ? web_http_guard_open(srv->guard, ci->connect_fd) : NULL;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	web_http_server *srv = cls;
	web_req *r = *req_cls;
	*req_cls = NULL;
	web_http_guard_request_done(srv->guard, guard_conn(conn));
	if (!r)
		return;
	if (r->started) {
		int64_t dur = ts_mono_ns() - r->start_ns;
		route_stats *st = r->stats;
		int code = r->status_sent;
		if (code >= STATUS_MIN && code < STATUS_MIN + STATUS_SLOTS) {
			atomic_fetch_add_explicit(&st->n_by_code[code - STATUS_MIN], 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&st->dur_ns_sum, (uint64_t)dur,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&st->n_done, 1, memory_order_relaxed);
		}
		bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
		const char *path = r->path ? r->path : r->target;
		const char *method = r->method ? r->method : "?";
		if (srv->o.access_hook) {
			web_http_access a = {
			    .method = method,
			    .path = path,
			    .route = st->handler,
			    .client = web_req_client(r),
			    .status = code,
			    .duration_ns = dur,
			    .body_bytes = r->wire_bytes,
			    .resp_bytes = r->resp_bytes,
			    .is_ok = ok,
			};
			srv->o.access_hook(&a, srv->o.access_hook_ctx);
		} else {
			ts_log_debug("http %s %s status=%d duration_ms=%.3f in_bytes=%llu "
				     "out_bytes=%llu client=%s%s",
				     method, path, code, (double)dur / 1e6,
				     (unsigned long long)r->wire_bytes,
				     (unsigned long long)r->resp_bytes, web_req_client(r),
				     ok ? "" : " aborted");
		}
		atomic_fetch_sub_explicit(&srv->in_flight, 1, memory_order_release);
	}
	req_free(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* Mostly per-connection noise (resets, timeouts); start-up failures are reported
	 * through ts_err by web_http_start. */
	ts_log_debug("libmicrohttpd: %s", msg);
}

/* ------------------------------------------------------------------------------------ */
/* Start and stop                                                                        */
/* ------------------------------------------------------------------------------------ */

static int open_listener(web_http_server *srv, ts_err *err)
{
	char host[256];
	const char *h = srv->host[0] ? srv->host : "0.0.0.0";
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') /* "[::1]" */
		snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), h + 1);
	else
		snprintf(host, sizeof(host), "%s", h);
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)srv->o.port);
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai)
		return ts_err_set(err, TS_EINVAL, "listen address %s:%s: %s", host, port,
				  gai_strerror(gai));
	int fd = -1, e = 0;
	const char *what = "socket";
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			e = errno, what = "socket";
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			e = errno, what = "bind";
		} else if (listen(fd, SOMAXCONN) != 0) {
			e = errno, what = "listen";
		} else {
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		char eb[128];
		return ts_err_set(err, TS_EIO, "%s %s:%s: %s", what, host, port,
				  strerror_r(e, eb, sizeof(eb)));
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	srv->listen_fd = fd;
	return TS_OK;
}

static void server_free(web_http_server *srv)
{
	for (size_t i = 0; i < srv->n_all; i++)
		route_free(srv->all[i]);
	ts_free(srv->all);
	ts_free(atomic_load(&srv->routes));
	for (route_table *t = srv->retired, *next; t; t = next) {
		next = t->retired_next;
		ts_free(t);
	}
	for (route_stats *st = srv->other, *next; st; st = next) {
		next = atomic_load(&st->next);
		stats_free(st);
	}
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	web_http_guard_stop(srv->guard);
	ts_free(srv->tls_cert);
	ts_free(srv->tls_key);
	ts_free(srv->tls_prio);
	pthread_mutex_destroy(&srv->reg_lock);
	ts_free(srv->host);
	ts_free(srv);
}

int web_http_start(const web_http_options *o, web_http_server **out, ts_err *err)
{
	web_http_server *srv = ts_calloc(1, sizeof(*srv));
	if (!srv)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the HTTP server");
	int rc = TS_ENOMEM;
	srv->o = *o;
	srv->listen_fd = -1;
	pthread_mutex_init(&srv->reg_lock, NULL);
	atomic_init(&srv->routes, NULL);
	atomic_init(&srv->in_flight, 0);
	atomic_init(&srv->draining, false);
	web_http_options *so = &srv->o;
	if (!so->n_threads)
		so->n_threads = 4;
	if (!so->max_connections)
		so->max_connections = 1024;
	if (!so->conn_timeout_s)
		so->conn_timeout_s = 120;
	if (!so->max_body_bytes)
		so->max_body_bytes = (size_t)64 << 20;
	if (!so->max_decoded_bytes)
		so->max_decoded_bytes =
		    so->max_body_bytes > SIZE_MAX / 4 ? SIZE_MAX : so->max_body_bytes * 4;
	if (!so->max_response_bytes)
		so->max_response_bytes = (size_t)1 << 30;
	if (!so->conn_memory_bytes)
		so->conn_memory_bytes = 64 * 1024;
	if (!so->gzip_min_bytes)
		so->gzip_min_bytes = 1024;
	if (so->drain_timeout_ms <= 0)
		so->drain_timeout_ms = 30000;
	if (so->header_timeout_ms <= 0)
		so->header_timeout_ms = 10000;
	if (so->threading != WEB_HTTP_THREAD_PER_CONNECTION &&
	    so->threading != WEB_HTTP_THREAD_POOL) {
		rc = ts_err_set(err, TS_EINVAL, "unknown HTTP threading mode %d", so->threading);
		goto fail;
	}
	if (so->conn_memory_bytes < 4096) {
		rc = ts_err_set(err, TS_EINVAL, "conn_memory_bytes %zu is below 4096",
				so->conn_memory_bytes);
		goto fail;
	}
	srv->host = ts_strdup(o->host ? o->host : "");
	srv->other = stats_new("other");
	if (!srv->host || !srv->other) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory starting the HTTP server");
		goto fail;
	}
	srv->o.host = srv->host;
	srv->stats_tail = srv->other;
	bool is_tls = o->tls_cert_pem && o->tls_key_pem;
	if (is_tls &&
	    (!(srv->tls_cert = ts_strdup(o->tls_cert_pem)) ||
	     !(srv->tls_key = ts_strdup(o->tls_key_pem)) ||
	     !(srv->tls_prio = ts_strdup(o->tls_priorities ? o->tls_priorities : "NORMAL")))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory starting the HTTP server");
		goto fail;
	}
	if ((rc = web_http_guard_start(so->header_timeout_ms, (int64_t)so->conn_timeout_s * 1000,
				       &srv->guard, err)) ||
	    (rc = open_listener(srv, err)))
		goto fail;

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (so->threading == WEB_HTTP_THREAD_PER_CONNECTION)
		flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	else
		flags |= MHD_USE_EPOLL;
	if (is_tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem ops[20];
	size_t k = 0;
#define OPT(opt, val, ptr) ops[k++] = (struct MHD_OptionItem){(opt), (intptr_t)(val), (ptr)}
	OPT(MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, so->max_connections, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, so->conn_timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, so->conn_memory_bytes, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv);
	OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv);
	if (is_tls) {
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, srv->tls_prio);
	}
	if (so->per_ip_limit)
		OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, so->per_ip_limit, NULL);
	if (so->threading == WEB_HTTP_THREAD_POOL)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, so->n_threads, NULL);
	if (so->thread_stack_bytes)
		OPT(MHD_OPTION_THREAD_STACK_SIZE, so->thread_stack_bytes, NULL);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_ARRAY, ops,
				    MHD_OPTION_END);
	if (!srv->mhd) {
		rc = ts_err_set(err, TS_EIO, "libmicrohttpd failed to start on %s:%u%s",
				srv->host[0] ? srv->host : "0.0.0.0", (unsigned)srv->port,
				is_tls ? " with TLS (does the key match the certificate? is the "
					 "priority string valid?)"
				       : "");
		goto fail;
	}
	ts_log_info("http: listening on %s:%u (%s%s)", srv->host[0] ? srv->host : "0.0.0.0",
		    (unsigned)srv->port,
		    so->threading == WEB_HTTP_THREAD_POOL ? "epoll pool" : "thread per connection",
		    is_tls ? ", TLS" : "");
	*out = srv;
	return TS_OK;
fail:
	server_free(srv);
	return rc;
}

uint16_t web_http_port(const web_http_server *srv)
{
	return srv->port;
}

uint64_t web_http_n_slow_dropped(const web_http_server *srv)
{
	return web_http_guard_n_dropped(srv->guard);
}

uint64_t web_http_in_flight(const web_http_server *srv)
{
	return atomic_load_explicit(&((web_http_server *)srv)->in_flight, memory_order_relaxed);
}

void web_http_stop(web_http_server *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->draining, true);
	MHD_socket lfd = MHD_quiesce_daemon(srv->mhd);
	if (lfd == MHD_INVALID_SOCKET)
		ts_log_warn("http: could not stop accepting before draining");
	else
		shutdown(lfd, SHUT_RDWR); /* refuse new connections now, not after the drain; the
					     fd itself stays open until MHD_stop_daemon */
	int64_t deadline = ts_mono_ns() + srv->o.drain_timeout_ms * 1000000;
	while (atomic_load_explicit(&srv->in_flight, memory_order_acquire) > 0 &&
	       ts_mono_ns() < deadline) {
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	uint64_t left = atomic_load(&srv->in_flight);
	if (left)
		ts_log_warn("http: %llu requests still running after the %lld ms drain timeout",
			    (unsigned long long)left, (long long)srv->o.drain_timeout_ms);
	MHD_stop_daemon(srv->mhd);
	if (lfd == MHD_INVALID_SOCKET) /* MHD closed it */
		srv->listen_fd = -1;
	server_free(srv);
}

/* ------------------------------------------------------------------------------------ */
/* Metrics                                                                               */
/* ------------------------------------------------------------------------------------ */

static int put_label(ts_buf *b, const char *s)
{
	int rc = TS_OK;
	for (; *s && !rc; s++) {
		if (*s == '\\' || *s == '"')
			rc = ts_buf_putc(b, '\\') || ts_buf_putc(b, *s) ? TS_ENOMEM : TS_OK;
		else if (*s == '\n')
			rc = ts_buf_append(b, "\\n", 2);
		else
			rc = ts_buf_putc(b, *s);
	}
	return rc;
}

int web_http_write_metrics(const web_http_server *srv, ts_buf *out)
{
	int rc = ts_buf_puts(out, "# HELP strata_http_requests_total HTTP requests answered, by "
				  "route and status code.\n"
				  "# TYPE strata_http_requests_total counter\n");
	for (route_stats *st = srv->other; st && !rc;
	     st = atomic_load_explicit(&st->next, memory_order_acquire)) {
		for (int i = 0; i < STATUS_SLOTS && !rc; i++) {
			uint64_t n = atomic_load_explicit(&st->n_by_code[i], memory_order_relaxed);
			if (!n)
				continue;
			if (!(rc = ts_buf_puts(out, "strata_http_requests_total{handler=\"")) &&
			    !(rc = put_label(out, st->handler)))
				rc = ts_buf_printf(out, "\",code=\"%d\"} %llu\n", i + STATUS_MIN,
						   (unsigned long long)n);
		}
	}
	if (!rc)
		rc = ts_buf_puts(out,
				 "# HELP strata_http_request_duration_seconds Time from request "
				 "headers received to response sent.\n"
				 "# TYPE strata_http_request_duration_seconds summary\n");
	for (route_stats *st = srv->other; st && !rc;
	     st = atomic_load_explicit(&st->next, memory_order_acquire)) {
		uint64_t ns = atomic_load_explicit(&st->dur_ns_sum, memory_order_relaxed);
		uint64_t n = atomic_load_explicit(&st->n_done, memory_order_relaxed);
		const char *parts[2] = {"_sum", "_count"};
		for (int j = 0; j < 2 && !rc; j++) {
			if (!(rc = ts_buf_printf(out,
						 "strata_http_request_duration_seconds%s"
						 "{handler=\"",
						 parts[j])) &&
			    !(rc = put_label(out, st->handler))) {
				if (j == 0)
					rc = ts_buf_printf(out, "\"} %llu.%09llu\n",
							   (unsigned long long)(ns / 1000000000),
							   (unsigned long long)(ns % 1000000000));
				else
					rc =
					    ts_buf_printf(out, "\"} %llu\n", (unsigned long long)n);
			}
		}
	}
	if (!rc)
		rc = ts_buf_printf(out,
				   "# HELP strata_http_requests_in_flight HTTP requests being "
				   "served.\n"
				   "# TYPE strata_http_requests_in_flight gauge\n"
				   "strata_http_requests_in_flight %llu\n"
				   "# HELP strata_http_slow_connections_dropped_total Connections "
				   "closed for not sending their headers in time.\n"
				   "# TYPE strata_http_slow_connections_dropped_total counter\n"
				   "strata_http_slow_connections_dropped_total %llu\n",
				   (unsigned long long)web_http_in_flight(srv),
				   (unsigned long long)web_http_n_slow_dropped(srv));
	return rc;
}
