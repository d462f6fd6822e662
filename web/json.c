/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c: JSON writer and Prometheus number formats (see json.h).
 *
 * Float formatting finds the shortest decimal digit string that parses back to the same
 * double (what Go's strconv does with precision -1), then lays the digits out in the
 * requested style. Two ways to find the digits:
 *
 *   1. Fast path, for 1e-9 <= |v| < 1e15: the smallest d in 0..22 for which
 *      m = nearbyint(|v| * 10^d) satisfies m / 10^d == |v| with m < 1e15. Both 10^d and m are
 *      exact doubles and the division is correctly rounded, so "m / 10^d" parses to |v|;
 *      with m below 1e15 the product's rounding error stays under 0.5, so no shorter string
 *      is missed, and at most 15 digits the round-tripping string is unique. Covers
 *      integers and the short decimals metrics usually carry, with no libc calls.
 *   2. Otherwise printf("%.*e") at 15, 16 and 17 significant digits, each checked with
 *      strtod (subnormals, which carry fewer bits, start at 1 digit). For a normal double
 *      the correctly rounded 15-digit string is the only candidate of 15 or fewer digits. At 16 the
 *      correctly rounded string may fail while its neighbour on the other side of v
 *      round-trips (the rounding interval is asymmetric at powers of two), so that
 *      neighbour is tried too. 17 digits always round-trip.
 *
 * Both paths assume the "C" LC_NUMERIC locale for printf/strtod, as the rest of Strata
 * does (nothing calls setlocale).
 *
 * The string escaper copies runs of plain ASCII in one memcpy and validates UTF-8 as
 * Go's utf8.DecodeRune does (no overlongs, no surrogates, nothing above U+10FFFF); each
 * byte of an invalid sequence becomes \ufffd, as in encoding/json.
 */
#include "web/json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Shortest round-trip digits                                                           */
/* ------------------------------------------------------------------------------------ */

static const double pow10_tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Decimal digits of v into out (no NUL); returns the count (1..20). */
static int u64_digits(uint64_t v, char *out)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* Shortest digits of a finite v > 0: value = 0.D[0..n) x 10^point, D without trailing zeros. */
typedef struct float_digits {
	char d[24]; /* ASCII digits, not NUL-terminated */
	int n;      /* digit count, 1..17 */
	int point;  /* decimal exponent of the leading "0." form */
} float_digits;

static void digits_from_u64(float_digits *fd, uint64_t m, int exp10)
{
	/* value = m x 10^exp10 */
	int len = u64_digits(m, fd->d);
	int n = len;
	while (n > 1 && fd->d[n - 1] == '0')
		n--;
	fd->n = n;
	fd->point = len + exp10;
}

/* Parse the output of "%.*e" ("d.ddde+XX"): digits and exponent. */
static void digits_from_sci(float_digits *fd, const char *s)
{
	int n = 0;
	const char *p = s;
	fd->d[n++] = *p++;
	if (*p && *p != 'e') /* the decimal separator */
		p++;
	while (*p >= '0' && *p <= '9' && n < (int)sizeof(fd->d))
		fd->d[n++] = *p++;
	int exp10 = 0;
	if (*p == 'e')
		exp10 = (int)strtol(p + 1, NULL, 10);
	while (n > 1 && fd->d[n - 1] == '0')
		n--;
	fd->n = n;
	fd->point = exp10 + 1;
}

static void shortest_digits(double v, float_digits *fd)
{
	if (v >= 1e-9 && v < 1e15) {
		for (int d = 0; d <= 22; d++) {
			double x = v * pow10_tab[d];
			if (x >= 1e15)
				break;
			double r = nearbyint(x);
			if (r >= 1 && r / pow10_tab[d] == v) {
				digits_from_u64(fd, (uint64_t)r, -d);
				return;
			}
		}
	}
	char s[64];
	/* Subnormals carry fewer bits, so fewer than 15 digits may identify them; their
	 * rounding interval is symmetric, so the correctly rounded string is the candidate at
	 * each precision and a plain search from 1 digit up finds the shortest. */
	for (int prec = v < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*e", prec - 1, v);
		double back = strtod(s, NULL);
		if (back == v || prec == 17) {
			digits_from_sci(fd, s);
			return;
		}
		if (prec != 16)
			continue;
		/* The correctly rounded 16-digit string failed: try its other neighbour. */
		float_digits cr;
		digits_from_sci(&cr, s);
		uint64_t m = 0;
		for (int i = 0; i < 16; i++)
			m = m * 10 + (uint64_t)(i < cr.n ? cr.d[i] - '0' : 0);
		m = back < v ? m + 1 : m - 1;
		int exp10 = cr.point - 16;
		char t[48];
		snprintf(t, sizeof(t), "%llue%d", (unsigned long long)m, exp10);
		if (strtod(t, NULL) == v) {
			digits_from_u64(fd, m, exp10);
			return;
		}
	}
}

/* ------------------------------------------------------------------------------------ */
/* Layout                                                                                */
/* ------------------------------------------------------------------------------------ */

static size_t put_fixed(char *o, const float_digits *fd)
{
	size_t k = 0;
	if (fd->point <= 0) {
		o[k++] = '0';
		o[k++] = '.';
		for (int i = 0; i < -fd->point; i++)
			o[k++] = '0';
		memcpy(o + k, fd->d, (size_t)fd->n);
		k += (size_t)fd->n;
	} else if (fd->point < fd->n) {
		memcpy(o + k, fd->d, (size_t)fd->point);
		k += (size_t)fd->point;
		o[k++] = '.';
		memcpy(o + k, fd->d + fd->point, (size_t)(fd->n - fd->point));
		k += (size_t)(fd->n - fd->point);
	} else {
		memcpy(o + k, fd->d, (size_t)fd->n);
		k += (size_t)fd->n;
		for (int i = fd->n; i < fd->point; i++)
			o[k++] = '0';
	}
	return k;
}

static size_t put_exp(char *o, const float_digits *fd, bool short_neg_exp)
{
	size_t k = 0;
	o[k++] = fd->d[0];
	if (fd->n > 1) {
		o[k++] = '.';
		memcpy(o + k, fd->d + 1, (size_t)(fd->n - 1));
		k += (size_t)(fd->n - 1);
	}
	int e = fd->point - 1;
	o[k++] = 'e';
	o[k++] = e < 0 ? '-' : '+';
	unsigned ue = (unsigned)(e < 0 ? -e : e);
	if (ue < 10 && !(short_neg_exp && e < 0))
		o[k++] = '0';
	k += (size_t)u64_digits(ue, o + k);
	return k;
}

size_t web_json_format_float(char *out, double v, web_json_float_style style)
{
	size_t k = 0;
	if (isnan(v)) {
		memcpy(out, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
		return 4;
	}
	if (signbit(v))
		out[k++] = '-';
	double a = fabs(v);
	if (a == 0) {
		out[k++] = '0';
		out[k] = '\0';
		return k;
	}
	float_digits fd;
	shortest_digits(a, &fd);
	if (style != WEB_JSON_FLOAT_FIXED && (a < 1e-6 || a >= 1e21))
		k += put_exp(out + k, &fd, style == WEB_JSON_FLOAT_GOJSON);
	else
		k += put_fixed(out + k, &fd);
	out[k] = '\0';
	return k;
}

/* ------------------------------------------------------------------------------------ */
/* Buffer-level appenders                                                                */
/* ------------------------------------------------------------------------------------ */

/* ASCII bytes that need an escape: control characters, '"', '\\', and the HTML trio. */
static const uint8_t ascii_escape[128] = {
    1, 1, 1, 1, 1, 1, 1,         1,          1,         1,         1,         1, 1,
    1, 1, 1, 1, 1, 1, 1,         1,          1,         1,         1,         1, 1,
    1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1, ['<'] = 1, ['>'] = 1, ['&'] = 1,
};

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left, s[0] >= 0x80), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	uint8_t lo = 0x80, hi = 0xBF;
	size_t len;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static const char hexdig[] = "0123456789abcdef";

int web_json_escape(ts_buf *b, const char *s, size_t n)
{
	size_t start = b->len;
	const uint8_t *p = (const uint8_t *)s;
	int rc = ts_buf_reserve(b, n + 2);
	if (rc)
		return rc;
	b->data[b->len++] = '"';
	size_t run = 0; /* start of the pending run of bytes copied verbatim */
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		char esc[8];
		size_t esc_n;
		size_t adv = 1;
		if (c < 0x80) {
			if (!ascii_escape[c]) {
				i++;
				continue;
			}
			esc[0] = '\\';
			switch (c) {
			case '"': esc[1] = '"', esc_n = 2; break;
			case '\\': esc[1] = '\\', esc_n = 2; break;
			case '\n': esc[1] = 'n', esc_n = 2; break;
			case '\r': esc[1] = 'r', esc_n = 2; break;
			case '\t': esc[1] = 't', esc_n = 2; break;
			default:
				memcpy(esc + 1, "u00", 3);
				esc[4] = hexdig[c >> 4];
				esc[5] = hexdig[c & 15];
				esc_n = 6;
				break;
			}
		} else {
			size_t len = utf8_len(p + i, n - i);
			if (len == 3 && c == 0xE2 && p[i + 1] == 0x80 &&
			    (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
				memcpy(esc, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
				esc_n = 6;
				adv = 3;
			} else if (len) {
				i += len;
				continue;
			} else {
				memcpy(esc, "\\ufffd", 6);
				esc_n = 6;
			}
		}
		if ((rc = ts_buf_append(b, s + run, i - run)) ||
		    (rc = ts_buf_append(b, esc, esc_n)))
			goto fail;
		i += adv;
		run = i;
	}
	if ((rc = ts_buf_append(b, s ? s + run : "", n - run)) || (rc = ts_buf_putc(b, '"')))
		goto fail;
	return TS_OK;
fail:
	b->len = start;
	b->data[start] = '\0';
	return rc;
}

static int append_quoted_float(ts_buf *b, double v, web_json_float_style style)
{
	char tmp[WEB_JSON_FLOAT_MAX + 2];
	tmp[0] = '"';
	size_t n = web_json_format_float(tmp + 1, v, style);
	tmp[n + 1] = '"';
	return ts_buf_append(b, tmp, n + 2);
}

int web_json_sample_value(ts_buf *b, double v)
{
	return append_quoted_float(b, v, WEB_JSON_FLOAT_FIXED);
}

int web_json_sample_value_prom(ts_buf *b, double v)
{
	return append_quoted_float(b, v, WEB_JSON_FLOAT_PROM);
}

/* Seconds from ms, Prometheus MarshalTimestamp style, into o (at least 26 bytes). */
static size_t put_timestamp(char *o, int64_t ms)
{
	size_t k = 0;
	uint64_t u = (uint64_t)ms;
	if (ms < 0) {
		o[k++] = '-';
		u = 0 - u;
	}
	k += (size_t)u64_digits(u / 1000, o + k);
	unsigned frac = (unsigned)(u % 1000);
	if (frac) {
		o[k++] = '.';
		o[k++] = (char)('0' + frac / 100);
		o[k++] = (char)('0' + frac / 10 % 10);
		o[k++] = (char)('0' + frac % 10);
	}
	return k;
}

int web_json_timestamp(ts_buf *b, int64_t ms)
{
	char tmp[32];
	return ts_buf_append(b, tmp, put_timestamp(tmp, ms));
}

int web_json_int64(ts_buf *b, int64_t v)
{
	char tmp[24];
	size_t k = 0;
	uint64_t u = (uint64_t)v;
	if (v < 0) {
		tmp[k++] = '-';
		u = 0 - u;
	}
	k += (size_t)u64_digits(u, tmp + k);
	return ts_buf_append(b, tmp, k);
}

/* ------------------------------------------------------------------------------------ */
/* Writer                                                                                */
/* ------------------------------------------------------------------------------------ */

void web_json_init(web_json *w, ts_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

int web_json_finish(const web_json *w)
{
	if (w->rc)
		return w->rc;
	if (TS_NEVER(w->depth != 0 || w->after_key))
		return TS_EINVAL;
	return TS_OK;
}

static int fail(web_json *w, int rc)
{
	if (rc && !w->rc)
		w->rc = rc;
	return w->rc;
}

/* Separator bookkeeping before any value (container or scalar). */
static int before_value(web_json *w)
{
	if (w->rc)
		return w->rc;
	if (w->after_key) {
		w->after_key = false;
		return TS_OK;
	}
	if (w->depth == 0)
		return TS_OK;
	uint64_t bit = 1ull << (w->depth - 1);
	if (TS_NEVER(w->is_obj & bit)) /* a value where a key is due */
		return fail(w, TS_EINVAL);
	if (w->nonempty & bit) {
		int rc = ts_buf_putc(w->out, ',');
		if (rc)
			return fail(w, rc);
	}
	w->nonempty |= bit;
	return TS_OK;
}

static int begin(web_json *w, char c, bool is_obj)
{
	int rc = before_value(w);
	if (rc)
		return rc;
	if (w->depth >= WEB_JSON_MAX_DEPTH)
		return fail(w, TS_ELIMIT);
	if ((rc = ts_buf_putc(w->out, c)))
		return fail(w, rc);
	uint64_t bit = 1ull << w->depth;
	w->nonempty &= ~bit;
	if (is_obj)
		w->is_obj |= bit;
	else
		w->is_obj &= ~bit;
	w->depth++;
	return TS_OK;
}

static int end(web_json *w, char c, bool is_obj)
{
	if (w->rc)
		return w->rc;
	if (TS_NEVER(w->depth == 0 || w->after_key ||
		     !!(w->is_obj & (1ull << (w->depth - 1))) != is_obj))
		return fail(w, TS_EINVAL);
	int rc = ts_buf_putc(w->out, c);
	if (rc)
		return fail(w, rc);
	w->depth--;
	return TS_OK;
}

int web_json_object_begin(web_json *w)
{
	return begin(w, '{', true);
}

int web_json_object_end(web_json *w)
{
	return end(w, '}', true);
}

int web_json_array_begin(web_json *w)
{
	return begin(w, '[', false);
}

int web_json_array_end(web_json *w)
{
	return end(w, ']', false);
}

int web_json_key_n(web_json *w, const char *key, size_t n)
{
	if (w->rc)
		return w->rc;
	if (TS_NEVER(w->depth == 0 || w->after_key || !(w->is_obj & (1ull << (w->depth - 1)))))
		return fail(w, TS_EINVAL);
	uint64_t bit = 1ull << (w->depth - 1);
	size_t start = w->out->len;
	int rc = TS_OK;
	if (w->nonempty & bit)
		rc = ts_buf_putc(w->out, ',');
	if (!rc)
		rc = web_json_escape(w->out, key, n);
	if (!rc)
		rc = ts_buf_putc(w->out, ':');
	if (rc) {
		w->out->len = start;
		if (w->out->data)
			w->out->data[start] = '\0';
		return fail(w, rc);
	}
	w->nonempty |= bit;
	w->after_key = true;
	return TS_OK;
}

int web_json_key(web_json *w, const char *key)
{
	return web_json_key_n(w, key, strlen(key));
}

/* Scalars: separator, then one append whose failure becomes the sticky error. */
#define SCALAR(w, expr)                    \
	do {                               \
		int rc_ = before_value(w); \
		if (rc_)                   \
			return rc_;        \
		return fail(w, (expr));    \
	} while (0)

int web_json_string_n(web_json *w, const char *s, size_t n)
{
	SCALAR(w, web_json_escape(w->out, s, n));
}

int web_json_string(web_json *w, const char *s)
{
	if (!s)
		return web_json_null(w);
	return web_json_string_n(w, s, strlen(s));
}

int web_json_int(web_json *w, int64_t v)
{
	SCALAR(w, web_json_int64(w->out, v));
}

int web_json_uint(web_json *w, uint64_t v)
{
	char tmp[24];
	int n = u64_digits(v, tmp);
	SCALAR(w, ts_buf_append(w->out, tmp, (size_t)n));
}

int web_json_bool(web_json *w, bool v)
{
	SCALAR(w, ts_buf_puts(w->out, v ? "true" : "false"));
}

int web_json_null(web_json *w)
{
	SCALAR(w, ts_buf_append(w->out, "null", 4));
}

int web_json_double(web_json *w, double v)
{
	if (!isfinite(v))
		return web_json_null(w);
	char tmp[WEB_JSON_FLOAT_MAX];
	size_t n = web_json_format_float(tmp, v, WEB_JSON_FLOAT_GOJSON);
	SCALAR(w, ts_buf_append(w->out, tmp, n));
}

int web_json_sample(web_json *w, double v)
{
	SCALAR(w, append_quoted_float(w->out, v, w->sample_style));
}

int web_json_time(web_json *w, int64_t ms)
{
	SCALAR(w, web_json_timestamp(w->out, ms));
}

int web_json_raw(web_json *w, const char *text, size_t n)
{
	SCALAR(w, ts_buf_append(w->out, text, n));
}

int web_json_point(web_json *w, int64_t t_ms, double v)
{
	int rc = before_value(w);
	if (rc)
		return rc;
	/* One append for the whole point keeps the hot path of matrix output short. */
	char tmp[WEB_JSON_FLOAT_MAX + 40];
	size_t k = 0;
	tmp[k++] = '[';
	k += put_timestamp(tmp + k, t_ms);
	tmp[k++] = ',';
	tmp[k++] = '"';
	k += web_json_format_float(tmp + k, v, w->sample_style);
	tmp[k++] = '"';
	tmp[k++] = ']';
	return fail(w, ts_buf_append(w->out, tmp, k));
}
