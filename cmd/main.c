/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: the `strata` binary: command line, config, wiring of the modules, signals.
 *
 *   strata serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--log-level L]
 *   strata hash-password [--cost N]   (password on stdin; prints a bcrypt hash)
 *   strata version
 *   strata --help
 *
 * Flags override the config file, which overrides the built-in defaults, so `strata
 * serve` with no arguments runs the embedded single node. The `cluster:` section picks
 * the role (docs/SCALING.md): `all` wires everything; `ingest` opens no store, query
 * engine or alerting (writes go to Kafka); `store` opens the store and the query engine
 * but no alerting (a store holds only its partitions' series; rules need them all);
 * `query` reads the stores (cluster.stores) through the fan-out; `alert` evaluates the
 * rules through the same fan-out and notifies in active/standby mode on Kafka.
 * SIGINT and SIGTERM drain and exit 0; they are blocked in every thread and taken by the
 * main thread with sigwait, so no handler code runs in signal context.
 */
#include "alert/alert.h"
#include "common/common.h"
#include "ingest/ingest.h"
#include "query/query.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static const char usage[] =
    "Strata: a metrics time-series database (Prometheus API, Influx line protocol).\n"
    "\n"
    "Usage:\n"
    "  strata serve [flags]     run the server (embedded single node by default)\n"
    "  strata rules check FILE...  check Prometheus rule files (like promtool check rules)\n"
    "  strata hash-password [--cost N]  read a password or token on stdin, print its bcrypt\n"
    "                           hash for the auth: config section (docs/SECURITY.md)\n"
    "  strata version           print the version\n"
    "  strata --help            this text\n"
    "\n"
    "Flags for serve (override the config file):\n"
    "  --config FILE            YAML config (every key: examples/strata.yml)\n"
    "  --listen HOST:PORT       HTTP listen address (default " TS_DEFAULT_LISTEN ")\n"
    "  --data-dir DIR           data directory (default " TS_DEFAULT_DATA_DIR ")\n"
    "  --log-level LEVEL        error, warn, info or debug (default info)\n";

typedef struct serve_flags {
	const char *config;
	const char *listen;
	const char *data_dir;
	const char *log_level;
} serve_flags;

static int parse_serve_flags(int argc, char **argv, serve_flags *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		const char *name = a;
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		if (strncmp(a, "--config", nlen) == 0 && nlen == 8)
			dst = &f->config;
		else if (strncmp(a, "--listen", nlen) == 0 && nlen == 8)
			dst = &f->listen;
		else if (strncmp(a, "--data-dir", nlen) == 0 && nlen == 10)
			dst = &f->data_dir;
		else if (strncmp(a, "--log-level", nlen) == 0 && nlen == 11)
			dst = &f->log_level;
		if (!dst) {
			fprintf(stderr, "strata serve: unknown flag '%s' (see strata --help)\n",
				name);
			return -1;
		}
		if (eq) {
			*dst = eq + 1;
		} else if (i + 1 < argc) {
			*dst = argv[++i];
		} else {
			fprintf(stderr, "strata serve: flag '%s' needs a value\n", a);
			return -1;
		}
	}
	return 0;
}

/* Build the effective config: defaults <- file <- flags. */
static int load_config(const serve_flags *f, ts_config **out)
{
	ts_err err = {0};
	ts_config *c = NULL;
	if (f->config) {
		if (ts_config_load(f->config, &c, &err) != TS_OK) {
			fprintf(stderr, "strata: config error: %s\n", err.msg);
			return -1;
		}
	} else if (!(c = ts_config_defaults())) {
		fprintf(stderr, "strata: out of memory\n");
		return -1;
	}
	if ((f->listen && ts_config_set_str(&c->server.listen, f->listen)) ||
	    (f->data_dir && ts_config_set_str(&c->storage.data_dir, f->data_dir)) ||
	    (f->log_level && ts_config_set_str(&c->log_level, f->log_level))) {
		fprintf(stderr, "strata: out of memory\n");
		ts_config_free(c);
		return -1;
	}
	char host[256];
	int port;
	if (ts_config_split_hostport(c->server.listen, host, sizeof(host), &port, &err)) {
		fprintf(stderr, "strata: --listen: %s\n", err.msg);
		ts_config_free(c);
		return -1;
	}
	if (ts_log_level_parse(c->log_level) < 0) {
		fprintf(stderr,
			"strata: --log-level: '%s' is not one of error, warn, info, debug\n",
			c->log_level);
		ts_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

/*
 * Reloading (SIGHUP and POST /-/reload): re-read --config with the same flag overrides
 * and hand it to the alerting modules. A config that loaded is kept until the next
 * successful reload (modules may borrow it); the first one lives until exit because
 * ingest and web borrow it. Serialized by mu (the main thread and HTTP threads reload).
 */
typedef struct reloader {
	pthread_mutex_t mu;
	const serve_flags *flags;
	ts_config *initial;       /* borrowed by every module until exit */
	ts_config *current;       /* the last config loaded (owned unless it is initial) */
	alert_manager *alerts;    /* rules */
	alert_notifier *notifier; /* notifications */
} reloader;

static int reload_config(void *ctx, ts_err *err)
{
	reloader *r = ctx;
	pthread_mutex_lock(&r->mu);
	ts_config *c = NULL;
	int rc = r->flags->config             ? ts_config_load(r->flags->config, &c, err)
		 : (c = ts_config_defaults()) ? TS_OK
					      : ts_err_set(err, TS_ENOMEM, "out of memory");
	if (rc == TS_OK &&
	    ((r->flags->listen && ts_config_set_str(&c->server.listen, r->flags->listen)) ||
	     (r->flags->data_dir && ts_config_set_str(&c->storage.data_dir, r->flags->data_dir))))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	if (rc == TS_OK && r->alerts)
		rc = alert_manager_reload(r->alerts, c, err);
	if (rc == TS_OK && r->notifier)
		rc = alert_notifier_reload(r->notifier, c, err);
	if (rc == TS_OK) {
		if (r->current != r->initial)
			ts_config_free(r->current);
		r->current = c;
	} else {
		ts_config_free(c);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static void print_banner(const ts_config *c, int port)
{
	char host[256];
	int cfg_port;
	if (ts_config_split_hostport(c->server.listen, host, sizeof(host), &cfg_port, NULL))
		snprintf(host, sizeof(host), "127.0.0.1");
	const char *h = (!strcmp(host, "0.0.0.0") || !host[0]) ? "127.0.0.1" : host;
	const ts_yaml_node *tls = ts_config_section(c, "tls");
	if (tls && !ts_yaml_is_null(tls)) { /* web_start has checked the section */
		printf("Strata %s listening on https://%s:%d (data in %s)\n", STRATA_VERSION, h,
		       port, c->storage.data_dir);
		fflush(stdout);
		return;
	}
	printf("Strata %s listening on http://%s:%d (data in %s)\n\n"
	       "Try it:\n"
	       "  curl -i -XPOST 'http://%s:%d/write?precision=s' "
	       "--data-binary \"cpu,host=laptop usage_user=12.5 $(date +%%s)\"\n"
	       "  curl -s 'http://%s:%d/api/v1/query?query=cpu_usage_user'\n"
	       "  curl -s 'http://%s:%d/api/v1/query_range?query=cpu_usage_user"
	       "&start='$(( $(date +%%s) - 600 ))'&end='$(date +%%s)'&step=15'\n"
	       "Point Grafana's Prometheus data source at http://%s:%d\n"
	       "Press Ctrl-C to stop.\n",
	       STRATA_VERSION, h, port, c->storage.data_dir, h, port, h, port, h, port, h, port);
	fflush(stdout);
}

/*
 * Wait for SIGINT or SIGTERM; on SIGHUP reload the config through rl (NULL: ignore SIGHUP,
 * there is nothing to reload).
 */
static void wait_for_stop(const sigset_t *sigs, reloader *rl)
{
	for (;;) {
		int sig = 0;
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			ts_err rerr = {0};
			if (!rl)
				continue;
			if (reload_config(rl, &rerr))
				ts_log_error("SIGHUP: reload failed, keeping the old config: %s",
					     rerr.msg);
			else
				ts_log_info("SIGHUP: configuration reloaded");
			continue;
		}
		ts_log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
}

/*
 * The notifier (ha: active/standby on Kafka, NULL: single node) and the rules evaluated
 * through qe (results written to ing; NULL: not written), set in rl->notifier and
 * rl->alerts (the caller's to free, also on failure). 0, or -1 after logging the error.
 */
static int start_alerting(ts_config *cfg, const char *ext_url, const alert_ha_options *ha,
			  query_engine *qe, ingest_pipeline *ing, reloader *rl)
{
	ts_err err = {0};
	alert_notifier_options nopt = {
	    .config = cfg, .data_dir = cfg->storage.data_dir, .external_url = ext_url, .ha = ha};
	if (alert_notifier_new(&nopt, &rl->notifier, &err)) {
		ts_log_error("cannot start the alert notifier: %s", err.msg);
		return -1;
	}
	alert_options aopt = {.config = cfg,
			      .query = qe,
			      .ingest = ing,
			      .data_dir = cfg->storage.data_dir,
			      .external_url = ext_url,
			      .notifier = rl->notifier};
	if (alert_manager_new(&aopt, &rl->alerts, &err)) {
		ts_log_error("cannot load the rules: %s", err.msg);
		return -1;
	}
	return 0;
}

/* The query engine's options from the `query:` section (source or db left to the caller). */
static void engine_options(const ts_config *cfg, query_options *qopt)
{
	query_options_init(qopt);
	qopt->lookback_delta_ms = cfg->query.lookback_delta_ms;
	qopt->timeout_ms = cfg->query.timeout_ms;
	qopt->max_samples = cfg->query.max_samples;
	qopt->max_series = (size_t)cfg->query.max_series;
}

/*
 * Roles query and alert: the fan-out to cluster.stores and a query engine reading through
 * it. 0, or -1 after logging the error (*fan and *qe, when set, are the caller's to free).
 */
static int start_fanout_engine(const ts_config *cfg, const ingest_cluster_config *cluster,
			       web_fanout **fan, query_engine **qe)
{
	ts_err err = {0};
	const char *stores[INGEST_CLUSTER_MAX_STORES];
	for (size_t i = 0; i < cluster->n_stores; i++)
		stores[i] = cluster->stores[i];
	if (web_fanout_new(stores, cluster->n_stores, cfg->query.timeout_ms, cfg->query.max_samples,
			   fan, &err) ||
	    web_fanout_configure(*fan, cluster, &err)) {
		ts_log_error("cannot start the fan-out: %s", err.msg);
		return -1;
	}
	query_options qopt;
	engine_options(cfg, &qopt);
	qopt.source = web_fanout_source(*fan);
	if (query_engine_new(&qopt, qe, &err)) {
		ts_log_error("cannot start the query engine: %s", err.msg);
		return -1;
	}
	return 0;
}

/*
 * Start the HTTP server with wopt (its `server:` settings filled in here from cfg) and
 * mark it ready. 0, or -1 after logging the error.
 */
static int start_web(const ts_config *cfg, web_options *wopt, web_server **web)
{
	ts_err err = {0};
	wopt->listen = cfg->server.listen;
	wopt->threads = (int)cfg->server.threads;
	wopt->max_body_bytes = cfg->server.max_body_bytes;
	wopt->max_connections = (int)cfg->server.max_connections;
	wopt->read_timeout_ms = cfg->server.read_timeout_ms;
	wopt->max_connections_per_ip = (int)cfg->server.max_connections_per_ip;
	wopt->read_header_timeout_ms = cfg->server.read_header_timeout_ms;
	wopt->max_header_bytes = cfg->server.max_header_bytes;
	if (web_start(wopt, web, &err)) {
		ts_log_error("cannot start the HTTP server: %s", err.msg);
		return -1;
	}
	web_set_ready(*web, true);
	return 0;
}

/*
 * cluster.role query: no store, no log, no alerting. The engine reads through the
 * fan-out to cluster.stores (web/fanout.c); range queries go through the range cache,
 * invalidated by the stores' late-write marks (web/fanout_late.c polls them; a store that
 * cannot be polled makes requests bypass the cache). Returns the process status.
 */
static int serve_query_role(ts_config *cfg, const ingest_cluster_config *cluster,
			    const sigset_t *sigs)
{
	ts_err err = {0};
	int status = 1;
	web_fanout *fan = NULL;
	query_engine *qe = NULL;
	web_late_client *late = NULL;
	query_cache *qcache = NULL;
	web_server *web = NULL;
	const char *stores[INGEST_CLUSTER_MAX_STORES];
	for (size_t i = 0; i < cluster->n_stores; i++)
		stores[i] = cluster->stores[i];
	if (start_fanout_engine(cfg, cluster, &fan, &qe))
		goto out;
	int64_t poll_ms = cfg->query.timeout_ms < 1000 ? cfg->query.timeout_ms : 1000;
	query_cache_options copt = {.max_bytes = (size_t)cfg->query.cache_max_bytes,
				    .freshness_ms = cfg->query.cache_freshness_ms};
	if (web_late_client_new(stores, cluster->n_stores, poll_ms, &late, &err) ||
	    web_late_client_set_auth(late, cluster->store_token, cluster->store_user,
				     cluster->store_password, &err)) {
		ts_log_error("cannot start the query cache: %s", err.msg);
		goto out;
	}
	copt.late = web_late_client_provider(late);
	if (query_cache_new(qe, &copt, &qcache, &err)) {
		ts_log_error("cannot start the query cache: %s", err.msg);
		goto out;
	}
	web_options wopt = {
	    .query = qe,
	    .query_cache = qcache,
	    .fanout = fan,
	    .config = cfg,
	};
	if (start_web(cfg, &wopt, &web))
		goto out;
	ts_log_info("strata %s ready on %s (role query, node %s, %zu stores)", STRATA_VERSION,
		    cfg->server.listen, cluster->node_id, cluster->n_stores);
	print_banner(cfg, web_port(web));
	wait_for_stop(sigs, NULL); /* nothing to reload: the store list is static */
	status = 0;
out:
	web_stop(web);
	query_cache_free(qcache);
	web_late_client_free(late);
	query_engine_free(qe);
	web_fanout_free(fan);
	return status;
}

/*
 * cluster.role alert: rules evaluated through the fan-out to cluster.stores (like role
 * query), the notifier in active/standby mode on Kafka (alert/ha.c): every alert node
 * evaluates and groups, the member of consumer group <kafka.group_id>.alert owning
 * partition 0 of <kafka.topic>-alerts publishes and delivers. Rule results (recording
 * rules, ALERTS) are not written: there is no log producer on this node. State (silences,
 * nlog file) lives in the data directory. Returns the process status.
 */
static int serve_alert_role(ts_config *cfg, const serve_flags *f,
			    const ingest_cluster_config *cluster, const sigset_t *sigs)
{
	ts_err err = {0};
	int status = 1;
	web_fanout *fan = NULL;
	query_engine *qe = NULL;
	alert_notifier *notifier = NULL;
	alert_manager *alerts = NULL;
	web_server *web = NULL;
	ingest_kafka_settings ks = {0};
	reloader rl = {.mu = PTHREAD_MUTEX_INITIALIZER, .flags = f, .initial = cfg, .current = cfg};
	if (ingest_kafka_settings_load(cfg, &ks, &err)) {
		ts_log_error("config error: %s", err.msg);
		goto out;
	}
	if (mkdir(cfg->storage.data_dir, 0755) != 0 && errno != EEXIST) {
		ts_log_error("cannot create data directory %s: %s", cfg->storage.data_dir,
			     strerror(errno));
		goto out;
	}
	if (start_fanout_engine(cfg, cluster, &fan, &qe))
		goto out;
	char topic[600], group[600], client[600], ext_url[300];
	snprintf(topic, sizeof(topic), "%s-alerts", ks.topic);
	snprintf(group, sizeof(group), "%s.alert", ks.group_id);
	snprintf(client, sizeof(client), "%s-%s", ks.client_id, cluster->node_id);
	snprintf(ext_url, sizeof(ext_url), "http://%s", cfg->server.listen);
	alert_ha_options hopt = {
	    .brokers = ks.brokers,
	    .topic = topic,
	    .group_id = group,
	    .client_id = client,
	    .session_timeout_ms = cluster->session_timeout_ms,
	    .timeout_ms = ks.produce_timeout_ms,
	    .property_names = (const char *const *)ks.property_names,
	    .property_values = (const char *const *)ks.property_values,
	    .n_properties = ks.n_properties,
	};
	int arc = start_alerting(cfg, ext_url, &hopt, qe, NULL, &rl);
	notifier = rl.notifier;
	alerts = rl.alerts;
	if (arc)
		goto out;
	web_options wopt = {
	    .query = qe,
	    .fanout = fan,
	    .config = cfg,
	    .notify = notifier,
	    .alerts = alerts,
	    .reload = reload_config,
	    .reload_ctx = &rl,
	};
	if (start_web(cfg, &wopt, &web))
		goto out;
	ts_log_info("strata %s ready on %s (role alert, node %s, %zu stores, notifications "
		    "through %s, group %s)",
		    STRATA_VERSION, cfg->server.listen, cluster->node_id, cluster->n_stores, topic,
		    group);
	print_banner(cfg, web_port(web));
	wait_for_stop(sigs, &rl);
	status = 0;
out:
	web_stop(web);
	alert_manager_free(alerts);
	alert_notifier_free(notifier); /* leaves the group: a standby takes over at once */
	query_engine_free(qe);
	web_fanout_free(fan);
	ingest_kafka_settings_fini(&ks);
	if (rl.current != cfg)
		ts_config_free(rl.current);
	return status;
}

static int serve(int argc, char **argv)
{
	serve_flags f;
	if (parse_serve_flags(argc, argv, &f))
		return 2;
	ts_config *cfg;
	if (load_config(&f, &cfg))
		return 2;
	ts_log_set_level((ts_log_level)ts_log_level_parse(cfg->log_level));

	/* Block the signals before any thread starts so every thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	int status = 1;
	ts_err err = {0};
	tsdb_db *db = NULL;
	ingest_pipeline *ing = NULL;
	query_engine *qe = NULL;
	query_cache *qcache = NULL;
	query_late_log *late_log = NULL; /* role store: late marks for its cache and query nodes */
	alert_notifier *notifier = NULL;
	alert_manager *alerts = NULL;
	web_server *web = NULL;
	reloader rl = {
	    .mu = PTHREAD_MUTEX_INITIALIZER, .flags = &f, .initial = cfg, .current = cfg};

	ingest_cluster_config cluster = {0};
	if (ingest_cluster_config_load(cfg, &cluster, &err)) {
		ts_log_error("config error: %s", err.msg);
		goto out;
	}
	if (cluster.role == INGEST_ROLE_QUERY) {
		status = serve_query_role(cfg, &cluster, &sigs);
		goto out;
	}
	if (cluster.role == INGEST_ROLE_ALERT) {
		status = serve_alert_role(cfg, &f, &cluster, &sigs);
		goto out;
	}
	bool has_store = cluster.role != INGEST_ROLE_INGEST;
	bool has_alerting = cluster.role == INGEST_ROLE_ALL;
	if (!has_alerting &&
	    (ts_config_section(cfg, "rule_files") || ts_config_section(cfg, "alerting")))
		ts_log_warn(
		    "cluster.role %s: rule_files and alerting are not evaluated on this node "
		    "(rules need every series: run them on nodes with role alert)",
		    ingest_role_name(cluster.role));
	if (has_store && mkdir(cfg->storage.data_dir, 0755) != 0 && errno != EEXIST) {
		ts_log_error("cannot create data directory %s: %s", cfg->storage.data_dir,
			     strerror(errno));
		goto out;
	}
	tsdb_options topt;
	tsdb_options_init(&topt);
	topt.dir = cfg->storage.data_dir;
	topt.out_of_order_window_ms = cfg->storage.out_of_order_window_ms;
	topt.block_duration_ms = cfg->storage.block_duration_ms;
	topt.retention_raw_ms = cfg->storage.retention_raw_ms;
	topt.retention_1m_ms = cfg->storage.retention_1m_ms;
	topt.retention_1h_ms = cfg->storage.retention_1h_ms;
	topt.max_block_duration_ms = cfg->storage.max_block_duration_ms;
	topt.cold_dir = cfg->storage.cold_dir;
	topt.cold_after_ms = cfg->storage.cold_after_ms;
	/* the store tracks an applied offset per log partition */
	if (ingest_config_partitions(cfg, &topt.n_partitions, &err)) {
		ts_log_error("config error: %s", err.msg);
		goto out;
	}
	if (has_store && tsdb_open(&topt, &db, &err)) {
		ts_log_error("cannot open the store: %s", err.msg);
		goto out;
	}
	ingest_options iopt;
	ingest_options_init(&iopt);
	iopt.db = db;
	iopt.config = cfg;
	if (ingest_open(&iopt, &ing, &err)) {
		ts_log_error("cannot start ingest: %s", err.msg);
		goto out;
	}
	if (!has_store)
		goto web; /* role ingest: writes only */
	query_options qopt;
	engine_options(cfg, &qopt);
	qopt.db = db;
	if (query_engine_new(&qopt, &qe, &err)) {
		ts_log_error("cannot start the query engine: %s", err.msg);
		goto out;
	}
	query_cache_options copt = {.max_bytes = (size_t)cfg->query.cache_max_bytes,
				    .freshness_ms = cfg->query.cache_freshness_ms};
	if (cluster.role == INGEST_ROLE_STORE &&
	    query_late_log_new(db, 0, &late_log, &err) == TS_OK)
		copt.late = query_late_log_provider(late_log);
	if ((cluster.role == INGEST_ROLE_STORE && !late_log) ||
	    query_cache_new(qe, &copt, &qcache, &err)) {
		ts_log_error("cannot start the query cache: %s", err.msg);
		goto out;
	}
	/* The notifier (alerting: section): alerts arrive from the rules and on
	 * POST /api/v2/alerts. */
	char ext_url[300];
	snprintf(ext_url, sizeof(ext_url), "http://%s", cfg->server.listen);
	if (!has_alerting)
		goto web;
	/* Rule groups (rule_files: section) are evaluated through the query engine. */
	int arc = start_alerting(cfg, ext_url, NULL, qe, ing, &rl);
	notifier = rl.notifier;
	alerts = rl.alerts;
	if (arc)
		goto out;
web:;
	web_options wopt = {
	    .db = db,
	    .ingest = ing,
	    .query = qe,
	    .query_cache = qcache,
	    .late_log = late_log,
	    .config = cfg,
	    .cluster = &cluster,
	    .notify = notifier,
	    .alerts = alerts,
	    .reload = reload_config,
	    .reload_ctx = &rl,
	};
	if (start_web(cfg, &wopt, &web))
		goto out;
	ts_log_info("strata %s ready on %s (role %s, node %s, replica group %s)", STRATA_VERSION,
		    cfg->server.listen, ingest_role_name(cluster.role), cluster.node_id,
		    cluster.replica_group);
	print_banner(cfg, web_port(web));

	wait_for_stop(&sigs, &rl);
	status = 0;
out:
	web_stop(web);
	alert_manager_free(alerts);
	alert_notifier_free(notifier);
	query_cache_free(qcache);
	query_late_log_free(late_log);
	query_engine_free(qe);
	ingest_close(ing);
	tsdb_close(db);
	ingest_cluster_config_fini(&cluster);
	if (status == 0)
		ts_log_info("stopped cleanly");
	if (rl.current != cfg)
		ts_config_free(rl.current);
	ts_config_free(cfg);
	return status;
}

/* strata hash-password: the secret comes from stdin (not argv: shell history, ps). */
static int hash_password(int argc, char **argv)
{
	int cost = 10;
	for (int i = 0; i < argc; i++) {
		char *end = NULL;
		long v = 0;
		if (!strcmp(argv[i], "--cost") && i + 1 < argc) {
			errno = 0;
			v = strtol(argv[++i], &end, 10);
		}
		if (!end || *end || errno || v < 4 || v > 31) {
			fprintf(stderr, "usage: strata hash-password [--cost 4..31] < secret\n");
			return 2;
		}
		cost = (int)v;
	}
	bool is_tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	if (is_tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fputs("Password: ", stderr);
	} else {
		is_tty = false;
	}
	char line[1024];
	bool got = fgets(line, sizeof(line), stdin) != NULL;
	if (is_tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputs("\n", stderr);
	}
	if (!got) {
		fprintf(stderr, "strata hash-password: no password on stdin\n");
		return 1;
	}
	line[strcspn(line, "\r\n")] = '\0';
	char hash[128];
	ts_err err = {0};
	int rc = web_auth_hash_secret(line, cost, hash, sizeof(hash), &err);
	memset(line, 0, sizeof(line));
	if (rc) {
		fprintf(stderr, "strata hash-password: %s\n", err.msg);
		return 1;
	}
	printf("%s\n", hash);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("strata %s\n", STRATA_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "hash-password"))
		return hash_password(argc - 2, argv + 2);
	if (!strcmp(argv[1], "rules")) {
		if (argc < 4 || strcmp(argv[2], "check")) {
			fprintf(stderr, "usage: strata rules check FILE...\n");
			return 2;
		}
		return alert_rules_check_files(argv + 3, (size_t)(argc - 3), stdout, stderr);
	}
	fprintf(stderr, "strata: unknown command '%s' (see strata --help)\n", argv[1]);
	return 2;
}
