/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_template.c: unit tests of alert templates (alert/template*.c).
 *
 * The expansions are checked against Prometheus itself: tests/data/alert/
 * template_oracle.inc holds what Prometheus 2.42 produced for every template in
 * template_cases.py (values, labels, every function, printf verbs, control structures,
 * variables, trimming, define/template/block, the query functions and execution errors
 * with Go's messages and positions). Parse errors are checked against promtool's verdicts
 * and messages (with the column Strata adds). Also: allocation failures at every step,
 * the output bound, deep nesting, and Go's float formats.
 */
#include "alert/template_int.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct oracle_case {
	const char *name;
	double value;
	const char *text;
	const char *want;
} oracle_case;

static const oracle_case oracle[] = {
#include "../data/alert/template_oracle.inc"
};

static const ts_label labels[] = {{"instance", "host-1.example.com:9100"}, {"job", "node"}};
static const ts_label ext[] = {{"cluster", "eu-1"}, {"replica", "a"}};

typedef struct fixture {
	tsdb_db *db;
	query_engine *eng;
} fixture;

static int run_query(void *ctx, const char *expr, int64_t t_ms, query_result **out, ts_err *err)
{
	fixture *f = ctx;
	return query_instant(f->eng, expr, strlen(expr), t_ms, out, err);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	tsdb_options o;
	tsdb_options_init(&o);
	if (tsdb_open(&o, &f->db, NULL))
		return -1;
	query_options q;
	query_options_init(&q);
	q.db = f->db;
	if (query_engine_new(&q, &f->eng, NULL))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	query_engine_free(f->eng);
	tsdb_close(f->db);
	free(f);
	ts_alloc_fail_after(-1);
	return 0;
}

static alert_template_data data_for(fixture *f, double v)
{
	alert_template_data d = {
	    .labels = labels,
	    .n_labels = 2,
	    .external_labels = ext,
	    .n_external_labels = 2,
	    .external_url = "http://prom.example.com:9090/prefix",
	    .value = v,
	    .t_ms = 1700000000000,
	    .query = run_query,
	    .query_ctx = f,
	};
	return d;
}

/* Parse and expand like rule evaluation; returns a malloc'ed string. */
static char *expand(fixture *f, const char *name, const char *text, double v)
{
	alert_template *t = NULL;
	ts_err err = {0};
	int rc = alert_template_parse(name, text, strlen(text), &t, &err);
	if (rc)
		fail_msg("%s: parse failed: %s", text, err.msg);
	alert_template_data d = data_for(f, v);
	ts_buf out;
	ts_buf_init(&out, 1 << 20);
	alert_template_expand_or_error(t, &d, &out, &err);
	char *s = strdup(out.data ? out.data : "");
	ts_buf_free(&out);
	alert_template_free(t);
	return s;
}

/* ================================================================ expansion */

static void test_alert_template_expand_matches_prometheus(void **state)
{
	fixture *f = *state;
	int bad = 0;
	for (size_t i = 0; i < sizeof(oracle) / sizeof(oracle[0]); i++) {
		const oracle_case *c = &oracle[i];
		char *got = expand(f, c->name, c->text, c->value);
		if (strcmp(got, c->want)) {
			print_error("case %zu: %s\n  want: %s\n  got:  %s\n", i, c->text, c->want,
				    got);
			bad++;
		}
		free(got);
	}
	assert_int_equal(bad, 0);
}

static void test_alert_template_expand_static_and_empty(void **state)
{
	fixture *f = *state;
	assert_true(alert_template_is_static("no action here", 14));
	assert_true(alert_template_is_static("{ {", 3));
	assert_false(alert_template_is_static("a {{ x", 6));
	char *s = expand(f, "__alert_T", "", 1);
	assert_string_equal(s, "");
	free(s);
	s = expand(f, "__alert_T", "{{/* only a comment */}}", 1);
	assert_string_equal(s, "");
	free(s);
	s = expand(f, "__alert_T", "x {{- /* trimmed */ -}} y", 1);
	assert_string_equal(s, "xy");
	free(s);
}

static void test_alert_template_expand_labels_any_order(void **state)
{
	fixture *f = *state;
	static const ts_label unsorted[] = {{"z", "1"}, {"a", "2"}, {"m", "3"}};
	alert_template *t = NULL;
	const char *text = "{{ range $k, $v := $labels }}{{ $k }}{{ $v }}{{ end }} {{ $labels }}";
	assert_int_equal(alert_template_parse("__alert_T", text, strlen(text), &t, NULL), TS_OK);
	alert_template_data d = data_for(f, 1);
	d.labels = unsorted;
	d.n_labels = 3;
	ts_buf out;
	ts_buf_init(&out, 4096);
	assert_int_equal(alert_template_expand(t, &d, &out, NULL), TS_OK);
	assert_string_equal(out.data, "a2m3z1 map[a:2 m:3 z:1]");
	ts_buf_free(&out);
	alert_template_free(t);
}

static void test_alert_template_expand_error_leaves_output(void **state)
{
	fixture *f = *state;
	alert_template *t = NULL;
	const char *text = "before {{ humanize \"x\" }} after";
	assert_int_equal(alert_template_parse("__alert_T", text, strlen(text), &t, NULL), TS_OK);
	alert_template_data d = data_for(f, 1);
	ts_buf out;
	ts_buf_init(&out, 4096);
	ts_buf_puts(&out, "keep");
	ts_err err = {0};
	assert_int_equal(alert_template_expand(t, &d, &out, &err), TS_EINVAL);
	assert_string_equal(out.data, "keep");
	assert_non_null(strstr(err.msg, "at <humanize \"x\">: error calling humanize: "
					"strconv.ParseFloat: parsing \"x\": invalid syntax"));
	/* no query engine: `query` fails at execution, never crashes */
	alert_template_free(t);
	text = "{{ query \"up\" }}";
	assert_int_equal(alert_template_parse("__alert_T", text, strlen(text), &t, NULL), TS_OK);
	d.query = NULL;
	assert_int_equal(alert_template_expand(t, &d, &out, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "error calling query: no query engine"));
	alert_template_free(t);
	/* unsupported functions parse but fail at execution */
	text = "{{ reReplaceAll \"a\" \"b\" \"c\" }}";
	assert_int_equal(alert_template_parse("__alert_T", text, strlen(text), &t, NULL), TS_OK);
	assert_int_equal(alert_template_expand(t, &d, &out, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "not supported by Strata"));
	alert_template_free(t);
	ts_buf_free(&out);
}

static void test_alert_template_expand_output_limit(void **state)
{
	fixture *f = *state;
	/* 26 nested ranges over 2 labels would print 2^26 times: bounded by the output limit */
	ts_buf text;
	ts_buf_init(&text, 1 << 20);
	for (int i = 0; i < 26; i++)
		ts_buf_puts(&text, "{{ range $labels }}");
	ts_buf_puts(&text, "xxxxxxxx");
	for (int i = 0; i < 26; i++)
		ts_buf_puts(&text, "{{ end }}");
	char *s = expand(f, "__alert_T", text.data, 1);
	assert_non_null(strstr(s, "<error expanding template: "));
	assert_non_null(strstr(s, "output longer than"));
	free(s);
	ts_buf_free(&text);
	/* {{template}} recursion is bounded */
	s = expand(f, "__alert_T",
		   "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" }}", 1);
	assert_non_null(strstr(s, "exceeded maximum template depth (100)"));
	free(s);
	/* printf widths are bounded, not trusted */
	s = expand(f, "__alert_T", "{{ printf \"%999999d\" 1 | len }}", 1);
	assert_string_equal(s, "10000");
	free(s);
}

/* ================================================================ parse errors */

typedef struct parse_case {
	const char *text;
	const char *want; /* full message after "template: __alert_A:" */
} parse_case;

/* Verdicts and messages of promtool 2.42 (Strata adds the column). */
static const parse_case parse_errors[] = {
    {"{{ $x }}", "1:4: undefined variable \"$x\""},
    {"{{ end }}", "1:4: unexpected {{end}}"},
    {"{{", "1:1: unclosed action"},
    {"{{ foo }}", "1:4: function \"foo\" not defined"},
    {"{{ break }}", "1:10: {{break}} outside {{range}}"},
    {"{{ continue }}", "1:13: {{continue}} outside {{range}}"},
    {"{{ \"a\" | 1 }}", "1:12: non executable command in pipeline stage 2"},
    {"{{ if true }}x", "1:15: unexpected EOF"},
    {"{{ else }}", "1:4: unexpected {{else}}"},
    {"{{ range }}{{ end }}", "1:10: missing value for range"},
    {"{{ $labels. }}", "1:11: unexpected <.> in operand"},
    {"{{ \"abc }}", "1:4: unterminated quoted string"},
    {"{{ 1.2.3 }}", "1:7: unexpected \".3\" in operand"},
    {"{{ ( 1 }}", "1:8: unclosed left paren"},
    {"{{ ) }}", "1:4: unexpected \")\" in command"},
    {"{{ with $x := 1 }}{{ $x }}{{ end }}{{ $x }}", "1:39: undefined variable \"$x\""},
    {"{{ if 1 }}{{ else }}{{ else }}{{ end }}", "1:24: expected end; found {{else}}"},
    {"{{ -}}", "1:5: missing value for command"},
    {"{{ | }}", "1:4: unexpected \"|\" in command"},
    {"{{ }}", "1:4: missing value for command"},
    {"{{ .Labels. }}", "1:11: unexpected <.> in operand"},
    {"{{ 'ab' }}", "1:4: malformed character constant: 'ab'"},
    {"{{ .Labels.a-b }}", "1:13: bad character U+002D '-'"},
    {"{{ range $a, $b, $c := $labels }}{{ end }}", "1:16: too many declarations in range"},
    {"{{ /* x */ }}", "1:4: unexpected \"/\" in command"},
    {"{{/* x */}}{{/* unclosed }}", "1:14: unclosed comment"},
    {"{{ $value | humanizee }}", "1:13: function \"humanizee\" not defined"},
    {"{{ 1 | printf }}\n{{ nope }}", "2:4: function \"nope\" not defined"},
    {"{{ define \"x\" }}{{ $labels }}{{ end }}", "1:20: undefined variable \"$labels\""},
    {"{{ template 1 }}", "1:13: unexpected \"1\" in template clause"},
    {"{{ \"\\q\" }}", "1:4: invalid syntax"},
    {"{{ 0x }}", "1:4: illegal number syntax: \"0x\""},
    {"{{ 1a }}", "1:4: bad number syntax: \"1a\""},
    {"{{ $x := 1 }}{{ $x :x }}", "1:20: expected :="},
    {"{{ \"a\".b }}", "1:7: unexpected . after term \"\\\"a\\\"\""},
    {"{{ 99999999999999999999 }}", "1:4: integer overflow: \"99999999999999999999\""},
};

static void test_alert_template_parse_errors(void **state)
{
	int bad = 0;
	for (size_t i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++) {
		const parse_case *c = &parse_errors[i];
		alert_template *t = (alert_template *)0x1;
		ts_err err = {0};
		int rc = alert_template_parse("__alert_A", c->text, strlen(c->text), &t, &err);
		char want[300];
		snprintf(want, sizeof(want), "template: __alert_A:%s", c->want);
		if (rc != TS_EPARSE || t != (alert_template *)0x1 || strcmp(err.msg, want)) {
			print_error("%s\n  want: %s\n  got:  %s (%s)\n", c->text, want, err.msg,
				    ts_err_name(rc));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Templates promtool accepts (some fail only at execution). */
static void test_alert_template_parse_accepts(void **state)
{
	static const char *const ok[] = {
	    "{{ $y = 2 }}",
	    "{{ 1 2 }}",
	    "{{ printf }}",
	    "{{ (1) }}",
	    "{{ . | }}",
	    "{{ nil }}",
	    "{{ 'a' }}",
	    "{{ $labels.x.y }}",
	    "{{ $ }}{{ $.Labels }}",
	    "{{ and }}",
	    "{{-3}}",
	    "{{- 3 -}}",
	    "{{ $value := 3 }}",
	    "{{ range $labels }}{{ break }}{{ end }}",
	    "{{ query \"up\" | first | value }}",
	    "{{ define \"x\" }}a{{ end }}{{ template \"x\" }}",
	    "{{ range $i, $e := $labels }}{{ else }}none{{ end }}",
	    "{{ if 1 }}a{{ else if 2 }}b{{ else if 3 }}c{{ else }}d{{ end }}",
	    "{{ 1+2i }}",
	    "{{ 0x1p-2 }} {{ 0b101 }} {{ 0o17 }} {{ 1_000 }}",
	    "{{ with $x := $labels.job }}{{ $x }}{{ end }}",
	    "{{ \"\\u00e9\\x41\\101\" }}",
	    "{{ `raw\n` }}",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		alert_template *t = NULL;
		ts_err err = {0};
		int rc = alert_template_parse("__alert_A", ok[i], strlen(ok[i]), &t, &err);
		if (rc)
			fail_msg("%s: %s", ok[i], err.msg);
		alert_template_free(t);
	}
}

static void test_alert_template_parse_limits(void **state)
{
	ts_buf text;
	ts_buf_init(&text, 1 << 20);
	for (int i = 0; i < 150; i++)
		ts_buf_puts(&text, "{{ if true }}");
	for (int i = 0; i < 150; i++)
		ts_buf_puts(&text, "{{ end }}");
	alert_template *t = NULL;
	ts_err err = {0};
	assert_int_equal(alert_template_parse("__alert_A", text.data, text.len, &t, &err),
			 TS_ELIMIT);
	assert_non_null(strstr(err.msg, "nesting deeper than 100"));
	ts_buf_reset(&text);
	ts_buf_puts(&text, "{{ ");
	for (int i = 0; i < 150; i++)
		ts_buf_putc(&text, '(');
	ts_buf_puts(&text, "1");
	for (int i = 0; i < 150; i++)
		ts_buf_putc(&text, ')');
	ts_buf_puts(&text, " }}");
	assert_int_equal(alert_template_parse("__alert_A", text.data, text.len, &t, &err),
			 TS_ELIMIT);
	ts_buf_free(&text);
	char *big = calloc(1, ALERT_TEMPLATE_MAX_TEXT + 2);
	memset(big, 'x', ALERT_TEMPLATE_MAX_TEXT + 1);
	assert_int_equal(alert_template_parse("__alert_A", big, strlen(big), &t, &err), TS_ELIMIT);
	free(big);
}

/* ================================================================ allocation failures */

static void test_alert_template_alloc_failures(void **state)
{
	fixture *f = *state;
	const char *text = "{{ range $k, $v := $labels }}{{ $k | toUpper }}={{ printf \"%q\" $v }} "
			   "{{ end }}{{ $value | humanize }} {{ with query \"vector(2)\" }}"
			   "{{ . | first | value }}{{ end }}";
	alert_template_data d = data_for(f, 42);
	bool done = false;
	for (int64_t n = 0; n < 10000 && !done; n++) {
		alert_template *t = NULL;
		ts_buf out;
		ts_buf_init(&out, 1 << 16);
		ts_alloc_fail_after(n);
		int rc = alert_template_parse("__alert_A", text, strlen(text), &t, NULL);
		if (rc == TS_OK)
			rc = alert_template_expand(t, &d, &out, NULL);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			assert_string_equal(out.data, "INSTANCE=\"host-1.example.com:9100\" "
						      "JOB=\"node\" 42 2");
			done = true;
		} else {
			assert_true(rc == TS_ENOMEM || rc == TS_EINVAL);
		}
		alert_template_free(t);
		ts_buf_free(&out);
	}
	assert_true(done);
}

/* ================================================================ number formats */

static void test_alert_format_float(void **state)
{
	static const struct {
		double v;
		const char *g, *e;
	} c[] = {
	    {0, "0", "0e+00"},
	    {1, "1", "1e+00"},
	    {-1.5, "-1.5", "-1.5e+00"},
	    {42, "42", "4.2e+01"},
	    {0.1, "0.1", "1e-01"},
	    {123456, "123456", "1.23456e+05"},
	    {1234567, "1.234567e+06", "1.234567e+06"},
	    {1e6, "1e+06", "1e+06"},
	    {0.0001, "0.0001", "1e-04"},
	    {0.00001, "1e-05", "1e-05"},
	    {1e21, "1e+21", "1e+21"},
	    {5e-324, "5e-324", "5e-324"},
	    {INFINITY, "+Inf", "+Inf"},
	    {-INFINITY, "-Inf", "-Inf"},
	    {NAN, "NaN", "NaN"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char out[ALERT_FLOAT_TEXT_MAX];
		alert_format_float(out, c[i].v);
		assert_string_equal(out, c[i].g);
		alert_format_float_e(out, c[i].v);
		assert_string_equal(out, c[i].e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_template_expand_matches_prometheus),
	    cmocka_unit_test(test_alert_template_expand_static_and_empty),
	    cmocka_unit_test(test_alert_template_expand_labels_any_order),
	    cmocka_unit_test(test_alert_template_expand_error_leaves_output),
	    cmocka_unit_test(test_alert_template_expand_output_limit),
	    cmocka_unit_test(test_alert_template_parse_errors),
	    cmocka_unit_test(test_alert_template_parse_accepts),
	    cmocka_unit_test(test_alert_template_parse_limits),
	    cmocka_unit_test(test_alert_template_alloc_failures),
	    cmocka_unit_test(test_alert_format_float),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
