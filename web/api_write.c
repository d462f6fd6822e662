/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_write.c: write endpoints.
 *
 *   POST /write           InfluxDB 1.x line protocol (db, rp, u, p accepted; precision)
 *   POST /api/v2/write    InfluxDB 2.x line protocol (org, bucket, precision)
 *   GET  /ping            InfluxDB health check (204), used by Influx clients
 *   POST /api/v1/write    Prometheus remote write 1.0 (snappy + protobuf)
 *   POST /api/v1/import/prometheus   exposition text (0.0.4 or OpenMetrics) for backfill
 *
 * Success is 204 No Content and means every accepted sample is durable in the
 * partitioned log (embedded: fdatasync'd; Kafka: acks=all); the store applies it a moment
 * later, and samples it then refuses (out of order) are counted in /metrics, not
 * reported here. A body with bad lines keeps the good lines and answers 400 naming the
 * first bad line, as InfluxDB's partial write does. When the log cannot take the write
 * (back-pressure, disk full, I/O error, backend down) every write endpoint answers
 * 503 + Retry-After: 1 and nothing of the request is acknowledged: Prometheus remote
 * write retries 5xx (429 only with retry_on_http_429) and Telegraf and the Influx
 * clients retry 5xx too. New series refused by ingest.max_series or
 * ingest.max_series_per_metric get 429 naming the limit and metric; the other samples of
 * the request were written (docs/SECURITY.md). Error bodies use each API's own JSON shape: v1
 * {"error": "..."}, v2 {"code": "invalid", "message": "..."}.
 */
#include "web/web_int.h"

#include <stdio.h>
#include <string.h>

static int influx_error(web_resp *resp, bool is_v2, int status, const char *msg)
{
	ts_buf b;
	ts_buf_init(&b, 4096);
	web_json w;
	web_json_init(&w, &b);
	web_json_object_begin(&w);
	if (is_v2) {
		web_json_key(&w, "code");
		web_json_string(&w, status == 413   ? "request too large"
				    : status >= 500 ? "unavailable"
						    : "invalid");
		web_json_key(&w, "message");
	} else {
		web_json_key(&w, "error");
	}
	web_json_string(&w, msg);
	web_json_object_end(&w);
	int rc = web_json_finish(&w);
	if (rc == TS_OK) {
		web_resp_status(resp, status);
		web_resp_content_type(resp, "application/json");
		web_resp_set_body(resp, &b);
	}
	ts_buf_free(&b);
	return rc;
}

/* The HTTP status of a failed write: the log's refusals are 503 (retry), else as usual. */
static int write_status(int rc)
{
	switch (rc) {
	case TS_EBUSY:
	case TS_ENOSPC:
	case TS_EIO:
	case TS_EUNAVAIL:
	case TS_ETIMEOUT:
	case TS_ENOMEM: return 503;
	default: return web_http_status_for_err(rc);
	}
}

static int write_lp(web_req *req, web_resp *resp, web_server *s, bool is_v2)
{
	size_t len;
	const char *body = web_req_body(req, &len);
	const char *precision = web_req_param(req, "precision");
	ingest_write_result res;
	ts_err e = {0};
	int rc = ingest_write_line_protocol(s->opt.ingest, body, len, precision, &res, &e);
	if (rc == TS_EINVAL)
		return influx_error(resp, is_v2, 400, e.msg);
	if (rc) {
		int status = write_status(rc);
		int r2 = influx_error(resp, is_v2, status, e.msg);
		if (status == 503)
			web_resp_header(resp, "Retry-After", "1", NULL);
		return r2;
	}
	if (res.n_limited)
		return influx_error(resp, is_v2, 429, res.limit_error);
	if (res.n_bad_lines || res.n_rejected) {
		char msg[512];
		if (res.n_bad_lines)
			snprintf(msg, sizeof(msg), "partial write: line %zu: %s dropped=%zu",
				 res.first_bad_line, res.first_error,
				 res.n_bad_lines + res.n_rejected);
		else
			snprintf(msg, sizeof(msg), "partial write: %s dropped=%zu", res.first_error,
				 res.n_rejected);
		return influx_error(resp, is_v2, 400, msg);
	}
	web_resp_status(resp, 204);
	return TS_OK;
}

static int h_write_v1(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return write_lp(req, resp, ctx, false);
}

static int h_write_v2(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return write_lp(req, resp, ctx, true);
}

/* Remote write: 204, or a plain-text error (what Prometheus' own receiver sends):
 * 400 tells the sender to drop the batch, 5xx to retry it. */
static int h_remote_write(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	size_t len;
	const char *body = web_req_body(req, &len);
	ingest_write_result res;
	ts_err e = {0};
	int rc = ingest_write_remote(s->opt.ingest, body, len, &res, &e);
	if (rc) {
		int status = write_status(rc);
		if (rc == TS_ELIMIT)
			status = 400; /* retrying an oversized or over-limit batch cannot help */
		web_resp_status(resp, status);
		if (status == 503)
			web_resp_header(resp, "Retry-After", "1", NULL);
		return ts_buf_printf(web_resp_body(resp), "%s\n", e.msg);
	}
	if (res.n_limited) {
		web_resp_status(resp, 429);
		return ts_buf_printf(web_resp_body(resp), "%s\n", res.limit_error);
	}
	web_resp_status(resp, 204);
	return TS_OK;
}

static int h_import_prometheus(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	size_t len;
	const char *body = web_req_body(req, &len);
	ingest_write_result res;
	ts_err e = {0};
	int rc = ingest_write_exposition(s->opt.ingest, body, len,
					 web_req_header(req, "Content-Type"), &res, &e);
	if (rc && write_status(rc) == 503) {
		int r2 = web_resp_error(resp, 503, "unavailable", "%s", e.msg);
		web_resp_header(resp, "Retry-After", "1", NULL);
		return r2;
	}
	if (rc)
		return web_api_error(resp, rc, e.msg);
	if (res.n_limited)
		return web_resp_error(resp, 429, "execution", "%s", res.limit_error);
	if (res.n_bad_lines || res.n_rejected) {
		return web_resp_error(resp, 400, "bad_data", "partial import: %s dropped=%zu",
				      res.first_error, res.n_bad_lines + res.n_rejected);
	}
	web_resp_status(resp, 204);
	return TS_OK;
}

static int h_ping(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_resp_status(resp, 204);
	web_resp_header(resp, "X-Influxdb-Version", "1.8.10-strata", NULL);
	return TS_OK;
}

int web_api_write_routes(web_server *s, ts_err *err)
{
	int rc;
	if ((rc = web_http_route(s->http, "POST", "/write", h_write_v1, s, err)) ||
	    (rc = web_http_route(s->http, "POST", "/api/v2/write", h_write_v2, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/ping", h_ping, s, err)) ||
	    (rc = web_http_route(s->http, "POST", "/api/v1/write", h_remote_write, s, err)) ||
	    (rc = web_http_route(s->http, "POST", "/api/v1/import/prometheus", h_import_prometheus,
				 s, err)))
		return rc;
	return TS_OK;
}
