/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_querier.c: tests for tsdb/querier.c: select by each matcher type, time range
 * filtering, sorting, limits, label names and values, iterator ranges.
 */
#include "tsdb/tsdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static int setup(void **state)
{
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	if (tsdb_open(&o, &db, NULL))
		return -1;
	static const char *hosts[] = {"c", "a", "b"};
	for (int h = 0; h < 3; h++) {
		ts_label up[] = {{"__name__", "up"}, {"host", hosts[h]}, {"job", "node"}};
		ts_label cpu[] = {{"__name__", "cpu"}, {"host", hosts[h]}};
		for (int i = 0; i < 10; i++) {
			tsdb_append(db, up, 3, 1000 * i, 1, NULL);
			tsdb_append(db, cpu, 2, 1000 * i + h * 100000, i, NULL);
		}
	}
	*state = db;
	return 0;
}

static int teardown(void **state)
{
	tsdb_close(*state);
	return 0;
}

static size_t select_n(tsdb_db *db, int64_t mint, int64_t maxt, ts_match_type type,
		       const char *name, const char *value, tsdb_series ***out, tsdb_querier **q)
{
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, type, name, value, NULL), TS_OK);
	assert_int_equal(tsdb_querier_open(db, mint, maxt, q, NULL), TS_OK);
	size_t n = 0;
	assert_int_equal(tsdb_select(*q, &m, 1, 0, out, &n, NULL), TS_OK);
	ts_matcher_fini(&m);
	return n;
}

static void test_tsdb_select_eq_sorted(void **state)
{
	tsdb_series **v;
	tsdb_querier *q;
	size_t n = select_n(*state, 0, 1000000, TS_MATCH_EQ, "__name__", "up", &v, &q);
	assert_int_equal(n, 3);
	const char *want[] = {"a", "b", "c"};
	for (size_t i = 0; i < n; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(v[i], &nl);
		assert_int_equal(nl, 3);
		assert_string_equal(ts_labels_get(l, nl, "host"), want[i]);
	}
	ts_free(v);
	tsdb_querier_close(q);
}

static void test_tsdb_select_regex_and_negations(void **state)
{
	tsdb_series **v;
	tsdb_querier *q;
	assert_int_equal(select_n(*state, 0, 1000000, TS_MATCH_RE, "host", "a|b", &v, &q), 4);
	ts_free(v);
	tsdb_querier_close(q);
	assert_int_equal(select_n(*state, 0, 1000000, TS_MATCH_NEQ, "host", "a", &v, &q), 4);
	ts_free(v);
	tsdb_querier_close(q);
	/* job!~"node" also selects series without a job label (cpu). */
	assert_int_equal(select_n(*state, 0, 1000000, TS_MATCH_NRE, "job", "node", &v, &q), 3);
	ts_free(v);
	tsdb_querier_close(q);
	/* Anchoring: "nod" does not match "node". */
	assert_int_equal(select_n(*state, 0, 1000000, TS_MATCH_RE, "job", "nod", &v, &q), 0);
	ts_free(v);
	tsdb_querier_close(q);
}

static void test_tsdb_select_time_range(void **state)
{
	tsdb_series **v;
	tsdb_querier *q;
	/* cpu host=c has samples at 0..9000, b at 100000.., a at 200000.. (by insertion index). */
	assert_int_equal(select_n(*state, 150000, 250000, TS_MATCH_EQ, "__name__", "cpu", &v, &q),
			 1);
	ts_free(v);
	tsdb_querier_close(q);
	assert_int_equal(select_n(*state, 500000, 600000, TS_MATCH_EQ, "__name__", "cpu", &v, &q),
			 0);
	ts_free(v);
	tsdb_querier_close(q);
}

static void test_tsdb_select_limit(void **state)
{
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_RE, "__name__", ".+", NULL), TS_OK);
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(*state, 0, 1000000, &q, NULL), TS_OK);
	tsdb_series **v = NULL;
	size_t n;
	ts_err err = {0};
	assert_int_equal(tsdb_select(q, &m, 1, 5, &v, &n, &err), TS_ELIMIT);
	assert_non_null(strstr(err.msg, "limit of 5 series"));
	assert_int_equal(tsdb_select(q, &m, 1, 6, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 6);
	ts_free(v);
	assert_int_equal(tsdb_select(q, &m, 0, 0, &v, &n, &err), TS_EINVAL);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
}

static void test_tsdb_iter_open_subrange(void **state)
{
	tsdb_series **v;
	tsdb_querier *q;
	size_t n = select_n(*state, 2000, 5000, TS_MATCH_EQ, "host", "a", &v, &q);
	assert_int_equal(n, 1); /* up{host=a}; cpu{host=a} is at 200000+ */
	tsdb_iter *it;
	assert_int_equal(tsdb_iter_open(q, v[0], 0, 4000, &it, NULL), TS_OK);
	int64_t t;
	double val;
	int64_t want = 2000;
	while (tsdb_iter_next(it, &t, &val) == 1) {
		assert_int_equal(t, want);
		want += 1000;
	}
	assert_int_equal(want, 5000);
	tsdb_iter_close(it);
	ts_free(v);
	tsdb_querier_close(q);
}

static void test_tsdb_label_names_and_values(void **state)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(*state, 0, 1000000, &q, NULL), TS_OK);
	const char **s;
	size_t n;
	assert_int_equal(tsdb_label_names(q, NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(s[0], "__name__");
	assert_string_equal(s[1], "host");
	assert_string_equal(s[2], "job");
	ts_free(s);
	assert_int_equal(tsdb_label_values(q, "__name__", NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(s[0], "cpu");
	assert_string_equal(s[1], "up");
	ts_free(s);
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "cpu", NULL), TS_OK);
	assert_int_equal(tsdb_label_names(q, &m, 1, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	ts_free(s);
	ts_matcher_fini(&m);
	tsdb_querier_close(q);
}

static void test_tsdb_querier_open_bad_range(void **state)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(*state, 10, 5, &q, NULL), TS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_select_eq_sorted),
	    cmocka_unit_test(test_tsdb_select_regex_and_negations),
	    cmocka_unit_test(test_tsdb_select_time_range),
	    cmocka_unit_test(test_tsdb_select_limit),
	    cmocka_unit_test(test_tsdb_iter_open_subrange),
	    cmocka_unit_test(test_tsdb_label_names_and_values),
	    cmocka_unit_test(test_tsdb_querier_open_bad_range),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
