/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert.h: the public interface of alert/: alerting and recording rules, and the
 * notification pipeline (routing, grouping, dedup, silences, durable delivery).
 *
 * An alert_manager owns both halves: rule groups evaluated through the query engine
 * (results written back through ingest: recording rules, ALERTS, ALERTS_FOR_STATE), and
 * the notifier that turns firing/resolved alerts into webhook and email notifications
 * through a durable on-disk outbox.
 *
 * Thread-safety: every function may be called from any thread unless noted.
 */
#ifndef ALERT_ALERT_H
#define ALERT_ALERT_H

#include "common/common.h"
#include "ingest/ingest.h"
#include "query/query.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct alert_manager alert_manager;
typedef struct alert_notifier alert_notifier;

typedef struct alert_options {
	const ts_config *config;  /* borrowed: rule_files, alerting sections */
	query_engine *query;      /* borrowed */
	ingest_pipeline *ingest;  /* borrowed: where rule results are written */
	const char *data_dir;     /* state (outbox, notification log, silences) lives below */
	const char *external_url; /* for generatorURL and links; NULL = http://<listen> */
	alert_notifier *notifier; /* borrowed: where firing/resolved alerts are posted;
				     NULL = alerts are only counted and logged */
} alert_options;

/* Load rules and the notification config, start evaluation and delivery threads. */
int alert_manager_new(const alert_options *o, alert_manager **out, ts_err *err);
/*
 * Reload rules and notification config from `config` (borrowed; must outlive the
 * manager until the next reload). On any error the old configuration stays active and
 * the error (file:line:col) is returned.
 */
int alert_manager_reload(alert_manager *m, const ts_config *config, ts_err *err);
/* Stop threads (pending notifications stay in the outbox) and free. NULL allowed. */
void alert_manager_free(alert_manager *m);

/* ================================================================ rules (alert/rules*.c) */

/*
 * The rule engine (alert/rule_file.c, rules.c, rules_eval.c): Prometheus rule files named
 * by the config's `rule_files:` (glob patterns relative to the config file's directory),
 * recording and alerting rules evaluated group by group, each group on its own timer at
 * the slot Prometheus would use (a hash of file and group name picks the offset within
 * the interval; global.evaluation_interval by default). Recording results, ALERTS and
 * ALERTS_FOR_STATE are written through ingest_write_samples like any other write, with
 * staleness markers when a series disappears. Active alerts are posted every resend delay
 * and resolved ones for 15 minutes after resolution, as Prometheus sends them to
 * Alertmanager. After a restart the `for` state is restored from ALERTS_FOR_STATE so a
 * firing alert stays firing. Semantics and differences from Prometheus:
 * docs/formats/rules.md.
 */
typedef struct alert_rules alert_rules;
struct alert_posted; /* an alert as posted: alert/alert_int.h */

typedef struct alert_rules_options {
	query_engine *query;     /* borrowed: evaluates rule expressions */
	ingest_pipeline *ingest; /* borrowed: recording results, ALERTS, ALERTS_FOR_STATE */
	/* Where alerts go: an alert_post_fn (alert/alert_int.h), e.g. alert_notifier_post with
	 * its notifier as post_ctx. Called from evaluation threads. NULL = nowhere. */
	int (*post)(void *ctx, const struct alert_posted *alerts, size_t n, ts_err *err);
	void *post_ctx;
	const char *external_url;      /* copied; $externalURL and generator URLs; NULL = "" */
	int64_t resend_delay_ms;       /* --rules.alert.resend-delay: 1m */
	int64_t resolved_retention_ms; /* resolved alerts are re-sent this long: 15m */
	int64_t outage_tolerance_ms;   /* --rules.alert.for-outage-tolerance: 1h */
	int64_t for_grace_period_ms;   /* --rules.alert.for-grace-period: 10m */
	int64_t lookback_delta_ms;     /* the query engine's lookback delta: 5m */
	int n_workers;                 /* groups evaluated at the same time: 4 */
	bool is_manual;                /* tests: start no threads (alert/rules_int.h) */
} alert_rules_options;

/* Defaults (query, ingest and post must be set by the caller). */
void alert_rules_options_init(alert_rules_options *o);

/*
 * Load the rule files of `config` (borrowed for the call; NULL = no rules) and start
 * evaluating ("rules-<n>" threads). Groups loaded here restore their alerts' `for` state
 * on their first evaluation. *out returned owned. Errors name file:line:col:
 * TS_EINVAL/TS_EPARSE (a bad rule file, pattern or global section), TS_EIO, TS_ENOMEM.
 */
int alert_rules_new(const alert_rules_options *o, const ts_config *config, alert_rules **out,
		    ts_err *err);
/*
 * Re-read the rule files of `config` (borrowed for the call) and swap them in
 * atomically: on any error nothing changes and the first error is returned (with the
 * count of the others). Unchanged groups keep running untouched; changed groups keep the
 * alerts of rules with the same name and labels; removed groups' series get staleness
 * markers. Thread-safe; concurrent reloads are serialized.
 */
int alert_rules_reload(alert_rules *r, const ts_config *config, ts_err *err);
/* Stop the threads (waiting for evaluations in progress) and free. NULL allowed. */
void alert_rules_free(alert_rules *r);

/*
 * `strata rules check FILE...`: check each file like `promtool check rules` and print
 * "Checking FILE" then "  SUCCESS: N rules found" to out, or "  FAILED:" and every error
 * (file:line:col: ...) to errout. Returns 0 when every file is valid, 1 otherwise.
 */
int alert_rules_check_files(char *const *paths, size_t n, FILE *out, FILE *errout);

/* --- snapshots for the HTTP API (/api/v1/rules, /api/v1/alerts). */

/* An active (pending or firing) alert. */
typedef struct alert_rules_alert_info {
	const ts_label *labels; /* sorted */
	size_t n_labels;
	const ts_label *annotations; /* sorted */
	size_t n_annotations;
	const char *state;            /* "pending" or "firing" */
	int64_t active_at_ms;         /* when it became active */
	int64_t keep_firing_since_ms; /* 0 unless kept firing by keep_firing_for */
	double value;                 /* the expression's value at the last evaluation */
} alert_rules_alert_info;

typedef struct alert_rules_rule_info {
	bool is_alert;     /* alerting or recording rule */
	const char *name;  /* alert or record name */
	const char *query; /* the expression as written */
	int64_t for_ms;    /* alerting */
	int64_t keep_firing_for_ms;
	const ts_label *labels; /* the rule's labels (templates unexpanded), sorted */
	size_t n_labels;
	const ts_label *annotations; /* alerting; sorted */
	size_t n_annotations;
	const char *state;              /* alerting: "inactive", "pending" or "firing" */
	const char *health;             /* "ok", "err" or "unknown" (not evaluated yet) */
	const char *last_error;         /* "" when the last evaluation succeeded */
	int64_t last_eval_ms;           /* 0 = never */
	double eval_s;                  /* duration of the last evaluation */
	alert_rules_alert_info *alerts; /* alerting: the active alerts */
	size_t n_alerts;
} alert_rules_rule_info;

typedef struct alert_rules_group_info {
	const char *name;
	const char *file;
	int64_t interval_ms;
	int64_t limit;        /* 0 = none */
	int64_t last_eval_ms; /* 0 = never */
	double eval_s;        /* duration of the last evaluation */
	alert_rules_rule_info *rules;
	size_t n_rules;
} alert_rules_group_info;

/* Groups sorted by file then name (Prometheus' order). Everything lives in priv. */
typedef struct alert_rules_snapshot {
	alert_rules_group_info *groups;
	size_t n_groups;
	void *priv; /* memory owned by the snapshot */
} alert_rules_snapshot;

/* Copy the current state. *out returned owned (alert_rules_snapshot_free). TS_ENOMEM. */
int alert_rules_snapshot_get(alert_rules *r, alert_rules_snapshot **out, ts_err *err);
/* NULL allowed. */
void alert_rules_snapshot_free(alert_rules_snapshot *s);

/* Room for alert_rules_format_value's text, NUL included. */
#define ALERT_RULES_VALUE_TEXT_MAX 40
/* An alert's value as Prometheus' API prints it (Go's %e shortest: "1e+00", "4.2e+01",
 * "NaN", "+Inf"). Returns the length. Thread-safe. */
size_t alert_rules_format_value(char out[ALERT_RULES_VALUE_TEXT_MAX], double v);

/* The manager's rule engine (borrowed; valid until alert_manager_free), never NULL. */
alert_rules *alert_manager_rules(alert_manager *m);

/* ================================================================ notifications */

/*
 * The notifier: Alertmanager's job inside Strata (alert/notify*.c, route.c, nlog.c,
 * outbox.c, silences.c, webhook.c, email.c; config and differences from Alertmanager in
 * docs/formats/alerting.md). Alerts posted to it are grouped by the route tree of the
 * `alerting:` config, muted by inhibit rules and silences, deduplicated against the
 * notification log, and delivered through a durable on-disk outbox. State lives under
 * <data_dir>/alerting/: nlog, silences, outbox/.
 */
typedef struct alert_notifier alert_notifier;
/* An alert as posted (defined in alert/alert_int.h; the rules engine's type). */
typedef struct alert_posted alert_posted;

/*
 * Active/standby notification through Kafka (cluster.role alert; alert/ha.c,
 * docs/formats/kafka.md "Alert notifications"). Every node evaluates and groups; the
 * member of consumer group `group_id` that is assigned partition 0 of `topic` is the active
 * one: only it publishes notifications (records carrying the payload and the nlog record)
 * to partition 0, and only it delivers them, reading from the group's committed offset and
 * committing after each delivery. Every node reads the topic from its start and applies
 * the nlog records, so a standby that takes over does not notify again what was notified.
 * Strings are borrowed for alert_notifier_new (copied).
 */
typedef struct alert_ha_options {
	const char *brokers;               /* bootstrap.servers */
	const char *topic;                 /* the notification topic ("<kafka.topic>-alerts") */
	const char *group_id;              /* the electing group ("<kafka.group_id>.alert") */
	const char *client_id;             /* client.id of this node's handles */
	int64_t session_timeout_ms;        /* a silent active node loses partition 0 after this */
	int64_t timeout_ms;                /* produce acknowledgement and commit timeout */
	const char *const *property_names; /* librdkafka properties passed through */
	const char *const *property_values;
	size_t n_properties;
} alert_ha_options;

typedef struct alert_notifier_options {
	const ts_config *config;    /* borrowed for the call; `alerting:` section (NULL = none) */
	const char *data_dir;       /* required; state goes to <data_dir>/alerting/ */
	const char *external_url;   /* externalURL unless alerting.external_url is set; NULL = "" */
	const alert_ha_options *ha; /* borrowed for the call; NULL = single node: the durable
				       on-disk outbox delivers (role all) */
} alert_notifier_options;

/*
 * Parse the config, open the state (replaying undelivered outbox entries), start the
 * dispatcher ("alert-notify") and sender ("alert-outbox") threads. *out returned owned.
 * Errors: TS_EINVAL/TS_EPARSE (config, "file:line:col: ..."), TS_EIO/TS_ENOSPC (state
 * directory), TS_ENOMEM.
 */
int alert_notifier_new(const alert_notifier_options *o, alert_notifier **out, ts_err *err);
/*
 * Swap in the `alerting:` config of `config` (borrowed for the call). On error the old
 * config stays active. Groups are rebuilt from the current alerts (as Alertmanager does on
 * reload); the notification log keeps them from re-notifying. Thread-safe.
 */
int alert_notifier_reload(alert_notifier *n, const ts_config *config, ts_err *err);
/* Stop the threads (undelivered notifications stay in the outbox) and free. NULL allowed. */
void alert_notifier_free(alert_notifier *n);
/*
 * Post alerts (an alert_post_fn: ctx is the alert_notifier). Alerts are copied. A zero
 * starts_at becomes now (or ends_at when that is set); a zero ends_at means firing until
 * now + resolve_timeout unless posted again. Invalid alerts (no labels, bad label names,
 * ends before starts) are skipped and counted; the rest are accepted and TS_EINVAL names
 * the first invalid one. Thread-safe; never blocks on I/O.
 */
int alert_notifier_post(void *notifier, const alert_posted *alerts, size_t n, ts_err *err);

/* --- Alertmanager v2 HTTP API bodies (web/api_silences.c serves them). Thread-safe. */

/* POST /api/v2/alerts: a JSON array of postable alerts. TS_EPARSE (bad JSON), TS_EINVAL
 * (validation; valid alerts are still accepted, as Alertmanager does). */
int alert_notifier_post_json(alert_notifier *n, const char *body, size_t len, ts_err *err);

/* Filters of GET /api/v2/alerts (Alertmanager's query parameters). */
typedef struct alert_notifier_query {
	const char *const *filter; /* matcher strings ("a=\"b\""); all must match */
	size_t n_filter;
	bool active;          /* include unmuted alerts (default true) */
	bool silenced;        /* include silenced alerts (default true) */
	bool inhibited;       /* include inhibited alerts (default true) */
	const char *receiver; /* regex on receiver names, NULL = any */
} alert_notifier_query;

/* GET /api/v2/alerts: append the gettableAlerts JSON array to out. TS_EINVAL (bad filter). */
int alert_notifier_alerts_json(alert_notifier *n, const alert_notifier_query *q, ts_buf *out,
			       ts_err *err);
/* GET /api/v2/silences: the gettableSilences array, filtered by matcher strings. */
int alert_notifier_silences_json(alert_notifier *n, const char *const *filter, size_t n_filter,
				 ts_buf *out, ts_err *err);
/* GET /api/v2/silence/{id}: one gettableSilence. TS_ENOTFOUND. */
int alert_notifier_silence_json(alert_notifier *n, const char *id, ts_buf *out, ts_err *err);
/*
 * POST /api/v2/silences: create or update from a postableSilence; appends
 * {"silenceID":"<id>"} to out. Persisted before returning. TS_EPARSE, TS_EINVAL
 * (validation, Alertmanager's messages), TS_ENOTFOUND (unknown id), TS_EIO.
 */
int alert_notifier_silence_post_json(alert_notifier *n, const char *body, size_t len, ts_buf *out,
				     ts_err *err);
/* DELETE /api/v2/silence/{id}: expire. TS_ENOTFOUND. */
int alert_notifier_silence_expire(alert_notifier *n, const char *id, ts_err *err);

/* --- statistics for the console and /metrics. Thread-safe. */

typedef struct alert_notifier_stats {
	uint64_t n_received_firing;   /* alerts posted firing */
	uint64_t n_received_resolved; /* alerts posted resolved */
	uint64_t n_invalid;           /* alerts rejected by validation */
	uint64_t n_rate_limited;      /* group flushes deferred by the receiver rate limit */
	size_t n_alerts;              /* alerts held (firing and recently resolved) */
	size_t n_groups;              /* aggregation groups */
	size_t outbox_depth;          /* notifications waiting for delivery */
	int64_t outbox_oldest_ms;     /* creation time of the oldest one, 0 if none */
	size_t n_silences[3];         /* pending, active, expired */
	size_t n_nlog;                /* notification log entries */
	uint64_t n_forwarded;         /* POSTs to alerting.alertmanagers that succeeded */
	uint64_t n_forward_failed;    /* ... that failed (not retried, as Prometheus) */
	uint64_t n_forward_dropped;   /* batches dropped from the full forwarding queue */
} alert_notifier_stats;

void alert_notifier_get_stats(alert_notifier *n, alert_notifier_stats *out);

/* Delivery counters of one receiver integration. */
typedef struct alert_notifier_receiver_stats {
	char receiver[128];
	const char *integration; /* "webhook" or "email" (static) */
	uint64_t n_enqueued;     /* notifications written to the outbox */
	uint64_t n_sent;         /* delivered */
	uint64_t n_failed;       /* permanently failed or expired (max_age) */
	uint64_t n_retries;      /* failed attempts that were retried */
	uint64_t n_superseded;   /* replaced by a newer notification of the same group */
} alert_notifier_receiver_stats;

/* Copy up to cap rows; returns how many rows exist. */
size_t alert_notifier_receivers(alert_notifier *n, alert_notifier_receiver_stats *out, size_t cap);

/*
 * Append the notifier's metrics in Prometheus text format (HELP/TYPE included):
 * strata_alertmanager_notifications_total{receiver,integration} (delivered),
 * strata_alertmanager_notifications_failed_total{receiver,integration},
 * strata_alertmanager_notification_retries_total{receiver,integration},
 * strata_alertmanager_notifications_enqueued_total{receiver,integration},
 * strata_alertmanager_outbox_depth, strata_alertmanager_outbox_oldest_age_seconds,
 * strata_alertmanager_alerts_received_total{status}, strata_alertmanager_alerts_invalid_total,
 * strata_alertmanager_alerts, strata_alertmanager_aggregation_groups,
 * strata_alertmanager_rate_limited_total, strata_alertmanager_silences{state},
 * strata_alertmanager_nflog_entries, strata_alertmanager_forwarded_total{result}.
 * TS_OK, TS_ENOMEM, TS_ELIMIT.
 */
int alert_notifier_write_metrics(alert_notifier *n, ts_buf *out);

#endif /* ALERT_ALERT_H */
