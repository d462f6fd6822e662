/* SPDX-License-Identifier: Apache-2.0 */
/*
 * silences.c: silences: matchers over a time window that mute matching alerts;
 * create/update/expire/list with Alertmanager 0.25's rules, persisted durably
 * (alert/notify_int.h).
 *
 * Rules (Alertmanager silence.go and api/v2): a silence needs at least one matcher and at
 * least one matcher that does not match the empty string; end after start; a new
 * silence's end may not be in the past and a start in the past becomes now. Posting with
 * an existing id updates in place when allowed (same matchers; an active silence keeps
 * its start and its new end is not in the past; a pending one's new start is not in the
 * past); otherwise the old silence is expired and a new id is created. Expiring ends an
 * active silence now and a pending one at once; expiring an expired one is a no-op.
 * State at time t: expired when end <= t, pending when start > t, else active (an
 * expired-at-t silence no longer mutes at t; Alertmanager uses end < t).
 *
 * Persistence: the set is one state file <data_dir>/alerting/silences (persist.c framing,
 * magic "SSI1", one record per silence), rewritten atomically before set/expire return,
 * so an acknowledged silence survives a crash. Expired silences are kept for the
 * retention (default 120h) and then dropped.
 *
 * Locking: mu guards the array and gen; write_mu serializes file writers (held across
 * the write only; mu is not held then), like nlog.c.
 */
#include "alert/notify_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define SIL_MAGIC    0x31495353u /* "SSI1" */
#define SIL_VERSION  1u
#define MAX_SILENCES 100000
#define MAX_MATCHERS 256

struct alert_silences {
	pthread_mutex_t mu; /* guards v, n, cap, gen */
	alert_silence *v;
	size_t n, cap;
	uint64_t gen;             /* bumped on every change */
	pthread_mutex_t write_mu; /* serializes file writes; guards written_gen */
	uint64_t written_gen;
	char *path;           /* immutable */
	int64_t retention_ms; /* immutable */
};

/* ================================================================ helpers */

void alert_uuid4(char out[ALERT_SILENCE_ID_LEN + 1])
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t x = (uint64_t)ts_mono_ns() ^ (uint64_t)ts_now_ms() << 20;
		for (int i = 0; i < 16; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[i] = (uint8_t)x;
		}
	}
	b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
	snprintf(out, ALERT_SILENCE_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

void alert_silence_fini(alert_silence *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_matchers; i++)
		ts_matcher_fini(&s->matchers[i]);
	ts_free(s->matchers);
	ts_free(s->created_by);
	ts_free(s->comment);
	memset(s, 0, sizeof(*s));
}

static int silence_copy(alert_silence *dst, const alert_silence *src)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->id, src->id, sizeof(dst->id));
	dst->starts_at_ms = src->starts_at_ms;
	dst->ends_at_ms = src->ends_at_ms;
	dst->updated_at_ms = src->updated_at_ms;
	dst->created_by = ts_strdup(src->created_by ? src->created_by : "");
	dst->comment = ts_strdup(src->comment ? src->comment : "");
	dst->matchers = ts_calloc(src->n_matchers ? src->n_matchers : 1, sizeof(ts_matcher));
	if (!dst->created_by || !dst->comment || !dst->matchers)
		goto nomem;
	for (size_t i = 0; i < src->n_matchers; i++) {
		const ts_matcher *m = &src->matchers[i];
		if (ts_matcher_init(&dst->matchers[i], m->type, m->name, m->value, NULL))
			goto nomem;
		dst->n_matchers++;
	}
	return TS_OK;
nomem:
	alert_silence_fini(dst);
	return TS_ENOMEM;
}

alert_silence_state alert_silence_state_at(const alert_silence *s, int64_t now_ms)
{
	if (s->ends_at_ms <= now_ms)
		return ALERT_SILENCE_EXPIRED;
	if (s->starts_at_ms > now_ms)
		return ALERT_SILENCE_PENDING;
	return ALERT_SILENCE_ACTIVE;
}

const char *alert_silence_state_name(alert_silence_state st)
{
	return st == ALERT_SILENCE_ACTIVE    ? "active"
	       : st == ALERT_SILENCE_PENDING ? "pending"
					     : "expired";
}

static bool same_matchers(const alert_silence *a, const alert_silence *b)
{
	if (a->n_matchers != b->n_matchers)
		return false;
	for (size_t i = 0; i < a->n_matchers; i++)
		if (a->matchers[i].type != b->matchers[i].type ||
		    strcmp(a->matchers[i].name, b->matchers[i].name) ||
		    strcmp(a->matchers[i].value, b->matchers[i].value))
			return false;
	return true;
}

static alert_silence *find(alert_silences *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].id, id))
			return &s->v[i];
	return NULL;
}

/* ================================================================ persistence */

static int encode(const alert_silence *s, ts_buf *b)
{
	int rc = alert_put_str(b, s->id);
	rc = rc ? rc : ts_buf_put_u64le(b, (uint64_t)s->starts_at_ms);
	rc = rc ? rc : ts_buf_put_u64le(b, (uint64_t)s->ends_at_ms);
	rc = rc ? rc : ts_buf_put_u64le(b, (uint64_t)s->updated_at_ms);
	rc = rc ? rc : alert_put_str(b, s->created_by);
	rc = rc ? rc : alert_put_str(b, s->comment);
	rc = rc ? rc : ts_buf_put_uvarint(b, s->n_matchers);
	for (size_t i = 0; !rc && i < s->n_matchers; i++) {
		rc = ts_buf_putc(b, (char)s->matchers[i].type);
		rc = rc ? rc : alert_put_str(b, s->matchers[i].name);
		rc = rc ? rc : alert_put_str(b, s->matchers[i].value);
	}
	return rc;
}

static int decode(const uint8_t *p, size_t n, alert_silence *s)
{
	alert_rd r = {p, p + n, TS_OK};
	memset(s, 0, sizeof(*s));
	size_t il;
	const char *id = alert_rd_str(&r, &il);
	if (!r.rc && il != ALERT_SILENCE_ID_LEN)
		r.rc = TS_ECORRUPT;
	if (!r.rc)
		memcpy(s->id, id, il);
	s->starts_at_ms = (int64_t)alert_rd_u64(&r);
	s->ends_at_ms = (int64_t)alert_rd_u64(&r);
	s->updated_at_ms = (int64_t)alert_rd_u64(&r);
	s->created_by = alert_rd_strdup(&r);
	s->comment = alert_rd_strdup(&r);
	uint64_t nm = alert_rd_uvarint(&r);
	if (!r.rc && (nm == 0 || nm > MAX_MATCHERS))
		r.rc = TS_ECORRUPT;
	if (!r.rc && !(s->matchers = ts_calloc((size_t)nm, sizeof(ts_matcher))))
		r.rc = TS_ENOMEM;
	for (uint64_t i = 0; !r.rc && i < nm; i++) {
		uint8_t t = alert_rd_u8(&r);
		char *name = alert_rd_strdup(&r), *val = alert_rd_strdup(&r);
		if (!r.rc && t > TS_MATCH_NRE)
			r.rc = TS_ECORRUPT;
		if (!r.rc && ts_matcher_init(&s->matchers[i], (ts_match_type)t, name, val, NULL))
			r.rc = TS_ECORRUPT;
		if (!r.rc)
			s->n_matchers++;
		ts_free(name);
		ts_free(val);
	}
	if (!r.rc && r.p != r.end)
		r.rc = TS_ECORRUPT;
	if (r.rc)
		alert_silence_fini(s);
	return r.rc;
}

static int append(alert_silences *s, alert_silence *sil)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		alert_silence *v = ts_realloc(s->v, nc * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = *sil;
	memset(sil, 0, sizeof(*sil));
	return TS_OK;
}

/* One record of the file: TS_OK, TS_ECORRUPT (skip it) or TS_ENOMEM. */
static int load_record(void *ctx, const uint8_t *rec, size_t n)
{
	alert_silences *s = ctx;
	alert_silence sil;
	int rc = decode(rec, n, &sil);
	if (rc)
		return rc == TS_ENOMEM ? TS_ENOMEM : TS_ECORRUPT;
	if (append(s, &sil)) {
		alert_silence_fini(&sil);
		return TS_ENOMEM;
	}
	return TS_OK;
}

static int load(alert_silences *s, ts_err *err)
{
	return alert_persist_load(s->path, SIL_MAGIC, SIL_VERSION, "silences file", load_record, s,
				  err);
}

static int persist(alert_silences *s, ts_err *err)
{
	ts_buf body, rec;
	ts_buf_init(&body, ALERT_PERSIST_MAX_FILE);
	ts_buf_init(&rec, ALERT_PERSIST_MAX_FILE);
	int rc = TS_OK;
	pthread_mutex_lock(&s->write_mu);
	pthread_mutex_lock(&s->mu);
	uint64_t gen = s->gen;
	bool need = gen != s->written_gen;
	for (size_t i = 0; need && !rc && i < s->n; i++) {
		ts_buf_reset(&rec);
		rc = encode(&s->v[i], &rec);
		rc = rc ? rc : alert_persist_frame(&body, rec.data, rec.len);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc)
		rc = ts_err_set(err, rc, "cannot encode silences");
	else if (need && !(rc = alert_persist_write(s->path, SIL_MAGIC, SIL_VERSION, &body, err)))
		s->written_gen = gen;
	pthread_mutex_unlock(&s->write_mu);
	ts_buf_free(&rec);
	ts_buf_free(&body);
	return rc;
}

/* ================================================================ API */

int alert_silences_open(const char *path, int64_t retention_ms, alert_silences **out, ts_err *err)
{
	alert_silences *s = ts_calloc(1, sizeof(*s));
	if (!s || !(s->path = ts_strdup(path))) {
		ts_free(s);
		return ts_err_set(err, TS_ENOMEM, "out of memory opening silences");
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	s->retention_ms = retention_ms > 0 ? retention_ms : 120LL * 3600 * 1000;
	int rc = load(s, err);
	if (rc) {
		alert_silences_close(s);
		return rc;
	}
	*out = s;
	return TS_OK;
}

void alert_silences_close(alert_silences *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		alert_silence_fini(&s->v[i]);
	ts_free(s->v);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	ts_free(s->path);
	ts_free(s);
}

static int validate(const alert_silence *in, ts_err *err)
{
	if (in->n_matchers == 0)
		return ts_err_set(err, TS_EINVAL, "silence invalid: at least one matcher required");
	if (in->n_matchers > MAX_MATCHERS)
		return ts_err_set(err, TS_EINVAL, "silence invalid: too many matchers");
	bool all_empty = true;
	for (size_t i = 0; i < in->n_matchers; i++) {
		const ts_matcher *m = &in->matchers[i];
		if (!ts_label_name_valid(m->name, strlen(m->name)))
			return ts_err_set(err, TS_EINVAL,
					  "silence invalid: invalid label matcher %zu: invalid "
					  "label name \"%s\"",
					  i, m->name);
		if (!ts_matcher_matches_empty(m))
			all_empty = false;
	}
	if (all_empty)
		return ts_err_set(err, TS_EINVAL,
				  "silence invalid: at least one matcher must not match the empty "
				  "string");
	if (in->starts_at_ms == 0)
		return ts_err_set(err, TS_EINVAL, "silence invalid: invalid zero start timestamp");
	if (in->ends_at_ms == 0)
		return ts_err_set(err, TS_EINVAL, "silence invalid: invalid zero end timestamp");
	if (in->ends_at_ms <= in->starts_at_ms)
		return ts_err_set(err, TS_EINVAL,
				  "Failed to create silence: start time must be before end time");
	return TS_OK;
}

int alert_silences_set(alert_silences *s, const alert_silence *in, int64_t now_ms,
		       char id_out[ALERT_SILENCE_ID_LEN + 1], ts_err *err)
{
	int rc = validate(in, err);
	if (rc)
		return rc;
	if (in->ends_at_ms <= now_ms)
		return ts_err_set(err, TS_EINVAL,
				  "Failed to create silence: end time can't be in the past");
	alert_silence copy;
	if (silence_copy(&copy, in))
		return ts_err_set(err, TS_ENOMEM, "out of memory creating a silence");
	copy.updated_at_ms = now_ms;
	pthread_mutex_lock(&s->mu);
	alert_silence *prev = in->id[0] ? find(s, in->id) : NULL;
	if (in->id[0] && !prev) {
		pthread_mutex_unlock(&s->mu);
		alert_silence_fini(&copy);
		return ts_err_set(err, TS_ENOTFOUND, "silence not found");
	}
	if (prev) {
		alert_silence_state st = alert_silence_state_at(prev, now_ms);
		bool can =
		    same_matchers(prev, &copy) &&
		    ((st == ALERT_SILENCE_ACTIVE && copy.starts_at_ms == prev->starts_at_ms) ||
		     (st == ALERT_SILENCE_PENDING && copy.starts_at_ms >= now_ms));
		if (can) {
			alert_silence_fini(prev);
			*prev = copy;
			memcpy(id_out, prev->id, ALERT_SILENCE_ID_LEN + 1);
			s->gen++;
			pthread_mutex_unlock(&s->mu);
			return persist(s, err);
		}
		if (st != ALERT_SILENCE_EXPIRED) {
			if (st == ALERT_SILENCE_PENDING)
				prev->starts_at_ms = now_ms;
			prev->ends_at_ms = now_ms;
			prev->updated_at_ms = now_ms;
		}
	}
	if (s->n >= MAX_SILENCES) {
		pthread_mutex_unlock(&s->mu);
		alert_silence_fini(&copy);
		return ts_err_set(err, TS_ELIMIT, "too many silences (%d)", MAX_SILENCES);
	}
	alert_uuid4(copy.id);
	if (copy.starts_at_ms < now_ms)
		copy.starts_at_ms = now_ms;
	memcpy(id_out, copy.id, ALERT_SILENCE_ID_LEN + 1);
	rc = append(s, &copy);
	if (!rc)
		s->gen++;
	pthread_mutex_unlock(&s->mu);
	if (rc) {
		alert_silence_fini(&copy);
		return ts_err_set(err, TS_ENOMEM, "out of memory creating a silence");
	}
	return persist(s, err);
}

int alert_silences_expire(alert_silences *s, const char *id, int64_t now_ms, ts_err *err)
{
	pthread_mutex_lock(&s->mu);
	alert_silence *sil = find(s, id);
	if (!sil) {
		pthread_mutex_unlock(&s->mu);
		return ts_err_set(err, TS_ENOTFOUND, "silence %s not found", id);
	}
	alert_silence_state st = alert_silence_state_at(sil, now_ms);
	if (st != ALERT_SILENCE_EXPIRED) {
		if (st == ALERT_SILENCE_PENDING)
			sil->starts_at_ms = now_ms;
		sil->ends_at_ms = now_ms;
		sil->updated_at_ms = now_ms;
		s->gen++;
	}
	pthread_mutex_unlock(&s->mu);
	return persist(s, err);
}

int alert_silences_get(alert_silences *s, const char *id, alert_silence *out, ts_err *err)
{
	pthread_mutex_lock(&s->mu);
	alert_silence *sil = find(s, id);
	int rc = sil ? silence_copy(out, sil) : TS_ENOTFOUND;
	pthread_mutex_unlock(&s->mu);
	if (rc == TS_ENOTFOUND)
		return ts_err_set(err, rc, "silence %s not found", id);
	if (rc)
		return ts_err_set(err, rc, "out of memory");
	return TS_OK;
}

int alert_silences_list(alert_silences *s, alert_silence **out, size_t *n, ts_err *err)
{
	pthread_mutex_lock(&s->mu);
	size_t cnt = s->n;
	alert_silence *v = ts_calloc(cnt ? cnt : 1, sizeof(*v));
	size_t k = 0;
	for (; v && k < cnt; k++)
		if (silence_copy(&v[k], &s->v[k]))
			break;
	pthread_mutex_unlock(&s->mu);
	if (!v || k < cnt) {
		alert_silences_list_free(v, k);
		return ts_err_set(err, TS_ENOMEM, "out of memory listing silences");
	}
	*out = v;
	*n = cnt;
	return TS_OK;
}

void alert_silences_list_free(alert_silence *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		alert_silence_fini(&v[i]);
	ts_free(v);
}

size_t alert_silences_mutes(alert_silences *s, const ts_label *l, size_t n, int64_t now_ms,
			    char (*out)[ALERT_SILENCE_ID_LEN + 1], size_t cap)
{
	size_t k = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		const alert_silence *sil = &s->v[i];
		if (alert_silence_state_at(sil, now_ms) != ALERT_SILENCE_ACTIVE)
			continue;
		if (!alert_matchers_match(sil->matchers, sil->n_matchers, l, n))
			continue;
		if (k < cap)
			memcpy(out[k], sil->id, ALERT_SILENCE_ID_LEN + 1);
		k++;
	}
	pthread_mutex_unlock(&s->mu);
	return k;
}

size_t alert_silences_gc(alert_silences *s, int64_t now_ms)
{
	size_t dropped = 0, k = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].ends_at_ms + s->retention_ms < now_ms) {
			alert_silence_fini(&s->v[i]);
			dropped++;
			continue;
		}
		s->v[k++] = s->v[i];
	}
	s->n = k;
	if (dropped)
		s->gen++;
	pthread_mutex_unlock(&s->mu);
	if (dropped) {
		ts_err e = {0};
		if (persist(s, &e))
			ts_log_error("cannot persist silences after garbage collection: %s", e.msg);
	}
	return dropped;
}

void alert_silences_count(alert_silences *s, int64_t now_ms, size_t counts[3])
{
	counts[0] = counts[1] = counts[2] = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++)
		counts[alert_silence_state_at(&s->v[i], now_ms)]++;
	pthread_mutex_unlock(&s->mu);
}

/* ================================================================ JSON */

int alert_silence_to_json(alert_jw *w, const alert_silence *s, int64_t now_ms)
{
	alert_jw_obj_begin(w);
	alert_jw_key(w, "id");
	alert_jw_str(w, s->id);
	alert_jw_key(w, "status");
	alert_jw_obj_begin(w);
	alert_jw_key(w, "state");
	alert_jw_str(w, alert_silence_state_name(alert_silence_state_at(s, now_ms)));
	alert_jw_obj_end(w);
	alert_jw_key(w, "updatedAt");
	alert_jw_time_api(w, s->updated_at_ms);
	alert_jw_key(w, "comment");
	alert_jw_str(w, s->comment);
	alert_jw_key(w, "createdBy");
	alert_jw_str(w, s->created_by);
	alert_jw_key(w, "endsAt");
	alert_jw_time_api(w, s->ends_at_ms);
	alert_jw_key(w, "matchers");
	alert_jw_arr_begin(w);
	for (size_t i = 0; i < s->n_matchers; i++) {
		const ts_matcher *m = &s->matchers[i];
		alert_jw_obj_begin(w);
		alert_jw_key(w, "isEqual");
		alert_jw_bool(w, m->type == TS_MATCH_EQ || m->type == TS_MATCH_RE);
		alert_jw_key(w, "isRegex");
		alert_jw_bool(w, m->type == TS_MATCH_RE || m->type == TS_MATCH_NRE);
		alert_jw_key(w, "name");
		alert_jw_str(w, m->name);
		alert_jw_key(w, "value");
		alert_jw_str(w, m->value);
		alert_jw_obj_end(w);
	}
	alert_jw_arr_end(w);
	alert_jw_key(w, "startsAt");
	alert_jw_time_api(w, s->starts_at_ms);
	return alert_jw_obj_end(w);
}

static int req_str(const alert_jnode *o, const char *key, const char **out, ts_err *err)
{
	const alert_jnode *v = alert_json_get(o, key);
	if (!v || v->type == ALERT_J_NULL)
		return ts_err_set(err, TS_EINVAL, "%s in body is required", key);
	if (v->type != ALERT_J_STR)
		return ts_err_set(err, TS_EINVAL, "%s in body must be of type string", key);
	*out = v->str;
	return TS_OK;
}

int alert_silence_from_json(const alert_jnode *o, alert_silence *out, ts_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!o || o->type != ALERT_J_OBJ)
		return ts_err_set(err, TS_EINVAL, "silence must be a JSON object");
	const char *id = NULL, *cb = NULL, *cm = NULL, *st = NULL, *en = NULL;
	const alert_jnode *idn = alert_json_get(o, "id");
	if (idn && idn->type == ALERT_J_STR && idn->len)
		id = idn->str;
	int rc = req_str(o, "comment", &cm, err);
	rc = rc ? rc : req_str(o, "createdBy", &cb, err);
	rc = rc ? rc : req_str(o, "startsAt", &st, err);
	rc = rc ? rc : req_str(o, "endsAt", &en, err);
	if (rc)
		return rc;
	if (id && strlen(id) != ALERT_SILENCE_ID_LEN)
		return ts_err_set(err, TS_ENOTFOUND, "silence not found");
	if (id)
		memcpy(out->id, id, ALERT_SILENCE_ID_LEN + 1);
	ts_err e = {0};
	if (alert_time_parse(st, &out->starts_at_ms, &e) ||
	    alert_time_parse(en, &out->ends_at_ms, &e))
		return ts_err_set(err, TS_EINVAL, "invalid time: %s", e.msg);
	const alert_jnode *ms = alert_json_get(o, "matchers");
	if (!ms || ms->type != ALERT_J_ARR)
		return ts_err_set(err, TS_EINVAL, "matchers in body is required");
	if (ms->n > MAX_MATCHERS)
		return ts_err_set(err, TS_EINVAL, "silence invalid: too many matchers");
	out->created_by = ts_strdup(cb);
	out->comment = ts_strdup(cm);
	out->matchers = ts_calloc(ms->n ? ms->n : 1, sizeof(ts_matcher));
	if (!out->created_by || !out->comment || !out->matchers) {
		alert_silence_fini(out);
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ms->n; i++) {
		const alert_jnode *m = ms->items[i];
		const char *name = NULL, *value = NULL;
		if ((rc = req_str(m, "name", &name, err)) ||
		    (rc = req_str(m, "value", &value, err)))
			goto fail;
		const alert_jnode *re = alert_json_get(m, "isRegex"),
				  *eq = alert_json_get(m, "isEqual");
		if (!re || re->type != ALERT_J_BOOL) {
			rc = ts_err_set(err, TS_EINVAL, "matchers.%zu.isRegex in body is required",
					i);
			goto fail;
		}
		bool is_eq = !eq || eq->type != ALERT_J_BOOL || eq->b;
		ts_match_type t = re->b ? (is_eq ? TS_MATCH_RE : TS_MATCH_NRE)
					: (is_eq ? TS_MATCH_EQ : TS_MATCH_NEQ);
		if ((rc = ts_matcher_init(&out->matchers[i], t, name, value, &e))) {
			rc = ts_err_set(err, rc == TS_ENOMEM ? TS_ENOMEM : TS_EINVAL,
					"silence invalid: invalid label matcher %zu: %s", i, e.msg);
			goto fail;
		}
		out->n_matchers++;
	}
	return TS_OK;
fail:
	alert_silence_fini(out);
	return rc;
}
