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

typedef struct alert_manager alert_manager;

typedef struct alert_options {
	const ts_config *config;  /* borrowed: rule_files, alerting sections */
	query_engine *query;      /* borrowed */
	ingest_pipeline *ingest;  /* borrowed: where rule results are written */
	const char *data_dir;     /* state (outbox, notification log, silences) lives below */
	const char *external_url; /* for generatorURL and links; NULL = http://<listen> */
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

/* ================================================================ notifications */

#endif /* ALERT_ALERT_H */
