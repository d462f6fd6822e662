/* SPDX-License-Identifier: Apache-2.0 */
/*
 * block_write.c: writing a block: shared timestamp columns, value columns, index,
 * meta, and the durable rename (layout in block.h and docs/formats/block.md).
 *
 * Pass 1 (tsdb_bw_scan) keys every series' timestamp sequence by a 128-bit hash (two
 * XXH64 with different seeds, plus the length). The second series with a sequence
 * makes it a shared column: encoded and streamed to the chunks file right away, so
 * only the hash table (24 bytes per distinct sequence) stays in memory. Sharing
 * relies on the hash: a false match needs a 128-bit collision.
 *
 * Pass 2 (tsdb_bw_add, series in label order) streams each series' own timestamp
 * column (if its sequence is not shared) and its value columns, split into parts of
 * at most TSDB_BLOCK_PART_MAX samples, each with the best value encoding (colenc.c),
 * and hands labels and parts to the index writer (index.c). finish() writes the
 * index and meta, then makes the block durable: fsync every file (sfile.c), fsync the
 * temporary directory, rename it to its ULID name, fsync the blocks directory. A crash
 * at any point leaves either no block or a complete one (plus a *.tmp directory that
 * db.c removes at open).
 */
#include "tsdb/block.h"

#include "tsdb/colenc.h"
#include "tsdb/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_MAX ((size_t)1 << 40)

/* -------------------------------------------------------------------------------------
 * ULID
 * ---------------------------------------------------------------------------------- */

void tsdb_ulid_new(int64_t ms, uint8_t out[16], char text[TSDB_ULID_LEN + 1])
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint64_t u = (uint64_t)ms;
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)(u >> (40 - 8 * i));
	if (getrandom(out + 6, 10, GRND_NONBLOCK) != 10) {
		/* No entropy yet: mix time and address (uniqueness, not secrecy, matters). */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x =
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)out;
		for (int i = 6; i < 16; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			out[i] = (uint8_t)x;
		}
	}
	/* 128 bits as 26 base-32 digits (the first holds the top 3 bits). */
	for (int i = 0; i < TSDB_ULID_LEN; i++) {
		int bit = i * 5 - 2; /* first bit of digit i, counting the 2 padding bits */
		unsigned v = 0;
		for (int k = 0; k < 5; k++) {
			int b = bit + k;
			unsigned x = b < 0 ? 0 : (out[b / 8] >> (7 - b % 8)) & 1;
			v = v << 1 | x;
		}
		text[i] = alphabet[v];
	}
	text[TSDB_ULID_LEN] = 0;
}

/* -------------------------------------------------------------------------------------
 * Writer state
 * ---------------------------------------------------------------------------------- */

typedef struct seq_ent {
	uint64_t h1, h2; /* 128-bit hash of the timestamps */
	uint32_t n;      /* timestamps; 0 = empty slot */
	uint32_t count;  /* series seen with it in pass 1 */
	int64_t tcol;    /* shared column, or -1 */
} seq_ent;

struct tsdb_bw {
	char *blocks_dir, *tmp_dir;
	uint8_t ulid[16];
	char name[TSDB_ULID_LEN + 1];
	int64_t range_mint, range_maxt;
	tsdb_sfile_w data; /* chunks file, DATA section open */
	uint64_t data_off; /* bytes written to DATA */
	bool is_finished;
	/* pass 1 */
	seq_ent *seqs;
	size_t n_seq_slots, n_seqs;
	/* timestamp columns */
	tsdb_block_tcol *tcols;
	size_t n_tcols, cap_tcols;
	tsdb_ixw *ix; /* index being built (index.c) */
	/* series */
	uint64_t n_series, n_samples;
	int64_t data_mint, data_maxt;
	tsdb_block_part *parts; /* scratch for one series' parts */
	size_t cap_parts;
	/* origin (tsdb_bw_set_origin) */
	uint8_t tier;
	uint64_t resolution_ms;
	uint8_t (*sources)[16]; /* owned */
	size_t n_sources;
	bool has_built;           /* tsdb_bw_set_built */
	uint64_t n_built_samples; /* source samples the rows summarize */
	uint8_t (*built)[16];     /* owned: source blocks */
	size_t n_built;
	/* scratch */
	uint8_t *enc;
	size_t enc_cap;
	int64_t *scratch;
	size_t scratch_cap;
};

static int join(char **out, const char *a, const char *b, ts_err *err)
{
	size_t n = strlen(a) + strlen(b) + 2;
	*out = ts_malloc(n);
	if (!*out)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	snprintf(*out, n, "%s/%s", a, b);
	return TS_OK;
}

static int fsync_dir(const char *path, ts_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ts_err_set(err, TS_EIO, "open %s: %s", path, strerror(errno));
	int rc =
	    fsync(fd) == 0 ? TS_OK : ts_err_set(err, TS_EIO, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int tsdb_bw_new(const char *blocks_dir, int64_t range_mint, int64_t range_maxt, tsdb_bw **out,
		ts_err *err)
{
	if (range_mint > range_maxt)
		return ts_err_set(err, TS_EINVAL, "block range [%lld, %lld] is empty",
				  (long long)range_mint, (long long)range_maxt);
	tsdb_bw *w = ts_calloc(1, sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting a block");
	w->data.fd = -1;
	w->range_mint = range_mint;
	w->range_maxt = range_maxt;
	w->data_mint = INT64_MAX;
	w->data_maxt = INT64_MIN;
	int rc = tsdb_ixw_new(&w->ix, err);
	if (rc) {
		ts_free(w);
		return rc;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	tsdb_ulid_new((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, w->ulid, w->name);
	char tmp_name[TSDB_ULID_LEN + 8];
	snprintf(tmp_name, sizeof(tmp_name), "%s.tmp", w->name);
	char *chunks = NULL;
	if (!(w->blocks_dir = ts_strdup(blocks_dir))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = join(&w->tmp_dir, blocks_dir, tmp_name, err)))
		goto fail;
	if (mkdir(w->tmp_dir, 0755) != 0) {
		rc = ts_err_set(err, TS_EIO, "mkdir %s: %s", w->tmp_dir, strerror(errno));
		ts_free(w->tmp_dir);
		w->tmp_dir = NULL;
		goto fail;
	}
	if ((rc = join(&chunks, w->tmp_dir, "chunks", err)) ||
	    (rc = tsdb_sfile_create(&w->data, chunks, TSDB_BLOCK_MAGIC_CHUNKS, err)) ||
	    (rc = tsdb_sfile_begin(&w->data, TSDB_SEC_DATA, err)))
		goto fail;
	ts_free(chunks);
	*out = w;
	return TS_OK;
fail:
	ts_free(chunks);
	tsdb_bw_free(w);
	return rc;
}

static void remove_tmp(tsdb_bw *w)
{
	static const char *files[] = {"meta", "index", "chunks"};
	char path[4200];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", w->tmp_dir, files[i]);
		unlink(path);
	}
	rmdir(w->tmp_dir);
}

void tsdb_bw_free(tsdb_bw *w)
{
	if (!w)
		return;
	if (w->data.fd >= 0 || w->data.buf)
		tsdb_sfile_abort(&w->data);
	if (!w->is_finished && w->tmp_dir)
		remove_tmp(w);
	tsdb_ixw_free(w->ix);
	ts_free(w->parts);
	ts_free(w->seqs);
	ts_free(w->tcols);
	ts_free(w->enc);
	ts_free(w->scratch);
	ts_free(w->sources);
	ts_free(w->built);
	ts_free(w->blocks_dir);
	ts_free(w->tmp_dir);
	ts_free(w);
}

uint64_t tsdb_bw_n_series(const tsdb_bw *w)
{
	return w->n_series;
}

int tsdb_bw_set_origin(tsdb_bw *w, uint8_t tier, uint64_t resolution_ms,
		       const uint8_t (*sources)[16], size_t n_sources, ts_err *err)
{
	if (tier > TSDB_TIER_1H || n_sources > TSDB_MAX_SOURCES)
		return ts_err_set(err, TS_EINVAL, "block origin: tier %u, %zu sources", tier,
				  n_sources);
	uint8_t(*copy)[16] = NULL;
	if (n_sources) {
		copy = ts_malloc(n_sources * sizeof(*copy));
		if (!copy)
			return ts_err_set(err, TS_ENOMEM, "out of memory listing block sources");
		memcpy(copy, sources, n_sources * sizeof(*copy));
	}
	ts_free(w->sources);
	w->sources = copy;
	w->n_sources = n_sources;
	w->tier = tier;
	w->resolution_ms = resolution_ms;
	return TS_OK;
}

int tsdb_bw_set_built(tsdb_bw *w, uint64_t n_samples, const uint8_t (*ulids)[16], size_t n,
		      ts_err *err)
{
	if (n > TSDB_MAX_SOURCES)
		return ts_err_set(err, TS_EINVAL, "block built from %zu blocks (at most %d)", n,
				  TSDB_MAX_SOURCES);
	uint8_t(*copy)[16] = NULL;
	if (n) {
		copy = ts_malloc(n * sizeof(*copy));
		if (!copy)
			return ts_err_set(err, TS_ENOMEM,
					  "out of memory listing built-from blocks");
		memcpy(copy, ulids, n * sizeof(*copy));
	}
	ts_free(w->built);
	w->built = copy;
	w->n_built = n;
	w->n_built_samples = n_samples;
	w->has_built = true;
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Data section
 * ---------------------------------------------------------------------------------- */

static int ensure_scratch(tsdb_bw *w, size_t n, ts_err *err)
{
	size_t need = tsdb_tcol_max_bytes(n);
	size_t vneed = tsdb_vcol_max_bytes(n < TSDB_BLOCK_PART_MAX ? n : TSDB_BLOCK_PART_MAX);
	need = need > vneed ? need : vneed;
	if (need > w->enc_cap) {
		uint8_t *p = ts_realloc(w->enc, need);
		if (!p)
			return ts_err_set(err, TS_ENOMEM, "out of memory encoding a column");
		w->enc = p;
		w->enc_cap = need;
	}
	if (!w->scratch) {
		w->scratch = ts_malloc(TSDB_BLOCK_PART_MAX * sizeof(*w->scratch));
		if (!w->scratch)
			return ts_err_set(err, TS_ENOMEM, "out of memory encoding a column");
		w->scratch_cap = TSDB_BLOCK_PART_MAX;
	}
	return TS_OK;
}

static int data_write(tsdb_bw *w, const uint8_t *p, size_t n, uint64_t *off, ts_err *err)
{
	*off = w->data_off;
	int rc = tsdb_sfile_write(&w->data, p, n, err);
	if (rc == TS_OK)
		w->data_off += n;
	return rc;
}

/* Encode and write a timestamp column; its index goes to *idx. */
static int write_tcol(tsdb_bw *w, const int64_t *t, size_t n, int64_t *idx, ts_err *err)
{
	size_t len;
	int rc = ensure_scratch(w, n, err);
	if (rc || (rc = tsdb_tcol_encode(t, n, w->enc, w->enc_cap, &len, err)))
		return rc;
	if (w->n_tcols == w->cap_tcols) {
		size_t nc = w->cap_tcols ? w->cap_tcols * 2 : 16;
		tsdb_block_tcol *v = ts_realloc(w->tcols, nc * sizeof(*v));
		if (!v)
			return ts_err_set(err, TS_ENOMEM, "out of memory adding a column");
		w->tcols = v;
		w->cap_tcols = nc;
	}
	tsdb_block_tcol *c = &w->tcols[w->n_tcols];
	if ((rc = data_write(w, w->enc, len, &c->off, err)))
		return rc;
	c->len = len;
	c->n = (uint32_t)n;
	c->mint = t[0];
	c->maxt = t[n - 1];
	*idx = (int64_t)w->n_tcols++;
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Pass 1: shared timestamp sequences
 * ---------------------------------------------------------------------------------- */

static void seq_hash(const int64_t *t, size_t n, uint64_t *h1, uint64_t *h2)
{
	*h1 = ts_hash64(t, n * sizeof(*t), 0x5354424331ull);
	*h2 = ts_hash64(t, n * sizeof(*t), 0x9E3779B97F4A7C15ull) ^ n;
}

static seq_ent *seq_find(tsdb_bw *w, uint64_t h1, uint64_t h2, uint32_t n, bool insert)
{
	if (!w->n_seq_slots)
		return NULL;
	size_t i = h1 & (w->n_seq_slots - 1);
	while (w->seqs[i].n) {
		seq_ent *e = &w->seqs[i];
		if (e->h1 == h1 && e->h2 == h2 && e->n == n)
			return e;
		i = (i + 1) & (w->n_seq_slots - 1);
	}
	if (!insert)
		return NULL;
	seq_ent *e = &w->seqs[i];
	e->h1 = h1;
	e->h2 = h2;
	e->n = n;
	e->count = 0;
	e->tcol = -1;
	w->n_seqs++;
	return e;
}

static int seq_grow(tsdb_bw *w, ts_err *err)
{
	if ((w->n_seqs + 1) * 2 <= w->n_seq_slots)
		return TS_OK;
	size_t nc = w->n_seq_slots ? w->n_seq_slots * 2 : 1024;
	seq_ent *old = w->seqs;
	size_t n_old = w->n_seq_slots;
	w->seqs = ts_calloc(nc, sizeof(*w->seqs));
	if (!w->seqs) {
		w->seqs = old;
		return ts_err_set(err, TS_ENOMEM, "out of memory hashing timestamps");
	}
	w->n_seq_slots = nc;
	w->n_seqs = 0;
	for (size_t i = 0; i < n_old; i++) {
		if (!old[i].n)
			continue;
		seq_ent *e = seq_find(w, old[i].h1, old[i].h2, old[i].n, true);
		*e = old[i];
	}
	ts_free(old);
	return TS_OK;
}

static int check_ts(const tsdb_bw *w, const int64_t *t, size_t n, ts_err *err)
{
	if (n == 0 || n > UINT32_MAX)
		return ts_err_set(err, TS_EINVAL, "block: a series needs 1..2^32-1 samples");
	if (t[0] < w->range_mint || t[n - 1] > w->range_maxt)
		return ts_err_set(err, TS_EINVAL,
				  "block: samples [%lld, %lld] outside [%lld, %lld]",
				  (long long)t[0], (long long)t[n - 1], (long long)w->range_mint,
				  (long long)w->range_maxt);
	for (size_t i = 1; i < n; i++)
		if (t[i] <= t[i - 1])
			return ts_err_set(err, TS_EINVAL, "block: timestamps do not increase");
	return TS_OK;
}

int tsdb_bw_scan(tsdb_bw *w, const int64_t *t, size_t n, ts_err *err)
{
	int rc = check_ts(w, t, n, err);
	if (rc || (rc = seq_grow(w, err)))
		return rc;
	uint64_t h1, h2;
	seq_hash(t, n, &h1, &h2);
	seq_ent *e = seq_find(w, h1, h2, (uint32_t)n, true);
	if (++e->count == 2 && e->tcol < 0)
		return write_tcol(w, t, n, &e->tcol, err);
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Pass 2: series
 * ---------------------------------------------------------------------------------- */

int tsdb_bw_add(tsdb_bw *w, const ts_label *labels, size_t n_labels, const int64_t *t,
		const double *v, size_t n, ts_err *err)
{
	if (w->tier != TSDB_TIER_RAW)
		return ts_err_set(err, TS_EINVAL,
				  "block: raw samples in a rollup block "
				  "(use tsdb_bw_add_rollup)");
	int rc = check_ts(w, t, n, err);
	if (rc || (rc = tsdb_ixw_check(w->ix, labels, n_labels, err)))
		return rc;
	/* Timestamps: the shared column, or one of its own. */
	uint64_t h1, h2;
	seq_hash(t, n, &h1, &h2);
	seq_ent *e = seq_find(w, h1, h2, (uint32_t)n, false);
	int64_t tcol = e ? e->tcol : -1;
	if (tcol < 0 && (rc = write_tcol(w, t, n, &tcol, err)))
		return rc;
	if ((rc = ensure_scratch(w, n, err)))
		return rc;
	size_t n_parts = (n + TSDB_BLOCK_PART_MAX - 1) / TSDB_BLOCK_PART_MAX;
	if (n_parts > w->cap_parts) {
		tsdb_block_part *p = ts_realloc(w->parts, n_parts * sizeof(*p));
		if (!p)
			return ts_err_set(err, TS_ENOMEM, "out of memory adding a series");
		w->parts = p;
		w->cap_parts = n_parts;
	}
	/* Value columns, part by part, right after the series' own timestamps. */
	for (size_t i = 0; i < n_parts; i++) {
		size_t start = i * TSDB_BLOCK_PART_MAX;
		size_t cnt = n - start < TSDB_BLOCK_PART_MAX ? n - start : TSDB_BLOCK_PART_MAX;
		tsdb_block_part *p = &w->parts[i];
		memset(p, 0, sizeof(*p));
		size_t len;
		if ((rc = tsdb_vcol_encode(v + start, cnt, TSDB_VENC_AUTO, w->scratch, w->enc,
					   w->enc_cap, &len, err)) ||
		    (rc = data_write(w, w->enc, len, &p->off, err)))
			return rc;
		p->tcol = (uint32_t)tcol;
		p->start = (uint32_t)start;
		p->n = (uint32_t)cnt;
		p->mint = t[start];
		p->maxt = t[start + cnt - 1];
		p->len = len;
	}
	if ((rc = tsdb_ixw_add(w->ix, labels, n_labels, w->parts, n_parts, err)))
		return rc;
	w->n_series++;
	w->n_samples += n;
	w->data_mint = t[0] < w->data_mint ? t[0] : w->data_mint;
	w->data_maxt = t[n - 1] > w->data_maxt ? t[n - 1] : w->data_maxt;
	return TS_OK;
}

int tsdb_bw_add_rollup(tsdb_bw *w, const ts_label *labels, size_t n_labels, const int64_t *t,
		       const double *const cols[TSDB_COL_N], size_t n, ts_err *err)
{
	if (w->tier == TSDB_TIER_RAW)
		return ts_err_set(err, TS_EINVAL, "block: rollup rows in a raw block");
	int rc = check_ts(w, t, n, err);
	if (rc || (rc = tsdb_ixw_check(w->ix, labels, n_labels, err)))
		return rc;
	uint64_t h1, h2;
	seq_hash(t, n, &h1, &h2);
	seq_ent *e = seq_find(w, h1, h2, (uint32_t)n, false);
	int64_t tcol = e ? e->tcol : -1;
	if (tcol < 0 && (rc = write_tcol(w, t, n, &tcol, err)))
		return rc;
	if ((rc = ensure_scratch(w, n, err)))
		return rc;
	size_t n_parts = (n + TSDB_BLOCK_PART_MAX - 1) / TSDB_BLOCK_PART_MAX;
	if (n_parts > w->cap_parts) {
		tsdb_block_part *p = ts_realloc(w->parts, n_parts * sizeof(*p));
		if (!p)
			return ts_err_set(err, TS_ENOMEM, "out of memory adding a series");
		w->parts = p;
		w->cap_parts = n_parts;
	}
	for (size_t i = 0; i < n_parts; i++) {
		size_t start = i * TSDB_BLOCK_PART_MAX;
		size_t cnt = n - start < TSDB_BLOCK_PART_MAX ? n - start : TSDB_BLOCK_PART_MAX;
		tsdb_block_part *p = &w->parts[i];
		memset(p, 0, sizeof(*p));
		for (int k = 1; k < TSDB_COL_N; k++) {
			size_t len;
			if ((rc = tsdb_vcol_encode(cols[k] + start, cnt, TSDB_VENC_AUTO, w->scratch,
						   w->enc, w->enc_cap, &len, err)) ||
			    (rc = data_write(w, w->enc, len, &p->roff[k], err)))
				return rc;
			p->rlen[k] = len;
		}
		p->tcol = (uint32_t)tcol;
		p->start = (uint32_t)start;
		p->n = (uint32_t)cnt;
		p->mint = t[start];
		p->maxt = t[start + cnt - 1];
	}
	if ((rc = tsdb_ixw_add(w->ix, labels, n_labels, w->parts, n_parts, err)))
		return rc;
	w->n_series++;
	w->n_samples += n;
	w->data_mint = t[0] < w->data_mint ? t[0] : w->data_mint;
	w->data_maxt = t[n - 1] > w->data_maxt ? t[n - 1] : w->data_maxt;
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Finish: index and meta
 * ---------------------------------------------------------------------------------- */

static void put_i64(uint8_t *p, int64_t v)
{
	ts_put_u64le(p, (uint64_t)v);
}

int tsdb_bw_finish(tsdb_bw *w, const uint64_t *offsets, uint32_t n_offsets, char **path,
		   ts_err *err)
{
	ts_buf ix[TSDB_IX_N];
	for (int i = 0; i < TSDB_IX_N; i++)
		ts_buf_init(&ix[i], BUF_MAX);
	char *file = NULL, *final = NULL;
	uint8_t *meta = NULL;
	tsdb_sfile_w f;
	memset(&f, 0, sizeof(f));
	f.fd = -1;
	int rc;
	if ((rc = tsdb_sfile_end(&w->data, err)) || (rc = tsdb_sfile_finish(&w->data, err)))
		goto out;
	if ((rc = tsdb_ixw_encode(w->ix, w->tcols, w->n_tcols, ix, err)) ||
	    (rc = join(&file, w->tmp_dir, "index", err)) ||
	    (rc = tsdb_sfile_create(&f, file, TSDB_BLOCK_MAGIC_INDEX, err)))
		goto out;
	for (int i = 0; i < TSDB_IX_N; i++) /* section id i + 1: TSDB_SEC_SYMBOLS .. POSTINGS */
		if ((rc =
			 tsdb_sfile_section(&f, (uint32_t)i + 1, ix[i].data, ix[i].len, true, err)))
			goto out;
	if ((rc = tsdb_sfile_finish(&f, err)))
		goto out;
	ts_free(file);
	file = NULL;
	/* Meta. */
	size_t mlen = TSDB_BLOCK_META_BASE + (size_t)n_offsets * 8;
	meta = ts_calloc(1, mlen);
	if (!meta) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory writing block meta");
		goto out;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	meta[0] = w->tier;
	ts_put_u32le(meta + 4, n_offsets);
	put_i64(meta + 8, w->range_mint);
	put_i64(meta + 16, w->range_maxt);
	put_i64(meta + 24, w->n_series ? w->data_mint : w->range_mint);
	put_i64(meta + 32, w->n_series ? w->data_maxt : w->range_mint);
	ts_put_u64le(meta + 40, w->n_series);
	ts_put_u64le(meta + 48, w->n_samples);
	ts_put_u64le(meta + 56, w->n_tcols);
	ts_put_u64le(meta + 64, w->resolution_ms);
	ts_put_u64le(meta + 72, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	memcpy(meta + 80, w->ulid, 16);
	for (uint32_t i = 0; i < n_offsets; i++)
		ts_put_u64le(meta + TSDB_BLOCK_META_BASE + 8 * i, offsets[i]);
	if ((rc = join(&file, w->tmp_dir, "meta", err)) ||
	    (rc = tsdb_sfile_create(&f, file, TSDB_BLOCK_MAGIC_META, err)) ||
	    (rc = tsdb_sfile_section(&f, TSDB_SEC_META, meta, mlen, false, err)))
		goto out;
	if (w->n_sources) { /* SOURCES: u32 count, then 16-byte ULIDs (compaction) */
		size_t slen = 4 + w->n_sources * 16;
		uint8_t *src = ts_malloc(slen);
		if (!src) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory writing block meta");
			goto out;
		}
		ts_put_u32le(src, (uint32_t)w->n_sources);
		memcpy(src + 4, w->sources, w->n_sources * 16);
		rc = tsdb_sfile_section(&f, TSDB_SEC_SOURCES, src, slen, false, err);
		ts_free(src);
		if (rc)
			goto out;
	}
	if (w->has_built) { /* BUILT: u64 samples, u32 count, then 16-byte ULIDs (tiers) */
		size_t blen = 12 + w->n_built * 16;
		uint8_t *b = ts_malloc(blen);
		if (!b) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory writing block meta");
			goto out;
		}
		ts_put_u64le(b, w->n_built_samples);
		ts_put_u32le(b + 8, (uint32_t)w->n_built);
		if (w->n_built)
			memcpy(b + 12, w->built, w->n_built * 16);
		rc = tsdb_sfile_section(&f, TSDB_SEC_BUILT, b, blen, false, err);
		ts_free(b);
		if (rc)
			goto out;
	}
	if ((rc = tsdb_sfile_finish(&f, err)))
		goto out;
	/* Durable rename. */
	if ((rc = fsync_dir(w->tmp_dir, err)) || (rc = join(&final, w->blocks_dir, w->name, err)))
		goto out;
	if (rename(w->tmp_dir, final) != 0) {
		rc = ts_err_set(err, TS_EIO, "rename %s: %s", w->tmp_dir, strerror(errno));
		goto out;
	}
	w->is_finished = true;
	if ((rc = fsync_dir(w->blocks_dir, err)))
		goto out;
	*path = final;
	final = NULL;
out:
	if (f.fd >= 0 || f.buf)
		tsdb_sfile_abort(&f);
	ts_free(file);
	ts_free(final);
	ts_free(meta);
	for (int i = 0; i < TSDB_IX_N; i++)
		ts_buf_free(&ix[i]);
	return rc;
}
