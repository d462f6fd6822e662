/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_codec.c: Gorilla chunk codec benchmark: bits per sample and encode/decode speed.
 *
 * Usage: bench_codec [--quick] [path/to/node_exporter_10m.om.gz]
 * (default path: STRATA_SHARED_DATA/node_exporter/node_exporter_10m.om.gz when built
 * with that definition, else ../shared/data/... relative to the working directory).
 *
 * Datasets: the real node_exporter capture (OpenMetrics text, gzip, read with zlib and
 * grouped per series by the text before the value) and three synthetic sets from a
 * fixed seed: 15 s gauges with ms jitter, 10 s counters, and random 64-bit values (the
 * incompressible worst case). Every series is cut into chunks as the head does: a new
 * chunk on TS_EFULL (120 samples or a 2 h span), buffers of TSDB_CHUNK_MAX_BYTES.
 *
 * Reported per dataset:
 * - bits/sample split exactly into timestamps, values, chunk header and byte padding.
 *   The timestamp and value codes are independent, so each part is measured by
 *   re-encoding with the other part held trivial (constant value: 64 + 1 bit per later
 *   sample; constant 1 ms steps: 6 + 1 bit per later sample) and subtracting that
 *   known cost.
 * - a model of Prometheus' XOR chunk on the same samples (2-byte count, varint first
 *   timestamp, uvarint first delta, dod buckets 14/17/20/64 bits, always-reuse XOR
 *   windows; REFERENCES.md section 2): a size estimate, not Prometheus' code.
 * - encode: samples/s appending every sample (one core, one thread).
 * - decode: samples/s with tsdb_chunk_iter_read (batch) and tsdb_chunk_iter_next.
 * Each speed is the best and the median of 11 runs of at least ~0.1 s of thread CPU
 * time (so: per core). Decoded output is checked bit-for-bit against the input once
 * before timing.
 *
 * Not run by ctest (STYLE.md section 10). Links tsdb, common and zlib.
 */
#include "common/common.h"
#include "tsdb/chunk.h"
#include "tsdb/gorilla.h"

#include <zlib.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef STRATA_SHARED_DATA
#define STRATA_SHARED_DATA "../shared/data"
#endif

#define SPAN_MS 7200000 /* 2 h, the head's chunk range */

/* -------------------------------------------------------------------------------------
 * Datasets
 * ---------------------------------------------------------------------------------- */

typedef struct series {
	int64_t *t;
	double *v;
	size_t n, cap;
} series;

typedef struct dataset {
	char name[64];
	series *s;
	size_t n_series, cap_series;
	size_t n_samples;
} dataset;

static void die(const char *what)
{
	fprintf(stderr, "bench_codec: %s\n", what);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = ts_realloc(p, n);
	if (!q)
		die("out of memory");
	return q;
}

static series *add_series(dataset *d)
{
	if (d->n_series == d->cap_series) {
		d->cap_series = d->cap_series ? d->cap_series * 2 : 64;
		d->s = xrealloc(d->s, d->cap_series * sizeof(*d->s));
	}
	series *s = &d->s[d->n_series++];
	memset(s, 0, sizeof(*s));
	return s;
}

static void push(dataset *d, series *s, int64_t t, double v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->t = xrealloc(s->t, s->cap * sizeof(*s->t));
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->t[s->n] = t;
	s->v[s->n] = v;
	s->n++;
	d->n_samples++;
}

static void dataset_free(dataset *d)
{
	for (size_t i = 0; i < d->n_series; i++) {
		ts_free(d->s[i].t);
		ts_free(d->s[i].v);
	}
	ts_free(d->s);
	memset(d, 0, sizeof(*d));
}

/* Series key -> index, open addressing; keys are owned copies. */
typedef struct key_table {
	char **keys;
	size_t *idx;
	size_t cap, n;
} key_table;

static size_t key_lookup(key_table *kt, dataset *d, const char *key, size_t len)
{
	if (kt->n * 2 >= kt->cap) {
		key_table nt = {0};
		nt.cap = kt->cap ? kt->cap * 2 : 1024;
		nt.keys = ts_calloc(nt.cap, sizeof(*nt.keys));
		nt.idx = ts_calloc(nt.cap, sizeof(*nt.idx));
		if (!nt.keys || !nt.idx)
			die("out of memory");
		for (size_t i = 0; i < kt->cap; i++) {
			if (!kt->keys[i])
				continue;
			size_t h = ts_hash64(kt->keys[i], strlen(kt->keys[i]), 0) & (nt.cap - 1);
			while (nt.keys[h])
				h = (h + 1) & (nt.cap - 1);
			nt.keys[h] = kt->keys[i];
			nt.idx[h] = kt->idx[i];
		}
		ts_free(kt->keys);
		ts_free(kt->idx);
		nt.n = kt->n;
		*kt = nt;
	}
	size_t h = ts_hash64(key, len, 0) & (kt->cap - 1);
	while (kt->keys[h]) {
		if (strlen(kt->keys[h]) == len && memcmp(kt->keys[h], key, len) == 0)
			return kt->idx[h];
		h = (h + 1) & (kt->cap - 1);
	}
	kt->keys[h] = ts_strndup(key, len);
	if (!kt->keys[h])
		die("out of memory");
	kt->idx[h] = d->n_series;
	kt->n++;
	add_series(d);
	return kt->idx[h];
}

static void key_table_free(key_table *kt)
{
	for (size_t i = 0; i < kt->cap; i++)
		ts_free(kt->keys[i]);
	ts_free(kt->keys);
	ts_free(kt->idx);
}

/* "1795231500.004" -> 1795231500004 (exact; up to 3 decimals). */
static int parse_ts_ms(const char *p, const char *end, int64_t *out)
{
	int64_t sec = 0, ms = 0;
	int digits = 0, frac = 0;
	bool neg = false;
	if (p < end && *p == '-')
		neg = true, p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
		sec = sec * 10 + (*p - '0');
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			if (frac < 3)
				ms = ms * 10 + (*p - '0'), frac++;
	}
	if (p != end || digits == 0 || digits > 15)
		return -1;
	for (; frac < 3; frac++)
		ms *= 10;
	*out = (neg ? -1 : 1) * (sec * 1000 + ms);
	return 0;
}

/* Lines `series value timestamp`; the series text may contain spaces (label values),
 * value and timestamp never do, so split at the last two spaces. */
static int load_openmetrics(const char *path, dataset *d)
{
	gzFile f = gzopen(path, "rb");
	if (!f)
		return -1;
	key_table kt = {0};
	char line[65536];
	size_t lineno = 0, bad = 0;
	snprintf(d->name, sizeof(d->name), "node_exporter (real)");
	while (gzgets(f, line, sizeof(line))) {
		lineno++;
		size_t len = strlen(line);
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		char *sp2 = strrchr(line, ' ');
		if (!sp2 || sp2 == line) {
			bad++;
			continue;
		}
		*sp2 = '\0';
		char *sp1 = strrchr(line, ' ');
		if (!sp1) {
			bad++;
			continue;
		}
		int64_t t;
		if (parse_ts_ms(sp2 + 1, line + len, &t) != 0) {
			bad++;
			continue;
		}
		errno = 0;
		char *vend;
		double v = strtod(sp1 + 1, &vend);
		if (vend == sp1 + 1 || *vend != '\0' || errno == ERANGE) {
			bad++;
			continue;
		}
		size_t i = key_lookup(&kt, d, line, (size_t)(sp1 - line));
		series *s = &d->s[i];
		if (s->n && t <= s->t[s->n - 1]) { /* the capture never does this */
			bad++;
			continue;
		}
		push(d, s, t, v);
	}
	gzclose(f);
	key_table_free(&kt);
	if (bad)
		fprintf(stderr, "bench_codec: %zu of %zu lines skipped\n", bad, lineno);
	return 0;
}

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

enum { SYN_GAUGE, SYN_COUNTER, SYN_RANDOM };

static void make_synthetic(dataset *d, int kind, size_t n_series, size_t n_per)
{
	static const char *names[] = {"synthetic gauge 15s+-2ms", "synthetic counter 10s+-5ms",
				      "synthetic random 64-bit 1s"};
	snprintf(d->name, sizeof(d->name), "%s", names[kind]);
	rng_state = 12345 + (uint64_t)kind; /* fixed seeds */
	for (size_t i = 0; i < n_series; i++) {
		series *s = add_series(d);
		int64_t t0 = 1795231500000 + (int64_t)(rnd() % 15000);
		double g = (double)(rnd() % 10000) / 100.0;
		double c = (double)(rnd() % 1000000);
		for (size_t k = 0; k < n_per; k++) {
			int64_t t;
			double v;
			switch (kind) {
			case SYN_GAUGE:
				t = t0 + (int64_t)k * 15000 + (int64_t)(rnd() % 5) - 2;
				g += (double)((int64_t)(rnd() % 201) - 100) / 100.0;
				v = g;
				break;
			case SYN_COUNTER:
				t = t0 + (int64_t)k * 10000 + (int64_t)(rnd() % 11) - 5;
				c += (double)(rnd() % 5000);
				v = c;
				break;
			default: {
				t = t0 + (int64_t)k * 1000;
				uint64_t b = rnd();
				memcpy(&v, &b, sizeof(v));
				break;
			}
			}
			push(d, s, t, v);
		}
	}
}

/* -------------------------------------------------------------------------------------
 * Encoding into chunks
 * ---------------------------------------------------------------------------------- */

typedef struct chunk_ref {
	size_t off, len;
	uint32_t n;
} chunk_ref;

typedef struct encoded {
	uint8_t *arena;
	size_t arena_len, arena_cap;
	chunk_ref *chunks;
	size_t n_chunks, cap_chunks;
	uint64_t stream_bits; /* sum of every chunk's enc.n_bits */
} encoded;

static void keep_chunk(encoded *e, const tsdb_chunk *c)
{
	size_t len = tsdb_chunk_len(c);
	if (e->arena_len + len > e->arena_cap) {
		e->arena_cap = (e->arena_cap + len) * 2;
		e->arena = xrealloc(e->arena, e->arena_cap);
	}
	if (e->n_chunks == e->cap_chunks) {
		e->cap_chunks = e->cap_chunks ? e->cap_chunks * 2 : 1024;
		e->chunks = xrealloc(e->chunks, e->cap_chunks * sizeof(*e->chunks));
	}
	memcpy(e->arena + e->arena_len, tsdb_chunk_bytes(c), len);
	e->chunks[e->n_chunks++] = (chunk_ref){e->arena_len, len, tsdb_chunk_n_samples(c)};
	e->arena_len += len;
	e->stream_bits += c->enc.n_bits;
}

/* How to feed each sample: as is, or with one side made trivial. */
enum { FEED_REAL, FEED_CONST_VALUE, FEED_STEP_TIME };

/*
 * Encode every series into chunks, cutting on TS_EFULL. With keep, the chunks are
 * copied into e; otherwise only the appends run (the timed path) and the count of
 * samples written is returned through a checksum to keep the work observable.
 */
static uint64_t encode_dataset(const dataset *d, int feed, encoded *keep)
{
	static uint8_t buf[TSDB_CHUNK_MAX_BYTES];
	uint64_t check = 0;
	for (size_t i = 0; i < d->n_series; i++) {
		const series *s = &d->s[i];
		tsdb_chunk c;
		if (tsdb_chunk_init(&c, buf, sizeof(buf), SPAN_MS, NULL) != TS_OK)
			die("chunk init");
		for (size_t k = 0; k < s->n; k++) {
			int64_t t = feed == FEED_STEP_TIME ? (int64_t)k : s->t[k];
			double v = feed == FEED_CONST_VALUE ? 0.0 : s->v[k];
			int rc = tsdb_chunk_append(&c, t, v, NULL);
			if (rc == TS_EFULL) {
				if (keep)
					keep_chunk(keep, &c);
				check += tsdb_chunk_len(&c);
				tsdb_chunk_init(&c, buf, sizeof(buf), SPAN_MS, NULL);
				rc = tsdb_chunk_append(&c, t, v, NULL);
			}
			if (rc != TS_OK)
				die("append failed");
		}
		if (tsdb_chunk_n_samples(&c)) {
			if (keep)
				keep_chunk(keep, &c);
			check += tsdb_chunk_len(&c);
		}
	}
	return check;
}

static void encoded_free(encoded *e)
{
	ts_free(e->arena);
	ts_free(e->chunks);
	memset(e, 0, sizeof(*e));
}

/* -------------------------------------------------------------------------------------
 * Decoding
 * ---------------------------------------------------------------------------------- */

static uint64_t decode_batch(const encoded *e)
{
	int64_t t[TSDB_CHUNK_MAX_SAMPLES];
	double v[TSDB_CHUNK_MAX_SAMPLES];
	uint64_t check = 0;
	for (size_t i = 0; i < e->n_chunks; i++) {
		tsdb_chunk_iter it;
		const chunk_ref *r = &e->chunks[i];
		if (tsdb_chunk_iter_init(&it, e->arena + r->off, r->len, NULL) != TS_OK)
			die("iter init");
		int n = tsdb_chunk_iter_read(&it, t, v, TSDB_CHUNK_MAX_SAMPLES, NULL);
		if (n != (int)r->n)
			die("decode failed");
		uint64_t b;
		memcpy(&b, &v[n - 1], sizeof(b));
		check += (uint64_t)t[n - 1] ^ b;
	}
	return check;
}

static uint64_t decode_next(const encoded *e)
{
	uint64_t check = 0;
	for (size_t i = 0; i < e->n_chunks; i++) {
		tsdb_chunk_iter it;
		const chunk_ref *r = &e->chunks[i];
		if (tsdb_chunk_iter_init(&it, e->arena + r->off, r->len, NULL) != TS_OK)
			die("iter init");
		int64_t t;
		double v;
		int rc;
		while ((rc = tsdb_chunk_iter_next(&it, &t, &v, NULL)) == 1) {
			uint64_t b;
			memcpy(&b, &v, sizeof(b));
			check += (uint64_t)t ^ b;
		}
		if (rc != 0)
			die("decode failed");
	}
	return check;
}

/* Decode everything once and compare with the input, bit for bit. */
static void verify(const dataset *d, const encoded *e)
{
	size_t ci = 0;
	for (size_t i = 0; i < d->n_series; i++) {
		const series *s = &d->s[i];
		size_t k = 0;
		while (k < s->n) {
			if (ci >= e->n_chunks)
				die("verify: missing chunks");
			const chunk_ref *r = &e->chunks[ci++];
			tsdb_chunk_iter it;
			if (tsdb_chunk_iter_init(&it, e->arena + r->off, r->len, NULL) != TS_OK)
				die("verify: iter init");
			int64_t t;
			double v;
			while (tsdb_chunk_iter_next(&it, &t, &v, NULL) == 1) {
				if (k >= s->n || t != s->t[k] ||
				    memcmp(&v, &s->v[k], sizeof(v)) != 0)
					die("verify: sample mismatch");
				k++;
			}
		}
	}
	if (ci != e->n_chunks)
		die("verify: extra chunks");
}

/* -------------------------------------------------------------------------------------
 * Prometheus XOR chunk size model (REFERENCES.md section 2)
 * ---------------------------------------------------------------------------------- */

static unsigned uvarint_len(uint64_t x)
{
	unsigned n = 1;
	while (x >= 0x80)
		x >>= 7, n++;
	return n;
}

static uint64_t prom_xor_bits(uint64_t prev, uint64_t cur, int *lead, int *trail)
{
	uint64_t x = prev ^ cur;
	if (!x)
		return 1;
	int l = __builtin_clzll(x), t = __builtin_ctzll(x);
	if (l > 31)
		l = 31;
	if (*lead != -1 && l >= *lead && t >= *trail)
		return 2 + (uint64_t)(64 - *lead - *trail);
	*lead = l;
	*trail = t;
	return 2 + 5 + 6 + (uint64_t)(64 - l - t);
}

/* Bytes of one Prometheus XOR chunk holding s->t/v[from, to). */
static uint64_t prom_chunk_bytes(const series *s, size_t from, size_t to)
{
	uint64_t bits = 0;
	int lead = -1, trail = 0;
	int64_t delta = 0;
	uint64_t prev = 0;
	for (size_t k = from; k < to; k++) {
		uint64_t vb;
		memcpy(&vb, &s->v[k], sizeof(vb));
		if (k == from) {
			uint64_t zz = ((uint64_t)s->t[k] << 1) ^ (uint64_t)(s->t[k] >> 63);
			bits += 8 * uvarint_len(zz) + 64;
		} else if (k == from + 1) {
			delta = s->t[k] - s->t[k - 1];
			bits += 8 * uvarint_len((uint64_t)delta) +
				prom_xor_bits(prev, vb, &lead, &trail);
		} else {
			int64_t dd = s->t[k] - s->t[k - 1];
			int64_t dod = dd - delta;
			delta = dd;
			if (dod == 0)
				bits += 1;
			else if (dod >= -8191 && dod <= 8192)
				bits += 2 + 14;
			else if (dod >= -65535 && dod <= 65536)
				bits += 3 + 17;
			else if (dod >= -524287 && dod <= 524288)
				bits += 4 + 20;
			else
				bits += 4 + 64;
			bits += prom_xor_bits(prev, vb, &lead, &trail);
		}
		prev = vb;
	}
	return 2 + (bits + 7) / 8;
}

/* Same cut points as Strata's chunks (120 samples / 2 h span). */
static uint64_t prom_dataset_bytes(const dataset *d)
{
	uint64_t total = 0;
	for (size_t i = 0; i < d->n_series; i++) {
		const series *s = &d->s[i];
		size_t from = 0;
		for (size_t k = 1; k <= s->n; k++) {
			if (k == s->n || k - from == TSDB_CHUNK_MAX_SAMPLES ||
			    s->t[k] - s->t[from] >= SPAN_MS) {
				total += prom_chunk_bytes(s, from, k);
				from = k;
			}
		}
	}
	return total;
}

/* -------------------------------------------------------------------------------------
 * Timing
 * ---------------------------------------------------------------------------------- */

/*
 * CPU time of this thread, not wall time: the numbers are per core even when other
 * processes share the machine (they still share caches, so keep the machine quiet for
 * publishable numbers). The benchmark is single-threaded.
 */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t sink; /* every result folds in here and is printed: keeps work observable */

typedef uint64_t (*work_fn)(const void *arg);

static uint64_t work_encode(const void *arg)
{
	return encode_dataset(arg, FEED_REAL, NULL);
}

static uint64_t work_decode_batch(const void *arg)
{
	return decode_batch(arg);
}

static uint64_t work_decode_next(const void *arg)
{
	return decode_next(arg);
}

enum { N_RUNS = 11 };

typedef struct speed {
	double best, median; /* samples per second */
} speed;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * Samples per second over N_RUNS runs, each repeating fn for at least ~0.1 s of CPU
 * time (0.03 s quick): the best run (least disturbed by whatever else shares the core
 * and its caches) and the median.
 */
static speed rate(work_fn fn, const void *arg, size_t n_samples, bool quick)
{
	double min_run = quick ? 0.03 : 0.1;
	int reps = 1;
	for (;;) {
		double t0 = now_s();
		for (int r = 0; r < reps; r++)
			sink += fn(arg);
		double dt = now_s() - t0;
		if (dt >= min_run / 2 || reps > (1 << 20))
			break;
		reps *= 2;
	}
	double rates[N_RUNS];
	for (int run = 0; run < N_RUNS; run++) {
		double t0 = now_s();
		for (int r = 0; r < reps; r++)
			sink += fn(arg);
		double dt = (now_s() - t0) / reps;
		rates[run] = (double)n_samples / dt;
	}
	qsort(rates, N_RUNS, sizeof(rates[0]), cmp_double);
	return (speed){rates[N_RUNS - 1], rates[N_RUNS / 2]};
}

/* -------------------------------------------------------------------------------------
 * Report
 * ---------------------------------------------------------------------------------- */

static void run_dataset(const dataset *d, bool quick)
{
	encoded real = {0}, cv = {0}, st = {0};
	encode_dataset(d, FEED_REAL, &real);
	encode_dataset(d, FEED_CONST_VALUE, &cv);
	encode_dataset(d, FEED_STEP_TIME, &st);
	verify(d, &real);

	double n = (double)d->n_samples;
	/* Constant values cost 64 bits per chunk + 1 bit per later sample; 1 ms steps cost
	 * 6 bits for the first delta + 1 bit per later dod (but only chunks of 2+ samples
	 * have deltas). The step-time encoding may cut chunks differently (span), so
	 * subtract per chunk of that encoding. */
	double cv_value_bits = 0, st_time_bits = 0;
	for (size_t i = 0; i < cv.n_chunks; i++)
		cv_value_bits += 64.0 + (double)(cv.chunks[i].n - 1);
	for (size_t i = 0; i < st.n_chunks; i++)
		st_time_bits += st.chunks[i].n > 1 ? 6.0 + (double)(st.chunks[i].n - 2) : 0.0;
	double ts_bits = (double)cv.stream_bits - cv_value_bits;
	double val_bits = (double)st.stream_bits - st_time_bits;
	double hdr_bits = 8.0 * TSDB_CHUNK_HEADER_BYTES * (double)real.n_chunks;
	double pad_bits = 8.0 * (double)real.arena_len - hdr_bits - (double)real.stream_bits;
	double prom_bytes = (double)prom_dataset_bytes(d);

	printf("\n== %s: %zu series, %zu samples, %zu chunks (%.1f samples/chunk)\n", d->name,
	       d->n_series, d->n_samples, real.n_chunks, n / (double)real.n_chunks);
	printf("  bits/sample: timestamps %.3f  values %.3f  header %.3f  padding %.3f  "
	       "= total %.3f (%.3f bytes/sample)\n",
	       ts_bits / n, val_bits / n, hdr_bits / n, pad_bits / n,
	       8.0 * (double)real.arena_len / n, (double)real.arena_len / n);
	printf("  check: timestamps + values = %.0f bits, stream = %llu bits\n", ts_bits + val_bits,
	       (unsigned long long)real.stream_bits);
	printf("  Prometheus XOR chunk model: %.3f bytes/sample (Strata %.1f%% of it)\n",
	       prom_bytes / n, 100.0 * (double)real.arena_len / prom_bytes);
	speed enc = rate(work_encode, d, d->n_samples, quick);
	speed dec_b = rate(work_decode_batch, &real, d->n_samples, quick);
	speed dec_n = rate(work_decode_next, &real, d->n_samples, quick);
	printf("  M samples/s per core, best (median) of %d: encode %.1f (%.1f)   "
	       "decode iter_read %.1f (%.1f)   decode iter_next %.1f (%.1f)\n",
	       N_RUNS, enc.best / 1e6, enc.median / 1e6, dec_b.best / 1e6, dec_b.median / 1e6,
	       dec_n.best / 1e6, dec_n.median / 1e6);
	encoded_free(&real);
	encoded_free(&cv);
	encoded_free(&st);
}

int main(int argc, char **argv)
{
	bool quick = false;
	const char *path = STRATA_SHARED_DATA "/node_exporter/node_exporter_10m.om.gz";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (argv[i][0] == '-')
			die("usage: bench_codec [--quick] [node_exporter_10m.om.gz]");
		else
			path = argv[i];
	}
	printf("bench_codec: chunks of <= %d samples / %d ms span, header %d bytes\n",
	       TSDB_CHUNK_MAX_SAMPLES, SPAN_MS, TSDB_CHUNK_HEADER_BYTES);

	dataset d = {0};
	if (load_openmetrics(path, &d) != 0) {
		fprintf(stderr, "bench_codec: cannot open %s; skipping real data\n", path);
	} else {
		run_dataset(&d, quick);
	}
	dataset_free(&d);

	size_t per = quick ? 1440 : 2880;
	for (int kind = SYN_GAUGE; kind <= SYN_RANDOM; kind++) {
		make_synthetic(&d, kind, 1000, per);
		run_dataset(&d, quick);
		dataset_free(&d);
	}
	printf("\n(checksum %016llx)\n", (unsigned long long)sink);
	return 0;
}
