/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c: the notifier: alert store, aggregation groups and their timers, inhibition,
 * silences, dedup, the per-receiver rate limit, and the hand-off to the outbox
 * (alert/alert.h "notifications", alert/notify_int.h).
 *
 * Pipeline, as Alertmanager 0.25's dispatcher and notify stages:
 *  1. alert_notifier_post copies each alert, fills defaults (start = now, end = now +
 *     resolve_timeout while firing) and merges it with the stored alert of the same
 *     fingerprint when their activity overlaps (earliest start wins; a later explicit end
 *     is kept). The merged alert goes into one aggregation group per matching route,
 *     keyed by (route, group labels).
 *  2. A new group flushes after group_wait, or at once when its first alert started more
 *     than group_wait ago; then every group_interval. Each flush snapshots the group's
 *     alerts; inhibited (inhibit rules over all firing source alerts) and silenced alerts
 *     are dropped; then for each integration of the receiver the notification log decides
 *     whether anything must be sent (new firing alerts, newly resolved ones when
 *     send_resolved, everything resolved, or repeat_interval passed).
 *  3. A notification costs one token of the receiver's bucket (alerting.rate_limit). With
 *     no token the flush is deferred until one is available: the alerts stay in the group
 *     and go out in that later, larger notification; nothing is dropped.
 *  4. Each notification is rendered (webhook JSON or email) and appended to the outbox
 *     together with its nlog record; after the round's flushes one outbox sync makes
 *     them all durable (group commit), then their nlog records are applied and the nlog
 *     persisted once, and only then are the entries released to the sender threads. If
 *     the sync fails, the round's entries are dropped, its nlog records never applied,
 *     and the groups retry at their next group_interval. Resolved alerts that were part
 *     of a successful flush and have not changed since leave the group; empty groups
 *     are deleted.
 *
 * Role alert (alert_notifier_options.ha, ha.c): step 4 publishes to the Kafka notification
 * topic instead of the outbox (the round's sync waits for Kafka's acknowledgements), the
 * active node delivers from the topic, and a standby's flushes notify nothing (the
 * active node's nlog records reach it through the topic, so after a takeover it
 * notifies only what changed).
 *
 * Differences from Alertmanager (see also docs/formats/alerting.md): the nlog is updated
 * when the notification is durably queued, not when the receiver acknowledged it (the
 * outbox owns delivery from then on, so an outage does not cause a resend every
 * group_interval); no clustering/gossip; group timers use the monotonic clock.
 *
 * Threads and locks: the dispatcher thread "alert-notify" runs flushes; posts come from
 * any thread. mu guards the store, the groups, the config pointer, the rate limiter and
 * the counters; it is never held across rendering, disk I/O or a call into the nlog,
 * silences or outbox (each has its own leaf lock), except that the outbox send callback
 * briefly takes mu to borrow the config.
 */
#include "alert/notify_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES_PER_ALERT 64
#define MAINT_INTERVAL_MS    10000
#define RESOLVED_KEEP_MS     (15 * 60 * 1000)
#define MAX_ALERT_LABELS     1024

/* FLUSH_STANDBY: role alert, not the active node: nothing sent, resolved alerts are kept
 * (RESOLVED_KEEP_MS) so that this node notifies their resolution if it takes over first */
enum { FLUSH_DONE, FLUSH_DEFER, FLUSH_FAIL, FLUSH_STANDBY };

typedef struct agroup {
	uint64_t key;                  /* map key: hash of route index and group labels */
	const alert_ncfg_route *route; /* in the config of the current epoch */
	char *group_key;               /* Alertmanager group key */
	ts_label *labels;              /* group labels (one allocation with the strings) */
	size_t n_labels;
	alert_u64map alerts;     /* fp -> alert_nalert* (a reference each) */
	int64_t next_flush_mono; /* monotonic ms */
	bool has_flushed;        /* first flush done: new alerts wait group_interval */
	bool is_flushing;        /* a flush job is out (not flushed again until back) */
} agroup;

typedef struct rlimit {
	char *receiver;
	double tokens;
	int64_t last_mono;
} rlimit;

struct alert_notifier {
	pthread_mutex_t mu;  /* guards the fields up to `stop` */
	pthread_cond_t cond; /* wakes the dispatcher (CLOCK_MONOTONIC) */
	alert_ncfg *cfg;     /* current config (a reference) */
	uint64_t epoch;      /* bumped when the groups are rebuilt (reload) */
	alert_u64map alerts; /* fp -> alert_nalert*: the store */
	alert_u64map groups; /* key -> agroup* */
	rlimit *rl;          /* token buckets per receiver */
	size_t n_rl;
	uint64_t n_recv_firing, n_recv_resolved, n_invalid, n_rate_limited;
	bool stop;
	/* immutable after new */
	alert_nlog *nlog;
	alert_silences *sil;
	alert_outbox *ob;
	alert_forwarder *fwd; /* alerting.alertmanagers */
	alert_ha *ha;         /* role alert: notifications through Kafka (ha.c); NULL = outbox */
	char *default_url;
	char hostname[256];
	pthread_t thread;
	bool has_thread;
};

static int64_t mono_ms(void)
{
	return ts_mono_ns() / 1000000;
}

/* A label set copied into one allocation. */
static ts_label *labels_dup(const ts_label *l, size_t n)
{
	size_t sz = (n ? n : 1) * sizeof(ts_label);
	for (size_t i = 0; i < n; i++)
		sz += strlen(l[i].name) + strlen(l[i].value) + 2;
	ts_label *v = ts_malloc(sz);
	if (!v)
		return NULL;
	char *p = (char *)(v + (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
		v[i].name = memcpy(p, l[i].name, a);
		p += a;
		v[i].value = memcpy(p, l[i].value, b);
		p += b;
	}
	return v;
}

/* ================================================================ groups */

static void group_free(agroup *g)
{
	size_t i = 0;
	void *v;
	while (alert_u64map_next(&g->alerts, &i, NULL, &v))
		alert_nalert_release(v);
	alert_u64map_free(&g->alerts);
	ts_free(g->group_key);
	ts_free(g->labels);
	ts_free(g);
}

static void groups_clear(alert_notifier *n)
{
	size_t i = 0;
	void *v;
	while (alert_u64map_next(&n->groups, &i, NULL, &v))
		group_free(v);
	alert_u64map_free(&n->groups);
}

/* Put alert a into the group of route r (mu held). Takes a reference on success. */
static int group_insert(alert_notifier *n, const alert_ncfg_route *r, alert_nalert *a, int64_t now,
			int64_t now_mono)
{
	ts_label gl[MAX_ALERT_LABELS];
	size_t ng = alert_route_group_labels(r, a->labels, a->n_labels, gl);
	uint64_t key =
	    alert_fingerprint(gl, ng) ^ ((uint64_t)(r->index + 1) * 0x9E3779B97F4A7C15ULL);
	agroup *g = alert_u64map_get(&n->groups, key);
	if (!g) {
		ts_buf b;
		ts_buf_init(&b, 1 << 20);
		g = ts_calloc(1, sizeof(*g));
		if (!g || alert_group_key(r, gl, ng, &b) || !(g->labels = labels_dup(gl, ng))) {
			ts_buf_free(&b);
			if (g)
				group_free(g);
			return TS_ENOMEM;
		}
		g->group_key = ts_buf_take(&b, NULL);
		g->key = key;
		g->route = r;
		g->n_labels = ng;
		g->next_flush_mono = now_mono + r->group_wait_ms;
		if (!g->group_key || alert_u64map_put(&n->groups, key, g)) {
			group_free(g);
			return TS_ENOMEM;
		}
		pthread_cond_signal(&n->cond); /* its timer may be due before the next wake */
	}
	alert_nalert *old = alert_u64map_get(&g->alerts, a->fp);
	if (alert_u64map_put(&g->alerts, a->fp, a))
		return TS_ENOMEM;
	alert_nalert_acquire(a);
	alert_nalert_release(old);
	/* An alert older than group_wait need not wait for it (Alertmanager's insert). */
	if (!g->has_flushed && a->starts_at_ms + r->group_wait_ms < now &&
	    g->next_flush_mono > now_mono) {
		g->next_flush_mono = now_mono;
		pthread_cond_signal(&n->cond);
	}
	return TS_OK;
}

static int route_alert(alert_notifier *n, alert_nalert *a, int64_t now, int64_t now_mono)
{
	const alert_ncfg_route *rs[MAX_ROUTES_PER_ALERT];
	size_t k =
	    alert_route_match(n->cfg->root, a->labels, a->n_labels, rs, MAX_ROUTES_PER_ALERT);
	if (k > MAX_ROUTES_PER_ALERT)
		k = MAX_ROUTES_PER_ALERT;
	for (size_t i = 0; i < k; i++) {
		int rc = group_insert(n, rs[i], a, now, now_mono);
		if (rc)
			return rc;
	}
	return TS_OK;
}

/* Rebuild every group from the store with the current config (mu held). */
static void groups_rebuild(alert_notifier *n)
{
	groups_clear(n);
	n->epoch++;
	int64_t now = ts_now_ms(), now_mono = mono_ms();
	size_t i = 0;
	void *v;
	while (alert_u64map_next(&n->alerts, &i, NULL, &v))
		if (route_alert(n, v, now, now_mono))
			ts_log_error("out of memory regrouping alerts after reload");
	pthread_cond_signal(&n->cond);
}

/* ================================================================ posting */

int alert_notifier_post(void *notifier, const alert_posted *alerts, size_t cnt, ts_err *err)
{
	alert_notifier *n = notifier;
	int64_t now = ts_now_ms(), now_mono = mono_ms();
	int rc = TS_OK, first_bad = TS_OK;
	ts_label *lv = ts_malloc(MAX_ALERT_LABELS * sizeof(*lv));
	ts_label *av = ts_malloc(MAX_ALERT_LABELS * sizeof(*av));
	if (!lv || !av) {
		ts_free(lv);
		ts_free(av);
		return ts_err_set(err, TS_ENOMEM, "out of memory posting alerts");
	}
	pthread_mutex_lock(&n->mu);
	int64_t resolve_timeout = n->cfg->resolve_timeout_ms;
	alert_ncfg *fcfg = n->cfg->n_alertmanagers && cnt ? n->cfg : NULL;
	alert_nalert **fw = fcfg ? ts_malloc(cnt * sizeof(*fw)) : NULL;
	size_t nfw = 0;
	if (fw)
		alert_ncfg_acquire(fcfg);
	for (size_t i = 0; i < cnt && rc == TS_OK; i++) {
		const alert_posted *p = &alerts[i];
		ts_err e = {0};
		size_t nl = p->n_labels, na = p->n_annotations;
		bool ok = nl > 0 && nl <= MAX_ALERT_LABELS && na <= MAX_ALERT_LABELS;
		if (!ok)
			ts_err_set(&e, TS_EINVAL, "alert %zu: %s", i,
				   nl ? "too many labels" : "at least one label pair required");
		if (ok) {
			memcpy(lv, p->labels, nl * sizeof(*lv));
			if (na)
				memcpy(av, p->annotations, na * sizeof(*av));
			ok = !ts_labels_normalize(lv, &nl, &e) && !ts_labels_normalize(av, &na, &e);
			ok = ok && nl > 0;
			for (size_t k = 0; ok && k < nl; k++) {
				ok = ts_label_name_valid(lv[k].name, strlen(lv[k].name)) &&
				     ts_utf8_valid(lv[k].value, strlen(lv[k].value));
				if (!ok)
					ts_err_set(&e, TS_EINVAL, "invalid label set: \"%s\"",
						   lv[k].name);
			}
		}
		int64_t starts = p->starts_at_ms, ends = p->ends_at_ms;
		bool timeout = ends == 0;
		if (!starts)
			starts = ends ? ends : now;
		if (!ends)
			ends = now + resolve_timeout;
		if (ok && ends < starts) {
			ok = false;
			ts_err_set(&e, TS_EINVAL, "start time must be before end time");
		}
		if (!ok) {
			n->n_invalid++;
			if (!first_bad) {
				first_bad = TS_EINVAL;
				ts_err_set(err, TS_EINVAL, "%s",
					   e.msg[0] ? e.msg : "at least one label pair required");
			}
			continue;
		}
		alert_nalert *a =
		    alert_nalert_new(lv, nl, av, na, p->generator_url, starts, ends, now, timeout);
		if (!a) {
			rc = TS_ENOMEM;
			break;
		}
		if (ends > now)
			n->n_recv_firing++;
		else
			n->n_recv_resolved++;
		alert_nalert *old = alert_u64map_get(&n->alerts, a->fp);
		if (old &&
		    ((a->ends_at_ms > old->starts_at_ms && a->ends_at_ms < old->ends_at_ms) ||
		     (a->starts_at_ms > old->starts_at_ms && a->starts_at_ms < old->ends_at_ms))) {
			alert_nalert *m = alert_nalert_merge(old, a);
			alert_nalert_release(a);
			if (!(a = m)) {
				rc = TS_ENOMEM;
				break;
			}
		}
		if (alert_u64map_put(&n->alerts, a->fp, a)) {
			alert_nalert_release(a);
			rc = TS_ENOMEM;
			break;
		}
		alert_nalert_release(old);
		rc = route_alert(n, a, now, now_mono);
		if (fw) {
			alert_nalert_acquire(a);
			fw[nfw++] = a;
		}
	}
	pthread_mutex_unlock(&n->mu);
	ts_free(lv);
	ts_free(av);
	if (fw) {
		ts_buf b;
		ts_buf_init(&b, 64 << 20);
		if (nfw && !alert_forward_encode(fw, nfw, &b)) {
			size_t len;
			char *json = ts_buf_take(&b, &len);
			alert_forwarder_push(n->fwd, fcfg, json, len);
			fcfg = NULL;
		}
		ts_buf_free(&b);
		alert_ncfg_release(fcfg);
		for (size_t i = 0; i < nfw; i++)
			alert_nalert_release(fw[i]);
		ts_free(fw);
	}
	if (rc)
		return ts_err_set(err, rc, "out of memory posting alerts");
	return first_bad;
}

/* ================================================================ inhibition */

typedef struct inhib_sets {
	alert_u64map one_sided; /* equal-hash -> source alert that does not match the target */
	alert_u64map two_sided; /* equal-hash -> source alert that matches the target too */
} inhib_sets;

static uint64_t equal_hash(const alert_ncfg_inhibit *r, const ts_label *l, size_t n)
{
	ts_hash64_state s;
	ts_hash64_init(&s, 0);
	for (size_t i = 0; i < r->n_equal; i++) {
		const char *v = ts_labels_get(l, n, r->equal[i]);
		if (v)
			ts_hash64_update(&s, v, strlen(v));
		ts_hash64_update(&s, "\xff", 1);
	}
	return ts_hash64_digest(&s);
}

static void inhib_free(inhib_sets *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		alert_u64map_free(&v[i].one_sided);
		alert_u64map_free(&v[i].two_sided);
	}
	ts_free(v);
}

/* Index the firing source alerts of every inhibit rule (mu held). NULL when no rules. */
static inhib_sets *inhib_build(const alert_ncfg *cfg, const alert_u64map *alerts, int64_t now)
{
	if (!cfg->n_inhibits)
		return NULL;
	inhib_sets *v = ts_calloc(cfg->n_inhibits, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t r = 0; r < cfg->n_inhibits; r++) {
		const alert_ncfg_inhibit *ih = &cfg->inhibits[r];
		size_t i = 0;
		void *x;
		while (alert_u64map_next(alerts, &i, NULL, &x)) {
			alert_nalert *a = x;
			if (alert_nalert_is_resolved(a, now) ||
			    !alert_matchers_match(ih->source, ih->n_source, a->labels, a->n_labels))
				continue;
			bool two =
			    alert_matchers_match(ih->target, ih->n_target, a->labels, a->n_labels);
			if (alert_u64map_put(two ? &v[r].two_sided : &v[r].one_sided,
					     equal_hash(ih, a->labels, a->n_labels), a)) {
				inhib_free(v, cfg->n_inhibits);
				return NULL;
			}
		}
	}
	return v;
}

/* The alert inhibiting a, or NULL (Alertmanager's Inhibitor.Mutes). */
static const alert_nalert *inhib_check(const alert_ncfg *cfg, const inhib_sets *v,
				       const alert_nalert *a)
{
	for (size_t r = 0; v && r < cfg->n_inhibits; r++) {
		const alert_ncfg_inhibit *ih = &cfg->inhibits[r];
		if (!alert_matchers_match(ih->target, ih->n_target, a->labels, a->n_labels))
			continue;
		uint64_t h = equal_hash(ih, a->labels, a->n_labels);
		const alert_nalert *src = alert_u64map_get(&v[r].one_sided, h);
		/* A target that is also a source may only be muted by sources that are not
		 * targets themselves (so two such alerts do not mute each other). */
		if (!src && !alert_matchers_match(ih->source, ih->n_source, a->labels, a->n_labels))
			src = alert_u64map_get(&v[r].two_sided, h);
		if (src)
			return src;
	}
	return NULL;
}

/* ================================================================ rate limit */

/* Take a token of receiver's bucket (mu held); false with *until when there is none. */
static bool rl_take(alert_notifier *n, const alert_ncfg *cfg, const char *receiver,
		    int64_t now_mono, int64_t *until)
{
	if (cfg->rate_limit <= 0)
		return true;
	rlimit *b = NULL;
	for (size_t i = 0; i < n->n_rl && !b; i++)
		if (!strcmp(n->rl[i].receiver, receiver))
			b = &n->rl[i];
	if (!b) {
		rlimit *v = ts_realloc(n->rl, (n->n_rl + 1) * sizeof(*v));
		char *name = ts_strdup(receiver);
		if (!v || !name) {
			if (v)
				n->rl = v;
			ts_free(name);
			return true; /* no memory for a bucket: do not hold notifications back */
		}
		n->rl = v;
		b = &v[n->n_rl++];
		b->receiver = name;
		b->tokens = (double)cfg->rate_limit;
		b->last_mono = now_mono;
	}
	double rate = (double)cfg->rate_limit / (double)cfg->rate_limit_interval_ms;
	b->tokens += (double)(now_mono - b->last_mono) * rate;
	if (b->tokens > (double)cfg->rate_limit)
		b->tokens = (double)cfg->rate_limit;
	b->last_mono = now_mono;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return true;
	}
	*until = now_mono + (int64_t)((1.0 - b->tokens) / rate) + 1;
	return false;
}

/* ================================================================ flushing */

typedef struct job {
	uint64_t gkey;
	uint64_t epoch;
	alert_ncfg *cfg;               /* a reference */
	const alert_ncfg_route *route; /* in cfg */
	char *group_key;
	ts_label *labels;
	size_t n_labels;
	alert_nalert **alerts; /* references */
	bool *is_inhibited;
	size_t n_alerts;
	int64_t now_ms; /* alerts' status is taken at this time */
	int result;
	int64_t defer_until;     /* FLUSH_DEFER: monotonic ms */
	alert_nlog_entry *nputs; /* nlog records of queued entries, applied after the sync */
	size_t n_nputs;
} job;

static void job_fini(job *j)
{
	for (size_t i = 0; i < j->n_alerts; i++)
		alert_nalert_release(j->alerts[i]);
	ts_free(j->alerts);
	ts_free(j->is_inhibited);
	ts_free(j->group_key);
	ts_free(j->labels);
	for (size_t i = 0; i < j->n_nputs; i++)
		alert_nlog_entry_fini(&j->nputs[i]);
	ts_free(j->nputs);
	alert_ncfg_release(j->cfg);
}

/* Keep a copy of an nlog record to apply once the round's outbox entries are durable. */
static int nput_add(job *j, const alert_nlog_entry *ne)
{
	alert_nlog_entry *v = ts_realloc(j->nputs, (j->n_nputs + 1) * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	j->nputs = v;
	alert_nlog_entry *c = &v[j->n_nputs];
	memset(c, 0, sizeof(*c));
	c->key = ts_strdup(ne->key);
	c->firing = ts_malloc((ne->n_firing ? ne->n_firing : 1) * 8);
	c->resolved = ts_malloc((ne->n_resolved ? ne->n_resolved : 1) * 8);
	if (!c->key || !c->firing || !c->resolved) {
		alert_nlog_entry_fini(c);
		return TS_ENOMEM;
	}
	if (ne->n_firing)
		memcpy(c->firing, ne->firing, ne->n_firing * 8);
	if (ne->n_resolved)
		memcpy(c->resolved, ne->resolved, ne->n_resolved * 8);
	c->n_firing = ne->n_firing;
	c->n_resolved = ne->n_resolved;
	c->sent_ms = ne->sent_ms;
	c->expires_ms = ne->expires_ms;
	j->n_nputs++;
	return TS_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int enqueue(alert_notifier *n, job *j, const alert_ncfg_receiver *rec,
		   const alert_ncfg_integration *it, alert_nalert **v, size_t nv,
		   const alert_nlog_entry *ne, ts_err *err)
{
	const alert_ncfg *cfg = j->cfg;
	alert_ndata d = {
	    .receiver = rec->name,
	    .group_key = j->group_key,
	    .group_labels = j->labels,
	    .n_group_labels = j->n_labels,
	    .alerts = v,
	    .n_alerts = nv,
	    .now_ms = j->now_ms,
	    .external_url = cfg->external_url ? cfg->external_url : n->default_url,
	};
	ts_buf payload;
	ts_buf_init(&payload, 64 << 20);
	int rc = it->kind == ALERT_NCFG_WEBHOOK
		     ? alert_webhook_render(&d, it->u.webhook->max_alerts, &payload)
		     : alert_email_render(&d, it->u.email, n->hostname, &payload);
	if (rc) {
		ts_buf_free(&payload);
		return ts_err_set(err, rc, "cannot render the notification");
	}
	alert_outbox_entry e = {
	    .kind = it->kind,
	    .integ_index = it->index,
	    .receiver = (char *)rec->name,
	    .group_key = j->group_key,
	    .has_nlog = true,
	    .nlog = *ne,
	    .payload = payload.data ? payload.data : (char *)"",
	    .payload_len = payload.len,
	};
	rc = n->ha ? alert_ha_put(n->ha, &e, err) : alert_outbox_put(n->ob, &e, true, err);
	ts_buf_free(&payload);
	return rc;
}

static void flush(alert_notifier *n, job *j)
{
	const alert_ncfg *cfg = j->cfg;
	const alert_ncfg_receiver *rec = alert_ncfg_receiver_get(cfg, j->route->receiver);
	j->result = FLUSH_DONE;
	if (!rec || !rec->n_integ || !j->n_alerts)
		return;
	if (n->ha && !alert_ha_is_active(n->ha)) {
		j->result = FLUSH_STANDBY; /* the active node notifies; its nlog reaches us */
		return;
	}
	int64_t now = j->now_ms;
	alert_nalert **kept = ts_malloc(j->n_alerts * sizeof(*kept));
	alert_nalert **firing_only = ts_malloc(j->n_alerts * sizeof(*firing_only));
	uint64_t *firing = ts_malloc(j->n_alerts * 8), *resolved = ts_malloc(j->n_alerts * 8);
	bool *needs = ts_calloc(rec->n_integ, sizeof(*needs));
	ts_buf key;
	ts_buf_init(&key, 1 << 20);
	size_t nk = 0, nf = 0, nr = 0, nfo = 0;
	if (!kept || !firing_only || !firing || !resolved || !needs) {
		ts_log_error("out of memory flushing group %s", j->group_key);
		j->result = FLUSH_FAIL;
		goto out;
	}
	for (size_t i = 0; i < j->n_alerts; i++) {
		alert_nalert *a = j->alerts[i];
		if (j->is_inhibited[i] ||
		    alert_silences_mutes(n->sil, a->labels, a->n_labels, now, NULL, 0) > 0)
			continue;
		kept[nk++] = a;
	}
	alert_nalerts_sort(kept, nk);
	for (size_t i = 0; i < nk; i++) {
		if (alert_nalert_is_resolved(kept[i], now)) {
			resolved[nr++] = kept[i]->fp;
		} else {
			firing[nf++] = kept[i]->fp;
			firing_only[nfo++] = kept[i];
		}
	}
	qsort(firing, nf, 8, cmp_u64);
	qsort(resolved, nr, 8, cmp_u64);
	bool any = false;
	for (size_t i = 0; i < rec->n_integ; i++) {
		alert_nlog_entry e;
		ts_buf_reset(&key);
		if (alert_nlog_key(j->group_key, rec->name, &rec->integ[i], &key)) {
			j->result = FLUSH_FAIL;
			goto out;
		}
		bool found = alert_nlog_get(n->nlog, key.data, &e) == TS_OK;
		needs[i] = alert_nlog_needs_update(found ? &e : NULL, firing, nf, resolved, nr,
						   rec->integ[i].send_resolved,
						   j->route->repeat_interval_ms, now);
		if (found)
			alert_nlog_entry_fini(&e);
		any = any || needs[i];
	}
	if (!any)
		goto out;
	pthread_mutex_lock(&n->mu);
	bool ok = rl_take(n, cfg, rec->name, mono_ms(), &j->defer_until);
	if (!ok)
		n->n_rate_limited++;
	pthread_mutex_unlock(&n->mu);
	if (!ok) {
		j->result = FLUSH_DEFER;
		goto out;
	}
	for (size_t i = 0; i < rec->n_integ; i++) {
		if (!needs[i])
			continue;
		const alert_ncfg_integration *it = &rec->integ[i];
		ts_buf_reset(&key);
		if (alert_nlog_key(j->group_key, rec->name, it, &key)) {
			j->result = FLUSH_FAIL;
			goto out;
		}
		alert_nlog_entry ne = {
		    .key = key.data,
		    .sent_ms = now,
		    .expires_ms = now + cfg->retention_ms,
		    .firing = firing,
		    .n_firing = nf,
		    .resolved = resolved,
		    .n_resolved = nr,
		};
		size_t nsend = it->send_resolved ? nk : nfo;
		ts_err err = {0};
		if (nsend && enqueue(n, j, rec, it, it->send_resolved ? kept : firing_only, nsend,
				     &ne, &err)) {
			ts_log_error("cannot queue notification for group %s to receiver \"%s\" "
				     "(%s[%u]); retrying at the next group_interval: %s",
				     j->group_key, rec->name, alert_ncfg_kind_name(it->kind),
				     it->index, err.msg);
			j->result = FLUSH_FAIL;
			goto out;
		}
		if (nput_add(j, &ne)) {
			/* queued but not logged: at worst it is notified again next round */
			ts_log_error("out of memory recording notification of group %s",
				     j->group_key);
			j->result = FLUSH_FAIL;
			goto out;
		}
	}
out:
	ts_buf_free(&key);
	ts_free(kept);
	ts_free(firing_only);
	ts_free(firing);
	ts_free(resolved);
	ts_free(needs);
}

/* Jobs for the groups due at now_mono (mu held). */
static job *collect_due(alert_notifier *n, int64_t now_mono, size_t *n_jobs)
{
	size_t cnt = 0, i = 0;
	void *v;
	*n_jobs = 0;
	while (alert_u64map_next(&n->groups, &i, NULL, &v)) {
		agroup *g = v;
		cnt += !g->is_flushing && g->next_flush_mono <= now_mono;
	}
	if (!cnt)
		return NULL;
	job *jobs = ts_calloc(cnt, sizeof(*jobs));
	if (!jobs)
		return NULL;
	int64_t now = ts_now_ms();
	inhib_sets *ih = inhib_build(n->cfg, &n->alerts, now);
	size_t k = 0;
	i = 0;
	while (k < cnt && alert_u64map_next(&n->groups, &i, NULL, &v)) {
		agroup *g = v;
		if (g->is_flushing || g->next_flush_mono > now_mono)
			continue;
		job *j = &jobs[k];
		size_t na = g->alerts.n;
		j->alerts = ts_malloc((na ? na : 1) * sizeof(*j->alerts));
		j->is_inhibited = ts_calloc(na ? na : 1, sizeof(*j->is_inhibited));
		j->group_key = ts_strdup(g->group_key);
		j->labels = labels_dup(g->labels, g->n_labels);
		if (!j->alerts || !j->is_inhibited || !j->group_key || !j->labels) {
			job_fini(j);
			memset(j, 0, sizeof(*j));
			continue; /* retried on the next round */
		}
		j->gkey = g->key;
		j->epoch = n->epoch;
		j->cfg = n->cfg;
		alert_ncfg_acquire(j->cfg);
		j->route = g->route;
		j->n_labels = g->n_labels;
		j->now_ms = now;
		size_t ai = 0;
		void *x;
		while (alert_u64map_next(&g->alerts, &ai, NULL, &x)) {
			alert_nalert *a = x;
			alert_nalert_acquire(a);
			j->is_inhibited[j->n_alerts] = inhib_check(n->cfg, ih, a) != NULL;
			j->alerts[j->n_alerts++] = a;
		}
		g->is_flushing = true;
		g->next_flush_mono = now_mono + g->route->group_interval_ms;
		k++;
	}
	inhib_free(ih, n->cfg->n_inhibits);
	*n_jobs = k;
	return jobs;
}

/* Apply flush results to the groups (mu held). */
static void apply(alert_notifier *n, job *jobs, size_t n_jobs)
{
	for (size_t k = 0; k < n_jobs; k++) {
		job *j = &jobs[k];
		agroup *g = j->epoch == n->epoch ? alert_u64map_get(&n->groups, j->gkey) : NULL;
		if (!g || !j->cfg)
			continue;
		g->is_flushing = false;
		if (j->result == FLUSH_DEFER) {
			g->next_flush_mono = j->defer_until;
			pthread_cond_signal(&n->cond);
			continue;
		}
		if (j->result != FLUSH_DONE && j->result != FLUSH_STANDBY)
			continue;
		g->has_flushed = true;
		int64_t resolved_before =
		    j->result == FLUSH_STANDBY ? j->now_ms - RESOLVED_KEEP_MS : j->now_ms;
		for (size_t i = 0; i < j->n_alerts; i++) {
			alert_nalert *a = j->alerts[i];
			if (alert_nalert_is_resolved(a, resolved_before) &&
			    alert_u64map_get(&g->alerts, a->fp) == a) {
				alert_u64map_del(&g->alerts, a->fp);
				alert_nalert_release(a);
			}
		}
		if (g->alerts.n == 0) {
			alert_u64map_del(&n->groups, g->key);
			group_free(g);
		}
	}
}

/* Drop resolved alerts from the store after a while (mu held). */
static void store_gc(alert_notifier *n, int64_t now)
{
	size_t i = 0;
	uint64_t fp;
	void *v;
	while (alert_u64map_next(&n->alerts, &i, &fp, &v)) {
		alert_nalert *a = v;
		if (alert_nalert_is_resolved(a, now) && a->ends_at_ms < now - RESOLVED_KEEP_MS) {
			alert_u64map_del(&n->alerts, fp);
			alert_nalert_release(a);
		}
	}
}

/*
 * Make the round's outbox entries durable with one sync, then apply their nlog records,
 * persist the nlog and release the entries (this order: the nlog on disk never says
 * "notified" for an entry that is not durably queued, and an entry is not delivered
 * before its nlog record is persisted). On a failed sync the entries are dropped and
 * their groups retried at the next group_interval.
 */
static void round_commit(alert_notifier *n, job *jobs, size_t n_jobs)
{
	size_t n_puts = 0;
	for (size_t k = 0; k < n_jobs; k++)
		n_puts += jobs[k].n_nputs;
	ts_err e = {0};
	if (n->ha && n_puts && alert_ha_sync(n->ha, &e)) {
		/* some may have been written: their nlog records reach us through the topic */
		ts_log_error("cannot publish %zu notifications, retrying their groups at the "
			     "next group_interval: %s",
			     n_puts, e.msg);
		for (size_t k = 0; k < n_jobs; k++)
			if (jobs[k].n_nputs)
				jobs[k].result = FLUSH_FAIL;
		return;
	}
	if (!n->ha && alert_outbox_sync(n->ob, &e)) { /* no I/O when nothing was written */
		size_t dropped = alert_outbox_discard_held(n->ob);
		ts_log_error("cannot make %zu queued notifications durable, retrying their "
			     "groups at the next group_interval: %s",
			     dropped, e.msg);
		for (size_t k = 0; k < n_jobs; k++)
			if (jobs[k].n_nputs)
				jobs[k].result = FLUSH_FAIL;
		return;
	}
	for (size_t k = 0; k < n_jobs; k++) {
		for (size_t i = 0; i < jobs[k].n_nputs; i++) {
			if (alert_nlog_put(n->nlog, &jobs[k].nputs[i], &e)) {
				ts_log_error("%s", e.msg);
				jobs[k].result = FLUSH_FAIL;
			}
		}
	}
	if (n_puts && alert_nlog_persist(n->nlog, &e))
		ts_log_error("cannot persist the notification log: %s", e.msg);
	if (!n->ha)
		alert_outbox_commit(n->ob);
}

static void *dispatch_main(void *arg)
{
	alert_notifier *n = arg;
	int64_t last_maint = mono_ms();
	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		int64_t now_mono = mono_ms();
		size_t n_jobs = 0;
		job *jobs = collect_due(n, now_mono, &n_jobs);
		if (jobs) {
			pthread_mutex_unlock(&n->mu);
			for (size_t k = 0; k < n_jobs; k++)
				if (jobs[k].cfg)
					flush(n, &jobs[k]);
			round_commit(n, jobs, n_jobs);
			pthread_mutex_lock(&n->mu);
			apply(n, jobs, n_jobs);
			pthread_mutex_unlock(&n->mu);
			for (size_t k = 0; k < n_jobs; k++)
				job_fini(&jobs[k]);
			ts_free(jobs);
			pthread_mutex_lock(&n->mu);
			continue;
		}
		if (now_mono - last_maint >= MAINT_INTERVAL_MS) {
			int64_t now = ts_now_ms();
			store_gc(n, now);
			pthread_mutex_unlock(&n->mu);
			last_maint = now_mono;
			ts_err e = {0};
			if (alert_nlog_gc(n->nlog, now) && alert_nlog_persist(n->nlog, &e))
				ts_log_error("cannot persist the notification log: %s", e.msg);
			alert_silences_gc(n->sil, now);
			pthread_mutex_lock(&n->mu);
			continue;
		}
		int64_t wake = last_maint + MAINT_INTERVAL_MS;
		size_t i = 0;
		void *v;
		while (alert_u64map_next(&n->groups, &i, NULL, &v)) {
			agroup *g = v;
			if (!g->is_flushing && g->next_flush_mono < wake)
				wake = g->next_flush_mono;
		}
		if (wake > now_mono) {
			struct timespec ts = {.tv_sec = wake / 1000,
					      .tv_nsec = (long)(wake % 1000) * 1000000};
			pthread_cond_timedwait(&n->cond, &n->mu, &ts);
		}
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/* ================================================================ delivery callback */

static void slot_free(void *slot)
{
	alert_curl_conn_free(slot);
}

/* Deliver one outbox entry on a sender thread; *slot holds that thread's keep-alive
 * HTTP connection (created on first use). */
static alert_send_result send_entry(void *ctx, void **slot, const alert_outbox_entry *e,
				    int64_t *retry_after, ts_err *err)
{
	alert_notifier *n = ctx;
	if (!*slot && e->kind == ALERT_NCFG_WEBHOOK) {
		alert_curl_conn *c = NULL;
		if (!alert_curl_conn_new(&c, NULL))
			*slot = c; /* without one, this attempt uses a one-off connection */
	}
	pthread_mutex_lock(&n->mu);
	alert_ncfg *cfg = n->cfg;
	alert_ncfg_acquire(cfg);
	pthread_mutex_unlock(&n->mu);
	alert_send_result res = ALERT_SEND_FAIL;
	const alert_ncfg_receiver *rec = alert_ncfg_receiver_get(cfg, e->receiver);
	const alert_ncfg_integration *it = NULL;
	for (size_t i = 0; rec && i < rec->n_integ && !it; i++)
		if (rec->integ[i].kind == e->kind && rec->integ[i].index == e->integ_index)
			it = &rec->integ[i];
	if (!it)
		ts_err_set(err, TS_ENOTFOUND, "receiver integration no longer configured");
	else if (it->kind == ALERT_NCFG_WEBHOOK)
		res = alert_webhook_send(it->u.webhook, *slot, cfg->send_timeout_ms, e->payload,
					 e->payload_len, retry_after, err);
	else
		res = alert_email_send(it->u.email, cfg->send_timeout_ms, e->payload,
				       e->payload_len, err);
	alert_ncfg_release(cfg);
	return res;
}

/* ================================================================ lifecycle */

static void replay_nlog(void *ctx, const alert_nlog_entry *e)
{
	alert_notifier *n = ctx;
	if (alert_nlog_put(n->nlog, e, NULL))
		ts_log_error("out of memory replaying the notification log");
}

int alert_notifier_new(const alert_notifier_options *o, alert_notifier **out, ts_err *err)
{
	if (!o->data_dir || !o->data_dir[0])
		return ts_err_set(err, TS_EINVAL, "alert notifier: data_dir is required");
	alert_ncfg *cfg = NULL;
	int rc = alert_ncfg_from_config(o->config, &cfg, err);
	if (rc)
		return rc;
	if ((rc = alert_curl_init(err))) {
		alert_ncfg_release(cfg);
		return rc;
	}
	alert_notifier *n = ts_calloc(1, sizeof(*n));
	if (!n || !(n->default_url = ts_strdup(o->external_url ? o->external_url : ""))) {
		ts_free(n);
		alert_ncfg_release(cfg);
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the notifier");
	}
	pthread_mutex_init(&n->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->cond, &ca);
	pthread_condattr_destroy(&ca);
	n->cfg = cfg;
	if (gethostname(n->hostname, sizeof(n->hostname) - 1) || !n->hostname[0])
		snprintf(n->hostname, sizeof(n->hostname), "localhost");
	char dir[PATH_MAX - 32], path[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/alerting", o->data_dir) >= sizeof(dir)) {
		rc = ts_err_set(err, TS_EINVAL, "data_dir too long");
		goto fail;
	}
	if ((rc = alert_persist_mkdir(dir, err)))
		goto fail;
	snprintf(path, sizeof(path), "%s/nlog", dir);
	if ((rc = alert_nlog_open(path, &n->nlog, err)))
		goto fail;
	snprintf(path, sizeof(path), "%s/silences", dir);
	if ((rc = alert_silences_open(path, cfg->retention_ms, &n->sil, err)))
		goto fail;
	snprintf(path, sizeof(path), "%s/outbox", dir);
	alert_outbox_options oo = {
	    .dir = path,
	    .send = send_entry,
	    .slot_free = slot_free,
	    .ctx = n,
	    .max_age_ms = cfg->outbox_max_age_ms,
	    .retry_initial_ms = cfg->retry_initial_ms,
	    .retry_max_ms = cfg->retry_max_ms,
	};
	if ((rc = alert_outbox_open(&oo, &n->ob, err)))
		goto fail;
	alert_outbox_each_nlog(n->ob, replay_nlog, n);
	if ((rc = alert_forwarder_new(&n->fwd, err)))
		goto fail;
	if (o->ha) {
		alert_ha_callbacks hcb = {.ctx = n,
					  .apply_nlog = replay_nlog,
					  .deliver = send_entry,
					  .slot_free = slot_free};
		if ((rc = alert_ha_new(o->ha, &hcb, &n->ha, err)))
			goto fail;
		alert_ha_set_retry(n->ha, cfg->outbox_max_age_ms, cfg->retry_initial_ms,
				   cfg->retry_max_ms);
	}
	if ((rc = alert_outbox_start(n->ob, err)))
		goto fail;
	int e = pthread_create(&n->thread, NULL, dispatch_main, n);
	if (e) {
		rc = ts_err_set(err, TS_EIO, "cannot start the notifier thread: %s", strerror(e));
		goto fail;
	}
	pthread_setname_np(n->thread, "alert-notify");
	n->has_thread = true;
	*out = n;
	return TS_OK;
fail:
	alert_notifier_free(n);
	return rc;
}

int alert_notifier_reload(alert_notifier *n, const ts_config *config, ts_err *err)
{
	alert_ncfg *cfg = NULL;
	int rc = alert_ncfg_from_config(config, &cfg, err);
	if (rc)
		return rc;
	alert_outbox_set_retry(n->ob, cfg->outbox_max_age_ms, cfg->retry_initial_ms,
			       cfg->retry_max_ms);
	if (n->ha)
		alert_ha_set_retry(n->ha, cfg->outbox_max_age_ms, cfg->retry_initial_ms,
				   cfg->retry_max_ms);
	pthread_mutex_lock(&n->mu);
	alert_ncfg *old = n->cfg;
	n->cfg = cfg;
	groups_rebuild(n);
	pthread_mutex_unlock(&n->mu);
	alert_ncfg_release(old);
	return TS_OK;
}

void alert_notifier_free(alert_notifier *n)
{
	if (!n)
		return;
	if (n->has_thread) {
		pthread_mutex_lock(&n->mu);
		n->stop = true;
		pthread_cond_broadcast(&n->cond);
		pthread_mutex_unlock(&n->mu);
		pthread_join(n->thread, NULL);
	}
	alert_ha_free(n->ha); /* after the dispatcher (it publishes), before the config */
	alert_forwarder_free(n->fwd);
	alert_outbox_close(n->ob);
	if (n->nlog) {
		ts_err e = {0};
		if (alert_nlog_persist(n->nlog, &e))
			ts_log_error("cannot persist the notification log: %s", e.msg);
	}
	alert_nlog_close(n->nlog);
	alert_silences_close(n->sil);
	groups_clear(n);
	size_t i = 0;
	void *v;
	while (alert_u64map_next(&n->alerts, &i, NULL, &v))
		alert_nalert_release(v);
	alert_u64map_free(&n->alerts);
	for (size_t k = 0; k < n->n_rl; k++)
		ts_free(n->rl[k].receiver);
	ts_free(n->rl);
	alert_ncfg_release(n->cfg);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->mu);
	ts_free(n->default_url);
	ts_free(n);
}

/* ================================================================ snapshots (notify_api.c) */

alert_silences *alert_notifier_silences_store(alert_notifier *n)
{
	return n->sil;
}

void alert_notifier_snapshot_free(alert_nsnap *v, size_t cnt)
{
	for (size_t i = 0; v && i < cnt; i++) {
		alert_nalert_release(v[i].alert);
		ts_free(v[i].receivers);
	}
	ts_free(v);
}

int alert_notifier_snapshot(alert_notifier *n, int64_t now, alert_nsnap **out, size_t *cnt,
			    ts_err *err)
{
	pthread_mutex_lock(&n->mu);
	size_t total = n->alerts.n, k = 0, i = 0;
	alert_nsnap *v = ts_calloc(total ? total : 1, sizeof(*v));
	inhib_sets *ih = inhib_build(n->cfg, &n->alerts, now);
	void *x;
	int rc = v ? TS_OK : TS_ENOMEM;
	while (!rc && alert_u64map_next(&n->alerts, &i, NULL, &x)) {
		alert_nalert *a = x;
		if (alert_nalert_is_resolved(a, now))
			continue;
		alert_nsnap *s = &v[k];
		const alert_ncfg_route *rs[MAX_ROUTES_PER_ALERT];
		size_t nr = alert_route_match(n->cfg->root, a->labels, a->n_labels, rs,
					      MAX_ROUTES_PER_ALERT);
		if (nr > MAX_ROUTES_PER_ALERT)
			nr = MAX_ROUTES_PER_ALERT;
		s->receivers = ts_calloc(nr ? nr : 1, ALERT_RECEIVER_NAME_MAX);
		if (!s->receivers) {
			rc = TS_ENOMEM;
			break;
		}
		for (size_t r = 0; r < nr; r++) {
			bool dup = false;
			for (size_t q = 0; q < s->n_receivers && !dup; q++)
				dup = !strcmp(s->receivers[q], rs[r]->receiver);
			if (!dup)
				snprintf(s->receivers[s->n_receivers++], ALERT_RECEIVER_NAME_MAX,
					 "%s", rs[r]->receiver);
		}
		const alert_nalert *src = inhib_check(n->cfg, ih, a);
		s->is_inhibited = src != NULL;
		s->inhibited_by = src ? src->fp : 0;
		alert_nalert_acquire(a);
		s->alert = a;
		k++;
	}
	inhib_free(ih, n->cfg->n_inhibits);
	pthread_mutex_unlock(&n->mu);
	if (rc) {
		alert_notifier_snapshot_free(v, k);
		return ts_err_set(err, rc, "out of memory listing alerts");
	}
	*out = v;
	*cnt = k;
	return TS_OK;
}

void alert_notifier_get_stats(alert_notifier *n, alert_notifier_stats *out)
{
	memset(out, 0, sizeof(*out));
	int64_t now = ts_now_ms();
	pthread_mutex_lock(&n->mu);
	out->n_received_firing = n->n_recv_firing;
	out->n_received_resolved = n->n_recv_resolved;
	out->n_invalid = n->n_invalid;
	out->n_rate_limited = n->n_rate_limited;
	out->n_alerts = n->alerts.n;
	out->n_groups = n->groups.n;
	pthread_mutex_unlock(&n->mu);
	out->outbox_depth = alert_outbox_depth(n->ob, &out->outbox_oldest_ms);
	alert_silences_count(n->sil, now, out->n_silences);
	out->n_nlog = alert_nlog_len(n->nlog);
	alert_forwarder_stats(n->fwd, &out->n_forwarded, &out->n_forward_failed,
			      &out->n_forward_dropped);
}

size_t alert_notifier_receivers(alert_notifier *n, alert_notifier_receiver_stats *out, size_t cap)
{
	alert_outbox_stat st[256];
	size_t cnt = alert_outbox_stats(n->ob, st, 256);
	for (size_t i = 0; i < cnt && i < cap && i < 256; i++) {
		alert_notifier_receiver_stats *r = &out[i];
		if (snprintf(r->receiver, sizeof(r->receiver), "%s", st[i].receiver) < 0)
			r->receiver[0] = '\0';
		r->integration = alert_ncfg_kind_name(st[i].kind);
		r->n_enqueued = st[i].n_enqueued;
		r->n_sent = st[i].n_sent;
		r->n_failed = st[i].n_failed;
		r->n_retries = st[i].n_retries;
		r->n_superseded = st[i].n_superseded;
	}
	return cnt;
}
