/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_eval.c: unit tests of the evaluator through query.h: result shapes and types,
 * instant/range consistency over many expressions, max_samples accounting (selectors,
 * binary and aggregation outputs, subqueries), timeouts, the memory budget, allocation
 * failures at every point, staleness markers, ordering of sort/topk results, and
 * evaluation errors. The Prometheus-compatibility of values is covered by the scripts in
 * tests/query/data (test_promql_scripts.c) and tests/integration/test_promql_compat.sh.
 */
#include "query/eval.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MIN_MS 60000

typedef struct fixture {
	tsdb_db *db;
	query_engine *eng;
} fixture;

static void append(tsdb_db *db, const char *name, const char *k, const char *v, int64_t t,
		   double val)
{
	ts_label l[2] = {{TS_METRIC_NAME, name}, {k, v}};
	assert_int_equal(tsdb_append(db, l, 2, t, val, NULL), TS_OK);
}

static query_engine *engine(tsdb_db *db, int64_t max_samples, int64_t timeout_ms)
{
	query_options o;
	query_options_init(&o);
	o.db = db;
	if (max_samples)
		o.max_samples = max_samples;
	if (timeout_ms)
		o.timeout_ms = timeout_ms;
	query_engine *e = NULL;
	assert_int_equal(query_engine_new(&o, &e, NULL), TS_OK);
	return e;
}

/* 20 series "m{i=..}" sampled every 15 s for an hour, a counter "ctr{i=..}" with a reset,
 * and a gauge "g" with a staleness marker at 30m. */
static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	tsdb_options o;
	tsdb_options_init(&o);
	if (tsdb_open(&o, &f->db, NULL))
		return -1;
	char buf[16];
	for (int i = 0; i < 20; i++) {
		snprintf(buf, sizeof(buf), "%02d", i);
		for (int64_t t = 0; t <= 60 * MIN_MS; t += 15000) {
			append(f->db, "m", "i", buf, t, (double)(i * 7 % 11) + (double)t / 60000.0);
			if (i < 3)
				append(f->db, "ctr", "i", buf, t,
				       (double)((t % (20 * MIN_MS)) / 1000 * (i + 1)));
		}
	}
	for (int64_t t = 0; t <= 60 * MIN_MS; t += MIN_MS) {
		double v = (double)(t / MIN_MS % 7);
		if (t == 30 * MIN_MS) {
			uint64_t b = QE_STALE_NAN_BITS;
			memcpy(&v, &b, sizeof(v));
		}
		append(f->db, "g", "k", "a", t, v);
	}
	f->eng = engine(f->db, 0, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	query_engine_free(f->eng);
	tsdb_close(f->db);
	free(f);
	return 0;
}

static query_result *instant(query_engine *e, const char *q, int64_t t, int want_rc, ts_err *err)
{
	query_result *r = NULL;
	ts_err local = {0};
	int rc = query_instant(e, q, strlen(q), t, &r, err ? err : &local);
	if (rc != want_rc)
		fail_msg("%s: rc %d (%s), want %d", q, rc, (err ? err : &local)->msg, want_rc);
	return r;
}

/* ================================================================ shapes */

static void test_query_instant_shapes(void **state)
{
	fixture *f = *state;
	query_result *r = instant(f->eng, "1 + 2", 0, TS_OK, NULL);
	assert_int_equal(r->type, QUERY_RESULT_SCALAR);
	assert_true(r->scalar == 3);
	query_result_free(r);
	r = instant(f->eng, "\"hello\"", 5000, TS_OK, NULL);
	assert_int_equal(r->type, QUERY_RESULT_STRING);
	assert_string_equal(r->string, "hello");
	query_result_free(r);
	r = instant(f->eng, "m", 10 * MIN_MS, TS_OK, NULL);
	assert_int_equal(r->type, QUERY_RESULT_VECTOR);
	assert_int_equal(r->n_series, 20);
	query_result_free(r);
	r = instant(f->eng, "m{i=\"03\"}[1m]", 10 * MIN_MS, TS_OK, NULL);
	assert_int_equal(r->type, QUERY_RESULT_MATRIX);
	assert_int_equal(r->n_series, 1);
	assert_int_equal(r->series[0].n, 5); /* both window ends included */
	assert_int_equal(r->series[0].t[0], 9 * MIN_MS);
	query_result_free(r);
}

static void test_query_range_shapes(void **state)
{
	fixture *f = *state;
	query_result *r = NULL;
	ts_err err = {0};
	assert_int_equal(query_range(f->eng, "time()", 6, 0, 10 * MIN_MS, MIN_MS, &r, &err), TS_OK);
	assert_int_equal(r->type, QUERY_RESULT_MATRIX);
	assert_int_equal(r->n_series, 1);
	assert_int_equal(r->series[0].n, 11);
	assert_true(r->series[0].v[10] == 600);
	query_result_free(r);
	assert_int_equal(query_range(f->eng, "m[5m]", 5, 0, MIN_MS, MIN_MS, &r, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "invalid expression type \"range vector\""));
	assert_int_equal(query_range(f->eng, "sum(", 4, 0, MIN_MS, MIN_MS, &r, &err), TS_EPARSE);
	/* Range results are sorted by labels. */
	assert_int_equal(query_range(f->eng, "sort_desc(m)", 12, 0, MIN_MS, MIN_MS, &r, &err),
			 TS_OK);
	for (size_t i = 1; i < r->n_series; i++)
		assert_true(ts_labels_cmp(r->series[i - 1].labels, r->series[i - 1].n_labels,
					  r->series[i].labels, r->series[i].n_labels) < 0);
	query_result_free(r);
}

static void test_query_instant_ordering(void **state)
{
	fixture *f = *state;
	query_result *r = instant(f->eng, "sort_desc(m)", 10 * MIN_MS, TS_OK, NULL);
	for (size_t i = 1; i < r->n_series; i++)
		assert_true(r->series[i - 1].v[0] >= r->series[i].v[0]);
	query_result_free(r);
	r = instant(f->eng, "topk(5, m)", 10 * MIN_MS, TS_OK, NULL);
	assert_int_equal(r->n_series, 5);
	for (size_t i = 1; i < r->n_series; i++)
		assert_true(r->series[i - 1].v[0] >= r->series[i].v[0]);
	assert_non_null(ts_labels_get(r->series[0].labels, r->series[0].n_labels, "__name__"));
	query_result_free(r);
	r = instant(f->eng, "bottomk(3, m)", 10 * MIN_MS, TS_OK, NULL);
	for (size_t i = 1; i < r->n_series; i++)
		assert_true(r->series[i - 1].v[0] <= r->series[i].v[0]);
	query_result_free(r);
}

/* ================================================================ staleness */

static void test_query_staleness_marker(void **state)
{
	fixture *f = *state;
	query_result *r = instant(f->eng, "g", 30 * MIN_MS + 30000, TS_OK, NULL);
	assert_int_equal(r->n_series, 0); /* hidden by the marker, not by lookback */
	query_result_free(r);
	r = instant(f->eng, "count_over_time(g[2m])", 31 * MIN_MS, TS_OK, NULL);
	assert_true(r->series[0].v[0] == 2); /* 29m and 31m; the marker is dropped */
	query_result_free(r);
	r = instant(f->eng, "g", 31 * MIN_MS, TS_OK, NULL);
	assert_int_equal(r->n_series, 1);
	query_result_free(r);
}

/* ================================================================ instant == range */

static bool same(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* Every step of a range query equals the instant query at that time. */
static void check_consistent(query_engine *e, const char *q, int64_t start, int64_t end,
			     int64_t step)
{
	query_result *rr = NULL;
	ts_err err = {0};
	if (query_range(e, q, strlen(q), start, end, step, &rr, &err) != TS_OK)
		fail_msg("%s: %s", q, err.msg);
	for (int64_t t = start; t <= end; t += step) {
		query_result *ri = NULL;
		if (query_instant(e, q, strlen(q), t, &ri, &err) != TS_OK)
			fail_msg("%s at %lld: %s", q, (long long)t, err.msg);
		size_t n_at = 0;
		for (size_t k = 0; k < rr->n_series; k++) {
			const query_series *s = &rr->series[k];
			for (size_t j = 0; j < s->n; j++) {
				if (s->t[j] != t)
					continue;
				n_at++;
				double want = NAN;
				bool found = false;
				if (ri->type == QUERY_RESULT_SCALAR) {
					want = ri->scalar;
					found = true;
				}
				for (size_t x = 0; x < ri->n_series && !found; x++)
					if (!ts_labels_cmp(ri->series[x].labels,
							   ri->series[x].n_labels, s->labels,
							   s->n_labels)) {
						want = ri->series[x].v[0];
						found = true;
					}
				if (!found || !same(want, s->v[j]))
					fail_msg("%s at %lld: range %g, instant %g (%s)", q,
						 (long long)t, s->v[j], want,
						 found ? "" : "missing");
			}
		}
		size_t n_inst = ri->type == QUERY_RESULT_SCALAR ? 1 : ri->n_series;
		if (n_at != n_inst)
			fail_msg("%s at %lld: range has %zu values, instant %zu", q, (long long)t,
				 n_at, n_inst);
		query_result_free(ri);
	}
	query_result_free(rr);
}

static void test_query_range_matches_instant(void **state)
{
	fixture *f = *state;
	static const char *const exprs[] = {
	    "m",
	    "m offset 3m",
	    "m @ 600",
	    "-m",
	    "m * 2 + 1",
	    "m > 30",
	    "m > bool 30",
	    "m % 7 == 3",
	    "m + on(i) ctr",
	    "ctr / ignoring(i) group_left sum(ctr)",
	    "m and ctr",
	    "m unless ctr",
	    "ctr or m",
	    "sum(m)",
	    "avg by (i) (m)",
	    "count_values(\"v\", round(m / 10))",
	    "topk(3, m)",
	    "bottomk without (i) (2, m)",
	    "quantile(0.3, m)",
	    "stddev(m)",
	    "rate(ctr[5m])",
	    "increase(ctr[3m])",
	    "irate(ctr[1m])",
	    "resets(ctr[20m])",
	    "deriv(m[10m])",
	    "predict_linear(m[5m], 60)",
	    "holt_winters(m[5m], 0.5, 0.5)",
	    "avg_over_time(g[10m])",
	    "absent_over_time(g[1m])",
	    "quantile_over_time(0.5, m[4m])",
	    "max_over_time(rate(ctr[2m])[10m:1m])",
	    "sum_over_time(m[5m:30s] offset 2m)",
	    "timestamp(g)",
	    "label_replace(m, \"j\", \"$1\", \"i\", \"0(.)\")",
	    "label_join(m, \"j\", \"-\", \"i\", \"i\")",
	    "histogram_quantile(0.5, label_replace(m, \"le\", \"$1\", \"i\", \"0(.)\"))",
	    "clamp(m, 10, 40)",
	    "round(m, 3)",
	    "scalar(ctr{i=\"00\"}) + time()",
	    "vector(time())",
	    "absent(g)",
	    "sort(m)",
	    "minute(timestamp(g))",
	};
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++)
		check_consistent(f->eng, exprs[i], 5 * MIN_MS + 7000, 50 * MIN_MS, 173000);
}

/* ================================================================ limits */

static void test_query_max_samples(void **state)
{
	fixture *f = *state;
	ts_err err = {0};
	/* 20 selected samples at one step. */
	query_engine *e = engine(f->db, 20, 0);
	query_result_free(instant(e, "m", 10 * MIN_MS, TS_OK, NULL));
	query_result_free(instant(e, "sum(m)", 0, TS_ELIMIT, &err));
	assert_string_equal(err.msg,
			    "query processing would load too many samples into memory in query "
			    "execution");
	query_engine_free(e);
	/* Binary outputs count while their inputs are still held. */
	e = engine(f->db, 45, 0);
	query_result_free(instant(e, "m + 1", 10 * MIN_MS, TS_OK, NULL));     /* 20 + 1 + 20 */
	query_result_free(instant(e, "m + m", 10 * MIN_MS, TS_ELIMIT, NULL)); /* 20+20+20 */
	query_result_free(instant(e, "sum(m) + sum(m)", 10 * MIN_MS, TS_OK, NULL));
	query_engine_free(e);
	/* A range query holds every step. */
	e = engine(f->db, 100, 0);
	query_result *r = NULL;
	assert_int_equal(query_range(e, "m", 1, 0, 10 * MIN_MS, MIN_MS, &r, &err), TS_ELIMIT);
	const char *q = "sum(m{i=\"01\"})";
	assert_int_equal(query_range(e, q, strlen(q), 0, 10 * MIN_MS, MIN_MS, &r, &err), TS_OK);
	query_result_free(r);
	/* Range selectors count their samples, subqueries their points. */
	query_result_free(
	    instant(e, "count_over_time(m{i=\"01\"}[20m])", 30 * MIN_MS, TS_OK, NULL));
	query_result_free(
	    instant(e, "count_over_time(m{i=~\"0.\"}[20m])", 30 * MIN_MS, TS_ELIMIT, NULL));
	query_result_free(
	    instant(e, "count_over_time(m{i=\"01\"}[100m:30s])", 60 * MIN_MS, TS_ELIMIT, NULL));
	query_engine_free(e);
}

static void test_query_timeout(void **state)
{
	fixture *f = *state;
	query_engine *e = engine(f->db, 0, 1);
	query_result *r = NULL;
	ts_err err = {0};
	const char *q = "sum_over_time(max_over_time(m[10m:1s])[60m:1s])";
	int rc = query_instant(e, q, strlen(q), 60 * MIN_MS, &r, &err);
	assert_int_equal(rc, TS_ETIMEOUT);
	assert_string_equal(err.msg, "query timed out in expression evaluation");
	query_engine_free(e);
}

static void test_query_memory_budget(void **state)
{
	fixture *f = *state;
	/* count_values over 11000 steps makes a result series per value and step, far more
	 * than the arena's default budget of 256 MiB holds. */
	query_result *r = NULL;
	ts_err err = {0};
	const char *q = "count_values(\"v\", m + time())";
	int rc = query_range(f->eng, q, strlen(q), 0, 11000 * 1000LL, 1000, &r, &err);
	assert_int_equal(rc, TS_ELIMIT);
	assert_string_equal(err.msg,
			    "query processing would use too much memory in query execution");
}

static void test_query_alloc_failures(void **state)
{
	fixture *f = *state;
	static const char *const exprs[] = {
	    "topk(2, rate(ctr[5m]) * on(i) group_left m) or absent(nothing)",
	    "count_values(\"v\", m) + on() group_left sum(histogram_quantile(0.5, "
	    "label_replace(m, \"le\", \"$1\", \"i\", \"0(.)\")))",
	    "max_over_time(sum by (i) (m)[5m:1m]) unless label_join(m, \"a\", \"-\", \"i\")",
	};
	for (size_t x = 0; x < sizeof(exprs) / sizeof(exprs[0]); x++) {
		const char *q = exprs[x];
		bool ok = false;
		for (int64_t n = 0; n < 5000 && !ok; n++) {
			query_result *r = NULL;
			ts_err err = {0};
			ts_alloc_fail_after(n);
			int rc = query_range(f->eng, q, strlen(q), 10 * MIN_MS, 20 * MIN_MS, MIN_MS,
					     &r, &err);
			ts_alloc_fail_after(-1);
			if (rc == TS_OK) {
				ok = true;
				query_result_free(r);
			} else if (rc != TS_ENOMEM && rc != TS_ELIMIT) {
				fail_msg("%s after %lld allocations: rc %d %s", q, (long long)n, rc,
					 err.msg);
			}
		}
		assert_true(ok);
	}
}

/* ================================================================ errors */

static void test_query_eval_errors(void **state)
{
	fixture *f = *state;
	ts_err err = {0};
	query_result_free(instant(f->eng, "m + on() m", 10 * MIN_MS, TS_EINVAL, &err));
	assert_non_null(strstr(err.msg, "found duplicate series for the match group {} on the "
					"right hand-side of the operation"));
	query_result_free(
	    instant(f->eng, "{__name__=~\"m|ctr\", i=\"00\"} * 1", 10 * MIN_MS, TS_EINVAL, &err));
	assert_string_equal(err.msg, "vector cannot contain metrics with the same labelset");
	query_result_free(instant(f->eng, "topk(Inf, m)", 10 * MIN_MS, TS_EINVAL, &err));
	assert_string_equal(err.msg, "Scalar value +Inf overflows int64");
	query_result_free(
	    instant(f->eng, "holt_winters(m[5m], 0.5, 1.5)", 10 * MIN_MS, TS_EINVAL, &err));
	assert_string_equal(err.msg, "invalid trend factor. Expected: 0 < tf < 1, got: 1.500000");
	query_result_free(
	    instant(f->eng, "label_replace(m, \"a\", \"\", \"i\", \"[\")", 0, TS_EINVAL, &err));
	assert_string_equal(err.msg, "invalid regular expression in label_replace(): [");
	query_result_free(instant(f->eng, "count_values(\"\", m)", 10 * MIN_MS, TS_EINVAL, &err));
	assert_string_equal(err.msg, "invalid label name \"\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_instant_shapes),
	    cmocka_unit_test(test_query_range_shapes),
	    cmocka_unit_test(test_query_instant_ordering),
	    cmocka_unit_test(test_query_staleness_marker),
	    cmocka_unit_test(test_query_range_matches_instant),
	    cmocka_unit_test(test_query_max_samples),
	    cmocka_unit_test(test_query_timeout),
	    cmocka_unit_test(test_query_memory_budget),
	    cmocka_unit_test(test_query_alloc_failures),
	    cmocka_unit_test(test_query_eval_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
