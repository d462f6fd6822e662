/* SPDX-License-Identifier: Apache-2.0 */
/*
 * block_read.c: opening, verifying and reading blocks (layout in block.h and
 * docs/formats/block.md).
 *
 * Open maps index and chunks read-only (sfile.c checks every CRC and inflates snappy
 * sections), parses meta, and has index.c check the whole index before the block may
 * be used. After that the readers only trust what was checked; column bytes are still
 * decoded with bounds checks (a mapped file can change under us), and a read that
 * finds corruption marks the block bad so db.c quarantines it. Reading samples: a
 * part's timestamps come from its (possibly shared, caller-cached) timestamp column,
 * its values from its own value column (colenc.c).
 *
 * Memory per open block: the symbol pointer array, the timestamp column table, one
 * offset per series, the label index; plus the inflated copies of compressed
 * sections. Column data stays in the page cache.
 */
#include "tsdb/block.h"

#include "tsdb/colenc.h"
#include "tsdb/index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CORRUPT(err, ...) ts_err_set(err, TS_ECORRUPT, __VA_ARGS__)

/* -------------------------------------------------------------------------------------
 * Meta
 * ---------------------------------------------------------------------------------- */

static int64_t get_i64(const uint8_t *p)
{
	uint64_t u = ts_get_u64le(p);
	int64_t v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

int tsdb_block_meta_parse(const uint8_t *p, size_t len, tsdb_block_meta *m, ts_err *err)
{
	memset(m, 0, sizeof(*m));
	if (len < TSDB_BLOCK_META_BASE)
		return CORRUPT(err, "meta: %zu bytes, need %d", len, TSDB_BLOCK_META_BASE);
	uint32_t n_off = ts_get_u32le(p + 4);
	if (n_off > TSDB_MAX_PARTITIONS || len != TSDB_BLOCK_META_BASE + (size_t)n_off * 8)
		return CORRUPT(err, "meta: %zu bytes for %u offsets", len, n_off);
	m->tier = p[0];
	m->range_mint = get_i64(p + 8);
	m->range_maxt = get_i64(p + 16);
	m->data_mint = get_i64(p + 24);
	m->data_maxt = get_i64(p + 32);
	m->n_series = ts_get_u64le(p + 40);
	m->n_samples = ts_get_u64le(p + 48);
	m->n_tcols = ts_get_u64le(p + 56);
	m->resolution_ms = ts_get_u64le(p + 64);
	m->created_ms = ts_get_u64le(p + 72);
	memcpy(m->ulid, p + 80, 16);
	if (m->tier > TSDB_TIER_1H || p[1] || p[2] || p[3])
		return CORRUPT(err, "meta: unknown tier %u or flags", m->tier);
	if (m->range_mint > m->range_maxt)
		return CORRUPT(err, "meta: empty range");
	if (m->n_series && (m->data_mint > m->data_maxt || m->data_mint < m->range_mint ||
			    m->data_maxt > m->range_maxt))
		return CORRUPT(err, "meta: data range outside the block range");
	if (m->n_series > UINT32_MAX || m->n_tcols > UINT32_MAX || m->n_samples < m->n_series)
		return CORRUPT(err, "meta: implausible counts");
	m->n_offsets = n_off;
	if (n_off) {
		m->offsets = ts_malloc(n_off * sizeof(*m->offsets));
		if (!m->offsets)
			return ts_err_set(err, TS_ENOMEM, "out of memory reading meta");
		for (uint32_t i = 0; i < n_off; i++)
			m->offsets[i] = ts_get_u64le(p + TSDB_BLOCK_META_BASE + 8 * i);
	}
	/* The directory name is the ULID in Crockford base32. */
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	for (int i = 0; i < TSDB_ULID_LEN; i++) {
		int bit = i * 5 - 2;
		unsigned v = 0;
		for (int k = 0; k < 5; k++) {
			int b = bit + k;
			v = v << 1 | (b < 0 ? 0 : (m->ulid[b / 8] >> (7 - b % 8)) & 1);
		}
		m->name[i] = alphabet[v];
	}
	m->name[TSDB_ULID_LEN] = 0;
	return TS_OK;
}

void tsdb_block_meta_free(tsdb_block_meta *m)
{
	ts_free(m->offsets);
	m->offsets = NULL;
	m->n_offsets = 0;
	ts_free(m->sources);
	m->sources = NULL;
	m->n_sources = 0;
	ts_free(m->built);
	m->built = NULL;
	m->n_built = 0;
	m->has_built = false;
}

/* The optional BUILT section of a 1m/1h meta file: u64 samples, u32 n, n 16-byte ULIDs. */
static int built_parse(const uint8_t *p, size_t len, tsdb_block_meta *m, ts_err *err)
{
	uint32_t n = len >= 12 ? ts_get_u32le(p + 8) : 0;
	if (len < 12 || n > TSDB_MAX_SOURCES || len != 12 + (size_t)n * 16 || m->tier == 0)
		return CORRUPT(err, "meta: %zu bytes of built-from blocks (tier %u)", len, m->tier);
	if (n) {
		m->built = ts_malloc((size_t)n * sizeof(*m->built));
		if (!m->built)
			return ts_err_set(err, TS_ENOMEM, "out of memory reading meta");
		memcpy(m->built, p + 12, (size_t)n * 16);
	}
	m->n_built = n;
	m->n_built_samples = ts_get_u64le(p);
	m->has_built = true;
	return TS_OK;
}

/* The optional SOURCES section of the meta file: u32 n, then n 16-byte ULIDs. */
static int sources_parse(const uint8_t *p, size_t len, tsdb_block_meta *m, ts_err *err)
{
	uint32_t n = len >= 4 ? ts_get_u32le(p) : 0;
	if (len < 4 || n == 0 || n > TSDB_MAX_SOURCES || len != 4 + (size_t)n * 16)
		return CORRUPT(err, "meta: %zu bytes of sources", len);
	m->sources = ts_malloc((size_t)n * sizeof(*m->sources));
	if (!m->sources)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading meta");
	memcpy(m->sources, p + 4, (size_t)n * 16);
	m->n_sources = n;
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Index parsing
 * ---------------------------------------------------------------------------------- */

static void block_free(tsdb_block *b)
{
	tsdb_sfile_close(&b->fi);
	tsdb_sfile_close(&b->fc);
	tsdb_block_meta_free(&b->meta);
	ts_free(b->syms);
	ts_free(b->tcols);
	ts_free(b->ser_off);
	ts_free(b->names);
	ts_free(b->vals);
	ts_free(b->dir);
	ts_free(b);
}

/* Everything after the three files are mapped and CRC-checked. */
static int parse_all(tsdb_block *b, const tsdb_sfile *fm, ts_err *err)
{
	const tsdb_sfile_sec *m = tsdb_sfile_get(fm, TSDB_SEC_META);
	const tsdb_sfile_sec *da = tsdb_sfile_get(&b->fc, TSDB_SEC_DATA);
	if (!m || !da)
		return CORRUPT(err, "a required section is missing");
	const tsdb_sfile_sec *src = tsdb_sfile_get(fm, TSDB_SEC_SOURCES);
	const tsdb_sfile_sec *bu = tsdb_sfile_get(fm, TSDB_SEC_BUILT);
	int rc = tsdb_block_meta_parse(m->data, m->len, &b->meta, err);
	if (rc || (src && (rc = sources_parse(src->data, src->len, &b->meta, err))) ||
	    (bu && (rc = built_parse(bu->data, bu->len, &b->meta, err))))
		return rc;
	b->data = da->data;
	b->data_len = da->len;
	return tsdb_index_parse(b, &b->fi, err);
}

int tsdb_block_open(const char *path, tsdb_block **out, ts_err *err)
{
	tsdb_block *b = ts_calloc(1, sizeof(*b));
	if (!b)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening a block");
	atomic_init(&b->refs, 1);
	atomic_init(&b->is_bad, false);
	atomic_init(&b->fresh_sig, 0);
	atomic_init(&b->stale_sig, 0);
	tsdb_sfile fm;
	memset(&fm, 0, sizeof(fm));
	size_t n = strlen(path) + 16;
	char *file = ts_malloc(n);
	int rc;
	if (!file || !(b->dir = ts_strdup(path))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory opening a block");
		goto fail;
	}
	snprintf(file, n, "%s/meta", path);
	if ((rc = tsdb_sfile_open(&fm, file, TSDB_BLOCK_MAGIC_META, err)))
		goto fail;
	snprintf(file, n, "%s/index", path);
	if ((rc = tsdb_sfile_open(&b->fi, file, TSDB_BLOCK_MAGIC_INDEX, err)))
		goto fail;
	snprintf(file, n, "%s/chunks", path);
	if ((rc = tsdb_sfile_open(&b->fc, file, TSDB_BLOCK_MAGIC_CHUNKS, err)))
		goto fail;
	if ((rc = parse_all(b, &fm, err))) {
		ts_err_prefix(err, "block %s: ", path);
		goto fail;
	}
	b->size_bytes = fm.size + b->fi.size + b->fc.size;
	tsdb_sfile_close(&fm);
	ts_free(file);
	*out = b;
	return TS_OK;
fail:
	tsdb_sfile_close(&fm);
	ts_free(file);
	block_free(b);
	return rc;
}

int tsdb_block_open_mem(const uint8_t *meta, size_t meta_len, const uint8_t *index,
			size_t index_len, const uint8_t *chunks, size_t chunks_len,
			tsdb_block **out, ts_err *err)
{
	tsdb_block *b = ts_calloc(1, sizeof(*b));
	if (!b)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening a block");
	atomic_init(&b->refs, 1);
	atomic_init(&b->is_bad, false);
	atomic_init(&b->fresh_sig, 0);
	atomic_init(&b->stale_sig, 0);
	tsdb_sfile fm;
	int rc;
	memset(&fm, 0, sizeof(fm));
	if ((rc = tsdb_sfile_open_mem(&fm, meta, meta_len, TSDB_BLOCK_MAGIC_META, err)) ||
	    (rc = tsdb_sfile_open_mem(&b->fi, index, index_len, TSDB_BLOCK_MAGIC_INDEX, err)) ||
	    (rc = tsdb_sfile_open_mem(&b->fc, chunks, chunks_len, TSDB_BLOCK_MAGIC_CHUNKS, err)) ||
	    (rc = parse_all(b, &fm, err))) {
		tsdb_sfile_close(&fm);
		block_free(b);
		return rc;
	}
	b->size_bytes = meta_len + index_len + chunks_len;
	tsdb_sfile_close(&fm);
	*out = b;
	return TS_OK;
}

void tsdb_block_acquire(tsdb_block *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

int tsdb_block_quarantine(const char *block_dir, ts_err *err)
{
	/* block_dir is <root>/blocks/<name>: move it to <root>/quarantine/<name>. */
	const char *slash = strrchr(block_dir, '/');
	if (!slash)
		return ts_err_set(err, TS_EINVAL, "bad block path %s", block_dir);
	size_t parent_len = (size_t)(slash - block_dir);
	const char *up = NULL;
	for (size_t i = parent_len; i-- > 0;)
		if (block_dir[i] == '/') {
			up = block_dir + i;
			break;
		}
	size_t root_len = up ? (size_t)(up - block_dir) : 0;
	size_t n = root_len + strlen(slash) + 16;
	char *qdir = ts_malloc(n), *dest = ts_malloc(n);
	int rc = TS_OK;
	if (!qdir || !dest) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(qdir, n, "%.*s%squarantine", (int)root_len, block_dir, root_len ? "/" : "");
	snprintf(dest, n, "%s%s", qdir, slash);
	if (mkdir(qdir, 0755) != 0 && errno != EEXIST) {
		rc = ts_err_set(err, TS_EIO, "mkdir %s: %s", qdir, strerror(errno));
		goto out;
	}
	if (rename(block_dir, dest) != 0)
		rc = ts_err_set(err, TS_EIO, "rename %s to %s: %s", block_dir, dest,
				strerror(errno));
out:
	ts_free(qdir);
	ts_free(dest);
	return rc;
}

void tsdb_block_release(tsdb_block *b)
{
	if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	bool is_bad = atomic_load(&b->is_bad);
	char *dir = b->dir;
	b->dir = NULL;
	block_free(b);
	if (dir && is_bad) {
		ts_err e = {0};
		if (tsdb_block_quarantine(dir, &e) == TS_OK)
			ts_log_error("block %s is corrupt, moved to quarantine", dir);
		else
			ts_log_error("block %s is corrupt; quarantine failed: %s", dir, e.msg);
	}
	ts_free(dir);
}

/* -------------------------------------------------------------------------------------
 * Postings and selection
 * ---------------------------------------------------------------------------------- */

static void mark_bad(tsdb_block *b)
{
	atomic_store(&b->is_bad, true);
}

/* -------------------------------------------------------------------------------------
 * Samples
 * ---------------------------------------------------------------------------------- */

int tsdb_block_tcol_read(tsdb_block *b, uint32_t i, int64_t *t, ts_err *err)
{
	if (TS_NEVER(i >= b->n_tcols))
		return ts_err_set(err, TS_EINVAL, "no column %u", i);
	const tsdb_block_tcol *c = &b->tcols[i];
	int rc = tsdb_tcol_decode(b->data + c->off, c->len, c->n, t, err);
	if (rc == TS_OK && (t[0] != c->mint || t[c->n - 1] != c->maxt))
		rc = CORRUPT(err, "tcol: bounds differ from the index");
	if (rc) {
		mark_bad(b);
		ts_err_prefix(err, "block %s: ", b->meta.name);
	}
	return rc;
}

int tsdb_block_read_part(tsdb_block *b, const tsdb_block_part *p, const int64_t *tcol_ts,
			 int64_t mint, int64_t maxt, tsdb_samples *out, ts_err *err)
{
	if (p->maxt < mint || p->mint > maxt)
		return TS_OK;
	if (!p->len)
		return ts_err_set(err, TS_EINVAL, "block %s: samples read from a rollup part",
				  b->meta.name);
	const tsdb_block_tcol *c = &b->tcols[p->tcol];
	int64_t *own = NULL;
	double *v = ts_malloc(p->n * sizeof(*v));
	int rc = TS_OK;
	if (!v || (!tcol_ts && !(own = ts_malloc(c->n * sizeof(*own))))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory reading a block");
		goto out;
	}
	if (!tcol_ts) {
		if ((rc = tsdb_block_tcol_read(b, p->tcol, own, err)))
			goto out;
		tcol_ts = own;
	}
	const int64_t *t = tcol_ts + p->start;
	if (t[0] != p->mint || t[p->n - 1] != p->maxt) {
		mark_bad(b);
		rc = CORRUPT(err, "block %s: part bounds differ from its column", b->meta.name);
		goto out;
	}
	if ((rc = tsdb_vcol_decode(b->data + p->off, p->len, p->n, v, err))) {
		mark_bad(b);
		ts_err_prefix(err, "block %s: ", b->meta.name);
		goto out;
	}
	if ((rc = tsdb_samples_reserve(out, p->n, err)))
		goto out;
	for (uint32_t i = 0; i < p->n; i++) {
		if (t[i] < mint || t[i] > maxt)
			continue;
		out->t[out->n] = t[i];
		out->v[out->n++] = v[i];
	}
out:
	ts_free(own);
	ts_free(v);
	return rc;
}

int tsdb_block_read_rollup_col(tsdb_block *b, const tsdb_block_part *p, int kind, double *v,
			       ts_err *err)
{
	if (kind <= TSDB_COL_RAW || kind >= TSDB_COL_N || !p->rlen[kind]) {
		mark_bad(b);
		return CORRUPT(err, "block %s: part lacks rollup column %d", b->meta.name, kind);
	}
	int rc = tsdb_vcol_decode(b->data + p->roff[kind], p->rlen[kind], p->n, v, err);
	if (rc) {
		mark_bad(b);
		ts_err_prefix(err, "block %s: ", b->meta.name);
	}
	return rc;
}

int tsdb_block_read_series(tsdb_block *b, uint32_t id, int64_t mint, int64_t maxt,
			   tsdb_samples *out, ts_err *err)
{
	tsdb_block_part *parts = NULL;
	size_t n = 0;
	int rc = tsdb_block_series(b, id, NULL, NULL, &parts, &n, err);
	for (size_t i = 0; rc == TS_OK && i < n; i++)
		rc = tsdb_block_read_part(b, &parts[i], NULL, mint, maxt, out, err);
	ts_free(parts);
	return rc;
}
