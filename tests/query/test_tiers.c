/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tiers.c: tests for query/tiers.c, the tier planner: which tier a query reads for
 * its function, window, step, offset and time range (and the fallbacks to raw), and
 * that every routed answer equals the raw answer (an engine with is_raw_only) within
 * 1e-9 relative: random data (gauges with NaN and staleness markers, counters with
 * resets, gaps, grid-aligned samples on bucket edges), the node_exporter capture
 * (real counters, 1m tier), 30 days of NAB (1h tier, where a 30-day range at a 1h
 * step decodes no raw chunk), and late samples cut after the tiers were built (raw until
 * the rebuild, then the rebuilt tiers).
 */
#include "query/eval.h"
#include "support/test_support.h"
#include "support/tsdb_support.h"
#include "tsdb/tsdb_int.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define STALE   0x7ff0000000000002ULL
#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL

static double from_bits(uint64_t b)
{
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

static tsdb_db *open_db(const char *dir, int64_t block_ms)
{
	tsdb_options o;
	test_tsdb_tier_options(&o, dir, block_ms);
	return test_tsdb_open(&o);
}

/* Flush the head and build every complete tier unit. */
static void build_tiers(tsdb_db *db)
{
	ts_err err = {0};
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	if (tsdb_downsample_run(db, &err) != TS_OK)
		fail_msg("downsample: %s", err.msg);
}

static query_engine *engine(tsdb_db *db, bool is_raw_only)
{
	query_options o;
	query_options_init(&o);
	o.db = db;
	o.is_raw_only = is_raw_only;
	query_engine *e;
	assert_int_equal(query_engine_new(&o, &e, NULL), TS_OK);
	return e;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static query_result *range(query_engine *e, const char *q, int64_t start, int64_t end, int64_t step)
{
	query_result *r = NULL;
	ts_err err = {0};
	if (query_range(e, q, strlen(q), start, end, step, &r, &err) != TS_OK)
		fail_msg("%s: %s", q, err.msg);
	return r;
}

/* The tier string a range query reports. */
static const char *tier_of(query_engine *e, const char *q, int64_t start, int64_t end, int64_t step)
{
	query_result *r = range(e, q, start, end, step);
	const char *t = r->stats.tier;
	query_result_free(r);
	return t;
}

static bool same(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (a == b)
		return true;
	double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
	return fabs(a - b) <= 1e-9 * m;
}

/* Equal results: series (labels, in order), timestamps, values to 1e-9 relative. */
static void check_equal(const char *q, const query_result *a, const query_result *b)
{
	if (a->n_series != b->n_series)
		fail_msg("%s: %zu series from tiers, %zu raw", q, a->n_series, b->n_series);
	for (size_t i = 0; i < a->n_series; i++) {
		const query_series *x = &a->series[i], *y = &b->series[i];
		assert_int_equal(ts_labels_cmp(x->labels, x->n_labels, y->labels, y->n_labels), 0);
		if (x->n != y->n)
			fail_msg("%s: series %zu: %zu points from tiers, %zu raw", q, i, x->n,
				 y->n);
		for (size_t k = 0; k < x->n; k++) {
			assert_int_equal(x->t[k], y->t[k]);
			if (!same(x->v[k], y->v[k]))
				fail_msg("%s: series %zu at %lld: %.17g from tiers, %.17g raw", q,
					 i, (long long)x->t[k], x->v[k], y->v[k]);
		}
	}
}

/* Run q on both engines, compare; returns the planned result's tier mask (0 when both
 * fail, which they must do alike: e.g. two series left with one label set). */
static unsigned compare(query_engine *tiered, query_engine *raw, const char *q, int64_t start,
			int64_t end, int64_t step)
{
	query_result *a = NULL, *b = NULL;
	ts_err ea = {0}, eb = {0};
	int ra = query_range(tiered, q, strlen(q), start, end, step, &a, &ea);
	int rb = query_range(raw, q, strlen(q), start, end, step, &b, &eb);
	if (ra || rb) {
		if (ra != rb || strcmp(ea.msg, eb.msg) != 0)
			fail_msg("%s: tiers: %d %s; raw: %d %s", q, ra, ea.msg, rb, eb.msg);
		query_result_free(a);
		query_result_free(b);
		return 0;
	}
	assert_string_equal(b->stats.tier, "raw");
	check_equal(q, a, b);
	unsigned mask = a->stats.tiers_read;
	query_result_free(a);
	query_result_free(b);
	return mask;
}

static const char *const ROUTED[] = {
    "count_over_time", "sum_over_time",     "avg_over_time", "min_over_time", "max_over_time",
    "last_over_time",  "present_over_time", "rate",          "increase",      "delta"};
#define N_ROUTED (sizeof(ROUTED) / sizeof(ROUTED[0]))

/* ---------------------------------------------------------------- random data */

/*
 * 3 days from a day boundary t0 at a jittered 15 s: gauges g0/g1 (NaN, stale markers,
 * a gap, g1 starts late), counters c0/c1 with resets, and grid-aligned series a_g/a_c
 * (a sample on every bucket edge, so windows end exactly on samples), job=x and y.
 */
static void load_random(tsdb_db *db, int64_t t0)
{
	static const char *const names[] = {"g0", "g1", "c0", "c1", "a_g", "a_c"};
	for (int s = 0; s < 6; s++) {
		for (int job = 0; job < 2; job++) {
			ts_label l[2] = {{"__name__", names[s]}, {"job", job ? "y" : "x"}};
			double cnt = 1000;
			bool is_counter = s == 2 || s == 3 || s == 5, is_aligned = s >= 4;
			for (int64_t i = 0; i < 3 * 5760; i++) {
				int64_t t =
				    t0 + i * 15000 + (is_aligned ? 0 : (int64_t)(rnd() % 2000));
				if (s == 1 && t < t0 + DAY_MS + 5 * HOUR_MS)
					continue;
				if (s == 0 && t > t0 + 30 * HOUR_MS && t < t0 + 37 * HOUR_MS)
					continue;
				uint64_t x = rnd() % 1000;
				double v;
				if (is_counter) {
					cnt += (double)(rnd() % 500) / 4.0;
					if (x < 3)
						cnt = (double)(rnd() % 50); /* reset */
					v = cnt;
				} else {
					v = (double)(rnd() % 100000) / 7.0 + 100;
					if (x < 2)
						v = NAN;
				}
				if (x >= 997)
					v = from_bits(STALE);
				assert_int_equal(tsdb_append(db, l, 2, t, v, NULL), TS_OK);
			}
		}
	}
}

static tsdb_db *random_db(const char *dir, int64_t *t0)
{
	tsdb_db *db = open_db(dir, 6 * HOUR_MS);
	*t0 = 1700000000000LL - 1700000000000LL % DAY_MS;
	load_random(db, *t0);
	build_tiers(db);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_true(st.downsampled_1h >= 2); /* days 1 and 2 (the last day is incomplete) */
	assert_true(st.downsampled_1m >= 10);
	return db;
}

/* Which tier for which query, step, window and range. */
static void test_query_tiers_plan(void **state)
{
	(void)state;
	int64_t t0;
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", test_fresh_dir("tiers_plan"));
	tsdb_db *db = random_db(dir, &t0);
	query_engine *e = engine(db, false), *raw = engine(db, true);
	int64_t d1 = t0 + DAY_MS, d2 = t0 + 2 * DAY_MS; /* day 1 is in every tier */
	/* Aligned windows and steps inside the 1h tier's coverage. */
	assert_string_equal(tier_of(e, "max_over_time(g0[1h])", d1, d2 - HOUR_MS, HOUR_MS), "1h");
	assert_string_equal(tier_of(e, "rate(c0[3h])", d1 + 3 * HOUR_MS, d2 - HOUR_MS, HOUR_MS),
			    "1h");
	assert_string_equal(
	    tier_of(e, "sum_over_time(g0[1h] offset 2h)", d1 + 2 * HOUR_MS, d2, HOUR_MS), "1h");
	/* A 30m step: the :30 steps are on the 1m grid only. */
	assert_string_equal(tier_of(e, "count_over_time(a_g[1h])", d1, d2 - HOUR_MS, HOUR_MS / 2),
			    "1h+1m");
	/* Windows that are a multiple of 1m but not of 1h. */
	assert_string_equal(tier_of(e, "min_over_time(g0[90m])", d1 + 2 * HOUR_MS, d2, HOUR_MS),
			    "1m");
	assert_string_equal(tier_of(e, "increase(c0[5m])", d1, d1 + HOUR_MS, MIN_MS), "1m");
	/* Off the grid: window, step times, and functions the rollups cannot answer. */
	assert_string_equal(tier_of(e, "max_over_time(g0[90s])", d1, d2, HOUR_MS), "raw");
	assert_string_equal(tier_of(e, "max_over_time(g0[1h])", d1 + 1000, d2, HOUR_MS), "raw");
	assert_string_equal(tier_of(e, "irate(c0[1h])", d1, d2, HOUR_MS), "raw");
	assert_string_equal(tier_of(e, "changes(g0[1h])", d1, d2, HOUR_MS), "raw");
	assert_string_equal(tier_of(e, "stddev_over_time(g0[1h])", d1, d2, HOUR_MS), "raw");
	assert_string_equal(tier_of(e, "g0", d1, d2, HOUR_MS), "raw");
	assert_string_equal(tier_of(e, "max_over_time(g0[1h] @ 1700100000)", d1, d2, HOUR_MS),
			    "raw");
	assert_string_equal(tier_of(e, "max_over_time(g0[1h:5m])", d1, d2, HOUR_MS), "raw");
	/* The raw-only engine. */
	assert_string_equal(tier_of(raw, "max_over_time(g0[1h])", d1, d2 - HOUR_MS, HOUR_MS),
			    "raw");
	/* Past the tiers' coverage (the last day, the head after new samples): raw there. */
	assert_string_equal(tier_of(e, "max_over_time(g0[1h])", d1, t0 + 3 * DAY_MS, HOUR_MS),
			    "1h+1m+raw");
	/* Inside a subquery on the tier grid, and in a larger expression. */
	assert_string_equal(tier_of(e, "max_over_time(rate(c0[1h])[6h:1h])", d1 + 6 * HOUR_MS,
				    d2 - HOUR_MS, HOUR_MS),
			    "1h");
	assert_string_equal(
	    tier_of(e, "sum by (job) (avg_over_time(g0[1h])) / 2 + g1", d1, d2 - HOUR_MS, HOUR_MS),
	    "1h+raw");
	/* An instant query on the grid. */
	query_result *r = NULL;
	const char *iq = "last_over_time(a_c[1h])";
	assert_int_equal(query_instant(e, iq, strlen(iq), d1 + 5 * HOUR_MS, &r, NULL), TS_OK);
	assert_string_equal(r->stats.tier, "1h");
	assert_int_equal(r->n_series, 2);
	query_result_free(r);
	/* A late sample in the head inside a covered day: steps reading it go raw. */
	ts_label l[2] = {{"__name__", "g0"}, {"job", "z"}};
	assert_int_equal(tsdb_append(db, l, 2, d1 + 10 * HOUR_MS + 5, 42, NULL), TS_OK);
	assert_string_equal(tier_of(e, "max_over_time(g0[1h])", d1, d1 + 9 * HOUR_MS, HOUR_MS),
			    "1h");
	assert_string_equal(tier_of(e, "max_over_time(g0[1h])", d1, d2 - HOUR_MS, HOUR_MS),
			    "1h+raw");
	compare(e, raw, "max_over_time(g0[1h])", d1, d2 - HOUR_MS, HOUR_MS);
	query_engine_free(e);
	query_engine_free(raw);
	tsdb_close(db);
	test_rm_rf(dir);
}

/* Every routed function equals raw over many windows, steps and ranges. */
static void test_query_tiers_random_equals_raw(void **state)
{
	(void)state;
	int64_t t0;
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", test_fresh_dir("tiers_random"));
	tsdb_db *db = random_db(dir, &t0);
	query_engine *e = engine(db, false), *raw = engine(db, true);
	static const char *const windows[] = {"1m", "2m", "5m", "1h", "90m", "2h", "1d"};
	static const int64_t steps[] = {MIN_MS, 5 * MIN_MS, HOUR_MS / 2, HOUR_MS, 7 * MIN_MS};
	static const char *const sels[] = {
	    "g0", "g1", "c0", "c1", "a_g", "a_c", "{__name__=~\"a_.|c.\"}"};
	unsigned used = 0;
	size_t n_queries = 0, n_tiered = 0;
	for (size_t f = 0; f < N_ROUTED; f++) {
		for (size_t k = 0; k < 12; k++) {
			const char *w = windows[rnd() % 7];
			const char *s = sels[rnd() % 7];
			int64_t step = steps[rnd() % 5];
			/* ranges inside the tiers, and across their end into raw and the head */
			int64_t start = t0 + (int64_t)(rnd() % (60 * 36)) * MIN_MS;
			if (rnd() % 2)
				start -= start % HOUR_MS;
			int64_t end = start + (int64_t)(rnd() % 48 + 1) * HOUR_MS;
			if (step == MIN_MS && end - start > 12 * HOUR_MS)
				end = start + 12 * HOUR_MS;
			char q[256];
			const char *off = rnd() % 4 == 0 ? " offset 1h" : "";
			snprintf(q, sizeof(q), "%s(%s[%s]%s)", ROUTED[f], s, w, off);
			unsigned m = compare(e, raw, q, start, end, step);
			used |= m;
			n_queries++;
			n_tiered += (m & ~1u) != 0;
		}
	}
	print_message("random: %zu queries equal to raw, %zu read a tier\n", n_queries, n_tiered);
	assert_true(used & (1u << TSDB_TIER_1M));
	assert_true(used & (1u << TSDB_TIER_1H));
	assert_true(n_tiered > n_queries / 3);
	/* A covered day at 1h, every function on every series, windows 1h and 1d. */
	static const char *const names[] = {"g0", "g1", "c0", "c1", "a_g", "a_c"};
	for (size_t f = 0; f < N_ROUTED; f++) {
		for (size_t k = 0; k < 6; k++) {
			char q[128];
			snprintf(q, sizeof(q), "%s(%s[1h])", ROUTED[f], names[k]);
			unsigned m =
			    compare(e, raw, q, t0 + DAY_MS, t0 + 2 * DAY_MS - HOUR_MS, HOUR_MS);
			if (!(m & (1u << TSDB_TIER_1H)))
				fail_msg("%s: tiers read %#x", q, m);
			snprintf(q, sizeof(q), "%s(%s[1d])", ROUTED[f], names[k]);
			m = compare(e, raw, q, t0 + 2 * DAY_MS - HOUR_MS, t0 + 2 * DAY_MS - HOUR_MS,
				    HOUR_MS);
			/* rate of a gauge over a day: thousands of drops in 15-sample buckets
			 * whose sums the bound cannot vouch for, so it reads raw */
			bool is_counter = names[k][0] == 'c' || strcmp(names[k], "a_c") == 0;
			bool is_gauge_rate = !is_counter && (f == 7 || f == 8);
			if (!is_gauge_rate && !(m & (1u << TSDB_TIER_1H)))
				fail_msg("%s: tiers read %#x", q, m);
		}
	}
	query_engine_free(e);
	query_engine_free(raw);
	tsdb_close(db);
	test_rm_rf(dir);
}

/* Sums that cancel, and counters with several drops in one bucket, are read raw. */
static void test_query_tiers_inexact_steps_read_raw(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("tiers_inexact");
	tsdb_db *db = open_db(dir, 6 * HOUR_MS);
	int64_t t0 = 1700000000000LL - 1700000000000LL % DAY_MS;
	ts_label lg[1] = {{"__name__", "cancel"}}, lc[1] = {{"__name__", "drops"}};
	for (int64_t i = 0; i < 24 * 60; i++) {
		int64_t t = t0 + i * MIN_MS + 1;
		/* +1e15 and -1e15 in alternate hours, plus a small remainder */
		double g = ((i / 60) % 2 ? -1e15 : 1e15) + (double)(i % 7) * 0.1;
		assert_int_equal(tsdb_append(db, lg, 1, t, g, NULL), TS_OK);
		/* a counter near 1e12 that resets three times inside one minute */
		for (int k = 0; k < 4; k++) {
			double c = i % 60 == 30 ? (k % 2 ? 1 : 1e12 + (double)k) : 1e12 + (double)i;
			assert_int_equal(tsdb_append(db, lc, 1, t + k * 1000, c, NULL), TS_OK);
		}
	}
	/*
	 * Per hour, one minute holding two counter drops whose grouping rounds differently
	 * (1e15 + 0.7 and 0.9: raw adds them one by one, the row holds their sum), and one
	 * whose drops cancel (1e15 then -1e15: the row's resets are 0, raw's additions lose
	 * the small increase).
	 */
	ts_label lgr[1] = {{"__name__", "grouped"}}, lng[1] = {{"__name__", "negative"}};
	for (int64_t h = 0; h < 24; h++) {
		int64_t t = t0 + h * HOUR_MS;
		double gv[6] = {
		    1e15 + 0.3 + (double)h, 1e15 + 0.7 + (double)h, 0.1, 0.9, 0.05, 0.6};
		double nv[5] = {0.001, 1e15, -1e15, -2e15, 0.002};
		for (int k = 0; k < 6; k++)
			assert_int_equal(tsdb_append(db, lgr, 1, t + (k ? 60000 + k * 1000 : 30000),
						     gv[k], NULL),
					 TS_OK);
		for (int k = 0; k < 5; k++)
			assert_int_equal(tsdb_append(db, lng, 1, t + (k ? 60000 + k * 1000 : 30000),
						     nv[k], NULL),
					 TS_OK);
	}
	/* a second day so that the first one is complete */
	assert_int_equal(tsdb_append(db, lg, 1, t0 + 2 * DAY_MS, 1, NULL), TS_OK);
	build_tiers(db);
	query_engine *e = engine(db, false), *raw = engine(db, true);
	unsigned m =
	    compare(e, raw, "sum_over_time(cancel[2h])", t0 + 2 * HOUR_MS, t0 + DAY_MS, HOUR_MS);
	assert_true(m & 1u); /* the cancelling windows were read raw */
	compare(e, raw, "avg_over_time(cancel[2h])", t0 + 2 * HOUR_MS, t0 + DAY_MS, HOUR_MS);
	compare(e, raw, "increase(drops[1h])", t0 + HOUR_MS, t0 + DAY_MS, HOUR_MS);
	compare(e, raw, "rate(drops[3h])", t0 + 3 * HOUR_MS, t0 + DAY_MS, HOUR_MS);
	m = compare(e, raw, "increase(grouped[1h])", t0 + HOUR_MS, t0 + DAY_MS, HOUR_MS);
	assert_int_equal(m, 1u); /* every window holds the grouped drops */
	m = compare(e, raw, "increase(negative[1h])", t0 + HOUR_MS, t0 + DAY_MS, HOUR_MS);
	assert_int_equal(m, 1u);
	/* delta does not correct for resets: the same windows come from the tier */
	m = compare(e, raw, "delta(grouped[1h])", t0 + HOUR_MS, t0 + DAY_MS - HOUR_MS, HOUR_MS);
	assert_int_equal(m, 1u << TSDB_TIER_1H);
	query_engine_free(e);
	query_engine_free(raw);
	tsdb_close(db);
	test_rm_rf(dir);
}

/* ---------------------------------------------------------------- real data */

/* 30 days of NAB: a 30-day range at a 1h step from the 1h tier, no raw chunk decoded. */
static void test_query_tiers_nab_30_days(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("tiers_nab");
	tsdb_db *db = open_db(dir, 5 * DAY_MS);
	int64_t first;
	size_t n = test_load_om(db, "cat " STRATA_SHARED_DATA "/nab/nab.om", 36 * DAY_MS, &first);
	assert_true(n > 5000);
	build_tiers(db);
	query_engine *e = engine(db, false), *raw = engine(db, true);
	/* The file's first series starts months earlier and runs on: 30 days of 5-day
	 * units ending with the unit of the first line's time (complete: the load goes on
	 * 36 days past it). Windows up to 1d reach one day further back. */
	int64_t unit = first - first % (5 * DAY_MS);
	int64_t start = unit - 29 * DAY_MS, end = unit + DAY_MS - HOUR_MS;
	static const char *const q[] = {
	    "max_over_time(nab_realAWSCloudwatch[1h])",
	    "min_over_time(nab_realKnownCause[1d])",
	    "avg_over_time({__name__=~\"nab_.*\"}[1h])",
	    "sum_over_time({__name__=~\"nab_.*\"}[6h])",
	    "count_over_time({__name__=~\"nab_.*\"}[1h])",
	    "last_over_time({__name__=~\"nab_.*\"}[1h])",
	    "present_over_time({__name__=~\"nab_.*\"}[1h])",
	    "rate({__name__=~\"nab_.*\"}[1h])",
	    "increase({__name__=~\"nab_.*\"}[1d])",
	    "delta({__name__=~\"nab_.*\"}[2h])",
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		tsdb_stats before, after;
		tsdb_stats_get(db, &before);
		query_result *r = range(e, q[i], start, end, HOUR_MS);
		tsdb_stats_get(db, &after);
		assert_string_equal(r->stats.tier, "1h");
		assert_true(r->n_series > 0);
		assert_int_equal(after.raw_parts_decoded, before.raw_parts_decoded);
		assert_int_equal(after.head_series_reads, before.head_series_reads);
		assert_true(after.rollup_parts_decoded > before.rollup_parts_decoded);
		query_result *b = range(raw, q[i], start, end, HOUR_MS);
		check_equal(q[i], r, b);
		query_result_free(r);
		query_result_free(b);
	}
	/* At a 5m step the off-hour steps read the 1m tier; still equal, still no raw. */
	tsdb_stats before, after;
	tsdb_stats_get(db, &before);
	unsigned m = compare(e, raw, "max_over_time({__name__=~\"nab_.*\"}[1h])", start,
			     start + 5 * DAY_MS, 5 * MIN_MS);
	tsdb_stats_get(db, &after);
	assert_int_equal(m, (1u << TSDB_TIER_1H) | (1u << TSDB_TIER_1M));
	assert_true(after.raw_parts_decoded > before.raw_parts_decoded); /* the raw engine's */
	query_engine_free(e);
	query_engine_free(raw);
	tsdb_close(db);
	test_rm_rf(dir);
}

/* Real counters (node_exporter, ~1 s scrapes) through the 1m tier. */
static void test_query_tiers_node_exporter_counters(void **state)
{
	(void)state;
	const char *dir = test_fresh_dir("tiers_node");
	tsdb_db *db = open_db(dir, MIN_MS);
	int64_t first;
	size_t n =
	    test_load_om(db, "zcat " STRATA_SHARED_DATA "/node_exporter/node_exporter_10m.om.gz",
			 INT64_MAX, &first);
	assert_true(n > 300000);
	build_tiers(db);
	query_engine *e = engine(db, false), *raw = engine(db, true);
	int64_t start = first - first % MIN_MS + 2 * MIN_MS, end = start + 7 * MIN_MS;
	static const char *const q[] = {
	    "rate(node_cpu_seconds_total[1m])",
	    "increase(node_network_receive_bytes_total[2m])",
	    "rate({__name__=~\"node_.*_total\"}[3m])",
	    "delta(node_memory_MemFree_bytes[1m])",
	    "avg_over_time({__name__=~\"node_memory_.*\"}[2m])",
	    "max_over_time({__name__=~\"node_.*\"}[1m])",
	    "sum_over_time({__name__=~\"node_.*\"}[1m])",
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		unsigned m = compare(e, raw, q[i], start, end, MIN_MS);
		assert_true(m & (1u << TSDB_TIER_1M));
	}
	query_engine_free(e);
	query_engine_free(raw);
	tsdb_close(db);
	test_rm_rf(dir);
}

/*
 * A late sample (in order for its series, which had stopped) cut into a raw block after
 * the tiers covering it were built: the planner reads raw there until a downsampling pass
 * rebuilds the units, and the tier answer then equals the raw answer including it.
 */
static void test_query_tiers_late_sample_after_build(void **state)
{
	(void)state;
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", test_fresh_dir("tiers_late"));
	tsdb_db *db = open_db(dir, 2 * HOUR_MS);
	int64_t t0 = 1700000000000LL - 1700000000000LL % DAY_MS;
	ts_label la[1] = {{"__name__", "a"}}, lb[1] = {{"__name__", "b"}};
	for (int64_t i = 0; i < 28 * 60; i++)
		assert_int_equal(tsdb_append(db, la, 1, t0 + i * MIN_MS, (double)(i % 13), NULL),
				 TS_OK);
	for (int64_t i = 0; i < 60; i++)
		assert_int_equal(tsdb_append(db, lb, 1, t0 + i * MIN_MS, (double)i, NULL), TS_OK);
	build_tiers(db);
	query_engine *e = engine(db, false), *raw = engine(db, true);
	const char *qs[] = {"max_over_time(b[1h])",
			    "count_over_time(b[1h]) + count_over_time(a[1h])", "increase(b[2h])",
			    "sum_over_time(b[1m])"};
	int64_t s = t0 + 2 * HOUR_MS, end = t0 + 22 * HOUR_MS;
	assert_string_equal(tier_of(e, qs[0], s, end, HOUR_MS), "1h");
	/* Late: b goes on at 1h30 with a new maximum; cut into a block of its own. */
	for (int64_t i = 0; i < 10; i++)
		assert_int_equal(
		    tsdb_append(db, lb, 1, t0 + 90 * MIN_MS + i * MIN_MS, 1000.0 + (double)i, NULL),
		    TS_OK);
	assert_int_equal(tsdb_flush(db, NULL), TS_OK);
	for (size_t i = 0; i < 4; i++) {
		int64_t step = i == 3 ? MIN_MS : HOUR_MS;
		int64_t lo = i == 3 ? t0 + HOUR_MS : s, hi = i == 3 ? t0 + 3 * HOUR_MS : end;
		/* steps reading the late unit: raw (others may use the intact 1m units) */
		assert_non_null(strstr(tier_of(e, qs[i], lo, hi, step), "raw"));
		compare(e, raw, qs[i], lo, hi, step);
	}
	build_tiers(db);
	for (size_t i = 0; i < 4; i++) {
		int64_t step = i == 3 ? MIN_MS : HOUR_MS;
		int64_t lo = i == 3 ? t0 + HOUR_MS : s, hi = i == 3 ? t0 + 3 * HOUR_MS : end;
		assert_null(strstr(tier_of(e, qs[i], lo, hi, step), "raw"));
		compare(e, raw, qs[i], lo, hi, step);
	}
	query_result *r = range(e, qs[0], s, s, HOUR_MS);
	assert_string_equal(r->stats.tier, "1h");
	assert_int_equal(r->n_series, 1);
	assert_true(r->series[0].n == 1 && r->series[0].v[0] == 1009.0);
	query_result_free(r);
	query_engine_free(e);
	query_engine_free(raw);
	tsdb_close(db);
	test_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_tiers_plan),
	    cmocka_unit_test(test_query_tiers_random_equals_raw),
	    cmocka_unit_test(test_query_tiers_inexact_steps_read_raw),
	    cmocka_unit_test(test_query_tiers_late_sample_after_build),
	    cmocka_unit_test(test_query_tiers_nab_30_days),
	    cmocka_unit_test(test_query_tiers_node_exporter_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
