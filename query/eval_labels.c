/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval_labels.c: label-set helpers for the evaluator: filtering and setting labels,
 * Go-style printing, a hash map from label sets to dense indexes (qe_lmap), and the
 * builder that assembles step-wise vector results (qe_vbuild).
 *
 * Every result series of an operator is identified by its label set, as in Prometheus'
 * rangeEval, which merges the per-step outputs of an operator by label hash: the same
 * labels produced from different inputs at different steps form one series, and the same
 * labels twice at one step are the error "vector cannot contain metrics with the same
 * labelset". qe_vbuild implements exactly that.
 *
 * Label strings are never copied here: they are borrowed from the store (valid while the
 * querier is open), from the AST or from the arena. All memory is arena memory; maps grow
 * by allocating a larger table and leaving the old one to the arena.
 */
#include "query/eval.h"

#include <string.h>

/* ---------------------------------------------------------------- label sets */

int qe_labels_format(const ts_label *l, size_t n, ts_buf *out)
{
	int rc = ts_buf_putc(out, '{');
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		if (i > 0)
			rc = ts_buf_puts(out, ", ");
		if (rc == TS_OK)
			rc = ts_buf_puts(out, l[i].name);
		if (rc == TS_OK)
			rc = ts_buf_putc(out, '=');
		if (rc == TS_OK)
			rc = query_quote(out, l[i].value, strlen(l[i].value));
	}
	return rc ? rc : ts_buf_putc(out, '}');
}

bool qe_labels_equal(const ts_label *a, size_t na, const ts_label *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].value, b[i].value) != 0)
			return false;
	return true;
}

static bool name_in(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

int qe_labels_filter(qe_ctx *c, const ts_label *l, size_t n, const char *const *names,
		     size_t n_names, bool keep, bool drop_name, ts_label **out, size_t *n_out)
{
	ts_label *o = qe_alloc(c, (n ? n : 1) * sizeof(*o));
	if (!o)
		return qe_nomem(c);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (drop_name && strcmp(l[i].name, TS_METRIC_NAME) == 0)
			continue;
		if (name_in(l[i].name, names, n_names) != keep)
			continue;
		o[w++] = l[i];
	}
	*out = o;
	*n_out = w;
	return TS_OK;
}

int qe_labels_set(qe_ctx *c, const ts_label *l, size_t n, const char *name, const char *value,
		  ts_label **out, size_t *n_out)
{
	ts_label *o = qe_alloc(c, (n + 1) * sizeof(*o));
	if (!o)
		return qe_nomem(c);
	bool del = !value || !*value, done = false;
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		int cmp = strcmp(l[i].name, name);
		if (cmp == 0) {
			if (!del)
				o[w++] = (ts_label){name, value};
			done = true;
			continue;
		}
		if (cmp > 0 && !done) {
			if (!del)
				o[w++] = (ts_label){name, value};
			done = true;
		}
		o[w++] = l[i];
	}
	if (!done && !del)
		o[w++] = (ts_label){name, value};
	*out = o;
	*n_out = w;
	return TS_OK;
}

/* ---------------------------------------------------------------- label-set map */

static uint64_t lhash(const ts_label *l, size_t n)
{
	uint64_t h = ts_series_hash(l, n);
	return h ? h : 1;
}

static int lmap_alloc(qe_ctx *c, qe_lmap *m, size_t cap)
{
	m->hash = qe_alloc(c, cap * sizeof(*m->hash));
	m->idx = qe_alloc(c, cap * sizeof(*m->idx));
	if (!m->hash || !m->idx)
		return qe_nomem(c);
	m->cap = cap;
	return TS_OK;
}

int qe_lmap_init(qe_ctx *c, qe_lmap *m, size_t hint)
{
	memset(m, 0, sizeof(*m));
	size_t cap = 16;
	while (cap < hint * 2)
		cap *= 2;
	return lmap_alloc(c, m, cap);
}

size_t qe_lmap_find(const qe_lmap *m, const ts_label *l, size_t n)
{
	uint64_t h = lhash(l, n);
	size_t mask = m->cap - 1;
	for (size_t s = h & mask;; s = (s + 1) & mask) {
		if (m->hash[s] == 0)
			return SIZE_MAX;
		if (m->hash[s] == h) {
			uint32_t k = m->idx[s];
			if (qe_labels_equal(m->keys[k], m->key_n[k], l, n))
				return k;
		}
	}
}

static int lmap_grow(qe_ctx *c, qe_lmap *m)
{
	qe_lmap old = *m;
	int rc = lmap_alloc(c, m, old.cap * 2);
	if (rc)
		return rc;
	size_t mask = m->cap - 1;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.hash[i] == 0)
			continue;
		size_t s = old.hash[i] & mask;
		while (m->hash[s] != 0)
			s = (s + 1) & mask;
		m->hash[s] = old.hash[i];
		m->idx[s] = old.idx[i];
	}
	return TS_OK;
}

int qe_lmap_get(qe_ctx *c, qe_lmap *m, const ts_label *l, size_t n, size_t *idx, bool *is_new)
{
	uint64_t h = lhash(l, n);
	size_t mask = m->cap - 1, s;
	for (s = h & mask; m->hash[s] != 0; s = (s + 1) & mask) {
		if (m->hash[s] == h) {
			uint32_t k = m->idx[s];
			if (qe_labels_equal(m->keys[k], m->key_n[k], l, n)) {
				*idx = k;
				*is_new = false;
				return TS_OK;
			}
		}
	}
	if (m->n >= UINT32_MAX - 1)
		return ts_err_set(c->err, TS_ELIMIT, "too many series in one operation");
	if (m->n == m->keys_cap) {
		size_t nc = m->keys_cap ? m->keys_cap * 2 : 16;
		const ts_label **nk = qe_alloc(c, nc * sizeof(*nk));
		size_t *nn = qe_alloc(c, nc * sizeof(*nn));
		if (!nk || !nn)
			return qe_nomem(c);
		if (m->n) {
			memcpy(nk, m->keys, m->n * sizeof(*nk));
			memcpy(nn, m->key_n, m->n * sizeof(*nn));
		}
		m->keys = nk;
		m->key_n = nn;
		m->keys_cap = nc;
	}
	m->keys[m->n] = l;
	m->key_n[m->n] = n;
	m->hash[s] = h;
	m->idx[s] = (uint32_t)m->n;
	*idx = m->n++;
	*is_new = true;
	if (m->n * 2 > m->cap)
		return lmap_grow(c, m);
	return TS_OK;
}

/* ---------------------------------------------------------------- vector builder */

int qe_err_dup_labelset(qe_ctx *c)
{
	return ts_err_set(c->err, TS_EINVAL,
			  "vector cannot contain metrics with the same labelset");
}

int qe_vbuild_init(qe_ctx *c, qe_vbuild *b, size_t hint)
{
	memset(b, 0, sizeof(*b));
	return qe_lmap_init(c, &b->map, hint);
}

int qe_vbuild_index(qe_ctx *c, qe_vbuild *b, const ts_label *l, size_t n, size_t *idx)
{
	bool is_new;
	int rc = qe_lmap_get(c, &b->map, l, n, idx, &is_new);
	if (rc || !is_new)
		return rc;
	if (*idx >= b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		qe_series *ns = qe_alloc(c, nc * sizeof(*ns));
		if (!ns)
			return qe_nomem(c);
		if (b->cap)
			memcpy(ns, b->s, b->cap * sizeof(*ns));
		b->s = ns;
		b->cap = nc;
	}
	qe_series *s = &b->s[*idx];
	memset(s, 0, sizeof(*s));
	s->labels = (ts_label *)l;
	s->n_labels = n;
	return qe_series_init(c, s);
}

int qe_vbuild_set(qe_ctx *c, qe_vbuild *b, size_t idx, size_t i, double v)
{
	qe_series *s = &b->s[idx];
	if (s->ok[i])
		return qe_err_dup_labelset(c);
	s->ok[i] = true;
	s->v[i] = v;
	b->points++;
	return qe_add_samples(c, 1);
}

void qe_vbuild_finish(qe_vbuild *b, qe_value *out)
{
	memset(out, 0, sizeof(*out));
	out->type = QUERY_VALUE_VECTOR;
	out->vec = b->s;
	out->n_vec = b->map.n;
}
