/* SPDX-License-Identifier: Apache-2.0 */
/*
 * block.h: persistent, immutable, time-bounded blocks: writer, reader, index.
 *
 * Internal to tsdb/ (and its tests, fuzzers and benchmarks). A block is a directory
 * <dir>/blocks/<ULID>/ holding three section files (sfile.h), byte layout in
 * docs/formats/block.md:
 *
 *   meta     META: tier, aligned range [mint, maxt] (inclusive), data range, counts, ULID,
 *            per-partition log offsets covered
 *   index    SYMBOLS (sorted strings), TCOLS (timestamp column table), SERIES (labels
 *            as symbol refs + parts), LABELS (name -> values -> postings ref), POSTINGS
 *            (series-id lists); sections snappy-compressed when that saves >= 1/8
 *   chunks   DATA: timestamp columns and value columns (colenc.h), never compressed
 *
 * Columnar layout: the series of one block that share the exact same timestamps (one
 * scrape, one line-protocol line) refer to one timestamp column; each series stores a
 * value column only. A series part is (timestamp column, first index, count) plus its
 * value column(s); a series with timestamps nobody shares gets a column of its own.
 * Parts hold at most TSDB_BLOCK_PART_MAX samples so a read of a short range decodes
 * little. Every part carries a list of (kind, column): the raw tier has one column
 * of kind TSDB_COL_RAW; 1m/1h blocks (downsample.c) hold the rollup columns
 * (count, sum, min, max, last, counter, first, first/last times, resets) under one
 * timestamp column of bucket ends, and meta.tier says which tier a block is.
 *
 * Writing (tsdb_bw_*): two passes over the series. Pass 1 (scan) hashes every
 * series' timestamps (128-bit); a sequence seen twice becomes a shared column, written
 * at once. Pass 2 (add, in label order) writes value columns and own timestamp
 * columns, streaming into the chunks file; index and meta are written at finish, then
 * the temporary directory is fsync'd and renamed, and the parent fsync'd.
 *
 * Reading (tsdb_block_*): open maps index and chunks read-only and verifies every
 * section's CRC and the whole index structure (index.c) before anything uses it (so a
 * corrupt block is refused at open and quarantined by db.c); decoders still check
 * every read. Index building and parsing live in index.c (index.h); the selection and
 * series functions below are implemented there.
 */
#ifndef TSDB_BLOCK_H
#define TSDB_BLOCK_H

#include "tsdb/tsdb_int.h"

#include "tsdb/sfile.h"

#define TSDB_BLOCK_MAGIC_META   0x4D425453u /* "STBM" */
#define TSDB_BLOCK_MAGIC_INDEX  0x49425453u /* "STBI" */
#define TSDB_BLOCK_MAGIC_CHUNKS 0x43425453u /* "STBC" */

/* Sections of the meta file: META; SOURCES (compaction, rebuilt tier units); BUILT (1m/1h
 * blocks: what the rows were built from, downsample.c). */
enum { TSDB_SEC_META = 1, TSDB_SEC_SOURCES = 2, TSDB_SEC_BUILT = 3 };
enum {
	TSDB_SEC_SYMBOLS = 1,
	TSDB_SEC_TCOLS = 2,
	TSDB_SEC_SERIES = 3,
	TSDB_SEC_LABELS = 4,
	TSDB_SEC_POSTINGS = 5,
};
enum { TSDB_SEC_DATA = 1 };

/* Tiers (TSDB_TIER_RAW, _1M, _1H) are public: tsdb.h. */
/*
 * Column kinds of a part (docs/formats/block.md section 5.3). A raw block's parts hold
 * one TSDB_COL_RAW column; a 1m/1h block's parts hold every rollup kind 1..10 over
 * timestamps that are bucket ends (downsample.c). Unknown kinds are skipped on read.
 */
enum {
	TSDB_COL_RAW = 0,
	TSDB_COL_COUNT = 1,   /* samples in the bucket (stale markers excluded) */
	TSDB_COL_SUM = 2,     /* their sum */
	TSDB_COL_MIN = 3,     /* minimum (PromQL min_over_time rule for NaN) */
	TSDB_COL_MAX = 4,     /* maximum (max_over_time rule) */
	TSDB_COL_LAST = 5,    /* value of the last sample */
	TSDB_COL_COUNTER = 6, /* running reset-adjusted counter at the last sample */
	TSDB_COL_FIRST = 7,   /* value of the first sample */
	TSDB_COL_FIRST_T = 8, /* first sample time - bucket start, ms */
	TSDB_COL_LAST_T = 9,  /* last sample time - bucket start, ms */
	TSDB_COL_RESETS = 10, /* sum of the values before each drop inside the bucket */
	TSDB_COL_N = 11
};

#define TSDB_BLOCK_PART_MAX  8192 /* samples per series part */
#define TSDB_BLOCK_META_BASE 96   /* fixed bytes of the META section */
#define TSDB_ULID_LEN        26
#define TSDB_MAX_SOURCES     4096 /* ULIDs one meta may list as compaction sources */

typedef struct tsdb_block_meta {
	uint8_t ulid[16];
	char name[TSDB_ULID_LEN + 1]; /* the ULID as text (directory name) */
	uint8_t tier;
	int64_t range_mint, range_maxt; /* aligned range, both inclusive */
	int64_t data_mint, data_maxt;   /* samples' range, inclusive */
	uint64_t n_series, n_samples, n_tcols, resolution_ms, created_ms;
	uint32_t n_offsets;
	uint64_t *offsets;      /* owned; per partition: one past the last covered offset */
	uint32_t n_sources;     /* blocks this one replaces (compaction), <= TSDB_MAX_SOURCES */
	uint8_t (*sources)[16]; /* owned: their ULIDs (meta section SOURCES), or NULL */
	/* 1m/1h blocks (meta section BUILT, downsample.c): the source samples the rows
	 * summarize (sum of the count column) and the source-tier blocks overlapping the
	 * range when it was built. has_built false: no BUILT section (older blocks). */
	bool has_built;
	uint64_t n_built_samples;
	uint32_t n_built;
	uint8_t (*built)[16]; /* owned ULIDs, or NULL */
} tsdb_block_meta;

typedef struct tsdb_block_tcol {
	uint64_t off, len;  /* in DATA */
	uint32_t n;         /* timestamps */
	int64_t mint, maxt; /* first and last */
} tsdb_block_tcol;

typedef struct tsdb_block_part {
	uint32_t tcol, start, n; /* timestamps tcol[start, start + n) */
	int64_t mint, maxt;      /* first and last of them */
	uint64_t off, len;       /* raw value column in DATA (len 0: none, rollup part) */
	/* Rollup columns by kind (index TSDB_COL_COUNT .. TSDB_COL_RESETS; [0] unused):
	 * offset and length in DATA, length 0 when absent. */
	uint64_t roff[TSDB_COL_N], rlen[TSDB_COL_N];
} tsdb_block_part;

typedef struct tsdb_block_lval {
	uint32_t value_sym;
	uint32_t count; /* ids in the postings list */
	uint64_t off;   /* of the list in POSTINGS */
} tsdb_block_lval;

typedef struct tsdb_block_lname {
	uint32_t name_sym;
	uint32_t n_vals;
	tsdb_block_lval *vals; /* points into block->vals */
} tsdb_block_lname;

struct tsdb_block {
	_Atomic uint32_t refs; /* block sets + users */
	char *dir;             /* owned path of the block directory, NULL for open_mem */
	tsdb_block_meta meta;
	uint64_t size_bytes; /* bytes of its files */
	tsdb_sfile fi, fc;   /* index and chunks files (mapped) */
	const char **syms;   /* symbol strings (NUL-terminated, in fi) */
	uint32_t n_syms;
	tsdb_block_tcol *tcols;
	uint32_t n_tcols;
	const uint8_t *ser; /* SERIES section */
	size_t ser_len;
	uint64_t *ser_off; /* offset of each series entry in ser */
	uint32_t n_series;
	tsdb_block_lname *names;
	uint32_t n_names;
	tsdb_block_lval *vals;
	const uint8_t *post; /* POSTINGS section */
	size_t post_len;
	const uint8_t *data; /* DATA section */
	size_t data_len;
	_Atomic bool is_bad; /* a read found corruption: quarantine when released */
	bool is_removed;     /* db.c: drop the directory when the last reference goes */
	/* 1m/1h blocks (downsample.c): signature of a source block set that was verified
	 * to hold no samples the rows miss (0: none verified); a cache, not persisted. */
	_Atomic uint64_t fresh_sig;
	_Atomic uint64_t stale_sig; /* the same for a set found to hold late samples */
};

/* An immutable set of blocks, sorted by range then ULID (db.c). */
struct tsdb_blockset {
	_Atomic uint32_t refs;
	size_t n;
	tsdb_block *b[];
};

/* ------------------------------------------------------------- tier freshness */

/*
 * Whether the 1m/1h block b's rows still summarize all source data in its range
 * (downsample.c): true for raw blocks and blocks without a BUILT section; else every
 * source-tier block of bs (borrowed) overlapping its range is one it was built from, or
 * this source set was verified (by a downsampling pass, or carried across a compaction)
 * to add no samples; for 1h, the same holds for the 1m blocks below it. False means
 * late samples may be missing (a rebuild is pending): read the tier below instead.
 * Thread-safe (reads immutable sets and an atomic cache).
 */
bool tsdb_tier_block_fresh(const tsdb_blockset *bs, const tsdb_block *b);
/*
 * Compaction (compact.c): cur replaced some blocks of old by their merge, which holds the
 * same samples: every tier block kept from old that was fresh there is fresh in cur, and
 * so is a merged tier block whose sources all were.
 */
void tsdb_tier_carry_fresh(const tsdb_blockset *old, const tsdb_blockset *cur);

/* ------------------------------------------------------------------- writer */

typedef struct tsdb_bw tsdb_bw;

/*
 * Start a block for [range_mint, range_maxt] (inclusive) in blocks_dir (borrowed): creates
 * blocks_dir/<ULID>.tmp/. *out returned owned (tsdb_bw_free). TS_OK, TS_EIO, TS_ENOMEM.
 */
int tsdb_bw_new(const char *blocks_dir, int64_t range_mint, int64_t range_maxt, tsdb_bw **out,
		ts_err *err);
/* Pass 1: note one series' timestamps (n >= 1, strictly increasing). */
int tsdb_bw_scan(tsdb_bw *w, const int64_t *t, size_t n, ts_err *err);
/*
 * Pass 2: add one series (labels sorted, borrowed; series in strictly increasing label
 * order across calls) with n >= 1 samples inside the range. TS_EINVAL on order or range
 * violations.
 */
int tsdb_bw_add(tsdb_bw *w, const ts_label *labels, size_t n_labels, const int64_t *t,
		const double *v, size_t n, ts_err *err);
/*
 * Pass 2 for a 1m/1h block (tsdb_bw_set_origin with the tier first): add one series
 * with n >= 1 rollup rows at bucket-end timestamps t (scanned in pass 1 like raw
 * timestamps); cols[k] (k = TSDB_COL_COUNT .. TSDB_COL_RESETS) holds n values of kind k
 * (cols[0] unused). Same order and range rules as tsdb_bw_add.
 */
int tsdb_bw_add_rollup(tsdb_bw *w, const ts_label *labels, size_t n_labels, const int64_t *t,
		       const double *const cols[TSDB_COL_N], size_t n, ts_err *err);
/* Series added so far. */
uint64_t tsdb_bw_n_series(const tsdb_bw *w);
/*
 * 1m/1h blocks (downsample.c, compact.c): write a BUILT meta section recording that the
 * rows summarize n_samples source samples read from the blocks ulids[0..n) (copied).
 * TS_OK, TS_EINVAL (more than TSDB_MAX_SOURCES), TS_ENOMEM.
 */
int tsdb_bw_set_built(tsdb_bw *w, uint64_t n_samples, const uint8_t (*ulids)[16], size_t n,
		      ts_err *err);
/*
 * Compaction (compact.c): write meta with this tier and resolution instead of raw, and
 * a SOURCES section listing the ULIDs (copied) of the blocks the new one replaces.
 * TS_OK, TS_EINVAL (more than TSDB_MAX_SOURCES), TS_ENOMEM.
 */
int tsdb_bw_set_origin(tsdb_bw *w, uint8_t tier, uint64_t resolution_ms,
		       const uint8_t (*sources)[16], size_t n_sources, ts_err *err);
/*
 * Write index and meta (with offsets[0..n_offsets), may be NULL), fsync, rename to
 * blocks_dir/<ULID>, fsync blocks_dir. *path receives the final directory (owned).
 * TS_OK, TS_EIO, TS_ENOSPC, TS_ENOMEM. After an error call tsdb_bw_free (removes the
 * temporary directory).
 */
int tsdb_bw_finish(tsdb_bw *w, const uint64_t *offsets, uint32_t n_offsets, char **path,
		   ts_err *err);
/* Free; an unfinished block's temporary directory is removed. NULL allowed. */
void tsdb_bw_free(tsdb_bw *w);

/* ------------------------------------------------------------------- reader */

/*
 * Open and verify the block in directory path (borrowed). *out has one reference.
 * TS_OK, TS_EIO, TS_ECORRUPT (message says which file and check), TS_ENOMEM.
 */
int tsdb_block_open(const char *path, tsdb_block **out, ts_err *err);
/* The same over the three files' bytes (borrowed; must outlive the block). */
int tsdb_block_open_mem(const uint8_t *meta, size_t meta_len, const uint8_t *index,
			size_t index_len, const uint8_t *chunks, size_t chunks_len,
			tsdb_block **out, ts_err *err);
void tsdb_block_acquire(tsdb_block *b);
/* Drop a reference; the last one unmaps (and quarantines or deletes if flagged). */
void tsdb_block_release(tsdb_block *b);

/* Move <root>/blocks/<name> to <root>/quarantine/<name>. TS_OK, TS_EIO, TS_ENOMEM. */
int tsdb_block_quarantine(const char *block_dir, ts_err *err);

/* Parse a META section (tests and tools). meta->offsets is owned. */
int tsdb_block_meta_parse(const uint8_t *p, size_t len, tsdb_block_meta *meta, ts_err *err);
void tsdb_block_meta_free(tsdb_block_meta *meta);

/* Postings selection over the block's index (ids sorted). */
int tsdb_block_select(tsdb_block *b, const ts_matcher *ms, size_t n_ms, tsdb_plist *out,
		      ts_err *err);
/*
 * Call fn for every label name (name NULL) or every value of label `name` in the
 * block's label index (strings borrowed from the block). Stops at fn's first non-zero
 * return and returns it.
 */
int tsdb_block_labels_each(tsdb_block *b, const char *name, int (*fn)(void *arg, const char *s),
			   void *arg);
/*
 * As tsdb_block_labels_each, for a block only partly inside [mint, maxt]: only names or
 * values of series with a part overlapping the range, found through the postings lists
 * (one series in range per value suffices; parts are decoded, labels are not). TS_OK,
 * TS_ECORRUPT, TS_ENOMEM or fn's first non-zero return.
 */
int tsdb_block_labels_in_range(tsdb_block *b, const char *name, int64_t mint, int64_t maxt,
			       int (*fn)(void *arg, const char *s), void *arg, ts_err *err);
/* Exact lookup by label set: TS_OK with *id, TS_ENOTFOUND, TS_ECORRUPT. */
int tsdb_block_lookup(tsdb_block *b, const ts_label *labels, size_t n, uint32_t *id, ts_err *err);
/*
 * Decode series id: labels (strings borrowed from the block) and parts, both owned
 * arrays (ts_free). Either output may be NULL to skip it. TS_OK, TS_ECORRUPT, TS_ENOMEM.
 */
int tsdb_block_series(tsdb_block *b, uint32_t id, ts_label **labels, size_t *n_labels,
		      tsdb_block_part **parts, size_t *n_parts, ts_err *err);
/* Decode timestamp column i into t[0..tcols[i].n). TS_OK or TS_ECORRUPT. */
int tsdb_block_tcol_read(tsdb_block *b, uint32_t i, int64_t *t, ts_err *err);
/*
 * Append the part's samples in [mint, maxt] to out. tcol_ts is the decoded timestamp
 * column of the part (NULL: decoded here). TS_OK, TS_ECORRUPT, TS_ENOMEM.
 */
int tsdb_block_read_part(tsdb_block *b, const tsdb_block_part *p, const int64_t *tcol_ts,
			 int64_t mint, int64_t maxt, tsdb_samples *out, ts_err *err);
/*
 * Decode rollup column `kind` of a rollup part into v[0..p->n). TS_OK, TS_ECORRUPT
 * (also when the part lacks the column; the block is marked bad).
 */
int tsdb_block_read_rollup_col(tsdb_block *b, const tsdb_block_part *p, int kind, double *v,
			       ts_err *err);
/* All samples of series id in [mint, maxt] (parts in order) appended to out. */
int tsdb_block_read_series(tsdb_block *b, uint32_t id, int64_t mint, int64_t maxt,
			   tsdb_samples *out, ts_err *err);

/* Fill out with 16 ULID bytes for time ms (random part from getrandom) and its text. */
void tsdb_ulid_new(int64_t ms, uint8_t out[16], char text[TSDB_ULID_LEN + 1]);

#endif /* TSDB_BLOCK_H */
