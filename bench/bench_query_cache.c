/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_query_cache.c: a repeated dashboard range query served from the range-read
 * cache (query/cache.c) versus evaluated every time.
 *
 * An in-memory store holds 500 counters node_cpu_seconds_total{instance, job, mode}
 * (50 instances in 10 jobs, 10 modes each) sampled every 15 s for 6 hours and 10
 * minutes (fixed seed).
 * Each panel query runs over the last 6 hours at a 30 s step (721 steps), like a Grafana
 * panel, in three ways side by side, interleaved round by round:
 *   uncached  query_range every time;
 *   hit       query_range_cached with the same now: everything but the freshness
 *             window (5 min) comes from cache;
 *   refresh   query_range_cached with now and the range moving 30 s per round, as an
 *             auto-refreshing dashboard: the cached prefix plus newly evaluated steps;
 *   full      query_range_cached of a range that ends 10 minutes before now (an older
 *             time window): answered from cache alone; its ratio is against an
 *             uncached query_range of the same range.
 * Prints the median and ratio per query. The results of each way are checked equal.
 *
 *   bench_query_cache [ROUNDS=30]
 */
#include "query/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_MS   30000
#define SCRAPE_MS 15000
#define SPAN_MS   (6 * 3600 * 1000LL)
#define N_INST    50
#define N_MODE    10

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t rng = 42;
static double rnd01(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int same(const query_result *a, const query_result *b)
{
	if (a->n_series != b->n_series)
		return 0;
	for (size_t i = 0; i < a->n_series; i++) {
		const query_series *x = &a->series[i], *y = &b->series[i];
		if (x->n != y->n || memcmp(x->t, y->t, x->n * 8) || memcmp(x->v, y->v, x->n * 8))
			return 0;
	}
	return 1;
}

static int64_t run(query_engine *e, query_cache *c, const char *q, int64_t s, int64_t end,
		   int64_t now, query_result **out)
{
	ts_err err = {0};
	int64_t t0 = ts_mono_ns();
	int rc = c ? query_range_cached(e, c, q, strlen(q), s, end, STEP_MS, now, out, &err)
		   : query_range(e, q, strlen(q), s, end, STEP_MS, out, &err);
	int64_t dt = ts_mono_ns() - t0;
	if (rc) {
		fprintf(stderr, "%s: %s\n", q, err.msg);
		exit(1);
	}
	return dt;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 30;
	if (rounds < 3 || rounds > 10000)
		rounds = 30;
	tsdb_options to;
	tsdb_options_init(&to);
	tsdb_db *db = NULL;
	ts_err err = {0};
	if (tsdb_open(&to, &db, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	/* Data ends at t_end; rounds of the refresh case move past it (no new data). */
	int64_t t_end = 1700000000000LL - 1700000000000LL % STEP_MS;
	int64_t t_start = t_end - SPAN_MS - 10 * 60 * 1000;
	char inst[32], job[32], mode[32];
	double val[N_INST][N_MODE] = {{0}};
	size_t n_samples = 0;
	for (int64_t t = t_start; t <= t_end; t += SCRAPE_MS) {
		for (int i = 0; i < N_INST; i++) {
			snprintf(inst, sizeof(inst), "host%02d:9100", i);
			snprintf(job, sizeof(job), "job%d", i % 10);
			for (int m = 0; m < N_MODE; m++) {
				snprintf(mode, sizeof(mode), "mode%d", m);
				val[i][m] += rnd01() * 15.0;
				ts_label l[4] = {{TS_METRIC_NAME, "node_cpu_seconds_total"},
						 {"instance", inst},
						 {"job", job},
						 {"mode", mode}};
				if (tsdb_append(db, l, 4, t, val[i][m], &err)) {
					fprintf(stderr, "%s\n", err.msg);
					return 1;
				}
				n_samples++;
			}
		}
	}
	query_options qo;
	query_options_init(&qo);
	qo.db = db;
	query_engine *e = NULL;
	if (query_engine_new(&qo, &e, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("store: %d series, %zu samples; range 6h, step 30s (721 steps), %d rounds\n",
	       N_INST * N_MODE, n_samples, rounds);
	const char *queries[] = {
	    "sum by (job) (rate(node_cpu_seconds_total[5m]))",
	    "rate(node_cpu_seconds_total{mode=\"mode1\"}[5m])",
	    "rate(node_cpu_seconds_total[5m])",
	};
	printf("%-50s %10s %10s %10s %10s %7s %7s %7s\n", "query", "uncached", "hit", "refresh",
	       "full", "hit x", "refr x", "full x");
	for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
		const char *q = queries[qi];
		query_cache_options co = {.max_bytes = 256 << 20, .freshness_ms = 5 * 60 * 1000};
		query_cache *hit = NULL, *refresh = NULL;
		if (query_cache_new(e, &co, &hit, &err) ||
		    query_cache_new(e, &co, &refresh, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		int64_t *tu = calloc((size_t)rounds, 8), *th = calloc((size_t)rounds, 8),
			*tr = calloc((size_t)rounds, 8), *tf = calloc((size_t)rounds, 8),
			*tuf = calloc((size_t)rounds, 8);
		int64_t s = t_end - SPAN_MS;
		query_result *r0 = NULL, *r1 = NULL, *r2 = NULL, *r3 = NULL;
		/* Warm both caches once. */
		run(e, hit, q, s, t_end, t_end, &r0);
		query_result_free(r0);
		run(e, refresh, q, s, t_end, t_end, &r0);
		query_result_free(r0);
		for (int k = 0; k < rounds; k++) {
			tu[k] = run(e, NULL, q, s, t_end, t_end, &r0);
			th[k] = run(e, hit, q, s, t_end, t_end, &r1);
			int64_t sh = (int64_t)(k + 1) * STEP_MS;
			tr[k] = run(e, refresh, q, s + sh, t_end + sh, t_end + sh, &r2);
			run(e, NULL, q, s + sh, t_end + sh, t_end + sh, &r3);
			if (!same(r0, r1) || !same(r2, r3)) {
				fprintf(stderr, "%s: cached result differs\n", q);
				return 1;
			}
			query_result_free(r0);
			query_result_free(r1);
			query_result_free(r2);
			query_result_free(r3);
			int64_t fe = t_end - 10 * 60 * 1000;
			tuf[k] = run(e, NULL, q, s, fe, t_end, &r0);
			tf[k] = run(e, hit, q, s, fe, t_end, &r1);
			if (!same(r0, r1) || r1->stats.samples_loaded != 0) {
				fprintf(stderr, "%s: full hit differs or evaluated\n", q);
				return 1;
			}
			query_result_free(r0);
			query_result_free(r1);
		}
		qsort(tu, (size_t)rounds, 8, cmp_i64);
		qsort(th, (size_t)rounds, 8, cmp_i64);
		qsort(tr, (size_t)rounds, 8, cmp_i64);
		qsort(tf, (size_t)rounds, 8, cmp_i64);
		qsort(tuf, (size_t)rounds, 8, cmp_i64);
		double mu = (double)tu[rounds / 2] / 1e6, mh = (double)th[rounds / 2] / 1e6,
		       mr = (double)tr[rounds / 2] / 1e6, mf = (double)tf[rounds / 2] / 1e6,
		       muf = (double)tuf[rounds / 2] / 1e6;
		printf("%-50s %8.3fms %8.3fms %8.3fms %8.3fms %6.1fx %6.1fx %6.1fx\n", q, mu, mh,
		       mr, mf, mu / mh, mu / mr, muf / mf);
		query_cache_stats cs;
		query_cache_stats_get(refresh, &cs);
		printf("  refresh cache: %llu hits (%llu partial), %llu bytes, %llu entries\n",
		       (unsigned long long)cs.hits, (unsigned long long)cs.partial_hits,
		       (unsigned long long)cs.bytes, (unsigned long long)cs.entries);
		free(tu);
		free(th);
		free(tr);
		free(tf);
		free(tuf);
		query_cache_free(hit);
		query_cache_free(refresh);
	}
	query_engine_free(e);
	tsdb_close(db);
	return 0;
}
