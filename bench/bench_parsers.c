/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_parsers.c: throughput of the remote write decoder and the exposition parser on
 * the node_exporter capture in shared/data (standalone program, never run by ctest).
 *
 *   exposition/0.0.4     node_exporter_scrape.prom (one scrape, 507 samples), parsed
 *                        repeatedly as a scraper would;
 *   exposition/om        node_exporter_10m.om.gz (600 scrapes, 304,200 samples,
 *                        float-second timestamps), parsed as one body;
 *   remote_write/decode  the same 304,200 samples re-encoded the way Prometheus' queue
 *                        manager sends them: one TimeSeries per sample, `batch`
 *                        samples per request (default 2000 = max_samples_per_send),
 *                        snappy-compressed; every request is decoded (snappy +
 *                        protobuf-c + validation + sink);
 *   remote_write/decode+scratch  the same through one reused ingest_rw_scratch, as the
 *                        server does (ingest_rw_pool): no allocation per request;
 *   remote_write/pb-hand the protobuf decoding alone (already decompressed bytes) with
 *                        the hand-written decoder (ingest/remote_write_pb.c), one reused
 *                        ingest_pb_write_request;
 *   remote_write/pb-protobuf-c  the same bytes through protobuf-c's generic unpack and
 *                        free (malloc allocator), the reference the hand decoder replaced;
 *   remote_write/encode  building those requests (for reference).
 *
 * The sink only counts and folds the values into a checksum, so the numbers are the
 * parser's own cost. Times are thread CPU time; each measurement runs `reps` times and
 * the best run is reported.
 *
 * Usage: bench_parsers [DATA_DIR [batch [reps]]]   (DATA_DIR default ../shared/data)
 * Build: cmake -DSTRATA_BENCH=ON (bench/CMakeLists.txt), target bench_parsers; it needs
 * ingest (which brings snappy and protobuf-c), tsdb, common, zlib and libm.
 */
#include "ingest/exposition.h"
#include "ingest/remote_write.h"

#include "ingest/remote.pb-c.h"
#include "ingest/remote_write_pb.h"

#include <snappy-c.h>
#include <zlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_sink {
	size_t n;
	uint64_t check; /* folds the values so the work cannot be optimized away */
} bench_sink;

static int count_fn(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	bench_sink *s = ctx;
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	s->check += b ^ (uint64_t)t_ms ^ n ^ (uint64_t)(unsigned char)l[n - 1].value[0];
	s->n++;
	return TS_OK;
}

/* CPU time of this thread: the build machine is shared, wall time is too noisy. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_gz(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		int got = gzread(f, buf + n, (unsigned)(cap - n));
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	gzclose(f);
	*len = n;
	return buf;
}

static void report(const char *what, size_t samples, size_t bytes, double secs)
{
	printf("%-27s %9zu samples %8.1f MB  %7.3f s  %6.2f M samples/s  %7.1f MB/s  %6.1f "
	       "ns/sample\n",
	       what, samples, (double)bytes / 1e6, secs, (double)samples / secs / 1e6,
	       (double)bytes / secs / 1e6, secs * 1e9 / (double)samples);
}

/* ---------------------------------------------------------------- sample store */

typedef struct sample_store {
	ts_label *labels; /* n_labels[i] labels per sample, concatenated */
	size_t *first;    /* index of sample i's first label */
	size_t *n_labels;
	int64_t *t;
	double *v;
	char *strings;
	size_t n, cap, n_lab, lab_cap, str_len, str_cap;
} sample_store;

static int store_fn(void *ctx, const ts_label *l, size_t n, int64_t t_ms, double v)
{
	sample_store *s = ctx;
	if (s->n == s->cap || s->n_lab + n > s->lab_cap)
		return TS_ELIMIT;
	s->first[s->n] = s->n_lab;
	s->n_labels[s->n] = n;
	for (size_t i = 0; i < n; i++) {
		size_t ln = strlen(l[i].name) + 1, lv = strlen(l[i].value) + 1;
		if (s->str_len + ln + lv > s->str_cap)
			return TS_ELIMIT;
		char *p = s->strings + s->str_len;
		memcpy(p, l[i].name, ln);
		memcpy(p + ln, l[i].value, lv);
		s->str_len += ln + lv;
		/* Offsets for now; turned into pointers once strings stop moving. */
		s->labels[s->n_lab].name = (const char *)(uintptr_t)(p - s->strings);
		s->labels[s->n_lab].value = (const char *)(uintptr_t)(p + ln - s->strings);
		s->n_lab++;
	}
	s->t[s->n] = t_ms;
	s->v[s->n] = v;
	s->n++;
	return TS_OK;
}

typedef struct ts_idx {
	int64_t t;
	size_t i;
} ts_idx;

static int ts_idx_cmp(const void *a, const void *b)
{
	const ts_idx *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/data";
	size_t batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	int reps = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
	if (batch == 0 || reps <= 0) {
		fprintf(stderr, "usage: bench_parsers [DATA_DIR [batch [reps]]]\n");
		return 2;
	}
	char path[1024];
	size_t prom_len, om_len;
	snprintf(path, sizeof(path), "%s/node_exporter/node_exporter_scrape.prom", dir);
	char *prom = read_gz(path, &prom_len);
	snprintf(path, sizeof(path), "%s/node_exporter/node_exporter_10m.om.gz", dir);
	char *om = read_gz(path, &om_len);
	if (!prom || !om) {
		fprintf(stderr, "bench_parsers: cannot read the node_exporter files under %s\n",
			dir);
		return 1;
	}
	ts_err err = {0};
	bench_sink sink = {0, 0};

	/* Exposition 0.0.4: one scrape, many times. */
	int n_scrapes = 2000;
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		for (int i = 0; i < n_scrapes; i++) {
			if (ingest_exposition_parse(prom, prom_len, INGEST_EXPO_TEXT_004, 0,
						    1795231500004LL, NULL, count_fn, NULL, &sink,
						    NULL, &err) != TS_OK) {
				fprintf(stderr, "0.0.4: %s\n", err.msg);
				return 1;
			}
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
	}
	report("exposition/0.0.4", 507 * (size_t)n_scrapes, prom_len * (size_t)n_scrapes, best);

	/* OpenMetrics: the whole 10-minute file. */
	best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		ingest_expo_result res;
		if (ingest_exposition_parse(om, om_len, INGEST_EXPO_OPENMETRICS, 0, 0, NULL,
					    count_fn, NULL, &sink, &res, &err) != TS_OK) {
			fprintf(stderr, "om: %s\n", err.msg);
			return 1;
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
	}
	report("exposition/om", 304200, om_len, best);

	/* Collect the samples, then build remote write requests like Prometheus does. */
	sample_store st = {0};
	st.cap = 310000;
	st.lab_cap = st.cap * 12;
	st.str_cap = (size_t)256 << 20;
	st.labels = malloc(st.lab_cap * sizeof(*st.labels));
	st.first = malloc(st.cap * sizeof(size_t));
	st.n_labels = malloc(st.cap * sizeof(size_t));
	st.t = malloc(st.cap * sizeof(int64_t));
	st.v = malloc(st.cap * sizeof(double));
	st.strings = malloc(st.str_cap);
	if (!st.labels || !st.first || !st.n_labels || !st.t || !st.v || !st.strings)
		return 1;
	if (ingest_exposition_parse(om, om_len, INGEST_EXPO_OPENMETRICS, 0, 0, NULL, store_fn, NULL,
				    &st, NULL, &err) != TS_OK) {
		fprintf(stderr, "collect: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < st.n_lab; i++) {
		st.labels[i].name = st.strings + (uintptr_t)st.labels[i].name;
		st.labels[i].value = st.strings + (uintptr_t)st.labels[i].value;
	}
	/* Time order, like a sender's WAL (the file is series-major): stable sort by t. */
	ts_idx *ti = malloc(st.n * sizeof(*ti));
	size_t *order = malloc(st.n * sizeof(size_t));
	ingest_rw_series *ser = malloc(batch * sizeof(*ser));
	size_t n_req = (st.n + batch - 1) / batch;
	ts_buf *reqs = calloc(n_req, sizeof(ts_buf));
	if (!ti || !order || !ser || !reqs)
		return 1;
	for (size_t i = 0; i < st.n; i++)
		ti[i] = (ts_idx){st.t[i], i};
	qsort(ti, st.n, sizeof(*ti), ts_idx_cmp);
	for (size_t i = 0; i < st.n; i++)
		order[i] = ti[i].i;
	free(ti);
	size_t wire = 0;
	best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		wire = 0;
		for (size_t q = 0; q < n_req; q++) {
			size_t lo = q * batch, hi = lo + batch < st.n ? lo + batch : st.n;
			for (size_t j = lo; j < hi; j++) {
				size_t i = order[j];
				ser[j - lo] = (ingest_rw_series){
				    &st.labels[st.first[i]], st.n_labels[i], &st.t[i], &st.v[i], 1};
			}
			ts_buf_free(&reqs[q]);
			ts_buf_init(&reqs[q], (size_t)64 << 20);
			if (ingest_remote_write_encode(ser, hi - lo, NULL, 0, &reqs[q], &err) !=
			    TS_OK) {
				fprintf(stderr, "encode: %s\n", err.msg);
				return 1;
			}
			wire += reqs[q].len;
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
	}
	report("remote_write/encode", st.n, wire, best);

	best = 1e30;
	size_t raw = 0;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		raw = 0;
		for (size_t q = 0; q < n_req; q++) {
			ingest_rw_result res;
			if (ingest_remote_write_decode(reqs[q].data, reqs[q].len, NULL, count_fn,
						       &sink, &res, &err) != TS_OK) {
				fprintf(stderr, "decode: %s\n", err.msg);
				return 1;
			}
			raw += res.decompressed_bytes;
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
	}
	report("remote_write/decode", st.n, wire, best);

	ingest_rw_pool *pool;
	if (ingest_rw_pool_new(&pool, &err) != TS_OK)
		return 1;
	ingest_rw_options ro = {.scratch = ingest_rw_pool_get(pool)};
	best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		for (size_t q = 0; q < n_req; q++) {
			if (ingest_remote_write_decode_ex(reqs[q].data, reqs[q].len, &ro, NULL,
							  count_fn, &sink, NULL, &err) != TS_OK) {
				fprintf(stderr, "decode: %s\n", err.msg);
				return 1;
			}
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
	}
	report("remote_write/decode+scratch", st.n, wire, best);
	ingest_rw_pool_put(pool, ro.scratch);
	ingest_rw_pool_free(pool);

	/* The protobuf step alone: hand decoder vs protobuf-c on the decompressed bytes. */
	char **pbs = calloc(n_req, sizeof(char *));
	char **work = calloc(n_req, sizeof(char *));
	size_t *pb_len = calloc(n_req, sizeof(size_t));
	if (!pbs || !work || !pb_len)
		return 1;
	for (size_t q = 0; q < n_req; q++) {
		snappy_uncompressed_length(reqs[q].data, reqs[q].len, &pb_len[q]);
		pbs[q] = malloc(pb_len[q] + 1);
		work[q] = malloc(pb_len[q] + 1);
		if (!pbs[q] || !work[q] ||
		    snappy_uncompress(reqs[q].data, reqs[q].len, pbs[q], &pb_len[q]) != SNAPPY_OK)
			return 1;
	}
	ingest_pb_write_request pr;
	ingest_pb_write_request_init(&pr, (size_t)1 << 30);
	best = 1e30;
	for (int r = 0; r < reps; r++) {
		for (size_t q = 0; q < n_req; q++) /* the decoder terminates strings in place */
			memcpy(work[q], pbs[q], pb_len[q]);
		double t0 = now_s();
		for (size_t q = 0; q < n_req; q++) {
			if (ingest_pb_write_request_decode(&pr, work[q], pb_len[q], &err) !=
			    TS_OK) {
				fprintf(stderr, "pb decode: %s\n", err.msg);
				return 1;
			}
			sink.check += pr.n_samples;
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
	}
	report("remote_write/pb-hand", st.n, raw, best);
	ingest_pb_write_request_fini(&pr);
	best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		for (size_t q = 0; q < n_req; q++) {
			Prometheus__WriteRequest *wr = prometheus__write_request__unpack(
			    NULL, pb_len[q], (const uint8_t *)pbs[q]);
			if (!wr)
				return 1;
			sink.check += wr->n_timeseries;
			prometheus__write_request__free_unpacked(wr, NULL);
		}
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
	}
	report("remote_write/pb-protobuf-c", st.n, raw, best);
	for (size_t q = 0; q < n_req; q++) {
		free(pbs[q]);
		free(work[q]);
	}
	free(pbs);
	free(work);
	free(pb_len);
	printf("remote write: %zu requests of <= %zu samples, %.1f MB snappy, %.1f MB protobuf\n",
	       n_req, batch, (double)wire / 1e6, (double)raw / 1e6);
	printf("(checksum %016llx)\n", (unsigned long long)sink.check);

	for (size_t q = 0; q < n_req; q++)
		ts_buf_free(&reqs[q]);
	free(reqs);
	free(ser);
	free(order);
	free(st.labels);
	free(st.first);
	free(st.n_labels);
	free(st.t);
	free(st.v);
	free(st.strings);
	free(prom);
	free(om);
	return 0;
}
