/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nlog.c: the notification log: for each (group key, receiver integration) what was last
 * notified and when, so a group is not re-notified before repeat_interval unless its
 * alerts changed, also across restarts (alert/notify_int.h).
 *
 * Semantics are Alertmanager 0.25's nflog + DedupStage: an entry holds the fingerprints
 * of the firing and resolved alerts of the last notification and its time; needsUpdate
 * decides from it (see alert_nlog_needs_update). Entries expire after the retention
 * (default 120h, Alertmanager's --data.retention) and are then dropped.
 *
 * Persistence: the whole log is one state file <data_dir>/alerting/nlog (persist.c
 * framing, magic "SNL1", one record per entry), rewritten atomically by
 * alert_nlog_persist when it changed. The notifier persists once per dispatch round,
 * after the round's outbox entries are written; every outbox entry also carries its nlog
 * record, and replaying the outbox on start re-applies them, so a crash between the two
 * writes neither loses the record nor duplicates the notification.
 *
 * Locking: mu guards the map and gen; write_mu serializes writers of the file and guards
 * written_gen. It is held across the file write (the one lock held across I/O here), but
 * mu is released before the write, so lookups and puts never wait for the disk.
 */
#include "alert/notify_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NLOG_MAGIC   0x314C4E53u /* "SNL1" */
#define NLOG_VERSION 1u
#define MAX_FPS      (1u << 20)

typedef struct nent nent;
struct nent {
	nent *next; /* same key hash */
	alert_nlog_entry e;
};

struct alert_nlog {
	pthread_mutex_t mu;       /* guards map, n, gen */
	alert_u64map map;         /* ts_hash64(key) -> nent chain */
	size_t n;                 /* entries */
	uint64_t gen;             /* bumped on every change */
	pthread_mutex_t write_mu; /* serializes file writes; guards written_gen */
	uint64_t written_gen;     /* gen of the file on disk */
	char *path;               /* immutable */
};

/* ================================================================ entries */

void alert_nlog_entry_fini(alert_nlog_entry *e)
{
	if (!e)
		return;
	ts_free(e->key);
	ts_free(e->firing);
	ts_free(e->resolved);
	memset(e, 0, sizeof(*e));
}

static int entry_copy(alert_nlog_entry *dst, const alert_nlog_entry *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->key = ts_strdup(src->key);
	dst->firing = src->n_firing ? ts_malloc(src->n_firing * 8) : NULL;
	dst->resolved = src->n_resolved ? ts_malloc(src->n_resolved * 8) : NULL;
	if (!dst->key || (src->n_firing && !dst->firing) || (src->n_resolved && !dst->resolved)) {
		alert_nlog_entry_fini(dst);
		return TS_ENOMEM;
	}
	if (src->n_firing)
		memcpy(dst->firing, src->firing, src->n_firing * 8);
	if (src->n_resolved)
		memcpy(dst->resolved, src->resolved, src->n_resolved * 8);
	dst->n_firing = src->n_firing;
	dst->n_resolved = src->n_resolved;
	dst->sent_ms = src->sent_ms;
	dst->expires_ms = src->expires_ms;
	return TS_OK;
}

int alert_nlog_entry_encode(const alert_nlog_entry *e, ts_buf *b)
{
	int rc = alert_put_str(b, e->key);
	rc = rc ? rc : ts_buf_put_u64le(b, (uint64_t)e->sent_ms);
	rc = rc ? rc : ts_buf_put_u64le(b, (uint64_t)e->expires_ms);
	rc = rc ? rc : ts_buf_put_uvarint(b, e->n_firing);
	for (size_t i = 0; !rc && i < e->n_firing; i++)
		rc = ts_buf_put_u64le(b, e->firing[i]);
	rc = rc ? rc : ts_buf_put_uvarint(b, e->n_resolved);
	for (size_t i = 0; !rc && i < e->n_resolved; i++)
		rc = ts_buf_put_u64le(b, e->resolved[i]);
	return rc;
}

static uint64_t *read_fps(alert_rd *r, size_t *n)
{
	uint64_t cnt = alert_rd_uvarint(r);
	*n = 0;
	if (r->rc || cnt == 0)
		return NULL;
	if (cnt > MAX_FPS || cnt * 8 > (uint64_t)(r->end - r->p)) {
		r->rc = TS_ECORRUPT;
		return NULL;
	}
	uint64_t *v = ts_malloc((size_t)cnt * 8);
	if (!v) {
		r->rc = TS_ENOMEM;
		return NULL;
	}
	for (uint64_t i = 0; i < cnt; i++)
		v[i] = alert_rd_u64(r);
	*n = (size_t)cnt;
	return v;
}

int alert_nlog_entry_decode(alert_rd *r, alert_nlog_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->key = alert_rd_strdup(r);
	out->sent_ms = (int64_t)alert_rd_u64(r);
	out->expires_ms = (int64_t)alert_rd_u64(r);
	out->firing = read_fps(r, &out->n_firing);
	out->resolved = read_fps(r, &out->n_resolved);
	if (r->rc) {
		alert_nlog_entry_fini(out);
		return r->rc;
	}
	return TS_OK;
}

int alert_nlog_key(const char *group_key, const char *receiver, const alert_ncfg_integration *i,
		   ts_buf *out)
{
	return ts_buf_printf(out, "%s:%s/%s/%u", group_key, receiver, alert_ncfg_kind_name(i->kind),
			     i->index);
}

/* Is every element of sorted `sub` in sorted `set`? */
static bool is_subset(const uint64_t *set, size_t n_set, const uint64_t *sub, size_t n_sub)
{
	size_t i = 0;
	for (size_t k = 0; k < n_sub; k++) {
		while (i < n_set && set[i] < sub[k])
			i++;
		if (i == n_set || set[i] != sub[k])
			return false;
	}
	return true;
}

bool alert_nlog_needs_update(const alert_nlog_entry *e, const uint64_t *firing, size_t n_firing,
			     const uint64_t *resolved, size_t n_resolved, bool send_resolved,
			     int64_t repeat_ms, int64_t now_ms)
{
	/* Never notified: only if something fires (a group of resolved alerts is news to
	 * nobody). */
	if (!e)
		return n_firing > 0;
	if (!is_subset(e->firing, e->n_firing, firing, n_firing))
		return true;
	/* All resolved: notify once so the firing set is cleared from the log, whatever
	 * send_resolved says (the integration drops resolved alerts itself). */
	if (n_firing == 0)
		return e->n_firing > 0;
	if (send_resolved && !is_subset(e->resolved, e->n_resolved, resolved, n_resolved))
		return true;
	return e->sent_ms < now_ms - repeat_ms;
}

/* ================================================================ the log */

static nent *lookup(alert_nlog *l, const char *key)
{
	uint64_t h = ts_hash64(key, strlen(key), 0);
	for (nent *x = alert_u64map_get(&l->map, h); x; x = x->next)
		if (!strcmp(x->e.key, key))
			return x;
	return NULL;
}

/* Insert a copy or replace an older entry; called with mu held. */
static int put_locked(alert_nlog *l, const alert_nlog_entry *e)
{
	nent *old = lookup(l, e->key);
	if (old && old->e.sent_ms > e->sent_ms)
		return TS_OK;
	alert_nlog_entry copy;
	if (entry_copy(&copy, e))
		return TS_ENOMEM;
	if (old) {
		alert_nlog_entry_fini(&old->e);
		old->e = copy;
		l->gen++;
		return TS_OK;
	}
	nent *x = ts_calloc(1, sizeof(*x));
	if (!x) {
		alert_nlog_entry_fini(&copy);
		return TS_ENOMEM;
	}
	x->e = copy;
	uint64_t h = ts_hash64(e->key, strlen(e->key), 0);
	x->next = alert_u64map_get(&l->map, h);
	if (alert_u64map_put(&l->map, h, x)) {
		alert_nlog_entry_fini(&x->e);
		ts_free(x);
		return TS_ENOMEM;
	}
	l->n++;
	l->gen++;
	return TS_OK;
}

/* One record of the file: TS_OK, TS_ECORRUPT (skip it) or TS_ENOMEM. */
static int load_record(void *ctx, const uint8_t *rec, size_t n)
{
	alert_nlog *l = ctx;
	alert_rd r = {rec, rec + n, TS_OK};
	alert_nlog_entry ent;
	if (alert_nlog_entry_decode(&r, &ent))
		return r.rc == TS_ENOMEM ? TS_ENOMEM : TS_ECORRUPT;
	int rc = put_locked(l, &ent);
	alert_nlog_entry_fini(&ent);
	return rc ? TS_ENOMEM : TS_OK;
}

static int load(alert_nlog *l, ts_err *err)
{
	int rc = alert_persist_load(l->path, NLOG_MAGIC, NLOG_VERSION, "notification log",
				    load_record, l, err);
	if (rc == TS_OK)
		l->written_gen = l->gen;
	return rc;
}

int alert_nlog_open(const char *path, alert_nlog **out, ts_err *err)
{
	alert_nlog *l = ts_calloc(1, sizeof(*l));
	if (!l || !(l->path = ts_strdup(path))) {
		ts_free(l);
		return ts_err_set(err, TS_ENOMEM, "out of memory opening the notification log");
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->write_mu, NULL);
	int rc = load(l, err);
	if (rc) {
		alert_nlog_close(l);
		return rc;
	}
	*out = l;
	return TS_OK;
}

void alert_nlog_close(alert_nlog *l)
{
	if (!l)
		return;
	size_t i = 0;
	void *v;
	while (alert_u64map_next(&l->map, &i, NULL, &v)) {
		for (nent *x = v; x;) {
			nent *next = x->next;
			alert_nlog_entry_fini(&x->e);
			ts_free(x);
			x = next;
		}
	}
	alert_u64map_free(&l->map);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->write_mu);
	ts_free(l->path);
	ts_free(l);
}

int alert_nlog_get(alert_nlog *l, const char *key, alert_nlog_entry *out)
{
	pthread_mutex_lock(&l->mu);
	nent *x = lookup(l, key);
	int rc = x ? entry_copy(out, &x->e) : TS_ENOTFOUND;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int alert_nlog_put(alert_nlog *l, const alert_nlog_entry *e, ts_err *err)
{
	pthread_mutex_lock(&l->mu);
	int rc = put_locked(l, e);
	pthread_mutex_unlock(&l->mu);
	if (rc)
		return ts_err_set(err, rc, "out of memory updating the notification log");
	return TS_OK;
}

size_t alert_nlog_gc(alert_nlog *l, int64_t now_ms)
{
	size_t dropped = 0;
	pthread_mutex_lock(&l->mu);
	size_t i = 0;
	uint64_t k;
	void *v;
	while (alert_u64map_next(&l->map, &i, &k, &v)) {
		nent *head = v, **pp = &head;
		while (*pp) {
			nent *x = *pp;
			if (x->e.expires_ms > now_ms) {
				pp = &x->next;
				continue;
			}
			*pp = x->next;
			alert_nlog_entry_fini(&x->e);
			ts_free(x);
			dropped++;
			l->n--;
		}
		if (head != v) {
			if (head)
				alert_u64map_put(&l->map, k, head); /* replace: cannot grow */
			else
				alert_u64map_del(&l->map, k);
		}
	}
	if (dropped)
		l->gen++;
	pthread_mutex_unlock(&l->mu);
	return dropped;
}

size_t alert_nlog_len(alert_nlog *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

int alert_nlog_persist(alert_nlog *l, ts_err *err)
{
	ts_buf body, rec;
	ts_buf_init(&body, ALERT_PERSIST_MAX_FILE);
	ts_buf_init(&rec, ALERT_PERSIST_MAX_FILE);
	int rc = TS_OK;
	pthread_mutex_lock(&l->write_mu);
	pthread_mutex_lock(&l->mu);
	uint64_t gen = l->gen;
	bool need = gen != l->written_gen;
	size_t i = 0;
	void *v;
	while (need && !rc && alert_u64map_next(&l->map, &i, NULL, &v)) {
		for (nent *x = v; x && !rc; x = x->next) {
			ts_buf_reset(&rec);
			rc = alert_nlog_entry_encode(&x->e, &rec);
			rc = rc ? rc : alert_persist_frame(&body, rec.data, rec.len);
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (rc)
		rc = ts_err_set(err, rc, "cannot encode the notification log");
	else if (need && !(rc = alert_persist_write(l->path, NLOG_MAGIC, NLOG_VERSION, &body, err)))
		l->written_gen = gen;
	pthread_mutex_unlock(&l->write_mu);
	ts_buf_free(&rec);
	ts_buf_free(&body);
	return rc;
}
