/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_querier.c: tests for tsdb/querier.c: select by each matcher type, time range
 * filtering, sorting, limits, label names and values, iterator ranges.
 */
#include "tsdb/tsdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static void test_tsdb_label_values_time_range(void **state)
{
	/* cpu host=c has samples at 0..9000, a at 100000.., b at 200000..; up at 0..9000. */
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(*state, 150000, 250000, &q, NULL), TS_OK);
	const char **s;
	size_t n;
	assert_int_equal(tsdb_label_values(q, "host", NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(s[0], "b");
	ts_free(s);
	assert_int_equal(tsdb_label_values(q, "job", NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
	ts_free(s);
	assert_int_equal(tsdb_label_names(q, NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 2); /* job is only on up, which has no samples in range */
	assert_string_equal(s[0], "__name__");
	assert_string_equal(s[1], "host");
	ts_free(s);
	tsdb_querier_close(q);
	assert_int_equal(tsdb_querier_open(*state, 5000, 100000, &q, NULL), TS_OK);
	assert_int_equal(tsdb_label_values(q, "host", NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 3);
	ts_free(s);
	assert_int_equal(tsdb_label_values(q, "nope", NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
	ts_free(s);
	tsdb_querier_close(q);
}

static void test_tsdb_querier_open_bad_range(void **state)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(*state, 10, 5, &q, NULL), TS_EINVAL);
}

/* ---------------------------------------------------------------- head + blocks */

static tsdb_db *open_disk(const char *name)
{
	static char dir[512];
	char cmd[600];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/%s", STRATA_TEST_TMP, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.block_duration_ms = 10000;
	o.cut_check_interval_ms = 0;
	o.out_of_order_window_ms = 100000;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	return db;
}

static size_t read_series(tsdb_querier *q, tsdb_series *s, int64_t *t, double *v, size_t cap)
{
	tsdb_iter *it;
	assert_int_equal(tsdb_iter_open(q, s, INT64_MIN, INT64_MAX, &it, NULL), TS_OK);
	size_t n = 0;
	while (n < cap && tsdb_iter_next(it, &t[n], &v[n]) == 1)
		n++;
	tsdb_iter_close(it);
	return n;
}

static void test_tsdb_select_merges_blocks_and_head(void **state)
{
	(void)state;
	tsdb_db *db = open_disk("querier_merge");
	ts_label a[] = {{"__name__", "up"}, {"job", "a"}};
	ts_label b[] = {{"__name__", "up"}, {"job", "b"}};
	/* a: 0..9 s and 10..19 s in two blocks, 20..24 s in the head; b: head only. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(tsdb_append(db, a, 2, i * 1000, i, NULL), TS_OK);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	for (int i = 20; i < 25; i++)
		assert_int_equal(tsdb_append(db, a, 2, i * 1000, i, NULL), TS_OK);
	/* Replayed samples already in a block are accepted into the head again... */
	for (int i = 15; i < 20; i++)
		assert_int_equal(tsdb_append(db, a, 2, i * 1000, i, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, b, 2, 5000, 1, NULL), TS_OK);
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	tsdb_series **v, **v2;
	size_t n, n2;
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "up", NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	/* ...and come out once, merged in time order. */
	int64_t t[64];
	double x[64];
	assert_int_equal(read_series(q, v[0], t, x, 64), 25);
	for (int i = 0; i < 25; i++)
		assert_true(t[i] == i * 1000 && x[i] == i);
	assert_int_equal(read_series(q, v[1], t, x, 64), 1);
	/* The same series is the same pointer in a later select. */
	ts_matcher mb;
	assert_int_equal(ts_matcher_init(&mb, TS_MATCH_EQ, "job", "a", NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &mb, 1, 0, &v2, &n2, NULL), TS_OK);
	assert_int_equal(n2, 1);
	assert_ptr_equal(v2[0], v[0]);
	ts_free(v2);
	/* Limits count merged series. */
	ts_err err = {0};
	assert_int_equal(tsdb_select(q, &m, 1, 1, &v2, &n2, &err), TS_ELIMIT);
	/* Sub-range iteration across the block boundary. */
	tsdb_iter *it;
	assert_int_equal(tsdb_iter_open(q, v[0], 8000, 21000, &it, NULL), TS_OK);
	int64_t tt, want = 8000;
	double xx;
	while (tsdb_iter_next(it, &tt, &xx) == 1) {
		assert_int_equal(tt, want);
		want += 1000;
	}
	assert_int_equal(want, 22000);
	tsdb_iter_close(it);
	ts_free(v);
	/* Labels from blocks and head, de-duplicated. */
	const char **s;
	assert_int_equal(tsdb_label_values(q, "job", NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(s[0], "a");
	assert_string_equal(s[1], "b");
	ts_free(s);
	tsdb_querier_close(q);
	/* A querier range inside one block only sees that block's series. */
	assert_int_equal(tsdb_querier_open(db, 0, 4000, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	ts_free(v);
	assert_int_equal(tsdb_label_names(q, NULL, 0, &s, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	ts_free(s);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	ts_matcher_fini(&mb);
	tsdb_close(db);
}

static void test_tsdb_iter_open_conflict_prefers_block(void **state)
{
	(void)state;
	tsdb_db *db = open_disk("querier_conflict");
	ts_label a[] = {{"__name__", "x"}};
	assert_int_equal(tsdb_append(db, a, 1, 1000, 1.0, NULL), TS_OK);
	assert_int_equal(tsdb_append(db, a, 1, 2000, 2.0, NULL), TS_OK);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	/* The head no longer knows 1000; a different value there is accepted into the head
	 * but the persisted value wins on read and at the next cut. */
	assert_int_equal(tsdb_append(db, a, 1, 1000, 9.0, NULL), TS_OK);
	tsdb_querier *q;
	tsdb_series **v;
	size_t n;
	ts_matcher m;
	int64_t t[4];
	double x[4];
	ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "x", NULL);
	assert_int_equal(tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL), TS_OK);
	assert_int_equal(tsdb_select(q, &m, 1, 0, &v, &n, NULL), TS_OK);
	assert_int_equal(read_series(q, v[0], t, x, 4), 2);
	assert_true(x[0] == 1.0);
	ts_free(v);
	tsdb_querier_close(q);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.block_duplicates_dropped, 1);
	assert_int_equal(st.n_blocks, 1);
	ts_matcher_fini(&m);
	tsdb_close(db);
}

/* Sorted label values of name (NULL: names), without matchers or with one matching all. */
static size_t label_strs(tsdb_db *db, int64_t mint, int64_t maxt, const char *name,
			 bool is_match_all, const char ***out)
{
	tsdb_querier *q;
	assert_int_equal(tsdb_querier_open(db, mint, maxt, &q, NULL), TS_OK);
	ts_matcher m;
	assert_int_equal(ts_matcher_init(&m, TS_MATCH_RE, "__name__", ".+", NULL), TS_OK);
	const char **s;
	size_t n;
	size_t nm = is_match_all ? 1 : 0;
	if (name)
		assert_int_equal(tsdb_label_values(q, name, nm ? &m : NULL, nm, &s, &n, NULL),
				 TS_OK);
	else
		assert_int_equal(tsdb_label_names(q, nm ? &m : NULL, nm, &s, &n, NULL), TS_OK);
	/* Copy out: the strings live as long as the querier. */
	const char **c = calloc(n + 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[i] = strdup(s[i]);
	ts_free(s);
	ts_matcher_fini(&m);
	tsdb_querier_close(q);
	*out = c;
	return n;
}

static void strs_free(const char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)v[i]);
	free(v);
}

/*
 * Label names and values without matchers (answered from block label indexes, block
 * postings for blocks partly in range, and the head index) equal those of the series a
 * match-all selector finds, for random ranges over blocks and head.
 */
static void test_tsdb_label_values_match_selected_series(void **state)
{
	(void)state;
	tsdb_db *db = open_disk("querier_label_ranges");
	uint64_t r = 7;
	char names[40][3][16];
	ts_label labels[40][3];
	int64_t lo[40], hi[40];
	for (int i = 0; i < 40; i++) {
		snprintf(names[i][0], 16, "m%d", i % 3);
		snprintf(names[i][1], 16, "h%d", i);
		snprintf(names[i][2], 16, "z%d", i % 4);
		labels[i][0] = (ts_label){"__name__", names[i][0]};
		labels[i][1] = (ts_label){"host", names[i][1]};
		labels[i][2] = (ts_label){"zone", names[i][2]};
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		lo[i] = (int64_t)(r >> 33) % 60000;
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		hi[i] = lo[i] + (int64_t)(r >> 33) % 15000;
	}
	/* Samples before 40 s go to blocks (10 s each), the rest stay in the head. */
	for (int phase = 0; phase < 2; phase++) {
		for (int i = 0; i < 40; i++)
			for (int64_t t = lo[i] - lo[i] % 500; t <= hi[i]; t += 500)
				if ((t < 40000) == (phase == 0))
					assert_int_equal(
					    tsdb_append(db, labels[i], i % 5 ? 3 : 2, t, 1, NULL),
					    TS_OK);
		if (phase == 0)
			assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	}
	static const char *lnames[] = {NULL, "__name__", "host", "zone", "absent"};
	for (int k = 0; k < 300; k++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		int64_t mint = (int64_t)(r >> 33) % 80000 - 5000;
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		int64_t maxt = mint + (int64_t)(r >> 33) % (k % 3 ? 3000 : 30000);
		const char *name = lnames[k % 5];
		const char **got, **want;
		size_t ng = label_strs(db, mint, maxt, name, false, &got);
		size_t nw = label_strs(db, mint, maxt, name, true, &want);
		if (ng != nw)
			fail_msg("%s in [%lld, %lld]: %zu strings, selected series give %zu",
				 name ? name : "(names)", (long long)mint, (long long)maxt, ng, nw);
		for (size_t i = 0; i < ng; i++)
			assert_string_equal(got[i], want[i]);
		strs_free(got, ng);
		strs_free(want, nw);
	}
	tsdb_close(db);
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
	    cmocka_unit_test(test_tsdb_label_values_time_range),
	    cmocka_unit_test(test_tsdb_querier_open_bad_range),
	};
	const struct CMUnitTest disk_tests[] = {
	    cmocka_unit_test(test_tsdb_select_merges_blocks_and_head),
	    cmocka_unit_test(test_tsdb_iter_open_conflict_prefers_block),
	    cmocka_unit_test(test_tsdb_label_values_match_selected_series),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	return rc + cmocka_run_group_tests(disk_tests, NULL, NULL);
}
