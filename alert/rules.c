/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules.c: the rule engine (alert.h "rules"): which files are loaded, atomic reloads,
 * the evaluation scheduler, and snapshots for the HTTP API.
 *
 * Config: `rule_files:` is a list of glob patterns, relative to the directory of the
 * config file; the matching files are loaded in pattern order (each pattern's matches
 * sorted, duplicates skipped). `global.evaluation_interval` (default 1m) is the interval
 * of groups without their own, `global.external_labels` are given to templates as
 * $externalLabels and added to posted alerts. Only these keys are read here; ingest/
 * validates the rest of `global:`.
 *
 * Scheduling: each group is due at its own slots, base + offset + k * interval, where
 * the offset is Prometheus' hash of file and group name (alert_group_offset_ms), so a
 * group is evaluated at the same instants Prometheus would use. A pool of n_workers
 * threads ("rules-<n>") takes the earliest due group that nobody is evaluating; a slot
 * that is already in the past when a group comes up is skipped (counted as missed) and
 * the group is evaluated at the latest slot not after now, as Prometheus does. A slow
 * group delays only itself.
 *
 * Reload: files are read and validated first; on any error nothing changes. Then, under
 * alert_rules.mu, groups that are not kept are retired (workers skip them) and the
 * reload waits until none of them is being evaluated; changed groups take over the state
 * of their predecessor (alert_rule_group_copy_state); the list is swapped. Series of
 * removed groups and rules get staleness markers afterwards, outside the lock.
 */
#include "alert/rules_int.h"

#include "alert/arena.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_EVAL_INTERVAL_MS (60 * 1000)

struct alert_rules {
	alert_rules_options opt;   /* copy; external_url points to ext_url */
	char *ext_url;             /* owned copy of opt.external_url ("" if none) */
	pthread_mutex_t mu;        /* guards everything below and groups' scheduling fields */
	pthread_cond_t cond;       /* group done, list swapped, reload finished, stopping */
	alert_rule_group **groups; /* sorted by file, then name */
	size_t n_groups;
	alert_lset *external_labels; /* sorted; replaced by reloads */
	bool is_stopping;
	bool is_reloading;
	pthread_t *threads;
	int n_threads;
};

void alert_rules_options_init(alert_rules_options *o)
{
	memset(o, 0, sizeof(*o));
	o->resend_delay_ms = 60 * 1000;
	o->resolved_retention_ms = 15 * 60 * 1000;
	o->outage_tolerance_ms = 60 * 60 * 1000;
	o->for_grace_period_ms = 10 * 60 * 1000;
	o->lookback_delta_ms = 5 * 60 * 1000;
	o->n_workers = 4;
}

/* ================================================================ settings from the config */

typedef struct settings {
	char **files;
	size_t n_files;
	int64_t interval_ms;
	alert_lset *external_labels;
} settings;

static void settings_fini(settings *s)
{
	for (size_t i = 0; i < s->n_files; i++)
		ts_free(s->files[i]);
	ts_free(s->files);
	ts_free(s->external_labels);
	memset(s, 0, sizeof(*s));
}

static int add_file(settings *s, const char *path)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (!strcmp(s->files[i], path))
			return TS_OK;
	char **v = ts_realloc(s->files, (s->n_files + 1) * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	s->files = v;
	if (!(v[s->n_files] = ts_strdup(path)))
		return TS_ENOMEM;
	s->n_files++;
	return TS_OK;
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const ts_label *)a)->name, ((const ts_label *)b)->name);
}

static int parse_global(const ts_config *c, settings *s, ts_err *err)
{
	const ts_yaml_doc *d = ts_config_doc(c);
	const ts_yaml_node *g = ts_config_section(c, "global");
	s->interval_ms = DEFAULT_EVAL_INTERVAL_MS;
	if (!g || ts_yaml_is_null(g))
		return TS_OK;
	if (g->type != TS_YAML_MAP)
		return ts_yaml_error(d, g, err, TS_EINVAL, "global: expected a mapping");
	const ts_yaml_node *iv = ts_yaml_get(g, "evaluation_interval");
	if (iv && !ts_yaml_is_null(iv)) {
		int rc =
		    ts_yaml_duration(d, iv, "global.evaluation_interval", &s->interval_ms, err);
		if (rc)
			return rc;
		if (s->interval_ms <= 0)
			return ts_yaml_error(d, iv, err, TS_EINVAL,
					     "global.evaluation_interval: must be positive");
	}
	const ts_yaml_node *el = ts_yaml_get(g, "external_labels");
	if (!el || ts_yaml_is_null(el))
		return TS_OK;
	if (el->type != TS_YAML_MAP)
		return ts_yaml_error(d, el, err, TS_EINVAL,
				     "global.external_labels: expected a mapping");
	ts_label *v = ts_calloc(el->n ? el->n : 1, sizeof(*v));
	if (!v)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	size_t n = 0;
	int rc = TS_OK;
	for (size_t i = 0; i < el->n && rc == TS_OK; i++) {
		const ts_yaml_node *k = el->keys[i], *val = el->items[i];
		if (k->type != TS_YAML_SCALAR || !ts_label_name_valid(k->scalar, k->len))
			rc = ts_yaml_error(d, k, err, TS_EINVAL,
					   "global.external_labels: invalid label name");
		else if (val->type != TS_YAML_SCALAR)
			rc = ts_yaml_error(d, val, err, TS_EINVAL,
					   "global.external_labels.%s: expected a string",
					   k->scalar);
		else if (!ts_yaml_is_null(val) && *val->scalar)
			v[n++] = (ts_label){k->scalar, val->scalar};
	}
	if (rc == TS_OK) {
		qsort(v, n, sizeof(*v), cmp_label);
		if (!(s->external_labels = alert_lset_new(v, n)))
			rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	ts_free(v);
	return rc;
}

static int parse_rule_files(const ts_config *c, settings *s, ts_err *err)
{
	const ts_yaml_doc *d = ts_config_doc(c);
	const ts_yaml_node *rf = ts_config_section(c, "rule_files");
	if (!rf || ts_yaml_is_null(rf))
		return TS_OK;
	if (rf->type != TS_YAML_SEQ)
		return ts_yaml_error(d, rf, err, TS_EINVAL,
				     "rule_files: expected a list of file patterns");
	/* patterns are relative to the config file's directory */
	char dir[4096] = ".";
	if (c->source) {
		const char *slash = strrchr(c->source, '/');
		if (slash) /* "/strata.yml" -> "/" */
			snprintf(dir, sizeof(dir), "%.*s",
				 (int)(slash == c->source ? 1 : slash - c->source), c->source);
	}
	for (size_t i = 0; i < rf->n; i++) {
		const ts_yaml_node *p = rf->items[i];
		if (p->type != TS_YAML_SCALAR || ts_yaml_is_null(p) || !*p->scalar)
			return ts_yaml_error(d, p, err, TS_EINVAL,
					     "rule_files: expected a file pattern");
		char pattern[4096];
		int len = p->scalar[0] == '/' || !c->source || !strchr(c->source, '/')
			      ? snprintf(pattern, sizeof(pattern), "%s", p->scalar)
			      : snprintf(pattern, sizeof(pattern), "%s/%s", dir, p->scalar);
		if (len < 0 || (size_t)len >= sizeof(pattern))
			return ts_yaml_error(d, p, err, TS_EINVAL, "rule_files: path too long");
		glob_t gl;
		int g = glob(pattern, GLOB_ERR, NULL, &gl);
		int rc = TS_OK;
		if (g == GLOB_NOSPACE)
			rc = ts_err_set(err, TS_ENOMEM, "out of memory expanding %s", pattern);
		else if (g == GLOB_ABORTED)
			rc = ts_yaml_error(d, p, err, TS_EIO, "rule_files: cannot read %s: %s",
					   pattern, strerror(errno));
		for (size_t k = 0; g == 0 && rc == TS_OK && k < gl.gl_pathc; k++)
			if (add_file(s, gl.gl_pathv[k]))
				rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		if (g == 0 || g == GLOB_NOMATCH)
			globfree(&gl);
		if (rc)
			return rc;
	}
	return TS_OK;
}

static int read_settings(const ts_config *c, settings *s, ts_err *err)
{
	memset(s, 0, sizeof(*s));
	s->interval_ms = DEFAULT_EVAL_INTERVAL_MS;
	if (!c)
		return TS_OK;
	int rc = parse_global(c, s, err);
	if (rc == TS_OK)
		rc = parse_rule_files(c, s, err);
	if (rc)
		settings_fini(s);
	return rc;
}

/* ================================================================ loading */

static int cmp_group(const void *a, const void *b)
{
	const alert_rule_group *x = *(alert_rule_group *const *)a;
	const alert_rule_group *y = *(alert_rule_group *const *)b;
	int c = strcmp(x->def->file, y->def->file);
	return c ? c : strcmp(x->def->name, y->def->name);
}

/* Load every file into new groups (*out, sorted). Nothing is shared with the running set. */
static int load_groups(const settings *s, alert_rule_group ***out, size_t *n_out, ts_err *err)
{
	alert_rule_group **v = NULL;
	size_t n = 0, cap = 0;
	int rc = TS_OK;
	for (size_t i = 0; i < s->n_files && rc == TS_OK; i++) {
		alert_rule_file *f = NULL;
		rc = alert_rule_file_load(s->files[i], &f, NULL, err);
		for (size_t k = 0; rc == TS_OK && k < f->n_groups; k++) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				alert_rule_group **nv = ts_realloc(v, nc * sizeof(*nv));
				if (!nv) {
					rc = ts_err_set(err, TS_ENOMEM,
							"out of memory loading rules");
					break;
				}
				v = nv;
				cap = nc;
			}
			alert_group_def *def = f->groups[k];
			f->groups[k] = NULL;
			int64_t iv = def->interval_ms > 0 ? def->interval_ms : s->interval_ms;
			if (!(v[n] = alert_rule_group_new(def, iv)))
				rc = ts_err_set(err, TS_ENOMEM, "out of memory loading rules");
			else
				n++;
		}
		alert_rule_file_free(f);
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			alert_rule_group_free(v[i]);
		ts_free(v);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_group);
	*out = v;
	*n_out = n;
	return TS_OK;
}

/* The first slot strictly after now (Prometheus: EvalTimestamp(now) + interval). */
static int64_t next_slot(const alert_rule_group *g, int64_t now)
{
	int64_t adj = now - g->offset_ms;
	int64_t base = adj - ((adj % g->interval_ms) + g->interval_ms) % g->interval_ms;
	return base + g->offset_ms + g->interval_ms;
}

static alert_rule_group *find_group(alert_rule_group **v, size_t n, const alert_group_def *d)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i]->def->file, d->file) && !strcmp(v[i]->def->name, d->name))
			return v[i];
	return NULL;
}

static alert_rules_env make_env(alert_rules *r, alert_lset *ext)
{
	return (alert_rules_env){
	    .query = r->opt.query,
	    .ingest = r->opt.ingest,
	    .post = r->opt.post,
	    .post_ctx = r->opt.post_ctx,
	    .external_url = r->ext_url,
	    .external_labels = ext,
	    .resend_delay_ms = r->opt.resend_delay_ms,
	    .resolved_retention_ms = r->opt.resolved_retention_ms,
	    .outage_tolerance_ms = r->opt.outage_tolerance_ms,
	    .for_grace_period_ms = r->opt.for_grace_period_ms,
	    .lookback_delta_ms = r->opt.lookback_delta_ms,
	};
}

/* Install freshly loaded groups (taken), keeping unchanged ones. */
static void install(alert_rules *r, alert_rule_group **fresh, size_t n, alert_lset *ext,
		    bool is_initial)
{
	int64_t now = ts_now_ms();
	/* groups of the old list that stay, and predecessors of changed ones */
	alert_rule_group **pred = ts_calloc(n ? n : 1, sizeof(*pred));
	pthread_mutex_lock(&r->mu);
	alert_rule_group **old = r->groups;
	size_t n_old = r->n_groups;
	bool *kept = ts_calloc(n_old ? n_old : 1, sizeof(*kept));
	for (size_t i = 0; i < n; i++) {
		alert_rule_group *o = find_group(old, n_old, fresh[i]->def);
		if (!o)
			continue;
		size_t oi = 0;
		while (old[oi] != o)
			oi++;
		if (kept && !kept[oi] && o->interval_ms == fresh[i]->interval_ms &&
		    alert_group_def_equal(o->def, fresh[i]->def)) {
			kept[oi] = true;
			alert_rule_group_free(fresh[i]);
			fresh[i] = o;
		} else if (pred) {
			pred[i] = o;
		}
	}
	for (size_t i = 0; i < n_old; i++)
		if (!kept || !kept[i])
			old[i]->is_retired = true;
	for (;;) {
		bool busy = false;
		for (size_t i = 0; i < n_old; i++)
			busy = busy || (old[i]->is_retired && old[i]->is_busy);
		if (!busy)
			break;
		pthread_cond_wait(&r->cond, &r->mu);
	}
	for (size_t i = 0; i < n; i++) {
		alert_rule_group *g = fresh[i];
		if (g->is_retired || (kept && find_group(old, n_old, g->def) == g))
			continue; /* kept: keeps its schedule */
		g->needs_restore = is_initial;
		g->next_eval_ms = next_slot(g, now);
		if (pred && pred[i])
			alert_rule_group_copy_state(g, pred[i]);
	}
	alert_lset *old_ext = r->external_labels;
	r->external_labels = ext;
	r->groups = fresh;
	r->n_groups = n;
	alert_rules_env env = make_env(r, ext);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	/* retired groups: staleness markers for what nobody took over, then free */
	for (size_t i = 0; i < n_old; i++) {
		if (kept && kept[i])
			continue;
		alert_rule_group_mark_stale(old[i], &env, now);
		alert_rule_group_free(old[i]);
	}
	ts_free(old);
	ts_free(old_ext);
	ts_free(kept);
	ts_free(pred);
}

static int load(alert_rules *r, const ts_config *config, bool is_initial, ts_err *err)
{
	pthread_mutex_lock(&r->mu);
	while (r->is_reloading)
		pthread_cond_wait(&r->cond, &r->mu);
	r->is_reloading = true;
	pthread_mutex_unlock(&r->mu);
	settings s;
	alert_rule_group **fresh = NULL;
	size_t n = 0;
	int rc = read_settings(config, &s, err);
	if (rc == TS_OK) {
		rc = load_groups(&s, &fresh, &n, err);
		if (rc == TS_OK) {
			alert_lset *ext =
			    s.external_labels ? s.external_labels : alert_lset_new(NULL, 0);
			s.external_labels = NULL;
			if (!ext) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory");
				for (size_t i = 0; i < n; i++)
					alert_rule_group_free(fresh[i]);
				ts_free(fresh);
			} else {
				install(r, fresh, n, ext, is_initial);
			}
		}
		settings_fini(&s);
	}
	pthread_mutex_lock(&r->mu);
	r->is_reloading = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* ================================================================ evaluation threads */

static void eval_one(alert_rules *r, alert_rule_group *g, int64_t t)
{
	/* the environment is copied so that a reload may replace the external labels */
	alert_lset *ext = alert_lset_new(r->external_labels->l, r->external_labels->n);
	alert_rules_env env = make_env(r, ext);
	pthread_mutex_unlock(&r->mu);
	alert_rule_group_eval(g, &env, t);
	ts_free(ext);
	pthread_mutex_lock(&r->mu);
}

static void *worker(void *arg)
{
	alert_rules *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->is_stopping) {
		alert_rule_group *best = NULL;
		for (size_t i = 0; i < r->n_groups; i++) {
			alert_rule_group *g = r->groups[i];
			if (!g->is_busy && !g->is_retired &&
			    (!best || g->next_eval_ms < best->next_eval_ms))
				best = g;
		}
		if (!best) {
			pthread_cond_wait(&r->cond, &r->mu);
			continue;
		}
		int64_t now = ts_now_ms();
		if (best->next_eval_ms > now) {
			struct timespec ts = {.tv_sec = best->next_eval_ms / 1000,
					      .tv_nsec = (best->next_eval_ms % 1000) * 1000000};
			pthread_cond_timedwait(&r->cond, &r->mu, &ts);
			continue;
		}
		/* evaluate at the latest slot not after now; earlier ones are missed */
		int64_t missed = (now - best->next_eval_ms) / best->interval_ms;
		int64_t t = best->next_eval_ms + missed * best->interval_ms;
		best->n_missed += (uint64_t)missed;
		best->is_busy = true;
		eval_one(r, best, t);
		best->is_busy = false;
		best->next_eval_ms = t + best->interval_ms;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

void alert_rules_eval_all(alert_rules *r, int64_t t_ms)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_groups; i++) {
		alert_rule_group *g = r->groups[i];
		if (g->is_busy || g->is_retired)
			continue;
		g->is_busy = true;
		eval_one(r, g, t_ms);
		g->is_busy = false;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->mu);
}

/* ================================================================ lifecycle */

int alert_rules_new(const alert_rules_options *o, const ts_config *config, alert_rules **out,
		    ts_err *err)
{
	if (o->resend_delay_ms < 0 || o->resolved_retention_ms < 0 || o->outage_tolerance_ms < 0 ||
	    o->for_grace_period_ms < 0 || o->lookback_delta_ms <= 0)
		return ts_err_set(err, TS_EINVAL, "rules: negative durations in the options");
	alert_rules *r = ts_calloc(1, sizeof(*r));
	if (!r)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the rules engine");
	r->opt = *o;
	r->ext_url = ts_strdup(o->external_url ? o->external_url : "");
	/* Prometheus strips a trailing slash from the external URL's path */
	if (r->ext_url) {
		size_t l = strlen(r->ext_url);
		while (l && r->ext_url[l - 1] == '/')
			r->ext_url[--l] = '\0';
	}
	r->external_labels = alert_lset_new(NULL, 0);
	if (!r->ext_url || !r->external_labels) {
		ts_free(r->ext_url);
		ts_free(r->external_labels);
		ts_free(r);
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the rules engine");
	}
	r->opt.external_url = r->ext_url;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	int rc = load(r, config, true, err);
	if (rc) {
		alert_rules_free(r);
		return rc;
	}
	if (!o->is_manual) {
		int n = o->n_workers > 0 ? o->n_workers : 1;
		r->threads = ts_calloc((size_t)n, sizeof(*r->threads));
		if (!r->threads) {
			alert_rules_free(r);
			return ts_err_set(err, TS_ENOMEM,
					  "out of memory starting the rules engine");
		}
		for (int i = 0; i < n; i++) {
			if (pthread_create(&r->threads[i], NULL, worker, r)) {
				alert_rules_free(r);
				return ts_err_set(err, TS_ENOMEM, "cannot start rule threads");
			}
			r->n_threads++;
			char name[16];
			snprintf(name, sizeof(name), "rules-%d", i % 1000);
			pthread_setname_np(r->threads[i], name);
		}
	}
	*out = r;
	return TS_OK;
}

int alert_rules_reload(alert_rules *r, const ts_config *config, ts_err *err)
{
	return load(r, config, false, err);
}

void alert_rules_free(alert_rules *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->is_stopping = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	for (size_t i = 0; i < r->n_groups; i++)
		alert_rule_group_free(r->groups[i]);
	ts_free(r->groups);
	ts_free(r->threads);
	ts_free(r->external_labels);
	ts_free(r->ext_url);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	ts_free(r);
}

/* ================================================================ snapshots */

size_t alert_rules_format_value(char out[ALERT_RULES_VALUE_TEXT_MAX], double v)
{
	_Static_assert(ALERT_RULES_VALUE_TEXT_MAX >= ALERT_FLOAT_TEXT_MAX, "room for the value");
	return alert_format_float_e(out, v);
}

typedef struct snap {
	alert_arena *a;
	bool is_nomem;
} snap;

static const char *sdup(snap *s, const char *p)
{
	char *c = alert_arena_strndup(s->a, p ? p : "", p ? strlen(p) : 0);
	if (!c)
		s->is_nomem = true;
	return c ? c : "";
}

static const ts_label *sdup_labels(snap *s, const ts_label *l, size_t n)
{
	ts_label *v = alert_arena_alloc(s->a, (n ? n : 1) * sizeof(*v));
	if (!v) {
		s->is_nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (ts_label){sdup(s, l[i].name), sdup(s, l[i].value)};
	return v;
}

static const char *state_name(alert_state st)
{
	return st == ALERT_STATE_FIRING    ? "firing"
	       : st == ALERT_STATE_PENDING ? "pending"
					   : "inactive";
}

static void snap_rule(snap *s, const alert_rule_state *r, alert_rules_rule_info *ri)
{
	const alert_rule_def *d = r->def;
	ri->is_alert = d->is_alert;
	ri->name = sdup(s, d->name);
	ri->query = sdup(s, d->expr);
	ri->for_ms = d->for_ms;
	ri->keep_firing_for_ms = d->keep_firing_for_ms;
	ri->labels = sdup_labels(s, d->labels, d->n_labels);
	ri->n_labels = d->n_labels;
	ri->annotations = sdup_labels(s, d->annotations, d->n_annotations);
	ri->n_annotations = d->n_annotations;
	ri->health = r->health == ALERT_HEALTH_OK    ? "ok"
		     : r->health == ALERT_HEALTH_ERR ? "err"
						     : "unknown";
	ri->last_error = sdup(s, r->last_error);
	ri->last_eval_ms = r->last_eval_ms;
	ri->eval_s = (double)r->eval_ns / 1e9;
	alert_state max = ALERT_STATE_INACTIVE;
	ri->alerts = alert_arena_alloc(s->a, (r->n_alerts ? r->n_alerts : 1) * sizeof(*ri->alerts));
	if (!ri->alerts) {
		s->is_nomem = true;
		return;
	}
	for (size_t i = 0; i < r->n_alerts; i++) {
		const alert_rule_alert *a = r->alerts[i];
		if (a->resolved_at_ms)
			continue;
		if (a->state > max)
			max = a->state;
		alert_rules_alert_info *ai = &ri->alerts[ri->n_alerts++];
		ai->labels = sdup_labels(s, a->labels->l, a->labels->n);
		ai->n_labels = a->labels->n;
		ai->annotations = sdup_labels(s, a->annotations->l, a->annotations->n);
		ai->n_annotations = a->annotations->n;
		ai->state = state_name(a->state);
		ai->active_at_ms = a->active_at_ms;
		ai->keep_firing_since_ms = a->keep_firing_since_ms;
		ai->value = a->value;
	}
	ri->state = state_name(max);
}

int alert_rules_snapshot_get(alert_rules *r, alert_rules_snapshot **out, ts_err *err)
{
	snap s = {.a = alert_arena_new((size_t)1 << 30)};
	alert_rules_snapshot *o = s.a ? alert_arena_alloc(s.a, sizeof(*o)) : NULL;
	if (!o) {
		alert_arena_free(s.a);
		return ts_err_set(err, TS_ENOMEM, "out of memory copying the rules");
	}
	o->priv = s.a;
	pthread_mutex_lock(&r->mu);
	o->groups = alert_arena_alloc(s.a, (r->n_groups ? r->n_groups : 1) * sizeof(*o->groups));
	s.is_nomem = !o->groups;
	for (size_t i = 0; !s.is_nomem && i < r->n_groups; i++) {
		alert_rule_group *g = r->groups[i];
		alert_rules_group_info *gi = &o->groups[o->n_groups++];
		pthread_mutex_lock(&g->mu);
		gi->name = sdup(&s, g->def->name);
		gi->file = sdup(&s, g->def->file);
		gi->interval_ms = g->interval_ms;
		gi->limit = g->def->limit > 0 ? g->def->limit : 0;
		gi->last_eval_ms = g->last_eval_ms;
		gi->eval_s = (double)g->eval_ns / 1e9;
		gi->rules =
		    alert_arena_alloc(s.a, (g->n_rules ? g->n_rules : 1) * sizeof(*gi->rules));
		if (!gi->rules)
			s.is_nomem = true;
		for (size_t k = 0; !s.is_nomem && k < g->n_rules; k++)
			snap_rule(&s, &g->rules[k], &gi->rules[gi->n_rules++]);
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&r->mu);
	if (s.is_nomem) {
		alert_arena_free(s.a);
		return ts_err_set(err, TS_ENOMEM, "out of memory copying the rules");
	}
	*out = o;
	return TS_OK;
}

void alert_rules_snapshot_free(alert_rules_snapshot *s)
{
	if (s)
		alert_arena_free(s->priv);
}
