/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cardinality.c: tests for tsdb/cardinality.c: head stats and the four top lists
 * against counts computed by hand, ordering and ties, the limit, an empty head, and
 * allocation failures.
 */
#include "tsdb/tsdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*
 * 6 "up" series (job a|b x instance 1..3), 2 "cpu" (instance 1..2, no job), 1 "mem"
 * with a long value: 9 series.
 */
static int setup(void **state)
{
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	if (tsdb_open(&o, &db, NULL))
		return -1;
	static const char *jobs[] = {"a", "b"};
	static const char *inst[] = {"i1", "i2", "i3"};
	for (int j = 0; j < 2; j++)
		for (int i = 0; i < 3; i++) {
			ts_label l[] = {
			    {"__name__", "up"}, {"instance", inst[i]}, {"job", jobs[j]}};
			if (tsdb_append(db, l, 3, 1000, 1, NULL))
				return -1;
		}
	for (int i = 0; i < 2; i++) {
		ts_label l[] = {{"__name__", "cpu"}, {"instance", inst[i]}};
		if (tsdb_append(db, l, 2, 2000, 1, NULL))
			return -1;
	}
	ts_label l[] = {{"__name__", "mem"}, {"path", "/a/very/long/path/value"}};
	if (tsdb_append(db, l, 2, 5000, 1, NULL))
		return -1;
	*state = db;
	return 0;
}

static int teardown(void **state)
{
	tsdb_close(*state);
	return 0;
}

static uint64_t find(const tsdb_card_stat *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return v[i].count;
	return UINT64_MAX;
}

static void assert_sorted(const tsdb_card_stat *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		assert_true(v[i - 1].count >= v[i].count);
		if (v[i - 1].count == v[i].count)
			assert_true(strcmp(v[i - 1].name, v[i].name) < 0);
	}
}

static void test_tsdb_cardinality_get_counts(void **state)
{
	tsdb_cardinality *c = NULL;
	assert_int_equal(tsdb_cardinality_get(*state, 100, &c, NULL), TS_OK);
	assert_int_equal(c->n_series, 9);
	/* pairs: __name__ x3, instance x3, job x2, path x1 */
	assert_int_equal(c->n_label_pairs, 9);
	assert_true(c->n_chunks >= 9);
	assert_int_equal(c->min_t_ms, 1000);
	assert_int_equal(c->max_t_ms, 5000);

	assert_int_equal(c->n_series_by_metric, 3);
	assert_string_equal(c->series_by_metric[0].name, "up");
	assert_int_equal(c->series_by_metric[0].count, 6);
	assert_string_equal(c->series_by_metric[1].name, "cpu");
	assert_int_equal(c->series_by_metric[1].count, 2);
	assert_string_equal(c->series_by_metric[2].name, "mem");
	assert_int_equal(c->series_by_metric[2].count, 1);

	assert_int_equal(c->n_values_by_label, 4);
	assert_int_equal(find(c->values_by_label, 4, "__name__"), 3);
	assert_int_equal(find(c->values_by_label, 4, "instance"), 3);
	assert_int_equal(find(c->values_by_label, 4, "job"), 2);
	assert_int_equal(find(c->values_by_label, 4, "path"), 1);
	assert_sorted(c->values_by_label, c->n_values_by_label);
	/* ties by name: __name__ before instance */
	assert_string_equal(c->values_by_label[0].name, "__name__");

	/* sum of len(value) x series */
	assert_int_equal(find(c->memory_by_label, 4, "__name__"), 2 * 6 + 3 * 2 + 3 * 1);
	assert_int_equal(find(c->memory_by_label, 4, "instance"), 2 * 3 + 2 * 3 + 2 * 2);
	assert_int_equal(find(c->memory_by_label, 4, "job"), 1 * 3 + 1 * 3);
	assert_int_equal(find(c->memory_by_label, 4, "path"), strlen("/a/very/long/path/value"));
	assert_sorted(c->memory_by_label, c->n_memory_by_label);

	assert_int_equal(c->n_series_by_pair, 9);
	assert_string_equal(c->series_by_pair[0].name, "__name__=up");
	assert_int_equal(c->series_by_pair[0].count, 6);
	assert_int_equal(find(c->series_by_pair, 9, "instance=i1"), 3);
	assert_int_equal(find(c->series_by_pair, 9, "instance=i3"), 2);
	assert_int_equal(find(c->series_by_pair, 9, "job=a"), 3);
	assert_int_equal(find(c->series_by_pair, 9, "path=/a/very/long/path/value"), 1);
	assert_sorted(c->series_by_pair, c->n_series_by_pair);
	ts_free(c);
}

static void test_tsdb_cardinality_get_limit(void **state)
{
	tsdb_cardinality *c = NULL;
	assert_int_equal(tsdb_cardinality_get(*state, 2, &c, NULL), TS_OK);
	assert_int_equal(c->n_series_by_metric, 2);
	assert_string_equal(c->series_by_metric[0].name, "up");
	assert_string_equal(c->series_by_metric[1].name, "cpu");
	assert_int_equal(c->n_values_by_label, 2);
	assert_int_equal(c->n_series_by_pair, 2);
	/* the two largest pairs: __name__=up (6), then the 3-series pairs by name */
	assert_string_equal(c->series_by_pair[0].name, "__name__=up");
	assert_string_equal(c->series_by_pair[1].name, "instance=i1");
	assert_int_equal(c->n_series, 9);
	ts_free(c);
	assert_int_equal(tsdb_cardinality_get(*state, 0, &c, NULL), TS_OK);
	assert_int_equal(c->n_series_by_metric + c->n_values_by_label + c->n_memory_by_label +
			     c->n_series_by_pair,
			 0);
	assert_int_equal(c->n_label_pairs, 9);
	ts_free(c);
	ts_err e = {0};
	assert_int_equal(tsdb_cardinality_get(*state, TSDB_CARDINALITY_MAX_LIMIT + 1, &c, &e),
			 TS_EINVAL);
	assert_non_null(strstr(e.msg, "limit"));
}

static void test_tsdb_cardinality_get_many_pairs(void **state)
{
	(void)state;
	/* More pairs than the limit: the heap keeps exactly the top ones. */
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	char v[16];
	for (int i = 0; i < 200; i++) {
		snprintf(v, sizeof(v), "v%03d", i);
		/* value v<i> has (i % 7) + 1 series */
		for (int k = 0; k <= i % 7; k++) {
			char kk[8];
			snprintf(kk, sizeof(kk), "%d", k);
			ts_label l[] = {{"__name__", "m"}, {"k", kk}, {"x", v}};
			assert_int_equal(tsdb_append(db, l, 3, 1000, 1, NULL), TS_OK);
		}
	}
	tsdb_cardinality *c = NULL;
	assert_int_equal(tsdb_cardinality_get(db, 10, &c, NULL), TS_OK);
	assert_int_equal(c->n_series_by_pair, 10);
	assert_sorted(c->series_by_pair, 10);
	/* __name__=m holds all series; then k=0 (200), k=1 (...), ... */
	assert_string_equal(c->series_by_pair[0].name, "__name__=m");
	assert_string_equal(c->series_by_pair[1].name, "k=0");
	assert_int_equal(c->series_by_pair[1].count, 200);
	/* after the 7 k= pairs come the x= values with 7 series, smallest names first */
	assert_string_equal(c->series_by_pair[8].name, "x=v006");
	assert_string_equal(c->series_by_pair[9].name, "x=v013");
	assert_int_equal(find(c->values_by_label, c->n_values_by_label, "x"), 200);
	ts_free(c);
	tsdb_close(db);
}

static void test_tsdb_cardinality_get_empty(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	tsdb_cardinality *c = NULL;
	assert_int_equal(tsdb_cardinality_get(db, 10, &c, NULL), TS_OK);
	assert_int_equal(c->n_series, 0);
	assert_int_equal(c->n_label_pairs, 0);
	assert_true(c->min_t_ms > c->max_t_ms);
	assert_int_equal(c->n_series_by_metric, 0);
	assert_int_equal(c->n_series_by_pair, 0);
	ts_free(c);
	tsdb_close(db);
}

static void test_tsdb_cardinality_get_alloc_failure(void **state)
{
	for (int k = 0; k < 3; k++) {
		tsdb_cardinality *c = NULL;
		ts_alloc_fail_after(k);
		int rc = tsdb_cardinality_get(*state, 10, &c, NULL);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			assert_int_equal(c->n_series, 9);
			ts_free(c);
		} else {
			assert_int_equal(rc, TS_ENOMEM);
			assert_null(c);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_cardinality_get_counts),
	    cmocka_unit_test(test_tsdb_cardinality_get_limit),
	    cmocka_unit_test(test_tsdb_cardinality_get_many_pairs),
	    cmocka_unit_test(test_tsdb_cardinality_get_empty),
	    cmocka_unit_test(test_tsdb_cardinality_get_alloc_failure),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
