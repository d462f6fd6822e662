/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_params.c: URL percent-decoding and application/x-www-form-urlencoded parameter sets
 * (see web_params in http_server.h).
 *
 * Decoding follows Go's url.ParseQuery, which is what Prometheus' handlers see: pieces
 * between '&' are "key=value" (no '=' means an empty value), empty pieces are skipped, '+'
 * is a space, %XX a byte, and a '%' not followed by two hex digits is an error naming the
 * bad escape. Stricter than Go in one point: %00 is rejected, because keys and values are
 * handed out as C strings.
 *
 * Layout: one allocation holds the struct, four pointer arrays and an arena with every
 * decoded key and value NUL-terminated (decoding never lengthens, so the arena is sized
 * from the input). keys/vals keep arrival order; s_keys/s_vals hold the same pairs sorted
 * by key with ties in arrival order, so all values of a repeated key (match[]) are one
 * contiguous run found by binary search and returned without copying.
 *
 * Does not: multipart/form-data, charset conversion, semicolon separators.
 */
#include "web/http_server.h"

#include <stdlib.h>
#include <string.h>

struct web_params {
	size_t n;            /* pairs */
	const char **keys;   /* [n] arrival order, into arena */
	const char **vals;   /* [n] */
	const char **s_keys; /* [n] sorted by key, stable */
	const char **s_vals; /* [n] */
	char *arena;         /* decoded strings */
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int web_url_decode(const char *s, size_t n, bool is_form, char *out, size_t *out_n,
		   const char *what, ts_err *err)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				int show = (int)(n - i < 3 ? n - i : 3);
				return ts_err_set(err, TS_EPARSE,
						  "invalid URL escape \"%.*s\" in %s", show, s + i,
						  what);
			}
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0)
				return ts_err_set(err, TS_EPARSE,
						  "invalid URL escape \"%%00\" in %s", what);
			i += 2;
		} else if (c == '+' && is_form) {
			c = ' ';
		}
		out[k++] = (char)c;
	}
	out[k] = '\0';
	*out_n = k;
	return TS_OK;
}

/* Non-empty pieces between '&'. */
static size_t count_pairs(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - s) : n;
		if (end > i)
			k++;
		i = end + 1;
	}
	return k;
}

/* Decode the pairs of s into p at *pos (arena) and *np (arrays). */
static int decode_pairs(web_params *p, const char *s, size_t n, const char *what, size_t *pos,
			size_t *np, ts_err *err)
{
	for (size_t i = 0; i < n;) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - s) : n;
		if (end > i) {
			const char *seg = s + i;
			size_t seg_n = end - i;
			const char *eq = memchr(seg, '=', seg_n);
			size_t kn = eq ? (size_t)(eq - seg) : seg_n;
			size_t dn = 0;
			char *key = p->arena + *pos;
			int rc = web_url_decode(seg, kn, true, key, &dn, what, err);
			if (rc)
				return rc;
			*pos += dn + 1;
			char *val = p->arena + *pos;
			val[0] = '\0';
			dn = 0;
			if (eq && (rc = web_url_decode(eq + 1, seg_n - kn - 1, true, val, &dn, what,
						       err)))
				return rc;
			*pos += dn + 1;
			p->keys[*np] = key;
			p->vals[*np] = val;
			(*np)++;
		}
		i = end + 1;
	}
	return TS_OK;
}

static int cmp_idx_by_key(const void *a, const void *b, void *keys)
{
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	const char **k = keys;
	int c = strcmp(k[ia], k[ib]);
	if (c)
		return c;
	return ia < ib ? -1 : ia > ib;
}

int web_params_parse(const char *form, size_t form_n, const char *query, size_t query_n,
		     web_params **out, ts_err *err)
{
	size_t n = count_pairs(form, form_n) + count_pairs(query, query_n);
	if (n == 0) {
		*out = NULL;
		return TS_OK;
	}
	if (n > WEB_PARAMS_MAX)
		return ts_err_set(err, TS_EPARSE, "too many parameters (%zu, limit %d)", n,
				  WEB_PARAMS_MAX);
	size_t arrays = 4 * n * sizeof(char *);
	web_params *p = ts_malloc(sizeof(*p) + arrays + form_n + query_n + 2 * n);
	size_t *idx = ts_malloc(n * sizeof(size_t));
	int rc;
	if (!p || !idx) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory parsing %zu parameters", n);
		goto fail;
	}
	const char **a = (const char **)(p + 1);
	p->keys = a;
	p->vals = a + n;
	p->s_keys = a + 2 * n;
	p->s_vals = a + 3 * n;
	p->arena = (char *)(a + 4 * n);
	size_t pos = 0, np = 0;
	if ((rc = decode_pairs(p, form, form_n, "form body", &pos, &np, err)) ||
	    (rc = decode_pairs(p, query, query_n, "query string", &pos, &np, err)))
		goto fail;
	p->n = n;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(size_t), cmp_idx_by_key, p->keys);
	for (size_t i = 0; i < n; i++) {
		p->s_keys[i] = p->keys[idx[i]];
		p->s_vals[i] = p->vals[idx[i]];
	}
	ts_free(idx);
	*out = p;
	return TS_OK;
fail:
	ts_free(idx);
	ts_free(p);
	return rc;
}

void web_params_free(web_params *p)
{
	ts_free(p);
}

/* Index of the first s_keys entry equal to key (or where it would be). */
static size_t lower_bound(const web_params *p, const char *key)
{
	size_t lo = 0, hi = p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(p->s_keys[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *web_params_get(const web_params *p, const char *key)
{
	if (!p)
		return NULL;
	size_t i = lower_bound(p, key);
	return i < p->n && strcmp(p->s_keys[i], key) == 0 ? p->s_vals[i] : NULL;
}

void web_params_get_all(const web_params *p, const char *key, const char *const **vals, size_t *n)
{
	*vals = NULL;
	*n = 0;
	if (!p)
		return;
	size_t i = lower_bound(p, key), j = i;
	while (j < p->n && strcmp(p->s_keys[j], key) == 0)
		j++;
	if (j > i) {
		*vals = p->s_vals + i;
		*n = j - i;
	}
}

size_t web_params_count(const web_params *p)
{
	return p ? p->n : 0;
}

void web_params_at(const web_params *p, size_t i, const char **key, const char **val)
{
	if (TS_NEVER(!p || i >= p->n)) {
		*key = *val = "";
		return;
	}
	*key = p->keys[i];
	*val = p->vals[i];
}
