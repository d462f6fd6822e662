/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules_eval.c: evaluating one rule group at one slot time (Prometheus' Group.Eval,
 *
 * Tested by tests/alert/test_rules.c (state machine with a fake clock) and test_rules.sh.
 * RecordingRule.Eval, AlertingRule.Eval and sendAlerts of 2.42).
 *
 * Per rule, in file order (so a rule sees what earlier rules of the group just wrote):
 *   1. query_instant(expr, t); a scalar result is one sample without labels; anything
 *      else is "rule result is not a vector or scalar".
 *   2. Recording: each sample gets __name__ = record and the rule's labels (an empty
 *      value removes the label). Alerting: labels and annotations are expanded per
 *      sample; the alert's labels are the sample's minus __name__, plus the expanded
 *      rule labels, plus alertname. Two results with the same labels are an error, as
 *      is more than `limit` series or active alerts.
 *   3. Alerts move inactive -> pending -> firing (after `for`); a firing alert whose
 *      series vanished stays firing for keep_firing_for, then is resolved; resolved
 *      alerts are kept (and re-sent) for resolved_retention, pending ones are dropped.
 *   4. Output: the recording series, or ALERTS{alertstate=...} (1) and ALERTS_FOR_STATE
 *      (activeAt in seconds) for every pending and firing alert, plus a staleness marker
 *      for each series the previous evaluation wrote that this one did not, all in one
 *      ingest_write_samples call at time t.
 *   5. Alerting: alerts due (firing or resolved, not sent within the resend delay, or
 *      resolved since the last send) are posted with starts_at = firing time and
 *      ends_at = the resolve time, or for firing alerts t + 4 x max(resend delay,
 *      interval) as Prometheus' ValidUntil, so a receiver resolves them by itself when
 *      evaluation stops. External labels are added to posted alerts (Prometheus' notifier
 *      does this), not to ALERTS.
 *
 * Restoring `for` state (first evaluation after start): the rule's ALERTS_FOR_STATE
 * series of the last outage_tolerance are read through query_instant; a series counts
 * only if no staleness marker follows its last sample (checked with an instant query
 * just before the marker would hide it). For an alert in this evaluation's result,
 * Prometheus' RestoreForState formula applies: an alert that had been firing keeps its
 * activeAt (and fires at once); a pending one is shifted by the downtime, or set to fire
 * for_grace_period from now when less than that remained. Strata differs in three ways:
 * it restores before the first state transition instead of after the second evaluation
 * (so a firing alert never drops back to pending); when `for` is shorter than the grace
 * period it still restores alerts that were firing (Prometheus restores nothing then);
 * and an alert that was firing but is absent from the first result is restored as
 * firing and so resolved (and its resolution posted) right away, with no annotations.
 */
#include "alert/rules_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STALE_NAN_BITS 0x7ff0000000000002ULL /* Prometheus' value.StaleNaN */

/* ================================================================ label sets */

alert_lset *alert_lset_new(const ts_label *v, size_t n)
{
	size_t bytes = sizeof(alert_lset) + n * sizeof(ts_label);
	for (size_t i = 0; i < n; i++)
		bytes += strlen(v[i].name) + strlen(v[i].value) + 2;
	alert_lset *s = ts_malloc(bytes);
	if (!s)
		return NULL;
	s->n = n;
	char *p = (char *)(s->l + n);
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(v[i].name) + 1, b = strlen(v[i].value) + 1;
		memcpy(p, v[i].name, a);
		s->l[i].name = p;
		p += a;
		memcpy(p, v[i].value, b);
		s->l[i].value = p;
		p += b;
	}
	return s;
}

int alert_lset_cmp(const alert_lset *a, const alert_lset *b)
{
	return ts_labels_cmp(a->l, a->n, b->l, b->n);
}

static int cmp_lset_ptr(const void *a, const void *b)
{
	return alert_lset_cmp(*(alert_lset *const *)a, *(alert_lset *const *)b);
}

static int cmp_label_name(const void *a, const void *b)
{
	return strcmp(((const ts_label *)a)->name, ((const ts_label *)b)->name);
}

/* A label set under construction (Prometheus' labels.Builder); strings are borrowed. */
typedef struct lbuild {
	ts_label *v;
	size_t n, cap;
	bool is_nomem;
} lbuild;

static void lb_set(lbuild *b, const char *name, const char *value)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].name, name)) {
			if (*value)
				b->v[i].value = value;
			else
				b->v[i] = b->v[--b->n];
			return;
		}
	if (!*value)
		return;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		ts_label *v = ts_realloc(b->v, nc * sizeof(*v));
		if (!v) {
			b->is_nomem = true;
			return;
		}
		b->v = v;
		b->cap = nc;
	}
	b->v[b->n++] = (ts_label){name, value};
}

/* The built set, sorted, as an owned lset; NULL on ENOMEM. Resets b. */
static alert_lset *lb_take(lbuild *b)
{
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), cmp_label_name);
	alert_lset *s = b->is_nomem ? NULL : alert_lset_new(b->v, b->n);
	b->n = 0;
	b->is_nomem = false;
	return s;
}

/* ================================================================ groups */

int64_t alert_group_offset_ms(const char *file, const char *name, int64_t interval_ms)
{
	ts_label l[2] = {{"file", file}, {"name", name}};
	uint64_t h = ts_series_hash(l, 2);
	if (interval_ms <= 0)
		return 0;
	/* Prometheus works in ns: offset = hash % interval */
	uint64_t ns = (uint64_t)interval_ms * 1000000u;
	return (int64_t)((h % ns) / 1000000u);
}

alert_rule_group *alert_rule_group_new(alert_group_def *def, int64_t interval_ms)
{
	alert_rule_group *g = ts_calloc(1, sizeof(*g));
	if (!g) {
		alert_group_def_free(def);
		return NULL;
	}
	g->def = def;
	g->interval_ms = interval_ms;
	g->offset_ms = alert_group_offset_ms(def->file, def->name, interval_ms);
	g->n_rules = def->n_rules;
	g->rules = ts_calloc(def->n_rules ? def->n_rules : 1, sizeof(*g->rules));
	if (!g->rules || pthread_mutex_init(&g->mu, NULL)) {
		ts_free(g->rules);
		ts_free(g);
		alert_group_def_free(def);
		return NULL;
	}
	for (size_t i = 0; i < def->n_rules; i++)
		g->rules[i].def = &def->rules[i];
	return g;
}

static void alert_free(alert_rule_alert *a)
{
	if (!a)
		return;
	ts_free(a->labels);
	ts_free(a->annotations);
	ts_free(a);
}

static void free_prev(alert_rule_state *r)
{
	for (size_t i = 0; i < r->n_prev; i++)
		ts_free(r->prev[i]);
	ts_free(r->prev);
	r->prev = NULL;
	r->n_prev = 0;
}

void alert_rule_group_free(alert_rule_group *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_rules; i++) {
		alert_rule_state *r = &g->rules[i];
		for (size_t k = 0; k < r->n_alerts; k++)
			alert_free(r->alerts[k]);
		ts_free(r->alerts);
		free_prev(r);
		ts_free(r->generator_url);
	}
	ts_free(g->rules);
	pthread_mutex_destroy(&g->mu);
	alert_group_def_free(g->def);
	ts_free(g);
}

static bool same_rule(const alert_rule_def *a, const alert_rule_def *b)
{
	if (a->is_alert != b->is_alert || strcmp(a->name, b->name) || a->n_labels != b->n_labels)
		return false;
	for (size_t i = 0; i < a->n_labels; i++)
		if (strcmp(a->labels[i].name, b->labels[i].name) ||
		    strcmp(a->labels[i].value, b->labels[i].value))
			return false;
	return true;
}

void alert_rule_group_copy_state(alert_rule_group *to, alert_rule_group *from)
{
	bool *used = ts_calloc(from->n_rules ? from->n_rules : 1, sizeof(*used));
	pthread_mutex_lock(&to->mu);
	pthread_mutex_lock(&from->mu);
	to->last_eval_ms = from->last_eval_ms;
	to->eval_ns = from->eval_ns;
	for (size_t i = 0; used && i < to->n_rules; i++) {
		alert_rule_state *t = &to->rules[i];
		for (size_t j = 0; j < from->n_rules; j++) {
			alert_rule_state *f = &from->rules[j];
			if (used[j] || !same_rule(t->def, f->def))
				continue;
			used[j] = true;
			/* move, so that freeing `from` leaves them alone */
			t->prev = f->prev;
			t->n_prev = f->n_prev;
			f->prev = NULL;
			f->n_prev = 0;
			if (t->def->is_alert && t->n_alerts == 0) {
				t->alerts = f->alerts;
				t->n_alerts = f->n_alerts;
				t->cap_alerts = f->cap_alerts;
				f->alerts = NULL;
				f->n_alerts = f->cap_alerts = 0;
			}
			break;
		}
	}
	pthread_mutex_unlock(&from->mu);
	pthread_mutex_unlock(&to->mu);
	ts_free(used);
}

/* ================================================================ writing samples */

typedef struct outset {
	alert_lset **ls; /* owned */
	double *v;
	size_t n, cap;
	bool is_nomem;
} outset;

static void out_add(outset *o, alert_lset *l, double v)
{
	if (!l) {
		o->is_nomem = true;
		return;
	}
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 16;
		alert_lset **ls = ts_realloc(o->ls, nc * sizeof(*ls));
		double *vv = ls ? ts_realloc(o->v, nc * sizeof(*vv)) : NULL;
		if (ls)
			o->ls = ls;
		if (!ls || !vv) {
			ts_free(l);
			o->is_nomem = true;
			return;
		}
		o->v = vv;
		o->cap = nc;
	}
	o->ls[o->n] = l;
	o->v[o->n++] = v;
}

static void out_fini(outset *o)
{
	for (size_t i = 0; o->ls && i < o->n; i++)
		ts_free(o->ls[i]);
	ts_free(o->ls);
	ts_free(o->v);
	memset(o, 0, sizeof(*o));
}

/* Sort o by labels (keeping values with their series); true if two sets are equal. */
static bool out_sort_has_dup(outset *o)
{
	/* insertion sort on indices is too slow for big results: sort pairs */
	typedef struct pair {
		alert_lset *l;
		double v;
	} pair;
	pair *p = ts_malloc((o->n ? o->n : 1) * sizeof(*p));
	if (!p) {
		o->is_nomem = true;
		return false;
	}
	for (size_t i = 0; i < o->n; i++)
		p[i] = (pair){o->ls[i], o->v[i]};
	qsort(p, o->n, sizeof(*p), cmp_lset_ptr); /* a pair starts with its lset pointer */
	bool dup = false;
	for (size_t i = 0; i < o->n; i++) {
		o->ls[i] = p[i].l;
		o->v[i] = p[i].v;
		if (i && !alert_lset_cmp(o->ls[i - 1], o->ls[i]))
			dup = true;
	}
	ts_free(p);
	return dup;
}

static double stale_nan(void)
{
	uint64_t b = STALE_NAN_BITS;
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/*
 * Write o (sorted) and staleness markers for r's previous series missing from o, then
 * make o the previous series (o is emptied). On a failed write the previous series stay.
 */
static int write_output(alert_rule_state *r, const alert_rules_env *env, outset *o, int64_t t,
			ts_err *err)
{
	size_t n_stale = 0;
	for (size_t i = 0, j = 0; i < r->n_prev; i++) {
		while (j < o->n && alert_lset_cmp(o->ls[j], r->prev[i]) < 0)
			j++;
		if (j >= o->n || alert_lset_cmp(o->ls[j], r->prev[i]))
			n_stale++;
	}
	size_t n = o->n + n_stale;
	if (n == 0)
		return TS_OK;
	ingest_sample *s = ts_malloc(n * sizeof(*s));
	if (!s)
		return ts_err_set(err, TS_ENOMEM, "out of memory writing rule results");
	size_t k = 0;
	for (size_t i = 0; i < o->n; i++)
		s[k++] = (ingest_sample){o->ls[i]->l, o->ls[i]->n, t, o->v[i]};
	for (size_t i = 0, j = 0; i < r->n_prev; i++) {
		while (j < o->n && alert_lset_cmp(o->ls[j], r->prev[i]) < 0)
			j++;
		if (j >= o->n || alert_lset_cmp(o->ls[j], r->prev[i]))
			s[k++] = (ingest_sample){r->prev[i]->l, r->prev[i]->n, t, stale_nan()};
	}
	ingest_write_result res;
	ts_err e = {0};
	int rc = env->ingest ? ingest_write_samples(env->ingest, s, n, &res, &e) : TS_OK;
	ts_free(s);
	if (rc)
		return ts_err_set(err, rc, "writing rule results: %s", e.msg);
	if (env->ingest && res.n_rejected)
		ts_log_debug("rule %s: %zu of %zu samples rejected by the store: %s", r->def->name,
			     res.n_rejected, n, res.first_error);
	free_prev(r);
	r->prev = o->ls;
	r->n_prev = o->n;
	ts_free(o->v);
	memset(o, 0, sizeof(*o));
	return TS_OK;
}

/* ================================================================ results */

/* One sample of the rule's query result. */
typedef struct rsample {
	const ts_label *labels;
	size_t n_labels;
	double v;
} rsample;

static int run_query(const alert_rules_env *env, const char *expr, int64_t t, query_result **res,
		     rsample **out, size_t *n, ts_err *err)
{
	int rc = query_instant(env->query, expr, strlen(expr), t, res, err);
	if (rc)
		return rc;
	query_result *r = *res;
	if (r->type != QUERY_RESULT_VECTOR && r->type != QUERY_RESULT_SCALAR)
		return ts_err_set(err, TS_EINVAL, "rule result is not a vector or scalar");
	size_t ns = r->type == QUERY_RESULT_SCALAR ? 1 : r->n_series;
	rsample *s = ts_malloc((ns ? ns : 1) * sizeof(*s));
	if (!s)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	if (r->type == QUERY_RESULT_SCALAR)
		s[0] = (rsample){NULL, 0, r->scalar};
	else
		for (size_t i = 0; i < ns; i++)
			s[i] = (rsample){r->series[i].labels, r->series[i].n_labels,
					 r->series[i].n ? r->series[i].v[0] : NAN};
	*out = s;
	*n = ns;
	return TS_OK;
}

static int eval_recording(alert_rule_group *g, alert_rule_state *r, const alert_rules_env *env,
			  int64_t t, const rsample *s, size_t n, ts_err *err)
{
	const alert_rule_def *d = r->def;
	outset o = {0};
	lbuild b = {0};
	for (size_t i = 0; i < n && !o.is_nomem; i++) {
		for (size_t k = 0; k < s[i].n_labels; k++)
			lb_set(&b, s[i].labels[k].name, s[i].labels[k].value);
		lb_set(&b, TS_METRIC_NAME, d->name);
		for (size_t k = 0; k < d->n_labels; k++)
			lb_set(&b, d->labels[k].name, d->labels[k].value);
		out_add(&o, lb_take(&b), s[i].v);
	}
	ts_free(b.v);
	int rc;
	bool dup = !o.is_nomem && out_sort_has_dup(&o);
	if (o.is_nomem)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	else if (dup)
		rc = ts_err_set(err, TS_EINVAL,
				"vector contains metrics with the same labelset after applying "
				"rule labels");
	else if (g->def->limit > 0 && o.n > (size_t)g->def->limit)
		rc = ts_err_set(err, TS_ELIMIT, "exceeded limit of %lld with %zu series",
				(long long)g->def->limit, o.n);
	else
		rc = write_output(r, env, &o, t, err);
	out_fini(&o);
	return rc;
}

/* ================================================================ alerting */

static int template_query(void *ctx, const char *expr, int64_t t_ms, query_result **out,
			  ts_err *err)
{
	const alert_rules_env *env = ctx;
	return query_instant(env->query, expr, strlen(expr), t_ms, out, err);
}

/* Expand a label or annotation value; the result is owned by buf. */
static const char *expand(alert_rule_state *r, const alert_template *t, const char *text,
			  const alert_template_data *td, ts_buf *buf)
{
	if (!t)
		return text;
	ts_buf_reset(buf);
	ts_err e = {0};
	int rc = alert_template_expand_or_error(t, td, buf, &e);
	if (rc == TS_ENOMEM)
		return NULL;
	if (rc && !r->has_warned_template) /* the first time only; the text says it anyway */
		ts_log_warn("alert %s: expanding a template failed: %s", r->def->name, e.msg);
	else if (rc)
		ts_log_debug("alert %s: expanding a template failed: %s", r->def->name, e.msg);
	if (rc)
		r->has_warned_template = true;
	char *s = ts_strndup(buf->data ? buf->data : "", buf->len);
	return s;
}

/* A candidate alert from this evaluation. */
typedef struct cand {
	alert_lset *labels;
	alert_lset *annotations;
	double v;
} cand;

static int cmp_cand(const void *a, const void *b)
{
	return alert_lset_cmp(((const cand *)a)->labels, ((const cand *)b)->labels);
}

static void cands_free(cand *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		ts_free(c[i].labels);
		ts_free(c[i].annotations);
	}
	ts_free(c);
}

/* Build the candidates of one evaluation (sorted by labels). */
static int make_candidates(alert_rule_state *r, const alert_rules_env *env, int64_t t,
			   const rsample *s, size_t n, cand **out, ts_err *err)
{
	const alert_rule_def *d = r->def;
	cand *c = ts_calloc(n ? n : 1, sizeof(*c));
	lbuild b = {0};
	ts_buf buf;
	ts_buf_init(&buf, ALERT_TEMPLATE_MAX_OUTPUT);
	char **exp = ts_calloc(d->n_labels + d->n_annotations + 1, sizeof(*exp));
	int rc = c && exp ? TS_OK : TS_ENOMEM;
	size_t made = 0;
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		alert_template_data td = {
		    .labels = s[i].labels,
		    .n_labels = s[i].n_labels,
		    .external_labels = env->external_labels ? env->external_labels->l : NULL,
		    .n_external_labels = env->external_labels ? env->external_labels->n : 0,
		    .external_url = env->external_url,
		    .value = s[i].v,
		    .t_ms = t,
		    .query = env->query ? template_query : NULL,
		    .query_ctx = (void *)env,
		};
		for (size_t k = 0; k < s[i].n_labels; k++)
			if (strcmp(s[i].labels[k].name, TS_METRIC_NAME))
				lb_set(&b, s[i].labels[k].name, s[i].labels[k].value);
		size_t ne = 0;
		for (size_t k = 0; k < d->n_labels && rc == TS_OK; k++) {
			const char *v = expand(r, d->label_tmpls ? d->label_tmpls[k] : NULL,
					       d->labels[k].value, &td, &buf);
			if (!v) {
				rc = TS_ENOMEM;
				break;
			}
			if (v != d->labels[k].value)
				exp[ne++] = (char *)v;
			lb_set(&b, d->labels[k].name, v);
		}
		lb_set(&b, "alertname", d->name);
		c[i].labels = lb_take(&b);
		ts_label *ann = ts_malloc((d->n_annotations + 1) * sizeof(*ann));
		for (size_t k = 0; ann && k < d->n_annotations && rc == TS_OK; k++) {
			const char *v =
			    expand(r, d->annotation_tmpls ? d->annotation_tmpls[k] : NULL,
				   d->annotations[k].value, &td, &buf);
			if (!v) {
				rc = TS_ENOMEM;
				break;
			}
			if (v != d->annotations[k].value)
				exp[ne++] = (char *)v;
			ann[k] = (ts_label){d->annotations[k].name, v};
		}
		if (ann && rc == TS_OK)
			c[i].annotations = alert_lset_new(ann, d->n_annotations);
		ts_free(ann);
		for (size_t k = 0; k < ne; k++)
			ts_free(exp[k]);
		c[i].v = s[i].v;
		made = i + 1;
		if (!c[i].labels || !c[i].annotations)
			rc = TS_ENOMEM;
	}
	ts_free(exp);
	ts_free(b.v);
	ts_buf_free(&buf);
	if (rc == TS_OK) {
		qsort(c, n, sizeof(*c), cmp_cand);
		for (size_t i = 1; i < n; i++)
			if (!alert_lset_cmp(c[i - 1].labels, c[i].labels)) {
				rc = ts_err_set(
				    err, TS_EINVAL,
				    "vector contains metrics with the same labelset after "
				    "applying alert labels");
				break;
			}
	} else {
		ts_err_set(err, rc, "out of memory");
	}
	if (rc) {
		cands_free(c, made);
		return rc;
	}
	*out = c;
	return TS_OK;
}

/* ---------------------------------------------------------------- restoring `for` state */

typedef struct restorable {
	alert_lset *labels; /* ALERTS_FOR_STATE labels minus __name__ */
	int64_t active_at_ms;
	int64_t down_at_ms;
	bool is_used;
} restorable;

static int cmp_restorable(const void *a, const void *b)
{
	return alert_lset_cmp(((const restorable *)a)->labels, ((const restorable *)b)->labels);
}

/* Append a PromQL string literal for s. */
static int promql_quote(ts_buf *b, const char *s)
{
	int rc = ts_buf_putc(b, '"');
	for (; *s && rc == TS_OK; s++) {
		if (*s == '"' || *s == '\\')
			rc = ts_buf_putc(b, '\\');
		if (rc == TS_OK)
			rc = *s == '\n' ? ts_buf_puts(b, "\\n") : ts_buf_putc(b, *s);
	}
	return rc ? rc : ts_buf_putc(b, '"');
}

static alert_lset *without_name(const ts_label *l, size_t n)
{
	ts_label *v = ts_malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].name, TS_METRIC_NAME))
			v[k++] = l[i];
	alert_lset *s = alert_lset_new(v, k);
	ts_free(v);
	return s;
}

static bool has_series(const query_result *r, const ts_label *l, size_t n)
{
	for (size_t i = 0; r && r->type == QUERY_RESULT_VECTOR && i < r->n_series; i++)
		if (!ts_labels_cmp(r->series[i].labels, r->series[i].n_labels, l, n))
			return true;
	return false;
}

/* The rule's ALERTS_FOR_STATE series still active when Strata stopped. */
static int load_restorables(const alert_rule_def *d, const alert_rules_env *env, int64_t t,
			    restorable **out, size_t *n_out)
{
	ts_buf sel, q;
	ts_buf_init(&sel, 1 << 16);
	ts_buf_init(&q, 1 << 16);
	int rc = ts_buf_puts(&sel, "ALERTS_FOR_STATE{alertname=");
	rc = rc ? rc : promql_quote(&sel, d->name);
	rc = rc ? rc : ts_buf_putc(&sel, '}');
	rc = rc ? rc
		: ts_buf_printf(&q, "%s[%lldms]", sel.data, (long long)env->outage_tolerance_ms);
	query_result *m = NULL, *chk = NULL;
	ts_err e = {0};
	restorable *v = NULL;
	size_t n = 0;
	if (rc == TS_OK)
		rc = query_instant(env->query, q.data, q.len, t, &m, &e);
	if (rc == TS_OK && m->type == QUERY_RESULT_MATRIX && m->n_series) {
		v = ts_calloc(m->n_series, sizeof(*v));
		if (!v)
			rc = TS_ENOMEM;
		int64_t checked_at = INT64_MIN;
		for (size_t i = 0; rc == TS_OK && i < m->n_series; i++) {
			const query_series *s = &m->series[i];
			if (!s->n || !isfinite(s->v[s->n - 1]))
				continue;
			int64_t last = s->t[s->n - 1];
			/* a staleness marker after `last` would hide the sample from an
			 * instant query made before the lookback runs out */
			int64_t at = last + env->lookback_delta_ms - 1;
			if (at > t)
				at = t;
			if (at != checked_at) {
				query_result_free(chk);
				chk = NULL;
				rc = query_instant(env->query, sel.data, sel.len, at, &chk, &e);
				checked_at = at;
				if (rc)
					break;
			}
			if (!has_series(chk, s->labels, s->n_labels))
				continue;
			v[n].labels = without_name(s->labels, s->n_labels);
			if (!v[n].labels) {
				rc = TS_ENOMEM;
				break;
			}
			v[n].active_at_ms = (int64_t)s->v[s->n - 1] * 1000;
			v[n].down_at_ms = last / 1000 * 1000; /* Prometheus: whole seconds */
			n++;
		}
	}
	if (rc && rc != TS_ENOMEM)
		ts_log_warn("alert %s: cannot restore 'for' state: %s", d->name, e.msg);
	query_result_free(m);
	query_result_free(chk);
	ts_buf_free(&sel);
	ts_buf_free(&q);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			ts_free(v[i].labels);
		ts_free(v);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_restorable);
	*out = v;
	*n_out = n;
	return TS_OK;
}

/* Prometheus' RestoreForState formula; *was_firing when it had fired before the stop. */
static bool restored_active_at(const alert_rule_def *d, const alert_rules_env *env,
			       const restorable *rs, int64_t t, int64_t *active_at,
			       bool *was_firing)
{
	int64_t hold = d->for_ms;
	int64_t remaining = hold - (rs->down_at_ms - rs->active_at_ms);
	*was_firing = remaining <= 0;
	if (remaining <= 0) {
		*active_at = rs->active_at_ms;
		return true;
	}
	if (hold < env->for_grace_period_ms)
		return false; /* Prometheus restores nothing then; pending alerts start over */
	if (remaining < env->for_grace_period_ms)
		*active_at = t + env->for_grace_period_ms - hold;
	else
		*active_at = rs->active_at_ms + (t - rs->down_at_ms);
	return true;
}

/* ---------------------------------------------------------------- state machine */

static alert_rule_alert *new_alert(alert_lset *labels, alert_lset *annotations, double v,
				   int64_t active_at)
{
	alert_rule_alert *a = ts_calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->labels = labels;
	a->annotations = annotations;
	a->value = v;
	a->state = ALERT_STATE_PENDING;
	a->active_at_ms = active_at;
	return a;
}

/* ALERTS and ALERTS_FOR_STATE samples of an alert. */
static void alert_samples(const alert_rule_def *d, const alert_rule_alert *a, outset *o, lbuild *b)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < d->n_labels; k++)
			lb_set(b, d->labels[k].name, d->labels[k].value);
		for (size_t k = 0; k < a->labels->n; k++)
			lb_set(b, a->labels->l[k].name, a->labels->l[k].value);
		lb_set(b, TS_METRIC_NAME, pass ? "ALERTS_FOR_STATE" : "ALERTS");
		lb_set(b, "alertname", d->name);
		if (!pass)
			lb_set(b, "alertstate",
			       a->state == ALERT_STATE_FIRING ? "firing" : "pending");
		out_add(o, lb_take(b), pass ? (double)(a->active_at_ms / 1000) : 1.0);
	}
}

/* Restore-only alerts: firing before the stop but absent now (they resolve at once). */
static alert_rule_alert **restored_only(const alert_rule_def *d, const alert_rules_env *env,
					const restorable *rs, size_t n_rs, const cand *c, size_t n,
					int64_t t, size_t *n_out)
{
	alert_rule_alert **v = ts_calloc(n_rs ? n_rs : 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; v && i < n_rs; i++) {
		const cand *hit = NULL;
		if (n)
			hit = bsearch(&(cand){.labels = rs[i].labels}, c, n, sizeof(*c), cmp_cand);
		int64_t at;
		bool was_firing;
		if (hit || !restored_active_at(d, env, &rs[i], t, &at, &was_firing) || !was_firing)
			continue;
		alert_lset *l = alert_lset_new(rs[i].labels->l, rs[i].labels->n);
		alert_lset *ann = alert_lset_new(NULL, 0);
		alert_rule_alert *a = l && ann ? new_alert(l, ann, NAN, at) : NULL;
		if (!a) {
			ts_free(l);
			ts_free(ann);
			continue; /* best effort: the receiver resolves it by its end time */
		}
		a->state = ALERT_STATE_FIRING;
		a->fired_at_ms = at + d->for_ms;
		v[k++] = a;
	}
	*n_out = k; /* sorted: rs is */
	return v;
}

/*
 * Merge this evaluation's candidates into r's alerts at t (Prometheus' AlertingRule.Eval)
 * writing the new list to out (capacity r->n_alerts + n). fresh[i] is a preallocated alert
 * for candidate i; used ones are set to NULL. Consumed candidate fields are set to NULL;
 * replaced annotations are swapped into the candidate (freed with it). Alerts dropped from
 * the list go to garbage. Pure memory work: the caller holds g->mu.
 */
static size_t merge_alerts(alert_rule_state *r, cand *c, size_t n, alert_rule_alert **fresh,
			   const restorable *rs, size_t n_rs, const alert_rules_env *env, int64_t t,
			   alert_rule_alert **out, alert_rule_alert **garbage, size_t *n_garbage,
			   size_t *n_active)
{
	const alert_rule_def *d = r->def;
	size_t i = 0, j = 0, k = 0;
	*n_active = 0;
	while (i < n || j < r->n_alerts) {
		int cmp = i >= n             ? 1
			  : j >= r->n_alerts ? -1
					     : alert_lset_cmp(c[i].labels, r->alerts[j]->labels);
		alert_rule_alert *a;
		bool in_result = cmp <= 0;
		if (cmp < 0 || (cmp == 0 && r->alerts[j]->state == ALERT_STATE_INACTIVE)) {
			if (cmp == 0)
				garbage[(*n_garbage)++] = r->alerts[j++];
			a = fresh[i];
			fresh[i] = NULL;
			a->labels = c[i].labels;
			a->annotations = c[i].annotations;
			a->value = c[i].v;
			a->active_at_ms = t;
			const restorable *hit = n_rs
						    ? bsearch(&(restorable){.labels = a->labels},
							      rs, n_rs, sizeof(*rs), cmp_restorable)
						    : NULL;
			int64_t at;
			bool was_firing;
			if (hit && restored_active_at(d, env, hit, t, &at, &was_firing)) {
				a->active_at_ms = at;
				if (was_firing)
					a->fired_at_ms = at + d->for_ms;
			}
			c[i].labels = c[i].annotations = NULL;
			i++;
		} else if (cmp == 0) {
			a = r->alerts[j++];
			a->value = c[i].v;
			alert_lset *old = a->annotations;
			a->annotations = c[i].annotations;
			c[i].annotations = old;
			i++;
		} else {
			a = r->alerts[j++];
		}
		if (!in_result) {
			bool keep_firing = false;
			if (a->state == ALERT_STATE_FIRING && d->keep_firing_for_ms > 0) {
				if (a->keep_firing_since_ms == 0)
					a->keep_firing_since_ms = t;
				keep_firing = t - a->keep_firing_since_ms < d->keep_firing_for_ms;
			}
			if (a->state == ALERT_STATE_PENDING ||
			    (a->resolved_at_ms &&
			     t - a->resolved_at_ms > env->resolved_retention_ms)) {
				garbage[(*n_garbage)++] = a;
				continue;
			}
			if (a->state != ALERT_STATE_INACTIVE && !keep_firing) {
				a->state = ALERT_STATE_INACTIVE;
				a->resolved_at_ms = t;
			}
			out[k++] = a;
			if (!keep_firing)
				continue;
		} else {
			a->keep_firing_since_ms = 0;
			out[k++] = a;
		}
		(*n_active)++;
		if (a->state == ALERT_STATE_PENDING && t - a->active_at_ms >= d->for_ms) {
			a->state = ALERT_STATE_FIRING;
			if (!a->fired_at_ms)
				a->fired_at_ms = t;
		}
	}
	return k;
}

/* ---------------------------------------------------------------- notifications */

/* url.QueryEscape */
static int query_escape(ts_buf *b, const char *s)
{
	int rc = TS_OK;
	for (; *s && rc == TS_OK; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			rc = ts_buf_putc(b, (char)ch);
		else if (ch == ' ')
			rc = ts_buf_putc(b, '+');
		else
			rc = ts_buf_printf(b, "%%%02X", ch);
	}
	return rc;
}

static bool needs_sending(const alert_rule_alert *a, int64_t t, int64_t resend_delay)
{
	if (a->state == ALERT_STATE_PENDING)
		return false;
	if (a->resolved_at_ms > a->last_sent_ms)
		return true;
	return a->last_sent_ms + resend_delay < t;
}

/* Post the alerts of r that are due (Prometheus' sendAlerts + SendAlerts). */
static void send_alerts(const alert_rule_group *g, alert_rule_state *r, const alert_rules_env *env,
			int64_t t)
{
	if (!env->post || !r->n_alerts)
		return;
	if (!r->generator_url) {
		ts_buf b;
		ts_buf_init(&b, 1 << 20);
		int rc = ts_buf_printf(&b, "%s/graph?g0.expr=", env->external_url);
		rc = rc ? rc : query_escape(&b, r->def->expr);
		rc = rc ? rc : ts_buf_puts(&b, "&g0.tab=1");
		r->generator_url = rc ? NULL : ts_buf_take(&b, NULL);
		ts_buf_free(&b);
	}
	int64_t delta =
	    env->resend_delay_ms > g->interval_ms ? env->resend_delay_ms : g->interval_ms;
	alert_posted *p = ts_calloc(r->n_alerts, sizeof(*p));
	alert_lset **ls = ts_calloc(r->n_alerts, sizeof(*ls));
	size_t n = 0;
	lbuild b = {0};
	for (size_t i = 0; p && ls && i < r->n_alerts; i++) {
		alert_rule_alert *a = r->alerts[i];
		if (!needs_sending(a, t, env->resend_delay_ms))
			continue;
		/* external labels, unless the alert has the label (Prometheus' notifier) */
		for (size_t k = 0; env->external_labels && k < env->external_labels->n; k++)
			lb_set(&b, env->external_labels->l[k].name,
			       env->external_labels->l[k].value);
		for (size_t k = 0; k < a->labels->n; k++)
			lb_set(&b, a->labels->l[k].name, a->labels->l[k].value);
		if (!(ls[n] = lb_take(&b)))
			break;
		a->last_sent_ms = t;
		p[n] = (alert_posted){
		    .labels = ls[n]->l,
		    .n_labels = ls[n]->n,
		    .annotations = a->annotations->l,
		    .n_annotations = a->annotations->n,
		    .starts_at_ms = a->fired_at_ms,
		    .ends_at_ms = a->resolved_at_ms ? a->resolved_at_ms : t + 4 * delta,
		    .generator_url = r->generator_url,
		};
		n++;
	}
	ts_free(b.v);
	if (!p || !ls)
		ts_log_error("alert %s: out of memory sending alerts", r->def->name);
	if (n) {
		ts_err e = {0};
		if (env->post(env->post_ctx, p, n, &e))
			ts_log_warn("alert %s: posting %zu alerts failed: %s", r->def->name, n,
				    e.msg);
		else
			ts_log_debug("alert %s: posted %zu alerts", r->def->name, n);
	}
	for (size_t i = 0; ls && i < n; i++)
		ts_free(ls[i]);
	ts_free(ls);
	ts_free(p);
}

static int eval_alerting(alert_rule_group *g, alert_rule_state *r, const alert_rules_env *env,
			 int64_t t, const rsample *s, size_t n, ts_err *err)
{
	const alert_rule_def *d = r->def;
	cand *c = NULL;
	int rc = make_candidates(r, env, t, s, n, &c, err);
	if (rc)
		return rc;
	restorable *rs = NULL;
	size_t n_rs = 0, n_extra = 0;
	alert_rule_alert **extra = NULL;
	if (g->needs_restore && env->query && load_restorables(d, env, t, &rs, &n_rs) == TS_OK)
		extra = r->n_alerts ? NULL : restored_only(d, env, rs, n_rs, c, n, t, &n_extra);
	size_t cap = r->n_alerts + n_extra + n;
	alert_rule_alert **fresh = ts_calloc(n ? n : 1, sizeof(*fresh));
	alert_rule_alert **list = ts_calloc(cap ? cap : 1, sizeof(*list));
	alert_rule_alert **garbage = ts_calloc(cap ? cap : 1, sizeof(*garbage));
	bool ok = fresh && list && garbage;
	for (size_t i = 0; ok && i < n; i++)
		ok = (fresh[i] = new_alert(NULL, NULL, 0, t)) != NULL;
	size_t n_garbage = 0, n_active = 0;
	alert_rule_alert **old_list = NULL, **old_empty = NULL;
	if (ok) {
		pthread_mutex_lock(&g->mu);
		if (n_extra) {
			old_empty = r->alerts;
			r->alerts = extra;
			r->n_alerts = n_extra;
			r->cap_alerts = n_extra;
			extra = NULL;
		}
		size_t k = merge_alerts(r, c, n, fresh, rs, n_rs, env, t, list, garbage, &n_garbage,
					&n_active);
		old_list = r->alerts;
		r->alerts = list;
		r->n_alerts = k;
		r->cap_alerts = cap;
		list = NULL;
		if (g->def->limit > 0 && n_active > (size_t)g->def->limit) {
			for (size_t q = 0; q < r->n_alerts; q++)
				garbage[n_garbage++] = r->alerts[q];
			r->n_alerts = 0;
			rc = ts_err_set(err, TS_ELIMIT, "exceeded limit of %lld with %zu alerts",
					(long long)g->def->limit, n_active);
		}
		pthread_mutex_unlock(&g->mu);
	} else {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory evaluating alerts");
	}
	ts_free(old_empty);
	ts_free(old_list);
	for (size_t i = 0; i < n_garbage; i++)
		alert_free(garbage[i]);
	ts_free(garbage);
	ts_free(list);
	for (size_t i = 0; fresh && i < n; i++)
		ts_free(fresh[i]);
	ts_free(fresh);
	for (size_t i = 0; extra && i < n_extra; i++)
		alert_free(extra[i]);
	ts_free(extra);
	for (size_t i = 0; i < n_rs; i++)
		ts_free(rs[i].labels);
	ts_free(rs);
	cands_free(c, n);
	if (rc)
		return rc;
	/* ALERTS and ALERTS_FOR_STATE of every pending and firing alert */
	outset o = {0};
	lbuild b = {0};
	for (size_t i = 0; i < r->n_alerts; i++) {
		alert_rule_alert *a = r->alerts[i];
		if (a->state != ALERT_STATE_INACTIVE)
			alert_samples(d, a, &o, &b);
	}
	ts_free(b.v);
	send_alerts(g, r, env, t);
	if (!o.is_nomem)
		out_sort_has_dup(&o); /* alert labels are unique: only the order matters */
	if (o.is_nomem)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory writing ALERTS");
	else
		rc = write_output(r, env, &o, t, err);
	out_fini(&o);
	return rc;
}

/* ================================================================ the group */

static void eval_rule(alert_rule_group *g, alert_rule_state *r, const alert_rules_env *env,
		      int64_t t)
{
	int64_t wall = ts_now_ms(), t0 = ts_mono_ns();
	ts_err err = {0};
	query_result *res = NULL;
	rsample *s = NULL;
	size_t n = 0;
	int rc = env->query ? run_query(env, r->def->expr, t, &res, &s, &n, &err)
			    : ts_err_set(&err, TS_EINVAL, "no query engine");
	if (rc == TS_OK)
		rc = r->def->is_alert ? eval_alerting(g, r, env, t, s, n, &err)
				      : eval_recording(g, r, env, t, s, n, &err);
	ts_free(s);
	query_result_free(res);
	int64_t took = ts_mono_ns() - t0;
	if (rc && strcmp(err.msg, r->last_logged)) {
		ts_log_warn("group %s (%s): evaluating rule %s failed: %s", g->def->name,
			    g->def->file, r->def->name, err.msg);
		snprintf(r->last_logged, sizeof(r->last_logged), "%s", err.msg);
	} else if (!rc) {
		r->last_logged[0] = '\0';
	}
	pthread_mutex_lock(&g->mu);
	r->health = rc ? ALERT_HEALTH_ERR : ALERT_HEALTH_OK;
	snprintf(r->last_error, sizeof(r->last_error), "%s", rc ? err.msg : "");
	r->last_eval_ms = wall;
	r->eval_ns = took;
	pthread_mutex_unlock(&g->mu);
}

void alert_rule_group_eval(alert_rule_group *g, const alert_rules_env *env, int64_t t_ms)
{
	int64_t wall = ts_now_ms(), t0 = ts_mono_ns();
	for (size_t i = 0; i < g->n_rules; i++)
		eval_rule(g, &g->rules[i], env, t_ms);
	g->needs_restore = false;
	pthread_mutex_lock(&g->mu);
	g->last_eval_ms = wall;
	g->eval_ns = ts_mono_ns() - t0;
	pthread_mutex_unlock(&g->mu);
}

void alert_rule_group_mark_stale(alert_rule_group *g, const alert_rules_env *env, int64_t t_ms)
{
	for (size_t i = 0; i < g->n_rules; i++) {
		alert_rule_state *r = &g->rules[i];
		if (!r->n_prev)
			continue;
		outset empty = {0};
		ts_err err = {0};
		if (write_output(r, env, &empty, t_ms, &err))
			ts_log_warn("group %s: writing staleness markers failed: %s", g->def->name,
				    err.msg);
	}
}
