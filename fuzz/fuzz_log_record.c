/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_log_record.c: libFuzzer target for the log record decoder (ingest/record.c).
 *
 * The first input byte selects the mode:
 *   bit 0 clear - the rest is a whole record, decoded as is (header, CRC and all).
 *   bit 0 set   - the rest is u32le n_samples followed by a payload; the target wraps it
 *                 in a valid header with a correct CRC (bit 1 picks the snappy flag), so
 *                 the fuzzer reaches the payload parser instead of dying at the CRC.
 * The sink checks the contract (labels sorted, unique, non-empty, __name__ present) and
 * feeds a record builder; a record that decodes must re-encode into one that decodes to
 * the same samples (same count and hash of labels, timestamps and value bits). The id
 * entry point (ingest_record_decode_ids) must return the same code and message and, on
 * success, the same samples (its ids resolved through the symbol table it hands out). Any
 * violation calls abort(). Inputs are capped at 1 MiB.
 */
#include "ingest/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT (1u << 20)

typedef struct fuzz_sink {
	uint64_t hash;            /* FNV-1a over every sample */
	size_t n;                 /* samples seen */
	ingest_record_builder *b; /* re-encoder, NULL when not re-encoding */
	bool b_full;              /* the builder refused a sample (TS_ELIMIT) */
} fuzz_sink;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

static int sink(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	fuzz_sink *s = ctx;
	bool has_name = false;
	check(n > 0);
	for (size_t i = 0; i < n; i++) {
		check(l[i].name[0] != '\0' && l[i].value[0] != '\0');
		if (i > 0)
			check(strcmp(l[i - 1].name, l[i].name) < 0);
		has_name |= strcmp(l[i].name, TS_METRIC_NAME) == 0;
		s->hash = fnv(s->hash, l[i].name, strlen(l[i].name) + 1);
		s->hash = fnv(s->hash, l[i].value, strlen(l[i].value) + 1);
	}
	check(has_name);
	s->hash = fnv(s->hash, &t_ms, sizeof(t_ms));
	s->hash = fnv(s->hash, &v, sizeof(v));
	s->n++;
	if (s->b && !s->b_full) {
		int rc = ingest_record_builder_sink(s->b, l, n, t_ms, v);
		if (rc == TS_ELIMIT || rc == TS_ENOMEM)
			s->b_full = true;
		else
			check(rc == TS_OK);
	}
	return TS_OK;
}

/* State of the ids sinks: the record's symbol table and the same hash as sink(). */
typedef struct fuzz_ids {
	const char *const *syms;
	const uint32_t *lens;
	size_t n_syms;
	uint64_t hash;
	size_t n;
} fuzz_ids;

static int ids_symbols(void *ctx, const char *const *syms, const uint32_t *lens, size_t n_syms)
{
	fuzz_ids *x = ctx;
	for (size_t i = 0; i < n_syms; i++)
		check(lens[i] > 0 && memchr(syms[i], 0, lens[i]) == NULL);
	x->syms = syms;
	x->lens = lens;
	x->n_syms = n_syms;
	return TS_OK;
}

static int ids_entry(void *ctx, const uint32_t *ids, size_t n_labels, const int64_t *t_ms,
		     const double *v, size_t n)
{
	fuzz_ids *x = ctx;
	static const uint8_t nul = 0;
	check(n_labels > 0 && n > 0);
	for (size_t i = 0; i < 2 * n_labels; i++)
		check(ids[i] < x->n_syms);
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < 2 * n_labels; i++) {
			x->hash = fnv(x->hash, x->syms[ids[i]], x->lens[ids[i]]);
			x->hash = fnv(x->hash, &nul, 1);
		}
		x->hash = fnv(x->hash, &t_ms[k], sizeof(t_ms[k]));
		x->hash = fnv(x->hash, &v[k], sizeof(v[k]));
		x->n++;
	}
	return TS_OK;
}

static void run(ingest_record_decoder *d, const uint8_t *rec, size_t len, int compression)
{
	fuzz_sink s = {0xcbf29ce484222325ull, 0, NULL, false};
	if (ingest_record_builder_new(compression, 0, &s.b, NULL) != TS_OK)
		return;
	ts_err err = {0};
	int rc = ingest_record_decode(d, rec, len, sink, &s, &err);
	check(rc == TS_OK || rc == TS_ECORRUPT || rc == TS_ENOMEM);
	check(rc == TS_OK || err.msg[0] != '\0');
	fuzz_ids x = {.hash = 0xcbf29ce484222325ull};
	ts_err err2 = {0};
	int rc2 = ingest_record_decode_ids(d, rec, len, ids_symbols, ids_entry, &x, &err2);
	if (rc != TS_ENOMEM && rc2 != TS_ENOMEM) {
		check(rc2 == rc && strcmp(err.msg, err2.msg) == 0);
		check(rc != TS_OK || (x.n == s.n && x.hash == s.hash));
	}
	if (rc == TS_OK && s.n > 0 && !s.b_full) {
		ts_buf out;
		ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
		rc = ingest_record_builder_finish(s.b, &out, NULL);
		if (rc == TS_OK) {
			fuzz_sink again = {0xcbf29ce484222325ull, 0, NULL, false};
			check(ingest_record_decode(d, out.data, out.len, sink, &again, NULL) ==
			      TS_OK);
			check(again.n == s.n && again.hash == s.hash);
		} else {
			check(rc == TS_ENOMEM || rc == TS_ELIMIT);
		}
		ts_buf_free(&out);
	}
	ingest_record_builder_free(s.b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	ingest_record_decoder *d;
	if (ingest_record_decoder_new(&d, NULL) != TS_OK)
		return 0;
	if (!(mode & 1)) {
		run(d, data, size, mode & 2 ? INGEST_RECORD_COMPRESS_SNAPPY : 0);
	} else if (size >= 4) {
		size_t plen = size - 4;
		uint8_t *rec = malloc(INGEST_RECORD_HEADER_BYTES + plen);
		if (rec) {
			int flags = mode & 2 ? INGEST_RECORD_COMPRESS_SNAPPY : 0;
			memcpy(rec, INGEST_RECORD_MAGIC, 4);
			rec[4] = INGEST_RECORD_VERSION;
			rec[5] = (uint8_t)flags;
			rec[6] = rec[7] = 0;
			ts_put_u32le(rec + 8, (uint32_t)plen);
			memcpy(rec + 12, data, 4);
			memcpy(rec + INGEST_RECORD_HEADER_BYTES, data + 4, plen);
			uint32_t crc = ts_crc32c(0, rec, 16);
			crc = ts_crc32c(crc, rec + INGEST_RECORD_HEADER_BYTES, plen);
			ts_put_u32le(rec + 16, crc);
			run(d, rec, INGEST_RECORD_HEADER_BYTES + plen, flags);
			free(rec);
		}
	}
	ingest_record_decoder_free(d);
	return 0;
}
