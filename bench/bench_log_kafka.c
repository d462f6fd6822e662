/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_log_kafka.c: produce throughput of the Kafka log backend (ingest/log_kafka.c).
 *
 * A standalone program (not run by ctest). It builds records of --samples samples each
 * (default 5000: one sample for each of 5000 node_exporter-like series, fixed seed, as
 * bench_log.c does), then for each thread count in --threads (default "1,8") runs that
 * many appender threads for --seconds, each appending the same record in a loop (blocking
 * until acknowledged, as HTTP handlers do), spread round-robin over --partitions
 * partitions, and reports records/s, MB/s, samples/s and the append latency p50/p99.
 *
 * Without --brokers it starts librdkafka's in-process mock cluster (--mock-brokers, default
 * 1; topic with --partitions partitions): that measures the client side only (the
 * producer, its batching and the blocking wait) over loopback TCP with a broker that
 * stores into memory and never replicates or fsyncs, i.e. an upper bound, not a Kafka
 * number. With --brokers host:port[,...] it runs against a real cluster (the topic must
 * exist with --partitions partitions or be creatable).
 *
 * Build: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSTRATA_BENCH=ON
 *        cmake --build build/release --target bench_log_kafka
 * Run:   ./bench_log_kafka [--seconds 3] [--threads 1,8] [--partitions 1] [--samples 5000]
 *                          [--snappy] [--linger-ms 1] [--mock-brokers 1]
 *                          [--brokers HOST:PORT --topic NAME] [--property NAME=VALUE]...
 */
#include "ingest/log_kafka.h"
#include "ingest/record.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define LAT_SLOTS   200000

typedef struct bench_opts {
	double seconds;
	char threads[64];
	int partitions;
	int samples;
	int compression;
	int linger_ms;
	int mock_brokers;
	const char *brokers;
	const char *topic;
	ingest_log_kafka_property props[8]; /* --property name=value */
	size_t n_props;
} bench_opts;

typedef struct worker {
	ingest_log *log;
	int partition;
	const ts_buf *rec;
	_Atomic bool *stop;
	uint64_t n_records, n_bytes, n_errors;
	char last_error[TS_ERR_MSG_MAX];
	uint32_t *lat_us;
	size_t n_lat;
} worker;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	return rng_state = x;
}

/* A record of n samples, one per node_exporter-like series (same shape as bench_log.c). */
static void build_record(ts_buf *out, int n, int compression)
{
	static const char *metrics[] = {"node_cpu_seconds_total",
					"node_memory_MemFree_bytes",
					"node_network_receive_bytes_total",
					"node_disk_io_time_seconds_total",
					"node_filesystem_avail_bytes",
					"node_load1",
					"up",
					"process_resident_memory_bytes"};
	static const char *modes[] = {"idle", "user",    "system", "iowait",
				      "irq",  "softirq", "steal",  "nice"};
	ingest_record_builder *b;
	if (ingest_record_builder_new(compression, 0, &b, NULL) != TS_OK)
		exit(1);
	for (int i = 0; i < n; i++) {
		char host[32], cpu[16];
		snprintf(host, sizeof(host), "host-%04d:9100", (131 + i / 256) % 10000);
		snprintf(cpu, sizeof(cpu), "%d", i % 32);
		ts_label l[5] = {{"__name__", metrics[(i / 32) % 8]},
				 {"cpu", cpu},
				 {"instance", host},
				 {"job", "node"},
				 {"mode", modes[(i / 4) % 8]}};
		double v = (double)(rng() % 1000000) / 100.0;
		if (ingest_record_builder_add(b, l, 5, 1700000000000 + (int64_t)(rng() % 7), v,
					      NULL) != TS_OK)
			exit(1);
	}
	ts_buf_init(out, INGEST_RECORD_MAX_BYTES);
	if (ingest_record_builder_finish(b, out, NULL) != TS_OK)
		exit(1);
	ingest_record_builder_free(b);
}

static void *append_loop(void *arg)
{
	worker *w = arg;
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		double t0 = now_s();
		ts_err err = {0};
		if (ingest_log_append(w->log, w->partition, w->rec->data, w->rec->len, NULL,
				      &err) != TS_OK) {
			w->n_errors++;
			snprintf(w->last_error, sizeof(w->last_error), "%s", err.msg);
			continue;
		}
		double us = (now_s() - t0) * 1e6;
		if (w->n_lat < LAT_SLOTS)
			w->lat_us[w->n_lat++] = (uint32_t)(us > 4e9 ? 4e9 : us);
		w->n_records++;
		w->n_bytes += w->rec->len;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void run(const bench_opts *o, ingest_log *l, int n_threads, const ts_buf *rec)
{
	_Atomic bool stop = false;
	worker w[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	for (int i = 0; i < n_threads; i++) {
		w[i] =
		    (worker){.log = l, .partition = i % o->partitions, .rec = rec, .stop = &stop};
		w[i].lat_us = malloc(LAT_SLOTS * sizeof(uint32_t));
		if (!w[i].lat_us || pthread_create(&th[i], NULL, append_loop, &w[i]) != 0)
			exit(1);
	}
	double t0 = now_s();
	usleep((useconds_t)(o->seconds * 1e6));
	atomic_store(&stop, true);
	uint64_t recs = 0, bytes = 0, errors = 0;
	size_t n_lat = 0;
	for (int i = 0; i < n_threads; i++) {
		pthread_join(th[i], NULL);
		recs += w[i].n_records;
		bytes += w[i].n_bytes;
		errors += w[i].n_errors;
		n_lat += w[i].n_lat;
	}
	double dt = now_s() - t0;
	uint32_t *all = malloc((n_lat ? n_lat : 1) * sizeof(uint32_t));
	if (!all)
		exit(1);
	size_t k = 0;
	for (int i = 0; i < n_threads; i++) {
		memcpy(all + k, w[i].lat_us, w[i].n_lat * sizeof(uint32_t));
		k += w[i].n_lat;
		if (w[i].n_errors)
			fprintf(stderr, "thread %d: %llu errors, last: %s\n", i,
				(unsigned long long)w[i].n_errors, w[i].last_error);
		free(w[i].lat_us);
	}
	qsort(all, n_lat, sizeof(uint32_t), cmp_u32);
	double p50 = n_lat ? all[n_lat / 2] / 1000.0 : 0,
	       p99 = n_lat ? all[n_lat * 99 / 100] / 1000.0 : 0;
	free(all);
	printf("threads=%-2d records/s=%9.0f MB/s=%7.1f samples/s=%11.0f p50=%6.2fms "
	       "p99=%6.2fms errors=%llu\n",
	       n_threads, recs / dt, bytes / dt / 1e6, recs * (double)o->samples / dt, p50, p99,
	       (unsigned long long)errors);
	fflush(stdout);
}

static int parse_int(const char *s, int lo, int hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "bad number '%s'\n", s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	bench_opts o = {3.0,  "1,8",   1,     5000, INGEST_RECORD_COMPRESS_NONE, 1, 1,
			NULL, "bench", {{0}}, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "--snappy")) {
			o.compression = INGEST_RECORD_COMPRESS_SNAPPY;
			continue;
		}
		i++;
		if (!strcmp(a, "--seconds"))
			o.seconds = parse_int(v, 1, 3600);
		else if (!strcmp(a, "--threads"))
			snprintf(o.threads, sizeof(o.threads), "%s", v);
		else if (!strcmp(a, "--partitions"))
			o.partitions = parse_int(v, 1, INGEST_LOG_MAX_PARTITIONS);
		else if (!strcmp(a, "--samples"))
			o.samples = parse_int(v, 1, 1000000);
		else if (!strcmp(a, "--linger-ms"))
			o.linger_ms = parse_int(v, 0, 1000);
		else if (!strcmp(a, "--mock-brokers"))
			o.mock_brokers = parse_int(v, 1, 64);
		else if (!strcmp(a, "--brokers"))
			o.brokers = v;
		else if (!strcmp(a, "--topic"))
			o.topic = v;
		else if (!strcmp(a, "--property") && strchr(v, '=') && o.n_props < 8) {
			char *eq = strchr(argv[i], '=');
			*eq = '\0';
			o.props[o.n_props++] = (ingest_log_kafka_property){argv[i], eq + 1};
		} else {
			fprintf(stderr, "unknown argument %s (see the file comment)\n", a);
			return 2;
		}
	}
	ts_buf rec;
	build_record(&rec, o.samples, o.compression);
	ingest_kafka_mock *m = NULL;
	ts_err err = {0};
	if (!o.brokers) {
		if (ingest_kafka_mock_new(o.mock_brokers, &m, &err) ||
		    ingest_kafka_mock_topic_create(m, o.topic, o.partitions, 1, &err)) {
			fprintf(stderr, "mock: %s\n", err.msg);
			return 1;
		}
		o.brokers = ingest_kafka_mock_bootstraps(m);
	}
	printf("record: %d samples, %zu bytes (%s); %s; %d partition(s); linger %d ms\n", o.samples,
	       rec.len, o.compression ? "snappy" : "uncompressed",
	       m ? "librdkafka MOCK cluster in-process (client-side cost only, not Kafka)"
		 : o.brokers,
	       o.partitions, o.linger_ms);
	ingest_log_kafka_options ko = INGEST_LOG_KAFKA_OPTIONS_DEFAULT;
	ko.brokers = o.brokers;
	ko.topic = o.topic;
	ko.n_partitions = o.partitions;
	ko.linger_ms = o.linger_ms;
	ko.properties = o.props;
	ko.n_properties = o.n_props;
	ingest_log *l = NULL;
	if (ingest_log_kafka_open(&ko, &l, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	char list[64], *save = NULL;
	snprintf(list, sizeof(list), "%s", o.threads);
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		run(&o, l, parse_int(t, 1, MAX_THREADS), &rec);
	ingest_log_close(l);
	ingest_kafka_mock_free(m);
	ts_buf_free(&rec);
	return 0;
}
