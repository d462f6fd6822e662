/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scrape.h: the pull side of ingest (internal to ingest/ and its tests): the scrape
 * configuration (scrape_config.c) and the scrape manager (scrape.c, with scrape_target.c
 * behind scrape_int.h). Behaviour and differences from Prometheus: docs/formats/scrape.md.
 *
 * Configuration: a Prometheus-compatible subset of `global:` and `scrape_configs:`
 * (docs/formats/scrape.md). ingest_scrape_config_parse validates everything up front and
 * applies Prometheus' defaults, so the manager never sees a bad value; errors name
 * file:line:col and the key. File service discovery files (JSON or YAML target groups)
 * are parsed at run time by ingest_scrape_sd_file_parse.
 *
 * Every parsed object owns its memory through one ingest_scrape_arena (strings and
 * arrays), freed in one call: the config and a file's target groups are immutable once
 * returned, so they may be read from any thread without locks.
 *
 * The manager: one thread ("ingest-scrape") runs libcurl's multi interface for every
 * target and schedules them; worker threads ("ingest-scrape-wN") parse the bodies, apply
 * target labels, write staleness markers and the synthetic series, and commit the batch.
 */
#ifndef INGEST_SCRAPE_H
#define INGEST_SCRAPE_H

#include "ingest/ingest.h"
#include "ingest/ingest_int.h"

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- arena */

/* A bump allocator: every allocation lives until ingest_scrape_arena_free. */
typedef struct ingest_scrape_arena_chunk ingest_scrape_arena_chunk;
typedef struct ingest_scrape_arena {
	ingest_scrape_arena_chunk *head; /* newest chunk first (owned list) */
} ingest_scrape_arena;

/* Zeroed memory for n bytes (n may be 0), or NULL on ENOMEM. */
void *ingest_scrape_arena_alloc(ingest_scrape_arena *a, size_t n);
/* A copy of s[0..n) NUL-terminated, or NULL on ENOMEM. */
char *ingest_scrape_arena_strndup(ingest_scrape_arena *a, const char *s, size_t n);
/* Free every chunk; the arena is empty and reusable afterwards. */
void ingest_scrape_arena_free(ingest_scrape_arena *a);

/* ---------------------------------------------------------------- configuration */

/* A target group: static_configs entry or one entry of a file_sd file. */
typedef struct ingest_scrape_group {
	const char **targets; /* "host:port" addresses */
	size_t n_targets;
	ts_label *labels; /* group labels, sorted by name, unique (values may be "") */
	size_t n_labels;
	const char *source; /* file_sd: the file (-> __meta_filepath); NULL for static */
} ingest_scrape_group;

/* A file_sd_configs entry. */
typedef struct ingest_scrape_file_sd {
	const char **files; /* patterns, relative ones resolved against the config's dir */
	size_t n_files;
	int64_t refresh_interval_ms; /* full re-read period (default 5m) */
} ingest_scrape_file_sd;

/* One scrape_configs entry with every default applied. */
typedef struct ingest_scrape_job {
	const char *job_name; /* unique, non-empty */
	int64_t interval_ms;  /* > 0 */
	int64_t timeout_ms;   /* > 0, <= interval_ms */
	const char *metrics_path;
	const char *scheme; /* "http" or "https" */
	ts_label *params;   /* URL parameters in order (names may repeat) */
	size_t n_params;
	bool honor_labels;             /* scraped labels win over target labels */
	bool honor_timestamps;         /* use timestamps from the exposition (default true) */
	bool follow_redirects;         /* default true */
	uint64_t sample_limit;         /* samples per scrape, 0 = no limit */
	int64_t body_size_limit_bytes; /* 0 = the built-in maximum */
	/* Authentication (secrets never logged). At most one of basic and authorization. */
	const char *basic_username;        /* NULL = no basic auth */
	const char *basic_password;        /* NULL when password_file is used */
	const char *basic_password_file;   /* read at every scrape */
	const char *auth_type;             /* "Bearer" (also for bearer_token*); NULL = none */
	const char *auth_credentials;      /* inline credentials or NULL */
	const char *auth_credentials_file; /* read at every scrape, or NULL */
	/* tls_config */
	const char *tls_ca_file, *tls_cert_file, *tls_key_file;
	bool tls_insecure_skip_verify;
	ingest_scrape_group *static_groups;
	size_t n_static_groups;
	ingest_scrape_file_sd *file_sds;
	size_t n_file_sds;
} ingest_scrape_job;

typedef struct ingest_scrape_config {
	int64_t scrape_interval_ms;     /* global default (1m) */
	int64_t scrape_timeout_ms;      /* global default (10s, at most the interval) */
	int64_t evaluation_interval_ms; /* global.evaluation_interval (1m), for alert/ */
	ts_label *external_labels;      /* sorted; not applied to scraped samples */
	size_t n_external_labels;
	ingest_scrape_job *jobs; /* in file order */
	size_t n_jobs;
	ingest_scrape_arena arena; /* owns everything above */
} ingest_scrape_config;

/*
 * Parse the `global` and `scrape_configs` sections (either may be NULL) of document d.
 * base_dir (NULL = current directory) resolves relative file names as Prometheus does
 * relative to the config file. *out returned owned (ingest_scrape_config_free).
 * TS_EINVAL with "file:line:col: key: reason" for bad input; TS_ENOMEM.
 */
int ingest_scrape_config_parse(const ts_yaml_doc *d, const ts_yaml_node *global,
			       const ts_yaml_node *scrape_configs, const char *base_dir,
			       ingest_scrape_config **out, ts_err *err);
/* The same for a loaded server config (its sections and its file's directory). */
int ingest_scrape_config_load(const ts_config *c, ingest_scrape_config **out, ts_err *err);
/* NULL allowed. */
void ingest_scrape_config_free(ingest_scrape_config *c);

/* Target groups read from one file_sd file. */
typedef struct ingest_scrape_groups {
	ingest_scrape_group *groups;
	size_t n_groups;
	ingest_scrape_arena arena; /* owns everything */
} ingest_scrape_groups;

/*
 * Read a file_sd file: JSON when the name ends in .json (any case), YAML otherwise; both
 * a list of {targets: [...], labels: {...}}. Each group's source is path. *out returned
 * owned. TS_EIO (unreadable), TS_EINVAL/TS_EPARSE naming file:line:col, TS_ENOMEM.
 */
int ingest_scrape_sd_file_parse(const char *path, ingest_scrape_groups **out, ts_err *err);
/* NULL allowed. */
void ingest_scrape_groups_free(ingest_scrape_groups *g);

/* ---------------------------------------------------------------- manager */

typedef struct ingest_scraper ingest_scraper;

/* Manager settings (zero values mean the default noted). */
typedef struct ingest_scraper_options {
	int n_workers;         /* parse/commit threads; 0 = 8 */
	int64_t sd_poll_ms;    /* file_sd change check period; 0 = 1000 */
	uint64_t jitter_seed;  /* mixed into every target's offset; 0 = hostname + ext labels */
	bool no_jitter_offset; /* tests: first scrape immediately instead of at the offset */
} ingest_scraper_options;

/*
 * Start scraping every target of cfg into p. cfg is taken (freed by stop, also on
 * failure). *out is NULL when cfg has no jobs (nothing runs). TS_ENOMEM, TS_EIO
 * (thread or libcurl start failed).
 */
int ingest_scraper_start(ingest_pipeline *p, ingest_scrape_config *cfg,
			 const ingest_scraper_options *o, ingest_scraper **out, ts_err *err);
/*
 * Start from a server config: parses its sections (errors as ingest_scrape_config_load)
 * and starts with default options. *out NULL when nothing is configured.
 */
int ingest_scraper_start_config(ingest_pipeline *p, const ts_config *c, ingest_scraper **out,
				ts_err *err);
/* Stop the threads (no end-of-run staleness markers, as Prometheus at shutdown), free.
 * NULL allowed. */
void ingest_scraper_stop(ingest_scraper *s);

/* A snapshot of every active target (ingest_scrape_targets); s may be NULL (empty). */
int ingest_scraper_targets(ingest_scraper *s, ingest_scrape_target_info **out, size_t *n_out,
			   ts_err *err);

/*
 * The scrape offset of a target within its interval, as Prometheus' Target.offset: the
 * target scrapes at wall times t with t % interval_ms == offset. Pure function.
 */
int64_t ingest_scrape_offset_ms(uint64_t target_hash, uint64_t jitter_seed, int64_t interval_ms);

/* The staleness marker Prometheus writes (value/value.go StaleNaN). */
#define INGEST_STALE_NAN_BITS 0x7ff0000000000002ULL

#endif /* INGEST_SCRAPE_H */
