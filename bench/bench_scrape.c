/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_scrape.c: scrape capacity: how many node_exporter-sized targets the scraper
 * (ingest/scrape.c) keeps on schedule on this machine (standalone program, never run by
 * ctest).
 *
 * One in-process libmicrohttpd server (one thread, epoll) serves the node_exporter
 * capture in shared/data (node_exporter_scrape.prom: 507 samples, 57 KB; gzip-compressed
 * when the scraper asks for it, as node_exporter does) to N targets. The targets share
 * the server's address and differ by a `shard` label, so each is its own target with its
 * own schedule, cache and series, like N exporters behind one port.
 *
 * End to end by default (mode `log`): the pipeline is opened from a config whose
 * `storage.data_dir` is a fresh temporary directory, as `strata serve` does, so every
 * scrape goes scrape -> parse -> batch -> durable log (fdatasync'd group commit, 8
 * partitions) -> consumers -> on-disk store. Mode `direct` writes to a memory-only store
 * without a log (what session 1 measured), for comparison in the same invocation.
 * The numbers include parsing, target labels, staleness tracking, log appends and tsdb
 * appends.
 *
 * Reported after `seconds` of scraping (the first interval is skipped as warm-up):
 *   scrapes/s and samples/s achieved (stored scrapes whose timestamp falls in the
 *   measured window, counted in the store after the consumers drained the log), as a
 *   share of the schedule (N / interval);
 *   samples the store appended per second over the window (tsdb_stats);
 *   scrape duration p50/p99 (scrape_duration_seconds as stored);
 *   CPU time of the scraper's threads (ingest-scrape and ingest-scr-wN, from
 *   /proc/self/task), of the write path's threads (log appends ingest-aN, consumers
 *   ingest-pN), of the HTTP server's, of the whole process without the HTTP server, and
 *   samples per CPU-second of the scraper, of scraper + write path and of the whole
 *   process (all but the simulated exporters): the capacity of one core.
 *
 * Usage: bench_scrape [N [interval_ms [seconds [DATA_DIR [gzip 0|1 [workers [log|direct]]]]]]]
 *        defaults: 200 1000 20 ../shared/data 1 4 log
 * Build: cmake -DSTRATA_BENCH=ON -DCMAKE_BUILD_TYPE=Release, target bench_scrape.
 */
#include "ingest/scrape.h"

#include <microhttpd.h>
#include <zlib.h>

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct payload {
	struct MHD_Response *plain, *gz;
} payload;

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
			     const char *method, const char *version, const char *upload,
			     size_t *upload_n, void **con_cls)
{
	payload *p = cls;
	const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	bool gz = p->gz && ae && strstr(ae, "gzip");
	return MHD_queue_response(c, MHD_HTTP_OK, gz ? p->gz : p->plain);
}

static char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)sz + 1);
	if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static unsigned char *gzip_buf(const char *in, size_t n, size_t *out_n)
{
	size_t cap = compressBound((uLong)n) + 64;
	unsigned char *out = malloc(cap);
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (!out || deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	*out_n = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* CPU seconds of this process' threads whose name starts with prefix. */
static double thread_cpu_s(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	double total = 0;
	struct dirent *de;
	long hz = sysconf(_SC_CLK_TCK);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[300], buf[1024];
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *l = strchr(buf, '('), *r = strrchr(buf, ')');
		if (!l || !r || strncmp(l + 1, prefix, strlen(prefix)))
			continue;
		/* Fields after ')': state ppid ... utime(12th) stime(13th). */
		unsigned long ut = 0, st = 0;
		if (sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			   &st) == 2)
			total += (double)(ut + st) / (double)hz;
	}
	if (d)
		closedir(d);
	return total;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Every stored scrape_duration_seconds sample in [since_ms, until_ms); returns the count. */
static size_t durations(tsdb_db *db, int64_t since_ms, int64_t until_ms, double **out)
{
	ts_matcher m;
	ts_matcher_init(&m, TS_MATCH_EQ, "__name__", "scrape_duration_seconds", NULL);
	tsdb_querier *q;
	tsdb_series **v = NULL;
	size_t n = 0, k = 0, cap = 1024;
	double *d = malloc(cap * sizeof(*d));
	tsdb_querier_open(db, since_ms, until_ms - 1, &q, NULL);
	tsdb_select(q, &m, 1, 0, &v, &n, NULL);
	for (size_t i = 0; i < n; i++) {
		tsdb_iter *it;
		int64_t t;
		double x;
		tsdb_iter_open(q, v[i], since_ms, until_ms - 1, &it, NULL);
		while (tsdb_iter_next(it, &t, &x) == 1) {
			if (k == cap)
				d = realloc(d, (cap *= 2) * sizeof(*d));
			d[k++] = x;
		}
		tsdb_iter_close(it);
	}
	ts_free(v);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	*out = d;
	return k;
}

/* Scrapes finished by all targets; *n_up: targets whose last scrape succeeded. */
static uint64_t total_scrapes(ingest_scraper *s, size_t *n_up)
{
	ingest_scrape_target_info *v;
	size_t n;
	uint64_t sum = 0;
	*n_up = 0;
	ingest_scraper_targets(s, &v, &n, NULL);
	for (size_t i = 0; i < n; i++) {
		sum += v[i].n_scrapes;
		*n_up += v[i].health == INGEST_SCRAPE_UP;
	}
	ingest_scrape_targets_free(v, n);
	return sum;
}

int main(int argc, char **argv)
{
	int n_targets = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 200;
	int interval_ms = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 1000;
	int seconds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 20;
	const char *dir = argc > 4 ? argv[4] : "../shared/data";
	bool use_gzip = argc > 5 ? strtol(argv[5], NULL, 10) != 0 : true;
	int workers = argc > 6 ? (int)strtol(argv[6], NULL, 10) : 4;
	bool durable = argc > 7 ? strcmp(argv[7], "direct") != 0 : true;
	if (n_targets < 1 || interval_ms < 10 || seconds < 2 ||
	    (argc > 7 && strcmp(argv[7], "log") && strcmp(argv[7], "direct"))) {
		fprintf(stderr, "usage: bench_scrape [N [interval_ms [seconds [DATA_DIR [gzip "
				"[workers [log|direct]]]]]]]\n");
		return 2;
	}
	ts_log_set_level(TS_LOG_WARN);
	char path[1024];
	snprintf(path, sizeof(path), "%s/node_exporter/node_exporter_scrape.prom", dir);
	size_t body_n, gz_n = 0;
	char *body = read_file(path, &body_n);
	if (!body) {
		fprintf(stderr, "bench_scrape: cannot read %s\n", path);
		return 1;
	}
	unsigned char *gz = use_gzip ? gzip_buf(body, body_n, &gz_n) : NULL;
	payload pl = {0};
	pl.plain = MHD_create_response_from_buffer(body_n, body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(pl.plain, "Content-Type", "text/plain; version=0.0.4");
	if (gz) {
		pl.gz = MHD_create_response_from_buffer(gz_n, gz, MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(pl.gz, "Content-Type", "text/plain; version=0.0.4");
		MHD_add_response_header(pl.gz, "Content-Encoding", "gzip");
	}
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, serve,
			     &pl, MHD_OPTION_CONNECTION_LIMIT, (unsigned)(n_targets * 2 + 16),
			     MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_LISTENING_ADDRESS_REUSE,
			     1u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "bench_scrape: cannot start the HTTP server\n");
		return 1;
	}
	int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;

	size_t cap = 256 + (size_t)n_targets * 96;
	char *yaml = malloc(cap);
	size_t off = (size_t)snprintf(yaml, cap,
				      "scrape_configs:\n  - job_name: node\n"
				      "    scrape_interval: %dms\n    static_configs:\n",
				      interval_ms);
	for (int i = 0; i < n_targets; i++)
		off += (size_t)snprintf(yaml + off, cap - off,
					"      - {targets: ['127.0.0.1:%d'], labels: {shard: "
					"'%d'}}\n",
					port, i);
	ts_yaml_doc *doc;
	ts_err err = {0};
	ingest_scrape_config *cfg = NULL;
	if (ts_yaml_parse("bench.yml", yaml, off, &doc, &err) ||
	    ingest_scrape_config_parse(doc, NULL, ts_yaml_get(ts_yaml_root(doc), "scrape_configs"),
				       NULL, &cfg, &err)) {
		fprintf(stderr, "bench_scrape: %s\n", err.msg);
		return 1;
	}
	ts_yaml_free(doc);
	free(yaml);

	tsdb_options to;
	tsdb_options_init(&to);
	tsdb_db *db;
	ingest_options io;
	ingest_options_init(&io);
	ingest_pipeline *p;
	/* Durable: a config naming a fresh data directory opens the log and a disk store. */
	char tmp[] = "/tmp/bench_scrape.XXXXXX";
	ts_config *conf = NULL;
	if (durable) {
		char cpath[sizeof(tmp) + 16], ddir[sizeof(tmp) + 16];
		if (!mkdtemp(tmp)) {
			perror("bench_scrape: mkdtemp");
			return 1;
		}
		snprintf(cpath, sizeof(cpath), "%s/strata.yml", tmp);
		snprintf(ddir, sizeof(ddir), "%s/data", tmp);
		FILE *f = fopen(cpath, "w");
		if (!f || mkdir(ddir, 0755) != 0) {
			perror("bench_scrape: config");
			return 1;
		}
		fprintf(f, "storage:\n  data_dir: %s\n", ddir);
		fclose(f);
		if (ts_config_load(cpath, &conf, &err) ||
		    ingest_config_partitions(conf, &to.n_partitions, &err)) {
			fprintf(stderr, "bench_scrape: %s\n", err.msg);
			return 1;
		}
		to.dir = conf->storage.data_dir;
		io.config = conf;
	}
	if (tsdb_open(&to, &db, &err) || (io.db = db, ingest_open(&io, &p, &err))) {
		fprintf(stderr, "bench_scrape: %s\n", err.msg);
		return 1;
	}
	ingest_scraper_options so = {.n_workers = workers};
	ingest_scraper *s;
	if (ingest_scraper_start(p, cfg, &so, &s, &err)) {
		fprintf(stderr, "bench_scrape: %s\n", err.msg);
		return 1;
	}

	/* Warm-up: one interval (every target's first scrape creates its series). */
	usleep((useconds_t)interval_ms * 1000 + 200000);
	size_t n_up;
	double cpu_scr0 = thread_cpu_s("ingest-scr"), cpu_http0 = thread_cpu_s("MHD");
	double cpu_curl0 = thread_cpu_s("ingest-scrape");
	double cpu_wr0 = thread_cpu_s("ingest-a") + thread_cpu_s("ingest-p");
	tsdb_stats st0, st1;
	tsdb_stats_get(db, &st0);
	struct timespec a, b, pa, pb;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &pa);
	clock_gettime(CLOCK_MONOTONIC, &a);
	int64_t since = ts_now_ms();
	sleep((unsigned)seconds);
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &pb);
	tsdb_stats_get(db, &st1);
	int64_t until = ts_now_ms() - 2 * interval_ms; /* scrapes started by then are stored */
	total_scrapes(s, &n_up);
	double cpu_scr = thread_cpu_s("ingest-scr") - cpu_scr0;
	double cpu_http = thread_cpu_s("MHD") - cpu_http0;
	double cpu_curl = thread_cpu_s("ingest-scrape") - cpu_curl0;
	double cpu_wr = thread_cpu_s("ingest-a") + thread_cpu_s("ingest-p") - cpu_wr0;
	double el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	/* Every thread but the exporter's (HTTP server): scraper, log, consumers, tsdb. */
	double cpu_all =
	    (double)(pb.tv_sec - pa.tv_sec) + (double)(pb.tv_nsec - pa.tv_nsec) / 1e9 - cpu_http;
	ingest_scraper_stop(s);
	ingest_close(p); /* the consumers drain the log into the store first */

	double *dur;
	size_t nd = durations(db, since, until, &dur);
	qsort(dur, nd, sizeof(*dur), cmp_double);
	double want = (double)n_targets * 1000.0 / interval_ms;
	/* Scrapes whose timestamp falls in the window, over the window's length. */
	double got = (double)nd * 1000.0 / (double)(until - since);
	double samples = got * 507;
	printf("bench_scrape: %d targets x 507 samples (57 KB%s), interval %d ms, %d workers, "
	       "%.1f s, %s\n",
	       n_targets, use_gzip ? ", gzip" : "", interval_ms, workers, el,
	       durable ? "durable log + disk store (end to end)"
		       : "memory store without a log (direct)");
	printf("  scrapes/s   %10.1f  (%.1f%% of the schedule's %.1f/s), %zu/%d targets up\n", got,
	       100.0 * got / want, want, n_up, n_targets);
	printf("  samples/s   %10.0f  (store appended %.0f/s while scraping)\n", samples,
	       (double)(st1.samples_appended - st0.samples_appended) / el);
	if (nd)
		printf("  scrape duration p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu scrapes)\n",
		       dur[nd / 2] * 1e3, dur[(size_t)((double)nd * 0.99)] * 1e3, dur[nd - 1] * 1e3,
		       nd);
	printf("  CPU: scraper threads %.2f s = %.1f%% of one core (libcurl thread %.2f s, workers "
	       "%.2f s); HTTP server %.2f s\n",
	       cpu_scr, 100.0 * cpu_scr / el, cpu_curl, cpu_scr - cpu_curl, cpu_http);
	printf("  CPU: write path (log appends ingest-aN, consumers ingest-pN) %.2f s = %.1f%% of "
	       "one core\n",
	       cpu_wr, 100.0 * cpu_wr / el);
	printf("  CPU: whole process without the HTTP server %.2f s = %.1f%% of one core\n",
	       cpu_all, 100.0 * cpu_all / el);
	if (cpu_scr > 0 && cpu_all > 0)
		printf("  samples per CPU-second: scraper %.0f, scraper + write path %.0f, whole "
		       "process %.0f\n",
		       samples * el / cpu_scr, samples * el / (cpu_scr + cpu_wr),
		       samples * el / cpu_all);
	free(dur);
	tsdb_close(db);
	if (durable) {
		ts_config_free(conf);
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	MHD_stop_daemon(d);
	MHD_destroy_response(pl.plain);
	if (pl.gz)
		MHD_destroy_response(pl.gz);
	free(gz);
	free(body);
	return 0;
}
