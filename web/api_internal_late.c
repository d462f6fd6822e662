/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_internal_late.c: a store node's late-write marks for the query nodes' range caches.
 *
 *   GET /internal/v1/late?epoch=E&since=S&watch=T
 *
 * Raises the store's late-write watermark to T (integer ms; absent: unchanged) and then
 * answers the marks of the store's query_late_log (query.h) after seq S of epoch E (both
 * absent or 0 on first contact, which answers a reset). The answer is text
 * (docs/formats/internal_read.md, "late marks"):
 *
 *   strata-late 1
 *   epoch <E'>            the log's epoch (decimal u64)
 *   seq <N>               the newest seq answered: the next poll's since
 *   reset <0|1>           1: drop everything cached from this store (restart, overflow)
 *   m <hash> <min_t>      per mark: metric name hash (tsdb_late_name_hash; 0 = every
 *                         metric) and the oldest late timestamp (ms)
 *   end
 *
 * One answer holds every mark after S: the ring never holds more than
 * QUERY_LATE_LOG_CAP, and a reader further behind gets a reset. The route exists on nodes
 * with a late-write log (cluster.role store) and goes through the same access control as
 * the rest of the internal API (scope read).
 *
 * Tested by tests/web/test_fanout_late.c (the poller against this handler) and
 * tests/integration/test_cluster_query_cache.sh.
 */
#include "web/web_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

/* An unsigned decimal parameter (absent: 0); false with a 400 answer when malformed. */
static bool u64_param(web_req *req, web_resp *resp, const char *name, uint64_t *out)
{
	const char *v = web_req_param(req, name);
	*out = 0;
	if (!v || !*v)
		return true;
	char *end = NULL;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || *v == '-') {
		web_resp_error(resp, 400, "bad_data",
			       "invalid parameter \"%s\": '%.64s' is not an unsigned integer", name,
			       v);
		return false;
	}
	*out = (uint64_t)x;
	return true;
}

static int h_late(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	uint64_t epoch, since;
	if (!u64_param(req, resp, "epoch", &epoch) || !u64_param(req, resp, "since", &since))
		return TS_OK;
	const char *w = web_req_param(req, "watch");
	if (w && *w) {
		char *end = NULL;
		errno = 0;
		long long t = strtoll(w, &end, 10);
		if (errno || *end)
			return web_resp_error(
			    resp, 400, "bad_data",
			    "invalid parameter \"watch\": '%.64s' is not an integer (ms)", w);
		query_late_log_watch(s->opt.late_log, (int64_t)t);
	}
	tsdb_late_mark *m = ts_malloc(QUERY_LATE_LOG_CAP * sizeof(*m));
	if (!m)
		return ts_err_set(err, TS_ENOMEM, "out of memory answering late marks");
	query_late_read r;
	query_late_log_read(s->opt.late_log, epoch, since, m, QUERY_LATE_LOG_CAP, &r);
	ts_buf *b = web_resp_body(resp);
	int rc = ts_buf_printf(b, "strata-late 1\nepoch %" PRIu64 "\nseq %" PRIu64 "\nreset %d\n",
			       r.epoch, r.next_seq, r.is_reset ? 1 : 0);
	for (size_t i = 0; rc == TS_OK && i < r.n; i++)
		rc = ts_buf_printf(b, "m %" PRIu64 " %" PRId64 "\n", m[i].name_hash, m[i].min_t_ms);
	if (rc == TS_OK)
		rc = ts_buf_printf(b, "end\n");
	ts_free(m);
	if (rc)
		return ts_err_set(err, TS_ENOMEM, "out of memory answering late marks");
	web_resp_content_type(resp, "text/plain; charset=utf-8");
	return TS_OK;
}

int web_api_internal_late_routes(web_server *s, ts_err *err)
{
	if (!s->opt.late_log)
		return TS_OK;
	return web_http_route(s->http, "GET", "/internal/v1/late", h_late, s, err);
}
