/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web.h: the public interface of web/: Strata's HTTP server.
 *
 * web_start() binds the listen address and serves every endpoint: Influx and
 * Prometheus writes, the Prometheus HTTP API, health/readiness, /metrics. Handlers
 * call the modules through their public headers; web/ holds no state of its own
 * beyond request counters.
 */
#ifndef WEB_WEB_H
#define WEB_WEB_H

#include "alert/alert.h"
#include "common/common.h"
#include "ingest/ingest.h"
#include "query/query.h"
#include "tsdb/tsdb.h"

#include <stdbool.h>

typedef struct web_server web_server;

/* ---------------------------------------------------------------- query fan-out */

/*
 * The series source of a node with cluster.role query (web/fanout.c): reads the stores'
 * internal read API (docs/formats/internal_read.md) in parallel with libcurl and merges
 * their answers; a store that does not answer makes the result partial with a warning.
 */
typedef struct web_fanout web_fanout;

/*
 * stores: n "host:port" addresses (borrowed, copied), the static cluster.stores list.
 * timeout_ms bounds each fan-out round; max_samples bounds each store's answer (a store
 * over it refuses, and the query fails with TS_ELIMIT), so a round holds at most
 * n x max_samples samples. *out returned owned. TS_EINVAL (no stores, a bound <= 0),
 * TS_ENOMEM, TS_EIO (libcurl init). Thread-safe once created (immutable).
 */
int web_fanout_new(const char *const *stores, size_t n, int64_t timeout_ms, int64_t max_samples,
		   web_fanout **out, ts_err *err);
void web_fanout_free(web_fanout *f); /* NULL allowed */
/*
 * Credentials for the stores' internal API (cluster.store_auth), copied: a bearer token,
 * or a user and password for basic auth (all NULL: none). Call before the first query.
 * TS_EINVAL (both kinds, or a user without a password), TS_ENOMEM.
 */
int web_fanout_set_auth(web_fanout *f, const char *token, const char *user, const char *password,
			ts_err *err);
/* The cluster.store_auth and cluster.status_interval of cc (borrowed) on f. As _set_auth. */
int web_fanout_configure(web_fanout *f, const ingest_cluster_config *cc, ts_err *err);
/* The query_source reading through f (valid while f lives; for query_options.source). */
const query_source *web_fanout_source(web_fanout *f);

/*
 * Late-write marks of the stores for a query node's range cache (web/fanout_late.c):
 * polls GET /internal/v1/late on every store (docs/formats/internal_read.md) and serves
 * them as a query_late_provider (query.h). A store that cannot be polled makes requests
 * bypass the cache until it answers again; a store that restarted drops every entry.
 * stores: n "host:port" (copied); timeout_ms bounds each poll round. *out returned owned.
 * TS_EINVAL (no stores, timeout <= 0, bad address), TS_ENOMEM, TS_EIO (libcurl init).
 */
typedef struct web_late_client web_late_client;
int web_late_client_new(const char *const *stores, size_t n, int64_t timeout_ms,
			web_late_client **out, ts_err *err);
void web_late_client_free(web_late_client *c); /* NULL allowed */
/* Store credentials, as web_fanout_set_auth. */
int web_late_client_set_auth(web_late_client *c, const char *token, const char *user,
			     const char *password, ts_err *err);
/* The provider (valid while c lives; for query_cache_options.late). */
const query_late_provider *web_late_client_provider(web_late_client *c);

typedef struct web_options {
	const char *listen;      /* "host:port"; port 0 picks a free port (borrowed) */
	int threads;             /* HTTP worker threads */
	int64_t max_body_bytes;  /* larger request bodies get 413 */
	int max_connections;     /* concurrent connections */
	int64_t read_timeout_ms; /* idle connection timeout */
	/* Limits against slow and greedy clients (docs/SECURITY.md); 0 = the default. */
	int max_connections_per_ip;     /* concurrent connections per client IP; 0 = no bound */
	int64_t read_header_timeout_ms; /* request line + headers must arrive within this */
	int64_t max_header_bytes;       /* per-connection buffer: request line and headers */
	tsdb_db *db;                    /* borrowed */
	ingest_pipeline *ingest;        /* borrowed */
	query_engine *query;            /* borrowed */
	query_cache *query_cache;       /* borrowed; NULL = range queries are not cached */
	query_late_log *late_log;       /* borrowed; role store: served on GET /internal/v1/late */
	web_fanout *fanout;             /* borrowed; set on cluster.role query (no db, no ingest) */
	const ts_config *config;        /* borrowed; shown on /api/v1/status/config */
	alert_notifier *notify;         /* borrowed; NULL: /api/v2 alerts, silences answer 503 */
	alert_manager *alerts; /* borrowed; NULL: /api/v1/rules and /api/v1/alerts are empty */
	/* POST /-/reload: re-read the config and rule files (cmd/ provides it); NULL = 500 */
	int (*reload)(void *ctx, ts_err *err);
	void *reload_ctx; /* passed to reload */
	/* borrowed; NULL = role all defaults: node id and replica group in the store status */
	const ingest_cluster_config *cluster;
} web_options;

/*
 * Start serving. *out returned owned; stop with web_stop. Errors name the address. The
 * `auth:` and `tls:` sections of o->config are parsed here (docs/SECURITY.md); their
 * errors name file:line:col.
 */
int web_start(const web_options *o, web_server **out, ts_err *err);
/* The TCP port actually bound (useful with port 0). */
int web_port(const web_server *s);
/* Mark the server ready (/-/ready answers 200 from now on). Thread-safe. */
void web_set_ready(web_server *s, bool ready);
/* Stop accepting, finish in-flight requests, free. NULL allowed. */
void web_stop(web_server *s);

/*
 * Hash a password or token with bcrypt ($2b$; cost 4..31, 0 = 10) into out (cap >= 128
 * bytes), for the `auth:` config section (`strata hash-password`). TS_EINVAL (bad cost,
 * empty secret, cap too small), TS_EIO (no randomness, crypt failed). Thread-safe.
 */
int web_auth_hash_secret(const char *secret, int cost, char *out, size_t cap, ts_err *err);

#endif /* WEB_WEB_H */
