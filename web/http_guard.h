/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_guard.h: header deadlines for HTTP connections (internal to web/ and its tests).
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that sends one byte of
 * its headers every few seconds (slowloris) keeps its connection, and its thread, forever.
 * The guard gives every request a deadline for its request line and headers, as Go's
 * http.Server.ReadHeaderTimeout does: http_server.c tells it when a connection opens, when
 * a request line and when the headers are complete, when a request is done and when the
 * connection closes; a watchdog thread shuts down (shutdown(2), SHUT_RDWR) the socket of
 * any connection past its deadline, which makes libmicrohttpd close it as if the client
 * had gone. Deadlines:
 *   - a new connection: its first request's headers within header_timeout_ms of accept;
 *   - between requests on a keep-alive connection: the next request line and headers
 *     within idle_timeout_ms of the previous response, and the headers within
 *     header_timeout_ms of the request line;
 *   - while a request is being served (headers in, body or handler): none here (the
 *     idle timeout of libmicrohttpd and max_body_bytes bound the body).
 * Pure POSIX: no libmicrohttpd call here (http_server.c is the one wrapper).
 */
#ifndef WEB_HTTP_GUARD_H
#define WEB_HTTP_GUARD_H

#include "common/common.h"

#include <stdint.h>

typedef struct web_http_guard web_http_guard;
typedef struct web_http_guard_conn web_http_guard_conn;

/*
 * Start the guard and its watchdog thread ("http-guard"). Timeouts in ms (> 0). *out
 * returned owned (web_http_guard_stop). TS_ENOMEM, TS_EIO (thread creation failed).
 */
int web_http_guard_start(int64_t header_timeout_ms, int64_t idle_timeout_ms, web_http_guard **out,
			 ts_err *err);
/* Stop the watchdog and free; every connection must have been closed. NULL allowed. */
void web_http_guard_stop(web_http_guard *g);

/*
 * Track a new connection on socket fd (borrowed: it must stay open until
 * web_http_guard_close). Returns the tracking slot, or NULL when out of memory (the
 * connection is then not guarded). Thread-safe, like every function below.
 */
web_http_guard_conn *web_http_guard_open(web_http_guard *g, int fd);
/* The request line of a request arrived (c NULL allowed). */
void web_http_guard_request_line(web_http_guard *g, web_http_guard_conn *c);
/* The headers are complete: no deadline until the request is done (c NULL allowed). */
void web_http_guard_headers_done(web_http_guard *g, web_http_guard_conn *c);
/* The response was sent: the keep-alive wait begins (c NULL allowed). */
void web_http_guard_request_done(web_http_guard *g, web_http_guard_conn *c);
/* The connection is closing, before its socket is closed; frees c (NULL allowed). */
void web_http_guard_close(web_http_guard *g, web_http_guard_conn *c);

/* Connections shut down for missing a deadline since start. */
uint64_t web_http_guard_n_dropped(const web_http_guard *g);

#endif /* WEB_HTTP_GUARD_H */
