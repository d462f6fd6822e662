/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_api.c: the notifier's Alertmanager v2 API bodies and its metrics (alert/alert.h
 *
 * Tested by tests/alert/test_notify.c and tests/integration/test_webhook.sh (the v2 API).
 * "notifications"). web/api_silences.c maps HTTP to these functions; they speak JSON in
 * the shapes of Alertmanager 0.25's OpenAPI spec:
 *   - postableAlerts  {labels, annotations, startsAt, endsAt, generatorURL}
 *   - gettableAlerts  {annotations, endsAt, fingerprint, receivers:[{name}], startsAt,
 *                      status:{inhibitedBy, silencedBy, state}, updatedAt, generatorURL,
 *                      labels}, sorted by fingerprint, resolved alerts left out
 *   - gettableSilence {id, status:{state}, updatedAt, comment, createdBy, endsAt,
 *                      matchers:[{isEqual, isRegex, name, value}], startsAt}, listed
 *                      active (by end), then pending (by start), then expired (latest first)
 *   - postableSilence -> {"silenceID": "<uuid>"}
 * Filters follow Alertmanager: alert filters match the alert's labels; silence filters
 * match the silence's matcher names and values (negative filters also match absence).
 */
#include "alert/notify_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_POST_ALERTS 100000
#define MAX_SILENCED_BY 64

/* ================================================================ POST /api/v2/alerts */

static int kv_object(const alert_jnode *o, const char *what, size_t idx, ts_label *out, size_t *n,
		     ts_err *err)
{
	*n = 0;
	if (!o || o->type == ALERT_J_NULL)
		return TS_OK;
	if (o->type != ALERT_J_OBJ)
		return ts_err_set(err, TS_EINVAL, "alert %zu: %s must be an object", idx, what);
	for (size_t i = 0; i < o->n; i++) {
		if (o->items[i]->type != ALERT_J_STR)
			return ts_err_set(err, TS_EINVAL, "alert %zu: %s.%s must be a string", idx,
					  what, o->keys[i]);
		out[(*n)++] = (ts_label){o->keys[i], o->items[i]->str};
	}
	return TS_OK;
}

int alert_notifier_post_json(alert_notifier *n, const char *body, size_t len, ts_err *err)
{
	alert_jdoc doc;
	int rc = alert_json_parse(body, len, &doc, err);
	if (rc)
		return rc;
	const alert_jnode *arr = doc.root;
	if (arr->type != ALERT_J_ARR) {
		alert_json_fini(&doc);
		return ts_err_set(err, TS_EPARSE, "body must be a JSON array of alerts");
	}
	if (arr->n > MAX_POST_ALERTS) {
		alert_json_fini(&doc);
		return ts_err_set(err, TS_ELIMIT, "too many alerts in one request (max %d)",
				  MAX_POST_ALERTS);
	}
	size_t total = 0;
	for (size_t i = 0; i < arr->n; i++) {
		const alert_jnode *a = arr->items[i];
		const alert_jnode *l = alert_json_get(a, "labels");
		const alert_jnode *an = alert_json_get(a, "annotations");
		total += (l && l->type == ALERT_J_OBJ ? l->n : 0) +
			 (an && an->type == ALERT_J_OBJ ? an->n : 0);
	}
	alert_posted *v = ts_calloc(arr->n ? arr->n : 1, sizeof(*v));
	ts_label *lab = ts_malloc((total ? total : 1) * sizeof(*lab));
	if (!v || !lab) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	size_t used = 0, k = 0;
	ts_err first = {0};
	for (size_t i = 0; i < arr->n; i++) {
		const alert_jnode *a = arr->items[i];
		ts_err e = {0};
		if (a->type != ALERT_J_OBJ) {
			if (!first.code)
				ts_err_set(&first, TS_EINVAL, "alert %zu: must be an object", i);
			continue;
		}
		alert_posted *p = &v[k];
		size_t nl, na;
		int r = kv_object(alert_json_get(a, "labels"), "labels", i, lab + used, &nl, &e);
		p->labels = lab + used;
		used += nl;
		r = r ? r
		      : kv_object(alert_json_get(a, "annotations"), "annotations", i, lab + used,
				  &na, &e);
		p->annotations = lab + used;
		if (!r)
			used += na;
		/* Empty label values are removed, as Alertmanager's removeEmptyLabels. */
		size_t w = 0;
		for (size_t q = 0; !r && q < nl; q++)
			if (((ts_label *)p->labels)[q].value[0])
				((ts_label *)p->labels)[w++] = p->labels[q];
		p->n_labels = w;
		p->n_annotations = r ? 0 : na;
		const alert_jnode *t;
		if (!r && (t = alert_json_get(a, "startsAt")) && t->type == ALERT_J_STR)
			r = alert_time_parse(t->str, &p->starts_at_ms, &e);
		if (!r && (t = alert_json_get(a, "endsAt")) && t->type == ALERT_J_STR)
			r = alert_time_parse(t->str, &p->ends_at_ms, &e);
		if (!r && (t = alert_json_get(a, "generatorURL")) && t->type == ALERT_J_STR)
			p->generator_url = t->str;
		if (!r && p->n_labels == 0)
			r = ts_err_set(&e, TS_EINVAL, "at least one label pair required");
		if (r) {
			if (!first.code)
				ts_err_set(&first, TS_EINVAL, "%s", e.msg);
			continue;
		}
		k++;
	}
	ts_err pe = {0};
	rc = k ? alert_notifier_post(n, v, k, &pe) : TS_OK;
	if (rc && rc != TS_EINVAL)
		ts_err_set(err, rc, "%s", pe.msg);
	else if (first.code || rc)
		rc = ts_err_set(err, TS_EINVAL, "%s", first.code ? first.msg : pe.msg);
out:
	ts_free(v);
	ts_free(lab);
	alert_json_fini(&doc);
	return rc;
}

/* ================================================================ GET /api/v2/alerts */

static int parse_filters(const char *const *f, size_t nf, ts_matcher **m, size_t *nm, ts_err *err)
{
	*m = NULL;
	*nm = 0;
	for (size_t i = 0; i < nf; i++) {
		ts_err e = {0};
		int rc = alert_matchers_parse(f[i], m, nm, &e);
		if (rc) {
			alert_matchers_free(*m, *nm);
			*m = NULL;
			*nm = 0;
			return ts_err_set(err, rc == TS_ENOMEM ? rc : TS_EINVAL, "bad filter: %s",
					  e.msg);
		}
	}
	return TS_OK;
}

static int cmp_snap(const void *a, const void *b)
{
	uint64_t x = ((const alert_nsnap *)a)->alert->fp, y = ((const alert_nsnap *)b)->alert->fp;
	return x < y ? -1 : x > y;
}

int alert_notifier_alerts_json(alert_notifier *n, const alert_notifier_query *q, ts_buf *out,
			       ts_err *err)
{
	ts_matcher *fm = NULL, recv = {0};
	size_t nfm = 0;
	int rc = parse_filters(q->filter, q->n_filter, &fm, &nfm, err);
	if (rc)
		return rc;
	bool has_recv = q->receiver && q->receiver[0];
	ts_err e = {0};
	if (has_recv && ts_matcher_init(&recv, TS_MATCH_RE, "receiver", q->receiver, &e)) {
		alert_matchers_free(fm, nfm);
		return ts_err_set(err, TS_EINVAL, "bad receiver regex: %s", e.msg);
	}
	int64_t now = ts_now_ms();
	alert_nsnap *v = NULL;
	size_t cnt = 0;
	if ((rc = alert_notifier_snapshot(n, now, &v, &cnt, err)))
		goto out;
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_snap);
	alert_silences *sil = alert_notifier_silences_store(n);
	char(*ids)[ALERT_SILENCE_ID_LEN + 1] = ts_malloc(MAX_SILENCED_BY * sizeof(*ids));
	if (!ids) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	alert_jw w;
	alert_jw_init(&w, out);
	alert_jw_arr_begin(&w);
	for (size_t i = 0; i < cnt; i++) {
		const alert_nalert *a = v[i].alert;
		size_t ns =
		    alert_silences_mutes(sil, a->labels, a->n_labels, now, ids, MAX_SILENCED_BY);
		bool suppressed = ns > 0 || v[i].is_inhibited;
		if ((!q->active && !suppressed) || (!q->silenced && ns > 0) ||
		    (!q->inhibited && v[i].is_inhibited) ||
		    !alert_matchers_match(fm, nfm, a->labels, a->n_labels))
			continue;
		bool recv_ok = !has_recv;
		for (size_t r = 0; !recv_ok && r < v[i].n_receivers; r++)
			recv_ok = ts_matcher_matches(&recv, v[i].receivers[r]);
		if (!recv_ok)
			continue;
		char fp[17];
		snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)a->fp);
		alert_jw_obj_begin(&w);
		alert_jw_key(&w, "annotations");
		alert_jw_labels(&w, a->annotations, a->n_annotations);
		alert_jw_key(&w, "endsAt");
		alert_jw_time_api(&w, a->ends_at_ms);
		alert_jw_key(&w, "fingerprint");
		alert_jw_str(&w, fp);
		alert_jw_key(&w, "receivers");
		alert_jw_arr_begin(&w);
		for (size_t r = 0; r < v[i].n_receivers; r++) {
			alert_jw_obj_begin(&w);
			alert_jw_key(&w, "name");
			alert_jw_str(&w, v[i].receivers[r]);
			alert_jw_obj_end(&w);
		}
		alert_jw_arr_end(&w);
		alert_jw_key(&w, "startsAt");
		alert_jw_time_api(&w, a->starts_at_ms);
		alert_jw_key(&w, "status");
		alert_jw_obj_begin(&w);
		alert_jw_key(&w, "inhibitedBy");
		alert_jw_arr_begin(&w);
		if (v[i].is_inhibited) {
			char ib[17];
			snprintf(ib, sizeof(ib), "%016llx", (unsigned long long)v[i].inhibited_by);
			alert_jw_str(&w, ib);
		}
		alert_jw_arr_end(&w);
		alert_jw_key(&w, "silencedBy");
		alert_jw_arr_begin(&w);
		for (size_t s = 0; s < ns && s < MAX_SILENCED_BY; s++)
			alert_jw_str(&w, ids[s]);
		alert_jw_arr_end(&w);
		alert_jw_key(&w, "state");
		alert_jw_str(&w, suppressed ? "suppressed" : "active");
		alert_jw_obj_end(&w);
		alert_jw_key(&w, "updatedAt");
		alert_jw_time_api(&w, a->updated_at_ms);
		if (a->generator_url[0]) {
			alert_jw_key(&w, "generatorURL");
			alert_jw_str(&w, a->generator_url);
		}
		alert_jw_key(&w, "labels");
		alert_jw_labels(&w, a->labels, a->n_labels);
		alert_jw_obj_end(&w);
	}
	rc = alert_jw_arr_end(&w);
	ts_free(ids);
	if (rc)
		rc = ts_err_set(err, rc, "response too large");
out:
	alert_notifier_snapshot_free(v, cnt);
	alert_matchers_free(fm, nfm);
	if (has_recv)
		ts_matcher_fini(&recv);
	return rc;
}

/* ================================================================ silences */

/* Alertmanager's silence filter: matched against the silence's own matchers. */
static bool silence_matches_filter(const alert_silence *s, const ts_matcher *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++) {
		const char *v = NULL;
		for (size_t k = 0; k < s->n_matchers && !v; k++)
			if (!strcmp(s->matchers[k].name, f[i].name))
				v = s->matchers[k].value;
		bool neg = f[i].type == TS_MATCH_NEQ || f[i].type == TS_MATCH_NRE;
		if (neg ? !ts_matcher_matches(&f[i], v ? v : "")
			: (!v || !ts_matcher_matches(&f[i], v)))
			return false;
	}
	return true;
}

typedef struct sil_sort {
	const alert_silence *s;
	int rank;    /* 0 active, 1 pending, 2 expired */
	int64_t key; /* sort key within the rank */
} sil_sort;

static int cmp_sil(const void *a, const void *b)
{
	const sil_sort *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->key < y->key ? -1 : x->key > y->key;
}

int alert_notifier_silences_json(alert_notifier *n, const char *const *filter, size_t n_filter,
				 ts_buf *out, ts_err *err)
{
	ts_matcher *fm = NULL;
	size_t nfm = 0;
	int rc = parse_filters(filter, n_filter, &fm, &nfm, err);
	if (rc)
		return rc;
	alert_silence *v = NULL;
	size_t cnt = 0;
	if ((rc = alert_silences_list(alert_notifier_silences_store(n), &v, &cnt, err))) {
		alert_matchers_free(fm, nfm);
		return rc;
	}
	int64_t now = ts_now_ms();
	sil_sort *ord = ts_malloc((cnt ? cnt : 1) * sizeof(*ord));
	size_t k = 0;
	if (!ord) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		if (!silence_matches_filter(&v[i], fm, nfm))
			continue;
		alert_silence_state st = alert_silence_state_at(&v[i], now);
		ord[k].s = &v[i];
		ord[k].rank = st == ALERT_SILENCE_ACTIVE ? 0 : st == ALERT_SILENCE_PENDING ? 1 : 2;
		ord[k].key = st == ALERT_SILENCE_ACTIVE    ? v[i].ends_at_ms
			     : st == ALERT_SILENCE_PENDING ? v[i].starts_at_ms
							   : -v[i].ends_at_ms;
		k++;
	}
	if (k > 1)
		qsort(ord, k, sizeof(*ord), cmp_sil);
	alert_jw w;
	alert_jw_init(&w, out);
	alert_jw_arr_begin(&w);
	for (size_t i = 0; i < k; i++)
		alert_silence_to_json(&w, ord[i].s, now);
	if ((rc = alert_jw_arr_end(&w)))
		rc = ts_err_set(err, rc, "response too large");
out:
	ts_free(ord);
	alert_silences_list_free(v, cnt);
	alert_matchers_free(fm, nfm);
	return rc;
}

int alert_notifier_silence_json(alert_notifier *n, const char *id, ts_buf *out, ts_err *err)
{
	alert_silence s;
	int rc = alert_silences_get(alert_notifier_silences_store(n), id, &s, err);
	if (rc)
		return rc;
	alert_jw w;
	alert_jw_init(&w, out);
	if ((rc = alert_silence_to_json(&w, &s, ts_now_ms())))
		rc = ts_err_set(err, rc, "response too large");
	alert_silence_fini(&s);
	return rc;
}

int alert_notifier_silence_post_json(alert_notifier *n, const char *body, size_t len, ts_buf *out,
				     ts_err *err)
{
	alert_jdoc doc;
	int rc = alert_json_parse(body, len, &doc, err);
	if (rc)
		return rc;
	alert_silence s;
	rc = alert_silence_from_json(doc.root, &s, err);
	alert_json_fini(&doc);
	if (rc)
		return rc;
	char id[ALERT_SILENCE_ID_LEN + 1];
	rc = alert_silences_set(alert_notifier_silences_store(n), &s, ts_now_ms(), id, err);
	alert_silence_fini(&s);
	if (rc)
		return rc;
	alert_jw w;
	alert_jw_init(&w, out);
	alert_jw_obj_begin(&w);
	alert_jw_key(&w, "silenceID");
	alert_jw_str(&w, id);
	if ((rc = alert_jw_obj_end(&w)))
		return ts_err_set(err, rc, "response too large");
	return TS_OK;
}

int alert_notifier_silence_expire(alert_notifier *n, const char *id, ts_err *err)
{
	return alert_silences_expire(alert_notifier_silences_store(n), id, ts_now_ms(), err);
}

/* ================================================================ metrics */

static int escape_label(ts_buf *b, const char *s)
{
	int rc = TS_OK;
	for (; !rc && *s; s++)
		rc = *s == '\\'   ? ts_buf_puts(b, "\\\\")
		     : *s == '"'  ? ts_buf_puts(b, "\\\"")
		     : *s == '\n' ? ts_buf_puts(b, "\\n")
				  : ts_buf_putc(b, *s);
	return rc;
}

static int help(ts_buf *b, const char *name, const char *type, const char *text)
{
	return ts_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

int alert_notifier_write_metrics(alert_notifier *n, ts_buf *out)
{
	alert_notifier_stats st;
	alert_notifier_get_stats(n, &st);
	alert_notifier_receiver_stats rs[256];
	size_t nr = alert_notifier_receivers(n, rs, 256);
	if (nr > 256)
		nr = 256;
	static const struct {
		const char *name, *help;
		size_t off;
	} per[] = {
	    {"strata_alertmanager_notifications_total", "Notifications delivered.",
	     offsetof(alert_notifier_receiver_stats, n_sent)},
	    {"strata_alertmanager_notifications_failed_total",
	     "Notifications that failed permanently or were not delivered within max_age.",
	     offsetof(alert_notifier_receiver_stats, n_failed)},
	    {"strata_alertmanager_notification_retries_total",
	     "Delivery attempts that failed and were retried.",
	     offsetof(alert_notifier_receiver_stats, n_retries)},
	    {"strata_alertmanager_notifications_enqueued_total",
	     "Notifications written to the outbox.",
	     offsetof(alert_notifier_receiver_stats, n_enqueued)},
	};
	int rc = TS_OK;
	for (size_t m = 0; !rc && m < sizeof(per) / sizeof(per[0]); m++) {
		rc = help(out, per[m].name, "counter", per[m].help);
		for (size_t i = 0; !rc && i < nr; i++) {
			uint64_t v = *(const uint64_t *)((const char *)&rs[i] + per[m].off);
			rc = ts_buf_printf(out, "%s{receiver=\"", per[m].name) ||
			     escape_label(out, rs[i].receiver) ||
			     ts_buf_printf(out, "\",integration=\"%s\"} %llu\n", rs[i].integration,
					   (unsigned long long)v);
		}
	}
	double age = st.outbox_oldest_ms ? (double)(ts_now_ms() - st.outbox_oldest_ms) / 1e3 : 0;
	rc =
	    rc ||
	    help(out, "strata_alertmanager_outbox_depth", "gauge",
		 "Notifications waiting in the outbox.") ||
	    ts_buf_printf(out, "strata_alertmanager_outbox_depth %zu\n", st.outbox_depth) ||
	    help(out, "strata_alertmanager_outbox_oldest_age_seconds", "gauge",
		 "Age of the oldest undelivered notification.") ||
	    ts_buf_printf(out, "strata_alertmanager_outbox_oldest_age_seconds %.3f\n", age) ||
	    help(out, "strata_alertmanager_alerts_received_total", "counter",
		 "Alerts posted to the notifier.") ||
	    ts_buf_printf(out,
			  "strata_alertmanager_alerts_received_total{status=\"firing\"} %llu\n"
			  "strata_alertmanager_alerts_received_total{status=\"resolved\"} %llu\n",
			  (unsigned long long)st.n_received_firing,
			  (unsigned long long)st.n_received_resolved) ||
	    help(out, "strata_alertmanager_alerts_invalid_total", "counter",
		 "Posted alerts rejected as invalid.") ||
	    ts_buf_printf(out, "strata_alertmanager_alerts_invalid_total %llu\n",
			  (unsigned long long)st.n_invalid) ||
	    help(out, "strata_alertmanager_alerts", "gauge", "Alerts held by the notifier.") ||
	    ts_buf_printf(out, "strata_alertmanager_alerts %zu\n", st.n_alerts) ||
	    help(out, "strata_alertmanager_aggregation_groups", "gauge", "Aggregation groups.") ||
	    ts_buf_printf(out, "strata_alertmanager_aggregation_groups %zu\n", st.n_groups) ||
	    help(out, "strata_alertmanager_rate_limited_total", "counter",
		 "Group notifications deferred by the per-receiver rate limit.") ||
	    ts_buf_printf(out, "strata_alertmanager_rate_limited_total %llu\n",
			  (unsigned long long)st.n_rate_limited) ||
	    help(out, "strata_alertmanager_silences", "gauge", "Silences by state.") ||
	    ts_buf_printf(out,
			  "strata_alertmanager_silences{state=\"pending\"} %zu\n"
			  "strata_alertmanager_silences{state=\"active\"} %zu\n"
			  "strata_alertmanager_silences{state=\"expired\"} %zu\n",
			  st.n_silences[ALERT_SILENCE_PENDING], st.n_silences[ALERT_SILENCE_ACTIVE],
			  st.n_silences[ALERT_SILENCE_EXPIRED]) ||
	    help(out, "strata_alertmanager_nflog_entries", "gauge",
		 "Entries in the notification log.") ||
	    ts_buf_printf(out, "strata_alertmanager_nflog_entries %zu\n", st.n_nlog) ||
	    help(out, "strata_alertmanager_forwarded_total", "counter",
		 "Alert batches forwarded to alerting.alertmanagers, by result.") ||
	    ts_buf_printf(out,
			  "strata_alertmanager_forwarded_total{result=\"sent\"} %llu\n"
			  "strata_alertmanager_forwarded_total{result=\"failed\"} %llu\n"
			  "strata_alertmanager_forwarded_total{result=\"dropped\"} %llu\n",
			  (unsigned long long)st.n_forwarded,
			  (unsigned long long)st.n_forward_failed,
			  (unsigned long long)st.n_forward_dropped);
	return rc ? TS_ENOMEM : TS_OK;
}
