/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_tsdb.c: storage engine benchmark: bytes per sample on disk against Prometheus,
 * head append rate, head memory per series.
 *
 * Usage: bench_tsdb [--data DIR] [--tmp DIR] [--no-prom] [--quick] [--only NAME]
 *   --only  one dataset, "append" (sections 2 and 3) or "interleaved" (2b only)
 *   --data  the shared data directory (default ../shared/data)
 *   --tmp   scratch directory, emptied per dataset (default /tmp/bench_tsdb)
 *
 * 1. Size, per dataset (node_exporter_10m.om.gz, nab.om, devops_100h_1h.lp.gz): parse
 *    with ingest's parsers (OpenMetrics / line protocol), append everything to a store
 *    in --tmp, tsdb_flush(), and sum the bytes of the block files. Then export every
 *    stored sample back as OpenMetrics (value bits printed exactly with %.17g; read
 *    through the querier, so this also checks the round trip) and give that file to
 *    `promtool tsdb create-blocks-from openmetrics` (Prometheus 2.42, Debian), and sum
 *    the bytes of its block files (chunks, index, meta.json, tombstones). Both use the
 *    same block duration: 2 h (the default of both) except nab (19 months at 5 min),
 *    where both get 100000 h (the data README's promtool advice), so neither side
 *    pays thousands of per-block indexes. Then the store is compacted to the end
 *    (tsdb_compact_run, max_block_duration 24h, raw retention 10 d so the 10% cap is
 *    24h too) and measured again: "nab-2h" (nab cut into 2 h blocks, compacted to 24 h
 *    blocks; promtool given 24 h blocks) shows what compaction saves; the other sets
 *    fit in one block and do not change.
 * 2. Append rate: synthetic scrapes (100k series, 5 labels, 10 s interval with ms
 *    jitter, counter-like values) into a memory-only store, one thread; then the same
 *    series split by hash over P partition threads (the consumer model: one thread per
 *    partition owns its series). Samples/s of wall time.
 * 2b. The same through tsdb_append_series as the consumer applies records (1 or 25
 *    samples of a series a call), in order and with every group of 4 slices shuffled
 *    per series (interleaved writers: about half the samples land behind the newest),
 *    with and without a precomputed hash: CPU us per sample (and the rechunks the
 *    head did), one thread. Last, the consumer's shape on the devops ingest load:
 *    10,000 series, 10 samples a call, 4 slices shuffled (up to 39 scrapes behind), by
 *    labels and through series references (the consumer's way: store time only).
 * 3. Memory per active series: tsdb_stats head_bytes / n_series (exact byte counts of
 *    head structures, label strings included) after 1, 65 and 300 samples per series,
 *    split into chunk buffers and the rest, plus the process RSS growth per series
 *    (malloc overhead included). bench_tsdb_prom_mem.sh measures Prometheus 2.42 the
 *    same way (about 65 samples per series).
 *
 * Not run by ctest (STYLE.md section 10). Prometheus' memory per series is not
 * measured here (it needs a running server fed through remote write or scrapes).
 */
#include "common/common.h"
#include "ingest/exposition.h"
#include "ingest/line_protocol.h"
#include "tsdb/tsdb.h"
#include "tsdb/tsdb_int.h" /* tsdb_compact_run: benchmarks may use internals */

#include <zlib.h>

/* Time tsdb_append_series_hashed too (undefine to build this file against an older tree
 * for before/after runs). */
#define BENCH_TSDB_HASHED 1

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *msg)
{
	fprintf(stderr, "bench_tsdb: %s\n", msg);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whole file (gzip or plain) into memory. */
static char *load(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 24, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (cap - n < (1 << 20)) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		int k = gzread(f, buf + n, (unsigned)(cap - n - 1));
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	gzclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Sum of regular file sizes under dir (recursive). */
static uint64_t du(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	uint64_t sum = 0;
	struct dirent *e;
	char path[4096];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			sum += du(path);
		else if (S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return sum;
}

static void rm_rf(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		die("rm -rf failed");
}

/* -------------------------------------------------------------------------------------
 * 1. Size
 * ---------------------------------------------------------------------------------- */

typedef struct sink {
	tsdb_db *db;
	uint64_t ok, rejected;
} sink;

static int sink_fn(void *ctx, const ts_label *labels, size_t n, int64_t t_ms, double v)
{
	sink *s = ctx;
	int rc = tsdb_append(s->db, labels, n, t_ms, v, NULL);
	if (rc == TS_OK)
		s->ok++;
	else if (rc == TS_EOUTOFORDER)
		s->rejected++;
	else
		return rc;
	return TS_OK;
}

static void fmt_value(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "NaN");
	else if (isinf(v))
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(buf, cap, "%.17g", v);
}

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static int cmp_by_name(const void *a, const void *b)
{
	tsdb_series *x = *(tsdb_series *const *)a, *y = *(tsdb_series *const *)b;
	size_t nx, ny;
	const ts_label *lx = tsdb_series_labels(x, &nx), *ly = tsdb_series_labels(y, &ny);
	int c = strcmp(ts_labels_get(lx, nx, "__name__"), ts_labels_get(ly, ny, "__name__"));
	return c ? c : ts_labels_cmp(lx, nx, ly, ny);
}

/* Every stored sample as OpenMetrics (families contiguous). Returns the sample count. */
static uint64_t export_om(tsdb_db *db, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write the export");
	tsdb_querier *q;
	ts_matcher m;
	tsdb_series **v;
	size_t n;
	if (tsdb_querier_open(db, INT64_MIN, INT64_MAX, &q, NULL) ||
	    ts_matcher_init(&m, TS_MATCH_RE, "__name__", ".+", NULL) ||
	    tsdb_select(q, &m, 1, 0, &v, &n, NULL))
		die("select failed");
	qsort(v, n, sizeof(*v), cmp_by_name);
	uint64_t count = 0;
	const char *fam = NULL;
	char val[64];
	for (size_t i = 0; i < n; i++) {
		size_t nl;
		const ts_label *l = tsdb_series_labels(v[i], &nl);
		const char *name = ts_labels_get(l, nl, "__name__");
		if (!fam || strcmp(fam, name) != 0)
			fprintf(f, "# TYPE %s unknown\n", name);
		fam = name;
		tsdb_iter *it;
		if (tsdb_iter_open(q, v[i], INT64_MIN, INT64_MAX, &it, NULL))
			die("iter failed");
		int64_t t;
		double x;
		while (tsdb_iter_next(it, &t, &x) == 1) {
			fputs(name, f);
			bool first = true;
			for (size_t k = 0; k < nl; k++) {
				if (!strcmp(l[k].name, "__name__"))
					continue;
				fprintf(f, "%s%s=\"", first ? "{" : ",", l[k].name);
				put_escaped(f, l[k].value);
				fputc('"', f);
				first = false;
			}
			fmt_value(val, sizeof(val), x);
			fprintf(f, "%s %s %lld.%03lld\n", first ? "" : "}", val,
				(long long)(t / 1000), (long long)(t % 1000));
			count++;
		}
		tsdb_iter_close(it);
	}
	fputs("# EOF\n", f);
	fclose(f);
	ts_free(v);
	ts_matcher_fini(&m);
	tsdb_querier_close(q);
	return count;
}

typedef struct dataset {
	const char *name, *file;
	bool is_lp;
	int64_t block_ms;
	const char *prom_dur;
} dataset;

static uint64_t n_block_dirs(const char *dir)
{
	DIR *d = opendir(dir);
	uint64_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void size_one(const dataset *ds, const char *data, const char *tmp, bool prom)
{
	char path[4096], dir[1024], sdir[2048], pdir[2048];
	snprintf(path, sizeof(path), "%s/%s", data, ds->file);
	snprintf(dir, sizeof(dir), "%s/%s", tmp, ds->name);
	snprintf(sdir, sizeof(sdir), "%s/strata", dir);
	snprintf(pdir, sizeof(pdir), "%s/prom", dir);
	rm_rf(dir);
	mkdir(tmp, 0755);
	mkdir(dir, 0755);
	size_t len;
	char *body = load(path, &len);
	if (!body) {
		printf("%-14s  (missing %s)\n", ds->name, path);
		return;
	}
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = sdir;
	o.block_duration_ms = ds->block_ms;
	o.cut_check_interval_ms = 0;
	o.out_of_order_window_ms = INT64_MAX / 4;
	o.max_block_duration_ms = 24 * 3600 * 1000;
	o.retention_raw_ms = 10LL * 24 * 3600 * 1000;
	tsdb_db *db;
	ts_err err = {0};
	if (tsdb_open(&o, &db, &err))
		die(err.msg);
	sink s = {db, 0, 0};
	double t0 = now_s();
	int rc;
	if (ds->is_lp)
		rc = ingest_lp_parse(body, len, INGEST_PREC_NS, 0, NULL, sink_fn, &s, NULL, &err);
	else
		rc = ingest_exposition_parse(body, len, INGEST_EXPO_OPENMETRICS, 0, 0, NULL,
					     sink_fn, NULL, &s, NULL, &err);
	if (rc)
		die(err.msg);
	double t_load = now_s() - t0;
	t0 = now_s();
	tsdb_stats st;
	/* One flush writes at most 1024 block ranges (cut.c rounds): repeat until the head
	 * is empty (nab-2h spans about 7000 ranges). */
	for (int i = 0; i < 100; i++) {
		if (tsdb_flush(db, &err))
			die(err.msg);
		tsdb_stats_get(db, &st);
		if (st.n_samples == 0)
			break;
	}
	double t_flush = now_s() - t0;
	snprintf(path, sizeof(path), "%s/blocks", sdir);
	uint64_t flushed = du(path), flushed_blocks = st.n_blocks;
	int merges = 0;
	t0 = now_s();
	if (tsdb_compact_run(db, 1 << 30, &merges, &err))
		die(err.msg);
	double t_compact = now_s() - t0;
	tsdb_stats_get(db, &st);
	uint64_t ours = du(path), dirs = n_block_dirs(path);
	snprintf(path, sizeof(path), "%s/export.om", dir);
	uint64_t exported = export_om(db, path);
	tsdb_close(db);
	free(body);
	double bps = (double)ours / (double)st.block_samples;
	printf("%-14s  samples %8llu (rejected %llu)  blocks %llu  "
	       "strata %9llu B = %.3f B/sample  (load %.2fs, flush %.2fs)\n",
	       ds->name, (unsigned long long)st.block_samples, (unsigned long long)s.rejected,
	       (unsigned long long)flushed_blocks, (unsigned long long)flushed,
	       (double)flushed / (double)st.block_samples, t_load, t_flush);
	printf("  compacted: %d merges in %.2fs -> %llu blocks (%llu dirs)  strata %9llu B = "
	       "%.3f B/sample\n",
	       merges, t_compact, (unsigned long long)st.n_blocks, (unsigned long long)dirs,
	       (unsigned long long)ours, bps);
	if (exported != st.block_samples)
		printf("  !! exported %llu samples, blocks hold %llu\n",
		       (unsigned long long)exported, (unsigned long long)st.block_samples);
	if (!prom)
		return;
	char cmd[9000];
	snprintf(cmd, sizeof(cmd),
		 "promtool tsdb create-blocks-from openmetrics --max-block-duration=%s "
		 "'%s/export.om' '%s' > '%s/promtool.log' 2>&1",
		 ds->prom_dur, dir, pdir, dir);
	t0 = now_s();
	if (system(cmd) != 0) {
		printf("  prometheus: promtool failed, see %s/promtool.log\n", dir);
		return;
	}
	uint64_t theirs = du(pdir);
	printf("  prometheus 2.42 (promtool) %9llu B = %.3f B/sample  -> strata/prometheus = "
	       "%.3f  (promtool %.1fs)\n",
	       (unsigned long long)theirs, (double)theirs / (double)st.block_samples,
	       (double)ours / (double)theirs, now_s() - t0);
}

/* -------------------------------------------------------------------------------------
 * 2. Append rate and 3. memory
 * ---------------------------------------------------------------------------------- */

typedef struct synth {
	size_t n_series;
	ts_label (*labels)[5];
	char (*strs)[3][32];
	uint64_t *hash;
} synth;

static void synth_init(synth *s, size_t n)
{
	s->n_series = n;
	s->labels = calloc(n, sizeof(*s->labels));
	s->strs = calloc(n, sizeof(*s->strs));
	s->hash = calloc(n, sizeof(*s->hash));
	if (!s->labels || !s->strs || !s->hash)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		snprintf(s->strs[i][0], 32, "bench_metric_%zu", i % 250);
		snprintf(s->strs[i][1], 32, "10.%zu.%zu.%zu:9100", i / 65536 % 256,
			 i / 250 / 256 % 256, i / 250 % 256);
		snprintf(s->strs[i][2], 32, "%zu", i % 4);
		ts_label *l = s->labels[i];
		l[0] = (ts_label){"__name__", s->strs[i][0]};
		l[1] = (ts_label){"cpu", s->strs[i][2]};
		l[2] = (ts_label){"instance", s->strs[i][1]};
		l[3] = (ts_label){"job", "node"};
		l[4] = (ts_label){"mode", "user"};
		s->hash[i] = ts_series_hash(l, 5);
	}
}

typedef struct worker {
	tsdb_db *db;
	const synth *s;
	int part, n_parts, k0, k1; /* scrapes [k0, k1) */
	uint64_t appended;
	double cpu_s; /* thread CPU time */
} worker;

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *append_worker(void *arg)
{
	worker *w = arg;
	double c0 = thread_cpu_s();
	uint64_t x = 88172645463325252ull + (uint64_t)w->part;
	for (int k = w->k0; k < w->k1; k++) {
		for (size_t i = 0; i < w->s->n_series; i++) {
			if ((int)(w->s->hash[i] % (uint64_t)w->n_parts) != w->part)
				continue;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			int64_t t = 1700000000000 + (int64_t)k * 10000 + (int64_t)(x % 7);
			double v = (double)(k * 17 + (int)(x % 100));
			if (tsdb_append(w->db, w->s->labels[i], 5, t, v, NULL) == TS_OK)
				w->appended++;
		}
	}
	w->cpu_s = thread_cpu_s() - c0;
	return NULL;
}

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void append_rate(size_t n_series, int n_samples, int n_threads)
{
	synth s;
	synth_init(&s, n_series);
	tsdb_options o;
	tsdb_options_init(&o);
	o.n_partitions = n_threads;
	tsdb_db *db;
	if (tsdb_open(&o, &db, NULL))
		die("open failed");
	/* Warm: create every series with one sample (not timed as append rate). */
	worker w0 = {db, &s, 0, 1, 0, 1, 0, 0};
	double t0 = now_s();
	append_worker(&w0);
	double t_create = now_s() - t0;
	pthread_t th[64];
	worker w[64];
	t0 = now_s();
	for (int p = 0; p < n_threads; p++) {
		w[p] = (worker){db, &s, p, n_threads, 1, 1 + n_samples, 0, 0};
		pthread_create(&th[p], NULL, append_worker, &w[p]);
	}
	uint64_t total = 0;
	double cpu = 0;
	for (int p = 0; p < n_threads; p++) {
		pthread_join(th[p], NULL);
		total += w[p].appended;
		cpu += w[p].cpu_s;
	}
	double dt = now_s() - t0;
	printf("append  %zu series x %d samples, %d thread%s: %.2f M samples/s wall, %.2f M "
	       "samples/s per busy core (series creation %.2f M/s)\n",
	       n_series, n_samples, n_threads, n_threads > 1 ? "s" : "", (double)total / dt / 1e6,
	       (double)total / cpu / 1e6, (double)n_series / t_create / 1e6);
	tsdb_close(db);
	free(s.labels);
	free(s.strs);
	free(s.hash);
}

/*
 * Append rate as the consumer drives it: tsdb_append_series with `run` consecutive
 * samples of a series per call (a record holds a series' samples of one batch), one
 * thread, CPU time per sample. `window` 1 appends each series' slices in order; window
 * W > 1 applies each group of W consecutive slices in a random order per series (W
 * writers posting consecutive time slices whose batches reach the log in any order), so
 * about half the slices arrive behind the series' newest sample: by up to W-1 scrapes
 * with run 1, by whole slices with longer runs. Mode APPEND_HASHED calls
 * tsdb_append_series_hashed (the series hash precomputed, as ingest has it), APPEND_REF
 * tsdb_series_ref_append with a reference per series taken before the clock starts (as
 * the consumer caches them: no lookup at all).
 */
enum { APPEND_LABELS, APPEND_HASHED, APPEND_REF };
static void append_interleaved(size_t n_series, int n_samples, int window, int run, int mode)
{
	synth s;
	synth_init(&s, n_series);
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	if (tsdb_open(&o, &db, NULL))
		die("open failed");
	worker w0 = {db, &s, 0, 1, 0, 1, 0, 0};
	append_worker(&w0); /* create every series (not timed) */
	tsdb_series_ref **refs = NULL;
	if (mode == APPEND_REF) {
		refs = calloc(s.n_series, sizeof(*refs));
		if (!refs)
			die("out of memory");
		for (size_t i = 0; i < s.n_series; i++)
			if (tsdb_series_ref_get(db, ts_series_hash(s.labels[i], 5), s.labels[i], 5,
						&refs[i], NULL))
				die("tsdb_series_ref_get failed");
	}
	uint64_t ok = 0, behind = 0;
	int perm[64];
	int64_t t[64];
	double v[64];
	double c0 = thread_cpu_s(), t0 = now_s();
	int group = window * run;
	for (int g = 1; g + group <= 1 + n_samples; g += group) {
		/* Pass j appends every series' j-th slice of the group, so consecutive calls
		 * go to different series (as in a record), each series in its own order. */
		for (int j = 0; j < window; j++) {
			for (size_t i = 0; i < s.n_series; i++) {
				uint64_t x = ((uint64_t)g << 32 ^ i) * 0x9E3779B97F4A7C15ull;
				for (int m = 0; m < window; m++)
					perm[m] = m;
				for (int m = window - 1; m > 0; m--) {
					x ^= x >> 29;
					x *= 0xBF58476D1CE4E5B9ull;
					int r = (int)((x >> 32) % (uint64_t)(m + 1)), tmp = perm[m];
					perm[m] = perm[r];
					perm[r] = tmp;
				}
				int newest = 0;
				for (int m = 0; m < j; m++)
					newest = perm[m] > newest ? perm[m] : newest;
				for (int r = 0; r < run; r++) {
					int k = g + perm[j] * run + r;
					t[r] =
					    1700000000000 + (int64_t)k * 10000 + (int64_t)(i % 7);
					v[r] = (double)(k * 17 + (int)(i % 100));
				}
				size_t done = 0, rej = 0;
				int rc;
				if (mode == APPEND_REF)
					rc = tsdb_series_ref_append(db, refs[i], t, v, (size_t)run,
								    &done, &rej, NULL);
#ifdef BENCH_TSDB_HASHED
				else if (mode == APPEND_HASHED)
					rc = tsdb_append_series_hashed(db, s.hash[i], s.labels[i],
								       5, t, v, (size_t)run, &done,
								       &rej, NULL);
#endif
				else
					rc = tsdb_append_series(db, s.labels[i], 5, t, v,
								(size_t)run, &done, &rej, NULL);
				if (rc == TS_OK)
					ok += done - rej;
				if (j > 0 && perm[j] < newest)
					behind += (uint64_t)run;
			}
		}
	}
	double cpu = thread_cpu_s() - c0, dt = now_s() - t0;
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	printf("append_series %zu series x %d samples, %d a call, window %d%s: %.2f M samples/s "
	       "per busy core (%.3f us/sample, wall %.2fs), %.0f%% behind the newest, %llu "
	       "rechunks\n",
	       n_series, n_samples, run, window,
	       mode == APPEND_REF      ? ", series refs"
	       : mode == APPEND_HASHED ? ", precomputed hash"
				       : "",
	       (double)ok / cpu / 1e6, cpu / (double)ok * 1e6, dt,
	       100.0 * (double)behind / (double)(ok ? ok : 1), (unsigned long long)st.rechunks);
	for (size_t i = 0; refs && i < s.n_series; i++)
		tsdb_series_ref_put(db, refs[i]);
	free(refs);
	tsdb_close(db);
	free(s.labels);
	free(s.strs);
	free(s.hash);
}

/* Head memory per series after 1, 65 (one open chunk, as bench_tsdb_prom_mem.sh) and 300
 * samples (two sealed chunks and an open one). */
static void memory(size_t n_series)
{
	synth s;
	synth_init(&s, n_series);
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	uint64_t rss0 = rss_bytes();
	if (tsdb_open(&o, &db, NULL))
		die("open failed");
	static const int upto[] = {1, 65, 300};
	int k = 0;
	for (size_t i = 0; i < 3; i++) {
		worker w = {db, &s, 0, 1, k, upto[i], 0, 0};
		append_worker(&w);
		k = upto[i];
		tsdb_stats st;
		tsdb_stats_get(db, &st);
		printf("memory  after %3d samples: %5llu B/series (chunks %4llu, other %3llu); RSS "
		       "growth %.0f B/series\n",
		       k, (unsigned long long)st.head_bytes_per_series,
		       (unsigned long long)(st.head_chunk_bytes / st.n_series),
		       (unsigned long long)((st.head_bytes - st.head_chunk_bytes) / st.n_series),
		       (double)(rss_bytes() - rss0) / (double)n_series);
	}
	tsdb_close(db);
	free(s.labels);
	free(s.strs);
	free(s.hash);
}

int main(int argc, char **argv)
{
	const char *data = "../shared/data", *tmp = "/tmp/bench_tsdb", *only = NULL;
	bool prom = true, quick = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--data") && i + 1 < argc)
			data = argv[++i];
		else if (!strcmp(argv[i], "--tmp") && i + 1 < argc)
			tmp = argv[++i];
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--no-prom"))
			prom = false;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else
			die("usage: bench_tsdb [--data DIR] [--tmp DIR] [--no-prom] [--quick] "
			    "[--only NAME]");
	}
	ts_log_set_level(TS_LOG_WARN);
	static const dataset sets[] = {
	    {"node_exporter", "node_exporter/node_exporter_10m.om.gz", false, 7200000, "2h"},
	    {"devops", "devops/devops_100h_1h.lp.gz", true, 7200000, "2h"},
	    {"nab", "nab/nab.om", false, 360000000000000LL, "100000h"},
	    {"nab-2h", "nab/nab.om", false, 7200000, "24h"},
	};
	printf("== bytes per sample on disk (block files), strata vs prometheus\n");
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (!only || !strcmp(only, sets[i].name))
			size_one(&sets[i], data, tmp, prom);
	bool interleaved_only = only && !strcmp(only, "interleaved");
	if (only && strcmp(only, "append") && !interleaved_only)
		return 0;
	printf("== head append rate and memory\n");
	size_t n = quick ? 10000 : 100000;
	if (!interleaved_only) {
		memory(n); /* first: RSS growth is only meaningful in a fresh heap */
		append_rate(n, quick ? 20 : 119, 1);
		append_rate(n, quick ? 20 : 119, 2);
	}
	/* one sample a call (1000s of hosts: a batch holds one scrape of each series), then
	 * 25 (200 hosts: 25 scrapes a batch) */
	for (int run = 1; run <= 25; run += 24) {
		size_t ns = run == 1 ? n : n / 5;
		int samples = run == 1 ? (quick ? 20 : 60) : (quick ? 100 : 400);
		append_interleaved(ns, samples, 1, run, APPEND_LABELS);
		append_interleaved(ns, samples, 4, run, APPEND_LABELS);
#ifdef BENCH_TSDB_HASHED
		append_interleaved(ns, samples, 1, run, APPEND_HASHED);
		append_interleaved(ns, samples, 4, run, APPEND_HASHED);
#endif
	}
	/* The consumer's shape on the devops load (bench/ingest_cpu.sh): 10,000 series, about
	 * 10 samples of a series a call (merged records), 4 connections whose batches land in
	 * any order, so samples arrive up to 39 scrapes behind the newest. */
	append_interleaved(quick ? 2000 : 10000, quick ? 120 : 360, 4, 10, APPEND_LABELS);
	append_interleaved(quick ? 2000 : 10000, quick ? 120 : 360, 4, 10, APPEND_REF);
	return 0;
}
