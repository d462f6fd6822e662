/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules_int.h: what the rules half of alert/ shares between its files (internal to
 * alert/ and its tests): parsed rule files (rule_file.c), the running groups and their
 * alert state (rules.c schedules, rules_eval.c evaluates).
 *
 * Locking (STYLE.md 7): alert_rules.mu guards the group list and every group's
 * scheduling fields; alert_rule_group.mu guards the fields readers see through the HTTP
 * API (alerts, health, last error, evaluation times). Only the thread evaluating a group
 * writes its state, and it takes group.mu only to publish changes, never across a call
 * into query/, ingest/ or the post callback. Lock order: rules.mu before group.mu.
 */
#ifndef ALERT_RULES_INT_H
#define ALERT_RULES_INT_H

#include "alert/alert.h"

#include "alert/alert_int.h"
#include "alert/template.h"

#include <pthread.h>

/* ================================================================ rule files */

/* One rule as written in a rule file. Strings are owned. */
typedef struct alert_rule_def {
	bool is_alert;              /* alerting (alert:) or recording (record:) rule */
	char *name;                 /* the alert or record name */
	char *expr;                 /* PromQL text, checked by query_check_expr */
	int64_t for_ms;             /* alerting: `for` */
	int64_t keep_firing_for_ms; /* alerting: `keep_firing_for` */
	ts_label *labels;           /* in file order; names and values owned */
	size_t n_labels;
	ts_label *annotations; /* in file order */
	size_t n_annotations;
	alert_template **label_tmpls;      /* alerting: per label, NULL when the value is static */
	alert_template **annotation_tmpls; /* per annotation, NULL when static */
	int line, column;                  /* position of the rule in its file */
} alert_rule_def;

/* One group of a rule file. */
typedef struct alert_group_def {
	char *name;
	char *file;          /* the file it came from, as given to the loader */
	int64_t interval_ms; /* `interval`, 0 = the global evaluation_interval */
	int64_t limit;       /* `limit`, <= 0 = none */
	alert_rule_def *rules;
	size_t n_rules;
} alert_group_def;

typedef struct alert_rule_file {
	char *path;
	alert_group_def **groups; /* each owned; may be moved out (set to NULL) */
	size_t n_groups;
	size_t n_rules; /* over all groups */
} alert_rule_file;

/* Every error found in a file (promtool reports them all). Zero-initialize. */
typedef struct alert_rule_errors {
	char **msgs; /* owned */
	size_t n, cap;
} alert_rule_errors;

/*
 * Parse and validate a rule file like `promtool check rules` (Prometheus 2.42 rulefmt
 * plus expression and template checks). `name` prefixes every message
 * ("rules.yml:9:15: group \"g\", rule 2, \"HighErrors\": could not parse expression:
 * 1:15: parse error: unclosed left parenthesis"). All errors go to errs (may be NULL);
 * the first one, with a count of the others, to err. *out returned owned on success.
 * TS_EPARSE (YAML syntax), TS_EINVAL (validation), TS_ELIMIT, TS_ENOMEM.
 */
int alert_rule_file_parse(const char *name, const char *text, size_t len, alert_rule_file **out,
			  alert_rule_errors *errs, ts_err *err);
/* Read and parse path (TS_EIO when unreadable). */
int alert_rule_file_load(const char *path, alert_rule_file **out, alert_rule_errors *errs,
			 ts_err *err);
void alert_rule_file_free(alert_rule_file *f);
void alert_group_def_free(alert_group_def *g);
void alert_rule_errors_fini(alert_rule_errors *e);
/* Same name, file, interval, limit and rules (Prometheus' Group.Equals). */
bool alert_group_def_equal(const alert_group_def *a, const alert_group_def *b);

/* ================================================================ label sets */

/* A label set in one allocation: the array, then the strings. Sorted unless noted. */
typedef struct alert_lset {
	size_t n;
	ts_label l[];
} alert_lset;

/* Copy v[0..n) (taken as is, not sorted) into one allocation. NULL on ENOMEM. */
alert_lset *alert_lset_new(const ts_label *v, size_t n);
/* Order of two sets by ts_labels_cmp. */
int alert_lset_cmp(const alert_lset *a, const alert_lset *b);

/* ================================================================ running groups */

typedef enum alert_state {
	ALERT_STATE_INACTIVE = 0, /* resolved, kept to send the resolution */
	ALERT_STATE_PENDING,
	ALERT_STATE_FIRING,
} alert_state;

/* One alert of an alerting rule (Prometheus' rules.Alert). */
typedef struct alert_rule_alert {
	alert_lset *labels;      /* sorted; includes alertname */
	alert_lset *annotations; /* sorted */
	alert_state state;
	double value;
	int64_t active_at_ms;
	int64_t fired_at_ms;
	int64_t resolved_at_ms;       /* 0 while active */
	int64_t last_sent_ms;         /* 0 = never */
	int64_t keep_firing_since_ms; /* 0 unless kept firing by keep_firing_for */
} alert_rule_alert;

typedef enum alert_health {
	ALERT_HEALTH_UNKNOWN = 0,
	ALERT_HEALTH_OK,
	ALERT_HEALTH_ERR,
} alert_health;

typedef struct alert_rule_state {
	const alert_rule_def *def; /* borrowed from the group's def */
	/* guarded by the group's mu: */
	alert_rule_alert **alerts; /* sorted by labels */
	size_t n_alerts, cap_alerts;
	alert_health health;
	char last_error[TS_ERR_MSG_MAX];
	int64_t last_eval_ms; /* wall-clock start of the last evaluation, 0 = never */
	int64_t eval_ns;      /* duration of the last evaluation */
	/* evaluator only: */
	alert_lset **prev; /* series written by the last successful evaluation, sorted */
	size_t n_prev;
	char *generator_url;              /* made at the first notification */
	char last_logged[TS_ERR_MSG_MAX]; /* last error logged (logged again when it changes) */
	bool has_warned_template;         /* a template failure was logged at warn level */
} alert_rule_state;

typedef struct alert_rule_group {
	alert_group_def *def; /* owned */
	int64_t interval_ms;  /* effective interval */
	int64_t offset_ms;    /* evaluation slot within the interval (Prometheus' hash) */
	alert_rule_state *rules;
	size_t n_rules;
	pthread_mutex_t mu;   /* see the top of the file */
	int64_t last_eval_ms; /* guarded by mu */
	int64_t eval_ns;      /* guarded by mu */
	/* guarded by alert_rules.mu: */
	int64_t next_eval_ms; /* next slot to evaluate */
	bool is_busy;         /* a worker is evaluating it */
	bool is_retired;      /* replaced by a reload; no new evaluations */
	uint64_t n_missed;    /* slots skipped because an evaluation ran late */
	/* evaluator only: */
	bool needs_restore; /* the next evaluation restores `for` state first */
} alert_rule_group;

/* Settings an evaluation needs (copied out of the options and the config). */
typedef struct alert_rules_env {
	query_engine *query;
	ingest_pipeline *ingest;
	alert_post_fn post;
	void *post_ctx;
	const char *external_url;    /* "" if none */
	alert_lset *external_labels; /* sorted */
	int64_t resend_delay_ms;
	int64_t resolved_retention_ms;
	int64_t outage_tolerance_ms;
	int64_t for_grace_period_ms;
	int64_t lookback_delta_ms;
} alert_rules_env;

/* Prometheus' slot offset of a group: hash(file, name) % interval, in ms. */
int64_t alert_group_offset_ms(const char *file, const char *name, int64_t interval_ms);

/* New running group taking def (also on failure: def is freed). NULL on ENOMEM. */
alert_rule_group *alert_rule_group_new(alert_group_def *def, int64_t interval_ms);
/* Free a group and its alerts (no stale markers). NULL allowed. */
void alert_rule_group_free(alert_rule_group *g);
/*
 * Move the state of `from` into `to` (Prometheus' Group.CopyState): for rules with the
 * same name and labels, alerts and the series of the last evaluation; evaluation times.
 * Neither group may be evaluating. Cannot fail.
 */
void alert_rule_group_copy_state(alert_rule_group *to, alert_rule_group *from);

/*
 * Evaluate every rule of g at t_ms (a slot time) as Prometheus' Group.Eval does: query,
 * recording results and ALERTS / ALERTS_FOR_STATE written through ingest, stale markers
 * for series that disappeared, alert state transitions, notifications. On the group's
 * first evaluation with needs_restore, `for` state is restored from ALERTS_FOR_STATE
 * first. Never fails: per-rule errors become the rule's health and last error.
 */
void alert_rule_group_eval(alert_rule_group *g, const alert_rules_env *env, int64_t t_ms);

/* Write stale markers at t_ms for every series g wrote last (group removed on reload). */
void alert_rule_group_mark_stale(alert_rule_group *g, const alert_rules_env *env, int64_t t_ms);

/* Test hook: evaluate every group once at t_ms, in order, on the calling thread. */
void alert_rules_eval_all(alert_rules *r, int64_t t_ms);

#endif /* ALERT_RULES_INT_H */
