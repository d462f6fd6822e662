/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_line_protocol.c: tests for ingest/line_protocol.c: precision names, every
 * escaping rule and value type, timestamps and precision conversion, the mapping to
 * metric names and labels, bad lines (messages and line numbers), partial writes,
 * limits, sink aborts, allocation failure, and the shared NAB / devops / node_exporter
 * data sets; the number fast paths against strtod and the timestamp digits; the series
 * cache (sink ingest_batch_add, over a memory store and an embedded log): a body parsed
 * whole writes the same log records as the same body parsed line by line.
 *
 * A capturing sink renders each sample as `name{k="v",...} t v` and checks the label
 * invariants the sink contract promises (sorted, unique, __name__ present, valid names,
 * non-empty UTF-8 values).
 */
#include "ingest/line_protocol.h"

#include "ingest/ingest.h"
#include "ingest/log.h"
#include "ingest/record.h"
#include "support/test_support.h"
#include "tsdb/tsdb.h"

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

#include "support/ingest_support.h" /* after cmocka.h: uses its assertions */

#define DEFAULT_T 1700000000000LL
#define CAP_MAX   256

/* ================================================================ capturing sink */

typedef struct cap_sample {
	char series[768]; /* name{k="v",...} */
	int64_t t_ms;
	double v;
} cap_sample;

typedef struct capture {
	cap_sample s[CAP_MAX]; /* first CAP_MAX samples */
	size_t n;              /* samples seen */
	size_t abort_at;       /* return abort_code on this call (1-based); 0 = never */
	int abort_code;
	bool keep; /* render samples into s[] */
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
			assert_false(l[i].name[0] == '_' && l[i].name[1] == '_');
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
	if (!c->keep || c->n > CAP_MAX)
		return TS_OK;
	cap_sample *s = &c->s[c->n - 1];
	const char *name = ts_labels_get(l, n, TS_METRIC_NAME);
	size_t off = (size_t)snprintf(s->series, sizeof(s->series), "%s{", name);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(l[i].name, TS_METRIC_NAME) == 0)
			continue;
		off += (size_t)snprintf(s->series + off, sizeof(s->series) - off, "%s%s=\"%s\"",
					first ? "" : ",", l[i].name, l[i].value);
		first = false;
		assert_true(off < sizeof(s->series));
	}
	snprintf(s->series + off, sizeof(s->series) - off, "}");
	s->t_ms = t_ms;
	s->v = v;
	return TS_OK;
}

static capture *cap_new(void)
{
	capture *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->keep = true;
	return c;
}

/* Parse body (strlen) with prec, default limits unless lim, into a fresh capture. */
static int run_lim(capture *c, const char *body, ingest_precision prec, const ingest_limits *lim,
		   ingest_lp_result *r)
{
	ts_err e = {0};
	size_t keep_abort = c->abort_at;
	int code = c->abort_code;
	memset(c, 0, sizeof(*c));
	c->keep = true;
	c->abort_at = keep_abort;
	c->abort_code = code;
	return ingest_lp_parse(body, strlen(body), prec, DEFAULT_T, lim, cap_fn, c, r, &e);
}

static int run(capture *c, const char *body, ingest_lp_result *r)
{
	return run_lim(c, body, INGEST_PREC_NS, NULL, r);
}

/* Parse a body that must be entirely good and yield exactly one sample. */
static cap_sample *one(capture *c, const char *body)
{
	ingest_lp_result r;
	assert_int_equal(run(c, body, &r), TS_OK);
	if (r.n_bad_lines)
		fail_msg("unexpected bad line: %s", r.first_error);
	assert_int_equal(c->n, 1);
	assert_int_equal(r.n_samples, 1);
	return &c->s[0];
}

/* Parse a single bad line; check that nothing was delivered; return the message. */
static const char *bad1(capture *c, const char *body, ingest_lp_result *r)
{
	assert_int_equal(run(c, body, r), TS_OK);
	assert_int_equal(r->n_bad_lines, 1);
	assert_int_equal(r->n_samples, 0);
	assert_int_equal(c->n, 0);
	assert_int_equal(r->first_bad_line, 1);
	return r->first_error;
}

static void assert_reason(capture *c, const char *body, const char *reason)
{
	ingest_lp_result r;
	const char *msg = bad1(c, body, &r);
	const char *colon = strstr(msg, "': ");
	if (!colon || strcmp(colon + 3, reason) != 0)
		fail_msg("body '%s': got '%s', want reason '%s'", body, msg, reason);
}

static void assert_double_bits(double got, double want)
{
	if (memcmp(&got, &want, sizeof(got)) != 0)
		fail_msg("got %.17g, want %.17g", got, want);
}

/* ================================================================ precision */

static void test_ingest_precision_parse_all_names(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		ingest_precision p;
	} cases[] = {
	    {"n", INGEST_PREC_NS},         {"ns", INGEST_PREC_NS},
	    {"", INGEST_PREC_NS},          {"u", INGEST_PREC_US},
	    {"us", INGEST_PREC_US},        {"\xc2\xb5", INGEST_PREC_US},
	    {"\xc2\xb5s", INGEST_PREC_US}, {"\xce\xbc", INGEST_PREC_US},
	    {"ms", INGEST_PREC_MS},        {"s", INGEST_PREC_S},
	    {"m", INGEST_PREC_M},          {"h", INGEST_PREC_H},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ingest_precision p = (ingest_precision)-1;
		assert_int_equal(ingest_precision_parse(cases[i].s, &p, NULL), TS_OK);
		assert_int_equal(p, cases[i].p);
	}
	ingest_precision p = INGEST_PREC_H;
	assert_int_equal(ingest_precision_parse(NULL, &p, NULL), TS_OK);
	assert_int_equal(p, INGEST_PREC_NS);
}

static void test_ingest_precision_parse_unknown(void **state)
{
	(void)state;
	const char *bad[] = {"x", "NS", "sec", "mss", "nanoseconds", " s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ts_err e = {0};
		ingest_precision p = INGEST_PREC_H;
		assert_int_equal(ingest_precision_parse(bad[i], &p, &e), TS_EINVAL);
		assert_int_equal(e.code, TS_EINVAL);
		assert_int_equal(p, INGEST_PREC_H); /* untouched on failure */
		char want[64];
		snprintf(want, sizeof(want), "unknown precision '%s'", bad[i]);
		assert_string_equal(e.msg, want);
	}
}

/* ================================================================ basic mapping */

static void test_ingest_lp_parse_basic_point(void **state)
{
	(void)state;
	capture *c = cap_new();
	cap_sample *s = one(c, "weather,location=us-midwest temperature=82 1465839830100400200");
	assert_string_equal(s->series, "weather_temperature{location=\"us-midwest\"}");
	assert_int_equal(s->t_ms, 1465839830100);
	assert_double_bits(s->v, 82.0);
	free(c);
}

static void test_ingest_lp_parse_value_field_uses_measurement(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(run(c, "up,job=a value=1,values=2,Value=3,value_x=4 1000000\n", &r),
			 TS_OK);
	assert_int_equal(c->n, 4);
	assert_string_equal(c->s[0].series, "up{job=\"a\"}");
	assert_string_equal(c->s[1].series, "up_values{job=\"a\"}");
	assert_string_equal(c->s[2].series, "up_Value{job=\"a\"}");
	assert_string_equal(c->s[3].series, "up_value_x{job=\"a\"}");
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(c->s[i].t_ms, 1);
		assert_double_bits(c->s[i].v, (double)(i + 1));
	}
	assert_int_equal(r.n_lines, 1);
	assert_int_equal(r.n_samples, 4);
	assert_int_equal(r.first_bad_line, 0);
	assert_string_equal(r.first_error, "");
	free(c);
}

static void test_ingest_lp_parse_no_tags(void **state)
{
	(void)state;
	capture *c = cap_new();
	assert_string_equal(one(c, "m f=1")->series, "m_f{}");
	free(c);
}

static void test_ingest_lp_parse_labels_sorted_with_name(void **state)
{
	(void)state;
	capture *c = cap_new();
	/* "A" and "_A" sort before "__name__", "_a" and lower case after it. */
	cap_sample *s = one(c, "m,z=1,b=2,_a=3,A=4,_A=5 f=1");
	assert_string_equal(s->series, "m_f{A=\"4\",_A=\"5\",_a=\"3\",b=\"2\",z=\"1\"}");
	free(c);
}

static void test_ingest_lp_parse_sanitizes_names(void **state)
{
	(void)state;
	capture *c = cap_new();
	/* metric names keep ':', label names do not; a leading digit gets '_' */
	cap_sample *s = one(c, "1a:b.c,x:y=1,9k=2,a-b=3 f:g.h=1");
	assert_string_equal(s->series, "_1a:b_c_f:g_h{_9k=\"2\",a_b=\"3\",x_y=\"1\"}");
	/* the leading-digit rule applies to the whole metric name, not the field key */
	assert_string_equal(one(c, "m 5xx=1")->series, "m_5xx{}");
	/* non-ASCII name bytes become '_' each; values are kept as they are */
	s = one(c, "temp\xc3\xa9,city=Z\xc3\xbcrich,c\xc3\xa9=x value=1");
	assert_string_equal(s->series, "temp__{c__=\"x\",city=\"Z\xc3\xbcrich\"}");
	free(c);
}

static void test_ingest_lp_parse_reserved_label_names(void **state)
{
	(void)state;
	capture *c = cap_new();
	cap_sample *s = one(c, "m,__name__=x,__foo=y,_ok=z,--bar=w f=1");
	assert_string_equal(s->series,
			    "m_f{_ok=\"z\",tag___bar=\"w\",tag___foo=\"y\",tag___name__=\"x\"}");
	/* a renamed key can collide with a real one: duplicate */
	ingest_lp_result r;
	const char *msg = bad1(c, "m,__a=1,tag___a=2 f=1", &r);
	assert_string_equal(msg, "line 1: unable to parse 'm,__a=1,tag___a=2 f=1': "
				 "duplicate label name 'tag___a'");
	free(c);
}

/* ================================================================ escaping */

static void test_ingest_lp_parse_escapes_measurement(void **state)
{
	(void)state;
	capture *c = cap_new();
	/* "\ " and "\," are escapes; '=' needs none; "\=" is accepted too */
	cap_sample *s = one(c, "my\\ meas\\,x=y\\=z,t=1 value=1");
	assert_string_equal(s->series, "my_meas_x_y_z{t=\"1\"}");
	free(c);
}

static void test_ingest_lp_parse_escapes_tags(void **state)
{
	(void)state;
	capture *c = cap_new();
	cap_sample *s = one(c, "m,t\\ k\\,\\=x=v\\ 1\\,2\\=3 f=1");
	assert_string_equal(s->series, "m_f{t_k__x=\"v 1,2=3\"}");
	/* "\\" is one backslash; a backslash before anything else is literal */
	s = one(c, "m,a=x\\\\y,b=x\\y,c=x\\\\,d=\\n f=1");
	assert_string_equal(s->series, "m_f{a=\"x\\y\",b=\"x\\y\",c=\"x\\\",d=\"\\n\"}");
	/* an escaped backslash does not escape the delimiter after it */
	s = one(c, "m,a=x\\\\ f=1");
	assert_string_equal(s->series, "m_f{a=\"x\\\"}");
	free(c);
}

static void test_ingest_lp_parse_escapes_tags_trailing_backslash(void **state)
{
	(void)state;
	capture *c = cap_new();
	/* "C:\dir\ f=1": the backslash escapes the space, so "f=1" is still tag value */
	assert_reason(c, "m,a=C:\\dir\\ f=1", "invalid tag format: unescaped '=' in tag value");
	assert_reason(c, "m,a=C:\\dir\\ ", "missing fields");
	free(c);
}

static void test_ingest_lp_parse_escapes_field_keys(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(run(c, "m f\\=x\\ y\\,z=1,g\\\\h=2,\\ value=3", &r), TS_OK);
	assert_int_equal(r.n_bad_lines, 0);
	assert_int_equal(c->n, 3);
	assert_string_equal(c->s[0].series, "m_f_x_y_z{}");
	assert_string_equal(c->s[1].series, "m_g_h{}");
	assert_string_equal(c->s[2].series, "m__value{}");
	free(c);
}

static void test_ingest_lp_parse_string_fields_skipped(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	const char *body = "m s=\"a \\\"q\\\", b=c \\\\\",f=2,e=\"\" 5000000\n"
			   "m s=\"line1\nline2 f=9\",g=3\n"
			   "m s=\"x\\\\\"\n"
			   "m s=\"only\\d\"\n"
			   "bad\n";
	assert_int_equal(run(c, body, &r), TS_OK);
	assert_int_equal(r.n_lines, 5);
	assert_int_equal(r.n_samples, 2);
	assert_int_equal(r.n_string_fields_skipped, 5);
	assert_string_equal(c->s[0].series, "m_f{}");
	assert_int_equal(c->s[0].t_ms, 5);
	assert_double_bits(c->s[0].v, 2.0);
	assert_string_equal(c->s[1].series, "m_g{}");
	assert_int_equal(c->s[1].t_ms, DEFAULT_T);
	/* the string spanned a newline, so "bad" is on physical line 6 */
	assert_int_equal(r.first_bad_line, 6);
	assert_string_equal(r.first_error, "line 6: unable to parse 'bad': missing fields");
	free(c);
}

/* ================================================================ value types */

static void test_ingest_lp_parse_integers(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(run(c,
			     "m a=-12i,b=9223372036854775807i,c=-9223372036854775808i,d=0i,"
			     "e=007i,f=18446744073709551615u,g=0u,h=-0i\n",
			     &r),
			 TS_OK);
	assert_int_equal(r.n_bad_lines, 0);
	assert_int_equal(c->n, 8);
	assert_double_bits(c->s[0].v, -12.0);
	assert_double_bits(c->s[1].v, 9223372036854775807.0);
	assert_double_bits(c->s[2].v, -9223372036854775808.0);
	assert_double_bits(c->s[3].v, 0.0);
	assert_double_bits(c->s[4].v, 7.0);
	assert_double_bits(c->s[5].v, 18446744073709551615.0);
	assert_double_bits(c->s[6].v, 0.0);
	assert_double_bits(c->s[7].v, -0.0);
	free(c);
}

static void test_ingest_lp_parse_integers_bad(void **state)
{
	(void)state;
	capture *c = cap_new();
	assert_reason(c, "m a=9223372036854775808i", "integer value out of range");
	assert_reason(c, "m a=-9223372036854775809i", "integer value out of range");
	assert_reason(c, "m a=99999999999999999999i", "integer value out of range");
	assert_reason(c, "m a=18446744073709551616u", "unsigned value out of range");
	assert_reason(c, "m a=-1u", "invalid unsigned integer: negative value");
	assert_reason(c, "m a=1.0i", "invalid number");
	assert_reason(c, "m a=1e3i", "invalid number");
	assert_reason(c, "m a=1i5", "invalid number");
	assert_reason(c, "m a=1ii", "invalid number");
	assert_reason(c, "m a=-i", "invalid number");
	assert_reason(c, "m a=1iu", "invalid number");
	free(c);
}

static void test_ingest_lp_parse_floats(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		double v;
	} cases[] = {
	    {"1", 1.0},
	    {"-1.5", -1.5},
	    {"1.", 1.0},
	    {".5", 0.5},
	    {"-.5", -0.5},
	    {"0.1", 0.1},
	    {"1e3", 1000.0},
	    {"1E-3", 0.001},
	    {"1.5e+2", 150.0},
	    {"-0", -0.0},
	    {"0.000", 0.0},
	    {"88.48", 88.48},
	    {"3.14159265358979323846", 3.14159265358979323846},
	    {"123456789012345678901234567890", 123456789012345678901234567890.0},
	    {"9007199254740993", 9007199254740993.0},
	    {"1.7976931348623157e308", 1.7976931348623157e308},
	    {"4.9e-324", 4.9e-324},
	    {"1e-400", 0.0},
	    {"00012.50", 12.5},
	    {"1e22", 1e22},
	    {"1e23", 1e23},
	    {"0.30000000000000004", 0.30000000000000004},
	};
	capture *c = cap_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[128];
		snprintf(body, sizeof(body), "m f=%s", cases[i].text);
		cap_sample *s = one(c, body);
		assert_double_bits(s->v, cases[i].v);
	}
	free(c);
}

/*
 * Random decimal literals (fixed seed) parse to exactly strtod's double: the exact fast
 * path (short mantissas, small exponents) and the strtod fallback must agree bit for bit.
 * Many values per body, so one parse covers the fast path's whole range.
 */
static void test_ingest_lp_parse_floats_random_match_strtod(void **state)
{
	(void)state;
	enum { N_BODIES = 40, PER_BODY = 250 };
	uint64_t x = 0x9E3779B97F4A7C15ull;
	capture *c = cap_new();
	char *body = malloc(PER_BODY * 64 + 64);
	char(*lits)[48] = malloc(PER_BODY * sizeof(*lits));
	assert_non_null(body);
	assert_non_null(lits);
	for (int b = 0; b < N_BODIES; b++) {
		size_t n = 0;
		for (int i = 0; i < PER_BODY; i++) {
			char *l = lits[i];
			size_t k = 0;
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (x & 1)
				l[k++] = '-';
			int n_int = (int)((x >> 1) % 12), n_frac = (int)((x >> 5) % 21);
			if (n_int == 0 && n_frac == 0)
				n_int = 1;
			for (int d = 0; d < n_int; d++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				l[k++] = (char)('0' + (int)(x % 10));
			}
			if (n_frac || (x & 0x100)) {
				l[k++] = '.';
				for (int d = 0; d < n_frac; d++) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					l[k++] = (char)('0' + (int)(x % 10));
				}
			}
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (x % 3 == 0)
				k +=
				    (size_t)snprintf(l + k, 48 - k, "e%d", (int)(x >> 8) % 60 - 30);
			l[k] = '\0';
			n += (size_t)snprintf(body + n, 64, "m f=%s %d\n", l, i);
		}
		body[n] = '\0';
		ingest_lp_result r;
		assert_int_equal(run(c, body, &r), TS_OK);
		if (r.n_bad_lines)
			fail_msg("unexpected bad line: %s", r.first_error);
		assert_int_equal(c->n, PER_BODY);
		for (int i = 0; i < PER_BODY; i++) {
			double want = strtod(lits[i], NULL);
			if (memcmp(&c->s[i].v, &want, sizeof(want)) != 0)
				fail_msg("'%s': got %.17g, strtod %.17g", lits[i], c->s[i].v, want);
		}
	}
	free(lits);
	free(body);
	free(c);
}

static void test_ingest_lp_parse_floats_bad(void **state)
{
	(void)state;
	capture *c = cap_new();
	const char *invalid[] = {"m f=.",  "m f=-",    "m f=1.2.3", "m f=1e",   "m f=1e+",
				 "m f=+1", "m f=0x10", "m f=1_000", "m f=1,5x", "m f=--1",
				 "m f=1-", "m f=.e5",  "m f=1.5 x", "m f=1\r2"};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		ingest_lp_result r;
		assert_int_equal(run(c, invalid[i], &r), TS_OK);
		if (r.n_bad_lines != 1 || c->n != 0)
			fail_msg("'%s' accepted", invalid[i]);
	}
	assert_reason(c, "m f=1.2.3", "invalid number");
	assert_reason(c, "m f=+1", "invalid field value");
	assert_reason(c, "m f=1.5 x", "invalid timestamp");
	assert_reason(c, "m f=1e400", "float value out of range");
	assert_reason(c, "m f=-1e400", "float value out of range");
	free(c);
}

static void test_ingest_lp_parse_nan_inf_rejected(void **state)
{
	(void)state;
	capture *c = cap_new();
	const char *cases[] = {"m f=NaN",      "m f=nan",         "m f=-nan",
			       "m f=Inf",      "m f=+Inf",        "m f=-inf",
			       "m f=infinity", "m f=-Infinity 1", "m f=1,g=NaN"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_reason(c, cases[i], "NaN and Inf are not valid field values");
	free(c);
}

static void test_ingest_lp_parse_booleans(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(
	    run(c, "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE 0", &r), TS_OK);
	assert_int_equal(r.n_bad_lines, 0);
	assert_int_equal(c->n, 10);
	for (size_t i = 0; i < 10; i++)
		assert_double_bits(c->s[i].v, i < 5 ? 1.0 : 0.0);
	assert_string_equal(c->s[9].series, "m_j{}");
	assert_int_equal(c->s[9].t_ms, 0);
	assert_reason(c, "m a=tru", "invalid boolean");
	assert_reason(c, "m a=tRUE", "invalid boolean");
	assert_reason(c, "m a=falsey", "invalid boolean");
	assert_reason(c, "m a=yes", "invalid field value");
	free(c);
}

/* ================================================================ timestamps */

static void test_ingest_lp_parse_missing_timestamp_uses_default(void **state)
{
	(void)state;
	capture *c = cap_new();
	assert_int_equal(one(c, "m f=1")->t_ms, DEFAULT_T);
	assert_int_equal(one(c, "m f=1   ")->t_ms, DEFAULT_T);
	assert_int_equal(one(c, "m f=1\n")->t_ms, DEFAULT_T);
	assert_int_equal(one(c, "m f=1  \r\n")->t_ms, DEFAULT_T);
	free(c);
}

static void test_ingest_lp_parse_precision_conversion(void **state)
{
	(void)state;
	static const struct {
		ingest_precision prec;
		const char *ts;
		int64_t want_ms;
	} cases[] = {
	    {INGEST_PREC_NS, "1465839830100400200", 1465839830100},
	    {INGEST_PREC_NS, "999999", 0},
	    {INGEST_PREC_NS, "-1", -1},
	    {INGEST_PREC_NS, "-1000000", -1},
	    {INGEST_PREC_NS, "-1000001", -2},
	    {INGEST_PREC_NS, "9223372036854775807", 9223372036854},
	    {INGEST_PREC_NS, "-9223372036854775808", -9223372036855},
	    {INGEST_PREC_US, "1465839830100400", 1465839830100},
	    {INGEST_PREC_US, "-1", -1},
	    {INGEST_PREC_US, "-1000", -1},
	    {INGEST_PREC_US, "-1001", -2},
	    {INGEST_PREC_MS, "1465839830100", 1465839830100},
	    {INGEST_PREC_MS, "-5", -5},
	    {INGEST_PREC_MS, "-9223372036854775808", INT64_MIN},
	    {INGEST_PREC_S, "1465839830", 1465839830000},
	    {INGEST_PREC_S, "-1", -1000},
	    {INGEST_PREC_S, "9223372036854775", 9223372036854775000},
	    {INGEST_PREC_M, "1", 60000},
	    {INGEST_PREC_M, "-2", -120000},
	    {INGEST_PREC_H, "1", 3600000},
	    {INGEST_PREC_H, "-1", -3600000},
	    {INGEST_PREC_NS, "0", 0},
	    {INGEST_PREC_NS, "-0", 0},
	};
	capture *c = cap_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[96];
		snprintf(body, sizeof(body), "m f=1 %s", cases[i].ts);
		ingest_lp_result r;
		assert_int_equal(run_lim(c, body, cases[i].prec, NULL, &r), TS_OK);
		if (r.n_bad_lines)
			fail_msg("case %zu: %s", i, r.first_error);
		assert_int_equal(c->n, 1);
		if (c->s[0].t_ms != cases[i].want_ms)
			fail_msg("case %zu: %s -> %" PRId64 ", want %" PRId64, i, cases[i].ts,
				 c->s[0].t_ms, cases[i].want_ms);
	}
	free(c);
}

static void test_ingest_lp_parse_timestamp_out_of_range(void **state)
{
	(void)state;
	static const struct {
		ingest_precision prec;
		const char *ts;
	} cases[] = {
	    {INGEST_PREC_NS, "9223372036854775808"},     {INGEST_PREC_NS, "-9223372036854775809"},
	    {INGEST_PREC_NS, "99999999999999999999999"}, {INGEST_PREC_S, "9223372036854776"},
	    {INGEST_PREC_S, "-9223372036854776"},        {INGEST_PREC_M, "153722867280913"},
	    {INGEST_PREC_H, "9223372036854775807"},
	};
	capture *c = cap_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[96];
		snprintf(body, sizeof(body), "m f=1 %s", cases[i].ts);
		ingest_lp_result r;
		assert_int_equal(run_lim(c, body, cases[i].prec, NULL, &r), TS_OK);
		assert_int_equal(r.n_bad_lines, 1);
		assert_int_equal(c->n, 0);
		assert_non_null(strstr(r.first_error, "': timestamp out of range"));
	}
	free(c);
}

static void test_ingest_lp_parse_timestamp_bad(void **state)
{
	(void)state;
	capture *c = cap_new();
	assert_reason(c, "m f=1 12a", "invalid timestamp");
	assert_reason(c, "m f=1 1 2", "invalid timestamp");
	assert_reason(c, "m f=1 -", "invalid timestamp");
	assert_reason(c, "m f=1 1.5", "invalid timestamp");
	assert_reason(c, "m f=1 +5", "invalid timestamp");
	assert_reason(c, "m f=1 0x10", "invalid timestamp");
	free(c);
}

/* ================================================================ lines */

static void test_ingest_lp_parse_comments_and_blank_lines(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	const char *body = "# header comment\n"
			   "\n"
			   "   \n"
			   "\t\n"
			   "m f=1 1000000\n"
			   "  # indented comment, f=2 \xff\n"
			   "#\n"
			   "  m,t=a   g=2    2000000   \n"
			   "\r\n"
			   "bad";
	assert_int_equal(run(c, body, &r), TS_OK);
	assert_int_equal(r.n_lines, 3);
	assert_int_equal(r.n_samples, 2);
	assert_string_equal(c->s[0].series, "m_f{}");
	assert_string_equal(c->s[1].series, "m_g{t=\"a\"}");
	assert_int_equal(c->s[1].t_ms, 2);
	assert_int_equal(r.first_bad_line, 10);
	free(c);
}

static void test_ingest_lp_parse_crlf_line_endings(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	const char *body = "m,t=a f=1 1000000\r\n"
			   "m g=t\r\n"
			   "m h=\"s\"\r\n"
			   "m i=2i 3000000 \r\n"
			   "m\r\n"
			   "m j=1\r";
	assert_int_equal(run(c, body, &r), TS_OK);
	assert_int_equal(r.n_lines, 6);
	assert_int_equal(r.n_samples, 4);
	assert_int_equal(r.n_string_fields_skipped, 1);
	assert_string_equal(c->s[0].series, "m_f{t=\"a\"}");
	assert_int_equal(c->s[0].t_ms, 1);
	assert_double_bits(c->s[1].v, 1.0);
	assert_int_equal(c->s[2].t_ms, 3);
	assert_string_equal(c->s[3].series, "m_j{}");
	assert_int_equal(r.first_bad_line, 5);
	assert_string_equal(r.first_error, "line 5: unable to parse 'm': missing fields");
	free(c);
}

static void test_ingest_lp_parse_empty_body(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(ingest_lp_parse(NULL, 0, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	assert_int_equal(r.n_lines, 0);
	assert_int_equal(run(c, "\n\n# only comments\n", &r), TS_OK);
	assert_int_equal(r.n_lines, 0);
	assert_int_equal(r.n_bad_lines, 0);
	free(c);
}

static void test_ingest_lp_parse_not_nul_terminated(void **state)
{
	(void)state;
	capture *c = cap_new();
	/* only the first len bytes count, even inside a number or timestamp */
	const char body[] = "m f=12 3456789999";
	ingest_lp_result r;
	assert_int_equal(ingest_lp_parse(body, 14, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	assert_int_equal(c->n, 1);
	assert_int_equal(c->s[0].t_ms, 3);
	assert_int_equal(ingest_lp_parse(body, 5, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	assert_double_bits(c->s[1].v, 1.0);
	free(c);
}

/* ================================================================ bad lines */

static void test_ingest_lp_parse_bad_lines_messages(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		const char *reason;
	} cases[] = {
	    {"m", "missing fields"},
	    {"m ", "missing fields"},
	    {"m,t=a", "missing fields"},
	    {"m,t=a   \n", "missing fields"},
	    {",t=a f=1", "missing measurement"},
	    {"m,=a f=1", "missing tag key"},
	    {"m, f=1", "missing tag key"},
	    {"m,t f=1", "missing tag value"},
	    {"m,t= f=1", "missing tag value"},
	    {"m,t=a, f=1", "missing tag key"},
	    {"m,t,u=1 f=1", "missing tag value"},
	    {"m,t=a=b f=1", "invalid tag format: unescaped '=' in tag value"},
	    {"m f", "invalid field format: missing '=' after field key"},
	    {"m f 1", "invalid field format: missing '=' after field key"},
	    {"m =1", "missing field key"},
	    {"m f=1,", "missing field key"},
	    {"m f=1,,g=2", "missing field key"},
	    {"m f=", "missing field value"},
	    {"m f=,g=1", "missing field value"},
	    {"m f= 1", "missing field value"},
	    {"m f=abc", "invalid field value"},
	    {"m f=\"abc", "unterminated string field value"},
	    {"m f=\"abc\"x", "invalid field format: text after string value"},
	    {"m,a=1,a=2 f=1", "duplicate label name 'a'"},
	    {"m,b=1,a-b=1,a_b=2 f=1", "duplicate label name 'a_b'"},
	    {"m\xff f=1", "invalid UTF-8 in measurement"},
	    {"m,t\xc3=1 f=1", "invalid UTF-8 in tag key"},
	    {"m,t=\xed\xa0\x80 f=1", "invalid UTF-8 in tag value"},
	    {"m f\xc0\xaf=1", "invalid UTF-8 in field key"},
	    {"m s=\"\xc3\x28\"", "invalid UTF-8 in string field value"},
	};
	capture *c = cap_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_reason(c, cases[i].body, cases[i].reason);
	free(c);
}

static void test_ingest_lp_parse_bad_line_nul_byte(void **state)
{
	(void)state;
	capture *c = cap_new();
	const char body[] = "m,t=a\0b f=1\nm f=2";
	ingest_lp_result r;
	assert_int_equal(
	    ingest_lp_parse(body, sizeof(body) - 1, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
	    TS_OK);
	assert_int_equal(r.n_bad_lines, 1);
	assert_int_equal(r.n_samples, 1);
	assert_string_equal(r.first_error,
			    "line 1: unable to parse 'm,t=a?b f=1': NUL byte in tag value");
	free(c);
}

static void test_ingest_lp_parse_bad_line_full_message(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(run(c, "cpu,host=a usage=1\ncpu,host=b usage=x\ncpu,host=c usage=3\n", &r),
			 TS_OK);
	assert_string_equal(r.first_error,
			    "line 2: unable to parse 'cpu,host=b usage=x': invalid field value");
	/* long lines are cut in the excerpt; the reason is always complete */
	char body[400];
	memcpy(body, "m,t=", 4);
	memset(body + 4, 'a', 300);
	memcpy(body + 304, " f=zz", 6);
	const char *msg = bad1(c, body, &r);
	assert_true(strlen(msg) < INGEST_LP_ERROR_MAX);
	assert_non_null(strstr(msg, "aaa...': invalid field value"));
	assert_int_equal(strncmp(msg, "line 1: unable to parse 'm,t=aaaa", 33), 0);
	/* control characters and invalid UTF-8 do not reach the message */
	msg = bad1(c, "m\tx\xff f=1", &r);
	assert_string_equal(msg,
			    "line 1: unable to parse 'm?x? f=1': invalid UTF-8 in measurement");
	free(c);
}

static void test_ingest_lp_parse_partial_write_keeps_good_lines(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	const char *body = "m f=1\n"
			   "bad\n"
			   "m f=2\n"
			   "m,t=a g=1,h=oops\n" /* whole point rejected: g is not delivered */
			   "m f=3";
	assert_int_equal(run(c, body, &r), TS_OK);
	assert_int_equal(r.n_lines, 5);
	assert_int_equal(r.n_samples, 3);
	assert_int_equal(r.n_bad_lines, 2);
	assert_int_equal(r.first_bad_line, 2);
	assert_string_equal(r.first_error, "line 2: unable to parse 'bad': missing fields");
	assert_int_equal(c->n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(c->s[i].series, "m_f{}");
		assert_double_bits(c->s[i].v, (double)(i + 1));
	}
	free(c);
}

static void test_ingest_lp_parse_unterminated_quote_swallows_rest(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(run(c, "m f=1\nm s=\"abc\nm f=2\nm f=3\n", &r), TS_OK);
	assert_int_equal(r.n_lines, 2);
	assert_int_equal(r.n_samples, 1);
	assert_int_equal(r.first_bad_line, 2);
	assert_non_null(strstr(r.first_error, "unterminated string field value"));
	free(c);
}

static void test_ingest_lp_parse_bad_line_resync_after_string(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	/* the bad point's string spans two lines; parsing resumes after it */
	assert_int_equal(run(c, "m f=x,s=\"a\nb f=1\" 1\nm f=2\nbad\n", &r), TS_OK);
	assert_int_equal(r.n_lines, 3);
	assert_int_equal(r.n_samples, 1);
	assert_double_bits(c->s[0].v, 2.0);
	assert_int_equal(r.n_bad_lines, 2);
	assert_int_equal(r.first_bad_line, 1);
	/* a quote in a tag or a measurement does not open a string */
	assert_int_equal(run(c, "m\",t=\"a f=1\nm f=2\n", &r), TS_OK);
	assert_int_equal(r.n_samples, 2);
	assert_string_equal(c->s[0].series, "m__f{t=\"\"a\"}");
	free(c);
}

/* ================================================================ limits */

static void test_ingest_lp_parse_limits(void **state)
{
	(void)state;
	capture *c = cap_new();
	ingest_lp_result r;
	ingest_limits lim = INGEST_LIMITS_DEFAULT;

	lim.max_labels = 3; /* __name__ + 2 tags */
	assert_int_equal(run_lim(c, "m,a=1,b=2 f=1\nm,a=1,b=2,c=3 f=1", INGEST_PREC_NS, &lim, &r),
			 TS_OK);
	assert_int_equal(r.n_samples, 1);
	assert_string_equal(
	    r.first_error,
	    "line 2: unable to parse 'm,a=1,b=2,c=3 f=1': more than max_labels (3) labels");
	lim.max_labels = 0;
	assert_int_equal(run_lim(c, "m f=1", INGEST_PREC_NS, &lim, &r), TS_OK);
	assert_int_equal(r.n_bad_lines, 1);
	assert_non_null(strstr(r.first_error, "max_labels (0)"));

	lim = (ingest_limits)INGEST_LIMITS_DEFAULT;
	lim.max_name_bytes = 8;
	assert_int_equal(run_lim(c,
				 "abcdefg f=1\nabcdef value=1\nabcdefgh value=1\n1bcdefgh value=1",
				 INGEST_PREC_NS, &lim, &r),
			 TS_OK);
	assert_int_equal(r.n_samples, 2);
	assert_int_equal(r.first_bad_line, 1);
	assert_non_null(strstr(r.first_error, "': metric name longer than max_name_bytes (8)"));
	assert_int_equal(r.n_bad_lines, 2);
	assert_int_equal(
	    run_lim(c, "m,abcdefgh=1 value=1\nm,abcdefghi=1 value=1", INGEST_PREC_NS, &lim, &r),
	    TS_OK);
	assert_int_equal(r.n_samples, 1);
	assert_non_null(strstr(r.first_error, "': label name longer than max_name_bytes (8)"));
	/* renaming "__x" to "tag___x" counts */
	assert_int_equal(run_lim(c, "m,__abc=1 value=1", INGEST_PREC_NS, &lim, &r), TS_OK);
	assert_int_equal(r.n_bad_lines, 1);
	assert_int_equal(run_lim(c, "m,__ab=1 value=1", INGEST_PREC_NS, &lim, &r), TS_OK);
	assert_int_equal(r.n_bad_lines, 0);

	lim = (ingest_limits)INGEST_LIMITS_DEFAULT;
	lim.max_value_bytes = 4;
	assert_int_equal(
	    run_lim(c, "m,a=1234 f=1\nm,a=12345 f=1\nm,a=12\\ 4 f=1", INGEST_PREC_NS, &lim, &r),
	    TS_OK);
	assert_int_equal(r.n_samples, 2);
	assert_string_equal(r.first_error,
			    "line 2: unable to parse 'm,a=12345 f=1': label value longer than "
			    "max_value_bytes (4)");

	lim = (ingest_limits)INGEST_LIMITS_DEFAULT;
	lim.max_line_bytes = 20;
	assert_int_equal(run_lim(c, "m,a=1 f=1 1000000000\nm,a=1 f=1 10000000000\nm f=\"x\ny\" 1",
				 INGEST_PREC_NS, &lim, &r),
			 TS_OK);
	assert_int_equal(r.n_samples, 1);
	assert_int_equal(r.n_bad_lines, 1);
	assert_non_null(strstr(r.first_error, "line 2: "));
	assert_non_null(strstr(r.first_error, "': line longer than max_line_bytes (20)"));
	free(c);
}

static void test_ingest_lp_parse_long_values_within_limits(void **state)
{
	(void)state;
	/* defaults: 63 tags with 4096-byte values and 256-byte keys fit the scratch */
	size_t cap = 64 * (256 + 4096 + 8) + 64;
	char *body = malloc(cap);
	assert_non_null(body);
	size_t n = (size_t)snprintf(body, cap, "m");
	for (int t = 0; t < 63; t++) {
		body[n++] = ',';
		memset(body + n, 'a' + (t % 26), 254);
		n += 254;
		n += (size_t)snprintf(body + n, cap - n, "%02d=", t);
		memset(body + n, 'v', 4096);
		n += 4096;
	}
	n += (size_t)snprintf(body + n, cap - n, " f=1");
	capture *c = cap_new();
	c->keep = false; /* too long to render */
	ingest_lp_result r;
	assert_int_equal(ingest_lp_parse(body, n, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	if (r.n_bad_lines)
		fail_msg("%s", r.first_error);
	assert_int_equal(r.n_samples, 1);
	/* one more tag is over max_labels */
	n -= 4;
	n += (size_t)snprintf(body + n, cap - n, ",x=1 f=1");
	assert_int_equal(ingest_lp_parse(body, n, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	assert_int_equal(r.n_bad_lines, 1);
	assert_non_null(strstr(r.first_error, "max_labels (64)"));
	free(body);
	free(c);
}

static void test_ingest_lp_parse_many_fields(void **state)
{
	(void)state;
	/* more fields than the parser decodes in one pass: validated, then re-parsed */
	char body[4096];
	size_t n = (size_t)snprintf(body, sizeof(body), "m,t=x ");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%sf%d=%d", i ? "," : "", i, i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, ",s=\"str\" 7000000\n");
	capture *c = cap_new();
	ingest_lp_result r;
	assert_int_equal(ingest_lp_parse(body, n, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	assert_int_equal(r.n_bad_lines, 0);
	assert_int_equal(r.n_samples, 150);
	assert_int_equal(r.n_string_fields_skipped, 1);
	for (int i = 0; i < 150; i++) {
		char want[32];
		snprintf(want, sizeof(want), "m_f%d{t=\"x\"}", i);
		assert_string_equal(c->s[i].series, want);
		assert_double_bits(c->s[i].v, (double)i);
		assert_int_equal(c->s[i].t_ms, 7);
	}
	/* the 150th field is bad: nothing of the point is delivered */
	n = (size_t)snprintf(body, sizeof(body), "m ");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%sf%d=%s", i ? "," : "", i,
				      i == 149 ? "bad" : "1");
	assert_int_equal(ingest_lp_parse(body, n, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	assert_int_equal(r.n_bad_lines, 1);
	assert_int_equal(r.n_samples, 0);
	free(c);
}

/* ================================================================ name caches */

/*
 * The parser remembers names and tag order from point to point. Parsing a body in one
 * call must give exactly what parsing each line in its own call gives.
 */
static void assert_same_as_line_by_line(const char *body)
{
	capture *whole = cap_new(), *single = cap_new();
	ingest_lp_result rw, rs;
	assert_int_equal(run(whole, body, &rw), TS_OK);
	size_t n_single = 0, bad_single = 0;
	const char *p = body;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		assert_int_equal(ingest_lp_parse(p, n, INGEST_PREC_NS, DEFAULT_T, NULL, cap_fn,
						 single, &rs, NULL),
				 TS_OK);
		bad_single += rs.n_bad_lines;
		for (; n_single < single->n && n_single < CAP_MAX; n_single++) {
			if (n_single >= whole->n)
				fail_msg("line '%.*s': extra sample", (int)n, p);
			cap_sample *a = &whole->s[n_single], *b = &single->s[n_single];
			if (strcmp(a->series, b->series) != 0 || a->t_ms != b->t_ms ||
			    memcmp(&a->v, &b->v, sizeof(a->v)) != 0)
				fail_msg("line '%.*s': %s %" PRId64 " %g != %s %" PRId64 " %g",
					 (int)n, p, a->series, a->t_ms, a->v, b->series, b->t_ms,
					 b->v);
		}
		p += n + (nl ? 1 : 0);
	}
	assert_int_equal(whole->n, single->n);
	assert_int_equal(rw.n_bad_lines, bad_single);
	free(whole);
	free(single);
}

static void test_ingest_lp_parse_cache_shape_changes(void **state)
{
	(void)state;
	assert_same_as_line_by_line(
	    "m,b=1,a=2 f=1,g=2\n"
	    "m,b=3,a=4 f=5,g=6\n" /* same shape: remembered order */
	    "m,b=1 f=3\n"         /* fewer tags */
	    "m,b=1,a=2 f=4\n"     /* back */
	    "m,b=1,c=2 f=5\n"     /* second key differs */
	    "m,b=1,a=2,a=3 f=1\n" /* duplicate after hits */
	    "m,b=1,a=2 f=6\n"
	    "m,a=1,b=2 f=6\n"     /* same keys, other order */
	    "m,b=1,a=2 g=7,f=8\n" /* fields swapped */
	    "n,b=1,a=2 g=7,f=8\n" /* other measurement, same keys */
	    "m,b=1,a=2 value=9,f=1\n"
	    "m,b=1,a=2 s=\"x\",f=1\n" /* string shifts the numeric positions */
	    "m,b=1,a=2 f=1,s=\"x\"\n"
	    "m,b\\ x=1,a=2 f\\ y=1\n" /* escaped keys */
	    "m,b_x=1,a=2 f_y=1\n"     /* same names, other raw keys */
	    "m\\ x,b=1 value=1\n"
	    "m_x,b=1 value=1\n"
	    "m f=1\n"
	    "m f=2\n"
	    "1m,__x=1,_y=2,9z=3 5f=1\n"
	    "1m,__x=1,_y=2,9z=3 5f=2\n"
	    "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm,"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=1 "
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff=1\n"
	    "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm,"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=2 "
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff=2\n"
	    "m,b=1,a=2 f=1\n");
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* A random name or tag value token of 1..20 pieces: letters, escapes, UTF-8 (also invalid),
 * and now and then a raw delimiter that ends or breaks the token. */
static size_t random_token(uint64_t *seed, char *out)
{
	static const char *const pieces[] = {
	    "a",   "Zq",       "_",    "9", "host", "\\ ",          "\\,", "\\=", "\\\\",
	    "\\x", "\xc3\xa9", "\xff", "-", ".",    "longer_piece", ",",   "=",   " "};
	size_t n = 0;
	int k = 1 + (int)(rng_next(seed) % 20);
	for (int i = 0; i < k; i++) {
		uint64_t r = rng_next(seed) % 100;
		const char *pc = pieces[r < 90 ? r % 15 : 15 + r % 3];
		size_t l = strlen(pc);
		memcpy(out + n, pc, l);
		n += l;
	}
	out[n] = '\0';
	return n;
}

/*
 * Tokens of every length with escapes, UTF-8 (valid and not) and stray delimiters: a body
 * parsed whole must give what its lines parsed alone give (each line's end right after
 * its last token, where the scanners and the number and timestamp readers cannot look
 * ahead).
 */
static void test_ingest_lp_parse_token_scan_random(void **state)
{
	(void)state;
	uint64_t seed = 7;
	char *body = malloc(1 << 16);
	assert_non_null(body);
	char tok[512];
	for (int round = 0; round < 40; round++) {
		size_t n = 0;
		for (int line = 0; line < 30; line++) {
			random_token(&seed, tok);
			n += (size_t)snprintf(body + n, 600, "%s", tok);
			int nt = (int)(rng_next(&seed) % 3);
			for (int t = 0; t < nt; t++) {
				random_token(&seed, tok);
				n += (size_t)snprintf(body + n, 600, ",%s=", tok);
				random_token(&seed, tok);
				n += (size_t)snprintf(body + n, 600, "%s", tok);
			}
			int nf = 1 + (int)(rng_next(&seed) % 3);
			for (int i = 0; i < nf; i++) {
				random_token(&seed, tok);
				n += (size_t)snprintf(body + n, 600, "%c%s=%d.5", i ? ',' : ' ',
						      tok, i);
			}
			if (rng_next(&seed) % 2)
				n += (size_t)snprintf(body + n, 600, " %d", line);
			body[n++] = '\n';
		}
		body[n] = '\0';
		assert_same_as_line_by_line(body);
	}
	free(body);
}

static void test_ingest_lp_parse_cache_random_shapes(void **state)
{
	(void)state;
	static const char *const meas[] = {"cpu", "mem", "1x", "a\\ b", "a_b", "cpu"};
	static const char *const keys[] = {"host",  "dc",  "a",    "b",  "__n",
					   "x\\=y", "x_y", "host", "9k", "Z"};
	static const char *const fkeys[] = {"value", "usage", "u\\,v", "u_v", "idle", "3m"};
	static const char *const vals[] = {"1", "-2.5", "3i", "t", "\"s\"", "7u", "x"};
	uint64_t seed = 42;
	char *body = malloc(1 << 16);
	assert_non_null(body);
	for (int round = 0; round < 20; round++) {
		size_t n = 0;
		for (int line = 0; line < 40; line++) {
			n += (size_t)snprintf(body + n, 128, "%s", meas[rng_next(&seed) % 6]);
			int nt = (int)(rng_next(&seed) % 4);
			for (int t = 0; t < nt; t++)
				n += (size_t)snprintf(body + n, 128, ",%s=v%d",
						      keys[rng_next(&seed) % 10], t);
			int nf = 1 + (int)(rng_next(&seed) % 4);
			for (int i = 0; i < nf; i++)
				n += (size_t)snprintf(body + n, 128, "%c%s=%s", i ? ',' : ' ',
						      fkeys[rng_next(&seed) % 6],
						      vals[rng_next(&seed) % 7]);
			n += (size_t)snprintf(body + n, 128, " %d\n", line);
		}
		body[n] = '\0';
		assert_same_as_line_by_line(body);
	}
	free(body);
}

/* ================================================================ sink, args, memory */

static void test_ingest_lp_parse_sink_abort_propagates(void **state)
{
	(void)state;
	capture *c = cap_new();
	c->abort_at = 3;
	c->abort_code = TS_EBUSY;
	ingest_lp_result r;
	ts_err e = {0};
	const char *body = "m a=1,b=2\nm c=3,d=4\nm e=5\n";
	assert_int_equal(
	    ingest_lp_parse(body, strlen(body), INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, &e),
	    TS_EBUSY);
	assert_int_equal(c->n, 3); /* no call after the abort */
	assert_int_equal(r.n_samples, 2);
	assert_int_equal(r.n_lines, 2);
	assert_int_equal(e.code, TS_EBUSY);
	assert_non_null(strstr(e.msg, "line 2"));
	assert_non_null(strstr(e.msg, "EBUSY"));
	/* any negative code passes through, also in the many-fields path */
	char big[2048];
	size_t n = (size_t)snprintf(big, sizeof(big), "m ");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%sf%d=1", i ? "," : "", i);
	c->n = 0;
	c->abort_at = 80;
	c->abort_code = TS_EUNAVAIL;
	assert_int_equal(ingest_lp_parse(big, n, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_EUNAVAIL);
	assert_int_equal(r.n_samples, 79);
	free(c);
}

static void test_ingest_lp_parse_bad_arguments(void **state)
{
	(void)state;
	capture *c = cap_new();
	ts_err e = {0};
	ingest_lp_result r;
	assert_int_equal(ingest_lp_parse(NULL, 3, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, &e),
			 TS_EINVAL);
	assert_int_equal(ingest_lp_parse("m f=1", 5, INGEST_PREC_NS, 0, NULL, NULL, c, &r, &e),
			 TS_EINVAL);
	assert_int_equal(
	    ingest_lp_parse("m f=1", 5, (ingest_precision)42, 0, NULL, cap_fn, c, &r, &e),
	    TS_EINVAL);
	/* res and err may be NULL */
	assert_int_equal(
	    ingest_lp_parse("m f=1", 5, INGEST_PREC_NS, 0, NULL, cap_fn, c, NULL, NULL), TS_OK);
	assert_int_equal(c->n, 1);
	free(c);
}

static void test_ingest_lp_parse_alloc_failure(void **state)
{
	(void)state;
	/* a body large enough to need heap scratch */
	size_t cap = 200000, n = 0;
	char *body = malloc(cap);
	assert_non_null(body);
	while (n + 64 < cap)
		n += (size_t)snprintf(body + n, cap - n, "cpu,host=h%zu,dc=x usage=%zu\n", n, n);
	capture *c = cap_new();
	c->keep = false;
	ingest_lp_result r;
	ts_err e = {0};
	ts_alloc_fail_after(0);
	int rc = ingest_lp_parse(body, n, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, &e);
	ts_alloc_fail_after(-1);
	assert_int_equal(rc, TS_ENOMEM);
	assert_int_equal(c->n, 0);
	assert_non_null(strstr(e.msg, "scratch"));
	uint64_t before = ts_alloc_bytes();
	assert_int_equal(ingest_lp_parse(body, n, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, &e),
			 TS_OK);
	assert_int_equal(r.n_bad_lines, 0);
	assert_true(r.n_samples > 1000);
	assert_int_equal(ts_alloc_bytes(), before); /* scratch freed */
	free(body);
	free(c);
}

/* ================================================================ shared data sets */

/* Read a (possibly gzip-compressed) file into memory; NULL if missing. */
static char *slurp(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		if (cap - n < 65536) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		int got = gzread(f, buf + n, 65536);
		assert_true(got >= 0);
		if (got == 0)
			break;
		n += (size_t)got;
	}
	gzclose(f);
	*len = n;
	return buf;
}

/* ================================================================ number fast paths */

/*
 * Short decimals ([-]digits[.digits], up to 15 digits) take a fast path that reads 8
 * bytes at a time when 17 bytes or more follow the value, and a byte loop near the end
 * of the body: every literal is parsed in both positions (a timestamp after it, and
 * alone at the very end) and must give strtod's double bit for bit. Longer literals,
 * exponents and suffixes leave the fast path; they are in the mix too.
 */
static void check_literal(capture *c, const char *lit)
{
	char body[160];
	for (int at_end = 0; at_end < 2; at_end++) {
		snprintf(body, sizeof(body), at_end ? "m f=%s" : "m f=%s 1465839830100400200\n",
			 lit);
		ingest_lp_result r;
		assert_int_equal(run(c, body, &r), TS_OK);
		char *e;
		double want = strtod(lit, &e);
		bool valid = *e == '\0' && e != lit && !isinf(want);
		if (!valid) {
			if (r.n_bad_lines != 1)
				fail_msg("'%s' (at end %d): accepted", lit, at_end);
			continue;
		}
		if (r.n_bad_lines)
			fail_msg("'%s' (at end %d): %s", lit, at_end, r.first_error);
		assert_int_equal(c->n, 1);
		if (memcmp(&c->s[0].v, &want, sizeof(want)) != 0)
			fail_msg("'%s' (at end %d): got %.17g, strtod %.17g", lit, at_end,
				 c->s[0].v, want);
	}
}

static void test_ingest_lp_parse_short_decimals_match_strtod(void **state)
{
	(void)state;
	static const char *const fixed[] = {
	    "0",
	    "-0",
	    "-0.0",
	    "0.",
	    ".0",
	    "1.",
	    ".5",
	    "-.5",
	    "17.17",
	    "-17.17",
	    "100.00",
	    "0.1",
	    "0.3",
	    "9999999",
	    "99999999",
	    "999999999999999",
	    "9999999999999999",
	    "1234567.1234567",
	    "12345678.1234567",
	    "1234567.12345678",
	    "0.0000001",
	    "0.00000001",
	    "0.000000000000001",
	    "9007199254740993",
	    "00000000000000000000001.5",
	    "1e5",
	    "1.5e3",
	    "1.5E-3",
	    "12.",
	    "-",
	    ".",
	    "-.",
	    "1..5",
	    "1.2.3",
	    "1-2",
	    "--1",
	    "1.5x",
	};
	capture *c = cap_new();
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_literal(c, fixed[i]);
	/* random: 0-9 integer digits (leading zeros too), an optional dot, 0-9 fraction
	 * digits, a sign now and then */
	uint64_t x = 0x243F6A8885A308D3ull;
	for (int i = 0; i < 20000; i++) {
		char lit[32];
		size_t k = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x % 5 == 0)
			lit[k++] = '-';
		int n_int = (int)((x >> 8) % 10), n_frac = (int)((x >> 16) % 10);
		bool dot = (x >> 24) % 4 != 0;
		if (n_int == 0 && (!dot || n_frac == 0))
			n_int = 1;
		for (int d = 0; d < n_int; d++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			lit[k++] = (char)('0' + (int)(x % 10));
		}
		if (dot) {
			lit[k++] = '.';
			for (int d = 0; d < n_frac; d++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				lit[k++] = (char)('0' + (int)(x % 10));
			}
		}
		lit[k] = '\0';
		check_literal(c, lit);
	}
	free(c);
}

/*
 * Timestamps of 16 digits and more are read 16 digits at once: lengths 15 to 21, the
 * int64 bounds, a non-digit inside the first 16 bytes, each followed by another line
 * (the fast path) and at the end of the body (byte loop).
 */
static void test_ingest_lp_parse_timestamp_digits(void **state)
{
	(void)state;
	static const struct {
		const char *ts;
		int64_t want_ms; /* INT64_MIN: "timestamp out of range"; INT64_MAX: "invalid" */
	} cases[] = {
	    {"145160640000000", 145160640},           {"1451606400000000", 1451606400},
	    {"14516064000000000", 14516064000},       {"1451606400000000000", 1451606400000},
	    {"-1451606400000000001", -1451606400001}, {"0000000000000000001", 0},
	    {"00000000000000000000000001", 0},        {"9223372036854775807", 9223372036854},
	    {"-9223372036854775808", -9223372036855}, {"9223372036854775808", INT64_MIN},
	    {"-9223372036854775809", INT64_MIN},      {"18446744073709551615", INT64_MIN},
	    {"18446744073709551616", INT64_MIN},      {"99999999999999999999", INT64_MIN},
	    {"145160640000000a000", INT64_MAX},       {"1451606400000000000x", INT64_MAX},
	    {"1451606400:00000000", INT64_MAX},       {"-", INT64_MAX},
	};
	capture *c = cap_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int at_end = 0; at_end < 2; at_end++) {
			char body[128];
			snprintf(body, sizeof(body), "m f=1 %s%s", cases[i].ts,
				 at_end ? "" : "\nm f=2 1\n");
			ingest_lp_result r;
			assert_int_equal(run(c, body, &r), TS_OK);
			if (cases[i].want_ms == INT64_MIN || cases[i].want_ms == INT64_MAX) {
				const char *want = cases[i].want_ms == INT64_MIN
						       ? "timestamp out of range"
						       : "invalid timestamp";
				const char *got = strstr(r.first_error, "': ");
				if (r.n_bad_lines != 1 || !got || strcmp(got + 3, want) != 0)
					fail_msg("'%s': got '%s', want '%s'", cases[i].ts,
						 r.first_error, want);
				continue;
			}
			if (r.n_bad_lines)
				fail_msg("'%s': %s", cases[i].ts, r.first_error);
			if (c->s[0].t_ms != cases[i].want_ms)
				fail_msg("'%s': got %" PRId64 ", want %" PRId64, cases[i].ts,
					 c->s[0].t_ms, cases[i].want_ms);
		}
	}
	free(c);
}

/* ================================================================ series cache */

/*
 * The series cache (parse_point with the sink ingest_batch_add: prediction of the next
 * point's entry, known field keys, key sequences) must not change a result: a body
 * parsed whole (cache on) writes exactly the log records of the same body parsed line
 * by line (each call under LP_PC_MIN_BODY bytes: cache off). The pipeline runs over a
 * memory store and a 2-partition embedded log; the log's records are dumped as text.
 */
/* Parse body whole or line by line into one batch, commit, return the log as text. */
static char *sc_write(const char *name, const char *body, size_t len, const ingest_limits *lim,
		      bool by_line, ingest_lp_result *sum)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", test_fresh_dir(name));
	tsdb_options to;
	tsdb_options_init(&to);
	tsdb_db *db = NULL;
	assert_int_equal(tsdb_open(&to, &db, NULL), TS_OK);
	ingest_log_local_options lo = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	lo.dir = dir;
	lo.n_partitions = 2;
	lo.no_sync = true;
	ingest_log *log = NULL;
	ts_err err = {0};
	if (ingest_log_local_open(&lo, &log, &err))
		fail_msg("log: %s", err.msg);
	ingest_options io;
	ingest_options_init(&io);
	io.db = db;
	io.log = log;
	ingest_pipeline *p = NULL;
	if (ingest_open(&io, &p, &err))
		fail_msg("ingest_open: %s", err.msg);

	ingest_batch *b;
	assert_int_equal(ingest_batch_begin(p, &b, NULL), TS_OK);
	test_lp_parse_into(b, body, len, by_line, lim, sum);
	ingest_write_result wr;
	memset(&wr, 0, sizeof(wr));
	assert_int_equal(ingest_batch_commit(b, &wr, NULL), TS_OK);
	ingest_batch_free(b);
	assert_int_equal(wr.n_samples, sum->n_samples);

	char *dump = test_log_dump_all(log);
	ingest_close(p);
	ingest_log_close(log);
	tsdb_close(db);
	test_rm_rf(dir);
	return dump ? dump : strdup("");
}

static void sc_same(const char *body, const ingest_limits *lim, size_t min_cached)
{
	size_t len = strlen(body);
	ingest_lp_result whole, lines;
	char *a = sc_write("lp_cache_whole", body, len, lim, false, &whole);
	char *b = sc_write("lp_cache_lines", body, len, lim, true, &lines);
	if (whole.n_cached_points < min_cached)
		fail_msg("only %zu cached points", whole.n_cached_points);
	assert_int_equal(lines.n_cached_points, 0);
	assert_int_equal(whole.n_lines, lines.n_lines);
	assert_int_equal(whole.n_samples, lines.n_samples);
	assert_int_equal(whole.n_bad_lines, lines.n_bad_lines);
	assert_int_equal(whole.n_string_fields_skipped, lines.n_string_fields_skipped);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

#define SC_CAP (1 << 20)

/* Append a formatted line to the body under construction. */
static void sc_add(char *s, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sc_add(char *s, size_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(s + *n, SC_CAP - *n, fmt, ap);
	va_end(ap);
	assert_true(k > 0 && *n + (size_t)k < SC_CAP);
	*n += (size_t)k;
}

/*
 * devops-like steps (hosts in the same order, ten fields each) with one host per step
 * changed: fields reordered, fewer, more, a string or integer among them, a long or bad
 * value, an escaped key, a host out of order, a repeated line, another measurement.
 */
static void test_ingest_lp_parse_series_cache_predicted_points(void **state)
{
	(void)state;
	static const char *const keys[] = {
	    "usage_user", "usage_system",  "usage_idle",  "usage_nice",  "usage_iowait",
	    "usage_irq",  "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};
	enum { HOSTS = 24, STEPS = 9 };
	char *s = malloc(SC_CAP);
	assert_non_null(s);
	size_t n = 0;
	uint32_t x = 7;
	for (int t = 0; t < STEPS; t++) {
		for (int h0 = 0; h0 < HOSTS; h0++) {
			int h = h0;
			int twist = (t * 7 + h0) % (HOSTS + 3); /* which change, if any */
			if (twist == 11 && h0 + 1 < HOSTS)
				h = h0 + 1; /* two hosts swapped: a wrong prediction */
			else if (twist == 12 && h0 > 0)
				h = h0 - 1;
			sc_add(s, &n, "cpu,hostname=host_%d,region=r%d,rack=%d ", h, h % 3, h * 7);
			for (int f = 0; f < 10; f++) {
				x = x * 1103515245u + 12345u;
				int k = f;
				if (twist == 1)
					k = 9 - f; /* reordered */
				if (twist == 2 && f == 7)
					break; /* fewer */
				sc_add(s, &n, "%s%s=", f ? "," : "", keys[k]);
				if (twist == 3 && f == 4)
					sc_add(s, &n, "\"a b\",x=");
				if (twist == 4 && f == 5)
					sc_add(s, &n, "%ui", x % 1000);
				else if (twist == 5 && f == 6)
					sc_add(s, &n, "12345678901234567.5");
				else if (twist == 6 && f == 8)
					sc_add(s, &n, "1.2.3");
				else if (twist == 7 && f == 2)
					sc_add(s, &n, "1.5e%u", x % 7);
				else
					sc_add(s, &n, "%u.%02u", (x >> 8) % 100, (x >> 16) % 100);
			}
			if (twist == 8)
				sc_add(s, &n, ",extra=1");
			if (twist == 9)
				sc_add(s, &n, ",usage\\ x=2");
			sc_add(s, &n, " %d\n", 1700000000 + t * 10);
			if (twist == 10) /* the same line again */
				sc_add(s, &n,
				       "cpu,hostname=host_%d,region=r%d,rack=%d usage_user=1 "
				       "%d\n",
				       h, h % 3, h * 7, 1700000000 + t * 10 + 1);
			if (twist == 13)
				sc_add(s, &n,
				       "mem,hostname=host_%d,region=r%d,rack=%d used=%u %d\n", h,
				       h % 3, h * 7, x % 100, 1700000000 + t * 10);
		}
	}
	s[n] = '\0';
	sc_same(s, NULL, (STEPS - 1) * HOSTS);
	free(s);
}

/*
 * Points that look like the predicted or remembered ones but are not: a prefix that
 * starts with the predicted entry's prefix ("t=b" then "t=bb"), and two points in a row
 * with the same field keys that differ from the second one's entry's keys.
 */
static void test_ingest_lp_parse_series_cache_lookalikes(void **state)
{
	(void)state;
	char *s = malloc(SC_CAP);
	assert_non_null(s);
	size_t n = 0;
	sc_add(s, &n, "#");
	for (int i = 0; i < 2100; i++)
		sc_add(s, &n, "c");
	sc_add(s, &n, "\n");
	for (int t = 0; t < 3; t++) { /* a, b, c in this order: predictions learnt */
		sc_add(s, &n, "m,k=1,t=a x=%d,y=1 %d\n", t, t);
		sc_add(s, &n, "m,k=1,t=b x=%d,y=2 %d\n", t, t);
		sc_add(s, &n, "m,k=1,t=c x=%d,y=3 %d\n", t, t);
	}
	sc_add(s, &n, "m,k=1,t=a x=5,y=1 5\n");
	sc_add(s, &n, "m,k=1,t=bb x=5,y=2 5\n"); /* starts with the predicted "m,k=1,t=b" */
	sc_add(s, &n, "m,k=1,t=b x=5,y=2 5\n");
	sc_add(s, &n, "m,k=1,t=a y=6,x=1 6\n"); /* keys swapped in two points in a row */
	sc_add(s, &n, "m,k=1,t=b y=6,x=2 6\n");
	sc_add(s, &n, "m,k=1,t=c y=6,x=3 6\n");
	sc_add(s, &n, "m,k=1,t=a y=7,x=1 7\n");
	sc_add(s, &n, "m,k=1,t=b x=7,y=2 7\n");
	sc_add(s, &n, "m,k=1,t=c x=7 7\n");
	sc_add(s, &n, "m,k=1,t=a x=8,y=1,z=1 8\n");
	sc_add(s, &n, "m,k=1,t=b x=8,y=2,z=2 8\n");
	sc_add(s, &n, "m,k=1,t=p x=9,y=1 9\n"); /* keys that differ from the previous ... */
	sc_add(s, &n, "m,k=1,t=q z=9,y=2 9\n"); /* ... point's in the first key only */
	sc_add(s, &n, "m,k=1,t=p z=9,y=3 9\n");
	sc_add(s, &n, "m,k=1,t=d x=10 10\n"); /* an entry with fewer refs ... */
	sc_add(s, &n, "m,k=1,t=e y=10 10\n"); /* ... than the next point with its prefix */
	sc_add(s, &n, "m,k=1,t=d x=11,y=11 11\n");
	for (int t = 12; t < 14; t++) { /* the same with cache hits */
		sc_add(s, &n, "m,k=1,t=r x=%d,y=1 %d\n", t, t);
		sc_add(s, &n, "m,k=1,t=s z=%d,y=2 %d\n", t, t);
	}
	sc_add(s, &n, "m,k=1,t=r z=14,y=3 14\n");
	s[n] = '\0';
	sc_same(s, NULL, 15);
	free(s);
}

/*
 * A cache hit whose fields take the general path checks the field keys against its own
 * measurement's length, not the previous point's (max_name_bytes 12: "ab_kkkkkkkkk" fits,
 * "abcdefghij_kkkkkkkkk" would not).
 */
static void test_ingest_lp_parse_series_cache_name_limit(void **state)
{
	(void)state;
	ingest_limits lim = INGEST_LIMITS_DEFAULT;
	lim.max_name_bytes = 12;
	char *s = malloc(SC_CAP);
	assert_non_null(s);
	size_t n = 0;
	sc_add(s, &n, "#");
	for (int i = 0; i < 2100; i++)
		sc_add(s, &n, "c"); /* a comment line makes the body large enough for the cache */
	sc_add(s, &n, "\n");
	for (int i = 0; i < 4; i++) {
		sc_add(s, &n, "ab,t=1 kkkkkkkkk=%d %d\n", i, 10 * i);
		sc_add(s, &n, "abcdefghij,t=1 x=%d %d\n", i, 10 * i);
		sc_add(s, &n, "ab,t=1 y=%d,kkkkkkkkk=%d %d\n", i, i, 10 * i + 1);
		sc_add(s, &n, "ab,t=1 kkkkkkkkkk=%d %d\n", i, 10 * i + 2); /* too long */
	}
	s[n] = '\0';
	size_t len = strlen(s);
	ingest_lp_result whole, lines;
	char *a = sc_write("lp_cache_whole", s, len, &lim, false, &whole);
	char *b = sc_write("lp_cache_lines", s, len, &lim, true, &lines);
	assert_true(whole.n_cached_points >= 10);
	assert_int_equal(lines.n_cached_points, 0);
	assert_int_equal(whole.n_bad_lines, 4);
	assert_int_equal(lines.n_bad_lines, 4);
	assert_int_equal(whole.n_samples, 16);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(s);
}

static size_t count_lines(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

static void test_ingest_lp_parse_nab_sample(void **state)
{
	(void)state;
	capture *c = cap_new();
	cap_sample *s = one(c, "realAWSCloudwatch,source=ec2_cpu_utilization_24ae8d value=0.132 "
			       "1392388200000000000\n");
	assert_string_equal(s->series, "realAWSCloudwatch{source=\"ec2_cpu_utilization_24ae8d\"}");
	assert_int_equal(s->t_ms, 1392388200000);
	assert_double_bits(s->v, 0.132);

	size_t len;
	char *body = slurp(STRATA_SHARED_DATA "/nab/nab.lp", &len);
	if (!body) {
		free(c);
		skip();
	}
	ingest_lp_result r;
	c->keep = false;
	c->n = 0;
	assert_int_equal(ingest_lp_parse(body, len, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	if (r.n_bad_lines)
		fail_msg("%s", r.first_error);
	assert_int_equal(r.n_lines, count_lines(body, len));
	assert_int_equal(r.n_samples, r.n_lines);
	free(body);
	free(c);
}

static void test_ingest_lp_parse_devops_sample(void **state)
{
	(void)state;
	static const char *const fields[] = {
	    "usage_user", "usage_system",  "usage_idle",  "usage_nice",  "usage_iowait",
	    "usage_irq",  "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};
	static const double values[] = {88.48, 56.98, 54.38, 88.90, 30.47,
					18.10, 12.61, 7.77,  11.14, 66.02};
	capture *c = cap_new();
	ingest_lp_result r;
	const char *line =
	    "cpu,hostname=host_0,region=ap-southeast-1,datacenter=ap-southeast-1a,rack=98,"
	    "os=Ubuntu16.04LTS,arch=x64,team=NYC,service=7,service_version=1,"
	    "service_environment=staging usage_user=88.48,usage_system=56.98,usage_idle=54.38,"
	    "usage_nice=88.90,usage_iowait=30.47,usage_irq=18.10,usage_softirq=12.61,"
	    "usage_steal=7.77,usage_guest=11.14,usage_guest_nice=66.02 1451606400000000000\n";
	assert_int_equal(run(c, line, &r), TS_OK);
	assert_int_equal(r.n_samples, 10);
	for (size_t i = 0; i < 10; i++) {
		char want[512];
		snprintf(
		    want, sizeof(want),
		    "cpu_%s{arch=\"x64\",datacenter=\"ap-southeast-1a\",hostname=\"host_0\","
		    "os=\"Ubuntu16.04LTS\",rack=\"98\",region=\"ap-southeast-1\",service=\"7\","
		    "service_environment=\"staging\",service_version=\"1\",team=\"NYC\"}",
		    fields[i]);
		assert_string_equal(c->s[i].series, want);
		assert_int_equal(c->s[i].t_ms, 1451606400000);
		assert_double_bits(c->s[i].v, values[i]);
	}

	size_t len;
	char *body = slurp(STRATA_SHARED_DATA "/devops/devops_100h_1h.lp.gz", &len);
	if (!body) {
		free(c);
		skip();
	}
	c->n = 0;
	assert_int_equal(ingest_lp_parse(body, len, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	if (r.n_bad_lines)
		fail_msg("%s", r.first_error);
	assert_int_equal(r.n_lines, 36000);
	assert_int_equal(r.n_samples, 360000);
	free(body);
	free(c);
}

static void test_ingest_lp_parse_node_exporter_sample(void **state)
{
	(void)state;
	capture *c = cap_new();
	cap_sample *s =
	    one(c, "node_os_info,id=debian,name=Debian\\ GNU/Linux,pretty_name=Debian\\ "
		   "GNU/Linux\\ 12\\ (bookworm),version=12\\ (bookworm),version_codename="
		   "bookworm,version_id=12 value=1 1795231500004000000");
	assert_string_equal(
	    s->series, "node_os_info{id=\"debian\",name=\"Debian GNU/Linux\",pretty_name=\"Debian "
		       "GNU/Linux 12 (bookworm)\",version=\"12 (bookworm)\",version_codename="
		       "\"bookworm\",version_id=\"12\"}");
	assert_int_equal(s->t_ms, 1795231500004);
	s = one(c, "go_gc_duration_seconds,quantile=0.25 value=0 1795231500004000000");
	assert_string_equal(s->series, "go_gc_duration_seconds{quantile=\"0.25\"}");

	size_t len;
	char *body = slurp(STRATA_SHARED_DATA "/node_exporter/node_exporter_10m.lp.gz", &len);
	if (!body) {
		free(c);
		skip();
	}
	ingest_lp_result r;
	c->keep = false;
	c->n = 0;
	assert_int_equal(ingest_lp_parse(body, len, INGEST_PREC_NS, 0, NULL, cap_fn, c, &r, NULL),
			 TS_OK);
	if (r.n_bad_lines)
		fail_msg("%s", r.first_error);
	assert_int_equal(r.n_lines, count_lines(body, len));
	assert_int_equal(r.n_samples, r.n_lines);
	free(body);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_precision_parse_all_names),
	    cmocka_unit_test(test_ingest_precision_parse_unknown),
	    cmocka_unit_test(test_ingest_lp_parse_basic_point),
	    cmocka_unit_test(test_ingest_lp_parse_value_field_uses_measurement),
	    cmocka_unit_test(test_ingest_lp_parse_no_tags),
	    cmocka_unit_test(test_ingest_lp_parse_labels_sorted_with_name),
	    cmocka_unit_test(test_ingest_lp_parse_sanitizes_names),
	    cmocka_unit_test(test_ingest_lp_parse_reserved_label_names),
	    cmocka_unit_test(test_ingest_lp_parse_escapes_measurement),
	    cmocka_unit_test(test_ingest_lp_parse_escapes_tags),
	    cmocka_unit_test(test_ingest_lp_parse_escapes_tags_trailing_backslash),
	    cmocka_unit_test(test_ingest_lp_parse_escapes_field_keys),
	    cmocka_unit_test(test_ingest_lp_parse_string_fields_skipped),
	    cmocka_unit_test(test_ingest_lp_parse_integers),
	    cmocka_unit_test(test_ingest_lp_parse_integers_bad),
	    cmocka_unit_test(test_ingest_lp_parse_floats),
	    cmocka_unit_test(test_ingest_lp_parse_floats_random_match_strtod),
	    cmocka_unit_test(test_ingest_lp_parse_floats_bad),
	    cmocka_unit_test(test_ingest_lp_parse_nan_inf_rejected),
	    cmocka_unit_test(test_ingest_lp_parse_booleans),
	    cmocka_unit_test(test_ingest_lp_parse_missing_timestamp_uses_default),
	    cmocka_unit_test(test_ingest_lp_parse_precision_conversion),
	    cmocka_unit_test(test_ingest_lp_parse_timestamp_out_of_range),
	    cmocka_unit_test(test_ingest_lp_parse_timestamp_bad),
	    cmocka_unit_test(test_ingest_lp_parse_comments_and_blank_lines),
	    cmocka_unit_test(test_ingest_lp_parse_crlf_line_endings),
	    cmocka_unit_test(test_ingest_lp_parse_empty_body),
	    cmocka_unit_test(test_ingest_lp_parse_not_nul_terminated),
	    cmocka_unit_test(test_ingest_lp_parse_bad_lines_messages),
	    cmocka_unit_test(test_ingest_lp_parse_bad_line_nul_byte),
	    cmocka_unit_test(test_ingest_lp_parse_bad_line_full_message),
	    cmocka_unit_test(test_ingest_lp_parse_partial_write_keeps_good_lines),
	    cmocka_unit_test(test_ingest_lp_parse_unterminated_quote_swallows_rest),
	    cmocka_unit_test(test_ingest_lp_parse_bad_line_resync_after_string),
	    cmocka_unit_test(test_ingest_lp_parse_limits),
	    cmocka_unit_test(test_ingest_lp_parse_long_values_within_limits),
	    cmocka_unit_test(test_ingest_lp_parse_many_fields),
	    cmocka_unit_test(test_ingest_lp_parse_cache_shape_changes),
	    cmocka_unit_test(test_ingest_lp_parse_cache_random_shapes),
	    cmocka_unit_test(test_ingest_lp_parse_token_scan_random),
	    cmocka_unit_test(test_ingest_lp_parse_sink_abort_propagates),
	    cmocka_unit_test(test_ingest_lp_parse_bad_arguments),
	    cmocka_unit_test(test_ingest_lp_parse_alloc_failure),
	    cmocka_unit_test(test_ingest_lp_parse_nab_sample),
	    cmocka_unit_test(test_ingest_lp_parse_devops_sample),
	    cmocka_unit_test(test_ingest_lp_parse_node_exporter_sample),
	    cmocka_unit_test(test_ingest_lp_parse_short_decimals_match_strtod),
	    cmocka_unit_test(test_ingest_lp_parse_timestamp_digits),
	    cmocka_unit_test(test_ingest_lp_parse_series_cache_predicted_points),
	    cmocka_unit_test(test_ingest_lp_parse_series_cache_lookalikes),
	    cmocka_unit_test(test_ingest_lp_parse_series_cache_name_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
