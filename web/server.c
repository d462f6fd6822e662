/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c: web_start/web_stop (web.h): bind the HTTP server and register every route.
 *
 * The handlers live in api_write.c (Influx and Prometheus writes), api_query.c (the
 * Prometheus query API) and api_status.c (health, readiness, /metrics, status pages).
 */
#include "web/web_int.h"

#include <string.h>

void web_api_begin(web_json *w, ts_buf *out)
{
	web_json_init(w, out);
	w->sample_style = WEB_JSON_FLOAT_PROM; /* byte-compatible with Prometheus 2.x */
	web_json_object_begin(w);
	web_json_key(w, "status");
	web_json_string(w, "success");
	web_json_key(w, "data");
}

int web_api_end(web_json *w)
{
	web_json_object_end(w);
	return web_json_finish(w);
}

int web_api_error(web_resp *resp, int code, const char *msg)
{
	return web_resp_error(resp, web_http_status_for_err(code), web_http_error_type(code), "%s",
			      msg);
}

static void access_log(const web_http_access *a, void *ctx)
{
	(void)ctx;
	ts_log_debug("%s %s -> %d in %.3f ms from %s", a->method, a->path, a->status,
		     (double)a->duration_ns / 1e6, a->client);
}

int web_start(const web_options *o, web_server **out, ts_err *err)
{
	char host[256];
	int port;
	int rc = ts_config_split_hostport(o->listen, host, sizeof(host), &port, err);
	if (rc)
		return rc;
	web_server *s = ts_calloc(1, sizeof(*s));
	if (!s)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the HTTP server");
	s->opt = *o;
	s->start_ms = ts_now_ms();
	web_http_options ho = {
	    .host = host,
	    .port = (uint16_t)port,
	    .threading = WEB_HTTP_THREAD_PER_CONNECTION,
	    .max_connections = o->max_connections > 0 ? (unsigned)o->max_connections : 0,
	    .conn_timeout_s = (unsigned)(o->read_timeout_ms / 1000),
	    .max_body_bytes = (size_t)o->max_body_bytes,
	    .access_hook = access_log,
	};
	if ((rc = web_http_start(&ho, &s->http, err)))
		goto fail;
	if ((rc = web_api_status_routes(s, err)) || (rc = web_api_write_routes(s, err)) ||
	    (rc = web_api_query_routes(s, err)) || (rc = web_api_targets_routes(s, err)) ||
	    (rc = web_api_console_routes(s, err)) || (rc = web_api_silences_routes(s, err)) ||
	    (rc = web_api_rules_routes(s, err)))
		goto fail;
	*out = s;
	return TS_OK;
fail:
	web_http_stop(s->http);
	ts_free(s);
	return rc;
}

int web_port(const web_server *s)
{
	return web_http_port(s->http);
}

void web_set_ready(web_server *s, bool ready)
{
	atomic_store(&s->ready, ready);
}

void web_stop(web_server *s)
{
	if (!s)
		return;
	web_http_stop(s->http);
	ts_free(s);
}
