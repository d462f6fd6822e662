/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c: web_start/web_stop (web.h): bind the HTTP server and register every route.
 *
 * The handlers live in api_write.c (Influx and Prometheus writes), api_query.c (the
 * Prometheus query API) and api_status.c (health, readiness, /metrics, status pages).
 *
 * A node with cluster.role ingest has no store (o->db NULL): it registers the status,
 * write and targets routes only, and every other /api/ path answers 503 naming the role.
 * A node with role query (o->fanout set) registers fanout.c's routes only, a node with
 * role alert (o->fanout and o->alerts) also the rules, alerts and silences APIs; nodes
 * with a store also serve the internal read API (api_internal.c) that query nodes read.
 */
#include "web/web_int.h"

#include <stdio.h>
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

/* The authorize hook of the HTTP server: web/auth.c decides (docs/SECURITY.md). */
static int authorize(const web_req *req, void *ctx, char *msg, size_t cap)
{
	web_server *s = ctx;
	size_t qn;
	const char *q = web_req_query(req, &qn);
	web_auth_result res;
	web_auth_check(s->auth, web_req_method(req), web_req_path(req),
		       web_req_header(req, "Authorization"), q, qn, &res);
	if (res.status) {
		ts_log_debug("auth: %s %s from %s refused (%d): %s", web_req_method(req),
			     web_req_path(req), web_req_client(req), res.status, res.msg);
		snprintf(msg, cap, "%s", res.msg);
	}
	return res.status;
}

/* Role ingest: the query, metadata, rules and admin APIs live on other nodes. */
static int h_role_ingest(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return web_api_error(resp, TS_EUNAVAIL,
			     "this node has role ingest: it accepts writes only; send queries to "
			     "a node with role store or all");
}

/* The routes of a node with role ingest (writes, status, scrape targets). */
static int ingest_role_routes(web_server *s, ts_err *err)
{
	int rc;
	if ((rc = web_api_status_routes(s, err)) || (rc = web_api_write_routes(s, err)) ||
	    (rc = web_api_targets_routes(s, err)))
		return rc;
	return web_http_route(s->http, NULL, "/api/*", h_role_ingest, s, err);
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
	web_tls_config tls = {0};
	if ((rc = web_auth_load(o->config, &s->auth, err)) ||
	    (rc = web_tls_config_load(o->config, &tls, err)))
		goto fail;
	web_http_options ho = {
	    .host = host,
	    .port = (uint16_t)port,
	    .threading = WEB_HTTP_THREAD_PER_CONNECTION,
	    .max_connections = o->max_connections > 0 ? (unsigned)o->max_connections : 0,
	    .conn_timeout_s = (unsigned)(o->read_timeout_ms / 1000),
	    .max_body_bytes = (size_t)o->max_body_bytes,
	    .per_ip_limit = o->max_connections_per_ip > 0 ? (unsigned)o->max_connections_per_ip : 0,
	    .header_timeout_ms = o->read_header_timeout_ms,
	    .conn_memory_bytes = o->max_header_bytes > 0 ? (size_t)o->max_header_bytes : 0,
	    .access_hook = access_log,
	    .authorize = s->auth ? authorize : NULL,
	    .authorize_ctx = s,
	    .tls_cert_pem = tls.cert_pem,
	    .tls_key_pem = tls.key_pem,
	    .tls_priorities = tls.priorities,
	};
	rc = web_http_start(&ho, &s->http, err);
	web_tls_config_fini(&tls);
	if (rc)
		goto fail;
	if (s->auth)
		ts_log_info("http: access control on (auth: section)");
	if (o->fanout) { /* roles query and alert: no store, no ingest */
		if ((rc = web_api_fanout_routes(s, err)))
			goto fail;
		/* role alert: its rules, alerts, notifier and silences (local to the node) */
		if ((o->alerts || o->notify) &&
		    ((rc = web_api_rules_routes(s, err)) || (rc = web_api_silences_routes(s, err))))
			goto fail;
		*out = s;
		return TS_OK;
	}
	if (o->ingest && ingest_pipeline_role(o->ingest) == INGEST_ROLE_INGEST) {
		if ((rc = ingest_role_routes(s, err)))
			goto fail;
		*out = s;
		return TS_OK;
	}
	if ((rc = web_api_status_routes(s, err)) || (rc = web_api_write_routes(s, err)) ||
	    (rc = web_api_query_routes(s, err)) || (rc = web_api_targets_routes(s, err)) ||
	    (rc = web_api_console_routes(s, err)) || (rc = web_api_silences_routes(s, err)) ||
	    (rc = web_api_rules_routes(s, err)) || (rc = web_api_meta_routes(s, err)) ||
	    (rc = web_api_admin_routes(s, err)) || (rc = web_api_internal_routes(s, err)) ||
	    (rc = web_api_internal_late_routes(s, err)))
		goto fail;
	*out = s;
	return TS_OK;
fail:
	web_http_stop(s->http);
	web_auth_free(s->auth);
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
	web_auth_free(s->auth);
	ts_free(s);
}
