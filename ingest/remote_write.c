/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote_write.c: Prometheus remote write 1.0 decoding (snappy + protobuf-c) and the
 * matching encoder.
 *
 * This is ingest/'s one wrapper around snappy and protobuf-c: their failures become
 * TS_E* codes here. Decoding runs in four steps:
 *
 *   1. snappy block -> WriteRequest bytes, capped (TS_ELIMIT) before allocating;
 *   2. protobuf-c unpack into a per-request arena (below), capped as well;
 *   3. validate every series and build its normalized label set (sorted, unique,
 *      no empty values) in the arena; an invalid series rejects the whole request
 *      (TS_EINVAL/TS_ELIMIT naming it) unless INGEST_RW_SKIP_INVALID is set;
 *   4. hand every sample to the sink, then every valid metadata entry.
 * So a rejected request delivers nothing; only a sink error stops delivery midway.
 *
 * Why reject: the remote write 1.0 spec has receivers answer 400 for invalid samples
 * and senders drop such batches without retrying. Prometheus' own receiver instead logs
 * and skips invalid series (its code carries a TODO saying 1.0 wants a 400). We reject
 * by default, so a broken sender is noticed, and offer skipping as a flag.
 *
 * The arena: protobuf-c allocates one block per message, string and repeated array,
 * i.e. ~15 per series. Routing those through ts_malloc (an atomic counter per call)
 * would dominate decoding, so they are bump-allocated from 64 KiB chunks taken from
 * ts_malloc (counted, failure injectable) and released in one go. Each block carries
 * an 8-byte size header; freed blocks of 512 bytes or more (protobuf-c's scratch slabs
 * for messages with many fields) go to per-size free lists and are reused; smaller
 * frees are ignored. Every block is followed by one zero byte: protobuf-c copies
 * `bytes` fields exactly and does not terminate them, and the zero byte lets label
 * names and values be used as C strings without a second copy (remote.proto declares
 * the strings as bytes so the decoder sees their lengths).
 *
 * Not done here: native histograms and exemplars are counted and skipped; sample
 * timestamps and order are not checked (the store judges them); remote write 2.0
 * (io.prometheus.write.v2.Request) is not supported.
 */
#include "ingest/remote_write.h"

#include "ingest/remote.pb-c.h"

#include <snappy-c.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ================================================================ arena */

#define ARENA_CHUNK_BYTES ((size_t)64 << 10)
#define ARENA_HDR         sizeof(size_t)
#define ARENA_MIN_CLASS   9 /* blocks of 512 bytes and more are recycled */
#define ARENA_N_CLASSES   48
_Static_assert(ARENA_N_CLASSES > 41, "arena_alloc caps blocks at 2^40 bytes (+ header)");

typedef struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* usable bytes after this header */
	size_t used; /* bytes handed out */
	size_t pad;  /* keeps the data 16-byte aligned */
} arena_chunk;

typedef struct rw_arena {
	arena_chunk *head;                /* current chunk, first in the list */
	size_t total_bytes;               /* bytes of all chunks */
	size_t max_bytes;                 /* cap on total_bytes */
	int fail_code;                    /* TS_OK, or why the last allocation failed */
	void *free_list[ARENA_N_CLASSES]; /* recycled blocks by power-of-two class */
} rw_arena;

static unsigned size_class(size_t cap)
{
	unsigned c = ARENA_MIN_CLASS;
	while (((size_t)1 << c) < cap)
		c++;
	return c;
}

static arena_chunk *arena_chunk_new(rw_arena *a, size_t size)
{
	size_t bytes = sizeof(arena_chunk) + size;
	if (bytes < size || a->total_bytes + bytes > a->max_bytes) {
		a->fail_code = TS_ELIMIT;
		return NULL;
	}
	arena_chunk *c = ts_malloc(bytes);
	if (!c) {
		a->fail_code = TS_ENOMEM;
		return NULL;
	}
	c->next = NULL;
	c->size = size;
	c->used = 0;
	a->total_bytes += bytes;
	return c;
}

/* protobuf-c allocator hook: 8-aligned block of n bytes followed by a zero byte. */
static void *arena_alloc(void *data, size_t n)
{
	rw_arena *a = data;
	if (n > a->max_bytes || n > ((size_t)1 << 40)) { /* keeps the size math below safe */
		a->fail_code = TS_ELIMIT;
		return NULL;
	}
	size_t cap = (n + 1 + 7) & ~(size_t)7;
	if (cap >= ((size_t)1 << ARENA_MIN_CLASS)) {
		unsigned cls = size_class(cap); /* <= 41 */
		cap = (size_t)1 << cls;
		if (a->free_list[cls]) {
			char *p = a->free_list[cls];
			memcpy(&a->free_list[cls], p, sizeof(void *));
			p[n] = 0;
			return p;
		}
	}
	size_t need = ARENA_HDR + cap;
	arena_chunk *c = a->head;
	if (!c || c->size - c->used < need) {
		if (need > ARENA_CHUNK_BYTES / 4) {
			/* A big block gets its own chunk behind the current one. */
			arena_chunk *big = arena_chunk_new(a, need);
			if (!big)
				return NULL;
			if (c) {
				big->next = c->next;
				c->next = big;
			} else {
				a->head = big;
			}
			c = big;
		} else {
			arena_chunk *fresh = arena_chunk_new(a, ARENA_CHUNK_BYTES);
			if (!fresh)
				return NULL;
			fresh->next = c;
			a->head = fresh;
			c = fresh;
		}
	}
	char *base = (char *)(c + 1) + c->used;
	c->used += need;
	memcpy(base, &cap, sizeof(cap));
	char *p = base + ARENA_HDR;
	p[n] = 0;
	return p;
}

static void arena_free_block(void *data, void *ptr)
{
	rw_arena *a = data;
	if (!ptr)
		return;
	size_t cap;
	memcpy(&cap, (char *)ptr - ARENA_HDR, sizeof(cap));
	if (cap < ((size_t)1 << ARENA_MIN_CLASS))
		return;
	unsigned cls = size_class(cap);
	memcpy(ptr, &a->free_list[cls], sizeof(void *));
	a->free_list[cls] = ptr;
}

static void arena_init(rw_arena *a, size_t max_bytes)
{
	memset(a, 0, sizeof(*a));
	a->max_bytes = max_bytes;
}

static void arena_fini(rw_arena *a)
{
	arena_chunk *c = a->head;
	while (c) {
		arena_chunk *next = c->next;
		ts_free(c);
		c = next;
	}
	a->head = NULL;
}

/* ================================================================ messages */

/* A bytes field as a C string: the arena put a zero byte after it (see the top). */
static const char *bytes_str(const ProtobufCBinaryData *b)
{
	return b->len ? (const char *)b->data : "";
}

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

/* Render a series as name{a="b",...} (as received, bounded) for error messages. */
static void series_render(const Prometheus__TimeSeries *ts, char *out, size_t cap)
{
	size_t w = 0;
	out[0] = '\0';
	for (size_t i = 0; i < ts->n_labels; i++) {
		const ProtobufCBinaryData *n = &ts->labels[i]->name;
		if (n->len == strlen(TS_METRIC_NAME) &&
		    memcmp(n->data, TS_METRIC_NAME, n->len) == 0)
			put_printable(out, cap, &w, bytes_str(&ts->labels[i]->value),
				      ts->labels[i]->value.len, 60);
	}
	put_printable(out, cap, &w, "{", 1, 1);
	bool first = true;
	for (size_t i = 0; i < ts->n_labels && w + 8 < cap; i++) {
		const Prometheus__Label *l = ts->labels[i];
		if (l->name.len == strlen(TS_METRIC_NAME) &&
		    memcmp(l->name.data, TS_METRIC_NAME, l->name.len) == 0)
			continue;
		if (!first)
			put_printable(out, cap, &w, ",", 1, 1);
		first = false;
		put_printable(out, cap, &w, bytes_str(&l->name), l->name.len, 32);
		put_printable(out, cap, &w, "=\"", 2, 2);
		put_printable(out, cap, &w, bytes_str(&l->value), l->value.len, 32);
		put_printable(out, cap, &w, "\"", 1, 1);
	}
	put_printable(out, cap, &w, "}", 1, 1);
}

/* ================================================================ validation */

static bool is_metric_name_label(const ProtobufCBinaryData *n)
{
	return n->len == sizeof(TS_METRIC_NAME) - 1 &&
	       memcmp(n->data, TS_METRIC_NAME, sizeof(TS_METRIC_NAME) - 1) == 0;
}

/*
 * Validate series ts and write its normalized labels to out (room for ts->n_labels).
 * On failure returns the code and puts the reason (without the series) in why.
 */
static int series_check(const Prometheus__TimeSeries *ts, const ingest_limits *lim, ts_label *out,
			size_t *n_out, char *why, size_t why_cap)
{
	enum { BAD_NAME_LEN, BAD_NAME, BAD_VALUE_LEN, BAD_NUL, BAD_UTF8, BAD_METRIC } bad;
	const ProtobufCBinaryData *nm = NULL, *val = NULL;
	size_t n = 0, max_val = 0;
	bool has_name = false;
	for (size_t i = 0; i < ts->n_labels; i++) {
		nm = &ts->labels[i]->name;
		val = &ts->labels[i]->value;
		const char *name = bytes_str(nm), *value = bytes_str(val);
		if (nm->len > lim->max_name_bytes) {
			bad = BAD_NAME_LEN;
			goto fail;
		}
		if (!ts_label_name_valid(name, nm->len)) {
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
		if (memchr(value, 0, val->len)) {
			bad = BAD_NUL;
			goto fail;
		}
		if (!ts_utf8_valid(value, val->len)) {
			bad = BAD_UTF8;
			goto fail;
		}
		if (is_name) {
			if (!ts_metric_name_valid(value, val->len)) {
				bad = BAD_METRIC;
				goto fail;
			}
			has_name = true;
		}
		out[n].name = name;
		out[n].value = value;
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
		put_printable(tmp, sizeof(tmp), &w, bytes_str(val), val->len, 48);
	else
		put_printable(tmp, sizeof(tmp), &w, bytes_str(nm), nm->len, 48);
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

static bool text_ok(const ProtobufCBinaryData *b, size_t max)
{
	return b->len <= max && !memchr(bytes_str(b), 0, b->len) &&
	       ts_utf8_valid(bytes_str(b), b->len);
}

/* ================================================================ decode */

int ingest_remote_write_decode(const void *body, size_t len, const ingest_limits *lim,
			       ingest_sample_fn fn, void *ctx, ingest_rw_result *res, ts_err *err)
{
	return ingest_remote_write_decode_ex(body, len, NULL, lim, fn, ctx, res, err);
}

typedef struct rw_series_state {
	ts_label *labels; /* normalized set in the arena; NULL if the series is invalid */
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
	rw_arena arena;
	arena_init(&arena, o.max_decoded_bytes);
	ProtobufCAllocator alloc = {arena_alloc, arena_free_block, &arena};
	Prometheus__WriteRequest *wr = NULL;
	uint8_t *raw = NULL;
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
	raw = ts_malloc(ulen ? ulen : 1);
	if (!raw) {
		rc = ts_err_set(err, TS_ENOMEM, "remote write: no memory for %zu bytes", ulen);
		goto fail;
	}
	if (snappy_uncompress(body, len, (char *)raw, &ulen) != SNAPPY_OK) {
		rc = ts_err_set(err, TS_EPARSE, "remote write: corrupt snappy block");
		goto fail;
	}
	r.decompressed_bytes = ulen;

	wr = prometheus__write_request__unpack(&alloc, ulen, raw);
	ts_free(raw); /* protobuf-c copied everything it keeps */
	raw = NULL;
	if (!wr) {
		if (arena.fail_code == TS_ENOMEM)
			rc = ts_err_set(err, TS_ENOMEM, "remote write: no memory to decode");
		else if (arena.fail_code == TS_ELIMIT)
			rc = ts_err_set(err, TS_ELIMIT,
					"remote write: decoded request larger than %zu bytes",
					o.max_decoded_bytes);
		else
			rc = ts_err_set(err, TS_EPARSE,
					"remote write: body is not a valid WriteRequest protobuf");
		goto fail;
	}

	/* Pass 1: validate every series, keep its normalized label set. */
	rw_series_state *st = NULL;
	if (wr->n_timeseries) {
		if (wr->n_timeseries > SIZE_MAX / sizeof(*st)) {
			rc = ts_err_set(err, TS_ELIMIT, "remote write: too many series");
			goto fail;
		}
		st = arena_alloc(&arena, wr->n_timeseries * sizeof(*st));
		if (!st)
			goto arena_fail;
	}
	for (size_t i = 0; i < wr->n_timeseries; i++) {
		const Prometheus__TimeSeries *ts = wr->timeseries[i];
		st[i].labels = NULL;
		st[i].n_labels = 0;
		r.n_histograms_skipped += ts->n_histograms;
		r.n_exemplars_skipped += ts->n_exemplars;
		ts_label *lab = NULL;
		if (ts->n_labels) {
			lab = arena_alloc(&arena, ts->n_labels * sizeof(*lab));
			if (!lab)
				goto arena_fail;
		}
		char why[128];
		size_t n = 0;
		int vrc = series_check(ts, lim, lab, &n, why, sizeof(why));
		if (vrc != TS_OK) {
			char desc[96];
			series_render(ts, desc, sizeof(desc));
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
	for (size_t i = 0; i < wr->n_timeseries; i++) {
		const Prometheus__TimeSeries *ts = wr->timeseries[i];
		if (!st[i].labels)
			continue;
		r.n_series++;
		for (size_t j = 0; j < ts->n_samples; j++) {
			const Prometheus__Sample *s = ts->samples[j];
			rc = fn(ctx, st[i].labels, st[i].n_labels, s->timestamp, s->value);
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
		const Prometheus__MetricMetadata *m = wr->metadata[i];
		if (!ts_metric_name_valid(bytes_str(&m->metric_family_name),
					  m->metric_family_name.len) ||
		    m->metric_family_name.len > lim->max_name_bytes ||
		    !text_ok(&m->help, lim->max_line_bytes) ||
		    !text_ok(&m->unit, lim->max_name_bytes)) {
			r.n_metadata_invalid++;
			continue;
		}
		r.n_metadata++;
		if (o.meta_fn) {
			rc = o.meta_fn(ctx, bytes_str(&m->metric_family_name),
				       metadata_type_name(m->type), bytes_str(&m->help),
				       bytes_str(&m->unit));
			if (rc != TS_OK) {
				ts_err_set(err, rc, "remote write: metadata sink failed (%s)",
					   ts_err_name(rc));
				goto fail;
			}
		}
	}

	arena_fini(&arena);
	if (res)
		*res = r;
	return TS_OK;

arena_fail:
	if (arena.fail_code == TS_ENOMEM)
		rc = ts_err_set(err, TS_ENOMEM, "remote write: no memory to validate");
	else
		rc = ts_err_set(err, TS_ELIMIT,
				"remote write: decoded request larger than %zu bytes",
				o.max_decoded_bytes);
fail:
	ts_free(raw);
	arena_fini(&arena);
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
