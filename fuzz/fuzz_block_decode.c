/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_block_decode.c: open a block from arbitrary bytes and read everything in it; it
 * must fail cleanly (TS_ECORRUPT and friends), never crash, leak or read outside the
 * input (each file is copied into a buffer of exactly its size, so ASan sees any
 * over-read).
 *
 * Input (at most 256 KiB): u32 LE meta length, u32 LE index length, the meta file, the
 * index file, then the chunks file (the rest). When the top bit of the meta length is
 * set, the harness first recomputes every section and table-of-contents CRC it can
 * find, so mutations reach the index and column decoders instead of failing the CRC
 * check (the seeds in fuzz/corpus/block_decode/ are real blocks written by the block
 * writer, with and without that bit, and damaged copies). Checked beyond "no crash":
 * a block that opens selects, decodes every series
 * (labels, parts, samples strictly increasing inside each part's bounds), finds each
 * series again by exact label lookup, and reads every timestamp column.
 */
#include "tsdb/block.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (256 * 1024)

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_block_decode: %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                                       \
			abort();                                                              \
		}                                                                             \
	} while (0)

static uint8_t *copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (c && n)
		memcpy(c, p, n);
	return c;
}

static void exercise(tsdb_block *b)
{
	ts_matcher m;
	tsdb_plist ids = {0};
	if (ts_matcher_init(&m, TS_MATCH_RE, "__name__", ".*", NULL) != TS_OK)
		return;
	int rc = tsdb_block_select(b, &m, 1, &ids, NULL);
	CHECK(rc == TS_OK || rc == TS_ECORRUPT || rc == TS_ENOMEM);
	for (size_t i = 0; rc == TS_OK && i < ids.n; i++) {
		ts_label *labels = NULL;
		tsdb_block_part *parts = NULL;
		size_t nl = 0, np = 0;
		CHECK(ids.ids[i] < b->n_series);
		if (tsdb_block_series(b, ids.ids[i], &labels, &nl, &parts, &np, NULL) != TS_OK)
			continue;
		for (size_t k = 0; k < np; k++) {
			tsdb_samples s = {0};
			if (tsdb_block_read_part(b, &parts[k], NULL, INT64_MIN, INT64_MAX, &s,
						 NULL) == TS_OK) {
				CHECK(s.n == parts[k].n);
				for (size_t j = 0; j < s.n; j++) {
					CHECK(s.t[j] >= parts[k].mint && s.t[j] <= parts[k].maxt);
					CHECK(j == 0 || s.t[j] > s.t[j - 1]);
				}
			}
			tsdb_samples_free(&s);
		}
		uint32_t id;
		rc = tsdb_block_lookup(b, labels, nl, &id, NULL);
		CHECK(rc == TS_OK || rc == TS_ECORRUPT || rc == TS_ENOMEM || rc == TS_ENOTFOUND);
		rc = TS_OK;
		ts_free(labels);
		ts_free(parts);
	}
	for (uint32_t i = 0; i < b->n_tcols && i < 64; i++) {
		int64_t *t = malloc(b->tcols[i].n * sizeof(*t));
		if (t) {
			int r = tsdb_block_tcol_read(b, i, t, NULL);
			CHECK(r == TS_OK || r == TS_ECORRUPT);
		}
		free(t);
	}
	tsdb_plist_free(&ids);
	ts_matcher_fini(&m);
}

/* Recompute the CRCs of a section file in place (when its footer and toc parse). */
static void fix_crcs(uint8_t *f, size_t n)
{
	if (n < TSDB_SFILE_HEADER + 4 + TSDB_SFILE_FOOTER)
		return;
	uint64_t toc = ts_get_u64le(f + n - TSDB_SFILE_FOOTER);
	size_t toc_end = n - TSDB_SFILE_FOOTER;
	if (toc < TSDB_SFILE_HEADER || toc > toc_end - 4)
		return;
	uint32_t k = ts_get_u32le(f + toc);
	if (k > TSDB_SFILE_MAX_SECS || toc_end - toc - 4 != (uint64_t)k * TSDB_SFILE_TOC_ENTRY)
		return;
	for (uint32_t i = 0; i < k; i++) {
		uint8_t *e = f + toc + 4 + (size_t)i * TSDB_SFILE_TOC_ENTRY;
		uint64_t off = ts_get_u64le(e + 8), len = ts_get_u64le(e + 16);
		if (off >= TSDB_SFILE_HEADER && off <= toc && len <= toc - off)
			ts_put_u32le(e + 32, ts_crc32c(0, f + off, (size_t)len));
	}
	ts_put_u32le(f + n - TSDB_SFILE_FOOTER + 8, ts_crc32c(0, f + toc, toc_end - toc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8 || size > MAX_INPUT)
		return 0;
	uint32_t lm32 = ts_get_u32le(data);
	bool is_fix = lm32 & 0x80000000u;
	size_t lm = lm32 & 0x7FFFFFFFu, li = ts_get_u32le(data + 4);
	if (lm > size - 8 || li > size - 8 - lm)
		return 0;
	const uint8_t *p = data + 8;
	uint8_t *meta = copy(p, lm), *index = copy(p + lm, li);
	size_t lc = size - 8 - lm - li;
	uint8_t *chunks = copy(p + lm + li, lc);
	if (meta && index && chunks) {
		if (is_fix) {
			fix_crcs(meta, lm);
			fix_crcs(index, li);
			fix_crcs(chunks, lc);
		}
		tsdb_block *b = NULL;
		ts_err err = {0};
		int rc = tsdb_block_open_mem(meta, lm, index, li, chunks, lc, &b, &err);
		CHECK(rc == TS_OK || rc == TS_ECORRUPT || rc == TS_ENOMEM);
		CHECK(rc == TS_OK || err.code == rc);
		if (rc == TS_OK) {
			exercise(b);
			tsdb_block_release(b);
		}
	}
	free(meta);
	free(index);
	free(chunks);
	return 0;
}
