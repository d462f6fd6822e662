/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cache.c: unit tests of the range-read cache (query/cache.c) through query.h:
 * hits and misses, key normalization, extent math (partial overlaps, adjacent requests
 * coalescing, other step grids), the freshness window, LRU eviction by bytes, late-write
 * invalidation per metric name, bypassed expressions, errors, allocation failures, and a
 * seeded property test: random ranges (aligned and not) over a fixed dataset, interleaved
 * with overlapping requests and late writes, always equal to the uncached query_range
 * bit for bit (NaN payloads, staleness, series present in only some extents), and the
 * tier reported for cached answers (the tiers that produced each extent), per-request
 * deadlines (query_*_until), and results that borrow cached points staying valid after
 * their extents are trimmed, merged or freed.
 */
#include "query/query.h"
#include "tsdb/tsdb_int.h" /* tsdb_downsample_run, to build tiers */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define MIN_MS  60000
#define HOUR_MS (60 * MIN_MS)
#define STALE   0x7ff0000000000002ULL

typedef struct fixture {
	tsdb_db *db;
	query_engine *eng;
	query_cache *cache;
} fixture;

static void append(tsdb_db *db, const char *name, const char *k, const char *v, int64_t t,
		   double val)
{
	ts_label l[2] = {{TS_METRIC_NAME, name}, {k, v}};
	ts_err err = {0};
	int rc = tsdb_append(db, l, 2, t, val, &err);
	if (rc)
		fail_msg("append %s{%s=%s} @%lld: %s", name, k, v, (long long)t, err.msg);
}

static double bits(uint64_t b)
{
	double v;
	memcpy(&v, &b, sizeof(v));
	return v;
}

/*
 * Two hours of data: 20 series m{i} every 15 s (series 10-19 only in the second hour,
 * series 05 stops at 40m with a staleness marker), a counter ctr{i} with resets, a gauge
 * g{k} every minute with a staleness marker at 30m and a NaN at 50m.
 */
static void load(tsdb_db *db)
{
	char buf[16];
	for (int i = 0; i < 20; i++) {
		snprintf(buf, sizeof(buf), "%02d", i);
		int64_t from = i >= 10 ? HOUR_MS : 0;
		for (int64_t t = from; t <= 2 * HOUR_MS; t += 15000) {
			if (i == 5 && t > 40 * MIN_MS)
				break;
			double v = i == 5 && t == 40 * MIN_MS
				       ? bits(STALE)
				       : (double)(i * 7 % 11) + (double)t / 60000.0;
			append(db, "m", "i", buf, t, v);
			if (i < 3)
				append(db, "ctr", "i", buf, t,
				       (double)((t % (20 * MIN_MS)) / 1000 * (i + 1)));
		}
	}
	for (int64_t t = 0; t <= 2 * HOUR_MS; t += MIN_MS) {
		double v = (double)(t / MIN_MS % 7);
		if (t == 30 * MIN_MS)
			v = bits(STALE);
		if (t == 50 * MIN_MS)
			v = NAN;
		append(db, "g", "k", "a", t, v);
	}
}

static query_cache *new_cache(query_engine *e, size_t max_bytes, int64_t freshness_ms)
{
	query_cache_options o = {.max_bytes = max_bytes, .freshness_ms = freshness_ms};
	query_cache *c = NULL;
	assert_int_equal(query_cache_new(e, &o, &c, NULL), TS_OK);
	return c;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	tsdb_options o;
	tsdb_options_init(&o);
	o.out_of_order_window_ms = 30LL * 24 * HOUR_MS; /* late writes anywhere */
	if (tsdb_open(&o, &f->db, NULL))
		return -1;
	load(f->db);
	query_options qo;
	query_options_init(&qo);
	qo.db = f->db;
	if (query_engine_new(&qo, &f->eng, NULL))
		return -1;
	f->cache = new_cache(f->eng, 64 << 20, 5 * MIN_MS);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	query_cache_free(f->cache);
	query_engine_free(f->eng);
	tsdb_close(f->db);
	free(f);
	return 0;
}

/* "Now" far after the data: every step is cacheable unless a test says otherwise. */
#define LATER (10 * HOUR_MS)

static query_result *cached(fixture *f, query_cache *c, const char *q, int64_t s, int64_t e,
			    int64_t step, int64_t now)
{
	query_result *r = NULL;
	ts_err err = {0};
	int rc = query_range_cached(f->eng, c, q, strlen(q), s, e, step, now, &r, &err);
	if (rc)
		fail_msg("cached %s [%lld, %lld] / %lld: %s", q, (long long)s, (long long)e,
			 (long long)step, err.msg);
	return r;
}

static query_result *uncached(fixture *f, const char *q, int64_t s, int64_t e, int64_t step)
{
	query_result *r = NULL;
	ts_err err = {0};
	if (query_range(f->eng, q, strlen(q), s, e, step, &r, &err))
		fail_msg("uncached %s: %s", q, err.msg);
	return r;
}

/* Exact equality: type, series order, labels, timestamps and value bits. */
static void assert_same(const query_result *a, const query_result *b, const char *what)
{
	if (a->type != b->type || a->n_series != b->n_series)
		fail_msg("%s: type %d/%d, %zu/%zu series", what, a->type, b->type, a->n_series,
			 b->n_series);
	for (size_t i = 0; i < a->n_series; i++) {
		const query_series *x = &a->series[i], *y = &b->series[i];
		if (ts_labels_cmp(x->labels, x->n_labels, y->labels, y->n_labels) != 0 ||
		    x->n != y->n)
			fail_msg("%s: series %zu differs (labels or %zu/%zu points)", what, i, x->n,
				 y->n);
		if (x->n && (memcmp(x->t, y->t, x->n * sizeof(int64_t)) != 0 ||
			     memcmp(x->v, y->v, x->n * sizeof(double)) != 0))
			fail_msg("%s: series %zu points differ", what, i);
	}
}

/* Run q cached and uncached and compare; returns the cached result's stats. */
static query_stats check(fixture *f, query_cache *c, const char *q, int64_t s, int64_t e,
			 int64_t step, int64_t now)
{
	query_result *a = cached(f, c, q, s, e, step, now);
	query_result *b = uncached(f, q, s, e, step);
	char what[300];
	snprintf(what, sizeof(what), "%s [%lld, %lld] step %lld now %lld", q, (long long)s,
		 (long long)e, (long long)step, (long long)now);
	assert_same(a, b, what);
	query_stats st = a->stats;
	query_result_free(a);
	query_result_free(b);
	return st;
}

static query_cache_stats stats(query_cache *c)
{
	query_cache_stats s;
	query_cache_stats_get(c, &s);
	return s;
}

/* ================================================================ hits and keys */

static void test_query_range_cached_hit(void **state)
{
	fixture *f = *state;
	query_stats s1 =
	    check(f, f->cache, "rate(ctr[5m])", 10 * MIN_MS, 70 * MIN_MS, 30000, LATER);
	assert_int_equal(s1.cache, 0);
	assert_true(s1.samples_loaded > 0);
	query_stats s2 =
	    check(f, f->cache, "rate(ctr[5m])", 10 * MIN_MS, 70 * MIN_MS, 30000, LATER);
	assert_int_equal(s2.cache, 1);
	assert_int_equal(s2.samples_loaded, 0); /* nothing evaluated */
	query_cache_stats cs = stats(f->cache);
	assert_int_equal(cs.hits, 1);
	assert_int_equal(cs.partial_hits, 0);
	assert_int_equal(cs.misses, 1);
	assert_int_equal(cs.entries, 1);
	assert_true(cs.bytes > 0);
	/* A sub-range of what is cached is a full hit too, also with an unaligned end. */
	query_stats s3 =
	    check(f, f->cache, "rate(ctr[5m])", 20 * MIN_MS, 40 * MIN_MS + 7, 30000, LATER);
	assert_int_equal(s3.cache, 1);
	assert_int_equal(s3.samples_loaded, 0);
}

static void test_query_range_cached_normalized_key(void **state)
{
	fixture *f = *state;
	check(f, f->cache, "sum by (i) (rate(m[300s]))", 0, HOUR_MS, MIN_MS, LATER);
	query_stats s = check(f, f->cache, "sum  by(i)(rate( m [5m] ))", 0, HOUR_MS, MIN_MS, LATER);
	assert_int_equal(s.cache, 1);
	assert_int_equal(s.samples_loaded, 0);
	assert_int_equal(stats(f->cache).entries, 1);
	/* Another step or another grid phase is another entry. */
	s = check(f, f->cache, "sum by (i) (rate(m[5m]))", 0, HOUR_MS, 2 * MIN_MS, LATER);
	assert_int_equal(s.cache, 0);
	s = check(f, f->cache, "sum by (i) (rate(m[5m]))", 7000, HOUR_MS, MIN_MS, LATER);
	assert_int_equal(s.cache, 0);
	assert_int_equal(stats(f->cache).entries, 3);
}

/* ================================================================ extent math */

static void test_query_range_cached_extents(void **state)
{
	fixture *f = *state;
	const char *q = "m";
	/* [20m, 40m] then [30m, 60m]: the second evaluates (40m, 60m] only. */
	check(f, f->cache, q, 20 * MIN_MS, 40 * MIN_MS, MIN_MS, LATER);
	query_stats a = check(f, f->cache, q, 30 * MIN_MS, 60 * MIN_MS, MIN_MS, LATER);
	query_stats full = check(f, f->cache, "(m)", 30 * MIN_MS, 60 * MIN_MS, MIN_MS, LATER);
	assert_int_equal(a.cache, 1);
	assert_true(a.samples_loaded > 0 && a.samples_loaded < full.samples_loaded);
	/* Now [20m, 60m] is covered by two adjacent extents: a full hit. */
	query_stats b = check(f, f->cache, q, 20 * MIN_MS, 60 * MIN_MS, MIN_MS, LATER);
	assert_int_equal(b.cache, 1);
	assert_int_equal(b.samples_loaded, 0);
	/* A request around it: two missing runs (before and after) plus the cached middle;
	 * series 10-19 appear only in the last run. */
	query_stats c = check(f, f->cache, q, 0, 2 * HOUR_MS, MIN_MS, LATER);
	assert_int_equal(c.cache, 1);
	assert_true(c.samples_loaded > 0);
	query_stats d = check(f, f->cache, q, 0, 2 * HOUR_MS, MIN_MS, LATER);
	assert_int_equal(d.samples_loaded, 0);
	/* A gap between two extents is filled on its own. */
	check(f, f->cache, "g", 0, 10 * MIN_MS, MIN_MS, LATER);
	check(f, f->cache, "g", 50 * MIN_MS, 60 * MIN_MS, MIN_MS, LATER);
	query_stats e = check(f, f->cache, "g", 0, 60 * MIN_MS, MIN_MS, LATER);
	assert_int_equal(e.cache, 1);
	assert_int_equal(check(f, f->cache, "g", 0, 60 * MIN_MS, MIN_MS, LATER).samples_loaded, 0);
	query_cache_stats cs = stats(f->cache);
	assert_int_equal(cs.partial_hits, 3);
	/* An auto-refreshing panel: 30 adjacent requests, merged every few extents. */
	for (int i = 1; i <= 30; i++)
		check(f, f->cache, "sum(m)", i * MIN_MS, 30 * MIN_MS + i * MIN_MS, MIN_MS,
		      35 * MIN_MS + i * MIN_MS);
	query_stats r = check(f, f->cache, "sum(m)", MIN_MS, 60 * MIN_MS, MIN_MS, LATER);
	assert_int_equal(r.samples_loaded, 0);
}

static void test_query_range_cached_single_step(void **state)
{
	fixture *f = *state;
	check(f, f->cache, "m", 30 * MIN_MS, 30 * MIN_MS, MIN_MS, LATER);
	query_stats s = check(f, f->cache, "m", 30 * MIN_MS, 30 * MIN_MS, MIN_MS, LATER);
	assert_int_equal(s.cache, 1);
	/* Scalars are one unlabeled series; empty results stay empty. */
	check(f, f->cache, "time() * 2", 0, HOUR_MS, 45000, LATER);
	assert_int_equal(check(f, f->cache, "time() * 2", 0, HOUR_MS, 45000, LATER).cache, 1);
	check(f, f->cache, "nothing_here", 0, HOUR_MS, MIN_MS, LATER);
	assert_int_equal(check(f, f->cache, "nothing_here", 0, HOUR_MS, MIN_MS, LATER).cache, 1);
}

/* ================================================================ freshness */

static void test_query_range_cached_freshness(void **state)
{
	fixture *f = *state;
	int64_t now = 60 * MIN_MS; /* freshness 5m: steps after 55m are never stored */
	check(f, f->cache, "m", 30 * MIN_MS, 60 * MIN_MS, MIN_MS, now);
	query_stats a = check(f, f->cache, "m", 30 * MIN_MS, 60 * MIN_MS, MIN_MS, now);
	assert_int_equal(a.cache, 1);
	assert_true(a.samples_loaded > 0); /* (55m, 60m] again */
	assert_int_equal(stats(f->cache).partial_hits, 1);
	query_stats b = check(f, f->cache, "m", 30 * MIN_MS, 55 * MIN_MS, MIN_MS, now);
	assert_int_equal(b.samples_loaded, 0);
	/* Everything too fresh: nothing cached, a miss every time. */
	check(f, f->cache, "g", 56 * MIN_MS, 60 * MIN_MS, MIN_MS, now);
	query_stats c = check(f, f->cache, "g", 56 * MIN_MS, 60 * MIN_MS, MIN_MS, now);
	assert_int_equal(c.cache, 0);
	assert_int_equal(stats(f->cache).entries, 1);
	/* Time moves on: the next request caches up to the new horizon. */
	check(f, f->cache, "m", 30 * MIN_MS, 70 * MIN_MS, MIN_MS, 80 * MIN_MS);
	assert_int_equal(
	    check(f, f->cache, "m", 30 * MIN_MS, 70 * MIN_MS, MIN_MS, 80 * MIN_MS).samples_loaded,
	    0);
}

/* ================================================================ LRU by bytes */

static void test_query_range_cached_lru_eviction(void **state)
{
	fixture *f = *state;
	query_cache *c = new_cache(f->eng, 48 << 10, 0); /* 48 KiB */
	/* One entry of m over 2h at 1m: 20 series x ~100 points x 16 B = ~30 KiB. */
	check(f, c, "m", 0, 2 * HOUR_MS, MIN_MS, LATER);
	query_cache_stats s = stats(c);
	assert_int_equal(s.entries, 1);
	assert_true(s.bytes > 16 << 10 && s.bytes <= 48 << 10);
	check(f, c, "g", 0, 2 * HOUR_MS, MIN_MS, LATER); /* small: both fit */
	assert_int_equal(stats(c).entries, 2);
	assert_int_equal(check(f, c, "m", 0, 2 * HOUR_MS, MIN_MS, LATER).cache, 1); /* m is MRU */
	check(f, c, "m * 2", 0, 2 * HOUR_MS, MIN_MS, LATER); /* evicts g (LRU) first */
	s = stats(c);
	assert_true(s.evictions >= 1);
	assert_true(s.bytes <= 48 << 10);
	assert_int_equal(check(f, c, "m * 2", 0, 2 * HOUR_MS, MIN_MS, LATER).cache, 1);
	assert_int_equal(check(f, c, "g", 0, 2 * HOUR_MS, MIN_MS, LATER).cache, 0);
	/* An entry larger than the whole cache is not kept. */
	query_cache *tiny = new_cache(f->eng, 1024, 0);
	check(f, tiny, "m", 0, 2 * HOUR_MS, MIN_MS, LATER);
	s = stats(tiny);
	assert_int_equal(s.entries, 0);
	assert_int_equal(s.bytes, 0);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(check(f, tiny, "m", 0, 2 * HOUR_MS, MIN_MS, LATER).cache, 0);
	query_cache_free(tiny);
	query_cache_free(c);
}

/* ================================================================ late writes */

static void test_query_range_cached_invalidation(void **state)
{
	fixture *f = *state;
	check(f, f->cache, "sum(m)", 0, 2 * HOUR_MS, MIN_MS, LATER);
	check(f, f->cache, "g", 0, 2 * HOUR_MS, MIN_MS, LATER);
	check(f, f->cache, "{__name__=~\"g|x\"}", 0, 2 * HOUR_MS, MIN_MS, LATER);
	assert_int_equal(stats(f->cache).invalidations, 0);
	/* A late sample for an existing series between two scrapes, and a new series that
	 * exists only from 50m to 52m (present in only one extent after the re-evaluation). */
	append(f->db, "m", "i", "03", 45 * MIN_MS + 5000, 1000.0);
	append(f->db, "m", "i", "new", 50 * MIN_MS, 1.0);
	append(f->db, "m", "i", "new", 52 * MIN_MS, 2.0);
	query_stats a = check(f, f->cache, "sum(m)", 0, 2 * HOUR_MS, MIN_MS, LATER);
	assert_int_equal(a.cache, 1); /* [0, 45m) stayed cached */
	assert_true(a.samples_loaded > 0);
	query_cache_stats s = stats(f->cache);
	/* m's entry plus the regex entry (no fixed name) were trimmed; g's was not. */
	assert_int_equal(s.invalidations, 2);
	assert_int_equal(check(f, f->cache, "g", 0, 2 * HOUR_MS, MIN_MS, LATER).samples_loaded, 0);
	check(f, f->cache, "m", 40 * MIN_MS, 60 * MIN_MS, 30000, LATER);
	query_stats b = check(f, f->cache, "m", 40 * MIN_MS, 60 * MIN_MS, 30000, LATER);
	assert_int_equal(b.samples_loaded, 0);
	/* A late write before a whole extent drops it. */
	append(f->db, "m", "i", "new", 10 * MIN_MS, 3.0);
	query_stats c = check(f, f->cache, "m", 40 * MIN_MS, 60 * MIN_MS, 30000, LATER);
	assert_int_equal(c.cache, 0);
	/* Samples newer than every cached step are not late. */
	uint64_t inv = stats(f->cache).invalidations;
	append(f->db, "m", "i", "03", 3 * HOUR_MS, 1.0);
	check(f, f->cache, "g", 0, 2 * HOUR_MS, MIN_MS, LATER);
	assert_int_equal(stats(f->cache).invalidations, inv);
}

/*
 * A full hit lends the cached extents' points to the result instead of copying them:
 * the result stays intact after the extents are trimmed, dropped, coalesced or the cache
 * is freed (ASan would see a use after free), and compares equal to the uncached answer
 * of the data as it was.
 */
static void test_query_range_cached_result_outlives_extents(void **state)
{
	fixture *f = *state;
	query_cache *c = new_cache(f->eng, 64 << 20, 5 * MIN_MS);
	const char *q = "rate(m[5m])";
	query_result *want = uncached(f, q, 0, 2 * HOUR_MS, MIN_MS);
	query_result *want_sub = uncached(f, q, 10 * MIN_MS, 50 * MIN_MS, MIN_MS);
	query_result_free(cached(f, c, q, 0, HOUR_MS, MIN_MS, LATER));
	query_result_free(cached(f, c, q, HOUR_MS + MIN_MS, 2 * HOUR_MS, MIN_MS, LATER));
	query_result *hit = cached(f, c, q, 0, 2 * HOUR_MS, MIN_MS, LATER); /* two extents */
	query_result *sub = cached(f, c, q, 10 * MIN_MS, 50 * MIN_MS, MIN_MS, LATER);
	assert_int_equal(hit->stats.cache, 1);
	assert_int_equal(hit->stats.samples_loaded, 0);
	assert_int_equal(sub->stats.samples_loaded, 0);
	assert_same(hit, want, "full hit over two extents");
	assert_same(sub, want_sub, "full hit inside one extent");
	/* A late write trims both extents from 5m on; the requests below re-evaluate and
	 * insert more than COALESCE_AT adjacent extents, which are merged into new ones. */
	append(f->db, "m", "i", "03", 5 * MIN_MS + 5000, 1000.0);
	for (int64_t k = 0; k < 12; k++)
		query_result_free(
		    cached(f, c, q, k * 10 * MIN_MS, k * 10 * MIN_MS + 9 * MIN_MS, MIN_MS, LATER));
	assert_true(stats(c).invalidations > 0);
	query_cache_free(c);
	assert_same(hit, want, "full hit after its extents were trimmed, merged and freed");
	assert_same(sub, want_sub, "sub-range hit after its extent was freed");
	query_result_free(sub);
	query_result_free(hit);
	query_result_free(want_sub);
	query_result_free(want);
}

/* ================================================================ bypass and errors */

static void test_query_range_cached_bypass(void **state)
{
	fixture *f = *state;
	const char *qs[] = {"m @ start()", "rate(m[5m] @ end())", "m @ 1800", "m offset -5m",
			    "max_over_time(m[10m:1m] offset -1m)"};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		check(f, f->cache, qs[i], 10 * MIN_MS, 50 * MIN_MS, MIN_MS, LATER);
		check(f, f->cache, qs[i], 20 * MIN_MS, 60 * MIN_MS, MIN_MS, LATER);
	}
	query_cache_stats s = stats(f->cache);
	assert_int_equal(s.hits + s.misses, 0);
	assert_int_equal(s.entries, 0);
	/* Disabled cache and no cache. */
	query_cache *off = new_cache(f->eng, 0, 0);
	check(f, off, "m", 0, HOUR_MS, MIN_MS, LATER);
	assert_int_equal(check(f, off, "m", 0, HOUR_MS, MIN_MS, LATER).cache, 0);
	assert_int_equal(stats(off).entries, 0);
	query_cache_free(off);
	check(f, NULL, "m", 0, HOUR_MS, MIN_MS, LATER);
	query_cache_stats z;
	query_cache_stats_get(NULL, &z);
	assert_int_equal(z.hits, 0);
}

static void test_query_range_cached_errors(void **state)
{
	fixture *f = *state;
	query_result *r = NULL;
	ts_err a = {0}, b = {0};
	const char *q = "sum(m";
	assert_int_equal(
	    query_range_cached(f->eng, f->cache, q, strlen(q), 0, HOUR_MS, MIN_MS, LATER, &r, &a),
	    TS_EPARSE);
	assert_int_equal(query_range(f->eng, q, strlen(q), 0, HOUR_MS, MIN_MS, &r, &b), TS_EPARSE);
	assert_string_equal(a.msg, b.msg);
	q = "m[5m]";
	assert_int_equal(
	    query_range_cached(f->eng, f->cache, q, strlen(q), 0, HOUR_MS, MIN_MS, LATER, &r, &a),
	    TS_EINVAL);
	q = "m";
	assert_int_equal(
	    query_range_cached(f->eng, f->cache, q, strlen(q), HOUR_MS, 0, MIN_MS, LATER, &r, &a),
	    TS_EINVAL);
	assert_int_equal(
	    query_range_cached(f->eng, f->cache, q, strlen(q), 0, HOUR_MS, 0, LATER, &r, &a),
	    TS_EINVAL);
	assert_int_equal(
	    query_range_cached(f->eng, f->cache, q, strlen(q), 0, HOUR_MS, 1, LATER, &r, &a),
	    TS_EINVAL); /* too many points */
	/* An evaluation error in a missing run (duplicate label sets). */
	q = "{__name__=~\"m|ctr\", i=\"00\"} * 1";
	assert_int_equal(
	    query_range_cached(f->eng, f->cache, q, strlen(q), 0, HOUR_MS, MIN_MS, LATER, &r, &a),
	    TS_EINVAL);
	assert_string_equal(a.msg, "vector cannot contain metrics with the same labelset");
	query_cache_options o = {.max_bytes = 1, .freshness_ms = -1};
	query_cache *c = NULL;
	assert_int_equal(query_cache_new(f->eng, &o, &c, &a), TS_EINVAL);
	assert_null(c);
	o.freshness_ms = 0;
	assert_int_equal(query_cache_new(NULL, &o, &c, &a), TS_EINVAL);
	query_cache_free(NULL);
}

static void test_query_range_cached_alloc_failures(void **state)
{
	fixture *f = *state;
	const char *q = "sum by (i) (rate(m[5m]))";
	bool ok = false;
	for (int64_t n = 0; n < 20000 && !ok; n++) {
		/* Each round: a partly cached request, so planning, evaluation, merging and
		 * insertion all meet the failure. */
		query_cache *c = new_cache(f->eng, 1 << 20, 0);
		query_result *r = NULL;
		ts_err err = {0};
		check(f, c, q, 0, 30 * MIN_MS, MIN_MS, LATER);
		ts_alloc_fail_after(n);
		int rc = query_range_cached(f->eng, c, q, strlen(q), 0, HOUR_MS, MIN_MS, LATER, &r,
					    &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			query_result *u = uncached(f, q, 0, HOUR_MS, MIN_MS);
			assert_same(r, u, "after allocation failures");
			query_result_free(u);
			ok = n > 0;
			query_result_free(r);
		} else if (rc != TS_ENOMEM && rc != TS_ELIMIT) {
			fail_msg("after %lld allocations: rc %d %s", (long long)n, rc, err.msg);
		}
		/* Whatever was or was not inserted, the cache still answers correctly. */
		check(f, c, q, 0, HOUR_MS, MIN_MS, LATER);
		query_cache_free(c);
	}
	assert_true(ok);
}

/* ================================================================ property test */

static uint64_t rng_state = 0x5eed;

static uint64_t rnd(void)
{
	/* xorshift64*: fixed seed, reproducible. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void test_query_range_cached_property(void **state)
{
	fixture *f = *state;
	const char *qs[] = {
	    "m",
	    "g",
	    "rate(ctr[2m])",
	    "sum by (i) (m)",
	    "count(m)",
	    "m / 0",
	    "g * -1",
	    "timestamp(g)",
	    "time()",
	    "absent(g)",
	    "max_over_time(m[5m:1m])",
	    "avg_over_time(g[7m])",
	    "m offset 5m",
	    "topk(3, m)",
	    "m > 50",
	    "{__name__=~\"m|g\", i=~\"0.|\"}",
	    "label_replace(g, \"x\", \"$1\", \"k\", \"(.*)\")",
	    "m @ start()",
	};
	const int64_t steps[] = {15000, 30000, MIN_MS, 7000, 90000, 5 * MIN_MS};
	size_t nq = sizeof(qs) / sizeof(qs[0]);
	query_cache *c = new_cache(f->eng, 2 << 20, 5 * MIN_MS);
	int late = 0;
	for (int it = 0; it < 600; it++) {
		const char *q = qs[rnd() % nq];
		int64_t step = steps[rnd() % (sizeof(steps) / sizeof(steps[0]))];
		/* Mostly on the Grafana grid (start a multiple of step), sometimes not. */
		int64_t s = rnd_in(-10 * MIN_MS, 2 * HOUR_MS);
		if (rnd() % 4)
			s -= ((s % step) + step) % step;
		int64_t e = s + rnd_in(0, 80) * step + (rnd() % 3 ? 0 : rnd_in(0, step - 1));
		int64_t now = rnd() % 3 ? LATER : rnd_in(s, e + 10 * MIN_MS);
		check(f, c, q, s, e, step, now);
		/* An overlapping follow-up, like a dashboard refresh or a zoom. */
		int64_t shift = rnd_in(-20, 20) * step;
		check(f, c, q, s + shift, e + shift + rnd_in(0, 3) * step, step, now + shift);
		if (rnd() % 25 == 0) {
			char v[16];
			snprintf(v, sizeof(v), "late%d", late++);
			append(f->db, rnd() % 2 ? "m" : "g", "i", v, rnd_in(0, 2 * HOUR_MS),
			       (double)late);
		}
	}
	query_cache_stats st = stats(c);
	assert_true(st.hits > 100);
	assert_true(st.partial_hits > 50);
	assert_true(st.invalidations > 0);
	assert_true(st.bytes <= 2 << 20);
	query_cache_free(c);
}

/* ================================================================ deadlines */

/*
 * A per-request deadline (query_*_until) stops the evaluation with TS_ETIMEOUT, also for
 * the pieces the cache evaluates (nothing is cached then); a later one, or none, changes
 * nothing.
 */
static void test_query_range_cached_deadline(void **state)
{
	fixture *f = *state;
	const char *q = "max_over_time(rate(ctr[5m])[1h:1s])";
	query_result *r = NULL;
	ts_err err = {0};
	int64_t past = ts_mono_ns() - 1;
	assert_int_equal(query_range_cached_until(f->eng, f->cache, q, strlen(q), 0, HOUR_MS,
						  MIN_MS, LATER, past, &r, &err),
			 TS_ETIMEOUT);
	assert_null(r);
	assert_non_null(strstr(err.msg, "timed out"));
	assert_int_equal(stats(f->cache).entries, 0);
	assert_int_equal(
	    query_range_until(f->eng, q, strlen(q), 0, HOUR_MS, MIN_MS, past, &r, NULL),
	    TS_ETIMEOUT);
	assert_int_equal(query_instant_until(f->eng, q, strlen(q), HOUR_MS, past, &r, NULL),
			 TS_ETIMEOUT);
	/* Uncacheable (@) requests take the plain path under the same deadline. */
	const char *qa = "max_over_time(rate(ctr[5m] @ 3600)[1h:1s])";
	assert_int_equal(query_range_cached_until(f->eng, f->cache, qa, strlen(qa), 0, HOUR_MS,
						  MIN_MS, LATER, past, &r, NULL),
			 TS_ETIMEOUT);
	/* A deadline in an hour, or none (0): the same answers as without. */
	int64_t later = ts_mono_ns() + 3600LL * 1000000000;
	assert_int_equal(query_range_cached_until(f->eng, f->cache, q, strlen(q), 0, HOUR_MS,
						  MIN_MS, LATER, later, &r, &err),
			 TS_OK);
	query_result *b = uncached(f, q, 0, HOUR_MS, MIN_MS);
	assert_same(r, b, "deadline in an hour");
	query_result_free(r);
	assert_int_equal(query_instant_until(f->eng, q, strlen(q), HOUR_MS, 0, &r, NULL), TS_OK);
	query_result_free(r);
	query_result_free(b);
	/* The engine's own timeout still bounds a later deadline. */
	query_options qo;
	query_options_init(&qo);
	qo.db = f->db;
	qo.timeout_ms = 1;
	query_engine *e1;
	assert_int_equal(query_engine_new(&qo, &e1, NULL), TS_OK);
	const char *slow = "max_over_time(rate(m[5m])[2h:100ms])";
	assert_int_equal(query_instant_until(e1, slow, strlen(slow), 2 * HOUR_MS, later, &r, NULL),
			 TS_ETIMEOUT);
	query_engine_free(e1);
}

/* ================================================================ tiers */

/*
 * Answers from cache report the tiers that produced them: each extent keeps its
 * evaluation's tiers, and a request reports the union over its pieces.
 */
static void test_query_range_cached_reports_tiers(void **state)
{
	(void)state;
	char dir[512], cmd[600];
	snprintf(dir, sizeof(dir), "%s/cache_tiers", STRATA_TEST_TMP);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	mkdir(STRATA_TEST_TMP, 0755);
	assert_int_equal(mkdir(dir, 0755), 0);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.block_duration_ms = 2 * HOUR_MS;
	o.out_of_order_window_ms = 0;
	o.cut_check_interval_ms = 0;
	o.retention_raw_ms = o.retention_1m_ms = o.retention_1h_ms = 1000LL * 24 * HOUR_MS;
	fixture f = {0};
	assert_int_equal(tsdb_open(&o, &f.db, NULL), TS_OK);
	int64_t t0 = 1700000000000LL - 1700000000000LL % (24 * HOUR_MS);
	for (int64_t i = 0; i < 28 * 60; i++)
		append(f.db, "a", "k", "x", t0 + i * MIN_MS, (double)(i % 13));
	ts_err err = {0};
	assert_int_equal(tsdb_flush(f.db, NULL), TS_OK);
	if (tsdb_downsample_run(f.db, &err) != TS_OK)
		fail_msg("downsample: %s", err.msg);
	query_options qo;
	query_options_init(&qo);
	qo.db = f.db;
	assert_int_equal(query_engine_new(&qo, &f.eng, NULL), TS_OK);
	query_cache *c = new_cache(f.eng, 64 << 20, 5 * MIN_MS);
	const char *q = "max_over_time(a[1h])";
	int64_t s = t0 + 2 * HOUR_MS, e = t0 + 22 * HOUR_MS, now = t0 + 100 * HOUR_MS;
	query_stats s1 = check(&f, c, q, s, e, HOUR_MS, now);
	assert_int_equal(s1.cache, 0);
	assert_string_equal(s1.tier, "1h");
	query_stats s2 = check(&f, c, q, s, e, HOUR_MS, now);
	assert_int_equal(s2.cache, 1);
	assert_int_equal(s2.samples_loaded, 0);
	assert_string_equal(s2.tier, "1h");
	/* Partly cached (1h), partly evaluated past the tiers' coverage (raw). */
	query_stats s3 = check(&f, c, q, s, t0 + 28 * HOUR_MS, HOUR_MS, now);
	assert_int_equal(s3.cache, 1);
	assert_non_null(strstr(s3.tier, "1h"));
	assert_non_null(strstr(s3.tier, "raw"));
	/* Now all cached, across both extents (coalesced or not). */
	query_stats s4 = check(&f, c, q, s, t0 + 28 * HOUR_MS, HOUR_MS, now);
	assert_int_equal(s4.samples_loaded, 0);
	assert_string_equal(s4.tier, s3.tier);
	query_result *u = uncached(&f, q, s, t0 + 28 * HOUR_MS, HOUR_MS);
	assert_string_equal(s4.tier, u->stats.tier);
	query_result_free(u);
	/* A raw-only range stays "raw" when served from cache. */
	query_stats s5 = check(&f, c, "a", s, e, HOUR_MS, now);
	query_stats s6 = check(&f, c, "a", s, e, HOUR_MS, now);
	assert_int_equal(s6.cache, 1);
	assert_string_equal(s5.tier, "raw");
	assert_string_equal(s6.tier, "raw");
	query_cache_free(c);
	query_engine_free(f.eng);
	tsdb_close(f.db);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_query_range_cached_hit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_normalized_key, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_extents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_single_step, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_freshness, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_lru_eviction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_invalidation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_result_outlives_extents, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_bypass, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_alloc_failures, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_property, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_range_cached_deadline, setup, teardown),
	    cmocka_unit_test(test_query_range_cached_reports_tiers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
