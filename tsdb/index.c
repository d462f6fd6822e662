/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index.c: the block index: building the five index sections, and parsing, verifying
 * and querying them (layout in docs/formats/block.md section 5 and index.h).
 *
 * Building: series arrive in label order. Their entries are kept encoded with
 * writer-local string ids (about 20 bytes per series) and their label pairs' postings
 * as id lists; tsdb_ixw_encode() sorts the strings into the symbol table, transcodes
 * the entries to symbol ids, and writes the label index (names and values sorted) and
 * the postings (first id, then gaps).
 *
 * Parsing: every byte is input (STYLE 4). tsdb_index_parse() checks symbols (NUL-
 * terminated, strictly sorted), the timestamp column table (inside DATA, bounds
 * consistent with counts), every series entry (labels in range, names strictly
 * increasing, parts in time order inside their columns, a raw column in a raw block,
 * every rollup column in a 1m/1h block), the label
 * index (sorted, postings references inside POSTINGS) and the counts against meta.
 * Postings lists are checked as they are decoded (strictly increasing, below
 * n_series); a failure marks the block bad.
 *
 * Querying: label-pair postings and Prometheus' matcher algorithm (postings.c) over
 * the label index; series decode; exact lookup by label set; label names and values of
 * the series with parts in a time range (tsdb_block_labels_in_range: postings lists,
 * parts decoded, labels not).
 */
#include "tsdb/index.h"

#include <string.h>

#define BUF_MAX           ((size_t)1 << 40)
#define CORRUPT(err, ...) ts_err_set(err, TS_ECORRUPT, __VA_ARGS__)

static void mark_bad(tsdb_block *b)
{
	atomic_store(&b->is_bad, true);
}

/* -------------------------------------------------------------------------------------
 * Building
 * ---------------------------------------------------------------------------------- */

typedef struct str_page {
	struct str_page *next;
	size_t used, cap;
	char data[];
} str_page;

typedef struct pair_ent {
	uint32_t name, value; /* local string ids */
	tsdb_plist ids;       /* series ordinals */
} pair_ent;

struct tsdb_ixw {
	/* strings: local id -> string; hash slots of local ids + 1 */
	const char **strs;
	size_t n_strs, cap_strs;
	uint32_t *str_slots;
	size_t n_str_slots;
	str_page *pages;
	/* label pairs and their postings; hash slots of pair index + 1 */
	pair_ent *pairs;
	size_t n_pairs, cap_pairs;
	uint32_t *pair_slots;
	size_t n_pair_slots;
	/* series */
	ts_buf ser; /* encoded entries with local string ids */
	uint64_t n_series;
	ts_label *prev; /* labels of the last series (strings in pages) */
	size_t n_prev, cap_prev;
};

static uint64_t str_hash(const char *s)
{
	return ts_hash64(s, strlen(s), 0);
}

/* Copy s into the string pages. */
static const char *str_copy(tsdb_ixw *w, const char *s)
{
	size_t n = strlen(s) + 1;
	if (!w->pages || w->pages->cap - w->pages->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		str_page *p = ts_malloc(sizeof(*p) + cap);
		if (!p)
			return NULL;
		p->cap = cap;
		p->used = 0;
		p->next = w->pages;
		w->pages = p;
	}
	char *d = w->pages->data + w->pages->used;
	memcpy(d, s, n);
	w->pages->used += n;
	return d;
}

/* Local id of s, added if new. UINT32_MAX on ENOMEM. */
static uint32_t str_id(tsdb_ixw *w, const char *s)
{
	if ((w->n_strs + 1) * 2 > w->n_str_slots) {
		size_t nc = w->n_str_slots ? w->n_str_slots * 2 : 1024;
		uint32_t *slots = ts_calloc(nc, sizeof(*slots));
		if (!slots)
			return UINT32_MAX;
		for (size_t i = 0; i < w->n_strs; i++) {
			size_t j = str_hash(w->strs[i]) & (nc - 1);
			while (slots[j])
				j = (j + 1) & (nc - 1);
			slots[j] = (uint32_t)i + 1;
		}
		ts_free(w->str_slots);
		w->str_slots = slots;
		w->n_str_slots = nc;
	}
	size_t j = str_hash(s) & (w->n_str_slots - 1);
	while (w->str_slots[j]) {
		uint32_t id = w->str_slots[j] - 1;
		if (strcmp(w->strs[id], s) == 0)
			return id;
		j = (j + 1) & (w->n_str_slots - 1);
	}
	if (w->n_strs == w->cap_strs) {
		size_t nc = w->cap_strs ? w->cap_strs * 2 : 1024;
		const char **v = ts_realloc(w->strs, nc * sizeof(*v));
		if (!v)
			return UINT32_MAX;
		w->strs = v;
		w->cap_strs = nc;
	}
	const char *copy = str_copy(w, s);
	if (!copy)
		return UINT32_MAX;
	w->strs[w->n_strs] = copy;
	w->str_slots[j] = (uint32_t)w->n_strs + 1;
	return (uint32_t)w->n_strs++;
}

static pair_ent *pair_get(tsdb_ixw *w, uint32_t name, uint32_t value)
{
	if ((w->n_pairs + 1) * 2 > w->n_pair_slots) {
		size_t nc = w->n_pair_slots ? w->n_pair_slots * 2 : 1024;
		uint32_t *slots = ts_calloc(nc, sizeof(*slots));
		if (!slots)
			return NULL;
		for (size_t i = 0; i < w->n_pairs; i++) {
			uint64_t h = ts_hash64(&w->pairs[i].name, 8, 0);
			size_t j = h & (nc - 1);
			while (slots[j])
				j = (j + 1) & (nc - 1);
			slots[j] = (uint32_t)i + 1;
		}
		ts_free(w->pair_slots);
		w->pair_slots = slots;
		w->n_pair_slots = nc;
	}
	uint32_t key[2] = {name, value};
	size_t j = ts_hash64(key, 8, 0) & (w->n_pair_slots - 1);
	while (w->pair_slots[j]) {
		pair_ent *p = &w->pairs[w->pair_slots[j] - 1];
		if (p->name == name && p->value == value)
			return p;
		j = (j + 1) & (w->n_pair_slots - 1);
	}
	if (w->n_pairs == w->cap_pairs) {
		size_t nc = w->cap_pairs ? w->cap_pairs * 2 : 1024;
		pair_ent *v = ts_realloc(w->pairs, nc * sizeof(*v));
		if (!v)
			return NULL;
		w->pairs = v;
		w->cap_pairs = nc;
	}
	pair_ent *p = &w->pairs[w->n_pairs];
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->value = value;
	w->pair_slots[j] = (uint32_t)w->n_pairs + 1;
	w->n_pairs++;
	return p;
}

_Static_assert(offsetof(pair_ent, value) == offsetof(pair_ent, name) + 4, "pair key layout");

static int remember_labels(tsdb_ixw *w, const ts_label *labels, size_t n, const uint32_t *ids)
{
	if (n > w->cap_prev) {
		ts_label *v = ts_realloc(w->prev, n * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		w->prev = v;
		w->cap_prev = n;
	}
	for (size_t i = 0; i < n; i++) {
		w->prev[i].name = w->strs[ids[2 * i]];
		w->prev[i].value = w->strs[ids[2 * i + 1]];
	}
	w->n_prev = n;
	return TS_OK;
}

/* Sorting helpers need the writer: qsort_r is not C11, so sort index arrays with a
 * small merge sort over a comparison that gets the context explicitly. */
typedef int (*cmp_ctx_fn)(const void *ctx, uint32_t a, uint32_t b);

static void msort(uint32_t *v, uint32_t *tmp, size_t n, cmp_ctx_fn cmp, const void *ctx)
{
	if (n < 2)
		return;
	size_t h = n / 2;
	msort(v, tmp, h, cmp, ctx);
	msort(v + h, tmp, n - h, cmp, ctx);
	size_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = cmp(ctx, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static int cmp_str_ids(const void *ctx, uint32_t a, uint32_t b)
{
	const tsdb_ixw *w = ctx;
	return strcmp(w->strs[a], w->strs[b]);
}

typedef struct pair_cmp_ctx {
	const tsdb_ixw *w;
	const uint32_t *sym; /* local id -> symbol */
} pair_cmp_ctx;

static int cmp_pairs(const void *ctx, uint32_t a, uint32_t b)
{
	const pair_cmp_ctx *c = ctx;
	const pair_ent *x = &c->w->pairs[a], *y = &c->w->pairs[b];
	if (c->sym[x->name] != c->sym[y->name])
		return c->sym[x->name] < c->sym[y->name] ? -1 : 1;
	return c->sym[x->value] < c->sym[y->value] ? -1 : c->sym[x->value] > c->sym[y->value];
}

/* Re-encode the series entries with symbol ids. */
static int transcode_series(const tsdb_ixw *w, const uint32_t *sym, ts_buf *out)
{
	const uint8_t *p = (const uint8_t *)w->ser.data, *end = p + w->ser.len;
	int rc = ts_buf_put_uvarint(out, w->n_series);
	for (uint64_t s = 0; rc == TS_OK && s < w->n_series; s++) {
		uint64_t nl, np, x;
		if (ts_get_uvarint(&p, end, &nl) || (rc = ts_buf_put_uvarint(out, nl)))
			return rc ? rc : TS_ECORRUPT;
		for (uint64_t i = 0; i < 2 * nl; i++)
			if (ts_get_uvarint(&p, end, &x) || (rc = ts_buf_put_uvarint(out, sym[x])))
				return rc ? rc : TS_ECORRUPT;
		if (ts_get_uvarint(&p, end, &np) || (rc = ts_buf_put_uvarint(out, np)))
			return rc ? rc : TS_ECORRUPT;
		/* Each part: 6 varints, n_cols (the sixth), 3 per column; copied as they are. */
		for (uint64_t i = 0; i < np; i++) {
			uint64_t n_var = 6;
			for (uint64_t k = 0; k < n_var; k++) {
				const uint8_t *q = p;
				if (ts_get_uvarint(&p, end, &x) ||
				    (rc = ts_buf_append(out, q, (size_t)(p - q))))
					return rc ? rc : TS_ECORRUPT;
				if (k == 5)
					n_var += 3 * x;
			}
		}
	}
	return rc;
}

int tsdb_ixw_new(tsdb_ixw **out, ts_err *err)
{
	tsdb_ixw *x = ts_calloc(1, sizeof(*x));
	if (!x)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting an index");
	ts_buf_init(&x->ser, BUF_MAX);
	*out = x;
	return TS_OK;
}

void tsdb_ixw_free(tsdb_ixw *x)
{
	if (!x)
		return;
	for (str_page *p = x->pages, *next; p; p = next) {
		next = p->next;
		ts_free(p);
	}
	for (size_t i = 0; i < x->n_pairs; i++)
		tsdb_plist_free(&x->pairs[i].ids);
	ts_free(x->pairs);
	ts_free(x->pair_slots);
	ts_free(x->strs);
	ts_free(x->str_slots);
	ts_free(x->prev);
	ts_buf_free(&x->ser);
	ts_free(x);
}

uint64_t tsdb_ixw_n_series(const tsdb_ixw *x)
{
	return x->n_series;
}

int tsdb_ixw_check(const tsdb_ixw *x, const ts_label *labels, size_t n, ts_err *err)
{
	if (n == 0)
		return ts_err_set(err, TS_EINVAL, "block: a series needs labels");
	for (size_t i = 1; i < n; i++)
		if (strcmp(labels[i - 1].name, labels[i].name) >= 0)
			return ts_err_set(err, TS_EINVAL, "block: labels not sorted");
	if (x->n_series && ts_labels_cmp(x->prev, x->n_prev, labels, n) >= 0)
		return ts_err_set(err, TS_EINVAL, "block: series not in label order");
	if (x->n_series >= UINT32_MAX)
		return ts_err_set(err, TS_ELIMIT, "block: too many series");
	return TS_OK;
}

int tsdb_ixw_add(tsdb_ixw *x, const ts_label *labels, size_t n, const tsdb_block_part *parts,
		 size_t n_parts, ts_err *err)
{
	int rc = tsdb_ixw_check(x, labels, n, err);
	if (rc)
		return rc;
	uint32_t *ids = ts_malloc(2 * n * sizeof(*ids));
	if (!ids)
		return ts_err_set(err, TS_ENOMEM, "out of memory adding a series");
	for (size_t i = 0; i < n; i++) {
		ids[2 * i] = str_id(x, labels[i].name);
		ids[2 * i + 1] = str_id(x, labels[i].value);
		if (ids[2 * i] == UINT32_MAX || ids[2 * i + 1] == UINT32_MAX)
			goto nomem;
	}
	/* Entry: labels (local string ids, transcoded at encode), then parts. */
	ts_buf *b = &x->ser;
	rc = ts_buf_put_uvarint(b, n);
	for (size_t i = 0; rc == TS_OK && i < 2 * n; i++)
		rc = ts_buf_put_uvarint(b, ids[i]);
	if (rc == TS_OK)
		rc = ts_buf_put_uvarint(b, n_parts);
	for (size_t i = 0; rc == TS_OK && i < n_parts; i++) {
		const tsdb_block_part *p = &parts[i];
		uint64_t span = (uint64_t)p->maxt - (uint64_t)p->mint;
		unsigned n_cols = p->len > 0;
		for (int k = 1; k < TSDB_COL_N; k++)
			n_cols += p->rlen[k] > 0;
		if ((rc = ts_buf_put_uvarint(b, p->tcol)) ||
		    (rc = ts_buf_put_uvarint(b, p->start)) || (rc = ts_buf_put_uvarint(b, p->n)) ||
		    (rc = ts_buf_put_varint(b, p->mint)) || (rc = ts_buf_put_uvarint(b, span)) ||
		    (rc = ts_buf_put_uvarint(b, n_cols)))
			break;
		if (p->len > 0 &&
		    ((rc = ts_buf_put_uvarint(b, TSDB_COL_RAW)) ||
		     (rc = ts_buf_put_uvarint(b, p->off)) || (rc = ts_buf_put_uvarint(b, p->len))))
			break;
		for (int k = 1; rc == TS_OK && k < TSDB_COL_N; k++)
			if (p->rlen[k] > 0 && !(rc = ts_buf_put_uvarint(b, (uint64_t)k)) &&
			    !(rc = ts_buf_put_uvarint(b, p->roff[k])))
				rc = ts_buf_put_uvarint(b, p->rlen[k]);
		if (rc)
			break;
	}
	if (rc)
		goto nomem;
	uint32_t ord = (uint32_t)x->n_series;
	for (size_t i = 0; i < n; i++) {
		pair_ent *p = pair_get(x, ids[2 * i], ids[2 * i + 1]);
		if (!p || tsdb_plist_push(&p->ids, ord, NULL) != TS_OK)
			goto nomem;
	}
	if (remember_labels(x, labels, n, ids) != TS_OK)
		goto nomem;
	x->n_series++;
	ts_free(ids);
	return TS_OK;
nomem:
	ts_free(ids);
	return ts_err_set(err, TS_ENOMEM, "out of memory recording a series");
}

int tsdb_ixw_encode(tsdb_ixw *w, const tsdb_block_tcol *tcols, size_t n_tcols,
		    ts_buf out[TSDB_IX_N], ts_err *err)
{
	for (int i = 0; i < TSDB_IX_N; i++)
		ts_buf_init(&out[i], BUF_MAX);
	ts_buf *sy = &out[TSDB_IX_SYMBOLS], *tc = &out[TSDB_IX_TCOLS], *se = &out[TSDB_IX_SERIES];
	ts_buf *la = &out[TSDB_IX_LABELS], *po = &out[TSDB_IX_POSTINGS];
	int rc = TS_ENOMEM;
	size_t n = w->n_strs > w->n_pairs ? w->n_strs : w->n_pairs;
	uint32_t *order = ts_malloc((n ? n : 1) * sizeof(*order));
	uint32_t *tmp = ts_malloc((n ? n : 1) * sizeof(*tmp));
	uint32_t *sym = ts_malloc((w->n_strs ? w->n_strs : 1) * sizeof(*sym));
	if (!order || !tmp || !sym)
		goto out;
	/* Symbols: sorted strings. */
	for (size_t i = 0; i < w->n_strs; i++)
		order[i] = (uint32_t)i;
	msort(order, tmp, w->n_strs, cmp_str_ids, w);
	rc = ts_buf_put_uvarint(sy, w->n_strs);
	for (size_t i = 0; rc == TS_OK && i < w->n_strs; i++) {
		const char *s = w->strs[order[i]];
		size_t len = strlen(s);
		sym[order[i]] = (uint32_t)i;
		if (!(rc = ts_buf_put_uvarint(sy, len)) && !(rc = ts_buf_append(sy, s, len)))
			rc = ts_buf_putc(sy, 0);
	}
	/* Timestamp columns. */
	if (rc == TS_OK)
		rc = ts_buf_put_uvarint(tc, n_tcols);
	for (size_t i = 0; rc == TS_OK && i < n_tcols; i++) {
		const tsdb_block_tcol *c = &tcols[i];
		if (!(rc = ts_buf_put_uvarint(tc, c->off)) &&
		    !(rc = ts_buf_put_uvarint(tc, c->len)) &&
		    !(rc = ts_buf_put_uvarint(tc, c->n)) && !(rc = ts_buf_put_varint(tc, c->mint)))
			rc = ts_buf_put_uvarint(tc, (uint64_t)c->maxt - (uint64_t)c->mint);
	}
	if (rc == TS_OK)
		rc = transcode_series(w, sym, se);
	/* Label index and postings: pairs sorted by (name, value) symbol. */
	for (size_t i = 0; i < w->n_pairs; i++)
		order[i] = (uint32_t)i;
	pair_cmp_ctx pc = {w, sym};
	msort(order, tmp, w->n_pairs, cmp_pairs, &pc);
	size_t n_names = 0;
	for (size_t i = 0; i < w->n_pairs; i++)
		n_names += i == 0 || w->pairs[order[i]].name != w->pairs[order[i - 1]].name;
	if (rc == TS_OK)
		rc = ts_buf_put_uvarint(la, n_names);
	for (size_t i = 0; rc == TS_OK && i < w->n_pairs;) {
		size_t j = i;
		while (j < w->n_pairs && w->pairs[order[j]].name == w->pairs[order[i]].name)
			j++;
		if (!(rc = ts_buf_put_uvarint(la, sym[w->pairs[order[i]].name])))
			rc = ts_buf_put_uvarint(la, j - i);
		for (size_t k = i; rc == TS_OK && k < j; k++) {
			const pair_ent *p = &w->pairs[order[k]];
			if (!(rc = ts_buf_put_uvarint(la, sym[p->value])) &&
			    !(rc = ts_buf_put_uvarint(la, po->len)))
				rc = ts_buf_put_uvarint(la, p->ids.n);
			uint32_t prev = 0;
			for (size_t q = 0; rc == TS_OK && q < p->ids.n; q++) {
				rc = ts_buf_put_uvarint(po,
							q ? p->ids.ids[q] - prev : p->ids.ids[q]);
				prev = p->ids.ids[q];
			}
		}
		i = j;
	}
out:
	ts_free(order);
	ts_free(tmp);
	ts_free(sym);
	if (rc) {
		for (int i = 0; i < TSDB_IX_N; i++)
			ts_buf_free(&out[i]);
		return ts_err_set(err, rc, "out of memory building the block index");
	}
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Parsing
 * ---------------------------------------------------------------------------------- */

static int parse_symbols(tsdb_block *b, const tsdb_sfile_sec *s, ts_err *err)
{
	const uint8_t *p = s->data, *end = s->data + s->len;
	uint64_t n;
	if (ts_get_uvarint(&p, end, &n) || n > s->len)
		return CORRUPT(err, "symbols: bad count");
	b->syms = ts_malloc((n ? n : 1) * sizeof(*b->syms));
	if (!b->syms)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading symbols");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t len;
		if (ts_get_uvarint(&p, end, &len) || len >= (uint64_t)(end - p) || p[len] != 0 ||
		    memchr(p, 0, (size_t)len))
			return CORRUPT(err, "symbols: entry %llu is malformed",
				       (unsigned long long)i);
		b->syms[i] = (const char *)p;
		if (i && strcmp(b->syms[i - 1], b->syms[i]) >= 0)
			return CORRUPT(err, "symbols: entry %llu out of order",
				       (unsigned long long)i);
		p += len + 1;
	}
	if (p != end)
		return CORRUPT(err, "symbols: trailing bytes");
	b->n_syms = (uint32_t)n;
	return TS_OK;
}

static int parse_tcols(tsdb_block *b, const tsdb_sfile_sec *s, ts_err *err)
{
	const uint8_t *p = s->data, *end = s->data + s->len;
	uint64_t n;
	if (ts_get_uvarint(&p, end, &n) || n != b->meta.n_tcols || n > s->len)
		return CORRUPT(err, "tcols: count does not match meta");
	b->tcols = ts_malloc((n ? n : 1) * sizeof(*b->tcols));
	if (!b->tcols)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading columns");
	for (uint64_t i = 0; i < n; i++) {
		tsdb_block_tcol *c = &b->tcols[i];
		uint64_t cnt, span;
		if (ts_get_uvarint(&p, end, &c->off) || ts_get_uvarint(&p, end, &c->len) ||
		    ts_get_uvarint(&p, end, &cnt) || ts_get_varint(&p, end, &c->mint) ||
		    ts_get_uvarint(&p, end, &span))
			return CORRUPT(err, "tcols: entry %llu truncated", (unsigned long long)i);
		if (c->off > b->data_len || c->len > b->data_len - c->off || c->len == 0)
			return CORRUPT(err, "tcols: column %llu outside the data",
				       (unsigned long long)i);
		if (cnt == 0 || cnt > UINT32_MAX ||
		    span > (uint64_t)INT64_MAX - (uint64_t)c->mint || (cnt == 1) != (span == 0) ||
		    (cnt > 1 && span < cnt - 1))
			return CORRUPT(err, "tcols: column %llu has bad bounds",
				       (unsigned long long)i);
		c->n = (uint32_t)cnt;
		c->maxt = (int64_t)((uint64_t)c->mint + span);
		if (c->mint < b->meta.range_mint || c->maxt > b->meta.range_maxt)
			return CORRUPT(err, "tcols: column %llu outside the block range",
				       (unsigned long long)i);
	}
	if (p != end)
		return CORRUPT(err, "tcols: trailing bytes");
	b->n_tcols = (uint32_t)n;
	return TS_OK;
}

/*
 * Parse one series entry at *pp. labels/parts may be NULL (validation only); otherwise
 * they receive owned arrays.
 */
static int parse_series(tsdb_block *b, const uint8_t **pp, const uint8_t *end, ts_label **labels,
			size_t *n_labels, tsdb_block_part **parts, size_t *n_parts, ts_err *err)
{
	const uint8_t *p = *pp;
	uint64_t nl, np, prev_name = 0;
	ts_label *lv = NULL;
	tsdb_block_part *pv = NULL;
	int rc = TS_ECORRUPT;
	if (ts_get_uvarint(&p, end, &nl) || nl == 0 || nl > (uint64_t)(end - p) / 2) {
		CORRUPT(err, "series: bad label count");
		goto fail;
	}
	if (labels && !(lv = ts_malloc(nl * sizeof(*lv)))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory reading a series");
		goto fail;
	}
	for (uint64_t i = 0; i < nl; i++) {
		uint64_t ns, vs;
		if (ts_get_uvarint(&p, end, &ns) || ts_get_uvarint(&p, end, &vs) ||
		    ns >= b->n_syms || vs >= b->n_syms || (i && ns <= prev_name)) {
			CORRUPT(err, "series: bad label %llu", (unsigned long long)i);
			goto fail;
		}
		prev_name = ns;
		if (lv) {
			lv[i].name = b->syms[ns];
			lv[i].value = b->syms[vs];
		}
	}
	if (ts_get_uvarint(&p, end, &np) || np == 0 || np > (uint64_t)(end - p) / 9) {
		CORRUPT(err, "series: bad part count");
		goto fail;
	}
	if (parts && !(pv = ts_malloc(np * sizeof(*pv)))) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory reading a series");
		goto fail;
	}
	int64_t prev_maxt = 0;
	for (uint64_t i = 0; i < np; i++) {
		tsdb_block_part pt;
		uint64_t tcol, start, n, span, ncols;
		if (ts_get_uvarint(&p, end, &tcol) || ts_get_uvarint(&p, end, &start) ||
		    ts_get_uvarint(&p, end, &n) || ts_get_varint(&p, end, &pt.mint) ||
		    ts_get_uvarint(&p, end, &span) || ts_get_uvarint(&p, end, &ncols) ||
		    tcol >= b->n_tcols || n == 0 || start > b->tcols[tcol].n ||
		    n > b->tcols[tcol].n - start || ncols == 0 || ncols > 16 ||
		    span > (uint64_t)INT64_MAX - (uint64_t)pt.mint || (n == 1) != (span == 0)) {
			CORRUPT(err, "series: bad part %llu", (unsigned long long)i);
			goto fail;
		}
		pt.tcol = (uint32_t)tcol;
		pt.start = (uint32_t)start;
		pt.n = (uint32_t)n;
		pt.maxt = (int64_t)((uint64_t)pt.mint + span);
		const tsdb_block_tcol *c = &b->tcols[tcol];
		if (pt.mint < c->mint || pt.maxt > c->maxt || (i && pt.mint <= prev_maxt)) {
			CORRUPT(err, "series: part %llu out of order", (unsigned long long)i);
			goto fail;
		}
		prev_maxt = pt.maxt;
		bool has_raw = false;
		pt.off = pt.len = 0;
		memset(pt.roff, 0, sizeof(pt.roff));
		memset(pt.rlen, 0, sizeof(pt.rlen));
		for (uint64_t k = 0; k < ncols; k++) {
			uint64_t kind, off, len;
			if (ts_get_uvarint(&p, end, &kind) || ts_get_uvarint(&p, end, &off) ||
			    ts_get_uvarint(&p, end, &len) || off > b->data_len ||
			    len > b->data_len - off || len == 0) {
				CORRUPT(err, "series: part %llu has a bad column",
					(unsigned long long)i);
				goto fail;
			}
			if (kind == TSDB_COL_RAW && !has_raw) {
				has_raw = true;
				pt.off = off;
				pt.len = len;
			} else if (kind > TSDB_COL_RAW && kind < TSDB_COL_N && !pt.rlen[kind]) {
				pt.roff[kind] = off;
				pt.rlen[kind] = len;
			}
		}
		/* A raw block needs the raw column, a rollup block every rollup kind. */
		bool has_all = b->meta.tier == TSDB_TIER_RAW ? has_raw : true;
		for (int k = 1; b->meta.tier != TSDB_TIER_RAW && k < TSDB_COL_N; k++)
			has_all = has_all && pt.rlen[k] > 0;
		if (!has_all) {
			CORRUPT(err, "series: part %llu lacks a %s column", (unsigned long long)i,
				b->meta.tier == TSDB_TIER_RAW ? "raw" : "rollup");
			goto fail;
		}
		if (pv)
			pv[i] = pt;
	}
	*pp = p;
	if (labels) {
		*labels = lv;
		*n_labels = (size_t)nl;
	}
	if (parts) {
		*parts = pv;
		*n_parts = (size_t)np;
	}
	return TS_OK;
fail:
	ts_free(lv);
	ts_free(pv);
	return rc;
}

static int parse_series_sec(tsdb_block *b, const tsdb_sfile_sec *s, ts_err *err)
{
	const uint8_t *p = s->data, *end = s->data + s->len;
	uint64_t n;
	if (ts_get_uvarint(&p, end, &n) || n != b->meta.n_series || n > s->len)
		return CORRUPT(err, "series: count does not match meta");
	b->ser = s->data;
	b->ser_len = s->len;
	b->ser_off = ts_malloc((n ? n : 1) * sizeof(*b->ser_off));
	if (!b->ser_off)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading series");
	for (uint64_t i = 0; i < n; i++) {
		b->ser_off[i] = (uint64_t)(p - s->data);
		int rc = parse_series(b, &p, end, NULL, NULL, NULL, NULL, err);
		if (rc)
			return rc;
	}
	if (p != end)
		return CORRUPT(err, "series: trailing bytes");
	b->n_series = (uint32_t)n;
	return TS_OK;
}

static int parse_labels(tsdb_block *b, const tsdb_sfile_sec *s, ts_err *err)
{
	const uint8_t *p = s->data, *end = s->data + s->len;
	uint64_t n;
	size_t n_vals = 0, cap_vals = 0;
	if (ts_get_uvarint(&p, end, &n) || n > s->len || n > b->n_syms)
		return CORRUPT(err, "labels: bad name count");
	b->names = ts_calloc(n ? n : 1, sizeof(*b->names));
	if (!b->names)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading labels");
	size_t *first = ts_malloc((n ? n : 1) * sizeof(*first));
	if (!first)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading labels");
	int rc = TS_OK;
	for (uint64_t i = 0; i < n && rc == TS_OK; i++) {
		uint64_t ns, nv;
		if (ts_get_uvarint(&p, end, &ns) || ts_get_uvarint(&p, end, &nv) ||
		    ns >= b->n_syms || (i && ns <= b->names[i - 1].name_sym) || nv == 0 ||
		    nv > (uint64_t)(end - p)) {
			rc = CORRUPT(err, "labels: bad name %llu", (unsigned long long)i);
			break;
		}
		b->names[i].name_sym = (uint32_t)ns;
		b->names[i].n_vals = (uint32_t)nv;
		first[i] = n_vals;
		for (uint64_t k = 0; k < nv; k++) {
			tsdb_block_lval v;
			uint64_t vs, off, cnt;
			if (ts_get_uvarint(&p, end, &vs) || ts_get_uvarint(&p, end, &off) ||
			    ts_get_uvarint(&p, end, &cnt) || vs >= b->n_syms ||
			    (k && vs <= b->vals[n_vals - 1].value_sym) || off >= b->post_len ||
			    cnt == 0 || cnt > b->n_series) {
				rc = CORRUPT(err, "labels: bad value %llu of name %llu",
					     (unsigned long long)k, (unsigned long long)i);
				break;
			}
			v.value_sym = (uint32_t)vs;
			v.off = off;
			v.count = (uint32_t)cnt;
			if (n_vals == cap_vals) {
				size_t nc = cap_vals ? cap_vals * 2 : 64;
				tsdb_block_lval *nvv = ts_realloc(b->vals, nc * sizeof(*nvv));
				if (!nvv) {
					rc = ts_err_set(err, TS_ENOMEM,
							"out of memory reading labels");
					break;
				}
				b->vals = nvv;
				cap_vals = nc;
			}
			b->vals[n_vals++] = v;
		}
	}
	if (rc == TS_OK && p != end)
		rc = CORRUPT(err, "labels: trailing bytes");
	if (rc == TS_OK) {
		for (uint64_t i = 0; i < n; i++)
			b->names[i].vals = b->vals + first[i];
		b->n_names = (uint32_t)n;
	}
	ts_free(first);
	return rc;
}

int tsdb_index_parse(tsdb_block *b, const tsdb_sfile *fi, ts_err *err)
{
	const tsdb_sfile_sec *sy = tsdb_sfile_get(fi, TSDB_SEC_SYMBOLS);
	const tsdb_sfile_sec *tc = tsdb_sfile_get(fi, TSDB_SEC_TCOLS);
	const tsdb_sfile_sec *se = tsdb_sfile_get(fi, TSDB_SEC_SERIES);
	const tsdb_sfile_sec *la = tsdb_sfile_get(fi, TSDB_SEC_LABELS);
	const tsdb_sfile_sec *po = tsdb_sfile_get(fi, TSDB_SEC_POSTINGS);
	if (!sy || !tc || !se || !la || !po)
		return CORRUPT(err, "index: a required section is missing");
	b->post = po->data;
	b->post_len = po->len;
	int rc;
	if ((rc = parse_symbols(b, sy, err)) || (rc = parse_tcols(b, tc, err)) ||
	    (rc = parse_series_sec(b, se, err)) || (rc = parse_labels(b, la, err)))
		return rc;
	return TS_OK;
}

/* -------------------------------------------------------------------------------------
 * Querying
 * ---------------------------------------------------------------------------------- */

/* Append the ids of a postings list to out. */
static int post_read(tsdb_block *b, const tsdb_block_lval *v, tsdb_plist *out, ts_err *err)
{
	const uint8_t *p = b->post + v->off, *end = b->post + b->post_len;
	uint64_t id = 0;
	for (uint32_t i = 0; i < v->count; i++) {
		uint64_t d;
		if (ts_get_uvarint(&p, end, &d) || (i && d == 0) || d >= b->n_series - id ||
		    (i == 0 && d >= b->n_series)) {
			mark_bad(b);
			return CORRUPT(err, "block %s: bad postings list", b->meta.name);
		}
		id = i ? id + d : d;
		int rc = tsdb_plist_push(out, (uint32_t)id, err);
		if (rc)
			return rc;
	}
	return TS_OK;
}

static const tsdb_block_lname *find_name(const tsdb_block *b, const char *name)
{
	size_t lo = 0, hi = b->n_names;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->syms[b->names[mid].name_sym], name);
		if (c == 0)
			return &b->names[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const tsdb_block_lval *find_value(const tsdb_block *b, const tsdb_block_lname *nm,
					 const char *value)
{
	size_t lo = 0, hi = nm->n_vals;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->syms[nm->vals[mid].value_sym], value);
		if (c == 0)
			return &nm->vals[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int tsdb_block_labels_each(tsdb_block *b, const char *name, int (*fn)(void *arg, const char *s),
			   void *arg)
{
	if (!name) {
		for (uint32_t i = 0; i < b->n_names; i++) {
			int rc = fn(arg, b->syms[b->names[i].name_sym]);
			if (rc)
				return rc;
		}
		return TS_OK;
	}
	const tsdb_block_lname *nm = find_name(b, name);
	for (uint32_t i = 0; nm && i < nm->n_vals; i++) {
		int rc = fn(arg, b->syms[nm->vals[i].value_sym]);
		if (rc)
			return rc;
	}
	return TS_OK;
}

/* 1 if series id has a part overlapping [mint, maxt], 0 if not, or an error (< 0). */
static int series_in_range(tsdb_block *b, uint32_t id, int64_t mint, int64_t maxt, ts_err *err)
{
	tsdb_block_part *parts;
	size_t np;
	int rc = tsdb_block_series(b, id, NULL, NULL, &parts, &np, err);
	if (rc)
		return rc;
	bool in = false;
	for (size_t i = 0; i < np && !in; i++)
		in = parts[i].mint <= maxt && parts[i].maxt >= mint;
	ts_free(parts);
	return in;
}

int tsdb_block_labels_in_range(tsdb_block *b, const char *name, int64_t mint, int64_t maxt,
			       int (*fn)(void *arg, const char *s), void *arg, ts_err *err)
{
	const tsdb_block_lname *one = name ? find_name(b, name) : NULL;
	uint32_t n_names = name ? (one ? 1 : 0) : b->n_names;
	tsdb_plist ids = {0};
	uint8_t *seen = NULL; /* names: per series 0 unknown, 1 in range, 2 not */
	int rc = TS_OK;
	if (!name && b->n_series && !(seen = ts_calloc(b->n_series, 1)))
		return ts_err_set(err, TS_ENOMEM, "out of memory listing label names");
	for (uint32_t k = 0; k < n_names && rc == TS_OK; k++) {
		const tsdb_block_lname *nm = name ? one : &b->names[k];
		bool is_name_in = false;
		for (uint32_t v = 0; v < nm->n_vals && rc == TS_OK && !is_name_in; v++) {
			ids.n = 0;
			if ((rc = post_read(b, &nm->vals[v], &ids, err)))
				break;
			bool in = false;
			for (size_t i = 0; i < ids.n && !in; i++) {
				uint32_t id = ids.ids[i];
				if (seen && seen[id]) {
					in = seen[id] == 1;
					continue;
				}
				int r = series_in_range(b, id, mint, maxt, err);
				if (r < 0) {
					rc = r;
					break;
				}
				in = r == 1;
				if (seen)
					seen[id] = in ? 1 : 2;
			}
			if (rc || !in)
				continue;
			if (name)
				rc = fn(arg, b->syms[nm->vals[v].value_sym]);
			else
				is_name_in = true;
		}
		if (rc == TS_OK && is_name_in)
			rc = fn(arg, b->syms[nm->name_sym]);
	}
	tsdb_plist_free(&ids);
	ts_free(seen);
	return rc;
}

static int b_eq(void *ctx, const char *name, const char *value, tsdb_plist *out, ts_err *err)
{
	tsdb_block *b = ctx;
	out->n = 0;
	const tsdb_block_lname *nm = find_name(b, name);
	const tsdb_block_lval *v = nm ? find_value(b, nm, value) : NULL;
	return v ? post_read(b, v, out, err) : TS_OK;
}

static int b_matching(void *ctx, const ts_matcher *m, bool want, tsdb_plist *out, ts_err *err)
{
	tsdb_block *b = ctx;
	out->n = 0;
	const tsdb_block_lname *nm = find_name(b, m->name);
	if (!nm)
		return TS_OK;
	size_t n_lists = 0;
	for (uint32_t k = 0; k < nm->n_vals; k++) {
		if (ts_matcher_matches(m, b->syms[nm->vals[k].value_sym]) != want)
			continue;
		int rc = post_read(b, &nm->vals[k], out, err);
		if (rc)
			return rc;
		n_lists++;
	}
	if (n_lists > 1)
		tsdb_plist_normalize(out);
	return TS_OK;
}

static int b_all(void *ctx, tsdb_plist *out, ts_err *err)
{
	tsdb_block *b = ctx;
	out->n = 0;
	for (uint32_t i = 0; i < b->n_series; i++) {
		int rc = tsdb_plist_push(out, i, err);
		if (rc)
			return rc;
	}
	return TS_OK;
}

static const tsdb_pindex_ops block_ops = {b_eq, b_matching, b_all};

int tsdb_block_select(tsdb_block *b, const ts_matcher *ms, size_t n_ms, tsdb_plist *out,
		      ts_err *err)
{
	return tsdb_postings_select(&block_ops, b, ms, n_ms, out, err);
}

int tsdb_block_series(tsdb_block *b, uint32_t id, ts_label **labels, size_t *n_labels,
		      tsdb_block_part **parts, size_t *n_parts, ts_err *err)
{
	if (id >= b->n_series)
		return ts_err_set(err, TS_EINVAL, "block %s: no series %u", b->meta.name, id);
	const uint8_t *p = b->ser + b->ser_off[id];
	int rc = parse_series(b, &p, b->ser + b->ser_len, labels, n_labels, parts, n_parts, err);
	if (rc == TS_ECORRUPT)
		mark_bad(b);
	return rc;
}

int tsdb_block_lookup(tsdb_block *b, const ts_label *labels, size_t n, uint32_t *id, ts_err *err)
{
	tsdb_plist cand = {0}, l = {0};
	int rc = TS_OK;
	for (size_t i = 0; i < n; i++) {
		if ((rc = b_eq(b, labels[i].name, labels[i].value, i ? &l : &cand, err)))
			goto out;
		if (i)
			tsdb_plist_intersect(&cand, &l);
		if (cand.n == 0)
			break;
	}
	rc = TS_ENOTFOUND;
	for (size_t i = 0; i < cand.n && rc == TS_ENOTFOUND; i++) {
		ts_label *lv;
		size_t nl;
		int r = tsdb_block_series(b, cand.ids[i], &lv, &nl, NULL, NULL, err);
		if (r) {
			rc = r;
			break;
		}
		if (ts_labels_cmp(lv, nl, labels, n) == 0) {
			*id = cand.ids[i];
			rc = TS_OK;
		}
		ts_free(lv);
	}
out:
	tsdb_plist_free(&cand);
	tsdb_plist_free(&l);
	return rc;
}
