/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index.h: the block index: building its sections, parsing and querying them.
 *
 * Internal to tsdb/ (and its tests, fuzzers and benchmarks). The index file of a block
 * holds five sections (layout in docs/formats/block.md section 5): SYMBOLS, TCOLS,
 * SERIES, LABELS, POSTINGS. The writer (tsdb_ixw, used by block_write.c) collects
 * series in label order and encodes the sections; the reader (tsdb_index_parse, used
 * by block_read.c) verifies them completely and fills the lookup tables of a
 * tsdb_block; the query functions (tsdb_block_select, tsdb_block_series, ...) are
 * declared in block.h.
 */
#ifndef TSDB_INDEX_H
#define TSDB_INDEX_H

#include "tsdb/block.h"

typedef struct tsdb_ixw tsdb_ixw;

/* Sections in file order. */
enum {
	TSDB_IX_SYMBOLS,
	TSDB_IX_TCOLS,
	TSDB_IX_SERIES,
	TSDB_IX_LABELS,
	TSDB_IX_POSTINGS,
	TSDB_IX_N
};

/* A new, empty index writer (*out owned; tsdb_ixw_free). TS_OK or TS_ENOMEM. */
int tsdb_ixw_new(tsdb_ixw **out, ts_err *err);
void tsdb_ixw_free(tsdb_ixw *x);

/*
 * TS_OK if labels (borrowed) may be the next series: at least one label, names strictly
 * increasing, and the set strictly after the previous series'. TS_EINVAL otherwise.
 */
int tsdb_ixw_check(const tsdb_ixw *x, const ts_label *labels, size_t n, ts_err *err);

/*
 * Add the next series (checked with tsdb_ixw_check first) with its parts (copied).
 * Strings are copied. TS_OK, TS_ENOMEM, TS_ELIMIT (2^32 series).
 */
int tsdb_ixw_add(tsdb_ixw *x, const ts_label *labels, size_t n, const tsdb_block_part *parts,
		 size_t n_parts, ts_err *err);
uint64_t tsdb_ixw_n_series(const tsdb_ixw *x);

/*
 * Encode the five sections into out[TSDB_IX_*] (initialized here; the caller frees them
 * with ts_buf_free), with the timestamp column table tcols[0..n_tcols). TS_OK, TS_ENOMEM.
 */
int tsdb_ixw_encode(tsdb_ixw *x, const tsdb_block_tcol *tcols, size_t n_tcols,
		    ts_buf out[TSDB_IX_N], ts_err *err);

/*
 * Parse and verify the index sections of fi into b (which must already have meta,
 * data and data_len set). TS_OK, TS_ECORRUPT (what failed), TS_ENOMEM. On error the
 * caller frees b's tables (block_free).
 */
int tsdb_index_parse(tsdb_block *b, const tsdb_sfile *fi, ts_err *err);

#endif /* TSDB_INDEX_H */
