/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forward.c: forward posted alerts to external Alertmanagers (`alerting.alertmanagers`),
 *
 * Tested by tests/integration/test_alertmanager_forward.sh (Debian prometheus-
 * alertmanager).
 * the way Prometheus' notifier does (alert/notify_int.h).
 *
 * Every accepted batch of alert_notifier_post is encoded as Alertmanager v2 postable
 * alerts (labels, annotations, startsAt, endsAt, generatorURL) and queued in memory; the
 * thread "alert-forward" POSTs each batch to <url>/api/v2/alerts of every configured
 * Alertmanager. Like Prometheus (and unlike the notifier's own outbox) this is best
 * effort: the queue is bounded (oldest batches dropped and counted when full), a failed
 * POST is logged and counted but not retried, because firing alerts are posted again
 * every resend interval and a lost resolve is healed by Alertmanager's resolve_timeout.
 * The URLs come from the config at send time, so a reload applies to queued batches.
 *
 * Locking: mu guards the queue, counters and stop flag; it is never held across a POST.
 */
#include "alert/notify_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_QUEUED_BATCHES 256

typedef struct batch {
	struct batch *next;
	alert_ncfg *cfg; /* a reference: URLs and timeout */
	char *json;
	size_t len;
} batch;

struct alert_forwarder {
	pthread_mutex_t mu;  /* guards head, tail, n, counters, stop */
	pthread_cond_t cond; /* signalled on push and stop */
	batch *head, *tail;
	size_t n;
	uint64_t n_sent, n_failed, n_dropped;
	bool stop;
	pthread_t thread;
};

static void batch_free(batch *b)
{
	alert_ncfg_release(b->cfg);
	ts_free(b->json);
	ts_free(b);
}

int alert_forward_encode(alert_nalert *const *v, size_t n, ts_buf *out)
{
	alert_jw w;
	alert_jw_init(&w, out);
	alert_jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		const alert_nalert *a = v[i];
		alert_jw_obj_begin(&w);
		alert_jw_key(&w, "labels");
		alert_jw_labels(&w, a->labels, a->n_labels);
		alert_jw_key(&w, "annotations");
		alert_jw_labels(&w, a->annotations, a->n_annotations);
		alert_jw_key(&w, "startsAt");
		alert_jw_time_go(&w, a->starts_at_ms);
		alert_jw_key(&w, "endsAt");
		alert_jw_time_go(&w, a->ends_at_ms);
		if (a->generator_url[0]) {
			alert_jw_key(&w, "generatorURL");
			alert_jw_str(&w, a->generator_url);
		}
		alert_jw_obj_end(&w);
	}
	return alert_jw_arr_end(&w);
}

static void send_batch(alert_forwarder *f, const batch *b)
{
	for (size_t i = 0; i < b->cfg->n_alertmanagers; i++) {
		const char *base = b->cfg->alertmanagers[i];
		char url[1024];
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			bl--;
		snprintf(url, sizeof(url), "%.*s/api/v2/alerts", (int)bl, base);
		alert_http_post p = {.url = url,
				     .content_type = "application/json",
				     .body = b->json,
				     .len = b->len,
				     .timeout_ms = b->cfg->send_timeout_ms};
		int status = 0;
		int64_t ra;
		ts_err e = {0};
		int rc = alert_curl_post(&p, &status, &ra, &e);
		bool ok = !rc && status >= 200 && status < 300;
		pthread_mutex_lock(&f->mu);
		uint64_t failed = ok ? f->n_failed : ++f->n_failed;
		if (ok)
			f->n_sent++;
		pthread_mutex_unlock(&f->mu);
		if (!ok && (failed & (failed - 1)) == 0) /* 1, 2, 4, ...: bounded log volume */
			ts_log_warn(
			    "forwarding alerts to Alertmanager %zu failed (%llu failures so "
			    "far): %s",
			    i, (unsigned long long)failed, rc ? e.msg : "unexpected HTTP status");
	}
}

static void *forward_main(void *arg)
{
	alert_forwarder *f = arg;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->head && !f->stop)
			pthread_cond_wait(&f->cond, &f->mu);
		if (f->stop)
			break;
		batch *b = f->head;
		f->head = b->next;
		if (!f->head)
			f->tail = NULL;
		f->n--;
		pthread_mutex_unlock(&f->mu);
		send_batch(f, b);
		batch_free(b);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int alert_forwarder_new(alert_forwarder **out, ts_err *err)
{
	alert_forwarder *f = ts_calloc(1, sizeof(*f));
	if (!f)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the alert forwarder");
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	int e = pthread_create(&f->thread, NULL, forward_main, f);
	if (e) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->mu);
		ts_free(f);
		return ts_err_set(err, TS_EIO, "cannot start the alert forwarder: %s", strerror(e));
	}
	pthread_setname_np(f->thread, "alert-forward");
	*out = f;
	return TS_OK;
}

void alert_forwarder_free(alert_forwarder *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	for (batch *b = f->head; b;) {
		batch *next = b->next;
		batch_free(b);
		b = next;
	}
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->mu);
	ts_free(f);
}

void alert_forwarder_push(alert_forwarder *f, alert_ncfg *cfg, char *json, size_t len)
{
	batch *b = ts_calloc(1, sizeof(*b));
	if (!b) {
		ts_free(json);
		alert_ncfg_release(cfg);
		pthread_mutex_lock(&f->mu);
		f->n_dropped++;
		pthread_mutex_unlock(&f->mu);
		return;
	}
	b->cfg = cfg;
	b->json = json;
	b->len = len;
	batch *drop = NULL;
	pthread_mutex_lock(&f->mu);
	if (f->n >= MAX_QUEUED_BATCHES) { /* drop the oldest: newer states matter more */
		drop = f->head;
		f->head = drop->next;
		if (!f->head)
			f->tail = NULL;
		f->n--;
		f->n_dropped++;
	}
	if (f->tail)
		f->tail->next = b;
	else
		f->head = b;
	f->tail = b;
	f->n++;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->mu);
	if (drop)
		batch_free(drop);
}

void alert_forwarder_stats(alert_forwarder *f, uint64_t *sent, uint64_t *failed, uint64_t *dropped)
{
	pthread_mutex_lock(&f->mu);
	*sent = f->n_sent;
	*failed = f->n_failed;
	*dropped = f->n_dropped;
	pthread_mutex_unlock(&f->mu);
}
