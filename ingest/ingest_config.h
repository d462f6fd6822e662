/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest_config.h: the `ingest:` section of the server config (internal to ingest/).
 *
 * Every key, its default and its unit is documented in examples/strata.yml and
 * docs/formats/log.md ("Configuration"). The section describes the partitioned log
 * (backend, partitions, directory, segment size, group commit), the records written to
 * it (compression, size bound), the append threads, and the two back-pressure bounds
 * (bytes not yet checkpointed, bytes not yet applied by the consumers). The Kafka
 * backend's own settings live in the top-level `kafka:` section, parsed by log_kafka.c.
 */
#ifndef INGEST_INGEST_CONFIG_H
#define INGEST_INGEST_CONFIG_H

#include "ingest/log.h"

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ingest_backend {
	INGEST_BACKEND_LOCAL = 0, /* the embedded segment log (log_local.c) */
	INGEST_BACKEND_KAFKA = 1, /* Kafka (log_kafka.c) */
} ingest_backend;

#define INGEST_CONFIG_PARTITIONS_DEFAULT     8
#define INGEST_CONFIG_MAX_LAG_BYTES_DEFAULT  ((uint64_t)64 << 20)
#define INGEST_CONFIG_RECORD_BYTES_DEFAULT   ((size_t)1 << 20)
#define INGEST_CONFIG_APPEND_THREADS_DEFAULT 32
#define INGEST_CONFIG_MAX_APPEND_THREADS     1024

/* The parsed section. Strings are owned (ingest_config_fini). */
typedef struct ingest_config {
	ingest_backend backend;          /* ingest.backend */
	int n_partitions;                /* ingest.partitions: 1..INGEST_LOG_MAX_PARTITIONS */
	bool has_partitions;             /* ingest.partitions was given */
	char *log_dir;                   /* ingest.log_dir; default <storage.data_dir>/log */
	uint64_t segment_bytes;          /* ingest.segment_bytes (embedded log) */
	uint64_t max_pending_bytes;      /* ingest.max_pending_bytes: per partition, bytes not
					    yet checkpointed before TS_EBUSY; 0 = no bound */
	uint64_t max_consumer_lag_bytes; /* ingest.max_consumer_lag_bytes: per partition, bytes
					    appended but not yet applied to the store before
					    TS_EBUSY; 0 = no bound */
	int compression;                 /* ingest.compression: INGEST_RECORD_COMPRESS_* */
	uint32_t group_commit_wait_us;   /* ingest.group_commit_wait (embedded log) */
	size_t max_record_bytes;         /* ingest.max_record_bytes: bound of one record */
	int append_threads;              /* ingest.append_threads: 0 = append in the caller */
	uint64_t max_series;             /* ingest.max_series: series in total; 0 = no bound */
	uint64_t max_series_per_metric;  /* ingest.max_series_per_metric; 0 = no bound */
} ingest_config;

/* Fill *c with the defaults (log_dir NULL = <data_dir>/log, resolved by parse). */
void ingest_config_defaults(ingest_config *c);

/*
 * Parse the `ingest:` section of cfg (borrowed; NULL = defaults only) into *out, which
 * must come from ingest_config_defaults. Unknown keys and bad values are TS_EINVAL with
 * "file:line:col: ingest.<key>: ..."; TS_ENOMEM. With backend kafka the `kafka:` section
 * is parsed too (log_kafka.h) and its `partitions`, when set, must agree with
 * ingest.partitions (or stands in for it). On error *out keeps what was parsed so far;
 * free it with ingest_config_fini either way. Thread-safe (touches only *out).
 */
int ingest_config_parse(const ts_config *cfg, ingest_config *out, ts_err *err);

/* Free the strings of c (c itself is the caller's). NULL allowed. */
void ingest_config_fini(ingest_config *c);

/*
 * Open the log c (parsed from cfg, both borrowed) describes: the embedded log in
 * c->log_dir (created if missing), or the Kafka topic of cfg's `kafka:` section with
 * c->n_partitions partitions. *out returned owned (ingest_log_close). Errors as
 * ingest_log_local_open / ingest_log_kafka_open.
 */
int ingest_config_open_log(const ingest_config *c, const ts_config *cfg, ingest_log **out,
			   ts_err *err);

#endif /* INGEST_INGEST_CONFIG_H */
