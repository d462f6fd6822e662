/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer.h: the log consumers that feed the store (internal to ingest/).
 *
 * One thread per log partition ("ingest-pN") reads the partition's records in offset
 * order, decodes them and appends every sample to the store, then tells the store the
 * offset is applied (tsdb_partition_applied). It checkpoints the log up to what the store
 * reports persisted (tsdb_partition_resume_offset - 1), so segments get deleted. At start
 * each consumer resumes from the store's resume offset: replaying the log is the only
 * recovery path, and the store drops replayed duplicates.
 *
 * The group also keeps the consumer-lag accounting that back-pressure needs: appenders
 * report every record they appended (ingest_consumers_appended) and ask before appending
 * (ingest_consumers_admit), which refuses with TS_EBUSY while the partition has more
 * appended-but-unapplied bytes than the configured bound.
 *
 * Cluster roles (options.role): INGEST_ROLE_ALL consumes every partition from start, as
 * above. INGEST_ROLE_INGEST starts no consumer (a node that only produces; no store).
 * INGEST_ROLE_STORE joins the Kafka log's consumer group and consumes only the partitions
 * the group assigns it, each from the store's own persisted offset. Under both roles the
 * lag bound is off: the appender and the consumer of a partition are different processes.
 */
#ifndef INGEST_CONSUMER_H
#define INGEST_CONSUMER_H

#include "ingest/ingest.h"
#include "ingest/log.h"

#include "common/common.h"
#include "tsdb/tsdb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ingest_consumers ingest_consumers;

typedef struct ingest_consumers_options {
	ingest_log *log;            /* borrowed; outlives the consumers */
	tsdb_db *db;                /* borrowed; tracks at least the log's partitions */
	uint64_t max_lag_bytes;     /* per partition: unapplied bytes before admit() says
				       TS_EBUSY; 0 = no bound */
	int poll_ms;                /* longest a consumer blocks in the log (stop latency),
				       0 = default (100 ms) */
	bool is_paused;             /* start paused (test hook, ingest_consumers_set_paused) */
	ingest_role role;           /* see the file comment; INGEST_ROLE_INGEST allows db NULL */
	int64_t session_timeout_ms; /* INGEST_ROLE_STORE: the group's session timeout */
	size_t series_cache_bytes;  /* per consumer: bound of its series cache (interned label
				       strings, series entries with store references), dropped
				       as a whole when over it; 0 = default (64 MiB) */
} ingest_consumers_options;

/* Per-partition consumer counters (since start). */
typedef struct ingest_consumer_stats {
	uint64_t next_offset;           /* next offset the consumer applies */
	uint64_t replay_end;            /* the log's end when the consumer started */
	int64_t lag_bytes;              /* appended since start and not yet applied (>= 0) */
	uint64_t n_records;             /* records applied */
	uint64_t n_samples;             /* samples the store accepted (duplicates included) */
	uint64_t n_rejected;            /* samples the store refused (out of order, limits) */
	uint64_t n_corrupt;             /* corrupt records/ranges skipped */
	uint64_t n_busy;                /* appends refused by the lag bound */
	uint64_t n_errors;              /* read errors retried (I/O, memory) */
	uint64_t n_cache_drops;         /* series cache dropped for being over its bound */
	uint64_t cache_bytes;           /* series cache allocations after the last merge */
	uint64_t checkpoint_next;       /* log checkpointed below this offset */
	bool is_replayed;               /* caught up with replay_end */
	bool is_owned;                  /* consuming the partition now (role store: assigned) */
	ingest_log_partition_stats log; /* the log's stats, refreshed by the consumer thread
					   every 500 ms (so that readers of stats never wait
					   for a slow backend) */
} ingest_consumer_stats;

/*
 * Check the store's offsets against the log and start one consumer thread per
 * partition. For each partition: the store's resume offset R is checked against the log
 * (R beyond the log's end is TS_ECORRUPT: the log was lost or replaced, and starting
 * would silently drop acknowledged writes), the log is checkpointed at R - 1, and a
 * reader opened at R; when R is below the first retained offset the gap is logged as a
 * warning and the reader starts at the first retained offset. *out returned owned.
 * TS_OK, TS_ECORRUPT, TS_ENOMEM, TS_EIO, TS_EINVAL (partition counts). Not thread-safe.
 */
int ingest_consumers_start(const ingest_consumers_options *o, ingest_consumers **out, ts_err *err);

/*
 * Drain and stop: every consumer reads to the current end of its partition, applies it,
 * checkpoints what the store persisted and exits; then everything is freed. Appenders
 * must have stopped (the end of the log must not move). NULL allowed.
 */
void ingest_consumers_stop(ingest_consumers *c);

/* True once every consumer caught up with the log's end as of start (role store: the
 * group assigned this member its partitions and each caught up with the end it had when
 * assigned; role ingest: always). Thread-safe. */
bool ingest_consumers_replay_done(const ingest_consumers *c);

/*
 * May a record be appended to `partition`? TS_OK, or TS_EBUSY (message: the lag and the
 * bound) while its unapplied bytes exceed the bound. Thread-safe, lock-free.
 */
int ingest_consumers_admit(ingest_consumers *c, int partition, ts_err *err);

/* A record of `bytes` bytes was appended to `partition`. Thread-safe, lock-free. */
void ingest_consumers_appended(ingest_consumers *c, int partition, size_t bytes);

/* Counters of one partition's consumer (partition must be valid). Thread-safe. */
void ingest_consumers_stats(const ingest_consumers *c, int partition, ingest_consumer_stats *out);

/* Samples refused by the store, all partitions. Thread-safe. */
uint64_t ingest_consumers_rejected(const ingest_consumers *c);

/*
 * Test hook: while paused, consumers read nothing (they still checkpoint and stop
 * normally; a stop drains even when paused). Thread-safe.
 */
void ingest_consumers_set_paused(ingest_consumers *c, bool is_paused);

#endif /* INGEST_CONSUMER_H */
