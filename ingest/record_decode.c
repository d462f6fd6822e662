/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record_decode.c: the log record decoder (the builder is record.c; the layout is in
 * record.h and docs/formats/log.md).
 *
 * Header, CRC32C, optional snappy decompression into the decoder's scratch, then a
 * bounds-checked walk of the payload. For the string sinks (_decode, _decode_series) the
 * symbols are copied NUL-terminated into scratch so the sink gets C strings; _decode_ids
 * copies nothing: its sink gets the symbol table once per record (pointers into the
 * payload and lengths) and each series entry as symbol ids. Label order is checked on
 * lengths + memcmp, except between two labels both reused from the previous series
 * (checked there); __name__ is found by its bytes only in labels that are not reused.
 * Counts are checked against the bytes left before anything is sized from them, so a
 * hostile count cannot cause a huge allocation. The series sinks get a whole series entry
 * (timestamps and values decoded into scratch arrays in one pass; on a failure the checks
 * run again in their documented order, so every entry point reports the same error), so
 * a consumer looks each series up once per entry.
 *
 * Tested by tests/ingest/test_record_decode.c (every entry point: round trips, every
 * payload check with the same error from each), tests/ingest/test_record.c (round trips
 * through the builder, header corruption, the golden v1 record) and
 * fuzz/fuzz_log_record.c.
 */
#include "ingest/record.h"

#include <snappy-c.h>

#include <string.h>

struct ingest_record_decoder {
	uint8_t *plain;     /* decompressed payload */
	size_t plain_cap;   /* bytes allocated */
	char *strs;         /* string sinks: NUL-terminated copies of the symbols */
	size_t strs_cap;    /* bytes allocated */
	const char **syms;  /* per symbol id: its bytes (in the payload, or the copy in strs) */
	size_t syms_cap;    /* elements allocated */
	uint32_t *lens;     /* per symbol id: its length in bytes */
	size_t lens_cap;    /* elements allocated */
	uint32_t *ids;      /* one series' labels: name and value symbol ids, 2 per label */
	size_t ids_cap;     /* elements allocated */
	ts_label *labels;   /* string sinks: one series' labels */
	size_t labels_cap;  /* elements allocated */
	int64_t *ts;        /* _decode_series: one series' timestamps */
	double *vs;         /* _decode_series: one series' values */
	size_t samples_cap; /* elements allocated in ts and vs */
};

int ingest_record_decoder_new(ingest_record_decoder **out, ts_err *err)
{
	ingest_record_decoder *d = ts_calloc(1, sizeof(*d));
	if (!d)
		return ts_err_set(err, TS_ENOMEM, "record decoder: out of memory");
	*out = d;
	return TS_OK;
}

void ingest_record_decoder_free(ingest_record_decoder *d)
{
	if (!d)
		return;
	ts_free(d->plain);
	ts_free(d->strs);
	ts_free(d->syms);
	ts_free(d->lens);
	ts_free(d->ids);
	ts_free(d->labels);
	ts_free(d->ts);
	ts_free(d->vs);
	ts_free(d);
}

#define CORRUPT(...) ts_err_set(err, TS_ECORRUPT, __VA_ARGS__)

/* The sinks of one decode: exactly one of fn, sfn, ifn is set (symfn with ifn). */
typedef struct sinks {
	ingest_sample_fn fn;            /* ingest_record_decode */
	ingest_record_series_fn sfn;    /* ingest_record_decode_series */
	ingest_record_symbols_fn symfn; /* ingest_record_decode_ids: the symbol table */
	ingest_record_ids_fn ifn;       /* ingest_record_decode_ids: the series entries */
	void *ctx;
} sinks;

/*
 * Parse the symbol table at *pp into d (d->syms, d->lens); advances *pp. With copy the
 * symbols are copied NUL-terminated into d->strs (the string sinks), otherwise d->syms
 * points into the payload.
 */
static int decode_symbols(ingest_record_decoder *d, const uint8_t **pp, const uint8_t *start,
			  const uint8_t *end, bool copy, size_t *n_syms_out, ts_err *err)
{
	const uint8_t *p = *pp;
	uint64_t n_syms;
	if (ts_get_uvarint(&p, end, &n_syms))
		return CORRUPT("record: payload byte %zu: truncated symbol count",
			       (size_t)(p - start));
	/* each symbol takes >= 2 bytes (length and one byte) */
	if (n_syms > (uint64_t)(end - p) / 2)
		return CORRUPT("record: payload byte %zu: symbol count %llu exceeds the payload",
			       (size_t)(p - start), (unsigned long long)n_syms);
	size_t nstr = (size_t)(end - p) + (size_t)n_syms;
	if ((copy && ingest_grow((void **)&d->strs, &d->strs_cap, nstr, 1)) ||
	    ingest_grow((void **)&d->syms, &d->syms_cap, (size_t)n_syms, sizeof(*d->syms)) ||
	    ingest_grow((void **)&d->lens, &d->lens_cap, (size_t)n_syms, sizeof(*d->lens)))
		return ts_err_set(err, TS_ENOMEM, "record decoder: out of memory");
	char *w = d->strs;
	for (uint64_t i = 0; i < n_syms; i++) {
		const uint8_t *at = p;
		uint64_t len;
		if (ts_get_uvarint(&p, end, &len))
			return CORRUPT("record: payload byte %zu: truncated length of symbol %llu",
				       (size_t)(at - start), (unsigned long long)i);
		if (len == 0 || len > (uint64_t)(end - p))
			return CORRUPT("record: payload byte %zu: symbol %llu length %llu is empty "
				       "or runs past the payload",
				       (size_t)(at - start), (unsigned long long)i,
				       (unsigned long long)len);
		if (memchr(p, 0, (size_t)len))
			return CORRUPT("record: payload byte %zu: symbol %llu contains a NUL byte",
				       (size_t)(at - start), (unsigned long long)i);
		d->lens[i] = (uint32_t)len; /* < 16 MiB: the payload is bounded */
		if (copy) {
			memcpy(w, p, (size_t)len);
			w[len] = '\0';
			d->syms[i] = w;
			w += len + 1;
		} else {
			d->syms[i] = (const char *)p;
		}
		p += len;
	}
	*pp = p;
	*n_syms_out = (size_t)n_syms;
	return TS_OK;
}

/* ts_get_uvarint inline (label ids, timestamp deltas): the same results and failures. */
static inline int get_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	if (end - p < 10)
		return ts_get_uvarint(pp, end, out); /* near the end: checks every byte */
	uint64_t v = 0;
	for (int shift = 0; shift < 63; shift += 7) {
		uint8_t c = *p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (c < 0x80) {
			*pp = p;
			*out = v;
			return TS_OK;
		}
	}
	uint8_t c = *p++; /* the 10th byte holds bit 63 only */
	if (c > 1)
		return TS_ECORRUPT;
	*pp = p;
	*out = v | (uint64_t)c << 63;
	return TS_OK;
}

/*
 * The n timestamps of series s (entry at `at`) start at p: find where they end (*vp,
 * where the values start) and check that the n values fit before end. TS_ECORRUPT
 * "truncated timestamps" / "truncated values".
 */
static int find_values(const uint8_t *start, const uint8_t *end, const uint8_t *at,
		       const uint8_t *p, uint64_t s, uint64_t n, const uint8_t **vp_out,
		       ts_err *err)
{
	const uint8_t *vp = p;
	for (uint64_t k = 0; k < n; vp++) {
		if (vp >= end)
			return CORRUPT("record: payload byte %zu: series %llu: truncated "
				       "timestamps",
				       (size_t)(at - start), (unsigned long long)s);
		if (*vp < 0x80)
			k++;
	}
	if ((uint64_t)(end - vp) / 8 < n)
		return CORRUPT("record: payload byte %zu: series %llu: truncated values",
			       (size_t)(vp - start), (unsigned long long)s);
	*vp_out = vp;
	return TS_OK;
}

/*
 * The error in the sample region of series s (see find_values), for the series sinks'
 * one-pass decoding once it failed: the same checks, in the same order, as the sample
 * sink's path, so every sink reports the same message for the same record.
 */
static int samples_error(const uint8_t *start, const uint8_t *end, const uint8_t *at,
			 const uint8_t *p, uint64_t s, uint64_t n, ts_err *err)
{
	const uint8_t *tp = p, *vp = p;
	int rc = find_values(start, end, at, p, s, n, &vp, err);
	if (rc)
		return rc;
	for (uint64_t k = 0; k < n; k++) {
		int64_t delta;
		if (ts_get_varint(&tp, vp, &delta))
			return CORRUPT("record: payload byte %zu: series %llu: bad timestamp "
				       "varint",
				       (size_t)(tp - start), (unsigned long long)s);
	}
	return CORRUPT("record: payload byte %zu: series %llu: timestamp bytes do not end "
		       "where values start",
		       (size_t)(tp - start), (unsigned long long)s);
}

/* Byte order of two symbols (no NUL inside, so the same as strcmp of their copies). */
static int sym_cmp(const ingest_record_decoder *d, uint32_t a, uint32_t b)
{
	uint32_t la = d->lens[a], lb = d->lens[b];
	int c = memcmp(d->syms[a], d->syms[b], la < lb ? la : lb);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

/* Walk the payload [start, end) and feed the sinks. */
static int decode_payload(ingest_record_decoder *d, const uint8_t *start, const uint8_t *end,
			  uint32_t want_samples, const sinks *k_, ts_err *err)
{
	const uint8_t *p = start;
	size_t n_syms = 0;
	int rc = decode_symbols(d, &p, start, end, k_->ifn == NULL, &n_syms, err);
	if (rc)
		return rc;
	if (k_->symfn) {
		rc = k_->symfn(k_->ctx, d->syms, d->lens, n_syms);
		if (rc < 0)
			return ts_err_set(err, rc, "record: symbol sink stopped (%s)",
					  ts_err_name(rc));
	}
	uint64_t n_series, total = 0;
	if (ts_get_uvarint(&p, end, &n_series))
		return CORRUPT("record: payload byte %zu: truncated series count",
			       (size_t)(p - start));
	/* each series entry takes >= 12 bytes (all labels reused, one sample) */
	if (n_series > (uint64_t)(end - p) / 12)
		return CORRUPT("record: payload byte %zu: series count %llu exceeds the payload",
			       (size_t)(p - start), (unsigned long long)n_series);
	int64_t prev_t0 = 0;
	size_t prev_n = 0; /* labels of the previous series, still in d->ids (and d->labels) */
	size_t prev_name_at = SIZE_MAX; /* its __name__ label */
	for (uint64_t s = 0; s < n_series; s++) {
		const uint8_t *at = p;
		uint64_t n_labels, n;
		/* a label is either reused (< prev_n of them) or costs >= 2 bytes */
		if (ts_get_uvarint(&p, end, &n_labels) || n_labels == 0 ||
		    n_labels > prev_n + (uint64_t)(end - p) / 2)
			return CORRUPT("record: payload byte %zu: series %llu: bad label count",
				       (size_t)(at - start), (unsigned long long)s);
		size_t nb = (size_t)(n_labels + 7) / 8;
		if ((size_t)(end - p) < nb)
			return CORRUPT("record: payload byte %zu: series %llu: truncated label "
				       "reuse bits",
				       (size_t)(p - start), (unsigned long long)s);
		const uint8_t *reuse = p;
		p += nb;
		if (n_labels % 8 && (reuse[nb - 1] >> (n_labels % 8)) != 0)
			return CORRUPT("record: payload byte %zu: series %llu: reuse bits set "
				       "past the last label",
				       (size_t)(p - 1 - start), (unsigned long long)s);
		if (ingest_grow((void **)&d->ids, &d->ids_cap, 2 * (size_t)n_labels,
				sizeof(*d->ids)) ||
		    (!k_->ifn && ingest_grow((void **)&d->labels, &d->labels_cap, (size_t)n_labels,
					     sizeof(*d->labels))))
			return ts_err_set(err, TS_ENOMEM, "record decoder: out of memory");
		uint32_t *ids = d->ids;
		bool has_name = false, prev_reused = false;
		size_t name_at = SIZE_MAX; /* the label that is __name__ */
		for (size_t i = 0; i < n_labels; i++) {
			bool reused = (reuse[i / 8] >> (i % 8)) & 1;
			at = p;
			if (reused && i >= prev_n)
				return CORRUPT("record: payload byte %zu: series %llu label %zu: "
					       "reuses a label the previous series does not have",
					       (size_t)(reuse - start), (unsigned long long)s, i);
			if (!reused) {
				uint64_t ni, vi;
				if (get_uvarint(&p, end, &ni) || get_uvarint(&p, end, &vi) ||
				    ni >= n_syms || vi >= n_syms)
					return CORRUPT("record: payload byte %zu: series %llu "
						       "label %zu: bad symbol reference",
						       (size_t)(at - start), (unsigned long long)s,
						       i);
				ids[2 * i] = (uint32_t)ni;
				ids[2 * i + 1] = (uint32_t)vi;
				if (!k_->ifn)
					d->labels[i] = (ts_label){d->syms[ni], d->syms[vi]};
			}
			/* two reused neighbours were already checked in the previous series */
			if (reused && prev_reused) {
				if (i == prev_name_at) {
					has_name = true;
					name_at = i;
				}
				continue;
			}
			uint32_t name = ids[2 * i];
			const char *nb8 = d->syms[name];
			if (reused ? i == prev_name_at
				   : d->lens[name] == sizeof(TS_METRIC_NAME) - 1 && nb8[0] == '_' &&
					 memcmp(nb8, TS_METRIC_NAME, sizeof(TS_METRIC_NAME) - 1) ==
					     0) {
				has_name = true;
				name_at = i;
			}
			if (i > 0 && sym_cmp(d, ids[2 * i - 2], name) >= 0)
				return CORRUPT("record: payload byte %zu: series %llu: labels not "
					       "sorted or not unique at '%.*s'",
					       (size_t)(at - start), (unsigned long long)s,
					       (int)d->lens[name], nb8);
			prev_reused = reused;
		}
		prev_n = (size_t)n_labels;
		prev_name_at = name_at;
		if (!has_name)
			return CORRUPT(
			    "record: payload byte %zu: series %llu has no " TS_METRIC_NAME " label",
			    (size_t)(at - start), (unsigned long long)s);
		at = p;
		if (ts_get_uvarint(&p, end, &n) || n == 0 || n > want_samples - total ||
		    n > (uint64_t)(end - p) / 9)
			return CORRUPT("record: payload byte %zu: series %llu: bad sample count",
				       (size_t)(at - start), (unsigned long long)s);
		if (!k_->fn) {
			if (n > d->samples_cap) {
				size_t cap = d->samples_cap, c2 = d->samples_cap;
				if (ingest_grow((void **)&d->ts, &cap, (size_t)n, sizeof(*d->ts)) ||
				    ingest_grow((void **)&d->vs, &c2, (size_t)n, sizeof(*d->vs)))
					return ts_err_set(err, TS_ENOMEM,
							  "record decoder: out of memory");
				d->samples_cap = cap < c2 ? cap : c2;
			}
			/* One pass over valid timestamps; on any failure samples_error() runs
			 * the checks in their documented order for the exact message. */
			const uint8_t *tp = p;
			int64_t t = prev_t0;
			uint64_t k = 0;
			for (; k < n; k++) {
				uint64_t u;
				if (get_uvarint(&tp, end, &u))
					break;
				t = (int64_t)((uint64_t)t + (u >> 1 ^ -(u & 1)));
				d->ts[k] = t;
			}
			if (k < n || (uint64_t)(end - tp) / 8 < n)
				return samples_error(start, end, at, p, s, n, err);
			const uint8_t *vp = tp;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			memcpy(d->vs, vp, 8 * (size_t)n); /* u64le IEEE-754 bits, as stored */
#else
			for (k = 0; k < n; k++) {
				uint64_t vbits = ts_get_u64le(vp + 8 * k);
				memcpy(&d->vs[k], &vbits, 8);
			}
#endif
			prev_t0 = d->ts[0];
			rc = k_->ifn
				 ? k_->ifn(k_->ctx, ids, (size_t)n_labels, d->ts, d->vs, (size_t)n)
				 : k_->sfn(k_->ctx, d->labels, (size_t)n_labels, d->ts, d->vs,
					   (size_t)n);
			if (rc < 0)
				return ts_err_set(err, rc,
						  "record: series sink stopped at series %llu (%s)",
						  (unsigned long long)s, ts_err_name(rc));
			p = vp + 8 * n;
			total += n;
			continue;
		}
		const uint8_t *tp = p, *vp = p;
		if ((rc = find_values(start, end, at, p, s, n, &vp, err)))
			return rc;
		int64_t t = prev_t0;
		for (uint64_t k = 0; k < n; k++) {
			int64_t delta;
			if (ts_get_varint(&tp, vp, &delta))
				return CORRUPT("record: payload byte %zu: series %llu: bad "
					       "timestamp varint",
					       (size_t)(tp - start), (unsigned long long)s);
			t = (int64_t)((uint64_t)t + (uint64_t)delta);
			if (k == 0)
				prev_t0 = t;
			uint64_t vbits = ts_get_u64le(vp + 8 * k);
			double v;
			memcpy(&v, &vbits, 8);
			rc = k_->fn(k_->ctx, d->labels, (size_t)n_labels, t, v);
			if (rc < 0)
				return ts_err_set(
				    err, rc,
				    "record: sample sink stopped at series %llu sample "
				    "%llu (%s)",
				    (unsigned long long)s, (unsigned long long)k, ts_err_name(rc));
		}
		if (tp != vp)
			return CORRUPT("record: payload byte %zu: series %llu: timestamp bytes "
				       "do not end where values start",
				       (size_t)(tp - start), (unsigned long long)s);
		p = vp + 8 * n;
		total += n;
	}
	if (p != end)
		return CORRUPT("record: payload byte %zu: %zu trailing bytes after the last series",
			       (size_t)(p - start), (size_t)(end - p));
	if (total != want_samples)
		return CORRUPT("record: header says %u samples, payload holds %llu", want_samples,
			       (unsigned long long)total);
	return TS_OK;
}

static int decode(ingest_record_decoder *d, const void *rec, size_t len, const sinks *k,
		  ts_err *err)
{
	ingest_record_info info = {0};
	int rc = ingest_record_header_parse(rec, len, &info, err);
	if (rc)
		return rc;
	const uint8_t *h = rec, *payload = h + INGEST_RECORD_HEADER_BYTES;
	uint32_t crc = ts_crc32c(ts_crc32c(0, h, 16), payload, info.payload_len);
	if (crc != info.crc32c)
		return CORRUPT("record: CRC32C mismatch (stored %08x, computed %08x)", info.crc32c,
			       crc);
	if (info.compression == INGEST_RECORD_COMPRESS_NONE)
		return decode_payload(d, payload, payload + info.payload_len, info.n_samples, k,
				      err);
	size_t ulen;
	if (snappy_uncompressed_length((const char *)payload, info.payload_len, &ulen) != SNAPPY_OK)
		return CORRUPT("record: bad snappy preamble");
	if (ulen > INGEST_RECORD_MAX_PAYLOAD_BYTES)
		return CORRUPT("record: snappy payload expands to %zu bytes (max %u)", ulen,
			       INGEST_RECORD_MAX_PAYLOAD_BYTES);
	if (ingest_grow((void **)&d->plain, &d->plain_cap, ulen ? ulen : 1, 1))
		return ts_err_set(err, TS_ENOMEM, "record decoder: out of memory");
	size_t got = ulen;
	if (snappy_uncompress((const char *)payload, info.payload_len, (char *)d->plain, &got) !=
		SNAPPY_OK ||
	    got != ulen)
		return CORRUPT("record: snappy payload does not decompress");
	return decode_payload(d, d->plain, d->plain + ulen, info.n_samples, k, err);
}

int ingest_record_decode(ingest_record_decoder *d, const void *rec, size_t len, ingest_sample_fn fn,
			 void *ctx, ts_err *err)
{
	sinks k = {.fn = fn, .ctx = ctx};
	return decode(d, rec, len, &k, err);
}

int ingest_record_decode_series(ingest_record_decoder *d, const void *rec, size_t len,
				ingest_record_series_fn fn, void *ctx, ts_err *err)
{
	sinks k = {.sfn = fn, .ctx = ctx};
	return decode(d, rec, len, &k, err);
}

int ingest_record_decode_ids(ingest_record_decoder *d, const void *rec, size_t len,
			     ingest_record_symbols_fn sym_fn, ingest_record_ids_fn fn, void *ctx,
			     ts_err *err)
{
	sinks k = {.symfn = sym_fn, .ifn = fn, .ctx = ctx};
	return decode(d, rec, len, &k, err);
}
