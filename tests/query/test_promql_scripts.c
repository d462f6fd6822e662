/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_promql_scripts.c: runs the data-driven PromQL scripts in tests/query/data/ (one .test file
 * each), written in Prometheus' promqltest format (promql/testdata), against the real evaluator
 * over an in-memory store. One cmocka test per script file.
 *
 * Commands (one per line; blank lines end a block; '#' starts a comment line):
 *   load <interval>                 followed by `<series> <values>` lines; values use
 *                                   the series notation: `1 2 _ stale 3+2x4 _x3 5x2
 *                                   1-1x3 Inf -Inf NaN` (`a+bxN` is N+1 values built by
 *                                   repeated addition, `axN` N+1 copies, `_xN` N gaps).
 *                                   The k-th value is at k*interval after time 0.
 *   clear                           start over with an empty store.
 *   eval instant at <t> <expr>      followed by the expected result lines:
 *                                   `{a="b"} 1`, `name{a="b"} 1`, or a bare number for
 *                                   a scalar. The order is ignored, values are compared
 *                                   like promqltest's almostEqual (relative 1e-6, NaN
 *                                   equals NaN). As promqltest does, the expression is
 *                                   also run as a range query from t-1m to t+1m (step 1m)
 *                                   whose middle step must give the same result.
 *   eval_ordered instant at <t> <e> the same, and the order must match too.
 *   eval_fail instant at <t> <e>    the query must fail; an optional next line
 *                                   `expected_fail_message <text>` must be contained in
 *                                   the error message.
 *   eval range from <t0> to <t1> step <d> <expr>
 *                                   (newer promqltest syntax) followed by
 *                                   `{labels} <values>` lines in series notation, `_`
 *                                   for steps without a value.
 *   eval_fail range from ...        the range query must fail.
 * Times are durations from 0 (`50m`, `1h5m`, `0`).
 *
 * The expected results were checked against Prometheus 2.42 itself: instant evals with
 * `promtool test rules` (whose series order is random, so the scripts avoid ties that
 * depend on it), range evals with a prometheus server over the same data (or, for data
 * with staleness markers, promtool at every step). Running the binary with script paths
 * as arguments runs just those files.
 */
#include "query/eval.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_LINE   8192
#define MAX_EXPECT 1024
#define MAX_VALUES 4096

/* Totals over all files, printed at the end. */
static size_t g_cases, g_failed_cases;

/* ================================================================ small helpers */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static bool almost_equal(double a, double b)
{
	const double eps = 0.000001, min_normal = 2.2250738585072014e-308;
	if (isnan(a) && isnan(b))
		return true;
	if (a == b)
		return true;
	double diff = fabs(a - b);
	if (a == 0 || b == 0 || diff < min_normal)
		return diff < eps * min_normal;
	return diff / (fabs(a) + fabs(b)) < eps;
}

static bool parse_number(const char *s, double *out)
{
	if (!strcmp(s, "Inf") || !strcmp(s, "+Inf") || !strcmp(s, "inf")) {
		*out = INFINITY;
		return true;
	}
	if (!strcmp(s, "-Inf") || !strcmp(s, "-inf")) {
		*out = -INFINITY;
		return true;
	}
	if (!strcmp(s, "NaN") || !strcmp(s, "nan")) {
		*out = NAN;
		return true;
	}
	char *end;
	*out = strtod(s, &end);
	return end != s && *end == '\0';
}

static bool parse_time(const char *s, int64_t *out)
{
	ts_err e = {0};
	if (ts_parse_duration_ms(s, strlen(s), out, &e) == TS_OK)
		return true;
	double v;
	if (parse_number(s, &v)) {
		*out = (int64_t)(v * 1000);
		return true;
	}
	return false;
}

/* Split "series rest": the series ends after its closing brace or at a blank. */
static char *split_series(char *line, char **rest)
{
	char *p = line;
	bool in_q = false;
	int depth = 0;
	for (; *p; p++) {
		if (in_q) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_q = false;
			continue;
		}
		if (*p == '"')
			in_q = true;
		else if (*p == '{')
			depth++;
		else if (*p == '}') {
			depth--;
			if (depth == 0) {
				p++;
				break;
			}
		} else if ((*p == ' ' || *p == '\t') && depth == 0)
			break;
	}
	if (*p) {
		*p = '\0';
		*rest = trim(p + 1);
	} else {
		*rest = p;
	}
	return line;
}

/* Labels of a series description ("name{a="b"}", "{a="b"}", "{}"), sorted; strings are
 * owned by the returned arena. */
static bool parse_labels(query_arena *a, const char *desc, ts_label **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (!strcmp(desc, "{}"))
		return true;
	ts_matcher *m;
	size_t nm;
	ts_err e = {0};
	if (query_parse_selector(desc, strlen(desc), &m, &nm, &e) != TS_OK) {
		print_error("bad series description %s: %s\n", desc, e.msg);
		return false;
	}
	ts_label *l = query_arena_alloc(a, (nm + 1) * sizeof(*l));
	size_t n = 0;
	bool ok = true;
	for (size_t i = 0; i < nm; i++) {
		if (m[i].type != TS_MATCH_EQ) {
			ok = false;
			continue;
		}
		l[n].name = query_arena_strdup(a, m[i].name);
		l[n].value = query_arena_strdup(a, m[i].value);
		n++;
	}
	query_matchers_free(m, nm);
	if (!ok || ts_labels_normalize(l, &n, &e) != TS_OK)
		return false;
	*out = l;
	*n_out = n;
	return true;
}

/* Series notation: values[i] (NAN with has[i] false for a gap; stale flagged). */
typedef struct seq {
	double v[MAX_VALUES];
	bool has[MAX_VALUES];
	bool stale[MAX_VALUES];
	size_t n;
} seq;

static bool seq_push(seq *s, double v, bool has, bool stale)
{
	if (s->n >= MAX_VALUES)
		return false;
	s->v[s->n] = v;
	s->has[s->n] = has;
	s->stale[s->n] = stale;
	s->n++;
	return true;
}

static bool parse_seq(char *text, seq *s)
{
	s->n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(text, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(tok, "stale")) {
			if (!seq_push(s, 0, true, true))
				return false;
			continue;
		}
		char *x = strchr(tok, 'x');
		long times = 0;
		if (x) {
			char *end;
			times = strtol(x + 1, &end, 10);
			if (*end || times < 0)
				return false;
			*x = '\0';
		}
		if (!strcmp(tok, "_")) {
			for (long i = 0; i < (x ? times : 1); i++)
				if (!seq_push(s, 0, false, false))
					return false;
			continue;
		}
		/* a, a+b, a-b (the operator is the first sign after the first character). */
		char *op = NULL;
		for (char *p = tok + 1; *p; p++)
			if ((*p == '+' || *p == '-') && p[-1] != 'e' && p[-1] != 'E') {
				op = p;
				break;
			}
		double a, d = 0;
		if (op) {
			char sign = *op;
			*op = '\0';
			if (!parse_number(tok, &a) || !parse_number(op + 1, &d))
				return false;
			if (sign == '-')
				d = -d;
		} else if (!parse_number(tok, &a)) {
			return false;
		}
		if (!seq_push(s, a, true, false))
			return false;
		for (long i = 1; x && i <= times; i++) {
			a += d;
			if (!seq_push(s, a, true, false))
				return false;
		}
	}
	return true;
}

/* ================================================================ a script run */

typedef struct expect {
	ts_label *labels;
	size_t n_labels;
	bool is_scalar;
	seq *values; /* range: per step; instant: values->v[0] */
	bool seen;
} expect;

typedef struct script {
	const char *file;
	size_t line_no;
	tsdb_db *db;
	query_engine *eng;
	query_arena *arena; /* expectations and loaded labels */
	size_t failures;
	size_t cases;
} script;

static void script_fail(script *s, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void script_fail(script *s, size_t line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("%s:%zu: %s\n", s->file, line, msg);
	s->failures++;
}

static int open_store(script *s)
{
	tsdb_options o;
	tsdb_options_init(&o);
	o.out_of_order_window_ms = INT64_MAX / 4;
	if (tsdb_open(&o, &s->db, NULL))
		return -1;
	query_options qo;
	query_options_init(&qo);
	qo.db = s->db;
	return query_engine_new(&qo, &s->eng, NULL);
}

static void close_store(script *s)
{
	query_engine_free(s->eng);
	tsdb_close(s->db);
	s->eng = NULL;
	s->db = NULL;
}

static void load_line(script *s, char *line, int64_t interval)
{
	char *rest;
	char *desc = split_series(line, &rest);
	ts_label *l;
	size_t n;
	static seq sq;
	if (!parse_labels(s->arena, desc, &l, &n) || !parse_seq(rest, &sq)) {
		script_fail(s, s->line_no, "bad load line");
		return;
	}
	for (size_t i = 0; i < sq.n; i++) {
		if (!sq.has[i])
			continue;
		double v = sq.v[i];
		if (sq.stale[i]) {
			uint64_t b = QE_STALE_NAN_BITS;
			memcpy(&v, &b, sizeof(v));
		}
		ts_err e = {0};
		if (tsdb_append(s->db, l, n, (int64_t)i * interval, v, &e) != TS_OK)
			script_fail(s, s->line_no, "append failed: %s", e.msg);
	}
}

static bool labels_match(const query_series *r, const expect *x)
{
	return ts_labels_cmp(r->labels, r->n_labels, x->labels, x->n_labels) == 0;
}

static void format_labels(const ts_label *l, size_t n, char *buf, size_t cap)
{
	ts_buf b;
	ts_buf_init(&b, cap);
	qe_labels_format(l, n, &b);
	snprintf(buf, cap, "%s", b.data ? b.data : "{}");
	ts_buf_free(&b);
}

/* Compare an instant result with the expectations. */
static bool check_vector(script *s, size_t line, const query_result *r, expect *x, size_t nx,
			 bool ordered, const char *what)
{
	char lb[1024];
	if (r->type == QUERY_RESULT_SCALAR) {
		if (nx != 1 || !x[0].is_scalar) {
			script_fail(s, line, "%s: got scalar %g, expected a vector", what,
				    r->scalar);
			return false;
		}
		if (!almost_equal(r->scalar, x[0].values->v[0])) {
			script_fail(s, line, "%s: scalar %.17g, expected %.17g", what, r->scalar,
				    x[0].values->v[0]);
			return false;
		}
		return true;
	}
	if (nx == 1 && x[0].is_scalar) {
		script_fail(s, line, "%s: expected a scalar, got a %s", what,
			    r->type == QUERY_RESULT_VECTOR ? "vector" : "matrix");
		return false;
	}
	bool ok = true;
	if (r->n_series != nx) {
		script_fail(s, line, "%s: %zu elements, expected %zu", what, r->n_series, nx);
		ok = false;
	}
	for (size_t k = 0; k < nx; k++)
		x[k].seen = false;
	for (size_t i = 0; i < r->n_series; i++) {
		const query_series *rs = &r->series[i];
		format_labels(rs->labels, rs->n_labels, lb, sizeof(lb));
		size_t k;
		for (k = 0; k < nx; k++)
			if (labels_match(rs, &x[k]))
				break;
		if (k == nx) {
			script_fail(s, line, "%s: unexpected %s %.17g", what, lb, rs->v[0]);
			ok = false;
			continue;
		}
		x[k].seen = true;
		if (ordered && k != i) {
			script_fail(s, line, "%s: %s at position %zu, expected %zu", what, lb, i,
				    k);
			ok = false;
		}
		if (!almost_equal(rs->v[0], x[k].values->v[0])) {
			script_fail(s, line, "%s: %s = %.17g, expected %.17g", what, lb, rs->v[0],
				    x[k].values->v[0]);
			ok = false;
		}
	}
	for (size_t k = 0; k < nx; k++)
		if (!x[k].seen) {
			format_labels(x[k].labels, x[k].n_labels, lb, sizeof(lb));
			script_fail(s, line, "%s: missing %s", what, lb);
			ok = false;
		}
	return ok;
}

/* The middle step (t) of a range result as an instant result (borrowing its series). */
static void range_at(const query_result *rr, int64_t t, query_result *out, query_series *buf)
{
	memset(out, 0, sizeof(*out));
	out->type = QUERY_RESULT_VECTOR;
	out->series = buf;
	for (size_t i = 0; i < rr->n_series; i++) {
		const query_series *rs = &rr->series[i];
		for (size_t k = 0; k < rs->n; k++) {
			if (rs->t[k] != t)
				continue;
			buf[out->n_series] = *rs;
			buf[out->n_series].t = rs->t + k;
			buf[out->n_series].v = rs->v + k;
			buf[out->n_series].n = 1;
			out->n_series++;
		}
	}
}

static void run_instant(script *s, size_t line, int64_t t, const char *expr, expect *x, size_t nx,
			bool ordered, bool should_fail, const char *fail_msg)
{
	query_result *r = NULL;
	ts_err e = {0};
	int rc = query_instant(s->eng, expr, strlen(expr), t, &r, &e);
	s->cases++;
	if (should_fail) {
		if (rc == TS_OK)
			script_fail(s, line, "expected an error for %s", expr);
		else if (fail_msg && !strstr(e.msg, fail_msg))
			script_fail(s, line, "error \"%s\" does not contain \"%s\"", e.msg,
				    fail_msg);
		query_result_free(r);
		return;
	}
	if (rc != TS_OK) {
		script_fail(s, line, "%s: error %s", expr, e.msg);
		return;
	}
	bool is_vec = r->type == QUERY_RESULT_VECTOR || r->type == QUERY_RESULT_SCALAR;
	bool ok = check_vector(s, line, r, x, nx, ordered, "instant");
	query_result_free(r);
	if (!ok || !is_vec || ordered)
		return;
	/* Range mode must agree at the middle step. */
	query_result *rr = NULL;
	rc = query_range(s->eng, expr, strlen(expr), t - 60000, t + 60000, 60000, &rr, &e);
	if (rc != TS_OK) {
		script_fail(s, line, "%s: range query error %s", expr, e.msg);
		return;
	}
	query_series *buf = calloc(rr->n_series + 1, sizeof(*buf));
	query_result mid;
	range_at(rr, t, &mid, buf);
	if (nx == 1 && x[0].is_scalar && mid.n_series == 1) {
		mid.type = QUERY_RESULT_SCALAR;
		mid.scalar = mid.series[0].v[0];
	}
	check_vector(s, line, &mid, x, nx, false, "range mode");
	free(buf);
	query_result_free(rr);
}

static void run_range(script *s, size_t line, int64_t t0, int64_t t1, int64_t step,
		      const char *expr, expect *x, size_t nx, bool should_fail)
{
	query_result *r = NULL;
	ts_err e = {0};
	char lb[1024];
	int rc = query_range(s->eng, expr, strlen(expr), t0, t1, step, &r, &e);
	s->cases++;
	if (should_fail) {
		if (rc == TS_OK)
			script_fail(s, line, "expected an error for %s", expr);
		query_result_free(r);
		return;
	}
	if (rc != TS_OK) {
		script_fail(s, line, "%s: error %s", expr, e.msg);
		return;
	}
	if (r->n_series != nx)
		script_fail(s, line, "range: %zu series, expected %zu", r->n_series, nx);
	for (size_t k = 0; k < nx; k++)
		x[k].seen = false;
	for (size_t i = 0; i < r->n_series; i++) {
		const query_series *rs = &r->series[i];
		format_labels(rs->labels, rs->n_labels, lb, sizeof(lb));
		size_t k;
		for (k = 0; k < nx; k++)
			if (labels_match(rs, &x[k]))
				break;
		if (k == nx) {
			script_fail(s, line, "range: unexpected series %s", lb);
			continue;
		}
		x[k].seen = true;
		const seq *want = x[k].values;
		size_t p = 0;
		for (size_t st = 0; st < want->n || p < rs->n; st++) {
			int64_t t = t0 + (int64_t)st * step;
			bool have = p < rs->n && rs->t[p] == t;
			bool exp = st < want->n && want->has[st];
			if (have != exp || (have && !almost_equal(rs->v[p], want->v[st]))) {
				script_fail(
				    s, line, "range: %s at %lld: got %s%.17g, expected %s%.17g", lb,
				    (long long)t, have ? "" : "nothing ", have ? rs->v[p] : 0,
				    exp ? "" : "nothing ", exp ? want->v[st] : 0);
				break;
			}
			if (have)
				p++;
			if (t > t1 && p >= rs->n)
				break;
		}
	}
	for (size_t k = 0; k < nx; k++)
		if (!x[k].seen) {
			format_labels(x[k].labels, x[k].n_labels, lb, sizeof(lb));
			script_fail(s, line, "range: missing %s", lb);
		}
	query_result_free(r);
}

/* Parse an expected-result line into x. */
static bool parse_expect(script *s, char *line, bool is_range, expect *x)
{
	memset(x, 0, sizeof(*x));
	x->values = query_arena_alloc(s->arena, sizeof(seq));
	if (!x->values)
		return false;
	double v;
	if (!is_range && parse_number(line, &v)) {
		x->is_scalar = true;
		x->values->v[0] = v;
		x->values->has[0] = true;
		x->values->n = 1;
		return true;
	}
	char *rest;
	char *desc = split_series(line, &rest);
	if (!parse_labels(s->arena, desc, &x->labels, &x->n_labels))
		return false;
	if (is_range)
		return parse_seq(rest, x->values);
	if (!parse_number(rest, &v))
		return false;
	x->values->v[0] = v;
	x->values->has[0] = true;
	x->values->n = 1;
	return true;
}

static void run_script(script *s, FILE *f)
{
	char buf[MAX_LINE];
	enum { NONE, LOAD, EVAL } mode = NONE;
	int64_t interval = 0, t0 = 0, t1 = 0, step = 0;
	bool ordered = false, should_fail = false, is_range = false;
	char expr[MAX_LINE];
	char fail_msg[MAX_LINE];
	bool has_fail_msg = false;
	static expect x[MAX_EXPECT];
	size_t nx = 0, eval_line = 0;
	s->line_no = 0;
	for (;;) {
		char *got = fgets(buf, sizeof(buf), f);
		if (got)
			s->line_no++;
		char *line = got ? trim(buf) : NULL;
		bool end_block = !got || !*line;
		if (mode == EVAL && end_block) {
			if (is_range)
				run_range(s, eval_line, t0, t1, step, expr, x, nx, should_fail);
			else
				run_instant(s, eval_line, t0, expr, x, nx, ordered, should_fail,
					    has_fail_msg ? fail_msg : NULL);
			mode = NONE;
		}
		if (!got)
			break;
		if (end_block) {
			mode = NONE;
			continue;
		}
		if (line[0] == '#')
			continue;
		if (mode == LOAD) {
			load_line(s, line, interval);
			continue;
		}
		if (mode == EVAL) {
			if (!strncmp(line, "expected_fail_message ", 22)) {
				snprintf(fail_msg, sizeof(fail_msg), "%s", trim(line + 22));
				has_fail_msg = true;
			} else if (nx < MAX_EXPECT && parse_expect(s, line, is_range, &x[nx])) {
				nx++;
			} else {
				script_fail(s, s->line_no, "bad expected result: %s", line);
			}
			continue;
		}
		if (!strcmp(line, "clear")) {
			close_store(s);
			if (open_store(s))
				script_fail(s, s->line_no, "cannot open the store");
			continue;
		}
		char word[64], a1[64], a2[64], a3[64], a4[64], a5[64];
		int pos = 0;
		if (sscanf(line, "load %63s %n", a1, &pos) == 1 && pos > 0) {
			if (!parse_time(a1, &interval) || interval <= 0)
				script_fail(s, s->line_no, "bad load interval %s", a1);
			mode = LOAD;
			continue;
		}
		if (sscanf(line, "%63s %63s", word, a1) != 2 || strncmp(word, "eval", 4) != 0) {
			script_fail(s, s->line_no, "unknown command: %s", line);
			continue;
		}
		ordered = !strcmp(word, "eval_ordered");
		should_fail = !strcmp(word, "eval_fail");
		if (strcmp(word, "eval") && !ordered && !should_fail) {
			script_fail(s, s->line_no, "unknown command: %s", word);
			continue;
		}
		has_fail_msg = false;
		nx = 0;
		eval_line = s->line_no;
		pos = 0;
		if (!strcmp(a1, "instant") &&
		    sscanf(line, "%*s instant at %63s %n", a2, &pos) == 1 && pos > 0) {
			is_range = false;
			if (!parse_time(a2, &t0))
				script_fail(s, s->line_no, "bad time %s", a2);
		} else if (!strcmp(a1, "range") &&
			   sscanf(line, "%*s range from %63s to %63s step %63s %n", a3, a4, a5,
				  &pos) == 3 &&
			   pos > 0) {
			is_range = true;
			if (!parse_time(a3, &t0) || !parse_time(a4, &t1) || !parse_time(a5, &step))
				script_fail(s, s->line_no, "bad range times");
		} else {
			script_fail(s, s->line_no, "bad eval command: %s", line);
			continue;
		}
		snprintf(expr, sizeof(expr), "%s", line + pos);
		mode = EVAL;
	}
}

static void test_script(void **state)
{
	const char *path = *state;
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	script s = {.file = strrchr(path, '/') ? strrchr(path, '/') + 1 : path};
	s.arena = query_arena_new(0);
	assert_non_null(s.arena);
	assert_int_equal(open_store(&s), 0);
	run_script(&s, f);
	fclose(f);
	close_store(&s);
	query_arena_free(s.arena);
	g_cases += s.cases;
	print_message("%s: %zu cases, %zu failures\n", s.file, s.cases, s.failures);
	if (s.failures)
		g_failed_cases++;
	assert_int_equal(s.failures, 0);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* With arguments, run those script files instead of tests/query/data/ (for development). */
int main(int argc, char **argv)
{
	static char *paths[256];
	size_t n = 0;
	if (argc > 1) {
		for (int i = 1; i < argc && n < 256; i++)
			paths[n++] = strdup(argv[i]);
	} else {
		const char *dir = STRATA_SOURCE_DIR "/tests/query/data";
		DIR *d = opendir(dir);
		if (!d) {
			fprintf(stderr, "cannot open %s\n", dir);
			return 1;
		}
		struct dirent *de;
		while ((de = readdir(d)) && n < 256) {
			size_t len = strlen(de->d_name);
			if (len < 6 || strcmp(de->d_name + len - 5, ".test") != 0)
				continue;
			size_t cap = strlen(dir) + len + 2;
			paths[n] = malloc(cap);
			snprintf(paths[n], cap, "%s/%s", dir, de->d_name);
			n++;
		}
		closedir(d);
	}
	qsort(paths, n, sizeof(*paths), cmp_names);
	struct CMUnitTest *tests = calloc(n + 1, sizeof(*tests));
	for (size_t i = 0; i < n; i++) {
		tests[i].name = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
		tests[i].test_func = test_script;
		tests[i].initial_state = paths[i];
	}
	int rc = _cmocka_run_group_tests("promql_scripts", tests, n, NULL, NULL);
	printf("promql scripts: %zu files, %zu eval cases, %zu files with failures\n", n, g_cases,
	       g_failed_cases);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(tests);
	return rc;
}
