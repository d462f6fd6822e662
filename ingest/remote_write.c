/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote_write.c: Prometheus remote write 1.0 decoding (snappy + remote_write_pb.c) and
 * the matching encoder (protobuf-c).
 *
 * This is ingest/'s one wrapper around snappy and protobuf-c: their failures become
 * TS_E* codes here. Decoding runs in four steps:
 *
 *   1. snappy block -> WriteRequest bytes, capped (TS_ELIMIT) before allocating;
 *   2. the hand-written decoder (remote_write_pb.c) turns them into flat arrays of
 *      series, labels and samples whose strings point into (and are NUL-terminated in)
 *      the decompressed buffer: no allocation per label or sample, capped as well;
 *   3. validate every series and build its normalized label set (sorted, unique,
 *      no empty values) in one array for the request; an invalid series rejects the
 *      whole request (TS_EINVAL/TS_ELIMIT naming it) unless INGEST_RW_SKIP_INVALID is set;
 *   4. hand every sample to the sink, then every valid metadata entry.
 * So a rejected request delivers nothing; only a sink error stops delivery midway.
 *
 * Why reject: the remote write 1.0 spec has receivers answer 400 for invalid samples
 * and senders drop such batches without retrying. Prometheus' own receiver instead logs
 * and skips invalid series (its code carries a TODO saying 1.0 wants a 400). We reject
 * by default, so a broken sender is noticed, and offer skipping as a flag.
 *
 * Memory per request: the decompressed buffer, the decoder's four arrays (grown by
 * doubling) and one array of normalized labels plus per-series state; all of it counts
 * against ingest_rw_options.max_decoded_bytes.
 *
 * Not done here: native histograms and exemplars are counted and skipped; sample
 * timestamps and order are not checked (the store judges them); remote write 2.0
 * (io.prometheus.write.v2.Request) is not supported.
 */
#include "ingest/remote_write.h"

#include "ingest/remote.pb-c.h"
#include "ingest/remote_write_pb.h"

#include <snappy-c.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ================================================================ messages */

/* Copy s[0..n) into out for a message: at most max_out-4 bytes, unprintable -> '?'. */
static void put_printable(char *out, size_t cap, size_t *w, const char *s, size_t n, size_t max_out)
{
	size_t start = *w;
	for (size_t i = 0; i < n && *w + 1 < cap; i++) {
		if (*w - start >= max_out) {
			for (int k = 0; k < 3 && *w + 1 < cap; k++)
				out[(*w)++] = '.';
			break;
		}
		unsigned char c = (unsigned char)s[i];
		out[(*w)++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[*w] = '\0';
}

static bool is_metric_name_label(const ingest_pb_str *n)
{
	return n->len == sizeof(TS_METRIC_NAME) - 1 &&
	       memcmp(n->p, TS_METRIC_NAME, sizeof(TS_METRIC_NAME) - 1) == 0;
}

/* Render a series as name{a="b",...} (as received, bounded) for error messages. */
static void series_render(const ingest_pb_label *lab, size_t n_labels, char *out, size_t cap)
{
	size_t w = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n_labels; i++)
		if (is_metric_name_label(&lab[i].name))
			put_printable(out, cap, &w, lab[i].value.p, lab[i].value.len, 60);
	put_printable(out, cap, &w, "{", 1, 1);
	bool first = true;
	for (size_t i = 0; i < n_labels && w + 8 < cap; i++) {
		const ingest_pb_label *l = &lab[i];
		if (is_metric_name_label(&l->name))
			continue;
		if (!first)
			put_printable(out, cap, &w, ",", 1, 1);
		first = false;
		put_printable(out, cap, &w, l->name.p, l->name.len, 32);
		put_printable(out, cap, &w, "=\"", 2, 2);
		put_printable(out, cap, &w, l->value.p, l->value.len, 32);
		put_printable(out, cap, &w, "\"", 1, 1);
	}
	put_printable(out, cap, &w, "}", 1, 1);
}

/* ================================================================ validation */

/*
 * Validate the series with labels lab[0..n_labels) and write its normalized labels to out
 * (room for n_labels). On failure returns the code and puts the reason (without the
 * series) in why.
 */
static int series_check(const ingest_pb_label *lab, size_t n_labels, const ingest_limits *lim,
			ts_label *out, size_t *n_out, char *why, size_t why_cap)
{
	enum { BAD_NAME_LEN, BAD_NAME, BAD_VALUE_LEN, BAD_NUL, BAD_UTF8, BAD_METRIC } bad;
	const ingest_pb_str *nm = NULL, *val = NULL;
	size_t n = 0, max_val = 0;
	bool has_name = false;
	for (size_t i = 0; i < n_labels; i++) {
		nm = &lab[i].name;
		val = &lab[i].value;
		if (nm->len > lim->max_name_bytes) {
			bad = BAD_NAME_LEN;
			goto fail;
		}
		if (!ts_label_name_valid(nm->p, nm->len)) {
			bad = BAD_NAME;
			goto fail;
		}
		bool is_name = is_metric_name_label(nm);
		if (val->len == 0)
			continue; /* empty value = no label (Prometheus semantics) */
		max_val = is_name ? lim->max_name_bytes : lim->max_value_bytes;
		if (val->len > max_val) {
			bad = BAD_VALUE_LEN;
			goto fail;
		}
		if (memchr(val->p, 0, val->len)) {
			bad = BAD_NUL;
			goto fail;
		}
		if (!ts_utf8_valid(val->p, val->len)) {
			bad = BAD_UTF8;
			goto fail;
		}
		if (is_name) {
			if (!ts_metric_name_valid(val->p, val->len)) {
				bad = BAD_METRIC;
				goto fail;
			}
			has_name = true;
		}
		out[n].name = nm->p;
		out[n].value = val->p;
		n++;
	}
	if (!has_name) {
		snprintf(why, why_cap, "missing metric name (label __name__)");
		return TS_EINVAL;
	}
	if (n > lim->max_labels) {
		snprintf(why, why_cap, "%zu labels, more than %zu", n, lim->max_labels);
		return TS_ELIMIT;
	}
	/* Senders sort labels; only an unsorted set pays for ts_labels_normalize. */
	for (size_t i = 1; i < n; i++) {
		int c = strcmp(out[i - 1].name, out[i].name);
		if (c == 0) {
			snprintf(why, why_cap, "duplicate label name '%s'", out[i].name);
			return TS_EINVAL;
		}
		if (c > 0) {
			ts_err e;
			ts_err_clear(&e);
			if (ts_labels_normalize(out, &n, &e) != TS_OK) {
				snprintf(why, why_cap, "%.120s", e.msg);
				return TS_EINVAL;
			}
			break;
		}
	}
	*n_out = n;
	return TS_OK;

fail:;
	/* Messages are built only here: the checks above are the per-label hot path. */
	char tmp[80];
	size_t w = 0;
	if (bad == BAD_METRIC)
		put_printable(tmp, sizeof(tmp), &w, val->p, val->len, 48);
	else
		put_printable(tmp, sizeof(tmp), &w, nm->p, nm->len, 48);
	switch (bad) {
	case BAD_NAME_LEN:
		snprintf(why, why_cap, "label name '%s' longer than %zu bytes", tmp,
			 lim->max_name_bytes);
		return TS_ELIMIT;
	case BAD_NAME: snprintf(why, why_cap, "invalid label name '%s'", tmp); return TS_EINVAL;
	case BAD_VALUE_LEN:
		snprintf(why, why_cap, "value of label '%s' longer than %zu bytes", tmp, max_val);
		return TS_ELIMIT;
	case BAD_NUL:
		snprintf(why, why_cap, "value of label '%s' contains a NUL byte", tmp);
		return TS_EINVAL;
	case BAD_UTF8:
		snprintf(why, why_cap, "value of label '%s' is not valid UTF-8", tmp);
		return TS_EINVAL;
	case BAD_METRIC:
	default: snprintf(why, why_cap, "invalid metric name '%s'", tmp); return TS_EINVAL;
	}
}

static const char *metadata_type_name(int t)
{
	switch (t) {
	case PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER: return "counter";
	case PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE: return "gauge";
	case PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM: return "histogram";
	case PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGEHISTOGRAM: return "gaugehistogram";
	case PROMETHEUS__METRIC_METADATA__METRIC_TYPE__SUMMARY: return "summary";
	case PROMETHEUS__METRIC_METADATA__METRIC_TYPE__INFO: return "info";
	case PROMETHEUS__METRIC_METADATA__METRIC_TYPE__STATESET: return "stateset";
	default: return "unknown";
	}
}

static bool text_ok(const ingest_pb_str *b, size_t max)
{
	return b->len <= max && !memchr(b->p, 0, b->len) && ts_utf8_valid(b->p, b->len);
}

/* ================================================================ scratch */

struct ingest_rw_scratch {
	void *raw;                   /* decompressed body, cap_raw bytes */
	size_t cap_raw;              /* >= body + 1 (the decoder terminates the last string) */
	ingest_pb_write_request req; /* decoded arrays, reused */
	void *norm;                  /* series states, then normalized labels */
	size_t cap_norm;             /* bytes of norm */
};

static size_t scratch_bytes(const ingest_rw_scratch *s)
{
	return s->cap_raw + s->cap_norm + s->req.cap_series * sizeof(*s->req.series) +
	       s->req.cap_labels * sizeof(*s->req.labels) +
	       s->req.cap_samples * sizeof(*s->req.samples) +
	       s->req.cap_metadata * sizeof(*s->req.metadata);
}

static void scratch_fini(ingest_rw_scratch *s)
{
	ts_free(s->raw);
	ts_free(s->norm);
	ingest_pb_write_request_fini(&s->req);
	memset(s, 0, sizeof(*s));
}

/* Make *buf hold at least n bytes (contents not kept); 1/4 slack against regrowing. */
static int scratch_reserve(void **buf, size_t *cap, size_t n)
{
	if (*cap >= n)
		return TS_OK;
	size_t want = n + n / 4 < n ? n : n + n / 4;
	ts_free(*buf);
	*cap = 0;
	*buf = ts_malloc(want);
	if (!*buf)
		return TS_ENOMEM;
	*cap = want;
	return TS_OK;
}

struct ingest_rw_pool {
	pthread_mutex_t mu;                          /* guards kept and n_kept */
	ingest_rw_scratch *kept[INGEST_RW_POOL_MAX]; /* idle scratches */
	int n_kept;
};

int ingest_rw_pool_new(ingest_rw_pool **out, ts_err *err)
{
	ingest_rw_pool *p = ts_calloc(1, sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "no memory for the remote write buffer pool");
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return TS_OK;
}

void ingest_rw_pool_free(ingest_rw_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_kept; i++) {
		scratch_fini(p->kept[i]);
		ts_free(p->kept[i]);
	}
	pthread_mutex_destroy(&p->mu);
	ts_free(p);
}

ingest_rw_scratch *ingest_rw_pool_get(ingest_rw_pool *p)
{
	ingest_rw_scratch *s = NULL;
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n_kept)
		s = p->kept[--p->n_kept];
	pthread_mutex_unlock(&p->mu);
	return s ? s : ts_calloc(1, sizeof(*s));
}

void ingest_rw_pool_put(ingest_rw_pool *p, ingest_rw_scratch *s)
{
	if (!s)
		return;
	if (p && scratch_bytes(s) <= INGEST_RW_POOL_MAX_BYTES) {
		pthread_mutex_lock(&p->mu);
		bool kept = p->n_kept < INGEST_RW_POOL_MAX;
		if (kept)
			p->kept[p->n_kept++] = s;
		pthread_mutex_unlock(&p->mu);
		if (kept)
			return;
	}
	scratch_fini(s);
	ts_free(s);
}

/* ================================================================ decode */

int ingest_remote_write_decode(const void *body, size_t len, const ingest_limits *lim,
			       ingest_sample_fn fn, void *ctx, ingest_rw_result *res, ts_err *err)
{
	return ingest_remote_write_decode_ex(body, len, NULL, lim, fn, ctx, res, err);
}

typedef struct rw_series_state {
	ts_label *labels; /* normalized set; NULL if the series is invalid */
	size_t n_labels;
} rw_series_state;

int ingest_remote_write_decode_ex(const void *body, size_t len, const ingest_rw_options *opt,
				  const ingest_limits *lim, ingest_sample_fn fn, void *ctx,
				  ingest_rw_result *res, ts_err *err)
{
	static const ingest_limits default_lim = INGEST_LIMITS_DEFAULT;
	ingest_rw_options o = {0};
	if (opt)
		o = *opt;
	if (!o.max_decompressed_bytes)
		o.max_decompressed_bytes = INGEST_RW_MAX_DECOMPRESSED_DEFAULT;
	if (!o.max_decoded_bytes)
		o.max_decoded_bytes = INGEST_RW_MAX_DECODED_DEFAULT;
	if (!lim)
		lim = &default_lim;
	if (!fn || (len && !body))
		return ts_err_set(err, TS_EINVAL, "remote write: no body or no sample sink");

	ingest_rw_result r;
	memset(&r, 0, sizeof(r));
	ingest_rw_scratch local = {0}; /* without a caller's scratch: freed on return */
	ingest_rw_scratch *sc = o.scratch ? o.scratch : &local;
	ingest_pb_write_request *wr = &sc->req;
	wr->max_bytes = o.max_decoded_bytes;
	int rc = TS_OK;

	size_t ulen = 0;
	if (len == 0 || snappy_uncompressed_length(body, len, &ulen) != SNAPPY_OK) {
		rc = ts_err_set(err, TS_EPARSE,
				"remote write: body is not a snappy block (%zu bytes)", len);
		goto fail;
	}
	if (ulen > o.max_decompressed_bytes) {
		rc = ts_err_set(err, TS_ELIMIT,
				"remote write: decompressed body larger than %zu bytes (%zu)",
				o.max_decompressed_bytes, ulen);
		goto fail;
	}
	/* One byte more: the decoder NUL-terminates the last string in place. */
	if (scratch_reserve(&sc->raw, &sc->cap_raw, ulen + 1) != TS_OK) {
		rc = ts_err_set(err, TS_ENOMEM, "remote write: no memory for %zu bytes", ulen);
		goto fail;
	}
	char *raw = sc->raw;
	if (snappy_uncompress(body, len, raw, &ulen) != SNAPPY_OK) {
		rc = ts_err_set(err, TS_EPARSE, "remote write: corrupt snappy block");
		goto fail;
	}
	r.decompressed_bytes = ulen;

	ts_err pe;
	ts_err_clear(&pe);
	rc = ingest_pb_write_request_decode(wr, raw, ulen, &pe);
	if (rc == TS_EPARSE) {
		rc = ts_err_set(
		    err, rc, "remote write: body is not a valid WriteRequest protobuf: %s", pe.msg);
		goto fail;
	}
	if (rc) {
		rc = ts_err_set(err, rc, "remote write: %s", pe.msg);
		goto fail;
	}

	/* Pass 1: validate every series, keep its normalized label set. */
	size_t st_bytes = wr->n_series * sizeof(rw_series_state);
	size_t lab_bytes = wr->n_labels * sizeof(ts_label);
	if (wr->n_series > SIZE_MAX / sizeof(rw_series_state) ||
	    wr->n_labels > SIZE_MAX / sizeof(ts_label) ||
	    wr->used_bytes + st_bytes + lab_bytes > o.max_decoded_bytes) {
		rc = ts_err_set(err, TS_ELIMIT,
				"remote write: decoded request larger than %zu bytes",
				o.max_decoded_bytes);
		goto fail;
	}
	if (scratch_reserve(&sc->norm, &sc->cap_norm, st_bytes + lab_bytes + 1) != TS_OK) {
		rc = ts_err_set(err, TS_ENOMEM, "remote write: no memory to validate");
		goto fail;
	}
	rw_series_state *st = sc->norm;
	ts_label *lab_all = (ts_label *)((char *)sc->norm + st_bytes);
	_Static_assert(sizeof(rw_series_state) % _Alignof(ts_label) == 0, "ts_label alignment");
	for (size_t i = 0; i < wr->n_series; i++) {
		const ingest_pb_series *ts = &wr->series[i];
		/* Arrays are NULL while empty: no pointer arithmetic on them then. */
		const ingest_pb_label *in = ts->n_labels ? wr->labels + ts->label_off : NULL;
		st[i].labels = NULL;
		st[i].n_labels = 0;
		r.n_histograms_skipped += ts->n_histograms;
		r.n_exemplars_skipped += ts->n_exemplars;
		ts_label *lab = lab_all + ts->label_off;
		char why[128];
		size_t n = 0;
		int vrc = series_check(in, ts->n_labels, lim, lab, &n, why, sizeof(why));
		if (vrc != TS_OK) {
			char desc[96];
			series_render(in, ts->n_labels, desc, sizeof(desc));
			if (!(o.flags & INGEST_RW_SKIP_INVALID)) {
				rc = ts_err_set(err, vrc, "remote write: series %zu %s: %s", i,
						desc, why);
				goto fail;
			}
			if (r.n_series_invalid++ == 0)
				snprintf(r.first_invalid, sizeof(r.first_invalid),
					 "series %zu %s: %s", i, desc, why);
			r.n_samples_invalid += ts->n_samples;
			continue;
		}
		st[i].labels = lab;
		st[i].n_labels = n;
	}

	/* Pass 2: deliver. */
	for (size_t i = 0; i < wr->n_series; i++) {
		const ingest_pb_series *ts = &wr->series[i];
		if (!st[i].labels)
			continue;
		r.n_series++;
		const ingest_pb_sample *s = ts->n_samples ? wr->samples + ts->sample_off : NULL;
		for (size_t j = 0; j < ts->n_samples; j++) {
			rc = fn(ctx, st[i].labels, st[i].n_labels, s[j].t_ms, s[j].v);
			if (rc != TS_OK) {
				ts_err_set(err, rc,
					   "remote write: sample sink failed (%s) at series %zu",
					   ts_err_name(rc), i);
				goto fail;
			}
			r.n_samples++;
		}
	}

	/* Metadata: invalid entries are skipped (Prometheus' receiver ignores them all). */
	for (size_t i = 0; i < wr->n_metadata; i++) {
		const ingest_pb_metadata *m = &wr->metadata[i];
		if (!ts_metric_name_valid(m->family.p, m->family.len) ||
		    m->family.len > lim->max_name_bytes ||
		    !text_ok(&m->help, lim->max_line_bytes) ||
		    !text_ok(&m->unit, lim->max_name_bytes)) {
			r.n_metadata_invalid++;
			continue;
		}
		r.n_metadata++;
		if (o.meta_fn) {
			rc = o.meta_fn(ctx, m->family.p, metadata_type_name(m->type), m->help.p,
				       m->unit.p);
			if (rc != TS_OK) {
				ts_err_set(err, rc, "remote write: metadata sink failed (%s)",
					   ts_err_name(rc));
				goto fail;
			}
		}
	}

	scratch_fini(&local);
	if (res)
		*res = r;
	return TS_OK;

fail:
	scratch_fini(&local);
	return rc;
}

/* ================================================================ encode */

static int metadata_type_value(const char *t, int *out)
{
	static const struct {
		const char *name;
		int value;
	} types[] = {
	    {"unknown", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__UNKNOWN},
	    {"counter", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER},
	    {"gauge", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE},
	    {"histogram", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM},
	    {"gaugehistogram", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGEHISTOGRAM},
	    {"summary", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__SUMMARY},
	    {"info", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__INFO},
	    {"stateset", PROMETHEUS__METRIC_METADATA__METRIC_TYPE__STATESET},
	};
	if (!t) {
		*out = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__UNKNOWN;
		return TS_OK;
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(t, types[i].name) == 0) {
			*out = types[i].value;
			return TS_OK;
		}
	}
	return TS_EINVAL;
}

static ProtobufCBinaryData bin(const char *s)
{
	ProtobufCBinaryData b = {0, NULL};
	if (s && *s) {
		b.len = strlen(s);
		b.data = (uint8_t *)(uintptr_t)s; /* packing only reads it */
	}
	return b;
}

int ingest_remote_write_encode(const ingest_rw_series *series, size_t n_series,
			       const ingest_rw_metadata *md, size_t n_md, ts_buf *out, ts_err *err)
{
	Prometheus__TimeSeries *tss = NULL, **tsp = NULL;
	Prometheus__Label *labs = NULL, **labp = NULL;
	Prometheus__Sample *smp = NULL, **smpp = NULL;
	Prometheus__MetricMetadata *mds = NULL, **mdp = NULL;
	uint8_t *pb = NULL;
	int rc = TS_OK;
	size_t n_lab = 0, n_smp = 0;

	if ((n_series && !series) || (n_md && !md) || !out)
		return ts_err_set(err, TS_EINVAL, "remote write encode: NULL argument");
	for (size_t i = 0; i < n_series; i++) {
		n_lab += series[i].n_labels;
		n_smp += series[i].n_samples;
		for (size_t j = 0; j < series[i].n_labels; j++)
			if (!series[i].labels[j].name || !series[i].labels[j].value)
				return ts_err_set(
				    err, TS_EINVAL,
				    "remote write encode: series %zu label %zu is NULL", i, j);
		if (series[i].n_samples && (!series[i].t_ms || !series[i].v))
			return ts_err_set(err, TS_EINVAL,
					  "remote write encode: series %zu has no sample arrays",
					  i);
	}

	tss = ts_calloc(n_series, sizeof(*tss));
	tsp = ts_calloc(n_series, sizeof(*tsp));
	labs = ts_calloc(n_lab, sizeof(*labs));
	labp = ts_calloc(n_lab, sizeof(*labp));
	smp = ts_calloc(n_smp, sizeof(*smp));
	smpp = ts_calloc(n_smp, sizeof(*smpp));
	mds = ts_calloc(n_md, sizeof(*mds));
	mdp = ts_calloc(n_md, sizeof(*mdp));
	if (!tss || !tsp || !labs || !labp || !smp || !smpp || !mds || !mdp) {
		rc = ts_err_set(err, TS_ENOMEM, "remote write encode: no memory");
		goto done;
	}

	size_t li = 0, si = 0;
	for (size_t i = 0; i < n_series; i++) {
		const ingest_rw_series *s = &series[i];
		Prometheus__TimeSeries init = PROMETHEUS__TIME_SERIES__INIT;
		tss[i] = init;
		tsp[i] = &tss[i];
		tss[i].n_labels = s->n_labels;
		tss[i].labels = &labp[li];
		for (size_t j = 0; j < s->n_labels; j++, li++) {
			Prometheus__Label l = PROMETHEUS__LABEL__INIT;
			l.name = bin(s->labels[j].name);
			l.value = bin(s->labels[j].value);
			labs[li] = l;
			labp[li] = &labs[li];
		}
		tss[i].n_samples = s->n_samples;
		tss[i].samples = &smpp[si];
		for (size_t j = 0; j < s->n_samples; j++, si++) {
			Prometheus__Sample x = PROMETHEUS__SAMPLE__INIT;
			x.value = s->v[j];
			x.timestamp = s->t_ms[j];
			smp[si] = x;
			smpp[si] = &smp[si];
		}
	}
	for (size_t i = 0; i < n_md; i++) {
		Prometheus__MetricMetadata m = PROMETHEUS__METRIC_METADATA__INIT;
		int t;
		if (metadata_type_value(md[i].type, &t) != TS_OK) {
			rc = ts_err_set(err, TS_EINVAL, "remote write encode: unknown type '%s'",
					md[i].type);
			goto done;
		}
		m.type = (Prometheus__MetricMetadata__MetricType)t;
		m.metric_family_name = bin(md[i].family);
		m.help = bin(md[i].help);
		m.unit = bin(md[i].unit);
		mds[i] = m;
		mdp[i] = &mds[i];
	}

	Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
	wr.n_timeseries = n_series;
	wr.timeseries = tsp;
	wr.n_metadata = n_md;
	wr.metadata = mdp;
	size_t pb_len = prometheus__write_request__get_packed_size(&wr);
	pb = ts_malloc(pb_len ? pb_len : 1);
	if (!pb) {
		rc = ts_err_set(err, TS_ENOMEM, "remote write encode: no memory for %zu bytes",
				pb_len);
		goto done;
	}
	prometheus__write_request__pack(&wr, pb);

	size_t clen = snappy_max_compressed_length(pb_len);
	rc = ts_buf_reserve(out, clen);
	if (rc != TS_OK) {
		ts_err_set(err, rc, "remote write encode: output buffer cannot take %zu bytes",
			   clen);
		goto done;
	}
	if (snappy_compress((const char *)pb, pb_len, out->data + out->len, &clen) != SNAPPY_OK) {
		rc = ts_err_set(err, TS_ENOMEM, "remote write encode: snappy failed");
		goto done;
	}
	out->len += clen;
	out->data[out->len] = '\0';

done:
	ts_free(pb);
	ts_free(mdp);
	ts_free(mds);
	ts_free(smpp);
	ts_free(smp);
	ts_free(labp);
	ts_free(labs);
	ts_free(tsp);
	ts_free(tss);
	return rc;
}
