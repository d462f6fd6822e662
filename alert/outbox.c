/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox.c: the durable outbox: every notification is written to disk and fsync'd before
 * it is attempted, and a sender thread drains it with exponential backoff and jitter
 * until it is delivered, fails permanently, or is older than max_age (alert/notify_int.h).
 *
 * On disk: one file per entry, <dir>/<id as 16 hex digits>.ent, a persist.c state file
 * (magic "SOB1", one record; layout in docs/formats/alerting.md) written atomically
 * (tmp + fsync + rename + directory fsync) before alert_outbox_put returns. A delivered,
 * failed or superseded entry's file is unlinked. On open every *.ent file is loaded in id
 * order, so entries survive kill -9 and are retried after a restart; a file that fails its
 * checks is renamed to *.corrupt and logged; stale *.tmp files are removed.
 *
 * Delivery is at least once: a crash after the receiver answered 2xx but before the
 * unlink delivers the entry again on restart.
 *
 * Retry policy: the send callback classifies each attempt (ALERT_SEND_OK, _RETRY, _FAIL).
 * A retry waits d/2 + rand(d/2) where d = min(retry_max, retry_initial * 2^(attempt-1)),
 * at least the receiver's Retry-After. An entry still undelivered max_age after it was
 * written is dropped as failed (counter + error log), as is a permanent failure.
 *
 * Ordering and superseding: entries for the same (receiver, integration, group key) are
 * attempted strictly in id order. When a newer entry for the same key contains every
 * alert of an older pending one, the older is superseded (deleted): after an outage the
 * receiver gets the group's latest state once instead of every intermediate state.
 *
 * Threads: one sender thread ("alert-outbox"); callers put from any thread. mu guards the
 * list, counters, settings and PRNG; it is never held across a send or file I/O.
 */
#include "alert/notify_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OB_MAGIC      0x31424F53u /* "SOB1" */
#define OB_VERSION    1u
#define MAX_STAT_ROWS 1024

typedef struct oent oent;
struct oent {
	oent *next; /* list in id order */
	alert_outbox_entry e;
	uint64_t key_hash;    /* hash of receiver, kind, index, group key */
	uint32_t attempts;    /* failed attempts so far */
	int64_t next_mono_ms; /* not attempted before this */
	bool is_held;         /* waiting for alert_outbox_commit */
	bool is_in_flight;    /* being sent (outside the lock) */
	bool is_dead;         /* superseded while in flight: drop after the attempt */
};

struct alert_outbox {
	pthread_mutex_t mu;  /* guards everything below except immutable fields */
	pthread_cond_t cond; /* wakes the sender (CLOCK_MONOTONIC) */
	oent *head;          /* pending entries, id order */
	size_t n;            /* entries in the list, dead ones excluded */
	size_t bytes;        /* payload bytes in the list */
	uint64_t next_id;
	alert_outbox_stat *stats;
	size_t n_stats;
	int64_t max_age_ms, retry_initial_ms, retry_max_ms;
	uint64_t rng; /* xorshift64* state */
	bool stop;
	bool has_thread;
	pthread_t thread;
	/* immutable after open */
	char *dir;
	size_t max_entries, max_bytes;
	alert_outbox_send_fn send;
	void *ctx;
};

static int64_t mono_ms(void)
{
	return ts_mono_ns() / 1000000;
}

void alert_outbox_entry_fini(alert_outbox_entry *e)
{
	if (!e)
		return;
	ts_free(e->receiver);
	ts_free(e->group_key);
	ts_free(e->payload);
	alert_nlog_entry_fini(&e->nlog);
	memset(e, 0, sizeof(*e));
}

static uint64_t key_hash(const alert_outbox_entry *e)
{
	ts_hash64_state s;
	ts_hash64_init(&s, 0);
	ts_hash64_update(&s, e->receiver, strlen(e->receiver) + 1);
	uint32_t ki[2] = {(uint32_t)e->kind, e->integ_index};
	ts_hash64_update(&s, ki, sizeof(ki));
	ts_hash64_update(&s, e->group_key, strlen(e->group_key));
	return ts_hash64_digest(&s);
}

static bool same_key(const oent *a, const oent *b)
{
	return a->key_hash == b->key_hash && a->e.kind == b->e.kind &&
	       a->e.integ_index == b->e.integ_index && !strcmp(a->e.receiver, b->e.receiver) &&
	       !strcmp(a->e.group_key, b->e.group_key);
}

/* ================================================================ encoding */

static int encode(const alert_outbox_entry *e, ts_buf *b)
{
	int rc = ts_buf_put_u64le(b, e->id);
	rc = rc ? rc : ts_buf_put_u64le(b, (uint64_t)e->created_ms);
	rc = rc ? rc : ts_buf_putc(b, (char)e->kind);
	rc = rc ? rc : ts_buf_put_u32le(b, e->integ_index);
	rc = rc ? rc : alert_put_str(b, e->receiver);
	rc = rc ? rc : alert_put_str(b, e->group_key);
	rc = rc ? rc : ts_buf_putc(b, e->has_nlog ? 1 : 0);
	if (!rc && e->has_nlog)
		rc = alert_nlog_entry_encode(&e->nlog, b);
	return rc ? rc : alert_put_bytes(b, e->payload, e->payload_len);
}

static int decode(const uint8_t *p, size_t n, alert_outbox_entry *e)
{
	alert_rd r = {p, p + n, TS_OK};
	memset(e, 0, sizeof(*e));
	e->id = alert_rd_u64(&r);
	e->created_ms = (int64_t)alert_rd_u64(&r);
	uint8_t kind = alert_rd_u8(&r);
	e->kind = kind == ALERT_NCFG_EMAIL ? ALERT_NCFG_EMAIL : ALERT_NCFG_WEBHOOK;
	if (kind > ALERT_NCFG_EMAIL && !r.rc)
		r.rc = TS_ECORRUPT;
	e->integ_index = alert_rd_u32(&r);
	e->receiver = alert_rd_strdup(&r);
	e->group_key = alert_rd_strdup(&r);
	e->has_nlog = alert_rd_u8(&r) != 0;
	if (e->has_nlog && !r.rc && alert_nlog_entry_decode(&r, &e->nlog))
		e->has_nlog = false;
	size_t pl;
	const char *payload = alert_rd_str(&r, &pl);
	if (!r.rc && r.p != r.end)
		r.rc = TS_ECORRUPT;
	if (!r.rc) {
		e->payload = ts_malloc(pl + 1);
		if (!e->payload) {
			r.rc = TS_ENOMEM;
		} else {
			memcpy(e->payload, payload, pl);
			e->payload[pl] = '\0';
			e->payload_len = pl;
		}
	}
	if (r.rc)
		alert_outbox_entry_fini(e);
	return r.rc;
}

static void entry_path(const alert_outbox *ob, uint64_t id, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%016" PRIx64 ".ent", ob->dir, id);
}

/* ================================================================ stats */

static alert_outbox_stat *stat_row(alert_outbox *ob, const char *receiver, alert_ncfg_kind kind)
{
	for (size_t i = 0; i < ob->n_stats; i++)
		if (ob->stats[i].kind == kind && !strcmp(ob->stats[i].receiver, receiver))
			return &ob->stats[i];
	if (ob->n_stats >= MAX_STAT_ROWS)
		return NULL;
	alert_outbox_stat *v = ts_realloc(ob->stats, (ob->n_stats + 1) * sizeof(*v));
	if (!v)
		return NULL;
	ob->stats = v;
	alert_outbox_stat *s = &v[ob->n_stats++];
	memset(s, 0, sizeof(*s));
	snprintf(s->receiver, sizeof(s->receiver), "%s", receiver);
	s->kind = kind;
	return s;
}

/* ================================================================ list */

static void oent_free(oent *x)
{
	alert_outbox_entry_fini(&x->e);
	ts_free(x);
}

/* Unlink x from the list (mu held). */
static void list_remove(alert_outbox *ob, oent *x)
{
	for (oent **pp = &ob->head; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (!x->is_dead) {
		ob->n--;
		ob->bytes -= x->e.payload_len;
	}
}

static void list_insert(alert_outbox *ob, oent *x)
{
	oent **pp = &ob->head;
	while (*pp && (*pp)->e.id < x->e.id)
		pp = &(*pp)->next;
	x->next = *pp;
	*pp = x;
	ob->n++;
	ob->bytes += x->e.payload_len;
}

static bool fps_within(const alert_nlog_entry *old, const alert_nlog_entry *new_)
{
	const uint64_t *sets[2] = {old->firing, old->resolved};
	size_t ns[2] = {old->n_firing, old->n_resolved};
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < ns[s]; i++) {
			uint64_t fp = sets[s][i];
			bool found = false;
			for (size_t j = 0; !found && j < new_->n_firing; j++)
				found = new_->firing[j] == fp;
			for (size_t j = 0; !found && j < new_->n_resolved; j++)
				found = new_->resolved[j] == fp;
			if (!found)
				return false;
		}
	}
	return true;
}

/* ================================================================ open / replay */

static int cmp_oent(const void *a, const void *b)
{
	const oent *x = *(oent *const *)a, *y = *(oent *const *)b;
	return x->e.id < y->e.id ? -1 : x->e.id > y->e.id;
}

static void quarantine(const char *path, const char *why)
{
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), "%s.corrupt", path);
	if (rename(path, dst))
		unlink(path);
	ts_log_error("outbox entry %s is unreadable (%s); moved aside to %s", path, why, dst);
}

static int replay(alert_outbox *ob, ts_err *err)
{
	DIR *d = opendir(ob->dir);
	if (!d)
		return ts_err_set(err, TS_EIO, "cannot open outbox %s: %s", ob->dir,
				  strerror(errno));
	oent **v = NULL;
	size_t n = 0, cap = 0;
	int rc = TS_OK;
	struct dirent *de;
	char path[PATH_MAX];
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		snprintf(path, sizeof(path), "%s/%s", ob->dir, de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")) {
			unlink(path);
			continue;
		}
		if (l != 20 || strcmp(de->d_name + 16, ".ent"))
			continue;
		uint8_t *data;
		size_t len;
		uint32_t ver;
		ts_err e = {0};
		int r = alert_persist_read(path, OB_MAGIC, OB_VERSION, &data, &len, &ver, &e);
		if (r == TS_ENOMEM) {
			rc = ts_err_set(err, r, "%s", e.msg);
			break;
		}
		if (r) {
			quarantine(path, e.msg);
			continue;
		}
		const uint8_t *p = data + 8, *rec;
		size_t rn;
		oent *x = ts_calloc(1, sizeof(*x));
		if (!x) {
			ts_free(data);
			rc = ts_err_set(err, TS_ENOMEM, "out of memory replaying the outbox");
			break;
		}
		r = alert_persist_next(&p, data + len, &rec, &rn);
		if (!r)
			r = decode(rec, rn, &x->e);
		ts_free(data);
		char want[32];
		snprintf(want, sizeof(want), "%016" PRIx64 ".ent", x->e.id);
		if (r == TS_ENOMEM) {
			ts_free(x);
			rc = ts_err_set(err, r, "out of memory replaying the outbox");
			break;
		}
		if (r || strcmp(want, de->d_name)) {
			alert_outbox_entry_fini(&x->e);
			ts_free(x);
			quarantine(path, r ? "bad record" : "id does not match the file name");
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			oent **nv = ts_realloc(v, nc * sizeof(*nv));
			if (!nv) {
				oent_free(x);
				rc = ts_err_set(err, TS_ENOMEM,
						"out of memory replaying the outbox");
				break;
			}
			v = nv;
			cap = nc;
		}
		x->key_hash = key_hash(&x->e);
		v[n++] = x;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_oent);
	for (size_t i = 0; i < n; i++) {
		if (rc) {
			oent_free(v[i]);
			continue;
		}
		list_insert(ob, v[i]);
		if (v[i]->e.id >= ob->next_id)
			ob->next_id = v[i]->e.id + 1;
	}
	ts_free(v);
	if (!rc && n)
		ts_log_info("outbox %s: replaying %zu pending notifications", ob->dir, n);
	return rc;
}

int alert_outbox_open(const alert_outbox_options *o, alert_outbox **out, ts_err *err)
{
	alert_outbox *ob = ts_calloc(1, sizeof(*ob));
	if (!ob || !(ob->dir = ts_strdup(o->dir))) {
		ts_free(ob);
		return ts_err_set(err, TS_ENOMEM, "out of memory opening the outbox");
	}
	pthread_mutex_init(&ob->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ob->cond, &ca);
	pthread_condattr_destroy(&ca);
	ob->send = o->send;
	ob->ctx = o->ctx;
	ob->max_age_ms = o->max_age_ms > 0 ? o->max_age_ms : 24LL * 3600 * 1000;
	ob->retry_initial_ms = o->retry_initial_ms > 0 ? o->retry_initial_ms : 1000;
	ob->retry_max_ms = o->retry_max_ms > 0 ? o->retry_max_ms : 5 * 60 * 1000;
	ob->max_entries = o->max_entries ? o->max_entries : 100000;
	ob->max_bytes = o->max_bytes ? o->max_bytes : (size_t)256 << 20;
	ob->rng = o->seed ? o->seed : (uint64_t)ts_mono_ns() ^ ((uint64_t)getpid() << 32) ^ 1;
	ob->next_id = 1;
	int rc = alert_persist_mkdir(ob->dir, err);
	if (!rc)
		rc = replay(ob, err);
	if (rc) {
		alert_outbox_close(ob);
		return rc;
	}
	*out = ob;
	return TS_OK;
}

void alert_outbox_each_nlog(alert_outbox *ob, void (*fn)(void *ctx, const alert_nlog_entry *e),
			    void *ctx)
{
	pthread_mutex_lock(&ob->mu);
	for (oent *x = ob->head; x; x = x->next)
		if (x->e.has_nlog)
			fn(ctx, &x->e.nlog);
	pthread_mutex_unlock(&ob->mu);
}

/* ================================================================ put */

int alert_outbox_put(alert_outbox *ob, const alert_outbox_entry *in, bool hold, ts_err *err)
{
	oent *x = ts_calloc(1, sizeof(*x));
	if (!x)
		return ts_err_set(err, TS_ENOMEM, "out of memory queueing a notification");
	alert_outbox_entry *e = &x->e;
	e->kind = in->kind;
	e->integ_index = in->integ_index;
	e->receiver = ts_strdup(in->receiver);
	e->group_key = ts_strdup(in->group_key);
	e->payload = ts_malloc(in->payload_len + 1);
	e->payload_len = in->payload_len;
	int rc = !e->receiver || !e->group_key || !e->payload ? TS_ENOMEM : TS_OK;
	if (!rc && in->has_nlog) {
		e->has_nlog = true;
		e->nlog.key = ts_strdup(in->nlog.key);
		e->nlog.firing = in->nlog.n_firing ? ts_malloc(in->nlog.n_firing * 8) : NULL;
		e->nlog.resolved = in->nlog.n_resolved ? ts_malloc(in->nlog.n_resolved * 8) : NULL;
		if (!e->nlog.key || (in->nlog.n_firing && !e->nlog.firing) ||
		    (in->nlog.n_resolved && !e->nlog.resolved)) {
			rc = TS_ENOMEM;
		} else {
			if (in->nlog.n_firing)
				memcpy(e->nlog.firing, in->nlog.firing, in->nlog.n_firing * 8);
			if (in->nlog.n_resolved)
				memcpy(e->nlog.resolved, in->nlog.resolved,
				       in->nlog.n_resolved * 8);
			e->nlog.n_firing = in->nlog.n_firing;
			e->nlog.n_resolved = in->nlog.n_resolved;
			e->nlog.sent_ms = in->nlog.sent_ms;
			e->nlog.expires_ms = in->nlog.expires_ms;
		}
	}
	if (rc) {
		oent_free(x);
		return ts_err_set(err, TS_ENOMEM, "out of memory queueing a notification");
	}
	memcpy(e->payload, in->payload, in->payload_len);
	e->payload[in->payload_len] = '\0';
	e->created_ms = ts_now_ms();
	x->key_hash = key_hash(e);
	x->is_held = hold;

	pthread_mutex_lock(&ob->mu);
	if (ob->n >= ob->max_entries || ob->bytes + e->payload_len > ob->max_bytes) {
		size_t n = ob->n;
		pthread_mutex_unlock(&ob->mu);
		oent_free(x);
		return ts_err_set(err, TS_EFULL, "outbox full (%zu entries pending)", n);
	}
	e->id = ob->next_id++;
	pthread_mutex_unlock(&ob->mu);

	ts_buf rec, body;
	ts_buf_init(&rec, ALERT_PERSIST_MAX_FILE);
	ts_buf_init(&body, ALERT_PERSIST_MAX_FILE);
	rc = encode(e, &rec);
	rc = rc ? rc : alert_persist_frame(&body, rec.data, rec.len);
	char path[PATH_MAX];
	entry_path(ob, e->id, path, sizeof(path));
	if (rc)
		rc = ts_err_set(err, rc, "cannot encode outbox entry");
	else
		rc = alert_persist_write(path, OB_MAGIC, OB_VERSION, &body, err);
	ts_buf_free(&rec);
	ts_buf_free(&body);
	if (rc) {
		oent_free(x);
		return rc;
	}

	/* Supersede older pending entries of the same group that this one covers. */
	uint64_t gone[64];
	size_t n_gone = 0;
	pthread_mutex_lock(&ob->mu);
	alert_outbox_stat *st = stat_row(ob, e->receiver, e->kind);
	if (st)
		st->n_enqueued++;
	for (oent **pp = &ob->head; *pp;) {
		oent *o = *pp;
		if (o->is_dead || !same_key(o, x) || !o->e.has_nlog || !e->has_nlog ||
		    !fps_within(&o->e.nlog, &e->nlog) || n_gone == 64) {
			pp = &o->next;
			continue;
		}
		if (st)
			st->n_superseded++;
		if (o->is_in_flight) {
			ob->n--;
			ob->bytes -= o->e.payload_len;
			o->is_dead = true;
			pp = &o->next;
			continue;
		}
		gone[n_gone++] = o->e.id;
		*pp = o->next;
		ob->n--;
		ob->bytes -= o->e.payload_len;
		oent_free(o);
	}
	list_insert(ob, x);
	if (!hold)
		pthread_cond_signal(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
	for (size_t i = 0; i < n_gone; i++) {
		entry_path(ob, gone[i], path, sizeof(path));
		unlink(path);
	}
	return TS_OK;
}

void alert_outbox_commit(alert_outbox *ob)
{
	pthread_mutex_lock(&ob->mu);
	for (oent *x = ob->head; x; x = x->next)
		x->is_held = false;
	pthread_cond_signal(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
}

void alert_outbox_set_retry(alert_outbox *ob, int64_t max_age_ms, int64_t retry_initial_ms,
			    int64_t retry_max_ms)
{
	pthread_mutex_lock(&ob->mu);
	if (max_age_ms > 0)
		ob->max_age_ms = max_age_ms;
	if (retry_initial_ms > 0)
		ob->retry_initial_ms = retry_initial_ms;
	if (retry_max_ms > 0)
		ob->retry_max_ms = retry_max_ms;
	pthread_cond_signal(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
}

/* ================================================================ sending */

int64_t alert_outbox_backoff(int64_t initial_ms, int64_t max_ms, uint32_t attempt, uint64_t *state)
{
	int64_t d = initial_ms;
	for (uint32_t i = 1; i < attempt && d < max_ms; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	if (d > max_ms)
		d = max_ms;
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	uint64_t r = x * 0x2545F4914F6CDD1DULL;
	int64_t half = d / 2;
	return half + (half > 0 ? (int64_t)(r % (uint64_t)half) : 0) + (d & 1);
}

/* The first entry that may be attempted now (mu held), or NULL. */
static oent *next_due(alert_outbox *ob, int64_t now)
{
	for (oent *x = ob->head; x; x = x->next) {
		if (x->is_dead || x->is_held || x->is_in_flight || x->next_mono_ms > now)
			continue;
		bool blocked = false; /* an older entry of the same group goes first */
		for (oent *o = ob->head; o != x && !blocked; o = o->next)
			blocked = !o->is_dead && same_key(o, x);
		if (!blocked)
			return x;
	}
	return NULL;
}

static bool log_attempt(uint32_t attempts)
{
	return (attempts & (attempts - 1)) == 0; /* 1, 2, 4, 8, ...: bounded log volume */
}

size_t alert_outbox_run_due(alert_outbox *ob, int64_t now_mono_ms)
{
	size_t attempts = 0;
	char path[PATH_MAX];
	pthread_mutex_lock(&ob->mu);
	for (;;) {
		if (ob->stop)
			break;
		oent *x = next_due(ob, now_mono_ms);
		if (!x)
			break;
		x->is_in_flight = true;
		pthread_mutex_unlock(&ob->mu);

		int64_t retry_after = 0;
		ts_err e = {0};
		alert_send_result res = ob->send(ob->ctx, &x->e, &retry_after, &e);
		attempts++;
		int64_t now_wall = ts_now_ms();

		pthread_mutex_lock(&ob->mu);
		x->is_in_flight = false;
		alert_outbox_stat *st = stat_row(ob, x->e.receiver, x->e.kind);
		bool remove = true;
		if (res == ALERT_SEND_OK) {
			if (st)
				st->n_sent++;
		} else if (res == ALERT_SEND_FAIL) {
			if (st)
				st->n_failed++;
			ts_log_error("notification to receiver \"%s\" (%s[%u]) failed permanently, "
				     "dropped: %s",
				     x->e.receiver, alert_ncfg_kind_name(x->e.kind),
				     x->e.integ_index, e.msg);
		} else {
			x->attempts++;
			if (st)
				st->n_retries++;
			if (x->is_dead) {
				/* superseded meanwhile: the newer entry carries its alerts */
			} else if (now_wall - x->e.created_ms >= ob->max_age_ms) {
				if (st)
					st->n_failed++;
				ts_log_error("notification to receiver \"%s\" (%s[%u]) not "
					     "delivered after %u attempts within max_age, dropped: "
					     "%s",
					     x->e.receiver, alert_ncfg_kind_name(x->e.kind),
					     x->e.integ_index, x->attempts, e.msg);
			} else {
				int64_t d = alert_outbox_backoff(
				    ob->retry_initial_ms, ob->retry_max_ms, x->attempts, &ob->rng);
				if (retry_after > d)
					d = retry_after < ob->retry_max_ms ? retry_after
									   : ob->retry_max_ms;
				x->next_mono_ms = mono_ms() + d;
				remove = false;
				if (log_attempt(x->attempts))
					ts_log_warn(
					    "notification to receiver \"%s\" (%s[%u]) failed "
					    "(attempt %u), retrying in %lld ms: %s",
					    x->e.receiver, alert_ncfg_kind_name(x->e.kind),
					    x->e.integ_index, x->attempts, (long long)d, e.msg);
			}
		}
		if (remove) {
			list_remove(ob, x);
			entry_path(ob, x->e.id, path, sizeof(path));
			pthread_mutex_unlock(&ob->mu);
			if (unlink(path) && errno != ENOENT)
				ts_log_error("cannot remove outbox entry %s: %s", path,
					     strerror(errno));
			oent_free(x);
			pthread_mutex_lock(&ob->mu);
		}
		now_mono_ms = mono_ms();
	}
	pthread_mutex_unlock(&ob->mu);
	return attempts;
}

static void *sender_main(void *arg)
{
	alert_outbox *ob = arg;
	for (;;) {
		alert_outbox_run_due(ob, mono_ms());
		pthread_mutex_lock(&ob->mu);
		if (ob->stop) {
			pthread_mutex_unlock(&ob->mu);
			break;
		}
		int64_t now = mono_ms(), wake = now + 60 * 1000;
		bool runnable = false;
		for (oent *x = ob->head; x; x = x->next) {
			if (x->is_dead || x->is_held || x->is_in_flight)
				continue;
			if (x->next_mono_ms <= now) {
				runnable = next_due(ob, now) != NULL;
				if (runnable)
					break;
				continue;
			}
			if (x->next_mono_ms < wake)
				wake = x->next_mono_ms;
		}
		if (!runnable) {
			struct timespec ts = {.tv_sec = wake / 1000,
					      .tv_nsec = (long)(wake % 1000) * 1000000};
			pthread_cond_timedwait(&ob->cond, &ob->mu, &ts);
		}
		pthread_mutex_unlock(&ob->mu);
	}
	return NULL;
}

int alert_outbox_start(alert_outbox *ob, ts_err *err)
{
	if (ob->has_thread)
		return TS_OK;
	int e = pthread_create(&ob->thread, NULL, sender_main, ob);
	if (e)
		return ts_err_set(err, TS_EIO, "cannot start the outbox sender: %s", strerror(e));
	pthread_setname_np(ob->thread, "alert-outbox");
	ob->has_thread = true;
	return TS_OK;
}

void alert_outbox_close(alert_outbox *ob)
{
	if (!ob)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->stop = true;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
	if (ob->has_thread)
		pthread_join(ob->thread, NULL);
	for (oent *x = ob->head; x;) {
		oent *next = x->next;
		oent_free(x);
		x = next;
	}
	ts_free(ob->stats);
	pthread_cond_destroy(&ob->cond);
	pthread_mutex_destroy(&ob->mu);
	ts_free(ob->dir);
	ts_free(ob);
}

size_t alert_outbox_depth(alert_outbox *ob, int64_t *oldest_ms)
{
	pthread_mutex_lock(&ob->mu);
	size_t n = ob->n;
	int64_t oldest = 0;
	for (oent *x = ob->head; x; x = x->next)
		if (!x->is_dead && (!oldest || x->e.created_ms < oldest))
			oldest = x->e.created_ms;
	pthread_mutex_unlock(&ob->mu);
	if (oldest_ms)
		*oldest_ms = oldest;
	return n;
}

size_t alert_outbox_stats(alert_outbox *ob, alert_outbox_stat *out, size_t cap)
{
	pthread_mutex_lock(&ob->mu);
	size_t n = ob->n_stats;
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = ob->stats[i];
	pthread_mutex_unlock(&ob->mu);
	return n;
}
