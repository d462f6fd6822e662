/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline.c: the write path: parse a request, validate, and store its samples.
 *
 * Each write parses the body with the format's parser into an ingest_batch (batch.c),
 * which groups the samples per log partition and commits them durably to the log; the
 * consumers (consumer.c) apply them to the store. Without a log (no config, no log in
 * the options) the batch stores directly and store rejections (too old, conflicting
 * duplicate) are counted per request and reported, not fatal.
 *
 * Roles (`cluster:` section, cluster_config.c): the pipeline is the same in every role;
 * the writer (batch.c) opens the log and starts the consumers the role asks for. Role
 * ingest has no store (options.db NULL): writes are produced to Kafka and nothing is
 * applied here; role store consumes the partitions its consumer group assigns.
 */
#include "ingest/ingest.h"

#include "ingest/ingest_int.h"
#include "ingest/batch.h"
#include "ingest/exposition.h"
#include "ingest/line_protocol.h"
#include "ingest/remote_write.h"
#include "ingest/scrape.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct ingest_pipeline {
	ingest_options opt;
	ingest_limits limits;
	_Atomic uint64_t requests, samples, bad_lines, rejected;
	ingest_scraper *scraper; /* scrape.c; NULL when nothing is scraped */
	ingest_writer *writer;   /* batch.c: the log, its consumers (or the store directly) */
	ingest_role role;        /* immutable: cluster.role */
	ingest_metadata *meta;   /* metadata.c: metric metadata for /api/v1/metadata */
	ingest_rw_pool *rw_pool; /* remote_write.c: decode buffers reused across requests */
};

ingest_metadata *ingest_pipeline_metadata(ingest_pipeline *p)
{
	return p->meta;
}

/* Parser context of a write carrying metadata: samples go to the batch, metadata to the
 * registry. */
typedef struct meta_sink_ctx {
	ingest_batch *b;
	ingest_metadata *meta;
} meta_sink_ctx;

static int meta_ctx_sample(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	return ingest_batch_add(((meta_sink_ctx *)ctx)->b, l, n, t_ms, v);
}

static int meta_ctx_meta(void *ctx, const char *family, const char *type, const char *help,
			 const char *unit)
{
	return ingest_metadata_sink(((meta_sink_ctx *)ctx)->meta, family, type, help, unit);
}

ingest_writer *ingest_pipeline_writer(ingest_pipeline *p)
{
	return p->writer;
}

const ingest_limits *ingest_pipeline_limits(const ingest_pipeline *p)
{
	return &p->limits;
}

void ingest_options_init(ingest_options *o)
{
	ingest_limits d = INGEST_LIMITS_DEFAULT;
	memset(o, 0, sizeof(*o));
	o->metadata_max_families = INGEST_METADATA_DEFAULT_MAX_FAMILIES;
	o->metadata_max_bytes = INGEST_METADATA_DEFAULT_MAX_BYTES;
	o->max_labels = d.max_labels;
	o->max_name_bytes = d.max_name_bytes;
	o->max_value_bytes = d.max_value_bytes;
}

ingest_role ingest_pipeline_role(const ingest_pipeline *p)
{
	return p->role;
}

int ingest_open(const ingest_options *o, ingest_pipeline **out, ts_err *err)
{
	ingest_cluster_config cc;
	int rc = ingest_cluster_config_load(o->config, &cc, err);
	if (rc)
		return rc;
	if (!o->db && cc.role != INGEST_ROLE_INGEST)
		return ts_err_set(err, TS_EINVAL, "ingest needs a store (role %s)",
				  ingest_role_name(cc.role));
	ingest_pipeline *p = ts_calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting ingest");
	p->opt = *o;
	p->role = cc.role;
	ingest_limits d = INGEST_LIMITS_DEFAULT;
	p->limits = d;
	p->limits.max_labels = o->max_labels;
	p->limits.max_name_bytes = o->max_name_bytes;
	p->limits.max_value_bytes = o->max_value_bytes;
	rc = ingest_metadata_new(o->metadata_max_families ? o->metadata_max_families
							  : INGEST_METADATA_DEFAULT_MAX_FAMILIES,
				 o->metadata_max_bytes ? o->metadata_max_bytes
						       : INGEST_METADATA_DEFAULT_MAX_BYTES,
				 &p->meta, err);
	if (rc == TS_OK)
		rc = ingest_rw_pool_new(&p->rw_pool, err);
	if (rc == TS_OK)
		rc = ingest_writer_open(o, &p->writer, err);
	if (rc == TS_OK && o->config)
		rc = ingest_scraper_start_config(p, o->config, &p->scraper, err);
	if (rc) {
		ingest_writer_close(p->writer);
		ingest_rw_pool_free(p->rw_pool);
		ingest_metadata_free(p->meta);
		ts_free(p);
		return rc;
	}
	*out = p;
	return TS_OK;
}

void ingest_close(ingest_pipeline *p)
{
	if (p) {
		ingest_scraper_stop(p->scraper); /* stop appending first, then drain */
		ingest_writer_close(p->writer);
		ingest_rw_pool_free(p->rw_pool);
		ingest_metadata_free(p->meta);
	}
	ts_free(p);
}

int ingest_scrape_targets(ingest_pipeline *p, ingest_scrape_target_info **out, size_t *n_out,
			  ts_err *err)
{
	return ingest_scraper_targets(p->scraper, out, n_out, err);
}

/* Account a finished request in the pipeline's counters. */
static void count_request(ingest_pipeline *p, const ingest_write_result *res)
{
	atomic_fetch_add(&p->requests, 1);
	atomic_fetch_add(&p->samples, res->n_samples);
	atomic_fetch_add(&p->rejected, res->n_rejected);
	atomic_fetch_add(&p->bad_lines, res->n_bad_lines);
}

/* Finish a write: commit the batch unless parsing failed, count, free. */
static int finish(ingest_pipeline *p, ingest_batch *b, int rc, ingest_write_result *res,
		  ts_err *err)
{
	if (rc == TS_OK)
		rc = ingest_batch_commit(b, res, err);
	ingest_batch_free(b);
	count_request(p, res);
	return rc;
}

int ingest_write_line_protocol(ingest_pipeline *p, const char *body, size_t len,
			       const char *precision, ingest_write_result *res, ts_err *err)
{
	memset(res, 0, sizeof(*res));
	ingest_precision prec = INGEST_PREC_NS;
	if (precision && *precision) {
		int rc = ingest_precision_parse(precision, &prec, err);
		if (rc)
			return rc;
	}
	ingest_batch *b;
	int rc = ingest_batch_begin(p, &b, err);
	if (rc)
		return rc;
	ingest_lp_result lr = {0};
	rc = ingest_lp_parse(body, len, prec, ts_now_ms(), &p->limits, ingest_batch_add, b, &lr,
			     err);
	if (rc == TS_OK) {
		res->n_bad_lines = lr.n_bad_lines;
		res->n_skipped = lr.n_string_fields_skipped;
		res->first_bad_line = lr.first_bad_line;
		if (lr.n_bad_lines)
			snprintf(res->first_error, sizeof(res->first_error), "%s", lr.first_error);
	}
	return finish(p, b, rc, res, err);
}

int ingest_write_remote(ingest_pipeline *p, const void *body, size_t len, ingest_write_result *res,
			ts_err *err)
{
	memset(res, 0, sizeof(*res));
	ingest_batch *b;
	int rc = ingest_batch_begin(p, &b, err);
	if (rc)
		return rc;
	ingest_rw_result rr;
	ingest_rw_options ro = {.meta_fn = meta_ctx_meta,
				.scratch = ingest_rw_pool_get(p->rw_pool)};
	meta_sink_ctx mc = {b, p->meta};
	rc = ingest_remote_write_decode_ex(body, len, &ro, &p->limits, meta_ctx_sample, &mc, &rr,
					   err);
	ingest_rw_pool_put(p->rw_pool, ro.scratch); /* the batch copied what it keeps */
	return finish(p, b, rc, res, err);
}

int ingest_write_exposition(ingest_pipeline *p, const char *body, size_t len,
			    const char *content_type, ingest_write_result *res, ts_err *err)
{
	memset(res, 0, sizeof(*res));
	ingest_batch *b;
	int rc = ingest_batch_begin(p, &b, err);
	if (rc)
		return rc;
	/* An OpenMetrics Content-Type is trusted; otherwise the body decides ("# EOF"). */
	ingest_expo_format fmt =
	    ingest_exposition_format_detect(content_type) == INGEST_EXPO_OPENMETRICS
		? INGEST_EXPO_OPENMETRICS
		: INGEST_EXPO_AUTO;
	ingest_expo_result er = {0};
	meta_sink_ctx mc = {b, p->meta};
	rc = ingest_exposition_parse(body, len, fmt, INGEST_EXPO_SKIP_INVALID, ts_now_ms(),
				     &p->limits, meta_ctx_sample, meta_ctx_meta, &mc, &er, err);
	if (rc == TS_OK) {
		res->n_bad_lines = er.n_invalid_lines;
		res->first_bad_line = er.first_invalid_line;
		if (er.n_invalid_lines)
			snprintf(res->first_error, sizeof(res->first_error), "%s",
				 er.first_invalid);
	}
	return finish(p, b, rc, res, err);
}

int ingest_write_samples(ingest_pipeline *p, const ingest_sample *s, size_t n,
			 ingest_write_result *res, ts_err *err)
{
	memset(res, 0, sizeof(*res));
	ingest_batch *b;
	int rc = ingest_batch_begin(p, &b, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == TS_OK; i++)
		rc = ingest_batch_add(b, s[i].labels, s[i].n_labels, s[i].t_ms, s[i].v);
	if (rc)
		ts_err_set(err, rc, "writing %zu samples failed", n);
	return finish(p, b, rc, res, err);
}

void ingest_stats_get(ingest_pipeline *p, ingest_stats *out)
{
	out->requests = atomic_load(&p->requests);
	out->samples = atomic_load(&p->samples);
	out->bad_lines = atomic_load(&p->bad_lines);
	out->rejected = atomic_load(&p->rejected) + ingest_writer_rejected(p->writer);
}
