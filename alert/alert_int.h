/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert_int.h: the contract between alert/'s two halves (internal to alert/ and tests).
 *
 * The rule evaluator (alert/rules*.c) hands every active alert to the notifier
 * (alert/notify*.c) the way Prometheus posts alerts to Alertmanager: firing alerts are
 * re-posted every resend delay with ends_at = 0 (or an estimated end), and a resolved
 * alert is posted with its real ends_at. The notifier groups, dedups, silences,
 * inhibits and delivers. manager.c wires one rules engine to one notifier.
 */
#ifndef ALERT_ALERT_INT_H
#define ALERT_ALERT_INT_H

#include "alert/alert.h"

/* An alert as posted to the notifier (Alertmanager's postable alert). */
typedef struct alert_posted {
	const ts_label *labels; /* sorted, includes "alertname"; borrowed */
	size_t n_labels;
	const ts_label *annotations; /* sorted by name; borrowed */
	size_t n_annotations;
	int64_t starts_at_ms;      /* when the alert started firing */
	int64_t ends_at_ms;        /* 0 while firing; the resolve time once resolved */
	const char *generator_url; /* link back to the expression; borrowed; may be NULL */
} alert_posted;

/*
 * The rules side calls this with a batch of alerts (borrowed; copy what you keep).
 * Returns TS_OK or an error the caller logs and retries on the next evaluation.
 */
typedef int (*alert_post_fn)(void *ctx, const alert_posted *alerts, size_t n, ts_err *err);

#endif /* ALERT_ALERT_INT_H */
