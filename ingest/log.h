/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: the partitioned log between HTTP ingest and the store (internal to ingest/).
 *
 * A log has n_partitions partitions. Each partition is an ordered sequence of records
 * (opaque bytes that are, by convention, ingest/record.h records) numbered by offsets
 * 0, 1, 2, ... (record numbers, as in Kafka, not byte positions). Appenders add records
 * and return only once the record is durable; one consumer per partition reads the
 * records in order and, once the store has persisted everything up to offset X in blocks,
 * calls ingest_log_checkpoint(X) so the backend may drop data at or below X.
 *
 * Backends: the embedded log (log_local.c: segment files, CRC framing, group commit)
 * and Kafka (log_kafka.c). Each provides `ingest_log_<backend>_open(...)` returning an
 * ingest_log whose ops table (the "backend interface" section below) log.c dispatches
 * through; everything else in this header is backend-independent.
 *
 * Durability contract (DESIGN.md "Durability"): when ingest_log_append returns TS_OK the
 * record survives a crash (embedded: written and fdatasync'd; Kafka: acks=all delivery).
 * Readers only ever see durable records, so the store can never persist (and checkpoint)
 * a record the log could still lose.
 *
 * Thread-safety: ingest_log_append, _checkpoint, _stats and _n_partitions may be called
 * from any number of threads at once. A reader is used by one thread at a time; any number
 * of readers may be open per partition. ingest_log_close must not race with any other call
 * on the same log: stop appenders and close readers first.
 */
#ifndef INGEST_LOG_H
#define INGEST_LOG_H

#include "ingest/ingest_int.h"

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_LOG_MAX_PARTITIONS 1024

typedef struct ingest_log ingest_log;
typedef struct ingest_log_reader ingest_log_reader;

/* Per-partition state and counters (ingest_log_stats). Counters are since open. */
typedef struct ingest_log_partition_stats {
	uint64_t first_offset;     /* oldest offset still stored */
	uint64_t next_offset;      /* offset of the next durable record (readers' end) */
	uint64_t checkpoint_next;  /* checkpointed offset + 1; first_offset before any checkpoint */
	uint64_t bytes;            /* bytes stored (all segments, headers included) */
	uint64_t pending_bytes;    /* bytes not yet checkpointed (upper estimate; back-pressure) */
	uint32_t n_segments;       /* segment files (embedded) or 0 */
	uint64_t n_appends;        /* records appended successfully */
	uint64_t n_append_bytes;   /* record bytes appended successfully */
	uint64_t n_syncs;          /* fdatasync calls made by group-commit leaders */
	uint64_t n_busy;           /* appends refused with TS_EBUSY (back-pressure) */
	uint64_t n_nospc;          /* appends refused with TS_ENOSPC */
	uint64_t n_io_errors;      /* appends failed with TS_EIO (write or sync failure) */
	uint64_t n_repaired_bytes; /* bytes of torn/corrupt tail truncated at open */
	uint64_t n_repairs;        /* torn tails truncated at open (0 or 1 per open) */
	uint64_t n_deleted_segments; /* segments deleted by checkpoints */
} ingest_log_partition_stats;

/* Records appended but not yet checkpointed. */
static inline uint64_t ingest_log_stats_lag_records(const ingest_log_partition_stats *s)
{
	return s->next_offset - s->checkpoint_next;
}

/* Records a consumer whose next offset to read is `consumer_next` has not read yet. */
static inline uint64_t ingest_log_stats_consumer_lag(const ingest_log_partition_stats *s,
						     uint64_t consumer_next)
{
	return consumer_next >= s->next_offset ? 0 : s->next_offset - consumer_next;
}

/* ---------------------------------------------------------------- generic API */

/* Close the log and free it (durable data stays on disk). NULL allowed. See thread-safety. */
void ingest_log_close(ingest_log *l);

/* Number of partitions (fixed at open). Thread-safe. */
int ingest_log_n_partitions(const ingest_log *l);

/* Backend name ("local", "kafka"). Thread-safe. */
const char *ingest_log_backend(const ingest_log *l);

/*
 * Append one record rec[0..len) (borrowed; copied) to `partition` and return once it is
 * durable; *offset (NULL allowed) gets its offset. The record must start with a valid
 * ingest/record.h header (TS_EINVAL otherwise; the CRC is not checked here) and be at most
 * INGEST_RECORD_MAX_BYTES (TS_ELIMIT).
 * Errors: TS_EINVAL (bad partition or record), TS_ELIMIT, TS_EBUSY (back-pressure: too many
 * bytes not yet checkpointed in this partition; retry later, e.g. HTTP 503 + Retry-After),
 * TS_ENOSPC (disk full; the partition is unchanged and appends work again once space is
 * free), TS_EIO (write or sync failed), TS_EUNAVAIL (backend down). On any error no offset
 * is consumed and readers never see the record; after a failed sync it may still reappear
 * once after a crash (at-least-once: a retried write can then be stored twice, and the
 * store drops exact duplicates).
 * Thread-safe; concurrent appends to one partition share a sync (group commit).
 */
int ingest_log_append(ingest_log *l, int partition, const void *rec, size_t len, uint64_t *offset,
		      ts_err *err);

/*
 * Open a reader on `partition` positioned at from_offset (the next record it returns).
 * from_offset may equal next_offset (wait for new records). TS_ENOTFOUND when from_offset
 * is below first_offset (already deleted), TS_EINVAL when beyond next_offset or a bad
 * partition, TS_ENOMEM, TS_EIO. *out returned owned; close with ingest_log_reader_close.
 * Thread-safe.
 */
int ingest_log_reader_open(ingest_log *l, int partition, uint64_t from_offset,
			   ingest_log_reader **out, ts_err *err);

/*
 * Return the next durable record: *rec and *len point into the reader's buffer, valid until
 * the next call on this reader or its close; *offset is its offset. Blocks up to timeout_ms
 * (0: poll, < 0: forever) for a new record.
 * Returns TS_OK; TS_ETIMEOUT when no record arrived in time (outputs untouched; not a
 * failure, just call again); TS_ECORRUPT when stored data failed a check: the message names
 * the segment file, byte position and offsets, and the reader has already moved past the
 * damage, so the next call returns the next intact record (the skipped offsets are lost; the
 * message says how many). TS_ENOTFOUND when the segment the reader needs was deleted under
 * it (a checkpoint beyond what it had read); TS_EIO; TS_ENOMEM.
 * Not thread-safe per reader (one thread at a time).
 */
int ingest_log_reader_next(ingest_log_reader *r, const void **rec, size_t *len, uint64_t *offset,
			   int timeout_ms, ts_err *err);

/* Close a reader. NULL allowed. */
void ingest_log_reader_close(ingest_log_reader *r);

/*
 * The store has persisted every record of `partition` up to and including `offset`:
 * the backend may delete data at or below it (embedded: whole segments whose last record
 * is <= offset; the segment being appended to is never deleted) and back-pressure is
 * relieved. Offsets below an earlier checkpoint are ignored; offset >= next_offset is
 * TS_EINVAL. Call once at startup with the store's persisted offset too (that sets the
 * lag and back-pressure baseline after a restart). TS_EIO if a delete fails (the file
 * stays on disk and is deleted by a checkpoint after the next open). Thread-safe.
 */
int ingest_log_checkpoint(ingest_log *l, int partition, uint64_t offset, ts_err *err);

/* Fill *out with the state of `partition`. TS_EINVAL for a bad partition. Thread-safe. */
int ingest_log_stats(ingest_log *l, int partition, ingest_log_partition_stats *out, ts_err *err);

/* ---------------------------------------------------------------- embedded backend */

/* Options of the embedded log. Start from INGEST_LOG_LOCAL_OPTIONS_DEFAULT. */
typedef struct ingest_log_local_options {
	const char *dir;               /* root directory (borrowed; created if missing) */
	int n_partitions;              /* 1..INGEST_LOG_MAX_PARTITIONS; fixed once created */
	uint64_t segment_bytes;        /* roll to a new segment beyond this size (>= 4096) */
	uint64_t max_pending_bytes;    /* per partition: bytes not yet checkpointed before
					  appends get TS_EBUSY; 0 = no limit */
	uint32_t group_commit_wait_us; /* when syncs take >= 1 ms, a sync leader may wait up
					  to this (never longer than 1/4 of the previous sync)
					  for as many appenders as the previous sync covered;
					  0 = sync at once */
	bool no_sync;                  /* skip fdatasync (benchmarks/tests only: NOT durable) */
} ingest_log_local_options;

#define INGEST_LOG_LOCAL_SEGMENT_BYTES_DEFAULT (64u << 20)
#define INGEST_LOG_LOCAL_MAX_PENDING_DEFAULT   ((uint64_t)8 << 30)
#define INGEST_LOG_LOCAL_OPTIONS_DEFAULT                              \
	{                                                             \
		NULL, 8, INGEST_LOG_LOCAL_SEGMENT_BYTES_DEFAULT,      \
		    INGEST_LOG_LOCAL_MAX_PENDING_DEFAULT, 1000, false \
	}

/*
 * Open (creating if needed) the embedded log under o->dir: <dir>/log.meta records the
 * partition count (a different n_partitions is TS_EINVAL: the series->partition mapping
 * would change), <dir>/LOCK is flock'ed (another process holding it: TS_EBUSY), and each
 * partition lives in <dir>/pNNNN/NNNNNNNNNNNNNNNNNNNN.seg (20-digit base offset). The last segment
 * of each partition is scanned; a torn or corrupt tail is truncated (logged at warn, counted in
 * n_repaired_bytes) and the segment fdatasync'd. *out returned owned.
 * TS_OK, TS_EINVAL, TS_EBUSY, TS_EIO, TS_ENOSPC, TS_ECORRUPT (unreadable segment header
 * in a partition's last segment), TS_ENOMEM. Not thread-safe against other opens of the
 * same directory in this process.
 */
int ingest_log_local_open(const ingest_log_local_options *o, ingest_log **out, ts_err *err);

/* Test-only fault injection for the embedded log (see ingest_log_local_set_faults). */
typedef struct ingest_log_local_faults {
	int64_t space_bytes; /* bytes the disk may still take: a write past it stores only what
				fits and fails with ENOSPC (a full disk); truncating and deleting
				segments give space back; < 0: no limit */
	int fail_syncs;      /* the next fail_syncs fdatasync calls fail with EIO */
	int sync_delay_us;   /* sleep this long in every sync (makes group commit visible) */
} ingest_log_local_faults;

/* Install faults (copied) on an embedded log; TS_EINVAL on another backend. Thread-safe. */
int ingest_log_local_set_faults(ingest_log *l, const ingest_log_local_faults *f, ts_err *err);

/* ---------------------------------------------------------------- backend interface */

/*
 * What a backend implements. log.c validates arguments (partition range, record header
 * and size, NULL outputs) before calling, so backends may rely on them.
 */
typedef struct ingest_log_ops {
	const char *name; /* "local", "kafka" */
	void (*close)(ingest_log *l);
	int (*append)(ingest_log *l, int partition, const void *rec, size_t len, uint64_t *offset,
		      ts_err *err);
	int (*reader_open)(ingest_log *l, int partition, uint64_t from_offset,
			   ingest_log_reader **out, ts_err *err);
	int (*reader_next)(ingest_log_reader *r, const void **rec, size_t *len, uint64_t *offset,
			   int timeout_ms, ts_err *err);
	void (*reader_close)(ingest_log_reader *r);
	int (*checkpoint)(ingest_log *l, int partition, uint64_t offset, ts_err *err);
	int (*stats)(ingest_log *l, int partition, ingest_log_partition_stats *out, ts_err *err);
} ingest_log_ops;

/* The common head of every backend's log object (its first member). */
struct ingest_log {
	const ingest_log_ops *ops; /* immutable after open */
	int n_partitions;          /* immutable after open */
};

/* The common head of every backend's reader object (its first member). */
struct ingest_log_reader {
	const ingest_log_ops *ops; /* immutable */
	int partition;             /* immutable */
};

#endif /* INGEST_LOG_H */
