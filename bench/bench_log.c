/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_log.c: throughput of the embedded partitioned log and of the record codec.
 *
 * A standalone program (not run by ctest). It builds records of --samples samples each
 * (default 5000: one sample for each of 5000 node_exporter-like series, fixed seed), then
 * for 1..--threads appender threads appends them for --seconds each to a fresh log under
 * --dir and reports MB/s, records/s, samples/s, fdatasyncs/s, records per sync and the
 * append latency (p50/p99), all with group commit and real fdatasync unless --no-sync.
 * It also measures record encode and decode speed and sequential read-back speed.
 *
 * Build: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSTRATA_BENCH=ON
 *        cmake --build build/release --target bench_log
 * (links ingest and common, hence snappy and pthreads). Or without CMake:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -DSTRATA_VERSION='"bench"' -I. bench/bench_log.c \
 *      ingest/log.c ingest/log_local.c ingest/log_segment.c ingest/record.c common/[a-z]*.c \
 *      -lsnappy -lyaml -lpcre2-8 -lpthread -lm -o bench_log
 * Run:
 *   ./bench_log --dir /path/on/the/disk/to/test [--seconds 3] [--threads 8]
 *               [--partitions 1] [--samples 5000] [--snappy] [--no-sync] [--gather-us N]
 *               [--sync-delay-us N]   (adds N us to every sync: emulates a slower device)
 */
#include "ingest/log.h"
#include "ingest/record.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define LAT_SLOTS   200000 /* append latencies kept per thread */

typedef struct bench_opts {
	const char *dir;
	double seconds;
	int max_threads;
	int partitions;
	int samples;
	int compression;
	bool no_sync;
	uint32_t gather_us;
	uint64_t segment_bytes;
	int sync_delay_us; /* emulate a slower device: sleep this long in every sync */
} bench_opts;

typedef struct worker {
	ingest_log *log;
	int partition;
	const ts_buf *rec;  /* borrowed */
	_Atomic bool *stop; /* borrowed */
	uint64_t n_records; /* appended */
	uint64_t n_bytes;   /* record bytes appended */
	uint64_t n_errors;  /* failed appends */
	uint32_t *lat_us;   /* append latencies */
	size_t n_lat;       /* latencies recorded */
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

/* n series shaped like node_exporter's (label strings owned by the arrays). */
typedef struct series_set {
	ts_label (*labels)[5]; /* n label sets of 5 labels */
	char (*host)[32];
	char (*cpu)[16];
	int n;
} series_set;

static void series_make(series_set *s, int n, int seed)
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
	s->n = n;
	s->labels = malloc((size_t)n * sizeof(*s->labels));
	s->host = malloc((size_t)n * sizeof(*s->host));
	s->cpu = malloc((size_t)n * sizeof(*s->cpu));
	if (!s->labels || !s->host || !s->cpu)
		exit(1);
	for (int i = 0; i < n; i++) {
		snprintf(s->host[i], sizeof(s->host[i]), "host-%04d:9100",
			 (seed * 131 + i / 256) % 10000);
		snprintf(s->cpu[i], sizeof(s->cpu[i]), "%d", i % 32);
		ts_label l[5] = {{"__name__", metrics[(i / 32) % 8]},
				 {"cpu", s->cpu[i]},
				 {"instance", s->host[i]},
				 {"job", "node"},
				 {"mode", modes[(i / 4) % 8]}};
		memcpy(s->labels[i], l, sizeof(l));
	}
}

static void series_free(series_set *s)
{
	free(s->labels);
	free(s->host);
	free(s->cpu);
}

/* Encode one sample per series of s into out (reset first). */
static void encode(ingest_record_builder *b, const series_set *s, int64_t t, ts_buf *out)
{
	for (int i = 0; i < s->n; i++) {
		double v = (double)(rng() % 1000000) / 100.0;
		if (ingest_record_builder_add(b, s->labels[i], 5, t + (int64_t)(rng() % 7), v,
					      NULL) != TS_OK)
			exit(1);
	}
	ts_buf_reset(out);
	if (ingest_record_builder_finish(b, out, NULL) != TS_OK)
		exit(1);
}

/* A record of n samples: one per series, series shaped like node_exporter's. */
static void build_record(ts_buf *out, int n, int compression, int seed)
{
	series_set s;
	series_make(&s, n, seed);
	ingest_record_builder *b;
	if (ingest_record_builder_new(compression, 0, &b, NULL) != TS_OK)
		exit(1);
	ts_buf_init(out, INGEST_RECORD_MAX_BYTES);
	encode(b, &s, 1700000000000 + seed, out);
	ingest_record_builder_free(b);
	series_free(&s);
}

static void *append_loop(void *arg)
{
	worker *w = arg;
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		double t0 = now_s();
		uint64_t off;
		if (ingest_log_append(w->log, w->partition, w->rec->data, w->rec->len, &off,
				      NULL) != TS_OK) {
			w->n_errors++;
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

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void run_appenders(const bench_opts *o, int n_threads, const ts_buf *recs)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/bench-log-t%d", o->dir, n_threads);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ingest_log_local_options lo = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	lo.dir = dir;
	lo.n_partitions = o->partitions;
	lo.segment_bytes = o->segment_bytes;
	lo.max_pending_bytes = 0;
	lo.no_sync = o->no_sync;
	lo.group_commit_wait_us = o->gather_us;
	ingest_log *l;
	ts_err err = {0};
	if (ingest_log_local_open(&lo, &l, &err) != TS_OK) {
		fprintf(stderr, "open: %s\n", err.msg);
		exit(1);
	}
	if (o->sync_delay_us > 0) {
		ingest_log_local_faults f = {-1, 0, o->sync_delay_us};
		ingest_log_local_set_faults(l, &f, NULL);
	}
	_Atomic bool stop = false;
	worker w[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	for (int i = 0; i < n_threads; i++) {
		w[i] = (worker){
		    .log = l, .partition = i % o->partitions, .rec = &recs[i], .stop = &stop};
		w[i].lat_us = malloc(LAT_SLOTS * sizeof(uint32_t));
		pthread_create(&th[i], NULL, append_loop, &w[i]);
	}
	double t0 = now_s();
	usleep((useconds_t)(o->seconds * 1e6));
	atomic_store(&stop, true);
	for (int i = 0; i < n_threads; i++)
		pthread_join(th[i], NULL);
	double el = now_s() - t0;
	uint64_t recs_n = 0, bytes = 0, errors = 0, syncs = 0, segs = 0;
	size_t n_lat = 0;
	for (int i = 0; i < n_threads; i++) {
		recs_n += w[i].n_records;
		bytes += w[i].n_bytes;
		errors += w[i].n_errors;
		n_lat += w[i].n_lat;
	}
	uint32_t *lat = malloc((n_lat ? n_lat : 1) * sizeof(*lat));
	size_t k = 0;
	for (int i = 0; i < n_threads; i++) {
		memcpy(lat + k, w[i].lat_us, w[i].n_lat * sizeof(*lat));
		k += w[i].n_lat;
		free(w[i].lat_us);
	}
	qsort(lat, n_lat, sizeof(*lat), cmp_u32);
	for (int p = 0; p < o->partitions; p++) {
		ingest_log_partition_stats s;
		ingest_log_stats(l, p, &s, NULL);
		syncs += s.n_syncs;
		segs += s.n_segments;
	}
	printf("%7d %9.1f %10.0f %12.0f %9.0f %9.2f %8u %8u %6llu %5llu\n", n_threads,
	       (double)bytes / el / 1e6, (double)recs_n / el, (double)recs_n * o->samples / el,
	       (double)syncs / el, syncs ? (double)recs_n / (double)syncs : 0.0,
	       n_lat ? lat[n_lat / 2] : 0, n_lat ? lat[n_lat * 99 / 100] : 0,
	       (unsigned long long)segs, (unsigned long long)errors);
	fflush(stdout);
	free(lat);

	/* read-back speed of what was just written (partition 0, page cache warm) */
	if (n_threads == o->max_threads) {
		ingest_log_reader *r;
		if (ingest_log_reader_open(l, 0, 0, &r, &err) == TS_OK) {
			double r0 = now_s();
			uint64_t rb = 0, rn = 0;
			const void *rec;
			size_t len;
			uint64_t off;
			while (ingest_log_reader_next(r, &rec, &len, &off, 0, NULL) == TS_OK)
				rb += len, rn++;
			double rel = now_s() - r0;
			printf("read-back (partition 0, page cache): %llu records, %.0f MB/s, "
			       "%.0f records/s\n",
			       (unsigned long long)rn, (double)rb / rel / 1e6, (double)rn / rel);
			ingest_log_reader_close(r);
		}
	}
	ingest_log_close(l);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int count_sample(void *ctx, const ts_label *l, size_t n, int64_t t, double v)
{
	(void)l, (void)n, (void)t, (void)v;
	(*(uint64_t *)ctx)++;
	return TS_OK;
}

static void bench_codec(const bench_opts *o, const ts_buf *rec)
{
	series_set ss;
	series_make(&ss, o->samples, 0);
	ingest_record_builder *b;
	if (ingest_record_builder_new(o->compression, 0, &b, NULL) != TS_OK)
		exit(1);
	ts_buf out;
	ts_buf_init(&out, INGEST_RECORD_MAX_BYTES);
	double t0 = now_s();
	int n = 0;
	while (now_s() - t0 < 1.0)
		encode(b, &ss, 1700000000000 + 15000 * n++, &out);
	double enc = (double)n * o->samples / (now_s() - t0);
	ts_buf_free(&out);
	ingest_record_builder_free(b);
	series_free(&ss);
	ingest_record_decoder *d;
	ingest_record_decoder_new(&d, NULL);
	uint64_t got = 0;
	t0 = now_s();
	while (now_s() - t0 < 1.0)
		if (ingest_record_decode(d, rec->data, rec->len, count_sample, &got, NULL) != TS_OK)
			exit(1);
	double dec = (double)got / (now_s() - t0);
	ingest_record_decoder_free(d);
	printf("record: %d samples (5-label series, 1 sample each) in %zu bytes (%.2f "
	       "bytes/sample, %s); encode %.2f M samples/s, decode %.2f M samples/s (one core)\n",
	       o->samples, rec->len, (double)rec->len / o->samples,
	       o->compression ? "snappy" : "uncompressed", enc / 1e6, dec / 1e6);
}

/* The disk's floor: one thread doing pwrite + fdatasync of one record at a time. */
static void bench_raw_sync(const bench_opts *o, const ts_buf *rec)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/bench-raw.tmp", o->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	double t0 = now_s();
	int n = 0;
	off_t pos = 0;
	while (now_s() - t0 < 1.0) {
		if (pwrite(fd, rec->data, rec->len, pos) != (ssize_t)rec->len)
			break;
		pos += (off_t)rec->len;
		if (!o->no_sync)
			fdatasync(fd);
		n++;
	}
	double el = now_s() - t0;
	close(fd);
	unlink(path);
	printf("baseline: 1 thread, pwrite+fdatasync of one %zu-byte record: %.3f ms each, %.1f "
	       "MB/s\n",
	       rec->len, el / n * 1e3, (double)n * rec->len / el / 1e6);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_log --dir DIR [--seconds S] [--threads N] [--partitions P]"
			" [--samples N] [--snappy] [--no-sync] [--gather-us N] [--segment-mb N]"
			" [--sync-delay-us N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	bench_opts o = {NULL,  3.0,  8,         1, 5000, INGEST_RECORD_COMPRESS_NONE,
			false, 1000, 64u << 20, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--dir") && v)
			o.dir = v, i++;
		else if (!strcmp(a, "--seconds") && v)
			o.seconds = strtod(v, NULL), i++;
		else if (!strcmp(a, "--threads") && v)
			o.max_threads = (int)strtol(v, NULL, 10), i++;
		else if (!strcmp(a, "--partitions") && v)
			o.partitions = (int)strtol(v, NULL, 10), i++;
		else if (!strcmp(a, "--samples") && v)
			o.samples = (int)strtol(v, NULL, 10), i++;
		else if (!strcmp(a, "--gather-us") && v)
			o.gather_us = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--sync-delay-us") && v)
			o.sync_delay_us = (int)strtol(v, NULL, 10), i++;
		else if (!strcmp(a, "--segment-mb") && v)
			o.segment_bytes = strtoull(v, NULL, 10) << 20, i++;
		else if (!strcmp(a, "--snappy"))
			o.compression = INGEST_RECORD_COMPRESS_SNAPPY;
		else if (!strcmp(a, "--no-sync"))
			o.no_sync = true;
		else
			usage();
	}
	if (!o.dir || o.max_threads < 1 || o.max_threads > MAX_THREADS || o.partitions < 1 ||
	    o.samples < 1 || o.seconds <= 0)
		usage();
	mkdir(o.dir, 0755);
	ts_buf recs[MAX_THREADS];
	for (int i = 0; i < o.max_threads; i++)
		build_record(&recs[i], o.samples, o.compression, i);
	bench_codec(&o, &recs[0]);
	bench_raw_sync(&o, &recs[0]);
	printf("appends: %d partition(s), %s%s, group-commit wait %u us, %.1f s per row\n",
	       o.partitions, o.no_sync ? "NO fdatasync" : "fdatasync",
	       o.sync_delay_us > 0 ? " + emulated extra sync latency" : "", o.gather_us, o.seconds);
	printf("threads      MB/s  records/s    samples/s  syncs/s rec/sync  p50(us)  p99(us)   "
	       "segs  errs\n");
	for (int t = 1; t <= o.max_threads; t++)
		run_appenders(&o, t, recs);
	for (int i = 0; i < o.max_threads; i++)
		ts_buf_free(&recs[i]);
	return 0;
}
