/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline.c: the write path: parse a request, validate, and store its samples.
 *
 * Each write parses the body with the format's parser and appends every sample to the
 * store through a sink callback. Store rejections (too old, conflicting duplicate) are
 * counted per request and reported, not fatal: the rest of the request is stored.
 */
#include "ingest/ingest.h"

#include "ingest/ingest_int.h"
#include "ingest/line_protocol.h"

#include <stdatomic.h>
#include <string.h>

struct ingest_pipeline {
	ingest_options opt;
	ingest_limits limits;
	_Atomic uint64_t requests, samples, bad_lines, rejected;
};

typedef struct write_ctx {
	ingest_pipeline *p;
	ingest_write_result *res;
} write_ctx;

void ingest_options_init(ingest_options *o)
{
	ingest_limits d = INGEST_LIMITS_DEFAULT;
	memset(o, 0, sizeof(*o));
	o->max_labels = d.max_labels;
	o->max_name_bytes = d.max_name_bytes;
	o->max_value_bytes = d.max_value_bytes;
}

int ingest_open(const ingest_options *o, ingest_pipeline **out, ts_err *err)
{
	if (!o->db)
		return ts_err_set(err, TS_EINVAL, "ingest needs a store");
	ingest_pipeline *p = ts_calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting ingest");
	p->opt = *o;
	ingest_limits d = INGEST_LIMITS_DEFAULT;
	p->limits = d;
	p->limits.max_labels = o->max_labels;
	p->limits.max_name_bytes = o->max_name_bytes;
	p->limits.max_value_bytes = o->max_value_bytes;
	*out = p;
	return TS_OK;
}

void ingest_close(ingest_pipeline *p)
{
	ts_free(p);
}

static int store_sample(void *ctx, const ts_label *labels, size_t n, int64_t t_ms, double v)
{
	write_ctx *w = ctx;
	ts_err e = {0};
	int rc = tsdb_append(w->p->opt.db, labels, n, t_ms, v, &e);
	if (rc == TS_OK) {
		w->res->n_samples++;
		return TS_OK;
	}
	if (rc == TS_EOUTOFORDER) {
		if (w->res->n_rejected++ == 0)
			snprintf(w->res->first_error, sizeof(w->res->first_error), "%s", e.msg);
		return TS_OK;
	}
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
	write_ctx w = {p, res};
	ingest_lp_result lr = {0};
	int rc =
	    ingest_lp_parse(body, len, prec, ts_now_ms(), &p->limits, store_sample, &w, &lr, err);
	atomic_fetch_add(&p->requests, 1);
	atomic_fetch_add(&p->samples, res->n_samples);
	atomic_fetch_add(&p->rejected, res->n_rejected);
	atomic_fetch_add(&p->bad_lines, lr.n_bad_lines);
	if (rc)
		return rc;
	res->n_bad_lines = lr.n_bad_lines;
	res->n_skipped = lr.n_string_fields_skipped;
	res->first_bad_line = lr.first_bad_line;
	if (lr.n_bad_lines)
		snprintf(res->first_error, sizeof(res->first_error), "%s", lr.first_error);
	return TS_OK;
}

void ingest_stats_get(ingest_pipeline *p, ingest_stats *out)
{
	out->requests = atomic_load(&p->requests);
	out->samples = atomic_load(&p->samples);
	out->bad_lines = atomic_load(&p->bad_lines);
	out->rejected = atomic_load(&p->rejected);
}
