/* SPDX-License-Identifier: Apache-2.0 */
/*
 * manager.c: alert_manager (alert.h): one rules engine and where its alerts go.
 *
 * Tested by tests/integration/test_alert_e2e.sh and test_rules.sh (the real binary).
 *
 * The rules engine posts its alerts to post_alerts() below, which counts and logs them
 * (debug level) and hands them to the notifier given in alert_options (routing,
 * grouping, dedup, durable delivery). cmd/ owns the notifier and reloads both halves
 * from the same config.
 */
#include "alert/alert_int.h"

#include <stdatomic.h>
#include <string.h>

struct alert_manager {
	alert_rules *rules;
	alert_notifier *notifier;    /* borrowed; NULL = count and log only */
	_Atomic uint64_t n_firing;   /* firing alerts posted */
	_Atomic uint64_t n_resolved; /* resolved alerts posted */
};

static int post_alerts(void *ctx, const alert_posted *alerts, size_t n, ts_err *err)
{
	alert_manager *m = ctx;
	int64_t now = ts_now_ms();
	for (size_t i = 0; i < n; i++) {
		const alert_posted *a = &alerts[i];
		bool is_resolved = a->ends_at_ms && a->ends_at_ms <= now;
		atomic_fetch_add(is_resolved ? &m->n_resolved : &m->n_firing, 1);
		ts_log_debug("alert posted: %s %s starts_at=%lld ends_at=%lld",
			     ts_labels_get(a->labels, a->n_labels, "alertname"),
			     is_resolved ? "resolved" : "firing", (long long)a->starts_at_ms,
			     (long long)a->ends_at_ms);
	}
	return m->notifier ? alert_notifier_post(m->notifier, alerts, n, err) : TS_OK;
}

int alert_manager_new(const alert_options *o, alert_manager **out, ts_err *err)
{
	alert_manager *m = ts_calloc(1, sizeof(*m));
	if (!m)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting alerting");
	alert_rules_options ro;
	alert_rules_options_init(&ro);
	ro.query = o->query;
	ro.ingest = o->ingest;
	m->notifier = o->notifier;
	ro.post = post_alerts;
	ro.post_ctx = m;
	ro.external_url = o->external_url;
	if (o->config && o->config->query.lookback_delta_ms > 0)
		ro.lookback_delta_ms = o->config->query.lookback_delta_ms;
	int rc = alert_rules_new(&ro, o->config, &m->rules, err);
	if (rc) {
		ts_free(m);
		return rc;
	}
	*out = m;
	return TS_OK;
}

int alert_manager_reload(alert_manager *m, const ts_config *config, ts_err *err)
{
	return alert_rules_reload(m->rules, config, err);
}

void alert_manager_free(alert_manager *m)
{
	if (!m)
		return;
	alert_rules_free(m->rules);
	ts_free(m);
}

alert_rules *alert_manager_rules(alert_manager *m)
{
	return m->rules;
}
