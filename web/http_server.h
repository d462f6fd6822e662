/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_server.h: the HTTP server layer of web/ (internal to web/ and its tests): listener,
 * route table, request and response objects, compression, per-route statistics.
 *
 * web/http_server.c is the only file that calls libmicrohttpd (STYLE.md section 1); API
 * handlers see only the types below. A handler is called once per request, on a server
 * thread, after the whole body has arrived (and been gunzipped): it reads the request
 * through web_req_* getters and fills the response through web_resp_*. Returning an error
 * code instead turns err into a JSON error response (web_resp_error) whose status comes
 * from web_http_status_for_err().
 *
 * Threading: by default every connection has its own thread (WEB_HTTP_THREAD_PER_CONNECTION),
 * because handlers block: a write is acknowledged only once the log append is durable
 * (group commit gets better the more writers wait at once) and a PromQL range query can
 * run for seconds. In the epoll pool mode a blocked handler stalls every other connection
 * served by the same pool thread; it is there for deployments with many idle keep-alive
 * clients. Measurements and the decision: "THREADING DECISION" in http_server.c.
 *
 * Access control and TLS: the server calls the authorize hook (web/auth.c decides) once per
 * request when its headers are in, before routing and before a byte of body is read, and
 * serves HTTPS when given a certificate and key (GnuTLS through libmicrohttpd). Slow
 * clients: the guard (http_guard.h) drops connections that do not deliver their headers
 * in time. docs/SECURITY.md has the model and every limit.
 *
 * Not done here: HTTP/2, streaming responses, CORS.
 */
#ifndef WEB_HTTP_SERVER_H
#define WEB_HTTP_SERVER_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct web_http_server web_http_server;
typedef struct web_req web_req;
typedef struct web_resp web_resp;

/*
 * A request handler. req and resp are borrowed for the duration of the call. Return TS_OK
 * after filling resp (status defaults to 200, body to empty), or a TS_E* code with err set
 * to send a JSON error instead (anything already put in resp is discarded). ctx is the
 * pointer given to web_http_route. Called concurrently from many threads.
 */
typedef int (*web_http_handler)(web_req *req, web_resp *resp, void *ctx, ts_err *err);

typedef enum web_http_threading {
	WEB_HTTP_THREAD_PER_CONNECTION = 0, /* one thread per connection (default) */
	WEB_HTTP_THREAD_POOL = 1,           /* n_threads epoll workers shared by all connections */
} web_http_threading;

/* One finished request, handed to the access-log hook (all pointers borrowed for the call). */
typedef struct web_http_access {
	const char *method;  /* "GET" */
	const char *path;    /* decoded path, without the query string */
	const char *route;   /* matched route pattern ("/api/v1/query"), "other" if none */
	const char *client;  /* "127.0.0.1:51234" or "[::1]:51234" */
	int status;          /* HTTP status sent, 0 if the connection failed before one */
	int64_t duration_ns; /* request headers received -> response handed to the kernel */
	uint64_t body_bytes; /* request body bytes received on the wire */
	uint64_t resp_bytes; /* response body bytes (after compression) */
	bool is_ok;          /* the response was sent completely */
} web_http_access;

/* Called on a server thread after each request, concurrently from many threads. */
typedef void (*web_http_access_hook)(const web_http_access *a, void *ctx);

/*
 * Access control: called on a server thread once per request when its headers are in,
 * before routing and before any body byte is read (req is borrowed; its path, method,
 * headers, client and web_req_query are available, parameters are not). Return 0 to serve
 * the request, or an HTTP status (401, 403, ...) and a message for the client in
 * msg[0..cap) to refuse it; a 401 carries WWW-Authenticate challenges for Basic and Bearer.
 * Called concurrently from many threads.
 */
typedef int (*web_http_authorize_hook)(const web_req *req, void *ctx, char *msg, size_t cap);

/* Server settings; zero values mean "the default" noted on each field. */
typedef struct web_http_options {
	const char *host;             /* listen address, numeric or name; NULL/"" = 0.0.0.0 */
	uint16_t port;                /* 0 = an ephemeral port (see web_http_port) */
	web_http_threading threading; /* see the file comment */
	unsigned n_threads;           /* THREAD_POOL only: pool size; 0 = 4 */
	unsigned max_connections;     /* concurrent connections; 0 = 1024 */
	unsigned per_ip_limit;        /* connections per client IP; 0 = unlimited */
	unsigned conn_timeout_s;      /* idle keep-alive timeout in s; 0 = 120 */
	size_t max_body_bytes;        /* request body on the wire; 0 = 64 MiB; over -> 413 */
	size_t max_decoded_bytes;     /* body after gunzip; 0 = 4 x max_body_bytes; over -> 413 */
	size_t max_response_bytes;    /* web_resp_body() growth limit; 0 = 1 GiB */
	size_t conn_memory_bytes;     /* per-connection buffer for request line, headers and
					 body chunks; bounds the URL length; 0 = 64 KiB */
	size_t gzip_min_bytes;        /* compress responses larger than this; 0 = 1024 */
	size_t thread_stack_bytes;    /* stack of server threads; 0 = the system default */
	int64_t drain_timeout_ms;     /* web_http_stop waits this long for in-flight requests;
					 0 = 30000 */
	web_http_access_hook access_hook;  /* called after every request; NULL = the server
					      logs each request itself at debug level */
	void *access_hook_ctx;             /* passed to access_hook */
	int64_t header_timeout_ms;         /* request line + headers must arrive within this (from
					      accept, or from the request line on keep-alive); 0 = 10 s */
	web_http_authorize_hook authorize; /* NULL = every request is served */
	void *authorize_ctx;               /* passed to authorize */
	/* TLS: PEM text (borrowed, copied); cert and key NULL = plain HTTP. */
	const char *tls_cert_pem;   /* certificate chain, leaf first */
	const char *tls_key_pem;    /* private key (unencrypted) */
	const char *tls_priorities; /* GnuTLS priority string; NULL = "NORMAL" */
} web_http_options;

/* ------------------------------------------------------------------------------------ */
/* Server                                                                                */
/* ------------------------------------------------------------------------------------ */

/*
 * Bind o->host:o->port and start serving (o is borrowed; its strings are copied). Until
 * routes are registered every path answers 404. On success *out is the running server,
 * returned owned (release with web_http_stop). Errors: TS_EINVAL (bad option, host does not
 * resolve), TS_EIO (socket/bind/listen failed: the message names address and errno),
 * TS_ENOMEM. Not thread-safe with respect to the same *out.
 */
int web_http_start(const web_http_options *o, web_http_server **out, ts_err *err);

/*
 * Stop gracefully and free the server: stop accepting, answer new requests on open
 * keep-alive connections with 503 + "Connection: close", wait up to drain_timeout_ms for
 * requests in flight to finish, then close every connection and join the threads. A
 * handler still running after the timeout is waited for (handlers must not block forever).
 * NULL allowed. Must not be called from a handler. Call once, from one thread.
 */
void web_http_stop(web_http_server *srv);

/* The bound TCP port (the real one when options asked for port 0). Thread-safe. */
uint16_t web_http_port(const web_http_server *srv);

/*
 * Register a handler. method: "GET", "POST", ... or NULL for any method; a GET route also
 * answers HEAD (same headers, no body). path: starts with '/'; exact match, or a prefix
 * match when it ends with '*' (e.g. "/api/v1/label/" + '*'). The most specific match wins: exact
 * over prefix, longer prefix over shorter. A path that matches only routes of other methods gets
 * 405 with an Allow header. ctx is borrowed and passed to the handler. method and path are
 * copied. Thread-safe, also while serving (routes are published atomically; a request sees
 * the table as it was when it arrived). Errors: TS_EINVAL (bad method or path), TS_EEXIST
 * (same method and path registered), TS_ENOMEM.
 */
int web_http_route(web_http_server *srv, const char *method, const char *path,
		   web_http_handler handler, void *ctx, ts_err *err);

/*
 * Append the server's statistics in Prometheus text format to out:
 *   strata_http_requests_total{handler="<route>",code="<status>"}  counter
 *   strata_http_request_duration_seconds_sum{handler="<route>"}    (summary: sum + count)
 *   strata_http_request_duration_seconds_count{handler="<route>"}
 *   strata_http_requests_in_flight                                 gauge
 *   strata_http_slow_connections_dropped_total                     counter (http_guard.h)
 * with HELP/TYPE lines. Requests matching no route count as handler="other". Thread-safe
 * (reads atomics). TS_OK, TS_ENOMEM or TS_ELIMIT (out may hold a partial text then).
 */
int web_http_write_metrics(const web_http_server *srv, ts_buf *out);

/* Connections dropped for missing their header deadline (http_guard.h). Thread-safe. */
uint64_t web_http_n_slow_dropped(const web_http_server *srv);

/* Requests currently between "headers received" and "response sent". Thread-safe. */
uint64_t web_http_in_flight(const web_http_server *srv);

/* ------------------------------------------------------------------------------------ */
/* Requests                                                                              */
/* ------------------------------------------------------------------------------------ */

/*
 * Getters. Returned pointers are borrowed and valid until the handler returns. All are
 * safe only on the thread running the handler.
 */
const char *web_req_method(const web_req *req); /* "GET", "POST", ... */
const char *web_req_path(const web_req *req);   /* percent-decoded path, no query */
/* For the prefix route "/a/b/" + '*' and path "/a/b/c/d": "c/d"; "" for exact routes. */
const char *web_req_path_rest(const web_req *req);

/*
 * Parameters: the query string and, for POST/PUT/PATCH with Content-Type
 * application/x-www-form-urlencoded, the body; body values come first, then query values
 * (Go's Request.Form order, which Prometheus uses). Keys and values are decoded ('+' is a
 * space, %XX a byte); a bad escape or %00 is rejected with 400 before the handler runs.
 * web_req_param: the first value for key, or NULL. web_req_params: every value for key, in
 * order; *vals is NULL and *n 0 if there are none.
 */
const char *web_req_param(const web_req *req, const char *key);
void web_req_params(const web_req *req, const char *key, const char *const **vals, size_t *n);
/* Every parameter in order: number, and the i-th key/value (i < web_req_n_params). */
size_t web_req_n_params(const web_req *req);
void web_req_param_at(const web_req *req, size_t i, const char **key, const char **val);

/* A request header by case-insensitive name (first occurrence), or NULL. */
const char *web_req_header(const web_req *req, const char *name);

/*
 * The request body, gunzipped when it came with Content-Encoding: gzip (then the
 * Content-Encoding header still says gzip but the bytes here are plain). NUL-terminated
 * (not counted in *len). Never NULL; "" with *len 0 when there was no body.
 */
const char *web_req_body(const web_req *req, size_t *len);

/* The raw (undecoded) query string, without '?'; "" with *n 0 when there is none. */
const char *web_req_query(const web_req *req, size_t *n);

/* "ip:port" of the peer ("[v6]:port"); "" for requests made with web_req_new. */
const char *web_req_client(const web_req *req);

/*
 * A request that did not come from the network, for handler unit tests and the param
 * fuzzer: method ("GET"), target ("/path?query"), content_type (NULL = none) and body
 * (borrowed, copied; NULL allowed when body_len is 0) are parsed exactly as the server
 * parses them. *out is returned owned (web_req_free). Errors: TS_EPARSE (bad escape in
 * path or parameters: the message names it), TS_EINVAL (target not starting with '/'),
 * TS_ENOMEM.
 */
int web_req_new(const char *method, const char *target, const char *content_type, const char *body,
		size_t body_len, web_req **out, ts_err *err);
/* Add a header to a web_req_new request (name and value copied). TS_OK or TS_ENOMEM. */
int web_req_add_header(web_req *req, const char *name, const char *value, ts_err *err);
/* Free a web_req_new request. NULL allowed. */
void web_req_free(web_req *req);

/* ------------------------------------------------------------------------------------ */
/* Responses                                                                             */
/* ------------------------------------------------------------------------------------ */

/* Set the status code (100..599; default 200). */
void web_resp_status(web_resp *resp, int status);

/*
 * Set a header (name and value borrowed, copied; a second call with the same name adds another
 * line). Content-Type is set here too (default "text/plain; charset=utf-8" when the body
 * is not empty). Setting Content-Encoding marks the body as already encoded, so it is not
 * compressed again. Errors: TS_EINVAL (CR/LF or empty name, or a header the server owns:
 * Content-Length, Transfer-Encoding, Connection, Date), TS_ENOMEM.
 */
int web_resp_header(web_resp *resp, const char *name, const char *value, ts_err *err);

/* Shorthand for web_resp_header(resp, "Content-Type", type, NULL). */
int web_resp_content_type(web_resp *resp, const char *type);

/*
 * The response body buffer, to append to (JSON writer, ts_buf_*). Borrowed; its max is
 * max_response_bytes. The server sends it without copying.
 */
ts_buf *web_resp_body(web_resp *resp);

/*
 * Replace the body with body's bytes, taking them (no copy; body is left empty and
 * reusable, its max unchanged). Cannot fail.
 */
void web_resp_set_body(web_resp *resp, ts_buf *body);

/*
 * Replace the response with a Prometheus-style JSON error:
 *   {"status":"error","errorType":"<error_type>","error":"<message>"}
 * with the given status, Content-Type application/json, and no other headers kept.
 * TS_OK or TS_ENOMEM.
 */
int web_resp_error(web_resp *resp, int status, const char *error_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Test accessors: status, body (NUL-terminated, never NULL), first header by name or NULL. */
int web_resp_get_status(const web_resp *resp);
const char *web_resp_get_body(const web_resp *resp, size_t *len);
const char *web_resp_get_header(const web_resp *resp, const char *name);
/* A response not tied to a connection, for handler tests. Returned owned; NULL on ENOMEM. */
web_resp *web_resp_new(void);
void web_resp_free(web_resp *resp);

/*
 * The HTTP status for a TS_E* code (the mapping web/ uses for handler errors):
 * EINVAL, EPARSE, EOUTOFORDER -> 400; EAUTH -> 401; ENOTFOUND -> 404; EEXIST -> 409;
 * ELIMIT -> 422; EBUSY, ETIMEOUT, EUNAVAIL, ENOMEM, EFULL -> 503; others -> 500.
 */
int web_http_status_for_err(int code);
/* The Prometheus errorType for a TS_E* code ("bad_data", "timeout", "internal", ...). */
const char *web_http_error_type(int code);

/* Header helpers (http_util.c). Pure; thread-safe. */
/* Does s hold a control character other than tab? */
bool web_http_has_ctl(const char *s);
/* Case-insensitive: does the media type in ct (NULL allowed) equal type, ignoring params? */
bool web_http_media_type_is(const char *ct, const char *type);
/* Does an Accept-Encoding value (NULL allowed) allow gzip (a "gzip" token whose q is not 0)? */
bool web_http_accepts_gzip(const char *ae);

/* ------------------------------------------------------------------------------------ */
/* URL decoding and parameter sets (http_params.c)                                       */
/* ------------------------------------------------------------------------------------ */

/* Parameters per request; more is a 400 (the body limit alone would allow millions). */
#define WEB_PARAMS_MAX 100000

/* Decoded x-www-form-urlencoded parameters. Immutable after parsing; thread-safe to read. */
typedef struct web_params web_params;

/*
 * Percent-decode s[0..n) into out (room for n + 1 bytes), NUL-terminated, length in
 * *out_n; '+' becomes ' ' when is_form. TS_EPARSE for a '%' without two hex digits or for
 * %00, with a message naming the escape and `what` ("path", "query string").
 */
int web_url_decode(const char *s, size_t n, bool is_form, char *out, size_t *out_n,
		   const char *what, ts_err *err);

/*
 * Parse form[0..form_n) then query[0..query_n) (both x-www-form-urlencoded; either may be
 * empty) into one set, form pairs first. *out is returned owned, or NULL when there are no
 * parameters (every getter accepts NULL as the empty set). Errors: TS_EPARSE (bad escape,
 * more than WEB_PARAMS_MAX pairs), TS_ENOMEM. Inputs are borrowed and not kept.
 */
int web_params_parse(const char *form, size_t form_n, const char *query, size_t query_n,
		     web_params **out, ts_err *err);
void web_params_free(web_params *p);
/* First value of key or NULL; all values in order (*vals NULL, *n 0 if none); by index. */
const char *web_params_get(const web_params *p, const char *key);
void web_params_get_all(const web_params *p, const char *key, const char *const **vals, size_t *n);
size_t web_params_count(const web_params *p);
void web_params_at(const web_params *p, size_t i, const char **key, const char **val);

#endif /* WEB_HTTP_SERVER_H */
