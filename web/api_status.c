/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_status.c: operational endpoints.
 *
 *   GET /-/healthy                  200 while the process serves HTTP
 *   GET /-/ready                    200 once startup (replay) finished, else 503
 *   GET /metrics                    Strata's own metrics, Prometheus text format 0.0.4
 *   GET /api/v1/status/buildinfo    version information, Prometheus' shape
 *   GET /api/v1/status/runtimeinfo  start time, storage retention, Prometheus' shape
 */
#include "web/web_int.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

static int h_healthy(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	return ts_buf_puts(web_resp_body(resp), "Strata is Healthy.\n");
}

static int h_ready(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	/* also not ready while the log is being replayed into the store */
	if (!atomic_load(&s->ready) || !ingest_replay_done(s->opt.ingest)) {
		web_resp_status(resp, 503);
		return ts_buf_puts(web_resp_body(resp), "Service Unavailable\n");
	}
	return ts_buf_puts(web_resp_body(resp), "Strata is Ready.\n");
}

static void metric(ts_buf *b, const char *name, const char *type, const char *help, double v)
{
	char num[WEB_JSON_FLOAT_MAX];
	web_json_format_float(num, v, WEB_JSON_FLOAT_PROM);
	ts_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name, num);
}

/* Per-partition families of the partitioned log and its consumers, labelled partition="N". */
static const struct {
	const char *name, *type, *help;
	size_t offset; /* of a uint64_t in ingest_partition_stats */
} log_metrics[] = {
    {"strata_ingest_log_lag_records", "gauge", "Durable log records not yet applied to the store.",
     offsetof(ingest_partition_stats, lag_records)},
    {"strata_ingest_log_lag_bytes", "gauge",
     "Log bytes appended since start and not yet applied to the store.",
     offsetof(ingest_partition_stats, lag_bytes)},
    {"strata_ingest_log_pending_bytes", "gauge",
     "Log bytes not yet checkpointed (persisted by the store).",
     offsetof(ingest_partition_stats, pending_bytes)},
    {"strata_ingest_log_bytes", "gauge", "Bytes stored in the log.",
     offsetof(ingest_partition_stats, log_bytes)},
    {"strata_ingest_log_segments", "gauge", "Segment files of the embedded log.",
     offsetof(ingest_partition_stats, n_segments)},
    {"strata_ingest_log_next_offset", "gauge", "Offset the next durable record gets.",
     offsetof(ingest_partition_stats, log_next_offset)},
    {"strata_ingest_log_consumer_offset", "gauge", "Next offset the consumer applies.",
     offsetof(ingest_partition_stats, consumer_next_offset)},
    {"strata_ingest_log_appends_total", "counter", "Records appended durably.",
     offsetof(ingest_partition_stats, n_appends)},
    {"strata_ingest_log_append_bytes_total", "counter", "Record bytes appended durably.",
     offsetof(ingest_partition_stats, n_append_bytes)},
    {"strata_ingest_log_syncs_total", "counter", "fdatasync calls (group commits).",
     offsetof(ingest_partition_stats, n_syncs)},
    {"strata_ingest_log_busy_total", "counter",
     "Appends refused by back-pressure (answered 503 + Retry-After).",
     offsetof(ingest_partition_stats, n_busy)},
    {"strata_ingest_log_append_errors_total", "counter", "Appends failed (disk full, I/O).",
     offsetof(ingest_partition_stats, n_append_errors)},
    {"strata_ingest_log_corrupt_records_total", "counter",
     "Corrupt log records or ranges skipped by the consumer.",
     offsetof(ingest_partition_stats, n_corrupt)},
    {"strata_ingest_consumer_records_total", "counter", "Log records applied to the store.",
     offsetof(ingest_partition_stats, n_records_applied)},
    {"strata_ingest_consumer_samples_total", "counter",
     "Samples from the log the store accepted (replayed duplicates included).",
     offsetof(ingest_partition_stats, n_samples_applied)},
    {"strata_ingest_partition_owned", "gauge",
     "1 while this node consumes the partition (role store: assigned by its consumer group).",
     offsetof(ingest_partition_stats, owned)},
    {"strata_ingest_consumer_rejected_samples_total", "counter",
     "Samples from the log the store refused (out of order, conflicting, limits).",
     offsetof(ingest_partition_stats, n_samples_rejected)},
    {"strata_ingest_consumer_series_cache_bytes", "gauge",
     "Bytes of the consumer's series cache (interned labels and store references).",
     offsetof(ingest_partition_stats, cache_bytes)},
    {"strata_ingest_consumer_series_cache_drops_total", "counter",
     "Times the consumer's series cache went over its bound and was dropped.",
     offsetof(ingest_partition_stats, n_cache_drops)},
};

static void write_log_metrics(ts_buf *b, ingest_pipeline *ing)
{
	int n = ingest_n_partitions(ing);
	ts_buf_printf(b,
		      "# HELP strata_ingest_log_replay_done 1 once the startup log replay "
		      "finished.\n# TYPE strata_ingest_log_replay_done gauge\n"
		      "strata_ingest_log_replay_done %d\n",
		      ingest_replay_done(ing) ? 1 : 0);
	if (n <= 0)
		return;
	ingest_partition_stats *st = ts_calloc((size_t)n, sizeof(*st));
	if (!st)
		return;
	for (int p = 0; p < n; p++)
		ingest_partition_stats_get(ing, p, &st[p], NULL);
	for (size_t m = 0; m < sizeof(log_metrics) / sizeof(log_metrics[0]); m++) {
		ts_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", log_metrics[m].name,
			      log_metrics[m].help, log_metrics[m].name, log_metrics[m].type);
		for (int p = 0; p < n; p++) {
			uint64_t v;
			memcpy(&v, (const char *)&st[p] + log_metrics[m].offset, sizeof(v));
			ts_buf_printf(b, "%s{partition=\"%d\"} %llu\n", log_metrics[m].name, p,
				      (unsigned long long)v);
		}
	}
	ts_free(st);
}

static int h_metrics(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	ts_buf *b = web_resp_body(resp);
	ts_buf_printf(b,
		      "# HELP strata_build_info Strata build information (always 1).\n"
		      "# TYPE strata_build_info gauge\n"
		      "strata_build_info{version=\"%s\"} 1\n",
		      STRATA_VERSION);
	metric(b, "process_start_time_seconds", "gauge",
	       "Start time of the process in Unix seconds.", (double)s->start_ms / 1000.0);
	metric(b, "strata_memory_allocated_bytes", "gauge",
	       "Bytes currently allocated through Strata's allocator.", (double)ts_alloc_bytes());
	tsdb_stats ts = {0};
	if (s->opt.db) /* NULL on a node with cluster.role ingest */
		tsdb_stats_get(s->opt.db, &ts);
	metric(b, "strata_tsdb_head_series", "gauge", "Active series in the head.",
	       (double)ts.n_series);
	metric(b, "strata_tsdb_head_samples", "gauge", "Samples held in the head.",
	       (double)ts.n_samples);
	metric(b, "strata_tsdb_head_bytes", "gauge", "Memory used by head series and samples.",
	       (double)ts.head_bytes);
	metric(b, "strata_tsdb_samples_appended_total", "counter", "Samples accepted by the store.",
	       (double)ts.samples_appended);
	metric(b, "strata_tsdb_duplicate_samples_total", "counter",
	       "Exact duplicate samples dropped (log replay).", (double)ts.duplicates_dropped);
	metric(b, "strata_tsdb_out_of_order_samples_total", "counter",
	       "Samples rejected as too old or conflicting.", (double)ts.out_of_order_rejected);
	metric(b, "strata_tsdb_blocks", "gauge", "Blocks loaded.", (double)ts.n_blocks);
	metric(b, "strata_tsdb_cuts_total", "counter", "Head-to-block cuts done.", (double)ts.cuts);
	metric(b, "strata_tsdb_cut_errors_total", "counter", "Head-to-block cuts that failed.",
	       (double)ts.cut_errors);
	metric(b, "strata_tsdb_blocks_quarantined_total", "counter",
	       "Corrupt blocks moved to quarantine/.", (double)ts.blocks_quarantined);
	metric(b, "strata_tsdb_compactions_total", "counter", "Block merges done.",
	       (double)ts.compactions);
	metric(b, "strata_tsdb_compaction_errors_total", "counter", "Block merges that failed.",
	       (double)ts.compaction_errors);
	metric(b, "strata_tsdb_retention_deleted_blocks_total", "counter",
	       "Blocks deleted by retention.", (double)ts.blocks_retention_deleted);
	metric(b, "strata_tsdb_cold_moved_blocks_total", "counter",
	       "Blocks moved to storage.cold_dir.", (double)ts.blocks_moved_cold);
	ingest_stats is;
	ingest_stats_get(s->opt.ingest, &is);
	metric(b, "strata_ingest_requests_total", "counter", "Write requests processed.",
	       (double)is.requests);
	metric(b, "strata_ingest_samples_total", "counter", "Samples accepted by write requests.",
	       (double)is.samples);
	metric(b, "strata_ingest_bad_lines_total", "counter", "Input lines rejected by parsers.",
	       (double)is.bad_lines);
	metric(b, "strata_ingest_rejected_samples_total", "counter",
	       "Parsed samples the store refused.", (double)is.rejected);
	write_log_metrics(b, s->opt.ingest);
	ingest_metadata_stats ms;
	ingest_metadata_stats_get(ingest_pipeline_metadata(s->opt.ingest), &ms);
	metric(b, "strata_ingest_metadata_families", "gauge",
	       "Metric families in the metadata registry (/api/v1/metadata).",
	       (double)ms.n_families);
	metric(b, "strata_ingest_metadata_bytes", "gauge", "Memory used by the metadata registry.",
	       (double)ms.bytes);
	metric(b, "strata_ingest_metadata_evicted_total", "counter",
	       "Metric families evicted from the metadata registry by its bounds.",
	       (double)ms.n_evicted);
	query_cache_stats qc;
	query_cache_stats_get(s->opt.query_cache, &qc);
	metric(b, "strata_query_cache_hits_total", "counter",
	       "Range queries answered at least partly from the range-read cache.",
	       (double)qc.hits);
	metric(b, "strata_query_cache_partial_hits_total", "counter",
	       "Of the hits: range queries that also evaluated missing steps.",
	       (double)qc.partial_hits);
	metric(b, "strata_query_cache_misses_total", "counter",
	       "Cacheable range queries with nothing cached.", (double)qc.misses);
	metric(b, "strata_query_cache_bytes", "gauge", "Memory held by the range-read cache.",
	       (double)qc.bytes);
	metric(b, "strata_query_cache_entries", "gauge", "Entries in the range-read cache.",
	       (double)qc.entries);
	metric(b, "strata_query_cache_evictions_total", "counter",
	       "Cache entries evicted to stay under query.cache_max_bytes.", (double)qc.evictions);
	metric(b, "strata_query_cache_invalidations_total", "counter",
	       "Cached extents trimmed or dropped because of late writes.",
	       (double)qc.invalidations);
	int rc = s->opt.notify ? alert_notifier_write_metrics(s->opt.notify, b) : TS_OK;
	if (rc == TS_OK)
		rc = web_http_write_metrics(s->http, b);
	if (rc)
		return ts_err_set(err, rc, "cannot render metrics");
	web_resp_content_type(resp, "text/plain; version=0.0.4; charset=utf-8");
	return TS_OK;
}

static int h_buildinfo(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "version");
	web_json_string(&w, STRATA_VERSION);
	web_json_key(&w, "revision");
	web_json_string(&w, "");
	web_json_key(&w, "branch");
	web_json_string(&w, "");
	web_json_key(&w, "buildUser");
	web_json_string(&w, "");
	web_json_key(&w, "buildDate");
	web_json_string(&w, __DATE__);
	web_json_key(&w, "goVersion");
	web_json_string(&w, "C11");
	web_json_object_end(&w);
	int rc = web_api_end(&w);
	if (rc)
		return ts_err_set(err, rc, "cannot render build info");
	return web_resp_content_type(resp, "application/json");
}

static int h_runtimeinfo(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	web_server *s = ctx;
	char start[40], cwd[1024], ret[64];
	ts_format_rfc3339(s->start_ms, start, sizeof(start));
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	ts_format_duration(s->opt.config ? s->opt.config->storage.retention_raw_ms : 0, ret,
			   sizeof(ret));
	web_json w;
	web_api_begin(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "startTime");
	web_json_string(&w, start);
	web_json_key(&w, "CWD");
	web_json_string(&w, cwd);
	web_json_key(&w, "reloadConfigSuccess");
	web_json_bool(&w, true);
	web_json_key(&w, "lastConfigTime");
	web_json_string(&w, start);
	web_json_key(&w, "storageRetention");
	web_json_string(&w, ret);
	web_json_object_end(&w);
	int rc = web_api_end(&w);
	if (rc)
		return ts_err_set(err, rc, "cannot render runtime info");
	return web_resp_content_type(resp, "application/json");
}

int web_api_status_routes(web_server *s, ts_err *err)
{
	int rc;
	if ((rc = web_http_route(s->http, "GET", "/-/healthy", h_healthy, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/-/ready", h_ready, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/metrics", h_metrics, s, err)) ||
	    (rc =
		 web_http_route(s->http, "GET", "/api/v1/status/buildinfo", h_buildinfo, s, err)) ||
	    (rc = web_http_route(s->http, "GET", "/api/v1/status/runtimeinfo", h_runtimeinfo, s,
				 err)))
		return rc;
	return TS_OK;
}
