/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_tiers.c: a 30-day range at a 1h step answered from the 1h rollup tier (the tier
 * planner, query/tiers.c) versus from raw samples (query_options.is_raw_only), and the
 * on-disk size of rollup rows.
 *
 * A store in a temporary directory (1-day blocks, the size compaction gives 1m/1h
 * blocks) holds SERIES/2 gauges bench_gauge{i} and SERIES/2 counters
 * bench_counter_total{i} (with a reset now and then) sampled every 15 s with jitter for
 * 32 days; after a flush every complete unit gets its 1m and 1h blocks. Each query runs
 * over the 30 days before the last (incomplete) day at a 1h step (720 steps), on the
 * planned engine and on a raw-only engine, alternating, ROUNDS times each; the medians
 * and their ratio are printed, the results are checked equal (1e-9 relative) and the
 * planned query must report tier "1h" and decode no raw part. Then the bytes of every
 * block's files per tier, divided by the rows (samples) it holds.
 *
 *   bench_tiers [SERIES=100] [ROUNDS=7] [DIR=/tmp/strata-bench-tiers]
 */
#include "query/query.h"
#include "tsdb/block.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS   3600000LL
#define DAY_MS    86400000LL
#define SCRAPE_MS 15000LL
#define DAYS      32

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t median(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	return v[n / 2];
}

static void die(const char *what, const ts_err *e)
{
	fprintf(stderr, "bench_tiers: %s: %s\n", what, e ? e->msg : "failed");
	exit(1);
}

static void load(tsdb_db *db, int n_series, int64_t t0)
{
	size_t n = (size_t)(DAYS * DAY_MS / SCRAPE_MS);
	int64_t *t = malloc(n * sizeof(*t));
	double *v = malloc(n * sizeof(*v));
	if (!t || !v)
		die("load", NULL);
	for (int s = 0; s < n_series; s++) {
		char idx[16];
		snprintf(idx, sizeof(idx), "%d", s);
		bool is_counter = s % 2;
		ts_label l[2] = {{"__name__", is_counter ? "bench_counter_total" : "bench_gauge"},
				 {"i", idx}};
		double c = 0;
		for (size_t k = 0; k < n; k++) {
			t[k] = t0 + (int64_t)k * SCRAPE_MS + (int64_t)(rnd() % 1000);
			if (is_counter) {
				c += (double)(rnd() % 4000) / 8.0;
				if (rnd() % 50000 == 0)
					c = 0;
				v[k] = c;
			} else {
				v[k] = (double)(rnd() % 100000) / 100.0;
			}
		}
		size_t done, rejected;
		ts_err err = {0};
		if (tsdb_append_series(db, l, 2, t, v, n, &done, &rejected, &err) != TS_OK ||
		    rejected)
			die("append", &err);
	}
	free(t);
	free(v);
}

static bool same(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
	return a == b || fabs(a - b) <= 1e-9 * m;
}

static void check_equal(const char *q, const query_result *a, const query_result *b)
{
	bool ok = a->n_series == b->n_series;
	for (size_t i = 0; ok && i < a->n_series; i++) {
		ok = a->series[i].n == b->series[i].n;
		for (size_t k = 0; ok && k < a->series[i].n; k++)
			ok = a->series[i].t[k] == b->series[i].t[k] &&
			     same(a->series[i].v[k], b->series[i].v[k]);
	}
	if (!ok) {
		fprintf(stderr, "bench_tiers: %s: tier and raw answers differ\n", q);
		exit(1);
	}
}

static int64_t run(query_engine *e, const char *q, int64_t start, int64_t end, query_result **out)
{
	ts_err err = {0};
	int64_t t0 = ts_mono_ns();
	if (query_range(e, q, strlen(q), start, end, HOUR_MS, out, &err) != TS_OK)
		die(q, &err);
	return ts_mono_ns() - t0;
}

int main(int argc, char **argv)
{
	int n_series = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 100;
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 7;
	const char *dir = argc > 3 ? argv[3] : "/tmp/strata-bench-tiers";
	if (n_series < 2 || rounds < 1) {
		fprintf(stderr, "usage: bench_tiers [SERIES>=2] [ROUNDS>=1] [DIR]\n");
		return 2;
	}
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	if (system(cmd) != 0)
		die("mkdir", NULL);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	o.block_duration_ms = DAY_MS;
	o.out_of_order_window_ms = 0;
	o.cut_check_interval_ms = 0;
	o.retention_raw_ms = o.retention_1m_ms = o.retention_1h_ms = 1000 * DAY_MS;
	tsdb_db *db;
	ts_err err = {0};
	if (tsdb_open(&o, &db, &err))
		die("open", &err);
	int64_t t0 = 1700000000000LL - 1700000000000LL % DAY_MS;
	int64_t l0 = ts_mono_ns();
	load(db, n_series, t0);
	if (tsdb_flush(db, &err) || tsdb_downsample_run(db, &err))
		die("flush/downsample", &err);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	printf("store: %d series x %lld days at 15 s: %llu samples, %llu 1m and %llu 1h blocks "
	       "(%.1f s to build)\n",
	       n_series, (long long)DAYS, (unsigned long long)st.samples_appended,
	       (unsigned long long)st.downsampled_1m, (unsigned long long)st.downsampled_1h,
	       (double)(ts_mono_ns() - l0) / 1e9);

	query_options qo;
	query_options_init(&qo);
	qo.db = db;
	query_engine *tiered, *raw;
	if (query_engine_new(&qo, &tiered, &err))
		die("engine", &err);
	qo.is_raw_only = true;
	if (query_engine_new(&qo, &raw, &err))
		die("engine", &err);
	int64_t start = t0 + DAY_MS, end = t0 + 31 * DAY_MS - HOUR_MS; /* 30 days, 720 steps */
	static const char *const queries[] = {
	    "max_over_time(bench_gauge[1h])",
	    "avg_over_time(bench_gauge[1h])",
	    "rate(bench_counter_total[1h])",
	    "increase(bench_counter_total[1d])",
	};
	printf("%-36s %12s %12s %8s %s\n", "query (30 d, 1h step)", "1h tier ms", "raw ms", "ratio",
	       "rows/samples read");
	int64_t *tt = malloc((size_t)rounds * sizeof(*tt)),
		*tr = malloc((size_t)rounds * sizeof(*tr));
	if (!tt || !tr)
		die("alloc", NULL);
	for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
		const char *q = queries[qi];
		uint64_t rows = 0, samples = 0;
		for (int r = 0; r < rounds; r++) {
			query_result *a, *b;
			tsdb_stats s0, s1;
			tsdb_stats_get(db, &s0);
			tt[r] = run(tiered, q, start, end, &a);
			tsdb_stats_get(db, &s1);
			tr[r] = run(raw, q, start, end, &b);
			if (strcmp(a->stats.tier, "1h") != 0 ||
			    s1.raw_parts_decoded != s0.raw_parts_decoded) {
				fprintf(stderr, "bench_tiers: %s read %s (%llu raw parts)\n", q,
					a->stats.tier,
					(unsigned long long)(s1.raw_parts_decoded -
							     s0.raw_parts_decoded));
				return 1;
			}
			if (r == 0)
				check_equal(q, a, b);
			rows = a->stats.samples_loaded;
			samples = b->stats.samples_loaded;
			query_result_free(a);
			query_result_free(b);
		}
		int64_t mt = median(tt, (size_t)rounds), mr = median(tr, (size_t)rounds);
		printf("%-36s %12.2f %12.2f %7.0fx %llu / %llu\n", q, (double)mt / 1e6,
		       (double)mr / 1e6, (double)mr / (double)mt, (unsigned long long)rows,
		       (unsigned long long)samples);
	}
	free(tt);
	free(tr);

	/* Bytes on disk per row (rollups) or sample (raw), per tier. */
	uint64_t bytes[TSDB_TIER_N] = {0}, rows[TSDB_TIER_N] = {0};
	tsdb_blockset *bs = tsdb_blocks_acquire(db);
	for (size_t i = 0; i < bs->n; i++) {
		const tsdb_block *b = bs->b[i];
		if (b->meta.tier >= TSDB_TIER_N)
			continue;
		bytes[b->meta.tier] += b->size_bytes;
		rows[b->meta.tier] += b->meta.n_samples;
	}
	tsdb_blockset_release(bs);
	for (int k = 0; k < TSDB_TIER_N; k++)
		printf("%-4s blocks: %10llu bytes, %10llu %s, %.2f bytes per %s\n",
		       tsdb_tier_name(k), (unsigned long long)bytes[k], (unsigned long long)rows[k],
		       k ? "rows" : "samples", rows[k] ? (double)bytes[k] / (double)rows[k] : 0.0,
		       k ? "row" : "sample");
	query_engine_free(tiered);
	query_engine_free(raw);
	tsdb_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return 0;
}
