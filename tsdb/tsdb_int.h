/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsdb_int.h: internal structures of the storage engine, shared by tsdb/ files and
 * their tests, fuzzers and benchmarks only.
 *
 * Parts: the head (head.c registry and series lifetime, head_append.c appends and the
 * out-of-order buffer, head_read.c snapshots), the head's inverted index and postings
 * algebra (postings.c), blocks (block.h), cuts and offsets (cut.c), the store
 * (db.c) and queriers (querier.c).
 *
 * ------------------------------------------------------------------------------------
 * Locking and publication (STYLE 7). Lock order, outermost first:
 *     db->cut_lock  >  stripe->lock  >  db->index_lock  >  series->lock
 * (db->blocks_lock, part->lock, db->bg_lock are leaves: nothing is taken under them.)
 *
 * - Registry stripes (stripe->lock, rwlock): the hash chains of 64 stripes, chosen by
 *   hash % 64. Appends take their stripe shared to look a series up (and acquire a
 *   reference), exclusive only to insert or remove one. Since a series' partition is
 *   hash % P (DESIGN.md), the consumers of different partitions never share a stripe
 *   when P divides 64. Per-sample counters are sharded into the stripes too, and an
 *   append call adds its totals once (head_append.c, tally_flush).
 * - db->index_lock (rwlock) guards db->idx: the postings lists, by_id and every
 *   series' id. Taken shared by selection, exclusive when a series is indexed, and by
 *   the cut's garbage collection (ids are renumbered densely there).
 * - series->lock (mutex) guards everything a series holds: sealed chunk array, open
 *   chunk and its write state, out-of-order buffer, last/newest timestamps, is_dead,
 *   generations. The appender holds it for one append (about 50 ns); a reader holds it
 *   only to take a snapshot: it acquires a reference on each sealed chunk and on the
 *   open chunk, loads the open chunk's publication word and copies the (small, at most
 *   TSDB_OOO_MAX) out-of-order buffer. It then decodes without any lock.
 * - The open chunk is read while it is being appended to: after every append the
 *   appender stores tsdb_chunk_published() into series->published with a release
 *   store; a snapshot decodes exactly that many samples with
 *   tsdb_chunk_iter_init_snapshot(). Appending never changes a published bit (chunk.h),
 *   so the reader needs no lock while decoding and never blocks the appender.
 * - Chunk buffers (tsdb_hchunk) are reference counted: a series holds one reference on
 *   each chunk it lists, snapshots hold theirs. Growing the open buffer, sealing (a copy
 *   to an exact-size buffer), rechunking out-of-order samples and dropping chunks after
 *   a cut all replace pointers under series->lock and release the old buffers, which
 *   die when the last snapshot lets go. Bits inside a buffer never change once
 *   published, so a reader on an old buffer reads a consistent prefix.
 * - Series objects are reference counted: the registry holds one; each appender holds
 *   one for the duration of an append, each querier one per series it returned. GC
 *   marks a series dead (under its lock, only if it is empty), unlinks it from the
 *   registry and the index, then drops the registry reference. An appender that finds
 *   its series dead retries the lookup (which creates a fresh series).
 * - Blocks: db->blocks is an immutable, reference-counted tsdb_blockset swapped under
 *   db->blocks_lock (RCU-like). A querier acquires the current set when it opens. A cut
 *   publishes a new set, then waits until no querier holds the previous set before it
 *   drops the written samples from the head, so every open querier sees each sample in
 *   the head, in a block of its set, or in both (merged without duplicates). Every
 *   publisher holds cut_lock and waits the same way, so only the newest two sets can
 *   have readers. (Hence a thread holding a querier must not call tsdb_flush.)
 *
 * ------------------------------------------------------------------------------------
 * Head invariants (per series):
 * - Sealed chunks then the open chunk hold strictly increasing timestamps, each chunk
 *   inside one block-aligned range [k*D, (k+1)*D) (D = block_duration_ms), so a cut at
 *   a range boundary never splits a chunk.
 * - The out-of-order buffer holds at most TSDB_OOO_MAX samples, sorted, none at a
 *   timestamp present in a chunk; reads merge it. While it is not empty, in-order
 *   samples are buffered too (head_append.c). When it fills, its samples newer than
 *   every chunk sample but the newest TSDB_OOO_TAIL are encoded into the open chunk
 *   (all of them after TSDB_OOO_CALM fills in a row with no sample arriving behind,
 *   has_behind and calm_fills, if none is older than the chunks' newest: the emptied
 *   buffer is freed); if it is still full, the chunks it
 * overlaps are rewritten with it merged in (rechunk; gen is bumped). ooo_gen is bumped when a
 *   buffered sample moves.
 * - newest_t is the newest timestamp ever accepted; it survives cuts, so the
 *   out-of-order window keeps working after the head dropped the samples (until a
 *   partial cut removes a series left empty).
 */
#ifndef TSDB_TSDB_INT_H
#define TSDB_TSDB_INT_H

#include "tsdb/tsdb.h"

#include "tsdb/chunk.h"

#include <pthread.h>
#include <stdatomic.h>

#define TSDB_STRIPES        64         /* registry stripes (power of two) */
#define TSDB_OOO_MAX        64         /* out-of-order buffer size before a rechunk */
#define TSDB_OOO_TAIL       40         /* newest samples a full buffer keeps unencoded */
#define TSDB_OOO_CALM       8          /* calm fills before the buffer drains (head_append.c) */
#define TSDB_HCHUNK_INIT    64         /* first open-chunk buffer, bytes */
#define TSDB_OFFMARKS       128        /* offset marks kept per partition */
#define TSDB_MAX_SAMPLES_IO (1u << 30) /* samples one read may materialize */

/* ------------------------------------------------------------------- head chunks */

typedef struct tsdb_hchunk {
	_Atomic uint32_t refs; /* the listing series + snapshots */
	uint32_t cap;          /* bytes in data */
	uint32_t len;          /* sealed: chunk length in bytes; open: 0 */
	uint32_t n;            /* sealed: samples; open: 0 (use the publication word) */
	int64_t min_t;         /* first sample (open: valid once published n > 0) */
	int64_t max_t;         /* sealed: last sample; open: last ms of min_t's block range */
	uint8_t data[];        /* chunk bytes (chunk.h layout) */
} tsdb_hchunk;

/* ------------------------------------------------------------------- head series */

typedef struct tsdb_hseries tsdb_hseries;
struct tsdb_hseries {
	uint64_t hash;         /* ts_series_hash of labels; immutable */
	tsdb_hseries *next;    /* registry chain; guarded by its stripe lock */
	ts_label *labels;      /* sorted, interned strings; immutable */
	uint32_t n_labels;     /* immutable */
	uint32_t id;           /* dense id in db->idx; guarded by db->index_lock */
	_Atomic uint32_t refs; /* registry + appenders + queriers */
	bool is_indexed;       /* in db->idx; guarded by db->index_lock */
	pthread_mutex_t lock;  /* guards every field below */
	bool is_dead;          /* removed by GC: appenders must look up again */
	bool has_newest;       /* newest_t is set */
	bool has_behind;       /* a sample arrived behind newest_t since the last settle */
	uint8_t calm_fills;    /* settles in a row with has_behind clear (saturating) */
	tsdb_hchunk **sealed;  /* sealed chunks, oldest first */
	uint32_t n_sealed, cap_sealed;
	tsdb_hchunk *open;          /* chunk being appended to, or NULL */
	tsdb_chunk w;               /* write state of open */
	_Atomic uint64_t published; /* tsdb_chunk_published(&w), release-stored */
	int64_t *ooo_t;             /* out-of-order buffer, sorted */
	double *ooo_v;
	uint32_t n_ooo, cap_ooo;
	int64_t newest_t;     /* newest timestamp accepted (out-of-order window reference) */
	uint64_t gen;         /* bumped when chunks are rewritten (rechunk) */
	uint64_t ooo_gen;     /* bumped when a buffered sample moves (head_append.c) */
	ts_label label_mem[]; /* n_labels entries, labels points here; immutable */
};

/*
 * A registry stripe, padded so stripes do not share cache lines. The stripe of a series
 * is hash % TSDB_STRIPES: with a partition count that divides 64, the consumers of
 * different partitions (partition = hash % P) never share a stripe, its lock or its
 * counters. Per-sample counters live here (sharded) and are summed by tsdb_stats_get.
 */
typedef struct tsdb_stripe {
	union {
		struct {
			pthread_rwlock_t lock;  /* guards buckets, n_buckets, n */
			tsdb_hseries **buckets; /* chains by hash >> 6 */
			size_t n_buckets, n;
			_Atomic int64_t n_samples; /* samples in the head (GC subtracts) */
			_Atomic int64_t n_ooo;     /* samples in out-of-order buffers */
			_Atomic uint64_t appended, duplicates, rejected;
		};
		char pad[192];
	};
} tsdb_stripe;

/* ------------------------------------------------------------------- postings */

/* A sorted list of unique ids (series ids of the head or of a block). */
typedef struct tsdb_plist {
	uint32_t *ids; /* owned */
	size_t n, cap;
} tsdb_plist;

/* The head's postings of one label pair. */
typedef struct tsdb_hpost {
	uint64_t hash;            /* of name and value */
	const char *name, *value; /* interned */
	tsdb_plist ids;           /* head series ids, ascending */
	struct tsdb_hpost *next;  /* hash chain */
} tsdb_hpost;

/* All values of one label name in the head. */
typedef struct tsdb_hname {
	uint64_t hash;     /* of name */
	const char *name;  /* interned */
	tsdb_hpost **vals; /* unsorted */
	size_t n_vals, cap_vals;
	struct tsdb_hname *next; /* hash chain */
} tsdb_hname;

/* The head's inverted index; guarded by db->index_lock. */
typedef struct tsdb_hindex {
	tsdb_hpost **pairs; /* hash chains of label pairs */
	size_t n_pair_buckets, n_pairs;
	tsdb_hname **names; /* hash chains of names */
	size_t n_name_buckets, n_names;
	tsdb_hseries **by_id; /* id -> series (NULL after GC until renumbering) */
	size_t n_ids, cap_ids;
} tsdb_hindex;

/* Callbacks of an index (head or block) for the generic postings selection. */
typedef struct tsdb_pindex_ops {
	/* Replace out with the postings of name=value (empty if absent). */
	int (*eq)(void *ctx, const char *name, const char *value, tsdb_plist *out, ts_err *err);
	/* Replace out with the union of the postings of every value v of m->name for which
	 * ts_matcher_matches(m, v) == want. */
	int (*matching)(void *ctx, const ts_matcher *m, bool want, tsdb_plist *out, ts_err *err);
	/* Replace out with every id. */
	int (*all)(void *ctx, tsdb_plist *out, ts_err *err);
} tsdb_pindex_ops;

/* ------------------------------------------------------------------- partitions */

/* "Every sample of records before next had t <= max_t" (see cut.c). */
typedef struct tsdb_offmark {
	uint64_t next;   /* one past the newest offset covered */
	int64_t max_t;   /* bound on those records' sample timestamps */
	int64_t start_t; /* head max_t when the mark was started (coarsening granule) */
} tsdb_offmark;

typedef struct tsdb_part {
	pthread_mutex_t lock;              /* guards marks, first, n_marks */
	_Atomic uint64_t applied;          /* one past the last applied offset (0 = none) */
	_Atomic uint64_t persisted;        /* one past the last persisted offset */
	tsdb_offmark marks[TSDB_OFFMARKS]; /* ring, oldest at first */
	uint32_t first, n_marks;
} tsdb_part;

/* ------------------------------------------------------------------- the store */

typedef struct tsdb_block tsdb_block;
typedef struct tsdb_blockset tsdb_blockset;
typedef struct tsdb_late tsdb_late;
typedef struct tsdb_tombset tsdb_tombset;

struct tsdb_db {
	tsdb_options opt; /* copy; opt.dir points to dir */
	char *dir;        /* owned copy of opt.dir, or NULL (memory only) */
	ts_intern *intern;
	tsdb_stripe stripes[TSDB_STRIPES];
	pthread_rwlock_t index_lock; /* guards idx */
	tsdb_hindex idx;
	/* Counters and gauges (relaxed atomics unless noted; per-sample ones are in stripes). */
	_Atomic uint64_t n_series;    /* live head series */
	_Atomic uint64_t head_bytes;  /* memory of head structures, chunks included */
	_Atomic uint64_t chunk_bytes; /* of which chunk buffers */
	_Atomic uint64_t n_chunks;    /* head chunk buffers (sealed + open) */
	_Atomic uint64_t rechunks, cuts, cut_errors, blocks_quarantined, block_dup_dropped;
	/* Tiers (downsample.c, querier.c): */
	_Atomic uint64_t downsampled[3];       /* rollup blocks written, by tier */
	_Atomic uint64_t downsample_errors;    /* failed downsampling passes */
	_Atomic uint64_t raw_parts_decoded;    /* raw block parts decoded by queriers */
	_Atomic uint64_t head_series_reads;    /* head series reads by queriers */
	_Atomic uint64_t rollup_parts_decoded; /* rollup block parts decoded by queriers */
	_Atomic int64_t min_t, max_t;          /* head range (min approximate after GC); max_t is
						* seq_cst: partition marks rely on it */
	tsdb_part *parts;                      /* opt.n_partitions entries */
	pthread_mutex_t blocks_lock;           /* guards the blocks pointer swap */
	tsdb_blockset *blocks;                 /* current set; never NULL */
	pthread_mutex_t cut_lock;              /* one cut at a time */
	pthread_mutex_t bg_lock;               /* guards stopping; with bg_cond */
	pthread_cond_t bg_cond;
	bool stopping;
	bool has_bg;
	pthread_t bg;
	/* Compaction, retention, cold directory (compact.c, retention.c): */
	char *cold_dir; /* owned copy of opt.cold_dir, or NULL */
	_Atomic uint64_t compactions, compaction_errors, retention_deleted, moved_cold;
	int64_t compact_pause_until_ms; /* after a failure the worker waits (bg thread only) */
	tsdb_late *late;                /* late-write tracking (late.c); set at open, immutable */
	/* Tombstones (tombstones.c): */
	pthread_mutex_t tomb_lock;       /* guards the tombs pointer swap (leaf) */
	tsdb_tombset *tombs;             /* current set, or NULL when none */
	pthread_mutex_t tomb_write_lock; /* one deletion or clean at a time (held over I/O) */
};

/* ------------------------------------------------------------------- head.c */

static inline tsdb_stripe *tsdb_stripe_of(tsdb_db *db, uint64_t hash)
{
	return &db->stripes[hash & (TSDB_STRIPES - 1)];
}

/* Head memory accounting (head_bytes). */
void *tsdb_hmem_alloc(tsdb_db *db, size_t size);
void *tsdb_hmem_calloc(tsdb_db *db, size_t n, size_t size);
void *tsdb_hmem_realloc(tsdb_db *db, void *p, size_t old_size, size_t new_size);
void tsdb_hmem_free(tsdb_db *db, void *p, size_t size);

/* Initialize / free the registry and index (db.c calls these). */
int tsdb_head_init(tsdb_db *db, ts_err *err);
void tsdb_head_free(tsdb_db *db);

/*
 * Look up or create the series for a normalized label set (borrowed). *out is returned
 * with a reference the caller must drop with tsdb_hseries_release. TS_OK, TS_ENOMEM,
 * TS_ELIMIT (more than 2^32 - 1 series indexed). Thread-safe.
 */
int tsdb_head_get_or_create(tsdb_db *db, const ts_label *labels, size_t n, tsdb_hseries **out,
			    ts_err *err);
/* The same with hash == ts_series_hash(labels, n) computed by the caller. */
int tsdb_head_get_or_create_hashed(tsdb_db *db, uint64_t hash, const ts_label *labels, size_t n,
				   tsdb_hseries **out, ts_err *err);
void tsdb_hseries_acquire(tsdb_hseries *s);
void tsdb_hseries_release(tsdb_db *db, tsdb_hseries *s);

/* Chunk buffers: a new buffer with one reference; release frees at zero. */
tsdb_hchunk *tsdb_hchunk_new(tsdb_db *db, size_t cap);
void tsdb_hchunk_acquire(tsdb_hchunk *c);
void tsdb_hchunk_release(tsdb_db *db, tsdb_hchunk *c);

/*
 * Every indexed, live series, each with a reference (*out owned array; release each
 * and ts_free the array). Thread-safe.
 */
int tsdb_head_all_series(tsdb_db *db, tsdb_hseries ***out, size_t *n_out, ts_err *err);

/*
 * Remove the series in dead[0..n) that are still empty: mark them dead, unlink them
 * from the registry and index, renumber ids. Called by the cut (holding cut_lock).
 * Returns the number removed.
 */
size_t tsdb_head_remove_empty(tsdb_db *db, tsdb_hseries **cand, size_t n);

/* ------------------------------------------------------------------- head_append.c */

/* Append to one series honoring the out-of-order window and duplicates. TS_EBUSY if the
 * series is dead (the caller looks it up again). */
int tsdb_head_series_append(tsdb_db *db, tsdb_hseries *s, int64_t t_ms, double v, ts_err *err);
/* Free a series' chunks and buffers (no locking; the series is unreachable). */
void tsdb_hseries_free_data(tsdb_db *db, tsdb_hseries *s);

/* ------------------------------------------------------------------- late.c */

/* Late-write state (tsdb.h "late writes"): returned owned, NULL on ENOMEM. */
tsdb_late *tsdb_late_new(void);
void tsdb_late_free(tsdb_late *l); /* NULL allowed */
/* Record an accepted append of s at t_ms if t_ms <= the watermark. Called with s->lock
 * held (the ordering argument in tsdb.h relies on it). */
void tsdb_late_note(tsdb_db *db, const tsdb_hseries *s, int64_t t_ms);

/* Record a late mark for metric name hash h (or TSDB_LATE_ALL) at t_ms whatever the
 * watermark: deletions (tombstones.c) invalidate cached results this way. */
void tsdb_late_note_name(tsdb_db *db, uint64_t h, int64_t t_ms);

/* ------------------------------------------------------------------- tombstones.c */

/* Samples of series `hash` (ts_series_hash) in [mint, maxt] are deleted. */
typedef struct tsdb_tomb {
	uint64_t hash;
	int64_t mint, maxt; /* inclusive, ms */
} tsdb_tomb;

/* An immutable set, sorted by (hash, mint); one series' intervals disjoint. */
struct tsdb_tombset {
	_Atomic uint32_t refs;
	size_t n;
	tsdb_tomb v[];
};

/* Load <dir>/tombstones if present (open). TS_OK, TS_EIO, TS_ECORRUPT, TS_ENOMEM. */
int tsdb_tombs_load(tsdb_db *db, ts_err *err);
/* Drop the current set (db_free). */
void tsdb_tombs_free(tsdb_db *db);
/* Write the current tombstones (if any) to <dir>/tombstones, atomically (snapshots). */
int tsdb_tombs_save_copy(tsdb_db *db, const char *dir, ts_err *err);
/* The current set with a reference (NULL when there are no tombstones). Thread-safe. */
tsdb_tombset *tsdb_tombs_acquire(tsdb_db *db);
void tsdb_tombset_release(tsdb_tombset *ts); /* NULL allowed */
/* Number of intervals of series `hash` in ts (NULL allowed); *first = index of the first. */
size_t tsdb_tombs_find(const tsdb_tombset *ts, uint64_t hash, size_t *first);
/* Does [lo, hi] meet one of the intervals ts->v[first .. first + n)? */
bool tsdb_tombs_hit(const tsdb_tombset *ts, size_t first, size_t n, int64_t lo, int64_t hi);
/* Does one of the intervals ts->v[first .. first + n) contain all of [lo, hi]? */
bool tsdb_tombs_within(const tsdb_tombset *ts, size_t first, size_t n, int64_t lo, int64_t hi);
/* Does [lo, hi] meet any interval of any series (ts NULL allowed)? */
bool tsdb_tombs_any_in(const tsdb_tombset *ts, int64_t lo, int64_t hi);
/* Remove from sorted samples t/v[0..n) those series `hash` has deleted; new n. */
size_t tsdb_tombs_filter(const tsdb_tombset *ts, uint64_t hash, int64_t *t, double *v, size_t n);
/* Decode the tombstone section (the fuzzable part of load). *out returned owned. */
int tsdb_tombs_decode(const uint8_t *p, size_t len, tsdb_tombset **out, ts_err *err);

/* ------------------------------------------------------------------- head_read.c */

/* A growable pair of sample arrays. */
typedef struct tsdb_samples {
	int64_t *t;
	double *v;
	size_t n, cap;
} tsdb_samples;

int tsdb_samples_reserve(tsdb_samples *s, size_t extra, ts_err *err);
void tsdb_samples_free(tsdb_samples *s);

/*
 * Merge sorted sample arrays a and b into out (appended; out may be neither). A
 * timestamp in both keeps a's value; counts such pairs in *n_dup (NULL allowed) and
 * those whose bits differ in *n_conflict (NULL allowed).
 */
int tsdb_samples_merge(const tsdb_samples *a, const tsdb_samples *b, tsdb_samples *out,
		       size_t *n_dup, size_t *n_conflict, ts_err *err);

/* A consistent copy of (part of) a series' head data; see the locking notes above. */
typedef struct tsdb_hsnap {
	tsdb_hchunk **chunks; /* acquired sealed chunks overlapping the range */
	uint32_t n_chunks;
	tsdb_hchunk *open;  /* acquired open chunk, or NULL */
	uint64_t published; /* its publication word at snapshot time */
	int64_t *ooo_t;     /* copies of the out-of-order samples in range */
	double *ooo_v;
	uint32_t n_ooo;
	/* For the cut's garbage collection (range [INT64_MIN, maxt] snapshots only): */
	uint64_t gen, ooo_gen;  /* series generations at snapshot time */
	uint32_t n_sealed_drop; /* sealed prefix with max_t <= maxt */
	bool open_drop;         /* the open chunk lies entirely <= maxt */
	uint32_t n_ooo_drop;    /* out-of-order prefix <= maxt */
} tsdb_hsnap;

/* Take a snapshot of s's data overlapping [mint, maxt]. TS_OK or TS_ENOMEM. */
int tsdb_head_snap_take(tsdb_hseries *s, int64_t mint, int64_t maxt, tsdb_hsnap *snap, ts_err *err);
/* Decode the snapshot's samples in [mint, maxt] (sorted) appending to out. */
int tsdb_head_snap_read(const tsdb_hsnap *snap, int64_t mint, int64_t maxt, tsdb_samples *out,
			ts_err *err);
void tsdb_head_snap_release(tsdb_db *db, tsdb_hsnap *snap);
/* Read s's samples in [mint, maxt] into out (snapshot, read, release). */
int tsdb_head_series_read(tsdb_db *db, tsdb_hseries *s, int64_t mint, int64_t maxt,
			  tsdb_samples *out, ts_err *err);
/* The time range of s's head samples; false if it holds none. */
bool tsdb_head_series_range(tsdb_hseries *s, int64_t *mint, int64_t *maxt);
/*
 * After a cut wrote the snapshot's samples: drop them from s if nothing changed in
 * between (generations, publication word). Returns true if s is now empty.
 */
bool tsdb_head_series_gc(tsdb_db *db, tsdb_hseries *s, const tsdb_hsnap *snap);

/* ------------------------------------------------------------------- postings.c */

int tsdb_plist_push(tsdb_plist *l, uint32_t id, ts_err *err);
void tsdb_plist_free(tsdb_plist *l);
/* out = a ∩ b (out may alias a). */
void tsdb_plist_intersect(tsdb_plist *a, const tsdb_plist *b);
/* a = a \ b. */
void tsdb_plist_subtract(tsdb_plist *a, const tsdb_plist *b);
/* Sort and dedupe l in place. */
void tsdb_plist_normalize(tsdb_plist *l);
/*
 * The ids of the series matching every matcher (n_ms may be 0: all), through ops.
 * out must be empty; it is filled sorted. Prometheus' algorithm: intersect the
 * postings of matchers that do not match "", subtract those of values failing the
 * matchers that do.
 */
int tsdb_postings_select(const tsdb_pindex_ops *ops, void *ctx, const ts_matcher *ms, size_t n_ms,
			 tsdb_plist *out, ts_err *err);

/* The head index: add a series (under index_lock exclusive); free everything. */
int tsdb_hindex_add(tsdb_db *db, tsdb_hseries *s, ts_err *err);
void tsdb_hindex_free(tsdb_db *db);
/* Unindex gone[0..n) and renumber the remaining ids densely (index_lock exclusive). */
void tsdb_hindex_compact(tsdb_db *db, tsdb_hseries **gone, size_t n);
/* Head selection: ids under index_lock shared, then series with references. */
extern const tsdb_pindex_ops tsdb_hindex_ops;
/*
 * Series of the head matching ms with samples in [mint, maxt], each acquired
 * (*out owned). Thread-safe.
 */
int tsdb_head_select(tsdb_db *db, const ts_matcher *ms, size_t n_ms, int64_t mint, int64_t maxt,
		     tsdb_hseries ***out, size_t *n_out, ts_err *err);
/*
 * Label values of name (name NULL: label names) of the head series with samples in
 * [mint, maxt], each passed once to fn, unsorted; strings are interned (valid until the
 * store closes). Answers from the inverted index, without selecting series. TS_OK,
 * TS_ENOMEM or fn's first error. Thread-safe.
 */
int tsdb_head_label_strings(tsdb_db *db, const char *name, int64_t mint, int64_t maxt,
			    int (*fn)(void *arg, const char *s), void *arg, ts_err *err);

/* ------------------------------------------------------------------- cut.c */

/* Integer floor division (b > 0). */
static inline int64_t tsdb_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/*
 * Write every head sample with t <= maxt_incl to blocks (one per block-aligned range),
 * publish them, wait for older queriers, drop the samples from the head and persist
 * the partition offsets this made safe (all of them when is_full). TS_OK or an error
 * (the head is left intact on error). Requires a data directory.
 */
int tsdb_cut_to(tsdb_db *db, int64_t maxt_incl, bool is_full, ts_err *err);
/* Apply the 1.5 x block_duration rule once: cut the oldest range if the head is too
 * long. Sets *did_cut. */
int tsdb_cut_maybe(tsdb_db *db, bool *did_cut, ts_err *err);
/* Record an applied offset mark (tsdb_partition_applied). */
void tsdb_offsets_mark(tsdb_db *db, int partition, uint64_t next);
/* Read / write the offsets checkpoint file <dir>/offsets. */
int tsdb_offsets_load(tsdb_db *db, ts_err *err);
int tsdb_offsets_save(tsdb_db *db, const uint64_t *next, ts_err *err);
/* Start / stop the background cut worker. */
int tsdb_bg_start(tsdb_db *db, ts_err *err);
void tsdb_bg_stop(tsdb_db *db);

/* ------------------------------------------------------------------- downsample.c */

/*
 * One downsampling pass: for every complete raw block range with no 1m block covering
 * it, write the 1m rollup block; then the same from 1m to 1h for every 1h range fully
 * covered by 1m blocks. Idempotent (a range whose tier block exists is skipped) and
 * crash-safe (temporary directory + rename, as every block). Called by the background
 * worker after cuts (and by tests). Takes db->cut_lock while publishing. Requires a
 * data directory (TS_OK without one). TS_OK, TS_EIO, TS_ENOSPC, TS_ENOMEM, TS_ECORRUPT.
 */
int tsdb_downsample_run(tsdb_db *db, ts_err *err);

/* True if the blocks of `tier` in bs (sorted by range start) cover every ms of [lo, hi]
 * (also used by tombstones.c). */
bool tsdb_blockset_covers(const tsdb_blockset *bs, int tier, int64_t lo, int64_t hi);

/* ------------------------------------------------------------------- compact.c */

/*
 * Compaction (STYLE: "compact" = merging same-resolution blocks). Plans one merge at a
 * time for each tier: first a group of blocks with overlapping ranges, then blocks that
 * lie inside one aligned window of the next level (D, 3D, 6D, 12D, then doubling, up
 * to tsdb_compact_max_ms). The merged block is written under a temporary name, made
 * durable and renamed; its meta lists the sources' ULIDs; then the set is swapped,
 * older queriers are waited for and the sources' directories deleted. Runs at most
 * max_merges merges (stops early when nothing is left); *n_done counts them (NULL ok).
 * Takes cut_lock only to publish. TS_OK, TS_EIO, TS_ENOSPC, TS_ENOMEM, TS_ECORRUPT.
 * Call from one thread at a time (the worker, or tests without a worker).
 */
int tsdb_compact_run(tsdb_db *db, int max_merges, int *n_done, ts_err *err);
/*
 * Merge exactly src[0..n) (n >= 1, same tier, all in the current set) into one block
 * whose range is the union of theirs; duplicate samples (same series and timestamp)
 * keep the value of the first source in set order, as queriers do. src is borrowed:
 * the caller holds a reference on each block (tsdb_block_acquire) and must hold no
 * block set or querier (the swap waits for older sets' readers). TS_ENOTFOUND if a
 * source left the set meanwhile.
 */
int tsdb_compact_blocks(tsdb_db *db, tsdb_block **src, size_t n, ts_err *err);
/* The same; is_partial also drops rollup rows that a tombstone only partly deletes
 * (tombstones.c uses it for rollup blocks with no source tier left to rebuild from). */
int tsdb_compact_blocks_ex(tsdb_db *db, tsdb_block **src, size_t n, bool is_partial, ts_err *err);
/* Largest block span compaction builds for a tier: min(max_block_duration, 10% of the
 * tier's retention); at least block_duration_ms. */
int64_t tsdb_compact_max_ms(const tsdb_db *db, int tier);
/*
 * At open, over the verified blocks v[0..*n) (cold directory first): drop a block whose
 * ULID was seen before (a cold move that crashed before deleting the original) or that
 * another block lists as a source (a compaction that crashed before deleting it):
 * release it, delete its directory, compact v. Returns how many were dropped.
 */
size_t tsdb_compact_open_cleanup(tsdb_block **v, size_t *n);
/* Delete a block directory crash-safely: rename to <name>.tmp (open removes those),
 * then remove its files. TS_OK or TS_EIO. */
int tsdb_block_dir_delete(const char *path, ts_err *err);

/* ------------------------------------------------------------------- retention.c */

/*
 * Reference time of retention and cold moves: the newest sample in blocks or head,
 * capped at now_ms (Prometheus measures retention from the newest block; the cap keeps
 * a sample from the future from deleting history). INT64_MIN when the store is empty.
 */
int64_t tsdb_retention_ref_ms(tsdb_db *db, int64_t now_ms);
/*
 * Delete every block whose whole range ends before ref - retention of its tier, then
 * move blocks whose range ends before ref - cold_after_ms into the cold directory
 * (copy, fsync, rename, swap the set, delete the original). now_ms is the wall clock
 * (tests pass their own). *n_deleted / *n_moved may be NULL. Takes cut_lock to
 * publish. TS_OK, TS_EIO, TS_ENOSPC, TS_ENOMEM.
 */
int tsdb_retention_run(tsdb_db *db, int64_t now_ms, size_t *n_deleted, size_t *n_moved,
		       ts_err *err);

/* ------------------------------------------------------------------- db.c */

/* The current block set, acquired (release with tsdb_blockset_release). */
tsdb_blockset *tsdb_blocks_acquire(tsdb_db *db);
void tsdb_blockset_release(tsdb_blockset *bs);
/* Publish a new set made of the current one plus add[0..n_add) (references taken). */
int tsdb_blocks_publish(tsdb_db *db, tsdb_block **add, size_t n_add, tsdb_blockset **old,
			ts_err *err);
/* Wait until only the caller's (or no) reference on bs remains, then release it. */
void tsdb_blockset_wait_release(tsdb_blockset *bs);
/* Remove blocks a read found corrupt from the current set (they are quarantined when
 * their last reader lets go). */
void tsdb_blocks_drop_bad(tsdb_db *db);
/*
 * Publish the current set minus rm[0..n_rm) plus add[0..n_add) (references taken). The
 * caller holds cut_lock, then waits for *old with tsdb_blockset_wait_release.
 * TS_ENOTFOUND if a block of rm is no longer in the set (nothing changes), TS_ENOMEM.
 */
int tsdb_blocks_replace(tsdb_db *db, tsdb_block *const *rm, size_t n_rm, tsdb_block **add,
			size_t n_add, tsdb_blockset **old, ts_err *err);

#endif /* TSDB_TSDB_INT_H */
