/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c: the JSON alert/ reads and writes: Alertmanager v2 API bodies (postable alerts
 * and silences) and webhook payloads (alert/notify_int.h).
 *
 * alert/ may not use web/'s writer (module order: web uses alert), so this file has a
 * small reader and writer of its own:
 *   - Reader: RFC 8259 into an arena-backed tree; depth <= 64; strings decoded to UTF-8
 *     (surrogate pairs joined, lone surrogates become U+FFFD); numbers as doubles.
 *     Errors are TS_EPARSE "offset N: problem". Input bounds are the caller's
 *     (HTTP body limit).
 *   - Writer: escapes like Go's encoding/json (HTML-safe: < > & as \u003c..., U+2028/9,
 *     invalid UTF-8 as \ufffd) so payload bytes match Alertmanager's.
 *   - Times: Go's time.Time JSON form for webhooks (RFC3339Nano, zeros trimmed, zero time
 *     "0001-01-01T00:00:00Z") and the v2 API's millisecond form.
 */
#include "alert/notify_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ================================================================ reader */

typedef struct jp {
	const char *s, *p, *end;
	alert_arena *a;
	ts_err *err;
	int depth;
} jp;

static int jerr(jp *j, const char *what)
{
	return ts_err_set(j->err, TS_EPARSE, "invalid JSON at offset %zu: %s",
			  (size_t)(j->p - j->s), what);
}

static void ws(jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int put_utf8(ts_buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
		u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	else
		u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	return ts_buf_append(b, u, n);
}

static int hex4(jp *j, uint32_t *out)
{
	if (j->end - j->p < 4)
		return jerr(j, "short \\u escape");
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		char c = j->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return jerr(j, "bad \\u escape");
	}
	j->p += 4;
	*out = v;
	return TS_OK;
}

static int parse_string(jp *j, const char **out, size_t *n)
{
	ts_buf b;
	ts_buf_init(&b, SIZE_MAX / 2);
	int rc = TS_OK;
	j->p++; /* opening quote */
	for (;;) {
		if (j->p >= j->end) {
			rc = jerr(j, "unterminated string");
			break;
		}
		unsigned char c = (unsigned char)*j->p;
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20) {
			rc = jerr(j, "control character in string");
			break;
		}
		if (c != '\\') {
			const char *q = j->p;
			while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
				q++;
			if (ts_buf_append(&b, j->p, (size_t)(q - j->p))) {
				rc = TS_ENOMEM;
				break;
			}
			j->p = q;
			continue;
		}
		if (++j->p >= j->end) {
			rc = jerr(j, "unterminated escape");
			break;
		}
		char e = *j->p++;
		char lit = e == '"' || e == '\\' || e == '/' ? e
			   : e == 'b'                        ? '\b'
			   : e == 'f'                        ? '\f'
			   : e == 'n'                        ? '\n'
			   : e == 'r'                        ? '\r'
			   : e == 't'                        ? '\t'
							     : 0;
		if (lit) {
			if (ts_buf_putc(&b, lit)) {
				rc = TS_ENOMEM;
				break;
			}
			continue;
		}
		if (e != 'u') {
			rc = jerr(j, "bad escape");
			break;
		}
		uint32_t cp;
		if ((rc = hex4(j, &cp)))
			break;
		if (cp >= 0xD800 && cp < 0xDC00) {
			uint32_t lo;
			if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
				const char *save = j->p;
				j->p += 2;
				if ((rc = hex4(j, &lo)))
					break;
				if (lo >= 0xDC00 && lo < 0xE000)
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				else
					cp = 0xFFFD, j->p = save;
			} else {
				cp = 0xFFFD;
			}
		} else if (cp >= 0xDC00 && cp < 0xE000) {
			cp = 0xFFFD;
		}
		if (put_utf8(&b, cp)) {
			rc = TS_ENOMEM;
			break;
		}
	}
	if (!rc) {
		*n = b.len;
		*out = alert_arena_strndup(j->a, b.data ? b.data : "", b.len);
		if (!*out)
			rc = TS_ENOMEM;
	}
	ts_buf_free(&b);
	if (rc == TS_ENOMEM)
		ts_err_set(j->err, TS_ENOMEM, "out of memory parsing JSON");
	return rc;
}

static int parse_value(jp *j, alert_jnode **out);

/* Collect children in a temporary array, then copy it into the arena. */
static int parse_container(jp *j, alert_jnode *n, bool is_obj)
{
	size_t cap = 0, cnt = 0;
	alert_jnode **items = NULL;
	const char **keys = NULL;
	int rc = TS_OK;
	j->p++;
	ws(j);
	char close = is_obj ? '}' : ']';
	if (j->p < j->end && *j->p == close) {
		j->p++;
		goto done;
	}
	for (;;) {
		ws(j);
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 8;
			alert_jnode **ni = ts_realloc(items, nc * sizeof(*ni));
			if (!ni) {
				rc = TS_ENOMEM;
				break;
			}
			items = ni;
			if (is_obj) {
				const char **nk = ts_realloc(keys, nc * sizeof(*nk));
				if (!nk) {
					rc = TS_ENOMEM;
					break;
				}
				keys = nk;
			}
			cap = nc;
		}
		if (is_obj) {
			size_t kl;
			if (j->p >= j->end || *j->p != '"') {
				rc = jerr(j, "expected a string key");
				break;
			}
			if ((rc = parse_string(j, &keys[cnt], &kl)))
				break;
			ws(j);
			if (j->p >= j->end || *j->p != ':') {
				rc = jerr(j, "expected ':'");
				break;
			}
			j->p++;
		}
		if ((rc = parse_value(j, &items[cnt])))
			break;
		cnt++;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			break;
		}
		rc = jerr(j, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
		break;
	}
done:
	if (!rc && cnt) {
		n->items = alert_arena_alloc(j->a, cnt * sizeof(*n->items));
		n->keys = is_obj ? alert_arena_alloc(j->a, cnt * sizeof(*n->keys)) : NULL;
		if (!n->items || (is_obj && !n->keys)) {
			rc = TS_ENOMEM;
		} else {
			memcpy(n->items, items, cnt * sizeof(*items));
			if (is_obj)
				memcpy(n->keys, keys, cnt * sizeof(*keys));
			n->n = cnt;
		}
	}
	ts_free(items);
	ts_free(keys);
	if (rc == TS_ENOMEM)
		ts_err_set(j->err, TS_ENOMEM, "out of memory parsing JSON");
	return rc;
}

static int parse_value(jp *j, alert_jnode **out)
{
	ws(j);
	if (j->p >= j->end)
		return jerr(j, "unexpected end of input");
	alert_jnode *n = alert_arena_alloc(j->a, sizeof(*n));
	if (!n)
		return ts_err_set(j->err, TS_ENOMEM, "out of memory parsing JSON");
	*out = n;
	char c = *j->p;
	if (c == '{' || c == '[') {
		if (++j->depth > MAX_DEPTH)
			return jerr(j, "nested too deeply");
		n->type = c == '{' ? ALERT_J_OBJ : ALERT_J_ARR;
		int rc = parse_container(j, n, c == '{');
		j->depth--;
		return rc;
	}
	if (c == '"') {
		n->type = ALERT_J_STR;
		return parse_string(j, &n->str, &n->len);
	}
	static const struct {
		const char *lit;
		alert_jtype t;
		bool b;
	} lits[] = {{"true", ALERT_J_BOOL, true},
		    {"false", ALERT_J_BOOL, false},
		    {"null", ALERT_J_NULL, false}};
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(lits[i].lit);
		if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, lits[i].lit, l)) {
			n->type = lits[i].t;
			n->b = lits[i].b;
			j->p += l;
			return TS_OK;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		char buf[64];
		size_t k = 0;
		while (j->p + k < j->end && k < sizeof(buf) - 1 &&
		       strchr("+-0123456789.eE", j->p[k]))
			k++;
		memcpy(buf, j->p, k);
		buf[k] = '\0';
		char *e;
		errno = 0;
		n->num = strtod(buf, &e);
		if (e != buf + k || !isfinite(n->num))
			return jerr(j, "bad number");
		n->type = ALERT_J_NUM;
		j->p += k;
		return TS_OK;
	}
	return jerr(j, "unexpected character");
}

int alert_json_parse(const char *text, size_t len, alert_jdoc *doc, ts_err *err)
{
	memset(doc, 0, sizeof(*doc));
	if (!(doc->arena = alert_arena_new(len * 8 + (1 << 20))))
		return ts_err_set(err, TS_ENOMEM, "out of memory parsing JSON");
	jp j = {.s = text, .p = text, .end = text + len, .a = doc->arena, .err = err};
	int rc = parse_value(&j, &doc->root);
	if (!rc) {
		ws(&j);
		if (j.p != j.end)
			rc = jerr(&j, "trailing data");
	}
	if (rc)
		alert_json_fini(doc);
	return rc;
}

void alert_json_fini(alert_jdoc *doc)
{
	alert_arena_free(doc->arena);
	doc->arena = NULL;
	doc->root = NULL;
}

const alert_jnode *alert_json_get(const alert_jnode *o, const char *key)
{
	if (!o || o->type != ALERT_J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->items[i];
	return NULL;
}

/* ================================================================ writer */

/* Length of a valid UTF-8 sequence at p (max n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t l = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
	if (!l || l > n)
		return 0;
	for (size_t i = 1; i < l; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	uint32_t cp =
	    l == 2   ? (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F)
	    : l == 3 ? (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F)
		     : (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
			   (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
	if ((l == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
	    (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return l;
}

int alert_json_escape(ts_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t len0 = b->len;
	int rc = ts_buf_putc(b, '"');
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (!rc && i < n) {
		unsigned char c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' &&
		    c < 0x80) {
			size_t k = i;
			while (k < n && p[k] >= 0x20 && p[k] < 0x80 && p[k] != '"' &&
			       p[k] != '\\' && p[k] != '<' && p[k] != '>' && p[k] != '&')
				k++;
			rc = ts_buf_append(b, s + i, k - i);
			i = k;
			continue;
		}
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = ts_buf_append(b, e, 2);
			i++;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			char e[2] = {'\\', c == '\n' ? 'n' : c == '\r' ? 'r' : 't'};
			rc = ts_buf_append(b, e, 2);
			i++;
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			rc = ts_buf_append(b, e, 6);
			i++;
		} else {
			size_t l = utf8_len(p + i, n - i);
			if (!l) {
				rc = ts_buf_puts(b, "\\ufffd");
				i++;
			} else if (l == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 &&
				   (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
				rc = ts_buf_puts(b, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
				i += 3;
			} else {
				rc = ts_buf_append(b, s + i, l);
				i += l;
			}
		}
	}
	rc = rc || ts_buf_putc(b, '"');
	if (rc) {
		b->len = len0;
		if (b->data)
			b->data[len0] = '\0';
	}
	return rc;
}

void alert_jw_init(alert_jw *w, ts_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

/* Separator before a value or key. */
static int sep(alert_jw *w)
{
	if (w->rc)
		return w->rc;
	if (w->after_key) {
		w->after_key = false;
		return TS_OK;
	}
	if (w->depth && (w->nonempty >> (w->depth - 1) & 1))
		w->rc = ts_buf_putc(w->out, ',');
	if (w->depth)
		w->nonempty |= 1ULL << (w->depth - 1);
	return w->rc;
}

static int open_c(alert_jw *w, char c)
{
	if (sep(w))
		return w->rc;
	if (w->depth >= MAX_DEPTH)
		return w->rc = TS_ELIMIT;
	w->rc = ts_buf_putc(w->out, c);
	w->depth++;
	w->nonempty &= ~(1ULL << (w->depth - 1));
	return w->rc;
}

static int close_c(alert_jw *w, char c)
{
	if (w->rc)
		return w->rc;
	if (TS_NEVER(w->depth == 0))
		return w->rc = TS_EINVAL;
	w->depth--;
	return w->rc = ts_buf_putc(w->out, c);
}

int alert_jw_obj_begin(alert_jw *w)
{
	return open_c(w, '{');
}

int alert_jw_obj_end(alert_jw *w)
{
	return close_c(w, '}');
}

int alert_jw_arr_begin(alert_jw *w)
{
	return open_c(w, '[');
}

int alert_jw_arr_end(alert_jw *w)
{
	return close_c(w, ']');
}

int alert_jw_key(alert_jw *w, const char *k)
{
	if (sep(w))
		return w->rc;
	if ((w->rc = alert_json_escape(w->out, k, strlen(k))) || (w->rc = ts_buf_putc(w->out, ':')))
		return w->rc;
	w->after_key = true;
	return TS_OK;
}

int alert_jw_str_n(alert_jw *w, const char *s, size_t n)
{
	if (sep(w))
		return w->rc;
	return w->rc = alert_json_escape(w->out, s, n);
}

int alert_jw_str(alert_jw *w, const char *s)
{
	return alert_jw_str_n(w, s ? s : "", s ? strlen(s) : 0);
}

int alert_jw_int(alert_jw *w, int64_t v)
{
	if (sep(w))
		return w->rc;
	return w->rc = ts_buf_printf(w->out, "%lld", (long long)v);
}

int alert_jw_bool(alert_jw *w, bool v)
{
	if (sep(w))
		return w->rc;
	return w->rc = ts_buf_puts(w->out, v ? "true" : "false");
}

int alert_jw_labels(alert_jw *w, const ts_label *l, size_t n)
{
	alert_jw_obj_begin(w);
	for (size_t i = 0; i < n; i++) {
		alert_jw_key(w, l[i].name);
		alert_jw_str(w, l[i].value);
	}
	return alert_jw_obj_end(w);
}

/* ================================================================ times */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void alert_time_go(int64_t ms, char *out, size_t cap)
{
	if (ms == 0) {
		snprintf(out, cap, "0001-01-01T00:00:00Z");
		return;
	}
	int64_t secs = floor_div(ms, 1000);
	int frac = (int)(ms - secs * 1000);
	int64_t days = floor_div(secs, 86400);
	int64_t rem = secs - days * 86400;
	int64_t y;
	unsigned m, d;
	ts_civil_from_days(days, &y, &m, &d);
	char f[8] = "";
	if (frac) {
		snprintf(f, sizeof(f), ".%03d", frac);
		size_t l = strlen(f);
		while (l > 1 && f[l - 1] == '0')
			f[--l] = '\0';
	}
	snprintf(out, cap, "%04lld-%02u-%02uT%02d:%02d:%02d%sZ", (long long)y, m, d,
		 (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60), f);
}

int alert_jw_time_go(alert_jw *w, int64_t ms)
{
	char buf[64];
	alert_time_go(ms, buf, sizeof(buf));
	return alert_jw_str(w, buf);
}

int alert_jw_time_api(alert_jw *w, int64_t ms)
{
	char buf[64];
	ts_format_rfc3339(ms, buf, sizeof(buf));
	return alert_jw_str(w, buf);
}

/* Go's zero time: 0001-01-01T00:00:00Z in Unix ms. */
#define GO_ZERO_TIME_MS (-62135596800000LL)

int alert_time_parse(const char *s, int64_t *out_ms, ts_err *err)
{
	if (!s || !s[0]) {
		*out_ms = 0;
		return TS_OK;
	}
	int64_t v;
	int rc = ts_parse_time_ms(s, strlen(s), &v, err);
	if (rc)
		return rc;
	*out_ms = v <= GO_ZERO_TIME_MS ? 0 : v == 0 ? 1 : v;
	return TS_OK;
}
