/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_line_protocol.c: throughput of ingest_lp_parse on one core.
 *
 * Loads a line protocol file (gzip or plain; default: the devops cpu data set,
 * 36,000 lines x 10 fields) into memory, then parses it `iterations` times on the
 * calling thread and reports bytes/s, lines/s and samples/s for the best and the
 * median run, by wall clock and by thread CPU time (the CPU rows stay per core on a
 * busy machine; on an idle one both agree).
 *
 * The sink is cheap on purpose (it folds values and label counts into a checksum) to
 * measure the parser; --hash also computes ts_series_hash per sample, which is what
 * the write path does next. Not run by ctest (STYLE.md section 10).
 *
 * --batch measures the server's path instead: a pipeline over a memory store and an
 * embedded log (temporary directory, no fsync) is opened, and each run parses the file
 * in requests of 5,000 lines (as bench_ingest posts them) into ingest_batch_add, so the
 * parser's series cache is on; a request's batch is freed uncommitted (nothing is
 * written) and only the parse is timed, so the figures include the batch's own work per
 * sample (interning, series lookup, record building) but no log append.
 *
 * Usage: bench_line_protocol [--hash | --batch] [FILE[.gz] [ITERATIONS]]
 * Links with: ingest common, zlib (-lz); build with -O2 -DNDEBUG.
 */
#include "ingest/line_protocol.h"

#include "ingest/ingest.h"
#include "ingest/log.h"
#include "tsdb/tsdb.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#ifndef STRATA_SHARED_DATA
#define STRATA_SHARED_DATA "../shared/data"
#endif

typedef struct bench_sink {
	double sum;     /* sum of values */
	uint64_t check; /* label counts, timestamps and hashes folded together */
	int hash;       /* compute ts_series_hash per sample */
} bench_sink;

static int sink(void *ctx, const ts_label *labels, size_t n, int64_t t_ms, double v)
{
	bench_sink *s = ctx;
	s->sum += v;
	s->check += n ^ (uint64_t)t_ms;
	if (s->hash)
		s->check ^= ts_series_hash(labels, n);
	return TS_OK;
}

static char *load(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 24, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (cap - n < (1 << 20)) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		int got = gzread(f, buf + n, 1 << 20);
		if (got < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	gzclose(f);
	*len = n;
	return buf;
}

static double now_s(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define BATCH_LINES 5000

/* The --batch mode's pipeline: memory store, embedded log in a temporary directory. */
typedef struct bench_pipe {
	char dir[64];
	tsdb_db *db;
	ingest_log *log;
	ingest_pipeline *p;
} bench_pipe;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int pipe_open(bench_pipe *bp)
{
	ts_err err = {0};
	snprintf(bp->dir, sizeof(bp->dir), "/tmp/bench_lp.XXXXXX");
	if (!mkdtemp(bp->dir))
		return -1;
	tsdb_options to;
	tsdb_options_init(&to);
	ingest_log_local_options lo = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	lo.dir = bp->dir;
	lo.no_sync = true;
	ingest_options io;
	ingest_options_init(&io);
	if (tsdb_open(&to, &bp->db, &err) || ingest_log_local_open(&lo, &bp->log, &err))
		goto fail;
	io.db = bp->db;
	io.log = bp->log;
	if (ingest_open(&io, &bp->p, &err))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "cannot open the pipeline: %s\n", err.msg);
	return -1;
}

static void pipe_close(bench_pipe *bp)
{
	ingest_close(bp->p);
	ingest_log_close(bp->log);
	tsdb_close(bp->db);
	nftw(bp->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One --batch run: the body in requests of BATCH_LINES lines; returns the parse's
 * thread CPU and wall seconds, and the totals in *r. */
static int run_batches(bench_pipe *bp, const char *body, size_t len, double *cpu, double *wall,
		       ingest_lp_result *r)
{
	ingest_limits lim = INGEST_LIMITS_DEFAULT;
	const char *p = body, *end = body + len;
	memset(r, 0, sizeof(*r));
	*cpu = *wall = 0;
	while (p < end) {
		const char *q = p;
		for (int i = 0; i < BATCH_LINES && q < end; i++) {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			q = nl ? nl + 1 : end;
		}
		ingest_batch *b;
		ts_err err = {0};
		ingest_lp_result one;
		if (ingest_batch_begin(bp->p, &b, &err))
			return -1;
		double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		int rc = ingest_lp_parse(p, (size_t)(q - p), INGEST_PREC_NS, 0, &lim,
					 ingest_batch_add, b, &one, &err);
		double c1 = now_s(CLOCK_THREAD_CPUTIME_ID), w1 = now_s(CLOCK_MONOTONIC);
		ingest_batch_free(b);
		if (rc != TS_OK || one.n_bad_lines) {
			fprintf(stderr, "parse failed: %s %s\n", err.msg, one.first_error);
			return -1;
		}
		*cpu += c1 - c0;
		*wall += w1 - w0;
		r->n_lines += one.n_lines;
		r->n_samples += one.n_samples;
		r->n_cached_points += one.n_cached_points;
		p = q;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	bench_sink s = {0, 0, 0};
	int argi = 1, batch = 0;
	if (argi < argc && strcmp(argv[argi], "--hash") == 0) {
		s.hash = 1;
		argi++;
	} else if (argi < argc && strcmp(argv[argi], "--batch") == 0) {
		batch = 1;
		argi++;
	}
	const char *path =
	    argi < argc ? argv[argi++] : STRATA_SHARED_DATA "/devops/devops_100h_1h.lp.gz";
	int iters = argi < argc ? (int)strtol(argv[argi], NULL, 10) : 20;
	if (iters < 1 || iters > 10000) {
		fprintf(stderr, "usage: %s [--hash | --batch] [FILE[.gz] [ITERATIONS]]\n", argv[0]);
		return 2;
	}
	size_t len;
	char *body = load(path, &len);
	if (!body) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}

	double *wall = calloc((size_t)iters, sizeof(double));
	double *cpu = calloc((size_t)iters, sizeof(double));
	if (!wall || !cpu) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	ingest_lp_result r;
	ingest_limits lim = INGEST_LIMITS_DEFAULT;
	bench_pipe bp;
	if (batch && pipe_open(&bp))
		return 1;
	for (int i = 0; batch && i < iters; i++) {
		if (run_batches(&bp, body, len, &cpu[i], &wall[i], &r))
			return 1;
	}
	if (batch)
		pipe_close(&bp);
	for (int i = 0; !batch && i < iters; i++) {
		ts_err err = {0};
		double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		int rc = ingest_lp_parse(body, len, INGEST_PREC_NS, 0, &lim, sink, &s, &r, &err);
		double c1 = now_s(CLOCK_THREAD_CPUTIME_ID), w1 = now_s(CLOCK_MONOTONIC);
		if (rc != TS_OK || r.n_bad_lines) {
			fprintf(stderr, "parse failed: %s %s\n", err.msg, r.first_error);
			return 1;
		}
		wall[i] = w1 - w0;
		cpu[i] = c1 - c0;
	}
	qsort(wall, (size_t)iters, sizeof(double), cmp_double);
	qsort(cpu, (size_t)iters, sizeof(double), cmp_double);

	printf("file      %s\n", path);
	printf("input     %zu bytes, %zu lines, %zu samples (%.1f samples/line)%s\n", len,
	       r.n_lines, r.n_samples, (double)r.n_samples / (double)r.n_lines,
	       s.hash  ? ", sink computes ts_series_hash"
	       : batch ? ", into ingest_batch_add in 5,000-line requests"
		       : "");
	if (batch)
		printf("cached    %zu of %zu points\n", r.n_cached_points, r.n_lines);
	printf("runs      %d (checksum %.6g/%" PRIu64 ")\n", iters, s.sum, s.check);
	printf("%-9s %10s %14s %16s\n", "", "MB/s", "lines/s", "samples/s");
	const struct {
		const char *name;
		double t;
	} rows[] = {{"best", wall[0]},
		    {"median", wall[iters / 2]},
		    {"cpu-best", cpu[0]},
		    {"cpu-med", cpu[iters / 2]}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		printf("%-9s %10.1f %14.0f %16.0f\n", rows[i].name, (double)len / rows[i].t / 1e6,
		       (double)r.n_lines / rows[i].t, (double)r.n_samples / rows[i].t);
	printf("cpu ns/sample: best %.1f, median %.1f\n", cpu[0] * 1e9 / (double)r.n_samples,
	       cpu[iters / 2] * 1e9 / (double)r.n_samples);
	free(wall);
	free(cpu);
	free(body);
	return 0;
}
