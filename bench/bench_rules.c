/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_rules.c: rule evaluation cost: 1,000 alerting rules over 10,000 series.
 *
 * An in-memory store holds 10,000 series (node_load{instance, job}, 100 jobs x 100
 * instances, a sample every 15 s for the last 10 minutes). 1,000 alerting rules in 10
 * groups each select one job's 100 series with a comparison (`node_load{job="jK"} > X`,
 * for: 1m) so every round evaluates 100,000 series and about half of them are active.
 * Rounds are driven by hand (alert_rules_eval_all at successive times) through the real
 * query engine and ingest path (ALERTS/ALERTS_FOR_STATE written back); the post
 * callback counts alerts. Prints the median and max time per round.
 *
 *   bench_rules [ROUNDS=10]
 */
#include "alert/rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_JOBS  100
#define N_INST  100
#define N_RULES 1000

static _Atomic uint64_t n_posted;

static int post(void *ctx, const struct alert_posted *alerts, size_t n, ts_err *err)
{
	(void)ctx;
	(void)alerts;
	(void)err;
	n_posted += n;
	return TS_OK;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 10;
	if (rounds < 1 || rounds > 1000)
		rounds = 10;
	char dir[] = "/tmp/strata-bench-rules.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char path[512];
	snprintf(path, sizeof(path), "%s/rules.yml", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "groups:\n");
	for (int g = 0; g < 10; g++) {
		fprintf(f, "  - name: g%d\n    interval: 15s\n    rules:\n", g);
		for (int i = 0; i < N_RULES / 10; i++) {
			int k = g * (N_RULES / 10) + i;
			fprintf(
			    f,
			    "      - alert: A%d\n        expr: node_load{job=\"j%d\"} > %d\n"
			    "        for: 1m\n        labels: {severity: page}\n"
			    "        annotations: {summary: \"{{ $labels.instance }} at {{ $value "
			    "}}\"}\n",
			    k, k % N_JOBS, 50);
		}
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/strata.yml", dir);
	f = fopen(path, "w");
	fprintf(f, "rule_files: [rules.yml]\n");
	fclose(f);

	tsdb_options to;
	tsdb_options_init(&to);
	to.out_of_order_window_ms = 3600 * 1000;
	to.cut_check_interval_ms = 0;
	tsdb_db *db;
	ingest_options io;
	ingest_options_init(&io);
	query_options qo;
	query_options_init(&qo);
	ingest_pipeline *ing;
	query_engine *qe;
	ts_err err = {0};
	if (tsdb_open(&to, &db, &err))
		goto fail;
	io.db = db;
	qo.db = db;
	if (ingest_open(&io, &ing, &err) || query_engine_new(&qo, &qe, &err))
		goto fail;
	int64_t now = ts_now_ms() / 15000 * 15000;
	for (int j = 0; j < N_JOBS; j++) {
		for (int i = 0; i < N_INST; i++) {
			char job[16], inst[16];
			snprintf(job, sizeof(job), "j%d", j);
			snprintf(inst, sizeof(inst), "i%d", i);
			ts_label l[] = {
			    {"__name__", "node_load"}, {"instance", inst}, {"job", job}};
			for (int64_t t = now - 600000; t <= now + 15000LL * rounds; t += 15000)
				tsdb_append(db, l, 3, t, (double)((i * 7 + j) % 100), NULL);
		}
	}
	ts_config *cfg;
	if (ts_config_load(path, &cfg, &err))
		goto fail;
	alert_rules_options ro;
	alert_rules_options_init(&ro);
	ro.query = qe;
	ro.ingest = ing;
	ro.post = post;
	ro.is_manual = true;
	alert_rules *r;
	if (alert_rules_new(&ro, cfg, &r, &err))
		goto fail;
	int64_t *dur = calloc((size_t)rounds, sizeof(*dur));
	for (int k = 0; k < rounds; k++) {
		int64_t t0 = ts_mono_ns();
		alert_rules_eval_all(r, now + 15000LL * k);
		dur[k] = ts_mono_ns() - t0;
	}
	qsort(dur, (size_t)rounds, sizeof(*dur), cmp_i64);
	printf("rules=%d series=%d rounds=%d median_round_ms=%.1f max_round_ms=%.1f "
	       "alerts_posted=%llu\n",
	       N_RULES, N_JOBS * N_INST, rounds, dur[rounds / 2] / 1e6, dur[rounds - 1] / 1e6,
	       (unsigned long long)n_posted);
	alert_rules_free(r);
	ts_config_free(cfg);
	query_engine_free(qe);
	ingest_close(ing);
	tsdb_close(db);
	free(dur);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	return system(path) == 0 ? 0 : 1;
fail:
	fprintf(stderr, "bench_rules: %s\n", err.msg);
	return 1;
}
