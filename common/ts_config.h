/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_config.h: the server configuration (YAML, see examples/strata.yml for every key).
 *
 * ts_config_defaults() gives a config that runs with no file at all. ts_config_load()
 * overlays a YAML file on the defaults; unknown keys and bad values are errors naming
 * file:line:column and the key. Command-line flags are applied by cmd/ afterwards.
 * A loaded config is immutable; reload builds a new one and swaps the pointer.
 */
#ifndef COMMON_TS_CONFIG_H
#define COMMON_TS_CONFIG_H

#include "common/ts_err.h"
#include "common/ts_yaml.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_DEFAULT_LISTEN   "127.0.0.1:9470"
#define TS_DEFAULT_DATA_DIR "./data"

typedef struct ts_config_server {
	char *listen;                   /* "host:port" */
	int64_t max_body_bytes;         /* request bodies larger than this get 413 */
	int64_t max_connections;        /* concurrent HTTP connections */
	int64_t read_timeout_ms;        /* idle connection timeout */
	int64_t threads;                /* HTTP worker threads */
	int64_t max_connections_per_ip; /* concurrent connections per client IP; 0 = no bound */
	int64_t read_header_timeout_ms; /* request line + headers must arrive within this */
	int64_t max_header_bytes;       /* per-connection buffer for request line + headers */
} ts_config_server;

typedef struct ts_config_storage {
	char *data_dir;                 /* root of all on-disk state */
	int64_t retention_raw_ms;       /* raw tier retention */
	int64_t retention_1m_ms;        /* 1-minute tier retention */
	int64_t retention_1h_ms;        /* 1-hour tier retention */
	int64_t out_of_order_window_ms; /* accept samples this far behind a series' newest */
	int64_t block_duration_ms;      /* time span of a raw block */
	int64_t max_block_duration_ms;  /* longest block compaction builds (see tsdb compact.c) */
	char *cold_dir;                 /* optional directory for old blocks, NULL = none */
	int64_t cold_after_ms;          /* blocks whose range ended this long ago move cold */
} ts_config_storage;

typedef struct ts_config_query {
	int64_t lookback_delta_ms;  /* instant-vector lookback (Prometheus: 5m) */
	int64_t timeout_ms;         /* per-query timeout */
	int64_t max_samples;        /* samples loaded per query */
	int64_t max_series;         /* series returned per query */
	int64_t cache_max_bytes;    /* range-read cache bound (query/cache.c); 0 = disabled */
	int64_t cache_freshness_ms; /* range results newer than now - this are not cached */
} ts_config_query;

typedef struct ts_config {
	char *source; /* file the config came from, or NULL for defaults */
	char *log_level;
	ts_config_server server;
	ts_config_storage storage;
	ts_config_query query;
	ts_yaml_doc *doc; /* the parsed file (owned), NULL for defaults; module sections */
} ts_config;

/* A config with every default (returned owned), or NULL on ENOMEM. */
ts_config *ts_config_defaults(void);
/* Load `path` over the defaults; *out returned owned. Errors name file:line:col. */
int ts_config_load(const char *path, ts_config **out, ts_err *err);
/* Replace an owned string field with a copy of v. TS_ENOMEM on failure (field unchanged). */
int ts_config_set_str(char **field, const char *v);
void ts_config_free(ts_config *c);

/*
 * Sections owned by other modules ("global", "scrape_configs", "ingest", "kafka",
 * "rule_files", "alerting", "alertmanager", "remote_write", "auth", "tls", "cluster"):
 * common/ accepts these top-level keys and keeps the document; the owning module parses
 * its section and reports errors with ts_yaml_error(ts_config_doc(c), node, ...).
 * ts_config_section returns the section's node (borrowed) or NULL when absent or when
 * the config came from defaults.
 */
const ts_yaml_node *ts_config_section(const ts_config *c, const char *name);
const ts_yaml_doc *ts_config_doc(const ts_config *c);

/*
 * Split "host:port" ("[::1]:9470", ":9470" too) into host (cap bytes) and port 0-65535,
 * as Go's net.SplitHostPort: an IPv6 host needs brackets, the port is decimal digits
 * only. TS_EINVAL if bad (host and port untouched then).
 */
int ts_config_split_hostport(const char *s, char *host, size_t cap, int *port, ts_err *err);

#endif /* COMMON_TS_CONFIG_H */
