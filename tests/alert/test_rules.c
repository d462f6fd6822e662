/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rules.c: unit tests of the rule engine (alert/rules.c, alert/rules_eval.c) with a
 * fake clock: groups are evaluated by hand at chosen times (is_manual), over a real
 * in-memory store, ingest pipeline and query engine, and what the engine wrote is read
 * back with PromQL.
 *
 * Covered: recording rules (labels, staleness markers when a series vanishes, duplicate
 * label sets, limit), the alert state machine (inactive -> pending -> firing after
 * `for`, resolved, keep_firing_for, resolved alerts kept 15m then dropped, a resolved
 * alert that comes back starts over), ALERTS and ALERTS_FOR_STATE samples, notifications
 * (nothing while pending, resend delay, resolved re-sends, ValidUntil end times,
 * external labels, generator URL), templates in labels and annotations, restoring `for`
 * state from ALERTS_FOR_STATE after a restart (firing stays firing with the old
 * activeAt, pending shifted by the downtime or to the grace period, stale series
 * ignored, vanished firing alerts resolved), the alert limit, reloads (a bad file keeps
 * the old rules; a changed group keeps its alerts; removed series get staleness
 * markers), snapshots, group slot offsets, and the threaded scheduler.
 */
#include "alert/rules_int.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define SEC 1000LL
#define MIN (60 * SEC)

/* ================================================================ fixture */

typedef struct posted {
	char alertname[64];
	char labels[512]; /* "a=b,c=d" */
	char annotations[512];
	int64_t starts_at_ms, ends_at_ms;
	char generator_url[256];
} posted;

typedef struct fixture {
	char dir[256];
	tsdb_db *db;
	ingest_pipeline *ing;
	query_engine *eng;
	alert_rules *rules;
	ts_config *cfg;
	posted posts[256];
	size_t n_posts;
	int64_t t0; /* a minute boundary well in the past */
} fixture;

static void flatten(const ts_label *l, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && k < cap; i++)
		k += (size_t)snprintf(out + k, cap - k, "%s%s=%s", i ? "," : "", l[i].name,
				      l[i].value);
}

static int post(void *ctx, const alert_posted *a, size_t n, ts_err *err)
{
	fixture *f = ctx;
	for (size_t i = 0; i < n && f->n_posts < 256; i++) {
		posted *p = &f->posts[f->n_posts++];
		snprintf(p->alertname, sizeof(p->alertname), "%s",
			 ts_labels_get(a[i].labels, a[i].n_labels, "alertname"));
		flatten(a[i].labels, a[i].n_labels, p->labels, sizeof(p->labels));
		flatten(a[i].annotations, a[i].n_annotations, p->annotations,
			sizeof(p->annotations));
		p->starts_at_ms = a[i].starts_at_ms;
		p->ends_at_ms = a[i].ends_at_ms;
		snprintf(p->generator_url, sizeof(p->generator_url), "%s",
			 a[i].generator_url ? a[i].generator_url : "");
	}
	return TS_OK;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Write rules.yml (and strata.yml naming it) and load the config. */
static ts_config *config_with(fixture *f, const char *rules)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/rules.yml", f->dir);
	write_file(path, rules);
	snprintf(path, sizeof(path), "%s/strata.yml", f->dir);
	write_file(path, "global:\n"
			 "  evaluation_interval: 15s\n"
			 "  external_labels: {cluster: c1, replica: r1}\n"
			 "rule_files: [rules.yml, 'more-*.yml']\n");
	ts_config *c = NULL;
	ts_err err = {0};
	if (ts_config_load(path, &c, &err))
		fail_msg("config: %s", err.msg);
	return c;
}

static alert_rules *start_rules(fixture *f, const char *rules, int rc_want, ts_err *err)
{
	ts_config_free(f->cfg);
	f->cfg = config_with(f, rules);
	alert_rules_options o;
	alert_rules_options_init(&o);
	o.query = f->eng;
	o.ingest = f->ing;
	o.post = post;
	o.post_ctx = f;
	o.external_url = "http://strata.example:9470/";
	o.is_manual = true;
	alert_rules *r = NULL;
	ts_err local = {0};
	int rc = alert_rules_new(&o, f->cfg, &r, err ? err : &local);
	if (rc != rc_want)
		fail_msg("alert_rules_new: %s (%s)", ts_err_name(rc), (err ? err : &local)->msg);
	return r;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s/rules-%d", STRATA_TEST_TMP, (int)getpid());
	mkdir(STRATA_TEST_TMP, 0755);
	mkdir(f->dir, 0755);
	tsdb_options to;
	tsdb_options_init(&to);
	to.out_of_order_window_ms = 24 * 3600 * SEC;
	assert_int_equal(tsdb_open(&to, &f->db, NULL), TS_OK);
	ingest_options io;
	ingest_options_init(&io);
	io.db = f->db;
	assert_int_equal(ingest_open(&io, &f->ing, NULL), TS_OK);
	query_options qo;
	query_options_init(&qo);
	qo.db = f->db;
	assert_int_equal(query_engine_new(&qo, &f->eng, NULL), TS_OK);
	f->t0 = (ts_now_ms() / MIN) * MIN - 6 * 3600 * SEC;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	alert_rules_free(f->rules);
	query_engine_free(f->eng);
	ingest_close(f->ing);
	tsdb_close(f->db);
	ts_config_free(f->cfg);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_error("cannot remove %s\n", f->dir);
	free(f);
	ts_alloc_fail_after(-1);
	return 0;
}

static void put(fixture *f, const char *name, const char *k, const char *v, int64_t t, double val)
{
	ts_label l[2] = {{TS_METRIC_NAME, name}, {k, v}};
	assert_int_equal(tsdb_append(f->db, l, k ? 2 : 1, t, val, NULL), TS_OK);
}

/* Value of a one-series instant query, NAN when empty; *n_out = series count. */
static double q(fixture *f, const char *expr, int64_t t, size_t *n_out)
{
	query_result *r = NULL;
	ts_err err = {0};
	if (query_instant(f->eng, expr, strlen(expr), t, &r, &err))
		fail_msg("%s: %s", expr, err.msg);
	double v = NAN;
	if (r->type == QUERY_RESULT_SCALAR)
		v = r->scalar;
	else if (r->n_series)
		v = r->series[0].v[0];
	if (n_out)
		*n_out = r->type == QUERY_RESULT_SCALAR ? 1 : r->n_series;
	query_result_free(r);
	return v;
}

/* The newest raw sample of the series named `name` (any labels); false if none. */
static bool last_raw(fixture *f, const char *name, int64_t *t_out, uint64_t *bits_out)
{
	tsdb_querier *qr = NULL;
	assert_int_equal(tsdb_querier_open(f->db, INT64_MIN / 4, INT64_MAX / 4, &qr, NULL), TS_OK);
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, TS_METRIC_NAME, name, NULL), TS_OK);
	tsdb_series **v = NULL;
	size_t n = 0;
	assert_int_equal(tsdb_select(qr, &m, 1, 0, &v, &n, NULL), TS_OK);
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		tsdb_iter *it = NULL;
		assert_int_equal(tsdb_iter_open(qr, v[i], INT64_MIN / 4, INT64_MAX / 4, &it, NULL),
				 TS_OK);
		int64_t t;
		double val;
		while (tsdb_iter_next(it, &t, &val) == 1) {
			found = true;
			*t_out = t;
			memcpy(bits_out, &val, sizeof(val));
		}
		tsdb_iter_close(it);
	}
	ts_free(v);
	ts_matcher_fini(&m);
	tsdb_querier_close(qr);
	return found;
}

static alert_rules_snapshot *snap(fixture *f)
{
	alert_rules_snapshot *s = NULL;
	assert_int_equal(alert_rules_snapshot_get(f->rules, &s, NULL), TS_OK);
	return s;
}

/* The i-th rule of the first group in a fresh snapshot (freed by the caller). */
static const alert_rules_rule_info *rule_info(alert_rules_snapshot *s, size_t g, size_t i)
{
	assert_true(g < s->n_groups);
	assert_true(i < s->groups[g].n_rules);
	return &s->groups[g].rules[i];
}

/* ================================================================ recording rules */

static void test_alert_rules_recording(void **state)
{
	fixture *f = *state;
	int64_t t = f->t0;
	for (int64_t k = 0; k <= 4; k++) {
		put(f, "req", "job", "a", t + k * 15 * SEC, (double)(10 * k));
		put(f, "req", "job", "b", t + k * 15 * SEC, 1);
	}
	f->rules = start_rules(f,
			       "groups:\n"
			       "- name: rec\n"
			       "  rules:\n"
			       "  - record: job:req:sum\n"
			       "    expr: sum by (job) (req)\n"
			       "    labels: {source: rule, job: ''}\n"
			       "  - record: total\n"
			       "    expr: sum(job:req:sum)\n"
			       "  - record: scalar_rule\n"
			       "    expr: '2 * 21'\n",
			       TS_OK, NULL);
	alert_rules_eval_all(f->rules, t + 60 * SEC);
	/* job: '' removes the job label, so both jobs collide */
	alert_rules_snapshot *s = snap(f);
	const alert_rules_rule_info *r = rule_info(s, 0, 0);
	assert_string_equal(r->health, "err");
	assert_string_equal(r->last_error, "vector contains metrics with the same labelset after "
					   "applying rule labels");
	assert_string_equal(rule_info(s, 0, 2)->health, "ok");
	assert_true(rule_info(s, 0, 2)->last_eval_ms > 0);
	alert_rules_snapshot_free(s);
	assert_true(q(f, "scalar_rule", t + 60 * SEC, NULL) == 42);
	/* fix the rule: reload keeps the group's place, the series appear */
	assert_int_equal(
	    alert_rules_reload(
		f->rules,
		f->cfg = (ts_config_free(f->cfg), config_with(f, "groups:\n"
								 "- name: rec\n"
								 "  rules:\n"
								 "  - record: job:req:sum\n"
								 "    expr: sum by (job) (req)\n"
								 "    labels: {source: rule}\n"
								 "  - record: total\n"
								 "    expr: sum(job:req:sum)\n")),
		NULL),
	    TS_OK);
	alert_rules_eval_all(f->rules, t + 60 * SEC);
	size_t n;
	assert_true(q(f, "job:req:sum{job=\"a\",source=\"rule\"}", t + 60 * SEC, &n) == 40);
	assert_true(q(f, "total", t + 60 * SEC, &n) == 41); /* sees the rule before it */
	/* the removed rule's series got a staleness marker at reload (wall-clock time) */
	int64_t st;
	uint64_t bits;
	assert_true(last_raw(f, "scalar_rule", &st, &bits));
	assert_true(bits == 0x7ff0000000000002ULL);
	assert_true(st > ts_now_ms() - 60 * SEC);
	/* job b vanishes (its scrape wrote a staleness marker): the recorded series is
	 * marked stale at the next evaluation */
	put(f, "req", "job", "a", t + 75 * SEC, 50);
	double stale;
	memcpy(&stale, &(uint64_t){0x7ff0000000000002ULL}, sizeof(stale));
	put(f, "req", "job", "b", t + 75 * SEC, stale);
	alert_rules_eval_all(f->rules, t + 75 * SEC);
	q(f, "job:req:sum", t + 75 * SEC, &n);
	assert_int_equal(n, 1);
	q(f, "job:req:sum{job=\"b\"}", t + 80 * SEC, &n);
	assert_int_equal(n, 0); /* stale, not just old */
}

static void test_alert_rules_recording_limit(void **state)
{
	fixture *f = *state;
	put(f, "x", "i", "1", f->t0, 1);
	put(f, "x", "i", "2", f->t0, 2);
	f->rules = start_rules(f,
			       "groups:\n"
			       "- name: lim\n"
			       "  limit: 1\n"
			       "  rules:\n"
			       "  - record: y\n"
			       "    expr: x\n"
			       "  - alert: Many\n"
			       "    expr: x\n"
			       "  - record: bad\n"
			       "    expr: 'x[5m]'\n",
			       TS_EINVAL, NULL);
	assert_null(f->rules);
	f->rules = start_rules(f,
			       "groups:\n"
			       "- name: lim\n"
			       "  limit: 1\n"
			       "  rules:\n"
			       "  - record: y\n"
			       "    expr: x\n"
			       "  - alert: Many\n"
			       "    expr: x\n",
			       TS_OK, NULL);
	alert_rules_eval_all(f->rules, f->t0 + SEC);
	alert_rules_snapshot *s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->last_error, "exceeded limit of 1 with 2 series");
	assert_string_equal(rule_info(s, 0, 1)->last_error, "exceeded limit of 1 with 2 alerts");
	assert_int_equal(rule_info(s, 0, 1)->n_alerts, 0);
	assert_int_equal(s->groups[0].limit, 1);
	alert_rules_snapshot_free(s);
	size_t n;
	q(f, "y", f->t0 + SEC, &n);
	assert_int_equal(n, 0);
	q(f, "ALERTS", f->t0 + SEC, &n);
	assert_int_equal(n, 0);
	assert_int_equal(f->n_posts, 0);
}

/* ================================================================ alerting rules */

static const char *alert_rules_yml =
    "groups:\n"
    "- name: alerts\n"
    "  rules:\n"
    "  - alert: HighLoad\n"
    "    expr: load > 1\n"
    "    for: 1m\n"
    "    labels:\n"
    "      severity: '{{ if gt $value 5.0 }}page{{ else }}ticket{{ end }}'\n"
    "    annotations:\n"
    "      summary: 'load {{ $value }} on {{ $labels.host }} in "
    "{{ $externalLabels.cluster }}'\n"
    "      broken: '{{ humanize \"x\" }}'\n";

static void test_alert_rules_pending_firing_resolved(void **state)
{
	fixture *f = *state;
	f->rules = start_rules(f, alert_rules_yml, TS_OK, NULL);
	int64_t t = f->t0;
	size_t n;
	/* t: load 3 -> pending */
	put(f, "load", "host", "h1", t, 3);
	alert_rules_eval_all(f->rules, t);
	alert_rules_snapshot *s = snap(f);
	const alert_rules_rule_info *r = rule_info(s, 0, 0);
	assert_string_equal(r->state, "pending");
	assert_string_equal(r->health, "ok");
	assert_int_equal(r->n_alerts, 1);
	assert_string_equal(r->alerts[0].state, "pending");
	assert_int_equal(r->alerts[0].active_at_ms, t);
	assert_true(r->alerts[0].value == 3);
	assert_string_equal(ts_labels_get(r->alerts[0].labels, r->alerts[0].n_labels, "severity"),
			    "ticket");
	assert_null(ts_labels_get(r->alerts[0].labels, r->alerts[0].n_labels, "cluster"));
	assert_string_equal(
	    ts_labels_get(r->alerts[0].annotations, r->alerts[0].n_annotations, "summary"),
	    "load 3 on h1 in c1");
	assert_non_null(
	    strstr(ts_labels_get(r->alerts[0].annotations, r->alerts[0].n_annotations, "broken"),
		   "<error expanding template: error executing template __alert_HighLoad"));
	alert_rules_snapshot_free(s);
	assert_true(q(f,
		      "ALERTS{alertname=\"HighLoad\",alertstate=\"pending\",host=\"h1\","
		      "severity=\"ticket\"}",
		      t, &n) == 1);
	assert_true(q(f, "ALERTS_FOR_STATE{alertname=\"HighLoad\"}", t, &n) == (double)(t / SEC));
	assert_int_equal(f->n_posts, 0); /* pending alerts are not sent */
	/* t+45s: still pending */
	put(f, "load", "host", "h1", t + 45 * SEC, 3);
	alert_rules_eval_all(f->rules, t + 45 * SEC);
	assert_int_equal(f->n_posts, 0);
	/* t+60s: firing, posted once with ValidUntil = t + 4 * resend delay */
	put(f, "load", "host", "h1", t + 60 * SEC, 3);
	alert_rules_eval_all(f->rules, t + 60 * SEC);
	assert_true(q(f, "ALERTS{alertstate=\"firing\"}", t + 60 * SEC, &n) == 1);
	q(f, "ALERTS{alertstate=\"pending\"}", t + 60 * SEC, &n);
	assert_int_equal(n, 0); /* the pending series is stale */
	assert_true(q(f, "ALERTS_FOR_STATE", t + 60 * SEC, &n) == (double)(t / SEC));
	s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->state, "firing");
	alert_rules_snapshot_free(s);
	assert_int_equal(f->n_posts, 1);
	assert_string_equal(f->posts[0].labels,
			    "alertname=HighLoad,cluster=c1,host=h1,replica=r1,severity=ticket");
	assert_int_equal(f->posts[0].starts_at_ms, t + 60 * SEC);
	assert_int_equal(f->posts[0].ends_at_ms, t + 60 * SEC + 4 * MIN);
	assert_string_equal(f->posts[0].generator_url,
			    "http://strata.example:9470/graph?g0.expr=load+%3E+1&g0.tab=1");
	/* t+75s: value 7 makes severity=page, another alert: the ticket one resolves (and
	 * is sent), the page one starts pending */
	put(f, "load", "host", "h1", t + 75 * SEC, 7);
	alert_rules_eval_all(f->rules, t + 75 * SEC);
	assert_int_equal(f->n_posts, 2);
	assert_int_equal(f->posts[1].ends_at_ms, t + 75 * SEC);
	assert_int_equal(f->posts[1].starts_at_ms, t + 60 * SEC);
	s = snap(f);
	r = rule_info(s, 0, 0);
	assert_string_equal(r->state, "pending");
	assert_int_equal(r->n_alerts, 1);
	assert_string_equal(ts_labels_get(r->alerts[0].labels, r->alerts[0].n_labels, "severity"),
			    "page");
	alert_rules_snapshot_free(s);
	q(f, "ALERTS{alertstate=\"firing\"}", t + 75 * SEC, &n);
	assert_int_equal(n, 0);
	/* a pending alert that vanishes is dropped without a notification */
	put(f, "load", "host", "h1", t + 90 * SEC, 0);
	alert_rules_eval_all(f->rules, t + 90 * SEC);
	assert_int_equal(f->n_posts, 2);
	s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->state, "inactive");
	alert_rules_snapshot_free(s);
}

static void test_alert_rules_resend_and_retention(void **state)
{
	fixture *f = *state;
	f->rules = start_rules(f,
			       "groups:\n"
			       "- name: g\n"
			       "  interval: 10s\n"
			       "  rules:\n"
			       "  - alert: Up\n"
			       "    expr: up == 1\n"
			       "    for: 20s\n"
			       "    annotations: {v: '{{ $value }}'}\n",
			       TS_OK, NULL);
	int64_t t = f->t0;
	for (int64_t k = 0; k <= 6; k++)
		put(f, "up", "job", "x", t + k * 10 * SEC, 1);
	for (int64_t k = 0; k <= 6; k++)
		alert_rules_eval_all(f->rules, t + k * 10 * SEC);
	/* firing at t+20s (posted), not re-sent until the resend delay (1m) has passed */
	assert_int_equal(f->n_posts, 1);
	assert_int_equal(f->posts[0].starts_at_ms, t + 20 * SEC);
	assert_int_equal(f->posts[0].ends_at_ms, t + 20 * SEC + 4 * MIN);
	assert_string_equal(f->posts[0].annotations, "v=1");
	put(f, "up", "job", "x", t + 90 * SEC, 1);
	alert_rules_eval_all(f->rules, t + 90 * SEC);
	assert_int_equal(f->n_posts, 2);
	/* gone at t+100s: resolved and sent at once */
	put(f, "up", "job", "x", t + 100 * SEC, 0);
	alert_rules_eval_all(f->rules, t + 100 * SEC);
	assert_int_equal(f->n_posts, 3);
	assert_int_equal(f->posts[2].ends_at_ms, t + 100 * SEC);
	size_t n;
	q(f, "ALERTS", t + 100 * SEC, &n);
	assert_int_equal(n, 0);
	alert_rules_snapshot *s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->state, "inactive");
	assert_int_equal(rule_info(s, 0, 0)->n_alerts, 0); /* resolved alerts are not listed */
	alert_rules_snapshot_free(s);
	/* re-sent after every resend delay (strictly more than a minute: every 70s at a 10s
	 * interval) while kept for 15 minutes, then forgotten */
	for (int64_t k = 1; k <= 100; k++)
		alert_rules_eval_all(f->rules, t + 100 * SEC + k * 10 * SEC);
	assert_int_equal(f->n_posts, 3 + 12);
	for (size_t i = 3; i < f->n_posts; i++)
		assert_int_equal(f->posts[i].ends_at_ms, t + 100 * SEC);
	/* back again: a new pending alert with a new activeAt */
	int64_t t2 = t + 20 * MIN;
	put(f, "up", "job", "x", t2, 1);
	alert_rules_eval_all(f->rules, t2);
	s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->alerts[0].state, "pending");
	assert_int_equal(rule_info(s, 0, 0)->alerts[0].active_at_ms, t2);
	alert_rules_snapshot_free(s);
}

static void test_alert_rules_keep_firing_for(void **state)
{
	fixture *f = *state;
	f->rules = start_rules(f,
			       "groups:\n"
			       "- name: g\n"
			       "  rules:\n"
			       "  - alert: Flappy\n"
			       "    expr: flap > 0\n"
			       "    keep_firing_for: 1m\n",
			       TS_OK, NULL);
	int64_t t = f->t0;
	put(f, "flap", NULL, NULL, t, 1);
	alert_rules_eval_all(f->rules, t); /* no `for`: firing at once */
	assert_int_equal(f->n_posts, 1);
	put(f, "flap", NULL, NULL, t + 15 * SEC, 0);
	alert_rules_eval_all(f->rules, t + 15 * SEC); /* gone, but kept firing */
	alert_rules_snapshot *s = snap(f);
	const alert_rules_rule_info *r = rule_info(s, 0, 0);
	assert_string_equal(r->state, "firing");
	assert_int_equal(r->alerts[0].keep_firing_since_ms, t + 15 * SEC);
	alert_rules_snapshot_free(s);
	size_t n;
	assert_true(q(f, "ALERTS{alertstate=\"firing\"}", t + 15 * SEC, &n) == 1);
	put(f, "flap", NULL, NULL, t + 60 * SEC, 0);
	alert_rules_eval_all(f->rules, t + 60 * SEC); /* 45s kept so far */
	s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->state, "firing");
	alert_rules_snapshot_free(s);
	put(f, "flap", NULL, NULL, t + 75 * SEC, 0);
	alert_rules_eval_all(f->rules, t + 75 * SEC); /* 60s: resolved */
	s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->state, "inactive");
	alert_rules_snapshot_free(s);
	assert_int_equal(f->posts[f->n_posts - 1].ends_at_ms, t + 75 * SEC);
	/* back while kept firing resets keep_firing_since */
	put(f, "flap", NULL, NULL, t + 90 * SEC, 1);
	alert_rules_eval_all(f->rules, t + 90 * SEC);
	put(f, "flap", NULL, NULL, t + 105 * SEC, 0);
	alert_rules_eval_all(f->rules, t + 105 * SEC);
	put(f, "flap", NULL, NULL, t + 120 * SEC, 1);
	alert_rules_eval_all(f->rules, t + 120 * SEC);
	s = snap(f);
	assert_int_equal(rule_info(s, 0, 0)->alerts[0].keep_firing_since_ms, 0);
	assert_int_equal(rule_info(s, 0, 0)->alerts[0].active_at_ms, t + 90 * SEC);
	alert_rules_snapshot_free(s);
}

static void test_alert_rules_duplicate_alert_labels(void **state)
{
	fixture *f = *state;
	put(f, "m", "i", "1", f->t0, 1);
	put(f, "m", "i", "2", f->t0, 1);
	f->rules = start_rules(f,
			       "groups:\n"
			       "- name: g\n"
			       "  rules:\n"
			       "  - alert: Dup\n"
			       "    expr: m\n"
			       "    labels: {i: same}\n",
			       TS_OK, NULL);
	alert_rules_eval_all(f->rules, f->t0);
	alert_rules_snapshot *s = snap(f);
	assert_string_equal(rule_info(s, 0, 0)->last_error,
			    "vector contains metrics with the same labelset after applying alert "
			    "labels");
	alert_rules_snapshot_free(s);
}

/* ================================================================ restoring `for` state */

/* What a previous process wrote: ALERTS_FOR_STATE every 15s from `from` to `to`. */
static void for_state(fixture *f, const char *alertname, const char *host, int64_t active_at,
		      int64_t from, int64_t to, bool stale_after)
{
	ts_label l[3] = {
	    {TS_METRIC_NAME, "ALERTS_FOR_STATE"}, {"alertname", alertname}, {"host", host}};
	for (int64_t t = from; t <= to; t += 15 * SEC)
		assert_int_equal(tsdb_append(f->db, l, 3, t, (double)(active_at / SEC), NULL),
				 TS_OK);
	if (stale_after) {
		uint64_t b = 0x7ff0000000000002ULL;
		double v;
		memcpy(&v, &b, sizeof(v));
		assert_int_equal(tsdb_append(f->db, l, 3, to + 15 * SEC, v, NULL), TS_OK);
	}
}

static void test_alert_rules_restore_for_state(void **state)
{
	fixture *f = *state;
	int64_t t = f->t0;
	/* before the "restart", until t (down at t, back at t + 5m) */
	for_state(f, "Long", "firing", t - 30 * MIN, t - 5 * MIN, t, false);  /* fired */
	for_state(f, "Long", "pending", t - 10 * MIN, t - 5 * MIN, t, false); /* 10 of 20m */
	for_state(f, "Long", "almost", t - 15 * MIN, t - 5 * MIN, t, false);  /* 5m left */
	for_state(f, "Long", "stale", t - 30 * MIN, t - 5 * MIN, t - 2 * MIN, true);
	for_state(f, "Long", "gone", t - 40 * MIN, t - 5 * MIN, t, false); /* fired, now absent */
	for_state(f, "Short", "a", t - 10 * MIN, t - 5 * MIN, t, false);   /* for 1m: fired */
	for_state(f, "Short", "b", t - 20 * SEC, t - 20 * SEC, t, false);  /* 20s of 1m */
	int64_t now = t + 5 * MIN;
	const char *hosts[] = {"firing", "pending", "almost", "stale"};
	for (int i = 0; i < 4; i++)
		put(f, "cond", "host", hosts[i], now, 1);
	put(f, "short", "host", "a", now, 1);
	put(f, "short", "host", "b", now, 1);
	f->rules = start_rules(f,
			       "groups:\n"
			       "- name: restore\n"
			       "  rules:\n"
			       "  - alert: Long\n"
			       "    expr: cond > 0\n"
			       "    for: 20m\n"
			       "  - alert: Short\n"
			       "    expr: short > 0\n"
			       "    for: 1m\n",
			       TS_OK, NULL);
	alert_rules_eval_all(f->rules, now);
	alert_rules_snapshot *s = snap(f);
	const alert_rules_rule_info *r = rule_info(s, 0, 0);
	assert_int_equal(r->n_alerts, 4); /* "gone" is resolved, so not listed */
	for (size_t i = 0; i < r->n_alerts; i++) {
		const alert_rules_alert_info *a = &r->alerts[i];
		const char *host = ts_labels_get(a->labels, a->n_labels, "host");
		if (!strcmp(host, "firing")) {
			assert_string_equal(a->state, "firing");
			assert_int_equal(a->active_at_ms, t - 30 * MIN);
		} else if (!strcmp(host, "pending")) { /* shifted by the 5m downtime */
			assert_string_equal(a->state, "pending");
			assert_int_equal(a->active_at_ms, t - 5 * MIN);
		} else if (!strcmp(host, "almost")) { /* 5m < grace: fires in 10m */
			assert_string_equal(a->state, "pending");
			assert_int_equal(a->active_at_ms, now + 10 * MIN - 20 * MIN);
		} else { /* stale: it had been resolved, so it starts over */
			assert_string_equal(host, "stale");
			assert_int_equal(a->active_at_ms, now);
		}
	}
	r = rule_info(s, 0, 1);
	for (size_t i = 0; i < r->n_alerts; i++) {
		const alert_rules_alert_info *a = &r->alerts[i];
		const char *host = ts_labels_get(a->labels, a->n_labels, "host");
		if (!strcmp(host, "a")) { /* was firing: stays firing although for < grace */
			assert_string_equal(a->state, "firing");
			assert_int_equal(a->active_at_ms, t - 10 * MIN);
		} else { /* pending with for < grace: starts over, as in Prometheus */
			assert_string_equal(a->state, "pending");
			assert_int_equal(a->active_at_ms, now);
		}
	}
	alert_rules_snapshot_free(s);
	/* posted: firing (Long/firing, Short/a) with their old start, and gone resolved */
	int firing = 0, resolved = 0;
	for (size_t i = 0; i < f->n_posts; i++) {
		if (f->posts[i].ends_at_ms == now) {
			resolved++;
			assert_non_null(strstr(f->posts[i].labels, "host=gone"));
			assert_int_equal(f->posts[i].starts_at_ms, t - 40 * MIN + 20 * MIN);
		} else {
			firing++;
			if (strstr(f->posts[i].labels, "host=firing"))
				assert_int_equal(f->posts[i].starts_at_ms, t - 30 * MIN + 20 * MIN);
		}
	}
	assert_int_equal(firing, 2);
	assert_int_equal(resolved, 1);
	size_t n;
	assert_true(q(f, "ALERTS_FOR_STATE{host=\"firing\"}", now, &n) ==
		    (double)((t - 30 * MIN) / SEC));
	/* restoring happens once: the next evaluation is a normal one */
	alert_rules_eval_all(f->rules, now + 15 * SEC);
	assert_int_equal(f->n_posts, 3);
}

/* ================================================================ reloads and snapshots */

static void test_alert_rules_reload_atomic(void **state)
{
	fixture *f = *state;
	f->rules = start_rules(f, alert_rules_yml, TS_OK, NULL);
	put(f, "load", "host", "h1", f->t0, 3);
	alert_rules_eval_all(f->rules, f->t0);
	/* a broken file: error with position, old rules stay */
	ts_config *bad = config_with(f, "groups:\n- name: x\n  rules:\n  - alert: A\n"
					"    expr: 'sum(('\n");
	ts_err err = {0};
	assert_int_equal(alert_rules_reload(f->rules, bad, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "/rules.yml:5:11: group \"x\", rule 1, \"A\": could not "
					"parse expression: "));
	ts_config_free(bad);
	alert_rules_snapshot *s = snap(f);
	assert_int_equal(s->n_groups, 1);
	assert_string_equal(s->groups[0].name, "alerts");
	assert_int_equal(rule_info(s, 0, 0)->n_alerts, 1);
	alert_rules_snapshot_free(s);
	/* a changed group (new annotation) keeps the alerts of unchanged rules */
	char path[512];
	snprintf(path, sizeof(path), "%s/more-1.yml", f->dir);
	write_file(path, "groups:\n- name: extra\n  interval: 1m\n  rules:\n"
			 "  - record: one\n    expr: '1'\n");
	ts_config *c2 =
	    config_with(f, "groups:\n"
			   "- name: alerts\n"
			   "  rules:\n"
			   "  - alert: HighLoad\n"
			   "    expr: load > 1\n"
			   "    for: 1m\n"
			   "    labels:\n"
			   "      severity: '{{ if gt $value 5.0 }}page{{ else }}ticket{{ "
			   "end }}'\n"
			   "    annotations:\n"
			   "      summary: 'changed'\n");
	assert_int_equal(alert_rules_reload(f->rules, c2, &err), TS_OK);
	ts_config_free(f->cfg);
	f->cfg = c2;
	s = snap(f);
	assert_int_equal(s->n_groups, 2);
	assert_string_equal(s->groups[0].name, "extra"); /* sorted by file: more-1 < rules */
	assert_int_equal(s->groups[0].interval_ms, 60000);
	assert_int_equal(s->groups[1].interval_ms, 15000); /* the global interval */
	const alert_rules_rule_info *r = rule_info(s, 1, 0);
	assert_int_equal(r->n_alerts, 1);
	assert_int_equal(r->alerts[0].active_at_ms, f->t0);
	assert_string_equal(r->annotations[0].value, "changed");
	assert_int_equal(r->for_ms, 60000);
	alert_rules_snapshot_free(s);
	put(f, "load", "host", "h1", f->t0 + MIN, 3);
	alert_rules_eval_all(f->rules, f->t0 + MIN);
	s = snap(f);
	assert_string_equal(rule_info(s, 1, 0)->alerts[0].state, "firing");
	assert_string_equal(rule_info(s, 1, 0)->alerts[0].annotations[0].value, "changed");
	alert_rules_snapshot_free(s);
	/* removing everything: ALERTS series are marked stale */
	unlink(path);
	ts_config *c3 = config_with(f, "");
	assert_int_equal(alert_rules_reload(f->rules, c3, &err), TS_OK);
	ts_config_free(f->cfg);
	f->cfg = c3;
	size_t n;
	q(f, "ALERTS", ts_now_ms(), &n);
	assert_int_equal(n, 0);
	s = snap(f);
	assert_int_equal(s->n_groups, 0);
	alert_rules_snapshot_free(s);
}

static void test_alert_rules_unknown_file_patterns(void **state)
{
	fixture *f = *state;
	/* more-*.yml matches nothing: fine; a missing rule file named literally: also nothing,
	 * as filepath.Glob in Prometheus */
	f->rules = start_rules(f, "groups: []\n", TS_OK, NULL);
	alert_rules_snapshot *s = snap(f);
	assert_int_equal(s->n_groups, 0);
	alert_rules_snapshot_free(s);
	/* a config without rules at all */
	alert_rules_options o;
	alert_rules_options_init(&o);
	o.is_manual = true;
	alert_rules *r = NULL;
	assert_int_equal(alert_rules_new(&o, NULL, &r, NULL), TS_OK);
	alert_rules_eval_all(r, f->t0);
	alert_rules_free(r);
	/* a bad pattern list */
	char path[512];
	snprintf(path, sizeof(path), "%s/bad.yml", f->dir);
	write_file(path, "rule_files: {a: b}\n");
	ts_config *c = NULL;
	assert_int_equal(ts_config_load(path, &c, NULL), TS_OK);
	ts_err err = {0};
	assert_int_equal(alert_rules_new(&o, c, &r, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "bad.yml:1:13: rule_files: expected a list"));
	ts_config_free(c);
	write_file(path, "global: {evaluation_interval: soon}\n");
	assert_int_equal(ts_config_load(path, &c, NULL), TS_OK);
	assert_int_equal(alert_rules_new(&o, c, &r, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "global.evaluation_interval"));
	ts_config_free(c);
}

static void test_alert_group_offset_ms(void **state)
{
	int64_t a = alert_group_offset_ms("rules.yml", "g1", 60000);
	assert_true(a >= 0 && a < 60000);
	assert_int_equal(a, alert_group_offset_ms("rules.yml", "g1", 60000));
	assert_true(a != alert_group_offset_ms("rules.yml", "g2", 60000) ||
		    a != alert_group_offset_ms("other.yml", "g1", 60000));
	assert_int_equal(alert_group_offset_ms("f", "n", 0), 0);
	/* the hash is Prometheus' labels.Hash of {file, name}: XXH64 of the series key */
	ts_label l[2] = {{"file", "rules.yml"}, {"name", "g1"}};
	assert_int_equal(a, (int64_t)(ts_series_hash(l, 2) % 60000000000ULL / 1000000));
	char v[ALERT_RULES_VALUE_TEXT_MAX];
	alert_rules_format_value(v, 3);
	assert_string_equal(v, "3e+00");
}

static void test_alert_rules_threads(void **state)
{
	fixture *f = *state;
	ts_config_free(f->cfg);
	f->cfg = config_with(f, "groups:\n- name: fast\n  interval: 200ms\n  rules:\n"
				"  - record: ticking\n    expr: vector(1)\n");
	alert_rules_options o;
	alert_rules_options_init(&o);
	o.query = f->eng;
	o.ingest = f->ing;
	o.n_workers = 2;
	assert_int_equal(alert_rules_new(&o, f->cfg, &f->rules, NULL), TS_OK);
	int64_t deadline = ts_now_ms() + 5000;
	int64_t first = 0;
	while (ts_now_ms() < deadline) {
		alert_rules_snapshot *s = snap(f);
		int64_t last = s->groups[0].last_eval_ms;
		alert_rules_snapshot_free(s);
		if (last && !first)
			first = last;
		if (first && last > first)
			break;
		usleep(20000);
	}
	alert_rules_snapshot *s = snap(f);
	assert_true(first > 0 && s->groups[0].last_eval_ms > first);
	assert_string_equal(rule_info(s, 0, 0)->health, "ok");
	alert_rules_snapshot_free(s);
	/* a reload while running */
	assert_int_equal(alert_rules_reload(f->rules, f->cfg, NULL), TS_OK);
	alert_rules_free(f->rules);
	f->rules = NULL;
	size_t n;
	q(f, "ticking", ts_now_ms(), &n);
	assert_int_equal(n, 1);
}

static void test_alert_rules_alloc_failures(void **state)
{
	fixture *f = *state;
	put(f, "load", "host", "h1", f->t0, 7);
	put(f, "load", "host", "h2", f->t0, 2);
	for_state(f, "HighLoad", "h9", f->t0 - 30 * MIN, f->t0 - 5 * MIN, f->t0 - SEC, false);
	bool done = false;
	for (int64_t k = 0; k < 20000 && !done; k++) {
		ts_config_free(f->cfg);
		f->cfg = config_with(f, alert_rules_yml);
		alert_rules_options o;
		alert_rules_options_init(&o);
		o.query = f->eng;
		o.ingest = f->ing;
		o.post = post;
		o.post_ctx = f;
		o.is_manual = true;
		f->n_posts = 0;
		alert_rules *r = NULL;
		ts_alloc_fail_after(k);
		int rc = alert_rules_new(&o, f->cfg, &r, NULL);
		if (rc == TS_OK) {
			alert_rules_eval_all(r, f->t0);
			alert_rules_eval_all(r, f->t0 + 2 * MIN);
			alert_rules_snapshot *s = NULL;
			if (alert_rules_snapshot_get(r, &s, NULL) == TS_OK) {
				done =
				    s->n_groups == 1 && !strcmp(rule_info(s, 0, 0)->health, "ok");
				alert_rules_snapshot_free(s);
			}
		}
		ts_alloc_fail_after(-1);
		alert_rules_free(r);
	}
	assert_true(done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_alert_rules_recording, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_recording_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_pending_firing_resolved, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_resend_and_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_keep_firing_for, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_duplicate_alert_labels, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_restore_for_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_reload_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_unknown_file_patterns, setup,
					    teardown),
	    cmocka_unit_test(test_alert_group_offset_ms),
	    cmocka_unit_test_setup_teardown(test_alert_rules_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_rules_alloc_failures, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
