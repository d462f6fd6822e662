/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest.h: the public interface of ingest/: every way samples get into Strata.
 *
 * An ingest_pipeline accepts write requests in each wire format (Influx line protocol,
 * Prometheus remote write, exposition text for backfill), validates them, and hands
 * the samples to the store. A write function returns only when the samples it
 * accepted are durable (see docs/ARCHITECTURE.md "Durability"); a 2xx may be sent then.
 * Durable means: in a record of the partitioned log (embedded: fdatasync'd; Kafka:
 * acks=all). Consumer threads apply the log to the store asynchronously, so a sample may
 * become visible to queries a moment after its write returned, and samples the store
 * refuses then (out of order, conflicting) are only counted (ingest_partition_stats).
 *
 * Thread-safety: all write functions may be called from any number of threads.
 */
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

#include "common/common.h"
#include "tsdb/tsdb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ingest_pipeline ingest_pipeline;
typedef struct ingest_log ingest_log; /* the partitioned log (ingest/log.h, internal) */

typedef struct ingest_options {
	tsdb_db *db;            /* the store (borrowed; outlives the pipeline); NULL only with
				   cluster.role ingest (no store) */
	size_t max_labels;      /* labels per series incl. __name__ */
	size_t max_name_bytes;  /* metric and label name length */
	size_t max_value_bytes; /* label value length */
	/* Borrowed, outlives the pipeline: its `global` and `scrape_configs` sections start
	 * the scraper (errors in them fail ingest_open). NULL = no scraping. */
	const ts_config *config;
	/* Its `ingest:` section describes the partitioned log every write goes through (see
	 * examples/strata.yml); `log` (borrowed, outlives the pipeline; tests, embedders)
	 * replaces the log the section would open. With neither config nor log there is no
	 * log: samples go straight to the store and nothing is durable (memory-only stores,
	 * tests, benchmarks). */
	ingest_log *log;
	size_t metadata_max_families; /* metric metadata registry bounds (ingest_metadata) */
	size_t metadata_max_bytes;
} ingest_options;

/* Fill *o with defaults (db = NULL must be set by the caller). */
void ingest_options_init(ingest_options *o);

/* Start the pipeline. *out returned owned. */
int ingest_open(const ingest_options *o, ingest_pipeline **out, ts_err *err);
/* Stop and free. NULL allowed. */
void ingest_close(ingest_pipeline *p);

/* Outcome of one write request. */
struct ingest_write_result {
	size_t n_samples;      /* samples accepted (durable) */
	size_t n_rejected;     /* samples the store refused (too old, conflicting); only
				  without a log: with one, the store applies samples
				  later and counts refusals in ingest_partition_stats */
	size_t n_bad_lines;    /* lines/series that failed to parse */
	size_t n_skipped;      /* values that are not numeric samples (string fields) */
	size_t first_bad_line; /* 1-based line of the first bad line, 0 if none */
	char first_error[256]; /* reason for the first bad line or rejected sample */
	size_t n_limited;      /* samples of new series refused by ingest.max_series or
				  ingest.max_series_per_metric (the rest was written) */
	char limit_error[256]; /* the first such refusal, naming the limit and metric */
};
typedef struct ingest_write_result ingest_write_result;

/*
 * Influx line protocol body (v1 /write and v2 /api/v2/write). `precision` may be NULL
 * (nanoseconds). Good lines are stored even when some lines are bad (res says which).
 * Returns TS_OK when the request was processed (check res->n_bad_lines),
 * TS_EINVAL for a bad precision, or the first storage error (TS_EBUSY, TS_EUNAVAIL, ...).
 */
int ingest_write_line_protocol(ingest_pipeline *p, const char *body, size_t len,
			       const char *precision, ingest_write_result *res, ts_err *err);

/*
 * Prometheus remote write 1.0 body (snappy block of a protobuf WriteRequest). All or
 * nothing at validation: an invalid series rejects the request with TS_EINVAL naming it
 * (the sender must not retry a 400); TS_EPARSE for a body that is not remote write;
 * TS_ELIMIT for oversized bodies; storage errors as for line protocol.
 */
int ingest_write_remote(ingest_pipeline *p, const void *body, size_t len, ingest_write_result *res,
			ts_err *err);

/*
 * Prometheus exposition text (0.0.4, or OpenMetrics when content_type says so or the body
 * ends in "# EOF") with optional timestamps, for backfill. Samples without a timestamp
 * get the server's time. Bad lines are skipped and reported in res like line protocol.
 */
int ingest_write_exposition(ingest_pipeline *p, const char *body, size_t len,
			    const char *content_type, ingest_write_result *res, ts_err *err);

/* One sample for ingest_write_samples. */
typedef struct ingest_sample {
	const ts_label *labels; /* normalized label set incl. __name__ (borrowed) */
	size_t n_labels;
	int64_t t_ms;
	double v;
} ingest_sample;

/*
 * Samples produced inside Strata (recording rules, ALERTS series): written through the
 * same durable path as HTTP writes. Returns like ingest_write_line_protocol.
 */
int ingest_write_samples(ingest_pipeline *p, const ingest_sample *s, size_t n,
			 ingest_write_result *res, ts_err *err);

/* Ingest statistics for /metrics. */
typedef struct ingest_stats {
	uint64_t requests;  /* write requests processed */
	uint64_t samples;   /* samples accepted */
	uint64_t bad_lines; /* lines rejected by parsers */
	uint64_t rejected;  /* samples rejected by the store */
} ingest_stats;

void ingest_stats_get(ingest_pipeline *p, ingest_stats *out);

/* ---------------------------------------------------------------- log and consumers */

/*
 * Parse and check the `ingest:` section of c (NULL: defaults); errors are TS_EINVAL naming
 * file:line:col and the key. *n_partitions gets the log's partition count, which the
 * store must track (tsdb_options.n_partitions): call this before tsdb_open. Thread-safe.
 */
int ingest_config_partitions(const ts_config *c, int *n_partitions, ts_err *err);

/*
 * True once the consumers have applied the log up to the end it had when the pipeline
 * opened (startup replay finished); /-/ready waits for it. True without a log.
 * Thread-safe.
 */
bool ingest_replay_done(ingest_pipeline *p);

/* Number of log partitions; 0 without a log. Thread-safe. */
int ingest_n_partitions(ingest_pipeline *p);

/*
 * One log partition and its consumer (ingest_partition_stats_get); counters since open.
 * With the Kafka backend the log_* fields, lag_records and the log counters come from a
 * snapshot at most 500 ms old (asking the brokers can block).
 */
typedef struct ingest_partition_stats {
	uint64_t log_first_offset;     /* oldest offset still stored */
	uint64_t log_next_offset;      /* offset the next durable record gets */
	uint64_t consumer_next_offset; /* next offset the consumer applies to the store */
	uint64_t checkpoint_next;      /* the log is checkpointed below this offset */
	uint64_t lag_records;          /* durable records not yet applied to the store */
	uint64_t lag_bytes;            /* bytes appended since open, not yet applied (bounded
					  by ingest.max_consumer_lag_bytes) */
	uint64_t pending_bytes;        /* log bytes not yet checkpointed (bounded by
					  ingest.max_pending_bytes) */
	uint64_t log_bytes;            /* bytes stored in the log */
	uint64_t n_segments;           /* segment files (embedded log) */
	uint64_t n_appends;            /* records appended */
	uint64_t n_append_bytes;       /* record bytes appended */
	uint64_t n_syncs;              /* fdatasync calls (group commits) */
	uint64_t n_busy;               /* appends refused with TS_EBUSY (back-pressure) */
	uint64_t n_append_errors;      /* appends failed with TS_ENOSPC or TS_EIO */
	uint64_t n_records_applied;    /* records the consumer applied */
	uint64_t n_samples_applied;    /* samples the store accepted (incl. duplicates) */
	uint64_t n_samples_rejected;   /* samples the store refused (out of order, limits) */
	uint64_t n_corrupt;            /* corrupt records or log ranges skipped */
	uint64_t cache_bytes;          /* the consumer's series cache (interned labels, store
					  references) after its last merge */
	uint64_t n_cache_drops;        /* times that cache was dropped for its bound */
	bool is_replayed;              /* the consumer finished the startup replay */
	uint64_t owned;                /* 1 while this node consumes the partition (role store:
					  assigned by the consumer group; role all: always) */
} ingest_partition_stats;

/* Fill *out for `partition` in [0, ingest_n_partitions). TS_EINVAL otherwise. Thread-safe. */
int ingest_partition_stats_get(ingest_pipeline *p, int partition, ingest_partition_stats *out,
			       ts_err *err);

/* ---------------------------------------------------------------- scraping */

/* Health of a scrape target, as Prometheus' /api/v1/targets reports it. */
typedef enum ingest_scrape_health {
	INGEST_SCRAPE_UNKNOWN = 0, /* not scraped yet */
	INGEST_SCRAPE_UP = 1,      /* the last scrape succeeded */
	INGEST_SCRAPE_DOWN = 2,    /* the last scrape failed (lastError says why) */
} ingest_scrape_health;

/* One active scrape target (ingest_scrape_targets). Every pointer is owned by the array. */
typedef struct ingest_scrape_target_info {
	char *scrape_pool;           /* the job name */
	char *scrape_url;            /* "http://127.0.0.1:9100/metrics?x=y" */
	char *global_url;            /* scrape_url with a loopback host replaced by hostname */
	ts_label *discovered_labels; /* before relabeling (__address__, __scheme__, ...); sorted */
	size_t n_discovered_labels;
	ts_label *labels; /* the target labels added to every scraped series; sorted */
	size_t n_labels;
	ingest_scrape_health health;
	char last_error[256];          /* "" when the last scrape succeeded */
	int64_t last_scrape_ms;        /* start of the last scrape, 0 = never */
	double last_scrape_duration_s; /* of the last scrape */
	int64_t interval_ms;           /* scrape interval */
	int64_t timeout_ms;            /* scrape timeout */
	uint64_t n_scrapes;            /* scrapes finished (committed) since the target appeared */
	uint64_t last_samples;         /* samples the last scrape exposed */
} ingest_scrape_target_info;

/*
 * A snapshot of the active scrape targets, sorted by scrape pool then URL. *out is an
 * array of *n_out entries returned owned (ingest_scrape_targets_free); NULL and 0 when
 * nothing is scraped. TS_ENOMEM. Thread-safe.
 */
int ingest_scrape_targets(ingest_pipeline *p, ingest_scrape_target_info **out, size_t *n_out,
			  ts_err *err);
/* Free a snapshot. NULL allowed. */
void ingest_scrape_targets_free(ingest_scrape_target_info *v, size_t n);

/* ---------------------------------------------------------------- metric metadata */

/*
 * The metric metadata registry (ingest/metadata.c): type, help and unit per metric family,
 * learned from exposition text (# TYPE/# HELP/# UNIT of scrapes and imports) and from
 * remote-write MetricMetadata; /api/v1/metadata reads it. In memory and bounded: at most
 * INGEST_METADATA_MAX_VARIANTS distinct (type, help, unit) per family (most recently seen
 * first), and least recently seen families are evicted beyond max_families or max_bytes.
 * Thread-safe: every function may be called from any thread.
 */
typedef struct ingest_metadata ingest_metadata;

#define INGEST_METADATA_MAX_VARIANTS         4    /* (type, help, unit) triples kept per family */
#define INGEST_METADATA_MAX_HELP_BYTES       4096 /* longer help is cut at a UTF-8 boundary */
#define INGEST_METADATA_MAX_NAME_BYTES       1024 /* longer family names are refused */
#define INGEST_METADATA_DEFAULT_MAX_FAMILIES ((size_t)100000)
#define INGEST_METADATA_DEFAULT_MAX_BYTES    ((size_t)32 << 20)

/* New empty registry (*out returned owned). TS_EINVAL for a zero bound, TS_ENOMEM. */
int ingest_metadata_new(size_t max_families, size_t max_bytes, ingest_metadata **out, ts_err *err);
/* NULL allowed. */
void ingest_metadata_free(ingest_metadata *m);

/*
 * Record that `family` (borrowed strings) has this type ("counter", "gauge", ...; NULL or
 * "" = "unknown"), help and unit (NULL = ""). Marks the family and the triple most
 * recently seen. TS_OK, TS_EINVAL (empty or over-long family name; counted as refused),
 * TS_ENOMEM (registry unchanged).
 */
int ingest_metadata_put(ingest_metadata *m, const char *family, const char *type, const char *help,
			const char *unit, ts_err *err);

/*
 * ingest_metadata_put as a parser metadata sink (ingest_metadata_fn in exposition.h):
 * `registry` is the ingest_metadata. Refused names are skipped; returns TS_ENOMEM only.
 */
int ingest_metadata_sink(void *registry, const char *family, const char *type, const char *help,
			 const char *unit);

/* One entry of ingest_metadata_get; strings point into the same allocation. */
typedef struct ingest_metadata_entry {
	const char *family, *type, *help, *unit;
} ingest_metadata_entry;

/*
 * Entries sorted by family name, each family's triples most recently seen first.
 * family: only that family (NULL or "" = all). limit >= 0: at most that many families
 * (negative = all); limit_per_metric > 0: at most that many triples per family (<= 0 =
 * all), as Prometheus' limit and limit_per_metric. *out is returned owned (free with
 * ingest_metadata_entries_free; NULL-safe), *n_out its length. TS_OK or TS_ENOMEM.
 */
int ingest_metadata_get(ingest_metadata *m, const char *family, long limit, long limit_per_metric,
			ingest_metadata_entry **out, size_t *n_out, ts_err *err);
void ingest_metadata_entries_free(ingest_metadata_entry *v);

typedef struct ingest_metadata_stats {
	uint64_t n_families; /* families held */
	uint64_t n_variants; /* (type, help, unit) triples held */
	uint64_t bytes;      /* memory they use */
	uint64_t n_evicted;  /* families evicted by the bounds */
	uint64_t n_refused;  /* puts refused (bad family name) */
} ingest_metadata_stats;

void ingest_metadata_stats_get(ingest_metadata *m, ingest_metadata_stats *out);

/* The pipeline's registry (borrowed; lives as long as p). Never NULL for an open p. */
ingest_metadata *ingest_pipeline_metadata(ingest_pipeline *p);

/* ---------------------------------------------------------------- cluster roles */

/*
 * What one process does (the `cluster:` section, ingest/cluster_config.c; docs/SCALING.md).
 * Roles other than `all` run on the Kafka log: `ingest` nodes produce, `store` nodes consume
 * the partitions their Kafka consumer group assigns them.
 */
typedef enum ingest_role {
	INGEST_ROLE_ALL = 0,    /* everything in one process (the default, single node) */
	INGEST_ROLE_INGEST = 1, /* stateless: parse, validate, produce to Kafka; no store */
	INGEST_ROLE_STORE = 2,  /* consume the assigned partitions into the store, serve queries */
	INGEST_ROLE_QUERY = 3,  /* no store, no log: answer queries by reading cluster.stores */
	INGEST_ROLE_ALERT = 4,  /* rules read cluster.stores; notifications through Kafka, one
				   active evaluator (alert/ha.c) */
} ingest_role;

#define INGEST_CLUSTER_NAME_MAX           64    /* node_id and replica_group, bytes */
#define INGEST_CLUSTER_REPLICA_GROUP      "a"   /* default replica group */
#define INGEST_CLUSTER_SESSION_TIMEOUT_MS 10000 /* default cluster.session_timeout */
#define INGEST_CLUSTER_MAX_STORES         256   /* cluster.stores entries */
#define INGEST_CLUSTER_ADDR_MAX           128   /* bytes of one "host:port" */
#define INGEST_CLUSTER_STATUS_INTERVAL_MS 1000  /* default cluster.status_interval */

/* The parsed `cluster:` section. */
typedef struct ingest_cluster_config {
	ingest_role role;                                /* cluster.role */
	char node_id[INGEST_CLUSTER_NAME_MAX + 1];       /* cluster.node_id (default: host name):
							    names this node in client.id and logs */
	char replica_group[INGEST_CLUSTER_NAME_MAX + 1]; /* cluster.replica_group: stores of one
							    group share the consumer group
							    <kafka.group_id>.<replica_group> */
	int64_t session_timeout_ms; /* cluster.session_timeout: a store silent this long loses its
				       partitions to the other members of its group */
	char (*stores)[INGEST_CLUSTER_ADDR_MAX + 1]; /* cluster.stores (role query): "host:port"
							of every store node; owned, free with
							ingest_cluster_config_fini */
	size_t n_stores;
	/* cluster.store_auth (nodes that read cluster.stores): credentials for the stores'
	 * internal API, owned (ingest_cluster_config_fini): a bearer token, or a user and
	 * password for basic auth; all NULL: none. */
	char *store_token, *store_user, *store_password;
	int64_t status_interval_ms; /* cluster.status_interval (nodes that read cluster.stores):
				       how long the stores' status is reused (default 1 s) */
} ingest_cluster_config;

/* Free what ingest_cluster_config_load allocated (the stores list). NULL allowed. */
void ingest_cluster_config_fini(ingest_cluster_config *c);

/* The name of a role ("all", "ingest", "store", "query", "alert"). Thread-safe. */
const char *ingest_role_name(ingest_role r);

/*
 * Parse the `cluster:` section of c (NULL or absent: role all, node_id = host name,
 * replica group "a", session timeout 10 s) into *out. Roles ingest and store need
 * `ingest.backend: kafka`; role ingest refuses series limits (ingest.max_series*: they
 * need the store); roles query and alert need cluster.stores, alert also a `kafka:`
 * section. Errors: TS_EINVAL "file:line:col: cluster.<key>: reason", and the
 * errors of the `ingest:`/`kafka:` sections when the role needs them. Thread-safe.
 */
int ingest_cluster_config_load(const ts_config *c, ingest_cluster_config *out, ts_err *err);

/*
 * The `kafka:` connection settings of a server config, for a module that runs its own
 * Kafka client (role alert: alert/ha.c). Every string is owned (ingest_kafka_settings_fini).
 */
typedef struct ingest_kafka_settings {
	char *brokers;              /* bootstrap.servers */
	char *topic;                /* kafka.topic (the log's topic) */
	char *group_id;             /* kafka.group_id */
	char *client_id;            /* kafka.client_id */
	int64_t produce_timeout_ms; /* kafka.produce_timeout */
	int64_t request_timeout_ms; /* kafka.request_timeout */
	char **property_names;      /* kafka.properties, passed through unchanged */
	char **property_values;
	size_t n_properties;
} ingest_kafka_settings;

/* Parse the `kafka:` section of c (borrowed) into *out. TS_EINVAL "... needs a kafka:
 * section" when absent, the section's parse errors, TS_ENOMEM. Thread-safe. */
int ingest_kafka_settings_load(const ts_config *c, ingest_kafka_settings *out, ts_err *err);
/* Free the strings of s. NULL allowed. */
void ingest_kafka_settings_fini(ingest_kafka_settings *s);

/* The role the pipeline runs in (its config's `cluster.role`). Thread-safe. */
ingest_role ingest_pipeline_role(const ingest_pipeline *p);

/* ---------------------------------------------------------------- snapshots (log_create.c) */

/*
 * Create an empty embedded log in directory dir (created if missing; its partition
 * directories must not exist) whose partition p continues at offset next[p] (n_partitions
 * entries, borrowed): what a store restored from a snapshot needs beside its blocks
 * (tsdb_snapshot's resume offsets). TS_OK, TS_EINVAL, TS_EEXIST, TS_EIO, TS_ENOSPC.
 * Thread-safe (touches only dir).
 */
int ingest_log_local_create_at(const char *dir, int n_partitions, const uint64_t *next,
			       ts_err *err);

#endif /* INGEST_INGEST_H */
