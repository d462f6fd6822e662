/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_exposition.c: tests for ingest/exposition.c: Prometheus text 0.0.4 and
 * OpenMetrics 1.0 parsing: metadata, escapes, values and their bits, both timestamp
 * units, exemplars, _created, # EOF rules, every error (line numbers and reasons),
 * limits, the skip-invalid mode, sink aborts, allocation failures, format detection,
 * and the shared node_exporter and NAB data sets (counts from shared/data/README.md).
 *
 * A capturing sink renders each sample as `name{k="v",...} t v` and checks the label
 * invariants the sink contract promises (sorted, unique, __name__ present and valid,
 * valid label names, non-empty UTF-8 values).
 */
#include "ingest/exposition.h"

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#define DEFAULT_T 1700000000000LL
#define CAP_MAX   64

/* ================================================================ capturing sinks */

typedef struct cap_sample {
	char series[512]; /* name{k="v",...} */
	int64_t t_ms;
	double v;
} cap_sample;

typedef struct cap_meta {
	char family[64], type[16], help[128], unit[32];
} cap_meta;

typedef struct capture {
	cap_sample s[CAP_MAX];
	size_t n;
	cap_meta m[CAP_MAX];
	size_t n_meta;
	size_t abort_at; /* return abort_code on this sample (1-based); 0 = never */
	int abort_code;
	int meta_abort_code;
} capture;

static void check_invariants(const ts_label *l, size_t n)
{
	bool has_name = false;
	for (size_t i = 0; i < n; i++) {
		assert_non_null(l[i].name);
		assert_non_null(l[i].value);
		assert_true(l[i].value[0] != '\0');
		assert_true(ts_utf8_valid(l[i].value, strlen(l[i].value)));
		if (i > 0)
			assert_true(strcmp(l[i - 1].name, l[i].name) < 0);
		if (strcmp(l[i].name, TS_METRIC_NAME) == 0) {
			has_name = true;
			assert_true(ts_metric_name_valid(l[i].value, strlen(l[i].value)));
		} else {
			assert_true(ts_label_name_valid(l[i].name, strlen(l[i].name)));
		}
	}
	assert_true(has_name);
}

static int cap_fn(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	capture *c = ctx;
	check_invariants(l, n);
	c->n++;
	if (c->abort_at && c->n == c->abort_at)
		return c->abort_code;
	if (c->n > CAP_MAX)
		return TS_OK;
	cap_sample *s = &c->s[c->n - 1];
	size_t off = (size_t)snprintf(s->series, sizeof(s->series), "%s{",
				      ts_labels_get(l, n, TS_METRIC_NAME));
	bool first = true;
	for (size_t i = 0; i < n && off < sizeof(s->series); i++) {
		if (strcmp(l[i].name, TS_METRIC_NAME) == 0)
			continue;
		off += (size_t)snprintf(s->series + off, sizeof(s->series) - off, "%s%s=\"%s\"",
					first ? "" : ",", l[i].name, l[i].value);
		first = false;
	}
	if (off < sizeof(s->series))
		snprintf(s->series + off, sizeof(s->series) - off, "}");
	s->t_ms = t_ms;
	s->v = v;
	return TS_OK;
}

static int meta_fn(void *ctx, const char *family, const char *type, const char *help,
		   const char *unit)
{
	capture *c = ctx;
	assert_non_null(family);
	assert_non_null(type);
	assert_non_null(help);
	assert_non_null(unit);
	if (c->meta_abort_code)
		return c->meta_abort_code;
	if (c->n_meta < CAP_MAX) {
		cap_meta *m = &c->m[c->n_meta];
		snprintf(m->family, sizeof(m->family), "%s", family);
		snprintf(m->type, sizeof(m->type), "%s", type);
		snprintf(m->help, sizeof(m->help), "%s", help);
		snprintf(m->unit, sizeof(m->unit), "%s", unit);
	}
	c->n_meta++;
	return TS_OK;
}

static uint64_t bits(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

/* Parse a NUL-terminated body; the capture is reset first. */
static int parse(const char *body, ingest_expo_format fmt, unsigned flags, capture *c,
		 ingest_expo_result *res, ts_err *err)
{
	memset(c, 0, sizeof(*c));
	ts_err_clear(err);
	return ingest_exposition_parse(body, strlen(body), fmt, flags, DEFAULT_T, NULL, cap_fn,
				       meta_fn, c, res, err);
}

/* The body must fail with `code` and a message containing `msg`. */
static void expect_fail(const char *body, ingest_expo_format fmt, int code, const char *msg)
{
	static capture c;
	ts_err err;
	ingest_expo_result res;
	int rc = parse(body, fmt, 0, &c, &res, &err);
	if (rc != code || !strstr(err.msg, msg))
		print_error("body %s: rc %d msg '%s', want %d '%s'\n", body, rc, err.msg, code,
			    msg);
	assert_int_equal(rc, code);
	assert_non_null(strstr(err.msg, msg));
}

/* ================================================================ 0.0.4 */

static void test_ingest_exposition_parse_004_basic(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	const char *body = "# HELP http_requests_total The total number of HTTP requests.\n"
			   "# TYPE http_requests_total counter\n"
			   "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
			   "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
			   "\n"
			   "# A normal comment\n"
			   "#another comment\n"
			   "metric_without_timestamp_and_labels 12.47\n"
			   "  \t indented{ a = \"1\" , b=\"2\", } \t 7 \t 42  \n"
			   "no_newline_at_end 1";
	assert_int_equal(parse(body, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_TEXT_004);
	assert_int_equal(res.n_samples, 5);
	assert_int_equal(c.n, 5);
	assert_int_equal(res.n_lines, 10);
	assert_string_equal(c.s[0].series, "http_requests_total{code=\"200\",method=\"post\"}");
	assert_int_equal(c.s[0].t_ms, 1395066363000LL);
	assert_true(c.s[0].v == 1027);
	assert_true(c.s[1].v == 3);
	assert_string_equal(c.s[2].series, "metric_without_timestamp_and_labels{}");
	assert_int_equal(c.s[2].t_ms, DEFAULT_T);
	assert_true(c.s[2].v == 12.47);
	assert_string_equal(c.s[3].series, "indented{a=\"1\",b=\"2\"}");
	assert_int_equal(c.s[3].t_ms, 42);
	assert_string_equal(c.s[4].series, "no_newline_at_end{}");
	assert_int_equal(res.n_metadata, 1);
	assert_int_equal(c.n_meta, 1);
	assert_string_equal(c.m[0].family, "http_requests_total");
	assert_string_equal(c.m[0].type, "counter");
	assert_string_equal(c.m[0].help, "The total number of HTTP requests.");
	assert_string_equal(c.m[0].unit, "");
}

static void test_ingest_exposition_parse_004_metadata(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	const char *body = "# HELP a Help with \\\\ and \\n and \\\" kept.\n"
			   "# TYPE a untyped\n"
			   "a 1\n"
			   "# TYPE b gauge\n"
			   "b 2\n"
			   "# HELP c\n"
			   "#\tHELP\td\t tabbed\n"
			   "# TYPE e  summary  \n"
			   "# TYPE f histogram\n"
			   "f_bucket{le=\"+Inf\"} 3\n"
			   "f_sum 4\n"
			   "f_count 3\n";
	assert_int_equal(parse(body, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_metadata, 6);
	assert_int_equal(c.n_meta, 6);
	assert_string_equal(c.m[0].family, "a");
	assert_string_equal(c.m[0].type, "unknown"); /* untyped -> unknown, as Prometheus */
	assert_string_equal(c.m[0].help, "Help with \\ and \n and \\\" kept.");
	assert_string_equal(c.m[1].family, "b");
	assert_string_equal(c.m[1].type, "gauge");
	assert_string_equal(c.m[1].help, "");
	assert_string_equal(c.m[2].family, "c");
	assert_string_equal(c.m[2].type, "unknown");
	assert_string_equal(c.m[3].family, "d");
	assert_string_equal(c.m[3].help, " tabbed");
	assert_string_equal(c.m[4].type, "summary");
	assert_string_equal(c.m[5].type, "histogram");
	/* Histogram sample names are untouched. */
	assert_string_equal(c.s[2].series, "f_bucket{le=\"+Inf\"}");
	assert_string_equal(c.s[3].series, "f_sum{}");
	assert_string_equal(c.s[4].series, "f_count{}");
	/* Without a metadata sink the families are still counted. */
	assert_int_equal(ingest_exposition_parse(body, strlen(body), INGEST_EXPO_TEXT_004, 0, 0,
						 NULL, cap_fn, NULL, &c, &res, NULL),
			 TS_OK);
	assert_int_equal(res.n_metadata, 6);
}

static void test_ingest_exposition_parse_label_escapes(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	const char *body =
	    "m{path=\"C:\\\\dir\\\\\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\",t=\"\\t\"} 1\n";
	assert_int_equal(parse(body, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
	assert_string_equal(c.s[0].series,
			    "m{nl=\"a\nb\",path=\"C:\\dir\\\",q=\"say \"hi\"\",t=\"\\t\"}");
	/* UTF-8 passes; empty values drop the label; unsorted labels are sorted. */
	body = "m{z=\"\xc3\xa9t\xc3\xa9\",empty=\"\",a=\"x\"} 2\n";
	assert_int_equal(parse(body, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
	assert_string_equal(c.s[0].series, "m{a=\"x\",z=\"\xc3\xa9t\xc3\xa9\"}");
}

static void test_ingest_exposition_parse_values(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		double v;
	} ok[] = {
	    {"0", 0},
	    {"-1.5", -1.5},
	    {"1e3", 1000},
	    {"1E+03", 1000},
	    {".5", 0.5},
	    {"1.", 1},
	    {"+2", 2},
	    {"2.5305e-05", 2.5305e-05},
	    {"1.795231500004e+09", 1.795231500004e+09},
	    {"123456789012345678901234567890", 123456789012345678901234567890.0},
	    {"0.1", 0.1},
	    {"4.9e-324", 4.9e-324},
	    {"1e-400", 0},
	    {"1.7976931348623157e308", 1.7976931348623157e308},
	    {"9007199254740993", 9007199254740993.0},
	};
	static capture c;
	ingest_expo_result res;
	ts_err err;
	char body[128];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(body, sizeof(body), "m %s\n", ok[i].text);
		assert_int_equal(parse(body, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
		if (bits(c.s[0].v) != bits(ok[i].v))
			print_error("%s: got %.17g\n", ok[i].text, c.s[0].v);
		assert_true(bits(c.s[0].v) == bits(ok[i].v));
		assert_true(bits(strtod(ok[i].text, NULL)) == bits(c.s[0].v));
	}
	assert_int_equal(parse("m -0\n", INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
	assert_true(bits(c.s[0].v) == bits(-0.0));
	/* NaN becomes Prometheus' normal NaN; infinities in every spelling Go accepts. */
	const char *body2 = "a NaN\nb nan\nc +Inf\nd -Inf\ne Inf\nf -infinity\ng +INF\n";
	assert_int_equal(parse(body2, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
	assert_int_equal(c.n, 7);
	assert_true(bits(c.s[0].v) == 0x7ff8000000000001ULL);
	assert_true(bits(c.s[1].v) == 0x7ff8000000000001ULL);
	assert_true(isinf(c.s[2].v) && c.s[2].v > 0);
	assert_true(isinf(c.s[3].v) && c.s[3].v < 0);
	assert_true(isinf(c.s[4].v) && c.s[4].v > 0);
	assert_true(isinf(c.s[5].v) && c.s[5].v < 0);
	assert_true(isinf(c.s[6].v) && c.s[6].v > 0);
	/* Not Go ParseFloat syntax (or rejected by Prometheus' parseFloat). */
	static const char *const bad[] = {"0x10",   "1_000",  "1p3", "0x1p3",   "+nan", "-NaN",
					  "nan(1)", "1e",     "e5",  ".",       "--1",  "1.2.3",
					  "1e400",  "-1e400", "in",  "infinit", "1,5",  "12abc"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "m %s\n", bad[i]);
		expect_fail(body, INGEST_EXPO_TEXT_004, TS_EPARSE, "line 1: invalid value");
	}
	/* A long value takes the heap path of the slow conversion. */
	char longv[300];
	memset(longv, '0', sizeof(longv));
	memcpy(longv, "m 0.", 4);
	longv[250] = '5';
	longv[251] = '\n';
	longv[252] = '\0';
	assert_int_equal(parse(longv, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_OK);
	assert_true(c.s[0].v == 5e-247);
}

static void test_ingest_exposition_parse_004_timestamps(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	assert_int_equal(
	    parse("a 1 0\nb 1 9223372036854775807\n", INGEST_EXPO_TEXT_004, 0, &c, &res, &err),
	    TS_OK);
	assert_int_equal(c.s[0].t_ms, 0);
	assert_int_equal(c.s[1].t_ms, INT64_MAX);
	expect_fail("a 1 9223372036854775808\n", INGEST_EXPO_TEXT_004, TS_EPARSE,
		    "line 1: invalid timestamp '9223372036854775808'");
	expect_fail("a 1 -5\n", INGEST_EXPO_TEXT_004, TS_EPARSE, "invalid timestamp '-5'");
	expect_fail("a 1 1.5\n", INGEST_EXPO_TEXT_004, TS_EPARSE, "invalid timestamp '1.5'");
	expect_fail("a 1 2 3\n", INGEST_EXPO_TEXT_004, TS_EPARSE, "unexpected '3' after");
	expect_fail("a 1 # {x=\"y\"} 1\n", INGEST_EXPO_TEXT_004, TS_EPARSE, "invalid timestamp");
}

static void test_ingest_exposition_parse_004_errors(void **state)
{
	(void)state;
	const ingest_expo_format f = INGEST_EXPO_TEXT_004;
	expect_fail("ok 1\n1abc 2\n", f, TS_EPARSE, "line 2: invalid metric name '1abc'");
	expect_fail("a-b 1\n", f, TS_EPARSE, "line 1: invalid metric name 'a-b'");
	expect_fail("{a=\"b\"} 1\n", f, TS_EPARSE, "line 1: missing metric name");
	expect_fail("m{1a=\"b\"} 1\n", f, TS_EPARSE, "invalid label name '1a'");
	expect_fail("m{a:b=\"b\"} 1\n", f, TS_EPARSE, "invalid label name 'a:b'");
	expect_fail("m{=\"b\"} 1\n", f, TS_EPARSE, "expected label name");
	expect_fail("m{a\"b\"} 1\n", f, TS_EPARSE, "expected '=' after label name 'a'");
	expect_fail("m{a=b} 1\n", f, TS_EPARSE, "expected '\"' to open the value of label 'a'");
	expect_fail("m{a=\"b} 1\n", f, TS_EPARSE, "unterminated value of label 'a'");
	expect_fail("m{a=\"b\\", f, TS_EPARSE, "unterminated value of label 'a'");
	expect_fail("m{a=\"b\" c=\"d\"} 1\n", f, TS_EPARSE, "expected ',' or '}'");
	expect_fail("m{a=\"b\",", f, TS_EPARSE, "unterminated label set");
	expect_fail("m{a=\"x\",a=\"y\"} 1\n", f, TS_EPARSE, "duplicate label name 'a'");
	expect_fail("m{b=\"x\",a=\"y\",b=\"z\"} 1\n", f, TS_EPARSE, "duplicate label name 'b'");
	expect_fail("m{__name__=\"n\"} 1\n", f, TS_EPARSE, "duplicate label name '__name__'");
	expect_fail("m{a=\"\xff\"} 1\n", f, TS_EPARSE, "value of label 'a' is not valid UTF-8");
	expect_fail("m{a=\"\xc0\xaf\"} 1\n", f, TS_EPARSE, "not valid UTF-8");
	expect_fail("m{a=\"\\\xee\"} 1\n", f, TS_EPARSE, "not valid UTF-8"); /* escaped */
	expect_fail("m\n", f, TS_EPARSE, "line 1: missing value");
	expect_fail("m{a=\"b\"}\n", f, TS_EPARSE, "missing value");
	expect_fail("# HELP\tm \xff\n", f, TS_EPARSE, "help text is not valid UTF-8");
	expect_fail("# TYPE m gauges\n", f, TS_EPARSE, "invalid metric type 'gauges'");
	expect_fail("# TYPE m\n", f, TS_EPARSE, "invalid metric type ''");
	expect_fail("# TYPE m stateset\n", f, TS_EPARSE, "invalid metric type 'stateset'");
	expect_fail("# TYPE 0m gauge\n", f, TS_EPARSE, "invalid metric name '0m' after # TYPE");
	expect_fail("# HELP  \n", f, TS_EPARSE, "expected a metric name after # HELP");

	/* A NUL byte inside a label value or help text cannot become a C string. */
	static capture c;
	ts_err err;
	const char nul_val[] = "m{a=\"x\0y\"} 1\n";
	assert_int_equal(ingest_exposition_parse(nul_val, sizeof(nul_val) - 1, f, 0, 0, NULL,
						 cap_fn, NULL, &c, NULL, &err),
			 TS_EPARSE);
	assert_non_null(strstr(err.msg, "NUL byte"));
	const char nul_help[] = "# HELP m a\0b\n";
	assert_int_equal(ingest_exposition_parse(nul_help, sizeof(nul_help) - 1, f, 0, 0, NULL,
						 cap_fn, NULL, &c, NULL, &err),
			 TS_EPARSE);
	assert_non_null(strstr(err.msg, "help text contains a NUL byte"));
}

/* ================================================================ OpenMetrics */

static void test_ingest_exposition_parse_om_basic(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	const char *body = "# TYPE node_cpu_seconds counter\n"
			   "# UNIT node_cpu_seconds seconds\n"
			   "# HELP node_cpu_seconds Seconds \\\"spent\\\"\\nper mode.\n"
			   "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 250.56 1795231500.004\n"
			   "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 251 1795231501\n"
			   "node_cpu_seconds_created{cpu=\"0\",mode=\"idle\"} 1.7e9\n"
			   "# TYPE g gauge\n"
			   "g 1 -1.5\n"
			   "g 2 1.5e3\n"
			   "g 3 0.0009\n"
			   "g 4 -0.0009\n"
			   "g 5 1e-30\n"
			   "g 6 9223372036854775.807\n"
			   "g 7 .5\n"
			   "# EOF\n";
	assert_int_equal(parse(body, INGEST_EXPO_OPENMETRICS, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_OPENMETRICS);
	assert_int_equal(res.n_samples, 10);
	assert_string_equal(c.s[0].series, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}");
	assert_int_equal(c.s[0].t_ms, 1795231500004LL); /* exact, not ...003 */
	assert_true(c.s[0].v == 250.56);
	assert_int_equal(c.s[1].t_ms, 1795231501000LL);
	/* _created is a series by default (Prometheus' default). */
	assert_string_equal(c.s[2].series, "node_cpu_seconds_created{cpu=\"0\",mode=\"idle\"}");
	assert_int_equal(c.s[2].t_ms, DEFAULT_T);
	assert_int_equal(c.s[3].t_ms, -1500);
	assert_int_equal(c.s[4].t_ms, 1500000);
	assert_int_equal(c.s[5].t_ms, 0);
	assert_int_equal(c.s[6].t_ms, 0);
	assert_int_equal(c.s[7].t_ms, 0);
	assert_int_equal(c.s[8].t_ms, INT64_MAX);
	assert_int_equal(c.s[9].t_ms, 500);
	assert_int_equal(res.n_metadata, 2);
	assert_string_equal(c.m[0].family, "node_cpu_seconds");
	assert_string_equal(c.m[0].type, "counter");
	assert_string_equal(c.m[0].unit, "seconds");
	assert_string_equal(c.m[0].help, "Seconds \"spent\"\nper mode.");
	assert_string_equal(c.m[1].family, "g");
	assert_string_equal(c.m[1].type, "gauge");
}

static void test_ingest_exposition_parse_om_created_skip(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	const char *body = "# TYPE a counter\n"
			   "a_total 1\n"
			   "a_created 1700000000\n"
			   "# TYPE h histogram\n"
			   "h_bucket{le=\"+Inf\"} 1\n"
			   "h_count 1\n"
			   "h_sum 2\n"
			   "h_created{x=\"y\"} 1700000000\n"
			   "# TYPE s summary\n"
			   "s_created 1\n"
			   "# TYPE gh gaugehistogram\n"
			   "gh_created 1\n"
			   "# TYPE g gauge\n"
			   "g_created 1\n"
			   "other_created 1\n"
			   "# EOF";
	assert_int_equal(parse(body, INGEST_EXPO_OPENMETRICS, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_samples, 10);
	assert_int_equal(res.n_created_skipped, 0);
	assert_int_equal(
	    parse(body, INGEST_EXPO_OPENMETRICS, INGEST_EXPO_SKIP_CREATED, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_created_skipped, 4);
	assert_int_equal(res.n_samples, 6);
	assert_string_equal(c.s[4].series, "g_created{}");
	assert_string_equal(c.s[5].series, "other_created{}");
	/* The flag does nothing for 0.0.4. */
	assert_int_equal(parse("# TYPE a counter\na_created 1\n", INGEST_EXPO_TEXT_004,
			       INGEST_EXPO_SKIP_CREATED, &c, &res, &err),
			 TS_OK);
	assert_int_equal(res.n_samples, 1);
}

static void test_ingest_exposition_parse_om_exemplars(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	const char *body =
	    "# TYPE foo histogram\n"
	    "foo_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067 1520879607.789\n"
	    "foo_bucket{le=\"+Inf\"} 9 1520879608 # {} 1\n"
	    "foo_count 9 # {a=\"b\",c=\"d\",} 1.5\n"
	    "# EOF\n";
	assert_int_equal(parse(body, INGEST_EXPO_OPENMETRICS, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_samples, 3);
	assert_int_equal(res.n_exemplars_skipped, 3);
	assert_true(c.s[0].v == 8);
	assert_int_equal(c.s[0].t_ms, DEFAULT_T);
	assert_int_equal(c.s[1].t_ms, 1520879608000LL);
	const ingest_expo_format f = INGEST_EXPO_OPENMETRICS;
	expect_fail("m 1 # x\n# EOF\n", f, TS_EPARSE, "expected '{' to open the exemplar");
	expect_fail("m 1 #{a=\"b\"} 1\n# EOF\n", f, TS_EPARSE,
		    "expected ' # ' and an exemplar, got '#{");
	expect_fail("m 1 # {a=\"b\"}\n# EOF\n", f, TS_EPARSE, "expected ' ' before the exemplar");
	expect_fail("m 1 # {a=\"b\"} x\n# EOF\n", f, TS_EPARSE, "invalid exemplar value 'x'");
	expect_fail("m 1 # {a=\"b\"} 1 NaN\n# EOF\n", f, TS_EPARSE,
		    "invalid exemplar timestamp 'NaN'");
	expect_fail("m 1 # {1=\"b\"} 1\n# EOF\n", f, TS_EPARSE, "invalid label name '1'");
	expect_fail("m 1 2 x\n# EOF\n", f, TS_EPARSE, "expected ' # ' and an exemplar, got 'x'");
}

static void test_ingest_exposition_parse_om_errors(void **state)
{
	(void)state;
	const ingest_expo_format f = INGEST_EXPO_OPENMETRICS;
	expect_fail("m 1\n", f, TS_EPARSE, "line 2: missing # EOF");
	expect_fail("", f, TS_EPARSE, "line 1: missing # EOF");
	expect_fail("m 1\n# EOF\nm 2\n", f, TS_EPARSE, "line 3: unexpected data after # EOF");
	expect_fail("# EOF\n\n", f, TS_EPARSE, "line 2: unexpected data after # EOF");
	expect_fail("m 1\n\n# EOF\n", f, TS_EPARSE, "line 2: empty line");
	expect_fail("# a comment\n# EOF\n", f, TS_EPARSE, "OpenMetrics allows only");
	expect_fail("#HELP m x\n# EOF\n", f, TS_EPARSE, "OpenMetrics allows only");
	expect_fail("m  1\n# EOF\n", f, TS_EPARSE, "invalid value ''");
	expect_fail("m\t1\n# EOF\n", f, TS_EPARSE, "expected ' ' and a value");
	expect_fail(" m 1\n# EOF\n", f, TS_EPARSE, "missing metric name");
	expect_fail("m {a=\"b\"} 1\n# EOF\n", f, TS_EPARSE, "invalid value '{a=\"b\"}'");
	expect_fail("m{a=\"b\"}1\n# EOF\n", f, TS_EPARSE, "expected ' ' and a value");
	expect_fail("m{a = \"b\"} 1\n# EOF\n", f, TS_EPARSE, "expected '=' after label name 'a'");
	expect_fail("m 1 \n# EOF\n", f, TS_EPARSE, "unexpected ' ' at the end of the line");
	expect_fail("m 1 2 \n# EOF\n", f, TS_EPARSE, "unexpected ' ' at the end of the line");
	expect_fail("m 1 NaN\n# EOF\n", f, TS_EPARSE, "invalid timestamp 'NaN'");
	expect_fail("m 1 +Inf\n# EOF\n", f, TS_EPARSE, "invalid timestamp '+Inf'");
	expect_fail("m 1 1e20\n# EOF\n", f, TS_EPARSE, "invalid timestamp '1e20'");
	expect_fail("m 1 9223372036854775.808\n# EOF\n", f, TS_EPARSE, "invalid timestamp");
	expect_fail("m 1 1_0\n# EOF\n", f, TS_EPARSE, "invalid timestamp");
	expect_fail("# TYPE m untyped\n# EOF\n", f, TS_EPARSE, "invalid metric type 'untyped'");
	expect_fail("# TYPE m  gauge\n# EOF\n", f, TS_EPARSE, "invalid metric type ' gauge'");
	expect_fail("# TYPE m\tgauge\n# EOF\n", f, TS_EPARSE, "expected ' ' after the metric name");
	expect_fail("# UNIT m_bytes seconds\n# EOF\n", f, TS_EPARSE,
		    "unit 'seconds' is not a suffix of metric 'm_bytes'");
	expect_fail("# UNIT seconds seconds\n# EOF\n", f, TS_EPARSE, "is not a suffix");
	expect_fail("# UNIT mseconds seconds\n# EOF\n", f, TS_EPARSE, "is not a suffix");
	expect_fail("m{a=\"1\\\"} 1\n# EOF\n", f, TS_EPARSE, "unterminated value of label 'a'");
	/* # EOF may lack its newline; an empty unit is allowed; CRLF is tolerated. */
	static capture c;
	ingest_expo_result res;
	ts_err err;
	assert_int_equal(parse("# UNIT m \r\nm 1\r\n# EOF", f, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_samples, 1);
	assert_int_equal(res.n_metadata, 1);
}

/* ================================================================ modes, limits */

static void test_ingest_exposition_parse_skip_invalid(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	const char *body = "good 1\n"
			   "bad{ 2\n"
			   "good 3\n"
			   "1bad 4\n"
			   "good{a=\"b\"} 5\n";
	assert_int_equal(parse(body, INGEST_EXPO_TEXT_004, 0, &c, &res, &err), TS_EPARSE);
	assert_string_equal(err.msg, "line 2: invalid label name '2'");
	assert_int_equal(c.n, 1); /* streaming: the line before the error was delivered */
	assert_int_equal(
	    parse(body, INGEST_EXPO_TEXT_004, INGEST_EXPO_SKIP_INVALID, &c, &res, &err), TS_OK);
	assert_int_equal(res.n_samples, 3);
	assert_int_equal(res.n_invalid_lines, 2);
	assert_int_equal(res.first_invalid_line, 2);
	assert_string_equal(res.first_invalid, "line 2: invalid label name '2'");
	assert_true(c.s[2].v == 5);
	/* OpenMetrics: a missing # EOF and data after it are counted, not fatal. */
	assert_int_equal(parse("a 1\nb{ 2\nc 3\n", INGEST_EXPO_OPENMETRICS,
			       INGEST_EXPO_SKIP_INVALID, &c, &res, &err),
			 TS_OK);
	assert_int_equal(res.n_samples, 2);
	assert_int_equal(res.n_invalid_lines, 2);
	assert_int_equal(res.first_invalid_line, 2);
	assert_int_equal(parse("# EOF\na 1\nb 2\n", INGEST_EXPO_OPENMETRICS,
			       INGEST_EXPO_SKIP_INVALID, &c, &res, &err),
			 TS_OK);
	assert_int_equal(res.n_samples, 0);
	assert_int_equal(res.n_invalid_lines, 1);
	assert_string_equal(res.first_invalid, "line 2: unexpected data after # EOF");
	assert_int_equal(
	    parse("a 1\n", INGEST_EXPO_OPENMETRICS, INGEST_EXPO_SKIP_INVALID, &c, &res, &err),
	    TS_OK);
	assert_int_equal(res.n_samples, 1);
	assert_string_equal(res.first_invalid, "line 2: missing # EOF at the end");
}

static void test_ingest_exposition_parse_limits(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	ingest_limits lim = {
	    .max_labels = 3, .max_name_bytes = 8, .max_value_bytes = 4, .max_line_bytes = 40};
	static const struct {
		const char *body;
		const char *msg;
	} cases[] = {
	    {"m{a=\"1\",b=\"2\",c=\"3\"} 1\n", "line 1: more than 3 labels"},
	    {"metric_name 1\n", "line 1: metric name 'metric_name' longer than 8 bytes"},
	    {"m{label_name=\"1\"} 1\n", "label name 'label_name' longer than 8 bytes"},
	    {"m{a=\"12345\"} 1\n", "value of label 'a' longer than 4 bytes"},
	    {"m 1\nm{a=\"1234567890123456789012345678901234567890\"} 1\n",
	     "line 2: line longer than 40 bytes"},
	    {"# TYPE long_name gauge\n", "metric name 'long_name' longer than 8 bytes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0, sizeof(c));
		ts_err_clear(&err);
		int rc = ingest_exposition_parse(cases[i].body, strlen(cases[i].body),
						 INGEST_EXPO_TEXT_004, 0, 0, &lim, cap_fn, NULL, &c,
						 &res, &err);
		if (rc != TS_ELIMIT || !strstr(err.msg, cases[i].msg))
			print_error("case %zu: rc %d '%s'\n", i, rc, err.msg);
		assert_int_equal(rc, TS_ELIMIT);
		assert_non_null(strstr(err.msg, cases[i].msg));
	}
	/* At the limits exactly: fine. Empty values do not count. Escapes count unescaped. */
	const char *ok = "m2345678{a=\"1\",b=\"\\\\\\\\\",c=\"\"} 1\n";
	assert_int_equal(ingest_exposition_parse(ok, strlen(ok), INGEST_EXPO_TEXT_004, 0, 0, &lim,
						 cap_fn, NULL, &c, &res, &err),
			 TS_OK);
	assert_int_equal(res.n_samples, 1);
	/* "Unlimited" limits work (no size arithmetic overflows). */
	ingest_limits big = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
	const char *meta = "# HELP m help\n# TYPE m gauge\nm{a=\"1\"} 1\n";
	assert_int_equal(ingest_exposition_parse(meta, strlen(meta), INGEST_EXPO_TEXT_004, 0, 0,
						 &big, cap_fn, meta_fn, &c, &res, &err),
			 TS_OK);
	assert_int_equal(res.n_metadata, 1);
	/* Exemplar label values are checked against the value limit as well. */
	const char *ex = "m 1 # {a=\"12345\"} 1\n# EOF\n";
	assert_int_equal(ingest_exposition_parse(ex, strlen(ex), INGEST_EXPO_OPENMETRICS, 0, 0,
						 &lim, cap_fn, NULL, &c, &res, &err),
			 TS_ELIMIT);
}

static void test_ingest_exposition_parse_sink_abort(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res = {0};
	ts_err err;
	const char *body = "# TYPE a gauge\na 1\na 2\na 3\n";
	memset(&c, 0, sizeof(c));
	c.abort_at = 2;
	c.abort_code = TS_EBUSY;
	assert_int_equal(ingest_exposition_parse(body, strlen(body), INGEST_EXPO_TEXT_004, 0, 0,
						 NULL, cap_fn, meta_fn, &c, &res, &err),
			 TS_EBUSY);
	assert_string_equal(err.msg, "line 3: sample sink failed (EBUSY)");
	assert_int_equal(c.n, 2);
	assert_int_equal(res.n_samples, 0); /* res is written only on success */
	/* The skip-invalid mode never swallows a sink error. */
	memset(&c, 0, sizeof(c));
	c.abort_at = 1;
	c.abort_code = TS_EUNAVAIL;
	assert_int_equal(ingest_exposition_parse(body, strlen(body), INGEST_EXPO_TEXT_004,
						 INGEST_EXPO_SKIP_INVALID, 0, NULL, cap_fn, meta_fn,
						 &c, &res, &err),
			 TS_EUNAVAIL);
	/* Metadata sink errors: at a family change and at the end. */
	memset(&c, 0, sizeof(c));
	c.meta_abort_code = TS_ENOSPC;
	const char *two = "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n";
	assert_int_equal(ingest_exposition_parse(two, strlen(two), INGEST_EXPO_TEXT_004, 0, 0, NULL,
						 cap_fn, meta_fn, &c, &res, &err),
			 TS_ENOSPC);
	assert_non_null(strstr(err.msg, "line 3: metadata sink failed (ENOSPC) for family a"));
	assert_int_equal(ingest_exposition_parse(body, strlen(body), INGEST_EXPO_TEXT_004,
						 INGEST_EXPO_SKIP_INVALID, 0, NULL, cap_fn, meta_fn,
						 &c, &res, &err),
			 TS_ENOSPC);
	assert_non_null(strstr(err.msg, "metadata sink failed (ENOSPC) for family a"));
}

static void test_ingest_exposition_parse_bad_arguments(void **state)
{
	(void)state;
	static capture c;
	ts_err err;
	assert_int_equal(ingest_exposition_parse(NULL, 3, INGEST_EXPO_TEXT_004, 0, 0, NULL, cap_fn,
						 NULL, &c, NULL, &err),
			 TS_EINVAL);
	assert_int_equal(ingest_exposition_parse("a 1", 3, INGEST_EXPO_TEXT_004, 0, 0, NULL, NULL,
						 NULL, &c, NULL, &err),
			 TS_EINVAL);
	assert_int_equal(ingest_exposition_parse("a 1", 3, (ingest_expo_format)9, 0, 0, NULL,
						 cap_fn, NULL, &c, NULL, &err),
			 TS_EINVAL);
	/* Empty 0.0.4 body: nothing, fine. */
	ingest_expo_result res;
	assert_int_equal(ingest_exposition_parse(NULL, 0, INGEST_EXPO_TEXT_004, 0, 0, NULL, cap_fn,
						 NULL, &c, &res, NULL),
			 TS_OK);
	assert_int_equal(res.n_samples, 0);
}

static void test_ingest_exposition_format_detect_content_types(void **state)
{
	(void)state;
	assert_int_equal(ingest_exposition_format_detect(NULL), INGEST_EXPO_TEXT_004);
	assert_int_equal(ingest_exposition_format_detect(""), INGEST_EXPO_TEXT_004);
	assert_int_equal(
	    ingest_exposition_format_detect("text/plain; version=0.0.4; charset=utf-8"),
	    INGEST_EXPO_TEXT_004);
	assert_int_equal(ingest_exposition_format_detect(
			     "application/openmetrics-text; version=1.0.0; charset=utf-8"),
			 INGEST_EXPO_OPENMETRICS);
	assert_int_equal(ingest_exposition_format_detect(" Application/OpenMetrics-Text"),
			 INGEST_EXPO_OPENMETRICS);
	assert_int_equal(ingest_exposition_format_detect("application/openmetrics-textual"),
			 INGEST_EXPO_TEXT_004);
	assert_int_equal(ingest_exposition_format_detect("application/json"), INGEST_EXPO_TEXT_004);
}

static void test_ingest_exposition_parse_auto(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	ts_err err;
	assert_int_equal(parse("m 1 1.5\n# EOF\n", INGEST_EXPO_AUTO, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_OPENMETRICS);
	assert_int_equal(c.s[0].t_ms, 1500);
	assert_int_equal(parse("m 1 1500\n", INGEST_EXPO_AUTO, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_TEXT_004);
	assert_int_equal(c.s[0].t_ms, 1500);
	assert_int_equal(parse("# EOF", INGEST_EXPO_AUTO, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_OPENMETRICS);
	assert_int_equal(parse("m 1\n## EOF\n", INGEST_EXPO_AUTO, 0, &c, &res, &err), TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_TEXT_004);
}

static void test_ingest_exposition_parse_alloc_failure(void **state)
{
	(void)state;
	static capture c;
	ingest_expo_result res;
	const char *body =
	    "# HELP m help\n# TYPE m gauge\nm{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\","
	    "f=\"6\",g=\"7\",h=\"8\",i=\"9\",j=\"10\",k=\"11\",l=\"12\",m=\"13\","
	    "n=\"14\",o=\"15\",p=\"16\",q=\"17\"} 1 2\n";
	bool ok = false;
	for (int64_t n = 0; n < 64 && !ok; n++) {
		ts_err err;
		memset(&c, 0, sizeof(c));
		ts_alloc_fail_after(n);
		int rc = ingest_exposition_parse(body, strlen(body), INGEST_EXPO_TEXT_004, 0, 0,
						 NULL, cap_fn, meta_fn, &c, &res, &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			ok = true;
			assert_int_equal(res.n_samples, 1);
		} else {
			assert_int_equal(rc, TS_ENOMEM);
		}
	}
	assert_true(ok);
}

/* ================================================================ real data */

/* Distinct series (canonical keys) with a sample count and the first value each. */
typedef struct series_set {
	char **keys;
	uint64_t *hash;
	size_t *count;
	double *first_v;
	int64_t *first_t;
	size_t cap, n;
} series_set;

static void set_init(series_set *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->keys = calloc(cap, sizeof(*s->keys));
	s->hash = calloc(cap, sizeof(*s->hash));
	s->count = calloc(cap, sizeof(*s->count));
	s->first_v = calloc(cap, sizeof(*s->first_v));
	s->first_t = calloc(cap, sizeof(*s->first_t));
	assert_non_null(s->keys);
	assert_non_null(s->first_t);
}

static void set_free(series_set *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->hash);
	free(s->count);
	free(s->first_v);
	free(s->first_t);
}

/* Slot of the series (inserted when absent unless lookup_only; SIZE_MAX if absent). */
static size_t set_slot(series_set *s, const ts_label *l, size_t n, bool lookup_only)
{
	ts_buf key;
	ts_buf_init(&key, 1 << 20);
	assert_int_equal(ts_series_key(l, n, &key), TS_OK);
	uint64_t h = ts_series_hash(l, n);
	size_t i = h % s->cap;
	for (;;) {
		if (!s->keys[i]) {
			if (lookup_only) {
				ts_buf_free(&key);
				return SIZE_MAX;
			}
			assert_true(s->n + 1 < s->cap);
			s->keys[i] = strdup(key.data);
			s->hash[i] = h;
			s->n++;
			break;
		}
		if (s->hash[i] == h && strcmp(s->keys[i], key.data) == 0)
			break;
		i = (i + 1) % s->cap;
	}
	ts_buf_free(&key);
	return i;
}

typedef struct data_ctx {
	series_set set;
	series_set *ref; /* values at ref_t must equal these (bit-exact) */
	int64_t ref_t;
	size_t n_ref_checked;
	size_t n_samples;
	int64_t min_t, max_t;
	size_t n_meta;
	bool saw_cpu_counter; /* family node_cpu_seconds(_total) typed counter */
} data_ctx;

static int data_fn(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	data_ctx *d = ctx;
	check_invariants(l, n);
	size_t i = set_slot(&d->set, l, n, false);
	if (d->set.count[i]++ == 0) {
		d->set.first_v[i] = v;
		d->set.first_t[i] = t_ms;
	}
	d->n_samples++;
	if (t_ms < d->min_t)
		d->min_t = t_ms;
	if (t_ms > d->max_t)
		d->max_t = t_ms;
	if (d->ref && t_ms == d->ref_t) {
		size_t j = set_slot(d->ref, l, n, true);
		assert_true(j != SIZE_MAX);
		assert_true(bits(d->ref->first_v[j]) == bits(v));
		d->n_ref_checked++;
	}
	return TS_OK;
}

static int data_meta(void *ctx, const char *family, const char *type, const char *help,
		     const char *unit)
{
	data_ctx *d = ctx;
	d->n_meta++;
	if ((strcmp(family, "node_cpu_seconds") == 0 ||
	     strcmp(family, "node_cpu_seconds_total") == 0) &&
	    strcmp(type, "counter") == 0)
		d->saw_cpu_counter = true;
	return TS_OK;
}

static void data_init(data_ctx *d, size_t cap)
{
	memset(d, 0, sizeof(*d));
	set_init(&d->set, cap);
	d->min_t = INT64_MAX;
	d->max_t = INT64_MIN;
}

static char *read_file(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb"); /* reads plain files as well */
	assert_non_null(f);
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		int got = gzread(f, buf + n, (unsigned)(cap - n));
		assert_true(got >= 0);
		if (got == 0)
			break;
		n += (size_t)got;
	}
	gzclose(f);
	*len = n;
	return buf;
}

#define NE_SCRAPE STRATA_SHARED_DATA "/node_exporter/node_exporter_scrape.prom"
#define NE_10M    STRATA_SHARED_DATA "/node_exporter/node_exporter_10m.om.gz"
#define NAB_OM    STRATA_SHARED_DATA "/nab/nab.om"
#define NE_T0     1795231500004LL

static void test_ingest_exposition_parse_node_exporter_scrape(void **state)
{
	(void)state;
	size_t len;
	char *body = read_file(NE_SCRAPE, &len);
	assert_int_equal(len, 57535);
	data_ctx d;
	data_init(&d, 4096);
	ingest_expo_result res;
	ts_err err = {0};
	int rc = ingest_exposition_parse(body, len, INGEST_EXPO_AUTO, 0, NE_T0, NULL, data_fn,
					 data_meta, &d, &res, &err);
	if (rc != TS_OK)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_TEXT_004);
	assert_int_equal(res.n_samples, 507);
	assert_int_equal(d.set.n, 507);
	assert_int_equal(res.n_metadata, 283);
	assert_int_equal(d.n_meta, 283);
	assert_int_equal(d.min_t, NE_T0);
	assert_int_equal(d.max_t, NE_T0);
	assert_true(d.saw_cpu_counter);
	set_free(&d.set);
	free(body);
}

static void test_ingest_exposition_parse_node_exporter_10m(void **state)
{
	(void)state;
	/* The first scrape as 0.0.4 is the reference for the OpenMetrics file's first
	 * timestamp: same series, same value bits. */
	size_t len;
	char *prom = read_file(NE_SCRAPE, &len);
	data_ctx ref;
	data_init(&ref, 4096);
	assert_int_equal(ingest_exposition_parse(prom, len, INGEST_EXPO_TEXT_004, 0, NE_T0, NULL,
						 data_fn, NULL, &ref, NULL, NULL),
			 TS_OK);
	free(prom);

	char *body = read_file(NE_10M, &len);
	assert_int_equal(len, 19005482);
	data_ctx d;
	data_init(&d, 4096);
	d.ref = &ref.set;
	d.ref_t = NE_T0;
	ingest_expo_result res;
	ts_err err = {0};
	int rc = ingest_exposition_parse(body, len, INGEST_EXPO_AUTO, INGEST_EXPO_SKIP_CREATED, 0,
					 NULL, data_fn, data_meta, &d, &res, &err);
	if (rc != TS_OK)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, TS_OK);
	assert_int_equal(res.format, INGEST_EXPO_OPENMETRICS);
	assert_int_equal(res.n_samples, 304200);
	assert_int_equal(d.n_samples, 304200);
	assert_int_equal(d.set.n, 507);
	for (size_t i = 0; i < d.set.cap; i++)
		if (d.set.keys[i])
			assert_int_equal(d.set.count[i], 600);
	assert_int_equal(res.n_metadata, 283);
	assert_int_equal(res.n_created_skipped, 0);
	assert_int_equal(res.n_exemplars_skipped, 0);
	assert_int_equal(d.min_t, NE_T0);
	assert_int_equal(d.max_t, 1795232099008LL);
	assert_int_equal(d.n_ref_checked, 507);
	assert_true(d.saw_cpu_counter);
	set_free(&d.set);
	set_free(&ref.set);
	free(body);
}

static void test_ingest_exposition_parse_nab_om(void **state)
{
	(void)state;
	size_t len;
	char *body = read_file(NAB_OM, &len);
	assert_int_equal(len, 10743455);
	data_ctx d;
	data_init(&d, 256);
	ingest_expo_result res;
	ts_err err = {0};
	int rc = ingest_exposition_parse(body, len, INGEST_EXPO_OPENMETRICS, 0, 0, NULL, data_fn,
					 data_meta, &d, &res, &err);
	if (rc != TS_OK)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, TS_OK);
	assert_int_equal(res.n_samples, 137256);
	assert_int_equal(d.set.n, 24);
	assert_int_equal(res.n_metadata, 2);
	assert_int_equal(d.min_t, 1372896000000LL); /* 2013-07-04 00:00:00Z */
	assert_int_equal(d.max_t, 1422747000000LL); /* 2015-01-31 23:30:00Z */
	set_free(&d.set);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_exposition_parse_004_basic),
	    cmocka_unit_test(test_ingest_exposition_parse_004_metadata),
	    cmocka_unit_test(test_ingest_exposition_parse_label_escapes),
	    cmocka_unit_test(test_ingest_exposition_parse_values),
	    cmocka_unit_test(test_ingest_exposition_parse_004_timestamps),
	    cmocka_unit_test(test_ingest_exposition_parse_004_errors),
	    cmocka_unit_test(test_ingest_exposition_parse_om_basic),
	    cmocka_unit_test(test_ingest_exposition_parse_om_created_skip),
	    cmocka_unit_test(test_ingest_exposition_parse_om_exemplars),
	    cmocka_unit_test(test_ingest_exposition_parse_om_errors),
	    cmocka_unit_test(test_ingest_exposition_parse_skip_invalid),
	    cmocka_unit_test(test_ingest_exposition_parse_limits),
	    cmocka_unit_test(test_ingest_exposition_parse_sink_abort),
	    cmocka_unit_test(test_ingest_exposition_parse_bad_arguments),
	    cmocka_unit_test(test_ingest_exposition_format_detect_content_types),
	    cmocka_unit_test(test_ingest_exposition_parse_auto),
	    cmocka_unit_test(test_ingest_exposition_parse_alloc_failure),
	    cmocka_unit_test(test_ingest_exposition_parse_node_exporter_scrape),
	    cmocka_unit_test(test_ingest_exposition_parse_node_exporter_10m),
	    cmocka_unit_test(test_ingest_exposition_parse_nab_om),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
