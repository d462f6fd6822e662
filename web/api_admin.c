/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_admin.c: the Prometheus TSDB admin API (the part Strata implements).
 *
 *   POST /api/v1/admin/tsdb/snapshot   (also PUT) ?skip_head=true|false (default false)
 *        200 {"status":"success","data":{"name":"20260101T120000Z-0123456789abcdef"}}
 *
 * A snapshot is <data_dir>/snapshots/<name>/: hard links of every block, the head
 * written as blocks (tsdb_snapshot), and an empty embedded log that continues at the
 * snapshot's offsets (ingest_log_local_create_at), so `strata serve --data-dir
 * <data_dir>/snapshots/<name>` restores it (README "Backups"). Before snapshotting, the
 * handler waits (up to 30 s, else 503) until the consumers have applied every record
 * the log held when the request arrived, so every write acknowledged before the request
 * is in the snapshot. Errors: 503 with the message when the consumers lag or the disk
 * is full, 500 for other I/O errors.
 *
 * Tested by tests/integration/test_snapshot.sh (snapshot under load, restore into a new
 * server); the store side by tests/tsdb/test_snapshot.c.
 *
 *   POST /api/v1/admin/tsdb/delete_series   (also PUT) match[]=<selector> (1..64),
 *        start, end (Unix seconds or RFC 3339; default: all time)           204
 *   POST /api/v1/admin/tsdb/clean_tombstones (also PUT)                      204
 *
 * Deletion (tsdb_delete_series, tsdb/tombstones.c) hides the samples from every query
 * at once and invalidates the range-read cache through the store's late-write marks;
 * clean_tombstones removes them from disk. Like snapshot, delete first waits for the
 * consumers to apply what the log held when the request arrived, so samples written
 * before the request are deleted too. Errors as Prometheus: 400 bad_data for missing
 * or bad parameters, 500 internal (503 unavailable when retrying can help). Tested by
 * tests/integration/test_delete_series.sh; the store side by tests/tsdb/test_tombstones.c.
 */
#include "web/web_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CATCH_UP_MS 30000

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait until each partition's consumer has applied the log as it was on entry. */
static int wait_applied(ingest_pipeline *ip, int np, ts_err *err)
{
	uint64_t *target = ts_calloc((size_t)(np ? np : 1), sizeof(*target));
	if (!target)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	int rc = TS_OK;
	for (int p = 0; p < np && rc == TS_OK; p++) {
		ingest_partition_stats st;
		if ((rc = ingest_partition_stats_get(ip, p, &st, err)) == TS_OK)
			target[p] = st.log_next_offset;
	}
	int64_t deadline = ts_mono_ns() + (int64_t)CATCH_UP_MS * 1000000;
	for (int p = 0; p < np && rc == TS_OK;) {
		ingest_partition_stats st;
		if ((rc = ingest_partition_stats_get(ip, p, &st, err)))
			break;
		if (st.consumer_next_offset >= target[p]) {
			p++;
			continue;
		}
		if (ts_mono_ns() > deadline) {
			rc =
			    ts_err_set(err, TS_EBUSY,
				       "partition %d's consumer is %llu records behind "
				       "after %d s",
				       p, (unsigned long long)(target[p] - st.consumer_next_offset),
				       CATCH_UP_MS / 1000);
			break;
		}
		sleep_ms(2);
	}
	ts_free(target);
	return rc;
}

static int h_snapshot(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	ts_err e = {0};
	const char *sh = web_req_param(req, "skip_head");
	bool skip_head = false;
	if (sh && *sh) {
		if (strcasecmp(sh, "true") == 0 || strcmp(sh, "1") == 0)
			skip_head = true;
		else if (strcasecmp(sh, "false") != 0 && strcmp(sh, "0") != 0)
			return web_resp_error(
			    resp, 400, "bad_data",
			    "invalid parameter \"skip_head\": cannot parse \"%s\" "
			    "as a boolean",
			    sh);
	}
	int np = ingest_n_partitions(s->opt.ingest);
	uint64_t *resume = ts_calloc((size_t)(np ? np : 1), sizeof(*resume));
	char name[TSDB_SNAPSHOT_NAME_MAX], *path = NULL, *log_dir = NULL;
	int rc = resume ? TS_OK : ts_err_set(&e, TS_ENOMEM, "out of memory");
	if (rc == TS_OK && np > 0)
		rc = wait_applied(s->opt.ingest, np, &e);
	if (rc == TS_OK)
		rc = tsdb_snapshot(s->opt.db, skip_head, name, sizeof(name), np ? resume : NULL,
				   &path, &e);
	if (rc == TS_OK && np > 0) {
		size_t n = strlen(path) + 8;
		log_dir = ts_malloc(n);
		if (!log_dir)
			rc = ts_err_set(&e, TS_ENOMEM, "out of memory");
		else
			snprintf(log_dir, n, "%s/log", path);
		if (rc == TS_OK)
			rc = ingest_log_local_create_at(log_dir, np, resume, &e);
	}
	ts_free(resume);
	ts_free(log_dir);
	if (rc) {
		/* a full disk or lagging consumers are worth retrying: 503 */
		int status = rc == TS_ENOSPC || rc == TS_EBUSY || rc == TS_ENOMEM
				 ? 503
				 : web_http_status_for_err(rc);
		ts_log_error("snapshot failed: %s", e.msg);
		ts_free(path);
		return web_resp_error(resp, status, status == 503 ? "unavailable" : "internal",
				      "create snapshot: %s", e.msg);
	}
	ts_log_info("snapshot %s written to %s", name, path);
	ts_free(path);
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "name");
	web_json_string(&w, name);
	web_json_object_end(&w);
	if ((rc = web_api_end(&w)))
		return ts_err_set(err, rc, "cannot render the snapshot name");
	return web_resp_content_type(resp, "application/json");
}

/* ---------------------------------------------------------------- series deletion */

#define DEL_MIN_TIME_MS (INT64_MIN / 4) /* Prometheus' MinTime, as in api_query.c */
#define DEL_MAX_TIME_MS (INT64_MAX / 4)
#define DEL_MAX_MATCH   64

static int store_error(web_resp *resp, int rc, const char *what, const ts_err *e)
{
	int status = rc == TS_ENOSPC || rc == TS_EBUSY || rc == TS_ENOMEM ? 503 : 500;
	ts_log_error("%s failed: %s", what, e->msg);
	return web_resp_error(resp, status, status == 503 ? "unavailable" : "internal", "%s: %s",
			      what, e->msg);
}

static int h_delete_series(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)err;
	web_server *s = ctx;
	const char *const *vals;
	size_t n_vals;
	web_req_params(req, "match[]", &vals, &n_vals);
	if (n_vals == 0)
		return web_resp_error(resp, 400, "bad_data", "no match[] parameter provided");
	if (n_vals > DEL_MAX_MATCH)
		return web_resp_error(resp, 400, "bad_data", "too many match[] parameters (max %d)",
				      DEL_MAX_MATCH);
	int64_t start, end;
	if (!web_time_param(req, resp, "start", DEL_MIN_TIME_MS, &start) ||
	    !web_time_param(req, resp, "end", DEL_MAX_TIME_MS, &end))
		return TS_OK;
	if (end < start)
		return web_resp_error(resp, 400, "bad_data",
				      "invalid parameter \"end\": end timestamp must not be "
				      "before start time");
	ts_matcher *m[DEL_MAX_MATCH] = {0};
	size_t nm[DEL_MAX_MATCH] = {0};
	size_t n_parsed = 0;
	ts_err e = {0};
	int rc = TS_OK;
	for (; n_parsed < n_vals; n_parsed++) {
		if (query_parse_selector(vals[n_parsed], strlen(vals[n_parsed]), &m[n_parsed],
					 &nm[n_parsed], &e)) {
			web_resp_error(resp, 400, "bad_data", "invalid parameter \"match[]\": %s",
				       e.msg);
			goto done;
		}
	}
	int np = ingest_n_partitions(s->opt.ingest);
	if (np > 0 && (rc = wait_applied(s->opt.ingest, np, &e))) {
		store_error(resp, rc, "delete series", &e);
		goto done;
	}
	size_t total = 0;
	for (size_t i = 0; i < n_parsed; i++) {
		size_t n_series = 0;
		if ((rc = tsdb_delete_series(s->opt.db, m[i], nm[i], start, end, &n_series, &e))) {
			store_error(resp, rc, "delete series", &e);
			goto done;
		}
		total += n_series;
	}
	ts_log_info("delete_series: %zu series affected by %zu match[]", total, n_parsed);
	web_resp_status(resp, 204);
done:
	for (size_t i = 0; i < n_parsed; i++)
		query_matchers_free(m[i], nm[i]);
	return TS_OK;
}

static int h_clean_tombstones(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)req;
	(void)err;
	web_server *s = ctx;
	ts_err e = {0};
	size_t n = 0;
	int rc = tsdb_clean_tombstones(s->opt.db, &n, &e);
	if (rc)
		return store_error(resp, rc, "clean tombstones", &e);
	ts_log_info("clean_tombstones: %zu blocks rewritten", n);
	web_resp_status(resp, 204);
	return TS_OK;
}

int web_api_admin_routes(web_server *s, ts_err *err)
{
	int rc;
	static const char *const methods[] = {"POST", "PUT"};
	for (size_t i = 0; i < 2; i++)
		if ((rc = web_http_route(s->http, methods[i], "/api/v1/admin/tsdb/delete_series",
					 h_delete_series, s, err)) ||
		    (rc = web_http_route(s->http, methods[i], "/api/v1/admin/tsdb/clean_tombstones",
					 h_clean_tombstones, s, err)))
			return rc;
	if ((rc = web_http_route(s->http, "POST", "/api/v1/admin/tsdb/snapshot", h_snapshot, s,
				 err)) ||
	    (rc =
		 web_http_route(s->http, "PUT", "/api/v1/admin/tsdb/snapshot", h_snapshot, s, err)))
		return rc;
	return TS_OK;
}
