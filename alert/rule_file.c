/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rule_file.c: Prometheus rule files: parsing, validation, and `strata rules check`.
 *
 * The format is Prometheus 2.42's rulefmt:
 *
 *   groups:
 *     - name: <string, unique in the file>
 *       interval: <duration>          # default: global.evaluation_interval
 *       limit: <int>                  # alerts/series per rule, 0 = none
 *       rules:
 *         - record: <metric name>     # or
 *           alert: <name>
 *           expr: <PromQL>
 *           for: <duration>           # alerting only
 *           keep_firing_for: <duration> # alerting only
 *           labels: {<name>: <value>} # templated for alerting rules
 *           annotations: {<name>: <template>} # alerting only
 *
 * Validation reproduces `promtool check rules` (rulefmt.RuleGroups.Validate plus its
 * template parse test): the same checks in the same order with the same wording, so a
 * file gets the same verdict from both. Every error carries file:line:column (Prometheus
 * omits the position for label, annotation and template errors; Strata points at the
 * key or value). Beyond promtool: expressions are type-checked (a rule must produce an
 * instant vector or a scalar; see query/check.c), and YAML type errors are reported per
 * field with positions instead of aborting the file at the first one. All errors of a
 * file are collected, as promtool prints them all.
 *
 * Not here: evaluation (rules_eval.c) and which files are loaded (rules.c).
 */
#include "alert/rules_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages kept per file; more are counted but dropped. */
#define MAX_ERRORS 1000

typedef struct pctx {
	const ts_yaml_doc *d;
	const char *name;
	alert_rule_errors *errs;
	ts_err *err;    /* first error */
	size_t n_errs;  /* including dropped ones */
	int first_code; /* code of the first error */
	bool is_nomem;
	/* current rule (for the "group ..., rule N, ..." prefix), NULL outside rules */
	const char *group;
	size_t rule_idx;
	const char *rule_name;
} pctx;

static void add_error(pctx *c, int code, const ts_yaml_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Append a copy of msg to e (NULL allowed); false on ENOMEM. */
static bool errs_push(alert_rule_errors *e, const char *msg)
{
	if (!e || e->n >= MAX_ERRORS)
		return true;
	if (e->n == e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 8;
		char **v = ts_realloc(e->msgs, nc * sizeof(*v));
		if (!v)
			return false;
		e->msgs = v;
		e->cap = nc;
	}
	if (!(e->msgs[e->n] = ts_strdup(msg)))
		return false;
	e->n++;
	return true;
}

static void add_error(pctx *c, int code, const ts_yaml_node *n, const char *fmt, ...)
{
	char msg[768], where[48] = " ", rule[600] = "", full[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		snprintf(where, sizeof(where), "%d:%d: ", n->line, n->column);
	if (c->group)
		snprintf(rule, sizeof(rule), "group \"%s\", rule %zu, \"%s\": ", c->group,
			 c->rule_idx, c->rule_name ? c->rule_name : "");
	snprintf(full, sizeof(full), "%s:%s%s%s", c->name, where, rule, msg);
	if (c->n_errs++ == 0) {
		c->first_code = code;
		ts_err_set(c->err, code, "%s", full);
	}
	if (!errs_push(c->errs, full))
		c->is_nomem = true;
}

void alert_rule_errors_fini(alert_rule_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		ts_free(e->msgs[i]);
	ts_free(e->msgs);
	memset(e, 0, sizeof(*e));
}

/* ================================================================ freeing and equality */

static void rule_def_fini(alert_rule_def *r)
{
	ts_free(r->name);
	ts_free(r->expr);
	for (size_t i = 0; i < r->n_labels; i++) {
		ts_free((char *)r->labels[i].name);
		ts_free((char *)r->labels[i].value);
		if (r->label_tmpls)
			alert_template_free(r->label_tmpls[i]);
	}
	for (size_t i = 0; i < r->n_annotations; i++) {
		ts_free((char *)r->annotations[i].name);
		ts_free((char *)r->annotations[i].value);
		if (r->annotation_tmpls)
			alert_template_free(r->annotation_tmpls[i]);
	}
	ts_free(r->labels);
	ts_free(r->annotations);
	ts_free(r->label_tmpls);
	ts_free(r->annotation_tmpls);
}

void alert_group_def_free(alert_group_def *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_rules; i++)
		rule_def_fini(&g->rules[i]);
	ts_free(g->rules);
	ts_free(g->name);
	ts_free(g->file);
	ts_free(g);
}

void alert_rule_file_free(alert_rule_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_groups; i++)
		alert_group_def_free(f->groups[i]);
	ts_free(f->groups);
	ts_free(f->path);
	ts_free(f);
}

static bool str_eq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static bool labels_eq(const ts_label *a, size_t na, const ts_label *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value))
			return false;
	return true;
}

bool alert_group_def_equal(const alert_group_def *a, const alert_group_def *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->file, b->file) ||
	    a->interval_ms != b->interval_ms || a->limit != b->limit || a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++) {
		const alert_rule_def *x = &a->rules[i], *y = &b->rules[i];
		if (x->is_alert != y->is_alert || strcmp(x->name, y->name) ||
		    strcmp(x->expr, y->expr) || x->for_ms != y->for_ms ||
		    x->keep_firing_for_ms != y->keep_firing_for_ms ||
		    !labels_eq(x->labels, x->n_labels, y->labels, y->n_labels) ||
		    !labels_eq(x->annotations, x->n_annotations, y->annotations, y->n_annotations))
			return false;
	}
	return true;
}

/* ================================================================ parsing */

static const char *key_of(const ts_yaml_node *map, size_t i)
{
	return map->keys[i]->type == TS_YAML_SCALAR ? map->keys[i]->scalar : "";
}

static bool want_scalar(pctx *c, const ts_yaml_node *n, const char *what)
{
	if (n && n->type == TS_YAML_SCALAR)
		return true;
	add_error(c, TS_EINVAL, n, "%s: expected a string", what);
	return false;
}

/* A string field; NULL (and an error) when not a scalar. "" for null. */
static const char *scalar_str(pctx *c, const ts_yaml_node *n, const char *what)
{
	if (!want_scalar(c, n, what))
		return NULL;
	return ts_yaml_is_null(n) ? "" : n->scalar;
}

static bool duration(pctx *c, const ts_yaml_node *n, const char *what, int64_t *out)
{
	const char *s = scalar_str(c, n, what);
	if (!s)
		return false;
	if (!*s) {
		*out = 0;
		return true;
	}
	if (ts_parse_duration_ms(s, strlen(s), out, NULL) != TS_OK) {
		add_error(c, TS_EINVAL, n, "not a valid duration string: \"%s\"", s);
		return false;
	}
	return true;
}

static char *dup_or_nomem(pctx *c, const char *s)
{
	char *p = ts_strdup(s ? s : "");
	if (!p)
		c->is_nomem = true;
	return p;
}

/* A labels/annotations mapping into *out (names and values owned). */
static void string_map(pctx *c, const ts_yaml_node *n, const char *what, ts_label **out,
		       size_t *n_out)
{
	if (!n || ts_yaml_is_null(n))
		return;
	if (n->type != TS_YAML_MAP) {
		add_error(c, TS_EINVAL, n, "%s: expected a mapping of strings", what);
		return;
	}
	ts_label *v = ts_calloc(n->n ? n->n : 1, sizeof(*v));
	if (!v) {
		c->is_nomem = true;
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n->n; i++) {
		const char *val = scalar_str(c, n->items[i], what);
		if (!want_scalar(c, n->keys[i], what) || !val)
			continue;
		char *name = dup_or_nomem(c, n->keys[i]->scalar), *value = dup_or_nomem(c, val);
		if (!name || !value) {
			ts_free(name);
			ts_free(value);
			break;
		}
		v[k++] = (ts_label){name, value};
	}
	*out = v;
	*n_out = k;
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const ts_label *)a)->name, ((const ts_label *)b)->name);
}

/* Labels and annotations are kept sorted by name (YAML rejects duplicate keys). */
static void sort_labels(ts_label *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_label);
}

/* The mapping node of key `name` among the validated keys of a rule. */
static const ts_yaml_node *key_node(const ts_yaml_node *map, const char *name)
{
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(key_of(map, i), name))
			return map->keys[i];
	return NULL;
}

static void check_templates(pctx *c, alert_rule_def *r, const ts_yaml_node *labels,
			    const ts_yaml_node *annotations)
{
	char name[512];
	snprintf(name, sizeof(name), "__alert_%s", r->name);
	r->label_tmpls = ts_calloc(r->n_labels ? r->n_labels : 1, sizeof(*r->label_tmpls));
	r->annotation_tmpls =
	    ts_calloc(r->n_annotations ? r->n_annotations : 1, sizeof(*r->annotation_tmpls));
	if (!r->label_tmpls || !r->annotation_tmpls) {
		c->is_nomem = true;
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		const ts_label *v = pass ? r->annotations : r->labels;
		size_t n = pass ? r->n_annotations : r->n_labels;
		alert_template **t = pass ? r->annotation_tmpls : r->label_tmpls;
		const ts_yaml_node *map = pass ? annotations : labels;
		for (size_t i = 0; i < n; i++) {
			if (alert_template_is_static(v[i].value, strlen(v[i].value)))
				continue;
			ts_err e = {0};
			int rc =
			    alert_template_parse(name, v[i].value, strlen(v[i].value), &t[i], &e);
			if (rc == TS_ENOMEM)
				c->is_nomem = true;
			else if (rc) {
				const ts_yaml_node *at = map ? ts_yaml_get(map, v[i].name) : NULL;
				add_error(c, TS_EINVAL, at, "%s \"%s\": %s",
					  pass ? "annotation" : "label", v[i].name, e.msg);
			}
		}
	}
}

/* Prometheus' RuleNode.Validate, in its order. */
static void validate_rule(pctx *c, alert_rule_def *r, const ts_yaml_node *m, const char *rec_s,
			  const ts_yaml_node *record, const ts_yaml_node *alert,
			  const ts_yaml_node *expr, const ts_yaml_node *labels,
			  const ts_yaml_node *annotations, bool has_for, bool has_keep)
{
	bool is_record = *rec_s != '\0';
	if (is_record && r->is_alert)
		add_error(c, TS_EINVAL, record, "only one of 'record' and 'alert' must be set");
	if (!r->name || !*r->name)
		add_error(c, TS_EINVAL, m, "one of 'record' or 'alert' must be set");
	if (!r->expr || !*r->expr) {
		add_error(c, TS_EINVAL, expr ? expr : m, "field 'expr' must be set in rule");
	} else {
		ts_err e = {0};
		int rc = query_check_expr(r->expr, strlen(r->expr), &e);
		if (rc == TS_ENOMEM)
			c->is_nomem = true;
		else if (rc)
			add_error(c, TS_EINVAL, expr, "could not parse expression: %s", e.msg);
	}
	if (is_record) {
		if (r->n_annotations)
			add_error(c, TS_EINVAL, record,
				  "invalid field 'annotations' in recording rule");
		if (has_for)
			add_error(c, TS_EINVAL, record, "invalid field 'for' in recording rule");
		if (has_keep)
			add_error(c, TS_EINVAL, record,
				  "invalid field 'keep_firing_for' in recording rule");
		if (!ts_metric_name_valid(rec_s, strlen(rec_s)))
			add_error(c, TS_EINVAL, record, "invalid recording rule name: %s", rec_s);
	}
	for (size_t i = 0; i < r->n_labels; i++) {
		const char *k = r->labels[i].name, *v = r->labels[i].value;
		const ts_yaml_node *kn = labels ? key_node(labels, k) : NULL;
		if (!ts_label_name_valid(k, strlen(k)) || !strcmp(k, TS_METRIC_NAME))
			add_error(c, TS_EINVAL, kn, "invalid label name: %s", k);
		if (!ts_utf8_valid(v, strlen(v)))
			add_error(c, TS_EINVAL, labels ? ts_yaml_get(labels, k) : NULL,
				  "invalid label value: %s", v);
	}
	for (size_t i = 0; i < r->n_annotations; i++) {
		const char *k = r->annotations[i].name;
		if (!ts_label_name_valid(k, strlen(k)))
			add_error(c, TS_EINVAL, annotations ? key_node(annotations, k) : NULL,
				  "invalid annotation name: %s", k);
	}
	if (r->is_alert && r->name && *r->name)
		check_templates(c, r, labels, annotations);
}

static void parse_rule(pctx *c, const ts_yaml_node *m, alert_rule_def *r)
{
	r->line = m->line;
	r->column = m->column;
	if (m->type != TS_YAML_MAP) {
		add_error(c, TS_EINVAL, m, "a rule must be a mapping");
		return;
	}
	const ts_yaml_node *record = NULL, *alert = NULL, *expr = NULL, *labels = NULL,
			   *annotations = NULL;
	bool has_for = false, has_keep = false;
	/* the name first, for the message prefix */
	record = ts_yaml_get(m, "record");
	alert = ts_yaml_get(m, "alert");
	const char *rec_s = record && record->type == TS_YAML_SCALAR && !ts_yaml_is_null(record)
				? record->scalar
				: "";
	const char *alert_s =
	    alert && alert->type == TS_YAML_SCALAR && !ts_yaml_is_null(alert) ? alert->scalar : "";
	r->is_alert = *alert_s != '\0';
	r->name = dup_or_nomem(c, r->is_alert ? alert_s : rec_s);
	c->rule_name = r->name;
	for (size_t i = 0; i < m->n; i++) {
		const char *k = key_of(m, i);
		const ts_yaml_node *v = m->items[i];
		if (!strcmp(k, "record") || !strcmp(k, "alert")) {
			want_scalar(c, v, k);
		} else if (!strcmp(k, "expr")) {
			expr = v;
			const char *s = scalar_str(c, v, "expr");
			if (s)
				r->expr = dup_or_nomem(c, s);
		} else if (!strcmp(k, "for")) {
			int64_t ms = 0;
			duration(c, v, "for", &ms);
			r->for_ms = ms;
			has_for = ms != 0;
		} else if (!strcmp(k, "keep_firing_for")) {
			int64_t ms = 0;
			duration(c, v, "keep_firing_for", &ms);
			r->keep_firing_for_ms = ms;
			has_keep = ms != 0;
		} else if (!strcmp(k, "labels")) {
			labels = v;
			string_map(c, v, "labels", &r->labels, &r->n_labels);
			sort_labels(r->labels, r->n_labels);
		} else if (!strcmp(k, "annotations")) {
			annotations = v;
			string_map(c, v, "annotations", &r->annotations, &r->n_annotations);
			sort_labels(r->annotations, r->n_annotations);
		} else {
			add_error(c, TS_EINVAL, m->keys[i],
				  "field %s not found in type rulefmt.RuleNode", k);
		}
	}
	validate_rule(c, r, m, rec_s, record, alert, expr,
		      labels && labels->type == TS_YAML_MAP ? labels : NULL,
		      annotations && annotations->type == TS_YAML_MAP ? annotations : NULL, has_for,
		      has_keep);
}

static alert_group_def *parse_group(pctx *c, const ts_yaml_node *m, const ts_yaml_node *root_seq,
				    size_t idx)
{
	alert_group_def *g = ts_calloc(1, sizeof(*g));
	if (!g || !(g->file = ts_strdup(c->name))) {
		ts_free(g);
		c->is_nomem = true;
		return NULL;
	}
	if (m->type != TS_YAML_MAP) {
		add_error(c, TS_EINVAL, m, "a group must be a mapping");
		return g;
	}
	const ts_yaml_node *rules = NULL;
	for (size_t i = 0; i < m->n; i++) {
		const char *k = key_of(m, i);
		const ts_yaml_node *v = m->items[i];
		if (!strcmp(k, "name")) {
			const char *s = scalar_str(c, v, "name");
			if (s)
				g->name = dup_or_nomem(c, s);
		} else if (!strcmp(k, "interval")) {
			duration(c, v, "interval", &g->interval_ms);
		} else if (!strcmp(k, "limit")) {
			if (ts_yaml_is_null(v))
				continue;
			ts_err e = {0};
			if (ts_yaml_int(c->d, v, "limit", INT32_MIN, INT32_MAX, &g->limit, &e))
				add_error(c, TS_EINVAL, v, "limit: expected an integer, got '%s'",
					  v->type == TS_YAML_SCALAR ? v->scalar : "");
		} else if (!strcmp(k, "rules")) {
			rules = v;
		} else {
			add_error(c, TS_EINVAL, m->keys[i],
				  "field %s not found in type rulefmt.RuleGroup", k);
		}
	}
	if (!g->name)
		g->name = dup_or_nomem(c, "");
	/* Prometheus' group checks come before its rules' */
	if (g->name && !*g->name)
		add_error(c, TS_EINVAL, m, "Groupname must not be empty");
	for (size_t j = 0; g->name && *g->name && j < idx; j++) {
		const ts_yaml_node *o = root_seq->items[j];
		const ts_yaml_node *on = o->type == TS_YAML_MAP ? ts_yaml_get(o, "name") : NULL;
		if (on && on->type == TS_YAML_SCALAR && !strcmp(on->scalar, g->name)) {
			add_error(c, TS_EINVAL, m, "groupname: \"%s\" is repeated in the same file",
				  g->name);
			break;
		}
	}
	if (!rules || ts_yaml_is_null(rules))
		return g;
	if (rules->type != TS_YAML_SEQ) {
		add_error(c, TS_EINVAL, rules, "rules: expected a list of rules");
		return g;
	}
	g->rules = ts_calloc(rules->n ? rules->n : 1, sizeof(*g->rules));
	if (!g->rules) {
		c->is_nomem = true;
		return g;
	}
	c->group = g->name ? g->name : "";
	for (size_t i = 0; i < rules->n && !c->is_nomem; i++) {
		c->rule_idx = i + 1;
		c->rule_name = NULL;
		g->n_rules++;
		parse_rule(c, rules->items[i], &g->rules[i]);
	}
	c->group = NULL;
	return g;
}

int alert_rule_file_parse(const char *name, const char *text, size_t len, alert_rule_file **out,
			  alert_rule_errors *errs, ts_err *err)
{
	ts_yaml_doc *d = NULL;
	ts_err yerr = {0};
	int rc = ts_yaml_parse(name, text, len, &d, &yerr);
	if (rc) {
		ts_err_set(err, rc, "%s", yerr.msg);
		if (rc != TS_ENOMEM && !errs_push(errs, yerr.msg))
			return ts_err_set(err, TS_ENOMEM, "%s: out of memory", name);
		return rc;
	}
	pctx c = {.d = d, .name = name, .errs = errs, .err = err};
	alert_rule_file *f = ts_calloc(1, sizeof(*f));
	if (!f || !(f->path = ts_strdup(name))) {
		c.is_nomem = true;
		goto out;
	}
	const ts_yaml_node *root = ts_yaml_root(d);
	if (!root || ts_yaml_is_null(root))
		goto out; /* an empty file has no rules, as in Prometheus */
	if (root->type != TS_YAML_MAP) {
		add_error(&c, TS_EINVAL, root, "a rule file must be a mapping with a 'groups' key");
		goto out;
	}
	const ts_yaml_node *groups = NULL;
	for (size_t i = 0; i < root->n; i++) {
		if (!strcmp(key_of(root, i), "groups"))
			groups = root->items[i];
		else
			add_error(&c, TS_EINVAL, root->keys[i],
				  "field %s not found in type rulefmt.RuleGroups", key_of(root, i));
	}
	if (!groups || ts_yaml_is_null(groups))
		goto out;
	if (groups->type != TS_YAML_SEQ) {
		add_error(&c, TS_EINVAL, groups, "groups: expected a list of groups");
		goto out;
	}
	f->groups = ts_calloc(groups->n ? groups->n : 1, sizeof(*f->groups));
	if (!f->groups) {
		c.is_nomem = true;
		goto out;
	}
	for (size_t i = 0; i < groups->n && !c.is_nomem; i++) {
		alert_group_def *g = parse_group(&c, groups->items[i], groups, i);
		if (!g)
			break;
		f->groups[f->n_groups++] = g;
		f->n_rules += g->n_rules;
	}
out:
	ts_yaml_free(d);
	if (c.is_nomem) {
		alert_rule_file_free(f);
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", name);
	}
	if (c.n_errs) {
		if (c.n_errs > 1 && err) {
			size_t l = strlen(err->msg);
			snprintf(err->msg + l, sizeof(err->msg) - l, " (and %zu more errors)",
				 c.n_errs - 1);
		}
		alert_rule_file_free(f);
		return c.first_code;
	}
	*out = f;
	return TS_OK;
}

int alert_rule_file_load(const char *path, alert_rule_file **out, alert_rule_errors *errs,
			 ts_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		goto io;
	ts_buf b;
	ts_buf_init(&b, (size_t)64 << 20);
	char chunk[65536];
	size_t got;
	int rc = TS_OK;
	while (rc == TS_OK && (got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		rc = ts_buf_append(&b, chunk, got);
	bool is_err = ferror(fp);
	fclose(fp);
	if (rc) {
		ts_buf_free(&b);
		return ts_err_set(err, rc, "%s: %s", path,
				  rc == TS_ELIMIT ? "larger than 64 MiB" : "out of memory");
	}
	if (is_err) {
		ts_buf_free(&b);
		goto io;
	}
	rc = alert_rule_file_parse(path, b.data ? b.data : "", b.len, out, errs, err);
	ts_buf_free(&b);
	return rc;
io:;
	char msg[TS_ERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
	if (!errs_push(errs, msg))
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
	return ts_err_set(err, TS_EIO, "%s", msg);
}

/* ================================================================ strata rules check */

int alert_rules_check_files(char *const *paths, size_t n, FILE *out, FILE *errout)
{
	bool failed = false;
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "Checking %s\n", paths[i]);
		fflush(out);
		alert_rule_file *f = NULL;
		alert_rule_errors errs = {0};
		ts_err err = {0};
		int rc = alert_rule_file_load(paths[i], &f, &errs, &err);
		if (rc == TS_OK) {
			fprintf(out, "  SUCCESS: %zu rules found\n", f->n_rules);
		} else {
			failed = true;
			fprintf(errout, "  FAILED:\n");
			if (errs.n == 0)
				fprintf(errout, "%s\n", err.msg);
			for (size_t k = 0; k < errs.n; k++)
				fprintf(errout, "%s\n", errs.msgs[k]);
			fflush(errout);
		}
		fprintf(out, "\n");
		fflush(out);
		alert_rule_errors_fini(&errs);
		alert_rule_file_free(f);
	}
	return failed ? 1 : 0;
}
