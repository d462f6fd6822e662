/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook.c: the Alertmanager webhook payload (version "4") and its delivery
 * (alert/notify_int.h).
 *
 * Payload, field for field and in Alertmanager 0.25's order (notify/webhook Message):
 *   {"receiver", "status" ("firing" if any alert fires, else "resolved"), "alerts": [
 *     {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
 *      "fingerprint"}], "groupLabels", "commonLabels", "commonAnnotations",
 *    "externalURL", "version": "4", "groupKey", "truncatedAlerts"}
 * Times are Go's time.Time JSON (RFC 3339, trailing fraction zeros trimmed); a firing
 * alert's endsAt is the zero time "0001-01-01T00:00:00Z" as Alertmanager's flush sets it.
 * max_alerts > 0 keeps the first max_alerts alerts (after sorting) and reports the rest in
 * truncatedAlerts; status and the common labels are computed over all alerts, as
 * Alertmanager computes them before truncating. Maps print with sorted keys (Go).
 *
 * Delivery policy (decided here, documented in docs/formats/alerting.md): 2xx delivered;
 * 5xx, 408 and 429 retried (honouring Retry-After); network errors and timeouts retried;
 * every other status (3xx not followed, 4xx) is a permanent failure: the receiver
 * rejected the payload and resending the same bytes cannot succeed. Alertmanager 0.25
 * retries only 5xx; 408 and 429 are retried here because they mean "later", not "no".
 */
#include "alert/notify_int.h"

#include <string.h>

/* Labels present with the same value in every alert (pointers into the first alert). */
static size_t common_kv(alert_nalert *const *v, size_t n, bool annotations, ts_label *out)
{
	if (!n)
		return 0;
	const ts_label *l0 = annotations ? v[0]->annotations : v[0]->labels;
	size_t n0 = annotations ? v[0]->n_annotations : v[0]->n_labels, k = 0;
	for (size_t i = 0; i < n0; i++) {
		bool all = true;
		for (size_t j = 1; all && j < n; j++) {
			const ts_label *l = annotations ? v[j]->annotations : v[j]->labels;
			size_t nl = annotations ? v[j]->n_annotations : v[j]->n_labels;
			const char *x = ts_labels_get(l, nl, l0[i].name);
			all = x && !strcmp(x, l0[i].value);
		}
		if (all)
			out[k++] = l0[i];
	}
	return k;
}

int alert_webhook_render(const alert_ndata *d, int64_t max_alerts, ts_buf *out)
{
	size_t n = d->n_alerts, shown = n;
	if (max_alerts > 0 && (size_t)max_alerts < n)
		shown = (size_t)max_alerts;
	bool firing = false;
	for (size_t i = 0; i < n && !firing; i++)
		firing = !alert_nalert_is_resolved(d->alerts[i], d->now_ms);
	size_t cap = 1; /* common labels are a subset of the first alert's */
	if (n && d->alerts[0]->n_labels > cap)
		cap = d->alerts[0]->n_labels;
	if (n && d->alerts[0]->n_annotations > cap)
		cap = d->alerts[0]->n_annotations;
	ts_label *common = ts_malloc(cap * sizeof(*common));
	if (!common)
		return TS_ENOMEM;
	alert_jw w;
	alert_jw_init(&w, out);
	alert_jw_obj_begin(&w);
	alert_jw_key(&w, "receiver");
	alert_jw_str(&w, d->receiver);
	alert_jw_key(&w, "status");
	alert_jw_str(&w, firing ? "firing" : "resolved");
	alert_jw_key(&w, "alerts");
	alert_jw_arr_begin(&w);
	for (size_t i = 0; i < shown; i++) {
		const alert_nalert *a = d->alerts[i];
		bool res = alert_nalert_is_resolved(a, d->now_ms);
		char fp[17];
		snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)a->fp);
		alert_jw_obj_begin(&w);
		alert_jw_key(&w, "status");
		alert_jw_str(&w, res ? "resolved" : "firing");
		alert_jw_key(&w, "labels");
		alert_jw_labels(&w, a->labels, a->n_labels);
		alert_jw_key(&w, "annotations");
		alert_jw_labels(&w, a->annotations, a->n_annotations);
		alert_jw_key(&w, "startsAt");
		alert_jw_time_go(&w, a->starts_at_ms);
		alert_jw_key(&w, "endsAt");
		alert_jw_time_go(&w, res ? a->ends_at_ms : 0);
		alert_jw_key(&w, "generatorURL");
		alert_jw_str(&w, a->generator_url);
		alert_jw_key(&w, "fingerprint");
		alert_jw_str(&w, fp);
		alert_jw_obj_end(&w);
	}
	alert_jw_arr_end(&w);
	alert_jw_key(&w, "groupLabels");
	alert_jw_labels(&w, d->group_labels, d->n_group_labels);
	alert_jw_key(&w, "commonLabels");
	alert_jw_labels(&w, common, common_kv(d->alerts, n, false, common));
	alert_jw_key(&w, "commonAnnotations");
	alert_jw_labels(&w, common, common_kv(d->alerts, n, true, common));
	alert_jw_key(&w, "externalURL");
	alert_jw_str(&w, d->external_url);
	alert_jw_key(&w, "version");
	alert_jw_str(&w, "4");
	alert_jw_key(&w, "groupKey");
	alert_jw_str(&w, d->group_key);
	alert_jw_key(&w, "truncatedAlerts");
	alert_jw_int(&w, (int64_t)(n - shown));
	int rc = alert_jw_obj_end(&w);
	ts_free(common);
	return rc;
}

alert_send_result alert_webhook_send(const alert_ncfg_webhook *wh, alert_curl_conn *conn,
				     int64_t timeout_ms, const char *payload, size_t len,
				     int64_t *retry_after_ms, ts_err *err)
{
	alert_http_post p = {
	    .url = wh->url,
	    .content_type = "application/json",
	    .body = payload,
	    .len = len,
	    .http = &wh->http,
	    .timeout_ms = timeout_ms,
	};
	int status = 0;
	int rc = conn ? alert_curl_conn_post(conn, &p, &status, retry_after_ms, err)
		      : alert_curl_post(&p, &status, retry_after_ms, err);
	if (rc) /* a malformed URL cannot get better; everything else may */
		return rc == TS_EINVAL ? ALERT_SEND_FAIL : ALERT_SEND_RETRY;
	if (status >= 200 && status < 300)
		return ALERT_SEND_OK;
	ts_err_set(err, TS_EUNAVAIL, "webhook answered HTTP %d", status);
	if (status >= 500 || status == 408 || status == 429)
		return ALERT_SEND_RETRY;
	return ALERT_SEND_FAIL;
}
