/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_postings.c: tests for tsdb/postings.c: list algebra, matcher selection on the
 * head's inverted index against a brute-force scan (random label sets, every matcher
 * type, absent labels, empty values), index compaction after series removal, and label
 * names and values from the index against those of the selected series.
 */
#include "tsdb/tsdb_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_tsdb_plist_algebra(void **state)
{
	(void)state;
	tsdb_plist a = {0}, b = {0};
	uint32_t av[] = {1, 3, 5, 7, 9}, bv[] = {3, 4, 5, 10};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(tsdb_plist_push(&a, av[i], NULL), TS_OK);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(tsdb_plist_push(&b, bv[i], NULL), TS_OK);
	tsdb_plist c = {0};
	for (size_t i = 0; i < 5; i++)
		tsdb_plist_push(&c, av[i], NULL);
	tsdb_plist_intersect(&c, &b);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ids[0], 3);
	assert_int_equal(c.ids[1], 5);
	tsdb_plist_subtract(&a, &b);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.ids[2], 9);
	tsdb_plist u = {0};
	uint32_t uv[] = {9, 2, 9, 4, 2, 1};
	for (size_t i = 0; i < 6; i++)
		tsdb_plist_push(&u, uv[i], NULL);
	tsdb_plist_normalize(&u);
	assert_int_equal(u.n, 4);
	assert_int_equal(u.ids[0], 1);
	assert_int_equal(u.ids[3], 9);
	tsdb_plist_free(&a);
	tsdb_plist_free(&b);
	tsdb_plist_free(&c);
	tsdb_plist_free(&u);
}

#define N_SERIES 300

static uint64_t rs = 42;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

typedef struct set {
	char names[N_SERIES][4][16];
	char values[N_SERIES][4][16];
	ts_label labels[N_SERIES][4];
	size_t n[N_SERIES];
} set;

/* Random label sets over a small vocabulary (so matchers hit and miss). */
static void make_set(set *s)
{
	static const char *names[] = {"__name__", "env", "job", "zone"};
	for (int i = 0; i < N_SERIES; i++) {
		size_t n = 0;
		for (int k = 0; k < 4; k++) {
			if (k > 0 && rnd() % 3 == 0)
				continue; /* label absent */
			snprintf(s->names[i][n], 16, "%s", names[k]);
			snprintf(s->values[i][n], 16, "%c%d", "abc"[rnd() % 3], (int)(rnd() % 4));
			n++;
		}
		/* Make each set unique with a series number in the name value. */
		snprintf(s->values[i][0], 16, "m%d_%d", i % 7, i);
		for (size_t k = 0; k < n; k++)
			s->labels[i][k] = (ts_label){s->names[i][k], s->values[i][k]};
		s->n[i] = n;
	}
}

static bool brute(const set *s, int i, const ts_matcher *ms, size_t n_ms)
{
	for (size_t k = 0; k < n_ms; k++)
		if (!ts_matcher_matches(&ms[k], ts_labels_get(s->labels[i], s->n[i], ms[k].name)))
			return false;
	return true;
}

static void test_tsdb_head_select_matches_brute_force(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	set *s = calloc(1, sizeof(*s));
	make_set(s);
	for (int i = 0; i < N_SERIES; i++)
		assert_int_equal(tsdb_append(db, s->labels[i], s->n[i], 1000, i, NULL), TS_OK);
	static const struct {
		ts_match_type type;
		const char *name, *value;
	} cands[] = {
	    {TS_MATCH_EQ, "env", "a1"},
	    {TS_MATCH_EQ, "env", ""},
	    {TS_MATCH_NEQ, "job", "b2"},
	    {TS_MATCH_NEQ, "zone", ""},
	    {TS_MATCH_RE, "job", "a.|c3"},
	    {TS_MATCH_RE, "zone", ".*"},
	    {TS_MATCH_RE, "zone", ".+"},
	    {TS_MATCH_NRE, "env", "b.*"},
	    {TS_MATCH_NRE, "x", "y"},
	    {TS_MATCH_EQ, "__name__", "m3_3"},
	    {TS_MATCH_RE, "__name__", "m[12]_.*"},
	    {TS_MATCH_EQ, "nope", "x"},
	};
	size_t n_c = sizeof(cands) / sizeof(cands[0]);
	for (int r = 0; r < 400; r++) {
		ts_matcher ms[3];
		size_t n_ms = 1 + rnd() % 3;
		for (size_t k = 0; k < n_ms; k++) {
			size_t c = rnd() % n_c;
			assert_int_equal(ts_matcher_init(&ms[k], cands[c].type, cands[c].name,
							 cands[c].value, NULL),
					 TS_OK);
		}
		tsdb_hseries **v;
		size_t n;
		assert_int_equal(tsdb_head_select(db, ms, n_ms, INT64_MIN, INT64_MAX, &v, &n, NULL),
				 TS_OK);
		size_t want = 0;
		for (int i = 0; i < N_SERIES; i++)
			want += brute(s, i, ms, n_ms);
		assert_int_equal(n, want);
		for (size_t i = 0; i < n; i++) {
			for (size_t k = 0; k < n_ms; k++)
				assert_true(ts_matcher_matches(
				    &ms[k],
				    ts_labels_get(v[i]->labels, v[i]->n_labels, ms[k].name)));
			tsdb_hseries_release(db, v[i]);
		}
		ts_free(v);
		for (size_t k = 0; k < n_ms; k++)
			ts_matcher_fini(&ms[k]);
	}
	free(s);
	tsdb_close(db);
}

static void test_tsdb_hindex_compact_renumbers(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	char buf[16];
	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		ts_label l[] = {{"__name__", i % 2 ? "odd" : "even"}, {"i", buf}};
		assert_int_equal(tsdb_append(db, l, 2, 1, 1, NULL), TS_OK);
	}
	/* Empty the odd series by hand and remove them. */
	tsdb_hseries **all;
	size_t n;
	assert_int_equal(tsdb_head_all_series(db, &all, &n, NULL), TS_OK);
	assert_int_equal(n, 100);
	tsdb_hseries *odd[50];
	size_t n_odd = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i]->labels[0].value, "odd") == 0) {
			tsdb_hsnap snap;
			assert_int_equal(
			    tsdb_head_snap_take(all[i], INT64_MIN, INT64_MAX, &snap, NULL), TS_OK);
			assert_true(tsdb_head_series_gc(db, all[i], &snap));
			tsdb_head_snap_release(db, &snap);
			odd[n_odd++] = all[i];
		}
	}
	assert_int_equal(tsdb_head_remove_empty(db, odd, n_odd), 50);
	for (size_t i = 0; i < n; i++)
		tsdb_hseries_release(db, all[i]);
	ts_free(all);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 50);
	pthread_rwlock_rdlock(&db->index_lock);
	assert_int_equal(db->idx.n_ids, 50);
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(db->idx.by_id[i]->id, i);
	pthread_rwlock_unlock(&db->index_lock);
	ts_matcher m;
	ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "odd", NULL);
	tsdb_hseries **v;
	assert_int_equal(tsdb_head_select(db, &m, 1, INT64_MIN, INT64_MAX, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
	ts_free(v);
	ts_matcher_fini(&m);
	ts_matcher_init(&m, TS_MATCH_RE, "i", "1.", NULL);
	assert_int_equal(tsdb_head_select(db, &m, 1, INT64_MIN, INT64_MAX, &v, &n, NULL), TS_OK);
	assert_int_equal(n, 5); /* 10 12 14 16 18 */
	for (size_t i = 0; i < n; i++)
		tsdb_hseries_release(db, v[i]);
	ts_free(v);
	ts_matcher_fini(&m);
	/* A removed series comes back as a new one. */
	ts_label l[] = {{"__name__", "odd"}, {"i", "1"}};
	assert_int_equal(tsdb_append(db, l, 2, 5, 1, NULL), TS_OK);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 51);
	tsdb_close(db);
}

/* ---------------------------------------------------------------- label strings */

typedef struct strs {
	const char *v[N_SERIES * 4];
	size_t n;
} strs;

static int strs_push(void *arg, const char *str)
{
	strs *s = arg;
	if (s->n == sizeof(s->v) / sizeof(s->v[0]))
		return TS_ELIMIT;
	s->v[s->n++] = str;
	return TS_OK;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort; fail on duplicates (each string must be reported once). */
static void strs_sort_unique(strs *s)
{
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_cstr);
	for (size_t i = 1; i < s->n; i++)
		if (strcmp(s->v[i - 1], s->v[i]) == 0)
			fail_msg("\"%s\" reported twice", s->v[i]);
}

/* Label values of name (NULL: names) of the head series selected for [mint, maxt]. */
static void strs_by_select(tsdb_db *db, const char *name, int64_t mint, int64_t maxt, strs *out)
{
	tsdb_hseries **v;
	size_t n;
	out->n = 0;
	assert_int_equal(tsdb_head_select(db, NULL, 0, mint, maxt, &v, &n, NULL), TS_OK);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < v[i]->n_labels; k++) {
			const char *str =
			    name ? (strcmp(v[i]->labels[k].name, name) == 0 ? v[i]->labels[k].value
									    : NULL)
				 : v[i]->labels[k].name;
			bool have = false;
			for (size_t j = 0; str && j < out->n && !have; j++)
				have = strcmp(out->v[j], str) == 0;
			if (str && !have)
				strs_push(out, str);
		}
		tsdb_hseries_release(db, v[i]);
	}
	ts_free(v);
	qsort(out->v, out->n, sizeof(out->v[0]), cmp_cstr);
}

static void test_tsdb_head_label_strings_matches_select(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	set *s = calloc(1, sizeof(*s));
	make_set(s);
	/* Series i holds samples in [i*100, i*100 + 50]; every fifth is emptied below but
	 * stays in the index (as after a cut, until garbage collection removes it). */
	for (int i = 0; i < N_SERIES; i++)
		for (int k = 0; k <= 50; k += 10)
			assert_int_equal(
			    tsdb_append(db, s->labels[i], s->n[i], i * 100 + k, k, NULL), TS_OK);
	tsdb_hseries **all;
	size_t n_all;
	assert_int_equal(tsdb_head_all_series(db, &all, &n_all, NULL), TS_OK);
	for (size_t i = 0; i < n_all; i++) {
		if (i % 5 == 0) {
			tsdb_hsnap snap;
			assert_int_equal(
			    tsdb_head_snap_take(all[i], INT64_MIN, INT64_MAX, &snap, NULL), TS_OK);
			assert_true(tsdb_head_series_gc(db, all[i], &snap));
			tsdb_head_snap_release(db, &snap);
		}
		tsdb_hseries_release(db, all[i]);
	}
	ts_free(all);
	static const char *names[] = {NULL, "__name__", "env", "job", "zone", "absent"};
	strs got, want;
	for (int r = 0; r < 300; r++) {
		int64_t mint = (int64_t)(rnd() % (N_SERIES * 100 + 200)) - 100;
		int64_t maxt = mint + (int64_t)(rnd() % 4 == 0 ? rnd() % 60 : rnd() % 5000);
		if (r == 0)
			mint = INT64_MIN, maxt = INT64_MAX;
		const char *name = names[rnd() % 6];
		got.n = 0;
		assert_int_equal(
		    tsdb_head_label_strings(db, name, mint, maxt, strs_push, &got, NULL), TS_OK);
		strs_sort_unique(&got);
		strs_by_select(db, name, mint, maxt, &want);
		if (got.n != want.n)
			fail_msg("%s in [%lld, %lld]: %zu strings, select gives %zu",
				 name ? name : "(names)", (long long)mint, (long long)maxt, got.n,
				 want.n);
		for (size_t i = 0; i < got.n; i++)
			assert_string_equal(got.v[i], want.v[i]);
	}
	/* The callback's error stops the walk and is returned. */
	strs small = {.n = sizeof(small.v) / sizeof(small.v[0])};
	assert_int_equal(
	    tsdb_head_label_strings(db, "env", INT64_MIN, INT64_MAX, strs_push, &small, NULL),
	    TS_ELIMIT);
	free(s);
	tsdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_plist_algebra),
	    cmocka_unit_test(test_tsdb_head_select_matches_brute_force),
	    cmocka_unit_test(test_tsdb_hindex_compact_renumbers),
	    cmocka_unit_test(test_tsdb_head_label_strings_matches_select),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
