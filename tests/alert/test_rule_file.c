/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rule_file.c: unit tests of rule files (alert/rule_file.c).
 *
 * Data-driven: every .yml file in tests/data/alert is checked. A file with a companion
 * <name>.errors must fail with exactly those messages (file:line:col and promtool's
 * wording, one per line, in order); any other must pass with the rule count given by its
 * "# expect: N rules" line. The verdicts agree with `promtool check rules` 2.42 except
 * for bad_expr_type.yml (Strata type-checks expressions; see the file).
 * Also: the parsed structure, group equality, the (and N more errors) summary, the
 * `strata rules check` output, allocation failures at every step, and I/O errors.
 */
#include "alert/rules_int.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define DATA_DIR STRATA_SOURCE_DIR "/tests/data/alert"

static int reset(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		if (!got)
			break;
		n += got;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Parse tests/data/alert/<name> under the name <name>. */
static int parse_fixture(const char *name, alert_rule_file **out, alert_rule_errors *errs,
			 ts_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", DATA_DIR, name);
	size_t len = 0;
	char *text = read_all(path, &len);
	assert_non_null(text);
	int rc = alert_rule_file_parse(name, text, len, out, errs, err);
	free(text);
	return rc;
}

static void check_fixture(const char *name, int *bad)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%.*s.errors", DATA_DIR, (int)(strlen(name) - 4), name);
	size_t elen = 0;
	char *expected = read_all(path, &elen);
	alert_rule_file *f = NULL;
	alert_rule_errors errs = {0};
	ts_err err = {0};
	int rc = parse_fixture(name, &f, &errs, &err);
	if (expected) {
		ts_buf got;
		ts_buf_init(&got, 1 << 20);
		for (size_t i = 0; i < errs.n; i++) {
			ts_buf_puts(&got, errs.msgs[i]);
			ts_buf_putc(&got, '\n');
		}
		if (rc == TS_OK || strcmp(got.data ? got.data : "", expected)) {
			print_error("%s: want errors\n%s\ngot (%s)\n%s\n", name, expected,
				    ts_err_name(rc), got.data ? got.data : "");
			(*bad)++;
		}
		if (rc != TS_OK && errs.n) {
			/* err holds the first message, maybe with "(and N more errors)" */
			char first[TS_ERR_MSG_MAX];
			snprintf(first, sizeof(first), "%s", err.msg);
			char *more = strstr(first, " (and ");
			if (more)
				*more = '\0';
			if (strncmp(errs.msgs[0], first, strlen(first))) {
				print_error("%s: err.msg '%s' is not the first error\n", name,
					    err.msg);
				(*bad)++;
			}
		}
		ts_buf_free(&got);
		free(expected);
	} else {
		snprintf(path, sizeof(path), "%s/%s", DATA_DIR, name);
		size_t len = 0;
		char *text = read_all(path, &len);
		const char *e = strstr(text, "# expect: ");
		size_t want = e ? strtoul(e + 10, NULL, 10) : 0;
		if (rc != TS_OK || !e || f->n_rules != want) {
			print_error("%s: want %zu rules, got %s (%s)\n", name, want,
				    ts_err_name(rc), err.msg);
			(*bad)++;
		}
		free(text);
	}
	alert_rule_errors_fini(&errs);
	alert_rule_file_free(f);
}

static void test_alert_rule_file_fixtures(void **state)
{
	DIR *d = opendir(DATA_DIR);
	assert_non_null(d);
	int bad = 0, n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".yml"))
			continue;
		check_fixture(e->d_name, &bad);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
	assert_int_equal(bad, 0);
}

static void test_alert_rule_file_parse_structure(void **state)
{
	alert_rule_file *f = NULL;
	ts_err err = {0};
	assert_int_equal(parse_fixture("good_basic.yml", &f, NULL, &err), TS_OK);
	assert_int_equal(f->n_groups, 2);
	assert_int_equal(f->n_rules, 6);
	const alert_group_def *g = f->groups[0];
	assert_string_equal(g->name, "node");
	assert_string_equal(g->file, "good_basic.yml");
	assert_int_equal(g->interval_ms, 30000);
	assert_int_equal(g->limit, 0);
	assert_int_equal(g->n_rules, 3);
	assert_false(g->rules[0].is_alert);
	assert_string_equal(g->rules[0].name, "instance:node_cpu:rate5m");
	assert_string_equal(g->rules[1].labels[0].name, "team");
	const alert_rule_def *a = &g->rules[2];
	assert_true(a->is_alert);
	assert_string_equal(a->name, "InstanceDown");
	assert_string_equal(a->expr, "up == 0");
	assert_int_equal(a->for_ms, 300000);
	assert_int_equal(a->line, 13);
	assert_int_equal(a->column, 9);
	/* annotations sorted by name; templated values have a parsed template */
	assert_int_equal(a->n_annotations, 2);
	assert_string_equal(a->annotations[0].name, "description");
	assert_string_equal(a->annotations[1].name, "summary");
	assert_non_null(a->annotation_tmpls[0]);
	assert_null(a->label_tmpls[0]); /* severity: page is static */
	g = f->groups[1];
	assert_int_equal(g->interval_ms, 0); /* the global interval applies */
	assert_int_equal(g->limit, 100);
	assert_int_equal(g->rules[0].keep_firing_for_ms, 300000);
	assert_non_null(g->rules[0].label_tmpls[0]);
	assert_string_equal(g->rules[2].expr, "42");
	alert_rule_file_free(f);
}

static void test_alert_group_def_equal(void **state)
{
	alert_rule_file *a = NULL, *b = NULL;
	assert_int_equal(parse_fixture("good_basic.yml", &a, NULL, NULL), TS_OK);
	assert_int_equal(parse_fixture("good_basic.yml", &b, NULL, NULL), TS_OK);
	assert_true(alert_group_def_equal(a->groups[0], b->groups[0]));
	assert_false(alert_group_def_equal(a->groups[0], b->groups[1]));
	b->groups[0]->rules[2].for_ms++;
	assert_false(alert_group_def_equal(a->groups[0], b->groups[0]));
	b->groups[0]->rules[2].for_ms--;
	ts_free((char *)b->groups[0]->rules[2].annotations[1].value);
	b->groups[0]->rules[2].annotations[1].value = ts_strdup("changed");
	assert_false(alert_group_def_equal(a->groups[0], b->groups[0]));
	b->groups[1]->limit = 7;
	assert_false(alert_group_def_equal(a->groups[1], b->groups[1]));
	alert_rule_file_free(a);
	alert_rule_file_free(b);
}

static void test_alert_rule_file_parse_errors_summary(void **state)
{
	alert_rule_file *f = (alert_rule_file *)0x1;
	ts_err err = {0};
	int rc = parse_fixture("bad_validation.yml", &f, NULL, &err);
	assert_int_equal(rc, TS_EINVAL);
	assert_ptr_equal(f, (alert_rule_file *)0x1);
	assert_string_equal(err.msg, "bad_validation.yml:5:17: group \"g1\", rule 1, "
				     "\"job:up:sum\": invalid field 'for' in recording rule (and "
				     "12 more errors)");
	rc = parse_fixture("bad_yaml.yml", &f, NULL, &err);
	assert_int_equal(rc, TS_EPARSE);
	assert_non_null(strstr(err.msg, "bad_yaml.yml:6:1: "));
	/* inline text: a template error in a label */
	const char *text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n"
			   "    labels:\n      x: '{{ .Nope'\n";
	rc = alert_rule_file_parse("inline.yml", text, strlen(text), &f, NULL, &err);
	assert_int_equal(rc, TS_EINVAL);
	assert_string_equal(err.msg, "inline.yml:7:10: group \"g\", rule 1, \"A\": label \"x\": "
				     "template: __alert_A:1:1: unclosed action");
}

static void test_alert_rule_file_load_io(void **state)
{
	alert_rule_file *f = NULL;
	alert_rule_errors errs = {0};
	ts_err err = {0};
	assert_int_equal(alert_rule_file_load(DATA_DIR "/does-not-exist.yml", &f, &errs, &err),
			 TS_EIO);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], "does-not-exist.yml: No such file or directory"));
	alert_rule_errors_fini(&errs);
	assert_int_equal(alert_rule_file_load(DATA_DIR "/good_basic.yml", &f, NULL, &err), TS_OK);
	assert_string_equal(f->groups[0]->file, DATA_DIR "/good_basic.yml");
	alert_rule_file_free(f);
}

static void test_alert_rules_check_files_output(void **state)
{
	char *out_s = NULL, *err_s = NULL;
	size_t out_n = 0, err_n = 0;
	FILE *out = open_memstream(&out_s, &out_n);
	FILE *errf = open_memstream(&err_s, &err_n);
	char *paths[] = {DATA_DIR "/good_basic.yml", DATA_DIR "/bad_root.yml"};
	assert_int_equal(alert_rules_check_files(paths, 2, out, errf), 1);
	fclose(out);
	fclose(errf);
	assert_string_equal(out_s, "Checking " DATA_DIR "/good_basic.yml\n"
				   "  SUCCESS: 6 rules found\n\n"
				   "Checking " DATA_DIR "/bad_root.yml\n\n");
	assert_string_equal(err_s, "  FAILED:\n" DATA_DIR
				   "/bad_root.yml:4:1: field extra not found in type "
				   "rulefmt.RuleGroups\n");
	free(out_s);
	free(err_s);
	out = open_memstream(&out_s, &out_n);
	errf = open_memstream(&err_s, &err_n);
	assert_int_equal(alert_rules_check_files(paths, 1, out, errf), 0);
	fclose(out);
	fclose(errf);
	assert_string_equal(err_s, "");
	free(out_s);
	free(err_s);
}

static void test_alert_rule_file_alloc_failures(void **state)
{
	static const char *const names[] = {"good_templates.yml", "bad_validation.yml",
					    "bad_types.yml"};
	for (size_t k = 0; k < 3; k++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", DATA_DIR, names[k]);
		size_t len = 0;
		char *text = read_all(path, &len);
		int want = -1;
		bool done = false;
		for (int64_t n = 0; n < 100000 && !done; n++) {
			alert_rule_file *f = NULL;
			alert_rule_errors errs = {0};
			ts_alloc_fail_after(n);
			int rc = alert_rule_file_parse(names[k], text, len, &f, &errs, NULL);
			ts_alloc_fail_after(-1);
			if (rc != TS_ENOMEM) {
				done = true;
				want = rc;
			}
			alert_rule_errors_fini(&errs);
			alert_rule_file_free(f);
		}
		assert_true(done);
		assert_int_equal(want, k == 0 ? TS_OK : TS_EINVAL);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_alert_rule_file_fixtures, reset),
	    cmocka_unit_test_teardown(test_alert_rule_file_parse_structure, reset),
	    cmocka_unit_test_teardown(test_alert_group_def_equal, reset),
	    cmocka_unit_test_teardown(test_alert_rule_file_parse_errors_summary, reset),
	    cmocka_unit_test_teardown(test_alert_rule_file_load_io, reset),
	    cmocka_unit_test_teardown(test_alert_rules_check_files_output, reset),
	    cmocka_unit_test_teardown(test_alert_rule_file_alloc_failures, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
