/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route.c: alerts as the notifier keeps them, fingerprints, route matching, grouping and
 * group keys, exactly as Alertmanager 0.25 computes them (alert/notify_int.h).
 *
 * - Fingerprint: model.LabelSet.Fingerprint, FNV-1a 64 over each sorted name and value
 *   followed by a 0xff separator byte; printed as %016x in payloads and the API.
 * - Route.Match: depth first; a matching child without `continue` ends the search among
 *   its siblings; a route whose children all fail to match is the result itself.
 * - Group labels: the group_by labels the alert has ('...' = all of them); an absent
 *   label is left out, so alerts lacking a group_by label share a group.
 * - Group key: "<route key>:<group labels>" with the route key "{}/{m1,m2}/..." (each
 *   route's sorted matchers, legacy match_re printed as ^(?:re)$) and the labels printed
 *   like Go's model.LabelSet.String(): `{a="x", b="y"}`, entries sorted as strings, values
 *   quoted with Go's %q. This string is the webhook's groupKey and the nlog key prefix.
 * - Alert order in a notification: types.AlertSlice (job, then instance, then labels).
 *
 * Also here: Alertmanager's matcher text syntax (`a="b"`, `{a=~"x", b!="y"}`, values
 * quoted with \" \\ \n escapes or bare) and the fingerprint-keyed map used for the
 * alert store and the groups.
 */
#include "alert/notify_int.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================ alerts */

static size_t label_bytes(const ts_label *l, size_t n)
{
	size_t b = 0;
	for (size_t i = 0; i < n; i++)
		b += strlen(l[i].name) + strlen(l[i].value) + 2;
	return b;
}

static char *copy_labels(ts_label *dst, const ts_label *src, size_t n, char *p)
{
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(src[i].name) + 1, b = strlen(src[i].value) + 1;
		memcpy(p, src[i].name, a);
		dst[i].name = p;
		p += a;
		memcpy(p, src[i].value, b);
		dst[i].value = p;
		p += b;
	}
	return p;
}

alert_nalert *alert_nalert_new(const ts_label *labels, size_t n_labels, const ts_label *annot,
			       size_t n_annot, const char *generator_url, int64_t starts_at_ms,
			       int64_t ends_at_ms, int64_t updated_at_ms, bool is_timeout)
{
	const char *gu = generator_url ? generator_url : "";
	size_t sz = sizeof(alert_nalert) + (n_labels + n_annot) * sizeof(ts_label) +
		    label_bytes(labels, n_labels) + label_bytes(annot, n_annot) + strlen(gu) + 1;
	alert_nalert *a = ts_malloc(sz);
	if (!a)
		return NULL;
	atomic_init(&a->refs, 1);
	ts_label *ls = (ts_label *)(a + 1);
	ts_label *as = ls + n_labels;
	char *p = (char *)(as + n_annot);
	p = copy_labels(ls, labels, n_labels, p);
	p = copy_labels(as, annot, n_annot, p);
	memcpy(p, gu, strlen(gu) + 1);
	a->labels = ls;
	a->n_labels = n_labels;
	a->annotations = as;
	a->n_annotations = n_annot;
	a->generator_url = p;
	a->fp = alert_fingerprint(ls, n_labels);
	a->starts_at_ms = starts_at_ms;
	a->ends_at_ms = ends_at_ms;
	a->updated_at_ms = updated_at_ms;
	a->is_timeout = is_timeout;
	return a;
}

void alert_nalert_acquire(alert_nalert *a)
{
	atomic_fetch_add(&a->refs, 1);
}

void alert_nalert_release(alert_nalert *a)
{
	if (a && atomic_fetch_sub(&a->refs, 1) == 1)
		ts_free(a);
}

bool alert_nalert_is_resolved(const alert_nalert *a, int64_t now_ms)
{
	return a->ends_at_ms != 0 && a->ends_at_ms <= now_ms;
}

alert_nalert *alert_nalert_merge(const alert_nalert *old, const alert_nalert *young)
{
	if (young->updated_at_ms < old->updated_at_ms) {
		const alert_nalert *t = old;
		old = young;
		young = t;
	}
	int64_t start = young->starts_at_ms, end = young->ends_at_ms;
	if (old->starts_at_ms < start)
		start = old->starts_at_ms;
	int64_t now = young->updated_at_ms;
	if (alert_nalert_is_resolved(young, now)) {
		if (alert_nalert_is_resolved(old, now) && old->ends_at_ms > end)
			end = old->ends_at_ms;
	} else if (old->ends_at_ms > end && !old->is_timeout) {
		end = old->ends_at_ms;
	}
	return alert_nalert_new(young->labels, young->n_labels, young->annotations,
				young->n_annotations, young->generator_url, start, end,
				young->updated_at_ms, young->is_timeout);
}

uint64_t alert_fingerprint(const ts_label *l, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			const unsigned char *s =
			    (const unsigned char *)(k ? l[i].value : l[i].name);
			for (; *s; s++) {
				h ^= *s;
				h *= 1099511628211ULL;
			}
			h ^= 0xff;
			h *= 1099511628211ULL;
		}
	}
	return h;
}

bool alert_matchers_match(const ts_matcher *m, size_t n, const ts_label *l, size_t nl)
{
	for (size_t i = 0; i < n; i++)
		if (!ts_matcher_matches(&m[i], ts_labels_get(l, nl, m[i].name)))
			return false;
	return true;
}

/* ================================================================ matcher text */

static bool name_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
	       (!first && ch >= '0' && ch <= '9');
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

void alert_matchers_free(ts_matcher *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ts_matcher_fini(&v[i]);
	ts_free(v);
}

/* Parse one value: quoted with escapes, or bare up to ',' or '}' (trailing space trimmed). */
static int parse_value(const char **pp, ts_buf *val, const char *s, ts_err *err)
{
	const char *p = *pp;
	ts_buf_reset(val);
	if (*p == '"') {
		p++;
		for (;;) {
			if (!*p)
				return ts_err_set(err, TS_EINVAL,
						  "matcher '%s': unterminated quoted value", s);
			if (*p == '"')
				break;
			char ch = *p;
			if (ch == '\\' && p[1]) {
				p++;
				ch = *p == 'n' ? '\n' : *p;
				if (*p != 'n' && *p != '\\' && *p != '"' && ts_buf_putc(val, '\\'))
					return TS_ENOMEM;
			}
			if (ts_buf_putc(val, ch))
				return TS_ENOMEM;
			p++;
		}
		p++;
	} else {
		const char *start = p;
		while (*p && *p != ',' && *p != '}')
			p++;
		const char *end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (ts_buf_append(val, start, (size_t)(end - start)))
			return TS_ENOMEM;
	}
	if (ts_buf_putc(val, '\0'))
		return TS_ENOMEM;
	*pp = p;
	return TS_OK;
}

int alert_matchers_parse(const char *s, ts_matcher **v, size_t *n, ts_err *err)
{
	const char *p = s;
	ts_buf val;
	ts_buf_init(&val, 1 << 20);
	int rc = TS_OK;
	size_t n0 = *n;
	skip_ws(&p);
	bool braces = *p == '{';
	if (braces)
		p++;
	for (;;) {
		skip_ws(&p);
		if (braces && *p == '}' && *n == n0) {
			p++;
			break;
		}
		const char *nm = p;
		if (!name_char(*p, true)) {
			rc = ts_err_set(err, TS_EINVAL,
					"bad matcher '%s': expected a label name at offset %zu", s,
					(size_t)(p - s));
			goto fail;
		}
		while (name_char(*p, false))
			p++;
		size_t nlen = (size_t)(p - nm);
		skip_ws(&p);
		ts_match_type t;
		if (p[0] == '=' && p[1] == '~')
			t = TS_MATCH_RE, p += 2;
		else if (p[0] == '!' && p[1] == '~')
			t = TS_MATCH_NRE, p += 2;
		else if (p[0] == '!' && p[1] == '=')
			t = TS_MATCH_NEQ, p += 2;
		else if (p[0] == '=')
			t = TS_MATCH_EQ, p += 1;
		else {
			rc = ts_err_set(err, TS_EINVAL,
					"bad matcher '%s': expected =, !=, =~ or !~ at offset %zu",
					s, (size_t)(p - s));
			goto fail;
		}
		skip_ws(&p);
		if ((rc = parse_value(&p, &val, s, err)))
			goto fail;
		char name[256];
		if (nlen >= sizeof(name)) {
			rc = ts_err_set(err, TS_EINVAL, "bad matcher '%s': label name too long", s);
			goto fail;
		}
		memcpy(name, nm, nlen);
		name[nlen] = '\0';
		ts_matcher *nv = ts_realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv) {
			rc = TS_ENOMEM;
			goto fail;
		}
		*v = nv;
		if ((rc = ts_matcher_init(&nv[*n], t, name, val.data, err)))
			goto fail;
		(*n)++;
		skip_ws(&p);
		if (*p == ',') {
			p++;
			skip_ws(&p);
			if (braces && *p == '}') {
				p++;
				break;
			}
			if (!*p && !braces)
				break;
			continue;
		}
		if (braces) {
			if (*p != '}') {
				rc = ts_err_set(
				    err, TS_EINVAL,
				    "bad matcher '%s': expected ',' or '}' at offset %zu", s,
				    (size_t)(p - s));
				goto fail;
			}
			p++;
		}
		break;
	}
	skip_ws(&p);
	if (*p) {
		rc = ts_err_set(err, TS_EINVAL, "bad matcher '%s': unexpected text at offset %zu",
				s, (size_t)(p - s));
		goto fail;
	}
	if (*n == n0) {
		rc = ts_err_set(err, TS_EINVAL, "bad matcher '%s': no matcher", s);
		goto fail;
	}
	ts_buf_free(&val);
	return TS_OK;
fail:
	if (rc == TS_ENOMEM)
		ts_err_set(err, TS_ENOMEM, "out of memory parsing matchers");
	while (*n > n0)
		ts_matcher_fini(&(*v)[--(*n)]);
	ts_buf_free(&val);
	return rc;
}

/* ================================================================ routing */

static size_t match_into(const alert_ncfg_route *r, const ts_label *l, size_t n,
			 const alert_ncfg_route **out, size_t cap, size_t k)
{
	if (!alert_matchers_match(r->matchers, r->n_matchers, l, n))
		return k;
	size_t k0 = k;
	for (size_t i = 0; i < r->n_routes; i++) {
		size_t before = k;
		k = match_into(r->routes[i], l, n, out, cap, k);
		if (k > before && !r->routes[i]->is_continue)
			break;
	}
	if (k == k0) {
		if (k < cap)
			out[k] = r;
		k++;
	}
	return k;
}

size_t alert_route_match(const alert_ncfg_route *root, const ts_label *l, size_t n,
			 const alert_ncfg_route **out, size_t cap)
{
	return match_into(root, l, n, out, cap, 0);
}

size_t alert_route_group_labels(const alert_ncfg_route *r, const ts_label *l, size_t n,
				ts_label *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool keep = r->is_group_by_all;
		for (size_t j = 0; !keep && j < r->n_group_by; j++)
			keep = !strcmp(r->group_by[j], l[i].name);
		if (keep && l[i].value[0])
			out[k++] = l[i];
	}
	return k;
}

/* Go's strconv.Quote for the byte ranges labels hold (UTF-8 kept, controls escaped). */
static int go_quote(ts_buf *b, const char *s)
{
	int rc = ts_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
		switch (*p) {
		case '"': rc = ts_buf_puts(b, "\\\""); break;
		case '\\': rc = ts_buf_puts(b, "\\\\"); break;
		case '\n': rc = ts_buf_puts(b, "\\n"); break;
		case '\r': rc = ts_buf_puts(b, "\\r"); break;
		case '\t': rc = ts_buf_puts(b, "\\t"); break;
		case '\a': rc = ts_buf_puts(b, "\\a"); break;
		case '\b': rc = ts_buf_puts(b, "\\b"); break;
		case '\f': rc = ts_buf_puts(b, "\\f"); break;
		case '\v': rc = ts_buf_puts(b, "\\v"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				rc = ts_buf_printf(b, "\\x%02x", *p);
			else
				rc = ts_buf_putc(b, (char)*p);
		}
	}
	return rc || ts_buf_putc(b, '"');
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int alert_labels_string(const ts_label *l, size_t n, ts_buf *out)
{
	/* Format each pair, sort the strings (Go sorts "name=value" text, not names). */
	ts_buf tmp;
	ts_buf_init(&tmp, out->max);
	size_t *off = n ? ts_malloc(n * sizeof(*off)) : NULL;
	const char **v = n ? ts_malloc(n * sizeof(*v)) : NULL;
	int rc = n && (!off || !v) ? TS_ENOMEM : TS_OK;
	for (size_t i = 0; !rc && i < n; i++) {
		off[i] = tmp.len;
		rc = ts_buf_puts(&tmp, l[i].name) || ts_buf_putc(&tmp, '=') ||
		     go_quote(&tmp, l[i].value) || ts_buf_putc(&tmp, '\0');
		if (rc)
			rc = TS_ENOMEM;
	}
	if (!rc) {
		for (size_t i = 0; i < n; i++)
			v[i] = tmp.data + off[i];
		if (n > 1)
			qsort(v, n, sizeof(*v), cmp_cstr);
		rc = ts_buf_putc(out, '{');
		for (size_t i = 0; !rc && i < n; i++)
			rc = (i && ts_buf_puts(out, ", ")) || ts_buf_puts(out, v[i]) ? TS_ENOMEM
										     : TS_OK;
		rc = rc || ts_buf_putc(out, '}') ? TS_ENOMEM : TS_OK;
	}
	ts_free(off);
	ts_free(v);
	ts_buf_free(&tmp);
	return rc;
}

int alert_matcher_string(const ts_matcher *m, ts_buf *out)
{
	/* labels.Matcher.String: name op "value" with openMetricsEscape (\\, \n, \"). */
	int rc = ts_buf_puts(out, m->name) || ts_buf_puts(out, ts_match_type_str(m->type)) ||
		 ts_buf_putc(out, '"');
	for (const char *p = m->value; !rc && *p; p++) {
		if (*p == '\\')
			rc = ts_buf_puts(out, "\\\\");
		else if (*p == '\n')
			rc = ts_buf_puts(out, "\\n");
		else if (*p == '"')
			rc = ts_buf_puts(out, "\\\"");
		else
			rc = ts_buf_putc(out, *p);
	}
	return rc || ts_buf_putc(out, '"') ? TS_ENOMEM : TS_OK;
}

int alert_group_key(const alert_ncfg_route *r, const ts_label *gl, size_t n, ts_buf *out)
{
	if (ts_buf_puts(out, r->key) || ts_buf_putc(out, ':'))
		return TS_ENOMEM;
	return alert_labels_string(gl, n, out);
}

/* ================================================================ ordering */

/* model.LabelSet.Before: compare sorted label sets name by name, then by size. */
static int labels_before(const alert_nalert *a, const alert_nalert *b)
{
	size_t n = a->n_labels < b->n_labels ? a->n_labels : b->n_labels;
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a->labels[i].name, b->labels[i].name);
		if (c)
			return c;
		if ((c = strcmp(a->labels[i].value, b->labels[i].value)))
			return c;
	}
	return a->n_labels < b->n_labels ? -1 : a->n_labels > b->n_labels ? 1 : 0;
}

static int cmp_alert(const void *x, const void *y)
{
	const alert_nalert *a = *(alert_nalert *const *)x, *b = *(alert_nalert *const *)y;
	static const char *const keys[] = {"job", "instance"};
	for (int k = 0; k < 2; k++) {
		const char *va = ts_labels_get(a->labels, a->n_labels, keys[k]);
		const char *vb = ts_labels_get(b->labels, b->n_labels, keys[k]);
		if (!va && !vb)
			continue;
		if (!va)
			return 1;
		if (!vb)
			return -1;
		int c = strcmp(va, vb);
		if (c)
			return c;
	}
	int c = labels_before(a, b);
	if (c)
		return c;
	return a->fp < b->fp ? -1 : a->fp > b->fp;
}

void alert_nalerts_sort(alert_nalert **v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_alert);
}

/* ================================================================ u64 map */

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

void *alert_u64map_get(const alert_u64map *m, uint64_t k)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = mix(k) & mask;; i = (i + 1) & mask) {
		if (m->state[i] == 0)
			return NULL;
		if (m->state[i] == 1 && m->keys[i] == k)
			return m->vals[i];
	}
}

static int grow(alert_u64map *m)
{
	size_t nc = m->cap ? m->cap * 2 : 16;
	if (m->n * 4 < m->cap) /* mostly tombstones: rehash at the same size */
		nc = m->cap;
	alert_u64map nm = {0};
	nm.keys = ts_calloc(nc, sizeof(*nm.keys));
	nm.vals = ts_calloc(nc, sizeof(*nm.vals));
	nm.state = ts_calloc(nc, 1);
	if (!nm.keys || !nm.vals || !nm.state) {
		alert_u64map_free(&nm);
		return TS_ENOMEM;
	}
	nm.cap = nc;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->state[i] != 1)
			continue;
		size_t j = mix(m->keys[i]) & (nc - 1);
		while (nm.state[j])
			j = (j + 1) & (nc - 1);
		nm.state[j] = 1;
		nm.keys[j] = m->keys[i];
		nm.vals[j] = m->vals[i];
		nm.n++;
	}
	nm.used = nm.n;
	alert_u64map_free(m);
	*m = nm;
	return TS_OK;
}

int alert_u64map_put(alert_u64map *m, uint64_t k, void *v)
{
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m))
		return TS_ENOMEM;
	size_t mask = m->cap - 1, tomb = SIZE_MAX;
	for (size_t i = mix(k) & mask;; i = (i + 1) & mask) {
		if (m->state[i] == 1 && m->keys[i] == k) {
			m->vals[i] = v;
			return TS_OK;
		}
		if (m->state[i] == 2 && tomb == SIZE_MAX)
			tomb = i;
		if (m->state[i] == 0) {
			if (tomb != SIZE_MAX)
				i = tomb;
			else
				m->used++;
			m->state[i] = 1;
			m->keys[i] = k;
			m->vals[i] = v;
			m->n++;
			return TS_OK;
		}
	}
}

void *alert_u64map_del(alert_u64map *m, uint64_t k)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = mix(k) & mask;; i = (i + 1) & mask) {
		if (m->state[i] == 0)
			return NULL;
		if (m->state[i] == 1 && m->keys[i] == k) {
			void *v = m->vals[i];
			m->state[i] = 2;
			m->vals[i] = NULL;
			m->n--;
			return v;
		}
	}
}

bool alert_u64map_next(const alert_u64map *m, size_t *i, uint64_t *k, void **v)
{
	for (; *i < m->cap; (*i)++) {
		if (m->state[*i] == 1) {
			if (k)
				*k = m->keys[*i];
			if (v)
				*v = m->vals[*i];
			(*i)++;
			return true;
		}
	}
	return false;
}

void alert_u64map_free(alert_u64map *m)
{
	ts_free(m->keys);
	ts_free(m->vals);
	ts_free(m->state);
	memset(m, 0, sizeof(*m));
}
